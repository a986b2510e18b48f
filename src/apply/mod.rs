//! Carries out a plan step by step. The only layer (with remote/) that
//! changes things: every step that changes a pod is followed by a state
//! write, so an interrupt or crash never loses a pod id rpd created.

mod error;
mod job;
mod lifecycle;
pub mod manifest;
mod pods;
mod terminal;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::config::Config;
use crate::cost::usd;
use crate::interrupt::Interrupt;
use crate::known;
use crate::model::{Candidate, LifecycleAction, ObservedPod, Outcome, PodStatus, Stock, Storage};
use crate::plan::{Plan, StepKind};
use crate::progress::Reporter;
use crate::provider::{CreatePodRequest, ProviderError, SharedProvider};
use crate::remote::job::{
    EventsJsonl, Fanout, JobEvent, JobFailure, JobRunner, Phase, SharedSink, StepTiming,
};
use crate::retry::{self, Backoff, Look, PollSchedule};
use crate::state::{self, PendingCreate, PodRecord, RetainedPod, State};
pub use error::{ApplyError, CandidateMiss, LastLook, Miss, NotReady, StopFailure};
use terminal::TerminalEvents;

/// What applying one config did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub job_name: String,
    pub created: usize,
    pub resumed: usize,
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
    runner: Option<JobRunner<'a>>,
    pod_state_at_job_end: Option<PodStatus>,
    /// How long the pod steps took (create, start, wait, lifecycle).
    pod_timings: Vec<StepTiming>,
    /// How a failed stop or delete request is repeated.
    request_retry: Backoff,
}

/// A stop or delete that failed is asked again after 2 s, then 4 s (and
/// after the wait a rate limit asks for, within a minute in all).
const REQUEST_RETRY: Backoff = Backoff::exponential(Duration::from_secs(2))
    .retries(2)
    .max_total_wait(Duration::from_secs(60));

impl<'a> Executor<'a> {
    pub fn new(
        provider: SharedProvider,
        config: &'a Config,
        state_path: PathBuf,
        state: State,
        reporter: Reporter,
        interrupt: Interrupt,
    ) -> Executor<'a> {
        Executor {
            provider,
            config,
            state_path,
            state,
            events: job::event_sink(config, &reporter),
            reporter,
            interrupt,
            report: ApplyReport {
                job_name: config.name.clone(),
                ..ApplyReport::default()
            },
            pod: None,
            created_now: false,
            resumed_now: false,
            runner: None,
            pod_state_at_job_end: None,
            pod_timings: Vec::new(),
            request_retry: REQUEST_RETRY,
        }
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
        let written = match point {
            Some(point) if crate::fault::fails(point) => Err(state::StateError::Write {
                path: self.state_path.clone(),
                source: std::io::Error::other(format!("RPD_FAULT={point}:fail")),
            }),
            _ => state::write(&self.state_path, &mut self.state),
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
        for (_, step) in plan.ordered() {
            if let Err(err) = self.step(&step.kind).await {
                if let Some(runner) = &self.runner {
                    runner.close().await;
                }
                return Err((err, self.report));
            }
        }
        if let Some(runner) = &self.runner {
            runner.close().await;
        }
        self.report.interrupted = self.interrupt.is_set();
        Ok(self.report)
    }

    async fn step(&mut self, kind: &StepKind) -> Result<(), ApplyError> {
        match kind {
            StepKind::DeletePod { pod_id, .. } => self.delete(pod_id).await,
            StepKind::CreatePod { candidates } => self.create(candidates).await,
            StepKind::StartPod { pod_id, fallback } => self.start(pod_id, fallback).await,
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
            StepKind::Pull { .. } => self.pull().await,
            StepKind::Lifecycle { when, action } => {
                let outcome = if self.job_failure().is_some() || self.interrupt.is_set() {
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
                if *when == outcome {
                    self.lifecycle(outcome, *action).await?;
                }
                Ok(())
            }
            StepKind::ForgetPendingCreate { .. } => {
                self.state.pending_create = None;
                self.save()
            }
            StepKind::ForgetPod { pod_id } => {
                self.forget(pod_id);
                self.save()
            }
            StepKind::RemoveState => {
                // Every pod the state knew, or found by a pending create's
                // name, was deleted by the steps before this one.
                self.state.pending_create = None;
                if self.state.is_empty() {
                    state::remove(&self.state_path)?;
                    self.reporter.line(format!(
                        "Removed the state file {}",
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
    }

    fn current_id(&self) -> Option<String> {
        self.state.pod.as_ref().map(|p| p.id.clone())
    }

    fn time(&mut self, step: &str, took: Duration) {
        self.pod_timings.push(StepTiming::new(step, took, true));
    }
}

/// What a stop request came to.
enum StopOutcome {
    Done,
    Gone,
    /// Still running (or unknown) after the request.
    Failed(StopFailure),
}

#[cfg(test)]
mod tests;
