//! Carries out `rpd cleanup`'s plan: pods across state files, each delete
//! or stop followed by a write of the state that tracks the pod (the
//! caller holds those states' locks). A failure is reported and the other
//! pods are still cleaned up.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::lifecycle::stop_verified;
use super::pods::delete_pod;
use super::{REQUEST_RETRY, StopOutcome};
use crate::model::PodStatus;
use crate::plan::{Plan, StepKind};
use crate::progress::Reporter;
use crate::provider::{ProviderError, SharedProvider};
use crate::state::{self, State};

/// The state files a cleanup may change, read under their locks.
#[derive(Debug, Default)]
pub struct CleanupStates {
    /// By path.
    pub states: HashMap<PathBuf, State>,
    /// Which state file tracks each pod.
    pub tracked_by: HashMap<String, PathBuf>,
    /// runpod-deploy pointers: one whose pod is deleted is removed.
    pub pointers: Vec<PathBuf>,
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
}

pub async fn carry_out(
    provider: &SharedProvider,
    plan: &Plan,
    mut states: CleanupStates,
    reporter: &Reporter,
) -> CleanupReport {
    let mut report = CleanupReport::default();
    for (_, step) in plan.ordered() {
        let (pod_id, done) = match &step.kind {
            StepKind::DeletePod { pod_id, .. } => {
                match delete_pod(provider, reporter, &REQUEST_RETRY, pod_id).await {
                    Ok(_) | Err(ProviderError::NotFound(_)) => {
                        report.deleted += 1;
                        (pod_id, Change::Forget)
                    }
                    Err(err) => {
                        report.failures.push(format!(
                            "deleting pod {pod_id}: {err} (it is still tracked)"
                        ));
                        continue;
                    }
                }
            }
            StepKind::StopPod { pod_id } => {
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
                        (pod_id, Change::Stopped)
                    }
                    (StopOutcome::Gone, _) => (pod_id, Change::Forget),
                    (StopOutcome::Failed(failure), _) => {
                        report.failures.push(failure.to_string());
                        continue;
                    }
                }
            }
            StepKind::ForgetPod { pod_id } => {
                report.forgotten += 1;
                (pod_id, Change::Forget)
            }
            _ => continue,
        };
        if let Err(err) = record(&mut states, pod_id, done, &mut report) {
            report.failures.push(err);
        }
    }
    report
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
