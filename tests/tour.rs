//! The README tour, end to end on the simulator: plan, apply, apply again
//! (resume), an image bump (updated in place), --replace, destroy; plus the
//! exit-code contract.
//!
//! Progress on stderr during an apply races the job (whether the success
//! marker is seen before the script's exit, byte counts that grow with the
//! run number), so apply steps check stderr for landmarks only; stdout (the
//! plan and the summary) and every other command's output are compared whole,
//! except in steps that only set the scene for what a test is about.

mod common;

use std::time::Duration;

use common::hello::{
    CREATE_PLAN, HELLO, HELLO_STATE, RESUME_PLAN, RUNNING_PLAN, UPDATE_PLAN, applied,
    create_plan_with_candidates, deleted_plan, succeeded, with_block,
};
use common::{Test, World, edited, unindent, wait_until};

fn pod_id(world: &World) -> String {
    let state = world.state(HELLO_STATE).expect("state exists");
    state["pod_id"].as_str().expect("pod_id").to_string()
}

/// The steps of a replacement of the pod shown as `[OLD]` (after the
/// reason it is replaced for).
const REPLACE_STEPS: &str = r#"
      Candidates, in order:
         1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high
         2. EU-RO-1 / NVIDIA RTX A5000             $0.27/hr  stock high
         3. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high
         4. US-CA-2 / NVIDIA RTX A5000             $0.27/hr  stock high

      Steps:
         1. delete pod [OLD] ({reason})
         2. create pod "hello" on the first candidate with capacity (replaces [OLD])
         3. wait until the pod runs and its shell answers (up to 15m00s)
         4. setup: 1 command
         5. staging: 1 push (incremental)
         6. launch /workspace/hello/run.sh, detached
         7. follow the job until it exits or prints a marker (timeout 10m00s)
         8. pull the log and 1 artifact
         9. if the job succeeds: recycle (stop the pod) (kept to resume next time)
        10. if the job fails: stop the pod (kept for forensics; the next apply creates a fresh pod)

    Note: the pod stops itself at about [DATE] [TIME] UTC (max runtime, counted from the job's start) or 10 minutes after the job ends if rpd is not attached (rpd's guard on the pod; lifecycle.unattended_stop_after_sec)

    Plan: 1 to create, 0 to resume, 1 to destroy, 1 to stop.
    Cost: $0.44/hr while running; $4.00/month ($0.13/day) while paused for reuse (20 GB volume).
"#;

/// The plan to replace hello's pod `[OLD]`: `header` says why, `reason`
/// is the delete step's reason.
fn replace_plan(header: &str, reason: &str) -> String {
    format!(
        "rpd plan for examples/hello.yaml (job \"hello\")\n\nrpd will perform the following actions:\n\n{}\n{}",
        unindent(header),
        edited(&unindent(REPLACE_STEPS), "{reason}", reason)
    )
}

#[test]
fn a_first_plan_shows_a_create_exits_2_with_detailed_exitcode_and_changes_nothing() {
    let world = World::new();
    world
        .test()
        .args(["plan", "--detailed-exitcode", HELLO])
        .status(2)
        .stdout(CREATE_PLAN)
        .run();
    world.test().args(["plan", HELLO]).stdout(CREATE_PLAN).run();
    assert!(world.pods().is_empty(), "plan changes nothing");
    assert!(world.state(HELLO_STATE).is_none(), "plan writes no state");
}

#[test]
fn the_tour_creates_recycles_resumes_updates_in_place_replaces_on_request_then_destroys() {
    let world = World::new();

    // apply: create, run, recycle (stopped, kept)
    world
        .test()
        .args(["apply", "-y", HELLO])
        .stdout(&applied(
            CREATE_PLAN,
            &succeeded("1 created, 0 resumed, 0 destroyed, 1 stopped"),
        ))
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    let first = pod_id(&world);
    let pods = world.pods();
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["id"], first.as_str());
    assert_eq!(pods[0]["status"], "EXITED");
    assert_eq!(world.calls()["create"], 1);
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        format!("run 1 of hello on pod {first}\n")
    );

    // plan again: resume the same pod (the routine run: exit 0)
    world
        .test()
        .args(["plan", "--detailed-exitcode", HELLO])
        .known(&first, "[PAUSED]")
        .status(0)
        .stdout(RESUME_PLAN)
        .run();
    world.reset_calls();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .known(&first, "[PAUSED]")
        .stdout(&applied(
            RESUME_PLAN,
            &succeeded("0 created, 1 resumed, 0 destroyed, 1 stopped"),
        ))
        .stderr_has("hello: Resuming paused pod [PAUSED]...\n")
        .run();
    assert_eq!(world.call_counts(&["start", "create"]), [1, 0]);
    assert_eq!(pod_id(&world), first);
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        format!("run 2 of hello on pod {first}\n"),
        "the volume survived the stop"
    );

    // image change: updated in place, the volume kept (tests/update_in_place.rs
    // has the plan); a GPU change, or --replace, makes a new pod
    world.edit(HELLO, "torch280-ubuntu2404", "torch291-ubuntu2404");
    world.reset_calls();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .known(&first, "[PAUSED]")
        .stdout_has("  # pod \"hello\" ([PAUSED]) will be updated in place, then resumed (EXITED -> RUNNING)\n")
        .stdout_has(&succeeded(
            "0 created, 1 updated in place, 1 resumed, 0 destroyed, 1 stopped",
        ))
        .stderr_has("hello: Updating pod [PAUSED] in place (image)...\n")
        .run();
    assert_eq!(
        world.call_counts(&["update", "delete", "create"]),
        [1, 0, 0]
    );
    let second = pod_id(&world);
    assert_eq!(second, first);
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        format!("run 3 of hello on pod {first}\n"),
        "the volume survived the update"
    );

    // --replace: the same, "as requested"
    let replace = replace_plan(
        r#"
          # pod "hello" will be replaced, as requested
        -/+ pod "hello" {
              ~ id = "[OLD]" -> (known after apply)
                # (10 unchanged attributes hidden)
            }
        "#,
        "replaced, as requested",
    );
    world
        .test()
        .args(["plan", "--replace", HELLO])
        .known(&second, "[OLD]")
        .stdout(&replace)
        .run();
    world.reset_calls();
    world
        .test()
        .args(["apply", "-y", "--replace", HELLO])
        .known(&second, "[OLD]")
        .stdout(&applied(
            &replace,
            &succeeded("1 created, 0 resumed, 1 destroyed, 1 stopped"),
        ))
        .stderr_has("hello: Destroying pod [OLD]...\n")
        .run();
    assert_eq!(world.call_counts(&["delete", "create"]), [1, 1]);
    let third = pod_id(&world);
    assert_ne!(third, second);

    // destroy: no pod, no state
    world
        .test()
        .args(["destroy", "-y", HELLO])
        .known(&third, "[LAST]")
        .stdout(
            r#"
            rpd destroy plan for examples/hello.yaml (job "hello")

            rpd will perform the following actions:

              # pod "hello" ([LAST]) will be destroyed
              # (because destroy requested)
              - pod "hello" {
                  - image             = "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404"
                  - gpu               = "NVIDIA GeForce RTX 4090"
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
                1. delete pod [LAST] (destroy requested)
                2. remove the state file (nothing left to track)

              State only (no provider calls):
                · remove the state file

            Plan: 0 to create, 0 to resume, 1 to destroy, 0 to stop.


            hello: destroy complete! Pods: 1 destroyed.
            "#,
        )
        .stderr(
            "
            hello: Destroying pod [LAST]...
            hello: Destruction complete after [ELAPSED] [id=[LAST]]
            hello: Removed the state file [TMP]/examples/.rpd/hello.state.json (its last version is kept as [TMP]/examples/.rpd/hello.state.json.backup)
            ",
        )
        .run();
    assert!(world.pods().is_empty());
    assert!(world.state(HELLO_STATE).is_none());
    world
        .test()
        .args(["destroy", "-y", HELLO])
        .stdout(
            r#"
            rpd destroy plan for examples/hello.yaml (job "hello")

            No changes. No state recorded for this config.
            "#,
        )
        .run();
}

#[test]
fn a_change_made_outside_rpd_is_shown_in_its_own_block_before_the_actions() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    world
        .rpd(&["sim", "set", &id, "image=evil:latest"])
        .status(0);
    world
        .test()
        .args(["plan", HELLO])
        .known(&id, "[PAUSED]")
        .stdout(&with_block(
            &edited(
                UPDATE_PLAN,
                r#"~ image  = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404" -> "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404""#,
                r#"~ image  = "evil:latest" -> "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404""#,
            ),
            "rpd will perform",
            r#"
            Changes made outside rpd:
              # pod "hello" ([PAUSED]) has changed
                  ~ image = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404" -> "evil:latest"
            ─────────────────────────────────────────────────────────────────────────────

            "#,
        ))
        .run();

    world.rpd(&["sim", "terminate", &id]).status(0);
    world
        .test()
        .args(["plan", HELLO])
        .known(&id, "[GONE]")
        .stdout(&deleted_plan())
        .run();
}

#[test]
fn a_pod_started_in_the_console_is_reused_and_reported_as_billing() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    world.rpd(&["sim", "start", &id]).status(0);
    wait_until(Duration::from_secs(10), "the pod to run", || {
        world.pods()[0]["status"] == "RUNNING"
    });
    let plan = with_block(
        RUNNING_PLAN,
        "rpd will perform",
        "
        Changes made outside rpd:
          # pod \"hello\" ([RUNNING]) has changed
              ~ status = \"EXITED\" -> \"RUNNING\" (started outside rpd: it is billing)
        ─────────────────────────────────────────────────────────────────────────────

        ",
    );
    world
        .test()
        .args(["plan", HELLO])
        .known(&id, "[RUNNING]")
        .stdout(&plan)
        .run();
    world.reset_calls();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .known(&id, "[RUNNING]")
        .stdout(&applied(
            &plan,
            &succeeded("0 created, 0 resumed, 0 destroyed, 1 stopped"),
        ))
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    assert_eq!(world.call_counts(&["start", "create"]), [0, 0]);
}

#[test]
fn a_resume_that_finds_the_host_busy_with_recreate_deletes_the_paused_pod_then_creates() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let old = pod_id(&world);
    world.rpd(&["sim", "fail-next-start", &old]).status(0);
    world.reset_calls();
    let plan = edited(
        &unindent(RESUME_PLAN),
        "try again for up to 2m00s, then delete [PAUSED] (its volume is lost) and create on the candidates if one has stock; with none, keep it paused and stop",
        "delete [PAUSED] (its volume is lost) and create on the candidates if one has stock; with none, keep it paused and stop (--on-busy-host recreate)",
    );
    world
        .test()
        .args(["apply", "-y", "--on-busy-host", "recreate", HELLO])
        .known(&old, "[PAUSED]")
        .stdout(&applied(
            &plan,
            &succeeded("1 created, 0 resumed, 1 destroyed, 1 stopped"),
        ))
        .stderr_has("There are not enough free GPUs on the host machine to start this pod.")
        .run();
    assert_eq!(
        world.call_counts(&["start", "start_failed", "delete", "create"]),
        [1, 1, 1, 1]
    );
    let pods = world.pods();
    assert_eq!(pods.len(), 1, "no orphaned paused pod: {pods:?}");
    assert_ne!(pods[0]["id"], old.as_str());
    assert_eq!(pod_id(&world), pods[0]["id"].as_str().unwrap());
}

#[test]
fn an_out_of_stock_first_candidate_is_skipped_for_the_next() {
    let world = World::new();
    world
        .rpd(&["sim", "stock", "EU-RO-1", "NVIDIA GeForce RTX 4090", "0"])
        .status(0);
    let plan = create_plan_with_candidates(
        "
         1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock none, skipped
         2. EU-RO-1 / NVIDIA RTX A5000             $0.27/hr  stock high
         3. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high
         4. US-CA-2 / NVIDIA RTX A5000             $0.27/hr  stock high
        ",
    );
    let plan = edited(
        &plan,
        r#"gpu               = "NVIDIA GeForce RTX 4090""#,
        r#"gpu               = "NVIDIA RTX A5000""#,
    );
    let plan = edited(&plan, "Cost: $0.44/hr", "Cost: $0.27/hr");
    world.test().args(["plan", HELLO]).stdout(&plan).run();
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
    let plan = &with_block(
        &edited(
            &create_plan_with_candidates(
                "
                 1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock none, skipped
                 2. EU-RO-1 / NVIDIA RTX A5000             $0.27/hr  stock none, skipped
                 3. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  stock none, skipped
                 4. US-CA-2 / NVIDIA RTX A5000             $0.27/hr  stock none, skipped
                ",
            ),
            "Cost: $0.44/hr while running; ",
            "Cost: ",
        ),
        "Note: the pod stops itself",
        "
        Warning: no candidate (datacenter x GPU) has stock right now: a create will fail unless stock returns; add datacenters or GPUs to the config
        ",
    );
    world.test().args(["plan", HELLO]).stdout(plan).run();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout(&applied(
            plan,
            "hello: apply stopped. Pods: 0 created, 0 resumed, 0 destroyed, 0 stopped.\n",
        ))
        .stderr(
            "
            error: hello: no candidate could take the pod:
                EU-RO-1 / NVIDIA GeForce RTX 4090: skipped, no stock
                EU-RO-1 / NVIDIA RTX A5000: skipped, no stock
                US-CA-2 / NVIDIA GeForce RTX 4090: skipped, no stock
                US-CA-2 / NVIDIA RTX A5000: skipped, no stock
              = help: add datacenters or GPU types to the config, or retry when stock returns
            ",
        )
        .run();
    assert!(world.pods().is_empty());
    assert!(
        world.state(HELLO_STATE).is_none(),
        "nothing was created: no state is left"
    );
}

#[test]
fn a_failed_job_exits_3_carries_out_on_failure_and_keeps_the_pod_for_forensics() {
    let world = World::new();
    world.edit(HELLO, "    echo HELLO_DONE\n", "    exit 1\n");
    world
        .test()
        .args(["apply", "-y", HELLO])
        .status(3)
        .stdout(&applied(
            CREATE_PLAN,
            "
            hello: apply finished, job failed. Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped. Job failed in [ELAPSED] (monitor: the script exited with status 1); on_failure: stop was carried out.
              Run directory: [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]
              Warning: pod [POD] stopped for forensics; its volume keeps billing ~$0.13/day (~$4.00/month) until `rpd destroy examples/hello.yaml`
            ",
        ))
        .stderr_has("hello: Lifecycle on_failure: stop\n")
        .run();
    let pods = world.pods();
    assert_eq!(pods[0]["status"], "EXITED");
    let state = world.state(HELLO_STATE).unwrap();
    assert!(
        state.get("pod_id").is_none(),
        "a stopped pod is not resumed"
    );
    assert_eq!(state["retained"][0]["id"], pods[0]["id"]);
    assert!(world.path("examples/artifacts/runpod").exists());

    // The next plan creates a fresh pod and lists the retained one with its
    // cost (the whole plan is pinned by plan_snapshots'
    // after_a_failed_job_with_a_retained_pod).
    world
        .test()
        .args(["plan", HELLO])
        .stdout_has("  # pod \"hello\" will be created\n")
        .stdout_has(concat!(
            "  Pods kept for forensics (not touched by this plan):\n",
            "    [POD] EXITED, on_failure: stop ($4.00/month); `rpd destroy` deletes it\n",
        ))
        .run();
    // destroy deletes it too
    world
        .test()
        .args(["destroy", "-y", HELLO])
        .stdout(
            "
            rpd destroy plan for examples/hello.yaml (job \"hello\")

            rpd will perform the following actions:

              # no pod recorded

              Steps:
                1. delete retained pod [POD] (retained since [DATE] (on_failure: stop), EXITED)
                2. remove the state file (nothing left to track)

              State only (no provider calls):
                · remove the state file

            Plan: 0 to create, 0 to resume, 1 to destroy, 0 to stop.


            hello: destroy complete! Pods: 1 destroyed.
            ",
        )
        .stderr(
            "
            hello: Destroying pod [POD]...
            hello: Destruction complete after [ELAPSED] [id=[POD]]
            hello: Removed the state file [TMP]/examples/.rpd/hello.state.json (its last version is kept as [TMP]/examples/.rpd/hello.state.json.backup)
            ",
        )
        .run();
    assert!(world.pods().is_empty());
}

#[test]
fn a_runpod_deploy_pointer_is_adopted_and_its_pod_resumed() {
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
        .test()
        .args(["plan", HELLO])
        .known(&id, "[PAUSED]")
        .stdout(&pointer_plan())
        .run();
    world.reset_calls();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    assert_eq!(world.call_counts(&["start", "create"]), [1, 0]);
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
fn a_runpod_deploy_pointer_with_the_id_alias_and_no_spec_is_adopted() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    world.write(HELLO_STATE, &format!("{{\"podId\": \"{id}\"}}"));
    world
        .test()
        .args(["plan", HELLO])
        .known(&id, "[PAUSED]")
        .stdout(&pointer_plan())
        .run();
}

/// The resume plan when the state file is a runpod-deploy pointer.
fn pointer_plan() -> String {
    let note = "Note: [TMP]/examples/.rpd/hello.state.json is a runpod-deploy pointer: rpd adopts it and rewrites it in its own format (keeping the pod_id, gpu_id, image and datacenter_id keys) on apply\n";
    let plan = unindent(RESUME_PLAN);
    let (before, after) = plan.split_once("\nPlan: ").expect("a summary line");
    format!("{before}{note}\nPlan: {after}")
}

/// The smallest job, as config `name`, with `more` keys at the end.
fn small_config(name: &str, more: &str) -> String {
    let config = format!(
        r#"
        schema_version: 2
        name: {name}
        pod:
          image: runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404
          datacenters: [EU-RO-1]
          gpu_order: ["NVIDIA GeForce RTX 4090"]
        storage:
          mode: ephemeral
          volume_gb: 20
        run:
          script_path: /workspace/run.sh
          log_path: /workspace/run.log
          success_marker: DONE
          body: echo DONE
        lifecycle:
          on_success: recycle
        "#
    );
    format!("{}{more}\n", unindent(&config))
}

#[test]
fn a_state_file_of_another_config_is_refused_until_reassigned() {
    let shared = "state_file: shared.json";
    let run = Test::new()
        .file("a.yaml", &small_config("a", shared))
        .file("b.yaml", &small_config("b", shared))
        .args(["apply", "-y", "a.yaml"])
        .stdout_has("a: apply complete!")
        .stderr_has("a: Lifecycle on_success: recycle\n")
        .run();
    let world = run.world();
    let before = world.read("shared.json");
    world
        .test()
        .args(["plan", "b.yaml"])
        .status(1)
        .stderr(
            "
            error: state file [TMP]/shared.json belongs to another config
              recorded owner: [TMP]/a.yaml (job \"a\")
              this config:    [TMP]/b.yaml (job \"b\")
              = help: each config needs its own state file: give this config its own `state_file:`, or remove the key to use the per-config default.
                      If this config is the same job moved or renamed, take the state over with:
                        rpd state reassign [TMP]/b.yaml
            ",
        )
        .run();
    assert_eq!(world.read("shared.json"), before, "the state is untouched");
    world
        .test()
        .args(["state", "reassign", "b.yaml"])
        .stdout("[TMP]/shared.json now belongs to [TMP]/b.yaml (was [TMP]/a.yaml).\n")
        .run();
    world
        .test()
        .args(["plan", "b.yaml"])
        .stdout_has("Plan: 0 to create, 1 to resume, 0 to destroy, 1 to stop.\n")
        .run();
}

/// A copy of another config's state, reassigned, would make two configs
/// manage one pod (destroying one deleted the other's pod): refused.
#[test]
fn reassigning_a_copy_of_another_configs_state_is_refused() {
    let run = Test::new()
        .file("a.yaml", &small_config("a", "state_file: a.json"))
        .file("b.yaml", &small_config("b", "state_file: b.json"))
        .args(["apply", "-y", "a.yaml"])
        .stdout_has("a: apply complete!")
        .stderr_has("a: Lifecycle on_success: recycle\n")
        .run();
    let world = run.world();
    world.rpd(&["apply", "-y", "b.yaml"]).status(0);
    let a_state = world.read("a.json");
    world.write("b.json", &a_state);
    let pod: serde_json::Value = serde_json::from_str(&a_state).unwrap();
    let pod = pod["pod"]["id"].as_str().unwrap().to_string();
    world
        .test()
        .args(["state", "reassign", "b.yaml"])
        .known(&pod, "[POD]")
        .status(1)
        .stderr("error: [TMP]/b.json tracks pod [POD], which [TMP]/a.yaml's state tracks too: this state file looks like a copy of it, and two configs would manage one pod\n  = help: `rpd state rm b.yaml [POD]` forgets it here (then reassign), or `rpd state rm [TMP]/a.yaml [POD]` if it should be this config's\n")
        .run();
    assert_eq!(world.read("b.json"), a_state, "the copy is left as it was");
}

#[test]
fn foreign_and_corrupt_state_files_are_refused_and_left_alone() {
    let world = World::new();
    let terraform = r#"{"version": 4, "terraform_version": "1.9.0", "resources": []}"#;
    world.write(HELLO_STATE, terraform);
    let refused = r#"
        error: planning examples/hello.yaml
          caused by: state file [TMP]/examples/.rpd/hello.state.json is neither an rpd state nor a runpod-deploy pointer (it has keys "version", "terraform_version", "resources")
          = help: rpd leaves it untouched; point `state_file:` at another path, or remove the key to use the per-config default
    "#;
    world
        .test()
        .args(["plan", HELLO])
        .status(1)
        .stderr(refused)
        .run();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .status(1)
        .stderr(refused)
        .run();
    assert_eq!(world.read(HELLO_STATE), terraform);
    assert!(world.pods().is_empty());

    world.write(HELLO_STATE, "{\"format_version\": 1, \"lin");
    world
        .test()
        .args(["plan", HELLO])
        .status(1)
        .stderr(
            "
            error: planning examples/hello.yaml
              caused by: state file [TMP]/examples/.rpd/hello.state.json is not valid JSON (line 1, column 26): EOF while parsing a string at line 1 column 26
              = help: rpd never overwrites it; fix or move the file by hand
            ",
        )
        .run();
}

#[test]
fn a_state_from_another_provider_is_refused() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let mut state = world.state(HELLO_STATE).unwrap();
    state["pod"]["provider"] = "runpod".into();
    world.write(HELLO_STATE, &state.to_string());
    world
        .test()
        .args(["plan", HELLO])
        .status(1)
        .stderr(
            "
            error: planning examples/hello.yaml
              caused by: the state file [TMP]/examples/.rpd/hello.state.json tracks pods created with --provider runpod, but this run uses --provider sim
              = help: pass --provider runpod (or set RPD_PROVIDER=runpod), or point `state_file:` elsewhere
            ",
        )
        .run();
}

#[test]
fn apply_without_a_terminal_needs_auto_approve() {
    let world = World::new();
    // The plan is shown, then the refusal says what to do.
    world
        .test()
        .args(["apply", HELLO])
        .status(1)
        .stdout(CREATE_PLAN)
        .stderr(
            "
            error: standard input is not a terminal, so rpd cannot ask for confirmation
              = help: review the plan above, then pass -y/--auto-approve to apply without asking (or save it with `rpd plan -o plan.json` and `rpd apply plan.json`)
            ",
        )
        .run();
    assert!(world.pods().is_empty());
}

#[test]
fn the_provider_option_goes_before_or_after_the_subcommand() {
    let world = World::new();
    world
        .test()
        .env_remove("RPD_PROVIDER")
        .args(["--provider", "sim", "plan", HELLO])
        .stdout(CREATE_PLAN)
        .run();
    world
        .test()
        .env_remove("RPD_PROVIDER")
        .args(["plan", HELLO, "--provider", "sim"])
        .stdout(CREATE_PLAN)
        .run();
    world
        .test()
        .args(["plan", HELLO, "--provider", "nope"])
        .status(1)
        .stderr(
            "
            error: unknown provider \"nope\"
              = help: use --provider runpod (RunPod's REST v2 API, the default), --provider runpodctl (drives the runpodctl v2 CLI) or --provider sim (the embedded simulator, no account needed)
            ",
        )
        .run();
}

#[test]
fn usage_errors_exit_1_and_help_and_version_exit_0() {
    // The world sets RPD_PROVIDER: the usage line still does not show
    // --provider, as if it were required.
    let world = World::new();
    world
        .test()
        .args(["plan"])
        .status(1)
        .stderr(
            "
            error: the following required arguments were not provided:
              <CONFIG>...

            Usage: rpd plan <CONFIG>...

            For more information, try '--help'.
            ",
        )
        .run();
    world
        .test()
        .args(["frobnicate"])
        .status(1)
        .stderr(
            "
            error: unrecognized subcommand 'frobnicate'

            Usage: rpd [OPTIONS] <COMMAND>

            For more information, try '--help'.
            ",
        )
        .run();
    // The rest of the help text is clap's layout of every option; this pins
    // the exit-code contract at its end.
    world
        .test()
        .args(["--help"])
        .stdout_has(concat!(
            "\nExit codes:\n",
            "  0    success; for `plan`/`diff --detailed-exitcode`: nothing beyond the routine run\n",
            "  1    error; the state file records whatever was done before it (see `rpd plan`)\n",
            "  2    `plan`/`diff --detailed-exitcode`: pods change beyond the routine run (a pod is\n",
            "       created, updated in place, replaced or deleted, or was changed outside rpd);\n",
            "       resuming or reusing an up-to-date pod, running the job and its lifecycle is 0\n",
            "  3    `apply`: the job ran and failed; its on_failure action was carried out\n",
            "  130  interrupted (Ctrl-C); the state is consistent\n",
        ))
        .run();
    world
        .test()
        .args(["--version"])
        .stdout(&format!("rpd {}\n", env!("CARGO_PKG_VERSION")))
        .run();
    world
        .test()
        .args(["plan", "missing.yaml"])
        .status(1)
        .stderr(
            "
            error: cannot read config: No such file or directory (os error 2)
              --> missing.yaml
               = help: check the path; configs are YAML files such as examples/hello.yaml
            ",
        )
        .run();
}

#[test]
fn several_configs_are_planned_and_applied_together() {
    let world = World::new();
    let train = "examples/drift/train.yaml";
    world
        .test()
        .args(["plan", "--detailed-exitcode", HELLO, train])
        .status(2)
        .stdout(&format!(
            "{}\n{}\n2 configs: 2 with pod changes, 0 with only the routine run, 0 failed.\n",
            unindent(CREATE_PLAN),
            unindent(
                r#"
                rpd plan for examples/drift/train.yaml (job "train")

                rpd will perform the following actions:

                  # pod "train" will be created
                  + pod "train" {
                      + image             = "runpod/pytorch:2.8.0"
                      + gpu               = "NVIDIA A40" (first with stock, see candidates)
                      + gpu_count         = 1
                      + datacenter        = "EU-RO-1"
                      + cloud_type        = "SECURE"
                      + container_disk_gb = 20
                      + storage_mode      = "ephemeral"
                      + volume_gb         = 50
                      + volume_mount      = "/workspace"
                      + ports             = ["22/tcp"]
                      + id                = (known after apply)
                    }

                  Candidates, in order:
                     1. EU-RO-1 / NVIDIA A40       $0.40/hr  stock high
                     2. EU-RO-1 / NVIDIA L40S      $0.86/hr  stock high

                  Steps:
                    1. create pod "train" on the first candidate with capacity (no pod recorded)
                    2. wait until the pod runs and its shell answers (up to 15m00s)
                    3. launch /workspace/train/run.sh, detached
                    4. follow the job until it exits or prints a marker (timeout 5m00s)
                    5. pull the log
                    6. if the job succeeds: recycle (stop the pod) (kept to resume next time)
                    7. if the job fails: stop the pod (kept for forensics; the next apply creates a fresh pod)

                Note: the pod stops itself at about [DATE] [TIME] UTC (max runtime, counted from the job's start) or 10 minutes after the job ends if rpd is not attached (rpd's guard on the pod; lifecycle.unattended_stop_after_sec)

                Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop.
                Cost: $0.40/hr while running; $10.00/month ($0.33/day) while paused for reuse (50 GB volume).
                "#
            )
        ))
        .run();
    world.rpd(&["apply", "-y", HELLO, train]).status(0);
    let pods = world.pods();
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p["status"] == "EXITED"));
}

#[test]
fn configs_sharing_one_state_file_are_refused_before_anything_runs() {
    let shared = "state_file: one.json";
    // The plan plans the first and counts the second as failed ...
    let ran = Test::new()
        .file("a.yaml", &small_config("a", shared))
        .file("b.yaml", &small_config("b", shared))
        .args(["plan", "a.yaml", "b.yaml"])
        .status(1)
        .stdout_has("\n2 configs: 1 with pod changes, 0 with only the routine run, 1 failed.\n")
        .stderr(
            "
            error: planning b.yaml
              caused by: two configs use the same state file [TMP]/one.json
              = help: each config needs its own state file; set a different `state_file:` (templates like {seed} work) or remove the key
            ",
        )
        .run();
    // ... and apply runs neither.
    let world = ran.world();
    world
        .test()
        .args(["apply", "-y", "a.yaml", "b.yaml"])
        .status(1)
        .stderr(
            "
            error: two configs use the same state file [TMP]/one.json
              = help: each config needs its own state file; set a different `state_file:` (templates like {seed} work) or remove the key
            ",
        )
        .run();
    assert!(world.pods().is_empty());
}

#[test]
fn a_templated_state_file_gives_each_shard_its_own_state() {
    let ran = Test::new()
        .file(
            "shard.yaml",
            &small_config(
                "train-{seed}",
                "state_file: state/train-{seed}.json\nvariables:\n  seed: \"0\"",
            ),
        )
        .args(["apply", "-y", "shard.yaml", "--var", "seed=1"])
        .stdout_has("train-1: apply complete!")
        .stderr_has("train-1: Lifecycle on_success: recycle\n")
        .run();
    let world = ran.world();
    world
        .test()
        .args(["apply", "-y", "shard.yaml", "--var", "seed=2"])
        .stdout_has("train-2: apply complete!")
        .stderr_has("train-2: Lifecycle on_success: recycle\n")
        .run();
    assert_eq!(
        world.state("state/train-1.json").unwrap()["owner"]["job_name"],
        "train-1"
    );
    assert_eq!(
        world.state("state/train-2.json").unwrap()["owner"]["job_name"],
        "train-2"
    );
    assert_eq!(world.pods().len(), 2);
}

#[test]
fn json_plan_carries_the_same_plan() {
    let world = World::new();
    let doc = world
        .rpd(&["plan", "--format", "json", HELLO])
        .status(0)
        .json();
    assert_eq!(doc["format_version"], "3.0");
    let config = &doc["configs"][0];
    assert_eq!(
        config["summary_line"],
        "Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop."
    );
    assert_eq!(config["has_pod_changes"], true);
    assert_eq!(config["steps"][0]["op"], "create_pod");
    assert_eq!(config["steps"][1]["after"], serde_json::json!([1]));
    assert_eq!(config["pod"]["action"], "create");
}

#[test]
fn logs_show_the_running_pods_log_then_the_last_pulled_one() {
    let world = World::new();
    world.edit(HELLO, "on_success: recycle", "on_success: preserve");
    world
        .test()
        .args(["apply", "-y", HELLO])
        .stdout_has("preserved: it is still running and billing")
        .stderr_has("hello: Lifecycle on_success: preserve\n")
        .run();
    let id = world.pods()[0]["id"].as_str().unwrap().to_string();
    world
        .test()
        .args(["logs", HELLO, "-n", "1"])
        .known(&id, "[RUNNING]")
        .stdout("HELLO_DONE\n")
        .stderr("# /workspace/hello/run.log on pod [RUNNING]\n")
        .run();
    // Following a job that has ended: the log, then a closing line, exit 0.
    world
        .test()
        .args(["logs", HELLO, "-f", "-n", "1"])
        .known(&id, "[RUNNING]")
        .stdout("HELLO_DONE\n")
        .stderr(
            "
            # /workspace/hello/run.log on pod [RUNNING]
            # the job exited with status 0; that is the whole log
            ",
        )
        .run();
    world.rpd(&["sim", "stop", &id]).status(0);
    world
        .test()
        .args(["logs", HELLO])
        .known(&id, "[STOPPED]")
        // The log's first lines name the host and the time: only its end is fixed.
        .stdout_has("\nrun 1 of hello on pod [STOPPED]\nHELLO_DONE\n")
        .stderr_has("# [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]/run.log (pod [STOPPED] is not running; this is the last log rpd pulled)\n")
        .run();
}

#[test]
fn with_env_setup_commands_get_the_remote_env_prefix_and_the_body_does_not() {
    let ran = Test::new()
        .file(
            "env.yaml",
            r#"
            schema_version: 2
            name: env
            pod:
              image: runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404
              datacenters: [EU-RO-1]
              gpu_order: ["NVIDIA GeForce RTX 4090"]
            storage:
              mode: ephemeral
              volume_gb: 20
            remote_env:
              exports:
                GREETING: "hi there"
            setup:
              - command: echo "$GREETING" > /workspace/setup-env.txt
                with_env: true
              - command: echo "[${GREETING:-unset}]" > /workspace/setup-noenv.txt
            run:
              script_path: /workspace/run.sh
              log_path: /workspace/run.log
              success_marker: DONE
              body: |
                echo "[${GREETING:-unset}]" > /workspace/body-env.txt
                echo DONE
            lifecycle:
              on_success: preserve
            "#,
        )
        .args(["apply", "-y", "env.yaml"])
        .stdout_has("env: apply complete!")
        .stderr_has("env: Lifecycle on_success: preserve\n")
        .run();
    let world = ran.world();
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
        .test()
        .args(["plan", HELLO, "--fallback-cloud-type", "COMMUNITY"])
        .stdout(
            &edited(
                &edited(
                    &create_plan_with_candidates(
                        "
                         1. EU-RO-1 / NVIDIA GeForce RTX 4090 (SECURE)         $0.44/hr  stock none, skipped
                         2. EU-RO-1 / NVIDIA GeForce RTX 4090 (COMMUNITY)      $0.31/hr  stock high
                         3. EU-RO-1 / NVIDIA RTX A5000 (SECURE)                $0.27/hr  stock none, skipped
                         4. EU-RO-1 / NVIDIA RTX A5000 (COMMUNITY)             $0.16/hr  stock high
                         5. US-CA-2 / NVIDIA GeForce RTX 4090 (SECURE)         $0.44/hr  stock none, skipped
                         6. US-CA-2 / NVIDIA GeForce RTX 4090 (COMMUNITY)      $0.31/hr  stock high
                         7. US-CA-2 / NVIDIA RTX A5000 (SECURE)                $0.27/hr  stock none, skipped
                         8. US-CA-2 / NVIDIA RTX A5000 (COMMUNITY)             $0.16/hr  stock high
                        ",
                    ),
                    r#"cloud_type        = "SECURE""#,
                    r#"cloud_type        = "COMMUNITY""#,
                ),
                "Cost: $0.44/hr",
                "Cost: $0.31/hr",
            ),
        )
        .run();
    world
        .test()
        .args(["apply", "-y", HELLO, "--fallback-cloud-type", "COMMUNITY"])
        .stdout_has("hello: apply complete! Pods: 1 created")
        .stderr_has("Created on the fallback cloud COMMUNITY")
        .run();
    let id = pod_id(&world);
    assert_eq!(world.pods()[0]["cloud_type"], "COMMUNITY");
    // The pod on the fallback cloud is resumed while the fallback is allowed,
    // and replaced when it is not.
    world
        .test()
        .args(["plan", HELLO, "--fallback-cloud-type", "COMMUNITY"])
        .known(&id, "[PAUSED]")
        // Not the cost line: it prices the COMMUNITY pod at the SECURE rate.
        .stdout_has(concat!(
            "  # pod \"hello\" ([PAUSED]) will be resumed (EXITED -> RUNNING)\n",
            "  ~ pod \"hello\" {\n",
            "      ~ status = \"EXITED\" -> \"RUNNING\"\n",
            "        # (no attribute changes)\n",
            "    }\n",
        ))
        .stdout_has("\nPlan: 0 to create, 1 to resume, 0 to destroy, 1 to stop.\n")
        .run();
    world
        .test()
        .args(["plan", HELLO])
        .known(&id, "[OLD]")
        .stdout(
            r#"
            rpd plan for examples/hello.yaml (job "hello")

            rpd will perform the following actions:

              # pod "hello" must be replaced
              # (because cloud_type cannot change on an existing pod)
            -/+ pod "hello" {
                  ~ cloud_type = "COMMUNITY" -> "SECURE" # forces replacement
                  ~ id         = "[OLD]" -> (known after apply)
                    # (9 unchanged attributes hidden)
                }

              Candidates, in order:
                 1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock none, skipped
                 2. EU-RO-1 / NVIDIA RTX A5000             $0.27/hr  stock none, skipped
                 3. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  stock none, skipped
                 4. US-CA-2 / NVIDIA RTX A5000             $0.27/hr  stock none, skipped

              Steps:
                 1. delete pod [OLD] (cloud_type cannot change on an existing pod)
                 2. create pod "hello" on the first candidate with capacity (replaces [OLD])
                 3. wait until the pod runs and its shell answers (up to 15m00s)
                 4. setup: 1 command
                 5. staging: 1 push (incremental)
                 6. launch /workspace/hello/run.sh, detached
                 7. follow the job until it exits or prints a marker (timeout 10m00s)
                 8. pull the log and 1 artifact
                 9. if the job succeeds: recycle (stop the pod) (kept to resume next time)
                10. if the job fails: stop the pod (kept for forensics; the next apply creates a fresh pod)

            Warning: no candidate (datacenter x GPU) has stock right now: a create will fail unless stock returns; add datacenters or GPUs to the config
            Note: the pod stops itself at about [DATE] [TIME] UTC (max runtime, counted from the job's start) or 10 minutes after the job ends if rpd is not attached (rpd's guard on the pod; lifecycle.unattended_stop_after_sec)

            Plan: 1 to create, 0 to resume, 1 to destroy, 1 to stop.
            Cost: $4.00/month ($0.13/day) while paused for reuse (20 GB volume).
            "#,
        )
        .run();
}

#[test]
fn a_network_volume_is_resolved_in_the_pods_datacenter_and_outlives_the_pod() {
    let world = World::new();
    world.edit(
        HELLO,
        "  mode: ephemeral\n  volume_gb: 20            # kept while the pod is paused: $4.00/month\n",
        "  mode: network_volume\n  volume_name: shared-data\n",
    );
    world.edit(
        HELLO,
        "datacenters: [EU-RO-1, US-CA-2]",
        "datacenters: [US-CA-2]",
    );
    // A volume that is missing, or only in another datacenter, makes every
    // candidate invalid: the plan fails with the reason and apply creates
    // nothing (it used to show stock and a price, then fail in apply).
    let refused = |why: &str| {
        format!(
            r#"
            rpd plan for examples/hello.yaml (job "hello")

            rpd cannot carry out this plan (the errors say why):

              # pod "hello" will be created
              + pod "hello" {{
                  + image             = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404"
                  + gpu               = "NVIDIA GeForce RTX 4090" (first with stock, see candidates)
                  + gpu_count         = 1
                  + datacenter        = "US-CA-2"
                  + cloud_type        = "SECURE"
                  + container_disk_gb = 20
                  + storage_mode      = "network_volume"
                  + volume_name       = "shared-data"
                  + volume_mount      = "/workspace"
                  + ports             = ["22/tcp"]
                  + id                = (known after apply)
                }}

              Candidates, in order:
                 1. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  invalid: {why}
                 2. US-CA-2 / NVIDIA RTX A5000             $0.27/hr  invalid: {why}

            Error: no candidate can take the pod: the catalog rules out all 2 (see why beside each), so nothing would be created; fix pod.gpu_order, pod.datacenters, pod.gpu_count or storage.volume_name in the config
            Nothing can be applied until these are fixed.

            "#
        )
    };
    let error = "error: hello: the plan has errors: nothing was created\n";
    let missing = refused(r#"the account has no network volume named "shared-data""#);
    world
        .test()
        .args(["plan", HELLO])
        .status(1)
        .stdout(&missing)
        .run();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout(&missing)
        .stderr(error)
        .run();
    world
        .rpd(&["sim", "volume", "shared-data", "EU-RO-1", "50"])
        .status(0);
    world
        .test()
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout(&refused(
            r#"network volume "shared-data" is in EU-RO-1, and a pod mounts only a volume in its own datacenter"#,
        ))
        .stderr(error)
        .run();
    assert!(world.pods().is_empty());
    assert_eq!(world.call_counts(&["create"]), [0], "nothing was created");
    world
        .rpd(&["sim", "volume", "shared-data", "US-CA-2", "50"])
        .status(0);
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let pods = world.pods();
    assert_eq!(pods[0]["storage"]["mode"], "network_volume");
    world.rpd(&["apply", "-y", "--replace", HELLO]).status(0);
    let second = pod_id(&world);
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        format!("run 2 of hello on pod {second}\n"),
        "a replacement sees the counter on the volume"
    );
}

/// hello with its job's last line `echo HELLO_DONE` replaced by `end`.
fn with_body_end(world: &World, end: &str) {
    world.edit(HELLO, "    echo HELLO_DONE\n", end);
}

#[test]
fn a_harmless_failure_marker_does_not_fail_a_job_that_exits_0() {
    let world = World::new();
    with_body_end(
        &world,
        "    echo \"Killed 0 stale workers (none found)\"\n    sleep 1\n    echo HELLO_DONE\n",
    );
    world
        .test()
        .args(["apply", "-y", HELLO])
        .stdout(&applied(
            CREATE_PLAN,
            &succeeded("1 created, 0 resumed, 0 destroyed, 1 stopped"),
        ))
        .stderr_has(r#"hello: Failure marker "Killed" seen: Killed 0 stale workers (none found); the job fails unless the script exits 0 with the success marker within 30s"#)
        .stderr_has(r#"hello: Note: the log also has the failure marker "Killed" (line: Killed 0 stale workers (none found)), but the script exited 0 after the success marker: counted as a success"#)
        .run();
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
        .test()
        .args(["apply", "-y", HELLO])
        .env("RPD_MARKER_GRACE_SECS", "1")
        .status(3)
        .stdout(&applied(
            CREATE_PLAN,
            r#"
            hello: apply finished, job failed. Pods: 1 created, 0 resumed, 0 destroyed, 1 stopped. Job failed in [ELAPSED] (monitor: the log has the failure marker "CUDA out of memory" in the line: CUDA out of memory (and the script did not exit within 1s)); on_failure: stop was carried out.
              Run directory: [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]
              Warning: pod [POD] stopped for forensics; its volume keeps billing ~$0.13/day (~$4.00/month) until `rpd destroy examples/hello.yaml`
            "#,
        ))
        .stderr_has("hello: Lifecycle on_failure: stop\n")
        .run();
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_script_that_prints_the_success_marker_and_keeps_running_succeeds() {
    let world = World::new();
    with_body_end(&world, "    echo HELLO_DONE\n    sleep 600\n");
    let started = std::time::Instant::now();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .env("RPD_MARKER_GRACE_SECS", "1")
        .stdout(&applied(
            CREATE_PLAN,
            &succeeded("1 created, 0 resumed, 0 destroyed, 1 stopped"),
        ))
        .stderr_has("hello: The script printed the success marker 1s ago and is still running: counted as a success (runpod-deploy's rule); it runs on until the lifecycle action\n")
        .run();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(world.pods()[0]["status"], "EXITED", "recycled anyway");
}

#[test]
fn a_pod_deleted_while_the_job_runs_fails_the_job_at_once() {
    let world = World::new();
    let apply = world.apply_in_background();
    let id = pod_id_of_the_only_pod(&world);
    world.rpd(&["sim", "terminate", &id]).status(0);
    let killed = std::time::Instant::now();
    world
        .test()
        .known(&id, "[GONE]")
        .status(3)
        .stdout(&applied(
            CREATE_PLAN,
            "
            hello: apply finished, job failed. Pods: 1 created, 0 resumed, 0 destroyed, 0 stopped. Job failed in [ELAPSED] (monitor: pod [GONE] is deleted while the job ran (stopped or deleted outside rpd?)); on_failure: stop was not needed: the pod no longer exists.
              Run directory: [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]
            ",
        ))
        .stderr_has("hello: Pod [GONE] no longer exists: forgotten\n")
        .check(apply.wait());
    assert!(killed.elapsed() < Duration::from_secs(15));
    assert!(
        world.state(HELLO_STATE).is_none(),
        "the gone pod is forgotten, and this run left nothing to track"
    );
}

fn pod_id_of_the_only_pod(world: &World) -> String {
    let pods = world.pods();
    assert_eq!(pods.len(), 1, "{pods:?}");
    pods[0]["id"].as_str().unwrap().to_string()
}

#[test]
fn a_stop_that_fails_once_is_retried_and_the_pod_stops() {
    let world = World::new();
    let apply = world.apply_in_background();
    let id = pod_id_of_the_only_pod(&world);
    world.rpd(&["sim", "fail-stop", &id, "1"]).status(0);
    world.reset_calls();
    apply.release_job();
    world
        .test()
        .stdout(&applied(
            CREATE_PLAN,
            &succeeded("1 created, 0 resumed, 0 destroyed, 1 stopped"),
        ))
        .stderr_has("hello: Stop complete after")
        .check(apply.wait());
    assert_eq!(
        world.call_counts(&["stop", "stop_failed"]),
        [2, 1],
        "one stop request failed and one more was sent"
    );
    assert_eq!(world.pods()[0]["status"], "EXITED");
}

#[test]
fn a_pod_that_will_not_stop_is_reported_as_billing_and_kept_tracked() {
    let world = World::new();
    let apply = world.apply_in_background();
    let id = pod_id_of_the_only_pod(&world);
    world.rpd(&["sim", "fail-stop", &id, "10"]).status(0);
    apply.release_job();
    world
        .test()
        .known(&id, "[RUNNING]")
        .status(1)
        .stdout(&applied(
            CREATE_PLAN,
            "hello: apply stopped. Pods: 1 created, 0 resumed, 0 destroyed, 0 stopped.\n",
        ))
        .stderr_has("\nhello: Stopping pod [RUNNING]...\nerror: hello: pod [RUNNING] did not stop: the stop request failed (transient provider error: simulated 502 Bad Gateway on stop); it is still RUNNING, billing $0.44/hr. It may be billing: stop it in the RunPod console or run `rpd destroy examples/hello.yaml`\n")
        .check(apply.wait());
    assert_eq!(world.pods()[0]["status"], "RUNNING");
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(
        state["pod"]["status"], "RUNNING",
        "recorded as it is: {state}"
    );
    // The next plan sees it running and reuses it; nothing is forgotten.
    world
        .test()
        .args(["plan", HELLO])
        .known(&id, "[RUNNING]")
        .stdout(RUNNING_PLAN)
        .run();
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
        .test()
        .args(["plan", HELLO])
        .stdout(
            r#"
            rpd plan for examples/hello.yaml (job "hello")

            rpd will perform the following actions:

              # pod "hello" will be created
              + pod "hello" {
                  + image             = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404"
                  + gpu               = "NVIDIA GeForce RTX 4090" (first with stock, see candidates)
                  + gpu_count         = 1
                  + datacenter        = "EU-RO-1" (first with stock, see candidates)
                  + cloud_type        = "SECURE"
                  + container_disk_gb = 20
                  + storage_mode      = "ephemeral"
                  + volume_gb         = 20
                  + volume_mount      = "/workspace"
                  + ports             = ["22/tcp"]
                  + id                = (known after apply)
                }

              Candidates, in order:
                 1. EU-RO-1 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high
                 2. EU-RO-1 / NVIDIA RTX A5000             $0.27/hr  stock high
                 3. US-CA-2 / NVIDIA GeForce RTX 4090      $0.44/hr  stock high
                 4. US-CA-2 / NVIDIA RTX A5000             $0.27/hr  stock high

              Steps:
                 1. forget the interrupted create of "hello-[STAMP]-2f4c4f" (the interrupted create is settled)
                 2. create pod "hello" on the first candidate with capacity (no pod recorded)
                 3. wait until the pod runs and its shell answers (up to 15m00s)
                 4. setup: 1 command
                 5. staging: 1 push (incremental)
                 6. launch /workspace/hello/run.sh, detached
                 7. follow the job until it exits or prints a marker (timeout 10m00s)
                 8. pull the log and 1 artifact
                 9. if the job succeeds: recycle (stop the pod) (kept to resume next time)
                10. if the job fails: stop the pod (kept for forensics; the next apply creates a fresh pod)

            Note: the pod stops itself at about [DATE] [TIME] UTC (max runtime, counted from the job's start) or 10 minutes after the job ends if rpd is not attached (rpd's guard on the pod; lifecycle.unattended_stop_after_sec)

              State only (no provider calls):
                · forget the interrupted create of "hello-[STAMP]-2f4c4f" (no untracked pod has that name)

            Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop.
            Cost: $0.44/hr while running; $4.00/month ($0.13/day) while paused for reuse (20 GB volume).
            "#,
        )
        .run();
    world
        .test()
        .args(["destroy", "-y", HELLO])
        .stdout(
            r#"
            rpd destroy plan for examples/hello.yaml (job "hello")

            rpd will perform the following actions:

              # no pod recorded

              Steps:
                1. remove the state file (nothing left to track)

              State only (no provider calls):
                · remove the state file

            Plan: 0 to create, 0 to resume, 0 to destroy, 0 to stop.


            hello: destroy complete! Pods: 0 destroyed.
            "#,
        )
        .stderr("hello: Removed the state file [TMP]/examples/.rpd/hello.state.json (its last version is kept as [TMP]/examples/.rpd/hello.state.json.backup)\n")
        .run();
    assert!(world.state(HELLO_STATE).is_none(), "state removed");
}

#[test]
fn configs_applied_together_get_their_own_pod_names_and_run_directories() {
    let world = World::new();
    let text = world.read(HELLO);
    // Each its own artifact folder: configs of one apply never share one
    // (see the next test).
    for copy in ["a", "b"] {
        world.write(
            &format!("examples/{copy}.yaml"),
            &edited(
                &text,
                "local_path: artifacts/hello/",
                &format!("local_path: artifacts/{copy}/"),
            ),
        );
    }
    world
        .rpd(&["apply", "-y", "examples/a.yaml", "examples/b.yaml"])
        .status(0);
    for copy in ["a", "b"] {
        let result = world.read(&format!("examples/artifacts/{copy}/result.txt"));
        assert!(result.starts_with("run 1 of hello on pod "), "{result}");
    }
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

/// Issue 19, item 8: copies of one config with only `name:` changed pull
/// their artifacts into one folder. Applied together, one pull deleted or
/// overwrote the other's results (and raced its write check): the plan
/// refuses, naming both configs and the folder, and nothing is created.
/// Applied one at a time, each run's results land where `local_path`
/// says, as in runpod-deploy.
#[test]
fn configs_that_would_pull_into_one_folder_are_not_applied_together() {
    let world = World::new();
    let text = world.read(HELLO);
    for copy in ["a", "b"] {
        world.write(
            &format!("examples/{copy}.yaml"),
            &edited(&text, "\nname: hello\n", &format!("\nname: hello-{copy}\n")),
        );
    }
    let both = ["examples/a.yaml", "examples/b.yaml"];
    let error = |other: &str| {
        format!(
            "Error: artifact \"result\": the destination [TMP]/examples/artifacts/hello is the destination of artifact \"result\" of {other} too: applied together, one run's pull would delete or overwrite another's results\n  = help: give each config its own local_path (e.g. \"{{run_dir}}/result/\", inside the run's own directory), or apply them one at a time\n"
        )
    };
    world
        .test()
        .args(["plan"])
        .args(both)
        .status(1)
        .stdout_has(&error("examples/b.yaml"))
        .stdout_has(&error("examples/a.yaml"))
        .run();
    world
        .test()
        .args(["apply", "-y"])
        .args(both)
        .status(1)
        .stdout_has(&error("examples/b.yaml"))
        .stderr_has("error: hello-a: the plan has errors: nothing was created\n")
        .stderr_has("error: hello-b: the plan has errors: nothing was created\n")
        .run();
    assert!(world.pods().is_empty());
    // One at a time, as runpod-deploy would: each is applied.
    world.rpd(&["apply", "-y", "examples/a.yaml"]).status(0);
    world.rpd(&["apply", "-y", "examples/b.yaml"]).status(0);
    let result = world.read("examples/artifacts/hello/result.txt");
    assert!(result.starts_with("run 1 of hello-b on pod "), "{result}");
}

#[test]
fn a_state_file_named_per_run_is_refused() {
    Test::new()
        .file(
            "job.yaml",
            &small_config("job", "state_file: \"st/{run_id}.json\""),
        )
        .args(["plan", "job.yaml"])
        .status(1)
        .stderr(
            r#"
            error: `state_file` uses {run_id}, which changes on every run: the next run would not find the pod this one recorded
              --> job.yaml:17:13
                  |
               17 | state_file: "st/{run_id}.json"
                  |             ^
               = help: use values that identify the job, e.g. {job_name} or your own variables such as {seed}
            "#,
        )
        .run();
}
