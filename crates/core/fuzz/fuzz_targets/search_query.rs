//! Fuzzes the user-search parser: any bytes, as UTF-8 text, must parse or fail cleanly,
//! with an error position inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match gatehouse_core::search::parse(text) {
            Ok(_) => {}
            Err(e) => assert!(e.position <= text.chars().count()),
        }
    }
});
