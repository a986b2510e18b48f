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
            let mut shown = Vec::new();
            let since = std::time::SystemTime::now();
            let ended = follow_log(transport.as_ref(), config, lines, &mut shown).await;
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
                        let pulled = finish_from_pulled_log(config, &shown, since).await;
                        crate::note!(
                            "# pod {id} is {} now: the job ended and its lifecycle ran{pulled}",
                            now.status,
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
    for line in last_lines(&local, lines as usize)? {
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
    shown: &mut Vec<String>,
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
            shown.push(line);
            if shown.len() > SHOWN_KEPT {
                shown.remove(0);
            }
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

/// How many of the last lines shown are kept to find the place in the
/// pulled log where the live one stopped.
const SHOWN_KEPT: usize = 5;

/// The lifecycle stopped the pod under `logs -f` (and with it the live
/// log, perhaps before its last lines reached us): prints the rest from the
/// log the apply pulled, and says so (empty when there is none). The apply
/// writes the run's manifest right after the stop: it is waited for, for up
/// to 10 s, as one written `since` the follow began.
async fn finish_from_pulled_log(
    config: &Config,
    shown: &[String],
    since: std::time::SystemTime,
) -> String {
    use crate::retry::{Look, PollSchedule, poll};
    let deadline = Instant::now() + Duration::from_secs(10);
    let schedule = PollSchedule::every(Duration::from_millis(100));
    let found = poll(&schedule, async || {
        let fresh = latest_pulled_log(config).filter(|log| {
            log.with_file_name(crate::apply::manifest::FILE_NAME)
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| at >= since)
        });
        match fresh {
            Some(log) => Look::Done(Some(log)),
            None if Instant::now() >= deadline => Look::Done(None),
            None => Look::Again(()),
        }
    })
    .await;
    let Some(local) = found else {
        return String::new();
    };
    let Ok(pulled) = last_lines(&local, 10_000) else {
        return String::new();
    };
    for line in rest_after(shown, &pulled) {
        crate::say!("{line}");
    }
    format!(
        "; the log's end is from the copy rpd pulled, {}",
        local.display()
    )
}

/// The lines of `pulled` after the place where `shown` (the last lines
/// printed) ends; all of `pulled` when nothing was shown, none when the
/// place is not found (a log of another run).
fn rest_after<'a>(shown: &[String], pulled: &'a [String]) -> &'a [String] {
    if shown.is_empty() {
        return pulled;
    }
    (shown.len()..=pulled.len())
        .rev()
        .find(|&end| pulled[end - shown.len()..end] == *shown)
        .map_or(&[], |end| &pulled[end..])
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

/// The last `n` lines of the file at `path`, read backwards from its end, so
/// that a log of many GB costs only what is shown; bytes that are not UTF-8
/// are shown as `�`.
fn last_lines(path: &std::path::Path, n: usize) -> std::io::Result<Vec<String>> {
    use std::io::{Read, Seek, SeekFrom};
    const CHUNK: u64 = 64 * 1024;
    let mut file = std::fs::File::open(path)?;
    let mut end = file.metadata()?.len();
    let mut tail: Vec<u8> = Vec::new();
    // One newline more than the lines wanted, unless the file ends first;
    // a final newline ends the last line and does not start another.
    loop {
        let newlines = tail.iter().filter(|b| **b == b'\n').count();
        let ends_with_newline = tail.last() == Some(&b'\n');
        if end == 0 || newlines > n + usize::from(ends_with_newline) {
            break;
        }
        let start = end.saturating_sub(CHUNK);
        let mut chunk = vec![0; (end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        end = start;
    }
    let text = String::from_utf8_lossy(&tail);
    let all: Vec<&str> = text.lines().collect();
    // Unless the file was read from its start, the first line is partial.
    let whole = if end == 0 {
        &all[..]
    } else {
        &all[1.min(all.len())..]
    };
    Ok(whole[whole.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect())
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
            crate::input::read(&dir.join(crate::apply::manifest::FILE_NAME))
                .ok()
                .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
                .is_some_and(|m| {
                    m["config_path"].as_str() == config.canonical_path.to_str()
                        && m["job_name"].as_str() == Some(config.raw_name.as_str())
                })
        })
        .collect();
    runs.sort();
    runs.pop().map(|dir| dir.join("run.log"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_rest_of_the_pulled_log_follows_the_last_lines_shown() {
        let lines =
            |text: &str| -> Vec<String> { text.split_whitespace().map(String::from).collect() };
        let pulled = lines("a b c b c d e");
        assert_eq!(super::rest_after(&lines("b c"), &pulled), lines("d e"));
        assert_eq!(super::rest_after(&lines("d e"), &pulled), lines(""));
        assert_eq!(super::rest_after(&[], &pulled), pulled);
        assert_eq!(super::rest_after(&lines("x"), &pulled), lines(""));
    }

    use super::last_lines;

    #[test]
    fn the_last_lines_of_a_long_log_are_read_from_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let text: String = (0..100_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, &text).unwrap();
        assert_eq!(last_lines(&path, 2).unwrap(), ["line 99998", "line 99999"]);
        assert_eq!(last_lines(&path, 100_001).unwrap().len(), 100_000);
        assert_eq!(last_lines(&path, 0).unwrap(), Vec::<String>::new());
        std::fs::write(&path, b"a\nb\xff\nc").unwrap();
        assert_eq!(last_lines(&path, 2).unwrap(), ["b\u{FFFD}", "c"]);
        assert_eq!(last_lines(&path, 9).unwrap(), ["a", "b\u{FFFD}", "c"]);
        std::fs::write(&path, b"").unwrap();
        assert!(last_lines(&path, 3).unwrap().is_empty());
    }
}
