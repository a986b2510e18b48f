//! Bringing the log and the artifacts back. After a failure everything is
//! best effort; on the success path a required artifact missing on the pod
//! fails the job. The log or a required artifact that cannot be saved HERE
//! (a folder that cannot be written) is recorded apart: the job may have
//! succeeded, but its results are then only on the pod.

use std::path::Path;
use std::time::Instant;

use super::events::JobEvent;
use super::{ArtifactResult, ArtifactStatus, JobFailure, JobRunner, Phase, PodCheck, millis};

/// Creates `dir` and checks that a file can be written in it. The probe's
/// name is this check's own: two runs (of one rpd or two) that check one
/// folder never delete each other's.
fn writable_dir(dir: &Path) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot write to {}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(cannot)?;
    let probe = dir.join(format!(
        ".rpd-write-check-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&probe, b"").map_err(cannot)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

impl JobRunner<'_> {
    pub(super) async fn pull(&mut self) -> Result<(), JobFailure> {
        let succeeded = self.report.failure.is_none();
        let started = Instant::now();
        let run_dir = self.config.run_dir.clone();
        let mut unsaved: Vec<String> = Vec::new();
        let run_dir_ok = writable_dir(&run_dir);
        if self.report.launched {
            match &run_dir_ok {
                Err(err) => {
                    self.events
                        .emit(&JobEvent::LogPullFailed { error: err.clone() });
                    unsaved.push(format!("the log could not be saved ({err})"));
                }
                Ok(()) => {
                    // The telemetry comes with the log, side by side: no
                    // time added to the run.
                    let log_local = run_dir.join("run.log");
                    let log =
                        self.transport
                            .pull(&self.config.job.run.log_path, &log_local, &[], false);
                    let (log, telemetry) = tokio::join!(log, self.pull_telemetry(&run_dir));
                    // A pod stopped since the job ended (the on-pod guard,
                    // while this rpd slept) has the results on its volume:
                    // the executor resumes it and the pull starts again.
                    if log.is_err()
                        && let Some(probe) = &self.probe
                        && probe.check().await == PodCheck::Stopped
                    {
                        self.pod_stopped = true;
                        return Ok(());
                    }
                    if let Some(Err(err)) = &telemetry {
                        self.telemetry_unpulled(err);
                    }
                    match log {
                        Ok(stats) => {
                            self.report.transferred += stats;
                            self.report.log_pulled = true;
                        }
                        Err(err) => self.events.emit(&JobEvent::LogPullFailed {
                            error: err.to_string(),
                        }),
                    }
                }
            }
        }
        let mut failure = None;
        for artifact in &self.config.job.artifacts {
            let t = Instant::now();
            self.events.emit(&JobEvent::ArtifactPullStarted {
                label: artifact.label.clone(),
            });
            let local = artifact.local_path.clone();
            // A directory pull (`dir/`) lands in local_path; a file in its parent.
            let destination = if artifact.remote_path.ends_with('/') {
                local.as_path()
            } else {
                local.parent().unwrap_or(Path::new("/"))
            };
            let result = match writable_dir(destination) {
                Err(err) => Err((err, true)),
                Ok(()) => self
                    .transport
                    .pull(
                        &artifact.remote_path,
                        &local,
                        &artifact.excludes,
                        artifact.delete,
                    )
                    .await
                    .map_err(|err| (err.to_string(), false)),
            };
            let local_path = local.display().to_string();
            let (status, bytes, error) = match result {
                Ok(stats) => {
                    self.report.transferred += stats;
                    self.events.emit(&JobEvent::ArtifactPullCompleted {
                        label: artifact.label.clone(),
                        local_path: local_path.clone(),
                        bytes: stats.bytes,
                    });
                    (ArtifactStatus::Success, Some(stats.bytes), None)
                }
                Err((err, here)) => {
                    // Not saved here: the artifact is still on the pod.
                    let saved_nowhere = here && artifact.required;
                    let fails_job =
                        artifact.required && succeeded && failure.is_none() && !saved_nowhere;
                    self.events.emit(&JobEvent::ArtifactPullFailed {
                        label: artifact.label.clone(),
                        error: err.clone(),
                        fails_job,
                    });
                    if saved_nowhere {
                        unsaved.push(format!(
                            "required artifact {:?} could not be saved ({err})",
                            artifact.label
                        ));
                    }
                    if fails_job {
                        failure = Some(JobFailure::new(
                            Phase::Pull,
                            format!(
                                "required artifact {:?} could not be pulled: {err}",
                                artifact.label
                            ),
                        ));
                    }
                    (ArtifactStatus::Failed, None, Some(err))
                }
            };
            self.report.artifacts.push(ArtifactResult {
                label: artifact.label.clone(),
                remote_path: artifact.remote_path.clone(),
                local_path,
                required: artifact.required,
                excludes: artifact.excludes.clone(),
                delete: artifact.delete,
                status,
                bytes_transferred: bytes,
                duration_sec: millis(t.elapsed()),
                error,
            });
        }
        if !unsaved.is_empty() {
            self.report.results_unsaved = Some(unsaved.join("; "));
        }
        self.record(Phase::Pull, started, failure.is_none());
        self.events.emit(&JobEvent::PullFinished {
            log_into: self.report.log_pulled.then_some(run_dir),
        });
        match failure {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
}
