//! `git crew suspend`, `resume` and `alive`: the kill switch.

use anyhow::Result;
use git_crew::error::EXIT_SUSPENDED;
use git_crew::index::Need;

use super::{Context, RecordView};
use crate::args::SuspendArgs;
use crate::render;

pub fn suspend(cx: &Context, args: SuspendArgs) -> Result<i32> {
    let ws = cx.open()?;
    let snap = ws.snapshot_for(&Need::Core)?;
    let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
    let written = ws.suspend(&me, &args.names, args.all, args.reason)?;
    let views: Vec<RecordView> = written.records.iter().map(RecordView::new).collect();
    if cx.json {
        render::json(&views);
    } else {
        render::lines(views.iter().map(RecordView::line));
    }
    Ok(0)
}

pub fn resume(cx: &Context, name: &str) -> Result<i32> {
    let ws = cx.open()?;
    let snap = ws.snapshot_for(&Need::Core)?;
    let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
    let record = ws.resume(&me, name)?;
    if cx.json {
        render::json(&RecordView::new(&record));
    } else {
        println!("{}", RecordView::new(&record).line());
    }
    Ok(0)
}

/// Exit 0 while the actor may work, 5 once this clone has seen its suspension.
pub fn alive(cx: &Context) -> Result<i32> {
    let ws = cx.open()?;
    let snap = ws.snapshot_for(&Need::Core)?;
    let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
    let actor = snap.state.actors.get(&me).ok_or_else(|| {
        git_crew::Error::Invalid(format!(
            "unknown actor {me:?}: not admitted to this workspace (see `git crew id list`)"
        ))
    })?;
    let suspended = actor.suspended.as_ref();
    if cx.json {
        render::json(&serde_json::json!({
            "actor": me,
            "alive": suspended.is_none(),
            "suspended": suspended.map(|s| serde_json::json!({ "by": s.by, "at": s.at.to_string(), "reason": s.reason })),
        }));
    } else {
        match suspended {
            Some(s) => println!("{me} is {s}"),
            None => println!("{me} may work"),
        }
    }
    Ok(if suspended.is_some() { EXIT_SUSPENDED } else { 0 })
}
