//! `rpd plan`: refresh and show what apply would do, per config.

use crate::commands::settings::{OutputFormat, PlanSettings};
use crate::commands::{Ctx, load_configs, prepare_all};
use crate::exit::ExitStatus;
use crate::plan::Mode;
use crate::render;

pub async fn run(ctx: &Ctx, settings: &PlanSettings) -> anyhow::Result<ExitStatus> {
    let Some(configs) = load_configs(ctx, &settings.configs, &settings.vars)? else {
        return Ok(ExitStatus::Error);
    };
    let provider = ctx.provider()?;
    let flags = crate::commands::PlanFlags {
        busy_host_wait: crate::commands::busy_host_timing()?.wait,
        ..settings.flags
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
        // A plan with errors cannot be applied: nothing would be created.
        if !plan.report.errors.is_empty() {
            status = status.worst(ExitStatus::Error);
        }
        if plan.report.has_pod_changes {
            with_changes += 1;
            if settings.detailed_exitcode {
                status = status.worst(ExitStatus::Changes);
            }
        }
        let shown = path.display().to_string();
        match settings.format {
            OutputFormat::Text => {
                if i > 0 {
                    crate::say!();
                }
                crate::say_raw!("{}", render::text::render(plan, &shown, &palette));
            }
            OutputFormat::Json => documents.push(render::json::document(plan, &shown)),
        }
    }
    match settings.format {
        OutputFormat::Json => {
            let out = if documents.len() == 1 {
                documents.pop().expect("one document")
            } else {
                serde_json::Value::Array(documents)
            };
            crate::say!("{}", serde_json::to_string_pretty(&out).expect("json"));
        }
        OutputFormat::Text if count > 1 => {
            crate::say!();
            crate::say!(
                "{count} configs: {with_changes} with changes, {} without.",
                count - with_changes
            );
        }
        OutputFormat::Text => {}
    }
    Ok(status)
}
