//! The recorded runs of fixtures/telemetry/ for unit tests: one run
//! directory per case.

use std::path::{Path, PathBuf};

/// The run directory of `case`, in the repository (read only: a test that
/// may write, `rpd runs show` drawing its picture say, uses [`copied`]).
pub fn path(case: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/telemetry")
        .join(case);
    std::fs::read_dir(&dir)
        .expect("a fixture case")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("one run directory in the case")
}

/// The run directory of `case` copied into `into`, under its own name.
pub fn copied(case: &str, into: &Path) -> PathBuf {
    let from = path(case);
    let to = into.join(from.file_name().expect("a name"));
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap().flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}
