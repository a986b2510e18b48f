//! Attaching to a job an earlier rpd launched (`apply --detach`, or an rpd
//! that was killed): the run's files are found by its tag, and the job is
//! followed while it runs or collected once it has ended. It is never
//! started again.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::events::JobEvent;
use super::guard;
use super::script::RunFiles;
use super::{JobFailure, JobRunner, Phase};
use crate::remote::shell_quote;
use crate::remote::transport::{ExecOutput, exec};

/// What the pod shows of a launched job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// Its exit status is recorded.
    Ended,
    /// Its wrapper still runs.
    Running,
    /// Neither: it ended without recording a status (its pod was stopped
    /// under it).
    Lost,
}

/// Prints `ended`, `running` or `lost` for the run whose files are `files`.
/// The exit file is looked for again once the wrapper is found gone: a job
/// that ends between the two looks wrote it before its wrapper exited.
pub(super) fn look(files: &RunFiles) -> String {
    format!(
        "if [ -e {exit} ]; then echo ended\n\
         elif p=$(cat {pid} 2>/dev/null) && [ -n \"$p\" ] && grep -q rpd-wrapper /proc/$p/cmdline 2>/dev/null; then echo running\n\
         elif [ -e {exit} ]; then echo ended\n\
         else echo lost; fi",
        exit = shell_quote(&files.exit),
        pid = shell_quote(&files.pid),
    )
}

/// Prints how many seconds ago, by the pod's clock, the run's wrapper was
/// started (its pid file is written then); nothing when that is unknown.
fn ran_for(files: &RunFiles) -> String {
    format!(
        "t=$(stat -c %Y {pid} 2>/dev/null) && echo $(( $(date +%s) - t )) || true",
        pid = shell_quote(&files.pid),
    )
}

impl JobRunner<'_> {
    /// Takes over the run tagged `tag` (launched at `launched_at`): the
    /// monitor then follows it or reads how it ended. `allowed` is how long
    /// the job may run from its launch; what is left of it is counted on
    /// the pod's clock (never by comparing the launching machine's clock
    /// with this one's), and a job past it gets a few seconds to end.
    pub async fn attach(
        &mut self,
        tag: &str,
        launched_at: DateTime<Utc>,
        allowed: Option<Duration>,
    ) {
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        // The run's 12-digit tag, then fresh digits: the watcher's report
        // lines stay unguessable, and the files are the run's.
        let token = format!("__RPD_{tag}{}__", &fresh[tag.len().min(fresh.len())..]);
        let files = RunFiles::new(&self.config.job.run, &token);
        self.adopt_launched(files, token);
        // In the same session: a job that has ended (perhaps on a pod
        // resumed to collect it) gets its guard again, so that a pod this
        // rpd leaves (killed before the lifecycle) still stops.
        let mut script = format!(
            "r=$({})\necho \"$r\"\n{}\n",
            look(&self.files),
            ran_for(&self.files)
        );
        if let Some(settings) = &self.guard {
            script.push_str(&format!(
                "if [ \"$r\" != running ]; then ( {} ) > /dev/null 2>&1; fi\n",
                guard::restart(&self.files, settings)
            ));
            self.guard_on = true;
        }
        let looked = exec(self.transport.as_ref(), &script, Duration::from_secs(30)).await;
        let first = |out: &ExecOutput| out.stdout.lines().next().unwrap_or("").trim().to_string();
        if let (Some(allowed), Ok(out)) = (allowed, &looked) {
            // Unknown (an old pid file gone): the whole of it; the on-pod
            // guard keeps the real deadline on the pod's clock anyway.
            let ran = out
                .stdout
                .lines()
                .nth(1)
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let remaining = allowed.saturating_sub(Duration::from_secs(ran));
            self.budget.time_limit = remaining.max(Duration::from_secs(10));
        }
        let found = match looked {
            Ok(out) if first(&out) == "ended" => Found::Ended,
            Ok(out) if first(&out) == "running" => Found::Running,
            Ok(out) if first(&out) == "lost" => Found::Lost,
            Ok(out) => {
                self.fail_attach(format!(
                    "could not look at the job on the pod: {}",
                    out.tail(3)
                ));
                return;
            }
            Err(err) => {
                self.fail_attach(format!("could not look at the job on the pod: {err}"));
                return;
            }
        };
        self.events.emit(&JobEvent::Attached {
            launched_at,
            running: found == Found::Running,
        });
        self.attach_to_guard(false);
        match found {
            Found::Running | Found::Ended => {}
            Found::Lost => self.fail_attach(
                "the job ended without recording its exit status (was its pod stopped while it ran?); its log is collected".into(),
            ),
        }
    }

    /// How long an attached job's script ran, on the pod's clock: from
    /// its launch (when the wrapper's pid was written) to its exit status
    /// (when the wrapper recorded it). `None` for a job this run launched,
    /// or one whose times cannot be read.
    pub(super) async fn run_time_on_pod(&self) -> Option<Duration> {
        self.earlier?;
        let script = format!(
            "date -r {} +%s.%N && date -r {} +%s.%N",
            shell_quote(&self.files.pid),
            shell_quote(&self.files.exit)
        );
        let out = exec(self.transport.as_ref(), &script, Duration::from_secs(30))
            .await
            .ok()?;
        let times: Vec<f64> = out
            .stdout
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect();
        match times[..] {
            [launched, ended] if ended >= launched => {
                Some(Duration::from_secs_f64(ended - launched))
            }
            _ => None,
        }
    }

    fn fail_attach(&mut self, reason: String) {
        self.events.emit(&JobEvent::PhaseFailed {
            phase: Phase::Monitor,
            reason: reason.clone(),
        });
        self.report.failure = Some(JobFailure::new(Phase::Monitor, reason));
    }
}
