//! Heartbeats, sessions and the listener audit, with real long-running
//! processes and a hooked remote: two `inbox --follow` as one actor are a
//! duplicate listener and a killed one ages out; a live holder's beats renew its
//! lease and a dead holder's lease runs out so another agent can claim; the
//! server accepts a beat only from the actor its ref names; `watch` emits
//! flags as they appear.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git_crew::hlc::Hlc;
use git_crew::record::kinds::LiveBeat;
use git_crew::record::{self, Payload};
use serde_json::Value;

use crate::common::{tip, Follower, World};

fn team(w: &World) -> (PathBuf, PathBuf, PathBuf, String) {
    crate::common::team(w, "Keep the lights on")
}

/// `status --audit --json` on `dir` after a sync: (exit code, flags).
fn audit(w: &World, dir: &Path) -> (i32, Vec<Value>) {
    w.crew_ok(dir, &["--as", "alice", "sync"]);
    let run = w.crew(dir, &["--json", "status", "--audit"]);
    let flags = run.json()["flags"].as_array().cloned().unwrap_or_default();
    (run.code, flags)
}

fn has_flag(flags: &[Value], flag: &str, actor: &str) -> bool {
    flags.iter().any(|f| f["flag"] == flag && f["actor"] == actor)
}

/// Poll `check` every 300 ms until it holds, for at most `within`.
fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn listening_sessions(w: &World, dir: &Path, actor: &str) -> usize {
    let status = w.crew_json(dir, &["status"]);
    let actors = status["actors"].as_array().unwrap();
    let a = actors.iter().find(|a| a["name"] == actor).unwrap();
    a["sessions"].as_array().unwrap().iter().filter(|s| s["listening"] == true).count()
}

#[test]
fn two_listeners_as_one_actor_are_flagged_and_a_killed_one_ages_out() {
    let w = World::new();
    let (a, b, _remote, _task) = team(&w);
    let (code, flags) = audit(&w, &a);
    assert_eq!(code, 6, "status --audit exits 6 when it flags: {flags:?}");
    assert!(has_flag(&flags, "deaf", "bob") && has_flag(&flags, "deaf", "carol"), "{flags:?}");

    let follow = ["--json", "--as", "bob", "inbox", "--follow", "--interval", "1s"];
    let first = Follower::spawn(&w, &b, &follow);
    let second = Follower::spawn(&w, &b, &follow);
    eventually(Duration::from_secs(20), "a duplicate listener flagged on the other clone", || {
        has_flag(&audit(&w, &a).1, "duplicate-listener", "bob")
    });
    let (_, flags) = audit(&w, &a);
    assert!(!has_flag(&flags, "deaf", "bob"), "bob listens: {flags:?}");
    let dup = flags.iter().find(|f| f["flag"] == "duplicate-listener").unwrap();
    assert_eq!(dup["sessions"].as_array().unwrap().len(), 2, "{dup}");

    // A crash leaves its last beat behind; it ages out after its ttl (3 s).
    first.crash();
    eventually(Duration::from_secs(20), "the killed listener ages out", || {
        let (_, flags) = audit(&w, &a);
        !has_flag(&flags, "duplicate-listener", "bob") && !has_flag(&flags, "deaf", "bob")
    });
    assert_eq!(listening_sessions(&w, &a, "bob"), 1);

    // A clean stop says so at once: bob is deaf again without waiting for a ttl.
    let (code, stderr) = second.terminate();
    assert_eq!(code, 0, "{stderr}");
    let (code, flags) = audit(&w, &a);
    assert_eq!(code, 6);
    assert!(has_flag(&flags, "deaf", "bob"), "after a clean stop: {flags:?}");
    assert_eq!(listening_sessions(&w, &a, "bob"), 0);
}

#[test]
fn beats_renew_a_live_holders_lease_and_a_dead_holders_lease_runs_out() {
    let w = World::new();
    let (a, b, _remote, task) = team(&w);
    w.crew_ok(&b, &["--as", "bob", "task", "claim", &task, "--lease", "10s"]);
    let follower = Follower::spawn(&w, &b, &["--json", "--as", "bob", "inbox", "--follow", "--interval", "1s"]);

    // Well past the first lease, bob still holds the task: its session renews it.
    std::thread::sleep(Duration::from_secs(13));
    w.crew_ok(&a, &["--as", "carol", "sync"]);
    let before = tip(&w, &a);
    let run = w.crew(&a, &["--as", "carol", "task", "claim", &task]);
    assert_eq!(run.code, 3, "a live holder keeps its task: {}", run.stderr);
    assert_eq!(tip(&w, &a), before, "a refused claim writes nothing");
    let (_, flags) = audit(&w, &a);
    assert!(!flags.iter().any(|f| f["flag"] == "dead-holder"), "{flags:?}");

    // The holder dies: no more beats, no more renewals; the lease runs out.
    follower.crash();
    eventually(Duration::from_secs(30), "the dead holder flagged", || has_flag(&audit(&w, &a).1, "dead-holder", "bob"));
    let claimed = w.crew_json(&a, &["--as", "carol", "task", "claim", &task])["record"].clone();
    assert_eq!(claimed["kind"], "task.claim", "{claimed}");
    let (_, flags) = audit(&w, &a);
    assert!(!has_flag(&flags, "dead-holder", "bob"), "claimed by carol now: {flags:?}");
}

#[test]
fn heartbeat_command_starts_and_ends_a_session_that_sync_carries() {
    let w = World::new();
    let (a, b, _remote, _task) = team(&w);
    let out = w.crew_json(&b, &["--as", "bob", "heartbeat", "--listening", "--session", "loop-1", "--ttl", "60s"]);
    assert_eq!(out["ref"], "refs/crew/live/bob/loop-1", "{out}");
    assert_eq!(out["ended"], false);
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    let status = w.crew_json(&a, &["status"]);
    let bob = status["actors"].as_array().unwrap().iter().find(|x| x["name"] == "bob").unwrap().clone();
    let session = &bob["sessions"][0];
    assert_eq!(session["session"], "loop-1", "{bob}");
    assert_eq!(session["listening"], true);
    assert_eq!(session["ttl"], 60);
    assert!(session["pid"].as_u64().unwrap() > 0);
    // Beats never enter the branch history.
    let files = w.git(&a, &["ls-tree", "-r", "--name-only", "crew"]);
    assert!(!files.contains("live"), "{files}");

    w.crew_ok(&b, &["--as", "bob", "heartbeat", "--session", "loop-1", "--end"]);
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    assert_eq!(listening_sessions(&w, &a, "bob"), 0, "an ended session is not live");
}

/// A beat signed by `author` with `key_of`'s key, for `session`, as blob bytes.
fn beat_bytes(w: &World, dir: &Path, author: &str, key_of: &str, session: &str) -> Vec<u8> {
    let ws = workspace_id(w, dir);
    let beat = LiveBeat {
        session: session.into(),
        host: "forger".into(),
        pid: 1,
        started: Hlc::now(),
        ttl: 60,
        listening: true,
        ended: false,
    };
    record::encode(&ws, author, Hlc::now(), Payload::LiveBeat(beat), &w.key(&ws, key_of)).unwrap().1
}

fn workspace_id(w: &World, dir: &Path) -> git_crew::id::Id {
    w.crew_json(dir, &["verify"])["report"]["workspace"].as_str().unwrap().parse().unwrap()
}

/// Push a blob with `bytes` to `refname` on `remote` from `dir`: the push's exit status.
fn push_blob(w: &World, dir: &Path, remote: &Path, refname: &str, bytes: &[u8]) -> bool {
    let blob = std::fs::write(w.path("beat.blob"), bytes).map(|_| w.path("beat.blob")).unwrap();
    let oid = w.git(dir, &["hash-object", "-w", blob.to_str().unwrap()]).trim().to_owned();
    let spec = format!("+{oid}:{refname}");
    w.git_output(dir, &["push", "--no-verify", remote.to_str().unwrap(), &spec]).status.success()
}

#[test]
fn the_server_accepts_a_beat_only_from_the_actor_its_ref_names() {
    let w = World::new();
    let (a, _b, remote, _task) = team(&w);
    let remote_refs = || w.git(&remote, &["for-each-ref", "refs/crew/live"]);
    // Carol's beat on bob's ref, bob's name signed with carol's key, a beat of
    // another session: all refused, and the remote has no live refs after.
    assert!(!push_blob(&w, &a, &remote, "refs/crew/live/bob/s1", &beat_bytes(&w, &a, "carol", "carol", "s1")));
    assert!(!push_blob(&w, &a, &remote, "refs/crew/live/bob/s1", &beat_bytes(&w, &a, "bob", "carol", "s1")));
    assert!(!push_blob(&w, &a, &remote, "refs/crew/live/bob/s1", &beat_bytes(&w, &a, "bob", "bob", "s2")));
    assert!(!push_blob(&w, &a, &remote, "refs/crew/live/bob/s1", b"not a beat\n"));
    assert_eq!(remote_refs(), "", "nothing forged landed");
    // The real thing is accepted; deleting it is not.
    assert!(push_blob(&w, &a, &remote, "refs/crew/live/bob/s1", &beat_bytes(&w, &a, "bob", "bob", "s1")));
    assert!(remote_refs().contains("refs/crew/live/bob/s1"));
    let deleted = w.git_output(&a, &["push", "--no-verify", remote.to_str().unwrap(), ":refs/crew/live/bob/s1"]);
    assert!(!deleted.status.success(), "a session ends with a signed beat, not a deletion");
    assert!(remote_refs().contains("refs/crew/live/bob/s1"));

    // A forged beat put straight on a local ref is reported, and is no session.
    let blob = w.path("forged.blob");
    std::fs::write(&blob, beat_bytes(&w, &a, "carol", "carol", "s9")).unwrap();
    let oid = w.git(&a, &["hash-object", "-w", blob.to_str().unwrap()]).trim().to_owned();
    w.git(&a, &["update-ref", "refs/crew/live/bob/s9", &oid]);
    let status = w.crew_json(&a, &["status"]);
    let invalid = status["invalid_beats"].as_array().unwrap();
    assert!(invalid.iter().any(|b| b["ref"] == "refs/crew/live/bob/s9"), "{status}");
    let sessions: Vec<&Value> =
        status["actors"].as_array().unwrap().iter().flat_map(|a| a["sessions"].as_array().unwrap()).collect();
    assert!(sessions.iter().all(|s| s["session"] != "s9"), "{status}");
}

#[test]
fn watch_emits_audit_flags_as_they_appear() {
    let w = World::new();
    let (a, _b, _remote, task) = team(&w);
    w.crew_ok(&a, &["--as", "bob", "task", "claim", &task]);
    let mut watch = Follower::spawn(&w, &a, &["--json", "--as", "alice", "watch", "--interval", "1s"]);
    let mut seen = Vec::new();
    let mut wait_for = |flag: &str, actor: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            assert!(Instant::now() < deadline, "no audit.flag {flag} for {actor}; saw {seen:?}");
            let Some(line) = watch.try_next(Duration::from_millis(500)) else { continue };
            if line["kind"] == "audit.flag" && line["audit"]["flag"] == flag && line["audit"]["actor"] == actor {
                return line;
            }
            seen.push(line);
        }
    };
    wait_for("deaf", "carol");
    w.crew_ok(&a, &["--as", "alice", "suspend", "bob", "--reason", "drill"]);
    let line = wait_for("suspended-holder", "bob");
    assert_eq!(line["audit"]["task"], task.as_str(), "{line}");
    let (code, stderr) = watch.terminate();
    assert_eq!(code, 0, "{stderr}");
}

/// One-shot beats from separate shells (an agent harness starts one per tool
/// call) are one session, stable for an actor in a clone on a host: two
/// `heartbeat --listening` are not duplicate listeners, and `heartbeat --end`
/// from a third shell ends that session. `CREW_SESSION` names it instead.
#[test]
fn one_shot_beats_from_separate_shells_share_one_session() {
    let w = World::new();
    let (_a, b, _remote, _task) = team(&w);
    let shell = |script: &str, session: Option<&str>| {
        // `; true` keeps the shell from exec-ing git-crew: each call has a
        // parent process of its own, as in a harness.
        let mut cmd = std::process::Command::new("sh");
        w.env(&mut cmd);
        cmd.current_dir(&b).args(["-ec", &format!("{script}; true")]);
        if let Some(s) = session {
            cmd.env("CREW_SESSION", s);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let first = shell("git-crew --json --as bob heartbeat --listening", None);
    let second = shell("git-crew --json --as bob heartbeat --listening", None);
    assert_eq!(first["session"], second["session"], "{first} {second}");
    assert_eq!(listening_sessions(&w, &b, "bob"), 1);
    let (_, flags) = audit(&w, &b);
    assert!(!has_flag(&flags, "duplicate-listener", "bob"), "{flags:?}");
    let ended = shell("git-crew --json --as bob heartbeat --end", None);
    assert_eq!(ended["session"], first["session"]);
    assert_eq!(listening_sessions(&w, &b, "bob"), 0, "the shared session ended");
    let named = shell("git-crew --json --as bob heartbeat", Some("agent-7"));
    assert_eq!(named["session"], "agent-7", "{named}");
}
