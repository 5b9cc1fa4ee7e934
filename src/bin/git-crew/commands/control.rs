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
        render::lines([RecordView::new(&record).line()]);
    }
    Ok(0)
}

/// Exit 0 while the actor may work, 5 once this clone has seen its suspension
/// (or the revocation of its key).
pub fn alive(cx: &Context) -> Result<i32> {
    let ws = cx.open()?;
    let snap = ws.snapshot_for(&Need::Core)?;
    let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
    let actor = snap.state.actors.get(&me).ok_or_else(|| {
        git_crew::Error::Invalid(format!(
            "unknown actor {me:?}: not admitted to this workspace (see `git crew id list`)"
        ))
    })?;
    let (suspended, revoked) = (actor.suspended.as_ref(), actor.revoked.as_ref());
    if cx.json {
        let stop =
            |by: &str, at: String, reason: &Option<String>| serde_json::json!({ "by": by, "at": at, "reason": reason });
        render::json(&serde_json::json!({
            "actor": me,
            "alive": actor.may_work(),
            "suspended": suspended.map(|s| stop(&s.by, s.at.to_string(), &s.reason)),
            "revoked": revoked.map(|v| stop(&v.by, v.at.to_string(), &v.reason)),
        }));
    } else {
        render::lines([match (suspended, revoked) {
            (Some(s), _) => format!("{me} is {s}"),
            (None, Some(v)) => format!("the key of {me} is {v}"),
            (None, None) => format!("{me} may work"),
        }]);
    }
    Ok(if actor.may_work() { 0 } else { EXIT_SUSPENDED })
}
