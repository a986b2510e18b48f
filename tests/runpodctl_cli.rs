//! The built `rpd` with `--provider runpodctl`, driving the fake runpodctl
//! (tests/fakes/) over the simulator's world: plan, resume, destroy, stock,
//! a missing or too old runpodctl, and apply with the whole job running over
//! a real sshd on 127.0.0.1 (skipped where sshd is not installed), with the
//! exact command lines rpd ran.

mod common;

use std::time::Duration;

use common::hello::{CREATE_PLAN, HELLO, HELLO_STATE, create_plan_with_candidates};
use common::sshd::Sshd;
use common::{Test, World, edited, unindent, wait_until};

/// `rpd` with `--provider runpodctl` against the fake, as a step of a test.
fn ctl(world: &World) -> Test<'_> {
    world.test().envs(world.ctl_env())
}

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

/// The volume mount the (possibly rewritten) hello config asks for.
fn mount(world: &World) -> String {
    world
        .read(HELLO)
        .lines()
        .find_map(|l| l.trim().strip_prefix("volume_mount: "))
        .unwrap_or("/workspace")
        .to_string()
}

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
    wait_until(Duration::from_secs(10), "the created pod to run", || {
        world.pods()[0]["status"] == "RUNNING"
    });
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

/// What a run against runpodctl 2.8.0 (the fake's default) says on stderr.
const REST_V1_WARNING: &str = "warning: runpodctl 2.8.0 sends pod commands to RunPod's REST v1 API (v2.0-v2.14 do, per runpod/runpodctl issue #345); they may fail since REST v1 was retired on 2026-11-15. If they do, upgrade runpodctl\n";

#[test]
fn a_plan_shows_a_create_with_candidates_and_prices_and_only_reads() {
    let world = World::new();
    ctl(&world)
        .args(["plan", "--detailed-exitcode", HELLO])
        .status(2)
        .stdout(CREATE_PLAN)
        .stderr(REST_V1_WARNING)
        .run();
    assert!(world.pods().is_empty(), "plan changes nothing");
    // The catalog's two reads run concurrently: their order varies.
    let mut ran: Vec<String> = world.invocations().iter().map(|a| a.join(" ")).collect();
    ran.sort();
    assert_eq!(
        ran,
        [
            "--version",
            "datacenter list -o json",
            "gpu list --include-unavailable -o json"
        ],
        "a plan only reads"
    );
}

#[test]
fn a_build_not_known_to_use_rest_v1_gets_no_warning() {
    let world = World::new();
    ctl(&world)
        .env("FAKE_RUNPODCTL_VERSION", "2.15.0")
        .args(["plan", HELLO])
        .stdout(CREATE_PLAN)
        .run();
}

#[test]
fn an_out_of_stock_first_candidate_is_skipped() {
    let world = World::new();
    world.rpd(&["sim", "stock", "EU-RO-1", GPU, "0"]).status(0);
    ctl(&world)
        .args(["plan", HELLO])
        .stdout_has(
            "      + gpu               = \"NVIDIA RTX A5000\" (first with stock, see candidates)\n",
        )
        .stdout_has(
            "     1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock none, skipped\n",
        )
        .stderr(REST_V1_WARNING)
        .run();
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
    ctl(&world)
        .envs(env)
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Creating on EU-RO-1 / NVIDIA RTX A5000, $0.27/hr...\n")
        .run();
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
    ctl(&world)
        .envs(env)
        .args(["apply", "-y", HELLO])
        // The job runs over a real sshd: progress and timing vary.
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped. Job succeeded in [ELAPSED].\n")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    let pods = world.pods();
    assert_eq!(pods.len(), 1);
    let id = pods[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        // RUNPOD_POD_ID is set by RunPod; the test's sshd has none.
        "run 1 of hello on pod unknown\n"
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

    assert_eq!(pods[0]["status"], "EXITED", "recycled");
    let state = world.state(HELLO_STATE).expect("state");
    assert_eq!(state["pod_id"], id.as_str());
    assert_eq!(state["pod"]["provider"], "runpodctl");
    assert!(
        !world
            .invoked(&["pod", "get", &id, "--include-machine"])
            .is_empty()
    );
    assert_eq!(world.invoked(&["pod", "stop", &id]).len(), 1);

    // destroy deletes the pod and the state
    world.clear_invocations();
    ctl(&world)
        .args(["destroy", "-y", HELLO])
        .known(&id, "[PAUSED]")
        .stdout_has("\nhello: destroy complete! Pods: 1 destroyed.\n")
        .stderr(&format!(
            "{REST_V1_WARNING}{}",
            unindent(
                "
                hello: Destroying pod [PAUSED]...
                hello: Destruction complete after [ELAPSED] [id=[PAUSED]]
                hello: Removed the state file [TMP]/examples/.rpd/hello.state.json (its last version is kept as [TMP]/examples/.rpd/hello.state.json.backup)
                "
            )
        ))
        .run();
    assert_eq!(world.invoked(&["pod", "delete", &id]).len(), 1);
    assert!(world.pods().is_empty());
    assert!(world.state(HELLO_STATE).is_none());
}

#[test]
fn a_pod_whose_shell_never_answers_is_deleted() {
    let world = World::new();
    world.edit(
        HELLO,
        "  max_runtime_minutes: 10\n",
        "  max_runtime_minutes: 10\n  ssh_ready_timeout_sec: 2\n",
    );
    let port = common::closed_port().to_string();
    ctl(&world)
        .env("FAKE_RUNPODCTL_SSH_PORT", &port)
        .args(["apply", "-y", HELLO])
        .known(&port, "[PORT]")
        .status(1)
        .stdout_has("\nhello: apply stopped. Pods: 1 created, 0 resumed, 1 destroyed, 0 stopped.\n")
        .stderr(&format!(
            "{REST_V1_WARNING}{}",
            unindent(
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
                "
            )
        ))
        .run();
    assert!(
        world.pods().is_empty(),
        "the pod rpd created is not left running"
    );
    assert_eq!(world.invoked(&["pod", "delete"]).len(), 1);
}

#[test]
fn a_capacity_error_falls_through_to_the_next_candidate() {
    let world = World::new();
    // Stock says "low" (1 free); the create for 2 GPUs is refused.
    world.rpd(&["sim", "stock", "EU-RO-1", GPU, "1"]).status(0);
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
    world.edit(
        HELLO,
        "  container_disk_gb: 20\n",
        "  container_disk_gb: 20\n  gpu_count: 2\n",
    );
    ctl(&world)
        .envs(env)
        .env("FAKE_RUNPODCTL_VERSION", "2.7.2")
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created")
        .stderr_has(concat!(
            "hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090...\n",
            "hello: EU-RO-1 / NVIDIA GeForce RTX 4090: no capacity: runpodctl pod create: ",
            "{\"error\":\"There are no longer any instances available with the requested specifications. Please refresh and try again.\"}\n",
            "{\"error\":\"failed to create pod: There are no longer any instances available with the requested specifications. Please refresh and try again.\"}\n",
            "(usage text omitted)\n",
            "hello: Creating on EU-RO-1 / NVIDIA RTX A5000...\n",
        ))
        .run();
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
    ctl(&world)
        .envs(env)
        .env("FAKE_RUNPODCTL_HANG_AFTER", "pod create")
        .env("RPD_RUNPODCTL_TIMEOUT", "2s")
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created")
        .stderr_has(concat!(
            "hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090, $0.44/hr...\n",
            "hello: the create answered with an error (transient provider error: runpodctl pod create gave no answer within 2s and was stopped (raise RPD_RUNPODCTL_TIMEOUT, e.g. RPD_RUNPODCTL_TIMEOUT=5m)), but pod [POD] exists under our name: using it\n",
        ))
        .run();
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
    ctl(&world)
        .args(["plan", "--detailed-exitcode", HELLO])
        .known(&id, "[PAUSED]")
        // Resuming an up-to-date recycled pod is the routine run.
        .status(0)
        .stdout_has(concat!(
            "  # pod \"hello\" ([PAUSED]) will be resumed (EXITED -> RUNNING)\n",
            "  ~ pod \"hello\" {\n",
            "      ~ status = \"EXITED\" -> \"RUNNING\"\n",
            "        # (no attribute changes)\n",
            "    }\n",
        ))
        .stdout_has("\nPlan: 0 to create, 1 to resume, 0 to destroy, 1 to stop.\n")
        .stderr(REST_V1_WARNING)
        .run();
    assert_eq!(
        world
            .invoked(&["pod", "get", &id, "--include-machine", "-o", "json"])
            .len(),
        1
    );

    ctl(&world)
        .envs(env)
        .args(["apply", "-y", HELLO])
        .known(&id, "[PAUSED]")
        .stdout_has("hello: apply complete! Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Resuming paused pod [PAUSED]...\n")
        .run();
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
    ctl(&world)
        .envs(env)
        .args(["apply", "-y", "--on-busy-host", "recreate", HELLO])
        .known(&id, "[PAUSED]")
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.")
        .stderr_has("There are not enough free GPUs on the host machine to start this pod.")
        .run();
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
    ctl(&world)
        .env("FAKE_RUNPODCTL_FAIL", "pod get=500")
        .args(["plan", HELLO])
        .known(&id, "[PAUSED]")
        .status(1)
        .stderr(&format!(
            "{REST_V1_WARNING}{}",
            unindent(
                r#"
                error: planning examples/hello.yaml
                  caused by: reading pod [PAUSED]
                  caused by: transient provider error: runpodctl pod get [PAUSED]: {"error":"failed to get pod: Something went wrong.","code":"server_error","status":500}
                "#
            )
        ))
        .run();
    world.rpd(&["sim", "terminate", &id]).status(0);
    ctl(&world)
        .args(["plan", HELLO])
        .known(&id, "[PAUSED]")
        .stdout_has("  # pod \"hello\" ([PAUSED]) has been deleted\n")
        .stdout_has("\nPlan: 1 to create, 0 to resume, 0 to destroy, 1 to stop.\n")
        .stderr(REST_V1_WARNING)
        .run();
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
    ctl(&world)
        .env("RPD_RUNPODCTL", "")
        .env("PATH", &path)
        .args(["plan", HELLO])
        .stdout(CREATE_PLAN)
        .stderr(REST_V1_WARNING)
        .run();
}

#[test]
fn a_missing_or_old_runpodctl_is_a_clear_error() {
    let world = World::new();
    let empty = world.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    ctl(&world)
        .env("RPD_RUNPODCTL", "")
        .env("PATH", empty.to_str().unwrap())
        .args(["plan", HELLO])
        .status(1)
        .stderr(
            "
            error: runpodctl was not found on PATH
              = help: install runpodctl v2 (https://github.com/runpod/runpodctl/releases) or set RPD_RUNPODCTL=/path/to/runpodctl; `--provider sim` needs no account
            ",
        )
        .run();
    ctl(&world)
        .env("RPD_RUNPODCTL", "/nonexistent/runpodctl")
        .args(["plan", HELLO])
        .status(1)
        .stderr(
            "
            error: RPD_RUNPODCTL=/nonexistent/runpodctl is not an executable file
              = help: point RPD_RUNPODCTL at the runpodctl executable, or unset it to use the one on PATH
            ",
        )
        .run();
    ctl(&world)
        .env("FAKE_RUNPODCTL_VERSION", "1.14.8")
        .args(["plan", HELLO])
        .status(1)
        .stderr(
            "
            error: runpodctl 1.14.8 is too old: rpd needs runpodctl v2 (v2.0.0 or newer, the `runpodctl pod ...` commands with JSON output)
              = help: upgrade: install a v2 release from https://github.com/runpod/runpodctl/releases, then check with `runpodctl --version`
            ",
        )
        .run();
    ctl(&world)
        .env("RUNPOD_API_KEY", "")
        .args(["destroy", "-y", HELLO])
        .stderr(REST_V1_WARNING)
        .stdout(
            "
            rpd destroy plan for examples/hello.yaml (job \"hello\")

            No changes. No state recorded for this config.
        ",
        )
        .run();
}

#[test]
fn no_api_key_is_an_authentication_error_on_apply() {
    let world = World::new();
    ctl(&world)
        .env("RUNPOD_API_KEY", "")
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout_has(r#"Warning: could not read the catalog (stock and prices unknown): authentication failed: runpodctl datacenter list: {"error":"api key not found. get your key at https://www.runpod.io/console/user/settings then: export RUNPOD_API_KEY=your-key OR run: runpodctl doctor","code":"no_credentials"}"#)
        .stdout_has("\nhello: apply stopped. Pods: 0 created, 0 resumed, 0 destroyed, 0 stopped.\n")
        .stderr(&format!(
            "{REST_V1_WARNING}{}",
            unindent(
                r#"
                hello: Creating on EU-RO-1 / NVIDIA GeForce RTX 4090...
                error: hello: creating the pod: authentication failed: runpodctl pod create: {"error":"api key not found. get your key at https://www.runpod.io/console/user/settings then: export RUNPOD_API_KEY=your-key OR run: runpodctl doctor","code":"no_credentials"}
                "#
            )
        ))
        .run();
    assert!(world.pods().is_empty());
}

#[test]
fn without_prices_from_runpodctl_the_plan_says_price_unknown() {
    let world = World::new();
    ctl(&world)
        .env("FAKE_RUNPODCTL_VERSION", "2.7.2")
        .args(["plan", HELLO])
        .stdout(
            &edited(
                &create_plan_with_candidates(
                    "
                     1. EU-RO-1 / NVIDIA GeForce RTX 4090  price unknown  stock high
                     2. EU-RO-1 / NVIDIA RTX A5000         price unknown  stock high
                     3. US-CA-2 / NVIDIA GeForce RTX 4090  price unknown  stock high
                     4. US-CA-2 / NVIDIA RTX A5000         price unknown  stock high
                    ",
                ),
                "Cost: $0.44/hr while running; ",
                "Cost: ",
            ),
        )
        .stderr(
            "
            warning: runpodctl 2.7.2 sends pod commands to RunPod's REST v1 API (v2.0-v2.14 do, per runpod/runpodctl issue #345); they may fail since REST v1 was retired on 2026-11-15. If they do, upgrade runpodctl
            warning: runpodctl 2.7.2 prints no GPU prices (`gpu list` has them from v2.8): prices are unknown
            ",
        )
        .run();
}

#[test]
fn the_tour_create_recycle_resume_update_replace_destroy_over_runpodctl() {
    let world = World::new();
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
    ctl(&world)
        .envs(env.clone())
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    let first = world.pods()[0]["id"].as_str().unwrap().to_string();

    ctl(&world)
        .envs(env.clone())
        .args(["apply", "-y", HELLO])
        .known(&first, "[PAUSED]")
        .stdout_has("  # pod \"hello\" ([PAUSED]) will be resumed (EXITED -> RUNNING)\n")
        .stdout_has("hello: apply complete! Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    assert_eq!(world.invoked(&["pod", "start", &first]).len(), 1);
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        "run 2 of hello on pod unknown\n",
        "the volume survived the stop"
    );

    // This runpodctl has `pod update`: the image changes in place.
    world.edit(HELLO, "torch280", "torch291");
    ctl(&world)
        .envs(env.clone())
        .args(["apply", "-y", HELLO])
        .known(&first, "[PAUSED]")
        .stdout_has("  # pod \"hello\" ([PAUSED]) will be updated in place, then resumed (EXITED -> RUNNING)\n")
        .stdout_has("hello: apply complete! Pods: 0 created, 1 updated in place, 1 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    let updates = world.invoked(&["pod", "update", &first]);
    assert_eq!(
        updates,
        [[
            "pod",
            "update",
            first.as_str(),
            "--image",
            "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404",
            "-o",
            "json"
        ]]
    );
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        "run 3 of hello on pod unknown\n",
        "the volume survived the update"
    );

    // One without it: the plan replaces the pod and says why.
    world.edit(HELLO, "torch291", "torch280");
    ctl(&world)
        .envs(env.clone())
        .env("FAKE_RUNPODCTL_WITHOUT_UPDATE", "1")
        .args(["apply", "-y", HELLO])
        .known(&first, "[OLD]")
        .stdout_has("  # (because image could change in place, but runpodctl 2.8.0 has no `pod update` command (a newer runpodctl or --provider runpod updates in place))\n")
        .stdout_has(r#"      ~ image = "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404" -> "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404" # forces replacement"#)
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    assert_eq!(world.invoked(&["pod", "delete", &first]).len(), 1);
    assert_eq!(world.invoked(&["pod", "update"]).len(), 1);

    ctl(&world)
        .envs(env.clone())
        .args(["apply", "-y", "--replace", HELLO])
        .stdout_has("  # pod \"hello\" will be replaced, as requested\n")
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    assert_eq!(creates(&world).len(), 3);
    assert_eq!(world.pods().len(), 1);

    ctl(&world)
        .envs(env)
        .args(["destroy", "-y", HELLO])
        .stdout_has("\nhello: destroy complete! Pods: 1 destroyed.\n")
        .stderr_has("hello: Removed the state file [TMP]/examples/.rpd/hello.state.json (its last version is kept as [TMP]/examples/.rpd/hello.state.json.backup)\n")
        .run();
    assert!(world.pods().is_empty());
    assert!(world.state(HELLO_STATE).is_none());
}

#[test]
fn ls_stale_all_and_cleanup_state_file_delete_a_runpod_deploy_pointers_pod() {
    let world = World::new();
    let id = paused_pod(&world);
    // Named by another tool and tracked by no registered state: not rpd's.
    ctl(&world)
        .args(["ls-stale", "--all"])
        .known(&id, "[PAUSED]")
        .stdout_has("[PAUSED]  hello-earlier  20 GB   ")
        .stdout_has("$0.13  $4.00    not rpd's\n")
        .stderr(REST_V1_WARNING)
        .run();
    ctl(&world)
        .args(["cleanup", "--state-file", HELLO_STATE, "--mode", "delete", "--yes"])
        .known(&id, "[PAUSED]")
        .stdout_has("    1. delete pod [PAUSED] (\"hello-earlier\", stopped since an unknown time, 20 GB volume ($0.13/day); tracked by [TMP]/examples/.rpd/hello.state.json)\n")
        .stdout_has("    · remove the runpod-deploy pointer [TMP]/examples/.rpd/hello.state.json (its pod is deleted)\n")
        .stdout_has("Cleanup complete! Pods: 1 destroyed, 0 stopped, 0 forgotten (already gone).\n")
        .stderr_has("cleanup: Destruction complete after ")
        .run();
    assert_eq!(world.invoked(&["pod", "delete", &id]).len(), 1);
    assert!(world.pods().is_empty());
    assert!(
        !world.path(HELLO_STATE).exists(),
        "runpod-deploy's cleanup unlinks the pointer; so does rpd's"
    );
}

/// A COMMUNITY create asks runpodctl for a public IP (`--public-ip`), so
/// the pod gets direct SSH; and a pod still pulling its image (v2.9+:
/// `runtimeStatus: initializing`) is waited for, never given up on.
#[test]
fn a_community_create_asks_for_a_public_ip_and_a_pulling_pod_is_waited_for() {
    let world = World::new();
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
    world.edit(HELLO, "cloud_type: SECURE", "cloud_type: COMMUNITY");
    world.rpd(&["sim", "pull", "25"]).status(0);
    ctl(&world)
        .envs(env)
        .env("FAKE_RUNPODCTL_VERSION", "2.9.0")
        .env("FAKE_RUNPODCTL_NO_PUBLIC_IP", "1")
        .env("RPD_DIRECT_SSH_GRACE", "1s")
        .args(["apply", "-y", HELLO])
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .stderr_lacks("Deleting pod")
        .run();
    let create = world.invoked(&["pod", "create", "--name"]);
    assert_eq!(create.len(), 1);
    assert!(
        create[0].contains(&"--public-ip".to_string()),
        "{:?}",
        create[0]
    );
    assert!(
        world.invoked(&["pod", "get"]).len() >= 25,
        "the pull was read"
    );
}

/// Without `--public-ip` (a runpodctl that lacks it), a COMMUNITY pod on
/// a machine without a public IP runs with 22 "not publicly routable":
/// after the grace it is deleted and the next candidate tried, as over
/// REST v2; the create says the flag is missing.
#[test]
fn a_community_pod_without_a_public_22_is_replaced_after_the_grace() {
    let world = World::new();
    let Some((_sshd, env)) = over_ssh(&world) else {
        return;
    };
    world.edit(HELLO, "cloud_type: SECURE", "cloud_type: COMMUNITY");
    ctl(&world)
        .envs(env)
        .env("FAKE_RUNPODCTL_VERSION", "2.9.0")
        .env("FAKE_RUNPODCTL_EXTRA_CREATE_FLAGS", "-public-ip")
        .env("FAKE_RUNPODCTL_NO_PUBLIC_IP", "1")
        .env("RPD_DIRECT_SSH_GRACE", "1s")
        .args(["apply", "-y", "--fallback-cloud-type", "SECURE", HELLO])
        .stdout_has("hello: apply complete! Pods: 2 created, 0 resumed, 1 destroyed, 1 stopped.")
        .stderr_has("warning: runpodctl 2.9.0 has no --public-ip")
        .stderr_has("Deleting pod [POD]: it has SSH only through RunPod's proxy (no public IP), which rsync cannot use\n")
        .run();
    let clouds: Vec<String> = world
        .invoked(&["pod", "create", "--name"])
        .iter()
        .map(|argv| flag(argv, "--cloud-type").join(","))
        .collect();
    assert_eq!(clouds, ["COMMUNITY", "SECURE"]);
    assert_eq!(world.pods().len(), 1);
}
