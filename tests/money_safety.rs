//! Money safety on the paths that used to leak (issue 8's defects): an
//! interrupt at each step, a failed state write, a busy host, a replace with
//! no stock, destroy of a pod already gone, results that cannot be saved,
//! local inputs that are wrong before a pod bills. Each test stops rpd at an
//! exact step with `RPD_FAULT` (src/fault.rs), never with a sleep.

mod common;

use common::hello::{HELLO, HELLO_STATE};
use common::{World, wait_until};
use std::time::Duration;

fn only_pod(world: &World) -> serde_json::Value {
    let pods = world.pods();
    assert_eq!(pods.len(), 1, "one pod: {pods:#?}");
    pods[0].clone()
}

fn state(world: &World) -> serde_json::Value {
    world.state(HELLO_STATE).expect("a state file")
}

/// The manifest of the last run directory.
fn last_manifest(world: &World) -> serde_json::Value {
    let dir = world.run_dirs().pop().expect("a run directory");
    let text =
        std::fs::read_to_string(dir.join("runpod_deploy_pull_manifest.json")).expect("a manifest");
    serde_json::from_str(&text).unwrap()
}

/// `rpd apply -y hello`, sent `signal` at the step `point`; what it did.
fn apply_signalled_at(world: &World, point: &str, signal: libc::c_int) -> common::Run {
    let apply = world.spawn_paused_at(point, &["apply", "-y", HELLO]);
    apply.signal(signal);
    apply.wait()
}

/// The only pod is `paused`, stopped, and still the state's pod to resume
/// (not demoted to a pod kept for forensics).
#[track_caller]
fn assert_kept_to_resume(world: &World, paused: &str) {
    assert_eq!(only_pod(world)["status"], "EXITED");
    let state = state(world);
    assert_eq!(state["pod"]["id"], paused, "still the pod to resume");
    assert_eq!(state["pod"]["status"], "EXITED");
    assert!(state.get("retained").is_none(), "not demoted: {state:#}");
}

/// rpd died at its fault point, as a `kill -9` would have it.
#[track_caller]
fn aborted(run: &common::Run) {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        run.output.status.signal(),
        Some(libc::SIGABRT),
        "{}",
        run.stderr()
    );
}

/// hello, applied once: its pod is paused for reuse. Returns its id.
fn recycled(world: &World) -> String {
    world.rpd(&["apply", "-y", HELLO]).status(0);
    only_pod(world)["id"].as_str().unwrap().to_string()
}

// Defect 1: the job's outcome is fixed when the job ends.

/// A Ctrl-C during the recycle stop, or a SIGTERM during the pull, comes
/// after the job ended well: on_success alone runs, the pod stays the one
/// to resume, and the manifest says the job succeeded.
#[test]
fn an_interrupt_after_the_job_ended_carries_out_on_success_only() {
    for (point, signal) in [("lifecycle", libc::SIGINT), ("pull", libc::SIGTERM)] {
        let world = World::new();
        let paused = recycled(&world);
        let run = apply_signalled_at(&world, point, signal);
        world
            .test()
            .status(130)
            .stdout_has("hello: apply complete! Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped. Job succeeded in [ELAPSED].\n")
            .stdout_has("  Interrupted after the job ended: its outcome stands and on_success: recycle was carried out.\n")
            .stdout_lacks("on_failure")
            .stderr_has("hello: Pulled the log into ")
            .stderr_has("hello: Lifecycle on_success: recycle\n")
            .stderr_lacks("Lifecycle on_failure")
            .check(run);
        assert_kept_to_resume(&world, &paused);
        let manifest = last_manifest(&world);
        assert_eq!(
            (
                &manifest["failed"],
                &manifest["exit_code"],
                &manifest["lifecycle_action"]
            ),
            (&false.into(), &0.into(), &"recycle".into()),
            "{point}"
        );
    }
}

// Defect 2: a pod this run created that never ran the job is deleted; a
// resumed one is stopped and stays the pod to resume.

#[test]
fn ctrl_c_before_the_job_deletes_the_pod_this_run_created_whatever_on_failure_says() {
    for on_failure in ["preserve", "stop"] {
        let world = World::new();
        world.edit(
            HELLO,
            "on_failure: stop",
            &format!("on_failure: {on_failure}"),
        );
        let run = apply_signalled_at(&world, "setup", libc::SIGINT);
        world
            .test()
            .status(130)
            .stdout_has(
                "hello: apply stopped. Pods: 1 created, 0 resumed, 1 destroyed, 0 stopped.\n",
            )
            .stderr_has("hello: Deleting pod [POD]: interrupted before the job started\n")
            .stderr_has("error: hello: interrupted before the job started\n")
            .stderr_lacks("Lifecycle")
            .check(run);
        assert_eq!(
            world.pod_ids(),
            Vec::<String>::new(),
            "on_failure: {on_failure}"
        );
        assert!(world.state(HELLO_STATE).is_none(), "nothing left to track");
    }
}

#[test]
fn ctrl_c_before_the_job_stops_a_resumed_pod_and_keeps_it_to_resume() {
    let world = World::new();
    let paused = recycled(&world);
    let run = apply_signalled_at(&world, "setup", libc::SIGINT);
    world
        .test()
        .status(130)
        .known(&paused, "[PAUSED]")
        .stdout_has("hello: apply stopped. Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped.\n")
        .stderr_has("hello: Stopping pod [PAUSED]: interrupted before the job started\n")
        .stderr_lacks("Lifecycle")
        .check(run);
    assert_kept_to_resume(&world, &paused);
}

// Defect 3: a state write that fails once the pod runs.

#[test]
fn a_state_write_that_fails_once_a_created_pod_runs_deletes_it_and_says_so() {
    let world = World::new();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .env("RPD_FAULT", "save-ready:fail")
        .status(1)
        .stdout_has("hello: apply stopped. Pods: 1 created, 0 resumed, 1 destroyed, 0 stopped.\n")
        .stderr_has("could not write the state (")
        .stderr_has("hello: Deleting pod [POD]: the state could not record that it runs\n")
        .stderr_has("hello: Destruction complete")
        .run();
    assert_eq!(world.pod_ids(), Vec::<String>::new(), "nothing billing");
}

#[test]
fn a_state_write_that_fails_after_a_resume_stops_the_pod_again_and_says_so() {
    let world = World::new();
    let paused = recycled(&world);
    world
        .test()
        .args(["apply", "-y", HELLO])
        .env("RPD_FAULT", "save-resumed:fail")
        .known(&paused, "[PAUSED]")
        .status(1)
        .stdout_has("hello: apply stopped. Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped.\n")
        .stderr_has("hello: Stopping pod [PAUSED]: the state could not record that it runs\n")
        .stderr_has("error: hello: cannot write state file [TMP]/examples/.rpd/hello.state.json: RPD_FAULT=save-resumed:fail; pod [PAUSED] was stopped so that it does not bill unrecorded\n")
        .stderr_has("hello: Stop complete")
        .run();
    assert_kept_to_resume(&world, &paused);
}

#[test]
fn a_pod_that_cannot_be_stopped_after_a_failed_state_write_is_named_as_billing() {
    let world = World::new();
    let paused = recycled(&world);
    world.rpd(&["sim", "fail-stop", &paused, "10"]).status(0);
    world
        .test()
        .args(["apply", "-y", HELLO])
        .env("RPD_FAULT", "save-resumed:fail")
        .known(&paused, "[PAUSED]")
        .status(1)
        .stdout_has("hello: apply stopped. Pods: 0 created, 1 resumed, 0 destroyed, 0 stopped.\n")
        .stderr_has("error: hello: pod [PAUSED] did not stop: the stop request failed (transient provider error: simulated 502 Bad Gateway on stop); it is still RUNNING, billing $0.44/hr. It may be billing: stop it in the RunPod console or run `rpd destroy examples/hello.yaml`\n")
        .run();
}

// Defect 4: a busy host.

/// No free RTX 4090 or A5000 anywhere: the paused pod's host is busy too.
fn no_stock_anywhere(world: &World) {
    for dc in ["EU-RO-1", "US-CA-2"] {
        for gpu in ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"] {
            world.rpd(&["sim", "stock", dc, gpu, "0"]).status(0);
        }
    }
}

const QUICK_BUSY_WAIT: [(&str, &str); 2] = [
    ("RPD_BUSY_HOST_WAIT", "300ms"),
    ("RPD_BUSY_HOST_RETRY_EVERY", "50ms"),
];

#[test]
fn a_busy_host_with_no_stock_anywhere_keeps_the_paused_pod() {
    let world = World::new();
    let paused = recycled(&world);
    no_stock_anywhere(&world);
    world.reset_calls();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .envs(QUICK_BUSY_WAIT)
        .known(&paused, "[PAUSED]")
        .status(1)
        .stdout_has("hello: apply stopped. Pods: 0 created, 0 resumed, 0 destroyed, 0 stopped.\n")
        .stderr_has("error: hello: pod [PAUSED] was kept, paused: its host has no free GPU (tried for 300ms) and no candidate has stock, so replacing it would lose its volume and leave nothing to run on\n")
        .run();
    assert_eq!(only_pod(&world)["id"], paused.as_str(), "kept");
    assert_eq!(world.call_counts(&["delete", "create"]), [0, 0]);
    assert_eq!(state(&world)["pod"]["id"], paused.as_str());
}

#[test]
fn a_host_that_frees_its_gpu_while_rpd_waits_resumes_the_same_pod() {
    let world = World::new();
    let paused = recycled(&world);
    world
        .rpd(&["sim", "fail-next-start", &paused, "--count", "2"])
        .status(0);
    world.reset_calls();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .envs(QUICK_BUSY_WAIT)
        .stdout_has("hello: apply complete! Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("its host has no free GPU; trying again")
        .run();
    assert_eq!(only_pod(&world)["id"], paused.as_str(), "the same pod");
    assert_eq!(world.call_counts(&["start", "delete", "create"]), [3, 0, 0]);
    let result = world.read("examples/artifacts/hello/result.txt");
    assert!(
        result.starts_with("run 2 "),
        "the volume was kept: {result}"
    );
}

#[test]
fn on_busy_host_fail_keeps_the_paused_pod_at_once_and_recreate_replaces_it() {
    let world = World::new();
    let paused = recycled(&world);
    world
        .rpd(&["sim", "fail-next-start", &paused, "--count", "5"])
        .status(0);
    world
        .test()
        .args(["apply", "-y", "--on-busy-host", "fail", HELLO])
        .known(&paused, "[PAUSED]")
        .status(1)
        .stdout_has("       if its host has no free GPU: keep it paused and stop (--on-busy-host fail)\n")
        .stdout_has("hello: apply stopped. Pods: 0 created, 0 resumed, 0 destroyed, 0 stopped.\n")
        .stderr_has("error: hello: pod [PAUSED] was kept, paused: its host has no free GPU (--on-busy-host fail)\n")
        .run();
    assert_eq!(only_pod(&world)["id"], paused.as_str());

    world
        .test()
        .args(["apply", "-y", "--on-busy-host", "recreate", HELLO])
        .known(&paused, "[PAUSED]")
        .stdout_has("       if its host has no free GPU: delete [PAUSED] (its volume is lost) and create on the candidates if one has stock; with none, keep it paused and stop (--on-busy-host recreate)\n")
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.")
        .stderr_has("hello: Replacing pod [PAUSED]: its host has no free GPU (its volume is lost)\n")
        .run();
    assert_ne!(only_pod(&world)["id"], paused.as_str(), "replaced");
}

#[test]
fn the_plan_states_the_busy_host_policy_and_the_config_can_set_it() {
    let world = World::new();
    let paused = recycled(&world);
    world
        .test()
        .args(["plan", HELLO])
        .known(&paused, "[PAUSED]")
        .stdout_has("       if its host has no free GPU: try again for up to 2m00s, then delete [PAUSED] (its volume is lost) and create on the candidates if one has stock; with none, keep it paused and stop\n")
        .run();
    world.edit(
        HELLO,
        "  on_failure: stop\n",
        "  on_failure: stop\n  on_busy_host: fail\n",
    );
    world
        .test()
        .args(["plan", HELLO])
        .known(&paused, "[PAUSED]")
        .stdout_has("       if its host has no free GPU: keep it paused and stop (lifecycle.on_busy_host: fail)\n")
        .run();
}

// Defect 5: run directories.

#[test]
fn shards_started_in_the_same_second_get_their_own_run_directories() {
    let world = World::new();
    world.write(
        "examples/shard.yaml",
        &common::edited(
            &world.read(HELLO),
            "name: hello\n",
            "name: shard-{seed}\nvariables:\n  seed: \"0\"\n",
        ),
    );
    let now = chrono::Utc::now();
    let load = |seed: &str| {
        let mut overrides = rpd::config::Variables::new();
        overrides.insert("seed".into(), seed.into());
        let options = rpd::config::LoadOptions {
            overrides,
            now: Some(now),
        };
        rpd::config::load(&world.path("examples/shard.yaml"), &options).unwrap()
    };
    let (one, two, again) = (load("1"), load("2"), load("1"));
    assert_ne!(one.run_dir, two.run_dir, "two shards");
    assert_ne!(
        one.run_dir, again.run_dir,
        "the same shard twice in one second"
    );
    let name = one
        .run_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with(&format!("{}-shard-1-", now.format("%Y%m%dT%H%M%SZ"))),
        "the stamp, the rendered name, then the run's own id: {name}"
    );
}

// Defect 6: a job left by a killed rpd. (Since issue 11 the next apply
// attaches to such a job, tests/attach.rs; a state written before then
// records no run tag, and its job's log is still rescued this way.)

#[test]
fn the_log_of_a_job_left_by_a_killed_rpd_is_pulled_into_its_run_before_the_next_job() {
    let world = World::new();
    let apply = world.apply_in_background();
    let first_run = world.run_dirs().pop().expect("the first run's directory");
    apply.signal(libc::SIGKILL);
    apply.release_job();
    drop(apply.wait());
    // As an rpd from before issue 11 wrote it: no run tag.
    let mut left = state(&world);
    left["launched_job"]
        .as_object_mut()
        .expect("a launched job")
        .retain(|key, _| !["tag", "deadline_at", "detached"].contains(&key.as_str()));
    world.write(HELLO_STATE, &serde_json::to_string_pretty(&left).unwrap());
    let pod = only_pod(&world)["id"].as_str().unwrap().to_string();
    // The job that rpd left goes on and finishes on the pod.
    wait_until(Duration::from_secs(30), "the left job to finish", || {
        std::fs::read_dir(world.sim_dir().join("pods").join(&pod).join("volume/hello"))
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().contains(".rpd-exit-"))
            })
            .unwrap_or(false)
    });
    world
        .test()
        .args(["plan", HELLO])
        .known(&pod, "[RUNNING]")
        .stdout_has("Warning: a job that an earlier apply launched on pod [RUNNING] at [DATE] [TIME] UTC and no rpd collected may have finished or may still be running; the pod has billed since then (")
        .stdout_has(" at $0.44/hr); the next apply pulls its log into [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN] before it starts its own job\n")
        .run();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .known(&pod, "[RUNNING]")
        .stdout_has("hello: apply complete!")
        .stderr_has("hello: Pulled the log of the job an interrupted apply left into [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN] (it exited with status 0)\n")
        .run();
    let log = std::fs::read_to_string(first_run.join("run.log")).expect("the left job's log");
    assert!(log.contains("HELLO_DONE"), "{log}");
    let exit = std::fs::read_to_string(first_run.join("exit_status")).expect("its exit status");
    assert_eq!(exit.trim(), "0");
    // Its telemetry comes with it (issue 14).
    let metrics = std::fs::read_to_string(first_run.join("metrics.jsonl")).expect("its samples");
    assert!(metrics.starts_with("{\"ts_utc\": "), "{metrics}");
}

// Defect 7: a crashed create that was replacing a pod deleted outside rpd.

#[test]
fn a_crashed_create_replacing_a_pod_deleted_outside_rpd_is_adopted() {
    let world = World::new();
    let gone = recycled(&world);
    world.rpd(&["sim", "terminate", &gone]).status(0);
    aborted(&world.rpd_env(&["apply", "-y", HELLO], &[("RPD_FAULT", "create-sent")]));
    let made = only_pod(&world)["id"].as_str().unwrap().to_string();
    world.reset_calls();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .known(&made, "[MADE]")
        .known(&gone, "[GONE]")
        .stdout_has("  # pod \"hello\" ([GONE]) has been deleted\n")
        .stdout_has("    1. record pod [MADE] in the state (found by the name ")
        .stdout_lacks("delete duplicate pod")
        .stdout_has("hello: apply complete! Pods: 0 created, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Adopted pod [MADE] from an interrupted create\n")
        .run();
    assert_eq!(
        only_pod(&world)["id"],
        made.as_str(),
        "adopted, not replaced"
    );
    assert_eq!(world.call_counts(&["create", "delete"]), [0, 0]);
}

// Defect 8: destroy when the recorded pod is already gone.

#[test]
fn destroy_removes_the_state_when_the_recorded_pod_is_already_gone() {
    let world = World::new();
    let gone = recycled(&world);
    world.rpd(&["sim", "terminate", &gone]).status(0);
    world
        .test()
        .args(["destroy", "-y", HELLO])
        .known(&gone, "[GONE]")
        .stdout_has("hello: destroy complete! Pods: 0 destroyed.\n")
        .stderr_has("hello: Removed the state file [TMP]/examples/.rpd/hello.state.json (its last version is kept as [TMP]/examples/.rpd/hello.state.json.backup)\n")
        .run();
    assert!(world.state(HELLO_STATE).is_none());
}

#[test]
fn destroy_after_a_crash_between_the_delete_and_the_state_write_removes_the_state() {
    let world = World::new();
    recycled(&world);
    aborted(&world.rpd_env(&["destroy", "-y", HELLO], &[("RPD_FAULT", "deleted")]));
    assert_eq!(
        world.pod_ids(),
        Vec::<String>::new(),
        "deleted before the crash"
    );
    assert!(
        world.state(HELLO_STATE).is_some(),
        "the crash left the state"
    );
    world.rpd(&["destroy", "-y", HELLO]).status(0);
    assert!(world.state(HELLO_STATE).is_none());
}

// Defect 10: results that cannot be saved locally.

#[test]
fn results_that_cannot_be_saved_locally_fail_the_run_and_the_pod_is_stopped_not_deleted() {
    let world = World::new();
    world.edit(HELLO, "on_success: recycle", "on_success: delete");
    world.edit(HELLO, "on_failure: stop", "on_failure: delete");
    let apply = world.spawn_paused_at("pull", &["apply", "-y", HELLO]);
    // The artifacts folder becomes a file: nothing can be written under it.
    std::fs::remove_dir_all(world.path("examples/artifacts")).unwrap();
    world.write("examples/artifacts", "not a directory\n");
    apply.go_on();
    world
        .test()
        .status(1)
        .stdout_has("hello: apply finished, the results were not saved. Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped. The job succeeded in [ELAPSED], but the log could not be saved (cannot write to [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]: Not a directory (os error 20)); required artifact \"result\" could not be saved (cannot write to [TMP]/examples/artifacts/hello: Not a directory (os error 20)); on_failure: stop was carried out instead of delete, so the results stay on the pod's volume.\n")
        .stderr_has("hello: Lifecycle on_failure: stop instead of delete: the results are only on the pod's volume\n")
        .stdout_lacks("apply complete!")
        .check(apply.wait());
    let pod = only_pod(&world);
    assert_eq!(pod["status"], "EXITED", "stopped, not deleted");
    assert_eq!(state(&world)["retained"][0]["id"], pod["id"]);
}

// Defect 11: local inputs are checked in the plan.

#[test]
fn missing_local_inputs_fail_the_plan_and_create_nothing() {
    /// What is wrong, how to make it so, and the plan's error for it.
    type Case<'a> = (&'a str, &'a dyn Fn(&World), &'a str);
    let cases: [Case; 5] = [
        (
            "staging source",
            &|w| w.edit(HELLO, "source: hello/", "source: nothere/"),
            "Error: staging \"payload\": the source [TMP]/examples/nothere/ does not exist\n",
        ),
        (
            "secret env var",
            &|w| {
                w.edit(HELLO, "artifacts:\n", "secrets:\n  - name: token\n    env: [RPD_TEST_NOT_SET]\n    destination: /root/token.env\nartifacts:\n")
            },
            "Error: secret \"token\": the environment variable RPD_TEST_NOT_SET is not set here; export it before rpd apply\n",
        ),
        (
            "secret file",
            &|w| {
                w.edit(HELLO, "artifacts:\n", "secrets:\n  - name: key\n    file: nothere.key\n    destination: /root/key\nartifacts:\n")
            },
            "Error: secret \"key\": cannot read [TMP]/examples/nothere.key",
        ),
        (
            "required path",
            &|w| {
                w.edit(
                    HELLO,
                    "pod:\n",
                    "local:\n  required_paths: [data/needed.bin]\npod:\n",
                )
            },
            "Error: local.required_paths: [TMP]/examples/data/needed.bin does not exist\n",
        ),
        (
            "run directory",
            &|w| {
                w.write(
                    "examples/artifacts",
                    "a file where the artifacts folder goes\n",
                );
            },
            "Error: the run directory [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN] cannot be written: [TMP]/examples/artifacts: not a directory\n",
        ),
    ];
    for (what, break_it, error) in cases {
        let world = World::new();
        break_it(&world);
        world
            .test()
            .args(["plan", HELLO])
            .env_remove("RPD_TEST_NOT_SET")
            .status(1)
            .stdout_has(error)
            .stdout_has("Nothing can be applied until these are fixed.\n")
            .run();
        let json = world
            .rpd_env(&["plan", "--format", "json", HELLO], &[])
            .status(1)
            .json();
        let errors = &json["configs"][0]["errors"];
        let message = world.normalize(errors[0]["message"].as_str().unwrap_or_default());
        assert!(
            format!("Error: {message}\n").starts_with(error),
            "{what}: the JSON plan's errors: {:#}",
            errors
        );
        world
            .test()
            .args(["apply", "-y", HELLO])
            .env_remove("RPD_TEST_NOT_SET")
            .status(1)
            .stdout_has(error)
            .stderr_has("error: hello: the plan has errors: nothing was created\n")
            .run();
        assert_eq!(world.call_counts(&["create", "start"]), [0, 0], "{what}");
        assert!(world.state(HELLO_STATE).is_none(), "{what}");
    }
}

#[test]
fn apply_checks_local_inputs_again_right_before_the_pod_bills() {
    let world = World::new();
    let apply = world.spawn_paused_at("approved", &["apply", "-y", HELLO]);
    std::fs::remove_dir_all(world.path("examples/hello")).unwrap();
    apply.go_on();
    world
        .test()
        .status(1)
        .stdout_has("hello: apply stopped. Pods: 0 created, 0 resumed, 0 destroyed, 0 stopped.\n")
        .stderr_has("error: hello: local inputs changed since the plan: nothing was created\n")
        .stderr_has("staging \"payload\": the source [TMP]/examples/hello/ does not exist")
        .check(apply.wait());
    assert_eq!(world.call_counts(&["create"]), [0]);
}

// Defect 12: a failed create leaves nothing behind.

#[test]
fn a_create_that_finds_no_capacity_leaves_no_state_file_and_no_backup() {
    let world = World::new();
    no_stock_anywhere(&world);
    world.rpd(&["apply", "-y", HELLO]).status(1);
    assert_eq!(world.pod_ids(), Vec::<String>::new());
    assert!(!world.path(HELLO_STATE).exists(), "no state file");
    assert!(
        !world.path("examples/.rpd/hello.state.json.backup").exists(),
        "no backup"
    );
    assert!(!world.path("examples/.rpd").exists(), "no state directory");
}

// Defect 13: a replace when no candidate has stock.

#[test]
fn a_replace_with_no_stock_anywhere_keeps_the_pod_unless_forced() {
    let world = World::new();
    let paused = recycled(&world);
    no_stock_anywhere(&world);
    world.reset_calls();
    world
        .test()
        .args(["apply", "-y", "--replace", HELLO])
        .known(&paused, "[PAUSED]")
        .status(1)
        .stdout_has("hello: apply stopped. Pods: 0 created, 0 resumed, 0 destroyed, 0 stopped.\n")
        .stderr_has("error: hello: pod [PAUSED] was kept: no candidate has stock right now, so deleting it would leave nothing to run on\n")
        .stderr_has("pass --replace-without-stock to delete it anyway")
        .run();
    assert_eq!(only_pod(&world)["id"], paused.as_str());
    assert_eq!(world.call_counts(&["delete", "create"]), [0, 0]);
    assert_eq!(state(&world)["pod"]["id"], paused.as_str());

    world
        .test()
        .args(["apply", "-y", "--replace", "--replace-without-stock", HELLO])
        .status(1)
        .stdout_has("hello: apply stopped. Pods: 0 created, 0 resumed, 1 destroyed, 0 stopped.\n")
        .stderr_has("error: hello: no candidate could take the pod:\n")
        .run();
    assert_eq!(world.pod_ids(), Vec::<String>::new(), "forced: deleted");
}

// Executor::run's error path: an interrupt that ends in an error is still
// reported as an interrupt.

#[test]
fn an_interrupt_whose_cleanup_fails_still_exits_130_and_names_the_billing_pod() {
    let world = World::new();
    let paused = recycled(&world);
    let apply = world.spawn_paused_at("wait", &["apply", "-y", HELLO]);
    world.rpd(&["sim", "fail-stop", &paused, "10"]).status(0);
    apply.signal(libc::SIGINT);
    world
        .test()
        .known(&paused, "[PAUSED]")
        .status(130)
        .stdout_has("hello: apply stopped. Pods: 0 created, 1 resumed, 0 destroyed, 0 stopped.\n")
        .stderr_has("hello: Stopping pod [PAUSED]: interrupted before it was ready\n")
        .stderr_has("error: hello: pod [PAUSED] did not stop: the stop request failed (transient provider error: simulated 502 Bad Gateway on stop); it is still RUNNING, billing $0.44/hr. It may be billing: stop it in the RunPod console or run `rpd destroy examples/hello.yaml`\n")
        .check(apply.wait());
    assert_eq!(state(&world)["pod"]["id"], paused.as_str(), "still tracked");
}

// Issue 19, item 5: detach must not lie.

/// Holds hello's job at its very start (before it counts its run on the
/// volume) until the file `job-released` exists.
fn hold_at_start(world: &World) {
    let release = world.signal_path("job-released");
    world.edit(
        HELLO,
        "    set -euo pipefail\n",
        &format!(
            "    set -euo pipefail\n    for _ in $(seq 1200); do [ -e {release} ] && break; sleep 0.1; done\n    [ -e {release} ]\n",
            release = release.display(),
        ),
    );
}

/// A detached job the state cannot record would never be collected, and
/// the next apply would run it again: it is no detach. The job is ended
/// (it has run for a moment), the pod handled as one that never ran the
/// job, and apply exits 1 saying why; the next apply runs the job once.
#[test]
fn a_detach_the_state_cannot_record_ends_the_job_and_exits_1() {
    let world = World::new();
    let paused = recycled(&world);
    hold_at_start(&world);
    world
        .test()
        .args(["apply", "-y", "--detach", HELLO])
        .env("RPD_FAULT", "save-launched:fail")
        .known(&paused, "[PAUSED]")
        .status(1)
        .stdout_has("hello: apply stopped. Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped.\n")
        .stdout_lacks("job launched and detached")
        .stderr_has("hello: Stopping pod [PAUSED]: the state could not record the launched job\n")
        .stderr_has("error: hello: the job was not left running: the state could not record it (cannot write state file [TMP]/examples/.rpd/hello.state.json: RPD_FAULT=save-launched:fail), so no later rpd would collect it; the job was ended and pod [PAUSED] stopped\n  = help: fix what keeps rpd from writing [TMP]/examples/.rpd/hello.state.json, then apply again\n")
        .run();
    assert_kept_to_resume(&world, &paused);
    assert!(state(&world).get("launched_job").is_none());
    std::fs::write(world.signal_path("job-released"), "").unwrap();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        format!("run 2 of hello on pod {paused}\n"),
        "the ended job never counted its run; the next apply ran it once"
    );
}

/// The state write after a collected job failed (and every write after
/// it: a full disk), so the state still said the job was left to collect.
/// The next apply must not collect it again and call that a success: the
/// run's directory says it was collected, the plan says so, and the job
/// runs.
#[test]
fn a_collected_job_the_state_could_not_forget_is_not_collected_again() {
    let world = World::new();
    world.rpd(&["apply", "-y", "--detach", HELLO]).status(0);
    let pod = only_pod(&world)["id"].as_str().unwrap().to_string();
    let collect = world.rpd_env(
        &["apply", "-y", HELLO],
        &[("RPD_FAULT", "save-collected:full")],
    );
    assert_eq!(collect.code(), 1, "{}", collect.stderr());
    assert!(
        state(&world).get("launched_job").is_some(),
        "the state could not forget the job"
    );
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        format!("run 1 of hello on pod {pod}\n")
    );
    world
        .test()
        .args(["apply", "-y", HELLO])
        .known(&pod, "[POD]")
        .status(0)
        .stdout_has("    · forget the job launched on pod [POD] at [DATE] [TIME] UTC: an earlier apply collected it (")
        .stdout_lacks("attach to the job")
        .stdout_has("hello: apply complete! Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped. Job succeeded in [ELAPSED].\n")
        .stderr_has("Launched ")
        .run();
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        format!("run 2 of hello on pod {pod}\n")
    );
    assert!(state(&world).get("launched_job").is_none());
}
