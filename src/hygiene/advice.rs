//! Whether recycling pays for a config: the minutes a warm start saves,
//! times $/hr, against what the volume bills while the pod waits paused;
//! and runpod-deploy's three signals that it has stopped paying (the image
//! changing run to run, a recycled pod unused for over 30 days, the GPU
//! changing run to run). A pure function of the run history.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::runs::{RunRecord, Start};
use crate::cost::VOLUME_STOPPED_USD_PER_GB_MONTH;

/// Runs per week are counted over at most this many recent days.
const WINDOW_DAYS: i64 = 28;
/// The signals look at this many most recent runs.
const RECENT_RUNS: usize = 5;
/// A recycled pod paused longer than this is probably not coming back.
const PAUSED_TOO_LONG_DAYS: u64 = 30;

#[derive(Debug, Clone, PartialEq)]
pub struct AdviceInput<'a> {
    /// The config's runs, in any order.
    pub runs: &'a [RunRecord],
    /// $/hr of the pod while it runs (its last billed rate, else the
    /// config's assumed rate).
    pub per_hr: Option<f64>,
    /// The volume a paused pod keeps, GB; `None` for a network volume
    /// (billed whether or not a pod is paused).
    pub volume_gb: Option<u32>,
    /// Since when the config's recycled pod has been paused, if it is.
    pub paused_since: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// Runs per week at or above the break-even.
    Pays,
    DoesNotPay,
    /// The volume costs nothing extra while paused (a network volume).
    FreeToKeep,
    /// Warm starts are not faster than cold ones in this history.
    WarmNotFaster,
    /// Needs at least one cold and one warm run with recorded step times,
    /// and a price.
    NotEnoughHistory {
        cold_runs: usize,
        warm_runs: usize,
        price_known: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// The image changed between most recent runs: each change replaces
    /// the pod, so the paused one is thrown away.
    ImageDrift { changes: usize, of: usize },
    /// The GPU changed between most recent runs.
    GpuChanging { changes: usize, of: usize },
    /// The recycled pod has waited paused for this long.
    PausedTooLong { days: u64 },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    pub cold_runs: usize,
    pub warm_runs: usize,
    /// Medians of the time until the script started.
    pub cold_ready_sec: Option<f64>,
    pub warm_ready_sec: Option<f64>,
    pub runs_per_week: f64,
    pub per_hr: Option<f64>,
    pub volume_gb: Option<u32>,
    /// What the volume bills in a week of waiting paused.
    pub storage_per_week: f64,
    /// Minutes and dollars of GPU time a warm start saves.
    pub minutes_saved_per_run: Option<f64>,
    pub saved_per_run: Option<f64>,
    /// Runs per week from which recycling pays for its storage.
    pub break_even_runs_per_week: Option<f64>,
    pub verdict: Verdict,
    pub signals: Vec<Signal>,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// Runs in the last [`WINDOW_DAYS`], per week of the window (shortened to
/// the history's age when it is younger, but never below a week).
fn runs_per_week(runs: &[&RunRecord], now: DateTime<Utc>) -> f64 {
    let start = now - Duration::days(WINDOW_DAYS);
    let times: Vec<DateTime<Utc>> = runs.iter().filter_map(|r| r.at).collect();
    let recent = times.iter().filter(|t| **t >= start).count();
    let Some(oldest) = times.iter().min() else {
        return 0.0;
    };
    let span_days = (now - (*oldest).max(start)).num_seconds() as f64 / 86_400.0;
    recent as f64 / (span_days.max(7.0) / 7.0)
}

/// How many of the last runs' consecutive pairs differ in `field`, of how
/// many pairs; `None` with too few runs or fields to tell.
fn changes(
    recent: &[&RunRecord],
    field: impl Fn(&RunRecord) -> Option<&str>,
) -> Option<(usize, usize)> {
    let values: Vec<&str> = recent.iter().filter_map(|r| field(r)).collect();
    if values.len() < 3 {
        return None;
    }
    let pairs = values.len() - 1;
    let changed = values.windows(2).filter(|w| w[0] != w[1]).count();
    Some((changed, pairs))
}

pub fn advise(input: &AdviceInput) -> Advice {
    let mut runs: Vec<&RunRecord> = input.runs.iter().collect();
    runs.sort_by_key(|r| r.at);
    let ready = |start: Start| -> Vec<f64> {
        runs.iter()
            .filter(|r| r.start == start)
            .filter_map(|r| r.ready_sec)
            .collect()
    };
    let (cold, warm) = (ready(Start::Cold), ready(Start::Warm));
    let (cold_runs, warm_runs) = (cold.len(), warm.len());
    let (cold_ready_sec, warm_ready_sec) = (median(cold), median(warm));
    let runs_per_week = runs_per_week(&runs, input.now);
    let storage_per_week = input
        .volume_gb
        .map(|gb| f64::from(gb) * VOLUME_STOPPED_USD_PER_GB_MONTH / 30.0 * 7.0)
        .unwrap_or(0.0);
    let seconds_saved = cold_ready_sec.zip(warm_ready_sec).map(|(c, w)| c - w);
    let saved_per_run = seconds_saved
        .zip(input.per_hr)
        .map(|(secs, per_hr)| secs / 3600.0 * per_hr);
    let break_even_runs_per_week = saved_per_run
        .filter(|saved| *saved > 0.0)
        .map(|saved| storage_per_week / saved);
    let verdict = match (seconds_saved, input.per_hr, break_even_runs_per_week) {
        (Some(secs), Some(_), _) if secs <= 0.0 => Verdict::WarmNotFaster,
        (Some(_), Some(_), Some(_)) if storage_per_week == 0.0 => Verdict::FreeToKeep,
        (Some(_), Some(_), Some(break_even)) if runs_per_week >= break_even => Verdict::Pays,
        (Some(_), Some(_), Some(_)) => Verdict::DoesNotPay,
        _ => Verdict::NotEnoughHistory {
            cold_runs,
            warm_runs,
            price_known: input.per_hr.is_some(),
        },
    };
    let recent: Vec<&RunRecord> = runs.iter().rev().take(RECENT_RUNS).rev().copied().collect();
    let mut signals = Vec::new();
    if let Some((changes, of)) = changes(&recent, |r| r.image.as_deref())
        && changes * 2 > of
    {
        signals.push(Signal::ImageDrift { changes, of });
    }
    if let Some((changes, of)) = changes(&recent, |r| r.gpu_id.as_deref())
        && changes * 2 > of
    {
        signals.push(Signal::GpuChanging { changes, of });
    }
    if let Some(since) = input.paused_since {
        let days = super::days_since(since, input.now);
        if days > PAUSED_TOO_LONG_DAYS {
            signals.push(Signal::PausedTooLong { days });
        }
    }
    Advice {
        cold_runs,
        warm_runs,
        cold_ready_sec,
        warm_ready_sec,
        runs_per_week,
        per_hr: input.per_hr,
        volume_gb: input.volume_gb,
        storage_per_week,
        minutes_saved_per_run: seconds_saved.map(|s| s / 60.0),
        saved_per_run,
        break_even_runs_per_week,
        verdict,
        signals,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::hygiene::runs::from_manifest;

    /// fixtures/history/recycle_runs.json, read as `rpd runs` reads run
    /// directories.
    fn history() -> Vec<RunRecord> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/history/recycle_runs.json");
        let entries: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        entries
            .iter()
            .map(|e| {
                let dir =
                    Path::new("/work/proj/artifacts/runpod").join(e["run_dir"].as_str().unwrap());
                from_manifest(&dir, &e["manifest"]).unwrap()
            })
            .collect()
    }

    fn now() -> DateTime<Utc> {
        "2026-11-28T00:00:00Z".parse().unwrap()
    }

    fn close(actual: Option<f64>, expected: f64) {
        let actual = actual.expect("a value");
        assert!(
            (actual - expected).abs() < 1e-9,
            "{actual} is not {expected}"
        );
    }

    /// By hand, from the fixture:
    /// - cold times to the script: 300, 290, 310, 320, 300 s -> median 300 s;
    ///   warm: 60, 58, 62, 55, 65, 59, 60, 70 s -> median (60 + 60) / 2 = 60 s;
    ///   a warm start saves 240 s = 4 minutes.
    /// - 12 runs in the last 28 days (the 13th is 35 days old): 12 / 4 = 3
    ///   runs a week.
    /// - 4 min of an RTX 4090 at $0.44/hr: 4 / 60 x 0.44 = $0.029333 a run.
    /// - a 50 GB volume paused for a week: 50 x $0.20 / 30 x 7 = $2.333333.
    /// - break-even: 2.333333 / 0.029333 = 79.545 runs a week; at 3 a week
    ///   recycling does not pay.
    #[test]
    fn the_break_even_matches_a_hand_computation_on_a_recorded_history() {
        let runs = history();
        let advice = advise(&AdviceInput {
            runs: &runs,
            per_hr: Some(0.44),
            volume_gb: Some(50),
            paused_since: None,
            now: now(),
        });
        assert_eq!((advice.cold_runs, advice.warm_runs), (5, 8));
        close(advice.cold_ready_sec, 300.0);
        close(advice.warm_ready_sec, 60.0);
        close(advice.minutes_saved_per_run, 4.0);
        close(Some(advice.runs_per_week), 3.0);
        close(advice.saved_per_run, 4.0 / 60.0 * 0.44);
        close(Some(advice.storage_per_week), 50.0 * 0.20 / 30.0 * 7.0);
        close(advice.break_even_runs_per_week, 79.545_454_545_454_55);
        assert_eq!(advice.verdict, Verdict::DoesNotPay);
    }

    /// The same history on an H100 at $2.69/hr with a 10 GB volume:
    /// 4 / 60 x 2.69 = $0.179333 a run; 10 x 0.20 / 30 x 7 = $0.466667 a
    /// week; break-even 0.466667 / 0.179333 = 2.602 runs a week: at 3 a
    /// week recycling pays.
    #[test]
    fn a_dearer_gpu_and_a_smaller_volume_make_the_same_history_pay() {
        let runs = history();
        let advice = advise(&AdviceInput {
            runs: &runs,
            per_hr: Some(2.69),
            volume_gb: Some(10),
            paused_since: None,
            now: now(),
        });
        close(advice.break_even_runs_per_week, 2.602_230_483_271_375);
        assert_eq!(advice.verdict, Verdict::Pays);
    }

    #[test]
    fn the_history_raises_image_drift_and_a_long_pause_but_not_a_changing_gpu() {
        let runs = history();
        let advice = advise(&AdviceInput {
            runs: &runs,
            per_hr: Some(0.44),
            volume_gb: Some(50),
            paused_since: Some("2026-10-20T00:00:00Z".parse().unwrap()),
            now: now(),
        });
        // The last five runs' images: A, B, C, C, D: 3 changes of 4.
        assert_eq!(
            advice.signals,
            [
                Signal::ImageDrift { changes: 3, of: 4 },
                Signal::PausedTooLong { days: 39 },
            ]
        );
    }

    #[test]
    fn without_a_warm_run_there_is_no_verdict_only_what_is_missing() {
        let runs: Vec<RunRecord> = history()
            .into_iter()
            .filter(|r| r.start == Start::Cold)
            .collect();
        let advice = advise(&AdviceInput {
            runs: &runs,
            per_hr: Some(0.44),
            volume_gb: Some(50),
            paused_since: None,
            now: now(),
        });
        assert_eq!(
            advice.verdict,
            Verdict::NotEnoughHistory {
                cold_runs: 5,
                warm_runs: 0,
                price_known: true
            }
        );
        assert_eq!(advice.break_even_runs_per_week, None);
    }

    #[test]
    fn a_network_volume_costs_nothing_more_while_paused() {
        let runs = history();
        let advice = advise(&AdviceInput {
            runs: &runs,
            per_hr: Some(0.44),
            volume_gb: None,
            paused_since: None,
            now: now(),
        });
        assert_eq!(advice.verdict, Verdict::FreeToKeep);
        close(advice.break_even_runs_per_week, 0.0);
    }
}
