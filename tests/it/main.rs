//! The one integration-test binary: every module below drives real git and the
//! real `git-crew` binary in temporary repositories.

mod common;

mod cli;
mod concurrency;
mod schema;
mod tamper;
mod merge_laws;
