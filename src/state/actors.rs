//! Identities in the fold: who is admitted, with which role and key.

use serde::{Deserialize, Serialize};

use std::collections::BTreeSet;

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::kinds::ActorAdmit;
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
    /// Its inbox read cursor: everything at or before this (at, id) is read.
    pub cursor: Option<(Hlc, Id)>,
    /// Its unread mentions and handoffs.
    pub personal: Vec<Personal>,
    /// Tasks it holds (its claim may have run out).
    pub holds: BTreeSet<Id>,
    /// Set while suspended (the kill switch).
    pub suspended: Option<Suspension>,
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
        write!(f, "suspended by {} at {}", self.by, self.at)?;
        match &self.reason {
            Some(r) => write!(f, ": {r}"),
            None => Ok(()),
        }
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
            cursor: None,
            personal: Vec::new(),
            holds: BTreeSet::new(),
            suspended: None,
        }
    }

    /// Whether the actor is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
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
