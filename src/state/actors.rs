//! Identities in the fold: who is admitted, with which role, owner and key.
//!
//! An actor's role and owner change only by an admin's `actor.update`; like
//! its key, both are judged where a record sorts ([`Actor::role_at`],
//! [`Actor::owner_at`]), so a record by an admin that sorts after its own
//! demotion is refused, as one signed with a retired key is. An update keeps
//! the workspace governable: an agent keeps an owner who is a human or an
//! admin (an actor who answers for agents is not made an agent:
//! [`Refusal::OwnsAgents`]), and the last admin who may act (admitted, not
//! suspended or revoked) cannot step down ([`Refusal::LastAdmin`]). Both are
//! void, not failures: two admins stepping down at once is concurrency.

use serde::{Deserialize, Serialize};

use std::collections::BTreeSet;

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::kinds::{ActorAdmit, ActorRotate, ActorUpdate, Power};
use crate::record::{OrderKey, Record, Role};
use crate::sign::PublicKey;

use super::{Refusal, State};

/// An admitted actor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Name, unique in the workspace.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Current signing key.
    pub key: PublicKey,
    /// For agents: the human who answers for it.
    pub owner: Option<String>,
    /// Who admitted it (itself, for the genesis admin).
    pub admitted_by: String,
    /// When it was admitted.
    pub admitted_at: Hlc,
    /// The record that admitted it (the genesis, for the first admin).
    pub admitted_record: Id,
    /// Records it has authored that counted.
    pub records: u64,
    /// Stamp of its last counted record.
    pub last_at: Option<Hlc>,
    /// Its last counted record.
    pub last_record: Option<Id>,
    /// Tasks it holds (its claim may have run out).
    pub holds: BTreeSet<Id>,
    /// Set while suspended (the kill switch).
    pub suspended: Option<Suspension>,
    /// Set once its key is revoked, until an admin gives it a new one.
    pub revoked: Option<Revocation>,
    /// Keys it had before, oldest first, each valid only before its rotation.
    pub retired: Vec<RetiredKey>,
    /// Every stretch of the fold order in which it was stopped (suspended,
    /// or its key revoked), oldest first, so a record is judged by where it
    /// sorts, not by what was folded before it arrived.
    pub stops: Vec<Stop>,
    /// Its role and owner before each `actor.update` of it, oldest first,
    /// each valid only before that update.
    pub former: Vec<Former>,
}

/// An actor's role and owner before an `actor.update` changed them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Former {
    /// The role it had.
    pub role: Role,
    /// The owner it had.
    pub owner: Option<String>,
    /// The `actor.update` record that changed them; they count only before it.
    pub record: Id,
    /// When.
    pub at: Hlc,
}

/// A stretch of fold order in which an actor was stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    /// The suspension or revocation that began it: who, when, why.
    pub by: Suspension,
    /// The resumption (or, for a revocation, the rotation) that ended it.
    pub to: Option<(Hlc, Id)>,
    /// A revocation (else a suspension).
    pub revoked: bool,
}

impl Stop {
    fn from(&self) -> (Hlc, Id) {
        (self.by.at, self.by.record)
    }

    /// Why a record by the stopped actor does not count.
    pub fn refusal(&self, actor: &str) -> Refusal {
        let b = &self.by;
        if self.revoked {
            let revocation = Revocation { by: b.by.clone(), at: b.at, reason: b.reason.clone(), record: b.record };
            Refusal::Revoked { actor: actor.to_owned(), revocation: Box::new(revocation) }
        } else {
            Refusal::Suspended { actor: actor.to_owned(), suspension: Box::new(b.clone()) }
        }
    }
}

/// A key an actor no longer signs with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredKey {
    /// The old key.
    pub key: PublicKey,
    /// The `actor.rotate` record that retired it; it counts only before it.
    pub record: Id,
    /// When.
    pub at: Hlc,
}

/// Who revoked an actor's key, when and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The admin (or the actor itself).
    pub by: String,
    /// When.
    pub at: Hlc,
    /// Why.
    pub reason: Option<String>,
    /// The `actor.revoke` record.
    pub record: Id,
}

impl std::fmt::Display for Revocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        describe(f, "revoked", &self.by, self.at, self.reason.as_deref())
    }
}

/// `<what> by <who> at <when>[: <why>]`.
fn describe(f: &mut std::fmt::Formatter<'_>, what: &str, by: &str, at: Hlc, why: Option<&str>) -> std::fmt::Result {
    write!(f, "{what} by {by} at {at}")?;
    match why {
        Some(r) => write!(f, ": {r}"),
        None => Ok(()),
    }
}

/// Who suspended an actor, when and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// The admin or owner who suspended it.
    pub by: String,
    /// When.
    pub at: Hlc,
    /// Why.
    pub reason: Option<String>,
    /// The `actor.suspend` record.
    pub record: Id,
}

impl std::fmt::Display for Suspension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        describe(f, "suspended", &self.by, self.at, self.reason.as_deref())
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.revoked { "revoked" } else { "suspended" };
        describe(f, what, &self.by.by, self.by.at, self.by.reason.as_deref())
    }
}

impl Actor {
    pub(super) fn new(name: &str, role: Role, key: PublicKey, owner: Option<String>, by: &Record) -> Actor {
        Actor {
            name: name.to_owned(),
            role,
            key,
            owner,
            admitted_by: by.author.clone(),
            admitted_at: by.at,
            admitted_record: by.id,
            records: 0,
            last_at: None,
            last_record: None,
            holds: BTreeSet::new(),
            suspended: None,
            revoked: None,
            retired: Vec::new(),
            stops: Vec::new(),
            former: Vec::new(),
        }
    }

    /// Its role at the point `key` of the fold order: the role of its
    /// admission or of the last update before that point.
    pub fn role_at(&self, key: (Hlc, Id)) -> Role {
        self.former.iter().find(|f| (f.at, f.record) > key).map_or(self.role, |f| f.role)
    }

    /// Its owner at the point `key` of the fold order.
    pub fn owner_at(&self, key: (Hlc, Id)) -> Option<&str> {
        self.former.iter().find(|f| (f.at, f.record) > key).map_or(self.owner.as_deref(), |f| f.owner.as_deref())
    }

    /// Whether it was an admin at the point `key` of the fold order.
    pub fn is_admin_at(&self, key: (Hlc, Id)) -> bool {
        self.role_at(key) == Role::Admin
    }

    /// Whether it was admitted before the point `key` of the fold order.
    pub fn admitted_before(&self, key: (Hlc, Id)) -> bool {
        (self.admitted_at, self.admitted_record) < key
    }

    /// The key it signed with at the point `key` of the fold order: the key
    /// of its admission or of the last rotation before that point.
    pub fn key_at(&self, key: (Hlc, Id)) -> PublicKey {
        self.retired.iter().find(|r| (r.at, r.record) > key).map_or(self.key, |r| r.key)
    }

    /// The stop (suspension or revocation) in force at the point `key` of the
    /// fold order, if any.
    pub fn stop_at(&self, key: (Hlc, Id)) -> Option<&Stop> {
        self.stops.iter().find(|s| s.from() < key && s.to.is_none_or(|to| to > key))
    }

    /// Open a stop at the point of `by` (unless one of its kind is open).
    pub(super) fn stop(&mut self, by: Suspension, revoked: bool) {
        if !self.stops.iter().any(|s| s.revoked == revoked && s.to.is_none()) {
            self.stops.push(Stop { by, to: None, revoked });
        }
    }

    /// Close the open stop of its kind at `at`.
    pub(super) fn unstop(&mut self, at: (Hlc, Id), revoked: bool) {
        if let Some(s) = self.stops.iter_mut().find(|s| s.revoked == revoked && s.to.is_none()) {
            s.to = Some(at);
        }
    }

    /// Whether the actor is an admin now (at the end of the fold).
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether it may work: neither suspended nor revoked.
    pub fn may_work(&self) -> bool {
        self.suspended.is_none() && self.revoked.is_none()
    }

    /// Whether `key` is or was this actor's.
    pub fn has_had_key(&self, key: &PublicKey) -> bool {
        self.key == *key || self.retired.iter().any(|r| r.key == *key)
    }
}

/// A key belongs to one actor, ever: an admission or rotation must bring a key
/// no actor has had (so no admitted actor can admit itself again under a new
/// name), with a proof that its holder asked for it under this name here.
fn check_new_key(
    state: &State,
    name: &str,
    key: &PublicKey,
    proof: Option<&crate::sign::Signature>,
) -> Result<(), Refusal> {
    if !crate::sign::is_valid_key(key) {
        return Err(Refusal::WeakKey(key.fingerprint()));
    }
    if let Some(holder) = state.actors.values().find(|a| a.has_had_key(key)) {
        return Err(Refusal::KeyInUse { key: key.fingerprint(), actor: holder.name.clone() });
    }
    if proof.is_some_and(|p| !crate::sign::verify_proof(&state.workspace, name, key, p)) {
        return Err(Refusal::BadProof(name.to_owned()));
    }
    Ok(())
}

pub(super) fn check_admit(state: &State, author: &Actor, a: &ActorAdmit, at: OrderKey) -> Result<(), Refusal> {
    if !author.is_admin_at(at) {
        return Err(Refusal::NotAdmin { author: author.name.clone(), action: format!("admit {:?}", a.name) });
    }
    if state.actors.contains_key(&a.name) {
        return Err(Refusal::ActorExists(a.name.clone()));
    }
    if let Some(owner) = &a.owner {
        let o = state.actor_at(owner, at)?;
        if o.role_at(at) == Role::Agent {
            return Err(Refusal::BadOwner(owner.clone()));
        }
    }
    check_new_key(state, &a.name, &a.key, a.proof.as_ref())
}

/// `actor.rotate`: by the actor itself or an admin, to a fresh, proven key.
pub(super) fn check_rotate(state: &State, author: &Actor, a: &ActorRotate, at: OrderKey) -> Result<(), Refusal> {
    state.actor_at(&a.name, at)?;
    if author.name != a.name && !author.is_admin_at(at) {
        let action = format!("rotate the key of {:?} (admin or the actor itself only)", a.name);
        return Err(Refusal::NotAdmin { author: author.name.clone(), action });
    }
    check_new_key(state, &a.name, &a.key, Some(&a.proof))
}

/// `actor.revoke`: by an admin or the actor itself.
pub(super) fn check_revoke(state: &State, author: &Actor, name: &str, at: OrderKey) -> Result<(), Refusal> {
    state.actor_at(name, at)?;
    if author.name != name && !author.is_admin_at(at) {
        let action = format!("revoke the key of {name:?} (admin or the actor itself only)");
        return Err(Refusal::NotAdmin { author: author.name.clone(), action });
    }
    Ok(())
}

/// `actor.suspend` and `actor.resume`: by an admin, or by the owner of the
/// agent; a suspension of an agent also by a supervisor granted `suspend`.
pub(super) fn check_control(
    state: &State,
    author: &Actor,
    name: &str,
    suspend: bool,
    at: OrderKey,
) -> Result<(), Refusal> {
    let target = state.actor_at(name, at)?;
    let owner = target.owner_at(at) == Some(author.name.as_str());
    // A supervisor the policy grants `suspend` stops agents, never a human
    // or an admin, and never lifts a suspension.
    let supervisor = suspend && state.supervises(&author.name, name, Power::Suspend, at);
    if !author.is_admin_at(at) && !owner && !supervisor {
        let action = match suspend {
            true => format!(
                "suspend {name:?} (an admin, the agent's owner, or a supervisor the fleet policy grants suspend)"
            ),
            false => format!("resume {name:?} (admin or the agent's owner only)"),
        };
        return Err(Refusal::NotAdmin { author: author.name.clone(), action });
    }
    if suspend && author.name == name {
        return Err(Refusal::NotPermitted(format!(
            "{name} cannot suspend itself (an actor stops itself by revoking its key)"
        )));
    }
    if !suspend && target.suspended.is_none() {
        return Err(Refusal::NotSuspended(name.to_owned()));
    }
    Ok(())
}

/// `actor.update`: by an admin; the actor (and a new owner) admitted before
/// it. Then what the actor would become: an agent needs an owner who is a
/// human or an admin, and no other actor (failures); an actor who answers for
/// agents stays a human or an admin, and the last admin who may act stays an
/// admin (void: two updates at once can each be right alone).
pub(super) fn check_update(state: &State, author: &Actor, a: &ActorUpdate, at: OrderKey) -> Result<(), Refusal> {
    if !author.is_admin_at(at) {
        let action = format!("change the role or owner of {:?}", a.name);
        return Err(Refusal::NotAdmin { author: author.name.clone(), action });
    }
    let target = state.actor_at(&a.name, at)?;
    if let Some(owner) = &a.owner {
        let o = state.actor_at(owner, at)?;
        if o.role_at(at) == Role::Agent {
            return Err(Refusal::BadOwner(owner.clone()));
        }
        if *owner == a.name {
            return Err(Refusal::NotPermitted(format!("{owner} cannot answer for itself: an owner is another actor")));
        }
    }
    let (role, owner) = updated(target, a, at);
    if role == Role::Agent && owner.is_none() {
        return Err(Refusal::NotPermitted(format!(
            "{} cannot be an agent without an owner: name the human who answers for it",
            a.name
        )));
    }
    if role == Role::Agent {
        let agents: Vec<String> = state
            .actors
            .values()
            .filter(|x| x.admitted_before(at) && x.role_at(at) == Role::Agent && x.owner_at(at) == Some(&a.name))
            .map(|x| x.name.clone())
            .collect();
        if !agents.is_empty() {
            return Err(Refusal::OwnsAgents { actor: a.name.clone(), agents });
        }
    }
    if target.is_admin_at(at) && role != Role::Admin {
        let others = state
            .actors
            .values()
            .any(|x| x.name != a.name && x.admitted_before(at) && x.is_admin_at(at) && x.stop_at(at).is_none());
        if !others {
            return Err(Refusal::LastAdmin(a.name.clone()));
        }
    }
    Ok(())
}

/// The role and owner `target` has after the update `a` at `at`: an owner
/// given replaces the old one; a change to a human or an admin without one
/// drops the old owner (only an agent needs one).
pub(super) fn updated(target: &Actor, a: &ActorUpdate, at: OrderKey) -> (Role, Option<String>) {
    let role = a.role.unwrap_or(target.role_at(at));
    let kept = if role == Role::Agent || a.role.is_none() { target.owner_at(at).map(str::to_owned) } else { None };
    (role, a.owner.clone().or(kept))
}
