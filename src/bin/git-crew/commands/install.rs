//! `git crew install [--server|--ci FORGE|--man [DIR]]`.

use anyhow::Result;
use git_crew::error::InstallError;
use git_crew::hook::{self, CLIENT_HOOKS};

use super::Context;
use crate::args::InstallArgs;
use crate::render;

pub fn run(cx: &Context, args: InstallArgs) -> Result<i32> {
    if args.man {
        let dir = match args.man_dir {
            Some(dir) => dir,
            None => super::help::default_man_dir()?,
        };
        let pages = super::help::write_man_pages(&dir)?;
        if cx.json {
            render::json(&serde_json::json!({ "man": dir.display().to_string(), "pages": pages.len() }));
        } else {
            render::lines([format!("Wrote {} manual pages to {}.", pages.len(), dir.display())]);
        }
        return Ok(0);
    }
    let ws = cx.open()?;
    if let Some(forge) = &args.ci {
        let top = ws.store().work_dir().ok_or(git_crew::Error::Install(InstallError::NoWorkTree))?;
        let path = hook::install_ci(top, forge)?;
        if cx.json {
            render::json(&serde_json::json!({ "ci": forge, "path": path.display().to_string() }));
        } else {
            render::lines([format!(
                "Wrote {} (commit it on your code branch; it verifies `crew` on every push).",
                path.display()
            )]);
        }
        return Ok(0);
    }
    let installed = if args.server {
        if args.guard_paths {
            ws.guard_paths()?;
        }
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
