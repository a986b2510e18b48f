//! Reviewing changes (issue 12): saved plans and their staleness checks,
//! the JSON plan and its schema, Markdown for pull requests, the drift
//! check's exit code, `rpd diff`, many configs, `apply --json`, the
//! schemas and completions, and the GitHub Actions example.

mod common;

use common::hello::{HELLO, HELLO_STATE};
use common::{World, assert_valid_plan, repo_root};
use serde_json::Value;

fn pod_id(world: &World) -> String {
    world.state(HELLO_STATE).expect("state")["pod_id"]
        .as_str()
        .unwrap()
        .to_string()
}

// ---- saved plans ----

#[test]
fn a_saved_plan_applies_exactly_and_show_renders_what_plan_printed() {
    let world = World::new();
    let plan = world.rpd(&["plan", HELLO, "-o", "plan.json"]).status(0);
    assert!(plan.stdout().ends_with(
        "Saved the plan to: plan.json\n\nTo perform exactly these actions, run the following command to apply:\n    rpd apply plan.json\n"
    ));
    let text = world.rpd(&["plan", HELLO]).status(0).stdout();
    assert_eq!(world.rpd(&["show", "plan.json"]).status(0).stdout(), text);
    assert_valid_plan(&serde_json::from_str(&world.read("plan.json")).unwrap());
    // No terminal and no -y: a saved plan is applied without asking.
    let applied = world.rpd(&["apply", "plan.json"]).status(0);
    assert!(applied.stdout().starts_with(&text), "{}", applied.stdout());
    assert!(
        applied
            .stdout()
            .contains("Applying the saved plan plan.json.")
    );
    assert_eq!(world.call_counts(&["create", "stop"]), [1, 1]);
    // The plan was made with no state: applying it again is refused.
    world
        .test()
        .args(["apply", "plan.json"])
        .status(1)
        .stderr(
            "
            error: saved plan is stale: a state file was created since the plan was created (another apply ran)
              = help: nothing was changed; plan again (`rpd plan -o plan.json`), review, and apply the new plan
            ",
        )
        .run();
    assert_eq!(world.call_counts(&["create"]), [1]);
}

/// A recycled pod, a plan saved for it, then `change` made: the apply
/// refuses with `expected` and calls the provider for nothing but reads.
fn refused_after(change: impl FnOnce(&World, &str) -> String) {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.rpd(&["plan", "-o", "plan.json", HELLO]).status(0);
    let id = pod_id(&world);
    let expected = change(&world, &id);
    world.reset_calls();
    world
        .test()
        .known(&id, "[PAUSED]")
        .args(["apply", "plan.json"])
        .status(1)
        .stderr(&format!(
            "{expected}  = help: nothing was changed; plan again (`rpd plan -o plan.json`), review, and apply the new plan\n"
        ))
        .run();
    assert_eq!(
        world.call_counts(&["create", "start", "stop", "delete"]),
        [0, 0, 0, 0]
    );
}

#[test]
fn a_saved_plan_is_stale_when_the_config_changed() {
    refused_after(|world, _| {
        world.edit(HELLO, "max_runtime_minutes: 10", "max_runtime_minutes: 11");
        "error: saved plan is stale: the configuration changed since the plan was created (examples/hello.yaml)\n".into()
    });
}

#[test]
fn a_saved_plan_is_stale_when_the_state_serial_changed() {
    refused_after(|world, _| {
        let mut state = world.state(HELLO_STATE).unwrap();
        let serial = state["serial"].as_u64().unwrap();
        state["serial"] = (serial + 1).into();
        world.write(HELLO_STATE, &serde_json::to_string_pretty(&state).unwrap());
        format!(
            "error: saved plan is stale: the state was changed by another operation after the plan was created (serial {serial} -> {})\n",
            serial + 1
        )
    });
}

#[test]
fn a_saved_plan_is_stale_when_the_state_is_another_lineage() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.rpd(&["plan", "-o", "plan.json", HELLO]).status(0);
    let mut state = world.state(HELLO_STATE).unwrap();
    let old = state["lineage"].as_str().unwrap().to_string();
    state["lineage"] = "00000000-0000-4000-8000-000000000000".into();
    world.write(HELLO_STATE, &serde_json::to_string_pretty(&state).unwrap());
    let run = world.rpd(&["apply", "plan.json"]).status(1);
    assert!(
        run.stderr().starts_with(&format!(
            "error: saved plan is stale: the state file is another state now (lineage {old} -> 00000000-0000-4000-8000-000000000000)"
        )),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_saved_plan_is_stale_when_the_pod_was_started_outside_rpd() {
    refused_after(|world, id| {
        world.rpd(&["sim", "start", id]).status(0);
        "error: saved plan is stale: pod [PAUSED] changed since the plan was created (status EXITED -> RUNNING)\n".into()
    });
}

#[test]
fn a_saved_plan_is_stale_when_the_pods_image_gpu_or_datacenter_changed() {
    refused_after(|world, id| {
        world
            .rpd(&[
                "sim",
                "set",
                id,
                "image=edited:1",
                "gpu_id=NVIDIA RTX A5000",
                "datacenter_id=US-CA-2",
            ])
            .status(0);
        "error: saved plan is stale: pod [PAUSED] changed since the plan was created (image runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404 -> edited:1)\nerror: saved plan is stale: pod [PAUSED] changed since the plan was created (gpu NVIDIA GeForce RTX 4090 -> NVIDIA RTX A5000)\nerror: saved plan is stale: pod [PAUSED] changed since the plan was created (datacenter EU-RO-1 -> US-CA-2)\n".into()
    });
}

#[test]
fn a_saved_plan_is_stale_when_the_pod_is_gone() {
    refused_after(|world, id| {
        world.rpd(&["sim", "terminate", id]).status(0);
        "error: saved plan is stale: pod [PAUSED] no longer exists (it existed when the plan was created)\n".into()
    });
}

#[test]
fn a_saved_plan_is_refused_by_another_provider_and_with_plan_flags() {
    let world = World::new();
    world.rpd(&["plan", "-o", "plan.json", HELLO]).status(0);
    let run = world.rpd(&["apply", "--replace", "plan.json"]).status(1);
    assert!(
        run.stderr()
            .contains("a saved plan is carried out as it was planned"),
        "{}",
        run.stderr()
    );
    // Paths in a saved plan are the directory's it was made in.
    world.write("elsewhere/.keep", "");
    let mut elsewhere = world.std_command(&["apply", "../plan.json"]);
    elsewhere.current_dir(world.path("elsewhere"));
    let out = elsewhere.output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: saved plan ../plan.json names the config examples/hello.yaml, which is not here\n  = help: paths in a saved plan are relative to the directory `rpd plan -o` ran in; run `rpd apply` from there\n"
    );
    let run = world.rpd(&["apply", "plan.json", HELLO]).status(1);
    assert!(
        run.stderr().contains("a saved plan is applied on its own"),
        "{}",
        run.stderr()
    );
    // The plain JSON output has no fingerprints: it is not a saved plan.
    let json = world
        .rpd(&["plan", "--format", "json", HELLO])
        .status(0)
        .stdout();
    world.write("out.json", &json);
    let run = world.rpd(&["apply", "out.json"]).status(1);
    assert!(
        run.stderr().contains("not a saved plan"),
        "{}",
        run.stderr()
    );
    let ctl = world.rpd_env(
        &["apply", "plan.json"],
        &[
            ("RPD_PROVIDER", "runpodctl"),
            ("RPD_RUNPODCTL", "/nonexistent/runpodctl"),
        ],
    );
    assert_eq!(ctl.code(), 1, "{}", ctl.stderr());
    assert!(world.pods().is_empty());
}

#[test]
fn a_saved_plan_round_trips_through_json_into_the_same_text_for_every_kind_of_plan() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    world
        .rpd(&["sim", "set", &id, "image=runpod/pytorch:edited"])
        .status(0);
    for args in [vec!["plan", HELLO], vec!["plan", "--replace", HELLO]] {
        let text = world.rpd(&args).status(0).stdout();
        let mut json_args = args.clone();
        json_args.extend(["--format", "json"]);
        world.write("p.json", &world.rpd(&json_args).status(0).stdout());
        assert_eq!(
            world.rpd(&["show", "p.json"]).status(0).stdout(),
            text,
            "{args:?}"
        );
        let md = world
            .rpd(&["show", "--format", "markdown", "p.json"])
            .status(0)
            .stdout();
        let mut md_args = args.clone();
        md_args.extend(["--format", "markdown"]);
        assert_eq!(world.rpd(&md_args).status(0).stdout(), md);
    }
}

/// Issue 19, item 19: a saved plan is carried out only as `rpd plan -o`
/// wrote it. Editing any part of it (a lifecycle step, the lifecycle, a
/// reason, the summary, a pod's actions, a step taken out, the digest)
/// is refused before anything is called; the same plan unedited, even
/// reformatted, applies.
#[test]
fn an_edited_saved_plan_is_refused_whatever_was_edited_and_the_unedited_one_applies() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.rpd(&["plan", "-o", "plan.json", HELLO]).status(0);
    let saved: Value = serde_json::from_str(&world.read("plan.json")).unwrap();
    let step = |plan: &Value, op: &str, when: &str| -> usize {
        plan["configs"][0]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .position(|s| s["op"] == op && (when.is_empty() || s["when"] == when))
            .unwrap()
    };
    type Edit = Box<dyn Fn(&mut Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "recycle -> delete in the success branch's step",
            Box::new(move |p| {
                let i = step(p, "lifecycle", "success");
                p["configs"][0]["steps"][i]["action"] = "delete".into();
            }),
        ),
        (
            "the config's lifecycle",
            Box::new(|p| p["configs"][0]["lifecycle"]["on_success"] = "delete".into()),
        ),
        (
            "a step's reason",
            Box::new(move |p| {
                let i = step(p, "lifecycle", "success");
                p["configs"][0]["steps"][i]["reason"]["message"] = "harmless".into();
            }),
        ),
        (
            "the summary line",
            Box::new(|p| {
                p["configs"][0]["summary_line"] =
                    "Plan: 0 to create, 0 to resume, 0 to destroy, 0 to stop.".into()
            }),
        ),
        (
            "the summary's counts",
            Box::new(|p| p["configs"][0]["summary"]["destroy"] = 1.into()),
        ),
        (
            "the document's summary",
            Box::new(|p| p["summary"]["routine"] = 0.into()),
        ),
        (
            "a pod's actions",
            Box::new(|p| p["configs"][0]["pods"][0]["actions"] = serde_json::json!(["delete"])),
        ),
        (
            "a step taken out",
            Box::new(move |p| {
                let i = step(p, "wait_ready", "");
                p["configs"][0]["steps"]
                    .as_array_mut()
                    .unwrap()
                    .remove(i + 1);
            }),
        ),
        (
            "a key added to a step",
            Box::new(|p| p["configs"][0]["steps"][0]["extra"] = true.into()),
        ),
        (
            "the digest",
            Box::new(|p| p["digest"] = format!("sha256:{}", "0".repeat(64)).into()),
        ),
    ];
    for (what, edit) in &edits {
        let mut plan = saved.clone();
        edit(&mut plan);
        world.write("edited.json", &serde_json::to_string_pretty(&plan).unwrap());
        world.reset_calls();
        world
            .test()
            .args(["apply", "edited.json"])
            .status(1)
            .stderr(
                "
                error: saved plan edited.json was changed after `rpd plan -o` wrote it (its content does not match its digest): rpd carries out a saved plan only as it was saved
                  = help: nothing was changed; plan again (`rpd plan -o edited.json`), review, and apply the new plan
                ",
            )
            .run();
        assert_eq!(
            world.call_counts(&["create", "start", "stop", "delete"]),
            [0, 0, 0, 0],
            "{what}"
        );
    }
    // A plan without a digest (an older rpd's, or one it was cut out of).
    let mut plan = saved.clone();
    plan.as_object_mut()
        .unwrap()
        .shift_remove("digest")
        .unwrap();
    world.write("edited.json", &serde_json::to_string_pretty(&plan).unwrap());
    world
        .test()
        .args(["apply", "edited.json"])
        .status(1)
        .stderr(
            "
            error: saved plan edited.json has no digest (an older rpd saved it, or it was edited): rpd carries out a saved plan only as it was saved
              = help: nothing was changed; plan again (`rpd plan -o edited.json`), review, and apply the new plan
            ",
        )
        .run();
    // `rpd show` says so too.
    world
        .test()
        .args(["show", "edited.json"])
        .stdout_has("rpd plan for examples/hello.yaml")
        .stderr("warning: saved plan edited.json has no digest (an older rpd saved it, or it was edited): `rpd apply` refuses it\n")
        .run();
    // Unedited (here reformatted on one line and its keys in another
    // order): it applies, and recycles the pod as it says.
    let mut reordered = serde_json::Map::new();
    for (key, value) in saved.as_object().unwrap().iter().rev() {
        reordered.insert(key.clone(), value.clone());
    }
    world.write("plan.json", &Value::Object(reordered).to_string());
    world.reset_calls();
    world.rpd(&["apply", "plan.json"]).status(0);
    assert_eq!(
        world.call_counts(&["create", "start", "stop", "delete"]),
        [0, 1, 1, 0]
    );
}

/// Issue 19, item 18: `rpd plan -o FILE` writes a new file or replaces a
/// plan it saved earlier, and nothing else: not the config, not a state
/// file, not any other file. It writes through a temporary file, so a
/// plan cut short leaves the earlier one whole.
#[test]
fn plan_o_writes_only_a_new_file_or_over_an_earlier_saved_plan() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let json = world
        .rpd(&["plan", "--format", "json", HELLO])
        .status(0)
        .stdout();
    world.write("out.json", &json);
    world.write("notes.txt", "my notes\n");
    world.write("empty", "");
    let before: Vec<(&str, String)> = [HELLO, HELLO_STATE, "out.json", "notes.txt", "empty"]
        .into_iter()
        .map(|f| (f, world.read(f)))
        .collect();
    for (target, what) in [
        (HELLO, " (it is the config examples/hello.yaml)"),
        (
            HELLO_STATE,
            " (it is the state file of examples/hello.yaml)",
        ),
        ("out.json", ""),
        ("notes.txt", ""),
        ("empty", ""),
    ] {
        world
            .test()
            .args(["plan", "-o", target, HELLO])
            .status(1)
            .stderr(&format!(
                "error: the plan was not saved: {target} exists and is not a plan `rpd plan -o` saved{what}; a saved plan replaces nothing else\n  = help: save it to a new file, e.g. `rpd plan -o plan.json examples/hello.yaml`\n"
            ))
            .run();
    }
    world.write("dir/.keep", "");
    world
        .test()
        .args(["plan", "-o", "dir", HELLO])
        .status(1)
        .stderr("error: the plan was not saved: dir exists and is not a plan `rpd plan -o` saved (it is a directory); a saved plan replaces nothing else\n  = help: save it to a new file, e.g. `rpd plan -o plan.json examples/hello.yaml`\n")
        .run();
    for (file, text) in &before {
        assert_eq!(&world.read(file), text, "{file} was changed");
    }
    // A new file, then over it; nothing is left beside it.
    world.rpd(&["plan", "-o", "plan.json", HELLO]).status(0);
    let first = world.read("plan.json");
    world.rpd(&["plan", "-o", "plan.json", HELLO]).status(0);
    let second = world.read("plan.json");
    assert_ne!(first, second, "made again (made_at differs)");
    // Cut short before the rename: the earlier plan is whole, and the
    // next save leaves no temporary file behind.
    let cut = world.rpd_env(
        &["plan", "-o", "plan.json", HELLO],
        &[("RPD_FAULT", "plan-before-rename")],
    );
    assert_ne!(cut.code(), 0);
    assert_eq!(world.read("plan.json"), second);
    world.rpd(&["plan", "-o", "plan.json", HELLO]).status(0);
    let mut names: Vec<String> = std::fs::read_dir(world.path("."))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("plan.json"))
        .collect();
    names.sort();
    assert_eq!(names, ["plan.json"]);
    world.rpd(&["apply", "plan.json"]).status(0);
}

/// Issue 19, item 5: `apply --detach PLAN` detaches as `apply --detach
/// CONFIG` does (it used to run the job attached, silently).
#[test]
fn apply_detach_of_a_saved_plan_detaches() {
    let world = World::new();
    world.rpd(&["plan", "-o", "plan.json", HELLO]).status(0);
    world
        .test()
        .args(["apply", "--detach", "plan.json"])
        .status(0)
        .stdout_has("Applying the saved plan plan.json.\n")
        .stdout_has("hello: job launched and detached. Pods: 1 created, 0 resumed, 0 destroyed, 0 stopped.\n")
        .stderr_lacks("Lifecycle")
        .run();
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(state["launched_job"]["detached"], true, "{state:#}");
    world
        .test()
        .args(["attach", HELLO])
        .status(0)
        .stdout_has("hello: apply complete!")
        .stderr_has("hello: Lifecycle on_success: recycle\n")
        .run();
    assert!(
        world
            .state(HELLO_STATE)
            .unwrap()
            .get("launched_job")
            .is_none()
    );
}

// ---- JSON ----

#[test]
fn one_config_and_many_have_one_json_shape_that_the_schema_accepts() {
    let world = World::new();
    let one = world
        .rpd(&["plan", "--format", "json", HELLO])
        .status(0)
        .json();
    assert_valid_plan(&one);
    assert_eq!(one["format_version"], "3.0");
    assert_eq!(one["configs"].as_array().unwrap().len(), 1);
    let config = &one["configs"][0];
    assert_eq!(config["pods"][0]["actions"], serde_json::json!(["create"]));
    assert_eq!(
        config["pod"]["fields"][0]["after"],
        "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404"
    );
    world.write("bad.yaml", "name: bad\n");
    let many = world
        .rpd(&[
            "plan",
            "--format",
            "json",
            HELLO,
            "examples/drift/train.yaml",
            "bad.yaml",
        ])
        .status(1)
        .json();
    assert_valid_plan(&many);
    assert_eq!(
        many["summary"],
        serde_json::json!({"configs": 3, "with_pod_changes": 2, "routine": 0, "failed": 1})
    );
    assert_eq!(many["configs"][2]["config"], "bad.yaml");
    assert!(
        many["configs"][2]["error"]
            .as_str()
            .unwrap()
            .contains("missing required block `pod`"),
        "{many:#}"
    );
}

#[test]
fn a_replacement_is_delete_then_create_with_the_forcing_field() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.edit(
        HELLO,
        r#"gpu_order: ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"]"#,
        r#"gpu_order: ["NVIDIA RTX A5000"]"#,
    );
    let doc = world
        .rpd(&["plan", "--format", "json", HELLO])
        .status(0)
        .json();
    assert_valid_plan(&doc);
    let pod = &doc["configs"][0]["pods"][0];
    assert_eq!(pod["actions"], serde_json::json!(["delete", "create"]));
    assert_eq!(pod["replace_paths"], serde_json::json!(["gpu"]));
    assert_eq!(pod["reason"]["kind"], "fields_cannot_change");
}

#[test]
fn an_update_in_place_is_update_then_start_for_a_paused_pod_and_update_for_a_running_one() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world.edit(HELLO, "torch280-ubuntu2404", "torch291-ubuntu2404");
    let doc = world
        .rpd(&["plan", "--format", "json", "--detailed-exitcode", HELLO])
        .status(2)
        .json();
    assert_valid_plan(&doc);
    let config = &doc["configs"][0];
    assert_eq!(config["changes_beyond_routine"], true);
    assert_eq!(config["pod"]["action"], "update");
    let pod = &config["pods"][0];
    assert_eq!(pod["actions"], serde_json::json!(["update", "start"]));
    assert_eq!(pod["replace_paths"], serde_json::json!([]));
    assert_eq!(pod["changes"][0]["field"], "image");
    assert_eq!(pod["reason"]["kind"], "update_in_place");
    let id = pod_id(&world);
    world.rpd(&["sim", "set", &id, "status=RUNNING"]).status(0);
    let doc = world
        .rpd(&["plan", "--format", "json", HELLO])
        .status(0)
        .json();
    assert_valid_plan(&doc);
    assert_eq!(
        doc["configs"][0]["pods"][0]["actions"],
        serde_json::json!(["update"])
    );
}

#[test]
fn the_shipped_schemas_are_what_rpd_prints() {
    let world = World::new();
    for (what, file) in [
        ("plan", "schemas/plan.schema.json"),
        ("config", "schemas/config.schema.json"),
    ] {
        let printed = world.rpd(&["schema", what]).status(0).stdout();
        let shipped = std::fs::read_to_string(repo_root().join(file)).unwrap();
        assert_eq!(
            printed, shipped,
            "{file} is stale: `cargo run -- schema {what} > {file}`"
        );
    }
}

// ---- the drift check ----

#[test]
fn detailed_exitcode_is_0_for_the_routine_run_and_2_after_a_console_change() {
    let world = World::new();
    world.rpd(&["plan", "--detailed-exitcode", HELLO]).status(2);
    world.rpd(&["apply", "-y", HELLO]).status(0);
    // Resume, job, recycle of an up-to-date pod: routine.
    world.rpd(&["plan", "--detailed-exitcode", HELLO]).status(0);
    let id = pod_id(&world);
    world.rpd(&["sim", "start", &id]).status(0);
    world.rpd(&["plan", "--detailed-exitcode", HELLO]).status(2);
    world.rpd(&["sim", "stop", &id]).status(0);
    world.rpd(&["plan", "--detailed-exitcode", HELLO]).status(0);
    world.rpd(&["sim", "set", &id, "image=edited:1"]).status(0);
    world.rpd(&["plan", "--detailed-exitcode", HELLO]).status(2);
}

// ---- Markdown ----

#[test]
fn markdown_for_a_hundred_configs_stays_under_githubs_limit_and_says_what_was_cut() {
    let world = World::new();
    let hello = world.read(HELLO);
    let mut args = vec!["plan".to_string(), "--format".into(), "markdown".into()];
    for i in 0..100 {
        let rel = format!("many/c{i:03}.yaml");
        world.write(
            &rel,
            // Each its own artifact folder: configs of one apply never
            // share one.
            &hello
                .replace("name: hello", &format!("name: hello{i:03}"))
                .replace("source: hello/", "source: ../examples/hello/")
                .replace(
                    "local_path: artifacts/hello/",
                    &format!("local_path: c{i:03}/"),
                ),
        );
        args.push(rel);
    }
    let run = world
        .rpd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .status(0);
    let md = run.stdout();
    assert!(
        md.chars().count() < 65_535,
        "{} characters",
        md.chars().count()
    );
    assert!(
        md.starts_with("<!-- rpd:plan paths=many/c000.yaml,"),
        "{}",
        &md[..200]
    );
    assert!(
        md.contains(
            "**100 configs: 100 with pod changes, 0 with only the routine run, 0 failed.**"
        )
    );
    assert!(md.contains(
        "| `many/c099.yaml` | create | Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop. |"
    ));
    assert!(
        md.contains("details left out to stay under GitHub's 65,535-character comment limit"),
        "{}",
        &md[md.len() - 400..]
    );
    // The same from the directory.
    let dir = world
        .rpd(&["plan", "--format", "markdown", "many"])
        .status(0)
        .stdout();
    assert_eq!(dir, md);
}

#[test]
fn markdown_warns_of_a_replacement_naming_the_field_and_what_is_lost() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    world.edit(
        HELLO,
        r#"gpu_order: ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"]"#,
        r#"gpu_order: ["NVIDIA RTX A5000"]"#,
    );
    let md = world
        .rpd(&["plan", "--format", "markdown", HELLO])
        .status(0)
        .stdout();
    let md = md.replace(&id, "[POD]");
    assert!(md.starts_with("<!-- rpd:plan paths=examples/hello.yaml -->\n### rpd plan: `examples/hello.yaml`\n\n**Plan: 1 to create, 0 to resume, 1 to destroy, 1 to stop.**\n"), "{md}");
    assert!(md.contains("> [!WARNING]\n> :warning: **Pod `hello` ([POD]) will be replaced**: `gpu` (\"NVIDIA GeForce RTX 4090\" → \"NVIDIA RTX A5000\") cannot change in place; its volume (20 GB at /workspace) is lost.\n"), "{md}");
    assert!(
        md.contains("| 1 | delete pod [POD] | gpu cannot change on an existing pod |"),
        "{md}"
    );
    assert!(md.contains("```diff\n"), "{md}");
    assert!(md.contains("\n!   pod \"hello\" {\n"), "{md}");
}

#[test]
fn markdown_shows_an_update_in_place_with_a_tilde_and_no_replacement_warning() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let id = pod_id(&world);
    world.edit(HELLO, "torch280-ubuntu2404", "torch291-ubuntu2404");
    let md = world
        .rpd(&["plan", "--format", "markdown", HELLO])
        .status(0)
        .stdout();
    let md = md.replace(&id, "[POD]");
    assert!(md.starts_with("<!-- rpd:plan paths=examples/hello.yaml -->\n### rpd plan: `examples/hello.yaml`\n\n**Plan: 0 to create, 1 to resume, 0 to destroy, 1 to stop.**\n"), "{md}");
    assert!(md.contains("\n`~` **Pod `hello` ([POD]) will be updated in place, then resumed**: `image` (\"runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404\" → \"runpod/pytorch:1.0.2-cu1281-torch291-ubuntu2404\"); its volume is kept.\n"), "{md}");
    assert!(!md.contains("[!WARNING]"), "{md}");
    assert!(!md.contains(":warning:"), "{md}");
    assert!(!md.contains("replace"), "{md}");
    assert!(
        md.contains("| 1 | update pod [POD] in place: image | image can change on [POD] itself: its volume is kept |"),
        "{md}"
    );
    // The folded text plan keeps its `~` lines (as `!` for GitHub's colours).
    assert!(md.contains("\n!   pod \"hello\" {\n"), "{md}");
    assert!(md.contains("\n!       image  = "), "{md}");
}

// ---- rpd diff ----

#[test]
fn diff_marks_a_gpu_change_as_forcing_replacement_with_no_account_and_stdin_works() {
    let world = World::new();
    let old = world.read(HELLO);
    world.edit(
        HELLO,
        r#"gpu_order: ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A5000"]"#,
        r#"gpu_order: ["NVIDIA RTX A5000"]"#,
    );
    world.write("old.yaml", &old);
    let mut cmd = world.std_command(&["diff", "--detailed-exitcode", "-", HELLO]);
    // No provider, no key: diff needs neither.
    cmd.env("RPD_PROVIDER", "runpod")
        .env("RPD_RUNPOD_API_URL", "http://127.0.0.1:9");
    cmd.stdin(std::fs::File::open(world.path("old.yaml")).unwrap());
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("rpd diff - -> examples/hello.yaml (job \"hello\")\n\nConfig changes:\n  ~ pod.gpu_order = [\"NVIDIA GeForce RTX 4090\",\"NVIDIA RTX A5000\"] -> [\"NVIDIA RTX A5000\"]\n\nWarning: gpu change forces replacement of the recycled pod: its volume (20 GB at /workspace) is lost.\n"), "{text}");
    assert!(text.contains("# forces replacement"), "{text}");
    let json = world
        .rpd(&["diff", "--format", "json", "old.yaml", HELLO])
        .status(0)
        .json();
    assert_valid_plan(&json);
    let config = &json["configs"][0];
    assert_eq!(
        config["pods"][0]["replace_paths"],
        serde_json::json!(["gpu"])
    );
    assert_eq!(config["diff"]["config_changes"][0]["key"], "pod.gpu_order");
    let md = world
        .rpd(&["diff", "--format", "markdown", "old.yaml", HELLO])
        .status(0)
        .stdout();
    assert!(
        md.starts_with("<!-- rpd:diff paths=examples/hello.yaml -->\n"),
        "{md}"
    );
    // Nothing changed: the routine run.
    world
        .rpd(&["diff", "--detailed-exitcode", HELLO, HELLO])
        .status(0);
    // A new config (an empty OLD): its first apply creates the pod.
    let added = world
        .rpd(&["diff", "--detailed-exitcode", "/dev/null", HELLO])
        .status(2)
        .stdout();
    assert!(
        added.contains("Planned against no pod: the old config is empty (a new config), so the first apply creates one:\n"),
        "{added}"
    );
    assert!(
        added.contains("Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop."),
        "{added}"
    );
    assert!(world.state(HELLO_STATE).is_none() && world.pods().is_empty());
}

// ---- many configs ----

#[test]
fn a_config_that_fails_to_plan_counts_as_failed_and_the_others_are_planned() {
    let world = World::new();
    world.write(
        "configs/a.yaml",
        &world
            .read(HELLO)
            .replace("source: hello/", "source: ../examples/hello/"),
    );
    world.write("configs/b.yaml", "name: b\npod: {}\n");
    world.write("configs/notes.yaml", "just: notes\n");
    let run = world.rpd(&["plan", "configs"]).status(1);
    assert!(
        run.stdout().starts_with("rpd plan for configs/a.yaml"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .ends_with("\n2 configs: 1 with pod changes, 0 with only the routine run, 1 failed.\n"),
        "{}",
        run.stdout()
    );
    assert!(run.stderr().contains("configs/b.yaml"), "{}", run.stderr());
    assert!(!run.stderr().contains("notes.yaml"), "{}", run.stderr());
}

// ---- apply --json ----

#[test]
fn apply_json_streams_the_plan_each_step_the_job_and_the_outcome() {
    let world = World::new();
    world.rpd(&["apply", "--json", HELLO]).status(1);
    let run = world.rpd(&["apply", "--json", "-y", HELLO]).status(0);
    let events: Vec<Value> = run
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "version");
    assert_eq!(kinds[1], "planned_change");
    assert_valid_plan(&serde_json::json!({
        "format_version": "3.0", "rpd_version": "x",
        "summary": {"configs": 1, "with_pod_changes": 1, "routine": 0, "failed": 0},
        "configs": [events[1]["plan"]],
    }));
    let steps: Vec<(&str, u64)> = events
        .iter()
        .filter(|e| e["type"] == "step_done")
        .map(|e| (e["op"].as_str().unwrap(), e["n"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("create_pod", 1),
            ("wait_ready", 2),
            ("setup", 3),
            ("staging", 4),
            ("launch", 5),
            ("monitor", 6),
            ("pull", 7),
            ("lifecycle", 8),
        ]
    );
    // The on_failure branch does not apply to a job that succeeded.
    let skipped: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "step_skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(
        (skipped[0]["n"].as_u64(), skipped[0]["job_outcome"].as_str()),
        (Some(9), Some("success"))
    );
    for kind in [
        "job_started",
        "job_completed",
        "artifact_pulled",
        "apply_complete",
        "summary",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let complete = events
        .iter()
        .find(|e| e["type"] == "apply_complete")
        .unwrap();
    assert_eq!(complete["outcome"], "success");
    assert_eq!(complete["pods"]["created"], 1);
    assert_eq!(kinds.last(), Some(&"summary"));
    assert!(
        run.stderr().contains("hello: apply complete!"),
        "{}",
        run.stderr()
    );
}

// ---- the terminal ----

#[test]
fn apply_without_a_terminal_shows_the_plan_before_it_refuses() {
    let world = World::new();
    let run = world.rpd(&["apply", HELLO]).status(1);
    assert_eq!(run.stdout(), world.rpd(&["plan", HELLO]).stdout());
    assert!(
        run.stderr()
            .starts_with("error: standard input is not a terminal"),
        "{}",
        run.stderr()
    );
    assert!(world.pods().is_empty() && world.state(HELLO_STATE).is_none());
}

#[test]
fn a_failed_job_prints_the_last_20_lines_of_its_log() {
    let world = World::new();
    let body: String = (1..=30).map(|i| format!("    echo line-{i}\n")).collect();
    world.edit(
        HELLO,
        "    echo HELLO_DONE\n",
        &format!("{body}    exit 1\n"),
    );
    let run = world.rpd(&["apply", "-y", HELLO]).status(3);
    let stderr = world.normalize(&run.stderr());
    let tail: String = (11..=30).map(|i| format!("  | line-{i}\n")).collect();
    assert!(
        stderr.contains(&format!("hello: the last 20 lines of the log ([TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]/run.log):\n{tail}")),
        "{stderr}"
    );
    assert!(!stderr.contains("line-10\n"), "{stderr}");
}

#[test]
fn every_argument_has_help_and_provider_is_only_where_it_is_used() {
    let world = World::new();
    let help = |args: &[&str]| world.rpd(args).status(0).stdout();
    assert!(!help(&["validate", "--help"]).contains("--provider"));
    assert!(!help(&["diff", "--help"]).contains("--provider"));
    assert!(help(&["plan", "--help"]).contains("--provider"));
    // With RPD_PROVIDER set, usage lines do not show --provider as
    // required: tour.rs, usage_errors_exit_1_and_help_and_version_exit_0.
    // Every argument of every command says what it is.
    let top = help(&["--help"]);
    let mut commands: Vec<Vec<String>> = vec![vec![]];
    let mut missing = Vec::new();
    while let Some(path) = commands.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let text = if path.is_empty() {
            top.clone()
        } else {
            help(&args)
        };
        let mut section = "";
        for line in text.lines() {
            if line.ends_with(':') && !line.starts_with(' ') {
                section = line;
                continue;
            }
            let trimmed = line.trim_start();
            let indented = line.len() - trimmed.len();
            if section == "Commands:" && indented == 2 {
                let name = trimmed.split_whitespace().next().unwrap();
                if name != "help" {
                    let mut sub = path.clone();
                    sub.push(name.to_string());
                    commands.push(sub);
                }
            } else if (section == "Arguments:" || section == "Options:")
                && indented == 2
                && (trimmed.starts_with('-')
                    || trimmed.starts_with('<')
                    || trimmed.starts_with('['))
            {
                // `--help` prints the help on the following lines.
                let has_text = trimmed.split("  ").filter(|s| !s.is_empty()).count() > 1;
                if !has_text {
                    let next = text.lines().skip_while(|l| *l != line).nth(1).unwrap_or("");
                    if next.trim().is_empty() || next.trim_start().starts_with('-') {
                        missing.push(format!("rpd {}: {trimmed}", path.join(" ")));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "arguments without help:\n{}",
        missing.join("\n")
    );
}

#[test]
fn completions_are_generated_for_each_shell() {
    let world = World::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = world.rpd(&["completions", shell]).status(0).stdout();
        assert!(
            script.contains("apply") && script.contains("detailed-exitcode"),
            "{shell}: {script}"
        );
    }
    world.rpd(&["completions", "tcsh"]).status(1);
}

// ---- the config schema ----

fn yaml_as_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // As an editor reads it: a byte-order mark is not content.
    let text = text.trim_start_matches('\u{feff}');
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or(serde_yaml::Value::Null);
    serde_json::to_value(yaml).unwrap()
}

/// Invalid fixtures whose fault a JSON Schema cannot say (YAML syntax, a
/// check across keys, template variables).
const NOT_EXPRESSIBLE: &[&str] = &[
    "duplicate_key",
    "malformed_yaml",
    "multi_document",
    "timeout_exceeds_cost_cap",
    "unknown_template_variable",
    // A rule across keys (COMMUNITY has no network volumes) is the loader's.
    "community_network_volume",
    // YAML's `.inf` has no JSON value (it reads as null, which an optional
    // key allows).
    "cost_cap_infinite",
    // The image reference grammar (lowercase repository, templates closed)
    // is the loader's; the schema refuses whitespace and an empty tag.
    "image_uppercase",
    "image_unclosed_brace",
    // Template evaluation: order, recursion, size.
    "template_bomb",
    "variable_defined_below",
    "variable_uses_itself",
];

#[test]
fn the_config_schema_accepts_every_valid_fixture_and_rejects_the_invalid_ones_it_can_express() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("schemas/config.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the config schema compiles");
    let mut examples = common::fixture_configs("valid");
    examples.push(repo_root().join("examples/hello.yaml"));
    examples.push(repo_root().join("examples/drift/train.yaml"));
    for path in examples {
        let errors: Vec<String> = validator
            .iter_errors(&yaml_as_json(&path))
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} is valid but the schema says:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
    let mut accepted = Vec::new();
    for path in common::fixture_configs("invalid") {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if NOT_EXPRESSIBLE.contains(&name.as_str()) {
            continue;
        }
        if validator.is_valid(&yaml_as_json(&path)) {
            accepted.push(name);
        }
    }
    assert!(
        accepted.is_empty(),
        "the schema accepts invalid configs: {accepted:?}"
    );
}

// ---- the GitHub Actions example ----

#[test]
fn the_github_actions_example_parses_and_finds_its_comment_by_rpds_marker() {
    let path = repo_root().join("examples/github-actions/rpd-plan.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let workflow: serde_yaml::Value = serde_yaml::from_str(&text).expect("the workflow is YAML");
    assert!(
        workflow["jobs"].as_mapping().is_some_and(|j| !j.is_empty()),
        "{text}"
    );
    assert!(
        workflow["on"]["pull_request"]["paths"]
            .as_sequence()
            .is_some(),
        "{text}"
    );
    // It looks for the marker rpd prints, and runs commands rpd has.
    assert!(text.contains("<!-- rpd:"), "{text}");
    for command in ["rpd diff --format markdown", "rpd plan --format markdown"] {
        assert!(text.contains(command), "{command} missing");
    }
    let world = World::new();
    let md = world
        .rpd(&["diff", "--format", "markdown", HELLO, HELLO])
        .status(0)
        .stdout();
    assert!(md.starts_with("<!-- rpd:"));
}

/// Runs `rpd args` with its standard input and error on a
/// pseudo-terminal, types `keys` into it, and returns the exit code and what
/// the terminal showed (`\r\n` as `\n`). Panics if rpd still waits after
/// 30 s (for more input).
fn on_a_terminal(world: &World, args: &[&str], keys: &[u8]) -> (i32, String) {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors, which are owned from here on.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = world.std_command(args);
    cmd.stdin(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap())
        .stdout(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("rpd runs");
    drop(cmd);
    drop(slave);
    let mut terminal = std::fs::File::from(master);
    let mut reader = terminal.try_clone().unwrap();
    let shown = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        // Ends with EIO once the last holder of the other side is gone.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
        }
        bytes
    });
    terminal.write_all(keys).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || tx.send(child.wait()));
    let status = match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(status) => status.unwrap(),
        Err(_) => {
            // SAFETY: the child is ours and has not been reaped.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("rpd {args:?} still waits for input after {keys:?}");
        }
    };
    let shown = String::from_utf8_lossy(&shown.join().unwrap()).replace("\r\n", "\n");
    (status.code().unwrap_or(-1), shown)
}

#[test]
fn ctrl_d_at_the_approval_prompt_cancels() {
    let world = World::new();
    let (code, shown) = on_a_terminal(&world, &["apply", HELLO], b"\x04");
    assert_eq!(code, 1, "{shown}");
    assert!(shown.ends_with("Apply cancelled.\n"), "{shown:?}");
    assert!(world.pods().is_empty() && world.state(HELLO_STATE).is_none());
    // `yes` still approves.
    let (code, shown) = on_a_terminal(&world, &["apply", HELLO], b"yes\n");
    assert_eq!(code, 0, "{shown}");
    assert_eq!(world.pods().len(), 1);
}

#[test]
fn the_readmes_plan_excerpt_is_what_rpd_plan_prints() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find("$ rpd plan examples/hello.yaml\n")
        .expect("the README shows a plan");
    let excerpt = &readme[start..];
    let excerpt = &excerpt[..excerpt.find("```").unwrap()];
    let world = World::new();
    let printed = world.rpd(&["plan", HELLO]).status(0).stdout();
    // Each line of the excerpt (but `...`) is printed, in this order.
    let mut rest = printed.as_str();
    for line in excerpt.lines().skip(1).filter(|l| l.trim() != "...") {
        let at = rest.find(&format!("{line}\n")).unwrap_or_else(|| {
            panic!("README line {line:?} is not what rpd prints (next):\n{rest}")
        });
        rest = &rest[at + line.len()..];
    }
}

/// The example's review step, run as CI runs it (bash, in a git checkout,
/// `rpd` on PATH, no RunPod key): a changed config and a new one.
#[test]
fn the_github_actions_review_step_comments_on_a_changed_and_a_new_config() {
    let text =
        std::fs::read_to_string(repo_root().join("examples/github-actions/rpd-plan.yml")).unwrap();
    let workflow: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let steps = workflow["jobs"]["plan"]["steps"].as_sequence().unwrap();
    let script = steps
        .iter()
        .find(|s| s["name"] == "Review the config changes")
        .and_then(|s| s["run"].as_str())
        .expect("the review step");
    let world = World::new();
    let hello = world
        .read(HELLO)
        .replace("source: hello/", "source: ../examples/hello/");
    world.write("configs/a.yaml", &hello);
    world.write("notes.txt", "not a config\n");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(world.path(""))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "configs", "notes.txt"]);
    git(&["commit", "-qm", "base"]);
    let base = git(&["rev-parse", "HEAD"]);
    world.edit(
        "configs/a.yaml",
        "torch280-ubuntu2404",
        "torch291-ubuntu2404",
    );
    world.write(
        "configs/b.yaml",
        &hello.replace("name: hello", "name: other"),
    );
    git(&["add", "configs"]);
    git(&["commit", "-qm", "change"]);
    let rpd_dir = assert_cmd::cargo::cargo_bin("rpd")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        rpd_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", script])
        .current_dir(world.path(""))
        .env("PATH", path)
        .env("BASE", &base)
        .env("HOME", world.path("home"))
        .env_remove("RPD_PROVIDER")
        .env_remove("RUNPOD_API_KEY")
        .env_remove("LIVE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let comment = world.read("comment.md");
    assert!(
        comment.starts_with("<!-- rpd:review -->\n<!-- rpd:diff paths=configs/a.yaml -->\n"),
        "{comment}"
    );
    // An image change updates the recycled pod in place: no warning.
    assert!(
        comment.contains("will be updated in place, then resumed**: `image`"),
        "{comment}"
    );
    assert!(!comment.contains("forces replacement"), "{comment}");
    assert!(
        comment.contains(
            "<!-- rpd:diff paths=configs/b.yaml -->\n### rpd diff: `/dev/null` → `configs/b.yaml`"
        ),
        "{comment}"
    );
    assert!(
        comment.contains("**Plan: 1 to create, 0 to resume, 0 to destroy, 1 to stop.**"),
        "{comment}"
    );
    assert!(comment.chars().count() < 65_535);
}

/// Waits for `done` (a condition on the world), up to 60 s.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not happen within 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn logs_follow_a_running_job_to_its_end_then_exit_0_with_a_closing_line() {
    let world = World::new();
    let go = world.signal_path("go");
    world.edit(
        HELLO,
        "    echo HELLO_DONE\n",
        &format!(
            "    while [ ! -e {} ]; do sleep 0.1; done\n    echo HELLO_DONE\n",
            go.display()
        ),
    );
    let apply = world
        .std_command(&["apply", "-y", HELLO])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The job runs once its log has its first lines.
    wait_for("the job's start", || {
        std::fs::read_dir(world.sim_dir().join("pods")).is_ok_and(|pods| {
            pods.flatten().any(|pod| {
                std::fs::read_to_string(pod.path().join("volume/hello/run.log"))
                    .is_ok_and(|log| log.contains("staged"))
            })
        })
    });
    let follow = world
        .std_command(&["logs", "-f", "-n", "1", HELLO])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(&go, "").unwrap();
    let out = follow.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).ends_with("HELLO_DONE\n"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Either the live log reached its end, or the recycle stopped the pod
    // first and the end came from the log the apply pulled.
    let closing = stderr.lines().last().unwrap_or_default();
    assert!(
        closing == "# the job exited with status 0; that is the whole log"
            || (closing.starts_with("# pod ")
                && closing.contains(" is EXITED now: the job ended and its lifecycle ran; the log's end is from the copy rpd pulled, ")),
        "{stderr}"
    );
    let mut apply = apply;
    assert!(apply.wait().unwrap().success());
}
