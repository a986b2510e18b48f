//! `rpd sim ...`: look inside the simulator and change it from outside rpd,
//! as a user would in the RunPod console. These actions are not counted as
//! provider calls.

use crate::commands::settings::SimAction;
use crate::exit::ExitStatus;
use crate::known;
use crate::model::{CloudType, PodStatus, SshEndpoint};
use crate::provider::sim::{Store, World};

pub fn run(action: &SimAction) -> anyhow::Result<ExitStatus> {
    let store = Store::from_env().map_err(anyhow::Error::msg)?;
    execute(&store, action)?;
    Ok(ExitStatus::Success)
}

fn with<T>(
    store: &Store,
    f: impl FnOnce(&mut World, &Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    store.with(f)?
}

fn execute(store: &Store, action: &SimAction) -> anyhow::Result<()> {
    match action {
        SimAction::Pods { json } => {
            let pods = with(store, |world, _| {
                Ok(world.pods.values().cloned().collect::<Vec<_>>())
            })?;
            if *json {
                let rows: Vec<serde_json::Value> = pods
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "id": p.id,
                            "name": p.name,
                            "status": p.status,
                            "image": p.image,
                            "gpu_id": p.gpu_id,
                            "gpu_count": p.gpu_count,
                            "datacenter_id": p.datacenter_id,
                            "cloud_type": p.cloud_type,
                            "container_disk_gb": p.container_disk_gb,
                            "storage": p.storage,
                            "cost_per_hr": if p.status.is_active() { p.price_per_gpu_hr * f64::from(p.gpu_count) } else { 0.0 },
                            "created_at": p.created_at,
                        })
                    })
                    .collect();
                crate::say!("{}", serde_json::to_string_pretty(&rows)?);
            } else if pods.is_empty() {
                crate::say!("No simulated pods (store: {}).", store.dir().display());
            } else {
                crate::say!(
                    "{:<16} {:<13} {:<32} {:<10} {:<26} IMAGE",
                    "ID",
                    "STATUS",
                    "NAME",
                    "DC",
                    "GPU"
                );
                for p in pods {
                    crate::say!(
                        "{:<16} {:<13} {:<32} {:<10} {:<26} {}",
                        p.id,
                        p.status.as_str(),
                        p.name,
                        p.datacenter_id,
                        format!(
                            "{}x {}",
                            p.gpu_count,
                            known::display_name(&p.gpu_id).unwrap_or(&p.gpu_id)
                        ),
                        p.image
                    );
                }
            }
        }
        SimAction::Calls { json, reset } => {
            let calls = with(store, |world, _| {
                let calls = world.calls.clone();
                if *reset {
                    world.calls.clear();
                }
                Ok(calls)
            })?;
            let mut all = serde_json::Map::new();
            for verb in [
                "create", "start", "stop", "delete", "get", "list", "catalog",
            ] {
                all.insert(verb.into(), calls.get(verb).copied().unwrap_or(0).into());
            }
            for (verb, n) in &calls {
                all.entry(verb.clone()).or_insert((*n).into());
            }
            if *json {
                crate::say!("{}", serde_json::Value::Object(all));
            } else {
                for (verb, n) in all {
                    crate::say!("{verb:<16} {n}");
                }
            }
        }
        SimAction::Stop { pod_id } => {
            with(store, |world, store| Ok(world.stop(store, pod_id)?))?;
            crate::say!("Stopped {pod_id} (out of band).");
        }
        SimAction::Start { pod_id } => {
            with(store, |world, store| Ok(world.start(store, pod_id)?))?;
            crate::say!("Started {pod_id} (out of band).");
        }
        SimAction::Terminate { pod_id } => {
            with(store, |world, store| Ok(world.delete(store, pod_id)?))?;
            crate::say!("Terminated {pod_id} (out of band).");
        }
        SimAction::Set { pod_id, changes } => {
            with(store, |world, store| {
                let pod = world
                    .pods
                    .get_mut(pod_id)
                    .ok_or_else(|| anyhow::anyhow!("no simulated pod {pod_id}"))?;
                for change in changes {
                    let (key, value) = change
                        .split_once('=')
                        .ok_or_else(|| anyhow::anyhow!("{change:?} must look like KEY=VALUE"))?;
                    match key {
                        "image" => pod.image = value.into(),
                        // Renamed in the console: no longer carries rpd's name.
                        "name" => pod.name = value.into(),
                        // When its status last changed (to age a stopped pod).
                        "changed_at" => {
                            value
                                .parse::<chrono::DateTime<chrono::Utc>>()
                                .map_err(|err| {
                                    anyhow::anyhow!(
                                        "changed_at {value:?} is not an RFC 3339 time ({err})"
                                    )
                                })?;
                            pod.changed_at = value.into();
                        }
                        "gpu_id" | "gpu" => pod.gpu_id = value.into(),
                        "gpu_count" => pod.gpu_count = value.parse()?,
                        "datacenter_id" | "datacenter" => pod.datacenter_id = value.into(),
                        "container_disk_gb" => pod.container_disk_gb = value.parse()?,
                        "cloud_type" => {
                            pod.cloud_type = CloudType::parse(value).ok_or_else(|| {
                                anyhow::anyhow!("cloud_type must be SECURE or COMMUNITY")
                            })?
                        }
                        "status" => {
                            pod.status = PodStatus::parse(value)
                                .ok_or_else(|| anyhow::anyhow!("unknown status {value:?}"))?;
                            pod.ready_at_ms = None;
                            // Reachable as its status says (see `World::stop`).
                            let stopped = store.pod_dirs(pod_id).stopped;
                            if pod.status.is_active() {
                                let _ = std::fs::remove_file(stopped);
                            } else {
                                let _ = std::fs::write(stopped, "");
                            }
                        }
                        other => anyhow::bail!(
                            "cannot set {other:?}; settable: image, name, changed_at, gpu_id, gpu_count, datacenter_id, cloud_type, container_disk_gb, status"
                        ),
                    }
                }
                Ok(())
            })?;
            crate::say!("Changed {pod_id} (out of band).");
        }
        SimAction::Stock {
            datacenter,
            gpu,
            count,
            cloud,
        } => {
            with(store, |world, _| {
                world.set_stock_in(datacenter, gpu, *cloud, *count);
                Ok(())
            })?;
            crate::say!("{datacenter} / {gpu} ({cloud}): {count} free GPUs.");
        }
        SimAction::FailNextStart { pod_id, count } => {
            with(store, |world, _| {
                if !world.pods.contains_key(pod_id) {
                    anyhow::bail!("no simulated pod {pod_id}");
                }
                world.busy_starts.insert(pod_id.clone(), *count);
                Ok(())
            })?;
            if *count == 1 {
                crate::say!("The next start of {pod_id} will fail: its host has no free GPU.");
            } else {
                crate::say!(
                    "The next {count} starts of {pod_id} will fail: its host has no free GPU."
                );
            }
        }
        SimAction::FailStop { pod_id, count } => {
            with(store, |world, _| {
                if !world.pods.contains_key(pod_id) {
                    anyhow::bail!("no simulated pod {pod_id}");
                }
                world.fail_stops.insert(pod_id.clone(), *count);
                Ok(())
            })?;
            crate::say!("The next {count} stop requests for {pod_id} will fail.");
        }
        SimAction::Latency { ms } => {
            with(store, |world, _| {
                world.latency_ms = *ms;
                Ok(())
            })?;
            crate::say!("Every provider call now takes {ms} ms more.");
        }
        SimAction::Boot { cold_ms, warm_ms } => {
            with(store, |world, _| {
                world.cold_boot_ms = *cold_ms;
                world.warm_boot_ms = *warm_ms;
                Ok(())
            })?;
            crate::say!("Pods now boot in {cold_ms} ms (create) and {warm_ms} ms (resume).");
        }
        SimAction::Pull { reads } => {
            with(store, |world, _| {
                world.pull_reads = *reads;
                Ok(())
            })?;
            crate::say!(
                "Created pods now read RUNNING with their image still pulling for {reads} reads."
            );
        }
        SimAction::RateLimit {
            per_minute,
            per_hour,
        } => {
            let quota = per_minute.map(|minute| {
                let hour = per_hour
                    .unwrap_or(minute.saturating_mul(crate::provider::sim::quota::HOUR_PER_MINUTE));
                crate::provider::sim::quota::Quota::new(minute, hour)
            });
            let shown = match &quota {
                Some(q) => format!(
                    "Provider calls are now limited to {} a minute and {} an hour.",
                    q.windows[0].limit, q.windows[1].limit
                ),
                None => "Provider calls are no longer limited.".to_string(),
            };
            with(store, |world, _| {
                world.quota = quota;
                Ok(())
            })?;
            crate::say!("{shown}");
        }
        SimAction::Volume {
            name,
            datacenter,
            size_gb,
        } => {
            let volume = with(store, |world, _| {
                Ok(world.add_volume(name, datacenter, *size_gb))
            })?;
            crate::say!(
                "Network volume {name:?} ({}) in {datacenter}, {size_gb} GB.",
                volume.id
            );
        }
        SimAction::Ssh { endpoint, user } => {
            let endpoint = endpoint
                .as_deref()
                .map(|text| ssh_endpoint(text, user))
                .transpose()?;
            let shown = endpoint
                .as_ref()
                .map(|e| {
                    format!(
                        "Running pods are now reached over SSH at {}@{}:{}.",
                        e.user, e.host, e.port
                    )
                })
                .unwrap_or_else(|| "Running pods are reached through local processes.".into());
            with(store, |world, _| {
                world.ssh_endpoint = endpoint;
                Ok(())
            })?;
            crate::say!("{shown}");
        }
        SimAction::Reset => {
            let dir = store.dir().to_path_buf();
            // Only what the simulator wrote: RPD_SIM_DIR may hold other files.
            for file in ["sim.json", "sim.lock"] {
                let _ = std::fs::remove_file(dir.join(file));
            }
            for sub in ["pods", "network-volumes"] {
                let _ = std::fs::remove_dir_all(dir.join(sub));
            }
            crate::say!("Simulator reset ({}).", dir.display());
        }
    }
    Ok(())
}

/// `HOST:PORT` and the login user.
fn ssh_endpoint(text: &str, user: &str) -> anyhow::Result<SshEndpoint> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| anyhow::anyhow!("{text:?} must look like HOST:PORT"))?;
    Ok(SshEndpoint {
        host: host.to_string(),
        port: port
            .parse()
            .map_err(|_| anyhow::anyhow!("{port:?} is not a port number"))?,
        user: user.to_string(),
    })
}
