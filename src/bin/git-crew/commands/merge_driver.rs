//! `git crew merge-driver %O %A %B %P`: git's merge driver contract. The
//! result goes to %A; exit 0 for a clean merge, non-zero to refuse.

use anyhow::{Context as _, Result};

use super::Context;
use crate::args::MergeDriverArgs;

pub fn run(cx: &Context, args: MergeDriverArgs) -> Result<i32> {
    let read = |p: &std::path::Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let sides = [read(&args.base)?, read(&args.ours)?, read(&args.theirs)?];
    let ws = git_crew::workspace::workspace_for_merge(&cx.dir, &args.path, [&sides[0], &sides[1], &sides[2]])?;
    git_crew::merge::merge_files(&args.base, &args.ours, &args.theirs, &ws)
        .with_context(|| format!("git-crew refused to merge {}", args.path))?;
    Ok(0)
}
