//! The on-pod guard: a POSIX sh script (`guard.sh`, shipped inside rpd)
//! that the launch wrapper starts beside the job. It enforces the budget's
//! deadline and stops the pod after the job ends when no rpd is attached,
//! so a closed laptop cannot leave a pod billing. Here: the text that
//! starts it (pure), and the heartbeat rpd renews while it is attached.

use std::sync::Arc;
use std::time::Duration;

use super::script::{Companion, RunFiles, sidecar};
use crate::model::PodSelfStop;
use crate::remote::shell_quote;
use crate::remote::transport::{Transport, exec};

/// The guard itself, written beside the log as `<log>.rpd-guard`.
pub const SCRIPT: &str = include_str!("guard.sh");

/// The exit status the guard records for a job it killed (a TERM's).
pub const KILLED_STATUS: i32 = 143;

/// Why the job's deadline is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineReason {
    MaxRuntime,
    CostCap,
}

impl DeadlineReason {
    /// The words the guard records in the exit file and rpd shows.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineReason::MaxRuntime => "max runtime",
            DeadlineReason::CostCap => "cost cap",
        }
    }
}

/// What the guard enforces beyond the budget, from the config and the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardSettings {
    /// After the job ends, how long without an rpd before the pod stops.
    pub grace: Duration,
    /// How the pod stops itself.
    pub stop: PodSelfStop,
    /// The pod rpd launched on (used when the pod's environment has no
    /// `RUNPOD_POD_ID`).
    pub pod_id: String,
}

/// The guard of one launch: its settings and the deadline from now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardLaunch {
    pub settings: GuardSettings,
    pub deadline: Duration,
    pub reason: DeadlineReason,
}

/// How often rpd renews the heartbeat: often enough that a few missed
/// renewals stay well within the grace period, at most every 30 s.
pub fn heartbeat_every(grace: Duration) -> Duration {
    (grace / 5).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

/// The guard's files beside the log.
pub fn guard_path(files: &RunFiles) -> String {
    sidecar(&files.log, "guard")
}

/// Where the guard says why it stopped the pod (the run's tag in its name).
pub fn stop_record_path(files: &RunFiles) -> String {
    sidecar(&files.log, &format!("guard-stop-{}", files.tag))
}

pub fn heartbeat_path(files: &RunFiles) -> String {
    sidecar(&files.log, "heartbeat")
}

/// What the guard's stop needs that is not in its script: the API's base
/// URL, or the simulator's stop command (written apart so that the
/// simulator's path mapping never rewrites it).
pub fn target_path(files: &RunFiles) -> String {
    format!("{}.target", guard_path(files))
}

pub fn target(stop: &PodSelfStop) -> &str {
    match stop {
        PodSelfStop::Api { base_url } => base_url,
        PodSelfStop::Command(command) => command,
    }
}

fn mode(stop: &PodSelfStop) -> &'static str {
    match stop {
        PodSelfStop::Api { .. } => "api",
        PodSelfStop::Command(_) => "command",
    }
}

/// The wrapper with the guard: the guard starts first, in a process group
/// of its own (so that stopping the job does not stop it), then the script
/// runs and its exit status is recorded.
#[cfg(test)]
pub fn wrapper(files: &RunFiles, launch: &GuardLaunch) -> String {
    super::script::wrapper_with(files, &[companion(files, launch)])
}

/// The guard in the wrapper: started with the wrapper's pid (the job's
/// process group) and what it enforces.
pub fn companion(files: &RunFiles, launch: &GuardLaunch) -> Companion {
    let settings = &launch.settings;
    Companion {
        name: "the on-pod guard",
        start: format!(
            "nohup sh {guard} {tag} $$ {deadline} {reason} {grace} {beat} {pod} {mode} > /dev/null 2>&1 < /dev/null &\n",
            guard = shell_quote(&guard_path(files)),
            tag = shell_quote(&files.tag),
            deadline = launch.deadline.as_secs().max(1),
            reason = shell_quote(launch.reason.as_str()),
            grace = settings.grace.as_secs().max(1),
            beat = heartbeat_every(settings.grace).as_secs(),
            pod = shell_quote(&settings.pod_id),
            mode = mode(&settings.stop),
        ),
        after_job: String::new(),
    }
}

/// Before the start: the guard checks it can stop this pod (sh, an HTTP
/// tool, the pod's key), else the launch fails with its message; a guard
/// an older run left is ended and its files go.
pub fn before_start(files: &RunFiles, stop: &PodSelfStop) -> String {
    let guard = shell_quote(&guard_path(files));
    format!(
        "command -v sh > /dev/null 2>&1 || {{ echo 'rpd: the pod has no sh, which the on-pod guard needs' >&2; exit 97; }}\n\
         sh {guard} --probe {mode} || exit 97\n\
         g=$(cat {guard}.pid 2>/dev/null || true)\n\
         if [ -n \"$g\" ] && grep -q rpd-guard /proc/$g/cmdline 2>/dev/null; then kill $g 2>/dev/null || true; fi\n\
         rm -f {guard}.pid {heartbeat} {log}.rpd-dismissed-*\n\
         {renew}\n",
        renew = renew(files),
        mode = mode(stop),
        heartbeat = shell_quote(&heartbeat_path(files)),
        log = shell_quote(&files.log),
    )
}

/// Starts the guard of a run whose job has ended (rpd attaches to collect
/// it, perhaps on a pod it had to resume): the guard then stops the pod
/// `grace` after rpd's heartbeat stops, as it would have after the job.
/// Nothing when the run's guard is not on the pod, or one still runs.
pub fn restart(files: &RunFiles, settings: &GuardSettings) -> String {
    let guard = shell_quote(&guard_path(files));
    format!(
        "[ -f {guard} ] || exit 0\n\
         g=$(cat {guard}.pid 2>/dev/null || true)\n\
         if [ -n \"$g\" ] && grep -q rpd-guard /proc/$g/cmdline 2>/dev/null; then exit 0; fi\n\
         set -m\n\
         nohup sh {guard} {tag} {no_job} 1 {reason} {grace} {beat} {pod} {mode} > /dev/null 2>&1 < /dev/null &\n",
        tag = shell_quote(&files.tag),
        // A pid no process can have: the job counts as ended.
        no_job = NO_PROCESS,
        reason = shell_quote(DeadlineReason::MaxRuntime.as_str()),
        grace = settings.grace.as_secs().max(1),
        beat = heartbeat_every(settings.grace).as_secs(),
        pod = shell_quote(&settings.pod_id),
        mode = mode(&settings.stop),
    )
}

/// Starts the guard before the job, as soon as the pod is reachable (rpd
/// sets it up: setup, secrets, staging): no job to watch, it stops the pod
/// `grace` after rpd's heartbeat stops, so an rpd killed during a long
/// setup leaves no pod billing. A guard an earlier rpd left is replaced;
/// the launch hands over to the job's guard in the same way. Quiet and
/// best effort (an image without an HTTP tool yet, which setup may
/// install, starts none: the launch checks again): it goes in front of
/// the first command rpd runs on the pod, in that command's session.
pub fn early(files: &RunFiles, settings: &GuardSettings) -> String {
    let guard = shell_quote(&guard_path(files));
    format!(
        "( umask 077; mkdir -p \"$(dirname {guard})\" && {script} && {target} ) > /dev/null 2>&1 &&\n\
         if sh {guard} --probe {mode} > /dev/null 2>&1; then\n\
         g=$(cat {guard}.pid 2>/dev/null || true)\n\
         if [ -n \"$g\" ] && grep -q rpd-guard /proc/$g/cmdline 2>/dev/null; then kill $g 2>/dev/null || true; fi\n\
         {renew}\n\
         set -m\n\
         nohup sh {guard} {tag} - 1 {reason} {grace} {beat} {pod} {mode} > /dev/null 2>&1 < /dev/null &\n\
         set +m\n\
         fi\n",
        script = quiet_write(&guard_path(files), SCRIPT, 0o755),
        target = quiet_write(&target_path(files), target(&settings.stop), 0o600),
        mode = mode(&settings.stop),
        renew = renew(files),
        tag = shell_quote(&files.tag),
        reason = shell_quote(DeadlineReason::MaxRuntime.as_str()),
        grace = settings.grace.as_secs().max(1),
        beat = heartbeat_every(settings.grace).as_secs(),
        pod = shell_quote(&settings.pod_id),
    )
}

/// Writes `contents` to `path` (aside, then moved into place) from base64:
/// no heredoc, and no path mapping of the contents.
fn quiet_write(path: &str, contents: &str, mode: u32) -> String {
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(contents);
    let path = shell_quote(path);
    format!(
        "printf '%s' '{data}' | base64 -d > {path}.rpd-tmp && chmod {mode:o} {path}.rpd-tmp && mv -f {path}.rpd-tmp {path}"
    )
}

/// Above any pid Linux hands out (at most 2^22).
const NO_PROCESS: u32 = 999_999_999;

/// Renews the heartbeat with the pod's own clock (the guard compares it
/// with the same clock). Its file aside is this shell's own: a renewal by
/// the heartbeat task and one by the launch may run at once.
pub fn renew(files: &RunFiles) -> String {
    let heartbeat = shell_quote(&heartbeat_path(files));
    format!("date +%s > {heartbeat}.tmp.$$ && mv -f {heartbeat}.tmp.$$ {heartbeat}")
}

/// Tells the guard that no rpd is attached any more (the heartbeat goes).
pub fn leave(files: &RunFiles) -> String {
    format!("rm -f {}", shell_quote(&heartbeat_path(files)))
}

/// Tells the guard that rpd has taken over: it ends without stopping.
pub fn dismiss(files: &RunFiles) -> String {
    format!("touch {}", shell_quote(&files.dismissed))
}

/// Renews the heartbeat in the background while rpd is attached; stops
/// when dropped.
pub struct Heartbeat {
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    /// `beaten`: the first beat was just written (the launch writes it, so
    /// that no renewal adds a session beside the log watcher's start).
    pub fn start(
        transport: Arc<dyn Transport>,
        files: &RunFiles,
        every: Duration,
        beaten: bool,
    ) -> Heartbeat {
        let script = renew(files);
        let task = tokio::spawn(async move {
            if beaten {
                tokio::time::sleep(every).await;
            }
            loop {
                // A renewal that fails is retried at the next beat; the
                // guard allows a few to go missing.
                let _ = exec(transport.as_ref(), &script, Duration::from_secs(20)).await;
                tokio::time::sleep(every).await;
            }
        });
        Heartbeat { task }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
pub(super) mod tests;
