//! `Test`: one `rpd` run with its inputs declared and its outputs compared
//! exactly, in the style of `just`'s tests/test.rs.
//!
//! ```ignore
//! Test::new()
//!     .file("job.yaml", CONFIG)
//!     .args(["plan", "job.yaml"])
//!     .status(0)
//!     .stdout("
//!         rpd plan for job.yaml (job \"job\")
//!         ...
//!     ")
//!     .run();
//! ```
//!
//! Status, stdout and stderr default to 0, "" and "": a test says what it
//! expects of each. Expected text is unindented (see [`unindent`]); actual
//! text is normalized (see [`World::normalize`]) before the comparison, and a
//! mismatch panics with a line diff of every stream that differs.

use std::fmt::Write as _;
use std::ops::Deref;
use std::time::Duration;

use super::{Run, World};

/// What a test expects of one output stream.
enum Expect {
    /// The whole stream, after normalization.
    Exact(String),
    /// Only these pieces: for streams whose wording or order is volatile
    /// (each use says why).
    Partial {
        has: Vec<String>,
        lacks: Vec<String>,
    },
}

/// The world a test runs in: its own (`Test::new`) or a longer-lived one
/// shared by the steps of a scenario (`world.test()`).
enum Held<'w> {
    Owned(Box<World>),
    Borrowed(&'w World),
}

impl Deref for Held<'_> {
    type Target = World;

    fn deref(&self) -> &World {
        match self {
            Held::Owned(world) => world,
            Held::Borrowed(world) => world,
        }
    }
}

#[must_use = "a Test does nothing until .run()"]
pub struct Test<'w> {
    world: Held<'w>,
    files: Vec<(String, String)>,
    args: Vec<String>,
    env: Vec<(String, Option<String>)>,
    known: Vec<(String, String)>,
    status: i32,
    stdout: Expect,
    stderr: Expect,
    timeout: Duration,
}

/// How long one rpd run may take before the test kills it and fails: a
/// hang fails its test instead of hanging the suite.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// A finished run that matched its expectations, with its world.
pub struct Ran<'w> {
    world: Held<'w>,
    pub run: Run,
}

impl<'w> Ran<'w> {
    pub fn world(&self) -> &World {
        &self.world
    }

    pub fn stdout(&self) -> String {
        self.run.stdout()
    }

    pub fn stderr(&self) -> String {
        self.run.stderr()
    }

    pub fn json(&self) -> serde_json::Value {
        self.run.json()
    }
}

impl Test<'static> {
    /// A test in a fresh world of its own (see [`World::new`]).
    pub fn new() -> Test<'static> {
        Test::in_world(Held::Owned(Box::new(World::new())))
    }
}

impl World {
    /// The next step of a scenario, in this world.
    pub fn test(&self) -> Test<'_> {
        Test::in_world(Held::Borrowed(self))
    }

    /// The next step as a RunPod user runs it: `--provider runpod` against
    /// the REST v2 fake at `url` (which accepts the key `test`).
    pub fn on_rest_v2(&self, url: &str) -> Test<'_> {
        self.test()
            .env("RPD_PROVIDER", "runpod")
            .env("RUNPOD_API_KEY", "test")
            .env("RPD_RUNPOD_API_URL", url)
    }
}

impl<'w> Test<'w> {
    fn in_world(world: Held<'w>) -> Test<'w> {
        Test {
            world,
            files: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            known: Vec::new(),
            status: 0,
            stdout: Expect::Exact(String::new()),
            stderr: Expect::Exact(String::new()),
            timeout: RUN_TIMEOUT,
        }
    }

    /// The run is killed and the test fails after `timeout` (5 minutes
    /// unless set).
    #[allow(dead_code)]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// An input file (relative to the world's directory), written just
    /// before rpd runs; its text is unindented like expected output.
    pub fn file(mut self, rel: &str, text: &str) -> Self {
        self.files.push((rel.to_string(), unindent(text)));
        self
    }

    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        self.args.push(arg.as_ref().to_string());
        self
    }

    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<str>) -> Self {
        self.env
            .push((key.to_string(), Some(value.as_ref().to_string())));
        self
    }

    pub fn envs<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (key, value) in vars {
            self = self.env(key.as_ref(), value);
        }
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.push((key.to_string(), None));
        self
    }

    /// Shows `value` (a pod id the test knows, say) as `placeholder` in the
    /// normalized output, before the generic rules replace it.
    pub fn known(mut self, value: &str, placeholder: &str) -> Self {
        self.known
            .push((value.to_string(), placeholder.to_string()));
        self
    }

    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    /// The whole of stdout, after normalization.
    pub fn stdout(mut self, text: &str) -> Self {
        self.stdout = Expect::Exact(unindent(text));
        self
    }

    /// The whole of stderr, after normalization.
    pub fn stderr(mut self, text: &str) -> Self {
        self.stderr = Expect::Exact(unindent(text));
        self
    }

    /// Stdout contains `text` (normalized); for volatile output only.
    pub fn stdout_has(mut self, text: &str) -> Self {
        partial(&mut self.stdout).0.push(text.to_string());
        self
    }

    pub fn stdout_lacks(mut self, text: &str) -> Self {
        partial(&mut self.stdout).1.push(text.to_string());
        self
    }

    /// Stderr contains `text` (normalized); for volatile output only.
    pub fn stderr_has(mut self, text: &str) -> Self {
        partial(&mut self.stderr).0.push(text.to_string());
        self
    }

    pub fn stderr_lacks(mut self, text: &str) -> Self {
        partial(&mut self.stderr).1.push(text.to_string());
        self
    }

    /// Writes the declared files, runs rpd and compares; panics with a diff
    /// of every stream that differs from what was expected.
    #[track_caller]
    pub fn run(self) -> Ran<'w> {
        for (rel, text) in &self.files {
            self.world.write(rel, text);
        }
        let mut cmd = self.world.std_command(&self.args);
        for (key, value) in &self.env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        let started = std::time::Instant::now();
        let output = assert_cmd::Command::from_std(cmd)
            .timeout(self.timeout)
            .output()
            .expect("rpd runs");
        assert!(
            started.elapsed() < self.timeout,
            "rpd {:?} did not finish within {} s and was killed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args,
            self.timeout.as_secs_f64(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        let run = Run {
            output,
            args: self.args.clone(),
        };
        self.compare_with(run)
    }

    /// Compares a run that happened elsewhere (an apply in the background,
    /// say) with what this test expects.
    #[track_caller]
    pub fn check(self, run: Run) -> Ran<'w> {
        assert!(
            self.files.is_empty() && self.args.is_empty() && self.env.is_empty(),
            "check() compares a finished run: inputs belong to the run"
        );
        self.compare_with(run)
    }

    #[track_caller]
    fn compare_with(self, run: Run) -> Ran<'w> {
        let normalize = |text: String| {
            let mut text = text;
            for (value, placeholder) in &self.known {
                text = text.replace(value, placeholder);
            }
            self.world.normalize(&text)
        };
        let stdout = normalize(run.stdout());
        let stderr = normalize(run.stderr());

        let mut report = String::new();
        if run.code() != self.status {
            let _ = writeln!(
                report,
                "status: expected {}, got {}\n",
                self.status,
                run.code()
            );
        }
        compare("stdout", &self.stdout, &stdout, &mut report);
        compare("stderr", &self.stderr, &stderr, &mut report);
        if !report.is_empty() {
            panic!(
                "rpd {} did not do what the test expects\n\n{report}--- normalized stdout:\n{stdout}\n--- normalized stderr:\n{stderr}",
                run.args.join(" ")
            );
        }
        Ran {
            world: self.world,
            run,
        }
    }
}

fn partial(expect: &mut Expect) -> (&mut Vec<String>, &mut Vec<String>) {
    if let Expect::Exact(text) = expect {
        assert!(
            text.is_empty(),
            "a stream is compared either exactly or in part, not both"
        );
        *expect = Expect::Partial {
            has: Vec::new(),
            lacks: Vec::new(),
        };
    }
    match expect {
        Expect::Partial { has, lacks } => (has, lacks),
        Expect::Exact(_) => unreachable!(),
    }
}

fn compare(stream: &str, expect: &Expect, actual: &str, report: &mut String) {
    match expect {
        Expect::Exact(expected) if expected != actual => {
            let diff = similar::TextDiff::from_lines(expected.as_str(), actual);
            let _ = writeln!(
                report,
                "{stream} differs (- expected, + actual):\n{}",
                diff.unified_diff()
                    .context_radius(3)
                    .header("expected", "actual")
            );
        }
        Expect::Exact(_) => {}
        Expect::Partial { has, lacks } => {
            for text in has.iter().filter(|t| !actual.contains(t.as_str())) {
                let _ = writeln!(report, "{stream} lacks {text:?}\n");
            }
            for text in lacks.iter().filter(|t| actual.contains(t.as_str())) {
                let _ = writeln!(report, "{stream} has {text:?}\n");
            }
        }
    }
}

/// Expected text as it reads in a test: a leading newline is dropped, the
/// least indented line sets column 0, and a last line of only spaces (the
/// closing quote's indentation) is dropped. Text that does not start with a
/// newline is taken as it is.
pub fn unindent(text: &str) -> String {
    let Some(body) = text.strip_prefix('\n') else {
        return text.to_string();
    };
    let mut lines: Vec<&str> = body.split_inclusive('\n').collect();
    if lines
        .last()
        .is_some_and(|l| !l.ends_with('\n') && l.trim().is_empty())
    {
        lines.pop();
    }
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| {
            if l.trim().is_empty() {
                // A blank line keeps only its line break.
                if l.ends_with('\n') { "\n" } else { "" }
            } else {
                &l[indent..]
            }
        })
        .collect()
}
