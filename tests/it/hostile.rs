//! The hostile agent: every guarantee tried the way an attacker would, with
//! plain git plumbing, hand-signed records and an agent's own valid key,
//! against a bare remote guarded by the server hook (and, where it says so, a
//! remote without hooks). Each test asserts the refusal, the exit code and that
//! nothing changed, then that honest work still goes through.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use git_crew::hlc::Hlc;
use git_crew::id::Id;
use git_crew::layout;
use git_crew::record::kinds::{Artifact, Receipt, ReceiptClass, TaskComment};
use git_crew::record::{self, Payload};

use crate::common::{stamp, team, tip, World};

/// Plain-git forgery on a clone: objects written with plumbing, commits with
/// any identity and message, pushes of any commit.
pub(crate) struct Forge<'a> {
    w: &'a World,
    /// A clone holding the crew branch.
    dir: PathBuf,
}

impl<'a> Forge<'a> {
    pub(crate) fn new(w: &'a World, dir: &Path) -> Forge<'a> {
        Forge { w, dir: dir.to_owned() }
    }

    fn git(&self, args: &[&str]) -> String {
        self.w.git(&self.dir, args).trim().to_owned()
    }

    fn git_stdin(&self, args: &[&str], input: &[u8]) -> String {
        self.w.git_stdin(&self.dir, args, input)
    }

    /// The raw bytes of a tree object.
    fn raw_tree(&self, tree: &str) -> Vec<u8> {
        let mut cmd = Command::new("git");
        self.w.env(&mut cmd);
        cmd.current_dir(&self.dir).args(["cat-file", "tree", tree]).output().unwrap().stdout
    }

    /// Write `bytes` as a tree object, unchecked.
    fn write_tree(&self, bytes: &[u8]) -> String {
        self.git_stdin(&["hash-object", "-t", "tree", "--literally", "-w", "--stdin"], bytes)
    }

    /// The tree of `commit` with `path` set to `bytes` (a valid tree).
    pub(crate) fn tree_with(&self, commit: &str, path: &str, bytes: &[u8]) -> String {
        let blob = self.git_stdin(&["hash-object", "-w", "--stdin"], bytes);
        self.edit_tree(commit, &["--add", "--cacheinfo", &format!("100644,{blob},{path}")])
    }

    /// The tree of `commit` without `path` (a valid tree).
    fn tree_without(&self, commit: &str, path: &str) -> String {
        self.edit_tree(commit, &["--force-remove", path])
    }

    /// The tree of `commit` after `git update-index ARGS`, through a scratch index.
    pub(crate) fn edit_tree(&self, commit: &str, update: &[&str]) -> String {
        let index = self.dir.join(".git").join("forge-index");
        let run = |args: &[&str]| {
            let mut cmd = Command::new("git");
            self.w.env(&mut cmd);
            let out = cmd.current_dir(&self.dir).env("GIT_INDEX_FILE", &index).args(args).output().unwrap();
            assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        run(&["read-tree", commit]);
        run(&[&["update-index"][..], update].concat());
        let tree = run(&["write-tree"]);
        let _ = std::fs::remove_file(&index);
        tree
    }

    /// A commit of `tree` on `parents`, by `name <email>`, with `message`.
    pub(crate) fn commit(&self, tree: &str, parents: &[&str], name: &str, email: &str, message: &str) -> String {
        let mut args = vec!["commit-tree", tree];
        for p in parents {
            args.extend(["-p", p]);
        }
        let mut cmd = Command::new("git");
        self.w.env(&mut cmd);
        cmd.current_dir(&self.dir)
            .env("GIT_AUTHOR_NAME", name)
            .env("GIT_AUTHOR_EMAIL", email)
            .env("GIT_COMMITTER_NAME", name)
            .env("GIT_COMMITTER_EMAIL", email)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(message.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "commit-tree: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// A commit adding `records` (sealed bytes) to `path` on `parent`, made as
    /// git-crew makes it: by their author, with the message derived from them.
    pub(crate) fn honest(&self, ws: &Id, parent: &str, path: &str, records: &[&[u8]]) -> String {
        let decoded: Vec<record::Record> =
            records.iter().map(|b| record::decode_records(&[b], ws).pop().unwrap().unwrap()).collect();
        // In sorted position, as the merge law puts records: what refuses a
        // backdated record is then the rule it breaks, not its place.
        let mut content = self.file(parent, path);
        for r in records {
            content = git_crew::merge::insert(&content, r, ws).unwrap();
        }
        let tree = self.tree_with(parent, path, &content);
        let author = &decoded[0].author;
        self.commit(&tree, &[parent], author, &format!("{author}@crew"), &record::commit_message(&decoded))
    }

    /// The content of `path` at `commit`.
    pub(crate) fn file(&self, commit: &str, path: &str) -> Vec<u8> {
        self.w.git_output(&self.dir, &["show", &format!("{commit}:{path}")]).stdout
    }

    /// Push `commit` to `remote`'s crew branch with plain git (no hooks here).
    pub(crate) fn push(&self, remote: &Path, commit: &str) -> Output {
        self.push_to(remote, commit, "refs/heads/crew")
    }

    /// Push `commit` for `remote` to fold into its crew branch.
    fn push_fold(&self, remote: &Path, commit: &str) -> Output {
        self.push_to(remote, commit, "refs/crew/for/crew")
    }

    fn push_to(&self, remote: &Path, commit: &str, dst: &str) -> Output {
        let refspec = format!("{commit}:{dst}");
        self.w.git_output(&self.dir, &["push", "--no-verify", remote.to_str().unwrap(), &refspec])
    }
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `remote`'s crew tip.
pub(crate) fn remote_tip(w: &World, remote: &Path) -> String {
    w.tip(remote, "crew").expect("the remote has a crew branch")
}

/// A push refused by the server, naming `why`, leaving the remote where it was.
pub(crate) fn assert_refused(w: &World, remote: &Path, out: &Output, before: &str, why: &str) {
    let said = stderr(out);
    assert!(!out.status.success(), "the push was accepted; want a refusal about {why:?}");
    assert!(said.contains(why), "the refusal does not say {why:?}:\n{said}");
    assert!(!said.contains("panicked"), "{said}");
    assert_eq!(remote_tip(w, remote), before, "a refused push moved the remote");
}

/// The root tree of `commit` with its `CREW.yaml` entry listed twice, and
/// with a directory's mode written `040000`: two trees git reads leniently.
fn malformed_trees(f: &Forge, commit: &str) -> [(String, &'static str); 2] {
    let tree = f.git(&["rev-parse", &format!("{commit}^{{tree}}")]);
    // Raw entries: `<mode> <name>\0<20-byte id>`.
    let raw = f.raw_tree(&tree);
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut rest = raw.as_slice();
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ').unwrap();
        let nul = rest.iter().position(|b| *b == 0).unwrap();
        entries.push((String::from_utf8(rest[..space].to_vec()).unwrap(), rest[space + 1..nul + 21].to_vec()));
        rest = &rest[nul + 21..];
    }
    let entry = |mode: &str, tail: &[u8]| [mode.as_bytes(), b" ", tail].concat();
    let mut dup = Vec::new();
    let mut padded = Vec::new();
    for (mode, tail) in &entries {
        dup.extend(entry(mode, tail));
        if tail.starts_with(layout::MANIFEST.as_bytes()) {
            dup.extend(entry(mode, tail));
        }
        padded.extend(entry(if mode == "40000" { "040000" } else { mode }, tail));
    }
    [(f.write_tree(&dup), "duplicate entry \"CREW.yaml\""), (f.write_tree(&padded), "zero-padded mode")]
}

/// One push of a malformed tree bricked the workspace: every later push was
/// refused. Now the server refuses it (git's own `receive.fsckObjects`, which
/// `install --server` turns on, and the hook itself when that is off), sync
/// refuses it from a remote without hooks, and honest pushes keep working.
#[test]
fn malformed_trees_are_refused_everywhere_and_the_workspace_keeps_working() {
    let w = World::new();
    let (a, _b, remote, _task) = team(&w, "Keep the workspace whole");
    assert_eq!(w.git(&remote, &["config", "receive.fsckObjects"]).trim(), "true", "install --server turns it on");
    let f = Forge::new(&w, &a);
    let base = remote_tip(&w, &remote);
    let cases = malformed_trees(&f, &base);
    for fsck in ["true", "false"] {
        w.git(&remote, &["config", "receive.fsckObjects", fsck]);
        for (tree, why) in &cases {
            let commit = f.commit(tree, &[&base], "alice", "alice@crew", "looks harmless\n");
            let out = f.push(&remote, &commit);
            let why = if fsck == "true" { "rejected" } else { why };
            assert_refused(&w, &remote, &out, &base, why);
        }
    }
    // A legitimate push after the refused ones still succeeds.
    let written = w.crew_json(&a, &["task", "add", "Honest work"]);
    assert_eq!(written["published"], true, "{written}");
    assert_eq!(remote_tip(&w, &remote), tip(&w, &a));

    // A remote without hooks takes the malformed commit; sync refuses it
    // (exit 4, naming the object) and leaves the local branch as it was.
    let loose = w.bare("loose.git");
    assert!(f.push(&loose, &tip(&w, &a)).status.success());
    let c = w.path("c");
    w.git(&w.root, &["clone", "-q", remote.to_str().unwrap(), c.to_str().unwrap()]);
    w.crew_ok(&c, &["--as", "carol", "sync"]);
    let before = tip(&w, &c);
    for (tree, why) in &cases {
        let commit = f.commit(tree, &[&tip(&w, &a)], "alice", "alice@crew", "looks harmless\n");
        assert!(f.push(&loose, &commit).status.success(), "a remote without hooks takes anything");
        let run = w.crew(&c, &["--as", "carol", "sync", loose.to_str().unwrap()]);
        assert_eq!(run.code, 4, "{run:?}");
        assert!(run.stderr.contains(why), "{}", run.stderr);
        assert_eq!(tip(&w, &c), before, "sync merged a malformed commit");
        w.git(&loose, &["update-ref", "refs/heads/crew", &tip(&w, &a)]);
    }
    w.crew_ok(&c, &["verify"]);
}

/// A valid record by bob, committed as the attacker likes.
fn bob_comment(w: &World, ws: &Id, task: &Id, text: &str) -> (Vec<u8>, Id) {
    let payload = Payload::TaskComment(TaskComment { task: *task, text: text.into() });
    let (r, bytes) = record::encode(ws, "bob", Hlc::now(), payload, &w.key(ws, "bob")).unwrap();
    (bytes, r.id)
}

/// `git log --format='%an: %s' crew` is the reviewer's view: a commit whose
/// author, committer or message is not what its records say, or that adds no
/// record, is refused by the server and by `verify`.
#[test]
fn commits_that_lie_about_their_records_are_refused() {
    let w = World::new();
    let (a, _b, remote, task) = team(&w, "Review me");
    let ws: Id = w.crew_json(&a, &["verify"])["report"]["workspace"].as_str().unwrap().parse().unwrap();
    let task: Id = task.parse().unwrap();
    let f = Forge::new(&w, &a);
    let base = remote_tip(&w, &remote);
    let path = layout::task_path(&task);
    let (bytes, id) = bob_comment(&w, &ws, &task, "an honest comment");
    let content = [f.file(&base, &path), bytes].concat();
    let tree = f.tree_with(&base, &path, &content);
    let derived = format!("task.comment {} comment on {}: \"an honest comment\"\n", id.short(), task.short());
    let empty = f.git(&["rev-parse", &format!("{base}^{{tree}}")]);
    let cases = [
        (tree.clone(), "alice", "alice@crew", derived.clone(), "is not bob <bob@crew>"),
        (tree.clone(), "bob", "bob@example.com", derived.clone(), "is not bob <bob@crew>"),
        (tree.clone(), "bob", "bob@crew", "alice: admit mallory as admin\n".to_owned(), "is not the one derived"),
        (empty, "bob", "bob@crew", "nothing to see\n".to_owned(), "adds no record"),
    ];
    let loose = w.bare("loose.git");
    for (tree, name, email, message, why) in &cases {
        let commit = f.commit(tree, &[&base], name, email, message);
        assert_refused(&w, &remote, &f.push(&remote, &commit), &base, why);
        // The same history, taken by a remote without hooks, fails verify.
        let out = f.push(&loose, &commit);
        assert!(out.status.success(), "{}", stderr(&out));
        let c = w.path(&format!("c-{}", &commit[..8]));
        w.git(&w.root, &["clone", "-q", "-b", "crew", loose.to_str().unwrap(), c.to_str().unwrap()]);
        let run = w.crew(&c, &["verify"]);
        assert_eq!(run.code, 4, "{run:?}");
        assert!(run.stderr.contains(why) && run.stderr.contains(&commit[..12]), "{}", run.stderr);
        w.git(&loose, &["update-ref", "refs/heads/crew", &base]);
    }
    // The honest form of the same commit is accepted.
    let commit = f.commit(&tree, &[&base], "bob", "bob@crew", &derived);
    let out = f.push(&remote, &commit);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = w.git(&remote, &["log", "-1", "--format=%an <%ae>: %s", "crew"]);
    assert_eq!(log.trim(), format!("bob <bob@crew>: {}", derived.trim()));
}

/// Run `git-crew` with a deadline: it must finish (not hang on a device or
/// FIFO) well within `limit`.
fn crew_within(w: &World, dir: &Path, args: &[&str], limit: Duration) -> crate::common::Run {
    let started = Instant::now();
    let mut child =
        w.crew_cmd(dir, args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("git-crew {args:?} did not return within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    crate::common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Receipts point only at regular files inside the work tree, and every file
/// argument is bounded: `/dev/zero`, a FIFO, a directory, a file outside the
/// work tree or a symbolic link out of it is a clear error (exit 1) with
/// nothing written, at once.
#[test]
fn file_arguments_are_bounded_and_artifacts_stay_in_the_work_tree() {
    let w = World::new();
    let (a, _b, _remote, task) = team(&w, "Attach evidence");
    let outside = w.path("outside.txt");
    std::fs::write(&outside, "secret\n").unwrap();
    std::os::unix::fs::symlink(&outside, a.join("link.txt")).unwrap();
    std::fs::create_dir_all(a.join("dir")).unwrap();
    let fifo = a.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let before = tip(&w, &a);
    let limit = Duration::from_secs(10);
    let cases: [(&str, &str); 5] = [
        ("/dev/zero", "not inside the work tree"),
        ("fifo", "not a regular file (a FIFO)"),
        ("dir", "not a regular file (a directory)"),
        (outside.to_str().unwrap(), "not inside the work tree"),
        ("link.txt", "not inside the work tree"),
    ];
    for (path, why) in cases {
        let run = crew_within(&w, &a, &["--as", "bob", "receipt", "add", "--task", &task, "--artifact", path], limit);
        assert_eq!(run.code, 1, "{path}: {run:?}");
        assert!(run.stderr.contains(why), "{path}: {}", run.stderr);
        assert_eq!(tip(&w, &a), before, "{path}: something was written");
    }
    for (path, why) in [("/dev/zero", "a device"), ("fifo", "a FIFO"), ("dir", "a directory")] {
        let run = crew_within(&w, &a, &["--as", "bob", "msg", "send", "--to", "#general", "--file", path], limit);
        assert_eq!(run.code, 1, "{path}: {run:?}");
        assert!(run.stderr.contains(why), "{path}: {}", run.stderr);
    }
    // A big file given as message text is refused by its size, not read whole.
    let big = a.join("big.txt");
    std::fs::write(&big, vec![b'x'; 2 * 1024 * 1024]).unwrap();
    let run = crew_within(&w, &a, &["--as", "bob", "msg", "send", "--to", "#general", "--file", "big.txt"], limit);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("larger than"), "{}", run.stderr);
    assert_eq!(tip(&w, &a), before);

    // An artifact given by any path inside the work tree is recorded relative
    // to its top, normalised.
    std::fs::create_dir_all(a.join("reports")).unwrap();
    std::fs::write(a.join("reports/junit.xml"), "<ok/>\n").unwrap();
    let sub = a.join("reports");
    let rec =
        w.crew_json(&sub, &["--as", "bob", "receipt", "add", "--task", &task, "--artifact", "./../reports/junit.xml"]);
    assert_eq!(rec["record"]["fields"]["artifacts"][0]["path"], "reports/junit.xml", "{rec}");
}

/// A hand-signed receipt whose artifact path is absolute or climbs out with
/// `..` is refused by the server: `verify --artifacts` can never be sent to
/// `/dev/zero` or `/etc/shadow`.
#[test]
fn receipts_with_paths_out_of_the_work_tree_are_refused_by_the_server() {
    let w = World::new();
    let (a, _b, remote, task) = team(&w, "Attach evidence");
    let ws: Id = w.crew_json(&a, &["verify"])["report"]["workspace"].as_str().unwrap().parse().unwrap();
    let task: Id = task.parse().unwrap();
    let f = Forge::new(&w, &a);
    let base = remote_tip(&w, &remote);
    let path = layout::task_path(&task);
    for (bad, why) in [
        ("/dev/zero", "is absolute"),
        ("/etc/shadow", "is absolute"),
        ("../../etc/passwd", "is not normalised"),
        ("reports/../../x", "is not normalised"),
    ] {
        let receipt = Receipt {
            task,
            class: ReceiptClass::Test,
            summary: None,
            commits: vec![],
            artifacts: vec![Artifact { path: bad.into(), sha256: "0".repeat(64), size: 0 }],
        };
        // The library's encoder refuses to write it; the attacker seals the body by hand.
        assert!(record::encode(&ws, "bob", Hlc::now(), Payload::Receipt(receipt.clone()), &w.key(&ws, "bob")).is_err());
        let body = format!(
            "v: 1\nkind: \"receipt\"\nauthor: \"bob\"\nat: \"{}\"\ntask: \"{}\"\nclass: \"test\"\nartifacts:\n  - path: \"{bad}\"\n    sha256: \"{}\"\n    size: 0\n",
            Hlc::now(),
            task.hex(),
            "0".repeat(64)
        );
        let (bytes, _) = record::seal(&ws, "receipt", &body, &w.key(&ws, "bob"));
        let tree = f.tree_with(&base, &path, &[f.file(&base, &path), bytes].concat());
        let commit = f.commit(&tree, &[&base], "bob", "bob@crew", "receipt\n");
        assert_refused(&w, &remote, &f.push(&remote, &commit), &base, why);
    }
}

/// Every kind of file the cache holds, deleted or garbled, is detected and
/// rebuilt: no read shows anything else than it would without a cache.
#[test]
fn a_damaged_cache_is_rebuilt_not_trusted() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    w.agent(&dir, "bob");
    for n in 0..40 {
        w.crew_ok(&dir, &["--as", "bob", "task", "add", &format!("task {n}")]);
    }
    let reads: [&[&str]; 4] = [&["task", "list"], &["board"], &["next"], &["log", "-n", "100"]];
    let expected: Vec<String> = reads.iter().map(|r| w.crew_ok(&dir, &[&["--json"], *r].concat())).collect();
    let cache = std::fs::read_dir(dir.join(".git/crew/cache")).unwrap().next().unwrap().unwrap().path();
    let files_in = |dir: &Path| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect();
        files.sort();
        files
    };
    // One file of every kind the cache holds (the largest: a shard that holds
    // tasks, as an empty one may be absent), and every task shard at once.
    let files = files_in(&cache);
    let mut by_kind: std::collections::BTreeMap<String, PathBuf> = std::collections::BTreeMap::new();
    let size = |f: &Path| std::fs::metadata(f).unwrap().len();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let kind = match (f.parent() == Some(cache.as_path()), f.extension()) {
            (false, Some(e)) => format!("tasks/*.{}", e.to_string_lossy()),
            _ => name,
        };
        let kept = by_kind.entry(kind).or_insert_with(|| f.clone());
        if size(f) > size(kept) {
            *kept = f.clone();
        }
    }
    let kinds: Vec<&String> = by_kind.keys().collect();
    assert!(kinds.len() >= 5, "core, journal, task shards, summaries, lock: {kinds:?}");
    let warm = || {
        for r in &reads {
            w.crew_ok(&dir, &[&["--json"], *r].concat());
        }
    };
    let check = |what: &str| {
        for (r, want) in reads.iter().zip(&expected) {
            let got = w.crew_ok(&dir, &[&["--json"], *r].concat());
            assert_eq!(&got, want, "{r:?} after {what}");
        }
    };
    for (kind, file) in &by_kind {
        for damage in ["delete", "garble", "truncate"] {
            warm();
            // The lock holds no data: it comes back with the next update.
            if kind == "lock" && !file.exists() {
                continue;
            }
            assert!(file.exists(), "the {kind} file came back after the cache was rebuilt");
            match damage {
                "delete" => std::fs::remove_file(file).unwrap(),
                "garble" => {
                    let mut bytes = std::fs::read(file).unwrap();
                    let mid = bytes.len() / 2;
                    if let Some(b) = bytes.get_mut(mid) {
                        *b ^= 0x55;
                    }
                    std::fs::write(file, bytes).unwrap();
                }
                _ => {
                    let bytes = std::fs::read(file).unwrap();
                    std::fs::write(file, &bytes[..bytes.len() / 3]).unwrap();
                }
            }
            check(&format!("{damage} of the {kind} file {}", file.display()));
        }
    }
    warm();
    for f in files_in(&cache.join("tasks")) {
        std::fs::remove_file(f).unwrap();
    }
    check("deleting every task shard");
}

/// `CREW_HOME` is made absolute and refused inside a git work tree; a private
/// key others can read is refused with the `chmod` to run, as ssh does.
#[test]
fn keys_stay_outside_repositories_and_private() {
    let w = World::new();
    let dir = w.repo("r");
    // A relative CREW_HOME inside the repository would put the key in the work tree.
    let run = {
        let mut cmd = w.crew_cmd(&dir, &["init", "--admin", "alice"]);
        cmd.env("CREW_HOME", "keys");
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert_eq!(run.0, Some(1), "{}", run.1);
    assert!(run.1.contains("inside the git work tree"), "{}", run.1);
    assert!(!dir.join("keys").exists(), "nothing written");
    assert_eq!(w.tip(&dir, "crew"), None);

    let (dir, ws) = w.workspace("s");
    let key = w.keys().path(&ws, "alice");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = tip(&w, &dir);
    let run = w.crew(&dir, &["task", "add", "Exposed"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains(&format!("chmod 600 {}", key.display())), "{}", run.stderr);
    assert_eq!(tip(&w, &dir), before);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    w.crew_ok(&dir, &["task", "add", "Private again"]);
}

/// A live ref only moves forward in time: an actor's older valid beat cannot
/// be pushed over its newer one.
#[test]
fn an_old_beat_cannot_replace_a_newer_one() {
    let w = World::new();
    let (_a, b, remote, _task) = team(&w, "Beat");
    let beat = |n: &str| {
        w.crew_ok(&b, &["--as", "carol", "heartbeat", "--session", "s1", "--no-sync"]);
        let oid = w.git(&b, &["rev-parse", "refs/crew/live/carol/s1"]).trim().to_owned();
        w.git(&b, &["update-ref", &format!("refs/old/{n}"), &oid]);
        oid
    };
    let old = beat("1");
    std::thread::sleep(Duration::from_millis(20));
    let new = beat("2");
    let push =
        |oid: &str| w.git_output(&b, &["push", "--no-verify", "origin", &format!("+{oid}:refs/crew/live/carol/s1")]);
    assert!(push(&new).status.success());
    let out = push(&old);
    assert!(!out.status.success(), "an older beat replaced a newer one");
    assert!(stderr(&out).contains("live refs only move forward"), "{}", stderr(&out));
    assert_eq!(w.git(&remote, &["rev-parse", "refs/crew/live/carol/s1"]).trim(), new);
}

/// A record whose stamp would stall every clock (the counter at its largest,
/// minutes ahead) or a claim dated past a running lease is refused.
#[test]
fn clocks_cannot_be_weaponised() {
    let w = World::new();
    let (a, _b, remote, task) = team(&w, "Time");
    let ws: Id = w.crew_json(&a, &["verify"])["report"]["workspace"].as_str().unwrap().parse().unwrap();
    let task: Id = task.parse().unwrap();
    let f = Forge::new(&w, &a);
    let base = remote_tip(&w, &remote);
    let path = layout::task_path(&task);
    let comment = |at: &str| {
        let body = format!(
            "v: 1\nkind: \"task.comment\"\nauthor: \"bob\"\nat: \"{at}\"\ntask: \"{}\"\ntext: \"tick\"\n",
            task.hex()
        );
        record::seal(&ws, "task.comment", &body, &w.key(&ws, "bob")).0
    };
    let ahead = |ms: i64, counter: u32| {
        let t = Hlc { ms: Hlc::now().ms + ms, counter: 0 }.to_string();
        if counter == 0 {
            t
        } else {
            format!("{t}~{counter}")
        }
    };
    for (at, why) in [
        (ahead(9 * 60_000, 0), "ahead of this clock"),
        (ahead(0, 4_294_967_295), "malformed or missing `at:` header"),
        (ahead(0, 65_536), "malformed or missing `at:` header"),
    ] {
        let tree = f.tree_with(&base, &path, &[f.file(&base, &path), comment(&at)].concat());
        let commit = f.commit(&tree, &[&base], "bob", "bob@crew", "tick\n");
        assert_refused(&w, &remote, &f.push(&remote, &commit), &base, why);
    }
    // A claim dated past the skew (its author's clock "ahead") is refused too.
    let claim = |at: &str| {
        let body = format!(
            "v: 1\nkind: \"task.claim\"\nauthor: \"bob\"\nat: \"{at}\"\ntask: \"{}\"\nlease: 1800\n",
            task.hex()
        );
        record::seal(&ws, "task.claim", &body, &w.key(&ws, "bob")).0
    };
    let commit = f.honest(&ws, &base, &path, &[&claim(&ahead(5_000, 0))]);
    assert_refused(&w, &remote, &f.push(&remote, &commit), &base, "ahead of this clock");

    // The largest counter, within the skew, is accepted and stalls nobody:
    // the next honest stamps move to the next millisecond, and two identical
    // comments written back to back stay two records.
    let top = comment(&ahead(500, 65_535));
    let commit = f.honest(&ws, &base, &path, &[&top]);
    let out = f.push(&remote, &commit);
    assert!(out.status.success(), "{}", stderr(&out));
    w.crew_ok(&a, &["sync"]);
    for _ in 0..2 {
        w.crew_ok(&a, &["--as", "bob", "task", "comment", &task.hex(), "same words"]);
    }
    let shown = w.crew_json(&a, &["task", "show", &task.hex()]);
    let same = shown["history"].as_array().unwrap().iter().filter(|r| r["fields"]["text"] == "same words").count();
    assert_eq!(same, 2, "{shown}");
    let stamps: Vec<Hlc> = shown["history"].as_array().unwrap().iter().map(stamp).collect();
    let mut sorted = stamps.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), stamps.len(), "no two records share a stamp: {stamps:?}");
    w.crew_ok(&a, &["sync"]);
    w.crew_ok(&a, &["verify"]);
}

/// A hand-signed `task.claim` by `who`, dated `at`.
fn claim_record(w: &World, ws: &Id, who: &str, task: &Id, at: Hlc) -> Vec<u8> {
    let payload = Payload::TaskClaim(git_crew::record::kinds::TaskClaim { task: *task, lease: 1800, offline: false });
    record::encode(ws, who, at, payload, &w.key(ws, who)).unwrap().1
}

/// The `at` of a record shown by `--json`.
fn at_of(v: &serde_json::Value) -> Hlc {
    stamp(v)
}

fn workspace_of(w: &World, dir: &Path) -> Id {
    w.crew_json(dir, &["verify"])["report"]["workspace"].as_str().unwrap().parse().unwrap()
}

/// Published outcomes are final. carol's claim, won by compare-and-swap, cannot
/// be taken by bob, an admitted agent with a valid key, signing a claim dated
/// a millisecond before hers: not on top of the tip, not through a merge of a
/// side branch forged from before her claim, not dated after it while she
/// holds it. Each push is refused naming her claim, the remote stays, and her
/// `task done` goes through; then a backdated claim cannot reopen the done task.
#[test]
fn a_published_claim_cannot_be_stolen_nor_a_done_task_reopened() {
    let w = World::new();
    let (a, b, remote, task) = team(&w, "Contested");
    let ws = workspace_of(&w, &a);
    let task: Id = task.parse().unwrap();
    let won = w.crew_json(&b, &["--as", "carol", "task", "claim", &task.hex()])["record"].clone();
    assert_eq!(remote_tip(&w, &remote), tip(&w, &b), "the claim was published");
    w.crew_ok(&a, &["sync"]);
    let f = Forge::new(&w, &a);
    let base = remote_tip(&w, &remote);
    let path = layout::task_path(&task);
    let claim_at = at_of(&won);
    let before = Hlc { ms: claim_at.ms - 1, counter: 0 };
    let named = won["id"].as_str().unwrap()[..8].to_owned();

    // 1. Backdated, on top of the tip.
    let steal = claim_record(&w, &ws, "bob", &task, before);
    let commit = f.honest(&ws, &base, &path, &[&steal]);
    assert_refused(&w, &remote, &f.push(&remote, &commit), &base, &format!("sorts before {named}"));

    // 2. Backdated, on a side branch forged from before the claim, merged in
    // (the fixed merge message, by an actor) either way round.
    let fork = f.git(&["rev-parse", &format!("{base}~1")]);
    let side = f.honest(&ws, &fork, &path, &[&steal]);
    let union = git_crew::merge::union(&f.file(&base, &path), &f.file(&side, &path), &ws).unwrap();
    let merged = f.tree_with(&base, &path, &union);
    for parents in [[base.as_str(), side.as_str()], [side.as_str(), base.as_str()]] {
        let commit = f.commit(&merged, &parents, "bob", "bob@crew", git_crew::record::MERGE_MESSAGE);
        let out = f.push(&remote, &commit);
        assert_refused(&w, &remote, &out, &base, "a file only grows at its end");
    }

    // 3. Dated after her claim, while she holds the task: it does not count,
    // and the server publishes nothing that does not count.
    let late = claim_record(&w, &ws, "bob", &task, Hlc::now());
    let commit = f.honest(&ws, &base, &path, &[&late]);
    assert_refused(&w, &remote, &f.push(&remote, &commit), &base, "held by carol");

    // The rightful holder closes the task.
    let done = w.crew_json(&b, &["--as", "carol", "task", "done", &task.hex()])["record"].clone();
    assert_eq!(done["kind"], "task.done", "{done}");
    w.crew_ok(&b, &["--as", "carol", "sync"]);
    w.crew_ok(&a, &["sync"]);
    let base = remote_tip(&w, &remote);
    // 4. A claim dated before the done cannot turn it back to in progress.
    let reopen = claim_record(&w, &ws, "bob", &task, Hlc { ms: at_of(&done).ms - 1, counter: 0 });
    let commit = f.honest(&ws, &base, &path, &[&reopen]);
    assert_refused(&w, &remote, &f.push(&remote, &commit), &base, "sorts before");
    for dir in [&a, &b] {
        let shown = w.crew_json(dir, &["task", "show", &task.hex()]);
        assert_eq!(shown["task"]["status"], "done", "{shown}");
    }
}

/// A remote that runs no hooks, holding what `remote` holds, as the origin of
/// clones `a` and `b`; and a forge in `a`.
fn without_hooks<'a>(w: &'a World, a: &Path, b: &Path, remote: &Path) -> (PathBuf, Forge<'a>) {
    let loose = w.bare("loose.git");
    for dir in [a, b] {
        w.git(dir, &["remote", "set-url", "origin", loose.to_str().unwrap()]);
    }
    let f = Forge::new(w, a);
    assert!(f.push(&loose, &remote_tip(w, remote)).status.success());
    (loose, f)
}

/// Where the server runs no hooks, the overturning push lands on the remote;
/// every client's sync refuses it (exit 4, naming the rule), merges nothing and
/// keeps its branch, a fresh clone gets no branch from it.
#[test]
fn without_hooks_every_client_refuses_an_overturn_and_an_admin_repairs_it() {
    let w = World::new();
    let (a, b, remote, task) = team(&w, "Contested");
    let ws = workspace_of(&w, &a);
    let task: Id = task.parse().unwrap();
    let (loose, f) = without_hooks(&w, &a, &b, &remote);
    let won = w.crew_json(&b, &["--as", "carol", "task", "claim", &task.hex()])["record"].clone();
    w.crew_ok(&a, &["sync"]);
    let base = remote_tip(&w, &loose);
    let steal = claim_record(&w, &ws, "bob", &task, Hlc { ms: at_of(&won).ms - 1, counter: 0 });
    let commit = f.honest(&ws, &base, &layout::task_path(&task), &[&steal]);
    assert!(f.push(&loose, &commit).status.success(), "a remote without hooks takes it");
    for dir in [&a, &b] {
        let before = tip(&w, dir);
        let run = w.crew(dir, &["sync"]);
        assert_eq!(run.code, 4, "{run:?}");
        assert!(run.stderr.contains("a file only grows at its end"), "{}", run.stderr);
        assert_eq!(tip(&w, dir), before, "sync merged an overturn");
        let shown = w.crew_json(dir, &["task", "show", &task.hex()]);
        assert_eq!(shown["task"]["holder"], "carol", "{shown}");
    }
    let fresh = w.path("fresh");
    w.git(&w.root, &["clone", "-q", loose.to_str().unwrap(), fresh.to_str().unwrap()]);
    let run = w.crew(&fresh, &["sync"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert_eq!(w.tip(&fresh, "crew"), None);

    // Meanwhile bob (honest this time) wrote on top of the bad commit with
    // an old client: a valid comment that still counts on the good history.
    let f = Forge::new(&w, &a);
    let bad = remote_tip(&w, &loose);
    let payload = Payload::TaskComment(TaskComment { task, text: "on top of the bad one".into() });
    let (comment, bytes) = record::encode(&ws, "bob", Hlc::now(), payload, &w.key(&ws, "bob")).unwrap();
    let on_top = f.honest(&ws, &bad, &layout::task_path(&task), &[&bytes]);
    assert!(f.push(&loose, &on_top).status.success());

    // Only an admin repairs; carol cannot.
    let run = w.crew(&b, &["--as", "carol", "repair"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("not an admin"), "{}", run.stderr);
    // alice repairs: her verified tip, plus every later record that still
    // counts (bob's comment), minus the overturning claim, plus a signed record.
    let repaired = w.crew_json(&a, &["repair", "--reason", "bob's backdated claim"]);
    assert_eq!(repaired["replaced"], on_top.as_str(), "{repaired}");
    assert_eq!(repaired["kept"], 1, "{repaired}");
    let dropped = repaired["dropped"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{repaired}");
    assert!(dropped[0]["reason"].as_str().unwrap().contains("held by carol"), "{repaired}");
    assert_eq!(repaired["record"]["kind"], "crew.repair", "{repaired}");
    assert_eq!(remote_tip(&w, &loose), tip(&w, &a));
    // Every client syncs again, and agrees; a fresh clone verifies.
    for dir in [&a, &b] {
        w.crew_ok(dir, &["sync"]);
        assert_eq!(tip(&w, dir), remote_tip(&w, &loose));
        let shown = w.crew_json(dir, &["task", "show", &task.hex()]);
        assert_eq!(shown["task"]["holder"], "carol", "{shown}");
        assert_eq!(shown["task"]["comments"], 1, "{shown}");
        w.crew_ok(dir, &["verify"]);
    }
    let after = w.path("after");
    w.git(&w.root, &["clone", "-q", loose.to_str().unwrap(), after.to_str().unwrap()]);
    w.crew_ok(&after, &["sync"]);
    w.crew_ok(&after, &["verify"]);
    let log = w.crew_json(&after, &["log", "--kind", "crew.repair"]);
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    assert!(w.crew_json(&after, &["log"]).to_string().contains(&comment.id.hex()));
}

/// Where the server runs no hooks, a record dated ten minutes ahead (which
/// would make every A2 append, such as a `msg.join`, wait for it) is refused
/// by every client's sync, naming the clock; the client keeps its branch and
/// goes on writing. One dated a few seconds ahead, as an honest clone whose
/// clock runs fast writes, is taken, and what the client writes next still
/// sorts after it.
#[test]
fn without_hooks_sync_refuses_a_record_dated_far_ahead() {
    let w = World::new();
    let (a, b, remote, task) = team(&w, "Clocks");
    let ws = workspace_of(&w, &a);
    let task: Id = task.parse().unwrap();
    let (loose, f) = without_hooks(&w, &a, &b, &remote);
    let comment = |ahead_ms: i64, text: &str| {
        let base = remote_tip(&w, &loose);
        let payload = Payload::TaskComment(TaskComment { task, text: text.into() });
        let at = Hlc { ms: Hlc::now().ms + ahead_ms, counter: 0 };
        let (_, bytes) = record::encode(&ws, "bob", at, payload, &w.key(&ws, "bob")).unwrap();
        let commit = f.honest(&ws, &base, &layout::task_path(&task), &[&bytes]);
        assert!(f.push(&loose, &commit).status.success(), "a remote without hooks takes it");
        base
    };
    let good = comment(5_000, "a fast clock");
    w.crew_ok(&b, &["--as", "carol", "sync"]);
    let joined = w.crew_json(&b, &["--as", "carol", "msg", "join", "general"])["record"].clone();
    assert!(at_of(&joined) > Hlc { ms: Hlc::now().ms + 2_000, counter: 0 }, "follows the stamp it read: {joined}");
    w.crew_ok(&b, &["--as", "carol", "sync"]);

    w.crew_ok(&a, &["sync"]);
    assert_ne!(remote_tip(&w, &loose), good);
    comment(10 * 60_000, "ten minutes ahead");
    let mine = tip(&w, &a);
    let run = w.crew(&a, &["sync"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("ahead of this clock"), "{}", run.stderr);
    assert_eq!(tip(&w, &a), mine, "sync merged a record from the future");
    // The client still writes, A2 kinds included.
    let joined = w.crew(&a, &["msg", "join", "ops"]);
    assert_eq!(joined.code, 0, "{joined:?}");
    w.crew_ok(&a, &["verify"]);
}

/// A fresh lock file (another process may be mid-update) stops writes with a
/// message that names it and says what to do, and nothing is written. One
/// older than a ref update can take (left by a process killed mid-update,
/// which git never removes by itself) is cleared, so a restarted agent is not
/// wedged.
#[test]
fn a_lock_left_by_a_killed_process_is_named_with_what_to_do() {
    let w = World::new();
    let (_, b, _, _) = team(&w, "Seed");
    w.git(&b, &["pack-refs", "--all"]);
    let lock = b.join(".git").join("packed-refs.lock");
    std::fs::write(&lock, "").unwrap();
    let before = tip(&w, &b);
    let run = w.crew(&b, &["--json", "--as", "carol", "--offline", "task", "add", "Behind a stale lock"]);
    assert_eq!(run.code, 1, "{run:?}");
    let err: serde_json::Value = serde_json::from_str(&run.stderr).unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("packed-refs.lock") && message.contains("remove it"), "{message}");
    assert_eq!(tip(&w, &b), before);
    let old = std::time::SystemTime::now() - git_crew::store::STALE_LOCK - std::time::Duration::from_secs(5);
    std::fs::File::options().write(true).open(&lock).unwrap().set_modified(old).unwrap();
    w.crew_ok(&b, &["--as", "carol", "--offline", "task", "add", "After the lock went stale"]);
    assert!(!lock.exists(), "the stale lock was cleared");
    assert!(w.crew_json(&b, &["task", "list"]).to_string().contains("After the lock went stale"));
}

/// The dropped-write notes an inbox shows are a local file, not evidence: a
/// note whose record is signed with a key its author never had, a line that
/// is not JSON and bytes that are not UTF-8 are skipped (and never break the
/// inbox); only a note signed with the author's own key is shown, and
/// acknowledging it writes nothing to the branch.
#[test]
fn forged_dropped_notes_never_reach_an_inbox() {
    let w = World::new();
    let (_, b, _, task) = team(&w, "Seed");
    let ws: Id = w.crew_json(&b, &["verify"])["report"]["workspace"].as_str().unwrap().parse().unwrap();
    let task: Id = task.parse().unwrap();
    let comment = |text: &str| Payload::TaskComment(TaskComment { task, text: text.into() });
    let note = |key: &git_crew::sign::Keypair, text: &str| {
        let (_, bytes) = record::encode(&ws, "carol", Hlc::now(), comment(text), key).unwrap();
        let line = serde_json::json!({"author": "carol", "why": text, "record": String::from_utf8(bytes).unwrap()});
        line.to_string() + "\n"
    };
    let mallory = git_crew::sign::Keypair::from_seed([9; 32]);
    let mut file = note(&mallory, "forged by mallory").into_bytes();
    file.extend_from_slice(b"not json at all\n\xff\xfe\n");
    file.extend_from_slice(note(&w.key(&ws, "carol"), "signed by carol").as_bytes());
    std::fs::write(b.join(".git").join("crew").join("dropped.jsonl"), file).unwrap();

    let before = tip(&w, &b);
    let inbox = w.crew_json(&b, &["--as", "carol", "inbox"]);
    let items = inbox.as_array().unwrap();
    assert_eq!(items.len(), 1, "{inbox}");
    assert_eq!(items[0]["reason"], "dropped", "{inbox}");
    assert_eq!(items[0]["why"], "signed by carol", "{inbox}");
    let acked = w.crew_json(&b, &["--as", "carol", "inbox", "--ack"]);
    assert_eq!(acked["record"], serde_json::Value::Null, "{acked}");
    assert_eq!(w.crew_json(&b, &["--as", "carol", "inbox"]), serde_json::json!([]));
    assert_eq!(tip(&w, &b), before, "notes are never written to the branch");
}

/// The fold (pushes to `refs/crew/for/crew`, appended by the server on its
/// tip) is no way around the server's checks. bob, with his valid key, pushes
/// for folding: a claim stealing carol's held task, backdated on a side branch
/// (sent back to be re-made, which he cannot make count) and on top of the tip
/// (refused); a record whose bytes were altered after signing (refused for
/// good, not "retry"); a commit deleting the task's file (nothing to fold
/// from a side branch, refused on top); a commit that lies about its author
/// (the branch gets the record under its true author, never the lie); pushes
/// to another pseudo-ref or deleting one. The remote never moves for what is
/// refused, keeps no pseudo-ref, and verifies.
#[test]
fn the_fold_is_no_way_around_the_servers_checks() {
    let w = World::new();
    let (a, b, remote, task) = team(&w, "Contested");
    let ws = workspace_of(&w, &a);
    let task: Id = task.parse().unwrap();
    w.crew_json(&b, &["--as", "carol", "task", "claim", &task.hex()]);
    w.crew_ok(&a, &["sync"]);
    let f = Forge::new(&w, &a);
    let base = remote_tip(&w, &remote);
    let fork = f.git(&["rev-parse", &format!("{base}~1")]);
    let path = layout::task_path(&task);

    // A steal, backdated, on a side branch: it does not fit as it is.
    let steal = claim_record(&w, &ws, "bob", &task, Hlc { ms: Hlc::now().ms - 60_000, counter: 0 });
    let side = f.honest(&ws, &fork, &path, &[&steal]);
    assert_refused(&w, &remote, &f.push_fold(&remote, &side), &base, "retry:");
    // On top of the tip (a fast-forward): refused as a plain push is.
    let top = f.honest(&ws, &base, &path, &[&steal]);
    assert_refused(&w, &remote, &f.push_fold(&remote, &top), &base, "sorts before");
    // Dated now, while carol holds the task: it does not count.
    let late = claim_record(&w, &ws, "bob", &task, Hlc::now());
    let side = f.honest(&ws, &fork, &path, &[&late]);
    assert_refused(&w, &remote, &f.push_fold(&remote, &side), &base, "held by carol");

    // Bytes altered after signing, from a side branch: refused for good.
    let (bytes, _) = bob_comment(&w, &ws, &task, "an honest comment");
    let altered = String::from_utf8(bytes.clone()).unwrap().replace("an honest", "a forged!");
    let content = [f.file(&fork, &path), altered.into_bytes()].concat();
    let forged = f.commit(&f.tree_with(&fork, &path, &content), &[&fork], "bob", "bob@crew", "comment\n");
    let out = f.push_fold(&remote, &forged);
    assert_refused(&w, &remote, &out, &base, "refused");
    assert!(!stderr(&out).contains("retry:"), "a forgery is not worth retrying: {}", stderr(&out));

    // Deleting the task's file: nothing to fold from a side branch, refused on top.
    let without = f.tree_without(&base, &path);
    let deleting = f.commit(&without, &[&fork], "bob", "bob@crew", "tidy up\n");
    let out = f.push_fold(&remote, &deleting);
    assert!(out.status.success(), "nothing to fold is not an error: {}", stderr(&out));
    assert_eq!(remote_tip(&w, &remote), base, "a deletion folds nothing");
    let deleting = f.commit(&without, &[&base], "bob", "bob@crew", "tidy up\n");
    assert_refused(&w, &remote, &f.push_fold(&remote, &deleting), &base, "refused");

    // A commit lying about its author: the record folds under its true author.
    let content = [f.file(&fork, &path), bytes].concat();
    let lying = f.commit(&f.tree_with(&fork, &path, &content), &[&fork], "alice", "alice@crew", "admit mallory\n");
    let out = f.push_fold(&remote, &lying);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = w.git(&remote, &["log", "-1", "--format=%an <%ae> | %cn <%ce> | %s", "crew"]);
    assert!(log.starts_with("bob <bob@crew> | bob <bob@crew> | task.comment"), "{log}");
    let base = remote_tip(&w, &remote);

    // Other pseudo-refs, and deleting one.
    let out = f.push_to(&remote, &lying, "refs/crew/for/elsewhere");
    assert_refused(&w, &remote, &out, &base, "folds only into its workspace branch");
    let out = w.git_output(&a, &["push", "--no-verify", remote.to_str().unwrap(), ":refs/crew/for/crew"]);
    assert!(!out.status.success(), "deleting a pseudo-ref");

    // The server's own refs: a planted marker or tip.
    for dst in ["refs/crew/fold/v2", "refs/crew/tips/127"] {
        assert_refused(&w, &remote, &f.push_to(&remote, &lying, dst), &base, "are the server's own");
    }

    assert_eq!(w.git(&remote, &["for-each-ref", "refs/crew/for/"]), "");
    w.crew_ok(&remote, &["verify"]);
    let shown = w.crew_json(&remote, &["task", "show", &task.hex()]);
    assert_eq!(shown["task"]["holder"], "carol", "{shown}");
}

/// A suspension nobody may make (an agent suspending a peer), stale as well,
/// pushed for the fold: it does not count, so it sets no fence that would
/// hold its target back, and the target publishes at once.
#[test]
fn a_suspension_nobody_may_make_fences_no_one() {
    let w = World::new();
    let (a, b, remote, task) = team(&w, "Fenced?");
    let ws = workspace_of(&w, &a);
    let f = Forge::new(&w, &a);
    let fork = remote_tip(&w, &remote);
    // carol publishes: a suspension made on `fork` has not seen it.
    let busy = w.crew_json(&b, &["--as", "carol", "task", "comment", &task, "busy"]);
    assert_eq!(busy["published"], true, "{busy}");
    let base = remote_tip(&w, &remote);
    let payload = Payload::ActorSuspend(git_crew::record::kinds::ActorSuspend {
        name: "carol".into(),
        reason: Some("bob says so".into()),
        seen: None,
        seen_at: None,
    });
    let (_, bytes) = record::encode(&ws, "bob", Hlc::now(), payload, &w.key(&ws, "bob")).unwrap();
    let side = f.honest(&ws, &fork, &layout::actor_path("carol"), &[&bytes]);
    assert_refused(&w, &remote, &f.push_fold(&remote, &side), &base, "may not suspend \"carol\"");
    assert!(!remote.join("crew/fences").exists(), "no fence for a suspension that does not count");
    let next = w.crew_json(&b, &["--as", "carol", "task", "comment", &task, "still here"]);
    assert_eq!(next["published"], true, "{next}");
}

/// A supervisor is an agent with a grant, and only the grant: without the
/// `suspend` power its hand-signed suspension of an agent, and a `suspend`
/// step, are refused by the server and change nothing; an agent cannot write
/// itself a policy; with the grant, the same suspension is published.
#[test]
fn a_supervisor_without_the_grant_cannot_stop_anyone() {
    use git_crew::record::kinds::{ActorSuspend, CrewPolicy, StepFlag, StepKind, SuperviseStep};
    let w = World::new();
    let (a, _b, remote, _task) = team(&w, "Watched");
    w.crew_ok(&a, &["--as", "alice", "id", "new", "sup", "--role", "agent", "--owner", "alice"]);
    w.crew_ok(&a, &["--as", "alice", "policy", "set", "--runaway-per-minute", "5", "--grant", "sup=release"]);
    let ws: Id = w.crew_json(&a, &["verify"])["report"]["workspace"].as_str().unwrap().parse().unwrap();
    let f = Forge::new(&w, &a);
    let sealed = |author: &str, payload: Payload| {
        let (r, bytes) = record::encode(&ws, author, Hlc::now(), payload, &w.key(&ws, author)).unwrap();
        (layout::path_of(&r), bytes)
    };
    let suspend =
        || Payload::ActorSuspend(ActorSuspend { name: "bob".into(), reason: None, seen: None, seen_at: None });
    let step = Payload::SuperviseStep(SuperviseStep {
        flag: StepFlag::Runaway,
        step: StepKind::Suspend,
        actor: "bob".into(),
        task: None,
        why: "fast".into(),
    });
    let policy = Payload::CrewPolicy(CrewPolicy { runaway_per_minute: Some(1_000_000), ..CrewPolicy::default() });
    let cases = [("sup", suspend(), "may not suspend"), ("sup", step, "may not take"), ("bob", policy, "admin only")];
    for (author, payload, why) in cases {
        let base = remote_tip(&w, &remote);
        let (path, bytes) = sealed(author, payload);
        let commit = f.honest(&ws, &base, &path, &[&bytes]);
        assert_refused(&w, &remote, &f.push(&remote, &commit), &base, why);
        assert_refused(&w, &remote, &f.push_fold(&remote, &commit), &base, why);
    }
    // The CLI refuses it too, before writing: exit 1, the branch unchanged.
    let before = tip(&w, &a);
    let run = w.crew(&a, &["--as", "sup", "suspend", "bob"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("may not suspend"), "{}", run.stderr);
    assert_eq!(tip(&w, &a), before);
    assert_eq!(w.crew(&a, &["--as", "bob", "alive"]).code, 0);
    // Granted, the same hand-made suspension is published and stops bob.
    w.crew_ok(&a, &["--as", "alice", "policy", "set", "--grant", "sup=release,suspend"]);
    let base = remote_tip(&w, &remote);
    let (path, bytes) = sealed("sup", suspend());
    let commit = f.honest(&ws, &base, &path, &[&bytes]);
    let out = f.push(&remote, &commit);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.crew(&a, &["--as", "bob", "alive"]).code, 5);
}
