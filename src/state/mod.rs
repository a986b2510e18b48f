//! The state file: what rpd recorded about the pods it created for one config.
//!
//! JSON with `format_version`, `lineage`, `serial`, the owning config, the
//! current pod and the spec it was created with, and pods retained for
//! forensics. It also carries runpod-deploy's pointer keys (`pod_id`,
//! `gpu_id`, `image`, `datacenter_id`) so that either tool can read it, and a
//! runpod-deploy pointer file is adopted as a state without a recorded spec.
//!
//! Writes are atomic (temp file, fsync, rename, fsync of the directory) and
//! keep the previous version as `<state>.backup`.

mod history;
mod lock;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use history::PodHistoryEntry;
pub use lock::{
    Junk, LockError, LockGuard, LockInfo, LockStatus, Released, acquire, force_unlock, lock_path,
    lock_status, parse_lock, read_lock,
};

use crate::model::{PodSpec, PodStatus};

pub const FORMAT_VERSION: u32 = 1;

/// The config a state file belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub config: PathBuf,
    pub job_name: String,
}

/// The pod rpd runs this config's job on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodRecord {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// What the pod was created with (partial for a runpod-deploy pointer).
    #[serde(default)]
    pub spec: PodSpec,
    /// The status rpd last saw or left the pod in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PodStatus>,
    /// Since when it has that status, as far as rpd knows (set by
    /// [`PodRecord::set_status`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// Which provider the pod lives on (`sim`, `runpod`, `runpodctl`); absent
    /// for a runpod-deploy pointer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// A pod kept after a job for forensics (`stop`, `preserve`): no longer the
/// pod rpd runs on, never forgotten until deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetainedPod {
    #[serde(flatten)]
    pub pod: PodRecord,
    pub reason: String,
    pub since: DateTime<Utc>,
}

/// A create that was sent but whose answer was not recorded (crash, lost
/// response): the pod may exist under this name and must be found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCreate {
    pub name: String,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// An update in place that was sent but whose answer was not recorded:
/// the pod may or may not have it. The next plan reads the live pod to
/// tell, and never sends it again blindly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingUpdate {
    pub pod_id: String,
    pub update: crate::model::PodUpdate,
    pub started_at: DateTime<Utc>,
}

/// A job rpd launched and has not pulled back yet: recorded at launch,
/// cleared after the pull. Still set when the next apply starts, it is a
/// job an interrupted rpd left on the pod, whose log is only there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchedJob {
    pub pod_id: String,
    pub launched_at: DateTime<Utc>,
    /// The run directory its log and exit status belong in.
    pub run_dir: PathBuf,
    pub log_path: String,
    /// The run's tag, which names its exit file on the pod: with it, the
    /// next apply (or `rpd attach`) follows or collects this very job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// When its budget runs out (the on-pod guard stops it then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_at: Option<DateTime<Utc>>,
    /// Launched by `rpd apply --detach`, which left it on purpose.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub detached: bool,
}

impl LaunchedJob {
    /// The file in the job's run directory that says it was collected (its
    /// log and artifacts pulled, its outcome fixed): written before the
    /// state forgets the job, it keeps a state whose write failed from
    /// passing the job for one still to collect. Only a tagged job has one.
    pub fn collected_marker(&self) -> Option<PathBuf> {
        let tag = self.tag.as_ref()?;
        Some(self.run_dir.join(format!(".rpd-collected-{tag}")))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    pub lineage: Uuid,
    pub serial: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retained: Vec<RetainedPod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_create: Option<PendingCreate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_update: Option<PendingUpdate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launched_job: Option<LaunchedJob>,
    /// The pod rpd is setting up for a job (from the moment it is ready
    /// until the job's end), watched by the on-pod guard that starts before
    /// setup: found stopped, it was stopped by that guard when rpd went
    /// away (rpd's own doing, not a change outside rpd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guarded_pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// A short hash of the API key the pods were made with (never the key):
    /// to another key RunPod answers 404 for them, which is not "gone".
    /// Absent in states from before it was recorded, or from the simulator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_fingerprint: Option<String>,
    /// Every pod the state ever tracked (see `history`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_history: Vec<PodHistoryEntry>,
    /// runpod-deploy's pointer keys, mirrored from `pod` on every write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenter_id: Option<String>,
}

/// How a state was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Written by rpd.
    Rpd,
    /// A runpod-deploy pointer file, adopted.
    RunpodDeploy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub state: State,
    pub origin: Origin,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: crate::input::InputError,
    },
    #[error(
        "state file {path} is not valid JSON (line {line}, column {column}): {message}\n  = help: rpd never overwrites it; {hint}"
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        hint: String,
    },
    #[error(
        "state file {path}: `{key}` {message}\n  = help: rpd never overwrites it; fix the key by hand (the previous version, if any, is in the .backup beside it), or move the file away to start over"
    )]
    Shape {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error(
        "state file {path} is neither an rpd state nor a runpod-deploy pointer (it has {keys})\n  = help: rpd leaves it untouched; point `state_file:` at another path, or remove the key to use the per-config default"
    )]
    Foreign { path: PathBuf, keys: String },
    #[error(
        "state file {path} has format_version {found}, newer than this rpd understands ({FORMAT_VERSION})\n  = help: upgrade rpd; this version will not touch the file"
    )]
    TooNew { path: PathBuf, found: u64 },
    #[error(
        "state file {path} belongs to another config\n  recorded owner: {owner} (job {owner_job:?})\n  this config:    {this} (job {this_job:?})\n  = help: each config needs its own state file: give this config its own `state_file:`, or remove the key to use the per-config default.\n          If this config is the same job moved or renamed, take the state over with:\n            rpd state reassign {this}"
    )]
    OtherOwner {
        path: PathBuf,
        owner: String,
        owner_job: String,
        this: String,
        this_job: String,
    },
    #[error("cannot write state file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl State {
    pub fn new(owner: Owner) -> State {
        State {
            format_version: FORMAT_VERSION,
            lineage: Uuid::new_v4(),
            serial: 0,
            owner: Some(owner),
            pod: None,
            retained: Vec::new(),
            pending_create: None,
            pending_update: None,
            launched_job: None,
            guarded_pod: None,
            updated_at: None,
            api_key_fingerprint: None,
            pod_history: Vec::new(),
            pod_id: None,
            gpu_id: None,
            image: None,
            datacenter_id: None,
        }
    }

    /// True when the state tracks nothing: no pod, none retained, none pending.
    pub fn is_empty(&self) -> bool {
        self.pod.is_none() && self.retained.is_empty() && self.pending_create.is_none()
    }

    /// Every pod id the state tracks.
    pub fn pod_ids(&self) -> Vec<&str> {
        self.pod
            .iter()
            .map(|p| p.id.as_str())
            .chain(self.retained.iter().map(|r| r.pod.id.as_str()))
            .collect()
    }

    fn sync_pointer_keys(&mut self) {
        let pod = self.pod.as_ref();
        self.pod_id = pod.map(|p| p.id.clone());
        self.gpu_id = pod.and_then(|p| p.spec.gpu_id.clone());
        self.image = pod.and_then(|p| p.spec.image.clone());
        self.datacenter_id = pod.and_then(|p| p.spec.datacenter_id.clone());
    }
}

/// Reads the state at `path`; `Ok(None)` when there is none.
pub fn read(path: &Path) -> Result<Option<Loaded>, StateError> {
    let text = match crate::input::read_text(path) {
        Ok(text) => text,
        Err(err) if err.is_not_found() => return Ok(None),
        Err(source) => {
            return Err(StateError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse(path, &text).map(Some)
}

/// A state file's text (`read` bounds its size); public for the fuzz target.
pub fn parse(path: &Path, text: &str) -> Result<Loaded, StateError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|err| {
        let backup = backup_path(path);
        let hint = if backup.exists() {
            format!(
                "the previous version is in {}; inspect it and restore it with `cp` if it is right",
                backup.display()
            )
        } else {
            "fix or move the file by hand".to_string()
        };
        StateError::Corrupt {
            path: path.to_path_buf(),
            line: err.line(),
            column: err.column(),
            message: err.to_string(),
            hint,
        }
    })?;
    let Some(object) = value.as_object() else {
        return Err(StateError::Foreign {
            path: path.to_path_buf(),
            keys: format!("a JSON {}", json_kind(&value)),
        });
    };
    if let Some(version) = object.get("format_version") {
        let Some(found) = version.as_u64() else {
            return Err(StateError::Shape {
                path: path.to_path_buf(),
                key: "format_version".into(),
                message: format!("must be a whole number, got {version}"),
            });
        };
        if found > u64::from(FORMAT_VERSION) {
            return Err(StateError::TooNew {
                path: path.to_path_buf(),
                found,
            });
        }
        let state: State =
            serde_path_to_error::deserialize(value.clone()).map_err(|err| StateError::Shape {
                path: path.to_path_buf(),
                key: err.path().to_string(),
                message: err.into_inner().to_string(),
            })?;
        return Ok(Loaded {
            state,
            origin: Origin::Rpd,
        });
    }
    adopt_pointer(path, object)
}

/// A runpod-deploy pointer: `{"pod_id", "gpu_id", "image", "datacenter_id"}`
/// (`id` and `podId` accepted for the id). Missing spec keys make it a
/// pointer without a recorded spec, not a corrupt file.
fn adopt_pointer(
    path: &Path,
    object: &serde_json::Map<String, serde_json::Value>,
) -> Result<Loaded, StateError> {
    let text = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let known = ["pod_id", "id", "podId", "gpu_id", "image", "datacenter_id"];
    if !object.keys().any(|k| known.contains(&k.as_str())) {
        let keys: Vec<String> = object.keys().take(6).map(|k| format!("{k:?}")).collect();
        return Err(StateError::Foreign {
            path: path.to_path_buf(),
            keys: if keys.is_empty() {
                "no keys".into()
            } else {
                format!("keys {}", keys.join(", "))
            },
        });
    }
    for key in ["pod_id", "id", "podId", "gpu_id", "image", "datacenter_id"] {
        match object.get(key) {
            Some(serde_json::Value::String(v)) if v.trim().is_empty() && key.ends_with('d') => {
                return Err(StateError::Shape {
                    path: path.to_path_buf(),
                    key: key.into(),
                    message: "is empty".into(),
                });
            }
            Some(v) if !v.is_string() && !v.is_null() => {
                return Err(StateError::Shape {
                    path: path.to_path_buf(),
                    key: key.into(),
                    message: format!("must be a string, got {v}"),
                });
            }
            _ => {}
        }
    }
    let mut state = State::new_unowned();
    if let Some(id) = text("pod_id")
        .or_else(|| text("id"))
        .or_else(|| text("podId"))
    {
        state.pod = Some(PodRecord {
            id,
            name: String::new(),
            spec: PodSpec {
                image: text("image"),
                gpu_id: text("gpu_id"),
                datacenter_id: text("datacenter_id"),
                ..PodSpec::default()
            },
            status: None,
            status_since: None,
            created_at: None,
            provider: None,
        });
    }
    state.sync_pointer_keys();
    Ok(Loaded {
        state,
        origin: Origin::RunpodDeploy,
    })
}

impl State {
    fn new_unowned() -> State {
        let mut state = State::new(Owner {
            config: PathBuf::new(),
            job_name: String::new(),
        });
        state.owner = None;
        state
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Refuses a state recorded for another config.
pub fn check_owner(path: &Path, state: &State, owner: &Owner) -> Result<(), StateError> {
    match &state.owner {
        Some(recorded) if recorded.config != owner.config => Err(StateError::OtherOwner {
            path: path.to_path_buf(),
            owner: recorded.config.display().to_string(),
            owner_job: recorded.job_name.clone(),
            this: owner.config.display().to_string(),
            this_job: owner.job_name.clone(),
        }),
        _ => Ok(()),
    }
}

pub fn backup_path(path: &Path) -> PathBuf {
    sibling(path, ".backup")
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Persists `state` atomically: bumps `serial`, keeps the previous file as
/// `.backup`, writes a temp file beside the state, fsyncs it, renames it over
/// the state and fsyncs the directory. A crash at any point leaves either the
/// old or the new state, never a torn one.
pub fn write(path: &Path, state: &mut State) -> Result<(), StateError> {
    let wrap = |source: std::io::Error| StateError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(wrap)?;
    let now = Utc::now();
    state.serial += 1;
    state.format_version = FORMAT_VERSION;
    state.updated_at = Some(now);
    state.remember_pods(now);
    state.sync_pointer_keys();
    // A path that is not UTF-8 cannot be written as JSON (the config
    // loader refuses one): an error, never a panic.
    let mut json =
        serde_json::to_vec_pretty(state).map_err(|err| wrap(std::io::Error::other(err)))?;
    json.push(b'\n');

    remove_stale_temps(path);
    if path.exists() {
        let backup = backup_path(path);
        write_durably(
            &backup,
            &fs::read(path).map_err(wrap)?,
            "backup-before-rename",
        )
        .map_err(|source| StateError::Write {
            path: backup.clone(),
            source,
        })?;
    }
    write_durably(path, &json, "state-before-rename").map_err(wrap)
}

/// Temp files a crashed writer left beside the state or its backup (the
/// caller holds the lock, so no live writer owns one).
fn remove_stale_temps(path: &Path) {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return;
    };
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let ours = format!(".tmp.{}", std::process::id());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let stale = (file.starts_with(&format!("{name}.tmp."))
            || file.starts_with(&format!("{name}.backup.tmp.")))
            && !file.ends_with(&ours);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` as the state is written (temp file beside it,
/// fsync, rename, fsync of the directory), stopping at the fault point
/// `fault` in between (see `fault.rs`). Also for rpd's other small files.
pub(crate) fn write_durably(path: &Path, bytes: &[u8], fault: &str) -> std::io::Result<()> {
    let tmp = sibling(path, &format!(".tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        crate::fault::point(fault);
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes the state (after `destroy`), keeping the last version as `.backup`.
pub fn remove(path: &Path) -> Result<(), StateError> {
    let wrap = |source: std::io::Error| StateError::Write {
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        write_durably(
            &backup_path(path),
            &fs::read(path).map_err(wrap)?,
            "backup-before-rename",
        )
        .map_err(wrap)?;
        fs::remove_file(path).map_err(wrap)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            config: PathBuf::from("/x/hello.yaml"),
            job_name: "hello".into(),
        }
    }

    #[test]
    fn write_then_read_round_trips_and_mirrors_pointer_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut state = State::new(owner());
        state.pod = Some(PodRecord {
            id: "p1".into(),
            name: "hello-1".into(),
            spec: PodSpec {
                image: Some("img".into()),
                gpu_id: Some("NVIDIA A40".into()),
                datacenter_id: Some("EU-RO-1".into()),
                ..PodSpec::default()
            },
            status: Some(PodStatus::Exited),
            status_since: None,
            created_at: None,
            provider: Some("sim".into()),
        });
        write(&path, &mut state).unwrap();
        write(&path, &mut state).unwrap();
        let loaded = read(&path).unwrap().unwrap();
        assert_eq!(loaded.origin, Origin::Rpd);
        assert_eq!(loaded.state.serial, 2);
        assert_eq!(loaded.state.pod_id.as_deref(), Some("p1"));
        let raw: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(raw["gpu_id"], "NVIDIA A40");
        assert_eq!(raw["datacenter_id"], "EU-RO-1");
        let backup = read(&backup_path(&path)).unwrap().unwrap();
        assert_eq!(backup.state.serial, 1);
    }

    #[test]
    fn runpod_deploy_pointer_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        fs::write(&path, r#"{"podId": "abc", "image": "i"}"#).unwrap();
        let loaded = read(&path).unwrap().unwrap();
        assert_eq!(loaded.origin, Origin::RunpodDeploy);
        let pod = loaded.state.pod.unwrap();
        assert_eq!(pod.id, "abc");
        assert_eq!(pod.spec.image.as_deref(), Some("i"));
        assert_eq!(pod.spec.gpu_id, None);
        assert!(loaded.state.owner.is_none());
    }

    #[test]
    fn foreign_and_corrupt_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        fs::write(&path, r#"{"version": 4, "terraform_version": "1.9"}"#).unwrap();
        assert!(matches!(read(&path), Err(StateError::Foreign { .. })));
        fs::write(&path, "{\"pod_id\": ").unwrap();
        assert!(matches!(read(&path), Err(StateError::Corrupt { .. })));
        fs::write(&path, r#"{"format_version": 99}"#).unwrap();
        assert!(matches!(
            read(&path),
            Err(StateError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn odd_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        let cases = [
            (
                r#"{"format_version": "1"}"#,
                "`format_version` must be a whole number",
            ),
            (r#"{"pod_id": 42}"#, "`pod_id` must be a string, got 42"),
            (r#"{"pod_id": ""}"#, "`pod_id` is empty"),
            (
                r#"{"format_version": 1, "lineage": "2f4c4f82-63f1-40d6-9582-826057ac2a40", "serial": 1, "pod": {"id": 7}}"#,
                "`pod.id` invalid type",
            ),
        ];
        for (text, expected) in cases {
            fs::write(&path, text).unwrap();
            let err = read(&path).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn another_configs_state_is_refused() {
        let state = State::new(owner());
        let other = Owner {
            config: PathBuf::from("/x/other.yaml"),
            job_name: "other".into(),
        };
        let err = check_owner(Path::new("s.json"), &state, &other).unwrap_err();
        assert!(err.to_string().contains("rpd state reassign /x/other.yaml"));
        check_owner(Path::new("s.json"), &state, &owner()).unwrap();
    }
}
