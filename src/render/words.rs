//! The sentence for every typed entry of a plan report, in one place: the
//! text plan prints them, the JSON plan carries them as `message`, and the
//! Markdown plan prints them too.

mod errors;
pub mod hygiene;
mod outliving;
mod review;
mod steps;
pub mod telemetry;

pub use errors::{invalid_candidate, local_problem, missing_ssh_key, plan_error};
pub use review::{broken_seal, config_change, configs_summary, old_pod, stale_cause};
pub use steps::{cost_line, step};

use crate::model::{BusyHostPolicy, InPlaceUpdates, NoSandbox, Outcome, Storage, Usd};
use crate::plan::{
    BusyHost, FieldNote, FieldValue, LeftAlone, Note, Plan, PodAction, Reason, SetBy, StateChange,
    Summary, Warning,
};

/// Why a step is taken or the pod changes.
pub fn reason(reason: &Reason) -> String {
    match reason {
        Reason::NoPodRecorded => "no pod recorded".into(),
        Reason::DeletedOutsideRpd { pod_id } => format!("{pod_id} was deleted outside rpd"),
        Reason::ReplaceRequested => "replaced, as requested".into(),
        Reason::InError { pod_id } => format!("{pod_id} is in ERROR"),
        Reason::FieldsCannotChange { fields } => {
            format!("{} cannot change on an existing pod", and_list(fields))
        }
        Reason::ProviderCannotUpdate { fields, because } => format!(
            "{} could change in place, but {}",
            and_list(fields),
            no_in_place_update(because)
        ),
        Reason::UpdateInPlace { pod_id, fields } => {
            format!(
                "{} can change on {pod_id} itself: its volume is kept",
                and_list(fields)
            )
        }
        Reason::Replaces { pod_id } => format!("replaces {pod_id}"),
        Reason::ResumePaused { pod_id } => format!("resume paused pod {pod_id}"),
        Reason::AlreadyRunning { pod_id } => format!("{pod_id} is already running"),
        Reason::UntrackedFromInterruptedCreate { name } => {
            format!("untracked pod named {name:?} from an interrupted create")
        }
        Reason::FoundByInterruptedCreateName { name } => {
            format!("found by the name {name:?} of an interrupted create")
        }
        Reason::InterruptedCreateSettled => "the interrupted create is settled".into(),
        Reason::InterruptedUpdateSettled => {
            "read from the live pod, never sent again blindly".into()
        }
        Reason::SecretValuesHidden => "values never shown".into(),
        Reason::IncrementalStaging => "incremental".into(),
        Reason::KeptToResume => "kept to resume next time".into(),
        Reason::KeptForForensics => "kept for forensics; the next apply creates a fresh pod".into(),
        Reason::KeepsBilling => "it keeps billing".into(),
        Reason::RetainedPodGone { pod_id } => format!("retained pod {pod_id} no longer exists"),
        Reason::DestroyRequested => "destroy requested".into(),
        Reason::NoStateRecorded => "no state recorded for this config".into(),
        Reason::AlreadyDeletedOutsideRpd { pod_id } => {
            format!("{pod_id} was already deleted outside rpd")
        }
        Reason::Retained {
            since,
            because,
            status,
        } => format!(
            "retained since {} ({because}), {status}",
            since.format("%Y-%m-%d")
        ),
        Reason::CreatedByInterruptedApply => "created by an interrupted apply".into(),
        Reason::NothingLeftToTrack => "nothing left to track".into(),
        Reason::Cleanup {
            name,
            owner,
            status,
            stopped_days,
            volume_gb,
            per_day,
        } => {
            let state = match (status, stopped_days) {
                (crate::model::PodStatus::Exited, Some(days)) => {
                    format!("stopped {}", hygiene::days(*days))
                }
                (crate::model::PodStatus::Exited, None) => "stopped since an unknown time".into(),
                (status, _) => status.as_str().to_lowercase(),
            };
            let volume = match volume_gb {
                Some(gb) if *per_day > 0.0 => format!(", {gb} GB volume ({}/day)", Usd(*per_day)),
                Some(gb) => format!(", {gb} GB volume"),
                None => String::new(),
            };
            format!("{name:?}, {state}{volume}; {}", hygiene::owner(owner))
        }
        Reason::NothingToCleanUp => "nothing to clean up".into(),
    }
}

pub fn warning(warning: &Warning) -> String {
    match warning {
        Warning::FallbackIsOwnCloud { cloud } => {
            format!("--fallback-cloud-type {cloud} is the config's own cloud_type: ignored")
        }
        Warning::FallbackWithAllClouds { cloud } => format!(
            "--fallback-cloud-type {cloud} is ignored: cloud_type ALL already tries every candidate on SECURE, then the same places on COMMUNITY"
        ),
        Warning::FallbackWithNetworkVolume => "--fallback-cloud-type is ignored with a network volume: network volumes need SECURE pods".into(),
        Warning::NoStock => "no candidate (datacenter x GPU) has stock right now: a create will fail unless stock returns; add datacenters or GPUs to the config".into(),
        Warning::InterruptedCreateAdopted {
            name,
            started_at,
            pod_id,
        } => format!(
            "a create of pod {name:?} was interrupted at {}; the provider has it as {pod_id}: rpd adopts it",
            started_at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Warning::PreserveKeepsBilling { when, per_hr } => {
            let rate = per_hr
                .map(|r| format!(" (~{}/hr)", Usd(r)))
                .unwrap_or_default();
            format!(
                "lifecycle.{}: preserve leaves the pod running after the job: it keeps billing{rate} until you delete it",
                lifecycle_key(*when)
            )
        }
        Warning::CatalogUnreadable { error } => {
            format!("could not read the catalog (stock and prices unknown): {error}")
        }
        Warning::VolumesUnreadable { error } => format!(
            "could not list the network volumes (the volume is checked when the pod is created): {error}"
        ),
        Warning::SimulatorUnsandboxed { why } => {
            let (reason, fix) = match why {
                NoSandbox::TurnedOff => (
                    "RPD_SIM_SANDBOX=off".to_string(),
                    "unset RPD_SIM_SANDBOX",
                ),
                NoSandbox::NotInstalled => (
                    "bubblewrap is not installed".to_string(),
                    "install bubblewrap (bwrap, e.g. apt-get install bubblewrap; it runs without root)",
                ),
                NoSandbox::Refused { error } => (
                    format!("bwrap cannot make a sandbox here: {error}"),
                    "allow unprivileged user namespaces (bwrap makes its sandbox in one)",
                ),
            };
            format!(
                "the simulator runs the job's commands (setup, preflight, the job, its guard) on this machine without a sandbox ({reason}): they can change any file you can, and only the volume mount, /root and /tmp in their text are kept to the simulated pod; to keep them to the simulator's directory, {fix}"
            )
        }
        Warning::LockHeld(holder) => format!(
            "another rpd holds this config's lock ({} by {} since {}): this plan may change under it",
            holder.operation,
            holder.who,
            holder.since.format("%H:%M:%S UTC")
        ),
        Warning::JobLeftOnPod {
            pod_id,
            launched_at,
            run_dir,
            running,
            billed_sec,
            per_hr,
            lost,
        } => {
            let when = launched_at.format("%Y-%m-%d %H:%M:%S UTC");
            let state = if *running {
                let cost = per_hr
                    .map(|r| {
                        format!(
                            ", ~{} at {}/hr",
                            Usd(r * *billed_sec as f64 / 3600.0),
                            Usd(r)
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "may have finished or may still be running; the pod has billed since then ({}{cost})",
                    crate::model::duration(*billed_sec)
                )
            } else {
                "was stopped with the pod; its log is on the pod's volume".into()
            };
            let next = if *lost {
                "this plan deletes the pod, and the job's log, artifacts and exit status with it: collect them first with `rpd attach` (or read the log with `rpd logs`)"
                    .to_string()
            } else {
                format!(
                    "the next apply pulls its log into {} before it starts its own job",
                    run_dir.display()
                )
            };
            format!("a job that an earlier apply launched on pod {pod_id} at {when} and no rpd collected {state}; {next}")
        }
        Warning::DeletesPodsNotRpds { count } => format!(
            "--all: this deletes {count} pod{} that rpd did not create",
            if *count == 1 { "" } else { "s" }
        ),
    }
}

/// Why the provider cannot change a pod in place.
pub fn no_in_place_update(because: &InPlaceUpdates) -> String {
    match because {
        InPlaceUpdates::Supported => "the provider can".into(),
        InPlaceUpdates::RunpodctlWithoutUpdate { version } => format!(
            "runpodctl {version} has no `pod update` command (a newer runpodctl or --provider runpod updates in place)"
        ),
        InPlaceUpdates::RunpodctlHelpUnreadable { version, error } => format!(
            "`runpodctl pod --help` (runpodctl {version}) could not be read to find its `pod update` command ({error})"
        ),
    }
}

/// What a resume does when its host has no free GPU.
pub fn busy_host(pod_id: &str, busy: &BusyHost) -> String {
    let replace = format!(
        "delete {pod_id} (its volume is lost) and create on the candidates if one has stock; with none, keep it paused and stop"
    );
    let wait = if busy.wait_ms < 1000 {
        format!("{}ms", busy.wait_ms)
    } else {
        crate::model::duration(busy.wait_ms / 1000)
    };
    let by = match busy.set_by {
        SetBy::Default => String::new(),
        SetBy::Config => format!(" (lifecycle.on_busy_host: {})", busy.policy),
        SetBy::Flag => format!(" (--on-busy-host {})", busy.policy),
    };
    if busy.holds_job {
        let what = match busy.policy {
            BusyHostPolicy::Fail => format!("keep it paused and stop{by}"),
            BusyHostPolicy::Wait | BusyHostPolicy::Recreate => {
                format!("try again for up to {wait}, then keep it paused and stop")
            }
        };
        return format!(
            "if its host has no free GPU: {what}: it holds the job an earlier apply launched, which is collected on this pod only (never deleted or replaced for it, whatever on_busy_host says)"
        );
    }
    let what = match busy.policy {
        BusyHostPolicy::Wait => format!("try again for up to {wait}, then {replace}"),
        BusyHostPolicy::Recreate => replace,
        BusyHostPolicy::Fail => "keep it paused and stop".into(),
    };
    format!("if its host has no free GPU: {what}{by}")
}

pub fn note(note: &Note) -> String {
    match note {
        Note::ResumeWipesContainerDisk {
            volume_mount: mount,
            setup_runs_again,
        } => {
            let setup = if *setup_runs_again {
                ", so setup runs again"
            } else {
                ""
            };
            format!(
                "a resumed pod keeps {mount} (its volume); its container disk (apt packages, caches outside {mount}) was wiped when it stopped{setup}"
            )
        }
        Note::UpdateRestartsContainer {
            volume_mount: mount,
            new_image,
            setup_runs_again,
        } => {
            let image = if *new_image {
                " with the new image"
            } else {
                ""
            };
            let setup = if *setup_runs_again {
                ", setup runs again"
            } else {
                ""
            };
            format!(
                "the container restarts{image}: {mount} is kept, the container disk is wiped{setup}"
            )
        }
        Note::RunpodDeployPointer { state_file } => format!(
            "{} is a runpod-deploy pointer: rpd adopts it and rewrites it in its own format (keeping the pod_id, gpu_id, image and datacenter_id keys) on apply",
            state_file.display()
        ),
        Note::AttachesToLeftJob {
            pod_id,
            launched_at,
            detached,
        } => outliving::attaches(pod_id, launched_at, *detached),
        Note::ChangeWaitsForJob { pod_id, fields } => format!(
            "the config changed ({}), but the job an earlier apply launched on pod {pod_id} has not been collected: this apply collects it on the pod as it is, and the next apply makes the change (`rpd apply --replace` replaces the pod now, and the job's results with it)",
            fields.join(", ")
        ),
        Note::GuardStopsPod {
            deadline_at,
            max_runtime,
            grace_sec,
        } => outliving::guard_stops_pod(deadline_at, *max_runtime, *grace_sec),
        Note::CommunityMayLackDirectSsh { grace_sec } => format!(
            "COMMUNITY machines without a public IP give a pod SSH only through RunPod's proxy, which rsync cannot use: a pod this apply creates there that runs {} without direct SSH is deleted and the next candidate tried (--direct-ssh-grace)",
            crate::model::duration(*grace_sec)
        ),
        Note::StaleLock(holder) => format!(
            "this config's lock was left by a run that is gone ({} by {}, pid {} on {}, since {}): the next apply takes it over",
            holder.operation,
            holder.who,
            holder.pid,
            holder.host,
            holder.since.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Note::PausedFor {
            pod_id,
            since,
            days,
            per_day,
            per_month,
        } => format!(
            "pod {pod_id} was last used {} ago (paused since {}); its volume bills {}/day ({}/month) while it is paused",
            hygiene::days(*days),
            since.format("%Y-%m-%d"),
            Usd(*per_day),
            Usd(*per_month)
        ),
        Note::CleanupLeftAlone {
            count,
            why: LeftAlone::UnknownStatus,
        } => format!(
            "{} in a status rpd does not know left alone: rpd cannot tell whether {} or {} (see `rpd status`, or the RunPod console)",
            if *count == 1 {
                "1 pod".to_string()
            } else {
                format!("{count} pods")
            },
            if *count == 1 { "it runs" } else { "they run" },
            if *count == 1 { "bills" } else { "bill" },
        ),
        Note::CleanupLeftAlone { count, why } => {
            let pods = if *count == 1 {
                "1 stopped pod".to_string()
            } else {
                format!("{count} stopped pods")
            };
            match why {
                LeftAlone::NotRpds => {
                    format!("{pods} that rpd did not create left alone (--all includes them)")
                }
                LeftAlone::Untracked => format!(
                    "{pods} that rpd created but no state tracks left alone (--untracked includes them)"
                ),
                LeftAlone::Unproven {
                    why: crate::model::Unprovable::StateUnread,
                } => format!(
                    "{pods} that rpd created and no state rpd read tracks left alone: rpd cannot prove that none tracks them while a registered state cannot be read (--all includes them)"
                ),
                LeftAlone::Unproven {
                    why: crate::model::Unprovable::UnknownLineage,
                } => format!(
                    "{pods} that rpd created for a state this registry does not know left alone: a state registered elsewhere (another RPD_DATA_DIR or machine) may track them; `rpd import CONFIG POD` adopts one (--all includes them)"
                ),
                LeftAlone::UnknownStopTime => format!(
                    "{pods} with no known stop time left alone: no --older-than can match them (--older-than 0 includes them)"
                ),
                LeftAlone::StoppedRecently { older_than_days } => format!(
                    "{pods} stopped less than {} ago left alone (--older-than)",
                    hygiene::days(*older_than_days)
                ),
                LeftAlone::UnknownStatus => unreachable!("worded above"),
            }
        }
    }
}

pub fn state_change(change: &StateChange) -> String {
    match change {
        StateChange::RecordAdoptedPod { pod_id } => {
            format!("record pod {pod_id} from the interrupted create")
        }
        StateChange::ForgetInterruptedCreate { name } => {
            format!("forget the interrupted create of {name:?} (no untracked pod has that name)")
        }
        StateChange::ForgetRetainedPod { pod_id } => {
            format!("forget retained pod {pod_id} (it no longer exists)")
        }
        StateChange::RecordInterruptedUpdate { pod_id } => {
            format!("record the interrupted update of pod {pod_id} (the pod has it)")
        }
        StateChange::ForgetInterruptedUpdate { pod_id } => format!(
            "forget the interrupted update of pod {pod_id} (the pod does not have it; the plan compares it with the config afresh)"
        ),
        StateChange::ForgetPod { pod_id } => format!("forget pod {pod_id} (it no longer exists)"),
        StateChange::ForgetCollectedJob {
            pod_id,
            launched_at,
            run_dir,
        } => format!(
            "forget the job launched on pod {pod_id} at {}: an earlier apply collected it ({} says so) but could not record that; this apply runs the job",
            launched_at.format("%Y-%m-%d %H:%M:%S UTC"),
            run_dir.display()
        ),
        StateChange::RemoveStateFile => "remove the state file".into(),
        StateChange::ForgetPodIn { pod_id, state_file } => {
            format!("forget pod {pod_id} in {}", state_file.display())
        }
        StateChange::RemovePointer { state_file } => format!(
            "remove the runpod-deploy pointer {} (its pod is deleted)",
            state_file.display()
        ),
    }
}

/// What goes with the pod a replace or destroy deletes.
pub fn replacement_loses(plan: &Plan) -> String {
    match &plan.report.pod.deleted_storage {
        Some(Storage::Ephemeral { volume_gb, mount }) => {
            format!("its volume ({volume_gb} GB at {mount}) is lost")
        }
        Some(Storage::NetworkVolume { volume_name, .. }) => {
            format!("the network volume {volume_name:?} is kept")
        }
        None => "its volume disk is lost".into(),
    }
}

/// What a replacement of the config's pod means: "image change forces
/// replacement of the recycled pod: its volume (20 GB at /workspace) is lost".
pub fn replacement_sentence(plan: &Plan, pod_word: &str) -> Option<String> {
    let pod = &plan.report.pod;
    if !matches!(pod.action, PodAction::Replace | PodAction::ReplaceRequested) {
        return None;
    }
    let fields: Vec<String> = pod
        .fields
        .iter()
        .filter(|f| f.forces_replacement)
        .map(|f| f.field.clone())
        .collect();
    let what = match fields.as_slice() {
        [] => format!("{} forces", reason(&pod.reason)),
        [one] => format!("{one} change forces"),
        many => format!("{} changes force", and_list(many)),
    };
    Some(format!(
        "{what} replacement of the {pod_word}: {}",
        replacement_loses(plan)
    ))
}

/// An attribute's value as the plan shows it: strings quoted, lists in
/// brackets.
pub fn field_value(value: &FieldValue) -> String {
    match value {
        FieldValue::Text(text) => format!("{text:?}"),
        FieldValue::Number(n) => n.to_string(),
        FieldValue::List(items) => list(items),
        FieldValue::OneOf { one_of } => match one_of.as_slice() {
            [one] => format!("{one:?}"),
            many => format!("one of {}", list(many)),
        },
        FieldValue::Absent => "(none)".into(),
    }
}

pub fn field_note(note: FieldNote) -> &'static str {
    match note {
        FieldNote::FirstWithStock => "first with stock, see candidates",
        FieldNote::StartedOutsideRpd => "started outside rpd: it is billing",
        FieldNote::VolumeShrinkLosesData => {
            "a volume cannot shrink: the new pod's volume starts empty, its data is lost"
        }
    }
}

/// The frozen summary line (README "Output contract").
pub fn summary_line(summary: &Summary) -> String {
    format!(
        "Plan: {} to create, {} to resume, {} to destroy, {} to stop.",
        summary.create, summary.resume, summary.destroy, summary.stop
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The config key of a lifecycle outcome.
fn lifecycle_key(when: Outcome) -> &'static str {
    match when {
        Outcome::Success => "on_success",
        Outcome::Failure => "on_failure",
    }
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::LockHolder;

    #[test]
    fn a_held_lock_names_the_operation_the_holder_and_the_time() {
        let holder = LockHolder {
            operation: "apply".into(),
            who: "ana@laptop".into(),
            since: "2026-11-27T10:00:00Z".parse().unwrap(),
            pid: 4242,
            host: "laptop".into(),
        };
        assert_eq!(
            warning(&Warning::LockHeld(holder)),
            "another rpd holds this config's lock (apply by ana@laptop since 10:00:00 UTC): this plan may change under it"
        );
    }

    #[test]
    fn a_stale_lock_says_whose_it_was_and_that_apply_takes_it_over() {
        let holder = LockHolder {
            operation: "apply".into(),
            who: "ana@laptop".into(),
            since: "2026-11-27T10:00:00Z".parse().unwrap(),
            pid: 4242,
            host: "laptop".into(),
        };
        assert_eq!(
            note(&Note::StaleLock(holder)),
            "this config's lock was left by a run that is gone (apply by ana@laptop, pid 4242 on laptop, since 2026-11-27 10:00:00 UTC): the next apply takes it over"
        );
    }

    #[test]
    fn values_read_like_the_config() {
        let ports = FieldValue::List(vec!["22/tcp".into(), "8888/http".into()]);
        assert_eq!(field_value(&ports), "[\"22/tcp\", \"8888/http\"]");
        let gpus = FieldValue::OneOf {
            one_of: vec!["NVIDIA A40".into(), "NVIDIA L40S".into()],
        };
        assert_eq!(
            field_value(&gpus),
            "one of [\"NVIDIA A40\", \"NVIDIA L40S\"]"
        );
        let one = FieldValue::OneOf {
            one_of: vec!["EU-RO-1".into()],
        };
        assert_eq!(field_value(&one), "\"EU-RO-1\"");
        assert_eq!(field_value(&FieldValue::Number(20)), "20");
        assert_eq!(field_value(&FieldValue::Absent), "(none)");
    }

    #[test]
    fn fields_that_cannot_change_are_listed_in_prose() {
        let fields = vec!["image".into(), "gpu".into(), "volume_gb".into()];
        assert_eq!(
            reason(&Reason::FieldsCannotChange { fields }),
            "image, gpu and volume_gb cannot change on an existing pod"
        );
    }
}
