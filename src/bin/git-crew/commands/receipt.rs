//! `git crew receipt add|show`.

use anyhow::Result;
use git_crew::error::ArgumentError;
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
                Some(k) => k.parse().map_err(ArgumentError::ReceiptClass).map_err(git_crew::Error::from)?,
                None if artifacts.is_empty() && summary.is_none() && !commits.is_empty() => ReceiptClass::Commit,
                None => ReceiptClass::Note,
            };
            let commits = commits
                .iter()
                .map(|rev| Ok(git_crew::receipts::resolve_commit(&ws, rev)?.to_string()))
                .collect::<Result<Vec<_>>>()?;
            let limit = git_crew::receipts::artifact_limit(&ws)?;
            let artifacts = artifacts
                .iter()
                .map(|path| Ok(git_crew::receipts::artifact(&ws, path, limit)?))
                .collect::<Result<Vec<_>>>()?;
            let record = ws.add_receipt(&me, Receipt { task, class, summary, commits, artifacts })?;
            cx.wrote(&ws, vec![record])?;
        }
        ReceiptCommand::Show { id } => {
            let record = ws.find_receipt(&id)?;
            let view = RecordView::new(&record);
            if cx.json {
                render::json(&view);
            } else {
                // serde_json leaves DEL, C1 and bidi controls in strings as they are.
                let (line, fields) = (view.line(), serde_json::to_string_pretty(&view.fields())?);
                render::lines(std::iter::once(line.as_str()).chain(fields.lines()));
            }
        }
    }
    Ok(0)
}
