//! Following the script: runs the watcher over the transport, feeds what
//! it prints and a once-a-second clock to the verdict machine, asks the pod
//! probe now and then, and stops the script when the verdict is not its
//! own exit.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

use super::events::JobEvent;
use super::script;
use super::verdict::{Decision, Rules, Verdict, VerdictMachine};
use super::{JobFailure, JobRunner, Phase, PodCheck};
use crate::interrupt::Interrupt;
use crate::remote::transport::exec;
use crate::retry::{self, Backoff, Poller};

/// How long after a marker the script may go on before the marker decides
/// (`RPD_MARKER_GRACE_SECS`, 30 s by default).
fn marker_grace() -> Duration {
    crate::env::seconds(crate::env::MARKER_GRACE_SECS, 30)
}

/// A dropped watcher is started again after half a second, five times at
/// most: a connection that keeps dropping is a pod out of reach.
const RECONNECT: Backoff = Backoff::constant(Duration::from_millis(500)).retries(5);

/// What following the log keeps across reconnects.
struct Following<'i> {
    verdicts: VerdictMachine,
    watcher: String,
    /// When to ask the pod probe next, on its schedule.
    probe: Option<(Poller, Instant)>,
    interrupt: &'i Interrupt,
}

/// Why one session of following the log ended without a verdict.
enum Lost {
    /// The watcher's connection dropped: follow again.
    Contact,
    /// The job failed (the pod is gone, or the user interrupted).
    Job(JobFailure),
    /// The pod was stopped: how the job ended is on its volume.
    PodStopped,
}

impl JobRunner<'_> {
    /// Follows the job until it exits, prints a failure marker, runs out of
    /// time or money, its pod goes away, or the user interrupts.
    pub(super) async fn monitor(&mut self, interrupt: &Interrupt) -> Result<(), JobFailure> {
        let started = Instant::now();
        self.events.emit(&JobEvent::MonitorStarted);
        let run = &self.config.job.run;
        let verdicts = VerdictMachine::new(
            Rules {
                token: self.token.clone(),
                success_marker: run.success_marker.clone(),
                failure_markers: run.failure_markers.clone(),
                grace: marker_grace(),
                budget: self.budget,
            },
            self.started,
            started,
        );
        let mut following = Following {
            verdicts,
            watcher: script::watcher(&self.files, &self.token, run),
            probe: self.probe.as_ref().map(|p| {
                let mut poller = p.schedule().start();
                let first = Instant::now() + poller.next_wait();
                (poller, first)
            }),
            interrupt,
        };
        let (_, followed) = retry::retry_with(
            &RECONNECT,
            (&mut *self, &mut following),
            |(runner, following): (&mut Self, &mut Following)| async move {
                let followed = runner.follow(following).await;
                ((runner, following), followed)
            },
            |lost| matches!(lost, Lost::Contact),
        )
        .await;
        let ended = match followed {
            // No verdict yet: the pod must be resumed to read one (the
            // executor does, then follows again). Nothing on it can be
            // stopped or reached now.
            Err(Lost::PodStopped) => {
                self.pod_stopped = true;
                return Ok(());
            }
            Err(Lost::Contact) => Err(JobFailure::new(
                Phase::Monitor,
                "lost contact with the pod while following the log",
            )),
            Err(Lost::Job(failure)) => Err(failure),
            Ok(verdict) => Ok(verdict),
        };
        let result = match ended {
            Ok(Verdict::Success { ambiguous }) => {
                if let Some(note) = ambiguous {
                    self.events.emit(&JobEvent::AmbiguousMarkers { note });
                }
                Ok(())
            }
            Ok(Verdict::StillRunningAfterSuccess { grace }) => {
                self.events
                    .emit(&JobEvent::StillRunningAfterSuccess { grace });
                Ok(())
            }
            Ok(Verdict::Failure(failure)) => Err(JobFailure::new(Phase::Monitor, failure.reason())),
            Err(failure) => Err(failure),
        };
        // A script that has not exited is stopped: it would otherwise run
        // on, into the next run's log or past the budget.
        if result.is_err() && self.report.exit_code.is_none() {
            self.kill_job().await;
        }
        self.events.emit(&JobEvent::JobFinished {
            exit_code: self.report.exit_code,
            failure: result.as_ref().err().map(|f| f.reason.clone()),
            took: started.elapsed(),
        });
        match self.run_time_on_pod().await {
            // A job an earlier run launched: how long it really ran,
            // measured on the pod, not how long this rpd followed it.
            Some(took) => {
                let ok = result.is_ok();
                self.report
                    .timings
                    .push(super::StepTiming::new(Phase::Monitor.as_str(), took, ok));
                self.attached_wall =
                    Some((self.earlier.unwrap_or_default() + took, Instant::now()));
            }
            None => self.record(Phase::Monitor, started, result.is_ok()),
        }
        result
    }

    /// One session of the watcher: until a verdict, a failure, or the
    /// connection drops.
    async fn follow(&mut self, following: &mut Following<'_>) -> Result<Verdict, Lost> {
        let mut command = self.transport.command(&following.watcher);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                return Err(self.pod_gone().await.unwrap_or_else(|| {
                    Lost::Job(JobFailure::new(
                        Phase::Monitor,
                        format!("cannot follow the log: {e}"),
                    ))
                }));
            }
        };
        let mut lines = Lines::new(BufReader::new(child.stdout.take().expect("piped")));
        let mut heartbeat = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                line = lines.next() => match line {
                    Ok(Some((line, starts_line))) => {
                        let now = Instant::now();
                        let decisions = if starts_line {
                            following.verdicts.line(&line, now)
                        } else {
                            following.verdicts.log_line(&line, now)
                        };
                        for decision in decisions {
                            if let Some(verdict) = self.take(decision) {
                                return Ok(verdict);
                            }
                        }
                    }
                    // The watcher's connection dropped: follow again,
                    // unless the pod itself is gone.
                    Ok(None) | Err(_) => {
                        return Err(self.pod_gone().await.unwrap_or(Lost::Contact));
                    }
                },
                _ = heartbeat.tick() => {
                    let now = Instant::now();
                    self.events.emit(&JobEvent::MonitorTick {
                        spent: following.verdicts.spent(now),
                        last_line: following.verdicts.last_line().to_string(),
                    });
                    if let Some((poller, next)) = &mut following.probe
                        && now >= *next
                    {
                        if let Some(lost) = self.pod_gone().await {
                            return Err(lost);
                        }
                        *next = Instant::now() + poller.next_wait();
                    }
                    if let Some(verdict) = following.verdicts.tick(Instant::now()) {
                        return Ok(verdict);
                    }
                }
                _ = following.interrupt.wait() => {
                    self.report.interrupted = true;
                    return Err(Lost::Job(JobFailure::new(Phase::Monitor, "interrupted")));
                }
            }
        }
    }

    /// Reports what the verdict machine saw; the verdict, once there is one.
    fn take(&mut self, decision: Decision) -> Option<Verdict> {
        let event = match decision {
            Decision::Verdict(verdict) => return Some(verdict),
            Decision::ExitReported(code) => {
                self.report.exit_code = Some(code);
                return None;
            }
            Decision::SuccessMarkerSeen => JobEvent::SuccessMarkerSeen,
            Decision::FailureMarkerSeen {
                marker,
                line,
                grace,
            } => JobEvent::FailureMarkerSeen {
                marker,
                line,
                grace,
            },
            Decision::ScriptStepStarted(step) => JobEvent::ScriptStepStarted { step },
            Decision::ScriptStepCompleted(step) => JobEvent::ScriptStepCompleted { step },
        };
        self.events.emit(&event);
        None
    }

    async fn kill_job(&self) {
        let _ = exec(
            self.transport.as_ref(),
            &script::kill(&self.files),
            Duration::from_secs(20),
        )
        .await;
    }

    /// What the probe says when the pod stopped (its volume still holds
    /// the job's files) or vanished (a failure).
    async fn pod_gone(&self) -> Option<Lost> {
        let probe = self.probe.as_ref()?;
        let status = match probe.check().await {
            PodCheck::Alive => return None,
            PodCheck::Stopped => return Some(Lost::PodStopped),
            PodCheck::Gone { status } => status,
        };
        let pod_id = probe.pod_id().to_string();
        let reason =
            format!("pod {pod_id} is {status} while the job ran (stopped or deleted outside rpd?)");
        self.events
            .emit(&JobEvent::PodKilledUnexpected { pod_id, status });
        Some(Lost::Job(JobFailure::new(Phase::Monitor, reason)))
    }
}

/// The longest piece of a log line handed to the verdict at once: a job
/// that prints hundreds of megabytes without a newline must not make rpd
/// hold them (the watcher's reports search the whole log on the pod).
const LONGEST_LINE: usize = 64 * 1024;

/// The watcher's output a line at a time, read as bytes: a log line that
/// is not UTF-8 is read with replacement characters (a read error would
/// end the session and replay the log from its start), and one longer than
/// [`LONGEST_LINE`] comes in pieces. Cancel-safe, as `select!` needs: a
/// line read in part is kept for the next call.
struct Lines<R> {
    reader: R,
    line: Vec<u8>,
    /// Whether the piece being read starts a line (only such a piece can
    /// be one of the watcher's reports).
    at_start: bool,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    fn new(reader: R) -> Lines<R> {
        Lines {
            reader,
            line: Vec::new(),
            at_start: true,
        }
    }

    /// The next line (or piece of one) without its newline, and whether it
    /// starts a line; `None` at the end of the output.
    async fn next(&mut self) -> std::io::Result<Option<(String, bool)>> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok((!self.line.is_empty()).then(|| self.take(true)));
            }
            let room = LONGEST_LINE.saturating_sub(self.line.len());
            let window = &available[..available.len().min(room)];
            if let Some(end) = window.iter().position(|&b| b == b'\n') {
                self.line.extend_from_slice(&window[..end]);
                self.reader.consume(end + 1);
                return Ok(Some(self.take(true)));
            }
            let read = window.len();
            self.line.extend_from_slice(window);
            self.reader.consume(read);
            if self.line.len() >= LONGEST_LINE {
                return Ok(Some(self.take(false)));
            }
        }
    }

    /// The piece read so far; `ended`: a newline ended it.
    fn take(&mut self, ended: bool) -> (String, bool) {
        if ended && self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        let text = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        let starts_line = std::mem::replace(&mut self.at_start, ended);
        (text, starts_line)
    }
}

#[cfg(test)]
mod lines_tests {
    use super::*;

    async fn all(bytes: &[u8]) -> Vec<(String, bool)> {
        let mut lines = Lines::new(BufReader::with_capacity(7, bytes));
        let mut out = Vec::new();
        while let Some(line) = lines.next().await.unwrap() {
            out.push(line);
        }
        out
    }

    fn texts(lines: &[(String, bool)]) -> Vec<&str> {
        lines.iter().map(|(text, _)| text.as_str()).collect()
    }

    #[tokio::test]
    async fn lines_are_whole_lossy_and_bounded() {
        let read = all(b"one\r\ntwo\n\nlast").await;
        assert_eq!(texts(&read), ["one", "two", "", "last"]);
        assert!(read.iter().all(|(_, starts)| *starts));
        assert_eq!(texts(&all(b"bad \xff byte\n").await), ["bad \u{fffd} byte"]);
        let long = vec![b'a'; LONGEST_LINE * 2 + 5];
        let pieces = all(&[long.as_slice(), b"\nnext\n"].concat()).await;
        let shape: Vec<(usize, bool)> = pieces.iter().map(|(t, s)| (t.len(), *s)).collect();
        assert_eq!(
            shape,
            [
                (LONGEST_LINE, true),
                (LONGEST_LINE, false),
                (5, false),
                (4, true)
            ]
        );
    }
}
