//! The shell the job runs on the pod, built as text from the config: no I/O
//! here, so each script is pinned by a test and can be run by hand. Paths
//! are the pod's; the runner localizes them for the simulator.

use crate::config::{Command, RemoteEnv, Run};
use crate::remote::shell_quote;

/// The files one run uses on the pod: the script, its log, and what rpd
/// keeps beside the log (the wrapper, its pid, the exit-status sentinel).
#[derive(Debug, Clone, PartialEq)]
pub struct RunFiles {
    pub script: String,
    pub log: String,
    pub wrapper: String,
    pub pid: String,
    pub exit: String,
    /// The process group of the setup or preflight command that runs now.
    pub step_pid: String,
    /// 12 hex digits of the run's token: names this run's files.
    pub tag: String,
    /// Where rpd tells this run's on-pod guard that it has taken over.
    pub dismissed: String,
}

impl RunFiles {
    pub fn new(run: &Run, token: &str) -> RunFiles {
        RunFiles {
            script: run.script_path.clone(),
            log: run.log_path.clone(),
            wrapper: sidecar(&run.log_path, "wrapper"),
            pid: sidecar(&run.log_path, "pid"),
            exit: exit_file(&run.log_path, token),
            step_pid: format!("/tmp/rpd-step-{}.pid", run_tag(token)),
            tag: run_tag(token).to_string(),
            dismissed: format!("{}.rpd-dismissed-{}", run.log_path, run_tag(token)),
        }
    }
}

/// A file rpd keeps beside the log.
pub fn sidecar(log_path: &str, suffix: &str) -> String {
    format!("{log_path}.rpd-{suffix}")
}

/// Where this run's wrapper records the exit status: named for the run
/// (12 hex digits of its token), so an older run's wrapper can never answer
/// for this one.
pub fn exit_file(log_path: &str, token: &str) -> String {
    format!("{log_path}.rpd-exit-{}", run_tag(token))
}

/// 12 hex digits of the run's token: names the run's files on the pod.
fn run_tag(token: &str) -> &str {
    let tag = token.trim_matches('_').trim_start_matches("RPD_");
    tag.get(..12).unwrap_or(tag)
}

/// runpod-deploy's `with_env` prefix: each source file sourced if it
/// exists, then each export, joined with `; `.
pub fn env_prefix(env: &RemoteEnv) -> String {
    let mut parts: Vec<String> = env
        .source_files
        .iter()
        .map(|f| {
            let q = shell_quote(f);
            format!("[ -f {q} ] && source {q} || true")
        })
        .collect();
    parts.extend(
        env.exports
            .iter()
            .map(|(k, v)| format!("export {k}={}", shell_quote(v))),
    );
    parts.join("; ")
}

/// What runs for one setup or preflight command: the command, after the
/// environment prefix when it asks for it.
pub fn command_script(prefix: &str, command: &Command) -> String {
    if command.with_env && !prefix.is_empty() {
        format!("{prefix}; {}", command.command)
    } else {
        command.command.clone()
    }
}

/// Runs `script` in a process group of its own, whose id is kept in
/// `pid_file` while it runs, and exits with its status: a command that is
/// interrupted (or times out) can then be ended on the pod with
/// [`end_step`], not only its local ssh client.
pub fn in_own_group(pid_file: &str, script: &str) -> String {
    let pid = shell_quote(pid_file);
    // Job control gives the background command its own group; turned off
    // again so that bash prints no job notices into the command's output.
    format!(
        "set -m\nbash -c {script} &\np=$!\nset +m\necho $p > {pid}\nwait $p\ns=$?\nrm -f {pid}\nexit $s\n",
        script = shell_quote(script),
    )
}

/// Ends the process group [`in_own_group`] recorded: TERM, then KILL for
/// what is left after a second. Prints `ended` when there was one.
pub fn end_step(pid_file: &str) -> String {
    let pid = shell_quote(pid_file);
    format!(
        "p=$(cat {pid} 2>/dev/null); rm -f {pid}\n\
         [ -n \"$p\" ] && kill -TERM -- -$p 2>/dev/null || exit 0\n\
         echo ended\n\
         for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- -$p 2>/dev/null || exit 0; sleep 0.1; done\n\
         kill -KILL -- -$p 2>/dev/null; true\n"
    )
}

/// Prints the exit status a run's wrapper recorded beside `log_path` (the
/// launch of the next run removes it), or nothing while it runs.
pub fn left_exit_status(log_path: &str) -> String {
    format!(
        "for f in {}.rpd-exit-*; do [ -f \"$f\" ] && cat \"$f\" && break; done; true",
        shell_quote(log_path)
    )
}

/// The preflight step `pod.python_version` adds: install and pin that
/// Python where the first staging push lands (else `$HOME`).
pub fn python_pin(version: &str, staging_destination: Option<&str>) -> Command {
    let dir = staging_destination
        .map(shell_quote)
        .unwrap_or_else(|| "$HOME".into());
    Command {
        command: format!(
            "uv python install {version} && cd {dir} && uv python pin {version} && echo \"[rpd] pinned Python {version} at $(pwd)\""
        ),
        timeout_sec: 300,
        with_env: true,
    }
}

/// The wrapper: runs the script detached from any terminal, its output in
/// the log, and records its exit status (written aside, then renamed, so a
/// reader never sees half a number).
pub fn wrapper(files: &RunFiles) -> String {
    wrapper_with(files, &[])
}

/// A process the wrapper starts beside the job (the on-pod guard, the
/// telemetry sampler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Companion {
    /// What it is, for the wrapper's comment.
    pub name: &'static str,
    /// Starts it in the background (job control is on: a process group of
    /// its own, so that stopping the job does not stop it).
    pub start: String,
    /// Runs once the script has exited, before its status is recorded.
    pub after_job: String,
}

/// [`wrapper`] that also starts `companions` first and runs what each has
/// to do after the job.
pub fn wrapper_with(files: &RunFiles, companions: &[Companion]) -> String {
    let mut text = String::from("#!/usr/bin/env bash\n# Written by rpd: ");
    if !companions.is_empty() {
        let names: Vec<&str> = companions.iter().map(|c| c.name).collect();
        text.push_str(&format!("starts {}, ", names.join(" and ")));
        text.push_str("runs the job script and records its exit status.\nset -m\n");
        for companion in companions {
            text.push_str(&companion.start);
        }
        text.push_str("set +m\n");
    } else {
        text.push_str("runs the job script and records its exit status.\n");
    }
    text.push_str(&format!(
        "bash {script} > {log} 2>&1 < /dev/null\n",
        script = shell_quote(&files.script),
        log = shell_quote(&files.log),
    ));
    let after: String = companions.iter().map(|c| c.after_job.as_str()).collect();
    let status = if after.is_empty() {
        "$?"
    } else {
        text.push_str("s=$?\n");
        text.push_str(&after);
        "$s"
    };
    text.push_str(&format!(
        "echo {status} > {exit}.tmp && mv {exit}.tmp {exit}\n",
        exit = shell_quote(&files.exit),
    ));
    text
}

/// Starts the wrapper detached in its own process group and records its
/// pid. A job left running by an interrupted apply is stopped first (if its
/// pid is still our wrapper), so it cannot write into this run; the old log
/// and every old exit sentinel go.
pub fn start(files: &RunFiles) -> String {
    format!(
        "mkdir -p \"$(dirname {log})\"\n\
         p=$(cat {pid} 2>/dev/null || true)\n\
         if [ -n \"$p\" ] && grep -q rpd-wrapper /proc/$p/cmdline 2>/dev/null; then kill -TERM -- -$p 2>/dev/null || kill -TERM $p 2>/dev/null || true; sleep 0.2; fi\n\
         rm -f {log} {pid} {log}.rpd-exit-*\n\
         set -m\nnohup bash {wrapper} > /dev/null 2>&1 < /dev/null &\necho $! > {pid}",
        log = shell_quote(&files.log),
        pid = shell_quote(&files.pid),
        wrapper = shell_quote(&files.wrapper),
    )
}

/// Stops the job: TERM to the wrapper's process group, then KILL a second
/// later. Always succeeds (there may be nothing left to stop).
pub fn kill(files: &RunFiles) -> String {
    let pid = shell_quote(&files.pid);
    format!(
        "p=$(cat {pid} 2>/dev/null) && [ -n \"$p\" ] && {{ kill -TERM -- -$p 2>/dev/null || kill -TERM $p 2>/dev/null; sleep 1; kill -KILL -- -$p 2>/dev/null; }}; true"
    )
}

/// The watcher: streams the log and, once the wrapper has recorded the
/// exit status, reports on the whole log and the status, each report a line
/// starting with `token`: `FAILMARK <i>` per failure marker found,
/// `SUCCESS 0|1`, then `EXIT <status>`. The stream is cut wherever `tail`
/// is when the exit file appears (megabytes may be unread: they are not
/// worth waiting for), often in the middle of a line, or after a last line
/// with no newline: a newline ends that line before the reports, which
/// search the whole file, so the verdict never depends on where the cut
/// fell.
pub fn watcher(files: &RunFiles, token: &str, run: &Run) -> String {
    let mut finals = String::new();
    for (i, marker) in run.failure_markers.iter().enumerate() {
        finals.push_str(&format!(
            "grep -F -q -- {} \"$log\" && echo \"{token} FAILMARK {i}\"\n",
            shell_quote(marker)
        ));
    }
    format!(
        "log={log}; exitf={exit}\n\
         while [ ! -e \"$log\" ] && [ ! -e \"$exitf\" ]; do sleep 0.05; done\n\
         tail -n +1 -s 0.1 -F \"$log\" 2>/dev/null & t=$!\n\
         while [ ! -e \"$exitf\" ]; do sleep 0.05; done\n\
         kill $t 2>/dev/null; wait $t 2>/dev/null; echo\n\
         {finals}\
         if grep -F -q -- {success} \"$log\"; then echo \"{token} SUCCESS 1\"; else echo \"{token} SUCCESS 0\"; fi\n\
         echo \"{token} EXIT $(cat \"$exitf\")\"\n",
        log = shell_quote(&files.log),
        exit = shell_quote(&files.exit),
        success = shell_quote(&run.success_marker),
    )
}

/// `rpd logs -f`: the last `lines` lines of the log, then what it gains
/// while the job's wrapper runs (GNU tail's `--pid` reads the log to its
/// end once the wrapper is gone), then the recorded exit status on a line
/// of its own, `<marker> <status>` (`<marker> ` alone when none was
/// recorded: the job was killed).
pub fn follow(log_path: &str, lines: u32, marker: &str) -> String {
    format!(
        "log={log}; p=$(cat {pid} 2>/dev/null || true)\n\
         if [ -n \"$p\" ] && grep -q rpd-wrapper /proc/$p/cmdline 2>/dev/null; then tail -n {lines} -s 0.2 --pid=\"$p\" -F \"$log\" 2>/dev/null; else tail -n {lines} \"$log\"; fi\n\
         echo \"{marker} $(cat \"$log\".rpd-exit-* 2>/dev/null | head -n 1)\"\n",
        log = shell_quote(log_path),
        pid = shell_quote(&sidecar(log_path, "pid")),
    )
}

#[cfg(test)]
mod tests;
