//! `rpd cleanup`'s plan: which pods it deletes or stops, whose they are and
//! what that stops paying for, as one [`Plan`] that the plan renderers
//! print like any other. Pure: `commands` finds the pods and decides which
//! ones the flags select; this turns that into steps, reasons and costs.

use chrono::{DateTime, Utc};

use super::*;
use crate::cost;
use crate::model::{Lifecycle, ObservedPod, Ownership, PodStatus, Storage};

/// What a cleanup does to one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupAction {
    Delete,
    /// Stop it and keep it (`--mode stop`).
    Stop,
}

/// A pod the flags selected.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub pod: ObservedPod,
    pub owner: Ownership,
    pub action: CleanupAction,
    /// Since when it has been stopped, when anyone knows.
    pub stopped_since: Option<DateTime<Utc>>,
    /// The job on it that no rpd collected.
    pub uncollected_job: Option<crate::state::LaunchedJob>,
}

/// A pod a state tracks that no longer exists: the state forgets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gone {
    pub pod_id: String,
    pub state_file: std::path::PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CleanupInput {
    pub targets: Vec<Target>,
    pub gone: Vec<Gone>,
    /// Stopped pods the flags did not select, by why.
    pub left_alone: Vec<(LeftAlone, usize)>,
    /// State files that are runpod-deploy pointers: one whose pod is
    /// deleted is removed, as runpod-deploy's cleanup does.
    pub pointers: Vec<std::path::PathBuf>,
    /// `--force`: clean up pods holding uncollected jobs too.
    pub force: bool,
    pub now: DateTime<Utc>,
}

/// The volume a stopped pod bills for, in GB (a network volume bills apart
/// from the pod, with or without it).
pub fn volume_gb(pod: &ObservedPod) -> Option<u32> {
    match &pod.spec.storage {
        Some(Storage::Ephemeral { volume_gb, .. }) => Some(*volume_gb),
        _ => None,
    }
}

/// Whole days since `since`.
pub fn days_since(since: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    u64::try_from((now - since).num_days()).unwrap_or(0)
}

pub fn plan(input: &CleanupInput) -> Plan {
    let mut steps = Builder::new();
    let mut summary = Summary::default();
    let mut freed = Freed::default();
    let mut state_changes = Vec::new();
    let mut not_rpds = 0;
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let mut unknown_status = 0;
    for target in &input.targets {
        let pod = &target.pod;
        // Neither deleted nor stopped on a guess (it may be running, or
        // already going): left alone, and said.
        if pod.status == PodStatus::Unknown {
            unknown_status += 1;
            continue;
        }
        // A job no rpd collected goes with its pod (or ends with its stop).
        let touched = match target.action {
            CleanupAction::Delete => true,
            CleanupAction::Stop => pod.status.is_active(),
        };
        if let Some(job) = target.uncollected_job.as_ref().filter(|_| touched) {
            let delete = target.action == CleanupAction::Delete;
            if input.force {
                let running = pod.status.is_active();
                warnings.push(Warning::JobLeftOnPod {
                    pod_id: pod.id.clone(),
                    launched_at: job.launched_at,
                    run_dir: job.run_dir.clone(),
                    running,
                    billed_sec: if running {
                        u64::try_from((input.now - job.launched_at).num_seconds()).unwrap_or(0)
                    } else {
                        0
                    },
                    per_hr: pod.cost_per_hr.filter(|c| *c > 0.0),
                    lost: delete,
                });
            } else {
                let config = match &target.owner {
                    Ownership::Tracked { config, .. } => config.clone(),
                    _ => std::path::PathBuf::new(),
                };
                errors.push(PlanError::UncollectedJob {
                    pod_id: pod.id.clone(),
                    config,
                    launched_at: job.launched_at,
                    delete,
                });
            }
        }
        let stopped = pod.status == PodStatus::Exited;
        let per_month = if stopped {
            cost::stopped_usd_per_month(pod.spec.storage.as_ref())
        } else {
            0.0
        };
        let reason = Reason::Cleanup {
            name: pod.name.clone(),
            owner: target.owner.clone(),
            status: pod.status,
            stopped_days: target
                .stopped_since
                .filter(|_| stopped)
                .map(|since| days_since(since, input.now)),
            volume_gb: volume_gb(pod),
            per_day: cost::per_day(per_month),
        };
        let running_per_hr = if pod.status.is_active() {
            pod.cost_per_hr.unwrap_or(0.0)
        } else {
            0.0
        };
        match target.action {
            CleanupAction::Delete => {
                steps.then(
                    StepKind::DeletePod {
                        pod_id: pod.id.clone(),
                        why: DeleteReason::Cleanup,
                    },
                    Some(reason),
                );
                summary.destroy += 1;
                freed.storage_per_month += per_month;
                freed.running_per_hr += running_per_hr;
                if let Ownership::Tracked { state_file, .. } = &target.owner {
                    state_changes.push(if input.pointers.contains(state_file) {
                        StateChange::RemovePointer {
                            state_file: state_file.clone(),
                        }
                    } else {
                        StateChange::ForgetPodIn {
                            pod_id: pod.id.clone(),
                            state_file: state_file.clone(),
                        }
                    });
                }
                if target.owner == Ownership::NotRpds {
                    not_rpds += 1;
                }
            }
            CleanupAction::Stop if pod.status.is_active() => {
                steps.then(
                    StepKind::StopPod {
                        pod_id: pod.id.clone(),
                    },
                    Some(reason),
                );
                summary.stop += 1;
                freed.running_per_hr += running_per_hr;
            }
            CleanupAction::Stop => {}
        }
    }
    for gone in &input.gone {
        steps.then(
            StepKind::ForgetPod {
                pod_id: gone.pod_id.clone(),
            },
            Some(Reason::AlreadyDeletedOutsideRpd {
                pod_id: gone.pod_id.clone(),
            }),
        );
        state_changes.push(StateChange::ForgetPodIn {
            pod_id: gone.pod_id.clone(),
            state_file: gone.state_file.clone(),
        });
    }
    freed.storage_per_day = cost::per_day(freed.storage_per_month);
    if not_rpds > 0 {
        warnings.push(Warning::DeletesPodsNotRpds { count: not_rpds });
    }
    let notes = input
        .left_alone
        .iter()
        .chain([(LeftAlone::UnknownStatus, unknown_status)].iter())
        .filter(|(_, count)| *count > 0)
        .map(|(why, count)| Note::CleanupLeftAlone {
            count: *count,
            why: *why,
        })
        .collect();
    let has_pod_changes = steps.graph.node_weights().any(|s| s.kind.changes_things());
    let reason = if steps.graph.node_count() == 0 {
        Reason::NothingToCleanUp
    } else {
        Reason::DestroyRequested
    };
    Plan {
        job_name: String::new(),
        mode: Mode::Cleanup,
        graph: steps.graph,
        report: PlanReport {
            drift: Vec::new(),
            pod: PodChange::bare(PodAction::Nothing, None, reason),
            retained: Vec::new(),
            warnings,
            notes,
            errors,
            summary,
            has_pod_changes,
            // Every pod a cleanup touches is stopped or deleted.
            changes_beyond_routine: has_pod_changes,
            state_only_changes: state_changes,
            cost: CostReport {
                frees: (freed.storage_per_month > 0.0 || freed.running_per_hr > 0.0)
                    .then_some(freed),
                ..CostReport::default()
            },
        },
        lifecycle: Lifecycle::default(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::model::PodSpec;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn stopped(id: &str, gb: u32) -> ObservedPod {
        ObservedPod {
            id: id.into(),
            name: format!("hello-20261001T000000Z-{id}"),
            status: PodStatus::Exited,
            spec: PodSpec {
                storage: Some(Storage::Ephemeral {
                    volume_gb: gb,
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
            changed_at: None,
        }
    }

    fn tracked() -> Ownership {
        Ownership::Tracked {
            config: PathBuf::from("/p/hello.yaml"),
            state_file: PathBuf::from("/p/.rpd/hello.state.json"),
            retained: false,
        }
    }

    #[test]
    fn deleting_a_50_gb_stopped_pod_frees_ten_dollars_a_month_and_33_cents_a_day() {
        let input = CleanupInput {
            targets: vec![Target {
                pod: stopped("a1", 50),
                owner: tracked(),
                action: CleanupAction::Delete,
                stopped_since: Some(at("2026-10-01T00:00:00Z")),
                uncollected_job: None,
            }],
            gone: vec![],
            left_alone: vec![(LeftAlone::NotRpds, 2), (LeftAlone::Untracked, 0)],
            pointers: vec![],
            force: false,
            now: at("2026-11-11T12:00:00Z"),
        };
        let plan = plan(&input);
        assert_eq!(plan.mode, Mode::Cleanup);
        let freed = plan.report.cost.frees.unwrap();
        assert_eq!(
            crate::model::Usd(freed.storage_per_month).to_string(),
            "$10.00"
        );
        assert_eq!(
            crate::model::Usd(freed.storage_per_day).to_string(),
            "$0.33"
        );
        assert_eq!(plan.report.summary.destroy, 1);
        let step = plan.steps()[0].clone();
        assert_eq!(
            step.reason,
            Some(Reason::Cleanup {
                name: "hello-20261001T000000Z-a1".into(),
                owner: tracked(),
                status: PodStatus::Exited,
                stopped_days: Some(41),
                volume_gb: Some(50),
                per_day: 10.0 / 30.0,
            })
        );
        assert_eq!(
            plan.report.state_only_changes,
            [StateChange::ForgetPodIn {
                pod_id: "a1".into(),
                state_file: PathBuf::from("/p/.rpd/hello.state.json"),
            }]
        );
        assert_eq!(
            plan.report.notes,
            [Note::CleanupLeftAlone {
                count: 2,
                why: LeftAlone::NotRpds
            }]
        );
        assert!(plan.report.warnings.is_empty());
    }

    /// A pod whose status rpd does not know is neither deleted nor
    /// stopped (a state file's cleanup deletes every pod it tracks): it is
    /// left alone, and the plan says so.
    #[test]
    fn a_pod_in_a_status_rpd_does_not_know_is_left_alone_and_said() {
        let mut unknown = stopped("u1", 20);
        unknown.status = PodStatus::Unknown;
        unknown.status_text = Some("HIBERNATING".into());
        for action in [CleanupAction::Delete, CleanupAction::Stop] {
            let input = CleanupInput {
                targets: vec![Target {
                    pod: unknown.clone(),
                    owner: tracked(),
                    action,
                    stopped_since: None,
                    uncollected_job: None,
                }],
                gone: vec![],
                left_alone: vec![],
                pointers: vec![],
                now: at("2026-11-11T12:00:00Z"),
                force: false,
            };
            let plan = plan(&input);
            assert!(plan.steps().is_empty(), "{action:?}");
            assert!(plan.report.state_only_changes.is_empty());
            assert_eq!(
                plan.report.notes,
                [Note::CleanupLeftAlone {
                    count: 1,
                    why: LeftAlone::UnknownStatus
                }]
            );
        }
    }

    #[test]
    fn pods_not_rpds_are_warned_about_and_a_pointer_goes_with_its_pod() {
        let pointer = PathBuf::from("/home/u/.runpod-deploy-current");
        let input = CleanupInput {
            targets: vec![
                Target {
                    pod: stopped("f1", 20),
                    owner: Ownership::NotRpds,
                    action: CleanupAction::Delete,
                    stopped_since: None,
                    uncollected_job: None,
                },
                Target {
                    pod: stopped("p1", 20),
                    owner: Ownership::Tracked {
                        config: PathBuf::new(),
                        state_file: pointer.clone(),
                        retained: false,
                    },
                    action: CleanupAction::Delete,
                    stopped_since: None,
                    uncollected_job: None,
                },
            ],
            gone: vec![],
            left_alone: vec![],
            pointers: vec![pointer.clone()],
            force: false,
            now: at("2026-11-11T12:00:00Z"),
        };
        let plan = plan(&input);
        assert_eq!(
            plan.report.warnings,
            [Warning::DeletesPodsNotRpds { count: 1 }]
        );
        assert_eq!(
            plan.report.state_only_changes,
            [StateChange::RemovePointer {
                state_file: pointer
            }]
        );
    }

    #[test]
    fn a_stop_of_a_stopped_pod_is_nothing_to_do() {
        let input = CleanupInput {
            targets: vec![Target {
                pod: stopped("a1", 50),
                owner: tracked(),
                action: CleanupAction::Stop,
                stopped_since: None,
                uncollected_job: None,
            }],
            gone: vec![],
            left_alone: vec![],
            pointers: vec![],
            force: false,
            now: at("2026-11-11T12:00:00Z"),
        };
        let plan = plan(&input);
        assert!(plan.is_empty());
        assert_eq!(plan.report.pod.reason, Reason::NothingToCleanUp);
        assert_eq!(plan.report.cost.frees, None);
    }

    /// Issue 19 (13): a pod holding a job no rpd collected is not cleaned
    /// up without --force; with it, the plan warns that the job goes.
    #[test]
    fn a_pod_holding_an_uncollected_job_needs_force() {
        let job = crate::state::LaunchedJob {
            pod_id: "a1".into(),
            launched_at: at("2026-11-10T00:00:00Z"),
            run_dir: PathBuf::from("/p/artifacts/runpod/20261110T000000Z-hello-abcdef"),
            log_path: "/workspace/hello/run.log".into(),
            tag: Some("abcdef".into()),
            deadline_at: None,
            detached: true,
        };
        let input = |force| CleanupInput {
            targets: vec![Target {
                pod: stopped("a1", 50),
                owner: tracked(),
                action: CleanupAction::Delete,
                stopped_since: None,
                uncollected_job: Some(job.clone()),
            }],
            gone: vec![],
            left_alone: vec![],
            pointers: vec![],
            force,
            now: at("2026-11-11T12:00:00Z"),
        };
        let refused = plan(&input(false));
        assert_eq!(
            refused.report.errors,
            [PlanError::UncollectedJob {
                pod_id: "a1".into(),
                config: PathBuf::from("/p/hello.yaml"),
                launched_at: job.launched_at,
                delete: true,
            }]
        );
        let forced = plan(&input(true));
        assert!(forced.report.errors.is_empty());
        assert!(matches!(
            &forced.report.warnings[..],
            [Warning::JobLeftOnPod { lost: true, .. }]
        ));
        // A stop of a pod already stopped changes nothing: no error.
        let mut stop = input(false);
        stop.targets[0].action = CleanupAction::Stop;
        assert!(plan(&stop).report.errors.is_empty());
    }
}
