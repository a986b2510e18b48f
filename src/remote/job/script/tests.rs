//! The scripts' exact text, and the scripts run with bash in a temporary
//! directory to show they do what they say.

use std::path::Path;
use std::process::Command as Process;

use indexmap::IndexMap;

use super::*;

const TOKEN: &str = "__RPD_0123456789abcdef0123456789abcdef__";

fn run_spec(dir: &str) -> Run {
    Run {
        script_path: format!("{dir}/run.sh"),
        log_path: format!("{dir}/run.log"),
        success_marker: "ALL DONE".into(),
        failure_markers: vec!["Traceback".into(), "Killed".into()],
        body: String::new(),
    }
}

fn files() -> RunFiles {
    RunFiles::new(&run_spec("/workspace/job"), TOKEN)
}

/// Runs `script` with `bash -c`, returning (status, stdout).
fn bash(script: &str) -> (i32, String) {
    let out = Process::new("bash").arg("-c").arg(script).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn run_files_sit_beside_the_log_and_the_exit_file_is_named_for_the_run() {
    assert_eq!(
        files(),
        RunFiles {
            script: "/workspace/job/run.sh".into(),
            log: "/workspace/job/run.log".into(),
            wrapper: "/workspace/job/run.log.rpd-wrapper".into(),
            pid: "/workspace/job/run.log.rpd-pid".into(),
            exit: "/workspace/job/run.log.rpd-exit-0123456789ab".into(),
            step_pid: "/tmp/rpd-step-0123456789ab.pid".into(),
            tag: "0123456789ab".into(),
            dismissed: "/workspace/job/run.log.rpd-dismissed-0123456789ab".into(),
        }
    );
    assert_ne!(
        exit_file("/l", TOKEN),
        exit_file("/l", "__RPD_ffffffffffff0123456789abcdef0123__"),
        "two runs never share a sentinel"
    );
}

#[test]
fn env_prefix_sources_then_exports_quoted() {
    let mut exports = IndexMap::new();
    exports.insert("HF_HOME".to_string(), "/workspace/.cache/hf".to_string());
    exports.insert("GREETING".to_string(), "it's a \"test\"".to_string());
    let env = RemoteEnv {
        source_files: vec!["/root/.env".into(), "/root/my env.sh".into()],
        exports,
    };
    assert_eq!(
        env_prefix(&env),
        "[ -f /root/.env ] && source /root/.env || true; \
         [ -f '/root/my env.sh' ] && source '/root/my env.sh' || true; \
         export HF_HOME=/workspace/.cache/hf; \
         export GREETING=\"it's a \\\"test\\\"\""
    );
    assert_eq!(env_prefix(&RemoteEnv::default()), "");
}

#[test]
fn env_prefix_quoting_survives_spaces_quotes_and_dollars_in_bash() {
    let dir = tempfile::tempdir().unwrap();
    let sourced = dir.path().join("my env.sh");
    std::fs::write(&sourced, "FROM_FILE='yes it is'\n").unwrap();
    let tricky = "two  spaces, 'single' and \"double\" quotes, $HOME and `date`; done";
    let mut exports = IndexMap::new();
    exports.insert("TRICKY".to_string(), tricky.to_string());
    let env = RemoteEnv {
        source_files: vec![path_text(&sourced), path_text(&dir.path().join("missing"))],
        exports,
    };
    let command = Command {
        command: "printf '%s|%s' \"$TRICKY\" \"$FROM_FILE\"".into(),
        timeout_sec: 10,
        with_env: true,
    };
    let (status, out) = bash(&command_script(&env_prefix(&env), &command));
    assert_eq!(status, 0, "a missing source file is skipped");
    assert_eq!(out, format!("{tricky}|yes it is"));
}

#[test]
fn only_commands_that_ask_get_the_env_prefix() {
    let mut command = Command {
        command: "make".into(),
        timeout_sec: 10,
        with_env: false,
    };
    assert_eq!(command_script("export A=1", &command), "make");
    command.with_env = true;
    assert_eq!(command_script("export A=1", &command), "export A=1; make");
    assert_eq!(command_script("", &command), "make");
}

#[test]
fn python_pin_installs_and_pins_where_staging_lands() {
    let pin = python_pin("3.12", Some("/workspace/my job/"));
    assert_eq!(
        pin.command,
        "uv python install 3.12 && cd '/workspace/my job/' && uv python pin 3.12 && echo \"[rpd] pinned Python 3.12 at $(pwd)\""
    );
    assert_eq!((pin.timeout_sec, pin.with_env), (300, true));
    assert!(python_pin("3.12", None).command.contains("&& cd $HOME &&"));
}

#[test]
fn wrapper_start_kill_and_watcher_text_is_pinned() {
    let f = files();
    assert_eq!(
        wrapper(&f),
        "#!/usr/bin/env bash\n# Written by rpd: runs the job script and records its exit status.\n\
         bash /workspace/job/run.sh > /workspace/job/run.log 2>&1 < /dev/null\n\
         echo $? > /workspace/job/run.log.rpd-exit-0123456789ab.tmp && mv /workspace/job/run.log.rpd-exit-0123456789ab.tmp /workspace/job/run.log.rpd-exit-0123456789ab\n"
    );
    assert_eq!(
        start(&f),
        "mkdir -p \"$(dirname /workspace/job/run.log)\"\n\
         p=$(cat /workspace/job/run.log.rpd-pid 2>/dev/null || true)\n\
         if [ -n \"$p\" ] && grep -q rpd-wrapper /proc/$p/cmdline 2>/dev/null; then kill -TERM -- -$p 2>/dev/null || kill -TERM $p 2>/dev/null || true; sleep 0.2; fi\n\
         rm -f /workspace/job/run.log /workspace/job/run.log.rpd-pid /workspace/job/run.log.rpd-exit-*\n\
         set -m\nnohup bash /workspace/job/run.log.rpd-wrapper > /dev/null 2>&1 < /dev/null &\necho $! > /workspace/job/run.log.rpd-pid"
    );
    assert_eq!(
        kill(&f),
        "p=$(cat /workspace/job/run.log.rpd-pid 2>/dev/null) && [ -n \"$p\" ] && { kill -TERM -- -$p 2>/dev/null || kill -TERM $p 2>/dev/null; sleep 1; kill -KILL -- -$p 2>/dev/null; }; true"
    );
    assert_eq!(
        watcher(&f, TOKEN, &run_spec("/workspace/job")),
        format!(
            "log=/workspace/job/run.log; exitf=/workspace/job/run.log.rpd-exit-0123456789ab\n\
             while [ ! -e \"$log\" ] && [ ! -e \"$exitf\" ]; do sleep 0.05; done\n\
             tail -n +1 -s 0.1 -F \"$log\" 2>/dev/null & t=$!\n\
             while [ ! -e \"$exitf\" ]; do sleep 0.05; done\n\
             kill $t 2>/dev/null; wait $t 2>/dev/null; echo\n\
             grep -F -q -- Traceback \"$log\" && echo \"{TOKEN} FAILMARK 0\"\n\
             grep -F -q -- Killed \"$log\" && echo \"{TOKEN} FAILMARK 1\"\n\
             if grep -F -q -- 'ALL DONE' \"$log\"; then echo \"{TOKEN} SUCCESS 1\"; else echo \"{TOKEN} SUCCESS 0\"; fi\n\
             echo \"{TOKEN} EXIT $(cat \"$exitf\")\"\n"
        )
    );
}

#[test]
fn the_wrapper_logs_both_streams_and_records_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let f = RunFiles::new(&run_spec(&path_text(dir.path())), TOKEN);
    std::fs::write(&f.script, "echo to-stdout\necho to-stderr >&2\nexit 3\n").unwrap();
    let (status, _) = bash(&wrapper(&f));
    assert_eq!(status, 0);
    assert_eq!(std::fs::read_to_string(&f.exit).unwrap(), "3\n");
    assert!(!Path::new(&format!("{}.tmp", f.exit)).exists());
    let log = std::fs::read_to_string(&f.log).unwrap();
    assert!(
        log.contains("to-stdout") && log.contains("to-stderr"),
        "{log}"
    );
}

#[test]
fn the_watcher_reports_markers_and_the_exit_status_after_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_spec(&path_text(dir.path()));
    let f = RunFiles::new(&run, TOKEN);
    std::fs::write(&f.log, "step one\nProcess Killed by a test\nALL DONE\n").unwrap();
    std::fs::write(&f.exit, "0\n").unwrap();
    let (status, out) = bash(&watcher(&f, TOKEN, &run));
    assert_eq!(status, 0);
    let reports: Vec<&str> = out.lines().filter(|l| l.starts_with(TOKEN)).collect();
    assert_eq!(
        reports,
        [
            format!("{TOKEN} FAILMARK 1"),
            format!("{TOKEN} SUCCESS 1"),
            format!("{TOKEN} EXIT 0"),
        ]
    );
    assert!(
        out.lines().last().unwrap().ends_with("EXIT 0"),
        "the exit comes last: {out}"
    );
}

#[test]
fn start_replaces_an_older_run_and_kill_stops_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let f = RunFiles::new(&run_spec(&path_text(dir.path())), TOKEN);
    let stale_exit = format!("{}.rpd-exit-000000000000", f.log);
    std::fs::write(&stale_exit, "1\n").unwrap();
    std::fs::write(&f.script, "echo started\nsleep 30\n").unwrap();
    std::fs::write(&f.wrapper, wrapper(&f)).unwrap();

    let (status, _) = bash(&start(&f));
    assert_eq!(status, 0);
    assert!(
        !Path::new(&stale_exit).exists(),
        "an older run's sentinel is gone"
    );
    let first: i32 = std::fs::read_to_string(&f.pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = |pid: i32| Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive(first));

    // A second start stops the wrapper the first one left running.
    bash(&start(&f));
    let second: i32 = std::fs::read_to_string(&f.pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(first, second);
    wait_until(|| !alive(first) || is_zombie(first));

    bash(&kill(&f));
    wait_until(|| !alive(second) || is_zombie(second));
    assert!(
        !Path::new(&f.exit).exists(),
        "a killed script records no exit status: the group died with it"
    );
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2) == Some("Z"))
        .unwrap_or(true)
}

fn wait_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_command_in_its_own_group_keeps_its_status_and_output_and_can_be_ended() {
    let dir = tempfile::tempdir().unwrap();
    let pid = path_text(&dir.path().join("step.pid"));
    let (status, out) = bash(&in_own_group(&pid, "echo \"it's\" out; exit 3"));
    assert_eq!((status, out.as_str()), (3, "it's out\n"));
    assert!(!Path::new(&pid).exists(), "the pid file goes when it ends");

    // A command left running (its local client killed) is ended by group.
    let started = path_text(&dir.path().join("started"));
    let mut running = Process::new("bash")
        .arg("-c")
        .arg(in_own_group(&pid, &format!("touch {started}; sleep 30")))
        .spawn()
        .unwrap();
    while !Path::new(&started).exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (_, ended) = bash(&end_step(&pid));
    assert_eq!(ended, "ended\n");
    let status = running.wait().unwrap();
    assert!(!status.success(), "the command was ended");
    assert_eq!(bash(&end_step(&pid)).1, "", "nothing left to end");
}

#[test]
fn follow_prints_the_log_then_the_recorded_status_once_the_wrapper_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    let log = path_text(&log);
    std::fs::write(&log, "one\ntwo\nthree\n").unwrap();
    // No wrapper running and no status: the job was killed.
    let (status, out) = bash(&follow(&log, 2, "@END"));
    assert_eq!((status, out.as_str()), (0, "two\nthree\n@END \n"));
    std::fs::write(format!("{log}.rpd-exit-0123456789ab"), "3\n").unwrap();
    let (_, out) = bash(&follow(&log, 1, "@END"));
    assert_eq!(out, "three\n@END 3\n");
}

/// Issue 19, item 7: a log whose last line has no newline (or that the
/// watcher's reader was cut in): the reports still start lines of their
/// own.
#[test]
fn the_watcher_reports_on_lines_of_their_own_after_a_last_line_without_newline() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_spec(&path_text(dir.path()));
    let f = RunFiles::new(&run, TOKEN);
    std::fs::write(&f.log, "step one\nALL DONE, no newline").unwrap();
    std::fs::write(&f.exit, "0\n").unwrap();
    let (status, out) = bash(&watcher(&f, TOKEN, &run));
    assert_eq!(status, 0);
    let reports: Vec<&str> = out.lines().filter(|l| l.starts_with(TOKEN)).collect();
    assert_eq!(
        reports,
        [format!("{TOKEN} SUCCESS 1"), format!("{TOKEN} EXIT 0")],
        "{out}"
    );
}
