//! `rpd apply` and `rpd destroy`: lock, refresh, show the plan, ask, carry
//! it out (configs in parallel, each under its own lock), summarize.

use std::path::PathBuf;

use anyhow::bail;

use super::execute::execute;
use super::ndjson::Stream;
use crate::apply::ApplyOptions;
use crate::commands::settings::{
    ApplySettings, AttachSettings, DestroySettings, LockSettings, VarSettings,
};
use crate::commands::{Ctx, PlanFlags, Prepared, load_configs, prepare_all};
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::plan::Mode;
use crate::render;
use crate::state::{self, LockGuard};

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
    /// `--json`: NDJSON events on stdout.
    pub json: bool,
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
        json: settings.json,
    };
    if let Some(plan_file) = super::apply_saved::saved_plan_in(&settings.configs)? {
        return super::apply_saved::apply(ctx, settings, &plan_file).await;
    }
    if settings.json && !settings.auto_approve {
        bail!(
            "apply --json cannot ask for confirmation\n  = help: pass -y/--auto-approve, or apply a saved plan (`rpd plan -o plan.json`, then `rpd apply --json plan.json`)"
        );
    }
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
        json: false,
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
        json: false,
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
        direct_ssh_grace: flags.direct_ssh_grace,
    };
    let operation = match request.mode {
        Mode::Apply if request.attach_only => "attach",
        Mode::Apply => "apply",
        Mode::Destroy => "destroy",
        Mode::Cleanup => "cleanup",
    };
    let new_dirs = new_state_dirs(&configs);
    let guards = lock_all(ctx, &configs, operation, request.lock).await?;

    let palette = ctx.stdout_palette();
    let stream = request.json.then(Stream::new);
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
                show_plan(
                    stream.as_ref(),
                    i,
                    &path.display().to_string(),
                    &p.plan,
                    &palette,
                );
                ready.push(p);
            }
            Err(err) => {
                let err = err.context(format!("planning {}", path.display()));
                if let Some(stream) = &stream {
                    stream.errored(&path.display().to_string(), &super::format_error(&err));
                }
                ctx.error(&err);
                status = ExitStatus::Error;
            }
        }
    }
    // A plan with errors (a key, the catalog, local inputs) is not
    // carried out, and neither are the others: fix, then apply all.
    for p in ready.iter().filter(|p| !p.plan.report.errors.is_empty()) {
        ctx.error(&anyhow::anyhow!(
            "{}: the plan has errors: nothing was {}",
            p.config.name,
            match request.mode {
                Mode::Apply => "created",
                Mode::Destroy | Mode::Cleanup => "deleted",
            }
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
    let verb = match request.mode {
        Mode::Destroy => "destroy",
        Mode::Apply => "apply",
        Mode::Cleanup => "clean up",
    };
    // The plan is on screen: without a terminal to ask on, say what to do.
    if !request.auto_approve && !ctx.stdin_tty {
        drop(guards);
        remove_empty(&new_dirs);
        bail!(
            "standard input is not a terminal, so rpd cannot ask for confirmation\n  = help: review the plan above, then pass -y/--auto-approve to {verb} without asking (or save it with `rpd plan -o plan.json` and `rpd apply plan.json`)"
        );
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
    if !request.json {
        crate::say!();
    }
    let status = execute(
        ctx,
        &provider,
        &ready,
        options,
        request.mode,
        stream.as_ref(),
    )
    .await;
    drop(guards);
    remove_empty(&new_dirs);
    Ok(status)
}

/// State directories this run creates (with the lock) and may leave empty:
/// they go again at the end ([`remove_empty`]).
pub(super) fn new_state_dirs(configs: &[crate::config::Config]) -> Vec<PathBuf> {
    configs
        .iter()
        .filter_map(|c| c.state_file.parent())
        .filter(|dir| !dir.exists())
        .map(PathBuf::from)
        .collect()
}

/// The `i`th plan before it is applied: an NDJSON event, or the text plan
/// (a blank line between two).
pub(super) fn show_plan(
    stream: Option<&Stream>,
    i: usize,
    shown: &str,
    plan: &crate::plan::Plan,
    palette: &crate::render::Palette,
) {
    match stream {
        Some(stream) => stream.planned(shown, plan),
        None => {
            if i > 0 {
                crate::say!();
            }
            crate::say_raw!("{}", render::text::render(plan, shown, palette));
        }
    }
}

/// Removes each directory if it is empty (a state directory this run made
/// and left nothing in).
pub(super) fn remove_empty(dirs: &[PathBuf]) {
    for dir in dirs {
        let _ = std::fs::remove_dir(dir);
    }
}

pub(super) async fn lock_all(
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
    {
        use std::io::Write as _;
        let mut stderr = std::io::stderr();
        let _ = write!(stderr, "  Enter a value: ");
        let _ = stderr.flush();
    }
    approved(&mut std::io::stdin().lock())
}

/// Reads one answer in the terminal's own line mode (its line editing,
/// and Ctrl-D ends the input): only `yes` approves; end of input (Ctrl-D)
/// or an unreadable line cancels.
fn approved(input: &mut impl std::io::BufRead) -> bool {
    let mut answer = String::new();
    match input.read_line(&mut answer) {
        Ok(0) | Err(_) => {
            // Ctrl-D leaves the cursor after the prompt.
            crate::note!();
            false
        }
        Ok(_) => answer.trim() == "yes",
    }
}

#[cfg(test)]
mod tests {
    use super::approved;

    #[test]
    fn only_yes_approves_and_the_end_of_input_cancels() {
        let answer = |text: &str| approved(&mut text.as_bytes());
        assert!(answer("yes\n"));
        assert!(answer("  yes  \n"));
        assert!(!answer("y\n"));
        assert!(!answer("YES\n"));
        assert!(!answer("\n"));
        assert!(!answer(""));
    }
}
