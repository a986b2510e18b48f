//! What the planner takes in: one complete [`PlanningInput`], built by the
//! refresh (commands/refresh.rs). Every fact a decision depends on is a field
//! here, so each decision is unit-testable without a provider, a state file
//! or a terminal.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{
    BusyHostPolicy, Catalog, CloudType, DesiredPod, InPlaceUpdates, KeyPart, Lifecycle,
    NetworkVolume, ObservedPod, PodStatus,
};
use crate::state::{Origin, State};

/// What the provider says about one recorded pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Observation {
    /// Not found (or TERMINATED): the pod no longer exists.
    Gone,
    Pod(Box<ObservedPod>),
}

impl Observation {
    pub fn pod(&self) -> Option<&ObservedPod> {
        match self {
            Observation::Pod(p) if p.status != PodStatus::Terminated => Some(p),
            _ => None,
        }
    }
}

/// Everything the refresh found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observations {
    /// The state's current pod, keyed by id (also retained pods).
    pub pods: BTreeMap<String, Observation>,
    /// Pods found under the name of an interrupted create.
    pub pending_matches: Vec<ObservedPod>,
    /// The job the state records as launched was collected already: its
    /// run directory says so (the state write after its pull failed).
    #[serde(default)]
    pub left_job_collected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Apply,
    Destroy,
    /// `rpd cleanup`: stopped (or named) pods across configs.
    Cleanup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    pub mode: Mode,
    /// `--replace`: a fresh pod whatever the current one looks like.
    pub replace: bool,
    /// `--fallback-cloud-type`: also try each candidate on this cloud, and
    /// accept a pod on it (runpod-deploy's flag).
    pub fallback_cloud: Option<CloudType>,
    /// How long a created pod may run with proxy-only SSH before apply
    /// deletes it and tries the next candidate (said in the plan); none
    /// when the provider does not report the proxy.
    pub direct_ssh_grace: Option<std::time::Duration>,
    /// `--on-busy-host`, when given (it wins over the config's key).
    pub on_busy_host: Option<BusyHostPolicy>,
    /// How long `wait` tries the start again.
    pub busy_host_wait: std::time::Duration,
}

impl PlanOptions {
    /// Options for `mode` with nothing asked on the command line.
    pub fn new(mode: Mode) -> PlanOptions {
        PlanOptions {
            mode,
            replace: false,
            fallback_cloud: None,
            direct_ssh_grace: None,
            on_busy_host: None,
            busy_host_wait: DEFAULT_BUSY_HOST_WAIT,
        }
    }
}

/// How long `--on-busy-host wait` tries the start again by default: a
/// host's GPU is often free again within a couple of minutes.
pub const DEFAULT_BUSY_HOST_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// A local input the job needs that is missing or unusable: found before a
/// pod bills (by the refresh, and again right before apply creates or
/// resumes one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LocalProblem {
    StagingSourceMissing {
        label: String,
        source: String,
    },
    SecretEnvUnset {
        secret: String,
        variable: String,
    },
    SecretFileUnreadable {
        secret: String,
        path: PathBuf,
        error: String,
    },
    RequiredPathMissing {
        path: PathBuf,
    },
    /// The run directory or an artifact's destination cannot be written.
    NotWritable {
        what: LocalPlace,
        path: PathBuf,
        /// The part of the path that is in the way.
        blocker: PathBuf,
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "place", rename_all = "snake_case")]
pub enum LocalPlace {
    RunDirectory,
    Artifact { label: String },
}

/// A place on this machine a config's run writes: the run directory, or
/// an artifact's destination (a folder, or one file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalWrite {
    pub what: LocalPlace,
    pub path: PathBuf,
    /// A folder the pull fills (and, with `delete`, empties of the rest),
    /// not one file.
    pub folder: bool,
}

/// What the job will do, for the plan's steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobOutline {
    pub setup: usize,
    pub secrets: usize,
    pub staging: usize,
    pub preflight: usize,
    pub artifacts: usize,
    pub script_path: String,
    pub log_path: String,
    pub timeout_sec: u64,
    /// Whether `timeout_sec` is a max runtime (else the cost cap at the
    /// assumed rate).
    pub timeout_is_max_runtime: bool,
    pub ssh_ready_timeout_sec: u32,
    pub volume_mount: String,
}

/// The config's side: what the user asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub job_name: String,
    pub pod: DesiredPod,
    pub lifecycle: Lifecycle,
    pub job: JobOutline,
}

/// The state file as read, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub state: State,
    pub origin: Origin,
    /// The state file's path, for the report.
    pub path: PathBuf,
}

/// Stock and prices, or why they are unknown.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogRead {
    /// Not asked for: a destroy needs no catalog.
    NotRead,
    Read(Catalog),
    /// The provider could not tell; stock and prices are unknown.
    Unreadable {
        error: String,
    },
}

impl CatalogRead {
    pub fn catalog(&self) -> Option<&Catalog> {
        match self {
            CatalogRead::Read(catalog) => Some(catalog),
            CatalogRead::NotRead | CatalogRead::Unreadable { .. } => None,
        }
    }
}

/// The account's network volumes, for a config that mounts one.
#[derive(Debug, Clone, PartialEq)]
pub enum VolumesRead {
    /// Not needed (no network volume) or not asked for (a destroy).
    NotRead,
    Read(Vec<NetworkVolume>),
    /// The provider could not list them; the volume is checked at create.
    Unreadable {
        error: String,
    },
}

/// The run named in this config's lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LockHolder {
    pub operation: String,
    pub who: String,
    pub since: DateTime<Utc>,
    pub pid: u32,
    pub host: String,
}

/// A lock file another run left on this config's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockSeen {
    /// That run is live: the plan may change under it.
    Held(LockHolder),
    /// That run is gone (crashed or killed): the next apply takes it over.
    LeftByGoneRun(LockHolder),
}

/// The SSH key a real pod is reached with, or its public half (sent to
/// the pod as `PUBLIC_KEY`), which does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MissingSshKey {
    pub key_path: PathBuf,
    /// The config that names it (`ssh.key_path`).
    pub config_path: PathBuf,
    pub missing: KeyPart,
}

/// Everything one plan is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanningInput {
    pub desired: Desired,
    /// The state file, or none when the config has never been applied.
    pub recorded: Option<Recorded>,
    pub observed: Observations,
    pub catalog: CatalogRead,
    /// Stock and prices on the fallback cloud, when there is one and it
    /// could be read.
    pub fallback_catalog: Option<Catalog>,
    pub network_volumes: VolumesRead,
    /// Another run's lock on the state (never this run's own).
    pub lock: Option<LockSeen>,
    /// The fingerprint of the API key the provider uses now (see the
    /// state's `api_key_fingerprint`); none on the simulator.
    pub api_key_fingerprint: Option<String>,
    /// Set when the provider needs an SSH key pair and half of it is
    /// missing: an apply would create a pod it cannot reach.
    pub missing_ssh_key: Option<MissingSshKey>,
    /// Local inputs the job cannot run with (apply only).
    pub local_problems: Vec<LocalProblem>,
    /// The simulator runs the job's commands on this machine without a
    /// sandbox, and why (none on a real provider, or in the sandbox).
    pub unsandboxed: Option<crate::model::NoSandbox>,
    /// Whether the provider can change a pod in place; without, every
    /// change to the pod replaces it.
    pub in_place_updates: InPlaceUpdates,
    /// When the refresh ran: how long a left job's pod has billed is
    /// counted to here.
    pub now: DateTime<Utc>,
    pub options: PlanOptions,
}

impl PlanningInput {
    pub fn state(&self) -> Option<&State> {
        self.recorded.as_ref().map(|r| &r.state)
    }
}
