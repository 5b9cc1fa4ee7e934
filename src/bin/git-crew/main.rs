//! `git-crew`: the command-line front end. It parses arguments, calls the
//! library and renders results; errors go to stderr with a documented exit code
//! (with `--json`, as exactly one JSON object, usage errors included).

mod args;
mod commands;
mod exit;
mod render;

use std::process::ExitCode;

use clap::FromArgMatches;

fn main() -> ExitCode {
    let json = wants_json(std::env::args_os());
    let command = commands::top_command();
    let cli = match command.try_get_matches().and_then(|m| args::Cli::from_arg_matches(&m)) {
        Ok(cli) => cli,
        Err(e) => return usage(e, json),
    };
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            let code = exit::code(&err);
            render::error(&format!("{err:#}"), code, exit::hint(&err), json);
            ExitCode::from(code as u8)
        }
    }
}

/// Whether `--json` is among the arguments (before a `--`): known even when
/// the rest of the command line does not parse.
fn wants_json(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.skip(1).take_while(|a| a != "--").any(|a| a == "--json")
}

/// A command line clap could not take: help and version as clap prints them;
/// usage errors as clap prints them, or as one JSON error with `--json`.
fn usage(e: clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    let informational = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if !json || informational {
        let _ = e.print();
        return ExitCode::from(e.exit_code() as u8);
    }
    let rendered = e.render().to_string();
    let message = rendered.trim_start_matches("error: ").split("\n\n").next().unwrap_or_default().trim();
    render::error(message, exit::USAGE, Some("git crew help"), true);
    ExitCode::from(exit::USAGE as u8)
}
