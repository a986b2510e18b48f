//! Reading the files a user hands rpd (configs, `--vars-file`, state and lock
//! files, runpodctl's config, the simulator's world): regular files only, and
//! at most [`MAX_INPUT_BYTES`], both checked before a byte is parsed.
//!
//! Why: `rpd validate /dev/zero` used to read until memory ran out, and a
//! named pipe without a writer blocked forever. A config is a few KiB; 4 MiB
//! is generous for every file rpd reads. Imports nothing of rpd.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest input file rpd parses: 4 MiB.
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading failed (not found, permission denied, ...).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A directory, a FIFO, a device or a socket.
    #[error("it is {kind}, not a regular file")]
    NotAFile { kind: &'static str },
    /// Over [`MAX_INPUT_BYTES`]; `size` is what the file system reports, or
    /// `None` when the file grew past the limit while it was read.
    #[error("{}, over rpd's limit of 4 MiB for an input file", too_large(*size))]
    TooLarge { size: Option<u64> },
}

impl InputError {
    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::Io(err) if err.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The whole of `path`, if it is a regular file of at most [`MAX_INPUT_BYTES`].
pub fn read(path: &Path) -> Result<Vec<u8>, InputError> {
    // O_NONBLOCK: opening a FIFO without a writer must not block; it is
    // refused just below. It changes nothing for a regular file.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    read_open(file)
}

/// `path` opened for reading if it is a regular file, of any size: for a
/// file read as a stream under a limit of its reader's (a run's metrics).
pub fn open_regular(path: &Path) -> Result<File, InputError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    regular(&file)?;
    Ok(file)
}

/// [`read`] of a file already open (a lock file, say).
pub fn read_open(file: File) -> Result<Vec<u8>, InputError> {
    let metadata = regular(&file)?;
    if metadata.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            size: Some(metadata.len()),
        });
    }
    // The size can lie (files in /proc say 0) or change: read one byte more
    // than the limit to know.
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    (&file).take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge { size: None });
    }
    Ok(bytes)
}

/// The file's metadata if it is a regular file; else what it is.
fn regular(file: &File) -> Result<std::fs::Metadata, InputError> {
    let metadata = file.metadata()?;
    let file_type = metadata.file_type();
    if !file_type.is_file() {
        let kind = if file_type.is_dir() {
            "a directory"
        } else if file_type.is_fifo() {
            "a named pipe (FIFO)"
        } else if file_type.is_char_device() {
            "a character device"
        } else if file_type.is_block_device() {
            "a block device"
        } else if file_type.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(InputError::NotAFile { kind });
    }
    Ok(metadata)
}

/// [`read`] as UTF-8 text; bytes that are not UTF-8 are an `InvalidData`
/// error naming the byte offset and line.
pub fn read_text(path: &Path) -> Result<String, InputError> {
    let bytes = read(path)?;
    String::from_utf8(bytes).map_err(|err| {
        let at = Utf8Position::of(err.as_bytes(), err.utf8_error().valid_up_to());
        InputError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is not UTF-8 text: {at}"),
        ))
    })
}

/// Where the first byte that is not UTF-8 sits, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Position {
    pub byte: u8,
    pub offset: usize,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
}

impl Utf8Position {
    /// The position of `bytes[valid_up_to]`, the first byte that is not UTF-8.
    pub fn of(bytes: &[u8], valid_up_to: usize) -> Utf8Position {
        let valid = &bytes[..valid_up_to];
        let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        Utf8Position {
            byte: bytes[valid_up_to],
            offset: valid_up_to,
            line: valid.iter().filter(|b| **b == b'\n').count() + 1,
            column,
        }
    }
}

impl std::fmt::Display for Utf8Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "byte 0x{:02X} at line {}, column {} (byte offset {})",
            self.byte, self.line, self.column, self.offset
        )
    }
}

fn too_large(size: Option<u64>) -> String {
    match size {
        Some(size) => format!("it is {} ({size} bytes)", human_size(size)),
        None => "it holds more than 4 MiB".into(),
    }
}

/// `path` as text for a message, each byte that is not UTF-8 shown as
/// `\xNN` (`display()` shows the same replacement character for any byte).
pub fn escaped_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02X}"));
        }
    }
    out
}

/// Serializes a path found on disk (not one rpd reads back) as
/// [`escaped_path`]'s text: serde refuses a path that is not UTF-8, which
/// would fail a whole report for one odd directory name.
pub fn path_as_text<S: serde::Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&escaped_path(path))
}

/// [`path_as_text`] for an optional path.
pub fn optional_path_as_text<S: serde::Serializer>(
    path: &Option<std::path::PathBuf>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => path_as_text(path, serializer),
        None => serializer.serialize_none(),
    }
}

/// `4.0 MiB`, `2.0 GiB`, `512 bytes`.
pub fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} bytes")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.1} GiB", b / (KIB * KIB * KIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_are_escaped_in_messages() {
        use std::os::unix::ffi::OsStrExt;
        let path = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/caf\xe9/\xff\xfe.yaml"));
        assert_eq!(escaped_path(path), "/tmp/caf\\xE9/\\xFF\\xFE.yaml");
        assert_eq!(escaped_path(Path::new("/tmp/café")), "/tmp/café");
    }

    #[test]
    fn a_small_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, "name: a\n").unwrap();
        assert_eq!(read(&path).unwrap(), b"name: a\n");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        let file = File::create(&path).unwrap();
        file.set_len(MAX_INPUT_BYTES + 1).unwrap();
        let err = read(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it is 4.0 MiB (4194305 bytes), over rpd's limit of 4 MiB for an input file"
        );
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(MAX_INPUT_BYTES)
            .unwrap();
        assert_eq!(read(&path).unwrap().len() as u64, MAX_INPUT_BYTES);
    }

    #[test]
    fn devices_directories_and_pipes_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            read(Path::new("/dev/zero")).unwrap_err().to_string(),
            "it is a character device, not a regular file"
        );
        assert_eq!(
            read(dir.path()).unwrap_err().to_string(),
            "it is a directory, not a regular file"
        );
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        assert_eq!(
            read(&fifo).unwrap_err().to_string(),
            "it is a named pipe (FIFO), not a regular file"
        );
    }

    #[test]
    fn a_file_whose_size_lies_is_still_bounded() {
        // /proc files report a size of 0.
        let bytes = read(Path::new("/proc/self/status")).unwrap();
        assert!(!bytes.is_empty());
    }

    #[test]
    fn text_that_is_not_utf8_names_the_byte_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.json");
        std::fs::write(&path, b"{\n  \"a\": \"caf\xe9\"\n}\n").unwrap();
        assert_eq!(
            read_text(&path).unwrap_err().to_string(),
            "it is not UTF-8 text: byte 0xE9 at line 2, column 12 (byte offset 13)"
        );
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_size(2 * 1024 * 1024 * 1024), "2.0 GiB");
    }
}
