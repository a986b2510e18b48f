//! The arguments of the commands that keep an account tidy: `status`,
//! `ls-stale`, `cleanup`, `runs`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use super::{LockArgs, ProviderArgs, VarArgs};
use crate::commands::settings::{
    Action, CleanupMode, CleanupSettings, CleanupTarget, CostSettings, LsStaleSettings,
    RefreshSettings, ReportSettings, RunsShowSettings,
};

/// `7d`, `30d`, `12h` (rounded up to whole days).
fn parse_days(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(0);
    }
    let duration: Duration =
        humantime::parse_duration(text).map_err(|e| format!("{e} (examples: 7d, 30d, 12h)"))?;
    let days = duration.as_secs().div_ceil(86_400);
    // Dates further back cannot be computed (and no pod is that old).
    if days > 36_500 {
        return Err("at most 36500d (100 years)".into());
    }
    Ok(days)
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// YAML configs (default: every config rpd has applied, from its registry).
    #[arg(value_name = "CONFIG")]
    configs: Vec<PathBuf>,
    #[command(flatten)]
    vars: VarArgs,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

impl ReportArgs {
    pub fn resolve(self) -> ReportSettings {
        ReportSettings {
            configs: self.configs,
            vars: self.vars.resolve(),
            json: self.json,
        }
    }
}

/// `rpd runs [CONFIG...]`, or `rpd runs show RUN`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunsArgs {
    #[command(subcommand)]
    command: Option<RunsCommand>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// One run: its summary, what its telemetry says, and GPU use over time (writes metrics.svg beside metrics.jsonl).
    Show {
        /// The run directory, or its name as `rpd runs` lists it (RUN column), or the start of it.
        #[arg(value_name = "RUN")]
        run: String,
        /// Print JSON instead of the text.
        #[arg(long)]
        json: bool,
    },
}

impl RunsArgs {
    pub fn resolve(self) -> Action {
        match self.command {
            Some(RunsCommand::Show { run, json }) => {
                Action::RunsShow(RunsShowSettings { run, json })
            }
            None => Action::Runs(self.report.resolve()),
        }
    }
}

#[derive(Debug, Args)]
pub struct LsStaleArgs {
    /// Every stopped pod of the account, not only rpd's (others are labelled "not rpd's").
    #[arg(long)]
    all: bool,
    /// Only pods stopped at least this long ago (e.g. 7d; rounded up to whole days).
    #[arg(long, value_name = "AGE", value_parser = parse_days)]
    older_than: Option<u64>,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

impl LsStaleArgs {
    pub fn resolve(self) -> LsStaleSettings {
        LsStaleSettings {
            all: self.all,
            older_than_days: self.older_than,
            json: self.json,
        }
    }
}

/// What `--state-file` cleanup does (runpod-deploy's `--mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Delete the pods (their volumes are gone for good) and forget them.
    Delete,
    /// Stop running pods and keep them, with their volumes.
    Stop,
    /// Leave the pods as they are.
    Preserve,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["state_file", "all_stopped", "stale"]))]
pub struct CleanupArgs {
    /// Clean up the pods this state file tracks (repeatable; rpd's or a runpod-deploy pointer).
    #[arg(long, value_name = "PATH")]
    state_file: Vec<PathBuf>,
    /// With --state-file: what to do to its pods.
    #[arg(long, value_enum, default_value = "delete", requires = "state_file")]
    mode: ModeArg,
    /// Delete every stopped pod rpd's state files track (with --untracked / --all: more).
    #[arg(long, conflicts_with = "state_file")]
    all_stopped: bool,
    /// Delete stopped pods unused for a while: --all-stopped with --older-than 30d by default.
    #[arg(long, conflicts_with_all = ["state_file", "all_stopped"])]
    stale: bool,
    /// Only pods stopped at least this long ago (e.g. 30d; rounded up to whole days).
    #[arg(long, value_name = "AGE", value_parser = parse_days, conflicts_with = "state_file")]
    older_than: Option<u64>,
    /// Also pods rpd created that no state tracks (a lost or moved state file).
    #[arg(long, conflicts_with = "state_file")]
    untracked: bool,
    /// Also pods rpd did not create: the whole account.
    #[arg(long, conflicts_with = "state_file")]
    all: bool,
    /// Also delete (or stop) a pod holding a job no rpd collected (`rpd attach` collects it first).
    #[arg(long)]
    force: bool,
    /// Show the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes", alias = "auto-approve")]
    yes: bool,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

/// `--stale`'s age when none is given.
const STALE_DAYS: u64 = 30;

impl CleanupArgs {
    pub fn resolve(self) -> CleanupSettings {
        let target = if !self.state_file.is_empty() {
            CleanupTarget::StateFiles {
                paths: self.state_file,
                mode: match self.mode {
                    ModeArg::Delete => CleanupMode::Delete,
                    ModeArg::Stop => CleanupMode::Stop,
                    ModeArg::Preserve => CleanupMode::Preserve,
                },
            }
        } else {
            CleanupTarget::Stopped {
                older_than_days: self.older_than.or(self.stale.then_some(STALE_DAYS)),
                untracked: self.untracked,
                all: self.all,
            }
        };
        CleanupSettings {
            target,
            force: self.force,
            dry_run: self.dry_run,
            auto_approve: self.yes,
            lock: self.lock.resolve(),
        }
    }
}

#[derive(Debug, Args)]
pub struct AdviseArgs {
    /// YAML configs (runpod-deploy schema_version 2).
    #[arg(required = true, value_name = "CONFIG")]
    configs: Vec<PathBuf>,
    #[command(flatten)]
    vars: VarArgs,
    /// Print JSON instead of sentences.
    #[arg(long)]
    json: bool,
}

impl AdviseArgs {
    pub fn resolve(self) -> ReportSettings {
        ReportArgs {
            configs: self.configs,
            vars: self.vars,
            json: self.json,
            provider: ProviderArgs::default(),
        }
        .resolve()
    }
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// YAML configs (runpod-deploy schema_version 2).
    #[arg(required = true, value_name = "CONFIG")]
    configs: Vec<PathBuf>,
    #[command(flatten)]
    vars: VarArgs,
    #[command(flatten)]
    lock: LockArgs,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

impl RefreshArgs {
    pub fn resolve(self) -> RefreshSettings {
        RefreshSettings {
            configs: self.configs,
            vars: self.vars.resolve(),
            lock: self.lock.resolve(),
        }
    }
}

#[derive(Debug, Args)]
pub struct CostArgs {
    /// YAML configs (default: every config rpd has applied, from its registry).
    #[arg(value_name = "CONFIG")]
    configs: Vec<PathBuf>,
    #[command(flatten)]
    vars: VarArgs,
    /// Over this long a window, up to now (e.g. 7d, 30d; rounded up to whole days).
    #[arg(long, value_name = "AGE", default_value = "30d", value_parser = parse_days)]
    since: u64,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

impl CostArgs {
    pub fn resolve(self) -> CostSettings {
        CostSettings {
            configs: self.configs,
            vars: self.vars.resolve(),
            since_days: self.since,
            json: self.json,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_whole_days_rounded_up() {
        assert_eq!(parse_days("7d"), Ok(7));
        assert_eq!(parse_days("12h"), Ok(1));
        assert_eq!(parse_days("0"), Ok(0));
        assert!(parse_days("soon").unwrap_err().contains("examples: 7d"));
    }
}
