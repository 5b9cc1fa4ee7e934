//! Bringing this clone's unpublished records on top of what was published.
//!
//! Once a record is published it stays as it was decided: a file only grows
//! at its end, and records that sort after everything (identity and control
//! records, task edits) go after everything (see [`crate::verify`]). So a
//! clone that wrote while offline, or whose push lost a race, cannot merge its
//! records in where their stamps would put them: a claim dated before one that
//! was published meanwhile would overturn it. Instead, `sync` replays its
//! unpublished commits, one by one, on top of the published tip:
//!
//! - a record already published (by an earlier push of ours) is skipped;
//! - a record that still goes after everything it must and still counts is
//!   kept as it is, byte for byte;
//! - otherwise, if its author's key is on this machine, it is *re-made*: the
//!   same payload (its references to other re-made records updated, a
//!   suspension's `seen` taken again), signed with a fresh stamp on top; if
//!   that counts, it replaces the old record, else it is dropped;
//! - a record nobody here can re-make, or that does not count when re-made (a
//!   claim on a task someone else now holds, a write by a suspended actor), is
//!   dropped and reported, never retried.
//!
//! The result is one commit per replayed commit, each by its records' author
//! with the message derived from them, on top of the published tip: the
//! history stays linear and every commit satisfies the rules a server checks.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::store::Backend;
use crate::store::Oid;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::id::Id;
use crate::layout;
use crate::merge;
use crate::record::{self, frame, kinds, Payload, Record};
use crate::state::State;
use crate::store::CommitInfo;
use crate::workspace::Workspace;

/// A record that was re-made on top.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Remade {
    /// The unpublished record.
    pub old: String,
    /// The record that replaces it.
    pub new: String,
    /// Its kind.
    pub kind: String,
}

/// A record that was dropped: it does not count on top of what was published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// The record.
    pub record: String,
    /// Its kind.
    pub kind: String,
    /// Its author.
    pub author: String,
    /// Why it does not count.
    pub reason: String,
    /// Its signed bytes as they were stored (empty when they could not be
    /// read), so its author can be told what was removed.
    #[serde(skip)]
    pub stored: Vec<u8>,
    /// For a suspension sent back only because its target published since
    /// what it saw: the target (a server fences it; see `fold`).
    #[serde(skip)]
    pub late_suspension_of: Option<String>,
}

/// What a replay made.
#[derive(Debug)]
pub struct Replayed {
    /// The new tip (the published tip when nothing was kept).
    pub tip: Oid,
    /// Records kept or re-made.
    pub kept: usize,
    /// Records re-made.
    pub remade: Vec<Remade>,
    /// Records dropped.
    pub dropped: Vec<Dropped>,
}

/// Whether a replay may re-make records (sign them anew with their author's
/// key on this machine). A server never does: it holds no keys, and a record
/// it cannot place as it is goes back to its author.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remake {
    /// Re-make what no longer fits, when its author's key is here.
    Allowed,
    /// Keep records byte for byte or drop them.
    Never,
}

/// Replay `commits` (this clone's unpublished commits, parents first) on top
/// of `onto`, whose folded state (every task) is `state` and whose records are
/// `published`. Writes commits; moves no ref.
pub fn replay<B: Backend>(
    ws: &Workspace<B>,
    onto: Oid,
    mut state: State,
    published: &HashSet<Id>,
    commits: &[CommitInfo],
    may: Remake,
) -> Result<Replayed> {
    let store = ws.store();
    let ws_id = state.workspace;
    let mut tip = onto;
    let mut tree = store.commit(onto)?.tree;
    let mut out = Replayed { tip, kept: 0, remade: Vec::new(), dropped: Vec::new() };
    let mut renamed: HashMap<Id, Id> = HashMap::new();
    let mut ends: BTreeMap<String, Option<(Hlc, Id)>> = BTreeMap::new();
    for c in commits.iter().filter(|c| c.parents.len() <= 1) {
        let mut records = match added_records(ws, &ws_id, c) {
            Ok((records, unreadable)) => {
                out.dropped.extend(unreadable);
                records
            }
            Err(e) => {
                let reason = format!("commit {} cannot be read: {e}", c.id);
                out.dropped.push(Dropped {
                    record: String::new(),
                    kind: String::new(),
                    author: String::new(),
                    reason,
                    stored: Vec::new(),
                    late_suspension_of: None,
                });
                continue;
            }
        };
        records.sort_by_key(|(r, _)| r.order_key());
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut kept: Vec<Record> = Vec::new();
        for (r, stored) in records {
            if published.contains(&r.id) {
                continue;
            }
            let path = layout::path_of(&r);
            let end = match ends.get(&path) {
                Some(end) => *end,
                None => {
                    let bytes = store.read(tree, &path)?.unwrap_or_default();
                    let end = frame::split(&bytes)
                        .map_err(|p| Error::from(record::FileError::new(&path, p)))?
                        .last()
                        .map(|f| (f.at, f.id(&bytes, &ws_id)));
                    ends.insert(path.clone(), end);
                    end
                }
            };
            let fits = end.is_none_or(|e| r.order_key() > e)
                && (!kinds::sorts_after_everything(r.kind()) || state.last.is_none_or(|l| r.order_key() > l))
                && saw_everything(&state, &r);
            let placed = if fits && state.check(&r).is_ok() && !renames_anything(&r, &renamed) {
                Some((r.clone(), stored, None))
            } else {
                let remade = match may {
                    Remake::Allowed => remake(ws, &state, &r, &renamed, end),
                    Remake::Never => Err(why_not_as_is(&state, &r, fits)),
                };
                match remade {
                    Ok((new, bytes)) => Some((new, bytes, Some(r.clone()))),
                    Err(reason) => {
                        out.dropped.push(Dropped {
                            record: r.id.hex(),
                            kind: r.kind().to_owned(),
                            author: r.author.clone(),
                            reason,
                            stored,
                            late_suspension_of: late_suspension_of(&state, &r),
                        });
                        None
                    }
                }
            };
            let Some((placed, bytes, old)) = placed else { continue };
            let base = match files.remove(&path) {
                Some(b) => b,
                None => store.read(tree, &path)?.unwrap_or_default(),
            };
            files.insert(path.clone(), merge::insert(&base, &bytes, &ws_id)?);
            ends.insert(path, Some(placed.order_key()));
            let _ = state.apply(&placed);
            if let Some(old) = old {
                renamed.insert(old.id, placed.id);
                out.remade.push(Remade { old: old.id.hex(), new: placed.id.hex(), kind: placed.kind().to_owned() });
            }
            kept.push(placed);
        }
        if kept.is_empty() {
            continue;
        }
        let author = kept[0].author.clone();
        let message = record::commit_message(&kept);
        let edits: Vec<(String, Vec<u8>)> = files.into_iter().collect();
        tip = store.write_commit(&[tip], Some(tree), &edits, &author, &message)?;
        tree = store.commit(tip)?.tree;
        out.kept += kept.len();
    }
    out.tip = tip;
    Ok(out)
}

/// Why `r` cannot be placed byte for byte on top of `state` (when re-making
/// is not allowed): it sorts before what was published, or it does not count.
fn why_not_as_is(state: &State, r: &Record, fits: bool) -> String {
    match state.check(r) {
        Err(why) => why.to_string(),
        Ok(()) if fits => "it refers to a record that was re-made".to_owned(),
        Ok(()) => format!("it is dated {} and sorts before what was published since", r.at.rfc3339()),
    }
}

/// Whether `r`, if a suspension, saw everything its target published: else it
/// would void published records, and is re-made to see them.
fn saw_everything(state: &State, r: &Record) -> bool {
    let Payload::ActorSuspend(s) = &r.payload else { return true };
    let last = state.actors.get(&s.name).and_then(|a| a.last_at.zip(a.last_record));
    last.is_none_or(|last| s.seen_at.zip(s.seen).is_some_and(|seen| seen >= last))
}

/// The target of `r`, if `r` is a suspension that counts but for not having
/// seen what its target published since.
fn late_suspension_of(state: &State, r: &Record) -> Option<String> {
    let Payload::ActorSuspend(s) = &r.payload else { return None };
    (state.check(r).is_ok() && !saw_everything(state, r)).then(|| s.name.clone())
}

/// Whether `r` refers to a record that was re-made (so it must be re-made to
/// refer to the new one).
fn renames_anything(r: &Record, renamed: &HashMap<Id, Id>) -> bool {
    r.payload.record_refs().iter().any(|id| renamed.contains_key(id))
}

/// The same payload as `r`, its references to re-made records updated, signed
/// anew by its author with a stamp after everything in `state` (and after the
/// end of its file): the new record and its bytes if it counts, else why not.
fn remake<B: Backend>(
    ws: &Workspace<B>,
    state: &State,
    r: &Record,
    renamed: &HashMap<Id, Id>,
    end: Option<(Hlc, Id)>,
) -> std::result::Result<(Record, Vec<u8>), String> {
    let key = ws.keys().load(&state.workspace, &r.author).map_err(|_| {
        format!("it was written by {} and sorts before what was published since; their key is not on this machine to re-make it", r.author)
    })?;
    if key.public() != r.key {
        return Err(format!("it was signed with a key of {} that is no longer theirs", r.author));
    }
    let mut payload = r.payload.clone();
    payload.rename_refs(renamed);
    if let Payload::ActorSuspend(s) = &mut payload {
        // What the suspension includes is what is published now.
        let last = state.actors.get(&s.name);
        (s.seen, s.seen_at) = (last.and_then(|a| a.last_record), last.and_then(|a| a.last_at));
    }
    let seen = state.last.map(|(at, _)| at).max(end.map(|(at, _)| at)).unwrap_or_default();
    let at = Hlc::next(Hlc::now(), seen);
    let (new, bytes) = record::encode(&state.workspace, &r.author, at, payload, &key).map_err(|p| p.to_string())?;
    state.check(&new).map_err(|why| why.to_string())?;
    Ok((new, bytes))
}

/// A decoded record and its stored bytes.
type Stored = (Record, Vec<u8>);

/// The records commit `c` adds relative to its first parent, decoded, with
/// their stored bytes; and the ones that do not decode or are misplaced (a
/// commit being replayed may come from a remote without hooks), dropped.
fn added_records<B: Backend>(ws: &Workspace<B>, ws_id: &Id, c: &CommitInfo) -> Result<(Vec<Stored>, Vec<Dropped>)> {
    let store = ws.store();
    let parent_tree = match c.parents.first() {
        Some(p) => Some(store.commit(*p)?.tree),
        None => None,
    };
    let (mut out, mut bad) = (Vec::new(), Vec::new());
    for change in store.diff(parent_tree, c.tree)? {
        if !layout::classify(&change.path).is_some_and(|p| p.is_log()) {
            continue;
        }
        let Some(new) = change.new else { continue };
        let old = match change.old {
            Some(o) => store.blob(o.oid)?,
            None => Vec::new(),
        };
        let located = |p| Error::from(record::FileError::new(&change.path, p));
        let old_ids: HashSet<Id> =
            frame::split(&old).map(|fs| fs.iter().map(|f| f.id(&old, ws_id)).collect()).unwrap_or_default();
        let bytes = store.blob(new.oid)?;
        for f in frame::split(&bytes).map_err(located)?.iter().filter(|f| !old_ids.contains(&f.id(&bytes, ws_id))) {
            let stored = bytes[f.span.clone()].to_vec();
            let dropped = |reason: String| Dropped {
                record: f.id(&bytes, ws_id).hex(),
                kind: f.kind.clone(),
                author: f.author.clone(),
                reason,
                stored: Vec::new(),
                late_suspension_of: None,
            };
            match record::decode_records(&[&stored], ws_id).pop() {
                Some(Ok(r)) if layout::path_of(&r) == change.path => out.push((r, stored)),
                Some(Ok(r)) => bad.push(dropped(format!("it belongs in {}, not {}", layout::path_of(&r), change.path))),
                Some(Err((_, p))) => bad.push(dropped(p.to_string())),
                None => bad.push(dropped("no record".into())),
            }
        }
    }
    Ok((out, bad))
}

/// Remember what replays in this clone re-made (`old new` per line, in
/// `<git common dir>/crew/remade.log`), so a writer whose records another
/// process's sync re-made can tell what became of them. The caller holds the
/// publish lock; the log keeps the latest [`REMAKES_KEPT`] lines.
pub fn note_remakes<B: Backend>(ws: &Workspace<B>, remade: &[Remade]) -> Result<()> {
    if remade.is_empty() {
        return Ok(());
    }
    let path = remakes_path(ws);
    let io = |source| Error::Io { what: format!("cannot record re-made records in {}", path.display()), source };
    let old = std::fs::read(&path).unwrap_or_default();
    let old = String::from_utf8_lossy(&old);
    let fresh = remade.iter().map(|r| format!("{} {}", r.old, r.new));
    let lines: Vec<String> = old.lines().map(str::to_owned).chain(fresh).collect();
    let kept = &lines[lines.len().saturating_sub(REMAKES_KEPT)..];
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("log.tmp");
    std::fs::write(&tmp, kept.join("\n") + "\n").map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// How many re-makes [`note_remakes`] keeps: far more than the writers that
/// can be waiting on one clone's publish lock at once.
pub const REMAKES_KEPT: usize = 4096;

/// The re-makes noted in this clone: old id to new id. Unreadable lines are
/// skipped (the log is a local note, not evidence).
pub fn noted_remakes<B: Backend>(ws: &Workspace<B>) -> HashMap<Id, Id> {
    let bytes = std::fs::read(remakes_path(ws)).unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| {
            let (old, new) = l.split_once(' ')?;
            Some((old.parse().ok()?, new.parse().ok()?))
        })
        .collect()
}

fn remakes_path<B: Backend>(ws: &Workspace<B>) -> std::path::PathBuf {
    ws.local_dir().join("remade.log")
}
