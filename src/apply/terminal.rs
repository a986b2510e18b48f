//! The run's events as progress lines on stderr (and spinners on a
//! terminal): the terminal's subscriber to the one event sink.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::model::{duration, elapsed};
use crate::progress::{Reporter, Waiter};
use crate::remote::job::{EventSink, JobEvent, Phase, first_line, truncate};

pub struct TerminalEvents {
    reporter: Reporter,
    /// The wait on screen, if any.
    wait: Mutex<Option<Waiter>>,
    /// Artifacts pulled so far (label, where, bytes): listed once the pull ends.
    pulled: Mutex<Vec<(String, String, u64)>>,
}

impl TerminalEvents {
    pub fn new(reporter: Reporter) -> TerminalEvents {
        TerminalEvents {
            reporter,
            wait: Mutex::new(None),
            pulled: Mutex::new(Vec::new()),
        }
    }

    fn line(&self, message: impl AsRef<str>) {
        self.reporter.line(message);
    }

    fn open(&self, what: &str) {
        let waiter = self.reporter.wait(what);
        if let Ok(mut wait) = self.wait.lock() {
            *wait = Some(waiter);
        }
    }

    fn take(&self) -> Option<Waiter> {
        self.wait.lock().ok().and_then(|mut w| w.take())
    }

    fn done(&self, message: &str, suffix: &str) {
        if let Some(waiter) = self.take() {
            waiter.done(message, suffix);
        }
    }

    /// Ends the wait on screen without a line (a failure line follows).
    fn abandon(&self) {
        if let Some(waiter) = self.take() {
            waiter.abandon();
        }
    }

    fn tick(&self, detail: &str) {
        if let Ok(mut wait) = self.wait.lock()
            && let Some(waiter) = wait.as_mut()
        {
            waiter.tick(detail);
        }
    }

    fn pulled(&self, log_into: Option<&PathBuf>) {
        if let Some(dir) = log_into {
            self.line(format!("Pulled the log into {}", dir.display()));
        }
        let pulled = self
            .pulled
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        for (label, local_path, bytes) in pulled {
            self.line(format!(
                "Pulled artifact {label:?} into {local_path} [{bytes} bytes]"
            ));
        }
    }
}

impl EventSink for TerminalEvents {
    fn emit(&self, event: &JobEvent) {
        use JobEvent::*;
        match event {
            CloudTypeFallback { to, .. } => self.line(format!(
                "Created on the fallback cloud {to} (--fallback-cloud-type)"
            )),
            ResumeFailed { pod_id, error } => self.line(format!("Cannot resume {pod_id}: {error}")),
            CommandEnded { phase } => {
                self.line(format!("Ended the interrupted {phase} command on the pod"))
            }
            LeftJobRecovered { run_dir, exit_code } => {
                let how = match exit_code {
                    Some(code) => format!("it exited with status {code}"),
                    None => "it had not finished: it is stopped before the new job".into(),
                };
                self.line(format!(
                    "Pulled the log of the job an interrupted apply left into {} ({how})",
                    run_dir.display()
                ))
            }
            // A tool the pod lacks (no GPU on the simulator, no dmesg in
            // a container) is in events.jsonl only: expected, not news.
            TelemetryWarning {
                file,
                reason,
                unavailable: false,
            } => self.line(format!("Warning: telemetry: no {file}: {reason}")),
            TelemetryWarning {
                unavailable: true, ..
            } => {}
            LeftJobLost { error } => self.line(format!(
                "Warning: could not pull the log of the job an interrupted apply left: {error}"
            )),
            CommandStarted { label, command, .. } => {
                self.open(&format!("Running {label}: {}", first_line(command)))
            }
            CommandSucceeded { label, .. } => self.done(&format!("{label} done"), ""),
            CommandFailed { .. } | StagingFailed { .. } => self.abandon(),
            SecretWritten {
                name,
                destination,
                mode,
            } => self.line(format!(
                "Secret {name:?} written to {destination} (mode {mode:04o})"
            )),
            StagingStarted {
                label,
                source,
                destination,
            } => self.open(&format!("Staging {label:?}: {source} -> {destination}")),
            Staged {
                label,
                files,
                bytes,
            } => self.done(
                &format!("Staged {label:?}"),
                &format!(" [{files} files, {bytes} bytes]"),
            ),
            Launched { script_path } => self.line(format!("Launched {script_path}")),
            ResumingToCollect { pod_id } => {
                self.abandon();
                self.line(format!(
                    "Pod {pod_id} was stopped before the job's results were collected; resuming it to read them from its volume"
                ))
            }
            PodStopFound {
                pod_id,
                by_guard,
                ended,
            } => self.line(match (by_guard, ended) {
                (Some(reason), _) => {
                    format!("The on-pod guard had stopped pod {pod_id}: {reason}; collecting the job")
                }
                (None, true) => format!(
                    "Pod {pod_id} was stopped outside rpd after the job ended; collecting the job"
                ),
                (None, false) => format!(
                    "Pod {pod_id} was stopped while the job ran, not by the on-pod guard (stopped outside rpd?); collecting what there is"
                ),
            }),
            Attached {
                launched_at,
                running,
            } => self.line(format!(
                "Attached to the job launched at {}: {}",
                launched_at.format("%Y-%m-%d %H:%M:%S UTC"),
                if *running {
                    "it is still running; following its log"
                } else {
                    "it has ended; collecting its results"
                }
            )),
            MonitorStarted => self.open("Running the job"),
            MonitorTick { spent, last_line } => {
                let last = if last_line.is_empty() {
                    String::new()
                } else {
                    format!(" | {}", truncate(last_line, 60))
                };
                self.tick(&format!("{spent} so far{last}"));
            }
            SuccessMarkerSeen => self.line("Success marker seen; waiting for the script to exit"),
            FailureMarkerSeen {
                marker,
                line,
                grace,
            } => self.line(format!(
                "Failure marker {marker:?} seen: {}; the job fails unless the script exits 0 with the success marker within {}",
                truncate(line.trim(), 80),
                duration(grace.as_secs())
            )),
            StillRunningAfterSuccess { grace } => self.line(format!(
                "The script printed the success marker {} ago and is still running: counted as a success (runpod-deploy's rule); it runs on until the lifecycle action",
                duration(grace.as_secs())
            )),
            AmbiguousMarkers { note } => self.line(format!("Note: {note}")),
            JobFinished {
                failure: None, ..
            } => self.done("Job succeeded", ""),
            JobFinished {
                failure: Some(reason),
                took,
                ..
            } => {
                self.abandon();
                self.line(format!(
                    "Job failed after {}: {}",
                    elapsed(*took),
                    first_line(reason)
                ));
            }
            LogPullFailed { error } => {
                self.line(format!("Warning: could not pull the log: {error}"))
            }
            ArtifactPullCompleted {
                label,
                local_path,
                bytes,
            } => {
                if let Ok(mut pulled) = self.pulled.lock() {
                    pulled.push((label.clone(), local_path.clone(), *bytes));
                }
            }
            ArtifactPullFailed {
                label,
                error,
                fails_job: false,
            } => self.line(format!("Warning: artifact {label:?} not pulled: {error}")),
            PullFinished { log_into } => self.pulled(log_into.as_ref()),
            PhaseFailed { phase, reason } => {
                // A phase abandoned by an interrupt leaves its wait open.
                self.abandon();
                match phase {
                    // The monitor said why when the job finished.
                    Phase::Monitor => {}
                    Phase::Pull => self.line(format!("Job failed: {reason}")),
                    _ => self.line(format!("{phase} failed: {reason}")),
                }
            }
            GpuSelected { .. }
            | GuardStarted { .. }
            | PodResumed { .. }
            | ScriptStepStarted { .. }
            | ScriptStepCompleted { .. }
            | PodKilledUnexpected { .. }
            | ArtifactPullStarted { .. }
            | ArtifactPullFailed {
                fails_job: true, ..
            }
            | StepStarted { .. }
            | StepDone { .. }
            | StepFailed { .. }
            | StepSkipped { .. } => {}
        }
    }
}
