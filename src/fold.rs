//! The server's side of publishing: folding pushed records into the branch.
//!
//! A plain push to the workspace branch is a compare-and-swap on one ref:
//! when many clones publish at once, all but one of the racing pushes is
//! wasted, and each loser fetches, merges and tries again. A server with
//! git-crew's hooks does better. A clone pushes its tip to the pseudo-ref
//! [`FOR_REFS`]`<branch>`; git hands such pushes to the `proc-receive` hook
//! ([`proc_receive`]), which folds them one at a time, under the server's
//! lock, onto the branch as it is at that moment ([`fold`]): the records the
//! push adds are appended byte for byte by the same replay a syncing clone
//! uses, and the result is verified exactly as a plain push would be. The
//! server is thus the linearization point of the workspace: a claim folds if
//! its task is free at that moment and is refused otherwise, and the push's
//! answer names the new tip, or why not.
//!
//! Invariants:
//! - the branch only ever moves by a verified fast-forward: the fold's commits
//!   sit on the tip read under the lock, and the ref moves by compare-and-swap
//!   (plain pushes may still land beside folds);
//! - a push folds whole or not at all, and the server never signs or re-makes
//!   a record (it holds no keys): a record that does not fit as it is goes
//!   back with a `retry` answer, and its clone re-makes it on the tip it
//!   fetches and pushes again;
//! - a server says it folds with the ref [`MARKER`], fetched with the branch:
//!   a clone pushes to the pseudo-ref only after seeing it, so a remote
//!   without the hook (hosted git) keeps working by compare-and-swap;
//! - the last [`TIPS_KEPT`] tips stay advertised under [`TIPS`], so a clone
//!   that pushes without fetching first still sends only what is new.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::store::Backend;
use crate::store::Oid;

use crate::error::{Error, ProtocolError, Result};
use crate::hlc::{Hlc, MAX_SKEW_MS};
use crate::rebase::{self, Remake};
use crate::record::Payload;
use crate::store::{Store, StoreError};
use crate::verify::{self, Base};
use crate::workspace::Workspace;

/// Where clones push what the server should fold: `refs/crew/for/<branch>`.
/// Never a real ref on a folding server.
pub const FOR_REFS: &str = "refs/crew/for/";
/// What clones fetch to learn whether the server folds.
pub const MARKER_REFS: &str = "refs/crew/fold/";
/// The server folds pushes, with this protocol.
pub const MARKER: &str = "refs/crew/fold/v1";
/// The recent tips of the branch, advertised to pushers.
pub const TIPS: &str = "refs/crew/tips/";
/// The refs only the server writes.
pub const SERVER_REFS: &[&str] = &[MARKER_REFS, TIPS];
/// How many recent tips [`TIPS`] keeps: at tens of folds a second, the tips
/// of the last few seconds, which a clone that synced then still has.
pub const TIPS_KEPT: u64 = 128;

/// A push folded into the branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folded {
    /// The branch before (`None`: the push created it).
    pub old: Option<Oid>,
    /// The branch after: the pushed commit itself when it fast-forwarded, else
    /// the server's commits on top of `old`; `old` when nothing was new.
    pub new: Oid,
    /// Records the fold added.
    pub records: usize,
}

/// The server's answer to one push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Folded into the branch.
    Folded(Folded),
    /// Not folded, and nothing written: a record does not fit on the branch as
    /// it is now (it sorts before what was published since, or does not count
    /// there, like a claim on a task that is now held). The clone should take
    /// the tip, let its own replay re-make or drop the record, and push again.
    Retry(String),
}

/// Fold the records `pushed` adds into the workspace branch, as one step
/// under the server's lock. `Err` is a refusal for good (the push does not
/// verify), `Retry` a refusal of this order of events.
pub fn fold<B: Backend>(ws: &Workspace<B>, pushed: Oid) -> Result<Answer> {
    // A blocking wait: the kernel hands the lock to a waiter the moment it is
    // free, where polling would leave it idle between folds and burn the CPU
    // the folds need. The fold itself touches only local disk.
    let _lock = ws.publish_lock(None)?;
    let store = ws.store();
    // Plain pushes may move the branch beside us (they take no lock): their
    // compare-and-swap or ours fails, and the loser looks again.
    for _ in 0..crate::workspace::MAX_ROUNDS {
        let Some(tip) = store.tip()? else {
            let base = Base { horizon: horizon(), server: true, ..Base::default() };
            let report = verify::verify_new(store, None, pushed, &base, false)?;
            match moved(store, None, pushed)? {
                true => return Ok(Answer::Folded(Folded { old: None, new: pushed, records: report.records })),
                false => continue,
            }
        };
        let (commits, fast_forward) = store.new_commits_exact(tip, pushed)?;
        if commits.is_empty() {
            return Ok(Answer::Folded(Folded { old: Some(tip), new: tip, records: 0 }));
        }
        let Some((snap, base)) = ws.trusted_tip()? else { continue };
        if snap.tip != tip {
            continue;
        }
        let base = Base { horizon: horizon(), server: true, ..base };
        let new = if fast_forward {
            pushed
        } else {
            let published = base.records.iter().map(|r| r.id).collect();
            let replayed = rebase::replay(ws, tip, snap.state, &published, &commits, Remake::Never)?;
            // What cannot even be read is refused for good; what does not
            // fit the tip as it is goes back to its author.
            let unreadable = replayed.dropped.iter().find(|d| d.stored.is_empty());
            if unreadable.is_none() {
                for target in replayed.dropped.iter().filter_map(|d| d.late_suspension_of.as_deref()) {
                    // Best effort: without the fence the suspension still
                    // lands, only later.
                    let _ = fence(ws.local_dir(), target);
                }
            }
            if let Some(d) = unreadable.or(replayed.dropped.first()) {
                return match unreadable {
                    Some(_) => Err(Error::Unfoldable {
                        record: d.record.clone(),
                        kind: d.kind.clone(),
                        author: d.author.clone(),
                        reason: d.reason.clone(),
                    }),
                    None => {
                        let what = if d.record.is_empty() {
                            String::new()
                        } else {
                            format!("{} {} by {}: ", d.kind, d.record, d.author)
                        };
                        Ok(Answer::Retry(format!("{what}{}", d.reason)))
                    }
                };
            }
            replayed.tip
        };
        if new == tip {
            return Ok(Answer::Folded(Folded { old: Some(tip), new: tip, records: 0 }));
        }
        let (report, records) = verify::verify_new_records(store, tip, new, &base)?;
        if let Some(why) = held_back(ws.local_dir(), &records) {
            return Ok(Answer::Retry(why));
        }
        if moved(store, Some(tip), new)? {
            for r in &records {
                if let Payload::ActorSuspend(s) = &r.payload {
                    let _ = unfence(ws.local_dir(), &s.name);
                }
            }
            // Published: the ring of recent tips only saves clones bytes, so
            // failing to note the tip must not turn the answer into a refusal.
            let _ = keep_tip(store, ws.local_dir(), new);
            return Ok(Answer::Folded(Folded { old: Some(tip), new, records: report.records }));
        }
    }
    Err(Error::Contention(crate::workspace::MAX_ROUNDS))
}

/// The latest date the server accepts on a record: its clock plus the skew it
/// allows.
pub(crate) fn horizon() -> Option<Hlc> {
    Some(Hlc { ms: Hlc::now().ms.saturating_add(MAX_SKEW_MS), counter: u32::MAX })
}

/// How long the fold holds back the pushes of an actor whose suspension it
/// just sent back for not having seen its latest records.
const FENCE_MS: i64 = 10_000;

/// A suspension must have seen every record its target published (else it
/// would void published records), so the fold sends it back when the target
/// published since. A busy agent publishing every few seconds, against a fold
/// queue of seconds, could keep its suspension bouncing for minutes; so the
/// fold fences the target: its pushes are answered "retry" for [`FENCE_MS`],
/// or until the suspension lands, and the re-made suspension lands on its next
/// try. Only a suspension that counts sets a fence (signed by an admin or
/// the target's owner), and a running fence is never extended, so a
/// suspension pushed again and again holds its target back at most
/// [`FENCE_MS`] at a time. Fences keep the machine's own time (no skew).
fn fence(local: &Path, actor: &str) -> Result<()> {
    if fenced(local, actor) {
        return Ok(());
    }
    let path = fence_path(local, actor);
    let io = |source| Error::Io { what: format!("cannot write the fence {}", path.display()), source };
    std::fs::create_dir_all(path.parent().unwrap_or(&path)).map_err(io)?;
    std::fs::write(&path, format!("{}\n", system_ms().saturating_add(FENCE_MS))).map_err(io)
}

fn system_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Whether `actor`'s pushes are held back by a [`fence`] that has not run out.
fn fenced(local: &Path, actor: &str) -> bool {
    let until = std::fs::read_to_string(fence_path(local, actor)).ok().and_then(|s| s.trim().parse::<i64>().ok());
    until.is_some_and(|until| system_ms() < until)
}

/// Why a push adding `records` must wait: one is by an actor whose
/// suspension is landing. The fold answers it "retry"; the server's
/// `pre-receive` refuses a plain push of it, so the fence holds either way.
pub(crate) fn held_back(local: &Path, records: &[crate::record::Record]) -> Option<String> {
    if !fences(local).is_dir() {
        return None;
    }
    // One look per author, not per record.
    let authors: std::collections::BTreeSet<&str> = records.iter().map(|r| r.author.as_str()).collect();
    let author = authors.into_iter().find(|a| fenced(local, a))?;
    let r = records.iter().find(|r| r.author == author)?;
    Some(format!("{} {} by {}: {FENCED}; retry after it", r.kind(), r.id.short(), r.author))
}

/// What a fenced push is told, which its client recognises to wait instead of
/// pushing again at once.
pub(crate) const FENCED: &str = "a suspension of its author is landing";

fn unfence(local: &Path, actor: &str) -> std::io::Result<()> {
    std::fs::remove_file(fence_path(local, actor))
}

fn fences(local: &Path) -> PathBuf {
    local.join("fences")
}

/// Actor names are hex-encoded: a file name whatever the name holds.
fn fence_path(local: &Path, actor: &str) -> PathBuf {
    fences(local).join(crate::id::hex(actor.as_bytes()))
}

/// Move the branch from `old` to `new`; `false` if something else moved it.
fn moved<B: Backend>(store: &Store<B>, old: Option<Oid>, new: Oid) -> Result<bool> {
    match store.set_tip(old, new, "git-crew: fold") {
        Ok(()) => Ok(true),
        Err(StoreError::Raced(_)) => Ok(false),
        // A plain push holding the branch's lock is a race too: look again.
        Err(StoreError::Git { message, .. }) if message.to_ascii_lowercase().contains("lock") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Advertise `tip` among the recent tips, in the slot after the last one
/// written (a counter kept beside the lock).
fn keep_tip<B: Backend>(store: &Store<B>, local: &Path, tip: Oid) -> Result<()> {
    let path = local.join("tips.next");
    let slot = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(0) % TIPS_KEPT;
    store.force_ref(&format!("{TIPS}{slot:03}"), tip, "git-crew: fold")?;
    std::fs::write(&path, format!("{}\n", slot + 1))
        .map_err(|source| Error::Io { what: format!("cannot write {}", path.display()), source })
}

/// Make `store`'s repository fold pushes: git hands pushes to [`FOR_REFS`] to
/// the `proc-receive` hook, and [`MARKER`] tells clones so.
pub fn enable<B: Backend>(store: &Store<B>) -> Result<()> {
    store.set_config(&[("receive", None, "procReceiveRefs", FOR_REFS.trim_end_matches('/'))])?;
    let marker = store.write_blob(b"git-crew folds pushes to refs/crew/for/<branch> (protocol 1)\n")?;
    store.force_ref(MARKER, marker, "git-crew: install --server")?;
    Ok(())
}

/// Whether this server folds pushes (`install --server` configured it).
pub fn enabled<B: Backend>(store: &Store<B>) -> bool {
    store
        .config_string("receive.procReceiveRefs")
        .is_some_and(|v| v.trim_end_matches('/') == FOR_REFS.trim_end_matches('/'))
}

/// One command git hands the hook.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Command {
    new: Option<Oid>,
    name: String,
}

/// What became of one pushed ref, for the hook to report on stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The pseudo-ref pushed to.
    pub name: String,
    /// What the server answered.
    pub answer: std::result::Result<Answer, String>,
}

impl Outcome {
    /// One line saying what became of the push.
    pub fn summary(&self) -> String {
        match &self.answer {
            Ok(Answer::Folded(f)) if f.old == Some(f.new) => format!("{}: nothing new to fold", self.name),
            Ok(Answer::Folded(f)) => {
                format!("{}: folded {} record(s); the branch is at {}", self.name, f.records, f.new)
            }
            Ok(Answer::Retry(why)) => format!("{}: not folded, take the tip and push again: {why}", self.name),
            Err(why) => format!("{}: refused: {why}", self.name),
        }
    }
}

/// Speak git's `proc-receive` protocol (see githooks(5)) on `input` and
/// `output`: take the pushed commands, fold each, and answer each: `ok` with
/// the branch's name and new tip, or `ng` with the reason (`retry: …` when
/// the clone should take the tip and push again).
pub fn proc_receive<B: Backend>(
    ws: &Workspace<B>,
    input: &mut impl BufRead,
    output: &mut impl Write,
) -> Result<Vec<Outcome>> {
    let version = read_section(input)?;
    if version.first().is_none_or(|l| l.split('\0').next() != Some("version=1")) {
        return Err(ProtocolError::Version.into());
    }
    write_pkt(output, "version=1")?;
    flush_pkt(output)?;
    let mut commands = Vec::new();
    for line in read_section(input)? {
        match line.split(' ').collect::<Vec<_>>().as_slice() {
            [_, new, name] => {
                let new = Oid::from_lower_hex(new).ok_or_else(|| ProtocolError::CommandObjectId(line.clone()))?;
                commands.push(Command { new: (!new.is_null()).then_some(new), name: (*name).to_owned() });
            }
            _ => return Err(ProtocolError::Command(line).into()),
        }
    }
    let branch = format!("{FOR_REFS}{}", ws.store().branch());
    let mut outcomes = Vec::new();
    for c in commands {
        let answer = match c.new {
            _ if c.name != branch => {
                Err(format!("{} is not {branch}: this server folds only into its workspace branch", c.name))
            }
            None => Err(format!("{} cannot be deleted", c.name)),
            Some(new) => fold(ws, new).map_err(|e| e.to_string()),
        };
        match &answer {
            Ok(Answer::Folded(f)) => {
                write_pkt(output, &format!("ok {}", c.name))?;
                write_pkt(output, &format!("option refname refs/heads/{}", ws.store().branch()))?;
                if let Some(old) = f.old {
                    write_pkt(output, &format!("option old-oid {old}"))?;
                }
                write_pkt(output, &format!("option new-oid {}", f.new))?;
            }
            Ok(Answer::Retry(why)) => write_pkt(output, &format!("ng {} retry: {}", c.name, one_line(why)))?,
            Err(why) => write_pkt(output, &format!("ng {} {}", c.name, one_line(why)))?,
        }
        outcomes.push(Outcome { name: c.name, answer });
    }
    flush_pkt(output)?;
    Ok(outcomes)
}

/// `s` on one line, cut to fit a pkt-line with room to spare.
fn one_line(s: &str) -> String {
    let line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(1000) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// The pkt-lines up to the next flush, without their trailing newline.
fn read_section(input: &mut impl BufRead) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    while let Some(line) = read_pkt(input)? {
        lines.push(line);
    }
    Ok(lines)
}

/// One pkt-line; `None` for a flush.
fn read_pkt(input: &mut impl BufRead) -> Result<Option<String>> {
    let io = |source| Error::Io { what: "reading from git receive-pack".into(), source };
    let mut len = [0u8; 4];
    input.read_exact(&mut len).map_err(io)?;
    let len = std::str::from_utf8(&len)
        .ok()
        .and_then(|s| usize::from_str_radix(s, 16).ok())
        .ok_or_else(|| ProtocolError::PktLengthNotHex(String::from_utf8_lossy(&len).into_owned()))?;
    if len == 0 {
        return Ok(None);
    }
    if !(4..=65520).contains(&len) {
        return Err(ProtocolError::PktLengthOutOfRange(len).into());
    }
    let mut payload = vec![0u8; len - 4];
    input.read_exact(&mut payload).map_err(io)?;
    let text = String::from_utf8(payload).map_err(|_| ProtocolError::PktNotUtf8)?;
    Ok(Some(text.strip_suffix('\n').unwrap_or(&text).to_owned()))
}

fn write_pkt(output: &mut impl Write, line: &str) -> Result<()> {
    let line = format!("{line}\n");
    let io = |source| Error::Io { what: "answering git receive-pack".into(), source };
    write!(output, "{:04x}{line}", line.len() + 4).map_err(io)
}

fn flush_pkt(output: &mut impl Write) -> Result<()> {
    let io = |source| Error::Io { what: "answering git receive-pack".into(), source };
    output.write_all(b"0000").and_then(|()| output.flush()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkt_lines_round_trip_and_flush_ends_a_section() {
        let mut out = Vec::new();
        write_pkt(&mut out, "version=1").unwrap();
        write_pkt(&mut out, "ok refs/crew/for/crew").unwrap();
        flush_pkt(&mut out).unwrap();
        assert_eq!(&out[..4], b"000e");
        let mut input = std::io::Cursor::new(out);
        assert_eq!(read_section(&mut input).unwrap(), vec!["version=1", "ok refs/crew/for/crew"]);
    }

    #[test]
    fn malformed_pkt_lines_are_errors_not_panics() {
        for bad in [&b"zzzz"[..], b"0003", b"ffff", b"0009ab"] {
            assert!(read_pkt(&mut std::io::Cursor::new(bad.to_vec())).is_err(), "{bad:?}");
        }
    }
}
