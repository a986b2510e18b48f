//! `rpd diff OLD NEW`: what changing a config from OLD to NEW does to its
//! pod, as text, JSON or Markdown, with no account and no state: the pod the
//! old config leaves is assumed (see `plan::review`) and the new config is
//! planned against it. `-` reads one of the two from standard input.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::settings::{DiffSettings, OutputFormat};
use super::{Ctx, load_options, warn_about};
use crate::config::{self, Config};
use crate::exit::ExitStatus;
use crate::plan::review::{DiffFacts, config_changes, diff_input};
use crate::plan::{self as planner, Desired};
use crate::render::json::{ConfigEntry, Document, config_plan};
use crate::render::{markdown, text};

pub async fn run(ctx: &Ctx, settings: &DiffSettings) -> anyhow::Result<ExitStatus> {
    let stdin = Path::new("-");
    if settings.old == stdin && settings.new == stdin {
        bail!("only one of OLD and NEW can be `-` (standard input)");
    }
    let options = load_options(&settings.vars)?;
    // A config from standard input is placed beside the other one, so that
    // paths relative to the config read the same on both sides.
    let place = |path: &PathBuf, other: &PathBuf| -> PathBuf {
        if path == stdin {
            other.clone()
        } else {
            path.clone()
        }
    };
    let old_bytes = read(&settings.old)?;
    let new_bytes = read(&settings.new)?;
    let old_text = String::from_utf8_lossy(&old_bytes).into_owned();
    let new_text = String::from_utf8_lossy(&new_bytes).into_owned();
    let load = |path: PathBuf, shown: &Path, bytes: &[u8]| -> anyhow::Result<Config> {
        let config = config::load_bytes(&path, bytes.to_vec(), &options).map_err(|err| {
            anyhow::Error::new(err).context(format!("reading {}", shown.display()))
        })?;
        warn_about(ctx, shown, &config);
        Ok(config)
    };
    // An empty OLD (`/dev/null`, or a file the base branch lacks) is a
    // config being added: planned against no pod.
    let old = if old_text.trim().is_empty() {
        None
    } else {
        Some(load(
            place(&settings.old, &settings.new),
            &settings.old,
            &old_bytes,
        )?)
    };
    let new = load(
        place(&settings.new, &settings.old),
        &settings.new,
        &new_bytes,
    )?;
    let old_desired = old.as_ref().map(desired);
    let (input, old_pod) = diff_input(old_desired.as_ref(), desired(&new), chrono::Utc::now());
    let plan = planner::plan(&input)?;
    let facts = DiffFacts {
        old: shown(&settings.old),
        new: shown(&settings.new),
        old_pod,
        config_changes: config_changes(&document(&old_text)?, &document(&new_text)?),
    };
    match settings.format {
        OutputFormat::Text => {
            crate::say_raw!(
                "{}",
                text::render_diff(&plan, &facts, &ctx.stdout_palette())
            )
        }
        OutputFormat::Markdown => crate::say_raw!("{}", markdown::render_diff(&plan, &facts)),
        OutputFormat::Json => {
            let mut entry = config_plan(&plan, &facts.new);
            entry.diff = Some(facts);
            let doc = Document::new(vec![ConfigEntry::Planned(Box::new(entry))]);
            crate::say!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        }
    }
    Ok(
        if settings.detailed_exitcode && plan.report.changes_beyond_routine {
            ExitStatus::Changes
        } else {
            ExitStatus::Success
        },
    )
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    // Any readable file, within rpd's input bound: `/dev/null` (a new
    // config) and `<(git show ...)` (a pipe) are what a reviewer passes.
    let limit = crate::input::MAX_INPUT_BYTES;
    let mut bytes = Vec::new();
    let (read, shown) = if path == Path::new("-") {
        let read = std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes);
        (read, "standard input".to_string())
    } else {
        let read =
            std::fs::File::open(path).and_then(|f| f.take(limit + 1).read_to_end(&mut bytes));
        (read, path.display().to_string())
    };
    read.with_context(|| format!("cannot read the config from {shown}"))?;
    if bytes.len() as u64 > limit {
        bail!("the config from {shown} is over rpd's limit of 4 MiB for an input file");
    }
    Ok(bytes)
}

/// The config's YAML as a JSON value, to compare key by key (an empty
/// document has no keys).
fn document(text: &str) -> anyhow::Result<serde_json::Value> {
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    let yaml: serde_yaml::Value = serde_yaml::from_str(text)?;
    Ok(serde_json::to_value(yaml)?)
}

fn desired(config: &Config) -> Desired {
    Desired {
        job_name: config.name.clone(),
        pod: config.pod.clone(),
        lifecycle: config.lifecycle,
        job: super::refresh::job_outline(config),
    }
}
