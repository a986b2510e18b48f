//! The simulator's pods run their commands (setup, preflight, the job, its
//! wrapper, guard and sampler, the log watcher) on the user's machine, so
//! they run in a sandbox that shows them the machine read-only with the
//! pod's own disks over it: its volume at the volume mount, its container
//! disk at `/root`, `/tmp` and every other path it holds (what staging put
//! there), and the simulator's own directory, where the pod's guard asks
//! the simulator to stop it. Nothing else can be written.
//!
//! The sandbox is bubblewrap (`bwrap`): a mount namespace, made without
//! privileges through a user namespace. Where it is missing or cannot make
//! one (user namespaces turned off), the commands run unsandboxed and the
//! plan says so; `RPD_SIM_SANDBOX=off` asks for that (tests of that path).

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use crate::model::NoSandbox;

/// `off` runs the simulator's commands without a sandbox.
pub const ENV: &str = "RPD_SIM_SANDBOX";

/// How the simulator's commands are run on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sandbox {
    /// In bubblewrap, this program.
    Bwrap(PathBuf),
    /// Unsandboxed, and why.
    Unavailable(NoSandbox),
}

impl Sandbox {
    /// Why the simulator's commands run unsandboxed, if they do.
    pub fn unavailable(&self) -> Option<&NoSandbox> {
        match self {
            Sandbox::Bwrap(_) => None,
            Sandbox::Unavailable(why) => Some(why),
        }
    }
}

/// The sandbox of this process's simulated commands, found once: the plan
/// and every command of the run agree.
pub fn detect() -> &'static Sandbox {
    static FOUND: OnceLock<Sandbox> = OnceLock::new();
    FOUND.get_or_init(probe)
}

fn probe() -> Sandbox {
    if crate::env::get(ENV).is_some_and(|v| v == "off") {
        return Sandbox::Unavailable(NoSandbox::TurnedOff);
    }
    let Some(bwrap) = on_path("bwrap") else {
        return Sandbox::Unavailable(NoSandbox::NotInstalled);
    };
    // bwrap is there; whether it can make a namespace here is another
    // matter (user namespaces may be turned off): ask it for one.
    let tried = std::process::Command::new(&bwrap)
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "true"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output();
    let error = match tried {
        Ok(out) if out.status.success() => return Sandbox::Bwrap(bwrap),
        Ok(out) => {
            let said = String::from_utf8_lossy(&out.stderr);
            match said.lines().next().map(str::trim) {
                Some(line) if !line.is_empty() => line.to_string(),
                _ => format!("it exited with {}", out.status),
            }
        }
        Err(err) => err.to_string(),
    };
    Sandbox::Unavailable(NoSandbox::Refused { error })
}

fn on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| {
            std::fs::metadata(path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Where a simulated pod's disks are on this machine.
#[derive(Debug, Clone)]
pub struct PodDisks<'a> {
    pub volume: &'a Path,
    /// Where the pod mounts its volume (absolute).
    pub mount: &'a str,
    /// The container disk: the pod's `/` wherever the volume is not.
    pub container: &'a Path,
    /// The simulator's own directory (the pod's guard stops the pod there).
    pub world: &'a Path,
}

/// The directories of the container disk always seen in place of this
/// machine's.
pub const CONTAINER_DIRS: [&str; 2] = ["root", "tmp"];

/// bwrap's options for a command of the pod `disks` (the command follows).
pub fn bwrap_options(disks: &PodDisks) -> Vec<OsString> {
    // The volume first: where it is mounted it wins over the container
    // disk (a mount at `/root/data` is the volume inside `/root`).
    let mut writable: Vec<(PathBuf, PathBuf)> =
        vec![(pod_path(disks.mount), disks.volume.to_path_buf())];
    writable.extend(
        CONTAINER_DIRS
            .iter()
            .map(|dir| (Path::new("/").join(dir), disks.container.join(dir))),
    );
    container_paths(disks.container, Path::new("/"), 0, &mut writable);
    let world = std::fs::canonicalize(disks.world).unwrap_or_else(|_| disks.world.into());
    writable.push((world.clone(), world));
    // Parents before children (a child is mounted inside its parent); of
    // two at one place, the first.
    writable
        .sort_by(|a, b| (a.0.components().count(), &a.0).cmp(&(b.0.components().count(), &b.0)));
    writable.dedup_by(|later, first| later.0 == first.0);

    let mut options: Vec<OsString> = Vec::new();
    let push = |options: &mut Vec<OsString>, words: &[&std::ffi::OsStr]| {
        options.extend(words.iter().map(|w| w.to_os_string()));
    };
    let dests: Vec<&Path> = writable.iter().map(|(dest, _)| dest.as_path()).collect();
    mirror(Path::new("/"), &dests, &mut options);
    for (dest, source) in &writable {
        push(
            &mut options,
            &["--bind".as_ref(), source.as_ref(), dest.as_ref()],
        );
    }
    // The guard stops the pod with this very program: where it sits under
    // a pod's directory (`/root/.cargo/bin`), it is shown there too.
    if let Ok(exe) = std::env::current_exe()
        && dests.iter().any(|dest| exe.starts_with(dest))
    {
        push(
            &mut options,
            &["--ro-bind".as_ref(), exe.as_ref(), exe.as_ref()],
        );
    }
    push(
        &mut options,
        &[
            "--chdir".as_ref(),
            "/root".as_ref(),
            "--die-with-parent".as_ref(),
        ],
    );
    options
}

/// What the container disk holds beyond [`CONTAINER_DIRS`] (staged files,
/// say `/opt/code`), as (pod path, directory here): each path this machine
/// does not have, or where the machine has a file and the pod a directory.
/// Directories both have are looked into, down to a few levels.
fn container_paths(
    container: &Path,
    pod_dir: &Path,
    depth: usize,
    out: &mut Vec<(PathBuf, PathBuf)>,
) {
    let here = container.join(pod_dir.strip_prefix("/").unwrap_or(pod_dir));
    let Ok(entries) = std::fs::read_dir(&here) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if depth == 0 && CONTAINER_DIRS.iter().any(|d| name == *d) {
            continue;
        }
        let pod_path = pod_dir.join(&name);
        let held = entry.path();
        match std::fs::symlink_metadata(&pod_path) {
            // This machine has no such path: the pod's is shown.
            Err(_) => out.push((pod_path, held)),
            Ok(machine) if machine.is_dir() && held.is_dir() && depth < 8 => {
                container_paths(container, &pod_path, depth + 1, out);
            }
            // A symlink here (`/bin` to `usr/bin`) is left as it is: a
            // mount on it would land on its target.
            Ok(machine) if machine.file_type().is_symlink() => {}
            Ok(_) => out.push((pod_path, held)),
        }
    }
}

/// Shows `dir`'s entries read-only, except the mount points in `dests` and
/// their parents, which are made (empty) in the sandbox's own root and
/// looked into. `/dev` is a minimal one of the sandbox's own.
fn mirror(dir: &Path, dests: &[&Path], options: &mut Vec<OsString>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<OsString> = entries.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let word = |w: &str| OsString::from(w);
        if path == Path::new("/dev") {
            options.extend([word("--dev"), path.into_os_string()]);
        } else if dests.contains(&path.as_path()) {
            // Mounted over after.
        } else if meta.file_type().is_symlink() {
            let Ok(target) = std::fs::read_link(&path) else {
                continue;
            };
            options.extend([
                word("--symlink"),
                target.into_os_string(),
                path.into_os_string(),
            ]);
        } else if meta.is_dir() && dests.iter().any(|dest| dest.starts_with(&path)) {
            options.extend([word("--dir"), path.clone().into_os_string()]);
            mirror(&path, dests, options);
        } else {
            options.extend([
                word("--ro-bind"),
                path.clone().into_os_string(),
                path.into_os_string(),
            ]);
        }
    }
}

/// `path` without `.` and `..` (a `..` at the root stays at the root), as
/// the pod would resolve it lexically; a relative path is taken from the
/// pod's home, `/root` (where ssh and rsync start).
pub fn pod_path(path: impl AsRef<Path>) -> PathBuf {
    let path = path.as_ref();
    let mut out = PathBuf::from("/");
    if !path.has_root() {
        out.push("root");
    }
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_paths_are_absolute_and_never_climb_above_the_root() {
        assert_eq!(
            pod_path("/workspace/a/../b/./c"),
            Path::new("/workspace/b/c")
        );
        assert_eq!(pod_path("/../../etc/passwd"), Path::new("/etc/passwd"));
        assert_eq!(pod_path("p/"), Path::new("/root/p"));
        assert_eq!(pod_path("../../x"), Path::new("/x"));
        assert_eq!(pod_path("/"), Path::new("/"));
    }

    #[test]
    fn the_container_disk_shows_what_this_machine_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let container = dir.path();
        for held in [
            "root/x",
            "tmp/y",
            "opt/rpd-not-on-this-machine/code",
            "usr/rpd-nope",
        ] {
            std::fs::create_dir_all(container.join(held)).unwrap();
        }
        let mut found = Vec::new();
        container_paths(container, Path::new("/"), 0, &mut found);
        found.sort();
        let pod: Vec<&Path> = found.iter().map(|(p, _)| p.as_path()).collect();
        let expected_opt = if Path::new("/opt").exists() {
            "/opt/rpd-not-on-this-machine"
        } else {
            "/opt"
        };
        assert_eq!(pod, [Path::new(expected_opt), Path::new("/usr/rpd-nope")]);
        assert!(
            found
                .iter()
                .all(|(p, here)| here == &container.join(p.strip_prefix("/").unwrap()))
        );
    }
}
