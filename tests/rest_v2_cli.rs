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

use common::hello::{
    CREATE_PLAN, HELLO, HELLO_STATE, RESUME_PLAN, create_plan_with_candidates, deleted_plan,
};
use common::sshd::Sshd;
use common::{Test, World, edited, unindent};
use fake::FakeRestV2;
use rpd::model::{CloudType, PodStatus, Storage};
use rpd::provider::CreatePodRequest;
const RTX4090: &str = "NVIDIA GeForce RTX 4090";
const A5000: &str = "NVIDIA RTX A5000";
const HELLO_IMAGE: &str = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404";

/// rpd as a RunPod user runs it, pointed at the fake, as a step of a test.
fn runpod<'w>(world: &'w World, fake: &FakeRestV2) -> Test<'w> {
    world
        .test()
        .env("RPD_PROVIDER", "runpod")
        .env("RUNPOD_API_KEY", fake::API_KEY)
        .env("RPD_RUNPOD_API_URL", fake.url())
        .env("RPD_POLL_INTERVAL_MS", "50")
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
fn a_plan_creates_on_catalog_candidates_with_prices_and_changes_nothing() {
    let world = World::new();
    let fake = FakeRestV2::start();
    runpod(&world, &fake)
        .args(["plan", "--detailed-exitcode", HELLO])
        .status(2)
        .stdout(CREATE_PLAN)
        .run();
    assert_eq!(fake.calls("listGpuTypes"), 1);
    assert_eq!(fake.calls("createPod"), 0, "plan changes nothing");
    assert!(fake.pods().is_empty());
    assert!(world.state(HELLO_STATE).is_none());
    fake.assert_all_valid();
}

#[test]
fn a_plan_skips_a_candidate_out_of_stock() {
    let world = World::new();
    let fake = FakeRestV2::start();
    fake.set_stock("EU-RO-1", RTX4090, 0);
    fake.set_stock("US-CA-2", RTX4090, 2);
    runpod(&world, &fake)
        .args(["plan", HELLO])
        .stdout(&edited(
            &edited(
                &create_plan_with_candidates(
                    "
                         1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock none, skipped
                         2. EU-RO-1 / NVIDIA RTX A5000             $0.27/hr  stock high
                         3. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  stock low
                         4. US-CA-2 / NVIDIA RTX A5000             $0.27/hr  stock high
                        ",
                ),
                r#"gpu               = "NVIDIA GeForce RTX 4090""#,
                r#"gpu               = "NVIDIA RTX A5000""#,
            ),
            "Cost: $0.44/hr",
            "Cost: $0.27/hr",
        ))
        .run();
}

#[test]
fn a_plan_resumes_a_recycled_pod_and_destroy_deletes_it() {
    let world = World::new();
    let fake = FakeRestV2::start();
    let id = recycled_pod(&world, &fake);
    runpod(&world, &fake)
        .args(["plan", "--detailed-exitcode", HELLO])
        .known(&id, "[PAUSED]")
        // Resuming an up-to-date recycled pod is the routine run.
        .status(0)
        // The recycled pod is an RTX A5000; RunPod says nothing of when it
        // stopped, and this state (written by the test) neither.
        .stdout(&edited(
            &edited(
                &unindent(RESUME_PLAN),
                "Cost: $0.44/hr",
                "Cost: $0.27/hr",
            ),
            "Note: pod [PAUSED] was last used less than a day ago (paused since [DATE]); its volume bills $0.13/day ($4.00/month) while it is paused\n",
            "",
        ))
        .run();
    assert_eq!(fake.calls("getPod"), 1);

    runpod(&world, &fake)
        .args(["destroy", "-y", HELLO])
        .known(&id, "[PAUSED]")
        .stdout(
            r#"
            rpd destroy plan for examples/hello.yaml (job "hello")

            rpd will perform the following actions:

              # pod "hello" ([PAUSED]) will be destroyed
              # (because destroy requested)
              - pod "hello" {
                  - image             = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404"
                  - gpu               = "NVIDIA RTX A5000"
                  - gpu_count         = 1
                  - datacenter        = "EU-RO-1"
                  - cloud_type        = "SECURE"
                  - container_disk_gb = 20
                  - storage_mode      = "ephemeral"
                  - volume_gb         = 20
                  - volume_mount      = "/workspace"
                  - ports             = ["22/tcp"]
                }

              Steps:
                1. delete pod [PAUSED] (destroy requested)
                2. remove the state file (nothing left to track)

              State only (no provider calls):
                · remove the state file

            Plan: 0 to create, 0 to resume, 1 to destroy, 0 to stop.


            hello: destroy complete! Pods: 1 destroyed.
            "#,
        )
        .stderr(
            "
            hello: Destroying pod [PAUSED]...
            hello: Destruction complete after [ELAPSED] [id=[PAUSED]]
            hello: Removed the state file [TMP]/examples/.rpd/hello.state.json (its last version is kept as [TMP]/examples/.rpd/hello.state.json.backup)
            ",
        )
        .run();
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
    runpod(&world, &fake)
        .args(["plan", HELLO])
        .known(&id, "[GONE]")
        .stdout(&deleted_plan())
        .run();
}

#[test]
fn a_failing_read_is_an_error_never_a_missing_pod() {
    let world = World::new();
    let fake = FakeRestV2::start();
    let id = recycled_pod(&world, &fake);
    fake.fail_next("getPod", 500, 3, None);
    runpod(&world, &fake)
        .args(["plan", HELLO])
        .known(&id, "[PAUSED]")
        .status(1)
        .stderr(
            "
            error: planning examples/hello.yaml
              caused by: reading pod [PAUSED]
              caused by: transient provider error: GET /v2/pods/[PAUSED]: HTTP 500: Something went wrong. Please try again later or contact support.
            ",
        )
        .run();
    assert_eq!(fake.calls("getPod"), 3, "retried, then reported");
}

#[test]
fn the_tour_create_recycle_resume_update_replace_destroy_over_rest_v2() {
    let world = World::new();
    let Some((fake, _sshd)) = over_ssh(&world) else {
        return;
    };

    // The job runs over a real sshd: its progress on stderr varies.
    runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped. Job succeeded in [ELAPSED].\n")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    let pods = fake.pods();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0].status, PodStatus::Exited, "recycled");
    let first = pods[0].id.clone();
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        // RUNPOD_POD_ID is set by RunPod; the test's sshd has none.
        "run 1 of hello on pod unknown\n"
    );

    runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .known(&first, "[PAUSED]")
        .stdout_has("  # pod \"hello\" ([PAUSED]) will be resumed (EXITED -> RUNNING)\n")
        .stdout_has("hello: apply complete! Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    assert_eq!(fake.calls("createPod"), 1, "the resume did not create");
    assert_eq!(fake.calls("podAction:start"), 1);
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        "run 2 of hello on pod unknown\n",
        "the volume survived the stop"
    );

    // An image bump changes the recycled pod in place: a PATCH, no create.
    world.edit(HELLO, "torch280", "torch291");
    runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .known(&first, "[PAUSED]")
        .stdout_has("  # pod \"hello\" ([PAUSED]) will be updated in place, then resumed (EXITED -> RUNNING)\n")
        .stdout_has("hello: apply complete! Pods: 0 created, 1 updated in place, 1 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Updating pod [PAUSED] in place (image)...\n")
        .stderr_has("hello: setup[0] done after [ELAPSED]\n")
        .run();
    assert_eq!(fake.calls("updatePod"), 1);
    assert_eq!(fake.calls("createPod"), 1, "the update did not create");
    assert_eq!(fake.pods()[0].id, first);
    assert_eq!(
        fake.pods()[0].image,
        "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404"
    );
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        "run 3 of hello on pod unknown\n",
        "the volume survived the update"
    );

    // A GPU type the pod is not on still replaces it.
    world.edit(
        HELLO,
        r#"gpu_order: ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"]"#,
        r#"gpu_order: ["NVIDIA RTX A5000"]"#,
    );
    runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .known(&first, "[OLD]")
        .stdout_has("  # (because gpu cannot change on an existing pod)\n")
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    runpod(&world, &fake)
        .args(["apply", "-y", "--replace", HELLO])
        .stdout_has("  # pod \"hello\" will be replaced, as requested\n")
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    assert_eq!(fake.calls("createPod"), 3);
    assert_eq!(fake.calls("deletePod"), 2);
    assert_eq!(fake.pods().len(), 1);

    runpod(&world, &fake)
        .args(["destroy", "-y", HELLO])
        .stdout_has("\nhello: destroy complete! Pods: 1 destroyed.\n")
        .stderr_has("hello: Removed the state file [TMP]/examples/.rpd/hello.state.json (its last version is kept as [TMP]/examples/.rpd/hello.state.json.backup)\n")
        .run();
    assert!(fake.pods().is_empty());
    assert!(world.state(HELLO_STATE).is_none());
    fake.assert_all_valid();
}

#[test]
fn a_pod_whose_shell_never_answers_is_deleted() {
    let world = World::new();
    // Running pods point at a port nobody listens on.
    let port = common::closed_port();
    let fake = FakeRestV2::start();
    fake.set_ssh("127.0.0.1", port, "root");
    world.edit(
        HELLO,
        "  max_runtime_minutes: 10\n",
        "  max_runtime_minutes: 10\n  ssh_ready_timeout_sec: 2\n",
    );
    runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .status(1)
        .known(&port.to_string(), "[PORT]")
        .stdout_has("\nhello: apply stopped. Pods: 1 created, 0 resumed, 1 destroyed, 0 stopped.\n")
        .stderr(
            "
            hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090, $0.44/hr...
            hello: Creation complete after [ELAPSED] [id=[POD]]
            hello: Waiting for pod [POD] to be ready...
            hello: Pod [POD] is running after [ELAPSED] [EU-RO-1 / RTX 4090, $0.44/hr]
            hello: Connecting to pod [POD]...
            hello: Deleting pod [POD]: its shell never answered
            hello: Destroying pod [POD]...
            hello: Destruction complete after [ELAPSED] [id=[POD]]
            error: hello: pod [POD] runs but its shell never answered within budget.ssh_ready_timeout_sec (2s): ssh to 127.0.0.1:[PORT] failed: ssh: connect to host 127.0.0.1 port [PORT]: Connection refused
            ",
        )
        .run();
    assert!(fake.pods().is_empty());
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
    runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_has(concat!(
            "hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090, $0.44/hr...\n",
            "hello: the create answered with an error (transient provider error: POST /v2/pods: HTTP 500: Something went wrong. Please try again later or contact support.), but pod [POD] exists under our name: using it\n",
            "hello: Creation complete after [ELAPSED] [id=[POD]]\n",
        ))
        .run();
    let pods = fake.pods();
    assert_eq!(pods.len(), 1);
    assert_eq!(fake.calls("createPod"), 1, "never re-sent");
    assert!(fake.calls("listPods") >= 1, "looked up by name");
    assert_eq!(pods[0].status, PodStatus::Exited);
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
    runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_has(concat!(
            "hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090, $0.44/hr...\n",
            "hello: EU-RO-1 / NVIDIA GeForce RTX 4090: invalid request: POST /v2/pods: HTTP 403: access denied (no access to this GPU pool; if every candidate says so, the API key may lack write access)\n",
            "hello: Creating on EU-RO-1 / NVIDIA RTX A5000, $0.27/hr...\n",
            "hello: EU-RO-1 / NVIDIA RTX A5000: no capacity: There are no longer any instances available with the requested specifications. Please refresh and try again.\n",
            "hello: Creating on US-CA-2 / NVIDIA GeForce RTX 4090, $0.44/hr...\n",
        ))
        .run();
    let pods = fake.pods();
    assert_eq!(pods.len(), 1);
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
    runpod(&world, &fake)
        .args(["apply", "-y", "--on-busy-host", "recreate", HELLO])
        .known(&old, "[PAUSED]")
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.")
        .stderr_has(concat!(
            "hello: Resuming paused pod [PAUSED]...\n",
            "hello: Cannot resume [PAUSED]: There are not enough free GPUs on the host machine to start this pod.\n",
            "hello: Replacing pod [PAUSED]: its host has no free GPU (its volume is lost)\n",
            "hello: Destroying pod [PAUSED]...\n",
            "hello: Destruction complete after [ELAPSED] [id=[PAUSED]]\n",
            "hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090, $0.44/hr...\n",
        ))
        .run();
    let pods = fake.pods();
    assert_eq!(pods.len(), 1);
    assert_ne!(pods[0].id, old, "the pinned pod was deleted");
    assert_eq!(fake.calls("podAction:start"), 1);
    assert_eq!(fake.calls("deletePod"), 1);
    assert_eq!(fake.calls("createPod"), 1);
    fake.assert_all_valid();
}

#[test]
fn a_missing_api_key_says_how_to_set_one() {
    let world = World::new();
    world
        .test()
        .env("RPD_PROVIDER", "runpod")
        .env("RPD_RUNPOD_API_URL", "http://127.0.0.1:9")
        .args(["plan", HELLO])
        .status(1)
        .stderr(
            r#"
            error: no RunPod API key: RUNPOD_API_KEY is not set and [TMP]/home/.runpod/config.toml has no `apikey`
              = help: create a key in the RunPod console (Settings → API Keys), then either `export RUNPOD_API_KEY=<key>` or run `runpodctl doctor`, which saves it as `apikey = "<key>"` in [TMP]/home/.runpod/config.toml
              = help: to try rpd without an account, use --provider sim
            "#,
        )
        .run();
}

#[test]
fn a_bad_poll_interval_is_named() {
    let world = World::new();
    world
        .test()
        .env("RPD_PROVIDER", "runpod")
        .env("RUNPOD_API_KEY", "test")
        .env("RPD_POLL_INTERVAL_MS", "fast")
        .args(["plan", HELLO])
        .status(1)
        .stderr(
            "error: RPD_POLL_INTERVAL_MS=\"fast\" is not a positive number of milliseconds\n  = help: unset it (or set it empty) for the default, 2000\n",
        )
        .run();
}

/// `runpodctl doctor` saves the key through viper, which lowercases it
/// (`apikey`); a file written by hand may say `apiKey`.
#[test]
fn the_key_can_come_from_runpodctls_config_file_in_either_spelling() {
    for spelling in ["apikey", "apiKey"] {
        let world = World::new();
        let fake = FakeRestV2::start();
        world
            .test()
            .file(
                "home/.runpod/config.toml",
                &format!("{spelling} = \"test\"\n"),
            )
            .env("RPD_PROVIDER", "runpod")
            .env("RPD_RUNPOD_API_URL", fake.url())
            .args(["plan", HELLO])
            .stdout(CREATE_PLAN)
            .run();
        assert_eq!(
            fake.requests()[0].authorization.as_deref(),
            Some("Bearer test"),
            "{spelling}"
        );
    }
}

#[test]
fn a_rejected_key_is_an_authentication_error() {
    let world = World::new();
    let fake = FakeRestV2::start();
    runpod(&world, &fake)
        .env("RUNPOD_API_KEY", "revoked")
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout_has(concat!(
            "Warning: could not read the catalog (stock and prices unknown): authentication failed: GET /v2/catalog/gpus: HTTP 401: invalid bearer token\n",
            "  = help: check the API key in RUNPOD_API_KEY or ~/.runpod/config.toml\n",
        ))
        .stdout_has("\nhello: apply stopped. Pods: 0 created, 0 resumed, 0 destroyed, 0 stopped.\n")
        .stderr(
            "
            hello: Warning: the pod gets only rpd's key [TMP]/home/.ssh/id_ed25519.pub: the account's registered SSH keys could not be read: authentication failed: GET /v2/account/ssh-keys: HTTP 401: invalid bearer token
              = help: check the API key in RUNPOD_API_KEY or ~/.runpod/config.toml
            hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090...
            error: hello: creating the pod: authentication failed: POST /v2/pods: HTTP 401: invalid bearer token
              = help: check the API key in RUNPOD_API_KEY or ~/.runpod/config.toml
            ",
        )
        .run();
    assert!(fake.pods().is_empty());
}

#[test]
fn a_lost_create_that_cannot_be_checked_stops_rather_than_create_twice() {
    let world = World::new();
    let fake = FakeRestV2::start();
    fake.lose_next_create();
    fake.fail_next("listPods", 500, 20, None);
    let ran = runpod(&world, &fake)
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout_has("\nhello: apply stopped. Pods: 0 created, 0 resumed, 0 destroyed, 0 stopped.\n")
        .stderr_has("hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090, $0.44/hr...\n")
        .stderr_has("error: hello: creating the pod on EU-RO-1 / NVIDIA GeForce RTX 4090 failed ambiguously (transient provider error: POST /v2/pods: HTTP 500: Something went wrong. Please try again later or contact support.) and the pods could not be listed to check (transient provider error: GET /v2/pods: HTTP 500: Something went wrong. Please try again later or contact support.); rpd stopped so as not to create a second pod.")
        .run();
    assert_eq!(fake.calls("createPod"), 1, "no second create");
    let state = world.state(HELLO_STATE).expect("state");
    let name = state["pending_create"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("the name is kept: {state}"));
    assert!(
        ran.stderr().ends_with(&format!(
            "Run `rpd apply` again: it looks for a pod named \"{name}\" first and adopts it\n"
        )),
        "{}",
        ran.stderr()
    );
    // Once listing works again, the next plan finds and adopts the pod.
    fake.clear_failures("listPods");
    let id = fake.pods()[0].id.clone();
    fake.wait_for_status(&id, PodStatus::Running);
    runpod(&world, &fake)
        .args(["plan", HELLO])
        .known(&id, "[FOUND]")
        .known(name, "[NAME]")
        .stdout(
            r#"
            rpd plan for examples/hello.yaml (job "hello")

            rpd will perform the following actions:

              # pod "hello" ([FOUND]) is already RUNNING; the job runs on it

              Steps:
                 1. record pod [FOUND] in the state (found by the name "[NAME]" of an interrupted create)
                 2. use running pod [FOUND] ([FOUND] is already running)
                 3. wait until the pod runs and its shell answers (up to 15m00s)
                 4. setup: 1 command
                 5. staging: 1 push (incremental)
                 6. launch /workspace/hello/run.sh, detached
                 7. follow the job until it exits or prints a marker (timeout 10m00s)
                 8. pull the log and 1 artifact
                 9. if the job succeeds: recycle (stop the pod) (kept to resume next time)
                10. if the job fails: stop the pod (kept for forensics; the next apply creates a fresh pod)

            Warning: a create of pod "[NAME]" was interrupted at [DATE] [TIME] UTC; the provider has it as [FOUND]: rpd adopts it
            Note: the pod stops itself at about [DATE] [TIME] UTC (max runtime, counted from the job's start) or 10 minutes after the job ends if rpd is not attached (rpd's guard on the pod; lifecycle.unattended_stop_after_sec)

              State only (no provider calls):
                · record pod [FOUND] from the interrupted create

            Plan: 0 to create, 0 to resume, 0 to destroy, 1 to stop.
            Cost: $0.44/hr while running; $4.00/month ($0.13/day) while paused for reuse (20 GB volume).
            "#,
        )
        .run();
}

/// The recorded billing answer, with its pods renamed: `x7k2m4n6p8q1r3`
/// (4 hours: 2 running, 2 paused) becomes `current`, `a5b6c7d8e9f0g1` (1
/// hour running) `earlier`; `q9w8e7r6t5y4u3` stays someone else's.
fn recorded_bills(current: &str, earlier: &str) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(common::repo_root().join("fixtures/rest_v2/billing_pods.json"))
            .unwrap()
            .replace("x7k2m4n6p8q1r3", current)
            .replace("a5b6c7d8e9f0g1", earlier);
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    answer["records"].as_array().unwrap().clone()
}

#[test]
fn cost_sums_runpods_bills_for_every_pod_the_state_ever_tracked() {
    let world = World::new();
    let fake = FakeRestV2::start();
    let id = recycled_pod(&world, &fake);
    // The state also remembers an earlier pod of this config.
    let mut state = world.state(HELLO_STATE).unwrap();
    state["pod_history"] = serde_json::json!([
        {"id": "a5b6c7d8e9f0g1", "first_recorded": "2026-11-18T14:00:00Z"},
        {"id": id, "first_recorded": "2026-11-20T09:00:00Z"},
    ]);
    world.write(HELLO_STATE, &serde_json::to_string_pretty(&state).unwrap());
    fake.set_bills(recorded_bills(&id, "a5b6c7d8e9f0g1"));
    // By hand: compute 0.44 + 0.22 + 0.44 = 1.10; disk in hours that ran
    // 3 x 0.0097 = 0.0291; disk in paused hours 2 x 0.0139 = 0.0278;
    // RunPod's totals 0.4497 + 0.2297 + 0.0139 + 0.0139 + 0.4497 = 1.1569.
    // The third pod's $1.4039 is another config's.
    runpod(&world, &fake)
        .args(["cost", HELLO, "--since", "400d"])
        .stdout(
            "
            CONFIG               PODS  COMPUTE  STORAGE RUNNING  STORAGE PAUSED  TOTAL  SOURCE
            examples/hello.yaml  2     $1.10    $0.03            $0.03           $1.16  RunPod billing

            Total since [SINCE]: $1.16.
            ",
        )
        .known(
            &(chrono::Utc::now() - chrono::Duration::days(400))
                .format("%Y-%m-%d")
                .to_string(),
            "[SINCE]",
        )
        .run();
    let url = fake.url();
    let json = world
        .rpd_env(
            &["cost", HELLO, "--since", "400d", "--json"],
            &[
                ("RPD_PROVIDER", "runpod"),
                ("RUNPOD_API_KEY", fake::API_KEY),
                ("RPD_RUNPOD_API_URL", &url),
            ],
        )
        .status(0)
        .json();
    let spend = &json["configs"][0]["spend"];
    let close = |key: &str, want: f64| {
        let got = spend[key].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{key}: {got} != {want}");
    };
    close("compute_usd", 1.10);
    close("storage_running_usd", 0.0291);
    close("storage_paused_usd", 0.0278);
    close("total_usd", 1.1569);
    assert_eq!(fake.calls("listPodBilling"), 4, "one query per pod, twice");
    fake.assert_all_valid();
}

#[test]
fn cleanup_of_a_state_file_deletes_its_pod_on_runpod_and_ls_stale_all_lists_it_first() {
    let world = World::new();
    let fake = FakeRestV2::start();
    let id = recycled_pod(&world, &fake);
    // No registry entry and a name rpd no longer gives: not rpd's by
    // name, listed only with --all.
    runpod(&world, &fake)
        .args(["ls-stale", "--all"])
        .known(&id, "[PAUSED]")
        .stdout(
            "
            POD             NAME                    VOLUME  DAYS STOPPED  $/DAY  $/MONTH  OWNER
            [PAUSED]  hello-[STAMP]  20 GB   unknown       $0.13  $4.00    not rpd's

            Stopped: 1 pod, 20 GB of volume: $0.13/day, $4.00/month (volume disk bills $0.20/GB a month while stopped).
            ",
        )
        .run();
    runpod(&world, &fake)
        .args(["cleanup", "--state-file", HELLO_STATE, "-y"])
        .known(&id, "[PAUSED]")
        .stdout(
            "
            rpd cleanup plan for examples/.rpd/hello.state.json

            rpd will perform the following actions:

              Steps:
                1. delete pod [PAUSED] (\"hello-[STAMP]\", stopped since an unknown time, 20 GB volume ($0.13/day); tracked by [TMP]/examples/hello.yaml)

              State only (no provider calls):
                · forget pod [PAUSED] in [TMP]/examples/.rpd/hello.state.json

            Plan: 0 to create, 0 to resume, 1 to destroy, 0 to stop.
            Cost: frees $4.00/month ($0.13/day) of volume storage billed while stopped.

            Cleanup complete! Pods: 1 destroyed, 0 stopped, 0 forgotten (already gone).
            ",
        )
        .stderr(
            "
            cleanup: Destroying pod [PAUSED]...
            cleanup: Destruction complete after [ELAPSED] [id=[PAUSED]]
            ",
        )
        .run();
    assert!(fake.pods().is_empty());
    assert!(world.state(HELLO_STATE).unwrap().get("pod").is_none());
    fake.assert_all_valid();
}

/// A run that hangs (here: an API that accepts connections and never
/// answers) fails its test at the builder's timeout instead of hanging the
/// suite.
#[test]
#[should_panic(expected = "did not finish within 1 s and was killed")]
fn a_hanging_run_fails_its_test_at_the_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let world = World::new();
    world
        .on_rest_v2(&url)
        .args(["plan", HELLO])
        .timeout(std::time::Duration::from_secs(1))
        .run();
}
