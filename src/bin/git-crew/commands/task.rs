//! `git crew task …`, `board` and `next`.

use anyhow::Result;
use git_crew::id::Id;
use git_crew::index::Need;
use git_crew::record::kinds::TaskEdit;
use git_crew::record::Record;
use git_crew::state::{State, Status, Summary, Task};
use git_crew::tasks::NewTask;
use git_crew::tasks::{self, Board, ClaimMode, ClaimTarget, DEFAULT_LEASE_SECS};
use git_crew::workspace::Workspace;
use serde::Serialize;

use git_crew::publish::{Publication, Target, OFFLINE, PUBLISH_OFF};

use super::{Context, RecordView};
use crate::args::{BoardArgs, ClaimArgs, EditArgs, NextArgs, TaskCommand};
use crate::render;

/// A task for `--json`, borrowing from the state.
#[derive(Serialize)]
pub struct TaskView<'a> {
    id: String,
    short: String,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    labels: &'a [String],
    priority: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<String>,
    depends_on: Vec<String>,
    /// `status`, and `holder` and `lease_left_secs` while in progress, or `why` while blocked.
    #[serde(flatten)]
    status: StatusView,
    #[serde(skip_serializing_if = "Option::is_none")]
    done_by: Option<&'a str>,
    /// Who cancelled it, when and why; absent unless cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    cancelled: Option<CancelledView<'a>>,
    receipts: usize,
    comments: u32,
    created_by: &'a str,
    created_at: String,
    updated_at: String,
}

impl<'a> TaskView<'a> {
    pub fn new(t: &'a Task, state: &State, now: i64) -> TaskView<'a> {
        TaskView {
            id: t.id.hex(),
            short: t.id.short(),
            title: &t.title,
            body: t.body.as_deref(),
            labels: &t.labels,
            priority: t.priority,
            parent: t.parent.map(|p| p.hex()),
            depends_on: t.depends_on.iter().map(Id::hex).collect(),
            status: t.status(state, now).into(),
            done_by: t.done.as_ref().map(|d| d.by.as_str()),
            cancelled: t.cancelled.as_ref().map(|c| CancelledView { by: &c.by, at: c.at.rfc3339(), reason: &c.reason }),
            receipts: t.receipts.len(),
            comments: t.comments,
            created_by: &t.created_by,
            created_at: t.created_at.rfc3339(),
            updated_at: t.updated_at.rfc3339(),
        }
    }
}

/// A task's cancellation, for `--json`.
#[derive(Serialize)]
pub struct CancelledView<'a> {
    by: &'a str,
    at: String,
    reason: &'a str,
}

/// Where a task stands, for `--json`: the library's [`Status`] with the lease
/// left in whole seconds, like every duration in the JSON output.
#[derive(Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum StatusView {
    Ready,
    InProgress { holder: String, lease_left_secs: i64 },
    Blocked { why: String },
    Done,
    Cancelled,
}

impl From<Status> for StatusView {
    fn from(s: Status) -> StatusView {
        match s {
            Status::Ready => StatusView::Ready,
            Status::InProgress { holder, lease_left_ms } => {
                StatusView::InProgress { holder, lease_left_secs: super::secs(lease_left_ms) }
            }
            Status::Blocked { why } => StatusView::Blocked { why },
            Status::Done => StatusView::Done,
            Status::Cancelled => StatusView::Cancelled,
        }
    }
}

/// `12m` / `3h` / `45s`: a lease left, for people.
pub fn left(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        _ => format!("{}h", s / 3600),
    }
}

/// One line for people: `7f3a2c9d P1 Fix login [auth]  (alice)  held by bob, 12m left`.
pub fn line(t: &Task, state: &State, now: i64) -> String {
    let labels = if t.labels.is_empty() { String::new() } else { format!(" [{}]", t.labels.join(", ")) };
    let status = match t.status(state, now) {
        Status::Ready => "ready".to_owned(),
        Status::InProgress { holder, lease_left_ms } => format!("held by {holder}, {} left", left(lease_left_ms)),
        Status::Blocked { why } => why,
        Status::Done => "done".to_owned(),
        Status::Cancelled => match &t.cancelled {
            Some(c) => format!("cancelled by {}: {}", c.by, c.reason),
            None => "cancelled".to_owned(),
        },
    };
    format!("{} P{} {}{labels}  ({})  {status}", t.id.short(), t.priority, t.title, t.created_by)
}

fn me(cx: &Context, ws: &Workspace) -> Result<String> {
    let snap = ws.snapshot_for(&Need::Core)?;
    Ok(ws.whoami(cx.actor.as_deref(), &snap.state)?)
}

fn ids(ws: &Workspace, prefixes: &[String]) -> Result<Vec<Id>> {
    prefixes.iter().map(|p| Ok(ws.find_task(p)?)).collect()
}

/// Where a claim goes: through `--remote` or the clone's publish target; on
/// this clone only, marked offline, when writes stay local although a remote
/// could be asked (`--offline`, `crew.publish false`).
pub(super) fn claim_mode(cx: &Context, ws: &Workspace, how: &ClaimArgs) -> ClaimMode {
    match git_crew::publish::target(ws, cx.offline, how.remote.as_deref()) {
        Target::Remote(r) => ClaimMode::Online(r),
        Target::Local(why) if why == git_crew::publish::NO_REMOTE => ClaimMode::Local,
        Target::Local(_) => ClaimMode::Offline,
    }
}

/// A claim's result: claims publish before they count, so where it went is
/// known from how it was made.
pub(super) fn claimed(
    cx: &Context,
    mode: &ClaimMode,
    record: &Record,
    extra: serde_json::Map<String, serde_json::Value>,
) {
    let publication = match mode {
        ClaimMode::Online(r) => Publication::on(r),
        ClaimMode::Local => Publication::kept(None, git_crew::publish::NO_REMOTE),
        ClaimMode::Offline => Publication::kept(None, if cx.offline { OFFLINE } else { PUBLISH_OFF }),
    };
    cx.print_write(std::slice::from_ref(record), &publication, extra);
}

pub fn run(cx: &Context, cmd: TaskCommand) -> Result<i32> {
    let ws = cx.open()?;
    match cmd {
        TaskCommand::Add { title, body, labels, priority, parent, depends_on } => {
            let me = me(cx, &ws)?;
            let parent = parent.map(|p| ws.find_task(&p)).transpose()?;
            let depends_on = ids(&ws, &depends_on)?;
            let record = ws.add_task(&me, NewTask { title, body, labels, priority, parent, depends_on })?;
            cx.wrote(&ws, vec![record])?;
        }
        TaskCommand::List { label, mine } => {
            let snap = ws.snapshot()?;
            let now = tasks::now_ms();
            let me = if mine { Some(ws.whoami(cx.actor.as_deref(), &snap.state)?) } else { None };
            let mut tasks: Vec<&Task> = snap
                .state
                .tasks
                .values()
                .filter(|t| label.as_ref().is_none_or(|l| t.labels.contains(l)))
                .filter(|t| me.as_ref().is_none_or(|m| t.held_by(m, now)))
                .collect();
            tasks.sort_by_key(|t| t.board_key());
            if cx.json {
                render::json(&tasks.iter().map(|t| TaskView::new(t, &snap.state, now)).collect::<Vec<_>>());
            } else {
                render::lines(tasks.iter().map(|t| line(t, &snap.state, now)));
            }
        }
        TaskCommand::Show { id } => {
            let task_id = ws.find_task(&id)?;
            let snap = ws.snapshot()?;
            let task = snap.state.task(&task_id).map_err(git_crew::Error::Refused)?;
            let now = tasks::now_ms();
            let history = ws.task_records(&snap, &task_id)?;
            let view = TaskView::new(task, &snap.state, now);
            let history: Vec<RecordView> = history.iter().map(RecordView::new).collect();
            let children: Vec<String> =
                snap.state.tasks.values().filter(|t| t.parent == Some(task_id)).map(|t| t.id.hex()).collect();
            if cx.json {
                render::json(&serde_json::json!({ "task": view, "children": children, "history": history }));
            } else {
                let mut head = vec![line(task, &snap.state, now), format!("id: {}", task_id.hex())];
                if let Some(p) = task.parent {
                    head.push(format!("parent: {}", p.short()));
                }
                if !task.depends_on.is_empty() {
                    head.push(format!(
                        "depends on: {}",
                        task.depends_on.iter().map(Id::short).collect::<Vec<_>>().join(", ")
                    ));
                }
                if !children.is_empty() {
                    head.push(format!("children: {}", children.iter().map(|c| &c[..8]).collect::<Vec<_>>().join(", ")));
                }
                render::lines(head);
                // Indented, so no line of the body can pass for a header or history line.
                if let Some(body) = &task.body {
                    println!("\n    {}\n", render::block(body, "    "));
                }
                render::lines(
                    std::iter::once("history:".to_owned()).chain(history.iter().map(|r| format!("  {}", r.line()))),
                );
            }
        }
        TaskCommand::Edit(args) => {
            let me = me(cx, &ws)?;
            let edit = edit_payload(&ws, args)?;
            cx.wrote(&ws, vec![ws.edit_task(&me, edit)?])?;
        }
        TaskCommand::Claim { id, how } => {
            let me = me(cx, &ws)?;
            let task = ws.find_task(&id)?;
            let mode = claim_mode(cx, &ws, &how);
            let record = ws.claim(&me, &ClaimTarget::Task(task), how.lease.unwrap_or(DEFAULT_LEASE_SECS), &mode)?;
            claimed(cx, &mode, &record, serde_json::Map::new());
        }
        TaskCommand::Release { id, reason } => {
            let me = me(cx, &ws)?;
            cx.wrote(&ws, vec![ws.release(&me, ws.find_task(&id)?, reason)?])?;
        }
        TaskCommand::Handoff { id, to, note } => {
            let me = me(cx, &ws)?;
            cx.wrote(&ws, vec![ws.handoff(&me, ws.find_task(&id)?, &to, note)?])?;
        }
        TaskCommand::Assign { id, to, note, lease } => {
            let me = me(cx, &ws)?;
            cx.wrote(&ws, vec![ws.assign(&me, ws.find_task(&id)?, &to, note, lease)?])?;
        }
        TaskCommand::Cancel { id, reason } => {
            let me = me(cx, &ws)?;
            cx.wrote(&ws, vec![ws.cancel(&me, ws.find_task(&id)?, reason)?])?;
        }
        TaskCommand::Reopen { id, reason } => {
            let me = me(cx, &ws)?;
            cx.wrote(&ws, vec![ws.reopen(&me, ws.find_task(&id)?, reason)?])?;
        }
        TaskCommand::Comment { id, text } => {
            let me = me(cx, &ws)?;
            cx.wrote(&ws, vec![ws.comment(&me, ws.find_task(&id)?, text)?])?;
        }
        TaskCommand::Block { id, reason } => {
            let me = me(cx, &ws)?;
            cx.wrote(&ws, vec![ws.block(&me, ws.find_task(&id)?, reason)?])?;
        }
        TaskCommand::Unblock { id } => {
            let me = me(cx, &ws)?;
            cx.wrote(&ws, vec![ws.unblock(&me, ws.find_task(&id)?)?])?;
        }
        TaskCommand::Done { id, receipt, summary } => {
            let me = me(cx, &ws)?;
            let task = ws.find_task(&id)?;
            let receipt = receipt.map(|r| ws.resolve_receipt(task, &r)).transpose()?;
            cx.wrote(&ws, vec![ws.done(&me, task, receipt, summary)?])?;
        }
    }
    Ok(0)
}

fn edit_payload(ws: &Workspace, a: EditArgs) -> Result<TaskEdit> {
    Ok(TaskEdit {
        task: ws.find_task(&a.id)?,
        title: a.title,
        body: a.body,
        labels: a.labels,
        priority: a.priority,
        parent: a.parent.map(|p| ws.find_task(&p)).transpose()?,
        depends_on: ids(ws, &a.depends_on)?,
        drop_depends_on: ids(ws, &a.drop_depends_on)?,
    })
}

/// A task summary for `board --json`.
#[derive(Serialize)]
struct SummaryView<'a> {
    id: String,
    short: String,
    title: &'a str,
    labels: &'a [String],
    priority: u8,
    depends_on: Vec<String>,
    #[serde(flatten)]
    status: StatusView,
    #[serde(skip_serializing_if = "Option::is_none")]
    done_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancelled_by: Option<&'a str>,
    created_at: String,
}

/// `git crew board`.
pub fn board(cx: &Context, args: BoardArgs) -> Result<i32> {
    let ws = cx.open()?;
    let (_, tasks) = ws.summaries()?;
    let now = tasks::now_ms();
    let b = Board::new(&tasks, args.label.as_deref(), now);
    let reserved = ws.reservations()?;
    fn view<'a>(t: &'a Summary, status: Status) -> SummaryView<'a> {
        SummaryView {
            id: t.id.hex(),
            short: t.id.short(),
            title: &t.title,
            labels: &t.labels,
            priority: t.priority,
            depends_on: t.depends_on.iter().map(Id::hex).collect(),
            status: status.into(),
            done_by: t.done_by.as_deref(),
            cancelled_by: t.cancelled_by.as_deref(),
            created_at: t.created_at.rfc3339(),
        }
    }
    if cx.json {
        #[derive(Serialize)]
        struct Columns<'a> {
            ready: Vec<SummaryView<'a>>,
            in_progress: Vec<SummaryView<'a>>,
            blocked: Vec<SummaryView<'a>>,
            done: Vec<SummaryView<'a>>,
            reservations: Vec<super::reserve::HeldView>,
        }
        let in_progress = |t: &Summary| {
            let (holder, until) = t.holder_at(now).unwrap_or_default();
            Status::InProgress { holder: holder.to_owned(), lease_left_ms: until - now }
        };
        render::json(&Columns {
            ready: b.ready.iter().map(|t| view(t, Status::Ready)).collect(),
            in_progress: b.in_progress.iter().map(|t| view(t, in_progress(t))).collect(),
            blocked: b.blocked.iter().map(|(t, why)| view(t, Status::Blocked { why: why.clone() })).collect(),
            done: b
                .done
                .iter()
                .map(|t| view(t, if t.cancelled_by.is_some() { Status::Cancelled } else { Status::Done }))
                .collect(),
            reservations: reserved.iter().map(super::reserve::HeldView::new).collect(),
        });
        return Ok(0);
    }
    let mut out = Vec::new();
    let mut column = |name: &str, rows: Vec<String>| {
        out.push(format!("{name} ({})", rows.len()));
        out.extend(rows.into_iter().map(|r| format!("  {}", r.trim_end())));
    };
    let short = |t: &Summary| format!("{} P{} {}", t.id.short(), t.priority, render::fit(&t.title, 60));
    column("READY", b.ready.iter().map(|t| short(t)).collect());
    column(
        "IN PROGRESS",
        b.in_progress
            .iter()
            .map(|t| {
                let (holder, until) = t.holder_at(now).unwrap_or_default();
                format!("{}  {holder} ({} left)", short(t), left(until - now))
            })
            .collect(),
    );
    column("BLOCKED", b.blocked.iter().map(|(t, why)| format!("{}  {why}", short(t))).collect());
    column(
        "DONE",
        b.done
            .iter()
            .map(|t| match &t.cancelled_by {
                Some(by) => format!("{}  cancelled by {by}", short(t)),
                None => format!("{}  by {}", short(t), t.done_by.as_deref().unwrap_or("?")),
            })
            .collect(),
    );
    column("RESERVED PATHS", reserved.iter().map(super::reserve::line).collect());
    render::lines(out);
    Ok(0)
}

/// `git crew next [--claim]`.
pub fn next(cx: &Context, args: NextArgs) -> Result<i32> {
    let ws = cx.open()?;
    let now = tasks::now_ms();
    let (id, claim) = if args.claim {
        let me = me(cx, &ws)?;
        let mode = claim_mode(cx, &ws, &args.how);
        let lease = args.how.lease.unwrap_or(DEFAULT_LEASE_SECS);
        let record = ws.claim(&me, &ClaimTarget::Next(args.label), lease, &mode)?;
        let task = record.task().expect("a claim names its task");
        (task, Some((record, mode)))
    } else {
        let (_, tasks) = ws.summaries()?;
        let best = tasks::next(&tasks, args.label.as_deref(), now).map(|t| t.id);
        (best.ok_or(git_crew::Error::NothingReady(args.label))?, None)
    };
    let snap = ws.snapshot_for(&Need::Tasks(vec![id]))?;
    let t = snap.state.task(&id).map_err(git_crew::Error::Refused)?.clone();
    let view = TaskView::new(&t, &snap.state, now);
    match (cx.json, &claim) {
        (true, Some((c, mode))) => {
            let mut extra = serde_json::Map::new();
            extra.insert("task".into(), serde_json::to_value(&view)?);
            claimed(cx, mode, c, extra);
        }
        (true, None) => render::json(&serde_json::json!({ "task": view })),
        (false, Some(_)) => render::lines([format!("claimed {}", line(&t, &snap.state, now))]),
        (false, None) => render::lines([line(&t, &snap.state, now)]),
    }
    Ok(0)
}
