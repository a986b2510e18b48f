//! The human plan: Terraform's glyphs and headlines, changed fields as
//! `old -> new` (the changed part emphasized with `similar` when in colour),
//! a separate block for changes made outside rpd, numbered steps, and the
//! frozen summary line.

use std::fmt::Write;

use similar::{ChangeTag, TextDiff};

use super::Palette;
use super::words;
use crate::model::{Candidate, PodStatus, Stock, Usd};
use crate::plan::review::DiffFacts;
use crate::plan::{Drift, FieldChange, FieldValue, Mode, Plan, PodAction, StateChange, StepKind};

const RULE: &str = "─────────────────────────────────────────────────────────────────────────────";

pub fn render(plan: &Plan, config: &str, p: &Palette) -> String {
    let mut out = String::new();
    let name = &plan.job_name;
    let report = &plan.report;
    let title = match plan.mode {
        Mode::Apply => format!("rpd plan for {config} (job {name:?})"),
        Mode::Destroy => format!("rpd destroy plan for {config} (job {name:?})"),
        Mode::Cleanup => format!("rpd cleanup plan for {config}"),
    };
    let _ = writeln!(out, "{}", p.bold.apply_to(title));
    let _ = writeln!(out);

    if !report.drift.is_empty() {
        out.push_str(&drift_block(&report.drift, name, p));
        let _ = writeln!(out, "{}", p.dim.apply_to(RULE));
        let _ = writeln!(out);
    }

    let pod = &report.pod;
    if plan.is_empty() && pod.action == PodAction::Nothing {
        // Errors here are about pods the provider cannot show (another API
        // key): "no changes" would hide them.
        if !report.errors.is_empty() {
            write_errors(&mut out, plan, p);
            return out;
        }
        let _ = writeln!(
            out,
            "{}",
            p.bold.apply_to(format!(
                "No changes. {}.",
                capitalize(&words::reason(&pod.reason))
            ))
        );
        write_state_only(&mut out, report.state_only_changes.as_slice(), p);
        // Why a cleanup found nothing to do is part of its answer.
        if plan.mode == Mode::Cleanup {
            let note = p.bold.apply_to("Note:").to_string();
            labelled(&mut out, &note, report.notes.iter().map(words::note));
        }
        return out;
    }

    // A plan with errors shows what it would have done, and why it won't.
    let refused = !report.errors.is_empty();
    if refused {
        let _ = writeln!(out, "rpd cannot carry out this plan (the errors say why):");
    } else {
        let _ = writeln!(out, "rpd will perform the following actions:");
    }
    let _ = writeln!(out);
    // A cleanup's pods are its steps, each with whose it is and why.
    if plan.mode != Mode::Cleanup {
        write_pod_block(&mut out, plan, p);
    }

    // A resume's candidates are its fallback (an update of a paused pod
    // resumes it too).
    if let Some((candidates, fallback)) = plan.steps().iter().find_map(|s| match &s.kind {
        StepKind::CreatePod { candidates } => Some((candidates.clone(), false)),
        StepKind::StartPod { fallback, .. } => Some((fallback.clone(), true)),
        _ => None,
    }) && (candidates.len() > 1 || !fallback)
    {
        let title = if fallback {
            "Candidates if the resume fails, in order:"
        } else {
            "Candidates, in order:"
        };
        let _ = writeln!(out, "  {title}");
        write_candidates(&mut out, &candidates, p);
        let _ = writeln!(out);
    }

    if refused {
        write_findings(&mut out, plan, p);
        write_errors(&mut out, plan, p);
        return out;
    }

    let _ = writeln!(out, "  Steps:");
    let steps = plan.steps();
    let width = steps.len().to_string().len();
    for (i, step) in steps.iter().enumerate() {
        let text = words::step(&step.kind, name);
        let reason = match &step.reason {
            Some(reason) => format!(
                " {}",
                p.dim.apply_to(format!("({})", words::reason(reason)))
            ),
            None => String::new(),
        };
        let _ = writeln!(out, "    {:>width$}. {text}{reason}", i + 1);
        if let StepKind::StartPod {
            pod_id, busy_host, ..
        } = &step.kind
        {
            let _ = writeln!(
                out,
                "    {:>width$}  {}",
                "",
                p.dim.apply_to(words::busy_host(pod_id, busy_host))
            );
        }
    }
    let _ = writeln!(out);

    if !report.retained.is_empty() && plan.mode == Mode::Apply {
        let _ = writeln!(out, "  Pods kept for forensics (not touched by this plan):");
        for r in &report.retained {
            let status = r.status.map(|s| s.as_str()).unwrap_or("unknown");
            let _ = writeln!(
                out,
                "    {} {status}, {} ({}/month); `rpd destroy` deletes it",
                r.pod_id,
                r.reason,
                Usd(r.per_month)
            );
        }
        let _ = writeln!(out);
    }
    write_findings(&mut out, plan, p);
    write_state_only(&mut out, report.state_only_changes.as_slice(), p);

    let _ = writeln!(
        out,
        "{}",
        p.bold.apply_to(words::summary_line(&report.summary))
    );
    if let Some(line) = words::cost_line(&report.cost, &plan.lifecycle) {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The warnings and notes, then a blank line.
fn write_findings(out: &mut String, plan: &Plan, p: &Palette) {
    let report = &plan.report;
    let warn = p.warn.apply_to("Warning:").to_string();
    labelled(out, &warn, report.warnings.iter().map(words::warning));
    let note = p.bold.apply_to("Note:").to_string();
    labelled(out, &note, report.notes.iter().map(words::note));
    if !report.warnings.is_empty() || !report.notes.is_empty() {
        let _ = writeln!(out);
    }
}

/// Why the plan cannot be carried out, then a blank line.
fn write_errors(out: &mut String, plan: &Plan, p: &Palette) {
    let errors = &plan.report.errors;
    if errors.is_empty() {
        return;
    }
    let error = p.remove.apply_to("Error:").to_string();
    labelled(out, &error, errors.iter().map(words::plan_error));
    let _ = writeln!(out, "Nothing can be applied until these are fixed.");
    let _ = writeln!(out);
}

/// `rpd diff`: the config's changed keys, then the plan of the new config
/// against the pod the old one leaves.
pub fn render_diff(plan: &Plan, facts: &DiffFacts, p: &Palette) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        p.bold.apply_to(format!(
            "rpd diff {} -> {} (job {:?})",
            facts.old, facts.new, plan.job_name
        ))
    );
    let _ = writeln!(out);
    if facts.config_changes.is_empty() {
        let _ = writeln!(out, "No config changes.");
    } else {
        let _ = writeln!(out, "Config changes:");
        for change in &facts.config_changes {
            let _ = writeln!(out, "  {}", words::config_change(change));
        }
    }
    let _ = writeln!(out);
    let pod_word = "recycled pod";
    if let Some(sentence) = words::replacement_sentence(plan, pod_word) {
        let _ = writeln!(out, "{} {sentence}.", p.warn.apply_to("Warning:"));
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "Planned against {}:", words::old_pod(&facts.old_pod));
    let plan_text = render(plan, &facts.new, p);
    // The plan's own title line is the diff's.
    let body = plan_text.split_once('\n').map_or("", |(_, rest)| rest);
    out.push_str(body);
    out
}

/// "Changes made outside rpd:" and what changed, pod by pod (the plan and
/// `rpd refresh` print it).
pub fn drift_block(drift: &[Drift], name: &str, p: &Palette) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", p.bold.apply_to("Changes made outside rpd:"));
    for drift in drift {
        match drift {
            Drift::Deleted { pod_id } => {
                let _ = writeln!(out, "  # pod {name:?} ({pod_id}) has been deleted");
            }
            Drift::Changed { pod_id, fields } => {
                let _ = writeln!(out, "  # pod {name:?} ({pod_id}) has changed");
                write_fields(&mut out, fields, 0, "      ", p);
            }
        }
    }
    out
}

/// One line per entry, after its label (`Warning:`, `Note:`, `Error:`).
fn labelled(out: &mut String, label: &str, lines: impl Iterator<Item = String>) {
    for line in lines {
        let _ = writeln!(out, "{label} {line}");
    }
}

fn write_state_only(out: &mut String, changes: &[StateChange], p: &Palette) {
    if changes.is_empty() {
        return;
    }
    let _ = writeln!(out, "  State only (no provider calls):");
    for change in changes {
        let _ = writeln!(
            out,
            "    {} {}",
            p.dim.apply_to("·"),
            words::state_change(change)
        );
    }
    let _ = writeln!(out);
}

fn write_pod_block(out: &mut String, plan: &Plan, p: &Palette) {
    let pod = &plan.report.pod;
    let name = &plan.job_name;
    let id = pod.pod_id.as_deref().unwrap_or("?");
    match pod.action {
        PodAction::Create => {
            let _ = writeln!(
                out,
                "  {}",
                p.bold.apply_to(format!("# pod {name:?} will be created"))
            );
            let _ = writeln!(out, "  {} pod {name:?} {{", p.add.apply_to("+"));
            let mut fields = pod.fields.clone();
            fields.push(FieldChange {
                field: "id".into(),
                old: None,
                new: None,
                forces_replacement: false,
                note: None,
            });
            write_fields(out, &fields, 0, "      ", p);
            let _ = writeln!(out, "    }}");
        }
        PodAction::Replace | PodAction::ReplaceRequested => {
            let headline = if pod.action == PodAction::ReplaceRequested {
                format!("# pod {name:?} will be replaced, as requested")
            } else {
                format!("# pod {name:?} must be replaced")
            };
            let _ = writeln!(out, "  {}", p.bold.apply_to(headline));
            if pod.action == PodAction::Replace {
                let _ = writeln!(out, "  # (because {})", words::reason(&pod.reason));
            }
            let _ = writeln!(out, "{} pod {name:?} {{", p.change.apply_to("-/+"));
            write_fields(out, &pod.fields, pod.unchanged, "      ", p);
            let _ = writeln!(out, "    }}");
        }
        PodAction::Resume => {
            let status = pod.status.map(|s| s.as_str()).unwrap_or("EXITED");
            let _ = writeln!(
                out,
                "  {}",
                p.bold.apply_to(format!(
                    "# pod {name:?} ({id}) will be resumed ({status} -> RUNNING)"
                ))
            );
            let _ = writeln!(out, "  {} pod {name:?} {{", p.change.apply_to("~"));
            let _ = writeln!(
                out,
                "      {} status = {:?} -> \"RUNNING\"",
                p.change.apply_to("~"),
                status
            );
            let _ = writeln!(
                out,
                "        {}",
                p.dim.apply_to("# (no attribute changes)")
            );
            let _ = writeln!(out, "    }}");
        }
        PodAction::Update => {
            let paused = pod.status == Some(PodStatus::Exited);
            let then = if paused {
                ", then resumed (EXITED -> RUNNING)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {}",
                p.bold.apply_to(format!(
                    "# pod {name:?} ({id}) will be updated in place{then}"
                ))
            );
            let _ = writeln!(out, "  # (because {})", words::reason(&pod.reason));
            let _ = writeln!(out, "  {} pod {name:?} {{", p.change.apply_to("~"));
            let mut fields = pod.fields.clone();
            if paused {
                fields.push(FieldChange {
                    field: "status".into(),
                    old: Some(FieldValue::text("EXITED")),
                    new: Some(FieldValue::text("RUNNING")),
                    forces_replacement: false,
                    note: None,
                });
            }
            write_fields(out, &fields, pod.unchanged, "      ", p);
            let _ = writeln!(out, "    }}");
        }
        // Refused with a plan error: nothing is done to it.
        PodAction::Reuse if pod.status == Some(crate::model::PodStatus::Unknown) => {
            let _ = writeln!(
                out,
                "  {}",
                p.bold.apply_to(format!(
                    "# pod {name:?} ({id}) is in a status rpd does not know; nothing is done to it"
                ))
            );
        }
        PodAction::Reuse => {
            let status = pod.status.map(|s| s.as_str()).unwrap_or("RUNNING");
            let _ = writeln!(
                out,
                "  {}",
                p.bold.apply_to(format!(
                    "# pod {name:?} ({id}) is already {status}; the job runs on it"
                ))
            );
        }
        PodAction::Destroy => {
            let _ = writeln!(
                out,
                "  {}",
                p.bold
                    .apply_to(format!("# pod {name:?} ({id}) will be destroyed"))
            );
            let _ = writeln!(out, "  # (because {})", words::reason(&pod.reason));
            let _ = writeln!(out, "  {} pod {name:?} {{", p.remove.apply_to("-"));
            write_fields(out, &pod.fields, 0, "      ", p);
            let _ = writeln!(out, "    }}");
        }
        PodAction::Nothing => {
            let _ = writeln!(out, "  # {}", words::reason(&pod.reason));
        }
    }
    let _ = writeln!(out);
}

fn write_fields(
    out: &mut String,
    fields: &[FieldChange],
    hidden: usize,
    indent: &str,
    p: &Palette,
) {
    let width = fields.iter().map(|f| f.field.len()).max().unwrap_or(0);
    for f in fields {
        let old = f.old.as_ref().map(words::field_value);
        let new = f.new.as_ref().map(|new| match f.note {
            Some(note) => format!("{} ({})", words::field_value(new), words::field_note(note)),
            None => words::field_value(new),
        });
        let (glyph, value) = match (old, new) {
            (None, Some(new)) => (p.add.apply_to("+").to_string(), new),
            (None, None) => (
                p.add.apply_to("+").to_string(),
                p.dim.apply_to("(known after apply)").to_string(),
            ),
            (Some(old), None) if f.field == "id" => (
                p.change.apply_to("~").to_string(),
                format!("{old} -> {}", p.dim.apply_to("(known after apply)")),
            ),
            (Some(old), None) => (p.remove.apply_to("-").to_string(), old),
            (Some(old), Some(new)) => (p.change.apply_to("~").to_string(), changed(&old, &new, p)),
        };
        let forces = if f.forces_replacement {
            format!(" {}", p.remove.apply_to("# forces replacement"))
        } else {
            String::new()
        };
        let _ = writeln!(out, "{indent}{glyph} {:<width$} = {value}{forces}", f.field);
    }
    if hidden > 0 {
        let s = if hidden == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "{indent}  {}",
            p.dim
                .apply_to(format!("# ({hidden} unchanged attribute{s} hidden)"))
        );
    }
}

/// `old -> new`, with the characters that differ emphasized when styled.
fn changed(old: &str, new: &str, p: &Palette) -> String {
    let diff = TextDiff::from_chars(old, new);
    let mut before = String::new();
    let mut after = String::new();
    for change in diff.iter_all_changes() {
        let text = change.value();
        match change.tag() {
            ChangeTag::Equal => {
                before.push_str(text);
                after.push_str(text);
            }
            ChangeTag::Delete => before.push_str(&p.remove.apply_to(text).to_string()),
            ChangeTag::Insert => after.push_str(&p.add.apply_to(text).to_string()),
        }
    }
    format!("{before} -> {after}")
}

fn write_candidates(out: &mut String, candidates: &[Candidate], p: &Palette) {
    // Name the cloud only when the list mixes clouds (--fallback-cloud-type).
    let mixed = candidates
        .iter()
        .any(|c| c.cloud_type != candidates[0].cloud_type);
    let place = |c: &Candidate| {
        if mixed {
            format!("{} / {} ({})", c.datacenter_id, c.gpu_id, c.cloud_type)
        } else {
            format!("{} / {}", c.datacenter_id, c.gpu_id)
        }
    };
    let width = candidates.iter().map(|c| place(c).len()).max().unwrap_or(0);
    for (i, c) in candidates.iter().enumerate() {
        let place = place(c);
        let price = c
            .price_per_hr
            .map(|x| format!("{}/hr", Usd(x)))
            .unwrap_or_else(|| "price unknown".into());
        let stock = match (&c.invalid, c.stock) {
            (Some(invalid), _) => p
                .remove
                .apply_to(format!("invalid: {}", words::invalid_candidate(invalid)))
                .to_string(),
            (None, Stock::None) => p.dim.apply_to("stock none, skipped").to_string(),
            (None, Stock::Unknown) => "stock unknown".to_string(),
            (None, s) => format!("stock {}", s.as_str()),
        };
        let _ = writeln!(
            out,
            "    {:>2}. {place:<width$}  {price:>12}  {stock}",
            i + 1
        );
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
