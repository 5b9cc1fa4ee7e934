//! The one integration-test binary: every module below drives real git and the
//! real `git-crew` binary in temporary repositories.

mod common;

mod board;
mod cli;
mod concurrency;
mod contract;
mod control;
mod escaping;
mod evolution;
mod fold;
mod guide;
mod history;
mod hooks;
mod hostile;
mod humans;
mod identity;
mod layers;
mod live;
mod merge_laws;
mod messages;
mod mutation;
mod plan;
mod publish;
mod reference;
mod reservations;
mod schema;
mod snapshots;
mod supervise;
mod sync;
mod tamper;
