//! Benchmark (not a timed test): how late rpd learns that a resumed pod is
//! ready. A warm `rpd apply` (resume, a one-line job, recycle) runs against
//! the fake REST v2 server with rpd's default settings
//! (`RPD_POLL_INTERVAL_MS` unset), the job reaching the pod over a loopback
//! sshd. The pod becomes ready a fixed delay D after its start, in one of
//! two ways RunPod pods do (which one dominates a real resume is not
//! known):
//!
//! - `api`: the API reports the pod RUNNING with its SSH endpoint only
//!   after D (sshd answers as soon as it does): rpd's reads of the pod;
//! - `sshd`: the API reports the endpoint at once, but the port (like
//!   RunPod's mapped port before sshd runs) accepts and closes connections
//!   until D: rpd's wait for sshd's banner.
//!
//! It prints the apply's wall time against D, the work beyond D, and the
//! ratio of the wall time to the target D + 1.5 s (at most 1.00 meets it).
//!
//! Run with `cargo bench --bench ready_delay` (after `cargo build
//! --release`); `RPD_BENCH_DELAYS=1,3,10` picks the delays in seconds,
//! `RPD_BENCH_RUNS=5` the warm runs per delay, `RPD_BENCH_SHOW=1` prints
//! each apply's progress lines with the time they came,
//! `RPD_BENCH_TELEMETRY=off` turns the run's telemetry off.
//!
//! The sshd's sessions run with an empty HOME, so that the shell sshd starts
//! for each command reads no startup file of this machine's user (a pod's
//! image has its own; a `pyenv init` in a ~/.bashrc costs a quarter of a
//! second per session); `RPD_BENCH_MACHINE_HOME=1` keeps the machine's.

#[path = "../tests/fakes/rest_v2.rs"]
mod fake;
#[path = "../tests/common/sshd.rs"]
#[allow(dead_code)]
mod sshd;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The work rpd may add to D: refresh, resume, connect, the job, pull,
/// recycle.
const TARGET_WORK_SECS: f64 = 1.5;

/// `RPD_BENCH_TELEMETRY=off` runs the job without telemetry (the config's
/// `telemetry.enabled: false`), to measure what the sampler and the
/// captures cost.
fn telemetry_off() -> &'static str {
    match std::env::var("RPD_BENCH_TELEMETRY").as_deref() {
        Ok("off") => "telemetry:\n  enabled: false\n",
        _ => "",
    }
}

fn rpd() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("rpd");
    assert!(path.exists(), "build rpd first (cargo build --release)");
    path
}

fn numbers(name: &str, default: &[f64]) -> Vec<f64> {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => text
            .split(',')
            .map(|n| n.trim().parse().expect("numbers, comma-separated"))
            .collect(),
        _ => default.to_vec(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One `rpd apply`, its wall time; the mapped port opens `sshd_after` the
/// apply starts.
fn apply(root: &Path, url: &str, sshd_after: Duration, mapped: &MappedPort) -> f64 {
    let started = Instant::now();
    mapped.open_after(sshd_after);
    let mut child = Command::new(rpd())
        .args(["apply", "-y", "bench.yaml"])
        .current_dir(root)
        .env("RPD_PROVIDER", "runpod")
        .env("RUNPOD_API_KEY", fake::API_KEY)
        .env("RPD_RUNPOD_API_URL", url)
        .env_remove("RPD_POLL_INTERVAL_MS")
        .env("HOME", root.join("home"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let show = std::env::var_os("RPD_BENCH_SHOW").is_some();
    let lines = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if show {
                eprintln!("{:6.2}s {line}", started.elapsed().as_secs_f64());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed().as_secs_f64();
    let stderr = lines.join().unwrap();
    assert!(
        out.status.success(),
        "rpd apply\n{}\n{stderr}",
        String::from_utf8_lossy(&out.stdout),
    );
    took
}

/// A port in front of sshd that, like RunPod's mapped port before the
/// pod's sshd runs, accepts connections and closes them until `opens_at`,
/// then relays them to sshd.
struct MappedPort {
    port: u16,
    opens_at: Arc<Mutex<Instant>>,
}

impl MappedPort {
    fn new(sshd_port: u16) -> MappedPort {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let opens_at = Arc::new(Mutex::new(Instant::now()));
        let opens = opens_at.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if Instant::now() < *opens.lock().unwrap() {
                    continue; // dropped: closed at once
                }
                let server = TcpStream::connect(("127.0.0.1", sshd_port)).unwrap();
                relay(client, server);
            }
        });
        MappedPort { port, opens_at }
    }

    fn open_after(&self, delay: Duration) {
        *self.opens_at.lock().unwrap() = Instant::now() + delay;
    }
}

fn relay(client: TcpStream, server: TcpStream) {
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
    };
    pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
    pipe(server, client);
}

fn main() {
    // rpd's work, not this machine's shell startup (see Sshd::start_with_empty_home).
    let machine_home = std::env::var_os("RPD_BENCH_MACHINE_HOME").is_some_and(|v| v == "1");
    let started = if machine_home {
        sshd::Sshd::start()
    } else {
        sshd::Sshd::start_with_empty_home()
    };
    let Some(sshd) = started else {
        eprintln!("ready_delay benchmark skipped: needs sshd and rsync");
        return;
    };
    let delays = numbers("RPD_BENCH_DELAYS", &[1.0, 3.0, 10.0]);
    let runs = numbers("RPD_BENCH_RUNS", &[5.0])[0] as usize;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mount = root.join("volume");
    std::fs::create_dir_all(&mount).unwrap();
    std::fs::write(
        root.join("bench.yaml"),
        format!(
            "schema_version: 2\nname: bench\npod:\n  image: runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404\n  datacenters: [EU-RO-1]\n  gpu_order: [\"NVIDIA GeForce RTX 4090\"]\n\
             storage:\n  mode: ephemeral\n  volume_gb: 20\n  volume_mount: {mount}\nssh:\n  key_path: {key}\n\
             run:\n  script_path: \"{{volume_mount}}/bench/run.sh\"\n  log_path: \"{{volume_mount}}/bench/run.log\"\n  success_marker: BENCH_DONE\n  body: |\n    echo BENCH_DONE\n\
             lifecycle:\n  on_success: recycle\n  on_failure: stop\n{telemetry}",
            telemetry = telemetry_off(),
            mount = mount.display(),
            key = sshd.key().display(),
        ),
    )
    .unwrap();
    let server = fake::FakeRestV2::start();
    let mapped = MappedPort::new(sshd.port);
    server.set_ssh("127.0.0.1", mapped.port, &sshd.user);
    server.set_boot_ms(200, 0);
    apply(root, &server.url(), Duration::ZERO, &mapped); // cold: create, the first connection

    println!(
        "warm `rpd apply` (resume, job, recycle) on the REST v2 fake, default settings, loopback sshd, {runs} runs per delay (medians); target D + {TARGET_WORK_SECS:.1} s"
    );
    println!(
        "{}",
        if machine_home {
            "ssh sessions start this machine's login shell with its ~/.bashrc (RPD_BENCH_MACHINE_HOME=1)"
        } else {
            "ssh sessions start with an empty HOME (RPD_BENCH_MACHINE_HOME=1 keeps this machine's ~/.bashrc)"
        }
    );
    println!(
        "  {:>5}  {:>6}  {:>9}  {:>9}  {:>14}",
        "ready", "D", "apply", "work", "apply/target"
    );
    for model in ["api", "sshd"] {
        for &d in &delays {
            let delay = Duration::from_secs_f64(d);
            let (boot, port) = match model {
                "api" => (delay, Duration::ZERO),
                _ => (Duration::ZERO, delay),
            };
            server.set_boot_ms(200, boot.as_millis() as u64);
            let took = median(
                (0..runs)
                    .map(|_| apply(root, &server.url(), port, &mapped))
                    .collect(),
            );
            println!(
                "  {model:>5}  {:>5.1}s  {:>8.2}s  {:>8.2}s  {:>14.2}",
                d,
                took,
                took - d,
                took / (d + TARGET_WORK_SECS)
            );
        }
    }
}
