//! `--provider sim`: an embedded, file-backed RunPod that needs no account.
//! It behaves like RunPod where rpd's decisions depend on it: statuses and
//! boot times, stock per GPU and datacenter with RunPod's capacity error, a
//! stopped pod pinned to its host (its start can fail), $/hr per GPU, and a
//! volume kept across stop and start while the container disk is wiped.
//! Every call is counted (a failed one also as `<verb>_failed`), and
//! latency and faults can be injected (`rpd sim`).

pub mod quota;
pub mod store;

use std::time::Duration;

use async_trait::async_trait;

use super::{
    Catalog, CreatePodRequest, GpuTypeLimit, NetworkVolume, Offer, Provider, ProviderError,
    ProviderResult,
};
use crate::known;
use crate::model::{CloudType, ObservedPod, PodSelfStop, PodUpdate, Stock};
use crate::retry::PollSchedule;
pub use store::{Store, World};

pub struct SimProvider {
    store: Store,
}

impl SimProvider {
    pub fn open_default() -> anyhow::Result<SimProvider> {
        Ok(SimProvider {
            store: Store::from_env().map_err(anyhow::Error::msg)?,
        })
    }

    pub fn new(store: Store) -> SimProvider {
        SimProvider { store }
    }

    /// Counts the call, waits the injected latency, then runs `f`; a call
    /// that fails is counted once more, as `<verb>_failed`, so that tests
    /// can tell a retried failure from two requests. Past the account's
    /// rate limit (`rpd sim rate-limit`) a call is refused as RunPod's 429
    /// (counted as `<verb>_rate_limited`) and does nothing.
    async fn call<T>(
        &self,
        verb: &str,
        f: impl FnOnce(&mut World, &Store) -> ProviderResult<T>,
    ) -> ProviderResult<T> {
        let (latency, limited) = self
            .store
            .with(|world, _| {
                world.count(verb);
                let now = chrono::Utc::now().timestamp_millis();
                let limited = world
                    .quota
                    .as_mut()
                    .map(|quota| quota.spend(now))
                    .filter(|verdict| !verdict.allowed);
                if limited.is_some() {
                    world.count(&format!("{verb}_rate_limited"));
                }
                (world.latency_ms, limited)
            })
            .map_err(io_error)?;
        if let Some(verdict) = limited {
            return Err(ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(verdict.retry_after_secs)),
                message: format!(
                    "rate limit exceeded for the {} window",
                    verdict.exceeded.unwrap_or_default()
                ),
            });
        }
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        self.store
            .with(|world, store| {
                let result = f(world, store);
                if result.is_err() {
                    world.count(&format!("{verb}_failed"));
                }
                result
            })
            .map_err(io_error)?
    }
}

/// `text` as one POSIX shell word.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn io_error(err: std::io::Error) -> ProviderError {
    ProviderError::Other(err.to_string())
}

/// The catalog level for a number of free GPUs (shared with the test fakes
/// of REST v2 and runpodctl in tests/fakes/, which use this world).
pub fn stock_level(free: u32) -> Stock {
    match free {
        0 => Stock::None,
        1..=2 => Stock::Low,
        3..=6 => Stock::Medium,
        _ => Stock::High,
    }
}

/// The level for pods of `gpu_count` GPUs: none when fewer are free.
pub fn stock_for(free: u32, gpu_count: u32) -> Stock {
    if free < gpu_count.max(1) {
        Stock::None
    } else {
        stock_level(free)
    }
}

#[async_trait]
impl Provider for SimProvider {
    fn name(&self) -> &'static str {
        "sim"
    }

    /// The simulator's pods change within milliseconds.
    fn poll_schedule(&self) -> PollSchedule {
        PollSchedule::every(Duration::from_millis(100))
    }

    fn needs_ssh_key(&self) -> bool {
        false
    }

    /// Unless `rpd sim ssh` sends its pods' commands to an sshd.
    fn runs_commands_here(&self) -> bool {
        self.store
            .with(|world, _| world.ssh_endpoint.is_none())
            .unwrap_or(true)
    }

    async fn get(&self, id: &str) -> ProviderResult<Option<ObservedPod>> {
        self.call("get", |world, store| {
            Ok(world
                .read_pod(id)
                .map(|pod| store.observe(&pod, world.ssh_endpoint.as_ref())))
        })
        .await
    }

    async fn describe(&self, id: &str) -> ProviderResult<Option<serde_json::Value>> {
        self.call("describe", |world, _| {
            world
                .pods
                .get(id)
                .map(|pod| {
                    serde_json::to_value(pod).map_err(|e| ProviderError::Other(e.to_string()))
                })
                .transpose()
        })
        .await
    }

    async fn list(&self) -> ProviderResult<Vec<ObservedPod>> {
        self.call("list", |world, store| {
            Ok(world
                .pods
                .values()
                .map(|pod| store.observe(pod, world.ssh_endpoint.as_ref()))
                .collect())
        })
        .await
    }

    async fn create(&self, request: &CreatePodRequest) -> ProviderResult<ObservedPod> {
        let created = self
            .call("create", |world, store| {
                let pod = world.create(store, request)?;
                Ok(store.observe(&pod, world.ssh_endpoint.as_ref()))
            })
            .await;
        // The pod exists; its answer has not reached rpd yet.
        if created.is_ok() {
            crate::fault::reached("create-sent").await;
        }
        created
    }

    async fn update(&self, id: &str, update: &PodUpdate) -> ProviderResult<ObservedPod> {
        let updated = self
            .call("update", |world, store| {
                let pod = world.update(store, id, update)?;
                Ok(store.observe(&pod, world.ssh_endpoint.as_ref()))
            })
            .await;
        // The pod changed; its answer has not reached rpd yet.
        if updated.is_ok() {
            crate::fault::reached("update-sent").await;
        }
        updated
    }

    async fn start(&self, id: &str) -> ProviderResult<()> {
        self.call("start", |world, store| world.start(store, id))
            .await
    }

    /// `rpd sim stop` on this simulator's world, run by this very binary.
    fn self_stop(&self) -> PodSelfStop {
        let exe = std::env::current_exe().unwrap_or_else(|_| "rpd".into());
        let dir = std::path::absolute(self.store.dir()).unwrap_or_else(|_| self.store.dir().into());
        PodSelfStop::Command(format!(
            "RPD_SIM_DIR={} {} --provider sim sim stop",
            quoted(&dir.display().to_string()),
            quoted(&exe.display().to_string()),
        ))
    }

    async fn stop(&self, id: &str) -> ProviderResult<()> {
        self.call("stop", |world, store| world.stop(store, id))
            .await
    }

    async fn delete(&self, id: &str) -> ProviderResult<()> {
        self.call("delete", |world, store| match world.delete(store, id) {
            Err(ProviderError::NotFound(_)) => Ok(()),
            other => other,
        })
        .await
    }

    async fn catalog(
        &self,
        gpu_ids: &[String],
        datacenter_ids: &[String],
        cloud_type: CloudType,
        gpu_count: u32,
    ) -> ProviderResult<Catalog> {
        self.call("catalog", |world, _| {
            let offers = datacenter_ids
                .iter()
                .flat_map(|dc| gpu_ids.iter().map(move |gpu| (dc, gpu)))
                .map(|(dc, gpu)| Offer {
                    datacenter_id: dc.clone(),
                    gpu_id: gpu.clone(),
                    stock: stock_for(world.free_in(dc, gpu, cloud_type), gpu_count),
                    price_per_gpu_hr: store::price_per_gpu(gpu, cloud_type),
                })
                .collect();
            Ok(Catalog {
                offers,
                gpu_types: Some(
                    known::GPU_TYPES
                        .iter()
                        .map(|(id, ..)| GpuTypeLimit {
                            id: id.to_string(),
                            max_count: Some(store::MAX_GPUS_PER_POD),
                        })
                        .collect(),
                ),
                datacenters: Some(known::DATACENTERS.iter().map(|d| d.to_string()).collect()),
            })
        })
        .await
    }

    async fn network_volumes(&self) -> ProviderResult<Vec<NetworkVolume>> {
        self.call("network_volumes", |world, _| {
            Ok(world
                .volumes
                .iter()
                .map(|v| NetworkVolume {
                    id: v.id.clone(),
                    name: v.name.clone(),
                    datacenter_id: v.datacenter_id.clone(),
                })
                .collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{PodStatus, Storage};

    fn request() -> CreatePodRequest {
        CreatePodRequest {
            name: "counted".into(),
            image: "runpod/pytorch:2.8.0".into(),
            gpu_id: "NVIDIA GeForce RTX 4090".into(),
            gpu_count: 1,
            datacenter_id: "EU-RO-1".into(),
            cloud_type: CloudType::Secure,
            container_disk_gb: 20,
            storage: Storage::Ephemeral {
                volume_gb: 20,
                mount: "/workspace".into(),
            },
            ports: vec!["22/tcp".into()],
            env: BTreeMap::new(),
            min_vcpu_count: None,
            min_memory_gb: None,
            spot: false,
        }
    }

    #[tokio::test]
    async fn a_failed_call_counts_as_a_call_and_as_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let sim = SimProvider::new(store.clone());
        let pod = sim.create(&request()).await.unwrap();
        store
            .with(|world, _| world.fail_stops.insert(pod.id.clone(), 1))
            .unwrap();

        assert!(matches!(
            sim.stop(&pod.id).await,
            Err(ProviderError::Transient(_))
        ));
        sim.stop(&pod.id).await.unwrap();

        let calls = store.with(|world, _| world.calls.clone()).unwrap();
        let counted = |verb: &str| calls.get(verb).copied();
        assert_eq!(
            (counted("create"), counted("stop"), counted("stop_failed")),
            (Some(1), Some(2), Some(1)),
            "{calls:?}"
        );
        assert_eq!(counted("create_failed"), None, "{calls:?}");
    }

    /// `rpd sim pull N`: a created pod reads RUNNING with no way in for N
    /// reads, as RunPod reports a pod whose image still pulls.
    #[tokio::test]
    async fn a_pulling_pod_reads_running_without_a_way_in_for_the_set_reads() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        store
            .with(|world, _| {
                world.cold_boot_ms = 0;
                world.pull_reads = 3;
            })
            .unwrap();
        let sim = SimProvider::new(store.clone());
        let id = sim.create(&request()).await.unwrap().id;
        let mut seen = Vec::new();
        for _ in 0..5 {
            let pod = sim.get(&id).await.unwrap().unwrap();
            seen.push((pod.status, pod.access.is_some()));
        }
        assert_eq!(
            seen,
            [
                (PodStatus::Running, false),
                (PodStatus::Running, false),
                (PodStatus::Running, false),
                (PodStatus::Running, true),
                (PodStatus::Running, true),
            ]
        );
    }

    /// `rpd sim rate-limit N`: past the quota a call is refused as RunPod's
    /// 429, with the seconds until the window resets, and does nothing.
    #[tokio::test]
    async fn calls_past_the_rate_limit_are_refused_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        store
            .with(|world, _| world.quota = Some(quota::Quota::per_minute(2)))
            .unwrap();
        let sim = SimProvider::new(store.clone());
        sim.list().await.unwrap();
        sim.list().await.unwrap();
        let err = sim.create(&request()).await.unwrap_err();
        let ProviderError::RateLimited {
            retry_after,
            message,
        } = err
        else {
            panic!("{err:?}");
        };
        assert!(retry_after.is_some_and(|w| w <= Duration::from_secs(60) && !w.is_zero()));
        assert_eq!(message, "rate limit exceeded for the minute window");
        let (pods, calls) = store
            .with(|world, _| (world.pods.len(), world.calls.clone()))
            .unwrap();
        assert_eq!(pods, 0, "refused before anything was made");
        assert_eq!(calls.get("create_rate_limited"), Some(&1));
    }

    #[tokio::test]
    async fn an_update_keeps_the_volume_wipes_the_container_disk_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        store.with(|world, _| world.warm_boot_ms = 0).unwrap();
        let sim = SimProvider::new(store.clone());
        let pod = sim.create(&request()).await.unwrap();
        let dirs = store.pod_dirs(&pod.id);
        std::fs::write(dirs.volume.join("checkpoint"), "epoch 3").unwrap();
        std::fs::write(dirs.container.join("apt-cache"), "x").unwrap();
        store
            .with(|world, _| world.pods.get_mut(&pod.id).unwrap().status = PodStatus::Running)
            .unwrap();

        let update = PodUpdate {
            image: Some("runpod/pytorch:2.9.0".into()),
            ..PodUpdate::default()
        };
        let updated = sim.update(&pod.id, &update).await.unwrap();
        assert_eq!(updated.spec.image.as_deref(), Some("runpod/pytorch:2.9.0"));
        assert_eq!(
            updated.status,
            PodStatus::Starting,
            "the container restarts"
        );
        assert_eq!(
            std::fs::read_to_string(dirs.volume.join("checkpoint")).unwrap(),
            "epoch 3"
        );
        assert!(!dirs.container.join("apt-cache").exists());

        let shrink = PodUpdate {
            volume: Some(crate::model::VolumeGrowth {
                volume_gb: 10,
                mount: "/workspace".into(),
            }),
            ..PodUpdate::default()
        };
        assert!(matches!(
            sim.update(&pod.id, &shrink).await,
            Err(ProviderError::Invalid(_))
        ));
        assert!(matches!(
            sim.update("gone", &update).await,
            Err(ProviderError::NotFound(_))
        ));
    }
}
