//! `git crew task …`.

use anyhow::Result;
use git_crew::state::Task;
use git_crew::workspace::NewTask;
use serde::Serialize;

use super::{Context, RecordView};
use crate::args::TaskCommand;
use crate::render;

#[derive(Serialize)]
struct TaskView {
    id: String,
    short: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    labels: Vec<String>,
    priority: u8,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl TaskView {
    fn new(t: &Task) -> TaskView {
        TaskView {
            id: t.id.hex(),
            short: t.id.short(),
            title: t.title.clone(),
            body: t.body.clone(),
            labels: t.labels.clone(),
            priority: t.priority,
            created_by: t.created_by.clone(),
            created_at: t.created_at.to_string(),
            updated_at: t.updated_at.to_string(),
        }
    }

    fn line(&self) -> String {
        let labels = if self.labels.is_empty() { String::new() } else { format!(" [{}]", self.labels.join(", ")) };
        format!("{} P{} {}{labels}  ({})", self.short, self.priority, self.title, self.created_by)
    }
}

pub fn run(cx: &Context, cmd: TaskCommand) -> Result<i32> {
    let ws = cx.open()?;
    match cmd {
        TaskCommand::Add { title, body, labels, priority } => {
            let snap = ws.snapshot()?;
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
            let views: Vec<TaskView> = tasks.into_iter().map(TaskView::new).collect();
            if cx.json {
                render::json(&views);
            } else {
                for v in &views {
                    println!("{}", v.line());
                }
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
