//! Outputs compared with expectation files kept beside their inputs
//! (fixtures/invalid/NAME.stderr, fixtures/state/NAME.expected, ...).

use std::path::Path;

/// Expected outputs, read from their files or, with `UPDATE_EXPECT=1` set,
/// written to them (review the diff); every mismatch is collected.
#[derive(Default)]
pub struct Expectations {
    mismatches: Vec<String>,
}

impl Expectations {
    /// Compares `actual`, the output for the input `shown`, with the file
    /// `expected_path`.
    pub fn check(&mut self, shown: &Path, expected_path: &Path, actual: &str) {
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(expected_path, actual).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(expected_path).unwrap_or_else(|_| {
            panic!(
                "missing {}; run with UPDATE_EXPECT=1",
                expected_path.display()
            )
        });
        if expected != actual {
            self.mismatches.push(format!(
                "=== {}\n--- expected\n{expected}--- actual\n{actual}",
                shown.display()
            ));
        }
    }

    /// Panics with every mismatch.
    #[track_caller]
    pub fn assert_all_met(self) {
        assert!(self.mismatches.is_empty(), "{}", self.mismatches.join("\n"));
    }
}
