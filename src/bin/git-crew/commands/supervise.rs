//! `git crew policy`, `usage` and `supervise`: fleet control.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::Result;
use git_crew::hlc::Hlc;
use git_crew::index::Need;
use git_crew::record::kinds::{CrewPolicy, TaskUsage};
use git_crew::state::Policy;
use git_crew::supervise::{self, Escalation};
use git_crew::tasks::{ClaimMode, ClaimTarget};
use git_crew::workspace::Workspace;
use serde::Serialize;

use super::Context;
use crate::args::{PolicyCommand, SuperviseArgs, UsageArgs};
use crate::exit;
use crate::render;

pub fn policy(cx: &Context, cmd: PolicyCommand) -> Result<i32> {
    let ws = cx.open()?;
    match cmd {
        PolicyCommand::Show => {
            let state = ws.snapshot_for(&Need::Core)?.state;
            let view = state.policy().map(PolicyView::new);
            if cx.json {
                render::json(&serde_json::json!({ "policy": view }));
            } else {
                match &view {
                    Some(v) => render::lines(v.lines()),
                    None => {
                        render::lines(["no fleet policy (an admin sets one with `git crew policy set`)".to_owned()])
                    }
                }
            }
        }
        PolicyCommand::Set(a) => {
            let me = cx.me(&ws)?;
            let policy = CrewPolicy {
                stalled_after: a.stalled_after,
                dead_after: a.dead_after,
                runaway_per_minute: a.runaway_per_minute,
                task_seconds: a.task_time,
                tokens: a.tokens,
                cost: a.cost,
                budgets: a.budgets,
                grants: a.grants,
                channel: a.channel.map(|c| c.trim_start_matches('#').to_owned()),
            };
            cx.wrote(&ws, ws.set_policy(&me, policy)?.records)?;
        }
    }
    Ok(0)
}

/// The policy as `policy show --json` gives it: the record's fields, and who
/// set it when.
#[derive(Serialize)]
struct PolicyView<'a> {
    #[serde(flatten)]
    rules: &'a CrewPolicy,
    set_by: &'a str,
    set_at: String,
    record: String,
}

impl<'a> PolicyView<'a> {
    fn new(p: &'a Policy) -> PolicyView<'a> {
        PolicyView { rules: &p.rules, set_by: &p.by, set_at: p.at.rfc3339(), record: p.record.hex() }
    }

    fn lines(&self) -> Vec<String> {
        let r = self.rules;
        let limit = |name: &str, v: Option<String>| format!("{name}: {}", v.unwrap_or_else(|| "not enforced".into()));
        let mut out = vec![
            format!("fleet policy set by {} at {} ({})", self.set_by, self.set_at, &self.record[..8]),
            limit("stalled after", r.stalled_after.map(|s| format!("{s}s"))),
            limit("dead after", r.dead_after.map(|s| format!("{s}s"))),
            limit("runaway above", r.runaway_per_minute.map(|n| format!("{n} records a minute"))),
            limit("budget per task: time", r.task_seconds.map(|s| format!("{s}s"))),
            limit("budget per task: tokens", r.tokens.map(|n| n.to_string())),
            limit("budget per task: cost", r.cost.clone()),
            format!("requeues told in #{}", r.channel.as_deref().unwrap_or("general")),
        ];
        for b in &r.budgets {
            let parts = [
                b.task_seconds.map(|s| format!("time {s}s")),
                b.tokens.map(|n| format!("tokens {n}")),
                b.cost.as_ref().map(|c| format!("cost {c}")),
            ];
            let parts: Vec<String> = parts.into_iter().flatten().collect();
            out.push(format!(
                "budget of {}: {}",
                b.actor,
                if parts.is_empty() { "none".into() } else { parts.join(", ") }
            ));
        }
        for g in &r.grants {
            let powers: Vec<&str> = g.powers.iter().map(|p| p.as_str()).collect();
            out.push(format!("{} may {}", g.actor, powers.join(" and ")));
        }
        out
    }
}

pub fn usage(cx: &Context, args: UsageArgs) -> Result<i32> {
    let ws = cx.open()?;
    let me = cx.me(&ws)?;
    let task = ws.find_task(&args.task)?;
    let usage = TaskUsage { task, tokens: args.tokens, cost: args.cost, seconds: args.seconds };
    cx.wrote(&ws, ws.report_usage(&me, usage)?.records)?;
    Ok(0)
}

/// One line of `supervise`'s output: a step taken (or, with `--dry-run`,
/// one it would take), or a change of who supervises.
#[derive(Serialize)]
struct StepView<'a> {
    kind: &'static str,
    at: String,
    #[serde(flatten)]
    step: &'a Escalation,
    /// The records that took it (none with --dry-run).
    records: Vec<String>,
    published: bool,
}

pub fn supervise(cx: &Context, args: SuperviseArgs) -> Result<i32> {
    let ws = cx.open()?;
    let me = cx.me(&ws)?;
    let remote = args.remote.clone().or_else(|| git_crew::sync::default_remote(&ws)).filter(|_| !cx.offline);
    if args.dry_run {
        if let Some(r) = &remote {
            if let Err(e) = git_crew::sync::sync(&ws, r) {
                render::warn(&format!("could not sync with {r}, judging this clone's copy: {e}"));
            }
        }
        let snap = ws.snapshot_for(&Need::All)?;
        let live = ws.liveness(&snap.state)?;
        for e in supervise::plan(&snap.state, &live, &me, Hlc::now().ms) {
            print_step(cx, "supervise.would", &e, &[], false);
        }
        return Ok(0);
    }
    let mut round = Round { cx, ws: &ws, me: &me, remote: remote.as_deref(), args: &args, leading: None, held: None };
    round.warn_without_grant()?;
    if args.once {
        if let Some(r) = &remote {
            git_crew::sync::sync(&ws, r)?;
        }
        round.run()?;
        return Ok(0);
    }
    let stop = super::stop_on_signals()?;
    let interval = Duration::from_secs(args.interval);
    let beat = super::live::session(&me, interval, false)?;
    let mut last: Option<Instant> = None;
    git_crew::sync::follow(
        &ws,
        remote.as_deref().map(|r| (r, interval)),
        Some(&beat),
        &stop,
        |_, _| {
            if last.is_none_or(|t| t.elapsed() >= interval) {
                last = Some(Instant::now());
                round.run()?;
            }
            Ok(())
        },
        |e| render::warn(&format!("sync failed, will retry: {}", render::block(&e.to_string(), "  "))),
    )?;
    round.resign();
    Ok(0)
}

/// A supervisor's rounds: elect, and, while elected, act.
struct Round<'a> {
    cx: &'a Context,
    ws: &'a Workspace,
    me: &'a str,
    remote: Option<&'a str>,
    args: &'a SuperviseArgs,
    /// Whether it led in the last round (none yet: the first round says).
    leading: Option<bool>,
    /// The election task it holds.
    held: Option<git_crew::id::Id>,
}

impl Round<'_> {
    /// Say once, at the start, when the policy grants this supervisor
    /// nothing: it may not write a step, so it will only watch.
    fn warn_without_grant(&self) -> git_crew::Result<()> {
        let state = self.ws.snapshot_for(&Need::Core)?.state;
        let admin = state.actors.get(self.me).is_some_and(|a| a.is_admin());
        let powers = state.policy().map_or(0, |p| p.powers(self.me).len());
        if powers == 0 && !admin {
            render::warn(&format!(
                "the fleet policy grants {} no power: it takes no step (an admin grants one: `git crew policy set \
                 --grant {}=release,suspend`)",
                self.me, self.me
            ));
        }
        Ok(())
    }

    fn run(&mut self) -> git_crew::Result<()> {
        let leading = self.elect()?;
        if Some(leading) != self.leading {
            self.leading = Some(leading);
            let kind = if leading { "supervise.lead" } else { "supervise.standby" };
            stream(self.cx, &serde_json::json!({ "kind": kind, "at": Hlc::now().rfc3339(), "actor": self.me }), || {
                match leading {
                    true => format!("{} supervises the fleet", self.me),
                    false => format!("{} stands by: another supervisor holds the election", self.me),
                }
            });
        }
        if !leading {
            return Ok(());
        }
        let snap = self.ws.snapshot_for(&Need::All)?;
        let live = self.ws.liveness(&snap.state)?;
        let now = Hlc::now().ms;
        for e in supervise::plan(&snap.state, &live, self.me, now) {
            match self.ws.escalate(self.me, &e, &live, now, self.remote) {
                Ok(Some(w)) => {
                    let ids: Vec<String> = w.records.iter().map(|r| r.id.hex()).collect();
                    print_step(self.cx, "supervise.step", &e, &ids, self.remote.is_some());
                    self.notify(&e);
                }
                Ok(None) => {}
                Err(err) if exit::code_of(&err) == exit::SUSPENDED => return Err(err),
                Err(err) => render::warn(&format!("could not {} {}: {err}", e.step.as_str(), e.actor)),
            }
        }
        Ok(())
    }

    /// Hold the election task (claiming it when its lease ran out); whether
    /// this supervisor holds it now.
    fn elect(&mut self) -> git_crew::Result<bool> {
        let (id, made) = self.ws.election(self.me)?;
        if let (Some(record), Some(remote)) = (made, self.remote) {
            git_crew::publish::publish(self.ws, &git_crew::publish::Target::Remote(remote.to_owned()), vec![record])?;
        }
        let snap = self.ws.snapshot_for(&Need::Tasks(vec![id]))?;
        let task = snap.state.task(&id).map_err(git_crew::Error::Refused)?;
        let now = Hlc::now().ms;
        self.held = None;
        match task.holder_at(now).filter(|c| !snap.state.is_stopped(&c.actor)) {
            Some(c) if c.actor == self.me => {
                self.held = Some(id);
                Ok(true)
            }
            Some(_) => Ok(false),
            None => {
                let mode = match self.remote {
                    Some(r) => ClaimMode::Online(r.to_owned()),
                    None => ClaimMode::Local,
                };
                match self.ws.claim(self.me, &ClaimTarget::Task(id), self.args.lease, &mode) {
                    Ok(_) => {
                        self.held = Some(id);
                        Ok(true)
                    }
                    // Another supervisor won it.
                    Err(e) if exit::code_of(&e) == exit::CONFLICT => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Stopping cleanly, give the election up so a standby takes over at once
    /// rather than when the lease runs out.
    fn resign(&self) {
        let Some(id) = self.held.filter(|_| self.leading == Some(true)) else { return };
        let reason = Some("the supervisor stopped".to_owned());
        let released = self.ws.release(self.me, id, reason).and_then(|record| match self.remote {
            Some(r) => {
                git_crew::publish::publish(self.ws, &git_crew::publish::Target::Remote(r.to_owned()), vec![record])
                    .map(|_| ())
            }
            None => Ok(()),
        });
        if let Err(e) = released {
            render::warn(&format!(
                "could not give the election up (a standby takes over when its lease runs out): {e}"
            ));
        }
    }

    /// Run `--notify` with the step as JSON on its standard input.
    fn notify(&self, e: &Escalation) {
        let Some(cmd) = &self.args.notify else { return };
        let json = serde_json::to_string(e).unwrap_or_default();
        let spawned = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .env("CREW_FLAG", e.flag.as_str())
            .env("CREW_STEP", e.step.as_str())
            .env("CREW_ACTOR", &e.actor)
            .env("CREW_TASK", e.task.map(|t| t.hex()).unwrap_or_default())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(err) => return render::warn(&format!("--notify could not run {cmd:?}: {err}")),
        };
        if let Some(mut stdin) = child.stdin.take() {
            let _ = writeln!(stdin, "{json}");
        }
        // A page or a mail takes a moment; a hung command does not stop the supervisor.
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) if !status.success() => {
                    return render::warn(&format!("--notify {cmd:?} exited with {status}"));
                }
                Ok(Some(_)) => return,
                Ok(None) if started.elapsed() > NOTIFY_PATIENCE => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return render::warn(&format!(
                        "--notify {cmd:?} took over {}s and was stopped",
                        NOTIFY_PATIENCE.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(err) => return render::warn(&format!("--notify {cmd:?}: {err}")),
            }
        }
    }
}

/// How long a `--notify` command may run.
const NOTIFY_PATIENCE: Duration = Duration::from_secs(10);

fn print_step(cx: &Context, kind: &'static str, e: &Escalation, records: &[String], published: bool) {
    let view = StepView { kind, at: Hlc::now().rfc3339(), step: e, records: records.to_vec(), published };
    stream(cx, &view, || {
        let on = e.task.map(|t| format!(" on {}", t.short())).unwrap_or_default();
        let verb = if kind == "supervise.would" { "would " } else { "" };
        format!("{verb}{} {} ({}{on}): {}", e.step.as_str(), e.actor, e.flag.as_str(), e.why)
    });
}

/// One line now, JSON or text: a supervisor's output is read as it comes.
fn stream<T: Serialize>(cx: &Context, value: &T, text: impl FnOnce() -> String) {
    let line = if cx.json { serde_json::to_string(value).unwrap_or_default() } else { render::escape(&text()) };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
