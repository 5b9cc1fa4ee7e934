//! `git crew heartbeat` and `status`, and the sessions of long-running commands.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::time::Duration;

use anyhow::Result;
use git_crew::hlc::Hlc;
use git_crew::liveness::{ActorStatus, Beating, Flag, InvalidBeat, Session};
use git_crew::workspace::Workspace;
use serde::Serialize;

use super::{Context, RecordView, StopView};
use crate::args::{HeartbeatArgs, StatusArgs};
use crate::render;

use crate::exit;

/// The session of a long-running command that beats every `interval`.
pub fn session(actor: &str, interval: Duration, listening: bool) -> Result<Beating> {
    let ttl = (interval.as_secs() * 3).max(3);
    Ok(Beating::new(actor, None, std::process::id(), ttl, listening)?)
}

/// Print the audit flags that appeared (`audit.flag`) and cleared
/// (`audit.clear`) since the last call, those `keep` keeps (by event kind and
/// the flag's actor).
pub fn emit_flag_changes(
    ws: &Workspace,
    shown: &mut BTreeSet<Flag>,
    json: bool,
    keep: impl Fn(&str, &str) -> bool,
) -> git_crew::Result<()> {
    let now: BTreeSet<Flag> = ws.status(Hlc::now().ms)?.flags.into_iter().collect();
    let mut out = std::io::stdout().lock();
    let appeared = now.difference(shown).map(|f| ("audit.flag", f));
    let cleared = shown.difference(&now).map(|f| ("audit.clear", f));
    for (event, flag) in appeared.chain(cleared).filter(|(event, flag)| keep(event, flag.actor())) {
        let line = if json {
            serde_json::to_string(&serde_json::json!({ "kind": event, "at": Hlc::now().rfc3339(), "audit": flag }))
                .unwrap_or_default()
        } else {
            render::escape(&format!("{event} {flag}"))
        };
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    *shown = now;
    Ok(())
}

pub fn heartbeat(cx: &Context, args: HeartbeatArgs) -> Result<i32> {
    let ws = cx.open()?;
    let remote = args.remote.or_else(|| git_crew::sync::default_remote(&ws)).filter(|_| !args.no_sync && !cx.offline);
    // A suspension published on the remote stops this beat (exit 5) before it
    // is made; an unreachable remote is reported by the sync below.
    let _ = super::control::ask_remote(&ws, remote.as_deref());
    let state = ws.snapshot_for(&git_crew::index::Need::Core)?.state;
    let me = ws.whoami(cx.actor.as_deref(), &state)?;
    let session = args.session.unwrap_or_else(|| git_crew::liveness::one_shot_session(ws.store().git_dir(), &me));
    let pid = std::os::unix::process::parent_id();
    let beating = Beating::new(&me, Some(session), pid, args.ttl.unwrap_or(90), args.listening)?;
    let beat = ws.beat(&beating, args.end)?;
    let renewed = if args.end { Vec::new() } else { ws.renew_leases(&me)? };
    // Like a write: a remote out of reach keeps the beat and the renewals on
    // this clone, says so, and the next heartbeat or sync publishes them.
    let (synced, why) = match &remote {
        Some(r) => match git_crew::sync::sync(&ws, r) {
            Ok(s) => (Some(s), None),
            Err(e) => {
                let why = format!("{e}; kept on this clone: the next heartbeat or `git crew sync` publishes it");
                render::warn(&format!("not published to {r}: {why}"));
                (None, Some(why))
            }
        },
        None => (None, Some("no remote, --no-sync or --offline: kept on this clone".to_owned())),
    };
    if cx.json {
        render::json(&serde_json::json!({
            "actor": me,
            "session": beating.session,
            "ref": git_crew::layout::live_ref(&me, &beating.session),
            "beat": RecordView::new(&beat),
            "ttl": beating.ttl,
            "ended": args.end,
            "renewed": renewed.iter().map(RecordView::new).collect::<Vec<_>>(),
            "synced": synced.as_ref().map(super::sync::SyncedView::new),
            "published": synced.is_some(),
            "why": why,
        }));
    } else {
        let what = if args.end { "ended" } else { "alive" };
        let head = format!("{me} session {} {what} (ttl {}s)", beating.session, beating.ttl);
        render::lines(
            std::iter::once(head).chain(renewed.iter().map(|r| format!("renewed {}", RecordView::new(r).line()))),
        );
    }
    Ok(0)
}

#[derive(Serialize)]
struct StatusView<'a> {
    at: String,
    actors: Vec<ActorView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<&'a [Flag]>,
    invalid_beats: &'a [InvalidBeat],
}

/// One actor in `status --json`: the library's [`ActorStatus`] with times in
/// RFC 3339, ids in hex and durations in seconds.
#[derive(Serialize)]
struct ActorView<'a> {
    name: &'a str,
    role: &'static str,
    suspended: Option<StopView>,
    revoked: Option<StopView>,
    sessions: Vec<SessionView<'a>>,
    /// When its last counted record was written (RFC 3339), or null.
    last_at: Option<String>,
    records: u64,
    claims: Vec<HeldView<'a>>,
}

impl<'a> ActorView<'a> {
    fn new(a: &'a ActorStatus) -> ActorView<'a> {
        ActorView {
            name: &a.name,
            role: a.role.as_str(),
            suspended: a.suspended.as_ref().map(StopView::suspension),
            revoked: a.revoked.as_ref().map(StopView::revocation),
            sessions: a.sessions.iter().map(SessionView::new).collect(),
            last_at: a.last_record.map(|t| t.rfc3339()),
            records: a.records,
            claims: a
                .claims
                .iter()
                .map(|c| HeldView {
                    task: c.task.hex(),
                    title: &c.title,
                    lease_left_secs: super::secs(c.lease_left_ms),
                })
                .collect(),
        }
    }
}

/// A live session, as its last beat describes it.
#[derive(Serialize)]
struct SessionView<'a> {
    actor: &'a str,
    session: &'a str,
    host: &'a str,
    pid: u32,
    started: String,
    /// When it last beat.
    beat: String,
    /// Seconds each beat keeps it alive (the beat's `ttl`).
    ttl: u64,
    listening: bool,
    ended: bool,
}

impl<'a> SessionView<'a> {
    fn new(s: &'a Session) -> SessionView<'a> {
        SessionView {
            actor: &s.actor,
            session: &s.session,
            host: &s.host,
            pid: s.pid,
            started: s.started.rfc3339(),
            beat: s.beat.rfc3339(),
            ttl: s.ttl,
            listening: s.listening,
            ended: s.ended,
        }
    }
}

/// A claim an actor holds, with the lease left in seconds (negative: ran out).
#[derive(Serialize)]
struct HeldView<'a> {
    task: String,
    title: &'a str,
    lease_left_secs: i64,
}

pub fn status(cx: &Context, args: StatusArgs) -> Result<i32> {
    let ws = cx.open()?;
    let now = Hlc::now();
    let report = ws.status(now.ms)?;
    let flags = &report.flags;
    if cx.json {
        let view = StatusView {
            at: now.rfc3339(),
            actors: report.actors.iter().map(ActorView::new).collect(),
            flags: args.audit.then_some(flags.as_slice()),
            invalid_beats: &report.invalid,
        };
        render::json(&view);
    } else {
        let mut out = Vec::new();
        for a in &report.actors {
            actor_lines(&mut out, a, now.ms);
        }
        out.extend(report.invalid.iter().map(|b| format!("invalid beat on {}: {}", b.name, b.reason)));
        if args.audit {
            if flags.is_empty() {
                out.push("audit: nothing flagged".to_owned());
            }
            out.extend(flags.iter().map(|f| format!("flag: {f}")));
        }
        render::lines(out);
    }
    Ok(if args.audit && !flags.is_empty() { exit::FLAGGED } else { 0 })
}

/// `status` lines about one actor.
fn actor_lines(out: &mut Vec<String>, a: &ActorStatus, now_ms: i64) {
    let state = match (&a.suspended, &a.revoked) {
        (Some(s), _) => format!("{s}"),
        (None, Some(v)) => format!("key {v}"),
        (None, None) => "active".to_owned(),
    };
    let last = a.last_record.map_or("never".to_owned(), |t| t.to_string());
    out.push(format!("{} {:<6} {state}; last record {last}", render::fit(&a.name, 16), a.role.as_str()));
    for s in &a.sessions {
        let listening = if s.listening { " listening" } else { "" };
        out.push(format!(
            "  session {} on {} pid {}{listening}, beat {} ({}s left)",
            s.session,
            s.host,
            s.pid,
            s.beat,
            s.left_ms(now_ms) / 1000
        ));
    }
    for c in &a.claims {
        let lease = if c.lease_left_ms > 0 {
            format!("{}s left", c.lease_left_ms / 1000)
        } else {
            format!("ran out {}s ago", -c.lease_left_ms / 1000)
        };
        out.push(format!("  holds {} {:?}, lease {lease}", c.task.short(), c.title));
    }
}
