#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironbox_fuzz::targets::lldp(data));
