//! A team on an in-memory store: the library's own operations with no git
//! and no process, for tests of the board, the inbox and the fold's rules.
//! What needs git or processes (transport, hooks, races, the CLI contract)
//! stays with [`super::World`].

use std::fmt::Debug;

use git_crew::id::Id;
use git_crew::record::kinds::Role;
use git_crew::record::Record;
use git_crew::sign::KeyStore;
use git_crew::state::tasks::{Status, Summary};
use git_crew::store::{Memory, Oid};
use git_crew::tasks::{ClaimMode, ClaimTarget, NewTask};
use git_crew::workspace::Workspace;

/// alice (admin) with agents bob and carol, on branch `crew` of a
/// [`Memory`] repository; keys and local state live in a temporary directory.
pub struct Team {
    dir: tempfile::TempDir,
    pub ws: Workspace<Memory>,
}

impl Team {
    pub fn new() -> Team {
        Team::in_temp(tempfile::tempdir().unwrap())
    }

    /// A team whose keys and local state live in a new directory inside
    /// `parent`.
    pub fn new_in(parent: &std::path::Path) -> Team {
        Team::in_temp(tempfile::tempdir_in(parent).unwrap())
    }

    fn in_temp(dir: tempfile::TempDir) -> Team {
        let keys = KeyStore::at(dir.path().join("keys"));
        let ws = Workspace::in_memory(Memory::default(), "crew", &dir.path().join("local"), keys).unwrap();
        ws.init("alice", Some("memory")).unwrap();
        for agent in ["bob", "carol"] {
            ws.admit_new("alice", agent, Role::Agent, Some("alice")).unwrap();
        }
        Team { dir, ws }
    }

    /// Another clone of the team's workspace on this machine: a repository of
    /// its own holding what this one holds, the same keys, its own local
    /// state. What either writes reaches the other only through
    /// [`Team::meet`].
    pub fn apart(&self) -> Team {
        let dir = tempfile::tempdir().unwrap();
        let repo = Memory::default();
        repo.copy_objects_from(self.ws.store().backend());
        let keys = KeyStore::at(self.dir.path().join("keys"));
        let ws = Workspace::in_memory(repo, "crew", &dir.path().join("local"), keys).unwrap();
        ws.store().set_tip(None, self.tip(), "clone").unwrap();
        Team { dir, ws }
    }

    /// Bring what `other` has into this clone, as a sync that fetched it would.
    pub fn meet(&self, other: &Team) -> git_crew::sync::Synced {
        self.ws.store().backend().copy_objects_from(other.ws.store().backend());
        git_crew::sync::integrate_commit(&self.ws, other.tip()).unwrap()
    }

    /// The branch tip.
    pub fn tip(&self) -> Oid {
        self.ws.store().tip().unwrap().expect("the team's branch exists")
    }

    /// `op` is refused with an error whose message contains `want`, and the
    /// branch did not move. Returns the message.
    pub fn refused<T: Debug>(&self, op: impl FnOnce(&Workspace<Memory>) -> git_crew::Result<T>, want: &str) -> String {
        let before = self.tip();
        let err = match op(&self.ws) {
            Ok(v) => panic!("accepted, want a refusal naming {want:?}: {v:?}"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want), "the refusal does not name {want:?}: {err}");
        assert_eq!(self.tip(), before, "a refusal moved the branch: {err}");
        err
    }

    /// `task add` as `actor`, with `extra` applied to the new task's fields.
    pub fn add(&self, actor: &str, title: &str, extra: impl FnOnce(&mut NewTask)) -> Id {
        let mut task = NewTask { title: title.to_owned(), ..NewTask::default() };
        extra(&mut task);
        self.ws.add_task(actor, task).unwrap().id
    }

    /// `task claim` as `actor` on this clone.
    pub fn claim(&self, actor: &str, task: Id) -> git_crew::Result<Record> {
        self.ws.claim(actor, &ClaimTarget::Task(task), git_crew::tasks::DEFAULT_LEASE_SECS, &ClaimMode::Local)
    }

    /// The board's summaries of every task.
    pub fn summaries(&self) -> Vec<Summary> {
        self.ws.summaries().unwrap().1
    }

    /// Where task `id` stands now, as the board shows it.
    pub fn status(&self, id: Id) -> Status {
        let snap = self.ws.snapshot().unwrap();
        snap.state.tasks[&id].status(&snap.state, git_crew::tasks::now_ms())
    }

    /// The holder of task `id` now, if any.
    pub fn holder(&self, id: Id) -> Option<String> {
        match self.status(id) {
            Status::InProgress { holder, .. } => Some(holder),
            _ => None,
        }
    }

    /// The tasks `actor` holds now.
    pub fn mine(&self, actor: &str) -> Vec<Id> {
        let snap = self.ws.snapshot().unwrap();
        let now = git_crew::tasks::now_ms();
        snap.state.tasks.values().filter(|t| t.holder_at(now).is_some_and(|c| c.actor == actor)).map(|t| t.id).collect()
    }

    /// Every record of the workspace passes `verify`.
    pub fn verified(&self) {
        let report = git_crew::verify::verify(self.ws.store(), true).unwrap();
        assert!(report.failures.is_empty(), "verify: {:?}", report.failures);
    }
}
