//! `rpd refresh CONFIG...`: records in each state what changed outside rpd
//! (a pod stopped, started, deleted or edited in the console) and shows it,
//! acting on nothing (Terraform's `-refresh-only`). Under the config's
//! lock; only a definite not-found makes a pod gone.

use std::collections::BTreeMap;

use anyhow::{Context, bail};

use crate::commands::settings::RefreshSettings;
use crate::commands::{Ctx, inventory, load_configs, read_state, register};
use crate::exit::ExitStatus;
use crate::hygiene::refresh_only::refresh;
use crate::plan::Observation;
use crate::provider::ProviderError;
use crate::render;
use crate::state;

pub async fn run(ctx: &Ctx, settings: &RefreshSettings) -> anyhow::Result<ExitStatus> {
    let Some(configs) = load_configs(ctx, &settings.configs, &settings.vars)? else {
        return Ok(ExitStatus::Error);
    };
    let mut status = ExitStatus::Success;
    for (i, config) in configs.iter().enumerate() {
        if i > 0 {
            crate::say!();
        }
        let shown = config.path.display().to_string();
        // A state directory the lock makes goes again if nothing is in it.
        let new_dir = config.state_file.parent().filter(|d| !d.exists());
        let result: anyhow::Result<()> = async {
            let _guard = state::acquire(
                &config.state_file,
                "refresh",
                &shown,
                settings.lock.timeout,
                |_| {},
            )?;
            let recorded = state::read(&config.state_file).ok().flatten();
            // The provider the state was applied with, unless one is named.
            let provider = inventory::provider_for_state(
                ctx,
                &config.state_file,
                recorded.as_ref().map(|l| &l.state),
            )?;
            let Some(loaded) = read_state(config, provider.name())? else {
                crate::say!("{shown}: no state, nothing to refresh.");
                return register::record(config, provider.name(), false);
            };
            let mut observed = BTreeMap::new();
            for id in loaded.state.pod_ids() {
                let seen = match provider.get(id).await {
                    Ok(Some(pod)) => Observation::Pod(Box::new(pod)),
                    Ok(None) | Err(ProviderError::NotFound(_)) => Observation::Gone,
                    Err(err) => {
                        return Err(anyhow::Error::new(err).context(format!("looking up pod {id}")));
                    }
                };
                observed.insert(id.to_string(), seen);
            }
            // Another key's 404 is no deletion: record nothing.
            if let Some(error) = crate::plan::account::other_api_key(
                &loaded.state,
                &config.state_file,
                provider.api_key_fingerprint().as_deref(),
                |id| matches!(observed.get(id), Some(Observation::Gone)),
                false,
            ) {
                bail!("{}", render::words::plan_error(&error));
            }
            let mut outcome = refresh(&loaded.state, &observed, chrono::Utc::now());
            if !outcome.changed() {
                crate::say!("{shown}: no changes; the state matches the provider.");
                return register::record(config, provider.name(), false);
            }
            crate::say_raw!(
                "{}",
                render::text::drift_block(&outcome.drift, &config.name, &ctx.stdout_palette())
            );
            state::write(&config.state_file, &mut outcome.state)?;
            crate::say!();
            crate::say!("{shown}: the state records these changes; nothing else was done.");
            register::record(config, provider.name(), false)
        }
        .await
        .with_context(|| format!("refreshing {shown}"));
        if let Some(dir) = new_dir {
            let _ = std::fs::remove_dir(dir);
        }
        if let Err(err) = result {
            ctx.error(&err);
            status = ExitStatus::Error;
        }
    }
    Ok(status)
}
