//! `rpd runs show RUN` on recorded runs (fixtures/telemetry/, copied into
//! the test's world: showing a run draws its metrics.svg), and on a run
//! the simulator made.

mod common;

use common::hello::HELLO;
use common::{World, copy_dir, repo_root};

/// The fixture `case`'s run directory copied into `world`; its path
/// relative to the world.
fn recorded(world: &World, case: &str) -> String {
    let from = repo_root().join("fixtures/telemetry").join(case);
    let run = std::fs::read_dir(&from)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .file_name();
    let rel = format!("runs/{case}/{}", run.to_string_lossy());
    copy_dir(&from.join(&run), &world.path(&rel));
    rel
}

#[test]
fn a_busy_gpu_run_shows_its_summary_findings_and_chart() {
    let world = World::new();
    let run = recorded(&world, "busy-gpu");
    world
        .test()
        .args(["runs", "show", &run])
        .env("LC_ALL", "C.UTF-8")
        .stdout(
            "
            Run [STAMP]-train-[RUN]
              Directory: [TMP]/runs/busy-gpu/[STAMP]-train-[RUN]
              Job train on pod [POD] (NVIDIA RTX A5000): ok, cold start, ready in [ELAPSED], job time 10m00s, est. cost $0.04
              GPU: NVIDIA RTX A5000; driver 550.54.15, CUDA 12.4
              Samples: 21 from 2026-11-20 [TIME] to [TIME] UTC (10m00s)
              Picture: [TMP]/runs/busy-gpu/[STAMP]-train-[RUN]/metrics.svg

            Findings:
              GPU busy 91 % on average; memory peaked at 23.1/24.0 GB (96 %: close to running out).

            GPU utilisation (%), peak 97 %
               100 │   ▇▇▇▇▇▇▇▇▇▇▇▆▆▆▇▇▇▇▇▇▇▇▇▇▇▆▆▆▇▇▇▇▇▇▇▇▇▇▇▆▆▆▆▇▇▇▇▇▇▇▇▇▇▆▆▆▆▇▇▇▇▇▇▇▇▇▇▆
                   │   ████████████████████████████████████████████████████████████████████
                   │   ████████████████████████████████████████████████████████████████████
                 0 │▁▁▁████████████████████████████████████████████████████████████████████
            GPU memory (GB), peak 23.1 GB
              24.0 │   ▃▃▃▃▃▃▃▄▄▄▄▄▄▄▅▅▅▅▅▅▅▆▆▆▆▆▆▆▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇
                   │   ████████████████████████████████████████████████████████████████████
                   │   ████████████████████████████████████████████████████████████████████
                 0 │▁▁▁████████████████████████████████████████████████████████████████████
                   └───────────────────────────────────────────────────────────────────────
                   [TIME]                                           [TIME] UTC (10m00s)
            ",
        )
        .run();
    let svg = std::fs::read_to_string(world.path(&run).join("metrics.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("GPU utilisation (%)"));
}

#[test]
fn an_oom_kill_and_xid_errors_come_first_and_ascii_without_a_utf8_locale() {
    let world = World::new();
    let run = recorded(&world, "oom-xid");
    world
        .test()
        .args(["runs", "show", &run])
        .env("LC_ALL", "C")
        .stdout(
            "
            Run [STAMP]-train-[RUN]
              Directory: [TMP]/runs/oom-xid/[STAMP]-train-[RUN]
              Job train on pod [POD] (NVIDIA RTX A5000): failed, cold start, ready in [ELAPSED], job time 5m00s, est. cost $0.04
              Samples: 10 from 2026-11-20 [TIME] to [TIME] UTC (4m30s)
              Picture: [TMP]/runs/oom-xid/[STAMP]-train-[RUN]/metrics.svg

            Findings:
              dmesg shows an OOM kill of python (pid 4242) at 8811.9 s after the host booted: the container's memory limit was reached.
              dmesg shows NVIDIA Xid 31 (GPU memory page fault) on 0000:3b:00 at 8790.4 s after the host booted: usually the job's own error, such as an illegal memory access.
              dmesg shows NVIDIA Xid 79 (GPU has fallen off the bus) on 0000:3b:00 at 8830.0 s after the host booted, 2 times: the host's GPU may be faulty; run on another host.
              GPU 0 reached 88 °C: it may have slowed itself down (thermal throttling).
              Host memory peaked at 124.0/125.0 GB (99 %): close to an OOM kill.
              GPU busy 95 % on average; memory peaked at 23.8/24.0 GB (99 %: close to running out).

            GPU utilisation (%), peak 95 %
               100 |=======================================================================
                   |#######################################################################
                   |#######################################################################
                 0 |#######################################################################
            GPU memory (GB), peak 23.8 GB
              24.0 |-------========================================########################
                   |#######################################################################
                   |#######################################################################
                 0 |#######################################################################
                   +-----------------------------------------------------------------------
                   [TIME]                                            [TIME] UTC (4m30s)
            ",
        )
        .run();
}

#[test]
fn a_torn_and_garbled_run_shows_what_could_be_read() {
    let world = World::new();
    let run = recorded(&world, "torn-garbage");
    world
        .test()
        .args(["runs", "show", &run])
        .env("LC_ALL", "C.UTF-8")
        .stdout_has("  No manifest: the run may still be going, or it was interrupted.\n")
        .stdout_has("  Samples: 4 from 2026-11-20 [TIME] to [TIME] UTC (2m00s); 5 lines not readable, left out; the last line was cut short (the sampler stopped while writing)\n")
        .stdout_has("Findings:\n  dmesg shows an OOM kill at 12.0 s after the host booted: memory ran out.\n  GPU busy 85 % on average; memory peaked at 2.9/24.0 GB (12 %).\n")
        .run();
}

#[test]
fn runpod_deploys_run_two_gpus_and_a_cpu_only_run() {
    let world = World::new();
    let run = recorded(&world, "runpod-deploy");
    world
        .test()
        .args(["runs", "show", &run])
        .stdout_has("  Job hello: failed, cold start, job time 2m31s\n")
        .stdout_has("  The pod's description at the job's end says TERMINATED, not RUNNING: it may have been stopped or killed outside the job.\n")
        .run();
    let run = recorded(&world, "two-gpus");
    world
        .test()
        .args(["runs", "show", &run])
        .env("LC_ALL", "C.UTF-8")
        .stdout_has("  GPU: 2 x NVIDIA RTX A5000; driver 550.54.15, CUDA 12.4\n")
        .stdout_has("  GPU 1 idle in at least 90 % of the samples while GPU 0 worked: the job may use fewer GPUs than it pays for.\n")
        .stdout_has("GPU utilisation (%), 0 to 100 %\n GPU 0 │")
        .stdout_has(" GPU 1 │▁▁▁▁")
        .stdout_has("│ peak 0.0 GB\n")
        .run();
    let run = recorded(&world, "cpu-only");
    world
        .test()
        .args(["runs", "show", &run])
        .stdout_has(
            "  The volume peaked at 48.4/50.0 GB used (97 %): writes may fail when it is full.\n",
        )
        .stdout_has("CPU busy, user + system (%), peak 78 %\n")
        .stdout_has("Host memory (GB), peak 2.3 GB\n")
        .stdout_lacks("GPU busy")
        .run();
}

#[test]
fn json_has_the_findings_with_their_words_and_the_picture() {
    let world = World::new();
    let run = recorded(&world, "ecc");
    let shown = world
        .rpd(&["runs", "show", &run, "--json"])
        .status(0)
        .json();
    assert_eq!(shown["format_version"], "1.0");
    assert_eq!(shown["run"], serde_json::Value::Null, "no manifest");
    assert_eq!(shown["findings"][0]["kind"], "ecc_errors");
    assert_eq!(shown["findings"][0]["severity"], "problem");
    assert_eq!(shown["findings"][0]["errors"], 3);
    assert_eq!(
        shown["findings"][0]["message"],
        "3 uncorrected ECC errors on GPU 0, first seen at 2026-11-20 10:03:00 UTC: the host may be faulty and results may be wrong; consider another host"
    );
    assert_eq!(shown["telemetry"]["metrics"]["samples"], 12);
    assert_eq!(shown["telemetry"]["series"][0]["measure"], "gpu_util");
    assert!(
        shown["metrics_svg"]
            .as_str()
            .unwrap()
            .ends_with("/metrics.svg")
    );
}

#[test]
fn a_run_is_found_by_its_name_or_stamp_and_one_without_telemetry_says_so() {
    let world = World::new();
    // A run without telemetry (the simulator's pods sample like any other).
    let hello = world.read(HELLO);
    world.write(HELLO, &format!("{hello}telemetry:\n  enabled: false\n"));
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let runs = world.rpd(&["runs", "--json"]).status(0).json();
    let run_dir = std::path::PathBuf::from(runs["runs"][0]["run_dir"].as_str().unwrap());
    let name = run_dir.file_name().unwrap().to_string_lossy().into_owned();
    world
        .test()
        .args(["runs", "show", &name])
        .stdout_has("Run [STAMP]-hello-[RUN]\n")
        .stdout_has(
            "\nNo telemetry in this run (telemetry was off, or the run is older than it).\n",
        )
        .run();
    assert!(!run_dir.join("metrics.svg").exists());
    // The sampler's file, pulled with the log: the same run now has a picture.
    let fixture = repo_root().join("fixtures/telemetry/cpu-only/20261120T100000Z-hello-1a2b3c");
    std::fs::copy(fixture.join("metrics.jsonl"), run_dir.join("metrics.jsonl")).unwrap();
    world
        .test()
        .args(["runs", "show", &name[..16]])
        .stdout_has("Findings:\n  The volume peaked at 48.4/50.0 GB used")
        .stdout_has("CPU busy, user + system (%), peak 78 %\n")
        .run();
    assert!(run_dir.join("metrics.svg").is_file());
    world
        .test()
        .args(["runs", "show", "20991231T000000Z"])
        .status(1)
        .stderr("error: no run \"[STAMP]\": it is not a directory, and no run directory of the 1 config in rpd's registry is named so (`rpd runs` lists them; or give the run directory's path)\n")
        .run();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    world
        .test()
        .args(["runs", "show", &name[..4]])
        .status(1)
        .stderr_has(&format!(
            "error: \"{}\" starts the names of 2 runs: [STAMP]-hello-[RUN], [STAMP]-hello-[RUN]; give more of the name\n",
            &name[..4]
        ))
        .run();
}

/// The end of a run, through a whole apply on the simulator: the files a
/// sampler would leave are put in the run directory while apply waits
/// after the pull (the simulator writes none until the sampler lands).
#[test]
fn the_end_of_an_apply_adds_its_findings_and_draws_metrics_svg() {
    let world = World::new();
    let paused = world.spawn_paused_at("lifecycle", &["apply", "-y", HELLO]);
    let run_dir = world.run_dirs().pop().expect("the run's directory");
    let fixture = repo_root().join("fixtures/telemetry/oom-xid/20261120T100000Z-train-1a2b3c");
    for file in ["metrics.jsonl", "dmesg_tail.txt"] {
        std::fs::copy(fixture.join(file), run_dir.join(file)).unwrap();
    }
    paused.go_on();
    let run = paused.wait().status(0);
    let findings = "  dmesg shows an OOM kill of python (pid 4242) at 8811.9 s after the host booted: the container's memory limit was reached.\n";
    let stdout = world.normalize(&run.stdout());
    assert!(
        stdout.contains(&format!(
            "  Run directory: [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]\n{findings}"
        )),
        "{stdout}"
    );
    assert!(stdout.contains(
        "  GPU busy 95 % on average; memory peaked at 23.8/24.0 GB (99 %: close to running out).\n  Picture: [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]/metrics.svg\n"
    ), "{stdout}");
    assert!(run_dir.join("metrics.svg").is_file());
    // A run without telemetry adds nothing: the next one.
    let next = world.rpd(&["apply", "-y", HELLO]).status(0);
    let stdout = world.normalize(&next.stdout());
    assert!(stdout.ends_with("Job succeeded in [ELAPSED].\n  Run directory: [TMP]/examples/artifacts/runpod/[STAMP]-hello-[RUN]\n"), "{stdout:?}");
}

/// `apply --json`: the findings and the picture in `apply_complete`.
#[test]
fn apply_json_carries_the_findings_in_apply_complete() {
    let world = World::new();
    let paused = world.spawn_paused_at("lifecycle", &["apply", "-y", "--json", HELLO]);
    let run_dir = world.run_dirs().pop().expect("the run's directory");
    let fixture = repo_root().join("fixtures/telemetry/idle-gpu/20261120T100000Z-etl-1a2b3c");
    std::fs::copy(fixture.join("metrics.jsonl"), run_dir.join("metrics.jsonl")).unwrap();
    paused.go_on();
    let run = paused.wait().status(0);
    let complete: serde_json::Value = run
        .stdout()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "apply_complete")
        .expect("an apply_complete event");
    let findings = complete["findings"].as_array().unwrap();
    assert_eq!(findings[0]["kind"], "gpu_idle");
    assert_eq!(findings[0]["severity"], "advice");
    assert_eq!(
        findings[0]["message"],
        "GPU idle 80 % of the run: the job may be CPU- or input-bound"
    );
    assert_eq!(
        complete["metrics_svg"],
        run_dir.join("metrics.svg").display().to_string()
    );
    // The human summary goes to stderr, with the same lines.
    assert!(
        run.stderr()
            .contains("  GPU idle 80 % of the run: the job may be CPU- or input-bound.\n")
    );
}
