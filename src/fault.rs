//! Fault injection for crash tests: `RPD_FAULT=<point>[:<action>]` acts
//! when a run reaches the named point. Tests use it to stop rpd at an exact
//! step, with no sleep and no race:
//!
//! - `abort` (the default): the process aborts there, with no cleanup, as a
//!   `kill -9` would;
//! - `pause`: rpd creates the file `RPD_FAULT_MARKER` names (default
//!   `$TMPDIR/rpd-fault-<pid>.paused`) and waits there until the file is
//!   removed or a signal (SIGINT, SIGTERM, SIGHUP) arrives, then goes on: a
//!   test waits for the marker and sends its signal (or a `kill -9`) at that
//!   step;
//! - `fail`: the operation at the point fails (the state writes `save-*`:
//!   as if the disk were full);
//! - `full`: the state write at the point fails, and so does every state
//!   write after it in this run (a disk that filled up and stays full).
//!
//! Pauses act once per process; aborts and failures every time the point is
//! reached. The points, in the order an apply reaches them:
//!
//! | point | where |
//! |---|---|
//! | `approved` | the plan is approved; nothing has run yet |
//! | `create-sent` | the simulator has made the pod; its answer has not reached rpd |
//! | `create-answered` | rpd has the create's answer; the state does not record the pod yet |
//! | `update-sent` | the simulator has updated the pod in place; its answer has not reached rpd |
//! | `save-updated` (fail) | the state write after an update in place |
//! | `resume-answered` | the start was accepted; the state does not say so yet |
//! | `save-resumed` (fail) | the state write after a resume |
//! | `wait` | before waiting for the pod to run |
//! | `save-ready` (fail) | the state write once the pod runs |
//! | `connect` | the pod runs; before connecting to it |
//! | `setup`, `secrets`, `staging`, `preflight`, `launch`, `monitor` | before that job phase |
//! | `launched` | the script runs; the state does not record its launch yet |
//! | `save-launched` (fail) | the state write that records the launched job |
//! | `attach` | the pod of a job launched earlier runs; before attaching to the job |
//! | `resume-to-collect` | a pod found stopped under the job was started again to collect it; the state does not say so yet |
//! | `pull` | the job has ended; before the log and artifacts are pulled |
//! | `save-collected` (fail) | the state write after the pull: the job is collected |
//! | `lifecycle` | before the lifecycle action (the stop request of recycle/stop) |
//! | `lifecycle-done` | the lifecycle's stop is done; the state does not say so yet |
//! | `deleted` | a delete succeeded; the state still records the pod |
//! | `state-before-rename`, `backup-before-rename` | inside a state write (state/mod.rs) |
//! | `plan-before-rename` | inside the write of a saved plan (`rpd plan -o`) |

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set once a signal has arrived (by `interrupt`): a pause ends.
static SIGNALLED: AtomicBool = AtomicBool::new(false);
/// Set once a pause has happened: it does not happen twice.
static PAUSED: AtomicBool = AtomicBool::new(false);
/// Set once a `full` point failed its write: every later state write fails.
static FULL: AtomicBool = AtomicBool::new(false);

/// A pause that nobody ends is given up after this long.
const PAUSE_LIMIT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Abort,
    Pause,
    Fail,
    Full,
}

/// What `RPD_FAULT` asks for at `name`, if anything.
fn armed(name: &str) -> Option<Action> {
    let value = std::env::var("RPD_FAULT").ok()?;
    let (point, action) = match value.split_once(':') {
        Some((point, action)) => (point, action),
        None => (value.as_str(), "abort"),
    };
    if point != name {
        return None;
    }
    match action {
        "abort" => Some(Action::Abort),
        "pause" => Some(Action::Pause),
        "fail" => Some(Action::Fail),
        "full" => Some(Action::Full),
        other => {
            crate::note!(
                "rpd: RPD_FAULT={value}: unknown action {other:?} (abort, pause, fail, full)"
            );
            None
        }
    }
}

/// Called by the interrupt handler when the first signal arrives.
pub fn signal_arrived() {
    SIGNALLED.store(true, Ordering::SeqCst);
}

fn marker() -> PathBuf {
    std::env::var_os("RPD_FAULT_MARKER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("rpd-fault-{}.paused", std::process::id()))
        })
}

fn abort(name: &str) -> ! {
    crate::note!("rpd: RPD_FAULT={name}: aborting here on purpose");
    std::process::abort();
}

/// A pause in progress, over once a signal came, its marker was removed,
/// or it lasted too long; the marker goes with it.
struct Pause {
    marker: PathBuf,
    since: Instant,
}

impl Pause {
    /// What `RPD_FAULT` asks for at `name`: aborts here, or the pause to
    /// wait out (the first time only).
    fn at(name: &str) -> Option<Pause> {
        match armed(name)? {
            Action::Abort => abort(name),
            Action::Fail | Action::Full => return None,
            Action::Pause => {}
        }
        if PAUSED.swap(true, Ordering::SeqCst) {
            return None;
        }
        let marker = marker();
        if let Err(err) = std::fs::write(&marker, name) {
            crate::note!(
                "rpd: RPD_FAULT={name}:pause: cannot create {}: {err}",
                marker.display()
            );
            return None;
        }
        crate::note!(
            "rpd: RPD_FAULT={name}:pause: paused (remove {} or send a signal to go on)",
            marker.display()
        );
        Some(Pause {
            marker,
            since: Instant::now(),
        })
    }

    fn over(&self) -> bool {
        SIGNALLED.load(Ordering::SeqCst)
            || !self.marker.exists()
            || self.since.elapsed() >= PAUSE_LIMIT
    }
}

impl Drop for Pause {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.marker);
    }
}

/// A point in synchronous code (inside a state write).
pub fn point(name: &str) {
    if let Some(pause) = Pause::at(name) {
        // The signal is handled on another of the runtime's threads.
        while !pause.over() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A point in async code: a step of apply.
pub async fn reached(name: &str) {
    if let Some(pause) = Pause::at(name) {
        while !pause.over() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Whether the operation at `name` is to fail (`RPD_FAULT=<name>:fail`,
/// or `:full`, which also fails every state write after it).
pub fn fails(name: &str) -> bool {
    match armed(name) {
        Some(Action::Fail) => {
            crate::note!("rpd: RPD_FAULT={name}:fail: failing here on purpose");
            true
        }
        Some(Action::Full) => {
            FULL.store(true, Ordering::SeqCst);
            crate::note!(
                "rpd: RPD_FAULT={name}:full: failing here and every state write after it on purpose"
            );
            true
        }
        _ => full(),
    }
}

/// Whether a `full` point has failed a state write: every state write
/// after it fails too.
pub fn full() -> bool {
    FULL.load(Ordering::SeqCst)
}
