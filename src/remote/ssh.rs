//! Real pods: `ssh` and `rsync` over ONE connection per run. The first
//! connection is an OpenSSH ControlMaster; every later ssh and rsync rides
//! on it (ControlPath), so a run costs one handshake however many steps it
//! has. Host keys are accepted on first use into rpd's own known_hosts,
//! under an alias per pod boot (a resumed pod regenerates its host key,
//! since /etc/ssh lives on the wiped container disk).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::shell_quote;
use super::sshd_probe::{self, SSHD_PROBE};
use super::sync::TransferStats;
use super::transport::{Transport, TransportError, TransportResult};
use crate::model::SshEndpoint;
use crate::retry::{self, Backoff};

pub struct SshTransport {
    endpoint: SshEndpoint,
    key: PathBuf,
    known_hosts: PathBuf,
    alias: String,
    socket: PathBuf,
    handshakes: AtomicU32,
    closed: AtomicBool,
}

/// How long an idle master outlives rpd if rpd dies without closing it.
const CONTROL_PERSIST_SECS: u32 = 120;

/// Where rpd keeps its known_hosts: beside its other per-user data.
pub fn known_hosts_path() -> PathBuf {
    crate::env::get("RPD_KNOWN_HOSTS")
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("rpd").join("known_hosts")))
        .unwrap_or_else(|| PathBuf::from(".rpd-known_hosts"))
}

/// A short directory for control sockets (a unix socket path must stay
/// under ~100 bytes, which TMPDIR does not guarantee).
fn socket_dir() -> PathBuf {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    PathBuf::from(format!("/tmp/rpd-ssh-{uid}"))
}

impl SshTransport {
    /// Opens the shared connection, retrying until `deadline` while sshd
    /// comes up (a mapped port answers before sshd does).
    pub async fn connect(
        endpoint: SshEndpoint,
        key: &Path,
        alias: &str,
        deadline: Instant,
    ) -> TransportResult<SshTransport> {
        if !key.exists() {
            return Err(TransportError::Failed {
                what: "ssh".into(),
                detail: format!(
                    "the SSH key {} does not exist: create one (ssh-keygen -t ed25519) and register its public key with RunPod, or set ssh.key_path",
                    key.display()
                ),
            });
        }
        let known_hosts = known_hosts_path();
        if let Some(dir) = known_hosts.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let dir = socket_dir();
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700));
        let socket = dir.join(format!(
            "{}-{}.sock",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ));
        let transport = SshTransport {
            endpoint,
            key: key.to_path_buf(),
            known_hosts,
            alias: alias.to_string(),
            socket,
            handshakes: AtomicU32::new(0),
            closed: AtomicBool::new(false),
        };
        // sshd answers a while after the port does: wait for its banner,
        // which is cheap to read often, then shake hands. Whatever the wait
        // finds, the handshake says why it fails. An ssh config of the
        // user's (RPD_SSH_CONFIG) may route elsewhere: no wait then.
        if std::env::var_os("RPD_SSH_CONFIG").is_none() {
            let endpoint = &transport.endpoint;
            let _ =
                sshd_probe::wait_for_banner(&endpoint.host, endpoint.port, deadline, &SSHD_PROBE)
                    .await;
        }
        // Try again, less and less often, until the deadline; a refusal
        // ends it at once.
        let backoff = Backoff::exponential(Duration::from_millis(500))
            .max_delay(Duration::from_secs(15))
            .until(deadline);
        retry::retry(
            &backoff,
            || transport.start_master(),
            TransportError::is_retryable,
            |_| None,
        )
        .await?;
        Ok(transport)
    }

    /// Options every ssh shares; the first ones make it non-interactive.
    fn base_options(&self) -> Vec<String> {
        let mut options = vec![
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-i".into(),
            self.key.display().to_string(),
            "-p".into(),
            self.endpoint.port.to_string(),
            "-o".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "-o".into(),
            "StrictHostKeyChecking=accept-new".into(),
            "-o".into(),
            format!("HostKeyAlias={}", self.alias),
            "-o".into(),
            "ServerAliveInterval=30".into(),
            "-o".into(),
            "ServerAliveCountMax=6".into(),
            "-o".into(),
            "ConnectTimeout=10".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
            "-o".into(),
            format!("ControlPath={}", self.socket.display()),
        ];
        if let Some(config) = crate::env::get("RPD_SSH_CONFIG") {
            options.extend(["-F".into(), config]);
        }
        options
    }

    fn target(&self) -> String {
        format!("{}@{}", self.endpoint.user, self.endpoint.host)
    }

    async fn start_master(&self) -> TransportResult<()> {
        let mut command = tokio::process::Command::new("ssh");
        command
            .args(self.base_options())
            .args(["-o", "ControlMaster=yes", "-N", "-f"])
            .arg("-o")
            .arg(format!("ControlPersist={CONTROL_PERSIST_SECS}"))
            .arg(self.target())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        self.handshakes.fetch_add(1, Ordering::SeqCst);
        let out = tokio::time::timeout(Duration::from_secs(30), command.output())
            .await
            .map_err(|_| TransportError::Timeout {
                what: format!("ssh to {}:{}", self.endpoint.host, self.endpoint.port),
                secs: 30,
            })?
            .map_err(|e| {
                TransportError::Io(format!("cannot run ssh: {e} (is OpenSSH installed?)"))
            })?;
        if out.status.success() {
            return Ok(());
        }
        Err(master_failure(
            &self.endpoint,
            &self.key,
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }

    /// `ssh -O exit` for the master, the first time it is asked for.
    fn exit_master(&self) -> Option<std::process::Command> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return None;
        }
        let mut command = std::process::Command::new("ssh");
        command
            .args(self.base_options())
            .args(["-O", "exit"])
            .arg(self.target())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Some(command)
    }

    /// The `-e` command rsync runs: ssh over the shared connection.
    fn rsync_shell(&self) -> String {
        let mut parts = vec!["ssh".to_string()];
        parts.extend(self.base_options().iter().map(|o| shell_quote(o)));
        parts.extend(["-o".into(), "ControlMaster=no".into()]);
        parts.join(" ")
    }

    async fn rsync(
        &self,
        from: &str,
        to: &str,
        excludes: &[String],
        delete: bool,
        rsync_path: Option<&str>,
        what: String,
    ) -> TransportResult<TransferStats> {
        let mut command = tokio::process::Command::new("rsync");
        if let Some(path) = rsync_path {
            command.arg(format!("--rsync-path={path}"));
        }
        command
            .args([
                "-az",
                "--no-owner",
                "--no-group",
                "--no-perms",
                "--omit-dir-times",
                "--stats",
            ])
            // No progress for this long means a dead connection, not a slow one.
            .arg("--timeout=300")
            .arg("-e")
            .arg(self.rsync_shell());
        if delete {
            command.arg("--delete");
        }
        for exclude in excludes {
            command.arg(format!("--exclude={exclude}"));
        }
        command
            .arg("--")
            .arg(from)
            .arg(to)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = command.output().await.map_err(|e| {
            TransportError::Io(format!("cannot run rsync: {e} (is rsync installed?)"))
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            let hint = if stderr.contains("command not found") || out.status.code() == Some(127) {
                " (the pod has no rsync: install it in `setup:`, e.g. apt-get install -y rsync)"
            } else {
                ""
            };
            return Err(TransportError::Failed {
                what,
                detail: format!("{stderr}{hint}"),
            });
        }
        Ok(parse_stats(&String::from_utf8_lossy(&out.stdout)))
    }

    fn remote(&self, path: &str) -> String {
        format!("{}:{}", self.target(), path)
    }
}

/// What ssh's complaint on stderr means: sshd refused the key or the host
/// key did not match (final), or anything else (sshd may not be up yet).
fn master_failure(endpoint: &SshEndpoint, key: &Path, detail: String) -> TransportError {
    let key = key.to_path_buf();
    if detail.contains("Permission denied") {
        TransportError::AuthRefused { detail, key }
    } else if detail.contains("Host key verification failed") {
        TransportError::HostKeyRejected { detail, key }
    } else {
        TransportError::Failed {
            what: format!("ssh to {}:{}", endpoint.host, endpoint.port),
            detail,
        }
    }
}

/// Files and bytes rsync really sent (`--stats`): "Number of regular files
/// transferred" and "Total transferred file size".
fn parse_stats(text: &str) -> TransferStats {
    let number = |label: &str| -> u64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|rest| {
                rest.trim_start_matches(':')
                    .split_whitespace()
                    .next()
                    .unwrap_or("0")
                    .replace(',', "")
                    .parse()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    };
    TransferStats {
        files: number("Number of regular files transferred"),
        bytes: number("Total transferred file size"),
    }
}

#[async_trait]
impl Transport for SshTransport {
    fn command(&self, script: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("ssh");
        command
            .args(self.base_options())
            .args(["-o", "ControlMaster=no", "-T"])
            .arg(self.target())
            .arg("--")
            .arg(format!("bash -c {}", shell_quote(script)));
        command
    }

    fn localize(&self, text: &str) -> String {
        text.to_string()
    }

    async fn push(
        &self,
        source: &str,
        destination: &str,
        excludes: &[String],
        delete: bool,
    ) -> TransportResult<TransferStats> {
        // rsync creates only the last directory of the destination; the
        // parents are made in the same session (no extra round trip).
        let parent = if destination.ends_with('/') {
            destination.to_string()
        } else {
            Path::new(destination)
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "/".into())
        };
        let rsync_path = format!("mkdir -p {} && rsync", shell_quote(&parent));
        self.rsync(
            source,
            &self.remote(destination),
            excludes,
            delete,
            Some(&rsync_path),
            format!("rsync {source} to {destination}"),
        )
        .await
    }

    async fn pull(
        &self,
        remote: &str,
        local: &Path,
        excludes: &[String],
        delete: bool,
    ) -> TransportResult<TransferStats> {
        let mut target = local.display().to_string();
        if remote.ends_with('/') && !target.ends_with('/') {
            target.push('/');
        }
        self.rsync(
            &self.remote(remote),
            &target,
            excludes,
            delete,
            None,
            format!("rsync {remote} from the pod"),
        )
        .await
    }

    fn handshakes(&self) -> u32 {
        self.handshakes.load(Ordering::SeqCst)
    }

    async fn close(&self) {
        if let Some(exit) = self.exit_master() {
            let _ = tokio::process::Command::from(exit).status().await;
            let _ = std::fs::remove_file(&self.socket);
        }
    }

    fn describe(&self) -> String {
        format!("ssh {}:{}", self.endpoint.host, self.endpoint.port)
    }
}

impl Drop for SshTransport {
    /// A transport dropped on an error path still ends its master.
    fn drop(&mut self) {
        if let Some(mut exit) = self.exit_master() {
            let _ = exit.status();
            let _ = std::fs::remove_file(&self.socket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_key_or_host_key_is_final_anything_else_is_tried_again() {
        let endpoint = SshEndpoint {
            host: "203.0.113.7".into(),
            port: 22022,
            user: "root".into(),
        };
        let key = Path::new("/home/me/.ssh/id_ed25519");
        let denied = master_failure(
            &endpoint,
            key,
            "root@203.0.113.7: Permission denied (publickey).".into(),
        );
        assert!(
            matches!(denied, TransportError::AuthRefused { .. }),
            "{denied:?}"
        );
        assert!(!denied.is_retryable());
        assert_eq!(
            denied.to_string(),
            "ssh failed: root@203.0.113.7: Permission denied (publickey). (the pod refused the key /home/me/.ssh/id_ed25519: register its public key with RunPod before the pod is created; keys reach only pods created afterwards)"
        );
        let host_key = master_failure(&endpoint, key, "Host key verification failed.".into());
        assert!(
            matches!(host_key, TransportError::HostKeyRejected { .. }),
            "{host_key:?}"
        );
        assert!(!host_key.is_retryable());
        let refused = master_failure(
            &endpoint,
            key,
            "ssh: connect to host 203.0.113.7 port 22022: Connection refused".into(),
        );
        assert!(refused.is_retryable());
        assert_eq!(
            refused.to_string(),
            "ssh to 203.0.113.7:22022 failed: ssh: connect to host 203.0.113.7 port 22022: Connection refused"
        );
    }

    #[test]
    fn rsync_stats_are_read() {
        let text = "Number of files: 4 (reg: 3, dir: 1)\nNumber of regular files transferred: 2\nTotal file size: 1,234 bytes\nTotal transferred file size: 1,034 bytes\n";
        assert_eq!(
            parse_stats(text),
            TransferStats {
                files: 2,
                bytes: 1034
            }
        );
    }
}
