//! `Store::new_commits` (what `sync`, `verify_new` and the server hook treat as
//! new) against `git rev-list NEW ^OLD`, with merges, on histories whose commits
//! share one timestamp (exactly git's answer) or go back in time (never a new
//! commit missed; a known one may be listed again, which only costs a second
//! verification). Whether OLD is an ancestor of NEW is always exact, and
//! `new_commits_exact` is git's answer whatever the clocks say.

use std::collections::BTreeSet;
use std::path::Path;

use git_crew::store::Oid;
use git_crew::store::Store;

use crate::common::World;

/// Commit on `branch` in `dir` at the given committer time, with `parents`.
fn commit(w: &World, dir: &Path, parents: &[&str], time: i64, n: usize) -> String {
    let tree = w.git(dir, &["write-tree"]);
    let mut args = vec!["commit-tree".to_owned(), tree.trim().to_owned(), "-m".to_owned(), format!("c{n}")];
    for p in parents {
        args.push("-p".to_owned());
        args.push((*p).to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = std::process::Command::new("git");
    w.env(&mut cmd);
    let date = format!("{} +0000", 1_700_000_000 + time);
    let out = cmd
        .current_dir(dir)
        .args(&args)
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_AUTHOR_DATE", &date)
        .envs([("GIT_AUTHOR_NAME", "Test"), ("GIT_AUTHOR_EMAIL", "t@example.com")])
        .envs([("GIT_COMMITTER_NAME", "Test"), ("GIT_COMMITTER_EMAIL", "t@example.com")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn rev_list(w: &World, dir: &Path, new: &str, old: &str) -> BTreeSet<String> {
    w.git(dir, &["rev-list", new, &format!("^{old}")]).lines().map(str::to_owned).collect()
}

fn is_ancestor(w: &World, dir: &Path, old: &str, new: &str) -> bool {
    w.git_output(dir, &["merge-base", "--is-ancestor", old, new]).status.success()
}

/// A small DAG: commit `i` has the parents listed, and the time given by
/// `times[i]`. Every pair (old, new) of commits is checked.
fn check_all_pairs(parents: &[&[usize]], times: &[i64], exact: bool) {
    let w = World::new();
    let dir = w.repo("h");
    let mut ids: Vec<String> = Vec::new();
    for (i, ps) in parents.iter().enumerate() {
        let ps: Vec<&str> = ps.iter().map(|p| ids[*p].as_str()).collect();
        ids.push(commit(&w, &dir, &ps, times[i], i));
    }
    let store = Store::open(&dir, "crew").unwrap();
    for old in &ids {
        for new in &ids {
            let oid = |h: &str| Oid::from_lower_hex(h).unwrap();
            let (fresh, reached) = store.new_commits(oid(old), oid(new)).unwrap();
            let got: BTreeSet<String> = fresh.iter().map(|c| c.id.to_string()).collect();
            let n = |h: &str| ids.iter().position(|x| x == h).unwrap();
            let want = rev_list(&w, &dir, new, old);
            let (exact_fresh, exact_reached) = store.new_commits_exact(oid(old), oid(new)).unwrap();
            let exact_got: BTreeSet<String> = exact_fresh.iter().map(|c| c.id.to_string()).collect();
            assert_eq!(exact_got, want, "exact: new commits of {} over {}", n(new), n(old));
            assert_eq!(exact_reached, reached, "exact: is {} an ancestor of {}", n(old), n(new));
            if exact {
                assert_eq!(got, want, "new commits of {} over {}", n(new), n(old));
            } else {
                assert!(got.is_superset(&want), "a new commit of {} over {} was missed", n(new), n(old));
            }
            assert_eq!(reached, is_ancestor(&w, &dir, old, new), "is {} an ancestor of {}", n(old), n(new));
            // Parents come before children.
            for (i, c) in fresh.iter().enumerate() {
                for p in &c.parents {
                    if let Some(j) = fresh.iter().position(|x| x.id == *p) {
                        assert!(j < i, "parent listed after its child");
                    }
                }
            }
        }
    }
}

#[test]
fn linear_history_in_one_second() {
    check_all_pairs(&[&[], &[0], &[1], &[2], &[3]], &[1_000; 5], true);
}

#[test]
fn branches_and_merges_in_one_second() {
    // 0 - 1 - 2 ----- 5 - 6
    //      \         /
    //       3 ----- 4
    check_all_pairs(&[&[], &[0], &[1], &[1], &[3], &[2, 4], &[5]], &[1_000; 7], true);
    // The same with time going forward along every edge.
    check_all_pairs(&[&[], &[0], &[1], &[1], &[3], &[2, 4], &[5]], &[1, 2, 3, 3, 4, 5, 6], true);
}

#[test]
fn clocks_that_go_back() {
    // Children older than their parents, and a merge of two skewed lines.
    let parents: &[&[usize]] = &[&[], &[0], &[1], &[0], &[3], &[2, 4], &[5], &[4]];
    check_all_pairs(parents, &[5_000, 4_000, 9_000, 1_000, 1_000, 2_000, 8_000, 7_000], false);
}
