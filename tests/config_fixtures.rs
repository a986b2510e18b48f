//! Every fixtures/invalid/NAME.yaml is refused with exactly the error in
//! NAME.stderr (file, line, column, fix); every fixtures/valid/*.yaml
//! validates. Regenerate expectations with UPDATE_EXPECT=1 after a
//! deliberate change, then review the diff.

use std::path::Path;

use assert_cmd::Command;

mod common;

use common::expect::Expectations;

fn validate(path: &Path) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::from_std(std::process::Command::new(assert_cmd::cargo::cargo_bin(
        "rpd",
    )))
    .current_dir(root)
    .arg("validate")
    .arg(path.strip_prefix(root).unwrap())
    .env("NO_COLOR", "1")
    .env("HOME", "/nonexistent-home")
    .output()
    .unwrap()
}

fn fixtures(dir: &str) -> Vec<std::path::PathBuf> {
    common::fixture_configs(dir)
}

#[test]
fn every_invalid_fixture_gets_its_expected_error() {
    let mut expectations = Expectations::default();
    let invalid = fixtures("invalid");
    assert!(invalid.len() >= 30, "the fixture set is complete");
    for yaml in invalid {
        let out = validate(&yaml);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{} must be refused:\n{stderr}",
            yaml.display()
        );
        assert!(!stderr.contains("panicked"), "{}: {stderr}", yaml.display());
        assert!(
            out.stdout.is_empty(),
            "{}: nothing on stdout",
            yaml.display()
        );
        expectations.check(&yaml, &yaml.with_extension("stderr"), &stderr);
    }
    expectations.assert_all_met();
}

#[test]
fn every_error_names_the_file_and_a_line_and_column_when_there_is_one() {
    for yaml in fixtures("invalid") {
        let stderr = String::from_utf8_lossy(&validate(&yaml).stderr).into_owned();
        let name = yaml.file_name().unwrap().to_string_lossy().into_owned();
        assert!(stderr.contains(&name), "{name}: {stderr}");
        let whole_file =
            ["empty.yaml", "multi_document.yaml", "utf16.yaml"].contains(&name.as_str());
        if !whole_file {
            assert!(
                stderr.contains(&format!("{name}:")),
                "{name} has no line:column: {stderr}"
            );
        }
    }
}

#[test]
fn every_valid_fixture_validates() {
    for yaml in fixtures("valid") {
        let out = validate(&yaml);
        assert!(
            out.status.success(),
            "{}: {}",
            yaml.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: "));
    }
}
