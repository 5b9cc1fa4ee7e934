//! git-crew: a coordination layer for teams of long-running AI agents and the
//! humans who run them, kept entirely on one git branch.
//!
//! Tasks, messages, identities and receipts are signed, append-only records in
//! log files on a dedicated branch (`crew`). This crate holds the model and all
//! logic; the `git-crew` binary only parses arguments and renders results. The
//! library does no terminal I/O and reads no global configuration except where a
//! caller asks it to (`KeyStore::from_env`).
//!
//! Module map, in data-flow order: [`hlc`] and [`id`] (stamps and ids),
//! [`sign`] (keys and signatures), [`identity`] (requests to be admitted),
//! [`record`] (canonical encoding and decoding), [`layout`] (which file a
//! record belongs to), [`merge`] (union of log files), [`object`] (trees and
//! commits as the branch allows them), [`store`] (the git branch through gix),
//! [`state`] (the fold: identities and board), [`index`] (the incremental
//! cache of the fold), [`verify`] (history checks), [`workspace`] (the write
//! transaction and reads), then the operations: [`board`] (tasks, claims,
//! receipts), [`artifact`] (files receipts name), [`inbox`] (messages),
//! [`live`] (heartbeats, sessions and the audit), [`rebase`] (unpublished
//! records on top of the published ones), [`sync`] (fetch, verify, push),
//! [`publish`] (a write reaches the remote before the command returns),
//! [`fold`] (the server's side of publishing), [`hook`] (what each git hook
//! checks), [`repair`] (a remote without the server hook). [`error`] holds
//! the crate's error.

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
pub mod sign;
pub mod state;
pub mod store;
pub mod sync;
pub mod tasks;
pub mod verify;
pub mod workspace;

pub use error::{Error, Result};
