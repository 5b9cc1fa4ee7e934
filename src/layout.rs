//! The on-branch layout: which file a record belongs to, and which paths may exist.
//!
//! ```text
//! CREW.yaml                  workspace manifest: the genesis record first
//! .gitattributes             `* -text` and `*.yaml merge=crew`
//! actors/<name>.yaml         one actor's identity records
//! tasks/<shard>/<id>.yaml    one task's whole life; shard = first 2 hex digits of the id
//! channels/<channel>/<yyyy-mm-dd>/<author>.yaml
//!                            one author's messages (and joins, leaves) in a channel that
//!                            day; <channel> is a name, dm/<a>+<b> or task/<task id>
//! acks/<actor>/<yyyy-mm>.yaml  an actor's inbox cursor moves that month
//! reservations/<shard>/<id>.yaml  one path reservation's whole life
//! ```
//!
//! Invariant: the file of a record is a function of the record alone, so the
//! same record written twice, anywhere, lands in the same file.

use crate::id::Id;
use crate::record::kinds::Channel;
use crate::record::{validate_name, Payload, Record};

/// The manifest file.
pub const MANIFEST: &str = "CREW.yaml";
/// The attributes file routing log files to the crew merge driver.
pub const ATTRIBUTES: &str = ".gitattributes";
/// The exact content of [`ATTRIBUTES`].
pub const ATTRIBUTES_CONTENT: &[u8] = b"* -text\n*.yaml merge=crew\n";

/// A valid path on the branch, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// `CREW.yaml`.
    Manifest,
    /// `.gitattributes`.
    Attributes,
    /// `actors/<name>.yaml`.
    Actor(String),
    /// `tasks/<shard>/<id>.yaml`.
    Task(Id),
    /// `channels/<channel>/<day>/<author>.yaml`.
    Channel {
        /// The channel.
        channel: Channel,
        /// `yyyy-mm-dd`.
        day: String,
        /// The author of every record in the file.
        author: String,
    },
    /// `reservations/<shard>/<id>.yaml`.
    Reservation(Id),
    /// `acks/<actor>/<yyyy-mm>.yaml`.
    Acks {
        /// The actor.
        actor: String,
        /// `yyyy-mm`.
        month: String,
    },
}

impl Place {
    /// Whether the file at this place is a log of records.
    pub fn is_log(&self) -> bool {
        !matches!(self, Place::Attributes)
    }
}

/// The file of a task.
pub fn task_path(task: &Id) -> String {
    let hex = task.hex();
    format!("tasks/{}/{hex}.yaml", &hex[..2])
}

/// The file of a path reservation.
pub fn reservation_path(id: &Id) -> String {
    let hex = id.hex();
    format!("reservations/{}/{hex}.yaml", &hex[..2])
}

/// The file of an actor's identity records.
pub fn actor_path(name: &str) -> String {
    format!("actors/{name}.yaml")
}

/// The directory of a channel's files.
pub fn channel_dir(channel: &Channel) -> String {
    format!("channels/{channel}")
}

/// The file of `author`'s records in `channel` on `day` (`yyyy-mm-dd`).
pub fn channel_path(channel: &Channel, day: &str, author: &str) -> String {
    format!("{}/{day}/{author}.yaml", channel_dir(channel))
}

/// The reference a session's heartbeat lives on (never a branch file).
pub fn live_ref(actor: &str, session: &str) -> String {
    format!("{LIVE_REFS}{actor}/{session}")
}

/// Where heartbeats live: `refs/crew/live/<actor>/<session>`.
pub const LIVE_REFS: &str = "refs/crew/live/";

/// The file a record belongs to. A heartbeat's "file" is its reference, which
/// no branch path can match, so a beat committed to the branch is misplaced.
pub fn path_of(record: &Record) -> String {
    if let Payload::LiveBeat(b) = &record.payload {
        return live_ref(&record.author, &b.session);
    }
    if let Some(channel) = record.payload.channel() {
        return channel_path(&channel, &record.at.day(), &record.author);
    }
    if let Some(actor) = record.payload.actor() {
        return actor_path(actor);
    }
    if let Some(reservation) = record.payload.reservation(&record.id) {
        return reservation_path(&reservation);
    }
    match (&record.payload, record.task()) {
        (Payload::MsgAck(_), _) => format!("acks/{}/{}.yaml", record.author, &record.at.day()[..7]),
        (_, Some(task)) => task_path(&task),
        // Only the genesis is about neither an actor nor a task.
        _ => MANIFEST.to_owned(),
    }
}

/// Classify a path; `None` if nothing may live there.
pub fn classify(path: &str) -> Option<Place> {
    match path {
        MANIFEST => return Some(Place::Manifest),
        ATTRIBUTES => return Some(Place::Attributes),
        _ => {}
    }
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["actors", file] => {
            let name = file.strip_suffix(".yaml")?;
            validate_name(name).ok()?;
            Some(Place::Actor(name.to_owned()))
        }
        ["tasks", shard, file] => {
            let id: Id = file.strip_suffix(".yaml")?.parse().ok()?;
            (id.hex()[..2] == **shard).then_some(Place::Task(id))
        }
        ["reservations", shard, file] => {
            let id: Id = file.strip_suffix(".yaml")?.parse().ok()?;
            (id.hex()[..2] == **shard).then_some(Place::Reservation(id))
        }
        ["channels", name @ .., day, file] if !name.is_empty() && name.len() <= 2 => {
            let channel = Channel::parse(&name.join("/")).ok()?;
            let author = file.strip_suffix(".yaml")?;
            validate_name(author).ok()?;
            is_day(day).then(|| Place::Channel { channel, day: (*day).to_owned(), author: author.to_owned() })
        }
        ["acks", actor, file] => {
            let month = file.strip_suffix(".yaml")?;
            validate_name(actor).ok()?;
            is_day(&format!("{month}-01")).then(|| Place::Acks { actor: (*actor).to_owned(), month: month.to_owned() })
        }
        _ => None,
    }
}

/// Whether `s` is a calendar date spelled `yyyy-mm-dd`.
fn is_day(s: &str) -> bool {
    s.len() == 10
        && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok_and(|d| d.format("%Y-%m-%d").to_string() == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_accepts_only_the_layout() {
        let id = Id([0xab; 32]);
        assert_eq!(classify(&task_path(&id)), Some(Place::Task(id)));
        assert_eq!(classify("actors/alice.yaml"), Some(Place::Actor("alice".into())));
        assert_eq!(classify("actors/Alice.yaml"), None);
        assert_eq!(classify(&format!("tasks/cd/{}.yaml", id.hex())), None);
        assert_eq!(classify("notes.txt"), None);
        assert_eq!(classify("CREW.yaml"), Some(Place::Manifest));
        let dm = Channel::direct("bob", "alice");
        assert_eq!(channel_path(&dm, "2026-12-01", "bob"), "channels/dm/alice+bob/2026-12-01/bob.yaml");
        assert!(matches!(classify("channels/dm/alice+bob/2026-12-01/bob.yaml"), Some(Place::Channel { .. })));
        assert!(matches!(classify("channels/general/2026-12-01/bob.yaml"), Some(Place::Channel { .. })));
        assert_eq!(classify("channels/dm/bob+alice/2026-12-01/bob.yaml"), None);
        assert_eq!(classify("channels/general/2026-02-30/bob.yaml"), None);
        assert_eq!(
            classify("acks/bob/2026-12.yaml"),
            Some(Place::Acks { actor: "bob".into(), month: "2026-12".into() })
        );
        assert_eq!(classify("acks/bob/2026-13.yaml"), None);
    }
}
