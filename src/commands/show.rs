//! `rpd show PLAN`: a saved plan (or `plan --format json`'s output) as
//! text, JSON or Markdown, exactly as `rpd plan` printed it.

use anyhow::Context;

use crate::commands::Ctx;
use crate::commands::plan::{Outcome, print};
use crate::commands::settings::ShowSettings;
use crate::exit::ExitStatus;
use crate::render::json::{self, ConfigEntry, Document, Seal};
use crate::render::words;

pub fn run(ctx: &Ctx, settings: &ShowSettings) -> anyhow::Result<ExitStatus> {
    let (doc, seal) = read(&settings.plan)?;
    print(ctx, settings.format, &outcomes(&doc), false);
    // A saved plan that was edited is shown, and said to be refused.
    if is_saved(&doc)
        && let Some(why) = words::broken_seal(seal, &settings.plan.display().to_string())
    {
        ctx.warn(&format!("{why}: `rpd apply` refuses it"));
    }
    Ok(ExitStatus::Success)
}

/// Reads a plan document from a file, and whether it is as saved.
pub fn read(path: &std::path::Path) -> anyhow::Result<(Document, Seal)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the plan {}", path.display()))?;
    let doc = json::parse(&text)
        .with_context(|| format!("{} is not a plan rpd can read", path.display()))?;
    Ok((doc, json::seal(&text)))
}

/// Whether `doc` is a saved plan (`rpd plan -o`), not `plan --format
/// json`'s output: its configs carry the facts they were planned from.
pub fn is_saved(doc: &Document) -> bool {
    !doc.configs.is_empty()
        && doc
            .configs
            .iter()
            .all(|c| matches!(c, ConfigEntry::Planned(p) if p.saved.is_some()))
}

/// Each config of a document as the plan command had it.
pub fn outcomes(doc: &Document) -> Vec<Outcome> {
    doc.configs
        .iter()
        .map(|entry| match entry {
            ConfigEntry::Planned(config) => Outcome {
                shown: config.config.clone(),
                plan: json::plan_of(config).map_err(anyhow::Error::new),
            },
            ConfigEntry::Failed(failed) => Outcome {
                shown: failed.config.clone(),
                plan: Err(anyhow::anyhow!("{}", failed.error)),
            },
        })
        .collect()
}
