//! `git crew msg …`, `inbox` and `watch`.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use git_crew::error::{AddressError, ArgumentError};
use git_crew::hlc::Hlc;
use git_crew::index::Need;
use git_crew::messages::{self, Item, NewMessage, Target};
use git_crew::record::kinds::Channel;
use git_crew::record::Record;
use git_crew::workspace::Workspace;
use serde::Serialize;

use super::{Context, RecordView};
use crate::args::{InboxArgs, MsgCommand, WatchArgs};
use crate::render;

/// An inbox item for `--json`: the record plus why it is here (and, for a
/// write of mine a sync dropped, why it was dropped).
#[derive(Serialize)]
struct ItemView {
    reason: ReasonView,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<String>,
    #[serde(flatten)]
    record: RecordView,
    #[serde(skip)]
    id: git_crew::id::Id,
    #[serde(skip)]
    order: git_crew::record::OrderKey,
}

/// Why an item is in the inbox: the fold's reasons, or `dropped`.
#[derive(Clone, Copy, Serialize)]
#[serde(untagged)]
enum ReasonView {
    Fold(messages::Reason),
    Dropped(&'static str),
}

impl ItemView {
    fn new(item: &Item) -> ItemView {
        ItemView::of(ReasonView::Fold(item.reason), None, &item.record)
    }

    fn dropped(note: &messages::DroppedNote) -> ItemView {
        ItemView::of(ReasonView::Dropped("dropped"), Some(note.why.clone()), &note.record)
    }

    fn of(reason: ReasonView, why: Option<String>, r: &Record) -> ItemView {
        ItemView { reason, why, record: RecordView::new(r), id: r.id, order: r.order_key() }
    }

    fn line(&self) -> String {
        let reason = match self.reason {
            ReasonView::Fold(r) => format!("{r:?}").to_lowercase(),
            ReasonView::Dropped(d) => d.to_owned(),
        };
        let why = self.why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
        format!("{reason:<8} {}{why}", self.record.line())
    }
}

/// `me`'s unread items, oldest first: what the fold delivered and my writes a
/// sync dropped from this clone.
fn unread(ws: &Workspace, me: &str) -> git_crew::Result<Vec<ItemView>> {
    let (_, items) = ws.inbox(me)?;
    let mut views: Vec<ItemView> = items.iter().map(ItemView::new).collect();
    views.extend(ws.dropped_notes(me)?.iter().map(ItemView::dropped));
    views.sort_by_key(|v| v.order);
    Ok(views)
}

/// One line of the watch stream.
#[derive(Serialize)]
struct WatchView<'a> {
    id: String,
    kind: &'a str,
    author: &'a str,
    at: String,
    counter: u32,
    subject: String,
    summary: String,
}

impl<'a> WatchView<'a> {
    fn new(r: &'a Record) -> WatchView<'a> {
        WatchView {
            id: r.id.hex(),
            kind: r.kind(),
            author: &r.author,
            at: r.at.rfc3339(),
            counter: r.at.counter,
            subject: messages::subject(r),
            summary: r.summary(),
        }
    }
}

/// A channel in `msg channels --json`, with its times in RFC 3339.
#[derive(Serialize)]
struct ChannelView<'a> {
    name: &'a str,
    direct: bool,
    joined: bool,
    members: &'a [String],
    messages: u64,
    created_by: &'a str,
    created_at: String,
    last_at: String,
}

impl<'a> ChannelView<'a> {
    fn new(c: &'a messages::ChannelSummary) -> ChannelView<'a> {
        ChannelView {
            name: &c.name,
            direct: c.direct,
            joined: c.joined,
            members: &c.members,
            messages: c.messages,
            created_by: &c.created_by,
            created_at: c.created_at.rfc3339(),
            last_at: c.last_at.rfc3339(),
        }
    }
}

fn me(cx: &Context, ws: &Workspace) -> Result<String> {
    cx.me(ws)
}

/// `#name` is a channel; a bare name is an actor.
fn target(to: &str) -> Target {
    match to.strip_prefix('#') {
        Some(channel) => Target::Channel(channel.to_owned()),
        None => Target::Actor(to.to_owned()),
    }
}

/// A time: a stamp, any RFC 3339 time, or a day (its midnight UTC).
fn parse_time(s: &str) -> Result<Hlc> {
    Hlc::parse_loose(s).map_err(|_| git_crew::Error::from(ArgumentError::Time(s.to_owned())).into())
}

/// A channel that does not parse, as an error.
fn channel_error(reason: String) -> git_crew::Error {
    ArgumentError::Channel(reason).into()
}

/// The remote a following command syncs with, if any.
fn follow_remote(ws: &Workspace, remote: Option<String>) -> Option<String> {
    remote.or_else(|| git_crew::sync::default_remote(ws))
}

pub fn run(cx: &Context, cmd: MsgCommand) -> Result<i32> {
    let ws = cx.open()?;
    match cmd {
        MsgCommand::Send { text, to, task, reply_to, thread, file } => {
            let me = me(cx, &ws)?;
            let text = match (text, file) {
                (Some(t), _) => t,
                (None, Some(path)) => git_crew::artifact::read_text(&path, git_crew::artifact::MAX_TEXT_BYTES)
                    .map_err(git_crew::Error::from)?,
                (None, None) => git_crew::artifact::read_stdin_text(git_crew::artifact::MAX_TEXT_BYTES)
                    .map_err(git_crew::Error::from)?,
            };
            let to = match (to, task) {
                (Some(to), _) => Some(target(&to)),
                (None, Some(t)) => Some(Target::Task(ws.find_task(&t)?)),
                (None, None) => None,
            };
            let record = ws.send(&me, NewMessage { to, text, reply_to, thread })?;
            cx.wrote(&ws, vec![record])?;
        }
        MsgCommand::List { channel, task, thread, since } => {
            let me = me(cx, &ws)?;
            let thread = thread.map(|t| ws.find_message(&t)).transpose()?;
            let channel = match (channel, task, &thread) {
                (_, Some(t), _) => Channel::Task(ws.find_task(&t)?),
                (Some(c), None, _) => match target(&c) {
                    Target::Channel(name) => Channel::parse(&name).map_err(channel_error)?,
                    _ => Channel::direct(&me, &c),
                },
                // A thread is in one channel: its first message's.
                (None, None, Some(first)) => match &first.payload {
                    git_crew::record::Payload::MsgSend(m) => Channel::parse(&m.channel).map_err(channel_error)?,
                    _ => return Err(git_crew::Error::from(AddressError::NotAMessage(first.id.short())).into()),
                },
                (None, None, None) => return Err(git_crew::Error::from(AddressError::NoChannel).into()),
            };
            let since = since.as_deref().map(parse_time).transpose()?;
            let thread = thread.map(|r| r.id);
            let messages = ws.messages(&channel, since, thread)?;
            let views: Vec<RecordView> = messages.iter().map(RecordView::new).collect();
            if cx.json {
                render::json(&views);
            } else {
                render::lines(views.iter().map(RecordView::line));
            }
        }
        MsgCommand::Channels => {
            let channels = ws.channels(&me(cx, &ws)?)?;
            if cx.json {
                render::json(&channels.iter().map(ChannelView::new).collect::<Vec<_>>());
            } else if channels.is_empty() {
                render::lines(["no channels yet (`git crew msg send --to '#name' TEXT` makes one)".to_owned()]);
            } else {
                render::lines(channels.iter().map(|c| {
                    let name = if c.direct { c.name.clone() } else { format!("#{}", c.name) };
                    let joined = if c.joined { "  (joined)" } else { "" };
                    let members = c.members.join(", ");
                    format!("{name}: {} messages, last {}, members: {members}{joined}", c.messages, c.last_at)
                }));
            }
        }
        MsgCommand::Join { channel } => {
            let record = ws.membership(&me(cx, &ws)?, &channel, true)?;
            let named = Channel::parse(channel.trim_start_matches('#')).map_err(channel_error)?;
            let backlog = ws.backlog(&named, record.order_key(), git_crew::messages::JOIN_BACKLOG)?;
            let views: Vec<RecordView> = backlog.iter().map(RecordView::new).collect();
            let mut extra = serde_json::Map::new();
            extra.insert("backlog".into(), serde_json::to_value(&views)?);
            cx.wrote_with(&ws, vec![record], extra)?;
            if !cx.json {
                render::lines(views.iter().map(RecordView::line));
            }
        }
        MsgCommand::Leave { channel } => {
            cx.wrote(&ws, vec![ws.membership(&me(cx, &ws)?, &channel, false)?])?;
        }
    }
    Ok(0)
}

/// `git crew inbox`.
pub fn inbox(cx: &Context, args: InboxArgs) -> Result<i32> {
    let ws = cx.open()?;
    let me = me(cx, &ws)?;
    if args.ack.is_some() || args.all {
        // Acks exactly what this invocation shows: every item, or those up to ID.
        let items = unread(&ws, &me)?;
        let upto = args.ack.as_deref().filter(|a| !a.is_empty());
        let shown = match upto {
            Some(prefix) => {
                let id = git_crew::id::resolve_prefix(
                    &prefix.to_ascii_lowercase(),
                    "unread item",
                    items.iter().map(|i| i.id),
                )?;
                let end = items.iter().position(|i| i.id == id).map_or(0, |p| p + 1);
                &items[..end]
            }
            None => &items[..],
        };
        let (dropped, fold): (Vec<&ItemView>, Vec<&ItemView>) =
            shown.iter().partition(|i| matches!(i.reason, ReasonView::Dropped(_)));
        let ids: Vec<git_crew::id::Id> = fold.iter().map(|i| i.id).collect();
        let written = ws.ack(&me, &ids)?;
        let acks: Vec<Record> = written.into_iter().flat_map(|w| w.records).collect();
        let (acks, publication) = cx.publish(&ws, acks)?;
        // Only once the ack stands: a failed one leaves the notes to show again.
        ws.forget_dropped(&me, &dropped.iter().map(|i| i.id).collect::<Vec<_>>())?;
        let acked: Vec<String> = shown.iter().map(|i| i.id.hex()).collect();
        if cx.json {
            let mut extra = serde_json::Map::new();
            extra.insert("items".into(), serde_json::to_value(&items)?);
            extra.insert("acked".into(), acked.into());
            cx.print_write(&acks, &publication, extra);
        } else if items.is_empty() {
            println!("nothing unread");
        } else {
            let tail = format!("marked {} item(s) read", acked.len());
            render::lines(items.iter().map(ItemView::line).chain(std::iter::once(tail)));
        }
        return Ok(0);
    }
    if !args.follow {
        let views = unread(&ws, &me)?;
        if cx.json {
            render::json(&views);
        } else if views.is_empty() {
            println!("nothing unread");
        } else {
            render::lines(views.iter().map(ItemView::line));
        }
        return Ok(0);
    }
    // Following: one JSON line (or text line) per new item, each printed once.
    let stop = super::stop_on_signals()?;
    let remote = follow_remote(&ws, args.remote);
    let interval = Duration::from_secs(args.interval.unwrap_or(5));
    let mut shown = std::collections::HashSet::new();
    let follow_remote = remote.as_deref().map(|r| (r, interval));
    let beat = super::live::session(&me, interval, true)?;
    git_crew::sync::follow(
        &ws,
        follow_remote,
        Some(&beat),
        &stop,
        |_, _| {
            let fresh: Vec<ItemView> = unread(&ws, &me)?.into_iter().filter(|i| shown.insert(i.id)).collect();
            let lines = fresh.iter().map(|v| {
                if cx.json {
                    serde_json::to_string(v).unwrap_or_default()
                } else {
                    render::escape(&v.line())
                }
            });
            stream(lines);
            Ok(())
        },
        |e| eprintln!("warning: sync failed, will retry: {}", render::block(&e.to_string(), "  ")),
    )?;
    Ok(0)
}

/// Print lines and flush at once: followers read them as they come.
fn stream(lines: impl Iterator<Item = String>) {
    let mut out = std::io::stdout().lock();
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    let _ = out.flush();
}

/// `git crew watch`.
pub fn watch(cx: &Context, args: WatchArgs) -> Result<i32> {
    let ws = cx.open()?;
    let keep = |r: &Record| {
        super::kind_matches(args.kind.as_deref(), r.kind()) && args.author.as_ref().is_none_or(|a| &r.author == a)
    };
    let print = |records: &[Record]| {
        let lines = records.iter().filter(|r| keep(r)).map(|r| {
            let v = WatchView::new(r);
            if cx.json {
                serde_json::to_string(&v).unwrap_or_default()
            } else {
                render::escape(&format!(
                    "{} {} {:<10} {:<14} {:<12} {}",
                    &v.id[..8],
                    v.at,
                    v.author,
                    v.kind,
                    render::fit(&v.subject, 12),
                    v.summary
                ))
            }
        });
        stream(lines);
    };
    // Where to start: a time (records at or after it, from the whole branch),
    // a commit (records added since it), or the current tip.
    let tip = ws.snapshot_for(&Need::Core)?.tip;
    let start = match args.since.as_deref() {
        None => Some(tip),
        Some(since) => match ws.store().resolve_commit(since) {
            Ok(rev) => {
                print(&ws.records_between(Some(rev), tip)?);
                Some(tip)
            }
            Err(_) => {
                let from = parse_time(since)?;
                let (_, records) = ws.records()?;
                let backlog: Vec<Record> = records.into_iter().filter(|r| r.at >= from).collect();
                print(&backlog);
                Some(tip)
            }
        },
    };
    if args.no_follow {
        return Ok(0);
    }
    let stop = super::stop_on_signals()?;
    let remote = follow_remote(&ws, args.remote);
    let interval = Duration::from_secs(args.interval.unwrap_or(5));
    let mut last = start;
    // Watching is a session of its actor when there is one with a key here
    // (it does not listen for messages).
    let state = ws.snapshot_for(&Need::Core)?.state;
    let watcher = ws.whoami(cx.actor.as_deref(), &state).ok().filter(|n| ws.signer(n, &state).is_ok());
    let beat = watcher.map(|n| super::live::session(&n, interval, false)).transpose()?;
    let mut flags = std::collections::BTreeSet::new();
    git_crew::sync::follow(
        &ws,
        remote.as_deref().map(|r| (r, interval)),
        beat.as_ref(),
        &stop,
        |_, new| {
            if last != Some(new) {
                print(&ws.records_between(last, new)?);
                last = Some(new);
            }
            let keep = |kind: &str, actor: &str| {
                super::kind_matches(args.kind.as_deref(), kind) && args.author.as_deref().is_none_or(|a| a == actor)
            };
            super::live::emit_flag_changes(&ws, &mut flags, cx.json, keep)
        },
        |e| eprintln!("warning: sync failed, will retry: {}", render::block(&e.to_string(), "  ")),
    )?;
    Ok(0)
}
