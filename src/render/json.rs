//! `plan --format json`: the same plan as data, versioned. Readers must
//! reject an unknown major `format_version`. Values are JSON values; every
//! reason, warning, note and state change is typed (`kind` plus its data)
//! and carries the sentence the text plan prints as `message`.

use serde::Serialize;

use super::words;
use crate::model::PodStatus;
use crate::plan::{
    CostReport, Drift, FieldChange, LocalProblem, Mode, Note, Plan, PodAction, Reason,
    RetainedNote, StateChange, StepKind, Summary, Warning,
};

/// 2.0: values are JSON values, not rendered text; reasons, warnings, notes
/// and state changes are typed.
pub const FORMAT_VERSION: &str = "2.0";

/// A typed entry and its sentence.
#[derive(Serialize)]
struct Worded<'a, T> {
    #[serde(flatten)]
    entry: &'a T,
    message: String,
}

fn worded<T>(entry: &T, word: impl Fn(&T) -> String) -> Worded<'_, T> {
    Worded {
        message: word(entry),
        entry,
    }
}

#[derive(Serialize)]
struct StepDoc<'a> {
    n: usize,
    #[serde(flatten)]
    kind: &'a StepKind,
    reason: Option<Worded<'a, Reason>>,
    /// Step numbers that must finish first.
    after: Vec<usize>,
}

#[derive(Serialize)]
struct PodDoc<'a> {
    action: PodAction,
    pod_id: Option<&'a str>,
    status: Option<PodStatus>,
    fields: &'a [FieldChange],
    unchanged: usize,
    reason: Worded<'a, Reason>,
}

#[derive(Serialize)]
struct PlanDoc<'a> {
    format_version: &'static str,
    rpd_version: &'static str,
    config: &'a str,
    job_name: &'a str,
    mode: Mode,
    summary_line: String,
    drift: &'a [Drift],
    pod: PodDoc<'a>,
    retained: &'a [RetainedNote],
    warnings: Vec<Worded<'a, Warning>>,
    notes: Vec<Worded<'a, Note>>,
    /// Present when the plan cannot be applied: what to fix first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<Worded<'a, LocalProblem>>,
    summary: Summary,
    has_pod_changes: bool,
    state_only_changes: Vec<Worded<'a, StateChange>>,
    cost: &'a CostReport,
    steps: Vec<StepDoc<'a>>,
}

pub fn document(plan: &Plan, config: &str) -> serde_json::Value {
    let report = &plan.report;
    let ordered = plan.ordered();
    let number = |node| ordered.iter().position(|(n, _)| *n == node).map(|i| i + 1);
    let steps = ordered
        .iter()
        .enumerate()
        .map(|(i, (node, step))| StepDoc {
            n: i + 1,
            kind: &step.kind,
            reason: step.reason.as_ref().map(|r| worded(r, words::reason)),
            after: plan
                .graph
                .neighbors_directed(*node, petgraph::Direction::Incoming)
                .filter_map(number)
                .collect(),
        })
        .collect();
    let pod = &report.pod;
    let doc = PlanDoc {
        format_version: FORMAT_VERSION,
        rpd_version: env!("CARGO_PKG_VERSION"),
        config,
        job_name: &plan.job_name,
        mode: plan.mode,
        summary_line: words::summary_line(&report.summary),
        drift: &report.drift,
        pod: PodDoc {
            action: pod.action,
            pod_id: pod.pod_id.as_deref(),
            status: pod.status,
            fields: &pod.fields,
            unchanged: pod.unchanged,
            reason: worded(&pod.reason, words::reason),
        },
        retained: &report.retained,
        warnings: report
            .warnings
            .iter()
            .map(|w| worded(w, words::warning))
            .collect(),
        notes: report
            .notes
            .iter()
            .map(|n| worded(n, words::note))
            .collect(),
        errors: report
            .errors
            .iter()
            .map(|e| worded(e, words::local_problem))
            .collect(),
        summary: report.summary,
        has_pod_changes: report.has_pod_changes,
        state_only_changes: report
            .state_only_changes
            .iter()
            .map(|c| worded(c, words::state_change))
            .collect(),
        cost: &report.cost,
        steps,
    };
    serde_json::to_value(doc).expect("plans serialize")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::plan::{LockHolder, MissingSshKey};

    #[test]
    fn a_warning_with_a_struct_inside_is_one_flat_object_with_its_message() {
        let held = Warning::LockHeld(LockHolder {
            operation: "apply".into(),
            who: "ana@laptop".into(),
            since: "2026-11-27T10:00:00Z".parse().unwrap(),
            pid: 4242,
            host: "laptop".into(),
        });
        assert_eq!(
            serde_json::to_value(worded(&held, words::warning)).unwrap(),
            json!({
                "kind": "lock_held",
                "operation": "apply",
                "who": "ana@laptop",
                "since": "2026-11-27T10:00:00Z",
                "pid": 4242,
                "host": "laptop",
                "message": "another rpd holds this config's lock (apply by ana@laptop since 10:00:00 UTC): this plan may change under it",
            })
        );
        let key = Warning::SshKeyMissing(MissingSshKey {
            key_path: PathBuf::from("/k"),
            config_path: PathBuf::from("c.yaml"),
        });
        let doc = serde_json::to_value(worded(&key, words::warning)).unwrap();
        assert_eq!(doc["kind"], "ssh_key_missing");
        assert_eq!(doc["key_path"], "/k");
        assert_eq!(doc["config_path"], "c.yaml");
    }

    #[test]
    fn a_reason_without_data_is_its_kind_and_message() {
        assert_eq!(
            serde_json::to_value(worded(&Reason::NoPodRecorded, words::reason)).unwrap(),
            json!({"kind": "no_pod_recorded", "message": "no pod recorded"})
        );
    }
}
