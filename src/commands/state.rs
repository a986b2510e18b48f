//! `rpd state show|reassign` and `rpd force-unlock`.

use anyhow::bail;

use crate::commands::register::{self, Refused};
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
    let previous = loaded.state.owner.replace(owner(&config));
    let provider = inventory::provider_name_for_state(ctx, &config.state_file, Some(&loaded.state));
    // A copy of another config's state would make two configs manage one
    // pod (a destroy of one deletes the other's): a pod another state
    // tracks stays that state's. The registry learns the new owner with
    // the write (under its lock): a state it does not list would make the
    // pods look untracked to `cleanup --untracked`.
    let shown_state = config.state_file.display().to_string();
    let unread = register::claim(
        &config,
        &provider,
        &mut loaded.state,
        |refused| match refused {
            Refused::Tracked {
                pod_id,
                config: other,
            } => anyhow::anyhow!(
                "{shown_state} tracks pod {pod_id}, which {}'s state tracks too: this state file looks like a copy of it, and two configs would manage one pod\n  = help: `rpd state rm {shown} {pod_id}` forgets it here (then reassign), or `rpd state rm {} {pod_id}` if it should be this config's",
                other.display(),
                other.display()
            ),
            Refused::Unread {
                pod_id,
                state_file,
                gone,
            } => anyhow::anyhow!(
                "{shown_state} tracks pod {pod_id}, which {} last tracked, and rpd cannot read that state{}: two configs may manage one pod\n  = help: restore it (or, if it is gone for good, `rpd state rm` its config), then reassign",
                state_file.display(),
                if gone { " (its file is gone)" } else { "" }
            ),
        },
    )?;
    for unread in &unread {
        if let Some(err) = &unread.error {
            ctx.warn(&format!(
                "{err:#}\n  = help: rpd could not check whether this state tracks the same pods"
            ));
        }
    }
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
