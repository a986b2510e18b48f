//! What the planner reports beside the steps: the pod's change, drift,
//! warnings, notes, bookkeeping, the summary and the cost. Typed data only:
//! the sentences are in `render::words`, shared by every renderer.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::input::{LocalPlace, LocalProblem, LockHolder, MissingSshKey};
use crate::model::{CloudType, InPlaceUpdates, Outcome, Ownership, PodStatus, Storage};

/// One attribute of a pod, before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FieldChange {
    pub field: String,
    /// `None`: nothing before (a create); absent from JSON, where `null`
    /// is [`FieldValue::Absent`].
    #[serde(
        rename = "before",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub old: Option<FieldValue>,
    /// `None`: unknown until apply, or gone (a delete); absent from JSON.
    #[serde(
        rename = "after",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub new: Option<FieldValue>,
    pub forces_replacement: bool,
    /// What to know about the new value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<FieldNote>,
}

/// A key that is present holds a value, `null` included (`Absent`); only a
/// missing key is `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<FieldValue>, D::Error> {
    FieldValue::deserialize(d).map(Some)
}

/// An attribute's value; serializes as the plain JSON value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FieldValue {
    Text(String),
    Number(u64),
    List(Vec<String>),
    /// Any of these fits (a preference list of the config).
    OneOf {
        one_of: Vec<String>,
    },
    /// The pod has no such attribute (a volume name on a pod without a
    /// network volume); `null` in JSON.
    Absent,
}

impl FieldValue {
    pub fn text(text: &str) -> FieldValue {
        FieldValue::Text(text.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldNote {
    /// The first candidate with stock; the create may land on a later one.
    FirstWithStock,
    /// The pod was started outside rpd and is billing.
    StartedOutsideRpd,
    /// A volume cannot shrink: the new pod's volume starts empty.
    VolumeShrinkLosesData,
}

/// Why a step is taken, or why the pod changes as it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    NoPodRecorded,
    DeletedOutsideRpd {
        pod_id: String,
    },
    ReplaceRequested,
    InError {
        pod_id: String,
    },
    FieldsCannotChange {
        fields: Vec<String>,
    },
    /// These fields could change in place, but not with this provider.
    ProviderCannotUpdate {
        fields: Vec<String>,
        because: InPlaceUpdates,
    },
    /// Every changed field can change on the existing pod.
    UpdateInPlace {
        pod_id: String,
        fields: Vec<String>,
    },
    Replaces {
        pod_id: String,
    },
    ResumePaused {
        pod_id: String,
    },
    AlreadyRunning {
        pod_id: String,
    },
    /// A pod of an interrupted create's name that rpd does not track.
    UntrackedFromInterruptedCreate {
        name: String,
    },
    FoundByInterruptedCreateName {
        name: String,
    },
    InterruptedCreateSettled,
    /// The live pod says whether an update whose answer was lost happened.
    InterruptedUpdateSettled,
    SecretValuesHidden,
    IncrementalStaging,
    /// Lifecycle `recycle`.
    KeptToResume,
    /// Lifecycle `stop`.
    KeptForForensics,
    /// Lifecycle `preserve`.
    KeepsBilling,
    RetainedPodGone {
        pod_id: String,
    },
    DestroyRequested,
    NoStateRecorded,
    AlreadyDeletedOutsideRpd {
        pod_id: String,
    },
    /// A retained pod (`because`: why it was kept, from the state).
    Retained {
        since: DateTime<Utc>,
        because: String,
        status: PodStatus,
    },
    CreatedByInterruptedApply,
    NothingLeftToTrack,
    /// A pod `rpd cleanup` acts on: whose it is, how long it has been
    /// stopped (when known) and what its volume bills meanwhile.
    Cleanup {
        name: String,
        owner: Ownership,
        status: PodStatus,
        stopped_days: Option<u64>,
        volume_gb: Option<u32>,
        per_day: f64,
    },
    NothingToCleanUp,
}

/// Something the user should know before applying.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    FallbackIsOwnCloud {
        cloud: CloudType,
    },
    FallbackWithNetworkVolume,
    /// `--fallback-cloud-type` with `cloud_type: ALL`, which tries both.
    FallbackWithAllClouds {
        cloud: CloudType,
    },
    NoStock,
    InterruptedCreateAdopted {
        name: String,
        started_at: DateTime<Utc>,
        pod_id: String,
    },
    /// `lifecycle.on_*: preserve` leaves the pod billing.
    PreserveKeepsBilling {
        when: Outcome,
        per_hr: Option<f64>,
    },
    CatalogUnreadable {
        error: String,
    },
    /// The network volumes could not be listed: checked only at create.
    VolumesUnreadable {
        error: String,
    },
    LockHeld(LockHolder),
    /// An apply that was killed left its job on the pod: finished or still
    /// running, its log is only there.
    JobLeftOnPod {
        pod_id: String,
        launched_at: DateTime<Utc>,
        /// Where the next apply pulls its log.
        run_dir: std::path::PathBuf,
        /// The pod runs (and bills) now; `billed_sec` since the launch.
        running: bool,
        billed_sec: u64,
        per_hr: Option<f64>,
        /// The plan deletes the pod: the log goes with it.
        lost: bool,
    },
    /// `cleanup --all` deletes pods rpd did not create.
    DeletesPodsNotRpds {
        count: usize,
    },
    /// The simulator runs the job's commands on this machine without the
    /// sandbox that keeps them to its directory.
    SimulatorUnsandboxed {
        #[serde(flatten)]
        why: crate::model::NoSandbox,
    },
}

/// Why the plan cannot be carried out: `rpd plan` fails with these, and
/// `rpd apply` stops before changing anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanError {
    /// A pod must be created and the catalog rules out every candidate
    /// (each candidate says why).
    NoValidCandidate { candidates: usize },
    /// The SSH key pair rpd reaches the pod with is incomplete.
    SshKeyMissing(MissingSshKey),
    /// The state was made with another API key, and pods it records answer
    /// 404 ("not found or not accessible to the caller"): they may still
    /// exist, and bill, on the other key's account.
    OtherApiKey {
        recorded: String,
        current: String,
        /// Recorded pods the current key cannot see.
        pods: Vec<String>,
        /// An interrupted create's name the current key finds no pod of.
        pending_create: Option<String>,
        state_file: std::path::PathBuf,
    },
    /// Two configs of one apply would pull into one local folder (one
    /// the other's, or one inside the other): one pull would delete or
    /// overwrite the other's results.
    SharedLocalFolder {
        what: LocalPlace,
        path: std::path::PathBuf,
        /// Every place of another config it overlaps.
        with: Vec<SharedWith>,
    },
    /// A cleanup would delete (or stop) a pod holding a job that no rpd
    /// collected: its log, artifacts and exit status are only there.
    /// `--force` cleans it up anyway (the plan then warns).
    UncollectedJob {
        pod_id: String,
        config: std::path::PathBuf,
        launched_at: DateTime<Utc>,
        /// A delete (else a stop, which ends the job if it still runs).
        delete: bool,
    },
    /// A pod the plan would act on reports a status rpd does not know
    /// (`status`: the provider's word, if it sent one): rpd cannot tell
    /// whether it runs or bills, so it changes nothing around it.
    UnknownPodStatus {
        pod_id: String,
        status: Option<String>,
    },
    /// A local input the job cannot run with (serialized as the problem
    /// itself, with its own `kind`).
    #[serde(untagged)]
    LocalInput(LocalProblem),
}

/// Another config's local place that one of this config's overlaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SharedWith {
    pub config: String,
    pub what: LocalPlace,
    pub path: std::path::PathBuf,
    /// How this config's place overlaps it.
    pub overlap: FolderOverlap,
}

/// How two local places overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FolderOverlap {
    /// The same place.
    Same,
    /// This one is inside the other (a folder).
    Inside,
    /// This one (a folder) holds the other.
    Holds,
}

/// Worth knowing, not a problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Note {
    /// A resumed pod keeps its volume; its container disk was wiped.
    ResumeWipesContainerDisk {
        volume_mount: String,
        setup_runs_again: bool,
    },
    /// An update in place restarts the container: the volume is kept, the
    /// container disk is wiped.
    UpdateRestartsContainer {
        volume_mount: String,
        new_image: bool,
        setup_runs_again: bool,
    },
    /// The state file is runpod-deploy's; apply rewrites it in rpd's format.
    RunpodDeployPointer { state_file: std::path::PathBuf },
    /// A lock left by a run that is gone: the next apply takes it over.
    StaleLock(LockHolder),
    /// The on-pod guard that starts with the job stops the pod by itself:
    /// at the job's deadline (about `deadline_at` if it starts now), or
    /// `grace_sec` after the job ends while no rpd is attached.
    GuardStopsPod {
        deadline_at: DateTime<Utc>,
        max_runtime: bool,
        grace_sec: u64,
    },
    /// A job an earlier apply launched (detached, or killed) is on the
    /// pod: apply attaches to it instead of running the job again.
    AttachesToLeftJob {
        pod_id: String,
        launched_at: DateTime<Utc>,
        detached: bool,
    },
    /// The config changed (`fields`), but a job an earlier apply launched
    /// on the pod has not been collected: this apply collects it on the
    /// pod as it is, and the next one makes the change (updating or
    /// replacing the pod would end the job, or delete its results).
    ChangeWaitsForJob { pod_id: String, fields: Vec<String> },
    /// Candidates on COMMUNITY, whose machines may offer SSH through
    /// RunPod's proxy only: such a pod is given up after `grace_sec`.
    CommunityMayLackDirectSsh { grace_sec: u64 },
    /// The paused pod a resume wakes: since when it waited, and what its
    /// volume bills while paused.
    PausedFor {
        pod_id: String,
        since: DateTime<Utc>,
        days: u64,
        per_day: f64,
        per_month: f64,
    },
    /// Stopped pods a cleanup leaves alone, and why.
    CleanupLeftAlone { count: usize, why: LeftAlone },
}

/// Why a cleanup leaves a stopped pod alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "because", rename_all = "snake_case")]
pub enum LeftAlone {
    /// Not rpd's (`--all` includes them).
    NotRpds,
    /// rpd's but tracked by no state (`--untracked` includes them).
    Untracked,
    /// rpd's, tracked by no state rpd read, but not provably untracked
    /// (`--all` includes them).
    Unproven { why: crate::model::Unprovable },
    /// Its stop time is unknown, so no age threshold can match it.
    UnknownStopTime,
    /// Stopped for less than the threshold.
    StoppedRecently { older_than_days: u64 },
    /// Its status is one rpd does not know: it may run or bill, so rpd
    /// neither deletes nor stops it on a guess.
    UnknownStatus,
}

/// State bookkeeping applying would do, with no provider call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StateChange {
    RecordAdoptedPod {
        pod_id: String,
    },
    /// No untracked pod has the interrupted create's name.
    ForgetInterruptedCreate {
        name: String,
    },
    ForgetRetainedPod {
        pod_id: String,
    },
    /// The live pod has an update whose answer was lost: record it.
    RecordInterruptedUpdate {
        pod_id: String,
    },
    /// The live pod does not have it: forget it (the plan compares afresh).
    ForgetInterruptedUpdate {
        pod_id: String,
    },
    /// The job the state records as launched was collected by an earlier
    /// apply (into `run_dir`, which says so) whose state write failed.
    ForgetCollectedJob {
        pod_id: String,
        launched_at: DateTime<Utc>,
        run_dir: std::path::PathBuf,
    },
    ForgetPod {
        pod_id: String,
    },
    RemoveStateFile,
    /// Drop a pod a cleanup deleted from the state file that tracks it.
    ForgetPodIn {
        pod_id: String,
        state_file: std::path::PathBuf,
    },
    /// A runpod-deploy pointer whose pod a cleanup deleted goes, as
    /// runpod-deploy's own cleanup unlinks it.
    RemovePointer {
        state_file: std::path::PathBuf,
    },
}

/// The pod-level headline of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PodAction {
    Create,
    Replace,
    ReplaceRequested,
    Resume,
    Reuse,
    /// Changed in place (then resumed, if it was paused).
    Update,
    Destroy,
    /// Nothing to do to the pod (destroy with nothing recorded).
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PodChange {
    pub action: PodAction,
    pub pod_id: Option<String>,
    /// The status now, for resume/reuse/update/destroy.
    pub status: Option<PodStatus>,
    /// For a create: every attribute; for a replace or an update: what
    /// changes (a replace marks what forces it).
    pub fields: Vec<FieldChange>,
    /// Attributes shown unchanged, hidden in the text plan.
    pub unchanged: usize,
    pub reason: Reason,
    /// The storage of the pod a replace or destroy deletes, when known:
    /// what goes with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_storage: Option<Storage>,
}

impl PodChange {
    /// A change with no attributes shown.
    pub fn bare(action: PodAction, pod_id: Option<String>, reason: Reason) -> PodChange {
        PodChange {
            action,
            pod_id,
            status: None,
            fields: Vec::new(),
            unchanged: 0,
            reason,
            deleted_storage: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    Deleted {
        pod_id: String,
    },
    Changed {
        pod_id: String,
        fields: Vec<FieldChange>,
    },
}

/// The counts of the frozen summary line (README "Output contract").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub create: usize,
    pub resume: usize,
    pub destroy: usize,
    pub stop: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CostReport {
    /// $/hr of the pod while it runs the job, when known.
    pub running_per_hr: Option<f64>,
    /// $/month the pod costs while stopped after the job (recycle, stop).
    pub stopped_per_month: Option<f64>,
    /// The same per day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_per_day: Option<f64>,
    pub volume_gb: Option<u32>,
    /// What a cleanup stops paying for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frees: Option<Freed>,
}

/// Billing a cleanup ends: stopped volumes deleted, running pods stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Freed {
    /// Volumes of stopped pods that are deleted, $/month and $/day.
    pub storage_per_month: f64,
    pub storage_per_day: f64,
    /// Running pods that are stopped or deleted, $/hr.
    pub running_per_hr: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RetainedNote {
    pub pod_id: String,
    pub status: Option<PodStatus>,
    /// Why it was kept, as the state records it (`on_failure: stop`).
    pub reason: String,
    pub per_month: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanReport {
    /// Non-empty: the plan cannot be carried out (see [`PlanError`]).
    pub errors: Vec<PlanError>,
    pub drift: Vec<Drift>,
    pub pod: PodChange,
    pub retained: Vec<RetainedNote>,
    pub warnings: Vec<Warning>,
    pub notes: Vec<Note>,
    pub summary: Summary,
    /// Applying would call the provider to change a pod or run the job.
    pub has_pod_changes: bool,
    /// Pods change beyond the routine run (resume or reuse, the job, the
    /// lifecycle): a pod is created, updated in place, replaced or
    /// deleted, or changed outside rpd. What `plan --detailed-exitcode` reports as 2.
    pub changes_beyond_routine: bool,
    /// State bookkeeping applying would do (reported, never exit 2).
    pub state_only_changes: Vec<StateChange>,
    pub cost: CostReport,
}
