//! Following the script: runs the watcher over the transport, feeds what
//! it prints and a once-a-second clock to the verdict machine, asks the pod
//! probe now and then, and stops the script when the verdict is not its
//! own exit.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use super::events::JobEvent;
use super::script;
use super::verdict::{Decision, Rules, Verdict, VerdictMachine};
use super::{JobFailure, JobRunner, Phase, PodCheck};
use crate::interrupt::Interrupt;
use crate::remote::transport::exec;

/// How long after a marker the script may go on before the marker decides
/// (`RPD_MARKER_GRACE_SECS`, 30 s by default).
fn marker_grace() -> Duration {
    let secs = std::env::var("RPD_MARKER_GRACE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

impl JobRunner<'_> {
    /// Follows the job until it exits, prints a failure marker, runs out of
    /// time or money, its pod goes away, or the user interrupts.
    pub(super) async fn monitor(&mut self, interrupt: &Interrupt) -> Result<(), JobFailure> {
        let started = Instant::now();
        self.events.emit(&JobEvent::MonitorStarted);
        let run = &self.config.job.run;
        let mut verdicts = VerdictMachine::new(
            Rules {
                token: self.token.clone(),
                success_marker: run.success_marker.clone(),
                failure_markers: run.failure_markers.clone(),
                grace: marker_grace(),
                budget: self.budget,
            },
            self.started,
            started,
        );
        let watcher = script::watcher(&self.files, &self.token, run);
        let probe_every = self.probe.as_ref().map(|p| p.interval());
        let mut last_probe = Instant::now();
        let mut restarts = 0;
        let ended: Result<Verdict, JobFailure> = 'outer: loop {
            let mut command = self.transport.command(&watcher);
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true);
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) => {
                    break Err(self.pod_gone().await.unwrap_or_else(|| {
                        JobFailure::new(Phase::Monitor, format!("cannot follow the log: {e}"))
                    }));
                }
            };
            let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
            let mut heartbeat = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    line = lines.next_line() => match line {
                        Ok(Some(line)) => {
                            for decision in verdicts.line(&line, Instant::now()) {
                                if let Some(verdict) = self.take(decision) {
                                    break 'outer Ok(verdict);
                                }
                            }
                        }
                        Ok(None) | Err(_) => {
                            // The watcher's connection dropped: follow again,
                            // unless the pod itself is gone.
                            if let Some(failure) = self.pod_gone().await {
                                break 'outer Err(failure);
                            }
                            restarts += 1;
                            if restarts > 5 {
                                break 'outer Err(JobFailure::new(Phase::Monitor, "lost contact with the pod while following the log"));
                            }
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue 'outer;
                        }
                    },
                    _ = heartbeat.tick() => {
                        let now = Instant::now();
                        self.events.emit(&JobEvent::MonitorTick {
                            spent: verdicts.spent(now),
                            last_line: verdicts.last_line().to_string(),
                        });
                        if probe_every.is_some_and(|every| last_probe.elapsed() >= every) {
                            last_probe = Instant::now();
                            if let Some(failure) = self.pod_gone().await {
                                break 'outer Err(failure);
                            }
                        }
                        if let Some(verdict) = verdicts.tick(Instant::now()) {
                            break 'outer Ok(verdict);
                        }
                    }
                    _ = interrupt.wait() => {
                        break 'outer Err(JobFailure::new(Phase::Monitor, "interrupted"));
                    }
                }
            }
        };
        let result = match ended {
            Ok(Verdict::Success { ambiguous }) => {
                if let Some(note) = ambiguous {
                    self.events.emit(&JobEvent::AmbiguousMarkers { note });
                }
                Ok(())
            }
            Ok(Verdict::StillRunningAfterSuccess { grace }) => {
                self.events
                    .emit(&JobEvent::StillRunningAfterSuccess { grace });
                Ok(())
            }
            Ok(Verdict::Failure(failure)) => Err(JobFailure::new(Phase::Monitor, failure.reason())),
            Err(failure) => Err(failure),
        };
        // A script that has not exited is stopped: it would otherwise run
        // on, into the next run's log or past the budget.
        if result.is_err() && self.report.exit_code.is_none() {
            self.kill_job().await;
        }
        self.events.emit(&JobEvent::JobFinished {
            exit_code: self.report.exit_code,
            failure: result.as_ref().err().map(|f| f.reason.clone()),
            took: started.elapsed(),
        });
        self.record(Phase::Monitor, started, result.is_ok());
        result
    }

    /// Reports what the verdict machine saw; the verdict, once there is one.
    fn take(&mut self, decision: Decision) -> Option<Verdict> {
        let event = match decision {
            Decision::Verdict(verdict) => return Some(verdict),
            Decision::ExitReported(code) => {
                self.report.exit_code = Some(code);
                return None;
            }
            Decision::SuccessMarkerSeen => JobEvent::SuccessMarkerSeen,
            Decision::FailureMarkerSeen {
                marker,
                line,
                grace,
            } => JobEvent::FailureMarkerSeen {
                marker,
                line,
                grace,
            },
            Decision::ScriptStepStarted(step) => JobEvent::ScriptStepStarted { step },
            Decision::ScriptStepCompleted(step) => JobEvent::ScriptStepCompleted { step },
        };
        self.events.emit(&event);
        None
    }

    async fn kill_job(&self) {
        let _ = exec(
            self.transport.as_ref(),
            &script::kill(&self.files),
            Duration::from_secs(20),
        )
        .await;
    }

    /// A failure when the probe says the pod stopped or vanished.
    async fn pod_gone(&self) -> Option<JobFailure> {
        let probe = self.probe.as_ref()?;
        let PodCheck::Gone { status } = probe.check().await else {
            return None;
        };
        let pod_id = probe.pod_id().to_string();
        let reason =
            format!("pod {pod_id} is {status} while the job ran (stopped or deleted outside rpd?)");
        self.events
            .emit(&JobEvent::PodKilledUnexpected { pod_id, status });
        Some(JobFailure::new(Phase::Monitor, reason))
    }
}
