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
//! - **Assigning** is a handoff from nobody: an admin, or the owner of the
//!   receiving agent (`to`), hands off a task that no one holds with a running
//!   lease (no holder, its lease ran out, or it is stopped at that point). The
//!   task must be open and not blocked, as for a claim (else void). The new
//!   holder's lease is the handoff's `lease`, else the last holder's lease
//!   length, else [`DEFAULT_ASSIGN_LEASE_SECS`]. A handoff by an actor who
//!   neither holds the task, nor held it before (a former holder's handoff is
//!   a lost race: void), nor may assign it, is a failure.
//! - **Cancelling** (`task.cancel`, won't do) is for an admin, a human or the
//!   task's creator (else a failure). It closes the task (holder and block
//!   cleared), void if it is done or cancelled already; afterwards claims,
//!   handoffs, blocks and closings of it are void, as on a done task. A
//!   cancelled task is closed: it no longer holds back the tasks that depend
//!   on it (they may be ready), so a plan that drops a step goes on without
//!   it. `waiting_on` and the board's readiness treat it as done.
//! - **Reopening** (`task.reopen`) a done or cancelled task is for an admin, a
//!   human, or the actor who closed it (else a failure); it clears the closing
//!   and the task is open again (ready unless blocked or waiting). Reopening
//!   an open task is void (a task reopened twice at once).
//! - Roles and owners are those at the record's point of the fold order
//!   ([`Actor::role_at`], [`Actor::owner_at`]).
//!
//! Void records are concurrency, not forgery: they change nothing, are kept in
//! [`State::ignored`](super::State) with a reason, and `verify` accepts them
//! ([`Refusal::is_conflict`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::kinds::{Power, Role, StepKind, TaskCreate, DEFAULT_ASSIGN_LEASE_SECS, ELECTION_LABEL};
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

/// How a task was cancelled (closed as won't do).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancelled {
    /// Who cancelled it.
    pub by: String,
    /// When.
    pub at: Hlc,
    /// Why it will not be done.
    pub reason: String,
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
    /// Set once done (until reopened).
    pub done: Option<Box<Done>>,
    /// Set once cancelled (until reopened).
    pub cancelled: Option<Box<Cancelled>>,
    /// Every actor that has held it (by a claim or a handoff), first time first.
    pub past_holders: Vec<String>,
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
    /// Closed as won't do.
    Cancelled,
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
            cancelled: None,
            past_holders: Vec::new(),
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

    /// Whether it is closed: done or cancelled.
    pub fn is_closed(&self) -> bool {
        self.done.is_some() || self.cancelled.is_some()
    }

    /// Why a record that needs an open task is void: done, or cancelled.
    pub fn closed(&self) -> Option<Refusal> {
        if self.done.is_some() {
            Some(Refusal::TaskDone(self.id.short()))
        } else if self.cancelled.is_some() {
            Some(Refusal::TaskCancelled(self.id.short()))
        } else {
            None
        }
    }

    /// Who closed it (done or cancelled), if it is closed.
    pub fn closed_by(&self) -> Option<&str> {
        self.done.as_ref().map(|d| d.by.as_str()).or(self.cancelled.as_ref().map(|c| c.by.as_str()))
    }

    /// Dependencies not closed yet (unknown ones count as open): a cancelled
    /// dependency no longer holds the task back.
    pub fn waiting_on<'a>(&'a self, state: &'a State) -> impl Iterator<Item = Id> + 'a {
        self.depends_on.iter().copied().filter(|d| state.tasks.get(d).is_none_or(|t| !t.is_closed()))
    }

    /// Where the task stands at wall-clock `now_ms`.
    pub fn status(&self, state: &State, now_ms: i64) -> Status {
        if self.cancelled.is_some() {
            return Status::Cancelled;
        }
        let holder = self.holder_at(now_ms).filter(|c| !state.is_stopped(&c.actor));
        status_of(
            self.done.is_some(),
            self.blocked.as_deref().map(block_why),
            holder.map(|c| (c.actor.as_str(), c.expires_ms)),
            &self.depends_on,
            |d| state.tasks.get(d).is_some_and(Task::is_closed),
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
    /// Who cancelled it.
    pub cancelled_by: Option<String>,
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
            cancelled_by: t.cancelled.as_ref().map(|c| c.by.clone()),
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

    /// Whether it is closed: done or cancelled.
    pub fn is_closed(&self) -> bool {
        self.done_by.is_some() || self.cancelled_by.is_some()
    }

    /// Where the task stands at `now_ms`, given which tasks are closed (done
    /// or cancelled).
    pub fn status(&self, is_done: impl Fn(&Id) -> bool, now_ms: i64) -> Status {
        if self.cancelled_by.is_some() {
            return Status::Cancelled;
        }
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
            && !self.is_closed()
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
    if let Some(closed) = task.closed() {
        return Err(closed);
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
    if let Payload::TaskCreate(t) = &r.payload {
        return election_guard(state, author, &t.labels, key);
    }
    let Some(id) = r.task() else { return Ok(()) };
    let task = state.task_at(&id, key)?;
    election_guard(state, author, &task.labels, key)?;
    if let Payload::TaskEdit(e) = &r.payload {
        let had = task.labels.iter().any(|l| l == ELECTION_LABEL);
        let has = if e.labels.is_empty() { had } else { e.labels.iter().any(|l| l == ELECTION_LABEL) };
        if had != has && !author.is_admin_at(key) {
            return Err(Refusal::NotPermitted(format!(
                "{} may not give or take the label {ELECTION_LABEL} (admins only)",
                author.name
            )));
        }
    }
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
            let forced =
                |holder: &str| author.is_admin_at(key) || state.supervises(&author.name, holder, Power::Release, key);
            if own || task.holder.as_ref().is_some_and(|c| forced(&c.actor)) {
                Ok(())
            } else {
                Err(not_holder())
            }
        }
        // A record that names something that does not exist is refused
        // whatever the board says; only then can it be void.
        Payload::TaskHandoff(h) => {
            let to = state.actor_at(&h.to, key)?;
            if h.to == author.name {
                return Err(Refusal::NotPermitted(format!("{} cannot hand a task to itself", author.name)));
            }
            if holds() {
                return Ok(());
            }
            let assigns = author.is_admin_at(key) || to.owner_at(key) == Some(author.name.as_str());
            if !assigns {
                // A former holder lost the task to concurrent work; anyone
                // else had no claim to hand over and no right to assign it.
                return if task.past_holders.contains(&author.name) {
                    Err(not_holder())
                } else {
                    Err(Refusal::NotPermitted(format!(
                        "{} may not assign task {} to {}: only its holder, an admin or {}'s owner may",
                        author.name,
                        task.id.short(),
                        h.to,
                        h.to
                    )))
                };
            }
            // An assignment: a handoff from nobody, on the claim's terms.
            claim_rules(state, task, &h.to, key)?;
            match task.holder_at(ms) {
                Some(c) if c.actor == h.to && !state.stopped_at(&c.actor, key) => {
                    Err(Refusal::TaskHeld { task: task.id.short(), holder: c.actor.clone() })
                }
                _ => Ok(()),
            }
        }
        Payload::TaskCancel(_) => {
            let role = author.role_at(key);
            if !(role == Role::Admin || role == Role::Human || task.created_by == author.name) {
                return Err(Refusal::NotPermitted(format!(
                    "{} may not cancel task {}: only an admin, a human or its creator ({}) may",
                    author.name,
                    task.id.short(),
                    task.created_by
                )));
            }
            task.closed().map_or(Ok(()), Err)
        }
        Payload::TaskReopen(_) => {
            let Some(closer) = task.closed_by() else {
                return Err(Refusal::NotClosed(task.id.short()));
            };
            let role = author.role_at(key);
            if !(role == Role::Admin || role == Role::Human || closer == author.name) {
                return Err(Refusal::NotPermitted(format!(
                    "{} may not reopen task {}: only an admin, a human or who closed it ({closer}) may",
                    author.name,
                    task.id.short()
                )));
            }
            Ok(())
        }
        Payload::TaskDone(d) => {
            if let Some(rc) = d.receipt.filter(|rc| !task.receipts.contains(rc)) {
                return Err(state.missing(&rc.hex(), key, Refusal::UnknownReceipt(rc.short())));
            }
            if let Some(closed) = task.closed() {
                return Err(closed);
            }
            if !(holds() || (author.is_admin_at(key) && task.holder.is_some())) {
                return Err(not_holder());
            }
            Ok(())
        }
        Payload::TaskUnblock(_) if task.blocked.is_none() => Err(Refusal::NotBlocked(task.id.short())),
        Payload::TaskBlock(_) => task.closed().map_or(Ok(()), Err),
        _ => Ok(()),
    }
}

/// The supervisors' election task (a task labelled [`ELECTION_LABEL`]) is
/// never ready and decides who supervises: only an admin or an actor the
/// policy grants a power makes it or writes about it (and only an admin
/// gives or takes the label with an edit). Otherwise any agent could hide a
/// task, or hold the election and silence every supervisor.
fn election_guard(state: &State, author: &Actor, labels: &[String], key: (Hlc, Id)) -> Result<(), Refusal> {
    if !labels.iter().any(|l| l == ELECTION_LABEL) {
        return Ok(());
    }
    let supervisor = state.policy_at(key).is_some_and(|p| !p.powers(&author.name).is_empty());
    if author.is_admin_at(key) || supervisor {
        return Ok(());
    }
    Err(Refusal::NotPermitted(format!(
        "{} may not write about the supervisors' election task (label {ELECTION_LABEL}): admins and supervisors \
         the fleet policy grants a power only",
        author.name
    )))
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
    // The reservations that follow the task end with the holding they were
    // made under: a release, a closing, or a claim that is not a renewal
    // (a handoff passes them on).
    let new_claim = state.tasks.get(&id).and_then(|t| t.holder.as_ref()).is_some_and(|c| c.record == r.id);
    let ends = match &r.payload {
        Payload::TaskRelease(_) | Payload::TaskDone(_) | Payload::TaskCancel(_) => true,
        Payload::TaskClaim(_) => new_claim,
        _ => false,
    };
    if ends {
        super::reservations::end_for_task(state, id, r.at);
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
            if !task.past_holders.contains(&r.author) {
                task.past_holders.push(r.author.clone());
            }
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
            let secs = |s: u64| i64::try_from(s).unwrap_or(i64::MAX / 2000).saturating_mul(1000);
            let lease_ms = match (h.lease, &task.holder) {
                (Some(l), _) => secs(l),
                (None, Some(c)) => c.lease_ms,
                (None, None) => secs(DEFAULT_ASSIGN_LEASE_SECS),
            };
            if !task.past_holders.contains(&h.to) {
                task.past_holders.push(h.to.clone());
            }
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
        Payload::TaskCancel(c) => {
            task.holder = None;
            task.blocked = None;
            task.cancelled = Some(Box::new(Cancelled { by: r.author.clone(), at: r.at, reason: c.reason.clone() }));
        }
        Payload::TaskReopen(_) => {
            task.done = None;
            task.cancelled = None;
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
