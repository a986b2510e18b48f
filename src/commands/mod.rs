//! One module per subcommand, and [`run`], which dispatches an
//! [`Invocation`](settings::Invocation)'s action to one. Here: what they share —
//! the terminal's capabilities and the one place errors and warnings are
//! printed, loading configs with the command line's variables, reading a
//! config's state; `refresh` turns (config, state, provider) into a plan.

pub mod adopt;
pub mod apply;
mod apply_saved;
pub mod cleanup;
pub mod cost;
pub mod diff;
mod execute;
pub mod inventory;
pub mod logs;
mod ndjson;
pub mod plan;
mod plan_out;
pub mod refresh;
pub mod refresh_only;
pub mod register;
pub mod runs;
pub mod schema;
pub mod settings;
pub mod show;
pub mod sim;
pub mod state;
pub mod status;
pub mod validate;

pub use refresh::{Prepared, prepare_all};
pub use settings::PlanFlags;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::config::{self, Config, LoadOptions, Variables};
use crate::exit::ExitStatus;
use crate::provider::SharedProvider;
use crate::render::Palette;
use crate::state::{self as statefile, Loaded, Owner};
use settings::{Action, ConfigSettings, GlobalSettings, VarSettings};

/// Runs one command. An error it returns is the caller's to print, once,
/// with [`Ctx::error`]. Commands over several configs report a config's
/// error as it happens, go on with the others, and return `Ok(Error)`.
pub async fn run(ctx: &Ctx, action: Action) -> anyhow::Result<ExitStatus> {
    match action {
        Action::Plan(settings) => plan::run(ctx, &settings).await,
        Action::Apply(settings) => apply::apply(ctx, &settings).await,
        Action::Attach(settings) => apply::attach(ctx, &settings).await,
        Action::Destroy(settings) => apply::destroy(ctx, &settings).await,
        Action::Validate(settings) => validate::run(ctx, &settings),
        Action::Logs(settings) => logs::run(ctx, &settings).await,
        Action::ForceUnlock(settings) => state::force_unlock(ctx, &settings),
        Action::ShowState(target) => state::show(ctx, &target),
        Action::ReassignState(settings) => state::reassign(ctx, &settings),
        Action::Sim(action) => sim::run(&action),
        Action::Show(settings) => show::run(ctx, &settings),
        Action::Diff(settings) => diff::run(ctx, &settings).await,
        Action::Schema(kind) => schema::run(kind),
        // `main` prints completions before it gets here (they need clap).
        Action::Completions(shell) => {
            anyhow::bail!("completions for {shell} are printed by the command line")
        }
        Action::Status(settings) => status::status(ctx, &settings).await,
        Action::LsStale(settings) => status::ls_stale(ctx, &settings).await,
        Action::Cleanup(settings) => cleanup::run(ctx, &settings).await,
        Action::Runs(settings) => status::runs(ctx, &settings),
        Action::RunsShow(settings) => runs::show(ctx, &settings),
        Action::Cost(settings) => cost::run(ctx, &settings).await,
        Action::Advise(settings) => status::advise(ctx, &settings),
        Action::Refresh(settings) => refresh_only::run(ctx, &settings).await,
        Action::Import(settings) => adopt::import(ctx, &settings).await,
        Action::ForgetPod(settings) => adopt::forget(ctx, &settings),
    }
}

/// The provider rpd was asked for, and what the terminal can do.
pub struct Ctx {
    provider: String,
    provider_given: bool,
    pub stdout_colour: bool,
    pub stderr_colour: bool,
    pub stdin_tty: bool,
    pub stderr_tty: bool,
}

impl Ctx {
    /// Asks the standard streams whether they are terminals.
    pub fn new(global: &GlobalSettings) -> Ctx {
        Ctx {
            provider: global.provider.clone(),
            provider_given: global.provider_given,
            stdout_colour: global.colour.for_stream(std::io::stdout().is_terminal()),
            stderr_colour: global.colour.for_stream(std::io::stderr().is_terminal()),
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    pub fn stdout_palette(&self) -> Palette {
        Palette::new(self.stdout_colour)
    }

    pub fn stderr_palette(&self) -> Palette {
        Palette::new(self.stderr_colour)
    }

    /// Whether `--provider` or `RPD_PROVIDER` named the provider (else it
    /// is the default).
    pub fn provider_given(&self) -> bool {
        self.provider_given
    }

    /// The provider's name as asked (`runpod`, `runpodctl`, `sim`).
    pub fn provider_name(&self) -> &str {
        &self.provider
    }

    pub fn provider(&self) -> anyhow::Result<SharedProvider> {
        crate::provider::from_name(&self.provider)
    }

    /// Prints an error and its causes on stderr: `error: ...` (red on a
    /// terminal). Every error rpd prints goes through here (clap prints its
    /// own usage errors).
    pub fn error(&self, err: &anyhow::Error) {
        let p = self.stderr_palette();
        crate::note!("{} {}", p.remove.apply_to("error:"), format_error(err));
    }

    /// Prints a warning on stderr: `warning: ...` (yellow on a terminal).
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
pub fn load_options(vars: &VarSettings) -> anyhow::Result<LoadOptions> {
    let mut overrides = Variables::new();
    if let Some(file) = &vars.vars_file {
        overrides.extend(config::read_vars_file(file).map_err(anyhow::Error::msg)?);
    }
    for arg in &vars.assignments {
        let (key, value) = config::parse_var(arg).map_err(anyhow::Error::msg)?;
        overrides.insert(key, value);
    }
    Ok(LoadOptions {
        overrides,
        now: Some(chrono::Utc::now()),
    })
}

/// `RPD_MAX_RUNTIME` (a duration, for trials and tests) replaces the
/// config's max runtime, so that the plan, rpd's monitor and the on-pod
/// guard all use it.
fn with_env_overrides(mut config: Config) -> Config {
    if let Some(limit) = crate::env::duration(crate::env::MAX_RUNTIME) {
        let secs = limit.as_secs().max(1);
        config.budget.max_runtime_sec = Some(secs);
        config.budget.timeout_sec = secs;
    }
    config
}

/// Prints a loaded config's warnings.
pub fn warn_about(ctx: &Ctx, path: &Path, config: &Config) {
    for warning in &config.warnings {
        ctx.warn(&format!("{}: {warning}", path.display()));
    }
}

/// Loads one config.
pub fn load_config(ctx: &Ctx, target: &ConfigSettings) -> anyhow::Result<Config> {
    let options = load_options(&target.vars)?;
    let config = with_env_overrides(config::load(&target.config, &options)?);
    warn_about(ctx, &target.config, &config);
    Ok(config)
}

/// Loads every config. A broken one is reported here, and the others are
/// still loaded so that every broken one is; then `None`.
pub fn load_configs(
    ctx: &Ctx,
    paths: &[PathBuf],
    vars: &VarSettings,
) -> anyhow::Result<Option<Vec<Config>>> {
    let mut configs = Vec::new();
    let mut failed = false;
    for (_, loaded) in load_each(ctx, paths, vars)? {
        match loaded {
            Ok(c) => configs.push(c),
            Err(err) => {
                ctx.error(&err);
                failed = true;
            }
        }
    }
    Ok((!failed).then_some(configs))
}

/// Loads each config (directories give the configs in them, see
/// [`expand_configs`]): a broken one is its own error, the others load.
/// Warnings are printed here; errors are the caller's to report.
pub fn load_each(
    ctx: &Ctx,
    paths: &[PathBuf],
    vars: &VarSettings,
) -> anyhow::Result<Vec<(PathBuf, anyhow::Result<Config>)>> {
    let options = load_options(vars)?;
    let paths = expand_configs(paths)?;
    refuse_repeated(&paths)?;
    let mut out = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for path in paths {
        let loaded = config::load(&path, &options)
            .map(with_env_overrides)
            .map_err(anyhow::Error::new);
        let loaded = loaded.and_then(|c| {
            warn_about(ctx, &path, &c);
            if seen.contains(&c.state_file) {
                bail!(
                    "two configs use the same state file {}\n  = help: each config needs its own state file; set a different `state_file:` (templates like {{seed}} work) or remove the key",
                    c.state_file.display()
                );
            }
            seen.push(c.state_file.clone());
            Ok(c)
        });
        out.push((path, loaded));
    }
    Ok(out)
}

/// The configs the command line names: files as given, and for a
/// directory every `.yaml`/`.yml` file under it (sorted; hidden directories
/// and `artifacts/` skipped) that looks like a config: a top-level `pod:` or
/// `schema_version:` key. Other YAML there (a CI workflow) is not a config.
pub fn expand_configs(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if !path.is_dir() {
            out.push(path.clone());
            continue;
        }
        let mut found = Vec::new();
        let walk = walkdir::WalkDir::new(path)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !(e.file_type().is_dir()
                        && (e.file_name().to_string_lossy().starts_with('.')
                            || e.file_name() == "artifacts"))
            });
        for entry in walk {
            let entry = entry.map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            let name = entry.file_name().to_string_lossy();
            if entry.file_type().is_file()
                && (name.ends_with(".yaml") || name.ends_with(".yml"))
                && looks_like_config(entry.path())
            {
                found.push(entry.into_path());
            }
        }
        if found.is_empty() {
            bail!(
                "{} holds no config (no .yaml or .yml file with a top-level `pod:` key)",
                path.display()
            );
        }
        out.extend(found);
    }
    Ok(out)
}

fn looks_like_config(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| {
        text.lines()
            .any(|l| l.starts_with("pod:") || l.starts_with("schema_version:"))
    })
}

/// The same config given twice (by the same path, or by two paths to one
/// file) is an error: its second run would wait on the first one's lock,
/// and `validate` would report it twice.
pub fn refuse_repeated(paths: &[PathBuf]) -> anyhow::Result<()> {
    let identity = |p: &PathBuf| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
    for (i, path) in paths.iter().enumerate() {
        if let Some(first) = paths[..i].iter().find(|p| identity(p) == identity(path)) {
            let also = if first == path {
                String::new()
            } else {
                format!(" (as {} and as {})", first.display(), path.display())
            };
            bail!(
                "the config {} is given twice{also}\n  = help: name each config once; rpd plans and applies every config given",
                first.display()
            );
        }
    }
    Ok(())
}

/// How a resume on a busy host waits: `RPD_BUSY_HOST_WAIT` (how long, 2m
/// by default) and `RPD_BUSY_HOST_RETRY_EVERY` (how often the start is
/// tried again, 15s by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyHostTiming {
    pub wait: Option<std::time::Duration>,
    pub every: Option<std::time::Duration>,
}

pub fn busy_host_timing() -> anyhow::Result<BusyHostTiming> {
    let read = |name: &str| -> anyhow::Result<Option<std::time::Duration>> {
        // Empty is unset, as for every variable (crate::env).
        match crate::env::get(name) {
            Some(text) => humantime::parse_duration(&text).map(Some).map_err(|err| {
                anyhow::anyhow!(
                    "{name}={text:?} is not a duration ({err}); use a value like 2m or 30s"
                )
            }),
            None => Ok(None),
        }
    };
    Ok(BusyHostTiming {
        wait: read("RPD_BUSY_HOST_WAIT")?,
        every: read("RPD_BUSY_HOST_RETRY_EVERY")?,
    })
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

#[cfg(test)]
mod tests {
    use super::format_error;

    #[derive(Debug, thiserror::Error)]
    #[error("the lock file is unreadable")]
    struct Unreadable;

    /// Says its cause in its own text, as many of rpd's errors do.
    #[derive(Debug, thiserror::Error)]
    #[error("reading the state: {0}")]
    struct ReadingState(#[source] Unreadable);

    #[test]
    fn each_cause_not_in_the_text_gets_a_caused_by_line() {
        let err = anyhow::Error::new(Unreadable)
            .context("reading hello.state.json")
            .context("planning hello.yaml");
        assert_eq!(
            format_error(&err),
            "planning hello.yaml\n  caused by: reading hello.state.json\n  caused by: the lock file is unreadable"
        );
    }

    #[test]
    fn a_cause_already_in_the_text_is_not_repeated() {
        let err = anyhow::Error::new(ReadingState(Unreadable));
        assert_eq!(
            format_error(&err),
            "reading the state: the lock file is unreadable"
        );
        let planning = err.context("planning hello.yaml");
        assert_eq!(
            format_error(&planning),
            "planning hello.yaml\n  caused by: reading the state: the lock file is unreadable"
        );
    }

    #[test]
    fn an_error_without_causes_is_its_text() {
        let err = anyhow::anyhow!("no state file at hello.state.json");
        assert_eq!(format_error(&err), "no state file at hello.state.json");
    }
}
