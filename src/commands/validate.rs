//! `rpd validate`: schema, types, templates and rpd's own checks, offline.

use std::path::PathBuf;

use crate::cli::VarArgs;
use crate::commands::{Ctx, load_options};
use crate::config;
use crate::exit::ExitStatus;

pub fn run(ctx: &Ctx, configs: &[PathBuf], vars: &VarArgs) -> ExitStatus {
    let options = match load_options(vars) {
        Ok(o) => o,
        Err(err) => {
            ctx.error(&err);
            return ExitStatus::Error;
        }
    };
    let mut status = ExitStatus::Success;
    for path in configs {
        match config::load(path, &options) {
            Ok(c) => {
                for warning in &c.warnings {
                    ctx.warn(&format!("{}: {warning}", path.display()));
                }
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
    status
}
