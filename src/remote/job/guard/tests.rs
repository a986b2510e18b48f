//! The guard script run with the system's `sh` (dash on Debian) in a
//! temporary directory: a "job" started by the real wrapper, a stop command
//! that records the pod it was asked to stop.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::{Duration, Instant};

use super::*;
use crate::config::Run;
use crate::remote::job::script;

const TOKEN: &str = "__RPD_0123456789abcdef0123456789abcdef__";

struct Pod {
    dir: tempfile::TempDir,
    files: RunFiles,
}

impl Pod {
    /// A job running `body`, its guard stopping with a command after
    /// `grace`, killing it `deadline` after the launch.
    fn launch(body: &str, deadline: u64, grace: u64) -> Pod {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name).display().to_string();
        let run = Run {
            script_path: at("run.sh"),
            log_path: at("run.log"),
            success_marker: "DONE".into(),
            failure_markers: Vec::new(),
            body: body.into(),
        };
        let files = RunFiles::new(&run, TOKEN);
        let stopped = at("stopped");
        let launch = GuardLaunch {
            settings: GuardSettings {
                grace: Duration::from_secs(grace),
                stop: PodSelfStop::Command(format!("echo >> {stopped}")),
                pod_id: "pod-7".into(),
            },
            deadline: Duration::from_secs(deadline),
            reason: DeadlineReason::MaxRuntime,
        };
        std::fs::write(&files.script, body).unwrap();
        std::fs::write(&files.wrapper, wrapper(&files, &launch)).unwrap();
        std::fs::write(guard_path(&files), SCRIPT).unwrap();
        std::fs::write(target_path(&files), target(&launch.settings.stop)).unwrap();
        let start = format!(
            "{}{}",
            before_start(&files, &launch.settings.stop),
            script::start(&files)
        );
        let out = Process::new("bash").arg("-c").arg(start).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        Pod { dir, files }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The pods the guard's stop command was asked to stop.
    fn stops(&self) -> String {
        std::fs::read_to_string(self.path("stopped")).unwrap_or_default()
    }

    fn guard_log(&self) -> String {
        std::fs::read_to_string(format!("{}.log", guard_path(&self.files))).unwrap_or_default()
    }

    fn renew(&self) {
        let out = Process::new("sh")
            .arg("-c")
            .arg(renew(&self.files))
            .output()
            .unwrap();
        assert!(out.status.success());
    }
}

impl Drop for Pod {
    /// Ends the guard and the job, whatever the test left.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(guard_path(&self.files));
        let _ = Process::new("bash")
            .arg("-c")
            .arg(script::kill(&self.files))
            .output();
    }
}

/// Polls `done` until it holds, failing the test after `within`.
pub(in crate::remote::job) fn wait_until(within: Duration, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn after_the_job_ends_the_guard_stops_the_pod_once_the_grace_passes_without_rpd() {
    let pod = Pod::launch("echo DONE", 3600, 2);
    wait_until(Duration::from_secs(20), "the stop", || {
        pod.stops().contains("pod-7")
    });
    let log = pod.guard_log();
    assert!(log.contains("the job ended"), "{log}");
    assert!(
        log.contains("no rpd collected the job's result within 2s of its end"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(&pod.files.exit).unwrap().trim(),
        "0",
        "the job's own exit status"
    );
}

#[test]
fn a_heartbeat_holds_the_stop_off_and_a_dismissal_ends_the_guard_without_one() {
    let pod = Pod::launch("echo DONE", 3600, 2);
    let started = Instant::now();
    // Renewed every half second, well within the grace of 2 s, for 4 s.
    while started.elapsed() < Duration::from_secs(4) {
        pod.renew();
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(pod.stops(), "", "rpd was attached: {}", pod.guard_log());
    let out = Process::new("sh")
        .arg("-c")
        .arg(dismiss(&pod.files))
        .output()
        .unwrap();
    assert!(out.status.success());
    wait_until(Duration::from_secs(10), "the dismissal", || {
        pod.guard_log().contains("dismissed by rpd")
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(pod.stops(), "", "a dismissed guard never stops the pod");
}

#[test]
fn at_the_deadline_without_rpd_the_guard_kills_the_job_records_why_and_stops_the_pod() {
    let pod = Pod::launch("sleep 60; echo DONE", 1, 3600);
    // The launch wrote rpd's first heartbeat; an rpd that never renews it
    // (gone at once) is one whose beat is not there.
    let beat = heartbeat_path(&pod.files);
    assert!(Path::new(&beat).exists(), "the launch beats first");
    std::fs::remove_file(&beat).unwrap();
    wait_until(Duration::from_secs(30), "the stop", || {
        pod.stops().contains("pod-7")
    });
    assert_eq!(
        std::fs::read_to_string(&pod.files.exit).unwrap(),
        "143 guard max runtime\n"
    );
    let log = pod.guard_log();
    assert!(log.contains("killed the job: max runtime"), "{log}");
    assert!(
        log.contains("stopping pod pod-7: the deadline passed (max runtime)"),
        "{log}"
    );
}

#[test]
fn a_newer_launch_replaces_the_guard_an_older_run_left() {
    let pod = Pod::launch("echo DONE", 3600, 3600);
    let pid_file = format!("{}.pid", guard_path(&pod.files));
    wait_until(Duration::from_secs(10), "the guard", || {
        Path::new(&pid_file).exists()
    });
    let first = std::fs::read_to_string(&pid_file).unwrap();
    let again = Pod::launch_in(&pod, "echo DONE");
    wait_until(Duration::from_secs(10), "the old guard to end", || {
        !Path::new(&format!("/proc/{}", first.trim())).exists()
            || std::fs::read_to_string(format!("/proc/{}/stat", first.trim()))
                .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
    });
    drop(again);
}

impl Pod {
    /// Launches again in `pod`'s directory, as the next run would.
    fn launch_in(pod: &Pod, body: &str) -> std::process::Output {
        let launch = GuardLaunch {
            settings: GuardSettings {
                grace: Duration::from_secs(3600),
                stop: PodSelfStop::Command("true".into()),
                pod_id: "pod-7".into(),
            },
            deadline: Duration::from_secs(3600),
            reason: DeadlineReason::MaxRuntime,
        };
        std::fs::write(&pod.files.script, body).unwrap();
        std::fs::write(&pod.files.wrapper, wrapper(&pod.files, &launch)).unwrap();
        let start = format!(
            "{}{}",
            before_start(&pod.files, &launch.settings.stop),
            script::start(&pod.files)
        );
        Process::new("bash").arg("-c").arg(start).output().unwrap()
    }
}

#[test]
fn the_probe_names_what_the_pod_lacks_before_the_job_starts() {
    let dir = tempfile::tempdir().unwrap();
    let guard = dir.path().join("run.log.rpd-guard");
    std::fs::write(&guard, SCRIPT).unwrap();
    // A PATH with sh and the basic tools, but no curl, wget or python3.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["sh", "tr", "sed", "head"] {
        let found = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap();
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    let probe = |key: Option<&str>| {
        let mut cmd = Process::new(bin.join("sh"));
        cmd.arg(&guard)
            .args(["--probe", "api"])
            .env_clear()
            .env("PATH", &bin);
        if let Some(key) = key {
            cmd.env("RUNPOD_API_KEY", key);
        }
        cmd.output().unwrap()
    };
    let out = probe(Some("k"));
    assert_eq!(out.status.code(), Some(97));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the on-pod guard needs curl, wget or python3 on the pod"),
        "{out:?}"
    );
    // With an HTTP tool but no key of the pod's own.
    std::os::unix::fs::symlink("/usr/bin/curl", bin.join("curl")).unwrap();
    if Path::new("/proc/1/environ").exists()
        && std::fs::read("/proc/1/environ").is_ok_and(|e| {
            e.split(|b| *b == 0)
                .any(|v| v.starts_with(b"RUNPOD_API_KEY="))
        })
    {
        return;
    }
    let out = probe(None);
    assert_eq!(out.status.code(), Some(97));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the pod has no RUNPOD_API_KEY"),
        "{out:?}"
    );
    assert!(probe(Some("k")).status.success());
}
