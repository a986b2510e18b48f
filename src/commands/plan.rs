//! `rpd plan`: refresh and show what apply would do, per config (all of
//! them at once, with one combined summary), as text, JSON or Markdown;
//! `-o FILE` saves it for `rpd apply FILE` (sealed with a digest, to a new
//! file or over an earlier saved plan only: `plan_out.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::plan_out::PlanOut;
use crate::commands::settings::{OutputFormat, PlanSettings};
use crate::commands::{Ctx, format_error, load_each, load_options, prepare_all};
use crate::exit::ExitStatus;
use crate::plan::saved::SavedFacts;
use crate::plan::{Mode, Plan};
use crate::render::json::{self, ConfigEntry, ConfigsSummary, Document, FailedConfig};
use crate::render::{self, markdown};

/// One config's plan, or why it could not be made.
pub struct Outcome {
    /// The config's path as given.
    pub shown: String,
    pub plan: Result<Plan, anyhow::Error>,
}

pub async fn run(ctx: &Ctx, settings: &PlanSettings) -> anyhow::Result<ExitStatus> {
    let loaded = load_each(ctx, &settings.configs, &settings.vars)?;
    // Where the plan goes is checked before anything is planned.
    let out = match &settings.out {
        Some(out) => {
            let mut known = Vec::new();
            for (path, config) in &loaded {
                let shown = path.display();
                known.push((path.clone(), format!("the config {shown}")));
                if let Ok(config) = config {
                    let state = &config.state_file;
                    known.push((state.clone(), format!("the state file of {shown}")));
                }
            }
            Some(PlanOut::new(out, known, &settings.configs)?)
        }
        None => None,
    };
    let provider = ctx.provider()?;
    let flags = crate::commands::PlanFlags {
        busy_host_wait: crate::commands::busy_host_timing()?.wait,
        ..settings.flags
    };
    // Configs that loaded are planned together; the others keep their place.
    let mut outcomes: Vec<Option<Outcome>> = Vec::new();
    let mut configs = Vec::new();
    for (path, config) in loaded {
        match config {
            Ok(config) => {
                configs.push(config);
                outcomes.push(None);
            }
            Err(err) => outcomes.push(Some(Outcome {
                shown: path.display().to_string(),
                plan: Err(err),
            })),
        }
    }
    let mut prepared = prepare_all(&provider, configs, Mode::Apply, flags)
        .await
        .into_iter();
    let mut saved = Vec::new();
    let now = chrono::Utc::now();
    let variables: BTreeMap<String, String> = load_options(&settings.vars)?
        .overrides
        .into_iter()
        .collect();
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .map(|slot| {
            slot.unwrap_or_else(|| {
                let (path, result) = prepared.next().expect("one result per loaded config");
                let shown = path.display().to_string();
                let plan = result.and_then(|p| {
                    if settings.out.is_some() {
                        let facts = SavedFacts::new(
                            p.observed,
                            provider.name(),
                            config_sha256(&path)?,
                            variables.clone(),
                            flags.replace_without_stock,
                            now,
                        );
                        saved.push((shown.clone(), facts));
                    }
                    Ok(p.plan)
                });
                Outcome { shown, plan }
            })
        })
        .collect();
    let status = print(ctx, settings.format, &outcomes, settings.detailed_exitcode);
    if let (Some(out), Some(shown)) = (&out, &settings.out) {
        save(ctx, out, shown, &outcomes, saved, settings.format)?;
    }
    Ok(status)
}

/// sha256 of a config file's bytes, hex: what a saved plan checks.
pub fn config_sha256(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(bytes)))
}

/// Prints the plans in `format` (errors on stderr) and returns the exit
/// status: 1 when a config failed or a plan has errors; with
/// `detailed_exitcode`, 2 when pods change beyond the routine run.
pub fn print(
    ctx: &Ctx,
    format: OutputFormat,
    outcomes: &[Outcome],
    detailed_exitcode: bool,
) -> ExitStatus {
    let mut status = ExitStatus::Success;
    for outcome in outcomes {
        match &outcome.plan {
            Err(err) => {
                // Among many configs, an error says which one it is about
                // (a config's own error names its file already).
                let text = format_error(err);
                let err = if text.contains(&outcome.shown) {
                    anyhow::anyhow!(text)
                } else {
                    anyhow::anyhow!(text).context(format!("planning {}", outcome.shown))
                };
                ctx.error(&err);
                status = status.worst(ExitStatus::Error);
            }
            // A plan with errors cannot be applied: nothing would be created.
            Ok(plan) if !plan.report.errors.is_empty() => {
                status = status.worst(ExitStatus::Error);
            }
            Ok(plan) if detailed_exitcode && plan.report.changes_beyond_routine => {
                status = status.worst(ExitStatus::Changes);
            }
            Ok(_) => {}
        }
    }
    match format {
        OutputFormat::Text => {
            let palette = ctx.stdout_palette();
            let mut first = true;
            for outcome in outcomes {
                if let Ok(plan) = &outcome.plan {
                    if !first {
                        crate::say!();
                    }
                    first = false;
                    crate::say_raw!("{}", render::text::render(plan, &outcome.shown, &palette));
                }
            }
            if outcomes.len() > 1 {
                let mut summary = ConfigsSummary::default();
                for outcome in outcomes {
                    summary.count(outcome.plan.as_ref().ok());
                }
                crate::say!();
                crate::say!("{}", render::words::configs_summary(&summary));
            }
        }
        OutputFormat::Json => {
            let doc = document(outcomes, Vec::new());
            crate::say!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        }
        OutputFormat::Markdown => {
            let errors: Vec<String> = outcomes
                .iter()
                .map(|o| o.plan.as_ref().err().map(format_error).unwrap_or_default())
                .collect();
            let entries: Vec<markdown::Entry<'_>> = outcomes
                .iter()
                .zip(&errors)
                .map(|(o, error)| markdown::Entry {
                    config: &o.shown,
                    outcome: o.plan.as_ref().map_err(|_| error.as_str()),
                })
                .collect();
            crate::say_raw!("{}", markdown::render(&entries));
        }
    }
    status
}

/// The JSON document of these outcomes, with each config's saved facts.
fn document(outcomes: &[Outcome], mut saved: Vec<(String, SavedFacts)>) -> Document {
    let entries = outcomes
        .iter()
        .map(|o| match &o.plan {
            Ok(plan) => {
                let mut entry = json::config_plan(plan, &o.shown);
                if let Some(i) = saved.iter().position(|(shown, _)| *shown == o.shown) {
                    entry.saved = Some(saved.remove(i).1);
                }
                ConfigEntry::Planned(Box::new(entry))
            }
            Err(err) => ConfigEntry::Failed(FailedConfig {
                config: o.shown.clone(),
                error: format_error(err),
            }),
        })
        .collect();
    Document::new(entries)
}

/// Writes the saved plan, unless a config failed or a plan has errors (a
/// plan that cannot be applied is not saved).
fn save(
    ctx: &Ctx,
    out: &PlanOut,
    shown: &Path,
    outcomes: &[Outcome],
    saved: Vec<(String, SavedFacts)>,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let unusable = outcomes
        .iter()
        .filter(|o| {
            o.plan
                .as_ref()
                .map_or(true, |p| !p.report.errors.is_empty())
        })
        .count();
    if unusable > 0 {
        anyhow::bail!(
            "the plan was not saved to {}: {unusable} of {} configs could not be planned or have errors; fix them and plan again",
            shown.display(),
            outcomes.len()
        );
    }
    out.write(&json::sealed(&document(outcomes, saved)))?;
    if format == OutputFormat::Text {
        let p = ctx.stdout_palette();
        crate::say!();
        crate::say!("Saved the plan to: {}", shown.display());
        crate::say!();
        crate::say!("To perform exactly these actions, run the following command to apply:");
        crate::say!(
            "    {}",
            p.bold.apply_to(format!("rpd apply {}", shown.display()))
        );
    }
    Ok(())
}
