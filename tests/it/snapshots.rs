//! Snapshots of what people see: the human (non-`--json`) output of every
//! command and subcommand, each in a typical success and at least one typical
//! failure, with its exit code, recorded with `insta` in `snapshots/` beside
//! this file (plus the `--json` output of `task list` and `inbox`,
//! pretty-printed). One scenario, built once against a hooked bare remote and
//! walked in order, so a change in any line a user reads shows up in review as
//! a diff of a `.snap` file.
//!
//! Each snapshot is one text: the command line (`$ git crew …`), `exit: N`,
//! then `--- stdout` and `--- stderr`. What changes from run to run is
//! replaced: the temporary root by `[ROOT]`, times by `[TIME]`, leases and
//! session lives left by `[LEFT]`, process ids by `[PID]`; hex runs by their
//! shape: a task, receipt, message or workspace the scenario made by its name
//! (`[task:login]`, `[ws:full]` for the whole id), any other short id by
//! `[ID]`, and `[HEX12]` (a commit or a session), `[FPR]` (a key's
//! fingerprint), `[COMMIT]`, `[HEX64]` (an id or a key), `[SIG]`.
//!
//! A change in the output fails the test with a diff, and (outside CI)
//! leaves a `.snap.new` beside each changed snapshot; every snapshot is
//! checked before the test fails, so one run shows every change. To accept
//! an intended change, run
//!
//! ```text
//! INSTA_UPDATE=always cargo test --test it -- snapshots
//! ```
//!
//! then review `git diff tests/it/snapshots/` line by line before committing
//! (or `cargo insta review`, where cargo-insta is installed). A changed exit
//! code fails the test even once its snapshot is accepted: the expected codes
//! are written in the scenario below.
//!
//! Labels are not as wide as what they replace, so the columns of a table can
//! look ragged here that are straight on a terminal. JSON is pretty-printed
//! with its keys sorted. The following commands (`inbox --follow`, `watch`)
//! are stopped with SIGTERM once their expected line is out. `git crew demo` is
//! left out: it takes about 15 s and its agents run concurrently, so its
//! output is not the same twice.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::{Run, World};

/// The scenario's workspace, named ids, and the snapshots that differed.
struct Snap<'w> {
    w: &'w World,
    root: String,
    /// (label, 8-hex short id) of the records the scenario names.
    names: Vec<(String, String)>,
    failed: Vec<String>,
    settings: insta::Settings,
}

impl<'w> Snap<'w> {
    fn new(w: &'w World) -> Snap<'w> {
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        for (regex, with) in [
            // Stamps (RFC 3339 to the millisecond), with the clock's counter
            // when it has one.
            (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z(?:~\d+)?", "[TIME]"),
            // What is left of a lease or a session (`12m left`, `1799s left`).
            (r"\b-?\d+[smh] left", "[LEFT] left"),
            (r"ran out \d+s ago", "ran out [LEFT] ago"),
            (r"\bpid \d+", "pid [PID]"),
            // In JSON: durations left and the clock's counter.
            (r#""lease_left_secs": -?\d+"#, r#""lease_left_secs": [LEFT]"#),
            (r#""counter": \d+"#, r#""counter": [N]"#),
        ] {
            settings.add_filter(regex, with);
        }
        Snap { w, root: w.root.display().to_string(), names: Vec::new(), failed: Vec::new(), settings }
    }

    /// `git-crew ARGS` in `dir`, hermetic down to the host name and colours.
    fn cmd(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = self.w.crew_cmd(dir, args);
        cmd.env("HOSTNAME", "snap-host")
            .env("LC_ALL", "C")
            .env("NO_COLOR", "1")
            .env_remove("LANGUAGE")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CREW_SESSION")
            .env_remove("GIT_CREW_CLOCK_SKEW_MS");
        cmd
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Run {
        let out = self.cmd(dir, args).stdin(Stdio::null()).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run `git-crew ARGS` in `dir` and snapshot it as `name`; an exit other
    /// than `code` fails the test (at the end, like a snapshot that differs).
    fn check(&mut self, name: &str, dir: &Path, args: &[&str], code: i32) -> Run {
        let run = self.run(dir, args);
        self.record(name, args, &run, code, false);
        run
    }

    /// [`Snap::check`], naming the record the command printed first as
    /// `label` from then on.
    fn named(&mut self, label: &str, name: &str, dir: &Path, args: &[&str]) -> String {
        let run = self.run(dir, args);
        let short = run.stdout.get(..8).unwrap_or_default().to_owned();
        assert!(is_hex(&short), "git crew {args:?}: no record line: {run:?}");
        self.names.push((label.to_owned(), short.clone()));
        self.record(name, args, &run, 0, false);
        short
    }

    /// [`Snap::check`] with stdout, which must be JSON, pretty-printed.
    fn json(&mut self, name: &str, dir: &Path, args: &[&str]) {
        let run = self.run(dir, args);
        self.record(name, args, &run, 0, true);
    }

    fn record(&mut self, name: &str, args: &[&str], run: &Run, code: i32, json: bool) {
        let stdout = if json {
            let value: serde_json::Value = serde_json::from_str(&run.stdout)
                .unwrap_or_else(|e| panic!("git crew {args:?}: stdout is not JSON ({e}): {run:?}"));
            serde_json::to_string_pretty(&value).unwrap() + "\n"
        } else {
            run.stdout.clone()
        };
        let text = format!(
            "$ git crew{}\nexit: {}\n--- stdout\n{stdout}--- stderr\n{}",
            args.iter().map(|a| format!(" {}", shell_word(a))).collect::<String>(),
            run.code,
            run.stderr
        );
        self.assert(name, &text);
        if run.code != code {
            self.failed.push(format!("{name} (exit {}, want {code})", run.code));
        }
    }

    /// Compare `text`, made stable, with snapshot `name`; a mismatch is
    /// remembered (insta prints its diff) and fails the test at the end, so
    /// that one run shows (and, outside CI, writes `.snap.new` for) them all.
    fn assert(&mut self, name: &str, text: &str) {
        let text = self.stable(text);
        let settings = &self.settings;
        let matched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(name, text));
        }));
        if matched.is_err() {
            self.failed.push(name.to_owned());
        }
    }

    /// `text` with the root replaced and every hex run named by its shape.
    fn stable(&self, text: &str) -> String {
        let text = text.replace(&self.root, "[ROOT]");
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric()) {
            out.push_str(&rest[..start]);
            rest = &rest[start..];
            let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
            let (word, after) = rest.split_at(end);
            out.push_str(&self.label(word, after).unwrap_or_else(|| word.to_owned()));
            rest = after;
        }
        out.push_str(rest);
        out
    }

    /// The name of hex run `word` (followed by `after`), if it is one.
    fn label(&self, word: &str, after: &str) -> Option<String> {
        if !is_hex(word) {
            return None;
        }
        let named = self
            .names
            .iter()
            .find(|(_, short)| if word.len() < short.len() { short.starts_with(word) } else { word.starts_with(short) })
            .map(|(label, _)| label);
        // A shard folder (`tasks/3f/<id>.yaml`): the first two digits of the id after it.
        let shard = || after.strip_prefix('/').is_some_and(|a| a.starts_with(word) && a.get(..64).is_some_and(is_hex));
        Some(match (word.len(), named) {
            (2, _) if shard() => "[..]".to_owned(),
            // An id cut short to fit a column (`task/3f2a9c…`).
            (4..=63, Some(label)) if after.starts_with('…') => format!("[{label}]"),
            (4..=63, None) if after.starts_with('…') => "[HEX]".to_owned(),
            (8, Some(label)) => format!("[{label}]"),
            (64, Some(label)) => format!("[{label}:full]"),
            (8, None) => "[ID]".to_owned(),
            (12, _) => "[HEX12]".to_owned(),
            (16, _) => "[FPR]".to_owned(),
            (40, _) => "[COMMIT]".to_owned(),
            (64, None) => "[HEX64]".to_owned(),
            (128, _) => "[SIG]".to_owned(),
            _ => return None,
        })
    }

    /// A following command (`inbox --follow`, `watch`): its lines until one
    /// contains `last`, then SIGTERM, and all it printed up to its exit;
    /// snapshotted like any other. `last` must be printed once the command
    /// follows (a backlog comes before it handles SIGTERM).
    fn follow(&mut self, name: &str, dir: &Path, args: &[&str], last: &str) {
        let mut child =
            self.cmd(dir, args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let mut lines = String::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    lines.push_str(&line);
                    lines.push('\n');
                    if line.contains(last) {
                        break;
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!("git crew {args:?}: no line with {last:?} ({e}); so far:\n{lines}");
                }
            }
        }
        // SAFETY: signalling our own child, which has not been waited for.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
        let status = child.wait().unwrap();
        // Everything it printed after the line awaited, up to its exit.
        reader.join().unwrap();
        lines.extend(rx.try_iter().map(|l| l + "\n"));
        let run = Run { code: status.code().unwrap_or(-1), stdout: lines, stderr: err.join().unwrap() };
        self.record(name, args, &run, 0, false);
    }
}

/// `arg` as a shell would need it typed: quoted (Rust-style) unless plain.
fn shell_word(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_owned()
    } else {
        format!("{arg:?}")
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Every command's human output, in one scenario: an admin's clone `a` (alice,
/// agents bob and carol, human dave), a second clone `b`, a hooked remote.
#[test]
fn human_output_of_every_command() {
    let w = World::new();
    let mut s = Snap::new(&w);
    let root = w.root.clone();

    // Help and usage, anywhere.
    s.check("help_flag", &root, &["--help"], 0);
    s.check("version", &root, &["--version"], 0);
    s.check("help", &root, &["help"], 0);
    s.check("help_task_claim", &root, &["help", "task", "claim"], 0);
    s.check("help_exit_codes", &root, &["help", "exit-codes"], 0);
    s.check("help_unknown_topic", &root, &["help", "frobnicate"], 2);
    s.check("usage_no_command", &root, &[], 2);
    s.check("usage_unknown_command", &root, &["frobnicate"], 2);
    s.check("usage_unknown_option", &root, &["task", "list", "--bogus"], 2);
    s.check("usage_missing_argument", &root, &["task", "claim"], 2);
    s.check("guide", &root, &["guide"], 0);
    s.check("not_a_repository", &root, &["task", "list"], 1);
    let man = w.path("man");
    s.check("install_man", &root, &["install", "--man", "--man-dir", p(&man)], 0);

    // The remote and the workspace.
    let remote = w.bare("remote.git");
    s.check("install_server", &remote, &["install", "--server"], 0);
    let a = w.repo("a");
    s.check("no_workspace", &a, &["board"], 1);
    let run = s.run(&a, &["init", "--admin", "alice", "--name", "snap"]);
    let ws = run.stdout.split_whitespace().nth(2).unwrap_or_default().to_owned();
    assert!(is_hex(&ws), "{run:?}");
    s.names.push(("ws".into(), ws));
    s.record("init", &["init", "--admin", "alice", "--name", "snap"], &run, 0, false);
    s.check("init_again", &a, &["init", "--admin", "alice"], 1);
    s.check("install", &a, &["install"], 0);
    s.check("install_ci", &a, &["install", "--ci", "github"], 0);
    s.check("install_ci_unknown_forge", &a, &["install", "--ci", "jenkins"], 2);

    // Identities.
    s.check("id_new", &a, &["--as", "alice", "id", "new", "bob", "--role", "agent"], 0);
    s.check("id_new_human", &a, &["--as", "alice", "id", "new", "dave", "--role", "human"], 0);
    w.crew_ok(&a, &["--as", "alice", "id", "new", "carol", "--role", "agent", "--owner", "dave"]);
    s.check("id_new_bad_role", &a, &["--as", "alice", "id", "new", "eve", "--role", "boss"], 1);
    s.check("id_new_not_admin", &a, &["--as", "bob", "id", "new", "mallory"], 1);
    s.check("unknown_actor", &a, &["--as", "nobody", "task", "add", "Nothing"], 1);
    w.git(&a, &["remote", "add", "origin", p(&remote)]);
    s.check("sync_first", &a, &["sync"], 0);
    w.git(&root, &["clone", "-q", p(&remote), "b"]);
    let b = w.path("b");
    s.check("sync_clone", &b, &["sync"], 0);
    let request = w.path("erin.request");
    s.check("id_request_out", &b, &["id", "request", "erin", "--out", p(&request)], 0);
    s.check("id_request", &b, &["id", "request", "frank", "--role", "human"], 0);
    s.check("id_admit", &a, &["--as", "alice", "id", "admit", p(&request)], 0);
    s.check("id_admit_again", &a, &["--as", "alice", "id", "admit", p(&request)], 1);
    s.check("id_admit_no_file", &a, &["--as", "alice", "id", "admit", p(&w.path("nope.request"))], 1);
    s.check("id_list", &a, &["id", "list"], 0);
    s.check("id_show", &a, &["id", "show", "carol"], 0);
    s.check("id_show_unknown", &a, &["id", "show", "nobody"], 1);

    // Tasks.
    let login = s.named(
        "task:login",
        "task_add",
        &a,
        &["--as", "alice", "task", "add", "Fix login", "--label", "auth", "--priority", "1"],
    );
    let docs = s.named(
        "task:docs",
        "task_add_with_body_and_dependency",
        &a,
        &["--as", "alice", "task", "add", "Write docs", "--body", "Two\nlines", "--depends-on", &login],
    );
    let form = s.named(
        "task:form",
        "task_add_child",
        &a,
        &["--as", "alice", "task", "add", "Login form", "--parent", &login, "--priority", "3"],
    );
    s.check("task_add_bad_priority", &a, &["--as", "alice", "task", "add", "X", "--priority", "9"], 2);
    s.check("task_add_unknown_dependency", &a, &["--as", "alice", "task", "add", "X", "--depends-on", "0000"], 1);
    s.check("task_list", &a, &["task", "list"], 0);
    s.check("task_list_label", &a, &["task", "list", "--label", "auth"], 0);
    s.check("task_edit", &a, &["--as", "alice", "task", "edit", &login, "--title", "Fix the login loop"], 0);
    s.check("task_edit_unknown", &a, &["--as", "alice", "task", "edit", "ffff", "--priority", "2"], 1);
    s.check("task_edit_cycle", &a, &["--as", "alice", "task", "edit", &login, "--depends-on", &docs], 1);
    s.check("task_claim", &a, &["--as", "bob", "task", "claim", &login, "--lease", "1h"], 0);
    s.check("task_claim_held", &a, &["--as", "carol", "task", "claim", &login], 3);
    s.check("task_claim_bad_lease", &a, &["--as", "carol", "task", "claim", &login, "--lease", "3y"], 2);
    s.check("task_list_mine", &a, &["--as", "bob", "task", "list", "--mine"], 0);
    s.check("board", &a, &["board"], 0);
    s.check("task_show", &a, &["task", "show", &login], 0);
    s.check("task_show_with_body", &a, &["task", "show", &docs], 0);
    s.check("task_show_unknown", &a, &["task", "show", "ffff"], 1);
    s.check("task_comment", &a, &["--as", "bob", "task", "comment", &login, "on it"], 0);
    s.check("task_handoff", &a, &["--as", "bob", "task", "handoff", &login, "--to", "carol", "--note", "yours"], 0);
    s.check("task_handoff_not_holder", &a, &["--as", "bob", "task", "handoff", &login, "--to", "alice"], 3);
    s.check("task_handoff_to_self", &a, &["--as", "carol", "task", "handoff", &login, "--to", "carol"], 1);
    // bob, an agent, never held the form task and does not answer for carol.
    let assign = ["--as", "bob", "task", "assign", &form, "--to", "carol"];
    s.check("task_assign_not_permitted", &a, &assign, 1);
    s.check("task_block", &a, &["--as", "carol", "task", "block", &login, "--reason", "waiting on review"], 0);
    s.check("board_blocked", &a, &["board"], 0);
    s.check("task_unblock", &a, &["--as", "carol", "task", "unblock", &login], 0);
    s.check("task_unblock_not_blocked", &a, &["--as", "carol", "task", "unblock", &login], 3);

    // Receipts, done, next, release.
    std::fs::write(a.join("out.txt"), "ok\n").unwrap();
    let add = ["--as", "carol", "receipt", "add", "--task", &login, "--artifact", "out.txt", "--kind", "test"];
    let receipt = s.named("receipt:ok", "receipt_add", &a, &[&add[..], &["--summary", "tests pass"]].concat());
    s.check("receipt_add_bad_kind", &a, &["--as", "carol", "receipt", "add", "--task", &login, "--kind", "vibes"], 1);
    s.check(
        "receipt_add_missing_artifact",
        &a,
        &["--as", "carol", "receipt", "add", "--task", &login, "--artifact", "missing.txt"],
        1,
    );
    s.check("receipt_show", &a, &["receipt", "show", &receipt], 0);
    s.check("receipt_show_unknown", &a, &["receipt", "show", "ffff"], 1);
    let done = ["--as", "carol", "task", "done", &login, "--receipt", &receipt, "--summary", "fixed"];
    s.check("task_done", &a, &done, 0);
    s.check("task_done_again", &a, &done, 3);
    s.check("task_block_done", &a, &["--as", "carol", "task", "block", &login, "--reason", "too late"], 3);
    s.check("next", &a, &["next"], 0);
    s.check("next_claim", &a, &["--as", "bob", "next", "--claim"], 0);
    s.check("task_release_not_holder", &a, &["--as", "carol", "task", "release", &docs], 3);
    s.check("task_release", &a, &["--as", "bob", "task", "release", &docs, "--reason", "not today"], 0);
    s.check("next_nothing_ready", &a, &["next", "--label", "nope"], 3);
    s.json("json_task_list", &a, &["--json", "task", "list"]);

    // Messages and the inbox.
    let hello = s.named(
        "msg:hello",
        "msg_send_channel",
        &a,
        &["--as", "alice", "msg", "send", "--to", "#general", "hello @bob"],
    );
    s.check("msg_join", &a, &["--as", "bob", "msg", "join", "#general"], 0);
    s.check("msg_send_reply", &a, &["--as", "bob", "msg", "send", "--reply-to", &hello, "hi alice"], 0);
    s.check("msg_send_direct", &a, &["--as", "bob", "msg", "send", "--to", "carol", "a word"], 0);
    s.check("msg_send_task", &a, &["--as", "alice", "msg", "send", "--task", &docs, "who takes this?"], 0);
    s.check("msg_send_empty", &a, &["--as", "alice", "msg", "send", "--to", "carol", ""], 1);
    s.check("msg_list", &a, &["--as", "bob", "msg", "list", "#general"], 0);
    s.check("msg_list_task", &a, &["--as", "bob", "msg", "list", "--task", &docs], 0);
    s.check("msg_list_no_channel", &a, &["--as", "bob", "msg", "list"], 1);
    s.check("msg_channels", &a, &["--as", "bob", "msg", "channels"], 0);
    s.check("msg_channels_not_member", &a, &["--as", "dave", "msg", "channels"], 0);
    s.check("msg_leave", &a, &["--as", "bob", "msg", "leave", "#general"], 0);
    // Leaving a channel one is not in is refused; nothing is written.
    s.check("msg_leave_again", &a, &["--as", "bob", "msg", "leave", "#general"], 3);
    s.check("msg_leave_bad_name", &a, &["--as", "bob", "msg", "leave", "#No"], 1);
    s.check("msg_join_bad_name", &a, &["--as", "bob", "msg", "join", "#no spaces"], 1);
    s.check("inbox", &a, &["--as", "carol", "inbox"], 0);
    s.json("json_inbox", &a, &["--json", "--as", "carol", "inbox"]);
    s.check("inbox_ack_unknown", &a, &["--as", "carol", "inbox", "--ack", "ffff"], 1);
    s.check("inbox_ack", &a, &["--as", "carol", "inbox", "--ack"], 0);
    s.check("inbox_empty", &a, &["--as", "carol", "inbox"], 0);
    s.check("inbox_all", &a, &["--as", "alice", "inbox", "--all"], 0);

    // Liveness, the log, the stream, verification.
    s.check("heartbeat", &a, &["--as", "bob", "heartbeat", "--listening"], 0);
    s.check("heartbeat_end", &a, &["--as", "alice", "heartbeat", "--end", "--no-sync"], 0);
    s.check("status", &a, &["status"], 0);
    s.check("status_audit", &a, &["status", "--audit"], 6);
    s.check("alive", &a, &["--as", "alice", "alive"], 0);
    s.check("alive_offline", &a, &["--offline", "--as", "alice", "alive"], 0);
    s.check("alive_unknown_actor", &a, &["--as", "nobody", "alive"], 1);
    s.check("log", &a, &["log", "-n", "5"], 0);
    s.check("log_kind", &a, &["log", "--kind", "task."], 0);
    s.check("log_author", &a, &["log", "--author", "carol"], 0);
    s.check("log_bad_count", &a, &["log", "-n", "many"], 2);
    s.check("watch_no_follow", &a, &["watch", "--no-follow", "--since", "2000-01-01", "--kind", "msg.send"], 0);
    s.check("watch_bad_since", &a, &["watch", "--no-follow", "--since", "yesterday"], 1);
    s.check("verify", &a, &["verify"], 0);
    s.check("verify_artifacts", &a, &["verify", "--artifacts"], 0);

    // Writes that stay on a clone, and sync.
    s.check("task_comment_offline", &a, &["--offline", "--as", "carol", "task", "comment", &docs, "later"], 0);
    s.check("sync", &a, &["sync"], 0);
    s.check("sync_up_to_date", &a, &["sync"], 0);
    w.git(&b, &["remote", "set-url", "origin", p(&w.path("nowhere.git"))]);
    s.check("write_unreachable_remote", &b, &["--as", "carol", "msg", "send", "--to", "alice", "from b"], 0);
    s.check("sync_unreachable", &b, &["sync"], 1);
    w.git(&b, &["remote", "set-url", "origin", p(&remote)]);
    s.check("sync_replays", &b, &["sync"], 0);
    let solo = w.repo("solo");
    w.crew_ok(&solo, &["init", "--admin", "alice"]);
    s.check("sync_no_remote", &solo, &["sync"], 1);
    s.check("msg_channels_none", &solo, &["--as", "alice", "msg", "channels"], 0);
    s.check("repair_no_remote", &solo, &["repair"], 1);
    w.crew_ok(&a, &["sync"]);

    // The kill switch and keys.
    s.check("suspend", &a, &["--as", "alice", "suspend", "bob", "carol", "--reason", "drill"], 0);
    s.check("alive_suspended", &a, &["--as", "bob", "alive"], 5);
    s.check("write_suspended", &a, &["--as", "bob", "task", "comment", &docs, "still here"], 5);
    s.check("heartbeat_suspended", &a, &["--as", "bob", "heartbeat"], 5);
    s.check("id_show_suspended", &a, &["id", "show", "bob"], 0);
    s.check("status_suspended", &a, &["status"], 0);
    s.check("suspend_not_admin", &a, &["--as", "dave", "suspend", "alice"], 1);
    s.check("suspend_nobody", &a, &["--as", "alice", "suspend"], 2);
    s.check("resume", &a, &["--as", "alice", "resume", "bob"], 0);
    s.check("resume_not_suspended", &a, &["--as", "alice", "resume", "bob"], 3);
    w.crew_ok(&a, &["--as", "alice", "resume", "carol"]);
    s.check("id_rotate", &a, &["--as", "alice", "id", "rotate"], 0);
    s.check("id_rotate_other_without_request", &a, &["--as", "bob", "id", "rotate", "carol"], 1);
    s.check("id_revoke", &a, &["--as", "alice", "id", "revoke", "dave", "--reason", "leaked"], 0);
    s.check("alive_revoked", &a, &["--as", "dave", "alive"], 5);
    s.check("id_revoke_unknown", &a, &["--as", "alice", "id", "revoke", "nobody"], 1);
    s.check("id_list_after_keys", &a, &["id", "list"], 0);

    // Following: the inbox and the record stream, stopped with SIGTERM.
    w.crew_ok(&a, &["--as", "alice", "msg", "send", "--to", "carol", "are you there?"]);
    let args = ["--as", "carol", "inbox", "--follow", "--interval", "1s"];
    s.follow("inbox_follow", &a, &args, "are you there?");
    // Carol's records, then (following) the audit flags about her.
    let args = ["--as", "alice", "watch", "--since", "2000-01-01", "--author", "carol", "--interval", "1s"];
    s.follow("watch_follow", &a, &args, "audit.flag");

    // Git's side: hooks and the merge driver.
    s.check("hook_post_commit_no_commit", &a, &["hook", "post-commit"], 0);
    let message = format!("Document the login loop\n\nCrew-Task: {docs}\n");
    w.git(&a, &["-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", &message]);
    s.check("hook_post_commit", &a, &["--as", "alice", "hook", "post-commit"], 0);
    let file = w.path("COMMIT_EDITMSG");
    std::fs::write(&file, "Something\n\nCrew-Task: ffff\n").unwrap();
    s.check("hook_commit_msg_unknown_task", &a, &["hook", "commit-msg", p(&file)], 1);
    s.check("hook_unknown", &a, &["hook", "pre-rebase"], 1);
    // The log file of the task `login`.
    let files = w.git(&a, &["ls-tree", "-r", "--name-only", "crew", "tasks/"]);
    let path = files.lines().find(|f| f.contains(&format!("/{login}"))).unwrap().to_owned();
    let content = w.git(&a, &["show", &format!("crew:{path}")]);
    let sides: Vec<PathBuf> = ["base", "ours", "theirs"].iter().map(|n| w.path(n)).collect();
    for side in &sides {
        std::fs::write(side, &content).unwrap();
    }
    s.check("merge_driver", &a, &["merge-driver", p(&sides[0]), p(&sides[1]), p(&sides[2]), &path], 0);
    s.check("merge_driver_missing", &a, &["merge-driver", "/nonexistent", p(&sides[1]), p(&sides[2]), &path], 1);

    // Failed verification, and a repaired remote.
    std::fs::write(a.join("out.txt"), "changed\n").unwrap();
    s.check("verify_artifacts_changed", &a, &["verify", "--artifacts"], 4);
    let wt = w.worktree(&solo);
    std::fs::write(wt.join("CREW.yaml"), "tampered\n").unwrap();
    w.git(&wt, &["commit", "-q", "-a", "--no-verify", "-m", "tampered"]);
    s.check("verify_tampered", &solo, &["verify"], 4);
    s.check("verify_tampered_all", &solo, &["verify", "--all"], 4);
    let loose = w.bare("loose.git");
    w.git(&a, &["push", "-q", p(&loose), "crew"]);
    w.git(&root, &["clone", "-q", p(&loose), "c"]);
    let c = w.path("c");
    w.crew_ok(&c, &["sync"]);
    let wt = w.worktree(&c);
    let file = wt.join(&path);
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("garbage: 1\n");
    std::fs::write(&file, text).unwrap();
    w.git(&wt, &["commit", "-q", "-a", "--no-verify", "-m", "tampered"]);
    w.git(&c, &["push", "-q", "origin", "crew"]);
    s.check("repair_not_admin", &a, &["--as", "bob", "repair", p(&loose)], 1);
    s.check("repair", &a, &["--as", "alice", "repair", p(&loose), "--reason", "a bad push"], 0);

    assert!(s.failed.is_empty(), "snapshots that differ (diffs above) or exits not as expected: {:#?}", s.failed);
}
