//! `git crew task …`.

use anyhow::Result;
use git_crew::state::Task;
use git_crew::workspace::NewTask;
use serde::Serialize;

use super::{Context, RecordView};
use crate::args::TaskCommand;
use crate::render;

/// A task for `--json`, borrowing from the state.
#[derive(Serialize)]
struct TaskView<'a> {
    id: String,
    short: String,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    labels: &'a [String],
    priority: u8,
    created_by: &'a str,
    created_at: String,
    updated_at: String,
}

impl<'a> TaskView<'a> {
    fn new(t: &'a Task) -> TaskView<'a> {
        TaskView {
            id: t.id.hex(),
            short: t.id.short(),
            title: &t.title,
            body: t.body.as_deref(),
            labels: &t.labels,
            priority: t.priority,
            created_by: &t.created_by,
            created_at: t.created_at.to_string(),
            updated_at: t.updated_at.to_string(),
        }
    }
}

/// One line for people: `7f3a2c9d P1 Fix login [auth]  (alice)`.
fn line(t: &Task) -> String {
    let labels = if t.labels.is_empty() { String::new() } else { format!(" [{}]", t.labels.join(", ")) };
    format!("{} P{} {}{labels}  ({})", t.id.short(), t.priority, t.title, t.created_by)
}

pub fn run(cx: &Context, cmd: TaskCommand) -> Result<i32> {
    let ws = cx.open()?;
    match cmd {
        TaskCommand::Add { title, body, labels, priority } => {
            let snap = ws.snapshot_for(&git_crew::index::Need::Core)?;
            let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
            let record = ws.add_task(&me, NewTask { title, body, labels, priority })?;
            if cx.json {
                render::json(&RecordView::new(&record));
            } else {
                println!("{} {}", record.id.short(), record.summary());
            }
        }
        TaskCommand::List { label } => {
            let snap = ws.snapshot()?;
            let mut tasks: Vec<&Task> =
                snap.state.tasks.values().filter(|t| label.as_ref().is_none_or(|l| t.labels.contains(l))).collect();
            tasks.sort_by_key(|t| (t.priority, t.created_at, t.id));
            if cx.json {
                render::json(&tasks.iter().map(|t| TaskView::new(t)).collect::<Vec<_>>());
            } else {
                render::lines(tasks.iter().map(|t| line(t)));
            }
        }
        TaskCommand::Show { id } => {
            let snap = ws.snapshot()?;
            let task_id = ws.resolve_task(&snap.state, &id)?;
            let task = &snap.state.tasks[&task_id];
            let history = ws.task_records(&snap, &task_id)?;
            let view = TaskView::new(task);
            let history: Vec<RecordView> = history.iter().map(RecordView::new).collect();
            if cx.json {
                render::json(&serde_json::json!({ "task": view, "history": history }));
            } else {
                println!("{} P{} {}", view.id, view.priority, view.title);
                if !view.labels.is_empty() {
                    println!("labels: {}", view.labels.join(", "));
                }
                println!("created by {} at {}", view.created_by, view.created_at);
                if let Some(body) = &view.body {
                    println!("\n{body}\n");
                }
                println!("history:");
                for r in &history {
                    println!("  {}", r.line());
                }
            }
        }
    }
    Ok(0)
}
