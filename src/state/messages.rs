//! Messages in the fold: channels, who follows them, and inbox cursors.
//!
//! Message bodies are not kept in the state (there may be hundreds of thousands);
//! the state keeps what decides who sees what: the channels and their members,
//! each actor's read cursor, and each actor's *personal* items (mentions and
//! handoffs, which live in files the actor does not follow) that are still
//! unread. [`crate::inbox`] reads the message files themselves.
//!
//! Rules: anyone admitted sends to a channel (created on first use), joins and
//! leaves it; a direct conversation `dm/<a>+<b>` is written only by `a` or `b`,
//! both admitted; `task/<id>` names an existing task; every `@mention` names an
//! admitted actor. An ack moves its author's cursor forward, never back, and
//! never past the ack itself.

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::kinds::{Channel, MsgAck};
use crate::record::{Payload, Record};

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
    pub membership: std::collections::BTreeMap<String, Vec<(crate::record::OrderKey, bool)>>,
    /// Messages counted.
    pub messages: u64,
    /// Stamp of its latest record (message, join or leave).
    pub last_at: Hlc,
}

impl ChannelInfo {
    /// When `actor` joined, if it is a member.
    pub fn member_since(&self, actor: &str) -> Option<Hlc> {
        let mut since = None;
        for (key, joined) in self.membership.get(actor).into_iter().flatten() {
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

/// Why something is in an actor's inbox although it is in a file they do not follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The actor was `@mentioned`.
    Mention,
    /// A task was handed to the actor.
    Handoff,
}

/// An unread item of an actor's that lives outside the files they follow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Personal {
    /// The record's order key.
    pub at: Hlc,
    /// The record.
    pub id: Id,
    /// The file it is in.
    pub path: String,
    /// Why it is the actor's.
    pub why: Why,
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
        Payload::MsgAck(a) if (a.upto_at, a.upto) > r.order_key() => {
            Err(Refusal::NotPermitted("an ack cannot move the cursor past itself".into()))
        }
        _ => Ok(()),
    }
}

pub(super) fn apply(state: &mut State, r: &Record) {
    match &r.payload {
        Payload::MsgSend(m) => {
            let info = channel(state, &m.channel, r);
            info.messages += 1;
            let path = crate::layout::path_of(r);
            for name in m.mentions.iter().filter(|n| **n != r.author) {
                push_personal(state, name, Personal { at: r.at, id: r.id, path: path.clone(), why: Why::Mention });
            }
        }
        Payload::MsgJoin(m) | Payload::MsgLeave(m) => {
            let joined = matches!(r.payload, Payload::MsgJoin(_));
            let events = channel(state, &m.channel, r).membership.entry(r.author.clone()).or_default();
            let at = events.partition_point(|(k, _)| *k < r.order_key());
            events.insert(at, (r.order_key(), joined));
        }
        Payload::MsgAck(MsgAck { upto, upto_at }) => {
            if let Some(actor) = state.actors.get_mut(&r.author) {
                let cursor = (*upto_at, *upto);
                if actor.cursor.is_none_or(|c| c < cursor) {
                    actor.cursor = Some(cursor);
                    actor.personal.retain(|p| (p.at, p.id) > cursor);
                }
            }
        }
        _ => {}
    }
}

/// A handoff puts the task in the receiver's inbox.
pub(super) fn handed_to(state: &mut State, to: &str, r: &Record) {
    let item = Personal { at: r.at, id: r.id, path: crate::layout::path_of(r), why: Why::Handoff };
    push_personal(state, to, item);
}

fn push_personal(state: &mut State, name: &str, item: Personal) {
    if let Some(actor) = state.actors.get_mut(name) {
        if actor.cursor.is_none_or(|c| c < (item.at, item.id)) {
            actor.personal.push(item);
        }
    }
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
