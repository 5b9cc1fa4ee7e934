//! The crate-level error: every module's error plus the workspace's own refusals.
//!
//! Variants say what went wrong; what a process exits with, and which command
//! to try next, is the CLI's to decide (its `exit` module maps each variant to
//! one documented exit code).

use crate::decode::ReadError;
use crate::id::PrefixError;
use crate::merge::MergeError;
use crate::record::FileError;
use crate::sign::KeyError;
use crate::state::Refusal;
use crate::store::StoreError;
use crate::verify::VerifyError;

/// Everything that can go wrong in a workspace operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Git access failed or the repository is unusable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An identity request cannot be used.
    #[error(transparent)]
    Request(#[from] crate::request::RequestError),
    /// A file a command was given cannot be read.
    #[error(transparent)]
    Input(#[from] crate::artifact::FileError),
    /// A local key is missing or unreadable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// An id prefix did not name exactly one thing.
    #[error(transparent)]
    Prefix(#[from] PrefixError),
    /// The branch could not be read: no workspace, a malformed record.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A log file could not be merged.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// Verification found a problem.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The fold refused a record this command would write.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// `init` in a clone whose remote already holds a workspace.
    #[error("the remote {remote:?} already holds a workspace on branch {branch:?}: run `git crew sync` to fetch it, then `git crew id request NAME` to join it; nothing changed")]
    RemoteHasWorkspace {
        /// The remote.
        remote: String,
        /// The branch.
        branch: String,
    },
    /// The branch already holds a workspace.
    #[error("branch {branch:?} already holds a workspace; nothing changed")]
    AlreadyInitialized {
        /// The branch.
        branch: String,
    },
    /// No actor given and none can be inferred.
    #[error("{0}")]
    WhoAmI(String),
    /// Input that is not acceptable, named.
    #[error("{0}")]
    Invalid(String),
    /// The acting actor is suspended.
    #[error("{0}")]
    Suspended(String),
    /// A conflict: precondition failed or race lost.
    #[error("{0}")]
    Conflict(String),
    /// A remote refused an update (or answered in a way we cannot use).
    #[error("{0}")]
    Remote(String),
    /// A remote could not be reached (a failed or timed-out fetch).
    #[error("{0}")]
    Unreachable(String),
    /// `next` found no ready task (with this label).
    #[error("{}", match .0 { Some(l) => format!("no ready task with label {l:?}"), None => "no ready task".to_owned() })]
    NothingReady(Option<String>),
    /// A write had no records to write (it changes nothing).
    #[error("nothing to write")]
    NothingToWrite,
    /// Writing kept losing the race for the branch.
    #[error("gave up after {0} attempts: the branch kept moving under concurrent writers; try again")]
    Contention(usize),
    /// Filesystem error outside git. (The cause is the error's source, which
    /// error chains print after the message.)
    #[error("{what}")]
    Io {
        /// What we were doing.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<FileError> for Error {
    fn from(e: FileError) -> Error {
        Error::Read(ReadError::File(e))
    }
}

/// Result alias for the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// [`ReadError::NoWorkspace`] for `store`'s branch, naming the remote its
    /// clone syncs with, if any.
    pub fn no_workspace(store: &crate::store::Store) -> Error {
        Error::Read(ReadError::no_workspace(store))
    }
}
