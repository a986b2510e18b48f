//! The words of the commands that keep an account tidy (`status`,
//! `ls-stale`, `cleanup`, `runs`, `cost`, recycle advice): whose a pod is,
//! how long ago, and what the advice says.

use crate::hygiene::advice::{Advice, Signal, Verdict};
use crate::hygiene::inventory::StalePod;
use crate::hygiene::status::{MissingState, Totals};
use crate::model::duration;
use crate::model::{Ownership, Unprovable, Usd};
use crate::render::tables::shown;
use std::path::Path;

fn runs(count: usize) -> String {
    if count == 1 {
        "1 run".into()
    } else {
        format!("{count} runs")
    }
}

fn pods(count: usize) -> String {
    if count == 1 {
        "1 pod".into()
    } else {
        format!("{count} pods")
    }
}

/// A registry entry whose state file is gone.
pub fn missing_state(missing: &MissingState, base: &Path) -> String {
    let ids = if missing.pod_ids.is_empty() {
        String::new()
    } else {
        format!(" (it last tracked {})", missing.pod_ids.join(", "))
    };
    let config = shown(&missing.config, base);
    format!(
        "the state file {} of {config} is gone{ids}: moved or deleted, rpd cannot tell, so until it knows no rpd pod is provably untracked; if it moved, `rpd refresh` the config at its new place; if it is gone for good, `rpd state rm {config}` says so",
        shown(&missing.state_file, base),
    )
}

/// rpd's pods that no state tracks, under the status table.
pub fn untracked_hint(count: usize) -> String {
    format!(
        "{} that rpd created {} tracked by no state: see `rpd ls-stale`, and `rpd cleanup --all-stopped --untracked`.",
        pods(count),
        if count == 1 { "is" } else { "are" }
    )
}

/// rpd's pods that no state rpd read tracks, but that it cannot prove
/// untracked: no cleanup is recommended for them.
pub fn unproven_hint(count: usize) -> String {
    format!(
        "{} that rpd created {} tracked by no state rpd could read here, but rpd cannot prove that none tracks {}: a state it could not read, or one registered elsewhere (another RPD_DATA_DIR or machine), may; see `rpd ls-stale`.",
        pods(count),
        if count == 1 { "is" } else { "are" },
        if count == 1 { "it" } else { "them" }
    )
}

/// Why no pod is provably untracked, naming the registered states rpd
/// could not read (`gone`: the file is missing).
pub fn unread_states(states: &[(std::path::PathBuf, bool)], left_alone: usize) -> String {
    let named: Vec<String> = states
        .iter()
        .map(|(path, gone)| {
            format!(
                "{} ({})",
                path.display(),
                if *gone { "gone" } else { "unreadable" }
            )
        })
        .collect();
    format!(
        "--untracked: rpd cannot prove that no state tracks a pod while a registered state cannot be read: {}; {} that no state rpd read tracks left alone\n  = help: restore an unreadable state (its .backup is beside it); for a state file that moved, `rpd refresh` its config at the new place; for one gone for good, `rpd state rm CONFIG`",
        super::and_list(&named),
        pods(left_alone)
    )
}

/// The status footer.
pub fn status_totals(totals: &Totals) -> String {
    format!(
        "Running: {} ({}/hr). Paused: {}, {} GB of volume ({}/day, {}/month while stopped).",
        pods(totals.running),
        Usd(totals.running_per_hr),
        pods(totals.paused),
        totals.paused_gb,
        Usd(totals.paused_per_day),
        Usd(totals.paused_per_month)
    )
}

/// The ls-stale footer.
pub fn stale_totals(stale: &[StalePod]) -> String {
    let gb: u32 = stale.iter().filter_map(|s| s.volume_gb).sum();
    let per_month: f64 = stale.iter().map(|s| s.per_month).sum();
    format!(
        "Stopped: {}, {gb} GB of volume: {}/day, {}/month (volume disk bills $0.20/GB a month while stopped).",
        pods(stale.len()),
        Usd(crate::cost::per_day(per_month)),
        Usd(per_month)
    )
}

/// `1 day`, `41 days`, `less than a day`.
pub fn days(days: u64) -> String {
    match days {
        0 => "less than a day".into(),
        1 => "1 day".into(),
        n => format!("{n} days"),
    }
}

/// Recycle advice for `config`: the verdict first, then the figures it
/// rests on, then the signals that recycling has stopped paying.
pub fn advice(config: &str, advice: &Advice) -> Vec<String> {
    let secs = |s: Option<f64>| s.map_or_else(|| "?".into(), |s| duration(s.round() as u64));
    let rpw = advice.runs_per_week;
    let verdict = match (&advice.verdict, advice.break_even_runs_per_week) {
        (Verdict::Pays, Some(be)) => {
            format!("recycling pays: {rpw:.1} runs a week, at or above the break-even of {be:.1}")
        }
        (Verdict::DoesNotPay, Some(be)) => format!(
            "recycling does not pay: {rpw:.1} runs a week, below the break-even of {be:.1}; `on_success: delete` costs less"
        ),
        (Verdict::FreeToKeep, _) => {
            "recycling costs nothing extra: a network volume bills whether or not a pod is paused"
                .into()
        }
        (Verdict::WarmNotFaster, _) => {
            "recycling saves nothing: warm starts are not faster than cold ones in these runs"
                .into()
        }
        (
            Verdict::NotEnoughHistory {
                cold_runs,
                warm_runs,
                price_known,
            },
            _,
        ) => format!(
            "not enough history to say: needs at least one cold and one warm run with step times (has {cold_runs} cold, {warm_runs} warm){}",
            if *price_known { "" } else { " and a price" }
        ),
        (Verdict::Pays | Verdict::DoesNotPay, None) => "no break-even could be computed".into(),
    };
    let mut lines = vec![format!("{config}: {verdict}.")];
    if advice.cold_runs > 0 || advice.warm_runs > 0 {
        lines.push(format!(
            "  Time until the script started (median): cold {} ({}), warm {} ({}).",
            secs(advice.cold_ready_sec),
            runs(advice.cold_runs),
            secs(advice.warm_ready_sec),
            runs(advice.warm_runs)
        ));
    }
    if let (Some(minutes), Some(saved), Some(per_hr)) = (
        advice.minutes_saved_per_run,
        advice.saved_per_run,
        advice.per_hr,
    ) {
        lines.push(format!(
            "  A warm start saves {minutes:.1} minutes of GPU time: {} a run at {}/hr.",
            Usd(saved),
            Usd(per_hr)
        ));
    }
    if let Some(gb) = advice.volume_gb {
        lines.push(format!(
            "  Paused, the {gb} GB volume bills {} a week ($0.20/GB a month).",
            Usd(advice.storage_per_week)
        ));
    }
    for signal in &advice.signals {
        lines.push(format!("  Signal: {}.", self::signal(signal)));
    }
    lines
}

/// runpod-deploy's signals that recycling has stopped paying.
pub fn signal(signal: &Signal) -> String {
    match signal {
        Signal::ImageDrift { changes, of } => format!(
            "the image changed in {changes} of the last {of} run-to-run steps; each change replaces the pod, throwing the paused one away"
        ),
        Signal::GpuChanging { changes, of } => format!(
            "the GPU changed in {changes} of the last {of} run-to-run steps; a paused pod stays on its host's GPU"
        ),
        Signal::PausedTooLong { days: d } => format!(
            "the recycled pod has been paused for {} (over 30): it may not come back; `rpd cleanup --stale` deletes it",
            days(*d)
        ),
    }
}

/// After `rpd import`, under the plan for the imported pod.
pub fn imported(pod_id: &str, config: &str, replaced: bool) -> String {
    if replaced {
        format!(
            "Pod {pod_id} does not match {config}: `rpd apply` would replace it (see the plan above). `rpd state rm {config}` undoes the import."
        )
    } else {
        format!("{config} now tracks pod {pod_id}; `rpd apply` uses it as the plan above says.")
    }
}

/// After `rpd state rm`: what becomes of the pod rpd no longer tracks.
pub fn forgotten(pod_id: &str, config: &str, name: &str) -> String {
    let seen = if crate::pod_name::is_rpds(name) {
        format!(
            "`rpd ls-stale` lists it as an untracked rpd pod, `rpd cleanup --all-stopped --untracked` deletes it once stopped, and `rpd import {config} {pod_id}` adopts it again"
        )
    } else {
        format!("`rpd ls-stale --all` lists it, and `rpd import {config} {pod_id}` adopts it again")
    };
    format!(
        "{config} no longer tracks pod {pod_id}. rpd did not touch the pod: it bills as before. {seen}."
    )
}

/// After `rpd state rm` of a config whose state file is gone.
pub fn forgotten_state(state_file: &str, config: &str) -> String {
    format!(
        "rpd's registry now records that {state_file}, the state file of {config}, is gone for good. The pods it made are untracked rpd pods: `rpd ls-stale` lists them, `rpd cleanup --all-stopped --untracked` deletes them once stopped, and `rpd import {config} POD_ID` adopts one again."
    )
}

/// Where a cost figure comes from, in a table cell.
pub fn source(source: crate::hygiene::spend::Source) -> &'static str {
    match source {
        crate::hygiene::spend::Source::Billing => "RunPod billing",
        crate::hygiene::spend::Source::Estimate => "estimate",
    }
}

/// Under a cost table with estimates.
pub fn estimate_note() -> &'static str {
    "Estimates: this provider keeps no bills (use --provider runpod for RunPod's); compute is the runs' estimated cost, storage only the pauses rpd knows of now."
}

/// Under a cost table whose bills RunPod refused to this key (403).
pub fn billing_refused(what: &str, why: &str) -> String {
    let why = why.lines().next().unwrap_or(why);
    format!(
        "Note: RunPod refused the bills of {what} ({why}): its figures are estimated, or not read for a network volume. An API key with read access to billing shows RunPod's own."
    )
}

/// Whose a pod is, as a phrase.
pub fn owner(owner: &Ownership) -> String {
    match owner {
        Ownership::Tracked {
            config,
            retained: false,
            ..
        } => format!("tracked by {}", config.display()),
        Ownership::Tracked {
            config,
            retained: true,
            ..
        } => format!("kept for forensics by {}", config.display()),
        Ownership::Untracked {
            config: Some(config),
            ..
        } => format!(
            "untracked rpd pod (made for {}, whose state no longer tracks it)",
            config.display()
        ),
        Ownership::Untracked { config: None, .. } => "untracked rpd pod".into(),
        Ownership::Unproven {
            why: Unprovable::StateUnread,
            ..
        } => "rpd pod no state rpd read tracks (not provably untracked: a registered state cannot be read)".into(),
        Ownership::Unproven {
            why: Unprovable::UnknownLineage,
            ..
        } => "rpd pod of a state this registry does not know (a state registered elsewhere may track it)".into(),
        Ownership::NotRpds => "not rpd's".into(),
    }
}

/// Whose a pod is, in a table cell (paths relative to `base`).
pub fn owner_cell(owner: &Ownership, base: &Path) -> String {
    match owner {
        Ownership::Tracked {
            config,
            retained: false,
            ..
        } => shown(config, base),
        Ownership::Tracked {
            config,
            retained: true,
            ..
        } => format!("{} (retained)", shown(config, base)),
        Ownership::Untracked {
            config: Some(config),
            ..
        } => format!("untracked rpd pod (from {})", shown(config, base)),
        Ownership::Untracked { config: None, .. } => "untracked rpd pod".into(),
        Ownership::Unproven {
            why: Unprovable::StateUnread,
            ..
        } => "rpd pod, owner unknown (a state is unreadable)".into(),
        Ownership::Unproven {
            why: Unprovable::UnknownLineage,
            ..
        } => "rpd pod of an unregistered state".into(),
        Ownership::NotRpds => "not rpd's".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn owners_read_as_whose_the_pod_is() {
        let tracked = Ownership::Tracked {
            config: PathBuf::from("/p/hello.yaml"),
            state_file: PathBuf::from("/p/.rpd/hello.state.json"),
            retained: false,
        };
        assert_eq!(owner(&tracked), "tracked by /p/hello.yaml");
        let lost = Ownership::Untracked {
            config: Some(PathBuf::from("/p/hello.yaml")),
            state_file: None,
        };
        assert_eq!(
            owner(&lost),
            "untracked rpd pod (made for /p/hello.yaml, whose state no longer tracks it)"
        );
        assert_eq!(
            owner_cell(&Ownership::NotRpds, Path::new("/p")),
            "not rpd's"
        );
        assert_eq!(owner_cell(&tracked, Path::new("/p")), "hello.yaml");
        assert_eq!(days(0), "less than a day");
        assert_eq!(days(41), "41 days");
    }
}
