//! What a resume says about the pause it ends (issue 10, item 10).

use chrono::{DateTime, SubsecRound, Utc};

use super::*;
use crate::cost;
use crate::model::PodStatus;

impl Planner<'_> {
    /// A resume says how long the pod waited and what its volume bills
    /// while it waits (from rpd's record of the stop, else the provider's
    /// last status change).
    pub(super) fn report_paused_for(&mut self, pod: &PodChange) {
        if pod.action != PodAction::Resume {
            return;
        }
        let Some(id) = &pod.pod_id else {
            return;
        };
        let recorded = self
            .input
            .state()
            .and_then(|s| s.pod.as_ref())
            .filter(|p| &p.id == id && p.status == Some(PodStatus::Exited))
            .and_then(|p| p.status_since);
        let observed = self
            .input
            .observed
            .pods
            .get(id)
            .and_then(Observation::pod)
            .filter(|p| !p.status.is_active())
            .and_then(|p| p.changed_at.as_deref())
            .and_then(|t| t.parse::<DateTime<Utc>>().ok());
        let Some(since) = recorded.or(observed) else {
            return;
        };
        let per_month = cost::stopped_usd_per_month(Some(&self.input.desired.pod.storage));
        self.notes.push(Note::PausedFor {
            pod_id: id.clone(),
            // Whole seconds: what people (and snapshot tests) read.
            since: since.trunc_subsecs(0),
            days: cleanup::days_since(since, self.input.now),
            per_day: cost::per_day(per_month),
            per_month,
        });
    }
}
