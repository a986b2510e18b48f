//! Carries out a plan step by step. The only layer (with remote/) that
//! changes things: every step that changes a pod is followed by a state
//! write, so an interrupt or crash never loses a pod id rpd created.

pub mod manifest;

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

    async fn delete(&mut self, pod_id: &str) -> Result<(), ApplyError> {
        let waiter = self.reporter.wait(&format!("Destroying pod {pod_id}"));
        let mut attempt = 0u32;
        loop {
            match self.provider.delete(pod_id).await {
                Ok(()) => {
                    let took = waiter.done("Destruction complete", &format!(" [id={pod_id}]"));
                    self.time("delete", took);
                    self.forget(pod_id);
                    self.report.destroyed += 1;
                    return self.save();
                }
                Err(ProviderError::Transient(_) | ProviderError::RateLimited { .. })
                    if attempt < 2 =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                }
                Err(err) => {
                    waiter.abandon();
                    return Err(self.provider_error(
                        &format!(
                            "deleting pod {pod_id} (it is still tracked; `rpd destroy` retries)"
                        ),
                        err,
                    ));
                }
            }
        }
    }

    fn record(&self, pod: &ObservedPod, request: &CreatePodRequest) -> PodRecord {
        PodRecord {
            id: pod.id.clone(),
            name: request.name.clone(),
            spec: crate::model::PodSpec {
                image: Some(request.image.clone()),
                gpu_id: Some(request.gpu_id.clone()),
                gpu_count: Some(request.gpu_count),
                datacenter_id: Some(request.datacenter_id.clone()),
                cloud_type: Some(request.cloud_type),
                container_disk_gb: Some(request.container_disk_gb),
                storage: Some(request.storage.clone()),
                ports: Some(request.ports.clone()),
            },
            status: Some(pod.status),
            created_at: Some(Utc::now()),
            provider: Some(self.provider.name().to_string()),
        }
    }

    /// `<run_id>-<6 hex of the state's lineage>`: the run id says what and
    /// when; the lineage part makes the name this state's alone, so the
    /// lookup of a lost create can never adopt another config's pod.
    fn pod_name(&self) -> String {
        let lineage = self.state.lineage.simple().to_string();
        format!("{}-{}", self.config.run_id, &lineage[..6])
    }

    async fn request_for(&self, candidate: &Candidate) -> Result<CreatePodRequest, ProviderError> {
        let desired = &self.config.pod;
        let storage = match &desired.storage {
            Storage::NetworkVolume {
                volume_name, mount, ..
            } => {
                let id = self
                    .provider
                    .resolve_network_volume(volume_name, &candidate.datacenter_id)
                    .await?;
                Storage::NetworkVolume {
                    volume_name: volume_name.clone(),
                    volume_id: Some(id),
                    mount: mount.clone(),
                }
            }
            other => other.clone(),
        };
        Ok(CreatePodRequest {
            name: self.pod_name(),
            image: desired.image.clone(),
            gpu_id: candidate.gpu_id.clone(),
            gpu_count: desired.gpu_count,
            datacenter_id: candidate.datacenter_id.clone(),
            cloud_type: candidate.cloud_type,
            container_disk_gb: desired.container_disk_gb,
            storage,
            ports: desired.ports.clone(),
            env: desired.env.clone(),
            min_vcpu_count: desired.min_vcpu_count,
            min_memory_gb: desired.min_memory_gb,
            spot: desired.spot,
        })
    }

    /// Tries the candidates in order: skips those out of stock, falls
    /// through capacity errors, and never blindly re-sends a create whose
    /// answer was lost (the pod is looked up by name first).
    async fn create(&mut self, candidates: &[Candidate]) -> Result<(), ApplyError> {
        let mut failures: Vec<String> = Vec::new();
        for candidate in candidates {
            if self.interrupt.is_set() {
                return Err(ApplyError::Interrupted);
            }
            let place = if candidate.cloud_type == self.config.pod.cloud_type {
                format!("{} / {}", candidate.datacenter_id, candidate.gpu_id)
            } else {
                format!(
                    "{} / {} ({})",
                    candidate.datacenter_id, candidate.gpu_id, candidate.cloud_type
                )
            };
            if candidate.stock == Stock::None {
                failures.push(format!("{place}: skipped, no stock"));
                continue;
            }
            let request = match self.request_for(candidate).await {
                Ok(r) => r,
                Err(err) => {
                    failures.push(format!("{place}: {err}"));
                    continue;
                }
            };
            self.state.pending_create = Some(PendingCreate {
                name: request.name.clone(),
                started_at: Utc::now(),
                provider: Some(self.provider.name().to_string()),
            });
            self.save()?;
            let price = candidate
                .price_per_hr
                .map(|p| format!(", {}/hr", usd(p)))
                .unwrap_or_default();
            let waiter = self.reporter.wait(&format!("Creating on {place}{price}"));
            let result = self.provider.create(&request).await;
            let created = match result {
                Ok(pod) => Some(pod),
                Err(err @ (ProviderError::Auth(_) | ProviderError::Balance(_))) => {
                    waiter.abandon();
                    self.state.pending_create = None;
                    self.save()?;
                    return Err(self.provider_error("creating the pod", err));
                }
                Err(
                    err @ (ProviderError::Transient(_)
                    | ProviderError::Other(_)
                    | ProviderError::RateLimited { .. }),
                ) => {
                    // The pod may exist although the answer was lost: look
                    // it up by name before deciding anything.
                    match self.find_by_name(&request.name).await {
                        Ok(Some(pod)) => {
                            self.reporter.line(format!(
                                "the create answered with an error ({err}), but pod {} exists under our name: using it",
                                pod.id
                            ));
                            Some(pod)
                        }
                        // Not listed (yet), or the list failed: the create
                        // may still have happened. Trying another candidate
                        // could leave two pods billing, so stop here; the name
                        // stays recorded and the next plan adopts the pod if
                        // it appears, or forgets the name if it never does.
                        found => {
                            waiter.abandon();
                            let checked = match found {
                                Ok(_) => "no pod of that name is listed yet".to_string(),
                                Err(list_err) => {
                                    format!("the pods could not be listed to check ({list_err})")
                                }
                            };
                            return Err(ApplyError::Provider(format!(
                                "creating the pod on {place} failed ambiguously ({err}) and {checked}; rpd stopped so as not to create a second pod. Run `rpd apply` again: it looks for a pod named {:?} first and adopts it",
                                request.name
                            )));
                        }
                    }
                }
                Err(err) => {
                    failures.push(format!("{place}: {err}"));
                    None
                }
            };
            let Some(pod) = created else {
                waiter.abandon();
                self.reporter.line(format!(
                    "{place}: {}",
                    failures.last().map(String::as_str).unwrap_or("failed")
                ));
                continue;
            };
            let took = waiter.done("Creation complete", &format!(" [id={}]", pod.id));
            self.time("create", took);
            let record = self.record(&pod, &request);
            self.state.pod = Some(record);
            self.state.pending_create = None;
            if let Err(err) = self.save() {
                // A pod the state does not record would bill unseen: undo it.
                self.reporter.line(format!(
                    "Deleting pod {}: the state could not record it",
                    pod.id
                ));
                if let Err(delete_err) = self.provider.delete(&pod.id).await {
                    return Err(ApplyError::Provider(format!(
                        "{err}; and pod {} could not be deleted ({delete_err}): it is BILLING and untracked, delete it in the RunPod console",
                        pod.id
                    )));
                }
                return Err(err);
            }
            self.event(
                "gpu_selected",
                serde_json::json!({"gpu_id": candidate.gpu_id, "datacenter_id": candidate.datacenter_id}),
            );
            if candidate.cloud_type != self.config.pod.cloud_type {
                self.reporter.line(format!(
                    "Created on the fallback cloud {} (--fallback-cloud-type)",
                    candidate.cloud_type
                ));
                self.event(
                    "cloud_type_fallback",
                    serde_json::json!({
                        "from_cloud_type": self.config.pod.cloud_type,
                        "to_cloud_type": candidate.cloud_type,
                        "gpu_id": candidate.gpu_id,
                        "datacenter_id": candidate.datacenter_id,
                    }),
                );
            }
            self.created_now = true;
            self.report.created += 1;
            self.report.pod_id = Some(pod.id.clone());
            self.pod = Some(pod);
            return Ok(());
        }
        self.state.pending_create = None;
        self.save()?;
        Err(ApplyError::Provider(format!(
            "no candidate could take the pod:\n{}\n  = help: add datacenters or GPU types to the config, or retry when stock returns",
            failures
                .iter()
                .map(|f| format!("    {f}"))
                .collect::<Vec<_>>()
                .join("\n")
        )))
    }

    /// An event in the run's `events.jsonl` (before the job's runner exists).
    fn event(&self, name: &str, fields: serde_json::Value) {
        crate::remote::events::EventLog::new(self.config.run_dir.join("events.jsonl"))
            .emit(name, fields);
    }

    /// The pod a create may have made, looked up by its name. Looks a few
    /// times, since a pod can show up in the list a moment after its create.
    async fn find_by_name(&self, name: &str) -> Result<Option<ObservedPod>, ProviderError> {
        for attempt in 0..3 {
            if attempt > 0 {
                tokio::time::sleep(self.provider.poll_interval().min(Duration::from_secs(2))).await;
            }
            let found = self
                .provider
                .list()
                .await?
                .into_iter()
                .find(|p| p.name == name && p.status != PodStatus::Terminated);
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    async fn adopt(&mut self, pod_id: &str) -> Result<(), ApplyError> {
        let pod = self
            .provider
            .get(pod_id)
            .await
            .map_err(|e| self.provider_error(&format!("reading pod {pod_id}"), e))?
            .ok_or_else(|| {
                ApplyError::Provider(format!(
                    "pod {pod_id} disappeared before it could be adopted"
                ))
            })?;
        let name = self
            .state
            .pending_create
            .take()
            .map(|p| p.name)
            .unwrap_or_else(|| pod.name.clone());
        self.state.pod = Some(PodRecord {
            id: pod.id.clone(),
            name,
            spec: pod.spec.clone(),
            status: Some(pod.status),
            created_at: None,
            provider: Some(self.provider.name().to_string()),
        });
        self.reporter
            .line(format!("Adopted pod {pod_id} from an interrupted create"));
        self.save()
    }

    async fn start(&mut self, pod_id: &str, fallback: &[Candidate]) -> Result<(), ApplyError> {
        let waiter = self.reporter.wait(&format!("Resuming paused pod {pod_id}"));
        match self.provider.start(pod_id).await {
            Ok(()) => {
                let took = waiter.done("Start requested", &format!(" [id={pod_id}]"));
                self.time("start", took);
                if let Some(pod) = self.state.pod.as_mut() {
                    pod.status = Some(PodStatus::Starting);
                }
                self.save()?;
                self.resumed_now = true;
                self.report.resumed += 1;
                self.report.pod_id = Some(pod_id.to_string());
                self.event("pod_resumed", serde_json::json!({"pod_id": pod_id}));
                Ok(())
            }
            Err(ProviderError::HostBusy(message)) => {
                waiter.abandon();
                self.event(
                    "resume_failed",
                    serde_json::json!({"pod_id": pod_id, "error": message, "then": "delete and create"}),
                );
                self.reporter.line(format!(
                    "Cannot resume {pod_id}: {message} Deleting it and creating a fresh pod instead"
                ));
                self.delete(pod_id).await?;
                self.create(fallback).await
            }
            Err(ProviderError::Conflict(message)) => {
                waiter.abandon();
                // It may already be starting (started elsewhere): look.
                match self.provider.get(pod_id).await {
                    Ok(Some(pod)) if pod.status.is_active() => {
                        self.reporter
                            .line(format!("Pod {pod_id} is already {}", pod.status));
                        self.report.pod_id = Some(pod_id.to_string());
                        Ok(())
                    }
                    _ => Err(ApplyError::Provider(format!(
                        "resuming pod {pod_id}: {message}"
                    ))),
                }
            }
            Err(err) => {
                waiter.abandon();
                Err(self.provider_error(&format!("resuming pod {pod_id}"), err))
            }
        }
    }

    fn current_id(&self) -> Option<String> {
        self.state.pod.as_ref().map(|p| p.id.clone())
    }

    /// Waits until the pod runs and can be reached, within the budget. A pod
    /// that never gets there is not left running: a pod created now is
    /// deleted, a resumed one is stopped.
    async fn wait_ready(&mut self, timeout_sec: u32) -> Result<(), ApplyError> {
        let Some(pod_id) = self.current_id() else {
            return Err(ApplyError::Provider("no pod to wait for".into()));
        };
        let deadline = Instant::now() + Duration::from_secs(u64::from(timeout_sec));
        let ready = match self.wait_running(&pod_id, deadline, timeout_sec).await {
            Ok(pod) => pod,
            Err(problem) => {
                let why = if matches!(problem, ApplyError::Interrupted) {
                    "interrupted before it was ready"
                } else {
                    "it never became ready"
                };
                self.not_ready_cleanup(&pod_id, why).await?;
                return Err(problem);
            }
        };
        if let Some(record) = self.state.pod.as_mut() {
            record.status = Some(PodStatus::Running);
        }
        self.save()?;
        let waiter = self.reporter.wait(&format!("Connecting to pod {pod_id}"));
        let connected = tokio::select! {
            result = crate::remote::connect(&ready, self.config, deadline) => Some(result),
            _ = self.interrupt.wait() => None,
        };
        match connected {
            Some(Ok(transport)) => {
                let how = if transport.handshakes() > 0 {
                    format!(" [{}, one shared connection]", transport.describe())
                } else {
                    format!(" [{}]", transport.describe())
                };
                let took = waiter.done("Connected", &how);
                self.time("connect", took);
                let price = ready
                    .cost_per_hr
                    .filter(|c| *c > 0.0)
                    .unwrap_or(self.config.budget.assumed_hourly_rate_usd);
                let mut runner =
                    JobRunner::new(self.config, transport, self.reporter.clone(), price);
                runner.probe = Some((self.provider.clone(), pod_id.clone()));
                self.runner = Some(runner);
                self.pod = Some(ready);
                Ok(())
            }
            Some(Err(err)) => {
                waiter.abandon();
                self.not_ready_cleanup(&pod_id, "its shell never answered")
                    .await?;
                Err(ApplyError::Provider(format!(
                    "pod {pod_id} runs but its shell never answered within budget.ssh_ready_timeout_sec ({timeout_sec}s): {err}"
                )))
            }
            None => {
                waiter.abandon();
                self.not_ready_cleanup(&pod_id, "interrupted before it was ready")
                    .await?;
                Err(ApplyError::Interrupted)
            }
        }
    }

    /// Polls until the provider reports the pod RUNNING with a way in.
    async fn wait_running(
        &mut self,
        pod_id: &str,
        deadline: Instant,
        timeout_sec: u32,
    ) -> Result<ObservedPod, ApplyError> {
        let mut waiter = self
            .reporter
            .wait(&format!("Waiting for pod {pod_id} to be ready"));
        let poll = self.provider.poll_interval();
        let problem: String = loop {
            match self.provider.get(pod_id).await {
                Ok(Some(pod)) if pod.status == PodStatus::Running && pod.access.is_some() => {
                    let rate = pod
                        .cost_per_hr
                        .map(|c| format!(", {}/hr", usd(c)))
                        .unwrap_or_default();
                    let place = match (&pod.spec.datacenter_id, &pod.spec.gpu_id) {
                        (Some(dc), Some(gpu)) => format!(
                            " [{dc} / {}{rate}]",
                            known::display_name(gpu).unwrap_or(gpu)
                        ),
                        _ => String::new(),
                    };
                    let waited = waiter.done(&format!("Pod {pod_id} is running"), &place);
                    self.time("wait_ready", waited);
                    return Ok(pod);
                }
                Ok(Some(pod)) if pod.status == PodStatus::Error => {
                    break format!("pod {pod_id} went into ERROR while starting");
                }
                Ok(Some(pod))
                    if matches!(pod.status, PodStatus::Exited | PodStatus::Terminated) =>
                {
                    break format!("pod {pod_id} stopped ({}) while starting", pod.status);
                }
                Ok(Some(pod)) => {
                    let detail = if pod.status == PodStatus::Running {
                        "RUNNING, no SSH endpoint yet".to_string()
                    } else {
                        pod.status.to_string()
                    };
                    waiter.tick(&detail);
                }
                Ok(None) => break format!("pod {pod_id} disappeared while starting"),
                Err(ProviderError::Transient(e))
                | Err(ProviderError::RateLimited { message: e, .. }) => {
                    waiter.tick(&format!("provider hiccup: {e}"));
                }
                Err(err) => break format!("reading pod {pod_id}: {err}"),
            }
            if Instant::now() >= deadline {
                break format!(
                    "pod {pod_id} was not ready within budget.ssh_ready_timeout_sec ({timeout_sec}s); large images can take longer to pull: raise it"
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = self.interrupt.wait() => {
                    waiter.abandon();
                    return Err(ApplyError::Interrupted);
                }
            }
        };
        waiter.abandon();
        Err(ApplyError::Provider(problem))
    }

    /// A pod that never became usable is not left running: one this run
    /// created is deleted; one that existed before (resumed or reused) is
    /// stopped and kept, with its volume.
    async fn not_ready_cleanup(&mut self, pod_id: &str, why: &str) -> Result<(), ApplyError> {
        if self.created_now {
            self.reporter.line(format!("Deleting pod {pod_id}: {why}"));
            return self.delete(pod_id).await;
        }
        self.reporter.line(format!("Stopping pod {pod_id}: {why}"));
        match self.stop(pod_id).await {
            StopOutcome::Done => {
                if let Some(record) = self.state.pod.as_mut() {
                    record.status = Some(PodStatus::Exited);
                }
                self.save()
            }
            StopOutcome::Gone => {
                self.forget(pod_id);
                self.save()
            }
            StopOutcome::Failed(problem) => Err(ApplyError::Provider(problem)),
        }
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

    /// Asks the provider to stop the pod (retrying a transient failure) and
    /// checks, within a bounded time, that it really stopped: a stop that did
    /// not happen keeps billing.
    async fn stop(&mut self, pod_id: &str) -> StopOutcome {
        let waiter = self.reporter.wait(&format!("Stopping pod {pod_id}"));
        let mut asked = None;
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
            }
            match self.provider.stop(pod_id).await {
                Ok(()) | Err(ProviderError::Conflict(_)) => {
                    asked = None;
                    break;
                }
                Err(ProviderError::NotFound(_)) => {
                    waiter.done("Pod is gone", &format!(" [id={pod_id}]"));
                    return StopOutcome::Gone;
                }
                Err(
                    err @ (ProviderError::Transient(_)
                    | ProviderError::RateLimited { .. }
                    | ProviderError::Other(_)),
                ) => asked = Some(err.to_string()),
                Err(err) => {
                    asked = Some(err.to_string());
                    break;
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut last: String;
        loop {
            match self.provider.get(pod_id).await {
                Ok(Some(pod)) if !pod.status.is_active() => {
                    let took = waiter.done("Stop complete", &format!(" [id={pod_id}]"));
                    self.time("stop", took);
                    self.report.stopped += 1;
                    return StopOutcome::Done;
                }
                Ok(None) => {
                    waiter.done("Pod is gone", &format!(" [id={pod_id}]"));
                    return StopOutcome::Gone;
                }
                Ok(Some(pod)) => {
                    last = format!(
                        "it is still {}{}",
                        pod.status,
                        pod.cost_per_hr
                            .filter(|c| *c > 0.0)
                            .map(|c| format!(", billing {}/hr", usd(c)))
                            .unwrap_or_default()
                    );
                    // The request itself failed: no point waiting for it.
                    if asked.is_some() {
                        break;
                    }
                }
                Err(err) => last = format!("its status cannot be read ({err})"),
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(self.provider.poll_interval()).await;
        }
        waiter.abandon();
        let why = match asked {
            Some(err) => format!("the stop request failed ({err}); {last}"),
            None => format!("after the stop request {last}"),
        };
        StopOutcome::Failed(format!(
            "pod {pod_id} did not stop: {why}. It may be billing: stop it in the RunPod console or run `rpd destroy {}`",
            self.config.path.display()
        ))
    }

    async fn lifecycle(
        &mut self,
        outcome: Outcome,
        action: LifecycleAction,
    ) -> Result<(), ApplyError> {
        let Some(pod_id) = self.current_id() else {
            return Ok(());
        };
        let label = match outcome {
            Outcome::Success => "on_success",
            Outcome::Failure => "on_failure",
        };
        self.reporter.line(format!("Lifecycle {label}: {action}"));
        let result = self.carry_out(&pod_id, label, action).await;
        self.report.outcome = Some(outcome);
        self.report.failure = self.failure.clone();
        self.write_manifest(outcome, action).await;
        result
    }

    async fn carry_out(
        &mut self,
        pod_id: &str,
        label: &str,
        action: LifecycleAction,
    ) -> Result<(), ApplyError> {
        match action {
            LifecycleAction::Recycle | LifecycleAction::Stop => {
                let stopped = self.stop(pod_id).await;
                let month = crate::cost::stopped_usd_per_month(Some(&self.config.pod.storage));
                match stopped {
                    StopOutcome::Gone => {
                        self.forget(pod_id);
                        self.save()?;
                        self.reporter
                            .line(format!("Pod {pod_id} no longer exists: forgotten"));
                    }
                    StopOutcome::Failed(problem) => {
                        // Still the current pod, recorded as running: the
                        // next plan sees it and no run of rpd forgets it.
                        if let Some(record) = self.state.pod.as_mut() {
                            record.status = Some(PodStatus::Running);
                        }
                        self.save()?;
                        return Err(ApplyError::Provider(problem));
                    }
                    StopOutcome::Done if action == LifecycleAction::Recycle => {
                        if let Some(record) = self.state.pod.as_mut() {
                            record.status = Some(PodStatus::Exited);
                        }
                        self.save()?;
                        self.reporter.line(format!(
                            "Pod {pod_id} recycled: paused for reuse; the next apply resumes it (storage {}/month while paused)",
                            usd(month)
                        ));
                    }
                    StopOutcome::Done => {
                        self.retain(pod_id, format!("{label}: stop"), PodStatus::Exited);
                        self.save()?;
                        let warning = format!(
                            "pod {pod_id} stopped for forensics; its volume keeps billing ~{}/day (~{}/month) until `rpd destroy {}`",
                            usd(crate::cost::per_day(month)),
                            usd(month),
                            self.config.path.display()
                        );
                        self.reporter.line(format!("Warning: {warning}"));
                        self.report.warnings.push(warning);
                    }
                }
            }
            LifecycleAction::Delete => self.delete(pod_id).await?,
            LifecycleAction::Preserve => {
                self.retain(pod_id, format!("{label}: preserve"), PodStatus::Running);
                self.save()?;
                let rate = self
                    .pod
                    .as_ref()
                    .and_then(|p| p.cost_per_hr)
                    .map(|c| format!(" at {}/hr", usd(c)))
                    .unwrap_or_default();
                let warning = format!(
                    "pod {pod_id} preserved: it is still running and billing{rate}; delete it with `rpd destroy {}`",
                    self.config.path.display()
                );
                self.reporter.line(format!("Warning: {warning}"));
                self.report.warnings.push(warning);
            }
        }
        Ok(())
    }

    fn retain(&mut self, pod_id: &str, reason: String, status: PodStatus) {
        if let Some(mut pod) = self.state.pod.take() {
            if pod.id != pod_id {
                self.state.pod = Some(pod);
                return;
            }
            pod.status = Some(status);
            self.state.retained.push(RetainedPod {
                pod,
                reason,
                since: Utc::now(),
            });
        }
    }

    async fn write_manifest(&mut self, outcome: Outcome, action: LifecycleAction) {
        let Some(runner) = &self.runner else { return };
        if !self.job_ran {
            return;
        }
        let after = match self.pod.as_ref() {
            Some(p) => self
                .provider
                .get(&p.id)
                .await
                .ok()
                .flatten()
                .map(|p| p.status),
            None => None,
        };
        let input = manifest::ManifestInput {
            config: self.config,
            pod: self.pod.as_ref(),
            runner,
            outcome,
            failure: self.failure.as_ref(),
            lifecycle_action: action,
            pod_resumed: self.resumed_now,
            state_at_job_end: self.pod_state_at_job_end,
            state_after_lifecycle: after,
            provider: self.provider.name(),
            pod_timings: &self.pod_timings,
        };
        if let Err(err) = manifest::write(&input) {
            self.reporter
                .line(format!("Warning: could not write the run manifest: {err}"));
        }
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
