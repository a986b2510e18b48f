//! A run's telemetry, read from its run directory (the files of
//! TELEMETRY.md, runpod-deploy's names): the samples of `metrics.jsonl`,
//! the kernel's lines, `nvidia-smi`'s tables and the pod's description,
//! turned into typed [`Finding`]s and the [`Series`] a picture draws.
//!
//! Reading never fails and never panics: a file that is missing, not a
//! regular file, too large or garbled gives what can be read of it, and a
//! run without telemetry gives nothing. Every read is bounded (metrics at
//! [`MAX_METRICS_BYTES`], the captures at `input`'s 4 MiB). Imports only
//! `input`; the words are the render layer's.

mod captures;
pub mod dmesg;
pub mod findings;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod metrics;
mod series;

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use captures::{NvidiaSmi, SmiGpu};
pub use findings::{Finding, Severity};
pub use metrics::Metrics;
pub use series::{Measure, Series, gb};

pub const METRICS_FILE: &str = "metrics.jsonl";
pub const DMESG_FILE: &str = "dmesg_tail.txt";
pub const NVIDIA_SMI_START_FILE: &str = "nvidia_smi_start.txt";
pub const NVIDIA_SMI_END_FILE: &str = "nvidia_smi_end.txt";
pub const POD_DESCRIBE_END_FILE: &str = "pod_describe_end.json";
/// The picture rpd draws beside `metrics.jsonl`.
pub const SVG_FILE: &str = "metrics.svg";

/// The most of `metrics.jsonl` that is read: 64 MiB (one GPU sampled
/// every 30 s for a year is about 400 MiB; every second for two days,
/// 64 MiB). Bounds the time the end of a run spends on it too.
pub const MAX_METRICS_BYTES: u64 = 64 * 1024 * 1024;

/// A telemetry file that is there but could not be read, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unreadable {
    pub file: &'static str,
    pub why: String,
}

/// What a run directory's telemetry files hold; `None` for each file
/// that is not there.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunTelemetry {
    #[serde(serialize_with = "crate::input::path_as_text")]
    pub run_dir: PathBuf,
    pub metrics: Option<Metrics>,
    pub dmesg: Option<dmesg::Dmesg>,
    pub nvidia_smi_start: Option<NvidiaSmi>,
    pub nvidia_smi_end: Option<NvidiaSmi>,
    pub pod_status_at_end: Option<String>,
    pub unreadable: Vec<Unreadable>,
}

impl RunTelemetry {
    /// No telemetry file was there (telemetry off, or a run older than it).
    pub fn is_empty(&self) -> bool {
        self.metrics.is_none()
            && self.dmesg.is_none()
            && self.nvidia_smi_start.is_none()
            && self.nvidia_smi_end.is_none()
            && self.pod_status_at_end.is_none()
            && self.unreadable.is_empty()
    }

    pub fn findings(&self) -> Vec<Finding> {
        findings::find(self)
    }

    /// What a picture of the run draws: the GPUs' utilisation and memory,
    /// or (without GPU readings) CPU and host memory.
    pub fn series(&self) -> Vec<Series> {
        self.metrics.as_ref().map(series::of).unwrap_or_default()
    }

    /// The GPUs by name (`nvidia-smi` at the start, else at the end).
    pub fn gpu_names(&self) -> Vec<String> {
        let smi = self
            .nvidia_smi_start
            .as_ref()
            .filter(|s| !s.gpus.is_empty())
            .or(self.nvidia_smi_end.as_ref());
        smi.map(|s| s.gpus.iter().map(|g| g.name.clone()).collect())
            .unwrap_or_default()
    }

    pub fn driver(&self) -> Option<(&str, Option<&str>)> {
        let smi = self
            .nvidia_smi_start
            .as_ref()
            .filter(|s| s.driver.is_some())
            .or(self.nvidia_smi_end.as_ref())?;
        Some((smi.driver.as_deref()?, smi.cuda.as_deref()))
    }
}

/// Kernel lines this long before the first sample or after the last one
/// still count as the run's (the job starts and ends between samples).
const RUN_WINDOW_SLACK_SEC: f64 = 120.0;

/// Reads the telemetry files of `run_dir`.
pub fn read(run_dir: &Path) -> RunTelemetry {
    let mut unreadable = Vec::new();
    let mut text = |file: &'static str| -> Option<String> {
        match crate::input::read(&run_dir.join(file)) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(err) if err.is_not_found() => None,
            Err(err) => {
                unreadable.push(Unreadable {
                    file,
                    why: err.to_string(),
                });
                None
            }
        }
    };
    let dmesg = text(DMESG_FILE).map(|t| dmesg::scan(&t));
    let nvidia_smi_start = text(NVIDIA_SMI_START_FILE).map(|t| captures::nvidia_smi(&t));
    let nvidia_smi_end = text(NVIDIA_SMI_END_FILE).map(|t| captures::nvidia_smi(&t));
    let pod_status_at_end = text(POD_DESCRIBE_END_FILE)
        .and_then(|t| serde_json::from_str(&t).ok())
        .and_then(|v| captures::pod_status(&v));
    let metrics = match read_metrics(&run_dir.join(METRICS_FILE)) {
        Ok(metrics) => metrics,
        Err(why) => {
            unreadable.push(Unreadable {
                file: METRICS_FILE,
                why,
            });
            None
        }
    };
    // The host's kernel log is the whole host's, from its boot on: only
    // what happened during the run is this run's (when the samples say
    // when that was).
    let dmesg = match (dmesg, metrics.as_ref().and_then(|m| m.uptime_window)) {
        (Some(dmesg), Some(window)) => Some(dmesg.within(window, RUN_WINDOW_SLACK_SEC)),
        (dmesg, _) => dmesg,
    };
    RunTelemetry {
        run_dir: run_dir.to_path_buf(),
        metrics,
        dmesg,
        nvidia_smi_start,
        nvidia_smi_end,
        pod_status_at_end,
        unreadable,
    }
}

/// `metrics.jsonl` as a stream of at most [`MAX_METRICS_BYTES`].
fn read_metrics(path: &Path) -> Result<Option<Metrics>, String> {
    let file = match crate::input::open_regular(path) {
        Ok(file) => file,
        Err(err) if err.is_not_found() => return Ok(None),
        Err(err) => return Err(err.to_string()),
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = BufReader::new(file.take(MAX_METRICS_BYTES));
    Ok(Some(metrics::parse(reader, size > MAX_METRICS_BYTES)))
}

#[cfg(test)]
mod tests;
