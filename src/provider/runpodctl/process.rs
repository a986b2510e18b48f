//! Runs the `runpodctl` executable: where it is, and one invocation with a
//! deadline. Success is decided by the exit code alone (runpodctl prints
//! `warning:`/`note:` lines on stderr when it succeeds).

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::retry::{self, Look, PollSchedule};

/// Where to find runpodctl when `RPD_RUNPODCTL` is not set.
pub const PROGRAM: &str = "runpodctl";
/// Overrides the executable (tests, odd installs).
pub const PROGRAM_ENV: &str = "RPD_RUNPODCTL";

#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error(
        "runpodctl was not found on PATH\n  = help: install runpodctl v2 (https://github.com/runpod/runpodctl/releases) or set {PROGRAM_ENV}=/path/to/runpodctl; `--provider sim` needs no account"
    )]
    NotOnPath,
    #[error(
        "{PROGRAM_ENV}={path} is not an executable file\n  = help: point {PROGRAM_ENV} at the runpodctl executable, or unset it to use the one on PATH"
    )]
    BadOverride { path: String },
}

/// The runpodctl to run: `RPD_RUNPODCTL`, else the first on PATH.
pub fn locate(
    override_path: Option<OsString>,
    path_var: Option<OsString>,
) -> Result<PathBuf, LocateError> {
    if let Some(path) = override_path.filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(LocateError::BadOverride {
                path: path.display().to_string(),
            })
        };
    }
    path_var
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(PROGRAM))
        .find(|candidate| is_executable(candidate))
        .ok_or(LocateError::NotOnPath)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What one invocation printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// `None` when killed by a signal.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("no answer within {}", humantime::format_duration(*.0))]
    TimedOut(Duration),
}

/// One runpodctl executable and the deadline for each call.
#[derive(Debug, Clone)]
pub struct Runner {
    program: PathBuf,
    timeout: Duration,
}

impl Runner {
    pub fn new(program: PathBuf, timeout: Duration) -> Runner {
        Runner { program, timeout }
    }

    fn spawn_error(&self, source: std::io::Error) -> RunError {
        RunError::Spawn {
            program: self.program.display().to_string(),
            source,
        }
    }

    /// Runs `runpodctl args...`; a call past the deadline is killed.
    pub async fn run(&self, args: &[String]) -> Result<Output, RunError> {
        let child = tokio::process::Command::new(&self.program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Dropping the future on timeout kills the process.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(out)) => Ok(Output {
                status: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }),
            Ok(Err(e)) => Err(self.spawn_error(e)),
            Err(_) => Err(RunError::TimedOut(self.timeout)),
        }
    }

    /// The same, without an async runtime: for the one `--version` call made
    /// while the provider is chosen. Only for commands with small output.
    pub fn run_blocking(&self, args: &[&str]) -> Result<Output, RunError> {
        let mut child = std::process::Command::new(&self.program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        let deadline = Instant::now() + self.timeout;
        let status =
            retry::poll_blocking(
                &PollSchedule::every(Duration::from_millis(10)),
                || match child.try_wait() {
                    Ok(Some(status)) => Look::Done(Ok(status)),
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        Look::Done(Err(RunError::TimedOut(self.timeout)))
                    }
                    Ok(None) => Look::Again(()),
                    Err(e) => Look::Done(Err(self.spawn_error(e))),
                },
            )?;
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stdout.take() {
            let _ = pipe.read_to_string(&mut stdout);
        }
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        Ok(Output {
            status: status.code(),
            stdout,
            stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn override_wins_and_must_be_executable() {
        let dir = tempfile::tempdir().unwrap();
        let exe = script(dir.path(), "ctl", "true");
        assert_eq!(locate(Some(exe.clone().into()), None).unwrap(), exe);
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        let err = locate(Some(plain.into()), None).unwrap_err();
        assert!(
            err.to_string().contains("is not an executable file"),
            "{err}"
        );
    }

    #[test]
    fn found_on_path_or_a_clear_error() {
        let empty = tempfile::tempdir().unwrap();
        let full = tempfile::tempdir().unwrap();
        let exe = script(full.path(), PROGRAM, "true");
        let path = std::env::join_paths([empty.path(), full.path()]).unwrap();
        assert_eq!(locate(None, Some(path)).unwrap(), exe);
        let err = locate(None, Some(empty.path().as_os_str().to_owned())).unwrap_err();
        assert!(err.to_string().contains("not found on PATH"), "{err}");
        assert!(err.to_string().contains("RPD_RUNPODCTL"), "{err}");
    }

    #[tokio::test]
    async fn captures_both_streams_and_the_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let exe = script(dir.path(), "ctl", "echo out; echo err >&2; exit 3");
        let out = Runner::new(exe, Duration::from_secs(10))
            .run(&[])
            .await
            .unwrap();
        assert_eq!(
            (out.status, out.stdout.as_str(), out.stderr.as_str()),
            (Some(3), "out\n", "err\n")
        );
        assert!(!out.success());
    }

    #[tokio::test]
    async fn a_call_past_the_deadline_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let exe = script(dir.path(), "ctl", "sleep 30");
        let started = Instant::now();
        let err = Runner::new(exe.clone(), Duration::from_millis(200))
            .run(&[])
            .await
            .unwrap_err();
        assert!(matches!(err, RunError::TimedOut(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let err = Runner::new(exe, Duration::from_millis(200))
            .run_blocking(&[])
            .unwrap_err();
        assert!(matches!(err, RunError::TimedOut(_)), "{err}");
    }
}
