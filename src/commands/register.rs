//! Keeps rpd's registry complete: every command that writes a state
//! records it ([`record`]); a write that takes a pod (import, reassign)
//! checks that no other registered state tracks it and writes under the
//! registry's one lock ([`claim`]); a state gone for good is said so
//! ([`forget_gone`]). `cleanup --untracked` and `status` rely on it (see
//! `registry.rs`).

use std::path::{Path, PathBuf};

use anyhow::bail;
use chrono::Utc;

use crate::commands::Ctx;
use crate::commands::inventory::{Subject, Unread, gather};
use crate::config::Config;
use crate::model::Ownership;
use crate::registry::{Entry, Registry, RegistryFile};
use crate::state::{self, State};

/// The entry `config`'s state (`state`, or none yet) makes.
fn entry_of(config: &Config, provider: &str, state: Option<&State>) -> Entry {
    let now = Utc::now();
    Entry {
        state_file: absolute(&config.state_file),
        config: config.canonical_path.clone(),
        job_name: config.name.clone(),
        lineage: state.map(|s| s.lineage),
        past_lineages: Vec::new(),
        provider: provider.to_string(),
        pod_ids: state
            .map(|s| s.pod_ids().into_iter().map(String::from).collect())
            .unwrap_or_default(),
        runs_dir: config.run_dir.parent().map(Path::to_path_buf),
        lifecycle: Some(config.lifecycle),
        first_applied: now,
        last_applied: now,
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Adds or updates `entry`, and drops the entries of the same lineage whose
/// state files are gone: the state moved here.
fn upsert(registry: &mut Registry, entry: Entry) {
    let kept = entry.state_file.clone();
    let lineage = entry.lineage;
    registry.upsert(entry);
    if let Some(lineage) = lineage {
        registry.drop_moved(lineage, &kept, |p| !p.exists());
    }
}

/// Records `config` in rpd's registry: its state file, lineage and pods
/// as the state file has them now. Before a run (`before`) a config with no
/// state file yet is recorded too, so that one a killed run leaves is
/// found; after a run, a config whose state file is gone (destroyed, or a
/// run that made nothing) is dropped, its lineages kept. The registry must
/// be complete (see `registry.rs`): the caller fails when this does.
pub fn record(config: &Config, provider: &str, before: bool) -> anyhow::Result<()> {
    let loaded = state::read(&config.state_file).ok().flatten();
    let state_file = absolute(&config.state_file);
    RegistryFile::default_file().update(|registry| {
        if loaded.is_none() && !before {
            registry.remove(&state_file, Utc::now());
            return;
        }
        upsert(
            registry,
            entry_of(config, provider, loaded.as_ref().map(|l| &l.state)),
        );
    })?;
    Ok(())
}

/// [`record`], reported as a warning: after a run whose entry was recorded
/// before it, the registry stays complete without this update (it refreshes
/// the pods and lineage the entry names, which matter once the state file
/// is lost).
pub fn record_after(ctx: &Ctx, config: &Config, provider: &str) {
    if let Err(err) = record(config, provider, false) {
        ctx.warn(&format!("{err:#}"));
    }
}

/// Why a claim of a pod was refused.
pub enum Refused {
    /// A readable registered state tracks it (its config).
    Tracked { pod_id: String, config: PathBuf },
    /// A registered state that cannot be read, or whose file is gone, last
    /// tracked it (as the registry says).
    Unread {
        pod_id: String,
        state_file: PathBuf,
        gone: bool,
    },
}

/// Writes `state` as `config`'s, after checking that no other registered
/// state tracks any of its pods, with the registry's lock held from the
/// check through the writes: of several rpd claiming one pod at once (two
/// imports), exactly one wins. The registry is written first, so that a
/// state never tracks a pod the registry cannot find; if the state write
/// then fails, the registry is put back. `refuse` words a refusal. Returns
/// the other registered states that could not be read (they may track the
/// pods too; the registry does not say they do).
pub fn claim(
    config: &Config,
    provider: &str,
    state: &mut State,
    refuse: impl Fn(Refused) -> anyhow::Error,
) -> anyhow::Result<Vec<Unread>> {
    let file = RegistryFile::default_file();
    let locked = file.locked()?;
    let registry = locked.read()?;
    let own = absolute(&config.state_file);
    let others: Vec<Subject> = registry
        .entries
        .iter()
        .filter(|e| e.state_file != own)
        .map(|e| Subject {
            shown: false,
            ..Subject::of_entry(e)
        })
        .collect();
    let mut gathered = gather(&others)?;
    // An entry of this very state at its old place (it moved) is no other.
    gathered.unread.retain(|u| {
        let moved_here = u.error.is_none()
            && registry.find(&u.state_file).is_some_and(|e| {
                e.lineage == Some(state.lineage) || e.past_lineages.contains(&state.lineage)
            });
        !moved_here
    });
    let pod_ids: Vec<String> = state.pod_ids().into_iter().map(String::from).collect();
    for id in &pod_ids {
        if let Some(Ownership::Tracked { config, .. }) =
            gathered.known.tracked.get(id).map(|t| &t.owner)
        {
            return Err(refuse(Refused::Tracked {
                pod_id: id.clone(),
                config: config.clone(),
            }));
        }
        for unread in &gathered.unread {
            let last_tracked = registry
                .find(&unread.state_file)
                .is_some_and(|e| e.pod_ids.contains(id));
            if last_tracked {
                return Err(refuse(Refused::Unread {
                    pod_id: id.clone(),
                    state_file: unread.state_file.clone(),
                    gone: unread.error.is_none(),
                }));
            }
        }
    }
    let mut updated = registry.clone();
    upsert(&mut updated, entry_of(config, provider, Some(state)));
    locked.write(&updated)?;
    if let Err(err) = state::write(&config.state_file, state) {
        if let Err(again) = locked.write(&registry) {
            return Err(anyhow::Error::new(err).context(format!(
                "and rpd's registry could not be put back ({again}): it names a state that was not written"
            )));
        }
        return Err(err.into());
    }
    Ok(gathered.unread)
}

/// The registry's entry of a state file that is gone drops out for good
/// (`rpd state rm` of a config whose state file is missing): its lineages
/// are kept, so its pods become provably untracked. Whether it had one.
pub fn forget_gone(state_file: &Path) -> anyhow::Result<bool> {
    let state_file = absolute(state_file);
    if state_file.exists() {
        bail!("{} exists", state_file.display());
    }
    let file = RegistryFile::default_file();
    if file.read()?.find(&state_file).is_none() {
        return Ok(false);
    }
    Ok(file.update(|r| r.remove(&state_file, Utc::now()))?)
}
