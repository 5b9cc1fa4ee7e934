//! `git crew install [--server]`.

use anyhow::Result;
use git_crew::hook::{self, CLIENT_HOOKS, SERVER_HOOKS};

use super::Context;
use crate::args::InstallArgs;
use crate::render;

pub fn run(cx: &Context, args: InstallArgs) -> Result<i32> {
    let ws = cx.open()?;
    let hooks_dir = ws.store().hooks_dir();
    let names = if args.server { SERVER_HOOKS } else { CLIENT_HOOKS };
    if !args.server {
        ws.install_merge_driver()?;
    }
    let installed: Vec<String> = names
        .iter()
        .map(|n| hook::install(&hooks_dir, n).map(|p| p.display().to_string()))
        .collect::<Result<_, _>>()?;
    if cx.json {
        render::json(&serde_json::json!({ "server": args.server, "merge_driver": !args.server, "hooks": installed }));
    } else {
        if !args.server {
            println!("Configured the crew merge driver (merge.crew.driver).");
        }
        render::lines(installed.iter().map(|p| format!("Installed {p}")));
    }
    Ok(0)
}
