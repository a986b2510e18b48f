//! `rpd destroy`: delete every pod the state tracks, then the state.

use super::*;
use crate::cost;
use crate::state::State;

impl Planner<'_> {
    pub(super) fn plan_destroy(&mut self) -> PodChange {
        let input = self.input;
        let Some(state) = input.state() else {
            return PodChange::bare(PodAction::Nothing, None, Reason::NoStateRecorded);
        };
        let pod = self.destroy_current(state);
        // A job launched on the pod and not collected: its results go with it.
        self.report_left_job(&pod);
        self.destroy_retained(state);
        self.destroy_duplicates(state);
        self.steps
            .then(StepKind::RemoveState, Some(Reason::NothingLeftToTrack));
        self.state_changes.push(StateChange::RemoveStateFile);
        pod
    }

    /// Deletes the current pod, or forgets it when it is already gone.
    fn destroy_current(&mut self, state: &State) -> PodChange {
        let Some(pod) = &state.pod else {
            return PodChange::bare(PodAction::Nothing, None, Reason::NoPodRecorded);
        };
        let Some(observed) = self
            .input
            .observed
            .pods
            .get(&pod.id)
            .and_then(Observation::pod)
        else {
            self.drift.push(Drift::Deleted {
                pod_id: pod.id.clone(),
            });
            self.state_changes.push(StateChange::ForgetPod {
                pod_id: pod.id.clone(),
            });
            self.steps.then(
                StepKind::ForgetPod {
                    pod_id: pod.id.clone(),
                },
                Some(Reason::AlreadyDeletedOutsideRpd {
                    pod_id: pod.id.clone(),
                }),
            );
            let reason = Reason::AlreadyDeletedOutsideRpd {
                pod_id: pod.id.clone(),
            };
            return PodChange::bare(PodAction::Nothing, None, reason);
        };
        self.steps.then(
            StepKind::DeletePod {
                pod_id: pod.id.clone(),
                why: DeleteReason::Destroy,
            },
            Some(Reason::DestroyRequested),
        );
        self.summary.destroy += 1;
        let fields = diff::spec_fields(&diff::effective(&pod.spec, &observed.spec))
            .into_iter()
            .map(|(field, value)| FieldChange {
                field: field.into(),
                old: Some(value),
                new: None,
                forces_replacement: false,
                note: None,
            })
            .collect();
        PodChange {
            status: Some(observed.status),
            deleted_storage: diff::effective(&pod.spec, &observed.spec).storage,
            fields,
            ..PodChange::bare(
                PodAction::Destroy,
                Some(pod.id.clone()),
                Reason::DestroyRequested,
            )
        }
    }

    /// Retained pods are deleted too (destroy asks first); gone ones are
    /// forgotten.
    fn destroy_retained(&mut self, state: &State) {
        for retained in &state.retained {
            let id = &retained.pod.id;
            let Some(observed) = self.input.observed.pods.get(id).and_then(Observation::pod) else {
                self.state_changes
                    .push(StateChange::ForgetRetainedPod { pod_id: id.clone() });
                self.steps.then(
                    StepKind::ForgetPod { pod_id: id.clone() },
                    Some(Reason::RetainedPodGone { pod_id: id.clone() }),
                );
                continue;
            };
            self.steps.then(
                StepKind::DeletePod {
                    pod_id: id.clone(),
                    why: DeleteReason::Retained,
                },
                Some(Reason::Retained {
                    since: retained.since,
                    because: retained.reason.clone(),
                    status: observed.status,
                }),
            );
            self.summary.destroy += 1;
            self.retained.push(RetainedNote {
                pod_id: id.clone(),
                status: Some(observed.status),
                reason: retained.reason.clone(),
                per_month: cost::stopped_usd_per_month(retained.pod.spec.storage.as_ref()),
            });
        }
    }

    /// Pods an interrupted apply created under the pending name.
    fn destroy_duplicates(&mut self, state: &State) {
        if state.pending_create.is_none() {
            return;
        }
        for found in &self.input.observed.pending_matches {
            if state.pod_ids().contains(&found.id.as_str()) {
                continue;
            }
            self.steps.then(
                StepKind::DeletePod {
                    pod_id: found.id.clone(),
                    why: DeleteReason::Duplicate,
                },
                Some(Reason::CreatedByInterruptedApply),
            );
            self.summary.destroy += 1;
        }
    }
}
