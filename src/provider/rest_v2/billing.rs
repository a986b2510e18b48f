//! `GET /v2/billing/pods` (`listPodBilling`): what RunPod billed a pod, by
//! hour. Hourly buckets let `rpd cost` tell storage billed while a pod was
//! paused (a bucket with no compute) from storage billed while it ran.
//! `GET /v2/billing/network-volumes` (`listNetworkVolumeBilling`): what a
//! network volume billed, which no pod bill includes.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Deserialize;

use crate::model::{PodBill, VolumeBill};

/// The bucket size rpd asks for.
pub const BUCKET: &str = "hour";

/// `since` snapped down to the hour, as RFC 3339 (RunPod snaps it too;
/// sending it aligned keeps the window as asked).
fn start(since: DateTime<Utc>) -> String {
    since
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or(since)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The query for one pod since `since`.
pub fn query(pod_id: &str, since: DateTime<Utc>) -> Vec<(&'static str, String)> {
    vec![
        ("podId", pod_id.to_string()),
        ("bucketSize", BUCKET.to_string()),
        ("startTime", start(since)),
    ]
}

/// The query for one network volume since `since`.
pub fn volume_query(volume_id: &str, since: DateTime<Utc>) -> Vec<(&'static str, String)> {
    vec![
        ("networkVolumeId", volume_id.to_string()),
        ("bucketSize", BUCKET.to_string()),
        ("startTime", start(since)),
    ]
}

/// `ListNetworkVolumeBillingResponse`, the parts rpd reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ListVolumeBilling {
    pub records: Vec<VolumeRecord>,
}

/// `NetworkVolumeBillingRecord`: `totalAmount` is standard plus
/// high-performance storage.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeRecord {
    pub network_volume_id: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    #[serde(default)]
    pub total_amount: f64,
}

impl From<VolumeRecord> for VolumeBill {
    fn from(r: VolumeRecord) -> VolumeBill {
        VolumeBill {
            volume_id: r.network_volume_id,
            start: r.start_time,
            end: r.end_time,
            total_usd: r.total_amount,
        }
    }
}

/// `ListPodBillingResponse`, the parts rpd reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ListPodBilling {
    pub records: Vec<Record>,
}

/// `PodBillingRecord`: the amounts are required by the spec; an absent one
/// reads as 0 (RunPod omits nothing today, but a bill is better summed
/// than refused).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub pod_id: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    #[serde(default)]
    pub total_amount: f64,
    #[serde(default)]
    pub gpu_amount: f64,
    #[serde(default)]
    pub cpu_amount: f64,
    #[serde(default)]
    pub disk_amount: f64,
}

impl From<Record> for PodBill {
    fn from(r: Record) -> PodBill {
        PodBill {
            pod_id: r.pod_id,
            start: r.start_time,
            end: r.end_time,
            total_usd: r.total_amount,
            gpu_usd: r.gpu_amount,
            cpu_usd: r.cpu_amount,
            disk_usd: r.disk_amount,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::rest_v2::wire;

    #[test]
    fn the_recorded_answer_parses_into_bills() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/rest_v2/billing_pods.json");
        let body = std::fs::read(&path).unwrap();
        let list: ListPodBilling = wire::parse(&body).unwrap();
        let bills: Vec<PodBill> = list.records.into_iter().map(PodBill::from).collect();
        assert_eq!(bills.len(), 6);
        assert_eq!(bills[0].pod_id, "x7k2m4n6p8q1r3");
        assert_eq!(bills[0].start.to_rfc3339(), "2026-11-20T09:00:00+00:00");
        assert_eq!(bills[0].gpu_usd, 0.44);
        assert_eq!(bills[0].disk_usd, 0.0097);
    }

    #[test]
    fn the_recorded_volume_answer_parses_into_bills() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/rest_v2/billing_network_volumes.json");
        let body = std::fs::read(&path).unwrap();
        let list: ListVolumeBilling = wire::parse(&body).unwrap();
        let bills: Vec<VolumeBill> = list.records.into_iter().map(VolumeBill::from).collect();
        assert_eq!(bills.len(), 3);
        assert_eq!(bills[0].volume_id, "agv6w2qcg7");
        assert_eq!(bills[0].start.to_rfc3339(), "2026-11-20T09:00:00+00:00");
        let total: f64 = bills.iter().map(|b| b.total_usd).sum();
        assert!((total - 0.0417).abs() < 1e-9, "{total}");
        assert_eq!(
            volume_query("v1", "2026-11-01T10:42:17Z".parse().unwrap())[2].1,
            "2026-11-01T10:00:00Z"
        );
    }

    #[test]
    fn the_query_asks_for_hours_from_a_whole_hour() {
        let since: DateTime<Utc> = "2026-11-01T10:42:17Z".parse().unwrap();
        assert_eq!(
            query("p1", since),
            [
                ("podId", "p1".to_string()),
                ("bucketSize", "hour".to_string()),
                ("startTime", "2026-11-01T10:00:00Z".to_string()),
            ]
        );
    }
}
