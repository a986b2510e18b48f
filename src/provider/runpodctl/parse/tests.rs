//! Every fixture in `fixtures/runpodctl/` parsed, field by field.

use super::*;

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/runpodctl")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    json(name, &text).unwrap()
}

#[test]
fn running_pod_with_machine_and_ssh() {
    let pod = pod(&fixture("pod-get-running.json")).unwrap();
    assert_eq!(pod.id, "5xpma5eg46tqjq");
    assert_eq!(pod.name, "hello-20260820T061619Z");
    assert_eq!(pod.status, PodStatus::Running);
    assert_eq!(
        pod.spec,
        PodSpec {
            image: Some("runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into()),
            gpu_id: Some("NVIDIA GeForce RTX 4090".into()),
            gpu_count: Some(1),
            datacenter_id: Some("EU-RO-1".into()),
            cloud_type: Some(CloudType::Secure),
            container_disk_gb: Some(30),
            storage: Some(Storage::Ephemeral {
                volume_gb: 20,
                mount: "/workspace".into()
            }),
            ports: Some(vec!["22/tcp".into(), "8888/http".into()]),
        }
    );
    assert_eq!(pod.cost_per_hr, Some(0.44));
    assert_eq!(
        pod.access,
        Some(Access::Ssh(SshEndpoint {
            host: "213.173.104.74".into(),
            port: 35558,
            user: "root".into()
        }))
    );
    assert_eq!(
        pod.created_at.as_deref(),
        Some("2026-08-20T06:16:19.436+00:00")
    );
}

#[test]
fn running_but_not_ready_has_no_way_in() {
    let pod = pod(&fixture("pod-get-not-ready.json")).unwrap();
    assert_eq!(pod.status, PodStatus::Running);
    assert_eq!(pod.access, None);
    let pod = super::pod(&fixture("pod-get-ssh-unavailable.json")).unwrap();
    assert_eq!(pod.status, PodStatus::Running);
    assert_eq!(pod.access, None);
    // Without --include-machine the GPU, datacenter and cloud are unknown.
    assert_eq!(
        (pod.spec.gpu_id, pod.spec.datacenter_id, pod.spec.cloud_type),
        (None, None, None)
    );
}

#[test]
fn exited_pod_costs_nothing_when_cost_is_absent() {
    let pod = pod(&fixture("pod-get-exited.json")).unwrap();
    assert_eq!(pod.status, PodStatus::Exited);
    assert_eq!(pod.cost_per_hr, Some(0.0));
    assert_eq!(pod.access, None);
}

#[test]
fn runtime_status_is_preferred() {
    let pod = pod(&fixture("pod-get-initializing.json")).unwrap();
    assert_eq!(
        pod.status,
        PodStatus::Starting,
        "desiredStatus says RUNNING"
    );
    assert_eq!(pod.spec.cloud_type, Some(CloudType::Community));
    assert_eq!(pod.spec.gpu_id.as_deref(), Some("NVIDIA RTX A5000"));
    assert_eq!(
        pod.spec.ports,
        Some(vec!["22/tcp".into(), "8888/http".into()]),
        "sorted and de-duplicated"
    );
    assert_eq!(pod.created_at.as_deref(), Some("2026-10-02T09:30:00+00:00"));
}

/// A pod still pulling its image is starting (v2.9+'s `runtimeStatus`),
/// never a pod without direct SSH.
#[test]
fn a_pod_still_pulling_is_starting() {
    let pod = pod(&fixture("pod-get-pulling.json")).unwrap();
    assert_eq!(pod.status, PodStatus::Starting);
    assert_eq!(pod.access, None);
    assert!(!pod.no_public_ssh);
}

/// A running container whose 22 is "not publicly routable" is on a
/// machine without a public IP: RunPod's proxy only.
#[test]
fn a_running_pod_whose_22_is_not_publicly_routable_has_the_proxy_only() {
    let pod = pod(&fixture("pod-get-no-public-ip.json")).unwrap();
    assert_eq!(pod.status, PodStatus::Running);
    assert_eq!(pod.access, None);
    assert!(pod.ssh_proxy && pod.no_public_ssh);
    assert_eq!(pod.spec.cloud_type, Some(CloudType::Community));
    // v2.7's bare "pod not ready" says nothing of the machine.
    let older = pod_fixture_with_ssh_error("pod not ready");
    assert!(older.ssh_proxy && !older.no_public_ssh);
}

fn pod_fixture_with_ssh_error(error: &str) -> crate::model::ObservedPod {
    let mut value = fixture("pod-get-no-public-ip.json");
    value["ssh"]["error"] = serde_json::json!(error);
    value.as_object_mut().unwrap().remove("runtimeStatus");
    pod(&value).unwrap()
}

#[test]
fn list_items() {
    let pods = pods(&fixture("pod-list.json")).unwrap();
    let summary: Vec<(&str, PodStatus, Option<f64>, Option<u32>)> = pods
        .iter()
        .map(|p| (p.name.as_str(), p.status, p.cost_per_hr, p.spec.gpu_count))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "hello-20260820T061619Z",
                PodStatus::Running,
                Some(0.44),
                Some(1)
            ),
            ("sweep-3", PodStatus::Exited, Some(0.0), Some(2)),
            // runtimeStatus "unknown" falls back to desiredStatus; a running
            // pod without costPerHr has an unknown rate, not 0.
            ("not-rpds", PodStatus::Running, None, Some(1)),
        ]
    );
    assert!(
        pods.iter().all(|p| p.access.is_none()),
        "list has no ssh block"
    );
    assert_eq!(
        pods[0].created_at.as_deref(),
        Some("2026-08-20T06:16:19+00:00")
    );
}

#[test]
fn create_output_in_the_graphql_shape() {
    let pod = pod(&fixture("pod-create.json")).unwrap();
    assert_eq!(pod.id, "xedezhzb9la3ye");
    assert_eq!(pod.status, PodStatus::Running);
    assert_eq!(
        pod.spec.ports,
        Some(vec!["22/tcp".into(), "8888/http".into()])
    );
    assert_eq!(pod.spec.gpu_id, None, "the selection has no GPU id");
    assert_eq!(pod.access, None);
}

#[test]
fn datacenter_stock() {
    let dcs = datacenters(&fixture("datacenter-list.json")).unwrap();
    assert_eq!(dcs.stock("EU-RO-1", "NVIDIA GeForce RTX 4090"), Stock::None);
    assert_eq!(dcs.stock("EU-RO-1", "nvidia rtx a5000"), Stock::High);
    assert_eq!(
        dcs.stock("EU-RO-1", "NVIDIA A40"),
        Stock::None,
        "empty status"
    );
    assert_eq!(
        dcs.stock("EU-RO-1", "NVIDIA H100 PCIe"),
        Stock::None,
        "not there"
    );
    assert_eq!(dcs.stock("US-CA-2", "NVIDIA GeForce RTX 4090"), Stock::Low);
    assert_eq!(dcs.stock("US-CA-2", "NVIDIA RTX A5000"), Stock::Medium);
    assert_eq!(dcs.stock("EUR-IS-1", "NVIDIA RTX A5000"), Stock::None);
    assert_eq!(
        dcs.stock("AP-JP-1", "NVIDIA RTX A5000"),
        Stock::Unknown,
        "not listed"
    );
}

#[test]
fn gpu_prices_per_cloud() {
    let prices = gpu_prices(&fixture("gpu-list.json")).unwrap();
    assert!(prices.has_price_fields);
    assert_eq!(
        prices.price("NVIDIA GeForce RTX 4090", CloudType::Secure),
        Some(0.44)
    );
    assert_eq!(
        prices.price("NVIDIA GeForce RTX 4090", CloudType::Community),
        Some(0.31)
    );
    assert_eq!(
        prices.price("NVIDIA RTX A5000", CloudType::Community),
        None,
        "null"
    );
    assert_eq!(
        prices.price("NVIDIA H100 PCIe", CloudType::Secure),
        None,
        "unlisted"
    );
    let old = gpu_prices(&fixture("gpu-list-no-prices.json")).unwrap();
    assert!(!old.has_price_fields);
    assert_eq!(
        old.price("NVIDIA GeForce RTX 4090", CloudType::Secure),
        None
    );
}

#[test]
fn network_volume_list() {
    let volumes = network_volumes(&fixture("network-volume-list.json")).unwrap();
    assert_eq!(
        volumes[0],
        NetworkVolume {
            id: "agv6w2qcg7".into(),
            name: "datasets".into(),
            datacenter_id: "EU-RO-1".into()
        }
    );
    assert_eq!(volumes.len(), 3);
}

#[test]
fn go_time_layouts() {
    assert_eq!(
        created_at("2026-08-20 06:16:19.436 +0000 UTC"),
        "2026-08-20T06:16:19.436+00:00"
    );
    assert_eq!(
        created_at("2026-08-20 08:16:19 +0200 CEST"),
        "2026-08-20T06:16:19+00:00"
    );
    assert_eq!(
        created_at("2026-08-20T06:16:19Z"),
        "2026-08-20T06:16:19+00:00"
    );
    assert_eq!(created_at("yesterday"), "yesterday");
}

#[test]
fn odd_output_is_a_clear_error() {
    let not_json = json("pod get abc", "pod \"abc\" started").unwrap_err();
    assert!(
        not_json
            .to_string()
            .starts_with("pod get abc: printed output that is not JSON"),
        "{not_json}"
    );
    let cases = [
        (
            serde_json::json!([]),
            "expected a JSON object, got an array",
        ),
        (serde_json::json!({"name": "x"}), "has no `id`"),
        (
            serde_json::json!({"id": "a1"}),
            "pod a1: has neither `desiredStatus` nor `runtimeStatus`",
        ),
        (
            serde_json::json!({"id": "a1", "desiredStatus": "RUNNING", "gpuCount": "1"}),
            "`gpuCount` is a string, expected a number",
        ),
        (
            serde_json::json!({"id": "a1", "desiredStatus": "RUNNING", "gpuCount": -1}),
            "`gpuCount` is -1, expected a whole number",
        ),
        (
            serde_json::json!({"id": "a1", "desiredStatus": "RUNNING", "ports": [22]}),
            "`ports` holds a number",
        ),
        (
            serde_json::json!({"id": "a1", "desiredStatus": "RUNNING", "machine": "big"}),
            "pod a1 machine: expected a JSON object",
        ),
    ];
    for (value, expected) in cases {
        let e = pod(&value).unwrap_err().to_string();
        assert!(e.contains(expected), "{value}: {e}");
    }
    // A status rpd does not know is shown as it is, not an error: one such
    // pod must not make `pod list` unreadable.
    let sleeping = pod(&serde_json::json!({"id": "a1", "desiredStatus": "SLEEPING"})).unwrap();
    assert_eq!(sleeping.status, PodStatus::Unknown);
    assert_eq!(sleeping.status_text.as_deref(), Some("SLEEPING"));
    let e = datacenters(&serde_json::json!({"dataCenters": []})).unwrap_err();
    assert!(
        e.to_string()
            .contains("datacenter list: expected a JSON array"),
        "{e}"
    );
    let e = network_volumes(&serde_json::json!([{"id": "v1", "name": "x"}])).unwrap_err();
    assert!(
        e.to_string()
            .contains("network volume v1: has no `dataCenterId`"),
        "{e}"
    );
}

#[test]
fn ssh_block_needs_ip_and_port_and_a_running_pod() {
    let base = serde_json::json!({
        "id": "a1", "desiredStatus": "RUNNING",
        "ssh": {"ip": "10.1.2.3", "port": 2222}
    });
    assert!(pod(&base).unwrap().access.is_some());
    let mut exited = base.clone();
    exited["desiredStatus"] = "EXITED".into();
    assert!(pod(&exited).unwrap().access.is_none());
    let mut no_port = base.clone();
    no_port["ssh"] = serde_json::json!({"ip": "10.1.2.3"});
    assert!(pod(&no_port).unwrap().access.is_none());
    let mut empty_ip = base.clone();
    empty_ip["ssh"] = serde_json::json!({"ip": "", "port": 22});
    assert!(pod(&empty_ip).unwrap().access.is_none());
    let mut initializing = base;
    initializing["runtimeStatus"] = "initializing".into();
    assert!(pod(&initializing).unwrap().access.is_none());
}
