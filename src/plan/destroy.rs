//! `rpd destroy`: delete every pod the state tracks, then the state.

use super::*;

pub(super) fn plan_destroy(input: &PlanningInput) -> Plan {
    let mut report = empty_report();
    let mut builder = Builder::new();
    let Some(state) = input.state else {
        report.pod = PodChange {
            action: PodAction::Nothing,
            pod_id: None,
            status: None,
            fields: Vec::new(),
            unchanged: 0,
            reason: "no state recorded for this config".into(),
        };
        return Plan {
            job_name: input.job_name.to_string(),
            mode: Mode::Destroy,
            graph: builder.graph,
            report,
            lifecycle: input.lifecycle,
        };
    };
    let mut pod_change = PodChange {
        action: PodAction::Nothing,
        pod_id: None,
        status: None,
        fields: Vec::new(),
        unchanged: 0,
        reason: "no pod recorded".into(),
    };
    if let Some(pod) = &state.pod {
        match input.observed.pods.get(&pod.id).and_then(Observation::pod) {
            Some(observed) => {
                builder.then(
                    StepKind::DeletePod {
                        pod_id: pod.id.clone(),
                        why: DeleteReason::Destroy,
                    },
                    "destroy requested",
                );
                report.summary.destroy += 1;
                pod_change = PodChange {
                    action: PodAction::Destroy,
                    pod_id: Some(pod.id.clone()),
                    status: Some(observed.status),
                    fields: diff::spec_fields(&diff::effective(&pod.spec, &observed.spec))
                        .into_iter()
                        .map(|(field, value)| FieldChange {
                            field: field.into(),
                            old: Some(value),
                            new: None,
                            forces_replacement: false,
                        })
                        .collect(),
                    unchanged: 0,
                    reason: "destroy requested".into(),
                };
            }
            None => {
                report.drift.push(Drift::Deleted {
                    pod_id: pod.id.clone(),
                });
                report
                    .state_only_changes
                    .push(format!("forget pod {} (it no longer exists)", pod.id));
                pod_change.reason = format!("{} was already deleted outside rpd", pod.id);
            }
        }
    }
    for retained in &state.retained {
        let id = &retained.pod.id;
        if let Some(observed) = input.observed.pods.get(id).and_then(Observation::pod) {
            builder.then(
                StepKind::DeletePod {
                    pod_id: id.clone(),
                    why: DeleteReason::Retained,
                },
                format!(
                    "retained since {} ({}), {}",
                    retained.since.format("%Y-%m-%d"),
                    retained.reason,
                    observed.status
                ),
            );
            report.summary.destroy += 1;
            report.retained.push(RetainedNote {
                pod_id: id.clone(),
                status: Some(observed.status),
                reason: retained.reason.clone(),
                per_month: cost::stopped_usd_per_month(retained.pod.spec.storage.as_ref()),
            });
        } else {
            report
                .state_only_changes
                .push(format!("forget retained pod {id} (it no longer exists)"));
        }
    }
    if state.pending_create.is_some() {
        for found in &input.observed.pending_matches {
            if state.pod_ids().contains(&found.id.as_str()) {
                continue;
            }
            builder.then(
                StepKind::DeletePod {
                    pod_id: found.id.clone(),
                    why: DeleteReason::Duplicate,
                },
                "created by an interrupted apply",
            );
            report.summary.destroy += 1;
        }
    }
    builder.then(StepKind::RemoveState, "nothing left to track");
    report
        .state_only_changes
        .push("remove the state file".into());
    report.pod = pod_change;
    report.has_pod_changes = builder
        .graph
        .node_weights()
        .any(|s| s.kind.changes_things());
    Plan {
        job_name: input.job_name.to_string(),
        mode: Mode::Destroy,
        graph: builder.graph,
        report,
        lifecycle: input.lifecycle,
    }
}
