//! Changing a pod in place (issue 13): the PATCH, recorded as pending
//! before it is sent so that a lost answer is settled by the next plan.

use super::*;

impl Executor<'_> {
    /// Changes the pod in place (PLANNER.md §1 row 8). The update is
    /// recorded as pending before it is sent and the new spec once the
    /// provider has answered, in the same atomic writes as every step; an
    /// update whose answer is lost stays pending, and the next plan reads
    /// the live pod to settle it (never sending it again blindly).
    pub(super) async fn update(
        &mut self,
        pod_id: &str,
        update: &PodUpdate,
    ) -> Result<(), ApplyError> {
        self.state.pending_update = Some(PendingUpdate {
            pod_id: pod_id.to_string(),
            update: update.clone(),
            started_at: Utc::now(),
        });
        self.save()?;
        let fields = update.field_names().join(", ");
        let waiter = self
            .reporter
            .wait(&format!("Updating pod {pod_id} in place ({fields})"));
        let provider = self.provider.clone();
        // A PATCH is idempotent: repeating one that failed is safe.
        let updated = retry::retry(
            &self.request_retry,
            || provider.update(pod_id, update),
            ProviderError::is_retryable,
            ProviderError::retry_after,
        )
        .await;
        let pod = match updated {
            Ok(pod) => pod,
            Err(err) => {
                waiter.abandon();
                // Refused: nothing changed. Otherwise the answer may be
                // lost: the pending update stays for the next plan.
                if !matches!(err, ProviderError::Transient(_) | ProviderError::Other(_)) {
                    self.state.pending_update = None;
                    self.save()?;
                }
                let err = ApplyError::provider(format!("updating pod {pod_id} in place"), err);
                // A running pod that will not run the job is not left billing.
                if self.state_status_is_active() {
                    self.not_ready_cleanup(pod_id, "its update failed").await?;
                }
                return Err(err);
            }
        };
        let took = waiter.done("Update complete", &format!(" [id={pod_id}]"));
        self.time("update", took);
        self.state.pending_update = None;
        if let Some(record) = self.state.pod.as_mut().filter(|p| p.id == pod_id) {
            record.spec = update.applied_to(&record.spec);
            record.set_status(pod.status, Utc::now());
        }
        self.report.updated += 1;
        self.report.pod_id = Some(pod_id.to_string());
        if let Err(err) = self.save_state_at(Some("save-updated")) {
            if pod.status.is_active() {
                return Err(self.unrecorded(pod_id, err).await);
            }
            return Err(err.into());
        }
        Ok(())
    }

    /// Whether the state says the current pod runs (and bills).
    fn state_status_is_active(&self) -> bool {
        self.state
            .pod
            .as_ref()
            .and_then(|p| p.status)
            .is_some_and(PodStatus::is_active)
    }
}
