//! Ctrl-C during apply: stop waiting, end the job, pull the log, keep the
//! pod paused as the config's pod (no lifecycle branch), write the state,
//! exit 130.

mod common;

use std::time::{Duration, Instant};

use common::World;
use common::hello::{CREATE_PLAN, HELLO, HELLO_STATE, applied};

/// Issue 19, item 6: an interrupt is no job failure. The job is ended,
/// the log pulled, and the pod (this run created it: it is warm now) is
/// stopped and stays the config's pod, paused; on_failure is not consulted
/// and the next apply resumes it.
#[test]
fn ctrl_c_during_the_job_ends_it_pulls_the_log_and_keeps_the_pod_paused_as_the_configs_pod() {
    let world = World::new();
    let apply = world.apply_in_background();
    apply.signal(libc::SIGINT);
    let interrupted = Instant::now();
    world
        .test()
        .status(130)
        .stdout(&applied(
            CREATE_PLAN,
            "
            hello: apply interrupted, the job was ended. Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped. Job interrupted after [ELAPSED]; its pod was stopped and stays this config's pod, paused: the next apply resumes it (an interrupt is no job failure: on_failure was not consulted).
              Run directory: [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]
            ",
        ))
        // The signal can land before or after rpd reports the launch, so the
        // lines around it are checked one by one.
        .stderr_has("\nrpd: interrupted: finishing safely (what the run made is stopped, deleted or recorded; the log is pulled; the state is written); interrupt again to exit at once\n")
        .stderr_has(concat!(
            "hello: Job failed after [ELAPSED]: interrupted\n",
            "hello: Pulled the log into [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]\n",
        ))
        .stderr_has("hello: Interrupted: the job was ended; pod [POD] is stopped and kept (on_failure is not consulted)\n")
        .stderr_lacks("Lifecycle on_")
        .check(apply.wait());
    assert!(
        interrupted.elapsed() < Duration::from_secs(15),
        "stopped promptly"
    );

    let pods = world.pods();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["status"], "EXITED", "the pod was stopped");
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(state["pod"]["id"], pods[0]["id"], "still the config's pod");
    assert!(
        state
            .get("retained")
            .is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)),
        "{state:#}"
    );
    assert!(state.get("launched_job").is_none(), "collected: {state:#}");
    let runs: Vec<_> = std::fs::read_dir(world.path("examples/artifacts/runpod"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(runs[0].join("run.log").exists(), "the log was pulled");
    assert!(
        !world.path("examples/.rpd/hello.state.json.lock").exists(),
        "lock released"
    );

    // The next apply resumes it, volume and all: no new pod.
    std::fs::write(world.signal_path("job-released"), "").unwrap();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let after = world.pods();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["id"], pods[0]["id"]);
    assert!(
        world
            .read("examples/artifacts/hello/result.txt")
            .starts_with("run 2 "),
        "its volume kept"
    );
}

/// The same on a warm pod (resumed by this run): it stays the config's
/// pod, and the next plan resumes it rather than create a cold one beside
/// it.
#[test]
fn ctrl_c_during_the_job_on_a_warm_pod_keeps_it_the_pod_the_next_apply_resumes() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let warm = world.pods()[0]["id"].as_str().unwrap().to_string();
    let apply = world.apply_in_background();
    apply.signal(libc::SIGINT);
    world
        .test()
        .status(130)
        .known(&warm, "[WARM]")
        .stdout_has("hello: apply interrupted, the job was ended. Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped. Job interrupted after [ELAPSED]; its pod was stopped and stays this config's pod, paused: the next apply resumes it (an interrupt is no job failure: on_failure was not consulted).\n")
        .stderr_lacks("Lifecycle on_")
        .check(apply.wait());
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(state["pod"]["id"], warm.as_str());
    assert_eq!(world.pods().len(), 1);
    world
        .test()
        .args(["plan", HELLO])
        .known(&warm, "[WARM]")
        .stdout_has("    1. resume paused pod [WARM]\n")
        .stdout_has("Plan: 0 to create, 1 to resume, 0 to destroy, 1 to stop.\n")
        .run();
}

#[test]
fn a_closed_stdout_does_not_stop_apply_half_way() {
    use std::io::{BufRead, BufReader};
    let world = World::new();
    let mut child = world
        .std_command(&["apply", "-y", HELLO])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, like `rpd apply -y ... | head -1`.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "no panic on a broken pipe");
    assert_eq!(world.pods()[0]["status"], "EXITED", "the lifecycle ran");
}
