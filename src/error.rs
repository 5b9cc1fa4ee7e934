//! The crate-level error: every module's error plus the workspace's own refusals.
//!
//! Each variant maps to one documented exit code ([`Error::exit_code`]); the
//! CLI uses that mapping and nothing else.

use crate::id::PrefixError;
use crate::merge::MergeError;
use crate::record::FileError;
use crate::sign::KeyError;
use crate::state::Refusal;
use crate::store::StoreError;
use crate::verify::VerifyError;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: an error.
pub const EXIT_ERROR: i32 = 1;
/// Exit code: bad usage.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: a conflict (claim held, race lost, precondition failed).
pub const EXIT_CONFLICT: i32 = 3;
/// Exit code: verification failed.
pub const EXIT_VERIFY: i32 = 4;
/// Exit code: the acting actor is suspended (or its key revoked).
pub const EXIT_SUSPENDED: i32 = 5;
/// Exit code: `status --audit` flagged something.
pub const EXIT_FLAGGED: i32 = 6;

/// One exit code: its number, its name in JSON errors, what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitCode {
    /// The process exit status.
    pub code: i32,
    /// A stable name (`"conflict"`).
    pub name: &'static str,
    /// What an agent should understand by it.
    pub meaning: &'static str,
}

/// Every exit code git-crew uses, the one table the CLI's help and the README
/// show.
pub const EXIT_CODES: &[ExitCode] = &[
    ExitCode { code: EXIT_OK, name: "ok", meaning: "success" },
    ExitCode {
        code: EXIT_ERROR,
        name: "error",
        meaning: "an error: bad input, a missing key, git or I/O failed, a remote unreachable",
    },
    ExitCode {
        code: EXIT_USAGE,
        name: "usage",
        meaning: "bad usage: an unknown command or option, a missing or malformed argument",
    },
    ExitCode {
        code: EXIT_CONFLICT,
        name: "conflict",
        meaning:
            "refused by the board: the task is held, done, blocked or not ready, or a race was lost (sync, look again)",
    },
    ExitCode {
        code: EXIT_VERIFY,
        name: "verify",
        meaning: "verification failed: the branch or a remote holds something forged, edited, deleted or malformed",
    },
    ExitCode {
        code: EXIT_SUSPENDED,
        name: "suspended",
        meaning: "the acting actor is suspended or its key revoked: stop working",
    },
    ExitCode {
        code: EXIT_FLAGGED,
        name: "flagged",
        meaning: "`status --audit` flagged a deaf agent, a duplicate listener, or a dead or suspended holder",
    },
];

/// The entry of [`EXIT_CODES`] for `code` (the generic error for an unknown one).
pub fn exit_code_info(code: i32) -> ExitCode {
    EXIT_CODES.iter().copied().find(|e| e.code == code).unwrap_or(EXIT_CODES[1])
}

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
    /// A log file on the branch is malformed. (Not a `#[source]`: the message
    /// already includes it, and error chains would print it twice.)
    #[error("the branch holds a malformed record: {0}; run `git crew verify`")]
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

    /// The next command to try, when there is an obvious one.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Error::NoWorkspace { remote: None, .. } => "git crew init",
            Error::NoWorkspace { .. } | Error::RemoteHasWorkspace { .. } => "git crew sync",
            Error::Verify(_) | Error::File(_) | Error::Store(StoreError::Malformed(_)) => "git crew verify --all",
            Error::Suspended(_) => "git crew alive",
            Error::Refused(r) if r.is_suspension() => "git crew alive",
            Error::Refused(Refusal::TaskHeld { .. } | Refusal::TaskDone(_) | Refusal::NotReady { .. }) => {
                "git crew next"
            }
            Error::Refused(r) if r.is_conflict() => "git crew sync",
            Error::Conflict(_) | Error::Contention(_) => "git crew sync",
            Error::NothingReady(_) => "git crew board",
            Error::WhoAmI(_) => "git crew id list",
            Error::Key(_) => "git crew id list",
            Error::Prefix(_) => "git crew task list",
            Error::Remote(_) | Error::Unreachable(_) => "git remote -v",
            _ => return None,
        })
    }

    /// The process exit code for this error (see the README's table).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Verify(_) | Error::File(_) => EXIT_VERIFY,
            // A tree or commit on the branch that git-crew refuses to read.
            Error::Store(StoreError::Malformed(_)) => EXIT_VERIFY,
            Error::Request(crate::identity::RequestError::BadProof(_)) => EXIT_VERIFY,
            Error::Suspended(_) => EXIT_SUSPENDED,
            Error::Refused(r) if r.is_suspension() => EXIT_SUSPENDED,
            Error::Refused(r) if r.is_conflict() && !matches!(r, Refusal::DependencyCycle(_)) => EXIT_CONFLICT,
            Error::Conflict(_) | Error::NothingReady(_) => EXIT_CONFLICT,
            _ => EXIT_ERROR,
        }
    }
}
