//! Config layer: raw YAML -> validated, defaults-resolved, rendered [`Config`].
//! Only a `Config` reaches the planner.

mod error;
pub mod locate;
mod raw;
mod read;
pub mod schema;
mod serde_errors;
pub mod template;
mod validate;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use indexmap::IndexMap;

pub use error::{ConfigError, Problem};
pub use template::Variables;
pub use validate::DEFAULT_FAILURE_MARKERS;

use crate::model::{DesiredPod, Lifecycle};

/// Inputs to loading that come from the command line, shared by every config.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--vars-file` values, then `--var K=V` values (later wins).
    pub overrides: Variables,
    /// The run's timestamp; fixed per invocation.
    pub now: Option<DateTime<Utc>>,
}

/// A validated config: the desired pod, the job, the lifecycle and where the
/// state lives.
#[derive(Debug, Clone)]
pub struct Config {
    /// The path as the user gave it (for messages).
    pub path: PathBuf,
    /// Absolute, symlinks resolved: the identity recorded in the state file.
    pub canonical_path: PathBuf,
    pub config_dir: PathBuf,
    pub schema_version: u32,
    /// Rendered `name` (the job name).
    pub name: String,
    /// `name` as written, before rendering.
    pub raw_name: String,
    /// `<rendered run_id_prefix>-<YYYYmmddTHHMMSSZ>`: the name of a pod rpd creates.
    pub run_id: String,
    pub run_id_prefix: String,
    pub state_file: PathBuf,
    /// True when `state_file:` was set in the config.
    pub state_file_explicit: bool,
    pub project_root: PathBuf,
    pub run_dir: PathBuf,
    pub required_paths: Vec<PathBuf>,
    pub pod: DesiredPod,
    pub python_version: Option<String>,
    pub ssh_key_path: PathBuf,
    pub budget: Budget,
    pub job: Job,
    pub lifecycle: Lifecycle,
    pub telemetry: Telemetry,
    /// Every template variable after merging (built-ins, YAML, overrides).
    pub variables: Variables,
    /// Things that are valid but probably not what the user wants.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub cost_cap_usd: f64,
    pub assumed_hourly_rate_usd: f64,
    pub max_runtime_minutes: Option<u32>,
    pub poll_interval_sec: u32,
    pub ssh_ready_timeout_sec: u32,
    /// `max_runtime_minutes * 60`, else the cost cap at the assumed rate.
    pub timeout_sec: u64,
    /// The max runtime in seconds, when one is set (`max_runtime_minutes`,
    /// or `RPD_MAX_RUNTIME`): the time limit is then a max runtime, not the
    /// cost cap at the assumed rate.
    pub max_runtime_sec: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Job {
    pub remote_env: RemoteEnv,
    pub setup: Vec<Command>,
    pub preflight: Vec<Command>,
    pub staging: Vec<Push>,
    pub secrets: Vec<Secret>,
    pub run: Run,
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteEnv {
    pub source_files: Vec<String>,
    pub exports: IndexMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub command: String,
    pub timeout_sec: u32,
    pub with_env: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    pub label: String,
    /// Absolute local path; a trailing `/` means "the directory's contents" (rsync).
    pub source: String,
    pub destination: String,
    pub excludes: Vec<String>,
    pub delete: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SecretSource {
    /// Local environment variables, written as `KEY=value` lines.
    Env(Vec<String>),
    /// A local file, copied as is.
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Secret {
    pub name: String,
    pub destination: String,
    pub source: SecretSource,
    pub mode: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    pub script_path: String,
    pub log_path: String,
    pub success_marker: String,
    pub failure_markers: Vec<String>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub label: String,
    pub remote_path: String,
    pub local_path: PathBuf,
    pub required: bool,
    pub excludes: Vec<String>,
    pub delete: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Telemetry {
    pub enabled: bool,
    pub sample_interval_sec: u32,
    pub capture_nvidia_smi: bool,
    pub capture_dmesg: bool,
    pub capture_pod_describe: bool,
    pub capture_remote_env: bool,
    pub capture_local_git: bool,
    pub capture_payload_lockfile: bool,
}

/// Reads, validates and renders one config file.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Config, ConfigError> {
    let text = read::config_text(path)?;
    validate::from_text(path, &text, options)
}

/// [`load`] for a config's bytes already in memory, as if read from `path`
/// (the fuzz targets and `rpd diff`'s standard input use it; `path` only
/// anchors relative paths and names the file in errors). The caller bounds
/// the size.
pub fn load_bytes(
    path: &Path,
    bytes: Vec<u8>,
    options: &LoadOptions,
) -> Result<Config, ConfigError> {
    let text = read::decode(path, bytes)?;
    validate::from_text(path, &text, options)
}

/// The closest of `candidates` to `word`, if one is close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    crate::known::closest(word, candidates)
}

/// `text` quoted for a message, cut to its first 60 characters when longer
/// (a value of megabytes is not worth printing).
pub fn shown(text: &str) -> String {
    const MAX: usize = 60;
    let count = text.chars().count();
    if count <= MAX {
        return format!("{text:?}");
    }
    let start: String = text.chars().take(MAX).collect();
    format!("{:?} ({count} characters)", format!("{start}…"))
}

/// Parses `--var K=V` arguments.
pub fn parse_var(arg: &str) -> Result<(String, String), String> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("--var {arg:?} must look like KEY=VALUE"))?;
    if !template::is_identifier(key) {
        return Err(format!(
            "--var {arg:?}: {key:?} is not an identifier (letters, digits, _; not starting with a digit)"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

/// Reads a `--vars-file`: a JSON object of string values.
pub fn read_vars_file(path: &Path) -> Result<Variables, String> {
    let text = crate::input::read_text(path)
        .map_err(|err| format!("cannot read --vars-file {}: {err}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|err| {
        format!(
            "--vars-file {}:{}:{}: invalid JSON: {err}",
            path.display(),
            err.line(),
            err.column()
        )
    })?;
    let object = value.as_object().ok_or_else(|| {
        format!(
            "--vars-file {}: expected a JSON object like {{\"seed\": \"42\"}}",
            path.display()
        )
    })?;
    let mut vars = Variables::new();
    for (key, value) in object {
        if !template::is_identifier(key) {
            return Err(format!(
                "--vars-file {}: key {key:?} is not an identifier",
                path.display()
            ));
        }
        let value = value.as_str().ok_or_else(|| {
            format!(
                "--vars-file {}: value of {key:?} must be a string, got {value}",
                path.display()
            )
        })?;
        vars.insert(key.clone(), value.to_string());
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_in_messages() {
        assert_eq!(shown("ephemeral"), "\"ephemeral\"");
        let long = "e".repeat(3_000_000);
        assert_eq!(
            shown(&long),
            format!("\"{}…\" (3000000 characters)", "e".repeat(60))
        );
    }

    #[test]
    fn long_words_get_no_suggestion() {
        // Comparing a word of megabytes with each candidate took minutes.
        assert_eq!(
            suggest("ephemeal", ["ephemeral"]).as_deref(),
            Some("ephemeral")
        );
        let long = "e".repeat(3_000_000);
        assert_eq!(suggest(&long, ["ephemeral"]), None);
        assert!(!crate::known::is_known_gpu(&long));
        assert_eq!(crate::known::suggest_gpu(&long), None);
    }
}
