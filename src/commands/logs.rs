//! `rpd logs CONFIG [-f]`: the job log, live from the config's running pod
//! over the same transport the job uses, else the last log rpd pulled.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::commands::settings::LogsSettings;
use crate::commands::{Ctx, load_config, read_state};
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::model::PodStatus;

pub async fn run(ctx: &Ctx, settings: &LogsSettings) -> anyhow::Result<ExitStatus> {
    let config = load_config(ctx, &settings.target)?;
    show(ctx, &config, settings.follow, settings.lines).await
}

async fn show(ctx: &Ctx, config: &Config, follow: bool, lines: u32) -> anyhow::Result<ExitStatus> {
    let provider = ctx.provider()?;
    let state = read_state(config, provider.name())?.map(|l| l.state);
    let pod_id = state.as_ref().and_then(|s| {
        s.pod
            .as_ref()
            .map(|p| p.id.clone())
            .or_else(|| s.retained.last().map(|r| r.pod.id.clone()))
    });
    if let Some(id) = &pod_id
        && let Some(pod) = provider.get(id).await?
        && pod.status == PodStatus::Running
        && pod.access.is_some()
    {
        let deadline = Instant::now() + Duration::from_secs(60);
        let transport = crate::remote::connect(&pod, config, deadline).await?;
        crate::note!("# {} on pod {id}", config.job.run.log_path);
        let status = if follow {
            let ended = follow_log(transport.as_ref(), config, lines).await;
            match ended {
                Ok(Some(end)) => {
                    crate::note!("# {end}");
                    ExitStatus::Success
                }
                // Interrupted (Ctrl-C): the user is done reading.
                Ok(None) => ExitStatus::Success,
                Err(err) => match provider.get(id).await {
                    // The lifecycle stopped or deleted the pod as the job ended.
                    Ok(Some(now)) if now.status != PodStatus::Running => {
                        crate::note!(
                            "# pod {id} is {} now: the job ended and its lifecycle ran; `rpd logs {}` shows the log rpd pulled",
                            now.status,
                            config.path.display()
                        );
                        ExitStatus::Success
                    }
                    Ok(None) => {
                        crate::note!("# pod {id} is gone now: the job ended and its lifecycle ran");
                        ExitStatus::Success
                    }
                    _ => {
                        transport.close().await;
                        return Err(err.context(format!("following the log on pod {id}")));
                    }
                },
            }
        } else {
            let log = crate::remote::shell_quote(&config.job.run.log_path);
            let mut child = transport
                .command(&format!("tail -n {lines} {log}"))
                .stdin(Stdio::null())
                .stdout(Stdio::inherit())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()?;
            let ok = tokio::select! {
                status = child.wait() => status?.success(),
                _ = tokio::signal::ctrl_c() => true,
            };
            if ok {
                ExitStatus::Success
            } else {
                ExitStatus::Error
            }
        };
        transport.close().await;
        return Ok(status);
    }
    let Some(local) = latest_pulled_log(config) else {
        anyhow::bail!(
            "no running pod and no pulled log for {}{}",
            config.path.display(),
            match &pod_id {
                Some(id) => format!(" (pod {id} is not running)"),
                None => " (no pod recorded)".into(),
            }
        );
    };
    if follow {
        crate::note!("# not following: the pod is not running, so its log cannot grow");
    }
    crate::note!(
        "# {}{}",
        local.display(),
        match &pod_id {
            Some(id) => format!(" (pod {id} is not running; this is the last log rpd pulled)"),
            None => " (the last log rpd pulled)".into(),
        }
    );
    let text = std::fs::read_to_string(&local)?;
    let all: Vec<&str> = text.lines().collect();
    for line in &all[all.len().saturating_sub(lines as usize)..] {
        crate::say!("{line}");
    }
    Ok(ExitStatus::Success)
}

/// Printed by the follow script after the log, with the job's exit status.
const END_MARKER: &str = "__RPD_LOG_FOLLOW_END__";

/// Follows the log until the job ends; then says how it ended (`None`:
/// interrupted first). An error when the connection ends before the job
/// (the pod was stopped under it).
async fn follow_log(
    transport: &dyn crate::remote::Transport,
    config: &Config,
    lines: u32,
) -> anyhow::Result<Option<String>> {
    use tokio::io::AsyncBufReadExt;
    let script = crate::remote::job::script::follow(&config.job.run.log_path, lines, END_MARKER);
    let mut child = transport
        .command(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut reader = tokio::io::BufReader::new(stdout).lines();
    let read = async {
        while let Some(line) = reader.next_line().await? {
            if let Some(status) = line.strip_prefix(END_MARKER) {
                return Ok::<_, anyhow::Error>(Some(ended(status.trim())));
            }
            crate::say!("{line}");
        }
        Ok(None)
    };
    let ended = tokio::select! {
        ended = read => ended?,
        _ = tokio::signal::ctrl_c() => return Ok(None),
    };
    let _ = child.wait().await;
    ended
        .map(Some)
        .ok_or_else(|| anyhow::anyhow!("the connection to the pod ended before the job did"))
}

/// The closing line of `logs -f`.
fn ended(status: &str) -> String {
    match status {
        "" => {
            "the job ended without recording an exit status (killed, or its pod restarted)".into()
        }
        status => format!("the job exited with status {status}; that is the whole log"),
    }
}

/// The newest `run.log` under `<project_root>/artifacts/runpod/` whose
/// manifest belongs to this config's job.
fn latest_pulled_log(config: &Config) -> Option<PathBuf> {
    let root = config.project_root.join("artifacts").join("runpod");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|dir| dir.join("run.log").is_file())
        .filter(|dir| {
            std::fs::read_to_string(dir.join(crate::apply::manifest::FILE_NAME))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .is_some_and(|m| {
                    m["config_path"].as_str() == config.canonical_path.to_str()
                        && m["job_name"].as_str() == Some(config.raw_name.as_str())
                })
        })
        .collect();
    runs.sort();
    runs.pop().map(|dir| dir.join("run.log"))
}
