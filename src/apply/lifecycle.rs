//! After the job: stop, recycle, delete or preserve, with the stop checked;
//! and the run manifest.

use super::*;

impl Executor<'_> {
    /// Asks the provider to stop the pod (retrying a transient failure) and
    /// checks, within a bounded time, that it really stopped: a stop that did
    /// not happen keeps billing.
    pub(super) async fn stop(&mut self, pod_id: &str) -> StopOutcome {
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

    pub(super) async fn lifecycle(
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
        self.report.failure = self.job_failure().cloned();
        self.write_manifest(outcome, action).await;
        result
    }

    pub(super) async fn carry_out(
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

    pub(super) fn retain(&mut self, pod_id: &str, reason: String, status: PodStatus) {
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

    pub(super) async fn write_manifest(&mut self, outcome: Outcome, action: LifecycleAction) {
        if !self.runner.as_ref().is_some_and(|r| r.ran()) {
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
        let Some(job) = self.runner.as_ref().map(|r| r.report()) else {
            return;
        };
        let input = manifest::ManifestInput {
            config: self.config,
            pod: self.pod.as_ref(),
            job: &job,
            outcome,
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
