//! Telemetry taken on the pod (issue 14): a POSIX sh sampler (`sampler.sh`,
//! shipped inside rpd) that the launch wrapper starts beside the job and the
//! guard. It appends one JSON line of GPU and host metrics per interval to
//! a directory beside the log and takes the pod-side captures (nvidia-smi,
//! the remote environment, pip freeze, the dmesg tail), so that no sample
//! costs an SSH round trip and a dropped connection loses nothing. rpd
//! pulls the directory into the run directory with the log, under the
//! file names runpod-deploy uses. Here: the text that starts and ends it
//! (pure), and the pull.

use std::path::Path;
use std::time::Duration;

use super::JobRunner;
use super::events::JobEvent;
use super::script::{Companion, RunFiles, sidecar};
use crate::config::Telemetry;
use crate::remote::shell_quote;
use crate::remote::sync::TransferStats;

/// The sampler itself, written beside the log as `<log>.rpd-sampler`.
pub const SCRIPT: &str = include_str!("sampler.sh");

/// Overrides `telemetry.sample_interval_sec` (which is at least 5 s) so
/// that tests and a curious user can sample faster.
pub const INTERVAL_ENV: &str = "RPD_SAMPLE_INTERVAL_MS";

/// Where the sampler notes the captures it could not take, inside the
/// telemetry directory; rpd reads it after the pull and removes it.
const WARNINGS: &str = ".warnings";

/// What the sampler of one launch does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplerLaunch {
    pub interval: Duration,
    /// The volume mount, whose disk use is sampled.
    pub disk: String,
    /// The pod-side captures asked for, by the sampler's names.
    pub captures: Vec<&'static str>,
}

impl SamplerLaunch {
    /// The sampler `telemetry` asks for (`None` when telemetry is off);
    /// `interval_override` is [`INTERVAL_ENV`]'s value.
    pub fn new(
        telemetry: &Telemetry,
        mount: &str,
        interval_override: Option<Duration>,
    ) -> Option<SamplerLaunch> {
        if !telemetry.enabled {
            return None;
        }
        let captures = [
            ("nvidia_smi", telemetry.capture_nvidia_smi),
            ("remote_env", telemetry.capture_remote_env),
            ("dmesg", telemetry.capture_dmesg),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name)
        .collect();
        Some(SamplerLaunch {
            interval: interval_override.unwrap_or(Duration::from_secs(u64::from(
                telemetry.sample_interval_sec,
            ))),
            disk: mount.to_string(),
            captures,
        })
    }

    fn captures_arg(&self) -> String {
        if self.captures.is_empty() {
            "-".into()
        } else {
            self.captures.join(",")
        }
    }
}

/// [`INTERVAL_ENV`], when set (`env::check` has refused a value that is not
/// a positive number of milliseconds).
pub fn interval_override() -> Option<Duration> {
    crate::env::get(INTERVAL_ENV)
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

pub fn sampler_path(files: &RunFiles) -> String {
    sidecar(&files.log, "sampler")
}

/// The directory the sampler writes: `metrics.jsonl` and the captures,
/// named as they are in the run directory.
pub fn dir(log_path: &str) -> String {
    sidecar(log_path, "telemetry")
}

/// The sampler in the wrapper: started in a process group of its own
/// (stopping the job does not stop it mid-line); once the script has
/// exited it is ended and the end captures are taken, before the exit
/// status is recorded (rpd pulls once it sees that).
pub fn companion(files: &RunFiles, launch: &SamplerLaunch) -> Companion {
    let sampler = shell_quote(&sampler_path(files));
    let captures = launch.captures_arg();
    Companion {
        name: "the telemetry sampler",
        start: format!(
            "nohup sh {sampler} $$ {interval} {disk} {captures} > /dev/null 2>&1 < /dev/null &\nsampler=$!\n",
            interval = launch.interval.as_millis().max(1),
            disk = shell_quote(&launch.disk),
        ),
        after_job: format!(
            "kill $sampler 2>/dev/null\nsh {sampler} --end {captures} {disk} > /dev/null 2>&1 < /dev/null\n",
            disk = shell_quote(&launch.disk),
        ),
    }
}

/// Before a launch: a sampler an older run left is ended, and its files go
/// (with or without telemetry now, so that no old sample is pulled).
pub fn before_start(files: &RunFiles) -> String {
    let sampler = shell_quote(&sampler_path(files));
    format!(
        "s=$(cat {sampler}.pid 2>/dev/null || true)\n\
         if [ -n \"$s\" ] && grep -q rpd-sampler /proc/$s/cmdline 2>/dev/null; then kill $s 2>/dev/null || true; fi\n\
         rm -rf {dir} {sampler}.pid {sampler}.starting {sampler}.started {sampler}.ended\n",
        dir = shell_quote(&dir(&files.log)),
    )
}

/// A capture the sampler could not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureWarning {
    /// The file it would have written.
    pub file: String,
    pub reason: String,
    /// The pod has no such tool or may not use it (no GPU, no dmesg
    /// access in a container): expected, not a fault.
    pub unavailable: bool,
}

/// The sampler's warnings file: `<unavailable|failed> TAB <file> TAB <why>`
/// per line; anything else is skipped.
pub fn parse_warnings(text: &str) -> Vec<CaptureWarning> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let kind = parts.next()?;
            let file = parts.next()?.trim();
            let reason = parts.next().unwrap_or("").trim();
            let unavailable = match kind {
                "unavailable" => true,
                "failed" => false,
                _ => return None,
            };
            (!file.is_empty()).then(|| CaptureWarning {
                file: file.to_string(),
                reason: reason.to_string(),
                unavailable,
            })
        })
        .collect()
}

impl JobRunner<'_> {
    /// The sampler this runner launches with the job, if any.
    pub(super) fn sampler(&self) -> Option<SamplerLaunch> {
        SamplerLaunch::new(
            &self.config.telemetry,
            self.config.pod.storage.mount(),
            interval_override(),
        )
    }

    /// Pulls the telemetry directory into `run_dir` and reports each
    /// capture the sampler could not take. Best effort: a failure is a
    /// warning, never the job's.
    /// The telemetry directory beside the log, into `run_dir`; `Err` when
    /// it could not be pulled (see [`JobRunner::telemetry_unpulled`]).
    pub(super) async fn pull_telemetry(
        &self,
        run_dir: &Path,
    ) -> Option<Result<TransferStats, String>> {
        self.sampler()?;
        let remote = format!("{}/", dir(&self.config.job.run.log_path));
        let pulled = self.transport.pull(&remote, run_dir, &[], false).await;
        let stats = match pulled {
            Ok(stats) => stats,
            Err(err) => return Some(Err(err.to_string())),
        };
        let warnings = run_dir.join(WARNINGS);
        if let Ok(text) = std::fs::read_to_string(&warnings) {
            for warning in parse_warnings(&text) {
                self.events.emit(&JobEvent::TelemetryWarning {
                    file: warning.file,
                    reason: warning.reason,
                    unavailable: warning.unavailable,
                });
            }
            let _ = std::fs::remove_file(&warnings);
        }
        Some(Ok(stats))
    }

    /// Says that the telemetry could not be pulled.
    pub(super) fn telemetry_unpulled(&self, err: &str) {
        self.events.emit(&JobEvent::TelemetryWarning {
            file: "metrics.jsonl".into(),
            reason: format!("the telemetry could not be pulled: {err}"),
            unavailable: false,
        });
    }

    /// The telemetry of a job a killed apply left, into its run directory
    /// beside its log; there may be none (telemetry off then).
    pub(super) async fn pull_left_telemetry(&self, log_path: &str, run_dir: &Path) {
        let remote = format!("{}/", dir(log_path));
        let excludes = [WARNINGS.to_string()];
        let _ = self
            .transport
            .pull(&remote, run_dir, &excludes, false)
            .await;
    }
}

#[cfg(test)]
mod tests;
