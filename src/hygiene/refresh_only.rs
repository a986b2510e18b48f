//! `rpd refresh`: records in the state what changed outside rpd (a pod
//! stopped, started, deleted or edited in the console) without acting on
//! it, like Terraform's `-refresh-only`. Pure: the command observes the
//! pods and writes the state.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::plan::diff;
use crate::plan::{Drift, FieldChange, FieldNote, FieldValue, Observation};
use crate::state::{PodRecord, State};

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshOutcome {
    /// What changed, pod by pod (the plan's "Changes made outside rpd").
    pub drift: Vec<Drift>,
    /// The state with the changes recorded.
    pub state: State,
}

impl RefreshOutcome {
    pub fn changed(&self) -> bool {
        !self.drift.is_empty()
    }
}

/// What changed for one recorded pod, recorded into it; `None` when the
/// pod is gone.
fn refresh_pod(
    record: &mut PodRecord,
    observation: Option<&Observation>,
    now: DateTime<Utc>,
) -> Option<Option<Drift>> {
    let observed = observation.and_then(Observation::pod)?;
    let mut fields = diff::drift(&record.spec, &observed.spec);
    if record.status != Some(observed.status) {
        let was_active = record.status.is_some_and(|s| s.is_active());
        fields.insert(
            0,
            FieldChange {
                field: "status".into(),
                old: record
                    .status
                    .map(|s| FieldValue::text(s.as_str()))
                    .or(Some(FieldValue::Absent)),
                new: Some(FieldValue::text(observed.status.as_str())),
                forces_replacement: false,
                note: (observed.status.is_active()
                    && observed.status != crate::model::PodStatus::Unknown
                    && !was_active)
                    .then_some(FieldNote::StartedOutsideRpd),
            },
        );
    }
    record.spec = diff::effective(&record.spec, &observed.spec);
    record.set_status(observed.status, now);
    Some((!fields.is_empty()).then(|| Drift::Changed {
        pod_id: record.id.clone(),
        fields,
    }))
}

/// The state with every tracked pod as the provider sees it now: gone
/// ones forgotten, a changed status or spec recorded.
pub fn refresh(
    state: &State,
    observed: &BTreeMap<String, Observation>,
    now: DateTime<Utc>,
) -> RefreshOutcome {
    let mut state = state.clone();
    let mut drift = Vec::new();
    let mut gone = Vec::new();
    if let Some(pod) = state.pod.as_mut() {
        let seen = observed.get(&pod.id);
        match refresh_pod(pod, seen, now) {
            Some(changed) => drift.extend(changed),
            None => gone.push(pod.id.clone()),
        }
    }
    for retained in &mut state.retained {
        let seen = observed.get(&retained.pod.id);
        match refresh_pod(&mut retained.pod, seen, now) {
            Some(changed) => drift.extend(changed),
            None => gone.push(retained.pod.id.clone()),
        }
    }
    for id in gone {
        drift.push(Drift::Deleted { pod_id: id.clone() });
        if state.pod.as_ref().is_some_and(|p| p.id == id) {
            state.pod = None;
        }
        state.retained.retain(|r| r.pod.id != id);
        if state.launched_job.as_ref().is_some_and(|j| j.pod_id == id) {
            state.launched_job = None;
        }
    }
    RefreshOutcome { drift, state }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::model::{ObservedPod, PodSpec, PodStatus};
    use crate::state::{Owner, RetainedPod};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn record(id: &str, status: PodStatus) -> PodRecord {
        PodRecord {
            id: id.into(),
            name: String::new(),
            spec: PodSpec {
                image: Some("img:1".into()),
                ..PodSpec::default()
            },
            status: Some(status),
            status_since: Some(at("2026-11-01T00:00:00Z")),
            created_at: None,
            provider: Some("sim".into()),
        }
    }

    fn seen(id: &str, status: PodStatus, image: &str) -> Observation {
        Observation::Pod(Box::new(ObservedPod {
            id: id.into(),
            name: String::new(),
            status,
            spec: PodSpec {
                image: Some(image.into()),
                ..PodSpec::default()
            },
            cost_per_hr: None,
            access: None,
            ssh_proxy: false,
            no_public_ssh: false,
            status_text: None,
            actions: None,
            created_at: None,
            changed_at: None,
        }))
    }

    #[test]
    fn a_stop_an_edit_and_a_delete_made_in_the_console_are_recorded() {
        let mut state = State::new(Owner {
            config: PathBuf::from("/p/hello.yaml"),
            job_name: "hello".into(),
        });
        state.pod = Some(record("cur", PodStatus::Running));
        state.retained.push(RetainedPod {
            pod: record("old", PodStatus::Exited),
            reason: "on_failure: stop".into(),
            since: at("2026-11-01T00:00:00Z"),
        });
        let observed = BTreeMap::from([
            ("cur".to_string(), seen("cur", PodStatus::Exited, "img:2")),
            ("old".to_string(), Observation::Gone),
        ]);
        let now = at("2026-11-20T00:00:00Z");
        let outcome = refresh(&state, &observed, now);
        assert_eq!(
            outcome.drift,
            [
                Drift::Changed {
                    pod_id: "cur".into(),
                    fields: vec![
                        FieldChange {
                            field: "status".into(),
                            old: Some(FieldValue::text("RUNNING")),
                            new: Some(FieldValue::text("EXITED")),
                            forces_replacement: false,
                            note: None,
                        },
                        FieldChange {
                            field: "image".into(),
                            old: Some(FieldValue::text("img:1")),
                            new: Some(FieldValue::text("img:2")),
                            forces_replacement: false,
                            note: None,
                        },
                    ],
                },
                Drift::Deleted {
                    pod_id: "old".into()
                },
            ]
        );
        let pod = outcome.state.pod.as_ref().unwrap();
        assert_eq!(pod.status, Some(PodStatus::Exited));
        assert_eq!(pod.status_since, Some(now), "the stop is seen now");
        assert_eq!(pod.spec.image.as_deref(), Some("img:2"));
        assert!(outcome.state.retained.is_empty());
    }

    #[test]
    fn nothing_changed_is_no_drift() {
        let mut state = State::new(Owner {
            config: PathBuf::from("/p/hello.yaml"),
            job_name: "hello".into(),
        });
        state.pod = Some(record("cur", PodStatus::Exited));
        let observed =
            BTreeMap::from([("cur".to_string(), seen("cur", PodStatus::Exited, "img:1"))]);
        let outcome = refresh(&state, &observed, at("2026-11-20T00:00:00Z"));
        assert!(!outcome.changed());
        assert_eq!(outcome.state, state);
    }
}
