//! The built `rpd` with `--provider runpod` against the fake REST v2 server
//! running in this test process: plan, resume plan, destroy, candidates out
//! of stock or refused, the lost create, and the API key's sources.
//!
//! The apply tests run the whole job: the fake reports the SSH endpoint of a
//! real sshd on 127.0.0.1 (tests/common/sshd.rs), so rpd connects, stages,
//! runs and pulls exactly as it does on RunPod. Without sshd they skip.

mod common;
#[path = "fakes/rest_v2.rs"]
mod fake;

use std::collections::BTreeMap;

use common::sshd::Sshd;
use common::{Run, World};
use fake::FakeRestV2;
use rpd::model::{CloudType, PodStatus, Storage};
use rpd::provider::CreatePodRequest;

const HELLO: &str = "examples/hello.yaml";
const HELLO_STATE: &str = "examples/.rpd/hello.state.json";
const RTX4090: &str = "NVIDIA GeForce RTX 4090";
const A5000: &str = "NVIDIA RTX A5000";
const HELLO_IMAGE: &str = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404";

/// Runs rpd as a RunPod user would, pointed at the fake.
fn runpod(world: &World, fake: &FakeRestV2, args: &[&str]) -> Run {
    world.rpd_env(
        args,
        &[
            ("RPD_PROVIDER", "runpod"),
            ("RUNPOD_API_KEY", fake::API_KEY),
            ("RPD_RUNPOD_API_URL", &fake.url()),
            ("RPD_POLL_INTERVAL_MS", "50"),
        ],
    )
}

/// A fake whose running pods answer over a real sshd, and hello rewritten
/// for it; None (skip) where sshd is not installed.
fn over_ssh(world: &World) -> Option<(FakeRestV2, Sshd)> {
    let sshd = Sshd::start()?;
    let fake = FakeRestV2::start();
    fake.set_ssh("127.0.0.1", sshd.port, &sshd.user);
    world.hello_over_ssh(&sshd);
    Some((fake, sshd))
}

/// A fake whose running pods point at a closed port on 127.0.0.1.
fn fake_without_sshd() -> FakeRestV2 {
    let fake = FakeRestV2::start();
    fake.set_ssh("127.0.0.1", common::closed_port(), "root");
    fake
}

/// A stopped pod in the fake and a state file that records it, as a
/// recycling apply leaves them.
fn recycled_pod(world: &World, fake: &FakeRestV2) -> String {
    // The mount the config asks for (a temp directory when over sshd).
    let config_text = world.read(HELLO);
    let mount = config_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("volume_mount: "))
        .unwrap_or("/workspace")
        .to_string();
    let pod = fake.create_pod(&CreatePodRequest {
        name: "hello-20261128T004051Z".into(),
        image: HELLO_IMAGE.into(),
        gpu_id: A5000.into(),
        gpu_count: 1,
        datacenter_id: "EU-RO-1".into(),
        cloud_type: CloudType::Secure,
        container_disk_gb: 20,
        storage: Storage::Ephemeral {
            volume_gb: 20,
            mount: mount.clone(),
        },
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
                "storage": {"mode": "ephemeral", "volume_gb": 20, "mount": mount},
                "ports": ["22/tcp"]
            },
            "status": "EXITED",
            "provider": "runpod"
        }
    });
    world.write(HELLO_STATE, &serde_json::to_string_pretty(&state).unwrap());
    pod.id
}

#[test]
fn plan_creates_on_catalog_candidates_with_prices() {
    let world = World::new();
    let fake = FakeRestV2::start();
    runpod(&world, &fake, &["plan", "--detailed-exitcode", HELLO])
        .status(2)
        .stdout_has("# pod \"hello\" will be created")
        .stdout_has(&format!(
            "+ gpu               = \"{RTX4090}\" (first with stock, see candidates)"
        ))
        .stdout_has("1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high")
        .stdout_has("2. EU-RO-1 / NVIDIA RTX A5000             $0.27/hr  stock high")
        .stdout_has("4. US-CA-2 / NVIDIA RTX A5000             $0.27/hr  stock high")
        .stdout_has("Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop.")
        .stdout_has("Cost: $0.44/hr while running");
    assert_eq!(fake.calls("listGpuTypes"), 1);
    assert_eq!(fake.calls("createPod"), 0, "plan changes nothing");
    assert!(fake.pods().is_empty());
    assert!(world.state(HELLO_STATE).is_none());
    fake.assert_all_valid();
}

#[test]
fn plan_skips_a_candidate_out_of_stock() {
    let world = World::new();
    let fake = FakeRestV2::start();
    fake.set_stock("EU-RO-1", RTX4090, 0);
    fake.set_stock("US-CA-2", RTX4090, 2);
    runpod(&world, &fake, &["plan", HELLO])
        .status(0)
        .stdout_has(&format!(
            "+ gpu               = \"{A5000}\" (first with stock, see candidates)"
        ))
        .stdout_has("1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock none, skipped")
        .stdout_has("3. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  stock low");
}

#[test]
fn plan_resumes_a_recycled_pod_and_destroy_deletes_it() {
    let world = World::new();
    let fake = FakeRestV2::start();
    let id = recycled_pod(&world, &fake);
    runpod(&world, &fake, &["plan", "--detailed-exitcode", HELLO])
        .status(2)
        .stdout_has(&format!(
            "# pod \"hello\" ({id}) will be resumed (EXITED -> RUNNING)"
        ))
        .stdout_has("# (no attribute changes)")
        .stdout_has("Plan: 0 to create, 1 to resume, 0 to destroy, 1 to stop.")
        .stdout_lacks("Changes made outside rpd");
    assert_eq!(fake.calls("getPod"), 1);

    runpod(&world, &fake, &["destroy", "-y", HELLO])
        .status(0)
        .stdout_has("hello: destroy complete! Pods: 1 destroyed");
    assert!(fake.pods().is_empty());
    assert_eq!(fake.calls("deletePod"), 1);
    assert!(world.state(HELLO_STATE).is_none());
    fake.assert_all_valid();
}

#[test]
fn a_pod_deleted_outside_rpd_is_planned_as_gone() {
    let world = World::new();
    let fake = FakeRestV2::start();
    let id = recycled_pod(&world, &fake);
    fake.with_world(|w, s| w.delete(s, &id)).unwrap();
    runpod(&world, &fake, &["plan", HELLO])
        .status(0)
        .stdout_has("Plan: 1 to create, 0 to resume");
}

#[test]
fn a_failing_read_is_an_error_never_a_missing_pod() {
    let world = World::new();
    let fake = FakeRestV2::start();
    recycled_pod(&world, &fake);
    fake.fail_next("getPod", 500, 3, None);
    runpod(&world, &fake, &["plan", HELLO])
        .status(1)
        .stderr_has("HTTP 500")
        .stdout_lacks("will be created");
    assert_eq!(fake.calls("getPod"), 3, "retried, then reported");
}

#[test]
fn the_tour_create_recycle_resume_replace_destroy_over_rest_v2() {
    let world = World::new();
    let Some((fake, _sshd)) = over_ssh(&world) else {
        return;
    };

    runpod(&world, &fake, &["apply", "-y", HELLO])
        .status(0)
        .stdout_has("Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped. Job succeeded");
    let pods = fake.pods();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0].status, PodStatus::Exited, "recycled");
    let first = pods[0].id.clone();
    assert!(
        world
            .read("examples/artifacts/hello/result.txt")
            .starts_with("run 1 of hello")
    );

    runpod(&world, &fake, &["apply", "-y", HELLO])
        .status(0)
        .stdout_has(&format!("({first}) will be resumed"))
        .stdout_has("Pods: 0 created, 1 resumed");
    assert_eq!(fake.calls("createPod"), 1, "the resume did not create");
    assert_eq!(fake.calls("podAction:start"), 1);
    assert!(
        world
            .read("examples/artifacts/hello/result.txt")
            .starts_with("run 2 of hello")
    );

    let edited = world.read(HELLO).replace("torch280", "torch291");
    world.write(HELLO, &edited);
    runpod(&world, &fake, &["apply", "-y", HELLO])
        .status(0)
        .stdout_has("# forces replacement")
        .stdout_has("Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.");
    runpod(&world, &fake, &["apply", "-y", "--replace", HELLO])
        .status(0)
        .stdout_has("will be replaced, as requested");
    assert_eq!(fake.calls("createPod"), 3);
    assert_eq!(fake.calls("deletePod"), 2);
    assert_eq!(fake.pods().len(), 1);

    runpod(&world, &fake, &["destroy", "-y", HELLO])
        .status(0)
        .stdout_has("Pods: 1 destroyed");
    assert!(fake.pods().is_empty());
    assert!(world.state(HELLO_STATE).is_none());
    fake.assert_all_valid();
}

#[test]
fn a_pod_whose_shell_never_answers_is_deleted() {
    let world = World::new();
    let fake = fake_without_sshd();
    let quick = world.read(HELLO).replace(
        "  max_runtime_minutes: 10\n",
        "  max_runtime_minutes: 10\n  ssh_ready_timeout_sec: 2\n",
    );
    world.write(HELLO, &quick);
    world.write("home/.ssh/id_ed25519", "not a real key\n");
    let run = runpod(&world, &fake, &["apply", "-y", HELLO])
        .status(1)
        .stderr_has("Creating on EU-RO-1 / NVIDIA GeForce RTX 4090, $0.44/hr")
        .stderr_has("its shell never answered");
    assert!(fake.pods().is_empty(), "{}", run.stderr());
    assert_eq!(fake.calls("createPod"), 1);
    assert_eq!(fake.calls("deletePod"), 1);
    fake.assert_all_valid();
}

#[test]
fn a_lost_create_answer_ends_with_exactly_one_pod() {
    let world = World::new();
    let Some((fake, _sshd)) = over_ssh(&world) else {
        return;
    };
    fake.lose_next_create();
    let run = runpod(&world, &fake, &["apply", "-y", HELLO]);
    let pods = fake.pods();
    assert_eq!(pods.len(), 1, "{}", run.stderr());
    assert_eq!(fake.calls("createPod"), 1, "never re-sent");
    assert!(fake.calls("listPods") >= 1, "looked up by name");
    let run = run.status(0).stderr_has("HTTP 500").stderr_has(&format!(
        "but pod {} exists under our name: using it",
        pods[0].id
    ));
    assert_eq!(pods[0].status, PodStatus::Exited, "{}", run.stderr());
    let state = world.state(HELLO_STATE).expect("state");
    assert_eq!(state["pod_id"], pods[0].id.as_str());
    fake.assert_all_valid();
}

#[test]
fn refused_candidates_fall_through_to_the_next() {
    let world = World::new();
    let Some((fake, _sshd)) = over_ssh(&world) else {
        return;
    };
    // The catalog says yes, the creates say no: first no access to the
    // pool (403), then no capacity (400).
    fake.fail_next("createPod", 403, 1, None);
    fake.fail_next_with("createPod", 400, rpd::provider::CAPACITY_MESSAGE);
    let run = runpod(&world, &fake, &["apply", "-y", HELLO]).status(0);
    let run = run
        .stderr_has("no access to this GPU pool")
        .stderr_has("no capacity: There are no longer any instances available");
    let pods = fake.pods();
    assert_eq!(pods.len(), 1, "{}", run.stderr());
    assert_eq!(
        (pods[0].datacenter_id.as_str(), pods[0].gpu_id.as_str()),
        ("US-CA-2", RTX4090),
        "the third candidate"
    );
    assert_eq!(fake.calls("createPod"), 3);
    fake.assert_all_valid();
}

#[test]
fn a_resume_on_a_busy_host_deletes_and_creates_a_fresh_pod() {
    let world = World::new();
    let Some((fake, _sshd)) = over_ssh(&world) else {
        return;
    };
    let old = recycled_pod(&world, &fake);
    fake.host_busy_on_next_start(&old);
    let run = runpod(&world, &fake, &["apply", "-y", HELLO]).status(0);
    let run = run.stderr_has("There are not enough free GPUs on the host machine");
    let pods = fake.pods();
    assert_eq!(pods.len(), 1, "{}", run.stderr());
    assert_ne!(pods[0].id, old, "the pinned pod was deleted");
    assert_eq!(fake.calls("podAction:start"), 1);
    assert_eq!(fake.calls("deletePod"), 1);
    assert_eq!(fake.calls("createPod"), 1);
    fake.assert_all_valid();
}

#[test]
fn a_missing_api_key_says_how_to_set_one() {
    let world = World::new();
    let mut cmd = world.command(&["plan", HELLO]);
    cmd.env("RPD_PROVIDER", "runpod")
        .env("RPD_RUNPOD_API_URL", "http://127.0.0.1:9");
    world
        .run(cmd, &["plan", HELLO])
        .status(1)
        .stderr_has("no RunPod API key: RUNPOD_API_KEY is not set")
        .stderr_has("export RUNPOD_API_KEY=<key>")
        .stderr_has(".runpod/config.toml")
        .stderr_has("--provider sim");
}

#[test]
fn a_bad_poll_interval_is_named() {
    let world = World::new();
    world
        .rpd_env(
            &["plan", HELLO],
            &[
                ("RPD_PROVIDER", "runpod"),
                ("RUNPOD_API_KEY", "test"),
                ("RPD_POLL_INTERVAL_MS", "fast"),
            ],
        )
        .status(1)
        .stderr_has("RPD_POLL_INTERVAL_MS=\"fast\" is not a positive number of milliseconds");
}

#[test]
fn the_key_can_come_from_runpodctls_config_file() {
    let world = World::new();
    let fake = FakeRestV2::start();
    world.write("home/.runpod/config.toml", "apiKey = \"test\"\n");
    let mut cmd = world.command(&["plan", HELLO]);
    cmd.env("RPD_PROVIDER", "runpod")
        .env("RPD_RUNPOD_API_URL", fake.url());
    world
        .run(cmd, &["plan", HELLO])
        .status(0)
        .stdout_has("will be created");
    assert_eq!(
        fake.requests()[0].authorization.as_deref(),
        Some("Bearer test")
    );
}

#[test]
fn a_rejected_key_is_an_authentication_error() {
    let world = World::new();
    let fake = FakeRestV2::start();
    world
        .rpd_env(
            &["apply", "-y", HELLO],
            &[
                ("RPD_PROVIDER", "runpod"),
                ("RUNPOD_API_KEY", "revoked"),
                ("RPD_RUNPOD_API_URL", &fake.url()),
            ],
        )
        .status(1)
        .stderr_has("authentication failed")
        .stderr_has("HTTP 401");
    assert!(fake.pods().is_empty());
}

#[test]
fn a_lost_create_that_cannot_be_checked_stops_rather_than_create_twice() {
    let world = World::new();
    let fake = FakeRestV2::start();
    fake.lose_next_create();
    fake.fail_next("listPods", 500, 20, None);
    runpod(&world, &fake, &["apply", "-y", HELLO])
        .status(1)
        .stderr_has("failed ambiguously")
        .stderr_has("so as not to create a second pod");
    assert_eq!(fake.calls("createPod"), 1, "no second create");
    let state = world.state(HELLO_STATE).expect("state");
    assert!(
        state["pending_create"]["name"].is_string(),
        "the name is kept: {state}"
    );
    // Once listing works again, the next plan finds and adopts the pod.
    fake.clear_failures("listPods");
    let id = fake.pods()[0].id.clone();
    runpod(&world, &fake, &["plan", HELLO])
        .status(0)
        .stdout_has(&format!("record pod {id} in the state"));
}

#[test]
fn apply_without_the_ssh_key_stops_before_creating_anything() {
    let world = World::new();
    let fake = FakeRestV2::start();
    std::fs::remove_file(world.path("home/.ssh/id_ed25519")).unwrap();
    runpod(&world, &fake, &["plan", HELLO])
        .status(0)
        .stdout_has("Warning: the SSH key");
    runpod(&world, &fake, &["apply", "-y", HELLO])
        .status(1)
        .stderr_has("ssh.key_path in examples/hello.yaml) does not exist")
        .stderr_has("ssh-keygen -t ed25519");
    assert_eq!(fake.calls("createPod"), 0);
}
