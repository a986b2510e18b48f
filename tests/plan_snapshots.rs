//! The text plan is a contract (README "Output contract"): exact snapshots
//! of each kind of plan, with pod ids and temp paths normalized.

mod common;

use common::World;

const HELLO: &str = "examples/hello.yaml";

fn plan(world: &World, args: &[&str]) -> String {
    let run = world.rpd(args);
    assert!(run.code() == 0 || run.code() == 2, "{}", run.stderr());
    world.normalize(&run.stdout())
}

fn pod_id(world: &World) -> String {
    world.state("examples/.rpd/hello.state.json").unwrap()["pod_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn create() {
    let world = World::new();
    insta::assert_snapshot!(plan(&world, &["plan", HELLO]));
}

#[test]
fn resume() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    insta::assert_snapshot!(plan(&world, &["plan", HELLO]));
}

/// A GPU list without the pod's GPU: only the GPU forces the new pod; the
/// image and the volume could have changed in place.
#[test]
fn replace_for_a_config_change() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.edit(HELLO, "torch280-ubuntu2404", "torch291-ubuntu2404");
    world.edit(HELLO, "volume_gb: 20 ", "volume_gb: 40 ");
    world.edit(
        HELLO,
        r#"gpu_order: ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"]"#,
        r#"gpu_order: ["NVIDIA RTX A5000"]"#,
    );
    insta::assert_snapshot!(plan(&world, &["plan", HELLO]));
}

#[test]
fn update_in_place_for_an_image_bump_and_a_bigger_volume() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.edit(HELLO, "torch280-ubuntu2404", "torch291-ubuntu2404");
    world.edit(HELLO, "volume_gb: 20 ", "volume_gb: 40 ");
    insta::assert_snapshot!(plan(&world, &["plan", HELLO]));
}

#[test]
fn replace_for_a_smaller_volume() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.edit(HELLO, "volume_gb: 20 ", "volume_gb: 10 ");
    insta::assert_snapshot!(plan(&world, &["plan", HELLO]));
}

#[test]
fn replace_as_requested() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    insta::assert_snapshot!(plan(&world, &["plan", "--replace", HELLO]));
}

#[test]
fn changed_outside_rpd() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    world
        .rpd(&["sim", "set", &id, "image=runpod/pytorch:edited-in-console"])
        .status(0);
    insta::assert_snapshot!(plan(&world, &["plan", HELLO]));
}

#[test]
fn deleted_outside_rpd() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    world.rpd(&["sim", "terminate", &id]).status(0);
    insta::assert_snapshot!(plan(&world, &["plan", HELLO]));
}

#[test]
fn after_a_failed_job_with_a_retained_pod() {
    let world = World::new();
    world.edit(HELLO, "    echo HELLO_DONE\n", "    exit 1\n");
    world.rpd(&["apply", "-y", HELLO]).status(3);
    insta::assert_snapshot!(plan(&world, &["plan", HELLO]));
}

#[test]
fn destroy() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let run = world.rpd(&["destroy", HELLO]);
    // No terminal: destroy stops after the plan and asks for -y.
    assert_eq!(run.code(), 1);
    let plan = world.rpd(&["destroy", "-y", HELLO]).status(0);
    insta::assert_snapshot!(world.normalize(&plan.stdout()));
}

#[test]
fn destroy_with_nothing_recorded() {
    let world = World::new();
    let run = world.rpd(&["destroy", "-y", HELLO]).status(0);
    insta::assert_snapshot!(world.normalize(&run.stdout()));
}

/// `plan --format json`, normalized like the text plan, with the version
/// pinned so that a release does not rewrite the snapshots.
fn json_plan(world: &World, args: &[&str]) -> String {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let version = format!("\"rpd_version\": \"{}\"", env!("CARGO_PKG_VERSION"));
    let json = plan(world, &args);
    // Every snapshot is a plan the shipped schema accepts.
    let mut doc: serde_json::Value = serde_json::from_str(&json).expect("the plan is JSON");
    common::assert_valid_plan(&doc);
    // Whether this machine has a sandbox for the simulator's commands is
    // the machine's (tests/sim_sandbox.rs looks for the warning).
    for config in doc["configs"].as_array_mut().into_iter().flatten() {
        if let Some(warnings) = config["warnings"].as_array_mut() {
            warnings.retain(|w| w["kind"] != "simulator_unsandboxed");
        }
    }
    let json = serde_json::to_string_pretty(&doc).unwrap();
    json.replace(&version, "\"rpd_version\": \"[VERSION]\"")
}

#[test]
fn json_create() {
    let world = World::new();
    insta::assert_snapshot!(json_plan(&world, &["plan", HELLO]));
}

#[test]
fn json_replace_for_a_config_change() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.edit(
        HELLO,
        r#"gpu_order: ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"]"#,
        r#"gpu_order: ["NVIDIA RTX A5000"]"#,
    );
    insta::assert_snapshot!(json_plan(&world, &["plan", HELLO]));
}

#[test]
fn json_update_in_place() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.edit(HELLO, "torch280-ubuntu2404", "torch291-ubuntu2404");
    insta::assert_snapshot!(json_plan(&world, &["plan", HELLO]));
}

#[test]
fn json_resume_with_a_note() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    insta::assert_snapshot!(json_plan(&world, &["plan", HELLO]));
}

#[test]
fn json_preserve_with_a_warning() {
    let world = World::new();
    let preserved = world
        .read(HELLO)
        .replace("on_success: recycle", "on_success: preserve");
    assert_ne!(preserved, world.read(HELLO), "the lifecycle was edited");
    world.write(HELLO, &preserved);
    insta::assert_snapshot!(json_plan(&world, &["plan", HELLO]));
}
