//! Carries out a plan step by step. The only layer (with remote/) that
//! changes things: every step that changes a pod is followed by a state
//! write, so an interrupt or crash never loses a pod id rpd created.

mod lifecycle;
pub mod manifest;
mod pods;

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
use crate::remote::job::{JobFailure, JobRunner};
use crate::state::{self, PendingCreate, PodRecord, RetainedPod, State};

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

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Provider(String),
    #[error("{0}")]
    State(#[from] state::StateError),
    #[error("interrupted before the pod was ready")]
    Interrupted,
}

pub struct Executor<'a> {
    provider: SharedProvider,
    config: &'a Config,
    state_path: PathBuf,
    state: State,
    reporter: Reporter,
    interrupt: Interrupt,
    report: ApplyReport,
    /// The pod the job runs on, once known.
    pod: Option<ObservedPod>,
    /// How the current pod came to be, for what to do when it never gets ready.
    created_now: bool,
    resumed_now: bool,
    runner: Option<JobRunner<'a>>,
    failure: Option<JobFailure>,
    job_ran: bool,
    pod_state_at_job_end: Option<PodStatus>,
    /// How long the pod steps took (create, start, wait, lifecycle).
    pod_timings: Vec<crate::remote::job::StepTiming>,
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
        Executor {
            provider,
            config,
            state_path,
            state,
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
            failure: None,
            job_ran: false,
            pod_state_at_job_end: None,
            pod_timings: Vec::new(),
        }
    }

    fn save(&mut self) -> Result<(), ApplyError> {
        if let Err(err) = state::write(&self.state_path, &mut self.state) {
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
            return Err(err.into());
        }
        Ok(())
    }

    fn provider_error(&self, what: &str, err: ProviderError) -> ApplyError {
        ApplyError::Provider(format!("{what}: {err}"))
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
                let outcome = if self.failure.is_some() || self.interrupt.is_set() {
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
        self.pod_timings.push(crate::remote::job::StepTiming {
            step: step.to_string(),
            duration_sec: (took.as_secs_f64() * 1000.0).round() / 1000.0,
            ok: true,
        });
    }

    async fn job_phase(&mut self, phase: Phase) -> Result<(), ApplyError> {
        if self.failure.is_some() {
            return Ok(());
        }
        if self.interrupt.is_set() {
            self.failure = Some(JobFailure {
                step: phase.name().into(),
                reason: "interrupted".into(),
            });
            return Ok(());
        }
        let Some(runner) = self.runner.as_mut() else {
            return Err(ApplyError::Provider("the pod is not ready".into()));
        };
        self.job_ran = true;
        let interrupt = self.interrupt.clone();
        let work = async {
            match phase {
                Phase::Setup => runner.setup().await,
                Phase::Secrets => runner.secrets().await,
                Phase::Staging => runner.staging().await,
                Phase::Preflight => runner.preflight().await,
                Phase::Launch => runner.launch().await,
                Phase::Monitor => runner.monitor(&interrupt).await,
            }
        };
        // The monitor handles an interrupt itself (it stops the script);
        // any other phase is abandoned at once (its processes are killed
        // when dropped).
        let result = if phase == Phase::Monitor {
            work.await
        } else {
            tokio::select! {
                result = work => result,
                _ = interrupt.wait() => Err(JobFailure {
                    step: phase.name().into(),
                    reason: "interrupted".into(),
                }),
            }
        };
        if let Err(failure) = result {
            if phase != Phase::Monitor {
                self.reporter
                    .line(format!("{} failed: {}", phase.name(), failure.reason));
            }
            self.failure = Some(failure);
        }
        Ok(())
    }

    async fn pull(&mut self) -> Result<(), ApplyError> {
        let outcome = if self.failure.is_some() {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        if let Some(runner) = self.runner.as_mut() {
            if let Err(failure) = runner.pull(outcome).await {
                self.reporter
                    .line(format!("Job failed: {}", failure.reason));
                self.failure = Some(failure);
            }
            self.report.run_dir = Some(runner.run_dir());
            self.report.job_wall = Some(runner.started.elapsed());
        }
        if let Some(id) = self.current_id() {
            self.pod_state_at_job_end = self
                .provider
                .get(&id)
                .await
                .ok()
                .flatten()
                .map(|p| p.status);
        }
        Ok(())
    }
}

/// What a stop request came to.
enum StopOutcome {
    Done,
    Gone,
    /// Still running (or unknown) after the request: the message says so.
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Setup,
    Secrets,
    Staging,
    Preflight,
    Launch,
    Monitor,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Secrets => "secrets",
            Phase::Staging => "staging",
            Phase::Preflight => "preflight",
            Phase::Launch => "launch",
            Phase::Monitor => "monitor",
        }
    }
}
