//! Hooks, `install`, the merge driver and plain git on the crew branch.
//!
//! Everything here goes through real git and the real binary: `install`
//! writes shims that git runs, `git pull` calls the merge driver, `git push`
//! runs `pre-push` locally and `pre-receive` on a bare remote. Bad records are
//! crafted as in `tamper.rs` (validly signed with `record::seal`) so each case
//! trips exactly one check of the server hook.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use git_crew::hlc::Hlc;
use git_crew::id::Id;
use git_crew::layout;
use git_crew::record::kinds::{ActorAdmit, Genesis, Receipt, ReceiptClass, TaskCreate};
use git_crew::record::{self, Payload, Role};
use git_crew::sign::Keypair;
use serde_json::Value;

use crate::common::{append_at, place_at, read_at, write_at, Craft, World};

const TITLE: &str = "Fix the login page";
const DRIVER: &str = "git-crew merge-driver %O %A %B %P";
const BEGIN: &str = "# >>> git-crew >>>";
const END: &str = "# <<< git-crew <<<";
const CLIENT_HOOKS: [&str; 4] = ["pre-commit", "commit-msg", "post-commit", "pre-push"];

const REFUSED: &str = "git-crew: refused: ";
const APPEND_ONLY: &str = "record removed or edited: log files are append-only";
const FILE_DELETED: &str = "file deleted: log files are append-only";
const BAD_SIGNATURE: &str = "signature does not verify (record edited, forged, or copied from another workspace)";
const OUT_OF_ORDER: &str = "records out of order (a log file is sorted by at, then id)";
const OUTSIDE_LAYOUT: &str = "file outside the workspace layout";
const NON_CANONICAL: &str = "not in canonical encoding (see schema/SIGNING.md)";
const CONFLICT_MARKER: &str = "git conflict marker (merged without the crew merge driver: run `git crew install`)";
const MODE: &str = "not allowed: only plain files (no symlinks, submodules or executable bits)";

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode()
}

/// A bare remote and the creator's clone `a` (admin alice, agent bob, bob's
/// task), synced to it as `origin`.
struct Net {
    w: World,
    remote: PathBuf,
    a: PathBuf,
    ws: Id,
    task: Id,
    /// Crafted records, stamped after everything the CLI wrote and well
    /// inside the server's allowed clock skew.
    craft: Craft,
}

impl std::ops::Deref for Net {
    type Target = Craft;
    fn deref(&self) -> &Craft {
        &self.craft
    }
}

impl Net {
    /// With `server`, the remote gets `install --server` before the first push,
    /// so even that push goes through `pre-receive`.
    fn new(server: bool) -> Net {
        let w = World::new();
        let remote = w.bare("remote.git");
        if server {
            w.crew_ok(&remote, &["install", "--server"]);
        }
        let (a, ws) = w.workspace("a");
        w.agent(&a, "bob");
        let out = w.crew_json(&a, &["--as", "bob", "task", "add", TITLE])["record"].clone();
        let task: Id = out["id"].as_str().unwrap().parse().unwrap();
        w.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
        let synced = w.crew_json(&a, &["sync"]);
        assert_eq!(synced["pushed"], true, "{synced}");
        // After every record the CLI wrote, within the clock skew a server allows.
        let net = Net { w, remote, a, ws, task, craft: Craft::new(ws, 500) };
        assert_eq!(net.remote_tip(), net.w.tip(&net.a, "crew"));
        net
    }

    /// A second clone of the remote named `name`, whose crew branch came from
    /// `git crew sync`, acting as `actor`.
    fn clone(&self, name: &str, actor: &str) -> PathBuf {
        self.w.git(&self.w.root, &["clone", "-q", self.remote.to_str().unwrap(), name]);
        let dir = self.w.path(name);
        let synced = self.w.crew_json(&dir, &["sync"]);
        assert_eq!(synced["fast_forward"], true, "{synced}");
        self.w.git(&dir, &["config", "crew.as", actor]);
        dir
    }

    fn remote_tip(&self) -> Option<String> {
        self.w.tip(&self.remote, "crew")
    }

    fn key(&self, name: &str) -> Keypair {
        self.w.key(&self.ws, name)
    }

    fn task_file(&self) -> String {
        layout::task_path(&self.task)
    }

    /// A valid `note` receipt on the task, by `author`.
    fn receipt(&self, author: &str, summary: &str) -> (Vec<u8>, Id) {
        let payload = Payload::Receipt(Receipt {
            task: self.task,
            class: ReceiptClass::Note,
            summary: Some(summary.into()),
            commits: Vec::new(),
            artifacts: Vec::new(),
        });
        let (r, bytes) = record::encode(&self.ws, author, self.at(), payload, &self.key(author)).unwrap();
        (bytes, r.id)
    }

    /// `git commit` with a `Crew-Task:` trailer on the current branch of `dir`
    /// (its hooks run); the output.
    fn commit_with_trailer(&self, dir: &Path, subject: &str, task: &str) -> Output {
        let message = format!("{subject}\n\nCrew-Task: {task}\n");
        self.w.git_output(dir, &["commit", "-q", "--allow-empty", "-m", &message])
    }

    /// The receipts on the branch of `dir`, newest first.
    fn receipts(&self, dir: &Path) -> Vec<Value> {
        self.w.crew_json(dir, &["log", "--kind", "receipt"]).as_array().unwrap().clone()
    }
}

fn head(w: &World, dir: &Path) -> String {
    w.git(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

// ---------------------------------------------------------------------------
// install

/// The installed hook holds exactly one git-crew block, whose one command
/// calls `git-crew hook NAME`, and is executable.
fn assert_shim(path: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(text.matches(BEGIN).count(), 1, "{}:\n{text}", path.display());
    assert_eq!(text.matches(END).count(), 1, "{}:\n{text}", path.display());
    let (_, rest) = text.split_once(&format!("{BEGIN}\n")).unwrap();
    let (block, _) = rest.split_once(END).unwrap();
    assert_eq!(block, format!("git-crew hook {name} \"$@\" || exit $?\n"), "{}:\n{text}", path.display());
    assert_eq!(mode(path) & 0o111, 0o111, "{} is not executable", path.display());
    text
}

#[test]
fn shipped_hooks_are_one_line_shims() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hooks");
    for name in CLIENT_HOOKS.iter().chain(&["pre-receive"]) {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{name}: {text}");
        let commands: Vec<&str> = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
        assert_eq!(commands, vec![format!("git-crew hook {name} \"$@\" || exit $?")], "{name}: {text}");
    }
}

#[test]
fn install_writes_shims_between_markers_and_the_merge_driver_idempotently() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    let hooks = dir.join(".git/hooks");
    // A user's own pre-push hook, without a final newline.
    let user = "#!/bin/sh\necho 'user pre-push ran' >&2";
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(hooks.join("pre-push"), user).unwrap();
    w.git(&dir, &["config", "--unset", "merge.crew.driver"]);

    let out = w.crew_json(&dir, &["install"]);
    assert_eq!(out["server"], false, "{out}");
    assert_eq!(out["merge_driver"], true, "{out}");
    let listed: Vec<PathBuf> =
        out["hooks"].as_array().unwrap().iter().map(|p| PathBuf::from(p.as_str().unwrap())).collect();
    assert_eq!(listed, CLIENT_HOOKS.iter().map(|n| hooks.join(n)).collect::<Vec<_>>(), "{out}");
    assert_eq!(w.git(&dir, &["config", "merge.crew.driver"]).trim(), DRIVER);
    assert!(!hooks.join("pre-receive").exists(), "a clone gets no server hook");

    let mut first = Vec::new();
    for name in CLIENT_HOOKS {
        let text = assert_shim(&hooks.join(name), name);
        if name == "pre-push" {
            assert!(text.starts_with(&format!("{user}\n{BEGIN}\n")), "user content kept, block appended:\n{text}");
        } else {
            assert!(text.starts_with(&format!("#!/bin/sh\n{BEGIN}\n")), "{text}");
        }
        first.push(text);
    }

    // Twice: the same files, one block each; the text form reports each hook.
    let text = w.crew_ok(&dir, &["install"]);
    assert!(text.contains("merge.crew.driver"), "{text}");
    for name in CLIENT_HOOKS {
        assert!(text.contains(&format!("Installed {}", hooks.join(name).display())), "{text}");
    }
    let again: Vec<String> = CLIENT_HOOKS.iter().map(|n| assert_shim(&hooks.join(n), n)).collect();
    assert_eq!(again, first, "a second install changes nothing");
    let config = std::fs::read_to_string(dir.join(".git/config")).unwrap();
    assert_eq!(config.matches("[merge \"crew\"]").count(), 1, "{config}");

    // A user edit around the block survives a reinstall.
    let edited = format!("{}echo after >&2\n", first[3]);
    std::fs::write(hooks.join("pre-push"), &edited).unwrap();
    w.crew_ok(&dir, &["install"]);
    assert_eq!(std::fs::read_to_string(hooks.join("pre-push")).unwrap(), edited);

    // core.hooksPath is where git looks, so that is where install writes.
    w.git(&dir, &["config", "core.hooksPath", "my-hooks"]);
    let out = w.crew_json(&dir, &["install"]);
    assert_eq!(out["hooks"][0].as_str().unwrap(), dir.join("my-hooks/pre-commit").to_str().unwrap(), "{out}");
    for name in CLIENT_HOOKS {
        assert_shim(&dir.join("my-hooks").join(name), name);
    }
}

#[test]
fn install_server_puts_pre_receive_in_a_bare_repository() {
    let w = World::new();
    let bare = w.bare("remote.git");
    let out = w.crew_json(&bare, &["install", "--server"]);
    let hook = bare.join("hooks/pre-receive");
    let fold = bare.join("hooks/proc-receive");
    let hooks = [hook.to_str().unwrap(), fold.to_str().unwrap()];
    assert_eq!(out, serde_json::json!({ "server": true, "merge_driver": false, "hooks": hooks }));
    let text = assert_shim(&hook, "pre-receive");
    assert_shim(&fold, "proc-receive");
    // git hands pushes to refs/crew/for/<branch> to proc-receive, and clones
    // learn that from the marker they fetch.
    assert_eq!(w.git(&bare, &["config", "receive.procReceiveRefs"]).trim(), "refs/crew/for");
    assert!(w.git(&bare, &["cat-file", "-p", "refs/crew/fold/v1"]).contains("refs/crew/for/<branch>"));
    for name in CLIENT_HOOKS {
        assert!(!bare.join("hooks").join(name).exists(), "{name} in a server repository");
    }
    assert!(!w.git_output(&bare, &["config", "merge.crew.driver"]).status.success(), "no driver on a server");
    w.crew_ok(&bare, &["install", "--server"]);
    assert_eq!(assert_shim(&hook, "pre-receive"), text, "idempotent");
}

// ---------------------------------------------------------------------------
// the merge driver

#[test]
fn merge_driver_follows_gits_contract() {
    let net = Net::new(false);
    let w = &net.w;
    let path = net.task_file();
    let base = w.git(&net.a, &["show", &format!("crew:{path}")]).into_bytes();
    let (r1, _) = net.receipt("alice", "first");
    let (r2, _) = net.receipt("bob", "second");
    let cat = |parts: &[&[u8]]| parts.concat();
    let tmp = w.path("merge");
    std::fs::create_dir_all(&tmp).unwrap();
    let (o, a, b) = (tmp.join("O"), tmp.join("A"), tmp.join("B"));
    let driver = |ours: &[u8], theirs: &[u8]| {
        std::fs::write(&o, &base).unwrap();
        std::fs::write(&a, ours).unwrap();
        std::fs::write(&b, theirs).unwrap();
        let args = ["merge-driver", o.to_str().unwrap(), a.to_str().unwrap(), b.to_str().unwrap(), &path];
        (w.crew(&net.a, &args), std::fs::read(&a).unwrap())
    };
    let union = cat(&[&base, &r1, &r2]);

    for (ours, theirs) in [(cat(&[&base, &r1]), cat(&[&base, &r2])), (cat(&[&base, &r2]), cat(&[&base, &r1]))] {
        let (run, merged) = driver(&ours, &theirs);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(String::from_utf8(merged).unwrap(), String::from_utf8(union.clone()).unwrap());
    }
    let (run, merged) = driver(&cat(&[&base, &r1]), &cat(&[&base, &r1]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(merged, cat(&[&base, &r1]), "idempotent");
    let (run, merged) = driver(&base, &cat(&[&base, &r1, &r2]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(merged, union, "one side unchanged: the other side wins");

    // A side that dropped a base record: refused, %A untouched.
    let ours = cat(&[&base, &r1]);
    let (run, merged) = driver(&ours, &r2);
    assert_ne!(run.code, 0, "a side without the base record must be refused");
    assert!(run.stderr.contains(&format!("git-crew refused to merge {path}")), "{}", run.stderr);
    assert!(run.stderr.contains("theirs version removed or edited record"), "{}", run.stderr);
    assert_eq!(merged, ours, "nothing written on refusal");

    // A side holding conflict markers is not a log file: refused too.
    let marked = cat(&[&base, b"<<<<<<< HEAD\n", &r1, b"=======\n", &r2, b">>>>>>> theirs\n"]);
    let (run, merged) = driver(&marked, &cat(&[&base, &r2]));
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("git conflict marker"), "{}", run.stderr);
    assert_eq!(merged, marked);
}

/// What [`concurrent_writes`] set up.
struct Concurrent {
    b: PathBuf,
    wt: PathBuf,
    before: String,
    receipt_a: String,
    receipt_b: String,
    task_a: String,
}

/// The concurrent-writes scenario shared by the pull tests: both clones start
/// from the same crew tip; `a` adds a task and a receipt (through its
/// post-commit hook), `b` (acting as bob) a receipt on the same task, so both
/// append to one task file. `a` pushes. Returns clone `b`, its worktree on
/// crew, and b's tip before pulling.
fn concurrent_writes(net: &Net, driver_in_b: bool) -> Concurrent {
    let w = &net.w;
    let b = net.clone("b", "bob");
    w.crew_ok(&net.a, &["install"]);
    w.crew_ok(&b, &["install"]);
    if !driver_in_b {
        // As in a clone that never ran install. (Unsetting only the driver
        // line leaves `merge.crew.name`, and git then stops with "custom merge
        // driver crew lacks command line" instead of merging.)
        w.git(&b, &["config", "--remove-section", "merge.crew"]);
    }
    let short = &net.task.hex()[..8];

    let out = w.crew_json(&net.a, &["task", "add", "Written in a"])["record"].clone();
    let task_a = out["id"].as_str().unwrap().to_owned();
    let done = net.commit_with_trailer(&net.a, "Work done in a", short);
    assert!(done.status.success(), "{}", stderr(&done));
    let done = net.commit_with_trailer(&b, "Work done in b", short);
    assert!(done.status.success(), "{}", stderr(&done));
    let (ra, rb) = (net.receipts(&net.a), net.receipts(&b));
    assert_eq!((ra.len(), rb.len()), (1, 1), "one receipt per clone: {ra:?} {rb:?}");
    assert_eq!(ra[0]["author"], "alice");
    assert_eq!(rb[0]["author"], "bob");

    // a publishes with plain git: its pre-push hook verifies what leaves.
    let pushed = w.git_output(&net.a, &["push", "-q", "origin", "crew"]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert_eq!(net.remote_tip(), w.tip(&net.a, "crew"));

    let before = w.tip(&b, "crew").unwrap();
    let wt = w.worktree(&b);
    Concurrent {
        b,
        wt,
        before,
        receipt_a: ra[0]["id"].as_str().unwrap().to_owned(),
        receipt_b: rb[0]["id"].as_str().unwrap().to_owned(),
        task_a,
    }
}

/// A plain `git pull` as a merge commit the branch accepts: made by an actor,
/// with the fixed merge message.
fn pull(w: &World, wt: &Path) -> Output {
    w.git(wt, &["fetch", "-q", "origin", "crew"]);
    let msg = git_crew::record::MERGE_MESSAGE.trim_end();
    let mut merge = std::process::Command::new("git");
    w.env(&mut merge);
    merge.current_dir(wt).envs([
        ("GIT_AUTHOR_NAME", "bob"),
        ("GIT_AUTHOR_EMAIL", "bob@crew"),
        ("GIT_COMMITTER_NAME", "bob"),
        ("GIT_COMMITTER_EMAIL", "bob@crew"),
    ]);
    merge.args(["merge", "-q", "--no-edit", "-m", msg, "FETCH_HEAD"]).output().unwrap()
}

/// After a clean pull in `c.wt`: the driver's merge commit holds every
/// record of both sides exactly once, but it joins two appends to one file
/// (both receipts are on one task), so `verify` and the server refuse it: a
/// receipt dated before one that was published would sort in front of it.
/// `git crew sync` is the way through: it replays b's work on top of what was
/// published (b's receipt re-made), pushes, and both clones agree.
fn assert_union_then_sync_publishes(net: &Net, c: &Concurrent) {
    let w = &net.w;
    let tip = w.tip(&c.b, "crew").unwrap();
    let parents = w.git(&c.b, &["rev-list", "--parents", "-n", "1", &tip]);
    assert_eq!(parents.split_whitespace().count(), 3, "a merge commit: {parents}");
    assert_eq!(w.git(&c.wt, &["status", "--porcelain"]), "", "clean work tree");
    let file = w.git(&c.b, &["show", &format!("crew:{}", net.task_file())]);
    assert!(!file.contains("<<<<<<<") && !file.contains("======="), "conflict markers:\n{file}");
    assert_eq!(file.matches("kind: \"receipt\"").count(), 2, "{file}");
    let run = w.crew(&c.b, &["verify"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("a file only grows at its end"), "{}", run.stderr);
    let pushed = w.git_output(&c.b, &["push", "--no-verify", "origin", "crew"]);
    assert!(!pushed.status.success(), "the server must refuse the merge");
    assert!(stderr(&pushed).contains("a file only grows at its end"), "{}", stderr(&pushed));

    let synced = w.crew_json(&c.b, &["sync"]);
    assert_eq!(synced["pushed"], true, "{synced}");
    assert_eq!(synced["dropped"], serde_json::json!([]), "{synced}");
    // b wrote its receipt after a's, so it goes on top as it is.
    assert_eq!(synced["remade"], serde_json::json!([]), "{synced}");
    assert_eq!(net.remote_tip(), w.tip(&c.b, "crew"));
    let parents = w.git(&c.b, &["rev-list", "--parents", "-n", "1", "crew"]);
    assert_eq!(parents.split_whitespace().count(), 2, "replayed, not merged: {parents}");
    w.crew_json(&net.a, &["sync"]);
    assert_eq!(w.tip(&net.a, "crew"), net.remote_tip());
    for dir in [&net.a, &c.b] {
        assert_eq!(w.crew_json(dir, &["verify"])["ok"], true);
        let ids: Vec<String> = net.receipts(dir).iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids.len(), 2, "both receipts, once each: {ids:?}");
        assert!(ids.contains(&c.receipt_a) && ids.contains(&c.receipt_b), "{ids:?}");
        let log = w.crew_json(dir, &["log"]);
        let count = |id: &str| log.as_array().unwrap().iter().filter(|r| r["id"] == id).count();
        assert_eq!(count(&c.task_a), 1, "a's task is on the branch once");
    }
}

#[test]
fn plain_git_pull_with_the_driver_merges_concurrent_writes() {
    let net = Net::new(true);
    let w = &net.w;
    let c = concurrent_writes(&net, true);
    let pulled = pull(w, &c.wt);
    assert!(pulled.status.success(), "git pull failed: {}{}", String::from_utf8_lossy(&pulled.stdout), stderr(&pulled));
    assert_union_then_sync_publishes(&net, &c);
}

/// Concurrent writes to different files merge with plain git and the driver
/// into a merge commit the branch accepts (the fixed message, by an actor).
#[test]
fn plain_git_merges_of_writes_to_different_files_verify_and_publish() {
    let net = Net::new(true);
    let w = &net.w;
    let b = net.clone("b", "bob");
    w.crew_ok(&b, &["install"]);
    w.crew_ok(&net.a, &["task", "add", "Written in a"]);
    let pushed = w.git_output(&net.a, &["push", "-q", "origin", "crew"]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    w.crew_ok(&b, &["--as", "bob", "task", "add", "Written in b"]);
    let wt = w.worktree(&b);
    let pulled = pull(w, &wt);
    assert!(pulled.status.success(), "{}", stderr(&pulled));
    assert_eq!(w.crew_json(&b, &["verify"])["ok"], true);
    let pushed = w.git_output(&b, &["push", "-q", "origin", "crew"]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert_eq!(net.remote_tip(), w.tip(&b, "crew"));
}

#[test]
fn plain_git_pull_without_the_driver_leaves_markers_that_verify_and_the_server_refuse() {
    let net = Net::new(true);
    let w = &net.w;
    let c = concurrent_writes(&net, false);
    let remote_before = net.remote_tip().unwrap();

    let pulled = pull(w, &c.wt);
    assert!(!pulled.status.success(), "without the driver git must conflict");
    let said = format!("{}{}", String::from_utf8_lossy(&pulled.stdout), stderr(&pulled));
    assert!(said.contains(&format!("CONFLICT (content): Merge conflict in {}", net.task_file())), "{said}");
    assert!(String::from_utf8(read_at(&c.wt, &net.task_file())).unwrap().contains("<<<<<<< "));
    // Commit the conflicted merge anyway.
    w.git(&c.wt, &["commit", "-q", "-a", "--no-edit", "--no-verify"]);
    let merge = head(w, &c.wt);

    let run = w.crew(&c.b, &["verify"]);
    assert_eq!(run.code, 4, "verify must refuse markers: {}{}", run.stdout, run.stderr);
    let line = format!("FAIL: commit {}: {}: ", &merge[..12], net.task_file());
    assert!(run.stderr.contains(&line) && run.stderr.contains(CONFLICT_MARKER), "{}", run.stderr);

    // b's own pre-push refuses first; past it, the server refuses.
    let pushed = w.git_output(&c.b, &["push", "origin", "crew"]);
    assert!(!pushed.status.success());
    assert!(stderr(&pushed).contains(CONFLICT_MARKER), "{}", stderr(&pushed));
    let pushed = w.git_output(&c.b, &["push", "--no-verify", "origin", "crew"]);
    assert!(!pushed.status.success(), "the server must refuse conflict markers");
    let said = stderr(&pushed);
    assert!(said.contains(&format!("{REFUSED}commit {}: {}: ", &merge[..12], net.task_file())), "{said}");
    assert!(said.contains(CONFLICT_MARKER), "{said}");
    assert_eq!(net.remote_tip().unwrap(), remote_before, "the remote is unchanged");

    // The same scenario with the driver configured merges the bytes cleanly,
    // and sync publishes b's work on top.
    w.git(&c.wt, &["reset", "-q", "--hard", &c.before]);
    w.crew_ok(&c.b, &["install"]);
    let pulled = pull(w, &c.wt);
    assert!(pulled.status.success(), "git pull failed: {}{}", String::from_utf8_lossy(&pulled.stdout), stderr(&pulled));
    assert_union_then_sync_publishes(&net, &c);
}

// ---------------------------------------------------------------------------
// pre-receive

/// What a refusal must name.
struct Expect {
    path: String,
    reason: String,
    record: Option<Id>,
    /// The commit to blame, when it is not the tip of the push.
    commit: Option<String>,
}

fn expect(path: impl Into<String>, reason: impl Into<String>, record: Option<Id>) -> Expect {
    Expect { path: path.into(), reason: reason.into(), record, commit: None }
}

/// A tamper case: change the worktree `wt` (on crew, at the remote's tip) and
/// say what the server must report. The runner commits with `git add -A`.
type Tamper = fn(&Net, &Path) -> Expect;

fn mallory() -> Keypair {
    Keypair::from_seed([66; 32])
}

const CASES: &[(&str, Tamper)] = &[
    ("edited byte", |n, wt| {
        let text = String::from_utf8(read_at(wt, &n.task_file())).unwrap();
        write_at(wt, &n.task_file(), text.replacen("login", "logon", 1).as_bytes());
        expect(n.task_file(), APPEND_ONLY, Some(n.task))
    }),
    ("deleted record", |n, wt| {
        // The file holds bob's task then alice's receipt: keep only the task.
        let bytes = read_at(wt, &n.task_file());
        let records = record::decode_file(&bytes, &n.ws).unwrap();
        let second = bytes.windows(4).rposition(|w| w == b"---\n").unwrap();
        write_at(wt, &n.task_file(), &bytes[..second]);
        expect(n.task_file(), APPEND_ONLY, Some(records[1].id))
    }),
    ("deleted file", |_, wt| {
        std::fs::remove_file(wt.join("actors/bob.yaml")).unwrap();
        expect("actors/bob.yaml", FILE_DELETED, None)
    }),
    ("deleted then restored", |n, wt| {
        let bytes = read_at(wt, "actors/bob.yaml");
        std::fs::remove_file(wt.join("actors/bob.yaml")).unwrap();
        n.w.commit_all(wt, "delete bob");
        let deleted = head(&n.w, wt);
        write_at(wt, "actors/bob.yaml", &bytes);
        Expect { commit: Some(deleted), ..expect("actors/bob.yaml", FILE_DELETED, None) }
    }),
    ("reordered records", |n, wt| {
        let bytes = read_at(wt, &n.task_file());
        let second = bytes.windows(4).rposition(|w| w == b"---\n").unwrap();
        write_at(wt, &n.task_file(), &[&bytes[second..], &bytes[..second]].concat());
        expect(n.task_file(), OUT_OF_ORDER, None)
    }),
    ("duplicated record", |_, wt| {
        let bytes = read_at(wt, "actors/bob.yaml");
        append_at(wt, "actors/bob.yaml", &bytes);
        expect("actors/bob.yaml", OUT_OF_ORDER, None)
    }),
    ("record dropped by a merge", |n, wt| {
        // A side commit adds a receipt; a merge made with `-s ours` drops it.
        let (lost, lost_id) = n.receipt("bob", "lost in the merge");
        append_at(wt, &n.task_file(), &lost);
        n.w.commit_all(wt, "side");
        let side = head(&n.w, wt);
        n.w.git(wt, &["reset", "-q", "--hard", "HEAD~1"]);
        append_at(wt, &n.task_file(), &n.receipt("alice", "kept").0);
        n.w.commit_all(wt, "main line");
        n.w.git(wt, &["merge", "-q", "-s", "ours", "--no-edit", "--no-verify", &side]);
        let merge = head(&n.w, wt);
        // Something honest on top, for the runner to commit.
        append_at(wt, &n.task_file(), &n.receipt("alice", "on top").0);
        Expect { commit: Some(merge), ..expect(n.task_file(), APPEND_ONLY, Some(lost_id)) }
    }),
    ("unadmitted key", |n, wt| {
        let (bytes, id) = n.task_record("mallory", &mallory(), "Ship it");
        let path = place_at(wt, (bytes, id));
        let reason = "task.create by \"mallory\" does not count: author \"mallory\" is not an admitted actor";
        expect(path, reason, Some(id))
    }),
    ("admitted name, foreign key", |n, wt| {
        let (bytes, id) = n.task_record("bob", &mallory(), "Pretend to be bob");
        let path = place_at(wt, (bytes, id));
        let reason = format!(
            "task.create by \"bob\" does not count: record by \"bob\" is signed with key {}, which is not bob's current key",
            mallory().public().fingerprint()
        );
        expect(path, reason, Some(id))
    }),
    ("non-admin admitting", |n, wt| {
        let payload = Payload::ActorAdmit(ActorAdmit {
            name: "carol".into(),
            role: Role::Agent,
            key: Keypair::from_seed([5; 32]).public(),
            owner: Some("alice".into()),
            proof: None,
        });
        let body = record::body("bob", n.at(), &payload).unwrap();
        let (bytes, id) = record::seal(&n.ws, "actor.admit", &body, &n.key("bob"));
        write_at(wt, "actors/carol.yaml", &bytes);
        let reason = "actor.admit by \"bob\" does not count: \"bob\" may not admit \"carol\": admin only";
        expect("actors/carol.yaml", reason, Some(id))
    }),
    ("second genesis", |n, wt| {
        let m = mallory();
        let payload = Payload::Genesis(Genesis { workspace: "again".into(), nonce: "00".repeat(16), key: m.public() });
        let body = record::body("mallory", n.at(), &payload).unwrap();
        let (bytes, id) = record::seal(&Id::ZERO, "crew.genesis", &body, &m);
        append_at(wt, "CREW.yaml", &bytes);
        expect("CREW.yaml", "crew.genesis by \"mallory\" does not count: genesis record out of place", Some(id))
    }),
    ("record from another workspace", |n, wt| {
        let (other, _) = n.w.workspace("other");
        let out = n.w.crew_json(&other, &["task", "add", "From elsewhere"])["record"].clone();
        let foreign: Id = out["id"].as_str().unwrap().parse().unwrap();
        let path = layout::task_path(&foreign);
        write_at(wt, &path, n.w.git(&other, &["show", &format!("crew:{path}")]).as_bytes());
        expect(path, BAD_SIGNATURE, None)
    }),
    ("conflict markers", |n, wt| {
        let (ours, _) = n.task_record("bob", &n.key("bob"), "Ours");
        let (theirs, _) = n.task_record("alice", &n.key("alice"), "Theirs");
        let marked = [&b"<<<<<<< HEAD\n"[..], &ours, b"=======\n", &theirs, b">>>>>>> side\n"].concat();
        append_at(wt, &n.task_file(), &marked);
        expect(n.task_file(), CONFLICT_MARKER, None)
    }),
    ("duplicate key", |n, wt| {
        let path = place_at(wt, n.raw_task("bob", &n.key("bob"), "title: \"One\"\ntitle: \"Two\"\npriority: 2\n"));
        expect(path, "duplicate entry with key \"title\"", None)
    }),
    ("alias", |n, wt| {
        let path = place_at(wt, n.raw_task("bob", &n.key("bob"), "title: \"One\"\nbody: *t\npriority: 2\n"));
        expect(path, "YAML alias (`*`) not allowed", None)
    }),
    ("non-canonical", |n, wt| {
        let path = place_at(wt, n.raw_task("bob", &n.key("bob"), "title: Plain\npriority: 2\n"));
        expect(path, NON_CANONICAL, None)
    }),
    ("file outside the layout", |_, wt| {
        write_at(wt, "notes.txt", b"hello\n");
        expect("notes.txt", OUTSIDE_LAYOUT, None)
    }),
    ("changed .gitattributes", |_, wt| {
        write_at(wt, ".gitattributes", b"* -text\n");
        expect(".gitattributes", "`.gitattributes` differs from the fixed content", None)
    }),
    ("executable bit", |n, wt| {
        std::fs::set_permissions(wt.join(n.task_file()), std::fs::Permissions::from_mode(0o755)).unwrap();
        expect(n.task_file(), format!("mode 100755 {MODE}"), None)
    }),
    ("symlink", |_, wt| {
        symlink("bob.yaml", wt.join("actors/zed.yaml")).unwrap();
        expect("actors/zed.yaml", format!("mode 120000 {MODE}"), None)
    }),
    ("submodule", |n, wt| {
        // An uninitialised submodule: a gitlink in the index, an empty directory.
        std::fs::create_dir_all(wt.join("actors/sub.yaml")).unwrap();
        let gitlink = format!("160000,{},actors/sub.yaml", head(&n.w, wt));
        n.w.git(wt, &["update-index", "--add", "--cacheinfo", &gitlink]);
        expect("actors/sub.yaml", format!("mode 160000 {MODE}"), None)
    }),
    ("record in the wrong file", |n, wt| {
        let (bytes, id) = n.task_record("bob", &n.key("bob"), "Lives elsewhere");
        append_at(wt, &n.task_file(), &bytes);
        expect(n.task_file(), format!("record belongs in {}, not here", layout::task_path(&id)), Some(id))
    }),
    ("record an hour in the future", |n, wt| {
        let at = Hlc { ms: Hlc::now().ms + 3_600_000, counter: 0 };
        let payload = Payload::TaskCreate(TaskCreate {
            title: "Later".into(),
            body: None,
            labels: vec![],
            priority: 2,
            ..Default::default()
        });
        let (r, bytes) = record::encode(&n.ws, "alice", at, payload, &n.key("alice")).unwrap();
        let path = place_at(wt, (bytes, r.id));
        expect(path, format!("record dated {at}, "), Some(r.id))
    }),
];

/// Push crew from `dir` to origin; it must be refused by the server hook for
/// `e`, leaving the remote at `remote_tip`.
fn assert_refused(net: &Net, dir: &Path, case: &str, blamed: &str, e: &Expect, remote_tip: &str) {
    let out = net.w.git_output(dir, &["push", "--no-verify", "origin", "crew"]);
    let said = stderr(&out);
    assert!(!out.status.success(), "{case}: push accepted:\n{said}");
    assert!(said.contains("pre-receive hook declined"), "{case}: {said}");
    let named = format!("{REFUSED}commit {}: {}: ", &blamed[..12], e.path);
    assert!(said.contains(&named), "{case}: stderr lacks {named:?}:\n{said}");
    assert!(
        said.lines().any(|l| l.contains(REFUSED) && l.contains(&e.reason)),
        "{case}: no reason {:?}:\n{said}",
        e.reason
    );
    if let Some(id) = e.record {
        assert!(said.contains(&format!("record {}: ", &id.hex()[..8])), "{case}: record not named:\n{said}");
    }
    assert_eq!(net.remote_tip().as_deref(), Some(remote_tip), "{case}: the remote moved");
}

#[test]
fn server_hook_refuses_every_tamper_case_and_keeps_the_remote() {
    let net = Net::new(true);
    let w = &net.w;
    let wt = w.worktree(&net.a);
    // An honest push through the server hook, with plain git: alice's receipt
    // on bob's task, so the task file holds two records.
    let (receipt, _) = net.receipt("alice", "reviewed");
    append_at(&wt, &net.task_file(), &receipt);
    w.commit_all(&wt, "receipt by hand");
    let pushed = w.git_output(&net.a, &["push", "-q", "origin", "crew"]);
    assert!(pushed.status.success(), "an honest push must be accepted: {}", stderr(&pushed));
    let base = net.remote_tip().unwrap();
    assert_eq!(Some(base.clone()), w.tip(&net.a, "crew"));

    for (case, tamper) in CASES {
        w.git(&wt, &["reset", "-q", "--hard", &base]);
        w.git(&wt, &["clean", "-q", "-f", "-d", "-x"]);
        let e = tamper(&net, &wt);
        w.commit_all(&wt, case);
        let blamed = e.commit.clone().unwrap_or_else(|| head(w, &wt));
        assert_refused(&net, &net.a, case, &blamed, &e, &base);
    }

    // History rewritten under the remote: refused even when forced.
    w.git(&wt, &["reset", "-q", "--hard", &base]);
    w.git(&wt, &["commit", "-q", "--amend", "--no-verify", "-m", "rewritten"]);
    let out = w.git_output(&net.a, &["push", "-f", "--no-verify", "origin", "crew"]);
    assert!(!out.status.success(), "forced push accepted");
    assert!(stderr(&out).contains("refusing a non-fast-forward update of refs/heads/crew"), "{}", stderr(&out));
    assert_eq!(net.remote_tip().unwrap(), base);

    // Deleting the branch: refused.
    let out = w.git_output(&net.a, &["push", "--no-verify", "origin", ":crew"]);
    assert!(!out.status.success(), "deletion accepted");
    assert!(stderr(&out).contains("refusing to delete refs/heads/crew"), "{}", stderr(&out));
    assert_eq!(net.remote_tip().unwrap(), base);

    // A tampered history pushed to an empty remote is refused as a whole.
    let fresh = w.bare("fresh.git");
    w.crew_ok(&fresh, &["install", "--server"]);
    w.git(&wt, &["reset", "-q", "--hard", &base]);
    write_at(&wt, "notes.txt", b"hello\n");
    w.commit_all(&wt, "stray file");
    let stray = head(w, &wt);
    let out = w.git_output(&net.a, &["push", "--no-verify", fresh.to_str().unwrap(), "crew"]);
    assert!(!out.status.success(), "tampered first push accepted");
    let named = format!("{REFUSED}commit {}: notes.txt: {OUTSIDE_LAYOUT}", &stray[..12]);
    assert!(stderr(&out).contains(&named), "{}", stderr(&out));
    assert_eq!(w.tip(&fresh, "crew"), None);
    // So is a history git crew did not create.
    let plain = w.repo("plain");
    w.git(&plain, &["commit", "-q", "--allow-empty", "-m", "not a workspace"]);
    let root = head(w, &plain);
    let out = w.git_output(&plain, &["push", fresh.to_str().unwrap(), "main:crew"]);
    assert!(!out.status.success(), "a foreign history accepted as crew");
    let named = format!("{REFUSED}commit {}: CREW.yaml: the first commit has no CREW.yaml", &root[..12]);
    assert!(stderr(&out).contains(&named), "{}", stderr(&out));
    assert_eq!(w.tip(&fresh, "crew"), None);

    // Other branches are not the hook's business.
    let out = w.git_output(&net.a, &["push", "-q", "--no-verify", "origin", "crew:refs/heads/scratch"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // After all that, an honest write through the CLI still syncs.
    w.git(&wt, &["reset", "-q", "--hard", &base]);
    let written = w.crew_json(&net.a, &["task", "add", "Still fine"]);
    assert_eq!(written["published"], true, "{written}");
    assert_eq!(net.remote_tip(), w.tip(&net.a, "crew"));
}

// ---------------------------------------------------------------------------
// commit-msg, post-commit, pre-push

#[test]
fn hooks_leave_ordinary_work_alone_in_a_repository_without_a_workspace() {
    let w = World::new();
    let dir = w.repo("plain");
    let remote = w.bare("remote.git");
    w.crew_ok(&dir, &["install"]);
    w.crew_ok(&remote, &["install", "--server"]);
    let out = w.git_output(&dir, &["commit", "-q", "--allow-empty", "-m", "Ordinary work"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no noise from the hooks");
    let out = w.git_output(&dir, &["commit", "-q", "--allow-empty", "-m", "Claims a task\n\nCrew-Task: 1234abcd"]);
    assert!(!out.status.success(), "a trailer needs a workspace with that task");
    assert!(stderr(&out).contains("no workspace on branch"), "{}", stderr(&out));
    let out = w.git_output(&dir, &["push", "-q", remote.to_str().unwrap(), "main"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.tip(&remote, "main"), w.tip(&dir, "main"));
}

#[test]
fn commit_msg_checks_the_trailer_and_post_commit_records_a_receipt() {
    let net = Net::new(false);
    let w = &net.w;
    w.crew_ok(&net.a, &["install"]);
    let short = &net.task.hex()[..8];

    let bad = net.commit_with_trailer(&net.a, "Nothing to see", "deadbeef");
    assert!(!bad.status.success(), "an unknown task must fail the commit");
    assert!(stderr(&bad).contains("Crew-Task: deadbeef"), "{}", stderr(&bad));
    assert!(w.git_output(&net.a, &["rev-parse", "--verify", "-q", "HEAD"]).stdout.is_empty(), "no commit made");
    assert!(net.receipts(&net.a).is_empty());

    let good = net.commit_with_trailer(&net.a, "Fix the redirect", short);
    assert!(good.status.success(), "{}", stderr(&good));
    let commit = head(w, &net.a);
    let receipts = net.receipts(&net.a);
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    let r = &receipts[0];
    assert_eq!(r["author"], "alice", "{r}");
    assert_eq!(r["task"], net.task.hex(), "{r}");
    assert_eq!(r["fields"]["class"], "commit", "{r}");
    assert_eq!(r["fields"]["commits"], serde_json::json!([commit]), "{r}");
    assert_eq!(r["fields"]["summary"], "Fix the redirect", "{r}");
    let shown = w.crew_json(&net.a, &["task", "show", short]);
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["id"], r["id"], "{shown}");

    // A commit without a trailer passes and records nothing.
    w.git(&net.a, &["commit", "-q", "--allow-empty", "-m", "Unrelated"]);
    assert_eq!(net.receipts(&net.a).len(), 1);

    // pre-push lets honest pushes of crew and other branches through.
    let out = w.git_output(&net.a, &["push", "-q", "origin", "crew", "main"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(net.remote_tip(), w.tip(&net.a, "crew"));
}

#[test]
fn pre_push_refuses_a_tampered_crew_before_it_leaves() {
    let net = Net::new(false);
    let w = &net.w;
    w.crew_ok(&net.a, &["install"]);
    let base = net.remote_tip().unwrap();
    let wt = w.worktree(&net.a);
    let (bytes, id) = net.task_record("mallory", &mallory(), "Ship it");
    let path = place_at(&wt, (bytes, id));
    w.commit_all(&wt, "mallory was here");
    let tampered = head(w, &wt);

    let out = w.git_output(&net.a, &["push", "origin", "crew"]);
    let said = stderr(&out);
    assert!(!out.status.success(), "pre-push must refuse:\n{said}");
    assert!(said.contains("verification failed"), "{said}");
    assert!(said.contains(&format!("commit {}: {path}: ", &tampered[..12])), "{said}");
    assert!(said.contains("author \"mallory\" is not an admitted actor"), "{said}");
    assert!(said.contains("failed to push"), "{said}");
    assert_eq!(net.remote_tip().unwrap(), base, "refused before reaching the remote");

    // Edited bytes are refused too.
    w.git(&wt, &["reset", "-q", "--hard", &base]);
    let text = String::from_utf8(read_at(&wt, &net.task_file())).unwrap();
    write_at(&wt, &net.task_file(), text.replacen("login", "logon", 1).as_bytes());
    w.commit_all(&wt, "typo");
    let out = w.git_output(&net.a, &["push", "origin", "crew"]);
    assert!(!out.status.success(), "pre-push must refuse an edited record");
    assert!(stderr(&out).contains(&net.task_file()), "{}", stderr(&out));
    assert_eq!(net.remote_tip().unwrap(), base);

    // The remote itself has no hook: bypassing pre-push lands the push, which
    // shows the refusal above was local.
    let out = w.git_output(&net.a, &["push", "-q", "--no-verify", "origin", "crew"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(net.remote_tip(), w.tip(&net.a, "crew"));
}

/// `pre-push` trusts the state at the remote's old tip, never the local tip
/// being pushed: a tampered local tip gets the same located failure as `verify`
/// ("commit <id>: <file>: record <id>: …"), not a bare decoding error.
#[test]
fn pre_push_refusal_names_the_commit_like_verify() {
    let net = Net::new(false);
    let w = &net.w;
    w.crew_ok(&net.a, &["install"]);
    let wt = w.worktree(&net.a);
    let text = String::from_utf8(read_at(&wt, &net.task_file())).unwrap();
    write_at(&wt, &net.task_file(), text.replacen("login", "logon", 1).as_bytes());
    w.commit_all(&wt, "typo");
    let tampered = head(w, &wt);
    let verify = w.crew(&net.a, &["verify"]);
    assert_eq!(verify.code, 4);
    let named = format!("commit {}: {}: record {}: {APPEND_ONLY}", &tampered[..12], net.task_file(), net.task.short());
    assert!(verify.stderr.contains(&named), "{}", verify.stderr);
    let out = w.git_output(&net.a, &["push", "origin", "crew"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&named), "pre-push should name the commit like verify:\n{}", stderr(&out));
}

/// For a forge that runs no hooks, `install --ci` writes the job that runs
/// `git crew verify` on every push to the branch; it is valid YAML and
/// triggers only on `crew`; writing it again is a no-op, over a different
/// file it refuses.
#[test]
fn install_ci_writes_a_verify_job_for_forges_without_hooks() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    for (forge, rel) in [("github", ".github/workflows/crew-verify.yml"), ("gitlab", ".gitlab/crew-verify.yml")] {
        let out = w.crew_json(&dir, &["install", "--ci", forge]);
        assert!(out["path"].as_str().unwrap().ends_with(rel), "{out}");
        let text = std::fs::read_to_string(dir.join(rel)).unwrap();
        let yaml: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        assert!(text.contains("git crew verify"), "{text}");
        match forge {
            "github" => {
                let on = &yaml["on"]["push"]["branches"];
                assert_eq!(on, &serde_norway::Value::Sequence(vec!["crew".into()]), "{text}");
            }
            _ => assert!(text.contains(r#"$CI_COMMIT_BRANCH == "crew""#), "{text}"),
        }
        w.crew_json(&dir, &["install", "--ci", forge]);
        std::fs::write(dir.join(rel), "mine\n").unwrap();
        let run = w.crew(&dir, &["install", "--ci", forge]);
        assert_eq!(run.code, 1, "{run:?}");
        assert_eq!(std::fs::read_to_string(dir.join(rel)).unwrap(), "mine\n");
    }
}
