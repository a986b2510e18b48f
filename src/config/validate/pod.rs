//! `pod:` and `storage:`: the desired pod, its GPU and datacenter preference
//! lists, ports and volume.

use crate::config::shown;
use std::collections::BTreeMap;

use super::Checker;
use crate::config::raw::{RawPod, RawStorage};
use crate::config::suggest;
use crate::known;
use crate::model::{CloudType, DesiredPod, Storage};

impl Checker<'_> {
    /// The desired pod, its volume included. `image` is the raw text here:
    /// `Checker::config` renders it once every variable is known.
    pub(super) fn pod(&mut self, pod: &RawPod, storage: &RawStorage) -> DesiredPod {
        self.non_empty("pod.image", &pod.image);
        self.gpu_order_and_datacenters(pod);
        let (cloud_type, all_clouds) = self.cloud_type(pod.cloud_type.as_deref());
        let container_disk_gb = self.positive("pod.container_disk_gb", pod.container_disk_gb, 20);
        let gpu_count = self.positive("pod.gpu_count", pod.gpu_count, 1);
        let min_vcpu_count = self.optional_positive("pod.min_vcpu_count", pod.min_vcpu_count);
        let min_memory_gb = self.optional_positive("pod.min_memory_gb", pod.min_memory_gb);
        if let Some(v) = &pod.python_version
            && !is_python_version(v)
        {
            self.error(
                "pod.python_version",
                format!(
                    "`pod.python_version` must look like '3.13' or '3.13.5', got {}",
                    shown(v)
                ),
            )
            .help = Some("pre-release suffixes are rejected for reproducibility".into());
        }
        let ports = self.ports(pod.ports.clone());
        if pod.spot || min_vcpu_count.is_some() || min_memory_gb.is_some() {
            self.warnings.push("pod.spot, pod.min_vcpu_count and pod.min_memory_gb have no REST v2 equivalent: the runpod provider ignores them; the runpodctl provider passes them when the installed runpodctl supports them".into());
        }
        let storage = self.storage(storage, &pod.datacenters);
        let all_clouds = self.clouds_with_storage(&storage, cloud_type, all_clouds);
        DesiredPod {
            image: pod.image.clone(),
            gpu_order: pod.gpu_order.clone(),
            datacenters: pod.datacenters.clone(),
            cloud_type,
            all_clouds,
            gpu_count,
            container_disk_gb,
            storage,
            ports,
            env: BTreeMap::new(),
            min_vcpu_count,
            min_memory_gb,
            spot: pod.spot,
        }
    }

    /// Both lists must be non-empty; an id rpd does not know is only a warning
    /// (RunPod adds GPUs and datacenters).
    fn gpu_order_and_datacenters(&mut self, pod: &RawPod) {
        if pod.datacenters.is_empty() {
            self.error(
                "pod.datacenters",
                "`pod.datacenters` must list at least one datacenter id",
            )
            .help = Some("e.g. [\"EU-RO-1\", \"US-CA-2\"]".into());
        }
        if pod.gpu_order.is_empty() {
            self.error(
                "pod.gpu_order",
                "`pod.gpu_order` must list at least one GPU type id",
            )
            .help = Some("e.g. [\"NVIDIA GeForce RTX 4090\"]".into());
        }
        for (i, gpu) in pod.gpu_order.iter().enumerate() {
            if gpu.trim().is_empty() {
                self.error(&format!("pod.gpu_order[{i}]"), "GPU ids must not be empty");
            } else if !known::is_known_gpu(gpu) {
                let hint = known::suggest_gpu(gpu)
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default();
                self.warnings.push(format!(
                    "pod.gpu_order[{i}]: {} is not a GPU id rpd knows{hint}",
                    shown(gpu)
                ));
            }
        }
        for (i, dc) in pod.datacenters.iter().enumerate() {
            if dc.trim().is_empty() {
                self.error(
                    &format!("pod.datacenters[{i}]"),
                    "datacenter ids must not be empty",
                );
            } else if !known::DATACENTERS.contains(&dc.as_str()) {
                let hint = suggest(dc, known::DATACENTERS.iter().copied())
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default();
                self.warnings.push(format!(
                    "pod.datacenters[{i}]: {} is not a datacenter id rpd knows{hint}",
                    shown(dc)
                ));
            }
        }
    }

    /// The cloud, and whether it is runpod-deploy's `ALL`: SECURE first,
    /// then COMMUNITY (REST v2 has no ALL, so rpd tries both itself).
    fn cloud_type(&mut self, text: Option<&str>) -> (CloudType, bool) {
        let Some(text) = text else {
            return (CloudType::Secure, false);
        };
        if text.trim().eq_ignore_ascii_case("ALL") {
            return (CloudType::Secure, true);
        }
        let cloud = CloudType::parse(text.trim()).unwrap_or_else(|| {
            self.error(
                "pod.cloud_type",
                format!(
                    "`pod.cloud_type` must be SECURE, COMMUNITY or ALL, got {}",
                    shown(text)
                ),
            )
            .help = Some(
                "ALL tries every candidate on SECURE, then the same places on COMMUNITY".into(),
            );
            CloudType::Secure
        });
        (cloud, false)
    }

    /// RunPod mounts network volumes on Secure Cloud pods only: COMMUNITY
    /// with one is refused, and ALL with one keeps to SECURE (said).
    /// Returns whether COMMUNITY follows SECURE (`all_clouds`) after that.
    fn clouds_with_storage(&mut self, storage: &Storage, cloud: CloudType, all: bool) -> bool {
        if !matches!(storage, Storage::NetworkVolume { .. }) {
            return all;
        }
        if cloud == CloudType::Community {
            self.error(
                "pod.cloud_type",
                "`pod.cloud_type` is COMMUNITY but storage.mode is network_volume: RunPod mounts network volumes on Secure Cloud pods only",
            )
            .help = Some("use cloud_type: SECURE, or storage.mode: ephemeral".into());
        } else if all {
            self.warnings.push("pod.cloud_type is ALL but storage.mode is network_volume: network volumes need Secure Cloud, so only SECURE candidates are tried".into());
        }
        false
    }

    fn ports(&mut self, ports: Option<Vec<String>>) -> Vec<String> {
        let ports = ports.unwrap_or_else(|| vec!["22/tcp".into()]);
        let mut normalized: Vec<String> = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            let p = port.trim().to_ascii_lowercase();
            let valid = p.split_once('/').is_some_and(|(n, proto)| {
                n.parse::<u16>().is_ok_and(|n| n > 0) && ["tcp", "http", "udp"].contains(&proto)
            });
            if !valid {
                self.error(
                    &format!("pod.ports[{i}]"),
                    format!("port {} must look like 22/tcp or 8888/http", shown(port)),
                );
            } else if !normalized.contains(&p) {
                normalized.push(p);
            }
        }
        if !normalized.iter().any(|p| p == "22/tcp") {
            // runpod-deploy accepted such configs (and never reached the
            // pod); rpd adds the port it needs and says so.
            self.warnings.push(
                "pod.ports has no \"22/tcp\": rpd adds it, since it reaches the pod over SSH"
                    .into(),
            );
            normalized.push("22/tcp".into());
        }
        normalized.sort();
        normalized
    }

    fn storage(&mut self, st: &RawStorage, datacenters: &[String]) -> Storage {
        let mount = st
            .volume_mount
            .clone()
            .unwrap_or_else(|| "/workspace".into());
        if !mount.starts_with('/') {
            self.error(
                "storage.volume_mount",
                format!(
                    "`storage.volume_mount` must be absolute, got {}",
                    shown(&mount)
                ),
            );
        }
        match st.mode.as_str() {
            "ephemeral" => self.ephemeral(st, mount),
            "network_volume" => self.network_volume(st, datacenters, mount),
            other => {
                let mut help = "allowed: ephemeral, network_volume".to_string();
                if let Some(near) = suggest(other, ["ephemeral", "network_volume"]) {
                    help = format!("did you mean `{near}`? {help}");
                }
                self.error(
                    "storage.mode",
                    format!(
                        "`storage.mode` must be 'network_volume' or 'ephemeral', got {}",
                        shown(other)
                    ),
                )
                .help = Some(help);
                Storage::Ephemeral {
                    volume_gb: 0,
                    mount,
                }
            }
        }
    }

    fn ephemeral(&mut self, st: &RawStorage, mount: String) -> Storage {
        let gb = match st.volume_gb {
            Some(v) if v > 0 => self.at_most_u32("storage.volume_gb", v).unwrap_or(0),
            _ => {
                let at = if st.volume_gb.is_some() {
                    "storage.volume_gb"
                } else {
                    "storage"
                };
                self.error(
                    at,
                    "`storage.volume_gb` must be a positive number of GB for ephemeral storage",
                )
                .help = Some("e.g. `volume_gb: 20`".into());
                0
            }
        };
        if gb > 0 && gb < 10 {
            self.warnings.push(format!("storage.volume_gb is {gb}: RunPod's REST v2 API requires at least 10 GB, so the runpod provider will refuse it"));
        }
        Storage::Ephemeral {
            volume_gb: gb,
            mount,
        }
    }

    fn network_volume(
        &mut self,
        st: &RawStorage,
        datacenters: &[String],
        mount: String,
    ) -> Storage {
        let name = st.volume_name.clone().unwrap_or_default();
        if name.is_empty() {
            self.error(
                "storage",
                "`storage.volume_name` is required for network_volume storage",
            )
            .help = Some("name a network volume that exists in the pod's datacenter".into());
        }
        if datacenters.len() > 1 {
            self.warnings.push("storage.mode is network_volume but pod.datacenters lists several datacenters: a network volume lives in one datacenter, so pin pod.datacenters to it".into());
        }
        Storage::NetworkVolume {
            volume_name: name,
            volume_id: None,
            mount,
        }
    }
}

fn is_python_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.first() == Some(&"3")
        && (parts.len() == 2 || parts.len() == 3)
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_versions() {
        assert!(is_python_version("3.13"));
        assert!(is_python_version("3.13.5"));
        assert!(!is_python_version("3.13rc1"));
        assert!(!is_python_version("2.7"));
        assert!(!is_python_version("3"));
    }
}
