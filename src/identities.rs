//! Identities: requesting to join, admitting, rotating and revoking actors,
//! suspending and resuming them, and changing their role or owner.
//!
//! The request a new actor hands an admin is [`crate::request`]; this module
//! turns requests into the admin's signed records, on the branch.

use std::path::PathBuf;

use crate::error::{ArgumentError, Error, IdentityError, Result};
use crate::index::Need;
use crate::record::kinds::{ActorAdmit, ActorResume, ActorRevoke, ActorRotate, ActorSuspend, ActorUpdate};
use crate::record::{validate_name, Payload, Record, Role};
use crate::request::Request;
use crate::sign::Keypair;
use crate::state::Actor;
use crate::state::Refusal;
use crate::store::Backend;
use crate::workspace::{Workspace, Written};

/// What `id request` made.
#[derive(Debug)]
pub struct Requested {
    /// The request to hand an admin.
    pub request: Request,
    /// Where the private key is (it stays on this machine).
    pub key_path: PathBuf,
    /// Whether it asks for a new key for an admitted actor (`id rotate NAME
    /// --request`) rather than an admission (`id admit`).
    pub rekey: bool,
}

/// The suspension of `target`, naming what it includes: the target's last
/// counted record in the state it is written on.
pub fn suspension(target: &Actor, reason: Option<String>) -> Payload {
    Payload::ActorSuspend(ActorSuspend {
        name: target.name.clone(),
        reason,
        seen: target.last_record,
        seen_at: target.last_at,
    })
}

impl<B: Backend> Workspace<B> {
    /// The kill switch: suspend `names` (every agent not yet suspended, with
    /// `all`) as `actor`, in one commit. Admins and an agent's owner may.
    pub fn suspend(&self, actor: &str, names: &[String], all: bool, reason: Option<String>) -> Result<Written> {
        self.write(actor, &Need::Core, |state| {
            let targets: Vec<String> = if all {
                let agents = state.actors.values().filter(|a| a.role == Role::Agent && a.suspended.is_none());
                agents.map(|a| a.name.clone()).filter(|n| n != actor).collect()
            } else {
                for n in names {
                    if !state.actors.contains_key(n) {
                        return Err(Error::UnknownActor { name: n.clone() });
                    }
                }
                names.to_vec()
            };
            if targets.is_empty() {
                return Err(IdentityError::NobodyToSuspend.into());
            }
            let suspend = |name: String| match state.actors.get(&name) {
                Some(a) => suspension(a, reason.clone()),
                None => Payload::ActorSuspend(ActorSuspend { name, reason: reason.clone(), seen: None, seen_at: None }),
            };
            Ok(targets.into_iter().map(suspend).collect())
        })
    }

    /// Lift `name`'s suspension as `actor`.
    pub fn resume(&self, actor: &str, name: &str) -> Result<Record> {
        let payload = Payload::ActorResume(ActorResume { name: name.to_owned() });
        let written = self.write(actor, &Need::Core, |state| {
            if !state.actors.contains_key(name) {
                return Err(Error::UnknownActor { name: name.to_owned() });
            }
            Ok(vec![payload.clone()])
        })?;
        Ok(written.one())
    }

    /// `id request`: make (or reuse) a key for `name` on this machine and the
    /// request that asks an admin to admit it, or, when `name` is already
    /// admitted, to give it this new key. Nothing is written to the branch.
    pub fn request_identity(&self, name: &str, role: Role, owner: Option<&str>) -> Result<Requested> {
        validate_name(name).map_err(ArgumentError::Name)?;
        let state = self.snapshot_for(&Need::Core)?.state;
        let (ws, keys) = (state.workspace, self.keys());
        let rekey = state.actors.contains_key(name);
        let (key, key_path) = if rekey {
            let key = match keys.load_pending(&ws, name) {
                Some(k) => k,
                None => Keypair::generate()?,
            };
            let path = keys.save_pending(&ws, name, &key)?;
            (key, path)
        } else {
            match keys.load(&ws, name) {
                Ok(k) => (k, keys.path(&ws, name)),
                Err(crate::sign::KeyError::Missing { .. }) => {
                    let key = Keypair::generate()?;
                    let path = keys.save(&ws, name, &key)?;
                    (key, path)
                }
                Err(e) => return Err(e.into()),
            }
        };
        let role = state.actors.get(name).map_or(role, |a| a.role);
        // This clone acts as the requester from now on (unless it already acts
        // as someone), so the joining agent needs no `--as`.
        if !rekey && self.store().config_string("crew.as").is_none() {
            self.store().set_config(&[("crew", None, "as", name)])?;
        }
        Ok(Requested { request: Request::new(ws, name, role, owner, &key), key_path, rekey })
    }

    /// `id admit`: as admin `actor`, admit the requester with `role` and `owner`
    /// (the request's suggestions where not given). Refuses self-admission.
    pub fn admit(&self, actor: &str, request: &Request, role: Option<Role>, owner: Option<&str>) -> Result<Record> {
        if actor == request.name {
            return Err(Error::Refused(Refusal::NotPermitted(format!(
                "{actor} cannot admit itself: an admin admits the request"
            ))));
        }
        let role = role.unwrap_or(request.role);
        let owner = owner.map(str::to_owned).or_else(|| request.owner.clone());
        let owner = if role == Role::Agent { owner.or_else(|| Some(actor.to_owned())) } else { owner };
        let payload = Payload::ActorAdmit(ActorAdmit {
            name: request.name.clone(),
            role,
            key: request.key,
            owner,
            proof: Some(request.proof),
        });
        let written = self.write(actor, &Need::Core, |state| {
            request.check_workspace(&state.workspace)?;
            if state.actors.contains_key(&request.name) {
                return Err(IdentityError::AlreadyAdmitted(request.name.clone()).into());
            }
            Ok(vec![payload.clone()])
        })?;
        Ok(written.one())
    }

    /// `id new`: admit a new actor whose key is generated on this machine. The
    /// key is stored first and removed again if the admission fails.
    pub fn admit_new(&self, actor: &str, name: &str, role: Role, owner: Option<&str>) -> Result<(Record, PathBuf)> {
        validate_name(name).map_err(ArgumentError::Name)?;
        let ws = self.snapshot_for(&Need::Core)?.state.workspace;
        let key = Keypair::generate()?;
        let path = self.keys().save(&ws, name, &key)?;
        let request = Request::new(ws, name, role, owner, &key);
        match self.admit(actor, &request, Some(role), owner) {
            Ok(r) => Ok((r, path)),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// `id rotate`: give `name` a new key. Without a request, `actor` rotates
    /// its own key: the new key is made here, the rotation is signed with the
    /// old one, and the new key replaces the old file once the rotation is
    /// written. With a request (from `id request NAME` on the actor's machine),
    /// an admin re-keys it, which also lifts a revocation.
    pub fn rotate(&self, actor: &str, name: &str, request: Option<&Request>) -> Result<Record> {
        let ws = self.snapshot_for(&Need::Core)?.state.workspace;
        let Some(request) = request else {
            if actor != name {
                return Err(IdentityError::KeyForOther { actor: actor.to_owned(), name: name.to_owned() }.into());
            }
            let key = Keypair::generate()?;
            self.keys().save_pending(&ws, name, &key)?;
            let payload = Payload::ActorRotate(ActorRotate {
                name: name.to_owned(),
                key: key.public(),
                proof: key.prove(&ws, name),
            });
            return match self.write(actor, &Need::Core, |_| Ok(vec![payload.clone()])) {
                Ok(w) => {
                    self.keys().promote_pending(&ws, name)?;
                    Ok(w.one())
                }
                Err(e) => {
                    let _ = std::fs::remove_file(self.keys().pending_path(&ws, name));
                    Err(e)
                }
            };
        };
        request.check_workspace(&ws)?;
        if request.name != name {
            return Err(IdentityError::RequestForOther { request: request.name.clone(), name: name.to_owned() }.into());
        }
        let payload =
            Payload::ActorRotate(ActorRotate { name: name.to_owned(), key: request.key, proof: request.proof });
        Ok(self.write(actor, &Need::Core, |_| Ok(vec![payload.clone()]))?.one())
    }

    /// `id revoke`: `name`'s key stops counting, by an admin or `name` itself.
    pub fn revoke(&self, actor: &str, name: &str, reason: Option<String>) -> Result<Record> {
        let payload = Payload::ActorRevoke(ActorRevoke { name: name.to_owned(), reason });
        let written = self.write(actor, &Need::Core, |state| match state.actors.get(name) {
            None => Err(Error::UnknownActor { name: name.to_owned() }),
            Some(a) if a.revoked.is_some() => Err(IdentityError::AlreadyRevoked(name.to_owned()).into()),
            Some(_) => Ok(vec![payload.clone()]),
        })?;
        Ok(written.one())
    }

    /// `id update`: as admin `actor`, change `name`'s role, owner or both.
    /// The fold decides who may (admins) and what must stay true (an agent
    /// keeps an owner who is a human or an admin; the last admin stays one).
    pub fn update_actor(&self, actor: &str, name: &str, role: Option<Role>, owner: Option<&str>) -> Result<Record> {
        let payload =
            Payload::ActorUpdate(ActorUpdate { name: name.to_owned(), role, owner: owner.map(str::to_owned) });
        let written = self.write(actor, &Need::Core, |state| {
            for n in std::iter::once(name).chain(owner) {
                if !state.actors.contains_key(n) {
                    return Err(Error::UnknownActor { name: n.to_owned() });
                }
            }
            Ok(vec![payload.clone()])
        })?;
        Ok(written.one())
    }
}
