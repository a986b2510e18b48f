//! The plan's steps: nodes of a DAG whose edges are "must finish before".
//! Apply walks them in [`Plan::ordered`]; renderers number them the same way.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use petgraph::Direction;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::input::Mode;
use super::report::{PlanReport, Reason};
use crate::model::{BusyHostPolicy, Candidate, Lifecycle, LifecycleAction, Outcome, PodUpdate};

/// Why a pod is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeleteReason {
    ReplaceRequested,
    ReplaceMismatch,
    ReplaceError,
    Destroy,
    Retained,
    Duplicate,
    /// `rpd cleanup`.
    Cleanup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StepKind {
    DeletePod {
        pod_id: String,
        why: DeleteReason,
    },
    CreatePod {
        candidates: Vec<Candidate>,
    },
    /// Resume a paused pod; if its host has no free GPU, `busy_host` says
    /// what then: wait for it, or replace the pod on the candidates (only
    /// if one has stock), or keep it paused.
    StartPod {
        pod_id: String,
        fallback: Vec<Candidate>,
        busy_host: BusyHost,
    },
    UsePod {
        pod_id: String,
    },
    /// Change the pod in place (REST v2 PATCH): only the fields set.
    UpdatePod {
        pod_id: String,
        update: PodUpdate,
    },
    /// Stop a pod and keep it (`rpd cleanup --mode stop`).
    StopPod {
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
    /// Follow the job a detached or killed apply left on the pod, or
    /// collect it if it has ended; it is never run again.
    Attach {
        pod_id: String,
        launched_at: chrono::DateTime<chrono::Utc>,
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
    /// State bookkeeping: the job the state records as launched on
    /// `pod_id` was collected by an earlier apply that could not record it.
    ForgetCollectedJob {
        pod_id: String,
    },
    /// State bookkeeping: an update whose answer was lost is settled; the
    /// recorded spec takes it when the live pod has it (`applied`).
    SettleInterruptedUpdate {
        pod_id: String,
        applied: bool,
    },
    RemoveState,
}

impl StepKind {
    /// The step's kind as the JSON plan names it (`op`).
    pub fn op(&self) -> &'static str {
        match self {
            StepKind::DeletePod { .. } => "delete_pod",
            StepKind::CreatePod { .. } => "create_pod",
            StepKind::StartPod { .. } => "start_pod",
            StepKind::UsePod { .. } => "use_pod",
            StepKind::UpdatePod { .. } => "update_pod",
            StepKind::StopPod { .. } => "stop_pod",
            StepKind::AdoptPod { .. } => "adopt_pod",
            StepKind::WaitReady { .. } => "wait_ready",
            StepKind::Setup { .. } => "setup",
            StepKind::Secrets { .. } => "secrets",
            StepKind::Staging { .. } => "staging",
            StepKind::Preflight { .. } => "preflight",
            StepKind::Launch { .. } => "launch",
            StepKind::Monitor { .. } => "monitor",
            StepKind::Attach { .. } => "attach",
            StepKind::Pull { .. } => "pull",
            StepKind::Lifecycle { .. } => "lifecycle",
            StepKind::ForgetPod { .. } => "forget_pod",
            StepKind::ForgetPendingCreate { .. } => "forget_pending_create",
            StepKind::ForgetCollectedJob { .. } => "forget_collected_job",
            StepKind::SettleInterruptedUpdate { .. } => "settle_interrupted_update",
            StepKind::RemoveState => "remove_state",
        }
    }

    /// Calls the provider to change a pod, or runs the job.
    pub fn changes_things(&self) -> bool {
        !matches!(
            self,
            StepKind::ForgetPod { .. }
                | StepKind::ForgetPendingCreate { .. }
                | StepKind::ForgetCollectedJob { .. }
                | StepKind::SettleInterruptedUpdate { .. }
                | StepKind::RemoveState
                | StepKind::AdoptPod { .. }
        )
    }
}

/// What a resume does when the host's GPU is taken, and who chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BusyHost {
    pub policy: BusyHostPolicy,
    pub set_by: SetBy,
    /// How long `wait` tries the start again, in milliseconds.
    pub wait_ms: u64,
    /// The pod holds a job an earlier apply launched and no rpd collected:
    /// its results are only there, so it is never deleted nor replaced,
    /// whatever `policy` says. The start is tried again for `wait_ms`
    /// (`fail`: not at all), then the pod is kept paused with its job.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub holds_job: bool,
}

/// Where a setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SetBy {
    Default,
    /// The config's key.
    Config,
    /// The command line.
    Flag,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    #[serde(flatten)]
    pub kind: StepKind,
    pub reason: Option<Reason>,
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
    /// Steps in execution order: a topological sort of the edges (Kahn's
    /// algorithm), taking the lowest node index among the ready steps so the
    /// order is the same on every run.
    pub fn ordered(&self) -> Vec<(NodeIndex, &Step)> {
        let graph = &self.graph;
        let mut waiting: HashMap<NodeIndex, usize> = graph
            .node_indices()
            .map(|n| (n, graph.neighbors_directed(n, Direction::Incoming).count()))
            .collect();
        let mut ready: BinaryHeap<Reverse<NodeIndex>> = waiting
            .iter()
            .filter(|(_, before)| **before == 0)
            .map(|(n, _)| Reverse(*n))
            .collect();
        let mut order = Vec::with_capacity(graph.node_count());
        while let Some(Reverse(node)) = ready.pop() {
            order.push((node, &graph[node]));
            for next in graph.neighbors_directed(node, Direction::Outgoing) {
                let before = waiting.get_mut(&next).expect("every node is counted");
                *before -= 1;
                if *before == 0 {
                    ready.push(Reverse(next));
                }
            }
        }
        assert_eq!(
            order.len(),
            graph.node_count(),
            "plans are acyclic: the builder only adds edges into a new node"
        );
        order
    }

    pub fn steps(&self) -> Vec<&Step> {
        self.ordered().into_iter().map(|(_, s)| s).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// Whether the plan attaches to a job launched earlier (instead of
    /// running the job).
    pub fn attaches(&self) -> bool {
        self.steps()
            .iter()
            .any(|s| matches!(s.kind, StepKind::Attach { .. }))
    }
}

/// Builds the step graph: each new step follows every step of the current
/// frontier (the last step, or the branches after it).
pub(super) struct Builder {
    pub graph: StableDiGraph<Step, ()>,
    frontier: Vec<NodeIndex>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder {
            graph: StableDiGraph::new(),
            frontier: Vec::new(),
        }
    }

    /// A step after the frontier; it becomes the frontier.
    pub fn then(&mut self, kind: StepKind, reason: Option<Reason>) {
        let node = self.graph.add_node(Step { kind, reason });
        for before in std::mem::take(&mut self.frontier) {
            self.graph.add_edge(before, node, ());
        }
        self.frontier.push(node);
    }

    /// Alternative steps that each follow the frontier; together they become
    /// the frontier (the lifecycle for success and for failure).
    pub fn branches(&mut self, steps: impl IntoIterator<Item = (StepKind, Option<Reason>)>) {
        let before = std::mem::take(&mut self.frontier);
        for (kind, reason) in steps {
            let node = self.graph.add_node(Step { kind, reason });
            for b in &before {
                self.graph.add_edge(*b, node, ());
            }
            self.frontier.push(node);
        }
    }
}
