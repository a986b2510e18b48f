//! Replacing a pod loses its volume, and a replacement needs a candidate
//! with stock. So a pod is deleted to be replaced only when stock says a
//! new one can be made (checked right before the delete, unless
//! `--replace-without-stock`), and a paused pod whose host is busy is
//! first waited for, then replaced, or kept, as the busy-host policy says.

use super::*;
use crate::model::{BusyHostPolicy, CloudType};
use crate::plan::SetBy;

/// What trying the start again came to.
enum Retried {
    Started,
    /// Still busy when the wait was over.
    StillBusy,
}

impl Executor<'_> {
    /// A delete that a replace asked for: only with stock for the new pod.
    pub(super) async fn delete_to_replace(&mut self, pod_id: &str) -> Result<(), ApplyError> {
        let candidates = self.replacement.clone();
        if !self.options.replace_without_stock && !self.some_candidate_has_stock(&candidates).await
        {
            return Err(ApplyError::ReplaceKept {
                pod_id: pod_id.to_string(),
            });
        }
        self.delete(pod_id).await
    }

    /// The start of `pod_id` found its host's GPU taken.
    pub(super) async fn on_busy_host(
        &mut self,
        pod_id: &str,
        fallback: &[Candidate],
        busy: &BusyHost,
    ) -> Result<(), ApplyError> {
        let by = match busy.set_by {
            SetBy::Default => None,
            SetBy::Config => Some(format!("lifecycle.on_busy_host: {}", busy.policy)),
            SetBy::Flag => Some(format!("--on-busy-host {}", busy.policy)),
        };
        let kept = |why| ApplyError::BusyHost {
            pod_id: pod_id.to_string(),
            why,
        };
        if busy.holds_job {
            return match self.start_holding_job(pod_id, busy).await? {
                Retried::Started => self.resumed(pod_id).await,
                Retried::StillBusy => Err(kept(BusyHostKept::HoldsJob {
                    waited: (busy.policy != BusyHostPolicy::Fail)
                        .then(|| Duration::from_millis(busy.wait_ms)),
                    config: self.config.path.clone(),
                })),
            };
        }
        let mut waited = None;
        match busy.policy {
            BusyHostPolicy::Fail => {
                return Err(kept(BusyHostKept::Policy {
                    by: by.unwrap_or_else(|| "--on-busy-host fail".into()),
                }));
            }
            BusyHostPolicy::Wait => {
                let wait = Duration::from_millis(busy.wait_ms);
                match self.start_again(pod_id, wait).await? {
                    Retried::Started => return self.resumed(pod_id).await,
                    Retried::StillBusy => waited = Some(wait),
                }
            }
            BusyHostPolicy::Recreate => {}
        }
        if !self.options.replace_without_stock && !self.some_candidate_has_stock(fallback).await {
            return Err(kept(BusyHostKept::NoStock { waited }));
        }
        self.reporter.line(format!(
            "Replacing pod {pod_id}: its host has no free GPU (its volume is lost)"
        ));
        self.delete(pod_id).await?;
        self.create(fallback).await
    }

    /// The start of a pod holding an uncollected job found its host busy:
    /// it is tried again as `wait` does (not with `fail`); if still busy,
    /// the pod is kept paused with its job recorded. Never a delete nor a
    /// create: the job's results are only on this pod.
    async fn start_holding_job(
        &mut self,
        pod_id: &str,
        busy: &BusyHost,
    ) -> Result<Retried, ApplyError> {
        match busy.policy {
            BusyHostPolicy::Fail => Ok(Retried::StillBusy),
            BusyHostPolicy::Wait | BusyHostPolicy::Recreate => {
                self.start_again(pod_id, Duration::from_millis(busy.wait_ms))
                    .await
            }
        }
    }

    /// Tries the start again every `busy_host_retry` for `wait`: a host's
    /// GPU is often free again soon. An interrupt stops the waiting; the
    /// pod stays as it was, paused.
    async fn start_again(&mut self, pod_id: &str, wait: Duration) -> Result<Retried, ApplyError> {
        let every = self.options.busy_host_retry;
        let deadline = Instant::now() + wait;
        let mut waiter = self.reporter.wait(&format!(
            "Pod {pod_id}: its host has no free GPU; trying again every {} for up to {}",
            humantime::format_duration(every),
            humantime::format_duration(wait)
        ));
        let mut tries = 1;
        loop {
            let now = Instant::now();
            if now >= deadline {
                waiter.abandon();
                return Ok(Retried::StillBusy);
            }
            let pause = every.min(deadline - now);
            tokio::select! {
                biased;
                _ = self.interrupt.wait() => {
                    waiter.abandon();
                    self.reporter.line(format!("Stopped waiting: pod {pod_id} stays paused"));
                    return Err(ApplyError::Interrupted);
                }
                _ = tokio::time::sleep(pause) => {}
            }
            tries += 1;
            match self.provider.start(pod_id).await {
                Ok(()) => {
                    let took =
                        waiter.done("Start requested", &format!(" [id={pod_id}, try {tries}]"));
                    self.time("start", took);
                    return Ok(Retried::Started);
                }
                Err(ProviderError::HostBusy(_)) => {
                    waiter.tick(&format!("still busy (try {tries})"))
                }
                Err(ProviderError::Conflict(message)) => {
                    waiter.abandon();
                    self.already_started(pod_id, message).await?;
                    return Ok(Retried::Started);
                }
                Err(err) => {
                    waiter.abandon();
                    return Err(ApplyError::provider(format!("resuming pod {pod_id}"), err));
                }
            }
        }
    }

    /// Whether a create on `candidates` could work now, as the catalog says
    /// (read again: stock moves). An unreadable catalog is no proof of none.
    pub(super) async fn some_candidate_has_stock(&self, candidates: &[Candidate]) -> bool {
        let mut clouds: Vec<CloudType> = Vec::new();
        for c in candidates {
            if !clouds.contains(&c.cloud_type) {
                clouds.push(c.cloud_type);
            }
        }
        for cloud in clouds {
            let on_cloud: Vec<&Candidate> = candidates
                .iter()
                .filter(|c| c.cloud_type == cloud)
                .collect();
            let mut gpus: Vec<String> = Vec::new();
            let mut datacenters: Vec<String> = Vec::new();
            for c in &on_cloud {
                if !gpus.contains(&c.gpu_id) {
                    gpus.push(c.gpu_id.clone());
                }
                if !datacenters.contains(&c.datacenter_id) {
                    datacenters.push(c.datacenter_id.clone());
                }
            }
            let count = self.config.pod.gpu_count;
            match self
                .provider
                .catalog(&gpus, &datacenters, cloud, count)
                .await
            {
                Ok(catalog) => {
                    let in_stock = on_cloud.iter().any(|c| {
                        catalog
                            .offer(&c.datacenter_id, &c.gpu_id)
                            .map_or(Stock::Unknown, |o| o.stock)
                            != Stock::None
                    });
                    if in_stock {
                        return true;
                    }
                }
                Err(err) => {
                    self.reporter.line(format!(
                        "Could not read the catalog to check stock ({err}): going on"
                    ));
                    return true;
                }
            }
        }
        false
    }
}
