//! The lock-file reader: any bytes are a holder's info or junk with an ID
//! that `force-unlock` takes; never a panic, and the same bytes always give
//! the same ID.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpd::state;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    match state::parse_lock(data, len) {
        Ok(info) => {
            let _ = info.render();
        }
        Err(junk) => {
            assert!(junk.id.starts_with("junk-"), "{}", junk.id);
            assert_eq!(state::parse_lock(data, len).unwrap_err(), junk);
        }
    }
});
