//! Which runpodctl this is, and what its `pod create` accepts.
//!
//! rpd drives the v2 noun-verb CLI (`runpodctl pod get ...`, v2.0.0 of
//! 2026-02-23 and later). v1.x has verb-noun commands and no JSON output, so
//! it is refused. Builds up to v2.14 send pod verbs to RunPod's REST v1
//! (runpod/runpodctl issue #345), which was due to be retired on 2026-11-15:
//! they get a warning, not a refusal, because whether REST v1 still answers
//! is unconfirmed.

use std::collections::BTreeSet;
use std::fmt;

/// The last version line known to send pod verbs to REST v1.
const LAST_REST_V1: (u32, u32) = (2, 14);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error(
        "`{program} --version` printed no version number ({printed})\n  = help: rpd needs runpodctl v2.0.0 or newer; a development build prints no version: install a release from https://github.com/runpod/runpodctl/releases"
    )]
    Unreadable { program: String, printed: String },
    #[error(
        "runpodctl {found} is too old: rpd needs runpodctl v2 (v2.0.0 or newer, the `runpodctl pod ...` commands with JSON output)\n  = help: upgrade: install a v2 release from https://github.com/runpod/runpodctl/releases, then check with `runpodctl --version`"
    )]
    TooOld { found: Version },
    #[error(
        "runpodctl {found} is a newer major version than rpd knows (v2.x)\n  = help: rpd was written for runpodctl v2: install a v2 release from https://github.com/runpod/runpodctl/releases"
    )]
    TooNew { found: Version },
}

/// The first `MAJOR.MINOR[.PATCH]` in `--version` output: `runpodctl v2.7.2`,
/// `runpodctl version 1.14.8`, `v2.8.0-rc1`.
pub fn parse(text: &str) -> Option<Version> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .map(|word| word.trim_start_matches(['v', 'V']))
        .find_map(|word| {
            let core = word.split(['-', '+']).next()?;
            let mut parts = core.split('.');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            let patch = match parts.next() {
                Some(p) => p.parse().ok()?,
                None => 0,
            };
            parts.next().is_none().then_some(Version {
                major,
                minor,
                patch,
            })
        })
}

/// The first version with `pod list --all` (v2.0.0's `pod list` lists
/// every pod and has no such flag).
pub const LIST_ALL: Version = Version {
    major: 2,
    minor: 1,
    patch: 0,
};

/// The first version whose `pod get` says why a pod has no SSH endpoint
/// (`pod not ready: <reason>`, runpod/runpodctl PR #315).
pub const NOT_READY_REASONS: Version = Version {
    major: 2,
    minor: 9,
    patch: 0,
};

/// The error for a build whose pod commands reached REST v1 after RunPod
/// retired it: which runpodctl to install instead.
pub fn rest_v1_gone(version: Version, what: &str) -> String {
    format!(
        "runpodctl {version} sent `{what}` to RunPod's REST v1 API, which answered that it is gone: runpodctl v2.0-v{}.{} send pod commands there\n  = help: install runpodctl v{}.{}.0 or newer from https://github.com/runpod/runpodctl/releases (check with `runpodctl --version`), or use --provider runpod, which talks to REST v2 directly",
        LAST_REST_V1.0,
        LAST_REST_V1.1,
        LAST_REST_V1.0,
        LAST_REST_V1.1 + 1,
    )
}

/// Refuses what rpd cannot drive; returns a warning for builds that may.
pub fn check(version: Version) -> Result<Option<String>, VersionError> {
    match version.major {
        0 | 1 => Err(VersionError::TooOld { found: version }),
        2 if (version.major, version.minor) <= LAST_REST_V1 => Ok(Some(format!(
            "runpodctl {version} sends pod commands to RunPod's REST v1 API (v2.0-v2.14 do, per runpod/runpodctl issue #345); they may fail since REST v1 was retired on 2026-11-15. If they do, upgrade runpodctl"
        ))),
        2 => Ok(None),
        _ => Err(VersionError::TooNew { found: version }),
    }
}

/// The long flags `runpodctl pod create --help` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagProbe {
    Known(BTreeSet<String>),
    /// The help could not be read: why.
    Failed(String),
}

impl FlagProbe {
    /// `None` when the probe failed (unknown).
    pub fn supports(&self, flag: &str) -> Option<bool> {
        match self {
            FlagProbe::Known(flags) => Some(flags.contains(flag.trim_start_matches('-'))),
            FlagProbe::Failed(_) => None,
        }
    }
}

/// The flags on cobra's flag lines (`      --gpu-id string   gpu id`,
/// `  -o, --output string`); example lines in the long help start with
/// `runpodctl` or `#` and are ignored.
pub fn parse_help(help: &str) -> BTreeSet<String> {
    help.lines()
        .map(str::trim_start)
        .filter(|line| line.starts_with('-'))
        .flat_map(|line| {
            line.split_whitespace()
                .take_while(|w| w.starts_with('-'))
                .filter_map(|w| w.strip_prefix("--"))
                .map(|w| w.trim_end_matches(',').split('=').next().unwrap_or(""))
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The subcommands a cobra group help lists (`runpodctl pod --help`):
/// the first word of each line under `Available Commands:`.
pub fn parse_commands(help: &str) -> BTreeSet<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Available Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32, minor: u32, patch: u32) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    #[test]
    fn reads_the_shapes_runpodctl_prints() {
        assert_eq!(parse("runpodctl v2.7.2\n"), Some(v(2, 7, 2)));
        assert_eq!(parse("runpodctl 2.8.0"), Some(v(2, 8, 0)));
        assert_eq!(parse("runpodctl version 1.14.8"), Some(v(1, 14, 8)));
        assert_eq!(parse("runpodctl v2.10.0-rc1"), Some(v(2, 10, 0)));
        assert_eq!(parse("runpodctl v2.9"), Some(v(2, 9, 0)));
        assert_eq!(parse("runpodctl \n"), None);
        assert_eq!(parse("runpodctl dev"), None);
    }

    #[test]
    fn v1_is_refused_with_the_version_needed_and_how_to_upgrade() {
        let err = check(v(1, 14, 8)).unwrap_err().to_string();
        assert!(err.contains("runpodctl 1.14.8 is too old"), "{err}");
        assert!(err.contains("v2.0.0 or newer"), "{err}");
        assert!(err.contains("releases"), "{err}");
        assert!(check(v(3, 0, 0)).is_err());
    }

    #[test]
    fn builds_known_to_use_rest_v1_are_warned_about() {
        for old in [v(2, 0, 0), v(2, 7, 2), v(2, 14, 9)] {
            let warning = check(old).unwrap().expect("a warning");
            assert!(
                warning.contains("may fail since REST v1 was retired on 2026-11-15"),
                "{warning}"
            );
        }
        assert_eq!(check(v(2, 15, 0)), Ok(None));
    }

    #[test]
    fn group_help_lists_its_commands() {
        let help = "manage gpu pods\n\nUsage:\n  runpodctl pod [command]\n\nAliases:\n  pod, pods\n\nAvailable Commands:\n  create      create a new pod\n  update      update an existing pod\n\nFlags:\n  -h, --help   help for pod\n";
        let commands = parse_commands(help);
        assert!(commands.contains("update") && commands.contains("create"));
        assert_eq!(commands.len(), 2, "{commands:?}");
        assert!(parse_commands("Usage:\n  runpodctl pod\n").is_empty());
    }

    #[test]
    fn help_flags_are_read_from_flag_lines_only() {
        let help = "create a new pod.\n\nexamples:\n  runpodctl pod create --template-id x --wait\n\nUsage:\n  runpodctl pod create [flags]\n\nFlags:\n      --cloud-type string   cloud type (default \"SECURE\")\n      --gpu-id string       gpu id\n  -h, --help                help for create\n      --ssh                 enable ssh on the pod (default true)\n\nGlobal Flags:\n  -o, --output string   output format (json, yaml) (default \"json\")\n";
        let flags = parse_help(help);
        let expected: BTreeSet<String> = ["cloud-type", "gpu-id", "help", "ssh", "output"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(flags, expected);
        let probe = FlagProbe::Known(flags);
        assert_eq!(probe.supports("--ssh"), Some(true));
        assert_eq!(probe.supports("--wait"), Some(false));
        assert_eq!(FlagProbe::Failed("x".into()).supports("--ssh"), None);
    }
}
