//! `budget:` and `telemetry:`: what a run may cost, how long it may take, and
//! how often it is polled and sampled.

use super::Checker;
use crate::config::raw::{RawBudget, RawTelemetry};
use crate::config::{Budget, Telemetry};

impl Checker<'_> {
    pub(super) fn budget(&mut self, b: &RawBudget) -> Budget {
        let cost_cap_usd = self.positive_float("budget.cost_cap_usd", b.cost_cap_usd, 10.0);
        let assumed = self.positive_float(
            "budget.assumed_hourly_rate_usd",
            b.assumed_hourly_rate_usd,
            1.65,
        );
        let max_runtime_minutes =
            self.optional_positive("budget.max_runtime_minutes", b.max_runtime_minutes);
        let poll_interval_sec = self.positive("budget.poll_interval_sec", b.poll_interval_sec, 60);
        let ssh_ready_timeout_sec =
            self.positive("budget.ssh_ready_timeout_sec", b.ssh_ready_timeout_sec, 900);
        let timeout_sec = match max_runtime_minutes {
            Some(m) => u64::from(m) * 60,
            None => (cost_cap_usd / assumed * 3600.0) as u64,
        };
        if assumed * (timeout_sec as f64 / 3600.0) > cost_cap_usd + 1e-9 {
            self.error(
                "budget.max_runtime_minutes",
                "configured timeout exceeds cost cap under the assumed hourly rate",
            )
            .help = Some(format!(
                "{} min at ${assumed}/hr costs ${:.2}, above cost_cap_usd ${cost_cap_usd}; lower max_runtime_minutes or raise the cap",
                timeout_sec / 60,
                assumed * timeout_sec as f64 / 3600.0
            ));
        }
        Budget {
            cost_cap_usd,
            assumed_hourly_rate_usd: assumed,
            max_runtime_minutes,
            poll_interval_sec,
            ssh_ready_timeout_sec,
            timeout_sec,
            max_runtime_sec: max_runtime_minutes.map(|m| u64::from(m) * 60),
        }
    }

    pub(super) fn telemetry(&mut self, t: &RawTelemetry) -> Telemetry {
        let sample_interval_sec = match t.sample_interval_sec {
            None => 30,
            Some(v) if v >= 5 => self
                .at_most_u32("telemetry.sample_interval_sec", v)
                .unwrap_or(30),
            Some(v) => {
                self.error(
                    "telemetry.sample_interval_sec",
                    format!("`telemetry.sample_interval_sec` must be >= 5, got {v}"),
                );
                30
            }
        };
        Telemetry {
            enabled: t.enabled,
            sample_interval_sec,
            capture_nvidia_smi: t.capture_nvidia_smi,
            capture_dmesg: t.capture_dmesg,
            capture_pod_describe: t.capture_pod_describe,
            capture_remote_env: t.capture_remote_env,
            capture_local_git: t.capture_local_git,
            capture_payload_lockfile: t.capture_payload_lockfile,
        }
    }
}
