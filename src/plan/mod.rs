//! The planner: a pure function of (desired spec, state, observed pods,
//! catalog, options) to a [`Plan`]: a DAG of steps, each with a reason, and a
//! report (drift, the pod's change, warnings, summary, cost). No I/O here;
//! PLANNER.md is the decision table it implements.

mod destroy;
pub mod diff;
mod types;

use petgraph::stable_graph::{NodeIndex, StableDiGraph};

pub use diff::FieldChange;
pub use types::*;

use crate::cost;
use crate::model::{
    Candidate, CloudType, DesiredPod, LifecycleAction, ObservedPod, Outcome, PodSpec, PodStatus,
    Stock,
};
use crate::model::Catalog;

/// Builds the step chain; every node depends on the one before, except the
/// two lifecycle branches, which both follow the pull.
struct Builder {
    graph: StableDiGraph<Step, ()>,
    last: Option<NodeIndex>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            graph: StableDiGraph::new(),
            last: None,
        }
    }

    fn then(&mut self, kind: StepKind, reason: impl Into<String>) -> NodeIndex {
        let node = self.graph.add_node(Step {
            kind,
            reason: reason.into(),
        });
        if let Some(prev) = self.last {
            self.graph.add_edge(prev, node, ());
        }
        self.last = Some(node);
        node
    }

    fn branch(&mut self, from: NodeIndex, kind: StepKind, reason: impl Into<String>) {
        let node = self.graph.add_node(Step {
            kind,
            reason: reason.into(),
        });
        self.graph.add_edge(from, node, ());
    }
}

/// Candidates in runpod-deploy's order: each datacenter, each GPU within
/// it; with a fallback cloud, each candidate is followed by the same place
/// on that cloud.
pub fn candidates(
    desired: &DesiredPod,
    catalog: Option<&Catalog>,
    fallback: Option<(CloudType, Option<&Catalog>)>,
) -> Vec<Candidate> {
    let on = |dc: &String, gpu: &String, cloud: CloudType, catalog: Option<&Catalog>| {
        let offer = catalog.and_then(|c| c.offer(dc, gpu));
        Candidate {
            datacenter_id: dc.clone(),
            gpu_id: gpu.clone(),
            cloud_type: cloud,
            price_per_hr: offer
                .and_then(|o| o.price_per_gpu_hr)
                .map(|p| p * f64::from(desired.gpu_count)),
            stock: offer.map_or(Stock::Unknown, |o| o.stock),
        }
    };
    let mut out = Vec::new();
    for dc in &desired.datacenters {
        for gpu in &desired.gpu_order {
            out.push(on(dc, gpu, desired.cloud_type, catalog));
            if let Some((cloud, fallback_catalog)) = fallback {
                out.push(on(dc, gpu, cloud, fallback_catalog));
            }
        }
    }
    out
}

/// The fallback cloud that applies, with runpod-deploy's exceptions.
fn fallback_cloud(input: &PlanningInput, report: &mut PlanReport) -> Option<CloudType> {
    let cloud = input.options.fallback_cloud?;
    if cloud == input.desired.cloud_type {
        report.warnings.push(format!(
            "--fallback-cloud-type {cloud} is the config's own cloud_type: ignored"
        ));
        return None;
    }
    if matches!(
        input.desired.storage,
        crate::model::Storage::NetworkVolume { .. }
    ) {
        report.warnings.push(
            "--fallback-cloud-type is ignored with a network volume: network volumes need SECURE pods".into(),
        );
        return None;
    }
    Some(cloud)
}

fn price_of(spec: &PodSpec, desired: &DesiredPod, catalog: Option<&Catalog>) -> Option<f64> {
    let (dc, gpu) = (spec.datacenter_id.as_ref()?, spec.gpu_id.as_ref()?);
    let offer = catalog?.offer(dc, gpu)?;
    offer
        .price_per_gpu_hr
        .map(|p| p * f64::from(spec.gpu_count.unwrap_or(desired.gpu_count)))
}

pub fn plan(input: &PlanningInput) -> Plan {
    match input.options.mode {
        Mode::Apply => plan_apply(input),
        Mode::Destroy => destroy::plan_destroy(input),
    }
}

/// Which pod the job will run on, per PLANNER.md §1.
enum PodChoice {
    Create {
        reason: String,
    },
    Replace {
        old: String,
        why: DeleteReason,
        fields: Vec<FieldChange>,
        reason: String,
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

fn plan_apply(input: &PlanningInput) -> Plan {
    let desired = input.desired;
    let mut report = empty_report();
    let mut builder = Builder::new();

    let current = current_pod(input, &mut report, &mut builder);
    let choice = match &current {
        None => PodChoice::Create {
            reason: "no pod recorded".into(),
        },
        Some((id, _, Observation::Gone)) => {
            report.drift.push(Drift::Deleted { pod_id: id.clone() });
            PodChoice::Create {
                reason: format!("{id} was deleted outside rpd"),
            }
        }
        Some((id, recorded, Observation::Pod(observed))) => {
            let drifted = diff::drift(recorded, &observed.spec);
            let actual = diff::effective(recorded, &observed.spec);
            let mut forcing = diff::replacement_fields(desired, &actual);
            // A pod on the fallback cloud fits while the fallback is allowed.
            if let (Some(fallback), Some(cloud)) = (input.options.fallback_cloud, actual.cloud_type)
                && cloud == fallback
            {
                forcing.retain(|f| f.field != "cloud_type");
            }
            if !drifted.is_empty() {
                report.drift.push(Drift::Changed {
                    pod_id: id.clone(),
                    fields: drifted,
                });
            }
            if input.options.replace {
                PodChoice::Replace {
                    old: id.clone(),
                    why: DeleteReason::ReplaceRequested,
                    fields: forcing,
                    reason: "replaced, as requested".into(),
                }
            } else if observed.status == PodStatus::Error {
                PodChoice::Replace {
                    old: id.clone(),
                    why: DeleteReason::ReplaceError,
                    fields: forcing,
                    reason: format!("{id} is in ERROR"),
                }
            } else if !forcing.is_empty() {
                let names: Vec<&str> = forcing.iter().map(|f| f.field.as_str()).collect();
                PodChoice::Replace {
                    old: id.clone(),
                    why: DeleteReason::ReplaceMismatch,
                    reason: format!("{} cannot change on an existing pod", and_list(&names)),
                    fields: forcing,
                }
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
    };

    let fallback = fallback_cloud(input, &mut report);
    let ranked = candidates(
        desired,
        input.catalog,
        fallback.map(|cloud| (cloud, input.fallback_catalog)),
    );
    if !ranked.is_empty() && ranked.iter().all(|c| c.stock == Stock::None) {
        report.warnings.push(
            "no candidate (datacenter x GPU) has stock right now: a create will fail unless stock returns; add datacenters or GPUs to the config".into(),
        );
    }
    let first_price = ranked
        .iter()
        .find(|c| c.stock.is_available())
        .and_then(|c| c.price_per_hr);
    let create_fields = |reason_fields: Vec<FieldChange>| -> Vec<FieldChange> {
        let first = ranked
            .iter()
            .find(|c| c.stock.is_available())
            .or(ranked.first());
        let spec = first.map(|c| desired.spec_on(c)).unwrap_or_default();
        let mut fields = reason_fields;
        for (field, value) in diff::spec_fields(&spec) {
            if fields.iter().any(|f| f.field == field) {
                continue;
            }
            let value = if (field == "gpu" && desired.gpu_order.len() > 1)
                || (field == "datacenter" && desired.datacenters.len() > 1)
            {
                format!("{value} (first with stock, see candidates)")
            } else {
                value
            };
            fields.push(FieldChange {
                field: field.to_string(),
                old: None,
                new: Some(value),
                forces_replacement: false,
            });
        }
        fields
    };

    let mut current_spec: Option<PodSpec> = None;
    report.pod = match choice {
        PodChoice::Create { reason } => {
            builder.then(
                StepKind::CreatePod {
                    candidates: ranked.clone(),
                },
                reason.clone(),
            );
            report.summary.create += 1;
            report.cost.running_per_hr = first_price;
            PodChange {
                action: PodAction::Create,
                pod_id: None,
                status: None,
                fields: create_fields(Vec::new()),
                unchanged: 0,
                reason,
            }
        }
        PodChoice::Replace {
            old,
            why,
            fields,
            reason,
        } => {
            let requested = why == DeleteReason::ReplaceRequested;
            builder.then(
                StepKind::DeletePod {
                    pod_id: old.clone(),
                    why,
                },
                reason.clone(),
            );
            builder.then(
                StepKind::CreatePod {
                    candidates: ranked.clone(),
                },
                format!("replaces {old}"),
            );
            report.summary.create += 1;
            report.summary.destroy += 1;
            report.cost.running_per_hr = first_price;
            let total = diff::spec_fields(&desired.spec_on(&ranked[0])).len();
            let forcing = fields.len();
            let mut shown = fields;
            shown.push(FieldChange {
                field: "id".into(),
                old: Some(format!("{old:?}")),
                new: None,
                forces_replacement: false,
            });
            PodChange {
                action: if requested {
                    PodAction::ReplaceRequested
                } else {
                    PodAction::Replace
                },
                pod_id: Some(old),
                status: None,
                fields: shown,
                unchanged: total.saturating_sub(forcing),
                reason,
            }
        }
        PodChoice::Resume { pod, status } => {
            builder.then(
                StepKind::StartPod {
                    pod_id: pod.clone(),
                    fallback: ranked.clone(),
                },
                "",
            );
            report.summary.resume += 1;
            let setup = if input.job.setup > 0 {
                ", so setup runs again"
            } else {
                ""
            };
            report.notes.push(format!(
                "a resumed pod keeps {mount} (its volume); its container disk (apt packages, caches outside {mount}) was wiped when it stopped{setup}",
                mount = input.job.volume_mount
            ));
            current_spec = current.as_ref().map(|(_, r, o)| {
                diff::effective(r, &o.pod().map(|p| p.spec.clone()).unwrap_or_default())
            });
            PodChange {
                action: PodAction::Resume,
                pod_id: Some(pod.clone()),
                status: Some(status),
                fields: Vec::new(),
                unchanged: 0,
                reason: format!("resume paused pod {pod}"),
            }
        }
        PodChoice::Reuse { pod, status } => {
            builder.then(
                StepKind::UsePod {
                    pod_id: pod.clone(),
                },
                format!("{pod} is already running"),
            );
            current_spec = current.as_ref().map(|(_, r, o)| {
                diff::effective(r, &o.pod().map(|p| p.spec.clone()).unwrap_or_default())
            });
            PodChange {
                action: PodAction::Reuse,
                pod_id: Some(pod.clone()),
                status: Some(status),
                fields: Vec::new(),
                unchanged: 0,
                reason: format!("{pod} is already running"),
            }
        }
    };
    if let Some(spec) = &current_spec {
        report.cost.running_per_hr = current
            .as_ref()
            .and_then(|(_, _, o)| o.pod())
            .and_then(|p| p.cost_per_hr)
            .filter(|c| *c > 0.0)
            .or_else(|| price_of(spec, desired, input.catalog));
    }

    add_job_steps(&mut builder, input.job);
    let pull = builder.last.expect("job steps were added");
    let lifecycle = input.lifecycle;
    for (when, action) in [
        (Outcome::Success, lifecycle.on_success),
        (Outcome::Failure, lifecycle.on_failure),
    ] {
        builder.branch(
            pull,
            StepKind::Lifecycle { when, action },
            lifecycle_reason(action),
        );
    }
    match lifecycle.on_success {
        LifecycleAction::Recycle | LifecycleAction::Stop => report.summary.stop += 1,
        LifecycleAction::Delete => report.summary.destroy += 1,
        LifecycleAction::Preserve => {}
    }
    if matches!(
        lifecycle.on_success,
        LifecycleAction::Recycle | LifecycleAction::Stop
    ) || matches!(lifecycle.on_failure, LifecycleAction::Stop)
    {
        report.cost.stopped_per_month = Some(cost::stopped_usd_per_month(Some(&desired.storage)));
        if let crate::model::Storage::Ephemeral { volume_gb, .. } = desired.storage {
            report.cost.volume_gb = Some(volume_gb);
        }
    }
    for (when, action) in [
        ("on_success", lifecycle.on_success),
        ("on_failure", lifecycle.on_failure),
    ] {
        if action == LifecycleAction::Preserve {
            let rate = report
                .cost
                .running_per_hr
                .map(|r| format!(" (~{}/hr)", cost::usd(r)))
                .unwrap_or_default();
            report.warnings.push(format!(
                "lifecycle.{when}: preserve leaves the pod running after the job: it keeps billing{rate} until you delete it"
            ));
        }
    }
    retained_notes(input, &mut report, &mut builder);
    report.has_pod_changes = builder
        .graph
        .node_weights()
        .any(|s| s.kind.changes_things());

    Plan {
        job_name: input.job_name.to_string(),
        mode: Mode::Apply,
        graph: builder.graph,
        report,
        lifecycle,
    }
}

/// The recorded pod (or one adopted from an interrupted create) and what the
/// provider says about it.
fn current_pod(
    input: &PlanningInput,
    report: &mut PlanReport,
    builder: &mut Builder,
) -> Option<(String, PodSpec, Observation)> {
    let state = input.state?;
    if let Some(pending) = &state.pending_create {
        let untracked: Vec<&ObservedPod> = input
            .observed
            .pending_matches
            .iter()
            .filter(|p| {
                p.status != PodStatus::Terminated && !state.pod_ids().contains(&p.id.as_str())
            })
            .collect();
        // With no current pod, the first match is the pod the interrupted
        // create made; any other pod of that name is a duplicate.
        let adopt = if state.pod.is_none() {
            untracked.first().copied()
        } else {
            None
        };
        for dup in untracked
            .iter()
            .filter(|p| Some(p.id.as_str()) != adopt.map(|a| a.id.as_str()))
        {
            builder.then(
                StepKind::DeletePod {
                    pod_id: dup.id.clone(),
                    why: DeleteReason::Duplicate,
                },
                format!(
                    "untracked pod named {:?} from an interrupted create",
                    pending.name
                ),
            );
            report.summary.destroy += 1;
        }
        match adopt {
            Some(found) => {
                report.warnings.push(format!(
                    "a create of pod {:?} was interrupted at {}; the provider has it as {}: rpd adopts it",
                    pending.name,
                    pending.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    found.id
                ));
                builder.then(
                    StepKind::AdoptPod {
                        pod_id: found.id.clone(),
                    },
                    format!(
                        "found by the name {:?} of an interrupted create",
                        pending.name
                    ),
                );
                report.state_only_changes.push(format!(
                    "record pod {} from the interrupted create",
                    found.id
                ));
                return Some((
                    found.id.clone(),
                    found.spec.clone(),
                    Observation::Pod(Box::new(found.clone())),
                ));
            }
            None => {
                if untracked.is_empty() {
                    report.state_only_changes.push(format!(
                        "forget the interrupted create of {:?} (no untracked pod has that name)",
                        pending.name
                    ));
                }
                builder.then(
                    StepKind::ForgetPendingCreate {
                        name: pending.name.clone(),
                    },
                    "the interrupted create is settled",
                );
            }
        }
    }
    let pod = state.pod.as_ref()?;
    let observation = input
        .observed
        .pods
        .get(&pod.id)
        .cloned()
        .unwrap_or(Observation::Gone);
    let observation = match observation {
        Observation::Pod(p) if p.status == PodStatus::Terminated => Observation::Gone,
        other => other,
    };
    if let (Some(before), Observation::Pod(now)) = (pod.status, &observation)
        && before != now.status
    {
        let billing = if now.status.is_active() && !before.is_active() {
            " (started outside rpd: it is billing)"
        } else {
            ""
        };
        report.drift.push(Drift::Changed {
            pod_id: pod.id.clone(),
            fields: vec![FieldChange {
                field: "status".into(),
                old: Some(format!("{:?}", before.as_str())),
                new: Some(format!("{:?}{billing}", now.status.as_str())),
                forces_replacement: false,
            }],
        });
    }
    Some((pod.id.clone(), pod.spec.clone(), observation))
}

fn add_job_steps(builder: &mut Builder, job: &JobOutline) {
    builder.then(
        StepKind::WaitReady {
            timeout_sec: job.ssh_ready_timeout_sec,
        },
        "",
    );
    if job.setup > 0 {
        builder.then(
            StepKind::Setup {
                commands: job.setup,
            },
            "",
        );
    }
    if job.secrets > 0 {
        builder.then(
            StepKind::Secrets { count: job.secrets },
            "values never shown",
        );
    }
    if job.staging > 0 {
        builder.then(
            StepKind::Staging {
                pushes: job.staging,
            },
            "incremental",
        );
    }
    if job.preflight > 0 {
        builder.then(
            StepKind::Preflight {
                commands: job.preflight,
            },
            "",
        );
    }
    builder.then(
        StepKind::Launch {
            script_path: job.script_path.clone(),
        },
        "",
    );
    builder.then(
        StepKind::Monitor {
            timeout_sec: job.timeout_sec,
        },
        "",
    );
    builder.then(
        StepKind::Pull {
            artifacts: job.artifacts,
        },
        "",
    );
}

fn lifecycle_reason(action: LifecycleAction) -> &'static str {
    match action {
        LifecycleAction::Recycle => "kept to resume next time",
        LifecycleAction::Stop => "kept for forensics; the next apply creates a fresh pod",
        LifecycleAction::Delete => "",
        LifecycleAction::Preserve => "it keeps billing",
    }
}

/// Retained pods: forget the ones that are gone; report the others' cost.
fn retained_notes(input: &PlanningInput, report: &mut PlanReport, builder: &mut Builder) {
    let Some(state) = input.state else { return };
    for retained in &state.retained {
        let id = &retained.pod.id;
        match input.observed.pods.get(id).and_then(Observation::pod) {
            Some(pod) => {
                let per_month = if pod.status.is_active() {
                    pod.cost_per_hr.unwrap_or(0.0) * 24.0 * 30.0
                } else {
                    cost::stopped_usd_per_month(retained.pod.spec.storage.as_ref())
                };
                report.retained.push(RetainedNote {
                    pod_id: id.clone(),
                    status: Some(pod.status),
                    reason: retained.reason.clone(),
                    per_month,
                });
            }
            None => {
                builder.graph.add_node(Step {
                    kind: StepKind::ForgetPod { pod_id: id.clone() },
                    reason: format!("retained pod {id} no longer exists"),
                });
                report
                    .state_only_changes
                    .push(format!("forget retained pod {id} (it no longer exists)"));
            }
        }
    }
}

fn empty_report() -> PlanReport {
    PlanReport {
        drift: Vec::new(),
        pod: PodChange {
            action: PodAction::Nothing,
            pod_id: None,
            status: None,
            fields: Vec::new(),
            unchanged: 0,
            reason: String::new(),
        },
        retained: Vec::new(),
        warnings: Vec::new(),
        notes: Vec::new(),
        summary: Summary::default(),
        has_pod_changes: false,
        state_only_changes: Vec::new(),
        cost: CostReport::default(),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests;
