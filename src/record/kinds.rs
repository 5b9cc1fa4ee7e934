//! The record kinds and their own fields.
//!
//! Each kind is a struct whose field order is its canonical key order. Optional
//! fields are omitted when absent or empty, so absence has one spelling. Adding a
//! kind means adding a struct, a line to the `kinds!` table, a layout rule and a
//! schema file, and a new format version: a kind, a field or a value of an
//! enumerated field that a format does not have is refused by name in a record
//! of that format ([`Problem::UnknownKind`], [`Problem::UnknownField`],
//! [`Problem::UnknownValue`]), so older readers never fold a record without the
//! part they do not know (`schema/SIGNING.md`, section 17).

use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};

use crate::hlc::Hlc;
use crate::id::Id;
use crate::sign::{PublicKey, Signature};

use super::{validate_name, Problem};

/// What an actor may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Admits and controls actors; also a human.
    Admin,
    /// A person.
    Human,
    /// An AI agent, answered for by its owner.
    Agent,
}

impl Role {
    /// The role's name as written in records.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Human => "human",
            Role::Agent => "agent",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "human" => Ok(Role::Human),
            "agent" => Ok(Role::Agent),
            _ => Err(format!("unknown role {s:?}: expected admin, human or agent")),
        }
    }
}

/// `crew.genesis`: creates the workspace; its author is the first admin.
/// It is the first record of `CREW.yaml` and its id is the workspace id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// A human-readable workspace name.
    pub workspace: String,
    /// Random hex, so two workspaces created alike still differ.
    pub nonce: String,
    /// The first admin's public key.
    pub key: PublicKey,
}

/// `crew.repair`: an admin replaced the remote's branch, which a push past
/// no server hook had broken, by the last good tip plus every record since
/// that still counts. It lives in `CREW.yaml`, after the genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrewRepair {
    /// The commit the remote's branch was at, which does not verify: full
    /// hex id (40 or 64 digits).
    pub replaces: String,
    /// The last good commit the repair builds on.
    pub base: String,
    /// How many records of the replaced history were left out.
    pub dropped: u64,
    /// Why, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `actor.admit`: an admin admits an actor with a role and a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorAdmit {
    /// The new actor's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Its public key.
    pub key: PublicKey,
    /// For agents: the human who answers for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Proof that the key's holder asked for this name here: its signature of
    /// `sign::key_message(workspace, name, key)`. Written by every admission
    /// since identity requests exist; checked by the fold when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Signature>,
}

/// `actor.rotate`: replace an actor's key. By the actor itself (signed with
/// the old key) or by an admin (from the actor's request). The old key counts
/// only for records before this one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorRotate {
    /// The actor.
    pub name: String,
    /// Its new key.
    pub key: PublicKey,
    /// The new key's proof of possession, as in `actor.admit`.
    pub proof: Signature,
}

/// `actor.revoke`: the actor's key stops counting (a lost or leaked key). By an
/// admin or the actor itself; an admin's `actor.rotate` gives it a new key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorRevoke {
    /// The actor.
    pub name: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `live.beat`: a heartbeat of one session of an actor. Never on the branch:
/// it is the whole content of the blob `refs/crew/live/<author>/<session>`
/// points to, overwritten by the next beat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveBeat {
    /// The session: 1 to 64 of a-z, 0-9 and `-`.
    pub session: String,
    /// The machine it runs on.
    pub host: String,
    /// The process that beats.
    pub pid: u32,
    /// When the session started.
    #[serde(with = "crate::hlc::as_text")]
    pub started: Hlc,
    /// Seconds after `at` the session counts as alive without another beat.
    pub ttl: u64,
    /// Whether the session reads the actor's messages (`inbox --follow`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub listening: bool,
    /// The session ended cleanly: it is not alive, whatever `ttl` says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ended: bool,
}

/// Longest heartbeat time-to-live, in seconds (a day).
pub const MAX_TTL_SECS: u64 = 24 * 3600;

/// Whether `s` is a session name: 1 to 64 of a-z, 0-9 and `-`.
pub fn validate_session(s: &str) -> Result<(), String> {
    let ok =
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!("invalid session {s:?}: use 1 to 64 of a-z, 0-9 and -"))
    }
}

/// `actor.suspend`: the kill switch. An admin, or the agent's owner, stops an
/// actor: nothing it writes counts until it is resumed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorSuspend {
    /// The actor stopped.
    pub name: String,
    /// Why, for the actor and the people reading the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The actor's last counted record the suspender had seen. What the
    /// suspension includes: the actor's records dated before the suspension
    /// that sort after this one were not seen, and do not count.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::id::as_hex_opt")]
    pub seen: Option<Id>,
    /// That record's stamp (with `seen`, the pair is its place in fold order).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::hlc::as_text_opt")]
    pub seen_at: Option<Hlc>,
}

/// `actor.update`: an admin changes an actor's role or owner (at least one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorUpdate {
    /// The actor changed.
    pub name: String,
    /// Its new role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Its new owner: the human or admin who answers for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// `actor.resume`: lift a suspension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorResume {
    /// The actor resumed.
    pub name: String,
}

/// `task.create`: a new task; the record's id is the task id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCreate {
    /// One-line title.
    pub title: String,
    /// Longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// 0 (most urgent) to 4.
    pub priority: u8,
    /// The epic this task belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::id::as_hex_opt")]
    pub parent: Option<Id>,
    /// Tasks that must be done before this one is ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "crate::id::as_hex_list")]
    pub depends_on: Vec<Id>,
}

/// `task.edit`: change a task's fields; the later edit wins, field by field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskEdit {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// New title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// New labels (replacing the old ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// New priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// New parent epic.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::id::as_hex_opt")]
    pub parent: Option<Id>,
    /// Dependencies to add.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "crate::id::as_hex_list")]
    pub depends_on: Vec<Id>,
    /// Dependencies to drop.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "crate::id::as_hex_list")]
    pub drop_depends_on: Vec<Id>,
}

/// `task.claim`: take (or renew) a task for `lease` seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskClaim {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// Seconds the claim lasts unless renewed.
    pub lease: u64,
    /// Written without publishing first (`--offline`): an online claim that did
    /// not see it displaces it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
}

/// `task.release`: give a claim up (the holder), or force it free (an admin).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRelease {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `task.handoff`: the holder passes its claim to another actor; or an admin,
/// or the owner of the receiving agent, assigns a task nobody holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskHandoff {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// The new holder.
    pub to: String,
    /// A note for the new holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Seconds the new holder's lease lasts unless renewed. Absent: the lease
    /// length of the task's last holder, else [`DEFAULT_ASSIGN_LEASE_SECS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<u64>,
}

/// The lease of a task assigned (handed off from nobody) without a `lease`,
/// when it never had a holder: an hour.
pub const DEFAULT_ASSIGN_LEASE_SECS: u64 = 3600;

/// `task.cancel`: close a task as won't do, with the reason. By an admin, a
/// human, or the task's creator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCancel {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// Why it will not be done.
    pub reason: String,
}

/// `task.reopen`: open a done or cancelled task again. By an admin, a human,
/// or the actor who closed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskReopen {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `task.comment`: discussion on a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskComment {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// The comment.
    pub text: String,
}

/// `task.block`: mark a task blocked, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskBlock {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// Why it cannot go on.
    pub reason: String,
}

/// `task.unblock`: clear a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskUnblock {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
}

/// `task.done`: the holder closes a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDone {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// A receipt on the task that shows the work.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::id::as_hex_opt")]
    pub receipt: Option<Id>,
    /// What was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// `msg.send`: a message in a channel, a direct conversation or a task's discussion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsgSend {
    /// Where: a channel name, `dm/<a>+<b>` (a direct conversation, names sorted)
    /// or `task/<task id>` (a task's discussion).
    pub channel: String,
    /// The message.
    pub text: String,
    /// The first message of the thread this one belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::id::as_hex_opt")]
    pub thread: Option<Id>,
    /// The message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::id::as_hex_opt")]
    pub reply_to: Option<Id>,
    /// Actors named with `@name` in the text, sorted, each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
}

/// `msg.join` / `msg.leave`: follow a channel in my inbox, or stop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsgMembership {
    /// The channel (a plain channel name).
    pub channel: String,
}

/// `msg.ack`: mark exactly these inbox items read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsgAck {
    /// The records read: 1 to [`MAX_ACK_ITEMS`] full ids, sorted, each once.
    #[serde(with = "crate::id::as_hex_list")]
    pub items: Vec<Id>,
}

/// Most items one `msg.ack` marks read (more take several records).
pub const MAX_ACK_ITEMS: usize = 900;

/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 8000;

/// Where a message lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    /// A named channel: `general`.
    Named(String),
    /// A direct conversation between two actors, names sorted.
    Direct(String, String),
    /// A task's discussion.
    Task(Id),
}

impl Channel {
    /// Parse and check a channel as written in records.
    pub fn parse(s: &str) -> Result<Channel, String> {
        if let Some(pair) = s.strip_prefix("dm/") {
            let (a, b) = pair.split_once('+').ok_or_else(|| format!("channel {s:?}: expected dm/<a>+<b>"))?;
            validate_name(a)?;
            validate_name(b)?;
            if a >= b {
                return Err(format!("channel {s:?}: the two names must differ and be sorted (dm/{b}+{a}?)"));
            }
            return Ok(Channel::Direct(a.to_owned(), b.to_owned()));
        }
        if let Some(hex) = s.strip_prefix("task/") {
            return hex
                .parse()
                .map(Channel::Task)
                .map_err(|_| format!("channel {s:?}: expected task/<64 hex task id>"));
        }
        validate_name(s).map_err(|_| {
            format!("invalid channel name {s:?}: use 1 to 32 of a-z, 0-9, - and _, starting with a letter")
        })?;
        Ok(Channel::Named(s.to_owned()))
    }

    /// The direct conversation between `a` and `b`.
    pub fn direct(a: &str, b: &str) -> Channel {
        let (x, y) = if a < b { (a, b) } else { (b, a) };
        Channel::Direct(x.to_owned(), y.to_owned())
    }

    /// Whether `actor` takes part in this direct conversation.
    pub fn has_party(&self, actor: &str) -> bool {
        matches!(self, Channel::Direct(a, b) if a == actor || b == actor)
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Channel::Named(n) => f.write_str(n),
            Channel::Direct(a, b) => write!(f, "dm/{a}+{b}"),
            Channel::Task(t) => write!(f, "task/{}", t.hex()),
        }
    }
}

/// Longest lease, in seconds (a week).
pub const MAX_LEASE_SECS: u64 = 7 * 24 * 3600;
/// The shortest lease: ten seconds, five times the clock skew a server allows
/// ([`crate::hlc::MAX_SKEW_MS`]), so a writer whose clock runs ahead cannot
/// take much of anyone's lease.
pub const MIN_LEASE_SECS: u64 = 10;
/// Longest comment, note or reason, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// What a receipt attests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptClass {
    /// Code commits (written by the `post-commit` hook for `Crew-Task:` trailers).
    Commit,
    /// Test results.
    Test,
    /// Build output.
    Build,
    /// A review.
    Review,
    /// Anything else.
    Note,
}

impl ReceiptClass {
    /// The class as written in records.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReceiptClass::Commit => "commit",
            ReceiptClass::Test => "test",
            ReceiptClass::Build => "build",
            ReceiptClass::Review => "review",
            ReceiptClass::Note => "note",
        }
    }
}

impl std::str::FromStr for ReceiptClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "commit" => Ok(ReceiptClass::Commit),
            "test" => Ok(ReceiptClass::Test),
            "build" => Ok(ReceiptClass::Build),
            "review" => Ok(ReceiptClass::Review),
            "note" => Ok(ReceiptClass::Note),
            _ => Err(format!("unknown receipt class {s:?}: expected commit, test, build, review or note")),
        }
    }
}

/// A file a receipt vouches for, by content hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// The path relative to the top of the work tree, normalised
    /// ([`check_path`]).
    pub path: String,
    /// sha256 of the content, 64 lowercase hex digits.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// `receipt`: evidence attached to a task: code commits, artifacts, a summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The task it belongs to.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// What it attests.
    pub class: ReceiptClass,
    /// What happened, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Full ids of code commits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<String>,
    /// Files, by content hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
}

/// `crew.policy`: the fleet policy the supervisor enforces (admin only). The
/// latest policy that counts replaces the one before it, whole. A limit left
/// out is not enforced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrewPolicy {
    /// Seconds an agent may hold a task without a record on it (renewing the
    /// claim aside) before it counts as stalled: nudged, then, after as long
    /// again, its task handed back to the ready queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled_after: Option<u64>,
    /// Seconds an agent may hold a task without a live session before the
    /// task is requeued, even while its lease runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_after: Option<u64>,
    /// Records per minute above which an agent is a runaway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runaway_per_minute: Option<u64>,
    /// Every agent's budget per task: wall-clock seconds from its claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_seconds: Option<u64>,
    /// Every agent's budget per task: tokens it reports (`task.usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// Every agent's budget per task: cost it reports, a decimal ([`parse_cost`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    /// Budgets of named agents, each replacing the defaults above for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<Budget>,
    /// What each supervisor may do beyond what any actor may.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
    /// The channel told of requeued tasks (`general` when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// One agent's budget per task, in a [`CrewPolicy`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// The agent.
    pub actor: String,
    /// Wall-clock seconds from its claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_seconds: Option<u64>,
    /// Tokens it reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// Cost it reports, a decimal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
}

/// The powers a policy grants a supervisor, in a [`CrewPolicy`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The supervisor.
    pub actor: String,
    /// What it may do, sorted, each once.
    pub powers: Vec<Power>,
}

/// A power a policy grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Power {
    /// Release a task another agent holds (hand it back to the ready queue).
    Release,
    /// Suspend an agent (not a human or an admin).
    Suspend,
}

impl Power {
    /// The name records use.
    pub fn as_str(self) -> &'static str {
        match self {
            Power::Release => "release",
            Power::Suspend => "suspend",
        }
    }
}

/// `task.usage`: what working on a task cost its author, reported by the
/// author. Reports add up per task and author; budgets are checked on them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskUsage {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// Model tokens used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// Money spent, a decimal ([`parse_cost`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    /// Seconds of work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
}

/// What a supervisor saw (`supervise.step`'s `flag`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepFlag {
    /// An agent holds work and no session of it listens for messages.
    Deaf,
    /// Several sessions listen as one actor.
    DuplicateListener,
    /// A holder without a live session for the policy's time.
    DeadHolder,
    /// A live holder without a record on its task for the policy's time.
    Stalled,
    /// An agent writing faster than the policy allows.
    Runaway,
    /// An agent over its budget on the task it holds.
    OverBudget,
}

impl StepFlag {
    /// The name records use.
    pub fn as_str(self) -> &'static str {
        match self {
            StepFlag::Deaf => "deaf",
            StepFlag::DuplicateListener => "duplicate-listener",
            StepFlag::DeadHolder => "dead-holder",
            StepFlag::Stalled => "stalled",
            StepFlag::Runaway => "runaway",
            StepFlag::OverBudget => "over-budget",
        }
    }
}

/// What a supervisor did about a flag (`supervise.step`'s `step`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// Told the actor and its owner (direct messages).
    Notify,
    /// Asked the holder to show progress or release the task.
    Nudge,
    /// Released the task back to the ready queue (needs the `release` power).
    Requeue,
    /// Suspended the actor (needs the `suspend` power).
    Suspend,
}

impl StepKind {
    /// The name records use.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Notify => "notify",
            StepKind::Nudge => "nudge",
            StepKind::Requeue => "requeue",
            StepKind::Suspend => "suspend",
        }
    }
}

/// `supervise.step`: one step of a supervisor's escalation, written with the
/// records that take it (messages, a release, a suspension), naming the flag
/// that caused it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuperviseStep {
    /// What the supervisor saw.
    pub flag: StepFlag,
    /// What it did.
    pub step: StepKind,
    /// The actor flagged.
    pub actor: String,
    /// The task, for a flag about a held task.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::id::as_hex_opt")]
    pub task: Option<Id>,
    /// Why, for people: the figures behind the flag.
    pub why: String,
}

/// `path.reserve`: claim paths of the code repository for a while, like a
/// task: no other actor's reservation may overlap a live one. The record's id
/// is the reservation's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathReserve {
    /// Paths relative to the top of the work tree, each with everything
    /// under it, normalised ([`check_path`]), sorted, each once.
    pub paths: Vec<String>,
    /// Seconds the reservation lasts unless renewed (ignored while it
    /// follows a task: it lasts as long as the task's claim).
    pub lease: u64,
    /// The task it is for: it follows the task's holder (a handoff passes it
    /// on) and ends when the task is released or done.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::id::as_hex_opt")]
    pub task: Option<Id>,
}

/// `path.release`: end a reservation (its holder; an admin, or a supervisor
/// granted `release`, may force it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRelease {
    /// The reservation: the id of its `path.reserve`.
    #[serde(with = "crate::id::as_hex")]
    pub reservation: Id,
}

/// Most paths one reservation names.
pub const MAX_RESERVED_PATHS: usize = 64;

/// Whether two reserved paths overlap: one is the other, or one is a
/// directory above the other.
pub fn paths_overlap(a: &str, b: &str) -> bool {
    let under = |x: &str, y: &str| x.len() > y.len() && x.starts_with(y) && x.as_bytes()[y.len()] == b'/';
    a == b || under(a, b) || under(b, a)
}

/// The label of the task supervisors elect one of them by (`crate::supervise`):
/// a task with it is never ready, so `next` and the board's ready list leave
/// it out.
pub const ELECTION_LABEL: &str = "crew:supervisor";

/// Money as millionths: a decimal of 1 to 12 digits, then optionally `.` and
/// 1 to 6 digits (`12`, `0.35`). `None` if `s` is not one.
pub fn parse_cost(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |d: &str, max: usize| !d.is_empty() && d.len() <= max && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole, 12) || (s.contains('.') && !digits(frac, 6)) || (whole.len() > 1 && whole.starts_with('0')) {
        return None;
    }
    let micros: u64 = format!("{frac:0<6}").parse().ok()?;
    whole.parse::<u64>().ok()?.checked_mul(1_000_000)?.checked_add(micros)
}

/// Whether records of `kind` sort after every record of the commit they are
/// written on (see `schema/SIGNING.md`, section 8): identity and control
/// records, task edits (which may link tasks), and joining or leaving a
/// channel. What they decide reaches past their own file (who may write,
/// which links close a cycle, whom a message reaches), so they never go behind
/// anything already published.
pub fn sorts_after_everything(kind: &str) -> bool {
    kind.starts_with("actor.")
        || kind.starts_with("path.")
        || matches!(kind, "task.edit" | "msg.join" | "msg.leave" | "crew.repair" | "crew.policy")
}

/// Longest receipt summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 2000;

/// Highest (least urgent) task priority.
pub const MAX_PRIORITY: u8 = 4;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

macro_rules! kinds {
    ($( $kind:literal => $variant:ident($ty:ty) ),* $(,)?) => {
        /// A record's kind and its own fields.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Payload {
            $( #[doc = concat!("`", $kind, "`")] $variant($ty), )*
        }

        /// Every record kind this version reads and writes.
        pub const KINDS: &[&str] = &[$($kind),*];

        impl Payload {
    /// The ids of other records this payload refers to by id (not tasks: a
    /// task's id is its creation's, which is never re-made).
    pub fn record_refs(&self) -> Vec<Id> {
        match self {
            Payload::TaskDone(d) => d.receipt.into_iter().collect(),
            Payload::MsgSend(m) => m.thread.into_iter().chain(m.reply_to).collect(),
            Payload::MsgAck(a) => a.items.clone(),
            _ => Vec::new(),
        }
    }

    /// Replace references to records by the records that replace them.
    pub fn rename_refs(&mut self, renamed: &std::collections::HashMap<Id, Id>) {
        let swap = |id: &mut Id| {
            if let Some(new) = renamed.get(id) {
                *id = *new;
            }
        };
        match self {
            Payload::TaskDone(d) => d.receipt.iter_mut().for_each(swap),
            Payload::MsgSend(m) => m.thread.iter_mut().chain(m.reply_to.iter_mut()).for_each(swap),
            Payload::MsgAck(a) => {
                a.items.iter_mut().for_each(swap);
                a.items.sort();
                a.items.dedup();
            }
            _ => {}
        }
    }
}

impl Payload {
            /// The dotted kind name.
            pub fn kind(&self) -> &'static str {
                match self { $( Payload::$variant(_) => $kind, )* }
            }

            /// The kind's fields as a mapping in canonical key order.
            pub(crate) fn to_fields(&self) -> Mapping {
                let value = match self {
                    $( Payload::$variant(p) => serde_norway::to_value(p), )*
                };
                match value {
                    Ok(Value::Mapping(m)) => m,
                    _ => unreachable!("record kinds serialize to mappings"),
                }
            }

            /// Decode the fields of `kind`. A kind, a field or a value of an
            /// enumerated field that this format does not have is named as such
            /// ([`Problem::UnknownKind`], [`Problem::UnknownField`],
            /// [`Problem::UnknownValue`]), never skipped.
            pub(crate) fn from_fields(kind: &str, fields: Mapping) -> Result<Payload, Problem> {
                let bad = |e: serde_norway::Error| Problem::BadField(e.to_string());
                match kind {
                    $( $kind => {
                        check_known($kind, &fields)?;
                        serde_norway::from_value(Value::Mapping(fields)).map(Payload::$variant).map_err(bad)
                    } )*
                    other => Err(Problem::UnknownKind(other.to_owned())),
                }
            }
        }

        /// The fields a record of `kind` may hold, in canonical order (the
        /// header keys `v`, `kind`, `author` and `at` not included); `None` for
        /// a kind this format does not have.
        pub fn fields_of(kind: &str) -> Option<&'static [&'static str]> {
            match kind {
                $( $kind => Some(struct_fields::<$ty>()), )*
                _ => None,
            }
        }
    };
}

/// The fields of a struct as its `Deserialize` implementation names them (the
/// list serde's derive passes to `deserialize_struct`), so the check of
/// unknown fields can never drift from the structs themselves.
fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    shape::<T>().0
}

/// The values of a unit-only enum as its `Deserialize` implementation names
/// them (after `rename_all`).
fn enum_values<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    shape::<T>().1
}

/// What a derived `Deserialize` asks of its deserializer: struct fields, or
/// enum variants. The probe answers every request with an error, after
/// noting the list.
fn shape<'de, T: Deserialize<'de>>() -> (&'static [&'static str], &'static [&'static str]) {
    use serde::de::{self, Visitor};

    #[derive(Default)]
    struct Seen {
        fields: &'static [&'static str],
        variants: &'static [&'static str],
    }
    struct Probe<'a>(&'a mut Seen);
    fn stop<E: de::Error>() -> E {
        E::custom("probe")
    }
    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(stop())
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.fields = fields;
            Err(stop())
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.variants = variants;
            Err(stop())
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
        }
    }
    let mut seen = Seen::default();
    let _ = T::deserialize(Probe(&mut seen));
    (seen.fields, seen.variants)
}

/// A list of names (fields, values), read from a type when asked.
type Names = fn() -> &'static [&'static str];

/// Fields whose value is one of a fixed list: a value outside it is a value
/// this format does not have.
fn enumerated(kind: &str) -> &'static [(&'static str, Names)] {
    match kind {
        "actor.admit" | "actor.update" => &[("role", enum_values::<Role>)],
        "receipt" => &[("class", enum_values::<ReceiptClass>)],
        "supervise.step" => &[("flag", enum_values::<StepFlag>), ("step", enum_values::<StepKind>)],
        _ => &[],
    }
}

/// Fields that hold a sequence of mappings, and the fields of those mappings.
fn nested(kind: &str) -> &'static [(&'static str, Names)] {
    match kind {
        "receipt" => &[("artifacts", struct_fields::<Artifact>)],
        "crew.policy" => &[("budgets", struct_fields::<Budget>), ("grants", struct_fields::<Grant>)],
        _ => &[],
    }
}

/// Refuse, by name, a field or an enumerated value that `kind` does not have
/// in this format. Values of the wrong type are left to the decoder.
fn check_known(kind: &'static str, fields: &Mapping) -> Result<(), Problem> {
    let known = fields_of(kind).unwrap_or(&[]);
    for key in fields.keys() {
        let Some(key) = key.as_str() else { continue };
        if !known.contains(&key) {
            return Err(Problem::UnknownField { kind, field: key.to_owned() });
        }
    }
    for (field, values) in enumerated(kind) {
        if let Some(value) = fields.get(*field).and_then(Value::as_str) {
            if !values().contains(&value) {
                return Err(Problem::UnknownValue { kind, field, value: value.to_owned() });
            }
        }
    }
    for (field, inner) in nested(kind) {
        let Some(items) = fields.get(*field).and_then(Value::as_sequence) else { continue };
        for (n, item) in items.iter().enumerate() {
            let Some(item) = item.as_mapping() else { continue };
            for key in item.keys().filter_map(Value::as_str) {
                if !inner().contains(&key) {
                    return Err(Problem::UnknownField { kind, field: format!("{field}[{n}].{key}") });
                }
            }
        }
    }
    Ok(())
}

kinds! {
    "crew.genesis" => Genesis(Genesis),
    "crew.repair" => CrewRepair(CrewRepair),
    "actor.admit" => ActorAdmit(ActorAdmit),
    "actor.suspend" => ActorSuspend(ActorSuspend),
    "actor.resume" => ActorResume(ActorResume),
    "actor.rotate" => ActorRotate(ActorRotate),
    "actor.revoke" => ActorRevoke(ActorRevoke),
    "actor.update" => ActorUpdate(ActorUpdate),
    "live.beat" => LiveBeat(LiveBeat),
    "task.create" => TaskCreate(TaskCreate),
    "task.edit" => TaskEdit(TaskEdit),
    "task.claim" => TaskClaim(TaskClaim),
    "task.release" => TaskRelease(TaskRelease),
    "task.handoff" => TaskHandoff(TaskHandoff),
    "task.comment" => TaskComment(TaskComment),
    "task.block" => TaskBlock(TaskBlock),
    "task.unblock" => TaskUnblock(TaskUnblock),
    "task.done" => TaskDone(TaskDone),
    "task.cancel" => TaskCancel(TaskCancel),
    "task.reopen" => TaskReopen(TaskReopen),
    "receipt" => Receipt(Receipt),
    "msg.send" => MsgSend(MsgSend),
    "msg.join" => MsgJoin(MsgMembership),
    "msg.leave" => MsgLeave(MsgMembership),
    "msg.ack" => MsgAck(MsgAck),
    "crew.policy" => CrewPolicy(CrewPolicy),
    "task.usage" => TaskUsage(TaskUsage),
    "supervise.step" => SuperviseStep(SuperviseStep),
    "path.reserve" => PathReserve(PathReserve),
    "path.release" => PathRelease(PathRelease),
}

impl Payload {
    /// Check the values a schema cannot express: names, ranges, lengths.
    pub fn validate(&self) -> Result<(), Problem> {
        let field = |msg: String| Err(Problem::BadField(msg));
        match self {
            Payload::Genesis(g) => {
                if g.workspace.trim().is_empty() || g.workspace.chars().count() > 100 {
                    return field("workspace: must be 1 to 100 characters".into());
                }
                if g.nonce.len() != 32 || !g.nonce.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return field("nonce: must be 32 lowercase hex digits".into());
                }
            }
            Payload::CrewRepair(c) => {
                for (name, id) in [("replaces", &c.replaces), ("base", &c.base)] {
                    if !(id.len() == 40 || id.len() == 64) || !is_hex(id) {
                        return field(format!(
                            "{name}: {id:?} is not a full commit id (40 or 64 lowercase hex digits)"
                        ));
                    }
                }
                validate_text("reason", c.reason.as_deref())?;
            }
            Payload::ActorAdmit(a) => {
                validate_name(&a.name).map_err(Problem::BadField)?;
                if let Some(owner) = &a.owner {
                    validate_name(owner).map_err(Problem::BadField)?;
                }
                if a.role == Role::Agent && a.owner.is_none() {
                    return field(format!("owner: agent {:?} must name the human who answers for it", a.name));
                }
            }
            Payload::ActorSuspend(a) => {
                validate_name(&a.name).map_err(Problem::BadField)?;
                validate_text("reason", a.reason.as_deref())?;
                if a.seen.is_some() != a.seen_at.is_some() {
                    return field("seen, seen_at: both or neither".into());
                }
            }
            Payload::ActorResume(a) => validate_name(&a.name).map_err(Problem::BadField)?,
            Payload::ActorRotate(a) => validate_name(&a.name).map_err(Problem::BadField)?,
            Payload::ActorRevoke(a) => {
                validate_name(&a.name).map_err(Problem::BadField)?;
                validate_text("reason", a.reason.as_deref())?;
            }
            Payload::ActorUpdate(a) => {
                validate_name(&a.name).map_err(Problem::BadField)?;
                if let Some(owner) = &a.owner {
                    validate_name(owner).map_err(|e| Problem::BadField(format!("owner: {e}")))?;
                }
                if a.role.is_none() && a.owner.is_none() {
                    return field("actor.update: changes nothing (give a role, an owner or both)".into());
                }
            }
            Payload::LiveBeat(b) => {
                validate_session(&b.session).map_err(Problem::BadField)?;
                if b.host.is_empty() || b.host.chars().count() > 255 || b.host.chars().any(char::is_control) {
                    return field("host: must be 1 to 255 characters without control characters".into());
                }
                if b.ttl == 0 || b.ttl > MAX_TTL_SECS {
                    return field(format!("ttl: {} seconds is out of range 1..={MAX_TTL_SECS}", b.ttl));
                }
            }
            Payload::TaskCreate(t) => {
                validate_task_fields(&t.title, t.priority, &t.labels)?;
                if t.body.as_deref() == Some("") {
                    return field("body: an empty body is omitted, not written".into());
                }
                validate_links(t.parent.as_ref(), &t.depends_on, &[])?;
            }
            Payload::TaskEdit(e) => validate_edit(e)?,
            Payload::TaskClaim(c) => {
                if !(MIN_LEASE_SECS..=MAX_LEASE_SECS).contains(&c.lease) {
                    return field(format!(
                        "lease: {} seconds is out of range {MIN_LEASE_SECS}..={MAX_LEASE_SECS}",
                        c.lease
                    ));
                }
            }
            Payload::TaskRelease(r) => validate_text("reason", r.reason.as_deref())?,
            Payload::TaskHandoff(h) => {
                validate_name(&h.to).map_err(|e| Problem::BadField(format!("to: {e}")))?;
                validate_text("note", h.note.as_deref())?;
                if let Some(lease) = h.lease.filter(|l| !(MIN_LEASE_SECS..=MAX_LEASE_SECS).contains(l)) {
                    return field(format!(
                        "lease: {lease} seconds is out of range {MIN_LEASE_SECS}..={MAX_LEASE_SECS}"
                    ));
                }
            }
            Payload::TaskCancel(c) => validate_text("reason", Some(&c.reason))?,
            Payload::TaskReopen(r) => validate_text("reason", r.reason.as_deref())?,
            Payload::TaskComment(c) => validate_text("text", Some(&c.text))?,
            Payload::TaskBlock(b) => validate_text("reason", Some(&b.reason))?,
            Payload::TaskUnblock(_) => {}
            Payload::TaskDone(d) => validate_text("summary", d.summary.as_deref())?,
            Payload::Receipt(r) => validate_receipt(r)?,
            Payload::MsgSend(m) => validate_message(m)?,
            Payload::MsgJoin(m) | Payload::MsgLeave(m) => {
                match Channel::parse(&m.channel).map_err(Problem::BadField)? {
                    Channel::Named(_) => {}
                    _ => return field(format!("channel: {:?} is not a channel one joins or leaves", m.channel)),
                }
            }
            Payload::CrewPolicy(p) => validate_policy(p)?,
            Payload::TaskUsage(u) => {
                if u.tokens.is_none() && u.cost.is_none() && u.seconds.is_none() {
                    return field("tokens, cost, seconds: a usage report names at least one".into());
                }
                validate_cost("cost", u.cost.as_deref())?;
            }
            Payload::SuperviseStep(s) => {
                validate_name(&s.actor).map_err(|e| Problem::BadField(format!("actor: {e}")))?;
                validate_text("why", Some(&s.why))?;
                let about_task = matches!(s.flag, StepFlag::DeadHolder | StepFlag::Stalled | StepFlag::OverBudget);
                if about_task != s.task.is_some() {
                    return field(format!(
                        "task: a {} step {} a task",
                        s.flag.as_str(),
                        if about_task { "names" } else { "names no" }
                    ));
                }
            }
            Payload::PathReserve(p) => {
                if p.paths.is_empty() || p.paths.len() > MAX_RESERVED_PATHS {
                    return field(format!("paths: a reservation names 1 to {MAX_RESERVED_PATHS} paths"));
                }
                for path in &p.paths {
                    check_path(path).map_err(|why| Problem::BadField(format!("paths: {path:?} {why}")))?;
                }
                if p.paths.windows(2).any(|w| w[0] >= w[1]) {
                    return field("paths: must be sorted, each once".into());
                }
                if !(MIN_LEASE_SECS..=MAX_LEASE_SECS).contains(&p.lease) {
                    return field(format!(
                        "lease: {} seconds is out of range {MIN_LEASE_SECS}..={MAX_LEASE_SECS}",
                        p.lease
                    ));
                }
            }
            Payload::PathRelease(_) => {}
            Payload::MsgAck(a) => {
                if a.items.is_empty() || a.items.len() > MAX_ACK_ITEMS {
                    return field(format!("items: an ack marks 1 to {MAX_ACK_ITEMS} items read"));
                }
                if a.items.windows(2).any(|w| w[0] >= w[1]) {
                    return field("items: ids must be sorted, each once".into());
                }
            }
        }
        Ok(())
    }

    /// The task a record is about, if it is about one (`task.create` names itself).
    pub fn task(&self, own_id: &Id) -> Option<Id> {
        match self {
            Payload::TaskCreate(_) => Some(*own_id),
            Payload::TaskEdit(p) => Some(p.task),
            Payload::TaskClaim(p) => Some(p.task),
            Payload::TaskRelease(p) => Some(p.task),
            Payload::TaskHandoff(p) => Some(p.task),
            Payload::TaskComment(p) => Some(p.task),
            Payload::TaskBlock(p) => Some(p.task),
            Payload::TaskUnblock(p) => Some(p.task),
            Payload::TaskDone(p) => Some(p.task),
            Payload::TaskCancel(p) => Some(p.task),
            Payload::TaskReopen(p) => Some(p.task),
            Payload::Receipt(r) => Some(r.task),
            Payload::TaskUsage(u) => Some(u.task),
            Payload::SuperviseStep(s) => s.task,
            Payload::CrewPolicy(_) | Payload::PathReserve(_) | Payload::PathRelease(_) => None,
            Payload::Genesis(_)
            | Payload::CrewRepair(_)
            | Payload::ActorAdmit(_)
            | Payload::ActorSuspend(_)
            | Payload::ActorResume(_)
            | Payload::ActorRotate(_)
            | Payload::ActorRevoke(_)
            | Payload::ActorUpdate(_)
            | Payload::LiveBeat(_) => None,
            Payload::MsgSend(_) | Payload::MsgJoin(_) | Payload::MsgLeave(_) | Payload::MsgAck(_) => None,
        }
    }

    /// The reservation a record is about (`path.reserve` names itself).
    pub fn reservation(&self, own_id: &Id) -> Option<Id> {
        match self {
            Payload::PathReserve(_) => Some(*own_id),
            Payload::PathRelease(p) => Some(p.reservation),
            _ => None,
        }
    }

    /// The actor an identity record is about (its file is that actor's).
    pub fn actor(&self) -> Option<&str> {
        match self {
            Payload::ActorAdmit(a) => Some(&a.name),
            Payload::ActorSuspend(a) => Some(&a.name),
            Payload::ActorResume(a) => Some(&a.name),
            Payload::ActorRotate(a) => Some(&a.name),
            Payload::ActorRevoke(a) => Some(&a.name),
            Payload::ActorUpdate(a) => Some(&a.name),
            // A step about a task lives in the task's file, beside what it did.
            Payload::SuperviseStep(s) if s.task.is_none() => Some(&s.actor),
            _ => None,
        }
    }

    /// The channel a message record is in.
    pub fn channel(&self) -> Option<Channel> {
        match self {
            Payload::MsgSend(m) => Channel::parse(&m.channel).ok(),
            Payload::MsgJoin(m) | Payload::MsgLeave(m) => Channel::parse(&m.channel).ok(),
            _ => None,
        }
    }

    /// Other tasks this record names (parent, dependencies): the fold needs them
    /// to check it.
    pub fn linked_tasks(&self) -> Vec<Id> {
        match self {
            Payload::TaskCreate(t) => t.parent.iter().chain(&t.depends_on).copied().collect(),
            Payload::TaskEdit(e) => e.parent.iter().chain(&e.depends_on).copied().collect(),
            Payload::PathReserve(p) => p.task.into_iter().collect(),
            Payload::MsgSend(_) => match self.channel() {
                Some(Channel::Task(t)) => vec![t],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

/// A cost field: a decimal [`parse_cost`] reads, when present.
fn validate_cost(name: &str, cost: Option<&str>) -> Result<(), Problem> {
    match cost {
        Some(c) if parse_cost(c).is_none() => Err(Problem::BadField(format!(
            "{name}: {c:?} is not a decimal of 1 to 12 digits with at most 6 after the point (like \"0.35\")"
        ))),
        _ => Ok(()),
    }
}

/// Names, a known channel, sorted unique powers, one budget and grant per actor.
fn validate_policy(p: &CrewPolicy) -> Result<(), Problem> {
    let field = |msg: String| Err(Problem::BadField(msg));
    validate_cost("cost", p.cost.as_deref())?;
    let budgets = p.budgets.iter().map(|b| ("budgets: task_seconds", b.task_seconds));
    for (name, secs) in [("task_seconds", p.task_seconds)].into_iter().chain(budgets) {
        if secs == Some(0) {
            return field(format!("{name}: a budget of 0 seconds would stop every agent at once"));
        }
    }
    for (name, secs) in [("stalled_after", p.stalled_after), ("dead_after", p.dead_after)] {
        if secs == Some(0) {
            return field(format!("{name}: 0 seconds would flag every holder; leave it out to turn it off"));
        }
    }
    if p.runaway_per_minute == Some(0) {
        return field("runaway_per_minute: 0 would flag every agent; leave it out to turn it off".into());
    }
    for b in &p.budgets {
        validate_name(&b.actor).map_err(|e| Problem::BadField(format!("budgets: {e}")))?;
        validate_cost("budgets: cost", b.cost.as_deref())?;
    }
    for g in &p.grants {
        validate_name(&g.actor).map_err(|e| Problem::BadField(format!("grants: {e}")))?;
        if g.powers.is_empty() || g.powers.windows(2).any(|w| w[0] >= w[1]) {
            return field(format!("grants: the powers of {:?} must be sorted, each once, at least one", g.actor));
        }
    }
    let unique = |names: Vec<&String>| names.len() == names.iter().collect::<std::collections::BTreeSet<_>>().len();
    if !unique(p.budgets.iter().map(|b| &b.actor).collect()) || !unique(p.grants.iter().map(|g| &g.actor).collect()) {
        return field("budgets, grants: one entry per actor".into());
    }
    if let Some(c) = &p.channel {
        match Channel::parse(c).map_err(Problem::BadField)? {
            Channel::Named(_) => {}
            _ => return field(format!("channel: {c:?} is not a named channel")),
        }
    }
    Ok(())
}

/// Check free text (comments, notes, reasons, summaries): 1 to
/// [`MAX_TEXT_CHARS`] characters, not all white space.
fn validate_text(name: &str, text: Option<&str>) -> Result<(), Problem> {
    match text {
        Some(t) if t.trim().is_empty() || t.chars().count() > MAX_TEXT_CHARS => {
            Err(Problem::BadField(format!("{name}: must be 1 to {MAX_TEXT_CHARS} characters, not all white space")))
        }
        _ => Ok(()),
    }
}

/// A task's links: no dependency twice, none both added and dropped.
fn validate_links(parent: Option<&Id>, depends: &[Id], dropped: &[Id]) -> Result<(), Problem> {
    let mut seen = std::collections::HashSet::new();
    for d in depends.iter().chain(dropped) {
        if !seen.insert(d) {
            return Err(Problem::BadField(format!("depends_on: task {} is named twice", d.short())));
        }
    }
    if let Some(p) = parent {
        if depends.contains(p) {
            return Err(Problem::BadField(format!("parent: task {} cannot also be a dependency", p.short())));
        }
    }
    Ok(())
}

fn validate_message(m: &MsgSend) -> Result<(), Problem> {
    Channel::parse(&m.channel).map_err(Problem::BadField)?;
    if m.text.trim().is_empty() || m.text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Problem::BadField(format!(
            "text: a message is 1 to {MAX_MESSAGE_CHARS} characters, not all white space"
        )));
    }
    for name in &m.mentions {
        validate_name(name).map_err(|e| Problem::BadField(format!("mentions: {e}")))?;
    }
    if m.mentions.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Problem::BadField("mentions: names must be sorted, each once".into()));
    }
    Ok(())
}

fn validate_edit(e: &TaskEdit) -> Result<(), Problem> {
    let nothing = e.title.is_none()
        && e.body.is_none()
        && e.labels.is_empty()
        && e.priority.is_none()
        && e.parent.is_none()
        && e.depends_on.is_empty()
        && e.drop_depends_on.is_empty();
    if nothing {
        return Err(Problem::BadField("task.edit: changes nothing".into()));
    }
    let title = e.title.as_deref().unwrap_or("x");
    validate_task_fields(title, e.priority.unwrap_or(0), &e.labels)?;
    if e.body.as_deref() == Some("") {
        return Err(Problem::BadField("body: an empty body is omitted, not written".into()));
    }
    for id in e.parent.iter().chain(&e.depends_on) {
        if *id == e.task {
            return Err(Problem::BadField(format!("task {} cannot depend on or belong to itself", id.short())));
        }
    }
    validate_links(e.parent.as_ref(), &e.depends_on, &e.drop_depends_on)
}

/// Whether `c` would start a new line or is a control character: titles are
/// one line wherever they are shown.
fn is_line_break(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Check a title, a priority and labels.
pub fn validate_task_fields(title: &str, priority: u8, labels: &[String]) -> Result<(), Problem> {
    if title.trim().is_empty() || title.chars().count() > MAX_TITLE_CHARS || title.chars().any(is_line_break) {
        return Err(Problem::BadField(format!(
            "title: must be one line of 1 to {MAX_TITLE_CHARS} characters (no line breaks or control characters)"
        )));
    }
    if priority > MAX_PRIORITY {
        return Err(Problem::BadField(format!("priority: {priority} is out of range 0..={MAX_PRIORITY}")));
    }
    for label in labels {
        let bad = label.is_empty()
            || label.chars().count() > 50
            || label.chars().any(|c| c.is_whitespace() || c.is_control());
        if bad {
            return Err(Problem::BadField(format!(
                "labels: {label:?} must be 1 to 50 characters without white space or control characters"
            )));
        }
    }
    Ok(())
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn validate_receipt(r: &Receipt) -> Result<(), Problem> {
    let field = |msg: String| Err(Problem::BadField(msg));
    if r.summary.is_none() && r.commits.is_empty() && r.artifacts.is_empty() {
        return field("receipt: needs a summary, a commit or an artifact".into());
    }
    if let Some(s) = &r.summary {
        if s.trim().is_empty() || s.chars().count() > MAX_SUMMARY_CHARS {
            return field(format!("summary: must be 1 to {MAX_SUMMARY_CHARS} characters"));
        }
    }
    for c in &r.commits {
        if !(c.len() == 40 || c.len() == 64) || !is_hex(c) {
            return field(format!("commits: {c:?} is not a full commit id (40 or 64 lowercase hex digits)"));
        }
    }
    for a in &r.artifacts {
        if let Err(why) = check_path(&a.path) {
            return field(format!("artifacts: path {:?} {why}", a.path));
        }
        if a.sha256.len() != 64 || !is_hex(&a.sha256) {
            return field(format!("artifacts: sha256 of {:?} must be 64 lowercase hex digits", a.path));
        }
    }
    Ok(())
}

/// Whether `path` is an artifact path as the branch stores it: relative to the
/// top of the work tree and normalised. `Err` says what is wrong.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.chars().count() > 1024 {
        return Err("must be 1 to 1024 characters".into());
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Err("holds a control character or a backslash".into());
    }
    if path.starts_with('/') {
        return Err("is absolute: artifact paths are relative to the top of the work tree".into());
    }
    if path.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err("is not normalised: no empty, `.` or `..` component, no trailing `/`".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `schema/<kind>.json`, parsed.
    fn schema(kind: &str) -> serde_json::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema").join(format!("{kind}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The property names of a schema object (a set: the JSON parser does
    /// not keep their order).
    fn names(props: &serde_json::Value) -> BTreeSet<String> {
        props.as_object().expect("properties is an object").keys().cloned().collect()
    }

    fn set(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The lists the unknown-field and unknown-value checks use are read from
    /// the structs' `Deserialize` implementations: they must be exactly the
    /// schema's (an empty list would refuse every field, a stale one would let
    /// a field through to a generic error).
    #[test]
    fn known_fields_and_values_are_those_of_the_schemas() {
        for kind in KINDS {
            let mut props = names(&schema(kind)["properties"]);
            for header in ["v", "kind", "author", "at"] {
                assert!(props.remove(header), "schema/{kind}.json lacks {header}");
            }
            let fields = fields_of(kind).expect("a known kind");
            assert_eq!(fields.len(), props.len(), "fields of {kind}: {fields:?}");
            assert_eq!(set(fields), props, "fields of {kind}");
        }
        let receipt = schema("receipt");
        assert_eq!(set(struct_fields::<Artifact>()), names(&receipt["properties"]["artifacts"]["items"]["properties"]));
        let values = |kind: &str, field: &str| -> BTreeSet<String> {
            let list = schema(kind)["properties"][field]["enum"].as_array().cloned().unwrap_or_default();
            list.iter().map(|v| v.as_str().expect("a string value").to_owned()).collect()
        };
        for kind in KINDS {
            let props = schema(kind)["properties"].as_object().cloned().unwrap_or_default();
            let with_values: BTreeSet<&str> =
                props.iter().filter(|(_, p)| p.get("enum").is_some()).map(|(name, _)| name.as_str()).collect();
            let table: BTreeSet<&str> = enumerated(kind).iter().map(|(field, _)| *field).collect();
            assert_eq!(table, with_values, "the enumerated fields of {kind}");
            for (field, known) in enumerated(kind) {
                assert_eq!(set(known()), values(kind, field), "values of {kind} {field}");
            }
        }
        assert_eq!(fields_of("task.assign"), None);
    }

    fn fields(yaml: &str) -> Mapping {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn unknown_kinds_fields_and_values_are_named() {
        let task = "a".repeat(64);
        let claim = fields(&format!("task: \"{task}\"\nlease: 60\nexclusive: true\n"));
        assert_eq!(
            Payload::from_fields("task.claim", claim),
            Err(Problem::UnknownField { kind: "task.claim", field: "exclusive".into() })
        );
        let receipt = fields(&format!("task: \"{task}\"\nclass: \"usage\"\nsummary: \"s\"\n"));
        assert_eq!(
            Payload::from_fields("receipt", receipt),
            Err(Problem::UnknownValue { kind: "receipt", field: "class", value: "usage".into() })
        );
        let artifact = format!(
            "task: \"{task}\"\nclass: \"test\"\nartifacts:\n  - path: \"a\"\n    sha256: \"{task}\"\n    size: 1\n  - path: \"b\"\n    sha256: \"{task}\"\n    size: 1\n    mirror: \"m\"\n"
        );
        assert_eq!(
            Payload::from_fields("receipt", fields(&artifact)),
            Err(Problem::UnknownField { kind: "receipt", field: "artifacts[1].mirror".into() })
        );
        let admit = fields(&format!("name: \"dave\"\nrole: \"observer\"\nkey: \"{task}\"\n"));
        assert_eq!(
            Payload::from_fields("actor.admit", admit),
            Err(Problem::UnknownValue { kind: "actor.admit", field: "role", value: "observer".into() })
        );
        assert_eq!(Payload::from_fields("policy.set", Mapping::new()), Err(Problem::UnknownKind("policy.set".into())));
        // A known value of the wrong type is not an unknown value: the decoder
        // names the type.
        let typed = fields(&format!("task: \"{task}\"\nclass: 3\nsummary: \"s\"\n"));
        assert!(matches!(Payload::from_fields("receipt", typed), Err(Problem::BadField(_))));
        // And a record with only known fields and values still decodes.
        let ok = fields(&format!("task: \"{task}\"\nlease: 60\n"));
        assert!(matches!(Payload::from_fields("task.claim", ok), Ok(Payload::TaskClaim(_))));
    }
}
