//! `metrics.jsonl`: one JSON object per line, runpod-deploy's field names
//! (TELEMETRY.md). Read as a stream: the figures the findings rest on are
//! taken over every line, and the samples kept for a picture are thinned
//! (neighbours merged) past [`KEPT_SAMPLES`], so a week sampled every
//! second costs no more memory than an hour.

use std::io::BufRead;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

/// The most samples kept for a picture; more are merged pairwise (a
/// terminal or an SVG has no more columns than this anyway).
pub const KEPT_SAMPLES: usize = 4096;

/// The longest line read as a sample; a longer one is garbage.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// One GPU's readings in one sample; a reading the sampler could not take
/// is `None` (omitted or `null` in the file).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuReading {
    pub index: u32,
    pub util_pct: Option<f64>,
    pub mem_used_mb: Option<f64>,
    pub mem_total_mb: Option<f64>,
    pub temp_c: Option<f64>,
    pub ecc_errors: Option<f64>,
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub at: DateTime<Utc>,
    /// From `gpus` when the line has it, else GPU 0 from the top-level
    /// fields; empty when the line has no GPU reading at all.
    pub gpus: Vec<GpuReading>,
    pub cpu_load_1m: Option<f64>,
    pub cpu_user_pct: Option<f64>,
    pub cpu_sys_pct: Option<f64>,
    pub host_mem_used_mb: Option<f64>,
    pub host_mem_total_mb: Option<f64>,
    pub disk_used_bytes: Option<f64>,
    pub disk_total_bytes: Option<f64>,
    /// Seconds since the host booted (rpd's sampler), what dmesg counts.
    pub host_uptime_sec: Option<f64>,
}

impl Sample {
    /// CPU busy (user + system), when both were read.
    pub fn cpu_pct(&self) -> Option<f64> {
        Some((self.cpu_user_pct? + self.cpu_sys_pct?).min(100.0))
    }

    fn has_readings(&self) -> bool {
        !self.gpus.is_empty()
            || self.cpu_load_1m.is_some()
            || self.cpu_user_pct.is_some()
            || self.cpu_sys_pct.is_some()
            || self.host_mem_used_mb.is_some()
            || self.disk_used_bytes.is_some()
    }

    /// Two neighbouring samples as one, for a thinned picture: busy
    /// figures averaged, what fills up (memory, disk, temperature, errors)
    /// at its peak, so a spike is never thinned away.
    fn merge(&self, next: &Sample) -> Sample {
        let gpus = self
            .gpus
            .iter()
            .map(
                |gpu| match next.gpus.iter().find(|g| g.index == gpu.index) {
                    Some(other) => GpuReading {
                        index: gpu.index,
                        util_pct: mean(gpu.util_pct, other.util_pct),
                        mem_used_mb: peak(gpu.mem_used_mb, other.mem_used_mb),
                        mem_total_mb: peak(gpu.mem_total_mb, other.mem_total_mb),
                        temp_c: peak(gpu.temp_c, other.temp_c),
                        ecc_errors: peak(gpu.ecc_errors, other.ecc_errors),
                    },
                    None => gpu.clone(),
                },
            )
            .chain(
                next.gpus
                    .iter()
                    .filter(|g| !self.gpus.iter().any(|s| s.index == g.index))
                    .cloned(),
            )
            .collect();
        Sample {
            at: self.at,
            gpus,
            cpu_load_1m: mean(self.cpu_load_1m, next.cpu_load_1m),
            cpu_user_pct: mean(self.cpu_user_pct, next.cpu_user_pct),
            cpu_sys_pct: mean(self.cpu_sys_pct, next.cpu_sys_pct),
            host_mem_used_mb: peak(self.host_mem_used_mb, next.host_mem_used_mb),
            host_mem_total_mb: peak(self.host_mem_total_mb, next.host_mem_total_mb),
            disk_used_bytes: peak(self.disk_used_bytes, next.disk_used_bytes),
            disk_total_bytes: peak(self.disk_total_bytes, next.disk_total_bytes),
            host_uptime_sec: self.host_uptime_sec.or(next.host_uptime_sec),
        }
    }
}

fn mean(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a + b) / 2.0),
        (a, b) => a.or(b),
    }
}

fn peak(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// What one GPU did over the whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GpuStats {
    pub index: u32,
    /// Samples with a utilisation reading, and how many of them were idle.
    pub util_samples: u64,
    pub idle_samples: u64,
    pub util_sum: f64,
    pub mem_peak_mb: Option<f64>,
    pub mem_total_mb: Option<f64>,
    pub temp_peak_c: Option<f64>,
    /// The most uncorrected ECC errors any sample reported, and when a
    /// sample first reported one.
    pub ecc_max: Option<f64>,
    pub ecc_first_at: Option<DateTime<Utc>>,
}

impl GpuStats {
    pub fn mean_util_pct(&self) -> Option<f64> {
        (self.util_samples > 0).then(|| self.util_sum / self.util_samples as f64)
    }

    /// The share (0-100) of the samples in which it was idle.
    pub fn idle_share_pct(&self) -> Option<f64> {
        (self.util_samples > 0).then(|| 100.0 * self.idle_samples as f64 / self.util_samples as f64)
    }
}

/// The whole file: the figures over every sample, and the samples kept
/// for a picture.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Lines read as samples.
    pub samples: u64,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    /// The host's uptime at the first and the last sample that has it: the
    /// run's window in dmesg's seconds since boot.
    pub uptime_window: Option<(f64, f64)>,
    /// Lines that are not a sample (not JSON, no `ts_utc`), a torn last line
    /// left out.
    pub skipped_lines: u64,
    /// The last line ended without a newline and was not JSON: a sampler
    /// stopped mid-write. Expected, never an error.
    pub torn_last_line: bool,
    /// Only the first [`super::MAX_METRICS_BYTES`] were read.
    pub truncated: bool,
    /// Sorted by index.
    pub gpus: Vec<GpuStats>,
    /// Samples with a utilisation reading of some GPU, and those in which
    /// every GPU was idle.
    pub gpu_util_samples: u64,
    pub all_idle_samples: u64,
    pub cpu_samples: u64,
    pub cpu_sum: f64,
    pub host_mem_peak_mb: Option<f64>,
    pub host_mem_total_mb: Option<f64>,
    pub disk_peak_bytes: Option<f64>,
    pub disk_total_bytes: Option<f64>,
    /// Thinned to at most [`KEPT_SAMPLES`], in the file's order.
    #[serde(skip)]
    pub kept: Vec<Sample>,
    /// How many lines each kept sample stands for (1, 2, 4, ...).
    pub kept_stride: u64,
    #[serde(skip)]
    pending: Option<(Sample, u64)>,
}

/// A GPU utilisation under this (percent) counts as idle.
pub const IDLE_BELOW_PCT: f64 = 10.0;

impl Metrics {
    /// Whether any sample has a GPU reading.
    pub fn has_gpu(&self) -> bool {
        !self.gpus.is_empty()
    }

    pub fn mean_cpu_pct(&self) -> Option<f64> {
        (self.cpu_samples > 0).then(|| self.cpu_sum / self.cpu_samples as f64)
    }

    fn add(&mut self, sample: Sample) {
        self.samples += 1;
        self.first_at = Some(self.first_at.map_or(sample.at, |t| t.min(sample.at)));
        self.last_at = Some(self.last_at.map_or(sample.at, |t| t.max(sample.at)));
        if let Some(up) = sample.host_uptime_sec {
            self.uptime_window = Some(match self.uptime_window {
                Some((low, high)) => (low.min(up), high.max(up)),
                None => (up, up),
            });
        }
        let mut any_util = false;
        let mut all_idle = true;
        for gpu in &sample.gpus {
            let stats = match self.gpus.binary_search_by_key(&gpu.index, |g| g.index) {
                Ok(at) => &mut self.gpus[at],
                Err(at) => {
                    self.gpus.insert(
                        at,
                        GpuStats {
                            index: gpu.index,
                            ..GpuStats::default()
                        },
                    );
                    &mut self.gpus[at]
                }
            };
            if let Some(util) = gpu.util_pct {
                any_util = true;
                stats.util_samples += 1;
                stats.util_sum += util;
                if util < IDLE_BELOW_PCT {
                    stats.idle_samples += 1;
                } else {
                    all_idle = false;
                }
            }
            stats.mem_peak_mb = peak(stats.mem_peak_mb, gpu.mem_used_mb);
            stats.mem_total_mb = peak(stats.mem_total_mb, gpu.mem_total_mb);
            stats.temp_peak_c = peak(stats.temp_peak_c, gpu.temp_c);
            stats.ecc_max = peak(stats.ecc_max, gpu.ecc_errors);
            if gpu.ecc_errors.is_some_and(|e| e > 0.0) && stats.ecc_first_at.is_none() {
                stats.ecc_first_at = Some(sample.at);
            }
        }
        if any_util {
            self.gpu_util_samples += 1;
            if all_idle {
                self.all_idle_samples += 1;
            }
        }
        if let Some(cpu) = sample.cpu_pct() {
            self.cpu_samples += 1;
            self.cpu_sum += cpu;
        }
        self.host_mem_peak_mb = peak(self.host_mem_peak_mb, sample.host_mem_used_mb);
        self.host_mem_total_mb = peak(self.host_mem_total_mb, sample.host_mem_total_mb);
        self.disk_peak_bytes = peak(self.disk_peak_bytes, sample.disk_used_bytes);
        self.disk_total_bytes = peak(self.disk_total_bytes, sample.disk_total_bytes);
        self.keep(sample);
    }

    /// Keeps `sample` for the picture. A full buffer is halved by merging
    /// neighbours; from then on each kept sample stands for `kept_stride`
    /// lines, and the newest lines wait in `pending` until they make one.
    fn keep(&mut self, sample: Sample) {
        self.kept_stride = self.kept_stride.max(1);
        let (merged, count) = match self.pending.take() {
            Some((pending, count)) => (pending.merge(&sample), count + 1),
            None => (sample, 1),
        };
        if count < self.kept_stride {
            self.pending = Some((merged, count));
            return;
        }
        self.kept.push(merged);
        if self.kept.len() >= KEPT_SAMPLES {
            self.kept = self
                .kept
                .chunks(2)
                .map(|pair| match pair {
                    [a, b] => a.merge(b),
                    [a, ..] => a.clone(),
                    [] => unreachable!("chunks are never empty"),
                })
                .collect();
            self.kept_stride *= 2;
        }
    }

    /// The lines still waiting to make a kept sample join the picture.
    fn finish(&mut self) {
        if let Some((pending, _)) = self.pending.take() {
            self.kept.push(pending);
        }
    }
}

/// Reads `metrics.jsonl` from `reader` (at most `limit` bytes; `truncated`
/// says the file holds more). Never fails: what cannot be read is counted.
pub fn parse(reader: impl BufRead, truncated: bool) -> Metrics {
    let mut metrics = Metrics {
        truncated,
        ..Metrics::default()
    };
    let mut lines = reader.split(b'\n').peekable();
    while let Some(line) = lines.next() {
        let Ok(line) = line else {
            // A read error: what came before stands.
            metrics.skipped_lines += 1;
            break;
        };
        let last = lines.peek().is_none();
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        match (trimmed.len() <= MAX_LINE_BYTES)
            .then(|| sample_of(trimmed))
            .flatten()
        {
            Some(sample) if sample.has_readings() => metrics.add(sample),
            // An event line of runpod-deploy's (a `ts_utc` and no
            // reading): nothing to draw, nothing wrong.
            Some(_) => {}
            // Cut by rpd's own limit: not the file's fault.
            None if last && truncated => {}
            // A last line that does not parse is taken as torn (a sampler
            // stopped mid-write), which is what it almost always is.
            None if last => metrics.torn_last_line = true,
            None => metrics.skipped_lines += 1,
        }
    }
    metrics.finish();
    metrics
}

/// One line as a sample; `None` when it is not a JSON object with a
/// readable `ts_utc`.
fn sample_of(line: &[u8]) -> Option<Sample> {
    let value: Value = serde_json::from_slice(line).ok()?;
    let object = value.as_object()?;
    let at = timestamp(object.get("ts_utc")?.as_str()?)?;
    let gpus = match object.get("gpus").and_then(Value::as_array) {
        Some(gpus) if !gpus.is_empty() => gpus
            .iter()
            .enumerate()
            .filter_map(|(position, gpu)| {
                let gpu = gpu.as_object()?;
                let index = gpu
                    .get("index")
                    .and_then(Value::as_u64)
                    .and_then(|i| u32::try_from(i).ok())
                    .unwrap_or(position as u32);
                gpu_reading(gpu, index, "")
            })
            .collect(),
        _ => gpu_reading(object, 0, "gpu_").into_iter().collect(),
    };
    let mut gpus: Vec<GpuReading> = gpus;
    gpus.sort_by_key(|g| g.index);
    gpus.dedup_by_key(|g| g.index);
    Some(Sample {
        at,
        gpus,
        cpu_load_1m: number(object, "cpu_load_1m").filter(|l| *l >= 0.0),
        cpu_user_pct: percent(object, "cpu_user_pct"),
        cpu_sys_pct: percent(object, "cpu_sys_pct"),
        host_mem_used_mb: amount(object, "host_mem_used_mb"),
        host_mem_total_mb: amount(object, "host_mem_total_mb").filter(|t| *t > 0.0),
        disk_used_bytes: amount(object, "workspace_disk_used_bytes"),
        disk_total_bytes: amount(object, "workspace_disk_total_bytes").filter(|t| *t > 0.0),
        host_uptime_sec: amount(object, "host_uptime_sec"),
    })
}

/// GPU `index` from `object`'s fields named `<prefix>util_pct` and so on;
/// `None` when it has none of them.
fn gpu_reading(object: &Map<String, Value>, index: u32, prefix: &str) -> Option<GpuReading> {
    let field = |name: &str| format!("{prefix}{name}");
    let reading = GpuReading {
        index,
        util_pct: percent(object, &field("util_pct")),
        mem_used_mb: amount(object, &field("mem_used_mb")),
        mem_total_mb: amount(object, &field("mem_total_mb")).filter(|t| *t > 0.0),
        temp_c: number(object, &field("temp_c")).filter(|t| (-50.0..200.0).contains(t)),
        ecc_errors: amount(object, &field("ecc_errors")),
    };
    (reading.util_pct.is_some()
        || reading.mem_used_mb.is_some()
        || reading.mem_total_mb.is_some()
        || reading.temp_c.is_some()
        || reading.ecc_errors.is_some())
    .then_some(reading)
}

/// A finite JSON number (a string, `null` or anything else is no reading).
fn number(object: &Map<String, Value>, key: &str) -> Option<f64> {
    object
        .get(key)
        .and_then(Value::as_f64)
        .filter(|n| n.is_finite())
}

/// A percentage: 0 to 100, else no reading.
fn percent(object: &Map<String, Value>, key: &str) -> Option<f64> {
    number(object, key).filter(|n| (0.0..=100.0).contains(n))
}

/// A count or size: never negative.
fn amount(object: &Map<String, Value>, key: &str) -> Option<f64> {
    number(object, key).filter(|n| *n >= 0.0)
}

/// ISO 8601 with an offset (runpod-deploy's `isoformat()`), or without one
/// (taken as UTC).
fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests;
