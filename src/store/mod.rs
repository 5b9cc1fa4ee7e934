//! The git store: the only module that touches git.
//!
//! It reads and writes the workspace branch in process, never checking it
//! out: blobs, trees and commits are written first, then the branch ref moves
//! by compare-and-swap. A process killed at any point therefore leaves either
//! the old tip or the new one, never a half-written branch.
//!
//! Two layers:
//!
//! - [`Backend`], at the bottom, is all a store needs from git: read and write
//!   raw objects (kind and bytes, ids as git computes them), read a ref,
//!   compare-and-swap a ref, list refs under a prefix, delete a ref. Two
//!   implementations: [`GitRepo`] (gix, on a real repository; `git.rs`) and
//!   [`Memory`] (maps behind a lock; `memory.rs`). Raw bytes cross the trait
//!   unparsed, so a malformed tree or commit (which the branch must refuse)
//!   can be written to either and is refused by the same code.
//! - [`Store`] holds a backend and implements every branch operation (read a
//!   path, list, files, diff, history, new commits, write a commit, move the
//!   tip) once, on top of the trait, parsing trees and commits strictly with
//!   [`crate::object`]. Both backends therefore share all logic, and one
//!   conformance suite (`tests.rs`) runs against both.
//!
//! What only a real repository has (the push quarantine of a hook, the hooks
//! directory, git config, resolving a user's revision such as `HEAD~2`, the
//! common directory holding local state) is implemented on `Store<GitRepo>`
//! only: a memory store simply has no such methods, so misuse is a compile
//! error rather than a runtime one. `Store` without a parameter is
//! `Store<GitRepo>`, which keeps every existing caller unchanged.
//!
//! Invariants: no gix type leaves the store: the public methods and the
//! backend trait speak [`Oid`] and [`Kind`], and the conversions to gix's
//! types live here, for the gix backend and the walk. Every tree and
//! commit read through a store is parsed strictly; every tree and commit the
//! store writes is in the form the strict parser accepts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use crate::object::{self, Entry as TreeEntry, Malformed, Mode};

mod git;
mod memory;
mod walk;

#[cfg(test)]
mod tests;

pub use crate::object::{Kind, Oid};
pub use git::{GitRepo, STALE_LOCK};
pub use memory::Memory;

/// Errors of the git store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The path is not inside a git repository.
    #[error("{path} is not in a git repository: run `git init` first, or pass -C PATH")]
    NotARepo {
        /// Where we looked.
        path: PathBuf,
    },
    /// The branch name is not a valid git branch name.
    #[error("invalid branch name {0:?}")]
    BadBranch(String),
    /// A reference name is not a valid full git reference name.
    #[error("invalid reference name {0:?}")]
    BadRef(String),
    /// Another writer moved the branch first.
    #[error("branch {0} moved while writing")]
    Raced(String),
    /// A tree or commit on the branch is not in the one form it may take.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// An object the store was asked to read is not there.
    #[error("no {expected} {id} in the repository")]
    Missing {
        /// The object asked for.
        id: Oid,
        /// What it was expected to be.
        expected: Kind,
    },
    /// An object is not of the kind the store expected.
    #[error("{id} is a {found}, not a {expected}")]
    WrongKind {
        /// The object.
        id: Oid,
        /// What it was expected to be.
        expected: Kind,
        /// What it is.
        found: Kind,
    },
    /// A commit the store was asked to write would not read back under the
    /// branch's rules (an author name holding `<`, say), so it was not written.
    #[error("refusing to write a commit the branch would refuse: {why}")]
    Unwritable {
        /// What the strict reader said of it.
        why: String,
    },
    /// A git operation failed.
    #[error("git: {what}: {message}")]
    Git {
        /// What we were doing.
        what: String,
        /// gix's message.
        message: String,
    },
}

/// The git identity (name, email) of the commits that hold `actor`'s records.
pub fn ident(actor: &str) -> (String, String) {
    (actor.to_owned(), format!("{actor}@crew"))
}

/// Result alias for this module.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn git<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> StoreError {
    let what = what.into();
    move |e| StoreError::Git { what, message: e.to_string() }
}

/// What a reference must point to for [`Backend::update_ref`] to move it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Anything, or nothing: overwrite.
    Any,
    /// Nothing: the reference must not exist.
    Absent,
    /// Exactly this object.
    At(Oid),
}

/// Objects and references: all a [`Store`] needs from a repository.
///
/// Implementations keep git's semantics, which the conformance suite checks on
/// each: ids are the SHA-1 git computes for the object's kind and bytes (so
/// ids agree across backends and with `git hash-object`), object bytes come
/// back exactly as written (no parsing, no normalisation), and a reference
/// update whose expectation does not hold fails with [`StoreError::Raced`]
/// and changes nothing.
pub trait Backend {
    /// The kind and bytes of an object, or `None` if there is no such object.
    fn read_object(&self, id: Oid) -> Result<Option<(Kind, Vec<u8>)>>;

    /// Store an object as given and return its id. Writing an object that
    /// exists already is not an error.
    fn write_object(&self, kind: Kind, data: &[u8]) -> Result<Oid>;

    /// The object a full reference name (`refs/heads/crew`) points to, if the
    /// reference exists and points to an object directly.
    fn read_ref(&self, name: &str) -> Result<Option<Oid>>;

    /// Point `name` at `new` if it currently is as `expected` says, atomically;
    /// [`StoreError::Raced`] otherwise (including when it was expected at an
    /// object and no longer exists).
    fn update_ref(&self, name: &str, expected: Expected, new: Oid, reflog: &str) -> Result<()>;

    /// Every reference whose name starts with `prefix` and that points to an
    /// object, with that object, sorted by name.
    fn refs_under(&self, prefix: &str) -> Result<Vec<(String, Oid)>>;

    /// Delete a reference if it exists.
    fn delete_ref(&self, name: &str) -> Result<()>;

    /// A string value of the repository's configuration (`crew.as`), if set;
    /// section and key ignore case, a subsection does not, as in git.
    fn config_string(&self, key: &str) -> Option<String>;

    /// Set `section.subsection.key = value` in the repository's own
    /// configuration, keeping everything else. A store opened afterwards
    /// reads the new values; one already open may keep what it read when it
    /// was opened (the gix backend does).
    fn set_config(&self, entries: &[ConfigEntry<'_>]) -> Result<()>;

    /// What a new workspace is named after when its creator gives no name:
    /// the repository's directory, if it has one.
    fn name_hint(&self) -> Option<String>;

    /// Where the git CLI runs for this repository (its work tree, else its git
    /// directory), to reach its remotes; `None` for a repository git cannot
    /// see (in memory).
    fn command_dir(&self) -> Option<&std::path::Path>;
}

/// One configuration setting: section, subsection, key, value.
pub type ConfigEntry<'a> = (&'a str, Option<&'a str>, &'a str, &'a str);

impl<B: Backend + ?Sized> Backend for Box<B> {
    fn read_object(&self, id: Oid) -> Result<Option<(Kind, Vec<u8>)>> {
        (**self).read_object(id)
    }
    fn write_object(&self, kind: Kind, data: &[u8]) -> Result<Oid> {
        (**self).write_object(kind, data)
    }
    fn read_ref(&self, name: &str) -> Result<Option<Oid>> {
        (**self).read_ref(name)
    }
    fn update_ref(&self, name: &str, expected: Expected, new: Oid, reflog: &str) -> Result<()> {
        (**self).update_ref(name, expected, new, reflog)
    }
    fn refs_under(&self, prefix: &str) -> Result<Vec<(String, Oid)>> {
        (**self).refs_under(prefix)
    }
    fn delete_ref(&self, name: &str) -> Result<()> {
        (**self).delete_ref(name)
    }
    fn config_string(&self, key: &str) -> Option<String> {
        (**self).config_string(key)
    }
    fn set_config(&self, entries: &[ConfigEntry<'_>]) -> Result<()> {
        (**self).set_config(entries)
    }
    fn name_hint(&self) -> Option<String> {
        (**self).name_hint()
    }
    fn command_dir(&self) -> Option<&std::path::Path> {
        (**self).command_dir()
    }
}

// gix is built with SHA-1 only, so every gix id is one of ours. Should a
// dependency ever enable another hash kind in gix, this fails to compile
// rather than let `to_oid` meet an id it cannot hold.
const _: () = assert!(gix::hash::Kind::longest().len_in_bytes() == Oid::LEN);

/// Our id of a gix id.
pub(crate) fn to_oid(id: gix::ObjectId) -> Oid {
    match id {
        gix::ObjectId::Sha1(bytes) => Oid::from_bytes(bytes),
        // Unreachable: the assertion above rules out longer ids, and gix's
        // enum is only `non_exhaustive` for those.
        _ => Oid::NULL,
    }
}

/// gix's id of ours.
pub(crate) fn to_gix(id: Oid) -> gix::ObjectId {
    gix::ObjectId::Sha1(*id.as_bytes())
}

/// Our kind of a gix kind.
pub(crate) fn to_kind(kind: gix::object::Kind) -> Kind {
    match kind {
        gix::object::Kind::Blob => Kind::Blob,
        gix::object::Kind::Tree => Kind::Tree,
        gix::object::Kind::Commit => Kind::Commit,
        gix::object::Kind::Tag => Kind::Tag,
    }
}

/// gix's kind of ours.
pub(crate) fn from_kind(kind: Kind) -> gix::object::Kind {
    match kind {
        Kind::Blob => gix::object::Kind::Blob,
        Kind::Tree => gix::object::Kind::Tree,
        Kind::Commit => gix::object::Kind::Commit,
        Kind::Tag => gix::object::Kind::Tag,
    }
}

/// A full reference name git accepts (`refs/...`, no `..`, no `.lock`
/// component, ...), checked with gix's own rules so that both backends refuse
/// the same names.
fn check_ref_name(name: &str) -> Result<()> {
    match gix::refs::FullName::try_from(name) {
        Ok(_) if name.starts_with("refs/") => Ok(()),
        _ => Err(StoreError::BadRef(name.to_owned())),
    }
}

/// The full reference name of branch `branch`, if it is a valid branch name.
fn branch_ref(branch: &str) -> Result<String> {
    let refname = format!("refs/heads/{branch}");
    if branch.is_empty() || check_ref_name(&refname).is_err() {
        return Err(StoreError::BadBranch(branch.to_owned()));
    }
    Ok(refname)
}

/// A file on the branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Slash-separated path from the branch root.
    pub path: String,
    /// Git file mode.
    pub mode: Mode,
    /// Blob (or link/commit) id.
    pub oid: Oid,
}

impl FileEntry {
    /// Whether this is a plain, non-executable file.
    pub fn is_plain_file(&self) -> bool {
        self.mode == Mode::File
    }
}

/// A path whose content differs between two trees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The path.
    pub path: String,
    /// The old entry, if the path existed.
    pub old: Option<FileEntry>,
    /// The new entry, if the path exists now.
    pub new: Option<FileEntry>,
}

/// A commit on the branch.
#[derive(Clone, Debug)]
pub struct CommitInfo {
    /// Its id.
    pub id: Oid,
    /// Its parents.
    pub parents: Vec<Oid>,
    /// Its root tree.
    pub tree: Oid,
}

impl CommitInfo {
    fn of(id: Oid, c: &object::Commit) -> CommitInfo {
        CommitInfo { id, parents: c.parents.to_vec(), tree: c.tree }
    }
}

/// How many commits [`Store::new_commits_exact`] walks down from the new tip
/// looking for the old one before it reads the old tip's whole history
/// instead.
const DOWN_TO_LIMIT: usize = 4096;

/// The workspace branch of one repository, over backend `B` (a real
/// repository unless said otherwise).
pub struct Store<B = GitRepo> {
    backend: B,
    branch: String,
    refname: String,
}

impl Store<Memory> {
    /// A store on an empty in-memory repository, for tests: no process, no
    /// file. It has every branch operation of a store on a real repository and
    /// none of the repository's surroundings (hooks, config, working tree).
    pub fn in_memory(branch: &str) -> Result<Store<Memory>> {
        Store::with_backend(Memory::default(), branch)
    }
}

impl<B: Backend> Store<B> {
    /// A store on branch `branch` of `backend`.
    pub fn with_backend(backend: B, branch: &str) -> Result<Store<B>> {
        let refname = branch_ref(branch)?;
        Ok(Store { backend, branch: branch.to_owned(), refname })
    }

    /// A string value of the repository's configuration, if set.
    pub fn config_string(&self, key: &str) -> Option<String> {
        self.backend.config_string(key)
    }

    /// Set configuration entries in the repository's own configuration.
    pub fn set_config(&self, entries: &[ConfigEntry<'_>]) -> Result<()> {
        self.backend.set_config(entries)
    }

    /// The branch name.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The branch tip, or `None` if the branch does not exist.
    pub fn tip(&self) -> Result<Option<Oid>> {
        self.ref_target(&self.refname)
    }

    /// The object a full reference name points to, if it exists.
    pub fn ref_target(&self, name: &str) -> Result<Option<Oid>> {
        self.backend.read_ref(name)
    }

    /// The kind and bytes of any object, as stored.
    pub fn object(&self, id: Oid) -> Result<Option<(Kind, Vec<u8>)>> {
        self.backend.read_object(id)
    }

    /// Store an object of any kind as given, unchecked (objects only): how a
    /// test, or an attacker, puts a malformed tree or commit in a repository.
    /// Branch writes go through [`Store::write_commit`], which writes only
    /// what the strict reader accepts.
    pub fn write_object(&self, kind: Kind, data: &[u8]) -> Result<Oid> {
        self.backend.write_object(kind, data)
    }

    /// A commit's parents and tree.
    pub fn commit(&self, id: Oid) -> Result<CommitInfo> {
        let c = self.raw_commit(id)?;
        Ok(CommitInfo::of(id, &c))
    }

    /// A commit of the branch, parsed strictly: every header and the message.
    pub fn raw_commit(&self, id: Oid) -> Result<object::Commit> {
        let data = self.object_data(id, Kind::Commit)?;
        Ok(object::parse_commit(id, &data)?)
    }

    fn object_data(&self, id: Oid, expected: Kind) -> Result<Vec<u8>> {
        match self.backend.read_object(id)? {
            None => Err(StoreError::Missing { id, expected }),
            Some((found, _)) if found != expected => Err(StoreError::WrongKind { id, expected, found }),
            Some((_, data)) => Ok(data),
        }
    }

    /// The commits reachable from `new` but not from `old`, parents before
    /// children, and whether `old` is an ancestor of (or equal to) `new`.
    ///
    /// Walks only the new part of the history (see the comment inside), so
    /// under clock skew the list may repeat known commits; use
    /// [`Store::new_commits_exact`] where a superset would be wrong.
    pub fn new_commits(&self, old: Oid, new: Oid) -> Result<(Vec<CommitInfo>, bool)> {
        // Hand-written rather than gix's walk with `hide`: that one paints
        // by date as well and, with children older than their parents, also
        // returns known commits (the root, in `new_commits_whatever_the_clocks`
        // of `tests.rs`), so it would buy nothing, and it does not tell
        // whether `old` is an ancestor of `new`, which callers need exactly.
        //
        // Paint both histories newest first (by commit time) and stop once every
        // commit still queued is reachable from `old` and older than every new
        // one: the cost follows what is new, not the length of the history.
        // This is exact while commit times never go back along parent links.
        // With clock skew a known commit may be listed as new (verified again,
        // which is safe), never the reverse: a commit counts as known only when
        // an `old` path actually reached it. Whether `old` is an ancestor of
        // `new` is always exact: no commit reachable only from `new` is left
        // unvisited.
        const OLD: u8 = 1;
        const NEW: u8 = 2;
        let mut paint: HashMap<Oid, u8> = HashMap::new();
        let mut seen: HashMap<Oid, (CommitInfo, i64)> = HashMap::new();
        let mut done: HashMap<Oid, u8> = HashMap::new();
        let mut queue: std::collections::BinaryHeap<(i64, Oid)> = std::collections::BinaryHeap::new();
        for (id, flag) in [(old, OLD), (new, NEW)] {
            let info = self.commit_with_time(id)?;
            queue.push((info.1, id));
            seen.insert(id, info);
            *paint.entry(id).or_insert(0) |= flag;
        }
        while let Some((_, id)) = queue.pop() {
            let flags = paint.get(&id).copied().unwrap_or(0);
            if done.get(&id) == Some(&flags) {
                continue;
            }
            done.insert(id, flags);
            let parents = seen.get(&id).map(|(c, _)| c.parents.clone()).unwrap_or_default();
            for p in parents {
                let before = paint.get(&p).copied().unwrap_or(0);
                if before | flags == before {
                    continue;
                }
                paint.insert(p, before | flags);
                let time = match seen.entry(p) {
                    std::collections::hash_map::Entry::Occupied(slot) => slot.get().1,
                    std::collections::hash_map::Entry::Vacant(slot) => slot.insert(self.commit_with_time(p)?).1,
                };
                queue.push((time, p));
            }
            // Done when only known commits are queued and all are older than
            // every new one: (without clock skew) no known path leads to a new
            // commit any more.
            if queue.iter().all(|(_, q)| paint.get(q).is_some_and(|f| f & OLD != 0)) {
                let oldest_new = seen.iter().filter(|(c, _)| paint.get(*c) == Some(&NEW)).map(|(_, (_, t))| *t).min();
                let newest_queued = queue.peek().map(|(t, _)| *t);
                if oldest_new.is_none_or(|n| newest_queued.is_none_or(|q| q < n)) {
                    break;
                }
            }
        }
        let reached_old = paint.get(&old).is_some_and(|f| f & NEW != 0);
        let infos: HashMap<Oid, CommitInfo> =
            seen.into_iter().filter(|(id, _)| paint.get(id) == Some(&NEW)).map(|(id, (info, _))| (id, info)).collect();
        Ok((topological(&infos, new), reached_old))
    }

    /// [`Store::new_commits`], exact whatever the commit dates say. When
    /// every path down from `new` meets `old` (the usual case: a few commits
    /// on top of it), only those commits are read; otherwise every commit id
    /// reachable from `old` is collected first, so the cost follows the whole
    /// history.
    pub fn new_commits_exact(&self, old: Oid, new: Oid) -> Result<(Vec<CommitInfo>, bool)> {
        if old == new {
            return Ok((Vec::new(), true));
        }
        // The commits reachable from `new` without passing `old`, if every
        // path down from `new` meets `old`: then each of them descends from
        // `old`, so none is reachable from it, and they are exactly what `new`
        // adds. Given up when a path reaches a root commit instead (a merge of
        // older history, or `old` not an ancestor), or after
        // [`DOWN_TO_LIMIT`] commits.
        let down_to =
            walk::reachable(&self.backend, new, |id| *id != old, |c, n| c.parents.is_empty() || n > DOWN_TO_LIMIT)?;
        if let Some(infos) = down_to {
            return Ok((topological(&infos, new), true));
        }
        let everything = |_: &CommitInfo, _| false;
        let known: HashSet<Oid> =
            walk::reachable(&self.backend, old, |_| true, everything)?.unwrap_or_default().into_keys().collect();
        let infos = walk::reachable(&self.backend, new, |id| !known.contains(id), everything)?.unwrap_or_default();
        // Every path from `new` down to `old` ends in a commit not reachable
        // from `old` whose parent is `old`.
        let reached_old = infos.values().any(|c| c.parents.contains(&old));
        Ok((topological(&infos, new), reached_old))
    }

    fn commit_with_time(&self, id: Oid) -> Result<(CommitInfo, i64)> {
        let c = self.raw_commit(id)?;
        Ok((CommitInfo::of(id, &c), c.committer.seconds))
    }

    /// All commits reachable from `tip`, parents before children.
    pub fn history(&self, tip: Oid) -> Result<Vec<CommitInfo>> {
        let infos = walk::reachable(&self.backend, tip, |_| true, |_, _| false)?.unwrap_or_default();
        Ok(topological(&infos, tip))
    }

    /// The bytes of a blob.
    pub fn blob(&self, oid: Oid) -> Result<Vec<u8>> {
        self.object_data(oid, Kind::Blob)
    }

    /// The content of `path` in `tree`, if present and a blob.
    pub fn read(&self, tree: Oid, path: &str) -> Result<Option<Vec<u8>>> {
        let mut current = tree;
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            let entries = self.tree_entries(current)?;
            let Some(entry) = entries.into_iter().find(|e| e.name == part) else {
                return Ok(None);
            };
            match (parts.peek().is_some(), entry.mode) {
                (true, Mode::Tree) => current = entry.oid,
                (false, Mode::File) => return self.blob(entry.oid).map(Some),
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The names of the entries of directory `dir` in `tree` (empty if absent).
    pub fn list(&self, tree: Oid, dir: &str) -> Result<Vec<String>> {
        let mut current = tree;
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            let entries = self.tree_entries(current)?;
            match entries.into_iter().find(|e| e.name == part && e.mode == Mode::Tree) {
                Some(e) => current = e.oid,
                None => return Ok(Vec::new()),
            }
        }
        Ok(self.tree_entries(current)?.into_iter().map(|e| e.name).collect())
    }

    /// The entries of a tree, parsed strictly (see [`crate::object`]).
    pub fn tree_entries(&self, tree: Oid) -> Result<Vec<TreeEntry>> {
        let data = self.object_data(tree, Kind::Tree)?;
        Ok(object::parse_tree(tree, &data)?)
    }

    /// The entries of the directory at `path` (the root if empty): a
    /// directory below the root that holds nothing is malformed, as git never
    /// writes one and no directory of the layout is empty.
    fn dir_entries(&self, tree: Oid, path: &str) -> Result<Vec<TreeEntry>> {
        let entries = self.tree_entries(tree)?;
        if entries.is_empty() && !path.is_empty() {
            let why = format!("{path}: empty tree (a directory with no files)");
            return Err(Malformed { what: "tree", id: tree, why }.into());
        }
        Ok(entries)
    }

    /// Every non-tree entry of `tree`, recursively, with full paths; an empty
    /// directory is [`StoreError::Malformed`].
    pub fn files(&self, tree: Oid) -> Result<Vec<FileEntry>> {
        let mut out = Vec::new();
        self.collect_files(tree, "", &mut out)?;
        Ok(out)
    }

    fn collect_files(&self, tree: Oid, prefix: &str, out: &mut Vec<FileEntry>) -> Result<()> {
        for e in self.dir_entries(tree, prefix)? {
            let path = join(prefix, &e.name);
            if e.mode == Mode::Tree {
                self.collect_files(e.oid, &path, out)?;
            } else {
                out.push(FileEntry { path, mode: e.mode, oid: e.oid });
            }
        }
        Ok(())
    }

    /// The files that differ between `old` (or nothing) and `new`. Subtrees with
    /// equal ids are skipped, so the cost follows the change, not the branch.
    pub fn diff(&self, old: Option<Oid>, new: Oid) -> Result<Vec<Change>> {
        let mut out = Vec::new();
        self.diff_into(old, Some(new), "", &mut out)?;
        Ok(out)
    }

    fn diff_into(&self, old: Option<Oid>, new: Option<Oid>, prefix: &str, out: &mut Vec<Change>) -> Result<()> {
        if old == new {
            return Ok(());
        }
        let load = |t: Option<Oid>| -> Result<BTreeMap<String, TreeEntry>> {
            Ok(match t {
                Some(t) => self.dir_entries(t, prefix)?.into_iter().map(|e| (e.name.clone(), e)).collect(),
                None => BTreeMap::new(),
            })
        };
        let (old_entries, new_entries) = (load(old)?, load(new)?);
        let names: std::collections::BTreeSet<&String> = old_entries.keys().chain(new_entries.keys()).collect();
        for name in names {
            let (o, n) = (old_entries.get(name), new_entries.get(name));
            if let (Some(o), Some(n)) = (o, n) {
                if o.oid == n.oid && o.mode == n.mode {
                    continue;
                }
            }
            let path = join(prefix, name);
            let subtree = |e: Option<&TreeEntry>| e.filter(|e| e.mode == Mode::Tree).map(|e| e.oid);
            let file = |e: Option<&TreeEntry>| {
                e.filter(|e| e.mode != Mode::Tree).map(|e| FileEntry { path: path.clone(), mode: e.mode, oid: e.oid })
            };
            if subtree(o).is_some() || subtree(n).is_some() {
                self.diff_into(subtree(o), subtree(n), &path, out)?;
            }
            let (fo, fn_) = (file(o), file(n));
            if fo.is_some() || fn_.is_some() {
                out.push(Change { path, old: fo, new: fn_ });
            }
        }
        Ok(())
    }

    /// Write a commit whose tree is `base_tree` with `edits` (path, new content)
    /// applied. Objects only: the branch does not move.
    pub fn write_commit(
        &self,
        parents: &[Oid],
        base_tree: Option<Oid>,
        edits: &[(String, Vec<u8>)],
        author: &str,
        message: &str,
    ) -> Result<Oid> {
        let edits: Vec<(&str, &[u8])> = edits.iter().map(|(p, b)| (p.as_str(), b.as_slice())).collect();
        let tree = self.edit_tree(base_tree, &edits)?;
        let seconds = chrono::Utc::now().timestamp();
        let (name, email) = ident(author);
        let ident = object::Ident { name, email, seconds, tz: "+0000".into() };
        self.write_commit_object(&object::Commit {
            tree,
            parents: parents.to_vec(),
            author: ident.clone(),
            committer: ident,
            message: message.to_owned(),
        })
    }

    /// Write `commit` as git would, if the strict reader would take it back
    /// ([`StoreError::Unwritable`] otherwise: a commit the branch refuses must
    /// not be made here, whatever the caller passed as author or message).
    pub fn write_commit_object(&self, commit: &object::Commit) -> Result<Oid> {
        let bytes = object::write_commit(commit);
        match object::parse_commit(Oid::NULL, &bytes) {
            Ok(back) if back == *commit => {}
            Ok(_) => return Err(StoreError::Unwritable { why: "it would not read back as written".into() }),
            Err(m) => return Err(StoreError::Unwritable { why: m.why }),
        }
        self.backend.write_object(Kind::Commit, &bytes)
    }

    fn edit_tree(&self, base: Option<Oid>, edits: &[(&str, &[u8])]) -> Result<Oid> {
        let mut entries = match base {
            Some(t) => self.tree_entries(t)?,
            None => Vec::new(),
        };
        let mut subdirs: BTreeMap<&str, Vec<(&str, &[u8])>> = BTreeMap::new();
        for &(path, bytes) in edits {
            match path.split_once('/') {
                Some((dir, rest)) => subdirs.entry(dir).or_default().push((rest, bytes)),
                None => {
                    let oid = self.backend.write_object(Kind::Blob, bytes)?;
                    upsert(&mut entries, path, Mode::File, oid);
                }
            }
        }
        for (dir, sub) in subdirs {
            let existing = entries.iter().find(|e| e.name == dir && e.mode == Mode::Tree).map(|e| e.oid);
            let oid = self.edit_tree(existing, &sub)?;
            upsert(&mut entries, dir, Mode::Tree, oid);
        }
        self.backend.write_object(Kind::Tree, &object::write_tree(&entries))
    }

    /// Move the branch from `old` (`None`: must not exist) to `new`, atomically.
    /// Fails with [`StoreError::Raced`] if the branch is no longer at `old`.
    pub fn set_tip(&self, old: Option<Oid>, new: Oid, reflog: &str) -> Result<()> {
        self.cas_ref(&self.refname, old, new, reflog)
    }

    /// Write a blob (objects only).
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Oid> {
        self.backend.write_object(Kind::Blob, bytes)
    }

    /// Point `name` at `new`, whatever it pointed to (for refs that are
    /// overwritten by design, like heartbeats).
    pub fn force_ref(&self, name: &str, new: Oid, reflog: &str) -> Result<()> {
        self.backend.update_ref(name, Expected::Any, new, reflog)
    }

    /// Every reference under `prefix` (e.g. `refs/crew/live/`), with the
    /// object it points to, sorted by name.
    pub fn refs_under(&self, prefix: &str) -> Result<Vec<(String, Oid)>> {
        self.backend.refs_under(prefix)
    }

    /// Delete a reference if it exists.
    pub fn delete_ref(&self, name: &str) -> Result<()> {
        self.backend.delete_ref(name)
    }

    /// Compare-and-swap any reference.
    pub fn cas_ref(&self, name: &str, old: Option<Oid>, new: Oid, reflog: &str) -> Result<()> {
        let expected = match old {
            Some(o) => Expected::At(o),
            None => Expected::Absent,
        };
        self.backend.update_ref(name, expected, new, reflog)
    }
}

fn upsert(entries: &mut Vec<TreeEntry>, name: &str, mode: Mode, oid: Oid) {
    match entries.iter_mut().find(|e| e.name == name) {
        Some(e) => {
            e.mode = mode;
            e.oid = oid;
        }
        None => entries.push(TreeEntry { mode, name: name.to_owned(), oid }),
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

/// The commits of `infos` reachable from `tip` through `infos`, parents first:
/// an iterative post-order from the tip, so a commit is emitted after its
/// parents, and the order is the same whatever order `infos` was filled in.
fn topological(infos: &HashMap<Oid, CommitInfo>, tip: Oid) -> Vec<CommitInfo> {
    let mut ordered = Vec::with_capacity(infos.len());
    let mut done: HashSet<Oid> = HashSet::new();
    let mut stack = vec![(tip, false)];
    while let Some((id, expanded)) = stack.pop() {
        let Some(info) = infos.get(&id) else { continue };
        if done.contains(&id) {
            continue;
        }
        if expanded {
            done.insert(id);
            ordered.push(info.clone());
        } else {
            stack.push((id, true));
            stack.extend(info.parents.iter().map(|p| (*p, false)));
        }
    }
    ordered
}
