//! Git hooks: what each one checks, and installing the shims.
//!
//! The scripts in `hooks/` are one-line shims calling `git-crew hook NAME`;
//! `install` puts that line into a repository's hooks between markers, keeping
//! whatever else a hook file holds.
//!
//! - `pre-commit`: a commit may not touch a path another actor has reserved
//!   (as this clone's copy of the branch says: sync to see new reservations).
//! - `commit-msg`: a `Crew-Task:` trailer must name an existing task.
//! - `post-commit`: each `Crew-Task:` trailer becomes a `receipt` on the task,
//!   linking the code commit to it.
//! - `pre-push`: the part of the workspace branch about to leave is verified.
//! - `proc-receive` (server): pushes to `refs/crew/for/<branch>` are folded
//!   into the branch, one at a time ([`crate::fold`]).
//! - `pre-receive` (server): pushes to the workspace branch must fast-forward and
//!   everything they add must verify: append-only, signatures, authorised and
//!   not-suspended authors, layout, plain files, no conflict markers, and no
//!   record dated beyond the allowed clock skew. Cost follows the push.

use std::path::{Path, PathBuf};

use crate::store::Backend;
use crate::store::Oid;

use crate::error::{ConflictError, Error, InstallError, ProtocolError, ReceiveError, ReservationError, Result};
use crate::record::kinds::{Receipt, ReceiptClass};
use crate::record::Record;
use crate::store::Store;
use crate::verify::{self, Base, Report};
use crate::workspace::Workspace;

/// Hooks a working clone gets from `install`.
pub const CLIENT_HOOKS: &[&str] = &["pre-commit", "commit-msg", "post-commit", "pre-push"];
/// Hooks a server (bare) repository gets from `install --server`.
pub const SERVER_HOOKS: &[&str] = &["pre-receive", "proc-receive"];

const BEGIN: &str = "# >>> git-crew >>>";
const END: &str = "# <<< git-crew <<<";

/// The shim script shipped in `hooks/NAME`.
pub fn shim(name: &str) -> Option<&'static str> {
    Some(match name {
        "pre-commit" => include_str!("../hooks/pre-commit"),
        "commit-msg" => include_str!("../hooks/commit-msg"),
        "post-commit" => include_str!("../hooks/post-commit"),
        "pre-push" => include_str!("../hooks/pre-push"),
        "pre-receive" => include_str!("../hooks/pre-receive"),
        "proc-receive" => include_str!("../hooks/proc-receive"),
        _ => return None,
    })
}

/// Install hook `name` into `hooks_dir`: create it from the shim, or put the
/// shim's command between markers in an existing hook (replacing an older
/// git-crew block, keeping everything else). Returns the hook's path.
pub fn install(hooks_dir: &Path, name: &str) -> Result<PathBuf> {
    let shim = shim(name).ok_or_else(|| InstallError::UnknownHook(name.to_owned()))?;
    let command: String = shim.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    let block = format!("{BEGIN}\n{command}{END}\n");
    let path = hooks_dir.join(name);
    let io = |e| Error::Io { what: format!("installing hook {}", path.display()), source: e };
    std::fs::create_dir_all(hooks_dir).map_err(io)?;
    let text = match std::fs::read_to_string(&path) {
        Ok(existing) => with_block(&existing, &block),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => format!("#!/bin/sh\n{block}"),
        Err(e) => return Err(io(e)),
    };
    std::fs::write(&path, text).map_err(io)?;
    make_executable(&path).map_err(io)?;
    Ok(path)
}

/// `existing` with `block` between the markers: replaced in place if present,
/// appended otherwise.
fn with_block(existing: &str, block: &str) -> String {
    if let (Some(start), Some(end)) = (existing.find(BEGIN), existing.find(END)) {
        if start < end {
            let after = existing[end + END.len()..].strip_prefix('\n').unwrap_or(&existing[end + END.len()..]);
            return format!("{}{block}{after}", &existing[..start]);
        }
    }
    let sep = if existing.is_empty() || existing.ends_with('\n') { "" } else { "\n" };
    format!("{existing}{sep}{block}")
}

#[cfg(unix)]
fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(path)?.permissions();
    perms.set_mode(perms.mode() | 0o755);
    std::fs::set_permissions(path, perms)
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Make `store`'s repository a git-crew server: the `pre-receive` hook; the
/// `proc-receive` hook, which folds pushes to `refs/crew/for/<branch>` into
/// the branch ([`crate::fold`]); and git's own object checks on every push
/// (`receive.fsckObjects`), which refuse malformed trees and commits before
/// any hook runs. Returns the hooks' paths.
pub fn install_server(store: &Store) -> Result<Vec<PathBuf>> {
    store.set_config(&[("receive", None, "fsckObjects", "true")])?;
    crate::fold::enable(store)?;
    SERVER_HOOKS.iter().map(|n| install(&store.hooks_dir(), n)).collect()
}

/// The CI job that runs `git crew verify` on every push to the branch, for a
/// forge that runs no hooks (`github` or `gitlab`): where it goes in the work
/// tree, and its text (shipped in `contrib/ci/`).
pub fn ci_job(forge: &str) -> Option<(&'static str, &'static str)> {
    match forge {
        "github" => Some((".github/workflows/crew-verify.yml", include_str!("../contrib/ci/github-crew-verify.yml"))),
        "gitlab" => Some((".gitlab/crew-verify.yml", include_str!("../contrib/ci/gitlab-crew-verify.yml"))),
        _ => None,
    }
}

/// Write the CI job for `forge` into the work tree `top`; refuses to replace a
/// different file there. Returns its path.
pub fn install_ci(top: &Path, forge: &str) -> Result<PathBuf> {
    let (rel, text) = ci_job(forge).ok_or_else(|| InstallError::UnknownForge(forge.to_owned()))?;
    let path = top.join(rel);
    let io = |e| Error::Io { what: format!("writing {}", path.display()), source: e };
    match std::fs::read(&path) {
        Ok(existing) if existing == text.as_bytes() => return Ok(path),
        Ok(_) => return Err(InstallError::Differs(path).into()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        Err(_) => {}
    }
    std::fs::create_dir_all(path.parent().unwrap_or(top)).map_err(io)?;
    std::fs::write(&path, text).map_err(io)?;
    Ok(path)
}

/// The values of `Crew-Task:` trailers in a commit message.
pub fn task_trailers(message: &str) -> Vec<String> {
    message
        .lines()
        .filter_map(|l| {
            let (key, value) = l.split_once(':')?;
            key.trim().eq_ignore_ascii_case("crew-task").then(|| value.trim().to_owned())
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// The paths of the work tree the commit being made touches: added,
/// changed and deleted, both sides of a rename. Read with `git diff --cached`
/// (the index is git's, and a hook runs with git's environment, so a
/// `commit -a` or a partial commit's temporary index is the one read).
pub fn staged_paths(work_tree: &Path) -> Result<Vec<String>> {
    let out = std::process::Command::new("git")
        .current_dir(work_tree)
        .args(["-c", "core.quotePath=false", "diff", "--cached", "--name-only", "--no-renames", "-z"])
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| ReservationError::Staged(e.to_string()))?;
    if !out.status.success() {
        return Err(ReservationError::Staged(String::from_utf8_lossy(&out.stderr).trim().to_owned()).into());
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// `pre-commit`: refuse a commit of `actor` (or of someone with no crew
/// identity) that touches `paths` another actor holds, naming each path, its
/// holder and the time left.
pub fn pre_commit<B: Backend>(ws: &Workspace<B>, actor: Option<&str>, paths: &[String]) -> Result<()> {
    let blocked = ws.blocked_paths(actor.unwrap_or(""), paths)?;
    if blocked.is_empty() {
        return Ok(());
    }
    let lines = blocked
        .iter()
        .map(|b| {
            let secs = b.held.left_ms / 1000;
            let left = if secs < 120 { format!("{secs}s") } else { format!("{}m", secs / 60) };
            let r = &b.held.reservation;
            format!("{} is reserved by {} (reservation {}, {left} left)", b.path, b.held.holder, r.id.short())
        })
        .collect();
    Err(ReservationError::Reserved(lines).into())
}

/// `commit-msg`: every `Crew-Task:` trailer must name exactly one existing task.
pub fn commit_msg<B: Backend>(ws: &Workspace<B>, message: &str) -> Result<()> {
    let trailers = task_trailers(message);
    if trailers.is_empty() {
        return Ok(());
    }
    let snap = ws.snapshot()?;
    for t in trailers {
        if let Err(problem) = crate::id::resolve_prefix(&t, "task", snap.state.tasks.keys().copied()) {
            return Err(Error::TaskTrailer { value: t, problem });
        }
    }
    Ok(())
}

/// `post-commit`: a `commit` receipt on each task named by a `Crew-Task:`
/// trailer of `commit`, written as `actor`.
pub fn post_commit<B: Backend>(ws: &Workspace<B>, actor: &str, commit: Oid, message: &str) -> Result<Vec<Record>> {
    let trailers = task_trailers(message);
    if trailers.is_empty() {
        return Ok(Vec::new());
    }
    let snap = ws.snapshot()?;
    // The subject, cut to what a receipt summary may hold, so no commit goes unrecorded.
    let summary = message
        .lines()
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(crate::record::kinds::MAX_SUMMARY_CHARS).collect::<String>());
    let mut written = Vec::new();
    for t in trailers {
        let task = ws.resolve_task(&snap.state, &t)?;
        let receipt = Receipt {
            task,
            class: ReceiptClass::Commit,
            summary: summary.clone(),
            commits: vec![commit.to_string()],
            artifacts: Vec::new(),
        };
        written.push(ws.add_receipt(actor, receipt)?);
    }
    Ok(written)
}

/// One line of a `pre-push` or `pre-receive` hook's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    /// The reference being updated (on the receiving side).
    pub name: String,
    /// Its current value there; `None` if it does not exist yet.
    pub old: Option<Oid>,
    /// Its new value; `None` for a deletion.
    pub new: Option<Oid>,
}

fn oid_or_zero(hex: &str) -> Result<Option<Oid>> {
    let oid = Oid::from_lower_hex(hex).ok_or_else(|| ProtocolError::ObjectId(hex.to_owned()))?;
    Ok((!oid.is_null()).then_some(oid))
}

/// Parse `pre-receive` input: `<old> <new> <ref>` per line.
pub fn parse_pre_receive(input: &str) -> Result<Vec<RefUpdate>> {
    input
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.split_whitespace().collect::<Vec<_>>().as_slice() {
            [old, new, name] => {
                Ok(RefUpdate { name: (*name).to_owned(), old: oid_or_zero(old)?, new: oid_or_zero(new)? })
            }
            _ => Err(ProtocolError::HookLine { hook: "pre-receive", line: l.to_owned() }.into()),
        })
        .collect()
}

/// Parse `pre-push` input: `<local ref> <local oid> <remote ref> <remote oid>`.
pub fn parse_pre_push(input: &str) -> Result<Vec<RefUpdate>> {
    input
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.split_whitespace().collect::<Vec<_>>().as_slice() {
            [_, local, remote_ref, remote] => {
                Ok(RefUpdate { name: (*remote_ref).to_owned(), old: oid_or_zero(remote)?, new: oid_or_zero(local)? })
            }
            _ => Err(ProtocolError::HookLine { hook: "pre-push", line: l.to_owned() }.into()),
        })
        .collect()
}

/// `pre-push`: verify the part of the workspace branch that is about to leave.
pub fn pre_push<B: Backend>(ws: &Workspace<B>, updates: &[RefUpdate]) -> Result<Vec<Report>> {
    let branch = format!("refs/heads/{}", ws.store().branch());
    let mut reports = Vec::new();
    for u in updates.iter().filter(|u| u.name == branch) {
        let Some(new) = u.new else { continue };
        // The remote's old tip is only a usable boundary if we have it; what is
        // trusted is the state there, never the local tip being pushed.
        let old = u.old.filter(|o| ws.store().commit(*o).is_ok());
        let base = match old {
            Some(old) => ws.trusted_base_at(old)?,
            None => Base::default(),
        };
        reports.push(verify::verify_new(ws.store(), old, new, &base, false)?);
    }
    Ok(reports)
}

/// `pre-receive`: refuse any update of the workspace branch that is not a
/// verified fast-forward, and any heartbeat that is not a valid beat of the
/// actor and session its ref names. Code branches are
/// `reservations::guard_code_refs`'s.
pub fn pre_receive<B: Backend>(ws: &Workspace<B>, updates: &[RefUpdate]) -> Result<Vec<Report>> {
    let store = ws.store();
    let branch = format!("refs/heads/{}", store.branch());
    let beats: Vec<&RefUpdate> = updates.iter().filter(|u| u.name.starts_with(crate::layout::LIVE_REFS)).collect();
    if !beats.is_empty() {
        let state = ws.snapshot_for(&crate::index::Need::Core)?.state;
        for u in beats {
            if !crate::liveness::is_live_ref(&u.name) {
                return Err(ReceiveError::NotLiveRef(u.name.clone()).into());
            }
            crate::liveness::check_update(store, &state, &u.name, u.old, u.new)?;
        }
    }
    if let Some(u) = updates.iter().find(|u| u.name.starts_with(crate::fold::FOR_REFS)) {
        if !crate::fold::enabled(store) {
            // Without the fold, the push would leave an unverified ref here.
            return Err(ReceiveError::NoFold(u.name.clone()).into());
        }
    }
    // The marker and the recent tips are the server's own: a pushed marker
    // would send every clone to a fold that is not there.
    if let Some(u) = updates.iter().find(|u| crate::fold::SERVER_REFS.iter().any(|p| u.name.starts_with(p))) {
        return Err(ReceiveError::ServerRef(u.name.clone()).into());
    }
    let mut reports = Vec::new();
    for u in updates.iter().filter(|u| u.name == branch) {
        let Some(new) = u.new else {
            return Err(ConflictError::BranchDeleted { branch }.into());
        };
        let horizon = crate::fold::horizon();
        let report = match u.old {
            None => verify::verify_new(store, None, new, &Base { horizon, server: true, ..Base::default() }, false)?,
            Some(old) => {
                if store.tip()? != Some(old) {
                    // Another push landed since this one was prepared: what it
                    // would add is judged on a tip it was not written on.
                    return Err(ConflictError::StalePush { branch }.into());
                }
                if !store.new_commits(old, new)?.1 {
                    return Err(ConflictError::NotFastForward { branch }.into());
                }
                // The server's own index, brought to its tip (which it
                // accepted, so trusts): the base then comes from the cache and
                // each push costs what it adds, not a rebuild of the history.
                ws.snapshot_for(&crate::index::Need::Core)?;
                // Judged on the tip it was written on: if another push lands
                // meanwhile, git's update of the ref (from `old`) fails anyway.
                let base = Base { horizon, server: true, ..ws.trusted_base_at(old)? };
                let (report, records) = verify::verify_new_records(store, old, new, &base)?;
                if let Some(why) = crate::fold::held_back(ws.local_dir(), &records) {
                    return Err(ConflictError::Fenced(why).into());
                }
                report
            }
        };
        reports.push(report);
    }
    Ok(reports)
}
