//! `rpd apply`'s plan: which pod the job runs on (PLANNER.md §1-2), the
//! job's steps, what happens to the pod afterwards (§3), and what it costs.

use super::current::Current;
use super::*;
use crate::cost;
use crate::model::{
    BusyHostPolicy, InPlaceUpdates, LifecycleAction, Outcome, PodSpec, PodStatus, PodUpdate,
    Storage,
};

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
    /// Every change can be made in place: update, then resume if paused.
    Update {
        pod: String,
        status: PodStatus,
        update: PodUpdate,
        fields: Vec<FieldChange>,
    },
}

impl PodChoice {
    /// The pod as it is: resumed when paused, else used.
    fn as_it_is(id: &str, status: PodStatus) -> PodChoice {
        let pod = id.to_string();
        if status == PodStatus::Exited {
            PodChoice::Resume { pod, status }
        } else {
            PodChoice::Reuse { pod, status }
        }
    }
}

impl Planner<'_> {
    pub(super) fn plan_apply(&mut self) -> PodChange {
        self.forget_collected_job();
        let current = self.current_pod();
        let choice = self.choose_pod(current.as_ref());
        let ranked = self.rank_candidates();
        let attach = self.job_to_attach(&choice);
        let mut pod = self.add_pod_steps(choice, &ranked, attach.is_some());
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

    /// PLANNER.md §1: create, replace, update, resume or reuse.
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
        let changes = self.config_changes(&current.effective_spec());
        let forcing: Vec<String> = changes
            .iter()
            .filter(|f| f.forces_replacement)
            .map(|f| f.field.clone())
            .collect();
        let replace = |why, fields, reason| PodChoice::Replace {
            old: id.clone(),
            why,
            fields,
            reason,
        };
        let desired = &self.input.desired.pod;
        if self.input.options.replace {
            replace(
                DeleteReason::ReplaceRequested,
                changes,
                Reason::ReplaceRequested,
            )
        } else if observed.status == PodStatus::Error {
            let reason = Reason::InError { pod_id: id.clone() };
            replace(DeleteReason::ReplaceError, changes, reason)
        } else if !changes.is_empty()
            && let Some(collect) = self.collect_before_change(&id, observed.status, &changes)
        {
            collect
        } else if !forcing.is_empty() {
            let reason = Reason::FieldsCannotChange { fields: forcing };
            replace(DeleteReason::ReplaceMismatch, changes, reason)
        } else if let Some(update) = diff::in_place_update(desired, &changes) {
            match &self.input.in_place_updates {
                InPlaceUpdates::Supported => PodChoice::Update {
                    pod: id.clone(),
                    status: observed.status,
                    update,
                    fields: changes,
                },
                cannot => {
                    let fields = changes.iter().map(|f| f.field.clone()).collect();
                    let changes = changes
                        .into_iter()
                        .map(|f| FieldChange {
                            forces_replacement: true,
                            ..f
                        })
                        .collect();
                    let reason = Reason::ProviderCannotUpdate {
                        fields,
                        because: cannot.clone(),
                    };
                    replace(DeleteReason::ReplaceMismatch, changes, reason)
                }
            }
        } else {
            PodChoice::as_it_is(&id, observed.status)
        }
    }

    /// A job an earlier apply launched on pod `id` and no rpd collected is
    /// collected on the pod as it is; the config's `changes` wait for the
    /// next apply (an update restarts the pod's container, ending the job;
    /// a replace deletes its results).
    fn collect_before_change(
        &mut self,
        id: &str,
        status: PodStatus,
        changes: &[FieldChange],
    ) -> Option<PodChoice> {
        let choice = PodChoice::as_it_is(id, status);
        self.job_to_attach(&choice)?;
        self.notes.push(Note::ChangeWaitsForJob {
            pod_id: id.to_string(),
            fields: changes.iter().map(|f| f.field.clone()).collect(),
        });
        Some(choice)
    }

    /// PLANNER.md §2: what differs from the config, and what of it forces
    /// a new pod. A pod on the fallback cloud fits while the fallback is
    /// allowed, and one on either cloud with ALL.
    fn config_changes(&self, actual: &PodSpec) -> Vec<FieldChange> {
        let desired = &self.input.desired.pod;
        let mut changes = diff::config_changes(desired, actual);
        let fallback = match desired.all_clouds {
            true => Some(CloudType::Community),
            false => self.input.options.fallback_cloud,
        };
        if let (Some(fallback), Some(cloud)) = (fallback, actual.cloud_type)
            && cloud == fallback
        {
            changes.retain(|f| f.field != "cloud_type");
        }
        changes
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

    /// `holds_job`: the pod holds a job to collect (only a resume or a
    /// reuse then).
    fn add_pod_steps(
        &mut self,
        choice: PodChoice,
        ranked: &[Candidate],
        holds_job: bool,
    ) -> PodChange {
        match choice {
            PodChoice::Create { reason } => self.add_create(reason, ranked),
            PodChoice::Replace {
                old,
                why,
                fields,
                reason,
            } => self.add_replace(old, why, fields, reason, ranked),
            PodChoice::Resume { pod, status } => self.add_resume(pod, status, ranked, holds_job),
            PodChoice::Update {
                pod,
                status,
                update,
                fields,
            } => self.add_update(pod, status, update, fields, ranked),
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
        changes: Vec<FieldChange>,
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
        let unchanged = self.unchanged_count(ranked, changes.len());
        let mut fields = changes;
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

    /// A pod that `holds_job` is resumed with no fallback: its results are
    /// collected on it or not at all, never on a replacement.
    fn add_resume(
        &mut self,
        pod: String,
        status: PodStatus,
        ranked: &[Candidate],
        holds_job: bool,
    ) -> PodChange {
        if holds_job {
            self.add_start_holding_job(&pod);
        } else {
            self.add_start(&pod, ranked);
        }
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

    /// PLANNER.md §1 row 8: the pod changes in place, keeping its volume,
    /// then is resumed if it was paused (a running one restarts by itself).
    fn add_update(
        &mut self,
        pod: String,
        status: PodStatus,
        update: PodUpdate,
        fields: Vec<FieldChange>,
        ranked: &[Candidate],
    ) -> PodChange {
        let names: Vec<String> = update.field_names().into_iter().map(String::from).collect();
        let reason = Reason::UpdateInPlace {
            pod_id: pod.clone(),
            fields: names,
        };
        let new_image = update.image.is_some();
        self.steps.then(
            StepKind::UpdatePod {
                pod_id: pod.clone(),
                update,
            },
            Some(reason.clone()),
        );
        if status == PodStatus::Exited {
            self.add_start(&pod, ranked);
        }
        let job = &self.input.desired.job;
        self.notes.push(Note::UpdateRestartsContainer {
            volume_mount: job.volume_mount.clone(),
            new_image,
            setup_runs_again: job.setup > 0,
        });
        PodChange {
            status: Some(status),
            unchanged: self.unchanged_count(ranked, fields.len()),
            fields,
            ..PodChange::bare(PodAction::Update, Some(pod), reason)
        }
    }

    /// The resume of a paused pod, with the candidates as its fallback.
    fn add_start(&mut self, pod: &str, ranked: &[Candidate]) {
        self.steps.then(
            StepKind::StartPod {
                pod_id: pod.to_string(),
                fallback: ranked.to_vec(),
                busy_host: self.busy_host(),
            },
            None,
        );
        self.summary.resume += 1;
    }

    /// The resume of a paused pod holding a job to collect: no fallback.
    fn add_start_holding_job(&mut self, pod: &str) {
        self.steps.then(
            StepKind::StartPod {
                pod_id: pod.to_string(),
                fallback: Vec::new(),
                busy_host: BusyHost {
                    holds_job: true,
                    ..self.busy_host()
                },
            },
            None,
        );
        self.summary.resume += 1;
    }

    /// How many of the pod's attributes a change of `changed` of them
    /// leaves alone (hidden in the text plan).
    fn unchanged_count(&self, ranked: &[Candidate], changed: usize) -> usize {
        let desired = &self.input.desired.pod;
        let total = ranked
            .first()
            .map_or(0, |c| diff::spec_fields(&desired.spec_on(c)).len());
        total.saturating_sub(changed)
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
            holds_job: false,
        }
    }

    /// A job a killed apply left on the pod: its log is only there, and the
    /// pod may have billed idle since.
    pub(super) fn report_left_job(&mut self, pod: &PodChange) {
        let input = self.input;
        let Some(job) = input.state().and_then(|s| s.launched_job.as_ref()) else {
            return;
        };
        if input.observed.left_job_collected {
            return;
        }
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
        let lost = matches!(
            pod.action,
            PodAction::Replace | PodAction::ReplaceRequested | PodAction::Destroy
        ) && pod.pod_id.as_deref() == Some(job.pod_id.as_str());
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
            PodAction::Resume | PodAction::Reuse | PodAction::Update => {
                current.and_then(|c| self.current_rate(c))
            }
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
