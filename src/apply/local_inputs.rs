//! The local inputs a job needs, checked before a pod bills: by the refresh
//! (a plan with problems has errors and cannot be applied) and again by
//! apply right before it creates or resumes a pod. What is found here would
//! otherwise be found on a billing pod, half way through the job.

use std::path::{Path, PathBuf};

use crate::config::{Config, SecretSource};
use crate::plan::{LocalPlace, LocalProblem, LocalWrite};

/// Every problem with `config`'s local inputs, in the config's order.
pub fn check(config: &Config) -> Vec<LocalProblem> {
    let mut problems = Vec::new();
    for push in &config.job.staging {
        // `dir/` means the directory's contents: the directory must exist.
        let source = push.source.trim_end_matches('/');
        if !Path::new(if source.is_empty() { "/" } else { source }).exists() {
            problems.push(LocalProblem::StagingSourceMissing {
                label: push.label.clone(),
                source: push.source.clone(),
            });
        }
    }
    for secret in &config.job.secrets {
        match &secret.source {
            SecretSource::Env(names) => {
                for name in names.iter().filter(|n| std::env::var_os(n).is_none()) {
                    problems.push(LocalProblem::SecretEnvUnset {
                        secret: secret.name.clone(),
                        variable: name.clone(),
                    });
                }
            }
            SecretSource::File(path) => {
                if let Err(err) = std::fs::File::open(path) {
                    problems.push(LocalProblem::SecretFileUnreadable {
                        secret: secret.name.clone(),
                        path: path.clone(),
                        error: err.to_string(),
                    });
                }
            }
        }
    }
    for path in config.required_paths.iter().filter(|p| !p.exists()) {
        problems.push(LocalProblem::RequiredPathMissing { path: path.clone() });
    }
    if let Some((blocker, error)) = unwritable(&config.run_dir) {
        problems.push(LocalProblem::NotWritable {
            what: LocalPlace::RunDirectory,
            path: config.run_dir.clone(),
            blocker,
            error,
        });
    }
    for artifact in &config.job.artifacts {
        // A directory pull (`dir/`) lands in local_path; a file in its parent.
        let dir = if artifact.remote_path.ends_with('/') {
            artifact.local_path.as_path()
        } else {
            artifact.local_path.parent().unwrap_or(Path::new("/"))
        };
        if let Some((blocker, error)) = unwritable(dir) {
            problems.push(LocalProblem::NotWritable {
                what: LocalPlace::Artifact {
                    label: artifact.label.clone(),
                },
                path: artifact.local_path.clone(),
                blocker,
                error,
            });
        }
    }
    problems
}

/// Where `config`'s run writes on this machine: its run directory and each
/// artifact's destination (a directory pull fills `local_path`; a file
/// pull writes the one file).
pub fn writes(config: &Config) -> Vec<LocalWrite> {
    let mut writes = vec![LocalWrite {
        what: LocalPlace::RunDirectory,
        path: config.run_dir.clone(),
        folder: true,
    }];
    writes.extend(config.job.artifacts.iter().map(|artifact| LocalWrite {
        what: LocalPlace::Artifact {
            label: artifact.label.clone(),
        },
        path: artifact.local_path.clone(),
        folder: artifact.remote_path.ends_with('/'),
    }));
    writes
}

/// Why directory `dir` could not be created and written, without creating
/// anything: its nearest existing ancestor must be a directory this user
/// may write. The path in the way, and why.
pub fn unwritable(dir: &Path) -> Option<(PathBuf, String)> {
    let mut at = dir;
    loop {
        match std::fs::metadata(at) {
            Ok(meta) if meta.is_dir() => {
                return may_write(at).err().map(|err| (at.to_path_buf(), err));
            }
            Ok(_) => return Some((at.to_path_buf(), "not a directory".into())),
            // Missing, or below a file (ENOTDIR): look further up.
            Err(err)
                if err.kind() == std::io::ErrorKind::NotFound
                    || err.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                at = at.parent()?
            }
            Err(err) => return Some((at.to_path_buf(), err.to_string())),
        }
    }
}

/// Whether this process may create files in `dir` (as the kernel decides,
/// so root passes where a mode bit alone would say no).
fn may_write(dir: &Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    let allowed = unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) } == 0;
    if allowed {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_writable_when_its_nearest_ancestor_is() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(unwritable(&dir.path().join("a/b/c")), None);
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert_eq!(
            unwritable(&file.join("below")),
            Some((file, "not a directory".to_string()))
        );
    }
}
