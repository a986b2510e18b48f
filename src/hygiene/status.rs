//! `rpd status`: one row per tracked pod across configs, with what it
//! costs now, and a footer totalling what runs and what is paused. Pure:
//! the command reads the registry, the states, the pods and the runs.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::runs::{RunRecord, Start};
use crate::cost;
use crate::model::{Lifecycle, PodStatus};
use crate::plan::Observation;
use crate::plan::cleanup::volume_gb;
use crate::state::{PodRecord, State};

/// What the command found for one config.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFacts {
    pub config: PathBuf,
    pub state_file: PathBuf,
    pub job_name: String,
    /// `None`: the state file is gone (a registry entry whose file was
    /// moved or deleted).
    pub state: Option<State>,
    /// The pods the registry last saw the state track.
    pub registered_pods: Vec<String>,
    pub lifecycle: Option<Lifecycle>,
    pub runs: Vec<RunRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LastRun {
    pub at: Option<DateTime<Utc>>,
    pub failed: bool,
    pub start: Start,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusRow {
    pub config: PathBuf,
    pub job_name: String,
    pub pod_id: String,
    /// Why it is kept, for a pod kept for forensics.
    pub retained: Option<String>,
    /// `None`: the provider says it no longer exists.
    pub status: Option<PodStatus>,
    pub gpu_id: Option<String>,
    pub gpu_count: Option<u32>,
    pub datacenter_id: Option<String>,
    /// The provider does not find it with this API key, and the state was
    /// made with another: it may exist (and bill) on the other key's
    /// account (`status` is `None` then, but it is not gone).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_visible: bool,
    /// Billed now, while it runs.
    pub per_hr: Option<f64>,
    /// Since when it has had its status (started, or stopped), and for how
    /// long, when known.
    pub since: Option<DateTime<Utc>>,
    pub for_sec: Option<u64>,
    pub volume_gb: Option<u32>,
    /// What its volume bills while it is stopped.
    pub storage_per_day: Option<f64>,
    pub storage_per_month: Option<f64>,
    pub lifecycle: Option<Lifecycle>,
    pub last_run: Option<LastRun>,
}

/// A config rpd knows whose state tracks no pod now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdleConfig {
    pub config: PathBuf,
    pub job_name: String,
    pub last_run: Option<LastRun>,
}

/// A registry entry whose state file is gone: its pods (if they exist)
/// show as untracked in `ls-stale`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissingState {
    pub config: PathBuf,
    pub state_file: PathBuf,
    pub job_name: String,
    pub pod_ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    pub running: usize,
    pub running_per_hr: f64,
    pub paused: usize,
    pub paused_gb: u32,
    pub paused_per_day: f64,
    pub paused_per_month: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub pods: Vec<StatusRow>,
    pub idle: Vec<IdleConfig>,
    pub missing_state_files: Vec<MissingState>,
    /// rpd-named pods that no state tracks (`ls-stale` lists them).
    pub untracked_pods: usize,
    /// rpd-named pods that no state rpd read tracks, but that rpd cannot
    /// prove untracked (a registered state unreadable or gone, or a
    /// lineage no registered state has).
    pub unproven_pods: usize,
    pub totals: Totals,
}

fn last_run(runs: &[RunRecord]) -> Option<LastRun> {
    runs.iter()
        .filter(|r| r.at.is_some())
        .max_by_key(|r| r.at)
        .map(|r| LastRun {
            at: r.at,
            failed: r.failed,
            start: r.start,
        })
}

fn row(
    facts: &ConfigFacts,
    record: &PodRecord,
    retained: Option<String>,
    seen: &Seen,
    now: DateTime<Utc>,
) -> StatusRow {
    let pod = seen.observed.get(&record.id).and_then(Observation::pod);
    let status = pod.map(|p| p.status);
    let spec = pod.map(|p| &p.spec).unwrap_or(&record.spec);
    // The newer of rpd's record and the provider's last change: a pod
    // started and stopped again outside rpd has had its status since then.
    let since = pod.and_then(|p| {
        let recorded = record
            .status_since
            .filter(|_| record.status == Some(p.status));
        let changed = p
            .changed_at
            .as_deref()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok());
        recorded.max(changed)
    });
    let stopped = status == Some(PodStatus::Exited);
    let per_month = stopped.then(|| cost::stopped_usd_per_month(spec.storage.as_ref()));
    StatusRow {
        config: facts.config.clone(),
        job_name: facts.job_name.clone(),
        pod_id: record.id.clone(),
        retained,
        status,
        not_visible: seen.not_visible.contains(&record.id),
        gpu_id: spec.gpu_id.clone(),
        gpu_count: spec.gpu_count,
        datacenter_id: spec.datacenter_id.clone(),
        per_hr: pod
            .filter(|p| p.status.is_active())
            .and_then(|p| p.cost_per_hr),
        for_sec: since.map(|s| u64::try_from((now - s).num_seconds()).unwrap_or(0)),
        since,
        volume_gb: pod.and_then(volume_gb),
        storage_per_day: per_month.map(cost::per_day),
        storage_per_month: per_month,
        lifecycle: facts.lifecycle,
        last_run: last_run(&facts.runs),
    }
}

/// What the provider says about the tracked pods.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// Every tracked pod's observation, but for those in `not_visible`.
    pub observed: HashMap<String, Observation>,
    /// Pods another API key than the state's cannot see.
    pub not_visible: std::collections::HashSet<String>,
    pub untracked_pods: usize,
    pub unproven_pods: usize,
}

/// The table, the configs with no pod, the registry's lost state files
/// and the totals.
pub fn build(configs: &[ConfigFacts], seen: &Seen, now: DateTime<Utc>) -> StatusReport {
    let mut pods = Vec::new();
    let mut idle = Vec::new();
    let mut missing_state_files = Vec::new();
    for facts in configs {
        let Some(state) = &facts.state else {
            missing_state_files.push(MissingState {
                config: facts.config.clone(),
                state_file: facts.state_file.clone(),
                job_name: facts.job_name.clone(),
                pod_ids: facts.registered_pods.clone(),
            });
            continue;
        };
        if state.pod.is_none() && state.retained.is_empty() {
            idle.push(IdleConfig {
                config: facts.config.clone(),
                job_name: facts.job_name.clone(),
                last_run: last_run(&facts.runs),
            });
        }
        if let Some(record) = &state.pod {
            pods.push(row(facts, record, None, seen, now));
        }
        for kept in &state.retained {
            pods.push(row(facts, &kept.pod, Some(kept.reason.clone()), seen, now));
        }
    }
    let mut totals = Totals::default();
    for row in &pods {
        match row.status {
            Some(s) if s.is_active() => {
                totals.running += 1;
                totals.running_per_hr += row.per_hr.unwrap_or(0.0);
            }
            Some(PodStatus::Exited) => {
                totals.paused += 1;
                totals.paused_gb += row.volume_gb.unwrap_or(0);
                totals.paused_per_month += row.storage_per_month.unwrap_or(0.0);
            }
            _ => {}
        }
    }
    totals.paused_per_day = cost::per_day(totals.paused_per_month);
    StatusReport {
        pods,
        idle,
        missing_state_files,
        untracked_pods: seen.untracked_pods,
        unproven_pods: seen.unproven_pods,
        totals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObservedPod, PodSpec, Storage};
    use crate::state::{Owner, RetainedPod};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn record(id: &str, status: PodStatus, since: &str) -> PodRecord {
        PodRecord {
            id: id.into(),
            name: String::new(),
            spec: PodSpec::default(),
            status: Some(status),
            status_since: Some(at(since)),
            created_at: None,
            provider: Some("sim".into()),
        }
    }

    fn seen(id: &str, status: PodStatus, gb: u32, per_hr: f64) -> Observation {
        Observation::Pod(Box::new(ObservedPod {
            id: id.into(),
            name: String::new(),
            status,
            spec: PodSpec {
                gpu_id: Some("NVIDIA GeForce RTX 4090".into()),
                storage: Some(Storage::Ephemeral {
                    volume_gb: gb,
                    mount: "/workspace".into(),
                }),
                ..PodSpec::default()
            },
            cost_per_hr: Some(per_hr),
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
    fn rows_cover_current_and_retained_pods_and_the_footer_totals_them() {
        let mut state = State::new(Owner {
            config: PathBuf::from("/p/a.yaml"),
            job_name: "a".into(),
        });
        state.pod = Some(record("run1", PodStatus::Running, "2026-11-27T23:00:00Z"));
        state.retained.push(RetainedPod {
            pod: record("old1", PodStatus::Exited, "2026-11-18T00:00:00Z"),
            reason: "on_failure: stop".into(),
            since: at("2026-11-18T00:00:00Z"),
        });
        let facts = vec![
            ConfigFacts {
                config: PathBuf::from("/p/a.yaml"),
                state_file: PathBuf::from("/p/.rpd/a.state.json"),
                job_name: "a".into(),
                state: Some(state),
                registered_pods: vec![],
                lifecycle: None,
                runs: vec![],
            },
            ConfigFacts {
                config: PathBuf::from("/p/b.yaml"),
                state_file: PathBuf::from("/p/.rpd/b.state.json"),
                job_name: "b".into(),
                state: None,
                registered_pods: vec!["lost1".into()],
                lifecycle: None,
                runs: vec![],
            },
        ];
        let observed = HashMap::from([
            (
                "run1".to_string(),
                seen("run1", PodStatus::Running, 20, 0.44),
            ),
            ("old1".to_string(), seen("old1", PodStatus::Exited, 50, 0.0)),
        ]);
        let seen = Seen {
            observed,
            untracked_pods: 2,
            ..Seen::default()
        };
        let report = build(&facts, &seen, at("2026-11-28T00:00:00Z"));
        assert_eq!(report.pods.len(), 2);
        assert_eq!(report.pods[0].for_sec, Some(3600));
        assert_eq!(report.pods[0].per_hr, Some(0.44));
        assert_eq!(report.pods[1].retained.as_deref(), Some("on_failure: stop"));
        assert_eq!(report.pods[1].for_sec, Some(10 * 86_400));
        assert_eq!(report.pods[1].storage_per_month, Some(10.0));
        let t = report.totals;
        assert_eq!((t.running, t.paused, t.paused_gb), (1, 1, 50));
        assert_eq!(format!("{:.2}", t.paused_per_day), "0.33");
        assert_eq!(report.missing_state_files[0].pod_ids, ["lost1"]);
        assert_eq!(report.untracked_pods, 2);
    }
}
