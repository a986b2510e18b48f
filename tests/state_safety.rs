//! Locks, crash safety and force-unlock: a second apply on the same config
//! fails at once naming the holder; a crash between the temp write and the
//! rename leaves the old state intact.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::World;

const HELLO: &str = "examples/hello.yaml";
const STATE: &str = "examples/.rpd/hello.state.json";
const LOCK: &str = "examples/.rpd/hello.state.json.lock";

/// hello with a job that takes `secs` seconds.
fn slow_hello(world: &World, secs: u32) {
    let slow = world.read(HELLO).replace(
        "    echo HELLO_DONE\n",
        &format!("    sleep {secs}\n    echo HELLO_DONE\n"),
    );
    world.write(HELLO, &slow);
}

fn wait_for(world: &World, rel: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !world.path(rel).exists() {
        assert!(Instant::now() < deadline, "{rel} never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An apply whose 2 s job keeps the lock, started in the background once
/// it holds the lock.
fn apply_holding_the_lock(world: &World) -> std::process::Child {
    slow_hello(world, 2);
    let child = world
        .std_command(&["apply", "-y", HELLO])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(world, LOCK);
    child
}

#[test]
fn concurrent_apply_is_refused_at_once_then_waits_with_lock_timeout() {
    let world = World::new();
    let mut first = apply_holding_the_lock(&world);

    let started = Instant::now();
    world
        .rpd(&["apply", "-y", HELLO])
        .status(1)
        .stderr_has("Error acquiring the state lock")
        .stderr_has("Lock Info:")
        .stderr_has("Operation: apply")
        .stderr_has("rpd force-unlock ");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );

    world
        .rpd(&["apply", "-y", "--lock-timeout", "60s", HELLO])
        .status(0)
        .stderr_has("Acquiring the state lock")
        .stdout_has("1 resumed");
    assert!(first.wait().unwrap().success());
    assert!(!world.path(LOCK).exists(), "released");
}

#[test]
fn plan_warns_while_another_run_holds_the_lock() {
    let world = World::new();
    let mut first = apply_holding_the_lock(&world);
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has("another rpd holds this config's lock (apply by");
    first.wait().unwrap();
}

#[test]
fn force_unlock_needs_the_lock_id() {
    let world = World::new();
    // A lock held by a live process (this test) that is not rpd.
    let info = serde_json::json!({
        "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "operation": "apply",
        "who": "ci@elsewhere",
        "pid": std::process::id(),
        "host": gethostname(),
        "version": "rpd 0.1.0",
        "created": "2026-11-27T10:00:00Z",
        "path": world.path(STATE),
        "info": "config examples/hello.yaml",
    });
    world.write(LOCK, &info.to_string());
    world
        .rpd(&["apply", "-y", HELLO])
        .status(1)
        .stderr_has("ID:        1b4e28ba-2fa1-11d2-883f-0016d3cca427")
        .stderr_has("Who:       ci@elsewhere");
    world
        .rpd(&["force-unlock", "wrong-id", HELLO])
        .status(1)
        .stderr_has("does not match");
    world
        .rpd(&[
            "force-unlock",
            "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            HELLO,
        ])
        .status(0)
        .stdout_has("Released the lock");
    world.rpd(&["apply", "-y", HELLO]).status(0);
}

#[test]
fn lock_of_a_dead_process_is_taken_over_with_a_warning() {
    let world = World::new();
    let info = serde_json::json!({
        "id": "dead", "operation": "apply", "who": "me", "pid": 999_999_999u32,
        "host": gethostname(), "version": "rpd 0.1.0",
        "created": "2026-11-27T10:00:00Z", "path": world.path(STATE), "info": "",
    });
    world.write(LOCK, &info.to_string());
    world
        .rpd(&["apply", "-y", HELLO])
        .status(0)
        .stderr_has("took over the lock of a run that is gone");
}

/// Temp files beside the state (a crashed writer's leftovers).
fn temps(world: &World) -> Vec<String> {
    std::fs::read_dir(world.path("examples/.rpd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect()
}

#[test]
fn crash_between_temp_write_and_rename_leaves_the_old_state() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let before = world.read(STATE);
    let serial: u64 = world.state(STATE).unwrap()["serial"].as_u64().unwrap();

    // The state file's own temp is written, then rpd dies before the rename.
    let crashed = world.rpd_env(
        &["apply", "-y", HELLO],
        &[("RPD_FAULT", "state-before-rename")],
    );
    assert!(!crashed.output.status.success(), "the fault aborts rpd");
    assert!(crashed.stderr().contains("aborting here on purpose"));
    let left = temps(&world);
    assert!(
        left.iter().any(|n| n.starts_with("hello.state.json.tmp.")),
        "the new state was written to its temp: {left:?}"
    );
    assert_eq!(world.read(STATE), before, "old state intact");
    assert_eq!(world.state(STATE).unwrap()["serial"].as_u64(), Some(serial));

    // The crashed run left its lock (a dead pid) and a started pod: the next
    // run takes the lock over, sees the pod as it is and cleans the temp up.
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has("started outside rpd: it is billing");
    world.rpd(&["apply", "-y", HELLO]).status(0);
    assert_eq!(world.pods().len(), 1, "no pod was lost or duplicated");
    assert!(temps(&world).is_empty(), "{:?}", temps(&world));
}

#[test]
fn crash_while_writing_the_backup_leaves_the_state() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let before = world.read(STATE);
    let crashed = world.rpd_env(
        &["apply", "-y", HELLO],
        &[("RPD_FAULT", "backup-before-rename")],
    );
    assert!(!crashed.output.status.success());
    assert_eq!(world.read(STATE), before, "state intact");
    world.rpd(&["apply", "-y", HELLO]).status(0);
    assert_eq!(world.pods().len(), 1);
}

fn gethostname() -> String {
    std::process::Command::new("hostname")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
