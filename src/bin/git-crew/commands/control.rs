//! `git crew suspend`, `resume` and `alive`: the kill switch.

use anyhow::Result;
use git_crew::error::EXIT_SUSPENDED;
use git_crew::index::Need;

use super::{Context, StopView};
use crate::args::{AliveArgs, SuspendArgs};
use crate::render;

pub fn suspend(cx: &Context, args: SuspendArgs) -> Result<i32> {
    let ws = cx.open()?;
    let snap = ws.snapshot_for(&Need::Core)?;
    let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
    let written = ws.suspend(&me, &args.names, args.all, args.reason)?;
    cx.wrote(&ws, written.records)?;
    Ok(0)
}

pub fn resume(cx: &Context, name: &str) -> Result<i32> {
    let ws = cx.open()?;
    let snap = ws.snapshot_for(&Need::Core)?;
    let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
    cx.wrote(&ws, vec![ws.resume(&me, name)?])?;
    Ok(0)
}

/// Take what `remote` has (a bounded fetch, nothing pushed) so that a
/// suspension published there counts here at once. `Err` says why the answer
/// is this clone's copy (stale); no remote is no error.
pub fn ask_remote(ws: &git_crew::workspace::Workspace, remote: Option<&str>) -> Result<(), String> {
    match remote {
        Some(r) => git_crew::sync::refresh(ws, r).map(drop).map_err(|e| format!("could not ask {r}: {e}")),
        None => Ok(()),
    }
}

/// Exit 0 while the actor may work, 5 once it is suspended (or its key
/// revoked): on the remote when one is configured, else in this clone.
pub fn alive(cx: &Context, args: AliveArgs) -> Result<i32> {
    let ws = cx.open()?;
    let remote = args.remote.or_else(|| git_crew::sync::default_remote(&ws)).filter(|_| !cx.offline);
    let asked = ask_remote(&ws, remote.as_deref());
    let snap = ws.snapshot_for(&Need::Core)?;
    let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
    let actor = snap.state.actors.get(&me).ok_or_else(|| {
        git_crew::Error::Invalid(format!(
            "unknown actor {me:?}: not admitted to this workspace (see `git crew id list`)"
        ))
    })?;
    let (suspended, revoked) = (actor.suspended.as_ref(), actor.revoked.as_ref());
    if cx.json {
        render::json(&serde_json::json!({
            "actor": me,
            "alive": actor.may_work(),
            "suspended": suspended.map(StopView::suspension),
            "revoked": revoked.map(StopView::revocation),
            "remote": remote,
            "stale": asked.is_err(),
            "stale_reason": asked.as_ref().err(),
        }));
    } else {
        let answer = match (suspended, revoked) {
            (Some(s), _) => format!("{me} is {s}"),
            (None, Some(v)) => format!("the key of {me} is {v}"),
            (None, None) => format!("{me} may work"),
        };
        render::lines([match &asked {
            Ok(()) => answer,
            Err(why) => format!("{answer} (stale: this clone's copy; {why})"),
        }]);
    }
    Ok(if actor.may_work() { 0 } else { EXIT_SUSPENDED })
}
