//! The job, in runpod-deploy's order: setup, secrets, staging, preflight,
//! launch, monitor, pull. Over any [`Transport`](super::Transport), so the
//! same config runs on the simulator and on RunPod.
//!
//! Three parts: [`script`] builds the shell the pod runs (pure text),
//! [`verdict`] decides how the script ended from the watcher's lines and the
//! clock (pure), and the runner ([`JobRunner`]) carries it out, feeding the
//! verdict machine and reporting [`JobEvent`]s into one sink. What the job
//! needs from the layers above (a pod probe, a budget) is passed in.

mod attach;
pub mod events;
pub mod guard;
mod monitor;
mod pull;
mod recover;
mod resume;
mod runner;
pub mod script;
pub mod telemetry;
pub mod verdict;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;

pub use events::{EventSink, EventsJsonl, Fanout, JobEvent, SharedSink};
pub use guard::{DeadlineReason, GuardSettings};
pub use runner::JobRunner;

use super::sync::TransferStats;
use crate::model::Usd;
use crate::retry::PollSchedule;

/// The job's phases, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Setup,
    Secrets,
    Staging,
    Preflight,
    Launch,
    Monitor,
    Pull,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Secrets => "secrets",
            Phase::Staging => "staging",
            Phase::Preflight => "preflight",
            Phase::Launch => "launch",
            Phase::Monitor => "monitor",
            Phase::Pull => "pull",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the job failed, for the summary, the manifest and the exit code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobFailure {
    /// runpod-deploy's manifest calls the phase `step`.
    #[serde(rename = "step")]
    pub phase: Phase,
    pub reason: String,
}

impl JobFailure {
    pub fn new(phase: Phase, reason: impl Into<String>) -> JobFailure {
        JobFailure {
            phase,
            reason: reason.into(),
        }
    }
}

/// How long one step took (the job's phases and apply's pod steps).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct StepTiming {
    pub step: String,
    pub duration_sec: f64,
    pub ok: bool,
}

impl StepTiming {
    pub fn new(step: &str, took: Duration, ok: bool) -> StepTiming {
        StepTiming {
            step: step.to_string(),
            duration_sec: millis(took),
            ok,
        }
    }
}

/// Seconds, rounded to the millisecond.
pub fn millis(took: Duration) -> f64 {
    (took.as_secs_f64() * 1000.0).round() / 1000.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactStatus {
    Success,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArtifactResult {
    pub label: String,
    pub remote_path: String,
    pub local_path: String,
    pub required: bool,
    pub excludes: Vec<String>,
    pub delete: bool,
    pub status: ArtifactStatus,
    pub bytes_transferred: Option<u64>,
    pub duration_sec: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one staging push sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushResult {
    pub label: String,
    pub files: u64,
    pub bytes: u64,
    pub duration_sec: f64,
}

/// What the job did, for the summary and the run manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct JobReport {
    pub timings: Vec<StepTiming>,
    pub transferred: TransferStats,
    pub artifacts: Vec<ArtifactResult>,
    pub pushes: Vec<PushResult>,
    pub launched: bool,
    pub exit_code: Option<i32>,
    /// Since the pod became usable.
    pub wall: Duration,
    /// SSH handshakes made (0 for local processes).
    pub handshakes: u32,
    pub log_pulled: bool,
    pub failure: Option<JobFailure>,
    /// The job was ended because rpd was interrupted (Ctrl-C, SIGTERM,
    /// SIGHUP), not by a verdict: its failure says no more than that.
    pub interrupted: bool,
    /// Why the log or a required artifact could not be saved locally.
    pub results_unsaved: Option<String>,
    pub run_dir: PathBuf,
}

/// What the job may spend: it fails when either limit is reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Counted from the start of the monitor.
    pub time_limit: Duration,
    /// Counted from when the pod became usable, at `price_per_hr`.
    pub cost_cap: Usd,
    /// The pod's billed rate, dollars per hour.
    pub price_per_hr: Usd,
    /// Whether `time_limit` is a max runtime (else it is the cost cap at
    /// the assumed rate), for the words of the on-pod guard.
    pub time_limit_is_max_runtime: bool,
}

impl Budget {
    /// How long the job may still run, counted from `launched`, and why:
    /// the time limit, or the cost cap at the billed rate since `usable`.
    pub fn deadline(&self, usable: Instant, launched: Instant) -> (Duration, DeadlineReason) {
        let by_time = self.time_limit;
        let time_reason = if self.time_limit_is_max_runtime {
            DeadlineReason::MaxRuntime
        } else {
            DeadlineReason::CostCap
        };
        if self.price_per_hr.0 <= 0.0 {
            return (by_time, time_reason);
        }
        let affordable = Duration::from_secs_f64(
            (self.cost_cap.0 / self.price_per_hr.0 * 3600.0).clamp(0.0, 1e12),
        );
        let by_cost = affordable.saturating_sub(launched.saturating_duration_since(usable));
        if by_cost < by_time {
            (by_cost, DeadlineReason::CostCap)
        } else {
            (by_time, time_reason)
        }
    }
}

/// What the provider says about the pod the job runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodCheck {
    /// Running, or not known to be otherwise.
    Alive,
    /// Stopped (EXITED): its volume keeps the job's files, and resuming it
    /// reaches them again. By the on-pod guard or outside rpd: only the pod
    /// can say which.
    Stopped,
    /// Deleted, or in a status it cannot be resumed from: `status` says which.
    Gone { status: String },
}

/// Asks now and then whether the pod still runs, so that a pod stopped or
/// deleted outside rpd fails the job instead of waiting out the budget.
#[async_trait]
pub trait PodProbe: Send + Sync {
    /// The pod asked about, for messages.
    fn pod_id(&self) -> &str;
    /// When to check: the waits between two checks.
    fn schedule(&self) -> PollSchedule;
    async fn check(&self) -> PodCheck;
}

/// The first line of `text`, at most 80 characters.
pub fn first_line(text: &str) -> String {
    truncate(text.lines().next().unwrap_or(""), 80)
}

/// `text` cut to `max` characters, an ellipsis marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests;
