//! The data plane: how the job reaches a pod (transport) and the job itself.
//! It never imports provider, render, progress or cost: what the job needs
//! from them (a pod probe, a budget, somewhere to send its events) is
//! passed in.

pub mod job;
pub mod key;
pub mod sandbox;
pub mod ssh;
pub mod sshd_probe;
pub mod sync;
pub mod transport;

use std::time::Instant;

/// Quotes `text` for a POSIX shell (a NUL byte, which no shell word can
/// hold, is dropped).
pub fn shell_quote(text: &str) -> String {
    let text = text.replace('\0', "");
    shlex::try_quote(&text)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("'{}'", text.replace('\'', "'\\''")))
}

use crate::config::Config;
use crate::model::{Access, ObservedPod};
pub use transport::{LocalTransport, Transport, TransportError};

/// Connects to a ready pod: local processes for a simulated pod, one shared
/// SSH connection for a real one (retried until `deadline` while sshd starts).
pub async fn connect(
    pod: &ObservedPod,
    config: &Config,
    deadline: Instant,
) -> Result<Box<dyn Transport>, TransportError> {
    match &pod.access {
        Some(Access::Local(dirs)) => Ok(Box::new(LocalTransport::new(
            dirs.clone(),
            config.pod.storage.mount(),
            &pod.id,
        ))),
        Some(Access::Ssh(endpoint)) => {
            // RunPod pods log in as root; an image with another user (or a
            // test sshd) can say so.
            let mut endpoint = endpoint.clone();
            if let Some(user) = std::env::var("RPD_SSH_USER").ok().filter(|u| !u.is_empty()) {
                endpoint.user = user;
            }
            let boot = pod
                .changed_at
                .as_deref()
                .or(pod.created_at.as_deref())
                .unwrap_or("");
            let alias: String = format!("rpd-{}-{boot}", pod.id)
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            let transport = ssh::SshTransport::connect(
                endpoint.clone(),
                &config.ssh_key_path,
                &alias,
                deadline,
            )
            .await?;
            Ok(Box::new(transport))
        }
        None => Err(TransportError::Failed {
            what: "connect".into(),
            detail: format!("pod {} reports no SSH endpoint", pod.id),
        }),
    }
}
