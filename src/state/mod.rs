//! State is a fold: identities and board are pure functions of the records.
//!
//! [`State::apply`] takes records in (`at`, id) order and either applies one or
//! refuses it with a [`Refusal`]; a refused record does not count. Authorization
//! lives here, not in the commands: every reader (commands, `verify`, the server
//! hook) gets the same answer for the same records, whatever order they arrived in.

pub mod actors;
pub mod messages;
pub mod policy;
pub mod reservations;
pub mod tasks;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::{Payload, Record, Role};

pub use actors::{Actor, Former, RetiredKey, Revocation, Stop, Suspension};
pub use policy::{Limits, Policy, Usage, Watch};
pub use reservations::Reservation;
pub use tasks::{Cancelled, Claim, Status, Summary, Task};

/// Why the fold refuses a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    /// The first record is not this workspace's genesis, or a genesis appears later.
    #[error("genesis record out of place: only the workspace's own genesis, first in CREW.yaml, may create it")]
    Genesis,
    /// Records before the genesis.
    #[error("record precedes the workspace genesis")]
    BeforeGenesis,
    /// The author is not an admitted actor.
    #[error("author {0:?} is not an admitted actor")]
    UnknownAuthor(String),
    /// The record is not signed with the author's current key.
    #[error("record by {author:?} is signed with key {key}, which is not {author}'s current key")]
    WrongKey {
        /// The author.
        author: String,
        /// Fingerprint of the key used.
        key: String,
    },
    /// The author lacks the role the action needs.
    #[error("{author:?} may not {action}: admin only")]
    NotAdmin {
        /// The author.
        author: String,
        /// What was attempted.
        action: String,
    },
    /// An actor of that name already exists.
    #[error("actor {0:?} already exists")]
    ActorExists(String),
    /// A named actor does not exist.
    #[error("no actor named {0:?}")]
    UnknownActor(String),
    /// An agent's owner must be a human or admin.
    #[error("owner {0:?} of an agent must be a human or an admin")]
    BadOwner(String),
    /// The task does not exist.
    #[error("no task {0}")]
    UnknownTask(String),
    /// The receipt is not one of the task's.
    #[error("no receipt {0} on this task")]
    UnknownReceipt(String),
    /// Not allowed for another reason, named.
    #[error("not permitted: {0}")]
    NotPermitted(String),
    /// Someone else holds the task.
    #[error("task {task} is held by {holder}")]
    TaskHeld {
        /// The task.
        task: String,
        /// Its holder.
        holder: String,
    },
    /// The author does not hold the task.
    #[error("{actor} does not hold task {task}")]
    NotHolder {
        /// The task.
        task: String,
        /// The author.
        actor: String,
    },
    /// The task is done.
    #[error("task {0} is done")]
    TaskDone(String),
    /// The task is cancelled.
    #[error("task {0} is cancelled")]
    TaskCancelled(String),
    /// Reopening a task that is open (neither done nor cancelled).
    #[error("task {0} is open: only a done or cancelled task is reopened")]
    NotClosed(String),
    /// The last admin who may act would stop being one.
    #[error("{0} is the last admin who may act: a workspace must keep one admin (admit or promote another first)")]
    LastAdmin(String),
    /// An actor who answers for agents would become an agent.
    #[error("{actor} answers for {}: an agent's owner is a human or an admin (give them another owner first)", agents.join(", "))]
    OwnsAgents {
        /// The actor.
        actor: String,
        /// The agents it answers for.
        agents: Vec<String>,
    },
    /// The task is blocked.
    #[error("task {task} is blocked: {reason}")]
    TaskBlocked {
        /// The task.
        task: String,
        /// Why.
        reason: String,
    },
    /// The task is not blocked.
    #[error("task {0} is not blocked")]
    NotBlocked(String),
    /// The author is suspended.
    #[error("{actor} is {suspension}")]
    Suspended {
        /// The author.
        actor: String,
        /// Who, when, why.
        suspension: Box<actors::Suspension>,
    },
    /// The author's key is revoked.
    #[error("the key of {actor} is {revocation}")]
    Revoked {
        /// The author.
        actor: String,
        /// Who, when, why.
        revocation: Box<actors::Revocation>,
    },
    /// The key is, or was, another actor's.
    #[error("key {key} is already {actor}'s: every actor needs a key of its own")]
    KeyInUse {
        /// Fingerprint of the key.
        key: String,
        /// Who has (or had) it.
        actor: String,
    },
    /// The proof of possession does not verify.
    #[error("the proof of possession for {0:?} does not verify: the key's holder did not ask for this name in this workspace")]
    BadProof(String),
    /// A key that is not a usable ed25519 point (small order, or not a point).
    #[error("key {0} is not a usable ed25519 key (not a point, or of small order)")]
    WeakKey(String),
    /// The record is about something whose own record is void (a task whose
    /// creation, an actor whose admission, did not count because of concurrent
    /// work), so it is void too.
    #[error("{0} does not exist: the record that made it is void")]
    VoidSubject(String),
    /// A heartbeat on the branch.
    #[error("heartbeats live on refs/crew/live/<actor>/<session>, never on the branch")]
    BeatOnBranch,
    /// A record of a suspended actor that its suspension did not include:
    /// dated before it, but not seen by the suspender.
    #[error("{actor}'s record was not seen by its suspension {suspension} (dated before it, arrived after)")]
    Unseen {
        /// The author.
        actor: String,
        /// The suspension record, abbreviated.
        suspension: String,
    },
    /// Resuming an actor that is not suspended.
    #[error("{0} is not suspended")]
    NotSuspended(String),
    /// Another actor holds a reservation overlapping these paths.
    #[error("{} reserved by {holder} (reservation {reservation})", paths.join(", "))]
    PathsReserved {
        /// The paths asked for that overlap it.
        paths: Vec<String>,
        /// Who holds it.
        holder: String,
        /// The reservation, abbreviated.
        reservation: String,
    },
    /// The reservation does not exist.
    #[error("no reservation {0}")]
    UnknownReservation(String),
    /// The reservation has ended, or the author does not hold it.
    #[error("{actor} does not hold reservation {reservation} (or it has ended)")]
    ReservationNotHeld {
        /// The reservation, abbreviated.
        reservation: String,
        /// The author.
        actor: String,
    },
    /// Dependencies are not done.
    #[error("task {task} is waiting on {}", waiting.join(", "))]
    NotReady {
        /// The task.
        task: String,
        /// Its open dependencies.
        waiting: Vec<String>,
    },
    /// The change would close a cycle of dependencies or parents.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    DependencyCycle(Vec<String>),
}

impl Refusal {
    /// Whether this refusal is because the author is stopped: suspended or its
    /// key revoked (exit 5).
    pub fn is_suspension(&self) -> bool {
        // A record its author's suspension did not see is refused because of
        // that suspension too: the author is told to stop (exit 5), not to
        // look again.
        matches!(self, Refusal::Suspended { .. } | Refusal::Revoked { .. } | Refusal::Unseen { .. })
    }

    /// Whether the record is void because of concurrent work (a lost claim, a
    /// release by a former holder, a cycle closed by two edits at once, two
    /// admins stepping down at once, a reopening of a task reopened already)
    /// rather than forged or unauthorized. Void records do not fail
    /// verification. A record its author had no authority for (an agent
    /// assigning to an agent it does not answer for, cancelling a task it did
    /// not create, a non-admin's update) is a failure.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Refusal::TaskHeld { .. }
                | Refusal::NotHolder { .. }
                | Refusal::TaskDone(_)
                | Refusal::TaskCancelled(_)
                | Refusal::NotClosed(_)
                | Refusal::LastAdmin(_)
                | Refusal::OwnsAgents { .. }
                | Refusal::TaskBlocked { .. }
                | Refusal::NotBlocked(_)
                | Refusal::NotReady { .. }
                | Refusal::DependencyCycle(_)
                | Refusal::Suspended { .. }
                | Refusal::Revoked { .. }
                | Refusal::Unseen { .. }
                | Refusal::NotSuspended(_)
                | Refusal::VoidSubject(_)
                | Refusal::PathsReserved { .. }
                | Refusal::ReservationNotHeld { .. }
        )
    }
}

/// A record the fold did not count, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ignored {
    /// The record.
    pub id: Id,
    /// Its kind.
    pub kind: String,
    /// Its author.
    pub author: String,
    /// Why it does not count.
    pub reason: Refusal,
}

/// The void subject of `name`'s key `key` (a name cannot hold `:`).
fn key_subject(name: &str, key: &crate::sign::PublicKey) -> String {
    format!("key:{name}:{key}")
}

/// The folded state of a workspace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The workspace id (id of the genesis record).
    pub workspace: Id,
    /// The workspace's name from the genesis.
    pub name: String,
    /// Admitted actors by name.
    pub actors: BTreeMap<String, Actor>,
    /// Tasks by id.
    pub tasks: BTreeMap<Id, Task>,
    /// Channels by name as written in records (`general`, `dm/a+b`, `task/<id>`).
    pub channels: BTreeMap<String, messages::ChannelInfo>,
    /// Order key of the last record folded.
    pub last: Option<(Hlc, Id)>,
    /// Number of records folded (counted or not).
    pub records: u64,
    /// Records that did not count.
    pub ignored: Vec<Ignored>,
    /// Per actor, the stretches of fold order its suspensions did not include.
    pub unseen: BTreeMap<String, Vec<Unseen>>,
    /// Tasks (and receipts) whose own record is void, actors whose admission
    /// is void, and keys whose rotation is void (`key_subject`), with where
    /// the earliest such record sorts: what refers to them (or is signed with
    /// the key) from later in the fold order is void too, not a failure.
    pub void_subjects: BTreeMap<String, (Hlc, Id)>,
    /// Each actor's inbox (the index keeps them apart from the core, one file
    /// per actor).
    pub inboxes: BTreeMap<String, messages::Inbox>,
    /// Every fleet policy that counted, in fold order (the last is in force).
    pub policies: Vec<Policy>,
    /// Per actor, what a supervisor judges it by: write rate, steps taken.
    pub watch: BTreeMap<String, Watch>,
    /// Path reservations by id (ended ones too).
    pub reservations: BTreeMap<Id, Reservation>,
    /// Actors whose inbox changed since the index last wrote them.
    #[serde(skip)]
    pub touched: std::collections::BTreeSet<String>,
}

/// Records of an actor after `after` and dated before `before` were not seen
/// by the suspension `record`, which stopped it at `before`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unseen {
    /// The last record of the actor the suspension included (none: nothing).
    pub after: Option<(Hlc, Id)>,
    /// The suspension's stamp.
    pub before: Hlc,
    /// The suspension.
    pub record: Id,
}

impl State {
    /// The empty state of workspace `ws`, before its genesis.
    pub fn new(ws: Id) -> State {
        State { workspace: ws, ..State::default() }
    }

    /// Fold `records` (in any order; they are sorted here) from the empty state.
    ///
    /// A suspension names the last record of the actor it saw, so what it
    /// includes is known only once it is folded, while the records it did not
    /// include sort before it. Hence two passes when there are suspensions: the
    /// first finds the suspensions that count, the second folds again knowing
    /// what each did not include. Both passes are functions of the record set.
    pub fn fold<'a>(ws: Id, records: impl IntoIterator<Item = &'a Record>) -> State {
        let mut sorted: Vec<&Record> = records.into_iter().collect();
        sorted.sort_by_key(|r| r.order_key());
        let first = State::fold_sorted(ws, &sorted, BTreeMap::new());
        let unseen = first.unseen_windows(&sorted);
        if unseen.is_empty() {
            return first;
        }
        State::fold_sorted(ws, &sorted, unseen)
    }

    fn fold_sorted(ws: Id, sorted: &[&Record], unseen: BTreeMap<String, Vec<Unseen>>) -> State {
        let mut state = State { unseen, ..State::new(ws) };
        for r in sorted {
            let _ = state.apply(r);
        }
        state
    }

    /// The stretches the counted suspensions among `sorted` did not include.
    fn unseen_windows(&self, sorted: &[&Record]) -> BTreeMap<String, Vec<Unseen>> {
        let refused: std::collections::HashSet<Id> = self.ignored.iter().map(|i| i.id).collect();
        let mut out: BTreeMap<String, Vec<Unseen>> = BTreeMap::new();
        for r in sorted.iter().filter(|r| !refused.contains(&r.id)) {
            if let Payload::ActorSuspend(s) = &r.payload {
                let after = s.seen_at.zip(s.seen);
                out.entry(s.name.clone()).or_default().push(Unseen { after, before: r.at, record: r.id });
            }
        }
        out
    }

    /// Apply one record, the next in (`at`, id) order. A refused record is kept
    /// in [`State::ignored`] and changes nothing else.
    pub fn apply(&mut self, r: &Record) -> Result<(), Refusal> {
        self.records += 1;
        self.last = self.last.max(Some(r.order_key()));
        let outcome = self.check(r).map(|()| self.mutate(r));
        if let Err(reason) = &outcome {
            if reason.is_conflict() {
                let subject = match &r.payload {
                    Payload::TaskCreate(_) | Payload::Receipt(_) | Payload::PathReserve(_) => Some(r.id.hex()),
                    Payload::ActorAdmit(a) => Some(a.name.clone()),
                    Payload::ActorRotate(a) => Some(key_subject(&a.name, &a.key)),
                    _ => None,
                };
                // The earliest void record of a subject decides, whatever
                // order records were applied in.
                if let Some(subject) = subject {
                    let made = self.void_subjects.entry(subject).or_insert(r.order_key());
                    *made = (*made).min(r.order_key());
                }
            }
            self.ignored.push(Ignored {
                id: r.id,
                kind: r.kind().to_owned(),
                author: r.author.clone(),
                reason: reason.clone(),
            });
        }
        outcome
    }

    /// Whether `r` would count if applied now. Writers call this before writing.
    pub fn check(&self, r: &Record) -> Result<(), Refusal> {
        if let Payload::Genesis(g) = &r.payload {
            let own = self.name.is_empty() && self.actors.is_empty() && r.id == self.workspace && g.key == r.key;
            return if own { Ok(()) } else { Err(Refusal::Genesis) };
        }
        // Before the genesis, where the record sorts (applied at the end,
        // a record sorting before the genesis finds it folded already).
        let genesis = self.actors.values().find(|a| a.admitted_record == self.workspace);
        if genesis.is_none_or(|g| r.order_key() < (g.admitted_at, g.admitted_record)) {
            return Err(Refusal::BeforeGenesis);
        }
        let author = self.author(r)?;
        let key = r.order_key();
        if let Some(stop) = author.stop_at(key) {
            return Err(stop.refusal(&author.name));
        }
        let missed = self
            .unseen
            .get(&r.author)
            .and_then(|w| w.iter().find(|u| r.at < u.before && u.after.is_none_or(|after| key > after)));
        if let Some(u) = missed {
            return Err(Refusal::Unseen { actor: r.author.clone(), suspension: u.record.short() });
        }
        match &r.payload {
            Payload::Genesis(_) => unreachable!("handled above"),
            Payload::LiveBeat(_) => Err(Refusal::BeatOnBranch),
            Payload::CrewRepair(_) if !author.is_admin_at(key) => {
                Err(Refusal::NotAdmin { author: author.name.clone(), action: "repair the branch".into() })
            }
            Payload::CrewRepair(_) => Ok(()),
            Payload::ActorAdmit(a) => actors::check_admit(self, author, a, key),
            Payload::ActorRotate(a) => actors::check_rotate(self, author, a, key),
            Payload::ActorRevoke(a) => actors::check_revoke(self, author, &a.name, key),
            Payload::ActorUpdate(a) => actors::check_update(self, author, a, key),
            Payload::ActorSuspend(a) => actors::check_control(self, author, &a.name, true, key),
            Payload::ActorResume(a) => actors::check_control(self, author, &a.name, false, key),
            Payload::MsgSend(_) | Payload::MsgJoin(_) | Payload::MsgLeave(_) | Payload::MsgAck(_) => {
                messages::check(self, author, r)
            }
            Payload::CrewPolicy(p) => policy::check_policy(self, author, p, key),
            Payload::SuperviseStep(s) => policy::check_step(self, author, s, key),
            Payload::PathReserve(_) | Payload::PathRelease(_) => reservations::check(self, author, r),
            _ => tasks::check(self, author, r),
        }
    }

    /// The author of `r`, if admitted before `r` and `r` is signed with the
    /// key the author had at that point of the fold order.
    ///
    /// Every check of the fold is written this way, by where a record sorts
    /// (its `(at, id)`) rather than by what happened to be folded before it:
    /// so a record applied after records that sort later in other files (as
    /// the server and the cache do with a push) gets the verdict the whole
    /// fold gives it.
    pub fn author(&self, r: &Record) -> Result<&Actor, Refusal> {
        let key = r.order_key();
        let actor = self
            .actors
            .get(&r.author)
            .filter(|a| a.admitted_before(key))
            .ok_or_else(|| self.missing(&r.author, key, Refusal::UnknownAuthor(r.author.clone())))?;
        if actor.key_at(key) != r.key {
            // Signed with the key of a void rotation: void too, not forged.
            let wrong = Refusal::WrongKey { author: r.author.clone(), key: r.key.fingerprint() };
            return Err(self.missing(&key_subject(&r.author, &r.key), key, wrong));
        }
        Ok(actor)
    }

    /// The actor `name`, if admitted before the point `key` of the fold order.
    pub fn actor_at(&self, name: &str, key: (Hlc, Id)) -> Result<&Actor, Refusal> {
        self.actors
            .get(name)
            .filter(|a| a.admitted_before(key))
            .ok_or_else(|| self.missing(name, key, Refusal::UnknownActor(name.to_owned())))
    }

    /// Why something referred to by name or id from the point `key` is
    /// missing: void if the record that would have made it is void and sorts
    /// before `key`, else `refusal`.
    pub(crate) fn missing(&self, subject: &str, key: (Hlc, Id), refusal: Refusal) -> Refusal {
        if self.void_subjects.get(subject).is_some_and(|made| *made < key) {
            Refusal::VoidSubject(subject.to_owned())
        } else {
            refusal
        }
    }

    /// Whether `actor` was stopped (suspended or revoked) at the point `key`.
    pub fn stopped_at(&self, actor: &str, key: (Hlc, Id)) -> bool {
        self.actors.get(actor).is_some_and(|a| a.stop_at(key).is_some())
    }

    fn mutate(&mut self, r: &Record) {
        if let Some(actor) = self.actors.get_mut(&r.author) {
            actor.records += 1;
            if actor.last_at.zip(actor.last_record) < Some(r.order_key()) {
                actor.last_at = Some(r.at);
                actor.last_record = Some(r.id);
            }
        }
        match &r.payload {
            Payload::Genesis(g) => {
                self.name = g.workspace.clone();
                self.actors.insert(r.author.clone(), Actor::new(&r.author, Role::Admin, g.key, None, r));
            }
            Payload::ActorSuspend(a) => {
                if let Some(target) = self.actors.get_mut(&a.name) {
                    let s =
                        actors::Suspension { by: r.author.clone(), at: r.at, reason: a.reason.clone(), record: r.id };
                    target.stop(s.clone(), false);
                    target.suspended = Some(s);
                }
                // Its window holds for records that arrive after it (applied at
                // the end); those folded before it are the second pass's job.
                let window = Unseen { after: a.seen_at.zip(a.seen), before: r.at, record: r.id };
                let windows = self.unseen.entry(a.name.clone()).or_default();
                if !windows.contains(&window) {
                    windows.push(window);
                }
            }
            Payload::ActorResume(a) => {
                if let Some(target) = self.actors.get_mut(&a.name) {
                    target.suspended = None;
                    target.unstop(r.order_key(), false);
                }
            }
            Payload::ActorRotate(a) => {
                if let Some(target) = self.actors.get_mut(&a.name) {
                    let old = std::mem::replace(&mut target.key, a.key);
                    target.retired.push(actors::RetiredKey { key: old, record: r.id, at: r.at });
                    target.revoked = None;
                    target.unstop(r.order_key(), true);
                }
            }
            Payload::ActorRevoke(a) => {
                if let Some(target) = self.actors.get_mut(&a.name) {
                    let v =
                        actors::Revocation { by: r.author.clone(), at: r.at, reason: a.reason.clone(), record: r.id };
                    let as_stop =
                        actors::Suspension { by: v.by.clone(), at: v.at, reason: v.reason.clone(), record: v.record };
                    target.stop(as_stop, true);
                    target.revoked.get_or_insert(v);
                }
            }
            Payload::ActorUpdate(a) => {
                let key = r.order_key();
                if let Some(target) = self.actors.get_mut(&a.name) {
                    let (role, owner) = actors::updated(target, a, key);
                    let old_role = std::mem::replace(&mut target.role, role);
                    let old_owner = std::mem::replace(&mut target.owner, owner);
                    target.former.push(actors::Former { role: old_role, owner: old_owner, record: r.id, at: r.at });
                }
            }
            Payload::LiveBeat(_) | Payload::CrewRepair(_) => {}
            Payload::ActorAdmit(a) => {
                self.actors.insert(a.name.clone(), Actor::new(&a.name, a.role, a.key, a.owner.clone(), r));
            }
            Payload::MsgSend(_) | Payload::MsgJoin(_) | Payload::MsgLeave(_) | Payload::MsgAck(_) => {
                messages::apply(self, r)
            }
            Payload::CrewPolicy(_) => {}
            Payload::PathReserve(_) | Payload::PathRelease(_) => reservations::apply(self, r),
            _ => tasks::apply(self, r),
        }
        policy::apply(self, r);
    }

    /// Whether `actor` is stopped: suspended, or its key revoked. A stopped
    /// actor's claims hold nothing.
    pub fn is_stopped(&self, actor: &str) -> bool {
        self.actors.get(actor).is_some_and(|a| !a.may_work())
    }

    /// Why `r` is unacceptable as a new record on a server, whatever its date:
    /// a suspension or revocation of its author, or the rotation that retired
    /// its key, where that control record is one the server already had
    /// (`trusted`). A push may carry records written before a control record it
    /// also carries.
    ///
    /// A stop the server had still holds for a record unless the resumption
    /// (or rotation) that ended it was published too, or is carried in the
    /// push and sorts before the record: a record dated before a resumption
    /// it rides with is one written while stopped.
    pub fn stopped_by(&self, r: &Record, trusted: impl Fn(&Id) -> bool) -> Option<String> {
        let actor = self.actors.get(&r.author)?;
        let key = r.order_key();
        let holds =
            |s: &&actors::Stop| trusted(&s.by.record) && s.to.is_none_or(|(at, id)| !trusted(&id) && key < (at, id));
        if let Some(stop) = actor.stops.iter().find(holds) {
            let whose = if stop.revoked { "the key of " } else { "" };
            return Some(format!("{whose}{} is {stop}", r.author));
        }
        let retired = actor.retired.iter().find(|k| k.key == r.key && trusted(&k.record))?;
        Some(format!("it is signed with a key of {} rotated out at {}", r.author, retired.at))
    }

    /// The task `id`, or the refusal naming it.
    pub fn task(&self, id: &Id) -> Result<&Task, Refusal> {
        self.tasks.get(id).ok_or_else(|| Refusal::UnknownTask(id.short()))
    }

    /// The task `id`, if created before the point `key` of the fold order.
    pub fn task_at(&self, id: &Id, key: (Hlc, Id)) -> Result<&Task, Refusal> {
        self.tasks
            .get(id)
            .filter(|t| (t.created_at, t.id) < key)
            .ok_or_else(|| self.missing(&id.hex(), key, Refusal::UnknownTask(id.short())))
    }

    /// The last stamp folded, if any.
    pub fn max_at(&self) -> Option<Hlc> {
        self.last.map(|(at, _)| at)
    }
}

#[cfg(test)]
mod tests;
