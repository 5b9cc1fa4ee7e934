//! Races between real processes on one clone, and crashes mid-write.

use std::collections::HashSet;

use crate::common::World;

/// 8 processes × 50 appends on one clone: all 400 records land exactly once,
/// history stays linear, `verify` and `git fsck` are clean.
#[test]
fn eight_writers_fifty_appends_each_lose_nothing() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    let writers: Vec<String> = (0..8).map(|i| format!("agent{i}")).collect();
    for name in &writers {
        w.agent(&dir, name);
    }
    let script = format!(
        "for i in $(seq 1 50); do \"{}\" --as \"$1\" task add \"$1 task $i\" >/dev/null || exit 1; done",
        crate::common::exe().display()
    );
    let children: Vec<_> = writers
        .iter()
        .map(|name| {
            let mut cmd = std::process::Command::new("sh");
            w.env(&mut cmd);
            cmd.current_dir(&dir).args(["-c", &script, "sh", name]).spawn().unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer failed");
    }
    let tasks = w.crew_json(&dir, &["task", "list"]);
    let titles: HashSet<String> =
        tasks.as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect();
    assert_eq!(tasks.as_array().unwrap().len(), 400);
    for name in &writers {
        for i in 1..=50 {
            assert!(titles.contains(&format!("{name} task {i}")), "{name} task {i} lost");
        }
    }
    let report = w.crew_json(&dir, &["verify"]);
    assert_eq!(report["report"]["records"], 1 + 8 + 400);
    let commits = w.git(&dir, &["rev-list", "--count", "crew"]);
    assert_eq!(commits.trim(), (1 + 8 + 400).to_string(), "one commit per write, linear");
    let merges = w.git(&dir, &["rev-list", "--merges", "--count", "crew"]);
    assert_eq!(merges.trim(), "0");
    w.git(&dir, &["fsck", "--strict", "--no-progress"]);
}

/// A process that dies after writing objects but before moving the branch
/// leaves the old tip intact, and the next write works.
#[test]
fn a_crash_between_objects_and_ref_update_leaves_the_old_tip() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    w.crew_ok(&dir, &["task", "add", "before"]);
    let tip = w.tip(&dir, "crew");
    let out = w
        .crew_cmd(&dir, &["task", "add", "lost in the crash"])
        .env("GIT_CREW_CRASH_AT", "after-objects")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the injected crash aborts the process");
    assert_eq!(w.tip(&dir, "crew"), tip, "old tip intact");
    let titles = w.crew_json(&dir, &["task", "list"]);
    assert_eq!(titles.as_array().unwrap().len(), 1);
    w.crew_ok(&dir, &["task", "add", "after"]);
    w.crew_ok(&dir, &["verify"]);
    w.git(&dir, &["fsck", "--no-progress"]);
}

/// Processes killed at arbitrary moments never corrupt the branch: every tip
/// seen is a complete, verifiable commit.
#[test]
fn processes_killed_at_random_moments_never_corrupt_the_branch() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    let mut delays = (0..24u64).map(|i| (i * 7919) % 12);
    for round in 0..24 {
        let mut child = w.crew_cmd(&dir, &["task", "add", &format!("round {round}")]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delays.next().unwrap()));
        let _ = child.kill();
        let _ = child.wait();
        // A kill inside the ref update can leave git's lock file, exactly as
        // with git itself; anything else must be a clean old or new tip.
        let _ = std::fs::remove_file(dir.join(".git/refs/heads/crew.lock"));
    }
    w.crew_ok(&dir, &["verify"]);
    w.git(&dir, &["fsck", "--no-progress"]);
    let n = w.crew_json(&dir, &["task", "list"]).as_array().unwrap().len();
    let commits: usize = w.git(&dir, &["rev-list", "--count", "crew"]).trim().parse().unwrap();
    assert_eq!(commits, n + 1, "every task that landed is one whole commit");
    w.crew_ok(&dir, &["task", "add", "still writable"]);
}
