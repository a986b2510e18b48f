//! Carries out a plan step by step. The only layer (with remote/) that
//! changes things: every step that changes a pod is followed by a state
//! write, so an interrupt or crash never loses a pod id rpd created.

pub mod cleanup;
mod direct_ssh;
mod error;
mod job;
mod lifecycle;
pub mod local_inputs;
pub mod manifest;
mod pods;
mod replace;
mod ssh_keys;
mod stopped;
mod telemetry;
mod terminal;
mod update;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::config::Config;
use crate::cost::usd;
use crate::interrupt::Interrupt;
use crate::known;
use crate::model::{
    Candidate, CloudType, LifecycleAction, ObservedPod, Outcome, PodStatus, PodUpdate, Stock,
    Storage,
};
use crate::plan::{BusyHost, DeleteReason, Plan, StepKind};
use crate::progress::Reporter;
use crate::provider::{CreatePodRequest, ProviderError, SharedProvider};
use crate::remote::job::{
    EventSink, EventsJsonl, Fanout, JobEvent, JobFailure, JobRunner, Phase, SharedSink, StepTiming,
};
use crate::retry::{self, Backoff, Look, PollSchedule};
use crate::state::{
    self, LaunchedJob, PendingCreate, PendingUpdate, PodRecord, RetainedPod, State,
};
pub use direct_ssh::DEFAULT_DIRECT_SSH_GRACE;
use direct_ssh::DirectSshWatch;
pub use error::{ApplyError, BusyHostKept, CandidateMiss, LastLook, Miss, NotReady, StopFailure};

use terminal::TerminalEvents;

/// What applying one config did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub job_name: String,
    pub created: usize,
    pub resumed: usize,
    /// Pods changed in place.
    pub updated: usize,
    pub destroyed: usize,
    pub stopped: usize,
    /// The job's outcome, when it ran.
    pub outcome: Option<Outcome>,
    pub failure: Option<JobFailure>,
    pub run_dir: Option<PathBuf>,
    pub interrupted: bool,
    pub warnings: Vec<String>,
    pub pod_id: Option<String>,
    pub job_wall: Option<Duration>,
    /// What the lifecycle did, when it ran.
    pub lifecycle: Option<LifecycleDone>,
    /// Why the job's log or a required artifact could not be saved here.
    pub results_unsaved: Option<String>,
    /// `--detach` left the launched job to the on-pod guard.
    pub detached: Option<Detached>,
}

/// A job `apply --detach` launched and left running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detached {
    pub pod_id: String,
    /// When the on-pod guard ends the job and stops the pod, and why.
    pub deadline_at: Option<chrono::DateTime<Utc>>,
    pub deadline_reason: Option<&'static str>,
    /// How long after the job ends the guard waits for an rpd.
    pub grace: Duration,
}

/// The lifecycle branch that ran (only ever one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleDone {
    pub outcome: Outcome,
    /// The config's action for the outcome.
    pub planned: LifecycleAction,
    /// What was carried out (a delete becomes a stop while the results are
    /// only on the pod); `None` when the pod no longer existed.
    pub carried_out: Option<LifecycleAction>,
    /// The job was ended by an interrupt: neither branch ran; the pod was
    /// stopped and kept (`Recycle`: as the config's pod; `Stop`: for its
    /// results, which are only on it).
    pub interrupted: bool,
}

/// How the job ended: fixed once, when it ends (after the pull), so that
/// an interrupt that comes later cannot change which lifecycle branch runs.
#[derive(Debug, Clone, PartialEq)]
struct JobEnd {
    outcome: Outcome,
    /// Why the results could not all be saved locally.
    unsaved: Option<String>,
    /// rpd was interrupted while the job ran, and ended it: no verdict.
    interrupted: bool,
}

/// What apply may do beyond the plan's steps, from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    /// `--replace-without-stock`: delete a pod to replace it even when no
    /// candidate has stock.
    pub replace_without_stock: bool,
    /// How often a start on a busy host is tried again.
    pub busy_host_retry: Duration,
    /// `--detach`: return once the job is launched, leaving it to the
    /// on-pod guard and a later `rpd attach`.
    pub detach: bool,
    /// How long a pod this run created may run with SSH through RunPod's
    /// proxy only before it is deleted and the next candidate tried.
    pub direct_ssh_grace: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            replace_without_stock: false,
            busy_host_retry: Duration::from_secs(15),
            detach: false,
            direct_ssh_grace: DEFAULT_DIRECT_SSH_GRACE,
        }
    }
}

pub struct Executor<'a> {
    provider: SharedProvider,
    config: &'a Config,
    state_path: PathBuf,
    state: State,
    reporter: Reporter,
    /// Where the run's events go: `events.jsonl` and the terminal.
    events: SharedSink,
    interrupt: Interrupt,
    report: ApplyReport,
    /// The pod the job runs on, once known.
    pod: Option<ObservedPod>,
    /// How the current pod came to be, for what to do when it never gets ready.
    created_now: bool,
    resumed_now: bool,
    /// Whether the run's pod was resumed when its job was launched, for
    /// the manifest: this run's own start, unless it collects a job an
    /// earlier run launched (that run's, from its launch record).
    launch_resumed: Option<bool>,
    runner: Option<JobRunner<'a>>,
    /// The pod's description at the job's start, being taken.
    describe_start: Option<tokio::task::JoinHandle<()>>,
    pod_state_at_job_end: Option<PodStatus>,
    /// How long the pod steps took (create, start, wait, lifecycle).
    pod_timings: Vec<StepTiming>,
    /// How a failed stop or delete request is repeated.
    request_retry: Backoff,
    /// Set when the job ends; the lifecycle follows it.
    job_end: Option<JobEnd>,
    /// The lifecycle ran: the other branch never does.
    lifecycle_ran: bool,
    /// Whether the state file existed before this run: a run that started
    /// from nothing and ends tracking nothing leaves no file behind.
    state_file_existed: bool,
    options: ApplyOptions,
    /// The candidates of the plan's create, for the stock check before a
    /// pod is deleted to be replaced.
    replacement: Vec<Candidate>,
    /// The candidates after the one the current pod was created on.
    untried: Vec<Candidate>,
}

/// A stop or delete that failed is asked again after 2 s, then 4 s (and
/// after the wait a rate limit asks for, within a minute in all).
const REQUEST_RETRY: Backoff = Backoff::exponential(Duration::from_secs(2))
    .retries(2)
    .max_total_wait(Duration::from_secs(60));

/// How long a stop or a delete keeps waiting out RunPod's rate limit: a
/// stop given up leaves a pod billing, so a 429 is waited for as its
/// `Retry-After` says, as long as this.
pub(crate) const RATE_LIMIT_PATIENCE: Duration = Duration::from_secs(15 * 60);

/// `attempt` (a stop or a delete, with its own retries) again and again
/// while the provider refuses it for the rate limit, waiting what it asks
/// each time and saying so, within [`RATE_LIMIT_PATIENCE`]. `doing` is what
/// the request does: "stopping pod x".
pub(crate) async fn past_rate_limits<T, Fut>(
    reporter: &Reporter,
    doing: &str,
    mut attempt: impl FnMut() -> Fut,
) -> Result<T, ProviderError>
where
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let began = Instant::now();
    loop {
        match attempt().await {
            Err(err @ ProviderError::RateLimited { .. }) => {
                let left = RATE_LIMIT_PATIENCE.saturating_sub(began.elapsed());
                if left.is_zero() {
                    return Err(err);
                }
                let wait = err
                    .retry_after()
                    .unwrap_or(Duration::from_secs(30))
                    .clamp(Duration::from_secs(1), left);
                reporter.line(format!(
                    "RunPod's rate limit: waiting {} s before {doing}",
                    wait.as_secs_f64().ceil() as u64
                ));
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

impl<'a> Executor<'a> {
    pub fn new(
        provider: SharedProvider,
        config: &'a Config,
        state_path: PathBuf,
        state: State,
        reporter: Reporter,
        interrupt: Interrupt,
    ) -> Executor<'a> {
        let mut state = state;
        // Every write records the key the pods are made with now (the plan
        // refused a key that cannot see the pods the state records).
        if let Some(fingerprint) = provider.api_key_fingerprint() {
            state.api_key_fingerprint = Some(fingerprint);
        }
        Executor {
            provider,
            config,
            state_file_existed: state_path.exists(),
            state_path,
            state,
            events: job::event_sink(config, &reporter, None),
            reporter,
            interrupt,
            report: ApplyReport {
                job_name: config.name.clone(),
                ..ApplyReport::default()
            },
            pod: None,
            created_now: false,
            resumed_now: false,
            launch_resumed: None,
            runner: None,
            describe_start: None,
            pod_state_at_job_end: None,
            pod_timings: Vec::new(),
            request_retry: REQUEST_RETRY,
            job_end: None,
            lifecycle_ran: false,
            options: ApplyOptions::default(),
            replacement: Vec::new(),
            untried: Vec::new(),
        }
    }

    pub fn with_options(mut self, options: ApplyOptions) -> Executor<'a> {
        self.options = options;
        self
    }

    /// One more subscriber to the run's events (`apply --json`'s stream).
    pub fn with_subscriber(mut self, subscriber: Box<dyn EventSink>) -> Executor<'a> {
        self.events = job::event_sink(self.config, &self.reporter, Some(subscriber));
        self
    }

    fn save(&mut self) -> Result<(), ApplyError> {
        Ok(self.save_state()?)
    }

    /// Writes the state; when it cannot, says which pods rpd tracks and
    /// where the state was saved instead.
    fn save_state(&mut self) -> Result<(), state::StateError> {
        self.save_state_at(None)
    }

    /// [`Executor::save_state`] at a named fault point (`RPD_FAULT=<point>:fail`
    /// makes this write fail, as a full disk would).
    fn save_state_at(&mut self, point: Option<&str>) -> Result<(), state::StateError> {
        let failing = point.is_some_and(crate::fault::fails) || crate::fault::full();
        let written = if failing {
            let why = match point {
                Some(point) if !crate::fault::full() => format!("RPD_FAULT={point}:fail"),
                _ => "RPD_FAULT: the disk is full".to_string(),
            };
            Err(state::StateError::Write {
                path: self.state_path.clone(),
                source: std::io::Error::other(why),
            })
        } else {
            state::write(&self.state_path, &mut self.state)
        };
        if let Err(err) = written {
            let ids = self.state.pod_ids().join(", ");
            let errored = self.state_path.with_extension("errored");
            let saved = std::fs::write(
                &errored,
                serde_json::to_vec_pretty(&self.state).unwrap_or_default(),
            )
            .is_ok();
            self.reporter.line(format!(
                "could not write the state ({err}); pods rpd tracks: [{ids}]{}",
                if saved {
                    format!("; the state was saved to {}", errored.display())
                } else {
                    String::new()
                }
            ));
            return Err(err);
        }
        Ok(())
    }

    /// Runs every step of `plan` in order.
    pub async fn run(mut self, plan: &Plan) -> Result<ApplyReport, (ApplyError, ApplyReport)> {
        self.replacement = plan
            .steps()
            .iter()
            .find_map(|s| match &s.kind {
                StepKind::CreatePod { candidates } => Some(candidates.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let result = self.run_steps(plan).await;
        if let Some(runner) = &mut self.runner {
            runner.close().await;
        }
        self.report.interrupted = self.interrupt.is_set();
        self.leave_nothing_if_nothing_was_made();
        match result {
            Ok(()) => Ok(self.report),
            Err(err) => Err((err, self.report)),
        }
    }

    async fn run_steps(&mut self, plan: &Plan) -> Result<(), ApplyError> {
        // The plan checked the local inputs; they may have changed since.
        // Nothing has billed yet: check again.
        let runs_job = plan
            .steps()
            .iter()
            .any(|s| matches!(s.kind, StepKind::Launch { .. }));
        if runs_job {
            let problems = local_inputs::check(self.config);
            if !problems.is_empty() {
                return Err(ApplyError::LocalInputsChanged { problems });
            }
        }
        for (i, (_, step)) in plan.ordered().into_iter().enumerate() {
            let (n, op) = (i + 1, step.kind.op());
            if let Some(outcome) = self.skipped(&step.kind) {
                self.events.emit(&JobEvent::StepSkipped { n, op, outcome });
                continue;
            }
            self.events.emit(&JobEvent::StepStarted { n, op });
            let started = Instant::now();
            match self.step(&step.kind).await {
                Ok(()) => self.events.emit(&JobEvent::StepDone {
                    n,
                    op,
                    took: started.elapsed(),
                }),
                Err(err) => {
                    self.events.emit(&JobEvent::StepFailed {
                        n,
                        op,
                        error: err.to_string(),
                    });
                    return Err(err);
                }
            }
            if self.options.detach
                && matches!(step.kind, StepKind::Launch { .. })
                && let Some(detached) = self.detached()
            {
                self.report.detached = Some(detached);
            }
            // Detached, or interrupted while following a job an earlier rpd
            // launched: the job runs on, watched by the on-pod guard alone.
            if matches!(step.kind, StepKind::Launch { .. } | StepKind::Attach { .. })
                && self.report.detached.is_some()
            {
                if let Some(runner) = self.runner.as_mut() {
                    runner.leave_to_guard().await;
                }
                break;
            }
        }
        Ok(())
    }

    /// The job's outcome, when `kind` is the lifecycle step of the other
    /// outcome (it does not apply to this run).
    fn skipped(&self, kind: &StepKind) -> Option<crate::model::Outcome> {
        match (kind, &self.job_end) {
            (StepKind::Lifecycle { when, .. }, Some(end)) if end.outcome != *when => {
                Some(end.outcome)
            }
            _ => None,
        }
    }

    /// A run that started with no state file and tracks nothing at its end
    /// made nothing that still exists: it leaves no state (nor backup).
    fn leave_nothing_if_nothing_was_made(&mut self) {
        if self.state_file_existed || !self.state.is_empty() || !self.state_path.exists() {
            return;
        }
        let _ = std::fs::remove_file(&self.state_path);
        let _ = std::fs::remove_file(state::backup_path(&self.state_path));
    }

    async fn step(&mut self, kind: &StepKind) -> Result<(), ApplyError> {
        match kind {
            StepKind::DeletePod { pod_id, why } => match why {
                DeleteReason::ReplaceRequested
                | DeleteReason::ReplaceMismatch
                | DeleteReason::ReplaceError => self.delete_to_replace(pod_id).await,
                DeleteReason::Destroy
                | DeleteReason::Retained
                | DeleteReason::Duplicate
                | DeleteReason::Cleanup => self.delete(pod_id).await,
            },
            StepKind::StopPod { pod_id } => self.stop_and_keep(pod_id).await,
            StepKind::CreatePod { candidates } => self.create(candidates).await,
            StepKind::StartPod {
                pod_id,
                fallback,
                busy_host,
            } => self.start(pod_id, fallback, busy_host).await,
            StepKind::UpdatePod { pod_id, update } => self.update(pod_id, update).await,
            StepKind::UsePod { pod_id } => {
                self.reporter.line(format!("Using running pod {pod_id}"));
                Ok(())
            }
            StepKind::AdoptPod { pod_id } => self.adopt(pod_id).await,
            StepKind::WaitReady { timeout_sec } => self.wait_ready(*timeout_sec).await,
            StepKind::Setup { .. } => self.job_phase(Phase::Setup).await,
            StepKind::Secrets { .. } => self.job_phase(Phase::Secrets).await,
            StepKind::Staging { .. } => self.job_phase(Phase::Staging).await,
            StepKind::Preflight { .. } => self.job_phase(Phase::Preflight).await,
            StepKind::Launch { .. } => self.job_phase(Phase::Launch).await,
            StepKind::Monitor { .. } => self.job_phase(Phase::Monitor).await,
            StepKind::Attach { .. } => self.attach().await,
            StepKind::Pull { .. } => self.pull().await,
            StepKind::Lifecycle { when, action } => {
                // The outcome was fixed when the job ended: an interrupt
                // since then changes nothing, and one branch runs, once.
                match self.job_end.clone() {
                    Some(end) if end.outcome == *when && !self.lifecycle_ran => {
                        self.lifecycle_ran = true;
                        if end.interrupted {
                            self.pause_interrupted(end).await
                        } else {
                            self.lifecycle(end, *action).await
                        }
                    }
                    _ => Ok(()),
                }
            }
            StepKind::ForgetPendingCreate { .. } => {
                self.state.pending_create = None;
                self.save()
            }
            StepKind::ForgetCollectedJob { .. } => {
                self.state.launched_job = None;
                self.save()
            }
            StepKind::ForgetPod { pod_id } => {
                self.forget(pod_id);
                self.save()
            }
            StepKind::SettleInterruptedUpdate { pod_id, applied } => {
                if let Some(pending) = self.state.pending_update.take()
                    && *applied
                    && let Some(record) = self.state.pod.as_mut().filter(|p| p.id == *pod_id)
                {
                    record.spec = pending.update.applied_to(&record.spec);
                }
                self.save()
            }
            StepKind::RemoveState => {
                // Every pod the state knew, or found by a pending create's
                // name, was deleted by the steps before this one.
                self.state.pending_create = None;
                if self.state.is_empty() {
                    state::remove(&self.state_path)?;
                    let backup = state::backup_path(&self.state_path);
                    let kept = if backup.exists() {
                        format!(" (its last version is kept as {})", backup.display())
                    } else {
                        String::new()
                    };
                    self.reporter.line(format!(
                        "Removed the state file {}{kept}",
                        self.state_path.display()
                    ));
                } else {
                    self.save()?;
                }
                Ok(())
            }
        }
    }

    fn forget(&mut self, pod_id: &str) {
        if self.state.pod.as_ref().is_some_and(|p| p.id == pod_id) {
            self.state.pod = None;
        }
        self.state.retained.retain(|r| r.pod.id != pod_id);
        if self
            .state
            .pending_update
            .as_ref()
            .is_some_and(|u| u.pod_id == pod_id)
        {
            self.state.pending_update = None;
        }
        if self.state.guarded_pod.as_deref() == Some(pod_id) {
            self.state.guarded_pod = None;
        }
        // A job left on a pod that is gone went with it.
        if self
            .state
            .launched_job
            .as_ref()
            .is_some_and(|j| j.pod_id == pod_id)
        {
            self.state.launched_job = None;
        }
    }

    fn current_id(&self) -> Option<String> {
        self.state.pod.as_ref().map(|p| p.id.clone())
    }

    fn time(&mut self, step: &str, took: Duration) {
        self.pod_timings.push(StepTiming::new(step, took, true));
    }
}

/// What a stop request came to.
pub(crate) enum StopOutcome {
    Done,
    Gone,
    /// Still running (or unknown) after the request.
    Failed(StopFailure),
}

#[cfg(test)]
mod tests;
