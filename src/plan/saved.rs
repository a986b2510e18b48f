//! What a saved plan (`rpd plan -o plan.json`) was made from, and whether
//! it still holds when `rpd apply plan.json` runs: the config's content, the
//! state's lineage and serial, and every pod the state tracks as the
//! provider reported it. Pure: the refresh gathers the facts, this module
//! compares them; `render::words::stale_cause` words each difference.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::input::{Observation, PlanningInput};
use crate::model::{ObservedPod, PodStatus, Storage};

/// The facts a saved plan was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SavedFacts {
    pub made_at: DateTime<Utc>,
    /// The provider the plan was made with (`runpod`, `runpodctl`, `sim`).
    pub provider: String,
    /// sha256 of the config file's bytes, hex.
    pub config_sha256: String,
    /// The template variables of the command line (`--vars-file`, then
    /// `--var`), applied again when the plan is.
    pub variables: BTreeMap<String, String>,
    /// The state file, or `null` when there was none.
    pub state: Option<StateFingerprint>,
    /// Every pod the state tracks, as the provider reported it.
    pub pods: BTreeMap<String, PodFingerprint>,
    /// Pods found under the name of an interrupted create.
    pub pending_matches: Vec<String>,
    /// `--replace-without-stock` was given.
    pub replace_without_stock: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StateFingerprint {
    pub lineage: String,
    pub serial: u64,
}

/// A pod as the plan saw it: the fields whose change makes the plan wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PodFingerprint {
    Gone,
    Pod {
        status: PodStatus,
        image: Option<String>,
        gpu_id: Option<String>,
        gpu_count: Option<u32>,
        datacenter_id: Option<String>,
        /// When the pod last changed status, as the provider reported it.
        changed_at: Option<String>,
        /// What an update in place changes, so a saved update is applied
        /// only to the pod it was planned from (absent from plans saved by
        /// an rpd without updates in place: such a plan reads as stale).
        #[serde(default)]
        container_disk_gb: Option<u32>,
        /// The pod's own volume (not a network volume).
        #[serde(default)]
        volume_gb: Option<u32>,
        /// Sorted.
        #[serde(default)]
        ports: Option<Vec<String>>,
    },
}

impl PodFingerprint {
    pub fn of(pod: &ObservedPod) -> PodFingerprint {
        if pod.status == PodStatus::Terminated {
            return PodFingerprint::Gone;
        }
        PodFingerprint::Pod {
            status: pod.status,
            image: pod.spec.image.clone(),
            gpu_id: pod.spec.gpu_id.clone(),
            gpu_count: pod.spec.gpu_count,
            datacenter_id: pod.spec.datacenter_id.clone(),
            changed_at: pod.changed_at.clone(),
            container_disk_gb: pod.spec.container_disk_gb,
            volume_gb: match &pod.spec.storage {
                Some(Storage::Ephemeral { volume_gb, .. }) => Some(*volume_gb),
                _ => None,
            },
            ports: pod.spec.ports.as_ref().map(|ports| {
                let mut ports = ports.clone();
                ports.sort();
                ports
            }),
        }
    }

    /// The fields as (name, value) pairs, for naming what changed.
    fn fields(&self) -> Vec<(&'static str, Option<String>)> {
        match self {
            PodFingerprint::Gone => Vec::new(),
            PodFingerprint::Pod {
                status,
                image,
                gpu_id,
                gpu_count,
                datacenter_id,
                changed_at,
                container_disk_gb,
                volume_gb,
                ports,
            } => vec![
                ("status", Some(status.to_string())),
                ("image", image.clone()),
                ("gpu", gpu_id.clone()),
                ("gpu_count", gpu_count.map(|n| n.to_string())),
                ("datacenter", datacenter_id.clone()),
                (LAST_STATUS_CHANGE, changed_at.clone()),
                (
                    "container_disk_gb",
                    container_disk_gb.map(|n| n.to_string()),
                ),
                ("volume_gb", volume_gb.map(|n| n.to_string())),
                ("ports", ports.as_ref().map(|p| p.join(","))),
            ],
        }
    }
}

const LAST_STATUS_CHANGE: &str = "last status change";

/// The state and the pods a plan was made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedFacts {
    pub state: Option<StateFingerprint>,
    pub pods: BTreeMap<String, PodFingerprint>,
    pub pending_matches: Vec<String>,
}

/// What the plan's state and pods are, from one refresh (the config's hash,
/// the provider and the command line's values come from the caller).
pub fn observed_facts(input: &PlanningInput) -> ObservedFacts {
    let state = input.state().map(|s| StateFingerprint {
        lineage: s.lineage.to_string(),
        serial: s.serial,
    });
    let pods = input
        .observed
        .pods
        .iter()
        .map(|(id, observation)| {
            let print = match observation {
                Observation::Gone => PodFingerprint::Gone,
                Observation::Pod(pod) => PodFingerprint::of(pod),
            };
            (id.clone(), print)
        })
        .collect();
    let mut pending: Vec<String> = input
        .observed
        .pending_matches
        .iter()
        .filter(|p| p.status != PodStatus::Terminated)
        .map(|p| p.id.clone())
        .collect();
    pending.sort();
    ObservedFacts {
        state,
        pods,
        pending_matches: pending,
    }
}

impl SavedFacts {
    /// The facts of a plan made now from `observed`.
    pub fn new(
        observed: ObservedFacts,
        provider: &str,
        config_sha256: String,
        variables: BTreeMap<String, String>,
        replace_without_stock: bool,
        made_at: DateTime<Utc>,
    ) -> SavedFacts {
        SavedFacts {
            made_at,
            provider: provider.to_string(),
            config_sha256,
            variables,
            state: observed.state,
            pods: observed.pods,
            pending_matches: observed.pending_matches,
            replace_without_stock,
        }
    }
}

/// Why a saved plan no longer holds; each says what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StaleCause {
    ProviderChanged {
        was: String,
        now: String,
    },
    ConfigChanged,
    StateCreated,
    StateRemoved,
    StateLineageChanged {
        was: String,
        now: String,
    },
    StateSerialChanged {
        was: u64,
        now: u64,
    },
    PodGone {
        pod_id: String,
    },
    PodAppeared {
        pod_id: String,
    },
    PodChanged {
        pod_id: String,
        field: String,
        was: Option<String>,
        now: Option<String>,
    },
    InterruptedCreateMatchesChanged {
        was: Vec<String>,
        now: Vec<String>,
    },
}

/// Every way `now` differs from what the plan was made from (`saved`); empty
/// when the plan still holds.
pub fn stale_causes(saved: &SavedFacts, now: &SavedFacts) -> Vec<StaleCause> {
    let mut causes = Vec::new();
    if saved.provider != now.provider {
        causes.push(StaleCause::ProviderChanged {
            was: saved.provider.clone(),
            now: now.provider.clone(),
        });
    }
    if saved.config_sha256 != now.config_sha256 {
        causes.push(StaleCause::ConfigChanged);
    }
    match (&saved.state, &now.state) {
        (None, Some(_)) => causes.push(StaleCause::StateCreated),
        (Some(_), None) => causes.push(StaleCause::StateRemoved),
        (Some(was), Some(now)) if was.lineage != now.lineage => {
            causes.push(StaleCause::StateLineageChanged {
                was: was.lineage.clone(),
                now: now.lineage.clone(),
            })
        }
        (Some(was), Some(now)) if was.serial != now.serial => {
            causes.push(StaleCause::StateSerialChanged {
                was: was.serial,
                now: now.serial,
            })
        }
        _ => {}
    }
    for (id, was) in &saved.pods {
        match (was, now.pods.get(id)) {
            (PodFingerprint::Pod { .. }, None | Some(PodFingerprint::Gone)) => {
                causes.push(StaleCause::PodGone { pod_id: id.clone() })
            }
            (PodFingerprint::Gone, Some(PodFingerprint::Pod { .. })) => {
                causes.push(StaleCause::PodAppeared { pod_id: id.clone() })
            }
            (PodFingerprint::Pod { .. }, Some(current)) => {
                let fields = was.fields().into_iter().zip(current.fields());
                let status_changed = fields
                    .clone()
                    .any(|((f, a), (_, b))| f == "status" && a != b);
                for ((field, before), (_, after)) in fields {
                    // A new status implies a new time of the last change;
                    // the time alone says the pod was stopped and started
                    // (or the reverse) since.
                    let implied = status_changed && field == LAST_STATUS_CHANGE;
                    if before != after && !implied {
                        causes.push(StaleCause::PodChanged {
                            pod_id: id.clone(),
                            field: field.to_string(),
                            was: before,
                            now: after,
                        });
                    }
                }
            }
            (PodFingerprint::Gone, None | Some(PodFingerprint::Gone)) => {}
        }
    }
    if saved.pending_matches != now.pending_matches {
        causes.push(StaleCause::InterruptedCreateMatchesChanged {
            was: saved.pending_matches.clone(),
            now: now.pending_matches.clone(),
        });
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> SavedFacts {
        SavedFacts {
            made_at: "2026-11-27T10:00:00Z".parse().unwrap(),
            provider: "sim".into(),
            config_sha256: "abc".into(),
            variables: BTreeMap::new(),
            state: Some(StateFingerprint {
                lineage: "l1".into(),
                serial: 3,
            }),
            pods: BTreeMap::from([(
                "p1".to_string(),
                PodFingerprint::Pod {
                    status: PodStatus::Exited,
                    image: Some("img:1".into()),
                    gpu_id: Some("NVIDIA A40".into()),
                    gpu_count: Some(1),
                    datacenter_id: Some("EU-RO-1".into()),
                    changed_at: Some("t1".into()),
                    container_disk_gb: Some(20),
                    volume_gb: Some(20),
                    ports: Some(vec!["22/tcp".into()]),
                },
            )]),
            pending_matches: Vec::new(),
            replace_without_stock: false,
        }
    }

    #[test]
    fn the_same_facts_are_not_stale_whatever_the_time_and_variables() {
        let mut now = facts();
        now.made_at = "2026-11-28T10:00:00Z".parse().unwrap();
        now.variables.insert("x".into(), "1".into());
        assert_eq!(stale_causes(&facts(), &now), []);
    }

    #[test]
    fn each_changed_fact_is_its_own_cause() {
        let mut now = facts();
        now.provider = "runpod".into();
        now.config_sha256 = "def".into();
        now.state.as_mut().unwrap().serial = 4;
        if let Some(PodFingerprint::Pod { status, image, .. }) = now.pods.get_mut("p1") {
            *status = PodStatus::Running;
            *image = Some("img:2".into());
        }
        let kinds: Vec<String> = stale_causes(&facts(), &now)
            .iter()
            .map(|c| {
                serde_json::to_value(c).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "provider_changed",
                "config_changed",
                "state_serial_changed",
                "pod_changed",
                "pod_changed"
            ]
        );
    }

    #[test]
    fn a_new_status_implies_a_new_change_time_but_the_time_alone_is_a_cause() {
        let with = |status, at: &str| {
            let mut facts = facts();
            if let Some(PodFingerprint::Pod {
                status: s,
                changed_at,
                ..
            }) = facts.pods.get_mut("p1")
            {
                *s = status;
                *changed_at = Some(at.into());
            }
            facts
        };
        let field = |causes: Vec<StaleCause>| -> Vec<String> {
            causes
                .into_iter()
                .map(|c| match c {
                    StaleCause::PodChanged { field, .. } => field,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(
            field(stale_causes(&facts(), &with(PodStatus::Running, "t2"))),
            ["status"]
        );
        assert_eq!(
            field(stale_causes(&facts(), &with(PodStatus::Exited, "t2"))),
            ["last status change"]
        );
    }

    #[test]
    fn what_an_update_in_place_changes_is_a_cause_when_changed_outside_rpd() {
        // A saved update from 20 GB to 30 GB must not be sent to a pod
        // grown to 40 GB in the console since: it would shrink it.
        let mut now = facts();
        if let Some(PodFingerprint::Pod {
            volume_gb,
            ports,
            container_disk_gb,
            ..
        }) = now.pods.get_mut("p1")
        {
            *volume_gb = Some(40);
            *ports = Some(vec!["22/tcp".into(), "8888/http".into()]);
            *container_disk_gb = Some(50);
        }
        let fields: Vec<(String, Option<String>)> = stale_causes(&facts(), &now)
            .into_iter()
            .map(|c| match c {
                StaleCause::PodChanged { field, now, .. } => (field, now),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            fields,
            [
                ("container_disk_gb".to_string(), Some("50".to_string())),
                ("volume_gb".to_string(), Some("40".to_string())),
                ("ports".to_string(), Some("22/tcp,8888/http".to_string())),
            ]
        );
    }

    #[test]
    fn a_saved_fingerprint_without_the_update_fields_still_reads() {
        let old = serde_json::json!({
            "kind": "pod", "status": "EXITED", "image": "img:1", "gpu_id": "g",
            "gpu_count": 1, "datacenter_id": "EU-RO-1", "changed_at": null
        });
        let print: PodFingerprint = serde_json::from_value(old).unwrap();
        assert!(matches!(
            print,
            PodFingerprint::Pod {
                volume_gb: None,
                ..
            }
        ));
    }

    #[test]
    fn a_gone_pod_and_another_lineage_are_stale() {
        let mut now = facts();
        now.state.as_mut().unwrap().lineage = "l2".into();
        now.pods.insert("p1".into(), PodFingerprint::Gone);
        assert_eq!(
            stale_causes(&facts(), &now),
            [
                StaleCause::StateLineageChanged {
                    was: "l1".into(),
                    now: "l2".into()
                },
                StaleCause::PodGone {
                    pod_id: "p1".into()
                }
            ]
        );
    }
}
