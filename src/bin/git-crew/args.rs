//! Command-line arguments (clap definitions only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// git-crew: a coordination layer for teams of AI agents and humans, on a git branch.
#[derive(Parser, Debug)]
#[command(name = "git-crew", bin_name = "git crew", version, about, long_about = None, disable_help_subcommand = true)]
pub struct Cli {
    /// Run as if started in PATH.
    #[arg(short = 'C', global = true, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// Act as this actor (default: CREW_AS, then git config crew.as, then the only local key).
    #[arg(long = "as", global = true, env = "CREW_AS", value_name = "NAME")]
    pub actor: Option<String>,
    /// Machine-readable JSON output on stdout (errors as JSON on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Do not contact the remote: writes stay on this clone (`git crew sync`
    /// publishes them later; `git config crew.publish false` does the same for
    /// every write), and `alive` answers from this clone's copy.
    #[arg(long, global = true)]
    pub offline: bool,
    /// The workspace branch (default: CREW_BRANCH, then git config crew.branch, then `crew`).
    #[arg(long, global = true, env = "CREW_BRANCH", value_name = "NAME")]
    pub branch: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a workspace on the branch, with you as its first admin.
    Init(InitArgs),
    /// Identities: request, admit, new, list, show, rotate, revoke, update.
    #[command(subcommand)]
    Id(IdCommand),
    /// Tasks: add, list, show, edit, claim, release, handoff, assign, comment,
    /// block, done, cancel, reopen.
    #[command(subcommand)]
    Task(TaskCommand),
    /// The board: ready, in progress (holder, lease left), blocked (why), done.
    Board(BoardArgs),
    /// The single best ready task; with --claim, claim it.
    Next(NextArgs),
    /// Receipts: evidence attached to a task.
    #[command(subcommand)]
    Receipt(ReceiptCommand),
    /// Messages: send, list, join and leave channels.
    #[command(subcommand)]
    Msg(MsgCommand),
    /// What is addressed to me and unread, oldest first.
    Inbox(InboxArgs),
    /// The stream of new records, for dashboards and supervisors.
    Watch(WatchArgs),
    /// The kill switch: stop an actor (or every agent) from writing.
    Suspend(SuspendArgs),
    /// Lift a suspension.
    Resume {
        /// The actor.
        name: String,
    },
    /// Exit 0 while the actor may work, 5 once it is suspended (for agent loops:
    /// `while git crew alive; do …; done`). With a remote, asks it first.
    Alive(AliveArgs),
    /// Beat once for a session of mine (and renew my claims' leases), then sync
    /// it when a remote is configured. Loops call it every ttl/3.
    Heartbeat(HeartbeatArgs),
    /// Every actor: role, suspended, live sessions, last record, claims. With
    /// --audit, flag deaf agents, duplicate listeners, dead and suspended
    /// holders, and exit 6 when anything is flagged.
    Status(StatusArgs),
    /// Records on the branch, newest first.
    Log(LogArgs),
    /// Verify the whole history of the branch: signatures, authority, append-only.
    Verify(VerifyArgs),
    /// Run a scripted demo in a throwaway workspace and show the result.
    Demo(DemoArgs),
    /// Configure this clone: the merge driver and the client hooks (or, with
    /// --server, the pre-receive hook of a server repository).
    Install(InstallArgs),
    /// Fetch, verify, merge and push the workspace branch through a remote.
    Sync(SyncArgs),
    /// Admin: rebuild a remote without hooks that a bad push broke: this
    /// clone's verified tip, every later record that still counts, and a signed
    /// record of the repair; replaces the remote's branch with --force-with-lease.
    Repair(RepairArgs),
    /// The git merge driver for log files: `git-crew merge-driver %O %A %B %P`.
    #[command(name = "merge-driver")]
    MergeDriver(MergeDriverArgs),
    /// Run a git hook (the shims in hooks/ call this).
    Hook(HookArgs),
    /// The fleet policy the supervisor enforces: show it, or (admins) set it.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Report what working on a task cost (tokens, cost, seconds), for budgets.
    Usage(UsageArgs),
    /// Supervise the fleet, with no model in the loop: requeue the tasks of
    /// dead and stalled holders, suspend runaways and agents over budget, tell
    /// owners of deaf agents and duplicate listeners, as the policy grants.
    Supervise(SuperviseArgs),
    /// Reserve paths of the code repository, like claiming a task: exactly
    /// one of several racers for overlapping paths wins; the pre-commit hook
    /// refuses commits touching paths someone else holds.
    Reserve(ReserveArgs),
    /// End a path reservation (its holder; an admin may force it).
    Unreserve {
        /// The reservation (its id or a unique prefix; `board` lists them).
        id: String,
    },
    /// How an agent works with its crew: joining, the loop, what reaches the
    /// remote, exit codes, JSON shapes (text for an agent's prompt).
    Guide,
    /// The help of a command (`git crew help task claim`), or a topic:
    /// `exit-codes`.
    Help {
        /// A command and its subcommands, or `exit-codes`.
        topic: Vec<String>,
    },
}

/// `alive`.
#[derive(Args, Debug)]
pub struct AliveArgs {
    /// The remote to ask (default: crew.remote, then origin; none, or
    /// --offline: this clone's copy).
    #[arg(long)]
    pub remote: Option<String>,
}

/// `install`.
#[derive(Args, Debug)]
pub struct InstallArgs {
    /// Install the server-side hook (pre-receive) instead of the client hooks.
    #[arg(long)]
    pub server: bool,
    /// With --server: also refuse pushes of code branches whose commits change
    /// paths someone else than the commit's sealer has reserved (see README,
    /// Path reservations).
    #[arg(long, requires = "server")]
    pub guard_paths: bool,
    /// Write the CI job that runs `git crew verify` on every push to the
    /// branch, for a forge that runs no hooks: `github` or `gitlab`.
    #[arg(long, value_name = "FORGE", value_parser = ["github", "gitlab"], conflicts_with = "server")]
    pub ci: Option<String>,
    /// Write the manual pages (git-crew.1, git-crew-task-claim.1, …), by
    /// default into `../share/man/man1` from the directory of this binary,
    /// where `man` finds them when that directory is on PATH, so that
    /// `git crew --help` works. Needs no repository.
    #[arg(long, conflicts_with_all = ["server", "ci"])]
    pub man: bool,
    /// With --man: write the pages into DIR instead.
    #[arg(long, value_name = "DIR", requires = "man")]
    pub man_dir: Option<std::path::PathBuf>,
}

/// `sync`.
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// A remote name or URL (default: origin).
    pub remote: Option<String>,
}

/// `repair`.
#[derive(Args, Debug)]
pub struct RepairArgs {
    /// A remote name or URL (default: crew.remote, then origin).
    pub remote: Option<String>,
    /// Why, recorded in the signed `crew.repair` record.
    #[arg(long)]
    pub reason: Option<String>,
}

/// `merge-driver`.
#[derive(Args, Debug)]
pub struct MergeDriverArgs {
    /// %O: the common ancestor's version.
    pub base: PathBuf,
    /// %A: our version; the merged result is written here.
    pub ours: PathBuf,
    /// %B: their version.
    pub theirs: PathBuf,
    /// %P: the path being merged.
    pub path: String,
}

/// `hook`.
#[derive(Args, Debug)]
pub struct HookArgs {
    /// commit-msg, post-commit, pre-push or pre-receive.
    pub name: String,
    /// The arguments git passed to the hook.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Name of the first admin (default: --as, then $USER).
    #[arg(long, value_name = "NAME")]
    pub admin: Option<String>,
    /// Human-readable workspace name (default: the repository's directory name).
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
}

/// `id …`.
#[derive(Subcommand, Debug)]
pub enum IdCommand {
    /// Admit a new actor whose key is generated on this machine (admin only).
    New {
        /// The new actor's name.
        name: String,
        /// admin, human or agent.
        #[arg(long, default_value = "agent")]
        role: String,
        /// For an agent: the human who answers for it (default: you).
        #[arg(long, value_name = "NAME")]
        owner: Option<String>,
    },
    /// On the new actor's own machine: make its key here and print the request
    /// an admin passes to `id admit` (or, for an admitted actor, to `id rotate
    /// NAME --request`). Nothing is written to the branch.
    Request {
        /// The actor name asked for.
        name: String,
        /// The role asked for: admin, human or agent (the admin decides).
        #[arg(long, default_value = "agent")]
        role: String,
        /// For an agent: the human who answers for it.
        #[arg(long, value_name = "NAME")]
        owner: Option<String>,
        /// Write the request to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Admit the actor of a request (FILE, or - for standard input). Admin only;
    /// an actor cannot admit itself.
    Admit {
        /// The request file, or - for standard input.
        request: String,
        /// The role to give (default: the one asked for).
        #[arg(long)]
        role: Option<String>,
        /// For an agent: the human who answers for it (default: as asked, else you).
        #[arg(long, value_name = "NAME")]
        owner: Option<String>,
    },
    /// Give an actor a new key. Without --request: my own key, made here; the
    /// old key counts only for records before the rotation. With --request (an
    /// admin, from `id request NAME` on the actor's machine): re-key NAME.
    Rotate {
        /// The actor (default: me).
        name: Option<String>,
        /// The actor's request for its new key (FILE, or - for standard input).
        #[arg(long, value_name = "FILE")]
        request: Option<String>,
    },
    /// Revoke an actor's key (an admin, or the actor itself): nothing it signs
    /// counts any more, until an admin rotates in a new key.
    Revoke {
        /// The actor.
        name: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Change an actor's role, owner or both (admin only). An agent keeps an
    /// owner who is a human or an admin; the last admin cannot step down.
    Update {
        /// The actor.
        name: String,
        /// The new role: admin, human or agent.
        #[arg(long)]
        role: Option<String>,
        /// The new owner: the human or admin who answers for it.
        #[arg(long, value_name = "NAME")]
        owner: Option<String>,
    },
    /// List actors.
    List,
    /// Show one actor.
    Show {
        /// The actor.
        name: String,
    },
}

/// `task …`.
#[derive(Subcommand, Debug)]
pub enum TaskCommand {
    /// Add a task.
    Add {
        /// One-line title.
        title: String,
        /// Longer description.
        #[arg(long)]
        body: Option<String>,
        /// A label (repeatable).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        /// 0 (most urgent) to 4.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=4))]
        priority: Option<u8>,
        /// The epic this task belongs to.
        #[arg(long, value_name = "ID")]
        parent: Option<String>,
        /// A task that must be done first (repeatable).
        #[arg(long = "depends-on", value_name = "ID")]
        depends_on: Vec<String>,
    },
    /// List tasks, most urgent first.
    List {
        /// Only tasks with this label.
        #[arg(long)]
        label: Option<String>,
        /// Only tasks I hold.
        #[arg(long)]
        mine: bool,
    },
    /// Show a task and its history.
    Show {
        /// Task id or unique prefix.
        id: String,
    },
    /// Change a task's fields (the later edit wins).
    Edit(EditArgs),
    /// Claim a task for a lease; linearizable through the remote when there is one.
    Claim {
        /// Task id or unique prefix.
        id: String,
        #[command(flatten)]
        how: ClaimArgs,
    },
    /// Give up a claim (the holder), or force it free (an admin).
    Release {
        /// Task id or unique prefix.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Pass my claim to another actor.
    Handoff {
        /// Task id or unique prefix.
        id: String,
        /// The new holder.
        #[arg(long, value_name = "NAME")]
        to: String,
        /// A note for the new holder.
        #[arg(long)]
        note: Option<String>,
    },
    /// Assign a task no one holds to an actor (an admin, or the owner of the
    /// receiving agent): a handoff from nobody. The task must be open and not
    /// blocked.
    Assign {
        /// Task id or unique prefix.
        id: String,
        /// The new holder.
        #[arg(long, value_name = "NAME")]
        to: String,
        /// A note for the new holder.
        #[arg(long)]
        note: Option<String>,
        /// The new holder's lease: 90s, 30m, 2h, 1d (default: the last
        /// holder's lease length, else 1h).
        #[arg(long, value_name = "DURATION", value_parser = parse_lease)]
        lease: Option<u64>,
    },
    /// Close a task as won't do, with the reason (an admin, a human or the
    /// task's creator). Tasks that depend on it are no longer held back.
    Cancel {
        /// Task id or unique prefix.
        id: String,
        /// Why it will not be done.
        #[arg(long)]
        reason: String,
    },
    /// Open a done or cancelled task again (an admin, a human or who closed it).
    Reopen {
        /// Task id or unique prefix.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Comment on a task.
    Comment {
        /// Task id or unique prefix.
        id: String,
        /// The comment.
        text: String,
    },
    /// Mark a task blocked.
    Block {
        /// Task id or unique prefix.
        id: String,
        /// Why it cannot go on.
        #[arg(long)]
        reason: String,
    },
    /// Clear a block.
    Unblock {
        /// Task id or unique prefix.
        id: String,
    },
    /// Close a task I hold.
    Done {
        /// Task id or unique prefix.
        id: String,
        /// A receipt on the task that shows the work (id or prefix).
        #[arg(long, value_name = "ID")]
        receipt: Option<String>,
        /// What was done.
        #[arg(long)]
        summary: Option<String>,
    },
}

/// `task edit`.
#[derive(Args, Debug)]
pub struct EditArgs {
    /// Task id or unique prefix.
    pub id: String,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    /// New description.
    #[arg(long)]
    pub body: Option<String>,
    /// New labels, replacing the old ones (repeatable).
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// New priority, 0 (most urgent) to 4.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=4))]
    pub priority: Option<u8>,
    /// New parent epic.
    #[arg(long, value_name = "ID")]
    pub parent: Option<String>,
    /// Add a dependency (repeatable).
    #[arg(long = "depends-on", value_name = "ID")]
    pub depends_on: Vec<String>,
    /// Drop a dependency (repeatable).
    #[arg(long = "drop-depends-on", value_name = "ID")]
    pub drop_depends_on: Vec<String>,
}

/// How to claim.
#[derive(Args, Debug)]
pub struct ClaimArgs {
    /// Lease length: 90s, 30m, 2h, 1d (default 30m).
    #[arg(long, value_name = "DURATION", value_parser = parse_lease)]
    pub lease: Option<u64>,
    /// Publish the claim through this remote (default: crew.remote, then
    /// origin). With --offline the claim stays on this clone, marked offline,
    /// and the fold settles conflicts on the next sync.
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,
}

/// A lease: seconds, or a number with s, m, h or d.
fn parse_lease(s: &str) -> Result<u64, String> {
    let (min, max) = (git_crew::record::kinds::MIN_LEASE_SECS, git_crew::record::kinds::MAX_LEASE_SECS);
    seconds(s, "lease", min, max)
}

/// A duration (an interval, a ttl): seconds, or a number with s, m, h or d,
/// from 1 second to 7 days.
fn parse_duration(s: &str) -> Result<u64, String> {
    seconds(s, "duration", 1, git_crew::record::kinds::MAX_LEASE_SECS)
}

/// `s` (`90`, `90s`, `30m`, `2h`, `1d`) in seconds, within `min..=max`.
fn seconds(s: &str, what: &str, min: u64, max: u64) -> Result<u64, String> {
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| format!("invalid {what} {s:?}: expected e.g. 90s, 30m, 2h or 1d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("invalid {what} {s:?}: the unit must be s, m, h or d")),
    };
    let secs = n.saturating_mul(scale);
    if secs < min || secs > max {
        return Err(format!("{what} {s:?} is out of range: {min}s to {}d", max / 86_400));
    }
    Ok(secs)
}

/// `board`.
#[derive(Args, Debug)]
pub struct BoardArgs {
    /// Only tasks with this label.
    #[arg(long)]
    pub label: Option<String>,
}

/// `next`.
#[derive(Args, Debug)]
pub struct NextArgs {
    /// Only tasks with this label.
    #[arg(long)]
    pub label: Option<String>,
    /// Claim it (moving on to the next candidate when another agent wins it).
    #[arg(long)]
    pub claim: bool,
    #[command(flatten)]
    pub how: ClaimArgs,
}

/// `receipt …`.
#[derive(Subcommand, Debug)]
pub enum ReceiptCommand {
    /// Attach evidence to a task: artifacts (by sha256), code commits, a summary.
    Add {
        /// Task id or unique prefix.
        #[arg(long, value_name = "ID")]
        task: String,
        /// A file to vouch for by content hash (repeatable).
        #[arg(long = "artifact", value_name = "FILE")]
        artifacts: Vec<std::path::PathBuf>,
        /// A code revision, resolved to its full commit id (repeatable).
        #[arg(long = "commit", value_name = "REV")]
        commits: Vec<String>,
        /// test, build, review, note or commit (default: note, or commit with only --commit).
        #[arg(long)]
        kind: Option<String>,
        /// What happened.
        #[arg(long)]
        summary: Option<String>,
    },
    /// Show a receipt.
    Show {
        /// Receipt id or unique prefix.
        id: String,
    },
}

/// `log`.
#[derive(Args, Debug)]
pub struct LogArgs {
    /// Show at most N records.
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    pub max: Option<usize>,
    /// Only records by this actor.
    #[arg(long)]
    pub author: Option<String>,
    /// Only records of this kind (e.g. task.create), or kind prefix ending in `.` (task.).
    #[arg(long)]
    pub kind: Option<String>,
}

/// `verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Report every failure instead of stopping at the first.
    #[arg(long)]
    pub all: bool,
    /// Also re-hash every receipt artifact still on disk and report mismatches.
    #[arg(long)]
    pub artifacts: bool,
}

/// `demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo workspace in DIR (must not exist or be empty) instead of deleting it.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// `msg …`.
#[derive(Subcommand, Debug)]
pub enum MsgCommand {
    /// Send a message: TEXT, or --file, or standard input.
    Send {
        /// The text (default: --file, else standard input).
        text: Option<String>,
        /// An actor (a direct message) or '#channel' (created on first use).
        #[arg(long, value_name = "NAME|#CHANNEL", conflicts_with = "task")]
        to: Option<String>,
        /// Attach the message to a task's discussion.
        #[arg(long, value_name = "ID")]
        task: Option<String>,
        /// Answer this message (same channel and thread).
        #[arg(long = "reply-to", value_name = "ID")]
        reply_to: Option<String>,
        /// Post in this thread (the id of its first message).
        #[arg(long, value_name = "ID")]
        thread: Option<String>,
        /// Read the text from this file.
        #[arg(long, value_name = "FILE", conflicts_with = "text")]
        file: Option<PathBuf>,
    },
    /// The messages of a channel ('#name', an actor for our direct messages, or --task).
    List {
        /// '#channel' or an actor's name.
        channel: Option<String>,
        /// A task's discussion.
        #[arg(long, value_name = "ID", conflicts_with = "channel")]
        task: Option<String>,
        /// Only this thread (the id of its first message).
        #[arg(long, value_name = "ID")]
        thread: Option<String>,
        /// Only messages from this time on (2026-12-01T10:00:00.000Z or 2026-12-01).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },
    /// Every named channel and my direct conversations: members, messages,
    /// latest activity, and whether I follow each.
    Channels,
    /// Follow a channel in my inbox; shows its recent messages.
    Join {
        /// The channel ('#name' or name).
        channel: String,
    },
    /// Stop following a channel.
    Leave {
        /// The channel ('#name' or name).
        channel: String,
    },
}

/// `inbox`.
#[derive(Args, Debug)]
pub struct InboxArgs {
    /// Mark items read: up to ID (an unread item's id prefix), or with no ID
    /// everything shown.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "")]
    pub ack: Option<String>,
    /// Mark everything read (same as --ack with no ID).
    #[arg(long, conflicts_with = "ack")]
    pub all: bool,
    /// Keep running and print new items as they arrive (exits 0 on SIGINT or SIGTERM).
    #[arg(long)]
    pub follow: bool,
    /// With --follow and a remote: how often to sync, like 5s or 1m (default 5s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub interval: Option<u64>,
    /// With --follow: the remote to sync with (default: crew.remote, then origin; none: local only).
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,
}

/// `watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Start from here: a commit of the branch (records after it) or a time
    /// (records at or after it). Default: only what arrives from now on.
    #[arg(long, value_name = "REV|TIME")]
    pub since: Option<String>,
    /// Only records of this kind, or kind prefix ending in `.` (task.).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only records by this actor.
    #[arg(long)]
    pub author: Option<String>,
    /// Print what --since selects and exit instead of following.
    #[arg(long = "no-follow")]
    pub no_follow: bool,
    /// How often to sync with the remote while following (default 5s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub interval: Option<u64>,
    /// The remote to sync with while following (default: crew.remote, then origin; none: local only).
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,
}

/// `heartbeat`.
#[derive(Args, Debug)]
pub struct HeartbeatArgs {
    /// The session name (default: CREW_SESSION, else one session per actor,
    /// clone and host, shared by every shell that calls `heartbeat`; `inbox
    /// --follow` and `watch` beat sessions of their own).
    #[arg(long, env = "CREW_SESSION")]
    pub session: Option<String>,
    /// The session listens for my messages.
    #[arg(long)]
    pub listening: bool,
    /// How long the beat keeps the session alive, like 90s or 5m (default 90s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttl: Option<u64>,
    /// End the session: the beat says so and it stops counting at once.
    #[arg(long)]
    pub end: bool,
    /// The remote to sync with (default: crew.remote, then origin; none: local only).
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,
    /// Do not sync, even with a remote configured.
    #[arg(long = "no-sync")]
    pub no_sync: bool,
}

/// `status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Flag deaf agents, duplicate listeners, dead holders and suspended
    /// holders; exit 6 when anything is flagged.
    #[arg(long)]
    pub audit: bool,
}

/// `suspend`.
#[derive(Args, Debug)]
pub struct SuspendArgs {
    /// The actors to stop.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub names: Vec<String>,
    /// Every agent at once.
    #[arg(long)]
    pub all: bool,
    /// Why (shown to the actor when its writes are refused).
    #[arg(long)]
    pub reason: Option<String>,
}

/// `policy …`.
#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// The policy in force: limits, budgets, grants, who set it and when.
    Show,
    /// Replace the policy (admins only). A limit left out is not enforced.
    Set(PolicySetArgs),
}

/// `policy set`.
#[derive(Args, Debug)]
pub struct PolicySetArgs {
    /// A holder with no record on its task this long is nudged, then (as long
    /// again) loses the task.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub stalled_after: Option<u64>,
    /// A holder with no live session this long loses its task, lease or not.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub dead_after: Option<u64>,
    /// An agent writing more records than this in a minute is suspended.
    #[arg(long, value_name = "N")]
    pub runaway_per_minute: Option<u64>,
    /// Every agent's budget per task: wall-clock time from its claim.
    #[arg(long, value_parser = parse_budget_time, value_name = "DURATION")]
    pub task_time: Option<u64>,
    /// Every agent's budget per task: tokens reported with `usage`.
    #[arg(long, value_name = "N")]
    pub tokens: Option<u64>,
    /// Every agent's budget per task: cost reported with `usage` (a decimal).
    #[arg(long, value_parser = parse_cost, value_name = "X")]
    pub cost: Option<String>,
    /// One agent's budget, replacing the defaults: NAME:time=2h,tokens=N,cost=X
    /// (any of them). Repeat for more agents.
    #[arg(long = "budget", value_parser = parse_budget, value_name = "NAME:LIMITS")]
    pub budgets: Vec<git_crew::record::kinds::Budget>,
    /// A supervisor's powers: NAME=release,suspend (either or both). Repeat
    /// for more supervisors.
    #[arg(long = "grant", value_parser = parse_grant, value_name = "NAME=POWERS")]
    pub grants: Vec<git_crew::record::kinds::Grant>,
    /// The channel told of requeued tasks (default general).
    #[arg(long)]
    pub channel: Option<String>,
}

/// `usage`.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("spent").required(true).multiple(true).args(["tokens", "cost", "seconds"]))]
pub struct UsageArgs {
    /// The task worked on.
    #[arg(long)]
    pub task: String,
    /// Model tokens used.
    #[arg(long)]
    pub tokens: Option<u64>,
    /// Money spent (a decimal, e.g. 0.35).
    #[arg(long, value_parser = parse_cost)]
    pub cost: Option<String>,
    /// Seconds of work.
    #[arg(long)]
    pub seconds: Option<u64>,
}

/// `supervise`.
#[derive(Args, Debug)]
pub struct SuperviseArgs {
    /// Print what the policy flags and the step this supervisor would take
    /// about each, then exit; nothing is written.
    #[arg(long)]
    pub dry_run: bool,
    /// One round (elect, then act if elected), then exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between rounds (and heartbeats).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", default_value = "2")]
    pub interval: u64,
    /// The election lease: how long a standby supervisor waits for a silent one.
    #[arg(long, value_parser = parse_lease, value_name = "DURATION", default_value = "30")]
    pub lease: u64,
    /// Run this shell command for each step taken, with the step as JSON on
    /// its standard input (and CREW_FLAG, CREW_STEP, CREW_ACTOR, CREW_TASK set).
    #[arg(long, value_name = "CMD")]
    pub notify: Option<String>,
    /// The remote to follow and publish to (default: crew.remote, then origin).
    #[arg(long)]
    pub remote: Option<String>,
}

/// A budget's time: from 1 second up (a task may take longer than a lease).
fn parse_budget_time(s: &str) -> Result<u64, String> {
    seconds(s, "duration", 1, 365 * 86_400)
}

/// A cost: a decimal the record format takes.
fn parse_cost(s: &str) -> Result<String, String> {
    match git_crew::record::kinds::parse_cost(s) {
        Some(_) => Ok(s.to_owned()),
        None => Err(format!("invalid cost {s:?}: a decimal of up to 12 digits and 6 after the point, like 0.35")),
    }
}

/// `NAME:time=2h,tokens=N,cost=X`.
fn parse_budget(s: &str) -> Result<git_crew::record::kinds::Budget, String> {
    let (name, limits) =
        s.split_once(':').ok_or_else(|| format!("invalid budget {s:?}: expected NAME:time=2h,tokens=N,cost=X"))?;
    let mut b = git_crew::record::kinds::Budget { actor: name.to_owned(), ..Default::default() };
    for part in limits.split(',') {
        match part.split_once('=') {
            Some(("time", v)) => b.task_seconds = Some(parse_budget_time(v)?),
            Some(("tokens", v)) => {
                b.tokens = Some(v.parse().map_err(|_| format!("invalid budget {s:?}: tokens {v:?} is not a count"))?)
            }
            Some(("cost", v)) => b.cost = Some(parse_cost(v)?),
            _ => return Err(format!("invalid budget {s:?}: {part:?} is not time=…, tokens=… or cost=…")),
        }
    }
    Ok(b)
}

/// `NAME=release,suspend`.
fn parse_grant(s: &str) -> Result<git_crew::record::kinds::Grant, String> {
    use git_crew::record::kinds::Power;
    let (name, powers) =
        s.split_once('=').ok_or_else(|| format!("invalid grant {s:?}: expected NAME=release,suspend"))?;
    let mut list = Vec::new();
    for p in powers.split(',') {
        list.push(match p {
            "release" => Power::Release,
            "suspend" => Power::Suspend,
            _ => return Err(format!("invalid grant {s:?}: {p:?} is not a power (release, suspend)")),
        });
    }
    list.sort();
    list.dedup();
    Ok(git_crew::record::kinds::Grant { actor: name.to_owned(), powers: list })
}

/// `reserve`.
#[derive(Args, Debug)]
pub struct ReserveArgs {
    /// Paths in the work tree (relative to here), each with everything under it.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// For a task I hold: the reservation follows the task (a handoff passes
    /// it on) and ends with the claim.
    #[arg(long, value_name = "ID")]
    pub task: Option<String>,
    #[command(flatten)]
    pub how: ClaimArgs,
}
