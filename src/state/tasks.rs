//! Tasks in the fold: the board, claims and leases.
//!
//! Rules (who may do what), applied in (`at`, id) order:
//!
//! - Anyone admitted creates, edits, comments on, blocks and unblocks a task,
//!   and attaches receipts. Parents and dependencies must name existing tasks;
//!   an edit that would close a dependency or parent cycle is void.
//! - A claim counts if the task is open, not blocked, and not held by another
//!   actor whose lease is still running at the claim's `at` (a holder stopped
//!   at that point holds nothing). The first such claim in fold order wins;
//!   later ones are void (lost). Whether a claim was written `--offline`
//!   changes nothing here: an offline claim that would overturn a published
//!   one is re-made by `sync` before it is published (see `crate::sync`).
//! - A lease runs `lease` seconds from the claim and is renewed by any counted
//!   record of the holder about the task while it runs.
//! - Only the holder releases, hands off or closes (`task.done`); an admin may
//!   release or close any held task.
//!
//! Void records are concurrency, not forgery: they change nothing, are kept in
//! [`State::ignored`](super::State) with a reason, and `verify` accepts them
//! ([`Refusal::is_conflict`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::kinds::{Power, StepKind, TaskCreate, ELECTION_LABEL};
use crate::record::{Payload, Record};

use super::policy::{self, Usage};
use super::{Actor, Refusal, State};

/// Who holds a task, and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The holder.
    pub actor: String,
    /// The record that made it the holder (a claim or a handoff).
    pub record: Id,
    /// When the claim (or handoff) took effect.
    pub since: Hlc,
    /// Lease length in milliseconds.
    pub lease_ms: i64,
    /// Wall-clock milliseconds at which the lease runs out unless renewed.
    pub expires_ms: i64,
    /// Whether the claim was written offline.
    pub offline: bool,
    /// Who handed the task over, if it came by handoff.
    pub from: Option<String>,
    /// The handoff note.
    pub note: Option<String>,
    /// The holder's last record about the task other than renewing the claim
    /// (the claim or handoff itself, at first): what a supervisor calls work.
    pub worked: Hlc,
    /// When a supervisor last nudged the holder about this claim.
    pub nudged: Option<Hlc>,
}

impl Claim {
    /// Whether the lease still runs at `ms`.
    pub fn live_at(&self, ms: i64) -> bool {
        self.expires_ms > ms
    }
}

/// Why a task is blocked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Who blocked it.
    pub by: String,
    /// When.
    pub at: Hlc,
    /// Why.
    pub reason: String,
}

/// How a task was closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    /// Who closed it.
    pub by: String,
    /// When.
    pub at: Hlc,
    /// The receipt it names.
    pub receipt: Option<Id>,
    /// What was done.
    pub summary: Option<String>,
}

/// A task as the fold sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The task id (id of its `task.create` record).
    pub id: Id,
    /// Title.
    pub title: String,
    /// Description.
    pub body: Option<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// 0 (most urgent) to 4.
    pub priority: u8,
    /// The epic it belongs to.
    pub parent: Option<Id>,
    /// Tasks that must be done first.
    pub depends_on: Vec<Id>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: Hlc,
    /// Stamp of the last record that changed it.
    pub updated_at: Hlc,
    /// The current claim (possibly with its lease run out). Boxed, like the
    /// other optional parts, to keep the board's many tasks small in memory.
    pub holder: Option<Box<Claim>>,
    /// Set while blocked.
    pub blocked: Option<Box<Block>>,
    /// Set once done.
    pub done: Option<Box<Done>>,
    /// Counted comments.
    pub comments: u32,
    /// Ids of its receipts, oldest first.
    pub receipts: Vec<Id>,
    /// What each actor reported spending on it (`task.usage`).
    pub usage: BTreeMap<String, Usage>,
}

/// Where a task stands on the board at some moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Status {
    /// Open, unblocked, dependencies done, nobody holds it.
    Ready,
    /// Held by someone whose lease runs.
    InProgress {
        /// The holder.
        holder: String,
        /// Milliseconds of lease left.
        lease_left_ms: i64,
    },
    /// Blocked by someone, or waiting on dependencies.
    Blocked {
        /// Why.
        why: String,
    },
    /// Closed.
    Done,
}

impl Task {
    pub(super) fn new(r: &Record, t: &TaskCreate) -> Task {
        Task {
            id: r.id,
            title: t.title.clone(),
            body: t.body.clone(),
            labels: t.labels.clone(),
            priority: t.priority,
            parent: t.parent,
            depends_on: t.depends_on.clone(),
            created_by: r.author.clone(),
            created_at: r.at,
            updated_at: r.at,
            holder: None,
            blocked: None,
            done: None,
            comments: 0,
            receipts: Vec::new(),
            usage: BTreeMap::new(),
        }
    }

    /// The holder whose lease runs at `ms`.
    pub fn holder_at(&self, ms: i64) -> Option<&Claim> {
        self.holder.as_deref().filter(|c| c.live_at(ms))
    }

    /// Whether `actor` holds the task at `ms`.
    pub fn held_by(&self, actor: &str, ms: i64) -> bool {
        self.holder_at(ms).is_some_and(|c| c.actor == actor)
    }

    /// Dependencies not done yet (unknown ones count as not done).
    pub fn waiting_on<'a>(&'a self, state: &'a State) -> impl Iterator<Item = Id> + 'a {
        self.depends_on.iter().copied().filter(|d| state.tasks.get(d).is_none_or(|t| t.done.is_none()))
    }

    /// Where the task stands at wall-clock `now_ms`.
    pub fn status(&self, state: &State, now_ms: i64) -> Status {
        let holder = self.holder_at(now_ms).filter(|c| !state.is_stopped(&c.actor));
        status_of(
            self.done.is_some(),
            self.blocked.as_deref().map(block_why),
            holder.map(|c| (c.actor.as_str(), c.expires_ms)),
            &self.depends_on,
            |d| state.tasks.get(d).is_some_and(|t| t.done.is_some()),
            now_ms,
        )
    }

    /// Whether `actor` could claim the task now: the refusal if not. Stricter
    /// than the fold: dependencies must be done too.
    pub fn claimable_by(&self, state: &State, actor: &str, now_ms: i64) -> Result<(), Refusal> {
        claim_rules(state, self, actor, (Hlc { ms: now_ms, counter: u32::MAX }, Id([0xff; 32])))?;
        let waiting: Vec<String> = self.waiting_on(state).map(|d| d.short()).collect();
        if waiting.is_empty() {
            Ok(())
        } else {
            Err(Refusal::NotReady { task: self.id.short(), waiting })
        }
    }

    /// Ordering on the board: most urgent, then oldest, then id.
    pub fn board_key(&self) -> (u8, Hlc, Id) {
        (self.priority, self.created_at, self.id)
    }
}

/// What the board needs of a task. Small, so `next` and `board` read these
/// (the index keeps them beside the tasks) rather than whole tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The task id.
    pub id: Id,
    /// Title.
    pub title: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Priority.
    pub priority: u8,
    /// When it was created.
    pub created_at: Hlc,
    /// Its dependencies.
    pub depends_on: Vec<Id>,
    /// The holder and when its lease runs out (ms).
    pub holder: Option<(String, i64)>,
    /// `blocked by NAME: reason`, while blocked.
    pub blocked: Option<String>,
    /// Who closed it.
    pub done_by: Option<String>,
}

impl From<&Task> for Summary {
    fn from(t: &Task) -> Summary {
        Summary {
            id: t.id,
            title: t.title.clone(),
            labels: t.labels.clone(),
            priority: t.priority,
            created_at: t.created_at,
            depends_on: t.depends_on.clone(),
            holder: t.holder.as_ref().map(|c| (c.actor.clone(), c.expires_ms)),
            blocked: t.blocked.as_deref().map(block_why),
            done_by: t.done.as_ref().map(|d| d.by.clone()),
        }
    }
}

impl Summary {
    /// Ordering on the board: most urgent, then oldest, then id.
    pub fn board_key(&self) -> (u8, Hlc, Id) {
        (self.priority, self.created_at, self.id)
    }

    /// `task`'s summary as the board shows it in `state`: a suspended holder
    /// holds nothing (as [`Task::status`] has it).
    pub fn current(task: &Task, state: &State) -> Summary {
        let mut summary = Summary::from(task);
        summary.drop_stopped_holder(state);
        summary
    }

    /// A suspended holder holds nothing: its tasks are free for others.
    pub fn drop_stopped_holder(&mut self, state: &State) {
        if self.holder.as_ref().is_some_and(|(a, _)| state.is_stopped(a)) {
            self.holder = None;
        }
    }

    /// Whether it carries `label` (always, without a label).
    pub fn has_label(&self, label: Option<&str>) -> bool {
        label.is_none_or(|l| self.labels.iter().any(|x| x == l))
    }

    /// The holder whose lease runs at `now_ms`, and when it ends.
    pub fn holder_at(&self, now_ms: i64) -> Option<(&str, i64)> {
        self.holder.as_ref().filter(|(_, until)| *until > now_ms).map(|(a, until)| (a.as_str(), *until))
    }

    /// Where the task stands at `now_ms`, given which tasks are done.
    pub fn status(&self, is_done: impl Fn(&Id) -> bool, now_ms: i64) -> Status {
        status_of(
            self.done_by.is_some(),
            self.blocked.clone(),
            self.holder_at(now_ms),
            &self.depends_on,
            is_done,
            now_ms,
        )
    }

    /// Whether it is the supervisors' election task, which is never ready
    /// (only supervisors claim it, by id).
    pub fn is_election(&self) -> bool {
        self.labels.iter().any(|l| l == ELECTION_LABEL)
    }

    /// Whether it is ready at `now_ms` ([`Status::Ready`], without building it).
    pub fn is_ready(&self, is_done: impl Fn(&Id) -> bool, now_ms: i64) -> bool {
        !self.is_election()
            && self.done_by.is_none()
            && self.blocked.is_none()
            && self.holder_at(now_ms).is_none()
            && self.depends_on.iter().all(is_done)
    }
}

/// `blocked by NAME: reason`.
fn block_why(b: &Block) -> String {
    format!("blocked by {}: {}", b.by, b.reason)
}

/// The one status rule, for whole tasks and summaries alike: done, blocked,
/// held by a running lease, waiting on dependencies, or ready.
fn status_of(
    done: bool,
    blocked: Option<String>,
    holder: Option<(&str, i64)>,
    depends_on: &[Id],
    is_done: impl Fn(&Id) -> bool,
    now_ms: i64,
) -> Status {
    if done {
        return Status::Done;
    }
    if let Some(why) = blocked {
        return Status::Blocked { why };
    }
    if let Some((holder, until)) = holder {
        return Status::InProgress { holder: holder.to_owned(), lease_left_ms: until - now_ms };
    }
    let waiting: Vec<String> = depends_on.iter().filter(|d| !is_done(d)).map(Id::short).collect();
    if !waiting.is_empty() {
        return Status::Blocked { why: format!("waiting on {}", waiting.join(", ")) };
    }
    Status::Ready
}

/// The fold's claim rule, at the point `key` of the fold order.
fn claim_rules(state: &State, task: &Task, actor: &str, key: (Hlc, Id)) -> Result<(), Refusal> {
    if task.done.is_some() {
        return Err(Refusal::TaskDone(task.id.short()));
    }
    if let Some(b) = &task.blocked {
        return Err(Refusal::TaskBlocked { task: task.id.short(), reason: b.reason.clone() });
    }
    // A claim displaces a holder stopped at that point (the kill switch frees
    // its tasks); anything else is held until its lease runs out.
    let displaces = |c: &Claim| state.stopped_at(&c.actor, key);
    match task.holder_at(key.0.ms) {
        Some(c) if c.actor != actor && !displaces(c) => {
            Err(Refusal::TaskHeld { task: task.id.short(), holder: c.actor.clone() })
        }
        _ => Ok(()),
    }
}

/// Whether the task record `r` by `author` counts now.
pub(super) fn check(state: &State, author: &Actor, r: &Record) -> Result<(), Refusal> {
    let key = r.order_key();
    for linked in r.payload.linked_tasks() {
        state.task_at(&linked, key)?;
    }
    if let Payload::TaskCreate(_) = r.payload {
        return Ok(());
    }
    let Some(id) = r.task() else { return Ok(()) };
    let task = state.task_at(&id, key)?;
    let ms = r.at.ms;
    let holds = || task.held_by(&author.name, ms);
    let not_holder = || Refusal::NotHolder { task: task.id.short(), actor: author.name.clone() };
    match &r.payload {
        Payload::TaskEdit(e) => {
            for d in &e.depends_on {
                if let Some(cycle) = path(state, *d, id, |t| t.depends_on.clone()) {
                    return Err(Refusal::DependencyCycle(cycle_names(id, cycle)));
                }
            }
            if let Some(p) = e.parent {
                if let Some(cycle) = path(state, p, id, |t| t.parent.into_iter().collect()) {
                    return Err(Refusal::DependencyCycle(cycle_names(id, cycle)));
                }
            }
            Ok(())
        }
        Payload::TaskClaim(_) => claim_rules(state, task, &author.name, key),
        Payload::TaskRelease(_) => {
            let own = task.holder.as_ref().is_some_and(|c| c.actor == author.name);
            let forced = author.is_admin() || state.granted(&author.name, Power::Release);
            if own || (forced && task.holder.is_some()) {
                Ok(())
            } else {
                Err(not_holder())
            }
        }
        // A record that names something that does not exist is refused
        // whatever the board says; only then can it be void.
        Payload::TaskHandoff(h) => {
            state.actor_at(&h.to, key)?;
            if h.to == author.name {
                return Err(Refusal::NotPermitted(format!("{} cannot hand a task to itself", author.name)));
            }
            if !holds() {
                return Err(not_holder());
            }
            Ok(())
        }
        Payload::TaskDone(d) => {
            if let Some(rc) = d.receipt.filter(|rc| !task.receipts.contains(rc)) {
                return Err(state.missing(&rc.hex(), key, Refusal::UnknownReceipt(rc.short())));
            }
            if task.done.is_some() {
                return Err(Refusal::TaskDone(task.id.short()));
            }
            if !(holds() || (author.is_admin() && task.holder.is_some())) {
                return Err(not_holder());
            }
            Ok(())
        }
        Payload::TaskUnblock(_) if task.blocked.is_none() => Err(Refusal::NotBlocked(task.id.short())),
        Payload::TaskBlock(_) if task.done.is_some() => Err(Refusal::TaskDone(task.id.short())),
        _ => Ok(()),
    }
}

/// A path of `next` links from `from` to `to`, if one exists (`from` first).
fn path(state: &State, from: Id, to: Id, next: impl Fn(&Task) -> Vec<Id>) -> Option<Vec<Id>> {
    let mut stack = vec![vec![from]];
    let mut seen = std::collections::HashSet::new();
    while let Some(trail) = stack.pop() {
        let last = *trail.last().expect("trails are never empty");
        if last == to {
            return Some(trail);
        }
        if !seen.insert(last) {
            continue;
        }
        for n in state.tasks.get(&last).map(&next).unwrap_or_default() {
            let mut longer = trail.clone();
            longer.push(n);
            stack.push(longer);
        }
    }
    None
}

fn cycle_names(start: Id, trail: Vec<Id>) -> Vec<String> {
    std::iter::once(start).chain(trail).map(|t| t.short()).collect()
}

/// Apply a counted task record, keeping each actor's set of held tasks and the
/// receiver's inbox (for a handoff) in step.
pub(super) fn apply(state: &mut State, r: &Record) {
    if let Payload::TaskCreate(t) = &r.payload {
        state.tasks.insert(r.id, Task::new(r, t));
        return;
    }
    let Some(id) = r.task() else { return };
    let holder = |state: &State| state.tasks.get(&id).and_then(|t| t.holder.as_ref().map(|c| c.actor.clone()));
    let before = holder(state);
    apply_to_task(state, r);
    let after = holder(state);
    if before != after {
        if let Some(a) = before.and_then(|b| state.actors.get_mut(&b)) {
            a.holds.remove(&id);
        }
        if let Some(a) = after.and_then(|b| state.actors.get_mut(&b)) {
            a.holds.insert(id);
        }
    }
    if let Payload::TaskHandoff(h) = &r.payload {
        super::messages::handed_to(state, &h.to, r);
    }
}

fn apply_to_task(state: &mut State, r: &Record) {
    let Some(task) = r.task().and_then(|id| state.tasks.get_mut(&id)) else { return };
    task.updated_at = r.at;
    let ms = r.at.ms;
    // Any record of the holder about the task renews a running lease.
    if let Some(c) = task.holder.as_mut().filter(|c| c.actor == r.author && c.live_at(ms)) {
        c.expires_ms = ms.saturating_add(c.lease_ms);
        if !matches!(r.payload, Payload::TaskClaim(_)) {
            c.worked = c.worked.max(r.at);
        }
    }
    match &r.payload {
        Payload::TaskEdit(e) => {
            if let Some(t) = &e.title {
                task.title = t.clone();
            }
            if let Some(b) = &e.body {
                task.body = Some(b.clone());
            }
            if !e.labels.is_empty() {
                task.labels = e.labels.clone();
            }
            if let Some(p) = e.priority {
                task.priority = p;
            }
            if let Some(p) = e.parent {
                task.parent = Some(p);
            }
            task.depends_on.retain(|d| !e.drop_depends_on.contains(d));
            for d in &e.depends_on {
                if !task.depends_on.contains(d) {
                    task.depends_on.push(*d);
                }
            }
        }
        Payload::TaskClaim(c) => {
            let lease_ms = i64::try_from(c.lease).unwrap_or(i64::MAX / 2000).saturating_mul(1000);
            let renewal = task.holder.as_ref().is_some_and(|h| h.actor == r.author && h.live_at(ms));
            let (from, note) = match &task.holder {
                Some(h) if renewal => (h.from.clone(), h.note.clone()),
                _ => (None, None),
            };
            let kept = |f: fn(&Claim) -> Hlc| if renewal { task.holder.as_deref().map_or(r.at, f) } else { r.at };
            let (since, worked) = (kept(|h| h.since), kept(|h| h.worked));
            let nudged = if renewal { task.holder.as_ref().and_then(|h| h.nudged) } else { None };
            let record = if renewal { task.holder.as_ref().map_or(r.id, |h| h.record) } else { r.id };
            task.holder = Some(Box::new(Claim {
                actor: r.author.clone(),
                record,
                since,
                lease_ms,
                expires_ms: ms.saturating_add(lease_ms),
                offline: c.offline,
                from,
                note,
                worked,
                nudged,
            }));
        }
        Payload::TaskRelease(_) => task.holder = None,
        Payload::TaskHandoff(h) => {
            let lease_ms = task.holder.as_ref().map_or(0, |c| c.lease_ms);
            task.holder = Some(Box::new(Claim {
                actor: h.to.clone(),
                record: r.id,
                since: r.at,
                lease_ms,
                expires_ms: ms.saturating_add(lease_ms),
                offline: false,
                from: Some(r.author.clone()),
                note: h.note.clone(),
                worked: r.at,
                nudged: None,
            }));
        }
        Payload::TaskComment(_) => task.comments += 1,
        Payload::TaskBlock(b) => {
            task.blocked = Some(Box::new(Block { by: r.author.clone(), at: r.at, reason: b.reason.clone() }))
        }
        Payload::TaskUnblock(_) => task.blocked = None,
        Payload::TaskDone(d) => {
            task.holder = None;
            task.blocked = None;
            task.done =
                Some(Box::new(Done { by: r.author.clone(), at: r.at, receipt: d.receipt, summary: d.summary.clone() }));
        }
        Payload::Receipt(_) => task.receipts.push(r.id),
        Payload::TaskUsage(u) => policy::add_usage(&mut task.usage, &r.author, u),
        Payload::SuperviseStep(s) if s.step == StepKind::Nudge => {
            if let Some(c) = task.holder.as_mut().filter(|c| c.actor == s.actor) {
                c.nudged = Some(r.at);
            }
        }
        _ => {}
    }
}
