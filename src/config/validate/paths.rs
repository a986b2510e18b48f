//! Where a config's files live on this machine: the config's own place, the
//! project root and run directory, the state file, `local.required_paths`;
//! and how a local path in a config is resolved.

use std::path::{Component, Path, PathBuf};

use chrono::Utc;

use super::Checker;
use crate::config::LoadOptions;
use crate::config::error::Problem;
use crate::config::raw::{RawConfig, RawLocal};
use crate::config::template::Variables;

/// The local places fixed before any template is rendered (they are built-in
/// variables).
pub(super) struct Locations {
    /// Absolute, symlinks resolved.
    pub canonical_path: PathBuf,
    pub config_dir: PathBuf,
    pub project_root: PathBuf,
    pub run_dir: PathBuf,
    /// The run's timestamp, `YYYYmmddTHHMMSSZ`.
    pub stamp: String,
}

impl Checker<'_> {
    pub(super) fn locations(
        &mut self,
        path: &Path,
        local: &RawLocal,
        options: &LoadOptions,
    ) -> Locations {
        let canonical_path = std::fs::canonicalize(path).unwrap_or_else(|_| absolute(path));
        let config_dir = canonical_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let now = options.now.unwrap_or_else(Utc::now);
        let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();

        let project_root_raw = local.project_root.clone().unwrap_or_else(|| ".".into());
        let project_root = resolve_local(&project_root_raw, &config_dir);
        if dirs::home_dir().is_some_and(|home| normalize(&home) == project_root) {
            self.error(
                "local.project_root",
                format!("`local.project_root` resolves to your home directory ({}); this would stage all of it", project_root.display()),
            )
            .help = Some("for a YAML inside the repo at configs/runpod/, the usual value is '../..', not '../../..'".into());
        }
        // Named once the job's name is rendered (see `run_dir`); until then
        // after the config's file name.
        let stem = canonical_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "config".into());
        let run_dir = run_dir(&project_root, &stamp, &stem);
        Locations {
            canonical_path,
            config_dir,
            project_root,
            run_dir,
            stamp,
        }
    }

    /// The state file and whether the config names it. Rendered (unlike
    /// runpod-deploy); one per config by default.
    pub(super) fn state_file(
        &mut self,
        raw: &RawConfig,
        name: &str,
        vars: &Variables,
        locations: &Locations,
    ) -> (PathBuf, bool) {
        let Some(text) = &raw.state_file else {
            return (
                default_state_file(&locations.canonical_path, &raw.name, name),
                false,
            );
        };
        for per_run in ["{run_id}", "{run_dir}"] {
            if text.contains(per_run) {
                self.error("state_file", format!("`state_file` uses {per_run}, which changes on every run: the next run would not find the pod this one recorded"))
                    .help = Some("use values that identify the job, e.g. {job_name} or your own variables such as {seed}".into());
            }
        }
        let rendered = self.render("state_file", text, vars);
        if rendered.trim().is_empty() {
            self.error("state_file", "`state_file` must not be empty");
        }
        (resolve_local(&rendered, &locations.config_dir), true)
    }

    pub(super) fn required_paths(
        &mut self,
        paths: &[String],
        vars: &Variables,
        project_root: &Path,
    ) -> Vec<PathBuf> {
        paths
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let rendered = self.render(&format!("local.required_paths[{i}]"), p, vars);
                resolve_local(&rendered, project_root)
            })
            .collect()
    }
}

/// runpod-deploy's `artifacts/runpod/<stamp>/`, named
/// `<stamp>-<job name>-<6 hex of this run>`: the name tells shards apart,
/// and the run's own part keeps two runs apart however close they start
/// (shards started in the same second, or the same config twice).
pub(super) fn run_dir(project_root: &Path, stamp: &str, name: &str) -> PathBuf {
    let run = uuid::Uuid::new_v4().simple().to_string();
    project_root.join("artifacts").join("runpod").join(format!(
        "{stamp}-{}-{}",
        file_safe(name),
        &run[..6]
    ))
}

/// `name` with every character that is not a letter, digit, `-`, `_` or
/// `.` replaced by `_`.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `.rpd/<stem>.state.json` beside the config; with a templated `name`
/// (`demo-{seed}`), `.rpd/<stem>@<rendered name>.state.json`, so that shards
/// run with different `--var`s never share one state.
fn default_state_file(config: &Path, raw_name: &str, name: &str) -> PathBuf {
    let dir = config.parent().unwrap_or(Path::new(".")).join(".rpd");
    let stem = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    if raw_name.contains('{') {
        dir.join(format!("{stem}@{}.state.json", file_safe(name)))
    } else {
        dir.join(format!("{stem}.state.json"))
    }
}

/// Why rpd needs a path as text, and what to do about one that is not.
const NOT_UTF8_HELP: &str = "rpd records a config's path as text (in its state file, its lock and the registry of applied configs): rename the file or directory to a UTF-8 name, or move the config to one";

/// The config's own path (absolute, symlinks resolved, as the state records
/// it) when it is not UTF-8: refused before the config is read further.
pub(super) fn config_path_not_utf8(path: &Path) -> Option<Problem> {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| absolute(path));
    canonical.to_str().is_none().then(|| {
        Problem::new(
            None,
            format!(
                "the config's path is not UTF-8: {}",
                crate::input::escaped_path(&canonical)
            ),
        )
        .help(NOT_UTF8_HELP)
    })
}

impl Checker<'_> {
    /// Each local path the config resolves to must be UTF-8: rpd writes
    /// them as text (the state, the plan, the run's manifest). `key` names
    /// where the path comes from.
    pub(super) fn utf8_paths(&mut self, paths: &[(&str, &Path)]) {
        for (key, path) in paths {
            if path.to_str().is_none() {
                self.error(
                    key,
                    format!(
                        "`{key}` resolves to a path that is not UTF-8: {}",
                        crate::input::escaped_path(path)
                    ),
                )
                .help = Some(format!(
                    "rpd records local paths as text (in the state, the plan and the run's manifest): rename it to a UTF-8 name, or point `{key}` at another place"
                ));
            }
        }
    }
}

pub(super) fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if path == "~" => dirs::home_dir().unwrap_or_else(|| PathBuf::from("~")),
        _ => PathBuf::from(path),
    }
}

/// `~` expanded; relative paths are taken from `base`; `.`/`..` removed.
pub(super) fn resolve_local(path: &str, base: &Path) -> PathBuf {
    let expanded = expand_home(path);
    let joined = if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    };
    normalize(&joined)
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        normalize(&std::env::current_dir().unwrap_or_default().join(path))
    }
}

fn normalize(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
