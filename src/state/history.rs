//! What a state remembers beyond the pods it tracks now: every pod id it
//! ever tracked (so that `rpd cost` can ask RunPod's billing what each of
//! them cost, long after the pod is gone), and when a tracked pod last
//! changed status (so that "stopped for 41 days" comes from rpd's own
//! record, not from uptime).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{PodRecord, State};
use crate::model::PodStatus;

/// A pod this state tracked at some point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodHistoryEntry {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// When the state first recorded it.
    pub first_recorded: DateTime<Utc>,
}

impl State {
    /// Adds every pod the state tracks now to its history; done on every
    /// write, so no pod id rpd ever recorded is missing from it.
    pub fn remember_pods(&mut self, now: DateTime<Utc>) {
        let tracked: Vec<&PodRecord> = self
            .pod
            .iter()
            .chain(self.retained.iter().map(|r| &r.pod))
            .collect();
        for pod in tracked {
            if self.pod_history.iter().any(|h| h.id == pod.id) {
                continue;
            }
            self.pod_history.push(PodHistoryEntry {
                id: pod.id.clone(),
                name: pod.name.clone(),
                provider: pod.provider.clone(),
                first_recorded: now,
            });
        }
    }

    /// Every pod id the state tracks or ever tracked, oldest first.
    pub fn pod_ids_ever(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.pod_history.iter().map(|h| h.id.as_str()).collect();
        for id in self.pod_ids() {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }
}

impl PodRecord {
    /// Records the pod's status; `status_since` moves only when the status
    /// changes (a stop recorded twice keeps the first time).
    pub fn set_status(&mut self, status: PodStatus, now: DateTime<Utc>) {
        if self.status != Some(status) || self.status_since.is_none() {
            self.status_since = Some(now);
        }
        self.status = Some(status);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::state::{Owner, RetainedPod};

    fn record(id: &str) -> PodRecord {
        PodRecord {
            id: id.into(),
            name: format!("hello-20261128T004051Z-{id}"),
            spec: Default::default(),
            status: None,
            status_since: None,
            created_at: None,
            provider: Some("sim".into()),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn history_keeps_every_pod_ever_tracked_once_in_order() {
        let mut state = State::new(Owner {
            config: PathBuf::from("/x/hello.yaml"),
            job_name: "hello".into(),
        });
        state.pod = Some(record("a"));
        state.remember_pods(at("2026-11-01T00:00:00Z"));
        state.retained.push(RetainedPod {
            pod: state.pod.take().unwrap(),
            reason: "on_failure: stop".into(),
            since: at("2026-11-02T00:00:00Z"),
        });
        state.pod = Some(record("b"));
        state.remember_pods(at("2026-11-02T00:00:00Z"));
        state.retained.clear();
        state.pod = None;
        state.remember_pods(at("2026-11-03T00:00:00Z"));
        assert_eq!(state.pod_ids_ever(), ["a", "b"]);
        assert_eq!(
            state.pod_history[0].first_recorded,
            at("2026-11-01T00:00:00Z")
        );
    }

    #[test]
    fn status_since_moves_only_when_the_status_changes() {
        let mut pod = record("a");
        pod.set_status(PodStatus::Running, at("2026-11-01T00:00:00Z"));
        pod.set_status(PodStatus::Exited, at("2026-11-01T01:00:00Z"));
        pod.set_status(PodStatus::Exited, at("2026-11-05T00:00:00Z"));
        assert_eq!(pod.status, Some(PodStatus::Exited));
        assert_eq!(pod.status_since, Some(at("2026-11-01T01:00:00Z")));
    }
}
