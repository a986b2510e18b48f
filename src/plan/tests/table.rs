//! The decision table (PLANNER.md), one case per row.

use chrono::Utc;

use super::*;
use crate::model::{InPlaceUpdates, PodUpdate};
use crate::render::words;
use crate::state::{PendingCreate, RetainedPod};

#[test]
fn row1_no_state_creates_on_the_ranked_candidates() {
    let plan = Case::new().plan();
    assert_eq!(prelude(&plan), ["create"]);
    assert_eq!(plan.report.pod.action, PodAction::Create);
    assert_eq!(plan.report.pod.reason, Reason::NoPodRecorded);
    let StepKind::CreatePod { candidates } = &plan.steps()[0].kind else {
        panic!("first step creates")
    };
    let order: Vec<String> = candidates
        .iter()
        .map(|c| format!("{}/{}", c.datacenter_id, c.gpu_id))
        .collect();
    assert_eq!(
        order,
        [
            "EU-RO-1/NVIDIA A40",
            "EU-RO-1/NVIDIA L40S",
            "US-CA-2/NVIDIA A40",
            "US-CA-2/NVIDIA L40S"
        ]
    );
    assert_eq!(summary(&plan), (1, 0, 0, 1));
    assert!(plan.report.has_pod_changes);
    assert_eq!(
        words::summary_line(&plan.report.summary),
        "Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop."
    );
}

#[test]
fn row2_recorded_pod_gone_creates_and_reports_the_stale_pointer() {
    let plan = Case::new()
        .recorded(PodStatus::Exited, Observation::Gone)
        .plan();
    assert_eq!(prelude(&plan), ["create"]);
    assert_eq!(
        plan.report.pod.reason,
        Reason::DeletedOutsideRpd {
            pod_id: "pod1".into()
        }
    );
    assert_eq!(
        plan.report.drift,
        [Drift::Deleted {
            pod_id: "pod1".into()
        }]
    );
}

#[test]
fn row2_terminated_counts_as_gone() {
    let plan = Case::new()
        .recorded(
            PodStatus::Exited,
            observed("pod1", PodStatus::Terminated, spec("EU-RO-1", A40)),
        )
        .plan();
    assert_eq!(prelude(&plan), ["create"]);
}

#[test]
fn row3_replace_deletes_then_creates_as_requested() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.replace = true;
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["delete pod1", "create"]);
    assert_eq!(plan.report.pod.action, PodAction::ReplaceRequested);
    assert_eq!(plan.report.pod.reason, Reason::ReplaceRequested);
    assert_eq!(summary(&plan), (1, 0, 1, 1));
}

#[test]
fn row4_error_pod_is_replaced() {
    let plan = Case::new()
        .recorded(
            PodStatus::Running,
            observed("pod1", PodStatus::Error, spec("EU-RO-1", A40)),
        )
        .plan();
    assert_eq!(prelude(&plan), ["delete pod1", "create"]);
    assert_eq!(
        plan.report.pod.reason,
        Reason::InError {
            pod_id: "pod1".into()
        }
    );
}

#[test]
fn row5_gpu_type_change_forces_replacement_naming_the_field() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.desired.gpu_order = vec![L40S.into()];
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["delete pod1", "create"]);
    assert_eq!(plan.report.pod.action, PodAction::Replace);
    assert_eq!(forcing(&plan), ["gpu"]);
    assert_eq!(
        plan.report.pod.fields[0].old,
        Some(FieldValue::text("NVIDIA A40"))
    );
    assert_eq!(
        plan.report.pod.reason,
        Reason::FieldsCannotChange {
            fields: vec!["gpu".into()]
        }
    );
    assert!(plan.report.drift.is_empty(), "a config change is not drift");
}

#[test]
fn row5_each_forcing_field_is_named() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.desired.gpu_count = 2;
    case.desired.cloud_type = CloudType::Community;
    case.desired.storage = Storage::Ephemeral {
        volume_gb: 50,
        mount: "/data".into(),
    };
    case.desired.gpu_order = vec![L40S.into()];
    case.desired.datacenters = vec!["US-CA-2".into()];
    let plan = case.plan();
    assert_eq!(
        forcing(&plan),
        [
            "gpu",
            "gpu_count",
            "datacenter",
            "cloud_type",
            "volume_mount"
        ]
    );
    let grown = &plan
        .report
        .pod
        .fields
        .iter()
        .find(|f| f.field == "volume_gb");
    assert!(
        grown.is_some_and(|f| !f.forces_replacement),
        "a growing volume is shown, and does not force: {grown:?}"
    );
}

#[test]
fn row6_paused_matching_pod_is_resumed_with_a_fallback() {
    let plan = Case::new()
        .recorded(
            PodStatus::Exited,
            observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
        )
        .plan();
    assert_eq!(prelude(&plan), ["start pod1"]);
    let StepKind::StartPod { fallback, .. } = &plan.steps()[0].kind else {
        panic!("resume first")
    };
    assert_eq!(fallback.len(), 4, "the fallback creates on the candidates");
    assert_eq!(summary(&plan), (0, 1, 0, 1));
    assert!(plan.report.drift.is_empty());
}

#[test]
fn row6_pod_on_second_choice_gpu_is_still_resumed() {
    // runpod-deploy deleted such pods when stock moved (its defect #4).
    let mut case = Case::new();
    case.state = Some(state_with(spec("US-CA-2", L40S), PodStatus::Exited));
    case.observed.pods.insert(
        "pod1".into(),
        observed("pod1", PodStatus::Exited, spec("US-CA-2", L40S)),
    );
    assert_eq!(prelude(&case.plan()), ["start pod1"]);
}

#[test]
fn row7_running_matching_pod_is_reused_without_a_start() {
    let plan = Case::new()
        .recorded(
            PodStatus::Running,
            observed("pod1", PodStatus::Running, spec("EU-RO-1", A40)),
        )
        .plan();
    assert_eq!(prelude(&plan), ["use pod1"]);
    assert_eq!(summary(&plan), (0, 0, 0, 1));
}

#[test]
fn change_made_outside_rpd_shows_as_drift_and_is_undone_in_place() {
    let mut outside = spec("EU-RO-1", A40);
    outside.image = Some("img:hacked".into());
    let plan = Case::new()
        .recorded(
            PodStatus::Exited,
            observed("pod1", PodStatus::Exited, outside),
        )
        .plan();
    let Drift::Changed { fields, .. } = &plan.report.drift[0] else {
        panic!("drift reported")
    };
    assert_eq!(fields[0].field, "image");
    assert_eq!(fields[0].new, Some(FieldValue::text("img:hacked")));
    assert_eq!(prelude(&plan), ["update pod1: image", "start pod1"]);
}

#[test]
fn pod_started_outside_rpd_is_reported_as_billing() {
    let plan = Case::new()
        .recorded(
            PodStatus::Exited,
            observed("pod1", PodStatus::Running, spec("EU-RO-1", A40)),
        )
        .plan();
    let Drift::Changed { fields, .. } = &plan.report.drift[0] else {
        panic!("drift reported")
    };
    assert_eq!(fields[0].field, "status");
    assert_eq!(fields[0].note, Some(FieldNote::StartedOutsideRpd));
    assert_eq!(prelude(&plan), ["use pod1"]);
}

#[test]
fn runpod_deploy_pointer_without_spec_has_no_phantom_diff() {
    let mut case = Case::new();
    let partial = PodSpec {
        image: Some("img:1".into()),
        gpu_id: Some(A40.into()),
        datacenter_id: Some("EU-RO-1".into()),
        ..PodSpec::default()
    };
    let mut state = state_with(partial, PodStatus::Exited);
    state.pod.as_mut().unwrap().status = None;
    case.state = Some(state);
    case.observed.pods.insert(
        "pod1".into(),
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["start pod1"]);
    assert!(plan.report.drift.is_empty());
}

#[test]
fn port_order_is_not_a_difference() {
    let mut case = Case::new();
    case.desired.ports = vec!["22/tcp".into(), "8888/http".into()];
    let mut actual = case
        .desired
        .spec_on(&candidates(&case.desired, None, None)[0]);
    actual.ports = Some(vec!["8888/http".into(), "22/tcp".into()]);
    case.state = Some(state_with(actual.clone(), PodStatus::Exited));
    case.observed
        .pods
        .insert("pod1".into(), observed("pod1", PodStatus::Exited, actual));
    assert_eq!(prelude(&case.plan()), ["start pod1"]);
}

#[test]
fn lifecycle_is_two_branches_after_the_pull() {
    let plan = Case::new().plan();
    let ordered = plan.ordered();
    let pull = ordered
        .iter()
        .find(|(_, s)| matches!(s.kind, StepKind::Pull { .. }))
        .unwrap()
        .0;
    let mut branches: Vec<String> = plan
        .graph
        .neighbors(pull)
        .map(|n| match &plan.graph[n].kind {
            StepKind::Lifecycle { when, action } => format!("{}:{}", when.as_str(), action),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    branches.sort();
    assert_eq!(branches, ["failure:stop", "success:recycle"]);
    let kinds: Vec<&str> = plan
        .steps()
        .iter()
        .map(|s| match s.kind {
            StepKind::CreatePod { .. } => "create",
            StepKind::WaitReady { .. } => "wait",
            StepKind::Setup { .. } => "setup",
            StepKind::Staging { .. } => "staging",
            StepKind::Launch { .. } => "launch",
            StepKind::Monitor { .. } => "monitor",
            StepKind::Pull { .. } => "pull",
            StepKind::Lifecycle { .. } => "lifecycle",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "create",
            "wait",
            "setup",
            "staging",
            "launch",
            "monitor",
            "pull",
            "lifecycle",
            "lifecycle"
        ]
    );
}

#[test]
fn out_of_stock_candidates_are_marked_and_all_out_warns() {
    let mut case = Case::new();
    case.catalog = CatalogRead::Read(catalog(&[
        ("EU-RO-1", A40, Stock::None),
        ("EU-RO-1", L40S, Stock::None),
        ("US-CA-2", A40, Stock::None),
        ("US-CA-2", L40S, Stock::None),
    ]));
    let plan = case.plan();
    assert!(plan.report.warnings.contains(&Warning::NoStock));
}

#[test]
fn destroy_deletes_the_pod_and_retained_pods_then_removes_the_state() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.mode = Mode::Destroy;
    case.state.as_mut().unwrap().retained.push(RetainedPod {
        pod: PodRecord {
            id: "old".into(),
            name: "hello-0".into(),
            spec: spec("EU-RO-1", A40),
            status: Some(PodStatus::Exited),
            status_since: None,
            created_at: None,
            provider: Some("sim".into()),
        },
        reason: "on_failure: stop".into(),
        since: Utc::now(),
    });
    case.observed.pods.insert(
        "old".into(),
        observed("old", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    let plan = case.plan();
    let ops: Vec<String> = plan
        .steps()
        .iter()
        .map(|s| match &s.kind {
            StepKind::DeletePod { pod_id, .. } => format!("delete {pod_id}"),
            StepKind::RemoveState => "remove state".into(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(ops, ["delete pod1", "delete old", "remove state"]);
    assert_eq!(summary(&plan), (0, 0, 2, 0));
    assert!(plan.report.has_pod_changes);
}

#[test]
fn destroy_of_a_gone_pod_is_state_only() {
    let mut case = Case::new().recorded(PodStatus::Exited, Observation::Gone);
    case.mode = Mode::Destroy;
    let plan = case.plan();
    assert!(!plan.report.has_pod_changes);
    assert_eq!(summary(&plan), (0, 0, 0, 0));
    assert!(!plan.report.state_only_changes.is_empty());
}

#[test]
fn destroy_without_state_does_nothing() {
    let mut case = Case::new();
    case.mode = Mode::Destroy;
    let plan = case.plan();
    assert!(plan.is_empty());
    assert!(!plan.report.has_pod_changes);
}

#[test]
fn retained_pod_that_is_gone_is_forgotten_as_state_only() {
    let mut case = Case::new();
    let mut state = state_with(spec("EU-RO-1", A40), PodStatus::Exited);
    state.pod = None;
    state.retained.push(RetainedPod {
        pod: PodRecord {
            id: "old".into(),
            name: String::new(),
            spec: spec("EU-RO-1", A40),
            status: None,
            status_since: None,
            created_at: None,
            provider: None,
        },
        reason: "stop".into(),
        since: Utc::now(),
    });
    case.state = Some(state);
    case.observed.pods.insert("old".into(), Observation::Gone);
    let plan = case.plan();
    assert!(
        plan.steps()
            .iter()
            .any(|s| matches!(&s.kind, StepKind::ForgetPod { pod_id } if pod_id == "old"))
    );
    assert_eq!(prelude(&plan), ["create"]);
}

#[test]
fn interrupted_create_is_adopted_by_name() {
    let mut case = Case::new();
    let mut state = state_with(spec("EU-RO-1", A40), PodStatus::Exited);
    state.pod = None;
    state.pending_create = Some(PendingCreate {
        name: "hello-20260101T000000Z".into(),
        started_at: Utc::now(),
        provider: Some("sim".into()),
    });
    case.state = Some(state);
    let Observation::Pod(found) = observed("found", PodStatus::Running, spec("EU-RO-1", A40))
    else {
        unreachable!()
    };
    case.observed.pending_matches.push(*found);
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["adopt found", "use found"]);
    assert_eq!(summary(&plan).0, 0, "no second pod is created");
}

#[test]
fn steps_are_numbered_in_a_topological_order() {
    let plan = Case::new().plan();
    let order = petgraph::algo::toposort(&plan.graph, None).unwrap();
    let position = |n| order.iter().position(|m| *m == n).unwrap();
    for edge in plan.graph.edge_indices() {
        let (a, b) = plan.graph.edge_endpoints(edge).unwrap();
        assert!(a.index() < b.index());
        assert!(position(a) < position(b));
    }
}

#[test]
fn fallback_cloud_follows_each_candidate_and_accepts_a_pod_on_it() {
    let mut case = Case::new();
    case.fallback_cloud = Some(CloudType::Community);
    let plan = case.plan();
    let StepKind::CreatePod { candidates } = &plan.steps()[0].kind else {
        panic!("create first")
    };
    let clouds: Vec<String> = candidates
        .iter()
        .take(3)
        .map(|c| format!("{}/{}/{}", c.datacenter_id, c.gpu_id, c.cloud_type))
        .collect();
    assert_eq!(
        clouds,
        [
            "EU-RO-1/NVIDIA A40/SECURE",
            "EU-RO-1/NVIDIA A40/COMMUNITY",
            "EU-RO-1/NVIDIA L40S/SECURE"
        ]
    );

    let mut on_community = spec("EU-RO-1", A40);
    on_community.cloud_type = Some(CloudType::Community);
    let mut case = Case::new();
    case.state = Some(state_with(on_community.clone(), PodStatus::Exited));
    case.observed.pods.insert(
        "pod1".into(),
        observed("pod1", PodStatus::Exited, on_community),
    );
    assert_eq!(
        prelude(&case.plan()),
        ["delete pod1", "create"],
        "without the flag"
    );
    case.fallback_cloud = Some(CloudType::Community);
    assert_eq!(prelude(&case.plan()), ["start pod1"], "with the flag");
}

#[test]
fn row8_image_bump_updates_a_paused_pod_in_place_then_resumes_it() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.desired.image = "img:2".into();
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["update pod1: image", "start pod1"]);
    assert_eq!(plan.report.pod.action, PodAction::Update);
    assert_eq!(
        plan.report.pod.reason,
        Reason::UpdateInPlace {
            pod_id: "pod1".into(),
            fields: vec!["image".into()]
        }
    );
    let StepKind::UpdatePod { update, .. } = &plan.steps()[0].kind else {
        panic!("the update comes first")
    };
    assert_eq!(
        *update,
        PodUpdate {
            image: Some("img:2".into()),
            ..PodUpdate::default()
        },
        "only the changed field is sent"
    );
    let field = &plan.report.pod.fields[0];
    assert_eq!(
        (field.field.as_str(), field.forces_replacement),
        ("image", false)
    );
    assert_eq!(summary(&plan), (0, 1, 0, 1), "no create, no destroy");
    assert!(plan.report.has_pod_changes);
    let notes: Vec<String> = plan.report.notes.iter().map(words::note).collect();
    assert_eq!(
        notes,
        [
            "the container restarts with the new image: /workspace is kept, the container disk is wiped, setup runs again".to_string(),
            words::note(&super::findings::guard_note()),
        ]
    );
}

#[test]
fn row8_image_bump_updates_a_running_pod_in_place_without_a_start() {
    let mut case = Case::new().recorded(
        PodStatus::Running,
        observed("pod1", PodStatus::Running, spec("EU-RO-1", A40)),
    );
    case.desired.image = "img:2".into();
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["update pod1: image"]);
    assert!(matches!(plan.steps()[1].kind, StepKind::WaitReady { .. }));
    assert_eq!(summary(&plan), (0, 0, 0, 1));
    assert_eq!(plan.report.cost.running_per_hr, Some(0.4));
}

#[test]
fn row8_every_mutable_field_changes_in_one_update() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.desired.image = "img:2".into();
    case.desired.container_disk_gb = 40;
    case.desired.ports = vec!["22/tcp".into(), "8888/http".into()];
    case.desired.storage = Storage::Ephemeral {
        volume_gb: 100,
        mount: "/workspace".into(),
    };
    let plan = case.plan();
    assert_eq!(
        prelude(&plan),
        [
            "update pod1: image, container_disk_gb, volume_gb, ports",
            "start pod1"
        ]
    );
}

#[test]
fn row8_mixed_changes_replace_naming_only_the_fields_that_force_it() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.desired.image = "img:2".into();
    case.desired.gpu_count = 2;
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["delete pod1", "create"]);
    assert_eq!(
        plan.report.pod.reason,
        Reason::FieldsCannotChange {
            fields: vec!["gpu_count".into()]
        }
    );
    let shown: Vec<(&str, bool)> = plan
        .report
        .pod
        .fields
        .iter()
        .map(|f| (f.field.as_str(), f.forces_replacement))
        .collect();
    assert_eq!(
        shown,
        [("image", false), ("gpu_count", true), ("id", false)]
    );
}

#[test]
fn row8_volume_growth_updates_in_place() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.desired.storage = Storage::Ephemeral {
        volume_gb: 50,
        mount: "/workspace".into(),
    };
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["update pod1: volume_gb", "start pod1"]);
    let StepKind::UpdatePod { update, .. } = &plan.steps()[0].kind else {
        panic!("the update comes first")
    };
    assert_eq!(
        update.volume,
        Some(crate::model::VolumeGrowth {
            volume_gb: 50,
            mount: "/workspace".into()
        }),
        "RunPod takes a persistent mount whole: size and path"
    );
}

#[test]
fn row8_volume_shrink_replaces_and_says_the_data_is_lost() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.desired.storage = Storage::Ephemeral {
        volume_gb: 10,
        mount: "/workspace".into(),
    };
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["delete pod1", "create"]);
    assert_eq!(forcing(&plan), ["volume_gb"]);
    let shrunk = &plan.report.pod.fields[0];
    assert_eq!(shrunk.note, Some(FieldNote::VolumeShrinkLosesData));
    assert_eq!(
        words::field_note(FieldNote::VolumeShrinkLosesData),
        "a volume cannot shrink: the new pod's volume starts empty, its data is lost"
    );
}

#[test]
fn row8_replace_flag_still_forces_a_fresh_pod_over_an_update() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.desired.image = "img:2".into();
    case.replace = true;
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["delete pod1", "create"]);
    assert_eq!(plan.report.pod.action, PodAction::ReplaceRequested);
}

#[test]
fn row8_an_error_pod_is_replaced_even_when_the_change_is_mutable() {
    let mut case = Case::new().recorded(
        PodStatus::Running,
        observed("pod1", PodStatus::Error, spec("EU-RO-1", A40)),
    );
    case.desired.image = "img:2".into();
    assert_eq!(prelude(&case.plan()), ["delete pod1", "create"]);
}

#[test]
fn row8_a_provider_that_cannot_update_replaces_and_says_why() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    case.desired.image = "img:2".into();
    case.in_place_updates = InPlaceUpdates::RunpodctlWithoutUpdate {
        version: "2.0.0".into(),
    };
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["delete pod1", "create"]);
    assert_eq!(forcing(&plan), ["image"]);
    assert_eq!(
        words::reason(&plan.report.pod.reason),
        "image could change in place, but runpodctl 2.0.0 has no `pod update` command (a newer runpodctl or --provider runpod updates in place)"
    );
}
