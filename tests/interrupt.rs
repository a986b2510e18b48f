//! Ctrl-C during apply: stop waiting, pull the log, carry out on_failure,
//! write the state, exit 130.

mod common;

use std::time::{Duration, Instant};

use common::World;

const HELLO: &str = "examples/hello.yaml";

#[test]
fn ctrl_c_during_the_job_runs_on_failure_and_exits_130() {
    let world = World::new();
    let child = world.apply_in_background(60);
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let interrupted = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        interrupted.elapsed() < Duration::from_secs(15),
        "stopped promptly"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        stdout.contains("on_failure: stop was carried out"),
        "{stdout}"
    );

    let pods = world.pods();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["status"], "EXITED", "on_failure stopped the pod");
    let state = world.state("examples/.rpd/hello.state.json").unwrap();
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
    let child = world.apply_in_background(60);
    // SAFETY: sending SIGHUP to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
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
