//! `<state>.lock`: one rpd at a time per config. Created with O_EXCL and holds
//! JSON lock info (Terraform's `LockInfo` fields). A lock whose process is
//! dead on this same host is taken over with a warning; there is no TTL.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub operation: String,
    pub who: String,
    pub pid: u32,
    pub host: String,
    pub version: String,
    pub created: DateTime<Utc>,
    pub path: PathBuf,
    #[serde(default)]
    pub info: String,
}

impl LockInfo {
    pub fn render(&self) -> String {
        format!(
            "Lock Info:\n  ID:        {}\n  Path:      {}\n  Operation: {}\n  Who:       {}\n  Version:   {}\n  Created:   {}\n  Info:      {}",
            self.id,
            self.path.display(),
            self.operation,
            self.who,
            self.version,
            self.created.format("%Y-%m-%d %H:%M:%S UTC"),
            self.info
        )
    }

    fn is_on_this_host_and_dead(&self) -> bool {
        self.host == hostname() && !process_alive(self.pid)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "Error acquiring the state lock: {} is held by another rpd\n\n{}\n\nrpd locks a config's state so that two runs never change its pod at once.\nWait for the other run, pass --lock-timeout 5m to wait for it, or, if no rpd is running for this config, release the lock with:\n  rpd force-unlock {} {}",
        .info.path.display(), .info.render(), .info.id, .config
    )]
    Held { info: Box<LockInfo>, config: String },
    #[error("cannot create lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no lock is held for {config} (looked for {})", .path.display())]
    NotLocked { path: PathBuf, config: String },
    #[error(
        "lock ID {given:?} does not match the lock held for {config}\n\n{}\n\nforce-unlock needs the exact ID, so that it never releases a lock other than the one you mean",
        .info.render()
    )]
    WrongId {
        given: String,
        info: Box<LockInfo>,
        config: String,
    },
}

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
    id: String,
    /// A dead process's lock that was taken over, to warn about.
    pub took_over: Option<LockInfo>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if read_lock_file(&self.path).is_some_and(|info| info.id == self.id) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    state.with_file_name(name)
}

fn read_lock_file(path: &Path) -> Option<LockInfo> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

/// The lock currently held on `state`, if any.
pub fn read_lock(state: &Path) -> Option<LockInfo> {
    read_lock_file(&lock_path(state))
}

/// Takes the lock on `state`, waiting up to `timeout` for another holder.
/// `on_wait` is called once if the lock is busy and we are going to wait.
pub fn acquire(
    state: &Path,
    operation: &str,
    config: &str,
    timeout: Duration,
    mut on_wait: impl FnMut(&LockInfo),
) -> Result<LockGuard, LockError> {
    let path = lock_path(state);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| LockError::Io {
            path: path.clone(),
            source,
        })?;
    }
    let info = LockInfo {
        id: uuid::Uuid::new_v4().to_string(),
        operation: operation.to_string(),
        who: format!("{}@{}", username(), hostname()),
        pid: std::process::id(),
        host: hostname(),
        version: format!("rpd {}", env!("CARGO_PKG_VERSION")),
        created: Utc::now(),
        path: state.to_path_buf(),
        info: format!("config {config}"),
    };
    let deadline = Instant::now() + timeout;
    let mut took_over = None;
    let mut announced = false;
    loop {
        match try_create(&path, &info) {
            Ok(()) => {
                return Ok(LockGuard {
                    path,
                    id: info.id,
                    took_over,
                });
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(LockError::Io { path, source }),
        }
        match read_lock_file(&path) {
            Some(holder) if holder.is_on_this_host_and_dead() => {
                // Its process is gone: the run crashed or was killed. Two
                // runs may see that at once; only one may remove it, and only
                // that same dead lock (not a live one created meanwhile).
                if take_over(&path, &holder) {
                    took_over = Some(holder);
                } else {
                    std::thread::sleep(Duration::from_millis(50));
                }
                continue;
            }
            Some(holder) => {
                if Instant::now() >= deadline {
                    return Err(LockError::Held {
                        info: Box::new(holder),
                        config: config.to_string(),
                    });
                }
                if !announced {
                    on_wait(&holder);
                    announced = true;
                }
            }
            // Being written by its holder right now, or unreadable: look again.
            None if Instant::now() >= deadline + Duration::from_secs(1) => {
                return Err(LockError::Io {
                    path: path.clone(),
                    source: std::io::Error::other(
                        "lock file exists but cannot be read; remove it if no rpd is running",
                    ),
                });
            }
            None => {}
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes the dead `holder`'s lock under a short-lived `<lock>.takeover`
/// guard, after checking the lock is still that one. False when another run
/// holds the guard (or the lock changed).
fn take_over(path: &Path, holder: &LockInfo) -> bool {
    let mut guard_name = path.file_name().unwrap_or_default().to_os_string();
    guard_name.push(".takeover");
    let guard = path.with_file_name(guard_name);
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&guard)
    {
        Ok(_) => {
            let same = read_lock_file(path).is_some_and(|now| now.id == holder.id);
            if same {
                let _ = fs::remove_file(path);
            }
            let _ = fs::remove_file(&guard);
            same
        }
        Err(_) => {
            // A guard older than a few seconds belongs to a run that died
            // while taking over.
            let stale = fs::metadata(&guard)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(10));
            if stale {
                let _ = fs::remove_file(&guard);
            }
            false
        }
    }
}

fn try_create(path: &Path, info: &LockInfo) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let write = (|| {
        file.write_all(&serde_json::to_vec_pretty(info).expect("lock info serializes"))?;
        file.sync_all()
    })();
    if write.is_err() {
        let _ = fs::remove_file(path);
    }
    write
}

/// Releases the lock on `state` if its ID is `id`.
pub fn force_unlock(state: &Path, id: &str, config: &str) -> Result<LockInfo, LockError> {
    let path = lock_path(state);
    let Some(info) = read_lock_file(&path) else {
        return Err(LockError::NotLocked {
            path,
            config: config.to_string(),
        });
    };
    if info.id != id {
        return Err(LockError::WrongId {
            given: id.to_string(),
            info: Box::new(info),
            config: config.to_string(),
        });
    }
    fs::remove_file(&path).map_err(|source| LockError::Io { path, source })?;
    Ok(info)
}

fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

fn username() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_fails_at_once_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let first = acquire(&state, "apply", "a.yaml", Duration::ZERO, |_| {}).unwrap();
        let err = acquire(&state, "apply", "a.yaml", Duration::ZERO, |_| {}).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("Lock Info:"), "{text}");
        assert!(text.contains("rpd force-unlock"), "{text}");
        drop(first);
        acquire(&state, "apply", "a.yaml", Duration::ZERO, |_| {}).unwrap();
    }

    #[test]
    fn a_dead_processes_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let stale = LockInfo {
            id: "old".into(),
            operation: "apply".into(),
            who: "x".into(),
            pid: i32::MAX as u32,
            host: hostname(),
            version: "rpd 0".into(),
            created: Utc::now(),
            path: state.clone(),
            info: String::new(),
        };
        fs::write(lock_path(&state), serde_json::to_string(&stale).unwrap()).unwrap();
        let guard = acquire(&state, "apply", "a.yaml", Duration::ZERO, |_| {}).unwrap();
        assert_eq!(guard.took_over.as_ref().unwrap().id, "old");
    }

    #[test]
    fn force_unlock_needs_the_exact_id() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let guard = acquire(&state, "apply", "a.yaml", Duration::ZERO, |_| {}).unwrap();
        let id = read_lock(&state).unwrap().id;
        assert!(matches!(
            force_unlock(&state, "nope", "a.yaml"),
            Err(LockError::WrongId { .. })
        ));
        force_unlock(&state, &id, "a.yaml").unwrap();
        assert!(read_lock(&state).is_none());
        drop(guard);
    }
}
