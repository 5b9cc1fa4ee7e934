//! `schema/verify.py`, a reference verifier written from `schema/SIGNING.md`
//! and the JSON Schemas alone (never from `src/`), against `git crew verify`:
//!
//! - the demo's bare remote and every clone of it: both accept, and count the
//!   same records;
//! - every fixture of `tests/fixtures/` (valid/, invalid/, v1/, identity/,
//!   signature/): the reference judges each as SIGNING.md section 16 says, and
//!   as the Rust decoder does;
//! - hostile changes made with plain git to the demo's branch: both refuse
//!   each; races the fold finds void (not failures), and records resting on
//!   them, void too (SIGNING.md 9.1 rules 3 and 14): both accept.
//!
//! Python 3.11+ with the `cryptography` package is required. CI installs
//! them; when either is missing these tests fail, saying so, rather than skip.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use git_crew::hlc::Hlc;
use git_crew::id::Id;
use git_crew::layout;
use git_crew::record::kinds::{
    ActorAdmit, ActorResume, ActorRevoke, ActorRotate, ActorSuspend, CrewPolicy, Grant, PathRelease, PathReserve,
    Power, StepFlag, StepKind, SuperviseStep, TaskClaim, TaskComment, TaskCreate,
};
use git_crew::record::{self, frame, Payload, Role};
use git_crew::sign::{KeyStore, Keypair, PublicKey};
use serde_json::Value;

use crate::common::World;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(path: &str) -> PathBuf {
    root().join("tests/fixtures").join(path)
}

/// Fails, with instructions, unless `python3` (3.11+) and `cryptography` are there.
fn require_python() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let checked = CHECKED.get_or_init(|| {
        let probe = "import sys, cryptography; sys.exit(0 if sys.version_info >= (3, 11) else 3)";
        match Command::new("python3").args(["-c", probe]).output() {
            Err(e) => Err(format!("cannot run python3: {e}")),
            Ok(out) if out.status.code() == Some(3) => Err("python3 is older than 3.11".to_owned()),
            Ok(out) if !out.status.success() => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
            Ok(_) => Ok(()),
        }
    });
    if let Err(why) = checked {
        panic!(
            "the reference verifier schema/verify.py needs Python 3.11+ with the `cryptography` package \
             (e.g. `apt-get install python3 python3-cryptography` or `pip install cryptography`): {why}"
        );
    }
}

/// `python3 schema/verify.py ARGS…`: its exit code and what it printed.
pub(crate) fn reference(args: &[&str]) -> (i32, String) {
    require_python();
    let out = Command::new("python3")
        .arg(root().join("schema/verify.py"))
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("Traceback"), "schema/verify.py {args:?} crashed:\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

/// What both verifiers say of the crew branch of `dir`.
struct Verdicts {
    rust: i32,
    rust_out: String,
    python: i32,
    python_out: String,
}

fn verify_both(w: &World, dir: &Path) -> Verdicts {
    let run = w.crew(dir, &["--json", "verify"]);
    let (python, python_out) = reference(&["--repo", dir.to_str().unwrap()]);
    Verdicts { rust: run.code, rust_out: format!("{}{}", run.stdout, run.stderr), python, python_out }
}

/// Both accept the branch, and count the same records.
pub(crate) fn both_accept(w: &World, dir: &Path, what: &str) {
    let v = verify_both(w, dir);
    let shown = format!("{what}\ngit crew verify: {}\nverify.py: {}", v.rust_out, v.python_out);
    assert_eq!((v.rust, v.python), (0, 0), "both verifiers should accept: {shown}");
    let report: Value = serde_json::from_str(&v.rust_out).unwrap();
    let records = report["report"]["records"].as_u64().unwrap();
    assert!(v.python_out.starts_with(&format!("ok: {records} records,")), "the record counts differ: {shown}");
}

/// Both refuse the branch with git-crew's exit code for a verification failure.
pub(crate) fn both_refuse(w: &World, dir: &Path, what: &str) {
    let v = verify_both(w, dir);
    let shown = format!("{what}\ngit crew verify: {}\nverify.py: {}", v.rust_out, v.python_out);
    assert_eq!((v.rust, v.python), (4, 4), "both verifiers should refuse: {shown}");
    assert!(v.python_out.starts_with("refused: "), "{shown}");
}

// ---------------------------------------------------------------------------
// The demo, and hostile changes to its branch

/// A clone of the demo's remote, with the crew branch checked out for
/// tampering with plain git.
fn clone(w: &World, remote: &Path, name: &str) -> PathBuf {
    w.git(&w.root, &["clone", "-q", "-b", "crew", remote.to_str().unwrap(), name]);
    w.path(name)
}

/// Run git in `dir` as `who <who@crew>`, feeding it `input`; its stdout.
fn git_as(w: &World, dir: &Path, who: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new("git");
    w.env(&mut cmd);
    let mail = format!("{who}@crew");
    cmd.current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", who)
        .env("GIT_AUTHOR_EMAIL", &mail)
        .env("GIT_COMMITTER_NAME", who)
        .env("GIT_COMMITTER_EMAIL", &mail)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A record signed with `key`, appended to the file it belongs in and
/// committed as git-crew would (its author, the derived message), so that only
/// the rule a test means is broken. Returns the record.
fn append(w: &World, dir: &Path, ws: &Id, author: &str, at: Hlc, payload: Payload, key: &Keypair) -> record::Record {
    let (r, bytes) = record::encode(ws, author, at, payload, key).unwrap();
    let path = dir.join(layout::path_of(&r));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut content = std::fs::read(&path).unwrap_or_default();
    content.extend_from_slice(&bytes);
    std::fs::write(&path, content).unwrap();
    w.commit_all(dir, "a record");
    r
}

/// A stamp `n` seconds from now: after everything the demo wrote.
fn soon(n: i64) -> Hlc {
    Hlc { ms: Hlc::now().ms + n * 1000, counter: 0 }
}

#[test]
fn the_demo_and_hostile_changes_to_it_get_the_same_verdicts() {
    let w = World::new();
    let keep = w.path("demo");
    let demo = w.crew_json(&w.root, &["demo", "--keep", keep.to_str().unwrap()]);

    // The bare remote and every clone: both accept.
    let mut repos: Vec<PathBuf> = std::fs::read_dir(&keep)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join(".git").is_dir() || p.join("HEAD").is_file())
        .collect();
    repos.sort();
    assert_eq!(repos.len(), 5, "the remote and four clones: {repos:?}");
    for repo in &repos {
        both_accept(&w, repo, &format!("the demo's {}", repo.display()));
    }

    let remote = keep.join("remote.git");
    let ws: Id = w.crew_json(&remote, &["verify"])["report"]["workspace"].as_str().unwrap().parse().unwrap();
    let keys = KeyStore::at(keep.join("crew-home"));
    let key = |name: &str| keys.load(&ws, name).unwrap_or_else(|e| panic!("the demo's key of {name}: {e:?}"));
    let held = demo["board"]["in_progress"][0].clone();
    assert_eq!(held["holder"], "reviewer", "{held}");
    let held: Id = held["id"].as_str().unwrap().parse().unwrap();
    let task = |title: &str| Payload::TaskCreate(TaskCreate { title: title.into(), priority: 2, ..Default::default() });

    // Untampered, a fresh clone verifies.
    let dir = clone(&w, &remote, "untampered");
    both_accept(&w, &dir, "an untampered clone");

    // A byte changed inside a signed record (a letter of a title).
    let dir = clone(&w, &remote, "edited-byte");
    let file = w.git(&dir, &["ls-tree", "-r", "--name-only", "HEAD", "tasks"]).lines().next().unwrap().to_owned();
    let mut bytes = std::fs::read(dir.join(&file)).unwrap();
    let at = bytes.windows(8).position(|x| x == b"title: \"").unwrap() + 8;
    bytes[at] ^= 0x20; // the case of an ASCII letter
    std::fs::write(dir.join(&file), bytes).unwrap();
    w.commit_all(&dir, "edit a title");
    both_refuse(&w, &dir, "a byte of a signed record changed");

    // A record deleted: the planner's suspension, the last record of its file.
    let dir = clone(&w, &remote, "deleted-record");
    let file = dir.join("actors/planner.yaml");
    let bytes = std::fs::read(&file).unwrap();
    let last = bytes.windows(4).rposition(|x| x == b"---\n").unwrap();
    assert!(last > 0, "actors/planner.yaml holds the admission and the suspension");
    std::fs::write(&file, &bytes[..last]).unwrap();
    w.commit_all(&dir, "drop the suspension");
    both_refuse(&w, &dir, "a record deleted");

    // A forged commit author: the tip (the reviewer's claim) re-authored as alice.
    let dir = clone(&w, &remote, "forged-author");
    git_as(&w, &dir, "alice", &["commit", "-q", "--amend", "--no-edit", "--reset-author"], b"");
    both_refuse(&w, &dir, "the tip commit re-authored as alice");

    // A tree listing CREW.yaml twice (git reads it leniently; 7.1 does not).
    let dir = clone(&w, &remote, "duplicate-entry");
    let tree = git_as(&w, &dir, "alice", &["cat-file", "tree", "HEAD^{tree}"], b"");
    let start = tree.windows(17).position(|x| x == b"100644 CREW.yaml\0").unwrap();
    let entry = &tree[start..start + 17 + 20];
    let doubled = [&tree[..start], entry, &tree[start..]].concat();
    let bad = git_as(&w, &dir, "alice", &["hash-object", "-t", "tree", "-w", "--literally", "--stdin"], &doubled);
    let bad = String::from_utf8(bad).unwrap();
    let parent = w.git(&dir, &["rev-parse", "HEAD^"]);
    let message = w.git(&dir, &["log", "-1", "--format=%B"]);
    let forged =
        git_as(&w, &dir, "reviewer", &["commit-tree", bad.trim(), "-p", parent.trim(), "-F", "-"], message.as_bytes());
    w.git(&dir, &["update-ref", "refs/heads/crew", String::from_utf8(forged).unwrap().trim()]);
    both_refuse(&w, &dir, "a tree with a duplicate entry");

    // A directory with no files (an empty tree, which git never writes; 7.1),
    // beside a valid record in the same commit.
    let dir = clone(&w, &remote, "empty-directory");
    let (r, bytes) =
        record::encode(&ws, "builder", soon(1), task("Beside an empty directory"), &key("builder")).unwrap();
    let file = dir.join(layout::path_of(&r));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, bytes).unwrap();
    w.commit_all(&dir, "a record");
    let empty = git_as(&w, &dir, "builder", &["hash-object", "-t", "tree", "-w", "--stdin"], b"");
    let tree = git_as(&w, &dir, "builder", &["cat-file", "tree", "HEAD^{tree}"], b"");
    let at = tree.windows(12).position(|x| x == b"40000 tasks\0").unwrap();
    let entry =
        [&b"40000 junk\0"[..], &git_crew::id::unhex(String::from_utf8(empty).unwrap().trim()).unwrap()].concat();
    let with_junk = [&tree[..at], &entry, &tree[at..]].concat();
    let bad = git_as(&w, &dir, "builder", &["hash-object", "-t", "tree", "-w", "--literally", "--stdin"], &with_junk);
    let bad = String::from_utf8(bad).unwrap();
    let parent = w.git(&dir, &["rev-parse", "HEAD^"]);
    let message = w.git(&dir, &["log", "-1", "--format=%B"]);
    let forged =
        git_as(&w, &dir, "builder", &["commit-tree", bad.trim(), "-p", parent.trim(), "-F", "-"], message.as_bytes());
    w.git(&dir, &["update-ref", "refs/heads/crew", String::from_utf8(forged).unwrap().trim()]);
    both_refuse(&w, &dir, "an empty directory");

    // Signed with another admitted agent's key, unauthorized: the builder (an
    // agent) admits an actor, which only an admin may (9.1 rule 4).
    let dir = clone(&w, &remote, "agent-admits");
    let admit = ActorAdmit {
        name: "mallory".into(),
        role: Role::Admin,
        key: Keypair::from_seed([7; 32]).public(),
        owner: None,
        proof: None,
    };
    append(&w, &dir, &ws, "builder", soon(1), Payload::ActorAdmit(admit), &key("builder"));
    both_refuse(&w, &dir, "an agent's actor.admit");

    // A record in alice's name signed with the builder's key (9.1 rule 3).
    let dir = clone(&w, &remote, "wrong-key");
    append(&w, &dir, &ws, "alice", soon(1), task("Signed by someone else"), &key("builder"));
    both_refuse(&w, &dir, "alice's record signed with the builder's key");

    // An identity record dated before what it was written on (8.3, A2).
    let dir = clone(&w, &remote, "backdated-admission");
    let admit = ActorAdmit {
        name: "late".into(),
        role: Role::Human,
        key: Keypair::from_seed([8; 32]).public(),
        owner: None,
        proof: None,
    };
    let long_ago = Hlc { ms: Hlc::now().ms - 86_400_000, counter: 0 };
    append(&w, &dir, &ws, "alice", long_ago, Payload::ActorAdmit(admit), &key("alice"));
    both_refuse(&w, &dir, "a backdated admission");

    // A file outside the layout.
    let dir = clone(&w, &remote, "outside-layout");
    std::fs::write(dir.join("notes.txt"), "hello\n").unwrap();
    w.commit_all(&dir, "a note");
    both_refuse(&w, &dir, "a file outside the layout");

    // Void is not a failure: a claim on the task the reviewer holds (lost),
    // and a comment by the suspended planner.
    let dir = clone(&w, &remote, "void-records");
    let claim = TaskClaim { task: held, lease: 1800, offline: false };
    append(&w, &dir, &ws, "builder", soon(1), Payload::TaskClaim(claim), &key("builder"));
    let comment = TaskComment { task: held, text: "still here".into() };
    append(&w, &dir, &ws, "planner", soon(2), Payload::TaskComment(comment), &key("planner"));
    both_accept(&w, &dir, "a lost claim and a suspended actor's comment");

    // SIGNING.md 9.1 rules 3, 5 and 14: the builder rotates its key and
    // writes with the new one; then alice suspends it without `seen`. The
    // suspension's window voids the rotation, and so the record signed with
    // the new key, which rests on it, is void too (not forged): the branch
    // stays valid.
    let dir = clone(&w, &remote, "window-voids-rotation");
    let new_key = Keypair::from_seed([9; 32]);
    let rotate = ActorRotate { name: "builder".into(), key: new_key.public(), proof: new_key.prove(&ws, "builder") };
    append(&w, &dir, &ws, "builder", soon(1), Payload::ActorRotate(rotate), &key("builder"));
    append(&w, &dir, &ws, "builder", soon(2), task("With my new key"), &new_key);
    both_accept(&w, &dir, "a rotation and a record signed with the new key");
    let suspend = ActorSuspend { name: "builder".into(), reason: None, seen: None, seen_at: None };
    append(&w, &dir, &ws, "alice", soon(3), Payload::ActorSuspend(suspend), &key("alice"));
    both_accept(&w, &dir, "a suspension whose window voids a rotation and a record signed with its key");
    // Resumed, the builder's key is still the old one (the rotation is
    // void): a record with the old key counts, one with the void rotation's
    // key is void, and one with a key it never rotated to is refused.
    let resume = ActorResume { name: "builder".into() };
    append(&w, &dir, &ws, "alice", soon(4), Payload::ActorResume(resume), &key("alice"));
    append(&w, &dir, &ws, "builder", soon(5), task("With my old key again"), &key("builder"));
    append(&w, &dir, &ws, "builder", soon(6), task("With the void rotation's key"), &new_key);
    both_accept(&w, &dir, "after the resumption, records with the old key and with the void rotation's key");
    append(&w, &dir, &ws, "builder", soon(7), task("With a key never rotated to"), &Keypair::from_seed([10; 32]));
    both_refuse(&w, &dir, "a record signed with a key its author never had nor rotated to");

    // SIGNING.md 5.3 condition 1: only the canonical encoding of a point is a
    // usable key. y = 3 is a point not of small order (either sign), and only
    // y <= 18 has a second spelling, y + p = 2^255 - 16 here. An admission
    // with the canonical key (and no proof: nobody knows its private key)
    // counts; one with either twin is refused, whether or not the canonical
    // key is an actor's.
    let canonical = PublicKey(std::array::from_fn(|i| if i == 0 { 3 } else { 0 }));
    let twin = |top: u8| {
        PublicKey(std::array::from_fn(|i| match i {
            0 => 0xf0,
            31 => top,
            _ => 0xff,
        }))
    };
    let twins = [twin(0x7f), twin(0xff)];
    let admit_key = |name: &str, key: PublicKey| {
        Payload::ActorAdmit(ActorAdmit { name: name.into(), role: Role::Human, key, owner: None, proof: None })
    };
    let dir = clone(&w, &remote, "canonical-key");
    append(&w, &dir, &ws, "alice", soon(1), admit_key("canon", canonical), &key("alice"));
    both_accept(&w, &dir, "an admission with the canonical key y = 3");
    for (n, twin) in twins.iter().enumerate() {
        let dir = clone(&w, &remote, &format!("twin-key-{n}"));
        append(&w, &dir, &ws, "alice", soon(1), admit_key("twin", *twin), &key("alice"));
        both_refuse(&w, &dir, &format!("an admission with the twin {twin} of the key y = 3"));
        let dir = clone(&w, &remote, &format!("twin-of-an-actors-key-{n}"));
        append(&w, &dir, &ws, "alice", soon(1), admit_key("canon", canonical), &key("alice"));
        append(&w, &dir, &ws, "alice", soon(2), admit_key("twin", *twin), &key("alice"));
        both_refuse(&w, &dir, &format!("an admission with the twin {twin} of an admitted actor's key"));
    }

    // SIGNING.md 9.1 rules 4 to 8 and 14: the `name` of the actor.* kinds and
    // the `owner` of an admission rest on an admission like any other actor
    // reference. erin, an admin suspended by alice, admits dave: void. Then
    // alice's suspension, resumption, rotation and revocation of dave, and her
    // admission of an agent dave owns, are void too.
    let dir = clone(&w, &remote, "void-admission");
    let erin = Keypair::from_seed([11; 32]);
    let dave = Keypair::from_seed([12; 32]);
    let admit = |name: &str, role: Role, owner: Option<&str>, k: &Keypair| {
        let proof = Some(k.prove(&ws, name));
        Payload::ActorAdmit(ActorAdmit {
            name: name.into(),
            role,
            key: k.public(),
            owner: owner.map(Into::into),
            proof,
        })
    };
    let suspend =
        |name: &str| Payload::ActorSuspend(ActorSuspend { name: name.into(), reason: None, seen: None, seen_at: None });
    append(&w, &dir, &ws, "alice", soon(1), admit("erin", Role::Admin, None, &erin), &key("alice"));
    append(&w, &dir, &ws, "alice", soon(2), suspend("erin"), &key("alice"));
    append(&w, &dir, &ws, "erin", soon(3), admit("dave", Role::Human, None, &dave), &erin);
    append(&w, &dir, &ws, "alice", soon(4), suspend("dave"), &key("alice"));
    both_accept(&w, &dir, "a suspension of an actor whose admission is void");
    append(&w, &dir, &ws, "alice", soon(5), Payload::ActorResume(ActorResume { name: "dave".into() }), &key("alice"));
    let dave2 = Keypair::from_seed([13; 32]);
    let rotate = ActorRotate { name: "dave".into(), key: dave2.public(), proof: dave2.prove(&ws, "dave") };
    append(&w, &dir, &ws, "alice", soon(6), Payload::ActorRotate(rotate), &key("alice"));
    let revoke = ActorRevoke { name: "dave".into(), reason: None };
    append(&w, &dir, &ws, "alice", soon(7), Payload::ActorRevoke(revoke), &key("alice"));
    let bot = Keypair::from_seed([14; 32]);
    append(&w, &dir, &ws, "alice", soon(8), admit("dave-bot", Role::Agent, Some("dave"), &bot), &key("alice"));
    // The name is checked first (rule 5): an agent that neither is an admin
    // nor owns dave suspends him, void rather than refused.
    append(&w, &dir, &ws, "builder", soon(9), suspend("dave"), &key("builder"));
    both_accept(&w, &dir, "a resumption, rotation, revocation and owner resting on a void admission");
    // erin, suspended, rotates the builder's key: void; so the builder's
    // record signed with that key is void too (rule 3).
    let void_key = Keypair::from_seed([15; 32]);
    let rotate = ActorRotate { name: "builder".into(), key: void_key.public(), proof: void_key.prove(&ws, "builder") };
    append(&w, &dir, &ws, "erin", soon(10), Payload::ActorRotate(rotate), &erin);
    append(&w, &dir, &ws, "builder", soon(11), task("With the key of an admin's void rotation"), &void_key);
    both_accept(&w, &dir, "a record signed with the key of a suspended admin's rotation of its author");
    // An actor nobody admitted, not even in a void record: refused.
    append(&w, &dir, &ws, "alice", soon(12), suspend("nobody"), &key("alice"));
    both_refuse(&w, &dir, "a suspension of an actor nobody admitted");
}

// ---------------------------------------------------------------------------
// The fixtures of SIGNING.md section 16

/// The workspace id the valid/ and invalid/ fixtures are signed for (16).
const FIXTURE_WORKSPACE: Id = Id([0x42; 32]);
const V1_WORKSPACE: &str = "b8e5b246f0ad4d9e3cc34558b1bd22563c65a6112f24868e230f984db03db393";

fn hex32(byte: &str) -> String {
    byte.repeat(32)
}

/// What the Rust decoder says of a bare body (as tests/it/schema.rs asks it):
/// signed with a test key for the fixture workspace, then decoded.
fn rust_accepts_body(body: &str, fallback_kind: &str) -> bool {
    let kind = body.lines().find_map(|l| l.strip_prefix("kind: \"")?.strip_suffix('"')).unwrap_or(fallback_kind);
    let (bytes, _) = record::seal(&FIXTURE_WORKSPACE, kind, body, &Keypair::from_seed([9; 32]));
    record::decode_file(&bytes, &FIXTURE_WORKSPACE).is_ok()
}

#[test]
fn every_body_fixture_gets_the_verdict_of_the_spec_and_the_decoder() {
    for (dir, valid) in [("valid", true), ("invalid", false)] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(fixture(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        assert!(files.len() > 80, "tests/fixtures/{dir} holds the body fixtures");
        let args: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
        let (code, out) = reference(&[&["--body"][..], &args].concat());
        assert_eq!(code, if valid { 0 } else { 4 }, "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), files.len(), "one verdict per fixture:\n{out}");
        for (path, line) in files.iter().zip(lines) {
            let name = path.file_name().unwrap().to_str().unwrap();
            let verdict = line.strip_prefix(&format!("{}: ", path.display())).unwrap_or_else(|| panic!("{line}"));
            let python = verdict.starts_with("ok: ");
            assert!(python || verdict.starts_with("refused: "), "{line}");
            assert_eq!(python, valid, "{dir}/{name}: the reference verifier says {verdict}");
            let body = std::fs::read_to_string(path).unwrap();
            let kind = name.split('-').next().unwrap();
            assert_eq!(rust_accepts_body(&body, kind), python, "{dir}/{name}: the two decoders disagree: {verdict}");
        }
    }
}

#[test]
fn the_v1_sample_the_request_and_the_small_order_signature_are_judged_as_the_spec_says() {
    let w = World::new();
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    // v1/workspace: the frozen sample as files, and as a branch of one commit
    // per record in fold order.
    let sample = fixture("v1/workspace");
    let (code, out) = reference(&["--tree", &path(&sample)]);
    assert_eq!((code, out.trim()), (0, "ok: 5 records, 5 files"));
    let repo = crate::schema::v1_sample_repo(&w, "v1");
    both_accept(&w, &repo, "the v1 sample as a branch");

    // v1/log.yaml: three records signed for the workspace 7777…77, sorted.
    let log = fixture("v1/log.yaml");
    assert_eq!(reference(&["--file", &path(&log), "--workspace", &hex32("77")]).0, 0);
    assert_eq!(reference(&["--file", &path(&log), "--workspace", &hex32("42")]).0, 4, "bound to its workspace");
    let bytes = std::fs::read(&log).unwrap();
    let frames = frame::split(&bytes).unwrap();
    let swapped = [&bytes[frames[1].span.clone()], &bytes[frames[0].span.clone()], &bytes[frames[2].span.clone()]];
    let unsorted = w.path("unsorted.yaml");
    std::fs::write(&unsorted, swapped.concat()).unwrap();
    let (code, out) = reference(&["--file", &path(&unsorted), "--workspace", &hex32("77")]);
    assert_eq!(code, 4, "the same records out of order: {out}");

    // identity/carol.request: valid, for the v1 workspace only; the name is signed.
    let request = fixture("identity/carol.request");
    assert_eq!(reference(&["--request", &path(&request), "--workspace", V1_WORKSPACE]).0, 0);
    assert_eq!(reference(&["--request", &path(&request), "--workspace", &hex32("77")]).0, 4);
    let renamed = w.path("carl.request");
    std::fs::write(&renamed, std::fs::read_to_string(&request).unwrap().replace("name: carol", "name: carl")).unwrap();
    let (code, out) = reference(&["--request", &path(&renamed)]);
    assert_eq!(code, 4, "a request whose proof does not verify: {out}");

    // signature/small-order-r.yaml: the first record (R the identity point)
    // is refused, alone or with the other; the second, honestly signed, passes.
    let file = fixture("signature/small-order-r.yaml");
    let bytes = std::fs::read(&file).unwrap();
    let frames = frame::split(&bytes).unwrap();
    assert_eq!(frames.len(), 2);
    let ws42 = hex32("42");
    let (code, out) = reference(&["--file", &path(&file), "--workspace", &ws42]);
    assert!(code == 4 && out.contains("byte 0"), "{out}");
    for (n, f) in frames.iter().enumerate() {
        let alone = w.path(&format!("record-{n}.yaml"));
        std::fs::write(&alone, &bytes[f.span.clone()]).unwrap();
        let (code, out) = reference(&["--file", &path(&alone), "--workspace", &ws42]);
        assert_eq!(code, if n == 0 { 4 } else { 0 }, "record {n} of small-order-r.yaml: {out}");
    }
}

// ---------------------------------------------------------------------------
// Fleet control (SIGNING.md 4.19-4.21, 9.2.1)

/// The supervisors' election task of the workspace in `dir`.
fn state_election(w: &World, dir: &Path) -> Id {
    let ws = git_crew::workspace::Workspace::open(dir, "crew", w.keys()).unwrap();
    let state = ws.snapshot_for(&git_crew::index::Need::All).unwrap().state;
    git_crew::supervise::election_task(&state).expect("supervise made the election task").id
}

/// A supervisor's work on a real branch, then hand-signed fleet records that
/// break 9.2.1 one at a time: both verifiers accept the first and refuse each
/// of the others.
#[test]
fn fleet_control_records_get_the_same_verdicts() {
    let w = World::new();
    let (a, ws) = w.workspace("a");
    w.agent(&a, "bob");
    w.agent(&a, "sup");
    let policy = ["--as", "alice", "policy", "set", "--dead-after", "1s", "--tokens", "10", "--grant", "sup=release"];
    w.crew_ok(&a, &policy);
    let task = w.crew_json(&a, &["--as", "alice", "task", "add", "Work"])["record"]["id"].as_str().unwrap().to_owned();
    w.crew_ok(&a, &["--as", "bob", "task", "claim", &task]);
    w.crew_ok(&a, &["--as", "bob", "usage", "--task", &task, "--tokens", "50", "--cost", "0.5"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // Over budget (sup may not suspend: it tells bob's owner), and dead
    // (sup may release: it requeues).
    let steps = w.crew_ok(&a, &["--as", "sup", "--json", "supervise", "--once"]);
    assert!(steps.contains("\"requeue\"") && steps.contains("over-budget"), "{steps}");
    let dir = w.path("c");
    w.git(&w.root, &["clone", "-q", "-b", "crew", a.to_str().unwrap(), dir.to_str().unwrap()]);
    both_accept(&w, &dir, "a supervisor's policy, usage, steps, requeue and messages");
    let task: Id = task.parse().unwrap();
    w.crew_ok(&a, &["--as", "bob", "task", "claim", &task.hex()]);
    w.git(&dir, &["pull", "-q", "--ff-only"]);
    let key = |name: &str| w.key(&ws, name);
    let suspend = Payload::ActorSuspend(ActorSuspend { name: "bob".into(), reason: None, seen: None, seen_at: None });
    let step = |step| {
        Payload::SuperviseStep(SuperviseStep {
            flag: StepFlag::Runaway,
            step,
            actor: "bob".into(),
            task: None,
            why: "fast".into(),
        })
    };
    let policy_by_bob = Payload::CrewPolicy(CrewPolicy { tokens: Some(1), ..CrewPolicy::default() });
    let election = state_election(&w, &a);
    let claim_election = Payload::TaskClaim(TaskClaim { task: election, lease: 60, offline: false });
    let cases = [
        ("bob", claim_election, "an agent's claim of the supervisors' election task"),
        ("sup", suspend.clone(), "a suspension by a supervisor granted release only"),
        ("sup", step(StepKind::Suspend), "a suspend step by a supervisor granted release only"),
        ("bob", step(StepKind::Notify), "a step by an agent the policy grants nothing"),
        ("bob", policy_by_bob, "a policy set by an agent"),
    ];
    for (n, (author, payload, what)) in cases.into_iter().enumerate() {
        append(&w, &dir, &ws, author, soon(5 + n as i64), payload, &key(author));
        both_refuse(&w, &dir, what);
        w.git(&dir, &["reset", "-q", "--hard", "HEAD~1"]);
    }
    // Granted, the same suspension counts; a release by sup of bob's claim too.
    let grant = CrewPolicy {
        grants: vec![Grant { actor: "sup".into(), powers: vec![Power::Release, Power::Suspend] }],
        ..CrewPolicy::default()
    };
    append(&w, &dir, &ws, "alice", soon(20), Payload::CrewPolicy(grant), &key("alice"));
    let release = Payload::TaskRelease(git_crew::record::kinds::TaskRelease { task, reason: None });
    append(&w, &dir, &ws, "sup", soon(21), release, &key("sup"));
    append(&w, &dir, &ws, "sup", soon(22), suspend, &key("sup"));
    both_accept(&w, &dir, "a granted supervisor's release and suspension");
}

/// Path reservations (SIGNING.md 9.2.2): what the CLI writes, an overlapping
/// reservation (void, not a failure), a release by someone else (void) and a
/// release of a reservation that never was (refused), judged alike.
#[test]
fn path_reservations_get_the_same_verdicts() {
    let w = World::new();
    let (a, ws) = w.workspace("a");
    w.agent(&a, "bob");
    w.agent(&a, "carol");
    let task = w.crew_json(&a, &["--as", "alice", "task", "add", "Auth"])["record"]["id"].as_str().unwrap().to_owned();
    let bobs = w.crew_json(&a, &["--as", "bob", "reserve", "src", "--lease", "1h"])["record"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.crew_ok(&a, &["--as", "carol", "task", "claim", &task]);
    w.crew_ok(&a, &["--as", "carol", "reserve", "docs", "--task", &task]);
    w.crew_ok(&a, &["--as", "carol", "task", "handoff", &task, "--to", "bob"]);
    let dir = w.path("c");
    w.git(&w.root, &["clone", "-q", "-b", "crew", a.to_str().unwrap(), dir.to_str().unwrap()]);
    both_accept(&w, &dir, "reservations written by the CLI");
    let key = |name: &str| w.key(&ws, name);
    let reserve = |path: &str| Payload::PathReserve(PathReserve { paths: vec![path.into()], lease: 60, task: None });
    let release = |id: &str| Payload::PathRelease(PathRelease { reservation: id.parse().unwrap() });
    append(&w, &dir, &ws, "carol", soon(5), reserve("src/lib.rs"), &key("carol"));
    append(&w, &dir, &ws, "carol", soon(6), release(&bobs), &key("carol"));
    // carol's reservation of docs follows the task to bob: carol's release is void.
    both_accept(&w, &dir, "an overlapping reservation and releases by someone else: void");
    append(&w, &dir, &ws, "bob", soon(7), release(&"ab".repeat(32)), &key("bob"));
    both_refuse(&w, &dir, "a release of a reservation that never was");
}
