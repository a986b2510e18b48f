//! The arguments of `rpd sim`, which drives the embedded simulator, and
//! their resolving into [`SimAction`].

use clap::Subcommand;

use super::CloudArg;
use crate::commands::settings::SimAction;

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// List simulated pods.
    Pods {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Count provider calls by verb (create, start, stop, delete, get, list, ...).
    Calls {
        /// Print the counts as a JSON object.
        #[arg(long)]
        json: bool,
        /// Set the counts back to zero.
        #[arg(long)]
        reset: bool,
    },
    /// Stop a pod as if from the RunPod console.
    Stop {
        /// The simulated pod's id (see `rpd sim pods`).
        pod_id: String,
    },
    /// Start a pod as if from the RunPod console.
    Start {
        /// The simulated pod's id (see `rpd sim pods`).
        pod_id: String,
    },
    /// Delete a pod as if from the RunPod console.
    Terminate {
        /// The simulated pod's id (see `rpd sim pods`).
        pod_id: String,
    },
    /// Change a pod as if from the console: image, name, changed_at, gpu_id, gpu_count, datacenter_id, cloud_type, container_disk_gb, status.
    Set {
        /// The simulated pod's id (see `rpd sim pods`).
        pod_id: String,
        /// The changes, e.g. image=runpod/pytorch:2.9 status=EXITED.
        #[arg(required = true, value_name = "KEY=VALUE")]
        changes: Vec<String>,
    },
    /// Set the free GPUs of one type in one datacenter (0 = out of stock).
    Stock {
        /// The datacenter id, e.g. EU-RO-1.
        datacenter: String,
        /// The GPU type id, e.g. "NVIDIA GeForce RTX 4090".
        gpu: String,
        /// How many GPUs of that type are free.
        count: u32,
        /// The cloud whose stock this is.
        #[arg(long, value_enum, default_value = "SECURE")]
        cloud: CloudArg,
    },
    /// Make the next start of this pod fail: its host has no free GPU.
    FailNextStart {
        /// The simulated pod's id (see `rpd sim pods`).
        pod_id: String,
        /// Fail this many starts in a row (a host whose GPU stays taken).
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Make the next COUNT stop requests for this pod fail (a 502), as if
    /// RunPod had a bad moment.
    FailStop {
        /// The simulated pod's id (see `rpd sim pods`).
        pod_id: String,
        /// How many stop requests fail.
        count: u32,
    },
    /// Add this many milliseconds to every provider call.
    Latency {
        /// Milliseconds per call (0 for none).
        ms: u64,
    },
    /// How long pods take to boot: cold (create) and warm (resume), in milliseconds.
    Boot {
        /// Milliseconds a created pod takes to run.
        cold_ms: u64,
        /// Milliseconds a resumed pod takes to run.
        warm_ms: u64,
    },
    /// Make each created pod read RUNNING with its image still pulling (no
    /// way in yet) for this many reads, as RunPod reports a pod whose image
    /// pulls (0: none).
    Pull {
        /// Reads of a new pod that see it still pulling.
        reads: u32,
    },
    /// Limit provider calls as RunPod's rate limit does: past the quota a
    /// call is refused (429) until its window resets; `--off` lifts it.
    RateLimit {
        /// Calls a minute.
        #[arg(required_unless_present = "off")]
        per_minute: Option<u32>,
        /// Calls an hour (default: 50 minutes' worth, as RunPod's example
        /// policy of 60 a minute and 3000 an hour).
        #[arg(long)]
        per_hour: Option<u32>,
        /// No limit.
        #[arg(long, conflicts_with_all = ["per_minute", "per_hour"])]
        off: bool,
    },
    /// Create a network volume in a datacenter.
    Volume {
        /// The volume's name (what `storage.volume_name` refers to).
        name: String,
        /// The datacenter it lives in.
        datacenter: String,
        /// Its size in GB.
        size_gb: u32,
    },
    /// Reach running pods over SSH at HOST:PORT instead of local processes
    /// (to exercise the SSH transport against a real sshd); `--off` undoes it.
    Ssh {
        /// The sshd to reach running pods at, e.g. 127.0.0.1:2222.
        #[arg(value_name = "HOST:PORT", required_unless_present = "off")]
        endpoint: Option<String>,
        /// Login user on that sshd.
        #[arg(long, default_value = "root")]
        user: String,
        /// Reach pods through local processes again.
        #[arg(long, conflicts_with = "endpoint")]
        off: bool,
    },
    /// Delete every simulated pod, volume and setting.
    Reset,
}

impl SimCommand {
    pub(super) fn resolve(self) -> SimAction {
        match self {
            SimCommand::Pods { json } => SimAction::Pods { json },
            SimCommand::Calls { json, reset } => SimAction::Calls { json, reset },
            SimCommand::Stop { pod_id } => SimAction::Stop { pod_id },
            SimCommand::Start { pod_id } => SimAction::Start { pod_id },
            SimCommand::Terminate { pod_id } => SimAction::Terminate { pod_id },
            SimCommand::Set { pod_id, changes } => SimAction::Set { pod_id, changes },
            SimCommand::Stock {
                datacenter,
                gpu,
                count,
                cloud,
            } => SimAction::Stock {
                datacenter,
                gpu,
                count,
                cloud: cloud.into(),
            },
            SimCommand::FailNextStart { pod_id, count } => {
                SimAction::FailNextStart { pod_id, count }
            }
            SimCommand::FailStop { pod_id, count } => SimAction::FailStop { pod_id, count },
            SimCommand::Latency { ms } => SimAction::Latency { ms },
            SimCommand::Boot { cold_ms, warm_ms } => SimAction::Boot { cold_ms, warm_ms },
            SimCommand::Pull { reads } => SimAction::Pull { reads },
            SimCommand::RateLimit {
                per_minute,
                per_hour,
                off,
            } => SimAction::RateLimit {
                per_minute: per_minute.filter(|_| !off),
                per_hour,
            },
            SimCommand::Volume {
                name,
                datacenter,
                size_gb,
            } => SimAction::Volume {
                name,
                datacenter,
                size_gb,
            },
            SimCommand::Ssh {
                endpoint,
                user,
                off,
            } => SimAction::Ssh {
                endpoint: endpoint.filter(|_| !off),
                user,
            },
            SimCommand::Reset => SimAction::Reset,
        }
    }
}
