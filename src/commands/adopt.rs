//! `rpd import CONFIG POD_ID` (adopt an existing pod as the config's pod,
//! then show the plan for it: whether it matches the config) and `rpd state
//! rm CONFIG [POD_ID]` (forget a pod without touching it). Both under the
//! config's lock; neither calls the provider to change anything.

use anyhow::bail;
use chrono::{DateTime, Utc};

use crate::commands::register::{self, Refused};
use crate::commands::settings::ImportSettings;
use crate::commands::{Ctx, PlanFlags, inventory, load_config, owner, prepare_all, read_state};
use crate::exit::ExitStatus;
use crate::model::PodStatus;
use crate::plan::{Mode, PodAction};
use crate::render;
use crate::state::{self, PodRecord, State};

pub async fn import(ctx: &Ctx, settings: &ImportSettings) -> anyhow::Result<ExitStatus> {
    let config = load_config(ctx, &settings.target)?;
    let pod_id = settings.pod_id.clone().unwrap_or_default();
    let shown = config.path.display().to_string();
    let recorded = state::read(&config.state_file).ok().flatten();
    let provider = inventory::provider_for_state(
        ctx,
        &config.state_file,
        recorded.as_ref().map(|l| &l.state),
    )?;
    let new_dir = config.state_file.parent().filter(|d| !d.exists());
    let imported = async {
        let _guard = state::acquire(
            &config.state_file,
            "import",
            &shown,
            settings.lock.timeout,
            |_| {},
        )?;
        let mut state = read_state(&config, provider.name())?
            .map(|l| l.state)
            .unwrap_or_else(|| State::new(owner(&config)));
        if let Some(current) = &state.pod {
            if current.id == pod_id {
                bail!("{shown} already tracks pod {pod_id}");
            }
            bail!(
                "{shown} already tracks pod {}\n  = help: `rpd destroy {shown}` deletes it, or `rpd state rm {shown}` forgets it; then import",
                current.id
            );
        }
        if state.retained.iter().any(|r| r.pod.id == pod_id) {
            bail!("{shown} keeps pod {pod_id} for forensics already");
        }
        // The state records the key its pods were made with; one that
        // keeps pods another key made cannot take this key's.
        let fingerprint = provider.api_key_fingerprint();
        if let (Some(made_with), Some(current)) = (&state.api_key_fingerprint, &fingerprint)
            && made_with != current
            && !state.retained.is_empty()
        {
            bail!(
                "{} was made with another RunPod API key ({made_with}; this one is {current}) and keeps pods for forensics that this key may not see\n  = help: import with the key the state was made with, or `rpd destroy {shown}` first",
                config.state_file.display()
            );
        }
        let Some(pod) = provider.get(&pod_id).await?.filter(|p| p.status != PodStatus::Terminated)
        else {
            bail!("there is no pod {pod_id} (looked it up with --provider {})", provider.name());
        };
        let parse = |t: &Option<String>| t.as_deref().and_then(|t| t.parse::<DateTime<Utc>>().ok());
        state.pod = Some(PodRecord {
            id: pod.id.clone(),
            name: pod.name.clone(),
            spec: pod.spec.clone(),
            status: Some(pod.status),
            // When it got its status, if the provider says; never "now".
            status_since: parse(&pod.changed_at),
            created_at: parse(&pod.created_at),
            provider: Some(provider.name().to_string()),
        });
        // The key that sees the pod: another key's 404 is not "gone".
        if fingerprint.is_some() {
            state.api_key_fingerprint = fingerprint;
        }
        // A pod another state tracks stays that state's: checked under
        // the registry's lock, with the write it allows.
        register::claim(&config, provider.name(), &mut state, |refused| match refused {
            Refused::Tracked { pod_id, config } => anyhow::anyhow!(
                "pod {pod_id} is tracked by {}\n  = help: `rpd state rm {} {pod_id}` first if it should be this config's",
                config.display(),
                config.display()
            ),
            Refused::Unread { pod_id, state_file, gone } => anyhow::anyhow!(
                "pod {pod_id} was last tracked by {}, which {}: it may still track it\n  = help: {}",
                state_file.display(),
                if gone { "is gone (moved or deleted)" } else { "rpd cannot read" },
                if gone {
                    "if that state moved, `rpd refresh` its config at the new place; if it is gone for good, `rpd state rm` its config; then import"
                } else {
                    "restore it (its .backup is beside it), then import"
                }
            ),
        })
    }
    .await;
    let unread = match imported {
        Ok(unread) => unread,
        Err(err) => {
            if let Some(dir) = new_dir {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(err);
        }
    };
    crate::say!(
        "Imported pod {pod_id} into {}.",
        config.state_file.display()
    );
    crate::say!();
    // The plan for the imported pod says whether it matches the config.
    let flags = PlanFlags {
        busy_host_wait: crate::commands::busy_host_timing()?.wait,
        ..PlanFlags::default()
    };
    let path = config.path.clone();
    for (_, prepared) in prepare_all(&provider, vec![config], Mode::Apply, flags).await {
        let prepared = prepared?;
        crate::say_raw!(
            "{}",
            render::text::render(
                &prepared.plan,
                &path.display().to_string(),
                &ctx.stdout_palette()
            )
        );
        let replaced = matches!(prepared.plan.report.pod.action, PodAction::Replace);
        crate::say!();
        crate::say!(
            "{}",
            render::words::hygiene::imported(&pod_id, &path.display().to_string(), replaced)
        );
    }
    // A state rpd could not read may track the pod too: name it.
    for unread in &unread {
        let err = match &unread.error {
            Some(err) => anyhow::anyhow!(
                "{err:#}\n  = help: rpd could not check whether this state tracks pod {pod_id} too; restore it, then `rpd status` shows whose the pod is"
            ),
            None => anyhow::anyhow!(
                "the state file {} of {} is gone: rpd could not check whether it tracks pod {pod_id} too (if it moved, `rpd refresh` its config at the new place)",
                unread.state_file.display(),
                unread.config.display()
            ),
        };
        ctx.error(&err);
    }
    Ok(if unread.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Error
    })
}

pub fn forget(ctx: &Ctx, settings: &ImportSettings) -> anyhow::Result<ExitStatus> {
    let config = load_config(ctx, &settings.target)?;
    let shown = config.path.display().to_string();
    let _guard = state::acquire(
        &config.state_file,
        "state rm",
        &shown,
        settings.lock.timeout,
        |_| {},
    )?;
    let recorded = state::read(&config.state_file)?;
    let provider = inventory::provider_name_for_state(
        ctx,
        &config.state_file,
        recorded.as_ref().map(|l| &l.state),
    );
    let Some(loaded) = read_state(&config, &provider)? else {
        // A registered state whose file is gone: the user says it is gone
        // for good, so its pods become provably untracked.
        if register::forget_gone(&config.state_file)? {
            crate::say!(
                "{}",
                render::words::hygiene::forgotten_state(
                    &config.state_file.display().to_string(),
                    &shown
                )
            );
            return Ok(ExitStatus::Success);
        }
        bail!("no state file at {}", config.state_file.display());
    };
    let mut state = loaded.state;
    let Some(pod_id) = settings
        .pod_id
        .clone()
        .or_else(|| state.pod.as_ref().map(|p| p.id.clone()))
    else {
        bail!("{shown}'s state tracks no pod");
    };
    let name = if state.pod.as_ref().is_some_and(|p| p.id == pod_id) {
        state.pod.take().map(|p| p.name)
    } else if let Some(i) = state.retained.iter().position(|r| r.pod.id == pod_id) {
        Some(state.retained.remove(i).pod.name)
    } else {
        bail!("{shown}'s state does not track pod {pod_id}");
    };
    if state
        .launched_job
        .as_ref()
        .is_some_and(|j| j.pod_id == pod_id)
    {
        state.launched_job = None;
    }
    state::write(&config.state_file, &mut state)?;
    register::record(&config, &provider, false)?;
    crate::say!(
        "{}",
        render::words::hygiene::forgotten(&pod_id, &shown, name.as_deref().unwrap_or_default())
    );
    Ok(ExitStatus::Success)
}
