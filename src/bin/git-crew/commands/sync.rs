//! `git crew sync [REMOTE]`.

use anyhow::Result;

use super::Context;
use crate::args::SyncArgs;
use crate::render;

pub fn run(cx: &Context, args: SyncArgs) -> Result<i32> {
    let ws = cx.open()?;
    let remote = match args.remote.or_else(|| git_crew::sync::default_remote(&ws)) {
        Some(r) => r,
        None => return Err(git_crew::Error::Invalid(
            "no remote named origin: pass REMOTE (a remote name or URL), or add one with `git remote add origin URL`"
                .into(),
        )
        .into()),
    };
    let done = git_crew::sync::sync(&ws, &remote)?;
    if cx.json {
        render::json(&done);
    } else {
        let how = match (done.fast_forward, done.merged) {
            (_, true) => "replayed local work on top",
            (true, false) => "fast-forwarded",
            _ => "up to date",
        };
        let pushed = if done.pushed { ", pushed" } else { "" };
        let head = format!(
            "{remote}: {} new record(s), {how}{pushed} (tip {}).",
            done.received,
            &done.tip[..12.min(done.tip.len())]
        );
        let lost =
            done.lost_claims.iter().map(|l| format!("lost claim {} by {}: {}", &l.claim[..8], l.actor, l.reason));
        let remade = done.remade.iter().map(|r| format!("re-made {} {} as {}", r.kind, &r.old[..8], &r.new[..8]));
        let dropped =
            done.dropped.iter().map(|d| format!("dropped {} {} by {}: {}", d.kind, &d.record[..8], d.author, d.reason));
        render::lines(std::iter::once(head).chain(lost).chain(remade).chain(dropped));
    }
    Ok(0)
}
