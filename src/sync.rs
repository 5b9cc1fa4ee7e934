//! Sync through any git remote: fetch the remote's branch, verify what is new,
//! merge it in process by the union law, and push with compare-and-swap.
//!
//! Transport is the git CLI (`git fetch`, `git push`); everything else happens
//! in process. Heartbeats (`refs/crew/live/…`) travel with every sync: fetched
//! beside the branch, taken when newer, pushed for this machine's sessions. A
//! push that loses the race (the remote moved) fetches, merges
//! and retries with jittered backoff, a bounded number of times. Nothing
//! fetched is merged before it verifies, and a failure leaves the local branch
//! untouched.

use std::process::Command;

use crate::store::Backend;
use crate::store::Oid;

use crate::error::{Error, RemoteError, Result};
use crate::hlc::{Hlc, MAX_COUNTER, MAX_PEER_SKEW_MS};
use crate::index::Need;
use crate::layout::LIVE_REFS;
use crate::liveness;
use crate::record::Payload;
use crate::state::State;
use crate::verify::{self, Base};
use crate::workspace::{Staged, Workspace, Written, MAX_ROUNDS};

/// Back off after a push lost the race. The window in which another clone can
/// win is about one round (fetch, verify, merge, push), so the unit of backoff
/// is the round just lost, not a constant: on a loaded machine or a slow remote
/// rounds are long, and a fixed short backoff would have every clone collide
/// again. Jittered and doubling, as in `workspace::backoff`.
fn back_off(round: usize, started: std::time::Instant) {
    let unit = started.elapsed().max(std::time::Duration::from_millis(20));
    crate::workspace::backoff(round.min(4), unit);
}

/// Wait before pushing again to a folding server that holds this clone back
/// ([`crate::fold::FENCED`]): not a race (the server orders pushes), so the
/// wait does not grow with the round's length, only with how often: up to
/// 1.6 s.
fn held_back(round: usize) {
    crate::workspace::backoff(round.min(4), std::time::Duration::from_millis(100));
}

/// What a sync did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Synced {
    /// The remote synced with.
    pub remote: String,
    /// Records received from the remote that this clone did not have.
    pub received: usize,
    /// Whether the local branch was fast-forwarded to the remote's.
    pub fast_forward: bool,
    /// Whether a merge commit was made.
    pub merged: bool,
    /// Whether the remote was updated.
    pub pushed: bool,
    /// The local tip afterwards.
    pub tip: String,
    /// Rounds needed (more than one when pushes raced).
    pub rounds: usize,
    /// Claims that stopped counting because of what arrived (an offline claim
    /// that lost to an earlier or online one).
    pub lost_claims: Vec<LostClaim>,
    /// Heartbeats of this machine's sessions pushed.
    pub beats_pushed: usize,
    /// Unpublished records of this clone re-made on top of what was
    /// published (they sorted before it).
    pub remade: Vec<crate::rebase::Remade>,
    /// Unpublished records of this clone dropped: they do not count on top
    /// of what was published (a lost claim, a write by a suspended actor).
    pub dropped: Vec<crate::rebase::Dropped>,
    /// Tasks freed because their holder was stopped by what arrived.
    pub freed: Vec<Freed>,
}

/// A task whose holder was stopped (suspended, or its key revoked) by what a
/// sync brought: the claim holds nothing any more, the task is free.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Freed {
    /// The task.
    pub task: String,
    /// Its holder until then.
    pub actor: String,
    /// Who stopped it, when and why.
    pub reason: String,
}

/// A claim that lost, as `sync` reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LostClaim {
    /// The claim record.
    pub claim: String,
    /// Who made it.
    pub actor: String,
    /// Why it does not count.
    pub reason: String,
}

impl Synced {
    fn new(remote: &str) -> Synced {
        Synced {
            remote: remote.to_owned(),
            received: 0,
            fast_forward: false,
            merged: false,
            pushed: false,
            tip: String::new(),
            rounds: 0,
            lost_claims: Vec::new(),
            beats_pushed: 0,
            remade: Vec::new(),
            dropped: Vec::new(),
            freed: Vec::new(),
        }
    }
}

/// The remote claims and syncs use by default: `git config crew.remote`, else
/// `origin` when it is configured; `None` means local only.
pub fn default_remote<B: Backend>(ws: &Workspace<B>) -> Option<String> {
    crate::decode::configured_remote(ws.store())
}

/// Whether `remote` has the workspace branch (`git ls-remote`, bounded by
/// [`REFRESH_TIMEOUT`]). `Err` when it cannot be asked.
pub fn remote_has_branch<B: Backend>(ws: &Workspace<B>, remote: &str) -> Result<bool> {
    let branch = format!("refs/heads/{}", ws.store().branch());
    let mut cmd = git(ws);
    cmd.args(["ls-remote", "--exit-code", remote, &branch]);
    let out = output_within(&mut cmd, REFRESH_TIMEOUT)
        .map_err(|e| RemoteError::LsRemote { remote: remote.to_owned(), message: e.to_string() })?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(2) => Ok(false),
        _ => Err(RemoteError::LsRemote {
            remote: remote.to_owned(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        }
        .into()),
    }
}

/// What a sync compares against to say what it changed: the claims the fold
/// refused and the actors stopped at the local tip before it.
struct Before {
    refused: std::collections::HashSet<crate::id::Id>,
    stopped: std::collections::HashSet<String>,
}

fn before<B: Backend>(ws: &Workspace<B>) -> Before {
    match ws.snapshot_for(&Need::Core) {
        Ok(s) => Before {
            refused: s.state.ignored.iter().filter(|i| i.kind == "task.claim").map(|i| i.id).collect(),
            stopped: s.state.actors.iter().filter(|(_, a)| !a.may_work()).map(|(n, _)| n.clone()).collect(),
        },
        Err(_) => Before { refused: Default::default(), stopped: Default::default() },
    }
}

/// Claims refused now that were not before; tasks whose holder a stop that
/// arrived freed.
fn newly_lost<B: Backend>(ws: &Workspace<B>, before: &Before) -> (Vec<LostClaim>, Vec<Freed>) {
    let Ok(snap) = ws.snapshot_for(&Need::Core) else { return Default::default() };
    let lost = snap
        .state
        .ignored
        .iter()
        .filter(|i| i.kind == "task.claim" && !before.refused.contains(&i.id))
        .map(|i| LostClaim { claim: i.id.hex(), actor: i.author.clone(), reason: i.reason.to_string() })
        .collect();
    let mut freed = Vec::new();
    for (name, actor) in snap.state.actors.iter().filter(|(n, a)| !a.may_work() && !before.stopped.contains(*n)) {
        let reason = match (&actor.suspended, &actor.revoked) {
            (Some(s), _) => format!("{name} is {s}"),
            (None, Some(v)) => format!("the key of {name} is {v}"),
            (None, None) => continue,
        };
        freed.extend(actor.holds.iter().map(|t| Freed { task: t.hex(), actor: name.clone(), reason: reason.clone() }));
    }
    (lost, freed)
}

/// How a push landed.
#[derive(Debug, PartialEq, Eq)]
enum Pushed {
    /// The remote's branch is now the pushed commit.
    Exact,
    /// The remote folded the pushed records onto its branch
    /// ([`crate::fold`]): its tip is a commit this clone has yet to fetch.
    Folded,
}

/// Why a push did not land.
enum PushError {
    /// The remote moved: fetch, merge and try again.
    Raced,
    /// The folding remote could not place a record as it is: fetch, let the
    /// replay re-make or drop it, and push again.
    Retry(String),
    /// The remote does not fold (any more): publish by compare-and-swap.
    Unfolded,
    /// The remote refused for good (its hook declined, or it is unreachable).
    Refused(String),
}

/// Sync the workspace branch with `remote` (a remote name or URL), and carry
/// heartbeats both ways.
pub fn sync<B: Backend>(ws: &Workspace<B>, remote: &str) -> Result<Synced> {
    let _lock = ws.publish_lock(None)?;
    let before = before(ws);
    let out = rounds(ws, remote)?;
    let mut out = finish(ws, &before, out);
    carry_beats(ws, remote, &mut out)?;
    Ok(out)
}

/// [`sync`] of the branch alone (no heartbeats), for a caller that holds the
/// publish [`lock`]: what publishing a write does.
pub(crate) fn sync_branch<B: Backend>(ws: &Workspace<B>, remote: &str) -> Result<Synced> {
    let before = before(ws);
    let out = rounds(ws, remote)?;
    Ok(finish(ws, &before, out))
}

/// Fetch-merge-push rounds until the remote's branch holds this clone's tip.
/// A remote that folds pushes ([`crate::fold`]) takes this clone's records
/// without a race to lose; when this clone fetched a moment ago it is pushed
/// to first, so publishing costs one push and one fetch.
fn rounds<B: Backend>(ws: &Workspace<B>, remote: &str) -> Result<Synced> {
    let mut out = Synced::new(remote);
    let mut folding = folds(ws, remote);
    let mut ahead = if folding && fetched_lately(ws, remote) { unpublished_tip(ws, remote)? } else { None };
    for round in 0..MAX_ROUNDS {
        let started = std::time::Instant::now();
        out.rounds = round + 1;
        let unseen = ahead.is_some();
        let target = match ahead.take() {
            Some(tip) => tip,
            None => match pull(ws, remote, None, &mut out)? {
                Some((target, theirs)) if Some(target) == theirs => return Ok(out),
                Some((target, _)) => target,
                None => continue, // a local writer moved the branch meanwhile
            },
        };
        match push_tip(ws, remote, target, &mut folding) {
            Ok(Pushed::Exact) => {
                out.pushed = true;
                out.tip = target.to_string();
                // What the remote has now, so a writer waiting for the lock
                // sees that this push carried its records.
                ws.store().force_ref(&tracking_ref(ws, remote), target, "git-crew: pushed")?;
                return Ok(out);
            }
            // The next round fetches what the remote made of it.
            Ok(Pushed::Folded) => out.pushed = true,
            Err(PushError::Raced) => back_off(round, started),
            // The server holds this clone back while a suspension of its
            // actor lands: wait, don't spin.
            Err(PushError::Retry(why)) if why.contains(crate::fold::FENCED) => held_back(round),
            Err(PushError::Retry(_) | PushError::Unfolded) => {}
            // Pushed without looking: what the remote has may say why (a
            // suspension of the author, say), so look before giving up.
            Err(PushError::Refused(_)) if unseen => {}
            Err(PushError::Refused(why)) => return Err(RemoteError::Refused(why).into()),
        }
    }
    Err(Error::Contention(MAX_ROUNDS))
}

/// Whether the remote's branch, as this clone last saw it (fetched or
/// pushed), holds every one of `records`.
pub(crate) fn on_remote<B: Backend>(ws: &Workspace<B>, remote: &str, records: &[crate::record::Record]) -> bool {
    // The tracking ref may hold what a fetch brought before it was verified:
    // anything unreadable there is simply not (yet) published.
    let holds = || -> Result<bool> {
        let store = ws.store();
        let Some(tip) = store.ref_target(&tracking_ref(ws, remote))? else { return Ok(false) };
        let tree = store.commit(tip)?.tree;
        let ws_id = crate::decode::workspace_id(store, tree)?;
        for record in records {
            let path = crate::layout::path_of(record);
            let Some(file) = store.read(tree, &path)? else { return Ok(false) };
            let held = crate::record::decode_file_trusted(&file, &ws_id)
                .map_err(|e| crate::record::FileError::new(&path, e))?;
            if !held.iter().any(|r| r.id == record.id) {
                return Ok(false);
            }
        }
        Ok(true)
    };
    holds().unwrap_or(false)
}

/// How long [`refresh`] waits for the remote before answering from the local
/// copy.
pub const REFRESH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Take what `remote` has without publishing anything: one bounded fetch
/// ([`REFRESH_TIMEOUT`]), verified and integrated as `sync` does (this clone's
/// unpublished records are replayed on top, not pushed). For `alive` and
/// `heartbeat`, which must see a suspension the moment it is published.
pub fn refresh<B: Backend>(ws: &Workspace<B>, remote: &str) -> Result<Synced> {
    let _lock = ws.publish_lock(Some(REFRESH_TIMEOUT))?;
    let mut out = Synced::new(remote);
    let before = before(ws);
    for round in 0..MAX_ROUNDS {
        out.rounds = round + 1;
        if pull(ws, remote, Some(REFRESH_TIMEOUT), &mut out)?.is_some() {
            return Ok(finish(ws, &before, out));
        }
    }
    Err(Error::Contention(MAX_ROUNDS))
}

/// One round of taking the remote's branch: fetch it (within `timeout`),
/// verify what is new and fast-forward to it or replay this clone's
/// unpublished commits on top. The local tip it leaves (also in `out.tip`) and
/// the remote's; `None` when a local writer moved the branch meanwhile.
fn pull<B: Backend>(
    ws: &Workspace<B>,
    remote: &str,
    timeout: Option<std::time::Duration>,
    out: &mut Synced,
) -> Result<Option<(Oid, Option<Oid>)>> {
    let store = ws.store();
    let theirs = fetch_within(ws, remote, timeout)?;
    let target = match (store.tip()?, theirs) {
        (None, None) => return Err(Error::no_workspace(store)),
        (None, Some(theirs)) => {
            let base = Base { horizon: peer_horizon(), ..Base::default() };
            let report = verify::verify_new(store, None, theirs, &base, false)?;
            if store.set_tip(None, theirs, "git-crew: sync (initial fetch)").is_err() {
                return Ok(None);
            }
            out.received += report.records;
            out.fast_forward = true;
            theirs
        }
        (Some(ours), None) => ours,
        (Some(ours), Some(theirs)) if ours == theirs => ours,
        (Some(ours), Some(theirs)) => match integrate(ws, ours, theirs, out)? {
            Some(tip) => tip,
            None => return Ok(None),
        },
    };
    out.tip = target.to_string();
    Ok(Some((target, theirs)))
}

/// The end of a sync: report the claims that lost (dropped on replay, or
/// refused now that were not before) and the tasks a stop freed.
fn finish<B: Backend>(ws: &Workspace<B>, before: &Before, mut out: Synced) -> Synced {
    let dropped = out.dropped.iter().filter(|d| d.kind == "task.claim");
    let dropped =
        dropped.map(|d| LostClaim { claim: d.record.clone(), actor: d.author.clone(), reason: d.reason.clone() });
    let (lost, freed) = newly_lost(ws, before);
    out.lost_claims = dropped.chain(lost).collect();
    out.freed = freed;
    out
}

/// Write records as `actor` and publish them on `remote` by compare-and-swap
/// before they count anywhere: fetch and merge the remote's branch, stage the
/// records on top (`build` re-checks them against that state), push without
/// force, and only then move the local branch. A push that lost the race drops
/// the staged commit unpublished and goes around again, so `build` sees what
/// won. This is what makes claims linearizable across clones.
pub fn publish<B: Backend, F>(
    ws: &Workspace<B>,
    remote: &str,
    actor: &str,
    need: &Need,
    mut build: F,
) -> Result<Written>
where
    F: FnMut(&State) -> Result<Vec<Payload>>,
{
    let store = ws.store();
    let _lock = ws.publish_lock(None)?;
    let mut folding = folds(ws, remote);
    for round in 0..MAX_ROUNDS {
        let started = std::time::Instant::now();
        let mut scratch = Synced::new(remote);
        let theirs = fetch(ws, remote)?;
        let ours = store.tip()?.ok_or_else(|| Error::no_workspace(store))?;
        if let Some(theirs) = theirs.filter(|t| *t != ours) {
            if integrate(ws, ours, theirs, &mut scratch)?.is_none() {
                continue;
            }
        }
        let staged = ws.stage(actor, need, &mut build)?;
        match push_tip(ws, remote, staged.written.commit, &mut folding) {
            Ok(pushed) => {
                if pushed == Pushed::Exact {
                    store.force_ref(&tracking_ref(ws, remote), staged.written.commit, "git-crew: pushed")?;
                }
                adopt(ws, &staged)?;
                if pushed == Pushed::Folded {
                    // Published; take the tip it was folded into, so this
                    // clone shows what the others see. Failing that, the next
                    // sync does.
                    let _ = pull(ws, remote, None, &mut scratch);
                }
                return Ok(staged.written);
            }
            Err(PushError::Raced) => back_off(round, started),
            Err(PushError::Retry(why)) if why.contains(crate::fold::FENCED) => held_back(round),
            // The next round fetches what won and builds on it.
            Err(PushError::Retry(_) | PushError::Unfolded) => {}
            Err(PushError::Refused(why)) => return Err(RemoteError::Refused(why).into()),
        }
    }
    Err(Error::Contention(MAX_ROUNDS))
}

/// Move the local branch to a published commit: a fast-forward, or a merge if
/// a local writer moved the branch meanwhile.
fn adopt<B: Backend>(ws: &Workspace<B>, staged: &Staged) -> Result<()> {
    let commit = staged.written.commit;
    match ws.store().set_tip(Some(staged.parent), commit, &staged.reflog()) {
        Ok(()) => {
            let _ = ws.snapshot_for(&Need::Core);
            Ok(())
        }
        Err(crate::store::StoreError::Raced(_)) => integrate_rounds(ws, commit, &mut Synced::new("local")).map(|_| ()),
        Err(e) => Err(e.into()),
    }
}

/// Take `theirs`, a commit whose objects this clone already has (fetched, or
/// copied between two in-memory repositories standing for two clones), into
/// the local branch as a sync does: verify what it adds, then fast-forward
/// to it or replay this clone's unpublished commits on top of it. Nothing is
/// fetched or pushed.
pub fn integrate_commit<B: Backend>(ws: &Workspace<B>, theirs: Oid) -> Result<Synced> {
    let _lock = ws.publish_lock(None)?;
    let before = before(ws);
    let mut out = Synced::new("local");
    out.tip = integrate_rounds(ws, theirs, &mut out)?.to_string();
    Ok(finish(ws, &before, out))
}

/// [`integrate`] until no local writer moves the branch meanwhile.
fn integrate_rounds<B: Backend>(ws: &Workspace<B>, theirs: Oid, out: &mut Synced) -> Result<Oid> {
    let store = ws.store();
    for _ in 0..MAX_ROUNDS {
        let local = store.tip()?.ok_or_else(|| Error::no_workspace(store))?;
        if let Some(tip) = integrate(ws, local, theirs, out)? {
            return Ok(tip);
        }
    }
    Err(Error::Contention(MAX_ROUNDS))
}

/// Verify what `theirs` adds to what both sides have, then fast-forward to
/// it, or replay this clone's unpublished commits on top of it
/// ([`crate::rebase`]). `None` when the local branch moved under us.
fn integrate<B: Backend>(ws: &Workspace<B>, ours: Oid, theirs: Oid, out: &mut Synced) -> Result<Option<Oid>> {
    let store = ws.store();
    let (unpublished, theirs_in_ours) = store.new_commits_exact(theirs, ours)?;
    let Some((tip, base)) = ws.trusted_base()? else { return Ok(None) };
    if tip != ours {
        return Ok(None);
    }
    let (base, ours_added) =
        if unpublished.is_empty() { (base, Default::default()) } else { without(ws, base, &unpublished)? };
    let base = Base { horizon: peer_horizon(), ..base };
    if theirs_in_ours {
        // Nothing new over there. What we are about to publish must pass what
        // the server checks (a plain `git merge` may have joined appends to
        // one file); if it does not, it is replayed on top instead.
        if verify::verify_range(store, ours, unpublished.clone(), &base).is_ok() {
            return Ok(Some(ours));
        }
    }
    let (fresh, _) = store.new_commits(ours, theirs)?;
    let (_, new) = verify::verify_range(store, theirs, fresh, &base)?;
    let (mut dropped, mut remade) = (Vec::new(), Vec::new());
    let target = if unpublished.is_empty() {
        theirs
    } else {
        let ws_id = base.workspace.unwrap_or_default();
        let published: std::collections::HashSet<crate::id::Id> =
            base.records.iter().chain(&new).map(|r| r.id).collect();
        let state = crate::state::State::fold(ws_id, base.records.iter().chain(&new));
        let replayed =
            crate::rebase::replay(ws, theirs, state, &published, &unpublished, crate::rebase::Remake::Allowed)?;
        (dropped, remade) = (replayed.dropped, replayed.remade);
        replayed.tip
    };
    match store.set_tip(Some(ours), target, "git-crew: sync") {
        Ok(()) => {
            // Off the branch now: their authors hear of it in their inboxes,
            // and writers waiting to publish them learn what became of them.
            ws.note_dropped(&dropped)?;
            crate::rebase::note_remakes(ws, &remade)?;
            out.dropped.extend(dropped);
            out.remade.extend(remade);
            // A folding remote sends this clone's own records back.
            out.received += new.iter().filter(|r| !ours_added.contains(&r.id)).count();
            out.fast_forward |= unpublished.is_empty();
            out.merged |= !unpublished.is_empty();
            Ok(Some(target))
        }
        Err(crate::store::StoreError::Raced(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The latest date a fetched record may carry: this clock plus
/// [`MAX_PEER_SKEW_MS`].
fn peer_horizon() -> Option<Hlc> {
    Some(Hlc { ms: Hlc::now().ms.saturating_add(MAX_PEER_SKEW_MS), counter: MAX_COUNTER })
}

/// The trusted base at `ours` without what `unpublished` (commits of ours the
/// remote does not have) added: what both sides have.
fn without<B: Backend>(
    ws: &Workspace<B>,
    base: Base,
    unpublished: &[crate::store::CommitInfo],
) -> Result<(Base, std::collections::HashSet<crate::id::Id>)> {
    let ws_id = base.workspace.unwrap_or_default();
    let added = verify::records_added(ws.store(), &ws_id, unpublished)?;
    let inside: std::collections::HashSet<Oid> = unpublished.iter().map(|c| c.id).collect();
    let mut forks = unpublished.iter().flat_map(|c| c.parents.iter()).filter(|p| !inside.contains(*p));
    let tip = match (forks.next(), forks.next()) {
        (Some(one), None) => Some(*one),
        _ => None,
    };
    let base = Base {
        records: base.records.into_iter().filter(|r| !added.contains(&r.id)).collect(),
        ignored: base.ignored.into_iter().filter(|id| !added.contains(id)).collect(),
        tip,
        ..base
    };
    Ok((base, added))
}

/// A remote as one ref name component: its name, or a hash of its URL.
fn remote_component(remote: &str) -> String {
    let plain = !remote.is_empty() && remote.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if plain {
        remote.to_owned()
    } else {
        crate::id::hex(&sha2_16(remote))
    }
}

/// The remote-tracking ref a sync fetches into.
fn tracking_ref<B: Backend>(ws: &Workspace<B>, remote: &str) -> String {
    format!("refs/crew/remotes/{}/{}", remote_component(remote), ws.store().branch())
}

/// Where a sync fetches the remote's fold marker ([`crate::fold::MARKER`]) to.
fn remote_fold_prefix(remote: &str) -> String {
    format!("refs/crew/remote-fold/{}/", remote_component(remote))
}

/// How recently this clone must have fetched from a folding remote to push
/// to it first: the remote's recent tips ([`crate::fold::TIPS`]) then still
/// hold the tip it has, so git sends only what is new.
const PUSH_FIRST_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The file whose time says when this clone last fetched from `remote`.
fn fetched_stamp<B: Backend>(ws: &Workspace<B>, remote: &str) -> std::path::PathBuf {
    ws.local_dir().join("fetched").join(remote_component(remote))
}

/// Whether this clone fetched from `remote` within [`PUSH_FIRST_WITHIN`].
fn fetched_lately<B: Backend>(ws: &Workspace<B>, remote: &str) -> bool {
    let modified = std::fs::metadata(fetched_stamp(ws, remote)).and_then(|m| m.modified());
    modified.is_ok_and(|t| t.elapsed().is_ok_and(|age| age < PUSH_FIRST_WITHIN))
}

/// Where a sync fetches the remote's heartbeats to.
fn remote_live_prefix(remote: &str) -> String {
    format!("refs/crew/remote-live/{}/", remote_component(remote))
}

/// Carry heartbeats both ways after the branch is in sync: take each fetched
/// beat that is valid and newer than ours, then push the beats of sessions
/// whose actor's key is on this machine where the remote's differ. Beats are
/// overwritten by design, so their refs are forced; the server's hook accepts
/// a beat only from the actor it names.
fn carry_beats<B: Backend>(ws: &Workspace<B>, remote: &str, out: &mut Synced) -> Result<()> {
    let store = ws.store();
    let state = ws.snapshot_for(&Need::Core)?.state;
    let prefix = remote_live_prefix(remote);
    let theirs: std::collections::HashMap<String, Oid> = store
        .refs_under(&prefix)?
        .into_iter()
        .map(|(name, oid)| (format!("{LIVE_REFS}{}", &name[prefix.len()..]), oid))
        .collect();
    for (name, oid) in &theirs {
        let Ok(fetched) = liveness::read_beat(store, &state, name, *oid) else { continue };
        let newer = match store.ref_target(name)? {
            Some(mine) if mine == *oid => false,
            Some(mine) => liveness::read_beat(store, &state, name, mine).map_or(true, |m| m.at < fetched.at),
            None => true,
        };
        if newer {
            store.force_ref(name, *oid, "git-crew: sync heartbeat")?;
        }
    }
    let mine: Vec<String> = store
        .refs_under(LIVE_REFS)?
        .into_iter()
        .filter(|(name, oid)| theirs.get(name) != Some(oid))
        .filter(|(name, _)| {
            let actor = name[LIVE_REFS.len()..].split('/').next().unwrap_or_default();
            ws.keys().has(&state.workspace, actor)
        })
        .filter(|(name, oid)| liveness::read_beat(store, &state, name, *oid).is_ok())
        .map(|(name, oid)| format!("+{oid}:{name}"))
        .collect();
    if mine.is_empty() {
        return Ok(());
    }
    let pushed = git(ws).args(["push", "--porcelain", "--no-verify", remote]).args(&mine).output();
    let pushed = pushed.map_err(RemoteError::NoGit)?;
    if pushed.status.success() {
        out.beats_pushed = mine.len();
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&pushed.stderr);
        Err(RemoteError::HeartbeatsRefused(stderr.trim().to_owned()).into())
    }
}

fn sha2_16(s: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())[..8].to_vec()
}

/// Fetch the remote's branch; `None` if the remote has no such branch.
pub(crate) fn fetch<B: Backend>(ws: &Workspace<B>, remote: &str) -> Result<Option<Oid>> {
    fetch_within(ws, remote, None)
}

/// [`fetch`], giving up after `timeout` (the fetch is killed) when one is set.
fn fetch_within<B: Backend>(
    ws: &Workspace<B>,
    remote: &str,
    timeout: Option<std::time::Duration>,
) -> Result<Option<Oid>> {
    let store = ws.store();
    let tracking = tracking_ref(ws, remote);
    let refspec = format!("+refs/heads/{}:{tracking}", store.branch());
    let live = format!("+{LIVE_REFS}*:{}*", remote_live_prefix(remote));
    let marker = format!("+{}*:{}*", crate::fold::MARKER_REFS, remote_fold_prefix(remote));
    let mut cmd = git(ws);
    // No `git maintenance run --auto` after every fetch: an agent fetches
    // several times a minute, and a process spawned each time for a check
    // that almost never fires is a cost the whole fleet pays. The clone's own
    // git commands (commit, merge, pull) still run it.
    cmd.args(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-auto-maintenance"]);
    cmd.args([remote, &refspec, &live, &marker]);
    let out = match timeout {
        Some(t) => output_within(&mut cmd, t),
        None => cmd.output(),
    };
    let out = out.map_err(|e| Error::Unreachable { remote: remote.to_owned(), ran: false, message: e.to_string() })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("couldn't find remote ref") {
            return Ok(None);
        }
        return Err(Error::Unreachable { remote: remote.to_owned(), ran: true, message: first_line(&stderr) });
    }
    let stamp = fetched_stamp(ws, remote);
    // A missing stamp only means the next publish fetches before it pushes.
    let _ = stamp.parent().map(std::fs::create_dir_all);
    let _ = std::fs::write(&stamp, b"");
    Ok(store.ref_target(&tracking)?)
}

/// Push `tip`: to be folded when the remote folds (`folding`, cleared if it
/// turns out not to), else to the remote's branch, fast-forward only.
fn push_tip<B: Backend>(ws: &Workspace<B>, remote: &str, tip: Oid, folding: &mut bool) -> Result<Pushed, PushError> {
    if !*folding {
        return push_as(ws, remote, tip, None).map(|()| Pushed::Exact);
    }
    let pushed = push_fold(ws, remote, tip);
    if let Err(PushError::Unfolded) = pushed {
        *folding = false;
        forget_fold(ws, remote);
    }
    pushed
}

/// The local tip when it is not the remote's as last fetched.
fn unpublished_tip<B: Backend>(ws: &Workspace<B>, remote: &str) -> Result<Option<Oid>> {
    let store = ws.store();
    let ours = store.tip()?.ok_or_else(|| Error::no_workspace(store))?;
    Ok((store.ref_target(&tracking_ref(ws, remote))? != Some(ours)).then_some(ours))
}

/// Whether `remote` folds pushes: its marker came with the last fetch.
fn folds<B: Backend>(ws: &Workspace<B>, remote: &str) -> bool {
    let marker = format!("{}{}", remote_fold_prefix(remote), &crate::fold::MARKER[crate::fold::MARKER_REFS.len()..]);
    ws.store().ref_target(&marker).ok().flatten().is_some()
}

/// Stop pushing to `remote` to be folded: drop its marker, and the plain ref
/// a push there may have left (best effort: nothing depends on it).
fn forget_fold<B: Backend>(ws: &Workspace<B>, remote: &str) {
    let store = ws.store();
    for (name, _) in store.refs_under(&remote_fold_prefix(remote)).unwrap_or_default() {
        let _ = store.delete_ref(&name);
    }
    let stray = format!(":{}{}", crate::fold::FOR_REFS, store.branch());
    let _ = git(ws).args(["push", "--quiet", "--no-verify", remote, &stray]).output();
}

/// Push `tip` to `refs/crew/for/<branch>` for the remote to fold, and read
/// its answer from git's porcelain status line: the branch's new tip, or
/// `ng` with the reason.
fn push_fold<B: Backend>(ws: &Workspace<B>, remote: &str, tip: Oid) -> Result<Pushed, PushError> {
    let branch = ws.store().branch();
    let pseudo = format!("{}{branch}", crate::fold::FOR_REFS);
    let mut cmd = git(ws);
    cmd.args(["push", "--porcelain", "--no-verify", remote, &format!("{tip}:{pseudo}")]);
    let out = cmd.output().map_err(|e| PushError::Refused(format!("cannot run git push: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = stdout.lines().find_map(|l| {
        let mut fields = l.split('\t');
        let (flag, refs, summary) = (fields.next()?, fields.next()?, fields.next().unwrap_or_default());
        Some((flag, refs.split_once(':')?.1, summary))
    });
    // A refusal names the pseudo-ref (no refname comes with an `ng`), so the
    // refusals are told apart first; the pseudo-ref itself as a result means
    // the remote took it as a plain ref: it does not fold.
    match status {
        Some(("!", _, summary)) if summary.contains("(retry:") => Err(PushError::Retry(summary.to_owned())),
        Some(("!", _, _)) if stderr.contains("does not fold pushes") => Err(PushError::Unfolded),
        Some(("!", _, summary)) if summary.contains("proc-receive") => Err(PushError::Unfolded),
        Some((flag, dst, _)) if flag != "!" && dst == pseudo => Err(PushError::Unfolded),
        Some(("!", _, summary)) => Err(PushError::Refused(format!(
            "the remote refused the push: {summary}{}",
            remote_says(&stderr).map(|r| format!(": {r}")).unwrap_or_default()
        ))),
        Some((_, dst, summary)) if dst == format!("refs/heads/{branch}") => {
            let new = summary.rsplit("..").next().unwrap_or_default();
            let exact = new.len() >= 7 && tip.to_string().starts_with(new);
            Ok(if exact { Pushed::Exact } else { Pushed::Folded })
        }
        _ => Err(PushError::Refused(format!("git push {remote} gave no status for {pseudo}: {}", stderr.trim()))),
    }
}

/// The first line git wrote: what went wrong ("fatal: … does not appear to
/// be a git repository"), without the advice that follows it, so a warning
/// or an error stays one line.
fn first_line(stderr: &str) -> String {
    stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message").to_owned()
}

/// What the remote's hooks said (`remote:` lines), if anything.
fn remote_says(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().filter_map(|l| l.strip_prefix("remote: ")).map(str::trim_end).collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Replace the remote's branch by `tip` if it is still at `expected`
/// (`--force-with-lease`): what `repair` does, never `sync`.
pub(crate) fn force_push<B: Backend>(ws: &Workspace<B>, remote: &str, tip: Oid, expected: Oid) -> Result<()> {
    push_as(ws, remote, tip, Some(expected)).map_err(|e| match e {
        PushError::Raced => RemoteError::Moved { expected }.into(),
        PushError::Refused(why) | PushError::Retry(why) => RemoteError::Refused(why).into(),
        PushError::Unfolded => RemoteError::Unfolded.into(),
    })
}

fn push_as<B: Backend>(ws: &Workspace<B>, remote: &str, tip: Oid, lease: Option<Oid>) -> Result<(), PushError> {
    let branch = format!("refs/heads/{}", ws.store().branch());
    let refspec = format!("{tip}:{branch}");
    // Our own pre-push hook would re-verify what this clone already trusts.
    let mut cmd = git(ws);
    cmd.args(["push", "--porcelain", "--no-verify"]);
    if let Some(expected) = lease {
        cmd.arg(format!("--force-with-lease={branch}:{expected}"));
    }
    let out =
        cmd.args([remote, &refspec]).output().map_err(|e| PushError::Refused(format!("cannot run git push: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lost_race = stdout.lines().any(|l| l.starts_with('!') && !l.contains("remote rejected"))
        && (stdout.contains("fetch first") || stdout.contains("non-fast-forward") || stdout.contains("stale info"));
    // A ref lock held by a concurrent push on the remote is a lost race too,
    // and so is our server's word that another push landed first.
    let locked =
        stdout.contains("failed to lock") || stderr.contains("cannot lock ref") || stderr.contains("stale push:");
    if lost_race || locked {
        Err(PushError::Raced)
    } else {
        let why = remote_says(&stderr).unwrap_or_else(|| stderr.trim().to_owned());
        Err(PushError::Refused(format!("the remote refused the push: {why}")))
    }
}

/// Run `cmd` to completion, or kill it after `timeout` (a `TimedOut` error).
/// Its output must be small (it is read once it exits), as git's is with
/// `--quiet`.
fn output_within(cmd: &mut Command, timeout: std::time::Duration) -> std::io::Result<std::process::Output> {
    use std::process::Stdio;
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let deadline = std::time::Instant::now() + timeout;
    while child.try_wait()?.is_none() {
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let why = format!("no answer within {} s", timeout.as_secs());
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, why));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.wait_with_output()
}

fn git<B: Backend>(ws: &Workspace<B>) -> Command {
    // Run where the user would, so relative remote URLs resolve as in git.
    let mut cmd = Command::new("git");
    match ws.store().backend().command_dir() {
        Some(dir) => cmd.current_dir(dir),
        // A repository git cannot see (in memory) has no remotes: git is
        // pointed at a repository that does not exist, so every fetch or push
        // fails with git's own "not a git repository" (and never reaches a
        // repository that happens to enclose the local directory), and no
        // transport is allowed (`ls-remote` needs no repository).
        None => cmd
            .current_dir(ws.local_dir())
            .env("GIT_DIR", ws.local_dir().join("no-repository"))
            .env("GIT_ALLOW_PROTOCOL", "none"),
    };
    // `LC_ALL=C`: the push and fetch outcomes are told apart by git's
    // messages ("stale info", "cannot lock ref"…), which are translated
    // under other locales.
    cmd.env("GIT_TERMINAL_PROMPT", "0").env("LC_ALL", "C");
    cmd
}

/// Keep following the branch until `stop` is set: call `on_tip(old, new)` at
/// once for the current tip, whenever it moves (polled every 100 ms, so local
/// writes show at once) and at least every second with `old == Some(new)` (for
/// what changes with time alone, like leases and sessions), and with a remote,
/// sync with it every `interval`.
/// With `beat`, the session beats (and renews its actor's leases) every
/// [`liveness::Beating::interval`], before the sync that carries the beat, and ends
/// with an `ended` beat. A failed sync or beat is passed to `on_error` and
/// tried again next interval; an error from `on_tip` ends the loop.
pub fn follow<B: Backend, T, E>(
    ws: &Workspace<B>,
    remote: Option<(&str, std::time::Duration)>,
    beat: Option<&liveness::Beating>,
    stop: &std::sync::atomic::AtomicBool,
    mut on_tip: T,
    mut on_error: E,
) -> Result<()>
where
    T: FnMut(Option<Oid>, Oid) -> Result<()>,
    E: FnMut(&Error),
{
    use std::sync::atomic::Ordering;
    use std::time::Instant;
    let due = |last: Option<Instant>, every: std::time::Duration| last.is_none_or(|t| t.elapsed() >= every);
    let mut last: Option<Oid> = None;
    let (mut synced, mut beaten, mut ticked): (Option<Instant>, Option<Instant>, Option<Instant>) = (None, None, None);
    while !stop.load(Ordering::SeqCst) {
        let mut sync_now = remote.is_some_and(|(_, interval)| due(synced, interval));
        if let Some(b) = beat.filter(|b| due(beaten, b.interval())) {
            let beaten_ok = ws.beat(b, false).and_then(|_| ws.renew_leases(&b.actor));
            if let Err(e) = beaten_ok {
                on_error(&e);
            }
            beaten = Some(Instant::now());
            sync_now |= remote.is_some();
        }
        if let Some((remote, _)) = remote.filter(|_| sync_now) {
            if let Err(e) = sync(ws, remote) {
                on_error(&e);
            }
            synced = Some(Instant::now());
        }
        if let Some(tip) = ws.store().tip()? {
            if Some(tip) != last || due(ticked, std::time::Duration::from_secs(1)) {
                on_tip(last, tip)?;
                last = Some(tip);
                ticked = Some(Instant::now());
            }
        }
        for _ in 0..10 {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    if let Some(b) = beat {
        // The session ends here and says so, so it stops counting at once.
        let ended = ws.beat(b, true).map(|_| ());
        let carried = ended.and_then(|()| match remote {
            Some((remote, _)) => sync(ws, remote).map(|_| ()),
            None => Ok(()),
        });
        if let Err(e) = carried {
            on_error(&e);
        }
    }
    Ok(())
}
