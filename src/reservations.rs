//! Path reservations: claiming paths of the code repository like a task
//! (`reserve`), giving them up (`unreserve`), and what a commit may touch
//! (`blocked_paths`, the `pre-commit` hook's check).
//!
//! Invariants:
//! - An online reservation is published by the linearizable write-then-push
//!   a claim uses ([`crate::sync::publish`]): of racers for overlapping paths
//!   exactly one wins, the others are refused with who holds them (exit 3).
//! - Reading who holds what needs the tasks the reservations follow: every
//!   read here loads them with the core, never a half state.

use std::collections::BTreeSet;

use crate::error::{ReservationError, Result};
use crate::id::Id;
use crate::index::Need;
use crate::record::kinds::{PathRelease, PathReserve};
use crate::record::{Payload, Record};
use crate::state::{Reservation, State};
use crate::store::Backend;
use crate::tasks::{now_ms, ClaimMode};
use crate::workspace::Workspace;

/// A reservation as it stands now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// The reservation.
    pub reservation: Reservation,
    /// Who holds it now (with a task: the task's holder).
    pub holder: String,
    /// Milliseconds until it ends unless renewed.
    pub left_ms: i64,
}

/// A path a commit touches that another actor holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// The path the commit touches.
    pub path: String,
    /// The reservation that covers it.
    pub held: Held,
}

/// The reservations held at `ms` in `state`, oldest first.
pub fn held(state: &State, ms: i64) -> Vec<Held> {
    state
        .live_reservations(ms)
        .map(|(r, holder, until)| Held { reservation: r.clone(), holder: holder.to_owned(), left_ms: until - ms })
        .collect()
}

/// Of `paths` (changed by a commit), those a reservation of someone other than
/// `actor` covers at `ms`.
pub fn blocked(state: &State, actor: &str, paths: &[String], ms: i64) -> Vec<Blocked> {
    let others: Vec<Held> = held(state, ms).into_iter().filter(|h| h.holder != actor).collect();
    paths
        .iter()
        .filter_map(|p| {
            let h = others.iter().find(|h| h.reservation.overlaps(std::slice::from_ref(p)).next().is_some())?;
            Some(Blocked { path: p.clone(), held: h.clone() })
        })
        .collect()
}

impl Workspace {
    /// `args` (absolute, or relative to `cwd`) as paths relative to the top
    /// of the work tree.
    pub fn work_tree_paths(&self, cwd: &std::path::Path, args: &[String]) -> Result<Vec<String>> {
        let top = self.store().work_dir().ok_or(ReservationError::NoWorkTree)?;
        args.iter().map(|a| Ok(crate::artifact::work_tree_path(top, cwd, a)?)).collect()
    }
}

impl<B: Backend> Workspace<B> {
    /// The state with the core and the tasks reservations follow: what
    /// judging reservations needs.
    pub fn reservations_state(&self) -> Result<State> {
        let core = self.snapshot_for(&Need::Core)?.state;
        Ok(self.snapshot_for(&Need::Tasks(core.reservation_tasks()))?.state)
    }

    /// The reservations held now.
    pub fn reservations(&self) -> Result<Vec<Held>> {
        Ok(held(&self.reservations_state()?, now_ms()))
    }

    /// Of `paths`, those another actor than `actor` holds now.
    pub fn blocked_paths(&self, actor: &str, paths: &[String]) -> Result<Vec<Blocked>> {
        Ok(blocked(&self.reservations_state()?, actor, paths, now_ms()))
    }

    /// `reserve`: claim `paths` (normalised, relative to the top of the work
    /// tree) for `lease` seconds, or for as long as `actor` holds `task`.
    /// Exits 3 (a conflict) when another actor holds an overlapping
    /// reservation.
    pub fn reserve(
        &self,
        actor: &str,
        paths: Vec<String>,
        lease: u64,
        task: Option<Id>,
        mode: &ClaimMode,
    ) -> Result<Record> {
        let paths: Vec<String> = paths.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
        let payload = Payload::PathReserve(PathReserve { paths, lease, task });
        // The fold's rule (no overlap with another actor's live reservation)
        // is checked on the state each try is written on.
        let need = Need::All;
        let build = |_: &State| Ok(vec![payload.clone()]);
        let written = match mode {
            ClaimMode::Online(remote) => crate::sync::publish(self, remote, actor, &need, build)?,
            ClaimMode::Local | ClaimMode::Offline => self.write(actor, &need, build)?,
        };
        Ok(written.one())
    }

    /// `unreserve`: end reservation `id` (its holder; an admin or a granted
    /// supervisor may force it).
    pub fn unreserve(&self, actor: &str, id: Id) -> Result<Record> {
        let payload = Payload::PathRelease(PathRelease { reservation: id });
        Ok(self.write(actor, &Need::All, |_| Ok(vec![payload.clone()]))?.one())
    }

    /// The reservation a prefix names (live or ended).
    pub fn find_reservation(&self, prefix: &str) -> Result<Id> {
        let state = self.snapshot_for(&Need::Core)?.state;
        Ok(crate::id::resolve_prefix(&prefix.to_ascii_lowercase(), "reservation", state.reservations.keys().copied())?)
    }
}

/// The configuration that makes `pre-receive` guard code branches against
/// pushes touching paths someone else reserved (`install --server
/// --guard-paths`).
pub const GUARD_PATHS: &str = "crew.guardPaths";

impl Workspace {
    /// Turn [`GUARD_PATHS`] on in this (server) repository.
    pub fn guard_paths(&self) -> Result<()> {
        Ok(self.store().set_config(&[("crew", None, "guardPaths", "true")])?)
    }
}

/// With [`GUARD_PATHS`] on: refuse an update of a code branch (any branch but
/// the workspace's, and no `refs/crew/` ref) that brings a commit changing a
/// path reserved by someone else than the commit's sealer
/// ([`crate::seal`]); an unsealed commit is no one's. `dir` is the
/// repository git runs in.
pub fn guard_code_refs(ws: &Workspace, updates: &[crate::hook::RefUpdate]) -> Result<()> {
    let store = ws.store();
    if store.config_string(GUARD_PATHS).as_deref() != Some("true") {
        return Ok(());
    }
    let branch = format!("refs/heads/{}", store.branch());
    let code = updates.iter().filter(|u| u.name != branch && !u.name.starts_with("refs/crew/"));
    let mut refused = Vec::new();
    let state = ws.reservations_state()?;
    let now = now_ms();
    for u in code {
        let Some(new) = u.new else { continue };
        for c in crate::seal::new_commits(store.git_dir(), &new.to_string())? {
            let sealer = crate::seal::sealer(&state, &c.message, &c.tree);
            let by = sealer.as_deref().map_or("not sealed".to_owned(), |s| format!("sealed by {s}"));
            for b in blocked(&state, sealer.as_deref().unwrap_or(""), &c.paths, now) {
                refused.push(format!(
                    "{} ({by}, on {}) changes {}, reserved by {} (reservation {})",
                    &c.id[..12.min(c.id.len())],
                    u.name,
                    b.path,
                    b.held.holder,
                    b.held.reservation.id.short()
                ));
            }
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(ReservationError::Guarded(refused).into())
    }
}
