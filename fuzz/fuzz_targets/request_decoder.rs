//! Fuzz target: see `fuzz_checks::request_decoder` for what it checks.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/trent-chaos/src/fuzz_checks.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::request_decoder(data));
