//! Money read correctly (issue 20), against the fake REST v2 server: a pod
//! whose status rpd does not know, RunPod's bills when the key may not read
//! them, network volume storage in `rpd cost`, and rpd run inside a pod
//! with only the pod's own key.

mod common;
#[path = "fakes/rest_v2.rs"]
mod fake;

use std::collections::BTreeMap;

use common::hello::{HELLO, HELLO_STATE};
use common::{Test, World};
use fake::FakeRestV2;
use rpd::model::{CloudType, PodStatus, Storage};
use rpd::provider::CreatePodRequest;

const A5000: &str = "NVIDIA RTX A5000";
const HELLO_IMAGE: &str = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404";

fn runpod<'w>(world: &'w World, fake: &FakeRestV2) -> Test<'w> {
    world
        .on_rest_v2(&fake.url())
        .env("RPD_POLL_INTERVAL_MS", "50")
}

/// A stopped pod in the fake, recorded by hello's state as a recycling
/// apply leaves it (made `days_ago` days ago).
fn recycled_pod(world: &World, fake: &FakeRestV2, storage: Storage) -> String {
    let pod = fake.create_pod(&CreatePodRequest {
        name: "hello-20261128T004051Z-2f4c4f".into(),
        image: HELLO_IMAGE.into(),
        gpu_id: A5000.into(),
        gpu_count: 1,
        datacenter_id: "EU-RO-1".into(),
        cloud_type: CloudType::Secure,
        container_disk_gb: 20,
        storage: storage.clone(),
        ports: vec!["22/tcp".into()],
        env: BTreeMap::new(),
        min_vcpu_count: None,
        min_memory_gb: None,
        spot: false,
    });
    fake.wait_for_status(&pod.id, PodStatus::Running);
    fake.with_world(|w, s| w.stop(s, &pod.id)).unwrap();
    let config = std::fs::canonicalize(world.path(HELLO)).unwrap();
    let state = serde_json::json!({
        "format_version": 1,
        "lineage": "2f4c4f82-63f1-40d6-9582-826057ac2a40",
        "serial": 3,
        "owner": {"config": config, "job_name": "hello"},
        "pod": {
            "id": pod.id,
            "name": pod.name,
            "spec": {
                "image": HELLO_IMAGE,
                "gpu_id": A5000,
                "gpu_count": 1,
                "datacenter_id": "EU-RO-1",
                "cloud_type": "SECURE",
                "container_disk_gb": 20,
                "storage": storage,
                "ports": ["22/tcp"]
            },
            "status": "EXITED",
            "status_since": "2026-11-20T00:00:00Z",
            "provider": "runpod"
        }
    });
    world.write(HELLO_STATE, &serde_json::to_string_pretty(&state).unwrap());
    pod.id
}

fn ephemeral() -> Storage {
    Storage::Ephemeral {
        volume_gb: 20,
        mount: "/workspace".into(),
    }
}

/// RunPod may add a status (or send none): such a pod no longer makes the
/// whole list unreadable. `status` shows it as UNKNOWN, `ls-stale` says it
/// is not listed, and `plan`/`destroy` refuse to change anything around
/// it, naming RunPod's word, instead of planning on a guess: it may run and
/// bill, or be on its way out.
#[test]
fn a_pod_in_a_status_rpd_does_not_know_is_shown_as_unknown_and_never_acted_on() {
    let world = World::new();
    let fake = FakeRestV2::start();
    let id = recycled_pod(&world, &fake, ephemeral());
    fake.set_status_text(&id, Some("HIBERNATING"));
    runpod(&world, &fake)
        .args(["status", HELLO])
        .known(&id, "[POD]")
        .stdout_has("examples/hello.yaml  [POD]  UNKNOWN")
        .run();
    runpod(&world, &fake)
        .args(["ls-stale"])
        .stdout_has("1 pod in a status rpd does not know not listed: rpd cannot tell whether it runs or bills")
        .run();
    let refusal = "pod [POD] is in a status rpd does not know (RunPod says \"HIBERNATING\"): rpd cannot tell whether it runs or bills, so it creates, updates, stops and deletes nothing around it";
    runpod(&world, &fake)
        .args(["plan", HELLO])
        .known(&id, "[POD]")
        .status(1)
        .stdout_has(refusal)
        .stdout_has(
            "# pod \"hello\" ([POD]) is in a status rpd does not know; nothing is done to it\n",
        )
        .stdout_lacks("it is billing")
        .run();
    runpod(&world, &fake)
        .args(["destroy", "-y", HELLO])
        .known(&id, "[POD]")
        .status(1)
        .stdout_has(refusal)
        .stderr_has("error: hello: the plan has errors: nothing was deleted\n")
        .run();
    runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .known(&id, "[POD]")
        .status(1)
        .stdout_has(refusal)
        .stderr_has("error: hello: the plan has errors: nothing was created\n")
        .run();
    assert_eq!(fake.pods().len(), 1, "nothing deleted");
    assert_eq!(
        (
            fake.calls("createPod"),
            fake.calls("deletePod"),
            fake.calls("podAction")
        ),
        (0, 0, 0)
    );
    // A null status reads the same way.
    fake.set_status_text(&id, None);
    runpod(&world, &fake)
        .args(["plan", HELLO])
        .status(1)
        .stdout_has("is in a status rpd does not know (RunPod sent none)")
        .run();
}

/// The recorded pod bills (fixtures/rest_v2/billing_pods.json), the pod
/// `x7k2m4n6p8q1r3` (4 hours: 2 running, 2 paused, $0.7072) renamed.
fn pod_bills(pod_id: &str) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(common::repo_root().join("fixtures/rest_v2/billing_pods.json"))
            .unwrap()
            .replace("x7k2m4n6p8q1r3", pod_id);
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    answer["records"].as_array().unwrap().clone()
}

fn since_400_days() -> String {
    (chrono::Utc::now() - chrono::Duration::days(400))
        .format("%Y-%m-%d")
        .to_string()
}

/// A network volume bills apart from any pod: pod bills never include
/// it. `rpd cost` reads `GET /v2/billing/network-volumes` for each volume
/// the configs' pods mount, once per volume, and counts it in the total.
#[test]
fn cost_adds_the_storage_of_the_network_volumes_the_pods_mount() {
    let world = World::new();
    let fake = FakeRestV2::start();
    let volume = fake.add_volume("data", "EU-RO-1", 145);
    let id = recycled_pod(
        &world,
        &fake,
        Storage::NetworkVolume {
            volume_name: "data".into(),
            volume_id: Some(volume.clone()),
            mount: "/workspace".into(),
        },
    );
    fake.set_bills(pod_bills(&id));
    let text = std::fs::read_to_string(
        common::repo_root().join("fixtures/rest_v2/billing_network_volumes.json"),
    )
    .unwrap()
    .replace("agv6w2qcg7", &volume);
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    fake.set_volume_bills(answer["records"].as_array().unwrap().clone());
    // Pod: 0.4497 + 0.2297 + 0.0139 + 0.0139 = 0.7072; the volume's two
    // hours 2 x 0.0139 = 0.0278 (the other volume is not this config's);
    // $0.735 in all.
    runpod(&world, &fake)
        .args(["cost", HELLO, "--since", "400d"])
        .known(&volume, "[VOLUME]")
        .known(&since_400_days(), "[SINCE]")
        .stdout(
            "
            CONFIG               PODS  COMPUTE  STORAGE RUNNING  STORAGE PAUSED  TOTAL  SOURCE
            examples/hello.yaml  1     $0.66    $0.02            $0.03           $0.71  RunPod billing

            NETWORK VOLUME  USED BY              STORAGE  SOURCE
            [VOLUME]      examples/hello.yaml  $0.03    RunPod billing

            Total since [SINCE]: $0.74.
            ",
        )
        .run();
    assert_eq!(fake.calls("listNetworkVolumeBilling"), 1);
    let request = fake
        .requests()
        .into_iter()
        .find(|r| r.operation == "listNetworkVolumeBilling")
        .unwrap();
    assert!(
        request
            .query
            .as_deref()
            .is_some_and(|q| q.contains(&format!("networkVolumeId={volume}"))),
        "{request:?}"
    );
    fake.assert_all_valid();
}

/// A key that may not read billing gets 403 from `GET /v2/billing/pods`:
/// `rpd cost` falls back to the estimate and says why, instead of failing.
#[test]
fn a_403_on_billing_falls_back_to_the_estimate_with_a_note() {
    let world = World::new();
    let fake = FakeRestV2::start();
    let id = recycled_pod(&world, &fake, ephemeral());
    fake.set_bills(pod_bills(&id));
    fake.fail_next("listPodBilling", 403, 5, None);
    runpod(&world, &fake)
        .args(["cost", HELLO, "--since", "400d"])
        .known(&since_400_days(), "[SINCE]")
        .stdout_has("examples/hello.yaml  1     $0.00    $0.00            ")
        .stdout_has("  estimate\n")
        .stdout_has("Note: RunPod refused the bills of examples/hello.yaml (GET /v2/billing/pods: HTTP 403: access denied): its figures are estimated")
        .run();
    assert_eq!(fake.calls("listPodBilling"), 1, "asked once, not retried");
}

/// Inside a RunPod pod, RunPod sets `RUNPOD_POD_ID` and a `RUNPOD_API_KEY`
/// that is the pod's own key, which can do nothing beyond its pod. rpd
/// run there checks the key once (a list of the account's pods) and, when
/// RunPod refuses it, says so and sends nothing else with it: a 403 on a
/// create would otherwise read as "no access to this GPU pool".
#[test]
fn inside_a_pod_with_only_the_pods_own_key_rpd_says_so_and_sends_nothing_with_it() {
    let world = World::new();
    let fake = FakeRestV2::start();
    for command in [&["plan", HELLO][..], &["apply", "-y", HELLO][..]] {
        world
            .on_rest_v2(&fake.url())
            .env("RUNPOD_API_KEY", fake::POD_API_KEY)
            .env("RUNPOD_POD_ID", "p0d0fth1sm4ch1n3")
            .args(command)
            .status(1)
            .stderr_has("rpd runs inside RunPod pod p0d0fth1sm4ch1n3 (RUNPOD_POD_ID is set), and RunPod refused its RUNPOD_API_KEY for the account's pods (GET /v2/pods: HTTP 401: invalid bearer token): there that is the pod's own key, which can do nothing beyond its pod, so rpd sends nothing with it\n  = help: set RUNPOD_API_KEY to your account's API key")
            .run();
    }
    let operations: Vec<String> = fake.requests().into_iter().map(|r| r.operation).collect();
    assert_eq!(
        operations,
        ["listPods", "listPods"],
        "one check per run, nothing else"
    );
    assert!(fake.pods().is_empty());
    // The account's key set by hand inside a pod passes the check.
    world
        .on_rest_v2(&fake.url())
        .env("RUNPOD_POD_ID", "p0d0fth1sm4ch1n3")
        .args(["plan", HELLO])
        .stdout_has("pod \"hello\" will be created")
        .run();
}
