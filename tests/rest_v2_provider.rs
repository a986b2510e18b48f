//! The REST v2 provider against the fake REST v2 server: round trips,
//! readiness, error classes, and which calls are (never) retried.

#[path = "fakes/rest_v2.rs"]
mod fake;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fake::FakeRestV2;
use rpd::model::{
    Access, CloudType, ObservedPod, PodStatus, PodUpdate, SshEndpoint, Stock, Storage, VolumeGrowth,
};
use rpd::provider::rest_v2::{RestV2Provider, RetryPolicy, Settings};
use rpd::provider::{
    CAPACITY_MESSAGE, CreatePodRequest, HOST_BUSY_MESSAGE, Provider, ProviderError,
};

const RTX4090: &str = "NVIDIA GeForce RTX 4090";
const A5000: &str = "NVIDIA RTX A5000";

fn settings(url: &str, key: &str) -> Settings {
    let mut s = Settings::new(url, key);
    s.longest_poll_wait = Duration::from_millis(20);
    s.timeout = Duration::from_secs(5);
    s.retry = RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(50),
        max_total_wait: Duration::from_secs(5),
    };
    s
}

fn provider(fake: &FakeRestV2) -> RestV2Provider {
    RestV2Provider::new(&settings(&fake.url(), fake::API_KEY)).unwrap()
}

fn request(name: &str, storage: Storage) -> CreatePodRequest {
    CreatePodRequest {
        name: name.into(),
        image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
        gpu_id: RTX4090.into(),
        gpu_count: 1,
        datacenter_id: "EU-RO-1".into(),
        cloud_type: CloudType::Secure,
        container_disk_gb: 20,
        storage,
        ports: vec!["22/tcp".into()],
        env: BTreeMap::new(),
        min_vcpu_count: None,
        min_memory_gb: None,
        spot: false,
    }
}

fn ephemeral() -> Storage {
    Storage::Ephemeral {
        volume_gb: 20,
        mount: "/workspace".into(),
    }
}

/// Polls until the pod has `status` (bounded), as apply does.
async fn until(provider: &RestV2Provider, id: &str, status: PodStatus) -> ObservedPod {
    for _ in 0..200 {
        if let Some(pod) = provider.get(id).await.unwrap()
            && pod.status == status
        {
            return pod;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("pod {id} never became {status}");
}

#[tokio::test]
async fn create_get_list_stop_start_delete_round_trip() {
    let fake = FakeRestV2::start();
    fake.set_ssh("127.0.0.1", 2222, "root");
    let p = provider(&fake);

    let created = p.create(&request("rt-1", ephemeral())).await.unwrap();
    assert_eq!(created.status, PodStatus::Provisioning);
    assert_eq!(created.access, None, "not reachable while provisioning");
    assert_eq!(created.spec.gpu_id.as_deref(), Some(RTX4090));
    assert_eq!(created.spec.gpu_count, Some(1));
    assert_eq!(created.spec.datacenter_id.as_deref(), Some("EU-RO-1"));
    assert_eq!(created.spec.cloud_type, Some(CloudType::Secure));
    assert_eq!(created.spec.container_disk_gb, Some(20));
    assert_eq!(created.spec.storage, Some(ephemeral()));
    assert_eq!(created.spec.ports, Some(vec!["22/tcp".to_string()]));
    assert_eq!(created.cost_per_hr, Some(0.44));
    let id = created.id.clone();
    assert_eq!(fake.pods().len(), 1);

    let running = until(&p, &id, PodStatus::Running).await;
    assert_eq!(
        running.access,
        Some(Access::Ssh(SshEndpoint {
            host: "127.0.0.1".into(),
            port: 2222,
            user: "root".into()
        }))
    );
    assert!(running.changed_at.is_some(), "startedAt of a running pod");
    let listed = p.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].name, "rt-1");

    p.stop(&id).await.unwrap();
    let stopped = p.get(&id).await.unwrap().unwrap();
    assert_eq!(stopped.status, PodStatus::Exited);
    assert_eq!(stopped.cost_per_hr, Some(0.0));
    assert_eq!(stopped.access, None);
    assert_eq!(
        stopped.actions,
        Some(vec!["start".to_string(), "terminate".to_string()])
    );

    p.start(&id).await.unwrap();
    assert_eq!(
        p.get(&id).await.unwrap().unwrap().status,
        PodStatus::Starting
    );
    until(&p, &id, PodStatus::Running).await;

    p.delete(&id).await.unwrap();
    assert_eq!(p.get(&id).await.unwrap(), None);
    assert!(fake.pods().is_empty());
    p.delete(&id)
        .await
        .expect("deleting a gone pod is a success");
    assert_eq!(fake.calls("deletePod"), 2);
    assert_eq!(fake.calls("createPod"), 1);
    assert_eq!(fake.calls("podAction:stop"), 1);
    assert_eq!(fake.calls("podAction:start"), 1);
    fake.assert_all_valid();
}

#[tokio::test]
async fn requests_carry_the_key_and_rpd_user_agent() {
    let fake = FakeRestV2::start();
    provider(&fake).list().await.unwrap();
    let request = &fake.requests()[0];
    assert_eq!(request.authorization.as_deref(), Some("Bearer test"));
    assert_eq!(
        request.user_agent.as_deref(),
        Some(concat!("rpd/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(request.path, "/v2/pods");

    let wrong = RestV2Provider::new(&settings(&fake.url(), "wrong")).unwrap();
    let err = wrong.list().await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Auth(m) if m.contains("HTTP 401: invalid bearer token")),
        "{err:?}"
    );
    assert_eq!(fake.calls("listPods"), 2, "a 401 is not retried");
}

#[tokio::test]
async fn only_a_404_means_gone() {
    let fake = FakeRestV2::start();
    let p = provider(&fake);
    assert_eq!(p.get("nosuchpod0000x").await.unwrap(), None);

    let id = p.create(&request("gone", ephemeral())).await.unwrap().id;
    fake.fail_next("getPod", 500, 3, None);
    let err = p.get(&id).await.unwrap_err();
    assert!(matches!(err, ProviderError::Transient(_)), "{err:?}");
    assert_eq!(fake.calls("getPod"), 1 + 3, "bounded: 3 attempts");

    fake.fail_next("getPod", 403, 1, None);
    let err = p.get(&id).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth(_)), "{err:?}");
}

#[tokio::test]
async fn a_5xx_on_get_is_retried_then_succeeds() {
    let fake = FakeRestV2::start();
    let p = provider(&fake);
    let id = p.create(&request("retry", ephemeral())).await.unwrap().id;
    fake.fail_next("getPod", 503, 2, None);
    let pod = p.get(&id).await.unwrap().expect("found after retries");
    assert_eq!(pod.id, id);
    assert_eq!(fake.calls("getPod"), 3);

    fake.fail_next("listPods", 502, 1, None);
    assert_eq!(p.list().await.unwrap().len(), 1);
    assert_eq!(fake.calls("listPods"), 2);

    fake.fail_next("deletePod", 500, 1, None);
    p.delete(&id).await.unwrap();
    assert_eq!(fake.calls("deletePod"), 2);
    assert!(fake.pods().is_empty());
}

#[tokio::test]
async fn a_network_failure_is_transient_never_gone() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let p = RestV2Provider::new(&settings(&format!("http://127.0.0.1:{port}"), "k")).unwrap();
    let err = p.get("abc").await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Transient(m) if m.contains("could not connect")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_create_is_retried_only_after_a_429() {
    let fake = FakeRestV2::start();
    let p = provider(&fake);

    fake.fail_next("createPod", 503, 1, None);
    let err = p.create(&request("once", ephemeral())).await.unwrap_err();
    assert!(matches!(err, ProviderError::Transient(_)), "{err:?}");
    assert_eq!(fake.calls("createPod"), 1);
    assert!(fake.pods().is_empty());

    // A 429 was refused before anything was made: asked again after the
    // wait RunPod names, it makes exactly one pod.
    fake.fail_next("createPod", 429, 1, Some(1));
    let began = Instant::now();
    let made = p.create(&request("limited", ephemeral())).await.unwrap();
    assert!(
        began.elapsed() >= Duration::from_secs(1),
        "Retry-After kept"
    );
    assert_eq!(fake.calls("createPod"), 3);
    assert_eq!(fake.pods().len(), 1);
    assert_eq!(fake.pods()[0].id, made.id);

    // The lost response: the pod exists, the answer is a 500.
    fake.lose_next_create();
    let err = p.create(&request("lost", ephemeral())).await.unwrap_err();
    assert!(matches!(err, ProviderError::Transient(_)), "{err:?}");
    assert_eq!(fake.calls("createPod"), 4, "no second POST");
    let pods = p.list().await.unwrap();
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().any(|p| p.name == "lost"), "findable by name");
}

#[tokio::test]
async fn a_422_on_create_is_a_rejected_request_with_runpods_errors() {
    let fake = FakeRestV2::start();
    fake.reject_next_create(&["$.gpu.count: must be >= 1", "$.disk: must be >= 1"]);
    let err = provider(&fake)
        .create(&request("bad", ephemeral()))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected(
            "POST /v2/pods: HTTP 422: Request validation failed. [$.gpu.count: must be >= 1; $.disk: must be >= 1]".into()
        )
    );
    assert_eq!(fake.calls("createPod"), 1, "never retried");
    assert!(fake.pods().is_empty());
}

/// A lost create is looked up by name in the pod list: a list that comes in
/// pages is read to its end, so the pod is found on any page.
#[tokio::test]
async fn the_pod_list_is_followed_across_its_pages() {
    let fake = FakeRestV2::start();
    let p = provider(&fake);
    for i in 0..5 {
        fake.create_pod(&request(&format!("pod-{i}"), ephemeral()));
    }
    fake.set_list_page_size(2);
    let mut names: Vec<String> = p
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    names.sort();
    assert_eq!(names, ["pod-0", "pod-1", "pod-2", "pod-3", "pod-4"]);
    assert_eq!(fake.calls("listPods"), 3, "three pages of two");
    let cursors: Vec<Option<String>> = fake
        .requests()
        .iter()
        .filter(|r| r.operation == "listPods")
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(
        cursors,
        [None, Some("cursor=2".into()), Some("cursor=4".into())]
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn no_capacity_is_a_capacity_error() {
    let fake = FakeRestV2::start();
    fake.set_stock("EU-RO-1", RTX4090, 0);
    let p = provider(&fake);
    let err = p.create(&request("full", ephemeral())).await.unwrap_err();
    assert_eq!(err, ProviderError::Capacity(CAPACITY_MESSAGE.into()));
    assert!(fake.pods().is_empty());
    fake.assert_all_valid();
}

#[tokio::test]
async fn forbidden_pool_on_create_skips_the_candidate() {
    let fake = FakeRestV2::start();
    fake.fail_next("createPod", 403, 1, None);
    let err = provider(&fake)
        .create(&request("no-access", ephemeral()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Invalid(m) if m.contains("no access to this GPU pool")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_start_on_a_busy_host_is_host_busy_and_a_wrong_state_is_a_conflict() {
    let fake = FakeRestV2::start();
    let p = provider(&fake);
    let id = p.create(&request("busy", ephemeral())).await.unwrap().id;
    until(&p, &id, PodStatus::Running).await;

    let err = p.start(&id).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Conflict(m) if m.contains("HTTP 409")),
        "{err:?}"
    );

    p.stop(&id).await.unwrap();
    fake.host_busy_on_next_start(&id);
    let err = p.start(&id).await.unwrap_err();
    assert_eq!(err, ProviderError::HostBusy(HOST_BUSY_MESSAGE.into()));
    assert_eq!(
        p.get(&id).await.unwrap().unwrap().status,
        PodStatus::Exited,
        "still stopped"
    );

    let err = p.stop("nosuchpod0000x").await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound(_)), "{err:?}");
    fake.assert_all_valid();
}

#[tokio::test]
async fn a_429_honours_retry_after() {
    let fake = FakeRestV2::start();
    let p = provider(&fake);
    fake.fail_next("listPods", 429, 1, Some(1));
    let began = Instant::now();
    p.list().await.unwrap();
    assert!(
        began.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        began.elapsed()
    );
    assert_eq!(fake.calls("listPods"), 2);

    // A wait longer than the budget is not slept through: the caller gets it.
    fake.fail_next("listPods", 429, 1, Some(60));
    let began = Instant::now();
    let err = p.list().await.unwrap_err();
    assert!(began.elapsed() < Duration::from_secs(30));
    match err {
        ProviderError::RateLimited {
            retry_after,
            message,
        } => {
            assert_eq!(retry_after, Some(Duration::from_secs(60)));
            assert!(message.contains("rate limit exceeded"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn actions_are_retried_on_429_only() {
    let fake = FakeRestV2::start();
    let p = provider(&fake);
    let id = p.create(&request("act", ephemeral())).await.unwrap().id;
    until(&p, &id, PodStatus::Running).await;

    fake.fail_next("podAction:stop", 503, 1, None);
    let err = p.stop(&id).await.unwrap_err();
    assert!(matches!(err, ProviderError::Transient(_)), "{err:?}");
    assert_eq!(
        fake.calls("podAction:stop"),
        1,
        "a 5xx action is not repeated"
    );
    assert_eq!(
        p.get(&id).await.unwrap().unwrap().status,
        PodStatus::Running
    );

    fake.fail_next("podAction:stop", 429, 1, Some(0));
    p.stop(&id).await.unwrap();
    assert_eq!(fake.calls("podAction:stop"), 3);
    assert_eq!(p.get(&id).await.unwrap().unwrap().status, PodStatus::Exited);
}

#[tokio::test]
async fn running_without_a_direct_endpoint_is_not_reachable() {
    let fake = FakeRestV2::start();
    fake.set_ssh_ready(false);
    let p = provider(&fake);
    let id = p.create(&request("nossh", ephemeral())).await.unwrap().id;
    let pod = until(&p, &id, PodStatus::Running).await;
    assert_eq!(pod.access, None);
    fake.set_ssh_ready(true);
    let pod = p.get(&id).await.unwrap().unwrap();
    assert!(matches!(pod.access, Some(Access::Ssh(_))), "{pod:?}");
}

#[tokio::test]
async fn the_catalog_gives_stock_and_prices_per_candidate() {
    let fake = FakeRestV2::start();
    fake.set_stock("EU-RO-1", RTX4090, 0);
    fake.set_stock("US-CA-2", RTX4090, 1);
    let p = provider(&fake);
    let gpus = [RTX4090, A5000, "NVIDIA Imaginary 9000"].map(String::from);
    let dcs = ["EU-RO-1", "US-CA-2"].map(String::from);
    let catalog = p.catalog(&gpus, &dcs, CloudType::Secure, 1).await.unwrap();
    let offer = |dc: &str, gpu: &str| {
        let o = catalog.offer(dc, gpu).unwrap();
        (o.stock, o.price_per_gpu_hr)
    };
    assert_eq!(offer("EU-RO-1", RTX4090), (Stock::None, Some(0.44)));
    assert_eq!(offer("US-CA-2", RTX4090), (Stock::Low, Some(0.44)));
    assert_eq!(offer("EU-RO-1", A5000).0, Stock::High);
    assert_eq!(
        offer("EU-RO-1", "NVIDIA Imaginary 9000"),
        (Stock::Unknown, None)
    );
    let community = p
        .catalog(&gpus, &dcs, CloudType::Community, 1)
        .await
        .unwrap();
    assert_eq!(
        community
            .offer("US-CA-2", RTX4090)
            .unwrap()
            .price_per_gpu_hr,
        Some(0.31)
    );
    let queries: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.operation == "listGpuTypes")
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        queries,
        [
            "include=AVAILABILITY&product=POD&cloud=SECURE&count=1",
            "include=AVAILABILITY&product=POD&cloud=COMMUNITY&count=1"
        ]
    );
    let known = catalog
        .gpu_types
        .as_ref()
        .expect("the GPU types are listed");
    assert!(
        known
            .iter()
            .any(|t| t.id == RTX4090 && t.max_count == Some(8))
    );
    assert!(!known.iter().any(|t| t.id == "NVIDIA Imaginary 9000"));
    let datacenters = catalog.datacenters.as_ref().expect("so are datacenters");
    assert!(datacenters.contains(&"EU-RO-1".to_string()));
    fake.assert_all_valid();
}

/// Stock is asked for the configured number of GPUs: a datacenter with one
/// free GPU has stock for a 1-GPU pod and none for a 2-GPU pod.
#[tokio::test]
async fn the_catalog_is_asked_for_the_configured_gpu_count() {
    let fake = FakeRestV2::start();
    fake.set_stock("EU-RO-1", RTX4090, 1);
    let p = provider(&fake);
    let gpus = [RTX4090.to_string()];
    let dcs = ["EU-RO-1".to_string()];
    let stock = |count| {
        let p = &p;
        let (gpus, dcs) = (&gpus, &dcs);
        async move {
            let catalog = p
                .catalog(gpus, dcs, CloudType::Secure, count)
                .await
                .unwrap();
            catalog.offer("EU-RO-1", RTX4090).unwrap().stock
        }
    };
    assert_eq!(stock(1).await, Stock::Low);
    assert_eq!(stock(2).await, Stock::None);
    let asked: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.operation == "listGpuTypes")
        .filter_map(|r| r.query.clone())
        .collect();
    assert!(asked[1].ends_with("&count=2"), "{asked:?}");
    fake.assert_all_valid();
}

#[tokio::test]
async fn network_volumes_resolve_by_name_in_the_datacenter() {
    let fake = FakeRestV2::start();
    let id = fake.add_volume("datasets", "EU-RO-1", 50);
    fake.add_volume("other", "US-CA-2", 50);
    let p = provider(&fake);
    assert_eq!(
        p.resolve_network_volume("datasets", "EU-RO-1")
            .await
            .unwrap(),
        id
    );
    let err = p
        .resolve_network_volume("datasets", "US-CA-2")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("network volume \"datasets\" is in EU-RO-1, not in US-CA-2"),
        "{err}"
    );
    let err = p
        .resolve_network_volume("nope", "EU-RO-1")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no network volume named \"nope\" in this RunPod account (it has \"datasets\", \"other\")"),
        "{err}"
    );

    let storage = Storage::NetworkVolume {
        volume_name: "datasets".into(),
        volume_id: Some(id.clone()),
        mount: "/workspace".into(),
    };
    let pod = p.create(&request("nv", storage)).await.unwrap();
    assert_eq!(
        pod.spec.storage,
        Some(Storage::NetworkVolume {
            volume_name: String::new(),
            volume_id: Some(id),
            mount: "/workspace".into(),
        }),
        "the name is not reported; the planner keeps the recorded one"
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn a_slow_runpod_is_waited_for_within_the_timeout_and_an_error_past_it() {
    let fake = FakeRestV2::start();
    fake.set_latency(Duration::from_millis(300));
    let p = provider(&fake);
    let began = Instant::now();
    assert!(p.list().await.unwrap().is_empty());
    assert!(began.elapsed() >= Duration::from_millis(300));

    let mut impatient = settings(&fake.url(), fake::API_KEY);
    impatient.timeout = Duration::from_millis(100);
    let p = RestV2Provider::new(&impatient).unwrap();
    let err = p.get("slowpod0000001").await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Transient(m) if m.contains("timed out")),
        "a timeout is never \"gone\": {err:?}"
    );
    assert_eq!(fake.calls("getPod"), 3, "a read is retried");

    let err = p.create(&request("slow", ephemeral())).await.unwrap_err();
    assert!(matches!(err, ProviderError::Transient(_)), "{err:?}");
    assert_eq!(
        fake.calls("createPod"),
        1,
        "a timed-out create is not re-sent"
    );
}

#[tokio::test]
async fn an_update_patches_only_the_changed_fields_of_the_same_pod() {
    let fake = FakeRestV2::start();
    let p = provider(&fake);
    let id = p.create(&request("upd-1", ephemeral())).await.unwrap().id;
    until(&p, &id, PodStatus::Running).await;
    p.stop(&id).await.unwrap();

    let update = PodUpdate {
        image: Some("runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404".into()),
        volume: Some(VolumeGrowth {
            volume_gb: 40,
            mount: "/workspace".into(),
        }),
        ..PodUpdate::default()
    };
    let updated = p.update(&id, &update).await.unwrap();
    assert_eq!(updated.id, id, "the same pod: no create");
    assert_eq!(
        updated.status,
        PodStatus::Exited,
        "a paused pod stays paused"
    );
    assert_eq!(updated.spec.image, update.image);
    assert_eq!(
        updated.spec.storage,
        Some(Storage::Ephemeral {
            volume_gb: 40,
            mount: "/workspace".into()
        })
    );
    let patch = fake
        .requests()
        .into_iter()
        .find(|r| r.operation == "updatePod")
        .expect("a PATCH was sent");
    assert_eq!(patch.method, "PATCH");
    assert_eq!(patch.path, format!("/v2/pods/{id}"));
    assert_eq!(
        patch.body,
        Some(serde_json::json!({
            "image": "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404",
            "mounts": {"persistent": {"size": 40, "path": "/workspace"}}
        })),
        "only the changed fields"
    );
    assert_eq!(fake.calls("createPod"), 1);
    assert_eq!(fake.calls("deletePod"), 0);
    fake.assert_all_valid();
}

#[tokio::test]
async fn an_update_of_a_running_pod_restarts_it_and_ports_keep_ssh() {
    let fake = FakeRestV2::start();
    fake.set_ssh("127.0.0.1", 2222, "root");
    let p = provider(&fake);
    let id = p.create(&request("upd-2", ephemeral())).await.unwrap().id;
    until(&p, &id, PodStatus::Running).await;

    let update = PodUpdate {
        ports: Some(vec!["8888/http".into()]),
        container_disk_gb: Some(40),
        ..PodUpdate::default()
    };
    let updated = p.update(&id, &update).await.unwrap();
    assert_eq!(
        updated.status,
        PodStatus::Starting,
        "the container restarts"
    );
    let running = until(&p, &id, PodStatus::Running).await;
    assert_eq!(running.spec.container_disk_gb, Some(40));
    let patch = fake
        .requests()
        .into_iter()
        .find(|r| r.operation == "updatePod")
        .unwrap();
    assert_eq!(
        patch.body,
        Some(serde_json::json!({"disk": 40, "ports": ["22/tcp", "8888/http"]})),
        "22/tcp stays published, or rpd could never reach the pod again"
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn an_update_that_runpod_refuses_is_an_error_and_a_5xx_is_retried() {
    let fake = FakeRestV2::start();
    let p = provider(&fake);
    let id = p.create(&request("upd-3", ephemeral())).await.unwrap().id;
    let shrink = PodUpdate {
        volume: Some(VolumeGrowth {
            volume_gb: 10,
            mount: "/workspace".into(),
        }),
        ..PodUpdate::default()
    };
    let err = p.update(&id, &shrink).await.unwrap_err();
    assert!(matches!(err, ProviderError::Invalid(_)), "{err:?}");

    fake.fail_next("updatePod", 502, 1, None);
    let image = PodUpdate {
        image: Some("img:2".into()),
        ..PodUpdate::default()
    };
    let updated = p.update(&id, &image).await.unwrap();
    assert_eq!(updated.spec.image.as_deref(), Some("img:2"));
    assert_eq!(
        fake.calls("updatePod"),
        3,
        "the refused one, the 502, the retry"
    );
    assert!(matches!(
        p.update("nope", &image).await,
        Err(ProviderError::NotFound(_))
    ));
}
