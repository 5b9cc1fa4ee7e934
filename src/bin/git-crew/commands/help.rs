//! `git crew help [COMMAND…|exit-codes]`: the help of any command, and the exit
//! code table. clap's own help subcommand is off so that topics fit in.

use std::path::{Path, PathBuf};

use crate::exit;
use anyhow::{Context as _, Result};
use clap::CommandFactory;
use serde::Serialize;

use super::{Context, UsageError};
use crate::args::Cli;
use crate::render;

/// The topic that prints the exit code table.
pub const EXIT_CODES_TOPIC: &str = "exit-codes";

#[derive(Serialize)]
struct ExitCodeView {
    code: i32,
    name: &'static str,
    meaning: &'static str,
}

pub fn run(cx: &Context, topic: &[String]) -> Result<i32> {
    if topic == [EXIT_CODES_TOPIC] {
        let rows: Vec<ExitCodeView> =
            exit::TABLE.iter().map(|e| ExitCodeView { code: e.code, name: e.name, meaning: e.meaning }).collect();
        if cx.json {
            render::json(&rows);
        } else {
            print!("{}", exit_codes_text());
        }
        return Ok(0);
    }
    let mut command = top_command();
    command.build();
    let mut found = &mut command;
    for (n, name) in topic.iter().enumerate() {
        let path = topic[..n].join(" ");
        found = found.find_subcommand_mut(name).ok_or_else(|| {
            let within = if path.is_empty() { String::new() } else { format!(" of `git crew {path}`") };
            UsageError(format!("no command {name:?}{within}: see `git crew help`"))
        })?;
    }
    let help = found.render_long_help().to_string();
    if cx.json {
        #[derive(Serialize)]
        struct HelpView {
            command: String,
            help: String,
        }
        render::json(&HelpView { command: format!("git crew {}", topic.join(" ")).trim_end().to_owned(), help });
    } else {
        print!("{help}");
    }
    Ok(0)
}

/// The top-level command as `git crew --help`, `git crew help` and the manual
/// show it: the exit code table ends its help.
pub fn top_command() -> clap::Command {
    Cli::command().after_help(exit_codes_text())
}

/// The exit code table as text (also the end of the top-level help).
pub fn exit_codes_text() -> String {
    let mut out = String::from("Exit codes:\n");
    for e in exit::TABLE {
        out.push_str(&format!("  {}  {:<9}  {}\n", e.code, e.name, e.meaning));
    }
    out
}

/// Where `install --man` writes by default: `../share/man/man1` from the
/// directory of this binary. man-db searches `<dir>/../share/man` for every
/// `<dir>` on PATH, so `man git-crew` (and `git crew --help`, which git turns
/// into it) finds the pages with no configuration.
pub fn default_man_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this binary's path for the manual pages; pass --man DIR")?;
    let bin = exe.parent().context("this binary has no directory; pass --man DIR")?;
    Ok(bin.parent().unwrap_or(bin).join("share").join("man").join("man1"))
}

/// Write a manual page for `git-crew` and one for every command and
/// subcommand (`git-crew-task-claim.1`) into `dir`; the paths written.
pub fn write_man_pages(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut top = top_command();
    top.build();
    let mut written = Vec::new();
    let mut queue = vec![(String::from("git-crew"), top)];
    while let Some((name, command)) = queue.pop() {
        for sub in command.get_subcommands() {
            queue.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        let page = dir.join(format!("{name}.1"));
        let mut bytes = Vec::new();
        clap_mangen::Man::new(command.name(name.clone())).render(&mut bytes)?;
        std::fs::write(&page, bytes).with_context(|| format!("cannot write {}", page.display()))?;
        written.push(page);
    }
    written.sort();
    Ok(written)
}
