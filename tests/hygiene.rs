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

/// Moves the pod's stop `days` days (and an hour) back: rpd's record of
/// it and the provider's last status change (the newer of the two dates
/// a stop).
fn stopped_days_ago(world: &World, days: i64) {
    let mut state = world.state(HELLO_STATE).expect("state exists");
    let since = chrono::Utc::now() - chrono::Duration::days(days) - chrono::Duration::hours(1);
    state["pod"]["status_since"] = serde_json::json!(since.to_rfc3339());
    world.write(HELLO_STATE, &serde_json::to_string_pretty(&state).unwrap());
    let pod = state["pod"]["id"].as_str().expect("a pod");
    world
        .rpd(&[
            "sim",
            "set",
            pod,
            &format!("changed_at={}", since.to_rfc3339()),
        ])
        .status(0);
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
    // The registered state is gone: moved (its pods still tracked there)
    // or deleted, rpd cannot tell, so no pod is provably untracked.
    run(&["ls-stale"])
        .stdout("
            No stopped pods.
            1 stopped pod that rpd did not create not listed (--all lists them)
            1 stopped pod that rpd created and no state rpd read tracks not listed: rpd cannot prove that none tracks them while a registered state cannot be read (--all lists them)

            Stopped: 0 pods, 0 GB of volume: $0.00/day, $0.00/month (volume disk bills $0.20/GB a month while stopped).
        ")
        .run();
    run(&["status"])
        .stdout("
            No pods tracked.
            Warning: the state file examples/.rpd/hello.state.json of examples/hello.yaml is gone (it last tracked [MINE]): moved or deleted, rpd cannot tell, so until it knows no rpd pod is provably untracked; if it moved, `rpd refresh` the config at its new place; if it is gone for good, `rpd state rm examples/hello.yaml` says so
            1 pod that rpd created is tracked by no state rpd could read here, but rpd cannot prove that none tracks it: a state it could not read, or one registered elsewhere (another RPD_DATA_DIR or machine), may; see `rpd ls-stale`.

            Running: 0 pods ($0.00/hr). Paused: 0 pods, 0 GB of volume ($0.00/day, $0.00/month while stopped).
        ")
        .run();
    run(&["cleanup", "--all-stopped", "--untracked", "-y"])
        .status(1)
        .stdout("
            rpd cleanup plan for rpd's stopped pods, untracked ones included

            No changes. Nothing to clean up.
            Note: 1 stopped pod that rpd did not create left alone (--all includes them)
            Note: 1 stopped pod that rpd created and no state rpd read tracks left alone: rpd cannot prove that none tracks them while a registered state cannot be read (--all includes them)
        ")
        .stderr("
            error: --untracked: rpd cannot prove that no state tracks a pod while a registered state cannot be read: [TMP]/examples/.rpd/hello.state.json (gone); 1 pod that no state rpd read tracks left alone
              = help: restore an unreadable state (its .backup is beside it); for a state file that moved, `rpd refresh` its config at the new place; for one gone for good, `rpd state rm CONFIG`
        ")
        .run();
    assert_eq!(world.pod_ids().len(), 2, "nothing deleted");
    // The user says it is gone for good: its pods are provably untracked.
    run(&["state", "rm", HELLO])
        .stdout("rpd's registry now records that [TMP]/examples/.rpd/hello.state.json, the state file of examples/hello.yaml, is gone for good. The pods it made are untracked rpd pods: `rpd ls-stale` lists them, `rpd cleanup --all-stopped --untracked` deletes them once stopped, and `rpd import examples/hello.yaml POD_ID` adopts one again.\n")
        .run();
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
            1 pod that rpd created is tracked by no state: see `rpd ls-stale`, and `rpd cleanup --all-stopped --untracked`.

            Running: 0 pods ($0.00/hr). Paused: 0 pods, 0 GB of volume ($0.00/day, $0.00/month while stopped).
        ")
        .stderr("No configs in rpd's registry ([TMP]/home/.local/share/rpd/registry.json): `rpd apply` records each config it applies; or name configs: `rpd status CONFIG...`.\n")
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
        .stdout("
            rpd cleanup plan for rpd's stopped pods, untracked ones included

            No changes. Nothing to clean up.
            Note: 1 stopped pod that rpd created and no state rpd read tracks left alone: rpd cannot prove that none tracks them while a registered state cannot be read (--all includes them)
        ")
        .stderr(&format!("{error}error: --untracked: rpd cannot prove that no state tracks a pod while a registered state cannot be read: [TMP]/examples/.rpd/hello.state.json (unreadable); 1 pod that no state rpd read tracks left alone\n  = help: restore an unreadable state (its .backup is beside it); for a state file that moved, `rpd refresh` its config at the new place; for one gone for good, `rpd state rm CONFIG`\n"))
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

/// A copy of hello named `name` beside it (its own state file and
/// artifact folder); the config's path.
fn second_config(world: &World, name: &str) -> String {
    let text = world
        .read(HELLO)
        .replace("name: hello", &format!("name: {name}"))
        .replace(
            "local_path: artifacts/hello/",
            &format!("local_path: artifacts/{name}/"),
        );
    let rel = format!("examples/{name}.yaml");
    world.write(&rel, &text);
    rel
}

/// The id of the pod the state file `rel` tracks now.
fn tracked_pod(world: &World, rel: &str) -> Option<String> {
    world
        .state(rel)
        .and_then(|s| s["pod"]["id"].as_str().map(String::from))
}

/// Issue 19 (11): `state reassign` after a config moved with its state
/// never told the registry, so the moved state's paused pod looked
/// untracked and `cleanup --untracked` deleted it behind the state's back.
#[test]
fn a_reassigned_state_stays_in_the_registry_and_its_pod_stays_tracked() {
    let world = World::new();
    let pod = applied(&world);
    std::fs::rename(world.path("examples"), world.path("moved")).unwrap();
    world
        .rpd(&["state", "reassign", "moved/hello.yaml"])
        .status(0);
    world
        .test()
        .args(["cleanup", "--all-stopped", "--untracked", "--dry-run"])
        .known(&pod, "[POD]")
        .stdout_has("tracked by [TMP]/moved/hello.yaml)")
        .stdout_has("forget pod [POD] in [TMP]/moved/.rpd/hello.state.json")
        .stdout_lacks("untracked rpd pod")
        .run();
    world
        .test()
        .args(["status"])
        .known(&pod, "[POD]")
        .stdout_has("moved/hello.yaml  [POD]")
        .stdout_lacks("untracked")
        .stdout_lacks("is gone")
        .run();
    let registry = world.read("home/.local/share/rpd/registry.json");
    assert!(
        registry.contains("moved/.rpd/hello.state.json"),
        "{registry}"
    );
    assert!(
        !registry.contains("examples/.rpd/hello.state.json"),
        "the entry of the state's old place is gone: {registry}"
    );
}

/// Issue 19 (11): a registry rpd cannot write was only a warning, so an
/// apply made a pod that no registered state knew of.
#[test]
fn a_registry_that_cannot_be_written_stops_the_apply_before_any_pod() {
    let world = World::new();
    std::fs::create_dir_all(world.path("home/.local/share/rpd/registry.json.lock")).unwrap();
    world
        .test()
        .args(["apply", "-y", HELLO])
        .status(1)
        .stdout_has("Plan: 1 to create")
        .stderr_has(
            "error: hello: cannot lock rpd's registry [TMP]/home/.local/share/rpd/registry.json",
        )
        .run();
    assert!(world.pods().is_empty(), "no pod made");
    assert!(world.state(HELLO_STATE).is_none());
}

/// Issue 19 (11): a pod named with a lineage that no state of this
/// registry knows may be tracked by a state registered elsewhere (another
/// RPD_DATA_DIR, another machine): `--untracked` leaves it alone and says
/// why, and `status` does not recommend deleting it.
#[test]
fn a_pod_of_a_state_registered_elsewhere_is_not_provably_untracked() {
    let world = World::new();
    let elsewhere = applied(&world);
    let other = second_config(&world, "other");
    let data_b = world.path("data-b").display().to_string();
    world
        .rpd_env(&["apply", "-y", &other], &[("RPD_DATA_DIR", &data_b)])
        .status(0);
    let mine = tracked_pod(&world, "examples/.rpd/other.state.json").unwrap();
    world
        .test()
        .args(["status"])
        .env("RPD_DATA_DIR", &data_b)
        .known(&elsewhere, "[ELSEWHERE]")
        .known(&mine, "[MINE]")
        .stdout_lacks("cleanup --all-stopped --untracked")
        .stdout_has("cannot prove")
        .run();
    world
        .test()
        .args(["cleanup", "--all-stopped", "--untracked", "-y"])
        .env("RPD_DATA_DIR", &data_b)
        .known(&elsewhere, "[ELSEWHERE]")
        .known(&mine, "[MINE]")
        .stdout_has("1. delete pod [MINE]")
        .stdout_lacks("delete pod [ELSEWHERE]")
        .stdout_has("RPD_DATA_DIR")
        .stderr_lacks("Destroying pod [ELSEWHERE]")
        .stderr_has("Destroying pod [MINE]")
        .run();
    assert_eq!(world.pod_ids(), [elsewhere.as_str()]);
}

/// Issue 19 (12): two imports of one pod ran their ownership check before
/// either recorded the pod: both succeeded, and two configs managed one
/// pod. However many run at once, exactly one wins.
#[test]
fn concurrent_imports_of_one_pod_let_exactly_one_win() {
    let world = World::new();
    let pod = applied(&world);
    world.rpd(&["state", "rm", HELLO]).status(0);
    let configs: Vec<String> = (1..=5)
        .map(|n| second_config(&world, &format!("c{n}")))
        .collect();
    for round in 0..3 {
        let imports: Vec<_> = configs
            .iter()
            .map(|config| world.spawn(&["import", config, &pod]))
            .collect();
        let runs: Vec<_> = imports.into_iter().map(|b| b.wait()).collect();
        let winners: Vec<usize> = (0..runs.len()).filter(|i| runs[*i].code() == 0).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one import wins: {:?}",
            runs.iter()
                .map(|r| (r.code(), r.stderr()))
                .collect::<Vec<_>>()
        );
        for (i, run) in runs.iter().enumerate().filter(|(i, _)| *i != winners[0]) {
            assert_eq!(run.code(), 1, "round {round}: {}", run.stderr());
            assert!(
                run.stderr().contains(&format!("pod {pod} is tracked by")),
                "round {round}, {}: {}",
                configs[i],
                run.stderr()
            );
        }
        let winner = &configs[winners[0]];
        world.rpd(&["state", "rm", winner]).status(0);
    }
}

/// Writes into hello's state a job launched on `pod` that no rpd
/// collected (as `apply --detach` leaves it).
fn uncollected_job_on(world: &World, pod: &str) {
    let mut state = world.state(HELLO_STATE).expect("state exists");
    state["launched_job"] = serde_json::json!({
        "pod_id": pod,
        "launched_at": "2026-11-28T00:40:51Z",
        "run_dir": world.path("examples/artifacts/runpod/20261128T004051Z-hello-abcdef"),
        "log_path": "/workspace/hello/run.log",
        "tag": "abcdef",
        "detached": true,
    });
    world.write(HELLO_STATE, &serde_json::to_string_pretty(&state).unwrap());
}

/// Issue 19 (13): `destroy` and `--replace` warn about a pod holding a job
/// no rpd collected; cleanup deleted (or stopped) it without a word.
#[test]
fn cleanup_keeps_a_pod_holding_an_uncollected_job_unless_forced() {
    let world = World::new();
    let pod = applied(&world);
    uncollected_job_on(&world, &pod);
    world
        .test()
        .args(["ls-stale"])
        .known(&pod, "[POD]")
        .stdout_has("uncollected job")
        .run();
    for args in [
        &["cleanup", "--all-stopped", "-y"][..],
        &["cleanup", "--state-file", HELLO_STATE, "-y"],
    ] {
        world
            .test()
            .args(args)
            .known(&pod, "[POD]")
            .status(1)
            .stdout_has("no rpd collected")
            .stdout_has("rpd attach")
            .stdout_has("--force")
            .stderr_has("nothing was deleted")
            .run();
        assert_eq!(world.pod_ids(), [pod.as_str()], "{args:?}");
    }
    world.rpd(&["sim", "start", &pod]).status(0);
    world
        .test()
        .args([
            "cleanup",
            "--state-file",
            HELLO_STATE,
            "--mode",
            "stop",
            "-y",
        ])
        .known(&pod, "[POD]")
        .status(1)
        .stdout_has("no rpd collected")
        .stdout_has("stopping the pod ends the job if it still runs")
        .stderr_has("nothing was deleted or stopped")
        .run();
    assert_eq!(world.pods()[0]["status"], "RUNNING");
    world.rpd(&["sim", "stop", &pod]).status(0);
    world
        .test()
        .args(["cleanup", "--all-stopped", "-y", "--force"])
        .known(&pod, "[POD]")
        .stdout_has("no rpd collected")
        .stdout_has("Cleanup complete! Pods: 1 destroyed")
        .stderr_has("Destroying pod [POD]")
        .run();
    assert!(world.pods().is_empty());
    assert!(
        world
            .state(HELLO_STATE)
            .unwrap()
            .get("launched_job")
            .is_none()
    );
}

/// Issue 19 (15): one state rpd cannot read broke `ls-stale`, `cleanup`
/// and `import` for every config, and made `status` call its pod
/// untracked. It is named and skipped; the others go on; exit 1.
#[test]
fn one_corrupt_state_is_named_and_skipped_and_the_others_go_on() {
    let world = World::new();
    let hello = applied(&world);
    let other = second_config(&world, "other");
    world.rpd(&["apply", "-y", &other]).status(0);
    let broken = tracked_pod(&world, "examples/.rpd/other.state.json").unwrap();
    world.write("examples/.rpd/other.state.json", "{garbage");
    let named = "examples/.rpd/other.state.json is not valid JSON";
    world
        .test()
        .args(["ls-stale"])
        .known(&hello, "[HELLO]")
        .known(&broken, "[BROKEN]")
        .status(1)
        .stdout_has("[HELLO]")
        .stderr_has(named)
        .run();
    world
        .test()
        .args(["status"])
        .known(&hello, "[HELLO]")
        .known(&broken, "[BROKEN]")
        .status(1)
        .stdout_has("examples/hello.yaml  [HELLO]")
        .stdout_lacks("cleanup --all-stopped --untracked")
        .stderr_has(named)
        .run();
    world
        .test()
        .args(["cleanup", "--all-stopped", "--untracked", "-y"])
        .known(&hello, "[HELLO]")
        .known(&broken, "[BROKEN]")
        .status(1)
        .stdout_has("delete pod [HELLO]")
        .stdout_lacks("delete pod [BROKEN]")
        .stderr_has(named)
        .run();
    assert_eq!(
        world.pod_ids(),
        [broken.as_str()],
        "hello's went, other's stayed"
    );
    // An import into another config still works, and names the state it
    // could not check.
    let third = applied(&world);
    world.rpd(&["state", "rm", HELLO]).status(0);
    world
        .test()
        .args(["import", HELLO, &third])
        .known(&third, "[THIRD]")
        .status(1)
        .stdout_has("Imported pod [THIRD]")
        .stderr_has(named)
        .run();
}

/// Issue 19 (16): `cleanup --stale` took rpd's old record of a stop over
/// the provider's newer status change: a pod started and stopped yesterday
/// outside rpd was "stopped 48 days".
#[test]
fn the_newer_of_rpds_record_and_the_providers_status_change_dates_a_stop() {
    let world = World::new();
    let pod = applied(&world);
    stopped_days_ago(&world, 48);
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    world
        .rpd(&[
            "sim",
            "set",
            &pod,
            &format!("changed_at={}", yesterday.to_rfc3339()),
        ])
        .status(0);
    world
        .test()
        .args(["cleanup", "--stale", "--dry-run"])
        .stdout_has("No changes. Nothing to clean up.")
        .stdout_has("1 stopped pod stopped less than 30 days ago left alone")
        .run();
    world
        .test()
        .args(["status"])
        .known(&pod, "[POD]")
        .stdout_has("stopped 1 day ago")
        .run();
}
