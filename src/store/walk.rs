//! gix's commit walk over any [`Backend`], reading commits strictly.
//!
//! gix's walker (`gix::traverse::commit::Simple`) reads objects through its
//! `Find` trait, which [`Strict`] implements on top of a backend, so the same
//! walk runs on a real repository and in memory. gix decodes commits
//! leniently (it would walk a commit with an extra header or an upper-case
//! parent id); `Strict` parses every commit it hands to gix with
//! [`crate::object::parse_commit`] first and stops the walk at the first that
//! is malformed, so a walk refuses exactly what the rest of the store refuses,
//! with the same [`StoreError::Malformed`]. The parsed commits are kept, so
//! each is read and parsed once.

use std::cell::RefCell;
use std::collections::HashMap;

use gix::ObjectId;

use super::{to_gix, to_oid, Backend, CommitInfo, Kind, Oid, Result, StoreError};
use crate::object;

/// A backend seen through gix's `Find`, parsing commits strictly.
struct Strict<'a, B: ?Sized> {
    backend: &'a B,
    /// Every commit handed to gix, parsed.
    commits: RefCell<HashMap<ObjectId, CommitInfo>>,
    /// Why the walk was stopped, when it was our doing: gix's error then says
    /// only that the object could not be found.
    failure: RefCell<Option<StoreError>>,
}

/// The error [`Strict`] gives gix; the real one waits in `Strict::failure`.
#[derive(Debug, thiserror::Error)]
#[error("the store refused the object")]
struct Refused;

impl<B: Backend + ?Sized> Strict<'_, B> {
    fn refuse(&self, e: StoreError) -> gix::Error {
        self.failure.replace(Some(e));
        gix::Error::from_error(Refused)
    }
}

impl<B: Backend + ?Sized> gix::objs::Find for Strict<'_, B> {
    fn try_find<'a>(&self, id: &gix::oid, buffer: &'a mut Vec<u8>) -> gix::Result<Option<gix::objs::Data<'a>>> {
        let id = to_oid(id.to_owned());
        let (kind, data) = match self.backend.read_object(id) {
            Ok(Some(found)) => found,
            // gix asks only for commits.
            Ok(None) => return Err(self.refuse(StoreError::Missing { id, expected: Kind::Commit })),
            Err(e) => return Err(self.refuse(e)),
        };
        let kind = match kind {
            Kind::Commit => {
                let commit = object::parse_commit(id, &data).map_err(|m| self.refuse(m.into()))?;
                self.commits.borrow_mut().insert(to_gix(id), CommitInfo::of(id, &commit));
                gix::objs::Kind::Commit
            }
            found => return Err(self.refuse(StoreError::WrongKind { id, expected: Kind::Commit, found })),
        };
        *buffer = data;
        Ok(Some(gix::objs::Data { kind, object_hash: gix::hash::Kind::Sha1, data: buffer }))
    }
}

/// Every commit reachable from `tip` through commits `keep` accepts (a
/// commit it refuses is left out and its parents are not followed), strictly
/// parsed; `None` as soon as `give_up` says so of a commit reached (given how
/// many were reached, that one included).
///
/// The walk is gix's, breadth first: it visits each commit once and orders
/// nothing by date, so the set is exact whatever the clocks say. (gix's
/// `hide`, which would spare callers the set of known commits, paints by date
/// and, with children older than their parents, returns commits reachable
/// from the hidden tip: see `new_commits_whatever_the_clocks` in `tests.rs`.)
pub(super) fn reachable<B: Backend + ?Sized>(
    backend: &B,
    tip: Oid,
    mut keep: impl FnMut(&Oid) -> bool,
    mut give_up: impl FnMut(&CommitInfo, usize) -> bool,
) -> Result<Option<HashMap<Oid, CommitInfo>>> {
    let strict = Strict { backend, commits: RefCell::default(), failure: RefCell::default() };
    let failed = |e: gix::Error| {
        strict
            .failure
            .take()
            .unwrap_or_else(|| StoreError::Git { what: "walking commits".into(), message: e.to_string() })
    };
    let mut out = HashMap::new();
    let walk =
        gix::traverse::commit::Simple::filtered([to_gix(tip)], &strict, |id: &gix::oid| keep(&to_oid(id.to_owned())));
    for info in walk {
        let id = info.map_err(failed)?.id;
        let cached = strict.commits.borrow_mut().remove(&id);
        let info = match cached {
            Some(info) => info,
            // gix reads every commit it returns through `Strict`; should a
            // later gix take one from elsewhere (a commit-graph), read it.
            None => {
                let oid = to_oid(id);
                match backend.read_object(oid)? {
                    Some((Kind::Commit, data)) => CommitInfo::of(oid, &object::parse_commit(oid, &data)?),
                    Some((found, _)) => return Err(StoreError::WrongKind { id: oid, expected: Kind::Commit, found }),
                    None => return Err(StoreError::Missing { id: oid, expected: Kind::Commit }),
                }
            }
        };
        if give_up(&info, out.len() + 1) {
            return Ok(None);
        }
        out.insert(to_oid(id), info);
    }
    Ok(Some(out))
}
