//! One file per command group. Each parses nothing itself (clap did), calls the
//! library and renders.

mod control;
mod demo;
mod guide;
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
mod reserve;
mod supervise;
mod sync;
mod task;
mod verify;

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use git_crew::publish::{Publication, Target};
use git_crew::record::Record;
use git_crew::sign::KeyStore;
use git_crew::workspace::{Workspace, DEFAULT_BRANCH};
use serde::Serialize;

use crate::args::{Cli, Command};
use crate::render;

pub use help::top_command;

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
    /// `--offline`.
    pub offline: bool,
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

    /// Who this command acts as (`--as`, `CREW_AS`, `crew.as`).
    pub fn me(&self, ws: &Workspace) -> Result<String> {
        let snap = ws.snapshot_for(&git_crew::index::Need::Core)?;
        Ok(ws.whoami(self.actor.as_deref(), &snap.state)?)
    }

    /// Where this command's writes go: nowhere with `--offline` or
    /// `crew.publish false`, else the default remote when there is one.
    pub fn target(&self, ws: &Workspace) -> Target {
        git_crew::publish::target(ws, self.offline, None)
    }

    /// Publish the records a write just committed and print the result
    /// ([`Context::print_write`]); the records as they are on the remote.
    pub fn wrote(&self, ws: &Workspace, records: Vec<Record>) -> Result<Vec<Record>> {
        self.wrote_with(ws, records, serde_json::Map::new())
    }

    /// [`Context::wrote`], adding `extra` to the JSON envelope.
    pub fn wrote_with(
        &self,
        ws: &Workspace,
        records: Vec<Record>,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<Record>> {
        let (records, publication) = self.publish(ws, records)?;
        self.print_write(&records, &publication, extra);
        Ok(records)
    }

    /// Publish the records a write just committed, as [`Context::target`]
    /// says. A write the remote did not get although one is configured is
    /// said on stderr, never silently (and in the JSON by `print_write`).
    pub fn publish(&self, ws: &Workspace, records: Vec<Record>) -> Result<(Vec<Record>, Publication)> {
        let (records, publication) = git_crew::publish::publish(ws, &self.target(ws), records)?;
        if let (Some(remote), Some(why)) = (&publication.remote, &publication.why) {
            render::warn(&format!("not published to {remote}: {why}"));
        }
        Ok((records, publication))
    }

    /// Print a write's result: with `--json` the one envelope every write
    /// has (`record`, `records` when there are several, `published`,
    /// `remote`, `why`, and what the command adds); else a line per record.
    pub fn print_write(
        &self,
        records: &[Record],
        publication: &Publication,
        extra: serde_json::Map<String, serde_json::Value>,
    ) {
        let views: Vec<RecordView> = records.iter().map(RecordView::new).collect();
        if self.json {
            let mut out = serde_json::Map::new();
            out.insert("record".into(), serde_json::to_value(views.first()).unwrap_or_default());
            if views.len() > 1 {
                out.insert("records".into(), serde_json::to_value(&views).unwrap_or_default());
            }
            if let Ok(serde_json::Value::Object(p)) = serde_json::to_value(publication) {
                out.extend(p);
            }
            out.extend(extra);
            render::json(&out);
        } else {
            render::lines(views.iter().map(RecordView::line));
        }
    }
}

/// The environment variable that skews this process's clock, in
/// milliseconds (a fault drill's knob: `examples/fleet.rs --faults`).
const CLOCK_SKEW_VAR: &str = "GIT_CREW_CLOCK_SKEW_MS";

/// Run the parsed command line; the exit code on success.
pub fn run(cli: Cli) -> Result<i32> {
    // Like git's -C: relative paths in arguments (artifacts, hook files) are
    // relative to PATH.
    if let Some(d) = &cli.dir {
        std::env::set_current_dir(d).with_context(|| format!("cannot change to {}", d.display()))?;
    }
    // Hooks and the merge driver judge with the machine's clock: a push to a
    // path hands the server's hook the pusher's environment, skew included.
    let judge = matches!(cli.command, Command::Hook(_) | Command::MergeDriver(_));
    if let Some(skew) = std::env::var_os(CLOCK_SKEW_VAR).filter(|_| !judge) {
        let ms = skew
            .to_str()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| UsageError(format!("{CLOCK_SKEW_VAR}={skew:?} is not a whole number of milliseconds")))?;
        git_crew::hlc::skew_clock(ms);
    }
    let dir = std::env::current_dir()?;
    let cx = Context { dir, actor: cli.actor, branch: cli.branch, json: cli.json, offline: cli.offline };
    match cli.command {
        Command::Help { topic } => help::run(&cx, &topic),
        Command::Guide => guide::run(&cx),
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
        Command::Policy(c) => supervise::policy(&cx, c),
        Command::Usage(a) => supervise::usage(&cx, a),
        Command::Supervise(a) => supervise::supervise(&cx, a),
        Command::Reserve(a) => reserve::reserve(&cx, a),
        Command::Unreserve { id } => reserve::unreserve(&cx, &id),
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

/// A flag SIGINT and SIGTERM set: long-running commands (`inbox --follow`,
/// `watch`) finish their current step and exit 0.
pub fn stop_on_signals() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&stop))
            .with_context(|| format!("cannot handle signal {signal}"))?;
    }
    Ok(stop)
}

/// A record as shown to agents (`--json`) and people.
#[derive(Serialize)]
pub struct RecordView {
    id: String,
    kind: &'static str,
    author: String,
    /// RFC 3339, milliseconds, UTC.
    at: String,
    /// The clock's counter among records of one millisecond (0 mostly).
    counter: u32,
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
            at: r.at.rfc3339(),
            counter: r.at.counter,
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

/// Milliseconds as the whole seconds every duration in `--json` is given in
/// (fields ending in `_secs`), rounded toward zero.
pub fn secs(ms: i64) -> i64 {
    ms / 1000
}

/// A suspension or a key revocation, as every `--json` output shows one
/// (`suspended` and `revoked` of `status`, `alive`, `id list`, `id show`):
/// who, when (RFC 3339), why, and the record that did it.
#[derive(Serialize)]
pub struct StopView {
    by: String,
    at: String,
    reason: Option<String>,
    record: String,
}

impl StopView {
    pub fn suspension(s: &git_crew::state::Suspension) -> StopView {
        StopView { by: s.by.clone(), at: s.at.rfc3339(), reason: s.reason.clone(), record: s.record.hex() }
    }

    pub fn revocation(r: &git_crew::state::Revocation) -> StopView {
        StopView { by: r.by.clone(), at: r.at.rfc3339(), reason: r.reason.clone(), record: r.record.hex() }
    }
}
