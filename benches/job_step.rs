//! Benchmark (not a timed test): rpd's job step on a warm pod against the
//! bare minimum over the same loopback sshd, and how fast rpd notices the
//! script's exit. Prints ratios; run with `cargo bench --bench job_step`.
//!
//! - bare minimum: one SSH handshake, rsync of the payload, the script run
//!   in the foreground, rsync of the log back (all over one connection);
//! - rpd job step: connect + staging + launch + monitor + pull, from the run
//!   manifest of a warm `rpd apply` (the pod resumed);
//! - detection latency: the script records its exit time; rpd's
//!   `remote_step_completed` event records when rpd knew.
//!
//! `RPD_BENCH_TELEMETRY=off` turns the run's telemetry off (to compare).

#[path = "../tests/common/sshd.rs"]
#[allow(dead_code)]
mod sshd;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const RUNS: usize = 5;
const FILES: usize = 50;
const FILE_BYTES: usize = 20_000;
const SCRIPT_SECS: f64 = 1.0;

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
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join("rpd");
    assert!(path.exists(), "build rpd first (cargo build --release)");
    path
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let Some(sshd) = sshd::Sshd::start() else {
        eprintln!("job_step benchmark skipped: needs sshd and rsync");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mount = root.join("volume");
    let payload = root.join("payload");
    std::fs::create_dir_all(&mount).unwrap();
    std::fs::create_dir_all(&payload).unwrap();
    for i in 0..FILES {
        std::fs::write(payload.join(format!("f{i:03}.bin")), vec![b'x'; FILE_BYTES]).unwrap();
    }
    let stamp = root.join("exit-time");
    let config = root.join("bench.yaml");
    std::fs::write(
        &config,
        format!(
            "schema_version: 2\nname: bench\npod:\n  image: runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404\n  datacenters: [EU-RO-1]\n  gpu_order: [\"NVIDIA GeForce RTX 4090\"]\n\
             storage:\n  mode: ephemeral\n  volume_gb: 20\n  volume_mount: {mount}\nssh:\n  key_path: {key}\n\
             staging:\n  - label: payload\n    source: payload/\n    destination: \"{{volume_mount}}/bench/payload/\"\n\
             run:\n  script_path: \"{{volume_mount}}/bench/run.sh\"\n  log_path: \"{{volume_mount}}/bench/run.log\"\n  success_marker: BENCH_DONE\n  body: |\n    sleep {SCRIPT_SECS}\n    echo BENCH_DONE\n    date +%s.%N > {stamp}\n\
             lifecycle:\n  on_success: recycle\n  on_failure: stop\n{telemetry}",
            telemetry = telemetry_off(),
            mount = mount.display(),
            key = sshd.key().display(),
            stamp = stamp.display(),
        ),
    )
    .unwrap();
    let env = |cmd: &mut Command| {
        cmd.current_dir(root)
            .env("RPD_PROVIDER", "sim")
            .env("RPD_SIM_DIR", root.join("sim"))
            .env("HOME", root.join("home"))
            .env("NO_COLOR", "1");
    };
    let rpd_cmd = |args: &[&str]| {
        let mut c = Command::new(rpd());
        c.args(args);
        env(&mut c);
        c
    };
    run(&mut rpd_cmd(&["sim", "boot", "50", "20"]));
    run(&mut rpd_cmd(&[
        "sim",
        "ssh",
        &sshd.endpoint(),
        "--user",
        &sshd.user,
    ]));
    run(&mut rpd_cmd(&["apply", "-y", "bench.yaml"])); // cold: create + first staging

    let mut rpd_times = Vec::new();
    let mut apply_times = Vec::new();
    let mut latencies = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        run(&mut rpd_cmd(&["apply", "-y", "bench.yaml"]));
        apply_times.push(started.elapsed().as_secs_f64());
        let run_dir = latest_run(&root.join("artifacts/runpod"));
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(run_dir.join("runpod_deploy_pull_manifest.json")).unwrap(),
        )
        .unwrap();
        let job: f64 = manifest["step_durations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                ["connect", "staging", "launch", "monitor", "pull"]
                    .contains(&s["step"].as_str().unwrap())
            })
            .map(|s| s["duration_sec"].as_f64().unwrap())
            .sum();
        rpd_times.push(job);
        let exited: f64 = std::fs::read_to_string(&stamp)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let events = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
        let noticed = events
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|e| e["event"] == "remote_step_completed" && e["step"] == "run")
            .map(|e| chrono::DateTime::parse_from_rfc3339(e["ts_utc"].as_str().unwrap()).unwrap())
            .unwrap();
        latencies.push(noticed.timestamp_micros() as f64 / 1e6 - exited);
    }

    // The bare minimum over the same sshd, one connection per run.
    let mut bare = Vec::new();
    let remote_dir = mount.join("bare");
    for i in 0..RUNS {
        let socket = root.join(format!("bare-{i}.sock"));
        let ssh = |extra: &[&str]| {
            let mut c = Command::new("ssh");
            c.args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-i",
            ])
            .arg(sshd.key())
            .args(["-p", &sshd.port.to_string(), "-o"])
            .arg(format!("ControlPath={}", socket.display()))
            .args(extra)
            .arg(format!("{}@127.0.0.1", sshd.user));
            c
        };
        let rsync_e = format!(
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i {} -p {} -o ControlPath={}",
            sshd.key().display(),
            sshd.port,
            socket.display()
        );
        let started = Instant::now();
        run(&mut ssh(&[
            "-o",
            "ControlMaster=yes",
            "-o",
            "ControlPersist=30",
            "-N",
            "-f",
        ]));
        run(Command::new("rsync")
            .args(["-az", "--delete", "-e", &rsync_e])
            .arg(format!("{}/", payload.display()))
            .arg(format!("{}@127.0.0.1:{}/", sshd.user, remote_dir.display())));
        run(ssh(&[]).arg(format!(
            "sleep {SCRIPT_SECS}; echo BENCH_DONE > {}/run.log",
            remote_dir.display()
        )));
        run(Command::new("rsync")
            .args(["-az", "-e", &rsync_e])
            .arg(format!(
                "{}@127.0.0.1:{}/run.log",
                sshd.user,
                remote_dir.display()
            ))
            .arg(root.join("bare.log")));
        bare.push(started.elapsed().as_secs_f64());
        let _ = ssh(&["-O", "exit"]).output();
    }

    let (b, r) = (median(bare), median(rpd_times));
    println!(
        "rpd job step vs the bare minimum: loopback sshd, payload {FILES} files / {:.1} MB, script {SCRIPT_SECS:.1} s, {RUNS} warm runs (medians)",
        (FILES * FILE_BYTES) as f64 / 1e6
    );
    println!("  bare minimum (1 handshake + rsync + script + log pull): {b:.3} s");
    println!(
        "  rpd job step (connect + staging + launch + monitor + pull): {r:.3} s   ratio {:.2}",
        r / b
    );
    println!(
        "  whole warm `rpd apply` (resume, job, recycle): {:.3} s",
        median(apply_times)
    );
    let max = latencies.iter().cloned().fold(f64::MIN, f64::max);
    println!(
        "  exit detection latency: median {:.3} s, max {max:.3} s",
        median(latencies)
    );
}

fn latest_run(dir: &Path) -> PathBuf {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort();
    runs.pop().unwrap()
}
