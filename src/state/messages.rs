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
    /// Members (named channels) and when they joined.
    pub members: std::collections::BTreeMap<String, Hlc>,
    /// Messages counted.
    pub messages: u64,
    /// Stamp of the last message.
    pub last_at: Hlc,
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
                        state.actors.get(party).ok_or_else(|| Refusal::UnknownActor(party.clone()))?;
                    }
                }
                Ok(Channel::Task(t)) => {
                    state.task(&t)?;
                }
                Ok(Channel::Named(_)) => {}
                Err(e) => return Err(Refusal::NotPermitted(e)),
            }
            for name in &m.mentions {
                state.actors.get(name).ok_or_else(|| Refusal::UnknownActor(name.clone()))?;
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
            info.last_at = r.at;
            let path = crate::layout::path_of(r);
            for name in m.mentions.iter().filter(|n| **n != r.author) {
                push_personal(state, name, Personal { at: r.at, id: r.id, path: path.clone(), why: Why::Mention });
            }
        }
        Payload::MsgJoin(m) => {
            channel(state, &m.channel, r).members.entry(r.author.clone()).or_insert(r.at);
        }
        Payload::MsgLeave(m) => {
            channel(state, &m.channel, r).members.remove(&r.author);
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

fn channel<'a>(state: &'a mut State, name: &str, r: &Record) -> &'a mut ChannelInfo {
    state.channels.entry(name.to_owned()).or_insert_with(|| ChannelInfo {
        created_by: r.author.clone(),
        created_at: r.at,
        members: Default::default(),
        messages: 0,
        last_at: r.at,
    })
}
