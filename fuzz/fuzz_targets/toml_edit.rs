//! The TOML editors (dependency manifests and saved choices) on any bytes: see
//! `djrun_fuzz::toml_edit`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| djrun_fuzz::toml_edit(data));
