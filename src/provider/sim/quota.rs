//! A rate limit as RunPod's REST v2 enforces it: fixed windows (a minute,
//! an hour), each with a quota of requests; past it, 429 with the seconds
//! until the window resets. The simulator refuses calls with it, and the
//! REST v2 test fake also answers every request with the `RateLimit-Policy`
//! and `RateLimit` headers it describes (openapi-v2.json's
//! `RateLimitPolicyHeader` and `RateLimitHeader`: `"minute";q=60;w=60` and
//! `"minute";r=0;t=12`). Limits differ between accounts, so both are
//! settable (`rpd sim rate-limit`).

use serde::{Deserialize, Serialize};

/// RunPod's example policy has 50 times the minute's quota in an hour
/// (60 a minute, 3000 an hour).
pub const HOUR_PER_MINUTE: u32 = 50;

/// One window: `limit` requests every `secs` seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub name: String,
    pub limit: u32,
    pub secs: u64,
    /// When the current window began (epoch ms), and requests in it.
    #[serde(default)]
    started_ms: Option<i64>,
    #[serde(default)]
    used: u32,
}

impl Window {
    pub fn new(name: &str, limit: u32, secs: u64) -> Window {
        Window {
            name: name.to_string(),
            limit,
            secs: secs.max(1),
            started_ms: None,
            used: 0,
        }
    }

    /// Starts a new window when the last one is over.
    fn roll(&mut self, now_ms: i64) {
        let over = self
            .started_ms
            .is_none_or(|start| now_ms >= start + (self.secs as i64) * 1000);
        if over {
            self.started_ms = Some(now_ms);
            self.used = 0;
        }
    }

    /// Whole seconds until the window resets, rounded up (a client that
    /// waits this long is never early).
    fn resets_in(&self, now_ms: i64) -> u64 {
        let end = self.started_ms.unwrap_or(now_ms) + (self.secs as i64) * 1000;
        let ms = (end - now_ms).max(0) as u64;
        ms.div_ceil(1000)
    }
}

/// The windows of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub windows: Vec<Window>,
}

/// What one request met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// False: refused (429), not counted.
    pub allowed: bool,
    /// Seconds until the exhausted windows reset (for `Retry-After`).
    pub retry_after_secs: u64,
    /// The window that refused it.
    pub exceeded: Option<String>,
    /// `RateLimit-Policy`: `"minute";q=20;w=60, "hour";q=1000;w=3600`.
    pub policy: String,
    /// `RateLimit` after this request: `"minute";r=19;t=60, ...`.
    pub state: String,
}

impl Quota {
    /// `per_minute` a minute and `per_hour` an hour.
    pub fn new(per_minute: u32, per_hour: u32) -> Quota {
        Quota {
            windows: vec![
                Window::new("minute", per_minute, 60),
                Window::new("hour", per_hour, 3600),
            ],
        }
    }

    /// RunPod's example proportions: the hour holds 50 minutes' quota.
    pub fn per_minute(per_minute: u32) -> Quota {
        Quota::new(per_minute, per_minute.saturating_mul(HOUR_PER_MINUTE))
    }

    /// Counts one request at `now_ms` if every window has room for it.
    pub fn spend(&mut self, now_ms: i64) -> Verdict {
        for window in &mut self.windows {
            window.roll(now_ms);
        }
        let full: Vec<&Window> = self.windows.iter().filter(|w| w.used >= w.limit).collect();
        let allowed = full.is_empty();
        let retry_after_secs = full.iter().map(|w| w.resets_in(now_ms)).max().unwrap_or(0);
        let exceeded = full.first().map(|w| w.name.clone());
        if allowed {
            for window in &mut self.windows {
                window.used += 1;
            }
        }
        Verdict {
            allowed,
            retry_after_secs,
            exceeded,
            policy: self
                .windows
                .iter()
                .map(|w| format!("\"{}\";q={};w={}", w.name, w.limit, w.secs))
                .collect::<Vec<_>>()
                .join(", "),
            state: self
                .windows
                .iter()
                .map(|w| {
                    format!(
                        "\"{}\";r={};t={}",
                        w.name,
                        w.limit.saturating_sub(w.used),
                        w.resets_in(now_ms)
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_refuses_past_its_quota_until_it_resets() {
        let mut quota = Quota::per_minute(2);
        let first = quota.spend(1_000);
        assert!(first.allowed);
        assert_eq!(first.policy, "\"minute\";q=2;w=60, \"hour\";q=100;w=3600");
        assert_eq!(first.state, "\"minute\";r=1;t=60, \"hour\";r=99;t=3600");
        assert!(quota.spend(2_000).allowed);
        let refused = quota.spend(30_500);
        assert!(!refused.allowed);
        assert_eq!(refused.exceeded.as_deref(), Some("minute"));
        assert_eq!(refused.retry_after_secs, 31, "rounded up: never early");
        assert_eq!(refused.state, "\"minute\";r=0;t=31, \"hour\";r=98;t=3571");
        // A refused request is not counted; the next window is fresh.
        let next = quota.spend(61_000);
        assert!(next.allowed);
        assert_eq!(next.state, "\"minute\";r=1;t=60, \"hour\";r=97;t=3540");
    }

    #[test]
    fn the_hour_can_be_the_window_that_refuses() {
        let mut quota = Quota::new(10, 3);
        for at in [0, 1, 2] {
            assert!(quota.spend(at).allowed);
        }
        let refused = quota.spend(70_000);
        assert!(!refused.allowed);
        assert_eq!(refused.exceeded.as_deref(), Some("hour"));
        assert_eq!(refused.retry_after_secs, 3530);
    }
}
