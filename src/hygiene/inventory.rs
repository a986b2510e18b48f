//! Whose each pod of the account is, and what a stopped one costs: the
//! facts `status`, `ls-stale` and `cleanup` share. Pure: the command reads
//! the registry, the state files and the provider's pod list into
//! [`Known`] and a list of pods.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cost;
use crate::model::{ObservedPod, Ownership, PodStatus, Unprovable};
use crate::plan::LeftAlone;
use crate::plan::cleanup::{days_since, volume_gb};
use crate::state::{LaunchedJob, PodRecord, State};

/// A pod a state tracks, with rpd's record of it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedPod {
    pub owner: Ownership,
    pub record: PodRecord,
    /// The job launched on it that no rpd collected (the state's
    /// `launched_job`): its log, artifacts and exit status are only there.
    pub uncollected_job: Option<LaunchedJob>,
}

/// A registered state rpd could not read: any pod may be its (an imported
/// pod carries no lineage of its own), so while one is, no pod is provably
/// untracked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadState {
    pub config: PathBuf,
    pub state_file: PathBuf,
    /// Its file is gone (moved or deleted) rather than unreadable.
    pub gone: bool,
}

/// What rpd knows from its registry and state files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    /// By pod id.
    pub tracked: HashMap<String, TrackedPod>,
    /// The config and state file of each registered lineage, by the 6 hex
    /// digits pod names carry.
    pub lineages: HashMap<String, (PathBuf, PathBuf)>,
    /// Registered states that could not be read.
    pub unread: Vec<UnreadState>,
}

impl Known {
    /// Adds what one state file tracks.
    pub fn add_state(&mut self, config: PathBuf, state_file: PathBuf, state: &State) {
        let owner = |retained| Ownership::Tracked {
            config: config.clone(),
            state_file: state_file.clone(),
            retained,
        };
        let job_on = |id: &str| {
            state
                .launched_job
                .as_ref()
                .filter(|job| job.pod_id == id)
                .cloned()
        };
        if let Some(pod) = &state.pod {
            self.tracked.insert(
                pod.id.clone(),
                TrackedPod {
                    owner: owner(false),
                    record: pod.clone(),
                    uncollected_job: job_on(&pod.id),
                },
            );
        }
        for retained in &state.retained {
            self.tracked.insert(
                retained.pod.id.clone(),
                TrackedPod {
                    owner: owner(true),
                    record: retained.pod.clone(),
                    uncollected_job: job_on(&retained.pod.id),
                },
            );
        }
        self.add_lineage(&state.lineage, config, state_file);
    }

    /// Adds a registered lineage (also when its state file is gone).
    pub fn add_lineage(&mut self, lineage: &uuid::Uuid, config: PathBuf, state_file: PathBuf) {
        self.lineages
            .insert(crate::pod_name::lineage_tag(lineage), (config, state_file));
    }

    /// Whose `pod` is: a state's, rpd's by its name (provably untracked,
    /// or not provably), or someone else's.
    pub fn ownership(&self, pod: &ObservedPod) -> Ownership {
        if let Some(tracked) = self.tracked.get(&pod.id) {
            return tracked.owner.clone();
        }
        let Some(name) = crate::pod_name::parse(&pod.name) else {
            return Ownership::NotRpds;
        };
        let known = self.lineages.get(name.lineage_tag);
        let config = known.map(|(config, _)| config.clone());
        let state_file = known.map(|(_, state)| state.clone());
        if !self.unread.is_empty() {
            return Ownership::Unproven {
                why: Unprovable::StateUnread,
                config,
                state_file,
            };
        }
        if known.is_none() {
            return Ownership::Unproven {
                why: Unprovable::UnknownLineage,
                config,
                state_file,
            };
        }
        Ownership::Untracked { config, state_file }
    }

    /// The job a tracked pod holds that no rpd collected.
    pub fn uncollected_job(&self, pod_id: &str) -> Option<&LaunchedJob> {
        self.tracked.get(pod_id)?.uncollected_job.as_ref()
    }

    /// Since when a stopped pod has been stopped: the newer of rpd's record
    /// of the stop and the provider's last status change (a pod started
    /// and stopped again outside rpd has been stopped since the later one:
    /// the older would overstate how long it has waited); `None` when
    /// neither knows.
    pub fn stopped_since(&self, pod: &ObservedPod) -> Option<DateTime<Utc>> {
        if pod.status != PodStatus::Exited {
            return None;
        }
        let recorded = self
            .tracked
            .get(&pod.id)
            .map(|t| &t.record)
            .filter(|r| r.status == Some(PodStatus::Exited))
            .and_then(|r| r.status_since);
        let changed = pod
            .changed_at
            .as_deref()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok());
        recorded.max(changed)
    }
}

/// A stopped pod and what it costs while it stays stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StalePod {
    pub pod: ObservedPod,
    pub owner: Ownership,
    pub stopped_since: Option<DateTime<Utc>>,
    pub stopped_days: Option<u64>,
    pub volume_gb: Option<u32>,
    pub per_day: f64,
    pub per_month: f64,
    /// When the job it holds was launched, if no rpd collected it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncollected_job: Option<DateTime<Utc>>,
}

/// Every stopped pod of `pods`, with whose it is and what it costs,
/// longest stopped first (unknown stop times last).
pub fn stale_pods(pods: &[ObservedPod], known: &Known, now: DateTime<Utc>) -> Vec<StalePod> {
    let mut out: Vec<StalePod> = pods
        .iter()
        .filter(|p| p.status == PodStatus::Exited)
        .map(|pod| {
            let stopped_since = known.stopped_since(pod);
            let per_month = cost::stopped_usd_per_month(pod.spec.storage.as_ref());
            StalePod {
                owner: known.ownership(pod),
                stopped_days: stopped_since.map(|since| days_since(since, now)),
                stopped_since,
                volume_gb: volume_gb(pod),
                per_day: cost::per_day(per_month),
                per_month,
                uncollected_job: known.uncollected_job(&pod.id).map(|j| j.launched_at),
                pod: pod.clone(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (a.stopped_since.is_none(), a.stopped_since, &a.pod.id).cmp(&(
            b.stopped_since.is_none(),
            b.stopped_since,
            &b.pod.id,
        ))
    });
    out
}

/// Which stopped pods a command looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// rpd-named pods no state tracks.
    pub untracked: bool,
    /// Every pod of the account (`--all`); implies `untracked`.
    pub all: bool,
    /// Stopped at least this many whole days ago; `None`: any.
    pub older_than_days: Option<u64>,
}

/// The pods a scope selects and how many it leaves alone, by why.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub selected: Vec<StalePod>,
    pub left_alone: Vec<(LeftAlone, usize)>,
}

/// Selects from `stale` (see [`stale_pods`]). An age threshold matches only
/// pods whose stop time is known to be old enough; `older_than_days` 0
/// matches every stopped pod.
pub fn select(stale: &[StalePod], scope: Scope) -> Selection {
    let mut selected = Vec::new();
    let mut not_rpds = 0;
    let mut untracked = 0;
    let mut unread = 0;
    let mut unknown_lineage = 0;
    let mut unknown = 0;
    let mut recent = 0;
    for pod in stale {
        match &pod.owner {
            Ownership::NotRpds if !scope.all => {
                not_rpds += 1;
                continue;
            }
            Ownership::Untracked { .. } if !(scope.untracked || scope.all) => {
                untracked += 1;
                continue;
            }
            // Not provably untracked: a state may track it, so only a
            // look at the whole account (`--all`) reaches it.
            Ownership::Unproven { why, .. } if !scope.all => {
                match why {
                    Unprovable::StateUnread => unread += 1,
                    Unprovable::UnknownLineage => unknown_lineage += 1,
                }
                continue;
            }
            _ => {}
        }
        match (scope.older_than_days, pod.stopped_days) {
            (None | Some(0), _) => {}
            (Some(_), None) => {
                unknown += 1;
                continue;
            }
            (Some(threshold), Some(days)) if days < threshold => {
                recent += 1;
                continue;
            }
            _ => {}
        }
        selected.push(pod.clone());
    }
    let mut left_alone = vec![
        (LeftAlone::NotRpds, not_rpds),
        (LeftAlone::Untracked, untracked),
        (
            LeftAlone::Unproven {
                why: Unprovable::StateUnread,
            },
            unread,
        ),
        (
            LeftAlone::Unproven {
                why: Unprovable::UnknownLineage,
            },
            unknown_lineage,
        ),
        (LeftAlone::UnknownStopTime, unknown),
    ];
    if let Some(older_than_days) = scope.older_than_days {
        left_alone.push((LeftAlone::StoppedRecently { older_than_days }, recent));
    }
    left_alone.retain(|(_, n)| *n > 0);
    Selection {
        selected,
        left_alone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PodSpec, Storage};
    use crate::state::Owner;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn pod(id: &str, name: &str, changed_at: Option<&str>) -> ObservedPod {
        ObservedPod {
            id: id.into(),
            name: name.into(),
            status: PodStatus::Exited,
            spec: PodSpec {
                storage: Some(Storage::Ephemeral {
                    volume_gb: 50,
                    mount: "/workspace".into(),
                }),
                ..PodSpec::default()
            },
            cost_per_hr: Some(0.0),
            access: None,
            ssh_proxy: false,
            no_public_ssh: false,
            status_text: None,
            actions: None,
            created_at: None,
            changed_at: changed_at.map(String::from),
        }
    }

    /// A registered state (lineage 2f4c4f...) tracking pod `t1`, stopped by
    /// rpd on 2026-10-01.
    fn known() -> Known {
        let mut state = State::new(Owner {
            config: PathBuf::from("/p/hello.yaml"),
            job_name: "hello".into(),
        });
        state.lineage = "2f4c4f82-63f1-40d6-9582-826057ac2a40".parse().unwrap();
        state.pod = Some(PodRecord {
            id: "t1".into(),
            name: "hello-20261001T000000Z-2f4c4f".into(),
            spec: PodSpec::default(),
            status: Some(PodStatus::Exited),
            status_since: Some(at("2026-10-01T00:00:00Z")),
            created_at: None,
            provider: Some("sim".into()),
        });
        let mut known = Known::default();
        known.add_state(
            PathBuf::from("/p/hello.yaml"),
            PathBuf::from("/p/.rpd/hello.state.json"),
            &state,
        );
        known
    }

    fn pods() -> Vec<ObservedPod> {
        vec![
            // Tracked; the provider's last status change is older than
            // rpd's record of the stop: the newer, rpd's, dates the stop.
            pod(
                "t1",
                "hello-20261001T000000Z-2f4c4f",
                Some("2026-09-15T00:00:00Z"),
            ),
            // Made by hello's state (its lineage), which lost it.
            pod(
                "u1",
                "hello-20261002T000000Z-2f4c4f",
                Some("2026-11-10T00:00:00Z"),
            ),
            // rpd's name, unknown lineage, no stop time.
            pod("u2", "other-20261003T000000Z-abcdef", None),
            pod("f1", "stable-diffusion", Some("2026-09-01T00:00:00Z")),
        ]
    }

    #[test]
    fn pods_are_rpds_by_state_or_by_name_and_others_are_not() {
        let stale = stale_pods(&pods(), &known(), at("2026-11-11T00:00:00Z"));
        let owners: Vec<(&str, &Ownership)> = stale
            .iter()
            .map(|s| (s.pod.id.as_str(), &s.owner))
            .collect();
        assert_eq!(
            owners,
            [
                ("f1", &Ownership::NotRpds),
                (
                    "t1",
                    &Ownership::Tracked {
                        config: PathBuf::from("/p/hello.yaml"),
                        state_file: PathBuf::from("/p/.rpd/hello.state.json"),
                        retained: false,
                    }
                ),
                (
                    "u1",
                    &Ownership::Untracked {
                        config: Some(PathBuf::from("/p/hello.yaml")),
                        state_file: Some(PathBuf::from("/p/.rpd/hello.state.json")),
                    }
                ),
                (
                    "u2",
                    &Ownership::Unproven {
                        why: Unprovable::UnknownLineage,
                        config: None,
                        state_file: None
                    }
                ),
            ]
        );
        let t1 = stale.iter().find(|s| s.pod.id == "t1").unwrap();
        assert_eq!(t1.stopped_days, Some(41), "rpd's record of the stop");
        assert_eq!(format!("{:.2}", t1.per_month), "10.00");
        assert_eq!(format!("{:.2}", t1.per_day), "0.33");
    }

    #[test]
    fn a_scope_never_reaches_past_rpds_pods_without_all_or_untracked_without_asking() {
        let stale = stale_pods(&pods(), &known(), at("2026-11-11T00:00:00Z"));
        let ids = |s: &Selection| -> Vec<String> {
            s.selected.iter().map(|p| p.pod.id.clone()).collect()
        };
        let tracked_only = select(
            &stale,
            Scope {
                untracked: false,
                all: false,
                older_than_days: None,
            },
        );
        assert_eq!(ids(&tracked_only), ["t1"]);
        assert_eq!(
            tracked_only.left_alone,
            [
                (LeftAlone::NotRpds, 1),
                (LeftAlone::Untracked, 1),
                (
                    LeftAlone::Unproven {
                        why: Unprovable::UnknownLineage
                    },
                    1
                )
            ]
        );
        let old_untracked = select(
            &stale,
            Scope {
                untracked: true,
                all: false,
                older_than_days: Some(30),
            },
        );
        assert_eq!(ids(&old_untracked), ["t1"]);
        assert_eq!(
            old_untracked.left_alone,
            [
                (LeftAlone::NotRpds, 1),
                (
                    LeftAlone::Unproven {
                        why: Unprovable::UnknownLineage
                    },
                    1
                ),
                (
                    LeftAlone::StoppedRecently {
                        older_than_days: 30
                    },
                    1
                )
            ]
        );
        let everything = select(
            &stale,
            Scope {
                untracked: false,
                all: true,
                older_than_days: Some(0),
            },
        );
        assert_eq!(ids(&everything), ["f1", "t1", "u1", "u2"]);
        assert!(everything.left_alone.is_empty());
    }

    /// Issue 19 (16): a pod started and stopped again outside rpd after
    /// rpd recorded its stop has been stopped since the later change.
    #[test]
    fn the_providers_newer_status_change_dates_a_stop() {
        let yesterday = pod(
            "t1",
            "hello-20261001T000000Z-2f4c4f",
            Some("2026-11-10T00:00:00Z"),
        );
        let stale = stale_pods(&[yesterday], &known(), at("2026-11-11T01:00:00Z"));
        assert_eq!(stale[0].stopped_days, Some(1), "not 41 days");
    }

    /// Issue 19 (11, 15): while a registered state cannot be read, any pod
    /// may be its: none is provably untracked, only `--all` reaches them.
    #[test]
    fn an_unread_registered_state_leaves_no_pod_provably_untracked() {
        let mut known = known();
        known.unread.push(UnreadState {
            config: PathBuf::from("/p/broken.yaml"),
            state_file: PathBuf::from("/p/.rpd/broken.state.json"),
            gone: false,
        });
        let stale = stale_pods(&pods(), &known, at("2026-11-11T00:00:00Z"));
        let u1 = stale.iter().find(|s| s.pod.id == "u1").unwrap();
        assert_eq!(
            u1.owner,
            Ownership::Unproven {
                why: Unprovable::StateUnread,
                config: Some(PathBuf::from("/p/hello.yaml")),
                state_file: Some(PathBuf::from("/p/.rpd/hello.state.json")),
            }
        );
        let selection = select(
            &stale,
            Scope {
                untracked: true,
                all: false,
                older_than_days: None,
            },
        );
        let ids: Vec<&str> = selection
            .selected
            .iter()
            .map(|p| p.pod.id.as_str())
            .collect();
        assert_eq!(ids, ["t1"], "the tracked pod only");
        assert!(selection.left_alone.contains(&(
            LeftAlone::Unproven {
                why: Unprovable::StateUnread
            },
            2
        )));
    }
}
