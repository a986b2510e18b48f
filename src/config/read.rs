//! From a config's path to its text: read within the input bound (regular
//! files of at most 4 MiB, see `input.rs`), a UTF-8 byte-order mark dropped
//! (editors on Windows write one), anything else that is not UTF-8 refused
//! with the position of the first bad byte.

use std::path::Path;

use super::error::{ConfigError, Problem};
use super::locate::Pos;
use crate::input::{self, InputError, Utf8Position};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The text of the config at `path`.
pub fn config_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = input::read(path).map_err(|err| {
        let problem = Problem::new(None, format!("cannot read config: {err}"));
        let problem = match &err {
            _ if err.is_not_found() => problem
                .help("check the path; configs are YAML files such as examples/hello.yaml"),
            InputError::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
                problem.help("check the file's permissions")
            }
            InputError::Io(_) => problem,
            InputError::NotAFile { kind } if *kind == "a directory" => problem.help(format!(
                "pass a YAML file, e.g. {dir}/job.yaml; to check every config in it: rpd validate {dir}",
                dir = path.display()
            )),
            InputError::NotAFile { .. } => problem.help(
                "rpd reads a config from a regular file (its directory anchors the config's relative paths and its state file); save it to a file first",
            ),
            InputError::TooLarge { .. } => problem.help(
                "a config is a few KiB of YAML: is this the right file? rpd refuses larger inputs before parsing them",
            ),
        };
        ConfigError::single(path.to_path_buf(), None, problem)
    })?;
    decode(path, bytes)
}

/// `bytes` as text: UTF-8, with or without a byte-order mark.
pub fn decode(path: &Path, mut bytes: Vec<u8>) -> Result<String, ConfigError> {
    if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..UTF8_BOM.len());
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(ConfigError::single(
            path.to_path_buf(),
            None,
            Problem::new(
                None,
                "the config is UTF-16 text (it starts with a UTF-16 byte-order mark); rpd reads UTF-8",
            )
            .help(format!(
                "save it as UTF-8 (in most editors: Save with Encoding > UTF-8), or convert it: iconv -f UTF-16 -t UTF-8 {}",
                path.display()
            )),
        ));
    }
    String::from_utf8(bytes).map_err(|err| {
        let at = Utf8Position::of(err.as_bytes(), err.utf8_error().valid_up_to());
        let shown = String::from_utf8_lossy(err.as_bytes()).into_owned();
        ConfigError::single(
            path.to_path_buf(),
            Some(shown),
            Problem::new(
                Some(Pos {
                    line: at.line,
                    col: at.column,
                }),
                format!("the config is not UTF-8 text: {at}"),
            )
            .help(format!(
                "rpd reads configs as UTF-8; convert the file, e.g. from Latin-1: iconv -f LATIN1 -t UTF-8 {}",
                path.display()
            )),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let text = decode(Path::new("a.yaml"), b"\xEF\xBB\xBFname: a\n".to_vec()).unwrap();
        assert_eq!(text, "name: a\n");
    }

    #[test]
    fn utf16_is_named() {
        let err = decode(Path::new("a.yaml"), b"\xFF\xFEn\0a\0".to_vec()).unwrap_err();
        assert!(
            err.to_string().starts_with("the config is UTF-16 text"),
            "{err}"
        );
    }

    #[test]
    fn a_byte_that_is_not_utf8_is_located() {
        let err = decode(Path::new("a.yaml"), b"name: a\nimage: caf\xe9\n".to_vec()).unwrap_err();
        assert_eq!(
            err.problems[0].message,
            "the config is not UTF-8 text: byte 0xE9 at line 2, column 11 (byte offset 18)"
        );
        assert_eq!(err.problems[0].pos, Some(Pos { line: 2, col: 11 }));
    }
}
