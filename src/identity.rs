//! Identity requests: what a new actor hands an admin to be admitted, or an
//! actor to be given a new key, with proof that it holds the key.
//!
//! A request is a short text made on the requester's own machine (`id request`),
//! where its private key is created and stays. It names the workspace, the
//! actor, a suggested role and owner, the public key, and a proof of possession
//! (`sign::key_message`). The admin's `actor.admit` or `actor.rotate` record
//! carries the proof, so every verifier can check that the key's holder asked
//! for this name in this workspace, and nothing unauthenticated reaches the
//! branch.
//!
//! The format is line-based (`key: value`, `#` comments), parsed by hand: the
//! values are names, roles and hex, and a request comes from outside, so no
//! general YAML parser (aliases, tags) is involved.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::id::Id;
use crate::index::Need;
use crate::record::kinds::{ActorAdmit, ActorRevoke, ActorRotate};
use crate::record::{validate_name, Payload, Record, Role};
use crate::sign::{self, Keypair, PublicKey, Signature};
use crate::state::Refusal;
use crate::workspace::Workspace;

/// The first line of every request, naming its format.
pub const REQUEST_HEADER: &str = "git-crew identity request v1";
/// Largest request accepted, in bytes.
pub const MAX_REQUEST_BYTES: usize = 4096;

/// Why a request cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not a request at all, or a line that does not parse.
    #[error("not a git-crew identity request: {0}")]
    Malformed(String),
    /// A field's value is not acceptable.
    #[error("identity request field {field}: {problem}")]
    BadField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The proof does not verify: the key's holder did not make this request.
    #[error("the identity request for {0:?} carries a proof that does not verify: it was altered or forged")]
    BadProof(String),
    /// Made for another workspace.
    #[error("the identity request is for workspace {request}, not this one ({here})")]
    OtherWorkspace {
        /// The request's workspace.
        request: String,
        /// This workspace.
        here: String,
    },
}

/// A verified identity request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The workspace it is for.
    pub workspace: Id,
    /// The actor name asked for.
    pub name: String,
    /// The role asked for (the admin decides).
    pub role: Role,
    /// For agents: the human who answers for it.
    pub owner: Option<String>,
    /// The public key.
    pub key: PublicKey,
    /// Proof of possession of the key, for `name` in `workspace`.
    pub proof: Signature,
}

impl Request {
    /// A request for `name` in `ws`, signed with `key`.
    pub fn new(ws: Id, name: &str, role: Role, owner: Option<&str>, key: &Keypair) -> Request {
        Request {
            workspace: ws,
            name: name.to_owned(),
            role,
            owner: owner.map(str::to_owned),
            key: key.public(),
            proof: key.prove(&ws, name),
        }
    }

    /// The request as text, ready to hand over.
    pub fn to_text(&self) -> String {
        let mut out = format!("# {REQUEST_HEADER}\n");
        out.push_str(&format!("workspace: {}\n", self.workspace.hex()));
        out.push_str(&format!("name: {}\n", self.name));
        out.push_str(&format!("role: {}\n", self.role.as_str()));
        if let Some(o) = &self.owner {
            out.push_str(&format!("owner: {o}\n"));
        }
        out.push_str(&format!("key: {}\n", self.key));
        out.push_str(&format!("proof: {}\n", self.proof));
        out
    }

    /// Parse and verify a request (the proof is checked here).
    pub fn parse(bytes: &[u8]) -> std::result::Result<Request, RequestError> {
        if bytes.len() > MAX_REQUEST_BYTES {
            return Err(RequestError::Malformed(format!("{} bytes, more than {MAX_REQUEST_BYTES}", bytes.len())));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| RequestError::Malformed("not UTF-8".into()))?;
        let mut lines = text.lines().map(str::trim_end).filter(|l| !l.is_empty());
        if lines.next() != Some(&format!("# {REQUEST_HEADER}")) {
            return Err(RequestError::Malformed(format!("the first line must be `# {REQUEST_HEADER}`")));
        }
        let mut fields: Vec<(&str, &str)> = Vec::new();
        for line in lines.filter(|l| !l.starts_with('#')) {
            let (k, v) = line
                .split_once(": ")
                .ok_or_else(|| RequestError::Malformed(format!("line {line:?} is not `key: value`")))?;
            if fields.iter().any(|(seen, _)| *seen == k) {
                return Err(RequestError::Malformed(format!("field {k:?} appears twice")));
            }
            fields.push((k, v.trim()));
        }
        let get = |k: &str| fields.iter().find(|(f, _)| *f == k).map(|(_, v)| *v);
        if let Some((k, _)) = fields.iter().find(|(k, _)| !FIELDS.contains(k)) {
            return Err(RequestError::Malformed(format!("unknown field {k:?}")));
        }
        let need = |k: &'static str| get(k).ok_or(RequestError::BadField { field: k, problem: "missing".into() });
        let bad = |field: &'static str| move |problem: String| RequestError::BadField { field, problem };
        let workspace: Id =
            need("workspace")?.parse().map_err(|_| bad("workspace")("expected 64 hex digits".into()))?;
        let name = need("name")?.to_owned();
        validate_name(&name).map_err(bad("name"))?;
        let role: Role = need("role")?.parse().map_err(bad("role"))?;
        let owner = get("owner").map(str::to_owned);
        if let Some(o) = &owner {
            validate_name(o).map_err(bad("owner"))?;
        }
        let key: PublicKey = need("key")?.parse().map_err(bad("key"))?;
        let proof: Signature = need("proof")?.parse().map_err(bad("proof"))?;
        if !sign::verify_proof(&workspace, &name, &key, &proof) {
            return Err(RequestError::BadProof(name));
        }
        Ok(Request { workspace, name, role, owner, key, proof })
    }

    /// Check that the request is for workspace `ws`.
    pub fn check_workspace(&self, ws: &Id) -> std::result::Result<(), RequestError> {
        if self.workspace == *ws {
            Ok(())
        } else {
            Err(RequestError::OtherWorkspace { request: self.workspace.short(), here: ws.short() })
        }
    }
}

const FIELDS: &[&str] = &["workspace", "name", "role", "owner", "key", "proof"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips_and_any_change_breaks_its_proof() {
        let key = Keypair::from_seed([3; 32]);
        let req = Request::new(Id([1; 32]), "bot", Role::Agent, Some("alice"), &key);
        let text = req.to_text();
        assert_eq!(Request::parse(text.as_bytes()), Ok(req.clone()));
        let renamed = text.replace("name: bot", "name: bot2");
        assert_eq!(Request::parse(renamed.as_bytes()), Err(RequestError::BadProof("bot2".into())));
        let elsewhere = text.replace(&Id([1; 32]).hex(), &Id([2; 32]).hex());
        assert!(matches!(Request::parse(elsewhere.as_bytes()), Err(RequestError::BadProof(_))));
        // Role and owner are suggestions the admin decides on; they are not signed.
        assert!(Request::parse(text.replace("role: agent", "role: human").as_bytes()).is_ok());
        assert!(matches!(Request::parse(b"name: bot\n"), Err(RequestError::Malformed(_))));
        let twice = format!("{text}name: bot\n");
        assert!(matches!(Request::parse(twice.as_bytes()), Err(RequestError::Malformed(_))));
        assert_eq!(req.check_workspace(&Id([2; 32])).map_err(|_| ()), Err(()));
    }
}

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

impl Workspace {
    /// `id request`: make (or reuse) a key for `name` on this machine and the
    /// request that asks an admin to admit it, or, when `name` is already
    /// admitted, to give it this new key. Nothing is written to the branch.
    pub fn request_identity(&self, name: &str, role: Role, owner: Option<&str>) -> Result<Requested> {
        validate_name(name).map_err(Error::Invalid)?;
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
                return Err(Error::Invalid(format!(
                    "actor {:?} already exists (a request for a new key goes to `git crew id rotate {} --request FILE`)",
                    request.name, request.name
                )));
            }
            Ok(vec![payload.clone()])
        })?;
        Ok(written.one())
    }

    /// `id new`: admit a new actor whose key is generated on this machine. The
    /// key is stored first and removed again if the admission fails.
    pub fn admit_new(&self, actor: &str, name: &str, role: Role, owner: Option<&str>) -> Result<(Record, PathBuf)> {
        validate_name(name).map_err(Error::Invalid)?;
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
                return Err(Error::Invalid(format!(
                    "{actor} cannot make a key for {name}: rotate with {name}'s request (`git crew id request {name}` on its machine, then `git crew id rotate {name} --request FILE`)"
                )));
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
            return Err(Error::Invalid(format!("the request is for {:?}, not {name:?}", request.name)));
        }
        let payload =
            Payload::ActorRotate(ActorRotate { name: name.to_owned(), key: request.key, proof: request.proof });
        Ok(self.write(actor, &Need::Core, |_| Ok(vec![payload.clone()]))?.one())
    }

    /// `id revoke`: `name`'s key stops counting, by an admin or `name` itself.
    pub fn revoke(&self, actor: &str, name: &str, reason: Option<String>) -> Result<Record> {
        let payload = Payload::ActorRevoke(ActorRevoke { name: name.to_owned(), reason });
        let written = self.write(actor, &Need::Core, |state| match state.actors.get(name) {
            None => Err(Error::Invalid(format!("unknown actor {name:?}: not admitted to this workspace"))),
            Some(a) if a.revoked.is_some() => Err(Error::Invalid(format!("the key of {name} is already revoked"))),
            Some(_) => Ok(vec![payload.clone()]),
        })?;
        Ok(written.one())
    }
}
