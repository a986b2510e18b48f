//! Raw config -> validated [`Config`]: runpod-deploy's defaults and rules, its
//! template rendering, plus rpd's own checks. Every problem is collected (not
//! just the first) and located in the file.
//!
//! Here: the `Checker` that collects them, with the checks every section
//! shares, and `Checker::config`, which runs the sections in a fixed order:
//! the order their problems are reported in. Each section is a submodule.

mod budget;
mod image;
mod job;
mod lifecycle;
mod paths;
mod pod;
mod variables;

use crate::config::shown;
use std::path::Path;

use super::error::{ConfigError, Problem};
use super::locate::{KeyIndex, Pos};
use super::raw::RawConfig;
use super::serde_errors::{
    problem_from_duplicate, problem_from_refusal, problem_from_serde, problem_from_syntax,
};
use super::template::{self, Variables};
use super::{Config, LoadOptions};

pub use job::DEFAULT_FAILURE_MARKERS;

pub fn from_text(path: &Path, text: &str, options: &LoadOptions) -> Result<Config, ConfigError> {
    let fail = |problems: Vec<Problem>| ConfigError {
        file: path.to_path_buf(),
        source: Some(text.to_string()),
        problems,
    };
    // Before anything else: every path rpd derives from this one would be
    // refused too, and nothing below is worth reading until it is renamed.
    if let Some(problem) = paths::config_path_not_utf8(path) {
        return Err(fail(vec![problem]));
    }
    let index = KeyIndex::build(text);
    if let Some(refusal) = &index.refusal {
        return Err(fail(vec![problem_from_refusal(refusal)]));
    }
    if !index.duplicates.is_empty() {
        return Err(fail(
            index
                .duplicates
                .iter()
                .map(problem_from_duplicate)
                .collect(),
        ));
    }
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(fail(vec![Problem::new(None, "the config is empty").help(
            "a config needs at least `name`, `pod`, `storage` and `run`; see examples/hello.yaml",
        )]));
    }
    // Through a Value, so that a string field refuses `123` or `true` as
    // runpod-deploy does (serde_yaml alone would take the scalar's text);
    // serde_path_to_error names the key, the index locates it.
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|err| fail(vec![problem_from_syntax(&err)]))?;
    let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        fail(vec![problem_from_serde(
            &path,
            &err.into_inner().to_string(),
            &index,
        )])
    })?;
    let mut checker = Checker {
        source: text,
        index: &index,
        problems: Vec::new(),
        warnings: Vec::new(),
        render_budget: MAX_RENDERED_BYTES,
    };
    let config = checker.config(path, raw, options);
    if checker.problems.is_empty() {
        let mut config = config.expect("a config without problems is complete");
        config.warnings = checker.warnings;
        Ok(config)
    } else {
        Err(fail(checker.problems))
    }
}

/// How much text a config's templates may render, all fields together: a
/// config is at most 4 MiB, so only variables that repeat variables get near.
pub const MAX_RENDERED_BYTES: usize = 16 << 20;

struct Checker<'a> {
    source: &'a str,
    index: &'a KeyIndex,
    problems: Vec<Problem>,
    warnings: Vec<String>,
    /// What is left of [`MAX_RENDERED_BYTES`].
    render_budget: usize,
}

impl Checker<'_> {
    /// Every section's checks, in the order their problems are reported;
    /// `None` when any failed.
    fn config(&mut self, path: &Path, raw: RawConfig, options: &LoadOptions) -> Option<Config> {
        self.schema_version(raw.schema_version);
        self.non_empty("name", &raw.name);
        let mut locations = self.locations(path, &raw.local, options);
        let mut pod = self.pod(&raw.pod, &raw.storage);
        if let Some(name) =
            variables::name_ahead(&raw, &locations, pod.storage.mount(), &options.overrides)
        {
            locations.run_dir = paths::run_dir(&locations.project_root, &locations.stamp, &name);
        }
        let budget = self.budget(&raw.budget);
        let telemetry = self.telemetry(&raw.telemetry);
        let lifecycle = self.lifecycle(&raw.lifecycle);
        let mut vars = variables::builtins(&raw, &locations, pod.storage.mount());
        self.variables(&raw.variables, &options.overrides, &mut vars);
        self.overrides(&options.overrides, &mut vars);
        let names = self.names(&raw, &locations.stamp, &mut vars);
        let (state_file, state_file_explicit) =
            self.state_file(&raw, &names.name, &vars, &locations);
        let required_paths =
            self.required_paths(&raw.local.required_paths, &vars, &locations.project_root);
        let job = self.job(&raw, &vars, &locations.project_root);
        // rpd renders pod.image too (runpod-deploy does not): an image name
        // cannot contain braces, so no config valid there changes meaning.
        let before = self.problems.len();
        pod.image = self.render("pod.image", &raw.pod.image, &vars);
        if self.problems.len() == before {
            self.image_reference(&pod.image);
        }
        let ssh_key_path =
            paths::expand_home(raw.ssh.key_path.as_deref().unwrap_or("~/.ssh/id_ed25519"));
        self.utf8_paths(&[
            ("local.project_root", &locations.project_root),
            ("state_file", &state_file),
            ("ssh.key_path", &ssh_key_path),
        ]);
        for (i, path) in required_paths.iter().enumerate() {
            self.utf8_paths(&[(&format!("local.required_paths[{i}]"), path)]);
        }

        if !self.problems.is_empty() {
            return None;
        }
        Some(Config {
            path: path.to_path_buf(),
            canonical_path: locations.canonical_path,
            config_dir: locations.config_dir,
            schema_version: 2,
            name: names.name,
            raw_name: raw.name,
            run_id: names.run_id,
            run_id_prefix: names.run_id_prefix,
            state_file,
            state_file_explicit,
            project_root: locations.project_root,
            run_dir: locations.run_dir,
            required_paths,
            pod,
            python_version: raw.pod.python_version,
            ssh_key_path,
            budget,
            job,
            lifecycle,
            telemetry,
            variables: vars,
            warnings: Vec::new(),
        })
    }

    fn schema_version(&mut self, version: Option<i64>) {
        if let Some(v) = version
            && v != 2
        {
            self.error(
                "schema_version",
                format!("`schema_version` must be 2, got {v}"),
            )
            .help = Some("rpd reads runpod-deploy's schema_version 2 configs".into());
        }
    }

    fn error(&mut self, path: &str, message: impl Into<String>) -> &mut Problem {
        let pos = self.index.value(path);
        self.problems.push(Problem::new(pos, message));
        self.problems.last_mut().expect("just pushed")
    }

    fn error_at_key(&mut self, path: &str, message: impl Into<String>) -> &mut Problem {
        let pos = self.index.key(path);
        self.problems.push(Problem::new(pos, message));
        self.problems.last_mut().expect("just pushed")
    }

    fn positive(&mut self, path: &str, value: Option<i64>, default: u32) -> u32 {
        match value {
            None => default,
            Some(v) if v > 0 => self.at_most_u32(path, v).unwrap_or(default),
            Some(v) => {
                self.error(path, format!("`{path}` must be > 0, got {v}"));
                default
            }
        }
    }

    /// `value` as a u32, or a "too large" problem.
    fn at_most_u32(&mut self, path: &str, value: i64) -> Option<u32> {
        u32::try_from(value).ok().or_else(|| {
            self.error(
                path,
                format!("`{path}` is too large: {value} (at most {})", u32::MAX),
            );
            None
        })
    }

    fn optional_positive(&mut self, path: &str, value: Option<i64>) -> Option<u32> {
        value.map(|v| self.positive(path, Some(v), 1))
    }

    fn positive_float(&mut self, path: &str, value: Option<f64>, default: f64) -> f64 {
        match value {
            None => default,
            Some(v) if v > 0.0 && v.is_finite() => v,
            Some(v) if !v.is_finite() => {
                self.error(
                    path,
                    format!("`{path}` must be a finite number > 0, got {v}"),
                );
                default
            }
            Some(v) => {
                self.error(path, format!("`{path}` must be > 0, got {v}"));
                default
            }
        }
    }

    fn non_empty(&mut self, path: &str, value: &str) {
        if value.trim().is_empty() {
            self.error(path, format!("`{path}` must not be empty"));
        }
    }

    fn render(&mut self, path: &str, text: &str, vars: &Variables) -> String {
        match self.expand(path, text, vars) {
            Ok(rendered) => rendered,
            Err(unknown) => {
                self.unknown_variable(path, &unknown, vars);
                text.to_string()
            }
        }
    }

    /// `text` rendered within what is left of the config's budget of
    /// [`MAX_RENDERED_BYTES`]; past it, the problem is reported once and
    /// `text` is returned as it is.
    fn expand(
        &mut self,
        path: &str,
        text: &str,
        vars: &Variables,
    ) -> Result<String, template::UnknownVariable> {
        match template::render(text, vars, self.render_budget) {
            Ok(rendered) => {
                self.render_budget -= rendered.len();
                Ok(rendered)
            }
            Err(template::RenderError::Unknown(unknown)) => Err(unknown),
            Err(template::RenderError::TooLong) => {
                if self.render_budget > 0 {
                    self.render_budget = 0;
                    self.error(
                        path,
                        format!(
                            "the config's templates expand to more than {} MiB at `{path}`",
                            MAX_RENDERED_BYTES >> 20
                        ),
                    )
                    .help = Some("a variable that uses another one twice doubles it, and a chain of them grows exponentially: write the value out".into());
                }
                Ok(text.to_string())
            }
        }
    }

    /// The problem for a `{name}` in `path` that no variable defines, at the
    /// line that uses it; callers may reword it.
    fn unknown_variable(
        &mut self,
        path: &str,
        unknown: &template::UnknownVariable,
        vars: &Variables,
    ) -> &mut Problem {
        let help = match &unknown.suggestion {
            Some(s) => format!(
                "did you mean `{{{s}}}`? Define `{}` under `variables:` or pass --var {}=VALUE; bash's ${{{}}} is left as is",
                unknown.name, unknown.name, unknown.name
            ),
            None => format!(
                "define `{}` under `variables:` or pass --var {}=VALUE (known: {}); bash's ${{{}}} is left as is",
                unknown.name,
                unknown.name,
                vars.keys().cloned().collect::<Vec<_>>().join(", "),
                unknown.name
            ),
        };
        // In a multi-line value, point at the line that uses it.
        let needle = format!("{{{}}}", unknown.name);
        let pos = self.index.value(path).map(|start| {
            self.source
                .lines()
                .enumerate()
                .skip(start.line.saturating_sub(1))
                .find_map(|(i, line)| {
                    line.find(&needle).map(|col| Pos {
                        line: i + 1,
                        col: line[..col].chars().count() + 1,
                    })
                })
                .unwrap_or(start)
        });
        self.problems.push(
            Problem::new(
                pos,
                format!(
                    "unknown template variable `{{{}}}` in `{path}`",
                    unknown.name
                ),
            )
            .help(help),
        );
        self.problems.last_mut().expect("just pushed")
    }

    fn render_all(&mut self, path: &str, items: &[String], vars: &Variables) -> Vec<String> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.render(&format!("{path}[{i}]"), item, vars))
            .collect()
    }

    fn remote_path(&mut self, path: &str, value: &str) {
        if !(value.starts_with('/') || value.starts_with('{')) {
            self.error(
                path,
                format!(
                    "`{path}` must be an absolute path or start with a template, got {}",
                    shown(value)
                ),
            )
            .help = Some("e.g. /workspace/job/run.sh or {volume_mount}/job/run.sh".into());
        }
    }
}
