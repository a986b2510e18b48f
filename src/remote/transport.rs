//! How the job reaches a pod. Two implementations share one trait: local
//! processes for the simulator (here) and ssh + rsync over one multiplexed
//! connection for real pods (`ssh.rs`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncReadExt;

use super::sandbox::{self, Sandbox};
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

/// The simulator's pods: bash and file copies on this machine. Every pod
/// path is the pod's own: under the volume mount its volume, anywhere else
/// its container disk (`/root`, `/tmp`, `/etc/hostname` alike), never this
/// machine's file of that name. Commands run in the sandbox
/// (`sandbox.rs`), which shows them the pod's disks at the pod's paths;
/// without one, the volume mount, `/root` and `/tmp` in their text are
/// rewritten to the disks (the plan warns that nothing else is kept in).
pub struct LocalTransport {
    dirs: LocalPodDirs,
    /// The volume mount, absolute and clean.
    mount: PathBuf,
    pod_id: String,
    sandbox: Sandbox,
}

/// Symlinks followed in one pod path before it is refused (Linux's own
/// limit).
const MAX_LINKS: usize = 40;

impl LocalTransport {
    /// A transport in this process's sandbox ([`sandbox::detect`]).
    pub fn new(dirs: LocalPodDirs, mount: &str, pod_id: &str) -> LocalTransport {
        LocalTransport::with_sandbox(dirs, mount, pod_id, sandbox::detect().clone())
    }

    pub fn with_sandbox(
        dirs: LocalPodDirs,
        mount: &str,
        pod_id: &str,
        sandbox: Sandbox,
    ) -> LocalTransport {
        // Absolute: bwrap mounts them from the command's working directory.
        let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.into());
        let dirs = LocalPodDirs {
            volume: absolute(&dirs.volume),
            container: absolute(&dirs.container),
            world: absolute(&dirs.world),
            stopped: absolute(&dirs.stopped),
        };
        for dir in sandbox::CONTAINER_DIRS {
            let _ = std::fs::create_dir_all(dirs.container.join(dir));
        }
        let _ = std::fs::create_dir_all(&dirs.volume);
        LocalTransport {
            dirs,
            mount: sandbox::pod_path(mount),
            pod_id: pod_id.to_string(),
            sandbox,
        }
    }

    fn home(&self) -> PathBuf {
        self.dirs.container.join("root")
    }

    /// Where the pod path `pod` (clean, absolute) is on this machine,
    /// symlinks not followed.
    fn disk_path(&self, pod: &Path) -> PathBuf {
        match pod.strip_prefix(&self.mount) {
            Ok(rest) => self.dirs.volume.join(rest),
            Err(_) => self
                .dirs
                .container
                .join(pod.strip_prefix("/").unwrap_or(pod)),
        }
    }

    /// Where `remote` is on this machine, each symlink on the way followed
    /// as the pod would follow it (its target is a pod path too), so that
    /// no copy reads or writes through a link to this machine's files.
    pub fn host_path(&self, remote: &str) -> TransportResult<PathBuf> {
        let mut pod = sandbox::pod_path(remote);
        for _ in 0..MAX_LINKS {
            let Some((link, target, rest)) = self.first_symlink(&pod) else {
                return Ok(self.disk_path(&pod));
            };
            let base = link.parent().unwrap_or(Path::new("/")).join(target);
            pod = sandbox::pod_path(base.join(rest));
        }
        Err(TransportError::Failed {
            what: format!("the pod path {remote}"),
            detail: format!("more than {MAX_LINKS} symlinks on the way"),
        })
    }

    /// The first component of `pod` that is a symlink on the pod's disks:
    /// its pod path, its target and what follows it.
    fn first_symlink(&self, pod: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
        let mut prefix = PathBuf::from("/");
        let mut components = pod.components().skip(1);
        while let Some(component) = components.next() {
            prefix.push(component);
            let here = self.disk_path(&prefix);
            if std::fs::symlink_metadata(&here).is_ok_and(|m| m.file_type().is_symlink()) {
                let target = std::fs::read_link(&here).ok()?;
                return Some((prefix, target, components.collect()));
            }
        }
        None
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

/// Replaces each `(prefix, with)` where the prefix starts a path (not
/// inside a longer name), in one pass: a replacement is never looked into
/// again (the volume's directory may itself be under `/root` or `/tmp`).
/// Of two prefixes at one place, the longer wins.
fn replace_path_prefixes(text: &str, prefixes: &[(&str, &str)]) -> String {
    let mut prefixes: Vec<&(&str, &str)> = prefixes
        .iter()
        .filter(|(prefix, _)| !prefix.is_empty() && *prefix != "/")
        .collect();
    prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut copied = 0;
    while at < text.len() {
        let rest = &text[at..];
        let before = text[..at].chars().next_back();
        let starts_path = !before.is_some_and(|c| c.is_alphanumeric() || "_.-/~$".contains(c));
        let found = prefixes.iter().find(|(prefix, _)| {
            rest.starts_with(prefix)
                && !rest[prefix.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || "_.-".contains(c))
        });
        match found {
            Some((prefix, with)) if starts_path => {
                out.push_str(&text[copied..at]);
                out.push_str(with);
                at += prefix.len();
                copied = at;
            }
            _ => at += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    out.push_str(&text[copied..]);
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
        let mut command = match &self.sandbox {
            Sandbox::Bwrap(bwrap) => {
                let mut command = tokio::process::Command::new(bwrap);
                command
                    .args(sandbox::bwrap_options(&sandbox::PodDisks {
                        volume: &self.dirs.volume,
                        mount: &self.mount.to_string_lossy(),
                        container: &self.dirs.container,
                        world: &self.dirs.world,
                    }))
                    .args(["--", "bash", "-c", &format!("{unreachable}{script}")])
                    .env("HOME", "/root")
                    .env("TMPDIR", "/tmp");
                command
            }
            Sandbox::Unavailable(_) => {
                let mut command = tokio::process::Command::new("bash");
                command
                    .arg("-c")
                    .arg(format!("{unreachable}{}", self.localize(script)))
                    .env("HOME", self.home())
                    .env("TMPDIR", self.dirs.container.join("tmp"));
                command
            }
        };
        command
            .current_dir(self.home())
            .env("RUNPOD_POD_ID", &self.pod_id)
            // Like RunPod's, the pod has a key of its own; the user's never
            // reaches it.
            .env("RUNPOD_API_KEY", format!("sim-pod-key-{}", self.pod_id))
            .env("RPD_SIMULATED_POD", "1");
        // A session of its own, as a pod's processes are on another
        // machine: the terminal's Ctrl-C (sent to rpd's foreground process
        // group) never reaches the pod's side; only rpd decides what ends.
        // SAFETY: setsid is async-signal-safe and touches no memory of
        // this process; the child has only been forked.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        command
    }

    /// In the sandbox the pod's paths are the pod's own: nothing to
    /// rewrite. Without it, the volume mount, `/root` and `/tmp`; but never
    /// the simulator's own directory or this program (the guard's stop
    /// names both), which may well be under `/tmp` or `/root` themselves.
    fn localize(&self, text: &str) -> String {
        if let Sandbox::Bwrap(_) = self.sandbox {
            return text.to_string();
        }
        let mount = self.mount.to_string_lossy();
        let volume = self.dirs.volume.display().to_string();
        let dirs: Vec<(String, String)> = sandbox::CONTAINER_DIRS
            .iter()
            .map(|dir| {
                let on_disk = self.dirs.container.join(dir).display().to_string();
                (format!("/{dir}"), on_disk)
            })
            .collect();
        let kept: Vec<String> = [Some(self.dirs.world.clone()), std::env::current_exe().ok()]
            .into_iter()
            .flatten()
            .map(|path| path.display().to_string())
            .collect();
        let mut prefixes = vec![(mount.as_ref(), volume.as_str())];
        prefixes.extend(dirs.iter().map(|(pod, here)| (pod.as_str(), here.as_str())));
        // The longer prefix wins: these stay as they are.
        prefixes.extend(kept.iter().map(|path| (path.as_str(), path.as_str())));
        replace_path_prefixes(text, &prefixes)
    }

    async fn push(
        &self,
        source: &str,
        destination: &str,
        excludes: &[String],
        delete: bool,
    ) -> TransportResult<TransferStats> {
        let mut target = self.host_path(destination)?;
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
        let mut source = self.host_path(remote)?.display().to_string();
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

    /// A simulated pod in `dir`: `sim/pods/p/{volume,container}`.
    fn simulated(dir: &Path, sandbox: Sandbox) -> (LocalTransport, LocalPodDirs) {
        let root = dir.join("sim/pods/p");
        let dirs = LocalPodDirs {
            volume: root.join("volume"),
            container: root.join("container"),
            world: dir.join("sim"),
            stopped: root.join("stopped"),
        };
        let transport = LocalTransport::with_sandbox(dirs.clone(), "/workspace", "p", sandbox);
        (transport, dirs)
    }

    fn unsandboxed() -> Sandbox {
        Sandbox::Unavailable(crate::model::NoSandbox::TurnedOff)
    }

    #[test]
    fn every_pod_path_is_on_the_pods_own_disks() {
        let dir = tempfile::tempdir().unwrap();
        let (pod, dirs) = simulated(dir.path(), unsandboxed());
        let (v, c) = (&dirs.volume, &dirs.container);
        for (remote, here) in [
            ("/workspace/job/run.sh", v.join("job/run.sh")),
            ("/workspace", v.clone()),
            ("/tmp/x/run.sh", c.join("tmp/x/run.sh")),
            ("/etc/hostname", c.join("etc/hostname")),
            ("/root/.cache", c.join("root/.cache")),
            ("p/", c.join("root/p")),
            ("/workspace/../etc/passwd", c.join("etc/passwd")),
            ("/workspace2/x", c.join("workspace2/x")),
        ] {
            assert_eq!(pod.host_path(remote).unwrap(), here, "{remote}");
        }
    }

    #[test]
    fn a_symlink_on_the_pod_leads_to_the_pods_path_never_this_machines() {
        let dir = tempfile::tempdir().unwrap();
        let (pod, dirs) = simulated(dir.path(), unsandboxed());
        // What a job may leave: links to absolute and relative pod paths.
        std::os::unix::fs::symlink("/etc", dirs.volume.join("etc")).unwrap();
        std::os::unix::fs::symlink("../tmp/out", dirs.volume.join("out")).unwrap();
        std::os::unix::fs::symlink("/workspace/runs/3", dirs.volume.join("latest")).unwrap();
        std::os::unix::fs::symlink("loop-b", dirs.volume.join("loop-a")).unwrap();
        std::os::unix::fs::symlink("loop-a", dirs.volume.join("loop-b")).unwrap();
        let c = &dirs.container;
        assert_eq!(
            pod.host_path("/workspace/etc/hostname").unwrap(),
            c.join("etc/hostname")
        );
        assert_eq!(pod.host_path("/workspace/etc").unwrap(), c.join("etc"));
        assert_eq!(
            pod.host_path("/workspace/out/a").unwrap(),
            c.join("tmp/out/a")
        );
        assert_eq!(
            pod.host_path("/workspace/latest/").unwrap(),
            dirs.volume.join("runs/3")
        );
        assert!(pod.host_path("/workspace/loop-a/x").is_err());
    }

    #[test]
    fn without_a_sandbox_the_mount_root_and_tmp_are_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let (pod, dirs) = simulated(dir.path(), unsandboxed());
        assert_eq!(
            pod.localize("cat /workspace/a /tmp/b /root/c /tmpfile /opt/d"),
            format!(
                "cat {}/a {}/b {}/c /tmpfile /opt/d",
                dirs.volume.display(),
                dirs.container.join("tmp").display(),
                dirs.container.join("root").display()
            )
        );
        // The simulator's own directory (here under /tmp) is left alone.
        let signal = dirs.world.join("signals/go").display().to_string();
        assert_eq!(
            pod.localize(&format!("touch {signal}")),
            format!("touch {signal}")
        );
        let (sandboxed, _) = simulated(dir.path(), Sandbox::Bwrap("bwrap".into()));
        assert_eq!(sandboxed.localize("cat /workspace/a"), "cat /workspace/a");
    }

    /// The sandbox, where this machine has one (CI installs bubblewrap and
    /// sets RPD_REQUIRE_SANDBOX=1 so that this never silently passes).
    fn sandbox_here() -> Option<Sandbox> {
        match sandbox::detect() {
            Sandbox::Bwrap(bwrap) => Some(Sandbox::Bwrap(bwrap.clone())),
            Sandbox::Unavailable(why) => {
                assert!(
                    std::env::var_os("RPD_REQUIRE_SANDBOX").is_none(),
                    "RPD_REQUIRE_SANDBOX is set and the sandbox is unavailable: {why:?}"
                );
                eprintln!("skipped: no sandbox here ({why:?})");
                None
            }
        }
    }

    #[tokio::test]
    async fn sandboxed_commands_write_only_the_pods_disks_and_the_simulators_directory() {
        let Some(sandbox) = sandbox_here() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (pod, dirs) = simulated(dir.path(), sandbox);
        // A directory of this machine outside /tmp (which is the pod's).
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        let outside = tempfile::tempdir_in(&target).unwrap();
        let script = format!(
            "set -u\n\
             echo v > /workspace/v && echo t > /tmp/t && echo r > ~/r && echo w > {world}/w\n\
             echo x > {outside}/x 2>/dev/null || echo outside-refused\n\
             echo x > /etc/rpd-sandbox-test 2>/dev/null || echo etc-refused\n\
             cat /etc/hostname > /dev/null && sh -c 'echo machine-readable'\n\
             pwd; echo $HOME $TMPDIR",
            world = dirs.world.display(),
            outside = outside.path().display(),
        );
        let out = exec(&pod, &script, Duration::from_secs(30)).await.unwrap();
        assert_eq!(
            (out.status, out.stdout.as_str()),
            (
                Some(0),
                "outside-refused\netc-refused\nmachine-readable\n/root\n/root /tmp\n"
            ),
            "{}",
            out.stderr
        );
        for (file, text) in [
            (dirs.volume.join("v"), "v\n"),
            (dirs.container.join("tmp/t"), "t\n"),
            (dirs.container.join("root/r"), "r\n"),
            (dirs.world.join("w"), "w\n"),
        ] {
            assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "{file:?}");
        }
        assert!(!outside.path().join("x").exists());
        assert!(!Path::new("/etc/rpd-sandbox-test").exists());
    }

    #[tokio::test]
    async fn what_staging_puts_anywhere_on_the_pod_is_where_the_job_looks() {
        let Some(sandbox) = sandbox_here() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (pod, dirs) = simulated(dir.path(), sandbox);
        let source = dir.path().join("code");
        std::fs::create_dir_all(&source).unwrap();
        std::fs::write(source.join("main.py"), "print('staged')\n").unwrap();
        let source = format!("{}/", source.display());
        for destination in ["/opt/rpd-sandbox-test/code/", "/tmp/code/", "/root/code/"] {
            pod.push(&source, destination, &[], true).await.unwrap();
            let out = exec(
                &pod,
                &format!("cat {destination}main.py"),
                Duration::from_secs(30),
            )
            .await
            .unwrap();
            assert_eq!(
                out.stdout, "print('staged')\n",
                "{destination}: {}",
                out.stderr
            );
        }
        assert!(
            dirs.container
                .join("opt/rpd-sandbox-test/code/main.py")
                .exists()
        );
        assert!(!Path::new("/opt/rpd-sandbox-test").exists());
    }

    /// Issue 19, item 6: the simulated pod's processes are not in rpd's
    /// session, so a terminal's Ctrl-C (or a second one) cannot reach them.
    #[tokio::test]
    async fn the_simulated_pods_processes_run_in_a_session_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let (transport, _) = simulated(dir.path(), unsandboxed());
        let out = exec(
            &transport,
            "ps -o sid= -o pgid= -p $$",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        let ids: Vec<i32> = out
            .stdout
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        // SAFETY: getsid and getpgrp only read this process's ids.
        let (sid, pgrp) = unsafe { (libc::getsid(0), libc::getpgrp()) };
        assert_eq!(ids.len(), 2, "{out:?}");
        assert_ne!(ids[0], sid, "another session");
        assert_ne!(ids[1], pgrp, "another process group");
    }

    #[test]
    fn only_whole_path_prefixes_are_mapped() {
        let text = "cd /workspace/job && ls /workspace; echo /x/workspace /workspace2 $HOME/workspace \"/workspace\"";
        assert_eq!(
            replace_path_prefixes(text, &[("/workspace", "/sim/v")]),
            "cd /sim/v/job && ls /sim/v; echo /x/workspace /workspace2 $HOME/workspace \"/sim/v\""
        );
        assert_eq!(
            replace_path_prefixes("/root/x /rooted", &[("/root", "/c/root")]),
            "/c/root/x /rooted"
        );
        // A replacement is not looked into again; the longer prefix wins.
        assert_eq!(
            replace_path_prefixes(
                "/workspace/a /root/b /root/data/c",
                &[
                    ("/workspace", "/root/sim/v"),
                    ("/root", "/root/sim/c/root"),
                    ("/root/data", "/root/sim/v2"),
                ]
            ),
            "/root/sim/v/a /root/sim/c/root/b /root/sim/v2/c"
        );
    }
}
