//! Jobs that outlive the laptop (issue 11): `rpd attach`, a plain `rpd
//! apply` that finds a job on the pod, and `rpd apply --detach`. A job a
//! detached or killed rpd left is followed or collected, the lifecycle is
//! carried out, and the script never runs again; on the simulator and on
//! the REST v2 fake with the job over a real sshd.

mod common;
#[path = "fakes/rest_v2.rs"]
mod fake;

use std::path::PathBuf;
use std::time::Duration;

use common::guard::{
    kill_rpd_then_end_the_job, only_pod, past_the_deadline_with_rpd_gone, pod_id, short_grace,
    status, wait_for_the_guard_to_stop_the_pod, wait_for_the_launch_to_be_recorded,
};
use common::hello::{HELLO, HELLO_STATE};
use common::sshd::Sshd;
use common::{World, edited, wait_until};
use fake::FakeRestV2;
use rpd::model::PodStatus;

/// How many times hello's script ran on the pod's volume (it counts).
fn script_runs(world: &World) -> String {
    world.read("examples/artifacts/hello/result.txt")
}

#[test]
fn apply_after_the_guard_stopped_the_pod_resumes_it_collects_the_job_and_never_runs_it_again() {
    let world = World::new();
    short_grace(&world);
    let apply = world.apply_in_background();
    let pod = pod_id(&world);
    kill_rpd_then_end_the_job(&world, apply);
    wait_for_the_guard_to_stop_the_pod(&world);
    world.reset_calls();

    world
        .test()
        .args(["plan", HELLO])
        .known(&pod, "[POD]")
        .stdout_has("    1. resume paused pod [POD]\n")
        .stdout_has("    3. attach to the job launched on [POD] at [TIME] UTC: follow it until it ends, or collect it if it has (it is not run again)\n")
        .stdout_has("Note: an apply that was interrupted launched the job on pod [POD] at [DATE] [TIME] UTC: this apply attaches to it")
        .stdout_lacks("launch ")
        .run();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .known(&pod, "[POD]")
        .status(0)
        .stdout_has("hello: apply complete! Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped. Job succeeded in [ELAPSED].\n")
        .stderr_has("hello: Attached to the job launched at [DATE] [TIME] UTC: it has ended; collecting its results\n")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .stderr_lacks("Launched")
        .run();
    assert_eq!(
        script_runs(&world),
        format!("run 1 of hello on pod {pod}\n")
    );
    assert_eq!(world.call_counts(&["start", "stop", "create"]), [1, 1, 0]);
    let state = world.state(HELLO_STATE).unwrap();
    assert!(state.get("launched_job").is_none(), "collected: {state:#}");
    assert_eq!(state["pod"]["status"], "EXITED");
}

#[test]
fn attach_collects_a_job_the_guard_ended_at_its_deadline_and_says_so() {
    let world = World::new();
    past_the_deadline_with_rpd_gone(&world);

    world
        .test()
        .args(["attach", HELLO])
        .status(3)
        .stdout_has("hello: apply finished, job failed. Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped. Job failed in [ELAPSED] (monitor: stopped by the on-pod guard: max runtime (")
        .stdout_has("; on_failure: stop was carried out.\n")
        .stderr_has("it has ended; collecting its results\n")
        .run();
    let run = world.run_dirs().pop().unwrap();
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("runpod_deploy_pull_manifest.json")).unwrap(),
    )
    .unwrap();
    let text = manifest.to_string();
    assert!(
        text.contains("stopped by the on-pod guard: max runtime"),
        "{manifest:#}"
    );
    assert_eq!(manifest["exit_code"], 143);
}

#[test]
fn attach_with_no_job_left_says_so_and_changes_nothing() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.reset_calls();
    world
        .test()
        .args(["attach", HELLO])
        .status(1)
        .stdout("")
        .stderr_has("error: hello: there is no job to attach to: the state records no job that `rpd apply --detach` or an interrupted apply launched\n  = help: `rpd apply examples/hello.yaml` runs the job\n")
        .run();
    assert_eq!(world.call_counts(&["start", "stop", "create"]), [0, 0, 0]);
}

/// Holds hello's job until `job-released` exists; returns (started, release).
fn hold_job(world: &World) -> (PathBuf, PathBuf) {
    let started = world.signal_path("job-started");
    let release = world.signal_path("job-released");
    let held = edited(
        &world.read(HELLO),
        "    echo HELLO_DONE\n",
        &format!(
            "    touch {started}\n    for _ in $(seq 1200); do [ -e {release} ] && break; sleep 0.1; done\n    [ -e {release} ]\n    echo HELLO_DONE\n",
            started = started.display(),
            release = release.display(),
        ),
    );
    world.write(HELLO, &held);
    (started, release)
}

/// hello's job held (see [`hold_job`]), applied with `--detach` and
/// started; returns the file that releases it.
fn detached_held_job(world: &World) -> PathBuf {
    let (started, release) = hold_job(world);
    world
        .test()
        .args(["apply", "-y", "--detach", HELLO])
        .status(0)
        .stdout_has("hello: job launched and detached.")
        .stderr_has("hello: Launched ")
        .run();
    wait_until(Duration::from_secs(30), "the job to start", || {
        started.exists()
    });
    release
}

#[test]
fn apply_detach_returns_once_the_job_runs_and_attach_follows_it_to_the_end() {
    let world = World::new();
    let (started, release) = hold_job(&world);
    world
        .test()
        .args(["apply", "-y", "--detach", HELLO])
        .status(0)
        .stdout_has("hello: job launched and detached. Pods: 1 created, 0 resumed, 0 destroyed, 0 stopped.\n  The job runs on pod [POD]; follow it, or collect it once it has ended, with `rpd attach examples/hello.yaml` (a plain `rpd apply` does the same), which then carries out the lifecycle.\n  The pod stops itself at [DATE] ")
        .stdout_has(" UTC (max runtime), or 10m00s after the job ends if no rpd is attached.\n")
        .stderr_lacks("Lifecycle")
        .run();
    // Launched in the background: it starts a moment later.
    wait_until(Duration::from_secs(30), "the job to start", || {
        started.exists()
    });
    assert_eq!(status(&world), "RUNNING");
    let state = world.state(HELLO_STATE).unwrap();
    let job = &state["launched_job"];
    assert_eq!(job["pod_id"], only_pod(&world)["id"]);
    assert_eq!(job["detached"], true);
    assert_eq!(job["tag"].as_str().map(str::len), Some(12), "{job:#}");
    assert!(job["deadline_at"].is_string(), "{job:#}");

    let attach = world.spawn(&["attach", HELLO]);
    wait_until(Duration::from_secs(30), "rpd to follow the job", || {
        attach
            .stderr_so_far()
            .contains("it is still running; following its log")
    });
    std::fs::write(&release, "").unwrap();
    let pod = pod_id(&world);
    world
        .test()
        .known(&pod, "[POD]")
        .status(0)
        .stdout_has("Note: `rpd apply --detach` launched the job on pod [POD]")
        .stdout_has("hello: apply complete! Pods: 0 created, 0 resumed, 0 destroyed, 1 stopped. Job succeeded in [ELAPSED].\n")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .check(attach.wait());
    assert_eq!(
        script_runs(&world),
        format!("run 1 of hello on pod {pod}\n")
    );
    assert_eq!(status(&world), "EXITED");
}

/// Ctrl-C in `rpd attach` stops following a job an earlier rpd launched
/// and leaves it running: it never ends the job nor runs on_failure (which
/// here would delete the pod and the run with it).
#[test]
fn ctrl_c_in_attach_leaves_the_job_running_and_runs_no_lifecycle() {
    let world = World::new();
    world.write(
        HELLO,
        &edited(&world.read(HELLO), "on_failure: stop", "on_failure: delete"),
    );
    let release = detached_held_job(&world);
    let attach = world.spawn(&["attach", HELLO]);
    wait_until(Duration::from_secs(30), "rpd to follow the job", || {
        attach
            .stderr_so_far()
            .contains("it is still running; following its log")
    });
    attach.signal(libc::SIGINT);
    let pod = pod_id(&world);
    world
        .test()
        .known(&pod, "[POD]")
        .status(130)
        .stdout_has("hello: stopped following the job; it runs on. Pods: 0 created, 0 resumed, 0 destroyed, 0 stopped.\n  The job runs on pod [POD]; follow it, or collect it once it has ended, with `rpd attach examples/hello.yaml`")
        .stderr_lacks("Lifecycle")
        .stderr_lacks("Destroying")
        .check(attach.wait());
    assert_eq!(status(&world), "RUNNING");
    assert!(
        world.state(HELLO_STATE).unwrap()["launched_job"].is_object(),
        "the job is still recorded for the next attach"
    );
    // The job was not ended: released, it finishes, and attach collects it.
    std::fs::write(&release, "").unwrap();
    world
        .test()
        .known(&pod, "[POD]")
        .args(["attach", HELLO])
        .status(0)
        .stdout_has("hello: apply complete!")
        .stdout_has("Job succeeded in [ELAPSED].\n")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    assert_eq!(
        script_runs(&world),
        format!("run 1 of hello on pod {pod}\n")
    );
}

/// A config change while a detached job runs (the image, which an update
/// in place would change by restarting the container) waits: the job is
/// collected on the pod as it is, then the next apply makes the change.
#[test]
fn a_config_change_waits_until_the_detached_job_is_collected() {
    let world = World::new();
    let release = detached_held_job(&world);
    let pod = pod_id(&world);
    world.write(
        HELLO,
        &edited(
            &world.read(HELLO),
            "torch280-ubuntu2404",
            "torch291-ubuntu2404",
        ),
    );
    std::fs::write(&release, "").unwrap();
    world
        .test()
        .known(&pod, "[POD]")
        .args(["attach", HELLO])
        .status(0)
        .stdout_has("Note: the config changed (image), but the job an earlier apply launched on pod [POD] has not been collected: this apply collects it on the pod as it is, and the next apply makes the change")
        .stdout_has("hello: apply complete! Pods: 0 created, 0 resumed, 0 destroyed, 1 stopped. Job succeeded in [ELAPSED].\n")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .stderr_lacks("in place")
        .run();
    assert_eq!(
        script_runs(&world),
        format!("run 1 of hello on pod {pod}\n"),
        "the job ran once, to its end"
    );
    world
        .test()
        .known(&pod, "[POD]")
        .args(["plan", HELLO])
        .stdout_has("  # pod \"hello\" ([POD]) will be updated in place, then resumed (EXITED -> RUNNING)\n")
        .run();
}

// ---------------------------------------------------------------- REST v2

#[test]
fn over_rest_v2_apply_resumes_the_pod_the_guard_stopped_and_collects_the_job() {
    let world = World::new();
    let Some(sshd) = Sshd::start() else {
        return;
    };
    let fake = FakeRestV2::start();
    fake.set_ssh("127.0.0.1", sshd.port, &sshd.user);
    world.hello_over_ssh(&sshd);
    short_grace(&world);
    let env = [
        ("RPD_PROVIDER", "runpod".to_string()),
        ("RUNPOD_API_KEY", fake::API_KEY.to_string()),
        ("RPD_RUNPOD_API_URL", fake.url()),
        ("RPD_POLL_INTERVAL_MS", "50".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let apply = world.apply_in_background_env(&env);
    kill_rpd_then_end_the_job(&world, apply);
    wait_until(Duration::from_secs(60), "the guard to stop the pod", || {
        fake.pods()[0].status == PodStatus::Exited
    });
    let mut test = world.test().args(["apply", "-y", HELLO]);
    for (key, value) in &env {
        test = test.env(key, value);
    }
    test.status(0)
        .stdout_has("hello: apply complete! Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped. Job succeeded in [ELAPSED].\n")
        .stderr_has("it has ended; collecting its results\n")
        .stderr_lacks("Launched")
        .run();
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        "run 1 of hello on pod unknown\n",
        "collected, not run again"
    );
    assert_eq!(fake.calls("podAction:start"), 1);
    // rpd's recycle stops the pod once with the user's key; the guard, with
    // the pod's own key, stopped it while it ran. (The sshd's sessions
    // outlive the fake's stop, so a guard may ask again later, and hear
    // that the pod is not running.)
    let stops: Vec<(Option<String>, u16)> = fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.operation == "podAction" && r.body == Some(serde_json::json!({"action": "stop"}))
        })
        .map(|r| (r.authorization, r.status))
        .collect();
    let by = |key: &str| {
        let bearer = format!("Bearer {key}");
        stops
            .iter()
            .filter(|(auth, _)| auth.as_deref() == Some(bearer.as_str()))
            .map(|(_, status)| *status)
            .collect::<Vec<u16>>()
    };
    assert_eq!(by(fake::API_KEY), [200], "{stops:?}");
    let by_pod = by(common::sshd::POD_API_KEY);
    assert_eq!(by_pod.first(), Some(&200), "{stops:?}");
    assert!(by_pod[1..].iter().all(|s| *s == 409), "{stops:?}");
    assert_eq!(fake.calls("createPod"), 1);
    assert_eq!(fake.pods()[0].status, PodStatus::Exited);
    fake.assert_all_valid();
}

#[test]
fn a_pod_resumed_to_collect_a_job_stops_itself_when_that_rpd_is_killed_too() {
    let world = World::new();
    short_grace(&world);
    let apply = world.apply_in_background();
    kill_rpd_then_end_the_job(&world, apply);
    wait_for_the_guard_to_stop_the_pod(&world);

    // The attach resumes the pod and is killed before it pulls anything.
    let attach = world.spawn_paused_at("pull", &["attach", HELLO]);
    assert_eq!(status(&world), "RUNNING", "resumed to collect the job");
    attach.signal(libc::SIGKILL);
    drop(attach.wait());
    wait_until(
        Duration::from_secs(60),
        "the guard to stop the pod again",
        || status(&world) == "EXITED",
    );

    // Still there to collect, once.
    world.rpd(&["attach", HELLO]).status(0);
    let pod = pod_id(&world);
    assert_eq!(
        script_runs(&world),
        format!("run 1 of hello on pod {pod}\n")
    );
    world.rpd(&["attach", HELLO]).status(1);
}

// ------------------------------------------------------------ busy host

/// Issue 19, item 2: a pod holding an uncollected job whose host is busy
/// is never deleted nor replaced, whatever `on_busy_host` says: rpd tries
/// the start again (the `wait` policy's schedule), then keeps the pod
/// paused with its job recorded, says how to collect it, and exits 1. Once
/// the host frees, `rpd attach` collects the job. No pod is created.
#[test]
fn a_busy_host_never_costs_the_pod_holding_an_uncollected_job() {
    let world = World::new();
    short_grace(&world);
    world.edit(
        HELLO,
        "  on_failure: stop\n",
        "  on_failure: stop\n  on_busy_host: recreate\n",
    );
    let apply = world.apply_in_background();
    let pod = pod_id(&world);
    kill_rpd_then_end_the_job(&world, apply);
    wait_for_the_guard_to_stop_the_pod(&world);
    let tag = world.state(HELLO_STATE).unwrap()["launched_job"]["tag"].clone();
    world
        .rpd(&["sim", "fail-next-start", &pod, "--count", "1000"])
        .status(0);
    world.reset_calls();

    world
        .test()
        .args(["plan", HELLO])
        .known(&pod, "[POD]")
        .stdout_has("    1. resume paused pod [POD]\n       if its host has no free GPU: try again for up to 2m00s, then keep it paused and stop: it holds the job an earlier apply launched, which is collected on this pod only (never deleted or replaced for it, whatever on_busy_host says)\n")
        .stdout_lacks("its volume is lost")
        .run();
    let busy = [
        ("RPD_BUSY_HOST_WAIT", "300ms"),
        ("RPD_BUSY_HOST_RETRY_EVERY", "100ms"),
    ];
    for args in [
        &["attach", HELLO][..],
        &["apply", "-y", "--on-busy-host", "recreate", HELLO][..],
    ] {
        let mut test = world.test().args(args.iter().copied()).known(&pod, "[POD]");
        for (key, value) in busy {
            test = test.env(key, value);
        }
        test.status(1)
            .stdout_has("Plan: 0 to create, 1 to resume, 0 to destroy, 1 to stop.\n")
            .stderr_has("pod [POD] was kept, paused: its host has no free GPU (tried for 300ms), and it holds the job an earlier apply launched: its log, artifacts and exit status are only on this pod\n  = help: `rpd attach examples/hello.yaml` collects the job once the host frees (run it again later)")
            .stderr_lacks("Replacing")
            .run();
        assert_eq!(pod_id(&world), pod, "the same pod, and only it");
        assert_eq!(status(&world), "EXITED");
        let state = world.state(HELLO_STATE).unwrap();
        assert_eq!(
            state["launched_job"]["tag"], tag,
            "still to collect: {state:#}"
        );
        assert_eq!(state["pod"]["id"], pod.as_str());
    }
    assert_eq!(world.call_counts(&["create", "delete"]), [0, 0]);

    world
        .rpd(&["sim", "fail-next-start", &pod, "--count", "0"])
        .status(0);
    world.rpd(&["attach", HELLO]).status(0);
    assert_eq!(
        script_runs(&world),
        format!("run 1 of hello on pod {pod}\n"),
        "collected on its pod, never run again"
    );
    assert_eq!(world.call_counts(&["create", "delete"]), [0, 0]);
}

// ------------------------------------------------------------ run records

/// Issue 19, item 17: a run collected by `attach` is one run, in the
/// launching run's directory, with the job's real duration (measured on
/// the pod), the pod's real start (cold: the launching run created it) and
/// the launching run's step times; `rpd runs` reads it so.
#[test]
fn a_run_collected_by_attach_is_one_run_with_its_real_duration_and_start() {
    let world = World::new();
    world.edit(
        HELLO,
        "    echo HELLO_DONE\n",
        "    sleep 2\n    echo HELLO_DONE\n",
    );
    let release = detached_held_job(&world);
    let launch_dirs = world.run_dirs();
    assert_eq!(launch_dirs.len(), 1, "the launching run's directory");
    std::fs::write(&release, "").unwrap();
    let pod = pod_id(&world);
    let volume = world.sim_dir().join("pods").join(&pod).join("volume/hello");
    wait_until(Duration::from_secs(60), "the job to end", || {
        std::fs::read_dir(&volume)
            .map(|entries| {
                entries.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with("run.log.rpd-exit-") && !name.ends_with(".tmp")
                })
            })
            .unwrap_or(false)
    });

    let attach = world.rpd(&["attach", HELLO]).status(0);
    assert_eq!(world.run_dirs(), launch_dirs, "one run, one directory");
    let text = std::fs::read_to_string(launch_dirs[0].join("runpod_deploy_pull_manifest.json"))
        .expect("the manifest is in the launching run's directory");
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let steps: Vec<(String, f64)> = manifest["step_durations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_string(),
                s["duration_sec"].as_f64().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = steps.iter().map(|(s, _)| s.as_str()).collect();
    for step in [
        "create",
        "wait_ready",
        "setup",
        "staging",
        "launch",
        "monitor",
        "pull",
    ] {
        assert!(names.contains(&step), "{step} in {names:?}");
    }
    assert!(
        !names.contains(&"start"),
        "the launching run created the pod: {names:?}"
    );
    let monitor = steps.iter().find(|(s, _)| s == "monitor").unwrap().1;
    assert!(
        (2.0..60.0).contains(&monitor),
        "the job's real duration, measured on the pod: {monitor}"
    );
    assert!(
        manifest["wall_time_sec"].as_f64().unwrap() >= 2.0,
        "{manifest:#}"
    );
    assert_eq!(manifest["pod_resumed"], false);
    let summary = attach.stdout();
    assert!(
        !summary.contains("Job succeeded in 0."),
        "the job's real duration in the summary: {summary}"
    );

    let runs = world.rpd(&["runs", HELLO]).status(0).stdout();
    let rows: Vec<&str> = runs.lines().filter(|l| l.contains(&pod)).collect();
    assert_eq!(rows.len(), 1, "one run: {runs}");
    assert!(rows[0].contains("cold"), "{runs}");
}

// ------------------------------------------- the guard and the laptop agree

/// hello with `on_failure: delete` (a wrong branch deletes the pod and the
/// run with it) and the guard's grace short.
fn a_wrong_branch_deletes(world: &World) {
    short_grace(world);
    world.edit(HELLO, "  on_failure: stop\n", "  on_failure: delete\n");
}

/// The laptop sleeps (rpd's process group stopped) through the job's end
/// and the guard's stop: on waking, rpd resumes the pod, collects the job
/// and runs the branch of its real exit status (issue 19, item 1).
#[test]
fn a_laptop_asleep_through_the_jobs_end_collects_it_from_the_pod_the_guard_stopped_and_recycles() {
    let world = World::new();
    a_wrong_branch_deletes(&world);
    let apply = world.apply_in_background();
    wait_for_the_launch_to_be_recorded(&world);
    let pod = pod_id(&world);
    apply.signal_group(libc::SIGSTOP);
    apply.release_job();
    wait_for_the_guard_to_stop_the_pod(&world);
    apply.signal_group(libc::SIGCONT);
    world
        .test()
        .known(&pod, "[POD]")
        .status(0)
        .stdout_has("hello: apply complete! Pods: 1 created, 1 resumed, 0 destroyed, 1 stopped. Job succeeded in [ELAPSED].\n")
        .stderr_has("hello: Pod [POD] was stopped before the job's results were collected; resuming it to read them from its volume\n")
        .stderr_has("hello: The on-pod guard had stopped pod [POD]: no rpd collected the job's result within 2s of its end; collecting the job\n")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .stderr_lacks("on_failure")
        .check(apply.wait());
    assert_eq!(
        script_runs(&world),
        format!("run 1 of hello on pod {pod}\n")
    );
    assert_eq!(status(&world), "EXITED");
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(
        state["pod"]["id"],
        pod.as_str(),
        "kept to resume: {state:#}"
    );
    assert!(state.get("launched_job").is_none(), "collected: {state:#}");
}

/// `apply --detach`, the job ends, the guard stops the pod; `rpd attach`
/// then collects it and runs the branch of its real exit status.
#[test]
fn attach_after_the_guard_stopped_a_detached_jobs_pod_collects_it_and_recycles() {
    let world = World::new();
    a_wrong_branch_deletes(&world);
    let release = detached_held_job(&world);
    let pod = pod_id(&world);
    std::fs::write(&release, "").unwrap();
    wait_for_the_guard_to_stop_the_pod(&world);
    world
        .test()
        .known(&pod, "[POD]")
        .args(["attach", HELLO])
        .status(0)
        .stdout_has("hello: apply complete! Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped. Job succeeded in [ELAPSED].\n")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .stderr_lacks("on_failure")
        .run();
    assert_eq!(
        script_runs(&world),
        format!("run 1 of hello on pod {pod}\n")
    );
    assert_eq!(status(&world), "EXITED");
}

/// A pod stopped outside rpd while the job runs (no exit status, the guard
/// did not stop it) fails the job, but what there is is collected before
/// `on_failure: delete` takes the pod.
#[test]
fn a_pod_stopped_outside_rpd_under_the_job_is_collected_before_on_failure_deletes_it() {
    let world = World::new();
    a_wrong_branch_deletes(&world);
    let apply = world.apply_in_background();
    wait_for_the_launch_to_be_recorded(&world);
    let pod = pod_id(&world);
    world.rpd(&["sim", "stop", &pod]).status(0);
    let run = apply.wait();
    world
        .test()
        .known(&pod, "[POD]")
        .status(3)
        .stdout_has("hello: apply finished, job failed.")
        .stdout_has("on_failure: delete was carried out.\n")
        .stderr_has("hello: Pod [POD] was stopped before the job's results were collected; resuming it to read them from its volume\n")
        .stderr_has("hello: Pod [POD] was stopped while the job ran, not by the on-pod guard (stopped outside rpd?); collecting what there is\n")
        .stderr_has("hello: Lifecycle on_failure: delete\n")
        .check(run);
    let run_dir = world.run_dirs().pop().unwrap();
    let log = std::fs::read_to_string(run_dir.join("run.log")).unwrap_or_default();
    assert!(log.contains("hello from"), "the log was collected: {log:?}");
    assert!(
        world.pods().is_empty(),
        "on_failure: delete, after the collect"
    );
}

/// The launching machine's clock was an hour behind: the state's
/// `launched_at` and `deadline_at` are an hour early, exactly what such a
/// launcher writes. The deadline is measured on the pod, so attach does not
/// end the healthy job (issue 19, item 4).
#[test]
fn attach_measures_the_deadline_on_the_pod_not_against_a_skewed_launchers_clock() {
    let world = World::new();
    a_wrong_branch_deletes(&world);
    let release = detached_held_job(&world);
    let pod = pod_id(&world);
    let mut state = world.state(HELLO_STATE).unwrap();
    for key in ["launched_at", "deadline_at"] {
        let at: chrono::DateTime<chrono::Utc> = state["launched_job"][key]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        state["launched_job"][key] = (at - chrono::Duration::hours(1)).to_rfc3339().into();
    }
    world.write(HELLO_STATE, &serde_json::to_string_pretty(&state).unwrap());

    let attach = world.spawn(&["attach", HELLO]);
    wait_until(Duration::from_secs(30), "rpd to follow the job", || {
        attach
            .stderr_so_far()
            .contains("it is still running; following its log")
    });
    // The scenario, not a synchronisation: the job runs 15 s more, past
    // the few seconds a deadline an hour gone would leave it.
    std::thread::sleep(Duration::from_secs(15));
    std::fs::write(&release, "").unwrap();
    world
        .test()
        .known(&pod, "[POD]")
        .status(0)
        .stdout_has("Job succeeded in [ELAPSED].\n")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .stderr_lacks("on_failure")
        .check(attach.wait());
    assert_eq!(
        script_runs(&world),
        format!("run 1 of hello on pod {pod}\n")
    );
}
