//! The run manifest: runpod-deploy's v2 fields in its order (so its
//! forensic commands read rpd's runs), plus what rpd knows that it did not:
//! the state after the lifecycle action, step durations, SSH handshakes,
//! bytes transferred. Never a secret.

use std::path::Path;
use std::process::Command;

use chrono::Utc;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::model::{LifecycleAction, ObservedPod, Outcome, PodStatus, Storage};
use crate::remote::job::{JobFailure, JobRunner};

pub const FILE_NAME: &str = "runpod_deploy_pull_manifest.json";

pub struct ManifestInput<'a> {
    pub config: &'a Config,
    pub pod: Option<&'a ObservedPod>,
    pub runner: &'a JobRunner<'a>,
    pub outcome: Outcome,
    pub failure: Option<&'a JobFailure>,
    pub lifecycle_action: LifecycleAction,
    pub pod_resumed: bool,
    pub state_at_job_end: Option<PodStatus>,
    pub state_after_lifecycle: Option<PodStatus>,
    pub provider: &'a str,
    pub pod_timings: &'a [crate::remote::job::StepTiming],
}

pub fn build(input: &ManifestInput) -> Value {
    let config = input.config;
    let runner = input.runner;
    let pod = input.pod;
    let spec = pod.map(|p| &p.spec);
    let wall = runner.started.elapsed().as_secs_f64();
    let (price, source) = match pod.and_then(|p| p.cost_per_hr).filter(|c| *c > 0.0) {
        Some(c) => (c, "pod_describe"),
        None => (config.budget.assumed_hourly_rate_usd, "assumed_rate"),
    };
    let (volume_name, volume_gb) = match &config.pod.storage {
        Storage::Ephemeral { volume_gb, .. } => (Value::Null, json!(volume_gb)),
        Storage::NetworkVolume { volume_name, .. } => (json!(volume_name), Value::Null),
    };
    let mut m = Map::new();
    m.insert("schema_version".into(), json!("v2"));
    m.insert(
        "pulled_at_utc".into(),
        json!(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    m.insert("failed".into(), json!(input.outcome == Outcome::Failure));
    m.insert("job_name".into(), json!(config.raw_name));
    m.insert("run_id".into(), json!(config.run_id));
    m.insert("config_path".into(), json!(config.canonical_path));
    m.insert("storage_mode".into(), json!(config.pod.storage.mode_name()));
    m.insert(
        "datacenter_id".into(),
        json!(
            spec.and_then(|s| s.datacenter_id.clone()).or_else(|| config
                .pod
                .datacenters
                .first()
                .cloned())
        ),
    );
    m.insert("gpu_id".into(), json!(spec.and_then(|s| s.gpu_id.clone())));
    m.insert("gpu_price_per_hour_usd".into(), json!(price));
    m.insert("gpu_price_source".into(), json!(source));
    m.insert("pod_id".into(), json!(pod.map(|p| p.id.clone())));
    m.insert(
        "pod_final_state".into(),
        json!(input.state_at_job_end.map(|s| s.as_str())),
    );
    m.insert("pod_resumed".into(), json!(input.pod_resumed));
    m.insert("image".into(), json!(config.pod.image));
    m.insert("cost_cap_usd".into(), json!(config.budget.cost_cap_usd));
    m.insert(
        "wall_time_sec".into(),
        json!((wall * 1000.0).round() / 1000.0),
    );
    m.insert(
        "estimated_cost_usd".into(),
        json!(((price * wall / 3600.0) * 10000.0).round() / 10000.0),
    );
    m.insert("volume_mount".into(), json!(config.pod.storage.mount()));
    m.insert("volume_name".into(), volume_name);
    m.insert("volume_gb".into(), volume_gb);
    m.insert("deploy_metadata".into(), deploy_metadata(config));
    m.insert("artifacts".into(), json!(runner.artifacts));
    m.insert(
        "telemetry_files".into(),
        json!(telemetry_files(&runner.run_dir())),
    );
    // rpd's additions
    m.insert("rpd_version".into(), json!(env!("CARGO_PKG_VERSION")));
    m.insert("provider".into(), json!(input.provider));
    m.insert(
        "pod_state_after_lifecycle".into(),
        json!(
            input
                .state_after_lifecycle
                .map(|s| s.as_str())
                .unwrap_or("GONE")
        ),
    );
    m.insert("lifecycle_action".into(), json!(input.lifecycle_action));
    m.insert("exit_code".into(), json!(runner.exit_code));
    m.insert("failure".into(), json!(input.failure));
    let steps: Vec<_> = input.pod_timings.iter().chain(&runner.timings).collect();
    m.insert("step_durations".into(), json!(steps));
    m.insert(
        "ssh_handshakes".into(),
        json!(runner.transport().handshakes()),
    );
    m.insert("bytes_transferred".into(), json!(runner.transferred.bytes));
    m.insert("files_transferred".into(), json!(runner.transferred.files));
    m.insert("staging".into(), json!(runner.pushes));
    Value::Object(m)
}

pub fn write(input: &ManifestInput) -> std::io::Result<()> {
    let dir = input.runner.run_dir();
    std::fs::create_dir_all(&dir)?;
    let mut text = serde_json::to_vec_pretty(&build(input)).expect("manifest serializes");
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

fn deploy_metadata(config: &Config) -> Value {
    let root = &config.project_root;
    let mut meta = Map::new();
    if config.telemetry.capture_local_git {
        meta.insert(
            "local_git_sha".into(),
            json!(git(root, &["rev-parse", "HEAD"])),
        );
        meta.insert(
            "local_git_dirty".into(),
            json!(git(root, &["status", "--porcelain"]).map(|s| !s.is_empty())),
        );
        meta.insert(
            "local_git_branch".into(),
            json!(git(root, &["rev-parse", "--abbrev-ref", "HEAD"])),
        );
    }
    if config.telemetry.capture_payload_lockfile {
        let lock = ["uv.lock", "requirements.txt"]
            .iter()
            .map(|name| root.join(name))
            .find(|p| p.is_file());
        meta.insert(
            "payload_lockfile".into(),
            json!(
                lock.as_ref()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            ),
        );
        meta.insert(
            "payload_lockfile_sha256".into(),
            json!(
                lock.and_then(|p| std::fs::read(p).ok())
                    .map(|b| format!("{:x}", Sha256::digest(b)))
            ),
        );
    }
    Value::Object(meta)
}
