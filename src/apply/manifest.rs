//! The run manifest: runpod-deploy's v2 fields in its order (so its
//! forensic commands read rpd's runs), plus what rpd knows that it did not:
//! the state after the lifecycle action, step durations, SSH handshakes,
//! bytes transferred. Never a secret.

use std::path::Path;
use std::process::Command;

use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::model::{LifecycleAction, ObservedPod, Outcome, PodStatus, Storage};
use crate::remote::job::{ArtifactResult, JobFailure, JobReport, PushResult, StepTiming, millis};

pub const FILE_NAME: &str = "runpod_deploy_pull_manifest.json";

pub struct ManifestInput<'a> {
    pub config: &'a Config,
    pub pod: Option<&'a ObservedPod>,
    pub job: &'a JobReport,
    pub outcome: Outcome,
    pub lifecycle_action: LifecycleAction,
    pub pod_resumed: bool,
    pub state_at_job_end: Option<PodStatus>,
    pub state_after_lifecycle: Option<PodStatus>,
    pub provider: &'a str,
    pub pod_timings: &'a [StepTiming],
}

/// The manifest, field by field in runpod-deploy's order, then rpd's.
#[derive(Debug, Serialize)]
pub struct Manifest<'a> {
    pub schema_version: &'static str,
    pub pulled_at_utc: String,
    pub failed: bool,
    pub job_name: &'a str,
    pub run_id: &'a str,
    pub config_path: &'a Path,
    pub storage_mode: &'static str,
    /// The pod's, else the first configured.
    pub datacenter_id: Option<&'a str>,
    pub gpu_id: Option<&'a str>,
    pub gpu_price_per_hour_usd: f64,
    /// `pod_describe` (the pod's billed rate) or `assumed_rate` (the config's).
    pub gpu_price_source: &'static str,
    pub pod_id: Option<&'a str>,
    /// At the job's end, before the lifecycle action (runpod-deploy's meaning).
    pub pod_final_state: Option<PodStatus>,
    pub pod_resumed: bool,
    pub image: &'a str,
    pub cost_cap_usd: f64,
    pub wall_time_sec: f64,
    pub estimated_cost_usd: f64,
    pub volume_mount: &'a str,
    pub volume_name: Option<&'a str>,
    pub volume_gb: Option<u32>,
    pub deploy_metadata: DeployMetadata,
    pub artifacts: &'a [ArtifactResult],
    pub telemetry_files: Vec<String>,
    // rpd's additions
    pub rpd_version: &'static str,
    pub provider: &'a str,
    /// `GONE` when the pod no longer exists.
    pub pod_state_after_lifecycle: &'static str,
    pub lifecycle_action: LifecycleAction,
    pub exit_code: Option<i32>,
    pub failure: Option<&'a JobFailure>,
    /// The pod's steps, then the job's.
    pub step_durations: Vec<&'a StepTiming>,
    pub ssh_handshakes: u32,
    pub bytes_transferred: u64,
    pub files_transferred: u64,
    pub staging: &'a [PushResult],
}

/// The local checkout and the payload's lock file, each part only when
/// telemetry captures it (a value is null when it cannot be read).
#[derive(Debug, Default, Serialize)]
pub struct DeployMetadata {
    #[serde(flatten)]
    git: Option<GitMetadata>,
    #[serde(flatten)]
    lockfile: Option<LockfileMetadata>,
}

#[derive(Debug, Serialize)]
struct GitMetadata {
    local_git_sha: Option<String>,
    local_git_dirty: Option<bool>,
    local_git_branch: Option<String>,
}

#[derive(Debug, Serialize)]
struct LockfileMetadata {
    payload_lockfile: Option<String>,
    payload_lockfile_sha256: Option<String>,
}

pub fn build<'a>(input: &ManifestInput<'a>) -> Manifest<'a> {
    let config = input.config;
    let job = input.job;
    let pod = input.pod;
    let spec = pod.map(|p| &p.spec);
    let wall = job.wall.as_secs_f64();
    let (price, source) = match pod.and_then(|p| p.cost_per_hr).filter(|c| *c > 0.0) {
        Some(c) => (c, "pod_describe"),
        None => (config.budget.assumed_hourly_rate_usd, "assumed_rate"),
    };
    let (volume_name, volume_gb) = match &config.pod.storage {
        Storage::Ephemeral { volume_gb, .. } => (None, Some(*volume_gb)),
        Storage::NetworkVolume { volume_name, .. } => (Some(volume_name.as_str()), None),
    };
    Manifest {
        schema_version: "v2",
        // Microseconds, as runpod-deploy's isoformat(): two runs in one
        // second stay in order.
        pulled_at_utc: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        failed: input.outcome == Outcome::Failure,
        job_name: &config.raw_name,
        run_id: &config.run_id,
        config_path: &config.canonical_path,
        storage_mode: config.pod.storage.mode_name(),
        datacenter_id: spec
            .and_then(|s| s.datacenter_id.as_deref())
            .or_else(|| config.pod.datacenters.first().map(String::as_str)),
        gpu_id: spec.and_then(|s| s.gpu_id.as_deref()),
        gpu_price_per_hour_usd: price,
        gpu_price_source: source,
        pod_id: pod.map(|p| p.id.as_str()),
        pod_final_state: input.state_at_job_end,
        pod_resumed: input.pod_resumed,
        image: &config.pod.image,
        cost_cap_usd: config.budget.cost_cap_usd,
        wall_time_sec: millis(job.wall),
        estimated_cost_usd: ((price * wall / 3600.0) * 10000.0).round() / 10000.0,
        volume_mount: config.pod.storage.mount(),
        volume_name,
        volume_gb,
        deploy_metadata: deploy_metadata(config),
        artifacts: &job.artifacts,
        telemetry_files: telemetry_files(&config.run_dir),
        rpd_version: env!("CARGO_PKG_VERSION"),
        provider: input.provider,
        pod_state_after_lifecycle: input
            .state_after_lifecycle
            .map(|s| s.as_str())
            .unwrap_or("GONE"),
        lifecycle_action: input.lifecycle_action,
        exit_code: job.exit_code,
        failure: job.failure.as_ref(),
        step_durations: input.pod_timings.iter().chain(&job.timings).collect(),
        ssh_handshakes: job.handshakes,
        bytes_transferred: job.transferred.bytes,
        files_transferred: job.transferred.files,
        staging: &job.pushes,
    }
}

pub fn write(input: &ManifestInput) -> std::io::Result<()> {
    let dir = &input.config.run_dir;
    std::fs::create_dir_all(dir)?;
    let mut text = serde_json::to_vec_pretty(&build(input))?;
    text.push(b'\n');
    std::fs::write(dir.join(FILE_NAME), text)
}

fn telemetry_files(run_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run_dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != FILE_NAME)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn deploy_metadata(config: &Config) -> DeployMetadata {
    let root = &config.project_root;
    let git = config.telemetry.capture_local_git.then(|| GitMetadata {
        local_git_sha: git(root, &["rev-parse", "HEAD"]),
        local_git_dirty: git(root, &["status", "--porcelain"]).map(|s| !s.is_empty()),
        local_git_branch: git(root, &["rev-parse", "--abbrev-ref", "HEAD"]),
    });
    let lockfile = config.telemetry.capture_payload_lockfile.then(|| {
        let lock = ["uv.lock", "requirements.txt"]
            .iter()
            .map(|name| root.join(name))
            .find(|p| p.is_file());
        LockfileMetadata {
            payload_lockfile: lock
                .as_ref()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned()),
            payload_lockfile_sha256: lock
                .and_then(|p| std::fs::read(p).ok())
                .map(|b| format!("{:x}", Sha256::digest(b))),
        }
    });
    DeployMetadata { git, lockfile }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::LoadOptions;
    use crate::remote::job::{ArtifactStatus, Phase};
    use crate::remote::sync::TransferStats;

    fn config(dir: &Path, telemetry: &str) -> Config {
        let yaml = format!(
            "schema_version: 2\nname: m\n\
             pod:\n  image: img:1\n  datacenters: [EU-RO-1, US-CA-2]\n  gpu_order: [\"NVIDIA A40\"]\n\
             storage:\n  mode: ephemeral\n  volume_gb: 20\n\
             run:\n  script_path: /workspace/run.sh\n  log_path: /workspace/run.log\n  success_marker: OK\n  body: echo OK\n\
             {telemetry}"
        );
        std::fs::write(dir.join("m.yaml"), yaml).unwrap();
        crate::config::load(&dir.join("m.yaml"), &LoadOptions::default()).unwrap()
    }

    fn report() -> JobReport {
        JobReport {
            timings: vec![StepTiming::new(
                "monitor",
                Duration::from_millis(1500),
                false,
            )],
            transferred: TransferStats {
                files: 3,
                bytes: 300,
            },
            artifacts: vec![ArtifactResult {
                label: "out".into(),
                remote_path: "/workspace/out/".into(),
                local_path: "/local/out/".into(),
                required: true,
                excludes: vec![],
                delete: true,
                status: ArtifactStatus::Failed,
                bytes_transferred: None,
                duration_sec: 0.25,
                error: Some("gone".into()),
            }],
            pushes: vec![],
            launched: true,
            exit_code: Some(1),
            wall: Duration::from_secs(7200),
            handshakes: 1,
            log_pulled: true,
            failure: Some(JobFailure::new(
                Phase::Monitor,
                "the script exited with status 1",
            )),
            interrupted: false,
            results_unsaved: None,
            run_dir: "/nowhere".into(),
        }
    }

    fn manifest(config: &Config, job: &JobReport) -> serde_json::Value {
        let timings = [StepTiming::new("create", Duration::from_secs(2), true)];
        let input = ManifestInput {
            config,
            pod: None,
            job,
            outcome: Outcome::Failure,
            lifecycle_action: LifecycleAction::Stop,
            pod_resumed: false,
            state_at_job_end: Some(PodStatus::Running),
            state_after_lifecycle: None,
            provider: "sim",
            pod_timings: &timings,
        };
        serde_json::to_value(build(&input)).unwrap()
    }

    fn keys(value: &serde_json::Value) -> Vec<&str> {
        value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn keys_are_runpod_deploys_in_its_order_then_rpds() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), "");
        let m = manifest(&config, &report());
        assert_eq!(
            keys(&m),
            [
                "schema_version",
                "pulled_at_utc",
                "failed",
                "job_name",
                "run_id",
                "config_path",
                "storage_mode",
                "datacenter_id",
                "gpu_id",
                "gpu_price_per_hour_usd",
                "gpu_price_source",
                "pod_id",
                "pod_final_state",
                "pod_resumed",
                "image",
                "cost_cap_usd",
                "wall_time_sec",
                "estimated_cost_usd",
                "volume_mount",
                "volume_name",
                "volume_gb",
                "deploy_metadata",
                "artifacts",
                "telemetry_files",
                "rpd_version",
                "provider",
                "pod_state_after_lifecycle",
                "lifecycle_action",
                "exit_code",
                "failure",
                "step_durations",
                "ssh_handshakes",
                "bytes_transferred",
                "files_transferred",
                "staging",
            ]
        );
        assert_eq!(
            keys(&m["deploy_metadata"]),
            [
                "local_git_sha",
                "local_git_dirty",
                "local_git_branch",
                "payload_lockfile",
                "payload_lockfile_sha256",
            ]
        );
        assert_eq!(
            keys(&m["artifacts"][0]),
            [
                "label",
                "remote_path",
                "local_path",
                "required",
                "excludes",
                "delete",
                "status",
                "bytes_transferred",
                "duration_sec",
                "error",
            ]
        );
    }

    #[test]
    fn values_are_runpod_deploys() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), "");
        let m = manifest(&config, &report());
        assert_eq!(m["schema_version"], "v2");
        assert_eq!(m["failed"], true);
        assert_eq!(
            m["config_path"],
            config.canonical_path.display().to_string()
        );
        assert_eq!(m["storage_mode"], "ephemeral");
        assert_eq!(
            m["datacenter_id"], "EU-RO-1",
            "no pod: the first configured"
        );
        assert_eq!(m["gpu_id"], serde_json::Value::Null);
        assert_eq!(m["gpu_price_source"], "assumed_rate");
        assert_eq!(m["gpu_price_per_hour_usd"], 1.65);
        assert_eq!(m["wall_time_sec"], 7200.0);
        assert_eq!(m["estimated_cost_usd"], 3.3);
        assert_eq!(m["pod_final_state"], "RUNNING");
        assert_eq!(m["pod_state_after_lifecycle"], "GONE");
        assert_eq!(m["lifecycle_action"], "stop");
        assert_eq!(m["volume_mount"], "/workspace");
        assert_eq!(m["volume_name"], serde_json::Value::Null);
        assert_eq!(m["volume_gb"], 20);
        assert_eq!(m["artifacts"][0]["status"], "failed");
        assert_eq!(
            m["artifacts"][0]["bytes_transferred"],
            serde_json::Value::Null
        );
        assert_eq!(
            m["failure"],
            serde_json::json!({"step": "monitor", "reason": "the script exited with status 1"})
        );
        assert_eq!(
            m["step_durations"],
            serde_json::json!([
                {"step": "create", "duration_sec": 2.0, "ok": true},
                {"step": "monitor", "duration_sec": 1.5, "ok": false},
            ])
        );
        assert_eq!(m["exit_code"], 1);
        assert_eq!(
            (
                &m["ssh_handshakes"],
                &m["bytes_transferred"],
                &m["files_transferred"]
            ),
            (
                &serde_json::json!(1),
                &serde_json::json!(300),
                &serde_json::json!(3)
            )
        );
    }

    #[test]
    fn telemetry_off_leaves_the_deploy_metadata_empty() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            "telemetry:\n  capture_local_git: false\n  capture_payload_lockfile: false\n",
        );
        let m = manifest(&config, &report());
        assert_eq!(m["deploy_metadata"], serde_json::json!({}));
        let mut job = report();
        job.failure = None;
        job.artifacts[0].status = ArtifactStatus::Success;
        job.artifacts[0].error = None;
        let m = manifest(&config, &job);
        assert_eq!(m["failure"], serde_json::Value::Null);
        assert_eq!(m["artifacts"][0]["status"], "success");
        assert!(m["artifacts"][0].get("error").is_none());
    }
}
