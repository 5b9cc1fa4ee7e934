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

use crate::id::Id;
use crate::record::{validate_name, Role};
use crate::sign::{self, Keypair, PublicKey, Signature};

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
