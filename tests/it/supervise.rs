//! The supervisor with real processes through a hooked bare remote: a killed
//! holder's task requeued and finished by another agent; a holder that beats
//! but does nothing nudged, then its task requeued; a runaway suspended within
//! 10 s of crossing the policy (the figure is printed); a killed supervisor replaced by its standby
//! within the election lease.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{exe, stamp, team, Follower, World};

/// A team (alice admin; bob and carol agents; the task `task`) with
/// supervisors `sups` admitted as agents owned by alice, the policy `policy`
/// set, and a clone per agent: `(remote, clones by name, task)`.
fn fleet(w: &World, sups: &[&str], policy: &[&str]) -> (PathBuf, Vec<(String, PathBuf)>, String) {
    let (a, _b, remote, task) = team(w, "Fix login");
    for s in sups {
        w.crew_ok(&a, &["--as", "alice", "id", "new", s, "--role", "agent", "--owner", "alice"]);
    }
    w.crew_ok(&a, &[&["--as", "alice", "policy", "set"][..], policy].concat());
    let mut clones = vec![("alice".to_owned(), a)];
    for name in ["bob", "carol"].iter().chain(sups) {
        let dir = w.path(&format!("clone-{name}"));
        w.git(&w.root, &["clone", "-q", remote.to_str().unwrap(), dir.to_str().unwrap()]);
        w.crew_ok(&dir, &["--as", name, "sync"]);
        clones.push(((*name).to_owned(), dir));
    }
    (remote, clones, task)
}

fn clone_of<'a>(clones: &'a [(String, PathBuf)], name: &str) -> &'a Path {
    &clones.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no clone of {name}")).1
}

/// A supervisor following the remote every second.
fn supervisor(w: &World, dir: &Path, name: &str, lease: &str) -> Follower {
    Follower::spawn(w, dir, &["--json", "--as", name, "supervise", "--interval", "1s", "--lease", lease])
}

/// The first line `want` picks within `within`, skipping others.
fn await_line(f: &mut Follower, within: Duration, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no line awaited within {within:?}");
        if let Some(line) = f.try_next(left.min(Duration::from_millis(500))) {
            if want(&line) {
                return line;
            }
        }
    }
}

fn step(kind: &'static str, flag: &'static str, actor: &'static str) -> impl Fn(&Value) -> bool {
    move |l| l["kind"] == "supervise.step" && l["step"] == kind && l["flag"] == flag && l["actor"] == actor
}

/// The wall-clock milliseconds of a line's `at`.
fn ms(line: &Value) -> i64 {
    git_crew::hlc::Hlc::parse_loose(line["at"].as_str().unwrap()).unwrap().ms
}

/// `task show --json` after a sync.
fn show(w: &World, dir: &Path, task: &str) -> Value {
    w.crew_ok(dir, &["sync"]);
    w.crew_json(dir, &["task", "show", task])
}

#[test]
fn a_killed_holder_s_task_is_requeued_and_another_agent_finishes_it() {
    let w = World::new();
    let (_remote, clones, task) = fleet(&w, &["sup"], &["--dead-after", "2s", "--grant", "sup=release,suspend"]);
    let (bob, carol) = (clone_of(&clones, "bob"), clone_of(&clones, "carol"));
    w.crew_ok(bob, &["--as", "bob", "task", "claim", &task, "--lease", "1h"]);
    // bob's loop: a listening session beating every second (ttl 3 s).
    let session = Follower::spawn(&w, bob, &["--json", "--as", "bob", "inbox", "--follow", "--interval", "1s"]);
    // Each step also goes to a page-a-human command, as JSON on its stdin.
    let pages = w.path("pages.jsonl");
    let notify = format!(
        "cat >> '{}'; echo \"$CREW_STEP $CREW_FLAG $CREW_ACTOR\" >> '{}.env'",
        pages.display(),
        pages.display()
    );
    let args = ["--json", "--as", "sup", "supervise", "--interval", "1s", "--notify", &notify];
    let mut sup = Follower::spawn(&w, clone_of(&clones, "sup"), &args);
    await_line(&mut sup, Duration::from_secs(20), |l| l["kind"] == "supervise.lead");
    // Alive and holding: nothing to do.
    std::thread::sleep(Duration::from_secs(3));
    session.crash();
    let killed = Instant::now();
    let requeued = await_line(&mut sup, Duration::from_secs(30), step("requeue", "dead-holder", "bob"));
    // Dead once its last beat's ttl (3 s) ran out, requeued dead_after (2 s)
    // later, within a round or two of the supervisor and a publish.
    let took = killed.elapsed();
    assert!(took <= Duration::from_secs(15), "requeued {took:?} after the kill: {requeued}");
    assert_eq!(requeued["task"], task.as_str(), "{requeued}");
    assert_eq!(requeued["published"], true, "{requeued}");
    // The command runs once the step is taken; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(format!("{}.env", pages.display())).is_ok_and(|t| t.ends_with('\n')) {
        assert!(Instant::now() < deadline, "--notify did not run within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let paged: Value = serde_json::from_str(std::fs::read_to_string(&pages).unwrap().trim()).unwrap();
    assert_eq!((paged["step"].as_str(), paged["flag"].as_str()), (Some("requeue"), Some("dead-holder")), "{paged}");
    assert_eq!(paged["task"], task.as_str(), "{paged}");
    let env = std::fs::read_to_string(format!("{}.env", pages.display())).unwrap();
    assert_eq!(env.trim(), "requeue dead-holder bob");
    // carol takes it from the ready queue and finishes it.
    let claimed = w.crew_json(carol, &["--as", "carol", "next", "--claim"]);
    assert_eq!(claimed["task"]["id"], task.as_str(), "{claimed}");
    w.crew_ok(carol, &["--as", "carol", "task", "done", &task, "--summary", "picked up after bob died"]);
    let shown = show(&w, bob, &task);
    assert_eq!(shown["task"]["status"], "done", "{shown}");
    assert_eq!(shown["task"]["done_by"], "carol", "{shown}");
    // The step is on the branch, readable in the log, and the channel was told.
    let log = w.crew_ok(bob, &["log", "-n", "50"]);
    assert!(log.contains("requeue bob (dead-holder on"), "{log}");
    let general = w.crew_ok(bob, &["--as", "bob", "msg", "list", "#general"]);
    assert!(general.contains("requeued"), "{general}");
    let (code, stderr) = sup.terminate();
    assert_eq!(code, 0, "{stderr}");
    w.crew_ok(bob, &["verify"]);
}

#[test]
fn a_holder_that_beats_but_does_nothing_is_nudged_then_loses_its_task() {
    let w = World::new();
    let (_remote, clones, task) = fleet(&w, &["sup"], &["--stalled-after", "3s", "--grant", "sup=release"]);
    let bob = clone_of(&clones, "bob");
    w.crew_ok(bob, &["--as", "bob", "task", "claim", &task, "--lease", "1h"]);
    let mut session = Follower::spawn(&w, bob, &["--json", "--as", "bob", "inbox", "--follow", "--interval", "1s"]);
    let mut sup = supervisor(&w, clone_of(&clones, "sup"), "sup", "30s");
    let nudge = await_line(&mut sup, Duration::from_secs(30), step("nudge", "stalled", "bob"));
    assert_eq!(nudge["tell"], serde_json::json!(["bob"]), "{nudge}");
    // The nudge reaches bob's inbox as a direct message from the supervisor.
    let item = await_line(&mut session, Duration::from_secs(10), |l| l["author"] == "sup");
    let text = item["fields"]["text"].as_str().unwrap_or_default();
    assert!(text.contains("nudge") && text.contains("Comment on it or release it"), "{item}");
    // Still nothing from bob: the task goes back to the ready queue.
    let requeued = await_line(&mut sup, Duration::from_secs(30), step("requeue", "stalled", "bob"));
    assert!(ms(&requeued) - ms(&nudge) >= 2000, "requeued before the grace: {nudge} {requeued}");
    let shown = show(&w, clone_of(&clones, "alice"), &task);
    assert_eq!(shown["task"]["status"], "ready", "{shown}");
    let next = w.crew_json(clone_of(&clones, "carol"), &["next"]);
    assert_eq!(next["task"]["id"], task.as_str(), "{next}");
    let (code, stderr) = sup.terminate();
    assert_eq!(code, 0, "{stderr}");
    session.terminate();
}

/// `sh -c script` in `dir` with the world's environment and `git-crew` on PATH.
fn shell(w: &World, dir: &Path, script: &str) -> Child {
    let mut cmd = Command::new("sh");
    w.env(&mut cmd);
    let bin = exe().parent().unwrap().to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    cmd.current_dir(dir).env("PATH", path).args(["-c", script]);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

#[test]
fn a_runaway_is_suspended_within_ten_seconds_of_crossing_the_policy() {
    const LIMIT: usize = 15;
    let w = World::new();
    let policy = ["--runaway-per-minute", "15", "--grant", "sup=suspend"];
    let (_remote, clones, task) = fleet(&w, &["sup"], &policy);
    let bob = clone_of(&clones, "bob");
    let mut sup = supervisor(&w, clone_of(&clones, "sup"), "sup", "30s");
    await_line(&mut sup, Duration::from_secs(20), |l| l["kind"] == "supervise.lead");
    // An agent writing in a tight loop, each write published.
    let script =
        format!("while git-crew --as bob alive; do git-crew --as bob task comment {task} spam || exit 0; done");
    let mut looping = shell(&w, bob, &script);
    let suspended = await_line(&mut sup, Duration::from_secs(60), step("suspend", "runaway", "bob"));
    assert_eq!(suspended["tell"], serde_json::json!(["alice"]), "the owner is told: {suspended}");
    // The loop stops: `alive` exits 5 once the suspension reached bob's clone.
    let deadline = Instant::now() + Duration::from_secs(30);
    while looping.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "bob's loop still runs 30 s after the suspension");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(w.crew(bob, &["--as", "bob", "alive"]).code, 5);
    // Measured on the branch: the suspension's stamp against the record that
    // took bob over the limit (the first one more than LIMIT in a minute).
    let alice = clone_of(&clones, "alice");
    w.crew_ok(alice, &["sync"]);
    let lines = w.crew_ok(alice, &["--json", "watch", "--no-follow", "--since", "2000-01-01"]);
    let records: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let comments: Vec<i64> =
        records.iter().filter(|r| r["kind"] == "task.comment" && r["author"] == "bob").map(|r| stamp(r).ms).collect();
    let crossed = comments
        .iter()
        .enumerate()
        .find(|(i, at)| comments[..=*i].iter().filter(|t| **at - **t < 60_000).count() > LIMIT)
        .map(|(_, at)| *at)
        .unwrap_or_else(|| panic!("bob never crossed {LIMIT} a minute: {comments:?}"));
    let suspension = records
        .iter()
        .find(|r| r["kind"] == "actor.suspend" && r["author"] == "sup")
        .unwrap_or_else(|| panic!("no suspension by sup on the branch: {lines}"));
    let after = stamp(suspension).ms - crossed;
    eprintln!("runaway suspended {after} ms after crossing the policy");
    assert!((0..=10_000).contains(&after), "suspended {after} ms after crossing the policy");
    let (code, stderr) = sup.terminate();
    assert_eq!(code, 0, "{stderr}");
    w.crew_ok(alice, &["verify"]);
}

#[test]
fn a_killed_supervisor_is_replaced_by_its_standby_within_the_lease() {
    let w = World::new();
    let policy = ["--dead-after", "2s", "--grant", "one=release", "--grant", "two=release"];
    let (_remote, clones, task) = fleet(&w, &["one", "two"], &policy);
    let mut one = supervisor(&w, clone_of(&clones, "one"), "one", "10s");
    await_line(&mut one, Duration::from_secs(20), |l| l["kind"] == "supervise.lead");
    let mut two = supervisor(&w, clone_of(&clones, "two"), "two", "10s");
    await_line(&mut two, Duration::from_secs(20), |l| l["kind"] == "supervise.standby");
    one.crash();
    let killed = Instant::now();
    await_line(&mut two, Duration::from_secs(30), |l| l["kind"] == "supervise.lead");
    // The election lease (10 s) plus a round and a publish.
    let took = killed.elapsed();
    assert!(took <= Duration::from_secs(16), "the standby took over {took:?} after the kill");
    // And it acts: bob claims and never beats, so his task is requeued.
    w.crew_ok(clone_of(&clones, "bob"), &["--as", "bob", "task", "claim", &task]);
    let requeued = await_line(&mut two, Duration::from_secs(30), step("requeue", "dead-holder", "bob"));
    assert_eq!(requeued["task"], task.as_str(), "{requeued}");
    let (code, stderr) = two.terminate();
    assert_eq!(code, 0, "{stderr}");
}
