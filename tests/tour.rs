//! The README tour, end to end on the simulator: plan, apply, apply again
//! (resume), drift, --replace, destroy; plus the exit-code contract.

mod common;

use common::World;

const HELLO: &str = "examples/hello.yaml";
const HELLO_STATE: &str = "examples/.rpd/hello.state.json";

fn pod_id(world: &World) -> String {
    let state = world.state(HELLO_STATE).expect("state exists");
    state["pod_id"].as_str().expect("pod_id").to_string()
}

#[test]
fn first_plan_shows_a_create_and_exits_2_with_detailed_exitcode() {
    let world = World::new();
    world
        .rpd(&["plan", "--detailed-exitcode", HELLO])
        .status(2)
        .stdout_has("# pod \"hello\" will be created")
        .stdout_has("Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop.");
    world.rpd(&["plan", HELLO]).status(0);
    assert!(world.pods().is_empty(), "plan changes nothing");
    assert!(world.state(HELLO_STATE).is_none(), "plan writes no state");
}

#[test]
fn tour_create_recycle_resume_drift_replace_destroy() {
    let world = World::new();

    // apply: create, run, recycle (stopped, kept)
    world.rpd(&["apply", "-y", HELLO]).status(0).stdout_has(
        "hello: apply complete! Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped. Job succeeded",
    );
    let pods = world.pods();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["status"], "EXITED");
    let first = pod_id(&world);
    assert_eq!(pods[0]["id"], first.as_str());
    assert_eq!(world.calls()["create"], 1);
    let result = world.read("examples/artifacts/hello/result.txt");
    assert!(result.starts_with("run 1 of hello"), "{result}");

    // plan again: resume the same pod
    world
        .rpd(&["plan", "--detailed-exitcode", HELLO])
        .status(2)
        .stdout_has(&format!(
            "# pod \"hello\" ({first}) will be resumed (EXITED -> RUNNING)"
        ))
        .stdout_has("Plan: 0 to create, 1 to resume, 0 to destroy, 1 to stop.")
        .stdout_lacks("Changes made outside rpd");
    world.calls();
    world
        .rpd(&["apply", "-y", HELLO])
        .status(0)
        .stdout_has("Pods: 0 created, 1 resumed, 0 destroyed, 1 stopped.");
    let calls = world.calls();
    assert_eq!(calls["start"], 1, "{calls}");
    assert_eq!(calls["create"], 0, "{calls}");
    assert_eq!(pod_id(&world), first);
    let result = world.read("examples/artifacts/hello/result.txt");
    assert!(
        result.starts_with("run 2 of hello"),
        "the volume survived: {result}"
    );

    // image change: a diff with image forcing replacement; apply deletes then creates
    let edited = world
        .read(HELLO)
        .replace("torch280-ubuntu2404", "torch291-ubuntu2404");
    world.write(HELLO, &edited);
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has("# pod \"hello\" must be replaced")
        .stdout_has("~ image = \"runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404\" -> \"runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404\" # forces replacement")
        .stdout_has("Plan: 1 to create, 0 to resume, 1 to destroy, 1 to stop.");
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let calls = world.calls();
    assert_eq!(
        (calls["delete"].as_u64(), calls["create"].as_u64()),
        (Some(1), Some(1)),
        "{calls}"
    );
    let second = pod_id(&world);
    assert_ne!(second, first);
    assert_eq!(world.pods().len(), 1, "the old pod is gone");

    // --replace: the same, "as requested"
    world
        .rpd(&["plan", "--replace", HELLO])
        .status(0)
        .stdout_has("# pod \"hello\" will be replaced, as requested");
    world.rpd(&["apply", "-y", "--replace", HELLO]).status(0);
    let calls = world.calls();
    assert_eq!(
        (calls["delete"].as_u64(), calls["create"].as_u64()),
        (Some(1), Some(1)),
        "{calls}"
    );
    assert_ne!(pod_id(&world), second);

    // destroy: no pod, no state
    world
        .rpd(&["destroy", "-y", HELLO])
        .status(0)
        .stdout_has("hello: destroy complete! Pods: 1 destroyed");
    assert!(world.pods().is_empty());
    assert!(world.state(HELLO_STATE).is_none());
    world
        .rpd(&["destroy", "-y", HELLO])
        .status(0)
        .stdout_has("No changes. No state recorded for this config.");
}

#[test]
fn change_made_outside_rpd_is_shown_in_its_own_block() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    world
        .rpd(&["sim", "set", &id, "image=evil:latest"])
        .status(0);
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has("Changes made outside rpd:")
        .stdout_has(&format!("# pod \"hello\" ({id}) has changed"))
        .stdout_has(
            "~ image = \"runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404\" -> \"evil:latest\"",
        )
        .stdout_has("# pod \"hello\" must be replaced");

    world.rpd(&["sim", "terminate", &id]).status(0);
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has(&format!("# pod \"hello\" ({id}) has been deleted"))
        .stdout_has("# pod \"hello\" will be created");
}

#[test]
fn pod_started_in_the_console_is_reused_and_reported_as_billing() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    world.rpd(&["sim", "start", &id]).status(0);
    std::thread::sleep(std::time::Duration::from_millis(100));
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has("started outside rpd: it is billing")
        .stdout_has(&format!(
            "# pod \"hello\" ({id}) is already RUNNING; the job runs on it"
        ));
    world.calls();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let calls = world.calls();
    assert_eq!(
        (calls["start"].as_u64(), calls["create"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn resume_that_finds_the_host_busy_deletes_the_paused_pod_then_creates() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let old = pod_id(&world);
    world.rpd(&["sim", "fail-next-start", &old]).status(0);
    world.calls();
    world
        .rpd(&["apply", "-y", HELLO])
        .status(0)
        .stderr_has("There are not enough free GPUs on the host machine to start this pod.")
        .stdout_has("Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.");
    let calls = world.calls();
    assert_eq!(
        (
            calls["start"].as_u64(),
            calls["delete"].as_u64(),
            calls["create"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let pods = world.pods();
    assert_eq!(pods.len(), 1, "no orphaned paused pod: {pods:?}");
    assert_ne!(pods[0]["id"], old.as_str());
    assert_eq!(pod_id(&world), pods[0]["id"].as_str().unwrap());
}

#[test]
fn out_of_stock_first_candidate_falls_through_to_the_next() {
    let world = World::new();
    world
        .rpd(&["sim", "stock", "EU-RO-1", "NVIDIA GeForce RTX 4090", "0"])
        .status(0);
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has("EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock none, skipped");
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let pods = world.pods();
    assert_eq!(pods[0]["gpu_id"], "NVIDIA RTX A5000");
    assert_eq!(pods[0]["datacenter_id"], "EU-RO-1");
}

#[test]
fn nothing_in_stock_anywhere_is_an_error_that_creates_nothing() {
    let world = World::new();
    for dc in ["EU-RO-1", "US-CA-2"] {
        for gpu in ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"] {
            world.rpd(&["sim", "stock", dc, gpu, "0"]).status(0);
        }
    }
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has("Warning: no candidate (datacenter x GPU) has stock right now");
    world
        .rpd(&["apply", "-y", HELLO])
        .status(1)
        .stderr_has("no candidate could take the pod");
    assert!(world.pods().is_empty());
    let state = world.state(HELLO_STATE).expect("state written");
    assert!(state.get("pod_id").is_none());
    assert!(state.get("pending_create").is_none());
}

#[test]
fn failed_job_exits_3_and_carries_out_on_failure() {
    let world = World::new();
    let failing = world
        .read(HELLO)
        .replace("    echo HELLO_DONE\n", "    exit 1\n");
    world.write(HELLO, &failing);
    world
        .rpd(&["apply", "-y", HELLO])
        .status(3)
        .stdout_has("hello: apply finished, job failed.")
        .stdout_has("the script exited with status 1")
        .stdout_has("on_failure: stop was carried out");
    let pods = world.pods();
    assert_eq!(pods[0]["status"], "EXITED");
    let state = world.state(HELLO_STATE).unwrap();
    assert!(
        state.get("pod_id").is_none(),
        "a stopped pod is not resumed"
    );
    assert_eq!(state["retained"][0]["id"], pods[0]["id"]);
    assert!(world.path("examples/artifacts/runpod").exists());

    // The next plan creates a fresh pod and lists the retained one with its cost.
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has("# pod \"hello\" will be created")
        .stdout_has("Pods kept for forensics")
        .stdout_has("$4.00/month");
    // destroy deletes it too
    world
        .rpd(&["destroy", "-y", HELLO])
        .status(0)
        .stdout_has("1 destroyed");
    assert!(world.pods().is_empty());
}

#[test]
fn runpod_deploy_pointer_is_adopted_and_its_pod_resumed() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    let pointer = serde_json::json!({
        "pod_id": id,
        "gpu_id": "NVIDIA GeForce RTX 4090",
        "image": "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
        "datacenter_id": "EU-RO-1",
    });
    world.write(HELLO_STATE, &pointer.to_string());
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has(&format!("({id}) will be resumed"))
        .stdout_has("is a runpod-deploy pointer");
    world.calls();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let calls = world.calls();
    assert_eq!(
        (calls["start"].as_u64(), calls["create"].as_u64()),
        (Some(1), Some(0))
    );
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(state["format_version"], 1);
    assert_eq!(state["pod_id"], id.as_str());
    assert!(
        state["owner"]["config"]
            .as_str()
            .unwrap()
            .ends_with("examples/hello.yaml")
    );
}

#[test]
fn runpod_deploy_pointer_with_id_alias_and_no_spec_is_adopted() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    world.write(HELLO_STATE, &format!("{{\"podId\": \"{id}\"}}"));
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has(&format!("({id}) will be resumed"));
}

#[test]
fn state_of_another_config_is_refused_with_the_fix() {
    let world = World::new();
    let shared = world.path("shared.json").display().to_string();
    let a = world
        .read(HELLO)
        .replace("name: hello", &format!("name: hello\nstate_file: {shared}"));
    world.write("examples/a.yaml", &a);
    world.write("examples/b.yaml", &a.replace("name: hello", "name: other"));
    world.rpd(&["apply", "-y", "examples/a.yaml"]).status(0);
    let before = world.read("shared.json");
    world
        .rpd(&["plan", "examples/b.yaml"])
        .status(1)
        .stderr_has("belongs to another config")
        .stderr_has("rpd state reassign");
    assert_eq!(world.read("shared.json"), before, "the state is untouched");
    world
        .rpd(&["state", "reassign", "examples/b.yaml"])
        .status(0);
    world.rpd(&["plan", "examples/b.yaml"]).status(0);
}

#[test]
fn foreign_and_corrupt_state_files_are_refused_and_left_alone() {
    let world = World::new();
    let terraform = r#"{"version": 4, "terraform_version": "1.9.0", "resources": []}"#;
    world.write(HELLO_STATE, terraform);
    world
        .rpd(&["plan", HELLO])
        .status(1)
        .stderr_has("is neither an rpd state nor a runpod-deploy pointer")
        .stderr_has("\"version\", \"terraform_version\"");
    world.rpd(&["apply", "-y", HELLO]).status(1);
    assert_eq!(world.read(HELLO_STATE), terraform);
    assert!(world.pods().is_empty());

    world.write(HELLO_STATE, "{\"format_version\": 1, \"lin");
    world
        .rpd(&["plan", HELLO])
        .status(1)
        .stderr_has("is not valid JSON (line 1, column");
}

#[test]
fn state_from_another_provider_is_refused() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let mut state = world.state(HELLO_STATE).unwrap();
    state["pod"]["provider"] = "runpod".into();
    world.write(HELLO_STATE, &state.to_string());
    world
        .rpd(&["plan", HELLO])
        .status(1)
        .stderr_has("tracks pods created with --provider runpod, but this run uses --provider sim");
}

#[test]
fn apply_without_a_terminal_needs_auto_approve() {
    let world = World::new();
    world
        .rpd(&["apply", HELLO])
        .status(1)
        .stderr_has("pass -y/--auto-approve");
    assert!(world.pods().is_empty());
}

#[test]
fn provider_option_goes_before_or_after_the_subcommand() {
    let world = World::new();
    let mut before = world.command(&["--provider", "sim", "plan", HELLO]);
    before.env_remove("RPD_PROVIDER");
    assert_eq!(world.run(before, &[]).code(), 0);
    let mut after = world.command(&["plan", HELLO, "--provider", "sim"]);
    after.env_remove("RPD_PROVIDER");
    assert_eq!(world.run(after, &[]).code(), 0);
    world
        .rpd(&["plan", HELLO, "--provider", "nope"])
        .status(1)
        .stderr_has("unknown provider \"nope\"");
}

#[test]
fn exit_codes_for_usage_help_and_version() {
    let world = World::new();
    world.rpd(&["plan"]).status(1).stderr_has("CONFIG");
    world.rpd(&["frobnicate"]).status(1);
    world.rpd(&["--help"]).status(0).stdout_has("Exit codes:");
    world.rpd(&["--version"]).status(0).stdout_has("rpd ");
    world
        .rpd(&["plan", "missing.yaml"])
        .status(1)
        .stderr_has("cannot read config")
        .stderr_has("missing.yaml");
}

#[test]
fn several_configs_are_planned_and_applied_together() {
    let world = World::new();
    let train = "examples/drift/train.yaml";
    world
        .rpd(&["plan", "--detailed-exitcode", HELLO, train])
        .status(2)
        .stdout_has("rpd plan for examples/hello.yaml")
        .stdout_has("rpd plan for examples/drift/train.yaml")
        .stdout_has("2 configs: 2 with changes, 0 without.");
    world.rpd(&["apply", "-y", HELLO, train]).status(0);
    let pods = world.pods();
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p["status"] == "EXITED"));
}

#[test]
fn configs_sharing_one_state_file_are_refused_before_anything_runs() {
    let world = World::new();
    let a = world
        .read(HELLO)
        .replace("name: hello", "name: hello\nstate_file: one.json");
    world.write("examples/a.yaml", &a);
    world.write("examples/b.yaml", &a);
    world
        .rpd(&["plan", "examples/a.yaml", "examples/b.yaml"])
        .status(1)
        .stderr_has("two configs use the same state file");
}

#[test]
fn templated_state_file_gives_each_shard_its_own_state() {
    let world = World::new();
    let sharded = world
        .read("examples/drift/train.yaml")
        .replace(
            "name: train",
            "name: train-{seed}\nstate_file: state/train-{seed}.json",
        )
        .replace("variables:\n", "variables:\n  seed: \"0\"\n");
    world.write("examples/shard.yaml", &sharded);
    world
        .rpd(&["apply", "-y", "examples/shard.yaml", "--var", "seed=1"])
        .status(0);
    world
        .rpd(&["apply", "-y", "examples/shard.yaml", "--var", "seed=2"])
        .status(0);
    assert!(world.path("examples/state/train-1.json").exists());
    assert!(world.path("examples/state/train-2.json").exists());
    assert_eq!(world.pods().len(), 2);
}

#[test]
fn json_plan_carries_the_same_plan() {
    let world = World::new();
    let doc = world
        .rpd(&["plan", "--format", "json", HELLO])
        .status(0)
        .json();
    assert_eq!(doc["format_version"], "2.0");
    assert_eq!(
        doc["summary_line"],
        "Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop."
    );
    assert_eq!(doc["has_pod_changes"], true);
    assert_eq!(doc["steps"][0]["op"], "create_pod");
    assert_eq!(doc["steps"][1]["after"], serde_json::json!([1]));
    assert_eq!(doc["pod"]["action"], "create");
}

#[test]
fn logs_show_the_running_pods_log_then_the_last_pulled_one() {
    let world = World::new();
    let preserved = world
        .read(HELLO)
        .replace("on_success: recycle", "on_success: preserve");
    world.write(HELLO, &preserved);
    world
        .rpd(&["apply", "-y", HELLO])
        .status(0)
        .stdout_has("preserved: it is still running and billing");
    let id = world.pods()[0]["id"].as_str().unwrap().to_string();
    world
        .rpd(&["logs", HELLO, "-n", "1"])
        .status(0)
        .stdout_has("HELLO_DONE")
        .stderr_has(&format!("on pod {id}"));
    world.rpd(&["sim", "stop", &id]).status(0);
    world
        .rpd(&["logs", HELLO])
        .status(0)
        .stdout_has("run 1 of hello")
        .stderr_has("this is the last log rpd pulled");
}

#[test]
fn with_env_commands_get_the_remote_env_prefix_and_the_body_does_not() {
    let world = World::new();
    let cfg = world.read(HELLO).replace(
        "\nstaging:",
        "  - command: echo \"$GREETING\" > /workspace/setup-env.txt\n    with_env: true\n  - command: echo \"[${GREETING:-unset}]\" > /workspace/setup-noenv.txt\nremote_env:\n  exports:\n    GREETING: \"hi there\"\n\nstaging:",
    ).replace(
        "    echo HELLO_DONE\n",
        "    echo \"[${GREETING:-unset}]\" > /workspace/body-env.txt\n    echo HELLO_DONE\n",
    ).replace("on_success: recycle", "on_success: preserve");
    world.write(HELLO, &cfg);
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = world.pods()[0]["id"].as_str().unwrap().to_string();
    let volume = world.sim_dir().join("pods").join(id).join("volume");
    let read = |f: &str| std::fs::read_to_string(volume.join(f)).unwrap();
    assert_eq!(read("setup-env.txt"), "hi there\n");
    assert_eq!(read("setup-noenv.txt"), "[unset]\n");
    assert_eq!(
        read("body-env.txt"),
        "[unset]\n",
        "runpod-deploy never applies remote_env to run.body"
    );
}

#[test]
fn fallback_cloud_type_creates_on_community_when_secure_is_out() {
    let world = World::new();
    for dc in ["EU-RO-1", "US-CA-2"] {
        for gpu in ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"] {
            world.rpd(&["sim", "stock", dc, gpu, "0"]).status(0);
        }
    }
    world
        .rpd(&["plan", HELLO, "--fallback-cloud-type", "COMMUNITY"])
        .status(0)
        .stdout_has(
            "1. EU-RO-1 / NVIDIA GeForce RTX 4090 (SECURE)         $0.44/hr  stock none, skipped",
        )
        .stdout_has("2. EU-RO-1 / NVIDIA GeForce RTX 4090 (COMMUNITY)      $0.31/hr  stock high");
    world
        .rpd(&["apply", "-y", HELLO, "--fallback-cloud-type", "COMMUNITY"])
        .status(0)
        .stderr_has("Created on the fallback cloud COMMUNITY");
    assert_eq!(world.pods()[0]["cloud_type"], "COMMUNITY");
    // The pod on the fallback cloud is resumed while the fallback is allowed,
    // and replaced when it is not.
    world
        .rpd(&["plan", HELLO, "--fallback-cloud-type", "COMMUNITY"])
        .status(0)
        .stdout_has("will be resumed");
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has("~ cloud_type = \"COMMUNITY\" -> \"SECURE\" # forces replacement");
}

#[test]
fn network_volume_is_resolved_in_the_pods_datacenter() {
    let world = World::new();
    let cfg = world
        .read(HELLO)
        .replace(
            "  mode: ephemeral\n  volume_gb: 20            # kept while the pod is paused: $4.00/month\n",
            "  mode: network_volume\n  volume_name: shared-data\n",
        )
        .replace("datacenters: [EU-RO-1, US-CA-2]", "datacenters: [US-CA-2]");
    world.write(HELLO, &cfg);
    world
        .rpd(&["apply", "-y", HELLO])
        .status(1)
        .stderr_has("no network volume named \"shared-data\"");
    world
        .rpd(&["sim", "volume", "shared-data", "EU-RO-1", "50"])
        .status(0);
    world
        .rpd(&["apply", "-y", HELLO])
        .status(1)
        .stderr_has("network volume \"shared-data\" is in EU-RO-1, not in US-CA-2");
    assert!(world.pods().is_empty());
    world
        .rpd(&["sim", "volume", "shared-data", "US-CA-2", "50"])
        .status(0);
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let pods = world.pods();
    assert_eq!(pods[0]["storage"]["mode"], "network_volume");
    // The volume outlives the pod: a replacement sees the counter.
    world.rpd(&["apply", "-y", "--replace", HELLO]).status(0);
    let result = world.read("examples/artifacts/hello/result.txt");
    assert!(result.starts_with("run 2 of hello"), "{result}");
}

fn with_body_end(world: &World, end: &str) {
    let text = world.read(HELLO).replace("    echo HELLO_DONE\n", end);
    world.write(HELLO, &text);
}

#[test]
fn a_harmless_failure_marker_does_not_fail_a_job_that_exits_0() {
    let world = World::new();
    with_body_end(
        &world,
        "    echo \"Killed 0 stale workers (none found)\"\n    sleep 1\n    echo HELLO_DONE\n",
    );
    world
        .rpd(&["apply", "-y", HELLO])
        .status(0)
        .stderr_has("Failure marker \"Killed\" seen")
        .stderr_has("counted as a success");
}

#[test]
fn a_failure_marker_fails_the_job_when_the_script_goes_on() {
    let world = World::new();
    with_body_end(
        &world,
        "    echo 'CUDA out of memory'\n    sleep 60\n    echo HELLO_DONE\n",
    );
    let started = std::time::Instant::now();
    world
        .rpd_env(&["apply", "-y", HELLO], &[("RPD_MARKER_GRACE_SECS", "1")])
        .status(3)
        .stdout_has("failure marker \"CUDA out of memory\"");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn a_script_that_prints_the_success_marker_and_keeps_running_succeeds() {
    let world = World::new();
    with_body_end(&world, "    echo HELLO_DONE\n    sleep 600\n");
    let started = std::time::Instant::now();
    world
        .rpd_env(&["apply", "-y", HELLO], &[("RPD_MARKER_GRACE_SECS", "1")])
        .status(0)
        .stderr_has("counted as a success (runpod-deploy's rule)");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(world.pods()[0]["status"], "EXITED", "recycled anyway");
}

#[test]
fn a_pod_deleted_while_the_job_runs_fails_the_job_at_once() {
    let world = World::new();
    let child = world.apply_in_background(120);
    let id = world.pods()[0]["id"].as_str().unwrap().to_string();
    world.rpd(&["sim", "terminate", &id]).status(0);
    let killed = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("is deleted while the job ran"), "{stdout}");
    assert!(killed.elapsed() < std::time::Duration::from_secs(15));
    let state = world.state(HELLO_STATE).unwrap();
    assert!(
        state.get("pod_id").is_none(),
        "the gone pod is forgotten: {state}"
    );
}

#[test]
fn a_stop_that_fails_once_is_retried() {
    let world = World::new();
    let child = world.apply_in_background(1);
    let id = world.pods()[0]["id"].as_str().unwrap().to_string();
    world.rpd(&["sim", "fail-stop", &id, "1"]).status(0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(world.pods()[0]["status"], "EXITED");
}

#[test]
fn a_pod_that_will_not_stop_is_reported_as_billing_and_kept_tracked() {
    let world = World::new();
    let child = world.apply_in_background(1);
    let id = world.pods()[0]["id"].as_str().unwrap().to_string();
    world.rpd(&["sim", "fail-stop", &id, "10"]).status(0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("pod {id} did not stop")),
        "{stderr}"
    );
    assert!(stderr.contains("billing $0.44/hr"), "{stderr}");
    assert_eq!(world.pods()[0]["status"], "RUNNING");
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(
        state["pod"]["status"], "RUNNING",
        "recorded as it is: {state}"
    );
    // The next plan sees it running and reuses it; nothing is forgotten.
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has(&format!("({id}) is already RUNNING"));
    // A manifest was written even though the lifecycle failed.
    let runs = world.path("examples/artifacts/runpod");
    let dir = std::fs::read_dir(runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(dir.join("runpod_deploy_pull_manifest.json").exists());
}

#[test]
fn destroy_settles_an_interrupted_create_and_removes_the_state() {
    let world = World::new();
    let config = std::fs::canonicalize(world.path(HELLO)).unwrap();
    let state = serde_json::json!({
        "format_version": 1,
        "lineage": "2f4c4f82-63f1-40d6-9582-826057ac2a40",
        "serial": 2,
        "owner": {"config": config, "job_name": "hello"},
        "pending_create": {"name": "hello-20260101T000000Z-2f4c4f", "started_at": "2026-11-27T10:00:00Z"},
    });
    world.write(HELLO_STATE, &state.to_string());
    world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout_has("forget the interrupted create of \"hello-20260101T000000Z-2f4c4f\"");
    world.rpd(&["destroy", "-y", HELLO]).status(0);
    assert!(world.state(HELLO_STATE).is_none(), "state removed");
}

#[test]
fn configs_applied_together_get_their_own_pod_names_and_run_directories() {
    let world = World::new();
    let text = world.read(HELLO);
    world.write("examples/a.yaml", &text);
    world.write("examples/b.yaml", &text);
    world
        .rpd(&["apply", "-y", "examples/a.yaml", "examples/b.yaml"])
        .status(0);
    let names: Vec<String> = world
        .pods()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2);
    assert_ne!(names[0], names[1], "{names:?}");
    let runs: Vec<String> = std::fs::read_dir(world.path("examples/artifacts/runpod"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
}

#[test]
fn a_state_file_named_per_run_is_refused() {
    let world = World::new();
    let text = world.read(HELLO).replace(
        "name: hello",
        "name: hello\nstate_file: \"st/{run_id}.json\"",
    );
    world.write(HELLO, &text);
    world
        .rpd(&["plan", HELLO])
        .status(1)
        .stderr_has("`state_file` uses {run_id}, which changes on every run");
}
