//! Carries out `rpd cleanup`'s plan: pods across state files and accounts,
//! each delete or stop (through the provider that saw the pod) followed by
//! a write of the state that tracks the pod (the caller holds those states'
//! locks). A failure is reported and the other pods are still cleaned up.
//! An interrupt (Ctrl-C, SIGTERM, SIGHUP) lets the step in flight finish
//! and be recorded, then stops: no delete is left unrecorded by it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::lifecycle::stop_verified;
use super::pods::delete_pod;
use super::{REQUEST_RETRY, StopOutcome};
use crate::interrupt::Interrupt;
use crate::model::PodStatus;
use crate::plan::{Plan, StepKind};
use crate::progress::Reporter;
use crate::provider::{ProviderError, SharedProvider};
use crate::state::{self, State};

/// The state files a cleanup may change, read under their locks.
#[derive(Default)]
pub struct CleanupStates {
    /// By path.
    pub states: HashMap<PathBuf, State>,
    /// Which state file tracks each pod.
    pub tracked_by: HashMap<String, PathBuf>,
    /// runpod-deploy pointers: one whose pod is deleted is removed.
    pub pointers: Vec<PathBuf>,
    /// The provider that saw each pod.
    pub providers: HashMap<String, SharedProvider>,
}

#[derive(Debug, Default)]
pub struct CleanupReport {
    pub deleted: usize,
    pub stopped: usize,
    pub forgotten: usize,
    /// What failed, one sentence each.
    pub failures: Vec<String>,
    /// State files written (or removed, for a pointer).
    pub changed_states: Vec<PathBuf>,
    /// Stopped by an interrupt before the steps left.
    pub interrupted: bool,
}

pub async fn carry_out(
    plan: &Plan,
    mut states: CleanupStates,
    reporter: &Reporter,
    interrupt: &Interrupt,
) -> CleanupReport {
    let mut report = CleanupReport::default();
    for (_, step) in plan.ordered() {
        // Checked between steps only: a delete in flight is finished and
        // recorded, so no state names a pod the interrupt left deleted.
        if interrupt.is_set() {
            report.interrupted = true;
            break;
        }
        let Some((pod_id, done)) = carry_out_step(&states, &step.kind, reporter, &mut report).await
        else {
            continue;
        };
        if let Err(err) = record(&mut states, &pod_id, done, &mut report) {
            report.failures.push(err);
        }
    }
    report
}

/// One step: what became of its pod, or `None` when it failed (reported)
/// or changed nothing.
async fn carry_out_step(
    states: &CleanupStates,
    kind: &StepKind,
    reporter: &Reporter,
    report: &mut CleanupReport,
) -> Option<(String, Change)> {
    let provider = |pod_id: &str, report: &mut CleanupReport| {
        let found = states.providers.get(pod_id);
        if found.is_none() {
            report.failures.push(format!(
                "pod {pod_id}: no provider saw it (it is still tracked)"
            ));
        }
        found
    };
    match kind {
        StepKind::DeletePod { pod_id, .. } => {
            let provider = provider(pod_id, report)?;
            match delete_pod(provider, reporter, &REQUEST_RETRY, pod_id).await {
                Ok(_) | Err(ProviderError::NotFound(_)) => {
                    report.deleted += 1;
                    Some((pod_id.clone(), Change::Forget))
                }
                Err(err) => {
                    report.failures.push(format!(
                        "deleting pod {pod_id}: {err} (it is still tracked)"
                    ));
                    None
                }
            }
        }
        StepKind::StopPod { pod_id } => {
            let provider = provider(pod_id, report)?;
            let config = states
                .tracked_by
                .get(pod_id)
                .and_then(|f| states.states.get(f))
                .and_then(|s| s.owner.as_ref())
                .map(|o| o.config.clone())
                .unwrap_or_default();
            match stop_verified(provider, reporter, &REQUEST_RETRY, pod_id, &config).await {
                (StopOutcome::Done, _) => {
                    report.stopped += 1;
                    Some((pod_id.clone(), Change::Stopped))
                }
                (StopOutcome::Gone, _) => Some((pod_id.clone(), Change::Forget)),
                (StopOutcome::Failed(failure), _) => {
                    report.failures.push(failure.to_string());
                    None
                }
            }
        }
        StepKind::ForgetPod { pod_id } => {
            report.forgotten += 1;
            Some((pod_id.clone(), Change::Forget))
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Forget,
    Stopped,
}

/// Writes what happened to `pod_id` into the state that tracks it.
fn record(
    states: &mut CleanupStates,
    pod_id: &str,
    change: Change,
    report: &mut CleanupReport,
) -> Result<(), String> {
    let Some(path) = states.tracked_by.get(pod_id).cloned() else {
        return Ok(());
    };
    let Some(state) = states.states.get_mut(&path) else {
        return Ok(());
    };
    match change {
        Change::Stopped => {
            if let Some(pod) = state.pod.as_mut().filter(|p| p.id == pod_id) {
                pod.set_status(PodStatus::Exited, Utc::now());
            }
            for kept in state.retained.iter_mut().filter(|r| r.pod.id == pod_id) {
                kept.pod.set_status(PodStatus::Exited, Utc::now());
            }
        }
        Change::Forget => {
            if state.pod.as_ref().is_some_and(|p| p.id == pod_id) {
                state.pod = None;
            }
            state.retained.retain(|r| r.pod.id != pod_id);
            if state
                .launched_job
                .as_ref()
                .is_some_and(|j| j.pod_id == pod_id)
            {
                state.launched_job = None;
            }
        }
    }
    if !report.changed_states.contains(&path) {
        report.changed_states.push(path.clone());
    }
    if states.pointers.contains(&path) && matches!(change, Change::Forget) {
        // runpod-deploy's own cleanup unlinks the pointer of a deleted pod.
        return remove_pointer(&path);
    }
    state::write(&path, state).map_err(|err| {
        format!(
            "pod {pod_id} is {} but its state file could not be written: {err}",
            match change {
                Change::Forget => "gone",
                Change::Stopped => "stopped",
            }
        )
    })
}

fn remove_pointer(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(format!(
            "could not remove the runpod-deploy pointer {}: {err}",
            path.display()
        )),
    }
}
