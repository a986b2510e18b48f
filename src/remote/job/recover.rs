//! A job that a killed apply left on the pod: finished or not, its log and
//! exit status are fetched into that run's own directory before this run's
//! launch replaces them.

use std::path::Path;
use std::time::Duration;

use super::events::JobEvent;
use super::{JobRunner, script};
use crate::remote::transport::exec;

impl JobRunner<'_> {
    /// Pulls the log at `log_path` into `run_dir` (with `exit_status` when
    /// the job had finished), and says how it went.
    pub async fn recover_left_job(&mut self, log_path: &str, run_dir: &Path) {
        match self.fetch_left_job(log_path, run_dir).await {
            Ok(exit_code) => self.events.emit(&JobEvent::LeftJobRecovered {
                run_dir: run_dir.to_path_buf(),
                exit_code,
            }),
            Err(error) => self.events.emit(&JobEvent::LeftJobLost { error }),
        }
    }

    async fn fetch_left_job(&self, log_path: &str, run_dir: &Path) -> Result<Option<i32>, String> {
        std::fs::create_dir_all(run_dir)
            .map_err(|e| format!("cannot create {}: {e}", run_dir.display()))?;
        let log_local = run_dir.join("run.log");
        let log = self.transport.pull(log_path, &log_local, &[], false);
        let (log, ()) = tokio::join!(log, self.pull_left_telemetry(log_path, run_dir));
        log.map_err(|e| e.to_string())?;
        let status = exec(
            self.transport.as_ref(),
            &script::left_exit_status(log_path),
            Duration::from_secs(20),
        )
        .await
        .map_err(|e| e.to_string())?;
        // `<status>`, or `<status> guard <reason>` when the on-pod guard
        // killed it.
        let code = status
            .stdout
            .split_whitespace()
            .next()
            .and_then(|c| c.parse::<i32>().ok());
        if let Some(code) = code {
            std::fs::write(run_dir.join("exit_status"), format!("{code}\n"))
                .map_err(|e| format!("cannot write its exit status: {e}"))?;
        }
        Ok(code)
    }
}
