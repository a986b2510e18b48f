//! The verdict table: one case per row, each a sequence of watcher lines
//! and clock ticks at given seconds, and what the machine decided.

use std::time::{Duration, Instant};

use super::*;

const TOKEN: &str = "__RPD_0123456789abcdef0123456789abcdef__";
const GRACE: u64 = 30;

struct Case {
    machine: VerdictMachine,
    t0: Instant,
    decisions: Vec<Decision>,
}

fn rules(time_limit: u64, cost_cap: f64, price_per_hr: f64) -> Rules {
    Rules {
        token: TOKEN.into(),
        success_marker: "JOB_DONE".into(),
        failure_markers: vec!["Traceback".into(), "Killed".into()],
        grace: Duration::from_secs(GRACE),
        budget: Budget {
            time_limit: Duration::from_secs(time_limit),
            cost_cap: Usd(cost_cap),
            price_per_hr: Usd(price_per_hr),
            time_limit_is_max_runtime: true,
        },
    }
}

impl Case {
    /// An hour of time budget, $10 of cap at $1/hr: neither fires unless a
    /// row asks.
    fn new() -> Case {
        Case::with(rules(3600, 10.0, 1.0), 0)
    }

    /// `wall_head_start`: how many seconds the pod was usable before the
    /// monitor started.
    fn with(rules: Rules, wall_head_start: u64) -> Case {
        let t0 = Instant::now();
        let wall = t0
            .checked_sub(Duration::from_secs(wall_head_start))
            .unwrap();
        Case {
            machine: VerdictMachine::new(rules, wall, t0),
            t0,
            decisions: Vec::new(),
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn line(mut self, secs: u64, text: &str) -> Case {
        let now = self.at(secs);
        let seen = self.machine.line(text, now);
        self.decisions.extend(seen);
        self
    }

    /// A report line from the watcher: `<token> <words>`.
    fn report(self, secs: u64, words: &str) -> Case {
        self.line(secs, &format!("{TOKEN} {words}"))
    }

    fn tick(mut self, secs: u64) -> Case {
        let now = self.at(secs);
        if let Some(verdict) = self.machine.tick(now) {
            self.decisions.push(Decision::Verdict(verdict));
        }
        self
    }

    fn verdict(&self) -> Option<&Verdict> {
        self.decisions.iter().find_map(|d| match d {
            Decision::Verdict(v) => Some(v),
            _ => None,
        })
    }

    fn failure_reason(&self) -> String {
        match self.verdict() {
            Some(Verdict::Failure(f)) => f.reason(),
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}

fn failure_marker_seen(marker: &str, line: &str) -> Decision {
    Decision::FailureMarkerSeen {
        marker: marker.into(),
        line: line.into(),
        grace: Duration::from_secs(GRACE),
    }
}

#[test]
fn row1_exit_0_after_the_success_marker_succeeds() {
    let case = Case::new()
        .line(1, "training...")
        .line(2, "JOB_DONE")
        .report(3, "SUCCESS 1")
        .report(3, "EXIT 0");
    assert_eq!(
        case.decisions,
        [
            Decision::SuccessMarkerSeen,
            Decision::ExitReported(0),
            Decision::Verdict(Verdict::Success { ambiguous: None }),
        ]
    );
    assert_eq!(case.machine.exit_code(), Some(0));
}

#[test]
fn row2_exit_0_without_the_success_marker_fails() {
    let case = Case::new()
        .line(1, "training...")
        .report(2, "SUCCESS 0")
        .report(2, "EXIT 0");
    assert_eq!(
        case.verdict(),
        Some(&Verdict::Failure(Failure::NoSuccessMarker {
            success_marker: "JOB_DONE".into(),
            marker: None,
        }))
    );
    assert_eq!(
        case.failure_reason(),
        "the script exited 0 without printing the success marker \"JOB_DONE\""
    );
}

#[test]
fn row3_nonzero_exit_after_the_success_marker_fails_and_says_so() {
    let case = Case::new()
        .line(1, "JOB_DONE")
        .report(2, "SUCCESS 1")
        .report(2, "EXIT 2");
    assert_eq!(
        case.failure_reason(),
        "the script exited with status 2 (after printing the success marker)"
    );
    assert_eq!(case.machine.exit_code(), Some(2));
}

#[test]
fn row3b_nonzero_exit_without_markers_fails_at_once() {
    let case = Case::new().line(1, "working").report(1, "EXIT 1");
    assert_eq!(case.failure_reason(), "the script exited with status 1");
}

#[test]
fn row4_failure_marker_then_exit_0_with_the_success_marker_succeeds_with_a_note() {
    let traceback = "  Traceback (most recent call last): harmless, retried";
    let case = Case::new()
        .line(1, traceback)
        .line(5, "JOB_DONE")
        .report(6, "FAILMARK 0")
        .report(6, "SUCCESS 1")
        .report(6, "EXIT 0");
    assert_eq!(
        case.decisions,
        [
            failure_marker_seen("Traceback", traceback),
            Decision::SuccessMarkerSeen,
            Decision::ExitReported(0),
            Decision::Verdict(Verdict::Success {
                ambiguous: Some(
                    "the log also has the failure marker \"Traceback\" (line: Traceback (most recent call last): harmless, retried), but the script exited 0 after the success marker: counted as a success".into()
                ),
            }),
        ]
    );
}

#[test]
fn row5_failure_marker_and_no_exit_within_grace_fails() {
    let case = Case::new()
        .line(1, "CUDA error: Killed by the OOM killer")
        .tick(GRACE)
        .tick(GRACE + 1);
    assert_eq!(
        case.decisions,
        [
            failure_marker_seen("Killed", "CUDA error: Killed by the OOM killer"),
            Decision::Verdict(Verdict::Failure(Failure::FailureMarker {
                marker: "Killed".into(),
                line: "CUDA error: Killed by the OOM killer".into(),
                grace: Duration::from_secs(GRACE),
            })),
        ]
    );
    assert_eq!(
        case.failure_reason(),
        "the log has the failure marker \"Killed\" in the line: CUDA error: Killed by the OOM killer (and the script did not exit within 30s)"
    );
}

#[test]
fn row5b_an_exit_within_the_grace_decides_instead_of_the_marker() {
    let case = Case::new()
        .line(1, "Traceback (most recent call last):")
        .tick(GRACE)
        .report(GRACE, "EXIT 1");
    assert_eq!(
        case.failure_reason(),
        "the script exited with status 1; the log has the failure marker \"Traceback\" (line: Traceback (most recent call last):)"
    );
}

#[test]
fn row6_success_marker_and_still_running_past_grace_counts_as_success() {
    let case = Case::new().line(1, "JOB_DONE").tick(GRACE).tick(GRACE + 1);
    assert_eq!(
        case.verdict(),
        Some(&Verdict::StillRunningAfterSuccess {
            grace: Duration::from_secs(GRACE)
        })
    );
    assert_eq!(case.machine.exit_code(), None);
}

#[test]
fn row6b_the_failure_marker_grace_is_judged_before_the_success_one() {
    let case = Case::new()
        .line(1, "JOB_DONE")
        .line(1, "Killed")
        .tick(GRACE + 1);
    assert!(matches!(
        case.verdict(),
        Some(Verdict::Failure(Failure::FailureMarker { .. }))
    ));
}

#[test]
fn row7_time_budget_counts_from_the_monitor_start() {
    let case = Case::with(rules(120, 10.0, 1.0), 3000).tick(119).tick(120);
    assert_eq!(
        case.decisions,
        [Decision::Verdict(Verdict::Failure(Failure::TimeBudget {
            limit: Duration::from_secs(120)
        }))]
    );
    assert_eq!(
        case.failure_reason(),
        "the job exceeded its time budget of 2m00s (budget.timeout from max_runtime_minutes or cost_cap_usd)"
    );
}

#[test]
fn row8_cost_cap_counts_from_when_the_pod_became_usable() {
    // $3.60/hr is $0.001/s; the pod was usable 100 s before the monitor.
    let case = Case::with(rules(3600, 0.5, 3.6), 100).tick(399).tick(400);
    assert_eq!(case.decisions.len(), 1, "{:?}", case.decisions);
    assert_eq!(
        case.failure_reason(),
        "the job reached the cost cap of $0.50 (budget.cost_cap_usd)"
    );
    assert_eq!(case.machine.spent(case.at(400)), Usd(3.6 * 500.0 / 3600.0));
}

#[test]
fn row8b_the_time_budget_is_judged_before_the_cost_cap() {
    let case = Case::with(rules(10, 0.001, 3.6), 0).tick(10);
    assert!(matches!(
        case.verdict(),
        Some(Verdict::Failure(Failure::TimeBudget { .. }))
    ));
}

#[test]
fn row9_watcher_reports_interleave_with_log_lines() {
    let case = Case::new()
        .line(1, "epoch 1")
        .report(2, "FAILMARK 1")
        .line(2, "epoch 2")
        .report(2, "SUCCESS 1")
        .report(2, "EXIT 0");
    // The success marker came from the watcher's search of the whole log
    // (the stream missed it): no line for it, but it counts.
    assert_eq!(
        case.decisions,
        [
            Decision::ExitReported(0),
            Decision::Verdict(Verdict::Success {
                ambiguous: Some(
                    "the log also has the failure marker \"Killed\", but the script exited 0 after the success marker: counted as a success".into()
                ),
            }),
        ]
    );
    assert_eq!(
        case.machine.last_line(),
        "epoch 2",
        "reports are not log lines"
    );
}

#[test]
fn row9b_malformed_reports_are_ignored_and_an_unreadable_exit_is_minus_1() {
    let case = Case::new()
        .report(1, "FAILMARK 7")
        .report(1, "FAILMARK x")
        .report(1, "FAILMARK")
        .report(1, "SUCCESS 2")
        .report(1, "SUCCESS")
        .report(1, "HELLO 1")
        .line(1, &format!("echo {TOKEN} EXIT 0"))
        .report(2, "EXIT");
    assert_eq!(
        case.failure_reason(),
        "the script exited with status -1",
        "no marker, no success: nothing malformed counted"
    );
    assert_eq!(case.machine.exit_code(), Some(-1));
    assert_eq!(
        Case::new()
            .report(1, "EXIT not-a-number")
            .machine
            .exit_code(),
        Some(-1)
    );
}

#[test]
fn row9c_the_streamed_marker_is_named_before_the_one_found_after_the_exit() {
    let case = Case::new()
        .line(1, "Killed one worker")
        .report(2, "FAILMARK 0")
        .report(2, "FAILMARK 1")
        .report(2, "EXIT 137");
    assert_eq!(
        case.failure_reason(),
        "the script exited with status 137; the log has the failure marker \"Killed\" (line: Killed one worker)"
    );
    let found = Case::new()
        .report(2, "FAILMARK 1")
        .report(2, "FAILMARK 0")
        .report(2, "EXIT 0");
    assert_eq!(
        found.failure_reason(),
        "the script exited 0 without printing the success marker \"JOB_DONE\"; the log has the failure marker \"Killed\"",
        "the first reported wins"
    );
}

#[test]
fn row10_only_the_first_streamed_failure_marker_is_kept() {
    let case = Case::new()
        .line(1, "Traceback 1")
        .line(2, "Killed")
        .line(3, "Traceback 2");
    assert_eq!(
        case.decisions,
        [failure_marker_seen("Traceback", "Traceback 1")]
    );
}

#[test]
fn row11_script_steps_are_reported_and_the_last_line_kept() {
    let case = Case::new()
        .line(1, "  __RUNPOD_STEP_START__train__  ")
        .line(2, "__RUNPOD_STEP_DONE__train__")
        .line(3, "   ");
    assert_eq!(
        case.decisions,
        [
            Decision::ScriptStepStarted("train".into()),
            Decision::ScriptStepCompleted("train".into()),
        ]
    );
    assert_eq!(case.machine.last_line(), "__RUNPOD_STEP_DONE__train__");
}

#[test]
fn row12_nothing_is_decided_twice() {
    let case = Case::new()
        .line(1, "JOB_DONE")
        .report(1, "EXIT 0")
        .line(2, "Traceback")
        .report(2, "EXIT 1")
        .tick(10_000);
    assert_eq!(
        case.decisions,
        [
            Decision::SuccessMarkerSeen,
            Decision::ExitReported(0),
            Decision::Verdict(Verdict::Success { ambiguous: None }),
        ]
    );
}

#[test]
fn row13_a_line_with_both_markers_reports_both() {
    let case = Case::new().line(1, "JOB_DONE but Traceback");
    assert_eq!(
        case.decisions,
        [
            Decision::SuccessMarkerSeen,
            failure_marker_seen("Traceback", "JOB_DONE but Traceback"),
        ]
    );
}

#[test]
fn row14_the_rest_of_a_long_line_is_never_a_report() {
    let case = Case::new();
    let mut machine = case.machine;
    assert_eq!(
        machine.log_line(&format!("{TOKEN} EXIT 0"), case.t0),
        Vec::<Decision>::new()
    );
    assert_eq!(machine.exit_code(), None);
}
