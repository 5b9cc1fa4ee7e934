//! Messages in the fold: channels, who follows them, and inbox cursors.
//!
//! Message bodies are not kept in the state (there may be hundreds of thousands);
//! the state keeps what decides who sees what: the channels and their members,
//! and each actor's inbox of unread items (where each record is, and why it is
//! the actor's). [`crate::messages`] reads the records themselves.
//!
//! Rules: anyone admitted sends to a channel (created on first use), joins and
//! leaves it; a direct conversation `dm/<a>+<b>` is written only by `a` or `b`,
//! both admitted; `task/<id>` names an existing task; every `@mention` names an
//! admitted actor. A message reaches, as things stood where it sorts: the other
//! party of a direct conversation, the members of a named channel (joins and
//! leaves sort after everything, so membership is never rewritten behind a
//! message), and everyone it mentions; a handoff reaches its receiver; a
//! task's discussion reaches the task's holder when the inbox is read. An ack
//! marks exactly the items it names read, so nothing is read that its reader
//! was not shown, whenever it arrives.

use serde::{Deserialize, Serialize};

use std::collections::{BTreeMap, BTreeSet};

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::kinds::Channel;
use crate::record::{OrderKey, Payload, Record};

use super::{Actor, Refusal, State};

/// What the state knows of a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// Who wrote first in it.
    pub created_by: String,
    /// When.
    pub created_at: Hlc,
    /// The record that created it (the first in fold order).
    pub created_record: Id,
    /// Each actor's joins (`true`) and leaves (named channels), in fold
    /// order: a member is one whose last is a join, since the first join after
    /// its last leave.
    pub membership: BTreeMap<String, Vec<(OrderKey, bool)>>,
    /// Messages counted.
    pub messages: u64,
    /// Stamp of its latest record (message, join or leave).
    pub last_at: Hlc,
}

impl ChannelInfo {
    /// When `actor` joined, if it is a member.
    pub fn member_since(&self, actor: &str) -> Option<Hlc> {
        self.member_since_before(actor, (Hlc { ms: i64::MAX, counter: u32::MAX }, Id([0xff; 32])))
    }

    /// The members at the point `key` of the fold order.
    pub fn members_at(&self, key: OrderKey) -> Vec<String> {
        self.membership.keys().filter(|a| self.member_since_before(a, key).is_some()).cloned().collect()
    }

    /// When `actor` joined, if it was a member at the point `key`.
    fn member_since_before(&self, actor: &str, key: OrderKey) -> Option<Hlc> {
        let mut since = None;
        for (key, joined) in self.membership.get(actor).into_iter().flatten().take_while(|(k, _)| *k < key) {
            since = match (since, joined) {
                (_, false) => None,
                (None, true) => Some(key.0),
                (kept, true) => kept,
            };
        }
        since
    }

    /// The members, by name.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.membership.keys().map(String::as_str).filter(|a| self.member_since(a).is_some())
    }
}

/// Why an item is in an actor's inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// A message in a named channel the actor is a member of.
    Channel,
    /// A message on a task the actor holds.
    Task,
    /// A direct message to the actor.
    Direct,
    /// A task handed to the actor.
    Handoff,
    /// The actor was `@mentioned`.
    Mention,
}

/// An unread item: where its record is, and why it is the actor's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unread {
    /// The file the record is in.
    pub path: String,
    /// Why it is the actor's (the strongest reason, when several hold).
    pub why: Why,
}

/// An actor's inbox: what is addressed to it and not acked yet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    /// Unread items, by where their records sort.
    pub unread: BTreeMap<OrderKey, Unread>,
    /// Ids acked that are not unread items: a record published after an ack
    /// that names it (it never becomes unread), or a message of a task's
    /// discussion (read from its file, not only delivered by the fold).
    pub acked_early: BTreeSet<Id>,
}

pub(super) fn check(state: &State, author: &Actor, r: &Record) -> Result<(), Refusal> {
    match &r.payload {
        Payload::MsgSend(m) => {
            match Channel::parse(&m.channel) {
                Ok(Channel::Direct(a, b)) => {
                    if author.name != a && author.name != b {
                        return Err(Refusal::NotPermitted(format!(
                            "{} may not write in the direct conversation of {a} and {b}",
                            author.name
                        )));
                    }
                    for party in [&a, &b] {
                        state.actor_at(party, r.order_key())?;
                    }
                }
                Ok(Channel::Task(t)) => {
                    state.task_at(&t, r.order_key())?;
                }
                Ok(Channel::Named(_)) => {}
                Err(e) => return Err(Refusal::NotPermitted(e)),
            }
            for name in &m.mentions {
                state.actor_at(name, r.order_key())?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

pub(super) fn apply(state: &mut State, r: &Record) {
    match &r.payload {
        Payload::MsgSend(m) => {
            let info = channel(state, &m.channel, r);
            info.messages += 1;
            // Who it reaches, as things stood where it sorts.
            let mut to: Vec<(String, Why)> = match Channel::parse(&m.channel) {
                Ok(Channel::Direct(a, b)) => vec![(if a == r.author { b } else { a }, Why::Direct)],
                Ok(Channel::Named(_)) => {
                    let members = info.members_at(r.order_key());
                    members.into_iter().map(|n| (n, Why::Channel)).collect()
                }
                // A task's discussion reaches whoever holds the task when the
                // inbox is read (`crate::messages`), not through the fold.
                Ok(Channel::Task(_)) | Err(_) => Vec::new(),
            };
            to.extend(m.mentions.iter().map(|n| (n.clone(), Why::Mention)));
            // Each recipient once, for its strongest reason.
            let mut once: BTreeMap<String, Why> = BTreeMap::new();
            for (name, why) in to {
                let strongest = once.entry(name).or_insert(why);
                *strongest = (*strongest).max(why);
            }
            for (name, why) in once {
                deliver(state, &name, r, why);
            }
        }
        Payload::MsgJoin(m) | Payload::MsgLeave(m) => {
            let joined = matches!(r.payload, Payload::MsgJoin(_));
            let events = channel(state, &m.channel, r).membership.entry(r.author.clone()).or_default();
            let at = events.partition_point(|(k, _)| *k < r.order_key());
            events.insert(at, (r.order_key(), joined));
        }
        Payload::MsgAck(a) => {
            let inbox = state.inboxes.entry(r.author.clone()).or_default();
            for id in &a.items {
                match inbox.unread.iter().find(|(k, _)| k.1 == *id).map(|(k, _)| *k) {
                    Some(key) => {
                        let item = inbox.unread.remove(&key);
                        // A task discussion's message is also offered, when the
                        // inbox is read, to whoever holds the task: remember
                        // the ack so it is not offered again.
                        if item.is_some_and(|u| in_task_discussion(&u.path)) {
                            inbox.acked_early.insert(*id);
                        }
                    }
                    None => {
                        inbox.acked_early.insert(*id);
                    }
                }
            }
            state.touched.insert(r.author.clone());
        }
        _ => {}
    }
}

/// Whether the log file at `path` belongs to a task's discussion.
fn in_task_discussion(path: &str) -> bool {
    matches!(crate::layout::classify(path), Some(crate::layout::Place::Channel { channel: Channel::Task(_), .. }))
}

/// A handoff puts the task in the receiver's inbox.
pub(super) fn handed_to(state: &mut State, to: &str, r: &Record) {
    deliver(state, to, r, Why::Handoff);
}

/// Put `r` in `name`'s inbox (never its author's), unless `name` acked it
/// already.
fn deliver(state: &mut State, name: &str, r: &Record, why: Why) {
    if name == r.author || !state.actors.contains_key(name) {
        return;
    }
    let inbox = state.inboxes.entry(name.to_owned()).or_default();
    if inbox.acked_early.remove(&r.id) {
        state.touched.insert(name.to_owned());
        return;
    }
    inbox.unread.insert(r.order_key(), Unread { path: crate::layout::path_of(r), why });
    state.touched.insert(name.to_owned());
}

/// The channel a record is in, created by the first record that sorts in it.
fn channel<'a>(state: &'a mut State, name: &str, r: &Record) -> &'a mut ChannelInfo {
    let info = state.channels.entry(name.to_owned()).or_insert_with(|| ChannelInfo {
        created_by: r.author.clone(),
        created_at: r.at,
        created_record: r.id,
        membership: Default::default(),
        messages: 0,
        last_at: r.at,
    });
    if r.order_key() < (info.created_at, info.created_record) {
        (info.created_by, info.created_at, info.created_record) = (r.author.clone(), r.at, r.id);
    }
    info.last_at = info.last_at.max(r.at);
    info
}
