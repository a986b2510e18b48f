//! `rpd state show|reassign` and `rpd force-unlock`.

use anyhow::bail;

use crate::commands::settings::{ConfigSettings, ForceUnlockSettings, ReassignSettings};
use crate::commands::{Ctx, inventory, load_config, owner};
use crate::exit::ExitStatus;
use crate::state;

pub fn show(ctx: &Ctx, target: &ConfigSettings) -> anyhow::Result<ExitStatus> {
    let config = load_config(ctx, target)?;
    match state::read(&config.state_file)? {
        Some(loaded) => {
            crate::note!("# {} ({:?})", config.state_file.display(), loaded.origin);
            crate::say!(
                "{}",
                serde_json::to_string_pretty(&loaded.state).expect("json")
            );
        }
        None => {
            crate::note!(
                "No state for {} (looked for {}).",
                config.path.display(),
                config.state_file.display()
            );
        }
    }
    Ok(ExitStatus::Success)
}

pub fn reassign(ctx: &Ctx, settings: &ReassignSettings) -> anyhow::Result<ExitStatus> {
    let config = load_config(ctx, &settings.target)?;
    let shown = config.path.display().to_string();
    let _guard = state::acquire(
        &config.state_file,
        "state reassign",
        &shown,
        settings.lock.timeout,
        |_| {},
    )?;
    let Some(mut loaded) = state::read(&config.state_file)? else {
        bail!("no state file at {}", config.state_file.display());
    };
    // A copy of another config's state would make two configs manage one
    // pod (a destroy of one deletes the other's): a pod another state
    // tracks stays that state's.
    if let Some((pod_id, other)) =
        inventory::tracked_elsewhere(&config.state_file, &loaded.state.pod_ids())?
    {
        bail!(
            "{} tracks pod {pod_id}, which {}'s state tracks too: this state file looks like a copy of it, and two configs would manage one pod\n  = help: `rpd state rm {shown} {pod_id}` forgets it here (then reassign), or `rpd state rm {} {pod_id}` if it should be this config's",
            config.state_file.display(),
            other.display(),
            other.display()
        );
    }
    let previous = loaded.state.owner.replace(owner(&config));
    state::write(&config.state_file, &mut loaded.state)?;
    match previous {
        Some(p) => crate::say!(
            "{} now belongs to {} (was {}).",
            config.state_file.display(),
            config.canonical_path.display(),
            p.config.display()
        ),
        None => crate::say!(
            "{} now belongs to {}.",
            config.state_file.display(),
            config.canonical_path.display()
        ),
    }
    Ok(ExitStatus::Success)
}

pub fn force_unlock(ctx: &Ctx, settings: &ForceUnlockSettings) -> anyhow::Result<ExitStatus> {
    let config = load_config(ctx, &settings.target)?;
    let released = state::force_unlock(
        &config.state_file,
        &settings.lock_id,
        &config.path.display().to_string(),
    )?;
    match released {
        state::Released::Lock(info) => crate::say!(
            "Released the lock {} ({} by {}) on {}.",
            info.id,
            info.operation,
            info.who,
            config.state_file.display()
        ),
        state::Released::Junk(junk) => crate::say!(
            "Removed the lock file {}, which held no lock ({}).",
            state::lock_path(&config.state_file).display(),
            junk.what
        ),
    }
    Ok(ExitStatus::Success)
}
