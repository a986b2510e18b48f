//! How the job reaches a pod. Two implementations share one trait: local
//! processes for the simulator (here) and ssh + rsync over one multiplexed
//! connection for real pods (`ssh.rs`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncReadExt;

use super::sync::{self, TransferStats};
use crate::model::LocalPodDirs;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{0}")]
    Io(String),
    #[error("{what} timed out after {secs}s")]
    Timeout { what: String, secs: u64 },
    #[error("{what} failed: {detail}")]
    Failed { what: String, detail: String },
    /// sshd answered and refused the key: waiting will not change that.
    #[error("ssh failed: {detail} ({})", key_refused(key))]
    AuthRefused { detail: String, key: PathBuf },
    /// The pod's host key does not match what rpd knows for it.
    #[error("ssh failed: {detail} ({})", key_refused(key))]
    HostKeyRejected { detail: String, key: PathBuf },
}

impl TransportError {
    /// Whether trying to connect again may help (sshd may not be up yet);
    /// a refusal is final.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            TransportError::AuthRefused { .. } | TransportError::HostKeyRejected { .. }
        )
    }
}

fn key_refused(key: &Path) -> String {
    format!(
        "the pod refused the key {}: register its public key with RunPod before the pod is created; keys reach only pods created afterwards",
        key.display()
    )
}

pub type TransportResult<T> = Result<T, TransportError>;

#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    /// None when killed by a signal.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The last lines of stderr, else stdout, for error messages.
    pub fn tail(&self, lines: usize) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let all: Vec<&str> = text.trim_end().lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

#[async_trait]
pub trait Transport: Send + Sync {
    /// A process that runs `script` with bash on the pod.
    fn command(&self, script: &str) -> tokio::process::Command;

    /// Rewrites pod paths in `text` to where they really are (the simulator
    /// maps the volume mount into its pod directory; identity over SSH).
    fn localize(&self, text: &str) -> String;

    /// Copies a local path to the pod, rsync style (`dir/` = contents).
    async fn push(
        &self,
        source: &str,
        destination: &str,
        excludes: &[String],
        delete: bool,
    ) -> TransportResult<TransferStats>;

    /// Copies a pod path to a local path, rsync style.
    async fn pull(
        &self,
        remote: &str,
        local: &Path,
        excludes: &[String],
        delete: bool,
    ) -> TransportResult<TransferStats>;

    /// SSH handshakes made so far (0 for local processes).
    fn handshakes(&self) -> u32 {
        0
    }

    /// Closes any shared connection.
    async fn close(&self) {}

    fn describe(&self) -> String;
}

/// Runs `script` on the pod and waits for it, killing it after `timeout`.
pub async fn exec(
    transport: &dyn Transport,
    script: &str,
    timeout: Duration,
) -> TransportResult<ExecOutput> {
    exec_with_stdin(transport, script, None, timeout).await
}

/// Like [`exec`], feeding `stdin` to the command (e.g. a script to `bash -s`,
/// which is one session however long the script, and no argument limits).
pub async fn exec_with_stdin(
    transport: &dyn Transport,
    script: &str,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> TransportResult<ExecOutput> {
    let mut command = transport.command(script);
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| TransportError::Io(format!("cannot start {}: {e}", transport.describe())))?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        tokio::io::AsyncWriteExt::write_all(&mut pipe, bytes)
            .await
            .map_err(|e| TransportError::Io(format!("writing to {}: {e}", transport.describe())))?;
    }
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let run = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (status, _, _) = tokio::join!(
            child.wait(),
            stdout.read_to_end(&mut out),
            stderr.read_to_end(&mut err)
        );
        (status, out, err)
    };
    match tokio::time::timeout(timeout, run).await {
        Ok((status, out, err)) => {
            let status = status.map_err(|e| TransportError::Io(e.to_string()))?;
            Ok(ExecOutput {
                status: status.code(),
                stdout: String::from_utf8_lossy(&out).into_owned(),
                stderr: String::from_utf8_lossy(&err).into_owned(),
            })
        }
        Err(_) => Err(TransportError::Timeout {
            what: "command".into(),
            secs: timeout.as_secs(),
        }),
    }
}

/// The simulator's pods: bash and file copies on this machine, with the
/// volume mount and `/root` mapped into the pod's directories.
pub struct LocalTransport {
    dirs: LocalPodDirs,
    mount: String,
    pod_id: String,
}

impl LocalTransport {
    pub fn new(dirs: LocalPodDirs, mount: &str, pod_id: &str) -> LocalTransport {
        let _ = std::fs::create_dir_all(dirs.container.join("root"));
        let _ = std::fs::create_dir_all(&dirs.volume);
        LocalTransport {
            dirs,
            mount: mount.trim_end_matches('/').to_string(),
            pod_id: pod_id.to_string(),
        }
    }

    fn home(&self) -> PathBuf {
        self.dirs.container.join("root")
    }

    fn local_path(&self, remote: &str) -> PathBuf {
        PathBuf::from(self.localize(remote))
    }

    /// A stopped pod cannot be reached (a RunPod pod has no SSH then).
    fn reachable(&self, what: &str) -> TransportResult<()> {
        if self.dirs.stopped.exists() {
            return Err(TransportError::Failed {
                what: what.to_string(),
                detail: format!("{}: the pod is not running", self.describe()),
            });
        }
        Ok(())
    }
}

/// The simulator's rsync: [`sync::sync`] off the async threads.
async fn copy(
    source: String,
    target: PathBuf,
    excludes: &[String],
    delete: bool,
    what: String,
) -> TransportResult<TransferStats> {
    let excludes = excludes.to_vec();
    tokio::task::spawn_blocking(move || sync::sync(&source, &target, &excludes, delete))
        .await
        .map_err(|e| TransportError::Io(e.to_string()))?
        .map_err(|e| TransportError::Failed {
            what,
            detail: e.to_string(),
        })
}

/// Replaces `prefix` where it starts a path (not inside a longer name).
fn replace_path_prefix(text: &str, prefix: &str, with: &str) -> String {
    if prefix.is_empty() || prefix == "/" {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut previous: Option<char> = None;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back().or(previous);
        let after = rest[at + prefix.len()..].chars().next();
        let starts_path = !before.is_some_and(|c| c.is_alphanumeric() || "_.-/~$".contains(c));
        let ends_name = !after.is_some_and(|c| c.is_alphanumeric() || "_.-".contains(c));
        out.push_str(&rest[..at]);
        if starts_path && ends_name {
            out.push_str(with);
        } else {
            out.push_str(prefix);
        }
        previous = prefix.chars().next_back();
        rest = &rest[at + prefix.len()..];
    }
    out.push_str(rest);
    out
}

#[async_trait]
impl Transport for LocalTransport {
    fn command(&self, script: &str) -> tokio::process::Command {
        // A stopped pod answers nothing, as ssh to a stopped RunPod pod
        // fails (255, ssh's own status).
        let unreachable = format!(
            "if [ -e {} ]; then echo 'ssh: connect to {}: the pod is not running' >&2; exit 255; fi\n",
            super::shell_quote(&self.dirs.stopped.display().to_string()),
            self.pod_id,
        );
        let mut command = tokio::process::Command::new("bash");
        command
            .arg("-c")
            .arg(format!("{unreachable}{}", self.localize(script)))
            .current_dir(self.home())
            .env("HOME", self.home())
            .env("RUNPOD_POD_ID", &self.pod_id)
            // Like RunPod's, the pod has a key of its own; the user's never
            // reaches it.
            .env("RUNPOD_API_KEY", format!("sim-pod-key-{}", self.pod_id))
            .env("RPD_SIMULATED_POD", "1");
        command
    }

    fn localize(&self, text: &str) -> String {
        let volume = self.dirs.volume.display().to_string();
        let home = self.home().display().to_string();
        let mapped = replace_path_prefix(text, &self.mount, &volume);
        replace_path_prefix(&mapped, "/root", &home)
    }

    async fn push(
        &self,
        source: &str,
        destination: &str,
        excludes: &[String],
        delete: bool,
    ) -> TransportResult<TransferStats> {
        let mut target = self.local_path(destination);
        if destination.ends_with('/') {
            target.push("");
        }
        let what = format!("copy {source} to {destination}");
        self.reachable(&what)?;
        copy(source.to_string(), target, excludes, delete, what).await
    }

    async fn pull(
        &self,
        remote: &str,
        local: &Path,
        excludes: &[String],
        delete: bool,
    ) -> TransportResult<TransferStats> {
        let mut source = self.local_path(remote).display().to_string();
        if remote.ends_with('/') && !source.ends_with('/') {
            source.push('/');
        }
        let what = format!("copy {remote} from the pod");
        self.reachable(&what)?;
        copy(source, local.to_path_buf(), excludes, delete, what).await
    }

    fn describe(&self) -> String {
        format!(
            "simulated pod {} ({})",
            self.pod_id,
            self.dirs.volume.display()
        )
    }
}

/// One file to place on the pod.
pub struct RemoteFile<'a> {
    pub path: &'a str,
    pub contents: &'a [u8],
    pub mode: u32,
}

/// A bash script that writes `files` and then runs `then`: each file created
/// private, filled from base64 (no heredoc delimiter to collide with),
/// given its mode and moved into place. Paths are localized one by one; the
/// contents never are (a secret is written exactly as it is).
pub fn write_files_script(transport: &dyn Transport, files: &[RemoteFile], then: &str) -> String {
    use base64::Engine;
    let mut script = String::from("set -e\numask 077\n");
    for file in files {
        let local = transport.localize(file.path);
        let path = super::shell_quote(&local);
        let tmp = super::shell_quote(&format!("{local}.rpd-tmp"));
        let data = base64::engine::general_purpose::STANDARD.encode(file.contents);
        script.push_str(&format!(
            "mkdir -p \"$(dirname {path})\"\nprintf '%s' '{data}' | base64 -d > {tmp}\nchmod {mode:o} {tmp}\nmv -f {tmp} {path}\n",
            mode = file.mode
        ));
    }
    script.push_str(then);
    script.push('\n');
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_path_prefixes_are_mapped() {
        let text = "cd /workspace/job && ls /workspace; echo /x/workspace /workspace2 $HOME/workspace \"/workspace\"";
        assert_eq!(
            replace_path_prefix(text, "/workspace", "/sim/v"),
            "cd /sim/v/job && ls /sim/v; echo /x/workspace /workspace2 $HOME/workspace \"/sim/v\""
        );
        assert_eq!(
            replace_path_prefix("/root/x /rooted", "/root", "/c/root"),
            "/c/root/x /rooted"
        );
    }
}
