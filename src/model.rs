//! Domain types shared by every layer: what a pod is made of, what the provider
//! reports about one, and the lifecycle vocabulary. Layers import this module;
//! it imports none of them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

mod update;
pub use update::{InPlaceUpdates, PodUpdate, VolumeGrowth};

/// Secure (RunPod's own datacenters) or community cloud.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    PartialOrd,
    Ord,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum CloudType {
    Secure,
    Community,
}

impl CloudType {
    pub fn as_str(self) -> &'static str {
        match self {
            CloudType::Secure => "SECURE",
            CloudType::Community => "COMMUNITY",
        }
    }

    pub fn parse(text: &str) -> Option<CloudType> {
        match text.to_ascii_uppercase().as_str() {
            "SECURE" => Some(CloudType::Secure),
            "COMMUNITY" => Some(CloudType::Community),
            _ => None,
        }
    }
}

impl fmt::Display for CloudType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RunPod's pod statuses (REST v2 `status`; runpodctl's `desiredStatus` maps onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum PodStatus {
    Provisioning,
    Starting,
    Running,
    Exited,
    Error,
    Terminated,
    /// A status rpd does not know (RunPod added one, or sent none): the
    /// pod is shown as it is, never changed on a guess. Its own word is
    /// `ObservedPod::status_text`. A state file holding another word than
    /// these is still refused (rpd never overwrites what it cannot read).
    Unknown,
}

impl PodStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PodStatus::Provisioning => "PROVISIONING",
            PodStatus::Starting => "STARTING",
            PodStatus::Running => "RUNNING",
            PodStatus::Exited => "EXITED",
            PodStatus::Error => "ERROR",
            PodStatus::Terminated => "TERMINATED",
            PodStatus::Unknown => "UNKNOWN",
        }
    }

    /// Parses provider spellings, including older GraphQL ones.
    pub fn parse(text: &str) -> Option<PodStatus> {
        Some(match text.to_ascii_uppercase().as_str() {
            "PROVISIONING" | "CREATED" => PodStatus::Provisioning,
            "STARTING" | "RESTARTING" => PodStatus::Starting,
            "RUNNING" => PodStatus::Running,
            "EXITED" | "STOPPED" | "PAUSED" => PodStatus::Exited,
            "ERROR" | "FAILED" => PodStatus::Error,
            "TERMINATED" | "DEAD" => PodStatus::Terminated,
            _ => return None,
        })
    }

    /// The pod holds a GPU and bills for it. A status rpd does not know
    /// may: it counts as billing, so that nothing takes it for stopped.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            PodStatus::Provisioning | PodStatus::Starting | PodStatus::Running | PodStatus::Unknown
        )
    }
}

impl fmt::Display for PodStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the pod's persistent disk is provided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Storage {
    /// A volume disk that lives and dies with the pod (kept across stop/start).
    Ephemeral { volume_gb: u32, mount: String },
    /// A network volume that outlives the pod; pinned to one datacenter.
    NetworkVolume {
        volume_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        volume_id: Option<String>,
        mount: String,
    },
}

impl Storage {
    pub fn mount(&self) -> &str {
        match self {
            Storage::Ephemeral { mount, .. } | Storage::NetworkVolume { mount, .. } => mount,
        }
    }

    pub fn mode_name(&self) -> &'static str {
        match self {
            Storage::Ephemeral { .. } => "ephemeral",
            Storage::NetworkVolume { .. } => "network_volume",
        }
    }
}

/// What one concrete pod is made of: the fields rpd records when it creates a
/// pod and compares on every plan. Every field is optional because a state
/// file inherited from runpod-deploy records only image, GPU and datacenter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenter_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_type: Option<CloudType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_disk_gb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
}

/// The desired pod, from a validated config: preference lists instead of one
/// GPU and datacenter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredPod {
    pub image: String,
    pub gpu_order: Vec<String>,
    pub datacenters: Vec<String>,
    pub cloud_type: CloudType,
    /// `cloud_type: ALL` (runpod-deploy's word; REST v2 has no ALL): after
    /// every candidate on `cloud_type` (SECURE), the same places on
    /// COMMUNITY; a pod on either cloud fits.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub all_clouds: bool,
    pub gpu_count: u32,
    pub container_disk_gb: u32,
    pub storage: Storage,
    /// Sorted and de-duplicated, so that order in the config never shows as drift.
    pub ports: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub min_vcpu_count: Option<u32>,
    pub min_memory_gb: Option<u32>,
    pub spot: bool,
}

impl DesiredPod {
    /// The spec of a pod created for this config on one candidate.
    pub fn spec_on(&self, candidate: &Candidate) -> PodSpec {
        PodSpec {
            image: Some(self.image.clone()),
            gpu_id: Some(candidate.gpu_id.clone()),
            gpu_count: Some(self.gpu_count),
            datacenter_id: Some(candidate.datacenter_id.clone()),
            cloud_type: Some(candidate.cloud_type),
            container_disk_gb: Some(self.container_disk_gb),
            storage: Some(self.storage.clone()),
            ports: Some(self.ports.clone()),
        }
    }
}

/// One (datacenter, GPU) place a pod could be created, in preference order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Candidate {
    pub datacenter_id: String,
    pub gpu_id: String,
    pub cloud_type: CloudType,
    /// $/hr for the whole pod (per-GPU price times gpu_count), when known.
    pub price_per_hr: Option<f64>,
    pub stock: Stock,
    /// Why the catalog says no pod of this config can be made here (the
    /// planner's verdict); a create skips such a candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid: Option<InvalidCandidate>,
}

impl Candidate {
    /// Worth a create request: valid, and not known to be out of stock.
    pub fn is_worth_trying(&self) -> bool {
        self.invalid.is_none() && self.stock.is_available()
    }
}

/// Why a candidate cannot take this config's pod, whatever the stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InvalidCandidate {
    /// The catalog lists no GPU type with this id.
    UnknownGpu { suggestion: Option<String> },
    /// The catalog lists no datacenter with this id.
    UnknownDatacenter { suggestion: Option<String> },
    /// One pod of this GPU type has at most `max` GPUs on this cloud.
    TooManyGpus { requested: u32, max: u32 },
    /// The account has no network volume of this name.
    NoSuchVolume { name: String },
    /// The volume is in other datacenters (a pod mounts only its own).
    VolumeElsewhere {
        name: String,
        datacenters: Vec<String>,
    },
    /// Several volumes of this name in the datacenter: which one is unknown.
    AmbiguousVolume { name: String, ids: Vec<String> },
}

/// What the catalog says about a candidate's availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stock {
    Unknown,
    None,
    Low,
    Medium,
    High,
}

impl Stock {
    pub fn is_available(self) -> bool {
        !matches!(self, Stock::None)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stock::Unknown => "unknown",
            Stock::None => "none",
            Stock::Low => "low",
            Stock::Medium => "medium",
            Stock::High => "high",
        }
    }
}

/// One (datacenter, GPU) offer in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub datacenter_id: String,
    pub gpu_id: String,
    pub stock: Stock,
    /// $/hr for one GPU in the requested cloud, when known.
    pub price_per_gpu_hr: Option<f64>,
}

/// Stock and prices for some GPUs in some datacenters, and what exists at
/// all, as the provider reported them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub offers: Vec<Offer>,
    /// Every GPU type pods can have, when the provider lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_types: Option<Vec<GpuTypeLimit>>,
    /// Every datacenter id, when the provider lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenters: Option<Vec<String>>,
}

/// A GPU type of the catalog and the most GPUs one pod of it can have on
/// the catalog's cloud (the largest machine), when said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuTypeLimit {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u32>,
}

/// A network volume of the account: it lives in one datacenter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkVolume {
    pub id: String,
    pub name: String,
    pub datacenter_id: String,
}

/// The volume named `name` in `datacenter_id`, or why there is none to
/// mount: names need not be unique, so two in one datacenter are an
/// error, not a guess.
pub fn find_volume<'a>(
    volumes: &'a [NetworkVolume],
    name: &str,
    datacenter_id: &str,
) -> Result<&'a NetworkVolume, InvalidCandidate> {
    let named: Vec<&NetworkVolume> = volumes.iter().filter(|v| v.name == name).collect();
    let here: Vec<&NetworkVolume> = named
        .iter()
        .copied()
        .filter(|v| v.datacenter_id == datacenter_id)
        .collect();
    match here.as_slice() {
        [one] => Ok(one),
        [] if named.is_empty() => Err(InvalidCandidate::NoSuchVolume { name: name.into() }),
        [] => {
            let mut datacenters: Vec<String> =
                named.iter().map(|v| v.datacenter_id.clone()).collect();
            datacenters.sort();
            datacenters.dedup();
            Err(InvalidCandidate::VolumeElsewhere {
                name: name.into(),
                datacenters,
            })
        }
        many => Err(InvalidCandidate::AmbiguousVolume {
            name: name.into(),
            ids: many.iter().map(|v| v.id.clone()).collect(),
        }),
    }
}

impl Catalog {
    pub fn offer(&self, datacenter_id: &str, gpu_id: &str) -> Option<&Offer> {
        self.offers
            .iter()
            .find(|o| o.datacenter_id == datacenter_id && same_gpu(&o.gpu_id, gpu_id))
    }
}

/// Two GPU ids name the same type (ignoring case and repeated spaces, which
/// RunPod's older enums contain).
pub fn same_gpu(a: &str, b: &str) -> bool {
    gpu_key(a) == gpu_key(b)
}

/// A GPU id with case and spacing normalized, for comparisons.
pub fn gpu_key(id: &str) -> String {
    id.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

/// The half of the SSH key pair (`ssh.key_path`) that is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyPart {
    PrivateKey,
    /// No readable `<key>.pub`, and the private key would not give one
    /// (it has a passphrase, or is not a key).
    PublicKey,
}

/// How to reach a running pod's sshd directly (no proxy: rsync needs TCP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshEndpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
}

/// A simulated pod's disks on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalPodDirs {
    /// Kept across stop and start, like a volume disk.
    pub volume: std::path::PathBuf,
    /// Wiped on stop, like a container disk.
    pub container: std::path::PathBuf,
    /// The simulator's own directory: the pod's commands may write there
    /// (its guard stops the pod through it), and nowhere else but the two
    /// disks.
    #[serde(default)]
    pub world: std::path::PathBuf,
    /// Exists while the pod is stopped: nothing on it can be reached then,
    /// as a stopped RunPod pod has no SSH.
    #[serde(default)]
    pub stopped: std::path::PathBuf,
}

/// Why the simulator's commands run on this machine without the sandbox
/// that keeps them to its directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum NoSandbox {
    /// `RPD_SIM_SANDBOX=off`.
    TurnedOff,
    /// bubblewrap (`bwrap`) is not installed.
    NotInstalled,
    /// bwrap cannot make a namespace here (user namespaces turned off).
    Refused { error: String },
}

/// How a pod asks its provider to stop itself: the on-pod guard's one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodSelfStop {
    /// `POST <base_url>/v2/pods/<id>/action {"action":"stop"}` with the
    /// pod's own `RUNPOD_API_KEY`.
    Api { base_url: String },
    /// The simulator: a shell command that takes the pod id as its argument.
    Command(String),
}

/// How the job reaches a ready pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Ssh(SshEndpoint),
    Local(LocalPodDirs),
}

/// What the provider reports about one pod now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedPod {
    pub id: String,
    pub name: String,
    pub status: PodStatus,
    /// Fields the provider reported; absent ones are unknown, not empty.
    pub spec: PodSpec,
    /// Billed $/hr now (0 when stopped), when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_hr: Option<f64>,
    /// How to reach the pod's shell, once it can be reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// The provider offers SSH through its proxy (REST v2 `ssh.proxy`): an
    /// interactive shell only, no rsync, so no `access`. A running pod with
    /// this and no direct endpoint may never get one (COMMUNITY machines
    /// without a public IP).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ssh_proxy: bool,
    /// The running container lists its port mappings (REST v2
    /// `runtime.ports`) and none maps 22 to a reachable public port: its
    /// machine gives no direct SSH however long one waits (a COMMUNITY
    /// machine without a public IP). False while there is no runtime yet
    /// (the image still pulling), when a pod is only starting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_public_ssh: bool,
    /// The provider's own word for a status rpd does not know
    /// (`PodStatus::Unknown`): `"HIBERNATING"`, or none when it sent none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    /// Transitions the provider allows now (REST v2 `actions`), when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the pod last changed status (started, stopped), when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
}

/// Whose a pod is, as far as rpd can tell: what `status`, `ls-stale` and
/// `cleanup` may do to it depends on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ownership {
    /// A state file tracks it: the config's current pod, or one kept for
    /// forensics (`retained`).
    Tracked {
        config: std::path::PathBuf,
        state_file: std::path::PathBuf,
        retained: bool,
    },
    /// rpd made it (its name follows rpd's rule) but no state tracks it:
    /// the state was lost, moved or edited. `config` is the config whose
    /// state's lineage the name carries, when the registry knows it.
    Untracked {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<std::path::PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state_file: Option<std::path::PathBuf>,
    },
    /// rpd made it (its name follows rpd's rule) and no state rpd could
    /// read tracks it, but rpd cannot prove that none does (`why`): only
    /// `--all` reaches it. `config` as for `Untracked`.
    Unproven {
        why: Unprovable,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<std::path::PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state_file: Option<std::path::PathBuf>,
    },
    /// Not rpd's: made in the console or by another tool.
    NotRpds,
}

/// Why rpd cannot prove that no state tracks an rpd pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unprovable {
    /// A registered state cannot be read, or its file is gone (moved or
    /// deleted, rpd cannot tell): it may track any pod, an imported one
    /// included.
    StateUnread,
    /// No registered state has the lineage its name carries: a state
    /// registered elsewhere (another `RPD_DATA_DIR`, another machine) may
    /// track it.
    UnknownLineage,
}

impl Ownership {
    /// rpd made it (tracked or not).
    pub fn is_rpds(&self) -> bool {
        !matches!(self, Ownership::NotRpds)
    }
}

/// What RunPod billed one pod for one time bucket (REST v2
/// `GET /v2/billing/pods`), in US dollars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodBill {
    pub pod_id: String,
    /// The bucket, `[start, end)`.
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: chrono::DateTime<chrono::Utc>,
    pub total_usd: f64,
    pub gpu_usd: f64,
    pub cpu_usd: f64,
    /// Disk (container disk and volume); for a stopped pod, the volume.
    pub disk_usd: f64,
}

/// What RunPod billed one network volume for one time bucket (REST v2
/// `GET /v2/billing/network-volumes`), in US dollars. A network volume
/// bills on its own, with or without a pod: pod bills never include it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeBill {
    pub volume_id: String,
    /// The bucket, `[start, end)`.
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: chrono::DateTime<chrono::Utc>,
    pub total_usd: f64,
}

/// What to do with the pod once the job has finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleAction {
    /// Leave it running (it keeps billing).
    Preserve,
    /// Stop it and keep it for forensics; the next apply creates a fresh pod.
    Stop,
    /// Delete it.
    Delete,
    /// Stop it and keep it as the pod to resume next time (success only).
    Recycle,
}

impl LifecycleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleAction::Preserve => "preserve",
            LifecycleAction::Stop => "stop",
            LifecycleAction::Delete => "delete",
            LifecycleAction::Recycle => "recycle",
        }
    }
}

impl fmt::Display for LifecycleAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Lifecycle {
    pub on_success: LifecycleAction,
    pub on_failure: LifecycleAction,
    /// `lifecycle.on_busy_host` (rpd's own key), when the config sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_busy_host: Option<BusyHostPolicy>,
    /// `lifecycle.unattended_stop_after_sec` (rpd's own key): how long after
    /// the job ends the on-pod guard waits for an rpd before it stops the pod.
    #[serde(default = "default_unattended_stop_after_sec")]
    pub unattended_stop_after_sec: u32,
}

/// Ten minutes: long enough for a dropped connection to come back.
pub const DEFAULT_UNATTENDED_STOP_AFTER_SEC: u32 = 600;

fn default_unattended_stop_after_sec() -> u32 {
    DEFAULT_UNATTENDED_STOP_AFTER_SEC
}

impl Default for Lifecycle {
    /// runpod-deploy's defaults since 0.8.2.
    fn default() -> Self {
        Lifecycle {
            on_success: LifecycleAction::Delete,
            on_failure: LifecycleAction::Stop,
            on_busy_host: None,
            unattended_stop_after_sec: DEFAULT_UNATTENDED_STOP_AFTER_SEC,
        }
    }
}

/// What apply does when a paused pod cannot start because the GPU of its
/// host is taken (a stopped pod stays on its host). Replacing the pod loses
/// its volume, so it never happens without a candidate in stock.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BusyHostPolicy {
    /// Try the start again for a while (the GPU often frees); then replace
    /// the pod if a candidate has stock, else keep it paused and stop.
    #[default]
    Wait,
    /// Replace it at once if a candidate has stock, else keep it and stop.
    Recreate,
    /// Keep it paused and stop.
    Fail,
}

impl BusyHostPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            BusyHostPolicy::Wait => "wait",
            BusyHostPolicy::Recreate => "recreate",
            BusyHostPolicy::Fail => "fail",
        }
    }

    pub fn parse(text: &str) -> Option<BusyHostPolicy> {
        match text {
            "wait" => Some(BusyHostPolicy::Wait),
            "recreate" => Some(BusyHostPolicy::Recreate),
            "fail" => Some(BusyHostPolicy::Fail),
            _ => None,
        }
    }
}

impl fmt::Display for BusyHostPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a job ended, as far as the lifecycle is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// An amount of US dollars. Displays as people read money: `$0.44`,
/// `$12.30`, and enough digits that small amounts never show as `$0.00`
/// (`$0.0042`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Usd(pub f64);

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An empty sum of f64 is -0.0: money is never "$-0.00".
        let amount = if self.0 == 0.0 { 0.0 } else { self.0 };
        let text = if amount != 0.0 && amount.abs() < 0.01 {
            format!("${amount:.4}")
        } else {
            format!("${amount:.2}")
        };
        f.pad(&text)
    }
}

/// A whole number of seconds as people read it: `45s`, `3m05s`, `6h03m`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// Like [`duration`], with tenths of a second under ten seconds.
pub fn elapsed(d: std::time::Duration) -> String {
    if d.as_secs() < 10 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        duration(d.as_secs())
    }
}

#[cfg(test)]
mod words_tests {
    use super::*;

    #[test]
    fn money_reads_like_money() {
        assert_eq!(Usd(0.44).to_string(), "$0.44");
        assert_eq!(Usd(12.3).to_string(), "$12.30");
        assert_eq!(Usd(0.0042).to_string(), "$0.0042");
        assert_eq!(Usd(0.0).to_string(), "$0.00");
        // What summing no amounts gives.
        assert_eq!(Usd(std::iter::empty::<f64>().sum()).to_string(), "$0.00");
        assert_eq!(format!("{:>7}", Usd(1.0)), "  $1.00");
    }

    #[test]
    fn durations_read_like_durations() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(185), "3m05s");
        assert_eq!(duration(21818), "6h03m");
        assert_eq!(elapsed(std::time::Duration::from_millis(4300)), "4.3s");
        assert_eq!(elapsed(std::time::Duration::from_secs(75)), "1m15s");
    }
}
