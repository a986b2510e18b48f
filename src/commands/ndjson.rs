//! `apply --json`: the run as JSON lines (NDJSON) on stdout, one object per
//! event, `{"type", "ts", "config"?, ...}`: `version` first, then per
//! config `planned_change` (its JSON plan), `step_started` / `step_done` /
//! `step_failed` for every step of the plan, the job's own events
//! (`job_started`, `job_progress`, `job_step_started`, `job_step_done`,
//! `job_completed`, `job_failed`, `artifact_pulled`, `resume_failed`),
//! `apply_complete` or `apply_errored`, and a last `summary`. Human
//! progress stays on stderr. A subscriber to the job's event sink.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::runs::{RunPicture, findings_json};
use crate::apply::ApplyReport;
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::plan::Plan;
use crate::remote::job::{EventSink, JobEvent};
use crate::render::{json as plan_json, words};

/// The version of the event stream; readers reject an unknown major.
pub const FORMAT_VERSION: &str = "1.0";

/// The stream on stdout; lines from parallel configs never interleave.
#[derive(Clone)]
pub struct Stream {
    lock: Arc<Mutex<()>>,
}

impl Stream {
    /// Starts the stream with its `version` line.
    pub fn new() -> Stream {
        let stream = Stream {
            lock: Arc::new(Mutex::new(())),
        };
        stream.line(
            "version",
            None,
            json!({"format_version": FORMAT_VERSION, "rpd_version": env!("CARGO_PKG_VERSION")}),
        );
        stream
    }

    fn line(&self, kind: &str, config: Option<&str>, fields: Value) {
        let mut record = serde_json::Map::new();
        record.insert("type".into(), kind.into());
        record.insert(
            "ts".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        if let Some(config) = config {
            record.insert("config".into(), config.into());
        }
        if let Value::Object(fields) = fields {
            record.extend(fields);
        }
        let _guard = self.lock.lock();
        crate::say!("{}", Value::Object(record));
    }

    /// The plan a config will carry out.
    pub fn planned(&self, shown: &str, plan: &Plan) {
        let doc = plan_json::config_plan(plan, shown);
        self.line(
            "planned_change",
            Some(shown),
            json!({"plan": serde_json::to_value(doc).expect("plans serialize")}),
        );
    }

    /// A config that could not be planned or applied before its steps ran.
    pub fn errored(&self, shown: &str, error: &str) {
        self.line("apply_errored", Some(shown), json!({"error": error}));
    }

    /// The subscriber for one config's run.
    pub fn for_config(&self, config: &Config, plan: &Plan) -> ConfigEvents {
        ConfigEvents {
            stream: self.clone(),
            config: config.path.display().to_string(),
            steps: plan
                .steps()
                .iter()
                .map(|s| words::step(&s.kind, &plan.job_name))
                .collect(),
        }
    }

    /// How one config's apply ended.
    pub fn applied(
        &self,
        config: &Config,
        report: &ApplyReport,
        status: ExitStatus,
        error: Option<&str>,
        picture: Option<&RunPicture>,
    ) {
        let outcome = match status {
            ExitStatus::Success | ExitStatus::Changes => "success",
            ExitStatus::JobFailed => "job_failed",
            ExitStatus::Error => "error",
            ExitStatus::Interrupted => "interrupted",
        };
        let kind = if error.is_some() {
            "apply_errored"
        } else {
            "apply_complete"
        };
        self.line(
            kind,
            Some(&config.path.display().to_string()),
            json!({
                "outcome": outcome,
                "exit_code": status.code(),
                "pod_id": report.pod_id,
                "pods": {
                    "created": report.created,
                    "updated": report.updated,
                    "resumed": report.resumed,
                    "destroyed": report.destroyed,
                    "stopped": report.stopped,
                },
                "job": report.outcome.map(|o| o.as_str()),
                "failure": report.failure.as_ref().map(|f| json!({"phase": f.phase, "reason": f.reason})),
                "lifecycle": report.lifecycle.map(|l| json!({
                    "outcome": l.outcome.as_str(),
                    "planned": l.planned.as_str(),
                    "carried_out": l.carried_out.map(|a| a.as_str()),
                })),
                "run_dir": report.run_dir,
                "findings": picture.map(|p| findings_json(&p.findings)).unwrap_or_default(),
                "metrics_svg": picture.and_then(|p| p.svg.path()),
                "warnings": report.warnings,
                "error": error,
            }),
        );
    }

    /// The last line: every config's outcome together.
    pub fn summary(&self, configs: usize, status: ExitStatus) {
        self.line(
            "summary",
            None,
            json!({"configs": configs, "exit_code": status.code()}),
        );
    }
}

/// One config's events, with its steps' descriptions.
pub struct ConfigEvents {
    stream: Stream,
    config: String,
    steps: Vec<String>,
}

impl ConfigEvents {
    fn step(&self, n: usize) -> &str {
        self.steps.get(n - 1).map_or("", String::as_str)
    }
}

impl EventSink for ConfigEvents {
    fn emit(&self, event: &JobEvent) {
        use JobEvent::*;
        let (kind, fields) = match event {
            StepStarted { n, op } => (
                "step_started",
                json!({"n": n, "op": op, "description": self.step(*n)}),
            ),
            StepDone { n, op, took } => (
                "step_done",
                json!({"n": n, "op": op, "description": self.step(*n), "took_sec": took.as_secs_f64()}),
            ),
            StepSkipped { n, op, outcome } => (
                "step_skipped",
                json!({"n": n, "op": op, "description": self.step(*n), "job_outcome": outcome}),
            ),
            StepFailed { n, op, error } => (
                "step_failed",
                json!({"n": n, "op": op, "description": self.step(*n), "error": error}),
            ),
            GpuSelected {
                gpu_id,
                datacenter_id,
            } => (
                "pod_placed",
                json!({"gpu_id": gpu_id, "datacenter_id": datacenter_id}),
            ),
            ResumeFailed { pod_id, error } => {
                ("resume_failed", json!({"pod_id": pod_id, "error": error}))
            }
            Launched { script_path } => ("job_started", json!({"script_path": script_path})),
            Attached { .. }
            | GuardStarted { .. }
            | ResumingToCollect { .. }
            | PodStopFound { .. } => match event.outliving_record() {
                Some(record) => record,
                None => return,
            },
            MonitorTick { spent, last_line } => (
                "job_progress",
                json!({"spent_usd": spent.0, "last_line": last_line}),
            ),
            ScriptStepStarted { step } => ("job_step_started", json!({"step": step})),
            ScriptStepCompleted { step } => ("job_step_done", json!({"step": step})),
            JobFinished {
                exit_code,
                failure: None,
                took,
            } => (
                "job_completed",
                json!({"exit_code": exit_code, "took_sec": took.as_secs_f64()}),
            ),
            JobFinished {
                exit_code,
                failure: Some(reason),
                took,
            } => (
                "job_failed",
                json!({"exit_code": exit_code, "reason": reason, "took_sec": took.as_secs_f64()}),
            ),
            ArtifactPullCompleted {
                label,
                local_path,
                bytes,
            } => (
                "artifact_pulled",
                json!({"label": label, "local_path": local_path, "bytes": bytes}),
            ),
            PhaseFailed { phase, reason } => {
                ("phase_failed", json!({"phase": phase, "reason": reason}))
            }
            TelemetryWarning {
                file,
                reason,
                unavailable,
            } => (
                "telemetry_warning",
                json!({"file": file, "reason": reason, "unavailable": unavailable}),
            ),
            CloudTypeFallback { .. }
            | PodResumed { .. }
            | CommandStarted { .. }
            | CommandSucceeded { .. }
            | CommandFailed { .. }
            | CommandEnded { .. }
            | SecretWritten { .. }
            | StagingStarted { .. }
            | Staged { .. }
            | StagingFailed { .. }
            | MonitorStarted
            | SuccessMarkerSeen
            | FailureMarkerSeen { .. }
            | PodKilledUnexpected { .. }
            | StillRunningAfterSuccess { .. }
            | AmbiguousMarkers { .. }
            | LogPullFailed { .. }
            | ArtifactPullStarted { .. }
            | ArtifactPullFailed { .. }
            | PullFinished { .. }
            | LeftJobRecovered { .. }
            | LeftJobLost { .. } => return,
        };
        self.stream.line(kind, Some(&self.config), fields);
    }
}
