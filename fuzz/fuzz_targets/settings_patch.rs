//! The settings patcher on any bytes: see `djrun_fuzz::settings_patch`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| djrun_fuzz::settings_patch(data));
