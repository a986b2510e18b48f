//! Every body rpd sends to REST v2 validates against RunPod's official spec
//! (fixtures/runpod-api/openapi-v2.json), and the validator the fake uses
//! really rejects what RunPod rejects.

#[path = "fakes/rest_v2.rs"]
mod fake;

use std::collections::BTreeMap;
use std::time::Duration;

use fake::{FakeRestV2, spec};
use rpd::model::{CloudType, PodStatus, Storage};
use rpd::provider::rest_v2::{RestV2Provider, Settings};
use rpd::provider::{CreatePodRequest, Provider};
use serde_json::{Value, json};

fn provider(fake: &FakeRestV2) -> RestV2Provider {
    let mut s = Settings::new(&fake.url(), fake::API_KEY);
    s.longest_poll_wait = Duration::from_millis(20);
    RestV2Provider::new(&s).unwrap()
}

fn request(name: &str, storage: Storage) -> CreatePodRequest {
    let mut env = BTreeMap::new();
    env.insert("HF_HOME".to_string(), "/workspace/hf".to_string());
    CreatePodRequest {
        name: name.into(),
        image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
        gpu_id: "NVIDIA RTX A5000".into(),
        gpu_count: 2,
        datacenter_id: "EU-RO-1".into(),
        cloud_type: CloudType::Community,
        container_disk_gb: 30,
        storage,
        ports: vec!["8888/http".into(), "22/tcp".into()],
        env,
        // No v2 field: these must not leak into the body.
        min_vcpu_count: Some(16),
        min_memory_gb: Some(64),
        spot: true,
    }
}

async fn until(p: &RestV2Provider, id: &str, status: PodStatus) {
    for _ in 0..200 {
        if p.get(id)
            .await
            .unwrap()
            .is_some_and(|pod| pod.status == status)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("pod {id} never became {status}");
}

#[tokio::test]
async fn every_body_rpd_sends_validates_against_the_spec() {
    let fake = FakeRestV2::start();
    let volume = fake.add_volume("datasets", "EU-RO-1", 100);
    let p = provider(&fake);

    let ephemeral = p
        .create(&request(
            "spec-ephemeral",
            Storage::Ephemeral {
                volume_gb: 10,
                mount: "/workspace".into(),
            },
        ))
        .await
        .unwrap();
    let resolved = p
        .resolve_network_volume("datasets", "EU-RO-1")
        .await
        .unwrap();
    let network = p
        .create(&request(
            "spec-network",
            Storage::NetworkVolume {
                volume_name: "datasets".into(),
                volume_id: Some(resolved),
                mount: "/runpod-volume".into(),
            },
        ))
        .await
        .unwrap();
    until(&p, &ephemeral.id, PodStatus::Running).await;
    p.stop(&ephemeral.id).await.unwrap();
    p.start(&ephemeral.id).await.unwrap();
    p.delete(&network.id).await.unwrap();

    let bodies: Vec<(String, Value)> = fake
        .requests()
        .into_iter()
        .filter_map(|r| r.body.map(|b| (r.operation, b)))
        .collect();
    let operations: Vec<&str> = bodies.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(
        operations,
        ["createPod", "createPod", "podAction", "podAction"],
        "the test drove every body-carrying call"
    );
    assert_eq!(
        bodies[1].1,
        json!({
            "name": "spec-network",
            "image": "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
            "gpu": {"id": "NVIDIA RTX A5000", "count": 2},
            "cloud": "COMMUNITY",
            "dataCenterIds": ["EU-RO-1"],
            "disk": 30,
            "ports": ["22/tcp", "8888/http"],
            "env": {"HF_HOME": "/workspace/hf"},
            "startSsh": true,
            "mounts": {"network": [{"volumeId": volume, "path": "/runpod-volume"}]}
        })
    );
    assert_eq!(bodies[2].1, json!({"action": "stop"}));
    assert_eq!(bodies[3].1, json!({"action": "start"}));
    for (op, body) in &bodies {
        if op == "createPod" {
            assert!(spec::create_pod_errors(body).is_empty(), "{body}");
        }
    }
    fake.assert_all_valid();
}

#[test]
fn the_validator_rejects_what_runpod_rejects() {
    let valid = json!({
        "name": "x",
        "image": "runpod/base:0.6.2",
        "gpu": {"id": "NVIDIA GeForce RTX 4090", "count": 1},
        "mounts": {"persistent": {"size": 10, "path": "/workspace"}}
    });
    assert_eq!(spec::create_pod_errors(&valid), Vec::<String>::new());

    // A leftover v1 key: `unevaluatedProperties: false`.
    let mut extra = valid.clone();
    extra["volumeInGb"] = json!(20);
    let errors = spec::create_pod_errors(&extra);
    assert!(
        errors.iter().any(|e| e.contains("volumeInGb")),
        "{errors:?}"
    );
    let mut extra_in_gpu = valid.clone();
    extra_in_gpu["gpu"]["gpuCount"] = json!(1);
    assert!(!spec::create_pod_errors(&extra_in_gpu).is_empty());

    let mut small = valid.clone();
    small["mounts"]["persistent"]["size"] = json!(5);
    assert!(!spec::create_pod_errors(&small).is_empty(), "10 GB floor");

    let mut no_path = valid.clone();
    no_path["mounts"] = json!({"network": [{"volumeId": "v1"}]});
    assert!(
        !spec::create_pod_errors(&no_path).is_empty(),
        "path required"
    );

    let mut no_image = valid.clone();
    no_image.as_object_mut().unwrap().remove("image");
    assert!(
        !spec::create_pod_errors(&no_image).is_empty(),
        "image required"
    );

    let mut bad_cloud = valid.clone();
    bad_cloud["cloud"] = json!("ALL");
    assert!(
        !spec::create_pod_errors(&bad_cloud).is_empty(),
        "no ALL in v2"
    );

    // The spec gives `gpu.count` a default, so it alone accepts a body
    // without it; the fake adds the observed rule (see the next test).
    let mut no_count = valid.clone();
    no_count["gpu"].as_object_mut().unwrap().remove("count");
    assert_eq!(spec::create_pod_errors(&no_count), Vec::<String>::new());

    let action = |body: Value| spec::validate_request("/v2/pods/{id}/action", "post", Some(&body));
    assert_eq!(action(json!({"action": "stop"})), Some(vec![]));
    assert!(!action(json!({"action": "reset"})).unwrap().is_empty());
    assert!(
        !action(json!({"action": "stop", "force": true}))
            .unwrap()
            .is_empty()
    );
}

async fn raw_post(fake: &FakeRestV2, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", fake.url()))
        .bearer_auth(fake::API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = response.json().await.unwrap();
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json");
    }
    (status, body)
}

#[tokio::test]
async fn the_fake_answers_bad_bodies_like_runpod_and_records_them() {
    let fake = FakeRestV2::start();
    let (status, body) = raw_post(
        &fake,
        "/v2/pods",
        json!({
            "name": "v1-leftover",
            "image": "runpod/base:0.6.2",
            "gpu": {"id": "NVIDIA GeForce RTX 4090", "count": 1},
            "volumeInGb": 20
        }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"], "Request validation failed.");
    assert!(body["errors"].to_string().contains("volumeInGb"), "{body}");

    let (status, body) = raw_post(
        &fake,
        "/v2/pods",
        json!({
            "name": "no-count",
            "image": "runpod/base:0.6.2",
            "gpu": {"id": "NVIDIA GeForce RTX 4090"}
        }),
    )
    .await;
    assert_eq!(status, 400, "what RunPod was observed to answer");
    assert_eq!(body["detail"], rpd::provider::CAPACITY_MESSAGE);

    let (status, _) = raw_post(&fake, "/v2/pods/abc/action", json!({"action": "reset"})).await;
    assert_eq!(status, 422);

    let invalid = fake.invalid_requests();
    assert_eq!(invalid.len(), 3, "{invalid:#?}");
    assert!(
        invalid[1].errors[0].contains("`count` omitted"),
        "{invalid:#?}"
    );
    assert!(fake.pods().is_empty(), "nothing was created");
}
