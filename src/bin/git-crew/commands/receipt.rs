//! `git crew receipt add|show`.

use anyhow::Result;
use git_crew::record::kinds::{Receipt, ReceiptClass};

use super::{Context, RecordView};
use crate::args::ReceiptCommand;
use crate::render;

pub fn run(cx: &Context, cmd: ReceiptCommand) -> Result<i32> {
    let ws = cx.open()?;
    match cmd {
        ReceiptCommand::Add { task, artifacts, commits, kind, summary } => {
            let snap = ws.snapshot_for(&git_crew::index::Need::Core)?;
            let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
            let task = ws.find_task(&task)?;
            let class: ReceiptClass = match kind {
                Some(k) => k.parse().map_err(git_crew::Error::Invalid)?,
                None if artifacts.is_empty() && summary.is_none() && !commits.is_empty() => ReceiptClass::Commit,
                None => ReceiptClass::Note,
            };
            let commits = commits
                .iter()
                .map(|rev| Ok(git_crew::board::resolve_commit(&ws, rev)?.to_string()))
                .collect::<Result<Vec<_>>>()?;
            let artifacts = artifacts
                .iter()
                .map(|path| Ok(git_crew::board::artifact(path, &shown_path(&ws, path))?))
                .collect::<Result<Vec<_>>>()?;
            let record = ws.add_receipt(&me, Receipt { task, class, summary, commits, artifacts })?;
            if cx.json {
                render::json(&RecordView::new(&record));
            } else {
                println!("{} {}", record.id.short(), record.summary());
            }
        }
        ReceiptCommand::Show { id } => {
            let record = ws.find_receipt(&id)?;
            let view = RecordView::new(&record);
            if cx.json {
                render::json(&view);
            } else {
                println!("{}", view.line());
                println!("{}", serde_json::to_string_pretty(&view.fields())?);
            }
        }
    }
    Ok(0)
}

/// The path recorded for an artifact: relative to the top of the work tree
/// when the file is inside it (so `verify --artifacts` finds it from any
/// clone), else as given.
fn shown_path(ws: &git_crew::workspace::Workspace, path: &std::path::Path) -> String {
    let top = ws.store().work_dir().and_then(|d| d.canonicalize().ok());
    let abs = path.canonicalize().ok();
    match (top, abs) {
        (Some(top), Some(abs)) => match abs.strip_prefix(&top) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => abs.to_string_lossy().into_owned(),
        },
        _ => path.to_string_lossy().into_owned(),
    }
}
