//! Format evolution (`schema/SIGNING.md`, section 17): what this git-crew,
//! which reads and writes format v1, does with what a newer git-crew writes.
//!
//! The samples under `tests/fixtures/evolution/` are frozen: they were written
//! once, as a git-crew of format v2 would write them, by a throwaway program
//! that called `git_crew::record::seal` (keys `Keypair::from_seed([n; 32])`,
//! the workspace of the v1 sample, `tests/fixtures/v1/workspace/`), and are
//! never regenerated: [`the_frozen_samples_are_byte_stable`] pins their
//! SHA-256. A record of format v2 is signed there as format v1 signs (section
//! 5): format v2 does not exist yet, and a reader of v1 refuses the record at
//! its `v:` line before it would check a signature.
//!
//! - `v2/` is what a newer git-crew adds to the v1 sample, as whole files of
//!   the branch: `CREW.yaml` with the admin's record that raises the workspace
//!   to format v2 (`crew.format`, at `v: 2`), and bob's task file with a
//!   `task.claim` carrying a field format v1 lacks (`paths`) and a kind format
//!   v1 lacks (`task.checkpoint`), both at `v: 2`.
//! - `v1-unknown/` holds single records that claim `v: 1` but carry a kind, a
//!   field or a value format v1 does not have. No git-crew writes them (a new
//!   kind, field or value comes with a newer `v`); they are refused by name as
//!   invalid, never skipped or folded without the part that is not known.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git_crew::decode::genesis_id;
use git_crew::id::Id;
use git_crew::record::{self, frame, FileError, Problem};
use git_crew::sign::Keypair;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{files_under, refused, served_bare, tip, World};
use crate::schema::v1_sample_repo;

/// The workspace id of the v1 sample, which every sample here is signed for.
const V1_WORKSPACE: &str = "b8e5b246f0ad4d9e3cc34558b1bd22563c65a6112f24868e230f984db03db393";
/// bob's task of the v1 sample, the file the v2 records are appended to.
const TASK_FILE: &str = "tasks/49/49414ba4010ba0281569925157d93f50d6d83f627dc7903470574fe8f6affa57.yaml";

/// Every file of `tests/fixtures/evolution/` and the SHA-256 of its bytes.
const FROZEN: &[(&str, &str)] = &[
    ("v2/CREW.yaml", "8bdc81ef0fbdadf76486c40135b514a66975261d86844180c62660e26907a77b"),
    (
        "v2/tasks/49/49414ba4010ba0281569925157d93f50d6d83f627dc7903470574fe8f6affa57.yaml",
        "1c1c9a536c1684e3bd8c0868d5c5804e0ed015eea25212203dcfa74cb40a5577",
    ),
    ("v1-unknown/actor.admit-unknown-role.yaml", "50e5c7c3a9b06cc472889428573bd582bab73c8666df8117024770cfca4b2a97"),
    ("v1-unknown/policy.set-unknown-kind.yaml", "c58ffc00d6b5c2b80ec0771d4c0e439618d77657cf186f45784e3a917ac998c9"),
    (
        "v1-unknown/receipt-unknown-artifact-field.yaml",
        "d6db9a026b8289ad4fab79efa2930a82ea1621c0a77d43093fb6fb2a6c84104e",
    ),
    ("v1-unknown/receipt-unknown-class.yaml", "4d580d0b2891e5009e9b21d5aefb716bca93737a4a9fc0be5d1eccd9f1c3b0ca"),
    ("v1-unknown/task.claim-unknown-field.yaml", "a536b0621a2adc38d8c4f6b8b7031c5ffe17583fb940b55bc9684821b74114ae"),
];

/// What this git-crew says of each `v1-unknown/` record, its id, and the seed
/// of its author's key.
fn unknown_at_v1() -> Vec<(&'static str, Problem, &'static str, u8)> {
    vec![
        (
            "actor.admit-unknown-role.yaml",
            Problem::UnknownValue { kind: "actor.admit", field: "role", value: "observer".into() },
            "b9cfc63e017011e9247ecc2447a9114b8c7c110d5e9ba25711e9d7037102c96e",
            1,
        ),
        (
            "policy.set-unknown-kind.yaml",
            Problem::UnknownKind("policy.set".into()),
            "69c2552ee27fdd2b4089b90286c145f34b3831f1165ad96c7d8ec93b41285b35",
            1,
        ),
        (
            "receipt-unknown-artifact-field.yaml",
            Problem::UnknownField { kind: "receipt", field: "artifacts[0].mirror".into() },
            "11e60f49364c45507861e08e7e2d9821c18c3d486c2450a3e4ad94382a6c1da2",
            3,
        ),
        (
            "receipt-unknown-class.yaml",
            Problem::UnknownValue { kind: "receipt", field: "class", value: "usage".into() },
            "e23d11d25917e9a234ffd06e7bdc7d084f50ba7ff820c85c873bb4e7db5b24e7",
            3,
        ),
        (
            "task.claim-unknown-field.yaml",
            Problem::UnknownField { kind: "task.claim", field: "exclusive".into() },
            "a02e9a5a9ce553b0b56eb9e23b50e78ee7bd7f6d889a1dd6dbcc22f9b27ebb38",
            3,
        ),
    ]
}

/// What every refusal of a newer record says: what to upgrade, to read what,
/// and in which order.
const UPGRADE: &str = "upgrade git-crew to a version that reads format v2 (a server's hook first, then every clone";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn sample(rel: &str) -> Vec<u8> {
    let path = fixtures().join("evolution").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn v1(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("v1/workspace").join(rel)).unwrap()
}

fn ws() -> Id {
    V1_WORKSPACE.parse().unwrap()
}

/// The committed bytes are the ones written once: nothing regenerated them.
/// The v2 files only append to the v1 sample's (log files are append-only),
/// and each v1-unknown record is one record, honestly signed by its author,
/// with the id pinned below: so what refuses it is its content, not a bad
/// signature.
#[test]
fn the_frozen_samples_are_byte_stable() {
    let found = files_under(&fixtures().join("evolution"));
    let listed: BTreeSet<String> = FROZEN.iter().map(|(p, _)| (*p).to_owned()).collect();
    assert_eq!(found, listed, "tests/fixtures/evolution/ holds exactly the frozen samples");
    for (rel, sha) in FROZEN {
        let digest: String = Sha256::digest(sample(rel)).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(&digest, sha, "tests/fixtures/evolution/{rel} changed: frozen samples are never rewritten");
    }
    for rel in ["CREW.yaml", TASK_FILE] {
        let (old, new) = (v1(rel), sample(&format!("v2/{rel}")));
        assert!(new.len() > old.len() && new.starts_with(&old), "v2/{rel} extends the v1 sample's {rel}");
        assert!(new[old.len()..].starts_with(b"---\nv: 2\n"), "v2/{rel} appends a record of format v2");
    }
    for (name, _, id, seed) in unknown_at_v1() {
        let bytes = sample(&format!("v1-unknown/{name}"));
        let frames = frame::split(&bytes).unwrap_or_else(|e| panic!("{name} frames: {e:?}"));
        assert_eq!(frames.len(), 1, "{name}");
        let f = &frames[0];
        assert_eq!(f.id(&bytes, &ws()).hex(), id, "{name}");
        assert_eq!(f.key, Keypair::from_seed([seed; 32]).public(), "{name}");
        let message = f.signed_message(&bytes, &ws());
        assert!(git_crew::sign::verify(&f.key, &message, &f.sig), "{name} is validly signed");
    }
}

/// The library, record by record: a newer `v` asks for an upgrade naming the
/// format and the kind, where the record starts; a kind, a field or a value
/// format v1 lacks is named, and is not reported as newer.
#[test]
fn the_library_names_what_it_cannot_read() {
    for (rel, kind) in [("CREW.yaml", "crew.format"), (TASK_FILE, "task.claim")] {
        let bytes = sample(&format!("v2/{rel}"));
        let at = v1(rel).len() + "---\n".len();
        let want = Problem::NewerFormat { version: 2, kind: Some(kind.into()) };
        assert_eq!(record::decode_file(&bytes, &ws()), Err((at, want.clone())), "v2/{rel}");
        let err = FileError::new(rel, (at, want));
        assert_eq!(err.needs_format(), Some(2));
        let text = err.to_string();
        assert!(text.starts_with(&format!("{rel}: byte {at}: a \"{kind}\" record of format v2")), "{text}");
        assert!(text.contains("reads (format v1)") && text.contains(UPGRADE), "{text}");
    }
    // A clone learns the workspace id from CREW.yaml before it reads any
    // other file: a raised workspace stops an old clone there.
    let manifest = sample("v2/CREW.yaml");
    assert!(matches!(genesis_id(&manifest), Err((425, Problem::NewerFormat { version: 2, .. }))));
    assert_eq!(genesis_id(&v1("CREW.yaml")), Ok(ws()));

    for (name, want, _, _) in unknown_at_v1() {
        let bytes = sample(&format!("v1-unknown/{name}"));
        assert_eq!(record::decode_file(&bytes, &ws()), Err((4, want.clone())), "v1-unknown/{name}");
        assert_eq!(want.needs_format(), None, "{name}");
        let text = want.to_string();
        assert!(text.contains("format v1") && text.contains("invalid in every version, not newer"), "{text}");
        assert!(!text.contains("upgrade"), "{name} is not a newer record: {text}");
    }
}

/// `schema/verify.py`, written from SIGNING.md alone, judges the samples as
/// the Rust decoder does: every one refused, the v2 ones as a newer format at
/// the same byte.
#[test]
fn the_reference_verifier_refuses_the_samples_alike() {
    let dir = fixtures().join("evolution");
    for rel in ["CREW.yaml", TASK_FILE] {
        let path = dir.join("v2").join(rel);
        let (code, out) = crate::reference::reference(&["--file", path.to_str().unwrap(), "--workspace", V1_WORKSPACE]);
        let at = v1(rel).len() + 4;
        assert_eq!(code, 4, "{out}");
        assert!(out.contains(&format!("byte {at}: written by a newer format (v: 2)")), "v2/{rel}: {out}");
    }
    for (name, _, id, _) in unknown_at_v1() {
        let path = dir.join("v1-unknown").join(name);
        let (code, out) = crate::reference::reference(&["--file", path.to_str().unwrap(), "--workspace", V1_WORKSPACE]);
        assert_eq!(code, 4, "{name}: {out}");
        assert!(out.contains(&format!("record {id}")) && !out.contains("newer"), "{name}: {out}");
    }
}

/// Commit `bytes` as `rel` of the crew branch checked out in `repo`, with
/// plain git, as a newer git-crew would have; the new tip.
fn commit_file(w: &World, repo: &Path, rel: &str, bytes: &[u8]) -> String {
    crate::common::write_at(repo, rel, bytes);
    w.commit_all(repo, "written by git-crew of format v2");
    tip(w, repo)
}

/// The one JSON error of a refused `--json` command.
fn json_error(w: &World, repo: &Path, args: &[&str]) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let run = w.crew(repo, &full);
    assert_eq!(run.code, 4, "{full:?}: {run:?}");
    assert!(run.stdout.trim().is_empty(), "{full:?} printed {}", run.stdout);
    serde_json::from_str(&run.stderr).unwrap_or_else(|e| panic!("{full:?}: {e}: {}", run.stderr))
}

/// An old clone of a workspace an admin raised to format v2: every command
/// that reads the branch stops at the raise in `CREW.yaml` with exit 4 and
/// asks for an upgrade (not "malformed"), writes nothing, and `verify` names
/// the record; the v2 records that follow in bob's task file do too.
#[test]
fn an_old_clone_stops_at_a_raised_workspace_and_writes_nothing() {
    let w = World::new();
    let repo = v1_sample_repo(&w, "old");
    w.keys().save(&ws(), "bob", &Keypair::from_seed([2; 32])).unwrap();
    // Today's git-crew reads the v1 sample (and caches it: the reads below
    // take the index's catch-up path).
    let list = w.crew_json(&repo, &["task", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

    let raise_at = v1("CREW.yaml").len() + 4;
    commit_file(&w, &repo, "CREW.yaml", &sample("v2/CREW.yaml"));
    let where_ = format!("CREW.yaml: byte {raise_at}: a \"crew.format\" record of format v2");
    let run = w.crew(&repo, &["task", "list"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains("the branch holds a record this git-crew cannot read"), "{}", run.stderr);
    assert!(run.stderr.contains(&where_) && run.stderr.contains(UPGRADE), "{}", run.stderr);
    assert!(!run.stderr.contains("malformed"), "a newer record is not malformed: {}", run.stderr);
    let err = json_error(&w, &repo, &["board"]);
    assert_eq!(err["error"]["code"], "verify", "{err}");
    assert!(err["error"]["message"].as_str().is_some_and(|m| m.contains(&where_) && m.contains(UPGRADE)), "{err}");
    // No hint to verify: verifying would only say the same again.
    assert!(err["error"]["hint"].is_null(), "{err}");
    // Nothing is written: not a task, not a claim of the task a v2 claim is
    // about to be added to.
    refused(&w, &repo, "bob", &["task", "add", "Written by an old clone"], 4, &where_);
    refused(&w, &repo, "bob", &["task", "claim", "49414ba4"], 4, &where_);

    let tip = commit_file(&w, &repo, TASK_FILE, &sample(&format!("v2/{TASK_FILE}")));
    refused(&w, &repo, "bob", &["task", "claim", "49414ba4"], 4, UPGRADE);
    // verify: the raise is the first failure; with --all, the claim of bob's
    // task too, each at its record.
    let err = json_error(&w, &repo, &["verify"]);
    let failures = err["error"]["failures"].as_array().cloned().unwrap_or_default();
    assert_eq!(failures.len(), 1, "{err}");
    assert_eq!(failures[0]["path"], "CREW.yaml", "{err}");
    assert_eq!(failures[0]["offset"], raise_at, "{err}");
    let err = json_error(&w, &repo, &["verify", "--all"]);
    let failures = err["error"]["failures"].as_array().cloned().unwrap_or_default();
    let claim_at = v1(TASK_FILE).len() + 4;
    let task_failure = failures.iter().find(|f| f["path"] == TASK_FILE).unwrap_or_else(|| panic!("{err}"));
    assert_eq!(task_failure["commit"], tip.as_str(), "{err}");
    assert_eq!(task_failure["offset"], claim_at, "{err}");
    let reason = task_failure["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("a \"task.claim\" record of format v2") && reason.contains(UPGRADE), "{reason}");
    assert_eq!(crate::common::tip(&w, &repo), tip, "nothing was written");
}

/// A hooked remote whose git-crew reads format v1 refuses a push of a v2
/// record, and the pusher reads why: the remote's git-crew must be upgraded,
/// first. The remote's branch does not move.
#[test]
fn an_old_server_hook_refuses_a_newer_record_and_says_to_upgrade_it_first() {
    let w = World::new();
    let remote = served_bare(&w, "remote.git");
    let url = remote.to_str().unwrap();
    let repo = v1_sample_repo(&w, "newer");
    w.git(&repo, &["push", "-q", url, "crew"]);
    let published = w.tip(&remote, "crew").expect("the v1 sample was published");
    commit_file(&w, &repo, "CREW.yaml", &sample("v2/CREW.yaml"));
    let out = w.git_output(&repo, &["push", url, "crew"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the old hook took a v2 record: {stderr}");
    let line = stderr.lines().find(|l| l.contains("git-crew: refused:")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.starts_with("remote: "), "{stderr}");
    assert!(line.contains("CREW.yaml") && line.contains("a \"crew.format\" record of format v2"), "{line}");
    assert!(line.contains(UPGRADE), "{line}");
    assert_eq!(w.tip(&remote, "crew"), Some(published), "the remote's branch moved");
}

/// An old clone syncing from a remote (without a hook) that a newer git-crew
/// raised: the sync fails asking for an upgrade, and the clone's branch
/// keeps what it had; it takes nothing it cannot read.
#[test]
fn an_old_clone_syncing_from_a_raised_remote_takes_nothing() {
    let w = World::new();
    let remote = w.bare("remote.git");
    let url = remote.to_str().unwrap();
    let newer = v1_sample_repo(&w, "newer");
    w.git(&newer, &["push", "-q", url, "crew"]);
    w.git(&w.root, &["clone", "-q", url, "old"]);
    let old = w.path("old");
    w.keys().save(&ws(), "bob", &Keypair::from_seed([2; 32])).unwrap();
    w.crew_ok(&old, &["--as", "bob", "sync"]);
    let before = tip(&w, &old);
    assert_eq!(Some(before.clone()), w.tip(&remote, "crew"), "the old clone took the v1 sample");

    commit_file(&w, &newer, "CREW.yaml", &sample("v2/CREW.yaml"));
    commit_file(&w, &newer, TASK_FILE, &sample(&format!("v2/{TASK_FILE}")));
    w.git(&newer, &["push", "-q", url, "crew"]);
    let run = w.crew(&old, &["--as", "bob", "sync"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("record of format v2") && run.stderr.contains(UPGRADE), "{}", run.stderr);
    assert_eq!(tip(&w, &old), before, "the old clone's branch moved");
    assert_eq!(w.crew_json(&old, &["task", "list"]).as_array().map(Vec::len), Some(2), "it still reads what it had");
}

/// A record that says `v: 1` but carries a field format v1 lacks (here one
/// that would change who holds the task) is refused by name, with exit 4: an
/// old client never folds the claim without the field.
#[test]
fn a_field_this_format_lacks_is_refused_not_folded_without_it() {
    let w = World::new();
    let repo = v1_sample_repo(&w, "r");
    w.crew_ok(&repo, &["task", "list"]);
    let mut file = v1(TASK_FILE);
    let at = file.len() + 4;
    file.extend_from_slice(&sample("v1-unknown/task.claim-unknown-field.yaml"));
    let tip = commit_file(&w, &repo, TASK_FILE, &file);
    let why = "unknown field \"exclusive\" in a task.claim record of format v1";
    let run = w.crew(&repo, &["task", "show", "49414ba4"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains(&format!("{TASK_FILE}: byte {at}: {why}")), "{}", run.stderr);
    assert!(run.stderr.contains("invalid in every version, not newer"), "{}", run.stderr);
    assert!(!run.stderr.contains("upgrade"), "not a newer record: {}", run.stderr);
    let err = json_error(&w, &repo, &["verify"]);
    let failure = &err["error"]["failures"][0];
    assert_eq!(failure["commit"], tip.as_str(), "{err}");
    assert_eq!(failure["path"], TASK_FILE, "{err}");
    assert_eq!(failure["record"], "a02e9a5a9ce553b0b56eb9e23b50e78ee7bd7f6d889a1dd6dbcc22f9b27ebb38", "{err}");
    assert!(failure["reason"].as_str().is_some_and(|r| r.contains(why)), "{err}");
}
