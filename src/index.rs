//! The incremental index: the folded state cached under `.git/crew/`, keyed by
//! the branch tip.
//!
//! Layout of the cache (per branch): `core.bin` holds the tip it was built at and
//! everything but the tasks (identities, clock, counters); `tasks/<xx>.bin`
//! holds the tasks whose id starts with hex byte `xx`, mirroring the branch's
//! sharding; `records.bin` is an append-only journal of every verified record,
//! used by `log` and to refold. A command loads the core plus only the shards it
//! needs ([`Need`]: a task's shard and its dependencies'), so an append costs
//! the same at 100 or 100,000 tasks.
//!
//! When the branch has moved, the cache catches up from the tip it was built at:
//! it diffs the two trees, verifies and decodes only the new records, and applies
//! them, or refolds from the journal when new records sort before what was
//! already folded (as after merging another clone's work). With no usable cache
//! it builds from the whole tip.
//!
//! Invariants: the cache is a pure optimisation. Deleting it changes no output; a
//! file that fails its checksum, or a shard, summary or inbox file of another
//! generation than the core records for it (a crash mid-update, a rewrite that
//! failed), is rebuilt, never trusted. Updates hold a
//! lock and re-read the tip under it, so the cached tip only moves along the branch.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::store::Backend;
use crate::store::Oid;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decode::{build_from_tip, new_records, tip as current_tip, ReadError};
use crate::id::Id;
use crate::layout;
use crate::record::{Payload, Record};
use crate::state::messages::Inbox;
use crate::state::{State, Summary, Task};
use crate::store::Store;

const MAGIC: &[u8; 8] = b"crewid10";

type Result<T, E = ReadError> = std::result::Result<T, E>;

/// Which tasks a command needs in its [`Snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// Identities and clock only; `state.tasks` is empty.
    Core,
    /// The core plus these tasks (and every other task sharing their shards),
    /// and their dependencies: so the status of each task asked for is whole,
    /// never computed from a missing dependency. (Other tasks are there to
    /// be linked or looked up; ask for a task to read its status.)
    Tasks(Vec<Id>),
    /// Everything.
    All,
}

/// The state of a workspace at a branch tip.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The tip the state was folded at.
    pub tip: Oid,
    /// The folded state; `tasks` holds what was asked for in [`Need`].
    pub state: State,
}

#[derive(Serialize, Deserialize)]
struct Core {
    gen: u64,
    tip: Vec<u8>,
    records_len: u64,
    /// What each shard file must be (256 entries): a file missing, of
    /// another generation or holding another number of tasks is damaged.
    shards: Vec<Part>,
    /// What each inbox file must be (its size: unread items plus early
    /// acks), likewise.
    inboxes: BTreeMap<String, Part>,
    /// The state without its tasks.
    state: State,
}

/// What the core expects of one shard or inbox file: the generation that
/// wrote it, and how many entries it holds. A file of an older generation is
/// stale (its rewrite failed, or raced a later one) even when it holds as
/// many entries: it is read as damaged, never trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Part {
    gen: u64,
    count: u32,
}

#[derive(Serialize, Deserialize)]
struct Shard {
    gen: u64,
    tasks: Vec<Task>,
}

/// One actor's inbox, apart from the core so a command loads only its own.
#[derive(Serialize, Deserialize)]
struct InboxFile {
    gen: u64,
    inbox: Inbox,
}

fn inbox_size(inbox: &Inbox) -> u32 {
    (inbox.unread.len() + inbox.acked_early.len()) as u32
}

/// The summaries of one shard's tasks, written with it.
#[derive(Serialize, Deserialize)]
struct SummaryShard {
    gen: u64,
    tasks: Vec<Summary>,
}

fn shard_of(id: &Id) -> u8 {
    id.0[0]
}

/// The cache of one branch.
pub struct Index {
    dir: PathBuf,
}

impl Index {
    /// The cache of branch `branch`, in the clone's local state directory
    /// `local` (see [`crate::workspace::Workspace::local_dir`]).
    pub fn new(local: &Path, branch: &str) -> Index {
        Index { dir: local.join("cache").join(crate::id::hex(branch.as_bytes())) }
    }

    /// Where the cache lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Delete the cache.
    pub fn clear(&self) -> Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(ReadError::Io { what: format!("removing {}", self.dir.display()), source: e })
            }
            _ => Ok(()),
        }
    }

    /// The state at the branch tip, with the tasks `need` asks for.
    pub fn load<B: Backend>(&self, store: &Store<B>, need: &Need) -> Result<Snapshot> {
        let tip = current_tip(store)?;
        if let Some(core) = self.read_core().filter(|c| c.tip == tip.as_bytes()) {
            if let Some(snap) = self.assemble(tip, core, need) {
                return Ok(snap);
            }
        }
        self.update(store, need)
    }

    /// Every record at the branch tip in fold order, with the whole state.
    pub fn records<B: Backend>(&self, store: &Store<B>) -> Result<(Snapshot, Vec<Record>)> {
        let snap = self.load(store, &Need::All)?;
        let journal =
            self.read_core().filter(|c| c.tip == snap.tip.as_bytes()).and_then(|c| self.read_journal(c.records_len));
        let mut records = match journal {
            Some(r) => r,
            None => {
                // A damaged journal: rebuild the cache from the branch.
                let (state, records) = build_from_tip(store, snap.tip)?;
                let _lock = self.lock();
                if current_tip(store)? == snap.tip {
                    self.write_everything(snap.tip, &state, &records);
                }
                records
            }
        };
        records.sort_by_key(Record::order_key);
        Ok((snap, records))
    }

    /// The state at the branch tip without tasks, and every task's summary.
    pub fn summaries<B: Backend>(&self, store: &Store<B>) -> Result<(Snapshot, Vec<Summary>)> {
        let snap = self.load(store, &Need::Core)?;
        let core = self.read_core().filter(|c| c.tip == snap.tip.as_bytes());
        let mut out = Vec::new();
        for s in 0..=255u8 {
            let cached = core.as_ref().and_then(|c| self.read_summaries(s, c.shard(s)?));
            match cached {
                Some(tasks) => out.extend(tasks),
                None => {
                    // Damaged or raced: summarise the full shard instead, and
                    // write the summaries again if the shard is still current.
                    let full = self.load(store, &Need::Tasks(vec![Id([s; 32])]))?;
                    let summaries: Vec<Summary> =
                        full.state.tasks.values().filter(|t| shard_of(&t.id) == s).map(Summary::from).collect();
                    if let Some(part) =
                        self.read_core().filter(|c| c.tip == full.tip.as_bytes()).and_then(|c| c.shard(s))
                    {
                        let _lock = self.lock();
                        write_sealed(&self.summary_path(s), &SummaryShard { gen: part.gen, tasks: summaries.clone() });
                    }
                    out.extend(summaries);
                }
            }
        }
        Ok((snap, out))
    }

    fn summary_path(&self, shard: u8) -> PathBuf {
        self.dir.join("tasks").join(format!("{shard:02x}.sum"))
    }

    fn read_summaries(&self, shard: u8, part: Part) -> Option<Vec<Summary>> {
        let path = self.summary_path(shard);
        if !path.exists() {
            return (part.count == 0).then(Vec::new);
        }
        read_sealed::<SummaryShard>(&path).filter(|s| part.holds(s.gen, s.tasks.len())).map(|s| s.tasks)
    }

    /// What the cache holds, as it is, without looking at the branch: the tip it
    /// was built at, its state without tasks, and every record there. For
    /// callers that must not read a branch tip they do not trust yet.
    pub fn cached(&self) -> Option<(Oid, State, Vec<Record>)> {
        let core = self.read_core()?;
        let records = self.read_journal(core.records_len)?;
        Some((Oid::from_slice(&core.tip)?, core.state, records))
    }

    /// The core plus the shards `need` names, if they are consistent with it.
    fn assemble(&self, tip: Oid, core: Core, need: &Need) -> Option<Snapshot> {
        let Core { shards: parts, mut state, .. } = core;
        let shards: BTreeSet<u8> = match need {
            Need::Core => BTreeSet::new(),
            Need::Tasks(ids) => ids.iter().map(shard_of).collect(),
            Need::All => (0..=255).collect(),
        };
        let load = |state: &mut State, shards: &BTreeSet<u8>| -> Option<()> {
            for &s in shards {
                for task in self.read_shard(s, shard_part(&parts, s)?)? {
                    state.tasks.insert(task.id, task);
                }
            }
            Some(())
        };
        load(&mut state, &shards)?;
        // Then the shards of what the tasks asked for depend on: their
        // statuses read whether each dependency is done.
        if let Need::Tasks(ids) = need {
            let deps = dependency_shards(&state, ids).difference(&shards).copied().collect();
            load(&mut state, &deps)?;
        }
        Some(Snapshot { tip, state })
    }

    /// Bring the cache to the current tip under the lock.
    fn update<B: Backend>(&self, store: &Store<B>, need: &Need) -> Result<Snapshot> {
        let _lock = self.lock();
        let tip = current_tip(store)?;
        if let Some(core) = self.read_core() {
            if core.tip == tip.as_bytes() {
                if let Some(snap) = self.assemble(tip, core, need) {
                    return Ok(snap);
                }
            } else if let Some(caught_up) = self.catch_up(store, core, tip)? {
                if let Some(snap) = self.assemble(tip, caught_up, need) {
                    return Ok(snap);
                }
            }
        }
        let (state, records) = build_from_tip(store, tip)?;
        self.write_everything(tip, &state, &records);
        let mut snap = Snapshot { tip, state };
        if let Need::Tasks(ids) = need {
            let mut wanted: BTreeSet<u8> = ids.iter().map(shard_of).collect();
            wanted.extend(dependency_shards(&snap.state, ids));
            snap.state.tasks.retain(|id, _| wanted.contains(&shard_of(id)));
        } else if *need == Need::Core {
            snap.state.tasks.clear();
        }
        Ok(snap)
    }

    /// Apply what changed from the cached tip to `tip` and persist it; `None`
    /// when that is not possible (history rewritten, journal damaged).
    fn catch_up<B: Backend>(&self, store: &Store<B>, core: Core, tip: Oid) -> Result<Option<Core>> {
        let Some(old) = Oid::from_slice(&core.tip) else { return Ok(None) };
        let Ok(old_tree) = store.commit(old).map(|c| c.tree) else { return Ok(None) };
        let new_tree = store.commit(tip)?.tree;
        let ws = core.state.workspace;
        let mut fresh = Vec::new();
        for change in store.diff(Some(old_tree), new_tree)? {
            if !layout::classify(&change.path).is_some_and(|p| p.is_log()) {
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
        // The branch only grows at the end of each file, and records that sort
        // after everything do so (verify checks it on every commit), and the
        // fold judges a record by where it sorts: so new records applied on
        // top of the cached state give the state a whole fold would. The one
        // exception is a suspension that did not see records of its target
        // folded already (possible only without a server's hook): it voids
        // them, so the state is folded again.
        let in_order = !fresh.iter().any(|r| voids_folded(&core.state, r));
        let gen = core.gen + 1;
        let records_len = self.append_journal(core.records_len, &fresh);
        let (state, shards, inboxes) = if in_order {
            let touched: BTreeSet<u8> = fresh.iter().filter_map(|r| r.task()).map(|t| shard_of(&t)).collect();
            let Core { mut shards, mut inboxes, mut state, .. } = core;
            for (actor, part) in &inboxes {
                let Some(inbox) = self.read_inbox(actor, *part) else { return Ok(None) };
                state.inboxes.insert(actor.clone(), inbox);
            }
            // The fold checks links (parents, dependencies, cycles) against other
            // tasks: load those shards too. A cycle check may walk any task.
            // A path reservation is judged against every live reservation,
            // and those that follow a task need that task: load them all.
            let edits_links = fresh.iter().any(|r| {
                (matches!(&r.payload, Payload::TaskEdit(_)) && !r.payload.linked_tasks().is_empty())
                    || matches!(&r.payload, Payload::PathReserve(_) | Payload::PathRelease(_))
            });
            let load: BTreeSet<u8> = if edits_links {
                (0..=255).collect()
            } else {
                let linked = fresh.iter().flat_map(|r| r.payload.linked_tasks()).map(|t| shard_of(&t));
                touched.iter().copied().chain(linked).collect()
            };
            for &s in &load {
                let Some(tasks) = shard_part(&shards, s).and_then(|part| self.read_shard(s, part)) else {
                    return Ok(None);
                };
                for task in tasks {
                    state.tasks.insert(task.id, task);
                }
            }
            state.touched.clear();
            for r in &fresh {
                let _ = state.apply(r);
            }
            self.write_shards(gen, &state, Some(&touched), &mut shards);
            self.write_inboxes(gen, &state, Some(&state.touched), &mut inboxes);
            (state, shards, inboxes)
        } else {
            let Some(all) = self.read_journal(records_len) else { return Ok(None) };
            let state = State::fold(ws, &all);
            let (mut shards, mut inboxes) = (vec![Part { gen, count: 0 }; 256], BTreeMap::new());
            self.write_shards(gen, &state, None, &mut shards);
            self.write_inboxes(gen, &state, None, &mut inboxes);
            (state, shards, inboxes)
        };
        let core = Core { gen, tip: tip.as_bytes().to_vec(), records_len, shards, inboxes, state: core_of(&state) };
        self.write_core(&core);
        Ok(Some(core))
    }

    fn core_path(&self) -> PathBuf {
        self.dir.join("core.bin")
    }

    fn shard_path(&self, shard: u8) -> PathBuf {
        self.dir.join("tasks").join(format!("{shard:02x}.bin"))
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.join("records.bin")
    }

    fn read_core(&self) -> Option<Core> {
        read_sealed(&self.core_path())
    }

    /// The tasks of one shard, if the shard file is what the core expects
    /// (`part`; a missing file is an empty shard, and only that).
    fn read_shard(&self, shard: u8, part: Part) -> Option<Vec<Task>> {
        let path = self.shard_path(shard);
        if !path.exists() {
            return (part.count == 0).then(Vec::new);
        }
        read_sealed::<Shard>(&path).filter(|s| part.holds(s.gen, s.tasks.len())).map(|s| s.tasks)
    }

    /// Write the shards in `only` (or all) from `state`'s tasks, noting each
    /// one's generation and size in `parts`.
    fn write_shards(&self, gen: u64, state: &State, only: Option<&BTreeSet<u8>>, parts: &mut [Part]) {
        let mut by_shard: BTreeMap<u8, Vec<Task>> = BTreeMap::new();
        for task in state.tasks.values() {
            by_shard.entry(shard_of(&task.id)).or_default().push(task.clone());
        }
        let shards: Vec<u8> = match only {
            Some(set) => set.iter().copied().collect(),
            None => (0..=255).collect(),
        };
        for s in shards {
            let tasks = by_shard.remove(&s).unwrap_or_default();
            parts[usize::from(s)] = Part { gen, count: tasks.len() as u32 };
            let summaries = SummaryShard { gen, tasks: tasks.iter().map(Summary::from).collect() };
            write_sealed(&self.shard_path(s), &Shard { gen, tasks });
            // A summary that could not be written must not survive stale: without
            // it, readers summarise the shard itself.
            if !write_sealed(&self.summary_path(s), &summaries) {
                let _ = fs::remove_file(self.summary_path(s));
            }
        }
    }

    fn inbox_path(&self, actor: &str) -> PathBuf {
        self.dir.join("inbox").join(format!("{actor}.bin"))
    }

    /// An actor's inbox, if its file is what the core expects (`part`).
    fn read_inbox(&self, actor: &str, part: Part) -> Option<Inbox> {
        read_sealed::<InboxFile>(&self.inbox_path(actor))
            .filter(|f| part.holds(f.gen, inbox_size(&f.inbox) as usize))
            .map(|f| f.inbox)
    }

    /// Write the inboxes of `only` (or all) from `state`, noting each one's
    /// generation and size in `parts`.
    fn write_inboxes(
        &self,
        gen: u64,
        state: &State,
        only: Option<&BTreeSet<String>>,
        parts: &mut BTreeMap<String, Part>,
    ) {
        for (actor, inbox) in &state.inboxes {
            if only.is_none_or(|o| o.contains(actor)) {
                write_sealed(&self.inbox_path(actor), &InboxFile { gen, inbox: inbox.clone() });
                parts.insert(actor.clone(), Part { gen, count: inbox_size(inbox) });
            }
        }
    }

    /// `actor`'s inbox at the branch tip, with the state (without tasks).
    pub fn inbox<B: Backend>(&self, store: &Store<B>, actor: &str) -> Result<(Snapshot, Inbox)> {
        let snap = self.load(store, &Need::Core)?;
        let read = |core: Option<Core>| -> Option<Inbox> {
            let core = core.filter(|c| c.tip == snap.tip.as_bytes())?;
            match core.inboxes.get(actor) {
                Some(part) => self.read_inbox(actor, *part),
                None => Some(Inbox::default()),
            }
        };
        if let Some(inbox) = read(self.read_core()) {
            return Ok((snap, inbox));
        }
        // Damaged: rebuild the cache from the branch.
        let _lock = self.lock();
        let (state, records) = build_from_tip(store, snap.tip)?;
        let inbox = state.inboxes.get(actor).cloned().unwrap_or_default();
        if current_tip(store)? == snap.tip {
            self.write_everything(snap.tip, &state, &records);
        }
        Ok((snap, inbox))
    }

    fn write_core(&self, core: &Core) {
        write_sealed(&self.core_path(), core);
    }

    fn write_everything(&self, tip: Oid, state: &State, records: &[Record]) {
        let _ = fs::remove_file(self.journal_path());
        // After the core was lost, a generation from the clock: files left by
        // an earlier build can then never pass for this one's.
        let gen = self.read_core().map(|c| c.gen + 1).unwrap_or_else(clock_gen);
        let records_len = self.append_journal(0, records);
        let (mut shards, mut inboxes) = (vec![Part { gen, count: 0 }; 256], BTreeMap::new());
        self.write_shards(gen, state, None, &mut shards);
        self.write_inboxes(gen, state, None, &mut inboxes);
        let state = core_of(state);
        self.write_core(&Core { gen, tip: tip.as_bytes().to_vec(), records_len, shards, inboxes, state });
    }

    /// Every record in the journal, de-duplicated; `None` if it is damaged.
    fn read_journal(&self, len: u64) -> Option<Vec<Record>> {
        let mut file = fs::File::open(self.journal_path()).ok()?;
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
            let chunk = rest.get(..48 + n)?;
            let records = decode_records(unseal(chunk)?)?;
            out.extend(records.into_iter().filter(|r| seen.insert(r.id)));
            rest = &rest[chunk.len()..];
        }
        Some(out)
    }

    /// Append a chunk of records to the journal; returns the new valid length.
    /// Best effort: the cache is an optimisation, so a failure only costs time.
    fn append_journal(&self, valid_len: u64, records: &[Record]) -> u64 {
        if records.is_empty() {
            return valid_len;
        }
        let Some(payload) = encode_records(records) else { return valid_len };
        let chunk = seal(&payload);
        let _ = fs::create_dir_all(&self.dir);
        let appended =
            fs::OpenOptions::new().create(true).write(true).truncate(false).open(self.journal_path()).and_then(
                |mut f| {
                    f.set_len(valid_len)?;
                    f.seek(std::io::SeekFrom::Start(valid_len))?;
                    f.write_all(&chunk)
                },
            );
        match appended {
            Ok(()) => valid_len + chunk.len() as u64,
            Err(_) => valid_len,
        }
    }

    fn lock(&self) -> Option<fs::File> {
        fs::create_dir_all(&self.dir).ok()?;
        let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(self.dir.join("lock")).ok()?;
        file.lock().ok()?;
        Some(file)
    }
}

impl Core {
    /// What shard `s`'s file must be; `None` for a damaged core (every shard
    /// then reads as inconsistent).
    fn shard(&self, s: u8) -> Option<Part> {
        shard_part(&self.shards, s)
    }
}

impl Part {
    /// Whether a file of generation `gen` holding `len` entries is this one.
    fn holds(&self, gen: u64, len: usize) -> bool {
        gen == self.gen && len == self.count as usize
    }
}

/// The shards holding the dependencies of the tasks `ids` (those of them in
/// `state`).
fn dependency_shards(state: &State, ids: &[Id]) -> BTreeSet<u8> {
    ids.iter().filter_map(|id| state.tasks.get(id)).flat_map(|t| t.depends_on.iter().map(shard_of)).collect()
}

/// A generation no file of an earlier cache holds: microseconds since the
/// epoch (generations count up by one per update from there).
fn clock_gen() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_micros() as u64)
}

fn shard_part(parts: &[Part], s: u8) -> Option<Part> {
    parts.get(usize::from(s)).copied()
}

/// Whether `r` is a suspension whose window (the records of its target dated
/// before it and after what it saw) holds a record already folded in `state`.
fn voids_folded(state: &State, r: &Record) -> bool {
    let Payload::ActorSuspend(s) = &r.payload else { return false };
    let Some(target) = state.actors.get(&s.name) else { return false };
    let last = target.last_at.zip(target.last_record);
    last.is_some_and(|last| last.0 < r.at && s.seen_at.zip(s.seen).is_none_or(|seen| last > seen))
}

/// What the core file holds: the state without its tasks and inboxes.
fn core_of(state: &State) -> State {
    State { tasks: BTreeMap::new(), inboxes: BTreeMap::new(), touched: BTreeSet::new(), ..state.clone() }
}

/// The journal's encoding of records. Self-describing (JSON), unlike the
/// other cache files: record payloads omit absent optional fields, as their
/// canonical YAML does, and postcard cannot read such a struct back.
fn encode_records(records: &[Record]) -> Option<Vec<u8>> {
    serde_json::to_vec(records).ok()
}

fn decode_records(bytes: &[u8]) -> Option<Vec<Record>> {
    serde_json::from_slice(bytes).ok()
}

/// `MAGIC`, payload length, sha256 of the payload, payload.
fn seal(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// The payload of a sealed blob if its magic, length and checksum hold.
fn unseal(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.get(..8)? != MAGIC {
        return None;
    }
    let n = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?) as usize;
    let (sum, payload) = (bytes.get(16..48)?, bytes.get(48..)?);
    (payload.len() == n && Sha256::digest(payload).as_slice() == sum).then_some(payload)
}

fn read_sealed<T: DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = fs::read(path).ok()?;
    postcard::from_bytes(unseal(&bytes)?).ok()
}

/// Write atomically (temp file, rename). Best effort, like all cache writes:
/// whether it worked.
fn write_sealed<T: Serialize>(path: &Path, value: &T) -> bool {
    let Ok(payload) = postcard::to_stdvec(value) else { return false };
    let Some(dir) = path.parent() else { return false };
    let _ = fs::create_dir_all(dir);
    let tmp = dir.join(format!(".tmp.{}", std::process::id()));
    fs::write(&tmp, seal(&payload)).is_ok() && fs::rename(&tmp, path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record;
    use crate::sign::Keypair;

    /// Every valid fixture body, signed and decoded as the branch would hold it:
    /// every kind, with and without each optional field.
    fn fixture_records() -> Vec<Record> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid");
        let (ws, key) = (Id([0x42; 32]), Keypair::from_seed([9; 32]));
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let body = fs::read_to_string(&path).unwrap();
            let kind = path.file_name().unwrap().to_str().unwrap().split('-').next().unwrap().to_owned();
            let (file, _) = record::seal(&ws, &kind, &body, &key);
            out.extend(record::decode_file(&file, &ws).unwrap());
        }
        assert!(out.len() > 50, "expected the valid fixtures, found {}", out.len());
        out
    }

    #[test]
    fn the_journal_gives_back_every_record_it_was_given() {
        let records = fixture_records();
        let dir = tempfile::tempdir().unwrap();
        let index = Index { dir: dir.path().to_owned() };
        let half = records.len() / 2;
        let len = index.append_journal(0, &records[..half]);
        let len = index.append_journal(len, &records[half..]);
        assert_eq!(index.read_journal(len).unwrap(), records);
        // A damaged journal is not trusted.
        let mut bytes = fs::read(index.journal_path()).unwrap();
        bytes[60] ^= 1;
        fs::write(index.journal_path(), bytes).unwrap();
        assert_eq!(index.read_journal(len), None);
    }

    #[test]
    fn what_is_written_is_what_is_cached() {
        let records = fixture_records();
        let dir = tempfile::tempdir().unwrap();
        let index = Index { dir: dir.path().to_owned() };
        let state = State::fold(Id([0x42; 32]), &records);
        let tip = Oid::from_lower_hex("0123456789012345678901234567890123456789").unwrap();
        index.write_everything(tip, &state, &records);
        let (cached_tip, cached_state, cached_records) = index.cached().expect("the cache reads back");
        assert_eq!((cached_tip, cached_records), (tip, records));
        assert_eq!(cached_state, core_of(&state));
    }
}
