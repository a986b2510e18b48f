//! The arguments of the commands that review changes (`plan`, `show`,
//! `diff`) and of the editor and shell support (`schema`, `completions`),
//! and `--provider` for the commands that talk to one.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{CloudArg, MoneyArgs, VarArgs, plan_flags};
use crate::commands::settings::{
    Action, DiffSettings, OutputFormat, PlanSettings, SchemaKind, ShowSettings,
};

/// `--provider`, on the commands that call one. Without a default here, so
/// that usage lines never show it as required; `runpod` is the default
/// when neither the flag nor `RPD_PROVIDER` says otherwise.
#[derive(Debug, Args, Clone, Default)]
pub struct ProviderArgs {
    /// Control plane: `runpod` (REST v2, the default), `runpodctl`, or `sim` (embedded simulator, no account); default: the RPD_PROVIDER environment variable, else `runpod`.
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Terraform-style text, for people.
    Text,
    /// Versioned JSON (format_version 3.0, schemas/plan.schema.json), for tools.
    Json,
    /// A pull-request comment: summary, warnings, steps, the full plan folded.
    Markdown,
}

impl From<Format> for OutputFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Text => OutputFormat::Text,
            Format::Json => OutputFormat::Json,
            Format::Markdown => OutputFormat::Markdown,
        }
    }
}

const DETAILED_EXITCODE: &str = "Exit 0 when pods change only by the routine run (resume or reuse the pod, run the job, then its lifecycle), \
2 when they change beyond it (a pod is created, updated in place, replaced or deleted, or was changed outside rpd), 1 on error";

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// YAML configs (runpod-deploy schema_version 2), or directories of them.
    #[arg(required = true, value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Plan a fresh pod even if the current one could be reused.
    #[arg(long)]
    pub replace: bool,
    /// Also try each candidate on this cloud, and accept a pod on it.
    #[arg(long, value_enum, value_name = "CLOUD")]
    pub fallback_cloud_type: Option<CloudArg>,
    #[command(flatten)]
    pub money: MoneyArgs,
    #[arg(long, help = DETAILED_EXITCODE)]
    pub detailed_exitcode: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Save the plan to FILE; `rpd apply FILE` carries out exactly it (and refuses once the config, state or pod changed).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub provider: ProviderArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved with `rpd plan -o FILE` (or the output of `rpd plan --format json`).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The config as it was (`-` reads it from standard input, e.g. `git show main:foo.yaml | rpd diff - foo.yaml`); an empty file (`/dev/null`) for a new config.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The config as it is now (`-` for standard input).
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[arg(long, help = DETAILED_EXITCODE)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaArg {
    /// The config format (for yaml-language-server: completion and hover docs in editors).
    Config,
    /// `rpd plan --format json` and saved plans.
    Plan,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which schema to print.
    #[arg(value_enum, value_name = "WHAT")]
    pub what: SchemaArg,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

impl PlanArgs {
    pub(super) fn resolve(self) -> Action {
        Action::Plan(PlanSettings {
            configs: self.configs,
            vars: self.vars.resolve(),
            flags: plan_flags(self.replace, self.fallback_cloud_type, self.money),
            detailed_exitcode: self.detailed_exitcode,
            format: self.format.into(),
            out: self.out,
        })
    }
}

impl ShowArgs {
    pub(super) fn resolve(self) -> Action {
        Action::Show(ShowSettings {
            plan: self.plan,
            format: self.format.into(),
        })
    }
}

impl DiffArgs {
    pub(super) fn resolve(self) -> Action {
        Action::Diff(DiffSettings {
            old: self.old,
            new: self.new,
            vars: self.vars.resolve(),
            format: self.format.into(),
            detailed_exitcode: self.detailed_exitcode,
        })
    }
}

impl SchemaArgs {
    pub(super) fn resolve(self) -> Action {
        Action::Schema(match self.what {
            SchemaArg::Config => SchemaKind::Config,
            SchemaArg::Plan => SchemaKind::Plan,
        })
    }
}
