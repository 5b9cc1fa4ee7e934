//! Receipts: what an agent shows for finished work (commits, tests, builds,
//! reviews, notes, and the files it made, hashed), attached to a task.
//!
//! Artifacts are hashed from the work tree when the receipt is made, so a
//! reviewer can check later that the file is still what the receipt says
//! (`verify --artifacts`).

use std::path::Path;

use crate::store::Backend;
use crate::store::Oid;
use serde::Serialize;

use crate::error::{Error, ReceiptError, Result};
use crate::id::{self, Id};
use crate::index::Need;
use crate::record::kinds::{Artifact, Receipt};
use crate::record::{Payload, Record};
use crate::workspace::Workspace;

impl<B: Backend> Workspace<B> {
    /// Attach a receipt to `task` as `actor`.
    pub fn add_receipt(&self, actor: &str, receipt: Receipt) -> Result<Record> {
        let need = Need::Tasks(vec![receipt.task]);
        let payload = Payload::Receipt(receipt);
        let written = self.write(actor, &need, |_| Ok(vec![payload.clone()]))?;
        Ok(written.one())
    }

    /// Resolve a receipt id or unique prefix on `task`.
    pub fn resolve_receipt(&self, task: Id, prefix: &str) -> Result<Id> {
        let snap = self.snapshot_for(&Need::Tasks(vec![task]))?;
        let t = snap.state.task(&task).map_err(Error::Refused)?;
        Ok(id::resolve_prefix(&prefix.to_ascii_lowercase(), "receipt", t.receipts.iter().copied())?)
    }

    /// Find a receipt by id prefix anywhere on the board: the record.
    pub fn find_receipt(&self, prefix: &str) -> Result<Record> {
        let snap = self.snapshot()?;
        let all = snap.state.tasks.values().flat_map(|t| t.receipts.iter().map(move |r| (*r, t.id)));
        let pairs: Vec<(Id, Id)> = all.collect();
        let rid = id::resolve_prefix(&prefix.to_ascii_lowercase(), "receipt", pairs.iter().map(|(r, _)| *r))?;
        let task = pairs.iter().find(|(r, _)| *r == rid).map(|(_, t)| *t).expect("resolved from this list");
        let records = self.task_records(&snap, &task)?;
        records.into_iter().find(|r| r.id == rid).ok_or_else(|| ReceiptError::NotInFile(rid).into())
    }
}

/// The artifact a receipt records for `file` (relative to the current
/// directory, or absolute): its normalised path relative to the work tree,
/// sha256 and size. The file must be a regular file inside the work tree, at
/// most `limit` bytes.
pub fn artifact(ws: &Workspace, file: &Path, limit: u64) -> Result<Artifact> {
    let top = work_tree(ws)?;
    let rel = crate::artifact::relative_path(top, file)?;
    Ok(crate::artifact::hash(top, &rel, limit)?)
}

/// How large an artifact may be here: `crew.maxArtifactBytes`, else
/// [`crate::artifact::DEFAULT_MAX_ARTIFACT_BYTES`].
pub fn artifact_limit<B: Backend>(ws: &Workspace<B>) -> Result<u64> {
    match ws.store().config_string("crew.maxArtifactBytes") {
        None => Ok(crate::artifact::DEFAULT_MAX_ARTIFACT_BYTES),
        Some(v) => v.trim().parse().map_err(|_| ReceiptError::MaxArtifactBytes(v.clone()).into()),
    }
}

fn work_tree(ws: &Workspace) -> Result<&Path> {
    ws.store().work_dir().ok_or_else(|| ReceiptError::NoWorkTree.into())
}

/// What `verify --artifacts` found for one artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArtifactCheck {
    /// The receipt.
    pub receipt: String,
    /// The task.
    pub task: String,
    /// The path recorded.
    pub path: String,
    /// `ok`, `missing`, `mismatch` or `unreadable` (not a regular file
    /// inside the work tree, or over the size limit).
    pub status: &'static str,
    /// For a mismatch: the sha256 found on disk; when unreadable: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
}

/// Re-hash every artifact of every receipt that is still in the work tree.
pub fn check_artifacts(ws: &Workspace, records: &[Record]) -> Result<Vec<ArtifactCheck>> {
    let (top, limit) = (work_tree(ws)?, artifact_limit(ws)?);
    let mut out = Vec::new();
    for r in records {
        let Payload::Receipt(rc) = &r.payload else { continue };
        for a in &rc.artifacts {
            let (status, found) = match crate::artifact::hash(top, &a.path, limit) {
                Ok(now) if now.sha256 == a.sha256 && now.size == a.size => ("ok", None),
                Ok(now) => ("mismatch", Some(now.sha256)),
                Err(crate::artifact::FileError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    ("missing", None)
                }
                Err(e) => ("unreadable", Some(with_causes(&e))),
            };
            out.push(ArtifactCheck { receipt: r.id.hex(), task: rc.task.hex(), path: a.path.clone(), status, found });
        }
    }
    Ok(out)
}

/// `e` and every cause of it, as one line (`cannot read x: Permission denied`).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(&format!(": {c}"));
        cause = c.source();
    }
    line
}

/// Resolve a code revision (a full or abbreviated commit id, a branch, a tag,
/// `HEAD`) of the repository to a full commit id.
pub fn resolve_commit(ws: &Workspace, rev: &str) -> Result<Oid> {
    ws.store().resolve_commit(rev).map_err(|_| ReceiptError::UnknownRevision(rev.to_owned()).into())
}
