//! The words of reviewing changes: a saved plan's staleness, `rpd diff`'s
//! assumed pod and changed keys, the summary of many configs.

use super::plural;
use crate::plan::review::{ConfigChange, OldPod};
use crate::plan::saved::StaleCause;
use crate::render::json::{ConfigsSummary, Seal};

/// The combined summary of several configs.
pub fn configs_summary(summary: &ConfigsSummary) -> String {
    format!(
        "{} config{}: {} with pod changes, {} with only the routine run, {} failed.",
        summary.configs,
        plural(summary.configs),
        summary.with_pod_changes,
        summary.routine,
        summary.failed
    )
}

/// The pod `rpd diff` plans the new config against.
pub fn old_pod(old_pod: &OldPod) -> String {
    match old_pod {
        OldPod::Paused { datacenter, gpu } => format!(
            "the pod the old config recycles (paused after its job, on {datacenter} / {gpu})"
        ),
        OldPod::NoneKept { on_success } => format!(
            "no pod: the old config's on_success is {on_success}, so no pod is kept between runs and the next apply creates one"
        ),
        OldPod::NewConfig => {
            "no pod: the old config is empty (a new config), so the first apply creates one".into()
        }
    }
}

/// A changed config key: `~ pod.image = "a" -> "b"`; long values (a
/// script body) are only said to have changed.
pub fn config_change(change: &ConfigChange) -> String {
    let show = |v: &serde_json::Value| {
        let text = v.to_string();
        if text.len() > 60 || text.contains("\\n") {
            None
        } else {
            Some(text)
        }
    };
    match (&change.before, &change.after) {
        (None, Some(after)) => match show(after) {
            Some(text) => format!("+ {} = {text}", change.key),
            None => format!("+ {} (added)", change.key),
        },
        (Some(before), None) => match show(before) {
            Some(text) => format!("- {} = {text}", change.key),
            None => format!("- {} (removed)", change.key),
        },
        (Some(before), Some(after)) => match (show(before), show(after)) {
            (Some(b), Some(a)) => format!("~ {} = {b} -> {a}", change.key),
            _ => format!("~ {} (changed)", change.key),
        },
        (None, None) => format!("  {}", change.key),
    }
}

/// Why a saved plan no longer holds (after "saved plan is stale: ").
/// Why the saved plan `file` is not as `rpd plan -o` wrote it; `None` when
/// it is.
pub fn broken_seal(seal: Seal, file: &str) -> Option<String> {
    match seal {
        Seal::Intact => None,
        Seal::Missing => Some(format!(
            "saved plan {file} has no digest (an older rpd saved it, or it was edited)"
        )),
        Seal::Broken => Some(format!(
            "saved plan {file} was changed after `rpd plan -o` wrote it (its content does not match its digest)"
        )),
    }
}

pub fn stale_cause(cause: &StaleCause, config: &str) -> String {
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    match cause {
        StaleCause::ProviderChanged { was, now } => {
            format!("it was made with --provider {was}, and this run uses --provider {now}")
        }
        StaleCause::ConfigChanged => {
            format!("the configuration changed since the plan was created ({config})")
        }
        StaleCause::StateCreated => {
            "a state file was created since the plan was created (another apply ran)".into()
        }
        StaleCause::StateRemoved => "the state file was removed since the plan was created".into(),
        StaleCause::StateLineageChanged { was, now } => format!(
            "the state file is another state now (lineage {was} -> {now}): the plan was created from a different state lineage"
        ),
        StaleCause::StateSerialChanged { was, now } => format!(
            "the state was changed by another operation after the plan was created (serial {was} -> {now})"
        ),
        StaleCause::PodGone { pod_id } => {
            format!("pod {pod_id} no longer exists (it existed when the plan was created)")
        }
        StaleCause::PodAppeared { pod_id } => {
            format!("pod {pod_id} exists again (it did not when the plan was created)")
        }
        StaleCause::PodChanged {
            pod_id,
            field,
            was,
            now,
        } => format!(
            "pod {pod_id} changed since the plan was created ({field} {} -> {})",
            or_none(was),
            or_none(now)
        ),
        StaleCause::InterruptedCreateMatchesChanged { was, now } => format!(
            "the pods named like an interrupted create changed since the plan was created ([{}] -> [{}])",
            was.join(", "),
            now.join(", ")
        ),
    }
}
