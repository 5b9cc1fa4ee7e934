//! Humans in control: assigning a task (a handoff from nobody), cancelling
//! and reopening tasks, and changing an actor's role or owner. Each rule is
//! shown to let the actor it names through and to refuse the others, with
//! nothing written; the fold's rules on an in-memory team, the commands'
//! exit codes on a real clone, and hand-signed records pushed past the CLI
//! to a hooked remote (refused) and to one without hooks (`verify` fails).

use git_crew::hlc::Hlc;
use git_crew::id::Id;
use git_crew::layout;
use git_crew::record::kinds::{ActorUpdate, Role, TaskCancel, TaskHandoff};
use git_crew::record::{self, Payload};
use git_crew::state::tasks::Status;
use git_crew::tasks::{ClaimMode, ClaimTarget};
use serde_json::Value;

use crate::common::memory::Team;
use crate::common::{refused, team, World};
use crate::hostile::{assert_refused, remote_tip, stderr, Forge};

/// The in-memory team (alice admin; agents bob and carol, alice's) plus dana,
/// a human, and eve, an agent dana answers for.
fn crew() -> Team {
    let t = Team::new();
    t.ws.admit_new("alice", "dana", Role::Human, None).unwrap();
    t.ws.admit_new("alice", "eve", Role::Agent, Some("dana")).unwrap();
    t
}

/// The lease length of task `id`'s holder, in seconds.
fn lease_of(t: &Team, id: Id) -> i64 {
    let snap = t.ws.snapshot().unwrap();
    snap.state.tasks[&id].holder.as_ref().expect("a holder").lease_ms / 1000
}

#[test]
fn an_admin_or_the_agents_owner_assigns_a_task_nobody_holds() {
    let t = crew();
    let a = t.add("alice", "Wire the API", |_| {});
    // An agent may not assign to an agent it does not answer for; nor may a
    // human who does not answer for it.
    t.refused(|ws| ws.assign("bob", a, "carol", None, None), "bob may not assign task");
    t.refused(|ws| ws.assign("dana", a, "carol", None, None), "only its holder, an admin or carol's owner");
    // The owner may: the task is eve's, with the default lease, in her inbox.
    t.ws.assign("dana", a, "eve", Some("yours".into()), None).unwrap();
    assert_eq!(t.holder(a), Some("eve".into()));
    assert_eq!(lease_of(&t, a), 3600, "no lease given, no holder before: an hour");
    let (_, inbox) = t.ws.inbox("eve").unwrap();
    assert!(
        inbox.iter().any(|i| matches!(&i.record.payload, Payload::TaskHandoff(h) if h.task == a)),
        "the assignment reaches eve's inbox"
    );
    // A task held with a running lease is not assigned away, even by an admin.
    t.refused(|ws| ws.assign("alice", a, "bob", None, None), "held by eve");

    // An admin assigns to anyone, with a lease of its choosing.
    let b = t.add("dana", "Review the schema", |_| {});
    t.ws.assign("alice", b, "carol", None, Some(600)).unwrap();
    assert_eq!((t.holder(b), lease_of(&t, b)), (Some("carol".into()), 600));
    // A holder that is stopped holds nothing: the task is assigned on, with
    // the stopped holder's lease length.
    let c = t.add("alice", "Rotate the logs", |_| {});
    t.claim("bob", c).unwrap();
    t.ws.suspend("alice", &["bob".into()], false, Some("looping".into())).unwrap();
    t.ws.assign("alice", c, "carol", None, None).unwrap();
    assert_eq!(t.holder(c), Some("carol".into()));
    assert_eq!(lease_of(&t, c), i64::try_from(git_crew::tasks::DEFAULT_LEASE_SECS).unwrap());
    // A done task is not assigned.
    t.ws.done("carol", b, None, None).unwrap();
    t.refused(|ws| ws.assign("alice", b, "carol", None, None), "is done");
    // A former holder that lost the task is a lost race (void, exit 3), not
    // a forgery: carol held `b` once.
    let d = t.add("alice", "Update the README", |_| {});
    t.claim("carol", d).unwrap();
    t.ws.release("carol", d, None).unwrap();
    let err = t.refused(|ws| ws.assign("carol", d, "eve", None, None), "does not hold");
    assert!(!err.contains("may not assign"), "{err}");
    t.verified();
}

#[test]
fn an_admin_a_human_or_the_creator_cancels_and_dependents_go_on() {
    let t = crew();
    let plan = t.add("alice", "Old plan", |_| {});
    let after = t.add("alice", "After the plan", |n| n.depends_on = vec![plan]);
    let own = t.add("bob", "My own idea", |_| {});
    assert!(matches!(t.status(after), Status::Blocked { .. }), "waits on the plan");
    // An agent cancels only a task it created.
    t.refused(|ws| ws.cancel("bob", plan, "no".into()), "bob may not cancel task");
    t.ws.cancel("bob", own, "not needed after all".into()).unwrap();
    // A human cancels any task; its holder and block are cleared.
    t.claim("carol", plan).unwrap();
    t.ws.block("carol", plan, "waiting".into()).unwrap();
    t.ws.cancel("dana", plan, "superseded".into()).unwrap();
    assert_eq!(t.status(plan), Status::Cancelled);
    let snap = t.ws.snapshot().unwrap();
    let cancelled = snap.state.tasks[&plan].cancelled.clone().expect("cancelled");
    assert_eq!((cancelled.by.as_str(), cancelled.reason.as_str()), ("dana", "superseded"));
    assert!(snap.state.tasks[&plan].holder.is_none() && snap.state.tasks[&plan].blocked.is_none());
    // Its dependent is no longer held back.
    assert_eq!(t.status(after), Status::Ready);
    let board = t.summaries();
    let b = git_crew::tasks::Board::new(&board, None, git_crew::tasks::now_ms());
    assert!(b.ready.iter().any(|s| s.id == after), "the dependent is ready on the board");
    assert!(b.done.iter().any(|s| s.id == plan && s.cancelled_by.as_deref() == Some("dana")));
    // Nothing counts on a cancelled task but talk, edits and reopening.
    t.refused(|ws| ws.cancel("alice", plan, "again".into()), "is cancelled");
    t.refused(|ws| ws.claim("carol", &ClaimTarget::Task(plan), 1800, &ClaimMode::Local), "is cancelled");
    t.refused(|ws| ws.assign("alice", plan, "carol", None, None), "is cancelled");
    t.refused(|ws| ws.done("alice", plan, None, None), "is cancelled");
    t.refused(|ws| ws.block("alice", plan, "x".into()), "is cancelled");
    t.ws.comment("bob", plan, "noted".into()).unwrap();
    t.verified();
}

#[test]
fn an_admin_a_human_or_the_closer_reopens() {
    let t = crew();
    let first = t.add("alice", "First", |_| {});
    let next = t.add("alice", "Next", |n| n.depends_on = vec![first]);
    t.claim("bob", first).unwrap();
    t.ws.done("bob", first, None, Some("shipped".into())).unwrap();
    assert_eq!(t.status(next), Status::Ready);
    // Reopening an open task is a conflict; carol did not close it.
    t.refused(|ws| ws.reopen("alice", next, None), "is open");
    t.refused(|ws| ws.reopen("carol", first, None), "carol may not reopen task");
    // The closer may, and the task is claimable again; its dependent waits.
    t.ws.reopen("bob", first, Some("regressed".into())).unwrap();
    assert_eq!(t.status(first), Status::Ready);
    assert!(matches!(t.status(next), Status::Blocked { .. }));
    t.claim("carol", first).unwrap();
    t.ws.done("carol", first, None, None).unwrap();
    // A human reopens what someone else closed; so does an admin a cancel.
    t.ws.reopen("dana", first, None).unwrap();
    t.ws.cancel("dana", first, "dropped".into()).unwrap();
    t.refused(|ws| ws.reopen("bob", first, None), "only an admin, a human or who closed it (dana)");
    t.ws.reopen("alice", first, None).unwrap();
    assert_eq!(t.status(first), Status::Ready);
    t.verified();
}

#[test]
fn only_an_admin_changes_roles_and_owners_and_one_admin_stays() {
    let t = crew();
    t.refused(|ws| ws.update_actor("bob", "carol", Some(Role::Human), None), "admin only");
    t.refused(|ws| ws.update_actor("dana", "eve", None, Some("dana")), "admin only");
    // The last admin cannot step down (the genesis admin included).
    t.refused(|ws| ws.update_actor("alice", "alice", Some(Role::Human), None), "last admin");
    // An agent's owner is a human or an admin; an agent keeps one.
    t.refused(|ws| ws.update_actor("alice", "carol", None, Some("bob")), "must be a human or an admin");
    t.refused(|ws| ws.update_actor("alice", "dana", Some(Role::Agent), None), "without an owner");
    // dana answers for eve: she is not made an agent.
    t.refused(|ws| ws.update_actor("alice", "dana", Some(Role::Agent), Some("alice")), "answers for eve");
    // carol gets a new owner, who may now suspend her.
    t.ws.update_actor("alice", "carol", None, Some("dana")).unwrap();
    t.ws.suspend("dana", &["carol".into()], false, None).unwrap();
    t.ws.resume("dana", "carol").unwrap();
    // dana becomes an admin; then the genesis admin may step down, and has
    // no admin's authority after that.
    t.ws.update_actor("alice", "dana", Some(Role::Admin), None).unwrap();
    t.ws.update_actor("alice", "alice", Some(Role::Human), None).unwrap();
    t.refused(|ws| ws.update_actor("alice", "bob", Some(Role::Human), None), "admin only");
    t.refused(|ws| ws.update_actor("dana", "dana", Some(Role::Human), None), "last admin");
    // An agent made a human drops its owner.
    t.ws.update_actor("dana", "bob", Some(Role::Human), None).unwrap();
    let snap = t.ws.snapshot().unwrap();
    let (bob, alice) = (&snap.state.actors["bob"], &snap.state.actors["alice"]);
    assert_eq!((bob.role, bob.owner.as_deref()), (Role::Human, None));
    assert_eq!((alice.role, snap.state.actors["dana"].role), (Role::Human, Role::Admin));
    assert_eq!(snap.state.actors["carol"].owner.as_deref(), Some("dana"));
    t.verified();
}

/// The commands: exit codes, JSON, and nothing written when refused.
#[test]
fn the_commands_assign_cancel_reopen_and_update_with_their_exit_codes() {
    let w = World::new();
    let (dir, _) = w.workspace("h");
    w.crew_ok(&dir, &["--as", "alice", "id", "new", "dana", "--role", "human"]);
    w.crew_ok(&dir, &["--as", "alice", "id", "new", "eve", "--role", "agent", "--owner", "dana"]);
    w.agent(&dir, "bob");
    let add = |who: &str, title: &str| {
        w.crew_json(&dir, &["--as", who, "task", "add", title])["record"]["id"].as_str().unwrap().to_owned()
    };
    let task = add("alice", "Ship it");
    let later = add("alice", "Later");

    // assign
    refused(&w, &dir, "bob", &["task", "assign", &task, "--to", "eve"], 1, "may not assign");
    let out = w.crew_json(&dir, &["--as", "dana", "task", "assign", &task[..8], "--to", "eve", "--lease", "2h"]);
    assert_eq!(out["record"]["kind"], "task.handoff", "{out}");
    assert_eq!(out["record"]["fields"]["lease"], 7200, "{out}");
    let inbox = w.crew_json(&dir, &["--as", "eve", "inbox"]);
    assert_eq!(inbox[0]["reason"], "handoff", "{inbox}");
    refused(&w, &dir, "alice", &["task", "assign", &task, "--to", "bob"], 3, "held by eve");

    // cancel
    refused(&w, &dir, "bob", &["task", "cancel", &later, "--reason", "meh"], 1, "may not cancel");
    w.crew_ok(&dir, &["--as", "dana", "task", "cancel", &later, "--reason", "out of scope"]);
    let shown = w.crew_json(&dir, &["task", "show", &later]);
    assert_eq!(shown["task"]["status"], "cancelled", "{shown}");
    assert_eq!(shown["task"]["cancelled"]["by"], "dana", "{shown}");
    assert_eq!(shown["task"]["cancelled"]["reason"], "out of scope", "{shown}");
    assert!(shown["task"]["cancelled"]["at"].is_string(), "{shown}");
    let board = w.crew_json(&dir, &["board"]);
    assert_eq!(board["done"][0]["status"], "cancelled", "{board}");
    assert_eq!(board["done"][0]["cancelled_by"], "dana", "{board}");
    let text = w.crew_ok(&dir, &["board"]);
    assert!(text.contains("cancelled by dana"), "{text}");
    refused(&w, &dir, "bob", &["task", "claim", &later], 3, "is cancelled");
    refused(&w, &dir, "alice", &["task", "assign", &later, "--to", "bob"], 3, "is cancelled");

    // reopen
    refused(&w, &dir, "bob", &["task", "reopen", &later], 1, "may not reopen");
    refused(&w, &dir, "alice", &["task", "reopen", &task], 3, "is open");
    w.crew_ok(&dir, &["--as", "alice", "task", "reopen", &later, "--reason", "back in scope"]);
    let list = w.crew_json(&dir, &["task", "list"]);
    let row = list.as_array().unwrap().iter().find(|t| t["id"] == later.as_str()).unwrap().clone();
    assert_eq!(row["status"], "ready", "{row}");
    assert!(row.get("cancelled").is_none(), "{row}");

    // id update
    refused(&w, &dir, "bob", &["id", "update", "eve", "--role", "human"], 1, "admin only");
    refused(&w, &dir, "alice", &["id", "update", "alice", "--role", "human"], 3, "last admin");
    refused(&w, &dir, "alice", &["id", "update", "eve"], 2, "--role, --owner or both");
    refused(&w, &dir, "alice", &["id", "update", "eve", "--owner", "bob"], 1, "must be a human or an admin");
    let out = w.crew_json(&dir, &["--as", "alice", "id", "update", "dana", "--role", "admin"]);
    assert_eq!(out["record"]["kind"], "actor.update", "{out}");
    w.crew_ok(&dir, &["--as", "dana", "id", "update", "alice", "--role", "human"]);
    let alice = w.crew_json(&dir, &["id", "show", "alice"]);
    assert_eq!(alice["role"], "human", "{alice}");
    refused(&w, &dir, "alice", &["id", "update", "bob", "--owner", "dana"], 1, "admin only");
    // Both verifiers, git-crew's and the reference one, accept the history.
    crate::reference::both_accept(&w, &dir, "assignments, cancels, reopens and updates");
}

/// A record signed by `who` with its own key, at `at`.
fn signed(w: &World, ws: &Id, who: &str, at: Hlc, payload: Payload) -> Vec<u8> {
    record::encode(ws, who, at, payload, &w.key(ws, who)).unwrap().1
}

/// Records the CLI would not write, hand-signed by bob (an agent with a valid
/// key) and pushed with plain git: a cancel of alice's task, an assignment to
/// carol (whom alice answers for) of a task bob never held, and bob making
/// himself an admin. The hooked remote refuses each, naming why, and stays;
/// a remote without hooks takes them, and `verify` fails on each.
#[test]
fn hand_signed_unauthorized_records_are_refused_by_the_server_and_verify() {
    let w = World::new();
    let (a, _b, remote, task) = team(&w, "Guarded");
    let ws: Id = w.crew_json(&a, &["verify"])["report"]["workspace"].as_str().unwrap().parse().unwrap();
    let task: Id = task.parse().unwrap();
    let f = Forge::new(&w, &a);
    // bob held the task once, and gave it up; he never held `other`.
    w.crew_ok(&a, &["--as", "bob", "task", "claim", &task.hex()]);
    w.crew_ok(&a, &["--as", "bob", "task", "release", &task.hex()]);
    let other =
        w.crew_json(&a, &["--as", "alice", "task", "add", "Other"])["record"]["id"].as_str().unwrap().to_owned();
    let other: Id = other.parse().unwrap();
    let base = remote_tip(&w, &remote);
    let loose = w.bare("loose.git");
    let cases = [
        (
            layout::task_path(&task),
            Payload::TaskCancel(TaskCancel { task, reason: "mine now".into() }),
            "bob may not cancel task",
        ),
        (
            layout::task_path(&other),
            Payload::TaskHandoff(TaskHandoff { task: other, to: "carol".into(), note: None, lease: None }),
            "bob may not assign task",
        ),
        (
            "actors/bob.yaml".to_owned(),
            Payload::ActorUpdate(ActorUpdate { name: "bob".into(), role: Some(Role::Admin), owner: None }),
            "admin only",
        ),
    ];
    for (path, payload, why) in cases {
        let bytes = signed(&w, &ws, "bob", Hlc::now(), payload);
        let commit = f.honest(&ws, &base, &path, &[&bytes]);
        assert_refused(&w, &remote, &f.push(&remote, &commit), &base, why);
        let out = f.push(&loose, &commit);
        assert!(out.status.success(), "{}", stderr(&out));
        let c = w.path(&format!("c-{}", &commit[..8]));
        w.git(&w.root, &["clone", "-q", "-b", "crew", loose.to_str().unwrap(), c.to_str().unwrap()]);
        let run = w.crew(&c, &["--json", "verify"]);
        assert_eq!(run.code, 4, "{run:?}");
        assert!(run.stdout.contains(why) || run.stderr.contains(why), "{run:?}");
        crate::reference::both_refuse(&w, &c, why);
        w.git(&loose, &["update-ref", "refs/heads/crew", &base]);
    }
    // A handoff by a former holder (bob) lost a race: the server publishes
    // only what counts, but a history that holds it verifies (it is void).
    let handoff = Payload::TaskHandoff(TaskHandoff { task, to: "carol".into(), note: None, lease: None });
    let bytes = signed(&w, &ws, "bob", Hlc::now(), handoff);
    let commit = f.honest(&ws, &base, &layout::task_path(&task), &[&bytes]);
    assert_refused(&w, &remote, &f.push(&remote, &commit), &base, "does not hold");
    let out = f.push(&loose, &commit);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = w.path("c-void");
    w.git(&w.root, &["clone", "-q", "-b", "crew", loose.to_str().unwrap(), c.to_str().unwrap()]);
    crate::reference::both_accept(&w, &c, "a former holder's handoff, void");
    // The honest form: alice, the admin, may cancel and a clone verifies it.
    let shown: Value = w.crew_json(&a, &["--as", "alice", "task", "cancel", &task.hex(), "--reason", "not needed"]);
    assert_eq!(shown["published"], true, "{shown}");
    assert_eq!(w.crew_json(&a, &["verify"])["ok"], true);
}
