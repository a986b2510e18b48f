//! The simulator's file-backed world: pods, stock, prices, call counts and
//! injected faults, in `<dir>/sim.json`, guarded by an exclusive file lock so
//! that concurrent rpd processes see one consistent RunPod.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::Utc;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::known;
use crate::model::{
    Access, CloudType, LocalPodDirs, ObservedPod, PodSpec, PodStatus, PodUpdate, SshEndpoint,
    Storage,
};
use crate::provider::{CAPACITY_MESSAGE, CreatePodRequest, HOST_BUSY_MESSAGE, ProviderError};

/// Free GPUs per (datacenter, GPU) unless set with `rpd sim stock`.
pub const DEFAULT_STOCK: u32 = 8;
/// The most GPUs one simulated pod can have (the largest machine).
pub const MAX_GPUS_PER_POD: u32 = 8;
/// A cold create: image pull and boot.
pub const DEFAULT_COLD_BOOT_MS: u64 = 1500;
/// A resume on a host that has the image cached.
pub const DEFAULT_WARM_BOOT_MS: u64 = 400;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimPod {
    pub id: String,
    pub name: String,
    pub status: PodStatus,
    pub image: String,
    pub gpu_id: String,
    pub gpu_count: u32,
    pub datacenter_id: String,
    pub cloud_type: CloudType,
    pub container_disk_gb: u32,
    pub storage: Storage,
    pub ports: Vec<String>,
    pub price_per_gpu_hr: f64,
    pub created_at: String,
    pub changed_at: String,
    /// Epoch milliseconds at which a booting pod becomes RUNNING.
    #[serde(default)]
    pub ready_at_ms: Option<i64>,
    #[serde(default)]
    pub boot_ms: u64,
    /// Reads of this pod left that see it RUNNING with its image still
    /// pulling (no way in yet), as RunPod reports a new pod
    /// (`World::pull_reads`).
    #[serde(default)]
    pub pull_reads_left: u32,
}

impl SimPod {
    /// RUNNING while its image still pulls: RunPod says RUNNING, but the
    /// container is not there and nothing answers on the pod.
    pub fn pulling(&self) -> bool {
        self.status == PodStatus::Running && self.pull_reads_left > 0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimVolume {
    pub id: String,
    pub name: String,
    pub datacenter_id: String,
    pub size_gb: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct World {
    pub pods: BTreeMap<String, SimPod>,
    /// Free GPUs, keyed `DATACENTER|GPU`; missing keys hold DEFAULT_STOCK.
    #[serde(default)]
    pub stock: BTreeMap<String, u32>,
    #[serde(default)]
    pub calls: BTreeMap<String, u64>,
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub fail_next_start: BTreeSet<String>,
    /// Starts to refuse (the host's GPU is taken), per pod.
    #[serde(default)]
    pub busy_starts: BTreeMap<String, u32>,
    /// Stop requests to fail (as a 502 would), per pod.
    #[serde(default)]
    pub fail_stops: BTreeMap<String, u32>,
    #[serde(default)]
    pub volumes: Vec<SimVolume>,
    #[serde(default = "cold")]
    pub cold_boot_ms: u64,
    #[serde(default = "warm")]
    pub warm_boot_ms: u64,
    /// When set, running pods are reached over SSH at this endpoint instead
    /// of through local processes (for exercising the SSH transport).
    #[serde(default)]
    pub ssh_endpoint: Option<SshEndpoint>,
    /// How many reads a created pod answers RUNNING with its image still
    /// pulling (RunPod's status reads RUNNING for as long as a pull takes:
    /// minutes for a large image); 0, none.
    #[serde(default)]
    pub pull_reads: u32,
    /// The account's rate limit (`rpd sim rate-limit`); none, no limit.
    #[serde(default)]
    pub quota: Option<super::quota::Quota>,
}

fn cold() -> u64 {
    DEFAULT_COLD_BOOT_MS
}

fn warm() -> u64 {
    DEFAULT_WARM_BOOT_MS
}

impl Default for World {
    fn default() -> Self {
        World {
            pods: BTreeMap::new(),
            stock: BTreeMap::new(),
            calls: BTreeMap::new(),
            latency_ms: 0,
            fail_next_start: BTreeSet::new(),
            busy_starts: BTreeMap::new(),
            fail_stops: BTreeMap::new(),
            volumes: Vec::new(),
            cold_boot_ms: DEFAULT_COLD_BOOT_MS,
            warm_boot_ms: DEFAULT_WARM_BOOT_MS,
            ssh_endpoint: None,
            pull_reads: 0,
            quota: None,
        }
    }
}

/// A handle on the simulator directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// Secure cloud stock is keyed `DC|GPU`; community stock `DC|GPU|COMMUNITY`.
fn stock_key(datacenter_id: &str, gpu_id: &str, cloud: CloudType) -> String {
    match cloud {
        CloudType::Secure => format!("{datacenter_id}|{gpu_id}"),
        CloudType::Community => format!("{datacenter_id}|{gpu_id}|COMMUNITY"),
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn now_text() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// $/hr per GPU: the example list price, or one derived from memory size.
pub fn price_per_gpu(gpu_id: &str, cloud: CloudType) -> Option<f64> {
    if let Some((_, secure, community)) = known::EXAMPLE_PRICES
        .iter()
        .find(|(g, ..)| known::same_gpu(g, gpu_id))
    {
        return Some(if cloud == CloudType::Secure {
            *secure
        } else {
            *community
        });
    }
    let memory = known::GPU_TYPES
        .iter()
        .find(|(g, ..)| known::same_gpu(g, gpu_id))
        .map(|(_, _, gb)| *gb)?;
    let secure = 0.2 + 0.02 * f64::from(memory);
    Some(if cloud == CloudType::Secure {
        secure
    } else {
        secure * 0.8
    })
}

/// Where the simulator keeps its world.
pub const ENV_DIR: &str = "RPD_SIM_DIR";

impl Store {
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
    }

    /// The store in `RPD_SIM_DIR`, else in `<user data dir>/rpd/sim`. A set
    /// `RPD_SIM_DIR` must name a directory, or a path where one can be made.
    pub fn from_env() -> Result<Store, String> {
        let Some(value) = crate::env::get(ENV_DIR) else {
            return Ok(Store::new(
                dirs::data_dir()
                    .map(|d| d.join("rpd").join("sim"))
                    .unwrap_or_else(|| PathBuf::from(".rpd-sim")),
            ));
        };
        let dir = PathBuf::from(&value);
        match fs::metadata(&dir) {
            Ok(meta) if !meta.is_dir() => Err(format!(
                "{ENV_DIR}={} is not a directory\n  = help: point {ENV_DIR} at a directory for the simulator's world (it is created if missing)",
                dir.display()
            )),
            Ok(_) => Ok(Store::new(dir)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Store::new(dir)),
            Err(err) => Err(format!("{ENV_DIR}={}: {err}", dir.display())),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pod_dirs(&self, id: &str) -> LocalPodDirs {
        let root = self.dir.join("pods").join(id);
        LocalPodDirs {
            volume: root.join("volume"),
            container: root.join("container"),
            world: self.dir.clone(),
            stopped: root.join("stopped"),
        }
    }

    fn volume_dir(&self, volume_id: &str) -> PathBuf {
        self.dir.join("network-volumes").join(volume_id)
    }

    /// Runs `f` on the world under the exclusive lock and saves it after;
    /// an error names the directory and `RPD_SIM_DIR`.
    pub fn with<T>(&self, f: impl FnOnce(&mut World, &Store) -> T) -> std::io::Result<T> {
        self.with_world(f).map_err(|err| {
            std::io::Error::new(
                err.kind(),
                format!(
                    "simulator directory {} ({ENV_DIR}): {err}",
                    self.dir.display()
                ),
            )
        })
    }

    fn with_world<T>(&self, f: impl FnOnce(&mut World, &Store) -> T) -> std::io::Result<T> {
        fs::create_dir_all(&self.dir)?;
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("sim.lock"))?;
        lock.lock()?;
        let path = self.dir.join("sim.json");
        let mut world: World = match crate::input::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| {
                std::io::Error::other(format!(
                    "sim.json is corrupt ({err}); delete the directory to start a fresh simulator"
                ))
            })?,
            Err(err) if err.is_not_found() => World::default(),
            Err(err) => return Err(std::io::Error::other(format!("sim.json: {err}"))),
        };
        advance(&mut world);
        let result = f(&mut world, self);
        let tmp = self
            .dir
            .join(format!("sim.json.tmp.{}", std::process::id()));
        fs::write(
            &tmp,
            serde_json::to_vec_pretty(&world).map_err(std::io::Error::other)?,
        )?;
        fs::rename(&tmp, &path)?;
        lock.unlock()?;
        Ok(result)
    }

    pub fn observe(&self, pod: &SimPod, ssh: Option<&SshEndpoint>) -> ObservedPod {
        let running = pod.status == PodStatus::Running;
        let actions: &[&str] = match pod.status {
            PodStatus::Provisioning | PodStatus::Starting => &["stop", "terminate"],
            PodStatus::Running => &["stop", "restart", "terminate"],
            PodStatus::Exited | PodStatus::Error => &["start", "terminate"],
            PodStatus::Terminated | PodStatus::Unknown => &[],
        };
        let mut dirs = self.pod_dirs(&pod.id);
        if let Storage::NetworkVolume {
            volume_id: Some(id),
            ..
        } = &pod.storage
        {
            dirs.volume = self.volume_dir(id);
        }
        ObservedPod {
            id: pod.id.clone(),
            name: pod.name.clone(),
            status: pod.status,
            spec: PodSpec {
                image: Some(pod.image.clone()),
                gpu_id: Some(pod.gpu_id.clone()),
                gpu_count: Some(pod.gpu_count),
                datacenter_id: Some(pod.datacenter_id.clone()),
                cloud_type: Some(pod.cloud_type),
                container_disk_gb: Some(pod.container_disk_gb),
                storage: Some(pod.storage.clone()),
                ports: Some(pod.ports.clone()),
            },
            cost_per_hr: Some(if pod.status.is_active() {
                pod.price_per_gpu_hr * f64::from(pod.gpu_count)
            } else {
                0.0
            }),
            access: (running && !pod.pulling()).then(|| match ssh {
                Some(endpoint) => Access::Ssh(endpoint.clone()),
                None => Access::Local(dirs),
            }),
            ssh_proxy: false,
            no_public_ssh: false,
            status_text: None,
            actions: Some(actions.iter().map(|a| a.to_string()).collect()),
            created_at: Some(pod.created_at.clone()),
            changed_at: Some(pod.changed_at.clone()),
        }
    }
}

/// Moves booting pods along: PROVISIONING, then STARTING, then RUNNING.
fn advance(world: &mut World) {
    let now = now_ms();
    for pod in world.pods.values_mut() {
        let Some(ready_at) = pod.ready_at_ms else {
            continue;
        };
        if now >= ready_at {
            pod.status = PodStatus::Running;
            pod.ready_at_ms = None;
            pod.changed_at = now_text();
        } else if pod.status == PodStatus::Provisioning
            && now >= ready_at - (pod.boot_ms as i64) / 3
        {
            pod.status = PodStatus::Starting;
        }
    }
}

impl World {
    pub fn count(&mut self, verb: &str) {
        *self.calls.entry(verb.to_string()).or_default() += 1;
    }

    /// Free secure-cloud GPUs of one type in one datacenter.
    pub fn free(&self, datacenter_id: &str, gpu_id: &str) -> u32 {
        self.free_in(datacenter_id, gpu_id, CloudType::Secure)
    }

    pub fn free_in(&self, datacenter_id: &str, gpu_id: &str, cloud: CloudType) -> u32 {
        if !known::is_known_gpu(gpu_id) {
            return 0;
        }
        self.stock
            .get(&stock_key(datacenter_id, gpu_id, cloud))
            .copied()
            .unwrap_or(DEFAULT_STOCK)
    }

    fn set_free(&mut self, datacenter_id: &str, gpu_id: &str, cloud: CloudType, n: u32) {
        self.stock
            .insert(stock_key(datacenter_id, gpu_id, cloud), n);
    }

    pub fn set_stock(&mut self, datacenter_id: &str, gpu_id: &str, n: u32) {
        self.set_free(datacenter_id, gpu_id, CloudType::Secure, n);
    }

    pub fn set_stock_in(&mut self, datacenter_id: &str, gpu_id: &str, cloud: CloudType, n: u32) {
        self.set_free(datacenter_id, gpu_id, cloud, n);
    }

    fn release(&mut self, pod: &SimPod) {
        let free = self.free_in(&pod.datacenter_id, &pod.gpu_id, pod.cloud_type);
        self.set_free(
            &pod.datacenter_id,
            &pod.gpu_id,
            pod.cloud_type,
            free + pod.gpu_count,
        );
    }

    pub fn create(
        &mut self,
        store: &Store,
        req: &CreatePodRequest,
    ) -> Result<SimPod, ProviderError> {
        if !known::is_known_gpu(&req.gpu_id) {
            return Err(ProviderError::Invalid(format!(
                "unknown GPU type id {:?}",
                req.gpu_id
            )));
        }
        if req.gpu_count > MAX_GPUS_PER_POD {
            return Err(ProviderError::Invalid(format!(
                "gpu count {} is more than a machine of {} has ({MAX_GPUS_PER_POD})",
                req.gpu_count, req.gpu_id
            )));
        }
        if !known::DATACENTERS.contains(&req.datacenter_id.as_str()) {
            return Err(ProviderError::Invalid(format!(
                "unknown datacenter id {:?}",
                req.datacenter_id
            )));
        }
        if let Storage::NetworkVolume { volume_id, .. } = &req.storage {
            let found = self
                .volumes
                .iter()
                .find(|v| Some(&v.id) == volume_id.as_ref());
            match found {
                Some(v) if v.datacenter_id == req.datacenter_id => {}
                Some(v) => {
                    return Err(ProviderError::Invalid(format!(
                        "network volume {} is in {}, not {}",
                        v.id, v.datacenter_id, req.datacenter_id
                    )));
                }
                None => {
                    return Err(ProviderError::Invalid("network volume not found".into()));
                }
            }
        }
        let free = self.free_in(&req.datacenter_id, &req.gpu_id, req.cloud_type);
        if free < req.gpu_count {
            return Err(ProviderError::Capacity(CAPACITY_MESSAGE.into()));
        }
        self.set_free(
            &req.datacenter_id,
            &req.gpu_id,
            req.cloud_type,
            free - req.gpu_count,
        );
        let id = loop {
            let candidate = random_id();
            if !self.pods.contains_key(&candidate) {
                break candidate;
            }
        };
        let dirs = store.pod_dirs(&id);
        let _ = fs::create_dir_all(&dirs.volume);
        let _ = fs::create_dir_all(&dirs.container);
        if let Storage::NetworkVolume {
            volume_id: Some(v), ..
        } = &req.storage
        {
            let _ = fs::create_dir_all(store.volume_dir(v));
        }
        let pod = SimPod {
            id: id.clone(),
            name: req.name.clone(),
            status: PodStatus::Provisioning,
            image: req.image.clone(),
            gpu_id: req.gpu_id.clone(),
            gpu_count: req.gpu_count,
            datacenter_id: req.datacenter_id.clone(),
            cloud_type: req.cloud_type,
            container_disk_gb: req.container_disk_gb,
            storage: req.storage.clone(),
            ports: req.ports.clone(),
            price_per_gpu_hr: price_per_gpu(&req.gpu_id, req.cloud_type).unwrap_or(1.0),
            created_at: now_text(),
            changed_at: now_text(),
            ready_at_ms: Some(now_ms() + self.cold_boot_ms as i64),
            boot_ms: self.cold_boot_ms,
            pull_reads_left: self.pull_reads,
        };
        self.pods.insert(id, pod.clone());
        Ok(pod)
    }

    /// The pod as one read sees it; a read of a pod that runs while its
    /// image pulls counts down the pull (the copy returned still pulls).
    pub fn read_pod(&mut self, id: &str) -> Option<SimPod> {
        let pod = self.pods.get_mut(id)?;
        let seen = pod.clone();
        if pod.pulling() {
            pod.pull_reads_left -= 1;
        }
        Some(seen)
    }

    fn pod_mut(&mut self, id: &str) -> Result<&mut SimPod, ProviderError> {
        self.pods
            .get_mut(id)
            .ok_or_else(|| ProviderError::NotFound(format!("pod {id} does not exist")))
    }

    pub fn start(&mut self, store: &Store, id: &str) -> Result<(), ProviderError> {
        let pod = self.pod_mut(id)?.clone();
        if !matches!(pod.status, PodStatus::Exited | PodStatus::Error) {
            return Err(ProviderError::Conflict(format!(
                "pod {id} is {}; only an EXITED pod can be started",
                pod.status
            )));
        }
        let free = self.free_in(&pod.datacenter_id, &pod.gpu_id, pod.cloud_type);
        let busy = match self.busy_starts.get_mut(id).filter(|n| **n > 0) {
            Some(left) => {
                *left -= 1;
                true
            }
            None => false,
        };
        if self.fail_next_start.remove(id) || busy || free < pod.gpu_count {
            return Err(ProviderError::HostBusy(HOST_BUSY_MESSAGE.into()));
        }
        self.set_free(
            &pod.datacenter_id,
            &pod.gpu_id,
            pod.cloud_type,
            free - pod.gpu_count,
        );
        let warm = self.warm_boot_ms;
        let pod = self.pod_mut(id)?;
        pod.status = PodStatus::Starting;
        pod.ready_at_ms = Some(now_ms() + warm as i64);
        pod.boot_ms = warm;
        pod.changed_at = now_text();
        let _ = fs::remove_file(store.pod_dirs(id).stopped);
        Ok(())
    }

    /// RunPod's PATCH: the fields set change; the container restarts (a
    /// running pod boots again, warm, on the GPU it holds), so the
    /// container disk is wiped and the volume kept. A volume only grows,
    /// and only a pod created with one has one.
    pub fn update(
        &mut self,
        store: &Store,
        id: &str,
        update: &PodUpdate,
    ) -> Result<SimPod, ProviderError> {
        let pod = self.pod_mut(id)?.clone();
        if let Some(volume) = &update.volume {
            match &pod.storage {
                Storage::Ephemeral { volume_gb, .. } if volume.volume_gb < *volume_gb => {
                    return Err(ProviderError::Invalid(format!(
                        "pod {id}: a volume cannot shrink ({volume_gb} GB to {} GB)",
                        volume.volume_gb
                    )));
                }
                Storage::Ephemeral { .. } => {}
                Storage::NetworkVolume { .. } => {
                    return Err(ProviderError::Invalid(format!(
                        "pod {id} mounts a network volume: the mount kind is fixed at create"
                    )));
                }
            }
        }
        if pod.status.is_active() {
            kill_pod_processes(id);
        }
        let warm = self.warm_boot_ms;
        let pod = self.pod_mut(id)?;
        if let Some(image) = &update.image {
            pod.image = image.clone();
        }
        if let Some(disk) = update.container_disk_gb {
            pod.container_disk_gb = disk;
        }
        if let Some(ports) = &update.ports {
            pod.ports = ports.clone();
        }
        if let Some(volume) = &update.volume {
            pod.storage = Storage::Ephemeral {
                volume_gb: volume.volume_gb,
                mount: volume.mount.clone(),
            };
        }
        if pod.status.is_active() {
            pod.status = PodStatus::Starting;
            pod.ready_at_ms = Some(now_ms() + warm as i64);
            pod.boot_ms = warm;
            pod.changed_at = now_text();
        }
        let updated = pod.clone();
        let container = store.pod_dirs(id).container;
        let _ = fs::remove_dir_all(&container);
        let _ = fs::create_dir_all(&container);
        Ok(updated)
    }

    pub fn stop(&mut self, store: &Store, id: &str) -> Result<(), ProviderError> {
        let pod = self.pod_mut(id)?.clone();
        if let Some(left) = self.fail_stops.get_mut(id).filter(|n| **n > 0) {
            *left -= 1;
            return Err(ProviderError::Transient(
                "simulated 502 Bad Gateway on stop".into(),
            ));
        }
        if pod.status.is_active() {
            kill_pod_processes(id);
        }
        if !pod.status.is_active() {
            return Err(ProviderError::Conflict(format!(
                "pod {id} is {}; only a running pod can be stopped",
                pod.status
            )));
        }
        self.release(&pod);
        let pod = self.pod_mut(id)?;
        pod.status = PodStatus::Exited;
        pod.ready_at_ms = None;
        pod.changed_at = now_text();
        // The container disk does not survive a stop; the volume does. Its
        // processes are gone, and nothing on it answers until it starts.
        let dirs = store.pod_dirs(id);
        let _ = fs::remove_dir_all(&dirs.container);
        let _ = fs::create_dir_all(&dirs.container);
        let _ = fs::write(&dirs.stopped, "");
        Ok(())
    }

    pub fn delete(&mut self, store: &Store, id: &str) -> Result<(), ProviderError> {
        kill_pod_processes(id);
        let pod = self
            .pods
            .remove(id)
            .ok_or_else(|| ProviderError::NotFound(format!("pod {id} does not exist")))?;
        if pod.status.is_active() {
            self.release(&pod);
        }
        let _ = fs::remove_dir_all(store.dir.join("pods").join(id));
        Ok(())
    }

    pub fn add_volume(&mut self, name: &str, datacenter_id: &str, size_gb: u32) -> SimVolume {
        let volume = SimVolume {
            id: random_id()[..10].to_string(),
            name: name.to_string(),
            datacenter_id: datacenter_id.to_string(),
            size_gb,
        };
        self.volumes.push(volume.clone());
        volume
    }
}

/// RunPod-style ids: 14 lowercase letters and digits, always both (so that
/// tests can tell an id from a word).
fn random_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    loop {
        let id: String = (0..14)
            .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
            .collect();
        if id.chars().any(|c| c.is_ascii_digit()) && id.chars().any(|c| c.is_ascii_lowercase()) {
            return id;
        }
    }
}

/// A stopped or deleted pod runs nothing: end the local processes the
/// simulator's transport started for it (they carry its RUNPOD_POD_ID).
fn kill_pod_processes(id: &str) {
    let marker = format!("RUNPOD_POD_ID={id}");
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        let Ok(environ) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        let simulated = environ
            .split(|b| *b == 0)
            .any(|var| var == b"RPD_SIMULATED_POD=1");
        let ours = environ
            .split(|b| *b == 0)
            .any(|var| var == marker.as_bytes());
        if simulated && ours && pid != std::process::id() as libc::pid_t {
            // SAFETY: kill has no memory preconditions; the pid is a
            // process this simulator started for the pod.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}
