//! `rpd plan`: refresh and show what apply would do, per config.

use std::path::PathBuf;

use crate::cli::{Format, VarArgs};
use crate::commands::{Ctx, PlanFlags, load_configs, prepare_all};
use crate::exit::ExitStatus;
use crate::plan::Mode;
use crate::render;

pub async fn run(
    ctx: &Ctx,
    configs: &[PathBuf],
    vars: &VarArgs,
    flags: PlanFlags,
    detailed_exitcode: bool,
    format: Format,
) -> ExitStatus {
    let configs = match load_configs(ctx, configs, vars) {
        Ok(c) => c,
        Err(status) => return status,
    };
    let provider = match ctx.provider() {
        Ok(p) => p,
        Err(err) => {
            ctx.error(&err);
            return ExitStatus::Error;
        }
    };
    let palette = ctx.stdout_palette();
    let mut status = ExitStatus::Success;
    let mut documents = Vec::new();
    let mut with_changes = 0;
    let count = configs.len();
    for (i, (path, prepared)) in prepare_all(&provider, configs, Mode::Apply, flags)
        .await
        .into_iter()
        .enumerate()
    {
        let prepared = match prepared {
            Ok(p) => p,
            Err(err) => {
                ctx.error(&err.context(format!("planning {}", path.display())));
                status = status.worst(ExitStatus::Error);
                continue;
            }
        };
        let plan = &prepared.plan;
        if plan.report.has_pod_changes {
            with_changes += 1;
            if detailed_exitcode {
                status = status.worst(ExitStatus::Changes);
            }
        }
        let shown = path.display().to_string();
        match format {
            Format::Text => {
                if i > 0 {
                    crate::say!();
                }
                crate::say_raw!("{}", render::text::render(plan, &shown, &palette));
            }
            Format::Json => documents.push(render::json::document(plan, &shown)),
        }
    }
    match format {
        Format::Json => {
            let out = if documents.len() == 1 {
                documents.pop().expect("one document")
            } else {
                serde_json::Value::Array(documents)
            };
            crate::say!("{}", serde_json::to_string_pretty(&out).expect("json"));
        }
        Format::Text if count > 1 => {
            crate::say!();
            crate::say!(
                "{count} configs: {with_changes} with changes, {} without.",
                count - with_changes
            );
        }
        Format::Text => {}
    }
    status
}
