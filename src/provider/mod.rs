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

pub use crate::model::{Catalog, GpuTypeLimit, NetworkVolume, Offer};
use crate::model::{
    CloudType, InPlaceUpdates, InvalidCandidate, ObservedPod, PodBill, PodSelfStop, PodUpdate,
    Storage, VolumeBill, find_volume,
};
use crate::retry::{Patience, PollSchedule};

/// How a pod that is changing (starting, stopping) is watched: looked at
/// again after 0.5 s, then every 1 s, back to 0.5 s whenever what is seen
/// changes; after a minute with no change (a cold image pull), every 2 s.
/// A fixed 5 s learned of a ready pod 2.5 s late on average; this learns of
/// a resumed pod (30-60 s) 0.5 s late on average, at about 60 reads in
/// the first minute of a wait and 30 a minute after it (RunPod's example
/// quota is 60 a minute; a 429 is waited out as it asks).
pub const CHANGING_POD: PollSchedule = PollSchedule {
    first: Duration::from_millis(500),
    factor: 2.0,
    max: Duration::from_secs(1),
    later: Some(Patience {
        after: Duration::from_secs(60),
        max: LONGEST_CHANGING_POD_WAIT,
    }),
};

/// The longest wait of [`CHANGING_POD`] (`RPD_POLL_INTERVAL_MS` lowers it).
pub const LONGEST_CHANGING_POD_WAIT: Duration = Duration::from_secs(2);

/// [`CHANGING_POD`] with no wait above `longest` (a setting, or tests).
pub fn changing_pod_schedule(longest: Duration) -> PollSchedule {
    let schedule = PollSchedule::backing_off(
        CHANGING_POD.first.min(longest),
        CHANGING_POD.factor,
        CHANGING_POD.max.min(longest),
    );
    PollSchedule {
        later: CHANGING_POD.later.map(|later| Patience {
            max: longest,
            ..later
        }),
        ..schedule
    }
}

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
    /// The API refused the request's content (REST v2's 422, with every
    /// violation): the same request on another candidate would be refused
    /// too, so a create stops instead of moving on.
    #[error("request rejected: {0}")]
    Rejected(String),
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

    /// How to look again at a pod that is changing status (a create, a
    /// start, a stop): see [`CHANGING_POD`].
    fn poll_schedule(&self) -> PollSchedule {
        CHANGING_POD
    }

    /// A short hash of the API key this provider uses (never the key),
    /// recorded in the state: pods made with another key answer 404.
    /// `None` when there is no key (the simulator).
    fn api_key_fingerprint(&self) -> Option<String> {
        None
    }

    /// Whether a running pod says when it has SSH through RunPod's proxy
    /// only (REST v2's `ssh.proxy`), so that one that never gets direct
    /// SSH can be given up on (`ObservedPod::ssh_proxy`).
    fn reports_ssh_proxy(&self) -> bool {
        false
    }

    /// Whether the job's commands run on this machine (the simulator's
    /// pods are local processes), so that the plan can say when they run
    /// without a sandbox.
    fn runs_commands_here(&self) -> bool {
        false
    }

    /// Whether the API key may act for the account at all; an error says
    /// why not (REST v2 run inside a RunPod pod, with the pod's own key),
    /// before anything is sent with it. Checked once per provider.
    async fn check_key(&self) -> ProviderResult<()> {
        Ok(())
    }

    /// Whether pods are reached over SSH with the config's key pair (not
    /// so on the simulator, whose pods are local processes).
    fn needs_ssh_key(&self) -> bool {
        true
    }

    /// The public keys registered with the account, which RunPod puts in a
    /// pod created with SSH unless the create sets `PUBLIC_KEY` itself;
    /// `None` when this provider cannot tell.
    async fn account_ssh_keys(&self) -> ProviderResult<Option<Vec<String>>> {
        Ok(None)
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

    /// The pod as the provider describes it, as JSON (REST v2's
    /// `GET /v2/pods/{id}`, `runpodctl pod get`, the simulator's record):
    /// the run's `pod_describe_start.json`/`pod_describe_end.json`. `None`
    /// when the pod does not exist.
    async fn describe(&self, id: &str) -> ProviderResult<Option<serde_json::Value>>;

    async fn list(&self) -> ProviderResult<Vec<ObservedPod>>;

    async fn create(&self, request: &CreatePodRequest) -> ProviderResult<ObservedPod>;

    /// Whether [`Provider::update`] can change a pod here, or why not.
    async fn in_place_updates(&self) -> InPlaceUpdates {
        InPlaceUpdates::Supported
    }

    /// Changes the pod in place (only the fields `update` sets) and returns
    /// it as the provider answered. The container restarts: the volume is
    /// kept, the container disk is wiped.
    async fn update(&self, id: &str, update: &PodUpdate) -> ProviderResult<ObservedPod>;

    async fn start(&self, id: &str) -> ProviderResult<()>;

    async fn stop(&self, id: &str) -> ProviderResult<()>;

    /// Deletes the pod; a pod that is already gone is a success.
    async fn delete(&self, id: &str) -> ProviderResult<()>;

    /// Stock (for pods of `gpu_count` GPUs) and prices for these GPUs in
    /// these datacenters, and the GPU types and datacenters that exist.
    async fn catalog(
        &self,
        gpu_ids: &[String],
        datacenter_ids: &[String],
        cloud_type: CloudType,
        gpu_count: u32,
    ) -> ProviderResult<Catalog>;

    /// Every network volume of the account.
    async fn network_volumes(&self) -> ProviderResult<Vec<NetworkVolume>>;

    /// The id of the network volume `name` in `datacenter_id`.
    async fn resolve_network_volume(
        &self,
        name: &str,
        datacenter_id: &str,
    ) -> ProviderResult<String> {
        let volumes = self.network_volumes().await?;
        resolve_volume(&volumes, name, datacenter_id)
    }

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

    /// What RunPod billed a network volume since `since`, by the hour
    /// (storage a volume bills apart from any pod); `None` when this
    /// provider has no billing to read.
    async fn network_volume_billing(
        &self,
        _volume_id: &str,
        _since: chrono::DateTime<chrono::Utc>,
    ) -> ProviderResult<Option<Vec<VolumeBill>>> {
        Ok(None)
    }
}

/// `sha256:` and the first 12 hex digits of the key's SHA-256: enough to
/// tell two keys apart, far too little to recover one.
pub fn api_key_fingerprint(api_key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(api_key.trim().as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The id of the volume `name` in `datacenter_id`, or an `Invalid` error
/// that says where the volumes of that name are.
pub fn resolve_volume(
    volumes: &[NetworkVolume],
    name: &str,
    datacenter_id: &str,
) -> ProviderResult<String> {
    let why = match find_volume(volumes, name, datacenter_id) {
        Ok(volume) => return Ok(volume.id.clone()),
        Err(why) => why,
    };
    Err(ProviderError::Invalid(match why {
        InvalidCandidate::VolumeElsewhere { datacenters, .. } => format!(
            "network volume {name:?} is in {}, not in {datacenter_id}; a pod can only mount a volume in its own datacenter",
            datacenters.join(", ")
        ),
        InvalidCandidate::AmbiguousVolume { ids, .. } => format!(
            "{} network volumes are named {name:?} in {datacenter_id} ({}); rename all but one in the RunPod console",
            ids.len(),
            ids.join(", ")
        ),
        _ => {
            let mut names: Vec<String> = volumes.iter().map(|v| format!("{:?}", v.name)).collect();
            names.sort();
            names.dedup();
            let has = if names.is_empty() {
                String::new()
            } else {
                format!(" (it has {})", names.join(", "))
            };
            format!("no network volume named {name:?} in this RunPod account{has}")
        }
    }))
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

    fn volume(id: &str, name: &str, dc: &str) -> NetworkVolume {
        NetworkVolume {
            id: id.into(),
            name: name.into(),
            datacenter_id: dc.into(),
        }
    }

    fn waits(schedule: PollSchedule, n: usize) -> Vec<u64> {
        let mut poller = schedule.start::<()>();
        (0..n)
            .map(|_| poller.next_wait().as_millis() as u64)
            .collect()
    }

    /// A changing pod is looked at again soon, then every second while a
    /// resume's wait lasts (a minute), then less often: a short wait is
    /// learned of within a fraction of it, a long one at 30 reads a minute.
    #[test]
    fn a_changing_pod_is_read_soon_then_less_often() {
        let all = waits(CHANGING_POD, 64);
        assert_eq!(all[..4], [500, 1000, 1000, 1000]);
        let first_minute: u64 = all.iter().take_while(|w| **w <= 1000).sum();
        assert_eq!(first_minute, 61_500, "1 s waits until a minute has passed");
        assert_eq!(all[61..], [1000, 2000, 2000]);
        assert_eq!(
            changing_pod_schedule(LONGEST_CHANGING_POD_WAIT),
            CHANGING_POD
        );
        // A cap below the first wait (tests, RPD_POLL_INTERVAL_MS=20) is
        // every wait.
        assert_eq!(
            waits(changing_pod_schedule(Duration::from_millis(20)), 3),
            [20, 20, 20]
        );
        // A longer cap (RPD_POLL_INTERVAL_MS=5000) is reached once nothing
        // changed for a minute.
        let five = waits(changing_pod_schedule(Duration::from_secs(5)), 66);
        assert_eq!(five[..3], [500, 1000, 1000]);
        assert_eq!(five[61..], [1000, 2000, 4000, 5000, 5000]);
    }

    #[test]
    fn a_key_fingerprint_is_short_stable_and_not_the_key() {
        let key = "rpa_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let print = api_key_fingerprint(key);
        assert_eq!(print, api_key_fingerprint(&format!(" {key}\n")));
        assert_ne!(print, api_key_fingerprint("rpa_another"));
        assert!(print.starts_with("sha256:") && print.len() == 19, "{print}");
        assert!(!print.contains("rpa_"));
    }

    #[test]
    fn volumes_resolve_by_name_and_datacenter_with_clear_errors() {
        let volumes = [
            volume("v1", "data", "EU-RO-1"),
            volume("v2", "data", "US-KS-2"),
            volume("v3", "models", "EU-RO-1"),
            volume("v4", "models", "EU-RO-1"),
        ];
        assert_eq!(resolve_volume(&volumes, "data", "US-KS-2").unwrap(), "v2");
        let message = |name, dc| resolve_volume(&volumes, name, dc).unwrap_err().to_string();
        assert_eq!(
            message("data", "CA-MTL-1"),
            "invalid request: network volume \"data\" is in EU-RO-1, US-KS-2, not in CA-MTL-1; a pod can only mount a volume in its own datacenter"
        );
        assert_eq!(
            message("cache", "EU-RO-1"),
            "invalid request: no network volume named \"cache\" in this RunPod account (it has \"data\", \"models\")"
        );
        assert_eq!(
            message("models", "EU-RO-1"),
            "invalid request: 2 network volumes are named \"models\" in EU-RO-1 (v3, v4); rename all but one in the RunPod console"
        );
        assert_eq!(
            resolve_volume(&[], "x", "EU-RO-1").unwrap_err().to_string(),
            "invalid request: no network volume named \"x\" in this RunPod account"
        );
    }

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
            ProviderError::Rejected("x".into()),
            ProviderError::Balance("x".into()),
            ProviderError::Auth("x".into()),
            ProviderError::Other("x".into()),
        ] {
            assert!(!settled.is_retryable(), "{settled:?}");
            assert_eq!(settled.retry_after(), None);
        }
    }
}
