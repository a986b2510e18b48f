//! The effects: runs the job's processes over the transport, reports each
//! step as a [`JobEvent`] and keeps what happened for the [`JobReport`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::events::{JobEvent, SharedSink};
use super::guard::{self, DeadlineReason, GuardLaunch, GuardSettings, Heartbeat};
use super::script::{self, RunFiles};
use super::telemetry;
use super::{
    Budget, JobFailure, JobReport, Phase, PodProbe, PushResult, StepTiming, indent, millis,
};
use crate::config::{Command, Config, SecretSource};
use crate::interrupt::Interrupt;
use crate::remote::sync::TransferStats;
use crate::remote::transport::{RemoteFile, Transport, exec, exec_with_stdin, write_files_script};

pub struct JobRunner<'a> {
    pub(super) config: &'a Config,
    pub(super) transport: Arc<dyn Transport>,
    pub(super) events: SharedSink,
    pub(super) budget: Budget,
    pub(super) probe: Option<Box<dyn PodProbe>>,
    /// The on-pod guard to start with the script, when there is one.
    pub(super) guard: Option<GuardSettings>,
    /// Renews the guard's heartbeat while this rpd is attached.
    pub(super) heartbeat: Option<Heartbeat>,
    /// A guard of this run watches the pod (started before setup, with the
    /// script, or again on a pod resumed to collect the job).
    pub(super) guard_on: bool,
    /// The deadline the guard enforces, from the launch, and why.
    pub(super) deadline: Option<Duration>,
    deadline_reason: Option<DeadlineReason>,
    /// Starts the watcher's own report lines, so no log line can pass for one.
    pub(super) token: String,
    pub(super) files: RunFiles,
    /// When the pod became usable: the start of wall time.
    pub(super) started: Instant,
    /// Whether any phase started (a run interrupted before has no manifest).
    ran: bool,
    /// A job launched by an earlier run (an attach): what that run spent
    /// before the script started, so that this run's wall time is the
    /// run's, not only this rpd's.
    pub(super) earlier: Option<Duration>,
    /// An attached job's wall time once it ended: the earlier run's time
    /// before the script, then the script's run time on the pod's clock;
    /// counted on from `.1`.
    pub(super) attached_wall: Option<(Duration, Instant)>,
    /// The pod was found stopped before the job's results were read: they
    /// are on its volume, and the executor resumes it to collect them.
    pub(super) pod_stopped: bool,
    /// What happened so far; wall time and handshakes are filled in by
    /// [`JobRunner::report`].
    pub(super) report: JobReport,
}

impl<'a> JobRunner<'a> {
    /// A runner for `config`'s job on a pod reached through `transport`,
    /// which became usable now.
    pub fn new(
        config: &'a Config,
        transport: Box<dyn Transport>,
        events: SharedSink,
        budget: Budget,
    ) -> JobRunner<'a> {
        let token = format!("__RPD_{}__", uuid::Uuid::new_v4().simple());
        JobRunner {
            config,
            transport: Arc::from(transport),
            events,
            budget,
            probe: None,
            guard: None,
            heartbeat: None,
            guard_on: false,
            deadline: None,
            deadline_reason: None,
            files: RunFiles::new(&config.job.run, &token),
            token,
            started: Instant::now(),
            ran: false,
            earlier: None,
            attached_wall: None,
            pod_stopped: false,
            report: JobReport {
                timings: Vec::new(),
                transferred: TransferStats::default(),
                artifacts: Vec::new(),
                pushes: Vec::new(),
                launched: false,
                exit_code: None,
                wall: Duration::ZERO,
                handshakes: 0,
                log_pulled: false,
                failure: None,
                interrupted: false,
                results_unsaved: None,
                run_dir: config.run_dir.clone(),
            },
        }
    }

    /// Asks `probe` now and then, while the script runs, whether the pod
    /// still runs.
    pub fn with_probe(mut self, probe: Box<dyn PodProbe>) -> JobRunner<'a> {
        self.probe = Some(probe);
        self
    }

    /// Starts the on-pod guard with the script: it enforces the budget and
    /// stops the pod when no rpd is attached after the job ends.
    pub fn with_guard(mut self, guard: GuardSettings) -> JobRunner<'a> {
        self.guard = Some(guard);
        self
    }

    /// Renews the guard's heartbeat from now on (while this runner lives);
    /// `beaten` when the first beat was just written (by the launch).
    pub(super) fn attach_to_guard(&mut self, beaten: bool) {
        if let Some(guard) = &self.guard
            && self.heartbeat.is_none()
        {
            self.heartbeat = Some(Heartbeat::start(
                self.transport.clone(),
                &self.files,
                guard::heartbeat_every(guard.grace),
                beaten,
            ));
        }
    }

    /// Leaves the job to the on-pod guard (`--detach`, or an interrupted
    /// attach): the heartbeat stops and its file goes, so that the guard
    /// acts at the deadline without waiting for an rpd that is not there.
    pub async fn leave_to_guard(&mut self) {
        let leave = guard::leave(&self.files);
        self.last_word_to_guard(&leave).await;
    }

    /// Tells the on-pod guard that rpd has taken over the pod for good (it
    /// keeps running by the lifecycle's choice): the guard ends without
    /// stopping it. Best effort: a guard that is not told stops the pod
    /// after its grace period.
    pub async fn dismiss_guard(&mut self) {
        let dismiss = guard::dismiss(&self.files);
        self.last_word_to_guard(&dismiss).await;
    }

    /// Ends the launched job on the pod (its process group: TERM, then
    /// KILL) and fails the run with `why`, so that nothing after it runs.
    pub async fn end_launched(&mut self, why: &str) {
        if self.report.launched {
            let kill = script::kill(&self.files);
            let _ = exec(self.transport.as_ref(), &kill, Duration::from_secs(20)).await;
        }
        self.fail(JobFailure::new(Phase::Launch, why));
    }

    /// Stops the heartbeat and runs `script` for this run's guard (best
    /// effort: a guard not told acts on its own rules).
    async fn last_word_to_guard(&mut self, script: &str) {
        if self.guard.is_none() || !self.guard_on {
            return;
        }
        self.heartbeat = None;
        let _ = exec(self.transport.as_ref(), script, Duration::from_secs(20)).await;
    }

    /// What starts the guard before the job, for the first session this
    /// run opens on the pod (see [`guard::early`]); empty once it has
    /// started, when there is no guard, or once the script was launched.
    /// The heartbeat starts with it.
    fn take_early_guard(&mut self) -> String {
        let Some(settings) = &self.guard else {
            return String::new();
        };
        if self.guard_on || self.report.launched {
            return String::new();
        }
        let script = guard::early(&self.files, settings);
        self.guard_on = true;
        self.attach_to_guard(true);
        script
    }

    /// Starts the guard before the job in a session of its own, when no
    /// command of setup or secrets has (staging copies files: no shell).
    async fn start_early_guard(&mut self) {
        let script = self.take_early_guard();
        if !script.is_empty() {
            let _ = exec(self.transport.as_ref(), &script, Duration::from_secs(30)).await;
        }
    }

    /// Runs one phase. After a failure the remaining phases are skipped,
    /// except the pull, which runs on every path (the log and artifacts
    /// come back after a failure or an interrupt too). An interrupt fails
    /// the phase: the monitor stops the script itself; any other phase is
    /// abandoned at once (its processes are killed when dropped).
    pub async fn run_phase(&mut self, phase: Phase, interrupt: &Interrupt) {
        if phase != Phase::Pull {
            if self.report.failure.is_some() {
                return;
            }
            // The monitor sees the interrupt itself, and stops the script.
            if interrupt.is_set() && phase != Phase::Monitor {
                self.report.failure = Some(JobFailure::new(phase, "interrupted"));
                return;
            }
            self.ran = true;
        }
        let result = match phase {
            Phase::Setup => abandon_on(interrupt, phase, self.setup()).await,
            Phase::Secrets => abandon_on(interrupt, phase, self.secrets()).await,
            Phase::Staging => abandon_on(interrupt, phase, self.staging()).await,
            Phase::Preflight => abandon_on(interrupt, phase, self.preflight()).await,
            Phase::Launch => abandon_on(interrupt, phase, self.launch()).await,
            Phase::Monitor => self.monitor(interrupt).await,
            Phase::Pull => self.pull().await,
        };
        if let Err(failure) = result {
            // A setup or preflight command that was abandoned (interrupt,
            // timeout) still runs on the pod: end it there too.
            if matches!(phase, Phase::Setup | Phase::Preflight) {
                self.end_step(phase).await;
            }
            self.fail(failure);
        }
    }

    /// Ends the process group of the setup or preflight command that was
    /// running, if one still is.
    async fn end_step(&mut self, phase: Phase) {
        let ended = exec(
            self.transport.as_ref(),
            &script::end_step(&self.files.step_pid),
            Duration::from_secs(20),
        )
        .await;
        if ended.is_ok_and(|out| out.stdout.contains("ended")) {
            self.events.emit(&JobEvent::CommandEnded { phase });
        }
    }

    fn fail(&mut self, failure: JobFailure) {
        self.events.emit(&JobEvent::PhaseFailed {
            phase: failure.phase,
            reason: failure.reason.clone(),
        });
        self.report.failure = Some(failure);
    }

    /// Why the job failed, once it has.
    pub fn failure(&self) -> Option<&JobFailure> {
        self.report.failure.as_ref()
    }

    /// Whether any phase started.
    pub fn ran(&self) -> bool {
        self.ran
    }

    /// Whether the pod was found stopped before the job's results were
    /// read (see [`JobRunner::reach_again`]).
    pub fn pod_stopped(&self) -> bool {
        self.pod_stopped
    }

    /// The tag that names this run's files on the pod.
    pub fn tag(&self) -> &str {
        &self.files.tag
    }

    /// How long after its launch the on-pod guard ends the job.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// Why the guard's deadline is what it is.
    pub fn deadline_reason(&self) -> Option<DeadlineReason> {
        self.deadline_reason
    }

    /// The job is one launched before this runner (an attach): it counts
    /// as launched and as run.
    pub(super) fn adopt_launched(&mut self, files: RunFiles, token: String) {
        self.files = files;
        self.token = token;
        self.report.launched = true;
        self.ran = true;
        self.earlier.get_or_insert(Duration::ZERO);
    }

    /// Whether the job was ended because rpd was interrupted.
    pub fn interrupted(&self) -> bool {
        self.report.interrupted
    }

    /// Whether the script was started.
    pub fn launched(&self) -> bool {
        self.report.launched
    }

    /// Why the log or a required artifact could not be saved locally: the
    /// results are then only on the pod.
    pub fn results_unsaved(&self) -> Option<String> {
        self.report.results_unsaved.clone()
    }

    /// Time since the pod became usable; for an attached job, the run's
    /// (see [`JobRunner::carry_launch`]).
    pub fn wall(&self) -> Duration {
        match self.attached_wall {
            Some((wall, since)) => wall + since.elapsed(),
            None => self.started.elapsed(),
        }
    }

    /// The job is one an earlier run launched: its steps before the script
    /// started (setup, staging, launch) are this run's first, and what they
    /// took counts in its wall time.
    pub fn carry_launch(&mut self, timings: Vec<StepTiming>, before_launch: Duration) {
        let mine = std::mem::take(&mut self.report.timings);
        self.report.timings = timings;
        self.report.timings.extend(mine);
        self.earlier = Some(before_launch);
    }

    /// What the job did so far.
    pub fn report(&self) -> JobReport {
        JobReport {
            wall: self.wall(),
            handshakes: self.transport.handshakes(),
            ..self.report.clone()
        }
    }

    pub fn run_dir(&self) -> PathBuf {
        self.config.run_dir.clone()
    }

    pub async fn close(&mut self) {
        self.heartbeat = None;
        self.transport.close().await;
    }

    pub(super) fn record(&mut self, phase: Phase, started: Instant, ok: bool) {
        self.report
            .timings
            .push(StepTiming::new(phase.as_str(), started.elapsed(), ok));
    }

    async fn run_commands(&mut self, phase: Phase, commands: &[Command]) -> Result<(), JobFailure> {
        if commands.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let prefix = script::env_prefix(&self.config.job.remote_env);
        for (i, c) in commands.iter().enumerate() {
            let label = format!("{phase}[{i}]");
            self.events.emit(&JobEvent::CommandStarted {
                phase,
                label: label.clone(),
                command: c.command.clone(),
            });
            let grouped = format!(
                "{}{}",
                self.take_early_guard(),
                script::in_own_group(&self.files.step_pid, &script::command_script(&prefix, c))
            );
            let result = exec(
                self.transport.as_ref(),
                &grouped,
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
                self.events.emit(&JobEvent::CommandFailed { phase, label });
                self.record(phase, started, false);
                return Err(JobFailure::new(phase, reason));
            }
            self.events
                .emit(&JobEvent::CommandSucceeded { phase, label });
        }
        self.record(phase, started, true);
        Ok(())
    }

    async fn setup(&mut self) -> Result<(), JobFailure> {
        let commands = self.config.job.setup.clone();
        self.run_commands(Phase::Setup, &commands).await
    }

    async fn preflight(&mut self) -> Result<(), JobFailure> {
        let mut commands = Vec::new();
        if let Some(version) = &self.config.python_version {
            let destination = self
                .config
                .job
                .staging
                .first()
                .map(|s| s.destination.as_str());
            commands.push(script::python_pin(version, destination));
        }
        commands.extend(self.config.job.preflight.iter().cloned());
        self.run_commands(Phase::Preflight, &commands).await
    }

    /// Writes every secret in one session, each created private and given
    /// its mode before it is moved into place; values never reach a log.
    async fn secrets(&mut self) -> Result<(), JobFailure> {
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
                                Phase::Secrets,
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
                        Phase::Secrets,
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
        let early = self.take_early_guard();
        let early = self.transport.localize(&early);
        let script = format!(
            "{early}{}",
            write_files_script(self.transport.as_ref(), &files, "true")
        );
        let result = exec_with_stdin(
            self.transport.as_ref(),
            "bash -s",
            Some(script.as_bytes()),
            Duration::from_secs(120),
        )
        .await;
        let failure = match result {
            Ok(out) if out.success() => None,
            Ok(out) => Some(format!(
                "writing the secret files failed:\n{}",
                indent(&out.tail(5))
            )),
            Err(err) => Some(err.to_string()),
        };
        if let Some(reason) = failure {
            self.record(Phase::Secrets, started, false);
            return Err(JobFailure::new(Phase::Secrets, reason));
        }
        for secret in secrets {
            self.events.emit(&JobEvent::SecretWritten {
                name: secret.name.clone(),
                destination: secret.destination.clone(),
                mode: secret.mode,
            });
        }
        self.record(Phase::Secrets, started, true);
        Ok(())
    }

    async fn staging(&mut self) -> Result<(), JobFailure> {
        if !self.config.job.staging.is_empty() {
            self.start_early_guard().await;
        }
        let started = Instant::now();
        for push in &self.config.job.staging {
            self.events.emit(&JobEvent::StagingStarted {
                label: push.label.clone(),
                source: push.source.clone(),
                destination: push.destination.clone(),
            });
            let pushing = Instant::now();
            let result = self
                .transport
                .push(&push.source, &push.destination, &push.excludes, push.delete)
                .await;
            match result {
                Ok(stats) => {
                    self.report.transferred += stats;
                    self.events.emit(&JobEvent::Staged {
                        label: push.label.clone(),
                        files: stats.files,
                        bytes: stats.bytes,
                    });
                    self.report.pushes.push(PushResult {
                        label: push.label.clone(),
                        files: stats.files,
                        bytes: stats.bytes,
                        duration_sec: millis(pushing.elapsed()),
                    });
                }
                Err(err) => {
                    self.events.emit(&JobEvent::StagingFailed {
                        label: push.label.clone(),
                    });
                    self.record(Phase::Staging, started, false);
                    return Err(JobFailure::new(
                        Phase::Staging,
                        format!("staging {:?}: {err}", push.label),
                    ));
                }
            }
        }
        if !self.config.job.staging.is_empty() {
            self.record(Phase::Staging, started, true);
        }
        Ok(())
    }

    /// Writes the script and its wrapper as files (no heredoc to break) and
    /// starts the wrapper detached, in one session. The wrapper records the
    /// script's exit status in a sentinel file beside the log.
    async fn launch(&mut self) -> Result<(), JobFailure> {
        let started = Instant::now();
        let transport = self.transport.as_ref();
        let guard = self.guard.as_ref().map(|settings| {
            let (deadline, reason) = self.budget.deadline(self.started, Instant::now());
            GuardLaunch {
                settings: settings.clone(),
                deadline,
                reason,
            }
        });
        let sampler = self.sampler();
        let body = transport.localize(&self.config.job.run.body);
        let mut companions = Vec::new();
        let mut start = String::new();
        if let Some(launch) = &guard {
            companions.push(guard::companion(&self.files, launch));
            start.push_str(&guard::before_start(&self.files, &launch.settings.stop));
        }
        if let Some(launch) = &sampler {
            companions.push(telemetry::companion(&self.files, launch));
        }
        start.push_str(&telemetry::before_start(&self.files));
        start.push_str(&script::start(&self.files));
        let wrapper = script::wrapper_with(&self.files, &companions);
        let (wrapper, start) = (transport.localize(&wrapper), transport.localize(&start));
        let guard_path = guard::guard_path(&self.files);
        let target_path = guard::target_path(&self.files);
        let sampler_path = telemetry::sampler_path(&self.files);
        let mut files = vec![
            RemoteFile {
                path: &self.files.script,
                contents: body.as_bytes(),
                mode: 0o755,
            },
            RemoteFile {
                path: &self.files.wrapper,
                contents: wrapper.as_bytes(),
                mode: 0o755,
            },
        ];
        if let Some(launch) = &guard {
            files.push(RemoteFile {
                path: &guard_path,
                contents: guard::SCRIPT.as_bytes(),
                mode: 0o755,
            });
            files.push(RemoteFile {
                path: &target_path,
                contents: guard::target(&launch.settings.stop).as_bytes(),
                mode: 0o600,
            });
        }
        if sampler.is_some() {
            files.push(RemoteFile {
                path: &sampler_path,
                contents: telemetry::SCRIPT.as_bytes(),
                mode: 0o755,
            });
        }
        let script = write_files_script(transport, &files, &start);
        let out = exec_with_stdin(
            transport,
            "bash -s",
            Some(script.as_bytes()),
            Duration::from_secs(60),
        )
        .await
        .map_err(|e| JobFailure::new(Phase::Launch, e.to_string()))?;
        if !out.success() {
            self.record(Phase::Launch, started, false);
            return Err(JobFailure::new(
                Phase::Launch,
                format!("could not start the script:\n{}", indent(&out.tail(10))),
            ));
        }
        self.report.launched = true;
        self.events.emit(&JobEvent::Launched {
            script_path: self.files.script.clone(),
        });
        if let Some(launch) = guard {
            self.guard_on = true;
            self.deadline = Some(launch.deadline);
            self.deadline_reason = Some(launch.reason);
            self.events.emit(&JobEvent::GuardStarted {
                deadline: launch.deadline,
                reason: launch.reason.as_str().to_string(),
                grace: launch.settings.grace,
            });
            self.attach_to_guard(true);
        }
        self.record(Phase::Launch, started, true);
        Ok(())
    }
}

/// `work`, or an "interrupted" failure of `phase` as soon as the user
/// interrupts (dropping `work` kills its processes).
async fn abandon_on(
    interrupt: &Interrupt,
    phase: Phase,
    work: impl Future<Output = Result<(), JobFailure>>,
) -> Result<(), JobFailure> {
    tokio::select! {
        result = work => result,
        _ = interrupt.wait() => Err(JobFailure::new(phase, "interrupted")),
    }
}
