//! What an existing pod can change in place, and whether the provider can
//! (issue 13).

use serde::{Deserialize, Serialize};

use super::{PodSpec, Storage};

/// The fields an existing pod can change in place (REST v2 `PATCH
/// /v2/pods/{id}`): only those set are sent. The GPU, its count, the
/// datacenter and the cloud are not among them: they force a new pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PodUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_disk_gb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<String>>,
    /// A grown volume (it never shrinks in place), with its mount path:
    /// RunPod takes a persistent mount only whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeGrowth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VolumeGrowth {
    pub volume_gb: u32,
    pub mount: String,
}

impl PodUpdate {
    pub fn is_empty(&self) -> bool {
        *self == PodUpdate::default()
    }

    /// `spec` after this update.
    pub fn applied_to(&self, spec: &PodSpec) -> PodSpec {
        let mut out = spec.clone();
        if let Some(image) = &self.image {
            out.image = Some(image.clone());
        }
        if let Some(disk) = self.container_disk_gb {
            out.container_disk_gb = Some(disk);
        }
        if let Some(ports) = &self.ports {
            out.ports = Some(ports.clone());
        }
        if let Some(volume) = &self.volume {
            out.storage = Some(Storage::Ephemeral {
                volume_gb: volume.volume_gb,
                mount: volume.mount.clone(),
            });
        }
        out
    }

    /// The names of the fields it changes, as the plan shows them.
    pub fn field_names(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.image.is_some() {
            out.push("image");
        }
        if self.container_disk_gb.is_some() {
            out.push("container_disk_gb");
        }
        if self.volume.is_some() {
            out.push("volume_gb");
        }
        if self.ports.is_some() {
            out.push("ports");
        }
        out
    }
}

/// Whether the provider can change a pod in place, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InPlaceUpdates {
    Supported,
    /// The installed runpodctl's `pod --help` lists no `update` command.
    RunpodctlWithoutUpdate {
        version: String,
    },
    /// `runpodctl pod --help` could not be read.
    RunpodctlHelpUnreadable {
        version: String,
        error: String,
    },
}
