//! What a real account needs the plan to decide (issue 9): `cloud_type: ALL`,
//! the catalog's verdict on each candidate, the SSH key, another API key's
//! 404s, COMMUNITY pods that may never get direct SSH.

use super::*;
use crate::model::{InvalidCandidate, NetworkVolume};

/// (datacenter, GPU, cloud) of each candidate a create would try.
fn places(plan: &Plan) -> Vec<(String, String, CloudType)> {
    plan.steps()
        .iter()
        .find_map(|s| match &s.kind {
            StepKind::CreatePod { candidates }
            | StepKind::StartPod {
                fallback: candidates,
                ..
            } => Some(candidates.clone()),
            _ => None,
        })
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.datacenter_id, c.gpu_id, c.cloud_type))
        .collect()
}

fn place(dc: &str, gpu: &str, cloud: CloudType) -> (String, String, CloudType) {
    (dc.into(), gpu.into(), cloud)
}

#[test]
fn cloud_type_all_tries_every_secure_place_then_the_same_places_on_community() {
    let mut case = Case::new();
    case.desired.all_clouds = true;
    let (secure, community) = (CloudType::Secure, CloudType::Community);
    assert_eq!(
        places(&case.plan()),
        [
            place("EU-RO-1", A40, secure),
            place("EU-RO-1", L40S, secure),
            place("US-CA-2", A40, secure),
            place("US-CA-2", L40S, secure),
            place("EU-RO-1", A40, community),
            place("EU-RO-1", L40S, community),
            place("US-CA-2", A40, community),
            place("US-CA-2", L40S, community),
        ]
    );
    // The flag adds nothing to ALL, and says so.
    case.fallback_cloud = Some(community);
    let plan = case.plan();
    assert_eq!(places(&plan).len(), 8);
    assert_eq!(
        plan.report.warnings,
        [Warning::FallbackWithAllClouds { cloud: community }]
    );
}

#[test]
fn cloud_type_all_prices_community_places_from_the_community_catalog() {
    let mut case = Case::new();
    case.desired.all_clouds = true;
    case.catalog = CatalogRead::Read(catalog(&[
        ("EU-RO-1", A40, Stock::None),
        ("EU-RO-1", L40S, Stock::None),
        ("US-CA-2", A40, Stock::None),
        ("US-CA-2", L40S, Stock::None),
    ]));
    let mut community = catalog(&[("EU-RO-1", A40, Stock::Low)]);
    community.offers[0].price_per_gpu_hr = Some(0.31);
    case.other_catalog = Some(community);
    let plan = case.plan();
    let StepKind::CreatePod { candidates } = &plan.steps()[0].kind else {
        panic!("a create first");
    };
    let first_community = &candidates[4];
    assert_eq!(first_community.cloud_type, CloudType::Community);
    assert_eq!(
        (first_community.stock, first_community.price_per_hr),
        (Stock::Low, Some(0.31))
    );
    assert_eq!(
        plan.report.cost.running_per_hr,
        Some(0.31),
        "the first with stock"
    );
}

#[test]
fn a_paused_community_pod_is_resumed_under_cloud_type_all_not_replaced() {
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
        "SECURE only"
    );
    case.desired.all_clouds = true;
    assert_eq!(prelude(&case.plan()), ["start pod1"]);
}

/// The catalog of `case`, listing what exists: A40 (at most `max` a pod)
/// and L40S, in EU-RO-1 and US-CA-2.
fn listing(max: u32) -> Catalog {
    let mut c = catalog(&[("EU-RO-1", A40, Stock::High)]);
    c.gpu_types = Some(vec![
        crate::model::GpuTypeLimit {
            id: A40.into(),
            max_count: Some(max),
        },
        crate::model::GpuTypeLimit {
            id: L40S.into(),
            max_count: None,
        },
    ]);
    c.datacenters = Some(vec!["EU-RO-1".into(), "US-CA-2".into()]);
    c
}

fn verdicts(plan: &Plan) -> Vec<Option<InvalidCandidate>> {
    let StepKind::CreatePod { candidates } = &plan.steps()[0].kind else {
        panic!("a create first: {:?}", plan.steps());
    };
    candidates.iter().map(|c| c.invalid.clone()).collect()
}

#[test]
fn ids_the_catalog_does_not_list_are_invalid_candidates_with_a_suggestion() {
    let mut case = Case::new();
    case.catalog = CatalogRead::Read(listing(8));
    case.desired.gpu_order = vec!["NVIDIA A4O".into(), L40S.into()];
    case.desired.datacenters = vec!["EU-RO-1".into(), "EU-R0-1".into()];
    let plan = case.plan();
    let unknown_gpu = Some(InvalidCandidate::UnknownGpu {
        suggestion: Some(A40.into()),
    });
    let unknown_dc = Some(InvalidCandidate::UnknownDatacenter {
        suggestion: Some("EU-RO-1".into()),
    });
    assert_eq!(
        verdicts(&plan),
        [unknown_gpu, None, unknown_dc.clone(), unknown_dc]
    );
    assert!(plan.report.errors.is_empty(), "one candidate is valid");
    assert_eq!(
        plan.report.pod.fields[1].new,
        Some(FieldValue::text(L40S)),
        "the first valid candidate is shown"
    );
}

#[test]
fn more_gpus_than_one_machine_holds_is_invalid_and_with_no_valid_candidate_the_plan_fails() {
    let mut case = Case::new();
    case.catalog = CatalogRead::Read(listing(4));
    case.desired.gpu_order = vec![A40.into()];
    case.desired.datacenters = vec!["EU-RO-1".into()];
    case.desired.gpu_count = 4;
    assert!(case.plan().report.errors.is_empty(), "4 of at most 4");
    case.desired.gpu_count = 5;
    let plan = case.plan();
    assert_eq!(
        verdicts(&plan),
        [Some(InvalidCandidate::TooManyGpus {
            requested: 5,
            max: 4
        })]
    );
    assert_eq!(
        plan.report.errors,
        [PlanError::NoValidCandidate { candidates: 1 }]
    );
    assert!(
        plan.report.notes.is_empty(),
        "a plan that cannot be carried out runs no job, so names no guard: {:?}",
        plan.report.notes
    );
}

#[test]
fn a_network_volume_missing_or_elsewhere_makes_its_candidates_invalid() {
    let volume = |id: &str, name: &str, dc: &str| NetworkVolume {
        id: id.into(),
        name: name.into(),
        datacenter_id: dc.into(),
    };
    let mut case = Case::new();
    case.desired.storage = Storage::NetworkVolume {
        volume_name: "data".into(),
        volume_id: None,
        mount: "/data".into(),
    };
    case.network_volumes = VolumesRead::Read(vec![volume("v1", "data", "US-CA-2")]);
    let elsewhere = Some(InvalidCandidate::VolumeElsewhere {
        name: "data".into(),
        datacenters: vec!["US-CA-2".into()],
    });
    assert_eq!(
        verdicts(&case.plan()),
        [elsewhere.clone(), elsewhere, None, None]
    );
    case.network_volumes = VolumesRead::Read(vec![volume("v1", "other", "EU-RO-1")]);
    let plan = case.plan();
    let missing = Some(InvalidCandidate::NoSuchVolume {
        name: "data".into(),
    });
    assert_eq!(
        verdicts(&plan),
        [missing.clone(), missing.clone(), missing.clone(), missing]
    );
    assert_eq!(
        plan.report.errors,
        [PlanError::NoValidCandidate { candidates: 4 }]
    );
    // Unlistable volumes are no verdict: the create finds out.
    case.network_volumes = VolumesRead::Unreadable {
        error: "503".into(),
    };
    let plan = case.plan();
    assert_eq!(verdicts(&plan), [None, None, None, None]);
    assert!(plan.report.errors.is_empty());
    assert!(plan.report.warnings.contains(&Warning::VolumesUnreadable {
        error: "503".into()
    }));
}

#[test]
fn an_unreadable_catalog_rules_nothing_out() {
    let mut case = Case::new();
    case.desired.gpu_order = vec!["NVIDIA A4O".into()];
    case.catalog = CatalogRead::Unreadable {
        error: "502".into(),
    };
    let plan = case.plan();
    assert!(verdicts(&plan).iter().all(Option::is_none));
    assert!(plan.report.errors.is_empty());
}

#[test]
fn a_resume_is_not_refused_for_fallback_candidates_the_catalog_rules_out() {
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    // The catalog no longer lists the paused pod's GPU type for new pods.
    let mut gone = listing(8);
    gone.gpu_types.as_mut().unwrap().retain(|t| t.id != A40);
    case.catalog = CatalogRead::Read(gone);
    case.desired.gpu_order = vec![A40.into()];
    case.desired.datacenters = vec!["EU-RO-1".into()];
    let plan = case.plan();
    assert_eq!(prelude(&plan), ["start pod1"]);
    let StepKind::StartPod { fallback, .. } = &plan.steps()[0].kind else {
        panic!("a resume first");
    };
    assert!(fallback[0].invalid.is_some(), "the fallback is marked");
    assert!(plan.report.errors.is_empty());
}

/// A pod recorded by a state made with key A, that key B's RunPod answers
/// 404 for.
fn made_with_another_key(mode: Mode) -> Case {
    let mut case = Case::new().recorded(PodStatus::Exited, Observation::Gone);
    case.mode = mode;
    case.state.as_mut().unwrap().api_key_fingerprint = Some("sha256:aaaaaaaaaaaa".into());
    case.api_key_fingerprint = Some("sha256:bbbbbbbbbbbb".into());
    case
}

#[test]
fn a_404_under_another_api_key_is_refused_not_taken_for_gone() {
    for mode in [Mode::Apply, Mode::Destroy] {
        let plan = made_with_another_key(mode).plan();
        assert_eq!(
            plan.report.errors,
            [PlanError::OtherApiKey {
                recorded: "sha256:aaaaaaaaaaaa".into(),
                current: "sha256:bbbbbbbbbbbb".into(),
                pods: vec!["pod1".into()],
                pending_create: None,
                state_file: PathBuf::from("/c.state.json"),
            }],
            "{mode:?}"
        );
    }
}

#[test]
fn the_same_key_a_visible_pod_or_an_older_state_keeps_404_meaning_gone() {
    let mut same = made_with_another_key(Mode::Apply);
    same.api_key_fingerprint = Some("sha256:aaaaaaaaaaaa".into());
    let mut older = made_with_another_key(Mode::Apply);
    older.state.as_mut().unwrap().api_key_fingerprint = None;
    let mut sim = made_with_another_key(Mode::Apply);
    sim.api_key_fingerprint = None;
    for case in [same, older, sim] {
        let plan = case.plan();
        assert!(plan.report.errors.is_empty(), "{:?}", plan.report.errors);
        assert_eq!(prelude(&plan), ["create"], "gone: created afresh");
    }
    // Another key that does see the pod (a team key) is no problem.
    let mut visible = made_with_another_key(Mode::Apply);
    visible.observed.pods.insert(
        "pod1".into(),
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    assert!(visible.plan().report.errors.is_empty());
}

#[test]
fn an_interrupted_create_another_key_cannot_find_is_refused_too() {
    let mut case = Case::new();
    let mut state = state_with(spec("EU-RO-1", A40), PodStatus::Running);
    state.pod = None;
    state.pending_create = Some(crate::state::PendingCreate {
        name: "hello-1-abcdef".into(),
        started_at: chrono::Utc::now(),
        provider: Some("runpod".into()),
    });
    state.api_key_fingerprint = Some("sha256:aaaaaaaaaaaa".into());
    case.state = Some(state);
    case.api_key_fingerprint = Some("sha256:bbbbbbbbbbbb".into());
    let errors = case.plan().report.errors;
    assert!(
        matches!(&errors[..], [PlanError::OtherApiKey { pods, pending_create: Some(name), .. }] if pods.is_empty() && name == "hello-1-abcdef"),
        "{errors:?}"
    );
}

#[test]
fn a_plan_that_may_create_on_community_says_such_pods_may_lack_direct_ssh() {
    let guard_note = super::findings::guard_note;
    let mut case = Case::new();
    assert_eq!(case.plan().report.notes, [guard_note()], "SECURE only");
    case.desired.all_clouds = true;
    assert_eq!(
        case.plan().report.notes,
        [
            Note::CommunityMayLackDirectSsh { grace_sec: 60 },
            guard_note()
        ]
    );
    // A pod already running is used as it is: nothing is created.
    let mut running = Case::new().recorded(
        PodStatus::Running,
        observed("pod1", PodStatus::Running, spec("EU-RO-1", A40)),
    );
    running.desired.all_clouds = true;
    assert_eq!(running.plan().report.notes, [guard_note()]);
}

/// A pod the state tracks reads a status rpd does not know (RunPod added
/// one): it may run and bill, or be on its way out. Apply and destroy
/// refuse to change anything around it, naming the status, instead of
/// planning on a guess; a retained pod in that status stops only a destroy
/// (apply does not touch retained pods).
#[test]
fn a_tracked_pod_in_a_status_rpd_does_not_know_is_refused_not_planned_on() {
    let mut unknown = observed("pod1", PodStatus::Unknown, spec("EU-RO-1", A40));
    if let Observation::Pod(pod) = &mut unknown {
        pod.status_text = Some("HIBERNATING".into());
    }
    for mode in [Mode::Apply, Mode::Destroy] {
        let mut case = Case::new().recorded(PodStatus::Running, unknown.clone());
        case.mode = mode;
        let plan = case.plan();
        assert_eq!(
            plan.report.errors,
            [PlanError::UnknownPodStatus {
                pod_id: "pod1".into(),
                status: Some("HIBERNATING".into()),
            }],
            "{mode:?}"
        );
    }
    // A retained pod in an unknown status: only a destroy would touch it.
    let mut case = Case::new().recorded(
        PodStatus::Exited,
        observed("pod1", PodStatus::Exited, spec("EU-RO-1", A40)),
    );
    let current = case.state.as_ref().unwrap().pod.clone().unwrap();
    case.state
        .as_mut()
        .unwrap()
        .retained
        .push(crate::state::RetainedPod {
            pod: crate::state::PodRecord {
                id: "old".into(),
                ..current
            },
            since: "2026-11-20T00:00:00Z".parse().unwrap(),
            reason: "stopped after the job (on_failure: stop)".into(),
        });
    case.observed.pods.insert(
        "old".into(),
        observed("old", PodStatus::Unknown, spec("EU-RO-1", A40)),
    );
    assert!(
        case.plan().report.errors.is_empty(),
        "apply leaves it alone"
    );
    case.mode = Mode::Destroy;
    assert_eq!(
        case.plan().report.errors,
        [PlanError::UnknownPodStatus {
            pod_id: "old".into(),
            status: None,
        }]
    );
}
