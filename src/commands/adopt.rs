//! `rpd import CONFIG POD_ID` (adopt an existing pod as the config's pod,
//! then show the plan for it: whether it matches the config) and `rpd state
//! rm CONFIG [POD_ID]` (forget a pod without touching it). Both under the
//! config's lock; neither calls the provider to change anything.

use anyhow::bail;
use chrono::{DateTime, Utc};

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
    let provider = ctx.provider()?;
    let shown = config.path.display().to_string();
    // A pod another state tracks stays that state's.
    if let Some((_, other)) = inventory::tracked_elsewhere(&config.state_file, &[&pod_id])? {
        bail!(
            "pod {pod_id} is tracked by {}\n  = help: `rpd state rm {} {pod_id}` first if it should be this config's",
            other.display(),
            other.display()
        );
    }
    let new_dir = config.state_file.parent().filter(|d| !d.exists());
    let imported = async {
        let _guard = state::acquire(
            &config.state_file,
            "import",
            &shown,
            settings.lock.timeout,
            |_| {},
        )?;
        let mut state = read_state(&config, ctx.provider_name())?
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
        state::write(&config.state_file, &mut state)?;
        anyhow::Ok(())
    }
    .await;
    if let Err(err) = imported {
        if let Some(dir) = new_dir {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(err);
    }
    inventory::record_applied(ctx, &config, provider.name(), false);
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
    Ok(ExitStatus::Success)
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
    let Some(loaded) = read_state(&config, ctx.provider_name())? else {
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
    inventory::record_applied(ctx, &config, ctx.provider_name(), false);
    crate::say!(
        "{}",
        render::words::hygiene::forgotten(&pod_id, &shown, name.as_deref().unwrap_or_default())
    );
    Ok(ExitStatus::Success)
}
