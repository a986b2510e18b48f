//! What a command is asked to do, as plain values: `cli.rs` resolves the
//! command line into an [`Invocation`] once (defaults applied, clap's types
//! mapped to the model's), and the commands read only these. Resolving never
//! fails: checks that can fail (a `--var`, a vars file, a sim `HOST:PORT`)
//! stay in the command, so their errors come in the order they always did.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::{BusyHostPolicy, CloudType};

/// One run of rpd: the settings every command shares and the command's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub global: GlobalSettings,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Plan(PlanSettings),
    Apply(ApplySettings),
    Attach(AttachSettings),
    Destroy(DestroySettings),
    Validate(ValidateSettings),
    Logs(LogsSettings),
    ForceUnlock(ForceUnlockSettings),
    ShowState(ConfigSettings),
    ReassignState(ReassignSettings),
    Sim(SimAction),
    Show(ShowSettings),
    Diff(DiffSettings),
    Schema(SchemaKind),
    /// Print a completion script for this shell (clap's name for it);
    /// `main` prints it: it needs the command line's definition.
    Completions(String),
    Status(ReportSettings),
    LsStale(LsStaleSettings),
    Cleanup(CleanupSettings),
    Runs(ReportSettings),
    /// `rpd runs show RUN`.
    RunsShow(RunsShowSettings),
    Cost(CostSettings),
    Advise(ReportSettings),
    Refresh(RefreshSettings),
    /// `rpd import CONFIG POD_ID`.
    Import(ImportSettings),
    /// `rpd state rm CONFIG [POD_ID]`.
    ForgetPod(ImportSettings),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalSettings {
    /// The control plane's name (`runpod`, `runpodctl`, `sim`); an unknown
    /// name is refused when a command asks for the provider.
    pub provider: String,
    /// `--provider` or `RPD_PROVIDER` named it.
    pub provider_given: bool,
    pub colour: ColourChoice,
}

/// Whether output may be coloured: never (`--no-color`, `NO_COLOR`), or on
/// the streams that are terminals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourChoice {
    Never,
    OnTerminals,
}

impl ColourChoice {
    /// Whether a stream gets colour.
    pub fn for_stream(self, is_terminal: bool) -> bool {
        self == ColourChoice::OnTerminals && is_terminal
    }
}

/// Template variables from the command line. Kept as given: reading the
/// vars file is I/O, and its error comes before a malformed `--var`'s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VarSettings {
    /// `--var KEY=VALUE`, in order (later wins).
    pub assignments: Vec<String>,
    pub vars_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockSettings {
    /// How long to wait for another rpd holding a config's lock.
    pub timeout: Duration,
}

/// Plan options from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanFlags {
    pub replace: bool,
    pub fallback_cloud: Option<CloudType>,
    /// `--on-busy-host`: what a resume does when the host's GPU is taken.
    pub on_busy_host: Option<BusyHostPolicy>,
    /// `--replace-without-stock`: delete a pod to replace it even when no
    /// candidate has stock.
    pub replace_without_stock: bool,
    /// `RPD_BUSY_HOST_WAIT`, when set (read by the command).
    pub busy_host_wait: Option<Duration>,
    /// How long a created pod may run with SSH through RunPod's proxy only
    /// before it is deleted and the next candidate tried.
    pub direct_ssh_grace: Duration,
}

pub use crate::apply::DEFAULT_DIRECT_SSH_GRACE;

impl Default for PlanFlags {
    fn default() -> Self {
        PlanFlags {
            replace: false,
            fallback_cloud: None,
            on_busy_host: None,
            replace_without_stock: false,
            busy_host_wait: None,
            direct_ssh_grace: DEFAULT_DIRECT_SSH_GRACE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanSettings {
    pub configs: Vec<PathBuf>,
    pub vars: VarSettings,
    pub flags: PlanFlags,
    /// Exit 2 when applying would change a pod or run the job.
    pub detailed_exitcode: bool,
    pub format: OutputFormat,
    /// `-o FILE`: save the plan for `rpd apply FILE`.
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApplySettings {
    pub configs: Vec<PathBuf>,
    pub vars: VarSettings,
    pub flags: PlanFlags,
    pub auto_approve: bool,
    /// `--json`: NDJSON events on stdout instead of the human plan and summary.
    pub json: bool,
    /// `--detach`: return once the job is launched.
    pub detach: bool,
    pub lock: LockSettings,
}

/// `rpd attach`: follow or collect the job an earlier apply left, then the
/// lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachSettings {
    pub configs: Vec<PathBuf>,
    pub vars: VarSettings,
    pub lock: LockSettings,
}

/// `rpd show PLAN`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowSettings {
    pub plan: PathBuf,
    pub format: OutputFormat,
}

/// `rpd diff OLD NEW` (`-` is standard input).
#[derive(Debug, Clone, PartialEq)]
pub struct DiffSettings {
    pub old: PathBuf,
    pub new: PathBuf,
    pub vars: VarSettings,
    pub format: OutputFormat,
    pub detailed_exitcode: bool,
}

/// Which JSON Schema `rpd schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    Config,
    Plan,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DestroySettings {
    pub configs: Vec<PathBuf>,
    pub vars: VarSettings,
    pub auto_approve: bool,
    pub lock: LockSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidateSettings {
    pub configs: Vec<PathBuf>,
    pub vars: VarSettings,
}

/// One config and its variables.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigSettings {
    pub config: PathBuf,
    pub vars: VarSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogsSettings {
    pub target: ConfigSettings,
    /// Keep following the log as it grows.
    pub follow: bool,
    /// How many lines from the end to show first.
    pub lines: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForceUnlockSettings {
    pub lock_id: String,
    pub target: ConfigSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReassignSettings {
    pub target: ConfigSettings,
    pub lock: LockSettings,
}

/// `rpd status`, `runs`, `advise`: the given configs, else (status, runs)
/// every config in the registry; a table or JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSettings {
    pub configs: Vec<PathBuf>,
    pub vars: VarSettings,
    pub json: bool,
}

/// `rpd runs show RUN`: one run's summary, findings and picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunsShowSettings {
    /// A run directory's path, or its name as `rpd runs` lists it (or the
    /// start of it, such as its stamp).
    pub run: String,
    pub json: bool,
}

/// `rpd ls-stale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LsStaleSettings {
    /// The whole account, not only rpd's pods.
    pub all: bool,
    /// Stopped at least this many whole days ago (rounded up).
    pub older_than_days: Option<u64>,
    pub json: bool,
}

/// What `rpd cleanup --state-file` does to the pods a state file tracks
/// (runpod-deploy's `--mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupMode {
    Delete,
    Stop,
    Preserve,
}

/// Which pods `rpd cleanup` looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanupTarget {
    /// The pods these state files track.
    StateFiles {
        paths: Vec<PathBuf>,
        mode: CleanupMode,
    },
    /// Stopped pods (`--all-stopped`, `--stale`).
    Stopped {
        older_than_days: Option<u64>,
        untracked: bool,
        all: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupSettings {
    pub target: CleanupTarget,
    /// Also pods holding a job no rpd collected.
    pub force: bool,
    pub dry_run: bool,
    pub auto_approve: bool,
    pub lock: LockSettings,
}

/// `rpd refresh`: record what changed outside rpd, act on nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshSettings {
    pub configs: Vec<PathBuf>,
    pub vars: VarSettings,
    pub lock: LockSettings,
}

/// A config and one of its pods (`import`; `state rm`, where the pod is
/// the current one when not given).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSettings {
    pub target: ConfigSettings,
    pub pod_id: Option<String>,
    pub lock: LockSettings,
}

/// `rpd cost`: the given configs' spend, else every registered config's.
#[derive(Debug, Clone, PartialEq)]
pub struct CostSettings {
    pub configs: Vec<PathBuf>,
    pub vars: VarSettings,
    /// Over the last this many days.
    pub since_days: u64,
    pub json: bool,
}

/// `rpd sim ...`: an out-of-band change to the simulator, or a look at it.
#[derive(Debug, Clone, PartialEq)]
pub enum SimAction {
    Pods {
        json: bool,
    },
    Calls {
        json: bool,
        reset: bool,
    },
    Stop {
        pod_id: String,
    },
    Start {
        pod_id: String,
    },
    Terminate {
        pod_id: String,
    },
    /// `KEY=VALUE` changes, checked when applied.
    Set {
        pod_id: String,
        changes: Vec<String>,
    },
    Stock {
        datacenter: String,
        gpu: String,
        count: u32,
        cloud: CloudType,
    },
    /// The next `count` starts of the pod fail: its host has no free GPU.
    FailNextStart {
        pod_id: String,
        count: u32,
    },
    FailStop {
        pod_id: String,
        count: u32,
    },
    Latency {
        ms: u64,
    },
    Boot {
        cold_ms: u64,
        warm_ms: u64,
    },
    /// Reads of a created pod that see its image still pulling.
    Pull {
        reads: u32,
    },
    /// Calls a minute and an hour; no minute quota: no limit.
    RateLimit {
        per_minute: Option<u32>,
        per_hour: Option<u32>,
    },
    Volume {
        name: String,
        datacenter: String,
        size_gb: u32,
    },
    /// Reach running pods over SSH at `HOST:PORT` as `user`; no endpoint:
    /// through local processes again.
    Ssh {
        endpoint: Option<String>,
        user: String,
    },
    Reset,
}
