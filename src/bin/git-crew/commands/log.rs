//! `git crew log`.

use anyhow::Result;

use super::{Context, RecordView};
use crate::args::LogArgs;
use crate::render;

pub fn run(cx: &Context, args: LogArgs) -> Result<i32> {
    let ws = cx.open()?;
    let (_, records) = ws.records()?;
    let views: Vec<RecordView> = records
        .iter()
        .rev()
        .filter(|r| {
            args.author.as_ref().is_none_or(|a| &r.author == a) && super::kind_matches(args.kind.as_deref(), r.kind())
        })
        .take(args.max.unwrap_or(usize::MAX))
        .map(RecordView::new)
        .collect();
    if cx.json {
        render::json(&views);
    } else {
        render::lines(views.iter().map(RecordView::line));
    }
    Ok(0)
}
