//! One module per subcommand. Here: what they share — loading configs with
//! the command line's variables, the terminal's capabilities, and the
//! refresh that turns (config, state, provider) into a plan.

pub mod apply;
pub mod logs;
pub mod plan;
pub mod sim;
pub mod state;
pub mod validate;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use futures::future::join_all;

use crate::cli::{GlobalArgs, VarArgs};
use crate::config::{self, Config, LoadOptions, Variables};
use crate::exit::ExitStatus;
use crate::plan::{
    self as planner, JobOutline, Mode, Observation, Observations, Plan, PlanOptions,
};
use crate::provider::{Catalog, SharedProvider};
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

/// Real pods are reached over SSH with `ssh.key_path`: without the key a
/// created pod could only be deleted again.
pub fn missing_ssh_key(config: &Config, provider: &str) -> Option<String> {
    (provider != "sim" && !config.ssh_key_path.exists()).then(|| {
        format!(
            "the SSH key {} (ssh.key_path in {}) does not exist, so rpd could not reach a pod: create one with `ssh-keygen -t ed25519` and register its public key with RunPod (console settings or `runpodctl doctor`)",
            config.ssh_key_path.display(),
            config.path.display()
        )
    })
}

pub fn job_outline(config: &Config) -> JobOutline {
    let job = &config.job;
    JobOutline {
        setup: job.setup.len(),
        secrets: job.secrets.len(),
        staging: job.staging.len(),
        preflight: job.preflight.len() + usize::from(config.python_version.is_some()),
        artifacts: job.artifacts.len(),
        script_path: job.run.script_path.clone(),
        log_path: job.run.log_path.clone(),
        timeout_sec: config.budget.timeout_sec,
        ssh_ready_timeout_sec: config.budget.ssh_ready_timeout_sec,
        volume_mount: config.pod.storage.mount().to_string(),
    }
}

/// A config with its refreshed state and the plan made from them.
pub struct Prepared {
    pub config: Config,
    pub loaded: Option<Loaded>,
    pub plan: Plan,
}

/// Refreshes one config (its recorded pods, the catalog) and plans it.
pub async fn prepare(
    provider: &SharedProvider,
    config: Config,
    mode: Mode,
    options: PlanFlags,
    catalogs: &Catalogs,
) -> anyhow::Result<Prepared> {
    let loaded = read_state(&config, provider.name())?;
    let state = loaded.as_ref().map(|l| &l.state);
    let mut observed = Observations::default();
    if let Some(state) = state {
        let ids: Vec<String> = state.pod_ids().into_iter().map(String::from).collect();
        let results = join_all(ids.iter().map(|id| provider.get(id))).await;
        for (id, result) in ids.into_iter().zip(results) {
            let observation = match result.with_context(|| format!("reading pod {id}"))? {
                Some(pod) => Observation::Pod(Box::new(pod)),
                None => Observation::Gone,
            };
            observed.pods.insert(id, observation);
        }
        if let Some(pending) = &state.pending_create {
            let pods = provider
                .list()
                .await
                .context("listing pods to find an interrupted create")?;
            observed.pending_matches = pods
                .into_iter()
                .filter(|p| p.name == pending.name)
                .collect();
        }
    }
    if mode == Mode::Apply {
        let missing: Vec<String> = config
            .required_paths
            .iter()
            .filter(|p| !p.exists())
            .map(|p| format!("    {}", p.display()))
            .collect();
        if !missing.is_empty() {
            bail!(
                "required local paths are missing (local.required_paths in {}):\n{}",
                config.path.display(),
                missing.join("\n")
            );
        }
    }
    let mut warnings = Vec::new();
    let catalog: Option<Catalog> = match catalogs.get(&catalog_key(&config, config.pod.cloud_type))
    {
        Some(Ok(c)) => Some(c.clone()),
        Some(Err(err)) => {
            warnings.push(format!(
                "could not read the catalog (stock and prices unknown): {err}"
            ));
            None
        }
        None => None,
    };
    let fallback_catalog = options
        .fallback_cloud
        .and_then(|cloud| catalogs.get(&catalog_key(&config, cloud)))
        .and_then(|c| c.as_ref().ok())
        .cloned();
    let outline = job_outline(&config);
    let mut plan = planner::plan(&planner::PlanningInput {
        job_name: &config.name,
        desired: &config.pod,
        lifecycle: config.lifecycle,
        job: &outline,
        state,
        observed: &observed,
        catalog: catalog.as_ref(),
        fallback_catalog: fallback_catalog.as_ref(),
        options: PlanOptions {
            mode,
            replace: options.replace,
            fallback_cloud: options.fallback_cloud,
        },
    });
    plan.report.warnings.extend(warnings);
    if let Some(problem) = missing_ssh_key(&config, provider.name())
        && mode == Mode::Apply
    {
        plan.report.warnings.push(problem);
    }
    if let Some(l) = &loaded
        && l.origin == statefile::Origin::RunpodDeploy
    {
        plan.report.notes.push(format!(
            "{} is a runpod-deploy pointer: rpd adopts it and rewrites it in its own format (keeping the pod_id, gpu_id, image and datacenter_id keys) on apply",
            config.state_file.display()
        ));
    }
    if let Some(lock) = statefile::read_lock(&config.state_file)
        && lock.pid != std::process::id()
    {
        plan.report.warnings.push(format!(
            "another rpd holds this config's lock ({} by {} since {}): this plan may change under it",
            lock.operation,
            lock.who,
            lock.created.format("%H:%M:%S UTC")
        ));
    }
    Ok(Prepared {
        config,
        loaded,
        plan,
    })
}

/// Plan options from the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanFlags {
    pub replace: bool,
    pub fallback_cloud: Option<crate::model::CloudType>,
}

/// At most this many configs are refreshed at once.
const REFRESH_CONCURRENCY: usize = 16;

/// The catalog for (GPUs, datacenters, cloud), read once per run however many
/// configs ask for it.
pub type Catalogs = std::collections::HashMap<CatalogKey, Result<Catalog, String>>;
pub type CatalogKey = (Vec<String>, Vec<String>, crate::model::CloudType);

fn catalog_key(config: &Config, cloud: crate::model::CloudType) -> CatalogKey {
    (
        config.pod.gpu_order.clone(),
        config.pod.datacenters.clone(),
        cloud,
    )
}

/// Prepares several configs concurrently (about one provider round trip for
/// all of them, not one per config), with a bound and one catalog read per
/// distinct (GPUs, datacenters, cloud).
pub async fn prepare_all(
    provider: &SharedProvider,
    configs: Vec<Config>,
    mode: Mode,
    options: PlanFlags,
) -> Vec<(PathBuf, anyhow::Result<Prepared>)> {
    use futures::stream::{self, StreamExt};
    let mut keys: Vec<CatalogKey> = Vec::new();
    if mode == Mode::Apply {
        for config in &configs {
            let mut clouds = vec![config.pod.cloud_type];
            clouds.extend(
                options
                    .fallback_cloud
                    .filter(|c| *c != config.pod.cloud_type),
            );
            for cloud in clouds {
                let key = catalog_key(config, cloud);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
    }
    let catalogs: Catalogs = stream::iter(keys)
        .map(|key| async move {
            let result = provider
                .catalog(&key.0, &key.1, key.2)
                .await
                .map_err(|e| e.to_string());
            (key, result)
        })
        .buffer_unordered(REFRESH_CONCURRENCY)
        .collect()
        .await;
    let paths: Vec<PathBuf> = configs.iter().map(|c| c.path.clone()).collect();
    let catalogs = &catalogs;
    let results: Vec<anyhow::Result<Prepared>> = stream::iter(configs)
        .map(|c| prepare(provider, c, mode, options, catalogs))
        .buffered(REFRESH_CONCURRENCY)
        .collect()
        .await;
    paths.into_iter().zip(results).collect()
}
