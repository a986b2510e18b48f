//! The plan as data: what the planner takes in and gives out. Renderers
//! print these; apply walks them.

use std::collections::BTreeMap;

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use serde::Serialize;

use super::FieldChange;
use crate::model::{
    Candidate, CloudType, DesiredPod, Lifecycle, LifecycleAction, ObservedPod, Outcome, PodStatus,
};
use crate::model::Catalog;
use crate::state::State;

/// What the provider says about one recorded pod.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Observation {
    /// Not found (or TERMINATED): the pod no longer exists.
    Gone,
    Pod(Box<ObservedPod>),
}

impl Observation {
    pub fn pod(&self) -> Option<&ObservedPod> {
        match self {
            Observation::Pod(p) if p.status != PodStatus::Terminated => Some(p),
            _ => None,
        }
    }
}

/// Everything the refresh found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observations {
    /// The state's current pod, keyed by id (also retained pods).
    pub pods: BTreeMap<String, Observation>,
    /// Pods found under the name of an interrupted create.
    pub pending_matches: Vec<ObservedPod>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Apply,
    Destroy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    pub mode: Mode,
    /// `--replace`: a fresh pod whatever the current one looks like.
    pub replace: bool,
    /// `--fallback-cloud-type`: also try each candidate on this cloud, and
    /// accept a pod on it (runpod-deploy's flag).
    pub fallback_cloud: Option<CloudType>,
}

/// What the job will do, for the plan's steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobOutline {
    pub setup: usize,
    pub secrets: usize,
    pub staging: usize,
    pub preflight: usize,
    pub artifacts: usize,
    pub script_path: String,
    pub log_path: String,
    pub timeout_sec: u64,
    pub ssh_ready_timeout_sec: u32,
    pub volume_mount: String,
}

pub struct PlanningInput<'a> {
    pub job_name: &'a str,
    pub desired: &'a DesiredPod,
    pub lifecycle: Lifecycle,
    pub job: &'a JobOutline,
    pub state: Option<&'a State>,
    pub observed: &'a Observations,
    pub catalog: Option<&'a Catalog>,
    /// Stock and prices on the fallback cloud, when there is one.
    pub fallback_catalog: Option<&'a Catalog>,
    pub options: PlanOptions,
}

/// Why a pod is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteReason {
    ReplaceRequested,
    ReplaceMismatch,
    ReplaceError,
    Destroy,
    Retained,
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StepKind {
    DeletePod {
        pod_id: String,
        why: DeleteReason,
    },
    CreatePod {
        candidates: Vec<Candidate>,
    },
    /// Resume a paused pod; if its host has no free GPU, delete it and create
    /// on the candidates instead (never leave it behind).
    StartPod {
        pod_id: String,
        fallback: Vec<Candidate>,
    },
    UsePod {
        pod_id: String,
    },
    AdoptPod {
        pod_id: String,
    },
    WaitReady {
        timeout_sec: u32,
    },
    Setup {
        commands: usize,
    },
    Secrets {
        count: usize,
    },
    Staging {
        pushes: usize,
    },
    Preflight {
        commands: usize,
    },
    Launch {
        script_path: String,
    },
    Monitor {
        timeout_sec: u64,
    },
    Pull {
        artifacts: usize,
    },
    Lifecycle {
        when: Outcome,
        action: LifecycleAction,
    },
    /// State bookkeeping: drop a pod that no longer exists.
    ForgetPod {
        pod_id: String,
    },
    /// State bookkeeping: the interrupted create is settled (adopted,
    /// deleted as a duplicate, or it never made a pod).
    ForgetPendingCreate {
        name: String,
    },
    RemoveState,
}

impl StepKind {
    /// Calls the provider to change a pod, or runs the job.
    pub fn changes_things(&self) -> bool {
        !matches!(
            self,
            StepKind::ForgetPod { .. }
                | StepKind::ForgetPendingCreate { .. }
                | StepKind::RemoveState
                | StepKind::AdoptPod { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub kind: StepKind,
    pub reason: String,
}

/// The pod-level headline of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PodAction {
    Create,
    Replace,
    ReplaceRequested,
    Resume,
    Reuse,
    Destroy,
    /// Nothing to do to the pod (destroy with nothing recorded).
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodChange {
    pub action: PodAction,
    pub pod_id: Option<String>,
    /// The status now, for resume/reuse/destroy.
    pub status: Option<PodStatus>,
    /// For a create: every attribute; for a replace: what forces it.
    pub fields: Vec<FieldChange>,
    /// Attributes shown unchanged, hidden in the text plan.
    pub unchanged: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    Deleted {
        pod_id: String,
    },
    Changed {
        pod_id: String,
        fields: Vec<FieldChange>,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub resume: usize,
    pub destroy: usize,
    pub stop: usize,
}

impl Summary {
    /// The frozen summary line (see README "Output contract").
    pub fn line(&self) -> String {
        format!(
            "Plan: {} to create, {} to resume, {} to destroy, {} to stop.",
            self.create, self.resume, self.destroy, self.stop
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostReport {
    /// $/hr of the pod while it runs the job, when known.
    pub running_per_hr: Option<f64>,
    /// $/month the pod costs while stopped after the job (recycle, stop).
    pub stopped_per_month: Option<f64>,
    pub volume_gb: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetainedNote {
    pub pod_id: String,
    pub status: Option<PodStatus>,
    pub reason: String,
    pub per_month: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    pub drift: Vec<Drift>,
    pub pod: PodChange,
    pub retained: Vec<RetainedNote>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    pub summary: Summary,
    /// Applying would call the provider to change a pod or run the job.
    pub has_pod_changes: bool,
    /// State bookkeeping applying would do (reported, never exit 2).
    pub state_only_changes: Vec<String>,
    pub cost: CostReport,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub job_name: String,
    pub mode: Mode,
    pub graph: StableDiGraph<Step, ()>,
    pub report: PlanReport,
    pub lifecycle: Lifecycle,
}

impl Plan {
    /// Steps in execution order (nodes are added in a topological order).
    pub fn ordered(&self) -> Vec<(NodeIndex, &Step)> {
        let order =
            petgraph::algo::toposort(&self.graph, None).expect("plans are acyclic by construction");
        let mut order = order;
        order.sort_by_key(|n| n.index());
        order.into_iter().map(|n| (n, &self.graph[n])).collect()
    }

    pub fn steps(&self) -> Vec<&Step> {
        self.ordered().into_iter().map(|(_, s)| s).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }
}
