//! `rpd apply` and `rpd destroy`: lock, refresh, show the plan, ask, carry
//! it out (configs in parallel, each under its own lock), summarize.

use std::path::PathBuf;

use anyhow::bail;
use futures::future::join_all;

use crate::apply::{ApplyError, ApplyOptions, ApplyReport, Executor, LifecycleDone};
use crate::commands::refresh::missing_ssh_key;
use crate::commands::settings::{
    ApplySettings, AttachSettings, DestroySettings, LockSettings, VarSettings,
};
use crate::commands::{Ctx, PlanFlags, Prepared, load_configs, prepare_all};
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::interrupt::Interrupt;
use crate::model::Outcome;
use crate::plan::Mode;
use crate::progress::Reporter;
use crate::render::{self, elapsed};
use crate::state::{self, LockGuard, State};

pub struct Request<'a> {
    pub configs: &'a [PathBuf],
    pub vars: &'a VarSettings,
    pub flags: PlanFlags,
    pub auto_approve: bool,
    pub lock: LockSettings,
    pub mode: Mode,
    /// `apply --detach`: return once the job is launched.
    pub detach: bool,
    /// `rpd attach`: only plans that attach to a launched job are carried
    /// out (without asking: the job was approved when it was launched).
    pub attach_only: bool,
}

pub async fn apply(ctx: &Ctx, settings: &ApplySettings) -> anyhow::Result<ExitStatus> {
    let request = Request {
        configs: &settings.configs,
        vars: &settings.vars,
        flags: settings.flags,
        auto_approve: settings.auto_approve,
        lock: settings.lock,
        mode: Mode::Apply,
        detach: settings.detach,
        attach_only: false,
    };
    run(ctx, request).await
}

pub async fn attach(ctx: &Ctx, settings: &AttachSettings) -> anyhow::Result<ExitStatus> {
    let request = Request {
        configs: &settings.configs,
        vars: &settings.vars,
        flags: PlanFlags::default(),
        auto_approve: true,
        lock: settings.lock,
        mode: Mode::Apply,
        detach: false,
        attach_only: true,
    };
    run(ctx, request).await
}

pub async fn destroy(ctx: &Ctx, settings: &DestroySettings) -> anyhow::Result<ExitStatus> {
    let request = Request {
        configs: &settings.configs,
        vars: &settings.vars,
        flags: PlanFlags::default(),
        auto_approve: settings.auto_approve,
        lock: settings.lock,
        mode: Mode::Destroy,
        detach: false,
        attach_only: false,
    };
    run(ctx, request).await
}

pub async fn run(ctx: &Ctx, request: Request<'_>) -> anyhow::Result<ExitStatus> {
    let Some(configs) = load_configs(ctx, request.configs, request.vars)? else {
        return Ok(ExitStatus::Error);
    };
    let provider = ctx.provider()?;
    let timing = crate::commands::busy_host_timing()?;
    let flags = PlanFlags {
        busy_host_wait: timing.wait,
        ..request.flags
    };
    let options = ApplyOptions {
        replace_without_stock: flags.replace_without_stock,
        busy_host_retry: timing
            .every
            .unwrap_or(ApplyOptions::default().busy_host_retry),
        detach: request.detach,
    };
    if request.mode == Mode::Apply {
        let missing: Vec<String> = configs
            .iter()
            .filter_map(|c| missing_ssh_key(c, provider.name()))
            .map(|key| render::words::missing_ssh_key(&key))
            .collect();
        if !missing.is_empty() {
            bail!("{}", missing.join("\n"));
        }
    }
    if !request.auto_approve && !ctx.stdin_tty {
        bail!(
            "standard input is not a terminal, so rpd cannot ask for confirmation\n  = help: review the plan with `rpd plan`, then pass -y/--auto-approve to {} without asking",
            if request.mode == Mode::Destroy {
                "destroy"
            } else {
                "apply"
            }
        );
    }
    let operation = match request.mode {
        Mode::Apply if request.attach_only => "attach",
        Mode::Apply => "apply",
        Mode::Destroy => "destroy",
        Mode::Cleanup => "cleanup",
    };
    // State directories this run creates (with the lock) and may leave
    // empty: they go again at the end.
    let new_dirs: Vec<PathBuf> = configs
        .iter()
        .filter_map(|c| c.state_file.parent())
        .filter(|dir| !dir.exists())
        .map(PathBuf::from)
        .collect();
    let guards = lock_all(ctx, &configs, operation, request.lock).await?;

    let palette = ctx.stdout_palette();
    let mut status = ExitStatus::Success;
    let mut ready: Vec<Prepared> = Vec::new();
    for (i, (path, prepared)) in prepare_all(&provider, configs, request.mode, flags)
        .await
        .into_iter()
        .enumerate()
    {
        match prepared {
            // `rpd attach` shows and carries out only plans that attach.
            Ok(p) if request.attach_only && !p.plan.attaches() => {
                ctx.error(&anyhow::anyhow!(
                    "{}: there is no job to attach to: the state records no job that `rpd apply --detach` or an interrupted apply launched{}\n  = help: `rpd apply {}` runs the job",
                    p.config.name,
                    if p.loaded.as_ref().is_some_and(|l| l.state.launched_job.is_some()) {
                        " on a pod this plan can attach to (is the pod gone, or replaced?); `rpd plan` says what happened to it"
                    } else {
                        ""
                    },
                    p.config.path.display()
                ));
                status = ExitStatus::Error;
            }
            Ok(p) => {
                if i > 0 {
                    crate::say!();
                }
                crate::say_raw!(
                    "{}",
                    render::text::render(&p.plan, &path.display().to_string(), &palette)
                );
                ready.push(p);
            }
            Err(err) => {
                ctx.error(&err.context(format!("planning {}", path.display())));
                status = ExitStatus::Error;
            }
        }
    }
    // A plan with errors (local inputs the job cannot run with) is not
    // carried out, and neither are the others: fix, then apply all.
    for p in ready.iter().filter(|p| !p.plan.report.errors.is_empty()) {
        ctx.error(&anyhow::anyhow!(
            "{}: the plan has errors: nothing was created",
            p.config.name
        ));
        status = ExitStatus::Error;
    }
    if status != ExitStatus::Success {
        drop(guards);
        remove_empty(&new_dirs);
        return Ok(status);
    }
    if ready.iter().all(|p| p.plan.is_empty()) {
        return Ok(ExitStatus::Success);
    }
    if !request.auto_approve && !confirm(ctx, request.mode) {
        crate::note!(
            "\n{} cancelled.",
            if request.mode == Mode::Destroy {
                "Destroy"
            } else {
                "Apply"
            }
        );
        return Ok(ExitStatus::Error);
    }
    crate::say!();

    // Registered before anything is created: a state file that a killed
    // run leaves is found by `status`, `ls-stale` and `cleanup`.
    if request.mode == Mode::Apply {
        for prepared in &ready {
            let config = &prepared.config;
            crate::commands::inventory::record_applied(ctx, config, provider.name(), true);
        }
    }
    let interrupt = Interrupt::install();
    // Approved; nothing has run yet (tests change local inputs here).
    crate::fault::reached("approved").await;
    let spinners = ctx.stderr_tty && ready.len() == 1;
    let runs = ready.iter().map(|prepared| {
        let state = prepared
            .loaded
            .as_ref()
            .map(|l| {
                let mut s = l.state.clone();
                s.owner = Some(crate::commands::owner(&prepared.config));
                s
            })
            .unwrap_or_else(|| State::new(crate::commands::owner(&prepared.config)));
        let executor = Executor::new(
            provider.clone(),
            &prepared.config,
            prepared.config.state_file.clone(),
            state,
            Reporter::new(prepared.config.name.clone(), spinners),
            interrupt.clone(),
        )
        .with_options(options);
        executor.run(&prepared.plan)
    });
    let results = join_all(runs).await;
    for prepared in &ready {
        crate::commands::inventory::record_applied(ctx, &prepared.config, provider.name(), false);
    }
    drop(guards);
    remove_empty(&new_dirs);

    let p = ctx.stdout_palette();
    crate::say!();
    for (prepared, result) in ready.iter().zip(results) {
        let config = &prepared.config;
        let one = match result {
            Ok(report) => summarize(ctx, config, &report, request.mode),
            Err((err, report)) => {
                let interrupted = matches!(
                    err,
                    ApplyError::Interrupted | ApplyError::InterruptedBeforeJob
                ) || report.interrupted;
                let status = if interrupted {
                    ExitStatus::Interrupted
                } else {
                    ExitStatus::Error
                };
                let counts = counts(&report);
                let mut message = format!("{}: {err}", config.name);
                if let ApplyError::LocalInputsChanged { problems } = &err {
                    for problem in problems {
                        message.push_str(&format!("\n  {}", render::words::local_problem(problem)));
                    }
                }
                ctx.error(&anyhow::anyhow!(message));
                crate::say!(
                    "{} {}",
                    p.remove
                        .apply_to(format!("{}: apply stopped.", config.name)),
                    counts
                );
                status
            }
        };
        status = status.worst(one);
    }
    Ok(status)
}

/// Removes each directory if it is empty (a state directory this run made
/// and left nothing in).
fn remove_empty(dirs: &[PathBuf]) {
    for dir in dirs {
        let _ = std::fs::remove_dir(dir);
    }
}

async fn lock_all(
    ctx: &Ctx,
    configs: &[Config],
    operation: &str,
    lock: LockSettings,
) -> anyhow::Result<Vec<LockGuard>> {
    let mut guards = Vec::new();
    for config in configs {
        let path = config.state_file.clone();
        let shown = config.path.display().to_string();
        let operation = operation.to_string();
        let timeout = lock.timeout;
        let result = tokio::task::spawn_blocking(move || {
            state::acquire(&path, &operation, &shown, timeout, |holder| {
                crate::note!(
                    "Acquiring the state lock (held by {} for {} since {}); waiting up to {}...",
                    holder.who,
                    holder.operation,
                    holder.created.format("%H:%M:%S UTC"),
                    humantime::format_duration(timeout)
                );
            })
        })
        .await
        .expect("lock task");
        match result {
            Ok(guard) => {
                if let Some(old) = &guard.took_over {
                    ctx.warn(&format!(
                        "took over the lock of a run that is gone (pid {} on {}, {} since {}); check `rpd plan` for what it left",
                        old.pid, old.host, old.operation, old.created.format("%Y-%m-%d %H:%M:%S UTC")
                    ));
                }
                guards.push(guard);
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok(guards)
}

/// Asks Terraform's question for `mode`; only `yes` approves.
pub(crate) fn confirm(ctx: &Ctx, mode: Mode) -> bool {
    let p = ctx.stderr_palette();
    let (question, what) = match mode {
        Mode::Apply => (
            "Do you want to perform these actions?",
            "rpd will perform the actions described above.",
        ),
        Mode::Destroy => (
            "Do you really want to destroy these pods?",
            "rpd will delete every pod listed above, retained ones included. There is no undo.",
        ),
        Mode::Cleanup => (
            "Do you want to clean up these pods?",
            "rpd will carry out the steps above; a deleted pod's volume is gone for good.",
        ),
    };
    crate::note!();
    crate::note!("{}", p.bold.apply_to(question));
    crate::note!("  {what}");
    crate::note!("  Only 'yes' will be accepted to approve.");
    crate::note!();
    let answer: Result<String, _> = dialoguer::Input::new()
        .with_prompt("  Enter a value")
        .allow_empty(true)
        .interact_text();
    matches!(answer, Ok(a) if a.trim() == "yes")
}

fn counts(report: &ApplyReport) -> String {
    format!(
        "Pods: {} created, {} resumed, {} destroyed, {} stopped.",
        report.created, report.resumed, report.destroyed, report.stopped
    )
}

/// What the lifecycle did, as the summary says it.
fn lifecycle_words(done: &LifecycleDone) -> String {
    let key = match done.outcome {
        Outcome::Success => "on_success",
        Outcome::Failure => "on_failure",
    };
    let planned = done.planned;
    match done.carried_out {
        None => format!("{key}: {planned} was not needed: the pod no longer exists"),
        Some(action) if action != planned => format!(
            "{key}: {action} was carried out instead of {planned}, so the results stay on the pod's volume"
        ),
        Some(action) => format!("{key}: {action} was carried out"),
    }
}

fn summarize(ctx: &Ctx, config: &Config, report: &ApplyReport, mode: Mode) -> ExitStatus {
    let p = ctx.stdout_palette();
    let name = &config.name;
    if mode == Mode::Destroy {
        crate::say!(
            "{} Pods: {} destroyed.",
            p.add.apply_to(format!("{name}: destroy complete!")),
            report.destroyed
        );
        return ExitStatus::Success;
    }
    if let Some(detached) = &report.detached {
        let deadline = match (detached.deadline_at, detached.deadline_reason) {
            (Some(at), Some(reason)) => {
                format!("at {} ({reason}), or ", at.format("%Y-%m-%d %H:%M UTC"))
            }
            _ => String::new(),
        };
        crate::say!(
            "{} {}\n  The job runs on pod {}; follow it, or collect it once it has ended, with `rpd attach {}` (a plain `rpd apply` does the same), which then carries out the lifecycle.\n  The pod stops itself {deadline}{} after the job ends if no rpd is attached.",
            p.add
                .apply_to(format!("{name}: job launched and detached.")),
            counts(report),
            detached.pod_id,
            config.path.display(),
            crate::model::duration(detached.grace.as_secs()),
        );
        return ExitStatus::Success;
    }
    let wall = report
        .job_wall
        .map(|d| format!(" in {}", elapsed(d)))
        .unwrap_or_default();
    let run_dir = report
        .run_dir
        .as_ref()
        .map(|d| format!("\n  Run directory: {}", d.display()))
        .unwrap_or_default();
    let lifecycle = report.lifecycle.as_ref().map(lifecycle_words);
    let failed_because = report
        .failure
        .as_ref()
        .map(|f| format!(" ({}: {})", f.phase, f.reason.lines().next().unwrap_or("")))
        .unwrap_or_default();
    let status = match (report.outcome, &report.results_unsaved) {
        (Some(_), Some(unsaved)) => {
            let job = match &report.failure {
                None => format!("The job succeeded{wall}"),
                Some(_) => format!("The job failed{wall}{failed_because}"),
            };
            crate::say!(
                "{} {} {job}, but {unsaved}; {}.{run_dir}",
                p.remove.apply_to(format!(
                    "{name}: apply finished, the results were not saved."
                )),
                counts(report),
                lifecycle.unwrap_or_default()
            );
            ExitStatus::Error
        }
        (Some(Outcome::Success), None) => {
            crate::say!(
                "{} {} Job succeeded{wall}.{run_dir}",
                p.add.apply_to(format!("{name}: apply complete!")),
                counts(report)
            );
            match &report.lifecycle {
                Some(done) if done.carried_out.is_none() => {
                    crate::say!("  {}.", capitalized(&lifecycle_words(done)))
                }
                Some(done) if report.interrupted => crate::say!(
                    "  Interrupted after the job ended: its outcome stands and {}.",
                    lifecycle_words(done)
                ),
                _ => {}
            }
            ExitStatus::Success
        }
        (Some(Outcome::Failure), None) => {
            crate::say!(
                "{} {} Job failed{wall}{failed_because}; {}.{run_dir}",
                p.remove
                    .apply_to(format!("{name}: apply finished, job failed.")),
                counts(report),
                lifecycle.unwrap_or_else(|| format!(
                    "on_failure: {} was not carried out",
                    config.lifecycle.on_failure
                ))
            );
            ExitStatus::JobFailed
        }
        (None, _) => {
            crate::say!(
                "{} {}",
                p.add.apply_to(format!("{name}: apply complete!")),
                counts(report)
            );
            ExitStatus::Success
        }
    };
    for warning in &report.warnings {
        crate::say!("  {} {warning}", p.warn.apply_to("Warning:"));
    }
    if report.interrupted {
        ExitStatus::Interrupted
    } else {
        status
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
