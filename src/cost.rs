//! RunPod storage prices and the money arithmetic the plan shows.
//!
//! runpod-deploy priced a stopped volume at $0.10/GB·month; RunPod bills
//! $0.20 while stopped (runpod/docs `pods/pricing.mdx`), so rpd prices by state.

use crate::model::{Storage, Usd};

/// Volume disk while the pod runs, $/GB·month.
pub const VOLUME_RUNNING_USD_PER_GB_MONTH: f64 = 0.10;
/// Volume disk while the pod is stopped, $/GB·month.
pub const VOLUME_STOPPED_USD_PER_GB_MONTH: f64 = 0.20;

const DAYS_PER_MONTH: f64 = 30.0;

/// What a stopped pod with this storage costs per month (its volume disk).
/// A network volume is billed with or without the pod, so it is not counted.
pub fn stopped_usd_per_month(storage: Option<&Storage>) -> f64 {
    match storage {
        Some(Storage::Ephemeral { volume_gb, .. }) => {
            f64::from(*volume_gb) * VOLUME_STOPPED_USD_PER_GB_MONTH
        }
        _ => 0.0,
    }
}

/// `$0.44`, `$12.30`, `$0.0042` — enough digits that small storage costs never show as $0.00.
pub fn usd(amount: f64) -> String {
    Usd(amount).to_string()
}

pub fn per_day(per_month: f64) -> f64 {
    per_month / DAYS_PER_MONTH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopped_volume_is_billed_at_the_stopped_rate() {
        let storage = Storage::Ephemeral {
            volume_gb: 50,
            mount: "/workspace".into(),
        };
        assert_eq!(usd(stopped_usd_per_month(Some(&storage))), "$10.00");
        assert_eq!(usd(per_day(stopped_usd_per_month(Some(&storage)))), "$0.33");
    }

    #[test]
    fn network_volume_is_not_charged_to_the_stopped_pod() {
        let storage = Storage::NetworkVolume {
            volume_name: "v".into(),
            volume_id: None,
            mount: "/workspace".into(),
        };
        assert_eq!(stopped_usd_per_month(Some(&storage)), 0.0);
    }

    #[test]
    fn tiny_amounts_keep_significant_digits() {
        assert_eq!(usd(0.0042), "$0.0042");
        assert_eq!(usd(0.0), "$0.00");
    }
}
