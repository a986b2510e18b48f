//! The words for what makes a plan impossible: plan errors, the local
//! inputs a job cannot run with, the candidates the catalog rules out and a
//! missing SSH key.

use super::and_list;
use crate::model::{InvalidCandidate, KeyPart};
use crate::plan::{FolderOverlap, LocalPlace, LocalProblem, MissingSshKey, PlanError, SharedWith};

/// Why the plan cannot be carried out.
pub fn plan_error(error: &PlanError) -> String {
    match error {
        PlanError::NoValidCandidate { candidates } => format!(
            "no candidate can take the pod: the catalog rules out {} (see why beside each), so nothing would be created; fix pod.gpu_order, pod.datacenters, pod.gpu_count or storage.volume_name in the config",
            if *candidates == 1 {
                "the only one".to_string()
            } else {
                format!("all {candidates}")
            }
        ),
        PlanError::SshKeyMissing(key) => missing_ssh_key(key),
        PlanError::OtherApiKey {
            recorded,
            current,
            pods,
            pending_create,
            state_file,
        } => {
            let mut unseen: Vec<String> = pods.iter().map(|p| format!("pod {p}")).collect();
            unseen.extend(
                pending_create
                    .iter()
                    .map(|name| format!("the pod of the interrupted create {name:?}")),
            );
            format!(
                "{} was made with another RunPod API key ({recorded}; this one is {current}), and RunPod does not find {} with this key: its 404 means \"not found or not accessible to the caller\", so rpd will not take {} for deleted (it may still be billing on the other key's account)\n  = help: use the API key the state was made with (RUNPOD_API_KEY or ~/.runpod/config.toml); if the pods really are gone, move {} away and plan again",
                state_file.display(),
                and_list(&unseen),
                if unseen.len() == 1 { "it" } else { "them" },
                state_file.display()
            )
        }
        PlanError::SharedLocalFolder { what, path, with } => shared_folder(what, path, with),
        PlanError::UncollectedJob {
            pod_id,
            config,
            launched_at,
            delete,
        } => format!(
            "pod {pod_id} holds a job launched at {} that no rpd collected: {}\n  = help: collect it first with `rpd attach {}`, or pass --force to clean the pod up anyway",
            launched_at.format("%Y-%m-%d %H:%M:%S UTC"),
            if *delete {
                "deleting the pod loses the job's log, artifacts and exit status"
            } else {
                "stopping the pod ends the job if it still runs"
            },
            config.display()
        ),
        PlanError::UnknownPodStatus { pod_id, status } => format!(
            "pod {pod_id} is in a status rpd does not know ({}): rpd cannot tell whether it runs or bills, so it creates, updates, stops and deletes nothing around it\n  = help: look at the pod in the RunPod console (or `rpd status`); once it reads a status rpd knows (RUNNING, EXITED, ...), plan again. An rpd newer than {} may know it",
            match status {
                Some(word) => format!("RunPod says {word:?}"),
                None => "RunPod sent none".to_string(),
            },
            env!("CARGO_PKG_VERSION")
        ),
        PlanError::LocalInput(problem) => local_problem(problem),
    }
}

/// A local place of this config that other configs of the apply write too.
fn shared_folder(what: &LocalPlace, path: &std::path::Path, with: &[SharedWith]) -> String {
    let theirs = |w: &SharedWith| match &w.what {
        LocalPlace::RunDirectory => format!("the run directory of {}", w.config),
        LocalPlace::Artifact { label } => {
            format!("the destination of artifact {label:?} of {}", w.config)
        }
    };
    let how = match with {
        [one] => match one.overlap {
            FolderOverlap::Same => format!("is {} too", theirs(one)),
            FolderOverlap::Inside => format!("is inside {}, {}", one.path.display(), theirs(one)),
            FolderOverlap::Holds => format!("holds {}, {}", one.path.display(), theirs(one)),
        },
        many => {
            let mut configs: Vec<&str> = many.iter().map(|w| w.config.as_str()).collect();
            configs.dedup();
            let shown: Vec<String> = configs.iter().take(3).map(|c| c.to_string()).collect();
            let more = match configs.len().saturating_sub(3) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            format!(
                "is written by {} other configs of this apply too ({}{more})",
                configs.len(),
                shown.join(", ")
            )
        }
    };
    let label = match what {
        LocalPlace::Artifact { label } => label.as_str(),
        LocalPlace::RunDirectory => with
            .iter()
            .find_map(|w| match &w.what {
                LocalPlace::Artifact { label } => Some(label.as_str()),
                LocalPlace::RunDirectory => None,
            })
            .unwrap_or("results"),
    };
    format!(
        "{} {} {how}: applied together, one run's pull would delete or overwrite another's results\n  = help: give each config its own local_path (e.g. \"{{run_dir}}/{label}/\", inside the run's own directory), or apply them one at a time",
        place(what),
        path.display()
    )
}

/// A local place as an error names it, before its path.
fn place(what: &LocalPlace) -> String {
    match what {
        LocalPlace::RunDirectory => "the run directory".to_string(),
        LocalPlace::Artifact { label } => format!("artifact {label:?}: the destination"),
    }
}

/// A local input the job cannot run with.
pub fn local_problem(problem: &LocalProblem) -> String {
    match problem {
        LocalProblem::StagingSourceMissing { label, source } => {
            format!("staging {label:?}: the source {source} does not exist")
        }
        LocalProblem::SecretEnvUnset { secret, variable } => format!(
            "secret {secret:?}: the environment variable {variable} is not set here; export it before rpd apply"
        ),
        LocalProblem::SecretFileUnreadable {
            secret,
            path,
            error,
        } => format!("secret {secret:?}: cannot read {}: {error}", path.display()),
        LocalProblem::RequiredPathMissing { path } => {
            format!("local.required_paths: {} does not exist", path.display())
        }
        LocalProblem::NotWritable {
            what,
            path,
            blocker,
            error,
        } => {
            format!(
                "{} {} cannot be written: {}: {error}",
                place(what),
                path.display(),
                blocker.display()
            )
        }
    }
}

/// Why the catalog rules a candidate out.
pub fn invalid_candidate(invalid: &InvalidCandidate) -> String {
    let did_you_mean = |s: &Option<String>| {
        s.as_ref()
            .map(|s| format!("; did you mean {s:?}?"))
            .unwrap_or_default()
    };
    match invalid {
        InvalidCandidate::UnknownGpu { suggestion } => {
            format!(
                "RunPod has no GPU type of this id{}",
                did_you_mean(suggestion)
            )
        }
        InvalidCandidate::UnknownDatacenter { suggestion } => {
            format!(
                "RunPod has no datacenter of this id{}",
                did_you_mean(suggestion)
            )
        }
        InvalidCandidate::TooManyGpus { requested, max } => format!(
            "pod.gpu_count is {requested}, but a pod of this GPU type has at most {max} on this cloud"
        ),
        InvalidCandidate::NoSuchVolume { name } => {
            format!("the account has no network volume named {name:?}")
        }
        InvalidCandidate::VolumeElsewhere { name, datacenters } => format!(
            "network volume {name:?} is in {}, and a pod mounts only a volume in its own datacenter",
            datacenters.join(", ")
        ),
        InvalidCandidate::AmbiguousVolume { name, ids } => format!(
            "{} network volumes here are named {name:?} ({}): rename all but one",
            ids.len(),
            ids.join(", ")
        ),
    }
}

/// Why `apply` could not reach a pod it would create.
pub fn missing_ssh_key(key: &MissingSshKey) -> String {
    let path = key.key_path.display();
    match key.missing {
        KeyPart::PrivateKey => format!(
            "the SSH key {path} (ssh.key_path in {}) does not exist, so rpd could not reach a pod: create one with `ssh-keygen -t ed25519 -f {path}` (rpd gives the pod its public half; no need to register it with RunPod)",
            key.config_path.display()
        ),
        KeyPart::PublicKey => format!(
            "the SSH key {path} (ssh.key_path in {}) has no public half: {path}.pub is missing and ssh-keygen could not derive it (a key with a passphrase?); write it with `ssh-keygen -y -f {path} > {path}.pub` (rpd gives it to the pod as PUBLIC_KEY)",
            key.config_path.display()
        ),
    }
}
