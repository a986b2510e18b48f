//! The planner's tests: fixtures and a case builder here; the decision
//! table (PLANNER.md) in `table`, the input's other findings and the step
//! order in `findings`.

mod account;
mod findings;
mod table;

use std::path::PathBuf;

use super::*;
use crate::model::{
    Candidate, CloudType, DesiredPod, Lifecycle, LifecycleAction, ObservedPod, Offer, PodSpec,
    PodStatus, Storage,
};
use crate::state::{Origin, Owner, PodRecord, State};

const A40: &str = "NVIDIA A40";
const L40S: &str = "NVIDIA L40S";

fn desired() -> DesiredPod {
    DesiredPod {
        image: "img:1".into(),
        gpu_order: vec![A40.into(), L40S.into()],
        datacenters: vec!["EU-RO-1".into(), "US-CA-2".into()],
        cloud_type: CloudType::Secure,
        all_clouds: false,
        gpu_count: 1,
        container_disk_gb: 20,
        storage: Storage::Ephemeral {
            volume_gb: 20,
            mount: "/workspace".into(),
        },
        ports: vec!["22/tcp".into()],
        env: Default::default(),
        min_vcpu_count: None,
        min_memory_gb: None,
        spot: false,
    }
}

fn recycle() -> Lifecycle {
    Lifecycle {
        on_success: LifecycleAction::Recycle,
        on_failure: LifecycleAction::Stop,
        on_busy_host: None,
        unattended_stop_after_sec: 600,
    }
}

fn job() -> JobOutline {
    JobOutline {
        setup: 1,
        secrets: 0,
        staging: 1,
        preflight: 0,
        artifacts: 1,
        script_path: "/workspace/run.sh".into(),
        log_path: "/workspace/run.log".into(),
        timeout_sec: 3600,
        timeout_is_max_runtime: true,
        ssh_ready_timeout_sec: 900,
        volume_mount: "/workspace".into(),
    }
}

fn catalog(stock: &[(&str, &str, Stock)]) -> Catalog {
    Catalog {
        offers: stock
            .iter()
            .map(|(dc, gpu, s)| Offer {
                datacenter_id: dc.to_string(),
                gpu_id: gpu.to_string(),
                stock: *s,
                price_per_gpu_hr: Some(0.40),
            })
            .collect(),
        gpu_types: None,
        datacenters: None,
    }
}

/// The spec a pod created on (dc, gpu) for `desired()` records.
fn spec(dc: &str, gpu: &str) -> PodSpec {
    desired().spec_on(&Candidate {
        datacenter_id: dc.into(),
        gpu_id: gpu.into(),
        cloud_type: CloudType::Secure,
        price_per_hr: None,
        stock: Stock::Unknown,
        invalid: None,
    })
}

fn state_with(pod_spec: PodSpec, status: PodStatus) -> State {
    let mut state = State::new(Owner {
        config: PathBuf::from("/c.yaml"),
        job_name: "hello".into(),
    });
    state.pod = Some(PodRecord {
        id: "pod1".into(),
        name: "hello-1".into(),
        spec: pod_spec,
        status: Some(status),
        status_since: None,
        created_at: None,
        provider: Some("sim".into()),
    });
    state
}

fn observed(id: &str, status: PodStatus, pod_spec: PodSpec) -> Observation {
    Observation::Pod(Box::new(ObservedPod {
        id: id.into(),
        name: "hello-1".into(),
        status,
        spec: pod_spec,
        cost_per_hr: Some(if status.is_active() { 0.4 } else { 0.0 }),
        access: None,
        ssh_proxy: false,
        no_public_ssh: false,
        status_text: None,
        actions: None,
        created_at: None,
        changed_at: None,
    }))
}

struct Case {
    state: Option<State>,
    origin: Origin,
    observed: Observations,
    replace: bool,
    mode: Mode,
    desired: DesiredPod,
    catalog: CatalogRead,
    /// The other cloud's catalog (`--fallback-cloud-type`, `ALL`).
    other_catalog: Option<Catalog>,
    network_volumes: VolumesRead,
    /// The key the provider uses now.
    api_key_fingerprint: Option<String>,
    fallback_cloud: Option<CloudType>,
    lock: Option<LockSeen>,
    missing_ssh_key: Option<MissingSshKey>,
    local_problems: Vec<LocalProblem>,
    unsandboxed: Option<crate::model::NoSandbox>,
    on_busy_host: Option<crate::model::BusyHostPolicy>,
    in_place_updates: crate::model::InPlaceUpdates,
}

impl Case {
    fn new() -> Case {
        Case {
            state: None,
            origin: Origin::Rpd,
            observed: Observations::default(),
            replace: false,
            mode: Mode::Apply,
            desired: desired(),
            catalog: CatalogRead::Read(catalog(&[("EU-RO-1", A40, Stock::High)])),
            other_catalog: None,
            network_volumes: VolumesRead::NotRead,
            api_key_fingerprint: None,
            fallback_cloud: None,
            lock: None,
            missing_ssh_key: None,
            local_problems: Vec::new(),
            unsandboxed: None,
            on_busy_host: None,
            in_place_updates: crate::model::InPlaceUpdates::Supported,
        }
    }

    fn recorded(mut self, status: PodStatus, now: Observation) -> Case {
        self.state = Some(state_with(spec("EU-RO-1", A40), status));
        self.observed.pods.insert("pod1".into(), now);
        self
    }

    fn input(&self) -> PlanningInput {
        PlanningInput {
            desired: Desired {
                job_name: "hello".into(),
                pod: self.desired.clone(),
                lifecycle: recycle(),
                job: job(),
            },
            recorded: self.state.clone().map(|state| Recorded {
                state,
                origin: self.origin,
                path: PathBuf::from("/c.state.json"),
            }),
            observed: self.observed.clone(),
            catalog: self.catalog.clone(),
            fallback_catalog: self.other_catalog.clone(),
            network_volumes: self.network_volumes.clone(),
            api_key_fingerprint: self.api_key_fingerprint.clone(),
            lock: self.lock.clone(),
            missing_ssh_key: self.missing_ssh_key.clone(),
            local_problems: self.local_problems.clone(),
            unsandboxed: self.unsandboxed.clone(),
            in_place_updates: self.in_place_updates.clone(),
            now: "2026-11-27T12:00:00Z".parse().unwrap(),
            options: PlanOptions {
                replace: self.replace,
                fallback_cloud: self.fallback_cloud,
                direct_ssh_grace: Some(std::time::Duration::from_secs(60)),
                on_busy_host: self.on_busy_host,
                ..PlanOptions::new(self.mode)
            },
        }
    }

    fn plan(&self) -> Plan {
        plan(&self.input()).expect("a valid input")
    }
}

/// The pod-changing steps before the job, as short words.
fn prelude(plan: &Plan) -> Vec<String> {
    plan.steps()
        .iter()
        .map_while(|s| match &s.kind {
            StepKind::DeletePod { pod_id, .. } => Some(format!("delete {pod_id}")),
            StepKind::CreatePod { .. } => Some("create".into()),
            StepKind::StartPod { pod_id, .. } => Some(format!("start {pod_id}")),
            StepKind::UsePod { pod_id } => Some(format!("use {pod_id}")),
            StepKind::UpdatePod { pod_id, update } => Some(format!(
                "update {pod_id}: {}",
                update.field_names().join(", ")
            )),
            StepKind::AdoptPod { pod_id } => Some(format!("adopt {pod_id}")),
            StepKind::SettleInterruptedUpdate { pod_id, applied } => {
                Some(format!("settle update of {pod_id}, applied: {applied}"))
            }
            _ => None,
        })
        .collect()
}

fn summary(plan: &Plan) -> (usize, usize, usize, usize) {
    let s = plan.report.summary;
    (s.create, s.resume, s.destroy, s.stop)
}

/// The fields a replacement names as forcing it.
fn forcing(plan: &Plan) -> Vec<&str> {
    plan.report
        .pod
        .fields
        .iter()
        .filter(|f| f.forces_replacement)
        .map(|f| f.field.as_str())
        .collect()
}
