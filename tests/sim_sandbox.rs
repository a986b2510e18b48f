//! The simulator runs on the user's machine and never reaches outside its
//! own directory (issue 19, item 20): every pod path is the simulated pod's
//! own (a `script_path` or staging destination under `/tmp`, an artifact
//! `/etc/hostname`), and its commands see the rest of the machine
//! read-only (bubblewrap); where there is no sandbox the plan says so.
//!
//! CI installs bubblewrap and sets RPD_REQUIRE_SANDBOX=1: there, a test
//! that needs the sandbox fails instead of skipping.

mod common;

use std::path::{Path, PathBuf};

use common::{UNSANDBOXED, World};

/// A directory of this machine's `/tmp` named after the test's world (so
/// unique), which no simulated pod may create; removed when dropped.
struct HostTmp(PathBuf);

impl HostTmp {
    fn new(world: &World) -> HostTmp {
        let name = world.dir.path().file_name().unwrap().to_string_lossy();
        HostTmp(Path::new("/tmp").join(format!("rpd-escape-{name}")))
    }
}

impl Drop for HostTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// hello's pod, with its script, staged files and an artifact under
/// `TMP_DIR` (a path of `/tmp`), and an artifact of `/etc/hostname`.
const CONFIG: &str = r#"schema_version: 2
name: escape
pod:
  image: runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404
  datacenters: [EU-RO-1]
  gpu_order: ["NVIDIA GeForce RTX 4090"]
storage:
  mode: ephemeral
  volume_gb: 20
  volume_mount: /workspace
budget:
  cost_cap_usd: 1.0
  assumed_hourly_rate_usd: 0.5
  max_runtime_minutes: 10
setup:
  - command: mkdir -p TMP_DIR && echo from-setup > TMP_DIR/setup.txt
staging:
  - label: payload
    source: hello/
    destination: TMP_DIR/payload/
run:
  script_path: TMP_DIR/run.sh
  log_path: /workspace/escape/run.log
  success_marker: ESCAPE_DONE
  body: |
    set -eu
    cat TMP_DIR/payload/message.txt
    cat TMP_DIR/setup.txt
    echo from-job > TMP_DIR/out.txt
    echo ESCAPE_DONE
artifacts:
  - label: out
    remote_path: TMP_DIR/out.txt
    local_path: artifacts/out.txt
  - label: host
    remote_path: /etc/hostname
    local_path: artifacts/hostname
    required: false
lifecycle:
  on_success: stop
  on_failure: stop
"#;

/// Before: the setup made `/tmp/rpd-escape-*` on this machine, staging
/// copied into it, the job ran from it and wrote there, and the pull
/// brought this machine's `/etc/hostname` back as the pod's. With or
/// without a sandbox, each of them now stays on the simulated pod.
#[test]
fn a_simulated_pods_paths_are_its_own_wherever_they_point() {
    for sandbox in ["auto", "off"] {
        let world = World::new();
        let host = HostTmp::new(&world);
        let config = CONFIG.replace("TMP_DIR", &host.0.display().to_string());
        world.write("examples/escape.yaml", &config);
        let run = world
            .rpd_env(
                &["apply", "-y", "examples/escape.yaml"],
                &[("RPD_SIM_SANDBOX", sandbox)],
            )
            .status(0);
        assert!(
            !host.0.exists(),
            "RPD_SIM_SANDBOX={sandbox}: the pod wrote {} on this machine\n{}",
            host.0.display(),
            run.stderr()
        );
        assert_eq!(
            world.read("examples/artifacts/out.txt"),
            "from-job\n",
            "RPD_SIM_SANDBOX={sandbox}"
        );
        assert!(
            !world.path("examples/artifacts/hostname").exists(),
            "RPD_SIM_SANDBOX={sandbox}: this machine's /etc/hostname was pulled as the pod's"
        );
        let log = std::fs::read_to_string(
            world
                .run_dirs()
                .pop()
                .expect("a run directory")
                .join("run.log"),
        )
        .unwrap();
        assert!(
            log.contains("from-setup"),
            "the job read what setup wrote: {log}"
        );
    }
}

/// Whether the simulator's commands run in a sandbox here: the plan says
/// when they do not. Panics instead when RPD_REQUIRE_SANDBOX is set.
fn sandboxed(world: &World) -> bool {
    let plan = world.rpd(&["plan", "examples/hello.yaml"]).stdout();
    let missing = plan.lines().find(|l| l.starts_with(UNSANDBOXED));
    if let Some(line) = missing {
        assert!(
            std::env::var_os("RPD_REQUIRE_SANDBOX").is_none(),
            "RPD_REQUIRE_SANDBOX is set and {line}"
        );
        eprintln!("skipped: {line}");
    }
    missing.is_none()
}

/// Before: setup and the job wrote wherever the user can. Now everything
/// but the pod's disks is read-only to them: a path outside `/tmp` the
/// user owns stays untouched, and the machine's programs still run.
#[test]
fn simulated_commands_see_the_rest_of_the_machine_read_only() {
    let world = World::new();
    if !sandboxed(&world) {
        return;
    }
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = outside.path().display();
    world.edit(
        "examples/hello.yaml",
        "    timeout_sec: 300\n",
        &format!(
            "    timeout_sec: 300\n  - command: 'echo x > {out}/setup.txt || echo setup-kept-out'\n"
        ),
    );
    world.edit(
        "examples/hello.yaml",
        "    echo HELLO_DONE\n",
        &format!(
            "    echo x > {out}/job.txt || echo job-kept-out\n    sh -c 'echo sh-runs' && cat /etc/hostname > /dev/null\n    echo HELLO_DONE\n"
        ),
    );
    world.rpd(&["apply", "-y", "examples/hello.yaml"]).status(0);
    let left: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "written outside the simulator: {left:?}");
    let log = std::fs::read_to_string(world.run_dirs().pop().unwrap().join("run.log")).unwrap();
    assert!(
        log.contains("job-kept-out") && log.contains("sh-runs"),
        "{log}"
    );
}

/// Without a sandbox the plan says so, and what is then at risk; a
/// destroy runs no command and says nothing.
#[test]
fn without_a_sandbox_the_plan_says_so() {
    let world = World::new();
    let off = [("RPD_SIM_SANDBOX", "off")];
    let plan = world
        .rpd_env(&["plan", "examples/hello.yaml"], &off)
        .status(0)
        .stdout();
    assert!(
        plan.contains(
            "\nWarning: the simulator runs the job's commands (setup, preflight, the job, its guard) on this machine without a sandbox (RPD_SIM_SANDBOX=off): they can change any file you can, and only the volume mount, /root and /tmp in their text are kept to the simulated pod; to keep them to the simulator's directory, unset RPD_SIM_SANDBOX\n"
        ),
        "{plan}"
    );
    let json = world
        .rpd_env(&["plan", "--format", "json", "examples/hello.yaml"], &off)
        .status(0)
        .json();
    common::assert_valid_plan(&json);
    assert_eq!(
        json["configs"][0]["warnings"][0]["kind"], "simulator_unsandboxed",
        "{json:#}"
    );
    world.rpd(&["apply", "-y", "examples/hello.yaml"]).status(0);
    let destroy = world
        .rpd_env(&["destroy", "-y", "examples/hello.yaml"], &off)
        .status(0)
        .stdout();
    assert!(!destroy.contains(UNSANDBOXED), "{destroy}");
}
