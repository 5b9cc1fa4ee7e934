//! Seals: a code commit signed off by its author's crew key, so a server can
//! tell whose change touches a reserved path.
//!
//! A seal is two trailers the `commit-msg` hook adds: `Crew-Actor: <name>`
//! and `Crew-Seal: <signature>`, an ed25519 signature by the actor's current
//! key over [`SEAL_DOMAIN`], the workspace id, the actor's name and the
//! commit's tree. What git can prove is only this: the holder of that key
//! approved exactly this tree. It does not prove who pushed (anyone may push
//! a sealed commit), nor on which parent (a guarded server judges the change
//! against the commit's first parent, and lets it through only if the sealer
//! holds every reserved path it changes, so the same tree on another parent
//! changes nothing the sealer does not hold). An amend through git is sealed
//! again by the hook; a commit whose tree changed without it (a rebase, a
//! `--no-verify` commit) is not sealed.
//!
//! Reading the index and the commits of a code branch is git's business: this
//! module runs `git write-tree`, `git rev-parse` and `git diff-tree` in the
//! code repository (never on the workspace branch).

use std::path::Path;
use std::process::Command;

use crate::error::{ReservationError, Result};
use crate::id::Id;
use crate::sign::{Keypair, PublicKey, Signature};
use crate::state::State;

/// Domain prefix of a seal, distinct from records' and proofs'.
pub const SEAL_DOMAIN: &[u8] = b"git-crew seal v1\0";

/// The trailer naming the sealer.
pub const ACTOR_TRAILER: &str = "Crew-Actor";
/// The trailer holding the seal.
pub const SEAL_TRAILER: &str = "Crew-Seal";

/// What a seal signs.
pub fn seal_message(ws: &Id, actor: &str, tree: &str) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(SEAL_DOMAIN);
    m.extend_from_slice(&ws.0);
    m.extend_from_slice(actor.as_bytes());
    m.push(0);
    m.extend_from_slice(tree.as_bytes());
    m
}

/// `message` with this seal's trailers, replacing any earlier ones.
pub fn sealed_message(message: &str, ws: &Id, actor: &str, key: &Keypair, tree: &str) -> String {
    let signature = key.sign(&seal_message(ws, actor, tree));
    let kept: Vec<&str> = message.lines().filter(|l| trailer(l).is_none()).collect();
    let mut out = kept.join("\n").trim_end().to_owned();
    // A trailer block is separated from the body by a blank line, unless the
    // message already ends with trailers.
    let ends_with_trailers = kept.iter().rev().find(|l| !l.trim().is_empty()).is_some_and(|l| is_trailer_line(l));
    out.push_str(if ends_with_trailers { "\n" } else { "\n\n" });
    out.push_str(&format!("{ACTOR_TRAILER}: {actor}\n{SEAL_TRAILER}: {signature}\n"));
    out
}

fn is_trailer_line(line: &str) -> bool {
    line.split_once(':').is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// The seal trailer a line is, if it is one: (name, value).
fn trailer(line: &str) -> Option<(&'static str, &str)> {
    let (key, value) = line.split_once(':')?;
    [ACTOR_TRAILER, SEAL_TRAILER].into_iter().find(|t| key.trim().eq_ignore_ascii_case(t)).map(|t| (t, value.trim()))
}

/// Who sealed a commit with `message` and `tree`, if its seal verifies with
/// that actor's current key in `state`.
pub fn sealer(state: &State, message: &str, tree: &str) -> Option<String> {
    let mut actor = None;
    let mut seal = None;
    for (name, value) in message.lines().filter_map(trailer) {
        match name {
            ACTOR_TRAILER => actor = Some(value.to_owned()),
            _ => seal = Some(value.to_owned()),
        }
    }
    let (actor, seal) = (actor?, seal?.parse::<Signature>().ok()?);
    let member = state.actors.get(&actor).filter(|a| a.may_work())?;
    let key: &PublicKey = &member.key;
    crate::sign::verify(key, &seal_message(&state.workspace, &actor, tree), &seal).then_some(actor)
}

/// Run git in `dir`: its standard output, trimmed.
fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| ReservationError::Git(format!("git {}: {e}", args.join(" "))))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(ReservationError::Git(format!("git {}: {why}", args.join(" "))).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The tree of the commit being made in `work_tree`: the index's (in a
/// hook, git's environment names the index of this commit).
pub fn staged_tree(work_tree: &Path) -> Result<String> {
    git(work_tree, &["write-tree"])
}

/// A commit of a code branch, as a server judges it.
#[derive(Clone, Debug)]
pub struct CodeCommit {
    /// Its id.
    pub id: String,
    /// Its tree.
    pub tree: String,
    /// Its message.
    pub message: String,
    /// The paths it changes against its first parent (all, for a root).
    pub paths: Vec<String>,
}

/// The commits `new` brings to a repository at `dir` that no reference there
/// reaches yet (in a `pre-receive` hook, the pushed ones), oldest first.
pub fn new_commits(dir: &Path, new: &str) -> Result<Vec<CodeCommit>> {
    let list = git(dir, &["rev-list", "--reverse", new, "--not", "--all"])?;
    list.lines().filter(|l| !l.is_empty()).map(|id| code_commit(dir, id)).collect()
}

fn code_commit(dir: &Path, id: &str) -> Result<CodeCommit> {
    let tree = git(dir, &["rev-parse", &format!("{id}^{{tree}}")])?;
    let parents: Vec<String> =
        git(dir, &["rev-list", "--parents", "-n", "1", id])?.split_whitespace().skip(1).map(str::to_owned).collect();
    let message = git(dir, &["log", "-1", "--format=%B", id])?;
    let diff = match parents.first() {
        Some(p) => git(dir, &["diff-tree", "-r", "--name-only", "--no-renames", "-z", p, id])?,
        None => git(dir, &["diff-tree", "-r", "--root", "--name-only", "--no-renames", "--no-commit-id", "-z", id])?,
    };
    let paths = diff.split('\0').filter(|p| !p.is_empty()).map(str::to_owned).collect();
    Ok(CodeCommit { id: id.to_owned(), tree, message, paths })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_are_added_once_and_replaced() {
        let key = Keypair::from_seed([7; 32]);
        let ws = Id([1; 32]);
        let once = sealed_message("Fix it\n\nCrew-Task: abcd\n", &ws, "bob", &key, "t");
        assert!(once.starts_with("Fix it\n\nCrew-Task: abcd\nCrew-Actor: bob\nCrew-Seal: "), "{once}");
        let twice = sealed_message(&once, &ws, "bob", &key, "t2");
        assert_eq!(twice.matches("Crew-Seal:").count(), 1, "{twice}");
        let plain = sealed_message("Subject only", &ws, "bob", &key, "t");
        assert!(plain.starts_with("Subject only\n\nCrew-Actor: bob\n"), "{plain}");
    }
}
