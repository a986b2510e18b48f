//! The config loader as `rpd validate` runs it after reading the file:
//! decoding (BOM, UTF-8), YAML, the key index, serde, templates and every
//! check, then the error's rendering. A first line `#!vars k=v k2=v2` (a
//! YAML comment) becomes --var overrides, so that their rendering is
//! fuzzed too. Inputs over rpd's input limit are refused before parsing,
//! as `config::load` refuses them.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use rpd::config::{self, LoadOptions};

fuzz_target!(|data: &[u8]| {
    if data.len() as u64 > rpd::input::MAX_INPUT_BYTES {
        return;
    }
    let mut options = LoadOptions {
        now: Some(chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap()),
        ..LoadOptions::default()
    };
    if let Some(rest) = data.strip_prefix(b"#!vars ") {
        let line = rest.split(|b| *b == b'\n').next().unwrap_or_default();
        for arg in String::from_utf8_lossy(line).split(' ') {
            if let Ok((key, value)) = config::parse_var(arg) {
                options.overrides.insert(key, value);
            }
        }
    }
    match config::load_bytes(Path::new("/rpd-fuzz/job.yaml"), data.to_vec(), &options) {
        Ok(config) => {
            // What plan and apply read first.
            let _ = config.state_file.display().to_string();
        }
        Err(err) => {
            let message = err.to_string();
            assert!(!message.is_empty());
        }
    }
});
