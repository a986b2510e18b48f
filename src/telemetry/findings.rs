//! What matters in a run's telemetry, as typed findings: the render layer
//! words them (`render/words/telemetry.rs`). A finding is made only from
//! readings that support it: no GPU finding without GPU fields, no share
//! of the run from fewer than [`MIN_SAMPLES`] samples. Advice only: rpd
//! acts on none of them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::RunTelemetry;
use super::dmesg::{KernelTime, XidBlame, xid_meaning};
use super::metrics::Metrics;

/// The fewest samples a share of the run ("idle 80 % of the run") is
/// said from.
pub const MIN_SAMPLES: u64 = 3;
/// The run's GPUs were idle (every one under [`super::metrics::IDLE_BELOW_PCT`])
/// in at least this share of the samples: said as idle.
pub const IDLE_SHARE_PCT: f64 = 50.0;
/// A GPU idle in at least this share of the samples while another worked
/// is said to be unused.
pub const UNUSED_SHARE_PCT: f64 = 90.0;
/// Memory (GPU or host) or the volume this full (percent) at its peak is
/// said to be close to running out.
pub const NEARLY_FULL_PCT: f64 = 95.0;
/// A GPU this hot (°C) may have slowed itself down.
pub const HOT_C: f64 = 85.0;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something went wrong on the pod or its host.
    Problem,
    /// Worth a look: the run may be wasting money or close to a limit.
    Advice,
    /// How the run used what it paid for.
    Info,
}

/// One GPU's peak memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuUse {
    pub index: u32,
    pub mean_util_pct: Option<f64>,
    pub mem_peak_mb: Option<f64>,
    pub mem_total_mb: Option<f64>,
}

impl GpuUse {
    /// The peak as a share (0-100) of the GPU's memory, when both are known.
    pub fn mem_peak_pct(&self) -> Option<f64> {
        Some(100.0 * self.mem_peak_mb? / self.mem_total_mb?)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// The kernel killed a process because memory ran out.
    OomKill {
        at: Option<KernelTime>,
        process: Option<String>,
        pid: Option<u32>,
        cgroup: bool,
        /// Kills in the tail besides this, the first one.
        more: usize,
    },
    /// The NVIDIA driver reported an Xid error (one finding per code).
    Xid {
        code: u32,
        meaning: Option<&'static str>,
        blame: Option<XidBlame>,
        at: Option<KernelTime>,
        pci: Option<String>,
        count: usize,
    },
    /// Uncorrected ECC errors on a GPU (from the samples, else the end's
    /// `nvidia-smi`).
    EccErrors {
        gpus: Vec<u32>,
        errors: u64,
        first_at: Option<DateTime<Utc>>,
    },
    /// The pod's description at the end gives a status other than RUNNING
    /// or EXITED (runpod-deploy's `pod_killed_unexpected`).
    PodStatusAtEnd {
        status: String,
    },
    /// Every GPU idle in most samples.
    GpuIdle {
        idle_pct: f64,
        samples: u64,
    },
    /// Some GPUs worked, these hardly did.
    GpusUnused {
        idle: Vec<u32>,
        busy: Vec<u32>,
    },
    GpuHot {
        index: u32,
        peak_c: f64,
    },
    HostMemoryNearlyFull {
        peak_mb: f64,
        total_mb: f64,
    },
    DiskNearlyFull {
        peak_bytes: f64,
        total_bytes: f64,
    },
    /// How busy the GPUs were and their memory's peak (a problem when
    /// close to full: see [`Finding::severity`]).
    GpuUse {
        gpus: Vec<GpuUse>,
    },
    /// A run without GPU readings: CPU and host memory.
    HostUse {
        mean_cpu_pct: Option<f64>,
        mem_peak_mb: Option<f64>,
        mem_total_mb: Option<f64>,
    },
}

impl Finding {
    pub fn severity(&self) -> Severity {
        match self {
            Finding::OomKill { .. }
            | Finding::Xid { .. }
            | Finding::EccErrors { .. }
            | Finding::PodStatusAtEnd { .. } => Severity::Problem,
            Finding::GpuIdle { .. }
            | Finding::GpusUnused { .. }
            | Finding::GpuHot { .. }
            | Finding::HostMemoryNearlyFull { .. }
            | Finding::DiskNearlyFull { .. } => Severity::Advice,
            Finding::GpuUse { gpus } => {
                if gpus
                    .iter()
                    .any(|g| g.mem_peak_pct().is_some_and(|p| p >= NEARLY_FULL_PCT))
                {
                    Severity::Advice
                } else {
                    Severity::Info
                }
            }
            Finding::HostUse { .. } => Severity::Info,
        }
    }
}

/// The findings, problems first.
pub fn find(telemetry: &RunTelemetry) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(dmesg) = &telemetry.dmesg {
        if let Some(first) = dmesg.oom_kills.first() {
            findings.push(Finding::OomKill {
                at: first.at.clone(),
                process: first.process.clone(),
                pid: first.pid,
                cgroup: first.cgroup,
                more: dmesg.oom_kills.len() - 1,
            });
        }
        let mut codes: Vec<u32> = dmesg.xids.iter().map(|x| x.code).collect();
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            let all: Vec<_> = dmesg.xids.iter().filter(|x| x.code == code).collect();
            let meaning = xid_meaning(code);
            findings.push(Finding::Xid {
                code,
                meaning: meaning.map(|m| m.0),
                blame: meaning.map(|m| m.1),
                at: all[0].at.clone(),
                pci: all[0].pci.clone(),
                count: all.len(),
            });
        }
    }
    if let Some(ecc) = ecc_errors(telemetry) {
        findings.push(ecc);
    }
    if let Some(status) = &telemetry.pod_status_at_end
        && status != "RUNNING"
        && status != "EXITED"
    {
        findings.push(Finding::PodStatusAtEnd {
            status: status.clone(),
        });
    }
    if let Some(metrics) = &telemetry.metrics {
        findings.extend(from_metrics(metrics));
    }
    findings.sort_by_key(Finding::severity);
    findings
}

fn ecc_errors(telemetry: &RunTelemetry) -> Option<Finding> {
    let from_samples: Vec<_> = telemetry
        .metrics
        .iter()
        .flat_map(|m| &m.gpus)
        .filter(|g| g.ecc_max.is_some_and(|e| e > 0.0))
        .collect();
    if !from_samples.is_empty() {
        return Some(Finding::EccErrors {
            gpus: from_samples.iter().map(|g| g.index).collect(),
            errors: from_samples
                .iter()
                .map(|g| g.ecc_max.unwrap_or(0.0) as u64)
                .sum(),
            first_at: from_samples.iter().filter_map(|g| g.ecc_first_at).min(),
        });
    }
    let at_end: Vec<_> = telemetry
        .nvidia_smi_end
        .iter()
        .flat_map(|s| &s.gpus)
        .filter(|g| g.ecc_uncorrected.is_some_and(|e| e > 0))
        .collect();
    (!at_end.is_empty()).then(|| Finding::EccErrors {
        gpus: at_end.iter().map(|g| g.index).collect(),
        errors: at_end.iter().filter_map(|g| g.ecc_uncorrected).sum(),
        first_at: None,
    })
}

fn from_metrics(metrics: &Metrics) -> Vec<Finding> {
    let mut findings = Vec::new();
    if metrics.gpu_util_samples >= MIN_SAMPLES {
        let idle_pct = 100.0 * metrics.all_idle_samples as f64 / metrics.gpu_util_samples as f64;
        if idle_pct >= IDLE_SHARE_PCT {
            findings.push(Finding::GpuIdle {
                idle_pct,
                samples: metrics.gpu_util_samples,
            });
        } else if metrics.gpus.len() > 1 {
            let (idle, busy): (Vec<_>, Vec<_>) = metrics
                .gpus
                .iter()
                .filter(|g| g.util_samples >= MIN_SAMPLES)
                .partition(|g| g.idle_share_pct().is_some_and(|p| p >= UNUSED_SHARE_PCT));
            if !idle.is_empty() && !busy.is_empty() {
                findings.push(Finding::GpusUnused {
                    idle: idle.iter().map(|g| g.index).collect(),
                    busy: busy.iter().map(|g| g.index).collect(),
                });
            }
        }
    }
    for gpu in &metrics.gpus {
        if let Some(peak) = gpu.temp_peak_c.filter(|t| *t >= HOT_C) {
            findings.push(Finding::GpuHot {
                index: gpu.index,
                peak_c: peak,
            });
        }
    }
    if let (Some(peak), Some(total)) = (metrics.host_mem_peak_mb, metrics.host_mem_total_mb)
        && 100.0 * peak / total >= NEARLY_FULL_PCT
    {
        findings.push(Finding::HostMemoryNearlyFull {
            peak_mb: peak,
            total_mb: total,
        });
    }
    if let (Some(peak), Some(total)) = (metrics.disk_peak_bytes, metrics.disk_total_bytes)
        && 100.0 * peak / total >= NEARLY_FULL_PCT
    {
        findings.push(Finding::DiskNearlyFull {
            peak_bytes: peak,
            total_bytes: total,
        });
    }
    let gpus: Vec<GpuUse> = metrics
        .gpus
        .iter()
        .map(|g| GpuUse {
            index: g.index,
            mean_util_pct: g.mean_util_pct(),
            mem_peak_mb: g.mem_peak_mb,
            mem_total_mb: g.mem_total_mb,
        })
        .filter(|g| g.mean_util_pct.is_some() || g.mem_peak_mb.is_some())
        .collect();
    if !gpus.is_empty() {
        findings.push(Finding::GpuUse { gpus });
    } else if !metrics.has_gpu()
        && (metrics.mean_cpu_pct().is_some() || metrics.host_mem_peak_mb.is_some())
    {
        findings.push(Finding::HostUse {
            mean_cpu_pct: metrics.mean_cpu_pct(),
            mem_peak_mb: metrics.host_mem_peak_mb,
            mem_total_mb: metrics.host_mem_total_mb,
        });
    }
    findings
}
