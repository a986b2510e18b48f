//! The words of the commands that keep an account tidy (`status`,
//! `ls-stale`, `cleanup`, `runs`, `cost`, recycle advice): whose a pod is,
//! how long ago, and what the advice says.

use crate::hygiene::inventory::StalePod;
use crate::hygiene::status::{MissingState, Totals};
use crate::model::{Ownership, Usd};
use crate::render::tables::shown;
use std::path::Path;

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
    format!(
        "the state file {} of {} is gone{ids}; its pods show as untracked in `rpd ls-stale`",
        shown(&missing.state_file, base),
        shown(&missing.config, base)
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
