//! The words of a run's telemetry: each finding in one line, what a
//! series measures, and kernel times as people read them.

use crate::telemetry::dmesg::{KernelTime, XidBlame};
use crate::telemetry::findings::{GpuUse, NEARLY_FULL_PCT};
use crate::telemetry::{Finding, Measure, Series};

/// `23.1/24.0 GB` from the sampler's MB.
fn gb_of(used_mb: f64, total_mb: Option<f64>) -> String {
    let gb = crate::telemetry::gb;
    match total_mb {
        Some(total) => format!("{:.1}/{:.1} GB", gb(used_mb), gb(total)),
        None => format!("{:.1} GB", gb(used_mb)),
    }
}

fn bytes_gb(used: f64, total: f64) -> String {
    let gb = |b: f64| b / (1024.0 * 1024.0 * 1024.0);
    format!("{:.1}/{:.1} GB", gb(used), gb(total))
}

fn pct(value: f64) -> String {
    format!("{value:.0} %")
}

/// `GPU 1`, `GPUs 1 and 2`.
fn gpus(indices: &[u32]) -> String {
    let names: Vec<String> = indices.iter().map(u32::to_string).collect();
    match names.as_slice() {
        [one] => format!("GPU {one}"),
        _ => format!("GPUs {}", super::and_list(&names)),
    }
}

/// `at 8812.1 s after the host booted`, `at 2026-11-20 13:20:05 UTC`.
pub fn kernel_time(at: &Option<KernelTime>) -> String {
    match at {
        Some(KernelTime::SinceBoot(s)) => format!(" at {s:.1} s after the host booted"),
        Some(KernelTime::At(t)) => format!(" at {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
        Some(KernelTime::HostClock(t)) => {
            format!(" at {} (the host's clock)", t.format("%Y-%m-%d %H:%M:%S"))
        }
        None => String::new(),
    }
}

/// One finding in one line, as a sentence without its full stop (`dmesg`
/// keeps its lower case: it is a command's name).
pub fn finding(finding: &Finding) -> String {
    match finding {
        Finding::OomKill {
            at,
            process,
            pid,
            cgroup,
            more,
        } => {
            let who = match (process, pid) {
                (Some(name), Some(pid)) => format!(" of {name} (pid {pid})"),
                (Some(name), None) => format!(" of {name}"),
                (None, Some(pid)) => format!(" of pid {pid}"),
                (None, None) => String::new(),
            };
            let more = match more {
                0 => String::new(),
                1 => " (and 1 more)".into(),
                n => format!(" (and {n} more)"),
            };
            let why = if *cgroup {
                "the container's memory limit was reached"
            } else {
                "memory ran out"
            };
            format!(
                "dmesg shows an OOM kill{who}{}{more}: {why}",
                kernel_time(at)
            )
        }
        Finding::Xid {
            code,
            meaning,
            blame,
            at,
            pci,
            count,
        } => {
            let meaning = meaning.map(|m| format!(" ({m})")).unwrap_or_default();
            let on = pci.as_ref().map(|p| format!(" on {p}")).unwrap_or_default();
            let times = if *count > 1 {
                format!(", {count} times")
            } else {
                String::new()
            };
            let advice = match blame {
                Some(XidBlame::Host) => "the host's GPU may be faulty; run on another host",
                Some(XidBlame::Job) => {
                    "usually the job's own error, such as an illegal memory access"
                }
                None => "see NVIDIA's Xid catalog",
            };
            format!(
                "dmesg shows NVIDIA Xid {code}{meaning}{on}{}{times}: {advice}",
                kernel_time(at)
            )
        }
        Finding::EccErrors {
            gpus: indices,
            errors,
            first_at,
        } => {
            let first = first_at
                .map(|t| format!(", first seen at {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default();
            let noun = if *errors == 1 { "error" } else { "errors" };
            format!(
                "{errors} uncorrected ECC {noun} on {}{first}: the host may be faulty and results may be wrong; consider another host",
                gpus(indices)
            )
        }
        Finding::PodStatusAtEnd { status } => format!(
            "The pod's description at the job's end says {status}, not RUNNING: it may have been stopped or killed outside the job"
        ),
        Finding::GpuIdle { idle_pct, .. } => format!(
            "GPU idle {} of the run: the job may be CPU- or input-bound",
            pct(*idle_pct)
        ),
        Finding::GpusUnused { idle, busy } => format!(
            "{} idle in at least 90 % of the samples while {} worked: the job may use fewer GPUs than it pays for",
            gpus(idle),
            gpus(busy)
        ),
        Finding::GpuHot { index, peak_c } => format!(
            "GPU {index} reached {peak_c:.0} °C: it may have slowed itself down (thermal throttling)"
        ),
        Finding::HostMemoryNearlyFull { peak_mb, total_mb } => format!(
            "Host memory peaked at {} ({}): close to an OOM kill",
            gb_of(*peak_mb, Some(*total_mb)),
            pct(100.0 * peak_mb / total_mb)
        ),
        Finding::DiskNearlyFull {
            peak_bytes,
            total_bytes,
        } => format!(
            "The volume peaked at {} used ({}): writes may fail when it is full",
            bytes_gb(*peak_bytes, *total_bytes),
            pct(100.0 * peak_bytes / total_bytes)
        ),
        Finding::GpuUse { gpus: used } => gpu_use(used),
        Finding::HostUse {
            mean_cpu_pct,
            mem_peak_mb,
            mem_total_mb,
        } => {
            let cpu =
                mean_cpu_pct.map(|c| format!("CPU busy {} on average (user + system)", pct(c)));
            let mem =
                mem_peak_mb.map(|m| format!("host memory peaked at {}", gb_of(m, *mem_total_mb)));
            let parts: Vec<String> = cpu.into_iter().chain(mem).collect();
            capitalized(&parts.join("; "))
        }
    }
}

/// `GPU busy 93 % on average; memory peaked at 23.1/24.0 GB (96 %)`, or
/// per GPU (`GPU 0: ...; GPU 1: ...`) on a run with more than one.
fn gpu_use(used: &[GpuUse]) -> String {
    let one = |g: &GpuUse| {
        let util = g
            .mean_util_pct
            .map(|u| format!("busy {} on average", pct(u)));
        let mem = g.mem_peak_mb.map(|m| {
            format!(
                "memory peaked at {}{}",
                gb_of(m, g.mem_total_mb),
                mem_share(g)
            )
        });
        util.into_iter().chain(mem).collect::<Vec<_>>()
    };
    match used {
        [single] => format!("GPU {}", one(single).join("; ")),
        [_, _] => used
            .iter()
            .map(|g| format!("GPU {}: {}", g.index, one(g).join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
        many => many_gpus(many),
    }
}

/// ` (96 %: close to running out)`, ` (17 %)`, or nothing without the size.
fn mem_share(g: &GpuUse) -> String {
    match g.mem_peak_pct() {
        Some(p) if p >= NEARLY_FULL_PCT => format!(" ({}: close to running out)", pct(p)),
        Some(p) => format!(" ({})", pct(p)),
        None => String::new(),
    }
}

/// `8 GPUs busy 49 % on average (48 % on GPU 3 to 50 % on GPU 0); memory
/// peaked at 20.0/80.0 GB (25 %) on GPU 0`: one line however many.
fn many_gpus(used: &[GpuUse]) -> String {
    let mut parts = Vec::new();
    let utils: Vec<(u32, f64)> = used
        .iter()
        .filter_map(|g| Some((g.index, g.mean_util_pct?)))
        .collect();
    if let (Some(least), Some(most)) = (
        utils.iter().min_by(|a, b| a.1.total_cmp(&b.1)),
        utils.iter().max_by(|a, b| a.1.total_cmp(&b.1)),
    ) {
        let mean = utils.iter().map(|u| u.1).sum::<f64>() / utils.len() as f64;
        // The range only when it says more than the mean.
        let range = if pct(least.1) == pct(most.1) {
            String::new()
        } else {
            format!(
                " ({} on GPU {} to {} on GPU {})",
                pct(least.1),
                least.0,
                pct(most.1),
                most.0
            )
        };
        parts.push(format!(
            "{} GPUs busy {} on average{range}",
            used.len(),
            pct(mean)
        ));
    }
    let fullest = used
        .iter()
        .filter(|g| g.mem_peak_mb.is_some())
        .max_by(|a, b| {
            let share = |g: &GpuUse| g.mem_peak_pct().or(g.mem_peak_mb).unwrap_or(0.0);
            share(a).total_cmp(&share(b))
        });
    if let Some(g) = fullest
        && let Some(peak) = g.mem_peak_mb
    {
        let memory = format!(
            "memory peaked at {}{} on GPU {}",
            gb_of(peak, g.mem_total_mb),
            mem_share(g),
            g.index
        );
        parts.push(if parts.is_empty() {
            format!("GPU {memory}")
        } else {
            memory
        });
    }
    parts.join("; ")
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What a series measures, with its unit: `GPU utilisation %`.
pub fn measure(series: &Series) -> String {
    let what = match series.measure {
        Measure::GpuUtil => "GPU utilisation (%)",
        Measure::GpuMemory => "GPU memory (GB)",
        Measure::Cpu => "CPU busy, user + system (%)",
        Measure::HostMemory => "Host memory (GB)",
    };
    match series.gpu {
        Some(index) => format!("{what}, GPU {index}"),
        None => what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_gpus_in_one_line() {
        let used: Vec<GpuUse> = (0..8)
            .map(|i| GpuUse {
                index: i,
                mean_util_pct: Some(40.0 + f64::from(i)),
                mem_peak_mb: Some(if i == 5 { 80000.0 } else { 20480.0 }),
                mem_total_mb: Some(81920.0),
            })
            .collect();
        assert_eq!(
            finding(&Finding::GpuUse { gpus: used }),
            "8 GPUs busy 44 % on average (40 % on GPU 0 to 47 % on GPU 7); memory peaked at 78.1/80.0 GB (98 %: close to running out) on GPU 5"
        );
    }
}
