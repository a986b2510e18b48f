//! Why an apply stopped, as data: the provider's error is kept (as the
//! source), and each other failure carries what it is about. The messages
//! are the ones users have always seen; apply branches on the variants.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::{KeyPart, PodStatus, Usd};
use crate::plan::LocalProblem;
use crate::provider::ProviderError;
use crate::remote::TransportError;
use crate::state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A provider call failed while rpd was `doing` something.
    #[error("{doing}: {source}")]
    Provider {
        doing: String,
        #[source]
        source: ProviderError,
    },
    /// Every candidate was out of stock or refused the create.
    #[error(
        "no candidate could take the pod:\n{}\n  = help: {}",
        misses.iter().map(|m| format!("    {m}")).collect::<Vec<_>>().join("\n"),
        if misses.iter().all(CandidateMiss::is_capacity) {
            "add datacenters or GPU types to the config, or retry when stock returns"
        } else {
            "a refusal that is not about stock (an id, a volume, the account's access) is fixed in the config or the RunPod console, not by waiting"
        }
    )]
    NoCandidate { misses: Vec<CandidateMiss> },
    /// A create failed in a way that may have made the pod anyway, and no
    /// pod of its name is listed (yet): trying another candidate could
    /// leave two pods billing.
    #[error(
        "creating the pod on {place} failed ambiguously ({source}) and {}; rpd stopped so as not to create a second pod. Run `rpd apply` again: it looks for a pod named {name:?} first and adopts it",
        match listing {
            None => "no pod of that name is listed yet".to_string(),
            Some(err) => format!("the pods could not be listed to check ({err})"),
        }
    )]
    AmbiguousCreate {
        place: String,
        name: String,
        #[source]
        source: ProviderError,
        /// Why the pods could not be listed, when they could not.
        listing: Option<Box<ProviderError>>,
    },
    /// A pod was created, the state could not record it, and it could not
    /// be deleted either.
    #[error(
        "{source}; and pod {pod_id} could not be deleted ({delete}): it is BILLING and untracked, delete it in the RunPod console"
    )]
    Untracked {
        pod_id: String,
        #[source]
        source: Box<StateError>,
        delete: Box<ProviderError>,
    },
    /// The pod of an interrupted create was gone when apply came to adopt it.
    #[error("pod {pod_id} disappeared before it could be adopted")]
    AdoptedPodGone { pod_id: String },
    /// A resume refused because of the pod's status, which is not active.
    #[error("resuming pod {pod_id}: {message}")]
    ResumeRefused { pod_id: String, message: String },
    #[error(transparent)]
    NotReady(#[from] NotReady),
    /// The pod runs, but its shell never answered.
    #[error(
        "pod {pod_id} runs but its shell never answered within budget.ssh_ready_timeout_sec ({timeout_sec}s): {source}"
    )]
    Unreachable {
        pod_id: String,
        timeout_sec: u32,
        #[source]
        source: TransportError,
    },
    #[error(transparent)]
    NotStopped(Box<StopFailure>),
    /// A plan that waits for a pod without one (a planner bug).
    #[error("no pod to wait for")]
    NoPod,
    /// A plan that runs the job before the pod is ready (a planner bug).
    #[error("the pod is not ready")]
    NoConnection,
    /// A plan that attaches with no launched job in the state (a planner bug).
    #[error("the state records no launched job to attach to")]
    NoJobToAttach,
    /// The key pair the plan found is gone now.
    #[error(
        "the SSH key {} {}, so rpd would not reach the pod; nothing was created",
        path.display(),
        match missing {
            KeyPart::PrivateKey => "no longer exists".to_string(),
            KeyPart::PublicKey => format!("has no public half any more ({}.pub)", path.display()),
        }
    )]
    SshKey { path: PathBuf, missing: KeyPart },
    #[error("{0}")]
    State(#[from] StateError),
    /// The state could not record a pod that runs; it was stopped (or
    /// deleted, if this run made it) again.
    #[error("{source}; pod {pod_id} was {done} so that it does not bill unrecorded")]
    Unrecorded {
        pod_id: String,
        /// `stopped` or `deleted`.
        done: &'static str,
        #[source]
        source: Box<StateError>,
    },
    /// `--detach` launched the job and the state could not record it: the
    /// job was ended, and the pod stopped (or deleted, if this run made it).
    #[error(
        "the job was not left running: the state could not record it ({source}), so no later rpd would collect it; the job was ended and pod {pod_id} {done}\n  = help: fix what keeps rpd from writing {}, then apply again",
        state_file.display()
    )]
    DetachUnrecorded {
        pod_id: String,
        /// `stopped` or `deleted`.
        done: &'static str,
        state_file: PathBuf,
        #[source]
        source: Box<StateError>,
    },
    /// The job's pod was stopped before its results were read, and could
    /// not be resumed (or reached) to read them: kept, stopped.
    #[error(
        "pod {pod_id} was stopped before the job's results were collected, and resuming it to collect them failed ({why}); they are kept on its volume\n  = help: `rpd attach {}` collects them later (it resumes the pod)",
        config.display()
    )]
    NotCollected {
        pod_id: String,
        why: String,
        config: PathBuf,
    },
    #[error("interrupted before the pod was ready")]
    Interrupted,
    /// Interrupted while collecting a job on a pod resumed for it: the pod
    /// was stopped again, the job is still recorded.
    #[error(
        "interrupted before the job was collected; pod {pod_id} was stopped again and keeps its results: `rpd attach` collects them"
    )]
    InterruptedBeforeCollect { pod_id: String },
    /// Interrupted once the pod was ready, before the job's first step.
    #[error("interrupted before the job started")]
    InterruptedBeforeJob,
    /// A paused pod whose host has no free GPU, kept.
    #[error("pod {pod_id} was kept, paused: {why}")]
    BusyHost { pod_id: String, why: BusyHostKept },
    /// A replace found no candidate with stock: the pod was not deleted.
    #[error(
        "pod {pod_id} was kept: no candidate has stock right now, so deleting it would leave nothing to run on\n  = help: try again when stock returns or add datacenters or GPU types to the config; pass --replace-without-stock to delete it anyway"
    )]
    ReplaceKept { pod_id: String },
    /// The local inputs the plan checked changed before anything ran (the
    /// command words each problem).
    #[error("local inputs changed since the plan: nothing was created")]
    LocalInputsChanged { problems: Vec<LocalProblem> },
}

/// Why a paused pod on a busy host was kept rather than replaced.
#[derive(Debug, thiserror::Error)]
pub enum BusyHostKept {
    #[error("its host has no free GPU ({by})")]
    Policy { by: String },
    #[error(
        "its host has no free GPU{} and no candidate has stock, so replacing it would lose its volume and leave nothing to run on\n  = help: apply again later (the GPU may free up), add datacenters or GPU types to the config, or pass --replace-without-stock to replace it anyway",
        waited.map(|w| format!(" (tried for {})", humantime::format_duration(w))).unwrap_or_default()
    )]
    NoStock { waited: Option<Duration> },
    /// The pod holds a job no rpd has collected: it is never replaced.
    #[error(
        "its host has no free GPU{}, and it holds the job an earlier apply launched: its log, artifacts and exit status are only on this pod\n  = help: `rpd attach {}` collects the job once the host frees (run it again later)",
        waited.map(|w| format!(" (tried for {})", humantime::format_duration(w))).unwrap_or_default(),
        config.display()
    )]
    HoldsJob {
        waited: Option<Duration>,
        config: std::path::PathBuf,
    },
}

impl From<StopFailure> for ApplyError {
    fn from(failure: StopFailure) -> ApplyError {
        ApplyError::NotStopped(Box::new(failure))
    }
}

impl ApplyError {
    pub fn provider(doing: impl Into<String>, source: ProviderError) -> ApplyError {
        ApplyError::Provider {
            doing: doing.into(),
            source,
        }
    }
}

/// One candidate a create could not use.
#[derive(Debug, thiserror::Error)]
#[error("{place}: {why}")]
pub struct CandidateMiss {
    /// `DATACENTER / GPU`, with the cloud type when it is a fallback.
    pub place: String,
    pub why: Miss,
}

impl CandidateMiss {
    /// Missed for want of stock, which may return.
    pub fn is_capacity(&self) -> bool {
        matches!(
            self.why,
            Miss::NoStock | Miss::Refused(ProviderError::Capacity(_))
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Miss {
    #[error("skipped, no stock")]
    NoStock,
    /// The plan found the catalog rules it out (its list says why).
    #[error("skipped, invalid (the plan's candidate list says why)")]
    Invalid,
    /// The provider refused this candidate (capacity, access, volume).
    #[error("{0}")]
    Refused(ProviderError),
}

/// Why a pod never became ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("pod {pod_id} went into ERROR while starting")]
    Errored { pod_id: String },
    #[error("pod {pod_id} stopped ({status}) while starting")]
    Stopped { pod_id: String, status: PodStatus },
    #[error("pod {pod_id} disappeared while starting")]
    Disappeared { pod_id: String },
    #[error("reading pod {pod_id}: {source}")]
    Unreadable {
        pod_id: String,
        #[source]
        source: ProviderError,
    },
    #[error(
        "pod {pod_id} was not ready within budget.ssh_ready_timeout_sec ({timeout_sec}s); large images can take longer to pull: raise it"
    )]
    TimedOut { pod_id: String, timeout_sec: u32 },
    /// Running, with SSH through RunPod's proxy only, for the whole grace.
    #[error(
        "pod {pod_id} ran for {} with SSH only through RunPod's proxy, which rsync cannot use: its machine gives no direct SSH (a COMMUNITY machine without a public IP?)",
        crate::model::duration(*grace_sec)
    )]
    NoDirectSsh { pod_id: String, grace_sec: u64 },
}

/// A stop that did not happen: the pod may still be billing.
#[derive(Debug, thiserror::Error)]
#[error(
    "pod {pod_id} did not stop: {}. It may be billing: stop it in the RunPod console or run `rpd destroy {}`",
    match request {
        Some(err) => format!("the stop request failed ({err}); {last}"),
        None => format!("after the stop request {last}"),
    },
    config.display()
)]
pub struct StopFailure {
    pub pod_id: String,
    /// The stop request's own failure, after its retries.
    #[source]
    pub request: Option<ProviderError>,
    /// What the last look at the pod found.
    pub last: LastLook,
    /// The config, for the `rpd destroy` advice.
    pub config: PathBuf,
}

/// The last look at a pod that should have stopped.
#[derive(Debug, thiserror::Error)]
pub enum LastLook {
    #[error(
        "it is still {status}{}",
        cost_per_hr.filter(|c| *c > 0.0).map(|c| format!(", billing {}/hr", Usd(c))).unwrap_or_default()
    )]
    Active {
        status: PodStatus,
        cost_per_hr: Option<f64>,
    },
    #[error("its status cannot be read ({0})")]
    Unreadable(ProviderError),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages users have always seen, word for word.
    #[test]
    fn failures_read_as_they_always_have() {
        let busy = || ProviderError::Transient("simulated 502 Bad Gateway on stop".into());
        let not_stopped = ApplyError::from(StopFailure {
            pod_id: "abc".into(),
            request: Some(busy()),
            last: LastLook::Active {
                status: PodStatus::Running,
                cost_per_hr: Some(0.44),
            },
            config: "examples/hello.yaml".into(),
        });
        assert_eq!(
            not_stopped.to_string(),
            "pod abc did not stop: the stop request failed (transient provider error: simulated 502 Bad Gateway on stop); it is still RUNNING, billing $0.44/hr. It may be billing: stop it in the RunPod console or run `rpd destroy examples/hello.yaml`"
        );
        let unread = StopFailure {
            pod_id: "abc".into(),
            request: None,
            last: LastLook::Unreadable(busy()),
            config: "h.yaml".into(),
        };
        assert_eq!(
            unread.to_string(),
            "pod abc did not stop: after the stop request its status cannot be read (transient provider error: simulated 502 Bad Gateway on stop). It may be billing: stop it in the RunPod console or run `rpd destroy h.yaml`"
        );
        let none = ApplyError::NoCandidate {
            misses: vec![
                CandidateMiss {
                    place: "EU-RO-1 / A".into(),
                    why: Miss::NoStock,
                },
                CandidateMiss {
                    place: "US-CA-2 / A (COMMUNITY)".into(),
                    why: Miss::Refused(ProviderError::Capacity("gone".into())),
                },
            ],
        };
        assert_eq!(
            none.to_string(),
            "no candidate could take the pod:\n    EU-RO-1 / A: skipped, no stock\n    US-CA-2 / A (COMMUNITY): no capacity: gone\n  = help: add datacenters or GPU types to the config, or retry when stock returns"
        );
        // Refusals that are not about stock get advice that is not "wait".
        let refused = ApplyError::NoCandidate {
            misses: vec![
                CandidateMiss {
                    place: "EU-RO-1 / A".into(),
                    why: Miss::Invalid,
                },
                CandidateMiss {
                    place: "US-CA-2 / A".into(),
                    why: Miss::Refused(ProviderError::Invalid("access denied".into())),
                },
            ],
        };
        assert_eq!(
            refused.to_string(),
            "no candidate could take the pod:\n    EU-RO-1 / A: skipped, invalid (the plan's candidate list says why)\n    US-CA-2 / A: invalid request: access denied\n  = help: a refusal that is not about stock (an id, a volume, the account's access) is fixed in the config or the RunPod console, not by waiting"
        );
        let ambiguous = ApplyError::AmbiguousCreate {
            place: "EU-RO-1 / A".into(),
            name: "run-1-abcdef".into(),
            source: busy(),
            listing: Some(Box::new(ProviderError::Auth("no".into()))),
        };
        assert_eq!(
            ambiguous.to_string(),
            "creating the pod on EU-RO-1 / A failed ambiguously (transient provider error: simulated 502 Bad Gateway on stop) and the pods could not be listed to check (authentication failed: no); rpd stopped so as not to create a second pod. Run `rpd apply` again: it looks for a pod named \"run-1-abcdef\" first and adopts it"
        );
        let deleting = ApplyError::provider("deleting pod abc", busy());
        assert_eq!(
            deleting.to_string(),
            "deleting pod abc: transient provider error: simulated 502 Bad Gateway on stop"
        );
    }

    /// The error printer adds a "caused by" line for a cause the message
    /// does not already say: every source here is said in its message.
    #[test]
    fn no_cause_is_printed_twice_or_newly() {
        let busy = ProviderError::Transient("502".into());
        let errors = [
            ApplyError::provider("deleting pod abc", busy.clone()),
            ApplyError::AmbiguousCreate {
                place: "p".into(),
                name: "n".into(),
                source: busy.clone(),
                listing: None,
            },
            ApplyError::from(NotReady::Unreadable {
                pod_id: "abc".into(),
                source: busy.clone(),
            }),
            ApplyError::from(StopFailure {
                pod_id: "abc".into(),
                request: Some(busy),
                last: LastLook::Active {
                    status: PodStatus::Running,
                    cost_per_hr: None,
                },
                config: "h.yaml".into(),
            }),
        ];
        for err in errors {
            let text = err.to_string();
            let mut cause = std::error::Error::source(&err);
            while let Some(inner) = cause {
                assert!(text.contains(&inner.to_string()), "{inner} in {text}");
                cause = inner.source();
            }
        }
    }
}
