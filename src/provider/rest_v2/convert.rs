//! rpd's model to REST v2 bodies and back.

use super::wire::{
    self, CreateGpu, CreatePodBody, Mounts, NetworkMount, PersistentMount, UpdatePodBody,
};
use crate::model::{
    Access, CloudType, ObservedPod, PodSpec, PodStatus, PodUpdate, SshEndpoint, Storage,
};
use crate::provider::{CreatePodRequest, ProviderError};

/// The spec's floor for `mounts.persistent.size`.
pub const MIN_PERSISTENT_GB: u32 = 10;

/// The create body for one candidate. Fields v2 does not have (spot, minimum
/// vCPU and memory) are left out: the config layer already warned.
pub fn create_body(request: &CreatePodRequest) -> Result<CreatePodBody, ProviderError> {
    let mounts = match &request.storage {
        Storage::Ephemeral { volume_gb, mount } => {
            if *volume_gb < MIN_PERSISTENT_GB {
                return Err(ProviderError::Invalid(format!(
                    "storage.volume_gb is {volume_gb}: RunPod's REST v2 API requires at least {MIN_PERSISTENT_GB} GB for a pod volume"
                )));
            }
            Mounts {
                persistent: Some(PersistentMount {
                    size: *volume_gb,
                    path: mount.clone(),
                }),
                network: None,
            }
        }
        Storage::NetworkVolume {
            volume_id,
            volume_name,
            mount,
        } => {
            let Some(volume_id) = volume_id.clone().filter(|id| !id.is_empty()) else {
                return Err(ProviderError::Invalid(format!(
                    "network volume {volume_name:?} has no resolved id"
                )));
            };
            Mounts {
                persistent: None,
                network: Some(vec![NetworkMount {
                    volume_id,
                    path: mount.clone(),
                }]),
            }
        }
    };
    if request.container_disk_gb == 0 {
        return Err(ProviderError::Invalid(
            "pod.container_disk_gb must be at least 1 GB".into(),
        ));
    }
    if request.gpu_count == 0 {
        return Err(ProviderError::Invalid(
            "pod.gpu_count must be at least 1".into(),
        ));
    }
    Ok(CreatePodBody {
        name: request.name.clone(),
        image: request.image.clone(),
        gpu: CreateGpu {
            id: request.gpu_id.clone(),
            count: request.gpu_count,
        },
        cloud: request.cloud_type.as_str().to_string(),
        data_center_ids: vec![request.datacenter_id.clone()],
        disk: request.container_disk_gb,
        ports: ports_with_ssh(&request.ports),
        env: request.env.clone(),
        start_ssh: true,
        mounts,
    })
}

/// The PATCH body of an update in place: only the fields it changes. A
/// grown volume is sent whole (`size` and `path`), as RunPod requires.
pub fn update_body(update: &PodUpdate) -> Result<UpdatePodBody, ProviderError> {
    if update.container_disk_gb == Some(0) {
        return Err(ProviderError::Invalid(
            "pod.container_disk_gb must be at least 1 GB".into(),
        ));
    }
    Ok(UpdatePodBody {
        image: update.image.clone(),
        disk: update.container_disk_gb,
        ports: update.ports.as_deref().map(ports_with_ssh),
        mounts: update.volume.as_ref().map(|v| Mounts {
            persistent: Some(PersistentMount {
                size: v.volume_gb,
                path: v.mount.clone(),
            }),
            network: None,
        }),
    })
}

/// Sorted, de-duplicated, and always with `22/tcp`: without it RunPod gives
/// the pod no `ssh.direct`, and rpd could never reach it.
fn ports_with_ssh(ports: &[String]) -> Vec<String> {
    let mut out: Vec<String> = ports.to_vec();
    out.push("22/tcp".into());
    out.sort();
    out.dedup();
    out
}

/// What rpd needs from a pod answer. A status rpd does not know (or none)
/// reads as `Unknown`, with RunPod's word kept: the pod is shown, never
/// changed on a guess; optional fields that are missing or odd read as
/// unknown. Nothing fails here today; the `Result` is kept for what may.
pub fn observed(pod: wire::Pod) -> Result<ObservedPod, String> {
    let status = pod
        .status
        .as_deref()
        .and_then(PodStatus::parse)
        .unwrap_or(PodStatus::Unknown);
    let status_text = (status == PodStatus::Unknown)
        .then(|| pod.status.clone())
        .flatten();
    let access = if status == PodStatus::Running {
        pod.ssh
            .as_ref()
            .and_then(|ssh| ssh.direct.as_ref())
            .filter(|direct| !direct.host.trim().is_empty() && direct.port != 0)
            .map(|direct| {
                Access::Ssh(SshEndpoint {
                    host: direct.host.clone(),
                    port: direct.port,
                    // `username` is required by the spec and always `root`
                    // for direct SSH.
                    user: direct.username.clone().unwrap_or_else(|| "root".into()),
                })
            })
    } else {
        None
    };
    let ports = pod.ports.map(|mut p| {
        p.sort();
        p
    });
    Ok(ObservedPod {
        spec: PodSpec {
            image: pod.image,
            gpu_id: pod.gpu.as_ref().map(|g| g.id.clone()),
            gpu_count: pod.gpu.as_ref().and_then(|g| g.count),
            datacenter_id: pod.data_center_id.filter(|d| !d.is_empty()),
            cloud_type: pod.cloud.as_deref().and_then(CloudType::parse),
            container_disk_gb: pod.disk,
            storage: pod.mounts.as_ref().and_then(storage),
            ports,
        },
        id: pod.id,
        name: pod.name,
        status,
        cost_per_hr: pod.cost,
        access,
        ssh_proxy: pod.ssh.as_ref().is_some_and(|ssh| {
            ssh.proxy
                .as_ref()
                .is_some_and(|p| !p.host.trim().is_empty())
        }),
        status_text,
        no_public_ssh: status == PodStatus::Running
            && pod
                .runtime
                .as_ref()
                .and_then(|r| r.ports.as_deref())
                .is_some_and(|ports| !ports.is_empty() && !ports.iter().any(public_ssh)),
        actions: pod.actions,
        created_at: pod.created_at,
        // `startedAt` is the last status change only while the pod runs:
        // for a stopped pod it is the start before the stop, and REST v2
        // does not say when the stop was.
        changed_at: pod.started_at.filter(|_| status.is_active()),
    })
}

/// A mapping of 22/tcp to a public port on an address rpd can reach. The
/// spec flags no address as public (GraphQL's `isIpPublic` is gone):
/// private, carrier-grade NAT (RunPod's proxy) and link-local addresses
/// are not.
fn public_ssh(port: &wire::RuntimePort) -> bool {
    let tcp = port
        .kind
        .as_deref()
        .is_none_or(|k| k.eq_ignore_ascii_case("tcp"));
    let reachable = port
        .ip
        .as_deref()
        .and_then(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .is_some_and(|ip| match ip {
            std::net::IpAddr::V4(v4) => {
                let cgnat = v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64;
                !(v4.is_private() || v4.is_link_local() || v4.is_unspecified() || cgnat)
            }
            std::net::IpAddr::V6(v6) => !v6.is_unspecified(),
        });
    port.private == Some(22) && tcp && port.public.is_some_and(|p| p > 0) && reachable
}

/// REST v2 reports a network volume by id only; the planner keeps the name
/// rpd recorded when the ids match.
fn storage(mounts: &Mounts) -> Option<Storage> {
    if let Some(p) = &mounts.persistent {
        return Some(Storage::Ephemeral {
            volume_gb: p.size,
            mount: p.path.clone(),
        });
    }
    let network = mounts.network.as_ref()?.first()?;
    Some(Storage::NetworkVolume {
        volume_name: String::new(),
        volume_id: Some(network.volume_id.clone()),
        mount: network.path.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn request(storage: Storage) -> CreatePodRequest {
        CreatePodRequest {
            name: "hello-20261128T004051Z".into(),
            image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
            gpu_id: "NVIDIA GeForce RTX 4090".into(),
            gpu_count: 1,
            datacenter_id: "EU-RO-1".into(),
            cloud_type: CloudType::Secure,
            container_disk_gb: 20,
            storage,
            ports: vec!["8888/http".into()],
            env: BTreeMap::new(),
            min_vcpu_count: Some(8),
            min_memory_gb: Some(32),
            spot: true,
        }
    }

    #[test]
    fn an_ephemeral_create_is_exactly_the_documented_body() {
        let body = create_body(&request(Storage::Ephemeral {
            volume_gb: 20,
            mount: "/workspace".into(),
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({
                "name": "hello-20261128T004051Z",
                "image": "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
                "gpu": {"id": "NVIDIA GeForce RTX 4090", "count": 1},
                "cloud": "SECURE",
                "dataCenterIds": ["EU-RO-1"],
                "disk": 20,
                "ports": ["22/tcp", "8888/http"],
                "startSsh": true,
                "mounts": {"persistent": {"size": 20, "path": "/workspace"}}
            })
        );
    }

    #[test]
    fn a_network_volume_create_mounts_the_resolved_id_and_sends_env() {
        let mut req = request(Storage::NetworkVolume {
            volume_name: "data".into(),
            volume_id: Some("agv6w2qcg7".into()),
            mount: "/runpod-volume".into(),
        });
        req.env.insert("MODEL".into(), "llama".into());
        req.cloud_type = CloudType::Community;
        let value = serde_json::to_value(create_body(&req).unwrap()).unwrap();
        assert_eq!(
            value["mounts"],
            serde_json::json!({"network": [{"volumeId": "agv6w2qcg7", "path": "/runpod-volume"}]})
        );
        assert_eq!(value["env"], serde_json::json!({"MODEL": "llama"}));
        assert_eq!(value["cloud"], "COMMUNITY");
    }

    #[test]
    fn bodies_v2_would_reject_are_refused_before_sending() {
        let small = create_body(&request(Storage::Ephemeral {
            volume_gb: 5,
            mount: "/workspace".into(),
        }));
        assert!(matches!(small, Err(ProviderError::Invalid(m)) if m.contains("at least 10 GB")));
        let unresolved = create_body(&request(Storage::NetworkVolume {
            volume_name: "data".into(),
            volume_id: None,
            mount: "/data".into(),
        }));
        assert!(matches!(unresolved, Err(ProviderError::Invalid(m)) if m.contains("\"data\"")));
    }
}
