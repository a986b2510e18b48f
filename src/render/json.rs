//! `plan --format json`: the same plan as data, versioned. Readers must
//! reject an unknown major `format_version`.

use serde::Serialize;

use crate::plan::{Mode, Plan, PlanReport, Step};

pub const FORMAT_VERSION: &str = "1.0";

#[derive(Serialize)]
struct StepDoc<'a> {
    n: usize,
    #[serde(flatten)]
    step: &'a Step,
    /// Step numbers that must finish first.
    after: Vec<usize>,
}

#[derive(Serialize)]
struct PlanDoc<'a> {
    format_version: &'static str,
    rpd_version: &'static str,
    config: &'a str,
    job_name: &'a str,
    mode: Mode,
    summary_line: String,
    #[serde(flatten)]
    report: &'a PlanReport,
    steps: Vec<StepDoc<'a>>,
}

pub fn document(plan: &Plan, config: &str) -> serde_json::Value {
    let ordered = plan.ordered();
    let number = |node| ordered.iter().position(|(n, _)| *n == node).map(|i| i + 1);
    let steps = ordered
        .iter()
        .enumerate()
        .map(|(i, (node, step))| StepDoc {
            n: i + 1,
            step,
            after: plan
                .graph
                .neighbors_directed(*node, petgraph::Direction::Incoming)
                .filter_map(number)
                .collect(),
        })
        .collect();
    let doc = PlanDoc {
        format_version: FORMAT_VERSION,
        rpd_version: env!("CARGO_PKG_VERSION"),
        config,
        job_name: &plan.job_name,
        mode: plan.mode,
        summary_line: plan.report.summary.line(),
        report: &plan.report,
        steps,
    };
    serde_json::to_value(doc).expect("plans serialize")
}
