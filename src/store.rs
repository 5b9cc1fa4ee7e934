//! The git store: the only module that touches git.
//!
//! It reads and writes the workspace branch in process with gix, never checking
//! it out: blobs, trees and commits are written first, then the branch ref moves
//! by compare-and-swap. A process killed at any point therefore leaves either the
//! old tip or the new one, never a half-written branch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use gix::bstr::ByteSlice;
use gix::refs::transaction::PreviousValue;
use gix::refs::Target;
use gix::ObjectId;

use crate::object::{self, Entry as TreeEntry, Malformed, Mode};

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
    /// Another writer moved the branch first.
    #[error("branch {0} moved while writing")]
    Raced(String),
    /// A tree or commit on the branch is not in the one form it may take.
    #[error(transparent)]
    Malformed(#[from] Malformed),
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

/// A file on the branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Slash-separated path from the branch root.
    pub path: String,
    /// Git file mode.
    pub mode: Mode,
    /// Blob (or link/commit) id.
    pub oid: ObjectId,
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
    pub id: ObjectId,
    /// Its parents.
    pub parents: Vec<ObjectId>,
    /// Its root tree.
    pub tree: ObjectId,
}

/// How many commits [`Store::new_commits_exact`] walks down from the new tip
/// looking for the old one before it reads the old tip's whole history
/// instead.
const DOWN_TO_LIMIT: usize = 4096;

/// The workspace branch of one repository.
pub struct Store {
    repo: gix::Repository,
    branch: String,
    refname: String,
    /// Keeps the object-store overlay of a quarantined push alive (see
    /// [`Store::see_quarantine`]).
    _overlay: Option<tempfile::TempDir>,
}

impl Store {
    /// Open the repository containing `path`, for branch `branch`.
    pub fn open(path: &Path, branch: &str) -> Result<Store> {
        let repo = gix::discover(path).map_err(|_| StoreError::NotARepo { path: path.to_owned() })?;
        Store::from_repo(repo, branch)
    }

    /// Use an already open repository.
    pub fn from_repo(mut repo: gix::Repository, branch: &str) -> Result<Store> {
        let refname = format!("refs/heads/{branch}");
        if gix::refs::FullName::try_from(refname.as_str()).is_err() || branch.is_empty() {
            return Err(StoreError::BadBranch(branch.to_owned()));
        }
        repo.object_cache_size_if_unset(4 * 1024 * 1024);
        // Many writers take turns on one ref lock; under load a turn can take
        // longer than git's default 100 ms wait. Wait longer (with backoff)
        // rather than fail a write that would have succeeded.
        // Commits on the branch carry the actor as author and committer; only
        // the reflog of a moved branch asks git for an identity, which a fresh
        // machine or an agent's sandbox may not have configured.
        let mut config = repo.config_snapshot_mut();
        let settings = [
            "core.filesRefLockTimeout=10000",
            "gitoxide.committer.nameFallback=git-crew",
            "gitoxide.committer.emailFallback=git-crew@localhost",
        ];
        config.append_config(settings, gix::config::Source::Api).map_err(git("configuring the repository"))?;
        config.commit().map_err(git("configuring the repository"))?;
        Ok(Store { repo, branch: branch.to_owned(), refname, _overlay: None })
    }

    /// Inside a `pre-receive` hook, git keeps the pushed objects in a quarantine
    /// directory (`GIT_QUARANTINE_PATH`) that gix does not look in by itself.
    /// Make them visible: read objects through an overlay whose alternates are
    /// the quarantine and the repository's own object directory. The overlay
    /// lives in a temporary directory outside the repository, so nothing is
    /// added to what git migrates when it accepts the push. No-op otherwise.
    pub fn see_quarantine(&mut self) -> Result<()> {
        let Some(quarantine) = std::env::var_os("GIT_QUARANTINE_PATH") else { return Ok(()) };
        let io =
            |e: std::io::Error| StoreError::Git { what: "reading the push quarantine".into(), message: e.to_string() };
        let overlay = tempfile::Builder::new().prefix("git-crew-quarantine-").tempdir().map_err(io)?;
        std::fs::create_dir_all(overlay.path().join("info")).map_err(io)?;
        let main = self.repo.common_dir().join("objects");
        let alternates = format!("{}\n{}\n", std::path::Path::new(&quarantine).display(), main.display());
        std::fs::write(overlay.path().join("info").join("alternates"), alternates).map_err(io)?;
        let kind = self.repo.object_hash();
        let handle = gix::odb::at(overlay.path(), kind).map_err(io)?;
        self.repo.objects = gix::odb::memory::Proxy::new(handle, kind);
        self._overlay = Some(overlay);
        Ok(())
    }

    /// The branch name.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The repository's common git directory (where the cache lives).
    pub fn git_dir(&self) -> &Path {
        self.repo.common_dir()
    }

    /// The working tree, if the repository has one.
    pub fn work_dir(&self) -> Option<&Path> {
        self.repo.workdir()
    }

    /// The underlying repository.
    pub fn repo(&self) -> &gix::Repository {
        &self.repo
    }

    /// The branch tip, or `None` if the branch does not exist.
    pub fn tip(&self) -> Result<Option<ObjectId>> {
        self.ref_target(&self.refname)
    }

    /// The object a full reference name points to, if it exists.
    pub fn ref_target(&self, name: &str) -> Result<Option<ObjectId>> {
        let found = self.repo.try_find_reference(name).map_err(git(format!("reading {name}")))?;
        Ok(found.and_then(|r| r.target().try_id().map(ToOwned::to_owned)))
    }

    /// A commit's parents and tree.
    pub fn commit(&self, id: ObjectId) -> Result<CommitInfo> {
        let c = self.raw_commit(id)?;
        Ok(CommitInfo { id, parents: c.parents, tree: c.tree })
    }

    /// A commit of the branch, parsed strictly: every header and the message.
    pub fn raw_commit(&self, id: ObjectId) -> Result<object::Commit> {
        let data = self.object_data(id, gix::object::Kind::Commit)?;
        Ok(object::parse_commit(id, &data)?)
    }

    fn object_data(&self, id: ObjectId, kind: gix::object::Kind) -> Result<Vec<u8>> {
        let found = self.repo.find_object(id).map_err(git(format!("reading {kind} {id}")))?;
        if found.kind != kind {
            return Err(StoreError::Git {
                what: format!("reading {kind} {id}"),
                message: format!("it is a {}", found.kind),
            });
        }
        Ok(found.detach().data)
    }

    /// The commits reachable from `new` but not from `old`, parents before
    /// children, and whether `old` is an ancestor of (or equal to) `new`.
    ///
    /// Walks only the new part of the history (see the comment inside), so
    /// under clock skew the list may repeat known commits; use
    /// [`Store::new_commits_exact`] where a superset would be wrong.
    pub fn new_commits(&self, old: ObjectId, new: ObjectId) -> Result<(Vec<CommitInfo>, bool)> {
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
        let mut paint: HashMap<ObjectId, u8> = HashMap::new();
        let mut seen: HashMap<ObjectId, (CommitInfo, i64)> = HashMap::new();
        let mut done: HashMap<ObjectId, u8> = HashMap::new();
        let mut queue: std::collections::BinaryHeap<(i64, ObjectId)> = std::collections::BinaryHeap::new();
        for (id, flag) in [(old, OLD), (new, NEW)] {
            let info = self.commit_with_time(id)?;
            queue.push((info.1, id));
            seen.insert(id, info);
            *paint.entry(id).or_insert(0) |= flag;
        }
        while let Some((_, id)) = queue.pop() {
            let flags = paint[&id];
            if done.get(&id) == Some(&flags) {
                continue;
            }
            done.insert(id, flags);
            let parents = seen[&id].0.parents.clone();
            for p in parents {
                let before = paint.get(&p).copied().unwrap_or(0);
                if before | flags == before {
                    continue;
                }
                paint.insert(p, before | flags);
                if let std::collections::hash_map::Entry::Vacant(slot) = seen.entry(p) {
                    slot.insert(self.commit_with_time(p)?);
                }
                queue.push((seen[&p].1, p));
            }
            // Done when only known commits are queued and all are older than
            // every new one: (without clock skew) no known path leads to a new
            // commit any more.
            if queue.iter().all(|(_, q)| paint[q] & OLD != 0) {
                let oldest_new = seen.iter().filter(|(c, _)| paint[*c] == NEW).map(|(_, (_, t))| *t).min();
                let newest_queued = queue.peek().map(|(t, _)| *t);
                if oldest_new.is_none_or(|n| newest_queued.is_none_or(|q| q < n)) {
                    break;
                }
            }
        }
        let reached_old = paint.get(&old).is_some_and(|f| f & NEW != 0);
        let infos: HashMap<ObjectId, CommitInfo> =
            seen.into_iter().filter(|(id, _)| paint.get(id) == Some(&NEW)).map(|(id, (info, _))| (id, info)).collect();
        Ok((topological(&infos, new), reached_old))
    }

    /// [`Store::new_commits`], exact whatever the commit dates say. When
    /// every path down from `new` meets `old` (the usual case: a few commits
    /// on top of it), only those commits are read; otherwise every commit id
    /// reachable from `old` is collected first (headers only), so the cost
    /// follows the whole history.
    pub fn new_commits_exact(&self, old: ObjectId, new: ObjectId) -> Result<(Vec<CommitInfo>, bool)> {
        if old == new {
            return Ok((Vec::new(), true));
        }
        if let Some(infos) = self.down_to(old, new)? {
            return Ok((topological(&infos, new), true));
        }
        let mut known: HashSet<ObjectId> = HashSet::new();
        let mut stack = vec![old];
        while let Some(id) = stack.pop() {
            if known.insert(id) {
                stack.extend(self.commit(id)?.parents);
            }
        }
        let mut infos: HashMap<ObjectId, CommitInfo> = HashMap::new();
        let mut stack = vec![new];
        while let Some(id) = stack.pop() {
            if known.contains(&id) || infos.contains_key(&id) {
                continue;
            }
            let info = self.commit(id)?;
            stack.extend(info.parents.iter().copied());
            infos.insert(id, info);
        }
        let reached_old = old == new || infos.values().any(|c| c.parents.contains(&old));
        Ok((topological(&infos, new), reached_old))
    }

    /// The commits reachable from `new` without passing `old`, if every path
    /// down from `new` meets `old`: then each of them descends from `old`, so
    /// none is reachable from it, and they are exactly what `new` adds. `None`
    /// when a path reaches a root commit instead (a merge of older history, or
    /// `old` not an ancestor), after at most [`DOWN_TO_LIMIT`] commits.
    fn down_to(&self, old: ObjectId, new: ObjectId) -> Result<Option<HashMap<ObjectId, CommitInfo>>> {
        let mut infos: HashMap<ObjectId, CommitInfo> = HashMap::new();
        let mut stack = vec![new];
        while let Some(id) = stack.pop() {
            if id == old || infos.contains_key(&id) {
                continue;
            }
            if infos.len() >= DOWN_TO_LIMIT {
                return Ok(None);
            }
            let info = self.commit(id)?;
            if info.parents.is_empty() {
                return Ok(None);
            }
            stack.extend(info.parents.iter().copied());
            infos.insert(id, info);
        }
        Ok(Some(infos))
    }

    /// Every commit id reachable from `tip`, itself included.
    fn commit_with_time(&self, id: ObjectId) -> Result<(CommitInfo, i64)> {
        let c = self.raw_commit(id)?;
        Ok((CommitInfo { id, parents: c.parents, tree: c.tree }, c.committer.seconds))
    }

    /// The commit `HEAD` points to, and its message.
    pub fn head_commit(&self) -> Result<(ObjectId, String)> {
        let id = self.repo.head_id().map_err(git("reading HEAD"))?.detach();
        let commit = self.repo.find_commit(id).map_err(git(format!("reading commit {id}")))?;
        Ok((id, commit.message_raw_sloppy().to_str_lossy().into_owned()))
    }

    /// Resolve a revision of this repository to a commit id: `HEAD`, a
    /// reference name (`main`, `v1.0`, `refs/heads/x`) or a hex id or unique
    /// prefix of at least four digits; tags are peeled to their commit.
    pub fn resolve_commit(&self, rev: &str) -> Result<ObjectId> {
        let what = format!("resolving revision {rev:?}");
        let by_name = if rev == "HEAD" {
            self.repo.head_id().ok().map(|i| i.detach())
        } else {
            self.repo.try_find_reference(rev).ok().flatten().and_then(|mut r| r.peel_to_id().ok()).map(|i| i.detach())
        };
        let id = match by_name {
            Some(id) => id,
            None => {
                let prefix = gix::hash::Prefix::from_hex(rev).map_err(git(what.clone()))?;
                match self.repo.objects.lookup_prefix(prefix, None).map_err(git(what.clone()))? {
                    Some(Ok(id)) => id,
                    Some(Err(())) => return Err(StoreError::Git { what, message: "ambiguous prefix".into() }),
                    None => return Err(StoreError::Git { what, message: "no such object".into() }),
                }
            }
        };
        let object = self.repo.find_object(id).map_err(git(what.clone()))?;
        Ok(object.peel_to_commit().map_err(git(what))?.id)
    }

    /// Where git looks for hooks: `core.hooksPath` if set, else `hooks/` in the
    /// common git directory.
    pub fn hooks_dir(&self) -> PathBuf {
        match self.config_string("core.hooksPath") {
            Some(p) => {
                let p = PathBuf::from(p);
                if p.is_absolute() {
                    p
                } else {
                    self.work_dir().unwrap_or(self.git_dir()).join(p)
                }
            }
            None => self.repo.common_dir().join("hooks"),
        }
    }

    /// All commits reachable from `tip`, parents before children.
    pub fn history(&self, tip: ObjectId) -> Result<Vec<CommitInfo>> {
        let mut infos: HashMap<ObjectId, CommitInfo> = HashMap::new();
        let mut stack = vec![tip];
        while let Some(id) = stack.pop() {
            if infos.contains_key(&id) {
                continue;
            }
            let info = self.commit(id)?;
            stack.extend(info.parents.iter().copied());
            infos.insert(id, info);
        }
        // Iterative post-order from the tip: a commit is emitted after its parents.
        let mut order = Vec::with_capacity(infos.len());
        let mut done: HashSet<ObjectId> = HashSet::new();
        let mut stack = vec![(tip, false)];
        while let Some((id, expanded)) = stack.pop() {
            if done.contains(&id) {
                continue;
            }
            if expanded {
                done.insert(id);
                order.push(infos[&id].clone());
            } else {
                stack.push((id, true));
                for p in &infos[&id].parents {
                    if !done.contains(p) {
                        stack.push((*p, false));
                    }
                }
            }
        }
        Ok(order)
    }

    /// The bytes of a blob.
    pub fn blob(&self, oid: ObjectId) -> Result<Vec<u8>> {
        let mut blob = self.repo.find_blob(oid).map_err(git(format!("reading blob {oid}")))?;
        Ok(blob.take_data())
    }

    /// The content of `path` in `tree`, if present and a blob.
    pub fn read(&self, tree: ObjectId, path: &str) -> Result<Option<Vec<u8>>> {
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
    pub fn list(&self, tree: ObjectId, dir: &str) -> Result<Vec<String>> {
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
    pub fn tree_entries(&self, tree: ObjectId) -> Result<Vec<TreeEntry>> {
        let data = self.object_data(tree, gix::object::Kind::Tree)?;
        Ok(object::parse_tree(tree, &data)?)
    }

    /// The entries of the directory at `path` (the root if empty): a
    /// directory below the root that holds nothing is malformed, as git never
    /// writes one and no directory of the layout is empty.
    fn dir_entries(&self, tree: ObjectId, path: &str) -> Result<Vec<TreeEntry>> {
        let entries = self.tree_entries(tree)?;
        if entries.is_empty() && !path.is_empty() {
            let why = format!("{path}: empty tree (a directory with no files)");
            return Err(Malformed { what: "tree", id: tree, why }.into());
        }
        Ok(entries)
    }

    /// Every non-tree entry of `tree`, recursively, with full paths; an empty
    /// directory is [`StoreError::Malformed`].
    pub fn files(&self, tree: ObjectId) -> Result<Vec<FileEntry>> {
        let mut out = Vec::new();
        self.collect_files(tree, "", &mut out)?;
        Ok(out)
    }

    fn collect_files(&self, tree: ObjectId, prefix: &str, out: &mut Vec<FileEntry>) -> Result<()> {
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
    pub fn diff(&self, old: Option<ObjectId>, new: ObjectId) -> Result<Vec<Change>> {
        let mut out = Vec::new();
        self.diff_into(old, Some(new), "", &mut out)?;
        Ok(out)
    }

    fn diff_into(
        &self,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        prefix: &str,
        out: &mut Vec<Change>,
    ) -> Result<()> {
        if old == new {
            return Ok(());
        }
        let load = |t: Option<ObjectId>| -> Result<BTreeMap<String, TreeEntry>> {
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
        parents: &[ObjectId],
        base_tree: Option<ObjectId>,
        edits: &[(String, Vec<u8>)],
        author: &str,
        message: &str,
    ) -> Result<ObjectId> {
        let edits: Vec<(&str, &[u8])> = edits.iter().map(|(p, b)| (p.as_str(), b.as_slice())).collect();
        let tree = self.edit_tree(base_tree, &edits)?;
        let now = gix::date::Time { seconds: chrono::Utc::now().timestamp(), offset: 0 };
        let (name, email) = ident(author);
        let sig = gix::actor::Signature { name: name.into(), email: email.into(), time: now };
        let commit = gix::objs::Commit {
            tree,
            parents: parents.iter().copied().collect(),
            author: sig.clone(),
            committer: sig,
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        Ok(self.repo.write_object(&commit).map_err(git("writing commit"))?.detach())
    }

    fn edit_tree(&self, base: Option<ObjectId>, edits: &[(&str, &[u8])]) -> Result<ObjectId> {
        let mut entries = match base {
            Some(t) => self.tree_entries(t)?,
            None => Vec::new(),
        };
        let mut subdirs: BTreeMap<&str, Vec<(&str, &[u8])>> = BTreeMap::new();
        for &(path, bytes) in edits {
            match path.split_once('/') {
                Some((dir, rest)) => subdirs.entry(dir).or_default().push((rest, bytes)),
                None => {
                    let oid = self.repo.write_blob(bytes).map_err(git(format!("writing blob for {path}")))?.detach();
                    upsert(&mut entries, path, Mode::File, oid);
                }
            }
        }
        for (dir, sub) in subdirs {
            let existing = entries.iter().find(|e| e.name == dir && e.mode == Mode::Tree).map(|e| e.oid);
            let oid = self.edit_tree(existing, &sub)?;
            upsert(&mut entries, dir, Mode::Tree, oid);
        }
        let tree = Raw(gix::object::Kind::Tree, object::write_tree(&entries));
        Ok(self.repo.write_object(&tree).map_err(git("writing tree"))?.detach())
    }

    /// Move the branch from `old` (`None`: must not exist) to `new`, atomically.
    /// Fails with [`StoreError::Raced`] if the branch is no longer at `old`.
    pub fn set_tip(&self, old: Option<ObjectId>, new: ObjectId, reflog: &str) -> Result<()> {
        self.cas_ref(&self.refname, old, new, reflog)
    }

    /// Write a blob (objects only).
    pub fn write_blob(&self, bytes: &[u8]) -> Result<ObjectId> {
        Ok(self.repo.write_blob(bytes).map_err(git("writing blob"))?.detach())
    }

    /// Point `name` at `new`, whatever it pointed to (for refs that are
    /// overwritten by design, like heartbeats).
    pub fn force_ref(&self, name: &str, new: ObjectId, reflog: &str) -> Result<()> {
        self.reference(name, new, PreviousValue::Any, reflog).map(|_| ()).map_err(|e| StoreError::Git {
            what: format!("updating {name}"),
            message: self.with_lock_hint(e.to_string()),
        })
    }

    /// Every reference under `prefix` (e.g. `refs/crew/live/`), with the
    /// object it points to, sorted by name.
    pub fn refs_under(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>> {
        let platform = self.repo.references().map_err(git("listing references"))?;
        let iter = platform.prefixed(prefix).map_err(git(format!("listing {prefix}")))?;
        let mut out = Vec::new();
        for r in iter {
            let r = r.map_err(|e| StoreError::Git { what: format!("listing {prefix}"), message: e.to_string() })?;
            if let Some(id) = r.target().try_id() {
                out.push((r.name().as_bstr().to_string(), id.to_owned()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Delete a reference if it exists.
    pub fn delete_ref(&self, name: &str) -> Result<()> {
        if let Some(r) = self.repo.try_find_reference(name).map_err(git(format!("reading {name}")))? {
            r.delete().map_err(git(format!("deleting {name}")))?;
        }
        Ok(())
    }

    /// Update a reference through gix; if a lock file stands in the way and
    /// is older than [`STALE_LOCK`], remove it and try once more. A ref update
    /// holds its locks for milliseconds, so such a file was left by a process
    /// killed mid-update (git never removes one by itself), and an agent
    /// restarted after a SIGKILL must not find its clone wedged.
    fn reference(&self, name: &str, new: ObjectId, expected: PreviousValue, reflog: &str) -> gix::Result<()> {
        match self.repo.reference(name, new, expected.clone(), reflog) {
            Err(e) if e.to_string().to_ascii_lowercase().contains("lock") && self.clear_stale_locks(name) => {
                self.repo.reference(name, new, expected, reflog).map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    /// Remove `packed-refs.lock` and `<name>.lock` if older than
    /// [`STALE_LOCK`]; whether any was removed.
    fn clear_stale_locks(&self, name: &str) -> bool {
        let dirs = [self.repo.common_dir(), self.repo.git_dir()];
        let mut cleared = false;
        let stale = |p: &Path| {
            let age = std::fs::metadata(p).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
            age.is_some_and(|a| a > STALE_LOCK)
        };
        for path in dirs.iter().flat_map(|d| [d.join("packed-refs.lock"), d.join(format!("{name}.lock"))]) {
            if !stale(&path) {
                continue;
            }
            // Moved aside before it is judged again, so that a lock another
            // process took in between (after removing the same stale one) is
            // put back rather than removed.
            let aside = path.with_extension(format!("lock.stale-{}", std::process::id()));
            if std::fs::rename(&path, &aside).is_err() {
                continue;
            }
            if stale(&aside) {
                cleared |= std::fs::remove_file(&aside).is_ok();
            } else if !path.exists() {
                let _ = std::fs::rename(&aside, &path);
            } else {
                let _ = std::fs::remove_file(&aside);
            }
        }
        cleared
    }

    /// A git error about a lock, with what to do: a `*.lock` file is left when
    /// a process is killed mid-update, and git never removes it by itself.
    fn with_lock_hint(&self, message: String) -> String {
        if !message.to_ascii_lowercase().contains("lock") {
            return message;
        }
        let dir = self.repo.common_dir().display().to_string();
        format!(
            "{message} (another process is updating refs in {dir}, or one was killed mid-update and left a `*.lock` file there, such as packed-refs.lock: if no git or git-crew process runs in this clone, remove it)"
        )
    }

    /// Compare-and-swap any reference.
    pub fn cas_ref(&self, name: &str, old: Option<ObjectId>, new: ObjectId, reflog: &str) -> Result<()> {
        let expected = match old {
            Some(o) => PreviousValue::MustExistAndMatch(Target::Object(o)),
            None => PreviousValue::MustNotExist,
        };
        match self.reference(name, new, expected, reflog) {
            Ok(_) => Ok(()),
            Err(e) => {
                use gix::refs::file::transaction::prepare::{MustNotExist, ReferenceOutOfDate};
                let raced = e.downcast_any_ref::<ReferenceOutOfDate>().is_some()
                    || e.downcast_any_ref::<MustNotExist>().is_some();
                if raced {
                    Err(StoreError::Raced(name.to_owned()))
                } else {
                    Err(StoreError::Git {
                        what: format!("updating {name}"),
                        message: self.with_lock_hint(e.to_string()),
                    })
                }
            }
        }
    }
}

/// How old a ref lock file must be to count as left by a killed process.
pub const STALE_LOCK: std::time::Duration = std::time::Duration::from_secs(30);

/// An object already serialised (our trees are written by [`object::write_tree`],
/// the same rules the strict reader checks).
struct Raw(gix::object::Kind, Vec<u8>);

impl gix::objs::WriteTo for Raw {
    fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        out.write_all(&self.1)
    }

    fn kind(&self) -> gix::object::Kind {
        self.0
    }

    fn size(&self) -> u64 {
        self.1.len() as u64
    }
}

fn upsert(entries: &mut Vec<TreeEntry>, name: &str, mode: Mode, oid: ObjectId) {
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

impl Store {
    /// Set `section.subsection.key = value` in the repository's own config file
    /// (`.git/config`), creating sections as needed and keeping everything else.
    pub fn set_config(&self, entries: &[(&str, Option<&str>, &str, &str)]) -> Result<()> {
        let path = self.repo.common_dir().join("config");
        let mut file = gix::config::File::from_path_no_includes(path.clone(), gix::config::Source::Local)
            .map_err(git(format!("reading {}", path.display())))?;
        for (section, sub, key, value) in entries {
            let sub = sub.map(gix::bstr::BStr::new);
            file.set_raw_value_by(*section, sub, *key, *value).map_err(git(format!("setting {section}.{key}")))?;
        }
        let mut out = Vec::new();
        file.write_to(&mut out).map_err(git("serializing git config"))?;
        let tmp = path.with_extension(format!("crew-tmp.{}", std::process::id()));
        std::fs::write(&tmp, out)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(git(format!("writing {}", path.display())))
    }

    /// A string value from the repository's configuration (all scopes).
    pub fn config_string(&self, key: &str) -> Option<String> {
        self.repo.config_snapshot().string(key).map(|v| v.to_string())
    }
}

/// The commits of `infos` reachable from `tip` through `infos`, parents first.
fn topological(infos: &HashMap<ObjectId, CommitInfo>, tip: ObjectId) -> Vec<CommitInfo> {
    let mut ordered = Vec::with_capacity(infos.len());
    let mut done: HashSet<ObjectId> = HashSet::new();
    let mut stack = vec![(tip, false)];
    while let Some((id, expanded)) = stack.pop() {
        if !infos.contains_key(&id) || done.contains(&id) {
            continue;
        }
        if expanded {
            done.insert(id);
            ordered.push(infos[&id].clone());
        } else {
            stack.push((id, true));
            stack.extend(infos[&id].parents.iter().map(|p| (*p, false)));
        }
    }
    ordered
}
