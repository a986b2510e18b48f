//! The lines a picture of the run draws, from the kept samples.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::metrics::{Metrics, Sample};

/// What a series measures; its scale is 0 to [`Series::top`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Percent busy.
    GpuUtil,
    /// GB used (GiB: nvidia-smi's 24564 MiB is the "24 GB" card people
    /// know).
    GpuMemory,
    /// Percent busy, user + system.
    Cpu,
    /// GB used.
    HostMemory,
}

impl Measure {
    /// Whether the scale is a percentage (else GB).
    pub fn is_percent(self) -> bool {
        matches!(self, Measure::GpuUtil | Measure::Cpu)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub measure: Measure,
    /// The GPU, on a run with more than one.
    pub gpu: Option<u32>,
    /// The top of the scale: 100 for a percentage, the memory's size.
    pub top: f64,
    /// The peak reading.
    pub peak: f64,
    /// In time order; a sample without this reading is left out.
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// The GPUs' utilisation then their memory, or CPU then host memory when
/// no sample has a GPU reading. A series with no point is left out.
pub fn of(metrics: &Metrics) -> Vec<Series> {
    let mut samples: Vec<&Sample> = metrics.kept.iter().collect();
    samples.sort_by_key(|s| s.at);
    let mut series = Vec::new();
    let many = metrics.gpus.len() > 1;
    if metrics.has_gpu() {
        for measure in [Measure::GpuUtil, Measure::GpuMemory] {
            for gpu in &metrics.gpus {
                let reading = |s: &Sample| {
                    let g = s.gpus.iter().find(|g| g.index == gpu.index)?;
                    match measure {
                        Measure::GpuUtil => g.util_pct,
                        _ => g.mem_used_mb.map(gb),
                    }
                };
                let top = match measure {
                    Measure::GpuUtil => Some(100.0),
                    _ => gpu.mem_total_mb.map(gb),
                };
                series.extend(build(
                    measure,
                    many.then_some(gpu.index),
                    top,
                    &samples,
                    reading,
                ));
            }
        }
    } else {
        series.extend(build(Measure::Cpu, None, Some(100.0), &samples, |s| {
            s.cpu_pct()
        }));
        series.extend(build(
            Measure::HostMemory,
            None,
            metrics.host_mem_total_mb.map(gb),
            &samples,
            |s| s.host_mem_used_mb.map(gb),
        ));
    }
    series
}

/// The sampler's MB (nvidia-smi's and `free -m`'s MiB) as GB (GiB).
pub fn gb(mb: f64) -> f64 {
    mb / 1024.0
}

fn build(
    measure: Measure,
    gpu: Option<u32>,
    top: Option<f64>,
    samples: &[&Sample],
    reading: impl Fn(&Sample) -> Option<f64>,
) -> Option<Series> {
    let points: Vec<(DateTime<Utc>, f64)> = samples
        .iter()
        .filter_map(|s| Some((s.at, reading(s)?)))
        .collect();
    let peak = points.iter().map(|p| p.1).fold(f64::NAN, f64::max);
    if points.is_empty() {
        return None;
    }
    // No known size: the peak is the top (a line still shows its shape).
    let top = top.unwrap_or(peak).max(peak).max(f64::MIN_POSITIVE);
    Some(Series {
        measure,
        gpu,
        top,
        peak,
        points,
    })
}
