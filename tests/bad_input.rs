//! Bad input gets a clear error that names the file, the variable or the
//! position, and the fix; and it never makes rpd hang or grow without bound:
//! files that are not regular or over 4 MiB, a config given twice, a lock
//! file that holds no lock, a broken RPD_SIM_DIR, environment variables
//! with values rpd cannot use, --var values in the wrong order.
//! (Errors inside a config's text are fixtures: fixtures/invalid/.)

mod common;

use common::hello::HELLO;
use common::{Test, World};

#[test]
fn a_device_is_refused_without_reading_it() {
    // `rpd validate /dev/zero` used to read until memory ran out.
    Test::new()
        .args(["validate", "/dev/zero"])
        .status(1)
        .stderr(
            "
            error: cannot read config: it is a character device, not a regular file
              --> /dev/zero
               = help: rpd reads a config from a regular file (its directory anchors the config's relative paths and its state file); save it to a file first
            ",
        )
        .run();
}

#[test]
fn a_directory_is_refused_with_a_hint_where_one_config_is_wanted() {
    Test::new()
        .args(["state", "show", "examples"])
        .status(1)
        .stderr(
            "
            error: cannot read config: it is a directory, not a regular file
              --> examples
               = help: pass a YAML file, e.g. examples/job.yaml; to check every config in it: rpd validate examples
            ",
        )
        .run();
    // Where several are, a directory gives the configs in it.
    Test::new()
        .args(["validate", "examples"])
        .stdout(
            "
            ok: examples/drift/train.yaml schema_version=2 job=train
            ok: examples/hello.yaml schema_version=2 job=hello
            ",
        )
        .run();
}

#[test]
fn a_named_pipe_is_refused_without_waiting_for_a_writer() {
    let world = World::new();
    let fifo = world.path("job.yaml");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    world
        .test()
        .args(["plan", "job.yaml"])
        .status(1)
        .stderr(
            "
            error: cannot read config: it is a named pipe (FIFO), not a regular file
              --> job.yaml
               = help: rpd reads a config from a regular file (its directory anchors the config's relative paths and its state file); save it to a file first
            ",
        )
        .run();
}

#[test]
fn a_config_over_4_mib_is_refused_before_parsing() {
    let world = World::new();
    let big = std::fs::File::create(world.path("big.yaml")).unwrap();
    big.set_len(2 << 30).unwrap(); // sparse: 2 GiB of zeros
    world
        .test()
        .args(["validate", "big.yaml"])
        .status(1)
        .stderr(
            "
            error: cannot read config: it is 2.0 GiB (2147483648 bytes), over rpd's limit of 4 MiB for an input file
              --> big.yaml
               = help: a config is a few KiB of YAML: is this the right file? rpd refuses larger inputs before parsing them
            ",
        )
        .run();
}

#[test]
fn a_vars_file_that_is_not_utf8_names_the_byte() {
    Test::new()
        .file("vars.json", "{\"seed\": \"x\"}\n")
        .args(["validate", HELLO, "--vars-file", "vars.json"])
        .stdout("ok: examples/hello.yaml schema_version=2 job=hello\n")
        .run();
    let world = World::new();
    std::fs::write(world.path("vars.json"), b"{\"seed\": \"caf\xe9\"}\n").unwrap();
    world
        .test()
        .args(["validate", HELLO, "--vars-file", "vars.json"])
        .status(1)
        .stderr("error: cannot read --vars-file vars.json: it is not UTF-8 text: byte 0xE9 at line 1, column 14 (byte offset 13)\n")
        .run();
}

#[test]
fn the_same_config_given_twice_is_refused() {
    let world = World::new();
    world
        .test()
        .args(["validate", HELLO, "./examples/hello.yaml"])
        .status(1)
        .stderr(
            "
            error: the config examples/hello.yaml is given twice (as examples/hello.yaml and as ./examples/hello.yaml)
              = help: name each config once; rpd plans and applies every config given
            ",
        )
        .run();
    world
        .test()
        .args(["apply", "-y", HELLO, HELLO])
        .status(1)
        .stderr(
            "
            error: the config examples/hello.yaml is given twice
              = help: name each config once; rpd plans and applies every config given
            ",
        )
        .run();
    let calls = world.rpd(&["sim", "calls", "--json"]).status(0).json();
    assert_eq!(calls["create"], 0, "nothing was created: {calls}");
}

#[test]
fn a_junk_lock_file_is_named_and_force_unlock_removes_it() {
    let world = World::new();
    world.write("examples/.rpd/hello.state.json.lock", "garbage\n");
    let refused = world.rpd(&["apply", "-y", HELLO]).status(1);
    let id = regex::Regex::new(r"junk-[0-9a-f]{12}")
        .unwrap()
        .find(&refused.stderr())
        .expect("the error names the ID that removes the file")
        .as_str()
        .to_string();
    world
        .test()
        .known(&id, "[JUNK-ID]")
        .args(["apply", "-y", HELLO])
        .status(1)
        .stderr(
            r#"
            error: the lock file [TMP]/examples/.rpd/hello.state.json.lock holds no lock rpd can read (it is not JSON: "garbage\n")

            If no rpd is running for this config, remove it with:
              rpd force-unlock [JUNK-ID] examples/hello.yaml
            "#,
        )
        .run();
    world
        .test()
        .known(&id, "[JUNK-ID]")
        .args(["force-unlock", "junk-000000000000", HELLO])
        .status(1)
        .stderr(
            r#"
            error: lock ID "junk-000000000000" does not match: the lock file [TMP]/examples/.rpd/hello.state.json.lock holds no lock rpd can read (it is not JSON: "garbage\n")

            To remove it: rpd force-unlock [JUNK-ID] examples/hello.yaml
            "#,
        )
        .run();
    world
        .test()
        .args(["force-unlock", &id, HELLO])
        .stdout(
            r#"
            Removed the lock file [TMP]/examples/.rpd/hello.state.json.lock, which held no lock (it is not JSON: "garbage\n").
            "#,
        )
        .run();
    assert!(!world.path("examples/.rpd/hello.state.json.lock").exists());
    let calls = world.rpd(&["sim", "calls", "--json"]).status(0).json();
    assert_eq!(calls["create"], 0, "nothing was created: {calls}");
}

#[test]
fn a_sim_dir_that_is_a_file_names_the_variable_and_the_path() {
    let world = World::new();
    world.write("not-a-dir", "x\n");
    world
        .test()
        .env("RPD_SIM_DIR", world.path("not-a-dir").display().to_string())
        .args(["plan", HELLO])
        .status(1)
        .stderr(
            "
            error: RPD_SIM_DIR=[TMP]/not-a-dir is not a directory
              = help: point RPD_SIM_DIR at a directory for the simulator's world (it is created if missing)
            ",
        )
        .run();
    world.write("sim2/sim.json", "{ not json\n");
    world
        .test()
        .env("RPD_SIM_DIR", world.path("sim2").display().to_string())
        .args(["sim", "pods"])
        .status(1)
        .stderr(
            "
            error: simulator directory [TMP]/sim2 (RPD_SIM_DIR): sim.json is corrupt (key must be a string at line 1 column 3); delete the directory to start a fresh simulator
            ",
        )
        .run();
}

#[test]
fn environment_variables_with_values_rpd_cannot_use_are_errors() {
    let world = World::new();
    // Whatever the command: `validate` reads none of them.
    for (name, value, expected) in [
        (
            "RPD_POLL_INTERVAL_MS",
            "abc",
            "a positive number of milliseconds\n  = help: unset it (or set it empty) for the default, 2000",
        ),
        (
            "RPD_MARKER_GRACE_SECS",
            "soon",
            "a whole number of seconds\n  = help: unset it (or set it empty) for the default, 30",
        ),
        (
            "RPD_RUNPODCTL_TIMEOUT",
            "0s",
            "a duration longer than zero and at most 100 years, such as 30s or 2m\n  = help: unset it (or set it empty) for the default, 2m",
        ),
        (
            "RPD_RUNPOD_API_URL",
            "localhost:8080",
            "an http:// or https:// URL\n  = help: unset it (or set it empty) for the default, https://api.runpod.io",
        ),
        (
            "RPD_PROVIDER",
            "aws",
            "a provider rpd knows (runpod, runpodctl or sim)\n  = help: unset it (or set it empty) for the default, runpod",
        ),
    ] {
        world
            .test()
            .env(name, value)
            .args(["validate", HELLO])
            .status(1)
            .stderr(&format!("error: {name}={value:?} is not {expected}\n"))
            .run();
    }
    // An empty variable is an unset one.
    world
        .test()
        .env("RPD_POLL_INTERVAL_MS", "")
        .args(["validate", HELLO])
        .stdout("ok: examples/hello.yaml schema_version=2 job=hello\n")
        .run();
}

#[test]
fn var_values_see_only_the_ones_before_them() {
    let world = World::new();
    world
        .test()
        .args(["validate", HELLO, "--var", "out={seed}/x", "--var", "seed=1"])
        .status(1)
        .stderr(
            "
            error: the value of --var out uses `{seed}`, which a later --var sets
              --> examples/hello.yaml
               = help: a --var value sees the built-ins, `variables:` and the --var values before it (--vars-file first): pass --var seed=... before --var out=...
            ",
        )
        .run();
    world
        .test()
        .args([
            "validate",
            HELLO,
            "--var",
            "seed=1",
            "--var",
            "out={seed}/x",
        ])
        .stdout("ok: examples/hello.yaml schema_version=2 job=hello\n")
        .run();
}

#[test]
fn a_file_variable_built_on_a_replaced_one_warns() {
    let world = World::new();
    world.edit(
        HELLO,
        "lifecycle:",
        "variables:\n  seed: \"0\"\n  out: \"/workspace/{seed}\"\n\nlifecycle:",
    );
    world
        .test()
        .args(["validate", HELLO, "--var", "seed=7"])
        .stdout("ok: examples/hello.yaml schema_version=2 job=hello\n")
        .stderr(
            r#"
            warning: examples/hello.yaml: variables.out uses {seed}, which --var or --vars-file replaces; `out` keeps the value rendered with the file's `seed` ("/workspace/0"): use {seed} directly where the new value is needed, or pass --var out=... too
            "#,
        )
        .run();
}

/// rpd writes a config's path as text (the state, its lock, the registry),
/// so a path that is not UTF-8 (Linux allows any bytes but `/` and NUL in a
/// name) is refused when the config is loaded, by every command, before
/// anything is locked or created: it used to pass `validate` and `plan`
/// and panic in `apply` ("lock info serializes"), leaving a
/// `.lock.new.<uuid>` behind.
#[test]
fn a_config_path_that_is_not_utf8_is_refused_by_every_command() {
    use std::ffi::{OsStr, OsString};
    use std::os::unix::ffi::OsStrExt;

    let world = World::new();
    world.rpd(&["apply", "-y", HELLO]).status(0);
    let pod = world.pod_ids()[0].clone();
    // A directory, then a file, named with the byte 0xE9 (é in Latin-1).
    let dir = world.dir.path().join(OsStr::from_bytes(b"caf\xe9"));
    common::copy_dir(&world.path("examples/hello"), &dir.join("hello"));
    std::fs::copy(world.path(HELLO), dir.join("hello.yaml")).unwrap();
    let file = world
        .path("examples")
        .join(OsStr::from_bytes(b"hello-\xe9.yaml"));
    std::fs::copy(world.path(HELLO), &file).unwrap();

    let cases: [(OsString, &str, &str); 2] = [
        (
            OsStr::from_bytes(b"caf\xe9/hello.yaml").to_os_string(),
            "[TMP]/caf\\xE9/hello.yaml",
            "caf\u{FFFD}/hello.yaml",
        ),
        (
            OsStr::from_bytes(b"examples/hello-\xe9.yaml").to_os_string(),
            "[TMP]/examples/hello-\\xE9.yaml",
            "examples/hello-\u{FFFD}.yaml",
        ),
    ];
    for (config, escaped, lossy) in &cases {
        let expected = format!(
            "error: the config's path is not UTF-8: {escaped}\n  --> {lossy}\n   = help: rpd records a config's path as text (in its state file, its lock and the registry of applied configs): rename the file or directory to a UTF-8 name, or move the config to one\n"
        );
        let pod_arg = OsString::from(&pod);
        let commands: [Vec<&OsStr>; 6] = [
            vec![OsStr::new("validate"), config],
            vec![OsStr::new("plan"), config],
            vec![OsStr::new("apply"), OsStr::new("-y"), config],
            vec![OsStr::new("destroy"), OsStr::new("-y"), config],
            vec![OsStr::new("status"), config],
            vec![OsStr::new("import"), config, &pod_arg],
        ];
        for args in commands {
            let output = world.std_command(&args).output().unwrap();
            let stderr = world.normalize(&String::from_utf8_lossy(&output.stderr));
            assert_eq!(
                (output.status.code(), stderr.as_str()),
                (Some(1), expected.as_str()),
                "rpd {args:?}\n--- stdout:\n{}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
    }
    // The same from a working directory whose name is not UTF-8.
    let output = world
        .std_command(&["validate", "hello.yaml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        world.normalize(&String::from_utf8_lossy(&output.stderr)),
        "error: the config's path is not UTF-8: [TMP]/caf\\xE9/hello.yaml\n  --> hello.yaml\n   = help: rpd records a config's path as text (in its state file, its lock and the registry of applied configs): rename the file or directory to a UTF-8 name, or move the config to one\n"
    );

    let left: Vec<_> = walkdir::WalkDir::new(world.dir.path())
        .into_iter()
        .flatten()
        .filter(|e| {
            e.file_name()
                .as_bytes()
                .windows(9)
                .any(|w| w == b".lock.new")
        })
        .map(|e| e.path().to_path_buf())
        .collect();
    assert!(left.is_empty(), "temporary lock files left: {left:?}");
    let calls = world.rpd(&["sim", "calls", "--json"]).status(0).json();
    assert_eq!(
        calls["create"], 1,
        "only the first apply created a pod: {calls}"
    );
    assert_eq!(world.pod_ids(), [pod], "the pod is still there");

    // A directory of that name beside the runs is listed, not a panic
    // ("path contains invalid UTF-8 characters" in `rpd runs --json`).
    let run = world.run_dirs().pop().unwrap();
    common::copy_dir(&run, &run.with_file_name(OsStr::from_bytes(b"run-\xe9")));
    let listed = world.rpd(&["runs", "--json"]).status(0).json();
    let dirs: Vec<&str> = listed["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_dir"].as_str().unwrap())
        .collect();
    assert!(dirs.iter().any(|d| d.ends_with("/run-\\xE9")), "{dirs:?}");
}
