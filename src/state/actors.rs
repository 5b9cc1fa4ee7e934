//! Identities in the fold: who is admitted, with which role and key.

use serde::{Deserialize, Serialize};

use std::collections::BTreeSet;

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::kinds::{ActorAdmit, ActorRotate};
use crate::record::{Record, Role};
use crate::sign::PublicKey;

use super::messages::Personal;
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
    /// Records it has authored that counted.
    pub records: u64,
    /// Stamp of its last counted record.
    pub last_at: Option<Hlc>,
    /// Its last counted record.
    pub last_record: Option<Id>,
    /// Its inbox read cursor: everything at or before this (at, id) is read.
    pub cursor: Option<(Hlc, Id)>,
    /// Its unread mentions and handoffs.
    pub personal: Vec<Personal>,
    /// Tasks it holds (its claim may have run out).
    pub holds: BTreeSet<Id>,
    /// Set while suspended (the kill switch).
    pub suspended: Option<Suspension>,
    /// Set once its key is revoked, until an admin gives it a new one.
    pub revoked: Option<Revocation>,
    /// Keys it had before, oldest first, each valid only before its rotation.
    pub retired: Vec<RetiredKey>,
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

impl Actor {
    pub(super) fn new(name: &str, role: Role, key: PublicKey, owner: Option<String>, by: &Record) -> Actor {
        Actor {
            name: name.to_owned(),
            role,
            key,
            owner,
            admitted_by: by.author.clone(),
            admitted_at: by.at,
            records: 0,
            last_at: None,
            last_record: None,
            cursor: None,
            personal: Vec::new(),
            holds: BTreeSet::new(),
            suspended: None,
            revoked: None,
            retired: Vec::new(),
        }
    }

    /// Whether the actor is an admin.
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
    if let Some(holder) = state.actors.values().find(|a| a.has_had_key(key)) {
        return Err(Refusal::KeyInUse { key: key.fingerprint(), actor: holder.name.clone() });
    }
    if proof.is_some_and(|p| !crate::sign::verify_proof(&state.workspace, name, key, p)) {
        return Err(Refusal::BadProof(name.to_owned()));
    }
    Ok(())
}

pub(super) fn check_admit(state: &State, author: &Actor, a: &ActorAdmit) -> Result<(), Refusal> {
    if !author.is_admin() {
        return Err(Refusal::NotAdmin { author: author.name.clone(), action: format!("admit {:?}", a.name) });
    }
    if state.actors.contains_key(&a.name) {
        return Err(Refusal::ActorExists(a.name.clone()));
    }
    if let Some(owner) = &a.owner {
        let o = state.actors.get(owner).ok_or_else(|| Refusal::UnknownActor(owner.clone()))?;
        if o.role == Role::Agent {
            return Err(Refusal::BadOwner(owner.clone()));
        }
    }
    check_new_key(state, &a.name, &a.key, a.proof.as_ref())
}

/// `actor.rotate`: by the actor itself or an admin, to a fresh, proven key.
pub(super) fn check_rotate(state: &State, author: &Actor, a: &ActorRotate) -> Result<(), Refusal> {
    state.actors.get(&a.name).ok_or_else(|| Refusal::UnknownActor(a.name.clone()))?;
    if author.name != a.name && !author.is_admin() {
        let action = format!("rotate the key of {:?} (admin or the actor itself only)", a.name);
        return Err(Refusal::NotAdmin { author: author.name.clone(), action });
    }
    check_new_key(state, &a.name, &a.key, Some(&a.proof))
}

/// `actor.revoke`: by an admin or the actor itself.
pub(super) fn check_revoke(state: &State, author: &Actor, name: &str) -> Result<(), Refusal> {
    state.actors.get(name).ok_or_else(|| Refusal::UnknownActor(name.to_owned()))?;
    if author.name != name && !author.is_admin() {
        let action = format!("revoke the key of {name:?} (admin or the actor itself only)");
        return Err(Refusal::NotAdmin { author: author.name.clone(), action });
    }
    Ok(())
}

/// `actor.suspend` and `actor.resume`: by an admin, or by the owner of the agent.
pub(super) fn check_control(state: &State, author: &Actor, name: &str, suspend: bool) -> Result<(), Refusal> {
    let target = state.actors.get(name).ok_or_else(|| Refusal::UnknownActor(name.to_owned()))?;
    let owner = target.owner.as_deref() == Some(author.name.as_str());
    if !author.is_admin() && !owner {
        let action =
            format!("{} {name:?} (admin or the agent's owner only)", if suspend { "suspend" } else { "resume" });
        return Err(Refusal::NotAdmin { author: author.name.clone(), action });
    }
    if !suspend && target.suspended.is_none() {
        return Err(Refusal::NotSuspended(name.to_owned()));
    }
    Ok(())
}
