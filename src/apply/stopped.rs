//! A job whose pod was found stopped before its results were read: the
//! on-pod guard stopped it while no rpd was attached (a laptop asleep
//! through the job's end), or it was stopped outside rpd. A stopped pod
//! cannot be reached, and its volume holds the log, the artifacts and the
//! exit status: the pod is resumed to collect them, and the job's real
//! exit status picks the lifecycle branch. It is never deleted for want of
//! a collect: a pod that cannot be resumed is kept, stopped, with the job
//! recorded for `rpd attach`.

use super::*;

impl Executor<'_> {
    /// Resumes the job's stopped pod and reaches it again; the runner then
    /// reads how the job ended (see `JobRunner::reach_again`).
    pub(super) async fn resume_to_collect(&mut self) -> Result<(), ApplyError> {
        let pod_id = self.current_id().ok_or(ApplyError::NoPod)?;
        self.events.emit(&JobEvent::ResumingToCollect {
            pod_id: pod_id.clone(),
        });
        if let Some(record) = self.state.pod.as_mut() {
            record.set_status(PodStatus::Exited, Utc::now());
        }
        let waiter = self.reporter.wait(&format!("Resuming paused pod {pod_id}"));
        match self.provider.start(&pod_id).await {
            Ok(()) => {
                let took = waiter.done("Start requested", &format!(" [id={pod_id}]"));
                self.time("start", took);
            }
            // Already starting (resumed by someone else): wait for it.
            Err(ProviderError::Conflict(_)) => {
                waiter.abandon();
            }
            Err(err) => {
                waiter.abandon();
                let _ = self.save_state();
                return Err(ApplyError::NotCollected {
                    pod_id,
                    why: err.to_string(),
                    config: self.config.path.clone(),
                });
            }
        }
        crate::fault::reached("resume-to-collect").await;
        if let Some(record) = self.state.pod.as_mut() {
            record.set_status(PodStatus::Starting, Utc::now());
        }
        self.resumed_now = true;
        self.report.resumed += 1;
        self.report.pod_id = Some(pod_id.clone());
        self.events.emit(&JobEvent::PodResumed {
            pod_id: pod_id.clone(),
        });
        // Not written, the pod is still the state's (as stopped): the next
        // plan sees it running, and the on-pod guard stops it again.
        let _ = self.save_state();
        let timeout_sec = self.config.budget.ssh_ready_timeout_sec;
        let deadline = Instant::now() + Duration::from_secs(u64::from(timeout_sec));
        let ready = match self.wait_running(&pod_id, deadline, timeout_sec).await {
            Ok(ready) => ready,
            Err(err) => return Err(self.keep_uncollected(&pod_id, err.to_string()).await),
        };
        if let Some(record) = self.state.pod.as_mut() {
            record.set_status(PodStatus::Running, Utc::now());
        }
        let _ = self.save_state();
        let waiter = self.reporter.wait(&format!("Connecting to pod {pod_id}"));
        let connected = tokio::select! {
            biased;
            _ = self.interrupt.wait() => None,
            result = crate::remote::connect(&ready, self.config, deadline) => Some(result),
        };
        let transport = match connected {
            Some(Ok(transport)) => {
                let took = waiter.done("Connected", &format!(" [{}]", transport.describe()));
                self.time("connect", took);
                transport
            }
            Some(Err(err)) => {
                waiter.abandon();
                return Err(self.keep_uncollected(&pod_id, err.to_string()).await);
            }
            None => {
                waiter.abandon();
                return Err(self
                    .keep_uncollected(&pod_id, "interrupted".to_string())
                    .await);
            }
        };
        self.pod = Some(ready);
        let runner = self.runner.as_mut().ok_or(ApplyError::NoConnection)?;
        runner.reach_again(transport, &pod_id).await;
        Ok(())
    }

    /// The pod could not be reached again: it is stopped and kept, with the
    /// job still recorded, so that `rpd attach` collects it later.
    async fn keep_uncollected(&mut self, pod_id: &str, why: String) -> ApplyError {
        self.reporter.line(format!(
            "Stopping pod {pod_id}: the job's results stay on its volume for `rpd attach`"
        ));
        match self.stop_and_keep(pod_id).await {
            Ok(()) => ApplyError::NotCollected {
                pod_id: pod_id.to_string(),
                why,
                config: self.config.path.clone(),
            },
            Err(err) => err,
        }
    }
}
