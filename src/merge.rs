//! The merge law: two versions of a log file merge by union of records.
//!
//! The result holds every record of either side exactly once, sorted by
//! (`at`, id), so one set of records is one byte string. The merge is
//! commutative, associative and idempotent. A side that removed, edited or
//! reordered a record of the base is refused, as is a record id that appears
//! with two different byte strings. This one function serves the git merge
//! driver, in-process merges and appends. It reads records lexically
//! ([`crate::record::frame`]) and checks no signatures: verifying is the
//! job of the fold, `verify` and the server hook.

use std::collections::BTreeMap;
use std::path::Path;

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::{frame, Problem};

/// Which input of a merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The common ancestor (`%O`).
    Base,
    /// Our version (`%A`).
    Ours,
    /// Their version (`%B`).
    Theirs,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Base => "base",
            Side::Ours => "ours",
            Side::Theirs => "theirs",
        })
    }
}

/// Why two versions cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A side is not a well-formed log file.
    #[error("{side} version: byte {offset}: {problem}")]
    Malformed {
        /// Which input.
        side: Side,
        /// Where.
        offset: usize,
        /// What.
        problem: Problem,
    },
    /// A side is missing or changed a record of the base.
    #[error("{side} version removed or edited record {} of the base: log files are append-only", id.short())]
    BaseRecordLost {
        /// Which input.
        side: Side,
        /// The base record.
        id: Id,
    },
    /// A file of the driver contract could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// One record id with two different byte strings.
    #[error("record {} appears with two different byte strings (a re-signed or forged record)", id.short())]
    Diverged {
        /// The record.
        id: Id,
    },
}

struct Entry<'a> {
    bytes: &'a [u8],
}

type Entries<'a> = BTreeMap<(Hlc, Id), Entry<'a>>;

fn entries<'a>(file: &'a [u8], ws: &Id, side: Side) -> Result<Entries<'a>, MergeError> {
    let malformed = |(offset, problem)| MergeError::Malformed { side, offset, problem };
    let frames = frame::split(file).map_err(malformed)?;
    let mut out = BTreeMap::new();
    let mut prev: Option<(Hlc, Id)> = None;
    for f in &frames {
        let key = (f.at, f.id(file, ws));
        if prev.is_some_and(|p| p >= key) {
            return Err(malformed((f.span.start, Problem::OutOfOrder)));
        }
        prev = Some(key);
        out.insert(key, Entry { bytes: &file[f.span.clone()] });
    }
    Ok(out)
}

fn absorb<'a>(into: &mut Entries<'a>, from: Entries<'a>) -> Result<(), MergeError> {
    for (key, entry) in from {
        match into.get(&key) {
            Some(existing) if existing.bytes != entry.bytes => return Err(MergeError::Diverged { id: key.1 }),
            Some(_) => {}
            None => {
                into.insert(key, entry);
            }
        }
    }
    Ok(())
}

fn render(entries: &Entries<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.values().map(|e| e.bytes.len()).sum());
    for e in entries.values() {
        out.extend_from_slice(e.bytes);
    }
    out
}

/// Three-way merge of a log file under workspace `ws`: the union of `ours` and
/// `theirs`, each of which must contain every record of `base` unchanged.
pub fn merge(base: &[u8], ours: &[u8], theirs: &[u8], ws: &Id) -> Result<Vec<u8>, MergeError> {
    let base = entries(base, ws, Side::Base)?;
    let mut ours_e = entries(ours, ws, Side::Ours)?;
    let theirs_e = entries(theirs, ws, Side::Theirs)?;
    for (side, version) in [(Side::Ours, &ours_e), (Side::Theirs, &theirs_e)] {
        for (key, entry) in &base {
            if version.get(key).is_none_or(|e| e.bytes != entry.bytes) {
                return Err(MergeError::BaseRecordLost { side, id: key.1 });
            }
        }
    }
    absorb(&mut ours_e, theirs_e)?;
    Ok(render(&ours_e))
}

/// Two-way union of log files (no base): what [`merge`] gives with an empty base.
pub fn union(ours: &[u8], theirs: &[u8], ws: &Id) -> Result<Vec<u8>, MergeError> {
    merge(b"", ours, theirs, ws)
}

/// Add one framed record to a log file: exactly [`union`], so a malformed
/// file is refused here as everywhere. Files are small by design (one task,
/// one author-day of a channel), so the full check costs little.
pub fn insert(file: &[u8], record: &[u8], ws: &Id) -> Result<Vec<u8>, MergeError> {
    union(file, record, ws)
}

/// The git merge driver contract (`merge.crew.driver = git-crew merge-driver
/// %O %A %B %P`): read the base (`%O`), ours (`%A`) and theirs (`%B`), write
/// the merged file over ours, and return `Ok` for a clean merge. On refusal
/// nothing is written and git reports a conflict for the path.
pub fn merge_files(base: &Path, ours: &Path, theirs: &Path, ws: &Id) -> Result<(), MergeError> {
    let read = |p: &Path| std::fs::read(p).map_err(|source| MergeError::Io { path: p.to_owned(), source });
    let merged = merge(&read(base)?, &read(ours)?, &read(theirs)?, ws)?;
    std::fs::write(ours, merged).map_err(|source| MergeError::Io { path: ours.to_owned(), source })
}
