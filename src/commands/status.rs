//! `rpd status`, `rpd ls-stale` and `rpd runs`: read-only looks across
//! configs (named, else every config in rpd's registry).

use serde_json::json;

use crate::commands::Ctx;
use crate::commands::inventory::{self, Subject};
use crate::commands::settings::{LsStaleSettings, ReportSettings};
use crate::exit::ExitStatus;
use crate::hygiene::inventory::{Scope, select, stale_pods};
use crate::hygiene::status;
use crate::hygiene::{advice, runs};
use crate::model::{Ownership, PodStatus, Storage};
use crate::plan::Note;
use crate::render;

/// Exit 1 when a config's state could not be read (it was reported).
fn worst(failed: bool) -> ExitStatus {
    if failed {
        ExitStatus::Error
    } else {
        ExitStatus::Success
    }
}

/// Paths in tables are shown relative to here.
fn base() -> std::path::PathBuf {
    std::env::current_dir().unwrap_or_default()
}

fn print_json(value: &serde_json::Value) {
    crate::say!("{}", serde_json::to_string_pretty(value).expect("json"));
}

pub async fn status(ctx: &Ctx, settings: &ReportSettings) -> anyhow::Result<ExitStatus> {
    let Some(subjects) = inventory::subjects(ctx, &settings.configs, &settings.vars)? else {
        return Ok(ExitStatus::Error);
    };
    let gathered = inventory::gather(&subjects)?;
    let failed = gathered.report_unreadable(ctx);
    let mut providers = inventory::Providers::new(ctx);
    let seen = inventory::observe(&mut providers, &subjects, &gathered).await?;
    let other_keys = inventory::report_other_keys(ctx, &seen);
    let (untracked, unproven) = untracked_counts(&seen.pods, &gathered);
    let report = status::build(
        &gathered.facts,
        &status::Seen {
            observed: seen.observed,
            not_visible: seen.not_visible,
            untracked_pods: untracked,
            unproven_pods: unproven,
        },
        chrono::Utc::now(),
    );
    if settings.json {
        print_json(&json!({ "format_version": "1.0", "status": report }));
    } else {
        no_configs_hint(&subjects, settings.configs.is_empty());
        crate::say_raw!(
            "{}",
            render::tables::status(&report, &base(), &ctx.stdout_palette())
        );
    }
    Ok(worst(failed || other_keys))
}

/// rpd's pods that no state tracks: provably, and not provably.
fn untracked_counts(
    pods: &[crate::model::ObservedPod],
    gathered: &inventory::Gathered,
) -> (usize, usize) {
    let mut untracked = 0;
    let mut unproven = 0;
    for pod in pods.iter().filter(|p| p.status != PodStatus::Terminated) {
        match gathered.known.ownership(pod) {
            Ownership::Untracked { .. } => untracked += 1,
            Ownership::Unproven { .. } => unproven += 1,
            _ => {}
        }
    }
    (untracked, unproven)
}

/// With no config named and none registered, says where configs come from.
fn no_configs_hint(subjects: &[Subject], from_registry: bool) {
    if from_registry && !subjects.iter().any(|s| s.shown) {
        crate::note!(
            "No configs in rpd's registry ({}): `rpd apply` records each config it applies; or name configs: `rpd status CONFIG...`.",
            crate::registry::RegistryFile::default_file()
                .path()
                .display()
        );
    }
}

pub async fn ls_stale(ctx: &Ctx, settings: &LsStaleSettings) -> anyhow::Result<ExitStatus> {
    let subjects = inventory::subjects(ctx, &[], &Default::default())?.unwrap_or_default();
    let gathered = inventory::gather(&subjects)?;
    let failed = gathered.report_unreadable(ctx);
    let mut providers = inventory::Providers::new(ctx);
    let seen = inventory::observe(&mut providers, &subjects, &gathered).await?;
    let failed = inventory::report_other_keys(ctx, &seen) || failed;
    let stale = stale_pods(&seen.pods, &gathered.known, chrono::Utc::now());
    let mut selection = select(
        &stale,
        Scope {
            untracked: true,
            all: settings.all,
            older_than_days: settings.older_than_days,
        },
    );
    // A pod in a status rpd does not know may be stopped, or not: not
    // listed as stale, but said.
    let unknown = seen
        .pods
        .iter()
        .filter(|p| p.status == PodStatus::Unknown)
        .filter(|p| settings.all || gathered.known.ownership(p).is_rpds())
        .count();
    if unknown > 0 {
        selection
            .left_alone
            .push((crate::plan::LeftAlone::UnknownStatus, unknown));
    }
    if settings.json {
        print_json(&json!({
            "format_version": "1.0",
            "stale_pods": selection.selected,
            "left_alone": selection.left_alone.iter().map(|(why, count)| json!({
                "why": why,
                "count": count,
            })).collect::<Vec<_>>(),
        }));
        return Ok(worst(failed));
    }
    let left_alone: Vec<String> = selection
        .left_alone
        .iter()
        .map(|(why, count)| {
            render::words::note(&Note::CleanupLeftAlone {
                count: *count,
                why: *why,
            })
            .replace("left alone", "not listed")
            .replace("(--all includes them)", "(--all lists them)")
        })
        .collect();
    crate::say_raw!(
        "{}",
        render::tables::stale(
            &selection.selected,
            &left_alone,
            &base(),
            &ctx.stdout_palette()
        )
    );
    Ok(worst(failed))
}

pub fn runs(ctx: &Ctx, settings: &ReportSettings) -> anyhow::Result<ExitStatus> {
    let Some(subjects) = inventory::subjects(ctx, &settings.configs, &settings.vars)? else {
        return Ok(ExitStatus::Error);
    };
    no_configs_hint(&subjects, settings.configs.is_empty());
    let gathered = inventory::gather(&subjects)?;
    let failed = gathered.report_unreadable(ctx);
    let mut runs: Vec<_> = gathered.facts.into_iter().flat_map(|f| f.runs).collect();
    runs.sort_by(|a, b| (a.at, &a.run_dir).cmp(&(b.at, &b.run_dir)));
    runs.dedup_by(|a, b| a.run_dir == b.run_dir);
    if settings.json {
        print_json(&json!({ "format_version": "1.0", "runs": runs }));
    } else {
        crate::say_raw!("{}", render::tables::runs(&runs));
    }
    Ok(worst(failed))
}

/// `rpd advise`: whether recycling pays for each config, from its runs.
pub fn advise(ctx: &Ctx, settings: &ReportSettings) -> anyhow::Result<ExitStatus> {
    let Some(configs) = crate::commands::load_configs(ctx, &settings.configs, &settings.vars)?
    else {
        return Ok(ExitStatus::Error);
    };
    let now = chrono::Utc::now();
    let mut all = Vec::new();
    for config in &configs {
        let runs: Vec<_> = config
            .run_dir
            .parent()
            .map(inventory::read_runs)
            .unwrap_or_default()
            .into_iter()
            .filter(|r| runs::belongs_to(r, &config.canonical_path, &config.name))
            .collect();
        let state = crate::commands::read_state(config, ctx.provider_name())?;
        let paused_since = state
            .as_ref()
            .and_then(|l| l.state.pod.as_ref())
            .filter(|p| p.status == Some(PodStatus::Exited))
            .and_then(|p| p.status_since);
        // The rate last billed, else the rate the config assumes.
        let per_hr = runs
            .iter()
            .rev()
            .find_map(|r| r.price_per_hr)
            .or(Some(config.budget.assumed_hourly_rate_usd));
        let volume_gb = match &config.pod.storage {
            Storage::Ephemeral { volume_gb, .. } => Some(*volume_gb),
            Storage::NetworkVolume { .. } => None,
        };
        let advice = advice::advise(&advice::AdviceInput {
            runs: &runs,
            per_hr,
            volume_gb,
            paused_since,
            now,
        });
        all.push((config.path.clone(), advice));
    }
    if settings.json {
        let configs: Vec<_> = all
            .iter()
            .map(|(path, advice)| json!({ "config": path, "advice": advice }))
            .collect();
        print_json(&json!({ "format_version": "1.0", "configs": configs }));
        return Ok(ExitStatus::Success);
    }
    for (i, (path, advice)) in all.iter().enumerate() {
        if i > 0 {
            crate::say!();
        }
        for line in render::words::hygiene::advice(&path.display().to_string(), advice) {
            crate::say!("{line}");
        }
    }
    Ok(ExitStatus::Success)
}
