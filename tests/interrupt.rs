//! Ctrl-C during apply: stop waiting, pull the log, carry out on_failure,
//! write the state, exit 130.

mod common;

use std::time::{Duration, Instant};

use common::World;
use common::hello::{CREATE_PLAN, HELLO, HELLO_STATE, applied};

#[test]
fn ctrl_c_during_the_job_runs_on_failure_pulls_the_log_and_exits_130() {
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
            hello: apply finished, job failed. Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped. Job failed in [ELAPSED] (monitor: interrupted); on_failure: stop was carried out.
              Run directory: [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]
              Warning: pod [POD] stopped for forensics; its volume keeps billing ~$0.13/day (~$4.00/month) until `rpd destroy examples/hello.yaml`
            ",
        ))
        // The signal can land before or after rpd reports the launch, so the
        // lines around it are checked one by one.
        .stderr_has("\nrpd: interrupted: finishing safely (what the run made is stopped, deleted or recorded; the log is pulled; the state is written); interrupt again to exit at once\n")
        .stderr_has(concat!(
            "hello: Job failed after [ELAPSED]: interrupted\n",
            "hello: Pulled the log into [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]\n",
        ))
        .check(apply.wait());
    assert!(
        interrupted.elapsed() < Duration::from_secs(15),
        "stopped promptly"
    );

    let pods = world.pods();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["status"], "EXITED", "on_failure stopped the pod");
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(state["retained"][0]["id"], pods[0]["id"]);
    let runs: Vec<_> = std::fs::read_dir(world.path("examples/artifacts/runpod"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(runs[0].join("run.log").exists(), "the log was pulled");
    assert!(
        !world.path("examples/.rpd/hello.state.json.lock").exists(),
        "lock released"
    );
}

#[test]
fn a_hangup_is_an_interrupt_too() {
    let world = World::new();
    let apply = world.apply_in_background();
    apply.signal(libc::SIGHUP);
    world
        .test()
        .status(130)
        .stdout_has(
            "Job failed in [ELAPSED] (monitor: interrupted); on_failure: stop was carried out.\n",
        )
        .stderr_has("\nrpd: interrupted: finishing safely")
        .check(apply.wait());
    assert_eq!(
        world.pods()[0]["status"],
        "EXITED",
        "on_failure stopped the pod"
    );
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
