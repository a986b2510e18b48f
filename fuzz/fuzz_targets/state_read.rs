//! The state-file reader: any bytes are a state, a runpod-deploy pointer
//! adopted, or an error; never a panic. A state that reads back is written
//! by rpd as JSON that reads back the same (what `state::write` relies on).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use rpd::state;

fuzz_target!(|data: &[u8]| {
    if data.len() as u64 > rpd::input::MAX_INPUT_BYTES {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/rpd-fuzz/job.state.json");
    match state::parse(path, text) {
        Ok(loaded) => {
            let written = serde_json::to_string_pretty(&loaded.state).expect("a state serializes");
            let again = state::parse(path, &written)
                .unwrap_or_else(|err| panic!("rpd cannot read back what it writes: {err}\n{written}"));
            assert_eq!(again.state, loaded.state, "a state changes on a round trip");
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
});
