//! The pod an apply plan starts from: the state's current pod, or one a
//! crashed create made (adopted), and what the provider says about it now.

use super::*;
use crate::model::{ObservedPod, PodSpec, PodStatus};
use crate::state::{PendingCreate, PendingUpdate, State};

/// The pod the plan starts from: the state's (or one adopted from an
/// interrupted create), its recorded spec and what the provider says now.
pub(super) struct Current {
    pub id: String,
    pub recorded: PodSpec,
    pub observation: Observation,
}

impl Current {
    /// The best knowledge of what the pod is: observed fields over recorded.
    pub fn effective_spec(&self) -> PodSpec {
        let observed = self.observation.pod().map(|p| p.spec.clone());
        diff::effective(&self.recorded, &observed.unwrap_or_default())
    }
}

impl Planner<'_> {
    /// The recorded pod (or one adopted from an interrupted create) and what
    /// the provider says about it.
    pub(super) fn current_pod(&mut self) -> Option<Current> {
        let input = self.input;
        let state = input.state()?;
        // A pod that a crashed create made stands in for a recorded pod that
        // no longer exists (the create was replacing it).
        let recorded_gone = state.pod.as_ref().is_some_and(|p| self.is_gone(&p.id));
        if let Some(pending) = &state.pending_create
            && let Some(adopted) = self.settle_interrupted_create(state, pending, recorded_gone)
        {
            if let Some(gone) = state.pod.as_ref() {
                self.drift.push(Drift::Deleted {
                    pod_id: gone.id.clone(),
                });
            }
            return Some(adopted);
        }
        let pod = state.pod.as_ref()?;
        let observation = match input.observed.pods.get(&pod.id) {
            Some(Observation::Pod(p)) if p.status != PodStatus::Terminated => {
                Observation::Pod(p.clone())
            }
            _ => Observation::Gone,
        };
        let pending_update = state.pending_update.as_ref();
        let recorded = match pending_update {
            Some(pending) => self.settle_interrupted_update(pending, &pod.spec, &observation),
            None => pod.spec.clone(),
        };
        // An interrupted update restarts the pod, a pod rpd started settles
        // into RUNNING, and the on-pod guard stops the pod of a job an
        // earlier run launched, or one an earlier rpd was setting up when
        // it went away: all rpd's doing.
        let guard_stopped = |now: PodStatus| {
            now == PodStatus::Exited
                && (state
                    .launched_job
                    .as_ref()
                    .is_some_and(|job| job.pod_id == pod.id)
                    || state.guarded_pod.as_deref() == Some(pod.id.as_str()))
        };
        let settled = |before: PodStatus, now: PodStatus| {
            matches!(before, PodStatus::Provisioning | PodStatus::Starting)
                && now == PodStatus::Running
        };
        if let (Some(before), Observation::Pod(now)) = (pod.status, &observation)
            && before != now.status
            && pending_update.is_none()
            && !guard_stopped(now.status)
            && !settled(before, now.status)
        {
            self.report_status_drift(&pod.id, before, now.status);
        }
        Some(Current {
            id: pod.id.clone(),
            recorded,
            observation,
        })
    }

    /// Settles an update whose answer was lost: the live pod says whether
    /// it happened. If it did, the recorded spec takes it (so it is not
    /// shown as a change made outside rpd); if not, nothing is re-sent as
    /// is: the pod is compared with the config afresh, like any other.
    fn settle_interrupted_update(
        &mut self,
        pending: &PendingUpdate,
        recorded: &PodSpec,
        observation: &Observation,
    ) -> PodSpec {
        let pod_id = pending.pod_id.clone();
        let updated = pending.update.applied_to(recorded);
        let applied = match observation {
            Observation::Pod(now) => diff::drift(&updated, &now.spec).is_empty(),
            Observation::Gone => false,
        };
        self.steps.then(
            StepKind::SettleInterruptedUpdate {
                pod_id: pod_id.clone(),
                applied,
            },
            Some(Reason::InterruptedUpdateSettled),
        );
        if applied {
            self.state_changes
                .push(StateChange::RecordInterruptedUpdate { pod_id });
            updated
        } else {
            self.state_changes
                .push(StateChange::ForgetInterruptedUpdate { pod_id });
            recorded.clone()
        }
    }

    /// Whether the provider says pod `id` no longer exists.
    fn is_gone(&self, id: &str) -> bool {
        self.input
            .observed
            .pods
            .get(id)
            .and_then(Observation::pod)
            .is_none()
    }

    /// Settles a create that was interrupted: with no current pod (or one
    /// that no longer exists), the first untracked pod of its name is the
    /// one it made (adopted); any other pod of that name is a duplicate
    /// (deleted).
    fn settle_interrupted_create(
        &mut self,
        state: &State,
        pending: &PendingCreate,
        recorded_gone: bool,
    ) -> Option<Current> {
        let input = self.input;
        let untracked: Vec<&ObservedPod> = input
            .observed
            .pending_matches
            .iter()
            .filter(|p| {
                p.status != PodStatus::Terminated && !state.pod_ids().contains(&p.id.as_str())
            })
            .collect();
        let adopt = if state.pod.is_none() || recorded_gone {
            untracked.first().copied()
        } else {
            None
        };
        for dup in untracked
            .iter()
            .filter(|p| Some(p.id.as_str()) != adopt.map(|a| a.id.as_str()))
        {
            self.steps.then(
                StepKind::DeletePod {
                    pod_id: dup.id.clone(),
                    why: DeleteReason::Duplicate,
                },
                Some(Reason::UntrackedFromInterruptedCreate {
                    name: pending.name.clone(),
                }),
            );
            self.summary.destroy += 1;
        }
        let Some(found) = adopt else {
            if untracked.is_empty() {
                self.state_changes
                    .push(StateChange::ForgetInterruptedCreate {
                        name: pending.name.clone(),
                    });
            }
            self.steps.then(
                StepKind::ForgetPendingCreate {
                    name: pending.name.clone(),
                },
                Some(Reason::InterruptedCreateSettled),
            );
            return None;
        };
        self.warnings.push(Warning::InterruptedCreateAdopted {
            name: pending.name.clone(),
            started_at: pending.started_at,
            pod_id: found.id.clone(),
        });
        self.steps.then(
            StepKind::AdoptPod {
                pod_id: found.id.clone(),
            },
            Some(Reason::FoundByInterruptedCreateName {
                name: pending.name.clone(),
            }),
        );
        self.state_changes.push(StateChange::RecordAdoptedPod {
            pod_id: found.id.clone(),
        });
        Some(Current {
            id: found.id.clone(),
            recorded: found.spec.clone(),
            observation: Observation::Pod(Box::new(found.clone())),
        })
    }

    /// The pod's status changed outside rpd (stopped or started in the console).
    fn report_status_drift(&mut self, pod_id: &str, before: PodStatus, now: PodStatus) {
        // A status rpd does not know is no evidence of a start.
        let note = (now.is_active() && now != PodStatus::Unknown && !before.is_active())
            .then_some(FieldNote::StartedOutsideRpd);
        self.drift.push(Drift::Changed {
            pod_id: pod_id.to_string(),
            fields: vec![FieldChange {
                field: "status".into(),
                old: Some(FieldValue::text(before.as_str())),
                new: Some(FieldValue::text(now.as_str())),
                forces_replacement: false,
                note,
            }],
        });
    }
}
