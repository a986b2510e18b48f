//! The refresh: reads everything the planner decides from — the state and
//! its lock, the recorded pods as the provider sees them now, the catalog,
//! the SSH key — into one [`PlanningInput`], then plans it. All of a plan's
//! I/O happens here; the planner only reads the input.

use std::path::PathBuf;

use anyhow::Context;
use futures::future::join_all;

use super::read_state;
use super::settings::PlanFlags;
use crate::config::Config;
use crate::model::{Catalog, CloudType, InPlaceUpdates, Storage};
use crate::plan::saved::ObservedFacts;
use crate::plan::{
    self as planner, CatalogRead, DEFAULT_BUSY_HOST_WAIT, Desired, JobOutline, LockHolder,
    LockSeen, MissingSshKey, Mode, Observation, Observations, Plan, PlanOptions, PlanningInput,
    Recorded, VolumesRead,
};
use crate::provider::SharedProvider;
use crate::state::{self as statefile, Loaded, LockStatus, State};

/// A config with its refreshed state and the plan made from them.
pub struct Prepared {
    pub config: Config,
    pub loaded: Option<Loaded>,
    pub plan: Plan,
    /// The state and pods the plan was made from (for a saved plan).
    pub observed: ObservedFacts,
}

/// At most this many configs are refreshed at once.
const REFRESH_CONCURRENCY: usize = 16;

/// The catalog for (GPUs, datacenters, cloud), read once per run however many
/// configs ask for it.
pub type Catalogs = std::collections::HashMap<CatalogKey, Result<Catalog, String>>;
pub type CatalogKey = (Vec<String>, Vec<String>, CloudType, u32);

fn catalog_key(config: &Config, cloud: CloudType) -> CatalogKey {
    (
        config.pod.gpu_order.clone(),
        config.pod.datacenters.clone(),
        cloud,
        config.pod.gpu_count,
    )
}

/// The cloud whose catalog a plan needs besides the config's own: the
/// `--fallback-cloud-type`, or COMMUNITY after SECURE for `cloud_type: ALL`.
fn other_cloud(config: &Config, flags: PlanFlags) -> Option<CloudType> {
    let pod = &config.pod;
    if pod.all_clouds {
        return Some(CloudType::Community);
    }
    flags.fallback_cloud.filter(|c| *c != pod.cloud_type)
}

/// Real pods are reached over SSH with `ssh.key_path`, whose public half
/// rpd gives the pod: without either a created pod could only be deleted
/// again.
pub async fn missing_ssh_key(config: &Config, provider: &SharedProvider) -> Option<MissingSshKey> {
    if !provider.needs_ssh_key() {
        return None;
    }
    let missing = crate::remote::key::public_key(&config.ssh_key_path)
        .await
        .err()?;
    Some(MissingSshKey {
        key_path: config.ssh_key_path.clone(),
        config_path: config.path.clone(),
        missing,
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
        timeout_is_max_runtime: config.budget.max_runtime_sec.is_some(),
        ssh_ready_timeout_sec: config.budget.ssh_ready_timeout_sec,
        volume_mount: config.pod.storage.mount().to_string(),
    }
}

/// What the provider says about every pod the state tracks, and the pods
/// named like an interrupted create.
async fn observe(provider: &SharedProvider, state: &State) -> anyhow::Result<Observations> {
    let mut observed = Observations {
        left_job_collected: state
            .launched_job
            .as_ref()
            .and_then(|job| job.collected_marker())
            .is_some_and(|marker| marker.exists()),
        ..Observations::default()
    };
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
    Ok(observed)
}

/// Another run's lock on the config's state, live or left behind (an apply
/// or destroy holds its own while it plans: that one is not reported).
fn lock_seen(config: &Config) -> Option<LockSeen> {
    let holder = |lock: statefile::LockInfo| LockHolder {
        operation: lock.operation,
        who: lock.who,
        since: lock.created,
        pid: lock.pid,
        host: lock.host,
    };
    match statefile::lock_status(&config.state_file)? {
        LockStatus::Held(lock) if lock.pid == std::process::id() => None,
        LockStatus::Held(lock) => Some(LockSeen::Held(holder(lock))),
        LockStatus::Stale(lock) => Some(LockSeen::LeftByGoneRun(holder(lock))),
    }
}

fn catalog_read(catalogs: &Catalogs, config: &Config) -> CatalogRead {
    match catalogs.get(&catalog_key(config, config.pod.cloud_type)) {
        Some(Ok(catalog)) => CatalogRead::Read(catalog.clone()),
        Some(Err(error)) => CatalogRead::Unreadable {
            error: error.clone(),
        },
        None => CatalogRead::NotRead,
    }
}

/// Reads one config's planning input.
pub async fn refresh(
    provider: &SharedProvider,
    config: &Config,
    mode: Mode,
    flags: PlanFlags,
    catalogs: &Catalogs,
) -> anyhow::Result<PlanningInput> {
    let loaded = read_state(config, provider.name())?;
    let observed = match &loaded {
        Some(loaded) => observe(provider, &loaded.state).await?,
        None => Observations::default(),
    };
    // What the job reads and writes here, checked before a pod bills.
    let local_problems = match mode {
        Mode::Apply => crate::apply::local_inputs::check(config),
        Mode::Destroy | Mode::Cleanup => Vec::new(),
    };
    let network_volumes = match (&config.pod.storage, mode) {
        (Storage::NetworkVolume { .. }, Mode::Apply) => match provider.network_volumes().await {
            Ok(volumes) => VolumesRead::Read(volumes),
            Err(err) => VolumesRead::Unreadable {
                error: err.to_string(),
            },
        },
        _ => VolumesRead::NotRead,
    };
    // Asked only when there is a pod to change (runpodctl reads its help).
    let in_place_updates = match (&loaded, mode) {
        (Some(loaded), Mode::Apply) if loaded.state.pod.is_some() => {
            provider.in_place_updates().await
        }
        _ => InPlaceUpdates::Supported,
    };
    let fallback_catalog = other_cloud(config, flags)
        .and_then(|cloud| catalogs.get(&catalog_key(config, cloud)))
        .and_then(|c| c.as_ref().ok())
        .cloned();
    Ok(PlanningInput {
        desired: Desired {
            job_name: config.name.clone(),
            pod: config.pod.clone(),
            lifecycle: config.lifecycle,
            job: job_outline(config),
        },
        recorded: loaded.map(|loaded| Recorded {
            state: loaded.state,
            origin: loaded.origin,
            path: config.state_file.clone(),
        }),
        observed,
        catalog: catalog_read(catalogs, config),
        fallback_catalog,
        network_volumes,
        lock: lock_seen(config),
        api_key_fingerprint: provider.api_key_fingerprint(),
        missing_ssh_key: match mode {
            Mode::Apply => missing_ssh_key(config, provider).await,
            Mode::Destroy | Mode::Cleanup => None,
        },
        local_problems,
        unsandboxed: match mode {
            Mode::Apply if provider.runs_commands_here() => {
                crate::remote::sandbox::detect().unavailable().cloned()
            }
            _ => None,
        },
        in_place_updates,
        now: chrono::Utc::now(),
        options: PlanOptions {
            mode,
            replace: flags.replace,
            fallback_cloud: flags.fallback_cloud,
            direct_ssh_grace: provider
                .reports_ssh_proxy()
                .then_some(flags.direct_ssh_grace),
            on_busy_host: flags.on_busy_host,
            busy_host_wait: flags.busy_host_wait.unwrap_or(DEFAULT_BUSY_HOST_WAIT),
        },
    })
}

/// Refreshes one config and plans it.
pub async fn prepare(
    provider: &SharedProvider,
    config: Config,
    mode: Mode,
    flags: PlanFlags,
    catalogs: &Catalogs,
) -> anyhow::Result<Prepared> {
    let input = refresh(provider, &config, mode, flags, catalogs).await?;
    let plan = planner::plan(&input)?;
    let observed = planner::saved::observed_facts(&input);
    let loaded = input.recorded.map(|recorded| Loaded {
        state: recorded.state,
        origin: recorded.origin,
    });
    Ok(Prepared {
        config,
        loaded,
        plan,
        observed,
    })
}

/// Prepares several configs concurrently (about one provider round trip for
/// all of them, not one per config), with a bound and one catalog read per
/// distinct (GPUs, datacenters, cloud).
pub async fn prepare_all(
    provider: &SharedProvider,
    configs: Vec<Config>,
    mode: Mode,
    flags: PlanFlags,
) -> Vec<(PathBuf, anyhow::Result<Prepared>)> {
    use futures::stream::{self, StreamExt};
    // A key that may not act for the account (a pod's own key) is said
    // once per config, and nothing is read with it.
    if let Err(err) = provider.check_key().await {
        return configs
            .into_iter()
            .map(|config| (config.path.clone(), Err(anyhow::Error::new(err.clone()))))
            .collect();
    }
    let mut keys: Vec<CatalogKey> = Vec::new();
    if mode == Mode::Apply {
        for config in &configs {
            let mut clouds = vec![config.pod.cloud_type];
            clouds.extend(other_cloud(config, flags));
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
                .catalog(&key.0, &key.1, key.2, key.3)
                .await
                .map_err(|e| e.to_string());
            (key, result)
        })
        .buffer_unordered(REFRESH_CONCURRENCY)
        .collect()
        .await;
    let paths: Vec<PathBuf> = configs.iter().map(|c| c.path.clone()).collect();
    let catalogs = &catalogs;
    let mut results: Vec<anyhow::Result<Prepared>> = stream::iter(configs)
        .map(|c| prepare(provider, c, mode, flags, catalogs))
        .buffered(REFRESH_CONCURRENCY)
        .collect()
        .await;
    refuse_shared_folders(&mut results);
    paths.into_iter().zip(results).collect()
}

/// Plans whose runs would pull into one local folder get an error each,
/// naming the other config (`plan::shared`).
fn refuse_shared_folders(results: &mut [anyhow::Result<Prepared>]) {
    let mut pulling: Vec<&mut Prepared> = results
        .iter_mut()
        .filter_map(|r| r.as_mut().ok())
        .filter(|p| {
            p.plan
                .steps()
                .iter()
                .any(|s| matches!(s.kind, planner::StepKind::Pull { .. }))
        })
        .collect();
    let writes: Vec<planner::shared::ConfigWrites> = pulling
        .iter()
        .map(|p| planner::shared::ConfigWrites {
            config: p.config.path.display().to_string(),
            writes: crate::apply::local_inputs::writes(&p.config),
        })
        .collect();
    for (prepared, errors) in pulling
        .iter_mut()
        .zip(planner::shared::shared_folders(&writes))
    {
        prepared.plan.report.errors.extend(errors);
    }
}
