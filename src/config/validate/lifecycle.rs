//! `lifecycle:`: what becomes of the pod after a run that succeeded or failed.

use super::Checker;
use crate::config::raw::RawLifecycle;
use crate::config::shown;
use crate::config::suggest;
use crate::model::{BusyHostPolicy, DEFAULT_UNATTENDED_STOP_AFTER_SEC, Lifecycle, LifecycleAction};

const RECYCLE_ON_FAILURE: &str = "lifecycle.on_failure cannot be 'recycle'; recycle is the success-path only because failed pods have potentially corrupted state. See Issue #90.";

impl Checker<'_> {
    pub(super) fn lifecycle(&mut self, raw: &RawLifecycle) -> Lifecycle {
        Lifecycle {
            on_success: self.lifecycle_action(
                "lifecycle.on_success",
                raw.on_success.as_deref(),
                LifecycleAction::Delete,
            ),
            on_failure: self.lifecycle_action(
                "lifecycle.on_failure",
                raw.on_failure.as_deref(),
                LifecycleAction::Stop,
            ),
            on_busy_host: raw
                .on_busy_host
                .as_deref()
                .and_then(|value| self.busy_host_policy(value)),
            unattended_stop_after_sec: self.positive(
                "lifecycle.unattended_stop_after_sec",
                raw.unattended_stop_after_sec,
                DEFAULT_UNATTENDED_STOP_AFTER_SEC,
            ),
        }
    }

    fn busy_host_policy(&mut self, value: &str) -> Option<BusyHostPolicy> {
        let path = "lifecycle.on_busy_host";
        if let Some(policy) = BusyHostPolicy::parse(value) {
            return Some(policy);
        }
        let allowed = ["wait", "recreate", "fail"];
        let mut help = format!("allowed: {}", allowed.join(", "));
        if let Some(near) = suggest(value, allowed) {
            help = format!("did you mean `{near}`? {help}");
        }
        self.error(
            path,
            format!("`{path}` must be one of wait, recreate, fail; got {value:?}"),
        )
        .help = Some(help);
        None
    }

    fn lifecycle_action(
        &mut self,
        path: &str,
        value: Option<&str>,
        default: LifecycleAction,
    ) -> LifecycleAction {
        let Some(value) = value else { return default };
        let action = match value {
            "preserve" => LifecycleAction::Preserve,
            "stop" => LifecycleAction::Stop,
            "delete" => LifecycleAction::Delete,
            "recycle" => LifecycleAction::Recycle,
            other => {
                let allowed = ["preserve", "stop", "delete", "recycle"];
                let mut help = format!("allowed: {}", allowed.join(", "));
                if let Some(near) = suggest(other, allowed) {
                    help = format!("did you mean `{near}`? {help}");
                }
                self.error(
                    path,
                    format!(
                        "`{path}` must be one of preserve, stop, delete, recycle; got {}",
                        shown(other)
                    ),
                )
                .help = Some(help);
                return default;
            }
        };
        if path == "lifecycle.on_failure" && action == LifecycleAction::Recycle {
            self.error(path, RECYCLE_ON_FAILURE).help =
                Some("use `stop` to keep the failed pod for forensics, or `delete`".into());
            return default;
        }
        action
    }
}
