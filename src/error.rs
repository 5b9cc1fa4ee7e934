//! The crate-level error: every module's error plus the workspace's own refusals.
//!
//! Variants say what went wrong; what a process exits with, and which command
//! to try next, is the CLI's to decide (its `exit` module maps each variant to
//! one documented exit code).

use crate::decode::ReadError;
use crate::hlc::Hlc;
use crate::id::{Id, PrefixError};
use crate::merge::MergeError;
use crate::record::{FileError, Problem};
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
    #[error(transparent)]
    WhoAmI(#[from] WhoAmIError),
    /// An actor named (acting, or acted on) is not admitted to the workspace.
    #[error("unknown actor {name:?}: not admitted to this workspace")]
    UnknownActor {
        /// The name.
        name: String,
    },
    /// A value given on the command line is not acceptable.
    #[error(transparent)]
    Argument(#[from] ArgumentError),
    /// A record this command would write does not meet the format (a field
    /// too long, a bad value).
    #[error("{0}")]
    Unwritable(Problem),
    /// The operating system gave no random bytes.
    #[error("no random source: {0}")]
    NoRandomSource(getrandom::Error),
    /// A `Crew-Task:` trailer of a commit message that names no single task.
    #[error("Crew-Task: {value}: {problem}")]
    TaskTrailer {
        /// The trailer's value.
        value: String,
        /// Why it names no single task.
        problem: PrefixError,
    },
    /// No remote was given and the clone has none named `origin`.
    #[error("no remote named origin: pass REMOTE (a remote name or URL), or add one with `git remote add origin URL`")]
    NoRemote,
    /// Input from git that does not follow its protocol (a hook's lines,
    /// `proc-receive`'s pkt-lines).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A pushed ref the server's `pre-receive` hook does not take.
    #[error(transparent)]
    Receive(#[from] ReceiveError),
    /// A heartbeat that does not count, or cannot be made.
    #[error(transparent)]
    Beat(#[from] BeatError),
    /// The fold refused a pushed record for good: it cannot even be read, so
    /// no retry can make it fit.
    #[error("{}{reason}", if record.is_empty() { String::new() } else { format!("{kind} {record} by {author}: ") })]
    Unfoldable {
        /// The record's id, empty when it could not be read at all.
        record: String,
        /// Its kind.
        kind: String,
        /// Its author.
        author: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// A message or a task handed off that cannot go where it was sent.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// An identity operation that does not apply.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A receipt that cannot be made or found.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    /// A path reservation that cannot be made.
    #[error(transparent)]
    Reservation(#[from] ReservationError),
    /// `repair` has nothing to do, or may not do it.
    #[error(transparent)]
    Repair(#[from] RepairError),
    /// `install` cannot do what it was asked.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// The acting actor is suspended or its key revoked.
    #[error(transparent)]
    Suspended(#[from] SuspendedError),
    /// A precondition failed or a race was lost.
    #[error(transparent)]
    Conflict(#[from] ConflictError),
    /// A remote refused an update (or answered in a way we cannot use).
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A remote could not be reached: git's fetch failed (`ran`), or could
    /// not be run or timed out.
    #[error("git fetch {remote}{}: {message}", if *.ran { " failed" } else { "" })]
    Unreachable {
        /// The remote.
        remote: String,
        /// Whether git ran (and failed).
        ran: bool,
        /// What git, or the attempt to run it, said.
        message: String,
    },
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

/// Who is acting cannot be told.
#[derive(Debug, thiserror::Error)]
pub enum WhoAmIError {
    /// No identity of the workspace has a key on this machine.
    #[error("no identity of this workspace has a key on this machine (looked in {}): pass --as NAME with CREW_HOME set to where its key is", .root.display())]
    NoLocalKey {
        /// Where keys were looked for.
        root: std::path::PathBuf,
    },
    /// Several do, and none was chosen.
    #[error("several local identities ({}): pass --as NAME or set CREW_AS", .names.join(", "))]
    Several {
        /// Their names.
        names: Vec<String>,
    },
}

/// The acting actor may not write.
#[derive(Debug, thiserror::Error)]
pub enum SuspendedError {
    /// It is suspended.
    #[error("{actor} is {state}; nothing written (an admin or the owner can `git crew resume {actor}`)")]
    Suspended {
        /// The actor.
        actor: String,
        /// Its suspension, as the fold states it.
        state: String,
    },
    /// Its key is revoked.
    #[error("the key of {actor} is {state}; nothing written (an admin can give it a new key: `git crew id rotate {actor} --request FILE`)")]
    Revoked {
        /// The actor.
        actor: String,
        /// The revocation, as the fold states it.
        state: String,
    },
}

/// A precondition that held when a command began no longer does, or a race
/// was lost: trying again (after a sync) may succeed.
#[derive(Debug, thiserror::Error)]
pub enum ConflictError {
    /// The branch moved while `repair` rebuilt it.
    #[error("the branch moved while repairing: run repair again")]
    RepairRaced,
    /// A record written here is not in the published state: a sync took it
    /// off the branch.
    #[error("{kind} {id} was not published: {reason}; it is no longer on this clone's branch")]
    NotPublished {
        /// Its kind.
        kind: String,
        /// Its short id.
        id: String,
        /// Why the published state does not admit it.
        reason: String,
    },
    /// `next --claim` lost every task it tried for longer than its patience.
    #[error("the claim was sent back {rounds} times in {secs} s (other agents won the tasks it wanted, or the server held it back); nothing was written: try `git crew next --claim` again on your loop's next turn")]
    ClaimSentBack {
        /// How many times.
        rounds: u32,
        /// Over how many seconds.
        secs: u64,
    },
    /// Another sync in this clone kept the publish lock too long.
    #[error("another sync in this clone held {} for over {secs} s; try again", .path.display())]
    LockBusy {
        /// The lock file.
        path: std::path::PathBuf,
        /// How long this one waited.
        secs: u64,
    },
    /// A push would delete the workspace branch.
    #[error("refusing to delete {branch}: the workspace branch is append-only")]
    BranchDeleted {
        /// The branch's ref.
        branch: String,
    },
    /// Another push landed since this one was prepared.
    #[error("stale push: {branch} moved since this push was prepared (fetch first, then push again)")]
    StalePush {
        /// The branch's ref.
        branch: String,
    },
    /// A push would rewrite the branch's history.
    #[error("refusing a non-fast-forward update of {branch}: history is append-only (fetch, merge with `git crew sync`, push again)")]
    NotFastForward {
        /// The branch's ref.
        branch: String,
    },
    /// A push by an actor whose suspension is landing waits for it.
    #[error("{0}")]
    Fenced(String),
    /// `msg leave` of a channel the actor is not a member of.
    #[error("{actor} is not a member of #{channel}; nothing written")]
    NotMember {
        /// The actor.
        actor: String,
        /// The channel.
        channel: String,
    },
    /// A push would delete a session's live ref.
    #[error("refusing to delete {refname}: a session ends with a signed `ended` beat, not a deletion")]
    SessionDeleted {
        /// The live ref.
        refname: String,
    },
    /// A beat is not later than the one it would replace.
    #[error("{refname}: beat dated {at} is not later than the beat it would replace ({previous}): live refs only move forward")]
    StaleBeat {
        /// The live ref.
        refname: String,
        /// The new beat's date.
        at: Hlc,
        /// The replaced beat's date.
        previous: Hlc,
    },
}

/// A remote did not take what was pushed, or answered in a way that cannot
/// be used.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// `git ls-remote` failed.
    #[error("git ls-remote {remote}: {message}")]
    LsRemote {
        /// The remote.
        remote: String,
        /// What git (or the attempt to run it) said.
        message: String,
    },
    /// git could not be run to push.
    #[error("cannot run git push: {0}")]
    NoGit(std::io::Error),
    /// The remote refused a push (the message says why, quoting the remote).
    #[error("{0}")]
    Refused(String),
    /// The remote refused this clone's heartbeats.
    #[error("the remote refused heartbeats: {0}")]
    HeartbeatsRefused(String),
    /// The remote's branch moved while `repair` replaced it.
    #[error("the remote's branch moved from {expected}: fetch and repair again")]
    Moved {
        /// Where repair expected it.
        expected: crate::store::Oid,
    },
    /// The remote does not fold pushes.
    #[error("the remote does not fold pushes")]
    Unfolded,
}

/// A value given by the user that is not acceptable (the reason comes from
/// the check that refused it).
#[derive(Debug, thiserror::Error)]
pub enum ArgumentError {
    /// Not a valid actor name.
    #[error("{0}")]
    Name(String),
    /// Not a valid session name.
    #[error("{0}")]
    Session(String),
    /// Not a valid channel.
    #[error("{0}")]
    Channel(String),
    /// Not a role.
    #[error("{0}")]
    Role(String),
    /// Not a receipt class.
    #[error("{0}")]
    ReceiptClass(String),
    /// A heartbeat's time to live out of range.
    #[error("ttl: {ttl} seconds is out of range 1..={max}")]
    Ttl {
        /// The ttl given, in seconds.
        ttl: u64,
        /// The largest allowed.
        max: u64,
    },
    /// Not a time.
    #[error("invalid time {0:?}: expected RFC 3339 (2026-12-01T10:00:00Z, fractions optional) or a day (2026-12-01)")]
    Time(String),
}

/// Input from git that does not follow its protocol.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A line of a `pre-receive` or `pre-push` hook's input that does not parse.
    #[error("malformed {hook} line {line:?}")]
    HookLine {
        /// The hook (`pre-receive`, `pre-push`).
        hook: &'static str,
        /// The line.
        line: String,
    },
    /// An object id in a hook's input that is not one.
    #[error("bad object id {0:?} in hook input")]
    ObjectId(String),
    /// `proc-receive`: git did not offer version 1 of the protocol.
    #[error("proc-receive: git offered no protocol version 1")]
    Version,
    /// `proc-receive`: a command line that does not parse.
    #[error("proc-receive: malformed command {0:?}")]
    Command(String),
    /// `proc-receive`: a command line with a bad object id.
    #[error("proc-receive: bad object id in {0:?}")]
    CommandObjectId(String),
    /// `proc-receive`: a pkt-line length that is not four hex digits.
    #[error("proc-receive: bad pkt-line length {0:?}")]
    PktLengthNotHex(String),
    /// `proc-receive`: a pkt-line length out of range.
    #[error("proc-receive: bad pkt-line length {0}")]
    PktLengthOutOfRange(usize),
    /// `proc-receive`: a pkt-line that is not UTF-8.
    #[error("proc-receive: a pkt-line is not UTF-8")]
    PktNotUtf8,
}

/// A pushed ref that the server's `pre-receive` hook does not take.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// Under `refs/crew/live/` but not `refs/crew/live/<actor>/<session>`.
    #[error("{0}: live refs are refs/crew/live/<actor>/<session>")]
    NotLiveRef(String),
    /// A push for the fold to a server that does not fold.
    #[error("{0}: this server does not fold pushes (run `git crew install --server` here to make it)")]
    NoFold(String),
    /// A ref only the server writes.
    #[error("{0}: refs under refs/crew/fold/ and refs/crew/tips/ are the server's own")]
    ServerRef(String),
}

/// A heartbeat on a live ref that does not count, or one that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum BeatError {
    /// The ref holds no record.
    #[error("{0}: empty")]
    Empty(String),
    /// The ref holds bytes that are not a signed record.
    #[error("{refname}: not a valid signed beat: {problem} at byte {offset}")]
    Undecodable {
        /// The live ref.
        refname: String,
        /// What is wrong.
        problem: Problem,
        /// Where.
        offset: usize,
    },
    /// The ref holds a record of another kind.
    #[error("{refname} holds a {kind} record, not a live.beat")]
    NotABeat {
        /// The live ref.
        refname: String,
        /// The record's kind.
        kind: String,
    },
    /// The beat is of another actor or session than its ref names.
    #[error(
        "{refname} holds a beat of {author} session {session}: a beat lives only on its own actor's and session's ref"
    )]
    WrongRef {
        /// The live ref.
        refname: String,
        /// The beat's author.
        author: String,
        /// The beat's session.
        session: String,
    },
    /// The beat's author is not admitted.
    #[error("{refname}: {author} is not an admitted actor")]
    UnknownAuthor {
        /// The live ref.
        refname: String,
        /// The beat's author.
        author: String,
    },
    /// The beat is not signed with its author's current key.
    #[error("{refname}: the beat is not signed with {author}'s current key")]
    NotCurrentKey {
        /// The live ref.
        refname: String,
        /// The beat's author.
        author: String,
    },
    /// The author's key is revoked.
    #[error("{refname}: the key of {author} is revoked")]
    Revoked {
        /// The live ref.
        refname: String,
        /// The beat's author.
        author: String,
    },
    /// The beat is dated too far ahead of the server's clock.
    #[error("{refname}: beat dated {at}, more than {max_skew_ms} ms ahead of the server's clock")]
    FromTheFuture {
        /// The live ref.
        refname: String,
        /// The beat's stamp.
        at: Hlc,
        /// How far ahead a stamp may be.
        max_skew_ms: i64,
    },
    /// A beat that would break the record format.
    #[error("cannot make a beat: {0}")]
    Unwritable(Problem),
}

/// A message, or a task handed off, that cannot go where it was sent.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// A message with no channel, recipient, task or message it answers.
    #[error("say where: --to NAME, --to '#channel', --task ID or --reply-to ID")]
    NoTarget,
    /// Reading messages without saying which channel.
    #[error("which channel? '#name', an actor, --task ID or --thread ID")]
    NoChannel,
    /// A direct message to someone not admitted.
    #[error("unknown recipient {0:?}: not an admitted actor; nothing sent")]
    UnknownRecipient(String),
    /// An @mention of someone not admitted.
    #[error("@{0} is not an admitted actor; nothing sent")]
    UnknownMention(String),
    /// A direct message to oneself.
    #[error("a direct message needs another actor")]
    ToSelf,
    /// A reply sent to another channel than the message it answers.
    #[error("the message answered is in {answered}, not {to}")]
    OtherChannel {
        /// The channel of the message answered.
        answered: String,
        /// The channel asked for.
        to: String,
    },
    /// A record named as a thread that is not a message.
    #[error("{0} is not a message")]
    NotAMessage(String),
    /// A task handed off to someone not admitted.
    #[error("cannot hand off to {0:?}: not an admitted actor (see `git crew id list`)")]
    HandoffToUnknown(String),
    /// A task handed off to someone suspended.
    #[error("cannot hand off to {0:?}: it is suspended")]
    HandoffToSuspended(String),
}

/// An identity operation that does not apply.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Admitting a name that is already admitted.
    #[error("actor {0:?} already exists (a request for a new key goes to `git crew id rotate {0} --request FILE`)")]
    AlreadyAdmitted(String),
    /// Rotating another actor's key without its request.
    #[error("{actor} cannot make a key for {name}: rotate with {name}'s request (`git crew id request {name}` on its machine, then `git crew id rotate {name} --request FILE`)")]
    KeyForOther {
        /// Who acts.
        actor: String,
        /// Whose key.
        name: String,
    },
    /// A request for another name than the one rotated.
    #[error("the request is for {request:?}, not {name:?}")]
    RequestForOther {
        /// The name the request is for.
        request: String,
        /// The name given.
        name: String,
    },
    /// Revoking a key already revoked.
    #[error("the key of {0} is already revoked")]
    AlreadyRevoked(String),
    /// `suspend --all` with every agent suspended already.
    #[error("nobody to suspend: every agent is suspended already")]
    NobodyToSuspend,
    /// The local key of an actor is not its current key on the branch.
    #[error("the local key of {actor:?} ({local}) is not its current key on the branch ({current}); it was rotated or revoked")]
    StaleKey {
        /// The actor.
        actor: String,
        /// The local key's fingerprint.
        local: String,
        /// The current key's fingerprint.
        current: String,
    },
}

/// A path reservation that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ReservationError {
    /// Paths without a work tree.
    #[error("this repository has no work tree: a reservation names paths of a work tree")]
    NoWorkTree,
    /// A commit touches paths another actor holds.
    #[error("the commit touches reserved paths: {}", .0.join("; "))]
    Reserved(Vec<String>),
    /// git could not list the paths a commit touches.
    #[error("cannot list the paths this commit touches (git diff --cached): {0}")]
    Staged(String),
    /// git could not read the code commits a seal or a guard needs.
    #[error("{0}")]
    Git(String),
    /// A push brings code commits touching paths reserved by someone else
    /// than their sealer.
    #[error("the push touches reserved paths: {}", .0.join("; "))]
    Guarded(Vec<String>),
}

/// A receipt that cannot be made or found.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// A code revision that names no commit here.
    #[error("unknown revision {0:?}: not a commit of this repository")]
    UnknownRevision(String),
    /// Artifacts without a work tree.
    #[error("this repository has no work tree: artifacts are files of a work tree")]
    NoWorkTree,
    /// `crew.maxArtifactBytes` is not a number of bytes.
    #[error("crew.maxArtifactBytes = {0:?}: expected a number of bytes")]
    MaxArtifactBytes(String),
    /// The board lists a receipt its task's file does not hold.
    #[error("receipt {0} not in its file")]
    NotInFile(Id),
}

/// `repair` has nothing to do, or may not do it.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// The remote has no workspace branch.
    #[error("{remote} has no {branch} branch: nothing to repair")]
    NoBranch {
        /// The remote.
        remote: String,
        /// The workspace branch.
        branch: String,
    },
    /// The acting actor is not an admin.
    #[error("{0} is not an admin: only an admin repairs a remote")]
    NotAdmin(String),
    /// The remote holds nothing this clone lacks.
    #[error("{0} has nothing this clone does not: nothing to repair (git crew sync publishes)")]
    NothingNew(String),
    /// The remote verifies on top of this clone.
    #[error("{0} verifies: nothing to repair (git crew sync takes it)")]
    Verifies(String),
}

/// `install` cannot do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// No such hook.
    #[error("unknown hook {0:?}")]
    UnknownHook(String),
    /// No CI job for this forge.
    #[error("unknown forge {0:?}: github or gitlab")]
    UnknownForge(String),
    /// A different file is where the CI job goes.
    #[error("{} exists and differs: remove it first, or merge it by hand", .0.display())]
    Differs(std::path::PathBuf),
    /// The CI job goes into a work tree, and there is none.
    #[error("this repository has no work tree to write the CI job into")]
    NoWorkTree,
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
    pub fn no_workspace<B: crate::store::Backend>(store: &crate::store::Store<B>) -> Error {
        Error::Read(ReadError::no_workspace(store))
    }
}
