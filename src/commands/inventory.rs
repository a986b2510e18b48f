//! What `status`, `ls-stale`, `cleanup`, `runs` and `cost` read: the configs
//! (named on the command line, else rpd's registry), every registered state
//! file (whose each pod is needs all of them), their run directories and
//! the pods of each account the states were applied with. The pure
//! `hygiene` modules turn these facts into reports and plans
//! (`commands/register.rs` keeps the registry complete).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::commands::settings::VarSettings;
use crate::commands::{Ctx, load_configs};
use crate::config::Config;
use crate::hygiene::inventory::{Known, UnreadState};
use crate::hygiene::runs::{self, RunRecord};
use crate::hygiene::status::ConfigFacts;
use crate::model::{ObservedPod, PodStatus};
use crate::plan::{Observation, PlanError};
use crate::provider::{ProviderError, SharedProvider};
use crate::registry::{Entry, Registry, RegistryFile};
use crate::state::{self, Origin, State};

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
    /// Reported on (named, or every registered config when none is);
    /// the others are read only to know whose each pod is.
    pub shown: bool,
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
            shown: true,
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
            shown: true,
        }
    }
}

/// The registry (empty when rpd has applied nothing yet).
pub fn registry() -> anyhow::Result<Registry> {
    Ok(RegistryFile::default_file().read()?)
}

/// The registry's entries (none when rpd has applied nothing yet).
pub fn registered() -> anyhow::Result<Vec<Entry>> {
    Ok(registry()?.entries)
}

/// The named configs, else every registered one, shown; and every other
/// registered config, not shown. `None` when a named config is broken
/// (reported).
pub fn subjects(
    ctx: &Ctx,
    configs: &[PathBuf],
    vars: &VarSettings,
) -> anyhow::Result<Option<Vec<Subject>>> {
    let entries = registered()?;
    if configs.is_empty() {
        return Ok(Some(entries.iter().map(Subject::of_entry).collect()));
    }
    let Some(loaded) = load_configs(ctx, configs, vars)? else {
        return Ok(None);
    };
    let state_file = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.into());
    let mut subjects: Vec<Subject> = loaded
        .iter()
        .map(|config| {
            let mut subject = Subject::of_config(config);
            let key = state_file(&subject.state_file);
            if let Some(entry) = entries.iter().find(|e| e.state_file == key) {
                subject.registered_pods = entry.pod_ids.clone();
                subject.lineage = entry.lineage;
                subject.past_lineages = entry.past_lineages.clone();
                subject.provider = Some(entry.provider.clone());
            }
            subject
        })
        .collect();
    let named: Vec<PathBuf> = subjects.iter().map(|s| state_file(&s.state_file)).collect();
    subjects.extend(
        entries
            .iter()
            .filter(|e| !named.contains(&e.state_file))
            .map(|e| Subject {
                shown: false,
                ..Subject::of_entry(e)
            }),
    );
    Ok(Some(subjects))
}

/// A registered state rpd could not read, and why.
pub struct Unread {
    pub config: PathBuf,
    pub state_file: PathBuf,
    /// `None`: its file is gone (moved or deleted).
    pub error: Option<anyhow::Error>,
    pub shown: bool,
}

/// Each shown subject's state (`None`: the file is gone) and runs; whose
/// each pod is, from every subject; and the states that could not be read.
pub struct Gathered {
    pub facts: Vec<ConfigFacts>,
    pub known: Known,
    /// State files that are runpod-deploy pointers.
    pub pointers: Vec<PathBuf>,
    pub unread: Vec<Unread>,
    /// Every state read, shown or not, by state file.
    pub states: HashMap<PathBuf, State>,
}

impl Gathered {
    /// Prints an error for each shown state that cannot be read (a gone
    /// one is a warning of `status`, not an error); whether there was one.
    pub fn report_unreadable(&self, ctx: &Ctx) -> bool {
        let mut any = false;
        for unread in self.unread.iter().filter(|u| u.shown) {
            if let Some(err) = &unread.error {
                ctx.error(err);
                any = true;
            }
        }
        any
    }

    /// Every registered state that could not be read, and whether it is gone.
    pub fn unread_states(&self) -> Vec<(PathBuf, bool)> {
        self.unread
            .iter()
            .map(|u| (u.state_file.clone(), u.error.is_none()))
            .collect()
    }
}

/// Reads every subject. A state that cannot be read never stops the look:
/// it is left out of the facts and recorded in `unread` (and in `known`,
/// so that no pod is taken for untracked while it is), and so is a
/// registered state whose file is gone, unless a state read here has its
/// lineage (it moved there).
pub fn gather(subjects: &[Subject]) -> anyhow::Result<Gathered> {
    let removed = registry()?.removed;
    let mut known = Known::default();
    let mut facts = Vec::new();
    let mut pointers = Vec::new();
    let mut unread = Vec::new();
    let mut gone: Vec<&Subject> = Vec::new();
    let mut states = HashMap::new();
    let mut read_lineages: HashSet<uuid::Uuid> = HashSet::new();
    for subject in subjects {
        for lineage in subject.lineage.iter().chain(&subject.past_lineages) {
            known.add_lineage(lineage, subject.config.clone(), subject.state_file.clone());
        }
        let loaded = match state::read(&subject.state_file)
            .with_context(|| format!("reading the state of {}", subject.config.display()))
        {
            Ok(loaded) => loaded,
            Err(err) => {
                unread.push(Unread {
                    config: subject.config.clone(),
                    state_file: subject.state_file.clone(),
                    error: Some(err),
                    shown: subject.shown,
                });
                continue;
            }
        };
        match &loaded {
            Some(loaded) => {
                read_lineages.insert(loaded.state.lineage);
                known.add_state(
                    subject.config.clone(),
                    subject.state_file.clone(),
                    &loaded.state,
                );
                if loaded.origin == Origin::RunpodDeploy {
                    pointers.push(subject.state_file.clone());
                }
                states.insert(subject.state_file.clone(), loaded.state.clone());
            }
            None => gone.push(subject),
        }
        if !subject.shown {
            continue;
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
    for subject in gone {
        let moved = subject
            .lineage
            .iter()
            .chain(&subject.past_lineages)
            .any(|l| read_lineages.contains(l));
        if !moved {
            unread.push(Unread {
                config: subject.config.clone(),
                state_file: subject.state_file.clone(),
                error: None,
                shown: subject.shown,
            });
        }
    }
    for removed in &removed {
        for lineage in &removed.lineages {
            // A lineage a live entry has is that entry's.
            let tag = crate::pod_name::lineage_tag(lineage);
            if !known.lineages.contains_key(&tag) {
                known.add_lineage(lineage, removed.config.clone(), removed.state_file.clone());
            }
        }
    }
    known.unread = unread
        .iter()
        .map(|u| UnreadState {
            config: u.config.clone(),
            state_file: u.state_file.clone(),
            gone: u.error.is_none(),
        })
        .collect();
    Ok(Gathered {
        facts,
        known,
        pointers,
        unread,
        states,
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

/// The provider a state's pods were made with: what the registry records
/// for it, else what the state records with its pods.
pub fn recorded_provider(registered: Option<&str>, state: Option<&State>) -> Option<String> {
    registered.map(String::from).or_else(|| {
        state?
            .pod
            .iter()
            .chain(state?.retained.iter().map(|r| &r.pod))
            .find_map(|p| p.provider.clone())
    })
}

/// The providers a look uses, made once each.
pub struct Providers {
    made: HashMap<String, SharedProvider>,
    /// `--provider` / `RPD_PROVIDER`, else the default.
    asked: String,
    given: bool,
}

impl Providers {
    pub fn new(ctx: &Ctx) -> Providers {
        Providers {
            made: HashMap::new(),
            asked: ctx.provider_name().to_string(),
            given: ctx.provider_given(),
        }
    }

    pub fn get(&mut self, name: &str) -> anyhow::Result<SharedProvider> {
        if let Some(made) = self.made.get(name) {
            return Ok(made.clone());
        }
        let made = crate::provider::from_name(name)?;
        self.made.insert(name.to_string(), made.clone());
        Ok(made)
    }

    /// The provider to look at a state's pods with: the one it was applied
    /// with (the only one known to see them: another, or another key,
    /// answers 404 for them), else the one asked for.
    pub fn name_for(&self, recorded: Option<&str>) -> String {
        recorded.unwrap_or(&self.asked).to_string()
    }

    /// The one asked for, when it was named.
    pub fn named(&self) -> Option<&str> {
        self.given.then_some(self.asked.as_str())
    }

    pub fn asked(&self) -> &str {
        &self.asked
    }
}

/// The account's pods and what became of the tracked ones.
pub struct Seen {
    /// Every pod of each account looked at (stopped ones fully read).
    pub pods: Vec<ObservedPod>,
    /// Each tracked pod, and each listed one: a pod, or definitely gone.
    pub observed: HashMap<String, Observation>,
    /// Which provider saw each pod (what a cleanup deletes it through).
    pub seen_by: HashMap<String, SharedProvider>,
    /// States made with another API key whose pods this key cannot see:
    /// those pods are neither pods nor gone in `observed`.
    pub other_keys: Vec<PlanError>,
    pub not_visible: HashSet<String>,
}

/// Lists the pods of every account the subjects were applied with (and of
/// the one asked for), then looks up the tracked pods no list has, each
/// with its state's provider: only a definite not-found is gone, and not
/// even that under another API key than the state's.
pub async fn observe(
    providers: &mut Providers,
    subjects: &[Subject],
    gathered: &Gathered,
) -> anyhow::Result<Seen> {
    let state_of = |s: &Subject| gathered.states.get(&s.state_file);
    let provider_of: Vec<(&Subject, String)> = subjects
        .iter()
        .map(|s| {
            let recorded = recorded_provider(s.provider.as_deref(), state_of(s));
            (s, providers.name_for(recorded.as_deref()))
        })
        .collect();
    if let Some(named) = providers.named() {
        let own: BTreeSet<&str> = provider_of
            .iter()
            .filter(|(s, name)| s.shown && name != named && state_of(s).is_some())
            .map(|(_, name)| name.as_str())
            .collect();
        for name in own {
            crate::note!(
                "note: the pods of configs applied with --provider {name} are looked at there (another provider, or another API key, answers \"not found\" for them)"
            );
        }
    }
    // Each account the configs were applied with, and the one asked for
    // (the default only when there is nothing else to look at).
    let mut listed: BTreeSet<String> = provider_of.iter().map(|(_, n)| n.clone()).collect();
    if let Some(named) = providers.named() {
        listed.insert(named.to_string());
    }
    if listed.is_empty() {
        listed.insert(providers.asked().to_string());
    }
    let mut seen = Seen {
        pods: Vec::new(),
        observed: HashMap::new(),
        seen_by: HashMap::new(),
        other_keys: Vec::new(),
        not_visible: HashSet::new(),
    };
    for name in &listed {
        let provider = providers.get(name)?;
        for pod in list_pods(&provider).await? {
            if seen.seen_by.contains_key(&pod.id) {
                continue; // runpod and runpodctl on one account
            }
            seen.seen_by.insert(pod.id.clone(), provider.clone());
            seen.observed
                .insert(pod.id.clone(), Observation::Pod(Box::new(pod.clone())));
            seen.pods.push(pod);
        }
    }
    for (subject, name) in &provider_of {
        let Some(state) = state_of(subject) else {
            continue;
        };
        let provider = providers.get(name)?;
        let mut ids: Vec<&str> = state
            .pod_ids()
            .into_iter()
            .filter(|id| !seen.observed.contains_key(*id))
            .collect();
        ids.sort_unstable();
        for id in ids {
            let observation = match provider.get(id).await {
                Ok(Some(pod)) => {
                    seen.seen_by.insert(id.to_string(), provider.clone());
                    Observation::Pod(Box::new(pod))
                }
                Ok(None) | Err(ProviderError::NotFound(_)) => Observation::Gone,
                Err(err) => {
                    return Err(anyhow::Error::new(err).context(format!("looking up pod {id}")));
                }
            };
            seen.observed.insert(id.to_string(), observation);
        }
        let fingerprint = provider.api_key_fingerprint();
        let observed = &seen.observed;
        if let Some(error) = crate::plan::account::other_api_key(
            state,
            &subject.state_file,
            fingerprint.as_deref(),
            |id| matches!(observed.get(id), Some(Observation::Gone)),
            false,
        ) {
            if let PlanError::OtherApiKey { pods, .. } = &error {
                for id in pods {
                    seen.observed.remove(id);
                    seen.not_visible.insert(id.clone());
                }
            }
            seen.other_keys.push(error);
        }
    }
    Ok(seen)
}

/// Every pod of one account; a stopped pod the list describes without its
/// storage (runpodctl's `pod list` has no mount) is read on its own, since
/// a stopped pod is priced by it.
async fn list_pods(provider: &SharedProvider) -> anyhow::Result<Vec<ObservedPod>> {
    provider.check_key().await?;
    let mut pods = provider.list().await.with_context(|| {
        format!(
            "listing the account's pods (--provider {})",
            provider.name()
        )
    })?;
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
    Ok(pods)
}

/// Prints each state made with another API key whose pods this key cannot
/// see; whether there was one.
pub fn report_other_keys(ctx: &Ctx, seen: &Seen) -> bool {
    for error in &seen.other_keys {
        ctx.error(&anyhow::anyhow!(crate::render::words::plan_error(error)));
    }
    !seen.other_keys.is_empty()
}

/// The provider for one config's state (`refresh`, `import`, `state rm`):
/// the one asked for when it was named, else the one the state was applied
/// with, else the default.
pub fn provider_name_for_state(ctx: &Ctx, state_file: &Path, state: Option<&State>) -> String {
    if ctx.provider_given() {
        return ctx.provider_name().to_string();
    }
    let key = std::path::absolute(state_file).unwrap_or_else(|_| state_file.to_path_buf());
    let entries = registered().unwrap_or_default();
    let registered = entries
        .iter()
        .find(|e| e.state_file == key)
        .map(|e| e.provider.as_str());
    recorded_provider(registered, state).unwrap_or_else(|| ctx.provider_name().to_string())
}

/// [`provider_name_for_state`], made.
pub fn provider_for_state(
    ctx: &Ctx,
    state_file: &Path,
    state: Option<&State>,
) -> anyhow::Result<SharedProvider> {
    crate::provider::from_name(&provider_name_for_state(ctx, state_file, state))
}
