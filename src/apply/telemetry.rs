//! The pod as the provider describes it at the job's start and end
//! (`pod_describe_start.json`, `pod_describe_end.json` in the run
//! directory, runpod-deploy's captures): taken by rpd, which holds the
//! provider, in a task beside the job so that no run waits for it. A
//! failure is a warning event, never the job's.

use std::path::{Path, PathBuf};

use tokio::task::JoinHandle;

use super::Executor;
use crate::remote::job::JobEvent;

pub(super) const DESCRIBE_START: &str = "pod_describe_start.json";
pub(super) const DESCRIBE_END: &str = "pod_describe_end.json";

impl Executor<'_> {
    /// Starts describing the current pod into the run directory's `name`,
    /// when the config captures it.
    pub(super) fn describe_pod(&self, name: &'static str) -> Option<JoinHandle<()>> {
        let telemetry = &self.config.telemetry;
        if !telemetry.enabled || !telemetry.capture_pod_describe {
            return None;
        }
        let pod_id = self.current_id()?;
        let run_dir: PathBuf = self
            .runner
            .as_ref()
            .map_or_else(|| self.config.run_dir.clone(), |r| r.run_dir());
        let provider = self.provider.clone();
        let events = self.events.clone();
        Some(tokio::spawn(async move {
            let written = match provider.describe(&pod_id).await {
                Ok(Some(pod)) => write_json(&run_dir, name, &pod),
                Ok(None) => Err(format!("the provider has no pod {pod_id}")),
                Err(err) => Err(format!("could not read pod {pod_id}: {err}")),
            };
            if let Err(reason) = written {
                events.emit(&JobEvent::TelemetryWarning {
                    file: name.to_string(),
                    reason,
                    unavailable: false,
                });
            }
        }))
    }

    /// Waits for the start description (taken while the job ran) and the
    /// end one, so that both are in the run directory before the manifest.
    pub(super) async fn finish_descriptions(&mut self, end: Option<JoinHandle<()>>) {
        for task in [self.describe_start.take(), end].into_iter().flatten() {
            let _ = task.await;
        }
    }
}

/// An attach collects the job into a run directory of its own: the pod's
/// description that the launching rpd took goes there too, with the log.
pub(super) fn carry_start_description(launch_run_dir: &Path, run_dir: &Path) {
    let from = launch_run_dir.join(DESCRIBE_START);
    let to = run_dir.join(DESCRIBE_START);
    if from.is_file() && !to.exists() && std::fs::create_dir_all(run_dir).is_ok() {
        let _ = std::fs::copy(from, to);
    }
}

fn write_json(run_dir: &Path, name: &str, value: &serde_json::Value) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot write {}: {e}", run_dir.join(name).display());
    std::fs::create_dir_all(run_dir).map_err(cannot)?;
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
    text.push(b'\n');
    std::fs::write(run_dir.join(name), text).map_err(cannot)
}
