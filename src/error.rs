//! The crate-level error: every module's error plus the workspace's own refusals.
//!
//! Variants say what went wrong; what a process exits with, and which command
//! to try next, is the CLI's to decide (its `exit` module maps each variant to
//! one documented exit code).

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
    Request(#[from] crate::identity::RequestError),
    /// A file a command was given cannot be read.
    #[error(transparent)]
    Read(#[from] crate::artifact::FileError),
    /// A local key is missing or unreadable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// An id prefix did not name exactly one thing.
    #[error(transparent)]
    Prefix(#[from] PrefixError),
    /// A log file on the branch is malformed, or holds a record of a newer
    /// format. (Not a `#[source]`: the message already includes it, and error
    /// chains would print it twice.)
    #[error("{}", match .0.needs_format() {
        Some(_) => format!("the branch holds a record this git-crew cannot read: {}", .0),
        None => format!("the branch holds a malformed record: {}; run `git crew verify`", .0),
    })]
    File(FileError),
    /// A log file could not be merged.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// Verification found a problem.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The fold refused a record this command would write.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The branch has no workspace yet (in this clone).
    #[error("{}", no_workspace_message(branch, remote.as_deref()))]
    NoWorkspace {
        /// The branch.
        branch: String,
        /// The remote this clone would sync with, if it has one.
        remote: Option<String>,
    },
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
        Error::File(e)
    }
}

/// Result alias for the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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

impl Error {
    /// [`Error::NoWorkspace`] for `store`'s branch, naming the remote its
    /// clone syncs with, if any.
    pub fn no_workspace(store: &crate::store::Store) -> Error {
        Error::NoWorkspace { branch: store.branch().to_owned(), remote: crate::sync::configured_remote(store) }
    }
}
