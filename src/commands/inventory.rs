//! What `status`, `ls-stale`, `cleanup` and `runs` read: the configs (named
//! on the command line, else rpd's registry), their state files, their run
//! directories and the account's pods. The pure `hygiene` modules turn
//! these facts into reports and plans.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Utc;

use crate::commands::settings::VarSettings;
use crate::commands::{Ctx, load_configs};
use crate::config::Config;
use crate::hygiene::inventory::Known;
use crate::hygiene::runs::{self, RunRecord};
use crate::hygiene::status::ConfigFacts;
use crate::model::{ObservedPod, PodStatus};
use crate::plan::Observation;
use crate::provider::{ProviderError, SharedProvider};
use crate::registry::{Entry, RegistryFile};
use crate::state::{self, Origin};

/// A config to look at: from the command line or the registry.
#[derive(Debug, Clone)]
pub struct Subject {
    pub config: PathBuf,
    pub state_file: PathBuf,
    pub job_name: String,
    pub lifecycle: Option<crate::model::Lifecycle>,
    pub runs_dir: Option<PathBuf>,
    pub registered_pods: Vec<String>,
    pub lineage: Option<uuid::Uuid>,
    pub past_lineages: Vec<uuid::Uuid>,
    /// The provider it was last applied with, as the registry records it.
    pub provider: Option<String>,
}

impl Subject {
    fn of_config(config: &Config) -> Subject {
        Subject {
            config: config.canonical_path.clone(),
            state_file: config.state_file.clone(),
            job_name: config.name.clone(),
            lifecycle: Some(config.lifecycle),
            runs_dir: config.run_dir.parent().map(Path::to_path_buf),
            registered_pods: Vec::new(),
            lineage: None,
            past_lineages: Vec::new(),
            provider: None,
        }
    }

    pub fn of_entry(entry: &Entry) -> Subject {
        Subject {
            config: entry.config.clone(),
            state_file: entry.state_file.clone(),
            job_name: entry.job_name.clone(),
            lifecycle: entry.lifecycle,
            runs_dir: entry.runs_dir.clone(),
            registered_pods: entry.pod_ids.clone(),
            lineage: entry.lineage,
            past_lineages: entry.past_lineages.clone(),
            provider: Some(entry.provider.clone()),
        }
    }
}

/// The first of `pod_ids` that a registered state other than `state_file`
/// tracks, with that state's config: a pod stays the state's that tracks it.
pub fn tracked_elsewhere(
    state_file: &Path,
    pod_ids: &[&str],
) -> anyhow::Result<Option<(String, PathBuf)>> {
    let others = gather(
        &registered()?
            .iter()
            .map(Subject::of_entry)
            .filter(|s| s.state_file != state_file)
            .collect::<Vec<_>>(),
    )?;
    Ok(pod_ids
        .iter()
        .find_map(|id| match &others.known.tracked.get(*id)?.owner {
            crate::model::Ownership::Tracked { config, .. } => {
                Some((id.to_string(), config.clone()))
            }
            _ => None,
        }))
}

/// The provider to look at `subjects` with: the one asked for (`--provider`,
/// `RPD_PROVIDER`), else the one they were applied with when they all were
/// applied with the same one (a config applied with `--provider sim` is
/// looked at on the simulator), else the default.
pub fn provider_for(ctx: &Ctx, subjects: &[Subject]) -> anyhow::Result<SharedProvider> {
    if ctx.provider_given() {
        return ctx.provider();
    }
    // Subjects from the registry carry their provider; named configs are
    // looked up in it.
    let entries = if subjects.iter().any(|s| s.provider.is_none()) {
        registered().unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut used: Vec<&str> = subjects
        .iter()
        .filter_map(|s| {
            s.provider.as_deref().or_else(|| {
                entries
                    .iter()
                    .find(|e| e.state_file == s.state_file)
                    .map(|e| e.provider.as_str())
            })
        })
        .collect();
    used.sort_unstable();
    used.dedup();
    match used.as_slice() {
        [only] => crate::provider::from_name(only),
        _ => ctx.provider(),
    }
}

/// The registry's entries (none when rpd has applied nothing yet).
pub fn registered() -> anyhow::Result<Vec<Entry>> {
    Ok(RegistryFile::default_file().read()?.entries)
}

/// The named configs, else every registered one; `None` when a named
/// config is broken (reported).
pub fn subjects(
    ctx: &Ctx,
    configs: &[PathBuf],
    vars: &VarSettings,
) -> anyhow::Result<Option<Vec<Subject>>> {
    if configs.is_empty() {
        return Ok(Some(registered()?.iter().map(Subject::of_entry).collect()));
    }
    let Some(loaded) = load_configs(ctx, configs, vars)? else {
        return Ok(None);
    };
    let entries = registered().unwrap_or_default();
    Ok(Some(
        loaded
            .iter()
            .map(|config| {
                let mut subject = Subject::of_config(config);
                if let Some(entry) = entries.iter().find(|e| e.state_file == subject.state_file) {
                    subject.registered_pods = entry.pod_ids.clone();
                    subject.lineage = entry.lineage;
                    subject.past_lineages = entry.past_lineages.clone();
                }
                subject
            })
            .collect(),
    ))
}

/// Each subject's state (`None`: the file is gone), its runs, and whose
/// each pod is. A state file that cannot be read is an error naming it:
/// rpd never guesses what it tracks.
pub struct Gathered {
    pub facts: Vec<ConfigFacts>,
    pub known: Known,
    /// State files that are runpod-deploy pointers.
    pub pointers: Vec<PathBuf>,
}

pub fn gather(subjects: &[Subject]) -> anyhow::Result<Gathered> {
    gather_with(subjects, Err)
}

/// [`gather`] for a report per config (`status`, `runs`, `cost`): a state
/// file that cannot be read is reported and its config left out, the
/// others are still shown; whether one was left out.
pub fn gather_reporting(ctx: &Ctx, subjects: &[Subject]) -> (Gathered, bool) {
    let mut failed = false;
    let gathered = gather_with(subjects, |err| {
        ctx.error(&err);
        failed = true;
        Ok(())
    })
    .expect("every error is reported");
    (gathered, failed)
}

/// Reads each subject; `on_error` decides whether an unreadable state
/// stops the look (an error) or leaves its config out (`Ok`).
fn gather_with(
    subjects: &[Subject],
    mut on_error: impl FnMut(anyhow::Error) -> anyhow::Result<()>,
) -> anyhow::Result<Gathered> {
    let mut known = Known::default();
    let mut facts = Vec::new();
    let mut pointers = Vec::new();
    for subject in subjects {
        let loaded = match state::read(&subject.state_file)
            .with_context(|| format!("reading the state of {}", subject.config.display()))
        {
            Ok(loaded) => loaded,
            Err(err) => {
                on_error(err)?;
                continue;
            }
        };
        for lineage in subject.lineage.iter().chain(&subject.past_lineages) {
            known.add_lineage(lineage, subject.config.clone(), subject.state_file.clone());
        }
        if let Some(loaded) = &loaded {
            known.add_state(
                subject.config.clone(),
                subject.state_file.clone(),
                &loaded.state,
            );
            if loaded.origin == Origin::RunpodDeploy {
                pointers.push(subject.state_file.clone());
            }
        }
        facts.push(ConfigFacts {
            config: subject.config.clone(),
            state_file: subject.state_file.clone(),
            job_name: subject.job_name.clone(),
            state: loaded.map(|l| l.state),
            registered_pods: subject.registered_pods.clone(),
            lifecycle: subject.lifecycle,
            runs: subject
                .runs_dir
                .as_deref()
                .map(|dir| config_runs(dir, &subject.config, &subject.job_name))
                .unwrap_or_default(),
        });
    }
    Ok(Gathered {
        facts,
        known,
        pointers,
    })
}

/// The runs in `dir` (one directory each, with a manifest); a directory
/// without a readable manifest is skipped: a run still going, or not rpd's.
pub fn read_runs(dir: &Path) -> Vec<RunRecord> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut runs: Vec<RunRecord> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter_map(|run_dir| {
            let text =
                crate::input::read_text(&run_dir.join(crate::apply::manifest::FILE_NAME)).ok()?;
            let value: serde_json::Value = serde_json::from_str(&text).ok()?;
            runs::from_manifest(&run_dir, &value).ok()
        })
        .collect();
    runs.sort_by(|a, b| (a.at, &a.run_dir).cmp(&(b.at, &b.run_dir)));
    runs
}

fn config_runs(dir: &Path, config: &Path, job_name: &str) -> Vec<RunRecord> {
    read_runs(dir)
        .into_iter()
        .filter(|run| runs::belongs_to(run, config, job_name))
        .collect()
}

/// Every pod of the account, and what became of the tracked pods the list
/// does not have (looked up one by one: only a definite not-found is gone).
pub async fn observe(
    provider: &SharedProvider,
    known: &Known,
) -> anyhow::Result<(Vec<ObservedPod>, HashMap<String, Observation>)> {
    provider.check_key().await?;
    let mut pods = provider
        .list()
        .await
        .context("listing the account's pods")?;
    // A list may leave out what a stopped pod's storage is (runpodctl's
    // `pod list` has no mount, so no volume): its own look has it, and a
    // stopped pod is priced by it.
    for pod in pods
        .iter_mut()
        .filter(|p| p.status == PodStatus::Exited && p.spec.storage.is_none())
    {
        match provider.get(&pod.id).await {
            Ok(Some(full)) => *pod = full,
            Ok(None) | Err(ProviderError::NotFound(_)) => {}
            Err(err) => {
                return Err(anyhow::Error::new(err).context(format!("looking up pod {}", pod.id)));
            }
        }
    }
    let mut observed: HashMap<String, Observation> = pods
        .iter()
        .map(|p| (p.id.clone(), Observation::Pod(Box::new(p.clone()))))
        .collect();
    let mut missing: Vec<&String> = known
        .tracked
        .keys()
        .filter(|id| !observed.contains_key(*id))
        .collect();
    missing.sort();
    for id in missing {
        let observation = match provider.get(id).await {
            Ok(Some(pod)) => Observation::Pod(Box::new(pod)),
            Ok(None) | Err(ProviderError::NotFound(_)) => Observation::Gone,
            Err(err) => return Err(anyhow::Error::new(err).context(format!("looking up pod {id}"))),
        };
        observed.insert(id.clone(), observation);
    }
    Ok((pods, observed))
}

/// Records `config` in rpd's registry: its state file, lineage and pods
/// as the state file has them now. Before a run (`before`) a config with no
/// state file yet is recorded too, so that one a killed run leaves is
/// found; after a run, a config whose state file is gone (destroyed, or a
/// run that made nothing) is dropped. A registry rpd cannot write is a
/// warning: the state file is the truth.
pub fn record_applied(ctx: &Ctx, config: &Config, provider: &str, before: bool) {
    let loaded = state::read(&config.state_file).ok().flatten();
    let state_file =
        std::path::absolute(&config.state_file).unwrap_or_else(|_| config.state_file.clone());
    let result = RegistryFile::default_file().update(|registry| {
        if loaded.is_none() && !before {
            registry.remove(&state_file);
            return;
        }
        let now = Utc::now();
        registry.upsert(Entry {
            state_file: state_file.clone(),
            config: config.canonical_path.clone(),
            job_name: config.name.clone(),
            lineage: loaded.as_ref().map(|l| l.state.lineage),
            past_lineages: Vec::new(),
            provider: provider.to_string(),
            pod_ids: loaded
                .as_ref()
                .map(|l| l.state.pod_ids().into_iter().map(String::from).collect())
                .unwrap_or_default(),
            runs_dir: config.run_dir.parent().map(Path::to_path_buf),
            lifecycle: Some(config.lifecycle),
            first_applied: now,
            last_applied: now,
        });
    });
    if let Err(err) = result {
        ctx.warn(&format!("{err}"));
    }
}
