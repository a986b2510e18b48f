//! `rpd validate`: schema, types, templates and rpd's own checks, offline.

use crate::commands::settings::ValidateSettings;
use crate::commands::{Ctx, expand_configs, load_options, refuse_repeated, warn_about};
use crate::config;
use crate::exit::ExitStatus;

/// Reports every config's error and goes on with the next.
pub fn run(ctx: &Ctx, settings: &ValidateSettings) -> anyhow::Result<ExitStatus> {
    let paths = expand_configs(&settings.configs)?;
    refuse_repeated(&paths)?;
    let options = load_options(&settings.vars)?;
    let mut status = ExitStatus::Success;
    for path in &paths {
        match config::load(path, &options) {
            Ok(c) => {
                warn_about(ctx, path, &c);
                crate::say!(
                    "ok: {} schema_version={} job={}",
                    path.display(),
                    c.schema_version,
                    c.name
                );
            }
            Err(err) => {
                ctx.error(&anyhow::Error::new(err));
                status = ExitStatus::Error;
            }
        }
    }
    Ok(status)
}
