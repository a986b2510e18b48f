//! `rpd apply`'s plan: which pod the job runs on (PLANNER.md §1-2), the
//! job's steps, what happens to the pod afterwards (§3), and what it costs.

use super::*;
use crate::cost;
use crate::model::{
    BusyHostPolicy, LifecycleAction, ObservedPod, Outcome, PodSpec, PodStatus, Storage,
};
use crate::state::{PendingCreate, State};

/// Which pod the job will run on, per PLANNER.md §1.
pub(super) enum PodChoice {
    Create {
        reason: Reason,
    },
    Replace {
        old: String,
        why: DeleteReason,
        fields: Vec<FieldChange>,
        reason: Reason,
    },
    Resume {
        pod: String,
        status: PodStatus,
    },
    Reuse {
        pod: String,
        status: PodStatus,
    },
}

/// The pod the plan starts from: the state's (or one adopted from an
/// interrupted create), its recorded spec and what the provider says now.
struct Current {
    id: String,
    recorded: PodSpec,
    observation: Observation,
}

impl Current {
    /// The best knowledge of what the pod is: observed fields over recorded.
    fn effective_spec(&self) -> PodSpec {
        let observed = self.observation.pod().map(|p| p.spec.clone());
        diff::effective(&self.recorded, &observed.unwrap_or_default())
    }
}

impl Planner<'_> {
    pub(super) fn plan_apply(&mut self) -> PodChange {
        let current = self.current_pod();
        let choice = self.choose_pod(current.as_ref());
        let ranked = self.rank_candidates();
        let attach = self.job_to_attach(&choice);
        let mut pod = self.add_pod_steps(choice, &ranked);
        if matches!(pod.action, PodAction::Replace | PodAction::ReplaceRequested) {
            pod.deleted_storage = current.as_ref().and_then(|c| c.effective_spec().storage);
        }
        self.note_community_ssh(&pod, &ranked);
        match attach {
            Some(job) => self.add_attach_steps(&job),
            None => {
                self.report_left_job(&pod);
                self.add_job_steps();
                self.report_guard();
            }
        }
        self.add_lifecycle();
        self.report_costs(&pod, current.as_ref(), &ranked);
        self.report_paused_for(&pod);
        self.report_retained();
        pod
    }

    /// The recorded pod (or one adopted from an interrupted create) and what
    /// the provider says about it.
    fn current_pod(&mut self) -> Option<Current> {
        let input = self.input;
        let state = input.state()?;
        // A pod that a crashed create made stands in for a recorded pod that
        // no longer exists (the create was replacing it).
        let recorded_gone = state.pod.as_ref().is_some_and(|p| self.is_gone(&p.id));
        if let Some(pending) = &state.pending_create
            && let Some(adopted) = self.settle_interrupted_create(state, pending, recorded_gone)
        {
            if let Some(gone) = state.pod.as_ref() {
                self.drift.push(Drift::Deleted {
                    pod_id: gone.id.clone(),
                });
            }
            return Some(adopted);
        }
        let pod = state.pod.as_ref()?;
        let observation = match input.observed.pods.get(&pod.id) {
            Some(Observation::Pod(p)) if p.status != PodStatus::Terminated => {
                Observation::Pod(p.clone())
            }
            _ => Observation::Gone,
        };
        if let (Some(before), Observation::Pod(now)) = (pod.status, &observation)
            && before != now.status
        {
            self.report_status_drift(&pod.id, before, now.status);
        }
        Some(Current {
            id: pod.id.clone(),
            recorded: pod.spec.clone(),
            observation,
        })
    }

    /// Whether the provider says pod `id` no longer exists.
    fn is_gone(&self, id: &str) -> bool {
        self.input
            .observed
            .pods
            .get(id)
            .and_then(Observation::pod)
            .is_none()
    }

    /// Settles a create that was interrupted: with no current pod (or one
    /// that no longer exists), the first untracked pod of its name is the
    /// one it made (adopted); any other pod of that name is a duplicate
    /// (deleted).
    fn settle_interrupted_create(
        &mut self,
        state: &State,
        pending: &PendingCreate,
        recorded_gone: bool,
    ) -> Option<Current> {
        let input = self.input;
        let untracked: Vec<&ObservedPod> = input
            .observed
            .pending_matches
            .iter()
            .filter(|p| {
                p.status != PodStatus::Terminated && !state.pod_ids().contains(&p.id.as_str())
            })
            .collect();
        let adopt = if state.pod.is_none() || recorded_gone {
            untracked.first().copied()
        } else {
            None
        };
        for dup in untracked
            .iter()
            .filter(|p| Some(p.id.as_str()) != adopt.map(|a| a.id.as_str()))
        {
            self.steps.then(
                StepKind::DeletePod {
                    pod_id: dup.id.clone(),
                    why: DeleteReason::Duplicate,
                },
                Some(Reason::UntrackedFromInterruptedCreate {
                    name: pending.name.clone(),
                }),
            );
            self.summary.destroy += 1;
        }
        let Some(found) = adopt else {
            if untracked.is_empty() {
                self.state_changes
                    .push(StateChange::ForgetInterruptedCreate {
                        name: pending.name.clone(),
                    });
            }
            self.steps.then(
                StepKind::ForgetPendingCreate {
                    name: pending.name.clone(),
                },
                Some(Reason::InterruptedCreateSettled),
            );
            return None;
        };
        self.warnings.push(Warning::InterruptedCreateAdopted {
            name: pending.name.clone(),
            started_at: pending.started_at,
            pod_id: found.id.clone(),
        });
        self.steps.then(
            StepKind::AdoptPod {
                pod_id: found.id.clone(),
            },
            Some(Reason::FoundByInterruptedCreateName {
                name: pending.name.clone(),
            }),
        );
        self.state_changes.push(StateChange::RecordAdoptedPod {
            pod_id: found.id.clone(),
        });
        Some(Current {
            id: found.id.clone(),
            recorded: found.spec.clone(),
            observation: Observation::Pod(Box::new(found.clone())),
        })
    }

    /// The pod's status changed outside rpd (stopped or started in the console).
    fn report_status_drift(&mut self, pod_id: &str, before: PodStatus, now: PodStatus) {
        let note = (now.is_active() && !before.is_active()).then_some(FieldNote::StartedOutsideRpd);
        self.drift.push(Drift::Changed {
            pod_id: pod_id.to_string(),
            fields: vec![FieldChange {
                field: "status".into(),
                old: Some(FieldValue::text(before.as_str())),
                new: Some(FieldValue::text(now.as_str())),
                forces_replacement: false,
                note,
            }],
        });
    }

    /// PLANNER.md §1: create, replace, resume or reuse.
    fn choose_pod(&mut self, current: Option<&Current>) -> PodChoice {
        let Some(current) = current else {
            return PodChoice::Create {
                reason: Reason::NoPodRecorded,
            };
        };
        let id = current.id.clone();
        let Observation::Pod(observed) = &current.observation else {
            self.drift.push(Drift::Deleted { pod_id: id.clone() });
            return PodChoice::Create {
                reason: Reason::DeletedOutsideRpd { pod_id: id },
            };
        };
        let drifted = diff::drift(&current.recorded, &observed.spec);
        if !drifted.is_empty() {
            self.drift.push(Drift::Changed {
                pod_id: id.clone(),
                fields: drifted,
            });
        }
        let forcing = self.forcing_fields(&current.effective_spec());
        let replace = |why, fields, reason| PodChoice::Replace {
            old: id.clone(),
            why,
            fields,
            reason,
        };
        if self.input.options.replace {
            replace(
                DeleteReason::ReplaceRequested,
                forcing,
                Reason::ReplaceRequested,
            )
        } else if observed.status == PodStatus::Error {
            let reason = Reason::InError { pod_id: id.clone() };
            replace(DeleteReason::ReplaceError, forcing, reason)
        } else if !forcing.is_empty() {
            let fields = forcing.iter().map(|f| f.field.clone()).collect();
            let reason = Reason::FieldsCannotChange { fields };
            replace(DeleteReason::ReplaceMismatch, forcing, reason)
        } else if observed.status == PodStatus::Exited {
            PodChoice::Resume {
                pod: id.clone(),
                status: observed.status,
            }
        } else {
            PodChoice::Reuse {
                pod: id.clone(),
                status: observed.status,
            }
        }
    }

    /// PLANNER.md §2: what forces a new pod. A pod on the fallback cloud fits
    /// while the fallback is allowed, and one on either cloud with ALL.
    fn forcing_fields(&self, actual: &PodSpec) -> Vec<FieldChange> {
        let desired = &self.input.desired.pod;
        let mut forcing = diff::replacement_fields(desired, actual);
        let fallback = match desired.all_clouds {
            true => Some(CloudType::Community),
            false => self.input.options.fallback_cloud,
        };
        if let (Some(fallback), Some(cloud)) = (fallback, actual.cloud_type)
            && cloud == fallback
        {
            forcing.retain(|f| f.field != "cloud_type");
        }
        forcing
    }

    /// The candidates a create tries, in order; warns when none has stock.
    fn rank_candidates(&mut self) -> Vec<Candidate> {
        let fallback = self.fallback_cloud();
        let input = self.input;
        let mut ranked = candidates(
            &input.desired.pod,
            input.catalog.catalog(),
            fallback.map(|cloud| (cloud, input.fallback_catalog.as_ref())),
        );
        catalog::judge(input, &mut ranked);
        let valid: Vec<&Candidate> = ranked.iter().filter(|c| c.invalid.is_none()).collect();
        if !valid.is_empty() && valid.iter().all(|c| c.stock == Stock::None) {
            self.warnings.push(Warning::NoStock);
        }
        ranked
    }

    /// The fallback cloud that applies, with runpod-deploy's exceptions:
    /// `cloud_type: ALL` is COMMUNITY after SECURE (the flag adds nothing).
    fn fallback_cloud(&mut self) -> Option<CloudType> {
        let desired = &self.input.desired.pod;
        let flag = self.input.options.fallback_cloud;
        if desired.all_clouds {
            if let Some(cloud) = flag {
                self.warnings.push(Warning::FallbackWithAllClouds { cloud });
            }
            return Some(CloudType::Community);
        }
        let cloud = flag?;
        if cloud == desired.cloud_type {
            self.warnings.push(Warning::FallbackIsOwnCloud { cloud });
            return None;
        }
        if matches!(desired.storage, Storage::NetworkVolume { .. }) {
            self.warnings.push(Warning::FallbackWithNetworkVolume);
            return None;
        }
        Some(cloud)
    }

    fn add_pod_steps(&mut self, choice: PodChoice, ranked: &[Candidate]) -> PodChange {
        match choice {
            PodChoice::Create { reason } => self.add_create(reason, ranked),
            PodChoice::Replace {
                old,
                why,
                fields,
                reason,
            } => self.add_replace(old, why, fields, reason, ranked),
            PodChoice::Resume { pod, status } => self.add_resume(pod, status, ranked),
            PodChoice::Reuse { pod, status } => {
                let reason = Reason::AlreadyRunning {
                    pod_id: pod.clone(),
                };
                self.steps.then(
                    StepKind::UsePod {
                        pod_id: pod.clone(),
                    },
                    Some(reason.clone()),
                );
                PodChange {
                    status: Some(status),
                    ..PodChange::bare(PodAction::Reuse, Some(pod), reason)
                }
            }
        }
    }

    fn add_create(&mut self, reason: Reason, ranked: &[Candidate]) -> PodChange {
        self.require_a_valid_candidate(ranked);
        self.steps.then(
            StepKind::CreatePod {
                candidates: ranked.to_vec(),
            },
            Some(reason.clone()),
        );
        self.summary.create += 1;
        PodChange {
            fields: create_fields(&self.input.desired.pod, ranked),
            ..PodChange::bare(PodAction::Create, None, reason)
        }
    }

    fn add_replace(
        &mut self,
        old: String,
        why: DeleteReason,
        forcing: Vec<FieldChange>,
        reason: Reason,
        ranked: &[Candidate],
    ) -> PodChange {
        self.require_a_valid_candidate(ranked);
        let action = if why == DeleteReason::ReplaceRequested {
            PodAction::ReplaceRequested
        } else {
            PodAction::Replace
        };
        self.steps.then(
            StepKind::DeletePod {
                pod_id: old.clone(),
                why,
            },
            Some(reason.clone()),
        );
        self.steps.then(
            StepKind::CreatePod {
                candidates: ranked.to_vec(),
            },
            Some(Reason::Replaces {
                pod_id: old.clone(),
            }),
        );
        self.summary.create += 1;
        self.summary.destroy += 1;
        let desired = &self.input.desired.pod;
        let total = ranked
            .first()
            .map_or(0, |c| diff::spec_fields(&desired.spec_on(c)).len());
        let unchanged = total.saturating_sub(forcing.len());
        let mut fields = forcing;
        fields.push(FieldChange {
            field: "id".into(),
            old: Some(FieldValue::text(&old)),
            new: None,
            forces_replacement: false,
            note: None,
        });
        PodChange {
            fields,
            unchanged,
            ..PodChange::bare(action, Some(old), reason)
        }
    }

    fn add_resume(&mut self, pod: String, status: PodStatus, ranked: &[Candidate]) -> PodChange {
        self.steps.then(
            StepKind::StartPod {
                pod_id: pod.clone(),
                fallback: ranked.to_vec(),
                busy_host: self.busy_host(),
            },
            None,
        );
        self.summary.resume += 1;
        let job = &self.input.desired.job;
        self.notes.push(Note::ResumeWipesContainerDisk {
            volume_mount: job.volume_mount.clone(),
            setup_runs_again: job.setup > 0,
        });
        let reason = Reason::ResumePaused {
            pod_id: pod.clone(),
        };
        PodChange {
            status: Some(status),
            ..PodChange::bare(PodAction::Resume, Some(pod), reason)
        }
    }

    /// What a resume does on a busy host: the command line's choice, else
    /// the config's, else wait.
    fn busy_host(&self) -> BusyHost {
        let options = &self.input.options;
        let (policy, set_by) = match (
            options.on_busy_host,
            self.input.desired.lifecycle.on_busy_host,
        ) {
            (Some(policy), _) => (policy, SetBy::Flag),
            (None, Some(policy)) => (policy, SetBy::Config),
            (None, None) => (BusyHostPolicy::default(), SetBy::Default),
        };
        BusyHost {
            policy,
            set_by,
            wait_ms: u64::try_from(options.busy_host_wait.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// A job a killed apply left on the pod: its log is only there, and the
    /// pod may have billed idle since.
    fn report_left_job(&mut self, pod: &PodChange) {
        let input = self.input;
        let Some(job) = input.state().and_then(|s| s.launched_job.as_ref()) else {
            return;
        };
        // A live run holds the lock: the job is that run's, not left.
        if matches!(input.lock, Some(LockSeen::Held(_))) {
            return;
        }
        let Some(observed) = input
            .observed
            .pods
            .get(&job.pod_id)
            .and_then(Observation::pod)
        else {
            return;
        };
        let running = observed.status.is_active();
        let lost = matches!(pod.action, PodAction::Replace | PodAction::ReplaceRequested)
            && pod.pod_id.as_deref() == Some(job.pod_id.as_str());
        self.warnings.push(Warning::JobLeftOnPod {
            pod_id: job.pod_id.clone(),
            launched_at: job.launched_at,
            run_dir: job.run_dir.clone(),
            running,
            billed_sec: if running {
                u64::try_from((input.now - job.launched_at).num_seconds()).unwrap_or(0)
            } else {
                0
            },
            per_hr: observed.cost_per_hr.filter(|c| *c > 0.0),
            lost,
        });
    }

    fn add_job_steps(&mut self) {
        let job = &self.input.desired.job;
        let steps = &mut self.steps;
        steps.then(
            StepKind::WaitReady {
                timeout_sec: job.ssh_ready_timeout_sec,
            },
            None,
        );
        if job.setup > 0 {
            steps.then(
                StepKind::Setup {
                    commands: job.setup,
                },
                None,
            );
        }
        if job.secrets > 0 {
            let reason = Some(Reason::SecretValuesHidden);
            steps.then(StepKind::Secrets { count: job.secrets }, reason);
        }
        if job.staging > 0 {
            let reason = Some(Reason::IncrementalStaging);
            steps.then(
                StepKind::Staging {
                    pushes: job.staging,
                },
                reason,
            );
        }
        if job.preflight > 0 {
            let preflight = StepKind::Preflight {
                commands: job.preflight,
            };
            steps.then(preflight, None);
        }
        let script_path = job.script_path.clone();
        steps.then(StepKind::Launch { script_path }, None);
        let timeout_sec = job.timeout_sec;
        steps.then(StepKind::Monitor { timeout_sec }, None);
        let artifacts = job.artifacts;
        steps.then(StepKind::Pull { artifacts }, None);
    }

    /// PLANNER.md §3: one branch for success and one for failure, both after
    /// the pull.
    fn add_lifecycle(&mut self) {
        let lifecycle = self.input.desired.lifecycle;
        self.steps.branches(
            [
                (Outcome::Success, lifecycle.on_success),
                (Outcome::Failure, lifecycle.on_failure),
            ]
            .map(|(when, action)| {
                (
                    StepKind::Lifecycle { when, action },
                    lifecycle_reason(action),
                )
            }),
        );
        match lifecycle.on_success {
            LifecycleAction::Recycle | LifecycleAction::Stop => self.summary.stop += 1,
            LifecycleAction::Delete => self.summary.destroy += 1,
            LifecycleAction::Preserve => {}
        }
    }

    /// $/hr while the job runs, $/month while stopped after it, and a warning
    /// for every outcome that leaves the pod billing.
    fn report_costs(&mut self, pod: &PodChange, current: Option<&Current>, ranked: &[Candidate]) {
        self.cost.running_per_hr = match pod.action {
            PodAction::Resume | PodAction::Reuse => current.and_then(|c| self.current_rate(c)),
            _ => ranked
                .iter()
                .find(|c| c.is_worth_trying())
                .and_then(|c| c.price_per_hr),
        };
        let desired = &self.input.desired.pod;
        let lifecycle = self.input.desired.lifecycle;
        if matches!(
            lifecycle.on_success,
            LifecycleAction::Recycle | LifecycleAction::Stop
        ) || lifecycle.on_failure == LifecycleAction::Stop
        {
            let per_month = cost::stopped_usd_per_month(Some(&desired.storage));
            self.cost.stopped_per_month = Some(per_month);
            self.cost.stopped_per_day = Some(cost::per_day(per_month));
            if let Storage::Ephemeral { volume_gb, .. } = desired.storage {
                self.cost.volume_gb = Some(volume_gb);
            }
        }
        for (when, action) in [
            (Outcome::Success, lifecycle.on_success),
            (Outcome::Failure, lifecycle.on_failure),
        ] {
            if action == LifecycleAction::Preserve {
                self.warnings.push(Warning::PreserveKeepsBilling {
                    when,
                    per_hr: self.cost.running_per_hr,
                });
            }
        }
    }

    /// What the current pod bills: as the provider reports it, else the
    /// catalog's price for its GPU and datacenter.
    fn current_rate(&self, current: &Current) -> Option<f64> {
        let reported = current.observation.pod().and_then(|p| p.cost_per_hr);
        reported.filter(|c| *c > 0.0).or_else(|| {
            let spec = current.effective_spec();
            let (dc, gpu) = (spec.datacenter_id.as_ref()?, spec.gpu_id.as_ref()?);
            let offer = self.input.catalog.catalog()?.offer(dc, gpu)?;
            let count = spec.gpu_count.unwrap_or(self.input.desired.pod.gpu_count);
            offer.price_per_gpu_hr.map(|p| p * f64::from(count))
        })
    }

    /// Retained pods: forget the ones that are gone (after the lifecycle, as
    /// the last state writes); report the others' cost.
    fn report_retained(&mut self) {
        let input = self.input;
        let Some(state) = input.state() else {
            return;
        };
        for retained in &state.retained {
            let id = &retained.pod.id;
            match input.observed.pods.get(id).and_then(Observation::pod) {
                Some(pod) => {
                    let per_month = if pod.status.is_active() {
                        pod.cost_per_hr.unwrap_or(0.0) * 24.0 * 30.0
                    } else {
                        cost::stopped_usd_per_month(retained.pod.spec.storage.as_ref())
                    };
                    self.retained.push(RetainedNote {
                        pod_id: id.clone(),
                        status: Some(pod.status),
                        reason: retained.reason.clone(),
                        per_month,
                    });
                }
                None => {
                    self.steps.then(
                        StepKind::ForgetPod { pod_id: id.clone() },
                        Some(Reason::RetainedPodGone { pod_id: id.clone() }),
                    );
                    self.state_changes
                        .push(StateChange::ForgetRetainedPod { pod_id: id.clone() });
                }
            }
        }
    }
}

/// Every attribute a created pod will have, on the first candidate with
/// stock; GPU and datacenter may still move down the list.
fn create_fields(desired: &DesiredPod, ranked: &[Candidate]) -> Vec<FieldChange> {
    let first = ranked
        .iter()
        .find(|c| c.is_worth_trying())
        .or(ranked.first());
    let spec = first.map(|c| desired.spec_on(c)).unwrap_or_default();
    diff::spec_fields(&spec)
        .into_iter()
        .map(|(field, value)| {
            let may_move = (field == "gpu" && desired.gpu_order.len() > 1)
                || (field == "datacenter" && desired.datacenters.len() > 1)
                || (field == "cloud_type" && desired.all_clouds);
            FieldChange {
                field: field.to_string(),
                old: None,
                new: Some(value),
                forces_replacement: false,
                note: may_move.then_some(FieldNote::FirstWithStock),
            }
        })
        .collect()
}

fn lifecycle_reason(action: LifecycleAction) -> Option<Reason> {
    match action {
        LifecycleAction::Recycle => Some(Reason::KeptToResume),
        LifecycleAction::Stop => Some(Reason::KeptForForensics),
        LifecycleAction::Delete => None,
        LifecycleAction::Preserve => Some(Reason::KeepsBilling),
    }
}
