//! What a resume says about the pause it ends (issue 10, item 10).

use chrono::{DateTime, SubsecRound, Utc};

use super::*;
use crate::cost;
use crate::model::PodStatus;

impl Planner<'_> {
    /// A resume says how long the pod waited and what its volume bills
    /// while it waits (from rpd's record of the stop, else the provider's
    /// last status change). An update of a paused pod resumes it too.
    pub(super) fn report_paused_for(&mut self, pod: &PodChange) {
        let resumes = match pod.action {
            PodAction::Resume => true,
            PodAction::Update => pod.status == Some(PodStatus::Exited),
            _ => false,
        };
        if !resumes {
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
        let live = self.input.observed.pods.get(id).and_then(Observation::pod);
        let observed = live
            .filter(|p| !p.status.is_active())
            .and_then(|p| p.changed_at.as_deref())
            .and_then(|t| t.parse::<DateTime<Utc>>().ok());
        let Some(since) = recorded.or(observed) else {
            return;
        };
        // What the paused volume billed: its own size (an update may grow
        // it), else the config's.
        let storage = live
            .and_then(|p| p.spec.storage.as_ref())
            .unwrap_or(&self.input.desired.pod.storage);
        let per_month = cost::stopped_usd_per_month(Some(storage));
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
