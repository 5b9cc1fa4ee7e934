//! Publishing writes: a write reaches the team's remote before the command
//! that made it returns, unless the clone is told to stay offline.
//!
//! A write commits on the local branch first ([`Workspace::write`]); then
//! [`publish`] runs one sync (fetch, verify, replay this clone's unpublished
//! commits on top, compare-and-swap push) under the clone's publish lock. The
//! lock is what lets concurrent writers in one clone share pushes instead of
//! racing each other for the remote's ref: a writer that waited for it first
//! looks whether the push it waited for already carried its records, and
//! pushes only if not. Claims publish before they count anywhere
//! ([`crate::sync::publish`]); they take the same lock.
//!
//! Outcomes, all of them said, none silent:
//! - on the remote: `published: true` (the records may have been re-made on
//!   top of what was published meanwhile; the re-made ones are returned);
//! - no longer admitted by the published state (a suspension, a task done
//!   meanwhile): refused with the fold's reason, and the replay removed the
//!   record from the local branch, so nothing is retried forever;
//! - the push stopped (the remote unreachable, its branch failing
//!   verification, its hook refusing, endless contention): kept locally,
//!   `published: false` and why; the next sync publishes it;
//! - `--offline`, `crew.publish false`, or no remote: kept locally, and the
//!   publication says why.

use serde::Serialize;

use crate::error::{ConflictError, Error, Result};
use crate::record::Record;
use crate::store::Backend;
use crate::workspace::Workspace;

/// Where a write goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Publish through this remote (a name or URL).
    Remote(String),
    /// Keep it on this clone, for this reason.
    Local(&'static str),
}

/// Why a write stayed local because the clone was asked to: `--offline`.
pub const OFFLINE: &str = "--offline: kept on this clone; `git crew sync` publishes it";
/// Why a write stayed local: `git config crew.publish false`.
pub const PUBLISH_OFF: &str = "crew.publish is false: kept on this clone; `git crew sync` publishes it";
/// Why a write stayed local: the clone has no remote.
pub const NO_REMOTE: &str = "no remote configured (crew.remote, origin): this clone is the workspace";

/// Where this clone's writes go: nowhere with `offline` or
/// `git config crew.publish false`; else `remote`, or the default remote
/// ([`crate::sync::default_remote`]) if there is one.
pub fn target<B: Backend>(ws: &Workspace<B>, offline: bool, remote: Option<&str>) -> Target {
    if offline {
        return Target::Local(OFFLINE);
    }
    if ws.store().config_string("crew.publish").is_some_and(|v| is_false(&v)) {
        return Target::Local(PUBLISH_OFF);
    }
    match remote.map(str::to_owned).or_else(|| crate::sync::default_remote(ws)) {
        Some(r) => Target::Remote(r),
        None => Target::Local(NO_REMOTE),
    }
}

/// git's spellings of false.
fn is_false(value: &str) -> bool {
    // A key with no value (`[crew] publish`) is true to git.
    matches!(value.trim().to_ascii_lowercase().as_str(), "false" | "no" | "off" | "0")
}

/// Whether a write reached the remote, and if not, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Publication {
    /// Whether the remote's branch holds the records.
    pub published: bool,
    /// The remote, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// Why the records are not on the remote (only when they are not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl Publication {
    /// On `remote`.
    pub fn on(remote: &str) -> Publication {
        Publication { published: true, remote: Some(remote.to_owned()), why: None }
    }

    /// Kept on this clone, because of `why`.
    pub fn kept(remote: Option<&str>, why: impl Into<String>) -> Publication {
        Publication { published: false, remote: remote.map(str::to_owned), why: Some(why.into()) }
    }
}

/// Publish the `records` a write just committed on the local branch, as
/// `target` says. Returns the records as they are now (re-made ones
/// replaced) and where they are. `Err` when the published state no longer
/// admits one of them (the fold's refusal: exit 3 or 5); a push that could
/// not be made is not an error (`published: false`, and why).
pub fn publish<B: Backend>(
    ws: &Workspace<B>,
    target: &Target,
    records: Vec<Record>,
) -> Result<(Vec<Record>, Publication)> {
    let remote = match target {
        Target::Local(why) => return Ok((records, Publication::kept(None, *why))),
        Target::Remote(r) if records.is_empty() => return Ok((records, Publication::on(r))),
        Target::Remote(r) => r.as_str(),
    };
    let _lock = match ws.publish_lock(Some(LOCK_WAIT)) {
        Ok(lock) => lock,
        Err(e) => {
            return Ok((
                records,
                Publication::kept(Some(remote), format!("{e}; kept on this clone: `git crew sync` publishes it")),
            ))
        }
    };
    // A sync in another process of this clone (a follower, another writer)
    // may have published the records already, or re-made them first.
    let current = fates(ws, &records)?;
    if crate::sync::on_remote(ws, remote, &current) {
        return Ok((current, Publication::on(remote)));
    }
    // Whatever stops the push (an unreachable remote, a remote whose branch
    // fails verification, a refusing hook, endless contention), the write
    // stands on this clone unless the replay removed it, and that is said.
    let synced = crate::sync::sync_branch(ws, remote);
    let now = fates(ws, &records)?;
    if let Err(e) = synced {
        let why = format!("{e}; kept on this clone: `git crew sync` publishes it");
        return Ok((now, Publication::kept(Some(remote), why)));
    }
    if !crate::sync::on_remote(ws, remote, &now) {
        let ids: Vec<String> = now.iter().map(|r| r.id.short()).collect();
        let why = format!(
            "a concurrent sync in this clone replaced {} before it was published: see `git crew log` and `git crew sync`",
            ids.join(", ")
        );
        return Ok((now, Publication::kept(Some(remote), why)));
    }
    Ok((now, Publication::on(remote)))
}

/// How long a write waits for this clone's publish lock before it stays local
/// (another process of the clone holds it through a slow remote).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The records as they are now: each followed through the re-makes replays
/// in this clone noted ([`crate::rebase::noted_remakes`]). `Err` with the
/// fold's refusal when a replay dropped one (the published state no longer
/// admits it: exit 3 or 5), so nothing is reported kept that is gone.
fn fates<B: Backend>(ws: &Workspace<B>, records: &[Record]) -> Result<Vec<Record>> {
    let remakes = crate::rebase::noted_remakes(ws);
    let mut now = Vec::with_capacity(records.len());
    for record in records {
        let mut id = record.id;
        // Bounded: a chain of re-makes is as long as the rounds that made it.
        for _ in 0..=remakes.len() {
            match remakes.get(&id) {
                Some(next) => id = *next,
                None => break,
            }
        }
        if let Some(reason) = ws.dropped_reason(&id) {
            return Err(refusal(ws, record, &reason));
        }
        if id == record.id {
            now.push(record.clone());
        } else {
            // The log is a local note: only a record of the same author and
            // kind is taken for the re-made one.
            match ws.record_at_tip(&id)? {
                Some(r) if r.author == record.author && r.kind() == record.kind() => now.push(r),
                _ => now.push(record.clone()),
            }
        }
    }
    Ok(now)
}

/// The error for a record the published state no longer admits: the fold's
/// own refusal at the new tip when it has one (so a suspension exits 5, a
/// task taken meanwhile 3), else a conflict naming the replay's reason.
fn refusal<B: Backend>(ws: &Workspace<B>, record: &Record, reason: &str) -> Error {
    let refused = ws.snapshot_for(&crate::index::Need::All).ok().and_then(|s| s.state.check(record).err());
    match refused {
        Some(r) => Error::Refused(r),
        None => ConflictError::NotPublished {
            kind: record.kind().to_owned(),
            id: record.id.short(),
            reason: reason.to_owned(),
        }
        .into(),
    }
}
