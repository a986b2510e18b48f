//! The built `rpd` with `--provider runpodctl`, driving the fake runpodctl
//! (tests/fakes/) over the simulator's world: plan, resume, destroy, stock,
//! a missing or too old runpodctl, and apply with the whole job running over
//! a real sshd on 127.0.0.1 (skipped where sshd is not installed), with the
//! exact command lines rpd ran.

mod common;

use common::World;
use common::sshd::Sshd;

/// A sshd for the fake's running pods, hello rewritten for it, and the
/// environment that points rpd and the fake at it.
fn over_ssh(world: &World) -> Option<(Sshd, Vec<(String, String)>)> {
    let sshd = Sshd::start()?;
    world.hello_over_ssh(&sshd);
    let env = vec![
        ("FAKE_RUNPODCTL_SSH_PORT".to_string(), sshd.port.to_string()),
        ("RPD_SSH_USER".to_string(), sshd.user.clone()),
    ];
    Some((sshd, env))
}

fn with_env<'a>(
    env: &'a [(String, String)],
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    env.iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(more.iter().copied())
        .collect()
}

/// The volume mount the (possibly rewritten) hello config asks for.
fn mount(world: &World) -> String {
    world
        .read(HELLO)
        .lines()
        .find_map(|l| l.trim().strip_prefix("volume_mount: "))
        .unwrap_or("/workspace")
        .to_string()
}

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
        "--volume-mount-path",
        &mount(world),
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
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
    world
        .ctl_with(&["apply", "-y", HELLO], &with_env(&env, &[]))
        .status(0);
    assert_eq!(
        creates(&world),
        [("EU-RO-1".to_string(), A5000.to_string())]
    );
}

#[test]
fn apply_runs_the_job_recycles_then_destroy_deletes() {
    let world = World::new();
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
    world
        .ctl_with(&["apply", "-y", HELLO], &with_env(&env, &[]))
        .status(0)
        .stdout_has("Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped. Job succeeded")
        .stderr_has("Lifecycle on_success: recycle");
    assert!(
        world
            .read("examples/artifacts/hello/result.txt")
            .starts_with("run 1 of hello")
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
    assert_eq!(flag(argv, "--volume-mount-path"), [mount(&world).as_str()]);
    assert!(argv.contains(&"--ssh".to_string()), "{argv:?}");
    assert!(flag(argv, "--name")[0].starts_with("hello-"), "{argv:?}");

    let pods = world.pods();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["status"], "EXITED", "recycled");
    let state = world.state(HELLO_STATE).expect("state");
    assert_eq!(state["pod_id"], pods[0]["id"]);
    assert_eq!(state["pod"]["provider"], "runpodctl");
    let id = pods[0]["id"].as_str().unwrap();
    assert!(
        !world
            .invoked(&["pod", "get", id, "--include-machine"])
            .is_empty()
    );
    assert_eq!(world.invoked(&["pod", "stop", id]).len(), 1);

    // destroy deletes the pod and the state
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
fn a_pod_whose_shell_never_answers_is_deleted() {
    let world = World::new();
    let quick = world.read(HELLO).replace(
        "  max_runtime_minutes: 10\n",
        "  max_runtime_minutes: 10\n  ssh_ready_timeout_sec: 2\n",
    );
    world.write(HELLO, &quick);
    world.write("home/.ssh/id_ed25519", "not a real key\n");
    let port = common::closed_port().to_string();
    world
        .ctl_with(
            &["apply", "-y", HELLO],
            &[("FAKE_RUNPODCTL_SSH_PORT", &port)],
        )
        .status(1)
        .stderr_has("its shell never answered");
    assert!(
        world.pods().is_empty(),
        "the pod rpd created is not left running"
    );
    assert_eq!(world.invoked(&["pod", "delete"]).len(), 1);
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
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
    world
        .ctl_with(
            &["apply", "-y", HELLO],
            &with_env(&env, &[("FAKE_RUNPODCTL_VERSION", "2.7.2")]),
        )
        .status(0)
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
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
    world
        .ctl_with(
            &["apply", "-y", HELLO],
            &with_env(
                &env,
                &[
                    ("FAKE_RUNPODCTL_HANG_AFTER", "pod create"),
                    ("RPD_RUNPODCTL_TIMEOUT", "2s"),
                ],
            ),
        )
        .status(0)
        .stderr_has("runpodctl pod create gave no answer within 2s")
        .stderr_has("exists under our name: using it");
    assert_eq!(creates(&world).len(), 1, "never re-sent");
    assert_eq!(world.invoked(&["pod", "list", "-a"]).len(), 1);
    assert_eq!(world.pods().len(), 1);
}

#[test]
fn a_paused_pod_is_resumed() {
    let world = World::new();
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
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

    world
        .ctl_with(&["apply", "-y", HELLO], &with_env(&env, &[]))
        .status(0)
        .stdout_has("Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped.");
    assert_eq!(world.invoked(&["pod", "start", &id]).len(), 1);
    assert!(creates(&world).is_empty());
}

#[test]
fn a_resume_refused_by_a_busy_host_deletes_and_creates() {
    let world = World::new();
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
    let id = paused_pod(&world);
    world.rpd(&["sim", "fail-next-start", &id]).status(0);
    world
        .ctl_with(&["apply", "-y", HELLO], &with_env(&env, &[]))
        .status(0)
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

#[test]
fn the_tour_create_recycle_resume_drift_replace_destroy_over_runpodctl() {
    let world = World::new();
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
    let env = with_env(&env, &[]);
    world.ctl_with(&["apply", "-y", HELLO], &env).status(0);
    let first = world.pods()[0]["id"].as_str().unwrap().to_string();

    world
        .ctl_with(&["apply", "-y", HELLO], &env)
        .status(0)
        .stdout_has(&format!("({first}) will be resumed"))
        .stdout_has("Pods: 0 created, 1 resumed");
    assert_eq!(world.invoked(&["pod", "start", &first]).len(), 1);
    assert!(
        world
            .read("examples/artifacts/hello/result.txt")
            .starts_with("run 2 of hello")
    );

    let edited = world.read(HELLO).replace("torch280", "torch291");
    world.write(HELLO, &edited);
    world
        .ctl_with(&["apply", "-y", HELLO], &env)
        .status(0)
        .stdout_has("# forces replacement")
        .stdout_has("Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.");
    assert_eq!(world.invoked(&["pod", "delete", &first]).len(), 1);

    world
        .ctl_with(&["apply", "-y", "--replace", HELLO], &env)
        .status(0)
        .stdout_has("will be replaced, as requested");
    assert_eq!(creates(&world).len(), 3);
    assert_eq!(world.pods().len(), 1);

    world
        .ctl_with(&["destroy", "-y", HELLO], &env)
        .status(0)
        .stdout_has("Pods: 1 destroyed");
    assert!(world.pods().is_empty());
    assert!(world.state(HELLO_STATE).is_none());
}
