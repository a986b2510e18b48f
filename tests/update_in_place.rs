//! Updates in place, end to end on the simulator: an image bump on a
//! recycled pod keeps the pod and its volume and runs setup again; a GPU
//! change still replaces it; a running pod is updated and waited for; an
//! update whose answer is lost is read back from the live pod, not re-sent.
//! (The same over REST v2 is in rest_v2_cli.rs's tour.)

mod common;

use common::hello::{HELLO, HELLO_STATE, RESUME_PLAN, UPDATE_PLAN, applied, succeeded};
use std::time::Duration;

use common::{World, wait_until};

const OLD_IMAGE: &str = "torch280-ubuntu2404";
const NEW_IMAGE: &str = "torch291-ubuntu2404";

fn pod_id(world: &World) -> String {
    let state = world.state(HELLO_STATE).expect("state exists");
    state["pod_id"].as_str().expect("pod_id").to_string()
}

#[test]
fn an_image_bump_updates_the_recycled_pod_in_place_keeping_its_volume() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let first = pod_id(&world);
    let volume = world.sim_dir().join("pods").join(&first).join("volume");
    std::fs::write(volume.join("dataset.bin"), "warm data").unwrap();

    world.edit(HELLO, OLD_IMAGE, NEW_IMAGE);
    world
        .test()
        .args(["plan", "--detailed-exitcode", HELLO])
        .known(&first, "[PAUSED]")
        .status(2)
        .stdout(UPDATE_PLAN)
        .run();
    world.reset_calls();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .known(&first, "[PAUSED]")
        .stdout(&applied(
            UPDATE_PLAN,
            &succeeded("0 created, 1 updated in place, 1 resumed, 0 destroyed, 1 stopped"),
        ))
        .stderr_has("hello: Updating pod [PAUSED] in place (image)...\n")
        .stderr_has("hello: Update complete after [ELAPSED] [id=[PAUSED]]\n")
        .stderr_has("hello: setup[0] done after [ELAPSED]\n")
        .run();
    assert_eq!(
        world.call_counts(&["update", "start", "create", "delete"]),
        [1, 1, 0, 0]
    );
    assert_eq!(pod_id(&world), first, "the same pod");
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        format!("run 2 of hello on pod {first}\n"),
        "the job saw the previous run's counter on the volume"
    );
    assert_eq!(
        std::fs::read_to_string(volume.join("dataset.bin")).unwrap(),
        "warm data"
    );
    let pods = world.pods();
    assert_eq!(
        pods[0]["image"],
        "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404"
    );
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(
        state["pod"]["spec"]["image"], "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404",
        "the state records the update"
    );
    assert_eq!(state["image"], state["pod"]["spec"]["image"]);
    assert!(state.get("pending_update").is_none(), "{state}");

    // The state and the pod agree with the config: a plain resume.
    world
        .test()
        .args(["plan", HELLO])
        .known(&first, "[PAUSED]")
        .stdout(RESUME_PLAN)
        .run();
}

#[test]
fn a_gpu_change_still_replaces_the_pod_and_its_volume_starts_empty() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let first = pod_id(&world);
    world.edit(HELLO, OLD_IMAGE, NEW_IMAGE);
    world.edit(
        HELLO,
        r#"gpu_order: ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"]"#,
        r#"gpu_order: ["NVIDIA RTX A5000"]"#,
    );
    world.reset_calls();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .known(&first, "[OLD]")
        .stdout_has("  # pod \"hello\" must be replaced\n  # (because gpu cannot change on an existing pod)\n")
        .stdout_has(r#""NVIDIA GeForce RTX 4090" -> "NVIDIA RTX A5000" # forces replacement"#)
        .stdout_has("hello: apply complete! Pods: 1 created, 0 resumed, 1 destroyed, 1 stopped.")
        .stderr_has("hello: Destroying pod [OLD]...\n")
        .run();
    assert_eq!(
        world.call_counts(&["update", "delete", "create"]),
        [0, 1, 1]
    );
    let second = pod_id(&world);
    assert_ne!(second, first);
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        format!("run 1 of hello on pod {second}\n"),
        "a new pod's volume starts empty"
    );
}

#[test]
fn a_running_pod_is_updated_then_waited_for_before_the_job() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let first = pod_id(&world);
    world.rpd(&["sim", "start", &first]).status(0);
    wait_until(Duration::from_secs(10), "the pod to run", || {
        world.pods()[0]["status"] == "RUNNING"
    });
    world.edit(HELLO, OLD_IMAGE, NEW_IMAGE);
    world.edit(HELLO, "volume_gb: 20 ", "volume_gb: 30 ");
    world.reset_calls();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .known(&first, "[RUNNING]")
        .stdout_has("  # pod \"hello\" ([RUNNING]) will be updated in place\n")
        .stdout_has("      ~ volume_gb = 20 -> 30\n")
        .stdout_has("    1. update pod [RUNNING] in place: image, volume_gb (")
        .stdout_has("    2. wait until the pod runs and its shell answers")
        .stdout_has("hello: apply complete! Pods: 0 created, 1 updated in place, 0 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Waiting for pod [RUNNING] to be ready...\n")
        .stderr_has("hello: setup[0] done after [ELAPSED]\n")
        .run();
    assert_eq!(world.call_counts(&["update", "start", "create"]), [1, 0, 0]);
    assert_eq!(
        world.read("examples/artifacts/hello/result.txt"),
        format!("run 2 of hello on pod {first}\n")
    );
    let pods = world.pods();
    assert_eq!(pods[0]["storage"]["volume_gb"], 30);
    assert_eq!(pods[0]["status"], "EXITED", "recycled after the job");
}

#[test]
fn a_smaller_volume_replaces_the_pod_and_says_the_data_is_lost() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.edit(HELLO, "volume_gb: 20 ", "volume_gb: 10 ");
    let plan = world.rpd(&["plan", HELLO]).status(0).stdout();
    assert!(
        plan.contains("      ~ volume_gb = 20 -> 10 (a volume cannot shrink: the new pod's volume starts empty, its data is lost) # forces replacement\n"),
        "{plan}"
    );
}

#[test]
fn an_update_whose_answer_is_lost_is_read_back_from_the_pod_not_sent_again() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let first = pod_id(&world);
    world.edit(HELLO, OLD_IMAGE, NEW_IMAGE);
    // The simulator updates the pod; rpd dies before it hears back.
    let crashed = world.rpd_env(&["apply", "-y", HELLO], &[("RPD_FAULT", "update-sent")]);
    assert_ne!(crashed.code(), 0);
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(
        state["pending_update"]["update"]["image"],
        "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404",
        "recorded before it was sent: {state}"
    );
    assert_eq!(
        state["pod"]["spec"]["image"],
        "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404"
    );

    let plan = world
        .rpd(&["plan", HELLO])
        .status(0)
        .stdout()
        .replace(&first, "[PAUSED]");
    for line in [
        "  # pod \"hello\" ([PAUSED]) will be resumed (EXITED -> RUNNING)\n",
        "     1. record the interrupted update of pod [PAUSED] (read from the live pod, never sent again blindly)\n     2. resume paused pod [PAUSED]\n",
        "  State only (no provider calls):\n    · record the interrupted update of pod [PAUSED] (the pod has it)\n",
    ] {
        assert!(plan.contains(line), "{line:?} not in:\n{plan}");
    }
    assert!(!plan.contains("Changes made outside rpd"), "{plan}");
    assert!(!plan.contains("update pod"), "{plan}");
    world.reset_calls();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    assert_eq!(
        world.call_counts(&["update", "start", "create"]),
        [0, 1, 0],
        "the update is not sent again"
    );
    let state = world.state(HELLO_STATE).unwrap();
    assert!(state.get("pending_update").is_none(), "{state}");
    assert_eq!(
        state["pod"]["spec"]["image"],
        "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404"
    );
}

#[test]
fn a_saved_update_applies_in_place_and_reads_back_as_the_plan_it_was() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let first = pod_id(&world);
    world.edit(HELLO, OLD_IMAGE, NEW_IMAGE);
    world.rpd(&["plan", "-o", "plan.json", HELLO]).status(0);
    let saved: serde_json::Value = serde_json::from_str(&world.read("plan.json")).unwrap();
    common::assert_valid_plan(&saved);
    assert_eq!(saved["configs"][0]["steps"][0]["op"], "update_pod");
    assert_eq!(
        saved["configs"][0]["steps"][0]["update"],
        serde_json::json!({"image": "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404"})
    );
    // `show` renders the update as `plan` printed it.
    world
        .test()
        .args(["show", "plan.json"])
        .known(&first, "[PAUSED]")
        .stdout(UPDATE_PLAN)
        .run();
    world.reset_calls();
    world
        .test()
        .args(["apply", "plan.json"])
        .known(&first, "[PAUSED]")
        .stdout_has("hello: apply complete! Pods: 0 created, 1 updated in place, 1 resumed, 0 destroyed, 1 stopped.")
        .stderr_has("hello: Updating pod [PAUSED] in place (image)...\n")
        .run();
    assert_eq!(
        world.call_counts(&["update", "start", "create", "delete"]),
        [1, 1, 0, 0]
    );
    assert_eq!(pod_id(&world), first, "the same pod");
    assert_eq!(
        world.pods()[0]["image"],
        "runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404"
    );
    // Done once: the state moved on, so the plan is stale.
    world.edit(HELLO, NEW_IMAGE, OLD_IMAGE);
    world.rpd(&["plan", "-o", "back.json", HELLO]).status(0);
    let events = world
        .rpd(&["apply", "--json", "back.json"])
        .status(0)
        .stdout();
    let complete: serde_json::Value = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "apply_complete")
        .expect("an apply_complete event");
    assert_eq!(complete["pods"]["updated"], 1, "{complete}");
    world.edit(HELLO, OLD_IMAGE, NEW_IMAGE);
    world.reset_calls();
    let again = world.rpd(&["apply", "plan.json"]).status(1);
    assert!(
        again.stderr().starts_with("error: saved plan is stale: the state was changed by another operation after the plan was created (serial "),
        "{}",
        again.stderr()
    );
    assert_eq!(world.call_counts(&["update", "start"]), [0, 0]);
}

#[test]
fn a_saved_update_is_stale_when_what_it_changes_was_changed_outside_rpd() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let first = pod_id(&world);
    world.edit(HELLO, OLD_IMAGE, NEW_IMAGE);
    world.rpd(&["plan", "-o", "plan.json", HELLO]).status(0);
    world
        .rpd(&["sim", "set", &first, "container_disk_gb=50"])
        .status(0);
    world.reset_calls();
    world
        .test()
        .args(["apply", "plan.json"])
        .known(&first, "[PAUSED]")
        .status(1)
        .stderr(
            "
            error: saved plan is stale: pod [PAUSED] changed since the plan was created (container_disk_gb 20 -> 50)
              = help: nothing was changed; plan again (`rpd plan -o plan.json`), review, and apply the new plan
            ",
        )
        .run();
    assert_eq!(world.call_counts(&["update", "start"]), [0, 0]);
}
