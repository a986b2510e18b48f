//! A job whose pod was stopped before its results were read: by the on-pod
//! guard while no rpd was attached (a laptop asleep through the job's end,
//! an `apply --detach` never attached again), or outside rpd. The volume
//! keeps the log, the artifacts and the exit file, and the guard leaves a
//! record of its stop there; a stopped pod cannot be reached, so the
//! executor resumes it and the runner reads them here.

use std::sync::Arc;
use std::time::Duration;

use super::attach::look;
use super::events::JobEvent;
use super::guard;
use super::{JobFailure, JobRunner, Phase};
use crate::remote::shell_quote;
use crate::remote::transport::{Transport, exec};

impl JobRunner<'_> {
    /// The job's pod runs again (resumed to collect): reach it through
    /// `transport`, read how the job ended and whether the on-pod guard
    /// stopped the pod, and start the guard again (one session). The
    /// monitor then reads the job's real exit status; a job that recorded
    /// none was stopped under it and has failed, whatever stopped it.
    pub async fn reach_again(&mut self, transport: Box<dyn Transport>, pod_id: &str) {
        self.transport = Arc::from(transport);
        self.heartbeat = None;
        self.pod_stopped = false;
        let mut script = format!(
            "{look}\necho; cat {record} 2>/dev/null; echo\n",
            look = look(&self.files),
            record = shell_quote(&guard::stop_record_path(&self.files)),
        );
        if let Some(settings) = &self.guard {
            script.push_str(&guard::restart(&self.files, settings));
            self.guard_on = true;
        }
        let out = exec(self.transport.as_ref(), &script, Duration::from_secs(30)).await;
        let (found, by_guard) = match &out {
            Ok(out) => {
                let mut lines = out.stdout.lines().map(str::trim);
                let found = lines.next().unwrap_or_default().to_string();
                let reason = lines.find(|l| !l.is_empty()).map(str::to_string);
                (found, reason)
            }
            Err(_) => (String::new(), None),
        };
        let failure = match (found.as_str(), &out) {
            ("ended" | "running", _) => None,
            ("lost", _) => Some(format!(
                "pod {pod_id} was stopped while the job ran{}: the job recorded no exit status; what there is was collected",
                if by_guard.is_some() {
                    ""
                } else {
                    ", not by the on-pod guard (stopped outside rpd?)"
                }
            )),
            (_, Err(err)) => Some(format!(
                "could not look at the job on pod {pod_id} after resuming it: {err}"
            )),
            (_, Ok(out)) => Some(format!(
                "could not look at the job on pod {pod_id} after resuming it: {}",
                out.tail(3)
            )),
        };
        self.events.emit(&JobEvent::PodStopFound {
            pod_id: pod_id.to_string(),
            by_guard,
            ended: found == "ended",
        });
        self.attach_to_guard(false);
        // A verdict read before the stop stands (the pull found the pod
        // stopped after the job's end).
        if let Some(reason) = failure
            && self.report.failure.is_none()
            && self.report.exit_code.is_none()
        {
            self.fail_after_stop(reason);
        }
    }

    fn fail_after_stop(&mut self, reason: String) {
        self.events.emit(&JobEvent::PhaseFailed {
            phase: Phase::Monitor,
            reason: reason.clone(),
        });
        self.report.failure = Some(JobFailure::new(Phase::Monitor, reason));
    }
}
