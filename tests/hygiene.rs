//! `rpd status`, `ls-stale` and `cleanup` on the simulator: a paused pod's
//! storage priced at the stopped rate (50 GB = $10.00/month, $0.33/day),
//! ages from rpd's record of the stop, and nothing outside rpd's pods
//! touched without `--all`.

mod common;

use common::hello::{HELLO, HELLO_STATE};
use common::{Test, World, unindent};

/// Applies hello with a 50 GB volume: one paused pod, tracked.
fn paused_50_gb(world: &World) -> String {
    world.edit(HELLO, "volume_gb: 20", "volume_gb: 50");
    applied(world)
}

/// Applies hello; the id of the pod it paused.
fn applied(world: &World) -> String {
    world.rpd(&["apply", "-y", HELLO]).status(0);
    pod_id(world)
}

fn pod_id(world: &World) -> String {
    let state = world.state(HELLO_STATE).expect("state exists");
    state["pod_id"].as_str().expect("pod_id").to_string()
}

/// Moves rpd's record of the pod's stop `days` days (and an hour) back.
fn stopped_days_ago(world: &World, days: i64) {
    let mut state = world.state(HELLO_STATE).expect("state exists");
    let since = chrono::Utc::now() - chrono::Duration::days(days) - chrono::Duration::hours(1);
    state["pod"]["status_since"] = serde_json::json!(since.to_rfc3339());
    world.write(HELLO_STATE, &serde_json::to_string_pretty(&state).unwrap());
}

/// The pod's name (it carries 6 hex of a random lineage).
fn name_of(world: &World, id: &str) -> String {
    world
        .pods()
        .iter()
        .find(|p| p["id"] == id)
        .and_then(|p| p["name"].as_str())
        .expect("the pod exists")
        .to_string()
}

#[test]
fn status_and_ls_stale_price_a_paused_50_gb_volume_at_ten_dollars_a_month() {
    let world = World::new();
    let pod = paused_50_gb(&world);
    let name = name_of(&world, &pod);
    stopped_days_ago(&world, 41);
    world
        .test()
        .args(["status"])
        .known(&pod, "[P1]")
        .stdout(
            "
            CONFIG               POD             STATUS  GPU                      DATACENTER  $/HR  SINCE                STOPPED $/DAY  $/MONTH  ON SUCCESS/FAILURE  LAST RUN
            examples/hello.yaml  [P1]  EXITED  NVIDIA GeForce RTX 4090  EU-RO-1     -     stopped 41 days ago  $0.33          $10.00   recycle/stop        [DATE] ok, cold

            Running: 0 pods ($0.00/hr). Paused: 1 pod, 50 GB of volume ($0.33/day, $10.00/month while stopped).
            ",
        )
        .run();
    world
        .test()
        .args(["ls-stale"])
        .known(&pod, "[P1]")
        .known(&name, "[NAME]")
        .stdout(
            "
            POD             NAME                           VOLUME  DAYS STOPPED  $/DAY  $/MONTH  OWNER
            [P1]  [NAME]  50 GB   41            $0.33  $10.00   examples/hello.yaml

            Stopped: 1 pod, 50 GB of volume: $0.33/day, $10.00/month (volume disk bills $0.20/GB a month while stopped).
            ",
        )
        .run();
    world
        .test()
        .args(["ls-stale", "--older-than", "42d"])
        .stdout(
            "
            No stopped pods.
            1 stopped pod stopped less than 42 days ago not listed (--older-than)

            Stopped: 0 pods, 0 GB of volume: $0.00/day, $0.00/month (volume disk bills $0.20/GB a month while stopped).
            ",
        )
        .run();
    let status = world.rpd(&["status", "--json"]).status(0).json();
    let totals = &status["status"]["totals"];
    assert_eq!(
        (totals["paused"].as_u64(), totals["paused_gb"].as_u64()),
        (Some(1), Some(50))
    );
    assert_eq!(totals["paused_per_month"], 10.0);
    assert_eq!(
        status["status"]["pods"][0]["for_sec"]
            .as_u64()
            .map(|s| s / 86_400),
        Some(41)
    );
    let json = world.rpd(&["ls-stale", "--json"]).status(0).json();
    assert_eq!(json["stale_pods"][0]["stopped_days"], 41);
    assert_eq!(json["stale_pods"][0]["per_month"], 10.0);
}

/// `rpd cleanup --stale`'s plan for hello's pod `[P1]` named `[NAME]`,
/// 50 GB, stopped 41 days ago.
const STALE_PLAN: &str = "
    rpd cleanup plan for the stopped pods rpd's state files track

    rpd will perform the following actions:

      Steps:
        1. delete pod [P1] (\"[NAME]\", stopped 41 days, 50 GB volume ($0.33/day); tracked by [TMP]/examples/hello.yaml)

      State only (no provider calls):
        · forget pod [P1] in [TMP]/examples/.rpd/hello.state.json

    Plan: 0 to create, 0 to resume, 1 to destroy, 0 to stop.
    Cost: frees $10.00/month ($0.33/day) of volume storage billed while stopped.
";

#[test]
fn cleanup_stale_shows_its_plan_asks_and_deletes_only_what_it_showed() {
    let world = World::new();
    let pod = paused_50_gb(&world);
    let name = name_of(&world, &pod);
    stopped_days_ago(&world, 41);
    let cleanup = |args: &[&str]| {
        world
            .test()
            .args(args)
            .known(&pod, "[P1]")
            .known(&name, "[NAME]")
    };
    cleanup(&["cleanup", "--stale", "--dry-run"])
        .stdout(&format!(
            "{}\nDry run: nothing was changed.\n",
            unindent(STALE_PLAN)
        ))
        .run();
    assert_eq!(world.pod_ids(), [pod.as_str()], "a dry run changes nothing");
    cleanup(&["cleanup", "--stale"])
        .status(1)
        .stdout(STALE_PLAN)
        .stderr("
            error: standard input is not a terminal, so rpd cannot ask for confirmation
              = help: review the plan with `rpd cleanup --dry-run ...`, then pass -y/--yes to clean up without asking
        ")
        .run();
    assert_eq!(world.pod_ids(), [pod.as_str()], "nothing without a yes");
    cleanup(&["cleanup", "--older-than", "42d", "--all-stopped", "-y"])
        .stdout(
            "
            rpd cleanup plan for the stopped pods rpd's state files track

            No changes. Nothing to clean up.
            Note: 1 stopped pod stopped less than 42 days ago left alone (--older-than)
        ",
        )
        .run();
    cleanup(&["cleanup", "--stale", "-y"])
        .stdout(&format!(
            "{}\nCleanup complete! Pods: 1 destroyed, 0 stopped, 0 forgotten (already gone).\n",
            unindent(STALE_PLAN)
        ))
        .stderr(
            "
            cleanup: Destroying pod [P1]...
            cleanup: Destruction complete after [ELAPSED] [id=[P1]]
        ",
        )
        .run();
    assert!(world.pods().is_empty());
    let state = world
        .state(HELLO_STATE)
        .expect("the state stays, with its history");
    assert!(state.get("pod").is_none(), "{state}");
}

#[test]
fn a_pod_whose_state_was_deleted_is_untracked_and_a_renamed_one_is_not_rpds() {
    let world = World::new();
    let lost = applied(&world);
    let lost_name = name_of(&world, &lost);
    std::fs::remove_file(world.path(HELLO_STATE)).unwrap();
    let renamed = applied(&world);
    world
        .rpd(&["sim", "set", &renamed, "name=my-notebook"])
        .status(0);
    std::fs::remove_file(world.path(HELLO_STATE)).unwrap();
    // Stopped 10 and 3 days ago, by the provider's record (no state has one).
    for (pod, days) in [(&lost, 10), (&renamed, 3)] {
        let at = chrono::Utc::now() - chrono::Duration::days(days) - chrono::Duration::hours(1);
        let at = format!("changed_at={}", at.to_rfc3339());
        world.rpd(&["sim", "set", pod, &at]).status(0);
    }
    let run = |args: &[&str]| {
        world
            .test()
            .args(args)
            .known(&lost, "[LOST]")
            .known(&lost_name, "[NAME]")
            .known(&renamed, "[MINE]")
    };
    run(&["ls-stale"])
        .stdout("
            POD             NAME                           VOLUME  DAYS STOPPED  $/DAY  $/MONTH  OWNER
            [LOST]  [NAME]  20 GB   10            $0.13  $4.00    untracked rpd pod (from examples/hello.yaml)
            1 stopped pod that rpd did not create not listed (--all lists them)

            Stopped: 1 pod, 20 GB of volume: $0.13/day, $4.00/month (volume disk bills $0.20/GB a month while stopped).
        ")
        .run();
    run(&["ls-stale", "--all"])
        .stdout("
            POD             NAME                           VOLUME  DAYS STOPPED  $/DAY  $/MONTH  OWNER
            [LOST]  [NAME]  20 GB   10            $0.13  $4.00    untracked rpd pod (from examples/hello.yaml)
            [MINE]  my-notebook                    20 GB   3             $0.13  $4.00    not rpd's

            Stopped: 2 pods, 40 GB of volume: $0.27/day, $8.00/month (volume disk bills $0.20/GB a month while stopped).
        ")
        .run();
    run(&["status"])
        .stdout("
            No pods tracked.
            Warning: the state file examples/.rpd/hello.state.json of examples/hello.yaml is gone (it last tracked [MINE]); its pods show as untracked in `rpd ls-stale`
            1 pod that rpd created is tracked by no state: see `rpd ls-stale`, and `rpd cleanup --all-stopped --untracked`.

            Running: 0 pods ($0.00/hr). Paused: 0 pods, 0 GB of volume ($0.00/day, $0.00/month while stopped).
        ")
        .run();
    run(&["cleanup", "--all-stopped", "-y"])
        .stdout("
            rpd cleanup plan for the stopped pods rpd's state files track

            No changes. Nothing to clean up.
            Note: 1 stopped pod that rpd did not create left alone (--all includes them)
            Note: 1 stopped pod that rpd created but no state tracks left alone (--untracked includes them)
        ")
        .run();
    run(&["cleanup", "--all-stopped", "--untracked", "-y"])
        .stdout("
            rpd cleanup plan for rpd's stopped pods, untracked ones included

            rpd will perform the following actions:

              Steps:
                1. delete pod [LOST] (\"[NAME]\", stopped 10 days, 20 GB volume ($0.13/day); untracked rpd pod (made for [TMP]/examples/hello.yaml, whose state no longer tracks it))

            Note: 1 stopped pod that rpd did not create left alone (--all includes them)

            Plan: 0 to create, 0 to resume, 1 to destroy, 0 to stop.
            Cost: frees $4.00/month ($0.13/day) of volume storage billed while stopped.

            Cleanup complete! Pods: 1 destroyed, 0 stopped, 0 forgotten (already gone).
        ")
        .stderr("
            cleanup: Destroying pod [LOST]...
            cleanup: Destruction complete after [ELAPSED] [id=[LOST]]
        ")
        .run();
    assert_eq!(world.pod_ids(), [renamed.as_str()], "not rpd's: left alone");
    run(&["cleanup", "--all-stopped", "--all", "--dry-run"])
        .stdout("
            rpd cleanup plan for every stopped pod of the account

            rpd will perform the following actions:

              Steps:
                1. delete pod [MINE] (\"my-notebook\", stopped 3 days, 20 GB volume ($0.13/day); not rpd's)

            Warning: --all: this deletes 1 pod that rpd did not create

            Plan: 0 to create, 0 to resume, 1 to destroy, 0 to stop.
            Cost: frees $4.00/month ($0.13/day) of volume storage billed while stopped.

            Dry run: nothing was changed.
        ")
        .run();
    assert_eq!(world.pod_ids(), [renamed.as_str()]);
}

#[test]
fn cleanup_state_file_mode_stop_stops_a_pod_started_in_the_console_and_keeps_it() {
    let world = World::new();
    let pod = applied(&world);
    let name = name_of(&world, &pod);
    world.rpd(&["sim", "start", &pod]).status(0);
    world
        .test()
        .args(["cleanup", "--state-file", HELLO_STATE, "--mode", "stop", "-y"])
        .known(&pod, "[P1]")
        .known(&name, "[NAME]")
        .stdout("
            rpd cleanup plan for examples/.rpd/hello.state.json

            rpd will perform the following actions:

              Steps:
                1. stop pod [P1], keeping it and its volume (\"[NAME]\", running, 20 GB volume; tracked by [TMP]/examples/hello.yaml)

            Plan: 0 to create, 0 to resume, 0 to destroy, 1 to stop.
            Cost: stops $0.44/hr of running pods.

            Cleanup complete! Pods: 0 destroyed, 1 stopped, 0 forgotten (already gone).
        ")
        .stderr("
            cleanup: Stopping pod [P1]...
            cleanup: Stop complete after [ELAPSED] [id=[P1]]
        ")
        .run();
    assert_eq!(world.pods()[0]["status"], "EXITED");
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(state["pod"]["status"], "EXITED");
}

#[test]
fn status_finds_configs_through_the_registry_until_destroy_removes_them() {
    let world = World::new();
    let empty = "
        No pods tracked.

        Running: 0 pods ($0.00/hr). Paused: 0 pods, 0 GB of volume ($0.00/day, $0.00/month while stopped).
    ";
    let hint = "No configs in rpd's registry ([TMP]/home/.local/share/rpd/registry.json): `rpd apply` records each config it applies; or name configs: `rpd status CONFIG...`.\n";
    world
        .test()
        .args(["status"])
        .stdout(empty)
        .stderr(hint)
        .run();
    let pod = applied(&world);
    let registry = world.read("home/.local/share/rpd/registry.json");
    assert!(registry.contains(&pod), "{registry}");
    world.rpd(&["destroy", "-y", HELLO]).status(0);
    world
        .test()
        .args(["status"])
        .stdout(empty)
        .stderr(hint)
        .run();
}

#[test]
fn runs_lists_a_cold_then_a_warm_run_and_advise_weighs_them() {
    let world = World::new();
    let pod = applied(&world);
    applied(&world);
    let runs = world.rpd(&["runs", "--json"]).status(0).json();
    let starts: Vec<&str> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["start"].as_str().unwrap())
        .collect();
    assert_eq!(starts, ["cold", "warm"]);
    assert_eq!(runs["runs"][1]["pod_id"], pod.as_str(), "the pod resumed");
    // Times on the simulator are milliseconds: the verdict is not pinned,
    // only that the figures it rests on are there.
    world
        .test()
        .args(["advise", HELLO])
        .stdout_has("examples/hello.yaml: recycling ")
        .stdout_has("  Time until the script started (median): cold ")
        .stdout_has(" (1 run), warm ")
        .stdout_has("  Paused, the 20 GB volume bills $0.93 a week ($0.20/GB a month).\n")
        .run();
    world
        .test()
        .args(["runs"])
        .stdout_has("WHEN              JOB    POD             START  TO READY  JOB TIME  OUTCOME  EST. COST  RUN\n")
        .stdout_has(" hello  [POD]  warm ")
        .run();
}

#[test]
fn refresh_records_a_console_start_edit_and_delete_and_acts_on_nothing() {
    let world = World::new();
    world
        .test()
        .args(["refresh", HELLO])
        .stdout("examples/hello.yaml: no state, nothing to refresh.\n")
        .run();
    assert!(
        !world.path("examples/.rpd").exists(),
        "refresh leaves nothing"
    );
    let pod = applied(&world);
    world
        .rpd(&["sim", "set", &pod, "status=RUNNING", "image=other:2"])
        .status(0);
    world.reset_calls();
    world
        .test()
        .args(["refresh", HELLO])
        .known(&pod, "[P1]")
        .stdout(
            r#"
            Changes made outside rpd:
              # pod "hello" ([P1]) has changed
                  ~ status = "EXITED" -> "RUNNING" (started outside rpd: it is billing)
                  ~ image  = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404" -> "other:2"

            examples/hello.yaml: the state records these changes; nothing else was done.
            "#,
        )
        .run();
    assert_eq!(
        world.call_counts(&["create", "start", "stop", "delete"]),
        [0, 0, 0, 0],
        "a refresh acts on nothing"
    );
    let state = world.state(HELLO_STATE).unwrap();
    assert_eq!(state["pod"]["status"], "RUNNING");
    assert_eq!(state["pod"]["spec"]["image"], "other:2");
    world
        .test()
        .args(["refresh", HELLO])
        .stdout("examples/hello.yaml: no changes; the state matches the provider.\n")
        .run();
    world.rpd(&["sim", "terminate", &pod]).status(0);
    world
        .test()
        .args(["refresh", HELLO])
        .known(&pod, "[P1]")
        .stdout(
            r#"
            Changes made outside rpd:
              # pod "hello" ([P1]) has been deleted

            examples/hello.yaml: the state records these changes; nothing else was done.
            "#,
        )
        .run();
    assert!(world.state(HELLO_STATE).unwrap().get("pod").is_none());
}

#[test]
fn a_pod_whose_state_was_deleted_can_be_imported_and_state_rm_forgets_it_untouched() {
    let world = World::new();
    let pod = applied(&world);
    std::fs::remove_file(world.path(HELLO_STATE)).unwrap();
    world
        .test()
        .args(["import", HELLO, &pod])
        .known(&pod, "[P1]")
        .stdout_has("Imported pod [P1] into [TMP]/examples/.rpd/hello.state.json.\n")
        .stdout_has("  # pod \"hello\" ([P1]) will be resumed (EXITED -> RUNNING)\n")
        .stdout_has("examples/hello.yaml now tracks pod [P1]; `rpd apply` uses it as the plan above says.\n")
        .run();
    assert_eq!(world.state(HELLO_STATE).unwrap()["pod"]["id"], pod.as_str());
    world
        .test()
        .args(["import", HELLO, &pod])
        .known(&pod, "[P1]")
        .status(1)
        .stderr("error: examples/hello.yaml already tracks pod [P1]\n")
        .run();
    world.reset_calls();
    world
        .test()
        .args(["state", "rm", HELLO])
        .known(&pod, "[P1]")
        .stdout("examples/hello.yaml no longer tracks pod [P1]. rpd did not touch the pod: it bills as before. `rpd ls-stale` lists it as an untracked rpd pod, `rpd cleanup --all-stopped --untracked` deletes it once stopped, and `rpd import examples/hello.yaml [P1]` adopts it again.\n")
        .run();
    assert_eq!(
        world.call_counts(&["create", "start", "stop", "delete"]),
        [0, 0, 0, 0],
        "state rm touches no pod"
    );
    assert_eq!(world.pod_ids(), [pod.as_str()]);
    assert!(world.state(HELLO_STATE).unwrap().get("pod").is_none());
    world
        .test()
        .args(["state", "rm", HELLO])
        .status(1)
        .stderr("error: examples/hello.yaml's state tracks no pod\n")
        .run();
    world
        .test()
        .args(["import", HELLO, "no-such-pod"])
        .status(1)
        .stderr("error: there is no pod no-such-pod (looked it up with --provider sim)\n")
        .run();
    // A pod changed in the console is imported, and the plan says it would
    // be replaced (a GPU count cannot change in place; an image can).
    world.rpd(&["sim", "set", &pod, "gpu_count=2"]).status(0);
    world
        .test()
        .args(["import", HELLO, &pod])
        .known(&pod, "[P1]")
        .stdout_has("Pod [P1] does not match examples/hello.yaml: `rpd apply` would replace it (see the plan above). `rpd state rm examples/hello.yaml` undoes the import.\n")
        .run();
}

#[test]
fn a_state_that_cannot_be_read_is_named_by_status_and_refused_by_cleanup() {
    let world = World::new();
    let pod = applied(&world);
    world.write(HELLO_STATE, "{garbage");
    let error = "error: reading the state of [TMP]/examples/hello.yaml\n  caused by: state file [TMP]/examples/.rpd/hello.state.json is not valid JSON (line 1, column 2): key must be a string at line 1 column 2\n  = help: rpd never overwrites it; the previous version is in [TMP]/examples/.rpd/hello.state.json.backup; inspect it and restore it with `cp` if it is right\n";
    // The rest of the report is still shown, and the exit status says a
    // config was left out.
    world
        .test()
        .args(["status"])
        .status(1)
        .stdout_has("Running: 0 pods ($0.00/hr).")
        .stderr(error)
        .run();
    // Whose a pod is cannot be known without it: nothing is deleted.
    world
        .test()
        .args(["cleanup", "--all-stopped", "--untracked", "-y"])
        .status(1)
        .stderr(error)
        .run();
    assert_eq!(world.pod_ids(), [pod.as_str()]);
}

/// An age too large for date arithmetic is refused by the parser (it
/// panicked computing the date).
#[test]
fn an_age_past_100_years_is_refused_not_a_panic() {
    for args in [
        ["cost", "--since", "300000y"],
        ["ls-stale", "--older-than", "300000y"],
    ] {
        Test::new()
            .args(args)
            .status(1)
            .stderr_has("at most 36500d (100 years)")
            .stderr_lacks("panicked")
            .run();
    }
}

/// With rpd's registry moved away (as the corrupt-registry advice allowed),
/// the paused pod of an intact state looks untracked: `cleanup --untracked`
/// refuses rather than delete it, until the config is recorded again.
#[test]
fn cleanup_untracked_refuses_while_the_registry_lists_no_config() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let pod = world.pod_ids()[0].clone();
    let registry = world.path("home/.local/share/rpd/registry.json");
    std::fs::rename(&registry, registry.with_extension("json.broken")).unwrap();
    world
        .test()
        .args(["cleanup", "--all-stopped", "--untracked", "-y"])
        .status(1)
        .stderr("error: rpd's registry ([TMP]/home/.local/share/rpd/registry.json) lists no config, so every pod rpd created looks untracked, paused pods that a config's state file still tracks included\n  = help: record the configs you use first with `rpd refresh CONFIG...` (changes no pod), then run this again; `rpd ls-stale` lists the pods\n")
        .run();
    assert_eq!(world.pod_ids(), [pod.as_str()]);
    // Recorded again, the pod is its config's again.
    world.rpd(&["refresh", HELLO]).status(0);
    world
        .test()
        .args(["cleanup", "--dry-run", "--all-stopped", "--untracked"])
        .known(&pod, "[POD]")
        .stdout_has("tracked by [TMP]/examples/hello.yaml)")
        .stdout_has("Dry run: nothing was changed.")
        .run();
    assert_eq!(world.pod_ids(), [pod.as_str()]);
}

/// A cleanup that meets a running apply's lock names the config in the
/// force-unlock hint (force-unlock takes a config, not a state file).
#[test]
fn a_cleanup_lock_clash_names_the_config_to_force_unlock() {
    let world = World::new();
    let apply = world.apply_in_background();
    let lock: serde_json::Value =
        serde_json::from_str(&world.read("examples/.rpd/hello.state.json.lock")).unwrap();
    world
        .test()
        .args([
            "cleanup",
            "-y",
            "--state-file",
            "examples/.rpd/hello.state.json",
            "--mode",
            "stop",
        ])
        .known(lock["id"].as_str().unwrap(), "[LOCK ID]")
        .status(1)
        .stderr_has("  rpd force-unlock [LOCK ID] [TMP]/examples/hello.yaml\n")
        .run();
    apply.release_job();
    apply.wait().status(0);
}

/// With no --provider and no RPD_PROVIDER, the hygiene commands look at the
/// configs on the provider they were applied with: after the README's
/// `--provider sim` apply, a bare `rpd status` asked for a RunPod key.
#[test]
fn hygiene_commands_use_the_provider_the_configs_were_applied_with() {
    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let pod = world.pod_ids()[0].clone();
    for args in [vec!["status"], vec!["ls-stale"], vec!["cost"]] {
        world
            .test()
            .args(&args)
            .env_remove("RPD_PROVIDER")
            .env_remove("RUNPOD_API_KEY")
            .known(&pod, "[POD]")
            .stdout_has("examples/hello.yaml")
            .stderr_lacks("API key")
            .run();
    }
    // Asked for another provider, it is that one.
    world
        .test()
        .args(["status"])
        .env("RPD_PROVIDER", "runpod")
        .env_remove("RUNPOD_API_KEY")
        .status(1)
        .stderr_has("error: no RunPod API key")
        .run();
}
