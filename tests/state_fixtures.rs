//! Every fixtures/state/NAME.json reads as NAME.expected says: what was
//! read (an rpd state, or a runpod-deploy pointer adopted), or the exact
//! error; and every fixtures/lock/ file is a holder or junk with its ID.
//! These are also the seeds of the fuzz targets (fuzz/). Regenerate with
//! UPDATE_EXPECT=1 after a deliberate change, then review the diff.

use std::path::{Path, PathBuf};

mod common;

use common::expect::Expectations;

fn files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir);
    let mut paths: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "expected"))
        .collect();
    paths.sort();
    paths
}

/// What reading `path` gives, in a line or an error's text.
fn read_state(path: &Path) -> String {
    match rpd::state::read(path) {
        Ok(Some(loaded)) => {
            let state = &loaded.state;
            format!(
                "ok: {:?}, serial {}, pod {}, {} retained, pending create {}\n",
                loaded.origin,
                state.serial,
                state.pod.as_ref().map_or("none", |p| p.id.as_str()),
                state.retained.len(),
                state
                    .pending_create
                    .as_ref()
                    .map_or("none", |p| p.name.as_str()),
            )
        }
        Ok(None) => "no state\n".into(),
        Err(err) => format!("error: {err}\n"),
    }
}

fn read_lock(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    match rpd::state::parse_lock(&bytes, bytes.len() as u64) {
        Ok(info) => format!("held: {} by {} ({})\n", info.id, info.who, info.operation),
        Err(junk) => format!("junk {}: {}\n", junk.id, junk.what),
    }
}

fn check(dir: &str, read: impl Fn(&Path) -> String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut expectations = Expectations::default();
    for path in files(dir) {
        // Relative, so that messages do not hold this checkout's path.
        let shown = path.strip_prefix(root).unwrap();
        std::env::set_current_dir(root).unwrap();
        expectations.check(shown, &path.with_extension("expected"), &read(shown));
    }
    expectations.assert_all_met();
}

#[test]
fn every_state_fixture_reads_as_expected() {
    check("state", read_state);
}

#[test]
fn every_lock_fixture_reads_as_expected() {
    check("lock", read_lock);
}
