//! `git crew init`.

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::args::InitArgs;
use crate::render;

#[derive(Serialize)]
struct Initialized {
    workspace: String,
    branch: String,
    admin: String,
    key_path: String,
    commit: String,
}

pub fn run(cx: &Context, args: InitArgs) -> Result<i32> {
    let ws = cx.open()?;
    // Never a second workspace beside the team's: a clone whose remote has
    // the branch syncs instead. (An unreachable remote does not stop an
    // offline start.)
    if let Some(remote) = git_crew::sync::default_remote(&ws) {
        if git_crew::sync::remote_has_branch(&ws, &remote).unwrap_or(false) {
            let branch = ws.store().branch().to_owned();
            return Err(git_crew::Error::RemoteHasWorkspace { remote, branch }.into());
        }
    }
    let admin = args
        .admin
        .or_else(|| cx.actor.clone())
        .or_else(|| std::env::var("USER").ok().map(|u| u.to_lowercase()))
        .unwrap_or_else(|| "admin".to_owned());
    let done = ws.init(&admin, args.name.as_deref())?;
    let view = Initialized {
        workspace: done.workspace.hex(),
        branch: ws.store().branch().to_owned(),
        admin: done.admin,
        key_path: done.key_path.display().to_string(),
        commit: done.commit.to_string(),
    };
    if cx.json {
        render::json(&view);
    } else {
        println!("Created workspace {} on branch {:?}.", &view.workspace[..8], view.branch);
        println!("Admin: {} (private key: {})", view.admin, view.key_path);
        println!("Next: git crew id new NAME --role agent   |   git crew task add TITLE");
    }
    Ok(0)
}
