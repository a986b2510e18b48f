//! `plan --format json`: the same plan as data, versioned, one shape for one
//! config or many: `{"format_version", "rpd_version", "summary", "configs":
//! [...]}`. Readers must reject an unknown major `format_version`
//! ([`parse`] does). Values are JSON values; every reason, warning, note and
//! state change is typed (`kind` plus its data) and carries the sentence the
//! text plan prints as `message`. A saved plan (`rpd plan -o`) is this
//! document with each config's `saved` facts and a `digest` of all of it
//! ([`sealed`]: any edit of a step, a lifecycle branch, a reason or a
//! summary breaks it, [`seal`]); [`plan_of`] turns a config's entry back
//! into the [`Plan`] it was made from, so that `show` renders and `apply`
//! carries out exactly that plan. `schemas/plan.schema.json` is
//! [`schema`]'s output.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::words;
use crate::model::{Lifecycle, PodStatus, Storage};
use crate::plan::review::DiffFacts;
use crate::plan::saved::SavedFacts;
use crate::plan::{
    CostReport, Drift, FieldChange, Mode, Note, Plan, PlanError, PlanReport, PodAction, PodChange,
    Reason, RetainedNote, StateChange, Step, StepKind, Summary, Warning,
};

/// 3.0: one shape for one config or many, per-pod `actions`, `before` and
/// `after` for field values, the lifecycle, and the saved plan's facts.
pub const FORMAT_VERSION: &str = "3.0";
const MAJOR: &str = "3";

/// The whole output of `rpd plan --format json` (and a saved plan).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Document {
    pub format_version: String,
    pub rpd_version: String,
    /// In a saved plan: `sha256:<hex>` of everything else in the document,
    /// whatever its formatting; `rpd apply` refuses a saved plan it does
    /// not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub summary: ConfigsSummary,
    pub configs: Vec<ConfigEntry>,
}

/// How the configs of one run came out; `failed` counts configs that could
/// not be planned and plans with errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigsSummary {
    pub configs: usize,
    /// Pods change beyond the routine run (see `changes_beyond_routine`).
    pub with_pod_changes: usize,
    /// Only the routine run: resume or reuse the pod, the job, the lifecycle.
    pub routine: usize,
    pub failed: usize,
}

impl ConfigsSummary {
    /// Counts one config's outcome.
    pub fn count(&mut self, plan: Option<&Plan>) {
        self.configs += 1;
        match plan {
            Some(plan) if plan.report.errors.is_empty() => {
                if plan.report.changes_beyond_routine {
                    self.with_pod_changes += 1;
                } else {
                    self.routine += 1;
                }
            }
            _ => self.failed += 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ConfigEntry {
    Planned(Box<ConfigPlan>),
    Failed(FailedConfig),
}

/// A config that could not be planned.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FailedConfig {
    pub config: String,
    /// What went wrong, as rpd printed it.
    pub error: String,
}

/// A typed entry and its sentence.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Worded<T> {
    #[serde(flatten)]
    pub entry: T,
    pub message: String,
}

fn worded<T: Clone>(entry: &T, word: impl Fn(&T) -> String) -> Worded<T> {
    Worded {
        message: word(entry),
        entry: entry.clone(),
    }
}

/// What happens to one pod, Terraform style: scan `actions` for `delete`
/// to find every pod that goes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PodEntry {
    /// `pod.<job name>` for the config's pod (a replacement keeps it),
    /// `retained.<id>` for a pod kept for forensics, `duplicate.<id>` for a
    /// pod of an interrupted create.
    pub address: String,
    /// `null` for a pod not created yet.
    pub pod_id: Option<String>,
    pub actions: Vec<PodActionWord>,
    pub reason: Option<Worded<Reason>>,
    /// The fields that change, `before` and `after` as JSON values.
    pub changes: Vec<FieldChange>,
    /// The fields that force a replacement.
    pub replace_paths: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PodActionWord {
    Create,
    Delete,
    Start,
    /// The pod runs already; the job runs on it.
    NoOp,
    /// Changed in place, keeping the pod and its volume (Terraform's
    /// "update"); a paused pod's is `["update", "start"]`.
    Update,
    /// Found by name and recorded in the state.
    Read,
    /// Dropped from the state: it no longer exists.
    Forget,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PodDoc {
    pub action: PodAction,
    pub pod_id: Option<String>,
    pub status: Option<PodStatus>,
    pub fields: Vec<FieldChange>,
    pub unchanged: usize,
    pub reason: Worded<Reason>,
    /// The storage of the pod a replace or destroy deletes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_storage: Option<Storage>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StepDoc {
    pub n: usize,
    #[serde(flatten)]
    pub kind: StepKind,
    pub reason: Option<Worded<Reason>>,
    /// Step numbers that must finish first.
    pub after: Vec<usize>,
}

/// One config's plan.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ConfigPlan {
    pub config: String,
    pub job_name: String,
    pub mode: Mode,
    pub summary_line: String,
    /// Pods change beyond the routine run: a create, update in place,
    /// replace or delete, or a change made outside rpd (`plan
    /// --detailed-exitcode` exits 2).
    pub changes_beyond_routine: bool,
    /// Applying would call the provider to change a pod or run the job.
    pub has_pod_changes: bool,
    pub pods: Vec<PodEntry>,
    pub pod: PodDoc,
    pub drift: Vec<Drift>,
    pub retained: Vec<RetainedNote>,
    pub warnings: Vec<Worded<Warning>>,
    pub notes: Vec<Worded<Note>>,
    /// Present when the plan cannot be applied: what to fix first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Worded<PlanError>>,
    pub summary: Summary,
    pub state_only_changes: Vec<Worded<StateChange>>,
    pub cost: CostReport,
    /// What happens to the pod after the job.
    pub lifecycle: Lifecycle,
    pub steps: Vec<StepDoc>,
    /// In a saved plan: what it was made from (see `rpd apply PLAN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved: Option<SavedFacts>,
    /// From `rpd diff`: the two configs, the pod assumed, the keys changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<DiffFacts>,
}

impl Document {
    /// The document of one run's configs, in order.
    pub fn new(configs: Vec<ConfigEntry>) -> Document {
        let mut summary = ConfigsSummary::default();
        for entry in &configs {
            match entry {
                ConfigEntry::Planned(config) => match plan_of(config) {
                    Ok(plan) => summary.count(Some(&plan)),
                    Err(_) => summary.count(None),
                },
                ConfigEntry::Failed(_) => summary.count(None),
            }
        }
        Document {
            format_version: FORMAT_VERSION.into(),
            rpd_version: env!("CARGO_PKG_VERSION").into(),
            digest: None,
            summary,
            configs,
        }
    }
}

/// One config's plan as data.
pub fn config_plan(plan: &Plan, config: &str) -> ConfigPlan {
    let report = &plan.report;
    let ordered = plan.ordered();
    let number = |node| ordered.iter().position(|(n, _)| *n == node).map(|i| i + 1);
    let steps = ordered
        .iter()
        .enumerate()
        .map(|(i, (node, step))| StepDoc {
            n: i + 1,
            kind: step.kind.clone(),
            reason: step.reason.as_ref().map(|r| worded(r, words::reason)),
            after: plan
                .graph
                .neighbors_directed(*node, petgraph::Direction::Incoming)
                .filter_map(number)
                .collect(),
        })
        .collect();
    let pod = &report.pod;
    ConfigPlan {
        config: config.to_string(),
        job_name: plan.job_name.clone(),
        mode: plan.mode,
        summary_line: words::summary_line(&report.summary),
        changes_beyond_routine: report.changes_beyond_routine,
        has_pod_changes: report.has_pod_changes,
        pods: pod_entries(plan),
        pod: PodDoc {
            action: pod.action,
            pod_id: pod.pod_id.clone(),
            status: pod.status,
            fields: pod.fields.clone(),
            unchanged: pod.unchanged,
            reason: worded(&pod.reason, words::reason),
            deleted_storage: pod.deleted_storage.clone(),
        },
        drift: report.drift.clone(),
        retained: report.retained.clone(),
        warnings: report
            .warnings
            .iter()
            .map(|w| worded(w, words::warning))
            .collect(),
        notes: report
            .notes
            .iter()
            .map(|n| worded(n, words::note))
            .collect(),
        errors: report
            .errors
            .iter()
            .map(|e| worded(e, words::plan_error))
            .collect(),
        summary: report.summary,
        state_only_changes: report
            .state_only_changes
            .iter()
            .map(|c| worded(c, words::state_change))
            .collect(),
        cost: report.cost.clone(),
        lifecycle: plan.lifecycle,
        steps,
        saved: None,
        diff: None,
    }
}

/// Every pod the plan touches or keeps, with its actions before the job.
fn pod_entries(plan: &Plan) -> Vec<PodEntry> {
    let pod = &plan.report.pod;
    let main_address = format!("pod.{}", plan.job_name);
    let mut entries = Vec::new();
    let main_actions: &[PodActionWord] = match pod.action {
        PodAction::Create => &[PodActionWord::Create],
        PodAction::Replace | PodAction::ReplaceRequested => {
            &[PodActionWord::Delete, PodActionWord::Create]
        }
        PodAction::Resume => &[PodActionWord::Start],
        PodAction::Update if starts(plan, pod.pod_id.as_deref()) => {
            &[PodActionWord::Update, PodActionWord::Start]
        }
        PodAction::Update => &[PodActionWord::Update],
        PodAction::Reuse => &[PodActionWord::NoOp],
        PodAction::Destroy => &[PodActionWord::Delete],
        PodAction::Nothing => &[],
    };
    if !main_actions.is_empty() {
        entries.push(PodEntry {
            address: main_address,
            pod_id: pod.pod_id.clone(),
            actions: main_actions.to_vec(),
            reason: Some(worded(&pod.reason, words::reason)),
            changes: pod.fields.clone(),
            replace_paths: pod
                .fields
                .iter()
                .filter(|f| f.forces_replacement)
                .map(|f| f.field.clone())
                .collect(),
        });
    }
    let main_id = pod.pod_id.as_deref();
    for step in plan.steps() {
        let (address, pod_id, action) = match &step.kind {
            StepKind::DeletePod { pod_id, why } if Some(pod_id.as_str()) != main_id => {
                let what = if *why == crate::plan::DeleteReason::Duplicate {
                    "duplicate"
                } else {
                    "retained"
                };
                (format!("{what}.{pod_id}"), pod_id, PodActionWord::Delete)
            }
            StepKind::ForgetPod { pod_id } => {
                (format!("retained.{pod_id}"), pod_id, PodActionWord::Forget)
            }
            StepKind::AdoptPod { pod_id } => (
                format!("pod.{}", plan.job_name),
                pod_id,
                PodActionWord::Read,
            ),
            _ => continue,
        };
        entries.push(PodEntry {
            address,
            pod_id: Some(pod_id.clone()),
            actions: vec![action],
            reason: step.reason.as_ref().map(|r| worded(r, words::reason)),
            changes: Vec::new(),
            replace_paths: Vec::new(),
        });
    }
    if plan.mode == Mode::Apply {
        for kept in &plan.report.retained {
            entries.push(PodEntry {
                address: format!("retained.{}", kept.pod_id),
                pod_id: Some(kept.pod_id.clone()),
                actions: vec![PodActionWord::NoOp],
                reason: None,
                changes: Vec::new(),
                replace_paths: Vec::new(),
            });
        }
    }
    entries
}

/// The plan starts this pod (a paused pod's update resumes it after).
fn starts(plan: &Plan, pod_id: Option<&str>) -> bool {
    plan.steps().iter().any(|step| {
        matches!(&step.kind, StepKind::StartPod { pod_id: id, .. } if Some(id.as_str()) == pod_id)
    })
}

/// Why a plan document cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a JSON plan of rpd: {0}")]
    NotJson(String),
    #[error(
        "format_version {found:?} is not one this rpd reads (it reads {MAJOR}.x); make the plan again with this rpd"
    )]
    UnsupportedVersion { found: String },
    #[error("step {step} of {config} comes after step {after}, which is not before it")]
    BadOrder {
        config: String,
        step: usize,
        after: usize,
    },
}

/// `doc` as a saved plan's text: pretty JSON whose `digest` covers every
/// other value of it, so that `rpd apply` carries out the plan only as it
/// was saved.
pub fn sealed(doc: &Document) -> String {
    let mut doc = doc.clone();
    doc.digest = None;
    let value = serde_json::to_value(&doc).expect("a plan serializes");
    doc.digest = Some(digest_of(&value));
    serde_json::to_string_pretty(&doc).expect("a plan serializes") + "\n"
}

/// Whether a plan document is as `rpd plan -o` saved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seal {
    /// Its digest matches its content.
    Intact,
    /// It has no digest (saved by an older rpd, or cut out).
    Missing,
    /// Something in it changed since it was saved (or the digest did).
    Broken,
}

/// The [`Seal`] of a plan document's text (one that [`parse`] reads).
pub fn seal(text: &str) -> Seal {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Seal::Broken;
    };
    match value.get(DIGEST) {
        None => Seal::Missing,
        Some(serde_json::Value::String(digest)) if *digest == digest_of(&value) => Seal::Intact,
        Some(_) => Seal::Broken,
    }
}

const DIGEST: &str = "digest";

/// `sha256:<hex>` of `value` without its top-level `digest`, in a form that
/// whitespace and the order of keys do not change: every value the plan
/// has is covered, also one rpd does not read.
fn digest_of(value: &serde_json::Value) -> String {
    let mut text = String::new();
    canonical(value, true, &mut text);
    format!("sha256:{:x}", Sha256::digest(text.as_bytes()))
}

/// Compact JSON with each object's keys sorted (`top`: the document, whose
/// `digest` is left out).
fn canonical(value: &serde_json::Value, top: bool, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map
                .keys()
                .filter(|k| !(top && k.as_str() == DIGEST))
                .collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key.as_str()], false, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, false, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Reads a plan document, refusing an unknown major version.
pub fn parse(text: &str) -> Result<Document, ReadError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ReadError::NotJson(e.to_string()))?;
    let version = value
        .get("format_version")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ReadError::NotJson("no format_version".into()))?;
    if version.split('.').next() != Some(MAJOR) {
        return Err(ReadError::UnsupportedVersion {
            found: version.to_string(),
        });
    }
    serde_json::from_value(value).map_err(|e| ReadError::NotJson(e.to_string()))
}

/// The plan a config's entry was made from: the same steps in the same
/// order with the same edges, and the same report.
pub fn plan_of(doc: &ConfigPlan) -> Result<Plan, ReadError> {
    let mut graph = petgraph::stable_graph::StableDiGraph::new();
    let mut nodes = Vec::with_capacity(doc.steps.len());
    for (i, step) in doc.steps.iter().enumerate() {
        let node = graph.add_node(Step {
            kind: step.kind.clone(),
            reason: step.reason.as_ref().map(|r| r.entry.clone()),
        });
        for &after in &step.after {
            // Steps are saved in execution order: a step only follows
            // earlier ones.
            if after == 0 || after > i {
                return Err(ReadError::BadOrder {
                    config: doc.config.clone(),
                    step: i + 1,
                    after,
                });
            }
            graph.add_edge(nodes[after - 1], node, ());
        }
        nodes.push(node);
    }
    let pod = &doc.pod;
    Ok(Plan {
        job_name: doc.job_name.clone(),
        mode: doc.mode,
        graph,
        report: PlanReport {
            drift: doc.drift.clone(),
            pod: PodChange {
                action: pod.action,
                pod_id: pod.pod_id.clone(),
                status: pod.status,
                fields: pod.fields.clone(),
                unchanged: pod.unchanged,
                reason: pod.reason.entry.clone(),
                deleted_storage: pod.deleted_storage.clone(),
            },
            retained: doc.retained.clone(),
            warnings: doc.warnings.iter().map(|w| w.entry.clone()).collect(),
            notes: doc.notes.iter().map(|n| n.entry.clone()).collect(),
            errors: doc.errors.iter().map(|e| e.entry.clone()).collect(),
            summary: doc.summary,
            has_pod_changes: doc.has_pod_changes,
            changes_beyond_routine: doc.changes_beyond_routine,
            state_only_changes: doc
                .state_only_changes
                .iter()
                .map(|c| c.entry.clone())
                .collect(),
            cost: doc.cost.clone(),
        },
        lifecycle: doc.lifecycle,
    })
}

/// The JSON Schema of [`Document`] (`schemas/plan.schema.json`).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Document)).expect("schemas serialize")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::plan::{LockHolder, MissingSshKey};

    #[test]
    fn a_warning_with_a_struct_inside_is_one_flat_object_with_its_message() {
        let held = Warning::LockHeld(LockHolder {
            operation: "apply".into(),
            who: "ana@laptop".into(),
            since: "2026-11-27T10:00:00Z".parse().unwrap(),
            pid: 4242,
            host: "laptop".into(),
        });
        assert_eq!(
            serde_json::to_value(worded(&held, words::warning)).unwrap(),
            json!({
                "kind": "lock_held",
                "operation": "apply",
                "who": "ana@laptop",
                "since": "2026-11-27T10:00:00Z",
                "pid": 4242,
                "host": "laptop",
                "message": "another rpd holds this config's lock (apply by ana@laptop since 10:00:00 UTC): this plan may change under it",
            })
        );
        let key = PlanError::SshKeyMissing(MissingSshKey {
            key_path: PathBuf::from("/k"),
            config_path: PathBuf::from("c.yaml"),
            missing: crate::model::KeyPart::PublicKey,
        });
        let doc = serde_json::to_value(worded(&key, words::plan_error)).unwrap();
        assert_eq!(doc["kind"], "ssh_key_missing");
        assert_eq!(doc["key_path"], "/k");
        assert_eq!(doc["config_path"], "c.yaml");
        assert_eq!(doc["missing"], "public_key");
        assert!(
            doc["message"]
                .as_str()
                .unwrap()
                .contains("`ssh-keygen -y -f /k > /k.pub`"),
            "{doc}"
        );
        let back: Worded<PlanError> = serde_json::from_value(doc).unwrap();
        assert_eq!(back.entry, key);
    }

    #[test]
    fn the_missing_sandbox_is_flat_and_reads_back() {
        let warning = Warning::SimulatorUnsandboxed {
            why: crate::model::NoSandbox::Refused {
                error: "setting up uid map: Permission denied".into(),
            },
        };
        let doc = serde_json::to_value(worded(&warning, words::warning)).unwrap();
        assert_eq!(doc["kind"], "simulator_unsandboxed");
        assert_eq!(doc["why"], "refused");
        assert_eq!(doc["error"], "setting up uid map: Permission denied");
        let message = doc["message"].as_str().unwrap();
        assert!(
            message.contains("(bwrap cannot make a sandbox here: setting up uid map: Permission denied)")
                && message.ends_with("to keep them to the simulator's directory, allow unprivileged user namespaces (bwrap makes its sandbox in one)"),
            "{message}"
        );
        let back: Worded<Warning> = serde_json::from_value(doc).unwrap();
        assert_eq!(back.entry, warning);
    }

    #[test]
    fn a_reason_without_data_is_its_kind_and_message() {
        assert_eq!(
            serde_json::to_value(worded(&Reason::NoPodRecorded, words::reason)).unwrap(),
            json!({"kind": "no_pod_recorded", "message": "no pod recorded"})
        );
    }

    #[test]
    fn a_sealed_plan_is_intact_reformatted_or_reordered_and_broken_by_any_edit() {
        let doc = Document::new(Vec::new());
        let text = sealed(&doc);
        assert_eq!(seal(&text), Seal::Intact);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(seal(&value.to_string()), Seal::Intact, "compact");
        let mut reversed = serde_json::Map::new();
        for (key, v) in value.as_object().unwrap().iter().rev() {
            reversed.insert(key.clone(), v.clone());
        }
        assert_eq!(
            seal(&serde_json::Value::Object(reversed).to_string()),
            Seal::Intact
        );
        for edit in [
            json!({"summary": {"configs": 1}}),
            json!({"rpd_version": "0.0.0"}),
            json!({"extra": true}),
            json!({"digest": "sha256:00"}),
        ] {
            let mut edited = value.clone();
            for (key, v) in edit.as_object().unwrap() {
                match (edited.get_mut(key), v) {
                    (Some(serde_json::Value::Object(inner)), serde_json::Value::Object(add)) => {
                        inner.extend(add.clone())
                    }
                    _ => {
                        edited[key] = v.clone();
                    }
                }
            }
            assert_eq!(seal(&edited.to_string()), Seal::Broken, "{edit}");
        }
        let mut cut = value.clone();
        cut.as_object_mut().unwrap().shift_remove("digest");
        assert_eq!(seal(&cut.to_string()), Seal::Missing);
        assert_eq!(seal("not json"), Seal::Broken);
    }

    #[test]
    fn an_unknown_major_version_is_refused_and_a_newer_minor_read() {
        let err = parse(r#"{"format_version": "2.0"}"#).unwrap_err();
        assert!(matches!(err, ReadError::UnsupportedVersion { .. }), "{err}");
        let doc = Document::new(Vec::new());
        let mut value = serde_json::to_value(&doc).unwrap();
        value["format_version"] = json!("3.7");
        assert!(parse(&value.to_string()).is_ok());
    }
}
