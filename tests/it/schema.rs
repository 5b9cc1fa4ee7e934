//! The record schemas (`schema/<kind>.json`) against what the library writes
//! and reads, and a frozen v1 sample guarding the byte format.
//!
//! - Every kind the CLI writes validates against its schema, and re-encodes to
//!   the same bytes: the records of the branch, and the heartbeats on
//!   `refs/crew/live/<actor>/<session>`.
//! - `tests/fixtures/valid/*.yaml` and `tests/fixtures/invalid/*.yaml` are
//!   record bodies (no `---` or `sig:` line) named `<kind>-<why>.yaml`. Each is
//!   checked against the schema of its kind AND, signed with a test key, against
//!   the Rust decoder: the two must agree, so the schemas stay exact. Every
//!   proof of possession in a valid fixture is a real one for the test
//!   workspace.
//! - Property tests compare the schema's name, timestamp, title, label,
//!   workspace, session, host and range rules with the decoder on generated
//!   values.
//! - The proof-of-possession message and the identity request text are pinned
//!   to the worked examples of `schema/SIGNING.md` (5.4 and 13);
//!   `tests/fixtures/identity/carol.request` is that request.
//! - `tests/fixtures/v1/` is a frozen sample of format v1. It was generated once
//!   by a throwaway test that called `git_crew::record::encode` on exactly the
//!   records listed in [`v1_workspace`] and [`v1_log`] below (keys from
//!   `Keypair::from_seed([n; 32])`, fixed `at` stamps, fixed nonce) and wrote the
//!   bytes. The test here decodes those committed bytes, checks ids and fields,
//!   re-encodes the same inputs and requires identical bytes, and verifies the
//!   sample as a real branch with `git crew verify`. Never regenerate these
//!   files: if this test fails, the format changed, which needs a new format
//!   version, not new fixtures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use git_crew::hlc::Hlc;
use git_crew::id::Id;
use git_crew::index::Need;
use git_crew::layout;
use git_crew::record::kinds::{
    validate_session, ActorAdmit, ActorResume, ActorRevoke, ActorRotate, ActorSuspend, ActorUpdate, Artifact, Budget,
    Channel, CrewPolicy, CrewRepair, Genesis, Grant, LiveBeat, MsgAck, MsgMembership, MsgSend, PathRelease,
    PathReserve, Power, Receipt, ReceiptClass, StepFlag, StepKind, SuperviseStep, TaskBlock, TaskCancel, TaskClaim,
    TaskComment, TaskCreate, TaskDone, TaskEdit, TaskHandoff, TaskRelease, TaskReopen, TaskUnblock, TaskUsage,
    MAX_TTL_SECS,
};
use git_crew::record::{self, canonical, frame, Payload, Problem, Role, KINDS};
use git_crew::request::{Request, RequestError};
use git_crew::sign::{self, Keypair, PublicKey, Signature};
use git_crew::state::{Refusal, State};
use git_crew::workspace::Workspace;
use jsonschema::{PatternOptions, Registry, Validator};
use proptest::prelude::*;
use serde_json::Value;

use crate::common::{files_under, World};

/// The `$id` of `schema/common.json`, which the kind schemas reference.
const COMMON_ID: &str = "https://git-crew.invalid/schema/v1/common.json";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// One validator per kind, built from `schema/`.
struct Schemas {
    by_kind: BTreeMap<String, Validator>,
}

impl Schemas {
    /// Load every kind's schema, with `common.json` registered under its `$id`.
    /// `regex_engine` selects the plain `regex` crate (no look-around, no
    /// backtracking) instead of the default `fancy-regex`, to show the patterns
    /// are portable.
    fn load(regex_engine: bool) -> Schemas {
        let dir = root().join("schema");
        let common = read_json(&dir.join("common.json"));
        assert_eq!(common["$id"], COMMON_ID);
        let registry = Registry::new().add(COMMON_ID, common).unwrap().prepare().unwrap();
        let mut by_kind = BTreeMap::new();
        for kind in KINDS {
            let path = dir.join(format!("{kind}.json"));
            assert!(path.is_file(), "record kind {kind} has no schema at {}", path.display());
            let schema = read_json(&path);
            let mut options = jsonschema::options().with_draft(jsonschema::Draft::Draft202012).with_registry(&registry);
            if regex_engine {
                options = options.with_pattern_options(PatternOptions::regex());
            }
            let validator = options.build(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            by_kind.insert((*kind).to_owned(), validator);
        }
        Schemas { by_kind }
    }

    /// Validate a body (as JSON) against the schema of `kind`; the errors if not.
    fn check(&self, kind: &str, body: &Value) -> Result<(), Vec<String>> {
        let validator = self.by_kind.get(kind).unwrap_or_else(|| panic!("no schema for kind {kind:?}"));
        let errors: Vec<String> = validator.iter_errors(body).map(|e| format!("{}: {e}", e.instance_path())).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn is_valid(&self, kind: &str, body: &Value) -> bool {
        self.check(kind, body).is_ok()
    }
}

/// The schemas, loaded once, with the default pattern engine.
fn schemas() -> &'static Schemas {
    static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| Schemas::load(false));
    &SCHEMAS
}

/// A YAML record body as the JSON value a schema validates.
fn body_json(body: &[u8]) -> Value {
    serde_norway::from_slice::<Value>(body)
        .unwrap_or_else(|e| panic!("body is not YAML ({e}): {}", String::from_utf8_lossy(body)))
}

/// What the Rust decoder says of a body: sign it with a test key for a test
/// workspace (under the kind named on its `kind:` line, as a writer would) and
/// decode the resulting one-record file.
fn decode_body(body: &str, fallback_kind: &str) -> Result<record::Record, (usize, Problem)> {
    let kind = body.lines().find_map(|l| l.strip_prefix("kind: \"")?.strip_suffix('"')).unwrap_or(fallback_kind);
    let ws = FIXTURE_WORKSPACE;
    let (bytes, _) = record::seal(&ws, kind, body, &Keypair::from_seed([9; 32]));
    let mut records = record::decode_file(&bytes, &ws)?;
    assert_eq!(records.len(), 1);
    Ok(records.remove(0))
}

/// The workspace id fixtures are signed for (and their proofs made for).
const FIXTURE_WORKSPACE: Id = Id([0x42; 32]);

/// The proof of possession a payload carries, with the name and key it is for.
fn proof_of(payload: &Payload) -> Option<(&str, &PublicKey, &Signature)> {
    match payload {
        Payload::ActorAdmit(a) => a.proof.as_ref().map(|p| (a.name.as_str(), &a.key, p)),
        Payload::ActorRotate(a) => Some((a.name.as_str(), &a.key, &a.proof)),
        _ => None,
    }
}

/// Fixture files of `tests/fixtures/<dir>`, as (kind, file name, body).
fn fixtures(dir: &str) -> Vec<(String, String, String)> {
    let dir = root().join("tests/fixtures").join(dir);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(name.ends_with(".yaml"), "{}: fixtures are .yaml files", path.display());
        let kind = name.split('-').next().unwrap().to_owned();
        assert!(KINDS.contains(&kind.as_str()), "{name}: a fixture's name starts with its kind and a '-'");
        out.push((kind, name, std::fs::read_to_string(&path).unwrap()));
    }
    out.sort();
    out
}

#[test]
fn schemas_are_valid_draft_2020_12_and_cover_exactly_the_kinds() {
    let dir = root().join("schema");
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".json") {
            let schema = read_json(&dir.join(&name));
            if let Err(e) = jsonschema::meta::validate(&schema) {
                panic!("schema/{name} is not a valid JSON Schema: {e}");
            }
            assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "schema/{name}");
            assert_eq!(schema["$id"], format!("https://git-crew.invalid/schema/v1/{name}"), "schema/{name}");
            files.insert(stem.to_owned());
        }
    }
    let mut expected: BTreeSet<String> = KINDS.iter().map(|k| (*k).to_owned()).collect();
    expected.insert("common".into());
    assert_eq!(files, expected, "schema/ must hold common.json and one <kind>.json per record kind");
    Schemas::load(false);
    Schemas::load(true);
}

/// Every property of every schema is documented, recursively.
#[test]
fn every_schema_property_has_a_description() {
    fn walk(path: &str, v: &Value) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (name, p) in props {
                let here = format!("{path}/properties/{name}");
                assert!(
                    p.get("description").and_then(Value::as_str).is_some_and(|d| !d.is_empty()),
                    "{here} has no description"
                );
                walk(&here, p);
            }
        }
        if let Some(defs) = v.get("$defs").and_then(Value::as_object) {
            for (name, d) in defs {
                let here = format!("{path}/$defs/{name}");
                assert!(d.get("description").is_some(), "{here} has no description");
            }
        }
        if let Some(items) = v.get("items") {
            assert!(items.get("description").is_some(), "{path}/items has no description");
        }
    }
    for name in KINDS.iter().map(|k| format!("{k}.json")).chain(["common.json".to_owned()]) {
        let schema = read_json(&root().join("schema").join(&name));
        assert!(schema.get("description").is_some(), "schema/{name} has no description");
        walk(&name, &schema);
    }
}

/// A schema's `properties` are listed in canonical key order: the order the
/// library emits a body with every optional field present. (Read with a YAML
/// parser, which keeps mapping order; serde_json's map may sort keys.)
#[test]
fn schema_property_order_is_the_canonical_key_order() {
    let key = Keypair::from_seed([1; 32]).public();
    let full = [
        Payload::Genesis(Genesis { workspace: "w".into(), nonce: "00".into(), key }),
        Payload::CrewRepair(CrewRepair {
            replaces: "0".repeat(40),
            base: "1".repeat(40),
            dropped: 1,
            reason: Some("r".into()),
        }),
        Payload::ActorAdmit(ActorAdmit {
            name: "bob".into(),
            role: Role::Agent,
            key,
            owner: Some("alice".into()),
            proof: Some(Signature([2; 64])),
        }),
        Payload::ActorSuspend(ActorSuspend {
            name: "bob".into(),
            reason: Some("r".into()),
            seen: Some(Id([2; 32])),
            seen_at: Some(Hlc { ms: 0, counter: 1 }),
        }),
        Payload::ActorResume(ActorResume { name: "bob".into() }),
        Payload::ActorRotate(ActorRotate { name: "bob".into(), key, proof: Signature([2; 64]) }),
        Payload::ActorRevoke(ActorRevoke { name: "bob".into(), reason: Some("r".into()) }),
        Payload::ActorUpdate(ActorUpdate { name: "bob".into(), role: Some(Role::Agent), owner: Some("carol".into()) }),
        Payload::LiveBeat(LiveBeat {
            session: "s".into(),
            host: "h".into(),
            pid: 1,
            started: Hlc { ms: 0, counter: 0 },
            ttl: 60,
            listening: true,
            ended: true,
        }),
        Payload::TaskCreate(TaskCreate {
            title: "t".into(),
            body: Some("b".into()),
            labels: vec!["l".into()],
            priority: 1,
            parent: Some(Id([8; 32])),
            depends_on: vec![Id([9; 32])],
        }),
        Payload::TaskEdit(TaskEdit {
            task: Id([7; 32]),
            title: Some("t".into()),
            body: Some("b".into()),
            labels: vec!["l".into()],
            priority: Some(1),
            parent: Some(Id([8; 32])),
            depends_on: vec![Id([9; 32])],
            drop_depends_on: vec![Id([10; 32])],
        }),
        Payload::TaskClaim(TaskClaim { task: Id([7; 32]), lease: 60, offline: true }),
        Payload::TaskRelease(TaskRelease { task: Id([7; 32]), reason: Some("r".into()) }),
        Payload::TaskHandoff(TaskHandoff {
            task: Id([7; 32]),
            to: "bob".into(),
            note: Some("n".into()),
            lease: Some(60),
        }),
        Payload::TaskCancel(TaskCancel { task: Id([7; 32]), reason: "r".into() }),
        Payload::TaskReopen(TaskReopen { task: Id([7; 32]), reason: Some("r".into()) }),
        Payload::TaskComment(TaskComment { task: Id([7; 32]), text: "c".into() }),
        Payload::TaskBlock(TaskBlock { task: Id([7; 32]), reason: "r".into() }),
        Payload::TaskUnblock(TaskUnblock { task: Id([7; 32]) }),
        Payload::TaskDone(TaskDone { task: Id([7; 32]), receipt: Some(Id([6; 32])), summary: Some("s".into()) }),
        Payload::Receipt(Receipt {
            task: Id([7; 32]),
            class: ReceiptClass::Test,
            summary: Some("s".into()),
            commits: vec!["0".repeat(40)],
            artifacts: vec![Artifact { path: "p".into(), sha256: "0".repeat(64), size: 1 }],
        }),
        Payload::MsgSend(MsgSend {
            channel: "general".into(),
            text: "m @bob".into(),
            thread: Some(Id([5; 32])),
            reply_to: Some(Id([4; 32])),
            mentions: vec!["bob".into()],
        }),
        Payload::MsgJoin(MsgMembership { channel: "general".into() }),
        Payload::MsgLeave(MsgMembership { channel: "general".into() }),
        Payload::MsgAck(MsgAck { items: vec![Id([3; 32]), Id([4; 32])] }),
        Payload::CrewPolicy(CrewPolicy {
            stalled_after: Some(1),
            dead_after: Some(1),
            runaway_per_minute: Some(1),
            task_seconds: Some(1),
            tokens: Some(1),
            cost: Some("1".into()),
            budgets: vec![Budget {
                actor: "bob".into(),
                task_seconds: Some(1),
                tokens: Some(1),
                cost: Some("1".into()),
            }],
            grants: vec![Grant { actor: "bob".into(), powers: vec![Power::Release] }],
            channel: Some("ops".into()),
        }),
        Payload::TaskUsage(TaskUsage { task: Id([7; 32]), tokens: Some(1), cost: Some("1".into()), seconds: Some(1) }),
        Payload::PathReserve(PathReserve { paths: vec!["a".into(), "b".into()], lease: 60, task: Some(Id([7; 32])) }),
        Payload::PathRelease(PathRelease { reservation: Id([7; 32]) }),
        Payload::SuperviseStep(SuperviseStep {
            flag: StepFlag::Stalled,
            step: StepKind::Nudge,
            actor: "bob".into(),
            task: Some(Id([7; 32])),
            why: "w".into(),
        }),
    ];
    let mut seen = BTreeSet::new();
    for payload in &full {
        let body = record::body("alice", Hlc { ms: 0, counter: 0 }, payload).unwrap();
        let emitted: Vec<&str> =
            body.lines().map(|l| l.split(':').next().unwrap()).filter(|k| !k.starts_with(' ')).collect();
        let text = std::fs::read_to_string(root().join("schema").join(format!("{}.json", payload.kind()))).unwrap();
        let schema: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        let listed: Vec<&str> =
            schema["properties"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(listed, emitted, "schema/{}.json properties are not in canonical order", payload.kind());
        // Mappings inside lists (receipt artifacts): their keys too, as the
        // first item's lines emit them (`  - path:`, then `    sha256:`, ...).
        for (name, property) in schema["properties"].as_mapping().unwrap() {
            let Some(item) = property["items"]["properties"].as_mapping() else { continue };
            let listed: Vec<&str> = item.keys().map(|k| k.as_str().unwrap()).collect();
            let name = name.as_str().unwrap();
            let emitted: Vec<&str> = body
                .lines()
                .skip_while(|l| *l != format!("{name}:"))
                .skip(1)
                .take(listed.len())
                .map(|l| l.trim_start_matches([' ', '-']).split(':').next().unwrap())
                .collect();
            assert_eq!(
                listed,
                emitted,
                "schema/{}.json {name} item properties are not in canonical order",
                payload.kind()
            );
        }
        seen.insert(payload.kind());
    }
    assert_eq!(seen.len(), KINDS.len(), "add the new kind, with every optional field set, to this test");
}

/// The fields a kind's schema lists but does not require, as `<kind>.<field>`.
fn optional_fields() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for kind in KINDS {
        let schema = read_json(&root().join("schema").join(format!("{kind}.json")));
        let required: Vec<&Value> = schema["required"].as_array().unwrap().iter().collect();
        for name in schema["properties"].as_object().unwrap().keys() {
            if !required.contains(&&Value::from(name.as_str())) {
                out.insert(format!("{kind}.{name}"));
            }
        }
    }
    out
}

#[test]
fn every_record_the_cli_writes_validates_and_re_encodes() {
    let world = World::new();
    let (dir, ws) = world.workspace("r");
    world.crew_ok(&dir, &["--as", "alice", "id", "new", "bob", "--role", "human"]);
    world.crew_ok(&dir, &["--as", "alice", "id", "new", "carol", "--role", "agent", "--owner", "bob"]);
    world.agent(&dir, "dave");
    world.crew_ok(&dir, &["--as", "alice", "id", "new", "erin", "--role", "admin"]);
    world.crew_ok(&dir, &["--as", "alice", "id", "new", "frank", "--role", "human", "--owner", "erin"]);
    // The id of the record a `--json` command printed.
    let write = |args: &[&str]| world.crew_json(&dir, args)["record"]["id"].as_str().unwrap().to_owned();
    let minimal = write(&["--as", "alice", "task", "add", "Minimal"]);
    let task: Id = minimal.parse().unwrap();
    let full = [
        "task",
        "add",
        "Fix \"the\" login \\ redirect é 🚀",
        "--body",
        "Steps:\n1.\tlog in\r\n2. loop\u{85}\u{2028}",
        "--label",
        "ui",
        "--label",
        "p0",
        "--label",
        "ü-ber",
        "--priority",
        "0",
    ];
    world.crew_ok(&dir, &[&["--as", "carol"][..], &full].concat());
    let low = write(&["--as", "bob", "task", "add", "Low", "--priority", "4", "--label", "later"]);
    let empty = write(&["--as", "erin", "task", "add", "Empty body is omitted", "--body", ""]);
    // Links: an epic, dependencies (one named by a prefix), then an edit of
    // every field and an edit of one.
    let epic = write(&["--as", "alice", "task", "add", "Epic"]);
    let dep = write(&["--as", "bob", "task", "add", "Dependency"]);
    let extra = write(&["--as", "bob", "task", "add", "Extra dependency"]);
    let child_args: &[&str] =
        &["task", "add", "Child", "--parent", &epic, "--depends-on", &minimal, "--depends-on", &dep[..8]];
    let child = write(&[&["--as", "bob"][..], child_args].concat());
    let edit: &[&str] = &[
        "task",
        "edit",
        &child,
        "--title",
        "Child, renamed \"é\" 🚀",
        "--body",
        "Now:\n\tmore\r\n\u{85}\u{2028}",
        "--label",
        "epic-part",
        "--label",
        "ü",
        "--priority",
        "1",
        "--parent",
        &epic,
        "--depends-on",
        &extra,
        "--drop-depends-on",
        &minimal[..10],
    ];
    world.crew_ok(&dir, &[&["--as", "carol"][..], edit].concat());
    world.crew_ok(&dir, &["--as", "dave", "task", "edit", &child, "--priority", "3"]);
    // A claim, a comment and a handoff by the holder; the new holder attaches
    // a receipt made by the CLI and closes the task with it.
    world.crew_ok(&dir, &["--as", "dave", "task", "claim", &minimal, "--lease", "2h"]);
    world.crew_ok(&dir, &["--as", "dave", "task", "comment", &minimal, "Looking into it:\n\t\"é\" 🚀 \\"]);
    world.crew_ok(&dir, &["--as", "dave", "task", "handoff", &minimal, "--to", "carol", "--note", "Over to you\n:)"]);
    std::fs::write(dir.join("report.txt"), "ok\n").unwrap();
    let receipt_args: &[&str] =
        &["receipt", "add", "--task", &minimal, "--artifact", "report.txt", "--kind", "test", "--summary"];
    let by_cli = write(&[&["--as", "carol"][..], receipt_args, &["1 passed"]].concat());
    world.crew_ok(&dir, &["--as", "carol", "task", "done", &minimal, "--receipt", &by_cli[..8], "--summary", "Fixed"]);
    // An offline claim given up with a reason; a claim an admin forces free.
    world.crew_ok(&dir, &["--as", "bob", "task", "claim", &low, "--offline"]);
    world.crew_ok(&dir, &["--as", "bob", "task", "release", &low, "--reason", "Not today"]);
    world.crew_ok(&dir, &["--as", "frank", "task", "claim", &empty]);
    world.crew_ok(&dir, &["--as", "erin", "task", "release", &empty]);
    // A block and its unblock; then a claim and a plain close.
    world.crew_ok(&dir, &["--as", "frank", "task", "block", &dep, "--reason", "Waiting on\nthe API key"]);
    world.crew_ok(&dir, &["--as", "bob", "task", "unblock", &dep]);
    world.crew_ok(&dir, &["--as", "bob", "task", "claim", &dep]);
    world.crew_ok(&dir, &["--as", "bob", "task", "done", &dep]);
    // Humans in control: a human cancels a task, with a reason, and reopens
    // it, with a reason; the owner of an agent assigns it to the agent, with a
    // note and a lease; an admin gives an agent a new owner (and its role).
    world.crew_ok(&dir, &["--as", "bob", "task", "cancel", &low, "--reason", "Not needed:\n\t\"é\" 🚀 \\"]);
    world.crew_ok(&dir, &["--as", "bob", "task", "reopen", &low, "--reason", "Needed after all"]);
    world.crew_ok(
        &dir,
        &["--as", "bob", "task", "assign", &low, "--to", "carol", "--note", "Yours\n:)", "--lease", "1h"],
    );
    world.crew_ok(&dir, &["--as", "alice", "id", "update", "dave", "--role", "agent", "--owner", "bob"]);
    // A commit receipt, as the post-commit hook writes it (summary and commits),
    // for a plain commit on the normal branch with a Crew-Task: trailer.
    world.crew_ok(&dir, &["install"]);
    std::fs::write(dir.join("login.rs"), "fn main() {}\n").unwrap();
    world.git(&dir, &["add", "login.rs"]);
    let message = format!("Fix the login redirect\n\nCrew-Task: {}\n", &task.hex()[..8]);
    world.git(&dir, &["commit", "-q", "-m", &message]);
    let code_commit = world.git(&dir, &["rev-parse", "HEAD"]).trim().to_owned();
    // Receipts the CLI cannot write: by the library, one with artifacts only and
    // one with every field (a 64-digit commit id, an artifact of 2^64-1 bytes).
    let ws_lib = Workspace::open(&dir, "crew", world.keys()).unwrap();
    let artifact = |path: &str, sha: u8, size| Artifact { path: path.into(), sha256: id_hex(sha), size };
    let only_artifacts = Receipt {
        task,
        class: ReceiptClass::Build,
        summary: None,
        commits: vec![],
        artifacts: vec![artifact("target/release/git-crew", 0xab, 4_321_000)],
    };
    ws_lib.add_receipt("carol", only_artifacts).unwrap();
    let every_field = Receipt {
        task,
        class: ReceiptClass::Test,
        summary: Some("cargo test: 212 passed\n\tfailed: 0 \"é🚀\" \\ \u{85}\u{2028}".into()),
        commits: vec![code_commit.clone(), id_hex(0x5c)],
        artifacts: vec![artifact("reports/junit.xml", 0x01, 0), artifact("ü ber/\"x\".log", 0xfe, u64::MAX)],
    };
    ws_lib.add_receipt("bob", every_field).unwrap();
    // Messages: bob joins a channel; alice writes in it mentioning bob, and to
    // bob directly; carol writes in a task's discussion (named by a prefix);
    // bob answers in the thread (thread and reply_to), leaves, and acknowledges
    // what is unread (the mention and the direct message).
    world.crew_ok(&dir, &["--as", "bob", "msg", "join", "#general"]);
    let text = "Ship it?\n\t\"é\" 🚀 \\ @bob, a@b.c";
    let in_general = write(&["--as", "alice", "msg", "send", "--to", "#general", text]);
    world.crew_ok(&dir, &["--as", "alice", "msg", "send", "--to", "bob", "Got a minute?\r\n\u{85}\u{2028}"]);
    world.crew_ok(&dir, &["--as", "carol", "msg", "send", "--task", &child[..8], "Starting on this"]);
    world.crew_ok(&dir, &["--as", "bob", "msg", "send", "--reply-to", &in_general[..8], "Yes, @alice"]);
    world.crew_ok(&dir, &["--as", "bob", "msg", "leave", "general"]);
    let unread = world.crew_json(&dir, &["--as", "bob", "inbox"]);
    assert_eq!(unread.as_array().map(Vec::len), Some(2), "bob's unread items: {unread}");
    let acked = world.crew_json(&dir, &["--as", "bob", "inbox", "--ack"]);
    assert!(acked["record"]["id"].is_string(), "{acked}");
    // The kill switch: the admin suspends an agent, with a reason, and resumes it.
    world.crew_ok(&dir, &["--as", "alice", "suspend", "dave", "--reason", "Runaway loop:\n\t\"é\" 🚀 \\"]);
    world.crew_ok(&dir, &["--as", "alice", "resume", "dave"]);
    // Identities: gina asks to join (a request made where her key is made) and
    // an admin admits her from it, with its proof, as every admission carries
    // one; she rotates her own key and writes with the new one; an admin
    // revokes it, with a reason, and gives her a new key from a fresh request,
    // which lifts the revocation; frank revokes his own key.
    let request = world.path("gina.request");
    let request = request.to_str().unwrap();
    world.crew_ok(&dir, &["id", "request", "gina", "--role", "agent", "--owner", "bob", "--out", request]);
    world.crew_ok(&dir, &["--as", "alice", "id", "admit", request]);
    world.crew_ok(&dir, &["--as", "gina", "task", "comment", &epic, "Signed with my first key"]);
    world.crew_ok(&dir, &["--as", "gina", "id", "rotate"]);
    world.crew_ok(&dir, &["--as", "gina", "task", "comment", &epic, "Signed with my second key"]);
    world.crew_ok(&dir, &["--as", "alice", "id", "revoke", "gina", "--reason", "Leaked:\n\t\"key\" 🚀 \\"]);
    world.crew_ok(&dir, &["id", "request", "gina", "--out", request]);
    world.crew_ok(&dir, &["--as", "alice", "id", "rotate", "gina", "--request", request]);
    world.crew_ok(&dir, &["--as", "frank", "id", "revoke", "frank"]);
    // A repair record, as `git crew repair` writes it once it has replaced a
    // remote's branch (by the library: the command needs a hookless remote).
    let repair = CrewRepair {
        replaces: "9fceb02d0ae598e95dc970b74767f19372d61af8".into(),
        base: code_commit.clone(),
        dropped: 2,
        reason: Some("A push past no hook:\n\t\"é\" 🚀 \\".into()),
    };
    ws_lib.write("alice", &Need::Core, |_| Ok(vec![Payload::CrewRepair(repair.clone())])).unwrap();
    // Heartbeats: a session that beats, and one that listened and has ended.
    world.crew_ok(&dir, &["--as", "bob", "heartbeat", "--session", "loop-1", "--ttl", "60s", "--no-sync"]);
    world.crew_ok(&dir, &["--as", "carol", "heartbeat", "--session", "follow", "--listening", "--end", "--no-sync"]);
    // Fleet control: the policy with every field, a usage report with every
    // field, and a supervisor's step with a task: dave's claim with no live
    // session outlives the policy's dead_after, so alice requeues it (a
    // release, a direct message to dave and a message in #ops).
    let policy: &[&str] = &[
        "--as",
        "alice",
        "policy",
        "set",
        "--stalled-after",
        "30m",
        "--dead-after",
        "1s",
        "--runaway-per-minute",
        "600",
        "--task-time",
        "4h",
        "--tokens",
        "2000000",
        "--cost",
        "25.5",
        "--budget",
        "carol:time=1h,tokens=5000,cost=0.35",
        "--grant",
        "alice=suspend,release",
        "--channel",
        "#ops",
    ];
    world.crew_ok(&dir, policy);
    let usage = ["--as", "carol", "usage", "--task", &child, "--tokens", "1200", "--cost", "0.02", "--seconds", "90"];
    world.crew_ok(&dir, &usage);
    world.crew_ok(&dir, &["--as", "dave", "task", "claim", &extra]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let steps = world.crew_ok(&dir, &["--as", "alice", "--json", "supervise", "--once"]);
    assert!(steps.contains("\"step\":\"requeue\"") && steps.contains("dead-holder"), "{steps}");
    // Path reservations: one of its own, ended; one for a task.
    let reservation = write(&["--as", "dave", "reserve", "src/ü ber", "docs/\"x\".md", "--lease", "2h"]);
    world.crew_ok(&dir, &["--as", "dave", "unreserve", &reservation[..10]]);
    world.crew_ok(&dir, &["--as", "carol", "task", "claim", &epic]);
    world.crew_ok(&dir, &["--as", "carol", "reserve", "src/login.rs", "--task", &epic[..8]]);

    let schemas = schemas();
    // An actor whose key was rotated signed with several keys: every key made here.
    let keys = local_keys(&world, &ws);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut written: BTreeSet<String> = BTreeSet::new();
    let mut receipts = Vec::new();
    // What every record the CLI wrote must satisfy, wherever it lives (`place`:
    // its branch path, or the reference of a heartbeat).
    let mut check = |place: &str, bytes: &[u8], f: &frame::Frame, r: &record::Record| {
        let body = body_json(&bytes[f.body.clone()]);
        if let Err(errors) = schemas.check(&f.kind, &body) {
            panic!("{place}: record {} does not match schema/{}.json:\n{}", r.id, f.kind, errors.join("\n"));
        }
        for k in body.as_object().unwrap().keys() {
            written.insert(format!("{}.{k}", f.kind));
        }
        assert_ne!(body.get("body"), Some(&Value::from("")), "{place}: an empty body is omitted");
        *seen.entry(f.kind.clone()).or_default() += 1;
        if let Payload::Receipt(rc) = &r.payload {
            receipts.push((r.author.clone(), rc.clone()));
        }
        // Writers emit exactly the canonical encoding: the same inputs give the same bytes.
        let key = keys.get(&r.key).unwrap_or_else(|| panic!("{place}: record {} signed with no key made here", r.id));
        let (again, reencoded) = record::encode(&ws, &r.author, r.at, r.payload.clone(), key).unwrap();
        assert_eq!(&again, r);
        assert_eq!(reencoded, &bytes[f.span.clone()], "{place}: record {} does not re-encode to its bytes", r.id);
        assert_eq!(layout::path_of(r), place);
    };
    let mut all = Vec::new();
    let paths = world.git(&dir, &["ls-tree", "-r", "--name-only", "crew"]);
    for path in paths.lines() {
        let place = layout::classify(path).unwrap_or_else(|| panic!("{path}: outside the layout"));
        let out = world.git_output(&dir, &["show", &format!("crew:{path}")]);
        assert!(out.status.success());
        let bytes = out.stdout;
        if !place.is_log() {
            assert_eq!(bytes, layout::ATTRIBUTES_CONTENT);
            continue;
        }
        let frames = frame::split(&bytes).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        let records = record::decode_file(&bytes, &ws).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        assert_eq!(frames.len(), records.len());
        for (f, r) in frames.iter().zip(&records) {
            assert_ne!(r.kind(), "live.beat", "{path}: a heartbeat on the branch");
            check(path, &bytes, f, r);
        }
        if let [first, ..] = records.as_slice() {
            if path == layout::MANIFEST {
                assert_eq!(first.id, ws, "the workspace id is the genesis record's id");
            }
        }
        all.extend(records);
    }
    // Heartbeats: each the whole content of the blob its live ref points to.
    let live = world.git(&dir, &["for-each-ref", "--format=%(refname) %(objectname)", layout::LIVE_REFS]);
    for line in live.lines() {
        let (refname, oid) = line.split_once(' ').unwrap();
        let bytes = world.git_output(&dir, &["cat-file", "blob", oid]).stdout;
        let frames = frame::split(&bytes).unwrap_or_else(|e| panic!("{refname}: {e:?}"));
        let [f] = frames.as_slice() else { panic!("{refname}: a beat is one record, not {}", frames.len()) };
        assert_eq!(f.span, 0..bytes.len(), "{refname}: the beat is the whole blob");
        let records = record::decode_file(&bytes, &ws).unwrap_or_else(|e| panic!("{refname}: {e:?}"));
        let Payload::LiveBeat(beat) = &records[0].payload else { panic!("{refname}: not a beat") };
        assert_eq!(refname, layout::live_ref(&records[0].author, &beat.session));
        check(refname, &bytes, f, &records[0]);
    }
    for kind in KINDS {
        assert!(seen.contains_key(*kind), "the CLI wrote no {kind} record in this test (seen: {seen:?})");
    }
    assert_eq!(seen["actor.admit"], 6);
    assert_eq!(seen["actor.rotate"], 2);
    assert_eq!(seen["actor.revoke"], 2);
    assert_eq!(seen["live.beat"], 2);
    assert_eq!(seen["actor.suspend"], 1);
    assert_eq!(seen["actor.resume"], 1);
    // The supervisor's election task and its claim of it; dave's claim, and
    // the supervisor's requeue of it and of carol's assigned task (neither
    // beats), each with messages to the holder, its owner and #ops.
    assert_eq!(seen["task.create"], 9);
    assert_eq!(seen["task.edit"], 2);
    assert_eq!(seen["task.claim"], 7);
    assert_eq!(seen["task.release"], 4);
    assert_eq!(seen["task.done"], 2);
    assert_eq!(seen["task.cancel"], 1);
    assert_eq!(seen["task.reopen"], 1);
    assert_eq!(seen["task.handoff"], 2);
    assert_eq!(seen["actor.update"], 1);
    assert_eq!(seen["receipt"], 4, "the CLI wrote one receipt, the post-commit hook one, the library two");
    assert_eq!(seen["msg.send"], 10);
    assert_eq!((seen["crew.policy"], seen["task.usage"], seen["supervise.step"]), (1, 1, 2));
    assert_eq!((seen["path.reserve"], seen["path.release"]), (2, 1));
    assert_eq!(seen["msg.join"], 1);
    assert_eq!(seen["msg.leave"], 1);
    assert_eq!(seen["msg.ack"], 1);
    let by_hook = Receipt {
        task,
        class: ReceiptClass::Commit,
        summary: Some("Fix the login redirect".into()),
        commits: vec![code_commit],
        artifacts: vec![],
    };
    assert!(receipts.contains(&("alice".to_owned(), by_hook)), "the post-commit hook's receipt: {receipts:?}");
    let optional = optional_fields();
    let missing: Vec<&String> = optional.difference(&written).collect();
    assert!(missing.is_empty(), "every optional field is written at least once; never written: {missing:?}");
    // And every record the commands wrote counts: none is void.
    let state = State::fold(ws, &all);
    assert!(state.ignored.is_empty(), "records that do not count: {:?}", state.ignored);
    let t = &state.tasks[&task];
    assert_eq!(t.done.as_ref().map(|d| d.by.as_str()), Some("carol"));
    let child = &state.tasks[&child.parse::<Id>().unwrap()];
    assert_eq!(child.title, "Child, renamed \"é\" 🚀");
    assert_eq!(child.priority, 3);
    assert_eq!(child.parent, Some(epic.parse().unwrap()));
    assert_eq!(child.depends_on, [dep.parse::<Id>().unwrap(), extra.parse().unwrap()]);
    let general = &state.channels["general"];
    assert_eq!(general.messages, 2);
    assert!(general.members().next().is_none(), "bob left: {:?}", general.membership);
    // alice's message, and the supervisor's (alice's) two requeues told to
    // bob, the owner of both agents.
    let dm = Channel::direct("alice", "bob").to_string();
    assert_eq!(state.channels[&dm].messages, 3);
    let discussion = Channel::Task(child.id).to_string();
    assert_eq!(state.channels[&discussion].messages, 1);
    let acked_items = acked["record"]["fields"]["items"].as_array().unwrap();
    assert_eq!(acked_items.len(), 2, "exactly the two items shown: {acked}");
    // bob read what he was shown; what is unread came after: the
    // supervisor's two requeues, direct messages to the agents' owner.
    let bob = state.inboxes.get("bob").cloned().unwrap_or_default();
    let after: Vec<&String> = bob.unread.values().map(|u| &u.path).collect();
    assert_eq!(after.len(), 2, "bob read what he was shown: {:?}", bob.unread);
    assert!(after.iter().all(|p| p.starts_with("channels/dm/alice+bob/")), "{:?}", bob.unread);
    let gina = &state.actors["gina"];
    assert_eq!(
        (gina.retired.len(), gina.revoked.as_ref()),
        (2, None),
        "two rotations, the second lifting the revocation"
    );
    assert_eq!(gina.records, 3, "her comments (one per key) and her own rotation");
    assert_eq!(state.actors["frank"].revoked.as_ref().map(|v| v.by.as_str()), Some("frank"));
    let out = world.crew_json(&dir, &["verify"]);
    assert_eq!(out["ok"], true, "{out}");
}

/// Every private key made on this machine for `ws` (current, pending and
/// retired key files alike), by public key.
fn local_keys(world: &World, ws: &Id) -> BTreeMap<PublicKey, Keypair> {
    let dir = world.keys().root().join("keys").join(ws.hex());
    let files = files_under(&dir);
    let mut out = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(dir.join(&f)).unwrap();
        let Some(seed) = text.trim_end().strip_prefix("ed25519-seed ") else { continue };
        let seed = git_crew::id::unhex(seed).and_then(|b| <[u8; 32]>::try_from(b).ok());
        let key = Keypair::from_seed(seed.unwrap_or_else(|| panic!("{f}: not a key file")));
        out.insert(key.public(), key);
    }
    out
}

/// 64 hex digits: the byte `b` 32 times.
fn id_hex(b: u8) -> String {
    Id([b; 32]).hex()
}

#[test]
fn valid_fixtures_validate_and_decode() {
    let schemas = [Schemas::load(false), Schemas::load(true)];
    let mut kinds = BTreeSet::new();
    for (kind, name, body) in fixtures("valid") {
        for s in &schemas {
            if let Err(errors) = s.check(&kind, &body_json(body.as_bytes())) {
                panic!("valid/{name} does not match schema/{kind}.json:\n{}", errors.join("\n"));
            }
        }
        match decode_body(&body, &kind) {
            Ok(r) => {
                assert_eq!(r.kind(), kind, "valid/{name}");
                // The decoder does not check proofs (the fold does), but a
                // valid fixture's proof is a real one.
                if let Some((who, key, proof)) = proof_of(&r.payload) {
                    assert!(
                        sign::verify_proof(&FIXTURE_WORKSPACE, who, key, proof),
                        "valid/{name}: not a proof of {key} for {who:?} in the fixture workspace"
                    );
                }
            }
            Err(e) => panic!("valid/{name} matches the schema but the decoder refuses it: {e:?}"),
        }
        kinds.insert(kind);
    }
    assert_eq!(kinds.len(), KINDS.len(), "every kind has valid fixtures (have {kinds:?})");
}

#[test]
fn invalid_fixtures_fail_the_schema_and_the_decoder() {
    let schemas = [Schemas::load(false), Schemas::load(true)];
    let mut kinds = BTreeSet::new();
    for (kind, name, body) in fixtures("invalid") {
        for s in &schemas {
            assert!(!s.is_valid(&kind, &body_json(body.as_bytes())), "invalid/{name} matches schema/{kind}.json");
        }
        match decode_body(&body, &kind) {
            Ok(r) => panic!("invalid/{name} fails the schema but the decoder accepts it: {r:?}"),
            Err((_, Problem::BadSignature)) => panic!("invalid/{name}: test harness signed it wrong"),
            Err(_) => {}
        }
        kinds.insert(kind);
    }
    assert_eq!(kinds.len(), KINDS.len(), "every kind has invalid fixtures (have {kinds:?})");
}

/// Key order and omitted empty fields belong to the byte encoding, which a JSON
/// Schema cannot see (objects are unordered): the schema accepts these bodies,
/// the decoder refuses them as non-canonical. `schema/SIGNING.md` section 3.4.
#[test]
fn key_order_is_checked_by_the_encoding_not_the_schema() {
    let head = |kind: &str| format!("v: 1\nkind: \"{kind}\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\n");
    let (key, proof) = (public(2), Keypair::from_seed([2; 32]).prove(&FIXTURE_WORKSPACE, "bob"));
    let beat = format!("session: \"s\"\nhost: \"h\"\npid: 1\nstarted: \"{HEADER_AT}\"\nttl: 60\n");
    let cases = [
        ("task.create", "priority: 2\ntitle: \"x\"\n".to_owned()),
        ("task.create", "title: \"x\"\npriority: 2\nbody: \"b\"\n".to_owned()),
        ("actor.rotate", format!("name: \"bob\"\nproof: \"{proof}\"\nkey: \"{key}\"\n")),
        ("actor.suspend", format!("name: \"bob\"\nseen_at: \"{HEADER_AT}\"\nseen: \"{}\"\n", id_hex(1))),
        ("live.beat", format!("{beat}ended: true\nlistening: true\n")),
        ("live.beat", beat.replace("ttl: 60\n", "").replace("pid: 1\n", "ttl: 60\npid: 1\n")),
    ];
    for (kind, fields) in cases {
        let body = format!("{}{fields}", head(kind));
        assert!(schemas().is_valid(kind, &body_json(body.as_bytes())), "{body}");
        assert!(matches!(decode_body(&body, kind), Err((_, Problem::NonCanonical))), "{body}");
    }
}

/// Rules between fields that a JSON Schema cannot state (one value equal to
/// another): the schema accepts these bodies, the decoder refuses them.
/// `schema/SIGNING.md` sections 4.4 and 4.6.
#[test]
fn link_rules_are_checked_by_the_decoder_not_the_schema() {
    let (a, b) = (id_hex(0xa1), id_hex(0xb2));
    let head = |kind: &str| format!("v: 1\nkind: \"{kind}\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\n");
    let cases = [
        ("task.create", format!("title: \"t\"\npriority: 2\nparent: \"{a}\"\ndepends_on:\n  - \"{b}\"\n  - \"{a}\"\n")),
        ("task.edit", format!("task: \"{a}\"\nparent: \"{a}\"\n")),
        ("task.edit", format!("task: \"{a}\"\ndepends_on:\n  - \"{a}\"\n")),
        ("task.edit", format!("task: \"{a}\"\nparent: \"{b}\"\ndepends_on:\n  - \"{b}\"\n")),
        ("task.edit", format!("task: \"{a}\"\ndepends_on:\n  - \"{b}\"\ndrop_depends_on:\n  - \"{b}\"\n")),
    ];
    for (kind, fields) in cases {
        let body = format!("{}{fields}", head(kind));
        assert!(schemas().is_valid(kind, &body_json(body.as_bytes())), "{body}");
        assert!(matches!(decode_body(&body, kind), Err((_, Problem::BadField(_)))), "{body}");
    }
}

/// Order rules a JSON Schema cannot state (comparing two strings): the two
/// names of a direct conversation differ and are sorted, and mentions are
/// sorted. The schema accepts these bodies, the decoder refuses them.
/// `schema/SIGNING.md` section 4.14.
#[test]
fn message_order_rules_are_checked_by_the_decoder_not_the_schema() {
    let head = format!("v: 1\nkind: \"msg.send\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\n");
    let cases = [
        "channel: \"dm/bob+alice\"\ntext: \"hi\"\n",
        "channel: \"dm/alice+alice\"\ntext: \"hi\"\n",
        "channel: \"dm/a0+a-b\"\ntext: \"'-' sorts before the digits\"\n",
        "channel: \"dm/alice+al\"\ntext: \"a prefix sorts first\"\n",
        "channel: \"general\"\ntext: \"@carol @bob\"\nmentions:\n  - \"carol\"\n  - \"bob\"\n",
    ];
    for fields in cases {
        let body = format!("{head}{fields}");
        assert!(schemas().is_valid("msg.send", &body_json(body.as_bytes())), "{body}");
        assert!(matches!(decode_body(&body, "msg.send"), Err((_, Problem::BadField(_)))), "{body}");
    }
    // An ack's items are sorted: a rule between values, like mentions.
    let head = format!("v: 1\nkind: \"msg.ack\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\n");
    let body = format!("{head}items:\n  - \"{}\"\n  - \"{}\"\n", "b".repeat(64), "a".repeat(64));
    assert!(schemas().is_valid("msg.ack", &body_json(body.as_bytes())), "{body}");
    assert!(matches!(decode_body(&body, "msg.ack"), Err((_, Problem::BadField(_)))), "{body}");
}

/// `tests/fixtures/signature/small-order-r.yaml` holds two task.create records
/// by alice (seed 1) for workspace `[0x42; 32]`. The second is honestly signed.
/// The first was crafted by the key's owner with R = the identity point (small
/// order) and S = k·a mod L, so it satisfies the cofactorless equation but not
/// strict verification (SIGNING.md 5.3, ed25519-dalek `verify_strict`). It must
/// be refused whether it is verified alone or together with other records
/// (ed25519 batch verification would accept it, making a record's verdict
/// depend on which records happen to be checked with it). The identity R is
/// the simplest such signature; any small-order R works the same way.
#[test]
fn a_signature_with_small_order_r_is_refused_alone_and_in_a_batch() {
    let ws = Id([0x42; 32]);
    let file = std::fs::read(root().join("tests/fixtures/signature/small-order-r.yaml")).unwrap();
    let frames = frame::split(&file).unwrap();
    assert_eq!(frames[0].sig.0[..32], [&[1u8][..], &[0; 31]].concat()[..], "R is the identity point");
    let alone = &file[frames[0].span.clone()];
    assert!(matches!(record::decode_file(alone, &ws), Err((0, Problem::BadSignature))));
    assert!(matches!(record::decode_file(&file, &ws), Err((0, Problem::BadSignature))));
}

// ---------------------------------------------------------------------------
// Proofs of possession, identity requests, heartbeats and key validity, as
// `schema/SIGNING.md` states them.

/// `schema/SIGNING.md`.
fn signing_md() -> String {
    std::fs::read_to_string(root().join("schema/SIGNING.md")).unwrap()
}

/// The worked example of SIGNING.md 5.4: carol's key (seed 3) of the v1
/// sample, for the name carol in the sample's workspace.
const CAROL_PROOF: &str = "a42936259908b8af7273e42edfc76d80b8d1c08337f25494849300daee631438140ed278b4a65f1c6576c77e73967191641e4942807db0061e4259a62c48a402";

/// SIGNING.md 5.4: the key message byte for byte, and what a proof binds.
#[test]
fn the_proof_of_possession_is_the_key_message_of_signing_md() {
    let ws: Id = V1_WORKSPACE.parse().unwrap();
    let carol = Keypair::from_seed([3; 32]);
    let key = carol.public().to_string();
    assert_eq!(sign::KEY_DOMAIN, b"git-crew key v1\0");
    let parts = ["6769742d63726577206b657920763100", V1_WORKSPACE, "6361726f6c", "00", key.as_str()];
    let message = sign::key_message(&ws, "carol", &carol.public());
    assert_eq!(git_crew::id::hex(&message), parts.concat());
    assert_eq!(message.len(), 16 + 32 + 5 + 1 + 32);
    let proof = carol.prove(&ws, "carol");
    assert_eq!(proof.to_string(), CAROL_PROOF);
    // Strictly verified under the key, as a record signature is.
    assert!(sign::verify(&carol.public(), &message, &proof));
    assert!(sign::verify_proof(&ws, "carol", &carol.public(), &proof));
    // It binds the workspace, the name and the key.
    assert!(!sign::verify_proof(&Id::ZERO, "carol", &carol.public(), &proof));
    assert!(!sign::verify_proof(&ws, "carl", &carol.public(), &proof));
    assert!(!sign::verify_proof(&ws, "carol", &public(4), &proof));
    // No record signature is a proof, nor a proof a record signature.
    assert_ne!(sign::DOMAIN[..10], sign::KEY_DOMAIN[..10]);
    let doc = signing_md();
    for part in parts.iter().chain([&CAROL_PROOF]) {
        assert!(doc.contains(&format!("\n{part}")), "SIGNING.md 5.4 shows {part}");
    }
}

/// SIGNING.md 13: `tests/fixtures/identity/carol.request` is what git-crew
/// writes for carol and what the section shows; only the workspace, the name
/// and the key are signed.
#[test]
fn identity_requests_are_as_signing_md_says() {
    let text = std::fs::read_to_string(root().join("tests/fixtures/identity/carol.request")).unwrap();
    let ws: Id = V1_WORKSPACE.parse().unwrap();
    let request = Request::new(ws, "carol", Role::Agent, Some("bob"), &Keypair::from_seed([3; 32]));
    assert_eq!(request.to_text(), text);
    assert_eq!(request.proof.to_string(), CAROL_PROOF);
    assert_eq!(Request::parse(text.as_bytes()), Ok(request.clone()));
    assert!(signing_md().contains(&format!("```text\n{text}```\n")), "SIGNING.md 13 shows the request");
    let parse = |t: &str| Request::parse(t.as_bytes());
    // Role and owner are suggestions, not signed.
    assert!(parse(&text.replace("role: agent", "role: human").replace("owner: bob\n", "")).is_ok());
    let other_key = public(4).to_string();
    for (from, to) in
        [("name: carol", "name: carl"), (V1_WORKSPACE, &id_hex(0x77)), (&request.key.to_string(), &other_key)]
    {
        assert!(matches!(parse(&text.replace(from, to)), Err(RequestError::BadProof(_))), "{from} -> {to}");
    }
    // Comments, blank lines, trailing white space and CRLF are ignored.
    let annotated = text.replacen('\n', "\n# from carol's laptop\n\n", 1).replace('\n', " \r\n");
    assert_eq!(parse(&annotated), Ok(request.clone()));
    // The header line first; no unknown field, no field twice, no other line; 4096 bytes at most.
    let malformed = [
        text.replacen("# git-crew identity request v1\n", "", 1),
        text.replacen("request v1", "request v2", 1),
        format!("{text}note: hi\n"),
        format!("{text}name: carol\n"),
        format!("{text}just words\n"),
        format!("{text}{}\n", "#".repeat(4096 - text.len())),
    ];
    for bad in &malformed {
        assert!(matches!(parse(bad), Err(RequestError::Malformed(_))), "{bad}");
    }
    assert!(parse(&format!("{text}{}\n", "#".repeat(4095 - text.len()))).is_ok(), "4096 bytes");
}

/// SIGNING.md 8.4: `schema/debug-escapes.txt` lists exactly
/// the characters Rust's `{:?}` of a string writes as `\u{…}` in Unicode
/// 17.0.0. The list is frozen (git-crew quotes by it, not by the toolchain's
/// tables, so commit messages never change with the compiler); on a toolchain
/// of that Unicode version, it is checked against `{:?}`.
#[test]
fn the_debug_escapes_of_signing_md_are_rusts_of_unicode_17() {
    if char::UNICODE_VERSION != (17, 0, 0) {
        return;
    }
    let text = std::fs::read_to_string(root().join("schema/debug-escapes.txt")).unwrap();
    let hex = |h: &str| u32::from_str_radix(h, 16).unwrap();
    let listed: Vec<(u32, u32)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_once("..").map_or_else(|| (hex(l), hex(l)), |(a, b)| (hex(a), hex(b))))
        .collect();
    let mut escaped: Vec<(u32, u32)> = Vec::new();
    for c in (0..=0x10ffff).filter_map(char::from_u32) {
        if format!("{:?}", c.to_string()).starts_with("\"\\u{") {
            match escaped.last_mut() {
                Some(range) if range.1 + 1 == c as u32 => range.1 = c as u32,
                _ => escaped.push((c as u32, c as u32)),
            }
        }
    }
    assert_eq!(listed, escaped, "the frozen list is not Rust's {{:?}} of Unicode 17.0.0");
    let shown = format!("{:?}", "\0\t\n\r\"\\ é\u{301}\u{a0}🚀");
    assert_eq!(shown, "\"\\0\\t\\n\\r\\\"\\\\ é\\u{301}\\u{a0}🚀\"");
}

/// A record of `author` at second `s` of a test history, signed with `key`.
fn at_second(ws: &Id, author: &str, s: i64, payload: Payload, key: &Keypair) -> record::Record {
    let at = Hlc { ms: 1_790_000_000_000 + s * 1000, counter: 0 };
    record::encode(ws, author, at, payload, key).unwrap().0
}

/// A genesis by alice (seed 1), and the workspace id it makes.
fn test_genesis() -> (record::Record, Id) {
    let payload = Payload::Genesis(Genesis { workspace: "w".into(), nonce: "0".repeat(32), key: public(1) });
    let genesis = at_second(&Id::ZERO, "alice", 0, payload, &Keypair::from_seed([1; 32]));
    let ws = genesis.id;
    (genesis, ws)
}

/// SIGNING.md 14 and 9.1 rule 9: a heartbeat's place is its live ref, which
/// no branch path can be, and on the branch the fold refuses it.
#[test]
fn a_heartbeat_on_the_branch_is_refused() {
    let (genesis, ws) = test_genesis();
    let beat = LiveBeat {
        session: "loop-1".into(),
        host: "h".into(),
        pid: 1,
        started: genesis.at,
        ttl: 60,
        listening: false,
        ended: false,
    };
    let beat = at_second(&ws, "alice", 1, Payload::LiveBeat(beat), &Keypair::from_seed([1; 32]));
    assert_eq!(layout::path_of(&beat), "refs/crew/live/alice/loop-1");
    assert_eq!(layout::path_of(&beat), layout::live_ref("alice", "loop-1"));
    assert_eq!(layout::classify(&layout::path_of(&beat)), None);
    let state = State::fold(ws, [&genesis, &beat]);
    let reasons: Vec<&Refusal> = state.ignored.iter().map(|i| &i.reason).collect();
    assert_eq!(reasons, [&Refusal::BeatOnBranch]);
    assert!(!reasons[0].is_conflict(), "refused (a failure), not void");
}

/// SIGNING.md 5.4, 9.1 rules 3, 4, 7 and 8, and 9.4: proofs, fresh keys, the
/// key current at each point of the fold order, revocation and the server's
/// stricter rule for new records.
#[test]
fn key_validity_follows_the_fold_order() {
    let (genesis, ws) = test_genesis();
    let seed = |n: u8| Keypair::from_seed([n; 32]);
    let (alice, bob1, bob2, bob3, dora) = (seed(1), seed(2), seed(3), seed(4), seed(5));
    let admit = |name: &str, key: &Keypair, proof: Option<Signature>| {
        Payload::ActorAdmit(ActorAdmit { name: name.into(), role: Role::Human, key: key.public(), owner: None, proof })
    };
    let rotate = |key: &Keypair, proof: Signature| {
        Payload::ActorRotate(ActorRotate { name: "bob".into(), key: key.public(), proof })
    };
    let task = |title: &str| Payload::TaskCreate(TaskCreate { title: title.into(), priority: 2, ..Default::default() });
    // (record, why it does not count; None: it counts)
    let history: Vec<(record::Record, Option<&str>)> = vec![
        (at_second(&ws, "alice", 1, admit("bob", &bob1, Some(bob1.prove(&ws, "bob"))), &alice), None),
        (at_second(&ws, "alice", 2, admit("carl", &bob1, None), &alice), Some("KeyInUse")),
        (at_second(&ws, "alice", 3, admit("dora", &dora, Some(dora.prove(&ws, "dana"))), &alice), Some("BadProof")),
        (at_second(&ws, "alice", 4, admit("erin", &alice, None), &alice), Some("KeyInUse")),
        (at_second(&ws, "bob", 5, task("old key, before the rotation"), &bob1), None),
        (at_second(&ws, "bob", 6, rotate(&bob2, bob2.prove(&ws, "bob")), &bob1), None),
        (at_second(&ws, "bob", 7, task("old key, after the rotation"), &bob1), Some("WrongKey")),
        (at_second(&ws, "bob", 8, task("new key"), &bob2), None),
        (at_second(&ws, "bob", 9, rotate(&bob1, bob1.prove(&ws, "bob")), &bob2), Some("KeyInUse")),
        (at_second(&ws, "bob", 10, rotate(&bob2, bob2.prove(&ws, "bob")), &bob2), Some("KeyInUse")),
        (at_second(&ws, "bob", 11, rotate(&bob3, bob3.prove(&ws, "bo")), &bob2), Some("BadProof")),
        (
            at_second(&ws, "bob", 12, Payload::ActorRevoke(ActorRevoke { name: "bob".into(), reason: None }), &bob2),
            None,
        ),
        (at_second(&ws, "bob", 13, task("revoked"), &bob2), Some("Revoked")),
        (at_second(&ws, "bob", 14, rotate(&bob3, bob3.prove(&ws, "bob")), &bob2), Some("Revoked")),
        (at_second(&ws, "alice", 15, rotate(&bob3, bob3.prove(&ws, "bob")), &alice), None),
        (at_second(&ws, "bob", 16, task("restored"), &bob3), None),
    ];
    let state = State::fold(ws, std::iter::once(&genesis).chain(history.iter().map(|(r, _)| r)));
    let why: BTreeMap<Id, String> = state
        .ignored
        .iter()
        .map(|i| (i.id, format!("{:?}", i.reason).split(['(', ' ']).next().unwrap().to_owned()))
        .collect();
    for (n, (r, expected)) in history.iter().enumerate() {
        assert_eq!(why.get(&r.id).map(String::as_str), *expected, "record {} of the history", n + 1);
    }
    let bob = &state.actors["bob"];
    assert_eq!((bob.key, bob.revoked.as_ref(), bob.retired.len()), (bob3.public(), None, 2));
    // The server refuses a new record signed with a retired key, even dated
    // before the rotation, once it has the rotation; the current key is fine.
    let trusted: BTreeSet<Id> = history.iter().map(|(r, _)| r.id).collect();
    let backdated = at_second(&ws, "bob", 5, task("backdated, old key"), &bob1);
    assert!(state.stopped_by(&backdated, |id| trusted.contains(id)).is_some());
    assert!(state.stopped_by(&backdated, |_| false).is_none(), "a rotation the server does not have yet");
    let current = at_second(&ws, "bob", 5, task("backdated, current key"), &bob3);
    assert!(state.stopped_by(&current, |id| trusted.contains(id)).is_none());
}

// ---------------------------------------------------------------------------
// Schema and decoder agree on generated values.

fn quoted(s: &str) -> String {
    let mut out = String::new();
    canonical::quote_into(&mut out, s);
    out
}

const HEADER_AT: &str = "2026-11-25T10:33:25.123Z";

fn task_body(at: &str, title: &str, labels: &[String]) -> String {
    let mut b = format!("v: 1\nkind: \"task.create\"\nauthor: \"alice\"\nat: \"{at}\"\ntitle: {}\n", quoted(title));
    if !labels.is_empty() {
        b.push_str("labels:\n");
        for l in labels {
            b.push_str(&format!("  - {}\n", quoted(l)));
        }
    }
    b.push_str("priority: 2\n");
    b
}

/// A live.beat body with these field values (as written: quoted or not).
fn beat_body(session: &str, host: &str, pid: &str, ttl: &str) -> String {
    format!(
        "v: 1\nkind: \"live.beat\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\nsession: {session}\nhost: {host}\npid: {pid}\nstarted: \"{HEADER_AT}\"\nttl: {ttl}\n"
    )
}

/// Assert the schema of `kind` and the decoder agree on `body`.
fn agree(schemas: &Schemas, kind: &str, body: &str) -> Result<(), TestCaseError> {
    let by_schema = schemas.is_valid(kind, &body_json(body.as_bytes()));
    let by_decoder = decode_body(body, kind);
    prop_assert_eq!(
        by_schema,
        by_decoder.is_ok(),
        "schema says {}, decoder says {:?}, for\n{}",
        by_schema,
        by_decoder.map(|_| ()),
        body
    );
    Ok(())
}

/// Characters at the edges of the rules: white space (Rust's and ECMA-262's,
/// which differ), controls, quotes, escapes, non-ASCII.
fn edgy_char() -> impl Strategy<Value = char> {
    prop::sample::select(vec![
        'a', 'Z', '0', '-', '_', '.', '~', '"', '\\', ' ', '\t', '\n', '\r', '\u{0}', '\u{7}', '\u{b}', '\u{c}',
        '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{200a}', '\u{200b}', '\u{2028}',
        '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}', '\u{feff}', 'é', '€', '🚀',
    ])
}

fn edgy_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(edgy_char(), 0..=max).prop_map(|v| v.into_iter().collect())
}

/// HLC candidates: each field a little outside its range now and then.
fn hlc_candidate() -> impl Strategy<Value = String> {
    let counter = prop_oneof![
        Just(String::new()),
        (0u64..20).prop_map(|c| format!("~{c}")),
        (4_294_967_290u64..4_294_967_300).prop_map(|c| format!("~{c}")),
        Just("~01".to_owned()),
        Just("~+1".to_owned()),
        Just("~".to_owned()),
    ];
    let year = prop_oneof![1900u32..2101, 0u32..10000];
    let zone = prop::sample::select(vec!["Z", "Z", "Z", "Z", "z", "+00:00"]);
    let frac = prop_oneof![
        4 => (0u32..1000).prop_map(|f| format!(".{f:03}")),
        1 => Just(String::new()),
        1 => Just(".1234".to_owned()),
    ];
    (year, 0u32..14, 0u32..33, 0u32..25, 0u32..61, 0u32..62, frac, zone, counter).prop_map(
        |(y, mo, d, h, mi, s, frac, zone, c)| format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{zone}{c}"),
    )
}

/// Channel candidates: names, direct conversations and task discussions, each
/// a little wrong now and then.
fn channel_candidate() -> impl Strategy<Value = String> {
    let name = "[a-zA-Z0-9_.#-]{0,4}|[a-z][a-z0-9_-]{29,32}";
    prop_oneof![
        prop::string::string_regex(name).unwrap(),
        (prop::string::string_regex(name).unwrap(), prop::string::string_regex(name).unwrap())
            .prop_map(|(a, b)| format!("dm/{a}+{b}")),
        prop::string::string_regex("(dm|Dm|dm/)[/+]?[a-z+]{0,6}").unwrap(),
        prop::string::string_regex("task/[0-9a-f]{64}|task/[0-9a-fA-F]{63,65}|task/?[0-9a-f]{0,8}|Task/[0-9a-f]{64}")
            .unwrap(),
    ]
}

// Default 256 cases each (PROPTEST_CASES overrides): a case signs and verifies
// a record, which is slow in a debug build.
proptest! {
    #[test]
    fn hlc_pattern_matches_the_decoder(at in hlc_candidate()) {
        let body = task_body(&at, "t", &[]);
        let by_schema = schemas().is_valid("task.create", &body_json(body.as_bytes()));
        prop_assert_eq!(by_schema, at.parse::<Hlc>().is_ok(), "{}", at);
        agree(schemas(), "task.create", &body)?;
    }

    #[test]
    fn name_pattern_matches_the_decoder(name in "[a-zA-Z0-9_.~-]{0,34}") {
        let key = Keypair::from_seed([2; 32]).public();
        let head = format!("v: 1\nkind: \"actor.admit\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\n");
        let body = format!("{head}name: {}\nrole: \"human\"\nkey: \"{key}\"\n", quoted(&name));
        agree(schemas(), "actor.admit", &body)?;
    }

    #[test]
    fn title_rules_match_the_decoder(title in edgy_string(4)) {
        agree(schemas(), "task.create", &task_body(HEADER_AT, &title, &[]))?;
    }

    // At most 12 characters (48 bytes), so the decoder's byte limit of 50 and
    // the schema's character limit of 50 cannot disagree here.
    #[test]
    fn label_rules_match_the_decoder(labels in prop::collection::vec(edgy_string(12), 1..3)) {
        agree(schemas(), "task.create", &task_body(HEADER_AT, "t", &labels))?;
    }

    // Comments, notes, reasons and summaries share one rule (common.json text).
    #[test]
    fn text_rules_match_the_decoder(text in edgy_string(4)) {
        let head = format!("v: 1\nkind: \"task.comment\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\n");
        let body = format!("{head}task: \"{}\"\ntext: {}\n", id_hex(1), quoted(&text));
        agree(schemas(), "task.comment", &body)?;
    }

    #[test]
    fn lease_range_matches_the_decoder(
        lease in prop_oneof![-3i64..13, 604_797i64..604_804, any::<i64>(), Just(i64::MAX)]
    ) {
        let head = format!("v: 1\nkind: \"task.claim\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\n");
        let body = format!("{head}task: \"{}\"\nlease: {lease}\n", id_hex(1));
        let by_schema = schemas().is_valid("task.claim", &body_json(body.as_bytes()));
        prop_assert_eq!(by_schema, (10..=604_800).contains(&lease), "{}", lease);
        agree(schemas(), "task.claim", &body)?;
    }

    // A message's text: the rule of common.json text, with its own limit.
    #[test]
    fn message_text_rules_match_the_decoder(text in edgy_string(4)) {
        let head = format!("v: 1\nkind: \"msg.send\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\n");
        agree(schemas(), "msg.send", &format!("{head}channel: \"general\"\ntext: {}\n", quoted(&text)))?;
    }

    // The schema's channel pattern is exact but for the order of a direct
    // conversation's two names, which only the decoder checks.
    #[test]
    fn channel_pattern_matches_the_decoder(channel in channel_candidate()) {
        let head = |kind: &str| format!("v: 1\nkind: \"{kind}\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\n");
        let send = format!("{}channel: {}\ntext: \"hi\"\n", head("msg.send"), quoted(&channel));
        let by_schema = schemas().is_valid("msg.send", &body_json(send.as_bytes()));
        let unsorted = channel
            .strip_prefix("dm/")
            .and_then(|pair| pair.split_once('+'))
            .is_some_and(|(a, b)| a >= b);
        prop_assert_eq!(by_schema && !unsorted, decode_body(&send, "msg.send").is_ok(), "{}", send);
        prop_assert_eq!(decode_body(&send, "msg.send").is_ok(), Channel::parse(&channel).is_ok(), "{}", channel);
        // Joins and leaves take only a plain channel name.
        for kind in ["msg.join", "msg.leave"] {
            let body = format!("{}channel: {}\n", head(kind), quoted(&channel));
            let plain = matches!(Channel::parse(&channel), Ok(Channel::Named(_)));
            prop_assert_eq!(schemas().is_valid(kind, &body_json(body.as_bytes())), plain, "{}", body);
            agree(schemas(), kind, &body)?;
        }
    }

    #[test]
    fn ttl_range_matches_the_decoder(
        ttl in prop_oneof![-3i64..4, 86_397i64..86_404, any::<i64>(), Just(i64::MAX)]
    ) {
        let body = beat_body("\"s\"", "\"h\"", "1", &ttl.to_string());
        let by_schema = schemas().is_valid("live.beat", &body_json(body.as_bytes()));
        prop_assert_eq!(by_schema, (1..=MAX_TTL_SECS as i64).contains(&ttl), "{}", ttl);
        agree(schemas(), "live.beat", &body)?;
    }

    #[test]
    fn pid_range_matches_the_decoder(
        pid in prop_oneof![-3i64..4, 4_294_967_290i64..4_294_967_300, any::<i64>()]
    ) {
        let body = beat_body("\"s\"", "\"h\"", &pid.to_string(), "60");
        let by_schema = schemas().is_valid("live.beat", &body_json(body.as_bytes()));
        prop_assert_eq!(by_schema, u32::try_from(pid).is_ok(), "{}", pid);
        agree(schemas(), "live.beat", &body)?;
    }

    #[test]
    fn session_pattern_matches_the_decoder(session in "[a-zA-Z0-9_./ -]{0,3}|[a-z0-9-]{62,66}") {
        let body = beat_body(&quoted(&session), "\"h\"", "1", "60");
        let by_schema = schemas().is_valid("live.beat", &body_json(body.as_bytes()));
        prop_assert_eq!(by_schema, validate_session(&session).is_ok(), "{}", session);
        agree(schemas(), "live.beat", &body)?;
    }

    #[test]
    fn host_rules_match_the_decoder(host in edgy_string(4)) {
        agree(schemas(), "live.beat", &beat_body("\"s\"", &quoted(&host), "1", "60"))?;
    }

    // Around the limit of 255 characters, in one-byte and four-byte characters.
    #[test]
    fn host_length_matches_the_decoder(n in 250usize..260, c in prop::sample::select(vec!['h', 'é', '🚀'])) {
        let host: String = std::iter::repeat_n(c, n).collect();
        agree(schemas(), "live.beat", &beat_body("\"s\"", &quoted(&host), "1", "60"))?;
    }

    #[test]
    fn proof_pattern_matches_the_decoder(proof in "[0-9a-f]{126,130}|[0-9a-fA-F]{128}|[0-9a-g]{0,4}") {
        let head = format!("v: 1\nkind: \"actor.rotate\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\n");
        let body = format!("{head}name: \"bob\"\nkey: \"{}\"\nproof: {}\n", public(2), quoted(&proof));
        agree(schemas(), "actor.rotate", &body)?;
    }

    #[test]
    fn workspace_name_rules_match_the_decoder(name in edgy_string(4)) {
        let key = Keypair::from_seed([1; 32]).public();
        let head = format!("v: 1\nkind: \"crew.genesis\"\nauthor: \"alice\"\nat: \"{HEADER_AT}\"\n");
        let body = format!("{head}workspace: {}\nnonce: \"00\"\nkey: \"{key}\"\n", quoted(&name));
        agree(schemas(), "crew.genesis", &body)?;
    }
}

// ---------------------------------------------------------------------------
// The frozen v1 sample.

/// One record of the sample: its file, signer seed, author, stamp and payload.
struct Sample {
    path: &'static str,
    seed: u8,
    author: &'static str,
    at: &'static str,
    payload: Payload,
    id: &'static str,
}

fn public(seed: u8) -> git_crew::sign::PublicKey {
    Keypair::from_seed([seed; 32]).public()
}

/// The workspace in `tests/fixtures/v1/workspace/`: alice (seed 1) creates it,
/// admits bob (seed 2, human) and carol (seed 3, agent owned by bob); bob and
/// carol each create a task. Its workspace id is the genesis record's id.
fn v1_workspace() -> Vec<Sample> {
    vec![
        Sample {
            path: "CREW.yaml",
            seed: 1,
            author: "alice",
            at: "2026-01-15T09:00:00.000Z",
            payload: Payload::Genesis(Genesis {
                workspace: "v1 sample".into(),
                nonce: "000102030405060708090a0b0c0d0e0f".into(),
                key: public(1),
            }),
            id: V1_WORKSPACE,
        },
        Sample {
            path: "actors/bob.yaml",
            seed: 1,
            author: "alice",
            at: "2026-01-15T09:01:00.000Z",
            payload: Payload::ActorAdmit(ActorAdmit {
                name: "bob".into(),
                role: Role::Human,
                key: public(2),
                owner: None,
                proof: None,
            }),
            id: "cbdbb5b2186cc9b7ed37f827456568809518dcaa8fde976f9314a69df4aae220",
        },
        Sample {
            path: "actors/carol.yaml",
            seed: 1,
            author: "alice",
            at: "2026-01-15T09:01:00.000Z~1",
            payload: Payload::ActorAdmit(ActorAdmit {
                name: "carol".into(),
                role: Role::Agent,
                key: public(3),
                owner: Some("bob".into()),
                proof: None,
            }),
            id: "2fd61631dda55486943e1668f103817ff15f21014cb32a1bf45b27e64587bc70",
        },
        Sample {
            path: "tasks/49/49414ba4010ba0281569925157d93f50d6d83f627dc7903470574fe8f6affa57.yaml",
            seed: 2,
            author: "bob",
            at: "2026-01-15T09:02:00.000Z",
            payload: Payload::TaskCreate(TaskCreate {
                title: "Write the v1 sample".into(),
                body: None,
                labels: vec![],
                priority: 2,
                ..Default::default()
            }),
            id: "49414ba4010ba0281569925157d93f50d6d83f627dc7903470574fe8f6affa57",
        },
        Sample {
            path: "tasks/15/15f507eef1106e5d8eff767a8e93a9ddc3714e13ca191e6fd67dc99d602104c9.yaml",
            seed: 3,
            author: "carol",
            at: "2026-01-15T09:02:00.000Z",
            payload: Payload::TaskCreate(TaskCreate {
                title: "Escape \"this\" \\ é 🚀".into(),
                body: Some("Line 1\n\tLine 2\r\nNUL \u{0} NEL \u{85} LS \u{2028} BOM \u{feff} DEL \u{7f}".into()),
                labels: vec!["ui".into(), "p0".into(), "ü-ber".into()],
                priority: 0,
                ..Default::default()
            }),
            id: "15f507eef1106e5d8eff767a8e93a9ddc3714e13ca191e6fd67dc99d602104c9",
        },
    ]
}

/// The workspace id of the sample (its genesis record id).
const V1_WORKSPACE: &str = "b8e5b246f0ad4d9e3cc34558b1bd22563c65a6112f24868e230f984db03db393";

/// The workspace id `tests/fixtures/v1/log.yaml` is signed for.
const V1_LOG_WORKSPACE: Id = Id([0x77; 32]);

/// `tests/fixtures/v1/log.yaml`: three task.create records by alice (seed 1) in
/// one file, two sharing a stamp so the file order falls back to the ids.
fn v1_log() -> Vec<Sample> {
    let task = |title: &str, priority| {
        Payload::TaskCreate(TaskCreate {
            title: title.into(),
            body: None,
            labels: vec![],
            priority,
            ..Default::default()
        })
    };
    vec![
        Sample {
            path: "log.yaml",
            seed: 1,
            author: "alice",
            at: "2026-01-15T10:00:00.000Z",
            payload: task("Written first, sorted second", 1),
            id: "8e425154e934f7e7fe2dc44116c62dbfc1794107f5baaff7d4dcb4cc341893e0",
        },
        Sample {
            path: "log.yaml",
            seed: 1,
            author: "alice",
            at: "2026-01-15T10:00:00.000Z",
            payload: task("Written second, sorted first", 4),
            id: "5d7cf2d9c401e70667b852cda8793980bf36dec50e3934be9ac40ec2c9bf5002",
        },
        Sample {
            path: "log.yaml",
            seed: 1,
            author: "alice",
            at: "2026-01-15T10:00:00.000Z~1",
            payload: task("Later stamp", 2),
            id: "147671d6a74f5b625d9703addccbdbae474770f26bde030cda9d345faa919bde",
        },
    ]
}

fn v1_dir() -> PathBuf {
    root().join("tests/fixtures/v1")
}

/// Check one decoded sample record against its inputs, and that encoding the
/// same inputs again gives exactly the committed bytes.
fn check_sample(ws: &Id, s: &Sample, r: &record::Record, bytes: &[u8]) {
    assert_eq!(r.id.hex(), s.id, "id of {} by {} at {}", r.kind(), s.author, s.at);
    assert_eq!(r.author, s.author);
    assert_eq!(r.at.to_string(), s.at);
    assert_eq!(r.key, public(s.seed));
    assert_eq!(r.payload, s.payload);
    let key = Keypair::from_seed([s.seed; 32]);
    let (again, encoded) = record::encode(ws, s.author, s.at.parse().unwrap(), s.payload.clone(), &key).unwrap();
    assert_eq!(&again, r);
    assert_eq!(
        String::from_utf8_lossy(&encoded),
        String::from_utf8_lossy(bytes),
        "record {} no longer encodes to its v1 bytes",
        s.id
    );
}

#[test]
fn v1_workspace_sample_decodes_and_re_encodes_byte_for_byte() {
    let dir = v1_dir().join("workspace");
    let ws: Id = V1_WORKSPACE.parse().unwrap();
    let samples = v1_workspace();
    let files = files_under(&dir);
    assert_eq!(files, samples.iter().map(|s| s.path.to_owned()).collect(), "files of the v1 sample");

    // The genesis record is signed under the zero workspace id; its id is the workspace id.
    let manifest = std::fs::read(dir.join(layout::MANIFEST)).unwrap();
    assert_eq!(git_crew::decode::genesis_id(&manifest).unwrap(), ws);

    let schemas = schemas();
    let mut records = Vec::new();
    for s in &samples {
        let bytes = std::fs::read(dir.join(s.path)).unwrap();
        let decoded = record::decode_file(&bytes, &ws).unwrap_or_else(|e| panic!("{}: {e:?}", s.path));
        let [r] = decoded.as_slice() else { panic!("{}: one record per file", s.path) };
        check_sample(&ws, s, r, &bytes);
        assert_eq!(layout::path_of(r), s.path);
        let frames = frame::split(&bytes).unwrap();
        schemas.check(r.kind(), &body_json(&bytes[frames[0].body.clone()])).unwrap();
        if s.path != layout::MANIFEST {
            // Bound to this workspace: under any other id the signature fails.
            assert!(matches!(record::decode_file(&bytes, &Id::ZERO), Err((0, Problem::BadSignature))), "{}", s.path);
        }
        records.push(r.clone());
    }

    let state = git_crew::state::State::fold(ws, &records);
    assert!(state.ignored.is_empty(), "every sample record counts: {:?}", state.ignored);
    assert_eq!(state.name, "v1 sample");
    assert_eq!(state.actors.keys().collect::<Vec<_>>(), ["alice", "bob", "carol"]);
    assert_eq!(state.actors["carol"].owner.as_deref(), Some("bob"));
    assert_eq!(state.tasks.len(), 2);
}

/// The v1 sample as a branch in a new repository `name`: one commit per
/// record, in fold order, each as git-crew writes it.
pub(crate) fn v1_sample_repo(world: &World, name: &str) -> PathBuf {
    let repo = world.repo(name);
    let src = v1_dir().join("workspace");
    let files = files_under(&src);
    let ws: Id = V1_WORKSPACE.parse().unwrap();
    let mut records = Vec::new();
    for f in &files {
        let bytes = std::fs::read(src.join(f)).unwrap();
        for frame in frame::split(&bytes).unwrap() {
            records.push((frame.at, frame.id(&bytes, &ws), f.clone(), bytes[frame.span.clone()].to_vec()));
        }
    }
    records.sort();
    world.git(&repo, &["symbolic-ref", "HEAD", "refs/heads/crew"]);
    for (n, (_, _, f, bytes)) in records.iter().enumerate() {
        let to = repo.join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let mut content = std::fs::read(&to).unwrap_or_default();
        content.extend_from_slice(bytes);
        std::fs::write(&to, content).unwrap();
        if n == 0 {
            std::fs::write(repo.join(layout::ATTRIBUTES), layout::ATTRIBUTES_CONTENT).unwrap();
        }
        world.commit_all(&repo, "v1 sample");
    }
    repo
}

/// The sample as a real branch: `git crew verify` accepts it (layout, history,
/// signatures, authorization).
#[test]
fn v1_workspace_sample_verifies_as_a_branch() {
    let world = World::new();
    let repo = v1_sample_repo(&world, "v1");
    let out = world.crew_json(&repo, &["verify"]);
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["report"]["workspace"], V1_WORKSPACE);
    assert_eq!(out["report"]["records"], 5);
}

#[test]
fn v1_log_sample_decodes_in_file_order_and_re_encodes_byte_for_byte() {
    let bytes = std::fs::read(v1_dir().join("log.yaml")).unwrap();
    let ws = V1_LOG_WORKSPACE;
    let samples = v1_log();
    let decoded = record::decode_file(&bytes, &ws).unwrap();
    // Sorted by (at, id): the first two share a stamp, so the smaller id leads,
    // although it was written second.
    let order = [1, 0, 2];
    assert_eq!(decoded.iter().map(|r| r.id.hex()).collect::<Vec<_>>(), order.map(|i| samples[i].id));
    let frames = frame::split(&bytes).unwrap();
    assert_eq!(frames.len(), 3);
    for ((f, r), i) in frames.iter().zip(&decoded).zip(order) {
        check_sample(&ws, &samples[i], r, &bytes[f.span.clone()]);
    }
    assert_eq!(frames.last().unwrap().span.end, bytes.len());

    // The same records in write order are not a valid file.
    let swapped =
        [&bytes[frames[1].span.clone()], &bytes[frames[0].span.clone()], &bytes[frames[2].span.clone()]].concat();
    assert!(matches!(record::decode_file(&swapped, &ws), Err((_, Problem::OutOfOrder))));
}
