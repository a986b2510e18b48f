//! Where the REST v2 provider gets its key, URL and pacing from.
//!
//! - API key: `RUNPOD_API_KEY`, else `apiKey` in runpodctl's
//!   `~/.runpod/config.toml` (the same order runpodctl uses). The key's
//!   name is read in any case: runpodctl writes the file through viper,
//!   which lowercases keys, so `runpodctl doctor` leaves `apikey`.
//! - Base URL: `RPD_RUNPOD_API_URL` (tests point it at a local fake), else
//!   `https://api.runpod.io`; paths are `/v2/...`.
//! - Polling a changing pod: `RPD_POLL_INTERVAL_MS` caps the wait between
//!   two reads (tests make it short); by default reads start 0.5 s apart
//!   and back off to 2 s (`provider::CHANGING_POD`).

use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.runpod.io";
/// runpodctl's REST timeout; a pod read or create answers well within it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub const ENV_API_KEY: &str = "RUNPOD_API_KEY";
/// Set by RunPod in every pod, beside a `RUNPOD_API_KEY` that is the
/// pod's own key (scoped to that pod).
pub const ENV_POD_ID: &str = "RUNPOD_POD_ID";
pub const ENV_API_URL: &str = "RPD_RUNPOD_API_URL";
pub const ENV_POLL_INTERVAL_MS: &str = "RPD_POLL_INTERVAL_MS";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "no RunPod API key: RUNPOD_API_KEY is not set and {config} has no `apikey`\n  = help: create a key in the RunPod console (Settings → API Keys), then either `export RUNPOD_API_KEY=<key>` or run `runpodctl doctor`, which saves it as `apikey = \"<key>\"` in {config}\n  = help: to try rpd without an account, use --provider sim"
    )]
    MissingKey { config: String },
    #[error(
        "cannot read {path}: {message}\n  = help: fix the file, or set RUNPOD_API_KEY, which takes precedence"
    )]
    BadConfigFile { path: PathBuf, message: String },
    #[error("{name}={value:?} is not {expected}")]
    BadVariable {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// Retry pacing for the calls that may be repeated (GET, DELETE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// Wait before the second try; doubled for each later one.
    pub first_delay: Duration,
    /// Never wait longer than this in total, `Retry-After` included.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(500),
            max_total_wait: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Scheme, host and port (no `/v2`).
    pub base_url: String,
    pub api_key: String,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// The longest wait between two reads of a changing pod.
    pub longest_poll_wait: Duration,
    /// The pod rpd runs inside (`RUNPOD_POD_ID`), when its key came from
    /// `RUNPOD_API_KEY`: there RunPod sets that to the pod's own key, which
    /// can do nothing beyond the pod, so the key is checked before use.
    pub inside_pod: Option<String>,
}

impl Settings {
    /// Defaults for a key and URL (tests build the provider this way).
    pub fn new(base_url: &str, api_key: &str) -> Settings {
        Settings {
            base_url: normalize_base_url(base_url),
            api_key: api_key.to_string(),
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            longest_poll_wait: crate::provider::LONGEST_CHANGING_POD_WAIT,
            inside_pod: None,
        }
    }

    /// From the environment and runpodctl's config file.
    pub fn from_env() -> Result<Settings, SettingsError> {
        let api_key = users_api_key()?;
        let base_url = env(ENV_API_URL).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let mut settings = Settings::new(&base_url, &api_key);
        settings.inside_pod = env(ENV_POD_ID).filter(|_| env(ENV_API_KEY).is_some());
        if let Some(ms) = env(ENV_POLL_INTERVAL_MS) {
            let parsed = ms.parse::<u64>().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                SettingsError::BadVariable {
                    name: ENV_POLL_INTERVAL_MS,
                    value: ms.clone(),
                    expected: "a positive number of milliseconds",
                }
            })?;
            settings.longest_poll_wait = Duration::from_millis(parsed);
        }
        Ok(settings)
    }
}

/// A set, non-blank environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The user's key as runpodctl finds it too: `RUNPOD_API_KEY`, else
/// `~/.runpod/config.toml`.
pub fn users_api_key() -> Result<String, SettingsError> {
    let config = dirs::home_dir().map(|h| h.join(".runpod").join("config.toml"));
    api_key(env(ENV_API_KEY), config.as_deref())
}

/// The key from the environment, else from runpodctl's config file.
pub fn api_key(from_env: Option<String>, config: Option<&Path>) -> Result<String, SettingsError> {
    if let Some(key) = from_env {
        return Ok(key);
    }
    let shown = config
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "~/.runpod/config.toml".into());
    let Some(path) = config else {
        return Err(SettingsError::MissingKey { config: shown });
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(SettingsError::MissingKey { config: shown });
        }
        Err(err) => {
            return Err(SettingsError::BadConfigFile {
                path: path.to_path_buf(),
                message: err.to_string(),
            });
        }
    };
    let table: toml::Table = toml::from_str(&text).map_err(|err| SettingsError::BadConfigFile {
        path: path.to_path_buf(),
        message: err.message().to_string(),
    })?;
    // The first spelling with a value wins; an empty one does not hide
    // another (a file edited by hand may have both).
    let mut spellings = table
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("apiKey"));
    let found = spellings.find(|(_, value)| match value {
        toml::Value::String(key) => !key.trim().is_empty(),
        _ => true,
    });
    match found {
        Some((_, toml::Value::String(key))) => Ok(key.trim().to_string()),
        None => Err(SettingsError::MissingKey { config: shown }),
        Some((name, other)) => Err(SettingsError::BadConfigFile {
            path: path.to_path_buf(),
            message: format!("`{name}` must be a string, found {}", other.type_str()),
        }),
    }
}

/// `https://api.runpod.io/` and `https://api.runpod.io/v2` both mean the host.
pub fn normalize_base_url(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    trimmed
        .strip_suffix("/v2")
        .unwrap_or(trimmed)
        .trim_end_matches('/')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_wins_over_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "apiKey = \"from-file\"\napiUrl = \"x\"\n").unwrap();
        assert_eq!(
            api_key(Some("from-env".into()), Some(&path)).unwrap(),
            "from-env"
        );
        assert_eq!(api_key(None, Some(&path)).unwrap(), "from-file");
    }

    #[test]
    fn the_key_runpodctl_doctor_saves_is_found_in_either_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        // viper lowercases keys: this is the file `runpodctl doctor` writes.
        std::fs::write(&path, "apikey = \"from-doctor\"\napiurl = \"x\"\n").unwrap();
        assert_eq!(api_key(None, Some(&path)).unwrap(), "from-doctor");
        std::fs::write(&path, "apiKey = \"by-hand\"\n").unwrap();
        assert_eq!(api_key(None, Some(&path)).unwrap(), "by-hand");
        std::fs::write(&path, "APIKEY = \"shouted\"\n").unwrap();
        assert_eq!(api_key(None, Some(&path)).unwrap(), "shouted");
        std::fs::write(&path, "apiKey = \"\"\napikey = \"second\"\n").unwrap();
        assert_eq!(api_key(None, Some(&path)).unwrap(), "second");
        std::fs::write(&path, "apikey = 42\n").unwrap();
        let err = api_key(None, Some(&path)).unwrap_err().to_string();
        assert!(
            err.contains("`apikey` must be a string, found integer"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_key_says_how_to_set_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let err = api_key(None, Some(&path)).unwrap_err().to_string();
        assert!(err.contains("export RUNPOD_API_KEY=<key>"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        std::fs::write(&path, "apiUrl = \"x\"\n").unwrap();
        assert!(matches!(
            api_key(None, Some(&path)),
            Err(SettingsError::MissingKey { .. })
        ));
        std::fs::write(&path, "apiKey = \"  \"\n").unwrap();
        assert!(matches!(
            api_key(None, Some(&path)),
            Err(SettingsError::MissingKey { .. })
        ));
    }

    #[test]
    fn a_broken_config_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "apiKey = \n").unwrap();
        let err = api_key(None, Some(&path)).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot read {}", path.display())),
            "{err}"
        );
        std::fs::write(&path, "apiKey = 42\n").unwrap();
        let err = api_key(None, Some(&path)).unwrap_err().to_string();
        assert!(
            err.contains("`apiKey` must be a string, found integer"),
            "{err}"
        );
    }

    #[test]
    fn base_urls_are_normalized() {
        for url in [
            "https://api.runpod.io",
            "https://api.runpod.io/",
            "https://api.runpod.io/v2",
            "https://api.runpod.io/v2/",
        ] {
            assert_eq!(normalize_base_url(url), "https://api.runpod.io", "{url}");
        }
    }
}
