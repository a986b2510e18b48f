//! `metrics.svg`: the run's series as a picture to attach to a pull
//! request, one panel per measure (a line per GPU), minutes since the
//! first sample on the x axis. Drawn with plotters' SVG backend only (no
//! fonts are loaded: the viewer renders the text).

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::render::chart::{GAP_INTERVALS, median_interval_ms};
use crate::render::words::telemetry::measure;
use crate::telemetry::{Measure, Series};

/// What became of `metrics.svg`.
#[derive(Debug, Clone, PartialEq)]
pub enum Svg {
    Written(PathBuf),
    /// There already (`rpd runs show` draws it only when absent).
    Kept(PathBuf),
    /// No samples to draw.
    Nothing,
    Failed {
        path: PathBuf,
        error: String,
    },
}

impl Svg {
    pub fn path(&self) -> Option<&Path> {
        match self {
            Svg::Written(p) | Svg::Kept(p) => Some(p),
            Svg::Nothing | Svg::Failed { .. } => None,
        }
    }
}

const WIDTH: u32 = 900;
const PANEL_HEIGHT: u32 = 280;

/// The SVG document, or `None` when there is nothing to draw.
pub fn draw(series: &[Series]) -> Option<String> {
    let start = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .min()?;
    let end = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .max()?;
    let minutes =
        |t: chrono::DateTime<chrono::Utc>| (t - start).num_milliseconds() as f64 / 60_000.0;
    let span = minutes(end).max(1.0 / 60.0);
    let mut measures: Vec<Measure> = series.iter().map(|s| s.measure).collect();
    measures.dedup();
    let mut svg = String::new();
    {
        let height = PANEL_HEIGHT * measures.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let panels = root.split_evenly((measures.len(), 1));
        for (area, m) in panels.iter().zip(&measures) {
            let of_measure: Vec<&Series> = series.iter().filter(|s| s.measure == *m).collect();
            let top = of_measure
                .iter()
                .map(|s| s.top)
                .fold(f64::MIN_POSITIVE, f64::max);
            let title = measure(&Series {
                gpu: None,
                ..of_measure[0].clone()
            });
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(50)
                .build_cartesian_2d(0.0..span, 0.0..top * 1.02)
                .ok()?;
            chart
                .configure_mesh()
                .x_desc(format!(
                    "minutes since {}",
                    start.format("%Y-%m-%d %H:%M:%S UTC")
                ))
                .draw()
                .ok()?;
            for (i, s) in of_measure.iter().enumerate() {
                let colour = Palette99::pick(i).to_rgba();
                let gap = median_interval_ms(&s.points).map(|ms| ms * GAP_INTERVALS / 60_000.0);
                let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
                let mut previous: Option<f64> = None;
                for (at, value) in &s.points {
                    let x = minutes(*at);
                    if let (Some(p), Some(gap)) = (previous, gap)
                        && x - p > gap
                    {
                        segments.push(Vec::new());
                    }
                    previous = Some(x);
                    if let Some(segment) = segments.last_mut() {
                        segment.push((x, *value));
                    }
                }
                let label = s.gpu.map(|g| format!("GPU {g}"));
                for (n, segment) in segments.into_iter().enumerate() {
                    let drawn = chart
                        .draw_series(LineSeries::new(segment, colour.stroke_width(2)))
                        .ok()?;
                    if n == 0
                        && let Some(label) = &label
                    {
                        drawn.label(label.clone()).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                        });
                    }
                }
            }
            if of_measure.len() > 1 {
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .ok()?;
            }
        }
        root.present().ok()?;
    }
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{self, fixtures};

    /// The polylines drawn in the series' colours (the mesh is thin and
    /// grey), by colour.
    fn lines(svg: &str) -> Vec<(String, usize)> {
        let doc = roxmltree::Document::parse(svg).expect("valid XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        doc.descendants()
            .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
            .map(|n| {
                let points = n
                    .attribute("points")
                    .unwrap_or("")
                    .split_whitespace()
                    .count();
                (n.attribute("stroke").unwrap_or("").to_string(), points)
            })
            .collect()
    }

    fn texts(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(|t| t.trim().to_string()))
            .collect()
    }

    #[test]
    fn a_gpu_run_draws_utilisation_and_memory_with_every_sample() {
        let series = telemetry::read(&fixtures::path("busy-gpu")).series();
        let svg = draw(&series).unwrap();
        let drawn = lines(&svg);
        assert_eq!(drawn.len(), 2, "{drawn:?}");
        assert!(drawn.iter().all(|(_, points)| *points == 21), "{drawn:?}");
        let texts = texts(&svg);
        assert!(
            texts.contains(&"GPU utilisation (%)".to_string()),
            "{texts:?}"
        );
        assert!(texts.contains(&"GPU memory (GB)".to_string()));
        assert!(texts.contains(&"minutes since 2026-11-20 10:00:00 UTC".to_string()));
    }

    #[test]
    fn two_gpus_get_a_line_each_and_a_legend() {
        let series = telemetry::read(&fixtures::path("two-gpus")).series();
        let svg = draw(&series).unwrap();
        // Two panels of two GPUs, and each legend's two samples.
        let drawn = lines(&svg);
        assert_eq!(drawn.iter().filter(|(_, points)| *points == 16).count(), 4);
        assert_eq!(drawn.iter().filter(|(_, points)| *points == 2).count(), 4);
        let texts = texts(&svg);
        assert!(texts.contains(&"GPU 0".to_string()) && texts.contains(&"GPU 1".to_string()));
    }

    #[test]
    fn a_cpu_only_run_draws_cpu_and_host_memory_and_nothing_draws_nothing() {
        let series = telemetry::read(&fixtures::path("cpu-only")).series();
        let texts = texts(&draw(&series).unwrap());
        assert!(
            texts.contains(&"CPU busy, user + system (%)".to_string()),
            "{texts:?}"
        );
        assert!(texts.contains(&"Host memory (GB)".to_string()));
        assert_eq!(draw(&[]), None);
    }
}
