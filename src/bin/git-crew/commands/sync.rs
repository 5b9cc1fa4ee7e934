//! `git crew sync [REMOTE]`.

use anyhow::Result;
use git_crew::rebase::{Dropped, Remade};
use git_crew::sync::{Freed, LostClaim, Synced};
use serde::Serialize;

use super::Context;
use crate::args::SyncArgs;
use crate::render;

/// What a sync did, for `--json` (`sync`, and `synced` of `heartbeat`).
#[derive(Serialize)]
pub struct SyncedView<'a> {
    remote: &'a str,
    received: usize,
    fast_forward: bool,
    merged: bool,
    pushed: bool,
    tip: &'a str,
    rounds: usize,
    lost_claims: &'a [LostClaim],
    beats_pushed: usize,
    remade: &'a [Remade],
    dropped: Vec<DroppedView<'a>>,
    freed: &'a [Freed],
}

impl<'a> SyncedView<'a> {
    pub fn new(s: &'a Synced) -> SyncedView<'a> {
        SyncedView {
            remote: &s.remote,
            received: s.received,
            fast_forward: s.fast_forward,
            merged: s.merged,
            pushed: s.pushed,
            tip: &s.tip,
            rounds: s.rounds,
            lost_claims: &s.lost_claims,
            beats_pushed: s.beats_pushed,
            remade: &s.remade,
            dropped: s.dropped.iter().map(DroppedView::new).collect(),
            freed: &s.freed,
        }
    }
}

/// A record a sync or a repair left out, and why: `record`, `kind` and
/// `author` are null when its commit could not be read.
#[derive(Serialize)]
pub struct DroppedView<'a> {
    record: Option<&'a str>,
    kind: Option<&'a str>,
    author: Option<&'a str>,
    reason: &'a str,
}

impl<'a> DroppedView<'a> {
    pub fn new(d: &'a Dropped) -> DroppedView<'a> {
        let known = |s: &'a String| Some(s.as_str()).filter(|s| !s.is_empty());
        DroppedView { record: known(&d.record), kind: known(&d.kind), author: known(&d.author), reason: &d.reason }
    }

    /// `VERB KIND ID by AUTHOR: REASON`, or `VERB: REASON` for a record whose
    /// commit could not be read (it has no id, kind or author).
    pub fn line(&self, verb: &str) -> String {
        match (self.kind, self.record, self.author) {
            (Some(kind), Some(record), Some(author)) => {
                format!("{verb} {kind} {} by {author}: {}", record.get(..8).unwrap_or(record), self.reason)
            }
            _ => format!("{verb}: {}", self.reason),
        }
    }
}

pub fn run(cx: &Context, args: SyncArgs) -> Result<i32> {
    let ws = cx.open()?;
    let remote = match args.remote.or_else(|| git_crew::sync::default_remote(&ws)) {
        Some(r) => r,
        None => return Err(git_crew::Error::NoRemote.into()),
    };
    let done = git_crew::sync::sync(&ws, &remote)?;
    if cx.json {
        render::json(&SyncedView::new(&done));
    } else {
        let how = match (done.fast_forward, done.merged) {
            (_, true) => "replayed local work on top",
            (true, false) => "fast-forwarded",
            _ => "up to date",
        };
        let pushed = if done.pushed { ", pushed" } else { "" };
        let head = format!(
            "{remote}: {} new record(s), {how}{pushed} (tip {}).",
            done.received,
            &done.tip[..12.min(done.tip.len())]
        );
        render::lines(std::iter::once(head).chain(news(&done)));
    }
    Ok(0)
}

/// A line for each claim of this clone that lost, record re-made, record
/// dropped and task freed by a stop, in a sync (or in the refresh of `alive`
/// and `heartbeat`).
pub fn news(done: &Synced) -> Vec<String> {
    let short = |id: &str| id.get(..8).unwrap_or("?").to_owned();
    let lost = done.lost_claims.iter().map(|l| format!("lost claim {} by {}: {}", short(&l.claim), l.actor, l.reason));
    let remade = done.remade.iter().map(|r| format!("re-made {} {} as {}", r.kind, short(&r.old), short(&r.new)));
    let dropped = done.dropped.iter().map(|d| DroppedView::new(d).line("dropped"));
    let freed = done.freed.iter().map(|f| format!("task {} is no longer {}'s: {}", short(&f.task), f.actor, f.reason));
    lost.chain(remade).chain(dropped).chain(freed).collect()
}
