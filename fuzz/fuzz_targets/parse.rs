//! Fuzz the readers: framing, whole-file decoding and the canonical YAML parser.
//! The checks live in `fuzz/shared.rs`, which `tests/it/merge_laws.rs` also
//! includes to replay the seed corpus under `cargo test`.

#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../shared.rs");

fuzz_target!(|data: &[u8]| fuzz_parse(data));
