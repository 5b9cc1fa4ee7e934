//! Tamper tests: the crew branch is changed with plain git in a worktree, and
//! `git crew verify` must refuse the result with exit 4, naming the commit, the
//! file and (where one record is to blame) the record, in text on stderr and,
//! with `--json`, as the one error object on stderr,
//! `{"error": {"code": "verify", "exit": 4, …, "failures": […]}}`.
//!
//! Validly signed but bad records are built with the library (`record::body` or
//! a hand-written body, then `record::seal`), so each test trips exactly one
//! check instead of the signature. `crafted_records_verify_when_valid` is the
//! control: the same helpers produce records that verify.

use std::path::PathBuf;

use git_crew::hlc::Hlc;
use git_crew::id::Id;
use git_crew::layout;
use git_crew::record::kinds::{ActorAdmit, Genesis};
use git_crew::record::{self, Payload, Role};
use git_crew::sign::Keypair;
use serde_json::Value;

use crate::common::{append_at, place_at, read_at, write_at, Craft, Run, World};

/// Title of bob's task, created through the CLI in every bench.
const TITLE: &str = "Fix the login page";

const APPEND_ONLY: &str = "record removed or edited: log files are append-only";
const FILE_DELETED: &str = "file deleted: log files are append-only";
const BAD_SIGNATURE: &str = "signature does not verify (record edited, forged, or copied from another workspace)";
const OUT_OF_ORDER: &str = "records out of order (a log file is sorted by at, then id)";
const OUTSIDE_LAYOUT: &str = "file outside the workspace layout";
const NON_CANONICAL: &str = "not in canonical encoding (see schema/SIGNING.md)";
const CONFLICT_MARKER: &str = "git conflict marker (merged without the crew merge driver: run `git crew install`)";

/// A workspace (admin alice, agent bob, one task by bob) with the crew branch
/// checked out in a worktree for tampering.
struct Bench {
    w: World,
    dir: PathBuf,
    ws: Id,
    wt: PathBuf,
    /// bob's task.
    task: Id,
    /// Crafted records, stamped after everything the CLI wrote.
    craft: Craft,
}

impl std::ops::Deref for Bench {
    type Target = Craft;
    fn deref(&self) -> &Craft {
        &self.craft
    }
}

impl Bench {
    fn new() -> Bench {
        let w = World::new();
        let (dir, ws) = w.workspace("r");
        w.agent(&dir, "bob");
        let out = w.crew_json(&dir, &["--as", "bob", "task", "add", TITLE, "--label", "web"])["record"].clone();
        let task: Id = out["id"].as_str().unwrap().parse().unwrap();
        // Warm the index cache, so reads after tampering take its catch-up path.
        w.crew_ok(&dir, &["task", "list"]);
        let wt = w.worktree(&dir);
        Bench { w, dir, ws, wt, task, craft: Craft::new(ws, 60_000) }
    }

    fn key(&self, name: &str) -> Keypair {
        self.w.key(&self.ws, name)
    }

    fn task_file(&self) -> String {
        layout::task_path(&self.task)
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        read_at(&self.wt, rel)
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        write_at(&self.wt, rel, bytes)
    }

    fn append(&self, rel: &str, bytes: &[u8]) {
        append_at(&self.wt, rel, bytes)
    }

    /// Commit everything in the worktree with plain git; the new tip.
    fn commit(&self, message: &str) -> String {
        self.w.commit_all(&self.wt, message);
        self.head()
    }

    fn head(&self) -> String {
        self.w.git(&self.wt, &["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// A canonical `actor.admit` of `name` as an agent owned by alice, signed by `author`.
    fn admit_record(&self, author: &str, key: &Keypair, name: &str) -> (Vec<u8>, Id) {
        let new_key = Keypair::from_seed([name.len() as u8; 32]).public();
        let payload = Payload::ActorAdmit(ActorAdmit {
            name: name.into(),
            role: Role::Agent,
            key: new_key,
            owner: Some("alice".into()),
            proof: None,
        });
        let body = record::body(author, self.at(), &payload).unwrap();
        record::seal(&self.ws, "actor.admit", &body, key)
    }

    /// Write a sealed `task.create` to the file the layout gives its id; the path.
    fn place(&self, record: (Vec<u8>, Id)) -> String {
        place_at(&self.wt, record)
    }

    fn crew(&self, args: &[&str]) -> Run {
        self.w.crew(&self.dir, args)
    }

    /// Run `verify` (`--all` if asked) as text and as JSON: both must exit 4
    /// and report the same failures.
    fn refused(&self, all: bool) -> Refused {
        let mut args = vec!["verify"];
        if all {
            args.push("--all");
        }
        let text = self.crew(&args);
        assert_eq!(text.code, 4, "{args:?} should exit 4\nstdout: {}\nstderr: {}", text.stdout, text.stderr);
        assert!(text.stderr.contains("verification failed"), "stderr: {}", text.stderr);
        let mut json_args = vec!["--json"];
        json_args.extend_from_slice(&args);
        let json = self.crew(&json_args);
        assert_eq!(json.code, 4, "{json_args:?} should exit 4\nstderr: {}", json.stderr);
        assert!(json.stdout.is_empty(), "{json_args:?} printed on stdout: {}", json.stdout);
        let v: Value = serde_json::from_str(&json.stderr)
            .unwrap_or_else(|e| panic!("{json_args:?}: stderr is not one JSON object ({e}): {}", json.stderr));
        assert_eq!(v["error"]["code"], "verify", "{v}");
        let failures = v["error"]["failures"].as_array().unwrap_or_else(|| panic!("no failures array: {v}")).clone();
        assert!(!failures.is_empty());
        assert_eq!(
            text.stderr.matches("FAIL: ").count(),
            failures.len(),
            "text and JSON disagree:\n{}\n{v:#}",
            text.stderr
        );
        if !all {
            assert_eq!(failures.len(), 1, "plain verify stops at the first failure: {v:#}");
        }
        Refused { failures, stderr: text.stderr }
    }

    /// `verify` exits 0; the JSON report.
    fn verified(&self) -> Value {
        let v = self.w.crew_json(&self.dir, &["verify", "--all"]);
        assert_eq!(v["ok"], Value::Bool(true), "{v}");
        v["report"].clone()
    }

    /// A read command refuses the tip with exit 4 and a message containing `reason`.
    fn read_refused(&self, reason: &str) {
        let run = self.crew(&["task", "list"]);
        assert_eq!(run.code, 4, "task list should refuse the tip\nstdout: {}\nstderr: {}", run.stdout, run.stderr);
        assert!(run.stderr.contains(reason), "task list stderr lacks {reason:?}: {}", run.stderr);
    }

    /// Titles on the board.
    fn titles(&self) -> Vec<String> {
        let v = self.w.crew_json(&self.dir, &["task", "list"]);
        v.as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect()
    }
}

/// The failures of a refused verification, as JSON, and its text output.
struct Refused {
    failures: Vec<Value>,
    stderr: String,
}

impl Refused {
    /// The failure introduced by `commit` in `path` whose reason contains
    /// `reason`, also shown on stderr; panics listing every failure otherwise.
    fn find(&self, commit: &str, path: Option<&str>, reason: &str) -> &Value {
        let found = self.failures.iter().find(|f| {
            f["commit"].as_str() == Some(commit)
                && f["path"].as_str() == path
                && f["reason"].as_str().is_some_and(|r| r.contains(reason))
        });
        let f = found.unwrap_or_else(|| {
            panic!(
                "no failure in commit {commit}, path {path:?}, reason containing {reason:?}; got {:#?}",
                self.failures
            )
        });
        let mut prefix = format!("FAIL: commit {}: ", &commit[..12]);
        if let Some(p) = path {
            prefix.push_str(&format!("{p}: "));
        }
        assert!(
            self.stderr.lines().any(|l| l.starts_with(&prefix) && l.contains(reason)),
            "stderr lacks a line `{prefix}…{reason}`:\n{}",
            self.stderr
        );
        f
    }

    /// Like [`Refused::find`], and the failure names `record`.
    fn find_record(&self, commit: &str, path: &str, reason: &str, record: &Id) -> &Value {
        let f = self.find(commit, Some(path), reason);
        assert_eq!(f["record"].as_str(), Some(record.hex().as_str()), "{f:#}");
        assert!(self.stderr.contains(&format!("record {}: ", &record.hex()[..8])), "{}", self.stderr);
        f
    }
}

#[test]
fn crafted_records_verify_when_valid() {
    let b = Bench::new();
    b.place(b.task_record("bob", &b.key("bob"), "Crafted but valid"));
    b.commit("a valid record written by hand");
    let (bytes, _) = b.admit_record("alice", &b.key("alice"), "carol");
    b.write("actors/carol.yaml", &bytes);
    b.commit("another, by another actor: a commit holds one actor's records");
    let report = b.verified();
    assert_eq!(report["records"], 5, "{report}");
    assert_eq!(report["commits"], 5, "{report}");
    let mut titles = b.titles();
    titles.sort();
    assert_eq!(titles, vec!["Crafted but valid".to_owned(), TITLE.to_owned()]);
}

#[test]
fn one_edited_byte_is_an_append_only_violation() {
    let b = Bench::new();
    let path = b.task_file();
    let text = String::from_utf8(b.read(&path)).unwrap();
    assert!(text.contains("login"));
    b.write(&path, text.replacen("login", "logon", 1).as_bytes());
    let commit = b.commit("typo");
    let r = b.refused(false);
    let f = r.find_record(&commit, &path, APPEND_ONLY, &b.task);
    assert_eq!(f["offset"], Value::Null);
    // The tip is refused by reads too: the edited record no longer verifies.
    b.read_refused(BAD_SIGNATURE);
}

#[test]
fn history_rewritten_with_an_edited_record_fails_its_signature() {
    // Amending the commit that created the task hides the edit from the
    // append-only check; the signature still catches it.
    let b = Bench::new();
    let path = b.task_file();
    let text = String::from_utf8(b.read(&path)).unwrap();
    b.write(&path, text.replacen("priority: 2", "priority: 0", 1).as_bytes());
    b.w.git(&b.wt, &["commit", "-q", "-a", "--amend", "--no-edit", "--no-verify"]);
    let commit = b.head();
    let r = b.refused(false);
    let f = r.find(&commit, Some(&path), BAD_SIGNATURE);
    assert_eq!(f["offset"], 0);
    b.read_refused(BAD_SIGNATURE);
}

#[test]
fn history_rewritten_without_an_admission_leaves_records_that_do_not_count() {
    let b = Bench::new();
    // Drop the commit admitting bob: his task is replayed onto the genesis.
    b.w.git(&b.wt, &["rebase", "-q", "--onto", "HEAD~2", "HEAD~1"]);
    let commit = b.head();
    let r = b.refused(false);
    let reason = "task.create by \"bob\" does not count: author \"bob\" is not an admitted actor";
    r.find_record(&commit, &b.task_file(), reason, &b.task);
    assert!(b.titles().is_empty(), "the fold ignores bob's task");
}

#[test]
fn deleted_file_is_an_append_only_violation() {
    let b = Bench::new();
    std::fs::remove_file(b.wt.join(b.task_file())).unwrap();
    let commit = b.commit("remove task");
    let r = b.refused(false);
    let f = r.find(&commit, Some(&b.task_file()), FILE_DELETED);
    assert_eq!(f["record"], Value::Null);
}

#[test]
fn truncated_files_are_refused() {
    let b = Bench::new();
    let bob_admit = record::decode_file(&b.read("actors/bob.yaml"), &b.ws).unwrap()[0].id;
    b.write("actors/bob.yaml", b"");
    let path = b.task_file();
    let bytes = b.read(&path);
    b.write(&path, &bytes[..bytes.len() - 20]);
    let commit = b.commit("truncate");
    let r = b.refused(true);
    assert_eq!(r.failures.len(), 2, "{:#?}", r.failures);
    r.find_record(&commit, "actors/bob.yaml", APPEND_ONLY, &bob_admit);
    let f = r.find(&commit, Some(&path), "file does not end with a newline (truncated?)");
    assert_eq!(f["offset"], bytes.len() - 20);
    b.read_refused("does not end with a newline");
}

#[test]
fn reordered_records_are_refused() {
    // No kind legitimately shares a file yet, so the two-record file is a
    // second admission of carol: it does not count (carol exists), which is a
    // separate failure of the first commit. Swapping the two records in a later
    // commit must be reported against that commit.
    let b = Bench::new();
    b.w.agent(&b.dir, "carol");
    b.w.git(&b.wt, &["reset", "-q", "--hard", "crew"]);
    let (second, second_id) = b.admit_record("alice", &b.key("alice"), "carol");
    b.append("actors/carol.yaml", &second);
    let appended = b.commit("admit carol again");
    let both = b.read("actors/carol.yaml");
    let split = both.len() - second.len();
    let mut swapped = second.clone();
    swapped.extend_from_slice(&both[..split]);
    b.write("actors/carol.yaml", &swapped);
    let swap = b.commit("swap");

    let r = b.refused(false);
    let f = r.find(&swap, Some("actors/carol.yaml"), OUT_OF_ORDER);
    assert_eq!(f["offset"], second.len(), "the offset of the record out of place");

    let r = b.refused(true);
    assert_eq!(r.failures.len(), 2, "{:#?}", r.failures);
    r.find(&swap, Some("actors/carol.yaml"), OUT_OF_ORDER);
    let reason = "actor.admit by \"alice\" does not count: actor \"carol\" already exists";
    r.find_record(&appended, "actors/carol.yaml", reason, &second_id);
    b.read_refused(OUT_OF_ORDER);
}

#[test]
fn duplicated_record_is_out_of_order() {
    let b = Bench::new();
    let path = b.task_file();
    let bytes = b.read(&path);
    b.append(&path, &bytes);
    let commit = b.commit("twice");
    let r = b.refused(false);
    let f = r.find(&commit, Some(&path), OUT_OF_ORDER);
    assert_eq!(f["offset"], bytes.len());
    b.read_refused(OUT_OF_ORDER);
}

#[test]
fn records_by_unadmitted_authors_or_wrong_keys_do_not_count() {
    let b = Bench::new();
    let mallory = Keypair::from_seed([66; 32]);
    let (bytes, by_mallory) = b.task_record("mallory", &mallory, "Ship it");
    let mallory_path = b.place((bytes, by_mallory));
    let (bytes, forged) = b.task_record("bob", &mallory, "Pretend to be bob");
    let forged_path = b.place((bytes, forged));
    let commit = b.commit("records nobody may write");

    let r = b.refused(true);
    assert_eq!(r.failures.len(), 2, "{:#?}", r.failures);
    let reason = "task.create by \"mallory\" does not count: author \"mallory\" is not an admitted actor";
    r.find_record(&commit, &mallory_path, reason, &by_mallory);
    let reason = format!(
        "task.create by \"bob\" does not count: record by \"bob\" is signed with key {}, which is not bob's current key",
        mallory.public().fingerprint()
    );
    r.find_record(&commit, &forged_path, &reason, &forged);
    // Reads accept the tip but count neither record.
    assert_eq!(b.titles(), vec![TITLE.to_owned()]);
}

#[test]
fn non_admin_cannot_admit() {
    let b = Bench::new();
    let (bytes, id) = b.admit_record("bob", &b.key("bob"), "carol");
    b.write("actors/carol.yaml", &bytes);
    let commit = b.commit("bob admits carol");
    let r = b.refused(false);
    let reason = "actor.admit by \"bob\" does not count: \"bob\" may not admit \"carol\": admin only";
    r.find_record(&commit, "actors/carol.yaml", reason, &id);
}

#[test]
fn second_genesis_does_not_count() {
    let b = Bench::new();
    let mallory = Keypair::from_seed([66; 32]);
    let payload =
        Payload::Genesis(Genesis { workspace: "again".into(), nonce: "00".repeat(16), key: mallory.public() });
    let body = record::body("mallory", b.at(), &payload).unwrap();
    let (bytes, id) = record::seal(&Id::ZERO, "crew.genesis", &body, &mallory);
    b.append("CREW.yaml", &bytes);
    let commit = b.commit("second genesis");
    let r = b.refused(false);
    let reason = "crew.genesis by \"mallory\" does not count: genesis record out of place";
    r.find_record(&commit, "CREW.yaml", reason, &id);
}

#[test]
fn record_copied_from_another_workspace_fails_its_signature() {
    let b = Bench::new();
    let (other, _) = b.w.workspace("other");
    let out = b.w.crew_json(&other, &["task", "add", "From elsewhere"])["record"].clone();
    let foreign: Id = out["id"].as_str().unwrap().parse().unwrap();
    let path = layout::task_path(&foreign);
    let bytes = b.w.git(&other, &["show", &format!("crew:{path}")]);
    b.write(&path, bytes.as_bytes());
    let commit = b.commit("copy a task");
    let r = b.refused(false);
    let f = r.find(&commit, Some(&path), BAD_SIGNATURE);
    assert_eq!(f["offset"], 0);
    b.read_refused(BAD_SIGNATURE);
}

#[test]
fn conflict_markers_are_refused() {
    let b = Bench::new();
    let path = b.task_file();
    let before = b.read(&path);
    let mut bytes = before.clone();
    bytes.extend_from_slice(b"<<<<<<< HEAD\n");
    bytes.extend_from_slice(&b.task_record("bob", &b.key("bob"), "Ours").0);
    bytes.extend_from_slice(b"=======\n");
    bytes.extend_from_slice(&b.task_record("alice", &b.key("alice"), "Theirs").0);
    bytes.extend_from_slice(b">>>>>>> side\n");
    b.write(&path, &bytes);
    let commit = b.commit("merged without the driver");
    let r = b.refused(false);
    let f = r.find(&commit, Some(&path), CONFLICT_MARKER);
    assert_eq!(f["offset"], before.len());
    b.read_refused("git conflict marker");
}

#[test]
fn duplicate_yaml_key_is_refused() {
    let b = Bench::new();
    let path = b.place(b.raw_task("bob", &b.key("bob"), "title: \"One\"\ntitle: \"Two\"\npriority: 2\n"));
    let commit = b.commit("duplicate key");
    let r = b.refused(false);
    let f = r.find(&commit, Some(&path), "invalid YAML: ");
    assert!(f["reason"].as_str().unwrap().contains("duplicate"), "{f:#}");
    b.read_refused("duplicate");
}

#[test]
fn yaml_anchors_aliases_and_tags_are_refused() {
    let b = Bench::new();
    let bob = b.key("bob");
    let anchor = b.place(b.raw_task("bob", &bob, "title: &t \"One\"\nbody: *t\npriority: 2\n"));
    let alias = b.place(b.raw_task("bob", &bob, "title: \"One\"\nbody: *t\npriority: 2\n"));
    let tag = b.place(b.raw_task("bob", &bob, "title: !!str \"One\"\npriority: 2\n"));
    let commit = b.commit("references");
    let r = b.refused(true);
    assert_eq!(r.failures.len(), 3, "{:#?}", r.failures);
    r.find(&commit, Some(&anchor), "YAML anchor (`&`) not allowed");
    r.find(&commit, Some(&alias), "YAML alias (`*`) not allowed");
    r.find(&commit, Some(&tag), "YAML tag (`!`) not allowed");
    b.read_refused("not allowed");
}

#[test]
fn files_outside_the_layout_are_refused() {
    let b = Bench::new();
    let wrong_shard = format!("tasks/zz/{}.yaml", b.task.hex());
    let paths = ["notes.txt", "tasks/zz/foo.yaml", "actors/Mallory.yaml", "actors/bob.yaml.orig", "docs/a/b.yaml"];
    for p in paths.iter().copied().chain([wrong_shard.as_str()]) {
        b.write(p, &b.read(&b.task_file()));
    }
    let commit = b.commit("stray files");
    let r = b.refused(true);
    assert_eq!(r.failures.len(), paths.len() + 1, "{:#?}", r.failures);
    for p in paths.iter().copied().chain([wrong_shard.as_str()]) {
        r.find(&commit, Some(p), OUTSIDE_LAYOUT);
    }
}

#[test]
fn changed_gitattributes_is_refused() {
    let b = Bench::new();
    b.write(".gitattributes", b"* -text\n");
    let commit = b.commit("no merge driver");
    let r = b.refused(false);
    r.find(&commit, Some(".gitattributes"), "`.gitattributes` differs from the fixed content");
}

#[test]
fn executable_bits_symlinks_and_submodules_are_refused() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let b = Bench::new();
    let path = b.task_file();
    let file = b.wt.join(&path);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    symlink("bob.yaml", b.wt.join("actors/zed.yaml")).unwrap();
    b.w.git(&b.wt, &["add", "-A"]);
    let tip = b.head();
    b.w.git(&b.wt, &["update-index", "--add", "--cacheinfo", &format!("160000,{tip},actors/sub.yaml")]);
    b.w.git(&b.wt, &["commit", "-q", "--no-verify", "-m", "modes"]);
    let commit = b.head();
    let r = b.refused(true);
    assert_eq!(r.failures.len(), 3, "{:#?}", r.failures);
    let why = "not allowed: only plain files (no symlinks, submodules or executable bits)";
    r.find(&commit, Some(&path), &format!("mode 100755 {why}"));
    r.find(&commit, Some("actors/zed.yaml"), &format!("mode 120000 {why}"));
    r.find(&commit, Some("actors/sub.yaml"), &format!("mode 160000 {why}"));
}

#[test]
fn record_in_the_wrong_file_is_refused() {
    let b = Bench::new();
    let (bytes, id) = b.task_record("bob", &b.key("bob"), "Lives elsewhere");
    let path = b.task_file();
    b.append(&path, &bytes);
    let commit = b.commit("misplaced");
    let r = b.refused(false);
    let reason = format!("record belongs in {}, not here", layout::task_path(&id));
    r.find_record(&commit, &path, &reason, &id);
    b.read_refused(&reason);
}

#[test]
fn non_canonical_yaml_is_refused() {
    let b = Bench::new();
    let bob = b.key("bob");
    let bodies = [
        "title: Plain\npriority: 2\n",
        "title: 'Single'\npriority: 2\n",
        "title: \"Flow\"\nlabels: [\"a\"]\npriority: 2\n",
        "title: \"Comment\" # hi\npriority: 2\n",
        "title: \"Padded\"\npriority:  2\n",
        "title: \"Leading zero\"\npriority: 02\n",
    ];
    let paths: Vec<String> = bodies.iter().map(|f| b.place(b.raw_task("bob", &bob, f))).collect();
    let commit = b.commit("non-canonical");
    let r = b.refused(true);
    assert_eq!(r.failures.len(), paths.len(), "{:#?}", r.failures);
    for p in &paths {
        r.find(&commit, Some(p), NON_CANONICAL);
    }
    b.read_refused(NON_CANONICAL);
}

#[test]
fn non_canonical_lines_between_fields_are_refused() {
    let b = Bench::new();
    let bob = b.key("bob");
    let blank = b.place(b.raw_task("bob", &bob, "title: \"Blank\"\n\npriority: 2\n"));
    let comment = b.place(b.raw_task("bob", &bob, "title: \"Comment\"\n# hi\npriority: 2\n"));
    let commit = b.commit("non-canonical lines");
    let r = b.refused(true);
    assert_eq!(r.failures.len(), 2, "{:#?}", r.failures);
    r.find(&commit, Some(&blank), NON_CANONICAL);
    r.find(&commit, Some(&comment), NON_CANONICAL);
}

#[test]
fn unknown_kinds_and_bad_fields_are_refused() {
    let b = Bench::new();
    let bob = b.key("bob");
    let body =
        format!("v: 1\nkind: \"task.assign\"\nauthor: \"bob\"\nat: \"{}\"\ntask: \"{}\"\n", b.at(), b.task.hex());
    let (bytes, _) = record::seal(&b.ws, "task.assign", &body, &bob);
    let path = b.task_file();
    b.append(&path, &bytes);
    let priority = b.place(b.raw_task("bob", &bob, "title: \"Urgent\"\npriority: 9\n"));
    let unknown = b.place(b.raw_task("bob", &bob, "title: \"Extra\"\npriority: 2\nowner: \"bob\"\n"));
    let commit = b.commit("bad fields");
    let r = b.refused(true);
    assert_eq!(r.failures.len(), 3, "{:#?}", r.failures);
    r.find(&commit, Some(&path), "unknown record kind \"task.assign\"");
    r.find(&commit, Some(&priority), "bad field: priority: 9 is out of range 0..=4");
    r.find(&commit, Some(&unknown), "unknown field \"owner\" in a task.create record of format v1");
}

#[test]
fn newer_format_version_asks_for_an_upgrade() {
    let b = Bench::new();
    let body =
        format!("v: 2\nkind: \"task.create\"\nauthor: \"bob\"\nat: \"{}\"\ntitle: \"Future\"\npriority: 2\n", b.at());
    let (bytes, id) = record::seal(&b.ws, "task.create", &body, &b.key("bob"));
    let path = b.place((bytes, id));
    let commit = b.commit("from the future");
    let r = b.refused(false);
    let reason = "a \"task.create\" record of format v2, newer than this git-crew";
    let f = r.find(&commit, Some(&path), reason);
    assert_eq!(f["offset"], 4, "the body starts after `---\\n`");
    b.read_refused(reason);
}

#[test]
fn verify_all_reports_independent_problems_in_order() {
    let b = Bench::new();
    b.write("notes.txt", b"hello\n");
    let first = b.commit("stray file");
    std::fs::remove_file(b.wt.join(b.task_file())).unwrap();
    let second = b.commit("remove task");

    let r = b.refused(false);
    r.find(&first, Some("notes.txt"), OUTSIDE_LAYOUT);

    let r = b.refused(true);
    assert_eq!(r.failures.len(), 2, "{:#?}", r.failures);
    r.find(&first, Some("notes.txt"), OUTSIDE_LAYOUT);
    r.find(&second, Some(&b.task_file()), FILE_DELETED);
    assert_eq!(r.failures[0]["commit"].as_str(), Some(first.as_str()), "older commit first");
}

#[test]
fn large_valid_workspace_verifies() {
    let w = World::new();
    let (dir, _) = w.workspace("big");
    let agents = ["bob", "carol", "dave", "erin"];
    for a in agents {
        w.agent(&dir, a);
    }
    let actors = ["alice", "bob", "carol", "dave", "erin"];
    let tasks = 300;
    for i in 0..tasks {
        let title = format!("Task {i}: do the thing \"{}\" — ünïcode", i * 7);
        let priority = (i % 5).to_string();
        let mut args = vec!["--as", actors[i % actors.len()], "task", "add", title.as_str(), "--priority", &priority];
        let body = format!("Line one of {i}\nline two: with: colons # and hash\n  indented");
        if i % 3 == 0 {
            args.extend_from_slice(&["--body", &body]);
        }
        if i % 4 == 0 {
            args.extend_from_slice(&["--label", "backend", "--label", "p-1"]);
        }
        let run = w.crew(&dir, &args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    }
    let records = 1 + agents.len() + tasks;
    let v = w.crew_json(&dir, &["verify"]);
    assert_eq!(v["ok"], Value::Bool(true), "{v}");
    assert_eq!(v["report"]["records"], records, "{v}");
    assert_eq!(v["report"]["commits"], records, "one commit per record");
    assert_eq!(v["report"]["failures"], serde_json::json!([]));
    let text = w.crew_ok(&dir, &["verify", "--all"]);
    assert!(text.starts_with(&format!("OK: {records} records in {records} commits verified")), "{text}");
    let listed = w.crew_json(&dir, &["task", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), tasks);
}

// ---------------------------------------------------------------------------
// Tests below expose bugs in src/ (see the report in each doc comment).

/// A record already verified in its own file, copied byte for byte into another
/// file, is refused there: verify checks the placement of every record a commit
/// adds to a file, not only of records it has never seen.
#[test]
fn known_record_copied_into_another_file_is_refused() {
    let b = Bench::new();
    let out = b.w.crew_json(&b.dir, &["--as", "bob", "task", "add", "Second"])["record"].clone();
    let second: Id = out["id"].as_str().unwrap().parse().unwrap();
    b.w.git(&b.wt, &["reset", "-q", "--hard", "crew"]);
    let copy = b.read(&layout::task_path(&second));
    let path = b.task_file();
    b.append(&path, &copy);
    let commit = b.commit("copy a known record into another file");
    let reason = format!("record belongs in {}, not here", layout::task_path(&second));
    b.read_refused(&reason);
    let r = b.refused(false);
    r.find_record(&commit, &path, &reason, &second);
}

/// A known record copied into another file with its signature altered (same
/// id, since the id covers the body only) is verified afresh and refused.
#[test]
fn known_record_with_a_forged_signature_in_another_file_is_refused() {
    let b = Bench::new();
    let out = b.w.crew_json(&b.dir, &["--as", "bob", "task", "add", "Second"])["record"].clone();
    let second: Id = out["id"].as_str().unwrap().parse().unwrap();
    b.w.git(&b.wt, &["reset", "-q", "--hard", "crew"]);
    let copy = String::from_utf8(b.read(&layout::task_path(&second))).unwrap();
    // Flip the last hex digit of the signature: same body, so the same id.
    let last = copy.len() - 2;
    let flipped = if &copy[last..last + 1] == "0" { "1" } else { "0" };
    let forged = format!("{}{flipped}\n", &copy[..last]);
    let path = b.task_file();
    b.append(&path, forged.as_bytes());
    let commit = b.commit("forged copy");
    b.read_refused(BAD_SIGNATURE);
    let r = b.refused(false);
    r.find(&commit, Some(&path), BAD_SIGNATURE);
}

/// Editing the genesis is blamed on the commit that did it: the workspace id
/// comes from the first commit, not from whatever CREW.yaml says at the tip.
#[test]
fn edited_genesis_is_blamed_on_its_commit() {
    let b = Bench::new();
    let text = String::from_utf8(b.read("CREW.yaml")).unwrap();
    b.write("CREW.yaml", text.replacen("workspace: \"r\"", "workspace: \"s\"", 1).as_bytes());
    let commit = b.commit("rename the workspace");
    let r = b.refused(false);
    r.find(&commit, Some("CREW.yaml"), APPEND_ONLY);
}

/// A foreign genesis dated earlier and inserted first in CREW.yaml cannot take
/// over the workspace: it is blamed on the commit that inserted it.
#[test]
fn foreign_genesis_inserted_first_is_blamed_on_its_commit() {
    let b = Bench::new();
    let mallory = Keypair::from_seed([66; 32]);
    let payload =
        Payload::Genesis(Genesis { workspace: "hijack".into(), nonce: "00".repeat(16), key: mallory.public() });
    let at: Hlc = "2020-01-01T00:00:00.000Z".parse().unwrap();
    let body = record::body("mallory", at, &payload).unwrap();
    let (mut bytes, _) = record::seal(&Id::ZERO, "crew.genesis", &body, &mallory);
    bytes.extend_from_slice(&b.read("CREW.yaml"));
    b.write("CREW.yaml", &bytes);
    let commit = b.commit("hijack");
    let r = b.refused(false);
    r.find(&commit, Some("CREW.yaml"), "genesis");
}

/// Deleting CREW.yaml is a verification failure (exit 4) naming the commit.
#[test]
fn deleted_manifest_is_a_verification_failure() {
    let b = Bench::new();
    std::fs::remove_file(b.wt.join("CREW.yaml")).unwrap();
    let commit = b.commit("delete the manifest");
    let r = b.refused(false);
    r.find(&commit, Some("CREW.yaml"), FILE_DELETED);
}

/// Key order and empty optional fields are part of the canonical encoding: one
/// record has one byte string.
#[test]
fn non_canonical_field_order_and_empty_labels_are_refused() {
    let b = Bench::new();
    let bob = b.key("bob");
    let reordered = b.place(b.raw_task("bob", &bob, "priority: 2\ntitle: \"Reordered\"\n"));
    let empty = b.place(b.raw_task("bob", &bob, "title: \"Empty labels\"\nlabels: []\npriority: 2\n"));
    let commit = b.commit("other spellings of valid records");
    let r = b.refused(true);
    assert_eq!(r.failures.len(), 2, "{:#?}", r.failures);
    r.find(&commit, Some(&reordered), NON_CANONICAL);
    r.find(&commit, Some(&empty), NON_CANONICAL);
}

/// A log file replaced by a directory of the same name (holding a copy of it)
/// deletes the file: verify refuses it as a verification failure (exit 4),
/// naming the deletion and the file outside the layout.
#[test]
fn a_file_turned_into_a_directory_is_a_deleted_file() {
    let b = Bench::new();
    let path = b.task_file();
    let bytes = b.read(&path);
    std::fs::remove_file(b.wt.join(&path)).unwrap();
    b.write(&format!("{path}/copy.yaml"), &bytes);
    let commit = b.commit("file to directory");
    let r = b.refused(true);
    r.find(&commit, Some(&path), FILE_DELETED);
    r.find(&commit, Some(&format!("{path}/copy.yaml")), OUTSIDE_LAYOUT);
}

/// A directory with no files (an empty tree, which git never writes) is a
/// malformed tree, wherever it is.
#[test]
fn an_empty_directory_is_a_malformed_tree() {
    let b = Bench::new();
    let tree = b.w.git(&b.wt, &["write-tree"]);
    let tree = tree.trim();
    let empty = b.w.git(&b.wt, &["hash-object", "-t", "tree", "-w", "/dev/null"]);
    let listing = b.w.git(&b.wt, &["ls-tree", tree]);
    let with_empty = format!("{listing}040000 tree {}\tjunk\n", empty.trim());
    let new_tree = b.w.git_stdin(&b.wt, &["mktree"], with_empty.as_bytes());
    let commit = b.w.git(&b.wt, &["commit-tree", &new_tree, "-p", &b.head(), "-m", "empty dir"]);
    b.w.git(&b.wt, &["update-ref", "refs/heads/crew", commit.trim()]);
    let r = b.refused(false);
    assert!(r.stderr.contains("empty tree"), "{}", r.stderr);
    b.read_refused("empty tree");
}
