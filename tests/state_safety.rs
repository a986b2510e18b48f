//! Locks, crash safety and force-unlock: a second apply on the same config
//! fails at once naming the holder; a crash between the temp write and the
//! rename leaves the old state intact.

mod common;

use std::time::{Duration, Instant};

use common::hello::{
    HELLO, HELLO_STATE as STATE, RESUME_PLAN, RUNNING_PLAN, applied, succeeded, with_block,
};
use common::{Run, World, wait_until};

const LOCK: &str = "examples/.rpd/hello.state.json.lock";

#[test]
fn a_concurrent_apply_is_refused_at_once_then_waits_with_lock_timeout() {
    let world = World::new();
    // Its job is held, so it holds the lock until released.
    let first = world.apply_in_background();
    let lock: serde_json::Value = serde_json::from_str(&world.read(LOCK)).unwrap();

    let started = Instant::now();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .known(lock["id"].as_str().unwrap(), "[LOCK ID]")
        .known(lock["who"].as_str().unwrap(), "[WHO]")
        .known(&lock["pid"].to_string(), "[PID]")
        .status(1)
        .stderr(
            "
            error: Error acquiring the state lock: [TMP]/examples/.rpd/hello.state.json is held by another rpd

            Lock Info:
              ID:        [LOCK ID]
              Path:      [TMP]/examples/.rpd/hello.state.json
              Operation: apply
              Who:       [WHO]
              Version:   rpd 0.1.0
              Created:   [DATE] [TIME] UTC
              Info:      config examples/hello.yaml

            rpd locks a config's state so that two runs never change its pod at once.
            Wait for the other run, pass --lock-timeout 5m to wait for it, or, if no rpd is running for this config, release the lock with:
              rpd force-unlock [LOCK ID] examples/hello.yaml
            ",
        )
        .run();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "refused at once"
    );

    let waiting = world.spawn(&["apply", "-y", "--lock-timeout", "60s", HELLO]);
    wait_until(Duration::from_secs(20), "the second apply to wait", || {
        waiting.stderr_so_far().contains("Acquiring the state lock")
    });
    first.release_job();
    first.wait().status(0);
    let paused = pod_id(&world);
    world
        .test()
        .known(lock["who"].as_str().unwrap(), "[WHO]")
        .known(&paused, "[PAUSED]")
        .stdout(&applied(
            RESUME_PLAN,
            &succeeded("0 created, 1 resumed, 0 destroyed, 1 stopped"),
        ))
        .stderr_has(
            "Acquiring the state lock (held by [WHO] for apply since [TIME] UTC); waiting up to 1m...\n",
        )
        .check(waiting.wait());
    assert!(!world.path(LOCK).exists(), "released");
}

fn pod_id(world: &World) -> String {
    world.pods()[0]["id"].as_str().unwrap().to_string()
}

#[test]
fn plan_warns_while_another_run_holds_the_lock() {
    let world = World::new();
    let first = world.apply_in_background();
    let lock: serde_json::Value = serde_json::from_str(&world.read(LOCK)).unwrap();
    world
        .test()
        .args(["plan", HELLO])
        .known(&pod_id(&world), "[RUNNING]")
        .known(lock["who"].as_str().unwrap(), "[WHO]")
        .stdout(&with_block(
            RUNNING_PLAN,
            "Note: the pod stops itself",
            "
            Warning: another rpd holds this config's lock (apply by [WHO] since [TIME] UTC): this plan may change under it
            ",
        ))
        .run();
    first.release_job();
    first.wait().status(0);
}

/// A lock file as rpd before the OS lock wrote it, for a run of `pid`.
fn ci_lock(world: &World, pid: u32) -> String {
    serde_json::json!({
        "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "operation": "apply",
        "who": "ci@elsewhere",
        "pid": pid,
        "host": gethostname(),
        "version": "rpd 0.1.0",
        "created": "2026-11-27T10:00:00Z",
        "path": world.path(STATE),
        "info": "config examples/hello.yaml",
    })
    .to_string()
}

/// What a second run says about the live holder of [`ci_lock`].
const HELD_BY_CI: &str = "
    error: Error acquiring the state lock: [TMP]/examples/.rpd/hello.state.json is held by another rpd

    Lock Info:
      ID:        1b4e28ba-2fa1-11d2-883f-0016d3cca427
      Path:      [TMP]/examples/.rpd/hello.state.json
      Operation: apply
      Who:       ci@elsewhere
      Version:   rpd 0.1.0
      Created:   2026-11-27 [TIME] UTC
      Info:      config examples/hello.yaml

    rpd locks a config's state so that two runs never change its pod at once.
    Wait for the other run, pass --lock-timeout 5m to wait for it, or, if no rpd is running for this config, release the lock with:
      rpd force-unlock 1b4e28ba-2fa1-11d2-883f-0016d3cca427 examples/hello.yaml
    ";

/// force-unlock never releases the lock of an rpd that still runs (the OS
/// lock says it does): two runs would then change one pod at once.
#[test]
fn force_unlock_refuses_the_lock_of_a_running_rpd() {
    let world = World::new();
    let first = world.apply_in_background();
    let lock: serde_json::Value = serde_json::from_str(&world.read(LOCK)).unwrap();
    let id = lock["id"].as_str().unwrap().to_string();
    world
        .test()
        .args(["force-unlock", &id, HELLO])
        .known(&id, "[LOCK ID]")
        .known(lock["who"].as_str().unwrap(), "[WHO]")
        .status(1)
        .stderr_has("error: the lock on examples/hello.yaml's state is held by an rpd that is still running\n\nLock Info:\n  ID:        [LOCK ID]\n")
        .stderr_has("force-unlock releases only a lock whose holder is gone: wait for that run to end, or stop it first")
        .run();
    assert!(
        world.path(LOCK).exists(),
        "the running apply keeps its lock"
    );
    first.release_job();
    first.wait().status(0);
    assert!(!world.path(LOCK).exists(), "released by its holder");
}

#[test]
fn force_unlock_needs_the_lock_id() {
    let world = World::new();
    // A lock held by a live process (this test) that is not rpd.
    world.write(LOCK, &ci_lock(&world, std::process::id()));
    world
        .test()
        .args(["apply", "-y", HELLO])
        .status(1)
        .stderr(HELD_BY_CI)
        .run();
    world
        .test()
        .args(["force-unlock", "wrong-id", HELLO])
        .status(1)
        .stderr(
            "
            error: lock ID \"wrong-id\" does not match the lock held for examples/hello.yaml

            Lock Info:
              ID:        1b4e28ba-2fa1-11d2-883f-0016d3cca427
              Path:      [TMP]/examples/.rpd/hello.state.json
              Operation: apply
              Who:       ci@elsewhere
              Version:   rpd 0.1.0
              Created:   2026-11-27 [TIME] UTC
              Info:      config examples/hello.yaml

            force-unlock needs the exact ID, so that it never releases a lock other than the one you mean
            ",
        )
        .run();
    assert!(world.path(LOCK).exists(), "a wrong id releases nothing");
    world
        .test()
        .args(["force-unlock", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", HELLO])
        .stdout("Released the lock 1b4e28ba-2fa1-11d2-883f-0016d3cca427 (apply by ci@elsewhere) on [TMP]/examples/.rpd/hello.state.json.\n")
        .run();
    assert!(!world.path(LOCK).exists());
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
        .test()
        .args(["apply", "-y", HELLO])
        .known(&gethostname(), "[HOST]")
        .stdout_has("hello: apply complete!")
        .stderr_has("warning: took over the lock of a run that is gone (pid 999999999 on [HOST], apply since 2026-11-27 [TIME] UTC); check `rpd plan` for what it left\n")
        .run();
}

/// `rpd args...` run by a user whose access to the lock file its `mode`
/// says (as when another user's run made it): this user with the file's
/// mode changed, or, as root (whom modes do not stop), an unprivileged user.
fn rpd_with_lock_mode(world: &World, mode: u32, args: &[&str]) -> Run {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let chmod = |rel: &str, mode: u32| {
        std::fs::set_permissions(world.path(rel), std::fs::Permissions::from_mode(mode)).unwrap()
    };
    chmod(LOCK, mode);
    // The lock's directory stays writable: taking a lock over replaces the
    // file, which needs only the directory.
    chmod("examples/.rpd", 0o777);
    let mut cmd = world.std_command(args);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::fs::set_permissions(world.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        cmd.uid(65534).gid(65534);
    }
    Run {
        output: cmd.output().expect("rpd runs"),
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}

#[test]
fn a_lock_file_another_user_made_is_read_as_before_the_os_lock() {
    let world = World::new();
    // Held by a live process (this test) that is not rpd.
    world.write(LOCK, &ci_lock(&world, std::process::id()));
    let refused = rpd_with_lock_mode(&world, 0o444, &["destroy", "-y", HELLO]);
    world.test().status(1).stderr(HELD_BY_CI).check(refused);

    // Left by a process that is gone: taken over as any other.
    std::fs::remove_file(world.path(LOCK)).unwrap();
    world.write(LOCK, &ci_lock(&world, 999_999_999));
    let taken = rpd_with_lock_mode(&world, 0o444, &["destroy", "-y", HELLO]);
    world
        .test()
        .known(&gethostname(), "[HOST]")
        .stdout(
            "
            rpd destroy plan for examples/hello.yaml (job \"hello\")

            No changes. No state recorded for this config.
            ",
        )
        .stderr("warning: took over the lock of a run that is gone (pid 999999999 on [HOST], apply since 2026-11-27 [TIME] UTC); check `rpd plan` for what it left\n")
        .check(taken);
    assert!(!world.path(LOCK).exists(), "taken over, then released");

    // One this user cannot even read: as a file that is not a lock.
    world.write(LOCK, &ci_lock(&world, std::process::id()));
    let unread = rpd_with_lock_mode(&world, 0o000, &["destroy", "-y", HELLO]);
    world
        .test()
        .status(1)
        .stderr("error: cannot create lock file [TMP]/examples/.rpd/hello.state.json.lock: lock file exists but cannot be read; remove it if no rpd is running\n")
        .check(unread);
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
    assert!(
        crashed.stderr().contains("aborting here on purpose"),
        "{}",
        crashed.stderr()
    );
    let left = temps(&world);
    assert!(
        left.iter().any(|n| n.starts_with("hello.state.json.tmp.")),
        "the new state was written to its temp: {left:?}"
    );
    assert_eq!(world.read(STATE), before, "old state intact");
    assert_eq!(world.state(STATE).unwrap()["serial"].as_u64(), Some(serial));

    // The crashed run left its lock (a dead pid) and a started pod: the next
    // run takes the lock over, sees the pod as it is and cleans the temp up.
    wait_until(Duration::from_secs(10), "the started pod to run", || {
        world.pods()[0]["status"] == "RUNNING"
    });
    world
        .test()
        .args(["plan", HELLO])
        // The crashed run's lock stays until the next apply takes it over;
        // the plan says so instead of calling it held.
        .stdout_has(
            "      ~ status = \"EXITED\" -> \"RUNNING\" (started outside rpd: it is billing)\n",
        )
        .stdout_has("Note: this config's lock was left by a run that is gone (apply by ")
        .stdout_has("): the next apply takes it over\n")
        .stdout_lacks("another rpd holds this config's lock")
        .run();
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
