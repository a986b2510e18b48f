//! How the job ended, decided from what the watcher prints and the clock:
//! a pure state machine. Feed it the watcher's lines and clock ticks (the
//! caller passes `now`; nothing here reads the clock) and it says what it
//! saw and, once, the verdict.
//!
//! runpod-deploy's rules, with its defects fixed: the exit status decides
//! first (the wrapper records it), then markers. A non-zero exit fails; exit
//! 0 needs the success marker; exit 0 with both markers succeeds and says
//! so. A failure marker fails the job only if the script does not exit
//! within the grace period; a success marker with the script still running
//! past it counts as a success. The time budget and the cost cap end any
//! run.

use std::time::{Duration, Instant};

use super::{Budget, truncate};
use crate::model::{Usd, duration};

/// What the machine decides from.
#[derive(Debug, Clone)]
pub struct Rules {
    /// What starts the watcher's own report lines (no log line can).
    pub token: String,
    pub success_marker: String,
    pub failure_markers: Vec<String>,
    /// How long after a marker the script may go on before the marker decides.
    pub grace: Duration,
    pub budget: Budget,
}

/// What one input told.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The log printed the success marker; the exit status is awaited.
    SuccessMarkerSeen,
    /// The log printed a failure marker: the job fails unless the script
    /// exits 0 with the success marker within `grace`.
    FailureMarkerSeen {
        marker: String,
        line: String,
        grace: Duration,
    },
    /// The script said `__RUNPOD_STEP_START__<name>__` (runpod-deploy's convention).
    ScriptStepStarted(String),
    /// The script said `__RUNPOD_STEP_DONE__<name>__`.
    ScriptStepCompleted(String),
    /// The wrapper recorded the script's exit status (-1 when unreadable).
    ExitReported(i32),
    Verdict(Verdict),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Exit 0 after the success marker. `ambiguous` notes a failure marker
    /// in the log as well.
    Success {
        ambiguous: Option<String>,
    },
    /// The success marker, and the script still running `grace` later:
    /// counted as a success (runpod-deploy's rule).
    StillRunningAfterSuccess {
        grace: Duration,
    },
    Failure(Failure),
}

/// A failure marker found in the log: streamed (with its line) or found by
/// the watcher's final search of the whole log.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkerInLog {
    pub marker: String,
    pub line: Option<String>,
}

impl MarkerInLog {
    fn describe(&self) -> String {
        match &self.line {
            Some(line) => format!("{:?} (line: {})", self.marker, truncate(line.trim(), 80)),
            None => format!("{:?}", self.marker),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A non-zero exit status.
    Exited {
        code: i32,
        after_success_marker: bool,
        marker: Option<MarkerInLog>,
    },
    /// Exit 0 without the success marker.
    NoSuccessMarker {
        success_marker: String,
        marker: Option<MarkerInLog>,
    },
    /// A failure marker, and no exit within the grace period.
    FailureMarker {
        marker: String,
        line: String,
        grace: Duration,
    },
    TimeBudget {
        limit: Duration,
    },
    CostCap {
        cap: Usd,
    },
    /// The on-pod guard killed the script at its deadline (`reason`: max
    /// runtime or cost cap), with no rpd there to do it.
    StoppedByGuard {
        reason: String,
    },
}

impl Failure {
    /// The reason the summary and the manifest give.
    pub fn reason(&self) -> String {
        let with_marker = |marker: &Option<MarkerInLog>| {
            marker
                .as_ref()
                .map(|m| format!("; the log has the failure marker {}", m.describe()))
                .unwrap_or_default()
        };
        match self {
            Failure::Exited {
                code,
                after_success_marker,
                marker,
            } => {
                let after = if *after_success_marker {
                    " (after printing the success marker)"
                } else {
                    ""
                };
                format!(
                    "the script exited with status {code}{after}{}",
                    with_marker(marker)
                )
            }
            Failure::NoSuccessMarker {
                success_marker,
                marker,
            } => format!(
                "the script exited 0 without printing the success marker {success_marker:?}{}",
                with_marker(marker)
            ),
            Failure::FailureMarker {
                marker,
                line,
                grace,
            } => format!(
                "the log has the failure marker {marker:?} in the line: {} (and the script did not exit within {})",
                line.trim(),
                duration(grace.as_secs())
            ),
            Failure::TimeBudget { limit } => format!(
                "the job exceeded its time budget of {} (budget.timeout from max_runtime_minutes or cost_cap_usd)",
                duration(limit.as_secs())
            ),
            Failure::CostCap { cap } => {
                format!("the job reached the cost cap of {cap} (budget.cost_cap_usd)")
            }
            Failure::StoppedByGuard { reason } => format!(
                "stopped by the on-pod guard: {reason} (its deadline passed while no rpd ended the job; the guard killed it and stopped the pod)"
            ),
        }
    }
}

/// The first failure marker streamed, and when.
#[derive(Debug, Clone)]
struct StreamedMarker {
    marker: String,
    line: String,
    at: Instant,
}

#[derive(Debug)]
pub struct VerdictMachine {
    rules: Rules,
    /// When the monitor started: the time budget counts from here.
    monitor_started: Instant,
    /// When the pod became usable: the spend counts from here.
    wall_started: Instant,
    success_at: Option<Instant>,
    failure_marker: Option<StreamedMarker>,
    /// A failure marker the watcher found in the whole log after the exit.
    final_failure_marker: Option<String>,
    last_line: String,
    exit_code: Option<i32>,
    decided: bool,
}

impl VerdictMachine {
    pub fn new(rules: Rules, wall_started: Instant, monitor_started: Instant) -> VerdictMachine {
        VerdictMachine {
            rules,
            monitor_started,
            wall_started,
            success_at: None,
            failure_marker: None,
            final_failure_marker: None,
            last_line: String::new(),
            exit_code: None,
            decided: false,
        }
    }

    /// The exit status the wrapper recorded, once reported.
    pub fn exit_code(&self) -> Option<i32> {
        self.exit_code
    }

    /// The last non-blank log line (for the progress display).
    pub fn last_line(&self) -> &str {
        &self.last_line
    }

    /// What the pod has cost since it became usable.
    pub fn spent(&self, now: Instant) -> Usd {
        let secs = now
            .saturating_duration_since(self.wall_started)
            .as_secs_f64();
        Usd(self.rules.budget.price_per_hr.0 * secs / 3600.0)
    }

    /// One line from the watcher: the log, or the watcher's own report
    /// (`<token> FAILMARK i`, `<token> SUCCESS 0|1`, `<token> EXIT n`).
    /// Only a line that starts with the token is a report: the token can
    /// be inside a log line (`ps` shows the watcher's command line).
    pub fn line(&mut self, line: &str, now: Instant) -> Vec<Decision> {
        if self.decided {
            return Vec::new();
        }
        if let Some(report) = line.strip_prefix(self.rules.token.as_str()) {
            return self.report(report, now);
        }
        self.log_line(line, now)
    }

    /// A piece of a log line too long to take whole (the rest of a line
    /// whose start came as [`VerdictMachine::line`]): never a report.
    pub fn log_line(&mut self, line: &str, now: Instant) -> Vec<Decision> {
        if self.decided {
            return Vec::new();
        }
        let mut seen = Vec::new();
        if line.contains(self.rules.success_marker.as_str()) && self.success_at.is_none() {
            self.success_at = Some(now);
            seen.push(Decision::SuccessMarkerSeen);
        }
        // A failure marker is a strong hint, not a verdict: the exit status
        // decides (harmless lines say "Killed" or "Traceback" too), unless
        // the script does not exit soon after it.
        if self.failure_marker.is_none()
            && let Some(marker) = self
                .rules
                .failure_markers
                .iter()
                .find(|m| line.contains(m.as_str()))
        {
            self.failure_marker = Some(StreamedMarker {
                marker: marker.clone(),
                line: line.to_string(),
                at: now,
            });
            seen.push(Decision::FailureMarkerSeen {
                marker: marker.clone(),
                line: line.to_string(),
                grace: self.rules.grace,
            });
        }
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("__RUNPOD_STEP_START__") {
            seen.push(Decision::ScriptStepStarted(
                rest.trim_end_matches("__").into(),
            ));
        }
        if let Some(rest) = trimmed.strip_prefix("__RUNPOD_STEP_DONE__") {
            seen.push(Decision::ScriptStepCompleted(
                rest.trim_end_matches("__").into(),
            ));
        }
        if !trimmed.is_empty() {
            self.last_line = line.to_string();
        }
        seen
    }

    fn report(&mut self, report: &str, now: Instant) -> Vec<Decision> {
        let mut words = report.split_whitespace();
        match (words.next(), words.next()) {
            (Some("FAILMARK"), Some(i)) => {
                if let Some(marker) = i
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| self.rules.failure_markers.get(i))
                {
                    self.final_failure_marker
                        .get_or_insert_with(|| marker.clone());
                }
            }
            (Some("SUCCESS"), Some("1")) => {
                self.success_at.get_or_insert(now);
            }
            (Some("EXIT"), code) => {
                let code = code.and_then(|c| c.parse().ok()).unwrap_or(-1);
                self.exit_code = Some(code);
                self.decided = true;
                // `<status> guard <reason>`: the on-pod guard killed it.
                let rest: Vec<&str> = words.collect();
                let verdict = match rest.split_first() {
                    Some((&"guard", reason)) => Verdict::Failure(Failure::StoppedByGuard {
                        reason: reason.join(" "),
                    }),
                    _ => self.judge_exit(code),
                };
                return vec![Decision::ExitReported(code), Decision::Verdict(verdict)];
            }
            _ => {}
        }
        Vec::new()
    }

    /// Exit status first, then markers.
    fn judge_exit(&self, code: i32) -> Verdict {
        let marker = self
            .failure_marker
            .as_ref()
            .map(|m| MarkerInLog {
                marker: m.marker.clone(),
                line: Some(m.line.clone()),
            })
            .or_else(|| {
                self.final_failure_marker.as_ref().map(|m| MarkerInLog {
                    marker: m.clone(),
                    line: None,
                })
            });
        if code != 0 {
            return Verdict::Failure(Failure::Exited {
                code,
                after_success_marker: self.success_at.is_some(),
                marker,
            });
        }
        if self.success_at.is_none() {
            return Verdict::Failure(Failure::NoSuccessMarker {
                success_marker: self.rules.success_marker.clone(),
                marker,
            });
        }
        Verdict::Success {
            ambiguous: marker.map(|m| {
                format!(
                    "the log also has the failure marker {}, but the script exited 0 after the success marker: counted as a success",
                    m.describe()
                )
            }),
        }
    }

    /// A clock tick: the grace periods, the time budget, the cost cap, in
    /// that order.
    pub fn tick(&mut self, now: Instant) -> Option<Verdict> {
        if self.decided {
            return None;
        }
        let grace = self.rules.grace;
        let since = |at: Instant| now.saturating_duration_since(at);
        let budget = &self.rules.budget;
        let verdict = if let Some(m) = self
            .failure_marker
            .as_ref()
            .filter(|m| since(m.at) >= grace)
        {
            Verdict::Failure(Failure::FailureMarker {
                marker: m.marker.clone(),
                line: m.line.clone(),
                grace,
            })
        } else if self.success_at.is_some_and(|at| since(at) >= grace) {
            Verdict::StillRunningAfterSuccess { grace }
        } else if since(self.monitor_started) >= budget.time_limit {
            Verdict::Failure(Failure::TimeBudget {
                limit: budget.time_limit,
            })
        } else if self.spent(now).0 >= budget.cost_cap.0 {
            Verdict::Failure(Failure::CostCap {
                cap: budget.cost_cap,
            })
        } else {
            return None;
        };
        self.decided = true;
        Some(verdict)
    }
}

#[cfg(test)]
mod tests;
