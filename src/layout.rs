//! The on-branch layout: which file a record belongs to, and which paths may exist.
//!
//! ```text
//! CREW.yaml                  workspace manifest: the genesis record first
//! .gitattributes             `* -text` and `*.yaml merge=crew`
//! actors/<name>.yaml         one actor's identity records
//! tasks/<shard>/<id>.yaml    one task's whole life; shard = first 2 hex digits of the id
//! ```
//!
//! Invariant: the file of a record is a function of the record alone, so the
//! same record written twice, anywhere, lands in the same file.

use crate::id::Id;
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

/// The file of an actor's identity records.
pub fn actor_path(name: &str) -> String {
    format!("actors/{name}.yaml")
}

/// The file a record belongs to.
pub fn path_of(record: &Record) -> String {
    match (&record.payload, record.task()) {
        (Payload::ActorAdmit(a), _) => actor_path(&a.name),
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
        _ => None,
    }
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
    }
}
