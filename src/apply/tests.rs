//! The executor on the simulator, in a temporary directory: plans made by
//! the planner, carried out step by step, and what the state and the
//! simulated RunPod hold after.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;

use super::*;
use crate::config::LoadOptions;
use crate::model::{Catalog, CloudType, PodUpdate};
use crate::plan::{
    CatalogRead, Desired, JobOutline, Mode, Observation, Observations, PlanOptions, PlanningInput,
    Recorded,
};
use crate::provider::sim::{SimProvider, Store, World};
use crate::provider::{NetworkVolume, Provider, ProviderResult};
use crate::state::Owner;

/// The simulator, with deletes and reads that fail (as a 503 would)
/// while `failing_deletes` and `failing_gets` are above zero.
struct Sim {
    inner: SimProvider,
    failing_deletes: AtomicU32,
    failing_gets: AtomicU32,
    deletes: AtomicU32,
}

#[async_trait]
impl Provider for Sim {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn poll_schedule(&self) -> PollSchedule {
        PollSchedule::every(Duration::from_millis(20))
    }
    fn needs_ssh_key(&self) -> bool {
        self.inner.needs_ssh_key()
    }
    async fn get(&self, id: &str) -> ProviderResult<Option<ObservedPod>> {
        let failing = self.failing_gets.load(Ordering::SeqCst);
        if failing > 0 {
            self.failing_gets.store(failing - 1, Ordering::SeqCst);
            return Err(ProviderError::Transient("simulated 503 on get".into()));
        }
        self.inner.get(id).await
    }
    async fn describe(&self, id: &str) -> ProviderResult<Option<serde_json::Value>> {
        self.inner.describe(id).await
    }
    async fn list(&self) -> ProviderResult<Vec<ObservedPod>> {
        self.inner.list().await
    }
    async fn create(&self, request: &CreatePodRequest) -> ProviderResult<ObservedPod> {
        self.inner.create(request).await
    }
    async fn update(&self, id: &str, update: &PodUpdate) -> ProviderResult<ObservedPod> {
        self.inner.update(id, update).await
    }
    async fn start(&self, id: &str) -> ProviderResult<()> {
        self.inner.start(id).await
    }
    async fn stop(&self, id: &str) -> ProviderResult<()> {
        self.inner.stop(id).await
    }
    async fn delete(&self, id: &str) -> ProviderResult<()> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        let failing = self.failing_deletes.load(Ordering::SeqCst);
        if failing > 0 {
            self.failing_deletes.store(failing - 1, Ordering::SeqCst);
            return Err(ProviderError::Transient("simulated 503 on delete".into()));
        }
        self.inner.delete(id).await
    }
    async fn catalog(
        &self,
        gpu_ids: &[String],
        datacenter_ids: &[String],
        cloud_type: CloudType,
        gpu_count: u32,
    ) -> ProviderResult<Catalog> {
        self.inner
            .catalog(gpu_ids, datacenter_ids, cloud_type, gpu_count)
            .await
    }
    async fn network_volumes(&self) -> ProviderResult<Vec<NetworkVolume>> {
        self.inner.network_volumes().await
    }
}

/// A config whose job prints its success marker, a simulator that boots in
/// tens of milliseconds, and the state between runs.
struct Bench {
    _dir: tempfile::TempDir,
    config: Config,
    store: Store,
    sim: Arc<Sim>,
}

fn bench() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let yaml = "schema_version: 2\nname: unit\n\
         pod:\n  image: img:1\n  datacenters: [EU-RO-1]\n  gpu_order: [\"NVIDIA A40\"]\n\
         storage:\n  mode: ephemeral\n  volume_gb: 20\n\
         run:\n  script_path: /workspace/job/run.sh\n  log_path: /workspace/job/run.log\n  success_marker: JOB_DONE\n  body: |\n    echo JOB_DONE\n\
         lifecycle:\n  on_success: recycle\n  on_failure: stop\n";
    std::fs::write(root.join("unit.yaml"), yaml).unwrap();
    let config = crate::config::load(&root.join("unit.yaml"), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let store = Store::new(root.join("sim"));
    store
        .with(|world, _| {
            world.cold_boot_ms = 60;
            world.warm_boot_ms = 30;
        })
        .unwrap();
    let sim = Arc::new(Sim {
        inner: SimProvider::new(store.clone()),
        failing_deletes: AtomicU32::new(0),
        failing_gets: AtomicU32::new(0),
        deletes: AtomicU32::new(0),
    });
    Bench {
        _dir: dir,
        config,
        store,
        sim,
    }
}

impl Bench {
    fn owner(&self) -> Owner {
        Owner {
            config: self.config.canonical_path.clone(),
            job_name: self.config.name.clone(),
        }
    }

    fn state(&self) -> Option<State> {
        state::read(&self.config.state_file)
            .unwrap()
            .map(|loaded| loaded.state)
    }

    fn world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        self.store.with(|world, _| f(world)).unwrap()
    }

    /// The planner's plan for the state as it is and the pods as the
    /// simulator has them.
    async fn plan(&self, options: PlanOptions) -> Plan {
        let loaded = state::read(&self.config.state_file).unwrap();
        let mut observed = Observations::default();
        for id in loaded.iter().flat_map(|l| l.state.pod_ids()) {
            let observation = match self.sim.get(id).await.unwrap() {
                Some(pod) => Observation::Pod(Box::new(pod)),
                None => Observation::Gone,
            };
            observed.pods.insert(id.to_string(), observation);
        }
        let pod = &self.config.pod;
        let catalog = self
            .sim
            .catalog(
                &pod.gpu_order,
                &pod.datacenters,
                pod.cloud_type,
                pod.gpu_count,
            )
            .await
            .unwrap();
        let input = PlanningInput {
            desired: Desired {
                job_name: self.config.name.clone(),
                pod: pod.clone(),
                lifecycle: self.config.lifecycle,
                job: JobOutline {
                    script_path: self.config.job.run.script_path.clone(),
                    log_path: self.config.job.run.log_path.clone(),
                    timeout_sec: self.config.budget.timeout_sec,
                    ssh_ready_timeout_sec: self.config.budget.ssh_ready_timeout_sec,
                    volume_mount: pod.storage.mount().to_string(),
                    ..JobOutline::default()
                },
            },
            recorded: loaded.map(|loaded| Recorded {
                state: loaded.state,
                origin: loaded.origin,
                path: self.config.state_file.clone(),
            }),
            observed,
            catalog: CatalogRead::Read(catalog),
            fallback_catalog: None,
            network_volumes: crate::plan::VolumesRead::NotRead,
            api_key_fingerprint: None,
            lock: None,
            missing_ssh_key: None,
            local_problems: Vec::new(),
            unsandboxed: None,
            in_place_updates: self.sim.in_place_updates().await,
            now: chrono::Utc::now(),
            options,
        };
        crate::plan::plan(&input).unwrap()
    }

    /// Plans and carries the plan out, with the retries of stop and
    /// delete a millisecond apart.
    async fn apply(&self, mode: Mode) -> Result<ApplyReport, (ApplyError, ApplyReport)> {
        self.apply_with(PlanOptions::new(mode)).await
    }

    /// [`Bench::apply`] with these plan options; a busy host is tried
    /// again every millisecond.
    async fn apply_with(
        &self,
        options: PlanOptions,
    ) -> Result<ApplyReport, (ApplyError, ApplyReport)> {
        let plan = self.plan(options).await;
        let state = self.state().unwrap_or_else(|| State::new(self.owner()));
        let mut executor = Executor::new(
            self.sim.clone(),
            &self.config,
            self.config.state_file.clone(),
            state,
            Reporter::new("unit", false),
            Interrupt::never(),
        );
        executor.request_retry = Backoff::constant(Duration::from_millis(1)).retries(2);
        let executor = executor.with_options(ApplyOptions {
            busy_host_retry: Duration::from_millis(1),
            ..ApplyOptions::default()
        });
        executor.run(&plan).await
    }

    /// A first apply: creates the pod, runs the job, recycles the pod.
    async fn recycled_pod(&self) -> String {
        let report = self.apply(Mode::Apply).await.map_err(|(e, _)| e).unwrap();
        report.pod_id.unwrap()
    }

    fn calls(&self, verb: &str) -> u64 {
        self.world(|w| w.calls.get(verb).copied().unwrap_or(0))
    }
}

fn recorded_status(state: &State) -> Option<PodStatus> {
    state.pod.as_ref().and_then(|p| p.status)
}

#[tokio::test]
async fn a_create_job_and_recycle_leave_the_pod_exited() {
    let bench = bench();
    let report = bench.apply(Mode::Apply).await.map_err(|(e, _)| e).unwrap();
    assert_eq!((report.created, report.stopped), (1, 1));
    assert_eq!(report.outcome, Some(Outcome::Success));
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let id = report.pod_id.unwrap();
    let state = bench.state().unwrap();
    assert_eq!(state.pod.as_ref().map(|p| p.id.as_str()), Some(id.as_str()));
    assert_eq!(recorded_status(&state), Some(PodStatus::Exited));
    assert!(state.pending_create.is_none());
    assert_eq!(
        bench.world(|w| w.pods[&id].status),
        PodStatus::Exited,
        "paused for reuse"
    );
}

#[tokio::test]
async fn a_stop_that_fails_once_is_retried_and_reported_stopped() {
    let bench = bench();
    let id = bench.recycled_pod().await;
    bench.world(|w| w.fail_stops.insert(id.clone(), 1));
    let stops = bench.calls("stop");
    let report = bench.apply(Mode::Apply).await.map_err(|(e, _)| e).unwrap();
    assert_eq!((report.resumed, report.stopped), (1, 1));
    assert_eq!(
        bench.calls("stop") - stops,
        2,
        "the failed stop was asked again"
    );
    assert_eq!(bench.world(|w| w.fail_stops[&id]), 0, "and it did fail");
    assert_eq!(
        recorded_status(&bench.state().unwrap()),
        Some(PodStatus::Exited)
    );
}

#[tokio::test]
async fn a_stop_that_keeps_failing_is_an_error_and_the_pod_stays_tracked() {
    let bench = bench();
    let id = bench.recycled_pod().await;
    bench.world(|w| w.fail_stops.insert(id.clone(), 10));
    let (err, report) = bench.apply(Mode::Apply).await.unwrap_err();
    let ApplyError::NotStopped(failure) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(failure.pod_id, id);
    assert!(
        matches!(failure.request, Some(ProviderError::Transient(_))),
        "{failure:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("pod {id} did not stop: the stop request failed")),
        "{err}"
    );
    assert_eq!(report.stopped, 0);
    assert_eq!(bench.world(|w| w.fail_stops[&id]), 7, "three tries");
    let state = bench.state().unwrap();
    assert_eq!(recorded_status(&state), Some(PodStatus::Running));
}

#[tokio::test]
async fn a_delete_that_fails_transiently_is_retried() {
    let bench = bench();
    let id = bench.recycled_pod().await;
    bench.sim.failing_deletes.store(1, Ordering::SeqCst);
    let report = bench
        .apply(Mode::Destroy)
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    assert_eq!(report.destroyed, 1);
    assert_eq!(bench.sim.deletes.load(Ordering::SeqCst), 2, "asked again");
    assert!(bench.world(|w| !w.pods.contains_key(&id)));
    assert!(bench.state().is_none(), "the state file is removed");
}

#[tokio::test]
async fn a_delete_that_keeps_failing_keeps_the_pod_tracked() {
    let bench = bench();
    let id = bench.recycled_pod().await;
    bench.sim.failing_deletes.store(5, Ordering::SeqCst);
    let (err, _) = bench.apply(Mode::Destroy).await.unwrap_err();
    assert!(
        matches!(
            &err,
            ApplyError::Provider {
                source: ProviderError::Transient(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "deleting pod {id} (it is still tracked; `rpd destroy` retries): transient provider error: simulated 503 on delete"
        )
    );
    assert_eq!(bench.sim.deletes.load(Ordering::SeqCst), 3);
    assert_eq!(bench.state().unwrap().pod.unwrap().id, id);
}

#[tokio::test]
async fn a_resume_on_a_busy_host_tries_again_and_resumes_the_same_pod() {
    let bench = bench();
    let old = bench.recycled_pod().await;
    bench.world(|w| w.busy_starts.insert(old.clone(), 2));
    let report = bench.apply(Mode::Apply).await.map_err(|(e, _)| e).unwrap();
    assert_eq!(
        (report.resumed, report.destroyed, report.created),
        (1, 0, 0)
    );
    assert_eq!(report.pod_id.as_deref(), Some(old.as_str()));
    assert_eq!(
        bench.world(|w| w.calls["start"]),
        3,
        "two busy, then started"
    );
}

#[tokio::test]
async fn a_resume_on_a_busy_host_with_recreate_deletes_the_pod_and_creates_another() {
    let bench = bench();
    let old = bench.recycled_pod().await;
    bench.world(|w| w.fail_next_start.insert(old.clone()));
    let options = PlanOptions {
        on_busy_host: Some(crate::model::BusyHostPolicy::Recreate),
        ..PlanOptions::new(Mode::Apply)
    };
    let report = bench.apply_with(options).await.map_err(|(e, _)| e).unwrap();
    assert_eq!(
        (report.resumed, report.destroyed, report.created),
        (0, 1, 1)
    );
    let new = report.pod_id.unwrap();
    assert_ne!(new, old);
    let pods: Vec<String> = bench.world(|w| w.pods.keys().cloned().collect());
    assert_eq!(
        pods,
        std::slice::from_ref(&new),
        "the busy host's pod is gone"
    );
    let state = bench.state().unwrap();
    assert_eq!(state.pod.as_ref().unwrap().id, new);
    assert_eq!(recorded_status(&state), Some(PodStatus::Exited));
}

/// A failed read is no evidence that the pod went away: the job's probe
/// counts it as alive (failing a healthy job would run on_failure, which may
/// delete the pod); only the provider saying so ends the job. A stopped pod
/// is told from a deleted one: its volume still holds the job's results.
#[tokio::test]
async fn the_pod_probe_counts_a_failed_read_as_alive_and_tells_a_stopped_pod_from_a_gone_one() {
    use crate::remote::job::{PodCheck, PodProbe};
    let bench = bench();
    let id = bench.recycled_pod().await;
    let probe = job::ProviderProbe {
        provider: bench.sim.clone(),
        pod_id: id.clone(),
        every: Duration::from_secs(60),
    };
    bench.sim.failing_gets.store(1, Ordering::SeqCst);
    assert_eq!(probe.check().await, PodCheck::Alive);
    assert_eq!(probe.check().await, PodCheck::Stopped);
    bench.sim.inner.delete(&id).await.unwrap();
    assert_eq!(
        probe.check().await,
        PodCheck::Gone {
            status: "deleted".into()
        }
    );
}
