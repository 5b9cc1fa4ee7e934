//! `git crew help [COMMAND…|exit-codes]`: the help of any command, and the exit
//! code table. clap's own help subcommand is off so that topics fit in.

use anyhow::Result;
use clap::CommandFactory;
use git_crew::error::EXIT_CODES;
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
            EXIT_CODES.iter().map(|e| ExitCodeView { code: e.code, name: e.name, meaning: e.meaning }).collect();
        if cx.json {
            render::json(&rows);
        } else {
            print!("{}", exit_codes_text());
        }
        return Ok(0);
    }
    let mut command = Cli::command();
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

/// The exit code table as text (also the end of the top-level help).
pub fn exit_codes_text() -> String {
    let mut out = String::from("Exit codes:\n");
    for e in EXIT_CODES {
        out.push_str(&format!("  {}  {:<9}  {}\n", e.code, e.name, e.meaning));
    }
    out
}
