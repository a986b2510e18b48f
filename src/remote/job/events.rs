//! What a run reports as it goes: typed [`JobEvent`]s into ONE sink. The
//! subscribers are `events.jsonl` ([`EventsJsonl`], here: runpod-deploy's
//! event names and fields, so its forensic tools read rpd's runs) and the
//! terminal progress (in apply, which owns the terminal). Another consumer
//! (a machine-readable stream) is one more [`EventSink`] in the [`Fanout`].

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use super::Phase;
use crate::model::{CloudType, Usd};

/// Where events go. Called from the job as it runs: keep it quick.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: &JobEvent);
}

/// The one sink a run emits into, shared by apply and the job.
pub type SharedSink = Arc<dyn EventSink>;

/// Hands every event to each subscriber, in order.
pub struct Fanout {
    subscribers: Vec<Box<dyn EventSink>>,
}

impl Fanout {
    pub fn new(subscribers: Vec<Box<dyn EventSink>>) -> Fanout {
        Fanout { subscribers }
    }
}

impl EventSink for Fanout {
    fn emit(&self, event: &JobEvent) {
        for subscriber in &self.subscribers {
            subscriber.emit(event);
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    // The pod the job runs on (emitted by apply).
    GpuSelected {
        gpu_id: String,
        datacenter_id: String,
    },
    /// The pod was created on the `--fallback-cloud-type`.
    CloudTypeFallback {
        from: CloudType,
        to: CloudType,
        gpu_id: String,
        datacenter_id: String,
    },
    PodResumed {
        pod_id: String,
    },
    /// The paused pod cannot start on its host (the busy-host policy says
    /// what follows).
    ResumeFailed {
        pod_id: String,
        error: String,
    },

    // Setup and preflight commands, one at a time.
    CommandStarted {
        phase: Phase,
        label: String,
        command: String,
    },
    CommandSucceeded {
        phase: Phase,
        label: String,
    },
    /// The reason follows in [`JobEvent::PhaseFailed`].
    CommandFailed {
        phase: Phase,
        label: String,
    },
    /// An abandoned command's process group was ended on the pod.
    CommandEnded {
        phase: Phase,
    },
    SecretWritten {
        name: String,
        destination: String,
        mode: u32,
    },
    StagingStarted {
        label: String,
        source: String,
        destination: String,
    },
    Staged {
        label: String,
        files: u64,
        bytes: u64,
    },
    StagingFailed {
        label: String,
    },

    // The script, started detached and followed.
    Launched {
        script_path: String,
    },
    /// The job's pod was stopped before its results were collected (by the
    /// on-pod guard while no rpd was attached, say a laptop asleep, or
    /// outside rpd): it is resumed to read them from its volume.
    ResumingToCollect {
        pod_id: String,
    },
    /// What the resumed pod says of its stop: `by_guard` is the on-pod
    /// guard's reason when it stopped the pod; `ended` whether the job had
    /// recorded its exit status (else it was stopped under the job).
    PodStopFound {
        pod_id: String,
        by_guard: Option<String>,
        ended: bool,
    },
    /// rpd attached to a job launched earlier: it still runs (followed), or
    /// it has ended (collected).
    Attached {
        launched_at: chrono::DateTime<Utc>,
        running: bool,
    },
    /// The on-pod guard started with the script: it kills the job and
    /// stops the pod `deadline` from now (for `reason`), and stops the pod
    /// `grace` after the job ends while no rpd is attached.
    GuardStarted {
        deadline: Duration,
        reason: String,
        grace: Duration,
    },
    MonitorStarted,
    /// About once a second while the script runs.
    MonitorTick {
        spent: Usd,
        last_line: String,
    },
    SuccessMarkerSeen,
    FailureMarkerSeen {
        marker: String,
        line: String,
        grace: Duration,
    },
    /// `__RUNPOD_STEP_START__<step>__` in the log.
    ScriptStepStarted {
        step: String,
    },
    /// `__RUNPOD_STEP_DONE__<step>__` in the log.
    ScriptStepCompleted {
        step: String,
    },
    /// The pod stopped or vanished while the job ran.
    PodKilledUnexpected {
        pod_id: String,
        status: String,
    },
    StillRunningAfterSuccess {
        grace: Duration,
    },
    /// Both markers in the log and exit 0: a success, with this note.
    AmbiguousMarkers {
        note: String,
    },
    /// The monitor ended: `failure` is the reason when the job failed.
    JobFinished {
        exit_code: Option<i32>,
        failure: Option<String>,
        took: Duration,
    },

    // The log and the artifacts, pulled back.
    LogPullFailed {
        error: String,
    },
    ArtifactPullStarted {
        label: String,
    },
    ArtifactPullCompleted {
        label: String,
        local_path: String,
        bytes: u64,
    },
    /// `fails_job`: a required artifact on the success path.
    ArtifactPullFailed {
        label: String,
        error: String,
        fails_job: bool,
    },
    /// `log_into`: where the log landed, when it was pulled.
    PullFinished {
        log_into: Option<PathBuf>,
    },
    /// The log of a job a killed apply left on the pod, pulled into its
    /// own run directory; `exit_code` when it had finished.
    LeftJobRecovered {
        run_dir: PathBuf,
        exit_code: Option<i32>,
    },
    LeftJobLost {
        error: String,
    },
    /// A telemetry capture (or the telemetry's pull) that did not happen:
    /// never the job's failure. `unavailable` when the pod has no such
    /// tool or may not use it (no GPU, no access to dmesg).
    TelemetryWarning {
        file: String,
        reason: String,
        unavailable: bool,
    },

    /// A phase that ran failed (or was interrupted).
    PhaseFailed {
        phase: Phase,
        reason: String,
    },

    // The plan's steps as apply carries them out (`n` as the plan numbers
    // them, `op` the step's kind as the JSON plan names it).
    StepStarted {
        n: usize,
        op: &'static str,
    },
    StepDone {
        n: usize,
        op: &'static str,
        took: Duration,
    },
    StepFailed {
        n: usize,
        op: &'static str,
        error: String,
    },
    /// A step that does not apply to this run: the lifecycle branch of the
    /// outcome the job did not have (`outcome` is the one it had).
    StepSkipped {
        n: usize,
        op: &'static str,
        outcome: crate::model::Outcome,
    },
}

impl JobEvent {
    /// The name and fields of an event of a job that outlives the laptop
    /// (`events.jsonl` and `apply --json` alike).
    pub fn outliving_record(&self) -> Option<(&'static str, Value)> {
        match self {
            JobEvent::Attached {
                launched_at,
                running,
            } => Some((
                "job_attached",
                json!({"launched_at": launched_at.to_rfc3339(), "running": running}),
            )),
            JobEvent::ResumingToCollect { pod_id } => {
                Some(("pod_resumed_to_collect", json!({"pod_id": pod_id})))
            }
            JobEvent::PodStopFound {
                pod_id,
                by_guard,
                ended,
            } => Some((
                "pod_stop_found",
                json!({"pod_id": pod_id, "stopped_by_guard": by_guard, "job_had_ended": ended}),
            )),
            JobEvent::GuardStarted {
                deadline,
                reason,
                grace,
            } => Some((
                "guard_started",
                json!({
                    "deadline_sec": deadline.as_secs(),
                    "deadline_reason": reason,
                    "unattended_stop_after_sec": grace.as_secs(),
                }),
            )),
            _ => None,
        }
    }
}

/// `events.jsonl` in the run directory: one `{"ts_utc", "event", ...}` per
/// line, runpod-deploy's names and fields. Events it has no name for are
/// not written.
pub struct EventsJsonl {
    path: PathBuf,
}

impl EventsJsonl {
    pub fn new(path: PathBuf) -> EventsJsonl {
        EventsJsonl { path }
    }

    /// runpod-deploy's event name and fields for `event`, if it has one.
    fn record(event: &JobEvent) -> Option<(&'static str, Value)> {
        use JobEvent::*;
        Some(match event {
            GpuSelected {
                gpu_id,
                datacenter_id,
            } => (
                "gpu_selected",
                json!({"gpu_id": gpu_id, "datacenter_id": datacenter_id}),
            ),
            CloudTypeFallback {
                from,
                to,
                gpu_id,
                datacenter_id,
            } => (
                "cloud_type_fallback",
                json!({
                    "from_cloud_type": from,
                    "to_cloud_type": to,
                    "gpu_id": gpu_id,
                    "datacenter_id": datacenter_id,
                }),
            ),
            PodResumed { pod_id } => ("pod_resumed", json!({"pod_id": pod_id})),
            ResumeFailed { pod_id, error } => {
                ("resume_failed", json!({"pod_id": pod_id, "error": error}))
            }
            Launched { .. } => ("remote_step_started", json!({"step": "run"})),
            Attached { .. }
            | GuardStarted { .. }
            | ResumingToCollect { .. }
            | PodStopFound { .. } => return event.outliving_record(),
            ScriptStepStarted { step } => ("remote_step_started", json!({"step": step})),
            ScriptStepCompleted { step } => ("remote_step_completed", json!({"step": step})),
            PodKilledUnexpected { pod_id, status } => (
                "pod_killed_unexpected",
                json!({"pod_id": pod_id, "status": status}),
            ),
            AmbiguousMarkers { note } => ("ambiguous_markers", json!({"note": note})),
            JobFinished {
                exit_code, failure, ..
            } => (
                "remote_step_completed",
                json!({"step": "run", "exit_code": exit_code, "ok": failure.is_none()}),
            ),
            LogPullFailed { error } => ("remote_log_pull_failed", json!({"error": error})),
            ArtifactPullStarted { label } => ("artifact_pull_started", json!({"label": label})),
            ArtifactPullCompleted { label, bytes, .. } => (
                "artifact_pull_completed",
                json!({"label": label, "bytes": bytes}),
            ),
            ArtifactPullFailed { label, error, .. } => (
                "artifact_pull_failed",
                json!({"label": label, "error": error}),
            ),
            LeftJobRecovered { run_dir, exit_code } => (
                "left_job_log_pulled",
                json!({"run_dir": run_dir, "exit_code": exit_code}),
            ),
            TelemetryWarning {
                file,
                reason,
                unavailable,
            } => (
                "telemetry_capture_failed",
                json!({"file": file, "error": reason, "unavailable": unavailable}),
            ),
            CommandStarted { .. }
            | CommandSucceeded { .. }
            | CommandFailed { .. }
            | CommandEnded { .. }
            | LeftJobLost { .. }
            | SecretWritten { .. }
            | StagingStarted { .. }
            | Staged { .. }
            | StagingFailed { .. }
            | MonitorStarted
            | MonitorTick { .. }
            | SuccessMarkerSeen
            | FailureMarkerSeen { .. }
            | StillRunningAfterSuccess { .. }
            | PullFinished { .. }
            | PhaseFailed { .. }
            | StepStarted { .. }
            | StepDone { .. }
            | StepFailed { .. }
            | StepSkipped { .. } => return None,
        })
    }
}

impl EventSink for EventsJsonl {
    fn emit(&self, event: &JobEvent) {
        let Some((name, fields)) = EventsJsonl::record(event) else {
            return;
        };
        let mut record = serde_json::Map::new();
        record.insert(
            "ts_utc".into(),
            Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        record.insert("event".into(), name.into());
        if let Value::Object(extra) = fields {
            record.extend(extra);
        }
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = writeln!(file, "{}", Value::Object(record));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(events: &[JobEvent]) -> Vec<Value> {
        let dir = tempfile::tempdir().unwrap();
        let sink = EventsJsonl::new(dir.path().join("run/events.jsonl"));
        for event in events {
            sink.emit(event);
        }
        std::fs::read_to_string(dir.path().join("run/events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                let record = v.as_object_mut().unwrap();
                assert_eq!(record.keys().next().unwrap(), "ts_utc", "{l}");
                let ts = record.shift_remove("ts_utc").unwrap();
                assert!(ts.as_str().unwrap().ends_with('Z'), "{ts}");
                v
            })
            .collect()
    }

    #[test]
    fn runpod_deploy_names_and_fields_in_order() {
        let lines = written(&[
            JobEvent::GpuSelected {
                gpu_id: "NVIDIA A40".into(),
                datacenter_id: "EU-RO-1".into(),
            },
            JobEvent::CloudTypeFallback {
                from: CloudType::Secure,
                to: CloudType::Community,
                gpu_id: "NVIDIA A40".into(),
                datacenter_id: "EU-RO-1".into(),
            },
            JobEvent::ResumeFailed {
                pod_id: "p1".into(),
                error: "busy".into(),
            },
            JobEvent::Launched {
                script_path: "/w/run.sh".into(),
            },
            JobEvent::MonitorStarted,
            JobEvent::ScriptStepStarted {
                step: "train".into(),
            },
            JobEvent::JobFinished {
                exit_code: Some(0),
                failure: None,
                took: Duration::from_secs(3),
            },
            JobEvent::ArtifactPullCompleted {
                label: "out".into(),
                local_path: "/l/out".into(),
                bytes: 12,
            },
            JobEvent::PhaseFailed {
                phase: Phase::Pull,
                reason: "x".into(),
            },
        ]);
        let text: Vec<String> = lines.iter().map(Value::to_string).collect();
        assert_eq!(
            text,
            [
                r#"{"event":"gpu_selected","gpu_id":"NVIDIA A40","datacenter_id":"EU-RO-1"}"#,
                r#"{"event":"cloud_type_fallback","from_cloud_type":"SECURE","to_cloud_type":"COMMUNITY","gpu_id":"NVIDIA A40","datacenter_id":"EU-RO-1"}"#,
                r#"{"event":"resume_failed","pod_id":"p1","error":"busy"}"#,
                r#"{"event":"remote_step_started","step":"run"}"#,
                r#"{"event":"remote_step_started","step":"train"}"#,
                r#"{"event":"remote_step_completed","step":"run","exit_code":0,"ok":true}"#,
                r#"{"event":"artifact_pull_completed","label":"out","bytes":12}"#,
            ]
        );
    }

    #[test]
    fn fanout_hands_each_event_to_every_subscriber() {
        use std::sync::Mutex;
        struct Count(Arc<Mutex<usize>>);
        impl EventSink for Count {
            fn emit(&self, _: &JobEvent) {
                *self.0.lock().unwrap() += 1;
            }
        }
        let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
        let fanout = Fanout::new(vec![Box::new(Count(a.clone())), Box::new(Count(b.clone()))]);
        fanout.emit(&JobEvent::MonitorStarted);
        fanout.emit(&JobEvent::SuccessMarkerSeen);
        assert_eq!((*a.lock().unwrap(), *b.lock().unwrap()), (2, 2));
    }
}
