//! What a real RunPod account meets on its first `rpd apply` (issue 9),
//! against the fake REST v2 server: create errors that must stop instead of
//! moving on, SSH keys, COMMUNITY pods without direct SSH, catalog checks in
//! the plan, another account's 404s.

mod common;
#[path = "fakes/rest_v2.rs"]
mod fake;

use common::hello::{HELLO, HELLO_STATE};
use common::{USER_PUBLIC_KEY, World};
use fake::FakeRestV2;

/// What `rpd COMMAND` says on stderr when the plan has errors (the errors
/// themselves are in the plan, on stdout).
fn refused(command: &str) -> &'static str {
    match command {
        "plan" => "",
        "apply" => "error: hello: the plan has errors: nothing was created\n",
        _ => "error: hello: the plan has errors: nothing was deleted\n",
    }
}

/// A 422 says the request itself breaks RunPod's contract: every other
/// candidate would refuse it too, so apply stops at the first, with
/// RunPod's list of violations, and leaves nothing pending.
#[test]
fn a_422_on_create_stops_with_runpods_errors_instead_of_trying_the_next_candidate() {
    let world = World::new();
    let fake = FakeRestV2::start();
    fake.reject_next_create(&["$.image: must not be empty"]);
    world
        .on_rest_v2(&fake.url())
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout_has("\nhello: apply stopped. Pods: 0 created, 0 resumed, 0 destroyed, 0 stopped.\n")
        .stderr(
            "
            hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090, $0.44/hr...
            error: hello: creating the pod: request rejected: POST /v2/pods: HTTP 422: Request validation failed. [$.image: must not be empty]
            ",
        )
        .run();
    assert_eq!(fake.calls("createPod"), 1, "no other candidate tried");
    assert_eq!(
        fake.calls("listPods"),
        0,
        "not ambiguous: nothing to look up"
    );
    assert!(fake.pods().is_empty());
    // A run that ends tracking nothing leaves no state file behind.
    assert!(world.state(HELLO_STATE).is_none(), "nothing pending");
}

/// A create RunPod keeps rate-limiting was never carried out: after the
/// waits it asked for, apply stops (no lookup by name, no other candidate).
#[test]
fn a_create_still_rate_limited_after_its_retries_stops_unambiguously() {
    let world = World::new();
    let fake = FakeRestV2::start();
    fake.fail_next("createPod", 429, 3, Some(0));
    world
        .on_rest_v2(&fake.url())
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout_has("\nhello: apply stopped. Pods: 0 created, 0 resumed, 0 destroyed, 0 stopped.\n")
        .stderr(
            "
            hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090, $0.44/hr...
            error: hello: creating the pod: rate limited: POST /v2/pods: HTTP 429: rate limit exceeded for the minute window
            ",
        )
        .run();
    assert_eq!(fake.calls("createPod"), 3, "asked three times in all");
    assert_eq!(
        fake.calls("listPods"),
        0,
        "a refused create is not ambiguous"
    );
    assert!(fake.pods().is_empty());
}

/// runpod-deploy accepts `cloud_type: ALL`; REST v2 has no ALL, so rpd
/// tries every place on SECURE first, then the same places on COMMUNITY,
/// each priced from its own cloud's catalog.
#[test]
fn cloud_type_all_plans_secure_candidates_then_the_same_places_on_community() {
    let world = World::new();
    let fake = FakeRestV2::start();
    world.edit(HELLO, "cloud_type: SECURE", "cloud_type: ALL");
    world
        .on_rest_v2(&fake.url())
        .args(["plan", HELLO])
        .stdout_has(concat!(
            "  Candidates, in order:\n",
            "     1. EU-RO-1 / NVIDIA GeForce RTX 4090 (SECURE)         $0.44/hr  stock high\n",
            "     2. EU-RO-1 / NVIDIA RTX A5000 (SECURE)                $0.27/hr  stock high\n",
            "     3. US-CA-2 / NVIDIA GeForce RTX 4090 (SECURE)         $0.44/hr  stock high\n",
            "     4. US-CA-2 / NVIDIA RTX A5000 (SECURE)                $0.27/hr  stock high\n",
            "     5. EU-RO-1 / NVIDIA GeForce RTX 4090 (COMMUNITY)      $0.31/hr  stock high\n",
            "     6. EU-RO-1 / NVIDIA RTX A5000 (COMMUNITY)             $0.16/hr  stock high\n",
            "     7. US-CA-2 / NVIDIA GeForce RTX 4090 (COMMUNITY)      $0.31/hr  stock high\n",
            "     8. US-CA-2 / NVIDIA RTX A5000 (COMMUNITY)             $0.16/hr  stock high\n",
        ))
        .stdout_has(r#"+ cloud_type        = "SECURE" (first with stock, see candidates)"#)
        .run();
    let clouds: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.operation == "listGpuTypes")
        .filter_map(|r| r.query.clone())
        .collect();
    assert_eq!(clouds.len(), 2, "one catalog read per cloud: {clouds:?}");
    assert!(
        clouds.iter().any(|q| q.contains("cloud=COMMUNITY")),
        "{clouds:?}"
    );
}

/// A GPU or datacenter id RunPod does not have, or more GPUs than one of
/// its machines holds, used to show as "stock high" at a price and fail
/// only in apply. The plan now marks each such candidate with the reason
/// and fails when none is left; apply creates nothing.
#[test]
fn ids_runpod_lacks_and_too_many_gpus_fail_the_plan_before_anything_is_created() {
    let error = "Error: no candidate can take the pod: the catalog rules out all 2 (see why beside each), so nothing would be created; fix pod.gpu_order, pod.datacenters, pod.gpu_count or storage.volume_name in the config\n";
    let cases = [
        (
            r#"gpu_order: ["NVIDIA RTX 4090"]"#,
            "  gpu_count: 1\n",
            "warning: examples/hello.yaml: pod.gpu_order[0]: \"NVIDIA RTX 4090\" is not a GPU id rpd knows; did you mean \"NVIDIA GeForce RTX 4090\"?\n",
            concat!(
                "     1. EU-RO-1 / NVIDIA RTX 4090  price unknown  invalid: RunPod has no GPU type of this id; did you mean \"NVIDIA GeForce RTX 4090\"?\n",
                "     2. US-CA-2 / NVIDIA RTX 4090  price unknown  invalid: RunPod has no GPU type of this id; did you mean \"NVIDIA GeForce RTX 4090\"?\n",
            ),
        ),
        (
            r#"gpu_order: ["NVIDIA GeForce RTX 4090"]"#,
            "  gpu_count: 9\n",
            "",
            concat!(
                "     1. EU-RO-1 / NVIDIA GeForce RTX 4090      $3.96/hr  invalid: pod.gpu_count is 9, but a pod of this GPU type has at most 8 on this cloud\n",
                "     2. US-CA-2 / NVIDIA GeForce RTX 4090      $3.96/hr  invalid: pod.gpu_count is 9, but a pod of this GPU type has at most 8 on this cloud\n",
            ),
        ),
    ];
    for (gpus, count, warning, lines) in cases {
        let world = World::new();
        let fake = FakeRestV2::start();
        world.edit(
            HELLO,
            r#"gpu_order: ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"]"#,
            gpus,
        );
        world.edit(
            HELLO,
            "  container_disk_gb: 20\n",
            &format!("  container_disk_gb: 20\n{count}"),
        );
        for command in ["plan", "apply"] {
            world
                .on_rest_v2(&fake.url())
                .args(
                    [command, "-y", HELLO]
                        .into_iter()
                        .filter(|a| command == "apply" || *a != "-y"),
                )
                .status(1)
                .stdout_has("rpd cannot carry out this plan (the errors say why):\n")
                .stdout_has(&format!("  Candidates, in order:\n{lines}"))
                .stdout_has(&format!(
                    "\n{error}Nothing can be applied until these are fixed.\n"
                ))
                .stderr(&format!("{warning}{}", refused(command)))
                .run();
        }
        assert_eq!(fake.calls("createPod"), 0, "{gpus} {count}");
        assert!(world.state(HELLO_STATE).is_none(), "nothing recorded");
        fake.assert_all_valid();
    }

    // One unknown datacenter among good ones is marked; the plan goes on.
    let world = World::new();
    let fake = FakeRestV2::start();
    world.edit(
        HELLO,
        "datacenters: [EU-RO-1, US-CA-2]",
        "datacenters: [EU-RO-9, US-CA-2]",
    );
    world
        .on_rest_v2(&fake.url())
        .args(["plan", HELLO])
        .stdout_has(concat!(
            "     1. EU-RO-9 / NVIDIA GeForce RTX 4090      $0.44/hr  invalid: RunPod has no datacenter of this id; did you mean \"EU-RO-1\"?\n",
            "     2. EU-RO-9 / NVIDIA RTX A5000             $0.27/hr  invalid: RunPod has no datacenter of this id; did you mean \"EU-RO-1\"?\n",
            "     3. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high\n",
        ))
        .stdout_has("\nPlan: 1 to create, 0 to resume, 0 to destroy, 1 to stop.\n")
        .stderr("warning: examples/hello.yaml: pod.datacenters[0]: \"EU-RO-9\" is not a datacenter id rpd knows; did you mean \"EU-RO-1\"?\n")
        .run();
}

/// Apply never asks for a candidate the plan marked invalid: with an
/// unknown datacenter first, the one create goes to the valid one.
#[test]
fn apply_skips_candidates_the_plan_marked_invalid() {
    let world = World::new();
    world.edit(
        HELLO,
        "datacenters: [EU-RO-1, US-CA-2]",
        "datacenters: [EU-RO-9, US-CA-2]",
    );
    world
        .test()
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Creating on US-CA-2 / NVIDIA GeForce RTX 4090, $0.44/hr...\n")
        .stderr_lacks("EU-RO-9 / NVIDIA GeForce RTX 4090,")
        .run();
    assert_eq!(world.call_counts(&["create"]), [1]);
    assert_eq!(world.pods()[0]["datacenter_id"], "US-CA-2");
}

/// RunPod's `startSsh` only injects the account's registered keys: with none
/// registered a pod has no SSH and rpd would wait out the timeout on a
/// billing pod. The create carries `PUBLIC_KEY` = rpd's own public key,
/// then the account's keys (so console SSH keeps working), in a body the
/// spec accepts.
#[test]
fn a_create_carries_rpds_public_key_and_the_accounts_keys_as_public_key() {
    let desk = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDesk me@desk";
    for (account, expected) in [
        (vec![], USER_PUBLIC_KEY.to_string()),
        (
            vec![desk, USER_PUBLIC_KEY],
            format!("{USER_PUBLIC_KEY}\n{desk}"),
        ),
    ] {
        let world = World::new();
        let fake = FakeRestV2::start();
        fake.set_account_keys(&account);
        fake.set_ssh("127.0.0.1", common::closed_port(), "root");
        // The pod never answers here (no sshd): the create is what counts.
        world.edit(
            HELLO,
            "  max_runtime_minutes: 10\n",
            "  max_runtime_minutes: 10\n  ssh_ready_timeout_sec: 1\n",
        );
        world
            .on_rest_v2(&fake.url())
            .env("RPD_POLL_INTERVAL_MS", "50")
            .args(["apply", "-y", HELLO])
            .status(1)
            .stdout_has("hello: apply stopped.")
            .stderr_has("Deleting pod ")
            .run();
        assert_eq!(
            fake.create_envs(),
            [serde_json::json!({ "PUBLIC_KEY": expected })],
            "{account:?}"
        );
        assert_eq!(fake.calls("getSshKeys"), 1);
        assert!(fake.pods().is_empty(), "the unreachable pod was deleted");
        fake.assert_all_valid();
    }
}

/// The plan fails before anything is created when the private key or its
/// public half is missing, with the ssh-keygen command that makes it.
#[test]
fn a_missing_key_or_public_half_fails_the_plan_before_any_create() {
    let world = World::new();
    let fake = FakeRestV2::start();
    std::fs::remove_file(world.path("home/.ssh/id_ed25519.pub")).unwrap();
    let public_missing = "Error: the SSH key [TMP]/home/.ssh/id_ed25519 (ssh.key_path in examples/hello.yaml) has no public half: [TMP]/home/.ssh/id_ed25519.pub is missing and ssh-keygen could not derive it (a key with a passphrase?); write it with `ssh-keygen -y -f [TMP]/home/.ssh/id_ed25519 > [TMP]/home/.ssh/id_ed25519.pub` (rpd gives it to the pod as PUBLIC_KEY)\n";
    for command in [&["plan", HELLO][..], &["apply", "-y", HELLO]] {
        world
            .on_rest_v2(&fake.url())
            .args(command.iter().copied())
            .status(1)
            .stdout_has("rpd cannot carry out this plan (the errors say why):\n")
            .stdout_has(public_missing)
            .stderr(refused(command[0]))
            .run();
    }
    std::fs::remove_file(world.path("home/.ssh/id_ed25519")).unwrap();
    world
        .on_rest_v2(&fake.url())
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout_has("rpd cannot carry out this plan (the errors say why):\n")
        .stderr(refused("apply"))
        .stdout_has("Error: the SSH key [TMP]/home/.ssh/id_ed25519 (ssh.key_path in examples/hello.yaml) does not exist, so rpd could not reach a pod: create one with `ssh-keygen -t ed25519 -f [TMP]/home/.ssh/id_ed25519` (rpd gives the pod its public half; no need to register it with RunPod)\n")
        .run();
    assert_eq!(fake.calls("createPod"), 0);
    // A destroy needs no key; the simulator needs none either.
    world
        .on_rest_v2(&fake.url())
        .args(["destroy", "-y", HELLO])
        .stdout_has("No changes.")
        .run();
    world
        .test()
        .args(["plan", HELLO])
        .stdout_has("Plan: 1 to create")
        .run();
}

/// runpodctl gets the same `PUBLIC_KEY` through `--env` (it cannot list the
/// account's keys in a form rpd can read, so it is rpd's key alone).
#[test]
fn runpodctl_creates_carry_rpds_public_key_in_env() {
    let world = World::new();
    world.edit(
        HELLO,
        "  max_runtime_minutes: 10\n",
        "  max_runtime_minutes: 10\n  ssh_ready_timeout_sec: 1\n",
    );
    world
        .test()
        .envs(world.ctl_env())
        .env("FAKE_RUNPODCTL_SSH_PORT", common::closed_port().to_string())
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout_has("hello: apply stopped.")
        .stderr_has("hello: Deleting pod [POD]: its shell never answered\n")
        .run();
    let creates = world.invoked(&["pod", "create", "--name"]);
    assert_eq!(creates.len(), 1, "{creates:?}");
    let env = creates[0]
        .windows(2)
        .find(|w| w[0] == "--env")
        .map(|w| w[1].clone())
        .expect("--env");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&env).unwrap(),
        serde_json::json!({ "PUBLIC_KEY": USER_PUBLIC_KEY })
    );
}

/// RunPod's 404 is "not found or not accessible to the caller": with
/// another API key a recorded pod looks gone, and the next apply would
/// create a second pod while the first keeps billing. The state records a
/// fingerprint of the key (never the key); another key's 404 is refused.
#[test]
fn a_recorded_pod_that_another_api_key_cannot_see_is_refused_not_recreated() {
    let world = World::new();
    let fake = FakeRestV2::start();
    fake.add_account("someone-elses-key");
    let pod = fake.create_pod(&rpd::provider::CreatePodRequest {
        name: "hello-20261128T004051Z-2f4c4f".into(),
        image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
        gpu_id: "NVIDIA RTX A5000".into(),
        gpu_count: 1,
        datacenter_id: "EU-RO-1".into(),
        cloud_type: rpd::model::CloudType::Secure,
        container_disk_gb: 20,
        storage: rpd::model::Storage::Ephemeral {
            volume_gb: 20,
            mount: "/workspace".into(),
        },
        ports: vec!["22/tcp".into()],
        env: Default::default(),
        min_vcpu_count: None,
        min_memory_gb: None,
        spot: false,
    });
    let made_with = rpd::provider::api_key_fingerprint(fake::API_KEY);
    let other = rpd::provider::api_key_fingerprint("someone-elses-key");
    let config = std::fs::canonicalize(world.path(HELLO)).unwrap();
    let state = serde_json::json!({
        "format_version": 1,
        "lineage": "2f4c4f82-63f1-40d6-9582-826057ac2a40",
        "serial": 3,
        "owner": {"config": config, "job_name": "hello"},
        "api_key_fingerprint": made_with,
        "pod": {
            "id": pod.id,
            "name": pod.name,
            "spec": {"image": "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
                     "gpu_id": "NVIDIA RTX A5000", "gpu_count": 1, "datacenter_id": "EU-RO-1"},
            "status": "RUNNING",
            "provider": "runpod"
        }
    });
    let text = serde_json::to_string_pretty(&state).unwrap();
    world.write(HELLO_STATE, &text);
    let other_key = format!(
        "Error: [TMP]/examples/.rpd/hello.state.json was made with another RunPod API key ({made_with}; this one is {other}), and RunPod does not find pod [POD] with this key: its 404 means \"not found or not accessible to the caller\", so rpd will not take it for deleted (it may still be billing on the other key's account)\n  = help: use the API key the state was made with (RUNPOD_API_KEY or ~/.runpod/config.toml); if the pods really are gone, move [TMP]/examples/.rpd/hello.state.json away and plan again\n"
    );
    for command in [
        &["plan", HELLO][..],
        &["apply", "-y", HELLO],
        &["destroy", "-y", HELLO],
    ] {
        world
            .on_rest_v2(&fake.url())
            .env("RUNPOD_API_KEY", "someone-elses-key")
            .args(command.iter().copied())
            .status(1)
            .stdout_has("rpd cannot carry out this plan (the errors say why):\n")
            .stdout_lacks("has been deleted")
            .stdout_has(&other_key)
            .stderr(refused(command[0]))
            .run();
    }
    assert_eq!(fake.calls("createPod"), 0, "no second pod");
    assert_eq!(fake.calls("deletePod"), 0, "nothing forgotten or deleted");
    assert_eq!(world.read(HELLO_STATE), text, "the state is untouched");
    // With the key the state was made with, the pod is there as ever.
    world
        .on_rest_v2(&fake.url())
        .args(["plan", HELLO])
        .stdout_has("is already RUNNING; the job runs on it")
        .run();
}

/// A COMMUNITY pod whose machine has no public IP runs with SSH through
/// RunPod's proxy only, which rsync cannot use. After the grace
/// (`RPD_DIRECT_SSH_GRACE`) the pod this run created is deleted and the
/// next candidate tried; the plan says this can happen.
#[test]
fn a_community_pod_without_direct_ssh_is_deleted_after_the_grace_and_the_next_candidate_tried() {
    let world = World::new();
    let Some(sshd) = common::sshd::Sshd::start() else {
        return;
    };
    let fake = FakeRestV2::start();
    fake.set_ssh("127.0.0.1", sshd.port, &sshd.user);
    fake.set_community_without_public_ip(true);
    // Its image pulls first (RUNNING, the proxy, no runtime): the grace
    // counts only once the runtime shows its ports without a public 22.
    fake.set_pull_reads(25);
    world.hello_over_ssh(&sshd);
    world.edit(HELLO, "cloud_type: SECURE", "cloud_type: COMMUNITY");
    let run = || {
        world
            .on_rest_v2(&fake.url())
            .env("RPD_POLL_INTERVAL_MS", "50")
            .env("RPD_DIRECT_SSH_GRACE", "1s")
    };
    run()
        .args(["plan", "--fallback-cloud-type", "SECURE", HELLO])
        .stdout_has("Note: COMMUNITY machines without a public IP give a pod SSH only through RunPod's proxy, which rsync cannot use: a pod this apply creates there that runs 1s without direct SSH is deleted and the next candidate tried (--direct-ssh-grace)\n")
        .run();
    run()
        .args(["apply", "-y", "--fallback-cloud-type", "SECURE", HELLO])
        .stdout_has("hello: apply complete! Pods: 2 created, 0 resumed, 1 destroyed, 1 stopped.")
        .stderr_has("hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090, $0.31/hr...\n")
        .stderr_has("Deleting pod [POD]: it has SSH only through RunPod's proxy (no public IP), which rsync cannot use\n")
        .stderr_has("hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090 (SECURE), $0.44/hr...\n")
        .run();
    let pods = fake.pods();
    assert_eq!(pods.len(), 1, "the proxy-only pod is gone");
    assert_eq!(pods[0].cloud_type, rpd::model::CloudType::Secure);
    assert_eq!((fake.calls("createPod"), fake.calls("deletePod")), (2, 1));
    // Every state write records which key made the pods (a hash).
    let state = world.state(HELLO_STATE).expect("state");
    assert_eq!(
        state["api_key_fingerprint"],
        rpd::provider::api_key_fingerprint(fake::API_KEY).as_str()
    );
    fake.assert_all_valid();
}

/// A new pod reads RUNNING with RunPod's SSH proxy only (no `ssh.direct`,
/// no runtime) for as long as its image pulls: minutes for a big image.
/// That pod is starting, not on a machine without a public IP: it is
/// waited for within the readiness timeout and never deleted for lacking
/// direct SSH (deleting it would start the pull again on the next
/// candidate, and the next, each one billing).
#[test]
fn a_secure_pod_still_pulling_its_image_is_waited_for_never_deleted() {
    let world = World::new();
    let Some(sshd) = common::sshd::Sshd::start() else {
        return;
    };
    let fake = FakeRestV2::start();
    fake.set_ssh("127.0.0.1", sshd.port, &sshd.user);
    fake.set_pull_reads(25);
    world.hello_over_ssh(&sshd);
    world
        .on_rest_v2(&fake.url())
        .env("RPD_POLL_INTERVAL_MS", "100")
        // 25 reads 100 ms apart outlast the grace.
        .env("RPD_DIRECT_SSH_GRACE", "1s")
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_lacks("Deleting pod")
        .run();
    assert_eq!((fake.calls("createPod"), fake.calls("deletePod")), (1, 0));
    assert!(
        fake.calls("getPod") >= 25,
        "the whole pull was read: {:?}",
        fake.all_calls()
    );
    fake.assert_all_valid();
}

/// With no candidate left, the proxy-only pod is still deleted (it bills)
/// and apply says why.
#[test]
fn a_proxy_only_pod_with_no_candidate_left_is_deleted_and_the_reason_said() {
    let world = World::new();
    let fake = FakeRestV2::start();
    fake.set_community_without_public_ip(true);
    world.edit(HELLO, "cloud_type: SECURE", "cloud_type: COMMUNITY");
    world.edit(
        HELLO,
        "datacenters: [EU-RO-1, US-CA-2]",
        "datacenters: [EU-RO-1]",
    );
    world.edit(
        HELLO,
        r#"gpu_order: ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"]"#,
        r#"gpu_order: ["NVIDIA GeForce RTX 4090"]"#,
    );
    world
        .on_rest_v2(&fake.url())
        .env("RPD_POLL_INTERVAL_MS", "50")
        .env("RPD_DIRECT_SSH_GRACE", "1s")
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout_has("hello: apply stopped. Pods: 1 created, 0 resumed, 1 destroyed, 0 stopped.")
        .stderr_has("error: hello: pod [POD] ran for 1s with SSH only through RunPod's proxy, which rsync cannot use: its machine gives no direct SSH (a COMMUNITY machine without a public IP?)\n")
        .run();
    assert!(fake.pods().is_empty(), "deleted, not left billing");
    assert_eq!((fake.calls("createPod"), fake.calls("deletePod")), (1, 1));
}

/// A pod of the fake's main account (key `test`), stopped, named for a
/// state of lineage 2f4c4f...; and another account's key the fake accepts.
const OTHER_KEY: &str = "someone-elses-key";

fn stopped_pod_of_the_main_account(fake: &FakeRestV2, name: &str) -> String {
    let pod = fake.create_pod(&rpd::provider::CreatePodRequest {
        name: name.into(),
        image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
        gpu_id: "NVIDIA RTX A5000".into(),
        gpu_count: 1,
        datacenter_id: "EU-RO-1".into(),
        cloud_type: rpd::model::CloudType::Secure,
        container_disk_gb: 20,
        storage: rpd::model::Storage::Ephemeral {
            volume_gb: 20,
            mount: "/workspace".into(),
        },
        ports: vec!["22/tcp".into()],
        env: Default::default(),
        min_vcpu_count: None,
        min_memory_gb: None,
        spot: false,
    });
    fake.with_world(|w, s| w.stop(s, &pod.id)).unwrap();
    pod.id
}

/// Writes `config`'s state (`state`) tracking `pod`, stopped, as made on
/// RunPod with the fake's main key.
fn state_tracking(world: &World, config: &str, state: &str, pod: &str, name: &str, lineage: &str) {
    let path = std::fs::canonicalize(world.path(config)).unwrap();
    let job = config
        .trim_start_matches("examples/")
        .trim_end_matches(".yaml");
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "format_version": 1,
        "lineage": lineage,
        "serial": 3,
        "owner": {"config": path, "job_name": job},
        "api_key_fingerprint": rpd::provider::api_key_fingerprint(fake::API_KEY),
        "pod": {
            "id": pod,
            "name": name,
            "spec": {"image": "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
                     "gpu_id": "NVIDIA RTX A5000", "gpu_count": 1, "datacenter_id": "EU-RO-1"},
            "status": "EXITED",
            "status_since": "2026-10-01T00:00:00Z",
            "provider": "runpod"
        }
    }))
    .unwrap();
    world.write(state, &text);
}

/// Issue 19 (9): `plan` refuses another key's 404, but `refresh`, `cleanup`
/// and `status` took it for "deleted": under another key they forgot a live
/// pod (which billed on with no state) and `status` showed $0.
#[test]
fn refresh_cleanup_and_status_under_another_key_never_take_a_404_for_deleted() {
    let world = World::new();
    let fake = FakeRestV2::start();
    fake.add_account(OTHER_KEY);
    let name = "hello-20261128T004051Z-2f4c4f";
    let pod = stopped_pod_of_the_main_account(&fake, name);
    state_tracking(
        &world,
        HELLO,
        HELLO_STATE,
        &pod,
        name,
        "2f4c4f82-63f1-40d6-9582-826057ac2a40",
    );
    world
        .on_rest_v2(&fake.url())
        .args(["refresh", HELLO])
        .stdout("examples/hello.yaml: no changes; the state matches the provider.\n")
        .run();
    let before = world.read(HELLO_STATE);
    let other_key = "was made with another RunPod API key";
    for args in [
        &["refresh", HELLO][..],
        &["cleanup", "--all-stopped", "-y"],
        &["cleanup", "--state-file", HELLO_STATE, "-y"],
    ] {
        world
            .on_rest_v2(&fake.url())
            .env("RUNPOD_API_KEY", OTHER_KEY)
            .args(args.iter().copied())
            .known(&pod, "[POD]")
            .status(1)
            .stdout_lacks("has been deleted")
            .stdout_lacks("forget pod")
            .stderr_has(other_key)
            .run();
        assert_eq!(
            world.read(HELLO_STATE),
            before,
            "{args:?}: the state is untouched"
        );
    }
    world
        .on_rest_v2(&fake.url())
        .env("RUNPOD_API_KEY", OTHER_KEY)
        .args(["status"])
        .known(&pod, "[POD]")
        .status(1)
        .stdout_has("not visible with this key")
        .stdout_lacks(" gone ")
        .stderr_has(other_key)
        .run();
    assert_eq!(fake.calls("deletePod"), 0);
    assert!(fake.pod(&pod).is_some(), "the pod is there");
}

/// Issue 19 (9): `rpd import` recorded no key fingerprint, so a later
/// apply under another key took the imported pod's 404 for "deleted".
#[test]
fn an_import_records_the_key_that_sees_the_pod() {
    let world = World::new();
    let fake = FakeRestV2::start();
    fake.add_account(OTHER_KEY);
    let pod = stopped_pod_of_the_main_account(&fake, "made-in-the-console");
    world
        .on_rest_v2(&fake.url())
        .args(["import", HELLO, &pod])
        .known(&pod, "[POD]")
        .stdout_has("Imported pod [POD]")
        .run();
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(
        state["api_key_fingerprint"],
        rpd::provider::api_key_fingerprint(fake::API_KEY)
    );
    world
        .on_rest_v2(&fake.url())
        .env("RUNPOD_API_KEY", OTHER_KEY)
        .args(["plan", HELLO])
        .known(&pod, "[POD]")
        .status(1)
        .stdout_has("was made with another RunPod API key")
        .run();
}

/// Issue 19 (10): configs applied with different providers were looked at
/// with one: a pod of a config applied on RunPod, looked up on the
/// simulator, was "gone", and cleanup forgot it.
#[test]
fn each_config_is_looked_at_with_the_provider_it_was_applied_with() {
    let world = World::new();
    let fake = FakeRestV2::start();
    // hello on the simulator.
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let on_sim = world.pod_ids()[0].clone();
    // other on RunPod.
    let other = "examples/other.yaml";
    let other_state = "examples/.rpd/other.state.json";
    world.write(
        other,
        &world.read(HELLO).replace("name: hello", "name: other"),
    );
    let name = "other-20261128T004051Z-7a7a7a";
    let on_runpod = stopped_pod_of_the_main_account(&fake, name);
    state_tracking(
        &world,
        other,
        other_state,
        &on_runpod,
        name,
        "7a7a7a82-63f1-40d6-9582-826057ac2a40",
    );
    world
        .on_rest_v2(&fake.url())
        .args(["refresh", other])
        .stdout("examples/other.yaml: no changes; the state matches the provider.\n")
        .run();
    // No provider named: each with its own.
    world
        .on_rest_v2(&fake.url())
        .env_remove("RPD_PROVIDER")
        .args(["status"])
        .known(&on_sim, "[SIM]")
        .known(&on_runpod, "[RUNPOD]")
        .stdout_has("examples/hello.yaml  [SIM]")
        .stdout_has("examples/other.yaml  [RUNPOD]")
        .stdout_lacks("gone")
        .run();
    // The simulator named: other's pod is still looked at on RunPod.
    for provider in ["sim", "runpod"] {
        world
            .on_rest_v2(&fake.url())
            .args([
                "cleanup",
                "--all-stopped",
                "--dry-run",
                "--provider",
                provider,
            ])
            .known(&on_sim, "[SIM]")
            .known(&on_runpod, "[RUNPOD]")
            .stdout_has("delete pod [SIM]")
            .stdout_has("delete pod [RUNPOD]")
            .stdout_lacks("already deleted")
            .stderr_lacks("error:")
            .run();
    }
    world
        .on_rest_v2(&fake.url())
        .env_remove("RPD_PROVIDER")
        .args(["cleanup", "--all-stopped", "-y"])
        .known(&on_sim, "[SIM]")
        .known(&on_runpod, "[RUNPOD]")
        .stdout_has("Cleanup complete! Pods: 2 destroyed")
        .stderr_has("Destroying pod [SIM]")
        .stderr_has("Destroying pod [RUNPOD]")
        .run();
    assert!(world.pod_ids().is_empty());
    assert!(fake.pod(&on_runpod).is_none());
    assert!(world.state(other_state).unwrap().get("pod").is_none());
}
