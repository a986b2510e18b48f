//! The registry: every state file rpd has applied, in rpd's data directory
//! (`RPD_DATA_DIR`, else `~/.local/share/rpd/`), so that `status`,
//! `ls-stale`, `cleanup`, `runs` and `cost` find every config without
//! being told, and a pod whose state file was moved or deleted is still
//! traced to the config that made it (through its lineage, which the pod's
//! name carries).
//!
//! Each state file is the truth about its pods; the registry is the truth
//! about which state files exist, so it must be complete: every command
//! that writes a state keeps its entry true, and one that cannot write the
//! registry fails. "Untracked" rests on it: a pod is provably untracked
//! only when every registered state was read and none claims it (see
//! `hygiene::inventory`). An entry whose state file is gone stays (`rpd
//! status` lists it) until the state turns up elsewhere with the same
//! lineage (it moved: the entry follows it) or the user says it is gone
//! for good (`rpd state rm`); then, as after `destroy`, its lineages are
//! kept in `removed`, so that a pod named with one is still known as that
//! config's. Writes are atomic (as the state's) and made under an OS lock
//! on `registry.json.lock`, so that concurrent applies of different configs
//! are all recorded, and a check and the write it allows (an import's
//! "no other state tracks this pod") happen under one lock.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::Lifecycle;
use crate::retry::{self, Look, PollSchedule};

pub const FILE_NAME: &str = "registry.json";
pub const FORMAT_VERSION: u32 = 1;

/// How long a registry update waits for another rpd's (each holds the lock
/// for one read and one write).
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// rpd's data directory: `RPD_DATA_DIR`, else the user data directory's
/// `rpd` (`~/.local/share/rpd` on Linux).
pub fn data_dir() -> PathBuf {
    std::env::var_os("RPD_DATA_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("rpd")))
        .unwrap_or_else(|| PathBuf::from(".rpd-data"))
}

/// One state file rpd applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Absolute: the key.
    pub state_file: PathBuf,
    /// The config that owns it (absolute, as the state records it).
    pub config: PathBuf,
    pub job_name: String,
    /// The state's lineage: its pods' names carry its first 6 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Uuid>,
    /// Lineages this state file had before (a state deleted and made
    /// again): pods named with them are still this config's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub past_lineages: Vec<Uuid>,
    /// The provider it was applied with (`sim`, `runpod`, `runpodctl`).
    pub provider: String,
    /// The pods the state tracked after the last apply (the state file is
    /// the truth; these name the pods if it is lost).
    #[serde(default)]
    pub pod_ids: Vec<String>,
    /// Where the config's run directories are (`<project_root>/artifacts/runpod`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs_dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    pub first_applied: DateTime<Utc>,
    pub last_applied: DateTime<Utc>,
}

/// A state file that is gone for good (destroyed, or said gone by `rpd
/// state rm`): its lineages, so that a pod named with one is still known
/// as an untracked pod of its config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Removed {
    pub state_file: PathBuf,
    pub config: PathBuf,
    pub lineages: Vec<Uuid>,
    pub removed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    pub format_version: u32,
    #[serde(default)]
    pub entries: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Removed>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            format_version: FORMAT_VERSION,
            entries: Vec::new(),
            removed: Vec::new(),
        }
    }
}

impl Registry {
    /// Adds the entry, or updates the one for its state file (keeping when
    /// it was first applied).
    pub fn upsert(&mut self, mut entry: Entry) {
        match self
            .entries
            .iter_mut()
            .find(|e| e.state_file == entry.state_file)
        {
            Some(existing) => {
                entry.first_applied = existing.first_applied;
                entry.past_lineages = std::mem::take(&mut existing.past_lineages);
                if let Some(old) = existing.lineage.filter(|old| Some(*old) != entry.lineage)
                    && !entry.past_lineages.contains(&old)
                {
                    entry.past_lineages.push(old);
                }
                *existing = entry;
            }
            None => self.entries.push(entry),
        }
    }

    /// Drops the entry of a state file that is gone for good, keeping its
    /// lineages in `removed`; whether there was one.
    pub fn remove(&mut self, state_file: &Path, at: DateTime<Utc>) -> bool {
        let Some(i) = self.entries.iter().position(|e| e.state_file == state_file) else {
            return false;
        };
        let entry = self.entries.remove(i);
        let lineages: Vec<Uuid> = entry
            .lineage
            .into_iter()
            .chain(entry.past_lineages)
            .collect();
        if !lineages.is_empty() {
            self.removed.push(Removed {
                state_file: entry.state_file,
                config: entry.config,
                lineages,
                removed_at: at,
            });
        }
        true
    }

    /// Drops the entries of state files that `is_gone` and whose lineage is
    /// `lineage`, other than `kept`'s: the state moved to `kept`.
    pub fn drop_moved(&mut self, lineage: Uuid, kept: &Path, is_gone: impl Fn(&Path) -> bool) {
        self.entries.retain(|e| {
            e.state_file == kept || e.lineage != Some(lineage) || !is_gone(&e.state_file)
        });
    }

    pub fn find(&self, state_file: &Path) -> Option<&Entry> {
        self.entries.iter().find(|e| e.state_file == state_file)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read rpd's registry {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "rpd's registry {path} cannot be read ({message})\n  = help: rpd leaves it untouched; fix it by hand (it is JSON), or move it away and record each config you use again with `rpd refresh CONFIG` (changes no pod) before any `rpd cleanup --untracked`: until then their pods look untracked"
    )]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "rpd's registry {path} has format_version {found}, newer than this rpd understands ({FORMAT_VERSION})\n  = help: upgrade rpd"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("cannot lock rpd's registry {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "rpd's registry {path} stayed locked by another rpd for {}s\n  = help: if no rpd is running, remove {path}.lock",
        LOCK_WAIT.as_secs()
    )]
    Busy { path: PathBuf },
    #[error("cannot write rpd's registry {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The registry file at one path.
#[derive(Debug, Clone)]
pub struct RegistryFile {
    path: PathBuf,
}

impl RegistryFile {
    pub fn at(path: PathBuf) -> RegistryFile {
        RegistryFile { path }
    }

    /// `registry.json` in [`data_dir`].
    pub fn default_file() -> RegistryFile {
        RegistryFile::at(data_dir().join(FILE_NAME))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The registry as last written (empty when there is none). Needs no
    /// lock: a write replaces the file whole.
    pub fn read(&self) -> Result<Registry, RegistryError> {
        // Bounded, regular files only: a registry is an input like any other.
        let text = match crate::input::read_text(&self.path) {
            Ok(text) => text,
            Err(err) if err.is_not_found() => {
                return Ok(Registry::default());
            }
            Err(err) => {
                return Err(RegistryError::Read {
                    path: self.path.clone(),
                    source: std::io::Error::other(err.to_string()),
                });
            }
        };
        let registry: Registry =
            serde_json::from_str(&text).map_err(|err| RegistryError::Corrupt {
                path: self.path.clone(),
                message: err.to_string(),
            })?;
        if registry.format_version > FORMAT_VERSION {
            return Err(RegistryError::TooNew {
                path: self.path.clone(),
                found: registry.format_version,
            });
        }
        Ok(registry)
    }

    /// Reads, changes with `change` and writes the registry under its lock,
    /// so that no other rpd's change in between is lost.
    pub fn update<T>(&self, change: impl FnOnce(&mut Registry) -> T) -> Result<T, RegistryError> {
        let locked = self.locked()?;
        let mut registry = locked.read()?;
        let result = change(&mut registry);
        locked.write(&registry)?;
        Ok(result)
    }

    /// The registry under its lock, held until the value is dropped: for a
    /// check and the writes it allows (the registry's and a state's) that
    /// no other rpd may come between.
    pub fn locked(&self) -> Result<Locked<'_>, RegistryError> {
        Ok(Locked {
            file: self,
            _lock: self.lock()?,
        })
    }

    fn write(&self, registry: &Registry) -> Result<(), RegistryError> {
        // A state path that is not UTF-8 cannot be written as JSON (the
        // config loader refuses one): an error, never a panic.
        let mut json = serde_json::to_vec_pretty(registry).map_err(|err| RegistryError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(err),
        })?;
        json.push(b'\n');
        crate::state::write_durably(&self.path, &json, "registry-before-rename").map_err(|source| {
            RegistryError::Write {
                path: self.path.clone(),
                source,
            }
        })
    }

    /// The OS lock on `<registry>.lock`; released when the file closes,
    /// however the process ends.
    fn lock(&self) -> Result<File, RegistryError> {
        let wrap = |source| RegistryError::Lock {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(wrap)?;
        }
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path.with_file_name(name))
            .map_err(wrap)?;
        let deadline = Instant::now() + LOCK_WAIT;
        retry::poll_blocking(
            &PollSchedule::every(Duration::from_millis(20)),
            || match file.try_lock() {
                Ok(()) => Look::Done(Ok(())),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    Look::Again(())
                }
                Err(std::fs::TryLockError::WouldBlock) => Look::Done(Err(RegistryError::Busy {
                    path: self.path.clone(),
                })),
                Err(std::fs::TryLockError::Error(err)) => Look::Done(Err(wrap(err))),
            },
        )?;
        Ok(file)
    }
}

/// The registry file with its lock held (see [`RegistryFile::locked`]).
pub struct Locked<'a> {
    file: &'a RegistryFile,
    _lock: File,
}

impl Locked<'_> {
    pub fn read(&self) -> Result<Registry, RegistryError> {
        self.file.read()
    }

    pub fn write(&self, registry: &Registry) -> Result<(), RegistryError> {
        self.file.write(registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> Entry {
        let at: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        Entry {
            state_file: PathBuf::from(format!("/p/.rpd/c{n}.state.json")),
            config: PathBuf::from(format!("/p/c{n}.yaml")),
            job_name: format!("c{n}"),
            lineage: Some(Uuid::from_u128(n as u128)),
            past_lineages: vec![],
            provider: "sim".into(),
            pod_ids: vec![],
            runs_dir: None,
            lifecycle: None,
            first_applied: at,
            last_applied: at,
        }
    }

    #[test]
    fn concurrent_updates_from_many_threads_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = RegistryFile::at(dir.path().join("data").join(FILE_NAME));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let file = file.clone();
                std::thread::spawn(move || {
                    for i in 0..10 {
                        file.update(|r| r.upsert(entry(t * 10 + i))).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(file.read().unwrap().entries.len(), 80);
    }

    #[test]
    fn an_upsert_keeps_the_first_apply_and_a_remove_says_what_it_did() {
        let mut registry = Registry::default();
        registry.upsert(entry(1));
        let mut again = entry(1);
        again.first_applied = "2026-11-20T00:00:00Z".parse().unwrap();
        again.last_applied = again.first_applied;
        again.pod_ids = vec!["p1".into()];
        registry.upsert(again);
        assert_eq!(registry.entries.len(), 1);
        let kept = &registry.entries[0];
        assert_eq!(kept.first_applied, entry(1).first_applied);
        assert_eq!(kept.pod_ids, ["p1"]);
        // The state made again: its earlier lineage is kept.
        let mut remade = entry(1);
        remade.lineage = Some(Uuid::from_u128(7));
        registry.upsert(remade);
        assert_eq!(
            registry.entries[0].past_lineages,
            [entry(1).lineage.unwrap()]
        );
        let at = entry(1).first_applied;
        assert!(registry.remove(Path::new("/p/.rpd/c1.state.json"), at));
        assert!(!registry.remove(Path::new("/p/.rpd/c1.state.json"), at));
        // Its lineages stay known.
        assert_eq!(
            registry.removed[0].lineages,
            [Uuid::from_u128(7), entry(1).lineage.unwrap()]
        );
    }

    #[test]
    fn a_moved_state_takes_over_the_entry_of_its_old_place() {
        let mut registry = Registry::default();
        registry.upsert(entry(1));
        registry.upsert(entry(2));
        let mut moved = entry(1);
        moved.state_file = PathBuf::from("/q/.rpd/c1.state.json");
        registry.upsert(moved.clone());
        let lineage = moved.lineage.unwrap();
        // The old place still exists: a copy, not a move; both stay.
        registry.drop_moved(lineage, &moved.state_file, |_| false);
        assert_eq!(registry.entries.len(), 3);
        registry.drop_moved(lineage, &moved.state_file, |p| p.starts_with("/p"));
        let files: Vec<&Path> = registry
            .entries
            .iter()
            .map(|e| e.state_file.as_path())
            .collect();
        assert_eq!(
            files,
            [
                Path::new("/p/.rpd/c2.state.json"),
                Path::new("/q/.rpd/c1.state.json")
            ],
            "another lineage's entry is kept, gone or not"
        );
    }

    #[test]
    fn a_corrupt_registry_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        fs::write(&path, "{\"entries\": [").unwrap();
        let file = RegistryFile::at(path.clone());
        assert!(matches!(file.read(), Err(RegistryError::Corrupt { .. })));
        assert!(file.update(|r| r.upsert(entry(1))).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"entries\": [");
    }

    #[test]
    fn a_state_path_that_is_not_utf8_is_a_write_error_not_a_panic() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let file = RegistryFile::at(dir.path().join(FILE_NAME));
        file.update(|r| r.upsert(entry(1))).unwrap();
        let mut odd = entry(2);
        odd.state_file = PathBuf::from(std::ffi::OsStr::from_bytes(b"/p/caf\xe9.state.json"));
        assert!(matches!(
            file.update(|r| r.upsert(odd)),
            Err(RegistryError::Write { .. })
        ));
        assert_eq!(file.read().unwrap().entries.len(), 1, "left as it was");
    }
}
