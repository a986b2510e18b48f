//! A job an earlier apply launched and never collected (`apply --detach`,
//! or an rpd that was killed): apply attaches to it (follows it while it
//! runs, collects it once it has ended) and then carries out the
//! lifecycle, instead of running the job again.

use super::apply::PodChoice;
use super::*;
use crate::state::LaunchedJob;

impl Planner<'_> {
    /// The launched job to attach to: one the state records with its tag,
    /// on the pod this plan resumes or reuses, and no live rpd following it.
    pub(super) fn job_to_attach(&self, choice: &PodChoice) -> Option<LaunchedJob> {
        let input = self.input;
        let job = input.state()?.launched_job.as_ref()?;
        job.tag.as_ref()?;
        if input.observed.left_job_collected {
            return None;
        }
        if matches!(input.lock, Some(LockSeen::Held(_))) {
            return None;
        }
        let on = match choice {
            PodChoice::Resume { pod, .. } | PodChoice::Reuse { pod, .. } => pod,
            _ => return None,
        };
        (*on == job.pod_id).then(|| job.clone())
    }

    /// A job the state still records, though an earlier apply collected it
    /// (its state write failed; the run directory says so): forgotten
    /// first, so that this apply runs the job instead of collecting it
    /// again and calling that a success.
    pub(super) fn forget_collected_job(&mut self) {
        let input = self.input;
        if !input.observed.left_job_collected {
            return;
        }
        let Some(job) = input.state().and_then(|s| s.launched_job.as_ref()) else {
            return;
        };
        self.state_changes.push(StateChange::ForgetCollectedJob {
            pod_id: job.pod_id.clone(),
            launched_at: job.launched_at,
            run_dir: job.run_dir.clone(),
        });
        self.steps.then(
            StepKind::ForgetCollectedJob {
                pod_id: job.pod_id.clone(),
            },
            None,
        );
    }

    /// The on-pod guard that starts with the job, and when it stops the pod.
    pub(super) fn report_guard(&mut self) {
        let input = self.input;
        let job = &input.desired.job;
        let deadline =
            chrono::Duration::seconds(i64::try_from(job.timeout_sec).unwrap_or(i64::MAX / 1000));
        self.notes.push(Note::GuardStopsPod {
            deadline_at: chrono::SubsecRound::trunc_subsecs(input.now + deadline, 0),
            max_runtime: job.timeout_is_max_runtime,
            grace_sec: u64::from(input.desired.lifecycle.unattended_stop_after_sec),
        });
    }

    /// Wait for the pod, attach to the job, pull its results.
    pub(super) fn add_attach_steps(&mut self, job: &LaunchedJob) {
        // Nothing is set up again: the job is not run again.
        for note in &mut self.notes {
            if let Note::ResumeWipesContainerDisk {
                setup_runs_again, ..
            } = note
            {
                *setup_runs_again = false;
            }
        }
        self.notes.push(Note::AttachesToLeftJob {
            pod_id: job.pod_id.clone(),
            launched_at: job.launched_at,
            detached: job.detached,
        });
        let outline = &self.input.desired.job;
        self.steps.then(
            StepKind::WaitReady {
                timeout_sec: outline.ssh_ready_timeout_sec,
            },
            None,
        );
        self.steps.then(
            StepKind::Attach {
                pod_id: job.pod_id.clone(),
                launched_at: job.launched_at,
            },
            None,
        );
        let artifacts = outline.artifacts;
        self.steps.then(StepKind::Pull { artifacts }, None);
    }
}
