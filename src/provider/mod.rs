//! The control plane behind one trait. Providers only translate between rpd's
//! model and an API; policy (what to create, when to retry a candidate, what
//! to delete) lives in the planner and apply.

pub mod rest_v2;
pub mod runpodctl;
pub mod sim;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

pub use crate::model::{Catalog, Offer};
use crate::model::{CloudType, ObservedPod, PodBill, PodSelfStop, Storage};

/// RunPod's words for "the host of this stopped pod has no free GPU".
pub const HOST_BUSY_MESSAGE: &str =
    "There are not enough free GPUs on the host machine to start this pod.";
/// RunPod's words for "no machine for this GPU and datacenter now".
pub const CAPACITY_MESSAGE: &str = "There are no longer any instances available with the requested specifications. Please refresh and try again.";

/// Errors classified by what the caller should do about them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// No capacity for this candidate: try the next one.
    #[error("no capacity: {0}")]
    Capacity(String),
    /// A stopped pod's host has no free GPU: it cannot be resumed now.
    #[error("{0}")]
    HostBusy(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The pod is not in a state that allows the action (HTTP 409).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("rate limited: {message}")]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// Worth retrying (5xx, network).
    #[error("transient provider error: {0}")]
    Transient(String),
    /// The request itself is wrong: never retry.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Out of credit: nothing will succeed.
    #[error("insufficient balance: {0}")]
    Balance(String),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("{0}")]
    Other(String),
}

impl ProviderError {
    /// Whether repeating the same call may succeed: a server error or a
    /// network failure (`Transient`), or a refusal to answer yet
    /// (`RateLimited`). `Other` is not: it is whatever could not be
    /// classified (an unreadable answer, a runpodctl that would not start),
    /// and repeating it blindly could repeat a create. A call that is
    /// harmless to repeat (a stop) may still choose to retry `Other`.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Transient(_) | ProviderError::RateLimited { .. }
        )
    }

    /// How long the server asked to wait before the next request.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Classifies RunPod's human-readable messages, which carry no codes.
    pub fn from_message(message: &str) -> Option<ProviderError> {
        let lower = message.to_ascii_lowercase();
        let capacity = [
            "no longer any instances available",
            "no instances currently available",
            "could not find any pods with required specifications",
            "machine does not have the resources",
        ];
        if lower.contains("not enough free gpus on the host machine") {
            Some(ProviderError::HostBusy(message.to_string()))
        } else if capacity.iter().any(|c| lower.contains(c)) {
            Some(ProviderError::Capacity(message.to_string()))
        } else {
            None
        }
    }
}

pub type ProviderResult<T> = Result<T, ProviderError>;

/// Everything a create needs, for one candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatePodRequest {
    pub name: String,
    pub image: String,
    pub gpu_id: String,
    pub gpu_count: u32,
    pub datacenter_id: String,
    pub cloud_type: CloudType,
    pub container_disk_gb: u32,
    /// For a network volume, `volume_id` is resolved before the create.
    pub storage: Storage,
    pub ports: Vec<String>,
    pub env: std::collections::BTreeMap<String, String>,
    pub min_vcpu_count: Option<u32>,
    pub min_memory_gb: Option<u32>,
    pub spot: bool,
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// `sim`, `runpod` or `runpodctl`: recorded in the state with each pod.
    fn name(&self) -> &'static str;

    /// How often to look at a pod that is changing status.
    fn poll_interval(&self) -> Duration {
        Duration::from_secs(5)
    }

    /// How a pod of this provider stops itself (the on-pod guard): RunPod's
    /// REST API (`RPD_RUNPOD_API_URL` when set), unless the provider says
    /// otherwise.
    fn self_stop(&self) -> PodSelfStop {
        PodSelfStop::Api {
            base_url: rest_v2::settings::normalize_base_url(
                &crate::env::get(rest_v2::settings::ENV_API_URL)
                    .unwrap_or_else(|| rest_v2::settings::DEFAULT_BASE_URL.to_string()),
            ),
        }
    }

    /// The pod, or `None` when the provider says it does not exist (only a
    /// definite not-found; any other failure is an error, never "gone").
    async fn get(&self, id: &str) -> ProviderResult<Option<ObservedPod>>;

    async fn list(&self) -> ProviderResult<Vec<ObservedPod>>;

    async fn create(&self, request: &CreatePodRequest) -> ProviderResult<ObservedPod>;

    async fn start(&self, id: &str) -> ProviderResult<()>;

    async fn stop(&self, id: &str) -> ProviderResult<()>;

    /// Deletes the pod; a pod that is already gone is a success.
    async fn delete(&self, id: &str) -> ProviderResult<()>;

    /// Stock and prices for these GPUs in these datacenters.
    async fn catalog(
        &self,
        gpu_ids: &[String],
        datacenter_ids: &[String],
        cloud_type: CloudType,
    ) -> ProviderResult<Catalog>;

    /// The id of the network volume `name` in `datacenter_id`.
    async fn resolve_network_volume(
        &self,
        name: &str,
        datacenter_id: &str,
    ) -> ProviderResult<String>;

    /// What RunPod billed the pod since `since`, by the hour; `None` when
    /// this provider has no billing to read (the simulator, runpodctl):
    /// `rpd cost` then estimates, and says so.
    async fn pod_billing(
        &self,
        _pod_id: &str,
        _since: chrono::DateTime<chrono::Utc>,
    ) -> ProviderResult<Option<Vec<PodBill>>> {
        Ok(None)
    }
}

pub type SharedProvider = Arc<dyn Provider>;

/// The provider named on the command line (`--provider`, `RPD_PROVIDER`).
pub fn from_name(name: &str) -> anyhow::Result<SharedProvider> {
    match name {
        "sim" => Ok(Arc::new(sim::SimProvider::open_default()?)),
        "runpod" => Ok(Arc::new(rest_v2::RestV2Provider::from_env()?)),
        "runpodctl" => Ok(Arc::new(runpodctl::RunpodctlProvider::from_env()?)),
        other => anyhow::bail!(
            "unknown provider {other:?}
  = help: use --provider runpod (RunPod's REST v2 API, the default), --provider runpodctl (drives the runpodctl v2 CLI) or --provider sim (the embedded simulator, no account needed)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_and_rate_limited_failures_are_retryable() {
        let wait = Some(Duration::from_secs(12));
        let limited = ProviderError::RateLimited {
            retry_after: wait,
            message: "slow down".into(),
        };
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), wait);
        assert!(ProviderError::Transient("502".into()).is_retryable());
        for settled in [
            ProviderError::Capacity("x".into()),
            ProviderError::HostBusy("x".into()),
            ProviderError::NotFound("x".into()),
            ProviderError::Conflict("x".into()),
            ProviderError::Invalid("x".into()),
            ProviderError::Balance("x".into()),
            ProviderError::Auth("x".into()),
            ProviderError::Other("x".into()),
        ] {
            assert!(!settled.is_retryable(), "{settled:?}");
            assert_eq!(settled.retry_after(), None);
        }
    }
}
