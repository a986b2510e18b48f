//! The job's steps as the executor runs them: the runner is built once the
//! pod answers, with the budget as data and the provider behind a pod probe.

use std::sync::Arc;

use async_trait::async_trait;

use super::telemetry;
use super::*;
use crate::model::Usd;
use crate::remote::Transport;
use crate::remote::job::{Budget, GuardSettings, PodCheck, PodProbe};

/// The job's pod probe (its heartbeat): asks the provider whether the pod
/// still runs, every `budget.poll_interval_sec`.
pub(super) struct ProviderProbe {
    pub(super) provider: SharedProvider,
    pub(super) pod_id: String,
    pub(super) every: Duration,
}

#[async_trait]
impl PodProbe for ProviderProbe {
    fn pod_id(&self) -> &str {
        &self.pod_id
    }

    fn schedule(&self) -> PollSchedule {
        PollSchedule::every(self.every)
    }

    /// Only the provider saying the pod is stopped or gone fails the job. A
    /// failed request is no evidence: the pod counts as alive, because
    /// failing a healthy job on an API hiccup would run on_failure (which
    /// may delete the pod) while the script may still succeed; a pod that
    /// really went away also ends the log watcher, which asks again.
    async fn check(&self) -> PodCheck {
        match self.provider.get(&self.pod_id).await {
            Ok(None) => PodCheck::Gone {
                status: "deleted".into(),
            },
            Ok(Some(pod)) if pod.status == PodStatus::Exited => PodCheck::Stopped,
            Ok(Some(pod)) if !pod.status.is_active() => PodCheck::Gone {
                status: pod.status.to_string(),
            },
            _ => PodCheck::Alive,
        }
    }
}

/// The file in a run directory that says what the run did before its
/// script started.
const LAUNCH_RECORD: &str = "rpd_launch.json";

/// What a run did before its script started (see [`LAUNCH_RECORD`]).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct LaunchRecord {
    pod_timings: Vec<StepTiming>,
    job_timings: Vec<StepTiming>,
    pod_resumed: bool,
    before_launch_sec: f64,
}

/// Every event of a run goes to `events.jsonl`, to the terminal, and to
/// `extra` (`apply --json`'s stream) when there is one.
pub(super) fn event_sink(
    config: &Config,
    reporter: &Reporter,
    extra: Option<Box<dyn EventSink>>,
) -> SharedSink {
    let mut subscribers: Vec<Box<dyn EventSink>> = vec![
        Box::new(EventsJsonl::new(config.run_dir.join("events.jsonl"))),
        Box::new(TerminalEvents::new(reporter.clone())),
    ];
    subscribers.extend(extra);
    Arc::new(Fanout::new(subscribers))
}

impl<'a> Executor<'a> {
    /// The job's runner on `pod`, which became usable now.
    pub(super) fn runner(&self, pod: &ObservedPod, transport: Box<dyn Transport>) -> JobRunner<'a> {
        let budget = &self.config.budget;
        let heartbeat = Duration::from_secs(u64::from(budget.poll_interval_sec));
        let price = pod
            .cost_per_hr
            .filter(|c| *c > 0.0)
            .unwrap_or(budget.assumed_hourly_rate_usd);
        let budget = Budget {
            time_limit: Duration::from_secs(budget.timeout_sec),
            cost_cap: Usd(budget.cost_cap_usd),
            price_per_hr: Usd(price),
            time_limit_is_max_runtime: budget.max_runtime_sec.is_some(),
        };
        let probe = ProviderProbe {
            provider: self.provider.clone(),
            pod_id: pod.id.clone(),
            every: heartbeat,
        };
        let guard = GuardSettings {
            grace: Duration::from_secs(u64::from(self.config.lifecycle.unattended_stop_after_sec)),
            stop: self.provider.self_stop(),
            pod_id: pod.id.clone(),
        };
        JobRunner::new(self.config, transport, self.events.clone(), budget)
            .with_probe(Box::new(probe))
            .with_guard(guard)
    }

    /// The job `--detach` leaves running: launched, and recorded in the
    /// state for `rpd attach`.
    pub(super) fn detached(&self) -> Option<Detached> {
        let runner = self.runner.as_ref()?;
        let job = self.state.launched_job.as_ref()?;
        (runner.launched() && runner.failure().is_none()).then(|| Detached {
            pod_id: job.pod_id.clone(),
            deadline_at: job.deadline_at,
            deadline_reason: runner.deadline_reason().map(|r| r.as_str()),
            grace: Duration::from_secs(u64::from(self.config.lifecycle.unattended_stop_after_sec)),
        })
    }

    /// Why the job failed, once it has.
    pub(super) fn job_failure(&self) -> Option<&JobFailure> {
        self.runner.as_ref().and_then(|r| r.failure())
    }

    pub(super) async fn job_phase(&mut self, phase: Phase) -> Result<(), ApplyError> {
        crate::fault::reached(phase.as_str()).await;
        let Some(runner) = self.runner.as_ref() else {
            return Err(ApplyError::NoConnection);
        };
        // Interrupted before the script started (during setup, staging,
        // ...): the pod is not kept for a job that never ran, whatever
        // on_failure says: deleted if this run made it, else stopped and
        // kept as the pod to resume (its volume is as the last run left it).
        if !runner.launched() && self.interrupt.is_set() {
            let pod_id = self.current_id().ok_or(ApplyError::NoPod)?;
            self.not_ready_cleanup(&pod_id, "interrupted before the job started")
                .await?;
            return Err(ApplyError::InterruptedBeforeJob);
        }
        if !runner.ran() {
            self.recover_left_job().await;
        }
        if phase == Phase::Launch {
            self.describe_start = self.describe_pod(telemetry::DESCRIBE_START);
        }
        let Some(runner) = self.runner.as_mut() else {
            return Err(ApplyError::NoConnection);
        };
        runner.run_phase(phase, &self.interrupt).await;
        // The pod was stopped before the job's verdict could be read (by
        // the on-pod guard while this rpd slept, or outside rpd): resume
        // it and read the verdict from its volume.
        if phase == Phase::Monitor && runner.pod_stopped() {
            self.resume_to_collect().await?;
            if let Some(runner) = self.runner.as_mut() {
                runner.run_phase(Phase::Monitor, &self.interrupt).await;
            }
            return Ok(());
        }
        if phase == Phase::Launch && runner.launched() {
            let recorded = self.record_launch();
            self.write_launch_record();
            if self.options.detach {
                if let Err(err) = recorded {
                    return Err(self.detach_unrecorded(err).await);
                }
                // `--detach` ends here: the description is taken before it does.
                self.finish_descriptions(None).await;
            }
        }
        Ok(())
    }

    /// The job is running: until its log is pulled, the state says where it
    /// belongs, so that the next apply can fetch it if this one is killed.
    /// Not written, an attached run follows the job itself; a detached one
    /// cannot leave it (see [`Executor::detach_unrecorded`]).
    fn record_launch(&mut self) -> Result<(), state::StateError> {
        let Some(pod_id) = self.current_id() else {
            return Ok(());
        };
        let now = Utc::now();
        let runner = self.runner.as_ref();
        self.state.launched_job = Some(LaunchedJob {
            pod_id,
            launched_at: now,
            run_dir: self.config.run_dir.clone(),
            log_path: self.config.job.run.log_path.clone(),
            tag: runner.map(|r| r.tag().to_string()),
            deadline_at: runner
                .and_then(|r| r.deadline())
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| now + d),
            detached: self.options.detach,
        });
        crate::fault::point("launched");
        self.save_state_at(Some("save-launched"))
    }

    /// `--detach` launched the job, and the state could not record it: no
    /// later rpd would know of it (the next apply would run it again, and
    /// its results would never be collected). A detach that cannot be
    /// recorded is no detach: the job, which has run for a moment, is
    /// ended, and the pod is handled as one that never ran the job (deleted
    /// if this run made it, else stopped and kept to resume). Staying
    /// attached instead would hold a terminal the user asked to get back,
    /// and a laptop closed on it leaves the same unrecorded job.
    async fn detach_unrecorded(&mut self, err: state::StateError) -> ApplyError {
        if let Some(runner) = self.runner.as_mut() {
            runner
                .end_launched("the state could not record the detached job")
                .await;
        }
        self.state.launched_job = None;
        let Some(pod_id) = self.current_id() else {
            return err.into();
        };
        let done = if self.created_now {
            "deleted"
        } else {
            "stopped"
        };
        match self
            .not_ready_cleanup(&pod_id, "the state could not record the launched job")
            .await
        {
            // A state write after the cleanup may fail too: the pod is no
            // longer running either way.
            Ok(()) | Err(ApplyError::State(_)) => ApplyError::DetachUnrecorded {
                pod_id,
                done,
                state_file: self.state_path.clone(),
                source: Box::new(err),
            },
            // The stop or delete failed: that error says the pod may bill.
            Err(other) => other,
        }
    }

    /// What this run did before the script started, kept in its run
    /// directory: a later rpd that collects the job (this one killed, or
    /// detached) records the run as it was (cold or warm, its step times).
    fn write_launch_record(&self) {
        let Some(runner) = self.runner.as_ref() else {
            return;
        };
        let record = LaunchRecord {
            pod_timings: self.pod_timings.clone(),
            job_timings: runner.report().timings,
            pod_resumed: self.resumed_now,
            before_launch_sec: runner.wall().as_secs_f64(),
        };
        let path = self.config.run_dir.join(LAUNCH_RECORD);
        if let Ok(text) = serde_json::to_vec_pretty(&record) {
            let _ = std::fs::create_dir_all(&self.config.run_dir);
            let _ = std::fs::write(path, text);
        }
    }

    /// The launching run's record (see [`Executor::write_launch_record`]):
    /// its steps come first in this run's, and this run's own start of
    /// the pod (resumed to collect the job) is named for what it was.
    fn carry_launch_record(&mut self) {
        for timing in &mut self.pod_timings {
            timing.step = format!("collect_{}", timing.step);
        }
        let path = self.config.run_dir.join(LAUNCH_RECORD);
        let Some(record) = std::fs::read(&path)
            .ok()
            .and_then(|text| serde_json::from_slice::<LaunchRecord>(&text).ok())
        else {
            return;
        };
        let mine = std::mem::take(&mut self.pod_timings);
        self.pod_timings = record.pod_timings;
        self.pod_timings.extend(mine);
        self.launch_resumed = Some(record.pod_resumed);
        if let Some(runner) = self.runner.as_mut() {
            runner.carry_launch(
                record.job_timings,
                Duration::from_secs_f64(record.before_launch_sec.max(0.0)),
            );
        }
    }

    /// Attaches to the job an earlier apply launched on this pod: follows it
    /// while it runs, or collects it once it has ended; never runs it again.
    pub(super) async fn attach(&mut self) -> Result<(), ApplyError> {
        crate::fault::reached("attach").await;
        let Some(left) = self.state.launched_job.clone() else {
            return Err(ApplyError::NoJobToAttach);
        };
        self.carry_launch_record();
        let Some(runner) = self.runner.as_mut() else {
            return Err(ApplyError::NoConnection);
        };
        // How long the job may run, from two times of one clock (the
        // launching machine's); the runner counts what is left of it on
        // the pod's clock. Never `deadline_at - now`: two machines' clocks.
        let allowed = left
            .deadline_at
            .map(|at| (at - left.launched_at).to_std().unwrap_or(Duration::ZERO));
        let tag = left.tag.clone().unwrap_or_default();
        telemetry::carry_start_description(&left.run_dir, &runner.run_dir());
        runner.attach(&tag, left.launched_at, allowed).await;
        // The job is not this run's: an interrupt stops following it, as
        // `--detach` would have, and leaves it to the on-pod guard. It
        // never ends the job or runs a lifecycle (on_failure: delete would
        // take the run with it).
        let never = Interrupt::never();
        let mut interrupted = tokio::select! {
            () = runner.run_phase(Phase::Monitor, &never) => false,
            () = self.interrupt.wait() => true,
        };
        // Its pod stopped while followed (this rpd slept): resume it and
        // read the job's verdict from its volume.
        if !interrupted && runner.pod_stopped() {
            self.resume_to_collect().await?;
            let runner = self.runner.as_mut().ok_or(ApplyError::NoConnection)?;
            interrupted = tokio::select! {
                () = runner.run_phase(Phase::Monitor, &never) => false,
                () = self.interrupt.wait() => true,
            };
        }
        // A pod this run resumed to collect the job runs no job (its stop
        // ended it): nothing is left to follow, so it is not left billing
        // for the guard's grace. Stopped again, with the job recorded for
        // the next attach.
        if interrupted && self.resumed_now {
            let pod_id = self.current_id().ok_or(ApplyError::NoPod)?;
            self.reporter.line(format!(
                "Stopping pod {pod_id}: interrupted before the job was collected"
            ));
            self.stop_and_keep(&pod_id).await?;
            return Err(ApplyError::InterruptedBeforeCollect { pod_id });
        }
        if interrupted && let Some(detached) = self.detached() {
            self.report.detached = Some(detached);
        }
        Ok(())
    }

    /// A job that a killed apply left on this pod: its log and exit status
    /// go into that run's directory before this run's launch replaces them.
    async fn recover_left_job(&mut self) {
        let Some(left) = self.state.launched_job.take() else {
            return;
        };
        if self.current_id().as_deref() == Some(left.pod_id.as_str())
            && let Some(runner) = self.runner.as_mut()
        {
            runner.recover_left_job(&left.log_path, &left.run_dir).await;
        }
        let _ = self.save_state();
    }

    /// Pulls the log and the artifacts (on every path), fixes the job's
    /// outcome, and notes the pod's state at the job's end for the manifest.
    pub(super) async fn pull(&mut self) -> Result<(), ApplyError> {
        crate::fault::reached("pull").await;
        let describe_end = self.describe_pod(telemetry::DESCRIBE_END);
        if let Some(runner) = self.runner.as_mut() {
            runner.run_phase(Phase::Pull, &self.interrupt).await;
            // The pod was stopped since the job ended (by the on-pod guard
            // while this rpd slept): the results are on its volume.
            if runner.pod_stopped() {
                self.resume_to_collect().await?;
                let runner = self.runner.as_mut().ok_or(ApplyError::NoConnection)?;
                runner.run_phase(Phase::Pull, &self.interrupt).await;
            }
            let runner = self.runner.as_mut().ok_or(ApplyError::NoConnection)?;
            self.report.run_dir = Some(runner.run_dir());
            self.report.job_wall = Some(runner.wall());
            // The job has ended. Results that could not be saved here make
            // it no success: they are only on the pod.
            let unsaved = runner.results_unsaved();
            let outcome = if runner.failure().is_some() || unsaved.is_some() {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            self.report.results_unsaved = unsaved.clone();
            self.job_end = Some(JobEnd {
                outcome,
                unsaved,
                interrupted: runner.interrupted(),
            });
            let left = self.state.launched_job.take();
            if let Some(left) = &left {
                // Said in the run's directory first: a state that cannot
                // forget the job (a full disk) must not make the next apply
                // collect it again and report that as a run.
                mark_collected(left, &runner.run_dir());
            }
            if self.state.guarded_pod.take().is_some() || left.is_some() {
                let _ = self.save_state_at(Some("save-collected"));
            }
        }
        self.finish_descriptions(describe_end).await;
        if let Some(id) = self.current_id() {
            self.pod_state_at_job_end = self
                .provider
                .get(&id)
                .await
                .ok()
                .flatten()
                .map(|p| p.status);
        }
        Ok(())
    }
}

/// Writes `job`'s collected marker (see `LaunchedJob::collected_marker`),
/// naming the run directory its results went into. Best effort: without
/// it, a state that still records the job has it collected again.
fn mark_collected(job: &LaunchedJob, into: &std::path::Path) {
    let Some(marker) = job.collected_marker() else {
        return;
    };
    let text = serde_json::json!({
        "collected_at": Utc::now(),
        "into": into,
    });
    let _ = std::fs::create_dir_all(&job.run_dir);
    let _ = std::fs::write(marker, format!("{text}\n"));
}
