//! One JSON contract: every `--json` output of every command validates
//! against its schema in `schema/cli/` (draft 2020-12, formats checked), run
//! through real processes against a hooked bare remote; every failure with
//! `--json` is exactly one error object on stderr (`schema/cli/error.json`),
//! nothing on stdout, with the documented exit code; and no command exists
//! that the contract does not cover.
//!
//! Every record view found in any output is also checked against the record
//! format: its `fields`, with `v`, `kind`, `author` and the stamp put back,
//! validate against `schema/<kind>.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use jsonschema::{Registry, Validator};
use serde_json::Value;

use crate::common::{team, Follower, Run, World};

/// Every command (as `git crew help` lists it, subcommands by their path),
/// each `--json` variant of it with its own schema or its own test, and the
/// schema its stdout validates against (`None`: it prints nothing).
const CONTRACT: &[(&str, &str, Option<&str>)] = &[
    ("init", "", Some("init.json")),
    ("id new", "", Some("id-new.json")),
    ("id request", "", Some("id-request.json")),
    ("id admit", "", Some("write.json")),
    ("id rotate", "", Some("write.json")),
    ("id revoke", "", Some("write.json")),
    ("id update", "", Some("write.json")),
    ("id list", "", Some("id-list.json")),
    ("id show", "", Some("id-show.json")),
    ("task add", "", Some("write.json")),
    ("task list", "", Some("task-list.json")),
    ("task show", "", Some("task-show.json")),
    ("task edit", "", Some("write.json")),
    ("task claim", "", Some("write.json")),
    ("task release", "", Some("write.json")),
    ("task handoff", "", Some("write.json")),
    ("task comment", "", Some("write.json")),
    ("task block", "", Some("write.json")),
    ("task unblock", "", Some("write.json")),
    ("task done", "", Some("write.json")),
    ("task assign", "", Some("write.json")),
    ("task cancel", "", Some("write.json")),
    ("task reopen", "", Some("write.json")),
    ("board", "", Some("board.json")),
    ("next", "", Some("next.json")),
    ("next", "--claim", Some("next-claim.json")),
    ("receipt add", "", Some("write.json")),
    ("receipt show", "", Some("receipt-show.json")),
    ("msg send", "", Some("write.json")),
    ("msg list", "", Some("msg-list.json")),
    ("msg channels", "", Some("msg-channels.json")),
    ("msg join", "", Some("msg-join.json")),
    ("msg leave", "", Some("write.json")),
    ("inbox", "", Some("inbox.json")),
    ("inbox", "--ack", Some("inbox-ack.json")),
    ("inbox", "--all", Some("inbox-ack.json")),
    ("inbox", "--follow", Some("inbox-follow.json")),
    ("watch", "", Some("watch.json")),
    ("watch", "--no-follow", Some("watch.json")),
    ("suspend", "", Some("write.json")),
    ("resume", "", Some("write.json")),
    ("alive", "", Some("alive.json")),
    ("heartbeat", "", Some("heartbeat.json")),
    ("status", "", Some("status.json")),
    ("status", "--audit", Some("status.json")),
    ("log", "", Some("log.json")),
    ("verify", "", Some("verify.json")),
    ("verify", "--artifacts", Some("verify.json")),
    ("demo", "", Some("demo.json")),
    ("install", "", Some("install.json")),
    ("install", "--ci", Some("install.json")),
    ("install", "--man", Some("install.json")),
    ("sync", "", Some("sync.json")),
    ("repair", "", Some("repair.json")),
    ("merge-driver", "", None),
    ("hook", "", None),
    ("guide", "", Some("guide.json")),
    ("help", "", Some("help.json")),
    ("help", "exit-codes", Some("help-exit-codes.json")),
    ("policy set", "", Some("write.json")),
    ("policy show", "", Some("policy-show.json")),
    ("usage", "", Some("write.json")),
    ("supervise", "", Some("supervise.json")),
    ("supervise", "--dry-run", Some("supervise.json")),
    ("reserve", "", Some("write.json")),
    ("unreserve", "", Some("write.json")),
];

/// Schemas of commands that print JSON lines, one value per line.
const LINES: &[&str] = &["watch.json", "supervise.json"];

/// The schema of every failure.
const ERROR_SCHEMA: &str = "error.json";

/// Where the `$id`s of `schema/cli/` live.
const CLI_BASE: &str = "https://git-crew.invalid/schema/v1/cli/";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// The `.json` files of a folder, by name.
fn json_files(dir: &Path) -> BTreeMap<String, Value> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| (p.file_name().unwrap().to_str().unwrap().to_owned(), read_json(&p)))
        .collect()
}

/// A validator for every file of `schema/cli/` and for every record kind's
/// schema, each folder's files registered under their `$id`s so that `$ref`s
/// resolve offline.
struct Schemas {
    cli: BTreeMap<String, Validator>,
    kinds: BTreeMap<String, Validator>,
}

fn build(files: &BTreeMap<String, Value>) -> BTreeMap<String, Validator> {
    let registry = Registry::new()
        .extend(files.values().map(|v| (v["$id"].as_str().unwrap().to_owned(), v.clone())))
        .unwrap()
        .prepare()
        .unwrap();
    files
        .iter()
        .map(|(name, schema)| {
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .with_registry(&registry)
                .should_validate_formats(true)
                .build(schema)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            (name.clone(), validator)
        })
        .collect()
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| {
        let cli = json_files(&root().join("schema/cli"));
        let kinds = json_files(&root().join("schema"));
        Schemas { cli: build(&cli), kinds: build(&kinds) }
    });
    &SCHEMAS
}

/// Validate `value` against `schema/cli/<file>`, and every record view in it
/// against its kind's record schema.
fn validate(file: &str, value: &Value, what: &str) {
    let validator = schemas().cli.get(file).unwrap_or_else(|| panic!("no schema/cli/{file}"));
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{what}: does not validate against {file}:\n{}\n{value:#}", errors.join("\n"));
    check_records(value, what);
}

/// Every record view in `value` (an object with `id`, `kind`, `author`, `at`,
/// `counter` and `fields`): its fields plus the header validate as a record
/// body of its kind.
fn check_records(value: &Value, what: &str) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| check_records(v, what)),
        Value::Object(map) => {
            if let (Some(kind), Some(Value::Object(fields)), Some(at), Some(counter)) = (
                map.get("kind").and_then(Value::as_str),
                map.get("fields"),
                map.get("at").and_then(Value::as_str),
                map.get("counter").and_then(Value::as_u64),
            ) {
                let mut body = fields.clone();
                body.insert("v".into(), 1.into());
                body.insert("kind".into(), kind.into());
                body.insert("author".into(), map["author"].clone());
                let stamp = if counter == 0 { at.to_owned() } else { format!("{at}~{counter}") };
                body.insert("at".into(), stamp.into());
                let body = Value::Object(body);
                let validator = schemas().kinds.get(&format!("{kind}.json")).unwrap_or_else(|| panic!("kind {kind}"));
                let errors: Vec<String> = validator.iter_errors(&body).map(|e| format!("{e}")).collect();
                assert!(
                    errors.is_empty(),
                    "{what}: the fields of a {kind} view are not its record's:\n{errors:?}\n{body:#}"
                );
            }
            map.values().for_each(|v| check_records(v, what));
        }
        _ => {}
    }
}

/// A failure with `--json`: exit `code`, nothing on stdout, exactly one JSON
/// object on stderr that validates as an error with that exit code.
fn assert_error(run: &Run, code: i32, what: &str) -> Value {
    assert_eq!(run.code, code, "{what}: want exit {code}: {run:?}");
    assert!(run.stdout.is_empty(), "{what}: a failure printed on stdout: {run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: stderr is not exactly one line: {}", run.stderr);
    let err: Value =
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{what}: stderr is not JSON ({e}): {}", run.stderr));
    validate(ERROR_SCHEMA, &err, what);
    assert_eq!(err["error"]["exit"], code, "{what}: {err}");
    err
}

/// A world with a team, and the contract entries checked so far.
struct Check<'a> {
    w: &'a World,
    seen: BTreeSet<(&'static str, &'static str)>,
}

impl Check<'_> {
    fn schema(command: &str, variant: &str) -> (&'static str, &'static str, Option<&'static str>) {
        *CONTRACT
            .iter()
            .find(|(c, v, _)| *c == command && *v == variant)
            .unwrap_or_else(|| panic!("{command} {variant} is not in the contract"))
    }

    fn run(&self, dir: &Path, actor: Option<&str>, args: &[&str]) -> Run {
        let mut full = vec!["--json"];
        if let Some(a) = actor {
            full.extend(["--as", a]);
        }
        full.extend_from_slice(args);
        self.w.crew(dir, &full)
    }

    /// Run `command` (its `variant`) with `args` as `actor`, expect exit
    /// `code` and stdout that validates against the command's schema (one
    /// value, or with `lines` one per line); the output.
    fn out_code(
        &mut self,
        (command, variant): (&str, &str),
        dir: &Path,
        actor: Option<&str>,
        args: &[&str],
        code: i32,
    ) -> Value {
        let (command, variant, file) = Self::schema(command, variant);
        let run = self.run(dir, actor, args);
        let what = format!("git crew --json {args:?} ({command} {variant})");
        assert_eq!(run.code, code, "{what}: {run:?}");
        assert!(!run.stderr.contains("\"error\""), "{what}: an error on stderr: {}", run.stderr);
        self.seen.insert((command, variant));
        let Some(file) = file else {
            assert!(run.stdout.is_empty(), "{what}: printed {}", run.stdout);
            return Value::Null;
        };
        if LINES.contains(&file) {
            let lines: Vec<Value> = run
                .stdout
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: not a JSON line ({e}): {l}")))
                .collect();
            assert!(!lines.is_empty(), "{what}: printed nothing");
            for line in &lines {
                validate(file, line, &what);
            }
            return Value::Array(lines);
        }
        let value: Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{what}: stdout is not one JSON value ({e}): {run:?}"));
        validate(file, &value, &what);
        value
    }

    fn out(&mut self, command: &str, dir: &Path, actor: Option<&str>, args: &[&str]) -> Value {
        self.out_code((command, ""), dir, actor, args, 0)
    }

    fn variant(&mut self, command: &str, variant: &str, dir: &Path, actor: Option<&str>, args: &[&str]) -> Value {
        self.out_code((command, variant), dir, actor, args, 0)
    }

    /// A write: the id of its record.
    fn wrote(&mut self, command: &str, dir: &Path, actor: &str, args: &[&str]) -> String {
        let v = self.out(command, dir, Some(actor), args);
        assert_eq!(v["published"], true, "{args:?}: {v}");
        v["record"]["id"].as_str().unwrap().to_owned()
    }

    /// A failure: exit `code`, one error object on stderr, nothing on stdout.
    fn fails(&self, dir: &Path, actor: Option<&str>, args: &[&str], code: i32) -> Value {
        assert_error(&self.run(dir, actor, args), code, &format!("git crew --json {args:?}"))
    }

    /// A follower's lines, validated against the command's schema, until
    /// `done` says enough (within 30 s).
    fn follow(
        &mut self,
        (command, variant): (&str, &str),
        dir: &Path,
        args: &[&str],
        mut done: impl FnMut(&Value) -> bool,
    ) {
        let (command, variant, file) = Self::schema(command, variant);
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let mut follower = Follower::spawn(self.w, dir, &full);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "git crew {full:?}: not the line awaited within 30 s");
            let Some(line) = follower.try_next(Duration::from_millis(500)) else { continue };
            validate(file.unwrap(), &line, &format!("git crew {full:?}"));
            if done(&line) {
                break;
            }
        }
        let (code, stderr) = follower.terminate();
        assert_eq!(code, 0, "git crew {full:?}: {stderr}");
        self.seen.insert((command, variant));
    }
}

/// Commit everything in worktree `wt` with plain git, no hooks.
fn commit_tampered(w: &World, wt: &Path) {
    w.git(wt, &["add", "-A"]);
    w.git(wt, &["commit", "-q", "--no-verify", "-m", "tampered"]);
}

/// Append a line to the first log file under `tasks/` of worktree `wt`.
fn tamper_a_task_file(wt: &Path) {
    let tasks = wt.join("tasks");
    let shard = std::fs::read_dir(&tasks).unwrap().next().unwrap().unwrap().path();
    let file = std::fs::read_dir(&shard).unwrap().next().unwrap().unwrap().path();
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("garbage: 1\n");
    std::fs::write(&file, text).unwrap();
}

/// Every command that prints with `--json`, run for real against a team
/// with a hooked remote, prints what its schema says; every failure is one
/// error object on stderr.
#[test]
fn every_json_output_validates_against_its_schema() {
    let w = World::new();
    let (a, b, _remote, task) = team(&w, "Fix login");
    let mut c = Check { w: &w, seen: BTreeSet::new() };
    let alice = Some("alice");

    // Setting up.
    let solo = w.repo("solo");
    c.out("init", &solo, None, &["init", "--admin", "alice"]);
    c.out("install", &a, None, &["install"]);
    c.variant("install", "--ci", &a, None, &["install", "--ci", "github"]);
    let man = w.path("man");
    c.variant("install", "--man", &a, None, &["install", "--man", "--man-dir", man.to_str().unwrap()]);

    // Identities.
    let v = c.out("id new", &a, alice, &["id", "new", "dave", "--role", "agent"]);
    assert_eq!(v["record"]["kind"], "actor.admit", "{v}");
    let request = w.path("erin.request");
    let v = c.out("id request", &b, None, &["id", "request", "erin", "--out", request.to_str().unwrap()]);
    assert_eq!(v["out"].as_str(), request.to_str(), "{v}");
    c.out("id request", &b, None, &["id", "request", "erin"]);
    c.wrote("id admit", &a, "alice", &["id", "admit", request.to_str().unwrap()]);
    c.out("id list", &a, None, &["id", "list"]);
    c.out("id show", &a, None, &["id", "show", "bob"]);
    c.wrote("id update", &a, "alice", &["id", "update", "dave", "--role", "agent", "--owner", "alice"]);
    c.fails(&a, Some("bob"), &["id", "update", "dave", "--owner", "bob"], 1);

    // Tasks.
    let second = c.wrote(
        "task add",
        &a,
        "alice",
        &["task", "add", "Second", "--body", "text", "--label", "auth", "--depends-on", &task],
    );
    c.wrote("task add", &a, "alice", &["task", "add", "Child", "--parent", &task, "--priority", "3"]);
    c.out("task list", &a, None, &["task", "list"]);
    c.wrote("task edit", &a, "alice", &["task", "edit", &task, "--priority", "1"]);
    c.wrote("task claim", &a, "bob", &["task", "claim", &task, "--lease", "1h"]);
    let board = c.out("board", &a, None, &["board"]);
    assert!(board["in_progress"][0]["lease_left_secs"].as_i64().is_some_and(|s| s > 3500 && s <= 3600), "{board}");
    assert_eq!(board["blocked"][0]["id"], second.as_str(), "{board}");
    c.out("task show", &a, None, &["task", "show", &task]);
    c.wrote("task comment", &a, "bob", &["task", "comment", &task, "on it"]);
    c.wrote("task handoff", &a, "bob", &["task", "handoff", &task, "--to", "carol", "--note", "yours"]);
    c.wrote("task block", &a, "carol", &["task", "block", &task, "--reason", "waiting"]);
    c.wrote("task unblock", &a, "carol", &["task", "unblock", &task]);
    std::fs::write(a.join("out.txt"), "ok\n").unwrap();
    let receipt = c.wrote(
        "receipt add",
        &a,
        "carol",
        &["receipt", "add", "--task", &task, "--artifact", "out.txt", "--summary", "ok"],
    );
    c.out("receipt show", &a, None, &["receipt", "show", &receipt]);
    c.wrote("task done", &a, "carol", &["task", "done", &task, "--receipt", &receipt]);
    let next = c.out("next", &a, None, &["next"]);
    assert_eq!(next["task"]["id"], second.as_str(), "{next}");
    let claimed = c.variant("next", "--claim", &a, Some("bob"), &["next", "--claim"]);
    assert_eq!(claimed["task"]["status"], "in_progress", "{claimed}");
    assert!(claimed["task"]["lease_left_secs"].as_i64().is_some_and(|s| s > 1700), "{claimed}");
    c.wrote("task release", &a, "bob", &["task", "release", &second]);
    // Humans in control: assign, cancel (shown in task show, the list and the
    // board), reopen; an agent may not cancel what it did not create.
    c.wrote("task assign", &a, "alice", &["task", "assign", &second, "--to", "carol", "--lease", "1h"]);
    c.fails(&a, Some("bob"), &["task", "cancel", &second, "--reason", "mine"], 1);
    c.wrote("task cancel", &a, "alice", &["task", "cancel", &second, "--reason", "dropped"]);
    let shown = c.out("task show", &a, None, &["task", "show", &second]);
    assert_eq!(shown["task"]["cancelled"]["reason"], "dropped", "{shown}");
    c.out("task list", &a, None, &["task", "list"]);
    let board = c.out("board", &a, None, &["board"]);
    assert_eq!(board["done"].as_array().unwrap().iter().filter(|t| t["status"] == "cancelled").count(), 1, "{board}");
    c.fails(&a, alice, &["task", "cancel", &second, "--reason", "again"], 3);
    c.wrote("task reopen", &a, "alice", &["task", "reopen", &second, "--reason", "back"]);

    // Messages.
    c.wrote("msg send", &a, "alice", &["msg", "send", "--to", "#general", "hello @bob"]);
    let joined = c.out("msg join", &a, Some("bob"), &["msg", "join", "#general"]);
    assert_eq!(joined["backlog"].as_array().map(Vec::len), Some(1), "{joined}");
    c.out("msg list", &a, Some("bob"), &["msg", "list", "#general"]);
    c.out("msg channels", &a, Some("bob"), &["msg", "channels"]);
    c.wrote("msg send", &a, "bob", &["msg", "send", "--to", "carol", "a word"]);
    c.wrote("msg leave", &a, "bob", &["msg", "leave", "#general"]);
    let inbox = c.out("inbox", &a, Some("carol"), &["inbox"]);
    assert!(!inbox.as_array().unwrap().is_empty(), "{inbox}");
    let acked = c.variant("inbox", "--ack", &a, Some("carol"), &["inbox", "--ack"]);
    assert_eq!(acked["record"]["kind"], "msg.ack", "{acked}");
    let nothing = c.variant("inbox", "--ack", &a, Some("carol"), &["inbox", "--ack"]);
    assert_eq!(nothing["record"], Value::Null, "{nothing}");
    c.variant("inbox", "--all", &a, Some("bob"), &["inbox", "--all"]);

    // Liveness and the record stream.
    let beat = c.out("heartbeat", &a, Some("bob"), &["heartbeat", "--listening"]);
    assert!(beat["synced"].is_object(), "{beat}");
    let status = c.out("status", &a, None, &["status"]);
    let bob = status["actors"].as_array().unwrap().iter().find(|a| a["name"] == "bob").unwrap().clone();
    assert_eq!(bob["sessions"][0]["ttl"], 90, "{status}");
    c.out_code(("status", "--audit"), &a, None, &["status", "--audit"], 6);
    c.out("alive", &a, alice, &["alive"]);
    c.out("log", &a, None, &["log", "-n", "5"]);
    c.variant("watch", "--no-follow", &a, None, &["watch", "--no-follow", "--since", "2000-01-01"]);
    c.out("verify", &a, None, &["verify"]);
    c.variant("verify", "--artifacts", &a, None, &["verify", "--artifacts"]);
    c.out("sync", &a, None, &["sync"]);
    // A write that stays on this clone says why.
    let offline = c.out("task comment", &a, Some("carol"), &["--offline", "task", "comment", &second, "later"]);
    assert_eq!(offline["published"], false, "{offline}");
    assert!(offline["why"].is_string(), "{offline}");
    c.out("sync", &a, None, &["sync"]);

    // The kill switch: one shape of `suspended` everywhere.
    let v = c.out("suspend", &a, alice, &["suspend", "bob", "carol", "--reason", "drill"]);
    assert_eq!(v["records"].as_array().map(Vec::len), Some(2), "{v}");
    let status = c.out("status", &a, None, &["status"]);
    let bob = status["actors"].as_array().unwrap().iter().find(|a| a["name"] == "bob").unwrap().clone();
    let shown = c.out("id show", &a, None, &["id", "show", "bob"]);
    let alive = c.out_code(("alive", ""), &a, Some("bob"), &["alive"], 5);
    assert_eq!(bob["suspended"], shown["suspended"], "status and id show disagree");
    assert_eq!(bob["suspended"], alive["suspended"], "status and alive disagree");
    assert_eq!(bob["suspended"]["reason"], "drill", "{status}");
    c.fails(&a, Some("bob"), &["task", "comment", &second, "still here"], 5);
    c.fails(&a, Some("bob"), &["heartbeat"], 5);
    c.wrote("resume", &a, "alice", &["resume", "bob"]);
    c.wrote("resume", &a, "alice", &["resume", "carol"]);
    c.wrote("id rotate", &a, "alice", &["id", "rotate"]);
    c.wrote("id revoke", &a, "alice", &["id", "revoke", "dave", "--reason", "leaked"]);
    let revoked = c.out_code(("alive", ""), &a, Some("dave"), &["alive"], 5);
    let listed = c.out("id list", &a, None, &["id", "list"]);
    let dave = listed.as_array().unwrap().iter().find(|a| a["name"] == "dave").unwrap().clone();
    assert_eq!(revoked["revoked"], dave["revoked"], "alive and id list disagree");

    // Fleet control: bob reports more tokens than the policy's budget on the
    // task he holds; the supervisor may release but not suspend, so it tells
    // bob's owner instead (a step with no other record).
    let none = c.out("policy show", &a, None, &["policy", "show"]);
    assert_eq!(none["policy"], Value::Null, "{none}");
    c.wrote("policy set", &a, "alice", &["policy", "set", "--tokens", "100", "--grant", "alice=release"]);
    let shown = c.out("policy show", &a, None, &["policy", "show"]);
    assert_eq!(shown["policy"]["tokens"], 100, "{shown}");
    c.wrote("task claim", &a, "bob", &["task", "claim", &second]);
    c.wrote("usage", &a, "bob", &["usage", "--task", &second, "--tokens", "500"]);
    let would = c.variant("supervise", "--dry-run", &a, alice, &["supervise", "--dry-run"]);
    let flagged =
        |lines: &Value| lines.as_array().unwrap().iter().any(|l| l["flag"] == "over-budget" && l["actor"] == "bob");
    assert!(flagged(&would), "{would}");
    let took = c.out("supervise", &a, alice, &["supervise", "--once"]);
    assert!(flagged(&took), "{took}");
    c.wrote("task release", &a, "bob", &["task", "release", &second]);

    // Path reservations: one shows on the board, a second overlapping one is
    // refused (exit 3), the holder ends it.
    let reserved = c.wrote("reserve", &a, "bob", &["reserve", "src/auth", "docs", "--lease", "1h"]);
    let board = c.out("board", &a, None, &["board"]);
    assert_eq!(board["reservations"][0]["paths"], serde_json::json!(["docs", "src/auth"]), "{board}");
    c.fails(&a, Some("carol"), &["reserve", "src"], 3);
    c.wrote("unreserve", &a, "bob", &["unreserve", &reserved]);

    // Help, the guide, the hooks.
    c.out("help", &a, None, &["help", "task", "claim"]);
    c.variant("help", "exit-codes", &a, None, &["help", "exit-codes"]);
    c.out("guide", &a, None, &["guide"]);
    c.out("hook", &a, None, &["hook", "post-commit"]);
    let path = w.git(&a, &["ls-tree", "-r", "--name-only", "crew", "tasks/"]).lines().next().unwrap().to_owned();
    let content = w.git(&a, &["show", &format!("crew:{path}")]);
    let sides: Vec<PathBuf> = ["base", "ours", "theirs"].iter().map(|s| w.path(s)).collect();
    for side in &sides {
        std::fs::write(side, &content).unwrap();
    }
    let side = |n: usize| sides[n].to_str().unwrap();
    c.out("merge-driver", &a, None, &["merge-driver", side(0), side(1), side(2), &path]);

    // Following: the record stream with its audit lines, and the inbox.
    c.follow(("watch", ""), &a, &["--as", "alice", "watch", "--interval", "1s"], |l| l["kind"] == "audit.flag");
    c.wrote("msg send", &a, "alice", &["msg", "send", "--to", "carol", "are you there?"]);
    c.follow(("inbox", "--follow"), &a, &["--as", "carol", "inbox", "--follow", "--interval", "1s"], |l| {
        l["fields"]["text"] == "are you there?"
    });

    // A remote without hooks that took a bad push, repaired.
    let loose = w.bare("loose.git");
    w.git(&a, &["push", "-q", loose.to_str().unwrap(), "crew"]);
    w.git(&w.root, &["clone", "-q", loose.to_str().unwrap(), "c"]);
    let c_dir = w.path("c");
    w.crew_ok(&c_dir, &["sync"]);
    let wt = w.worktree(&c_dir);
    tamper_a_task_file(&wt);
    commit_tampered(&w, &wt);
    w.git(&c_dir, &["push", "-q", "origin", "crew"]);
    let repaired = c.out("repair", &a, alice, &["repair", loose.to_str().unwrap(), "--reason", "a bad push"]);
    assert_eq!(repaired["record"]["kind"], "crew.repair", "{repaired}");

    // Failures: usage (clap's and ours), error, conflict, verification.
    c.fails(&a, None, &["task", "list", "--bogus"], 2);
    c.fails(&a, None, &["task", "claim"], 2);
    c.fails(&a, None, &["task", "frobnicate"], 2);
    c.fails(&a, None, &["help", "frobnicate"], 2);
    c.fails(&a, None, &["id", "show", "nobody"], 1);
    c.fails(&a, None, &["merge-driver", "/nonexistent", side(1), side(2), &path], 1);
    c.fails(&a, Some("bob"), &["task", "claim", &task], 3);
    c.fails(&a, Some("bob"), &["task", "unblock", &second], 3);
    std::fs::write(a.join("out.txt"), "changed\n").unwrap();
    let err = c.fails(&a, None, &["verify", "--artifacts"], 4);
    assert_eq!(err["error"]["artifacts"][0]["status"], "mismatch", "{err}");
    let wt = w.worktree(&solo);
    std::fs::write(wt.join("CREW.yaml"), "tampered\n").unwrap();
    commit_tampered(&w, &wt);
    for all in [&["verify"][..], &["verify", "--all"][..]] {
        let err = c.fails(&solo, None, all, 4);
        assert!(err["error"]["failures"].as_array().is_some_and(|f| !f.is_empty()), "{err}");
    }

    let missing: Vec<String> = CONTRACT
        .iter()
        .filter(|(command, variant, _)| *command != "demo" && !c.seen.contains(&(*command, *variant)))
        .map(|(command, variant, _)| format!("{command} {variant}"))
        .collect();
    assert!(missing.is_empty(), "not run by this test: {missing:?}");
}

/// `demo --json` (its own test: it takes a while).
#[test]
fn demo_json_validates_against_its_schema() {
    let w = World::new();
    let mut c = Check { w: &w, seen: BTreeSet::new() };
    let demo = c.out("demo", &w.root, None, &["demo"]);
    assert_eq!(demo["kept"], false, "{demo}");
}

/// The commands `git crew help` lists, subcommands by their path.
fn commands(w: &World) -> BTreeSet<String> {
    fn listed(help: &str) -> Vec<String> {
        help.lines()
            .skip_while(|l| l.trim_end() != "Commands:")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            // A name starts at the second column; a wrapped description deeper.
            .filter(|l| !l.starts_with("   "))
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect()
    }
    let top = w.crew_ok(&w.root, &["--help"]);
    let mut out = BTreeSet::new();
    let mut queue: Vec<String> = listed(&top);
    assert!(queue.len() > 10, "no commands in the help: {top}");
    while let Some(path) = queue.pop() {
        let mut args = vec!["help"];
        args.extend(path.split(' '));
        let help = w.crew_ok(&w.root, &args);
        let subs = listed(&help);
        if subs.is_empty() {
            out.insert(path);
        } else {
            queue.extend(subs.into_iter().map(|s| format!("{path} {s}")));
        }
    }
    out
}

/// No command exists that the contract does not cover, the contract names
/// no command that does not exist, every schema of `schema/cli/` is a valid
/// draft 2020-12 schema that the contract uses, and the record kinds of
/// `defs.json` are the library's.
#[test]
fn the_contract_covers_every_command_and_every_schema() {
    let w = World::new();
    let listed = commands(&w);
    let covered: BTreeSet<String> = CONTRACT.iter().map(|(c, _, _)| (*c).to_owned()).collect();
    let uncovered: Vec<&String> = listed.difference(&covered).collect();
    assert!(
        uncovered.is_empty(),
        "commands without a JSON contract (add them to CONTRACT and schema/cli/): {uncovered:?}"
    );
    let unknown: Vec<&String> = covered.difference(&listed).collect();
    assert!(unknown.is_empty(), "the contract names commands that do not exist: {unknown:?}");

    let files = json_files(&root().join("schema/cli"));
    for (name, schema) in &files {
        if let Err(e) = jsonschema::meta::validate(schema) {
            panic!("schema/cli/{name} is not a valid schema: {e}");
        }
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{name}");
        assert_eq!(schema["$id"].as_str(), Some(format!("{CLI_BASE}{name}").as_str()), "{name}");
    }
    let used: BTreeSet<&str> = CONTRACT.iter().filter_map(|(_, _, f)| *f).chain([ERROR_SCHEMA, "defs.json"]).collect();
    let on_disk: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(used, on_disk, "schema/cli/ and the contract disagree");
    let readme = std::fs::read_to_string(root().join("schema/cli/README.md")).unwrap();
    for name in &on_disk {
        assert!(readme.contains(&format!("`{name}`")), "schema/cli/README.md does not list {name}");
    }

    let kinds: BTreeSet<&str> =
        files["defs.json"]["$defs"]["kind"]["enum"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    let library: BTreeSet<&str> = git_crew::record::KINDS.iter().copied().collect();
    assert_eq!(kinds, library, "defs.json's record kinds are not the library's");
}
