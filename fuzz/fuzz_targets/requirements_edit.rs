//! The requirements editor on any bytes: see `djrun_fuzz::requirements_edit`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| djrun_fuzz::requirements_edit(data));
