//! Inputs the planner refuses, what it reports from the refresh's other
//! findings (lock, SSH key, catalog, runpod-deploy state), and the step order.

use chrono::Utc;
use petgraph::stable_graph::StableDiGraph;

use super::*;
use crate::state::RetainedPod;

fn holder() -> LockHolder {
    LockHolder {
        operation: "apply".into(),
        who: "ana@laptop".into(),
        since: "2026-11-27T10:00:00Z".parse().unwrap(),
        pid: 4242,
        host: "laptop".into(),
    }
}

fn missing_key() -> MissingSshKey {
    MissingSshKey {
        key_path: PathBuf::from("/home/ana/.ssh/id_ed25519"),
        config_path: PathBuf::from("hello.yaml"),
        missing: crate::model::KeyPart::PublicKey,
    }
}

/// A paused pod the state records, which the provider still has.
fn paused() -> Case {
    Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    )
}

#[test]
fn no_gpu_type_or_no_datacenter_is_refused_not_a_panic() {
    let mut case = Case::new();
    case.desired.gpu_order.clear();
    assert_eq!(plan(&case.input()).unwrap_err(), InvalidInput::NoGpuTypes);

    // The replace of a recorded pod used to index the first candidate.
    let mut case = paused();
    case.desired.image = "img:2".into();
    case.desired.datacenters.clear();
    assert_eq!(
        check_input_validity(&case.input()),
        Err(InvalidInput::NoDatacenters)
    );
    assert_eq!(
        plan(&case.input()).unwrap_err(),
        InvalidInput::NoDatacenters
    );
}

#[test]
fn a_destroy_needs_no_candidates() {
    let mut case = paused();
    case.mode = Mode::Destroy;
    case.desired.gpu_order.clear();
    case.desired.datacenters.clear();
    assert_eq!(check_input_validity(&case.input()), Ok(()));
    assert_eq!(summary(&case.plan()), (0, 0, 1, 0));
}

#[test]
fn a_lock_held_by_another_run_is_a_warning_in_both_modes() {
    let mut case = Case::new();
    case.lock = Some(LockSeen::Held(holder()));
    assert_eq!(case.plan().report.warnings, [Warning::LockHeld(holder())]);
    case.mode = Mode::Destroy;
    assert_eq!(case.plan().report.warnings, [Warning::LockHeld(holder())]);
}

#[test]
fn a_lock_left_by_a_gone_run_is_a_note_that_apply_takes_it_over_not_a_warning() {
    let mut case = Case::new();
    case.lock = Some(LockSeen::LeftByGoneRun(holder()));
    let report = case.plan().report;
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.notes, [guard_note(), Note::StaleLock(holder())]);
}

/// The note of the on-pod guard for the cases' job: an hour of max
/// runtime from the cases' now, ten minutes of grace.
pub(super) fn guard_note() -> Note {
    Note::GuardStopsPod {
        deadline_at: "2026-11-27T13:00:00Z".parse().unwrap(),
        max_runtime: true,
        grace_sec: 600,
    }
}

#[test]
fn a_plan_that_runs_the_job_says_when_the_on_pod_guard_stops_the_pod() {
    let mut case = Case::new();
    assert_eq!(case.plan().report.notes, [guard_note()]);
    case.mode = Mode::Destroy;
    assert!(case.plan().report.notes.is_empty(), "no job, no guard");
}

/// Without the key pair an apply would make a pod that bills and that rpd
/// cannot reach: the plan fails (it used to be a warning, and a missing
/// public half was not noticed at all).
#[test]
fn a_missing_ssh_key_or_public_half_fails_an_apply_plan_not_a_destroy() {
    let mut case = Case::new();
    case.missing_ssh_key = Some(missing_key());
    let plan = case.plan();
    assert_eq!(
        plan.report.errors,
        [PlanError::SshKeyMissing(missing_key())]
    );
    assert!(
        plan.report.warnings.is_empty(),
        "{:?}",
        plan.report.warnings
    );
    case.mode = Mode::Destroy;
    assert!(case.plan().report.errors.is_empty(), "destroy only deletes");
}

#[test]
fn an_unreadable_catalog_is_a_warning_and_leaves_stock_and_prices_unknown() {
    let mut case = Case::new();
    case.catalog = CatalogRead::Unreadable {
        error: "HTTP 503".into(),
    };
    let plan = case.plan();
    assert_eq!(
        plan.report.warnings,
        [Warning::CatalogUnreadable {
            error: "HTTP 503".into()
        }]
    );
    let StepKind::CreatePod { candidates } = &plan.steps()[0].kind else {
        panic!("create first")
    };
    assert!(
        candidates
            .iter()
            .all(|c| c.stock == Stock::Unknown && c.price_per_hr.is_none())
    );
    assert_eq!(plan.report.cost.running_per_hr, None);
}

#[test]
fn a_runpod_deploy_state_is_noted_after_the_plans_own_notes() {
    let mut case = paused();
    case.origin = Origin::RunpodDeploy;
    let notes = case.plan().report.notes;
    assert_eq!(notes.len(), 3);
    assert!(matches!(notes[0], Note::ResumeWipesContainerDisk { .. }));
    assert_eq!(notes[1], guard_note());
    assert_eq!(
        notes[2],
        Note::RunpodDeployPointer {
            state_file: PathBuf::from("/c.state.json")
        }
    );
    case.origin = Origin::Rpd;
    assert_eq!(case.plan().report.notes.len(), 2);
}

#[test]
fn the_refreshs_findings_follow_the_plans_own_warnings() {
    let mut case = Case::new();
    case.fallback_cloud = Some(CloudType::Secure);
    case.catalog = CatalogRead::Unreadable {
        error: "502".into(),
    };
    case.lock = Some(LockSeen::Held(holder()));
    assert_eq!(
        case.plan().report.warnings,
        [
            Warning::FallbackIsOwnCloud {
                cloud: CloudType::Secure
            },
            Warning::CatalogUnreadable {
                error: "502".into()
            },
            Warning::LockHeld(holder()),
        ]
    );
}

/// The order [`Plan::ordered`] gives a graph of `steps` (added in this
/// order) with `edges` between them (positions in `steps`).
fn order_of(steps: Vec<StepKind>, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut graph = StableDiGraph::new();
    let nodes: Vec<_> = steps
        .into_iter()
        .map(|kind| graph.add_node(Step { kind, reason: None }))
        .collect();
    for (from, to) in edges {
        graph.add_edge(nodes[*from], nodes[*to], ());
    }
    let mut plan = Case::new().plan();
    plan.graph = graph;
    let position = |n| nodes.iter().position(|m| *m == n).unwrap();
    plan.ordered()
        .into_iter()
        .map(|(n, _)| position(n))
        .collect()
}

#[test]
fn steps_run_in_the_order_of_their_edges_not_of_their_indices() {
    let (monitor, launch, wait) = (0, 1, 2);
    let steps = vec![
        StepKind::Monitor { timeout_sec: 60 },
        StepKind::Launch {
            script_path: "/run.sh".into(),
        },
        StepKind::WaitReady { timeout_sec: 60 },
    ];
    let order = order_of(steps, &[(wait, launch), (launch, monitor)]);
    assert_eq!(order, [wait, launch, monitor]);
}

#[test]
fn ready_steps_are_taken_lowest_index_first() {
    let (first, second, root) = (0, 1, 2);
    let steps = vec![
        StepKind::RemoveState,
        StepKind::ForgetPod { pod_id: "a".into() },
        StepKind::WaitReady { timeout_sec: 60 },
    ];
    let order = order_of(steps, &[(root, second), (root, first)]);
    assert_eq!(order, [root, first, second]);
}

#[test]
fn every_step_has_an_edge_and_gone_retained_pods_are_forgotten_last() {
    let mut case = paused();
    let state = case.state.as_mut().unwrap();
    for id in ["old1", "old2"] {
        state.retained.push(RetainedPod {
            pod: PodRecord {
                id: id.into(),
                name: String::new(),
                spec: spec("EU-RO-1", A40),
                status: None,
                status_since: None,
                created_at: None,
                provider: None,
            },
            reason: "on_failure: stop".into(),
            since: Utc::now(),
        });
        case.observed.pods.insert(id.into(), Observation::Gone);
    }
    let plan = case.plan();
    for node in plan.graph.node_indices() {
        assert!(
            plan.graph.neighbors_undirected(node).next().is_some(),
            "{:?} has no edge",
            plan.graph[node].kind
        );
    }
    let tail: Vec<String> = plan
        .steps()
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(|s| match &s.kind {
            StepKind::Lifecycle { when, .. } => format!("lifecycle {}", when.as_str()),
            StepKind::ForgetPod { pod_id } => format!("forget {pod_id}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        tail,
        [
            "lifecycle success",
            "lifecycle failure",
            "forget old1",
            "forget old2"
        ]
    );
    let forget = plan
        .ordered()
        .into_iter()
        .find(|(_, s)| matches!(&s.kind, StepKind::ForgetPod { pod_id } if pod_id == "old1"))
        .unwrap()
        .0;
    let before: Vec<_> = plan
        .graph
        .neighbors_directed(forget, petgraph::Direction::Incoming)
        .map(|n| plan.graph[n].kind.clone())
        .collect();
    assert_eq!(before.len(), 2, "after both lifecycle branches: {before:?}");
    assert!(
        before
            .iter()
            .all(|k| matches!(k, StepKind::Lifecycle { .. }))
    );
}

#[test]
fn a_recorded_pod_the_refresh_did_not_look_up_is_refused_not_taken_as_gone() {
    for mode in [Mode::Apply, Mode::Destroy] {
        let mut case = paused();
        case.mode = mode;
        case.observed.pods.clear();
        assert_eq!(
            plan(&case.input()).unwrap_err(),
            InvalidInput::NotObserved {
                pod_id: "pod1".into()
            },
            "{mode:?}"
        );
    }
}

#[test]
fn local_problems_are_errors_of_an_apply_plan_only() {
    let problem = LocalProblem::RequiredPathMissing {
        path: PathBuf::from("/data/x"),
    };
    let mut case = Case::new();
    case.local_problems = vec![problem.clone()];
    assert_eq!(case.plan().report.errors, [PlanError::LocalInput(problem)]);
    case.mode = Mode::Destroy;
    assert_eq!(case.plan().report.errors, []);
}

#[test]
fn commands_run_without_a_sandbox_are_a_warning_of_an_apply_plan_only() {
    let why = crate::model::NoSandbox::Refused {
        error: "setting up uid map: Permission denied".into(),
    };
    let mut case = Case::new();
    assert_eq!(case.plan().report.warnings, []);
    case.unsandboxed = Some(why.clone());
    assert_eq!(
        case.plan().report.warnings,
        [Warning::SimulatorUnsandboxed { why }]
    );
    case.mode = Mode::Destroy;
    assert_eq!(case.plan().report.warnings, []);
}

#[test]
fn a_job_left_on_the_pod_is_reported_unless_a_live_run_holds_the_lock() {
    let mut case = Case::new().recorded(
        PodStatus::Running,
        observed("pod1", PodStatus::Running, spec("EU-RO-1", A40)),
    );
    case.state.as_mut().unwrap().launched_job = Some(crate::state::LaunchedJob {
        pod_id: "pod1".into(),
        launched_at: "2026-11-27T11:00:00Z".parse().unwrap(),
        run_dir: PathBuf::from("/runs/1"),
        log_path: "/workspace/run.log".into(),
        tag: None,
        deadline_at: None,
        detached: false,
    });
    let left = Warning::JobLeftOnPod {
        pod_id: "pod1".into(),
        launched_at: "2026-11-27T11:00:00Z".parse().unwrap(),
        run_dir: PathBuf::from("/runs/1"),
        running: true,
        billed_sec: 3600,
        per_hr: Some(0.4),
        lost: false,
    };
    assert_eq!(case.plan().report.warnings, [left]);
    case.replace = true;
    let Warning::JobLeftOnPod { lost, .. } = &case.plan().report.warnings[0] else {
        panic!("a left job");
    };
    assert!(lost, "a replace deletes the pod and the log with it");
    case.replace = false;
    case.mode = Mode::Destroy;
    let Some(Warning::JobLeftOnPod { lost, .. }) = case.plan().report.warnings.first().cloned()
    else {
        panic!("a destroy warns of the job left on the pod it deletes");
    };
    assert!(
        lost,
        "a destroy deletes the pod and the job's results with it"
    );
    case.lock = Some(LockSeen::Held(holder()));
    assert!(
        !case
            .plan()
            .report
            .warnings
            .iter()
            .any(|w| matches!(w, Warning::JobLeftOnPod { .. })),
        "the live run's own job"
    );
}

/// A state whose update of pod1 to `img:2` was sent and never answered.
fn interrupted_update(live_image: &str, status: PodStatus) -> Case {
    let mut live = spec("EU-RO-1", A40);
    live.image = Some(live_image.into());
    let mut case = Case::new().recorded(status, observed("pod1", status, live));
    case.desired.image = "img:2".into();
    case.state.as_mut().unwrap().pending_update = Some(crate::state::PendingUpdate {
        pod_id: "pod1".into(),
        update: crate::model::PodUpdate {
            image: Some("img:2".into()),
            ..Default::default()
        },
        started_at: "2026-11-27T11:00:00Z".parse().unwrap(),
    });
    case
}

#[test]
fn an_interrupted_update_the_pod_has_is_recorded_not_sent_again() {
    let plan = interrupted_update("img:2", PodStatus::Starting).plan();
    assert_eq!(
        prelude(&plan),
        ["settle update of pod1, applied: true", "use pod1"]
    );
    assert!(
        plan.report.drift.is_empty(),
        "rpd's own update is not drift"
    );
    assert_eq!(
        plan.report.state_only_changes,
        [StateChange::RecordInterruptedUpdate {
            pod_id: "pod1".into()
        }]
    );
}

#[test]
fn an_interrupted_update_the_pod_lacks_is_planned_afresh_from_the_live_pod() {
    let plan = interrupted_update("img:1", PodStatus::Exited).plan();
    assert_eq!(
        prelude(&plan),
        [
            "settle update of pod1, applied: false",
            "update pod1: image",
            "start pod1"
        ]
    );
    assert!(plan.report.drift.is_empty());
    assert_eq!(
        plan.report.state_only_changes,
        [StateChange::ForgetInterruptedUpdate {
            pod_id: "pod1".into()
        }]
    );
}

#[test]
fn an_interrupted_update_of_a_pod_changed_since_follows_the_live_pod() {
    // Someone set another image in the console after the lost answer: the
    // live pod is the truth, and the config's image is planned from it.
    let plan = interrupted_update("img:console", PodStatus::Exited).plan();
    assert_eq!(
        prelude(&plan),
        [
            "settle update of pod1, applied: false",
            "update pod1: image",
            "start pod1"
        ]
    );
    let Drift::Changed { fields, .. } = &plan.report.drift[0] else {
        panic!("the console's change is drift")
    };
    assert_eq!(fields[0].new, Some(FieldValue::text("img:console")));
}
#[test]
fn a_resume_says_how_long_the_pod_was_paused_from_rpds_record_of_the_stop() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    let stopped: chrono::DateTime<chrono::Utc> = "2026-11-24T09:00:00Z".parse().unwrap();
    case.state
        .as_mut()
        .unwrap()
        .pod
        .as_mut()
        .unwrap()
        .status_since = Some(stopped);
    let plan = case.plan();
    // 20 GB x $0.20 = $4.00/month; /30 = $0.1333/day; stopped 3 days before now.
    assert!(
        plan.report.notes.contains(&Note::PausedFor {
            pod_id: "pod1".into(),
            since: stopped,
            days: 3,
            per_day: 4.0 / 30.0,
            per_month: 4.0,
        }),
        "{:?}",
        plan.report.notes
    );
    assert_eq!(plan.report.cost.stopped_per_month, Some(4.0));
    assert_eq!(plan.report.cost.stopped_per_day, Some(4.0 / 30.0));
}

#[test]
fn a_resume_with_no_known_stop_time_says_nothing_of_it() {
    let plan = Case::new()
        .recorded(
            PodStatus::Exited,
            observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
        )
        .plan();
    assert!(
        !plan
            .report
            .notes
            .iter()
            .any(|n| matches!(n, Note::PausedFor { .. })),
        "{:?}",
        plan.report.notes
    );
}

#[test]
fn an_update_that_resumes_says_what_the_volume_billed_at_its_size_while_paused() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    let stopped: chrono::DateTime<chrono::Utc> = "2026-11-24T09:00:00Z".parse().unwrap();
    case.state
        .as_mut()
        .unwrap()
        .pod
        .as_mut()
        .unwrap()
        .status_since = Some(stopped);
    // The config grows the volume to 40 GB: it paused at 20 GB.
    case.desired.storage = crate::model::Storage::Ephemeral {
        volume_gb: 40,
        mount: "/workspace".into(),
    };
    let plan = case.plan();
    assert_eq!(plan.report.pod.action, PodAction::Update);
    assert!(
        plan.report.notes.contains(&Note::PausedFor {
            pod_id: "pod1".into(),
            since: stopped,
            days: 3,
            per_day: 4.0 / 30.0,
            per_month: 4.0,
        }),
        "{:?}",
        plan.report.notes
    );
}

/// The on-pod guard stopping the pod of a job an earlier run launched, and
/// a pod rpd started settling into RUNNING, are rpd's doing: no "changes
/// made outside rpd" (which made `--detailed-exitcode` exit 2 in the
/// routine detach, guard stop, attach flow). A stop without such a job is.
#[test]
fn the_guards_stop_and_a_pod_settling_are_not_outside_changes() {
    let left_job = crate::state::LaunchedJob {
        pod_id: "pod1".into(),
        launched_at: "2026-11-27T11:00:00Z".parse().unwrap(),
        run_dir: PathBuf::from("/runs/1"),
        log_path: "/workspace/run.log".into(),
        tag: Some("0123456789ab".into()),
        deadline_at: None,
        detached: true,
    };
    let mut guard_stopped = Case::new().recorded(
        PodStatus::Running,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    guard_stopped.state.as_mut().unwrap().launched_job = Some(left_job);
    assert!(guard_stopped.plan().report.drift.is_empty());

    let stopped_in_console = Case::new().recorded(
        PodStatus::Running,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    assert_eq!(stopped_in_console.plan().report.drift.len(), 1);

    let settled = Case::new().recorded(
        PodStatus::Provisioning,
        observed("pod1", PodStatus::Running, spec("EU-RO-1", A40)),
    );
    assert!(settled.plan().report.drift.is_empty());
}

/// Issue 19, item 2: the paused pod that holds a job to collect is resumed
/// with no fallback and its busy host never replaces it, whatever the
/// busy-host policy; the same pod without such a job keeps its policy.
#[test]
fn a_paused_pod_holding_a_job_to_collect_is_never_replaced_on_a_busy_host() {
    let mut case = Case::new().recorded(
        PodStatus::Running,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.on_busy_host = Some(crate::model::BusyHostPolicy::Recreate);
    let plain = case.plan();
    let StepKind::StartPod {
        fallback,
        busy_host,
        ..
    } = &plain.steps()[0].kind
    else {
        panic!("a resume first: {:?}", plain.steps());
    };
    assert!(!fallback.is_empty() && !busy_host.holds_job);

    case.state.as_mut().unwrap().launched_job = Some(crate::state::LaunchedJob {
        pod_id: "pod1".into(),
        launched_at: "2026-11-27T11:00:00Z".parse().unwrap(),
        run_dir: PathBuf::from("/runs/1"),
        log_path: "/workspace/run.log".into(),
        tag: Some("0123456789ab".into()),
        deadline_at: None,
        detached: true,
    });
    let collect = case.plan();
    let StepKind::StartPod {
        fallback,
        busy_host,
        ..
    } = &collect.steps()[0].kind
    else {
        panic!("a resume first: {:?}", collect.steps());
    };
    assert!(fallback.is_empty(), "nothing to create on");
    assert!(busy_host.holds_job);
    assert_eq!(busy_host.policy, crate::model::BusyHostPolicy::Recreate);
    assert_eq!(
        crate::render::words::busy_host("pod1", busy_host),
        "if its host has no free GPU: try again for up to 2m00s, then keep it paused and stop: it holds the job an earlier apply launched, which is collected on this pod only (never deleted or replaced for it, whatever on_busy_host says)"
    );
}
