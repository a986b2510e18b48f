//! `plan --format markdown`: a plan ready to post as a pull-request
//! comment. A hidden marker naming the configs (so CI finds and updates its
//! own comment), the summary line first, a warning for every deletion and
//! replacement naming the fields that force it, the steps as a table, and
//! the full text plan in a `<details>` block as a `diff` (glyphs in column
//! 0, `~` as `!`, so GitHub colours them). The whole stays under GitHub's
//! 65,535-character limit: details that do not fit are left out, and the
//! comment says so.

use std::fmt::Write;

use super::{Palette, text, words};
use crate::model::PodStatus;
use crate::plan::review::DiffFacts;
use crate::plan::{Drift, Plan, PodAction, StepKind};

/// GitHub refuses comments longer than 65,535 characters; keep a margin.
pub const LIMIT: usize = 65_000;

/// One config of the comment: its plan, or why it could not be planned.
pub struct Entry<'a> {
    pub config: &'a str,
    pub outcome: Result<&'a Plan, &'a str>,
}

/// The hidden first line CI looks for: `<!-- rpd:plan paths=a.yaml,b.yaml -->`.
pub fn marker(kind: &str, paths: &[&str]) -> String {
    // `--` would end the comment early.
    let paths = paths.join(",").replace("--", "-\u{200b}-");
    format!("<!-- rpd:{kind} paths={paths} -->")
}

pub fn render(entries: &[Entry<'_>]) -> String {
    let paths: Vec<&str> = entries.iter().map(|e| e.config).collect();
    let mut head = String::new();
    let _ = writeln!(head, "{}", marker("plan", &paths));
    match entries {
        [one] => {
            let _ = writeln!(head, "### rpd plan: `{}`", one.config);
            let _ = writeln!(head);
            match one.outcome {
                Ok(plan) => {
                    let _ = writeln!(head, "**{}**", words::summary_line(&plan.report.summary));
                    if let Some(cost) = words::cost_line(&plan.report.cost, &plan.lifecycle) {
                        let _ = writeln!(head, "{cost}");
                    }
                }
                Err(error) => {
                    let _ = writeln!(head, ":x: **could not be planned:** {}", inline(error));
                }
            }
            let _ = writeln!(head);
            write_alerts(&mut head, entries);
            if let Ok(plan) = one.outcome {
                if let Some(line) = update_in_place(plan) {
                    let _ = writeln!(head, "{line}");
                    let _ = writeln!(head);
                }
                write_steps(&mut head, plan);
            }
        }
        many => {
            let mut summary = super::json::ConfigsSummary::default();
            for entry in many {
                summary.count(entry.outcome.ok());
            }
            let _ = writeln!(head, "### rpd plan: {} configs", many.len());
            let _ = writeln!(head);
            let _ = writeln!(head, "**{}**", words::configs_summary(&summary));
            let _ = writeln!(head);
            write_alerts(&mut head, entries);
            write_config_table(&mut head, many);
        }
    }
    let details: Vec<String> = entries
        .iter()
        .filter_map(|e| e.outcome.ok().map(|plan| details(e.config, plan)))
        .collect();
    fit(head, &details)
}

/// `rpd diff --format markdown`: for a pull request's config change, with
/// no account: the summary, a warning for a replacement, the changed keys
/// and the steps, and the full diff folded.
pub fn render_diff(plan: &Plan, facts: &DiffFacts) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "{}", marker("diff", &[facts.new.as_str()]));
    let _ = writeln!(head, "### rpd diff: `{}` → `{}`", facts.old, facts.new);
    let _ = writeln!(head);
    let _ = writeln!(head, "**{}**", words::summary_line(&plan.report.summary));
    let _ = writeln!(head);
    if let Some(sentence) = words::replacement_sentence(plan, "recycled pod") {
        let _ = writeln!(head, "> [!WARNING]");
        let _ = writeln!(head, "> :warning: **{}**.", inline(&capitalized(&sentence)));
        let _ = writeln!(head);
    }
    if let Some(line) = update_in_place(plan) {
        let _ = writeln!(head, "{line}");
        let _ = writeln!(head);
    }
    let _ = writeln!(head, "Planned against {}.", words::old_pod(&facts.old_pod));
    let _ = writeln!(head);
    if !facts.config_changes.is_empty() {
        let _ = writeln!(head, "| Key | Before | After |");
        let _ = writeln!(head, "|---|---|---|");
        for change in &facts.config_changes {
            let value = |v: &Option<serde_json::Value>| match v {
                None => "(not set)".to_string(),
                Some(v) => {
                    let text = v.to_string();
                    if text.len() > 80 {
                        "(long value)".into()
                    } else {
                        format!("`{}`", cell(&text))
                    }
                }
            };
            let _ = writeln!(
                head,
                "| `{}` | {} | {} |",
                change.key,
                value(&change.before),
                value(&change.after)
            );
        }
        let _ = writeln!(head);
    }
    write_steps(&mut head, plan);
    let text = super::text::render_diff(plan, facts, &Palette::new(false));
    let details = format!(
        "<details><summary>Full diff</summary>\n\n```diff\n{}```\n\n</details>\n",
        diff_glyphs(&text)
    );
    fit(head, &[details])
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `head`, then as many detail blocks as fit under [`LIMIT`], then a note
/// naming how many were left out.
pub fn fit(mut out: String, details: &[String]) -> String {
    let note = |left: usize| {
        format!(
            "\n_{left} of {} details left out to stay under GitHub's 65,535-character comment limit; run the command locally to see them._\n",
            details.len()
        )
    };
    let reserve = note(details.len()).len();
    if out.len() + reserve > LIMIT {
        // Even the summary is too long (thousands of configs): cut it at a line.
        let cut = out[..LIMIT - reserve].rfind('\n').map_or(0, |i| i + 1);
        out.truncate(cut);
        out.push_str("\n_The summary was cut to stay under GitHub's comment limit._\n");
        return out;
    }
    for (i, block) in details.iter().enumerate() {
        if out.len() + block.len() + reserve > LIMIT {
            out.push_str(&note(details.len() - i));
            return out;
        }
        out.push_str(block);
    }
    out
}

/// A ⚠ block for every pod that is deleted or replaced and for changes
/// made outside rpd; an ✖ line for every config that failed.
fn write_alerts(out: &mut String, entries: &[Entry<'_>]) {
    let mut lines = Vec::new();
    for entry in entries {
        let plan = match entry.outcome {
            Ok(plan) => plan,
            Err(error) => {
                lines.push(format!(
                    ":x: `{}` could not be planned: {}",
                    entry.config,
                    inline(error)
                ));
                continue;
            }
        };
        let where_ = if entries.len() > 1 {
            format!(" (`{}`)", entry.config)
        } else {
            String::new()
        };
        for problem in &plan.report.errors {
            lines.push(format!(
                ":x: **Error**{where_}: {}",
                inline(&words::plan_error(problem))
            ));
        }
        if let Some(line) = destruction(plan) {
            lines.push(format!("{line}{where_}"));
        }
        for step in plan.steps() {
            if let StepKind::DeletePod { pod_id, .. } = &step.kind
                && plan.report.pod.pod_id.as_deref() != Some(pod_id.as_str())
            {
                let why = step
                    .reason
                    .as_ref()
                    .map(|r| format!(" ({})", words::reason(r)))
                    .unwrap_or_default();
                lines.push(format!("**Pod `{pod_id}` will be deleted**{why}{where_}."));
            }
        }
        for drift in &plan.report.drift {
            lines.push(format!(
                "**Changed outside rpd**{where_}: {}",
                drift_words(drift)
            ));
        }
    }
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "> [!WARNING]");
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out, ">");
        }
        let _ = writeln!(out, "> {line}");
    }
    let _ = writeln!(out);
}

/// The headline of a replacement or deletion of the config's pod, naming
/// the fields that force it and what is lost.
pub fn destruction(plan: &Plan) -> Option<String> {
    let pod = &plan.report.pod;
    let name = &plan.job_name;
    let id = pod.pod_id.as_deref().unwrap_or("?");
    match pod.action {
        PodAction::Replace | PodAction::ReplaceRequested => {
            let forcing: Vec<String> = pod
                .fields
                .iter()
                .filter(|f| f.forces_replacement)
                .map(|f| {
                    let old = f.old.as_ref().map(words::field_value).unwrap_or_default();
                    let new = f.new.as_ref().map(words::field_value).unwrap_or_default();
                    format!("`{}` ({} → {})", f.field, inline(&old), inline(&new))
                })
                .collect();
            let because = if forcing.is_empty() {
                words::reason(&pod.reason)
            } else {
                format!("{} cannot change in place", forcing.join(", "))
            };
            Some(format!(
                ":warning: **Pod `{name}` ({id}) will be replaced**: {because}; {}.",
                words::replacement_loses(plan)
            ))
        }
        PodAction::Destroy => Some(format!(
            ":warning: **Pod `{name}` ({id}) will be destroyed** ({}).",
            words::reason(&pod.reason)
        )),
        _ => None,
    }
}

/// The headline of an update in place, marked `~` as in the text plan: no
/// warning, since the pod and its volume are kept.
pub fn update_in_place(plan: &Plan) -> Option<String> {
    let pod = &plan.report.pod;
    if pod.action != PodAction::Update {
        return None;
    }
    let changes: Vec<String> = pod
        .fields
        .iter()
        .map(|f| {
            let old = f.old.as_ref().map(words::field_value).unwrap_or_default();
            let new = f.new.as_ref().map(words::field_value).unwrap_or_default();
            format!("`{}` ({} → {})", f.field, inline(&old), inline(&new))
        })
        .collect();
    let then = if pod.status == Some(PodStatus::Exited) {
        ", then resumed"
    } else {
        ""
    };
    Some(format!(
        "`~` **Pod `{}` ({}) will be updated in place{then}**: {}; its volume is kept.",
        plan.job_name,
        pod.pod_id.as_deref().unwrap_or("?"),
        changes.join(", ")
    ))
}

fn drift_words(drift: &Drift) -> String {
    match drift {
        Drift::Deleted { pod_id } => format!("pod `{pod_id}` has been deleted"),
        Drift::Changed { pod_id, fields } => {
            let changes: Vec<String> = fields
                .iter()
                .map(|f| {
                    let old = f.old.as_ref().map(words::field_value).unwrap_or_default();
                    let new = f.new.as_ref().map(words::field_value).unwrap_or_default();
                    format!("`{}` {} → {}", f.field, inline(&old), inline(&new))
                })
                .collect();
            format!("pod `{pod_id}`: {}", changes.join(", "))
        }
    }
}

fn write_steps(out: &mut String, plan: &Plan) {
    let _ = writeln!(out, "| # | Step | Why |");
    let _ = writeln!(out, "|---|---|---|");
    for (i, step) in plan.steps().iter().enumerate() {
        let why = step
            .reason
            .as_ref()
            .map(|r| cell(&words::reason(r)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {why} |",
            i + 1,
            cell(&words::step(&step.kind, &plan.job_name))
        );
    }
    let _ = writeln!(out);
}

fn write_config_table(out: &mut String, entries: &[Entry<'_>]) {
    let _ = writeln!(out, "| Config | Pod | Plan |");
    let _ = writeln!(out, "|---|---|---|");
    for entry in entries {
        let (pod, plan) = match entry.outcome {
            Ok(plan) => {
                let mark = if !plan.report.errors.is_empty() {
                    ":x: "
                } else if warns(plan) {
                    ":warning: "
                } else {
                    ""
                };
                (
                    format!("{mark}{}", pod_word(plan)),
                    words::summary_line(&plan.report.summary),
                )
            }
            Err(error) => (":x: failed".to_string(), cell(error)),
        };
        let _ = writeln!(out, "| `{}` | {pod} | {plan} |", entry.config);
    }
    let _ = writeln!(out);
}

/// Whether the plan loses something or undoes a change made outside rpd:
/// a deletion, a replacement, or drift. A create or a resume is not.
fn warns(plan: &Plan) -> bool {
    destruction(plan).is_some()
        || !plan.report.drift.is_empty()
        || plan
            .steps()
            .iter()
            .any(|s| matches!(s.kind, StepKind::DeletePod { .. }))
}

fn pod_word(plan: &Plan) -> &'static str {
    match plan.report.pod.action {
        PodAction::Create => "create",
        PodAction::Replace => "replace",
        PodAction::ReplaceRequested => "replace (requested)",
        PodAction::Resume => "resume",
        PodAction::Update => "update in place",
        PodAction::Reuse => "reuse",
        PodAction::Destroy => "destroy",
        PodAction::Nothing => "none",
    }
}

/// The text plan of one config in a collapsed block.
fn details(config: &str, plan: &Plan) -> String {
    let text = text::render(plan, config, &Palette::new(false));
    format!(
        "<details><summary>Full plan: <code>{config}</code></summary>\n\n```diff\n{}```\n\n</details>\n",
        diff_glyphs(&text)
    )
}

/// Terraform's glyphs moved to column 0 (`~` as `!`) so that GitHub's diff
/// highlighting colours them; other lines shift by one to stay aligned.
pub fn diff_glyphs(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.lines().count());
    for line in text.lines() {
        let body = line.trim_start();
        let indent = line.len() - body.len();
        let glyph = ["-/+ ", "+ ", "- ", "~ "]
            .into_iter()
            .find(|g| body.starts_with(g));
        match glyph {
            Some(g) => {
                let mark = match g {
                    "+ " => '+',
                    "- " => '-',
                    _ => '!',
                };
                let _ = writeln!(
                    out,
                    "{mark}{}{}",
                    " ".repeat(indent + g.len() - 1),
                    &body[g.len()..]
                );
            }
            None => {
                let _ = writeln!(out, " {line}");
            }
        }
    }
    // A fence inside would end the block.
    out.replace("```", "'''")
}

/// Text for one table cell: no line breaks, `|` escaped.
fn cell(text: &str) -> String {
    inline(text).replace('|', "\\|")
}

/// Text for one line of Markdown.
fn inline(text: &str) -> String {
    text.lines().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_move_to_column_0_and_changes_read_as_bangs() {
        let text = "  + pod \"x\" {\n      ~ image = \"a\" -> \"b\"\n-/+ pod \"x\" {\n    }\n";
        assert_eq!(
            diff_glyphs(text),
            "+   pod \"x\" {\n!       image = \"a\" -> \"b\"\n!   pod \"x\" {\n     }\n"
        );
    }

    #[test]
    fn details_that_do_not_fit_are_left_out_with_a_note() {
        let block = "x".repeat(30_000);
        let out = fit("head\n".into(), &[block.clone(), block.clone(), block]);
        assert!(out.len() <= LIMIT, "{}", out.len());
        assert!(out.ends_with(
            "_1 of 3 details left out to stay under GitHub's 65,535-character comment limit; run the command locally to see them._\n"
        ));
    }

    #[test]
    fn a_marker_never_closes_early() {
        assert_eq!(
            marker("plan", &["a--b.yaml", "c.yaml"]),
            "<!-- rpd:plan paths=a-\u{200b}-b.yaml,c.yaml -->"
        );
    }
}
