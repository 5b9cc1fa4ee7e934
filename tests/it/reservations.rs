//! Path reservations with real processes through a hooked bare remote: racers
//! for overlapping paths get exactly one winner a round; the pre-commit hook
//! refuses a commit touching a reserved path for everyone but the holder; a
//! reservation for a task follows the task and ends with it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{all_at_once, env_number, strings, team, World};

/// A clone of `remote` for `name`, synced, with the client hooks and
/// `crew.as` set, as an agent's clone is.
fn clone_for(w: &World, remote: &Path, name: &str) -> PathBuf {
    let dir = w.path(&format!("clone-{name}"));
    w.git(&w.root, &["clone", "-q", remote.to_str().unwrap(), dir.to_str().unwrap()]);
    w.crew_ok(&dir, &["--as", name, "sync"]);
    w.crew_ok(&dir, &["install"]);
    w.git(&dir, &["config", "crew.as", name]);
    dir
}

#[test]
fn racers_for_overlapping_paths_get_exactly_one_winner_a_round() {
    let w = World::new();
    let (a, _b, remote, _task) = team(&w, "Refactor");
    let racers: Vec<String> = (0..8).map(|i| format!("r{i}")).collect();
    for r in &racers {
        w.agent(&a, r);
    }
    w.crew_ok(&a, &["sync"]);
    let clones: Vec<PathBuf> = racers.iter().map(|r| clone_for(&w, &remote, r)).collect();
    let rounds = env_number("CREW_RESERVE_ROUNDS", 20);
    for round in 0..rounds {
        // Every pair overlaps: half want the directory, half a file in it.
        let jobs: Vec<(PathBuf, Vec<String>)> = racers
            .iter()
            .zip(&clones)
            .enumerate()
            .map(|(i, (r, dir))| {
                let path = if i % 2 == 0 { "src" } else { "src/lib.rs" };
                (dir.clone(), strings(&["--json", "--as", r, "reserve", path, "--lease", "10m"]))
            })
            .collect();
        let runs = all_at_once(&w, &jobs);
        let winners: Vec<usize> = runs.iter().enumerate().filter(|(_, r)| r.code == 0).map(|(i, _)| i).collect();
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}: {runs:?}");
        for (i, run) in runs.iter().enumerate().filter(|(i, _)| *i != winners[0]) {
            assert_eq!(run.code, 3, "round {round}, racer {i}: {run:?}");
            assert!(run.stderr.contains("reserved by"), "round {round}, racer {i}: {}", run.stderr);
        }
        let won: Value = serde_json::from_str(&runs[winners[0]].stdout).unwrap();
        assert_eq!(won["published"], true, "{won}");
        let id = won["record"]["id"].as_str().unwrap();
        let (winner, dir) = (&racers[winners[0]], &clones[winners[0]]);
        // The remote agrees: one reservation, the winner's.
        let board = w.crew_json(&a, &["board"]);
        w.crew_ok(&a, &["sync"]);
        let board_after = w.crew_json(&a, &["board"]);
        let held = board_after["reservations"].as_array().unwrap();
        assert_eq!(held.len(), 1, "round {round}: {board} then {board_after}");
        assert_eq!(held[0]["holder"], winner.as_str());
        w.crew_ok(dir, &["--as", winner, "unreserve", &id[..12]]);
    }
}

#[test]
fn a_commit_touching_a_reserved_path_is_refused_for_everyone_but_the_holder() {
    let w = World::new();
    let (a, _b, remote, task) = team(&w, "Rework auth");
    let bob = clone_for(&w, &remote, "bob");
    let carol = clone_for(&w, &remote, "carol");
    let alice = clone_for(&w, &remote, "alice");
    w.crew_ok(&bob, &["--as", "bob", "task", "claim", &task]);
    let reserved = w.crew_json(&bob, &["--as", "bob", "reserve", "src/auth", "--task", &task]);
    assert_eq!(reserved["record"]["kind"], "path.reserve", "{reserved}");
    for dir in [&carol, &alice] {
        w.crew_ok(dir, &["sync"]);
        std::fs::create_dir_all(dir.join("src/auth")).unwrap();
        std::fs::write(dir.join("src/auth/login.rs"), "fn login() {}\n").unwrap();
        std::fs::write(dir.join("README"), "hello\n").unwrap();
        w.git(dir, &["add", "src/auth/login.rs", "README"]);
        let head = |dir: &Path| {
            String::from_utf8_lossy(&w.git_output(dir, &["rev-parse", "-q", "--verify", "HEAD"]).stdout).into_owned()
        };
        let before = head(dir);
        let out = w.git_output(dir, &["commit", "-q", "-m", "touch auth"]);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "the commit went through: {said}");
        assert!(said.contains("src/auth/login.rs is reserved by bob") && said.contains("left"), "{said}");
        assert!(!said.contains("README"), "only the reserved path is named: {said}");
        assert_eq!(head(dir), before, "a refused commit moved HEAD");
        // What is not reserved commits.
        w.git(dir, &["reset", "-q", "src/auth/login.rs"]);
        w.git(dir, &["commit", "-q", "-m", "readme only"]);
    }
    // The holder commits; a deletion of a reserved file is a touch too.
    std::fs::create_dir_all(bob.join("src/auth")).unwrap();
    std::fs::write(bob.join("src/auth/login.rs"), "fn login() {}\n").unwrap();
    w.git(&bob, &["add", "src/auth/login.rs"]);
    w.git(&bob, &["commit", "-q", "-m", "bob's auth work"]);
    w.git(&bob, &["push", "-q", "origin", "HEAD:refs/heads/work"]);
    w.git(&carol, &["fetch", "-q", "origin", "work"]);
    w.git(&carol, &["reset", "-q", "--hard", "FETCH_HEAD"]);
    w.git(&carol, &["rm", "-q", "src/auth/login.rs"]);
    let out = w.git_output(&carol, &["commit", "-q", "-m", "delete auth"]);
    assert!(!out.status.success(), "a deletion of a reserved file went through");
    w.git(&carol, &["reset", "-q", "--hard", "HEAD"]);
    // The reservation follows the task: handed to carol, carol may commit.
    w.crew_ok(&bob, &["--as", "bob", "task", "handoff", &task, "--to", "carol"]);
    w.crew_ok(&carol, &["sync"]);
    let board = w.crew_json(&carol, &["board"]);
    assert_eq!(board["reservations"][0]["holder"], "carol", "{board}");
    std::fs::write(carol.join("src/auth/login.rs"), "fn login() { todo() }\n").unwrap();
    w.git(&carol, &["commit", "-q", "-am", "carol continues"]);
    // And ends with it: once done, anyone commits there.
    w.crew_ok(&carol, &["--as", "carol", "task", "done", &task]);
    w.crew_ok(&alice, &["sync"]);
    assert_eq!(w.crew_json(&alice, &["board"])["reservations"], serde_json::json!([]));
    w.git(&alice, &["fetch", "-q", "origin", "work"]);
    w.git(&alice, &["reset", "-q", "--hard", "FETCH_HEAD"]);
    std::fs::write(alice.join("src/auth/login.rs"), "fn login() { alice() }\n").unwrap();
    w.git(&alice, &["commit", "-q", "-am", "alice after the task"]);
    w.crew_ok(&a, &["verify"]);
}

/// `install --server --guard-paths`: a push of a code branch whose commits
/// change a path reserved by someone else than the commit's sealer is refused,
/// naming the commit, the path and the holder; an unsealed commit, or one
/// whose seal names another actor than the key that made it, is no one's.
#[test]
fn a_guarded_server_refuses_code_pushes_touching_paths_someone_else_reserved() {
    let w = World::new();
    let (_a, _b, remote, task) = team(&w, "Rework auth");
    w.crew_ok(&remote, &["install", "--server", "--guard-paths"]);
    let bob = clone_for(&w, &remote, "bob");
    let carol = clone_for(&w, &remote, "carol");
    w.crew_ok(&bob, &["--as", "bob", "task", "claim", &task]);
    w.crew_ok(&bob, &["--as", "bob", "reserve", "src/auth", "--task", &task]);
    w.crew_ok(&carol, &["sync"]);
    let write = |dir: &Path, rel: &str, text: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        w.git(dir, &["add", rel]);
    };
    let push =
        |dir: &Path, branch: &str| w.git_output(dir, &["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")]);
    // carol, past her own hooks: unsealed, refused.
    write(&carol, "src/auth/login.rs", "fn login() {}\n");
    w.git(&carol, &["commit", "-q", "--no-verify", "-m", "sneak in"]);
    let out = push(&carol, "main");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the guarded server took it: {said}");
    assert!(
        said.contains("not sealed") && said.contains("src/auth/login.rs") && said.contains("reserved by bob"),
        "{said}"
    );
    assert!(w.git_output(&remote, &["rev-parse", "-q", "--verify", "refs/heads/main"]).stdout.is_empty());
    // A seal naming bob, made with carol's key: no one's either.
    let forged = "sneak in\n\nCrew-Actor: bob\nCrew-Seal: ".to_owned() + &"ab".repeat(64) + "\n";
    w.git(&carol, &["commit", "-q", "--no-verify", "--amend", "-m", &forged]);
    let out = push(&carol, "main");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not sealed"));
    // Without the pre-commit guard rail but through commit-msg, sealed by
    // carol: still someone else's path.
    std::fs::remove_file(carol.join(".git/hooks/pre-commit")).unwrap();
    w.git(&carol, &["update-ref", "-d", "HEAD"]);
    w.git(&carol, &["commit", "-q", "-m", "sealed by me"]);
    let msg = w.git(&carol, &["log", "-1", "--format=%B"]);
    assert!(msg.contains("Crew-Actor: carol") && msg.contains("Crew-Seal: "), "{msg}");
    let out = push(&carol, "main");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("sealed by carol"), "{said}");
    // What is not reserved goes through; so does the holder's own change.
    let fresh = w.path("clone-carol-2");
    w.git(&w.root, &["clone", "-q", remote.to_str().unwrap(), fresh.to_str().unwrap()]);
    w.crew_ok(&fresh, &["install"]);
    w.git(&fresh, &["config", "crew.as", "carol"]);
    write(&fresh, "README", "hello\n");
    w.git(&fresh, &["commit", "-q", "-m", "readme"]);
    let out = push(&fresh, "main");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    w.git(&bob, &["fetch", "-q", "origin", "main"]);
    w.git(&bob, &["reset", "-q", "--hard", "FETCH_HEAD"]);
    write(&bob, "src/auth/login.rs", "fn login() { bob() }\n");
    w.git(&bob, &["commit", "-q", "-m", "bob's auth work"]);
    let out = push(&bob, "main");
    assert!(out.status.success(), "the holder's sealed change: {}", String::from_utf8_lossy(&out.stderr));
}
