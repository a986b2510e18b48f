//! Carrying out approved plans (configs in parallel) and summing up what
//! happened: the summary lines, a failed job's last log lines, and the
//! exit status; with `apply --json`, all of it as NDJSON events.

use std::fmt::Write as _;

use futures::future::join_all;

use super::ndjson::Stream;
use super::runs::RunPicture;
use crate::apply::{ApplyError, ApplyOptions, ApplyReport, Executor, LifecycleDone};
use crate::commands::{Ctx, Prepared};
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::interrupt::Interrupt;
use crate::model::Outcome;
use crate::plan::Mode;
use crate::progress::Reporter;
use crate::provider::SharedProvider;
use crate::render::{self, Palette, elapsed};
use crate::state::State;

/// How many lines of a failed job's log the summary shows.
pub const FAILED_LOG_LINES: usize = 20;

/// Carries out every plan of `ready` (approved), then prints each config's
/// summary; returns the worst exit status.
pub async fn execute(
    ctx: &Ctx,
    provider: &SharedProvider,
    ready: &[Prepared],
    options: ApplyOptions,
    mode: Mode,
    stream: Option<&Stream>,
) -> ExitStatus {
    // Registered before anything is created: a state file that a killed
    // run leaves is found by `status`, `ls-stale` and `cleanup`. A registry
    // rpd cannot write would make the run's pods look untracked to them:
    // nothing runs.
    if mode == Mode::Apply {
        let mut unregistered = false;
        for prepared in ready {
            if let Err(err) =
                crate::commands::register::record(&prepared.config, provider.name(), true)
            {
                ctx.error(&anyhow::anyhow!(
                    "{}: {err:#}\n  = help: rpd records every config it applies in its registry, which `rpd status` and `rpd cleanup` rely on to tell whose each pod is; nothing was created",
                    prepared.config.name
                ));
                unregistered = true;
            }
        }
        if unregistered {
            return ExitStatus::Error;
        }
    }
    let interrupt = Interrupt::install();
    // Approved; nothing has run yet (tests change local inputs here).
    crate::fault::reached("approved").await;
    let spinners = ctx.stderr_tty && ready.len() == 1;
    let configs: Vec<Config> = ready.iter().map(run_config).collect();
    let runs = ready.iter().zip(&configs).map(|(prepared, config)| {
        let state = prepared
            .loaded
            .as_ref()
            .map(|l| {
                let mut s = l.state.clone();
                s.owner = Some(crate::commands::owner(&prepared.config));
                s
            })
            .unwrap_or_else(|| State::new(crate::commands::owner(&prepared.config)));
        let mut executor = Executor::new(
            provider.clone(),
            config,
            prepared.config.state_file.clone(),
            state,
            Reporter::new(prepared.config.name.clone(), spinners),
            interrupt.clone(),
        )
        .with_options(options);
        if let Some(stream) = stream {
            executor = executor.with_subscriber(Box::new(
                stream.for_config(&prepared.config, &prepared.plan),
            ));
        }
        executor.run(&prepared.plan)
    });
    let results = join_all(runs).await;
    for prepared in ready {
        crate::commands::register::record_after(ctx, &prepared.config, provider.name());
    }

    // With --json the human summary goes to stderr; stdout is the stream's.
    let p = if stream.is_some() {
        ctx.stderr_palette()
    } else {
        ctx.stdout_palette()
    };
    let mut status = ExitStatus::Success;
    let mut out = String::from("\n");
    for (prepared, result) in ready.iter().zip(results) {
        let config = &prepared.config;
        let (one, report, error) = match result {
            Ok(report) => (summarize(&mut out, &p, config, &report, mode), report, None),
            Err((err, report)) => {
                let interrupted = matches!(
                    err,
                    ApplyError::Interrupted
                        | ApplyError::InterruptedBeforeJob
                        | ApplyError::InterruptedBeforeCollect { .. }
                ) || report.interrupted;
                let status = if interrupted {
                    ExitStatus::Interrupted
                } else {
                    ExitStatus::Error
                };
                let mut message = format!("{}: {err}", config.name);
                if let ApplyError::LocalInputsChanged { problems } = &err {
                    for problem in problems {
                        message.push_str(&format!("\n  {}", render::words::local_problem(problem)));
                    }
                }
                ctx.error(&anyhow::anyhow!(message.clone()));
                let _ = writeln!(
                    out,
                    "{} {}",
                    p.remove
                        .apply_to(format!("{}: apply stopped.", config.name)),
                    counts(&report)
                );
                (status, report, Some(message))
            }
        };
        let picture = run_picture(&mut out, &p, &report);
        if report.outcome == Some(Outcome::Failure) {
            show_log_tail(&report);
        }
        if let Some(stream) = stream {
            stream.applied(config, &report, one, error.as_deref(), picture.as_ref());
        }
        status = status.worst(one);
    }
    match stream {
        Some(stream) => {
            crate::note!("{}", out.trim_end());
            stream.summary(ready.len(), status);
        }
        None => crate::say_raw!("{out}"),
    }
    status
}

/// The config a plan runs with: a plan that collects a job an earlier
/// apply launched (`rpd attach`, or the apply after a killed rpd) goes on
/// that run, in its directory: one run, one record, for `rpd runs`, `cost`
/// and `advise`.
fn run_config(prepared: &Prepared) -> Config {
    let mut config = prepared.config.clone();
    if prepared.plan.attaches()
        && let Some(job) = prepared
            .loaded
            .as_ref()
            .and_then(|l| l.state.launched_job.as_ref())
    {
        config.run_dir = job.run_dir.clone();
    }
    config
}

/// The end of a run whose files were pulled: what its telemetry says,
/// under its summary, and `metrics.svg` drawn beside `metrics.jsonl`. A
/// run without telemetry adds nothing.
fn run_picture(out: &mut String, p: &Palette, report: &ApplyReport) -> Option<RunPicture> {
    if report.detached.is_some() {
        return None;
    }
    let picture = super::runs::end_of_run(report.run_dir.as_deref()?)?;
    // What matters at the end of a run: problems and advice, and how a GPU
    // run used its GPUs (with its picture); how a run without GPU readings
    // used the host's CPU and memory is left to `rpd runs show`.
    let has_gpu = picture
        .telemetry
        .metrics
        .as_ref()
        .is_some_and(|m| m.has_gpu());
    let shown: Vec<_> = picture
        .findings
        .iter()
        .filter(|f| has_gpu || f.severity() != crate::telemetry::findings::Severity::Info)
        .cloned()
        .collect();
    out.push_str(&render::run::findings(&shown, "  ", p));
    // The picture is of GPU use; without GPU readings it is still written
    // (`rpd runs show` names it), and not announced.
    if let Some(line) = render::run::svg(&picture.svg).filter(|_| has_gpu) {
        let _ = writeln!(out, "  {line}");
    }
    Some(picture)
}

/// The last lines of a failed job's log, on stderr: the first thing to read.
fn show_log_tail(report: &ApplyReport) {
    let Some(log) = report.run_dir.as_ref().map(|d| d.join("run.log")) else {
        return;
    };
    let Ok(text) = std::fs::read(&log) else {
        return;
    };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(FAILED_LOG_LINES)..];
    if tail.is_empty() {
        return;
    }
    crate::note!(
        "{}: the last {} lines of the log ({}):",
        report.job_name,
        tail.len(),
        log.display()
    );
    for line in tail {
        crate::note!("  | {line}");
    }
}

/// The counts of what apply did to pods; an update in place is said only
/// when there was one, so the usual line stays as it was.
pub fn counts(report: &ApplyReport) -> String {
    let updated = match report.updated {
        0 => String::new(),
        n => format!(" {n} updated in place,"),
    };
    format!(
        "Pods: {} created,{updated} {} resumed, {} destroyed, {} stopped.",
        report.created, report.resumed, report.destroyed, report.stopped
    )
}

/// What the lifecycle did, as the summary says it.
fn lifecycle_words(done: &LifecycleDone) -> String {
    if done.interrupted {
        return match done.carried_out {
            None => "its pod no longer exists".into(),
            Some(crate::model::LifecycleAction::Recycle) => "its pod was stopped and stays this config's pod, paused: the next apply resumes it (an interrupt is no job failure: on_failure was not consulted)".into(),
            Some(_) => "its pod was stopped and kept for forensics: the results are only on its volume (on_failure was not consulted)".into(),
        };
    }
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

/// The summary of one config's apply, into `out`, and its exit status.
fn summarize(
    out: &mut String,
    p: &Palette,
    config: &Config,
    report: &ApplyReport,
    mode: Mode,
) -> ExitStatus {
    let name = &config.name;
    if mode == Mode::Destroy {
        let _ = writeln!(
            out,
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
        // Interrupted while following a job an earlier rpd launched: it
        // runs on, as it was found.
        let (headline, status) = if report.interrupted {
            (
                format!("{name}: stopped following the job; it runs on."),
                ExitStatus::Interrupted,
            )
        } else {
            (
                format!("{name}: job launched and detached."),
                ExitStatus::Success,
            )
        };
        let _ = writeln!(
            out,
            "{} {}\n  The job runs on pod {}; follow it, or collect it once it has ended, with `rpd attach {}` (a plain `rpd apply` does the same), which then carries out the lifecycle.\n  The pod stops itself {deadline}{} after the job ends if no rpd is attached.",
            p.add.apply_to(headline),
            counts(report),
            detached.pod_id,
            config.path.display(),
            crate::model::duration(detached.grace.as_secs()),
        );
        return status;
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
            let _ = writeln!(
                out,
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
            let _ = writeln!(
                out,
                "{} {} Job succeeded{wall}.{run_dir}",
                p.add.apply_to(format!("{name}: apply complete!")),
                counts(report)
            );
            match &report.lifecycle {
                Some(done) if done.carried_out.is_none() => {
                    let _ = writeln!(out, "  {}.", capitalized(&lifecycle_words(done)));
                }
                Some(done) if report.interrupted => {
                    let _ = writeln!(
                        out,
                        "  Interrupted after the job ended: its outcome stands and {}.",
                        lifecycle_words(done)
                    );
                }
                _ => {}
            }
            ExitStatus::Success
        }
        (Some(Outcome::Failure), None) if report.lifecycle.is_some_and(|l| l.interrupted) => {
            let _ = writeln!(
                out,
                "{} {} Job interrupted after{}; {}.{run_dir}",
                p.remove
                    .apply_to(format!("{name}: apply interrupted, the job was ended.")),
                counts(report),
                wall.trim_start_matches(" in"),
                lifecycle.unwrap_or_default()
            );
            ExitStatus::Interrupted
        }
        (Some(Outcome::Failure), None) => {
            let _ = writeln!(
                out,
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
            let _ = writeln!(
                out,
                "{} {}",
                p.add.apply_to(format!("{name}: apply complete!")),
                counts(report)
            );
            ExitStatus::Success
        }
    };
    for warning in &report.warnings {
        let _ = writeln!(out, "  {} {warning}", p.warn.apply_to("Warning:"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::fixtures;

    #[test]
    fn a_pulled_run_with_telemetry_adds_its_findings_and_picture_to_the_summary() {
        let dir = tempfile::tempdir().unwrap();
        let run = fixtures::copied("idle-gpu", dir.path());
        let report = ApplyReport {
            run_dir: Some(run.clone()),
            ..ApplyReport::default()
        };
        let mut out = String::new();
        let picture = run_picture(&mut out, &Palette::new(false), &report).unwrap();
        assert_eq!(
            out,
            format!(
                "  GPU idle 80 % of the run: the job may be CPU- or input-bound.\n  \
                 GPU busy 18 % on average; memory peaked at 4.0/24.0 GB (17 %).\n  \
                 Picture: {}\n",
                run.join("metrics.svg").display()
            )
        );
        assert_eq!(picture.findings.len(), 2);
        assert!(run.join("metrics.svg").is_file());
    }

    #[test]
    fn a_run_without_telemetry_or_a_detached_one_adds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = String::new();
        let without = ApplyReport {
            run_dir: Some(dir.path().to_path_buf()),
            ..ApplyReport::default()
        };
        assert!(run_picture(&mut out, &Palette::new(false), &without).is_none());
        assert!(run_picture(&mut out, &Palette::new(false), &ApplyReport::default()).is_none());
        assert_eq!(out, "");
        assert!(!dir.path().join("metrics.svg").exists());
    }
}
