//! Every recorded body in `fixtures/rest_v2/` parses into what rpd expects.

use std::path::PathBuf;
use std::time::Duration;

use super::catalog;
use super::convert;
use super::errors::{self, Call};
use super::wire::{self, ListDataCenters, ListGpuTypes, ListNetworkVolumes, ListPods, Pod};
use crate::model::{Access, CloudType, PodStatus, SshEndpoint, Stock, Storage};
use crate::provider::{ProviderError, resolve_volume};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/rest_v2")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pod(name: &str) -> crate::model::ObservedPod {
    let pod: Pod = wire::parse(&fixture(name)).unwrap();
    convert::observed(pod).unwrap()
}

#[test]
fn a_running_pod_with_direct_ssh_is_reachable() {
    let pod = pod("pod_running.json");
    assert!(pod.ssh_proxy);
    assert_eq!(pod.id, "7h9k2m4n6p");
    assert_eq!(pod.name, "pytorch-training");
    assert_eq!(pod.status, PodStatus::Running);
    assert_eq!(
        pod.access,
        Some(Access::Ssh(SshEndpoint {
            host: "195.26.233.3".into(),
            port: 34446,
            user: "root".into(),
        }))
    );
    assert_eq!(pod.cost_per_hr, Some(0.44));
    assert_eq!(
        pod.actions,
        Some(vec!["stop".into(), "restart".into(), "terminate".into()])
    );
    assert_eq!(pod.created_at.as_deref(), Some("2026-06-01T12:00:00Z"));
    assert_eq!(pod.changed_at.as_deref(), Some("2026-06-01T12:02:00Z"));
    let spec = &pod.spec;
    assert_eq!(
        spec.image.as_deref(),
        Some("runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404")
    );
    assert_eq!(spec.gpu_id.as_deref(), Some("NVIDIA GeForce RTX 4090"));
    assert_eq!(spec.gpu_count, Some(1));
    assert_eq!(spec.datacenter_id.as_deref(), Some("US-KS-2"));
    assert_eq!(spec.cloud_type, Some(CloudType::Secure));
    assert_eq!(spec.container_disk_gb, Some(50));
    assert_eq!(
        spec.storage,
        Some(Storage::Ephemeral {
            volume_gb: 20,
            mount: "/workspace".into()
        })
    );
    assert_eq!(
        spec.ports,
        Some(vec!["22/tcp".into(), "8888/http".into()]),
        "sorted"
    );
}

#[test]
fn a_provisioning_pod_has_no_way_in() {
    let pod = pod("pod_provisioning.json");
    assert_eq!(pod.status, PodStatus::Provisioning);
    assert_eq!(pod.access, None);
    assert_eq!(pod.changed_at, None, "startedAt is null");
}

#[test]
fn running_is_not_ready_without_a_direct_endpoint() {
    let pod = pod("pod_running_without_direct_ssh.json");
    assert_eq!(pod.status, PodStatus::Running);
    assert_eq!(pod.access, None, "status alone is never readiness");
    assert!(!pod.ssh_proxy, "no proxy yet either: no machine assigned");
    assert_eq!(
        pod.spec.storage,
        Some(Storage::NetworkVolume {
            volume_name: String::new(),
            volume_id: Some("grvtso8ftn".into()),
            mount: "/workspace".into(),
        })
    );
}

/// RUNNING with the proxy and no runtime is a pod whose image still
/// pulls: no way in yet, and nothing says its machine lacks a public IP.
#[test]
fn a_pod_still_pulling_has_the_proxy_and_no_runtime() {
    let pod = pod("pod_running_pulling.json");
    assert_eq!(pod.status, PodStatus::Running);
    assert_eq!(pod.access, None);
    assert!(pod.ssh_proxy);
    assert!(!pod.no_public_ssh, "no runtime yet: starting, not broken");
}

/// Once the container runs, a runtime whose 22 is mapped on a private
/// address only says the machine gives no direct SSH.
#[test]
fn a_runtime_without_a_public_22_says_the_machine_has_no_public_ip() {
    let pod = pod("pod_running_no_public_ip.json");
    assert_eq!(pod.access, None);
    assert!(pod.ssh_proxy && pod.no_public_ssh);
    assert_eq!(pod.spec.cloud_type, Some(CloudType::Community));
    // The spec example's runtime maps 22 publicly.
    assert!(!super::fixtures_tests::pod("pod_running.json").no_public_ssh);
}

#[test]
fn an_exited_pod_costs_nothing_and_can_be_started() {
    let pod = pod("pod_exited.json");
    assert_eq!(pod.status, PodStatus::Exited);
    assert_eq!(pod.cost_per_hr, Some(0.0));
    assert_eq!(pod.access, None);
    assert_eq!(pod.actions, Some(vec!["start".into(), "terminate".into()]));
    // `startedAt` is when it last started, not when it stopped: taken for a
    // stop time, it made a pod stopped yesterday look weeks stale.
    assert_eq!(pod.changed_at, None);
    assert_eq!(pod.created_at.as_deref(), Some("2026-11-28T00:40:51Z"));
}

#[test]
fn a_pod_list_parses_every_pod() {
    let list: ListPods = wire::parse(&fixture("pods_list.json")).unwrap();
    let statuses: Vec<PodStatus> = list
        .pods
        .into_iter()
        .map(|p| convert::observed(p).unwrap().status)
        .collect();
    assert_eq!(statuses, vec![PodStatus::Running, PodStatus::Exited]);
}

#[test]
fn a_missing_required_field_is_named() {
    let err = wire::parse::<Pod>(br#"{"id": "x", "status": "RUNNING"}"#).unwrap_err();
    assert!(err.contains("missing field `name`"), "{err}");
}

/// A pod whose status rpd does not know (RunPod added one, or sent null)
/// does not make the whole list unreadable: it reads as `Unknown`, with
/// RunPod's word kept, and the other pods as ever.
#[test]
fn a_status_rpd_does_not_know_is_unknown_not_a_failed_list() {
    let list: ListPods = wire::parse(&fixture("pods_list_with_bad_status.json")).unwrap();
    let pods: Vec<_> = list
        .pods
        .into_iter()
        .map(|p| convert::observed(p).unwrap())
        .collect();
    assert_eq!(pods[0].status, PodStatus::Running);
    assert_eq!(
        (pods[1].status, pods[1].status_text.as_deref()),
        (PodStatus::Unknown, None)
    );
    let unknown: Pod =
        wire::parse(br#"{"id": "x", "name": "y", "status": "HIBERNATING"}"#).unwrap();
    let pod = convert::observed(unknown).unwrap();
    assert_eq!(pod.status, PodStatus::Unknown);
    assert_eq!(pod.status_text.as_deref(), Some("HIBERNATING"));
    assert!(
        pod.status.is_active(),
        "it may bill: never taken for stopped"
    );
}

#[test]
fn odd_optional_fields_read_as_unknown_instead_of_failing() {
    let pod = pod("pod_with_odd_fields.json");
    assert_eq!(pod.status, PodStatus::Running);
    assert_eq!(pod.actions, None);
    assert_eq!(pod.spec.image.as_deref(), Some("runpod/base:0.6.2"));
    assert_eq!(pod.spec.container_disk_gb, None);
    assert_eq!(pod.spec.ports, None);
    assert_eq!(pod.spec.gpu_id, None);
    assert_eq!(pod.spec.cloud_type, None);
    assert_eq!(pod.spec.datacenter_id, None);
    assert_eq!(pod.spec.storage, None);
    assert_eq!(pod.cost_per_hr, None);
    assert_eq!(pod.created_at, None);
    assert_eq!(
        pod.access, None,
        "a port that is not a number is no endpoint"
    );
}

#[test]
fn the_catalog_gives_stock_and_price_per_datacenter() {
    let list: ListGpuTypes = wire::parse(&fixture("catalog_gpus.json")).unwrap();
    let gpus = [
        "NVIDIA GeForce RTX 4090",
        "NVIDIA RTX A5000",
        "AMD Instinct MI300X OAM",
    ]
    .map(String::from);
    let dcs = ["EU-RO-1", "US-KS-2"].map(String::from);
    let datacenters: ListDataCenters = wire::parse(&fixture("catalog_datacenters.json")).unwrap();
    let secure = catalog::offers(
        &list.gpus,
        &datacenters.data_centers,
        &gpus,
        &dcs,
        CloudType::Secure,
    );
    assert_eq!(
        secure.datacenters,
        Some(vec!["US-KS-2".to_string(), "EU-RO-1".to_string()])
    );
    let max = |c: &crate::provider::Catalog, gpu: &str| {
        let types = c.gpu_types.as_ref().expect("every GPU type is listed");
        types.iter().find(|t| t.id == gpu).and_then(|t| t.max_count)
    };
    assert_eq!(max(&secure, "NVIDIA GeForce RTX 4090"), Some(8));
    let offer = |c: &crate::provider::Catalog, dc: &str, gpu: &str| {
        let o = c.offer(dc, gpu).expect("offer");
        (o.stock, o.price_per_gpu_hr)
    };
    assert_eq!(
        offer(&secure, "EU-RO-1", "NVIDIA GeForce RTX 4090"),
        (Stock::Low, Some(0.44))
    );
    assert_eq!(
        offer(&secure, "US-KS-2", "NVIDIA GeForce RTX 4090"),
        (Stock::High, Some(0.44))
    );
    assert_eq!(
        offer(&secure, "EU-RO-1", "NVIDIA RTX A5000"),
        (Stock::None, Some(0.27))
    );
    assert_eq!(
        offer(&secure, "EU-RO-1", "AMD Instinct MI300X OAM"),
        (Stock::Medium, Some(2.49))
    );
    assert_eq!(
        offer(&secure, "US-KS-2", "AMD Instinct MI300X OAM"),
        (Stock::None, Some(2.49))
    );
    let community = catalog::offers(
        &list.gpus,
        &datacenters.data_centers,
        &gpus,
        &dcs,
        CloudType::Community,
    );
    assert_eq!(max(&community, "NVIDIA GeForce RTX 4090"), Some(4));
    assert_eq!(
        offer(&community, "EU-RO-1", "NVIDIA GeForce RTX 4090"),
        (Stock::Low, Some(0.31))
    );
    assert_eq!(
        offer(&community, "EU-RO-1", "AMD Instinct MI300X OAM"),
        (Stock::None, None),
        "not on community cloud; a zero price is no price"
    );
}

#[test]
fn network_volumes_resolve_in_their_datacenter() {
    let list: ListNetworkVolumes = wire::parse(&fixture("network_volumes.json")).unwrap();
    let v = &catalog::volumes(list.network_volumes);
    assert_eq!(
        resolve_volume(v, "training-dataset", "EU-RO-1").unwrap(),
        "grvtso8ftn"
    );
    assert_eq!(
        resolve_volume(v, "training-dataset", "US-KS-2").unwrap(),
        "2q9m7x4c"
    );
    let err = resolve_volume(v, "my-dataset", "US-KS-2")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"my-dataset\" is in EU-RO-1, not in US-KS-2"),
        "{err}"
    );
}

fn classify(call: Call, status: u16, name: &str) -> ProviderError {
    errors::from_response(
        call,
        "TEST",
        status,
        Some(Duration::from_secs(12)),
        &fixture(name),
    )
}

#[test]
fn problem_bodies_map_to_what_apply_does_next() {
    assert_eq!(
        classify(Call::Create, 400, "problem_capacity_400.json"),
        ProviderError::Capacity(crate::provider::CAPACITY_MESSAGE.into())
    );
    assert_eq!(
        classify(Call::Other, 400, "problem_host_busy_400.json"),
        ProviderError::HostBusy(crate::provider::HOST_BUSY_MESSAGE.into())
    );
    assert_eq!(
        classify(Call::Other, 404, "problem_not_found_404.json"),
        ProviderError::NotFound("TEST: HTTP 404: resource not found".into())
    );
    assert!(matches!(
        classify(Call::Other, 409, "problem_conflict_409.json"),
        ProviderError::Conflict(m) if m.contains("not valid for a pod in status RUNNING")
    ));
    assert_eq!(
        classify(Call::Other, 422, "problem_validation_422.json"),
        ProviderError::Rejected(
            "TEST: HTTP 422: Request validation failed. [$.action: value must be one of 'start', 'stop', 'restart', 'terminate']".into()
        )
    );
    assert_eq!(
        classify(Call::Other, 429, "problem_rate_limited_429.json"),
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(12)),
            message: "TEST: HTTP 429: rate limit exceeded for the minute window".into()
        }
    );
    assert!(matches!(
        classify(Call::Create, 402, "problem_balance_402.json"),
        ProviderError::Balance(_)
    ));
}
