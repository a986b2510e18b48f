//! Bringing the log and the artifacts back. After a failure everything is
//! best effort; on the success path a missing required artifact fails the
//! job.

use std::time::Instant;

use super::events::JobEvent;
use super::{ArtifactResult, ArtifactStatus, JobFailure, JobRunner, Phase, millis};

impl JobRunner<'_> {
    pub(super) async fn pull(&mut self) -> Result<(), JobFailure> {
        let succeeded = self.report.failure.is_none();
        let started = Instant::now();
        let run_dir = self.config.run_dir.clone();
        let _ = std::fs::create_dir_all(&run_dir);
        if self.report.launched {
            match self
                .transport
                .pull(
                    &self.config.job.run.log_path,
                    &run_dir.join("run.log"),
                    &[],
                    false,
                )
                .await
            {
                Ok(stats) => {
                    self.report.transferred += stats;
                    self.report.log_pulled = true;
                }
                Err(err) => self.events.emit(&JobEvent::LogPullFailed {
                    error: err.to_string(),
                }),
            }
        }
        let mut failure = None;
        for artifact in &self.config.job.artifacts {
            let t = Instant::now();
            self.events.emit(&JobEvent::ArtifactPullStarted {
                label: artifact.label.clone(),
            });
            let local = artifact.local_path.clone();
            if let Some(parent) = local.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let result = self
                .transport
                .pull(
                    &artifact.remote_path,
                    &local,
                    &artifact.excludes,
                    artifact.delete,
                )
                .await;
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
                Err(err) => {
                    let fails_job = artifact.required && succeeded && failure.is_none();
                    self.events.emit(&JobEvent::ArtifactPullFailed {
                        label: artifact.label.clone(),
                        error: err.to_string(),
                        fails_job,
                    });
                    if fails_job {
                        failure = Some(JobFailure::new(
                            Phase::Pull,
                            format!(
                                "required artifact {:?} could not be pulled: {err}",
                                artifact.label
                            ),
                        ));
                    }
                    (ArtifactStatus::Failed, None, Some(err.to_string()))
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
