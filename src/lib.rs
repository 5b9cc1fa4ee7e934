//! git-crew: a coordination layer for teams of long-running AI agents and the
//! humans who run them, kept entirely on one git branch.
//!
//! Tasks, messages, identities and receipts are signed, append-only records in
//! log files on a dedicated branch (`crew`). This crate holds the model and all
//! logic; the `git-crew` binary only parses arguments and renders results. The
//! library does no terminal I/O and reads no global configuration except where a
//! caller asks it to (`KeyStore::from_env`).
//!
//! The modules stand in layers, each naming only its own layer and those
//! below (`tests/it/layers.rs` checks it; ARCHITECTURE.md has the table):
//!
//! 1. base: [`id`] and [`hlc`] (ids and stamps), [`sign`] (keys and
//!    signatures), [`object`] (trees and commits as the branch allows them),
//!    [`store`] (the git branch behind a storage seam: gix, or in memory);
//! 2. records: [`record`] (kinds, canonical encoding, framing), [`layout`]
//!    (which file a record belongs to), [`merge`] (union of log files),
//!    [`request`] (identity requests), [`artifact`] (files receipts name);
//! 3. the fold: [`state`];
//! 4. reading a branch: [`decode`] (the records at a tip) and [`index`] (the
//!    incremental cache of their fold);
//! 5. verification: [`verify`];
//! 6. the transaction: [`error`] (the operations' error) and [`workspace`]
//!    (opening, signing, the one write path, the publish lock);
//! 7. publishing: [`liveness`] (heartbeats, sessions, the audit), [`rebase`]
//!    (unpublished records on top of published ones), [`fold`] (the server's
//!    side of publishing), [`sync`] (fetch, verify, push), [`publish`] (a
//!    write reaches the remote before the command returns), [`repair`] (a
//!    remote without the server hook), [`hook`] (what each git hook checks);
//! 8. operations, one module per concept, as methods of
//!    [`workspace::Workspace`]: [`tasks`], [`receipts`], [`messages`],
//!    [`identities`].

#![warn(missing_docs)]

pub mod artifact;
pub mod decode;
pub mod error;
pub mod fold;
pub mod hlc;
pub mod hook;
pub mod id;
pub mod identities;
pub mod index;
pub mod layout;
pub mod liveness;
pub mod merge;
pub mod messages;
pub mod object;
pub mod publish;
pub mod rebase;
pub mod receipts;
pub mod record;
pub mod repair;
pub mod request;
pub mod reservations;
pub mod seal;
pub mod sign;
pub mod state;
pub mod store;
pub mod supervise;
pub mod sync;
pub mod tasks;
pub mod verify;
pub mod workspace;

pub use error::{Error, Result};
