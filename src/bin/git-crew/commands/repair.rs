//! `git crew repair [REMOTE] [--reason R]`.

use anyhow::Result;

use super::sync::DroppedView;
use super::{Context, RecordView};
use crate::args::RepairArgs;
use crate::render;

pub fn run(cx: &Context, args: RepairArgs) -> Result<i32> {
    let ws = cx.open()?;
    let remote = args.remote.or_else(|| git_crew::sync::default_remote(&ws)).ok_or(git_crew::Error::NoRemote)?;
    let state = ws.snapshot_for(&git_crew::index::Need::Core)?.state;
    let me = ws.whoami(cx.actor.as_deref(), &state)?;
    let done = git_crew::repair::repair(&ws, &remote, &me, args.reason)?;
    if cx.json {
        let mut out = serde_json::to_value(&done)?;
        out["dropped"] = serde_json::to_value(done.dropped.iter().map(DroppedView::new).collect::<Vec<_>>())?;
        out["record"] = serde_json::to_value(done.record.as_ref().map(RecordView::new))?;
        render::json(&out);
    } else {
        let head = format!(
            "{remote}: replaced {} by {} (on {}): {} record(s) kept, {} left out.",
            &done.replaced[..12],
            &done.tip[..12],
            &done.base[..12],
            done.kept,
            done.dropped.len()
        );
        let dropped = done.dropped.iter().map(|d| DroppedView::new(d).line("left out"));
        render::lines(std::iter::once(head).chain(dropped));
    }
    Ok(0)
}
