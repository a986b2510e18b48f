//! A run's series drawn in the terminal: a small chart per measure (one
//! GPU), or a one-line sparkline per GPU (several), on one time axis that
//! fits the width. Block characters on a UTF-8 terminal, ASCII otherwise.
//! Time is bucketed by columns: a column is the mean of its samples (the
//! peak for memory, so a spike never disappears); a column with no sample
//! repeats the last one, unless the sampler was silent for longer than
//! [`GAP_INTERVALS`] intervals, which is drawn blank.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::render::words::telemetry::measure;
use crate::telemetry::{Measure, Series};

/// Silence longer than this many sampling intervals is a gap.
pub const GAP_INTERVALS: f64 = 2.5;
/// Rows of a chart with one series.
const ROWS: usize = 4;
/// The widest the plot gets, however wide the terminal.
const MAX_COLUMNS: usize = 120;
/// `  100 │`: the y labels and the frame.
const LEFT: usize = 8;

/// Where the chart goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canvas {
    /// The terminal's width in columns.
    pub width: usize,
    /// Block characters (a UTF-8 terminal), else ASCII.
    pub unicode: bool,
}

impl Canvas {
    fn columns(&self) -> usize {
        self.width.saturating_sub(LEFT + 1).clamp(10, MAX_COLUMNS)
    }

    /// Levels within one row, from empty to full.
    fn levels(&self) -> &'static [char] {
        if self.unicode {
            &[' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']
        } else {
            &[' ', '.', '-', '=', '#']
        }
    }

    fn frame(&self) -> (char, char, char) {
        if self.unicode {
            ('│', '└', '─')
        } else {
            ('|', '+', '-')
        }
    }
}

/// Whether the locale asks for UTF-8 (`LC_ALL`, else `LC_CTYPE`, else
/// `LANG`, the first one set and not empty).
pub fn utf8_locale(lc_all: Option<&str>, lc_ctype: Option<&str>, lang: Option<&str>) -> bool {
    [lc_all, lc_ctype, lang]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        })
}

/// The charts of `series` (empty when there is nothing to draw).
pub fn draw(series: &[Series], canvas: Canvas) -> String {
    let Some((start, end)) = span(series) else {
        return String::new();
    };
    let columns = canvas.columns();
    let mut out = String::new();
    let mut measures: Vec<Measure> = series.iter().map(|s| s.measure).collect();
    measures.dedup();
    for m in measures {
        let of_measure: Vec<&Series> = series.iter().filter(|s| s.measure == m).collect();
        let columns_of = |s: &Series| bucket(s, start, end, columns);
        match of_measure.as_slice() {
            [one] => {
                let _ = writeln!(out, "{}, peak {}", measure(one), amount(one, one.peak));
                chart(&mut out, one, &columns_of(one), canvas);
            }
            many => {
                let first = many[0];
                let title = measure(&Series {
                    gpu: None,
                    ..first.clone()
                });
                let _ = writeln!(out, "{title}, 0 to {}", amount(first, top_of(many)));
                let (bar, ..) = canvas.frame();
                for s in many {
                    let label = s.gpu.map(|g| format!("GPU {g}")).unwrap_or_default();
                    let cells = columns_of(s);
                    let line = row(&cells, 0, 1, top_of(many), canvas);
                    let _ = writeln!(
                        out,
                        "{label:>width$} {bar}{line}{bar} peak {}",
                        amount(s, s.peak),
                        width = LEFT - 2
                    );
                }
            }
        }
    }
    axis(&mut out, start, end, columns, canvas);
    out
}

fn top_of(series: &[&Series]) -> f64 {
    series
        .iter()
        .map(|s| s.top)
        .fold(f64::MIN_POSITIVE, f64::max)
}

/// `97 %`, `23.1 GB`.
fn amount(series: &Series, value: f64) -> String {
    if series.measure.is_percent() {
        format!("{value:.0} %")
    } else {
        format!("{value:.1} GB")
    }
}

/// A chart of [`ROWS`] rows with the top and 0 labelled.
fn chart(out: &mut String, series: &Series, cells: &[Option<f64>], canvas: Canvas) {
    let (bar, ..) = canvas.frame();
    for r in (0..ROWS).rev() {
        let label = if r == ROWS - 1 {
            short(series.top)
        } else if r == 0 {
            "0".to_string()
        } else {
            String::new()
        };
        let line = row(cells, r, ROWS, series.top, canvas);
        let _ = writeln!(
            out,
            "{label:>width$} {bar}{}",
            line.trim_end(),
            width = LEFT - 2
        );
    }
}

/// `100`, `24.0`.
fn short(value: f64) -> String {
    if value >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Row `r` (0 at the bottom) of `rows`: each column's level in it. A
/// reading of 0 still shows on the bottom row, so a zero is not a gap.
fn row(cells: &[Option<f64>], r: usize, rows: usize, top: f64, canvas: Canvas) -> String {
    let levels = canvas.levels();
    let per_row = levels.len() - 1;
    cells
        .iter()
        .map(|cell| match cell {
            None => ' ',
            Some(v) => {
                let units = ((v / top).clamp(0.0, 1.0) * (rows * per_row) as f64).round() as usize;
                let units = units.max(1);
                let here = units.saturating_sub(r * per_row).min(per_row);
                levels[here]
            }
        })
        .collect()
}

/// The first and last sample time over every series.
fn span(series: &[Series]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let times = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let start = times.clone().min()?;
    let end = times.max()?;
    Some((start, end))
}

/// The series as `columns` cells over `start..=end`.
fn bucket(
    series: &Series,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    columns: usize,
) -> Vec<Option<f64>> {
    let span_ms = (end - start).num_milliseconds().max(1) as f64;
    let gap_ms = median_interval_ms(&series.points).map(|i| i * GAP_INTERVALS);
    let peak_wins = !series.measure.is_percent();
    // Per column: sum, count, peak, and when its last sample was taken.
    let mut sums = vec![(0.0f64, 0usize, f64::MIN, 0.0f64); columns];
    for (at, value) in &series.points {
        let offset = (*at - start).num_milliseconds() as f64;
        let column = ((offset / span_ms) * columns as f64) as usize;
        let cell = &mut sums[column.min(columns - 1)];
        cell.0 += value;
        cell.1 += 1;
        cell.2 = cell.2.max(*value);
        cell.3 = cell.3.max(offset);
    }
    let mut cells = Vec::with_capacity(columns);
    let mut last: Option<(f64, f64)> = None;
    for (column, (sum, count, peak, when)) in sums.into_iter().enumerate() {
        if count > 0 {
            let value = if peak_wins { peak } else { sum / count as f64 };
            last = Some((value, when));
            cells.push(Some(value));
            continue;
        }
        let at_ms = column as f64 * span_ms / columns as f64;
        cells.push(match (last, gap_ms) {
            (Some((value, when)), Some(gap)) if at_ms - when <= gap => Some(value),
            (Some((value, _)), None) => Some(value),
            _ => None,
        });
    }
    cells
}

/// The usual time between two samples.
pub fn median_interval_ms(points: &[(DateTime<Utc>, f64)]) -> Option<f64> {
    let mut deltas: Vec<f64> = points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).num_milliseconds() as f64)
        .filter(|d| *d > 0.0)
        .collect();
    if deltas.is_empty() {
        return None;
    }
    deltas.sort_by(f64::total_cmp);
    Some(deltas[deltas.len() / 2])
}

/// `└──────` and the start and end times under it.
fn axis(
    out: &mut String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    columns: usize,
    canvas: Canvas,
) {
    let (_, corner, line) = canvas.frame();
    let _ = writeln!(
        out,
        "{:>width$}{corner}{}",
        "",
        line.to_string().repeat(columns),
        width = LEFT - 1
    );
    let from = start.format("%H:%M:%S").to_string();
    let to = format!(
        "{} UTC ({})",
        end.format("%H:%M:%S"),
        crate::model::duration((end - start).num_seconds().max(0) as u64)
    );
    let pad = (columns + 1).saturating_sub(from.len() + to.len()).max(1);
    let _ = writeln!(out, "{:>width$}{from}{:pad$}{to}", "", "", width = LEFT - 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{self, fixtures};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_790_000_000 + seconds, 0).unwrap()
    }

    fn util(points: &[(i64, f64)]) -> Series {
        Series {
            measure: Measure::GpuUtil,
            gpu: None,
            top: 100.0,
            peak: points.iter().map(|p| p.1).fold(0.0, f64::max),
            points: points.iter().map(|(s, v)| (at(*s), *v)).collect(),
        }
    }

    const ASCII: Canvas = Canvas {
        width: 30,
        unicode: false,
    };

    #[test]
    fn a_silent_sampler_is_a_blank_and_a_zero_is_not() {
        // Every 10 s, then nothing for 60 s, then on again.
        let series = util(&[
            (0, 0.0),
            (10, 100.0),
            (20, 100.0),
            (80, 50.0),
            (90, 50.0),
            (100, 50.0),
        ]);
        let cells = bucket(&series, at(0), at(100), 20);
        assert_eq!(cells[0], Some(0.0));
        assert_eq!(
            cells[3],
            Some(100.0),
            "a short wait repeats the last sample"
        );
        assert_eq!(cells[10], None, "a gap is blank");
        assert_eq!(cells[19], Some(50.0));
        let drawn = draw(&[series], ASCII);
        assert_eq!(
            drawn,
            "\
GPU utilisation (%), peak 100 %
   100 |  ########
       |  ########
       |  ########      #####
     0 |..########      #####
       +---------------------
       14:13:20 14:15:00 UTC (1m40s)
"
        );
    }

    #[test]
    fn the_width_is_the_terminals_within_bounds_and_one_sample_still_draws() {
        let series = util(&[(0, 50.0)]);
        let narrow = draw(
            std::slice::from_ref(&series),
            Canvas {
                width: 5,
                unicode: true,
            },
        );
        assert!(
            narrow.lines().any(|l| l.ends_with("│██████████")),
            "{narrow}"
        );
        let wide = draw(
            &[series],
            Canvas {
                width: 1000,
                unicode: true,
            },
        );
        let axis = wide.lines().find(|l| l.contains('└')).unwrap();
        assert_eq!(axis.chars().filter(|c| *c == '─').count(), MAX_COLUMNS);
        assert_eq!(draw(&[], ASCII), "");
    }

    #[test]
    fn the_locale_decides_block_characters() {
        assert!(utf8_locale(None, None, Some("en_US.UTF-8")));
        assert!(utf8_locale(Some("C.utf8"), None, Some("C")));
        assert!(!utf8_locale(Some("C"), None, Some("en_US.UTF-8")));
        assert!(utf8_locale(Some(""), Some("en_GB.UTF-8"), None));
        assert!(!utf8_locale(None, None, None));
    }

    #[test]
    fn every_fixture_draws_within_the_width_in_either_charset() {
        for case in [
            "busy-gpu",
            "idle-gpu",
            "oom-xid",
            "ecc",
            "two-gpus",
            "cpu-only",
            "torn-garbage",
            "runpod-deploy",
        ] {
            let series = telemetry::read(&fixtures::path(case)).series();
            for unicode in [true, false] {
                let drawn = draw(&series, Canvas { width: 60, unicode });
                assert!(!drawn.is_empty(), "{case}");
                for line in drawn.lines() {
                    assert!(line.chars().count() <= 60 + 16, "{case}: {line:?}");
                    assert_eq!(
                        line.is_ascii(),
                        !unicode || !line.contains(['│', '└']),
                        "{case}: {line:?}"
                    );
                }
            }
        }
    }
}
