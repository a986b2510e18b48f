//! Command-line arguments (clap), and their resolving into the plain
//! settings the commands read ([`Cli::resolve`]). Validation that can fail
//! and side effects happen in `commands/`.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

mod review;
mod sim;
pub use review::{CompletionsArgs, DiffArgs, Format, PlanArgs, ProviderArgs, SchemaArgs, ShowArgs};
pub use sim::SimCommand;

mod hygiene;

use crate::commands::settings::{
    Action, ApplySettings, AttachSettings, ColourChoice, ConfigSettings, DestroySettings,
    ForceUnlockSettings, GlobalSettings, ImportSettings, Invocation, LockSettings, LogsSettings,
    PlanFlags, ReassignSettings, ValidateSettings, VarSettings,
};

const EXIT_CODES: &str = "Exit codes:
  0    success; for `plan`/`diff --detailed-exitcode`: nothing beyond the routine run
  1    error; the state file records whatever was done before it (see `rpd plan`)
  2    `plan`/`diff --detailed-exitcode`: pods change beyond the routine run (a pod is
       created, updated in place, replaced or deleted, or was changed outside rpd);
       resuming or reusing an up-to-date pod, running the job and its lifecycle is 0
  3    `apply`: the job ran and failed; its on_failure action was carried out
  130  interrupted (Ctrl-C); the state is consistent";

#[derive(Debug, Parser)]
#[command(
    name = "rpd",
    version,
    about = "Plan and apply RunPod GPU pods from YAML, Terraform style",
    long_about = "rpd manages one RunPod GPU workload per YAML config (runpod-deploy's schema_version 2): \
`rpd plan` shows what it would do and why, `rpd apply` does it, runs the job, then stops, \
recycles or deletes the pod as the config says.",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Control plane for the commands that use one (plan, apply, destroy, logs); each of
    /// them documents it, so the flag before the command is hidden here.
    #[arg(long, value_name = "NAME", hide = true)]
    pub provider: Option<String>,

    /// No colour in the output (also: the NO_COLOR environment variable, or output that is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct VarArgs {
    /// Set a template variable (repeatable); overrides `variables:` and --vars-file.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,

    /// A JSON object of template variables.
    #[arg(long, value_name = "FILE")]
    pub vars_file: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct LockArgs {
    /// How long to wait for another rpd holding this config's lock (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|e| format!("{e} (examples: 30s, 5m, 1h)"))
}

/// A RunPod cloud, on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum CloudArg {
    Secure,
    Community,
}

impl From<CloudArg> for crate::model::CloudType {
    fn from(cloud: CloudArg) -> Self {
        match cloud {
            CloudArg::Secure => crate::model::CloudType::Secure,
            CloudArg::Community => crate::model::CloudType::Community,
        }
    }
}

/// What a resume does when the paused pod's host has no free GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BusyHostArg {
    /// Try the start again for a while (RPD_BUSY_HOST_WAIT, 2m), then replace the pod if a candidate has stock, else keep it.
    Wait,
    /// Replace the pod at once (its volume is lost) if a candidate has stock, else keep it.
    Recreate,
    /// Keep the paused pod and stop (exit 1).
    Fail,
}

impl From<BusyHostArg> for crate::model::BusyHostPolicy {
    fn from(arg: BusyHostArg) -> Self {
        match arg {
            BusyHostArg::Wait => crate::model::BusyHostPolicy::Wait,
            BusyHostArg::Recreate => crate::model::BusyHostPolicy::Recreate,
            BusyHostArg::Fail => crate::model::BusyHostPolicy::Fail,
        }
    }
}

/// The options that decide when a pod may be deleted to be replaced.
#[derive(Debug, Clone, Copy, Args)]
pub struct MoneyArgs {
    /// When a paused pod's host has no free GPU (default: the config's lifecycle.on_busy_host, else wait).
    #[arg(long, value_enum, value_name = "POLICY")]
    on_busy_host: Option<BusyHostArg>,
    /// Delete a pod to replace it even when no candidate has stock (its volume is lost).
    #[arg(long)]
    replace_without_stock: bool,
    /// How long a pod this run created may have only RunPod's SSH proxy (no direct SSH, as on COMMUNITY machines without a public IP) before it is deleted and the next candidate tried.
    #[arg(
        long,
        value_name = "DURATION",
        env = "RPD_DIRECT_SSH_GRACE",
        default_value = "60s",
        value_parser = parse_duration
    )]
    direct_ssh_grace: Duration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would do to each config's pod, and why.
    Plan(PlanArgs),
    /// Render a saved plan (`rpd plan -o FILE`) as text, JSON or Markdown.
    Show(ShowArgs),
    /// What changing a config from OLD to NEW does to its pod; needs no account and no state.
    Diff(DiffArgs),
    /// Carry out the plan: get a pod ready, run the job, then stop, recycle or delete the pod.
    Apply {
        /// YAML configs (runpod-deploy schema_version 2) or directories of them; or one plan saved with `rpd plan -o FILE`, carried out exactly as planned, without asking.
        #[arg(required = true, value_name = "CONFIG|PLAN")]
        configs: Vec<PathBuf>,
        #[command(flatten)]
        vars: VarArgs,
        /// Delete the current pod and create a fresh one.
        #[arg(long)]
        replace: bool,
        /// Also try each candidate on this cloud, and accept a pod on it.
        #[arg(long, value_enum, value_name = "CLOUD")]
        fallback_cloud_type: Option<CloudArg>,
        #[command(flatten)]
        money: MoneyArgs,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long = "auto-approve", alias = "yes")]
        auto_approve: bool,
        /// Print the plan and every step's progress as JSON lines (NDJSON) on stdout; needs -y or a saved plan.
        #[arg(long)]
        json: bool,
        /// Return once the job is launched; the on-pod guard enforces the budget, `rpd attach` collects it.
        #[arg(long)]
        detach: bool,
        #[command(flatten)]
        lock: LockArgs,
        #[command(flatten)]
        provider: ProviderArgs,
    },
    /// Follow (or collect) the job a detached or interrupted apply left on the pod, then carry out the lifecycle.
    Attach {
        /// YAML configs (runpod-deploy schema_version 2).
        #[arg(required = true, value_name = "CONFIG")]
        configs: Vec<PathBuf>,
        #[command(flatten)]
        vars: VarArgs,
        #[command(flatten)]
        lock: LockArgs,
        #[command(flatten)]
        provider: ProviderArgs,
    },
    /// Delete every pod rpd tracks for each config and remove its state.
    Destroy {
        /// YAML configs (runpod-deploy schema_version 2) or directories of them.
        #[arg(required = true, value_name = "CONFIG")]
        configs: Vec<PathBuf>,
        #[command(flatten)]
        vars: VarArgs,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long = "auto-approve", alias = "yes")]
        auto_approve: bool,
        #[command(flatten)]
        lock: LockArgs,
        #[command(flatten)]
        provider: ProviderArgs,
    },
    /// Show the job log of the config's pod (or the last one pulled).
    Logs {
        /// The YAML config whose job log to show.
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
        /// Keep following the log as it grows.
        #[arg(short, long)]
        follow: bool,
        /// How many lines from the end to show first.
        #[arg(short = 'n', long, default_value_t = 200)]
        lines: u32,
        #[command(flatten)]
        provider: ProviderArgs,
    },
    /// Check configs without contacting any provider.
    Validate {
        /// YAML configs (runpod-deploy schema_version 2) or directories of them.
        #[arg(required = true, value_name = "CONFIG")]
        configs: Vec<PathBuf>,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Release a config's state lock left by a run that is gone.
    ForceUnlock {
        /// The ID shown in the "Lock Info" block.
        lock_id: String,
        /// The YAML config whose lock to release.
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Inspect or repair a config's state file.
    #[command(subcommand)]
    State(StateCommand),
    /// Every pod rpd tracks, across configs: status, cost now, lifecycle, last run.
    Status(hygiene::ReportArgs),
    /// Stopped pods and what their volumes bill while they wait (rpd's, or --all).
    LsStale(hygiene::LsStaleArgs),
    /// Delete or stop pods: those a state file tracks, or stopped ones (shows a plan, asks).
    Cleanup(hygiene::CleanupArgs),
    /// The runs of each config, from the manifests in its run directories; `runs show RUN`: one run, its findings and a chart.
    Runs(hygiene::RunsArgs),
    /// What each config's pods cost: RunPod's billing with --provider runpod, else an estimate.
    Cost(hygiene::CostArgs),
    /// Whether recycling pays for each config: time a warm start saves against storage while paused.
    Advise(hygiene::AdviseArgs),
    /// Record in the state what changed outside rpd (stopped, deleted, edited in the console); act on nothing.
    Refresh(hygiene::RefreshArgs),
    /// Adopt an existing pod (made in the console, or untracked) as the config's pod, and show the plan for it.
    Import {
        /// The YAML config whose pod the adopted one becomes.
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        /// The pod to adopt.
        pod_id: String,
        #[command(flatten)]
        vars: VarArgs,
        #[command(flatten)]
        lock: LockArgs,
        #[command(flatten)]
        provider: ProviderArgs,
    },
    /// Drive the embedded simulator (`--provider sim`): inspect it, inject faults.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Print a JSON Schema: of the config format (for editors), or of the JSON plan.
    Schema(SchemaArgs),
    /// Print a shell completion script (e.g. `rpd completions bash > ~/.local/share/bash-completion/completions/rpd`).
    Completions(CompletionsArgs),
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print the state file of a config.
    Show {
        /// The YAML config whose state to print.
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Forget a pod without touching it (it keeps billing; `rpd ls-stale` shows it as untracked).
    Rm {
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        /// The pod to forget (default: the config's current pod).
        pod_id: Option<String>,
        #[command(flatten)]
        vars: VarArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Make this config the owner of its state file (after moving or renaming the config).
    Reassign {
        /// The YAML config that takes the state file over.
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
}

impl Cli {
    /// The settings this command line asks for, with `NO_COLOR` and
    /// `RPD_PROVIDER` read from the environment. rpd reads `RPD_PROVIDER`
    /// itself rather than through clap's `env`: clap counts a flag set by
    /// its variable as given, and prints it in usage lines as if required.
    pub fn resolve(self) -> Invocation {
        let provider_env = std::env::var(crate::env::PROVIDER).ok();
        self.resolve_with(
            std::env::var_os("NO_COLOR").as_deref(),
            provider_env.as_deref(),
        )
    }

    fn resolve_with(self, no_color_env: Option<&OsStr>, provider_env: Option<&str>) -> Invocation {
        let provider = self
            .command
            .provider()
            .or(self.global.provider.clone())
            .or(provider_env.map(str::to_string));
        Invocation {
            global: self.global.resolve(provider, no_color_env),
            action: self.command.resolve(),
        }
    }

    /// Prints the completion script for `shell` on stdout.
    pub fn print_completions(shell: clap_complete::Shell) {
        let mut command = Cli::command();
        clap_complete::generate(shell, &mut command, "rpd", &mut std::io::stdout());
    }
}

impl GlobalArgs {
    fn resolve(self, provider: Option<String>, no_color_env: Option<&OsStr>) -> GlobalSettings {
        // An empty RPD_PROVIDER means the default, not an unknown provider.
        let given = provider
            .as_deref()
            .map(str::trim)
            .is_some_and(|p| !p.is_empty());
        let provider = match provider.as_deref().map(str::trim) {
            None | Some("") => "runpod",
            Some(name) => name,
        };
        // NO_COLOR counts when set to anything but the empty string.
        let no_color = self.no_color || no_color_env.is_some_and(|v| !v.is_empty());
        GlobalSettings {
            provider: provider.to_string(),
            provider_given: given,
            colour: if no_color {
                ColourChoice::Never
            } else {
                ColourChoice::OnTerminals
            },
        }
    }
}

impl VarArgs {
    pub(crate) fn resolve(self) -> VarSettings {
        VarSettings {
            assignments: self.vars,
            vars_file: self.vars_file,
        }
    }
}

impl LockArgs {
    fn resolve(self) -> LockSettings {
        LockSettings {
            timeout: self.lock_timeout,
        }
    }
}

pub(crate) fn plan_flags(
    replace: bool,
    fallback_cloud_type: Option<CloudArg>,
    money: MoneyArgs,
) -> PlanFlags {
    PlanFlags {
        replace,
        fallback_cloud: fallback_cloud_type.map(Into::into),
        on_busy_host: money.on_busy_host.map(Into::into),
        replace_without_stock: money.replace_without_stock,
        busy_host_wait: None,
        direct_ssh_grace: money.direct_ssh_grace,
    }
}

fn one_config(config: PathBuf, vars: VarArgs) -> ConfigSettings {
    ConfigSettings {
        config,
        vars: vars.resolve(),
    }
}

impl Command {
    /// `--provider` (or RPD_PROVIDER) as given after the command.
    fn provider(&self) -> Option<String> {
        match self {
            Command::Plan(args) => args.provider.provider.clone(),
            Command::Apply { provider, .. }
            | Command::Destroy { provider, .. }
            | Command::Logs { provider, .. }
            | Command::Import { provider, .. } => provider.provider.clone(),
            Command::Status(args) => args.provider.provider.clone(),
            Command::Runs(args) => args.report.provider.provider.clone(),
            Command::LsStale(args) => args.provider.provider.clone(),
            Command::Cleanup(args) => args.provider.provider.clone(),
            Command::Refresh(args) => args.provider.provider.clone(),
            Command::Cost(args) => args.provider.provider.clone(),
            _ => None,
        }
    }

    fn resolve(self) -> Action {
        match self {
            Command::Plan(args) => args.resolve(),
            Command::Show(args) => args.resolve(),
            Command::Diff(args) => args.resolve(),
            Command::Schema(args) => args.resolve(),
            Command::Completions(args) => Action::Completions(args.shell.to_string()),
            Command::Apply {
                configs,
                vars,
                replace,
                fallback_cloud_type,
                money,
                auto_approve,
                json,
                detach,
                lock,
                provider: _,
            } => Action::Apply(ApplySettings {
                configs,
                vars: vars.resolve(),
                flags: plan_flags(replace, fallback_cloud_type, money),
                auto_approve,
                json,
                detach,
                lock: lock.resolve(),
            }),
            Command::Attach {
                configs,
                vars,
                lock,
                provider: _,
            } => Action::Attach(AttachSettings {
                configs,
                vars: vars.resolve(),
                lock: lock.resolve(),
            }),
            Command::Destroy {
                configs,
                vars,
                auto_approve,
                lock,
                provider: _,
            } => Action::Destroy(DestroySettings {
                configs,
                vars: vars.resolve(),
                auto_approve,
                lock: lock.resolve(),
            }),
            Command::Validate { configs, vars } => Action::Validate(ValidateSettings {
                configs,
                vars: vars.resolve(),
            }),
            Command::Logs {
                config,
                vars,
                follow,
                lines,
                provider: _,
            } => Action::Logs(LogsSettings {
                target: one_config(config, vars),
                follow,
                lines,
            }),
            Command::ForceUnlock {
                lock_id,
                config,
                vars,
            } => Action::ForceUnlock(ForceUnlockSettings {
                lock_id,
                target: one_config(config, vars),
            }),
            Command::State(StateCommand::Show { config, vars }) => {
                Action::ShowState(one_config(config, vars))
            }
            Command::State(StateCommand::Reassign { config, vars, lock }) => {
                Action::ReassignState(ReassignSettings {
                    target: one_config(config, vars),
                    lock: lock.resolve(),
                })
            }
            Command::Sim(command) => Action::Sim(command.resolve()),
            Command::Status(args) => Action::Status(args.resolve()),
            Command::LsStale(args) => Action::LsStale(args.resolve()),
            Command::Cleanup(args) => Action::Cleanup(args.resolve()),
            Command::Runs(args) => args.resolve(),
            Command::Cost(args) => Action::Cost(args.resolve()),
            Command::Advise(args) => Action::Advise(args.resolve()),
            Command::Refresh(args) => Action::Refresh(args.resolve()),
            Command::Import {
                config,
                pod_id,
                vars,
                lock,
                provider: _,
            } => Action::Import(ImportSettings {
                target: one_config(config, vars),
                pod_id: Some(pod_id),
                lock: lock.resolve(),
            }),
            Command::State(StateCommand::Rm {
                config,
                pod_id,
                vars,
                lock,
            }) => Action::ForgetPod(ImportSettings {
                target: one_config(config, vars),
                pod_id,
                lock: lock.resolve(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
