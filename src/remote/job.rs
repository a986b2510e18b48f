//! The job, in runpod-deploy's order: setup, secrets, staging, preflight,
//! launch, monitor, pull. Over any [`Transport`], so the same config runs on
//! the simulator and on RunPod.
//!
//! Completion is decided by the script's exit status first (a wrapper
//! records it in a sentinel file), then markers: a failure marker fails at
//! once, exit 0 needs the success marker, any other exit fails at once.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::events::EventLog;
use super::shell_quote;
use super::sync::TransferStats;
use super::transport::{RemoteFile, Transport, exec, exec_with_stdin, write_files_script};
use crate::config::{Command, Config, SecretSource};
use crate::interrupt::Interrupt;
use crate::model::Outcome;
use crate::progress::Reporter;

/// Why the job failed, for the summary, the manifest and the exit code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobFailure {
    pub step: String,
    pub reason: String,
}

impl JobFailure {
    fn new(step: &str, reason: impl Into<String>) -> JobFailure {
        JobFailure {
            step: step.to_string(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    pub step: String,
    pub duration_sec: f64,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArtifactResult {
    pub label: String,
    pub remote_path: String,
    pub local_path: String,
    pub required: bool,
    pub excludes: Vec<String>,
    pub delete: bool,
    pub status: &'static str,
    pub bytes_transferred: Option<u64>,
    pub duration_sec: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one staging push sent.
#[derive(Debug, Clone, Serialize)]
pub struct PushResult {
    pub label: String,
    pub files: u64,
    pub bytes: u64,
    pub duration_sec: f64,
}

/// How long after a marker the script may go on before the marker decides
/// (`RPD_MARKER_GRACE_SECS`, 30 s by default).
fn marker_grace() -> Duration {
    let secs = std::env::var("RPD_MARKER_GRACE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

/// How the script's run ended.
enum Ended {
    Exited(i32),
    /// It printed the success marker and kept running past the grace period.
    SuccessMarker,
}

/// What the monitor has seen so far.
#[derive(Default)]
struct Watch {
    success_at: Option<Instant>,
    /// The first failure marker streamed: marker, line, when.
    failure_marker: Option<(String, String, Instant)>,
    /// A failure marker the watcher found in the whole log after the exit.
    final_failure_marker: Option<String>,
    last_line: String,
}

pub struct JobRunner<'a> {
    config: &'a Config,
    transport: Box<dyn Transport>,
    reporter: Reporter,
    pub events: EventLog,
    pub timings: Vec<StepTiming>,
    pub transferred: TransferStats,
    pub artifacts: Vec<ArtifactResult>,
    pub pushes: Vec<PushResult>,
    pub launched: bool,
    pub exit_code: Option<i32>,
    /// When the pod became usable: the start of wall time.
    pub started: Instant,
    /// Billed $/hr, for the cost cap.
    pub price_per_hr: f64,
    pub log_pulled: bool,
    token: String,
    /// Asks the provider now and then whether the pod still runs: a pod
    /// stopped or deleted outside rpd fails the job instead of waiting out
    /// the budget.
    pub probe: Option<(crate::provider::SharedProvider, String)>,
}

/// Files rpd keeps beside the log: the wrapper and the pid.
fn sidecar(log_path: &str, suffix: &str) -> String {
    format!("{log_path}.rpd-{suffix}")
}

impl<'a> JobRunner<'a> {
    pub fn new(
        config: &'a Config,
        transport: Box<dyn Transport>,
        reporter: Reporter,
        price_per_hr: f64,
    ) -> JobRunner<'a> {
        let events = EventLog::new(config.run_dir.join("events.jsonl"));
        JobRunner {
            config,
            transport,
            reporter,
            events,
            timings: Vec::new(),
            transferred: TransferStats::default(),
            artifacts: Vec::new(),
            pushes: Vec::new(),
            launched: false,
            exit_code: None,
            started: Instant::now(),
            price_per_hr,
            log_pulled: false,
            token: format!("__RPD_{}__", uuid::Uuid::new_v4().simple()),
            probe: None,
        }
    }

    /// Where this run's wrapper records the exit status: named for the run,
    /// so an older run's wrapper can never answer for this one.
    fn exit_file(&self) -> String {
        let tag = self.token.trim_matches('_').trim_start_matches("RPD_");
        format!("{}.rpd-exit-{}", self.config.job.run.log_path, &tag[..12])
    }

    pub fn transport(&self) -> &dyn Transport {
        self.transport.as_ref()
    }

    fn record(&mut self, step: &str, started: Instant, ok: bool) {
        self.timings.push(StepTiming {
            step: step.to_string(),
            duration_sec: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            ok,
        });
    }

    fn env_prefix(&self) -> String {
        let env = &self.config.job.remote_env;
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

    async fn run_commands(&mut self, step: &str, commands: &[Command]) -> Result<(), JobFailure> {
        if commands.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let prefix = self.env_prefix();
        for (i, c) in commands.iter().enumerate() {
            let script = if c.with_env && !prefix.is_empty() {
                format!("{prefix}; {}", c.command)
            } else {
                c.command.clone()
            };
            let label = format!("{step}[{i}]");
            let waiter = self
                .reporter
                .wait(&format!("Running {label}: {}", first_line(&c.command)));
            let result = exec(
                self.transport.as_ref(),
                &script,
                Duration::from_secs(u64::from(c.timeout_sec)),
            )
            .await;
            let failure = match result {
                Ok(out) if out.success() => None,
                Ok(out) => Some(format!(
                    "{label} exited with status {}:\n{}",
                    out.status.map_or("signal".into(), |s| s.to_string()),
                    indent(&out.tail(15))
                )),
                Err(err) => Some(format!("{label}: {err}")),
            };
            if let Some(reason) = failure {
                waiter.abandon();
                self.record(step, started, false);
                return Err(JobFailure::new(step, reason));
            }
            waiter.done(&format!("{label} done"), "");
        }
        self.record(step, started, true);
        Ok(())
    }

    pub async fn setup(&mut self) -> Result<(), JobFailure> {
        let commands = self.config.job.setup.clone();
        self.run_commands("setup", &commands).await
    }

    pub async fn preflight(&mut self) -> Result<(), JobFailure> {
        let mut commands = Vec::new();
        if let Some(version) = &self.config.python_version {
            let dir = self
                .config
                .job
                .staging
                .first()
                .map(|s| shell_quote(&s.destination))
                .unwrap_or_else(|| "$HOME".into());
            commands.push(Command {
                command: format!(
                    "uv python install {version} && cd {dir} && uv python pin {version} && echo \"[rpd] pinned Python {version} at $(pwd)\""
                ),
                timeout_sec: 300,
                with_env: true,
            });
        }
        commands.extend(self.config.job.preflight.iter().cloned());
        self.run_commands("preflight", &commands).await
    }

    /// Writes every secret in one session, each created private and given
    /// its mode before it is moved into place; values never reach a log.
    pub async fn secrets(&mut self) -> Result<(), JobFailure> {
        let secrets = &self.config.job.secrets;
        if secrets.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut contents: Vec<Vec<u8>> = Vec::new();
        for secret in secrets {
            contents.push(match &secret.source {
                SecretSource::Env(names) => {
                    let mut text = String::new();
                    for name in names {
                        let value = std::env::var(name).map_err(|_| {
                            JobFailure::new(
                                "secrets",
                                format!(
                                    "secret {:?}: environment variable {name} is not set here; export it before rpd apply",
                                    secret.name
                                ),
                            )
                        })?;
                        text.push_str(&format!("{name}={value}\n"));
                    }
                    text.into_bytes()
                }
                SecretSource::File(path) => std::fs::read(path).map_err(|e| {
                    JobFailure::new(
                        "secrets",
                        format!("secret {:?}: cannot read {}: {e}", secret.name, path.display()),
                    )
                })?,
            });
        }
        let files: Vec<RemoteFile> = secrets
            .iter()
            .zip(&contents)
            .map(|(secret, bytes)| RemoteFile {
                path: &secret.destination,
                contents: bytes,
                mode: secret.mode,
            })
            .collect();
        let script = write_files_script(self.transport.as_ref(), &files, "true");
        let result = exec_with_stdin(
            self.transport.as_ref(),
            "bash -s",
            Some(script.as_bytes()),
            Duration::from_secs(120),
        )
        .await;
        match result {
            Ok(out) if out.success() => {}
            Ok(out) => {
                self.record("secrets", started, false);
                return Err(JobFailure::new(
                    "secrets",
                    format!("writing the secret files failed:\n{}", indent(&out.tail(5))),
                ));
            }
            Err(err) => {
                self.record("secrets", started, false);
                return Err(JobFailure::new("secrets", err.to_string()));
            }
        }
        for secret in secrets {
            self.reporter.line(format!(
                "Secret {:?} written to {} (mode {:04o})",
                secret.name, secret.destination, secret.mode
            ));
        }
        self.record("secrets", started, true);
        Ok(())
    }

    pub async fn staging(&mut self) -> Result<(), JobFailure> {
        let started = Instant::now();
        for push in &self.config.job.staging {
            let waiter = self.reporter.wait(&format!(
                "Staging {:?}: {} -> {}",
                push.label, push.source, push.destination
            ));
            let result = self
                .transport
                .push(&push.source, &push.destination, &push.excludes, push.delete)
                .await;
            match result {
                Ok(stats) => {
                    self.transferred += stats;
                    let took = waiter.done(
                        &format!("Staged {:?}", push.label),
                        &format!(" [{} files, {} bytes]", stats.files, stats.bytes),
                    );
                    self.pushes.push(PushResult {
                        label: push.label.clone(),
                        files: stats.files,
                        bytes: stats.bytes,
                        duration_sec: (took.as_secs_f64() * 1000.0).round() / 1000.0,
                    });
                }
                Err(err) => {
                    waiter.abandon();
                    self.record("staging", started, false);
                    return Err(JobFailure::new(
                        "staging",
                        format!("staging {:?}: {err}", push.label),
                    ));
                }
            }
        }
        if !self.config.job.staging.is_empty() {
            self.record("staging", started, true);
        }
        Ok(())
    }

    /// Writes the script and its wrapper as files (no heredoc to break) and
    /// starts the wrapper detached, in one session. The wrapper records the
    /// script's exit status in a sentinel file beside the log.
    pub async fn launch(&mut self) -> Result<(), JobFailure> {
        let started = Instant::now();
        let run = &self.config.job.run;
        let transport = self.transport.as_ref();
        let body = transport.localize(&run.body);
        let log = shell_quote(&run.log_path);
        let exit = shell_quote(&self.exit_file());
        let pid = shell_quote(&sidecar(&run.log_path, "pid"));
        let wrapper_path = sidecar(&run.log_path, "wrapper");
        let wrapper = transport.localize(&format!(
            "#!/usr/bin/env bash\n# Written by rpd: runs the job script and records its exit status.\nbash {script} > {log} 2>&1 < /dev/null\necho $? > {exit}.tmp && mv {exit}.tmp {exit}\n",
            script = shell_quote(&run.script_path),
        ));
        // A job left running by an interrupted apply is stopped first (if
        // its pid is still our wrapper), so it cannot write into this run.
        let start = transport.localize(&format!(
            "mkdir -p \"$(dirname {log})\"\n\
             p=$(cat {pid} 2>/dev/null || true)\n\
             if [ -n \"$p\" ] && grep -q rpd-wrapper /proc/$p/cmdline 2>/dev/null; then kill -TERM -- -$p 2>/dev/null || kill -TERM $p 2>/dev/null || true; sleep 0.2; fi\n\
             rm -f {log} {pid} {log}.rpd-exit-*\n\
             set -m\nnohup bash {wrapper} > /dev/null 2>&1 < /dev/null &\necho $! > {pid}",
            wrapper = shell_quote(&wrapper_path),
        ));
        let files = [
            RemoteFile {
                path: &run.script_path,
                contents: body.as_bytes(),
                mode: 0o755,
            },
            RemoteFile {
                path: &wrapper_path,
                contents: wrapper.as_bytes(),
                mode: 0o755,
            },
        ];
        let script = write_files_script(transport, &files, &start);
        let out = exec_with_stdin(
            transport,
            "bash -s",
            Some(script.as_bytes()),
            Duration::from_secs(60),
        )
        .await
        .map_err(|e| JobFailure::new("launch", e.to_string()))?;
        if !out.success() {
            self.record("launch", started, false);
            return Err(JobFailure::new(
                "launch",
                format!("could not start the script:\n{}", indent(&out.tail(10))),
            ));
        }
        self.launched = true;
        self.events
            .emit("remote_step_started", serde_json::json!({"step": "run"}));
        self.record("launch", started, true);
        self.reporter.line(format!("Launched {}", run.script_path));
        Ok(())
    }

    /// The shell loop that streams the log and, once the wrapper has
    /// recorded the exit status, prints `<token> EXIT <status>`.
    fn watcher(&self) -> String {
        let run = &self.config.job.run;
        let token = &self.token;
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
             kill $t 2>/dev/null; wait $t 2>/dev/null\n\
             {finals}\
             if grep -F -q -- {success} \"$log\"; then echo \"{token} SUCCESS 1\"; else echo \"{token} SUCCESS 0\"; fi\n\
             echo \"{token} EXIT $(cat \"$exitf\")\"\n",
            log = shell_quote(&run.log_path),
            exit = shell_quote(&self.exit_file()),
            success = shell_quote(&run.success_marker),
        )
    }

    async fn kill_job(&self) {
        let pid = shell_quote(&sidecar(&self.config.job.run.log_path, "pid"));
        let script = format!(
            "p=$(cat {pid} 2>/dev/null) && [ -n \"$p\" ] && {{ kill -TERM -- -$p 2>/dev/null || kill -TERM $p 2>/dev/null; sleep 1; kill -KILL -- -$p 2>/dev/null; }}; true"
        );
        let _ = exec(self.transport.as_ref(), &script, Duration::from_secs(20)).await;
    }

    /// Follows the job until it exits, prints a failure marker, runs out of
    /// time or money, or the user interrupts.
    pub async fn monitor(&mut self, interrupt: &Interrupt) -> Result<(), JobFailure> {
        let started = Instant::now();
        let timeout = Duration::from_secs(self.config.budget.timeout_sec);
        let cap = self.config.budget.cost_cap_usd;
        let mut waiter = self.reporter.wait("Running the job");
        let mut watch = Watch::default();
        let mut restarts = 0;
        let grace = marker_grace();
        let probe_every = self
            .probe
            .as_ref()
            .map(|(p, _)| (p.poll_interval() * 6).max(Duration::from_millis(500)));
        let mut last_probe = Instant::now();
        let verdict: Result<Ended, JobFailure> = 'outer: loop {
            let mut command = self.transport.command(&self.watcher());
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true);
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) => {
                    break Err(self.pod_gone().await.unwrap_or_else(|| {
                        JobFailure::new("monitor", format!("cannot follow the log: {e}"))
                    }));
                }
            };
            let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
            let mut heartbeat = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    line = lines.next_line() => match line {
                        Ok(Some(line)) => {
                            if let Some(verdict) = self.watch_line(&line, &mut watch) {
                                break 'outer verdict;
                            }
                        }
                        Ok(None) | Err(_) => {
                            // The watcher's connection dropped: follow again,
                            // unless the pod itself is gone.
                            if let Some(failure) = self.pod_gone().await {
                                break 'outer Err(failure);
                            }
                            restarts += 1;
                            if restarts > 5 {
                                break 'outer Err(JobFailure::new("monitor", "lost contact with the pod while following the log"));
                            }
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue 'outer;
                        }
                    },
                    _ = heartbeat.tick() => {
                        let spent = self.price_per_hr * self.started.elapsed().as_secs_f64() / 3600.0;
                        let last = if watch.last_line.is_empty() {
                            String::new()
                        } else {
                            format!(" | {}", truncate(&watch.last_line, 60))
                        };
                        waiter.tick(&format!("{} so far{last}", crate::cost::usd(spent)));
                        if probe_every.is_some_and(|every| last_probe.elapsed() >= every) {
                            last_probe = Instant::now();
                            if let Some(failure) = self.pod_gone().await {
                                break 'outer Err(failure);
                            }
                        }
                        if let Some((marker, line, at)) = &watch.failure_marker
                            && at.elapsed() >= grace
                        {
                            break 'outer Err(JobFailure::new("monitor", format!(
                                "the log has the failure marker {marker:?} in the line: {} (and the script did not exit within {})",
                                line.trim(), crate::render::duration(grace.as_secs())
                            )));
                        }
                        if let Some(at) = watch.success_at
                            && at.elapsed() >= grace
                        {
                            break 'outer Ok(Ended::SuccessMarker);
                        }
                        if started.elapsed() >= timeout {
                            break 'outer Err(JobFailure::new("monitor", format!(
                                "the job exceeded its time budget of {} (budget.timeout from max_runtime_minutes or cost_cap_usd)",
                                crate::render::duration(timeout.as_secs())
                            )));
                        }
                        if spent >= cap {
                            break 'outer Err(JobFailure::new("monitor", format!(
                                "the job reached the cost cap of {} (budget.cost_cap_usd)", crate::cost::usd(cap)
                            )));
                        }
                    }
                    _ = interrupt.wait() => {
                        break 'outer Err(JobFailure::new("monitor", "interrupted"));
                    }
                }
            }
        };
        let result = match verdict {
            Ok(Ended::Exited(code)) => {
                self.exit_code = Some(code);
                self.judge_exit(code, &watch)
            }
            Ok(Ended::SuccessMarker) => {
                self.reporter.line(format!(
                    "The script printed the success marker {} ago and is still running: counted as a success (runpod-deploy's rule); it runs on until the lifecycle action",
                    crate::render::duration(grace.as_secs())
                ));
                Ok(())
            }
            Err(failure) => {
                self.kill_job().await;
                Err(failure)
            }
        };
        let took = crate::render::elapsed(waiter.elapsed());
        match &result {
            Ok(()) => {
                waiter.done("Job succeeded", "");
            }
            Err(f) => {
                waiter.abandon();
                self.reporter.line(format!(
                    "Job failed after {took}: {}",
                    first_line(&f.reason)
                ));
            }
        }
        self.events.emit(
            "remote_step_completed",
            serde_json::json!({"step": "run", "exit_code": self.exit_code, "ok": result.is_ok()}),
        );
        self.record("monitor", started, result.is_ok());
        result
    }

    /// A failure when the provider says the pod stopped or vanished.
    async fn pod_gone(&self) -> Option<JobFailure> {
        let (provider, pod_id) = self.probe.as_ref()?;
        let status = match provider.get(pod_id).await {
            Ok(None) => "deleted".to_string(),
            Ok(Some(pod)) if !pod.status.is_active() => pod.status.to_string(),
            _ => return None,
        };
        self.events.emit(
            "pod_killed_unexpected",
            serde_json::json!({"pod_id": pod_id, "status": status}),
        );
        Some(JobFailure::new(
            "monitor",
            format!("pod {pod_id} is {status} while the job ran (stopped or deleted outside rpd?)"),
        ))
    }

    /// Reads one line from the watcher: the log, or the watcher's own
    /// report (`<token> FAILMARK i`, `<token> SUCCESS 0|1`, `<token> EXIT n`).
    fn watch_line(&mut self, line: &str, watch: &mut Watch) -> Option<Result<Ended, JobFailure>> {
        let run = &self.config.job.run;
        if let Some(report) = line.strip_prefix(self.token.as_str()) {
            let mut words = report.split_whitespace();
            match (words.next(), words.next()) {
                (Some("FAILMARK"), Some(i)) => {
                    if let Some(marker) = i
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| run.failure_markers.get(i))
                    {
                        watch
                            .final_failure_marker
                            .get_or_insert_with(|| marker.clone());
                    }
                }
                (Some("SUCCESS"), Some("1")) => {
                    watch.success_at.get_or_insert_with(Instant::now);
                }
                (Some("EXIT"), code) => {
                    return Some(Ok(Ended::Exited(
                        code.and_then(|c| c.parse().ok()).unwrap_or(-1),
                    )));
                }
                _ => {}
            }
            return None;
        }
        if line.contains(run.success_marker.as_str()) && watch.success_at.is_none() {
            self.reporter
                .line("Success marker seen; waiting for the script to exit");
            watch.success_at = Some(Instant::now());
        }
        // A failure marker is a strong hint, not a verdict: the exit status
        // decides (harmless lines say "Killed" or "Traceback" too), unless the
        // script does not exit soon after it.
        if watch.failure_marker.is_none()
            && let Some(marker) = run
                .failure_markers
                .iter()
                .find(|m| line.contains(m.as_str()))
        {
            self.reporter.line(format!(
                "Failure marker {marker:?} seen: {}; the job fails unless the script exits 0 with the success marker within {}",
                truncate(line.trim(), 80),
                crate::render::duration(marker_grace().as_secs())
            ));
            watch.failure_marker = Some((marker.clone(), line.to_string(), Instant::now()));
        }
        for (prefix, event) in [
            ("__RUNPOD_STEP_START__", "remote_step_started"),
            ("__RUNPOD_STEP_DONE__", "remote_step_completed"),
        ] {
            if let Some(rest) = line.trim().strip_prefix(prefix) {
                self.events.emit(
                    event,
                    serde_json::json!({"step": rest.trim_end_matches("__")}),
                );
            }
        }
        if !line.trim().is_empty() {
            watch.last_line = line.to_string();
        }
        None
    }

    /// Exit status first, then markers: a non-zero exit fails; exit 0 needs
    /// the success marker; exit 0 with both markers succeeds, and says so.
    fn judge_exit(&self, code: i32, watch: &Watch) -> Result<(), JobFailure> {
        let run = &self.config.job.run;
        let marker = watch
            .failure_marker
            .as_ref()
            .map(|(m, line, _)| format!("{m:?} (line: {})", truncate(line.trim(), 80)))
            .or_else(|| {
                watch
                    .final_failure_marker
                    .as_ref()
                    .map(|m| format!("{m:?}"))
            });
        let with_marker = marker
            .as_ref()
            .map(|m| format!("; the log has the failure marker {m}"))
            .unwrap_or_default();
        if code != 0 {
            let after = if watch.success_at.is_some() {
                " (after printing the success marker)"
            } else {
                ""
            };
            return Err(JobFailure::new(
                "monitor",
                format!("the script exited with status {code}{after}{with_marker}"),
            ));
        }
        if watch.success_at.is_none() {
            return Err(JobFailure::new(
                "monitor",
                format!(
                    "the script exited 0 without printing the success marker {:?}{with_marker}",
                    run.success_marker
                ),
            ));
        }
        if let Some(marker) = marker {
            let note = format!(
                "the log also has the failure marker {marker}, but the script exited 0 after the success marker: counted as a success"
            );
            self.reporter.line(format!("Note: {note}"));
            self.events
                .emit("ambiguous_markers", serde_json::json!({"note": note}));
        }
        Ok(())
    }

    /// Pulls the log and the artifacts. After a failure everything is best
    /// effort; on the success path a missing required artifact fails the job.
    pub async fn pull(&mut self, outcome: Outcome) -> Result<(), JobFailure> {
        let started = Instant::now();
        let run_dir = self.config.run_dir.clone();
        let _ = std::fs::create_dir_all(&run_dir);
        if self.launched {
            match self
                .transport
                .pull(
                    &self.config.job.run.log_path,
                    &run_dir.join("run.log"),
                    &[],
                    false,
                )
                .await
            {
                Ok(stats) => {
                    self.transferred += stats;
                    self.log_pulled = true;
                }
                Err(err) => {
                    self.reporter
                        .line(format!("Warning: could not pull the log: {err}"));
                    self.events.emit(
                        "remote_log_pull_failed",
                        serde_json::json!({"error": err.to_string()}),
                    );
                }
            }
        }
        let mut failure = None;
        for artifact in &self.config.job.artifacts {
            let t = Instant::now();
            self.events.emit(
                "artifact_pull_started",
                serde_json::json!({"label": artifact.label}),
            );
            let local = artifact.local_path.clone();
            if let Some(parent) = local.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let result = self
                .transport
                .pull(
                    &artifact.remote_path,
                    &local,
                    &artifact.excludes,
                    artifact.delete,
                )
                .await;
            let (status, bytes, error) = match result {
                Ok(stats) => {
                    self.transferred += stats;
                    self.events.emit(
                        "artifact_pull_completed",
                        serde_json::json!({"label": artifact.label, "bytes": stats.bytes}),
                    );
                    ("success", Some(stats.bytes), None)
                }
                Err(err) => {
                    self.events.emit(
                        "artifact_pull_failed",
                        serde_json::json!({"label": artifact.label, "error": err.to_string()}),
                    );
                    if artifact.required && outcome == Outcome::Success && failure.is_none() {
                        failure = Some(JobFailure::new(
                            "pull",
                            format!(
                                "required artifact {:?} could not be pulled: {err}",
                                artifact.label
                            ),
                        ));
                    } else {
                        self.reporter.line(format!(
                            "Warning: artifact {:?} not pulled: {err}",
                            artifact.label
                        ));
                    }
                    ("failed", None, Some(err.to_string()))
                }
            };
            self.artifacts.push(ArtifactResult {
                label: artifact.label.clone(),
                remote_path: artifact.remote_path.clone(),
                local_path: local.display().to_string(),
                required: artifact.required,
                excludes: artifact.excludes.clone(),
                delete: artifact.delete,
                status,
                bytes_transferred: bytes,
                duration_sec: (t.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
                error,
            });
        }
        self.record("pull", started, failure.is_none());
        if self.log_pulled {
            self.reporter
                .line(format!("Pulled the log into {}", run_dir.display()));
        }
        for artifact in self.artifacts.iter().filter(|a| a.status == "success") {
            self.reporter.line(format!(
                "Pulled artifact {:?} into {} [{} bytes]",
                artifact.label,
                artifact.local_path,
                artifact.bytes_transferred.unwrap_or(0)
            ));
        }
        match failure {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    pub async fn close(&self) {
        self.transport.close().await;
    }

    pub fn run_dir(&self) -> PathBuf {
        self.config.run_dir.clone()
    }
}

fn first_line(text: &str) -> String {
    truncate(text.lines().next().unwrap_or(""), 80)
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
