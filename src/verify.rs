//! Whole-history verification of a workspace branch.
//!
//! Pass one walks every commit against each of its parents: only files of the
//! layout, plain (non-executable, non-link, non-submodule) files, the fixed
//! `.gitattributes`, and log files that only grew: every record of the parent is
//! still there byte for byte, in (`at`, id) order. Pass two verifies each record
//! once, as it first appeared: its signature over the raw bytes (batched across
//! the whole history), its strict encoding, its fields and its file. Then every
//! record is folded in order and any record the fold refuses (unknown author,
//! wrong key, missing authority) is a failure, so authorization is checked, not
//! only signatures. Failures are reported in history order.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use crate::store::Backend;
use crate::store::Oid;

use crate::decode::ReadError;
use crate::hlc::Hlc;
use crate::id::Id;
use crate::layout::{self, Place};
use crate::record::{self, commit_message, frame, Problem, Record, MERGE_MESSAGE};
use crate::sign::{PublicKey, Signature};
use crate::state::State;
use crate::store::{ident, Change, CommitInfo, Store, StoreError};

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

impl Failure {
    /// A failure about one record as a whole, not a place in a commit.
    fn of_record(id: &Id, reason: String) -> Failure {
        Failure { commit: None, path: None, record: Some(id.hex()), offset: None, reason }
    }
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

/// Why verification did not pass.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The history holds something forged, edited, deleted or malformed.
    #[error("verification failed: {}{}", failures[0], if failures.len() > 1 { format!(" (and {} more)", failures.len() - 1) } else { String::new() })]
    Failed {
        /// Every failure found (one unless all were asked for; never empty).
        failures: Vec<Failure>,
    },
    /// The branch could not be read to verify it.
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl From<StoreError> for VerifyError {
    fn from(e: StoreError) -> VerifyError {
        VerifyError::Read(e.into())
    }
}

impl VerifyError {
    /// The failure of one malformed object or record.
    fn one(failure: Failure) -> VerifyError {
        VerifyError::Failed { failures: vec![failure] }
    }

    /// What verification found wrong; empty when it could not read the branch.
    pub fn failures(&self) -> &[Failure] {
        match self {
            VerifyError::Failed { failures } => failures,
            VerifyError::Read(_) => &[],
        }
    }
}

/// Result alias for verification.
pub type Result<T, E = VerifyError> = std::result::Result<T, E>;

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

/// Verify the whole history of the branch. With `all`, collect every failure
/// instead of stopping at the first. Failures are a [`VerifyError::Failed`].
pub fn verify<B: Backend>(store: &Store<B>, all: bool) -> Result<Report> {
    let tip = crate::decode::tip(store)?;
    Ok(verify_commits(store, tip, store.history(tip).map_err(malformed)?, &Base::default(), all)?.0)
}

/// A malformed object met while walking the history is a verification
/// failure (exit 4), not a git error.
fn malformed(e: StoreError) -> VerifyError {
    match e {
        StoreError::Malformed(m) => {
            let failure = Failure {
                commit: Some(m.id.to_string()),
                path: None,
                record: None,
                offset: None,
                reason: m.to_string(),
            };
            VerifyError::one(failure)
        }
        e => e.into(),
    }
}

/// What is already trusted when verifying only the new part of a history: the
/// records and refusals of the state the new commits build on.
#[derive(Default)]
pub struct Base {
    /// The workspace id, when known (else taken from the first commit verified).
    pub workspace: Option<Id>,
    /// Every record already trusted.
    pub records: Vec<Record>,
    /// Ids of trusted records the fold already refuses.
    pub ignored: HashSet<Id>,
    /// Refuse new records dated after this: the judge's clock plus the skew it
    /// allows ([`crate::hlc::MAX_SKEW_MS`] at the server,
    /// [`crate::hlc::MAX_PEER_SKEW_MS`] at a syncing clone).
    pub horizon: Option<Hlc>,
    /// Judge as the server does: also refuse new records by a stopped actor or
    /// an old key, records that do not count, and overturns of published ones.
    pub server: bool,
    /// The commit whose records `records` are, when known.
    pub tip: Option<Oid>,
}

/// Verify the commits reachable from `new` but not from `old` (everything if
/// `old` is `None`), on top of the trusted `base`. The fold runs over the base
/// records plus the new ones, so a new record that does not count, or that
/// would make a trusted record stop counting, is a failure. The cost follows
/// the new part, not the history.
pub fn verify_new<B: Backend>(store: &Store<B>, old: Option<Oid>, new: Oid, base: &Base, all: bool) -> Result<Report> {
    let commits = match old {
        Some(old) => store.new_commits(old, new).map_err(malformed)?.0,
        None => store.history(new).map_err(malformed)?,
    };
    Ok(verify_commits(store, new, commits, base, all)?.0)
}

/// [`verify_new`] from `old`, stopping at the first failure, returning the
/// records new to the base too.
pub fn verify_new_records<B: Backend>(
    store: &Store<B>,
    old: Oid,
    new: Oid,
    base: &Base,
) -> Result<(Report, Vec<Record>)> {
    verify_range(store, new, store.new_commits(old, new).map_err(malformed)?.0, base)
}

/// [`verify_new`] of exactly `commits` (parents first, as
/// [`Store::new_commits`] gives them), returning the records new to the base
/// too.
pub fn verify_range<B: Backend>(
    store: &Store<B>,
    tip: Oid,
    commits: Vec<CommitInfo>,
    base: &Base,
) -> Result<(Report, Vec<Record>)> {
    verify_commits(store, tip, commits, base, false)
}

fn verify_commits<B: Backend>(
    store: &Store<B>,
    tip: Oid,
    commits: Vec<CommitInfo>,
    base: &Base,
    all: bool,
) -> Result<(Report, Vec<Record>)> {
    let Some(first) = commits.first() else {
        let ws = base.workspace.unwrap_or_default();
        let report = Report { tip: tip.to_string(), workspace: ws.hex(), commits: 0, records: 0, failures: Vec::new() };
        return Ok((report, Vec::new()));
    };
    let ws = match base.workspace {
        Some(ws) => ws,
        // The workspace is the one its first commit created; a later commit
        // cannot change that by rewriting or reordering CREW.yaml.
        None => root_workspace(store, first.tree).map_err(|reason| {
            let failure = Failure {
                commit: Some(first.id.to_string()),
                path: Some(layout::MANIFEST.into()),
                record: None,
                offset: None,
                reason,
            };
            VerifyError::one(failure)
        })?,
    };
    let mut walker =
        Walker { store, ws, placed: HashMap::new(), frames: HashMap::new(), queue: Vec::new(), copies: Vec::new() };
    let mut failures: Vec<(usize, Failure)> = Vec::new();
    // Per commit: the records it adds, i.e. those in none of its parents.
    let mut added: Vec<Vec<Id>> = Vec::with_capacity(commits.len());
    // Per commit: its latest record in fold order (what a record sorting
    // after everything must sort after).
    let mut latest: HashMap<Oid, Option<(Hlc, Id)>> = HashMap::new();
    if let Some(tip) = base.tip {
        latest.insert(tip, base.records.iter().map(Record::order_key).max());
    }
    'history: for (n, c) in commits.iter().enumerate() {
        let site =
            |reason: String| Failure { commit: Some(c.id.to_string()), path: None, record: None, offset: None, reason };
        let parents: Vec<(Option<Oid>, Option<record::OrderKey>)> = if c.parents.is_empty() {
            if base.workspace.is_some() || n > 0 {
                failures
                    .push((n, site("a second root commit: the branch has exactly one, the one `init` wrote".into())));
                break 'history;
            }
            // The root commit holds `.gitattributes` (and every later commit
            // keeps it, since no file is ever deleted).
            if store.read(c.tree, layout::ATTRIBUTES)?.as_deref() != Some(layout::ATTRIBUTES_CONTENT) {
                failures.push((n, site("the root commit has no `.gitattributes` with the fixed content".into())));
                if !all {
                    break 'history;
                }
            }
            vec![(None, None)]
        } else {
            let mut parents = Vec::with_capacity(c.parents.len());
            for p in &c.parents {
                let tree = store.commit(*p)?.tree;
                let max = match latest.get(p) {
                    Some(max) => *max,
                    None => latest_in(store, &ws, tree)?,
                };
                parents.push((Some(tree), max));
            }
            parents
        };
        let mut new_per_parent: Vec<HashSet<Id>> = Vec::with_capacity(parents.len());
        let mut max = None;
        for (parent_tree, parent_max) in parents {
            max = max.max(parent_max);
            let mut new_here = HashSet::new();
            let changes = match store.diff(parent_tree, c.tree) {
                Ok(changes) => changes,
                Err(StoreError::Malformed(m)) => {
                    failures.push((n, site(m.to_string())));
                    break 'history;
                }
                Err(e) => return Err(e.into()),
            };
            for change in changes {
                match walker.scan(n, c.id, &change, parent_max) {
                    Ok(a) => {
                        new_here.extend(a.ids);
                        max = max.max(a.max);
                    }
                    Err(f) => {
                        failures.push((n, f));
                        if !all {
                            break 'history;
                        }
                    }
                }
            }
            new_per_parent.push(new_here);
        }
        latest.insert(c.id, max);
        let mut sets = new_per_parent.into_iter();
        let first = sets.next().unwrap_or_default();
        let rest: Vec<HashSet<Id>> = sets.collect();
        added.push(first.into_iter().filter(|id| rest.iter().all(|s| s.contains(id))).collect());
    }
    let fresh = walker.verify_queued(&mut failures);
    if all || failures.is_empty() {
        let trusted = base.records.iter().filter(|r| !fresh.contains_key(&r.id));
        let state = State::fold(ws, trusted.chain(fresh.values().map(|(r, _)| r)));
        // A new record must count; a trusted one must not stop counting.
        let counts = |i: &&crate::state::Ignored| !i.reason.is_conflict();
        for ignored in
            state.ignored.iter().filter(counts).filter(|i| fresh.contains_key(&i.id) || !base.ignored.contains(&i.id))
        {
            let reason = format!("{} by {:?} does not count: {}", ignored.kind, ignored.author, ignored.reason);
            let failure = match fresh.get(&ignored.id) {
                Some((_, (n, site))) => (*n, site.fail(None, Some(ignored.id), reason)),
                None => (
                    usize::MAX,
                    Failure::of_record(
                        &ignored.id,
                        format!("a record already on the branch would stop counting: {reason}"),
                    ),
                ),
            };
            failures.push(failure);
        }
        // The server refuses anything new by an actor
        // suspended or revoked before this push, or signed with a key retired
        // before it, even records dated before that.
        if base.server {
            // (A merge commit's diff re-adds the other side's records, so "fresh"
            // may hold trusted ones: what counts is the base.)
            let trusted: HashSet<Id> = base.records.iter().map(|r| r.id).collect();
            for (record, (n, site)) in fresh.values().filter(|(r, _)| !trusted.contains(&r.id)) {
                if let Some(why) = state.stopped_by(record, |id| trusted.contains(id)) {
                    let reason = format!("{why}: the server refuses new records by a stopped actor or an old key");
                    failures.push((*n, site.fail(None, Some(record.id), reason)));
                }
            }
            // Published outcomes are final: nothing it publishes is void (a lost
            // claim is dropped by its writer's sync, not published), and no
            // record it published stops counting.
            for ignored in state.ignored.iter().filter(|i| i.reason.is_conflict()) {
                let what = format!("{} by {:?} does not count: {}", ignored.kind, ignored.author, ignored.reason);
                match fresh.get(&ignored.id).filter(|_| !trusted.contains(&ignored.id)) {
                    Some((_, (n, site))) => {
                        let reason = format!("{what}; the server publishes only records that count (fetch and try again: `git crew sync` drops it)");
                        failures.push((*n, site.fail(None, Some(ignored.id), reason)));
                    }
                    None if !base.ignored.contains(&ignored.id) => failures.push((
                        usize::MAX,
                        Failure::of_record(
                            &ignored.id,
                            format!("the push would overturn the published record {}: {what}", ignored.id.short()),
                        ),
                    )),
                    None => {}
                }
            }
        }
    }
    if let Some(horizon) = base.horizon {
        for (record, (n, site)) in fresh.values().filter(|(r, _)| r.at > horizon) {
            let ahead = record.at.ms.saturating_sub(Hlc::now().ms);
            let reason = format!(
                "record dated {}, {ahead} ms ahead of this clock (more than the skew allowed): the writer's clock is wrong",
                record.at
            );
            failures.push((*n, site.fail(None, Some(record.id), reason)));
        }
    }
    // The commit is as trustworthy as its records; checked for commits with
    // no other failure, so each failure names one cause.
    let blamed: HashSet<usize> = failures.iter().map(|(n, _)| *n).collect();
    let horizon = failures.iter().map(|(n, _)| *n).min().unwrap_or(usize::MAX);
    let trusted_by_id: HashMap<Id, &Record> = base.records.iter().map(|r| (r.id, r)).collect();
    for (n, (c, ids)) in commits.iter().zip(&added).enumerate() {
        if blamed.contains(&n) || (n > horizon && !all) {
            continue;
        }
        let records: Option<Vec<&Record>> =
            ids.iter().map(|id| fresh.get(id).map(|(r, _)| r).or_else(|| trusted_by_id.get(id).copied())).collect();
        let Some(records) = records else { continue };
        if let Err(reason) = check_commit(store, c, &records) {
            failures
                .push((n, Failure { commit: Some(c.id.to_string()), path: None, record: None, offset: None, reason }));
        }
    }
    failures.sort_by_key(|(n, _)| *n);
    if !all {
        failures.truncate(1);
    }
    if failures.is_empty() {
        // New to the base: a merge commit's diff against one side re-adds the
        // other side's records, which may be trusted already.
        let trusted: HashSet<Id> = base.records.iter().map(|r| r.id).collect();
        let new: Vec<Record> = fresh.into_values().map(|(r, _)| r).filter(|r| !trusted.contains(&r.id)).collect();
        let report = Report {
            tip: tip.to_string(),
            workspace: ws.hex(),
            commits: commits.len(),
            records: new.len(),
            failures: Vec::new(),
        };
        Ok((report, new))
    } else {
        Err(VerifyError::Failed { failures: failures.into_iter().map(|(_, f)| f).collect() })
    }
}

/// The commit is as trustworthy as its records: a commit that adds records
/// adds at least one, all by one actor, is authored and committed by that
/// actor (`name <name@crew>`) and carries the message derived from them; a
/// merge adds no record that neither parent has and carries the fixed merge
/// message. Dates are not checked.
fn check_commit<B: Backend>(store: &Store<B>, c: &CommitInfo, added: &[&Record]) -> Result<(), String> {
    let raw = store.raw_commit(c.id).map_err(|e| e.to_string())?;
    let shown = |i: &crate::object::Ident| format!("{} <{}>", i.name, i.email);
    if c.parents.len() > 1 {
        if !added.is_empty() {
            return Err(format!("a merge commit adds {} record(s) that neither parent has", added.len()));
        }
        if raw.message != MERGE_MESSAGE {
            return Err(format!("a merge commit carries the message {MERGE_MESSAGE:?}, not {:?}", raw.message));
        }
        for who in [&raw.author, &raw.committer] {
            let (name, email) = ident(&who.name);
            if who.email != email || crate::record::validate_name(&name).is_err() {
                return Err(format!("a merge commit is made by an actor (`name <name@crew>`), not {}", shown(who)));
            }
        }
        return Ok(());
    }
    let Some(first) = added.first() else {
        return Err("the commit adds no record: every commit on the branch carries records".into());
    };
    if let Some(other) = added.iter().find(|r| r.author != first.author) {
        return Err(format!(
            "the commit holds records of {} and {}: a commit holds one actor's records",
            first.author, other.author
        ));
    }
    let (name, email) = ident(&first.author);
    for (role, who) in [("author", &raw.author), ("committer", &raw.committer)] {
        if who.name != name || who.email != email {
            return Err(format!("commit {role} {} is not {name} <{email}>, the author of its records", shown(who)));
        }
    }
    let expected = commit_message(added.iter().copied());
    if raw.message != expected {
        return Err(format!(
            "the commit message {:?} is not the one derived from its records, {expected:?}",
            raw.message
        ));
    }
    Ok(())
}

/// Ids of the records that `commits` add to log files (those in a commit's
/// version of a file and not in a parent's), read lexically: no signature is
/// checked here.
pub fn records_added<B: Backend>(store: &Store<B>, ws: &Id, commits: &[CommitInfo]) -> Result<HashSet<Id>> {
    let mut added = HashSet::new();
    for c in commits {
        let parents: Vec<Option<Oid>> = if c.parents.is_empty() {
            vec![None]
        } else {
            c.parents.iter().map(|p| store.commit(*p).map(|pc| Some(pc.tree))).collect::<Result<_, _>>()?
        };
        for parent_tree in parents {
            for change in store.diff(parent_tree, c.tree)? {
                let Some(new) = change.new.filter(|n| n.is_plain_file()) else { continue };
                let ids = |oid| -> Result<HashSet<Id>> {
                    let bytes = store.blob(oid)?;
                    Ok(frame::split(&bytes).map(|fs| fs.iter().map(|f| f.id(&bytes, ws)).collect()).unwrap_or_default())
                };
                let old = match change.old.filter(|o| o.is_plain_file()) {
                    Some(o) => ids(o.oid)?,
                    None => HashSet::new(),
                };
                added.extend(ids(new.oid)?.into_iter().filter(|id| !old.contains(id)));
            }
        }
    }
    Ok(added)
}

/// The latest record (in fold order) of every log file at `tree`, read
/// lexically: for a parent that is neither verified here nor the base's tip
/// (an old commit a merge reaches back to), so the cost is paid only then.
fn latest_in<B: Backend>(store: &Store<B>, ws: &Id, tree: Oid) -> Result<Option<(Hlc, Id)>> {
    let mut max = None;
    for file in store.files(tree)? {
        if !layout::classify(&file.path).is_some_and(|p| p.is_log()) {
            continue;
        }
        let bytes = store.blob(file.oid)?;
        if let Ok(frames) = frame::split(&bytes) {
            max = max.max(frames.iter().map(|f| (f.at, f.id(&bytes, ws))).max());
        }
    }
    Ok(max)
}

fn root_workspace<B: Backend>(store: &Store<B>, tree: Oid) -> Result<Id, String> {
    let bytes = store.read(tree, layout::MANIFEST).map_err(|e| e.to_string())?;
    let bytes = bytes.ok_or("the first commit has no CREW.yaml: this branch was not created by git crew init")?;
    crate::decode::genesis_id(&bytes).map_err(|(offset, p)| format!("byte {offset}: {p}"))
}

/// What identifies a record's exact bytes: its id (the body) and its `sig:` line.
type Fingerprint = (Id, PublicKey, Signature);

/// [`record::decode_records`] spread over the machine's cores: verification
/// is pure and independent per record, and signature checks dominate.
fn decode_in_parallel(items: &[&[u8]], ws: &Id) -> Vec<Result<Record, (usize, Problem)>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if threads == 1 || items.len() < 256 {
        return record::decode_records(items, ws);
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items.chunks(chunk).map(|c| scope.spawn(move || record::decode_records(c, ws))).collect();
        handles.into_iter().flat_map(|h| h.join().expect("record decoding does not panic")).collect()
    })
}

/// One record of a blob, located lexically.
#[derive(Clone)]
struct Located {
    fp: Fingerprint,
    span: Range<usize>,
    /// Its place in the fold order, `(at, id)`.
    key: (Hlc, Id),
    kind: String,
    author: String,
}

/// What one commit adds to one file, relative to one parent.
struct Added {
    ids: Vec<Id>,
    /// The latest of them in the fold order.
    max: Option<(Hlc, Id)>,
}

/// A commit and file where something was found.
#[derive(Clone)]
struct Site {
    commit: Oid,
    path: String,
}

impl Site {
    fn fail(&self, offset: Option<usize>, record: Option<Id>, reason: String) -> Failure {
        Failure {
            commit: Some(self.commit.to_string()),
            path: Some(self.path.clone()),
            record: record.map(|r| r.hex()),
            offset,
            reason,
        }
    }
}

/// A record to verify in pass two, where it first appeared.
struct Queued {
    n: usize,
    site: Site,
    /// Where it starts in its file.
    start: usize,
    id: Id,
    bytes: Vec<u8>,
    /// It reappeared with another signature than an already placed record.
    resigned: bool,
}

/// A known record that a later commit added to some file.
struct Copy {
    n: usize,
    site: Site,
    id: Id,
}

struct Walker<'a, B> {
    store: &'a Store<B>,
    ws: Id,
    /// The first appearance of every record id: its exact bytes' fingerprint.
    placed: HashMap<Id, Fingerprint>,
    /// Framed blobs, by blob id.
    frames: HashMap<Oid, Vec<Located>>,
    queue: Vec<Queued>,
    copies: Vec<Copy>,
}

impl<B: Backend> Walker<'_, B> {
    /// Pass one: the structural checks of one changed path in commit number `n`,
    /// against one parent whose latest record (in fold order) is `parent_max`.
    /// Returns the records the new version of the file holds that the old one
    /// does not.
    ///
    /// A file only grows at its end: every record added sorts after every
    /// record the file had, and a record whose kind sorts after everything
    /// ([`record::kinds::sorts_after_everything`]) sorts after every record of
    /// the parent. So a push can add to what was published, never reorder it:
    /// a record dated before a published one, whoever signs it, cannot change
    /// what that one decided.
    fn scan(
        &mut self,
        n: usize,
        commit: Oid,
        change: &Change,
        parent_max: Option<(Hlc, Id)>,
    ) -> Result<Added, Failure> {
        let none = Added { ids: Vec::new(), max: None };
        let site = Site { commit, path: change.path.clone() };
        let Some(place) = layout::classify(&change.path) else {
            return Err(site.fail(None, None, "file outside the workspace layout".into()));
        };
        let Some(new) = &change.new else {
            return Err(site.fail(None, None, "file deleted: log files are append-only".into()));
        };
        if !new.is_plain_file() {
            let mode = new.mode.octal();
            let reason =
                format!("mode {mode} not allowed: only plain files (no symlinks, submodules or executable bits)");
            return Err(site.fail(None, None, reason));
        }
        let git_err = |e: crate::store::StoreError| site.fail(None, None, e.to_string());
        let new_bytes = self.store.blob(new.oid).map_err(git_err)?;
        if place == Place::Attributes {
            if new_bytes != layout::ATTRIBUTES_CONTENT {
                return Err(site.fail(None, None, "`.gitattributes` differs from the fixed content".into()));
            }
            return Ok(none);
        }
        let located = |(off, p): (usize, Problem)| site.fail(Some(off), None, p.to_string());
        let old = match change.old.as_ref().filter(|o| o.is_plain_file()) {
            Some(o) => {
                let bytes = self.store.blob(o.oid).map_err(git_err)?;
                self.framed(o.oid, &bytes).map_err(located)?
            }
            None => Vec::new(),
        };
        let new_frames = self.framed(new.oid, &new_bytes).map_err(located)?;
        let present: HashSet<&Fingerprint> = new_frames.iter().map(|f| &f.fp).collect();
        if let Some(gone) = old.iter().find(|f| !present.contains(&f.fp)) {
            let reason = "record removed or edited: log files are append-only";
            return Err(site.fail(None, Some(gone.fp.0), reason.into()));
        }
        if new_frames.is_empty() {
            return Err(site.fail(None, None, "empty log file: a log file holds at least one record".into()));
        }
        if place == Place::Manifest && new_frames[0].fp.0 != self.ws {
            let reason = "CREW.yaml must begin with this workspace's genesis record";
            return Err(site.fail(Some(0), Some(new_frames[0].fp.0), reason.into()));
        }
        let before: HashSet<&Fingerprint> = old.iter().map(|f| &f.fp).collect();
        let end = old.last();
        let mut added = none;
        for f in new_frames.iter().filter(|f| !before.contains(&f.fp)) {
            if let Some(end) = end.filter(|end| end.key >= f.key) {
                let reason = format!(
                    "record sorts before {}, the last record the file already had ({} by {} at {}): a file only grows at its end, so this would overturn what was published; re-make it on top (`git crew sync` does)",
                    end.fp.0.short(), end.kind, end.author, end.key.0
                );
                return Err(site.fail(Some(f.span.start), Some(f.fp.0), reason));
            }
            if record::kinds::sorts_after_everything(&f.kind) && parent_max.is_some_and(|m| m >= f.key) {
                let (at, id) = parent_max.unwrap_or_default();
                let reason = format!(
                    "a {} sorts after every record it was written on, but this one sorts before {} (at {at}): re-make it on top (`git crew sync` does)",
                    f.kind, id.short()
                );
                return Err(site.fail(Some(f.span.start), Some(f.fp.0), reason));
            }
            added.ids.push(f.fp.0);
            added.max = added.max.max(Some(f.key));
            let (resigned, known) = match self.placed.get(&f.fp.0) {
                None => (false, false),
                Some(first) => (*first != f.fp, *first == f.fp),
            };
            if known {
                self.copies.push(Copy { n, site: site.clone(), id: f.fp.0 });
                continue;
            }
            if !resigned {
                self.placed.insert(f.fp.0, f.fp);
            }
            let bytes = new_bytes[f.span.clone()].to_vec();
            self.queue.push(Queued { n, site: site.clone(), start: f.span.start, id: f.fp.0, bytes, resigned });
        }
        Ok(added)
    }

    /// Pass two: verify the queued records in batches, check every record is in
    /// its file, and return the verified records with where they first appeared.
    fn verify_queued(&mut self, failures: &mut Vec<(usize, Failure)>) -> HashMap<Id, (Record, (usize, Site))> {
        // Without `--all`, only records older than the first failure can matter.
        let horizon = failures.iter().map(|(n, _)| *n).min().unwrap_or(usize::MAX);
        let queue: Vec<Queued> = std::mem::take(&mut self.queue).into_iter().filter(|q| q.n <= horizon).collect();
        let items: Vec<&[u8]> = queue.iter().map(|q| q.bytes.as_slice()).collect();
        let mut records: HashMap<Id, (Record, (usize, Site))> = HashMap::new();
        for (q, decoded) in queue.iter().zip(decode_in_parallel(&items, &self.ws)) {
            let record = match decoded {
                Ok(r) => r,
                Err((offset, p)) => {
                    failures.push((q.n, q.site.fail(Some(q.start + offset), Some(q.id), p.to_string())));
                    continue;
                }
            };
            let expected = layout::path_of(&record);
            if expected != q.site.path {
                failures.push((q.n, q.site.fail(None, Some(record.id), Problem::WrongFile(expected).to_string())));
            } else if q.resigned {
                let reason = "record appears with two different valid signatures";
                failures.push((q.n, q.site.fail(None, Some(record.id), reason.into())));
            } else {
                records.insert(record.id, (record, (q.n, q.site.clone())));
            }
        }
        for copy in std::mem::take(&mut self.copies) {
            if let Some((record, _)) = records.get(&copy.id) {
                let expected = layout::path_of(record);
                if expected != copy.site.path {
                    failures
                        .push((copy.n, copy.site.fail(None, Some(copy.id), Problem::WrongFile(expected).to_string())));
                }
            }
        }
        records
    }

    /// The records of a blob in file order, located, framed once per blob;
    /// refuses a file that is not sorted by (`at`, id).
    fn framed(&mut self, oid: Oid, bytes: &[u8]) -> Result<Vec<Located>, (usize, Problem)> {
        if let Some(framed) = self.frames.get(&oid) {
            return Ok(framed.clone());
        }
        let framed: Vec<Located> = frame::split(bytes)?
            .into_iter()
            .map(|f| {
                let id = f.id(bytes, &self.ws);
                Located { fp: (id, f.key, f.sig), key: (f.at, id), span: f.span, kind: f.kind, author: f.author }
            })
            .collect();
        if let Some(pair) = framed.windows(2).find(|pair| pair[0].key >= pair[1].key) {
            return Err((pair[1].span.start, Problem::OutOfOrder));
        }
        self.frames.insert(oid, framed.clone());
        Ok(framed)
    }
}
