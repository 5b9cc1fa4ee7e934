//! Tasks in the fold: the board.

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::kinds::TaskCreate;
use crate::record::Record;

/// A task as the fold sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The task id (id of its `task.create` record).
    pub id: Id,
    /// Title.
    pub title: String,
    /// Description.
    pub body: Option<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// 0 (most urgent) to 4.
    pub priority: u8,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: Hlc,
    /// Stamp of the last record that changed it.
    pub updated_at: Hlc,
    /// Ids of its receipts, oldest first.
    pub receipts: Vec<Id>,
}

impl Task {
    pub(super) fn new(r: &Record, t: &TaskCreate) -> Task {
        Task {
            id: r.id,
            title: t.title.clone(),
            body: t.body.clone(),
            labels: t.labels.clone(),
            priority: t.priority,
            created_by: r.author.clone(),
            created_at: r.at,
            updated_at: r.at,
            receipts: Vec::new(),
        }
    }
}
