//! The sampler's text, and the sampler itself run with the system's `sh`
//! (dash on Debian) by the real wrapper in a temporary directory, with the
//! project's fake nvidia-smi (two GPUs, one without ECC) or none on PATH.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::config::Run;
use crate::remote::job::guard::tests::wait_until;
use crate::remote::job::script;

const TOKEN: &str = "__RPD_0123456789abcdef0123456789abcdef__";

fn telemetry() -> Telemetry {
    Telemetry {
        enabled: true,
        sample_interval_sec: 30,
        capture_nvidia_smi: true,
        capture_dmesg: true,
        capture_pod_describe: true,
        capture_remote_env: true,
        capture_local_git: true,
        capture_payload_lockfile: true,
    }
}

fn files_in(dir: &str) -> RunFiles {
    let run = Run {
        script_path: format!("{dir}/run.sh"),
        log_path: format!("{dir}/run.log"),
        success_marker: "DONE".into(),
        failure_markers: Vec::new(),
        body: String::new(),
    };
    RunFiles::new(&run, TOKEN)
}

#[test]
fn the_config_decides_whether_and_what_the_sampler_takes() {
    let t = telemetry();
    let launch = SamplerLaunch::new(&t, "/workspace", None).unwrap();
    assert_eq!(launch.interval, Duration::from_secs(30));
    assert_eq!(launch.disk, "/workspace");
    assert_eq!(launch.captures, ["nvidia_smi", "remote_env", "dmesg"]);
    let fast = SamplerLaunch::new(&t, "/w", Some(Duration::from_millis(150))).unwrap();
    assert_eq!(fast.interval, Duration::from_millis(150));

    let off = Telemetry {
        enabled: false,
        ..telemetry()
    };
    assert_eq!(SamplerLaunch::new(&off, "/workspace", None), None);
    for (key, off, left) in [
        (
            "capture_nvidia_smi",
            Telemetry {
                capture_nvidia_smi: false,
                ..telemetry()
            },
            "remote_env,dmesg",
        ),
        (
            "capture_remote_env",
            Telemetry {
                capture_remote_env: false,
                ..telemetry()
            },
            "nvidia_smi,dmesg",
        ),
        (
            "capture_dmesg",
            Telemetry {
                capture_dmesg: false,
                ..telemetry()
            },
            "nvidia_smi,remote_env",
        ),
    ] {
        let launch = SamplerLaunch::new(&off, "/workspace", None).unwrap();
        assert_eq!(launch.captures_arg(), left, "{key}: false");
    }
    let none = Telemetry {
        capture_nvidia_smi: false,
        capture_remote_env: false,
        capture_dmesg: false,
        ..telemetry()
    };
    let launch = SamplerLaunch::new(&none, "/workspace", None).unwrap();
    assert_eq!(launch.captures_arg(), "-");
}

#[test]
fn the_wrapper_starts_the_sampler_beside_the_guard_and_ends_it_after_the_job() {
    let f = files_in("/workspace/job");
    let launch = SamplerLaunch::new(&telemetry(), "/workspace", None).unwrap();
    let sampler = companion(&f, &launch);
    assert_eq!(
        script::wrapper_with(&f, &[sampler]),
        "#!/usr/bin/env bash\n# Written by rpd: starts the telemetry sampler, runs the job script and records its exit status.\n\
         set -m\n\
         nohup sh /workspace/job/run.log.rpd-sampler $$ 30000 /workspace nvidia_smi,remote_env,dmesg > /dev/null 2>&1 < /dev/null &\n\
         sampler=$!\n\
         set +m\n\
         bash /workspace/job/run.sh > /workspace/job/run.log 2>&1 < /dev/null\n\
         s=$?\n\
         kill $sampler 2>/dev/null\n\
         sh /workspace/job/run.log.rpd-sampler --end nvidia_smi,remote_env,dmesg /workspace > /dev/null 2>&1 < /dev/null\n\
         echo $s > /workspace/job/run.log.rpd-exit-0123456789ab.tmp && mv /workspace/job/run.log.rpd-exit-0123456789ab.tmp /workspace/job/run.log.rpd-exit-0123456789ab\n"
    );
    assert_eq!(
        before_start(&f),
        "s=$(cat /workspace/job/run.log.rpd-sampler.pid 2>/dev/null || true)\n\
         if [ -n \"$s\" ] && grep -q rpd-sampler /proc/$s/cmdline 2>/dev/null; then kill $s 2>/dev/null || true; fi\n\
         rm -rf /workspace/job/run.log.rpd-telemetry /workspace/job/run.log.rpd-sampler.pid /workspace/job/run.log.rpd-sampler.starting /workspace/job/run.log.rpd-sampler.started /workspace/job/run.log.rpd-sampler.ended\n"
    );
    assert_eq!(dir(&f.log), "/workspace/job/run.log.rpd-telemetry");
}

#[test]
fn warnings_name_the_file_and_say_whether_the_pod_just_lacks_the_tool() {
    let text = "unavailable\tnvidia_smi_start.txt\tnvidia-smi is not installed on the pod\n\
                failed\tpip_freeze.txt\t`pip freeze` exited with status 1: boom\n\
                garbage line\n\
                failed\t\tno file\n";
    assert_eq!(
        parse_warnings(text),
        [
            CaptureWarning {
                file: "nvidia_smi_start.txt".into(),
                reason: "nvidia-smi is not installed on the pod".into(),
                unavailable: true,
            },
            CaptureWarning {
                file: "pip_freeze.txt".into(),
                reason: "`pip freeze` exited with status 1: boom".into(),
                unavailable: false,
            },
        ]
    );
}

/// A "pod" in a temporary directory: the job, the sampler and its files.
struct Pod {
    /// Removed when the pod is dropped.
    _dir: tempfile::TempDir,
    files: RunFiles,
}

fn fake_gpu_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/gpu")
}

/// PATH with `first` ahead of the system's.
fn path_with(first: &Path) -> String {
    format!("{}:{}", first.display(), std::env::var("PATH").unwrap())
}

impl Pod {
    /// Launches `body` with the sampler every 100 ms; `path` is the pod's
    /// PATH.
    fn launch(body: &str, captures: Vec<&'static str>, path: &str) -> Pod {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(&dir.path().display().to_string());
        let launch = SamplerLaunch {
            interval: Duration::from_millis(100),
            disk: dir.path().display().to_string(),
            captures,
        };
        std::fs::write(&files.script, body).unwrap();
        std::fs::write(
            &files.wrapper,
            script::wrapper_with(&files, &[companion(&files, &launch)]),
        )
        .unwrap();
        std::fs::write(sampler_path(&files), SCRIPT).unwrap();
        let start = format!("{}{}", before_start(&files), script::start(&files));
        let out = Process::new("bash")
            .arg("-c")
            .arg(start)
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        Pod { _dir: dir, files }
    }

    fn telemetry(&self, name: &str) -> PathBuf {
        Path::new(&dir(&self.files.log)).join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.telemetry(name)).unwrap_or_default()
    }

    fn samples(&self) -> Vec<Value> {
        self.read("metrics.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn wait_for_the_exit(&self) {
        wait_until(Duration::from_secs(30), "the job's exit status", || {
            Path::new(&self.files.exit).exists()
        });
    }

    /// The running sampler's pid, once it has written it.
    fn sampler_pid(&self) -> Option<i32> {
        std::fs::read_to_string(format!("{}.pid", sampler_path(&self.files)))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Pod {
    /// Ends the job; the sampler, its script gone, ends too.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(sampler_path(&self.files));
        let kill = script::kill(&self.files);
        let _ = Process::new("bash").arg("-c").arg(kill).output();
    }
}

fn alive(pid: i32) -> bool {
    // A zombie (nobody reaped it yet) has ended.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.rsplit(") ").next().unwrap_or("").starts_with('Z'))
}

/// A job that runs until the sampler has written `n` lines and taken its
/// start captures.
fn until_samples(n: usize) -> String {
    format!(
        "m=\"$0\"; m=\"${{m%run.sh}}run.log.rpd-telemetry/metrics.jsonl\"\n\
         until [ \"$(cat \"$m\" 2>/dev/null | wc -l)\" -ge {n} ]; do sleep 0.02; done\n\
         until [ -e \"${{0%run.sh}}run.log.rpd-sampler.started\" ]; do sleep 0.02; done\necho DONE\n"
    )
}

#[test]
fn with_two_gpus_each_line_has_gpu_0_on_top_and_every_gpu_listed() {
    let pod = Pod::launch(
        &until_samples(3),
        vec!["nvidia_smi", "remote_env", "dmesg"],
        &path_with(&fake_gpu_dir()),
    );
    pod.wait_for_the_exit();
    let samples = pod.samples();
    assert!(samples.len() >= 3, "{samples:#?}");
    // The CPU's percentages need two readings: from the second line on.
    assert!(samples[0].get("cpu_user_pct").is_none(), "{}", samples[0]);
    for (i, s) in samples.iter().enumerate() {
        let ts = s["ts_utc"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        assert!(ts.ends_with("+00:00"), "{ts}");
        assert_eq!(s["gpu_util_pct"], 97);
        assert_eq!(s["gpu_mem_used_mb"], 23650);
        assert_eq!(s["gpu_mem_total_mb"], 24564);
        assert_eq!(s["gpu_temp_c"], 71);
        assert_eq!(s["gpu_ecc_errors"], 0);
        assert_eq!(
            s["gpus"],
            serde_json::json!([
                {"index": 0, "util_pct": 97, "mem_used_mb": 23650, "mem_total_mb": 24564, "temp_c": 71, "ecc_errors": 0},
                {"index": 1, "util_pct": 3, "mem_used_mb": 512, "mem_total_mb": 24564, "temp_c": 40, "ecc_errors": null},
            ])
        );
        assert!(
            s["cpu_load_1m"].is_f64() || s["cpu_load_1m"].is_u64(),
            "{s}"
        );
        for cpu in ["cpu_user_pct", "cpu_sys_pct"]
            .into_iter()
            .filter(|_| i > 0)
        {
            let pct = s[cpu].as_f64();
            assert!(pct.is_some_and(|p| (0.0..=100.0).contains(&p)), "{s}");
        }
        let (used, total) = (&s["host_mem_used_mb"], &s["host_mem_total_mb"]);
        assert!(used.as_u64().unwrap() <= total.as_u64().unwrap(), "{s}");
        let (used, total) = (
            &s["workspace_disk_used_bytes"],
            &s["workspace_disk_total_bytes"],
        );
        assert!(used.as_u64().unwrap() <= total.as_u64().unwrap(), "{s}");
    }
    // The captures, start and end, beside the samples.
    assert!(pod.read("nvidia_smi_start.txt").contains("NVIDIA-SMI"));
    assert!(pod.read("nvidia_smi_end.txt").contains("NVIDIA-SMI"));
    let env: Value = serde_json::from_str(&pod.read("remote_env.json")).unwrap();
    assert!(
        env["remote_uname"].as_str().unwrap().contains("Linux"),
        "{env}"
    );
    assert!(env["remote_python_version"].is_string(), "{env}");
    // The sampler ends with the job (it is told as the job exits and ends
    // after its current short wait): nothing writes after rpd's pull.
    let sampler = pod.sampler_pid().unwrap();
    wait_until(Duration::from_secs(10), "the sampler to end", || {
        !alive(sampler)
    });
}

#[test]
fn without_nvidia_smi_gpu_fields_are_left_out_and_its_captures_are_warnings() {
    // A PATH without nvidia-smi, whatever this machine has.
    let system: Vec<String> = std::env::var("PATH")
        .unwrap()
        .split(':')
        .filter(|d| !Path::new(d).join("nvidia-smi").exists())
        .map(String::from)
        .collect();
    let pod = Pod::launch(&until_samples(2), vec!["nvidia_smi"], &system.join(":"));
    pod.wait_for_the_exit();
    for s in pod.samples() {
        let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
        assert!(!keys.iter().any(|k| k.starts_with("gpu")), "{s}");
        assert!(s["host_mem_total_mb"].is_u64(), "{s}");
    }
    assert!(!pod.telemetry("nvidia_smi_start.txt").exists());
    assert!(!pod.telemetry("remote_env.json").exists(), "not asked for");
    assert!(!pod.telemetry("dmesg_tail.txt").exists(), "not asked for");
    assert_eq!(
        parse_warnings(&pod.read(".warnings")),
        ["nvidia_smi_start.txt", "nvidia_smi_end.txt"].map(|file| CaptureWarning {
            file: file.into(),
            reason: "nvidia-smi is not installed on the pod".into(),
            unavailable: true,
        })
    );
}

/// Writes an executable `name` printing `output` into `dir`.
fn fake_tool(dir: &Path, name: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn odd_readings_are_left_out_and_odd_text_is_escaped_so_every_line_is_json() {
    let bin = tempfile::tempdir().unwrap();
    // Readings a broken driver might print: nothing valid but the memory.
    fake_tool(
        bin.path(),
        "nvidia-smi",
        "case \"$*\" in *--query-gpu*) echo '0, [N/A], 100, 200, -5, 1e3'; echo 'garbage'; echo '2, 007, \"x\", 9, 40, ERR!' ;; *) printf 'table\\n' ;; esac",
    );
    fake_tool(
        bin.path(),
        "uname",
        "printf 'Linux \"quoted\" back\\\\slash\\ttab \\303\\251t\\303\\251 \\001ctl\\n'",
    );
    fake_tool(bin.path(), "python", "echo 'Python 3.12.1 \"rc\"' >&2");
    fake_tool(
        bin.path(),
        "pip",
        "echo 'pip failed on purpose' >&2; exit 2",
    );
    let pod = Pod::launch(
        &until_samples(2),
        vec!["nvidia_smi", "remote_env"],
        &path_with(bin.path()),
    );
    pod.wait_for_the_exit();
    for s in pod.samples() {
        assert_eq!(s["gpu_mem_used_mb"], 100, "{s}");
        assert_eq!(s["gpu_mem_total_mb"], 200, "{s}");
        assert_eq!(s["gpu_ecc_errors"], Value::Null, "{s}");
        for absent in ["gpu_util_pct", "gpu_temp_c"] {
            assert!(s.get(absent).is_none(), "{absent}: {s}");
        }
        let gpus = s["gpus"].as_array().unwrap();
        assert_eq!(gpus.len(), 3, "{s}");
        assert_eq!(gpus[1], serde_json::json!({"index": 1, "ecc_errors": null}));
        assert_eq!(
            gpus[2],
            serde_json::json!({"index": 2, "mem_total_mb": 9, "temp_c": 40, "ecc_errors": null})
        );
    }
    let env: Value = serde_json::from_str(&pod.read("remote_env.json")).unwrap();
    assert_eq!(
        env,
        serde_json::json!({
            "remote_uname": "Linux \"quoted\" back\\slash tab t ctl",
            "remote_python_version": "Python 3.12.1 \"rc\"",
        })
    );
    let warnings = parse_warnings(&pod.read(".warnings"));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].file, "pip_freeze.txt");
    assert!(!warnings[0].unavailable);
    assert!(
        warnings[0]
            .reason
            .contains("`pip freeze` exited with status 2: pip failed on purpose"),
        "{warnings:?}"
    );
}

#[test]
fn a_sampler_whose_job_was_killed_takes_the_end_captures_and_exits() {
    let pod = Pod::launch(
        "echo started\nsleep 600\n",
        vec!["nvidia_smi"],
        &path_with(&fake_gpu_dir()),
    );
    wait_until(Duration::from_secs(30), "a sample", || {
        !pod.read("metrics.jsonl").is_empty()
    });
    let sampler = pod.sampler_pid().unwrap();
    // Killed as the guard or rpd kills a job: its whole process group.
    let out = Process::new("bash")
        .arg("-c")
        .arg(script::kill(&pod.files))
        .output()
        .unwrap();
    assert!(out.status.success());
    wait_until(Duration::from_secs(30), "the sampler to end", || {
        !alive(sampler)
    });
    assert!(pod.read("nvidia_smi_end.txt").contains("NVIDIA-SMI"));
    let lines = pod.read("metrics.jsonl");
    assert!(lines.ends_with('\n'), "no torn line: {lines:?}");
}

#[test]
fn a_newer_launch_ends_the_sampler_an_older_run_left_and_clears_its_files() {
    let pod = Pod::launch("sleep 600\n", vec![], &path_with(&fake_gpu_dir()));
    wait_until(Duration::from_secs(30), "a sample", || {
        !pod.read("metrics.jsonl").is_empty()
    });
    let old = pod.sampler_pid().unwrap();
    let out = Process::new("bash")
        .arg("-c")
        .arg(format!(
            "{}{}",
            before_start(&pod.files),
            script::start(&pod.files)
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    wait_until(Duration::from_secs(30), "the old sampler to end", || {
        !alive(old)
    });
    wait_until(Duration::from_secs(30), "the new sampler", || {
        pod.sampler_pid().is_some_and(|new| new != old)
    });
}

#[test]
fn a_job_that_ends_before_its_start_captures_does_not_wait_for_them_and_says_so() {
    // The wrapper's `--end` with no sampler ever started: a job so short
    // that the sampler was ended before it began its start captures.
    let pod = tempfile::tempdir().unwrap();
    let files = files_in(&pod.path().display().to_string());
    std::fs::write(sampler_path(&files), SCRIPT).unwrap();
    let out = Process::new("sh")
        .arg(sampler_path(&files))
        .args(["--end", "nvidia_smi,remote_env"])
        .env("PATH", path_with(&fake_gpu_dir()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let telemetry = Path::new(&dir(&files.log)).to_path_buf();
    assert!(telemetry.join("nvidia_smi_end.txt").exists());
    assert!(!telemetry.join("nvidia_smi_start.txt").exists());
    let warnings = std::fs::read_to_string(telemetry.join(".warnings")).unwrap();
    let late = "the job ended before this start capture was taken";
    assert_eq!(
        parse_warnings(&warnings),
        ["nvidia_smi_start.txt", "remote_env.json", "pip_freeze.txt"].map(|file| {
            CaptureWarning {
                file: file.into(),
                reason: late.into(),
                unavailable: true,
            }
        })
    );
    // Its one sample, taken at the end.
    let samples = std::fs::read_to_string(telemetry.join("metrics.jsonl")).unwrap();
    assert_eq!(samples.lines().count(), 1, "{samples}");
}

#[test]
fn the_first_sample_is_taken_at_once_so_even_a_short_job_has_one() {
    let pod = Pod::launch("exit 0\n", vec![], &path_with(&fake_gpu_dir()));
    pod.wait_for_the_exit();
    let samples = pod.samples();
    assert!(!samples.is_empty(), "no sample of a short job");
    assert_eq!(samples[0]["gpu_util_pct"], 97);
}
