//! COMMUNITY pods that never get direct SSH. RunPod reports `ssh.direct`
//! only for a pod with a public port for 22/tcp, which community machines
//! without a public IP never give; their pods have SSH through RunPod's
//! proxy only, which cannot carry rsync. Waiting for such a pod would burn
//! the whole readiness budget on a billing pod: after a grace, a pod this
//! run created is deleted and the next candidate tried.

use super::*;

/// How long a created pod may run with proxy-only SSH, unless said.
pub const DEFAULT_DIRECT_SSH_GRACE: Duration = Duration::from_secs(60);

/// Watches a waiting pod: running, with SSH through the proxy only, for how
/// long.
#[derive(Debug, Clone, Copy)]
pub(super) struct DirectSshWatch {
    grace: Duration,
    since: Option<Instant>,
}

impl DirectSshWatch {
    pub(super) fn new(grace: Duration) -> DirectSshWatch {
        DirectSshWatch { grace, since: None }
    }

    /// Whether `pod`, seen at `now`, has run the whole grace with the
    /// proxy and no direct endpoint (the clock restarts when it stops so).
    pub(super) fn overdue(&mut self, pod: &ObservedPod, now: Instant) -> bool {
        let proxy_only = pod.status == PodStatus::Running && pod.access.is_none() && pod.ssh_proxy;
        if !proxy_only {
            self.since = None;
            return false;
        }
        let since = *self.since.get_or_insert(now);
        now.duration_since(since) >= self.grace
    }
}

impl Executor<'_> {
    /// Deletes `pod_id`, which this run created and which never got direct
    /// SSH, and creates a pod on the candidates after the one it was made
    /// on. False (the pod deleted) when no candidate is left.
    pub(super) async fn replace_without_direct_ssh(
        &mut self,
        pod_id: &str,
    ) -> Result<bool, ApplyError> {
        self.reporter.line(format!(
            "Deleting pod {pod_id}: it has SSH only through RunPod's proxy (no public IP), which rsync cannot use"
        ));
        self.delete(pod_id).await?;
        let rest = std::mem::take(&mut self.untried);
        if !rest.iter().any(Candidate::is_worth_trying) {
            return Ok(false);
        }
        self.create(&rest).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PodSpec;

    fn pod(status: PodStatus, direct: bool, proxy: bool) -> ObservedPod {
        ObservedPod {
            id: "p".into(),
            name: "n".into(),
            status,
            spec: PodSpec::default(),
            cost_per_hr: None,
            access: direct.then(|| {
                crate::model::Access::Ssh(crate::model::SshEndpoint {
                    host: "1.2.3.4".into(),
                    port: 22,
                    user: "root".into(),
                })
            }),
            ssh_proxy: proxy,
            actions: None,
            created_at: None,
            changed_at: None,
        }
    }

    #[test]
    fn only_a_running_pod_with_the_proxy_alone_for_the_whole_grace_is_overdue() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut watch = DirectSshWatch::new(Duration::from_secs(60));
        let proxy_only = pod(PodStatus::Running, false, true);
        assert!(!watch.overdue(&pod(PodStatus::Starting, false, true), at(0)));
        assert!(!watch.overdue(&proxy_only, at(10)), "the clock starts");
        assert!(!watch.overdue(&proxy_only, at(69)));
        assert!(watch.overdue(&proxy_only, at(70)));
        // Not proxy-only (no proxy yet, or a direct endpoint): no clock.
        let mut watch = DirectSshWatch::new(Duration::from_secs(60));
        assert!(!watch.overdue(&pod(PodStatus::Running, false, false), at(0)));
        assert!(!watch.overdue(&proxy_only, at(100)), "starts now");
        assert!(!watch.overdue(&pod(PodStatus::Running, false, false), at(170)));
        assert!(!watch.overdue(&proxy_only, at(171)), "and again");
        assert!(!watch.overdue(&pod(PodStatus::Running, true, true), at(500)));
    }
}
