//! The crash matrix: rpd is stopped at each step of an apply by SIGINT,
//! SIGTERM or SIGKILL (it pauses at the step with `RPD_FAULT=<step>:pause`,
//! see src/fault.rs, so the signal lands exactly there), then `rpd apply
//! -y` runs again and `rpd destroy -y` after it. Every row must end with no
//! orphaned pod, no duplicate, at most one lifecycle branch per run, a
//! readable state, and the pod's volume kept wherever the rules keep it.
//!
//! One row per (step, signal), run a few at a time; each prints a summary
//! line (`cargo test --test crash_matrix -- --nocapture` shows them). The
//! record of a detached launch has rows of its own, with a failing write
//! beside the signals.

mod common;

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::hello::{HELLO, HELLO_STATE};
use common::{Run, World};

/// What the apply that is stopped starts from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Start {
    /// Nothing recorded: the apply creates a pod.
    Fresh,
    /// hello applied once: the apply resumes its paused pod.
    Paused,
    /// hello applied once, then its image bumped: the apply updates the
    /// paused pod in place, then resumes it.
    PausedNewImage,
}

/// What the next apply's job runs on, as the rules say.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Then {
    /// A new pod (nothing was kept, or the run started fresh): `run 1`.
    NewPod,
    /// The same pod as before, its volume kept: `run 2` or later.
    SamePod,
    /// The pod the stopped apply created, kept as the config's pod and
    /// resumed (whichever run of the job it then shows).
    CreatedPodKept,
}

#[derive(Debug, Clone, Copy)]
struct Step {
    /// The fault point (src/fault.rs).
    point: &'static str,
    start: Start,
    /// After SIGINT or SIGTERM, and after SIGKILL.
    then_interrupted: Then,
    then_killed: Then,
    /// `apply --detach`: an apply that gets past the launch leaves the job
    /// running, recorded in the state, for the next apply to collect.
    detach: bool,
}

const fn step(point: &'static str, start: Start, interrupted: Then, killed: Then) -> Step {
    Step {
        point,
        start,
        then_interrupted: interrupted,
        then_killed: killed,
        detach: false,
    }
}

/// A step of `apply --detach`.
const fn detached(point: &'static str, start: Start, interrupted: Then, killed: Then) -> Step {
    Step {
        detach: true,
        ..step(point, start, interrupted, killed)
    }
}

/// How the apply is stopped at its step.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// Paused at the step's point, then this signal.
    Signal(libc::c_int, &'static str),
    /// The state write at this point fails (`RPD_FAULT=<point>:fail`).
    FailedWrite(&'static str),
}

impl Stop {
    /// The signal, for rows that only signal.
    fn signal(&self) -> Option<(libc::c_int, &'static str)> {
        match *self {
            Stop::Signal(signal, name) => Some((signal, name)),
            Stop::FailedWrite(_) => None,
        }
    }
}

use Start::{Fresh, Paused, PausedNewImage};
use Then::{CreatedPodKept, NewPod, SamePod};

/// Every step of an apply, in order.
const STEPS: [Step; 17] = [
    // The create: sent (the pod exists, rpd has no answer), then answered.
    step("create-sent", Fresh, NewPod, NewPod),
    step("create-answered", Fresh, NewPod, NewPod),
    step("wait", Fresh, NewPod, NewPod),
    // A resume, and everything up to the script: the pod is kept to resume.
    step("resume-answered", Paused, SamePod, SamePod),
    // An update in place: sent (the pod has it, rpd has no answer), then
    // the wait after it: the pod and its volume are kept either way.
    step("update-sent", PausedNewImage, SamePod, SamePod),
    step("wait", PausedNewImage, SamePod, SamePod),
    step("state-before-rename", Paused, SamePod, SamePod),
    step("wait", Paused, SamePod, SamePod),
    step("connect", Paused, SamePod, SamePod),
    step("setup", Paused, SamePod, SamePod),
    step("staging", Paused, SamePod, SamePod),
    step("launch", Paused, SamePod, SamePod),
    // The script runs: an interrupt is no job failure (issue 19, item 6):
    // the job is ended, and the pod stopped and kept as the config's pod,
    // warm, whether this run resumed it or created it; a kill leaves the
    // job to the next apply, which collects it.
    step("monitor", Paused, SamePod, SamePod),
    step("monitor", Fresh, CreatedPodKept, CreatedPodKept),
    // The job ended well: its outcome stands, the pod is recycled.
    step("pull", Paused, SamePod, SamePod),
    step("lifecycle", Paused, SamePod, SamePod),
    step("lifecycle-done", Paused, SamePod, SamePod),
];

const SIGNALS: [Stop; 3] = [
    Stop::Signal(libc::SIGINT, "SIGINT"),
    Stop::Signal(libc::SIGTERM, "SIGTERM"),
    Stop::Signal(libc::SIGKILL, "SIGKILL"),
];

/// Detach's record (issue 19): the launch is done, the state does not
/// record it yet. An interrupt there still records it and detaches (the
/// next apply collects the job: `run 2`); a failed write ends the job and
/// stops the pod, and apply exits 1 (the next apply runs the job). A kill
/// leaves the job unrecorded: the pod's guard stops the pod once it ends,
/// but the next apply, knowing nothing of it, runs the job again on the
/// same pod (`run 3`): the window between a launch and its record is not
/// closed (the record would have to be written before the launch).
const DETACH_STEPS: [(Step, &[Stop]); 1] = [(
    detached("launched", Paused, SamePod, SamePod),
    &[
        Stop::Signal(libc::SIGINT, "SIGINT"),
        Stop::Signal(libc::SIGTERM, "SIGTERM"),
        Stop::Signal(libc::SIGKILL, "SIGKILL"),
        Stop::FailedWrite("save-launched"),
    ],
)];

/// What one row found.
struct Row {
    line: String,
    problems: Vec<String>,
}

fn ids(pods: &[serde_json::Value]) -> Vec<String> {
    pods.iter()
        .map(|p| p["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Pods the simulator has that the state does not track, and pods that
/// share a name (two pods for one create).
fn orphans_and_duplicates(world: &World) -> (Vec<String>, usize) {
    let pods = world.pods();
    let state = world.state(HELLO_STATE);
    let mut tracked: BTreeSet<String> = BTreeSet::new();
    if let Some(state) = &state {
        tracked.extend(state["pod"]["id"].as_str().map(String::from));
        for retained in state["retained"].as_array().into_iter().flatten() {
            tracked.extend(retained["id"].as_str().map(String::from));
        }
    }
    let orphans = ids(&pods)
        .into_iter()
        .filter(|id| !tracked.contains(id))
        .collect();
    let names: Vec<&str> = pods.iter().filter_map(|p| p["name"].as_str()).collect();
    let distinct: BTreeSet<&str> = names.iter().copied().collect();
    (orphans, names.len() - distinct.len())
}

/// How many lifecycle branches a run's output says it carried out.
fn lifecycle_branches(run: &Run) -> usize {
    run.stderr().matches(": Lifecycle on_").count()
}

fn exit_text(run: &Run) -> String {
    match (run.output.status.code(), run.output.status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(9)) => "killed".into(),
        (None, signal) => format!("signal {signal:?}"),
    }
}

fn run_row(step: Step, stop: Stop) -> Row {
    let started = Instant::now();
    let world = World::new();
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    let paused = match step.start {
        Paused | PausedNewImage => {
            let first = world.rpd(&["apply", "-y", HELLO]);
            check(
                first.code() == 0,
                format!("the first apply: {}", first.stderr()),
            );
            if step.start == PausedNewImage {
                world.edit(HELLO, "torch280", "torch291");
            }
            ids(&world.pods()).pop()
        }
        Fresh => None,
    };

    // The apply that is stopped.
    let args: &[&str] = if step.detach {
        &["apply", "-y", "--detach", HELLO]
    } else {
        &["apply", "-y", HELLO]
    };
    let (stopped, how) = match stop {
        Stop::Signal(signal, name) => {
            let apply = world.spawn_paused_at(step.point, args);
            apply.signal(signal);
            (apply.wait(), name)
        }
        Stop::FailedWrite(point) => (
            world.rpd_env(args, &[("RPD_FAULT", &format!("{point}:fail"))]),
            "fail",
        ),
    };
    let killed = matches!(stop, Stop::Signal(libc::SIGKILL, _));
    let failed_write = matches!(stop, Stop::FailedWrite(_));
    // Past the launch, and recorded: the job runs on, left to the guard.
    let left_running = step.detach && !killed && !failed_write;
    if killed {
        check(
            stopped.output.status.signal() == Some(libc::SIGKILL),
            format!("expected a kill, got {}", exit_text(&stopped)),
        );
    } else if failed_write {
        check(
            stopped.code() == 1,
            format!(
                "a failed write exits 1, got {}:\n{}",
                exit_text(&stopped),
                stopped.stderr()
            ),
        );
    } else {
        check(
            stopped.code() == 130,
            format!(
                "an interrupt exits 130, got {}:\n{}",
                exit_text(&stopped),
                stopped.stderr()
            ),
        );
    }
    let branches = lifecycle_branches(&stopped);
    check(branches <= 1, format!("{branches} lifecycle branches ran"));
    let pods_after_stop = world.pods();
    if !killed {
        let (orphans, duplicates) = orphans_and_duplicates(&world);
        check(
            orphans.is_empty(),
            format!("untracked pods after the interrupt: {orphans:?}"),
        );
        check(
            duplicates == 0,
            format!("{duplicates} duplicate pods after the interrupt"),
        );
        let running: Vec<&serde_json::Value> = pods_after_stop
            .iter()
            .filter(|p| {
                matches!(
                    p["status"].as_str(),
                    Some("RUNNING" | "STARTING" | "PROVISIONING")
                )
            })
            .collect();
        if left_running {
            let job = world
                .state(HELLO_STATE)
                .map(|s| s["launched_job"]["pod_id"].clone());
            check(
                running.len() == 1 && job == Some(running[0]["id"].clone()),
                format!("the detached job's pod runs, recorded: {running:?}, job on {job:?}"),
            );
        } else {
            check(
                running.is_empty(),
                format!("pods left running: {running:?}"),
            );
        }
    }
    // The state is readable and plannable, whatever happened.
    let plan = world.rpd(&["plan", HELLO]);
    check(
        plan.code() == 0,
        format!("plan after the stop: {}", plan.stderr()),
    );

    // Apply again: it settles whatever the stop left.
    let _ = std::fs::remove_file(world.path("examples/artifacts/hello/result.txt"));
    let again = world.rpd(&["apply", "-y", HELLO]);
    check(
        again.code() == 0,
        format!("the next apply: {}\n{}", exit_text(&again), again.stderr()),
    );
    let result = world.read("examples/artifacts/hello/result.txt");
    let run_number: u32 = result
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let (orphans, duplicates) = orphans_and_duplicates(&world);
    check(orphans.is_empty(), format!("orphaned pods: {orphans:?}"));
    check(duplicates == 0, format!("{duplicates} duplicate pods"));
    let orphan_count = orphans.len();
    let pods = world.pods();
    let state = world.state(HELLO_STATE);
    let current = state
        .as_ref()
        .and_then(|s| s["pod"]["id"].as_str().map(String::from));
    let retained: Vec<String> = state
        .as_ref()
        .and_then(|s| s["retained"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect();
    let then = if killed {
        step.then_killed
    } else {
        step.then_interrupted
    };
    if left_running {
        check(
            run_number == 2,
            format!("the next apply collects the detached job (`run 2`), got {result:?}"),
        );
    }
    match then {
        NewPod => {
            check(
                run_number == 1,
                format!("a new pod runs `run 1`, got {result:?}"),
            );
            check(pods.len() == 1, format!("one pod, got {}", pods.len()));
        }
        SamePod => {
            check(
                current.is_some() && current == paused,
                format!("the same pod {paused:?} resumed, got {current:?}"),
            );
            check(run_number >= 2, format!("its volume kept, got {result:?}"));
            check(pods.len() == 1, format!("one pod, got {}", pods.len()));
        }
        CreatedPodKept => {
            let created = ids(&pods_after_stop);
            check(
                created.len() == 1 && current.as_ref() == created.first(),
                format!("the pod the stopped run created, {created:?}, kept; got {current:?}"),
            );
            check(pods.len() == 1, format!("one pod, got {}", pods.len()));
            check(
                retained.is_empty(),
                format!("nothing retained: {retained:?}"),
            );
        }
    }
    if step.start == PausedNewImage {
        let images: Vec<&str> = pods.iter().filter_map(|p| p["image"].as_str()).collect();
        check(
            images.iter().all(|i| i.contains("torch291")),
            format!("the pod has the new image after the next apply: {images:?}"),
        );
    }
    let again_branches = lifecycle_branches(&again);
    check(
        again_branches == 1,
        format!("the next apply ran {again_branches} lifecycle branches"),
    );

    // Destroy leaves nothing.
    let destroy = world.rpd(&["destroy", "-y", HELLO]);
    check(
        destroy.code() == 0,
        format!("destroy: {}", destroy.stderr()),
    );
    let left = world.pods();
    check(left.is_empty(), format!("pods after destroy: {left:?}"));
    check(
        world.state(HELLO_STATE).is_none(),
        "the state file after destroy".into(),
    );

    let line = format!(
        "crash-matrix {:<20} {:<7} {:<7} | {:<8} | pods then: {} | apply again: {}, {:?} ({}) | orphans {orphan_count}, duplicates {duplicates} | destroy: {}, pods left: {} | lifecycle branches {branches} | {:.1}s {}",
        if step.detach {
            format!("{} (detach)", step.point)
        } else {
            step.point.to_string()
        },
        format!("{:?}", step.start).to_lowercase(),
        how,
        exit_text(&stopped),
        pods_after_stop.len(),
        exit_text(&again),
        result.trim(),
        match then {
            NewPod => "new pod",
            SamePod => "volume kept",
            CreatedPodKept => "the pod it created resumed",
        },
        exit_text(&destroy),
        left.len(),
        started.elapsed().as_secs_f64(),
        if problems.is_empty() { "ok" } else { "FAILED" },
    );
    Row { line, problems }
}

/// How many rows run at once (`RPD_CRASH_MATRIX_JOBS`, 4 by default: a row
/// mostly waits on rpd processes).
fn jobs() -> usize {
    std::env::var("RPD_CRASH_MATRIX_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(4)
}

#[test]
fn every_step_survives_sigint_sigterm_and_sigkill() {
    run_rows(
        STEPS
            .iter()
            .flat_map(|step| SIGNALS.iter().map(move |stop| (*step, *stop)))
            .collect(),
    );
}

#[test]
fn detachs_record_survives_sigint_sigterm_sigkill_and_a_failed_write() {
    run_rows(
        DETACH_STEPS
            .iter()
            .flat_map(|(step, stops)| stops.iter().map(move |stop| (*step, *stop)))
            .collect(),
    );
}

/// Runs `rows` a few at a time (see [`jobs`]) and fails with every row
/// that found a problem.
fn run_rows(rows: Vec<(Step, Stop)>) {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Row)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs() {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((step, stop)) = rows.get(i) else {
                        break;
                    };
                    let row = run_row(*step, *stop);
                    println!("{}", row.line);
                    results.lock().unwrap().push((i, row));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, row)| !row.problems.is_empty())
        .map(|(_, row)| format!("{}\n    {}", row.line, row.problems.join("\n    ")))
        .collect();
    println!(
        "crash-matrix: {} rows, {} failed, in {:.1}s",
        results.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "{} of {} rows failed:\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
}

/// Issue 19 (14): `rpd cleanup` stopped between a delete and the write of
/// the state that tracked the pod. An interrupt finishes the step in
/// flight, records it and exits 130 without starting the next delete; a
/// kill leaves the state naming a pod that is gone, which the next cleanup
/// forgets. Either way: no pod billing untracked, every state readable,
/// and the next apply and destroy of each config work.
fn cleanup_row((signal, signal_name): (libc::c_int, &str)) -> Row {
    let started = Instant::now();
    let world = World::new();
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    let other = "examples/other.yaml";
    let other_state = "examples/.rpd/other.state.json";
    world.write(
        other,
        &world
            .read(HELLO)
            .replace("name: hello", "name: other")
            .replace(
                "local_path: artifacts/hello/",
                "local_path: artifacts/other/",
            ),
    );
    for config in [HELLO, other] {
        let first = world.rpd(&["apply", "-y", config]);
        check(
            first.code() == 0,
            format!("apply {config}: {}", first.stderr()),
        );
    }
    let states = [HELLO_STATE, other_state];
    let tracked = |world: &World| -> Vec<String> {
        states
            .iter()
            .filter_map(|s| world.state(s))
            .filter_map(|s| s["pod"]["id"].as_str().map(String::from))
            .collect()
    };
    let before = ids(&world.pods());
    check(
        before.len() == 2,
        format!("two paused pods, got {before:?}"),
    );

    let cleanup = world.spawn_paused_at("deleted", &["cleanup", "--all-stopped", "-y"]);
    cleanup.signal(signal);
    let stopped = cleanup.wait();
    let killed = signal == libc::SIGKILL;
    let left = ids(&world.pods());
    check(
        left.len() == 1,
        format!("the delete in flight finished and no other began: pods {left:?}"),
    );
    if killed {
        check(
            stopped.output.status.signal() == Some(libc::SIGKILL),
            format!("expected a kill, got {}", exit_text(&stopped)),
        );
    } else {
        check(
            stopped.code() == 130,
            format!(
                "an interrupt exits 130, got {}:\n{}",
                exit_text(&stopped),
                stopped.stderr()
            ),
        );
        check(
            tracked(&world) == left,
            format!(
                "the delete is recorded: states track {:?}, pods {left:?}",
                tracked(&world)
            ),
        );
    }
    // Whatever the stop left, every pod is tracked and every state reads.
    let untracked: Vec<&String> = left
        .iter()
        .filter(|p| !tracked(&world).contains(p))
        .collect();
    check(
        untracked.is_empty(),
        format!("untracked pods: {untracked:?}"),
    );
    for config in [HELLO, other] {
        let plan = world.rpd(&["plan", config]);
        check(
            plan.code() == 0,
            format!("plan {config}: {}", plan.stderr()),
        );
    }
    // The next cleanup settles the rest.
    let again = world.rpd(&["cleanup", "--all-stopped", "-y"]);
    check(
        again.code() == 0,
        format!(
            "the next cleanup: {}\n{}",
            exit_text(&again),
            again.stderr()
        ),
    );
    check(
        world.pods().is_empty(),
        format!("pods left: {:?}", world.pods()),
    );
    check(
        tracked(&world).is_empty(),
        format!("tracked: {:?}", tracked(&world)),
    );
    for config in [HELLO, other] {
        let apply = world.rpd(&["apply", "-y", config]);
        check(
            apply.code() == 0,
            format!("apply {config}: {}", apply.stderr()),
        );
        let destroy = world.rpd(&["destroy", "-y", config]);
        check(
            destroy.code() == 0,
            format!("destroy {config}: {}", destroy.stderr()),
        );
    }
    check(
        world.pods().is_empty(),
        format!("pods after destroy: {:?}", world.pods()),
    );
    let line = format!(
        "crash-matrix {:<20} {:<7} {:<7} | {:<8} | pods then: {} | cleanup again: {} | {:.1}s {}",
        "cleanup-deleted",
        "paused",
        signal_name,
        exit_text(&stopped),
        left.len(),
        exit_text(&again),
        started.elapsed().as_secs_f64(),
        if problems.is_empty() { "ok" } else { "FAILED" },
    );
    Row { line, problems }
}

#[test]
fn a_cleanup_stopped_between_a_delete_and_its_state_write_stays_consistent() {
    let rows: Vec<Row> = std::thread::scope(|scope| {
        let handles: Vec<_> = SIGNALS
            .iter()
            .filter_map(|stop| stop.signal())
            .map(|signal| scope.spawn(move || cleanup_row(signal)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for row in &rows {
        println!("{}", row.line);
    }
    let failed: Vec<String> = rows
        .iter()
        .filter(|row| !row.problems.is_empty())
        .map(|row| format!("{}\n    {}", row.line, row.problems.join("\n    ")))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

// ------------------------------------------------ the windows of issue 19

/// Runs `rows` a few at a time (see [`jobs`]), prints each row's line and
/// fails with every row that found a problem.
fn run_rows_of<T: Copy + Send + Sync>(name: &str, rows: &[T], run: impl Fn(T) -> Row + Sync) {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Row)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs() {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(row) = rows.get(i) else {
                        break;
                    };
                    let row = run(*row);
                    println!("{}", row.line);
                    results.lock().unwrap().push((i, row));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, row)| !row.problems.is_empty())
        .map(|(_, row)| format!("{}\n    {}", row.line, row.problems.join("\n    ")))
        .collect();
    println!(
        "crash-matrix {name}: {} rows, {} failed, in {:.1}s",
        results.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "{} of {} rows failed:\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
}

fn status_of(world: &World, id: &str) -> String {
    world
        .pods()
        .iter()
        .find(|p| p["id"] == id)
        .and_then(|p| p["status"].as_str().map(String::from))
        .unwrap_or_else(|| "gone".into())
}

/// Waits for `done` (up to `within`); how long it took, or None.
fn waited(within: std::time::Duration, mut done: impl FnMut() -> bool) -> Option<f64> {
    let started = Instant::now();
    while started.elapsed() < within {
        if done() {
            return Some(started.elapsed().as_secs_f64());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    None
}

/// hello whose first setup command holds (up to ten minutes) until
/// `setup-released` exists, touching `setup-started` first; a 3 s
/// unattended grace. Returns (started, release).
fn with_long_setup(world: &World) -> (std::path::PathBuf, std::path::PathBuf) {
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

/// rpd stopped by `signal` during a setup that holds: after a SIGKILL the
/// guard that starts before setup stops the pod within seconds of its
/// grace; after an interrupt rpd stops (or deletes) it itself. Either way
/// the next apply settles it: the same pod resumed (a pod created by the
/// interrupted run is deleted), its volume kept.
fn guard_before_setup_row(
    (start, (signal, signal_name)): (Start, (libc::c_int, &'static str)),
) -> Row {
    let started = Instant::now();
    let world = World::new();
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    if start == Paused {
        let first = world.rpd(&["apply", "-y", HELLO]);
        check(
            first.code() == 0,
            format!("the first apply: {}", first.stderr()),
        );
    }
    let (setup_started, release) = with_long_setup(&world);
    let apply = world.spawn(&["apply", "-y", HELLO]);
    let reached = waited(std::time::Duration::from_secs(60), || {
        setup_started.exists()
    });
    check(reached.is_some(), "the setup never started".into());
    let pod = ids(&world.pods()).pop().unwrap_or_default();
    apply.signal(signal);
    let stopped = apply.wait();
    let killed = signal == libc::SIGKILL;
    let mut guard_took = None;
    if killed {
        check(
            stopped.output.status.signal() == Some(libc::SIGKILL),
            format!("expected a kill, got {}", exit_text(&stopped)),
        );
        // Nothing but the guard stops it now.
        guard_took = waited(std::time::Duration::from_secs(60), || {
            status_of(&world, &pod) == "EXITED"
        });
        check(
            guard_took.is_some(),
            format!("the guard did not stop pod {pod} within 60 s"),
        );
    } else {
        check(
            stopped.code() == 130,
            format!("an interrupt exits 130, got {}", exit_text(&stopped)),
        );
        let now = status_of(&world, &pod);
        check(
            now == "EXITED" || now == "gone",
            format!("pod {pod} left {now} after the interrupt"),
        );
    }
    std::fs::write(&release, "").unwrap();
    // A guard's stop of an idle pod is no change outside rpd.
    let plan = world.rpd(&["plan", "--detailed-exitcode", HELLO]);
    check(
        plan.code() == 0 || (!killed && start == Fresh && plan.code() == 2),
        format!(
            "plan after the stop: {}\n{}",
            exit_text(&plan),
            plan.stdout()
        ),
    );
    let _ = std::fs::remove_file(world.path("examples/artifacts/hello/result.txt"));
    let again = world.rpd(&["apply", "-y", HELLO]);
    check(
        again.code() == 0,
        format!("the next apply: {}\n{}", exit_text(&again), again.stderr()),
    );
    let pods = world.pods();
    let (orphans, duplicates) = orphans_and_duplicates(&world);
    check(orphans.is_empty(), format!("orphaned pods: {orphans:?}"));
    check(duplicates == 0, format!("{duplicates} duplicate pods"));
    check(pods.len() == 1, format!("one pod, got {}", pods.len()));
    let current = world
        .state(HELLO_STATE)
        .and_then(|s| s["pod"]["id"].as_str().map(String::from));
    let same_pod = current.as_deref() == Some(pod.as_str());
    // A pod this run created and an interrupt deleted is replaced; any
    // other is resumed.
    let expect_same = killed || start == Paused;
    check(
        same_pod == expect_same,
        format!("pod {pod} resumed: expected {expect_same}, now {current:?}"),
    );
    check(
        lifecycle_branches(&again) == 1,
        "the next apply ran one lifecycle branch".into(),
    );
    let destroy = world.rpd(&["destroy", "-y", HELLO]);
    check(
        destroy.code() == 0,
        format!("destroy: {}", destroy.stderr()),
    );
    check(world.pods().is_empty(), "pods after destroy".into());
    let line = format!(
        "crash-matrix {:<20} {:<7} {:<7} | {:<8} | guard stopped the pod: {} | apply again: {}, {} | {:.1}s {}",
        "guard-before-setup",
        format!("{start:?}").to_lowercase(),
        signal_name,
        exit_text(&stopped),
        guard_took.map_or("-".into(), |s| format!("after {s:.1}s")),
        exit_text(&again),
        if same_pod {
            "same pod resumed"
        } else {
            "new pod"
        },
        started.elapsed().as_secs_f64(),
        if problems.is_empty() { "ok" } else { "FAILED" },
    );
    Row { line, problems }
}

#[test]
fn the_guard_before_setup_survives_sigint_sigterm_and_sigkill() {
    let rows: Vec<(Start, (libc::c_int, &'static str))> = [Paused, Fresh]
        .into_iter()
        .flat_map(|start| {
            SIGNALS
                .iter()
                .filter_map(|stop| stop.signal())
                .map(move |signal| (start, signal))
        })
        .collect();
    run_rows_of("guard-before-setup", &rows, guard_before_setup_row);
}

/// A detached job ended and its guard stopped the pod; `rpd attach`
/// resumes the pod to collect it and is stopped by `signal` at `point`.
/// The job is never lost nor run again: the next attach collects it once,
/// with one lifecycle branch; after an interrupt the pod is stopped again,
/// and after a kill once the pod is reached (`pull`) its guard stops it.
fn attach_resume_row(
    (point, (signal, signal_name)): (&'static str, (libc::c_int, &'static str)),
) -> Row {
    let started = Instant::now();
    let world = World::new();
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    world.edit(
        HELLO,
        "  on_failure: stop\n",
        "  on_failure: stop\n  unattended_stop_after_sec: 2\n",
    );
    let detach = world.rpd(&["apply", "-y", "--detach", HELLO]);
    if detach.code() != 0 {
        let line = format!("crash-matrix attach:{point} {signal_name}: the detach failed");
        let problems = vec![format!("the detach: {}", detach.stderr())];
        return Row { line, problems };
    }
    let pod = ids(&world.pods()).pop().unwrap_or_default();
    let guard_stopped = waited(std::time::Duration::from_secs(60), || {
        status_of(&world, &pod) == "EXITED"
    });
    check(
        guard_stopped.is_some(),
        "the guard never stopped the pod".into(),
    );

    let attach = world.spawn_paused_at(point, &["attach", HELLO]);
    attach.signal(signal);
    let stopped = attach.wait();
    let killed = signal == libc::SIGKILL;
    let pod_after = status_of(&world, &pod);
    // Interrupted during the pull, the job has ended and its outcome
    // stands: the collect goes on, and the lifecycle runs once.
    let collected_anyway = point == "pull" && !killed;
    let branches = lifecycle_branches(&stopped);
    check(
        branches == usize::from(collected_anyway),
        format!("{branches} lifecycle branches ran"),
    );
    let mut guard_took = None;
    if killed {
        check(
            stopped.output.status.signal() == Some(libc::SIGKILL),
            format!("expected a kill, got {}", exit_text(&stopped)),
        );
        if point == "pull" {
            // Reached: the guard it restarted stops it again.
            guard_took = waited(std::time::Duration::from_secs(60), || {
                status_of(&world, &pod) == "EXITED"
            });
            check(
                guard_took.is_some(),
                format!("the guard did not stop pod {pod} again within 60 s"),
            );
        }
    } else {
        check(
            stopped.code() == 130,
            format!(
                "an interrupt exits 130, got {}:\n{}",
                exit_text(&stopped),
                stopped.stderr()
            ),
        );
        let now = status_of(&world, &pod);
        check(
            now == "EXITED",
            format!("pod {pod} left {now} after the interrupt"),
        );
    }
    check(
        world
            .state(HELLO_STATE)
            .is_some_and(|s| s["launched_job"].is_object() != collected_anyway),
        "the job is still recorded for the next attach, unless collected".into(),
    );
    let again = world.rpd(&["attach", HELLO]);
    check(
        again.code() == if collected_anyway { 1 } else { 0 },
        format!("the next attach: {}\n{}", exit_text(&again), again.stderr()),
    );
    let result = world.read("examples/artifacts/hello/result.txt");
    check(
        result.starts_with("run 1 of hello"),
        format!("collected once, never run again: {result:?}"),
    );
    check(
        lifecycle_branches(&again) == usize::from(!collected_anyway),
        "one lifecycle branch in all".into(),
    );
    check(
        status_of(&world, &pod) == "EXITED",
        "recycled after the collect".into(),
    );
    let (orphans, duplicates) = orphans_and_duplicates(&world);
    check(orphans.is_empty(), format!("orphaned pods: {orphans:?}"));
    check(duplicates == 0 && world.pods().len() == 1, "one pod".into());
    let destroy = world.rpd(&["destroy", "-y", HELLO]);
    check(
        destroy.code() == 0,
        format!("destroy: {}", destroy.stderr()),
    );
    let line = format!(
        "crash-matrix {:<20} {:<7} {:<7} | {:<8} | pod then: {pod_after} | guard stopped the pod again: {} | attach again: {}, {:?} | {:.1}s {}",
        format!("attach:{point}"),
        "paused",
        signal_name,
        exit_text(&stopped),
        guard_took.map_or("-".into(), |s| format!("after {s:.1}s")),
        exit_text(&again),
        result.trim(),
        started.elapsed().as_secs_f64(),
        if problems.is_empty() { "ok" } else { "FAILED" },
    );
    Row { line, problems }
}

#[test]
fn attachs_resume_of_a_paused_pod_survives_sigint_sigterm_and_sigkill() {
    let rows: Vec<(&'static str, (libc::c_int, &'static str))> =
        ["resume-answered", "wait", "attach", "pull"]
            .into_iter()
            .filter(|point| {
                std::env::var("RPD_CRASH_MATRIX_POINT").map_or(true, |only| only == *point)
            })
            .flat_map(|point| {
                SIGNALS
                    .iter()
                    .filter_map(|stop| stop.signal())
                    .map(move |signal| (point, signal))
            })
            .collect();
    run_rows_of("attach-resume", &rows, attach_resume_row);
}
