//! `git-crew`: the command-line front end. It parses arguments, calls the
//! library and renders results; errors go to stderr with a documented exit code.

mod args;
mod commands;
mod render;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let json = cli.json;
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            let code = commands::exit_code(&err);
            render::error(&err, code, json);
            ExitCode::from(code as u8)
        }
    }
}
