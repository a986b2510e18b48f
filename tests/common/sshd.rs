//! A real `sshd` on 127.0.0.1 for the data-plane tests, with its own host
//! key, client key and log. Where sshd or rsync is missing the tests say so
//! and skip; with RPD_REQUIRE_SSHD=1 (as `.ci/run` sets) they fail instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key every "pod" behind this sshd has in its environment, as RunPod
/// gives each pod a key of its own (the REST v2 fake takes it for a pod's
/// stop and nothing else).
pub const POD_API_KEY: &str = "pod-scoped-key-0b7e4d";

pub struct Sshd {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub client_key: PathBuf,
    pub user: String,
    log: PathBuf,
    _tmp: tempfile::TempDir,
}

fn find(program: &str, extra: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Sshd {
    /// Starts sshd, or returns None (after saying why) when it cannot run here.
    pub fn start() -> Option<Sshd> {
        Sshd::start_with(false)
    }

    /// Like [`Sshd::start`], with sessions whose HOME is an empty directory:
    /// the shell sshd runs each command with then reads no startup file of
    /// this machine's user (a `pyenv init` in root's ~/.bashrc costs each
    /// session a quarter of a second here), which is not rpd's work.
    #[allow(dead_code)]
    pub fn start_with_empty_home() -> Option<Sshd> {
        Sshd::start_with(true)
    }

    fn start_with(empty_home: bool) -> Option<Sshd> {
        let required = std::env::var_os("RPD_REQUIRE_SSHD").is_some_and(|v| v == "1");
        let sshd = find("sshd", &["/usr/sbin", "/usr/local/sbin"]);
        let missing: Vec<&str> = [
            ("sshd", sshd.is_some()),
            ("rsync", find("rsync", &[]).is_some()),
            ("ssh", find("ssh", &[]).is_some()),
        ]
        .iter()
        .filter(|(_, found)| !found)
        .map(|(name, _)| *name)
        .collect();
        if !missing.is_empty() {
            let message = format!(
                "skipping: {} not installed (install openssh-server and rsync; .ci/run does)",
                missing.join(", ")
            );
            assert!(!required, "RPD_REQUIRE_SSHD=1 but {message}");
            eprintln!("{message}");
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let host_key = dir.join("host_ed25519");
        let client_key = dir.join("client_ed25519");
        for key in [&host_key, &client_key] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(key));
        }
        std::fs::copy(
            client_key.with_extension("pub"),
            dir.join("authorized_keys"),
        )
        .unwrap();
        // sshd wants its privilege-separation directory when run as root.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("sshd.log");
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\nAuthorizedKeysFile {auth}\n\
                 StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nLogLevel VERBOSE\n\
                 MaxSessions 64\nMaxStartups 64\nSubsystem sftp internal-sftp\n\
                 SetEnv RUNPOD_API_KEY={pod_key}{home}\n",
                pod_key = POD_API_KEY,
                home = if empty_home {
                    let home = dir.join("home");
                    std::fs::create_dir_all(&home).unwrap();
                    format!(" HOME={}", home.display())
                } else {
                    String::new()
                },
                host = host_key.display(),
                pid = dir.join("sshd.pid").display(),
                auth = dir.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        let child = Command::new(sshd.unwrap())
            .args(["-D", "-f"])
            .arg(&config)
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sshd starts");
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&Command::new("id").arg("-un").output().unwrap().stdout)
                    .trim()
                    .to_string()
            });
        let sshd = Sshd {
            child,
            port,
            dir,
            client_key,
            user,
            log,
            _tmp: tmp,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                sshd.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(sshd)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SSH handshakes (successful authentications) so far.
    pub fn handshakes(&self) -> usize {
        self.log_text().matches("Accepted publickey").count()
    }

    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn key(&self) -> &Path {
        &self.client_key
    }

    /// The sshd daemon's pid: the "pod's" processes are its descendants.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
