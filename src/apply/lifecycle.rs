//! After the job: stop, recycle, delete or preserve, with the stop checked;
//! and the run manifest.

use super::*;

impl Executor<'_> {
    /// Asks the provider to stop the pod and checks that it stopped (see
    /// [`stop_verified`]).
    pub(super) async fn stop(&mut self, pod_id: &str) -> StopOutcome {
        let (outcome, took) = stop_verified(
            &self.provider,
            &self.reporter,
            &self.request_retry,
            pod_id,
            &self.config.path,
        )
        .await;
        if let (StopOutcome::Done, Some(took)) = (&outcome, took) {
            self.time("stop", took);
            self.report.stopped += 1;
        }
        outcome
    }

    /// The lifecycle for how the job ended, and the run's manifest (both
    /// once per run). Results that are only on the pod keep it: a delete
    /// becomes a stop.
    pub(super) async fn lifecycle(
        &mut self,
        end: JobEnd,
        planned: LifecycleAction,
    ) -> Result<(), ApplyError> {
        let outcome = end.outcome;
        let label = match outcome {
            Outcome::Success => "on_success",
            Outcome::Failure => "on_failure",
        };
        let action = if end.unsaved.is_some() && planned == LifecycleAction::Delete {
            LifecycleAction::Stop
        } else {
            planned
        };
        self.report.outcome = Some(outcome);
        self.report.failure = self.job_failure().cloned();
        let (result, existed) = match self.current_id() {
            Some(pod_id) => {
                let instead = if action == planned {
                    String::new()
                } else {
                    format!(" instead of {planned}: the results are only on the pod's volume")
                };
                self.reporter
                    .line(format!("Lifecycle {label}: {action}{instead}"));
                crate::fault::reached("lifecycle").await;
                match self.carry_out(&pod_id, label, action).await {
                    Ok(existed) => (Ok(()), existed),
                    Err(err) => (Err(err), true),
                }
            }
            None => (Ok(()), false),
        };
        self.report.lifecycle = Some(LifecycleDone {
            outcome,
            planned,
            carried_out: existed.then_some(action),
            interrupted: false,
        });
        self.write_manifest(outcome, action).await;
        result
    }

    /// The job was ended because rpd was interrupted: that is no verdict
    /// on the job, so neither lifecycle branch runs (`on_failure` is not
    /// consulted). The pod, created by this run or resumed, is stopped and
    /// stays the config's current pod, paused: it is warm, and the next
    /// apply resumes it. Only results that could not be saved here keep it
    /// aside instead, for forensics (the next job would replace its log).
    pub(super) async fn pause_interrupted(&mut self, end: JobEnd) -> Result<(), ApplyError> {
        let action = if end.unsaved.is_some() {
            LifecycleAction::Stop
        } else {
            LifecycleAction::Recycle
        };
        self.report.outcome = Some(end.outcome);
        self.report.failure = self.job_failure().cloned();
        let (result, existed) = match self.current_id() {
            Some(pod_id) => {
                self.reporter.line(format!(
                    "Interrupted: the job was ended; pod {pod_id} is stopped and kept (on_failure is not consulted)"
                ));
                crate::fault::reached("lifecycle").await;
                match self.carry_out(&pod_id, "interrupted", action).await {
                    Ok(existed) => (Ok(()), existed),
                    Err(err) => (Err(err), true),
                }
            }
            None => (Ok(()), false),
        };
        self.report.lifecycle = Some(LifecycleDone {
            outcome: end.outcome,
            planned: action,
            carried_out: existed.then_some(action),
            interrupted: true,
        });
        self.write_manifest(end.outcome, action).await;
        result
    }

    /// Carries out `action` on the pod; `Ok(false)` when the pod turned out
    /// to be gone already.
    pub(super) async fn carry_out(
        &mut self,
        pod_id: &str,
        label: &str,
        action: LifecycleAction,
    ) -> Result<bool, ApplyError> {
        match action {
            LifecycleAction::Recycle | LifecycleAction::Stop => {
                let stopped = self.stop(pod_id).await;
                crate::fault::reached("lifecycle-done").await;
                let month = crate::cost::stopped_usd_per_month(Some(&self.config.pod.storage));
                match stopped {
                    StopOutcome::Gone => {
                        self.forget(pod_id);
                        self.save()?;
                        self.reporter
                            .line(format!("Pod {pod_id} no longer exists: forgotten"));
                        return Ok(false);
                    }
                    StopOutcome::Failed(failure) => {
                        // Still the current pod, recorded as running: the
                        // next plan sees it and no run of rpd forgets it.
                        if let Some(record) = self.state.pod.as_mut() {
                            record.set_status(PodStatus::Running, Utc::now());
                        }
                        self.save()?;
                        return Err(failure.into());
                    }
                    StopOutcome::Done if action == LifecycleAction::Recycle => {
                        if let Some(record) = self.state.pod.as_mut() {
                            record.set_status(PodStatus::Exited, Utc::now());
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
                // Kept running on purpose: the on-pod guard must not stop it.
                if let Some(runner) = self.runner.as_mut() {
                    runner.dismiss_guard().await;
                }
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
        Ok(true)
    }

    pub(super) fn retain(&mut self, pod_id: &str, reason: String, status: PodStatus) {
        if let Some(mut pod) = self.state.pod.take() {
            if pod.id != pod_id {
                self.state.pod = Some(pod);
                return;
            }
            pod.set_status(status, Utc::now());
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
            pod_resumed: self.launch_resumed.unwrap_or(self.resumed_now),
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

/// Asks the provider to stop the pod (retrying a failure that may
/// pass) and checks, within a bounded time, that it really stopped: a
/// stop that did not happen keeps billing.
pub(crate) async fn stop_verified(
    provider: &SharedProvider,
    reporter: &Reporter,
    request_retry: &Backoff,
    pod_id: &str,
    config: &std::path::Path,
) -> (StopOutcome, Option<Duration>) {
    let waiter = reporter.wait(&format!("Stopping pod {pod_id}"));

    let asked = past_rate_limits(reporter, &format!("stopping pod {pod_id}"), || {
        retry::retry(
            request_retry,
            || async {
                match provider.stop(pod_id).await {
                    // Not in a state to stop: already stopping or stopped.
                    Err(ProviderError::Conflict(_)) => Ok(()),
                    other => other,
                }
            },
            // A stop is harmless to repeat, so an unclassified failure
            // (a runpodctl that printed no code) is tried again too.
            |err| err.is_retryable() || matches!(err, ProviderError::Other(_)),
            ProviderError::retry_after,
        )
    })
    .await;
    let asked = match asked {
        Ok(()) => None,
        Err(ProviderError::NotFound(_)) => {
            waiter.done("Pod is gone", &format!(" [id={pod_id}]"));
            return (StopOutcome::Gone, None);
        }
        Err(err) => Some(err),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let schedule = provider.poll_schedule();
    let mut seen = None;
    let looked = retry::poll(&schedule, async || {
        let last = match provider.get(pod_id).await {
            Ok(Some(pod)) if !pod.status.is_active() => {
                return Look::Done(Ok(StopOutcome::Done));
            }
            Ok(None) => return Look::Done(Ok(StopOutcome::Gone)),
            Ok(Some(pod)) => {
                seen = Some(pod.status);
                let last = LastLook::Active {
                    status: pod.status,
                    cost_per_hr: pod.cost_per_hr,
                };
                // The request itself failed: no point waiting for it.
                if asked.is_some() {
                    return Look::Done(Err(last));
                }
                last
            }
            Err(err) => LastLook::Unreadable(err),
        };
        if Instant::now() >= deadline {
            return Look::Done(Err(last));
        }
        Look::Again(seen)
    })
    .await;
    match looked {
        Ok(StopOutcome::Done) => {
            let took = waiter.done("Stop complete", &format!(" [id={pod_id}]"));
            (StopOutcome::Done, Some(took))
        }
        Ok(gone) => {
            waiter.done("Pod is gone", &format!(" [id={pod_id}]"));
            (gone, None)
        }
        Err(last) => {
            waiter.abandon();
            (
                StopOutcome::Failed(StopFailure {
                    pod_id: pod_id.to_string(),
                    request: asked,
                    last,
                    config: config.to_path_buf(),
                }),
                None,
            )
        }
    }
}
