//! Where `rpd plan -o FILE` may write: a new file, or over a plan it saved
//! earlier (recognised by its content), never over anything else (the
//! config being planned, a state file, anyone's notes). The plan is written
//! whole or not at all: a temporary file beside it, fsync, rename.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// A saved plan's destination, and what rpd knows of the files around it.
pub struct PlanOut {
    /// As the user gave it.
    out: PathBuf,
    /// Files this run knows, and what each is (`the config a.yaml`, `the
    /// state file of a.yaml`), for naming the one the user was about to
    /// lose.
    known: Vec<(PathBuf, String)>,
    /// The configs as given, for the example in the help.
    configs: String,
}

impl PlanOut {
    /// Checks `out` before anything is planned: refused unless a saved plan
    /// may be written there.
    pub fn new(
        out: &Path,
        known: Vec<(PathBuf, String)>,
        configs: &[PathBuf],
    ) -> anyhow::Result<PlanOut> {
        let out = PlanOut {
            out: out.to_path_buf(),
            known,
            configs: configs
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
        };
        out.target()?;
        Ok(out)
    }

    /// Writes `text` there, checking again first: the file may have been
    /// made since the plan began.
    pub fn write(&self, text: &str) -> anyhow::Result<()> {
        let target = self.target()?;
        remove_stale_temps(&target);
        crate::state::write_durably(&target, text.as_bytes(), "plan-before-rename")
            .with_context(|| format!("writing the plan to {}", self.out.display()))
    }

    /// The file to write (through a symbolic link, its target), or why
    /// there is none.
    fn target(&self) -> anyhow::Result<PathBuf> {
        let target = std::fs::canonicalize(&self.out).unwrap_or_else(|_| self.out.clone());
        let metadata = match std::fs::metadata(&target) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(target),
            Err(err) => bail!(
                "the plan was not saved: cannot look at {}: {err}",
                self.out.display()
            ),
            Ok(metadata) => metadata,
        };
        if metadata.is_file() && is_saved_plan(&target) {
            return Ok(target);
        }
        let what = if metadata.is_dir() {
            " (it is a directory)".to_string()
        } else {
            self.known
                .iter()
                .find(|(file, _)| same_file(file, &metadata))
                .map(|(_, what)| format!(" (it is {what})"))
                .unwrap_or_default()
        };
        bail!(
            "the plan was not saved: {} exists and is not a plan `rpd plan -o` saved{what}; a saved plan replaces nothing else\n  = help: save it to a new file, e.g. `rpd plan -o {} {}`",
            self.out.display(),
            self.free_name().display(),
            self.configs
        )
    }

    /// `plan.json` here, or `plan-2.json`, ...: the first that does not
    /// exist.
    fn free_name(&self) -> PathBuf {
        (1..)
            .map(|n| match n {
                1 => PathBuf::from("plan.json"),
                n => PathBuf::from(format!("plan-{n}.json")),
            })
            .find(|p| !p.exists())
            .expect("some name is free")
    }
}

/// Whether `path` holds a plan `rpd plan -o` saved (of any version): a
/// JSON document whose every config carries the facts it was planned from.
fn is_saved_plan(path: &Path) -> bool {
    let Ok(bytes) = crate::input::read(path) else {
        return false;
    };
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return false;
    };
    let configs = doc.get("configs").and_then(|c| c.as_array());
    doc.get("format_version").is_some_and(|v| v.is_string())
        && configs.is_some_and(|configs| {
            !configs.is_empty() && configs.iter().all(|c| c.get("saved").is_some())
        })
}

/// Whether `file` is the file `metadata` describes.
fn same_file(file: &Path, metadata: &std::fs::Metadata) -> bool {
    std::fs::metadata(file).is_ok_and(|m| m.dev() == metadata.dev() && m.ino() == metadata.ino())
}

/// The temporary files (`<name>.tmp.<pid>`) of writes of `target` whose rpd
/// is gone (killed before its rename): a later write removes them.
fn remove_stale_temps(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let prefix = format!("{}.tmp.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 sends nothing; it asks whether `pid` exists.
        let gone = unsafe { libc::kill(pid, 0) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_plan_is_recognised_by_its_content_and_nothing_else_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        assert!(is_saved_plan(&file(
            "saved.json",
            r#"{"format_version": "3.0", "configs": [{"config": "a.yaml", "saved": {}}]}"#
        )));
        for (name, text) in [
            (
                "output.json",
                r#"{"format_version": "3.0", "configs": [{"config": "a.yaml"}]}"#,
            ),
            ("none.json", r#"{"format_version": "3.0", "configs": []}"#),
            ("state.json", r#"{"format_version": 1, "lineage": "x"}"#),
            ("config.yaml", "name: a\npod: {}\n"),
            ("empty", ""),
        ] {
            assert!(!is_saved_plan(&file(name, text)), "{name}");
        }
    }

    #[test]
    fn a_temporary_file_of_a_live_writer_is_kept_and_one_of_a_gone_writer_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("plan.json");
        let live = dir
            .path()
            .join(format!("plan.json.tmp.{}", std::process::id()));
        // pid_max is at most 2^22: this pid is never alive.
        let gone = dir.path().join("plan.json.tmp.99999999");
        let other = dir.path().join("notes.tmp.1");
        for path in [&live, &gone, &other] {
            std::fs::write(path, "").unwrap();
        }
        remove_stale_temps(&target);
        assert!(live.exists() && other.exists());
        assert!(!gone.exists());
    }
}
