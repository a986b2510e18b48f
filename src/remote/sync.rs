//! A local, rsync-like tree copy for the simulator's transport: rsync's
//! trailing-slash rule, exclude patterns, `--delete`, and its quick check
//! (same size and mtime = unchanged), counting the bytes really copied.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use walkdir::WalkDir;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferStats {
    pub files: u64,
    pub bytes: u64,
}

impl std::ops::AddAssign for TransferStats {
    fn add_assign(&mut self, other: TransferStats) {
        self.files += other.files;
        self.bytes += other.bytes;
    }
}

/// rsync exclude patterns, reduced to what configs use: a trailing `/`
/// matches directories only; a pattern without `/` matches a name at any
/// depth; a leading `/` anchors to the transfer root; `**` spans directories.
pub struct Excludes {
    any: GlobSet,
    dirs_only: GlobSet,
}

impl Excludes {
    pub fn new(patterns: &[String]) -> Result<Excludes, globset::Error> {
        let mut any = GlobSetBuilder::new();
        let mut dirs_only = GlobSetBuilder::new();
        for pattern in patterns {
            let (body, dir_only) = match pattern.strip_suffix('/') {
                Some(b) => (b, true),
                None => (pattern.as_str(), false),
            };
            let glob = if let Some(anchored) = body.strip_prefix('/') {
                anchored.to_string()
            } else if body.starts_with("**/") {
                body.to_string()
            } else {
                format!("**/{body}")
            };
            let target = if dir_only { &mut dirs_only } else { &mut any };
            target.add(Glob::new(&glob)?);
        }
        Ok(Excludes {
            any: any.build()?,
            dirs_only: dirs_only.build()?,
        })
    }

    fn excluded(&self, relative: &Path, is_dir: bool) -> bool {
        self.any.is_match(relative) || (is_dir && self.dirs_only.is_match(relative))
    }
}

/// Where `source` lands under `destination`, by rsync's rule: `dir/` copies
/// the contents, `dir` copies the directory itself, a file copies the file.
pub fn target_root(source: &str, destination: &Path) -> PathBuf {
    let path = Path::new(source);
    if source.ends_with('/') || !path.is_dir() && destination.to_string_lossy().ends_with('/') {
        return destination.to_path_buf();
    }
    match path.file_name() {
        Some(name) if path.is_dir() => destination.join(name),
        _ => destination.to_path_buf(),
    }
}

/// Copies `source` to `destination` (see [`target_root`]).
pub fn sync(
    source: &str,
    destination: &Path,
    excludes: &[String],
    delete: bool,
) -> io::Result<TransferStats> {
    let excludes = Excludes::new(excludes)
        .map_err(|e| io::Error::other(format!("bad exclude pattern: {e}")))?;
    let src = Path::new(source.trim_end_matches('/'));
    let src = if src.as_os_str().is_empty() {
        Path::new("/")
    } else {
        src
    };
    let meta = fs::metadata(src)?;
    if !meta.is_dir() {
        let target = if destination.is_dir() {
            destination.join(src.file_name().unwrap_or_default())
        } else {
            destination.to_path_buf()
        };
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        return copy_if_changed(src, &target);
    }
    let root = target_root(source, destination);
    fs::create_dir_all(&root)?;
    let mut stats = TransferStats::default();
    let mut kept: HashSet<PathBuf> = HashSet::new();
    let mut walker = WalkDir::new(src)
        .min_depth(1)
        .follow_links(false)
        .into_iter();
    while let Some(entry) = walker.next() {
        let entry = entry.map_err(io::Error::other)?;
        let relative = entry
            .path()
            .strip_prefix(src)
            .expect("walkdir stays under its root")
            .to_path_buf();
        let is_dir = entry.file_type().is_dir();
        if excludes.excluded(&relative, is_dir) {
            if is_dir {
                walker.skip_current_dir();
            }
            continue;
        }
        let target = root.join(&relative);
        kept.insert(relative);
        if is_dir {
            // A symlink in the way is replaced, never followed (rsync does
            // the same): on a simulated pod it may lead off the pod.
            if is_symlink(&target) {
                fs::remove_file(&target)?;
            }
            fs::create_dir_all(&target)?;
        } else if entry.file_type().is_symlink() {
            let link = fs::read_link(entry.path())?;
            let _ = fs::remove_file(&target);
            std::os::unix::fs::symlink(link, &target)?;
        } else {
            stats += copy_if_changed(entry.path(), &target)?;
        }
    }
    if delete {
        remove_extraneous(&root, &kept, &excludes)?;
    }
    Ok(stats)
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

fn copy_if_changed(from: &Path, to: &Path) -> io::Result<TransferStats> {
    let src = fs::metadata(from)?;
    // Written in place of a symlink, not through it.
    if is_symlink(to) {
        fs::remove_file(to)?;
    }
    if let Ok(dst) = fs::symlink_metadata(to)
        && dst.is_file()
        && dst.len() == src.len()
        && dst.modified().ok() == src.modified().ok()
    {
        return Ok(TransferStats::default());
    }
    if fs::symlink_metadata(to).is_ok_and(|m| m.is_dir()) {
        fs::remove_dir_all(to)?;
    }
    let bytes = fs::copy(from, to)?;
    let file = fs::OpenOptions::new().write(true).open(to)?;
    file.set_modified(src.modified()?)?;
    Ok(TransferStats { files: 1, bytes })
}

fn remove_extraneous(root: &Path, kept: &HashSet<PathBuf>, excludes: &Excludes) -> io::Result<()> {
    let mut walker = WalkDir::new(root)
        .min_depth(1)
        .contents_first(false)
        .into_iter();
    let mut doomed = Vec::new();
    while let Some(entry) = walker.next() {
        let entry = entry.map_err(io::Error::other)?;
        let relative = entry
            .path()
            .strip_prefix(root)
            .expect("under root")
            .to_path_buf();
        let is_dir = entry.file_type().is_dir();
        if excludes.excluded(&relative, is_dir) {
            // rsync keeps excluded files on the receiver (no --delete-excluded).
            if is_dir {
                walker.skip_current_dir();
            }
            continue;
        }
        if !kept.contains(&relative) {
            doomed.push((entry.path().to_path_buf(), is_dir));
            if is_dir {
                walker.skip_current_dir();
            }
        }
    }
    for (path, is_dir) in doomed {
        if is_dir {
            fs::remove_dir_all(path)?;
        } else {
            fs::remove_file(path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn copies_contents_skips_unchanged_and_deletes_extraneous() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let dst = tmp.path().join("dst");
        write(&src.join("a.txt"), "aaaa");
        write(&src.join("pkg/b.py"), "bb");
        write(&src.join("pkg/__pycache__/b.pyc"), "x");
        write(&src.join(".git/HEAD"), "ref");
        let excludes = vec![".git/".to_string(), "**/__pycache__/".to_string()];
        let source = format!("{}/", src.display());

        let first = sync(&source, &dst, &excludes, true).unwrap();
        assert_eq!(first, TransferStats { files: 2, bytes: 6 });
        assert!(dst.join("pkg/b.py").exists());
        assert!(!dst.join(".git").exists());
        assert!(!dst.join("pkg/__pycache__").exists());

        let second = sync(&source, &dst, &excludes, true).unwrap();
        assert_eq!(second, TransferStats::default(), "nothing changed");

        write(&src.join("a.txt"), "changed!");
        write(&dst.join("stale.txt"), "old");
        let third = sync(&source, &dst, &excludes, true).unwrap();
        assert_eq!(third, TransferStats { files: 1, bytes: 8 });
        assert!(!dst.join("stale.txt").exists());
    }

    #[test]
    fn symlinks_in_the_destination_are_replaced_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        write(&src.join("sub/f"), "new");
        write(&src.join("g"), "new");
        let outside = tmp.path().join("outside");
        write(&outside.join("f"), "theirs");
        write(&outside.join("g"), "theirs");
        let dst = tmp.path().join("dst");
        fs::create_dir_all(&dst).unwrap();
        std::os::unix::fs::symlink(&outside, dst.join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.join("g"), dst.join("g")).unwrap();

        sync(&format!("{}/", src.display()), &dst, &[], false).unwrap();
        assert_eq!(fs::read_to_string(outside.join("f")).unwrap(), "theirs");
        assert_eq!(fs::read_to_string(outside.join("g")).unwrap(), "theirs");
        assert_eq!(fs::read_to_string(dst.join("sub/f")).unwrap(), "new");
        assert_eq!(fs::read_to_string(dst.join("g")).unwrap(), "new");
        assert!(!is_symlink(&dst.join("sub")) && !is_symlink(&dst.join("g")));
    }

    #[test]
    fn without_trailing_slash_the_directory_itself_is_copied() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("proj");
        write(&src.join("f"), "1");
        let dst = tmp.path().join("out");
        sync(&src.display().to_string(), &dst, &[], true).unwrap();
        assert!(dst.join("proj/f").exists());
    }

    #[test]
    fn basename_patterns_match_at_any_depth_and_anchored_only_at_root() {
        let ex = Excludes::new(&["*.pyc".into(), "/build/".into()]).unwrap();
        assert!(ex.excluded(Path::new("a/b/c.pyc"), false));
        assert!(ex.excluded(Path::new("build"), true));
        assert!(!ex.excluded(Path::new("src/build"), true));
    }
}
