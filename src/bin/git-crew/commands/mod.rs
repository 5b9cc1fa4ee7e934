//! One file per command group. Each parses nothing itself (clap did), calls the
//! library and renders.

mod control;
mod demo;
mod help;
mod hook;
mod id;
mod init;
mod install;
mod live;
mod log;
mod merge_driver;
mod msg;
mod receipt;
mod repair;
mod sync;
mod task;
mod verify;

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use git_crew::record::Record;
use git_crew::sign::KeyStore;
use git_crew::workspace::{Workspace, DEFAULT_BRANCH};
use serde::Serialize;

use crate::args::{Cli, Command};

pub use help::exit_codes_text;

/// A command line that names no command or topic: exit code 2, like clap's
/// own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What every command knows: where, as whom, which branch, which output.
pub struct Context {
    /// Directory to run in.
    pub dir: PathBuf,
    /// `--as`/`CREW_AS`.
    pub actor: Option<String>,
    /// `--branch`/`CREW_BRANCH`.
    pub branch: Option<String>,
    /// `--json`.
    pub json: bool,
}

impl Context {
    /// Open the workspace branch (it may not be initialised yet).
    pub fn open(&self) -> Result<Workspace> {
        let keys = KeyStore::from_env()?;
        let branch = match &self.branch {
            Some(b) => b.clone(),
            None => git_crew::store::Store::open(&self.dir, DEFAULT_BRANCH)?
                .config_string("crew.branch")
                .unwrap_or_else(|| DEFAULT_BRANCH.to_owned()),
        };
        Ok(Workspace::open(&self.dir, &branch, keys)?)
    }
}

/// Run the parsed command line; the exit code on success.
pub fn run(cli: Cli) -> Result<i32> {
    // Like git's -C: relative paths in arguments (artifacts, hook files) are
    // relative to PATH.
    if let Some(d) = &cli.dir {
        std::env::set_current_dir(d).with_context(|| format!("cannot change to {}", d.display()))?;
    }
    let dir = std::env::current_dir()?;
    let cx = Context { dir, actor: cli.actor, branch: cli.branch, json: cli.json };
    match cli.command {
        Command::Help { topic } => help::run(&cx, &topic),
        Command::Init(a) => init::run(&cx, a),
        Command::Id(c) => id::run(&cx, c),
        Command::Task(c) => task::run(&cx, c),
        Command::Board(a) => task::board(&cx, a),
        Command::Next(a) => task::next(&cx, a),
        Command::Receipt(c) => receipt::run(&cx, c),
        Command::Msg(c) => msg::run(&cx, c),
        Command::Inbox(a) => msg::inbox(&cx, a),
        Command::Watch(a) => msg::watch(&cx, a),
        Command::Suspend(a) => control::suspend(&cx, a),
        Command::Resume { name } => control::resume(&cx, &name),
        Command::Alive(a) => control::alive(&cx, a),
        Command::Heartbeat(a) => live::heartbeat(&cx, a),
        Command::Status(a) => live::status(&cx, a),
        Command::Log(a) => log::run(&cx, a),
        Command::Verify(a) => verify::run(&cx, a),
        Command::Demo(a) => demo::run(&cx, a),
        Command::Install(a) => install::run(&cx, a),
        Command::Sync(a) => sync::run(&cx, a),
        Command::Repair(a) => repair::run(&cx, a),
        Command::MergeDriver(a) => merge_driver::run(&cx, a),
        Command::Hook(a) => hook::run(&cx, a),
    }
}

/// Whether `kind` passes a `--kind` filter: a kind, or a prefix ending in `.`.
pub fn kind_matches(filter: Option<&str>, kind: &str) -> bool {
    match filter {
        None => true,
        Some(k) if k.ends_with('.') => kind.starts_with(k),
        Some(k) => kind == k,
    }
}

/// Set by SIGINT and SIGTERM: long-running commands (`inbox --follow`,
/// `watch`) finish their current step and exit 0.
pub static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Route SIGINT and SIGTERM to [`STOP`].
pub fn stop_on_signals() {
    #[cfg(unix)]
    {
        extern "C" fn on_signal(_: libc::c_int) {
            STOP.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    }
}

/// The documented exit code for an error.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.is::<UsageError>() {
        return git_crew::error::EXIT_USAGE;
    }
    match err.downcast_ref::<git_crew::Error>() {
        Some(e) => e.exit_code(),
        None => git_crew::error::EXIT_ERROR,
    }
}

/// The next command to try after `err`, when there is an obvious one.
pub fn hint(err: &anyhow::Error) -> Option<&'static str> {
    if err.is::<UsageError>() {
        return Some("git crew help");
    }
    err.downcast_ref::<git_crew::Error>().and_then(git_crew::Error::hint)
}

/// A record as shown to agents (`--json`) and people.
#[derive(Serialize)]
pub struct RecordView {
    id: String,
    kind: &'static str,
    author: String,
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<String>,
    summary: String,
    fields: serde_json::Value,
}

impl RecordView {
    pub fn new(r: &Record) -> RecordView {
        let fields = match serde_json::to_value(&r.payload) {
            Ok(serde_json::Value::Object(mut m)) if m.len() == 1 => {
                m.values_mut().next().map(std::mem::take).unwrap_or_default()
            }
            _ => serde_json::Value::Null,
        };
        RecordView {
            id: r.id.hex(),
            kind: r.kind(),
            author: r.author.clone(),
            at: r.at.to_string(),
            task: r.task().map(|t| t.hex()),
            summary: r.summary(),
            fields,
        }
    }

    /// The kind's own fields.
    pub fn fields(&self) -> &serde_json::Value {
        &self.fields
    }

    /// One line for people: `7f3a2c9d 2026-…Z alice task.create "Fix login"`.
    pub fn line(&self) -> String {
        format!("{} {} {:<10} {:<14} {}", &self.id[..8], self.at, self.author, self.kind, self.summary)
    }
}
