//! Messages and the inbox: sending, reading a channel, what is unread for an
//! actor, acknowledging it, and the stream of new records (`watch`).
//!
//! The fold keeps who sees what ([`crate::state::messages`]); the messages
//! themselves are read from the branch, from the files of the channels and days
//! that can hold unread items. Those blobs are at the tip the index has caught
//! up to, so every record in them was verified when it arrived: they are
//! decoded here without checking signatures again.
//!
//! An actor's inbox, oldest first, holds what the fold delivered to it and it
//! has not acked: a message in a direct conversation it takes part in, one
//! that mentions it, one in a channel it was a member of, one on a task it
//! held when the message was written, a handoff of a task to it. An ack marks
//! exactly the items it names read.

use std::collections::HashMap;

use crate::store::Backend;
use crate::store::Oid;

use crate::error::{AddressError, ArgumentError, ConflictError, Error, Result};
use crate::hlc::Hlc;
use crate::id::{self, Id};
use crate::index::{Need, Snapshot};
use crate::layout;
use crate::record::kinds::{Channel, MsgAck, MsgMembership, MsgSend};
use crate::record::{self, validate_name, FileError, OrderKey, Payload, Record};
use crate::state::State;
use crate::workspace::{Workspace, Written};

/// Why an item is in an inbox.
pub use crate::state::messages::Why as Reason;

/// One unread item.
#[derive(Clone, Debug)]
pub struct Item {
    /// Why it is here.
    pub reason: Reason,
    /// The record.
    pub record: Record,
}

/// A write of this clone that a sync took off its branch because the
/// published state no longer admits it (its author was suspended meanwhile, a
/// claim lost, a task closed): kept in `<git common dir>/crew/dropped.jsonl`
/// and shown in its author's inbox until acknowledged there, so the author
/// learns what did not happen.
#[derive(Clone, Debug)]
pub struct DroppedNote {
    /// The record as it was written (its signature checked again on reading).
    pub record: Record,
    /// Why it was dropped.
    pub why: String,
}

/// One line of `dropped.jsonl`.
#[derive(serde::Serialize, serde::Deserialize)]
struct DroppedLine {
    author: String,
    why: String,
    /// The record's stored bytes (canonical YAML, UTF-8).
    record: String,
}

/// Where a new message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A named channel (created on first use).
    Channel(String),
    /// A direct message to this actor.
    Actor(String),
    /// A task's discussion.
    Task(Id),
}

/// A message to send.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// Where, unless it follows from `reply_to` or `thread`.
    pub to: Option<Target>,
    /// The text; `@name` mentions in it reach the named actors.
    pub text: String,
    /// A message id prefix to answer.
    pub reply_to: Option<String>,
    /// The id prefix of a thread's first message.
    pub thread: Option<String>,
}

/// Messages `msg join` shows from before the join.
pub const JOIN_BACKLOG: usize = 10;

/// A channel as `msg channels` lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChannelSummary {
    /// Its name (`general`, `dm/alice+bob`).
    pub name: String,
    /// Whether it is a direct conversation.
    pub direct: bool,
    /// Whether the actor asking follows it (always, for its direct conversations).
    pub joined: bool,
    /// Who follows it now (the two parties of a direct conversation).
    pub members: Vec<String>,
    /// Messages counted.
    pub messages: u64,
    /// Who wrote first in it.
    pub created_by: String,
    /// When.
    #[serde(with = "crate::hlc::as_text")]
    pub created_at: Hlc,
    /// Its latest record.
    #[serde(with = "crate::hlc::as_text")]
    pub last_at: Hlc,
}

/// The `@name` mentions in `text`, sorted, each once: an `@` at the start or
/// after a character that cannot be in a name (so `a@b.c` is not one).
pub fn mentions(text: &str) -> Vec<String> {
    let is_name = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c != '@' || (i > 0 && (is_name(chars[i - 1]) || chars[i - 1].is_ascii_uppercase())) {
            continue;
        }
        let name: String = chars[i + 1..].iter().take_while(|c| is_name(**c)).collect();
        let name = name.trim_end_matches(['-', '_']).to_owned();
        if validate_name(&name).is_ok() {
            out.push(name);
        }
    }
    out.sort();
    out.dedup();
    out
}

impl<B: Backend> Workspace<B> {
    /// Every record of the files under `dir` whose day is `from_day` or later,
    /// decoded without re-verifying (see the module docs). `dir` is a channel's
    /// directory: `<day>/<author>.yaml` below it.
    fn channel_records(&self, snap: &Snapshot, channel: &Channel, after: Option<(Hlc, Id)>) -> Result<Vec<Record>> {
        let store = self.store();
        let tree = store.commit(snap.tip)?.tree;
        let dir = layout::channel_dir(channel);
        let from_day = after.map(|(at, _)| at.day()).unwrap_or_default();
        let mut out = Vec::new();
        for day in store.list(tree, &dir)?.into_iter().filter(|d| *d >= from_day) {
            for file in store.list(tree, &format!("{dir}/{day}"))? {
                out.extend(self.trusted_file(snap, tree, &format!("{dir}/{day}/{file}"), after)?);
            }
        }
        Ok(out)
    }

    fn trusted_file(&self, snap: &Snapshot, tree: Oid, path: &str, after: Option<(Hlc, Id)>) -> Result<Vec<Record>> {
        let bytes = self.store().read(tree, path)?.unwrap_or_default();
        record::decode_file_trusted_after(&bytes, &snap.state.workspace, after)
            .map_err(|p| Error::from(FileError::new(path, p)))
    }

    /// `actor`'s unread items, oldest first, and the state they were read at.
    pub fn inbox(&self, actor: &str) -> Result<(Snapshot, Vec<Item>)> {
        let (snap, inbox) = self.index().inbox(self.store(), actor)?;
        if !snap.state.actors.contains_key(actor) {
            return Err(Error::UnknownActor { name: actor.to_owned() });
        }
        let tree = self.store().commit(snap.tip)?.tree;
        let mut files: HashMap<&str, Vec<Record>> = HashMap::new();
        let mut items: std::collections::BTreeMap<crate::record::OrderKey, Item> = Default::default();
        for ((_, id), unread) in &inbox.unread {
            if !files.contains_key(unread.path.as_str()) {
                files.insert(&unread.path, self.trusted_file(&snap, tree, &unread.path, None)?);
            }
            if let Some(r) = files[unread.path.as_str()].iter().find(|r| r.id == *id) {
                items.insert(r.order_key(), Item { reason: unread.why, record: r.clone() });
            }
        }
        // The discussions of the tasks it holds, read from their files.
        for task in &snap.state.actors[actor].holds {
            for r in self.channel_records(&snap, &Channel::Task(*task), None)? {
                let mine = r.author == actor || inbox.acked_early.contains(&r.id);
                if matches!(r.payload, Payload::MsgSend(_)) && !mine {
                    items.entry(r.order_key()).or_insert(Item { reason: Reason::Task, record: r });
                }
            }
        }
        Ok((snap, items.into_values().collect()))
    }

    /// Remember the records a sync `dropped` from this clone's branch for
    /// their authors' inboxes (those whose bytes could be read). The caller
    /// holds the publish lock ([`Workspace::publish_lock`]), as every sync does.
    pub fn note_dropped(&self, dropped: &[crate::rebase::Dropped]) -> Result<()> {
        let lines: String = dropped
            .iter()
            .filter_map(|d| {
                let record = String::from_utf8(d.stored.clone()).ok().filter(|r| !r.is_empty())?;
                serde_json::to_string(&DroppedLine { author: d.author.clone(), why: d.reason.clone(), record }).ok()
            })
            .map(|l| l + "\n")
            .collect();
        if lines.is_empty() {
            return Ok(());
        }
        let path = self.dropped_path();
        let io = |source| Error::Io { what: format!("cannot record dropped writes in {}", path.display()), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
        file.write_all(lines.as_bytes()).map_err(io)
    }

    /// `actor`'s writes that a sync dropped from this clone and it has not
    /// acknowledged, oldest first.
    pub fn dropped_notes(&self, actor: &str) -> Result<Vec<DroppedNote>> {
        Ok(self
            .checked_notes()?
            .into_iter()
            .filter(|(_, r)| r.author == actor)
            .map(|(l, record)| DroppedNote { record, why: l.why })
            .collect())
    }

    /// Forget `actor`'s dropped-write notes with these record ids (it was
    /// shown them and acknowledged them); notes that do not hold go too.
    pub fn forget_dropped(&self, actor: &str, ids: &[Id]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let _lock = self.publish_lock(None)?;
        let keep: String = self
            .checked_notes()?
            .into_iter()
            .filter(|(_, r)| r.author != actor || !ids.contains(&r.id))
            .filter_map(|(l, _)| serde_json::to_string(&l).ok().map(|s| s + "\n"))
            .collect();
        let path = self.dropped_path();
        let tmp = path.with_extension("jsonl.tmp");
        let io = |source| Error::Io { what: format!("cannot rewrite {}", path.display()), source };
        std::fs::write(&tmp, keep).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// Why a sync in this clone dropped the record `id`, if one did.
    pub fn dropped_reason(&self, id: &Id) -> Option<String> {
        self.checked_notes().ok()?.into_iter().find(|(_, r)| r.id == *id).map(|(l, _)| l.why)
    }

    /// The notes that hold: the file is local, not evidence, so a note counts
    /// only if its record decodes (signature checked) and was signed by a key
    /// its author has or had in this workspace. Anything else is skipped.
    fn checked_notes(&self) -> Result<Vec<(DroppedLine, Record)>> {
        let lines = self.dropped_lines()?;
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let state = self.snapshot_for(&Need::Core)?.state;
        Ok(lines
            .into_iter()
            .filter_map(|l| {
                let record = record::decode_records(&[l.record.as_bytes()], &state.workspace).pop()?.ok()?;
                let actor = state.actors.get(&record.author)?;
                let known = actor.key == record.key || actor.retired.iter().any(|k| k.key == record.key);
                (known && l.author == record.author).then_some((l, record))
            })
            .collect())
    }

    fn dropped_path(&self) -> std::path::PathBuf {
        self.local_dir().join("dropped.jsonl")
    }

    fn dropped_lines(&self) -> Result<Vec<DroppedLine>> {
        let path = self.dropped_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(Error::Io { what: format!("cannot read {}", path.display()), source }),
        };
        // A local note: lines that are not what this module writes are skipped.
        Ok(String::from_utf8_lossy(&bytes).lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
    }

    /// Mark exactly `items` read for `actor` (each an unread item's id), in
    /// one commit (several records when there are more than an ack holds).
    /// `None` when there is nothing to acknowledge.
    pub fn ack(&self, actor: &str, items: &[Id]) -> Result<Option<Written>> {
        let mut ids: Vec<Id> = items.to_vec();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(None);
        }
        let payloads: Vec<Payload> = ids
            .chunks(crate::record::kinds::MAX_ACK_ITEMS)
            .map(|c| Payload::MsgAck(MsgAck { items: c.to_vec() }))
            .collect();
        Ok(Some(self.write(actor, &Need::Core, |_| Ok(payloads.clone()))?))
    }

    /// Join (`true`) or leave a named channel. Leaving one `actor` is not a
    /// member of is refused, and writes nothing.
    pub fn membership(&self, actor: &str, channel: &str, join: bool) -> Result<Record> {
        let m = MsgMembership { channel: channel.trim_start_matches('#').to_owned() };
        let payload = if join { Payload::MsgJoin(m.clone()) } else { Payload::MsgLeave(m.clone()) };
        let written = self.write(actor, &Need::Core, |state| {
            // A bad name is the record's to refuse, saying what is wrong with it.
            let named = Channel::parse(&m.channel).is_ok_and(|c| matches!(c, Channel::Named(_)));
            let member = state.channels.get(&m.channel).is_some_and(|c| c.member_since(actor).is_some());
            if !join && named && !member {
                return Err(ConflictError::NotMember { actor: actor.to_owned(), channel: m.channel.clone() }.into());
            }
            Ok(vec![payload.clone()])
        })?;
        Ok(written.one())
    }

    /// The last `n` messages of `channel` that sort before `before`, oldest
    /// first: the backlog `msg join` shows.
    pub fn backlog(&self, channel: &Channel, before: OrderKey, n: usize) -> Result<Vec<Record>> {
        let mut earlier: Vec<Record> =
            self.messages(channel, None, None)?.into_iter().filter(|r| r.order_key() < before).collect();
        let skip = earlier.len().saturating_sub(n);
        Ok(earlier.split_off(skip))
    }

    /// Every named channel, and every direct conversation of `actor`, with
    /// its members and activity, by name.
    pub fn channels(&self, actor: &str) -> Result<Vec<ChannelSummary>> {
        let snap = self.snapshot_for(&Need::Core)?;
        let mut out = Vec::new();
        for (name, info) in &snap.state.channels {
            let direct = match Channel::parse(name) {
                Ok(Channel::Named(_)) => false,
                Ok(c @ Channel::Direct(..)) if c.has_party(actor) => true,
                _ => continue,
            };
            let members = match Channel::parse(name) {
                Ok(Channel::Direct(a, b)) => vec![a, b],
                _ => info.members_at((Hlc { ms: i64::MAX, counter: u32::MAX }, Id([0xff; 32]))),
            };
            out.push(ChannelSummary {
                name: name.clone(),
                direct,
                joined: direct || info.member_since(actor).is_some(),
                members,
                messages: info.messages,
                created_by: info.created_by.clone(),
                created_at: info.created_at,
                last_at: info.last_at,
            });
        }
        Ok(out)
    }

    /// Find a message by id prefix anywhere on the branch.
    pub fn find_message(&self, prefix: &str) -> Result<Record> {
        let (_, records) = self.records()?;
        let messages: Vec<&Record> = records.iter().filter(|r| matches!(r.payload, Payload::MsgSend(_))).collect();
        let id = id::resolve_prefix(&prefix.to_ascii_lowercase(), "message", messages.iter().map(|r| r.id))?;
        Ok(messages.into_iter().find(|r| r.id == id).expect("resolved from this list").clone())
    }

    /// Send a message as `actor`.
    pub fn send(&self, actor: &str, msg: NewMessage) -> Result<Record> {
        let snap = self.snapshot_for(&Need::Core)?;
        let answered = match (&msg.reply_to, &msg.thread) {
            (Some(r), _) => Some(self.find_message(r)?),
            (None, Some(t)) => Some(self.find_message(t)?),
            (None, None) => None,
        };
        let (answered_channel, thread) = match &answered {
            Some(r) => match &r.payload {
                Payload::MsgSend(m) => (Some(m.channel.clone()), Some(m.thread.unwrap_or(r.id))),
                _ => (None, None),
            },
            None => (None, None),
        };
        let channel = match (&msg.to, answered_channel) {
            (Some(to), answered) => {
                let c = self.channel_for(&snap.state, actor, to)?.to_string();
                if answered.as_ref().is_some_and(|a| *a != c) {
                    return Err(AddressError::OtherChannel { answered: answered.unwrap_or_default(), to: c }.into());
                }
                c
            }
            (None, Some(c)) => c,
            (None, None) => return Err(AddressError::NoTarget.into()),
        };
        let mut mentions = mentions(&msg.text);
        if let Some(unknown) = mentions.iter().find(|m| !snap.state.actors.contains_key(*m)) {
            return Err(AddressError::UnknownMention(unknown.clone()).into());
        }
        // A reply reaches the author of the message it answers (in a direct
        // conversation it does anyway).
        let direct = matches!(Channel::parse(&channel), Ok(Channel::Direct(..)));
        if let Some(author) = answered.as_ref().filter(|_| msg.reply_to.is_some() && !direct).map(|r| &r.author) {
            if author != actor && !mentions.contains(author) && snap.state.actors.contains_key(author) {
                mentions.push(author.clone());
                mentions.sort();
            }
        }
        let reply_to = msg.reply_to.as_ref().and(answered.as_ref().map(|r| r.id));
        let payload = Payload::MsgSend(MsgSend { channel, text: msg.text, thread, reply_to, mentions });
        let need = match payload.linked_tasks().as_slice() {
            [] => Need::Core,
            linked => Need::Tasks(linked.to_vec()),
        };
        let written = self.write(actor, &need, |_| Ok(vec![payload.clone()]))?;
        Ok(written.one())
    }

    fn channel_for(&self, state: &State, actor: &str, to: &Target) -> Result<Channel> {
        match to {
            Target::Channel(name) => Ok(Channel::parse(name.trim_start_matches('#')).map_err(ArgumentError::Channel)?),
            Target::Actor(name) => {
                if !state.actors.contains_key(name) {
                    return Err(AddressError::UnknownRecipient(name.clone()).into());
                }
                if name == actor {
                    return Err(AddressError::ToSelf.into());
                }
                Ok(Channel::direct(actor, name))
            }
            Target::Task(t) => Ok(Channel::Task(*t)),
        }
    }

    /// The messages of a channel, oldest first, from `since` on, optionally only
    /// one thread (its first message and every message in it).
    pub fn messages(&self, channel: &Channel, since: Option<Hlc>, thread: Option<Id>) -> Result<Vec<Record>> {
        let snap = self.snapshot_for(&Need::Core)?;
        // Everything at or after `since`: start just before it.
        let from = since.filter(|s| s.ms > 0).map(|s| (Hlc { ms: s.ms - 1, counter: u32::MAX }, Id([0xff; 32])));
        let mut out: Vec<Record> = self
            .channel_records(&snap, channel, from)?
            .into_iter()
            .filter(|r| since.is_none_or(|s| r.at >= s))
            .filter(|r| match (&r.payload, thread) {
                (Payload::MsgSend(m), Some(t)) => r.id == t || m.thread == Some(t),
                (Payload::MsgSend(_), None) => true,
                _ => false,
            })
            .collect();
        out.sort_by_key(Record::order_key);
        Ok(out)
    }

    /// The records that commit `new` holds and `old` (if any) does not, in fold
    /// order. `new` must be at or behind the tip the index has verified.
    pub fn records_between(&self, old: Option<Oid>, new: Oid) -> Result<Vec<Record>> {
        let snap = self.snapshot_for(&Need::Core)?;
        let store = self.store();
        let old_tree = old.map(|o| store.commit(o).map(|c| c.tree)).transpose()?;
        let new_tree = store.commit(new)?.tree;
        let ws = snap.state.workspace;
        let mut out = Vec::new();
        for change in store.diff(old_tree, new_tree)? {
            if !layout::classify(&change.path).is_some_and(|p| p.is_log()) {
                continue;
            }
            let Some(n) = &change.new else { continue };
            let before: std::collections::HashSet<Id> = match &change.old {
                Some(o) => {
                    let bytes = store.blob(o.oid)?;
                    record::frame::split(&bytes)
                        .map(|fs| fs.iter().map(|f| f.id(&bytes, &ws)).collect())
                        .unwrap_or_default()
                }
                None => Default::default(),
            };
            let bytes = store.blob(n.oid)?;
            let records =
                record::decode_file_trusted(&bytes, &ws).map_err(|p| Error::from(FileError::new(&change.path, p)))?;
            out.extend(records.into_iter().filter(|r| !before.contains(&r.id)));
        }
        out.sort_by_key(Record::order_key);
        Ok(out)
    }
}

/// What a record is about, for the watch stream: a task id, a channel, an
/// actor, or the workspace.
pub fn subject(r: &Record) -> String {
    if let Some(t) = r.task() {
        return t.hex();
    }
    if let Some(c) = r.payload.channel() {
        return c.to_string();
    }
    match &r.payload {
        Payload::MsgAck(_) => r.author.clone(),
        p if p.actor().is_some() => p.actor().unwrap_or_default().to_owned(),
        _ => "workspace".to_owned(),
    }
}
