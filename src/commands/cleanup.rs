//! `rpd cleanup`: delete or stop the pods a state file tracks
//! (`--state-file`, runpod-deploy's), or stopped pods (`--all-stopped`,
//! `--stale`) — rpd's tracked ones by default, provably untracked rpd pods
//! with `--untracked`, anyone's with `--all`. Shows the plan, asks, carries
//! it out under the locks of the state files it changes. A state that
//! cannot be read, or whose pods another API key cannot see, is named and
//! left alone; the others are cleaned up; the exit status is then 1.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::apply::cleanup::{CleanupStates, carry_out};
use crate::commands::Ctx;
use crate::commands::inventory::{self, Gathered, Providers, Seen, Subject};
use crate::commands::settings::{CleanupMode, CleanupSettings, CleanupTarget, LockSettings};
use crate::exit::ExitStatus;
use crate::hygiene::inventory::{Scope, select, stale_pods};
use crate::interrupt::Interrupt;
use crate::model::{Ownership, Unprovable};
use crate::plan::cleanup::{CleanupAction, CleanupInput, Gone, Target};
use crate::plan::{LeftAlone, Mode, Observation};
use crate::progress::Reporter;
use crate::render;
use crate::state::{self, LockGuard};

pub async fn run(ctx: &Ctx, settings: &CleanupSettings) -> anyhow::Result<ExitStatus> {
    let subjects = subjects(&settings.target)?;
    let mut providers = Providers::new(ctx);
    // Read once to learn which state files the plan changes, lock those,
    // then read again under the locks: what is carried out is what was read.
    let (gathered, seen) = look(&mut providers, &subjects).await?;
    let input = cleanup_input(settings, &gathered, &seen);
    let to_lock = states_changed(&input);
    let guards = if settings.dry_run {
        Vec::new()
    } else {
        lock(&to_lock, &gathered, settings.lock)?
    };
    let (gathered, seen) = look(&mut providers, &subjects).await?;
    let input = cleanup_input(settings, &gathered, &seen);
    if !settings.dry_run && states_changed(&input).iter().any(|s| !to_lock.contains(s)) {
        bail!("the state files changed while rpd locked them; run `rpd cleanup` again");
    }
    refuse_untracked_without_registry(&settings.target, &subjects, &input)?;
    // Named, left alone, and the exit status says so.
    let mut failed = gathered.report_unreadable(ctx);
    failed |= inventory::report_other_keys(ctx, &seen);
    failed |= refuse_unprovable(ctx, &settings.target, &gathered, &input);
    let plan = crate::plan::cleanup::plan(&input);
    let title = title(&settings.target);
    crate::say_raw!(
        "{}",
        render::text::render(&plan, &title, &ctx.stdout_palette())
    );
    let status = |failed: bool| {
        if failed {
            ExitStatus::Error
        } else {
            ExitStatus::Success
        }
    };
    if !plan.report.errors.is_empty() {
        bail!("the plan has errors: nothing was deleted or stopped");
    }
    if plan.is_empty() {
        return Ok(status(failed));
    }
    if settings.dry_run {
        crate::say!();
        crate::say!("Dry run: nothing was changed.");
        return Ok(status(failed));
    }
    if !settings.auto_approve {
        if !ctx.stdin_tty {
            bail!(
                "standard input is not a terminal, so rpd cannot ask for confirmation\n  = help: review the plan with `rpd cleanup --dry-run ...`, then pass -y/--yes to clean up without asking"
            );
        }
        if !crate::commands::apply::confirm(ctx, Mode::Cleanup) {
            crate::note!("\nCleanup cancelled.");
            return Ok(ExitStatus::Error);
        }
    }
    // From here an interrupt finishes the step in flight and records it.
    let interrupt = Interrupt::install();
    crate::say!();
    let states = cleanup_states(&gathered, &seen);
    let reporter = Reporter::new("cleanup", false);
    let report = carry_out(&plan, states, &reporter, &interrupt).await;
    drop(guards);
    record_in_registry(ctx, &report.changed_states);
    let p = ctx.stdout_palette();
    for failure in &report.failures {
        ctx.error(&anyhow::anyhow!("{failure}"));
    }
    let counts = format!(
        "Pods: {} destroyed, {} stopped, {} forgotten (already gone).",
        report.deleted, report.stopped, report.forgotten
    );
    if report.interrupted {
        crate::say!("{} {counts}", p.remove.apply_to("Cleanup interrupted."));
        return Ok(ExitStatus::Interrupted);
    }
    if report.failures.is_empty() {
        crate::say!("{} {counts}", p.add.apply_to("Cleanup complete!"));
        Ok(status(failed))
    } else {
        crate::say!("{} {counts}", p.remove.apply_to("Cleanup incomplete."));
        Ok(ExitStatus::Error)
    }
}

/// `--untracked` means "pods no state tracks", which rpd can prove only
/// when it read every registered state: with one unreadable or gone, the
/// pods it may track are left alone and the states named (exit 1).
fn refuse_unprovable(
    ctx: &Ctx,
    target: &CleanupTarget,
    gathered: &Gathered,
    input: &CleanupInput,
) -> bool {
    let CleanupTarget::Stopped {
        untracked: true,
        all: false,
        ..
    } = target
    else {
        return false;
    };
    if gathered.unread.is_empty() {
        return false;
    }
    let left_alone: usize = input
        .left_alone
        .iter()
        .filter(|(why, _)| {
            *why == LeftAlone::Unproven {
                why: Unprovable::StateUnread,
            }
        })
        .map(|(_, n)| n)
        .sum();
    ctx.error(&anyhow::anyhow!(
        "{}",
        render::words::hygiene::unread_states(&gathered.unread_states(), left_alone)
    ));
    true
}

/// With no config in rpd's registry (a registry moved away, another
/// RPD_DATA_DIR, a new machine), every pod rpd created looks untracked,
/// paused pods whose state files still track them included: `--untracked`
/// says so rather than only leaving them alone.
fn refuse_untracked_without_registry(
    target: &CleanupTarget,
    subjects: &[inventory::Subject],
    input: &CleanupInput,
) -> anyhow::Result<()> {
    let untracked_only = matches!(
        target,
        CleanupTarget::Stopped {
            untracked: true,
            all: false,
            ..
        }
    );
    let left_alone = input.left_alone.iter().any(|(why, n)| {
        *n > 0
            && *why
                == LeftAlone::Unproven {
                    why: Unprovable::UnknownLineage,
                }
    });
    if untracked_only && subjects.is_empty() && left_alone {
        bail!(
            "rpd's registry ({}) lists no config, so every pod rpd created looks untracked, paused pods that a config's state file still tracks included\n  = help: record the configs you use first with `rpd refresh CONFIG...` (changes no pod), then run this again; `rpd ls-stale` lists the pods",
            crate::registry::RegistryFile::default_file()
                .path()
                .display()
        );
    }
    Ok(())
}

fn title(target: &CleanupTarget) -> String {
    match target {
        CleanupTarget::StateFiles { paths, .. } => paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        CleanupTarget::Stopped { all: true, .. } => "every stopped pod of the account".into(),
        CleanupTarget::Stopped {
            untracked: true, ..
        } => "rpd's stopped pods, untracked ones included".into(),
        CleanupTarget::Stopped { .. } => "the stopped pods rpd's state files track".into(),
    }
}

/// `--state-file`: those files (each must exist); else every registered config.
fn subjects(target: &CleanupTarget) -> anyhow::Result<Vec<Subject>> {
    let CleanupTarget::StateFiles { paths, .. } = target else {
        return Ok(inventory::registered()?
            .iter()
            .map(Subject::of_entry)
            .collect());
    };
    let mut subjects = Vec::new();
    for path in paths {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
        let Some(loaded) = state::read(&path)? else {
            bail!(
                "no state file at {}\n  = help: `rpd status` lists the state files rpd knows",
                path.display()
            );
        };
        let owner = loaded.state.owner.clone();
        subjects.push(Subject {
            config: owner
                .as_ref()
                .map_or_else(|| path.clone(), |o| o.config.clone()),
            job_name: owner.map(|o| o.job_name).unwrap_or_default(),
            state_file: path,
            lifecycle: None,
            runs_dir: None,
            registered_pods: Vec::new(),
            lineage: None,
            past_lineages: Vec::new(),
            provider: None,
            shown: true,
        });
    }
    Ok(subjects)
}

async fn look(providers: &mut Providers, subjects: &[Subject]) -> anyhow::Result<(Gathered, Seen)> {
    let gathered = inventory::gather(subjects)?;
    let seen = inventory::observe(providers, subjects, &gathered).await?;
    Ok((gathered, seen))
}

/// What the flags select, as the planner's input.
fn cleanup_input(settings: &CleanupSettings, gathered: &Gathered, seen: &Seen) -> CleanupInput {
    let now = chrono::Utc::now();
    let known = &gathered.known;
    let observed = &seen.observed;
    let mut gone: Vec<Gone> = known
        .tracked
        .iter()
        .filter(|(id, _)| matches!(observed.get(*id), Some(Observation::Gone)))
        .filter_map(|(id, tracked)| match &tracked.owner {
            Ownership::Tracked { state_file, .. } => Some(Gone {
                pod_id: id.clone(),
                state_file: state_file.clone(),
            }),
            _ => None,
        })
        .collect();
    gone.sort_by(|a, b| a.pod_id.cmp(&b.pod_id));
    let target = |pod: &crate::model::ObservedPod, owner, action| Target {
        action,
        owner,
        stopped_since: known.stopped_since(pod),
        uncollected_job: known.uncollected_job(&pod.id).cloned(),
        pod: pod.clone(),
    };
    let (targets, left_alone) = match &settings.target {
        CleanupTarget::StateFiles { mode, .. } => {
            let action = match mode {
                CleanupMode::Delete => Some(CleanupAction::Delete),
                CleanupMode::Stop => Some(CleanupAction::Stop),
                CleanupMode::Preserve => None,
            };
            let mut ids: Vec<&String> = known.tracked.keys().collect();
            ids.sort();
            let targets = ids
                .into_iter()
                .filter_map(|id| observed.get(id).and_then(Observation::pod))
                .filter_map(|pod| Some(target(pod, known.ownership(pod), action?)))
                .collect();
            (targets, Vec::new())
        }
        CleanupTarget::Stopped {
            older_than_days,
            untracked,
            all,
        } => {
            let stale = stale_pods(&seen.pods, known, now);
            let selection = select(
                &stale,
                Scope {
                    untracked: *untracked,
                    all: *all,
                    older_than_days: *older_than_days,
                },
            );
            let targets = selection
                .selected
                .into_iter()
                .map(|s| target(&s.pod, s.owner, CleanupAction::Delete))
                .collect();
            (targets, selection.left_alone)
        }
    };
    CleanupInput {
        targets,
        gone,
        left_alone,
        pointers: gathered.pointers.clone(),
        force: settings.force,
        now,
    }
}

/// The state files a cleanup of `input` writes.
fn states_changed(input: &CleanupInput) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = input
        .targets
        .iter()
        .filter_map(|t| match &t.owner {
            Ownership::Tracked { state_file, .. } => Some(state_file.clone()),
            _ => None,
        })
        .chain(input.gone.iter().map(|g| g.state_file.clone()))
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Locks each state file; a lock clash names the config (what
/// `force-unlock` takes) where the registry knows it.
fn lock(
    files: &[PathBuf],
    gathered: &Gathered,
    lock: LockSettings,
) -> anyhow::Result<Vec<LockGuard>> {
    files
        .iter()
        .map(|file| {
            let shown = file.display().to_string();
            let config = gathered
                .facts
                .iter()
                .find(|f| &f.state_file == file)
                .map_or_else(|| shown.clone(), |f| f.config.display().to_string());
            state::acquire(file, "cleanup", &config, lock.timeout, |_| {})
                .with_context(|| format!("locking {shown}"))
        })
        .collect()
}

fn cleanup_states(gathered: &Gathered, seen: &Seen) -> CleanupStates {
    let mut states = CleanupStates {
        pointers: gathered.pointers.clone(),
        providers: seen.seen_by.clone(),
        ..CleanupStates::default()
    };
    for facts in &gathered.facts {
        if let Some(state) = &facts.state {
            states
                .states
                .insert(facts.state_file.clone(), state.clone());
        }
    }
    for (id, tracked) in &gathered.known.tracked {
        if let Ownership::Tracked { state_file, .. } = &tracked.owner {
            states.tracked_by.insert(id.clone(), state_file.clone());
        }
    }
    states
}

/// Keeps the registry's pod ids in step with the state files a cleanup
/// changed (a warning if it cannot: the entries are there, and the state
/// files are the truth about their pods).
fn record_in_registry(ctx: &Ctx, changed: &[PathBuf]) {
    if changed.is_empty() {
        return;
    }
    let result = crate::registry::RegistryFile::default_file().update(|registry| {
        for path in changed {
            let pod_ids = state::read(path)
                .ok()
                .flatten()
                .map(|l| {
                    l.state
                        .pod_ids()
                        .into_iter()
                        .map(String::from)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            if let Some(entry) = registry.entries.iter_mut().find(|e| &e.state_file == path) {
                entry.pod_ids = pod_ids;
            }
        }
    });
    if let Err(err) = result {
        ctx.warn(&format!("{err}"));
    }
}
