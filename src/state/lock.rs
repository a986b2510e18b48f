//! `<state>.lock`: one rpd at a time per config.
//!
//! The holder keeps an OS lock (`flock`) on the file for its whole run, and
//! the file holds its JSON lock info (Terraform's `LockInfo` fields) for the
//! "held by" message. The OS drops the lock when the holder's process ends,
//! however it ends, so a file nobody has locked is a run that is gone: it
//! is taken over with a warning. There is no TTL.
//!
//! A lock file appears already locked and filled in (written under a
//! temporary name, then linked into place), so no one ever reads a half
//! written holder. A holder that releases removes the file while it still
//! holds the lock; whoever locked the removed file meanwhile sees that the
//! path names another file now, and tries again.
//!
//! Two cases keep the older rule (the holder's process is dead on this
//! host): a file without an OS-lock holder (an rpd from before the OS lock,
//! or a file written by hand), and a holder on another host, since whether a
//! shared filesystem passes locks between machines is not rpd's to know.

use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::retry::{self, Look, PollSchedule};

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
    /// Whether the holder keeps an OS lock on the file while it runs (so a
    /// file nobody has locked is one whose holder is gone).
    #[serde(default)]
    pub os_lock: bool,
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

    /// Whether the holder is gone, given that nobody holds the OS lock.
    fn is_gone_when_unlocked(&self) -> bool {
        self.host == hostname() && (self.os_lock || !process_alive(self.pid))
    }

    /// Whether the holder is gone although the OS lock is held: only while
    /// another run takes over the lock of a dead process.
    fn is_being_taken_over(&self) -> bool {
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
    #[error(
        "the lock file {} holds no lock rpd can read ({})\n\nIf no rpd is running for this config, remove it with:\n  rpd force-unlock {} {}",
        .path.display(), .junk.what, .junk.id, .config
    )]
    Unreadable {
        path: PathBuf,
        junk: Junk,
        config: String,
    },
    #[error(
        "lock ID {given:?} does not match: the lock file {} holds no lock rpd can read ({})\n\nTo remove it: rpd force-unlock {} {}",
        .path.display(), .junk.what, .junk.id, .config
    )]
    WrongJunkId {
        given: String,
        path: PathBuf,
        junk: Junk,
        config: String,
    },
    #[error(
        "the lock on {config}'s state is held by an rpd that is still running\n\n{}\n\nforce-unlock releases only a lock whose holder is gone: wait for that run to end, or stop it first (Ctrl-C in its terminal, or kill its process); two runs at once could both change the pod",
        .info.render()
    )]
    HolderRunning { info: Box<LockInfo>, config: String },
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
    /// The locked file: closing it releases the OS lock.
    file: File,
    path: PathBuf,
    /// A dead process's lock that was taken over, to warn about.
    pub took_over: Option<LockInfo>,
}

impl Drop for LockGuard {
    /// Removes the file while still holding its lock (the lock itself goes
    /// when `file` closes), unless it was force-unlocked and the path names
    /// another run's lock by now.
    fn drop(&mut self) {
        if names(&self.path, &self.file).unwrap_or(false) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    state.with_file_name(name)
}

/// Whether `path` still names the open `file` (same device and inode).
fn names(path: &Path, file: &File) -> std::io::Result<bool> {
    let open = file.metadata()?;
    match fs::metadata(path) {
        Ok(now) => Ok(now.dev() == open.dev() && now.ino() == open.ino()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// A lock file is a few hundred bytes; more is not a lock (and is not read).
const MAX_LOCK_BYTES: u64 = 64 * 1024;

/// A lock file that holds no lock info rpd can read (empty, truncated,
/// written by hand): `force-unlock` removes it given its `id`, derived from
/// its content so that it never removes a file other than the one shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Junk {
    /// `junk-` and 12 hex digits of the content's SHA-256.
    pub id: String,
    /// What it holds, for messages.
    pub what: String,
}

impl Junk {
    fn of(bytes: &[u8], len: u64, problem: &str) -> Junk {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(len.to_le_bytes())
            .chain_update(bytes)
            .finalize();
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let what = if len == 0 {
            "it is empty".to_string()
        } else if len > MAX_LOCK_BYTES {
            format!("it is {len} bytes, far too large for a lock")
        } else {
            let preview: String = String::from_utf8_lossy(bytes).chars().take(40).collect();
            format!("{problem}: {preview:?}")
        };
        Junk {
            id: format!("junk-{hex}"),
            what,
        }
    }
}

/// What the lock file holds; `None` when it cannot be read at all.
fn read_contents(mut file: &File) -> Option<Result<LockInfo, Junk>> {
    let len = file.metadata().ok()?.len();
    file.rewind().ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_LOCK_BYTES + 1).read_to_end(&mut bytes).ok()?;
    Some(parse_lock(&bytes, len))
}

/// A lock file's first bytes (at most 64 KiB and one) and its length: the
/// holder's info, or what the file holds instead. Public for the fuzz target.
pub fn parse_lock(bytes: &[u8], len: u64) -> Result<LockInfo, Junk> {
    if len > MAX_LOCK_BYTES || bytes.len() as u64 > MAX_LOCK_BYTES {
        return Err(Junk::of(&[], len.max(MAX_LOCK_BYTES + 1), ""));
    }
    serde_json::from_slice(bytes).map_err(|err| {
        let problem = if err.is_syntax() || err.is_eof() {
            "it is not JSON"
        } else {
            "it is JSON without rpd's lock fields"
        };
        Junk::of(bytes, len, problem)
    })
}

fn read_info(file: &File) -> Option<LockInfo> {
    read_contents(file)?.ok()
}

/// Whether another process holds the OS lock on `file` for good; a
/// shared lock is only `read_lock` looking.
fn held_exclusively(file: &File) -> bool {
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

/// What a lock file on `state` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockStatus {
    /// A live run holds it.
    Held(LockInfo),
    /// Left by a run that is gone (crashed or killed): the next run that
    /// locks takes it over.
    Stale(LockInfo),
}

/// The lock file on `state` and whether its holder is still there, if
/// there is a readable one.
pub fn lock_status(state: &Path) -> Option<LockStatus> {
    let file = File::open(lock_path(state)).ok()?;
    let info = read_info(&file)?;
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            Some(if info.is_gone_when_unlocked() {
                LockStatus::Stale(info)
            } else {
                LockStatus::Held(info)
            })
        }
        Err(_) => Some(LockStatus::Held(info)),
    }
}

/// The lock currently held on `state`, if any: a lock file whose holder is
/// gone (a crashed run's) is not held.
pub fn read_lock(state: &Path) -> Option<LockInfo> {
    match lock_status(state)? {
        LockStatus::Held(info) => Some(info),
        LockStatus::Stale(_) => None,
    }
}

/// What one try at the lock found.
#[derive(Debug)]
enum Claim {
    Taken(LockGuard),
    Held(LockInfo),
    /// Locked, but what it holds is not a lock (`Some`: junk, being written
    /// by an rpd from before the OS lock or not a lock file), or it cannot
    /// be read at all (`None`: another user's file, a directory).
    Unreadable(Option<Junk>),
    /// Changed under us (released, removed, being taken over, or looked
    /// at): look again.
    Again,
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
        os_lock: true,
    };
    let deadline = Instant::now() + timeout;
    let mut announced = false;
    retry::poll_blocking(&PollSchedule::every(Duration::from_millis(100)), || {
        let claim = match claim(&path, &info) {
            Ok(claim) => claim,
            Err(source) => {
                return Look::Done(Err(LockError::Io {
                    path: path.clone(),
                    source,
                }));
            }
        };
        match claim {
            Claim::Taken(guard) => Look::Done(Ok(guard)),
            Claim::Held(holder) if Instant::now() >= deadline => Look::Done(Err(LockError::Held {
                info: Box::new(holder),
                config: config.to_string(),
            })),
            Claim::Held(holder) => {
                if !announced {
                    on_wait(&holder);
                    announced = true;
                }
                Look::Again(())
            }
            Claim::Unreadable(Some(junk))
                if Instant::now() >= deadline + Duration::from_secs(1) =>
            {
                Look::Done(Err(LockError::Unreadable {
                    path: path.clone(),
                    junk,
                    config: config.to_string(),
                }))
            }
            // What does not settle within a second of the deadline is no
            // lock rpd can take (a dangling link in its place, or another
            // program's lock on it): say so rather than wait forever.
            Claim::Unreadable(None) | Claim::Again
                if Instant::now() >= deadline + Duration::from_secs(1) =>
            {
                Look::Done(Err(LockError::Io {
                    path: path.clone(),
                    source: std::io::Error::other(
                        "lock file exists but cannot be read; remove it if no rpd is running",
                    ),
                }))
            }
            Claim::Unreadable(_) | Claim::Again => Look::Again(()),
        }
    })
}

/// One try: create the lock file, or lock the one there and take it over
/// if its holder is gone.
fn claim(path: &Path, info: &LockInfo) -> std::io::Result<Claim> {
    let file = match open_existing(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(match publish(path, info, false)? {
                Some(guard) => Claim::Taken(guard),
                None => Claim::Again,
            });
        }
        // There, but not this user's to read: like a file that is not a
        // lock, it is left to whoever can remove it.
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            return Ok(Claim::Unreadable(None));
        }
        Err(err) => return Err(err),
    };
    claim_open(path, file, info)
}

/// Opens the lock file that is there. Reading it is enough to lock it, to
/// name its holder and to take it over (a takeover replaces the file, which
/// needs only its directory), so what cannot be opened for writing (another
/// user's file, a read-only mount, a directory) is opened read-only.
fn open_existing(path: &Path) -> std::io::Result<File> {
    match File::options().read(true).write(true).open(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => File::open(path),
        opened => opened,
    }
}

/// [`claim`] with the lock file opened.
fn claim_open(path: &Path, file: File, info: &LockInfo) -> std::io::Result<Claim> {
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            if !names(path, &file)? || !held_exclusively(&file) {
                return Ok(Claim::Again);
            }
            return Ok(match read_contents(&file) {
                Some(Ok(holder)) if holder.is_being_taken_over() => Claim::Again,
                Some(Ok(holder)) => Claim::Held(holder),
                Some(Err(junk)) => Claim::Unreadable(Some(junk)),
                None => Claim::Unreadable(None),
            });
        }
        Err(TryLockError::Error(err)) => return Err(err),
    }
    // Locked; but the file may have been removed after it was opened (its
    // holder released it, or force-unlock): then it is no lock at all.
    if !names(path, &file)? {
        return Ok(Claim::Again);
    }
    let holder = match read_contents(&file) {
        Some(Ok(holder)) => holder,
        Some(Err(junk)) => return Ok(Claim::Unreadable(Some(junk))),
        None => return Ok(Claim::Unreadable(None)),
    };
    if !holder.is_gone_when_unlocked() {
        return Ok(Claim::Held(holder));
    }
    // Its holder crashed or was killed. Only this run holds the old file's
    // lock, so only this run replaces it; anyone who locks the old file
    // after sees that the path names the new one.
    Ok(match publish(path, info, true)? {
        Some(mut guard) => {
            guard.took_over = Some(holder);
            Claim::Taken(guard)
        }
        None => Claim::Again,
    })
}

/// Writes `info` into a new file, locked, and puts it at `path`: beside
/// nothing (`replace` false: `None` if a lock file appeared meanwhile), or
/// over the dead holder's file.
fn publish(path: &Path, info: &LockInfo, replace: bool) -> std::io::Result<Option<LockGuard>> {
    // Before any file exists: a path that is not UTF-8 cannot be written
    // as JSON (the config loader refuses one; this is the last word).
    let json = serde_json::to_vec_pretty(info).map_err(|err| {
        std::io::Error::other(format!(
            "the lock info for {} cannot be written: {err}",
            crate::input::escaped_path(&info.path)
        ))
    })?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".new.{}", uuid::Uuid::new_v4().simple()));
    let fresh = path.with_file_name(name);
    let mut file = File::options().write(true).create_new(true).open(&fresh)?;
    let written = (|| {
        file.try_lock().map_err(std::io::Error::from)?;
        file.write_all(&json)?;
        file.sync_all()?;
        if replace {
            fs::rename(&fresh, path)
        } else {
            fs::hard_link(&fresh, path)
        }
    })();
    let _ = fs::remove_file(&fresh);
    match written {
        Ok(()) => Ok(Some(LockGuard {
            file,
            path: path.to_path_buf(),
            took_over: None,
        })),
        Err(err) if !replace && err.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
        Err(err) => Err(err),
    }
}

/// What `force-unlock` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    Lock(LockInfo),
    /// A lock file that held no lock.
    Junk(Junk),
}

/// Releases the lock on `state` if its ID is `id`.
pub fn force_unlock(state: &Path, id: &str, config: &str) -> Result<Released, LockError> {
    let path = lock_path(state);
    let file = File::open(&path).ok();
    let info = match file.as_ref().and_then(read_contents) {
        Some(Ok(info)) => info,
        Some(Err(junk)) => {
            return force_unlock_junk(&path, file.as_ref(), junk, id, config);
        }
        None => {
            return Err(LockError::NotLocked {
                path,
                config: config.to_string(),
            });
        }
    };
    if info.id != id {
        return Err(LockError::WrongId {
            given: id.to_string(),
            info: Box::new(info),
            config: config.to_string(),
        });
    }
    // The OS lock is held: its holder runs (the OS releases it when a
    // process ends, however it ends).
    if file.as_ref().is_some_and(held_exclusively) {
        return Err(LockError::HolderRunning {
            info: Box::new(info),
            config: config.to_string(),
        });
    }
    fs::remove_file(&path).map_err(|source| LockError::Io { path, source })?;
    Ok(Released::Lock(info))
}

/// Removes a lock file that holds no lock, given the ID its content gives,
/// unless a live process holds it locked.
fn force_unlock_junk(
    path: &Path,
    file: Option<&File>,
    junk: Junk,
    id: &str,
    config: &str,
) -> Result<Released, LockError> {
    if junk.id != id {
        return Err(LockError::WrongJunkId {
            given: id.to_string(),
            path: path.to_path_buf(),
            junk,
            config: config.to_string(),
        });
    }
    if file.is_some_and(held_exclusively) {
        return Err(LockError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other("a running process holds it locked; wait for it to end"),
        });
    }
    fs::remove_file(path).map_err(|source| LockError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Released::Junk(junk))
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
mod tests;
