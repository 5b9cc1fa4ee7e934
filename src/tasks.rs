//! The task board: what is ready, who holds what, and the task operations
//! commands call (add, edit, claim, release, handoff, assign, comment, block,
//! done, cancel, reopen).
//!
//! The rules live in the fold ([`crate::state::tasks`]); this module picks
//! tasks ([`next`], [`Board`]) and turns a command into records through
//! [`Workspace::write`], whose closure re-checks everything at the tip that
//! wins. Online claims go through [`crate::sync::publish`] instead, so the
//! claim lands on the remote by compare-and-swap or not at all.

use std::collections::HashSet;

use crate::error::{AddressError, ConflictError, Error, Result};
use crate::hlc::Hlc;
use crate::id::{self, Id};
use crate::index::Need;
use crate::index::Snapshot;
use crate::layout;
use crate::record::kinds::{
    Role, TaskBlock, TaskCancel, TaskClaim, TaskComment, TaskCreate, TaskDone, TaskEdit, TaskHandoff, TaskRelease,
    TaskReopen, TaskUnblock,
};
use crate::record::{self, FileError, Payload, Record};
use crate::state::{State, Status, Summary};
use crate::store::Backend;
use crate::workspace::Workspace;

/// Default lease of a claim: 30 minutes.
pub const DEFAULT_LEASE_SECS: u64 = 30 * 60;

/// How long `next --claim` keeps trying after losing ready tasks to other
/// claimers before it exits 3: when a dozen idle agents pounce on each task
/// as it arrives, one wins each round and the others could wait minutes in
/// one command, deaf to their inbox and to a suspension; after this long (or
/// [`NEXT_CLAIM_ROUNDS`] lost rounds) the agent's loop goes on and tries
/// again on its next turn.
pub const NEXT_CLAIM_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

/// How many rounds `next --claim` may lose before it exits 3 (see
/// [`NEXT_CLAIM_PATIENCE`]); below the publish's own bound, so a claim that
/// keeps losing is a conflict, not contention.
pub const NEXT_CLAIM_ROUNDS: u32 = 32;

/// The wall clock in milliseconds, as the board sees it.
pub fn now_ms() -> i64 {
    Hlc::now().ms
}

/// The ids of the closed tasks (done or cancelled) among `tasks`: a
/// dependency on one no longer holds a task back.
fn done(tasks: &[Summary]) -> HashSet<Id> {
    tasks.iter().filter(|t| t.is_closed()).map(|t| t.id).collect()
}

/// Ready tasks (open, unblocked, dependencies closed, unheld or lease run out)
/// with `label` if given, most urgent first, then oldest, then by id. A
/// dependency missing from `tasks` counts as not done.
pub fn ready<'a>(tasks: &'a [Summary], label: Option<&str>, now_ms: i64) -> Vec<&'a Summary> {
    let done = done(tasks);
    let mut out: Vec<&Summary> =
        tasks.iter().filter(|t| t.has_label(label) && t.is_ready(|d| done.contains(d), now_ms)).collect();
    out.sort_by_key(|t| t.board_key());
    out
}

/// The single best ready task.
pub fn next<'a>(tasks: &'a [Summary], label: Option<&str>, now_ms: i64) -> Option<&'a Summary> {
    let done = done(tasks);
    tasks
        .iter()
        .filter(|t| t.has_label(label) && t.is_ready(|d| done.contains(d), now_ms))
        .min_by_key(|t| t.board_key())
}

/// The task a claimer of `next --claim` takes: one of the best, spread over
/// the claimers. Every claimer on every clone sees the same best task, so if
/// all took it, N agents starting at once would race N−1 times for one task
/// and the last would win only on its Nth try. Instead each takes the
/// `pick`-th (modulo) of the oldest ready tasks of the top priority, at most
/// `claimers` of them: priority is kept, age within a priority is kept up to
/// the number of agents that could be claiming at once, and racers mostly
/// want different tasks.
pub fn spread<'a>(
    tasks: &'a [Summary],
    label: Option<&str>,
    now_ms: i64,
    claimers: usize,
    pick: u64,
) -> Option<&'a Summary> {
    let ready = ready(tasks, label, now_ms);
    let top = ready.first()?.priority;
    let window = ready.iter().take_while(|t| t.priority == top).take(claimers.max(1)).count();
    // `window` ≥ 1, and fits in u64 on every target.
    ready.get((pick % window as u64) as usize).copied()
}

/// A random number for [`spread`]; 0 (the best task) when the system has no
/// random source, which only makes racing claimers contend as before.
fn random_pick() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map(|()| u64::from_le_bytes(bytes)).unwrap_or(0)
}

/// Every task in its column, each column in board order.
#[derive(Debug, Default)]
pub struct Board<'a> {
    /// Ready to claim.
    pub ready: Vec<&'a Summary>,
    /// Held, with the lease running.
    pub in_progress: Vec<&'a Summary>,
    /// Blocked or waiting on dependencies, and why.
    pub blocked: Vec<(&'a Summary, String)>,
    /// Closed: done, or cancelled (`cancelled_by` says which).
    pub done: Vec<&'a Summary>,
}

impl<'a> Board<'a> {
    /// Sort `tasks` into columns at `now_ms`.
    pub fn new(tasks: &'a [Summary], label: Option<&str>, now_ms: i64) -> Board<'a> {
        let done = done(tasks);
        let mut sorted: Vec<&Summary> = tasks.iter().filter(|t| t.has_label(label)).collect();
        sorted.sort_by_key(|t| t.board_key());
        let mut board = Board::default();
        for t in sorted {
            match t.status(|d| done.contains(d), now_ms) {
                Status::Ready if t.is_election() => {}
                Status::Ready => board.ready.push(t),
                Status::InProgress { .. } => board.in_progress.push(t),
                Status::Blocked { why } => board.blocked.push((t, why)),
                Status::Done | Status::Cancelled => board.done.push(t),
            }
        }
        board
    }
}

/// How a claim is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimMode {
    /// Through this remote, by compare-and-swap push: linearizable across clones.
    Online(String),
    /// On this clone only, by compare-and-swap of the local branch.
    Local,
    /// Local and marked offline: settled by the fold on the next sync.
    Offline,
}

/// Which task to claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimTarget {
    /// This task.
    Task(Id),
    /// The best ready task (with this label), re-picked on every attempt.
    Next(Option<String>),
}

/// Fields of a new task.
#[derive(Clone, Debug, Default)]
pub struct NewTask {
    /// Title.
    pub title: String,
    /// Description.
    pub body: Option<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// Priority 0..=4 (default 2).
    pub priority: Option<u8>,
    /// The epic it belongs to.
    pub parent: Option<Id>,
    /// Tasks that must be done first.
    pub depends_on: Vec<Id>,
}

impl<B: Backend> Workspace<B> {
    /// Add a task as `actor`.
    pub fn add_task(&self, actor: &str, task: NewTask) -> Result<Record> {
        let payload = Payload::TaskCreate(TaskCreate {
            title: task.title,
            body: task.body.filter(|b| !b.is_empty()),
            labels: task.labels,
            priority: task.priority.unwrap_or(2),
            parent: task.parent,
            depends_on: task.depends_on.clone(),
        });
        let need = match task.parent.iter().chain(&task.depends_on).copied().collect::<Vec<_>>() {
            linked if linked.is_empty() => Need::Core,
            linked => Need::Tasks(linked),
        };
        let written = self.write(actor, &need, |_| Ok(vec![payload.clone()]))?;
        Ok(written.one())
    }

    /// Resolve a task id or unique prefix.
    pub fn resolve_task(&self, state: &State, prefix: &str) -> Result<Id> {
        Ok(id::resolve_prefix(prefix, "task", state.tasks.keys().copied())?)
    }

    /// Every record of one task, from its file at the tip.
    pub fn task_records(&self, snap: &Snapshot, task: &Id) -> Result<Vec<Record>> {
        let path = layout::task_path(task);
        let tree = self.store().commit(snap.tip)?.tree;
        let bytes = self.store().read(tree, &path)?.unwrap_or_default();
        record::decode_file(&bytes, &snap.state.workspace).map_err(|p| Error::from(FileError::new(&path, p)))
    }

    /// The state (without tasks) and every task's summary: what `next` and
    /// `board` read.
    pub fn summaries(&self) -> Result<(crate::index::Snapshot, Vec<Summary>)> {
        let (snap, mut tasks) = self.index().summaries(self.store())?;
        for t in &mut tasks {
            t.drop_stopped_holder(&snap.state);
        }
        Ok((snap, tasks))
    }

    /// Resolve a task id or unique prefix without loading the whole board when
    /// the prefix names its shard (two or more hex digits).
    pub fn find_task(&self, prefix: &str) -> Result<Id> {
        let lower = prefix.to_ascii_lowercase();
        if lower.len() >= 2 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
            let snap = self.snapshot_for(&Need::Core)?;
            let tree = self.store().commit(snap.tip)?.tree;
            let ids = self.store().list(tree, &format!("tasks/{}", &lower[..2]))?;
            let ids = ids.iter().filter_map(|f| f.strip_suffix(".yaml")?.parse::<Id>().ok());
            return Ok(id::resolve_prefix(&lower, "task", ids)?);
        }
        let snap = self.snapshot()?;
        self.resolve_task(&snap.state, prefix)
    }

    /// Write one record about `task` as `actor`; the fold's rules decide.
    fn task_write(&self, actor: &str, task: Id, payload: Payload) -> Result<Record> {
        let need = Need::Tasks(vec![task]);
        Ok(self.write(actor, &need, |_| Ok(vec![payload.clone()]))?.one())
    }

    /// `task edit`. Adding a dependency or parent checks for cycles across the
    /// whole board.
    pub fn edit_task(&self, actor: &str, edit: TaskEdit) -> Result<Record> {
        let need =
            if edit.depends_on.is_empty() && edit.parent.is_none() { Need::Tasks(vec![edit.task]) } else { Need::All };
        let payload = Payload::TaskEdit(edit);
        Ok(self.write(actor, &need, |_| Ok(vec![payload.clone()]))?.one())
    }

    /// Claim a task (or the best ready one) for `lease` seconds. Exits 3 (an
    /// [`Error::Refused`] conflict) when it is held, blocked, done or waiting.
    pub fn claim(&self, actor: &str, target: &ClaimTarget, lease: u64, mode: &ClaimMode) -> Result<Record> {
        let need = match target {
            ClaimTarget::Task(id) => Need::Tasks(vec![*id]),
            ClaimTarget::Next(_) => Need::All,
        };
        let offline = *mode == ClaimMode::Offline;
        // From the first try, not from the wait for this clone's lock.
        let mut started = None;
        let mut rounds = 0u32;
        let build = |state: &State| -> Result<Vec<Payload>> {
            rounds += 1;
            let started = *started.get_or_insert_with(std::time::Instant::now);
            let now = now_ms();
            let task = match target {
                ClaimTarget::Task(id) => state.task(id).map_err(Error::Refused)?,
                ClaimTarget::Next(_)
                    if rounds > 1 && (started.elapsed() > NEXT_CLAIM_PATIENCE || rounds > NEXT_CLAIM_ROUNDS) =>
                {
                    return Err(
                        ConflictError::ClaimSentBack { rounds: rounds - 1, secs: started.elapsed().as_secs() }.into()
                    );
                }
                ClaimTarget::Next(label) => {
                    let summaries: Vec<Summary> = state.tasks.values().map(|t| Summary::current(t, state)).collect();
                    let claimers = state.actors.values().filter(|a| a.role == Role::Agent && a.may_work()).count();
                    let best = spread(&summaries, label.as_deref(), now, claimers, random_pick())
                        .map(|t| t.id)
                        .ok_or_else(|| Error::NothingReady(label.clone()))?;
                    state.task(&best).map_err(Error::Refused)?
                }
            };
            task.claimable_by(state, actor, now).map_err(Error::Refused)?;
            Ok(vec![Payload::TaskClaim(TaskClaim { task: task.id, lease, offline })])
        };
        let written = match mode {
            ClaimMode::Online(remote) => crate::sync::publish(self, remote, actor, &need, build)?,
            ClaimMode::Local | ClaimMode::Offline => self.write(actor, &need, build)?,
        };
        Ok(written.one())
    }

    /// `task release` (the holder; an admin may force it).
    pub fn release(&self, actor: &str, task: Id, reason: Option<String>) -> Result<Record> {
        self.task_write(actor, task, Payload::TaskRelease(TaskRelease { task, reason }))
    }

    /// `task handoff`: the receiver must be admitted.
    pub fn handoff(&self, actor: &str, task: Id, to: &str, note: Option<String>) -> Result<Record> {
        self.check_receiver(to)?;
        self.task_write(actor, task, Payload::TaskHandoff(TaskHandoff { task, to: to.to_owned(), note, lease: None }))
    }

    /// `task assign`: a handoff from nobody, by an admin or the owner of the
    /// receiving agent, of a task no one holds with a running lease. The new
    /// holder's lease is `lease` seconds, else the last holder's lease length,
    /// else [`crate::record::kinds::DEFAULT_ASSIGN_LEASE_SECS`] (the fold's
    /// rule, `crate::state::tasks`).
    pub fn assign(&self, actor: &str, task: Id, to: &str, note: Option<String>, lease: Option<u64>) -> Result<Record> {
        self.check_receiver(to)?;
        self.task_write(actor, task, Payload::TaskHandoff(TaskHandoff { task, to: to.to_owned(), note, lease }))
    }

    /// A handoff's receiver must be admitted and may work.
    fn check_receiver(&self, to: &str) -> Result<()> {
        let snap = self.snapshot_for(&Need::Core)?;
        if !snap.state.actors.contains_key(to) {
            return Err(AddressError::HandoffToUnknown(to.to_owned()).into());
        }
        if snap.state.is_stopped(to) {
            return Err(AddressError::HandoffToSuspended(to.to_owned()).into());
        }
        Ok(())
    }

    /// `task cancel`: close a task as won't do (an admin, a human or its creator).
    pub fn cancel(&self, actor: &str, task: Id, reason: String) -> Result<Record> {
        self.task_write(actor, task, Payload::TaskCancel(TaskCancel { task, reason }))
    }

    /// `task reopen`: open a done or cancelled task again (an admin, a human
    /// or who closed it).
    pub fn reopen(&self, actor: &str, task: Id, reason: Option<String>) -> Result<Record> {
        self.task_write(actor, task, Payload::TaskReopen(TaskReopen { task, reason }))
    }

    /// `task comment`.
    pub fn comment(&self, actor: &str, task: Id, text: String) -> Result<Record> {
        self.task_write(actor, task, Payload::TaskComment(TaskComment { task, text }))
    }

    /// `task block`.
    pub fn block(&self, actor: &str, task: Id, reason: String) -> Result<Record> {
        self.task_write(actor, task, Payload::TaskBlock(TaskBlock { task, reason }))
    }

    /// `task unblock`.
    pub fn unblock(&self, actor: &str, task: Id) -> Result<Record> {
        self.task_write(actor, task, Payload::TaskUnblock(TaskUnblock { task }))
    }

    /// `task done` (the holder; an admin may close a held task).
    pub fn done(&self, actor: &str, task: Id, receipt: Option<Id>, summary: Option<String>) -> Result<Record> {
        self.task_write(actor, task, Payload::TaskDone(TaskDone { task, receipt, summary }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(n: u8, priority: u8) -> Summary {
        Summary {
            id: Id([n; 32]),
            title: format!("t{n}"),
            labels: Vec::new(),
            priority,
            created_at: Hlc { ms: i64::from(n), counter: 0 },
            depends_on: Vec::new(),
            holder: None,
            blocked: None,
            done_by: None,
            cancelled_by: None,
        }
    }

    fn picks(tasks: &[Summary], claimers: usize) -> Vec<u8> {
        (0..6).map(|p| spread(tasks, None, 0, claimers, p).map(|t| t.id.0[0]).unwrap()).collect()
    }

    #[test]
    fn spread_keeps_to_the_oldest_tasks_of_the_top_priority() {
        // 1 and 2 are urgent; 3 is older than 4 and 5 but less urgent.
        let tasks = [task(5, 2), task(3, 2), task(1, 0), task(4, 2), task(2, 0)];
        assert_eq!(picks(&tasks, 32), [1, 2, 1, 2, 1, 2]);
        let normal = [task(5, 2), task(3, 2), task(4, 2), task(6, 2)];
        assert_eq!(picks(&normal, 2), [3, 4, 3, 4, 3, 4], "no further than the number of claimers");
        assert_eq!(picks(&normal, 0), [3; 6], "no agents: the best, as `next` shows it");
        assert_eq!(picks(&normal, 1), [3; 6]);
        assert!(spread(&[], None, 0, 4, 1).is_none());
    }
}
