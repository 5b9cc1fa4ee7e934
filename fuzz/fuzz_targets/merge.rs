//! Fuzz the merge: the input is `base ~~~~\n ours ~~~~\n theirs` (see
//! `MERGE_DELIMITER`). The checks live in `fuzz/shared.rs`, which
//! `tests/it/merge_laws.rs` also includes to replay the seed corpus under `cargo test`.

#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../shared.rs");

fuzz_target!(|data: &[u8]| fuzz_merge(data));
