//! Telemetry sampled on the pod (issue 14), end to end: a run on the
//! simulator and one over a real sshd on 127.0.0.1 bring back
//! `metrics.jsonl` (a line per interval, `RPD_SAMPLE_INTERVAL_MS` making it
//! short) and the captures; a connection dropped mid-run loses no sample;
//! `telemetry.enabled: false` and each `capture_*: false` are honoured.
//! GPU readings come from the project's fake nvidia-smi (two GPUs) where a
//! test puts it on the simulated pod's PATH.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::guard::{pod_id, wait_for_the_launch_to_be_recorded};
use common::hello::HELLO;
use common::sshd::Sshd;
use common::{World, repo_root, wait_until};
use serde_json::Value;

const INTERVAL: (&str, &str) = ("RPD_SAMPLE_INTERVAL_MS", "100");

/// PATH with the fake nvidia-smi first.
fn with_fake_gpus() -> String {
    format!(
        "{}:{}",
        repo_root().join("tests/fakes/gpu").display(),
        std::env::var("PATH").unwrap()
    )
}

/// PATH without any nvidia-smi this machine may have.
fn without_gpus() -> String {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .filter(|d| !Path::new(d).join("nvidia-smi").exists())
        .collect::<Vec<_>>()
        .join(":")
}

/// hello's job, made to run until the sampler has written `n` lines and
/// taken its start captures (the job waits on the files beside its log, so
/// no test sleeps; a shorter job does not wait for them).
fn hold_until_samples(world: &World, n: usize) {
    world.edit(
        HELLO,
        "    echo HELLO_DONE\n",
        &format!(
            "    m=$(dirname \"$0\")/run.log.rpd-telemetry/metrics.jsonl\n    \
             until [ \"$(cat \"$m\" 2>/dev/null | wc -l)\" -ge {n} ]; do sleep 0.05; done\n    \
             until [ -e \"$(dirname \"$0\")/run.log.rpd-sampler.started\" ]; do sleep 0.05; done\n    \
             echo HELLO_DONE\n"
        ),
    );
}

fn add_telemetry(world: &World, yaml: &str) {
    world.edit(
        HELLO,
        "lifecycle:\n",
        &format!("telemetry:\n{yaml}lifecycle:\n"),
    );
}

/// `rpd apply -y hello`, sampling every 100 ms, with `path` as PATH (the
/// simulated pod's too); it must succeed.
fn apply(world: &World, path: &str) -> common::Run {
    let applied = world
        .rpd_env(&["apply", "-y", HELLO], &[INTERVAL, ("PATH", path)])
        .status(0);
    assert!(
        applied.stdout().contains("hello: apply complete!"),
        "{}",
        applied.stdout()
    );
    applied
}

fn last_run(world: &World) -> PathBuf {
    world.run_dirs().pop().expect("a run directory")
}

fn samples(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .expect("metrics.jsonl was pulled")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn json_file(run: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(run.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"))
}

fn events(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The telemetry warnings of the run, as (file, unavailable).
fn warnings(run: &Path) -> Vec<(String, bool)> {
    events(run)
        .iter()
        .filter(|e| e["event"] == "telemetry_capture_failed")
        .map(|e| {
            (
                e["file"].as_str().unwrap().to_string(),
                e["unavailable"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// `name` is in the run directory, or the pod could not take it and the
/// run's events say so (pip and dmesg depend on the machine under test).
fn captured_or_unavailable(run: &Path, name: &str) {
    let warned = warnings(run).contains(&(name.to_string(), true));
    assert!(
        run.join(name).is_file() != warned,
        "{name}: present {}, warned {warned}",
        run.join(name).is_file()
    );
}

/// Lines one interval apart at most a few times over, in time order.
fn assert_a_line_per_interval(samples: &[Value], at_least: usize) {
    assert!(samples.len() >= at_least, "{samples:#?}");
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = samples
        .iter()
        .map(|s| chrono::DateTime::parse_from_rfc3339(s["ts_utc"].as_str().unwrap()).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    for s in samples {
        for field in [
            "cpu_load_1m",
            "host_mem_used_mb",
            "host_mem_total_mb",
            "workspace_disk_used_bytes",
            "workspace_disk_total_bytes",
            "host_uptime_sec",
        ] {
            assert!(s[field].is_number(), "{field}: {s}");
        }
    }
}

/// hello applied with `path` as PATH, its job held until `n` samples: its
/// run directory and samples, a line per interval; nothing about telemetry
/// on the terminal (what the simulator lacks is not news).
fn quiet_sampled_run(world: &World, n: usize, path: &str) -> (PathBuf, Vec<Value>) {
    hold_until_samples(world, n);
    let applied = apply(world, path);
    assert!(
        !applied.stderr().contains("telemetry"),
        "{}",
        applied.stderr()
    );
    let run = last_run(world);
    let samples = samples(&run);
    assert_a_line_per_interval(&samples, n);
    (run, samples)
}

fn manifest_files(run: &Path) -> Vec<String> {
    json_file(run, "runpod_deploy_pull_manifest.json")["telemetry_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_run_on_the_simulator_samples_every_interval_and_takes_every_capture() {
    let world = World::new();
    let (run, samples) = quiet_sampled_run(&world, 4, &with_fake_gpus());
    for s in &samples {
        assert_eq!(s["gpu_util_pct"], 97, "{s}");
        assert_eq!(s["gpus"].as_array().map(Vec::len), Some(2), "{s}");
        assert_eq!(s["gpus"][1]["ecc_errors"], Value::Null, "{s}");
    }
    for name in ["nvidia_smi_start.txt", "nvidia_smi_end.txt"] {
        let text = std::fs::read_to_string(run.join(name)).unwrap();
        assert!(text.contains("NVIDIA-SMI"), "{name}: {text}");
    }
    let pod = pod_id(&world);
    let start = json_file(&run, "pod_describe_start.json");
    let end = json_file(&run, "pod_describe_end.json");
    assert_eq!(
        (&start["id"], &end["id"]),
        (&Value::from(pod.clone()), &Value::from(pod))
    );
    assert_eq!(start["status"], "RUNNING");
    let env = json_file(&run, "remote_env.json");
    assert!(env["remote_uname"].is_string() && env["remote_python_version"].is_string());
    captured_or_unavailable(&run, "pip_freeze.txt");
    captured_or_unavailable(&run, "dmesg_tail.txt");
    assert!(!run.join(".warnings").exists(), "read and removed");
    let listed = manifest_files(&run);
    for name in [
        "metrics.jsonl",
        "nvidia_smi_start.txt",
        "pod_describe_end.json",
        "remote_env.json",
    ] {
        assert!(listed.contains(&name.to_string()), "{name}: {listed:?}");
    }
}

#[test]
fn without_a_gpu_the_simulators_metrics_have_cpu_memory_and_disk_and_no_gpu_fields() {
    let world = World::new();
    let (run, samples) = quiet_sampled_run(&world, 2, &without_gpus());
    for s in &samples {
        let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
        assert!(!keys.iter().any(|k| k.starts_with("gpu")), "{s}");
    }
    assert!(!run.join("nvidia_smi_start.txt").exists());
    let warned = warnings(&run);
    for name in ["nvidia_smi_start.txt", "nvidia_smi_end.txt"] {
        assert!(warned.contains(&(name.to_string(), true)), "{warned:?}");
    }
}

const CAPTURES: [&str; 8] = [
    "metrics.jsonl",
    "nvidia_smi_start.txt",
    "nvidia_smi_end.txt",
    "pod_describe_start.json",
    "pod_describe_end.json",
    "remote_env.json",
    "pip_freeze.txt",
    "dmesg_tail.txt",
];

#[test]
fn telemetry_enabled_false_starts_no_sampler_and_captures_nothing() {
    let world = World::new();
    add_telemetry(&world, "  enabled: false\n");
    apply(&world, &with_fake_gpus());
    let run = last_run(&world);
    for name in CAPTURES {
        assert!(!run.join(name).exists(), "{name}");
    }
    let volume = world
        .sim_dir()
        .join("pods")
        .join(pod_id(&world))
        .join("volume/hello");
    assert!(!volume.join("run.log.rpd-sampler").exists(), "no sampler");
    assert!(!volume.join("run.log.rpd-telemetry").exists());
    assert_eq!(world.call_counts(&["describe"]), [0]);
}

#[test]
fn each_capture_key_set_to_false_leaves_its_files_out_and_the_rest_in() {
    for (key, gone) in [
        (
            "capture_nvidia_smi",
            &["nvidia_smi_start.txt", "nvidia_smi_end.txt"][..],
        ),
        (
            "capture_pod_describe",
            &["pod_describe_start.json", "pod_describe_end.json"],
        ),
        ("capture_remote_env", &["remote_env.json", "pip_freeze.txt"]),
        ("capture_dmesg", &["dmesg_tail.txt"]),
    ] {
        let world = World::new();
        hold_until_samples(&world, 2);
        add_telemetry(&world, &format!("  {key}: false\n"));
        apply(&world, &with_fake_gpus());
        let run = last_run(&world);
        for name in CAPTURES {
            if gone.contains(&name) {
                assert!(!run.join(name).exists(), "{key}: false, yet {name}");
                assert!(
                    !warnings(&run).iter().any(|(file, _)| file == name),
                    "{key}: false, yet warned about {name}"
                );
            } else if ["pip_freeze.txt", "dmesg_tail.txt"].contains(&name) {
                captured_or_unavailable(&run, name);
            } else {
                assert!(run.join(name).is_file(), "{key}: false, and no {name}");
            }
        }
        let describes = world.call_counts(&["describe"])[0];
        assert_eq!(describes == 0, key == "capture_pod_describe", "{key}");
    }
}

// ------------------------------------------------------------ over SSH

#[test]
fn a_run_over_ssh_brings_back_the_samples_and_the_captures() {
    let Some((_sshd, world, _)) = hello_over_ssh() else {
        return;
    };
    hold_until_samples(&world, 4);
    apply(&world, &std::env::var("PATH").unwrap());
    let run = last_run(&world);
    assert_a_line_per_interval(&samples(&run), 4);
    let pod = Value::from(pod_id(&world));
    assert_eq!(json_file(&run, "pod_describe_start.json")["id"], pod);
    assert_eq!(json_file(&run, "pod_describe_end.json")["id"], pod);
    assert!(json_file(&run, "remote_env.json")["remote_uname"].is_string());
    // The "pod" is this machine behind sshd: its tools decide the rest.
    for name in [
        "nvidia_smi_start.txt",
        "nvidia_smi_end.txt",
        "pip_freeze.txt",
        "dmesg_tail.txt",
    ] {
        captured_or_unavailable(&run, name);
    }
}

/// The ssh processes holding rpd's shared connection to `sshd`.
fn ssh_masters(sshd: &Sshd) -> Vec<i32> {
    let port = sshd.port.to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_string_lossy().parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let master = args.iter().any(|a| a == "ControlMaster=yes");
            let ours = args.windows(2).any(|w| w[0] == "-p" && w[1] == port);
            (master && ours).then_some(pid)
        })
        .collect()
}

/// The simulator's pods reached over a real sshd, hello written for them:
/// the sshd, the world and the pods' volume mount (None: no sshd here).
fn hello_over_ssh() -> Option<(Sshd, World, String)> {
    let sshd = Sshd::start()?;
    let world = World::new();
    world
        .rpd(&["sim", "ssh", &sshd.endpoint(), "--user", &sshd.user])
        .status(0);
    let mount = world.hello_over_ssh(&sshd);
    Some((sshd, world, mount))
}

/// Kills rpd's shared SSH connection to `sshd`.
fn drop_the_connection(sshd: &Sshd) {
    let masters = ssh_masters(sshd);
    assert!(!masters.is_empty(), "rpd's ssh master");
    for pid in masters {
        // SAFETY: kill has no memory preconditions; the pid is an ssh of this test.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Waits until the pod has sampled 5 more times with the connection down,
/// and returns every line it has.
fn samples_while_disconnected(mount: &str) -> Vec<String> {
    let before = pod_metrics(mount).lines().count();
    wait_until(
        Duration::from_secs(60),
        "samples with nobody connected",
        || pod_metrics(mount).lines().count() >= before + 5,
    );
    pod_metrics(mount).lines().map(String::from).collect()
}

fn pod_metrics(mount: &str) -> String {
    std::fs::read_to_string(format!("{mount}/hello/run.log.rpd-telemetry/metrics.jsonl"))
        .unwrap_or_default()
}

#[test]
fn a_connection_dropped_mid_run_loses_no_sample() {
    let Some((sshd, world, mount)) = hello_over_ssh() else {
        return;
    };
    let apply = world.apply_in_background_env(&[INTERVAL]);
    wait_for_the_launch_to_be_recorded(&world);
    // rpd and its connection go: killed, as a closed laptop would be.
    apply.signal(libc::SIGKILL);
    drop(apply.wait());
    drop_the_connection(&sshd);
    let gap = samples_while_disconnected(&mount);
    std::fs::write(world.signal_path("job-released"), "").unwrap();

    let attached = world.rpd(&["attach", HELLO]).status(0);
    assert!(
        attached.stdout().contains("hello: apply complete!"),
        "{}",
        attached.stdout()
    );
    let pulled: Vec<String> = world
        .run_dirs()
        .iter()
        .filter_map(|run| std::fs::read_to_string(run.join("metrics.jsonl")).ok())
        .flat_map(|text| text.lines().map(String::from).collect::<Vec<_>>())
        .collect();
    for line in &gap {
        assert!(pulled.contains(line), "lost: {line}");
    }
}

#[test]
fn a_connection_that_drops_while_rpd_follows_the_job_loses_no_sample() {
    let Some((sshd, world, mount)) = hello_over_ssh() else {
        return;
    };
    let apply = world.apply_in_background_env(&[INTERVAL]);
    wait_for_the_launch_to_be_recorded(&world);
    drop_the_connection(&sshd);
    let taken = samples_while_disconnected(&mount);
    apply.release_job();
    let run = apply.wait().status(0);
    assert!(
        run.stdout().contains("Job succeeded"),
        "rpd followed the job again: {}",
        run.stderr()
    );
    let pulled = std::fs::read_to_string(last_run(&world).join("metrics.jsonl")).unwrap();
    for line in &taken {
        assert!(pulled.lines().any(|l| l == line), "lost: {line}");
    }
}

#[test]
fn attach_brings_the_whole_telemetry_of_a_detached_job_into_its_run_directory() {
    let world = World::new();
    hold_until_samples(&world, 3);
    world
        .rpd_env(&["apply", "-y", "--detach", HELLO], &[INTERVAL])
        .status(0);
    let launched = world.run_dirs();
    assert_eq!(launched.len(), 1, "the launching run's directory");
    world.rpd_env(&["attach", HELLO], &[INTERVAL]).status(0);
    // A collected run is one run: the attach goes on in the launching
    // run's directory (issue 19, item 17).
    assert_eq!(world.run_dirs(), launched, "one run, one directory");
    let run = launched[0].clone();
    assert_a_line_per_interval(&samples(&run), 3);
    for name in [
        "pod_describe_start.json",
        "pod_describe_end.json",
        "remote_env.json",
    ] {
        assert!(run.join(name).is_file(), "{name} in {}", run.display());
    }
}
