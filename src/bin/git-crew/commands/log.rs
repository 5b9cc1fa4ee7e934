//! `git crew log`.

use anyhow::Result;

use super::{Context, RecordView};
use crate::args::LogArgs;
use crate::render;

pub fn run(cx: &Context, args: LogArgs) -> Result<i32> {
    let ws = cx.open()?;
    let (_, records) = ws.records()?;
    let kind_matches = |kind: &str| match &args.kind {
        None => true,
        Some(k) if k.ends_with('.') => kind.starts_with(k.as_str()),
        Some(k) => kind == k,
    };
    let views: Vec<RecordView> = records
        .iter()
        .rev()
        .filter(|r| args.author.as_ref().is_none_or(|a| &r.author == a) && kind_matches(r.kind()))
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
