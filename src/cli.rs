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

use crate::commands::settings::{
    Action, ApplySettings, ColourChoice, ConfigSettings, DestroySettings, ForceUnlockSettings,
    GlobalSettings, Invocation, LockSettings, LogsSettings, PlanFlags, ReassignSettings,
    ValidateSettings, VarSettings,
};

const EXIT_CODES: &str = "Exit codes:
  0    success; for `plan`/`diff --detailed-exitcode`: nothing beyond the routine run
  1    error; the state file records whatever was done before it (see `rpd plan`)
  2    `plan`/`diff --detailed-exitcode`: pods change beyond the routine run (a pod is
       created, replaced or deleted, or was changed outside rpd); resuming or reusing
       an up-to-date pod, running the job and its lifecycle is 0
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
        let provider = match provider.as_deref().map(str::trim) {
            None | Some("") => "runpod",
            Some(name) => name,
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
            | Command::Logs { provider, .. } => provider.provider.clone(),
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
                lock,
                provider: _,
            } => Action::Apply(ApplySettings {
                configs,
                vars: vars.resolve(),
                flags: plan_flags(replace, fallback_cloud_type, money),
                auto_approve,
                json,
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::settings::SimAction;
    use crate::model::CloudType;

    fn resolve(args: &[&str], no_color_env: Option<&str>) -> Invocation {
        resolve_env(args, no_color_env, None)
    }

    fn resolve_env(
        args: &[&str],
        no_color_env: Option<&str>,
        provider_env: Option<&str>,
    ) -> Invocation {
        let cli = Cli::try_parse_from(std::iter::once("rpd").chain(args.iter().copied()))
            .expect("arguments parse");
        cli.resolve_with(no_color_env.map(OsStr::new), provider_env)
    }

    #[test]
    fn the_provider_flag_wins_over_rpd_provider_after_or_before_the_command() {
        let provider = |args: &[&str], env| resolve_env(args, None, env).global.provider;
        assert_eq!(provider(&["plan", "a.yaml"], Some("sim")), "sim");
        assert_eq!(provider(&["plan", "a.yaml"], None), "runpod");
        assert_eq!(
            provider(&["plan", "a.yaml", "--provider", "runpodctl"], Some("sim")),
            "runpodctl"
        );
        assert_eq!(
            provider(&["--provider", "runpodctl", "plan", "a.yaml"], Some("sim")),
            "runpodctl"
        );
    }

    #[test]
    fn a_fallback_cloud_maps_to_the_models_cloud_type() {
        let invocation = resolve(
            &[
                "--provider",
                "sim",
                "apply",
                "a.yaml",
                "--fallback-cloud-type",
                "COMMUNITY",
                "--replace",
                "--lock-timeout",
                "5m",
                "--on-busy-host",
                "recreate",
                "--replace-without-stock",
            ],
            None,
        );
        let Action::Apply(apply) = invocation.action else {
            panic!("not an apply: {:?}", invocation.action);
        };
        assert_eq!(
            apply.flags,
            PlanFlags {
                replace: true,
                fallback_cloud: Some(CloudType::Community),
                on_busy_host: Some(crate::model::BusyHostPolicy::Recreate),
                replace_without_stock: true,
                busy_host_wait: None,
            }
        );
        assert_eq!(apply.lock.timeout, Duration::from_secs(300));
        assert!(!apply.auto_approve);
    }

    #[test]
    fn destroy_plans_with_no_flags_and_plan_maps_its_format() {
        let destroy = resolve(&["--provider", "sim", "destroy", "-y", "a.yaml"], None);
        assert_eq!(
            destroy.action,
            Action::Destroy(DestroySettings {
                configs: vec![PathBuf::from("a.yaml")],
                vars: VarSettings::default(),
                auto_approve: true,
                lock: LockSettings {
                    timeout: Duration::ZERO
                },
            })
        );
        let plan = resolve(
            &["--provider", "sim", "plan", "a.yaml", "--format", "json"],
            None,
        );
        let Action::Plan(plan) = plan.action else {
            panic!("not a plan");
        };
        assert_eq!(plan.format, crate::commands::settings::OutputFormat::Json);
        assert_eq!(plan.flags, PlanFlags::default());
    }

    #[test]
    fn an_empty_provider_means_the_default_and_spaces_are_trimmed() {
        let empty = resolve(&["--provider", "", "validate", "a.yaml"], None);
        assert_eq!(empty.global.provider, "runpod");
        let spaced = resolve(&["--provider", " sim ", "validate", "a.yaml"], None);
        assert_eq!(spaced.global.provider, "sim");
        // An unknown name is kept, for the command to refuse with its help.
        let unknown = resolve(&["--provider", "nope", "validate", "a.yaml"], None);
        assert_eq!(unknown.global.provider, "nope");
    }

    #[test]
    fn no_color_flag_or_a_non_empty_no_color_variable_turn_colour_off() {
        let colour = |args: &[&str], env| resolve(args, env).global.colour;
        let args = ["--provider", "sim", "validate", "a.yaml"];
        assert_eq!(colour(&args, None), ColourChoice::OnTerminals);
        assert_eq!(colour(&args, Some("")), ColourChoice::OnTerminals);
        assert_eq!(colour(&args, Some("1")), ColourChoice::Never);
        let flagged = ["--provider", "sim", "validate", "a.yaml", "--no-color"];
        assert_eq!(colour(&flagged, None), ColourChoice::Never);
        assert!(!ColourChoice::Never.for_stream(true));
        assert!(ColourChoice::OnTerminals.for_stream(true));
        assert!(!ColourChoice::OnTerminals.for_stream(false));
    }

    #[test]
    fn vars_are_kept_in_order_with_their_file() {
        let invocation = resolve(
            &[
                "--provider",
                "sim",
                "state",
                "show",
                "a.yaml",
                "--var",
                "x=1",
                "--vars-file",
                "v.json",
                "--var",
                "x=2",
            ],
            None,
        );
        assert_eq!(
            invocation.action,
            Action::ShowState(ConfigSettings {
                config: PathBuf::from("a.yaml"),
                vars: VarSettings {
                    assignments: vec!["x=1".into(), "x=2".into()],
                    vars_file: Some(PathBuf::from("v.json")),
                },
            })
        );
    }

    #[test]
    fn sim_ssh_off_drops_the_endpoint_and_stock_maps_its_cloud() {
        let off = resolve(&["sim", "ssh", "--off"], None);
        assert_eq!(
            off.action,
            Action::Sim(SimAction::Ssh {
                endpoint: None,
                user: "root".into()
            })
        );
        let on = resolve(&["sim", "ssh", "127.0.0.1:2222", "--user", "me"], None);
        assert_eq!(
            on.action,
            Action::Sim(SimAction::Ssh {
                endpoint: Some("127.0.0.1:2222".into()),
                user: "me".into()
            })
        );
        let stock = resolve(
            &[
                "sim",
                "stock",
                "EU-RO-1",
                "gpu",
                "3",
                "--cloud",
                "COMMUNITY",
            ],
            None,
        );
        assert_eq!(
            stock.action,
            Action::Sim(SimAction::Stock {
                datacenter: "EU-RO-1".into(),
                gpu: "gpu".into(),
                count: 3,
                cloud: CloudType::Community,
            })
        );
    }
}
