//! A test builder in the style of `just`'s: each test gets a fresh
//! directory with its own simulator, runs the built `rpd` and asserts exact
//! status, stdout and stderr. Nothing here reaches any network.

#![allow(dead_code)]

pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

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

    #[track_caller]
    pub fn stdout_has(self, text: &str) -> Run {
        assert!(
            self.stdout().contains(text),
            "stdout lacks {text:?}\n{}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stdout_lacks(self, text: &str) -> Run {
        assert!(
            !self.stdout().contains(text),
            "stdout has {text:?}\n{}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Run {
        assert!(
            self.stderr().contains(text),
            "stderr lacks {text:?}\n{}",
            self.context()
        );
        self
    }

    #[track_caller]
    pub fn stderr_lacks(self, text: &str) -> Run {
        assert!(
            !self.stderr().contains(text),
            "stderr has {text:?}\n{}",
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

impl World {
    /// A fresh directory holding a simulator and a copy of `examples/`,
    /// with fast boots so that tests do not wait on the simulated pull.
    pub fn new() -> World {
        let world = World {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        copy_dir(&repo_root().join("examples"), &world.path("examples"));
        // The default ssh.key_path must exist for the real providers; a pod
        // that is reached uses the test sshd's key instead.
        world.write("home/.ssh/id_ed25519", "not a real key\n");
        world.rpd(&["sim", "boot", "30", "10"]).status(0);
        world
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn sim_dir(&self) -> PathBuf {
        self.path("sim")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        Command::from_std(self.std_command(args))
    }

    /// The same command as a plain process, to run in the background.
    pub fn std_command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("rpd"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .env("RPD_SIM_DIR", self.sim_dir())
            .env("RPD_PROVIDER", "sim")
            .env("HOME", self.path("home"))
            .env("NO_COLOR", "1")
            .env_remove("RPD_FAULT")
            .env_remove("RUNPOD_API_KEY");
        cmd
    }

    pub fn rpd(&self, args: &[&str]) -> Run {
        self.run(self.command(args), args)
    }

    pub fn rpd_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.run(cmd, args)
    }

    pub fn run(&self, mut cmd: Command, args: &[&str]) -> Run {
        let output = cmd.output().expect("rpd runs");
        Run {
            output,
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

    /// Rewrites examples/hello.yaml for a pod reached over `sshd`: the volume
    /// mount becomes a real directory of this machine (the "pod" is
    /// 127.0.0.1) and the key is the test sshd's client key.
    pub fn hello_over_ssh(&self, sshd: &sshd::Sshd) -> String {
        let mount = self.path("pod-volume");
        std::fs::create_dir_all(&mount).unwrap();
        let text = self
            .read("examples/hello.yaml")
            .replace("/workspace", &mount.display().to_string())
            .replace(
                "storage:\n",
                &format!("ssh:\n  key_path: {}\n\nstorage:\n", sshd.key().display()),
            );
        self.write("examples/hello.yaml", &text);
        mount.display().to_string()
    }

    /// Makes hello's job run for `secs` seconds, starts `rpd apply -y` in
    /// the background, and returns once the job is running (its output is
    /// piped, for `wait_with_output`).
    pub fn apply_in_background(&self, secs: u32) -> std::process::Child {
        let started = self.path("job-started");
        let slow = self.read("examples/hello.yaml").replace(
            "    echo HELLO_DONE\n",
            &format!(
                "    touch {}\n    sleep {secs}\n    echo HELLO_DONE\n",
                started.display()
            ),
        );
        self.write("examples/hello.yaml", &slow);
        let child = self
            .std_command(&["apply", "-y", "examples/hello.yaml"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("rpd starts");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !started.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the job never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child
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

    /// `rpd sim calls --json`, then reset to zero.
    pub fn calls(&self) -> serde_json::Value {
        self.rpd(&["sim", "calls", "--json", "--reset"])
            .status(0)
            .json()
    }

    pub fn state(&self, rel: &str) -> Option<serde_json::Value> {
        let path = self.path(rel);
        path.exists()
            .then(|| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
    }

    /// Replaces the real temp path and volatile values so output can be
    /// compared exactly.
    pub fn normalize(&self, text: &str) -> String {
        let root = self.dir.path().display().to_string();
        let out = text.replace(&root, "[TMP]");
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
        stamp.replace_all(&out, "[STAMP]").into_owned()
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

    /// `rpd args...` with `--provider runpodctl`; `extra` overrides.
    pub fn ctl_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in self.ctl_env() {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        self.run(cmd, args)
    }

    pub fn ctl(&self, args: &[&str]) -> Run {
        self.ctl_with(args, &[])
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
