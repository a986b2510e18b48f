//! The planner: a pure function of one [`PlanningInput`] (desired spec,
//! state, observed pods, catalog, lock holder, options) to a [`Plan`]: a DAG
//! of steps, each with a typed reason, and a typed report (drift, the pod's
//! change, warnings, notes, summary, cost). No I/O and no sentences here:
//! renderers word the report. PLANNER.md is the decision table it implements.
//!
//! In the manner of omicron's reconfigurator planner, [`plan`] first checks
//! that the input can be planned at all ([`check_input_validity`]), then runs
//! named steps, each a small method of [`Planner`].

pub mod account;
mod apply;
mod attach;
mod catalog;
pub mod cleanup;
mod current;
mod destroy;
pub mod diff;
mod input;
mod paused;
mod report;
pub mod review;
pub mod saved;
pub mod shared;
mod steps;

pub use input::*;
pub use report::*;
pub use steps::*;

use steps::Builder;

use crate::model::{Candidate, Catalog, CloudType, DesiredPod, Stock};
use crate::state::Origin;

/// An input the planner cannot make a plan from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("the desired pod lists no GPU type (pod.gpu_order is empty)")]
    NoGpuTypes,
    #[error("the desired pod lists no datacenter (pod.datacenters is empty)")]
    NoDatacenters,
    /// A pod the state tracks that the refresh did not look at: planning
    /// without knowing whether it exists could delete or forget it wrongly.
    #[error("pod {pod_id} is recorded in the state but was not looked up")]
    NotObserved { pod_id: String },
    /// A cleanup is planned from the pods found (`plan::cleanup`), not
    /// from one config.
    #[error("a cleanup is not planned from a config")]
    CleanupFromConfig,
}

/// Plans `input`, or says why it cannot be planned.
pub fn plan(input: &PlanningInput) -> Result<Plan, InvalidInput> {
    check_input_validity(input)?;
    Ok(do_plan(input))
}

/// Refuses inputs no decision of the table covers. Config validation rejects
/// these already; the planner does not rely on it.
pub fn check_input_validity(input: &PlanningInput) -> Result<(), InvalidInput> {
    if let Some(state) = input.state()
        && let Some(id) = state
            .pod_ids()
            .into_iter()
            .find(|id| !input.observed.pods.contains_key(*id))
    {
        return Err(InvalidInput::NotObserved {
            pod_id: id.to_string(),
        });
    }
    match input.options.mode {
        Mode::Apply => {}
        // A destroy never creates, so it needs no candidates.
        Mode::Destroy => return Ok(()),
        Mode::Cleanup => return Err(InvalidInput::CleanupFromConfig),
    }
    let pod = &input.desired.pod;
    if pod.gpu_order.is_empty() {
        return Err(InvalidInput::NoGpuTypes);
    }
    if pod.datacenters.is_empty() {
        return Err(InvalidInput::NoDatacenters);
    }
    Ok(())
}

fn do_plan(input: &PlanningInput) -> Plan {
    let mut planner = Planner::new(input);
    planner.check_api_key();
    planner.check_pod_statuses();
    let pod = match input.options.mode {
        Mode::Apply => planner.plan_apply(),
        Mode::Destroy | Mode::Cleanup => planner.plan_destroy(),
    };
    planner.report_input_findings();
    planner.finish(pod)
}

/// The plan being made: the input, the steps so far and the report's parts.
struct Planner<'a> {
    input: &'a PlanningInput,
    steps: Builder,
    errors: Vec<PlanError>,
    drift: Vec<Drift>,
    retained: Vec<RetainedNote>,
    warnings: Vec<Warning>,
    notes: Vec<Note>,
    state_changes: Vec<StateChange>,
    summary: Summary,
    cost: CostReport,
}

impl<'a> Planner<'a> {
    fn new(input: &'a PlanningInput) -> Planner<'a> {
        Planner {
            input,
            steps: Builder::new(),
            errors: Vec::new(),
            drift: Vec::new(),
            retained: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
            state_changes: Vec::new(),
            summary: Summary::default(),
            cost: CostReport::default(),
        }
    }

    /// A 404 under another API key is not "gone" (see [`account`]): the
    /// plan refuses to create a second pod (or forget one in a destroy).
    fn check_api_key(&mut self) {
        let input = self.input;
        let Some(recorded) = input.recorded.as_ref() else {
            return;
        };
        let observed = &input.observed;
        self.errors.extend(account::other_api_key(
            &recorded.state,
            &recorded.path,
            input.api_key_fingerprint.as_deref(),
            |id| matches!(observed.pods.get(id), Some(Observation::Gone)),
            observed.pending_matches.is_empty(),
        ));
    }

    /// A pod this plan would act on whose status rpd does not know may be
    /// running, billing, or on its way out: the plan refuses to change
    /// anything around it rather than guess (apply: the current pod;
    /// destroy: every pod it would delete).
    fn check_pod_statuses(&mut self) {
        let input = self.input;
        let Some(state) = input.state() else {
            return;
        };
        let ids: Vec<&str> = match input.options.mode {
            Mode::Apply => state.pod.iter().map(|p| p.id.as_str()).collect(),
            Mode::Destroy | Mode::Cleanup => state.pod_ids(),
        };
        for id in ids {
            if let Some(Observation::Pod(pod)) = input.observed.pods.get(id)
                && pod.status == crate::model::PodStatus::Unknown
            {
                self.errors.push(PlanError::UnknownPodStatus {
                    pod_id: id.to_string(),
                    status: pod.status_text.clone(),
                });
            }
        }
    }

    /// What the refresh found beside the pods: an unreadable catalog, a
    /// missing SSH key, a runpod-deploy state file, another run's lock.
    fn report_input_findings(&mut self) {
        let input = self.input;
        if let CatalogRead::Unreadable { error } = &input.catalog {
            self.warnings.push(Warning::CatalogUnreadable {
                error: error.clone(),
            });
        }
        if let VolumesRead::Unreadable { error } = &input.network_volumes {
            self.warnings.push(Warning::VolumesUnreadable {
                error: error.clone(),
            });
        }
        // A destroy only deletes: it needs no way into a pod. An apply
        // without one would make a pod that bills and cannot be reached.
        if let Some(key) = &input.missing_ssh_key
            && input.options.mode == Mode::Apply
        {
            self.errors.push(PlanError::SshKeyMissing(key.clone()));
        }
        // An apply runs the job's commands; a destroy none.
        if let Some(why) = &input.unsandboxed
            && input.options.mode == Mode::Apply
        {
            self.warnings
                .push(Warning::SimulatorUnsandboxed { why: why.clone() });
        }
        // A destroy runs no job: its local inputs do not matter.
        if input.options.mode == Mode::Apply {
            self.errors.extend(
                input
                    .local_problems
                    .iter()
                    .cloned()
                    .map(PlanError::LocalInput),
            );
        }
        if let Some(recorded) = &input.recorded
            && recorded.origin == Origin::RunpodDeploy
        {
            self.notes.push(Note::RunpodDeployPointer {
                state_file: recorded.path.clone(),
            });
        }
        match &input.lock {
            Some(LockSeen::Held(holder)) => self.warnings.push(Warning::LockHeld(holder.clone())),
            Some(LockSeen::LeftByGoneRun(holder)) => {
                self.notes.push(Note::StaleLock(holder.clone()))
            }
            None => {}
        }
    }

    fn finish(mut self, pod: PodChange) -> Plan {
        // A pod another API key cannot see is not known to be deleted.
        for error in &self.errors {
            if let PlanError::OtherApiKey { pods, .. } = error {
                self.drift
                    .retain(|d| !matches!(d, Drift::Deleted { pod_id } if pods.contains(pod_id)));
            }
        }
        // A plan that cannot be carried out runs no job, so no guard.
        if !self.errors.is_empty() {
            self.notes
                .retain(|note| !matches!(note, Note::GuardStopsPod { .. }));
        }
        let has_pod_changes = self
            .steps
            .graph
            .node_weights()
            .any(|s| s.kind.changes_things());
        // The lifecycle's own stop or delete after the job is routine;
        // every other create, update or delete is not.
        let creates_or_deletes = self.steps.graph.node_weights().any(|s| {
            matches!(
                s.kind,
                StepKind::CreatePod { .. }
                    | StepKind::DeletePod { .. }
                    | StepKind::UpdatePod { .. }
            )
        });
        let changes_beyond_routine = creates_or_deletes || !self.drift.is_empty();
        Plan {
            job_name: self.input.desired.job_name.clone(),
            mode: self.input.options.mode,
            graph: self.steps.graph,
            report: PlanReport {
                errors: self.errors,
                drift: self.drift,
                pod,
                retained: self.retained,
                warnings: self.warnings,
                notes: self.notes,
                summary: self.summary,
                has_pod_changes,
                changes_beyond_routine,
                state_only_changes: self.state_changes,
                cost: self.cost,
            },
            lifecycle: self.input.desired.lifecycle,
        }
    }
}

/// Candidates in runpod-deploy's order: each datacenter, each GPU within
/// it; with a fallback cloud, each candidate is followed by the same place
/// on that cloud, except for `cloud_type: ALL`, where every place on the
/// config's cloud comes first and the other cloud's follow.
pub fn candidates(
    desired: &DesiredPod,
    catalog: Option<&Catalog>,
    fallback: Option<(CloudType, Option<&Catalog>)>,
) -> Vec<Candidate> {
    let on = |dc: &String, gpu: &String, cloud: CloudType, catalog: Option<&Catalog>| {
        let offer = catalog.and_then(|c| c.offer(dc, gpu));
        Candidate {
            datacenter_id: dc.clone(),
            gpu_id: gpu.clone(),
            cloud_type: cloud,
            price_per_hr: offer
                .and_then(|o| o.price_per_gpu_hr)
                .map(|p| p * f64::from(desired.gpu_count)),
            stock: offer.map_or(Stock::Unknown, |o| o.stock),
            invalid: None,
        }
    };
    let mut out = Vec::new();
    let mut after = Vec::new();
    for dc in &desired.datacenters {
        for gpu in &desired.gpu_order {
            out.push(on(dc, gpu, desired.cloud_type, catalog));
            if let Some((cloud, fallback_catalog)) = fallback {
                let then = if desired.all_clouds {
                    &mut after
                } else {
                    &mut out
                };
                then.push(on(dc, gpu, cloud, fallback_catalog));
            }
        }
    }
    out.append(&mut after);
    out
}

#[cfg(test)]
mod tests;
