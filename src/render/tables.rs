//! The tables of `rpd status`, `rpd ls-stale` and `rpd runs`: columns
//! aligned, money as [`Usd`], whose a pod is and how long ago in the words
//! of [`words::hygiene`]. They print reports; they never decide.

use std::fmt::Write as _;
use std::path::Path;

use super::words::hygiene as words;
use super::{Palette, duration};
use crate::hygiene::inventory::StalePod;
use crate::hygiene::runs::RunRecord;
use crate::hygiene::status::{LastRun, StatusReport, StatusRow};
use crate::model::{PodStatus, Usd};

/// Rows under a header, each column as wide as its widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let _ = write!(line, "{cell:<width$}", width = widths[i]);
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// A path relative to `base` (the working directory) when under it.
pub fn shown(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn money(amount: Option<f64>) -> String {
    amount.map_or_else(|| "-".into(), |a| Usd(a).to_string())
}

fn last_run(run: Option<&LastRun>) -> String {
    let Some(run) = run else {
        return "-".into();
    };
    let when = run
        .at
        .map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d").to_string());
    format!(
        "{when} {}, {}",
        if run.failed { "failed" } else { "ok" },
        run.start.as_str()
    )
}

fn status_cells(row: &StatusRow, base: &Path) -> Vec<String> {
    let status = match (row.status, &row.retained) {
        (None, _) if row.not_visible => "not visible with this key".into(),
        (None, _) => "gone".into(),
        (Some(s), None) => s.as_str().to_string(),
        (Some(s), Some(_)) => format!("{} (retained)", s.as_str()),
    };
    let since = match (row.status, row.for_sec) {
        (Some(PodStatus::Exited), Some(secs)) if secs >= 86_400 => {
            format!("stopped {} ago", words::days(secs / 86_400))
        }
        (Some(PodStatus::Exited), Some(secs)) => format!("stopped {} ago", duration(secs)),
        (Some(s), Some(secs)) if s.is_active() => format!("up {}", duration(secs)),
        _ => "-".into(),
    };
    let gpu = match (&row.gpu_id, row.gpu_count) {
        (Some(gpu), Some(n)) if n > 1 => format!("{n}x {gpu}"),
        (Some(gpu), _) => gpu.clone(),
        (None, _) => "-".into(),
    };
    vec![
        shown(&row.config, base),
        row.pod_id.clone(),
        status,
        gpu,
        row.datacenter_id.clone().unwrap_or_else(|| "-".into()),
        money(row.per_hr),
        since,
        money(row.storage_per_day),
        money(row.storage_per_month),
        row.lifecycle.map_or_else(
            || "-".into(),
            |l| format!("{}/{}", l.on_success, l.on_failure),
        ),
        last_run(row.last_run.as_ref()),
    ]
}

/// `rpd status` as text.
pub fn status(report: &StatusReport, base: &Path, p: &Palette) -> String {
    let mut out = String::new();
    if report.pods.is_empty() {
        let _ = writeln!(out, "No pods tracked.");
    } else {
        let rows: Vec<Vec<String>> = report
            .pods
            .iter()
            .map(|row| status_cells(row, base))
            .collect();
        out.push_str(&table(
            &[
                "CONFIG",
                "POD",
                "STATUS",
                "GPU",
                "DATACENTER",
                "$/HR",
                "SINCE",
                "STOPPED $/DAY",
                "$/MONTH",
                "ON SUCCESS/FAILURE",
                "LAST RUN",
            ],
            &rows,
        ));
    }
    for idle in &report.idle {
        let _ = writeln!(
            out,
            "{} tracks no pod (last run: {}).",
            shown(&idle.config, base),
            last_run(idle.last_run.as_ref())
        );
    }
    for missing in &report.missing_state_files {
        let _ = writeln!(
            out,
            "{} {}",
            p.warn.apply_to("Warning:"),
            words::missing_state(missing, base)
        );
    }
    if report.untracked_pods > 0 {
        let _ = writeln!(out, "{}", words::untracked_hint(report.untracked_pods));
    }
    if report.unproven_pods > 0 {
        let _ = writeln!(out, "{}", words::unproven_hint(report.unproven_pods));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}",
        p.bold.apply_to(words::status_totals(&report.totals))
    );
    out
}

/// `rpd ls-stale` as text.
pub fn stale(pods: &[StalePod], left_alone: &[String], base: &Path, p: &Palette) -> String {
    let mut out = String::new();
    if pods.is_empty() {
        let _ = writeln!(out, "No stopped pods.");
    } else {
        let rows: Vec<Vec<String>> = pods
            .iter()
            .map(|s| {
                vec![
                    s.pod.id.clone(),
                    s.pod.name.clone(),
                    s.volume_gb
                        .map_or_else(|| "-".into(), |gb| format!("{gb} GB")),
                    s.stopped_days
                        .map_or_else(|| "unknown".into(), |d| d.to_string()),
                    Usd(s.per_day).to_string(),
                    Usd(s.per_month).to_string(),
                    match s.uncollected_job {
                        Some(_) => {
                            format!("{} (uncollected job)", words::owner_cell(&s.owner, base))
                        }
                        None => words::owner_cell(&s.owner, base),
                    },
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "POD",
                "NAME",
                "VOLUME",
                "DAYS STOPPED",
                "$/DAY",
                "$/MONTH",
                "OWNER",
            ],
            &rows,
        ));
    }
    for line in left_alone {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", p.bold.apply_to(words::stale_totals(pods)));
    out
}

/// `rpd runs` as text.
pub fn runs(runs: &[RunRecord]) -> String {
    if runs.is_empty() {
        return "No runs found.\n".into();
    }
    let seconds = |s: Option<f64>| s.map_or_else(|| "-".into(), |s| duration(s.round() as u64));
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.at.map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M").to_string()),
                r.job_name.clone(),
                r.pod_id.clone().unwrap_or_else(|| "-".into()),
                r.start.as_str().to_string(),
                seconds(r.ready_sec),
                seconds(r.job_sec),
                if r.failed { "failed" } else { "ok" }.to_string(),
                money(r.estimated_cost_usd),
                r.run_dir
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            ]
        })
        .collect();
    table(
        &[
            "WHEN",
            "JOB",
            "POD",
            "START",
            "TO READY",
            "JOB TIME",
            "OUTCOME",
            "EST. COST",
            "RUN",
        ],
        &rows,
    )
}

/// `rpd cost` as text: the configs' pods, then the network volumes they
/// mount (each once), then the total of both.
pub fn cost(
    rows: &[crate::hygiene::spend::ConfigSpend],
    volumes: &[crate::hygiene::spend::VolumeSpend],
    since: chrono::DateTime<chrono::Utc>,
    base: &Path,
    p: &Palette,
) -> String {
    use crate::hygiene::spend::{Source, Spend};
    let mut out = String::new();
    if rows.is_empty() {
        let _ = writeln!(out, "No configs.");
        return out;
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                shown(&r.config, base),
                r.pod_ids.len().to_string(),
                Usd(r.spend.compute_usd).to_string(),
                Usd(r.spend.storage_running_usd).to_string(),
                Usd(r.spend.storage_paused_usd).to_string(),
                Usd(r.spend.total_usd).to_string(),
                words::source(r.source).to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "CONFIG",
            "PODS",
            "COMPUTE",
            "STORAGE RUNNING",
            "STORAGE PAUSED",
            "TOTAL",
            "SOURCE",
        ],
        &cells,
    ));
    let mut total = Spend::default();
    for row in rows {
        total.add(&row.spend);
    }
    if !volumes.is_empty() {
        let cells: Vec<Vec<String>> = volumes
            .iter()
            .map(|v| {
                vec![
                    v.volume_id.clone(),
                    v.configs
                        .iter()
                        .map(|c| shown(c, base))
                        .collect::<Vec<_>>()
                        .join(", "),
                    v.total_usd
                        .map_or_else(|| "not read".to_string(), |t| Usd(t).to_string()),
                    words::source(Source::Billing).to_string(),
                ]
            })
            .collect();
        let _ = writeln!(out);
        out.push_str(&table(
            &["NETWORK VOLUME", "USED BY", "STORAGE", "SOURCE"],
            &cells,
        ));
    }
    let volumes_usd: f64 = volumes.iter().filter_map(|v| v.total_usd).sum();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}",
        p.bold.apply_to(format!(
            "Total since {}: {}.",
            since.format("%Y-%m-%d"),
            Usd(total.total_usd + volumes_usd)
        ))
    );
    if rows.iter().any(|r| r.source == Source::Estimate) {
        let _ = writeln!(out, "{}", words::estimate_note());
    }
    for row in rows {
        if let Some(why) = &row.billing_refused {
            let _ = writeln!(
                out,
                "{}",
                words::billing_refused(&shown(&row.config, base), why)
            );
        }
    }
    for volume in volumes {
        if let Some(why) = &volume.billing_refused {
            let _ = writeln!(
                out,
                "{}",
                words::billing_refused(&format!("network volume {}", volume.volume_id), why)
            );
        }
    }
    out
}
