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
    let actor = cx.actor.clone().or_else(|| ws.store().config_string("crew.as")).unwrap_or_else(|| "crew".to_owned());
    let done = git_crew::sync::sync(&ws, &remote, &actor)?;
    if cx.json {
        render::json(&done);
    } else {
        let how = match (done.fast_forward, done.merged) {
            (_, true) => "merged",
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
        render::lines(std::iter::once(head).chain(lost));
    }
    Ok(0)
}
