//! Every environment variable rpd reads, in one table, checked when rpd
//! starts: a value rpd cannot use (`RPD_POLL_INTERVAL_MS=abc`) is an error
//! that names the variable, whatever the command and provider, instead of
//! being ignored or found half way through an apply. A variable set to the
//! empty string counts as unset. Imports nothing of rpd.
//!
//! The readers (providers, the job monitor) read their own variables; this
//! table holds the same rules, so that a value they accept is one that
//! passed here. A variable rpd starts to read belongs in [`VARS`].

use std::time::Duration;

/// What a variable holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text (a key, a user name, a fault point for tests).
    Text,
    /// A file or directory path.
    Path,
    /// `runpod`, `runpodctl` or `sim`.
    Provider,
    /// A whole number of milliseconds, at least 1.
    PositiveMillis,
    /// A whole number of seconds, 0 or more.
    Seconds,
    /// A duration such as `30s` or `2m`, longer than zero.
    Duration,
    /// A duration such as `2m`, or `0s` for none.
    Wait,
    /// An `http://` or `https://` URL.
    HttpUrl,
    /// `auto` or `off`.
    AutoOrOff,
}

/// One variable rpd reads.
#[derive(Debug, Clone, Copy)]
pub struct Var {
    pub name: &'static str,
    pub kind: Kind,
    /// The value used when it is unset, for messages.
    pub default: &'static str,
}

const fn var(name: &'static str, kind: Kind, default: &'static str) -> Var {
    Var {
        name,
        kind,
        default,
    }
}

pub const PROVIDER: &str = "RPD_PROVIDER";
pub const MARKER_GRACE_SECS: &str = "RPD_MARKER_GRACE_SECS";
pub const MAX_RUNTIME: &str = "RPD_MAX_RUNTIME";

/// Every variable rpd reads (`NO_COLOR`, `HOME` and `USER` aside, which any
/// value suits), with what it must hold.
pub const VARS: &[Var] = &[
    var(PROVIDER, Kind::Provider, "runpod"),
    var(
        "RUNPOD_API_KEY",
        Kind::Text,
        "apiKey in ~/.runpod/config.toml",
    ),
    var(
        "RUNPOD_POD_ID",
        Kind::Text,
        "unset (RunPod sets it inside a pod)",
    ),
    var("RPD_RUNPOD_API_URL", Kind::HttpUrl, "https://api.runpod.io"),
    var("RPD_POLL_INTERVAL_MS", Kind::PositiveMillis, "2000"),
    var("RPD_RUNPODCTL", Kind::Path, "runpodctl on PATH"),
    var("RPD_RUNPODCTL_TIMEOUT", Kind::Duration, "2m"),
    var("RPD_RUNPODCTL_POLL", Kind::Duration, "2s"),
    var("RPD_SIM_DIR", Kind::Path, "<user data dir>/rpd/sim"),
    // `off`: the simulator's commands run without the sandbox that keeps
    // them to its directory (for tests of that path; the plan warns).
    var(
        "RPD_SIM_SANDBOX",
        Kind::AutoOrOff,
        "auto (bwrap where it works)",
    ),
    var(MARKER_GRACE_SECS, Kind::Seconds, "30"),
    var(MAX_RUNTIME, Kind::Duration, "budget.max_runtime_minutes"),
    var(
        "RPD_KNOWN_HOSTS",
        Kind::Path,
        "<user data dir>/rpd/known_hosts",
    ),
    var("RPD_SSH_CONFIG", Kind::Path, "none"),
    var("RPD_SSH_USER", Kind::Text, "the pod's user, root"),
    var("RPD_BUSY_HOST_WAIT", Kind::Wait, "2m"),
    var("RPD_BUSY_HOST_RETRY_EVERY", Kind::Duration, "15s"),
    var("RPD_DIRECT_SSH_GRACE", Kind::Wait, "60s"),
    var(
        "RPD_SAMPLE_INTERVAL_MS",
        Kind::PositiveMillis,
        "telemetry.sample_interval_sec",
    ),
    var("RPD_FAULT", Kind::Text, "none"),
    var(
        "RPD_FAULT_MARKER",
        Kind::Path,
        "$TMPDIR/rpd-fault-<pid>.paused",
    ),
];

/// A variable whose value rpd cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={value:?} is not {expected}\n  = help: {help}")]
pub struct EnvError {
    pub name: &'static str,
    pub value: String,
    pub expected: String,
    pub help: String,
}

/// Checks every variable in [`VARS`] that is set.
pub fn check() -> Result<(), EnvError> {
    check_with(|name| std::env::var_os(name))
}

/// [`check`] over any environment (tests pass their own).
pub fn check_with(lookup: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<(), EnvError> {
    for var in VARS {
        let Some(raw) = lookup(var.name) else {
            continue;
        };
        let fail = |expected: &str| EnvError {
            name: var.name,
            value: raw.to_string_lossy().into_owned(),
            expected: expected.to_string(),
            help: format!(
                "unset it (or set it empty) for the default, {}",
                var.default
            ),
        };
        let Some(value) = raw.to_str() else {
            return Err(fail("UTF-8 text"));
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match var.kind {
            Kind::Text | Kind::Path => {}
            Kind::Provider => {
                if !["runpod", "runpodctl", "sim"].contains(&value) {
                    return Err(fail("a provider rpd knows (runpod, runpodctl or sim)"));
                }
            }
            Kind::PositiveMillis => {
                if !value.parse::<u64>().is_ok_and(|ms| ms > 0) {
                    return Err(fail("a positive number of milliseconds"));
                }
            }
            Kind::Seconds => {
                if value.parse::<u64>().is_err() {
                    return Err(fail("a whole number of seconds"));
                }
            }
            Kind::Duration => match humantime::parse_duration(value) {
                Ok(d) if d > Duration::ZERO && d <= LONGEST_DURATION => {}
                _ => {
                    return Err(fail(
                        "a duration longer than zero and at most 100 years, such as 30s or 2m",
                    ));
                }
            },
            Kind::Wait => {
                if humantime::parse_duration(value).is_err() {
                    return Err(fail("a duration such as 2m, 30s or 0s"));
                }
            }
            Kind::AutoOrOff => {
                if !["auto", "off"].contains(&value) {
                    return Err(fail("auto or off"));
                }
            }
            Kind::HttpUrl => {
                let ok = reqwest::Url::parse(value).is_ok_and(|url| {
                    ["http", "https"].contains(&url.scheme()) && url.host().is_some()
                });
                if !ok {
                    return Err(fail("an http:// or https:// URL"));
                }
            }
        }
    }
    Ok(())
}

/// Durations past this are refused: dates that far ahead cannot be
/// computed.
const LONGEST_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);

/// A set, non-empty variable's value, trimmed.
pub fn get(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A [`Kind::Seconds`] variable, or `default` when unset ([`check`] has
/// refused any other value).
pub fn seconds(name: &str, default: u64) -> Duration {
    Duration::from_secs(get(name).and_then(|v| v.parse().ok()).unwrap_or(default))
}

/// A [`Kind::Duration`] variable, when set ([`check`] has refused a value
/// that is not one).
pub fn duration(name: &str) -> Option<Duration> {
    get(name).and_then(|v| humantime::parse_duration(&v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::OsString;

    fn check_env(pairs: &[(&str, &str)]) -> Result<(), String> {
        let env: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        check_with(|name| env.get(name).cloned()).map_err(|e| e.to_string())
    }

    #[test]
    fn good_values_and_empty_ones_pass() {
        assert_eq!(
            check_env(&[
                ("RPD_PROVIDER", "sim"),
                ("RPD_POLL_INTERVAL_MS", "50"),
                ("RPD_RUNPODCTL_POLL", "1s"),
                ("RPD_BUSY_HOST_WAIT", "0s"),
                ("RPD_MARKER_GRACE_SECS", "0"),
                ("RPD_RUNPOD_API_URL", "http://127.0.0.1:8080/v2"),
                ("RPD_SIM_DIR", ""),
                ("RPD_POLL_INTERVAL_MS", " "),
            ]),
            Ok(())
        );
    }

    #[test]
    fn each_bad_value_names_the_variable_what_it_needs_and_the_default() {
        let cases = [
            (
                ("RPD_POLL_INTERVAL_MS", "abc"),
                "RPD_POLL_INTERVAL_MS=\"abc\" is not a positive number of milliseconds\n  = help: unset it (or set it empty) for the default, 2000",
            ),
            (
                ("RPD_POLL_INTERVAL_MS", "0"),
                "RPD_POLL_INTERVAL_MS=\"0\" is not a positive number of milliseconds\n  = help: unset it (or set it empty) for the default, 2000",
            ),
            (
                ("RPD_SAMPLE_INTERVAL_MS", "0.5"),
                "RPD_SAMPLE_INTERVAL_MS=\"0.5\" is not a positive number of milliseconds\n  = help: unset it (or set it empty) for the default, telemetry.sample_interval_sec",
            ),
            (
                ("RPD_MARKER_GRACE_SECS", "1.5"),
                "RPD_MARKER_GRACE_SECS=\"1.5\" is not a whole number of seconds\n  = help: unset it (or set it empty) for the default, 30",
            ),
            (
                ("RPD_RUNPODCTL_TIMEOUT", "soon"),
                "RPD_RUNPODCTL_TIMEOUT=\"soon\" is not a duration longer than zero and at most 100 years, such as 30s or 2m\n  = help: unset it (or set it empty) for the default, 2m",
            ),
            (
                ("RPD_RUNPODCTL_POLL", "0s"),
                "RPD_RUNPODCTL_POLL=\"0s\" is not a duration longer than zero and at most 100 years, such as 30s or 2m\n  = help: unset it (or set it empty) for the default, 2s",
            ),
            (
                ("RPD_MAX_RUNTIME", "1000000000y"),
                "RPD_MAX_RUNTIME=\"1000000000y\" is not a duration longer than zero and at most 100 years, such as 30s or 2m\n  = help: unset it (or set it empty) for the default, budget.max_runtime_minutes",
            ),
            (
                ("RPD_BUSY_HOST_WAIT", "a while"),
                "RPD_BUSY_HOST_WAIT=\"a while\" is not a duration such as 2m, 30s or 0s\n  = help: unset it (or set it empty) for the default, 2m",
            ),
            (
                ("RPD_RUNPOD_API_URL", "api.runpod.io"),
                "RPD_RUNPOD_API_URL=\"api.runpod.io\" is not an http:// or https:// URL\n  = help: unset it (or set it empty) for the default, https://api.runpod.io",
            ),
            (
                ("RPD_SIM_SANDBOX", "no"),
                "RPD_SIM_SANDBOX=\"no\" is not auto or off\n  = help: unset it (or set it empty) for the default, auto (bwrap where it works)",
            ),
            (
                ("RPD_PROVIDER", "aws"),
                "RPD_PROVIDER=\"aws\" is not a provider rpd knows (runpod, runpodctl or sim)\n  = help: unset it (or set it empty) for the default, runpod",
            ),
        ];
        for ((name, value), message) in cases {
            assert_eq!(check_env(&[(name, value)]), Err(message.to_string()));
        }
    }

    #[test]
    fn every_variable_is_listed_once() {
        let mut names: Vec<&str> = VARS.iter().map(|v| v.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), VARS.len());
    }
}
