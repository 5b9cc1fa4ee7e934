//! Whole-history verification of a workspace branch.
//!
//! Every commit is checked against each of its parents: only files of the layout,
//! plain (non-executable, non-link, non-submodule) files, the fixed
//! `.gitattributes`, and log files that only grew: every record of the parent is
//! still there byte for byte, in (`at`, id) order. Each record is verified once,
//! when it first appears: its signature over the raw bytes, its strict encoding,
//! its fields and its file. Then every record is folded in order and any record
//! the fold refuses (unknown author, wrong key, missing authority) is a failure,
//! so authorization is checked, not only signatures.

use std::collections::{HashMap, HashSet};

use gix::ObjectId;

use crate::error::{Error, Result};
use crate::id::Id;
use crate::index;
use crate::layout::{self, Place};
use crate::record::{self, frame, Problem, Record};
use crate::sign::{PublicKey, Signature};
use crate::state::State;
use crate::store::{Change, Store};

/// One thing wrong with the branch, located as precisely as possible.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The commit that introduced the problem.
    pub commit: Option<String>,
    /// The file.
    pub path: Option<String>,
    /// The record, if the problem is one record.
    pub record: Option<String>,
    /// Byte offset in the file.
    pub offset: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(c) = &self.commit {
            write!(f, "commit {}: ", &c[..c.len().min(12)])?;
        }
        if let Some(p) = &self.path {
            write!(f, "{p}: ")?;
        }
        if let Some(o) = self.offset {
            write!(f, "byte {o}: ")?;
        }
        if let Some(r) = &self.record {
            write!(f, "record {}: ", &r[..r.len().min(8)])?;
        }
        f.write_str(&self.reason)
    }
}

/// Verification failed.
#[derive(Debug, thiserror::Error)]
#[error("verification failed: {}{}", failures[0], if failures.len() > 1 { format!(" (and {} more)", failures.len() - 1) } else { String::new() })]
pub struct VerifyError {
    /// Every failure found (one unless all were asked for).
    pub failures: Vec<Failure>,
}

/// What a successful verification covered.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// The tip verified.
    pub tip: String,
    /// The workspace id.
    pub workspace: String,
    /// Commits checked.
    pub commits: usize,
    /// Distinct records verified.
    pub records: usize,
    /// Failures (empty on success).
    pub failures: Vec<Failure>,
}

/// Stop at the first failure, or collect them all.
struct Collector {
    all: bool,
    failures: Vec<Failure>,
}

impl Collector {
    fn fail(&mut self, failure: Failure) -> Result<()> {
        self.failures.push(failure);
        if self.all {
            Ok(())
        } else {
            Err(Error::Verify(VerifyError { failures: std::mem::take(&mut self.failures) }))
        }
    }
}

/// Verify the whole history of the branch. With `all`, collect every failure
/// instead of stopping at the first. Failures are an [`Error::Verify`].
pub fn verify(store: &Store, all: bool) -> Result<Report> {
    let tip = store.tip()?.ok_or_else(|| Error::NoWorkspace { branch: store.branch().to_owned() })?;
    let commits = store.history(tip)?;
    let mut out = Collector { all, failures: Vec::new() };
    // The workspace is the one its first commit created; a later commit cannot
    // change that by rewriting or reordering CREW.yaml.
    let root = &commits[0];
    let ws = match root_workspace(store, root.tree) {
        Ok(ws) => ws,
        Err(reason) => {
            let failure = Failure {
                commit: Some(root.id.to_string()),
                path: Some(layout::MANIFEST.into()),
                record: None,
                offset: None,
                reason,
            };
            return Err(Error::Verify(VerifyError { failures: vec![failure] }));
        }
    };
    let mut walker = Walker { store, ws, seen: HashMap::new(), origin: HashMap::new(), frames: HashMap::new() };
    for c in &commits {
        let parents: Vec<Option<ObjectId>> = if c.parents.is_empty() {
            vec![None]
        } else {
            c.parents.iter().map(|p| store.commit(*p).map(|pc| Some(pc.tree))).collect::<Result<_, _>>()?
        };
        for parent_tree in parents {
            for change in store.diff(parent_tree, c.tree)? {
                if let Err(f) = walker.check_change(c.id, &change) {
                    out.fail(f)?;
                }
            }
        }
    }
    let state = State::fold(ws, walker.seen.values().map(|(r, _)| r));
    for ignored in &state.ignored {
        let (commit, path) = walker.origin.get(&ignored.id).cloned().unzip();
        out.fail(Failure {
            commit: commit.map(|c: ObjectId| c.to_string()),
            path,
            record: Some(ignored.id.hex()),
            offset: None,
            reason: format!("{} by {:?} does not count: {}", ignored.kind, ignored.author, ignored.reason),
        })?;
    }
    let report = Report {
        tip: tip.to_string(),
        workspace: ws.hex(),
        commits: commits.len(),
        records: walker.seen.len(),
        failures: out.failures,
    };
    if report.failures.is_empty() {
        Ok(report)
    } else {
        Err(Error::Verify(VerifyError { failures: report.failures }))
    }
}

fn root_workspace(store: &Store, tree: ObjectId) -> Result<Id, String> {
    let bytes = store.read(tree, layout::MANIFEST).map_err(|e| e.to_string())?;
    let bytes = bytes.ok_or("the first commit has no CREW.yaml: this branch was not created by git crew init")?;
    index::genesis_id(&bytes).map_err(|(offset, p)| format!("byte {offset}: {p}"))
}

/// What identifies a record's exact bytes: its id (the body) and its `sig:` line.
type Fingerprint = (Id, PublicKey, Signature);

struct Walker<'a> {
    store: &'a Store,
    ws: Id,
    /// Every record verified so far, by id, with the signature it was verified with.
    seen: HashMap<Id, (Record, Signature)>,
    /// Where each record first appeared.
    origin: HashMap<Id, (ObjectId, String)>,
    /// The records of blobs already framed, by blob id.
    frames: HashMap<ObjectId, Vec<Fingerprint>>,
}

impl Walker<'_> {
    fn check_change(&mut self, commit: ObjectId, change: &Change) -> Result<(), Failure> {
        let failure = |offset: Option<usize>, record: Option<Id>, reason: String| Failure {
            commit: Some(commit.to_string()),
            path: Some(change.path.clone()),
            record: record.map(|r| r.hex()),
            offset,
            reason,
        };
        let Some(place) = layout::classify(&change.path) else {
            return Err(failure(None, None, "file outside the workspace layout".into()));
        };
        let Some(new) = &change.new else {
            return Err(failure(None, None, "file deleted: log files are append-only".into()));
        };
        if !new.is_plain_file() {
            let mode = new.mode.value();
            return Err(failure(
                None,
                None,
                format!("mode {mode:o} not allowed: only plain files (no symlinks, submodules or executable bits)"),
            ));
        }
        let git_err = |e: crate::store::StoreError| failure(None, None, e.to_string());
        let new_bytes = self.store.blob(new.oid).map_err(git_err)?;
        if place == Place::Attributes {
            if new_bytes != layout::ATTRIBUTES_CONTENT {
                return Err(failure(None, None, "`.gitattributes` differs from the fixed content".into()));
            }
            return Ok(());
        }
        let located = |(off, p): (usize, Problem)| failure(Some(off), None, p.to_string());
        let old = match change.old.as_ref().filter(|o| o.is_plain_file()) {
            Some(o) => {
                let bytes = self.store.blob(o.oid).map_err(git_err)?;
                self.framed(o.oid, &bytes).map_err(located)?
            }
            None => Vec::new(),
        };
        let new_frames = self.framed(new.oid, &new_bytes).map_err(located)?;
        let present: HashSet<&Fingerprint> = new_frames.iter().collect();
        if let Some((id, _, _)) = old.iter().find(|f| !present.contains(f)) {
            return Err(failure(None, Some(*id), "record removed or edited: log files are append-only".into()));
        }
        if new_frames.is_empty() {
            return Err(failure(None, None, "empty log file: a log file holds at least one record".into()));
        }
        if place == Place::Manifest && new_frames[0].0 != self.ws {
            let reason = "CREW.yaml must begin with this workspace's genesis record";
            return Err(failure(Some(0), Some(new_frames[0].0), reason.into()));
        }
        // Records this commit added to this file. One already verified elsewhere
        // must be the very same bytes and belong here too; the rest are verified now.
        let before: HashSet<&Fingerprint> = old.iter().collect();
        let mut fresh_ids = HashSet::new();
        for fp @ (id, _, sig) in new_frames.iter().filter(|f| !before.contains(f)) {
            match self.seen.get(id) {
                // Same body, other signature: verify it afresh (a forgery fails there).
                Some((_, known_sig)) if known_sig != sig => {
                    fresh_ids.insert(fp.0);
                }
                Some((record, _)) => {
                    let expected = layout::path_of(record);
                    if expected != change.path {
                        return Err(failure(None, Some(*id), Problem::WrongFile(expected).to_string()));
                    }
                }
                None => {
                    fresh_ids.insert(fp.0);
                }
            }
        }
        let skip: HashSet<Id> = new_frames.iter().map(|(id, _, _)| *id).filter(|id| !fresh_ids.contains(id)).collect();
        let (fresh, _) = record::decode_file_except(&new_bytes, &self.ws, &skip).map_err(located)?;
        let sigs: HashMap<Id, Signature> = new_frames.iter().map(|(id, _, sig)| (*id, *sig)).collect();
        for r in fresh {
            let expected = layout::path_of(&r);
            if expected != change.path {
                return Err(failure(None, Some(r.id), Problem::WrongFile(expected).to_string()));
            }
            if self.seen.get(&r.id).is_some_and(|(_, known)| *known != sigs[&r.id]) {
                let reason = "record appears with two different valid signatures";
                return Err(failure(None, Some(r.id), reason.into()));
            }
            self.origin.insert(r.id, (commit, change.path.clone()));
            let sig = sigs[&r.id];
            self.seen.insert(r.id, (r, sig));
        }
        Ok(())
    }

    /// The records of a blob, framed once per blob.
    fn framed(&mut self, oid: ObjectId, bytes: &[u8]) -> Result<Vec<Fingerprint>, (usize, Problem)> {
        if let Some(f) = self.frames.get(&oid) {
            return Ok(f.clone());
        }
        let framed: Vec<Fingerprint> =
            frame::split(bytes)?.iter().map(|f| (f.id(bytes, &self.ws), f.key, f.sig)).collect();
        self.frames.insert(oid, framed.clone());
        Ok(framed)
    }
}
