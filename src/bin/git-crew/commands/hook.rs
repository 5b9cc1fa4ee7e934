//! `git crew hook NAME [ARGS]`: what the shims in hooks/ run.

use std::io::Read;

use anyhow::{bail, Context as _, Result};
use git_crew::hook;
use git_crew::verify::VerifyError;

use super::Context;
use crate::args::HookArgs;
use crate::render;

pub fn run(cx: &Context, args: HookArgs) -> Result<i32> {
    match args.name.as_str() {
        "pre-commit" => {
            let ws = cx.open()?;
            // A repository without the workspace branch reserves nothing;
            // a branch that cannot be read stops the commit, saying why.
            let snap = match ws.snapshot_for(&git_crew::index::Need::Core) {
                Err(git_crew::Error::Read(git_crew::decode::ReadError::NoWorkspace { .. })) => return Ok(0),
                other => other?,
            };
            let Some(top) = ws.store().work_dir() else { return Ok(0) };
            let actor = ws.whoami(cx.actor.as_deref(), &snap.state).ok();
            let paths = hook::staged_paths(top)?;
            if let Err(e) = hook::pre_commit(&ws, actor.as_deref(), &paths) {
                eprintln!("git-crew pre-commit: {e}");
                eprintln!("hint: ask the holder (`git crew msg send --to NAME`), wait, or unstage those paths");
                return Ok(crate::exit::CONFLICT);
            }
        }
        "commit-msg" => {
            let file = args.args.first().context("commit-msg needs the message file")?;
            let message = git_crew::artifact::read_text(std::path::Path::new(file), git_crew::artifact::MAX_TEXT_BYTES)
                .map_err(git_crew::Error::from)?;
            let ws = cx.open()?;
            hook::commit_msg(&ws, &message)?;
            seal(cx, &ws, std::path::Path::new(file), &message)?;
        }
        "post-commit" => {
            // A commit has already happened: report problems, never fail it.
            if let Err(e) = post_commit(cx) {
                eprintln!("git-crew post-commit: no receipt recorded: {}", render::block(&format!("{e:#}"), "  "));
            }
        }
        "pre-push" => {
            let updates = hook::parse_pre_push(&stdin()?)?;
            hook::pre_push(&cx.open()?, &updates)?;
        }
        "pre-receive" => {
            let updates = hook::parse_pre_receive(&stdin()?)?;
            let mut ws = cx.open()?;
            ws.see_quarantine()?;
            if let Err(e) = git_crew::reservations::guard_code_refs(&ws, &updates) {
                eprintln!("git-crew: refused: {}", render::escape(&e.to_string()));
                return Err(e.into());
            }
            if let Err(e) = hook::pre_receive(&ws, &updates) {
                if let git_crew::Error::Verify(VerifyError::Failed { failures }) = &e {
                    for f in failures {
                        eprintln!("git-crew: refused: {}", render::escape(&f.to_string()));
                    }
                }
                return Err(e.into());
            }
        }
        "proc-receive" => {
            // stdout is git's pkt-line channel: everything for people goes to
            // stderr, which the pusher sees as `remote:` lines.
            let ws = cx.open()?;
            let mut input = std::io::BufReader::new(std::io::stdin().lock());
            let outcomes = git_crew::fold::proc_receive(&ws, &mut input, &mut std::io::stdout().lock())?;
            for o in outcomes {
                eprintln!("git-crew: {}", render::escape(&o.summary()));
            }
        }
        other => {
            bail!(
                "unknown hook {other:?}: expected pre-commit, commit-msg, post-commit, pre-push, pre-receive or proc-receive"
            )
        }
    }
    Ok(0)
}

/// Seal the commit being made with the acting actor's crew key (see
/// `git_crew::seal`), unless `crew.seal` is false or this clone has no crew
/// identity with its key here: then the commit is simply not sealed.
fn seal(cx: &Context, ws: &git_crew::workspace::Workspace, file: &std::path::Path, message: &str) -> Result<()> {
    if ws.store().config_string("crew.seal").as_deref() == Some("false") {
        return Ok(());
    }
    let Ok(snap) = ws.snapshot_for(&git_crew::index::Need::Core) else { return Ok(()) };
    let Ok(actor) = ws.whoami(cx.actor.as_deref(), &snap.state) else { return Ok(()) };
    let Ok(key) = ws.signer(&actor, &snap.state) else { return Ok(()) };
    let Some(top) = ws.store().work_dir() else { return Ok(()) };
    let tree = git_crew::seal::staged_tree(top)?;
    let sealed = git_crew::seal::sealed_message(message, &snap.state.workspace, &actor, &key, &tree);
    std::fs::write(file, sealed).with_context(|| format!("writing the sealed message to {}", file.display()))?;
    Ok(())
}

fn post_commit(cx: &Context) -> Result<()> {
    let ws = cx.open()?;
    let (commit, message) = ws.store().head_commit()?;
    if hook::task_trailers(&message).is_empty() {
        return Ok(());
    }
    let snap = ws.snapshot_for(&git_crew::index::Need::Core)?;
    let actor = ws.whoami(cx.actor.as_deref(), &snap.state)?;
    for r in hook::post_commit(&ws, &actor, commit, &message)? {
        eprintln!("git-crew: {}", render::escape(&r.commit_line()));
    }
    Ok(())
}

fn stdin() -> Result<String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).context("reading the hook's input")?;
    Ok(input)
}
