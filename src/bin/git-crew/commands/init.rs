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
