//! `git crew guide`: the text an agent's prompt needs — how to join, the
//! loop, what reaches the remote, exit codes and JSON shapes.
//!
//! The guide is data ([`SECTIONS`]), and what it says about each command comes
//! from the clap definitions (the command's own help line) and the exit code
//! table ([`exit::TABLE`]), so it cannot drift from the binary: a unit test
//! parses every step with [`Cli`], and an integration test runs every step in
//! a scratch workspace with a hooked remote.

use crate::exit;
use anyhow::Result;
use clap::CommandFactory;
use serde::Serialize;

use super::Context;
use crate::args::Cli;
use crate::render;

/// Who runs a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Who {
    /// The agent, in its own clone.
    Agent,
    /// An admin, in theirs.
    Admin,
}

/// One command the guide shows. `run` is a shell line; `<…>` are
/// placeholders: `<remote>` (the team's git remote), `<dir>` (a directory),
/// `<me>` (the agent's name), `<request>` (a file), `<task>`, `<receipt>`,
/// `<message>` (ids or unique prefixes, from earlier steps' output),
/// `<actor>` (another actor), `<channel>`, `"<text>"` (quoted words).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Step {
    pub who: Who,
    pub run: &'static str,
    /// What the guide adds to the command's own help line.
    pub note: &'static str,
}

/// A part of the guide.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Section {
    pub title: &'static str,
    pub text: &'static str,
    pub steps: &'static [Step],
}

const fn agent(run: &'static str, note: &'static str) -> Step {
    Step { who: Who::Agent, run, note }
}

const fn admin(run: &'static str, note: &'static str) -> Step {
    Step { who: Who::Admin, run, note }
}

/// The guide, in the order an agent meets it.
pub const SECTIONS: &[Section] = &[
    Section {
        title: "Join",
        text: "A clone of the team's remote is the workspace. Your key stays on your machine; an admin admits its public half.",
        steps: &[
            agent("git clone <remote> <dir>", "then work inside <dir>."),
            agent("git crew sync", "fetches the workspace branch (never `git crew init` in a team's clone)."),
            agent("git crew install", "sets up the merge driver and hooks in this clone."),
            agent(
                "git crew id request <me> --out <request>",
                "makes your key and records <me> as this clone's actor (crew.as); give <request> to an admin.",
            ),
            admin("git crew id admit <request>", "the admission is published when the command returns."),
            agent("git crew sync", "now your records count."),
        ],
    },
    Section {
        title: "The loop",
        text: "Repeat until `alive` exits 5. Every write is on the remote when it returns; `heartbeat` and any write also bring this clone up to date.",
        steps: &[
            agent("git crew heartbeat", "beat every few minutes (ttl/3); renews your claims' leases."),
            agent("git crew alive", "exit 5: you are suspended — stop, write nothing, tell your human."),
            agent("git crew inbox", "what is addressed to you and unread; reading does not mark it read."),
            agent("git crew inbox --ack", "marks read exactly the items this invocation prints."),
            agent("git crew next --claim", "exit 3: nothing ready — wait a beat and loop."),
            agent("git crew task comment <task> \"<text>\"", "progress, for whoever watches the task."),
            agent(
                "git crew receipt add --task <task> --kind test --summary \"<text>\"",
                "evidence: commits (--commit), artifacts (--artifact), a summary.",
            ),
            agent("git crew task done <task> --receipt <receipt> --summary \"<text>\"", "closes the task you hold."),
        ],
    },
    Section {
        title: "When a task cannot be finished",
        text: "Say so on the board; never hold a task silently.",
        steps: &[
            agent("git crew task block <task> --reason \"<text>\"", "keeps your claim; `task unblock` clears it."),
            agent("git crew task unblock <task>", ""),
            agent("git crew task handoff <task> --to <actor> --note \"<text>\"", "the receiver gets it in their inbox."),
            agent("git crew task release <task> --reason \"<text>\"", "back to the board for anyone."),
        ],
    },
    Section {
        title: "Talking",
        text: "Messages are records too: signed, published, answerable.",
        steps: &[
            agent("git crew msg send --to <actor> \"<text>\"", "a direct message; `--to #<channel>` posts in a channel."),
            agent("git crew msg send --reply-to <message> \"<text>\"", "the reply reaches the message's author."),
            agent("git crew msg channels", ""),
            agent("git crew msg join <channel>", "shows the recent backlog."),
            agent("git crew msg list <channel>", ""),
            agent("git crew board", ""),
        ],
    },
    Section {
        title: "Stopping",
        text: "Before you exit.",
        steps: &[
            agent("git crew sync", "publishes anything a write kept on this clone (`\"published\": false`)."),
            agent("git crew heartbeat --end", "ends your session, so nobody waits on you."),
        ],
    },
    Section {
        title: "For the humans: the kill switch",
        text: "An admin stops an agent; its next `alive` or write exits 5.",
        steps: &[
            admin("git crew suspend <me> --reason \"<text>\"", ""),
            admin("git crew resume <me>", ""),
            admin("git crew status", "add --audit to flag deaf agents and dead holders (exit 6)."),
        ],
    },
];

/// What reaches the remote, and what only reads this clone's copy.
const REMOTE: &str = "\
Every write (task, receipt, msg, inbox --ack, id, suspend, resume) publishes
before it returns: exit 0 with \"published\": true means the record is on the
remote. When the remote cannot be reached the write is kept on this clone, the
JSON says \"published\": false and why, stderr warns, and `git crew sync`
publishes it later. --offline (or `git config crew.publish false`) keeps writes
local on purpose. `alive` and `heartbeat` ask the remote (alive says \"stale\"
when it cannot). Reads (board, inbox, task list, msg list, status, log) read
this clone's copy: a heartbeat, a write or `git crew sync` refreshes it.";

/// The JSON contract, in brief.
const SHAPES: &str = "\
With --json, stdout is one JSON value (watch and inbox --follow: one per line).
A record: {\"id\", \"kind\", \"author\", \"at\" (RFC 3339, UTC), \"counter\",
\"task\" (when it has one), \"summary\", \"fields\"}. A write:
{\"record\", \"published\", \"remote\", \"why\" (when not published), plus what
the command adds}. A failure: exactly one object on stderr,
{\"error\": {\"code\", \"exit\", \"message\", \"hint\"}}, where hint is the next
command to try. Schemas: schema/cli/ in the source.";

#[derive(Serialize)]
struct StepView<'a> {
    who: Who,
    run: &'a str,
    /// The command's own help line (from its definition).
    about: String,
    note: &'a str,
}

#[derive(Serialize)]
struct SectionView<'a> {
    title: &'a str,
    text: &'a str,
    steps: Vec<StepView<'a>>,
}

#[derive(Serialize)]
struct ExitView {
    code: i32,
    name: &'static str,
    meaning: &'static str,
}

#[derive(Serialize)]
struct GuideView<'a> {
    sections: Vec<SectionView<'a>>,
    remote: &'a str,
    exit_codes: Vec<ExitView>,
    json: &'a str,
}

pub fn run(cx: &Context) -> Result<i32> {
    let guide = GuideView {
        sections: SECTIONS
            .iter()
            .map(|s| SectionView {
                title: s.title,
                text: s.text,
                steps: s
                    .steps
                    .iter()
                    .map(|st| StepView { who: st.who, run: st.run, about: about(st.run), note: st.note })
                    .collect(),
            })
            .collect(),
        remote: REMOTE,
        exit_codes: exit::TABLE.iter().map(|e| ExitView { code: e.code, name: e.name, meaning: e.meaning }).collect(),
        json: SHAPES,
    };
    if cx.json {
        render::json(&guide);
    } else {
        print!("{}", text(&guide));
    }
    Ok(0)
}

fn text(guide: &GuideView) -> String {
    let mut out = String::from("git crew guide: how an agent works with its crew\n");
    for (n, s) in guide.sections.iter().enumerate() {
        out.push_str(&format!("\n{}. {}\n   {}\n\n", n + 1, s.title, s.text));
        for st in &s.steps {
            let who = if st.who == Who::Admin { "  (an admin)" } else { "" };
            out.push_str(&format!("   $ {}{who}\n", st.run));
            for line in [st.about.as_str(), st.note].into_iter().filter(|l| !l.is_empty()) {
                out.push_str(&format!("       {line}\n"));
            }
        }
    }
    out.push_str(&format!("\nWhat reaches the remote\n{}\n", indent(guide.remote)));
    out.push_str("\nExit codes\n");
    for e in &guide.exit_codes {
        out.push_str(&format!("   {}  {:<9}  {}\n", e.code, e.name, e.meaning));
    }
    out.push_str(&format!("\nJSON (--json)\n{}\n", indent(guide.json)));
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}")).collect::<Vec<_>>().join("\n")
}

/// The help line of the `git crew` command a step runs (empty for a plain
/// git step): the deepest subcommand its words name.
fn about(run: &str) -> String {
    let Some(rest) = run.strip_prefix("git crew ") else { return String::new() };
    let command = Cli::command();
    let mut found = &command;
    for word in rest.split_whitespace().take_while(|w| !w.starts_with('-') && !w.starts_with('<')) {
        match found.find_subcommand(word) {
            Some(sub) => found = sub,
            None => break,
        }
    }
    found.get_about().map(|a| a.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// Every `git crew` step parses with the real definitions once its
    /// placeholders are filled, and names a command with a help line.
    #[test]
    fn every_step_parses_and_has_help() {
        for step in SECTIONS.iter().flat_map(|s| s.steps) {
            let Some(rest) = step.run.strip_prefix("git crew ") else {
                assert!(step.run.starts_with("git "), "{}", step.run);
                continue;
            };
            let mut argv = vec!["git-crew".to_owned()];
            argv.extend(rest.split_whitespace().map(|w| match w.trim_matches('"') {
                "<task>" | "<receipt>" | "<message>" => "0123abcd".to_owned(),
                w if w.starts_with('<') => "x".to_owned(),
                w => w.to_owned(),
            }));
            if let Err(e) = Cli::try_parse_from(&argv) {
                panic!("{}: {e}", step.run);
            }
            assert!(!about(step.run).is_empty(), "{} has no help line", step.run);
        }
    }
}
