//! `rpd apply PLAN`: carries out exactly a plan saved with `rpd plan -o`,
//! without asking, after checking that it is as it was saved (its digest
//! covers every step, lifecycle branch, reason and summary: an edited plan
//! is refused) and that what it was made from still holds: the config's
//! content, the state's lineage and serial, and every pod the state tracks
//! (status, image, GPU, datacenter, last status change). Each difference
//! is refused as "saved plan is stale: <cause>". `--detach` detaches as it
//! does for a config.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::apply::{lock_all, new_state_dirs, remove_empty, show_plan};
use super::execute::execute;
use super::ndjson::Stream;
use super::plan::config_sha256;
use super::refresh::{Catalogs, refresh};
use super::settings::ApplySettings;
use super::{Ctx, PlanFlags, Prepared};
use crate::apply::ApplyOptions;
use crate::config::{self, LoadOptions};
use crate::exit::ExitStatus;
use crate::plan::Mode;
use crate::plan::saved::{SavedFacts, observed_facts, stale_causes};
use crate::render::json::{self, ConfigEntry};
use crate::render::words;
use crate::state::Loaded;

/// The saved plan among apply's arguments, if one is: a JSON object with a
/// `format_version` (a YAML config never has one). A plan is applied alone.
pub fn saved_plan_in(args: &[PathBuf]) -> anyhow::Result<Option<PathBuf>> {
    let plans: Vec<&PathBuf> = args.iter().filter(|p| is_plan_file(p)).collect();
    match plans.as_slice() {
        [] => Ok(None),
        [one] if args.len() == 1 => Ok(Some((*one).clone())),
        _ => bail!(
            "a saved plan is applied on its own: `rpd apply PLAN` (it names its configs)\n  = help: apply the plan, then the other configs, or plan them all together with `rpd plan -o`"
        ),
    }
}

/// A JSON object with a `format_version` (a YAML config never is one),
/// however it is formatted.
fn is_plan_file(path: &Path) -> bool {
    let Ok(bytes) = crate::input::read(path) else {
        return false;
    };
    bytes.trim_ascii_start().starts_with(b"{")
        && serde_json::from_slice::<serde_json::Value>(&bytes)
            .is_ok_and(|v| v.get("format_version").is_some())
}

pub async fn apply(
    ctx: &Ctx,
    settings: &ApplySettings,
    plan_file: &Path,
) -> anyhow::Result<ExitStatus> {
    // The direct-SSH grace is how this apply waits, not what was planned.
    let planned_flags = PlanFlags {
        direct_ssh_grace: PlanFlags::default().direct_ssh_grace,
        ..settings.flags
    };
    if settings.vars != Default::default() || planned_flags != PlanFlags::default() {
        bail!(
            "a saved plan is carried out as it was planned: --var, --vars-file, --replace, --fallback-cloud-type, --on-busy-host and --replace-without-stock belong to `rpd plan -o`"
        );
    }
    let (doc, seal) = super::show::read(plan_file)?;
    let mut planned = Vec::new();
    for entry in &doc.configs {
        match entry {
            ConfigEntry::Planned(config) => match &config.saved {
                Some(saved) => planned.push((config.as_ref(), saved)),
                None => bail!(
                    "{} is the JSON output of `rpd plan`, not a saved plan: it has no fingerprints to check\n  = help: save a plan with `rpd plan -o plan.json CONFIG...`",
                    plan_file.display()
                ),
            },
            ConfigEntry::Failed(failed) => bail!(
                "{}: {} could not be planned: a plan with a failed config is never saved",
                plan_file.display(),
                failed.config
            ),
        }
    }
    // Carried out only as it was saved: an edited step, lifecycle branch,
    // reason or summary would make apply do what the review did not see.
    if let Some(why) = words::broken_seal(seal, &plan_file.display().to_string()) {
        bail!(
            "{why}: rpd carries out a saved plan only as it was saved\n  = help: nothing was changed; plan again (`rpd plan -o {}`), review, and apply the new plan",
            plan_file.display()
        );
    }
    let provider = ctx.provider()?;
    let now = chrono::Utc::now();
    let mut configs = Vec::new();
    for (entry, saved) in &planned {
        let options = LoadOptions {
            overrides: saved.variables.clone().into_iter().collect(),
            now: Some(now),
        };
        let path = PathBuf::from(&entry.config);
        if path.is_relative() && !path.exists() {
            bail!(
                "saved plan {} names the config {}, which is not here
  = help: paths in a saved plan are relative to the directory `rpd plan -o` ran in; run `rpd apply` from there",
                plan_file.display(),
                path.display()
            );
        }
        let config = config::load(&path, &options)
            .map_err(anyhow::Error::new)
            .with_context(|| format!("saved plan {}", plan_file.display()))?;
        super::warn_about(ctx, &path, &config);
        configs.push(config);
    }
    let new_dirs = new_state_dirs(&configs);
    let guards = lock_all(ctx, &configs, "apply", settings.lock).await?;
    let stream = settings.json.then(Stream::new);

    // Under the lock: what the plan was made from must still hold.
    let mut ready = Vec::new();
    let mut stale = false;
    for (config, (entry, saved)) in configs.into_iter().zip(&planned) {
        let flags = PlanFlags {
            replace_without_stock: saved.replace_without_stock,
            ..PlanFlags::default()
        };
        let input = refresh(&provider, &config, Mode::Apply, flags, &Catalogs::new())
            .await
            .with_context(|| format!("checking the saved plan for {}", entry.config))?;
        let current = SavedFacts::new(
            observed_facts(&input),
            provider.name(),
            config_sha256(&config.path)?,
            saved.variables.clone(),
            saved.replace_without_stock,
            now,
        );
        let causes = stale_causes(saved, &current);
        for cause in &causes {
            let message = format!(
                "saved plan is stale: {}",
                words::stale_cause(cause, &entry.config)
            );
            if let Some(stream) = &stream {
                stream.errored(&entry.config, &message);
            }
            ctx.error(&anyhow::anyhow!(message));
        }
        if !causes.is_empty() {
            stale = true;
            continue;
        }
        let plan = json::plan_of(entry)?;
        ready.push(Prepared {
            loaded: input.recorded.map(|recorded| Loaded {
                state: recorded.state,
                origin: recorded.origin,
            }),
            observed: Default::default(),
            config,
            plan,
        });
    }
    if stale {
        drop(guards);
        remove_empty(&new_dirs);
        crate::note!(
            "  = help: nothing was changed; plan again (`rpd plan -o {}`), review, and apply the new plan",
            plan_file.display()
        );
        return Ok(ExitStatus::Error);
    }
    let palette = ctx.stdout_palette();
    for (i, prepared) in ready.iter().enumerate() {
        let shown = prepared.config.path.display().to_string();
        show_plan(stream.as_ref(), i, &shown, &prepared.plan, &palette);
    }
    if stream.is_none() {
        crate::say!();
        crate::say!("Applying the saved plan {}.", plan_file.display());
    }
    let timing = super::busy_host_timing()?;
    let options = ApplyOptions {
        replace_without_stock: planned.iter().any(|(_, s)| s.replace_without_stock),
        busy_host_retry: timing
            .every
            .unwrap_or(ApplyOptions::default().busy_host_retry),
        detach: settings.detach,
        direct_ssh_grace: settings.flags.direct_ssh_grace,
    };
    let status = execute(
        ctx,
        &provider,
        &ready,
        options,
        Mode::Apply,
        stream.as_ref(),
    )
    .await;
    drop(guards);
    remove_empty(&new_dirs);
    Ok(status)
}
