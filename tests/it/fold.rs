//! A server that folds pushes (`refs/crew/for/<branch>`, the `proc-receive`
//! hook): clones publishing at once each land without losing a race, a record
//! that no longer fits goes back to be re-made, and a remote that does not
//! fold is still published to by compare-and-swap. The attacks on the fold
//! are in `hostile.rs`.

use std::path::Path;

use serde_json::Value;

use crate::common::{all_at_once, served_bare, stamp, strings, team, tip, Daemon, World};

/// The pseudo-refs left on `remote` (a folding server never has any).
fn pseudo_refs(w: &World, remote: &Path) -> String {
    w.git(remote, &["for-each-ref", "refs/crew/for/"])
}

/// Make the next publish from `dir` push before it fetches, as it does right
/// after a fetch: the path where the server must send records back.
fn as_if_just_fetched(dir: &Path) {
    let stamp = dir.join(".git/crew/fetched/origin");
    std::fs::create_dir_all(stamp.parent().unwrap()).unwrap();
    std::fs::write(stamp, b"").unwrap();
}

/// Six clones served by `git daemon` each write and all sync at the same
/// moment: every one lands in at most three rounds (push, fetch, and one
/// retry's worth), nothing is lost, and the history stays linear and verified.
#[test]
fn clones_publishing_at_once_each_land_without_a_lost_race() {
    let w = World::new();
    let remote = served_bare(&w, "remote.git");
    let daemon = Daemon::start(&w);
    let url = daemon.url("remote.git");
    let (a, _) = w.workspace("a");
    w.agent(&a, "bob");
    w.git(&a, &["remote", "add", "origin", &url]);
    w.crew_ok(&a, &["sync"]);
    let mut jobs = Vec::new();
    for i in 0..6 {
        let name = format!("c{i}");
        w.git(&w.root, &["clone", "-q", &url, &name]);
        let dir = w.path(&name);
        w.crew_ok(&dir, &["--as", "bob", "sync"]);
        w.crew_ok(&dir, &["--offline", "--as", "bob", "task", "add", &format!("from {name}")]);
        jobs.push((dir, strings(&["--json", "--as", "bob", "sync"])));
    }
    let runs = all_at_once(&w, &jobs);
    for run in &runs {
        assert_eq!(run.code, 0, "{run:?}");
        let out: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(out["pushed"], true, "{out}");
        assert!(out["rounds"].as_u64().is_some_and(|r| r <= 3), "a push waited its turn, no race to lose: {out}");
    }
    let board = w.crew_json(&remote, &["task", "list"]).to_string();
    for i in 0..6 {
        assert!(board.contains(&format!("from c{i}")), "c{i}'s task is on the remote: {board}");
    }
    assert_eq!(w.git(&remote, &["rev-list", "--merges", "crew"]).trim(), "", "a linear history");
    w.crew_ok(&remote, &["verify"]);
    assert_eq!(pseudo_refs(&w, &remote), "");
    for (dir, _) in &jobs {
        w.crew_ok(dir, &["--as", "bob", "sync"]);
        assert_eq!(w.tip(&remote, "crew"), Some(tip(&w, dir)));
    }
}

/// carol comments while bob's later comment on the same task is folded first:
/// hers no longer goes at the end of the task's file as it is, so the server
/// sends it back (it signs nothing), her clone re-makes it on the tip, and the
/// second push folds it. Both comments end up on the remote, in order.
#[test]
fn a_record_that_no_longer_fits_goes_back_to_be_remade() {
    let w = World::new();
    let (a, b, remote, task) = team(&w, "Discuss");
    w.crew_ok(&b, &["--offline", "--as", "carol", "task", "comment", &task, "first, offline"]);
    std::thread::sleep(std::time::Duration::from_millis(5));
    w.crew_ok(&a, &["sync"]);
    let later = w.crew_json(&a, &["--as", "bob", "task", "comment", &task, "second, published"]);
    assert_eq!(later["published"], true, "{later}");
    as_if_just_fetched(&b);
    let out = w.crew_json(&b, &["--as", "carol", "sync"]);
    assert_eq!(out["remade"].as_array().map(Vec::len), Some(1), "{out}");
    assert_eq!(out["pushed"], true, "{out}");
    assert_eq!(w.tip(&remote, "crew"), Some(tip(&w, &b)));
    let shown = w.crew_json(&remote, &["task", "show", &task]).to_string();
    let (second, first) = (shown.find("second, published").unwrap(), shown.find("first, offline").unwrap());
    assert!(second < first, "carol's re-made comment comes after bob's: {shown}");
    w.crew_ok(&remote, &["verify"]);
    assert_eq!(pseudo_refs(&w, &remote), "");
}

/// A clone that learned its remote folds, then finds a remote that does not
/// (moved to hosting without hooks): it publishes by compare-and-swap, leaves
/// no pseudo-ref there, and forgets the marker.
#[test]
fn a_remote_without_the_fold_is_published_to_by_compare_and_swap() {
    let w = World::new();
    let (a, _b, remote, _) = team(&w, "Moved");
    let marker = "refs/crew/remote-fold/origin/v1";
    assert!(w.git_output(&a, &["rev-parse", "-q", "--verify", marker]).status.success(), "a saw the marker");
    let plain = w.path("plain.git");
    w.git(&w.root, &["clone", "-q", "--bare", remote.to_str().unwrap(), plain.to_str().unwrap()]);
    w.git(&a, &["remote", "set-url", "origin", plain.to_str().unwrap()]);
    as_if_just_fetched(&a);
    let out = w.crew_json(&a, &["--as", "bob", "task", "add", "After the move"]);
    assert_eq!(out["published"], true, "{out}");
    assert_eq!(w.tip(&plain, "crew"), Some(tip(&w, &a)));
    assert_eq!(pseudo_refs(&w, &plain), "", "no pseudo-ref left on a plain remote");
    assert!(!w.git_output(&a, &["rev-parse", "-q", "--verify", marker]).status.success(), "the marker is gone");
}

/// A server whose fold was turned off (its hooks kept) refuses pushes to the
/// pseudo-ref instead of keeping them as an unverified ref, and a clone that
/// still has the marker publishes by compare-and-swap.
#[test]
fn a_server_without_the_fold_refuses_the_pseudo_ref() {
    let w = World::new();
    let (a, _b, remote, _) = team(&w, "Unfolded");
    w.git(&remote, &["config", "--unset", "receive.procReceiveRefs"]);
    let out = w.git_output(&a, &["push", "--no-verify", remote.to_str().unwrap(), "crew:refs/crew/for/crew"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not fold pushes"), "{out:?}");
    assert_eq!(pseudo_refs(&w, &remote), "");
    as_if_just_fetched(&a);
    let out = w.crew_json(&a, &["--as", "bob", "task", "add", "Still published"]);
    assert_eq!(out["published"], true, "{out}");
    assert_eq!(w.tip(&remote, "crew"), Some(tip(&w, &a)));
}

/// A server whose every fold answers "retry" (as when other agents' claims
/// keep landing first): `next --claim` does not wait there for minutes, deaf
/// to its inbox; after `NEXT_CLAIM_PATIENCE` or `NEXT_CLAIM_ROUNDS` lost
/// rounds it exits 3 saying so, and nothing was written on either side.
#[test]
fn next_claim_stops_trying_after_its_patience_runs_out() {
    let w = World::new();
    let (_a, b, remote, _task) = team(&w, "Wanted by all");
    let hook = remote.join("hooks/proc-receive");
    std::fs::write(
        &hook,
        r#"#!/usr/bin/env python3
import sys
inp, out = sys.stdin.buffer, sys.stdout.buffer
def read():
    size = int(inp.read(4), 16)
    return None if size == 0 else inp.read(size - 4)
def write(line):
    out.write(b"%04x" % (len(line) + 4) + line)
while read() is not None: pass
write(b"version=1\n"); out.write(b"0000"); out.flush()
refs = []
while (line := read()) is not None:
    refs.append(line.split()[2])
for ref in refs:
    write(b"ng " + ref + b" retry: another claim landed first\n")
out.write(b"0000"); out.flush()
"#,
    )
    .unwrap();
    let before = tip(&w, &remote);
    let local = tip(&w, &b);
    let started = std::time::Instant::now();
    let run = w.crew(&b, &["--json", "--as", "carol", "next", "--claim"]);
    let took = started.elapsed();
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("the claim was sent back"), "{}", run.stderr);
    // After its patience or its rounds, whichever runs out first.
    assert!(took < git_crew::tasks::NEXT_CLAIM_PATIENCE * 3, "gave up after {took:?}");
    assert_eq!(tip(&w, &remote), before, "the remote is unchanged");
    assert_eq!(tip(&w, &b), local, "no claim was kept locally");
}

/// A suspension the fold sends back because its target published since it
/// was made fences the target: the target's pushes are answered "retry"
/// until the re-made suspension lands (so a busy agent cannot keep its
/// suspension bouncing), and the landing lifts the fence.
#[test]
fn a_suspension_sent_back_fences_its_target_until_it_lands() {
    let w = World::new();
    let (a, b, remote, task) = team(&w, "Busy");
    let fences = remote.join("crew/fences");
    let fence_count = || std::fs::read_dir(&fences).map_or(0, |d| d.count());
    w.crew_ok(&a, &["--offline", "suspend", "carol", "--reason", "runaway"]);
    let busy = w.crew_json(&b, &["--as", "carol", "task", "comment", &task, "still busy"]);
    assert_eq!(busy["published"], true, "{busy}");

    // The suspension as alice made it has not seen carol's comment: sent
    // back, and carol fenced.
    let before = tip(&w, &remote);
    let out = w.git_output(&a, &["push", "origin", "crew:refs/crew/for/crew"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("retry"), "{stderr}");
    assert_eq!(tip(&w, &remote), before);
    assert_eq!(fence_count(), 1);

    // carol's next write waits for the suspension.
    w.crew_ok(&b, &["--offline", "--as", "carol", "task", "comment", &task, "one more"]);
    let out = w.git_output(&b, &["push", "origin", "crew:refs/crew/for/crew"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("by carol: a suspension of its author is landing"), "{stderr}");
    assert_eq!(tip(&w, &remote), before, "the fenced write did not land");
    // Nor does it land by a plain push, around the fold.
    let out = w.git_output(&b, &["push", "origin", "crew:crew"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("a suspension of its author is landing"), "{stderr}");
    assert_eq!(tip(&w, &remote), before, "the plain push did not land either");

    // alice's sync re-makes the suspension on top of carol's comment; it
    // lands and lifts the fence, and carol's fenced write never lands.
    w.crew_ok(&a, &["sync"]);
    let suspensions = w.crew_json(&remote, &["log", "--kind", "actor.suspend"]);
    assert_eq!(suspensions.as_array().map(Vec::len), Some(1), "{suspensions}");
    assert_eq!(fence_count(), 0, "the fence went with the suspension");
    w.crew(&b, &["--as", "carol", "sync"]);
    assert!(!w.crew_json(&remote, &["log"]).to_string().contains("one more"));
    assert_eq!(w.crew(&b, &["--as", "carol", "alive"]).code, 5);
    w.crew_ok(&remote, &["verify"]);
}

/// A fence holds its actor back only until its time runs out (the fold
/// writes now + 10 s): one run out holds no one, and a fence on one actor
/// holds no other.
#[test]
fn a_fence_holds_only_its_actor_and_only_until_it_runs_out() {
    let w = World::new();
    let (a, b, remote, task) = team(&w, "Timed");
    let fences = remote.join("crew/fences");
    std::fs::create_dir_all(&fences).unwrap();
    let fence = |name: &str, until_ms: i64| {
        std::fs::write(fences.join(git_crew::id::hex(name.as_bytes())), format!("{until_ms}\n")).unwrap();
    };
    let now = git_crew::hlc::Hlc::now().ms;
    fence("carol", now - 1);
    let out = w.crew_json(&b, &["--as", "carol", "task", "comment", &task, "after the fence"]);
    assert_eq!(out["published"], true, "a fence that ran out holds no one: {out}");

    fence("carol", now + 600_000);
    let before = tip(&w, &remote);
    w.crew_ok(&b, &["--offline", "--as", "carol", "task", "comment", &task, "while fenced"]);
    let held = w.git_output(&b, &["push", "origin", "crew:refs/crew/for/crew"]);
    assert!(!held.status.success(), "a running fence holds carol back");
    assert_eq!(tip(&w, &remote), before);
    let other = w.crew_json(&a, &["--as", "bob", "task", "comment", &task, "bob is not fenced"]);
    assert_eq!(other["published"], true, "{other}");
}

/// The kill switch against a racing process: carol's clone publishes comments
/// in a tight loop (as a runaway agent would) while alice suspends her through
/// a folding server. The suspension lands (exit 0) within a bound, carol's
/// loop ends with exit 5, nothing she wrote after the suspension is on the
/// remote, and the remote verifies.
#[test]
fn a_suspension_lands_while_its_target_publishes_in_a_tight_loop() {
    let w = World::new();
    let (a, b, remote, task) = team(&w, "Runaway");
    let mut loop_cmd = w.crew_cmd(&b, &["--as", "carol", "--json", "task", "comment", &task, "again"]);
    let runaway = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut published = 0;
        while std::time::Instant::now() < deadline {
            let out = loop_cmd.output().unwrap();
            match out.status.code() {
                Some(5) => return (5, published),
                Some(0) => published += 1,
                _ => {}
            }
        }
        (-1, published)
    });
    // Let the loop get going, so the suspension races it.
    std::thread::sleep(std::time::Duration::from_millis(800));
    let started = std::time::Instant::now();
    let suspended = w.crew(&a, &["--json", "suspend", "carol", "--reason", "runaway"]);
    assert_eq!(suspended.code, 0, "{suspended:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "suspend took {:?}", started.elapsed());
    let (code, published) = runaway.join().unwrap();
    assert_eq!(code, 5, "carol's loop was stopped with exit 5 (after {published} comments published)");

    let log = w.crew_json(&remote, &["log"]);
    let records = log.as_array().unwrap();
    let at = |r: &serde_json::Value| stamp(r);
    let suspension = records.iter().find(|r| r["kind"] == "actor.suspend").expect("the suspension is on the remote");
    let late: Vec<_> = records.iter().filter(|r| r["author"] == "carol" && at(r) > at(suspension)).collect();
    assert!(late.is_empty(), "carol's records dated after her suspension: {late:?}");
    w.crew_ok(&remote, &["verify"]);
}
