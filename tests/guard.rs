//! Jobs that outlive the laptop (issue 11): the on-pod guard, end to end.
//! rpd is killed with SIGKILL while the job runs; the guard on the pod then
//! stops the pod by itself, on the simulator (its stop command reaches the
//! simulator's store) and on the REST v2 fake with the job over a real sshd
//! (a `POST /v2/pods/{id}/action` with the pod's own key). The user's key
//! never reaches the pod.

mod common;
#[path = "fakes/rest_v2.rs"]
mod fake;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::guard::{
    kill_rpd_then_end_the_job, only_pod, past_the_deadline_with_rpd_gone, short_grace, status,
    wait_for_the_guard_to_stop_the_pod,
};
use common::hello::HELLO;
use common::sshd::Sshd;
use common::{World, wait_until};
use fake::FakeRestV2;
use rpd::model::PodStatus;

/// The simulated pod's volume.
fn volume(world: &World) -> PathBuf {
    let id = only_pod(world)["id"].as_str().unwrap().to_string();
    world.sim_dir().join("pods").join(id).join("volume")
}

/// A file beside the job's log whose name starts with `prefix`.
fn beside_log(log_dir: &Path, prefix: &str) -> String {
    let found = std::fs::read_dir(log_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}* in {}", log_dir.display()));
    std::fs::read_to_string(found).unwrap()
}

#[test]
fn rpd_killed_during_the_job_the_guard_stops_the_pod_once_the_grace_after_its_end_passes() {
    let world = World::new();
    short_grace(&world);
    let apply = world.apply_in_background();
    assert_eq!(status(&world), "RUNNING");
    kill_rpd_then_end_the_job(&world, apply);

    wait_for_the_guard_to_stop_the_pod(&world);
    let log = beside_log(&volume(&world).join("hello"), "run.log.rpd-guard.log");
    let ended = log.find("the job ended").expect(&log);
    let stopping = log
        .find("no rpd collected the job's result within 2s of its end")
        .expect(&log);
    assert!(ended < stopping, "{log}");
    // It only ever stops: the pod, its volume and the job's results stay.
    assert_eq!(
        beside_log(&volume(&world).join("hello"), "run.log.rpd-exit-").trim(),
        "0"
    );
    assert_eq!(world.call_counts(&["delete"]), [0]);
}

#[test]
fn a_deadline_passing_with_rpd_gone_kills_the_job_records_why_and_stops_the_pod() {
    let world = World::new();
    // The job is never released: only the guard can end it.
    past_the_deadline_with_rpd_gone(&world);
    let hello = volume(&world).join("hello");
    assert_eq!(
        beside_log(&hello, "run.log.rpd-exit-"),
        "143 guard max runtime\n"
    );
    let log = beside_log(&hello, "run.log.rpd-guard.log");
    assert!(log.contains("killed the job: max runtime"), "{log}");
    assert!(log.contains("the deadline passed (max runtime)"), "{log}");
}

#[test]
fn the_guard_is_dismissed_when_the_lifecycle_preserves_the_pod() {
    let world = World::new();
    world.edit(
        HELLO,
        "  on_success: recycle\n  on_failure: stop\n",
        "  on_success: preserve\n  on_failure: stop\n  unattended_stop_after_sec: 1\n",
    );
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let hello = volume(&world).join("hello");
    wait_until(Duration::from_secs(20), "the guard to end", || {
        std::fs::read_to_string(hello.join("run.log.rpd-guard.log"))
            .is_ok_and(|l| l.contains("dismissed by rpd"))
    });
    assert_eq!(status(&world), "RUNNING", "preserved, as the config says");
    world.rpd(&["destroy", "-y", HELLO]).status(0);
}

/// Every process whose environment has `marker`, with its environment.
fn pod_processes(marker: &[u8]) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let environ = std::fs::read(e.path().join("environ")).ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            environ.split(|b| *b == 0).any(|v| v == marker).then(|| {
                (
                    String::from_utf8_lossy(&cmdline).replace('\0', " "),
                    environ,
                )
            })
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            found.extend(files_holding(&path, needle));
        } else if std::fs::read(&path).is_ok_and(|b| contains(&b, needle)) {
            found.push(path);
        }
    }
    found
}

#[test]
fn on_the_simulator_the_users_key_never_reaches_the_pod() {
    let world = World::new();
    let apply = world.apply_in_background_env(&[("RUNPOD_API_KEY", fake::DISTINCT_USER_KEY)]);
    // This pod's processes (the simulator gives them its RUNPOD_POD_ID).
    let marker = format!("RUNPOD_POD_ID={}", only_pod(&world)["id"].as_str().unwrap());
    let processes = pod_processes(marker.as_bytes());
    let guard: Vec<&String> = processes
        .iter()
        .map(|(cmd, _)| cmd)
        .filter(|cmd| cmd.contains("rpd-guard"))
        .collect();
    assert!(
        !guard.is_empty(),
        "the guard runs on the pod: {processes:#?}"
    );
    for (cmd, environ) in &processes {
        assert!(
            !contains(environ, fake::DISTINCT_USER_KEY),
            "the user's key is in the environment of {cmd}"
        );
    }
    assert_eq!(
        files_holding(&world.sim_dir().join("pods"), fake::DISTINCT_USER_KEY),
        Vec::<PathBuf>::new()
    );
    apply.release_job();
    apply.wait().status(0);
}

// ---------------------------------------------------------------- REST v2

/// The fake's pods answer over a real sshd whose sessions have the pod's
/// own key (`SetEnv RUNPOD_API_KEY`), as a RunPod pod does.
fn over_ssh(world: &World) -> Option<(FakeRestV2, Sshd)> {
    let sshd = Sshd::start()?;
    let fake = FakeRestV2::start();
    fake.set_ssh("127.0.0.1", sshd.port, &sshd.user);
    world.hello_over_ssh(&sshd);
    Some((fake, sshd))
}

fn runpod_env(fake: &FakeRestV2) -> Vec<(&'static str, String)> {
    vec![
        ("RPD_PROVIDER", "runpod".into()),
        ("RUNPOD_API_KEY", fake::DISTINCT_USER_KEY.into()),
        ("RPD_RUNPOD_API_URL", fake.url()),
        ("RPD_POLL_INTERVAL_MS", "50".into()),
    ]
}

#[test]
fn over_rest_v2_the_guard_stops_the_pod_with_its_own_key_and_the_users_key_stays_here() {
    let world = World::new();
    let Some((fake, _sshd)) = over_ssh(&world) else {
        return;
    };
    short_grace(&world);
    let env = runpod_env(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let apply = world.apply_in_background_env(&env);

    // While the job runs: the pod's processes (the sshd's sessions, which
    // have the pod's key) and its disk hold no trace of the user's key.
    let marker = format!("RUNPOD_API_KEY={}", common::sshd::POD_API_KEY);
    let processes = pod_processes(marker.as_bytes());
    assert!(
        processes.iter().any(|(cmd, _)| cmd.contains("rpd-guard")),
        "the guard runs on the pod: {processes:#?}"
    );
    for (cmd, environ) in &processes {
        assert!(
            !contains(environ, fake::DISTINCT_USER_KEY),
            "the user's key is in the environment of {cmd}"
        );
    }
    let mount = world.path("pod-volume");
    assert_eq!(
        files_holding(&mount, fake::DISTINCT_USER_KEY),
        Vec::<PathBuf>::new()
    );

    kill_rpd_then_end_the_job(&world, apply);
    let id = fake.pods()[0].id.clone();
    // The fake records a request once it has answered it.
    wait_until(Duration::from_secs(60), "the guard to stop the pod", || {
        fake.calls("podAction:stop") == 1
            && fake.requests().iter().any(|r| r.operation == "podAction")
    });
    assert_eq!(fake.pods()[0].status, PodStatus::Exited);
    let stops: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.operation == "podAction")
        .collect();
    let by_pod: Vec<_> = stops
        .iter()
        .filter(|r| {
            r.authorization.as_deref() == Some(&*format!("Bearer {}", common::sshd::POD_API_KEY))
        })
        .collect();
    assert_eq!(by_pod.len(), 1, "{stops:#?}");
    assert_eq!(by_pod[0].path, format!("/v2/pods/{id}/action"));
    assert_eq!(by_pod[0].body, Some(serde_json::json!({"action": "stop"})));
    assert_eq!(by_pod[0].status, 200);
    fake.assert_all_valid();
}

/// `apply --detach` leaves no heartbeat behind: the guard ends the job at
/// its deadline, not a minute later as it does for an rpd still attached.
#[test]
fn a_detached_job_is_ended_at_its_deadline_without_waiting_for_rpd() {
    let world = World::new();
    world.write(
        HELLO,
        &common::edited(
            &world.read(HELLO),
            "    echo HELLO_DONE\n",
            "    sleep 300\n    echo HELLO_DONE\n",
        ),
    );
    world
        .test()
        .args(["apply", "-y", "--detach", HELLO])
        .env("RPD_MAX_RUNTIME", "2s")
        .status(0)
        .stdout_has("hello: job launched and detached.")
        .stderr_has("hello: Launched ")
        .run();
    // An attached rpd gets 60 s past the deadline; a detached one none.
    wait_until(Duration::from_secs(40), "the guard to end the job", || {
        status(&world) == "EXITED"
    });
    let log = beside_log(&volume(&world).join("hello"), "run.log.rpd-guard.log");
    assert!(log.contains("killed the job: max runtime"), "{log}");
}

// ------------------------------------------------- the guard before setup

/// hello whose setup holds for up to ten minutes (until `setup-released`
/// exists; it touches `setup-started` first), with a 3 s unattended grace.
/// Returns (started, release).
fn long_setup(world: &World) -> (PathBuf, PathBuf) {
    let started = world.signal_path("setup-started");
    let release = world.signal_path("setup-released");
    world.edit(
        HELLO,
        "setup:\n",
        &format!(
            "setup:\n  - command: 'touch {started}; for _ in $(seq 6000); do [ -e {release} ] && break; sleep 0.1; done'\n    timeout_sec: 900\n",
            started = started.display(),
            release = release.display(),
        ),
    );
    world.edit(
        HELLO,
        "  on_failure: stop\n",
        "  on_failure: stop\n  unattended_stop_after_sec: 3\n",
    );
    (started, release)
}

/// rpd killed -9 during a long setup: the guard that starts before setup
/// stops the pod once no rpd has renewed its heartbeat for the grace, and
/// the next apply resumes that pod as routine (issue 19, item 3).
#[test]
fn rpd_killed_during_a_long_setup_leaves_a_pod_its_guard_stops_and_the_next_apply_resumes() {
    let world = World::new();
    let (started, release) = long_setup(&world);
    let apply = world.spawn(&["apply", "-y", HELLO]);
    wait_until(Duration::from_secs(60), "the setup to start", || {
        started.exists()
    });
    apply.signal(libc::SIGKILL);
    drop(apply.wait());
    std::fs::write(&release, "").unwrap();
    wait_until(Duration::from_secs(60), "the guard to stop the pod", || {
        status(&world) == "EXITED"
    });
    let log = beside_log(&volume(&world).join("hello"), "run.log.rpd-guard.log");
    assert!(log.contains("stopping pod"), "{log}");

    // A guard's stop of an idle pod is no change outside rpd: routine.
    world
        .test()
        .args(["plan", "--detailed-exitcode", HELLO])
        .status(0)
        .stdout_has("1. resume paused pod ")
        .stdout_lacks("outside rpd")
        .stdout_lacks("\"RUNNING\" -> \"EXITED\"")
        .run();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .status(0)
        .stdout_has("hello: apply complete! Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped. Job succeeded in [ELAPSED].\n")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    assert_eq!(world.pods().len(), 1);
}

#[test]
fn over_rest_v2_rpd_killed_during_setup_leaves_a_pod_its_guard_stops() {
    let world = World::new();
    let Some((fake, _sshd)) = over_ssh(&world) else {
        return;
    };
    let (started, release) = long_setup(&world);
    let env = runpod_env(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let apply = world.spawn_env(&["apply", "-y", HELLO], &env);
    wait_until(Duration::from_secs(60), "the setup to start", || {
        started.exists()
    });
    apply.signal(libc::SIGKILL);
    drop(apply.wait());
    std::fs::write(&release, "").unwrap();
    // The fake records a request once it has answered it.
    let by_pod = || {
        fake.requests().into_iter().any(|r| {
            r.operation == "podAction"
                && r.authorization.as_deref()
                    == Some(&*format!("Bearer {}", common::sshd::POD_API_KEY))
        })
    };
    wait_until(
        Duration::from_secs(60),
        "the guard to stop the pod with the pod's own key",
        || fake.pods()[0].status == PodStatus::Exited && by_pod(),
    );
    assert_eq!(fake.calls("podAction:stop"), 1, "only the guard stopped it");
    fake.assert_all_valid();
}
