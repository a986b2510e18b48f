//! The run history: one [`RunRecord`] per run directory, read from the
//! manifest rpd (or runpod-deploy) wrote there. Pure: the command lists the
//! directories and reads the files.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// How the run's pod came to be ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// A pod created for the run (image pull, boot).
    Cold,
    /// A paused pod resumed.
    Warm,
    /// A pod that was already running.
    Reused,
}

impl Start {
    pub fn as_str(self) -> &'static str {
        match self {
            Start::Cold => "cold",
            Start::Warm => "warm",
            Start::Reused => "reused",
        }
    }
}

/// The steps from asking for a pod until the script starts: what a warm
/// pod saves is in here (the image pull, the boot, staging onto a volume
/// that already has the files).
const READY_STEPS: &[&str] = &[
    "create",
    "start",
    "wait_ready",
    "connect",
    "setup",
    "secrets",
    "staging",
    "preflight",
];

/// One run, as its manifest tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Any directory beside rpd's runs is listed, whatever its name.
    #[serde(serialize_with = "crate::input::path_as_text")]
    pub run_dir: PathBuf,
    /// When its results were pulled (the run's end), else the directory's stamp.
    pub at: Option<DateTime<Utc>>,
    pub job_name: String,
    #[serde(serialize_with = "crate::input::optional_path_as_text")]
    pub config: Option<PathBuf>,
    pub pod_id: Option<String>,
    pub start: Start,
    /// From asking for a pod until the script started, when recorded.
    pub ready_sec: Option<f64>,
    /// The script itself (else the manifest's wall time).
    pub job_sec: Option<f64>,
    pub failed: bool,
    pub estimated_cost_usd: Option<f64>,
    pub price_per_hr: Option<f64>,
    pub gpu_id: Option<String>,
    pub datacenter_id: Option<String>,
    pub image: Option<String>,
    pub volume_gb: Option<u32>,
}

/// `<stamp>-<job>-<hex>` (rpd) or `<stamp>` (runpod-deploy): the stamp.
fn stamp_of(run_dir: &Path) -> Option<DateTime<Utc>> {
    let name = run_dir.file_name()?.to_str()?;
    let stamp = name.get(..16)?;
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// Reads one manifest; fields it lacks (runpod-deploy's manifests have no
/// step durations) are unknown. Only a manifest that is not a JSON object
/// is refused.
pub fn from_manifest(run_dir: &Path, manifest: &Value) -> Result<RunRecord, String> {
    let Some(m) = manifest.as_object() else {
        return Err("the manifest is not a JSON object".into());
    };
    let text = |key: &str| m.get(key).and_then(Value::as_str).map(String::from);
    let number = |key: &str| m.get(key).and_then(Value::as_f64);
    let steps: Vec<(&str, f64)> = m
        .get("step_durations")
        .and_then(Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| Some((s.get("step")?.as_str()?, s.get("duration_sec")?.as_f64()?)))
                .collect()
        })
        .unwrap_or_default();
    let has = |name: &str| steps.iter().any(|(step, _)| *step == name);
    let start = if has("create") {
        Start::Cold
    } else if has("start") {
        Start::Warm
    } else if steps.is_empty() {
        // runpod-deploy: a resume is flagged, anything else was created.
        if m.get("pod_resumed").and_then(Value::as_bool) == Some(true) {
            Start::Warm
        } else {
            Start::Cold
        }
    } else {
        Start::Reused
    };
    let ready_sec = (has("create") || has("start")).then(|| {
        steps
            .iter()
            .filter(|(step, _)| READY_STEPS.contains(step))
            .map(|(_, d)| d)
            .sum()
    });
    let job_sec = steps
        .iter()
        .find(|(step, _)| *step == "monitor")
        .map(|(_, d)| *d)
        .or_else(|| number("wall_time_sec"));
    Ok(RunRecord {
        run_dir: run_dir.to_path_buf(),
        at: text("pulled_at_utc")
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
            .or_else(|| stamp_of(run_dir)),
        job_name: text("job_name").unwrap_or_default(),
        config: text("config_path").map(PathBuf::from),
        pod_id: text("pod_id"),
        start,
        ready_sec,
        job_sec,
        failed: m.get("failed").and_then(Value::as_bool).unwrap_or(false),
        estimated_cost_usd: number("estimated_cost_usd"),
        price_per_hr: number("gpu_price_per_hour_usd"),
        gpu_id: text("gpu_id"),
        datacenter_id: text("datacenter_id"),
        image: text("image"),
        volume_gb: m
            .get("volume_gb")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok()),
    })
}

/// Whether a run belongs to the config at `config` (absolute) with this job
/// name: by the manifest's config path, else (a relative or missing one, as
/// runpod-deploy may write) by job name.
pub fn belongs_to(run: &RunRecord, config: &Path, job_name: &str) -> bool {
    match &run.config {
        Some(path) if path.is_absolute() => path == config,
        _ => run.job_name == job_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rpd_manifest_says_cold_or_warm_and_how_long_until_the_script_started() {
        let manifest = serde_json::json!({
            "schema_version": "v2",
            "pulled_at_utc": "2026-11-27T10:00:00Z",
            "failed": false,
            "job_name": "train",
            "config_path": "/p/train.yaml",
            "pod_id": "p1",
            "pod_resumed": true,
            "gpu_price_per_hour_usd": 0.44,
            "estimated_cost_usd": 0.0808,
            "step_durations": [
                {"step": "start", "duration_sec": 1.0, "ok": true},
                {"step": "wait_ready", "duration_sec": 14.0, "ok": true},
                {"step": "connect", "duration_sec": 2.0, "ok": true},
                {"step": "setup", "duration_sec": 30.0, "ok": true},
                {"step": "staging", "duration_sec": 8.0, "ok": true},
                {"step": "launch", "duration_sec": 1.0, "ok": true},
                {"step": "monitor", "duration_sec": 600.0, "ok": true},
                {"step": "pull", "duration_sec": 3.0, "ok": true},
                {"step": "stop", "duration_sec": 5.0, "ok": true}
            ]
        });
        let run = from_manifest(
            Path::new("/p/artifacts/runpod/20261127T094800Z-train-1a2b3c"),
            &manifest,
        )
        .unwrap();
        assert_eq!(run.start, Start::Warm);
        assert_eq!(run.ready_sec, Some(55.0));
        assert_eq!(run.job_sec, Some(600.0));
        assert!(belongs_to(&run, Path::new("/p/train.yaml"), "other"));
        assert!(!belongs_to(&run, Path::new("/q/train.yaml"), "train"));
    }

    #[test]
    fn a_runpod_deploy_manifest_has_no_ready_time_and_its_stamp_from_the_directory() {
        let manifest = serde_json::json!({
            "schema_version": "v2",
            "failed": true,
            "job_name": "hello",
            "config_path": "configs/hello.yaml",
            "pod_resumed": false,
            "wall_time_sec": 120.5,
        });
        let run =
            from_manifest(Path::new("/p/artifacts/runpod/20260517T101500Z"), &manifest).unwrap();
        assert_eq!(run.start, Start::Cold);
        assert_eq!(run.ready_sec, None);
        assert_eq!(run.job_sec, Some(120.5));
        assert_eq!(
            run.at,
            Some("2026-05-17T10:15:00Z".parse::<DateTime<Utc>>().unwrap())
        );
        assert!(belongs_to(&run, Path::new("/p/hello.yaml"), "hello"));
        assert!(from_manifest(Path::new("/x"), &serde_json::json!([1])).is_err());
    }
}
