//! `rpd show PLAN`: a saved plan (or `plan --format json`'s output) as
//! text, JSON or Markdown, exactly as `rpd plan` printed it.

use anyhow::Context;

use crate::commands::Ctx;
use crate::commands::plan::{Outcome, print};
use crate::commands::settings::ShowSettings;
use crate::exit::ExitStatus;
use crate::render::json::{self, ConfigEntry, Document};

pub fn run(ctx: &Ctx, settings: &ShowSettings) -> anyhow::Result<ExitStatus> {
    let doc = read(&settings.plan)?;
    print(ctx, settings.format, &outcomes(&doc), false);
    Ok(ExitStatus::Success)
}

/// Reads a plan document from a file.
pub fn read(path: &std::path::Path) -> anyhow::Result<Document> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the plan {}", path.display()))?;
    json::parse(&text).with_context(|| format!("{} is not a plan rpd can read", path.display()))
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
