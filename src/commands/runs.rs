//! `rpd runs show RUN`, and what the end of every run adds to its summary:
//! the run's telemetry read into findings, and `metrics.svg` drawn beside
//! `metrics.jsonl`. A run without telemetry adds nothing and never fails.

use std::path::{Path, PathBuf};

use anyhow::bail;
use serde_json::json;

use crate::commands::Ctx;
use crate::commands::inventory;
use crate::commands::settings::RunsShowSettings;
use crate::exit::ExitStatus;
use crate::hygiene::runs::{self, RunRecord};
use crate::render;
use crate::render::chart::Canvas;
use crate::render::svg::Svg;
use crate::telemetry::{self, Finding, RunTelemetry};

/// A run's telemetry, its findings and its picture.
pub struct RunPicture {
    pub telemetry: RunTelemetry,
    pub findings: Vec<Finding>,
    pub svg: Svg,
}

/// Reads `run_dir`'s telemetry and draws `metrics.svg` (again when
/// `redraw`, else only when absent); `None` when the run has none.
pub fn picture(run_dir: &Path, redraw: bool) -> Option<RunPicture> {
    let telemetry = telemetry::read(run_dir);
    if telemetry.is_empty() {
        return None;
    }
    let findings = telemetry.findings();
    let path = run_dir.join(telemetry::SVG_FILE);
    let series = telemetry.series();
    let svg = if series.is_empty() {
        Svg::Nothing
    } else if !redraw && path.exists() {
        Svg::Kept(path)
    } else {
        match render::svg::draw(&series) {
            None => Svg::Nothing,
            Some(text) => match write_whole(&path, &text) {
                Ok(()) => Svg::Written(path),
                Err(err) => Svg::Failed {
                    path,
                    error: err.to_string(),
                },
            },
        }
    };
    Some(RunPicture {
        telemetry,
        findings,
        svg,
    })
}

/// Writes `text` to `path` through a temporary file and a rename: an rpd
/// killed while it writes leaves no half picture that `rpd runs show`
/// would then keep.
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let partial = path.with_extension("svg.partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })
}

/// The end of a run: its findings and picture, drawn afresh (the files
/// were just pulled).
pub fn end_of_run(run_dir: &Path) -> Option<RunPicture> {
    picture(run_dir, true)
}

pub fn show(ctx: &Ctx, settings: &RunsShowSettings) -> anyhow::Result<ExitStatus> {
    let run_dir = find_run(&settings.run)?;
    let record = read_record(&run_dir);
    let picture = picture(&run_dir, false);
    if settings.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&as_json(&run_dir, record.as_ref(), picture.as_ref()))
                .expect("json")
        );
    } else {
        let canvas = canvas(ctx);
        crate::say_raw!(
            "{}",
            render::run::show(
                &run_dir,
                record.as_ref(),
                picture
                    .as_ref()
                    .map(|p| (&p.telemetry, p.findings.as_slice(), &p.svg)),
                canvas,
                &ctx.stdout_palette()
            )
        );
    }
    Ok(ExitStatus::Success)
}

/// The terminal's width (80 when stdout is not one) and whether its
/// locale is UTF-8.
fn canvas(_ctx: &Ctx) -> Canvas {
    let width = console::Term::stdout()
        .size_checked()
        .map_or(80, |(_, columns)| usize::from(columns));
    let var = |name: &str| std::env::var(name).ok();
    Canvas {
        width,
        unicode: render::chart::utf8_locale(
            var("LC_ALL").as_deref(),
            var("LC_CTYPE").as_deref(),
            var("LANG").as_deref(),
        ),
    }
}

/// The run's manifest as a record, when it has a readable one.
fn read_record(run_dir: &Path) -> Option<RunRecord> {
    let text = crate::input::read_text(&run_dir.join(crate::apply::manifest::FILE_NAME)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    runs::from_manifest(run_dir, &value).ok()
}

/// `RUN` as a directory, else among the run directories of the configs
/// in rpd's registry: by its whole name, else the one name it starts.
fn find_run(run: &str) -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(run);
    if path.is_dir() {
        return Ok(std::fs::canonicalize(&path).unwrap_or(path));
    }
    if run.trim().is_empty() || run.contains('/') {
        bail!("{run:?} is not a run directory");
    }
    let mut dirs: Vec<PathBuf> = inventory::registered()?
        .iter()
        .filter_map(|entry| entry.runs_dir.clone())
        .collect();
    dirs.sort();
    dirs.dedup();
    let candidates: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    let name_of = |p: &PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if let Some(exact) = candidates.iter().find(|p| name_of(p) == run) {
        return Ok(exact.clone());
    }
    let mut starting: Vec<&PathBuf> = candidates
        .iter()
        .filter(|p| name_of(p).starts_with(run))
        .collect();
    starting.sort();
    match starting.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!(
            "no run {run:?}: it is not a directory, and no run directory of the {} in rpd's registry is named so (`rpd runs` lists them; or give the run directory's path)",
            if dirs.len() == 1 {
                "1 config".to_string()
            } else {
                format!("{} configs", dirs.len())
            }
        ),
        many => bail!(
            "{run:?} starts the names of {} runs: {}; give more of the name",
            many.len(),
            many.iter()
                .map(|p| name_of(p))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `rpd runs show --json`.
fn as_json(
    run_dir: &Path,
    record: Option<&RunRecord>,
    picture: Option<&RunPicture>,
) -> serde_json::Value {
    let telemetry = picture.map(|p| {
        let t = &p.telemetry;
        json!({
            "metrics": t.metrics.as_ref().map(|m| json!({
                "samples": m.samples,
                "first_at": m.first_at,
                "last_at": m.last_at,
                "skipped_lines": m.skipped_lines,
                "torn_last_line": m.torn_last_line,
                "truncated": m.truncated,
                "gpus": m.gpus,
                "mean_cpu_pct": m.mean_cpu_pct(),
                "host_mem_peak_mb": m.host_mem_peak_mb,
                "host_mem_total_mb": m.host_mem_total_mb,
                "disk_peak_bytes": m.disk_peak_bytes,
                "disk_total_bytes": m.disk_total_bytes,
            })),
            "gpu_names": t.gpu_names(),
            "driver": t.driver().map(|d| d.0),
            "cuda": t.driver().and_then(|d| d.1),
            "pod_status_at_end": t.pod_status_at_end,
            "dmesg": t.dmesg,
            "unreadable": t.unreadable,
            "series": t.series().iter().map(|s| json!({
                "measure": s.measure,
                "gpu": s.gpu,
                "top": s.top,
                "peak": s.peak,
                "points": s.points.len(),
            })).collect::<Vec<_>>(),
        })
    });
    json!({
        "format_version": "1.0",
        "run_dir": run_dir,
        "run": record,
        "telemetry": telemetry,
        "findings": picture.map(|p| findings_json(&p.findings)).unwrap_or_default(),
        "metrics_svg": picture.and_then(|p| p.svg.path()),
    })
}

/// Each finding with its severity and sentence (`apply --json` too).
pub fn findings_json(findings: &[Finding]) -> Vec<serde_json::Value> {
    findings
        .iter()
        .map(|f| {
            let mut value = serde_json::to_value(f).expect("json");
            if let Some(object) = value.as_object_mut() {
                object.insert("severity".into(), json!(f.severity()));
                object.insert(
                    "message".into(),
                    json!(render::words::telemetry::finding(f)),
                );
            }
            value
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::fixtures;

    #[test]
    fn the_end_of_a_run_finds_and_draws_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let run = fixtures::copied("oom-xid", dir.path());
        let svg = run.join(telemetry::SVG_FILE);
        std::fs::write(&svg, "an old picture").unwrap();
        let picture = end_of_run(&run).expect("telemetry");
        assert_eq!(picture.svg, Svg::Written(svg.clone()));
        assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
        assert!(matches!(picture.findings[0], Finding::OomKill { .. }));
        // `rpd runs show` keeps a picture that is there.
        std::fs::write(&svg, "kept").unwrap();
        assert_eq!(picture_of(&run).svg, Svg::Kept(svg.clone()));
        assert_eq!(std::fs::read_to_string(&svg).unwrap(), "kept");
    }

    fn picture_of(run: &Path) -> RunPicture {
        picture(run, false).unwrap()
    }

    #[test]
    fn a_run_without_telemetry_gives_nothing_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("run.log"), "hello\n").unwrap();
        assert!(end_of_run(dir.path()).is_none());
        assert!(end_of_run(&dir.path().join("gone")).is_none());
        assert!(!dir.path().join(telemetry::SVG_FILE).exists());
    }

    #[test]
    fn captures_without_samples_give_findings_and_no_picture() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(telemetry::DMESG_FILE),
            "[ 5.0] NVRM: Xid (PCI:0000:3b:00): 79, pid=0, GPU has fallen off the bus.\n",
        )
        .unwrap();
        let picture = end_of_run(dir.path()).unwrap();
        assert_eq!(picture.svg, Svg::Nothing);
        assert_eq!(picture.findings.len(), 1);
        assert!(!dir.path().join(telemetry::SVG_FILE).exists());
    }

    #[test]
    fn a_picture_that_cannot_be_written_is_a_warning_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let run = fixtures::copied("busy-gpu", dir.path());
        // A directory where the picture goes: the write fails.
        std::fs::create_dir(run.join(telemetry::SVG_FILE)).unwrap();
        let picture = end_of_run(&run).unwrap();
        assert!(
            matches!(picture.svg, Svg::Failed { .. }),
            "{:?}",
            picture.svg
        );
        assert!(!picture.findings.is_empty());
    }
}
