//! What each step of a plan does, and the cost line under it.

use super::plural;
use crate::model::{Lifecycle, LifecycleAction, Outcome, Usd, duration};
use crate::plan::{CostReport, DeleteReason, StepKind};

/// What a step does, as the plan's numbered list says it.
pub fn step(kind: &StepKind, name: &str) -> String {
    match kind {
        StepKind::DeletePod { pod_id, why } => match why {
            DeleteReason::Retained => format!("delete retained pod {pod_id}"),
            DeleteReason::Duplicate => format!("delete duplicate pod {pod_id}"),
            _ => format!("delete pod {pod_id}"),
        },
        StepKind::StopPod { pod_id } => format!("stop pod {pod_id}, keeping it and its volume"),
        StepKind::CreatePod { candidates } => {
            if candidates.len() == 1 {
                format!(
                    "create pod {name:?} on {} / {}",
                    candidates[0].datacenter_id, candidates[0].gpu_id
                )
            } else {
                format!("create pod {name:?} on the first candidate with capacity")
            }
        }
        StepKind::StartPod { pod_id, .. } => format!("resume paused pod {pod_id}"),
        StepKind::UsePod { pod_id } => format!("use running pod {pod_id}"),
        StepKind::UpdatePod { pod_id, update } => format!(
            "update pod {pod_id} in place: {}",
            update.field_names().join(", ")
        ),
        StepKind::AdoptPod { pod_id } => format!("record pod {pod_id} in the state"),
        StepKind::WaitReady { timeout_sec } => format!(
            "wait until the pod runs and its shell answers (up to {})",
            duration(u64::from(*timeout_sec))
        ),
        StepKind::Setup { commands } => format!("setup: {commands} command{}", plural(*commands)),
        StepKind::Secrets { count } => format!("secrets: {count} file{}", plural(*count)),
        StepKind::Staging { pushes } => format!(
            "staging: {pushes} push{}",
            if *pushes == 1 { "" } else { "es" }
        ),
        StepKind::Preflight { commands } => {
            format!("preflight: {commands} command{}", plural(*commands))
        }
        StepKind::Launch { script_path } => format!("launch {script_path}, detached"),
        StepKind::Attach {
            pod_id,
            launched_at,
        } => format!(
            "attach to the job launched on {pod_id} at {}: follow it until it ends, or collect it if it has (it is not run again)",
            launched_at.format("%H:%M:%S UTC")
        ),
        StepKind::Monitor { timeout_sec } => format!(
            "follow the job until it exits or prints a marker (timeout {})",
            duration(*timeout_sec)
        ),
        StepKind::Pull { artifacts: 0 } => "pull the log".into(),
        StepKind::Pull { artifacts } => {
            format!(
                "pull the log and {artifacts} artifact{}",
                plural(*artifacts)
            )
        }
        StepKind::Lifecycle { when, action } => {
            let when = match when {
                Outcome::Success => "if the job succeeds",
                Outcome::Failure => "if the job fails",
            };
            let what = match action {
                LifecycleAction::Recycle => "recycle (stop the pod)",
                LifecycleAction::Stop => "stop the pod",
                LifecycleAction::Delete => "delete the pod",
                LifecycleAction::Preserve => "preserve (leave the pod running)",
            };
            format!("{when}: {what}")
        }
        StepKind::ForgetPod { pod_id } => format!("forget pod {pod_id}"),
        StepKind::ForgetPendingCreate { name } => {
            format!("forget the interrupted create of {name:?}")
        }
        StepKind::ForgetCollectedJob { pod_id } => {
            format!("forget the job collected earlier on pod {pod_id}")
        }
        StepKind::SettleInterruptedUpdate { pod_id, applied } => {
            if *applied {
                format!("record the interrupted update of pod {pod_id}")
            } else {
                format!("forget the interrupted update of pod {pod_id}")
            }
        }
        StepKind::RemoveState => "remove the state file".into(),
    }
}

/// `Cost: $0.44/hr while running; $4.00/month while paused for reuse (20 GB volume).`
pub fn cost_line(cost: &CostReport, lifecycle: &Lifecycle) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(rate) = cost.running_per_hr {
        parts.push(format!("{}/hr while running", Usd(rate)));
    }
    if let Some(month) = cost.stopped_per_month {
        let what = match cost.volume_gb {
            Some(gb) => format!(" ({gb} GB volume)"),
            None => String::new(),
        };
        let when = if lifecycle.on_success == LifecycleAction::Recycle {
            "while paused for reuse"
        } else {
            "while stopped"
        };
        let day = cost
            .stopped_per_day
            .map(|d| format!(" ({}/day)", Usd(d)))
            .unwrap_or_default();
        parts.push(format!("{}/month{day} {when}{what}", Usd(month)));
    }
    if let Some(freed) = &cost.frees {
        if freed.storage_per_month > 0.0 {
            parts.push(format!(
                "frees {}/month ({}/day) of volume storage billed while stopped",
                Usd(freed.storage_per_month),
                Usd(freed.storage_per_day)
            ));
        }
        if freed.running_per_hr > 0.0 {
            parts.push(format!(
                "stops {}/hr of running pods",
                Usd(freed.running_per_hr)
            ));
        }
    }
    (!parts.is_empty()).then(|| format!("Cost: {}.", parts.join("; ")))
}
