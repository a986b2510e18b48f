//! What a real account needs the plan to decide (issue 9): `cloud_type: ALL`,
//! the catalog's verdict on each candidate, the SSH key, another API key's
//! 404s, COMMUNITY pods that may never get direct SSH.

use super::*;

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
