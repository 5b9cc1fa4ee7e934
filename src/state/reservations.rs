//! Path reservations in the fold: who holds which paths of the code
//! repository, and until when.
//!
//! Rules, at each record's point of the fold order:
//!
//! - A `path.reserve` counts if none of its paths overlaps (is, or is above or
//!   under) a path of a live reservation another actor holds; otherwise it is
//!   void, like a lost claim. With a `task`, its author must hold the task
//!   (void otherwise).
//! - A reservation with a task follows the task's claim: whoever holds the
//!   task holds it (a handoff passes it on), while the claim runs; it ends
//!   when the task is released, closed or cancelled, or claimed anew (after a
//!   lease ran out). Without a
//!   task it lasts its `lease` from the record, and a reserve of exactly the
//!   same paths by its holder while it runs renews it.
//! - A `path.release` counts from the holder, an admin, or a supervisor the
//!   policy grants `release`; void once the reservation has ended.
//! - A stopped (suspended, revoked) holder holds nothing.

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::kinds::{paths_overlap, PathReserve, Power};
use crate::record::{Payload, Record};

use super::{Actor, Refusal, State};

/// A path reservation as the fold sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// Its id: the id of its `path.reserve`.
    pub id: Id,
    /// Who reserved it.
    pub actor: String,
    /// The paths, each with everything under it.
    pub paths: Vec<String>,
    /// The task it follows, if any.
    pub task: Option<Id>,
    /// When it was made.
    pub since: Hlc,
    /// Lease length in milliseconds (without a task).
    pub lease_ms: i64,
    /// When its lease runs out unless renewed (without a task).
    pub expires_ms: i64,
    /// When it was released, if it was.
    pub released: Option<Hlc>,
}

impl Reservation {
    /// Whether it covers some of `paths` (with what is under them).
    pub fn overlaps<'a>(&'a self, paths: &'a [String]) -> impl Iterator<Item = &'a String> + 'a {
        paths.iter().filter(|p| self.paths.iter().any(|mine| paths_overlap(mine, p)))
    }
}

impl State {
    /// Who holds reservation `r` at `ms`, and until when; `None` once it
    /// has ended. A reservation with a task needs the task in the state.
    pub fn reservation_holder<'a>(&'a self, r: &'a Reservation, ms: i64) -> Option<(&'a str, i64)> {
        self.holder_of(r, ms, |a| self.is_stopped(a))
    }

    /// Who holds `r` at `ms`, a holder being stopped as `stopped` says.
    fn holder_of<'a>(&'a self, r: &'a Reservation, ms: i64, stopped: impl Fn(&str) -> bool) -> Option<(&'a str, i64)> {
        if r.released.is_some() {
            return None;
        }
        let (holder, until) = match r.task {
            Some(t) => {
                let task = self.tasks.get(&t).filter(|t| t.done.is_none())?;
                let claim = task.holder_at(ms)?;
                (claim.actor.as_str(), claim.expires_ms)
            }
            None => (r.actor.as_str(), r.expires_ms),
        };
        (until > ms && !stopped(holder)).then_some((holder, until))
    }

    /// The reservations held at the point `key` of the fold order: made
    /// before it, with their holder not stopped there.
    fn held_at(&self, key: (Hlc, Id)) -> impl Iterator<Item = (&Reservation, &str, i64)> + '_ {
        self.reservations.values().filter(move |r| (r.since, r.id) < key).filter_map(move |r| {
            self.holder_of(r, key.0.ms, |a| self.stopped_at(a, key)).map(|(h, until)| (r, h, until))
        })
    }

    /// The reservations held at `ms`, with their holder and end.
    pub fn live_reservations(&self, ms: i64) -> impl Iterator<Item = (&Reservation, &str, i64)> + '_ {
        self.reservations.values().filter_map(move |r| self.reservation_holder(r, ms).map(|(h, until)| (r, h, until)))
    }

    /// The tasks the reservations follow: what a reader loads with the core
    /// to know who holds them.
    pub fn reservation_tasks(&self) -> Vec<Id> {
        let mut tasks: Vec<Id> =
            self.reservations.values().filter(|r| r.released.is_none()).filter_map(|r| r.task).collect();
        tasks.sort();
        tasks.dedup();
        tasks
    }
}

/// Whether the reservation record `r` by `author` counts now.
pub(super) fn check(state: &State, author: &Actor, r: &Record) -> Result<(), Refusal> {
    let key = r.order_key();
    let ms = r.at.ms;
    match &r.payload {
        Payload::PathReserve(p) => {
            if let Some(t) = p.task {
                let task = state.task_at(&t, key)?;
                if !task.held_by(&author.name, ms) {
                    return Err(Refusal::NotHolder { task: t.short(), actor: author.name.clone() });
                }
            }
            let taken =
                state.held_at(key).filter(|(_, holder, _)| *holder != author.name).find_map(|(res, holder, _)| {
                    let paths: Vec<String> = res.overlaps(&p.paths).cloned().collect();
                    (!paths.is_empty()).then_some((res.id, holder, paths))
                });
            match taken {
                Some((id, holder, paths)) => {
                    Err(Refusal::PathsReserved { paths, holder: holder.to_owned(), reservation: id.short() })
                }
                None => Ok(()),
            }
        }
        Payload::PathRelease(p) => {
            let res =
                state.reservations.get(&p.reservation).filter(|res| (res.since, res.id) < key).ok_or_else(|| {
                    state.missing(&p.reservation.hex(), key, Refusal::UnknownReservation(p.reservation.short()))
                })?;
            let not_held = || Refusal::ReservationNotHeld { reservation: res.id.short(), actor: author.name.clone() };
            let (holder, _) = state.holder_of(res, ms, |a| state.stopped_at(a, key)).ok_or_else(not_held)?;
            let forced = author.is_admin_at(key) || state.supervises(&author.name, holder, Power::Release, key);
            if holder == author.name || forced {
                Ok(())
            } else {
                Err(not_held())
            }
        }
        _ => Ok(()),
    }
}

/// Apply a counted reservation record.
pub(super) fn apply(state: &mut State, r: &Record) {
    let ms = r.at.ms;
    match &r.payload {
        Payload::PathReserve(p) => {
            let lease_ms = i64::try_from(p.lease).unwrap_or(i64::MAX / 2000).saturating_mul(1000);
            if let Some(own) = renewed(state, &r.author, p, r.order_key()) {
                if let Some(res) = state.reservations.get_mut(&own) {
                    res.lease_ms = lease_ms;
                    res.expires_ms = ms.saturating_add(lease_ms);
                }
                return;
            }
            state.reservations.insert(
                r.id,
                Reservation {
                    id: r.id,
                    actor: r.author.clone(),
                    paths: p.paths.clone(),
                    task: p.task,
                    since: r.at,
                    lease_ms,
                    expires_ms: ms.saturating_add(lease_ms),
                    released: None,
                },
            );
        }
        Payload::PathRelease(p) => {
            if let Some(res) = state.reservations.get_mut(&p.reservation) {
                res.released = Some(r.at);
            }
        }
        _ => {}
    }
}

/// End the reservations that follow `task` (its holding ended at `at`).
pub(super) fn end_for_task(state: &mut State, task: Id, at: Hlc) {
    for r in state.reservations.values_mut().filter(|r| r.task == Some(task) && r.released.is_none()) {
        r.released = Some(at);
    }
}

/// The author's live reservation of exactly these paths and task, which the
/// record renews.
fn renewed(state: &State, author: &str, p: &PathReserve, key: (Hlc, Id)) -> Option<Id> {
    state
        .held_at(key)
        .find(|(res, holder, _)| *holder == author && res.actor == author && res.paths == p.paths && res.task == p.task)
        .map(|(res, _, _)| res.id)
}
