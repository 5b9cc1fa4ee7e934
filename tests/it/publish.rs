//! Writes reach the team: with a remote configured, every write is on the
//! remote when the command returns (`"published": true`), or its output says
//! it is not and why; `--offline` and `crew.publish false` keep writes local;
//! concurrent writers in one clone all publish; a write the published state no
//! longer admits is refused and removed, not retried.

use std::path::Path;

use git_crew::id::Id;
use git_crew::workspace::Workspace;
use serde_json::Value;

use crate::common::*;

/// Whether the remote's branch holds the record `id`.
fn on_remote(w: &World, remote: &Path, id: &str) -> bool {
    w.crew_json(remote, &["log"]).to_string().contains(id)
}

/// `git-crew --json --as ACTOR ARGS…` in `dir`, which must publish: the
/// envelope says so, the remote holds the record, and the clone's branch is
/// the remote's. Returns the envelope.
fn published(w: &World, dir: &Path, remote: &Path, actor: &str, args: &[&str]) -> Value {
    let out = json_as(w, dir, actor, args);
    assert_eq!(out["published"], true, "{args:?}: {out}");
    assert_eq!(out["remote"], "origin", "{args:?}: {out}");
    assert!(out.get("why").is_none(), "{args:?}: {out}");
    let id = out["record"]["id"].as_str().unwrap_or_else(|| panic!("{args:?}: no record id in {out}"));
    assert!(on_remote(w, remote, id), "{args:?}: {id} is not on the remote");
    assert_eq!(w.tip(remote, "crew"), Some(tip(w, dir)), "{args:?}: the clone is not at the remote's tip");
    out
}

/// Every kind of write, from an agent's clone and the admin's, is on the
/// hooked remote when the command returns; nobody ran `sync`.
#[test]
fn every_write_kind_is_on_the_remote_when_it_returns() {
    let w = World::new();
    let (a, b, remote, _) = team(&w, "Seed");
    let id = |v: &Value| v["record"]["id"].as_str().unwrap().to_owned();

    let t = id(&published(&w, &b, &remote, "carol", &["task", "add", "Publish me"]));
    published(&w, &b, &remote, "carol", &["task", "edit", &t, "--title", "Publish me now"]);
    let claim = published(&w, &b, &remote, "carol", &["task", "claim", &t]);
    assert_eq!(claim["record"]["kind"], "task.claim", "{claim}");
    published(&w, &b, &remote, "carol", &["task", "comment", &t, "on it"]);
    published(&w, &b, &remote, "carol", &["task", "block", &t, "--reason", "waiting"]);
    published(&w, &b, &remote, "carol", &["task", "unblock", &t]);
    let rid = id(&published(
        &w,
        &b,
        &remote,
        "carol",
        &["receipt", "add", "--task", &t, "--kind", "test", "--summary", "green"],
    ));
    published(&w, &b, &remote, "carol", &["msg", "send", "--to", "bob", "handing it over"]);
    published(&w, &b, &remote, "carol", &["msg", "join", "general"]);
    published(&w, &b, &remote, "carol", &["msg", "leave", "general"]);
    published(&w, &b, &remote, "carol", &["task", "handoff", &t, "--to", "bob", "--note", "yours"]);

    // bob, in the admin's clone, which has not synced since: his writes are
    // made on top of what carol published.
    let other = id(&published(&w, &a, &remote, "bob", &["task", "add", "Another"]));
    published(&w, &a, &remote, "bob", &["task", "claim", &other]);
    published(&w, &a, &remote, "bob", &["task", "release", &other, "--reason", "not now"]);
    let done = published(&w, &a, &remote, "bob", &["task", "done", &t, "--receipt", &rid, "--summary", "shipped"]);
    assert_eq!(done["record"]["kind"], "task.done", "{done}");
    let acked = published(&w, &a, &remote, "bob", &["inbox", "--ack"]);
    assert_eq!(acked["record"]["kind"], "msg.ack", "{acked}");

    // The admin's writes.
    published(&w, &a, &remote, "alice", &["id", "new", "dave", "--role", "agent"]);
    published(&w, &a, &remote, "alice", &["suspend", "dave", "--reason", "drill"]);
    published(&w, &a, &remote, "alice", &["resume", "dave"]);

    // The remote verifies, and carol's clone gets bob's work by one sync.
    assert_eq!(w.crew_json(&remote, &["verify"])["ok"], true);
    w.crew_ok(&b, &["--as", "carol", "sync"]);
    assert_eq!(tip(&w, &b), tip(&w, &a));
}

/// An unreachable remote: the write stands on the clone, exit 0, and both the
/// JSON and stderr say it was not published and why; a later sync publishes it.
#[test]
fn an_unreachable_remote_keeps_the_write_and_says_so() {
    let w = World::new();
    let (_, b, remote, _) = team(&w, "Seed");
    let url = remote.to_str().unwrap();
    let nowhere = format!("git://127.0.0.1:{}/remote.git", free_port());
    w.git(&b, &["remote", "set-url", "origin", &nowhere]);
    let before = w.tip(&remote, "crew");

    let run = w.crew(&b, &["--json", "--as", "carol", "task", "add", "Written on a train"]);
    assert_eq!(run.code, 0, "{run:?}");
    let out = run.json();
    assert_eq!(out["published"], false, "{out}");
    assert_eq!(out["remote"], "origin", "{out}");
    let why = out["why"].as_str().unwrap_or_else(|| panic!("no why: {out}"));
    assert!(why.contains("git crew sync"), "the why says what to do: {why}");
    assert!(run.stderr.contains("warning: not published to origin"), "{}", run.stderr);
    let written = out["record"]["id"].as_str().unwrap().to_owned();
    assert!(w.crew_json(&b, &["task", "list"]).to_string().contains("Written on a train"));
    assert_eq!(w.tip(&remote, "crew"), before, "nothing reached the remote");

    // The text form warns too.
    let run = w.crew(&b, &["--as", "carol", "task", "comment", &written[..8], "still offline"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("warning: not published to origin"), "{}", run.stderr);

    // Back in reach: one sync publishes both.
    w.git(&b, &["remote", "set-url", "origin", url]);
    w.crew_ok(&b, &["--as", "carol", "sync"]);
    assert!(on_remote(&w, &remote, &written));
    assert_eq!(w.tip(&remote, "crew"), Some(tip(&w, &b)));
}

/// `--offline` and `git config crew.publish false` keep writes on the clone,
/// say so in the JSON, and warn about nothing (it was asked for).
#[test]
fn offline_and_crew_publish_false_keep_writes_local() {
    let w = World::new();
    let (_, b, remote, _) = team(&w, "Seed");
    let before = w.tip(&remote, "crew");

    let run = w.crew(&b, &["--json", "--as", "carol", "--offline", "task", "add", "Offline"]);
    assert_eq!(run.code, 0, "{run:?}");
    let out = run.json();
    assert_eq!(out["published"], false, "{out}");
    assert!(out["why"].as_str().is_some_and(|w| w.contains("--offline")), "{out}");
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let offline = out["record"]["id"].as_str().unwrap().to_owned();

    w.git(&b, &["config", "crew.publish", "false"]);
    let run = w.crew(&b, &["--json", "--as", "carol", "msg", "send", "--to", "bob", "later"]);
    assert_eq!(run.code, 0, "{run:?}");
    let out = run.json();
    assert_eq!(out["published"], false, "{out}");
    assert!(out["why"].as_str().is_some_and(|w| w.contains("crew.publish")), "{out}");
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    assert_eq!(w.tip(&remote, "crew"), before, "nothing reached the remote");

    w.crew_ok(&b, &["--as", "carol", "sync"]);
    assert!(on_remote(&w, &remote, &offline));
    assert_eq!(w.tip(&remote, "crew"), Some(tip(&w, &b)));
}

/// Eight writers racing in one clone (real processes): every one exits 0 with
/// its record on the remote, and the publish lock lets them share pushes (the
/// remote's branch moves at most once per writer).
#[test]
fn concurrent_writers_in_one_clone_all_publish() {
    const WRITERS: usize = 8;
    let w = World::new();
    let (_, b, remote, _) = team(&w, "Seed");
    w.git(&remote, &["config", "core.logAllRefUpdates", "always"]);
    let moves_before = w.git(&remote, &["reflog", "show", "--format=%H", "crew"]).lines().count();

    let jobs: Vec<_> = (0..WRITERS)
        .map(|i| {
            let title = format!("parallel {i}");
            (b.clone(), strings(&["--json", "--as", "carol", "task", "add", &title]))
        })
        .collect();
    let runs = all_at_once(&w, &jobs);
    let mut ids = Vec::new();
    for run in &runs {
        assert_eq!(run.code, 0, "{run:?}");
        let out = run.json();
        assert_eq!(out["published"], true, "{out}");
        ids.push(out["record"]["id"].as_str().unwrap().to_owned());
    }
    let log = w.crew_json(&remote, &["log"]).to_string();
    for id in &ids {
        assert!(log.contains(id.as_str()), "{id} is not on the remote");
    }
    let moves = w.git(&remote, &["reflog", "show", "--format=%H", "crew"]).lines().count() - moves_before;
    assert!((1..=WRITERS).contains(&moves), "the remote's branch moved {moves} times for {WRITERS} writers");
    eprintln!("{WRITERS} concurrent writers, {moves} pushes");
    assert_eq!(w.crew_json(&remote, &["verify"])["ok"], true);
}

/// An agent suspended on the remote writes from a clone that has not heard of
/// it: the write is refused with exit 5 when it meets the published state, is
/// removed from the clone's branch, and never reaches the remote.
#[test]
fn a_write_the_published_state_refuses_exits_5_and_is_removed() {
    let w = World::new();
    let (a, b, remote, _) = team(&w, "Seed");
    published(&w, &a, &remote, "alice", &["suspend", "carol", "--reason", "runaway"]);

    let run = w.crew(&b, &["--json", "--as", "carol", "task", "add", "Sneaked in"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stdout.trim().is_empty(), "{}", run.stdout);
    let err: Value = serde_json::from_str(&run.stderr).unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    assert_eq!(err["error"]["exit"], 5, "{err}");
    assert!(err["error"]["message"].as_str().is_some_and(|m| m.contains("suspended")), "{err}");
    assert!(!w.crew_json(&b, &["task", "list"]).to_string().contains("Sneaked in"), "kept on the clone");
    assert!(!w.crew_json(&remote, &["log"]).to_string().contains("Sneaked in"), "reached the remote");
    assert_eq!(w.tip(&remote, "crew"), Some(tip(&w, &b)), "the clone holds the published state");
    // carol's inbox says what was removed, and why.
    let inbox = w.crew_json(&b, &["--as", "carol", "inbox"]);
    let dropped: Vec<&Value> = inbox.as_array().unwrap().iter().filter(|i| i["reason"] == "dropped").collect();
    assert_eq!(dropped.len(), 1, "{inbox}");
    assert_eq!(dropped[0]["fields"]["title"], "Sneaked in", "{inbox}");
    assert!(dropped[0]["why"].as_str().is_some_and(|w| w.contains("suspended")), "{inbox}");
}

/// A write whose record another process's sync re-made and published (it
/// sorted before what the remote got meanwhile) is reported published, as the
/// re-made record: never a conflict that would make the agent write it again.
#[test]
fn a_write_another_sync_re_made_is_reported_published_as_the_new_record() {
    let w = World::new();
    let (a, b, remote, task) = team(&w, "Seed");
    // carol edits the task on b, kept local for now (as if waiting on the lock).
    let edit = json_as(&w, &b, "carol", &["--offline", "task", "edit", &task, "--priority", "1"]);
    let old: Id = edit["record"]["id"].as_str().unwrap().parse().unwrap();
    let ws = Workspace::open(&b, "crew", w.keys()).unwrap();
    let record = ws.record_at_tip(&old).unwrap().expect("the edit is on b's branch");
    // alice publishes something later; b's own sync re-makes the edit on top.
    std::thread::sleep(std::time::Duration::from_millis(5));
    published(&w, &a, &remote, "alice", &["task", "comment", &task, "meanwhile"]);
    let synced = w.crew_json(&b, &["--as", "carol", "sync"]);
    let remade = synced["remade"].as_array().unwrap();
    assert_eq!(remade.len(), 1, "{synced}");
    assert_eq!(remade[0]["old"], old.hex(), "{synced}");
    let new = remade[0]["new"].as_str().unwrap().to_owned();

    // The writer that waited publishes its original record: it learns what became of it.
    let target = git_crew::publish::Target::Remote("origin".into());
    let (now, publication) = git_crew::publish::publish(&ws, &target, vec![record]).unwrap();
    assert!(publication.published, "{publication:?}");
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].id.hex(), new, "reported as the re-made record");
    assert!(on_remote(&w, &remote, &new));
}

/// A write the replay drops (its author was suspended meanwhile) while the
/// push then fails is refused (exit 5), not reported as kept on the clone.
#[test]
fn a_dropped_write_is_refused_even_when_the_push_fails() {
    let w = World::new();
    let (a, b, remote, _) = team(&w, "Seed");
    published(&w, &a, &remote, "alice", &["suspend", "carol", "--reason", "runaway"]);
    // b can fetch but no longer push.
    w.git(&b, &["remote", "set-url", "--push", "origin", w.path("nowhere.git").to_str().unwrap()]);
    let before = w.tip(&remote, "crew");
    let run = w.crew(&b, &["--json", "--as", "carol", "task", "add", "Sneaked in"]);
    assert_eq!(run.code, 5, "{run:?}");
    let err: Value = serde_json::from_str(&run.stderr).unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    assert_eq!(err["error"]["exit"], 5, "{err}");
    assert!(!w.crew_json(&b, &["task", "list"]).to_string().contains("Sneaked in"), "kept on the clone");
    assert_eq!(w.tip(&remote, "crew"), before);
}

/// A write dated before its author's suspension that the suspension did not
/// see is refused as a suspension (exit 5: stop), not as a race (exit 3).
#[test]
fn a_write_its_suspension_did_not_see_is_refused_with_exit_5() {
    let w = World::new();
    let (a, b, remote, _) = team(&w, "Seed");
    let unseen = json_as(&w, &b, "carol", &["--offline", "task", "add", "Written offline"]);
    let id: Id = unseen["record"]["id"].as_str().unwrap().parse().unwrap();
    let ws = Workspace::open(&b, "crew", w.keys()).unwrap();
    let record = ws.record_at_tip(&id).unwrap().expect("on b's branch");
    std::thread::sleep(std::time::Duration::from_millis(5));
    published(&w, &a, &remote, "alice", &["suspend", "carol", "--reason", "runaway"]);

    let target = git_crew::publish::Target::Remote("origin".into());
    let err = git_crew::publish::publish(&ws, &target, vec![record]).unwrap_err();
    assert!(matches!(&err, git_crew::Error::Refused(r) if r.is_suspension()), "a suspension, which exits 5: {err}");
    assert!(err.to_string().contains("not seen by its suspension"), "{err}");
    assert!(!on_remote(&w, &remote, &id.hex()));
}

/// A clone whose clock runs ahead within the allowed window (2 s) publishes
/// as any other; one further ahead has its write refused by the server's
/// hook, which leaves the remote as it was, and says why. A skew that is not
/// a number is a usage error that writes nothing.
#[test]
fn a_skewed_clock_publishes_within_the_window_and_is_refused_beyond_it() {
    let w = World::new();
    let (_a, b, remote, task) = team(&w, "clocks");
    // Through `git daemon` first, as a fleet's server runs.
    let daemon = Daemon::start(&w);
    w.git(&b, &["remote", "set-url", "origin", &daemon.url("remote.git")]);
    let skewed = |ms: &str, args: &[&str]| {
        let out = w
            .crew_cmd(&b, &[&["--json", "--as", "carol"], args].concat())
            .env("GIT_CREW_CLOCK_SKEW_MS", ms)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = skewed("1500", &["task", "comment", &task, "a little ahead"]);
    assert_eq!(code, 0, "{stderr}");
    let view: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(view["published"], true, "{view}");
    assert!(on_remote(&w, &remote, view["record"]["id"].as_str().unwrap()));

    let before = tip(&w, &remote);
    let (_, stdout, stderr) = skewed("30000", &["task", "comment", &task, "far ahead"]);
    let view: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    assert_ne!(view["published"], true, "{stdout} {stderr}");
    assert!(format!("{stdout}{stderr}").contains("ahead of this clock"), "{stdout} {stderr}");
    assert_eq!(tip(&w, &remote), before, "the remote is unchanged");

    // Pushed to a path, the server's hook runs with the pusher's environment:
    // it still judges by the machine's clock, not the skewed one.
    w.git(&b, &["remote", "set-url", "origin", remote.to_str().unwrap()]);
    let (_, stdout, stderr) = skewed("30000", &["task", "comment", &task, "far ahead, by path"]);
    assert!(format!("{stdout}{stderr}").contains("ahead of this clock"), "{stdout} {stderr}");
    assert_eq!(tip(&w, &remote), before, "the remote is unchanged");

    let (code, stdout, stderr) = skewed("soon", &["task", "comment", &task, "never"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty() && stderr.contains("GIT_CREW_CLOCK_SKEW_MS"), "{stderr}");
}
