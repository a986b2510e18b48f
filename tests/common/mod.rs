//! The CLI tests' world: each test gets a fresh directory with its own
//! simulator and a copy of `examples/`, runs the built `rpd` in it
//! ([`Test`], in test.rs, declares inputs and compares exact output) and
//! looks at what happened (`pods()`, `state()`, `calls()`). Nothing here
//! reaches any network.

#![allow(dead_code)]

pub mod expect;
pub mod guard;
pub mod hello;
pub mod sshd;
mod test;

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

#[allow(unused_imports)]
pub use test::{Ran, Test, unindent};

/// Polls `done` every 20 ms until it holds; panics naming `what` if it does
/// not within `within`. The only way tests wait for another process.
#[track_caller]
pub fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `text` with `needle` replaced by `with`; panics unless `needle` occurs
/// exactly once, so an edit can never silently change nothing.
#[track_caller]
pub fn edited(text: &str, needle: &str, with: &str) -> String {
    let found = text.matches(needle).count();
    assert_eq!(
        found, 1,
        "the edit expects {needle:?} exactly once, found it {found} times in:\n{text}"
    );
    text.replacen(needle, with, 1)
}

/// How the plan's warning that the simulator's commands run without a
/// sandbox starts.
pub const UNSANDBOXED: &str = "Warning: the simulator runs the job's commands";

/// The public half of the world's default key (`~/.ssh/id_ed25519.pub`).
pub const USER_PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJwZHRlc3RrZXlycGR0ZXN0a2V5cnBkdGVzdGtleQ ana@laptop";

pub struct World {
    pub dir: TempDir,
}

pub struct Run {
    pub output: Output,
    pub args: Vec<String>,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn context(&self) -> String {
        format!(
            "rpd {}\n--- status: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args.join(" "),
            self.output.status.code(),
            self.stdout(),
            self.stderr()
        )
    }

    #[track_caller]
    pub fn status(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit status\n{}",
            self.context()
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.context()))
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Panics unless `doc` is a JSON plan that `schemas/plan.schema.json`
/// accepts, naming each fault and where it is.
#[track_caller]
pub fn assert_valid_plan(doc: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("schemas/plan.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the plan schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the plan does not match schemas/plan.schema.json:\n{}\n{doc:#}",
        errors.join("\n")
    );
}

/// The `.yaml` files of `fixtures/<dir>` (`valid`, `invalid`), sorted.
pub fn fixture_configs(dir: &str) -> Vec<PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(repo_root().join("fixtures").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
}

impl World {
    /// A fresh directory holding a simulator and a copy of `examples/`,
    /// with fast boots so that tests do not wait on the simulated pull.
    pub fn new() -> World {
        let world = World {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        copy_dir(&repo_root().join("examples"), &world.path("examples"));
        // The default ssh.key_path and its public half must exist for the
        // real providers (the public half goes to the pod as PUBLIC_KEY); a
        // pod that is reached uses the test sshd's key instead.
        world.write("home/.ssh/id_ed25519", "not a real key\n");
        world.write("home/.ssh/id_ed25519.pub", &format!("{USER_PUBLIC_KEY}\n"));
        world.rpd(&["sim", "boot", "30", "10"]).status(0);
        world
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn sim_dir(&self) -> PathBuf {
        self.path("sim")
    }

    /// A file by which a simulated job and the test signal each other: in
    /// the simulator's directory, the one place of this machine outside
    /// the pod's disks that the pod's commands may write (src/remote/
    /// sandbox.rs).
    pub fn signal_path(&self, name: &str) -> PathBuf {
        let dir = self.sim_dir().join("signals");
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// `rpd args...` in this world (the simulator, no colour, its own
    /// HOME), as a plain process; tests add to its environment.
    pub fn std_command<S: AsRef<OsStr>>(&self, args: &[S]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("rpd"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .stdin(Stdio::null())
            .env("RPD_SIM_DIR", self.sim_dir())
            .env("RPD_PROVIDER", "sim")
            .env("HOME", self.path("home"))
            .env("RPD_DATA_DIR", self.path("home/.local/share/rpd"))
            .env("NO_COLOR", "1")
            .env_remove("RPD_FAULT")
            .env_remove("RUNPOD_API_KEY")
            // No test reaches RunPod: not even a pod's guard, which stops
            // the pod through this API (tests of the REST provider set it).
            .env(
                "RPD_RUNPOD_API_URL",
                format!("http://127.0.0.1:{}", closed_port()),
            );
        cmd
    }

    /// Runs `rpd args...` to set a scene or read the simulator; a step whose
    /// output matters is a [`Test`].
    pub fn rpd(&self, args: &[&str]) -> Run {
        self.rpd_env(args, &[])
    }

    pub fn rpd_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.std_command(args);
        cmd.envs(env.iter().copied());
        Run {
            output: cmd.output().expect("rpd runs"),
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Rewrites the file `rel` with `needle` replaced by `with`; panics unless
    /// `needle` occurs exactly once (see [`edited`]).
    #[track_caller]
    pub fn edit(&self, rel: &str, needle: &str, with: &str) {
        let text = edited(&self.read(rel), needle, with);
        self.write(rel, &text);
    }

    /// Writes examples/hello.yaml for a pod reached over `sshd`: the example
    /// with its volume mount a real directory of this machine (the "pod" is
    /// 127.0.0.1) and the test sshd's client key. Returns the mount.
    pub fn hello_over_ssh(&self, sshd: &sshd::Sshd) -> String {
        let mount = self.path("pod-volume").display().to_string();
        std::fs::create_dir_all(&mount).unwrap();
        let key = sshd.key().display().to_string();
        self.write(
            "examples/hello.yaml",
            &format!(
                r#"schema_version: 2
name: hello

pod:
  image: runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404
  datacenters: [EU-RO-1, US-CA-2]
  gpu_order: ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"]
  cloud_type: SECURE
  container_disk_gb: 20

ssh:
  key_path: {key}

storage:
  mode: ephemeral
  volume_gb: 20
  volume_mount: {mount}

budget:
  cost_cap_usd: 1.0
  assumed_hourly_rate_usd: 0.5
  max_runtime_minutes: 10

setup:
  - command: 'command -v rsync >/dev/null'
    timeout_sec: 300

staging:
  - label: payload
    source: hello/
    destination: {mount}/hello/payload/

run:
  script_path: {mount}/hello/run.sh
  log_path: {mount}/hello/run.log
  success_marker: HELLO_DONE
  body: |
    set -euo pipefail
    cat {mount}/hello/payload/message.txt
    runs=$(( $(cat {mount}/hello/runs 2>/dev/null || echo 0) + 1 ))
    echo "$runs" > {mount}/hello/runs
    mkdir -p {mount}/hello/out
    echo "run $runs of {{job_name}} on pod ${{RUNPOD_POD_ID:-unknown}}" | tee {mount}/hello/out/result.txt
    echo HELLO_DONE

artifacts:
  - label: result
    remote_path: {mount}/hello/out/
    local_path: artifacts/hello/

lifecycle:
  on_success: recycle
  on_failure: stop
"#
            ),
        );
        mount
    }

    /// Starts `rpd apply -y examples/hello.yaml` in the background with
    /// hello's job held: it starts, then waits (up to 2 minutes, then fails)
    /// until [`Background::release_job`]. Returns once the job is running.
    pub fn apply_in_background(&self) -> Background {
        self.apply_in_background_env(&[])
    }

    /// [`World::apply_in_background`] with more environment.
    pub fn apply_in_background_env(&self, env: &[(&str, &str)]) -> Background {
        let started = self.signal_path("job-started");
        let release = self.signal_path("job-released");
        let held = edited(
            &self.read("examples/hello.yaml"),
            "    echo HELLO_DONE\n",
            &format!(
                "    touch {started}\n    for _ in $(seq 1200); do [ -e {release} ] && break; sleep 0.1; done\n    [ -e {release} ]\n    echo HELLO_DONE\n",
                started = started.display(),
                release = release.display(),
            ),
        );
        self.write("examples/hello.yaml", &held);
        let mut background = self.spawn_env(&["apply", "-y", "examples/hello.yaml"], env);
        background.release = Some(release);
        wait_until(Duration::from_secs(30), "the job to start", || {
            started.exists()
        });
        background
    }

    /// Starts `rpd args...` in the background, its output going to files
    /// that [`Background::stderr_so_far`] can read while it runs.
    pub fn spawn(&self, args: &[&str]) -> Background {
        self.spawn_env(args, &[])
    }

    /// [`World::spawn`] with more environment.
    pub fn spawn_env(&self, args: &[&str], env: &[(&str, &str)]) -> Background {
        static SPAWNED: AtomicUsize = AtomicUsize::new(0);
        let n = SPAWNED.fetch_add(1, Ordering::Relaxed);
        let stdout = self.path(&format!("background-{n}.stdout"));
        let stderr = self.path(&format!("background-{n}.stderr"));
        let child = self
            .std_command(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            // A group of its own, as a terminal gives a command: what a
            // closed laptop suspends (see [`Background::signal_group`]).
            .process_group(0)
            .spawn()
            .expect("rpd starts");
        Background {
            child: Some(child),
            stdout,
            stderr,
            release: None,
            marker: None,
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Starts `rpd args...` with `RPD_FAULT=<point>:pause` and returns once
    /// it waits at that point (see src/fault.rs): a signal sent now lands
    /// exactly there. [`Background::go_on`] lets it carry on without one.
    pub fn spawn_paused_at(&self, point: &str, args: &[&str]) -> Background {
        static PAUSES: AtomicUsize = AtomicUsize::new(0);
        let n = PAUSES.fetch_add(1, Ordering::Relaxed);
        let marker = self.path(&format!("fault-{n}.paused"));
        let fault = format!("{point}:pause");
        let marker_text = marker.display().to_string();
        let mut background = self.spawn_env(
            args,
            &[("RPD_FAULT", &fault), ("RPD_FAULT_MARKER", &marker_text)],
        );
        wait_until(
            Duration::from_secs(60),
            &format!("rpd to pause at {point}"),
            || marker.exists() || background.has_exited(),
        );
        assert!(
            marker.exists(),
            "rpd {} ended before it reached {point}:
{}",
            args.join(" "),
            background.stderr_so_far()
        );
        background.marker = Some(marker);
        background
    }

    /// The run directories under examples/artifacts/runpod, oldest first.
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.path("examples/artifacts/runpod"))
            .map(|entries| entries.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs
    }

    /// `rpd sim pods --json`.
    pub fn pods(&self) -> Vec<serde_json::Value> {
        self.rpd(&["sim", "pods", "--json"])
            .status(0)
            .json()
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The ids of the simulated pods.
    pub fn pod_ids(&self) -> Vec<String> {
        self.pods()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// `rpd sim calls --json`: provider calls since the start or the last
    /// [`World::reset_calls`]; a call that failed also counts as `VERB_failed`.
    pub fn calls(&self) -> serde_json::Value {
        self.rpd(&["sim", "calls", "--json"]).status(0).json()
    }

    /// The counts of these verbs in [`World::calls`] (0 for a verb never
    /// called), e.g. `["start", "create"]`.
    pub fn call_counts(&self, verbs: &[&str]) -> Vec<u64> {
        let calls = self.calls();
        verbs
            .iter()
            .map(|verb| calls[*verb].as_u64().unwrap_or(0))
            .collect()
    }

    /// Sets the simulator's call counts back to zero.
    pub fn reset_calls(&self) {
        self.rpd(&["sim", "calls", "--reset"]).status(0);
    }

    pub fn state(&self, rel: &str) -> Option<serde_json::Value> {
        let path = self.path(rel);
        path.exists()
            .then(|| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
    }

    /// Replaces what changes from run to run, so that output can be compared
    /// exactly: this world's directory (`[TMP]`), simulated pod ids
    /// (`[POD]`), run stamps (`[STAMP]`), a run directory's own part
    /// (`[STAMP]-hello-[RUN]`), today's date (`[DATE]`), times of day
    /// (`[TIME]`) and
    /// elapsed times (`after [ELAPSED]`, `in [ELAPSED]`).
    pub fn normalize(&self, text: &str) -> String {
        let mut out = text.to_string();
        let root = self.dir.path();
        for dir in [std::fs::canonicalize(root).ok(), Some(root.to_path_buf())]
            .into_iter()
            .flatten()
        {
            out = out.replace(&dir.display().to_string(), "[TMP]");
        }
        let pod = regex::Regex::new(r"\b[a-z0-9]{14}\b").unwrap();
        let out = pod.replace_all(&out, |c: &regex::Captures| {
            let t = &c[0];
            // Simulated ids always mix letters and digits; words never do.
            if t.chars().any(|c| c.is_ascii_digit()) && t.chars().any(|c| c.is_ascii_lowercase()) {
                "[POD]".to_string()
            } else {
                t.to_string()
            }
        });
        let stamp = regex::Regex::new(r"\d{8}T\d{6}Z").unwrap();
        let out = stamp.replace_all(&out, "[STAMP]");
        // A run directory ends in 6 hex of its run.
        let run = regex::Regex::new(r"(\[STAMP\]-[A-Za-z0-9._-]+?)-[0-9a-f]{6}\b").unwrap();
        let out = run.replace_all(&out, "$1-[RUN]");
        // Only today's date (or yesterday's, past midnight) is volatile; a
        // date rpd prints as a fact stays.
        let today = chrono::Utc::now().date_naive();
        let recent = [today, today.pred_opt().unwrap()].map(|d| d.format("%Y-%m-%d").to_string());
        let date = regex::Regex::new(&format!(
            r"\b({}|{})(T\d\d:\d\d:\d\dZ)?\b",
            recent[0], recent[1]
        ))
        .unwrap();
        let out = date.replace_all(&out, "[DATE]");
        let time = regex::Regex::new(r"\b\d\d:\d\d:\d\d\b").unwrap();
        let out = time.replace_all(&out, "[TIME]");
        // A time of day to the minute (the guard's deadline in a plan).
        let minute = regex::Regex::new(r"\b\d\d:\d\d UTC\b").unwrap();
        let out = minute.replace_all(&out, "[TIME] UTC");
        let elapsed =
            regex::Regex::new(r"\b(after|in) (\d+\.\d+s|\d+m\d\ds|\d+h\d\dm|\d+s)\b").unwrap();
        let out = elapsed.replace_all(&out, "$1 [ELAPSED]");
        // Whether this machine has a sandbox for the simulator's commands
        // is the machine's (tests/sim_sandbox.rs looks for the warning).
        let alone = regex::Regex::new(&format!(r"\n\n{UNSANDBOXED}[^\n]*\n\n")).unwrap();
        let out = alone.replace_all(&out, "\n\n");
        let among = regex::Regex::new(&format!(r"(?m)^{UNSANDBOXED}[^\n]*\n")).unwrap();
        among.replace_all(&out, "").into_owned()
    }
}

/// An `rpd` running in the background (see [`World::spawn`] and
/// [`World::apply_in_background`]). Dropped unfinished, it is killed.
pub struct Background {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
    /// The file that lets a held job finish.
    release: Option<PathBuf>,
    /// The marker of a fault point rpd waits at.
    marker: Option<PathBuf>,
    args: Vec<String>,
}

impl Background {
    /// Lets an rpd paused at a fault point carry on, with no signal.
    pub fn go_on(&self) {
        let marker = self.marker.as_ref().expect("paused at a fault point");
        std::fs::remove_file(marker).expect("remove the fault marker");
    }

    /// Whether the process has exited (it is not waited for here).
    pub fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Lets the held job print its success marker and exit 0.
    pub fn release_job(&self) {
        let release = self.release.as_ref().expect("a held job");
        std::fs::write(release, "").expect("release the job");
    }

    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.child.as_ref().expect("running").id();
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe { libc::kill(pid as libc::pid_t, signal) };
    }

    /// Sends `signal` to rpd's whole process group (rpd and the processes
    /// it started here), as a laptop going to sleep (SIGSTOP) and waking
    /// (SIGCONT) does.
    pub fn signal_group(&self, signal: libc::c_int) {
        let pid = self.child.as_ref().expect("running").id();
        // SAFETY: kill has no memory preconditions; the group is our
        // child's own (spawned with process_group(0)).
        unsafe { libc::kill(-(pid as libc::pid_t), signal) };
    }

    /// What it has printed on stderr so far.
    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for rpd to exit and returns what it printed.
    pub fn wait(mut self) -> Run {
        let mut child = self.child.take().expect("running");
        let status = child.wait().expect("rpd ends");
        let read = |path: &Path| std::fs::read(path).expect("output file");
        Run {
            output: Output {
                status,
                stdout: read(&self.stdout),
                stderr: read(&self.stderr),
            },
            args: self.args.clone(),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(release) = &self.release {
                let _ = std::fs::write(release, "");
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".rpd" || name == "artifacts" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The fake `runpodctl` built with the tests (tests/fakes/runpodctl/).
pub fn fake_runpodctl() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fake-runpodctl"))
}

/// A TCP port on 127.0.0.1 that nothing listens on (for an SSH endpoint
/// that must not answer).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `--provider runpodctl` against the fake, over this world's simulator:
/// `rpd sim ...` sees and changes what the fake runpodctl serves.
impl World {
    /// `bin/runpodctl`: the fake under the real name.
    pub fn install_runpodctl(&self) -> PathBuf {
        let bin = self.path("bin");
        let link = bin.join("runpodctl");
        if !link.exists() {
            std::fs::create_dir_all(&bin).unwrap();
            std::os::unix::fs::symlink(fake_runpodctl(), &link).unwrap();
        }
        link
    }

    pub fn ctl_log(&self) -> PathBuf {
        self.path("runpodctl.log")
    }

    /// The environment of an rpd run against the fake.
    pub fn ctl_env(&self) -> Vec<(String, String)> {
        let link = self.install_runpodctl();
        [
            ("RPD_PROVIDER", "runpodctl".to_string()),
            ("RPD_RUNPODCTL", link.display().to_string()),
            ("RPD_RUNPODCTL_POLL", "100ms".to_string()),
            ("FAKE_RUNPODCTL_DIR", self.sim_dir().display().to_string()),
            ("FAKE_RUNPODCTL_LOG", self.ctl_log().display().to_string()),
            ("FAKE_RUNPODCTL_VERSION", "2.8.0".to_string()),
            ("RUNPOD_API_KEY", "test-key-not-real".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Every argv the fake runpodctl was run with, in order.
    pub fn invocations(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.ctl_log())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line is a JSON array"))
            .collect()
    }

    /// The invocations that start with these words (`["pod", "create"]`).
    pub fn invoked(&self, words: &[&str]) -> Vec<Vec<String>> {
        self.invocations()
            .into_iter()
            .filter(|argv| argv.len() >= words.len() && argv.iter().zip(words).all(|(a, w)| a == w))
            .collect()
    }

    pub fn clear_invocations(&self) {
        let _ = std::fs::remove_file(self.ctl_log());
    }

    /// Runs the fake runpodctl itself (as a user would), over this world.
    pub fn runpodctl(&self, args: &[&str]) -> serde_json::Value {
        let out = std::process::Command::new(fake_runpodctl())
            .args(args)
            .env("FAKE_RUNPODCTL_DIR", self.sim_dir())
            .env("FAKE_RUNPODCTL_LOG", self.path("setup-runpodctl.log"))
            .env("RUNPOD_API_KEY", "test-key-not-real")
            .output()
            .expect("fake runpodctl runs");
        assert!(
            out.status.success(),
            "runpodctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    }
}
