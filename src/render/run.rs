//! One run as text (`rpd runs show`): what its manifest says, what its
//! telemetry says (findings), and its series drawn for the terminal; and
//! the findings lines the end of a run adds to apply's summary.

use std::fmt::Write as _;
use std::path::Path;

use crate::hygiene::runs::RunRecord;
use crate::model::duration;
use crate::render::Palette;
use crate::render::chart::{self, Canvas};
use crate::render::svg::Svg;
use crate::render::words::telemetry::finding;
use crate::telemetry::{Finding, RunTelemetry, Severity};

/// Each finding on a line of its own, indented by `indent`: problems in
/// red, advice in yellow.
pub fn findings(findings: &[Finding], indent: &str, p: &Palette) -> String {
    let mut out = String::new();
    for f in findings {
        let text = format!("{}.", finding(f));
        let styled = match f.severity() {
            Severity::Problem => p.remove.apply_to(text),
            Severity::Advice => p.change.apply_to(text),
            Severity::Info => console::style(text),
        };
        let _ = writeln!(out, "{indent}{styled}");
    }
    out
}

/// Where the picture is, or why it is not.
pub fn svg(svg: &Svg) -> Option<String> {
    match svg {
        Svg::Written(path) | Svg::Kept(path) => Some(format!("Picture: {}", path.display())),
        Svg::Nothing => None,
        Svg::Failed { path, error } => Some(format!(
            "Warning: could not write {}: {error}",
            path.display()
        )),
    }
}

/// `rpd runs show` as text.
pub fn show(
    run_dir: &Path,
    record: Option<&RunRecord>,
    picture: Option<(&RunTelemetry, &[Finding], &Svg)>,
    canvas: Canvas,
    p: &Palette,
) -> String {
    let mut out = String::new();
    let name = run_dir.file_name().map_or_else(
        || run_dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let _ = writeln!(out, "{}", p.bold.apply_to(format!("Run {name}")));
    let _ = writeln!(out, "  Directory: {}", run_dir.display());
    match record {
        Some(r) => {
            let _ = writeln!(out, "  {}", run_line(r));
        }
        None => {
            let _ = writeln!(
                out,
                "  No manifest: the run may still be going, or it was interrupted."
            );
        }
    }
    let Some((telemetry, found, svg)) = picture else {
        let _ = writeln!(
            out,
            "\nNo telemetry in this run (telemetry was off, or the run is older than it)."
        );
        return out;
    };
    let names = telemetry.gpu_names();
    if !names.is_empty() {
        let driver = telemetry
            .driver()
            .map(|(driver, cuda)| {
                let cuda = cuda.map(|c| format!(", CUDA {c}")).unwrap_or_default();
                format!("; driver {driver}{cuda}")
            })
            .unwrap_or_default();
        let _ = writeln!(out, "  GPU: {}{driver}", gpu_names(&names));
    }
    if let Some(m) = &telemetry.metrics {
        let mut line = match (m.first_at, m.last_at) {
            (Some(first), Some(last)) => format!(
                "  Samples: {} from {} to {} ({})",
                m.samples,
                first.format("%Y-%m-%d %H:%M:%S"),
                if first.date_naive() == last.date_naive() {
                    last.format("%H:%M:%S UTC").to_string()
                } else {
                    last.format("%Y-%m-%d %H:%M:%S UTC").to_string()
                },
                duration((last - first).num_seconds().max(0) as u64)
            ),
            _ => "  Samples: none".to_string(),
        };
        if m.skipped_lines > 0 {
            let s = if m.skipped_lines == 1 { "" } else { "s" };
            let _ = write!(line, "; {} line{s} not readable, left out", m.skipped_lines);
        }
        if m.torn_last_line {
            line.push_str("; the last line was cut short (the sampler stopped while writing)");
        }
        if m.truncated {
            line.push_str(&format!(
                "; only the first {} MiB were read",
                crate::telemetry::MAX_METRICS_BYTES / (1024 * 1024)
            ));
        }
        let _ = writeln!(out, "{line}");
    }
    for unreadable in &telemetry.unreadable {
        let _ = writeln!(out, "  Not read: {}: {}", unreadable.file, unreadable.why);
    }
    if let Some(line) = self::svg(svg) {
        let _ = writeln!(out, "  {line}");
    }
    if found.is_empty() {
        let _ = writeln!(out, "\nFindings: none.");
    } else {
        let _ = writeln!(out, "\nFindings:");
        out.push_str(&findings(found, "  ", p));
    }
    let drawn = chart::draw(&telemetry.series(), canvas);
    if !drawn.is_empty() {
        let _ = writeln!(out);
        out.push_str(&drawn);
    }
    out
}

/// `NVIDIA RTX A5000`, `2 x NVIDIA RTX A5000`.
fn gpu_names(names: &[String]) -> String {
    let mut groups: Vec<(String, usize)> = Vec::new();
    for name in names {
        match groups.iter_mut().find(|(n, _)| n == name) {
            Some((_, count)) => *count += 1,
            None => groups.push((name.clone(), 1)),
        }
    }
    groups
        .iter()
        .map(|(name, count)| match count {
            1 => name.clone(),
            n => format!("{n} x {name}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Job train on pod abc (NVIDIA RTX A5000): ok, cold start, job time 10m00s, est. cost $0.05`.
fn run_line(r: &RunRecord) -> String {
    let mut parts = vec![if r.failed { "failed" } else { "ok" }.to_string()];
    parts.push(format!("{} start", r.start.as_str()));
    if let Some(ready) = r.ready_sec {
        parts.push(format!("ready in {}", duration(ready.round() as u64)));
    }
    if let Some(job) = r.job_sec {
        parts.push(format!("job time {}", duration(job.round() as u64)));
    }
    if let Some(cost) = r.estimated_cost_usd {
        parts.push(format!("est. cost {}", crate::model::Usd(cost)));
    }
    let pod = r
        .pod_id
        .as_ref()
        .map(|p| format!(" on pod {p}"))
        .unwrap_or_default();
    let gpu = r
        .gpu_id
        .as_ref()
        .map(|g| format!(" ({g})"))
        .unwrap_or_default();
    let job = if r.job_name.is_empty() {
        "Job".to_string()
    } else {
        format!("Job {}", r.job_name)
    };
    format!("{job}{pod}{gpu}: {}", parts.join(", "))
}
