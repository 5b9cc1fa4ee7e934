//! Repairing a remote that runs no server hook.
//!
//! A hosted remote (no `pre-receive`) takes any push: a commit that breaks the
//! branch's rules lands there, and every client's `sync` refuses it from then
//! on (nothing unverified is ever merged). An admin repairs it: the branch is
//! rebuilt on this clone's verified tip, every record the remote added since
//! that still counts is replayed on top ([`crate::rebase`]: kept byte for byte
//! when it goes after what is there, dropped when it does not count), a signed
//! `crew.repair` record says what was replaced and why, and the result replaces
//! the remote's branch only if it is still at the tip that was judged
//! (`--force-with-lease`). Honest clients then sync as usual.

use serde::Serialize;

use crate::error::{ConflictError, Error, RepairError, Result};
use crate::index::Need;
use crate::rebase::Dropped;
use crate::record::kinds::CrewRepair;
use crate::record::{Payload, Record};
use crate::state::State;
use crate::store::Backend;
use crate::sync;
use crate::verify;
use crate::workspace::Workspace;

/// What a repair did.
#[derive(Clone, Debug, Serialize)]
pub struct Repaired {
    /// The remote repaired.
    pub remote: String,
    /// The remote's branch before (which did not verify).
    pub replaced: String,
    /// The verified tip the repair builds on.
    pub base: String,
    /// The remote's branch now.
    pub tip: String,
    /// Records of the replaced history kept (byte for byte or re-made).
    pub kept: usize,
    /// Records of the replaced history left out, and why.
    pub dropped: Vec<Dropped>,
    /// The `crew.repair` record.
    #[serde(skip)]
    pub record: Option<Record>,
}

/// Repair `remote` as `admin` (see the module docs). Refuses when the remote
/// verifies on top of this clone (then `sync` is what is needed).
pub fn repair<B: Backend>(ws: &Workspace<B>, remote: &str, admin: &str, reason: Option<String>) -> Result<Repaired> {
    let store = ws.store();
    let theirs = sync::fetch(ws, remote)?
        .ok_or_else(|| RepairError::NoBranch { remote: remote.to_owned(), branch: store.branch().to_owned() })?;
    let Some((ours, base)) = ws.trusted_base()? else {
        return Err(Error::no_workspace(store));
    };
    let state = ws.snapshot_for(&Need::Core)?.state;
    let me = state.actors.get(admin).filter(|a| a.is_admin());
    if me.is_none() {
        return Err(RepairError::NotAdmin(admin.to_owned()).into());
    }
    let (remote_only, ours_in_theirs) = store.new_commits_exact(ours, theirs)?;
    if remote_only.is_empty() {
        return Err(RepairError::NothingNew(remote.to_owned()).into());
    }
    if ours_in_theirs && verify::verify_range(store, theirs, remote_only.clone(), &base).is_ok() {
        return Err(RepairError::Verifies(remote.to_owned()).into());
    }
    // Everything this clone trusts, then what the remote added that counts.
    let ws_id = state.workspace;
    let published = base.records.iter().map(|r| r.id).collect();
    let full = State::fold(ws_id, &base.records);
    let plain: Vec<_> = remote_only.into_iter().filter(|c| c.parents.len() <= 1).collect();
    let replayed = crate::rebase::replay(ws, ours, full, &published, &plain, crate::rebase::Remake::Allowed)?;
    if store.set_tip(Some(ours), replayed.tip, "git-crew: repair (replay)").is_err() {
        return Err(ConflictError::RepairRaced.into());
    }
    let payload = Payload::CrewRepair(CrewRepair {
        replaces: theirs.to_string(),
        base: ours.to_string(),
        dropped: replayed.dropped.len() as u64,
        reason,
    });
    let written = ws.write(admin, &Need::Core, |_| Ok(vec![payload.clone()]))?;
    sync::force_push(ws, remote, written.commit, theirs)?;
    Ok(Repaired {
        remote: remote.to_owned(),
        replaced: theirs.to_string(),
        base: ours.to_string(),
        tip: written.commit.to_string(),
        kept: replayed.kept,
        dropped: replayed.dropped,
        record: written.records.into_iter().next(),
    })
}
