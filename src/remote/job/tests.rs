//! The job on the simulator's transport (bash on this machine, in a
//! temporary directory): phases in apply's order, the report it returns and
//! the events its one sink received.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::config::{Config, LoadOptions};
use crate::interrupt::Interrupt;
use crate::model::LocalPodDirs;
use crate::remote::LocalTransport;

/// Keeps every event but the once-a-second ticks, with durations zeroed.
#[derive(Default)]
struct Recorder(Mutex<Vec<JobEvent>>);

impl EventSink for Recorder {
    fn emit(&self, event: &JobEvent) {
        let event = match event.clone() {
            JobEvent::MonitorTick { .. } => return,
            JobEvent::JobFinished {
                exit_code, failure, ..
            } => JobEvent::JobFinished {
                exit_code,
                failure,
                took: Duration::ZERO,
            },
            other => other,
        };
        self.0.lock().unwrap().push(event);
    }
}

impl Recorder {
    /// The events, without the success-marker sighting: the log stream
    /// may or may not show a fast script's last line before its exit (the
    /// watcher's final search of the log counts it either way).
    fn events(&self) -> Vec<JobEvent> {
        let mut events = self.0.lock().unwrap().clone();
        events.retain(|e| *e != JobEvent::SuccessMarkerSeen);
        events
    }
}

struct Job {
    _dir: tempfile::TempDir,
    config: Config,
    volume: std::path::PathBuf,
    events: Arc<Recorder>,
}

/// A config with `body` as the script and `extra` YAML, and a payload of
/// one 6-byte file.
fn job(body: &str, extra: &str) -> Job {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("payload")).unwrap();
    std::fs::write(root.join("payload/data.txt"), "hello\n").unwrap();
    let body: String = body.lines().map(|l| format!("    {l}\n")).collect();
    let yaml = format!(
        "schema_version: 2\nname: unit\n\
         pod:\n  image: img:1\n  datacenters: [EU-RO-1]\n  gpu_order: [\"NVIDIA A40\"]\n\
         storage:\n  mode: ephemeral\n  volume_gb: 20\n\
         staging:\n  - label: payload\n    source: payload/\n    destination: /workspace/job/payload/\n\
         run:\n  script_path: /workspace/job/run.sh\n  log_path: /workspace/job/run.log\n  success_marker: JOB_DONE\n  body: |\n{body}\
         {extra}"
    );
    std::fs::write(root.join("unit.yaml"), yaml).unwrap();
    let config = crate::config::load(&root.join("unit.yaml"), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    Job {
        volume: root.join("pod/volume"),
        _dir: dir,
        config,
        events: Arc::new(Recorder::default()),
    }
}

impl Job {
    fn runner(&self) -> JobRunner<'_> {
        let dirs = LocalPodDirs {
            volume: self.volume.clone(),
            container: self.volume.with_file_name("container"),
            world: self.volume.parent().unwrap().to_path_buf(),
            stopped: self.volume.with_file_name("stopped"),
        };
        let transport = LocalTransport::new(dirs, "/workspace", "pod-1");
        let budget = Budget {
            time_limit: Duration::from_secs(60),
            cost_cap: Usd(10.0),
            price_per_hr: Usd(1.0),
            time_limit_is_max_runtime: true,
        };
        JobRunner::new(
            &self.config,
            Box::new(transport),
            self.events.clone(),
            budget,
        )
    }
}

/// Every phase in apply's order.
async fn run_all(runner: &mut JobRunner<'_>) {
    let interrupt = Interrupt::never();
    for phase in [
        Phase::Setup,
        Phase::Secrets,
        Phase::Staging,
        Phase::Preflight,
        Phase::Launch,
        Phase::Monitor,
        Phase::Pull,
    ] {
        runner.run_phase(phase, &interrupt).await;
    }
}

fn steps(report: &JobReport) -> Vec<(&str, bool)> {
    report
        .timings
        .iter()
        .map(|t| (t.step.as_str(), t.ok))
        .collect()
}

fn local(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test]
async fn a_tiny_job_runs_through_every_phase() {
    let job = job(
        "cat /workspace/job/payload/data.txt\n\
         mkdir -p /workspace/job/out && echo result > /workspace/job/out/r.txt\n\
         echo JOB_DONE",
        "setup:\n  - command: echo ready > /workspace/setup.txt\n\
         artifacts:\n  - label: out\n    remote_path: /workspace/job/out/\n    local_path: out/\n",
    );
    let mut runner = job.runner();
    run_all(&mut runner).await;
    let report = runner.report();
    runner.close().await;

    assert_eq!(report.failure, None);
    assert_eq!(report.exit_code, Some(0));
    assert!(report.launched && report.log_pulled && runner.ran());
    assert_eq!(
        steps(&report),
        [
            ("setup", true),
            ("staging", true),
            ("launch", true),
            ("monitor", true),
            ("pull", true)
        ]
    );
    assert_eq!(report.pushes.len(), 1);
    assert_eq!((report.pushes[0].files, report.pushes[0].bytes), (1, 6));
    assert_eq!(report.artifacts.len(), 1);
    assert_eq!(report.artifacts[0].status, ArtifactStatus::Success);
    assert_eq!(report.artifacts[0].bytes_transferred, Some(7));
    assert_eq!(report.handshakes, 0);
    assert_eq!(report.run_dir, job.config.run_dir);
    assert_eq!(
        std::fs::read_to_string(job.volume.join("setup.txt")).unwrap(),
        "ready\n"
    );
    let log = std::fs::read_to_string(job.config.run_dir.join("run.log")).unwrap();
    assert_eq!(log, "hello\nJOB_DONE\n");
    let out = &job.config.job.artifacts[0].local_path;
    assert_eq!(
        std::fs::read_to_string(out.join("r.txt")).unwrap(),
        "result\n"
    );

    // What telemetry this machine lacks (nvidia-smi, dmesg) is not this
    // test's business: src/remote/job/telemetry/tests.rs is about that.
    let events: Vec<JobEvent> = job
        .events
        .events()
        .into_iter()
        .filter(|e| !matches!(e, JobEvent::TelemetryWarning { .. }))
        .collect();
    assert_eq!(
        events,
        [
            JobEvent::CommandStarted {
                phase: Phase::Setup,
                label: "setup[0]".into(),
                command: "echo ready > /workspace/setup.txt".into(),
            },
            JobEvent::CommandSucceeded {
                phase: Phase::Setup,
                label: "setup[0]".into(),
            },
            JobEvent::StagingStarted {
                label: "payload".into(),
                source: job.config.job.staging[0].source.clone(),
                destination: "/workspace/job/payload/".into(),
            },
            JobEvent::Staged {
                label: "payload".into(),
                files: 1,
                bytes: 6,
            },
            JobEvent::Launched {
                script_path: "/workspace/job/run.sh".into(),
            },
            JobEvent::MonitorStarted,
            JobEvent::JobFinished {
                exit_code: Some(0),
                failure: None,
                took: Duration::ZERO,
            },
            JobEvent::ArtifactPullStarted {
                label: "out".into()
            },
            JobEvent::ArtifactPullCompleted {
                label: "out".into(),
                local_path: local(out),
                bytes: 7,
            },
            JobEvent::PullFinished {
                log_into: Some(job.config.run_dir.clone()),
            },
        ]
    );
}

#[tokio::test]
async fn a_failing_setup_skips_the_job_but_still_pulls() {
    let job = job(
        "echo JOB_DONE",
        "setup:\n  - command: echo oops >&2; exit 4\n\
         artifacts:\n  - label: out\n    remote_path: /workspace/job/out/\n    local_path: out/\n",
    );
    let mut runner = job.runner();
    run_all(&mut runner).await;
    let report = runner.report();

    let reason = "setup[0] exited with status 4:\n    oops";
    assert_eq!(report.failure, Some(JobFailure::new(Phase::Setup, reason)));
    assert_eq!(steps(&report), [("setup", false), ("pull", true)]);
    assert!(!report.launched && !report.log_pulled);
    assert_eq!(report.exit_code, None);
    assert!(report.pushes.is_empty());
    assert_eq!(report.artifacts[0].status, ArtifactStatus::Failed);
    let events = job.events.events();
    assert_eq!(
        events[..3],
        [
            JobEvent::CommandStarted {
                phase: Phase::Setup,
                label: "setup[0]".into(),
                command: "echo oops >&2; exit 4".into(),
            },
            JobEvent::CommandFailed {
                phase: Phase::Setup,
                label: "setup[0]".into(),
            },
            JobEvent::PhaseFailed {
                phase: Phase::Setup,
                reason: reason.into(),
            },
        ]
    );
    assert!(
        matches!(
            &events[3..],
            [
                JobEvent::ArtifactPullStarted { .. },
                JobEvent::ArtifactPullFailed {
                    fails_job: false,
                    ..
                },
                JobEvent::PullFinished { log_into: None },
            ]
        ),
        "after a failure a missing artifact only warns: {events:?}"
    );
}

#[tokio::test]
async fn a_nonzero_exit_fails_the_monitor_with_the_status() {
    let job = job("echo working\nexit 3", "");
    let mut runner = job.runner();
    run_all(&mut runner).await;
    let report = runner.report();
    assert_eq!(report.exit_code, Some(3));
    let reason = "the script exited with status 3";
    assert_eq!(
        report.failure,
        Some(JobFailure::new(Phase::Monitor, reason))
    );
    assert!(report.log_pulled, "the log comes back after a failure");
    assert!(job.events.events().contains(&JobEvent::JobFinished {
        exit_code: Some(3),
        failure: Some(reason.into()),
        took: Duration::ZERO,
    }));
}

/// A pod the provider reports stopped from the first check on.
struct StoppedPod;

#[async_trait]
impl PodProbe for StoppedPod {
    fn pod_id(&self) -> &str {
        "pod-1"
    }
    fn schedule(&self) -> PollSchedule {
        PollSchedule::every(Duration::ZERO)
    }
    async fn check(&self) -> PodCheck {
        PodCheck::Gone {
            status: "EXITED".into(),
        }
    }
}

#[tokio::test]
async fn a_pod_stopped_outside_rpd_fails_the_job_and_the_script_is_stopped() {
    let job = job("echo started\nsleep 30\necho JOB_DONE", "");
    let mut runner = job.runner().with_probe(Box::new(StoppedPod));
    run_all(&mut runner).await;
    let report = runner.report();
    let reason = "pod pod-1 is EXITED while the job ran (stopped or deleted outside rpd?)";
    assert_eq!(
        report.failure,
        Some(JobFailure::new(Phase::Monitor, reason))
    );
    assert_eq!(report.exit_code, None);
    assert!(
        job.events
            .events()
            .contains(&JobEvent::PodKilledUnexpected {
                pod_id: "pod-1".into(),
                status: "EXITED".into(),
            })
    );
    let pid: i32 = std::fs::read_to_string(job.volume.join("job/run.log.rpd-pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z"),
        "the script was stopped: {stat}"
    );
}

/// Runs `body` through every phase and returns the report.
async fn report_of(body: &str) -> JobReport {
    let job = job(body, "");
    let mut runner = job.runner();
    run_all(&mut runner).await;
    let report = runner.report();
    runner.close().await;
    report
}

/// Issue 19, item 7: megabytes printed just before the marker. The
/// watcher's reader is cut wherever it is when the exit file appears; the
/// verdict must not depend on where.
#[tokio::test]
async fn megabytes_printed_just_before_the_marker_do_not_hide_it() {
    for bytes in [1_000_000, 5_000_000, 50_000_000] {
        let report = report_of(&format!(
            "yes 'a line of output, long enough to be cut' | head -c {bytes} || true\necho JOB_DONE"
        ))
        .await;
        assert_eq!(report.failure, None, "{bytes} bytes before the marker");
        assert_eq!(report.exit_code, Some(0));
    }
}

/// The marker on a last line that has no newline counts (runpod-deploy
/// greps the log: a fixed string anywhere in it), also after megabytes.
#[tokio::test]
async fn a_marker_on_a_last_line_without_a_newline_counts() {
    for before in ["", "yes 'a line of output' | head -c 5000000 || true\n"] {
        let report = report_of(&format!("{before}printf 'all good: JOB_DONE'")).await;
        assert_eq!(report.failure, None, "after {before:?}");
        assert_eq!(report.exit_code, Some(0));
    }
}

/// A last line without a newline after the marker: the watcher's report
/// must not be glued to it either.
#[tokio::test]
async fn a_last_line_without_a_newline_after_the_marker_is_no_failure() {
    for before in ["", "yes 'a line of output' | head -c 5000000 || true\n"] {
        let report = report_of(&format!("{before}echo JOB_DONE\nprintf 'bye'")).await;
        assert_eq!(report.failure, None, "after {before:?}");
        assert_eq!(report.exit_code, Some(0));
    }
}
