//! `rpd state show|reassign` and `rpd force-unlock`.

use std::path::PathBuf;

use crate::cli::{LockArgs, VarArgs};
use crate::commands::{Ctx, load_configs, owner};
use crate::exit::ExitStatus;
use crate::state;

fn one_config(
    ctx: &Ctx,
    path: &PathBuf,
    vars: &VarArgs,
) -> Result<crate::config::Config, ExitStatus> {
    load_configs(ctx, std::slice::from_ref(path), vars).map(|mut c| c.remove(0))
}

pub fn show(ctx: &Ctx, path: &PathBuf, vars: &VarArgs) -> ExitStatus {
    let config = match one_config(ctx, path, vars) {
        Ok(c) => c,
        Err(s) => return s,
    };
    match state::read(&config.state_file) {
        Ok(Some(loaded)) => {
            crate::note!("# {} ({:?})", config.state_file.display(), loaded.origin);
            crate::say!(
                "{}",
                serde_json::to_string_pretty(&loaded.state).expect("json")
            );
            ExitStatus::Success
        }
        Ok(None) => {
            crate::note!(
                "No state for {} (looked for {}).",
                config.path.display(),
                config.state_file.display()
            );
            ExitStatus::Success
        }
        Err(err) => {
            ctx.error(&anyhow::Error::new(err));
            ExitStatus::Error
        }
    }
}

pub fn reassign(ctx: &Ctx, path: &PathBuf, vars: &VarArgs, lock: &LockArgs) -> ExitStatus {
    let config = match one_config(ctx, path, vars) {
        Ok(c) => c,
        Err(s) => return s,
    };
    let shown = config.path.display().to_string();
    let _guard = match state::acquire(
        &config.state_file,
        "state reassign",
        &shown,
        lock.lock_timeout,
        |_| {},
    ) {
        Ok(g) => g,
        Err(err) => {
            ctx.error(&anyhow::Error::new(err));
            return ExitStatus::Error;
        }
    };
    let mut loaded = match state::read(&config.state_file) {
        Ok(Some(l)) => l,
        Ok(None) => {
            ctx.error(&anyhow::anyhow!(
                "no state file at {}",
                config.state_file.display()
            ));
            return ExitStatus::Error;
        }
        Err(err) => {
            ctx.error(&anyhow::Error::new(err));
            return ExitStatus::Error;
        }
    };
    let previous = loaded.state.owner.replace(owner(&config));
    if let Err(err) = state::write(&config.state_file, &mut loaded.state) {
        ctx.error(&anyhow::Error::new(err));
        return ExitStatus::Error;
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
    ExitStatus::Success
}

pub fn force_unlock(ctx: &Ctx, lock_id: &str, path: &PathBuf, vars: &VarArgs) -> ExitStatus {
    let config = match one_config(ctx, path, vars) {
        Ok(c) => c,
        Err(s) => return s,
    };
    match state::force_unlock(
        &config.state_file,
        lock_id,
        &config.path.display().to_string(),
    ) {
        Ok(info) => {
            crate::say!(
                "Released the lock {} ({} by {}) on {}.",
                info.id,
                info.operation,
                info.who,
                config.state_file.display()
            );
            ExitStatus::Success
        }
        Err(err) => {
            ctx.error(&anyhow::Error::new(err));
            ExitStatus::Error
        }
    }
}
