//! The [`Backend`] on a real repository, through gix, and what only a real
//! repository has: the push quarantine of a `pre-receive` hook, the hooks
//! directory, git config, the working tree, resolving a user's revision, and
//! the common directory where local state lives.
//!
//! gix types stay in this file (and in the conversions of `mod.rs`): the
//! backend speaks [`Oid`] and [`Kind`]. Reference updates wait for a busy lock
//! and clear a stale one (see [`GitRepo::reference`]); a lost race surfaces as
//! [`StoreError::Raced`], as on every backend.

use std::path::{Path, PathBuf};

use gix::bstr::ByteSlice;
use gix::refs::transaction::PreviousValue;
use gix::refs::Target;
use gix::ObjectId;

use super::{
    branch_ref, check_ref_name, from_kind, git, to_gix, to_kind, to_oid, Backend, ConfigEntry, Expected, Kind, Oid,
    Result, Store, StoreError,
};

/// A real repository, opened with gix.
pub struct GitRepo {
    repo: gix::Repository,
    /// Keeps the object-store overlay of a quarantined push alive (see
    /// [`Store::see_quarantine`]).
    _overlay: Option<tempfile::TempDir>,
}

/// An object already serialised, written as is.
struct Raw<'a>(gix::object::Kind, &'a [u8]);

impl gix::objs::WriteTo for Raw<'_> {
    fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        out.write_all(self.1)
    }

    fn kind(&self) -> gix::object::Kind {
        self.0
    }

    fn size(&self) -> u64 {
        self.1.len() as u64
    }
}

impl GitRepo {
    /// Use an open repository, configured for the store's writes.
    pub(crate) fn new(mut repo: gix::Repository) -> Result<GitRepo> {
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
        Ok(GitRepo { repo, _overlay: None })
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
}

impl Backend for GitRepo {
    fn read_object(&self, id: Oid) -> Result<Option<(Kind, Vec<u8>)>> {
        let found = self.repo.try_find_object(to_gix(id)).map_err(git(format!("reading object {id}")))?;
        Ok(found.map(|o| (to_kind(o.kind), o.detach().data)))
    }

    fn write_object(&self, kind: Kind, data: &[u8]) -> Result<Oid> {
        let written = self.repo.write_object(Raw(from_kind(kind), data)).map_err(git(format!("writing {kind}")))?;
        Ok(to_oid(written.detach()))
    }

    fn read_ref(&self, name: &str) -> Result<Option<Oid>> {
        check_ref_name(name)?;
        let found = self.repo.try_find_reference(name).map_err(git(format!("reading {name}")))?;
        Ok(found.and_then(|r| r.target().try_id().map(|id| to_oid(id.to_owned()))))
    }

    fn update_ref(&self, name: &str, expected: Expected, new: Oid, reflog: &str) -> Result<()> {
        check_ref_name(name)?;
        let previous = match expected {
            Expected::Any => PreviousValue::Any,
            Expected::Absent => PreviousValue::MustNotExist,
            Expected::At(o) => PreviousValue::MustExistAndMatch(Target::Object(to_gix(o))),
        };
        let Err(e) = self.reference(name, to_gix(new), previous, reflog) else { return Ok(()) };
        use gix::refs::file::transaction::prepare::{MustNotExist, ReferenceOutOfDate};
        let raced =
            e.downcast_any_ref::<ReferenceOutOfDate>().is_some() || e.downcast_any_ref::<MustNotExist>().is_some();
        // gix reports a reference expected at an object and found missing
        // (deleted meanwhile) as a plain not-found error; it too is a lost
        // race.
        let vanished = || matches!(expected, Expected::At(_)) && matches!(self.read_ref(name), Ok(None));
        if raced || vanished() {
            return Err(StoreError::Raced(name.to_owned()));
        }
        Err(StoreError::Git { what: format!("updating {name}"), message: self.with_lock_hint(e.to_string()) })
    }

    fn refs_under(&self, prefix: &str) -> Result<Vec<(String, Oid)>> {
        let platform = self.repo.references().map_err(git("listing references"))?;
        let iter = platform.prefixed(prefix).map_err(git(format!("listing {prefix}")))?;
        let mut out = Vec::new();
        for r in iter {
            let r = r.map_err(|e| StoreError::Git { what: format!("listing {prefix}"), message: e.to_string() })?;
            if let Some(id) = r.target().try_id() {
                out.push((r.name().as_bstr().to_string(), to_oid(id.to_owned())));
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete_ref(&self, name: &str) -> Result<()> {
        check_ref_name(name)?;
        if let Some(r) = self.repo.try_find_reference(name).map_err(git(format!("reading {name}")))? {
            r.delete().map_err(git(format!("deleting {name}")))?;
        }
        Ok(())
    }

    fn config_string(&self, key: &str) -> Option<String> {
        self.repo.config_snapshot().string(key).map(|v| v.to_string())
    }

    /// Writes the repository's own config file (`.git/config`), creating
    /// sections as needed; the file is replaced by a rename, so a reader never
    /// sees half of it.
    fn set_config(&self, entries: &[ConfigEntry<'_>]) -> Result<()> {
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

    fn name_hint(&self) -> Option<String> {
        let dir = self.repo.workdir().unwrap_or(self.repo.common_dir());
        let name = dir.file_name()?.to_str()?.trim_end_matches(".git");
        (!name.is_empty()).then(|| name.to_owned())
    }

    fn command_dir(&self) -> Option<&Path> {
        Some(self.repo.workdir().unwrap_or(self.repo.common_dir()))
    }
}

/// How old a ref lock file must be to count as left by a killed process.
pub const STALE_LOCK: std::time::Duration = std::time::Duration::from_secs(30);

/// What only a store on a real repository can do.
impl Store<GitRepo> {
    /// Open the repository containing `path`, for branch `branch`.
    pub fn open(path: &Path, branch: &str) -> Result<Store> {
        let repo = gix::discover(path).map_err(|_| StoreError::NotARepo { path: path.to_owned() })?;
        Store::from_repo(repo, branch)
    }

    /// Use an already open repository.
    pub(crate) fn from_repo(repo: gix::Repository, branch: &str) -> Result<Store> {
        // The branch name first: a bad one is the caller's mistake, whatever
        // the repository.
        branch_ref(branch)?;
        Store::with_backend(GitRepo::new(repo)?, branch)
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
        let backend = &mut self.backend;
        let main = backend.repo.common_dir().join("objects");
        let alternates = format!("{}\n{}\n", std::path::Path::new(&quarantine).display(), main.display());
        std::fs::write(overlay.path().join("info").join("alternates"), alternates).map_err(io)?;
        let kind = backend.repo.object_hash();
        let handle = gix::odb::at(overlay.path(), kind).map_err(io)?;
        backend.repo.objects = gix::odb::memory::Proxy::new(handle, kind);
        backend._overlay = Some(overlay);
        Ok(())
    }

    /// The repository's common git directory (where the cache lives).
    pub fn git_dir(&self) -> &Path {
        self.backend.repo.common_dir()
    }

    /// Where git-crew keeps this clone's local state (locks, fences, logs):
    /// `crew/` in the common git directory, so every work tree of a clone
    /// shares it.
    pub fn local_dir(&self) -> PathBuf {
        self.backend.repo.common_dir().join("crew")
    }

    /// The working tree, if the repository has one.
    pub fn work_dir(&self) -> Option<&Path> {
        self.backend.repo.workdir()
    }

    /// The commit `HEAD` points to, and its message.
    pub fn head_commit(&self) -> Result<(Oid, String)> {
        let repo = &self.backend.repo;
        let id = repo.head_id().map_err(git("reading HEAD"))?.detach();
        let commit = repo.find_commit(id).map_err(git(format!("reading commit {id}")))?;
        Ok((to_oid(id), commit.message_raw_sloppy().to_str_lossy().into_owned()))
    }

    /// Resolve a revision of this repository to a commit id: `HEAD`, a
    /// reference name (`main`, `v1.0`, `refs/heads/x`) or a hex id or unique
    /// prefix of at least four digits; tags are peeled to their commit.
    pub fn resolve_commit(&self, rev: &str) -> Result<Oid> {
        let repo = &self.backend.repo;
        let what = format!("resolving revision {rev:?}");
        let by_name = if rev == "HEAD" {
            repo.head_id().ok().map(|i| i.detach())
        } else {
            repo.try_find_reference(rev).ok().flatten().and_then(|mut r| r.peel_to_id().ok()).map(|i| i.detach())
        };
        let id = match by_name {
            Some(id) => id,
            None => {
                let prefix = gix::hash::Prefix::from_hex(rev).map_err(git(what.clone()))?;
                match repo.objects.lookup_prefix(prefix, None).map_err(git(what.clone()))? {
                    Some(Ok(id)) => id,
                    Some(Err(())) => return Err(StoreError::Git { what, message: "ambiguous prefix".into() }),
                    None => return Err(StoreError::Git { what, message: "no such object".into() }),
                }
            }
        };
        let object = repo.find_object(id).map_err(git(what.clone()))?;
        Ok(to_oid(object.peel_to_commit().map_err(git(what))?.id))
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
            None => self.git_dir().join("hooks"),
        }
    }
}
