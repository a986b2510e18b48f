//! The built `rpd` with `--provider runpodctl`, driving the fake runpodctl
//! (tests/fakes/) over the simulator's world: plan, resume, destroy, stock,
//! a missing or too old runpodctl, and apply as far as it goes without an
//! SSH transport (the pod is created, becomes ready, cannot be reached, and
//! its on_failure runs), with the exact command lines rpd ran.

mod common;

use common::World;

const HELLO: &str = "examples/hello.yaml";
const HELLO_STATE: &str = "examples/.rpd/hello.state.json";
const GPU: &str = "NVIDIA GeForce RTX 4090";
const A5000: &str = "NVIDIA RTX A5000";

fn flag<'a>(argv: &'a [String], name: &str) -> Vec<&'a str> {
    argv.windows(2)
        .filter(|w| w[0] == name)
        .map(|w| w[1].as_str())
        .collect()
}

/// A create rpd sent, by its place.
fn creates(world: &World) -> Vec<(String, String)> {
    world
        .invoked(&["pod", "create", "--name"])
        .iter()
        .map(|argv| {
            (
                flag(argv, "--data-center-ids").join(","),
                flag(argv, "--gpu-id").join(","),
            )
        })
        .collect()
}

/// A paused pod rpd recorded, as a runpod-deploy pointer file (which rpd
/// adopts): created and stopped with runpodctl itself.
fn paused_pod(world: &World) -> String {
    let created = world.runpodctl(&[
        "pod",
        "create",
        "--name",
        "hello-earlier",
        "--image",
        "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
        "--gpu-id",
        GPU,
        "--data-center-ids",
        "EU-RO-1",
        "--volume-in-gb",
        "20",
        "--ports",
        "22/tcp",
    ]);
    let id = created["id"].as_str().expect("id").to_string();
    std::thread::sleep(std::time::Duration::from_millis(100));
    world.runpodctl(&["pod", "stop", &id]);
    world.write(
        HELLO_STATE,
        &serde_json::json!({
            "pod_id": id,
            "gpu_id": GPU,
            "image": "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
            "datacenter_id": "EU-RO-1",
        })
        .to_string(),
    );
    id
}

#[test]
fn plan_shows_a_create_with_candidates_and_prices() {
    let world = World::new();
    world
        .ctl(&["plan", "--detailed-exitcode", HELLO])
        .status(2)
        .stdout_has("# pod \"hello\" will be created")
        .stdout_has("1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high")
        .stdout_has("2. EU-RO-1 / NVIDIA RTX A5000             $0.27/hr  stock high")
        .stdout_has("Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop.")
        .stderr_has("may fail since REST v1 was retired on 2026-11-15");
    world.ctl(&["plan", HELLO]).status(0);
    assert!(world.pods().is_empty(), "plan changes nothing");
    let ran: Vec<String> = world.invocations().iter().map(|a| a.join(" ")).collect();
    assert!(
        ran.contains(&"datacenter list -o json".to_string()),
        "{ran:?}"
    );
    assert!(
        ran.contains(&"gpu list --include-unavailable -o json".to_string()),
        "{ran:?}"
    );
    assert!(
        ran.iter().all(|a| a == "--version" || a.contains(" list ")),
        "a plan only reads: {ran:?}"
    );
}

#[test]
fn a_build_not_known_to_use_rest_v1_gets_no_warning() {
    let world = World::new();
    world
        .ctl_with(&["plan", HELLO], &[("FAKE_RUNPODCTL_VERSION", "2.15.0")])
        .status(0)
        .stderr_lacks("REST v1");
}

#[test]
fn an_out_of_stock_first_candidate_is_skipped() {
    let world = World::new();
    world.rpd(&["sim", "stock", "EU-RO-1", GPU, "0"]).status(0);
    world
        .ctl(&["plan", HELLO])
        .status(0)
        .stdout_has("1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock none, skipped")
        .stdout_has(
            "+ gpu               = \"NVIDIA RTX A5000\" (first with stock, see candidates)",
        );
    let port = common::closed_port().to_string();
    world
        .ctl_with(
            &["apply", "-y", HELLO],
            &[("FAKE_RUNPODCTL_SSH_PORT", &port)],
        )
        .status(3);
    assert_eq!(
        creates(&world),
        [("EU-RO-1".to_string(), A5000.to_string())]
    );
}

#[test]
fn apply_creates_waits_and_stops_a_pod_it_cannot_reach() {
    let world = World::new();
    let port = common::closed_port().to_string();
    let run = world
        .ctl_with(
            &["apply", "-y", HELLO],
            &[("FAKE_RUNPODCTL_SSH_PORT", &port)],
        )
        .status(3)
        .stdout_has("Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("Lifecycle on_failure: stop");
    assert!(
        run.stderr().contains(&format!("(127.0.0.1:{port})")),
        "{}",
        run.stderr()
    );

    let create = world.invoked(&["pod", "create", "--name"]);
    assert_eq!(create.len(), 1);
    let argv = &create[0];
    assert_eq!(
        flag(argv, "--ports"),
        ["22/tcp"],
        "one comma-joined --ports: {argv:?}"
    );
    assert_eq!(flag(argv, "--gpu-count"), ["1"]);
    assert_eq!(flag(argv, "--gpu-id"), [GPU]);
    assert_eq!(flag(argv, "--data-center-ids"), ["EU-RO-1"]);
    assert_eq!(flag(argv, "--cloud-type"), ["SECURE"]);
    assert_eq!(flag(argv, "--container-disk-in-gb"), ["20"]);
    assert_eq!(flag(argv, "--volume-in-gb"), ["20"]);
    assert_eq!(flag(argv, "--volume-mount-path"), ["/workspace"]);
    assert!(argv.contains(&"--ssh".to_string()), "{argv:?}");
    assert!(flag(argv, "--name")[0].starts_with("hello-"), "{argv:?}");

    let pods = world.pods();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["status"], "EXITED", "never left running");
    let state = world.state(HELLO_STATE).expect("state");
    assert_eq!(state["retained"][0]["id"], pods[0]["id"]);
    assert_eq!(state["retained"][0]["provider"], "runpodctl");
    let id = pods[0]["id"].as_str().unwrap();
    assert!(
        !world
            .invoked(&["pod", "get", id, "--include-machine"])
            .is_empty()
    );
    assert_eq!(world.invoked(&["pod", "stop", id]).len(), 1);

    // destroy deletes the retained pod and the state
    world.clear_invocations();
    world
        .ctl(&["destroy", "-y", HELLO])
        .status(0)
        .stdout_has("hello: destroy complete! Pods: 1 destroyed");
    assert_eq!(world.invoked(&["pod", "delete", id]).len(), 1);
    assert!(world.pods().is_empty());
    assert!(world.state(HELLO_STATE).is_none());
}

#[test]
fn a_capacity_error_falls_through_to_the_next_candidate() {
    let world = World::new();
    let two = world.read(HELLO).replace(
        "  container_disk_gb: 20",
        "  container_disk_gb: 20\n  gpu_count: 2",
    );
    world.write(HELLO, &two);
    // Stock says "low" (1 free); the create for 2 GPUs is refused.
    world.rpd(&["sim", "stock", "EU-RO-1", GPU, "1"]).status(0);
    let port = common::closed_port().to_string();
    world
        .ctl_with(
            &["apply", "-y", HELLO],
            &[
                ("FAKE_RUNPODCTL_SSH_PORT", &port),
                ("FAKE_RUNPODCTL_VERSION", "2.7.2"),
            ],
        )
        .status(3)
        .stderr_has("EU-RO-1 / NVIDIA GeForce RTX 4090: no capacity: runpodctl pod create:");
    assert_eq!(
        creates(&world),
        [
            ("EU-RO-1".to_string(), GPU.to_string()),
            ("EU-RO-1".to_string(), A5000.to_string())
        ]
    );
    assert_eq!(
        flag(
            &world.invoked(&["pod", "create", "--name"])[1],
            "--gpu-count"
        ),
        ["2"]
    );
}

#[test]
fn a_create_whose_answer_is_lost_is_found_by_name_not_sent_again() {
    let world = World::new();
    let port = common::closed_port().to_string();
    world
        .ctl_with(
            &["apply", "-y", HELLO],
            &[
                ("FAKE_RUNPODCTL_SSH_PORT", &port),
                ("FAKE_RUNPODCTL_HANG_AFTER", "pod create"),
                ("RPD_RUNPODCTL_TIMEOUT", "2s"),
            ],
        )
        .status(3)
        .stderr_has("runpodctl pod create gave no answer within 2s")
        .stderr_has("exists under our name: using it");
    assert_eq!(creates(&world).len(), 1, "never re-sent");
    assert_eq!(world.invoked(&["pod", "list", "-a"]).len(), 1);
    assert_eq!(world.pods().len(), 1);
}

#[test]
fn a_paused_pod_is_resumed() {
    let world = World::new();
    let id = paused_pod(&world);
    world
        .ctl(&["plan", "--detailed-exitcode", HELLO])
        .status(2)
        .stdout_has(&format!(
            "# pod \"hello\" ({id}) will be resumed (EXITED -> RUNNING)"
        ))
        .stdout_has("Plan: 0 to create, 1 to resume, 0 to destroy, 1 to stop.");
    assert!(
        world
            .invoked(&["pod", "get", &id, "--include-machine", "-o", "json"])
            .len()
            == 1
    );

    let port = common::closed_port().to_string();
    world
        .ctl_with(
            &["apply", "-y", HELLO],
            &[("FAKE_RUNPODCTL_SSH_PORT", &port)],
        )
        .status(3)
        .stdout_has("Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped.");
    assert_eq!(world.invoked(&["pod", "start", &id]).len(), 1);
    assert!(creates(&world).is_empty());
}

#[test]
fn a_resume_refused_by_a_busy_host_deletes_and_creates() {
    let world = World::new();
    let id = paused_pod(&world);
    world.rpd(&["sim", "fail-next-start", &id]).status(0);
    let port = common::closed_port().to_string();
    world
        .ctl_with(
            &["apply", "-y", HELLO],
            &[("FAKE_RUNPODCTL_SSH_PORT", &port)],
        )
        .status(3)
        .stderr_has("There are not enough free GPUs on the host machine to start this pod.")
        .stdout_has("Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.");
    assert_eq!(world.invoked(&["pod", "delete", &id]).len(), 1);
    assert_eq!(creates(&world).len(), 1);
    let pods = world.pods();
    assert_eq!(pods.len(), 1);
    assert_ne!(pods[0]["id"], id.as_str());
}

#[test]
fn a_failed_read_is_an_error_not_a_deleted_pod() {
    let world = World::new();
    let id = paused_pod(&world);
    world
        .ctl_with(&["plan", HELLO], &[("FAKE_RUNPODCTL_FAIL", "pod get=500")])
        .status(1)
        .stderr_has(&format!("reading pod {id}"))
        .stderr_has("Something went wrong.")
        .stdout_lacks("will be created");
    world.rpd(&["sim", "terminate", &id]).status(0);
    world
        .ctl(&["plan", HELLO])
        .status(0)
        .stdout_has(&format!("# pod \"hello\" ({id}) has been deleted"));
}

#[test]
fn runpodctl_is_found_on_path() {
    let world = World::new();
    let bin = world.install_runpodctl();
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    world
        .ctl_with(&["plan", HELLO], &[("RPD_RUNPODCTL", ""), ("PATH", &path)])
        .status(0)
        .stdout_has("will be created");
}

#[test]
fn a_missing_or_old_runpodctl_is_a_clear_error() {
    let world = World::new();
    let empty = world.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    world
        .ctl_with(
            &["plan", HELLO],
            &[("RPD_RUNPODCTL", ""), ("PATH", empty.to_str().unwrap())],
        )
        .status(1)
        .stderr_has("error: runpodctl was not found on PATH")
        .stderr_has("set RPD_RUNPODCTL=/path/to/runpodctl");
    world
        .ctl_with(
            &["plan", HELLO],
            &[("RPD_RUNPODCTL", "/nonexistent/runpodctl")],
        )
        .status(1)
        .stderr_has("RPD_RUNPODCTL=/nonexistent/runpodctl is not an executable file");
    world
        .ctl_with(&["plan", HELLO], &[("FAKE_RUNPODCTL_VERSION", "1.14.8")])
        .status(1)
        .stderr_has("runpodctl 1.14.8 is too old: rpd needs runpodctl v2")
        .stderr_has("https://github.com/runpod/runpodctl/releases");
    world
        .ctl_with(&["destroy", "-y", HELLO], &[("RUNPOD_API_KEY", "")])
        .status(0)
        .stdout_has("No changes. No state recorded for this config.");
}

#[test]
fn no_api_key_is_an_auth_error_on_apply() {
    let world = World::new();
    world
        .ctl_with(&["apply", "-y", HELLO], &[("RUNPOD_API_KEY", "")])
        .status(1)
        .stderr_has("authentication failed: runpodctl pod create:")
        .stderr_has("api key not found");
    assert!(world.pods().is_empty());
}

#[test]
fn without_prices_from_runpodctl_the_plan_says_price_unknown() {
    let world = World::new();
    world
        .ctl_with(&["plan", HELLO], &[("FAKE_RUNPODCTL_VERSION", "2.7.2")])
        .status(0)
        .stdout_has("1. EU-RO-1 / NVIDIA GeForce RTX 4090  price unknown  stock high")
        .stdout_lacks("$0.44/hr")
        .stderr_has("runpodctl 2.7.2 prints no GPU prices");
}
