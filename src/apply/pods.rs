//! The steps that change pods: create (candidates in order, never two
//! pods for one lost answer), start, wait until ready, delete (an update
//! in place is update.rs).

use super::*;

/// Deletes a pod, asking again after a failure that may pass; how long it
/// took. The caller forgets the pod and writes its state.
pub(crate) async fn delete_pod(
    provider: &SharedProvider,
    reporter: &Reporter,
    request_retry: &Backoff,
    pod_id: &str,
) -> Result<Duration, ProviderError> {
    let waiter = reporter.wait(&format!("Destroying pod {pod_id}"));
    let deleted = past_rate_limits(reporter, &format!("deleting pod {pod_id}"), || {
        retry::retry(
            request_retry,
            || provider.delete(pod_id),
            ProviderError::is_retryable,
            ProviderError::retry_after,
        )
    })
    .await;
    if let Err(err) = deleted {
        waiter.abandon();
        return Err(err);
    }
    crate::fault::reached("deleted").await;
    Ok(waiter.done("Destruction complete", &format!(" [id={pod_id}]")))
}

impl Executor<'_> {
    pub(super) async fn delete(&mut self, pod_id: &str) -> Result<(), ApplyError> {
        let took = delete_pod(&self.provider, &self.reporter, &self.request_retry, pod_id)
            .await
            .map_err(|err| {
                ApplyError::provider(
                    format!("deleting pod {pod_id} (it is still tracked; `rpd destroy` retries)"),
                    err,
                )
            })?;
        self.time("delete", took);
        self.forget(pod_id);
        self.report.destroyed += 1;
        self.save()
    }

    pub(super) fn record(&self, pod: &ObservedPod, request: &CreatePodRequest) -> PodRecord {
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
            status_since: Some(Utc::now()),
            created_at: Some(Utc::now()),
            provider: Some(self.provider.name().to_string()),
        }
    }

    /// `<run_id>-<6 hex of the state's lineage>` (see `pod_name`): unique
    /// to this state, and recognisable as rpd's if the state is ever lost.
    pub(super) fn pod_name(&self) -> String {
        crate::pod_name::for_create(&self.config.run_id, &self.state.lineage)
    }

    pub(super) async fn request_for(
        &self,
        candidate: &Candidate,
        public_keys: Option<&str>,
    ) -> Result<CreatePodRequest, ProviderError> {
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
            env: {
                let mut env = desired.env.clone();
                if let Some(keys) = public_keys {
                    env.insert("PUBLIC_KEY".into(), keys.into());
                }
                env
            },
            min_vcpu_count: desired.min_vcpu_count,
            min_memory_gb: desired.min_memory_gb,
            spot: desired.spot,
        })
    }

    /// Tries the candidates in order: skips those out of stock, falls
    /// through capacity errors, and never blindly re-sends a create whose
    /// answer was lost (the pod is looked up by name first).
    pub(super) async fn create(&mut self, candidates: &[Candidate]) -> Result<(), ApplyError> {
        let mut misses: Vec<CandidateMiss> = Vec::new();
        let public_keys = self.pod_public_keys().await?;
        for (tried, candidate) in candidates.iter().enumerate() {
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
            if candidate.invalid.is_some() {
                misses.push(CandidateMiss {
                    place,
                    why: Miss::Invalid,
                });
                continue;
            }
            if candidate.stock == Stock::None {
                misses.push(CandidateMiss {
                    place,
                    why: Miss::NoStock,
                });
                continue;
            }
            let request = match self.request_for(candidate, public_keys.as_deref()).await {
                Ok(r) => r,
                Err(err) => {
                    misses.push(CandidateMiss {
                        place,
                        why: Miss::Refused(err),
                    });
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
            let pod = match result {
                Ok(pod) => pod,
                // Refused before anything was made, and no other candidate
                // would fare better: a bad key, no credit, a request RunPod
                // rejects (422), or a rate limit that outlasted the waits.
                Err(
                    err @ (ProviderError::Auth(_)
                    | ProviderError::Balance(_)
                    | ProviderError::Rejected(_)
                    | ProviderError::RateLimited { .. }),
                ) => {
                    waiter.abandon();
                    self.state.pending_create = None;
                    self.save()?;
                    return Err(ApplyError::provider("creating the pod", err));
                }
                Err(err @ (ProviderError::Transient(_) | ProviderError::Other(_))) => {
                    // The pod may exist although the answer was lost: look
                    // it up by name before deciding anything.
                    match self.find_by_name(&request.name).await {
                        Ok(Some(pod)) => {
                            self.reporter.line(format!(
                                "the create answered with an error ({err}), but pod {} exists under our name: using it",
                                pod.id
                            ));
                            pod
                        }
                        // Not listed (yet), or the list failed: the create
                        // may still have happened. Trying another candidate
                        // could leave two pods billing, so stop here; the name
                        // stays recorded and the next plan adopts the pod if
                        // it appears, or forgets the name if it never does.
                        found => {
                            waiter.abandon();
                            return Err(ApplyError::AmbiguousCreate {
                                place,
                                name: request.name,
                                source: err,
                                listing: found.err().map(Box::new),
                            });
                        }
                    }
                }
                Err(err) => {
                    waiter.abandon();
                    let miss = CandidateMiss {
                        place,
                        why: Miss::Refused(err),
                    };
                    self.reporter.line(miss.to_string());
                    misses.push(miss);
                    continue;
                }
            };
            crate::fault::reached("create-answered").await;
            let took = waiter.done("Creation complete", &format!(" [id={}]", pod.id));
            self.time("create", took);
            let record = self.record(&pod, &request);
            self.state.pod = Some(record);
            self.state.pending_create = None;
            if let Err(err) = self.save_state() {
                // A pod the state does not record would bill unseen: undo it.
                self.reporter.line(format!(
                    "Deleting pod {}: the state could not record it",
                    pod.id
                ));
                if let Err(delete) = self.provider.delete(&pod.id).await {
                    return Err(ApplyError::Untracked {
                        pod_id: pod.id,
                        source: Box::new(err),
                        delete: Box::new(delete),
                    });
                }
                return Err(err.into());
            }
            self.events.emit(&JobEvent::GpuSelected {
                gpu_id: candidate.gpu_id.clone(),
                datacenter_id: candidate.datacenter_id.clone(),
            });
            if candidate.cloud_type != self.config.pod.cloud_type {
                self.events.emit(&JobEvent::CloudTypeFallback {
                    from: self.config.pod.cloud_type,
                    to: candidate.cloud_type,
                    gpu_id: candidate.gpu_id.clone(),
                    datacenter_id: candidate.datacenter_id.clone(),
                });
            }
            self.created_now = true;
            self.untried = candidates[tried + 1..].to_vec();
            self.report.created += 1;
            self.report.pod_id = Some(pod.id.clone());
            self.pod = Some(pod);
            return Ok(());
        }
        self.state.pending_create = None;
        self.save()?;
        Err(ApplyError::NoCandidate { misses })
    }

    /// The pod a create may have made, looked up by its name. Looks a few
    /// times, since a pod can show up in the list a moment after its create.
    pub(super) async fn find_by_name(
        &self,
        name: &str,
    ) -> Result<Option<ObservedPod>, ProviderError> {
        const LOOKS: u32 = 3;
        let schedule = PollSchedule::every(
            self.provider
                .poll_schedule()
                .max
                .min(Duration::from_secs(2)),
        );
        let mut looks = 0;
        retry::poll(&schedule, async || {
            looks += 1;
            let found = match self.provider.list().await {
                Ok(pods) => pods
                    .into_iter()
                    .find(|p| p.name == name && p.status != PodStatus::Terminated),
                Err(err) => return Look::Done(Err(err)),
            };
            if found.is_some() || looks == LOOKS {
                Look::Done(Ok(found))
            } else {
                Look::Again(())
            }
        })
        .await
    }

    pub(super) async fn adopt(&mut self, pod_id: &str) -> Result<(), ApplyError> {
        let pod = self
            .provider
            .get(pod_id)
            .await
            .map_err(|e| ApplyError::provider(format!("reading pod {pod_id}"), e))?
            .ok_or_else(|| ApplyError::AdoptedPodGone {
                pod_id: pod_id.to_string(),
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
            status_since: Some(Utc::now()),
            created_at: None,
            provider: Some(self.provider.name().to_string()),
        });
        self.reporter
            .line(format!("Adopted pod {pod_id} from an interrupted create"));
        self.save()
    }

    pub(super) async fn start(
        &mut self,
        pod_id: &str,
        fallback: &[Candidate],
        busy_host: &BusyHost,
    ) -> Result<(), ApplyError> {
        let waiter = self.reporter.wait(&format!("Resuming paused pod {pod_id}"));
        match self.provider.start(pod_id).await {
            Ok(()) => {
                let took = waiter.done("Start requested", &format!(" [id={pod_id}]"));
                self.time("start", took);
                self.resumed(pod_id).await
            }
            Err(ProviderError::HostBusy(message)) => {
                waiter.abandon();
                self.events.emit(&JobEvent::ResumeFailed {
                    pod_id: pod_id.to_string(),
                    error: message,
                });
                self.on_busy_host(pod_id, fallback, busy_host).await
            }
            Err(ProviderError::Conflict(message)) => {
                waiter.abandon();
                self.already_started(pod_id, message).await
            }
            Err(err) => {
                waiter.abandon();
                Err(ApplyError::provider(format!("resuming pod {pod_id}"), err))
            }
        }
    }

    /// A start refused for the pod's status: fine if it is already starting
    /// (started elsewhere).
    pub(super) async fn already_started(
        &mut self,
        pod_id: &str,
        message: String,
    ) -> Result<(), ApplyError> {
        match self.provider.get(pod_id).await {
            Ok(Some(pod)) if pod.status.is_active() => {
                self.reporter
                    .line(format!("Pod {pod_id} is already {}", pod.status));
                self.report.pod_id = Some(pod_id.to_string());
                Ok(())
            }
            _ => Err(ApplyError::ResumeRefused {
                pod_id: pod_id.to_string(),
                message,
            }),
        }
    }

    /// The start was accepted: the pod bills from now on, and the state
    /// says so (or the pod is stopped again).
    pub(super) async fn resumed(&mut self, pod_id: &str) -> Result<(), ApplyError> {
        crate::fault::reached("resume-answered").await;
        if let Some(pod) = self.state.pod.as_mut() {
            pod.set_status(PodStatus::Starting, Utc::now());
        }
        self.resumed_now = true;
        self.report.resumed += 1;
        self.report.pod_id = Some(pod_id.to_string());
        self.events.emit(&JobEvent::PodResumed {
            pod_id: pod_id.to_string(),
        });
        if let Err(err) = self.save_state_at(Some("save-resumed")) {
            return Err(self.unrecorded(pod_id, err).await);
        }
        Ok(())
    }

    /// The state could not record that the pod runs: stop it again (or
    /// delete it, if this run made it) so that nothing bills unrecorded.
    pub(super) async fn unrecorded(&mut self, pod_id: &str, err: state::StateError) -> ApplyError {
        let done = if self.created_now {
            "deleted"
        } else {
            "stopped"
        };
        match self
            .not_ready_cleanup(pod_id, "the state could not record that it runs")
            .await
        {
            // A state write after the cleanup may fail too: the pod is
            // no longer running either way.
            Ok(()) | Err(ApplyError::State(_)) => ApplyError::Unrecorded {
                pod_id: pod_id.to_string(),
                done,
                source: Box::new(err),
            },
            // The stop or delete failed: that error says the pod may bill.
            Err(other) => other,
        }
    }

    /// Waits until the pod runs and can be reached, within the budget. A pod
    /// that never gets there is not left running: a pod created now is
    /// deleted, a resumed one is stopped.
    pub(super) async fn wait_ready(&mut self, timeout_sec: u32) -> Result<(), ApplyError> {
        crate::fault::reached("wait").await;
        let (pod_id, deadline, ready) = loop {
            let Some(pod_id) = self.current_id() else {
                return Err(ApplyError::NoPod);
            };
            let deadline = Instant::now() + Duration::from_secs(u64::from(timeout_sec));
            match self.wait_running(&pod_id, deadline, timeout_sec).await {
                Ok(pod) => break (pod_id, deadline, pod),
                // A pod this run created on a machine without direct SSH:
                // the next candidate may have it.
                Err(problem @ ApplyError::NotReady(NotReady::NoDirectSsh { .. }))
                    if self.created_now =>
                {
                    if !self.replace_without_direct_ssh(&pod_id).await? {
                        return Err(problem);
                    }
                }
                Err(problem) => {
                    let why = match &problem {
                        ApplyError::Interrupted => "interrupted before it was ready",
                        ApplyError::NotReady(NotReady::NoDirectSsh { .. }) => {
                            "it has SSH only through RunPod's proxy"
                        }
                        _ => "it never became ready",
                    };
                    self.not_ready_cleanup(&pod_id, why).await?;
                    return Err(problem);
                }
            }
        };
        if let Some(record) = self.state.pod.as_mut() {
            record.set_status(PodStatus::Running, Utc::now());
        }
        // The guard starts as soon as the pod is reached: from now on a
        // stop found by the next plan is its doing (see `State::guarded_pod`).
        self.state.guarded_pod = Some(pod_id.clone());
        if let Err(err) = self.save_state_at(Some("save-ready")) {
            return Err(self.unrecorded(&pod_id, err).await);
        }
        crate::fault::reached("connect").await;
        let waiter = self.reporter.wait(&format!("Connecting to pod {pod_id}"));
        // An interrupt wins over a connection made in the same moment: the
        // pod is then cleaned up, never handed to the job.
        let connected = tokio::select! {
            biased;
            _ = self.interrupt.wait() => None,
            result = crate::remote::connect(&ready, self.config, deadline) => Some(result),
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
                self.runner = Some(self.runner(&ready, transport));
                self.pod = Some(ready);
                Ok(())
            }
            Some(Err(err)) => {
                waiter.abandon();
                self.not_ready_cleanup(&pod_id, "its shell never answered")
                    .await?;
                Err(ApplyError::Unreachable {
                    pod_id,
                    timeout_sec,
                    source: err,
                })
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
    pub(super) async fn wait_running(
        &mut self,
        pod_id: &str,
        deadline: Instant,
        timeout_sec: u32,
    ) -> Result<ObservedPod, ApplyError> {
        let mut waiter = self
            .reporter
            .wait(&format!("Waiting for pod {pod_id} to be ready"));
        let schedule = self.provider.poll_schedule();
        let provider = self.provider.clone();
        let interrupt = self.interrupt.clone();
        let id = || pod_id.to_string();
        // What the last readable look saw (the status, and whether RunPod's
        // SSH proxy is up): a change restarts the schedule from its first,
        // shortest wait, since the pod is moving.
        let mut seen = None;
        let mut proxy_only = DirectSshWatch::new(self.options.direct_ssh_grace);
        let grace_sec = self.options.direct_ssh_grace.as_secs();
        let looking = retry::poll(&schedule, async || {
            match provider.get(pod_id).await {
                Ok(Some(pod)) if pod.status == PodStatus::Running && pod.access.is_some() => {
                    return Look::Done(Ok(pod));
                }
                Ok(Some(pod)) if pod.status == PodStatus::Error => {
                    return Look::Done(Err(NotReady::Errored { pod_id: id() }));
                }
                Ok(Some(pod))
                    if matches!(pod.status, PodStatus::Exited | PodStatus::Terminated) =>
                {
                    let status = pod.status;
                    return Look::Done(Err(NotReady::Stopped {
                        pod_id: id(),
                        status,
                    }));
                }
                Ok(Some(pod)) if proxy_only.overdue(&pod, Instant::now()) => {
                    return Look::Done(Err(NotReady::NoDirectSsh {
                        pod_id: id(),
                        grace_sec,
                    }));
                }
                Ok(Some(pod)) => {
                    let detail = match pod.status {
                        PodStatus::Running if direct_ssh::lacks_direct_ssh(&pod) => {
                            "RUNNING, SSH only through RunPod's proxy (no public 22)".to_string()
                        }
                        PodStatus::Running if pod.ssh_proxy => {
                            "RUNNING, SSH only through RunPod's proxy so far (the image may still be pulling)"
                                .to_string()
                        }
                        PodStatus::Running => "RUNNING, no SSH endpoint yet".to_string(),
                        status => status.to_string(),
                    };
                    waiter.tick(&detail);
                    seen = Some((pod.status, pod.ssh_proxy, pod.no_public_ssh));
                }
                Ok(None) => return Look::Done(Err(NotReady::Disappeared { pod_id: id() })),
                Err(ProviderError::Transient(e)) => {
                    waiter.tick(&format!("provider hiccup: {e}"));
                }
                // Asking again before the wait the provider named would
                // only earn another refusal (a provider without rate-limit
                // headers to pace by: the simulator, runpodctl).
                Err(ProviderError::RateLimited {
                    message: e,
                    retry_after,
                }) => {
                    waiter.tick(&format!("provider hiccup: {e}"));
                    if let Some(wait) = retry_after {
                        let left = deadline.saturating_duration_since(Instant::now());
                        tokio::time::sleep(wait.min(left)).await;
                    }
                }
                Err(source) => {
                    return Look::Done(Err(NotReady::Unreadable {
                        pod_id: id(),
                        source,
                    }));
                }
            }
            if Instant::now() >= deadline {
                return Look::Done(Err(NotReady::TimedOut {
                    pod_id: id(),
                    timeout_sec,
                }));
            }
            Look::Again(seen)
        });
        // An interrupt wins over a pod that is running at the same moment.
        let looked = tokio::select! {
            biased;
            _ = interrupt.wait() => None,
            looked = looking => Some(looked),
        };
        match looked {
            Some(Ok(pod)) => {
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
                Ok(pod)
            }
            Some(Err(why)) => {
                waiter.abandon();
                Err(why.into())
            }
            None => {
                waiter.abandon();
                Err(ApplyError::Interrupted)
            }
        }
    }

    /// Stops the pod and keeps tracking it, stopped (forgotten if it is gone).
    pub(super) async fn stop_and_keep(&mut self, pod_id: &str) -> Result<(), ApplyError> {
        match self.stop(pod_id).await {
            StopOutcome::Done => {
                if let Some(record) = self.state.pod.as_mut().filter(|p| p.id == pod_id) {
                    record.set_status(PodStatus::Exited, Utc::now());
                }
                self.save()
            }
            StopOutcome::Gone => {
                self.forget(pod_id);
                self.save()
            }
            StopOutcome::Failed(failure) => Err(failure.into()),
        }
    }

    /// A pod that never became usable is not left running: one this run
    /// created is deleted; one that existed before (resumed or reused) is
    /// stopped and kept, with its volume.
    pub(super) async fn not_ready_cleanup(
        &mut self,
        pod_id: &str,
        why: &str,
    ) -> Result<(), ApplyError> {
        if self.created_now {
            self.reporter.line(format!("Deleting pod {pod_id}: {why}"));
            return self.delete(pod_id).await;
        }
        self.reporter.line(format!("Stopping pod {pod_id}: {why}"));
        self.stop_and_keep(pod_id).await
    }
}
