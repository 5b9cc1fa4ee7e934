//! The store's conformance suite: every behaviour test is written once,
//! generic over the [`Backend`], and run against both a real repository
//! (`git::*`, gix on a fresh temporary repository) and memory (`memory::*`),
//! by the `conformance!` macro at the bottom. A few tests of the gix backend
//! alone check its ids and refs with the `git` command, and one checks that
//! both backends give the same ids for the same writes.

use std::collections::HashSet;
use std::process::Command;

use super::*;
use crate::object::{Commit, Ident};

const BRANCH: &str = "crew";

fn git_store() -> (Store<GitRepo>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = gix::init_bare(dir.path()).expect("git init");
    (Store::from_repo(repo, BRANCH).expect("store"), dir)
}

fn memory_store() -> Store<Memory> {
    Store::in_memory(BRANCH).expect("store")
}

fn ident(name: &str, seconds: i64) -> Ident {
    Ident { name: name.into(), email: format!("{name}@crew"), seconds, tz: "+0000".into() }
}

/// A commit with a fixed date, so ids are the same on every backend and run.
fn commit_at<B: Backend>(s: &Store<B>, parents: &[Oid], file: &str, seconds: i64) -> Oid {
    let base = parents.first().map(|p| s.commit(*p).unwrap().tree);
    let edit = [(file.to_owned(), format!("{file} at {seconds}\n").into_bytes())];
    let tree = s.commit(s.write_commit(parents, base, &edit, "bob", "x\n").unwrap()).unwrap().tree;
    let c = Commit {
        tree,
        parents: parents.to_vec(),
        author: ident("bob", seconds),
        committer: ident("bob", seconds),
        message: format!("{file}\n"),
    };
    s.write_commit_object(&c).unwrap()
}

fn ids(commits: &[CommitInfo]) -> Vec<Oid> {
    commits.iter().map(|c| c.id).collect()
}

/// Parents come before children, and nothing is listed twice.
fn assert_topological(commits: &[CommitInfo]) {
    let mut seen = HashSet::new();
    let listed: HashSet<Oid> = ids(commits).into_iter().collect();
    assert_eq!(listed.len(), commits.len(), "a commit listed twice");
    for c in commits {
        for p in &c.parents {
            assert!(!listed.contains(p) || seen.contains(p), "{} listed before its parent {p}", c.id);
        }
        seen.insert(c.id);
    }
}

/// What `new` adds to `old`, by brute force over both whole histories.
fn brute_new<B: Backend>(s: &Store<B>, old: Oid, new: Oid) -> HashSet<Oid> {
    let known: HashSet<Oid> = ids(&s.history(old).unwrap()).into_iter().collect();
    ids(&s.history(new).unwrap()).into_iter().filter(|id| !known.contains(id)).collect()
}

fn malformed<T: std::fmt::Debug>(r: Result<T>, why: &str) {
    match r {
        Err(StoreError::Malformed(m)) => assert!(m.why.contains(why), "{m}: wanted {why:?}"),
        other => panic!("wanted Malformed ({why}), got {other:?}"),
    }
}

/// Tree bytes from (mode, name, id) triples, in the order given.
fn raw_tree(entries: &[(&str, &str, Oid)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (mode, name, id) in entries {
        out.extend_from_slice(format!("{mode} {name}\0").as_bytes());
        out.extend_from_slice(id.as_bytes());
    }
    out
}

// ---- the suite, generic over the backend ----

fn known_ids_are_gits<B: Backend>(s: &Store<B>) {
    // Ids git itself gives (`git hash-object`), fixed for all time.
    assert_eq!(s.write_blob(b"").unwrap().to_string(), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    assert_eq!(s.write_blob(b"hello\n").unwrap().to_string(), "ce013625030ba8dba906f756967f9e9ca394464a");
    let empty = s.write_object(Kind::Tree, b"").unwrap();
    assert_eq!(empty.to_string(), "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
}

fn objects_round_trip<B: Backend>(s: &Store<B>) {
    for (kind, data) in [
        (Kind::Blob, b"some bytes\0and more".to_vec()),
        (Kind::Blob, Vec::new()),
        (Kind::Tree, raw_tree(&[("100644", "a", s.write_blob(b"a").unwrap())])),
        // Objects go in unparsed, malformed or not (reading is where the
        // branch's rules apply).
        (Kind::Tree, b"not a tree".to_vec()),
        (Kind::Commit, b"not a commit".to_vec()),
        (Kind::Tag, b"object 0\n".to_vec()),
    ] {
        let id = s.write_object(kind, &data).unwrap();
        assert_eq!(s.object(id).unwrap(), Some((kind, data.clone())));
        assert_eq!(s.write_object(kind, &data).unwrap(), id, "writing again gives the same id");
    }
    let blob = s.write_blob(b"content").unwrap();
    assert_eq!(s.blob(blob).unwrap(), b"content");
    let commit = commit_at(s, &[], "f", 1_700_000_000);
    let raw = s.raw_commit(commit).unwrap();
    assert_eq!((raw.author.seconds, raw.message.as_str()), (1_700_000_000, "f\n"));
    assert_eq!(s.commit(commit).unwrap().parents, Vec::<Oid>::new());
    assert_eq!(s.read(s.commit(commit).unwrap().tree, "f").unwrap().unwrap(), b"f at 1700000000\n");
}

fn missing_and_wrong_kinds_are_typed<B: Backend>(s: &Store<B>) {
    let absent = Oid::from_bytes([7; 20]);
    assert_eq!(s.object(absent).unwrap(), None);
    assert!(matches!(s.blob(absent), Err(StoreError::Missing { expected: Kind::Blob, .. })));
    assert!(matches!(s.commit(absent), Err(StoreError::Missing { expected: Kind::Commit, .. })));
    assert!(matches!(s.history(absent), Err(StoreError::Missing { expected: Kind::Commit, .. })));
    let blob = s.write_blob(b"x").unwrap();
    assert!(matches!(s.tree_entries(blob), Err(StoreError::WrongKind { expected: Kind::Tree, found: Kind::Blob, .. })));
    assert!(matches!(s.commit(blob), Err(StoreError::WrongKind { expected: Kind::Commit, .. })));
    assert!(matches!(s.history(blob), Err(StoreError::WrongKind { expected: Kind::Commit, .. })));
    let commit = commit_at(s, &[], "f", 1);
    assert!(matches!(s.blob(commit), Err(StoreError::WrongKind { expected: Kind::Blob, found: Kind::Commit, .. })));
}

fn paths_read_list_and_files<B: Backend>(s: &Store<B>) {
    let edits = [
        ("CREW.yaml".to_owned(), b"v: 1\n".to_vec()),
        ("tasks/ab/t1.log".to_owned(), b"one\n".to_vec()),
        ("tasks/ab/t2.log".to_owned(), b"two\n".to_vec()),
        ("tasks/cd/t3.log".to_owned(), b"three\n".to_vec()),
    ];
    let c1 = s.write_commit(&[], None, &edits, "bob", "first\n").unwrap();
    let tree = s.commit(c1).unwrap().tree;
    assert_eq!(s.read(tree, "tasks/ab/t2.log").unwrap().unwrap(), b"two\n");
    assert_eq!(s.read(tree, "tasks/ab/none").unwrap(), None);
    assert_eq!(s.read(tree, "tasks/ab").unwrap(), None, "a directory is not a file");
    assert_eq!(s.read(tree, "CREW.yaml/x").unwrap(), None, "a file is not a directory");
    assert_eq!(s.list(tree, "").unwrap(), ["CREW.yaml", "tasks"]);
    assert_eq!(s.list(tree, "tasks").unwrap(), ["ab", "cd"]);
    assert_eq!(s.list(tree, "tasks/ab/").unwrap(), ["t1.log", "t2.log"]);
    assert!(s.list(tree, "nowhere").unwrap().is_empty());
    let files = s.files(tree).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["CREW.yaml", "tasks/ab/t1.log", "tasks/ab/t2.log", "tasks/cd/t3.log"]);
    assert!(files.iter().all(FileEntry::is_plain_file));
    // An edit keeps every other path, and subtrees it does not touch.
    let c2 = s.write_commit(&[c1], Some(tree), &[("tasks/ab/t1.log".into(), b"uno\n".to_vec())], "bob", "2\n").unwrap();
    let tree2 = s.commit(c2).unwrap().tree;
    assert_eq!(s.commit(c2).unwrap().parents, [c1]);
    assert_eq!(s.read(tree2, "tasks/ab/t1.log").unwrap().unwrap(), b"uno\n");
    assert_eq!(s.read(tree2, "tasks/cd/t3.log").unwrap().unwrap(), b"three\n");
    let subtree = |t: Oid, path: &str| {
        path.split('/').fold(t, |t, name| s.tree_entries(t).unwrap().into_iter().find(|e| e.name == name).unwrap().oid)
    };
    assert_eq!(subtree(tree, "tasks/cd"), subtree(tree2, "tasks/cd"));
    assert_ne!(subtree(tree, "tasks/ab"), subtree(tree2, "tasks/ab"));
    let raw = s.raw_commit(c2).unwrap();
    assert_eq!((raw.author.name.as_str(), raw.author.email.as_str(), raw.message.as_str()), ("bob", "bob@crew", "2\n"));
}

fn diffs_follow_the_change<B: Backend>(s: &Store<B>) {
    let e = |p: &str, b: &str| (p.to_owned(), b.as_bytes().to_vec());
    let c1 = s.write_commit(&[], None, &[e("a", "1"), e("d/x", "2"), e("d/y", "3"), e("keep/z", "4")], "bob", "1\n");
    let t1 = s.commit(c1.unwrap()).unwrap().tree;
    // Modify d/x, add d/new, turn file `a` into a directory, leave keep/ alone.
    let t2 = {
        let c = s.write_commit(&[], Some(t1), &[e("d/x", "2b"), e("d/new", "5")], "bob", "2\n").unwrap();
        let t = s.commit(c).unwrap().tree;
        let mut entries = s.tree_entries(t).unwrap();
        let sub = s.commit(s.write_commit(&[], None, &[e("in", "6")], "bob", "3\n").unwrap()).unwrap().tree;
        entries.retain(|x| x.name != "a");
        entries.push(TreeEntry { mode: Mode::Tree, name: "a".into(), oid: sub });
        s.write_object(Kind::Tree, &object::write_tree(&entries)).unwrap()
    };
    let changes = s.diff(Some(t1), t2).unwrap();
    let summary: Vec<(&str, bool, bool)> =
        changes.iter().map(|c| (c.path.as_str(), c.old.is_some(), c.new.is_some())).collect();
    assert_eq!(summary, [("a/in", false, true), ("a", true, false), ("d/new", false, true), ("d/x", true, true)]);
    let x = changes.iter().find(|c| c.path == "d/x").unwrap();
    assert_eq!(s.blob(x.old.as_ref().unwrap().oid).unwrap(), b"2");
    assert_eq!(s.blob(x.new.as_ref().unwrap().oid).unwrap(), b"2b");
    assert!(s.diff(Some(t2), t2).unwrap().is_empty());
    let all: Vec<String> = s.diff(None, t1).unwrap().into_iter().map(|c| c.path).collect();
    assert_eq!(all, ["a", "d/x", "d/y", "keep/z"]);
    let back: Vec<(String, bool)> =
        s.diff(Some(t2), t1).unwrap().into_iter().map(|c| (c.path, c.new.is_some())).collect();
    assert_eq!(back, [("a/in".into(), false), ("a".into(), true), ("d/new".into(), false), ("d/x".into(), true)]);
}

fn the_tip_moves_by_compare_and_swap<B: Backend>(s: &Store<B>) {
    let (c1, c2, c3) = (commit_at(s, &[], "a", 1), commit_at(s, &[], "b", 2), commit_at(s, &[], "c", 3));
    assert_eq!(s.tip().unwrap(), None);
    assert!(matches!(s.set_tip(Some(c1), c2, "m"), Err(StoreError::Raced(_))), "expected at c1, absent");
    assert_eq!(s.tip().unwrap(), None);
    s.set_tip(None, c1, "create").unwrap();
    assert_eq!(s.tip().unwrap(), Some(c1));
    assert!(matches!(s.set_tip(None, c2, "m"), Err(StoreError::Raced(_))), "expected absent, exists");
    // As git has it: "must not exist" holds for a ref already at the value.
    s.set_tip(None, c1, "again").unwrap();
    assert!(matches!(s.set_tip(Some(c3), c2, "m"), Err(StoreError::Raced(_))), "expected at c3, at c1");
    assert_eq!(s.tip().unwrap(), Some(c1), "a lost race changes nothing");
    s.set_tip(Some(c1), c2, "move").unwrap();
    assert_eq!(s.tip().unwrap(), Some(c2));
    assert_eq!(s.ref_target("refs/heads/crew").unwrap(), Some(c2));
    s.delete_ref("refs/heads/crew").unwrap();
    assert!(matches!(s.set_tip(Some(c2), c3, "m"), Err(StoreError::Raced(_))), "deleted meanwhile");
    assert_eq!(s.tip().unwrap(), None);
}

fn refs_are_listed_forced_and_deleted<B: Backend>(s: &Store<B>) {
    let (c1, c2) = (commit_at(s, &[], "a", 1), commit_at(s, &[], "b", 2));
    s.force_ref("refs/crew/live/bob/s2", c1, "beat").unwrap();
    s.force_ref("refs/crew/live/ann/s1", c1, "beat").unwrap();
    s.force_ref("refs/crew/live/bob/s2", c2, "beat").unwrap();
    s.force_ref("refs/crew/lively", c1, "beat").unwrap();
    s.force_ref("refs/heads/other", c1, "x").unwrap();
    s.cas_ref("refs/crew/fold/x", None, c2, "cas").unwrap();
    assert!(matches!(s.cas_ref("refs/crew/fold/x", Some(c1), c1, "cas"), Err(StoreError::Raced(_))));
    let live = s.refs_under("refs/crew/live/").unwrap();
    assert_eq!(live, [("refs/crew/live/ann/s1".to_owned(), c1), ("refs/crew/live/bob/s2".to_owned(), c2)]);
    assert_eq!(s.refs_under("refs/crew/").unwrap().len(), 4);
    assert!(s.refs_under("refs/nothing/").unwrap().is_empty());
    s.delete_ref("refs/crew/live/ann/s1").unwrap();
    s.delete_ref("refs/crew/live/ann/s1").unwrap(); // absent: not an error
    assert_eq!(s.refs_under("refs/crew/live/").unwrap(), [("refs/crew/live/bob/s2".to_owned(), c2)]);
    assert_eq!(s.ref_target("refs/crew/live/ann/s1").unwrap(), None);
    for bad in ["refs/crew/a..b", "refs/crew/x.lock", "refs/crew/sp ace", "refs/crew/", "crew"] {
        assert!(matches!(s.force_ref(bad, c1, "x"), Err(StoreError::BadRef(_))), "{bad}");
        assert!(matches!(s.cas_ref(bad, None, c1, "x"), Err(StoreError::BadRef(_))), "{bad}");
    }
}

/// A history with a merge, dates in order:
///
/// ```text
/// a - b - c        linear
///      \     \
///       d --- m    merge of c and d, then e on top
///              \
///               e
/// ```
fn merged_history<B: Backend>(s: &Store<B>) -> [Oid; 6] {
    let a = commit_at(s, &[], "a", 10);
    let b = commit_at(s, &[a], "b", 20);
    let c = commit_at(s, &[b], "c", 30);
    let d = commit_at(s, &[b], "d", 25);
    let m = commit_at(s, &[c, d], "m", 40);
    let e = commit_at(s, &[m], "e", 50);
    [a, b, c, d, m, e]
}

fn history_is_parents_first<B: Backend>(s: &Store<B>) {
    let [a, b, c, d, m, e] = merged_history(s);
    assert_eq!(ids(&s.history(a).unwrap()), [a]);
    assert_eq!(ids(&s.history(c).unwrap()), [a, b, c]);
    let h = s.history(e).unwrap();
    assert_topological(&h);
    assert_eq!(ids(&h).into_iter().collect::<HashSet<_>>(), HashSet::from([a, b, c, d, m, e]));
    // The order is a post-order from the tip: the last parent's side first.
    assert_eq!(ids(&h), [a, b, d, c, m, e]);
    assert_eq!(h[4].parents, [c, d]);
    assert_eq!(h[4].tree, s.commit(m).unwrap().tree);
}

fn new_commits_on_linear_and_merged_histories<B: Backend>(s: &Store<B>) {
    let [a, b, c, d, m, e] = merged_history(s);
    let other = commit_at(s, &[], "other", 35); // unrelated root
    for (old, new, ancestor) in [
        (a, c, true),
        (c, e, true),
        (d, e, true),
        (b, m, true),
        (e, e, true),
        (c, d, false),
        (d, c, false),
        (e, a, false),
        (other, e, false),
        (e, other, false),
    ] {
        let want = brute_new(s, old, new);
        let (exact, reached) = s.new_commits_exact(old, new).unwrap();
        assert_topological(&exact);
        assert_eq!(ids(&exact).into_iter().collect::<HashSet<_>>(), want, "exact {old}..{new}");
        assert_eq!(reached, ancestor, "exact: is {old} an ancestor of {new}");
        let (quick, reached) = s.new_commits(old, new).unwrap();
        assert_topological(&quick);
        assert_eq!(ids(&quick).into_iter().collect::<HashSet<_>>(), want, "{old}..{new} (dates in order)");
        assert_eq!(reached, ancestor, "is {old} an ancestor of {new}");
        if let Some(last) = exact.last() {
            assert_eq!(last.id, new, "the new tip comes last");
        }
    }
}

fn new_commits_exact_ignores_dates<B: Backend>(s: &Store<B>) {
    // Dates run backwards: old's side looks newer than the new commits.
    //   a(100) - b(90) - c(500)        old = c
    //              \
    //               x(10) - y(5)       y merges c: new = m(1)
    let a = commit_at(s, &[], "a", 100);
    let b = commit_at(s, &[a], "b", 90);
    let c = commit_at(s, &[b], "c", 500);
    let x = commit_at(s, &[b], "x", 10);
    let y = commit_at(s, &[x], "y", 5);
    let m = commit_at(s, &[y, c], "m", 1);
    let (exact, reached) = s.new_commits_exact(c, m).unwrap();
    assert_eq!(ids(&exact).into_iter().collect::<HashSet<_>>(), HashSet::from([x, y, m]));
    assert!(reached);
    let (quick, reached) = s.new_commits(c, m).unwrap();
    assert!(reached);
    let quick: HashSet<Oid> = ids(&quick).into_iter().collect();
    assert!(quick.is_superset(&HashSet::from([x, y, m])), "may repeat known commits, never miss a new one");
    let (exact, reached) = s.new_commits_exact(m, c).unwrap();
    assert!(exact.is_empty() && !reached, "c is in m's history but not its descendant");
}

fn new_commits_whatever_the_clocks<B: Backend>(s: &Store<B>) {
    // Children older than their parents, and a merge of two skewed lines (the
    // DAG of tests/it/history.rs, whose `git rev-list` answers the brute force
    // here reproduces).
    //   0 - 1 - 2 ---- 5 - 6
    //    \            /
    //     3 - 4 -----
    //          \
    //           7
    let parents: &[&[usize]] = &[&[], &[0], &[1], &[0], &[3], &[2, 4], &[5], &[4]];
    let times = [5_000, 4_000, 9_000, 1_000, 1_000, 2_000, 8_000, 7_000];
    let mut made: Vec<Oid> = Vec::new();
    for (i, ps) in parents.iter().enumerate() {
        let ps: Vec<Oid> = ps.iter().map(|p| made[*p]).collect();
        made.push(commit_at(s, &ps, &format!("f{i}"), times[i]));
    }
    let n = |id: &Oid| made.iter().position(|x| x == id).unwrap_or(usize::MAX);
    let named = |set: &HashSet<Oid>| {
        let mut v: Vec<usize> = set.iter().map(n).collect();
        v.sort();
        v
    };
    for old in &made {
        for new in &made {
            let want = brute_new(s, *old, *new);
            let ancestor = ids(&s.history(*new).unwrap()).contains(old);
            let (exact, reached) = s.new_commits_exact(*old, *new).unwrap();
            assert_topological(&exact);
            let got: HashSet<Oid> = ids(&exact).into_iter().collect();
            assert_eq!(named(&got), named(&want), "exact: new commits of {} over {}", n(new), n(old));
            assert_eq!(reached, ancestor, "exact: is {} an ancestor of {}", n(old), n(new));
            let (quick, reached) = s.new_commits(*old, *new).unwrap();
            assert_topological(&quick);
            let got: HashSet<Oid> = ids(&quick).into_iter().collect();
            assert!(got.is_superset(&want), "a new commit of {} over {} was missed", n(new), n(old));
            assert_eq!(reached, ancestor, "is {} an ancestor of {}", n(old), n(new));
        }
    }
}

fn malformed_trees_are_refused<B: Backend>(s: &Store<B>) {
    let blob = s.write_blob(b"x").unwrap();
    let dup = s.write_object(Kind::Tree, &raw_tree(&[("100644", "a", blob), ("100644", "a", blob)])).unwrap();
    let padded = s.write_object(Kind::Tree, &raw_tree(&[("040000", "d", dup)])).unwrap();
    malformed(s.tree_entries(dup), "duplicate");
    malformed(s.files(dup), "duplicate");
    malformed(s.read(dup, "a"), "duplicate");
    malformed(s.diff(None, dup), "duplicate");
    malformed(s.tree_entries(padded), "zero-padded");
    // Below a well-formed root, reached through a path or a diff.
    let root = s.write_object(Kind::Tree, &raw_tree(&[("40000", "d", dup), ("100644", "f", blob)])).unwrap();
    assert_eq!(s.list(root, "").unwrap(), ["d", "f"]);
    assert_eq!(s.read(root, "f").unwrap().unwrap(), b"x");
    malformed(s.read(root, "d/a"), "duplicate");
    malformed(s.files(root), "duplicate");
    malformed(s.diff(None, root), "duplicate");
    // An empty directory is malformed below the root (git never writes one).
    let empty = s.write_object(Kind::Tree, b"").unwrap();
    assert!(s.files(empty).unwrap().is_empty());
    let hollow = s.write_object(Kind::Tree, &raw_tree(&[("40000", "d", empty)])).unwrap();
    malformed(s.files(hollow), "empty tree");
    malformed(s.diff(None, hollow), "empty tree");
    match s.tree_entries(dup) {
        Err(StoreError::Malformed(m)) => assert_eq!((m.what, m.id), ("tree", dup)),
        other => panic!("{other:?}"),
    }
}

fn malformed_commits_are_refused<B: Backend>(s: &Store<B>) {
    let good = commit_at(s, &[], "a", 10);
    let raw = String::from_utf8(s.object(good).unwrap().unwrap().1).unwrap();
    let signed = raw.replacen("\n\n", "\ngpgsig x\n\n", 1);
    let bad = s.write_object(Kind::Commit, signed.as_bytes()).unwrap();
    malformed(s.commit(bad), "unexpected header");
    malformed(s.raw_commit(bad), "unexpected header");
    let upper = raw.replacen("tree ", "tree X", 1);
    malformed(s.commit(s.write_object(Kind::Commit, upper.as_bytes()).unwrap()), "lowercase");
    // A good commit on top of a bad one: every walk stops at the bad one.
    let top = {
        let c = Commit {
            tree: s.commit(good).unwrap().tree,
            parents: vec![bad],
            author: ident("bob", 20),
            committer: ident("bob", 20),
            message: "top\n".into(),
        };
        s.write_commit_object(&c).unwrap()
    };
    assert_eq!(s.commit(top).unwrap().parents, [bad]);
    malformed(s.history(top), "unexpected header");
    malformed(s.new_commits_exact(good, top), "unexpected header");
    malformed(s.new_commits(good, top), "unexpected header");
    match s.history(top) {
        Err(StoreError::Malformed(m)) => assert_eq!((m.what, m.id), ("commit", bad)),
        other => panic!("{other:?}"),
    }
}

fn unwritable_commits_are_not_written<B: Backend>(s: &Store<B>) {
    let tree = s.write_object(Kind::Tree, b"").unwrap();
    let base =
        Commit { tree, parents: vec![], author: ident("bob", 1), committer: ident("bob", 1), message: "m\n".into() };
    for (what, c) in [
        ("name with <", Commit { author: ident("a<b", 1), ..base.clone() }),
        ("empty name", Commit { committer: Ident { name: String::new(), ..ident("x", 1) }, ..base.clone() }),
        ("bad zone", Commit { author: Ident { tz: "UTC".into(), ..ident("bob", 1) }, ..base.clone() }),
        ("newline in name", Commit { author: ident("bob\nparent x", 1), ..base.clone() }),
    ] {
        assert!(matches!(s.write_commit_object(&c), Err(StoreError::Unwritable { .. })), "{what}");
    }
    assert!(matches!(s.write_commit(&[], None, &[], "a>b", "m\n"), Err(StoreError::Unwritable { .. })));
    s.write_commit_object(&base).unwrap();
}

fn bad_branch_names_are_refused<B: Backend>(_: &Store<B>) {
    for bad in ["", "a..b", "x.lock", "sp ace", "a/"] {
        assert!(matches!(Store::in_memory(bad), Err(StoreError::BadBranch(_))), "{bad:?}");
        let dir = tempfile::tempdir().unwrap();
        let repo = gix::init_bare(dir.path()).unwrap();
        assert!(matches!(Store::from_repo(repo, bad), Err(StoreError::BadBranch(_))), "{bad:?}");
    }
    assert_eq!(Store::in_memory("crew/sub").unwrap().branch(), "crew/sub");
}

/// Run each named test of the suite against both backends.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod git {
            $(
                #[test]
                fn $name() {
                    let (store, _dir) = super::git_store();
                    super::$name(&store);
                }
            )*
        }
        mod memory {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::memory_store());
                }
            )*
        }
    };
}

conformance!(
    known_ids_are_gits,
    objects_round_trip,
    missing_and_wrong_kinds_are_typed,
    paths_read_list_and_files,
    diffs_follow_the_change,
    the_tip_moves_by_compare_and_swap,
    refs_are_listed_forced_and_deleted,
    history_is_parents_first,
    new_commits_on_linear_and_merged_histories,
    new_commits_exact_ignores_dates,
    new_commits_whatever_the_clocks,
    malformed_trees_are_refused,
    malformed_commits_are_refused,
    unwritable_commits_are_not_written,
    bad_branch_names_are_refused,
);

// ---- across backends, and against git itself ----

/// The same writes give the same ids on both backends.
#[test]
fn backends_agree_on_every_id() {
    let (g, _dir) = git_store();
    let m = memory_store();
    fn writes<B: Backend>(s: &Store<B>) -> (Oid, Oid) {
        let a = commit_at(s, &[], "a", 10);
        let b = commit_at(s, &[a], "tasks/ab/b", 20);
        (a, commit_at(s, &[b, a], "m", 30))
    }
    let on_git = writes(&g);
    assert_eq!(on_git, writes(&m));
    let tip = on_git.1;
    assert_eq!(ids(&g.history(tip).unwrap()), ids(&m.history(tip).unwrap()));
    assert_eq!(g.files(g.commit(tip).unwrap().tree).unwrap(), m.files(m.commit(tip).unwrap().tree).unwrap());
    // write_commit stamps the time: its trees agree whatever the second.
    let edits = [("x/y/z".to_owned(), b"z".to_vec()), ("w".to_owned(), b"w".to_vec())];
    let tg = g.commit(g.write_commit(&[], None, &edits, "bob", "m\n").unwrap()).unwrap().tree;
    let tm = m.commit(m.write_commit(&[], None, &edits, "bob", "m\n").unwrap()).unwrap().tree;
    assert_eq!(tg, tm);
}

fn git_cmd(dir: &std::path::Path, args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut cmd = Command::new("git");
    cmd.arg("--git-dir").arg(dir).args(args);
    cmd.env("GIT_CONFIG_NOSYSTEM", "1").env("GIT_CONFIG_GLOBAL", "/dev/null");
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("git runs");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input).expect("write to git");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("git runs");
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// What the gix backend writes is what git computes, reads and accepts.
#[test]
fn git_agrees_with_the_gix_backend() {
    let (s, dir) = git_store();
    let dir = dir.path();
    let a = commit_at(&s, &[], "a", 10);
    let c = s.write_commit(&[a], Some(s.commit(a).unwrap().tree), &[("d/e".into(), b"e\n".to_vec())], "bob", "c\n");
    let c = c.unwrap();
    s.set_tip(None, c, "test").unwrap();
    let tree = s.commit(c).unwrap().tree;
    let blob = s.files(tree).unwrap().into_iter().find(|f| f.path == "d/e").unwrap().oid;
    for (kind, id) in [("commit", c), ("tree", tree), ("blob", blob)] {
        let bytes = s.object(id).unwrap().unwrap().1;
        assert_eq!(git_cmd(dir, &["hash-object", "-t", kind, "--stdin"], Some(&bytes)), id.to_string(), "{kind}");
    }
    assert_eq!(git_cmd(dir, &["rev-parse", "refs/heads/crew"], None), c.to_string());
    assert_eq!(git_cmd(dir, &["rev-parse", "crew:d/e"], None), blob.to_string());
    assert_eq!(git_cmd(dir, &["rev-list", "--count", "crew"], None), "2");
    git_cmd(dir, &["fsck", "--strict", "--no-dangling"], None);
    // And the memory backend computes the same ids for the same bytes.
    let m = memory_store();
    for id in [c, tree, blob] {
        let (kind, bytes) = s.object(id).unwrap().unwrap();
        assert_eq!(m.write_object(kind, &bytes).unwrap(), id);
    }
}

/// Two stores on one memory repository race like two processes on one clone.
#[test]
fn memory_clones_share_one_repository() {
    let one = memory_store();
    let two = Store::with_backend(one.backend().clone(), BRANCH).unwrap();
    let (c, d) = (commit_at(&one, &[], "a", 1), commit_at(&one, &[], "b", 2));
    assert!(two.commit(c).is_ok());
    two.set_tip(None, c, "two").unwrap();
    assert!(matches!(one.set_tip(None, d, "one"), Err(StoreError::Raced(_))));
    assert_eq!(one.tip().unwrap(), Some(c));
    assert!(one.backend().object_count() > 0);
}

/// Configuration set through one store is read by a store opened afterwards
/// on the same repository, with git's rules: section and key ignore case,
/// the subsection does not, and a later value replaces an earlier one.
fn config_is_set_and_read_as_git_does<B: Backend, C: Backend>(write: &Store<B>, reopen: impl Fn() -> Store<C>) {
    // A section of its own: a developer's global config may set `crew.as`.
    let section = "crewconformance";
    assert_eq!(reopen().config_string("crewconformance.as"), None);
    let driver = (section, Some("crew"), "driver", "git-crew merge-driver %O");
    write.set_config(&[(section, None, "as", "alice"), driver]).unwrap();
    write.set_config(&[(section, None, "as", "bob")]).unwrap();
    let read = reopen();
    assert_eq!(read.config_string("crewconformance.as").as_deref(), Some("bob"));
    assert_eq!(read.config_string("CREWconformance.As").as_deref(), Some("bob"));
    assert_eq!(read.config_string("crewconformance.crew.driver").as_deref(), Some("git-crew merge-driver %O"));
    assert_eq!(read.config_string("CREWCONFORMANCE.crew.DRIVER").as_deref(), Some("git-crew merge-driver %O"));
    assert_eq!(read.config_string("crewconformance.Crew.driver"), None, "subsections keep their case");
    assert_eq!(read.config_string("crewconformance.remote"), None);
}

#[test]
fn git_config_is_set_and_read_as_git_does() {
    let (store, dir) = git_store();
    config_is_set_and_read_as_git_does(&store, || Store::open(dir.path(), BRANCH).unwrap());
    // And git itself reads what was written.
    assert_eq!(git_cmd(dir.path(), &["config", "crewconformance.as"], None).trim(), "bob");
}

#[test]
fn memory_config_is_set_and_read_as_git_does() {
    let store = memory_store();
    config_is_set_and_read_as_git_does(&store, || Store::with_backend(store.backend().clone(), BRANCH).unwrap());
}

/// The gix walk reads each commit once, parsed strictly, on the gix backend
/// too (its object cache aside): history of a long chain is linear work.
#[test]
fn long_histories_walk_without_recursion() {
    let s = memory_store();
    let mut tip = commit_at(&s, &[], "f", 0);
    for n in 1..2_000 {
        let c = Commit {
            tree: s.commit(tip).unwrap().tree,
            parents: vec![tip],
            author: ident("bob", n),
            committer: ident("bob", n),
            message: "n\n".into(),
        };
        tip = s.write_commit_object(&c).unwrap();
    }
    let h = s.history(tip).unwrap();
    assert_eq!(h.len(), 2_000);
    assert_topological(&h);
    let first = h[0].id;
    assert_eq!(s.new_commits_exact(first, tip).unwrap().0.len(), 1_999);
    assert_eq!(s.new_commits(first, tip).unwrap().0.len(), 1_999);
}
