//! What a config's pods cost: RunPod's hourly bills summed (compute,
//! storage while running, storage while paused), or, where no billing can
//! be read (a provider without it, or a key RunPod does not show bills to),
//! an estimate from the run manifests and rpd's record of the pauses,
//! labelled as such. Network volumes bill apart from any pod: each is
//! summed once, whichever configs mount it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::runs::RunRecord;
use crate::model::{PodBill, VolumeBill};

/// Where the figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// RunPod's billing (`GET /v2/billing/pods`).
    Billing,
    /// Run manifests and rpd's record of pauses: an estimate.
    Estimate,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spend {
    /// GPU and CPU time.
    pub compute_usd: f64,
    /// Disk billed in hours the pod also ran.
    pub storage_running_usd: f64,
    /// Disk billed in hours with no compute: the pod was paused.
    pub storage_paused_usd: f64,
    /// RunPod's total (with an estimate, the sum of the parts).
    pub total_usd: f64,
}

impl Spend {
    pub fn add(&mut self, other: &Spend) {
        self.compute_usd += other.compute_usd;
        self.storage_running_usd += other.storage_running_usd;
        self.storage_paused_usd += other.storage_paused_usd;
        self.total_usd += other.total_usd;
    }
}

/// Sums hourly bills: a bucket with no GPU or CPU amount is an hour the
/// pod was paused, so its disk amount is storage paid while paused.
pub fn from_bills(bills: &[PodBill]) -> Spend {
    let mut spend = Spend::default();
    for bill in bills {
        let compute = bill.gpu_usd + bill.cpu_usd;
        spend.compute_usd += compute;
        if compute > 0.0 {
            spend.storage_running_usd += bill.disk_usd;
        } else {
            spend.storage_paused_usd += bill.disk_usd;
        }
        spend.total_usd += bill.total_usd;
    }
    spend
}

/// One config's spend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigSpend {
    pub config: std::path::PathBuf,
    pub job_name: String,
    /// The pods looked up (every pod the state ever tracked).
    pub pod_ids: Vec<String>,
    pub source: Source,
    pub spend: Spend,
    /// Why RunPod's bills could not be read (a key without billing access:
    /// 403), when the figures are estimated because of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_refused: Option<String>,
}

/// One network volume's storage over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumeSpend {
    pub volume_id: String,
    /// The configs whose pods mount it.
    pub configs: Vec<std::path::PathBuf>,
    /// RunPod's bills summed; `None` when they could not be read.
    pub total_usd: Option<f64>,
    /// Why not (RunPod refused them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_refused: Option<String>,
}

/// Sums a volume's bills.
pub fn from_volume_bills(bills: &[VolumeBill]) -> f64 {
    bills.iter().map(|b| b.total_usd).sum()
}

/// A pause rpd knows of: since when, and what the volume bills meanwhile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pause {
    pub since: DateTime<Utc>,
    pub per_month: f64,
}

/// An estimate since `since`: compute from the runs' estimated cost,
/// storage while paused from the pauses rpd knows of now (earlier pauses
/// are not on record, so it is a floor).
pub fn estimate(
    runs: &[RunRecord],
    pauses: &[Pause],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Spend {
    let compute_usd: f64 = runs
        .iter()
        .filter(|r| r.at.is_some_and(|at| at >= since))
        .filter_map(|r| r.estimated_cost_usd)
        .sum();
    let storage_paused_usd: f64 = pauses
        .iter()
        .map(|p| {
            let from = p.since.max(since);
            let days = (now - from).num_seconds().max(0) as f64 / 86_400.0;
            p.per_month / 30.0 * days
        })
        .sum();
    Spend {
        compute_usd,
        storage_running_usd: 0.0,
        storage_paused_usd,
        total_usd: compute_usd + storage_paused_usd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bill(hour: u32, gpu: f64, disk: f64, total: f64) -> PodBill {
        let start: DateTime<Utc> = format!("2026-11-20T{hour:02}:00:00Z").parse().unwrap();
        PodBill {
            pod_id: "p".into(),
            start,
            end: start + chrono::Duration::hours(1),
            total_usd: total,
            gpu_usd: gpu,
            cpu_usd: 0.0,
            disk_usd: disk,
        }
    }

    #[test]
    fn paused_hours_are_those_with_no_compute() {
        let spend = from_bills(&[
            bill(9, 0.44, 0.0097, 0.4497),
            bill(10, 0.22, 0.0097, 0.2297),
            bill(11, 0.0, 0.0139, 0.0139),
        ]);
        assert!((spend.compute_usd - 0.66).abs() < 1e-9);
        assert!((spend.storage_running_usd - 0.0194).abs() < 1e-9);
        assert!((spend.storage_paused_usd - 0.0139).abs() < 1e-9);
        assert!((spend.total_usd - 0.6933).abs() < 1e-9);
    }

    #[test]
    fn an_estimate_counts_runs_and_pauses_inside_the_window_only() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let run = |t: &str, cost: f64| RunRecord {
            run_dir: "/r".into(),
            at: Some(at(t)),
            job_name: "j".into(),
            config: None,
            pod_id: None,
            start: super::super::runs::Start::Cold,
            ready_sec: None,
            job_sec: None,
            failed: false,
            estimated_cost_usd: Some(cost),
            price_per_hr: None,
            gpu_id: None,
            datacenter_id: None,
            image: None,
            volume_gb: None,
        };
        // 50 GB paused since 10 days before the window opened: the 30 days
        // of the window count, $10.00.
        let spend = estimate(
            &[
                run("2026-10-01T00:00:00Z", 5.0),
                run("2026-11-20T00:00:00Z", 0.5),
            ],
            &[Pause {
                since: at("2026-10-19T00:00:00Z"),
                per_month: 10.0,
            }],
            at("2026-10-29T00:00:00Z"),
            at("2026-11-28T00:00:00Z"),
        );
        assert!((spend.compute_usd - 0.5).abs() < 1e-9);
        assert!((spend.storage_paused_usd - 10.0).abs() < 1e-9);
        assert!((spend.total_usd - 10.5).abs() < 1e-9);
    }
}
