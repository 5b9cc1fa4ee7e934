//! `git crew reserve` and `unreserve`: path reservations.

use anyhow::Result;
use git_crew::reservations::Held;
use serde::Serialize;

use super::Context;
use crate::args::ReserveArgs;
use crate::render;

pub fn reserve(cx: &Context, args: ReserveArgs) -> Result<i32> {
    let ws = cx.open()?;
    let me = cx.me(&ws)?;
    let paths = ws.work_tree_paths(&cx.dir, &args.paths)?;
    let task = args.task.as_deref().map(|t| ws.find_task(t)).transpose()?;
    let mode = super::task::claim_mode(cx, &ws, &args.how);
    let lease = args.how.lease.unwrap_or(git_crew::tasks::DEFAULT_LEASE_SECS);
    let record = ws.reserve(&me, paths, lease, task, &mode)?;
    super::task::claimed(cx, &mode, &record, serde_json::Map::new());
    Ok(0)
}

pub fn unreserve(cx: &Context, id: &str) -> Result<i32> {
    let ws = cx.open()?;
    let me = cx.me(&ws)?;
    let id = ws.find_reservation(id)?;
    cx.wrote(&ws, vec![ws.unreserve(&me, id)?])?;
    Ok(0)
}

/// A reservation held now, as `board --json` shows it.
#[derive(Serialize)]
pub struct HeldView {
    id: String,
    short: String,
    holder: String,
    paths: Vec<String>,
    task: Option<String>,
    lease_left_secs: i64,
}

impl HeldView {
    pub fn new(h: &Held) -> HeldView {
        HeldView {
            id: h.reservation.id.hex(),
            short: h.reservation.id.short(),
            holder: h.holder.clone(),
            paths: h.reservation.paths.clone(),
            task: h.reservation.task.map(|t| t.hex()),
            lease_left_secs: super::secs(h.left_ms),
        }
    }
}

/// One line for people: `7f3a2c9d  src/auth, docs/login.md  bob (12m left)`.
pub fn line(h: &Held) -> String {
    let task = h.reservation.task.map(|t| format!(" for {}", t.short())).unwrap_or_default();
    format!(
        "{}  {}  {}{task} ({} left)",
        h.reservation.id.short(),
        render::fit(&h.reservation.paths.join(", "), 60),
        h.holder,
        super::task::left(h.left_ms)
    )
}
