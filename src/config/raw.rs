//! The config as written: runpod-deploy's schema_version 2, key for key.
//! Strict (unknown keys are errors) and typed the way its loader is typed:
//! integers reject booleans, booleans must be YAML booleans, lists must be
//! lists. Nothing here is validated or defaulted beyond serde's `default`.

use indexmap::IndexMap;
use serde::Deserialize;

/// Every root key runpod-deploy 0.8.4 accepts (plus the removed `stop`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub schema_version: Option<i64>,
    pub name: String,
    #[serde(default)]
    pub run_id_prefix: Option<String>,
    #[serde(default)]
    pub state_file: Option<String>,
    #[serde(default)]
    pub local: RawLocal,
    pub pod: RawPod,
    pub storage: RawStorage,
    #[serde(default)]
    pub ssh: RawSsh,
    #[serde(default)]
    pub budget: RawBudget,
    #[serde(default)]
    pub remote_env: RawRemoteEnv,
    #[serde(default)]
    pub setup: Option<Vec<RawCommand>>,
    #[serde(default)]
    pub preflight: Option<Vec<RawCommand>>,
    #[serde(default)]
    pub staging: Option<Vec<RawPush>>,
    #[serde(default)]
    pub secrets: Option<Vec<RawSecret>>,
    pub run: RawRun,
    #[serde(default)]
    pub artifacts: Option<Vec<RawArtifact>>,
    #[serde(default)]
    pub lifecycle: RawLifecycle,
    #[serde(default)]
    pub telemetry: RawTelemetry,
    #[serde(default)]
    pub variables: IndexMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLocal {
    #[serde(default)]
    pub project_root: Option<String>,
    #[serde(default)]
    pub required_paths: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPod {
    pub image: String,
    pub datacenters: Vec<String>,
    pub gpu_order: Vec<String>,
    #[serde(default)]
    pub cloud_type: Option<String>,
    #[serde(default)]
    pub ports: Option<Vec<String>>,
    #[serde(default)]
    pub container_disk_gb: Option<i64>,
    #[serde(default)]
    pub gpu_count: Option<i64>,
    #[serde(default)]
    pub spot: bool,
    #[serde(default)]
    pub min_vcpu_count: Option<i64>,
    #[serde(default)]
    pub min_memory_gb: Option<i64>,
    #[serde(default)]
    pub python_version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub mode: String,
    #[serde(default)]
    pub volume_mount: Option<String>,
    #[serde(default)]
    pub volume_name: Option<String>,
    #[serde(default)]
    pub volume_gb: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSsh {
    #[serde(default)]
    pub key_path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    #[serde(default)]
    pub cost_cap_usd: Option<f64>,
    #[serde(default)]
    pub assumed_hourly_rate_usd: Option<f64>,
    #[serde(default)]
    pub max_runtime_minutes: Option<i64>,
    #[serde(default)]
    pub poll_interval_sec: Option<i64>,
    #[serde(default)]
    pub ssh_ready_timeout_sec: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRemoteEnv {
    #[serde(default)]
    pub source_files: Vec<String>,
    #[serde(default)]
    pub exports: IndexMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommand {
    pub command: String,
    #[serde(default)]
    pub timeout_sec: Option<i64>,
    #[serde(default)]
    pub with_env: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPush {
    pub label: String,
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub excludes: Vec<String>,
    #[serde(default)]
    pub excludes_default: bool,
    #[serde(default)]
    pub excludes_extra: Vec<String>,
    #[serde(default = "yes")]
    pub delete: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    pub name: String,
    pub destination: String,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub script_path: String,
    pub log_path: String,
    pub success_marker: String,
    #[serde(default)]
    pub failure_markers: Option<Vec<String>>,
    pub body: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArtifact {
    pub label: String,
    pub remote_path: String,
    pub local_path: String,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub excludes: Vec<String>,
    #[serde(default = "yes")]
    pub delete: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLifecycle {
    #[serde(default)]
    pub on_success: Option<String>,
    #[serde(default)]
    pub on_failure: Option<String>,
    /// rpd's own key: wait, recreate or fail (runpod-deploy has no such key).
    #[serde(default)]
    pub on_busy_host: Option<String>,
    /// rpd's own key: seconds after the job ends before the on-pod guard
    /// stops a pod that no rpd is attached to.
    #[serde(default)]
    pub unattended_stop_after_sec: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub sample_interval_sec: Option<i64>,
    #[serde(default = "yes")]
    pub capture_nvidia_smi: bool,
    #[serde(default = "yes")]
    pub capture_dmesg: bool,
    #[serde(default = "yes")]
    pub capture_pod_describe: bool,
    #[serde(default = "yes")]
    pub capture_remote_env: bool,
    #[serde(default = "yes")]
    pub capture_local_git: bool,
    #[serde(default = "yes")]
    pub capture_payload_lockfile: bool,
}

impl Default for RawTelemetry {
    fn default() -> Self {
        RawTelemetry {
            enabled: true,
            sample_interval_sec: None,
            capture_nvidia_smi: true,
            capture_dmesg: true,
            capture_pod_describe: true,
            capture_remote_env: true,
            capture_local_git: true,
            capture_payload_lockfile: true,
        }
    }
}

fn yes() -> bool {
    true
}
