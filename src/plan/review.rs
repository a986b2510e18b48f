//! `rpd diff OLD NEW`: what changing a config does to a pod made from the
//! old one, with no account and no state. The old config's pod is assumed
//! as the old lifecycle leaves it after a successful run (paused on its
//! first candidate when it recycles; none otherwise), and the planner plans
//! the new config against it, so the diff says exactly what a plan would
//! (`image` forces a replacement, the volume is lost). Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::input::{
    CatalogRead, Desired, Mode, Observation, Observations, PlanOptions, PlanningInput, Recorded,
};
use crate::model::{Candidate, LifecycleAction, ObservedPod, PodStatus, Stock};
use crate::state::{Origin, Owner, PodRecord, State};

/// The id the old config's (assumed) pod is shown with.
pub const OLD_POD: &str = "old-pod";

/// One key of the config that differs; values as JSON (absent: not set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigChange {
    /// The key's path, e.g. `pod.image` or `setup[1].command`.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// The pod the old config leaves, which the new config is planned against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OldPod {
    /// `on_success: recycle`: paused after its job, on its first candidate.
    Paused { datacenter: String, gpu: String },
    /// Any other lifecycle keeps no pod to run on: the next apply creates one.
    NoneKept { on_success: LifecycleAction },
    /// OLD is empty (`/dev/null`): the config is new, and has no pod yet.
    NewConfig,
}

/// What `rpd diff` compared, beside the plan it made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DiffFacts {
    /// The old config as given (`-`: standard input).
    pub old: String,
    pub new: String,
    pub old_pod: OldPod,
    pub config_changes: Vec<ConfigChange>,
}

/// Every key whose value differs between the two configs' documents, in
/// document order (the new one's, then keys only the old one has).
pub fn config_changes(old: &Value, new: &Value) -> Vec<ConfigChange> {
    let mut before = BTreeMap::new();
    let mut order = Vec::new();
    flatten("", old, &mut before, &mut Vec::new());
    let mut after = BTreeMap::new();
    flatten("", new, &mut after, &mut order);
    let mut old_order = Vec::new();
    flatten("", old, &mut BTreeMap::new(), &mut old_order);
    order.extend(old_order.into_iter().filter(|k| !after.contains_key(k)));
    order
        .into_iter()
        .filter_map(|key| {
            let (b, a) = (before.get(&key), after.get(&key));
            (b != a).then(|| ConfigChange {
                before: b.cloned(),
                after: a.cloned(),
                key,
            })
        })
        .collect()
}

/// Leaves of a document by path; lists of scalars are one value.
fn flatten(
    prefix: &str,
    value: &Value,
    out: &mut BTreeMap<String, Value>,
    order: &mut Vec<String>,
) {
    let mut leaf = |key: String, value: &Value| {
        order.push(key.clone());
        out.insert(key, value.clone());
    };
    match value {
        // An empty map is a value (`pod: {}`), except the whole document's.
        Value::Object(map) if !map.is_empty() || prefix.is_empty() => {
            for (key, value) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, value, out, order);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), item, out, order);
            }
        }
        _ => leaf(prefix.to_string(), value),
    }
}

/// The planning input of the new config against the pod the old one
/// leaves (no old config: a new one, with no pod); `now` stands in for the
/// refresh's time.
pub fn diff_input(
    old: Option<&Desired>,
    new: Desired,
    now: DateTime<Utc>,
) -> (PlanningInput, OldPod) {
    let (recorded, observed, old_pod) = match old.map(|o| (o, o.lifecycle.on_success)) {
        None => (None, Observations::default(), OldPod::NewConfig),
        Some((old, LifecycleAction::Recycle)) => {
            let first = Candidate {
                datacenter_id: old.pod.datacenters.first().cloned().unwrap_or_default(),
                gpu_id: old.pod.gpu_order.first().cloned().unwrap_or_default(),
                cloud_type: old.pod.cloud_type,
                price_per_hr: None,
                stock: Stock::Unknown,
                invalid: None,
            };
            let spec = old.pod.spec_on(&first);
            let mut state = State::new(Owner {
                config: Default::default(),
                job_name: old.job_name.clone(),
            });
            state.pod = Some(PodRecord {
                id: OLD_POD.into(),
                name: old.job_name.clone(),
                spec: spec.clone(),
                status: Some(PodStatus::Exited),
                status_since: None,
                created_at: None,
                provider: None,
            });
            let pod = ObservedPod {
                id: OLD_POD.into(),
                name: old.job_name.clone(),
                status: PodStatus::Exited,
                spec,
                cost_per_hr: None,
                access: None,
                actions: None,
                created_at: None,
                changed_at: None,
                ssh_proxy: false,
                no_public_ssh: false,
                status_text: None,
            };
            let observed = Observations {
                pods: BTreeMap::from([(OLD_POD.to_string(), Observation::Pod(Box::new(pod)))]),
                ..Observations::default()
            };
            let recorded = Recorded {
                state,
                origin: Origin::Rpd,
                path: Default::default(),
            };
            let old_pod = OldPod::Paused {
                datacenter: first.datacenter_id,
                gpu: first.gpu_id,
            };
            (Some(recorded), observed, old_pod)
        }
        Some((_, other)) => (
            None,
            Observations::default(),
            OldPod::NoneKept { on_success: other },
        ),
    };
    let input = PlanningInput {
        desired: new,
        recorded,
        observed,
        catalog: CatalogRead::NotRead,
        fallback_catalog: None,
        lock: None,
        missing_ssh_key: None,
        network_volumes: super::input::VolumesRead::NotRead,
        api_key_fingerprint: None,
        local_problems: Vec::new(),
        unsandboxed: None,
        // No provider is asked: REST v2, the default, updates in place.
        in_place_updates: crate::model::InPlaceUpdates::Supported,
        now,
        options: PlanOptions::new(Mode::Apply),
    };
    (input, old_pod)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn changed_added_and_removed_keys_in_document_order() {
        let old = json!({"name": "a", "pod": {"image": "i:1", "ports": ["22/tcp"]}, "setup": [{"command": "x"}], "gone": 1});
        let new = json!({"name": "a", "pod": {"image": "i:2", "ports": ["22/tcp", "8888/http"]}, "setup": [{"command": "x"}, {"command": "y"}]});
        let keys: Vec<(String, Option<Value>, Option<Value>)> = config_changes(&old, &new)
            .into_iter()
            .map(|c| (c.key, c.before, c.after))
            .collect();
        assert_eq!(
            keys,
            [
                ("pod.image".into(), Some(json!("i:1")), Some(json!("i:2"))),
                (
                    "pod.ports".into(),
                    Some(json!(["22/tcp"])),
                    Some(json!(["22/tcp", "8888/http"]))
                ),
                ("setup[1].command".into(), None, Some(json!("y"))),
                ("gone".into(), Some(json!(1)), None),
            ]
        );
    }

    #[test]
    fn a_new_config_adds_every_key_and_nothing_else() {
        let keys: Vec<String> = config_changes(&json!({}), &json!({"name": "a", "pod": {}}))
            .into_iter()
            .map(|c| c.key)
            .collect();
        assert_eq!(keys, ["name", "pod"]);
    }
}
