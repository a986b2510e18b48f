//! One module per subcommand. Here: what they share — loading configs with
//! the command line's variables, the terminal's capabilities, reading a
//! config's state; `refresh` turns (config, state, provider) into a plan.

pub mod apply;
pub mod logs;
pub mod plan;
pub mod refresh;
pub mod sim;
pub mod state;
pub mod validate;

pub use refresh::{PlanFlags, Prepared, prepare_all};

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::cli::{GlobalArgs, VarArgs};
use crate::config::{self, Config, LoadOptions, Variables};
use crate::exit::ExitStatus;
use crate::provider::SharedProvider;
use crate::render::Palette;
use crate::state::{self as statefile, Loaded, Owner};

/// What every command knows about its invocation.
pub struct Ctx {
    pub global: GlobalArgs,
    pub stdout_colour: bool,
    pub stderr_colour: bool,
    pub stdin_tty: bool,
    pub stderr_tty: bool,
}

impl Ctx {
    pub fn new(global: GlobalArgs) -> Ctx {
        let allowed = !global.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Ctx {
            stdout_colour: allowed && std::io::stdout().is_terminal(),
            stderr_colour: allowed && std::io::stderr().is_terminal(),
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
            global,
        }
    }

    pub fn stdout_palette(&self) -> Palette {
        Palette::new(self.stdout_colour)
    }

    pub fn stderr_palette(&self) -> Palette {
        Palette::new(self.stderr_colour)
    }

    pub fn provider(&self) -> anyhow::Result<SharedProvider> {
        // An empty RPD_PROVIDER means the default, not an unknown provider.
        let name = match self.global.provider.trim() {
            "" => "runpod",
            name => name,
        };
        crate::provider::from_name(name)
    }

    /// Prints an error on stderr: `error: ...` (red on a terminal).
    pub fn error(&self, err: &anyhow::Error) {
        let p = self.stderr_palette();
        crate::note!("{} {}", p.remove.apply_to("error:"), format_error(err));
    }

    pub fn warn(&self, message: &str) {
        let p = self.stderr_palette();
        crate::note!("{} {message}", p.warn.apply_to("warning:"));
    }
}

/// The error and its causes, without repeating a cause already in the text.
pub fn format_error(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
    }
    text
}

/// `--vars-file` then `--var` (later wins).
pub fn load_options(vars: &VarArgs) -> anyhow::Result<LoadOptions> {
    let mut overrides = Variables::new();
    if let Some(file) = &vars.vars_file {
        overrides.extend(config::read_vars_file(file).map_err(anyhow::Error::msg)?);
    }
    for arg in &vars.vars {
        let (key, value) = config::parse_var(arg).map_err(anyhow::Error::msg)?;
        overrides.insert(key, value);
    }
    Ok(LoadOptions {
        overrides,
        now: Some(chrono::Utc::now()),
    })
}

/// Loads every config; reports every broken one before failing.
pub fn load_configs(
    ctx: &Ctx,
    paths: &[PathBuf],
    vars: &VarArgs,
) -> Result<Vec<Config>, ExitStatus> {
    let options = match load_options(vars) {
        Ok(o) => o,
        Err(err) => {
            ctx.error(&err);
            return Err(ExitStatus::Error);
        }
    };
    let mut configs = Vec::new();
    let mut failed = false;
    for path in paths {
        match config::load(path, &options) {
            Ok(c) => {
                for warning in &c.warnings {
                    ctx.warn(&format!("{}: {warning}", path.display()));
                }
                configs.push(c);
            }
            Err(err) => {
                ctx.error(&anyhow::Error::new(err));
                failed = true;
            }
        }
    }
    let mut seen: Vec<&Path> = Vec::new();
    for c in &configs {
        if seen.contains(&c.state_file.as_path()) {
            ctx.error(&anyhow::anyhow!(
                "two configs use the same state file {}\n  = help: each config needs its own state file; set a different `state_file:` (templates like {{seed}} work) or remove the key",
                c.state_file.display()
            ));
            failed = true;
        }
        seen.push(&c.state_file);
    }
    if failed {
        Err(ExitStatus::Error)
    } else {
        Ok(configs)
    }
}

pub fn owner(config: &Config) -> Owner {
    Owner {
        config: config.canonical_path.clone(),
        job_name: config.name.clone(),
    }
}

/// Reads a config's state, refusing another config's or another provider's.
pub fn read_state(config: &Config, provider: &str) -> anyhow::Result<Option<Loaded>> {
    let Some(loaded) = statefile::read(&config.state_file)? else {
        return Ok(None);
    };
    statefile::check_owner(&config.state_file, &loaded.state, &owner(config))?;
    if let Some(other) = loaded
        .state
        .pod
        .iter()
        .chain(loaded.state.retained.iter().map(|r| &r.pod))
        .find_map(|p| {
            p.provider
                .clone()
                .filter(|p| same_world(p) != same_world(provider))
        })
    {
        bail!(
            "the state file {} tracks pods created with --provider {other}, but this run uses --provider {provider}\n  = help: pass --provider {other} (or set RPD_PROVIDER={other}), or point `state_file:` elsewhere",
            config.state_file.display()
        );
    }
    Ok(Some(loaded))
}

/// Which pods a provider sees: `runpod` and `runpodctl` both address the
/// real RunPod account; the simulator is a world of its own.
fn same_world(provider: &str) -> &str {
    match provider {
        "runpod" | "runpodctl" => "runpod",
        other => other,
    }
}
