//! Command-line arguments (clap), and their resolving into the plain
//! settings the commands read ([`Cli::resolve`]). Validation that can fail
//! and side effects happen in `commands/`.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod hygiene;

use crate::commands::settings::{
    Action, ApplySettings, AttachSettings, ColourChoice, ConfigSettings, DestroySettings,
    ForceUnlockSettings, GlobalSettings, ImportSettings, Invocation, LockSettings, LogsSettings,
    OutputFormat, PlanFlags, PlanSettings, ReassignSettings, SimAction, ValidateSettings,
    VarSettings,
};

const EXIT_CODES: &str = "Exit codes:
  0    success; for `plan --detailed-exitcode`: no changes
  1    error; the state file records whatever was done before it (see `rpd plan`)
  2    `plan --detailed-exitcode`: applying would change a pod or run the job
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
    /// Control plane: `runpod` (REST v2), `runpodctl`, or `sim` (embedded simulator, no account).
    #[arg(
        long,
        global = true,
        env = "RPD_PROVIDER",
        default_value = "runpod",
        value_name = "NAME"
    )]
    pub provider: String,

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would do to each config's pod, and why.
    Plan {
        /// YAML configs (runpod-deploy schema_version 2).
        #[arg(required = true, value_name = "CONFIG")]
        configs: Vec<PathBuf>,
        #[command(flatten)]
        vars: VarArgs,
        /// Plan a fresh pod even if the current one could be reused.
        #[arg(long)]
        replace: bool,
        /// Also try each candidate on this cloud, and accept a pod on it.
        #[arg(long, value_enum, value_name = "CLOUD")]
        fallback_cloud_type: Option<CloudArg>,
        #[command(flatten)]
        money: MoneyArgs,
        /// Exit 0 with no changes, 2 when applying would change a pod or run the job, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Carry out the plan: get a pod ready, run the job, then stop, recycle or delete the pod.
    Apply {
        /// YAML configs (runpod-deploy schema_version 2).
        #[arg(required = true, value_name = "CONFIG")]
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
        /// Return once the job is launched; the on-pod guard enforces the budget, `rpd attach` collects it.
        #[arg(long)]
        detach: bool,
        #[command(flatten)]
        lock: LockArgs,
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
    },
    /// Delete every pod rpd tracks for each config and remove its state.
    Destroy {
        /// YAML configs (runpod-deploy schema_version 2).
        #[arg(required = true, value_name = "CONFIG")]
        configs: Vec<PathBuf>,
        #[command(flatten)]
        vars: VarArgs,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long = "auto-approve", alias = "yes")]
        auto_approve: bool,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Show the job log of the config's pod (or the last one pulled).
    Logs {
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
    },
    /// Check configs without contacting any provider.
    Validate {
        /// YAML configs (runpod-deploy schema_version 2).
        #[arg(required = true, value_name = "CONFIG")]
        configs: Vec<PathBuf>,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Release a config's state lock left by a run that is gone.
    ForceUnlock {
        /// The ID shown in the "Lock Info" block.
        lock_id: String,
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
    /// The runs of each config, from the manifests in its run directories.
    Runs(hygiene::ReportArgs),
    /// What each config's pods cost: RunPod's billing with --provider runpod, else an estimate.
    Cost(hygiene::CostArgs),
    /// Whether recycling pays for each config: time a warm start saves against storage while paused.
    Advise(hygiene::AdviseArgs),
    /// Record in the state what changed outside rpd (stopped, deleted, edited in the console); act on nothing.
    Refresh(hygiene::RefreshArgs),
    /// Adopt an existing pod (made in the console, or untracked) as the config's pod, and show the plan for it.
    Import {
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        /// The pod to adopt.
        pod_id: String,
        #[command(flatten)]
        vars: VarArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Drive the embedded simulator (`--provider sim`): inspect it, inject faults.
    #[command(subcommand)]
    Sim(SimCommand),
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print the state file of a config.
    Show {
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
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// List simulated pods.
    Pods {
        #[arg(long)]
        json: bool,
    },
    /// Count provider calls by verb (create, start, stop, delete, get, list, ...).
    Calls {
        #[arg(long)]
        json: bool,
        /// Set the counts back to zero.
        #[arg(long)]
        reset: bool,
    },
    /// Stop a pod as if from the RunPod console.
    Stop { pod_id: String },
    /// Start a pod as if from the RunPod console.
    Start { pod_id: String },
    /// Delete a pod as if from the RunPod console.
    Terminate { pod_id: String },
    /// Change a pod as if from the console: image, name, changed_at, gpu_id, gpu_count, datacenter_id, cloud_type, container_disk_gb, status.
    Set {
        pod_id: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        changes: Vec<String>,
    },
    /// Set the free GPUs of one type in one datacenter (0 = out of stock).
    Stock {
        datacenter: String,
        gpu: String,
        count: u32,
        /// The cloud whose stock this is.
        #[arg(long, value_enum, default_value = "SECURE")]
        cloud: CloudArg,
    },
    /// Make the next start of this pod fail: its host has no free GPU.
    FailNextStart {
        pod_id: String,
        /// Fail this many starts in a row (a host whose GPU stays taken).
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Make the next COUNT stop requests for this pod fail (a 502), as if
    /// RunPod had a bad moment.
    FailStop { pod_id: String, count: u32 },
    /// Add this many milliseconds to every provider call.
    Latency { ms: u64 },
    /// How long pods take to boot: cold (create) and warm (resume), in milliseconds.
    Boot { cold_ms: u64, warm_ms: u64 },
    /// Create a network volume in a datacenter.
    Volume {
        name: String,
        datacenter: String,
        size_gb: u32,
    },
    /// Reach running pods over SSH at HOST:PORT instead of local processes
    /// (to exercise the SSH transport against a real sshd); `--off` undoes it.
    Ssh {
        #[arg(value_name = "HOST:PORT", required_unless_present = "off")]
        endpoint: Option<String>,
        /// Login user on that sshd.
        #[arg(long, default_value = "root")]
        user: String,
        #[arg(long, conflicts_with = "endpoint")]
        off: bool,
    },
    /// Delete every simulated pod, volume and setting.
    Reset,
}

impl Cli {
    /// The settings this command line asks for (`NO_COLOR` read from the
    /// environment; clap has read `RPD_PROVIDER`).
    pub fn resolve(self) -> Invocation {
        self.resolve_with(std::env::var_os("NO_COLOR").as_deref())
    }

    fn resolve_with(self, no_color_env: Option<&OsStr>) -> Invocation {
        Invocation {
            global: self.global.resolve(no_color_env),
            action: self.command.resolve(),
        }
    }
}

impl GlobalArgs {
    fn resolve(self, no_color_env: Option<&OsStr>) -> GlobalSettings {
        // An empty RPD_PROVIDER means the default, not an unknown provider.
        let provider = match self.provider.trim() {
            "" => "runpod",
            name => name,
        };
        // NO_COLOR counts when set to anything but the empty string.
        let no_color = self.no_color || no_color_env.is_some_and(|v| !v.is_empty());
        GlobalSettings {
            provider: provider.to_string(),
            colour: if no_color {
                ColourChoice::Never
            } else {
                ColourChoice::OnTerminals
            },
        }
    }
}

impl VarArgs {
    fn resolve(self) -> VarSettings {
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

impl From<Format> for OutputFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Text => OutputFormat::Text,
            Format::Json => OutputFormat::Json,
        }
    }
}

fn plan_flags(replace: bool, fallback_cloud_type: Option<CloudArg>, money: MoneyArgs) -> PlanFlags {
    PlanFlags {
        replace,
        fallback_cloud: fallback_cloud_type.map(Into::into),
        on_busy_host: money.on_busy_host.map(Into::into),
        replace_without_stock: money.replace_without_stock,
        busy_host_wait: None,
    }
}

fn one_config(config: PathBuf, vars: VarArgs) -> ConfigSettings {
    ConfigSettings {
        config,
        vars: vars.resolve(),
    }
}

impl Command {
    fn resolve(self) -> Action {
        match self {
            Command::Plan {
                configs,
                vars,
                replace,
                fallback_cloud_type,
                money,
                detailed_exitcode,
                format,
            } => Action::Plan(PlanSettings {
                configs,
                vars: vars.resolve(),
                flags: plan_flags(replace, fallback_cloud_type, money),
                detailed_exitcode,
                format: format.into(),
            }),
            Command::Apply {
                configs,
                vars,
                replace,
                fallback_cloud_type,
                money,
                auto_approve,
                detach,
                lock,
            } => Action::Apply(ApplySettings {
                configs,
                vars: vars.resolve(),
                flags: plan_flags(replace, fallback_cloud_type, money),
                auto_approve,
                detach,
                lock: lock.resolve(),
            }),
            Command::Attach {
                configs,
                vars,
                lock,
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
            Command::Runs(args) => Action::Runs(args.resolve()),
            Command::Cost(args) => Action::Cost(args.resolve()),
            Command::Advise(args) => Action::Advise(args.resolve()),
            Command::Refresh(args) => Action::Refresh(args.resolve()),
            Command::Import {
                config,
                pod_id,
                vars,
                lock,
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

impl SimCommand {
    fn resolve(self) -> SimAction {
        match self {
            SimCommand::Pods { json } => SimAction::Pods { json },
            SimCommand::Calls { json, reset } => SimAction::Calls { json, reset },
            SimCommand::Stop { pod_id } => SimAction::Stop { pod_id },
            SimCommand::Start { pod_id } => SimAction::Start { pod_id },
            SimCommand::Terminate { pod_id } => SimAction::Terminate { pod_id },
            SimCommand::Set { pod_id, changes } => SimAction::Set { pod_id, changes },
            SimCommand::Stock {
                datacenter,
                gpu,
                count,
                cloud,
            } => SimAction::Stock {
                datacenter,
                gpu,
                count,
                cloud: cloud.into(),
            },
            SimCommand::FailNextStart { pod_id, count } => {
                SimAction::FailNextStart { pod_id, count }
            }
            SimCommand::FailStop { pod_id, count } => SimAction::FailStop { pod_id, count },
            SimCommand::Latency { ms } => SimAction::Latency { ms },
            SimCommand::Boot { cold_ms, warm_ms } => SimAction::Boot { cold_ms, warm_ms },
            SimCommand::Volume {
                name,
                datacenter,
                size_gb,
            } => SimAction::Volume {
                name,
                datacenter,
                size_gb,
            },
            SimCommand::Ssh {
                endpoint,
                user,
                off,
            } => SimAction::Ssh {
                endpoint: endpoint.filter(|_| !off),
                user,
            },
            SimCommand::Reset => SimAction::Reset,
        }
    }
}

#[cfg(test)]
mod tests;
