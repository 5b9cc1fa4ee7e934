//! The kill switch across clones and a hooked remote: `suspend` stops an
//! actor's writes (exit 5) on every clone that has seen it, `alive` flips to 5,
//! the server refuses the suspended actor's pushes (backdated records
//! included), its claims stop holding its tasks, and `resume` restores it.

use std::path::{Path, PathBuf};

use git_crew::hlc::Hlc;
use git_crew::id::Id;
use git_crew::record::kinds::TaskComment;
use git_crew::record::{self, Payload};
use serde_json::Value;

use crate::common::{tip, World};

fn team(w: &World) -> (PathBuf, PathBuf, PathBuf, String) {
    crate::common::team(w, "Fix the flaky test")
}

fn alive(w: &World, dir: &Path, actor: &str) -> i32 {
    w.crew(dir, &["--as", actor, "alive"]).code
}

#[test]
fn suspension_stops_writes_after_one_sync_and_resume_restores() {
    let w = World::new();
    let (a, b, _remote, task) = team(&w);
    w.crew_ok(&b, &["--as", "bob", "task", "claim", &task]);
    assert_eq!(alive(&w, &b, "bob"), 0);

    let out = w.crew_json(&a, &["suspend", "bob", "--reason", "looping on one test"]);
    assert_eq!(out["record"]["kind"], "actor.suspend", "{out}");
    w.crew_ok(&a, &["sync"]);
    // b's own copy has not seen it; `alive` asks the remote, with no sync.
    let offline = w.crew(&b, &["--as", "bob", "alive", "--offline"]);
    assert_eq!(offline.code, 0, "this clone's copy, unasked: {offline:?}");
    let run = w.crew(&b, &["--json", "--as", "bob", "alive"]);
    assert_eq!(run.code, 5, "one alive after a published suspension exits 5: {run:?}");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["alive"], false);
    assert_eq!(v["stale"], false, "{v}");
    assert_eq!(alive(&w, &b, "bob"), 5);
    assert_eq!(v["suspended"]["by"], "alice");
    assert_eq!(v["suspended"]["reason"], "looping on one test");
    // The agent hears, in its own clone, that its claim no longer holds the task.
    let freed = v["synced"]["freed"].as_array().unwrap_or_else(|| panic!("{v}"));
    assert_eq!(freed.len(), 1, "{v}");
    assert_eq!(freed[0]["task"], task.as_str(), "{v}");
    assert_eq!(freed[0]["actor"], "bob", "{v}");
    assert!(freed[0]["reason"].as_str().unwrap().contains("looping on one test"), "{v}");

    // Any write as bob exits 5 with the reason and writes nothing.
    let before = tip(&w, &b);
    for args in [
        vec!["task", "comment", &task[..8], "still here"],
        vec!["task", "add", "a new idea"],
        vec!["msg", "send", "--to", "alice", "hello"],
        vec!["task", "release", &task[..8]],
    ] {
        let mut full = vec!["--json", "--as", "bob"];
        full.extend(args.iter().copied());
        let run = w.crew(&b, &full);
        assert_eq!(run.code, 5, "{full:?}: {run:?}");
        let err: Value = serde_json::from_str(&run.stderr).unwrap();
        assert!(err["error"]["message"].as_str().unwrap().contains("looping on one test"), "{err}");
        assert_eq!(tip(&w, &b), before, "{full:?} wrote something");
    }

    // Bob's claim no longer holds the task: carol can take it, but not hand it
    // to a suspended actor.
    let board = w.crew_json(&b, &["board"]);
    assert_eq!(board["ready"][0]["id"].as_str(), Some(task.as_str()), "{board}");
    w.crew_ok(&b, &["--as", "carol", "task", "claim", &task]);
    let before = tip(&w, &b);
    let run = w.crew(&b, &["--as", "carol", "task", "handoff", &task[..8], "--to", "bob"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("suspended"), "{}", run.stderr);
    assert_eq!(tip(&w, &b), before);

    // Resume restores everything.
    w.crew_ok(&a, &["sync"]);
    w.crew_ok(&a, &["resume", "bob"]);
    w.crew_ok(&a, &["sync"]);
    w.crew_ok(&b, &["--as", "carol", "sync"]);
    assert_eq!(alive(&w, &b, "bob"), 0);
    w.crew_ok(&b, &["--as", "bob", "task", "comment", &task[..8], "back at it"]);
    w.crew_ok(&b, &["--as", "bob", "sync"]);
    for dir in [&a, &b] {
        assert_eq!(w.crew_json(dir, &["verify"])["ok"], true);
    }
}

#[test]
fn the_server_refuses_a_suspended_actors_push_even_backdated() {
    let w = World::new();
    let (a, b, remote, task) = team(&w);
    w.crew_ok(&a, &["suspend", "bob"]);
    w.crew_ok(&a, &["sync"]);
    let remote_tip = tip(&w, &remote);

    // b has not seen the suspension: bob writes, then syncs. His comment does
    // not count on top of the suspension, so his sync drops it and says why;
    // nothing reaches the remote, and the clone is not stuck.
    let comment = w
        .crew_json(&b, &["--offline", "--as", "bob", "task", "comment", &task[..8], "written before I knew"])["record"]
        .clone();
    let out = w.crew_json(&b, &["--as", "bob", "sync"]);
    let dropped = out["dropped"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{out}");
    assert_eq!(dropped[0]["record"], comment["id"], "{out}");
    assert!(dropped[0]["reason"].as_str().unwrap().contains("suspended"), "{out}");
    assert_eq!(tip(&w, &remote), remote_tip, "the remote moved");
    assert_eq!(tip(&w, &b), remote_tip, "the clone is at the published tip");
    let again = w.crew_json(&b, &["--as", "bob", "sync"]);
    assert_eq!(again["dropped"], serde_json::json!([]), "not retried: {again}");

    // A record signed by bob and dated before the suspension, pushed with plain
    // git on top of the remote's tip: refused too.
    w.git(&w.root, &["clone", "-q", remote.to_str().unwrap(), "c"]);
    let c = w.path("c");
    w.crew_ok(&c, &["sync"]);
    let wt = w.worktree(&c);
    let ws: Id = w.crew_json(&c, &["verify"])["report"]["workspace"].as_str().unwrap().parse().unwrap();
    let created: Hlc =
        w.crew_json(&c, &["task", "show", &task])["task"]["created_at"].as_str().unwrap().parse().unwrap();
    let backdated = Hlc { ms: created.ms, counter: created.counter + 1 };
    let payload = Payload::TaskComment(TaskComment { task: task.parse().unwrap(), text: "backdated".into() });
    let (r, bytes) = record::encode(&ws, "bob", backdated, payload, &w.key(&ws, "bob")).unwrap();
    let path = git_crew::layout::path_of(&r);
    let mut file = std::fs::read(wt.join(&path)).unwrap();
    file.extend_from_slice(&bytes);
    std::fs::write(wt.join(&path), file).unwrap();
    w.commit_all(&wt, "bob: a comment from the past");
    let push = w.git_output(&c, &["push", "--no-verify", remote.to_str().unwrap(), "crew"]);
    assert!(!push.status.success(), "a backdated record by a suspended actor was accepted");
    let stderr = String::from_utf8_lossy(&push.stderr);
    assert!(stderr.contains("suspended") && stderr.contains(&r.id.short()), "{stderr}");
    assert_eq!(tip(&w, &remote), remote_tip, "the remote moved");
}

#[test]
fn only_admins_and_owners_suspend_and_all_stops_every_agent() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    w.agent(&dir, "bob");
    w.agent(&dir, "carol");
    w.crew_ok(&dir, &["--as", "alice", "id", "new", "hank", "--role", "human"]);
    w.crew_ok(&dir, &["--as", "alice", "id", "new", "zed", "--role", "agent", "--owner", "hank"]);
    let before = tip(&w, &dir);
    let run = w.crew(&dir, &["--as", "carol", "suspend", "bob"]);
    assert_eq!(run.code, 1, "an agent may not suspend another: {run:?}");
    let run = w.crew(&dir, &["--as", "hank", "suspend", "bob"]);
    assert_eq!(run.code, 1, "hank does not own bob: {run:?}");
    let run = w.crew(&dir, &["suspend", "nobody"]);
    assert_eq!(run.code, 1, "{run:?}");
    let run = w.crew(&dir, &["resume", "bob"]);
    assert_eq!(run.code, 3, "bob is not suspended: {run:?}");
    assert_eq!(tip(&w, &dir), before, "a refusal wrote something");

    // The owner may stop its own agent, and start it again.
    w.crew_ok(&dir, &["--as", "hank", "suspend", "zed", "--reason", "mine to stop"]);
    assert_eq!(alive(&w, &dir, "zed"), 5);
    w.crew_ok(&dir, &["--as", "hank", "resume", "zed"]);
    assert_eq!(alive(&w, &dir, "zed"), 0);

    // --all: every agent in one commit; humans and admins keep working.
    let out = w.crew_json(&dir, &["suspend", "--all", "--reason", "stop the world"]);
    let names: Vec<&str> =
        out["records"].as_array().unwrap().iter().map(|r| r["fields"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["bob", "carol", "zed"]);
    for agent in ["bob", "carol", "zed"] {
        assert_eq!(alive(&w, &dir, agent), 5, "{agent}");
    }
    assert_eq!(alive(&w, &dir, "alice"), 0);
    assert_eq!(alive(&w, &dir, "hank"), 0);
    w.crew_ok(&dir, &["--as", "hank", "task", "add", "humans still write"]);
    let run = w.crew(&dir, &["suspend", "--all"]);
    assert_eq!(run.code, 1, "nobody left to suspend: {run:?}");
    assert_eq!(w.crew_json(&dir, &["verify"])["ok"], true);
}

/// Through a remote without the hook: a record the suspended agent wrote
/// offline before the suspension, which the suspender had not seen, does not
/// count on top of it, so the agent's sync drops it and says so instead of
/// publishing it; what the suspension saw still counts, and both clones agree.
#[test]
fn the_fold_ignores_what_a_suspension_did_not_see_through_a_plain_remote() {
    let w = World::new();
    let remote = w.bare("plain.git");
    let (a, _) = w.workspace("a");
    w.agent(&a, "bob");
    w.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    let task = w.crew_json(&a, &["task", "add", "Watch bob"])["record"]["id"].as_str().unwrap().to_owned();
    w.crew_ok(&a, &["sync"]);
    w.git(&w.root, &["clone", "-q", remote.to_str().unwrap(), "b"]);
    let b = w.path("b");
    w.crew_ok(&b, &["--as", "bob", "sync"]);
    let seen = w.crew_json(&b, &["--as", "bob", "task", "comment", &task, "seen by alice"])["record"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.crew_ok(&b, &["--as", "bob", "sync"]);
    w.crew_ok(&a, &["sync"]);
    // Offline on b: dated now, before the suspension alice is about to write.
    let unseen = w.crew_json(&b, &["--offline", "--as", "bob", "task", "comment", &task, "written offline"])["record"]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let suspension = w.crew_json(&a, &["suspend", "bob", "--reason", "runaway"]);
    assert_eq!(suspension["record"]["fields"]["seen"], seen.as_str(), "the suspension names what it saw: {suspension}");
    w.crew_ok(&a, &["sync"]);
    let out = w.crew_json(&b, &["--as", "bob", "sync"]);
    let dropped = out["dropped"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{out}");
    assert_eq!(dropped[0]["record"], unseen.as_str(), "{out}");
    assert!(dropped[0]["reason"].as_str().unwrap().contains("suspended by alice"), "{out}");
    // bob's inbox tells him too, until he acknowledges it (which writes no
    // record: the note is this clone's, and bob may not write).
    let before = tip(&w, &b);
    let inbox = w.crew_json(&b, &["--as", "bob", "inbox"]);
    let items = inbox.as_array().unwrap();
    assert_eq!(items.len(), 1, "{inbox}");
    assert_eq!(items[0]["reason"], "dropped", "{inbox}");
    assert_eq!(items[0]["id"], unseen.as_str(), "{inbox}");
    assert_eq!(items[0]["fields"]["text"], "written offline", "{inbox}");
    assert!(items[0]["why"].as_str().unwrap().contains("suspended by alice"), "{inbox}");
    let acked = w.crew_json(&b, &["--as", "bob", "inbox", "--ack"]);
    assert_eq!(acked["acked"], serde_json::json!([unseen]), "{acked}");
    assert_eq!(acked["record"], Value::Null, "{acked}");
    assert_eq!(w.crew_json(&b, &["--as", "bob", "inbox"]), serde_json::json!([]));
    assert_eq!(tip(&w, &b), before, "acknowledging a dropped note wrote nothing");
    w.crew_ok(&a, &["sync"]);
    assert_eq!(tip(&w, &a), tip(&w, &b));
    for dir in [&a, &b] {
        let shown = w.crew_json(dir, &["task", "show", &task]);
        let comments = shown["task"]["comments"].as_u64().unwrap();
        assert_eq!(comments, 1, "only the comment the suspension saw counts in {}: {shown}", dir.display());
        w.crew_ok(dir, &["verify"]);
    }
    let log = w.crew_json(&a, &["log", "--author", "bob"]);
    assert!(!log.as_array().unwrap().iter().any(|r| r["id"] == unseen.as_str()), "never published: {log}");
}

/// `alive` with an unreachable remote answers from the clone's copy and says
/// it is stale (exit 0 while that copy lets the actor work); a heartbeat after
/// a published suspension exits 5 and beats nothing.
#[test]
fn alive_says_stale_when_the_remote_is_away_and_a_suspended_heartbeat_exits_5() {
    let w = World::new();
    let (a, b, remote, _task) = team(&w);
    w.crew_json(&a, &["suspend", "bob", "--reason", "runaway"]);
    w.crew_ok(&a, &["sync"]);
    // The heartbeat asks the remote first: exit 5 naming who and why.
    let run = w.crew(&b, &["--json", "--as", "bob", "heartbeat", "--listening"]);
    assert_eq!(run.code, 5, "{run:?}");
    let err: Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(err["error"]["code"], "suspended", "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("runaway"), "{err}");
    let live = w.git(&b, &["for-each-ref", "refs/crew/live/bob"]);
    assert!(live.trim().is_empty(), "a suspended actor beat: {live}");
    // carol's copy (b) now has the suspension; the remote goes away.
    std::fs::rename(&remote, w.path("gone.git")).unwrap();
    let run = w.crew(&b, &["--json", "--as", "carol", "alive"]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["stale"], true, "{v}");
    assert!(v["stale_reason"].as_str().is_some_and(|r| r.contains("origin")), "{v}");
    let text = w.crew(&b, &["--as", "carol", "alive"]);
    assert!(text.stdout.contains("stale"), "{text:?}");
    assert_eq!(alive(&w, &b, "bob"), 5, "still answered from the copy");
    // carol's heartbeat beats on this clone, exits 0 and says it did not
    // reach the remote, in the JSON and on stderr.
    let run = w.crew(&b, &["--json", "--as", "carol", "heartbeat"]);
    assert_eq!(run.code, 0, "{run:?}");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["published"], false, "{v}");
    assert!(v["why"].as_str().is_some_and(|w| w.contains("git crew sync")), "{v}");
    assert!(run.stderr.contains("warning: not published to origin"), "{}", run.stderr);
    let live = w.git(&b, &["for-each-ref", "refs/crew/live/carol"]);
    assert!(!live.trim().is_empty(), "carol's beat is on her clone");
}
