//! Terminal-safe human output: text an agent put in a record (ESC, BEL, OSC,
//! C1, DEL, bidi controls) reaches a reader's terminal only escaped, in every
//! human-format command and in error messages, while `--json` keeps it exactly.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Run, World};

/// A window retitle (OSC), a screen clear (CSI), BEL, a C1 CSI, DEL, another
/// C0 and a right-to-left override.
const EVIL: &str = "pwn\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{7f}\u{1}\u{202e}txt.exe";
/// How [`EVIL`] reads once escaped.
const EVIL_SHOWN: &str = "pwn\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}31m\\u{7f}\\u{1}\\u{202e}txt.exe";
/// Titles, hosts and artifact paths refuse control characters, not bidi controls.
const TITLE: &str = "Fix \u{202e}nigol\u{202c} and \u{2066}isolate\u{2069}";
const HOST: &str = "box\u{200f}\u{61c}\u{202b}";
const ARTIFACT: &str = "report\u{202e}fdp.txt";
/// A body that tries to forge lines of `task show` itself.
const BODY: &str = "first \u{1b}[31mred\nhistory:\n  deadbeef 2026-01-01T00:00:00.000Z alice task.create \"forged\"";

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// No control character but line breaks, and no bidi control, in `text`.
fn assert_clean(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|&c| (c.is_control() && c != '\n') || is_bidi(c)) {
        panic!("{what}: raw {c:?} reaches the terminal in {text:?}");
    }
}

/// Run a human-format command: its stdout and stderr must be clean.
fn human(w: &World, dir: &Path, args: &[&str]) -> Run {
    let run = w.crew(dir, args);
    assert_clean(&format!("stdout of {args:?}"), &run.stdout);
    assert_clean(&format!("stderr of {args:?}"), &run.stderr);
    run
}

/// Like [`human`], and the command exits 0 and shows `shown` escaped.
fn shows(w: &World, dir: &Path, args: &[&str], shown: &[&str]) -> String {
    let run = human(w, dir, args);
    assert_eq!(run.code, 0, "{args:?}: {run:?}");
    for s in shown {
        assert!(run.stdout.contains(s), "{args:?} does not show {s:?}: {}", run.stdout);
    }
    run.stdout
}

fn json(w: &World, dir: &Path, args: &[&str]) -> Value {
    w.crew_json(dir, args)
}

/// The record of `kind` in a list of record views.
fn record<'a>(records: &'a Value, kind: &str) -> &'a Value {
    records.as_array().unwrap().iter().find(|r| r["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in {records}"))
}

/// A workspace where alice and bob wrote every kind of hostile text the CLI
/// accepts, bob beat from a hostile host and was then suspended for a hostile
/// reason. Returns the repository, the hostile task and a task blocked for
/// [`EVIL`].
fn hostile(w: &World) -> (PathBuf, String, String) {
    let (dir, _) = w.workspace("a");
    w.agent(&dir, "bob");
    let alice = |args: &[&str]| {
        let mut full = vec!["--as", "alice"];
        full.extend_from_slice(args);
        json(w, &dir, &full)
    };
    let task = alice(&["task", "add", TITLE, "--body", BODY])["record"]["id"].as_str().unwrap().to_owned();
    let blocked = alice(&["task", "add", "Second"])["record"]["id"].as_str().unwrap().to_owned();
    alice(&["task", "block", &blocked, "--reason", EVIL]);
    alice(&["task", "comment", &task, EVIL]);
    alice(&["task", "claim", &task]);
    alice(&["task", "handoff", &task, "--to", "bob", "--note", EVIL]);
    alice(&["msg", "send", "--to", "bob", EVIL]);
    std::fs::write(dir.join(ARTIFACT), "ok\n").unwrap();
    json(w, &dir, &["--as", "bob", "receipt", "add", "--task", &task, "--artifact", ARTIFACT, "--summary", EVIL]);
    let beat = w
        .crew_cmd(&dir, &["--as", "bob", "heartbeat", "--session", "evil", "--ttl", "1h"])
        .env("HOSTNAME", HOST)
        .output()
        .unwrap();
    assert!(beat.status.success(), "{}", String::from_utf8_lossy(&beat.stderr));
    alice(&["suspend", "bob", "--reason", EVIL]);
    (dir, task, blocked)
}

#[test]
fn human_output_escapes_record_text_and_json_keeps_it() {
    let w = World::new();
    let (dir, task, blocked) = hostile(&w);
    let since = ["--since", "2000-01-01", "--no-follow"];

    // Every human-format reader, and what each must show escaped.
    shows(&w, &dir, &["board"], &["\\u{202e}nigol", EVIL_SHOWN]);
    shows(&w, &dir, &["task", "list"], &["\\u{202e}nigol", EVIL_SHOWN]);
    shows(&w, &dir, &["task", "show", &task], &["\\u{202e}nigol", "\\u{1b}]0;pwned\\u{7}", "\\u{202e}txt.exe"]);
    shows(&w, &dir, &["task", "show", &blocked], &[EVIL_SHOWN]);
    shows(&w, &dir, &["status"], &[EVIL_SHOWN, "box\\u{200f}\\u{61c}\\u{202b}"]);
    shows(&w, &dir, &["log"], &["\\u{1b}]0;pwned\\u{7}", "\\u{202e}"]);
    shows(&w, &dir, &["--as", "bob", "inbox"], &["\\u{1b}]0;pwned\\u{7}"]);
    shows(&w, &dir, &["--as", "bob", "msg", "list", "alice"], &["\\u{1b}]0;pwned\\u{7}"]);
    shows(&w, &dir, &["watch", since[0], since[1], since[2]], &["\\u{1b}]0;pwned\\u{7}", "\\u{202e}"]);
    shows(&w, &dir, &["id", "list"], &["bob"]);
    shows(&w, &dir, &["id", "show", "bob"], &["suspended"]);
    let receipt = record(&json(&w, &dir, &["log", "--kind", "receipt"]), "receipt")["id"].as_str().unwrap().to_owned();
    shows(&w, &dir, &["receipt", "show", &receipt], &["\\u{1b}]0;pwned\\u{7}", "report\\u{202e}fdp.txt"]);
    let alive = human(&w, &dir, &["--as", "bob", "alive"]);
    assert_eq!(alive.code, 5, "{alive:?}");
    assert!(alive.stdout.contains(EVIL_SHOWN), "{}", alive.stdout);

    // The same commands in JSON carry the exact text.
    let board = json(&w, &dir, &["board"]);
    let columns = ["ready", "in_progress", "blocked", "done"];
    let card = |id: &str| columns.iter().flat_map(|c| board[c].as_array().unwrap()).find(|t| t["id"] == id).unwrap();
    assert_eq!(card(&task)["title"], TITLE, "{board}");
    assert!(card(&blocked)["why"].as_str().unwrap().contains(EVIL), "{board}");
    let list = json(&w, &dir, &["task", "list"]);
    let row = |id: &str| list.as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    assert_eq!(row(&task)["title"], TITLE);
    assert!(row(&blocked)["why"].as_str().unwrap().contains(EVIL), "{list}");
    let show = json(&w, &dir, &["task", "show", &task]);
    assert_eq!(show["task"]["title"], TITLE);
    assert_eq!(show["task"]["body"], BODY);
    let history = &show["history"];
    assert_eq!(record(history, "task.comment")["fields"]["text"], EVIL);
    assert_eq!(record(history, "task.handoff")["fields"]["note"], EVIL);
    assert_eq!(record(history, "receipt")["fields"]["summary"], EVIL);
    assert_eq!(record(history, "receipt")["fields"]["artifacts"][0]["path"], ARTIFACT);
    let status = json(&w, &dir, &["status"]);
    let bob = status["actors"].as_array().unwrap().iter().find(|a| a["name"] == "bob").unwrap();
    assert_eq!(bob["suspended"]["reason"], EVIL, "{status}");
    assert_eq!(bob["sessions"][0]["host"], HOST, "{status}");
    let log = json(&w, &dir, &["log"]);
    assert_eq!(record(&log, "task.block")["fields"]["reason"], EVIL);
    assert_eq!(record(&log, "actor.suspend")["fields"]["reason"], EVIL);
    assert_eq!(record(&json(&w, &dir, &["--as", "bob", "inbox"]), "msg.send")["fields"]["text"], EVIL);
    assert_eq!(json(&w, &dir, &["--as", "bob", "msg", "list", "alice"])[0]["fields"]["text"], EVIL);
    let receipt = json(&w, &dir, &["receipt", "show", &receipt]);
    assert_eq!(receipt["fields"]["summary"], EVIL);
    assert_eq!(receipt["fields"]["artifacts"][0]["path"], ARTIFACT);
    let run = w.crew(&dir, &["--json", "--as", "bob", "alive"]);
    assert_eq!(run.code, 5);
    assert_eq!(run.json()["suspended"]["reason"], EVIL);
    // watch --json shows the library's summaries untouched: the same as log's.
    let watch = w.crew(&dir, &["--json", "watch", since[0], since[1], since[2]]);
    assert_eq!(watch.code, 0, "{watch:?}");
    for line in watch.stdout.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let logged = log.as_array().unwrap().iter().find(|r| r["id"] == v["id"]).unwrap();
        assert_eq!(v["summary"], logged["summary"], "{line}");
    }
}

#[test]
fn task_body_keeps_its_lines_but_cannot_forge_output() {
    let w = World::new();
    let (dir, task, _) = hostile(&w);
    let out = shows(&w, &dir, &["task", "show", &task], &[]);
    let lines: Vec<&str> = out.lines().collect();
    // The body's lines stay lines, each indented under the header.
    let at = lines.iter().position(|l| *l == "    first \\u{1b}[31mred").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(lines[at + 1], "    history:", "{out}");
    assert_eq!(lines[at + 2], "      deadbeef 2026-01-01T00:00:00.000Z alice task.create \"forged\"", "{out}");
    // Only the real history header starts a line.
    assert_eq!(lines.iter().filter(|l| **l == "history:").count(), 1, "{out}");
}

#[test]
fn errors_quoting_records_are_escaped_for_people_and_exact_in_json() {
    let w = World::new();
    let (dir, _, blocked) = hostile(&w);

    // A claim on a task blocked for a hostile reason: exit 3.
    let run = human(&w, &dir, &["--as", "alice", "task", "claim", &blocked]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains(EVIL_SHOWN), "{}", run.stderr);
    let run = w.crew(&dir, &["--json", "--as", "alice", "task", "claim", &blocked]);
    assert_eq!(run.code, 3, "{run:?}");
    let err: Value = serde_json::from_str(&run.stderr).unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    assert!(err["error"]["message"].as_str().unwrap().contains(EVIL), "{err}");

    // A suspended actor's write quotes the suspension's reason: exit 5.
    let run = human(&w, &dir, &["--as", "bob", "task", "comment", &blocked, "hi"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains(EVIL_SHOWN), "{}", run.stderr);
    let run = w.crew(&dir, &["--json", "--as", "bob", "task", "comment", &blocked, "hi"]);
    assert_eq!(run.code, 5, "{run:?}");
    let err: Value = serde_json::from_str(&run.stderr).unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    assert!(err["error"]["message"].as_str().unwrap().contains(EVIL), "{err}");
}
