//! The data plane: how the job reaches a pod (transport) and the job itself.

pub mod events;
pub mod job;
pub mod sync;
pub mod transport;

use crate::config::Config;
use crate::model::{Access, ObservedPod};
pub use transport::{LocalTransport, Transport};

/// The transport for a ready pod.
pub fn transport_for(pod: &ObservedPod, config: &Config) -> anyhow::Result<Box<dyn Transport>> {
    match &pod.access {
        Some(Access::Local(dirs)) => Ok(Box::new(LocalTransport::new(
            dirs.clone(),
            config.pod.storage.mount(),
            &pod.id,
        ))),
        Some(Access::Ssh(endpoint)) => anyhow::bail!(
            "pod {} is reached over SSH ({}:{}), which this build of rpd cannot do yet",
            pod.id,
            endpoint.host,
            endpoint.port
        ),
        None => anyhow::bail!("pod {} has no way in yet (no SSH endpoint)", pod.id),
    }
}
