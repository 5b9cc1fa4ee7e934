//! Reading a branch: decoding the records of a tip, and the errors of
//! reading one.
//!
//! Every read of the workspace starts here: the tip of the branch, the
//! workspace id its manifest names, and the records of its log files, each
//! checked to sit in the one file the layout gives it. The cache
//! ([`crate::index`]) calls this to build or catch up; verification calls it
//! for the workspace id. Decoding refuses rather than guesses: a malformed
//! record is an error naming its file and offset, never skipped.

use std::collections::HashSet;

use crate::store::Backend;
use crate::store::Oid;

use crate::id::Id;
use crate::layout;
use crate::record::{self, frame, FileError, Problem, Record, GENESIS_KIND};
use crate::state::State;
use crate::store::{Store, StoreError};

/// What can go wrong reading a branch.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Git access failed or the repository is unusable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A log file on the branch is malformed, or holds a record of a newer
    /// format. (Not a `#[source]`: the message already includes it, and error
    /// chains would print it twice.)
    #[error("{}", match .0.needs_format() {
        Some(_) => format!("the branch holds a record this git-crew cannot read: {}", .0),
        None => format!("the branch holds a malformed record: {}; run `git crew verify`", .0),
    })]
    File(FileError),
    /// The branch has no workspace yet (in this clone).
    #[error("{}", no_workspace_message(branch, remote.as_deref()))]
    NoWorkspace {
        /// The branch.
        branch: String,
        /// The remote this clone would sync with, if it has one.
        remote: Option<String>,
    },
    /// The local cache could not be cleared.
    #[error("{what}")]
    Io {
        /// What we were doing.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result alias for reading a branch.
pub type Result<T, E = ReadError> = std::result::Result<T, E>;

impl From<FileError> for ReadError {
    fn from(e: FileError) -> ReadError {
        ReadError::File(e)
    }
}

impl ReadError {
    /// [`ReadError::NoWorkspace`] for `store`'s branch, naming the remote
    /// its clone syncs with, if any.
    pub fn no_workspace<B: Backend>(store: &Store<B>) -> ReadError {
        ReadError::NoWorkspace { branch: store.branch().to_owned(), remote: configured_remote(store) }
    }
}

/// What to do in a clone without the workspace: with a remote, fetch it
/// (never make a second workspace beside the team's); without, make one.
fn no_workspace_message(branch: &str, remote: Option<&str>) -> String {
    match remote {
        Some(r) => format!(
            "no workspace on branch {branch:?} in this clone yet: run `git crew sync` to fetch it from {r:?} (`git crew init` only to start a new team without one)"
        ),
        None => format!("no workspace on branch {branch:?}: run `git crew init` to create one (or add the team's remote and `git crew sync`)"),
    }
}

/// The remote this clone syncs with: `git config crew.remote`, else `origin`
/// when it is configured; `None` means local only.
pub fn configured_remote<B: Backend>(store: &Store<B>) -> Option<String> {
    store.config_string("crew.remote").or_else(|| store.config_string("remote.origin.url").map(|_| "origin".to_owned()))
}

/// The tip of the workspace branch; an error naming what to run when the
/// branch does not exist yet.
pub fn tip<B: Backend>(store: &Store<B>) -> Result<Oid> {
    store.tip()?.ok_or_else(|| ReadError::no_workspace(store))
}

/// The workspace id of the branch at `tree`: the id of the genesis record that
/// opens `CREW.yaml`.
pub fn workspace_id<B: Backend>(store: &Store<B>, tree: Oid) -> Result<Id> {
    let bytes = store.read(tree, layout::MANIFEST)?.ok_or_else(|| ReadError::no_workspace(store))?;
    genesis_id(&bytes).map_err(|p| ReadError::File(FileError::new(layout::MANIFEST, p)))
}

/// The id of the genesis record opening a manifest file.
pub fn genesis_id(manifest: &[u8]) -> Result<Id, (usize, Problem)> {
    let frames = frame::split(manifest)?;
    match frames.first() {
        Some(f) if f.kind == GENESIS_KIND => Ok(f.id(manifest, &Id::ZERO)),
        _ => Err((0, Problem::BadField("CREW.yaml must start with a crew.genesis record".into()))),
    }
}

/// Verify and decode the records of `new` that are not in `old`; `None` if a
/// record of `old` is missing from `new` (history was rewritten).
pub(crate) fn new_records(path: &str, old: &[u8], new: &[u8], ws: &Id) -> Result<Option<Vec<Record>>> {
    let located = |p| ReadError::File(FileError::new(path, p));
    let old_ids: HashSet<Id> = frame::split(old).map_err(located)?.iter().map(|f| f.id(old, ws)).collect();
    let (records, seen_old) = record::decode_file_except(new, ws, &old_ids).map_err(located)?;
    if seen_old != old_ids.len() {
        return Ok(None);
    }
    check_paths(path, &records)?;
    Ok(Some(records))
}

fn check_paths(path: &str, records: &[Record]) -> Result<()> {
    for r in records {
        let expected = layout::path_of(r);
        if expected != path {
            return Err(ReadError::File(FileError {
                path: path.to_owned(),
                offset: 0,
                problem: Problem::WrongFile(expected),
            }));
        }
    }
    Ok(())
}

/// Decode, verify and fold every log file at commit `tip`.
pub fn build_from_tip<B: Backend>(store: &Store<B>, tip: Oid) -> Result<(State, Vec<Record>)> {
    let tree = store.commit(tip)?.tree;
    let ws = workspace_id(store, tree)?;
    let mut records = Vec::new();
    for file in store.files(tree)? {
        if !layout::classify(&file.path).is_some_and(|p| p.is_log()) {
            continue;
        }
        let bytes = store.blob(file.oid)?;
        let decoded = record::decode_file(&bytes, &ws).map_err(|p| ReadError::File(FileError::new(&file.path, p)))?;
        check_paths(&file.path, &decoded)?;
        records.extend(decoded);
    }
    let state = State::fold(ws, &records);
    Ok((state, records))
}
