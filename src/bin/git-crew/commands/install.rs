//! `git crew install [--server]`.

use anyhow::Result;
use git_crew::hook::{self, CLIENT_HOOKS};

use super::Context;
use crate::args::InstallArgs;
use crate::render;

pub fn run(cx: &Context, args: InstallArgs) -> Result<i32> {
    let ws = cx.open()?;
    let installed = if args.server {
        hook::install_server(ws.store())?
    } else {
        ws.install_merge_driver()?;
        let hooks_dir = ws.store().hooks_dir();
        CLIENT_HOOKS.iter().map(|n| hook::install(&hooks_dir, n)).collect::<Result<_, _>>()?
    };
    let installed: Vec<String> = installed.iter().map(|p| p.display().to_string()).collect();
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
