//! `git crew suspend`, `resume` and `alive`: the kill switch.

use crate::exit;
use anyhow::Result;
use git_crew::index::Need;

use super::sync::SyncedView;
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
/// suspension published there counts here at once: what arrived (claims of
/// this clone that stopped counting, writes it dropped), or `None` without a
/// remote. `Err` says why the answer is this clone's copy (stale).
pub fn ask_remote(
    ws: &git_crew::workspace::Workspace,
    remote: Option<&str>,
) -> Result<Option<git_crew::sync::Synced>, String> {
    match remote {
        Some(r) => git_crew::sync::refresh(ws, r).map(Some).map_err(|e| format!("could not ask {r}: {e}")),
        None => Ok(None),
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
    let actor = snap.state.actors.get(&me).ok_or_else(|| git_crew::Error::UnknownActor { name: me.clone() })?;
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
            "synced": asked.as_ref().ok().and_then(Option::as_ref).map(SyncedView::new),
        }));
    } else {
        let answer = match (suspended, revoked) {
            (Some(s), _) => format!("{me} is {s}"),
            (None, Some(v)) => format!("the key of {me} is {v}"),
            (None, None) => format!("{me} may work"),
        };
        let answer = match &asked {
            Ok(_) => answer,
            Err(why) => format!("{answer} (stale: this clone's copy; {why})"),
        };
        let news = asked.as_ref().ok().and_then(Option::as_ref).map(super::sync::news).unwrap_or_default();
        render::lines(std::iter::once(answer).chain(news));
    }
    Ok(if actor.may_work() { 0 } else { exit::SUSPENDED })
}
