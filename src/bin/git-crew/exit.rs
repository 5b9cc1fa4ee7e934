//! Exit codes: the one table of what `git-crew` exits with (help, the guide,
//! JSON errors and the README show it), and the one mapping from an error to
//! its code and to the next command to try. Commands that answer with a code
//! (`verify` 4, `alive` 5, `status --audit` 6) take it from here too.

use git_crew::decode::ReadError;
use git_crew::error::{ConflictError, Error};
use git_crew::id::PrefixError;
use git_crew::request::RequestError;
use git_crew::state::Refusal;
use git_crew::store::StoreError;
use git_crew::verify::VerifyError;

use crate::commands::UsageError;

/// Exit code: success.
pub const OK: i32 = 0;
/// Exit code: an error.
pub const ERROR: i32 = 1;
/// Exit code: bad usage.
pub const USAGE: i32 = 2;
/// Exit code: a conflict (claim held, race lost, precondition failed).
pub const CONFLICT: i32 = 3;
/// Exit code: verification failed.
pub const VERIFY: i32 = 4;
/// Exit code: the acting actor is suspended (or its key revoked).
pub const SUSPENDED: i32 = 5;
/// Exit code: `status --audit` flagged something.
pub const FLAGGED: i32 = 6;

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
pub const TABLE: &[ExitCode] = &[
    ExitCode { code: OK, name: "ok", meaning: "success" },
    ExitCode {
        code: ERROR,
        name: "error",
        meaning: "an error: bad input, a missing key, git or I/O failed, a remote unreachable",
    },
    ExitCode {
        code: USAGE,
        name: "usage",
        meaning: "bad usage: an unknown command or option, a missing or malformed argument",
    },
    ExitCode {
        code: CONFLICT,
        name: "conflict",
        meaning:
            "refused: the task is held, done, cancelled, blocked, not ready or (to reopen) open, a channel left is not joined, the last admin would step down, or a race was lost (sync, look again)",
    },
    ExitCode {
        code: VERIFY,
        name: "verify",
        meaning: "verification failed: the branch or a remote holds something forged, edited, deleted or malformed",
    },
    ExitCode {
        code: SUSPENDED,
        name: "suspended",
        meaning: "the acting actor is suspended or its key revoked: stop working",
    },
    ExitCode {
        code: FLAGGED,
        name: "flagged",
        meaning: "`status --audit` flagged a deaf agent, a duplicate listener, or a dead or suspended holder",
    },
];

/// The entry of [`TABLE`] for `code` (the generic error for an unknown one).
pub fn info(code: i32) -> ExitCode {
    TABLE.iter().copied().find(|e| e.code == code).unwrap_or(TABLE[1])
}

/// The exit code for a command's error.
pub fn code(err: &anyhow::Error) -> i32 {
    if err.is::<UsageError>() {
        return USAGE;
    }
    match err.downcast_ref::<Error>() {
        Some(e) => code_of(e),
        None => ERROR,
    }
}

/// The exit code for a library error. Every variant is named, so a new one
/// must be given its code here.
pub fn code_of(e: &Error) -> i32 {
    match e {
        Error::Verify(VerifyError::Failed { .. }) => VERIFY,
        Error::Verify(VerifyError::Read(r)) | Error::Read(r) => code_of_read(r),
        // A tree or commit on the branch that git-crew refuses to read.
        Error::Store(StoreError::Malformed(_)) => VERIFY,
        Error::Store(_) => ERROR,
        Error::Request(RequestError::BadProof(_)) => VERIFY,
        Error::Request(_) => ERROR,
        Error::Suspended(_) => SUSPENDED,
        Error::Refused(r) if r.is_suspension() => SUSPENDED,
        Error::Refused(r) if r.is_conflict() && !matches!(r, Refusal::DependencyCycle(_)) => CONFLICT,
        Error::Refused(_) => ERROR,
        Error::Conflict(_) | Error::NothingReady(_) => CONFLICT,
        Error::Reservation(
            git_crew::error::ReservationError::Reserved(_) | git_crew::error::ReservationError::Guarded(_),
        ) => CONFLICT,
        Error::Input(_)
        | Error::Key(_)
        | Error::Prefix(_)
        | Error::Merge(_)
        | Error::RemoteHasWorkspace { .. }
        | Error::AlreadyInitialized { .. }
        | Error::WhoAmI(_)
        | Error::UnknownActor { .. }
        | Error::Argument(_)
        | Error::Unwritable(_)
        | Error::NoRandomSource(_)
        | Error::TaskTrailer { .. }
        | Error::NoRemote
        | Error::Protocol(_)
        | Error::Receive(_)
        | Error::Beat(_)
        | Error::Unfoldable { .. }
        | Error::Address(_)
        | Error::Identity(_)
        | Error::Receipt(_)
        | Error::Reservation(_)
        | Error::Repair(_)
        | Error::Install(_)
        | Error::Remote(_)
        | Error::Unreachable { .. }
        | Error::NothingToWrite
        | Error::Contention(_)
        | Error::Io { .. } => ERROR,
    }
}

/// The exit code for an error reading the branch: what is malformed on it
/// fails verification.
fn code_of_read(e: &ReadError) -> i32 {
    match e {
        ReadError::File(_) | ReadError::Store(StoreError::Malformed(_)) => VERIFY,
        _ => ERROR,
    }
}

/// The next command to try after `err`, when there is an obvious one.
pub fn hint(err: &anyhow::Error) -> Option<&'static str> {
    if err.is::<UsageError>() {
        return Some("git crew help");
    }
    err.downcast_ref::<Error>().and_then(hint_for)
}

/// [`hint`] for a library error. Every variant is named, so a new one must
/// be given its hint (or none) here.
pub fn hint_for(e: &Error) -> Option<&'static str> {
    Some(match e {
        Error::Read(r) | Error::Verify(VerifyError::Read(r)) => return hint_for_read(r),
        Error::RemoteHasWorkspace { .. } => "git crew sync",
        Error::Verify(VerifyError::Failed { .. }) | Error::Store(StoreError::Malformed(_)) => "git crew verify --all",
        Error::Suspended(_) => "git crew alive",
        Error::Refused(r) if r.is_suspension() => "git crew alive",
        Error::Refused(
            Refusal::TaskHeld { .. } | Refusal::TaskDone(_) | Refusal::TaskCancelled(_) | Refusal::NotReady { .. },
        ) => "git crew next",
        Error::Refused(Refusal::PathsReserved { .. } | Refusal::ReservationNotHeld { .. }) => "git crew board",
        // Who is admin, and who answers for whom.
        Error::Refused(Refusal::LastAdmin(_) | Refusal::OwnsAgents { .. }) => "git crew id list",
        Error::Refused(Refusal::NotClosed(_)) => "git crew board",
        // A cycle the edit itself would close: the board shows what waits on what.
        Error::Refused(Refusal::DependencyCycle(_)) => "git crew board",
        Error::Refused(r) if r.is_conflict() => "git crew sync",
        Error::Conflict(ConflictError::NotMember { .. }) => "git crew msg channels",
        Error::Conflict(_) | Error::Contention(_) => "git crew sync",
        Error::NothingReady(_) => "git crew board",
        Error::WhoAmI(_) | Error::UnknownActor { .. } => "git crew id list",
        Error::Key(_) => "git crew id list",
        Error::Prefix(p) => return hint_for_prefix(p),
        Error::Remote(_) | Error::Unreachable { .. } => "git remote -v",
        Error::Store(_)
        | Error::Refused(_)
        | Error::Request(_)
        | Error::Input(_)
        | Error::Merge(_)
        | Error::AlreadyInitialized { .. }
        | Error::Argument(_)
        | Error::Unwritable(_)
        | Error::NoRandomSource(_)
        | Error::TaskTrailer { .. }
        | Error::NoRemote
        | Error::Protocol(_)
        | Error::Receive(_)
        | Error::Beat(_)
        | Error::Unfoldable { .. }
        | Error::Address(_)
        | Error::Identity(_)
        | Error::Receipt(_)
        | Error::Reservation(_)
        | Error::Repair(_)
        | Error::Install(_)
        | Error::NothingToWrite
        | Error::Io { .. } => return None,
    })
}

/// [`hint_for`] an id prefix that named no single thing: where to look up
/// what it was meant to name.
fn hint_for_prefix(e: &PrefixError) -> Option<&'static str> {
    match e.what() {
        "task" => Some("git crew task list"),
        _ => None,
    }
}

/// [`hint_for`] an error reading the branch.
fn hint_for_read(e: &ReadError) -> Option<&'static str> {
    Some(match e {
        ReadError::NoWorkspace { remote: None, .. } => "git crew init",
        ReadError::NoWorkspace { .. } => "git crew sync",
        // Not malformed: this git-crew is too old, and its message says to
        // upgrade; verifying would only say the same again.
        ReadError::File(f) if f.needs_format().is_some() => return None,
        ReadError::File(_) | ReadError::Store(StoreError::Malformed(_)) => "git crew verify --all",
        _ => return None,
    })
}
