//! The workspace and its one write path: opening a branch, snapshots, the
//! signer, the write transaction and the clone's publish lock. The
//! operations built on it (tasks, receipts, messages, identities) live in
//! modules of their own.
//!
//! A write is a transaction: read the state at the tip, let the caller build
//! payloads from it, sign them, check them against the fold, write one commit
//! whose message summarises them and whose author is the actor, then move the
//! branch by compare-and-swap. A writer that loses the race rebuilds from the new
//! tip (re-running the caller's checks) and tries again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::store::Backend;
use crate::store::Oid;

use crate::error::{ArgumentError, ConflictError, Error, IdentityError, Result, SuspendedError, WhoAmIError};
use crate::hlc::{Hlc, MAX_PEER_SKEW_MS};
use crate::id::{self, Id};
use crate::index::{Index, Need, Snapshot};
use crate::layout;
use crate::merge;
use crate::record::kinds::Genesis;
use crate::record::{self, validate_name, Payload, Record};
use crate::sign::{KeyStore, Keypair};
use crate::state::State;
use crate::store::{GitRepo, Memory, Store, StoreError};
use crate::verify::Base;

/// Default branch holding the workspace.
pub const DEFAULT_BRANCH: &str = "crew";
/// How many times a write retries after losing the race for the branch.
pub const MAX_ATTEMPTS: usize = 400;
/// How many fetch-merge-push rounds a sync, a publish or a server's fold
/// tries before giving up.
pub const MAX_ROUNDS: usize = 64;

/// An opened workspace branch plus this machine's keys.
///
/// Generic over the store's [`Backend`] like [`Store`]: the CLI opens a real
/// repository ([`Workspace::open`]); tests of the fold, the board and the
/// inbox run on [`Workspace::in_memory`], with no git and no process.
pub struct Workspace<B = GitRepo> {
    store: Store<B>,
    /// This clone's local state (cache, locks, fences, logs); never shared.
    local: PathBuf,
    index: Index,
    keys: KeyStore,
}

/// What a successful write produced.
#[derive(Clone, Debug)]
pub struct Written {
    /// The records written, in order.
    pub records: Vec<Record>,
    /// The commit that holds them.
    pub commit: Oid,
}

impl Written {
    /// The one record of a write of one payload.
    pub fn one(self) -> Record {
        self.records.into_iter().next().expect("one payload, one record")
    }
}

/// A commit of new records that no ref points to yet.
#[derive(Clone, Debug)]
pub struct Staged {
    /// The tip it was built on.
    pub parent: Oid,
    /// Its commit message.
    pub message: String,
    /// The records and the commit.
    pub written: Written,
}

impl Staged {
    /// The reflog line for moving a branch to it.
    pub fn reflog(&self) -> String {
        format!("git-crew: {}", self.message.lines().next().unwrap_or_default())
    }
}

/// Held while a sync, a refresh or a publish moves this clone's branch
/// against a remote; released on drop. One clone's writers then share pushes
/// (see [`crate::publish`]) instead of racing each other for the remote's
/// ref, and two followers in one clone (`inbox --follow`, `watch`) take
/// turns instead of fighting over ref locks.
pub struct PublishLock {
    _file: std::fs::File,
}

/// What `init` produced.
#[derive(Clone, Debug)]
pub struct Initialized {
    /// The new workspace id.
    pub workspace: Id,
    /// The admin.
    pub admin: String,
    /// Where the admin's private key was stored.
    pub key_path: PathBuf,
    /// The first commit of the branch.
    pub commit: Oid,
}

impl Workspace<GitRepo> {
    /// Open the workspace branch of the repository containing `path`.
    pub fn open(path: &Path, branch: &str, keys: KeyStore) -> Result<Workspace> {
        let store = Store::open(path, branch)?;
        let local = store.local_dir();
        Ok(Workspace::with_store(store, local, keys))
    }

    /// Make the objects of a quarantined push visible (inside `pre-receive`).
    pub fn see_quarantine(&mut self) -> Result<()> {
        Ok(self.store.see_quarantine()?)
    }
}

impl Workspace<Memory> {
    /// A workspace on branch `branch` of an in-memory repository, keeping its
    /// local state (cache, locks, logs) in `local` and its keys in `keys`.
    /// Two workspaces on clones of one [`Memory`] with one `local` are two
    /// processes on one clone; with two, they share the branch but not the
    /// cache, locks and logs.
    pub fn in_memory(repo: Memory, branch: &str, local: &Path, keys: KeyStore) -> Result<Workspace<Memory>> {
        let store = Store::with_backend(repo, branch)?;
        Ok(Workspace::with_store(store, local.to_owned(), keys))
    }
}

impl<B: Backend> Workspace<B> {
    fn with_store(store: Store<B>, local: PathBuf, keys: KeyStore) -> Workspace<B> {
        let index = Index::new(&local, store.branch());
        Workspace { store, local, index, keys }
    }

    /// The store.
    pub fn store(&self) -> &Store<B> {
        &self.store
    }

    /// Where this clone keeps its local state: the index cache, the publish
    /// lock, fences, and the logs of remade and dropped writes.
    pub fn local_dir(&self) -> &Path {
        &self.local
    }

    /// The index cache.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Take this clone's [`PublishLock`], waiting for it at most `timeout` (for
    /// ever with `None`).
    pub fn publish_lock(&self, timeout: Option<std::time::Duration>) -> Result<PublishLock> {
        let dir = self.local_dir();
        let path = dir.join("publish.lock");
        let io = |source| Error::Io { what: format!("cannot open the publish lock {}", path.display()), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path).map_err(io)?;
        // `File::lock` is flock(2) on Unix: released by the kernel when the
        // process dies, so a killed writer never wedges the clone.
        let Some(timeout) = timeout else {
            file.lock().map_err(io)?;
            return Ok(PublishLock { _file: file });
        };
        let deadline = std::time::Instant::now() + timeout;
        let mut nap = std::time::Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    // Waiting writers poll, backing off to 20 ms so that a crowd
                    // of them does not take the CPU from the holder.
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(std::time::Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(ConflictError::LockBusy { path, secs: timeout.as_secs() }.into())
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        Ok(PublishLock { _file: file })
    }

    /// This machine's keys.
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// The state at the branch tip, with every task.
    pub fn snapshot(&self) -> Result<Snapshot> {
        Ok(self.index.load(&self.store, &Need::All)?)
    }

    /// The state at the branch tip, with the tasks `need` asks for.
    pub fn snapshot_for(&self, need: &Need) -> Result<Snapshot> {
        Ok(self.index.load(&self.store, need)?)
    }

    /// Every record at the tip in fold order, with the state.
    pub fn records(&self) -> Result<(Snapshot, Vec<Record>)> {
        Ok(self.index.records(&self.store)?)
    }

    /// What verifying new commits on top of the branch tip may trust: the tip,
    /// and every record there with the fold's refusals. `None` without a tip.
    pub fn trusted_base(&self) -> Result<Option<(Oid, Base)>> {
        Ok(self.trusted_tip()?.map(|(snap, base)| (snap.tip, base)))
    }

    /// [`Workspace::trusted_base`] with the whole folded state at the tip.
    pub fn trusted_tip(&self) -> Result<Option<(Snapshot, Base)>> {
        if self.store.tip()?.is_none() {
            return Ok(None);
        }
        let (snap, records) = self.records()?;
        let ignored = snap.state.ignored.iter().map(|i| i.id).collect();
        let base = Base {
            workspace: Some(snap.state.workspace),
            records,
            ignored,
            horizon: None,
            server: false,
            tip: Some(snap.tip),
        };
        Ok(Some((snap, base)))
    }

    /// The record `id` if the branch holds it (at the tip the index catches up
    /// to), read from the index's journal.
    pub fn record_at_tip(&self, id: &Id) -> Result<Option<Record>> {
        self.snapshot_for(&Need::Core)?;
        Ok(self.index.cached().and_then(|(_, _, records)| records.into_iter().find(|r| r.id == *id)))
    }

    /// What verifying commits on top of commit `at` may trust: every record at
    /// `at`. Taken from the verified cache minus what later commits added when
    /// `at` is an ancestor of the cached tip (the branch tip itself is never
    /// read, so a tampered tip cannot get in the way), else by verifying every
    /// record at `at`.
    pub fn trusted_base_at(&self, at: Oid) -> Result<Base> {
        if let Some((tip, state, records)) = self.index.cached() {
            let (later, at_is_ancestor) = self.store.new_commits_exact(at, tip)?;
            if at_is_ancestor {
                let added = crate::verify::records_added(&self.store, &state.workspace, &later)?;
                let records: Vec<Record> = records.into_iter().filter(|r| !added.contains(&r.id)).collect();
                let ignored = state.ignored.iter().map(|i| i.id).filter(|id| !added.contains(id)).collect();
                return Ok(Base {
                    workspace: Some(state.workspace),
                    records,
                    ignored,
                    tip: Some(at),
                    ..Base::default()
                });
            }
        }
        let (state, records) = crate::decode::build_from_tip(&self.store, at)?;
        let ignored = state.ignored.iter().map(|i| i.id).collect();
        Ok(Base { workspace: Some(state.workspace), records, ignored, tip: Some(at), ..Base::default() })
    }

    /// Create a workspace on the branch, with `admin` as its first admin. The
    /// admin's key is generated and stored under the key store; the merge driver
    /// is configured in this repository.
    pub fn init(&self, admin: &str, name: Option<&str>) -> Result<Initialized> {
        validate_name(admin).map_err(ArgumentError::Name)?;
        if self.store.tip()?.is_some() {
            return Err(Error::AlreadyInitialized { branch: self.store.branch().to_owned() });
        }
        let key = Keypair::generate()?;
        let mut nonce = [0u8; 16];
        getrandom::getrandom(&mut nonce).map_err(Error::NoRandomSource)?;
        let name = name.map(str::to_owned).unwrap_or_else(|| self.default_name());
        let genesis = Payload::Genesis(Genesis { workspace: name, nonce: id::hex(&nonce), key: key.public() });
        let (record, bytes) = record::encode(&Id::ZERO, admin, Hlc::now(), genesis, &key).map_err(Error::Unwritable)?;
        let ws = record.id;
        let key_path = self.keys.save(&ws, admin, &key)?;
        let edits = vec![
            (layout::MANIFEST.to_owned(), bytes),
            (layout::ATTRIBUTES.to_owned(), layout::ATTRIBUTES_CONTENT.to_vec()),
        ];
        let commit = self.store.write_commit(&[], None, &edits, admin, &record::commit_message([&record]))?;
        match self.store.set_tip(None, commit, "git-crew: init") {
            Ok(()) => {}
            Err(StoreError::Raced(_)) => {
                let _ = std::fs::remove_file(&key_path);
                return Err(Error::AlreadyInitialized { branch: self.store.branch().to_owned() });
            }
            Err(e) => {
                let _ = std::fs::remove_file(&key_path);
                return Err(e.into());
            }
        }
        self.install_merge_driver()?;
        if self.store.config_string("crew.as").is_none() {
            self.store.set_config(&[("crew", None, "as", admin)])?;
        }
        Ok(Initialized { workspace: ws, admin: admin.to_owned(), key_path, commit })
    }

    fn default_name(&self) -> String {
        self.store.backend().name_hint().unwrap_or_else(|| "crew".to_owned())
    }

    /// Configure the `crew` merge driver in this repository's `.git/config`.
    pub fn install_merge_driver(&self) -> Result<()> {
        self.store.set_config(&[
            ("merge", Some("crew"), "name", "git-crew union of append-only records"),
            ("merge", Some("crew"), "driver", "git-crew merge-driver %O %A %B %P"),
        ])?;
        Ok(())
    }

    /// Who is acting: `explicit` (from `--as` or `CREW_AS`), else the
    /// repository's `crew.as`, else the only actor with a key on this machine.
    pub fn whoami(&self, explicit: Option<&str>, state: &State) -> Result<String> {
        if let Some(name) = explicit.map(str::to_owned).or_else(|| self.store.config_string("crew.as")) {
            validate_name(&name).map_err(ArgumentError::Name)?;
            return Ok(name);
        }
        let local = self.keys.local_actors(&state.workspace);
        match local.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(WhoAmIError::NoLocalKey { root: self.keys.root().to_owned() }.into()),
            many => Err(WhoAmIError::Several { names: many.to_vec() }.into()),
        }
    }

    /// Check that `actor` may write here: admitted, and its key is on this machine
    /// and current. Returns the key.
    pub fn signer(&self, actor: &str, state: &State) -> Result<Keypair> {
        let member = state.actors.get(actor).ok_or_else(|| Error::UnknownActor { name: actor.to_owned() })?;
        if let Some(s) = &member.suspended {
            return Err(SuspendedError::Suspended { actor: actor.to_owned(), state: s.to_string() }.into());
        }
        if let Some(v) = &member.revoked {
            return Err(SuspendedError::Revoked { actor: actor.to_owned(), state: v.to_string() }.into());
        }
        let ws = &state.workspace;
        let key = match self.keys.load(ws, actor) {
            Ok(key) if key.public() == member.key => key,
            // A rotation this machine prepared has landed (here or, for an
            // admin's re-key from our request, on another clone): take it up.
            _ if self.keys.load_pending(ws, actor).is_some_and(|p| p.public() == member.key) => {
                self.keys.promote_pending(ws, actor)?;
                self.keys.load(ws, actor)?
            }
            Ok(key) => {
                return Err(IdentityError::StaleKey {
                    actor: actor.to_owned(),
                    local: key.public().fingerprint(),
                    current: member.key.fingerprint(),
                }
                .into())
            }
            Err(e) => return Err(e.into()),
        };
        Ok(key)
    }

    /// Write records as `actor`: `build` turns the current state (with the tasks
    /// `need` names) into payloads and is re-run on every attempt, so its checks
    /// hold at the tip that wins.
    pub fn write<F>(&self, actor: &str, need: &Need, mut build: F) -> Result<Written>
    where
        F: FnMut(&State) -> Result<Vec<Payload>>,
    {
        for attempt in 0..MAX_ATTEMPTS {
            let staged = self.stage(actor, need, &mut build)?;
            crash_point("after-objects");
            match self.store.set_tip(Some(staged.parent), staged.written.commit, &staged.reflog()) {
                Ok(()) => {
                    // Bring the cache along now so the next command starts warm; a
                    // failure here only costs the next command some time.
                    let _ = self.snapshot_for(&Need::Core);
                    return Ok(staged.written);
                }
                Err(StoreError::Raced(_)) => backoff(attempt, Duration::from_micros(200)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention(MAX_ATTEMPTS))
    }

    /// Build, sign, check and commit records on top of the current tip without
    /// moving the branch: the commit exists, nothing points to it yet. `write`
    /// moves the branch to it; an online claim publishes it first.
    pub fn stage<F>(&self, actor: &str, need: &Need, build: &mut F) -> Result<Staged>
    where
        F: FnMut(&State) -> Result<Vec<Payload>>,
    {
        let snap = self.snapshot_for(need)?;
        let key = self.signer(actor, &snap.state)?;
        let payloads = build(&snap.state)?;
        if payloads.is_empty() {
            return Err(Error::NothingToWrite);
        }
        let records = self.sign_all(actor, &snap.state, payloads, &key)?;
        let tree = self.store.commit(snap.tip)?.tree;
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (record, bytes) in &records {
            let path = layout::path_of(record);
            let base = match files.remove(&path) {
                Some(b) => b,
                None => self.store.read(tree, &path)?.unwrap_or_default(),
            };
            files.insert(path, merge::insert(&base, bytes, &snap.state.workspace)?);
        }
        let message = record::commit_message(records.iter().map(|(r, _)| r));
        let edits: Vec<(String, Vec<u8>)> = files.into_iter().collect();
        let commit = self.store.write_commit(&[snap.tip], Some(tree), &edits, actor, &message)?;
        let records = records.into_iter().map(|(r, _)| r).collect();
        Ok(Staged { parent: snap.tip, message, written: Written { records, commit } })
    }

    fn sign_all(
        &self,
        actor: &str,
        state: &State,
        payloads: Vec<Payload>,
        key: &Keypair,
    ) -> Result<Vec<(Record, Vec<u8>)>> {
        let now = Hlc::now();
        // A record dated far in the future must not drag our clock along with
        // it; one a little ahead (a server whose clock is ahead of ours) must,
        // so what we write sorts after what we read.
        let horizon = Hlc { ms: now.ms + MAX_PEER_SKEW_MS, counter: 0 };
        let mut seen = state.max_at().unwrap_or_default().min(horizon);
        let mut out = Vec::with_capacity(payloads.len());
        for payload in payloads {
            let at = Hlc::next(now, seen);
            seen = at;
            let (record, bytes) =
                record::encode(&state.workspace, actor, at, payload, key).map_err(Error::Unwritable)?;
            state.check(&record).map_err(Error::Refused)?;
            out.push((record, bytes));
        }
        Ok(out)
    }
}

/// The workspace id for a merge of `path` run in directory `dir` (git runs
/// merge drivers at the top of the work tree): from the manifest itself when
/// that is what is merged, else from `CREW.yaml` in `dir` (a work tree on the
/// branch), else from the branch of the repository containing `dir`.
pub fn workspace_for_merge(dir: &Path, path: &str, sides: [&[u8]; 3]) -> Result<Id> {
    if path == layout::MANIFEST {
        if let Some(id) = sides.iter().find_map(|s| crate::decode::genesis_id(s).ok()) {
            return Ok(id);
        }
    }
    if let Ok(manifest) = std::fs::read(dir.join(layout::MANIFEST)) {
        if let Ok(id) = crate::decode::genesis_id(&manifest) {
            return Ok(id);
        }
    }
    let store = Store::open(dir, DEFAULT_BRANCH)?;
    let branch = store.config_string("crew.branch").unwrap_or_else(|| DEFAULT_BRANCH.to_owned());
    let store = Store::open(dir, &branch)?;
    let tip = store.tip()?.ok_or_else(|| Error::no_workspace(&store))?;
    Ok(crate::decode::workspace_id(&store, store.commit(tip)?.tree)?)
}

/// Fault injection for crash-safety tests: with `GIT_CREW_CRASH_AT=<point>` in the
/// environment, the process aborts at that point (as if killed), leaving whatever
/// it had written. Points: `after-objects` (objects written, branch not moved).
fn crash_point(point: &str) {
    if std::env::var_os("GIT_CREW_CRASH_AT").is_some_and(|v| v == point) {
        std::process::abort();
    }
}

/// Sleep a random time below `unit · 2^min(attempt, 6)`, so racing writers
/// (processes here, clones in `sync`) spread out instead of colliding again.
pub(crate) fn backoff(attempt: usize, unit: Duration) {
    let cap = ((unit.as_micros() as u64) << attempt.min(6)).max(1);
    let mut bytes = [0u8; 8];
    // Without a random source every waiter sleeps the whole cap: slower to
    // spread out, never wrong.
    let jitter = getrandom::getrandom(&mut bytes).map_or(cap - 1, |()| u64::from_le_bytes(bytes) % cap);
    std::thread::sleep(Duration::from_micros(jitter + 1));
}
