//! COMMUNITY pods that never get direct SSH. RunPod reports `ssh.direct`
//! only for a pod with a public port for 22/tcp, which community machines
//! without a public IP never give; their pods have SSH through RunPod's
//! proxy only, which cannot carry rsync. Waiting for such a pod would burn
//! the whole readiness budget on a billing pod: after a grace, a pod this
//! run created is deleted and the next candidate tried.
//!
//! A pod reads RUNNING with the proxy only while its image still pulls too
//! (minutes for a large image), on any cloud: that pod is starting, not
//! broken, and deleting it would only start the pull again on the next
//! candidate. So the watch holds only for a COMMUNITY pod whose container
//! runs and lists its port mappings without a public 22
//! (`ObservedPod::no_public_ssh`); any other pod is waited for within the
//! readiness timeout, as any start is.

use super::*;

/// How long a created pod may run with proxy-only SSH, unless said.
pub const DEFAULT_DIRECT_SSH_GRACE: Duration = Duration::from_secs(60);

/// Watches a waiting pod: running on COMMUNITY with its ports mapped and
/// no public 22, for how long.
#[derive(Debug, Clone, Copy)]
pub(super) struct DirectSshWatch {
    grace: Duration,
    since: Option<Instant>,
}

impl DirectSshWatch {
    pub(super) fn new(grace: Duration) -> DirectSshWatch {
        DirectSshWatch { grace, since: None }
    }

    /// Whether `pod`, seen at `now`, has run the whole grace on a machine
    /// that gives it no direct SSH (the clock restarts when it stops so).
    pub(super) fn overdue(&mut self, pod: &ObservedPod, now: Instant) -> bool {
        if !lacks_direct_ssh(pod) {
            self.since = None;
            return false;
        }
        let since = *self.since.get_or_insert(now);
        now.duration_since(since) >= self.grace
    }
}

/// A COMMUNITY pod that runs, lists its ports, and has no public 22: its
/// machine has no public IP. A pod still pulling its image (RUNNING, the
/// proxy, no runtime) is not one, nor is any SECURE pod.
pub(super) fn lacks_direct_ssh(pod: &ObservedPod) -> bool {
    pod.status == PodStatus::Running
        && pod.access.is_none()
        && pod.no_public_ssh
        && pod.spec.cloud_type == Some(CloudType::Community)
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
            spec: PodSpec {
                cloud_type: Some(CloudType::Community),
                ..PodSpec::default()
            },
            cost_per_hr: None,
            access: direct.then(|| {
                crate::model::Access::Ssh(crate::model::SshEndpoint {
                    host: "1.2.3.4".into(),
                    port: 22,
                    user: "root".into(),
                })
            }),
            ssh_proxy: proxy,
            // The runtime lists the ports, without a public 22, whenever
            // the pod has only the proxy.
            no_public_ssh: proxy && !direct && status == PodStatus::Running,
            status_text: None,
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

    /// RUNNING with the proxy and no runtime is a pod still pulling its
    /// image: never given up on, on either cloud; nor is a SECURE pod
    /// whose runtime shows no public 22 (SECURE machines have public IPs).
    #[test]
    fn a_pod_still_pulling_or_on_secure_cloud_is_never_overdue() {
        let t0 = Instant::now();
        let mut pulling = pod(PodStatus::Running, false, true);
        pulling.no_public_ssh = false;
        let mut watch = DirectSshWatch::new(Duration::from_secs(60));
        for s in [0, 61, 600, 6000] {
            assert!(!watch.overdue(&pulling, t0 + Duration::from_secs(s)));
        }
        let mut secure = pod(PodStatus::Running, false, true);
        secure.spec.cloud_type = Some(CloudType::Secure);
        let mut unknown_cloud = pod(PodStatus::Running, false, true);
        unknown_cloud.spec.cloud_type = None;
        for other in [secure, unknown_cloud] {
            let mut watch = DirectSshWatch::new(Duration::from_secs(60));
            for s in [0, 61, 600] {
                assert!(!watch.overdue(&other, t0 + Duration::from_secs(s)));
            }
        }
    }
}
