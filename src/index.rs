//! The incremental index: the folded state cached under `.git/crew/`, keyed by
//! the branch tip.
//!
//! A command asks for the state at the current tip. If the cache is at that tip,
//! it is read and returned. Otherwise the cache catches up from the tip it was
//! built at: it diffs the two trees, verifies and decodes only the records that
//! are new, and applies them (or refolds the cached records when new ones sort
//! before what was already folded, as after merging another clone's work). With
//! no usable cache it builds from the whole tip.
//!
//! Invariant: the cache is a pure optimisation. Deleting it changes no output; a
//! cache that fails its checksum or does not match the branch is rebuilt, never
//! trusted. Updates are serialised by a lock file and re-read the tip under it,
//! so the cached tip only moves along the branch.

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use gix::ObjectId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::id::Id;
use crate::layout;
use crate::record::{self, frame, FileError, Problem, Record, GENESIS_KIND};
use crate::state::State;
use crate::store::Store;

const MAGIC: &[u8; 8] = b"crewidx1";

/// The state of a workspace at a branch tip.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The tip the state was folded at.
    pub tip: ObjectId,
    /// The folded state.
    pub state: State,
}

#[derive(Serialize, Deserialize)]
struct Cached {
    tip: Vec<u8>,
    records_len: u64,
    state: State,
}

/// The cache of one branch.
pub struct Index {
    dir: PathBuf,
}

impl Index {
    /// The cache of `store`'s branch.
    pub fn new(store: &Store) -> Index {
        let branch = crate::id::hex(store.branch().as_bytes());
        Index { dir: store.git_dir().join("crew").join("cache").join(branch) }
    }

    /// Where the cache lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Delete the cache.
    pub fn clear(&self) -> Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("removing the index cache", e)),
            _ => Ok(()),
        }
    }

    /// The state at the branch tip.
    pub fn load(&self, store: &Store) -> Result<Snapshot> {
        let tip = store.tip()?.ok_or_else(|| Error::NoWorkspace { branch: store.branch().to_owned() })?;
        if let Some(c) = self.read_state() {
            if c.tip == tip.as_bytes() {
                return Ok(Snapshot { tip, state: c.state });
            }
        }
        self.update(store)
    }

    /// Every record at the branch tip, in fold order, with the state.
    pub fn records(&self, store: &Store) -> Result<(Snapshot, Vec<Record>)> {
        let snap = self.load(store)?;
        let cached = self.read_state();
        let records = match cached {
            Some(c) if c.tip == snap.tip.as_bytes() => self.read_records(c.records_len),
            _ => None,
        };
        let mut records = match records {
            Some(r) => r,
            None => build_from_tip(store, snap.tip)?.1,
        };
        records.sort_by_key(Record::order_key);
        Ok((snap, records))
    }

    /// Bring the cache to the current tip under the lock and return the state.
    fn update(&self, store: &Store) -> Result<Snapshot> {
        let _lock = self.lock();
        let tip = store.tip()?.ok_or_else(|| Error::NoWorkspace { branch: store.branch().to_owned() })?;
        let cached = self.read_state();
        if let Some(c) = &cached {
            if c.tip == tip.as_bytes() {
                return Ok(Snapshot { tip, state: c.state.clone() });
            }
        }
        let incremental = cached.and_then(|c| {
            let old = ObjectId::try_from(c.tip.as_slice()).ok()?;
            Some((old, c))
        });
        if let Some((old, cached)) = incremental {
            if let Some(snap) = self.catch_up(store, old, cached, tip)? {
                return Ok(snap);
            }
        }
        let (state, records) = build_from_tip(store, tip)?;
        self.write_all(tip, &state, &records);
        Ok(Snapshot { tip, state })
    }

    /// Apply what changed from `old` to `tip`; `None` when history was rewritten
    /// (a record disappeared) and a full build is needed.
    fn catch_up(&self, store: &Store, old: ObjectId, cached: Cached, tip: ObjectId) -> Result<Option<Snapshot>> {
        let ws = cached.state.workspace;
        let old_tree = match store.commit(old) {
            Ok(c) => c.tree,
            Err(_) => return Ok(None),
        };
        let new_tree = store.commit(tip)?.tree;
        let mut fresh = Vec::new();
        for change in store.diff(Some(old_tree), new_tree)? {
            let Some(place) = layout::classify(&change.path) else { continue };
            if !place.is_log() {
                continue;
            }
            let Some(new) = &change.new else { return Ok(None) };
            let new_bytes = store.blob(new.oid)?;
            let old_bytes = match &change.old {
                Some(o) => store.blob(o.oid)?,
                None => Vec::new(),
            };
            match new_records(&change.path, &old_bytes, &new_bytes, &ws)? {
                Some(records) => fresh.extend(records),
                None => return Ok(None),
            }
        }
        fresh.sort_by_key(Record::order_key);
        let mut state = cached.state;
        let in_order = match (state.last, fresh.first()) {
            (Some(last), Some(first)) => last < first.order_key(),
            _ => true,
        };
        if in_order {
            for r in &fresh {
                let _ = state.apply(r);
            }
        } else {
            let Some(mut all) = self.read_records(cached.records_len) else { return Ok(None) };
            all.extend(fresh.iter().cloned());
            state = State::fold(ws, &all);
        }
        let records_len = self.append_records(cached.records_len, &fresh);
        self.write_state(&Cached { tip: tip.as_bytes().to_vec(), records_len, state: state.clone() });
        Ok(Some(Snapshot { tip, state }))
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.bin")
    }

    fn records_path(&self) -> PathBuf {
        self.dir.join("records.bin")
    }

    fn read_state(&self) -> Option<Cached> {
        let bytes = fs::read(self.state_path()).ok()?;
        let payload = checked(&bytes)?;
        postcard::from_bytes(payload).ok()
    }

    /// Every cached record, de-duplicated; `None` if the file is damaged.
    fn read_records(&self, len: u64) -> Option<Vec<Record>> {
        let mut file = fs::File::open(self.records_path()).ok()?;
        let mut bytes = Vec::new();
        Read::by_ref(&mut file).take(len).read_to_end(&mut bytes).ok()?;
        if bytes.len() as u64 != len {
            return None;
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let n = u64::from_le_bytes(rest.get(8..16)?.try_into().ok()?) as usize;
            let chunk = rest.get(..16 + 32 + n)?;
            let records: Vec<Record> = postcard::from_bytes(checked(chunk)?).ok()?;
            out.extend(records.into_iter().filter(|r| seen.insert(r.id)));
            rest = &rest[chunk.len()..];
        }
        Some(out)
    }

    fn write_all(&self, tip: ObjectId, state: &State, records: &[Record]) {
        let _ = fs::remove_file(self.records_path());
        let records_len = self.append_records(0, records);
        self.write_state(&Cached { tip: tip.as_bytes().to_vec(), records_len, state: state.clone() });
    }

    /// Append a chunk of records; returns the new valid length. Best effort: the
    /// cache is an optimisation, so failures only cost speed later.
    fn append_records(&self, valid_len: u64, records: &[Record]) -> u64 {
        if records.is_empty() {
            return valid_len;
        }
        let Ok(payload) = postcard::to_stdvec(records) else { return valid_len };
        let chunk = seal(&payload);
        let _ = fs::create_dir_all(&self.dir);
        let appended =
            fs::OpenOptions::new().create(true).write(true).truncate(false).open(self.records_path()).and_then(|f| {
                f.set_len(valid_len)?;
                let mut f = f;
                std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(valid_len))?;
                f.write_all(&chunk)
            });
        match appended {
            Ok(()) => valid_len + chunk.len() as u64,
            Err(_) => valid_len,
        }
    }

    fn write_state(&self, cached: &Cached) {
        let Ok(payload) = postcard::to_stdvec(cached) else { return };
        let _ = fs::create_dir_all(&self.dir);
        let tmp = self.dir.join(format!("state.tmp.{}", std::process::id()));
        if fs::write(&tmp, seal(&payload)).is_ok() {
            let _ = fs::rename(&tmp, self.state_path());
        }
    }

    fn lock(&self) -> Option<fs::File> {
        fs::create_dir_all(&self.dir).ok()?;
        let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(self.dir.join("lock")).ok()?;
        file.lock().ok()?;
        Some(file)
    }
}

/// `MAGIC`, payload length, sha256 of the payload, payload.
fn seal(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 32 + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// The payload of a sealed blob if its magic, length and checksum hold.
fn checked(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.get(..8)? != MAGIC {
        return None;
    }
    let n = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?) as usize;
    let (sum, payload) = (bytes.get(16..48)?, bytes.get(48..)?);
    (payload.len() == n && Sha256::digest(payload).as_slice() == sum).then_some(payload)
}

fn io(what: &str, source: std::io::Error) -> Error {
    Error::Io { what: what.to_owned(), source }
}

/// The workspace id of the branch at `tree`: the id of the genesis record that
/// opens `CREW.yaml`.
pub fn workspace_id(store: &Store, tree: ObjectId) -> Result<Id> {
    let bytes =
        store.read(tree, layout::MANIFEST)?.ok_or_else(|| Error::NoWorkspace { branch: store.branch().to_owned() })?;
    genesis_id(&bytes).map_err(|p| Error::File(FileError::new(layout::MANIFEST, p)))
}

/// The id of the genesis record opening a manifest file.
pub fn genesis_id(manifest: &[u8]) -> Result<Id, (usize, Problem)> {
    let frames = frame::split(manifest)?;
    match frames.first() {
        Some(f) if f.kind == GENESIS_KIND => Ok(f.id(manifest, &Id::ZERO)),
        _ => Err((0, Problem::BadField("CREW.yaml must start with a crew.genesis record".into()))),
    }
}

/// Verify and decode the records of `new` that are not in `old`; `None` if a
/// record of `old` is missing from `new` (history was rewritten).
fn new_records(path: &str, old: &[u8], new: &[u8], ws: &Id) -> Result<Option<Vec<Record>>> {
    let located = |p| Error::File(FileError::new(path, p));
    let old_ids: HashSet<Id> = frame::split(old).map_err(located)?.iter().map(|f| f.id(old, ws)).collect();
    let (records, seen_old) = record::decode_file_except(new, ws, &old_ids).map_err(located)?;
    if seen_old != old_ids.len() {
        return Ok(None);
    }
    check_paths(path, &records)?;
    Ok(Some(records))
}

fn check_paths(path: &str, records: &[Record]) -> Result<()> {
    for r in records {
        let expected = layout::path_of(r);
        if expected != path {
            return Err(Error::File(FileError {
                path: path.to_owned(),
                offset: 0,
                problem: Problem::WrongFile(expected),
            }));
        }
    }
    Ok(())
}

/// Decode every log file at `tip` and fold.
fn build_from_tip(store: &Store, tip: ObjectId) -> Result<(State, Vec<Record>)> {
    let tree = store.commit(tip)?.tree;
    let ws = workspace_id(store, tree)?;
    let mut records = Vec::new();
    for file in store.files(tree)? {
        if !layout::classify(&file.path).is_some_and(|p| p.is_log()) {
            continue;
        }
        let bytes = store.blob(file.oid)?;
        let decoded = record::decode_file(&bytes, &ws).map_err(|p| Error::File(FileError::new(&file.path, p)))?;
        check_paths(&file.path, &decoded)?;
        records.extend(decoded);
    }
    let state = State::fold(ws, &records);
    Ok((state, records))
}
