//! `git crew demo`: a scripted scenario in a throwaway workspace.
//!
//! It builds a bare remote guarded by the server hook and clones for a human
//! admin and three agents, drives them through the real CLI (this very binary)
//! with the agents working and syncing concurrently, and prints what a reviewer
//! would look at: the board, the log, the branch history, `verify`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};
use git_crew::sign::KeyStore;
use git_crew::workspace::Workspace;

use super::Context;
use crate::args::DemoArgs;
use crate::render;

const AGENTS: [(&str, &str); 3] = [
    ("planner", "Split the login epic into tasks"),
    ("builder", "Fix the login redirect loop"),
    ("reviewer", "Review session-token expiry handling"),
];

struct Demo {
    root: PathBuf,
    exe: PathBuf,
    home: PathBuf,
}

impl Demo {
    fn git(&self, dir: &Path, args: &[&str]) -> Result<String> {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .context("running git")?;
        if !out.status.success() {
            bail!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn crew(&self, dir: &Path, actor: &str, args: &[&str]) -> Result<String> {
        let (code, stdout, stderr) = self.crew_status(dir, actor, args)?;
        if code != 0 {
            bail!("git crew {} failed: {stderr}", args.join(" "));
        }
        Ok(stdout)
    }

    /// git-crew as `actor` in `dir`, with this demo's keys, and this binary
    /// first on PATH (the server hook runs it).
    fn command(&self, dir: &Path, actor: &str, args: &[&str]) -> Result<Command> {
        let path = std::env::join_paths(
            std::iter::once(self.exe.parent().unwrap_or(Path::new(".")).to_owned())
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("-C")
            .arg(dir)
            .args(["--as", actor])
            .args(args)
            .env("CREW_HOME", &self.home)
            .env("PATH", path)
            .env_remove("CREW_BRANCH");
        Ok(cmd)
    }

    /// Run git-crew and return its exit code, stdout and stderr.
    fn crew_status(&self, dir: &Path, actor: &str, args: &[&str]) -> Result<(i32, String, String)> {
        let out = self.command(dir, actor, args)?.output().context("running git-crew")?;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok((out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr)))
    }

    /// The remote's tip and every clone's, which must all be the same.
    fn converged(&self, alice: &Path, clones: &[PathBuf], when: &str) -> Result<(String, Vec<String>)> {
        let tips: Vec<String> = std::iter::once(alice)
            .chain(clones.iter().map(PathBuf::as_path))
            .map(|d| self.git(d, &["rev-parse", "crew"]).map(|t| t.trim().to_owned()))
            .collect::<Result<_>>()?;
        let remote_tip = self.git(&self.root.join("remote.git"), &["rev-parse", "crew"])?.trim().to_owned();
        if tips.iter().any(|t| *t != remote_tip) {
            bail!("the clones did not converge {when}: remote {remote_tip}, clones {tips:?}");
        }
        Ok((remote_tip, tips))
    }

    fn clone(&self, name: &str) -> Result<PathBuf> {
        let dir = self.root.join(name);
        self.git(&self.root, &["clone", "-q", "remote.git", name])?;
        self.git(&dir, &["config", "user.name", name])?;
        self.git(&dir, &["config", "user.email", &format!("{name}@demo")])?;
        Ok(dir)
    }
}

/// The id of the record a `--json` write wrote.
fn id_of(json: &str) -> Result<String> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    v["record"]["id"].as_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("no id in {json}"))
}

/// Claims, a race, receipts, a dependency chain, `next --claim` and a handoff.
fn board_scenario(demo: &Demo, alice: &Path, clones: &[PathBuf], say: &dyn Fn(&str)) -> Result<()> {
    say("== The board: a dependency chain, a claim race, a receipt, next --claim, a handoff");
    let migration = id_of(&demo.crew(
        alice,
        "alice",
        &["--json", "task", "add", "Write the session-table migration", "--priority", "0", "--label", "db"],
    )?)?;
    let deploy = id_of(&demo.crew(
        alice,
        "alice",
        &["--json", "task", "add", "Deploy the login rework", "--priority", "0", "--depends-on", &migration],
    )?)?;
    demo.crew(alice, "alice", &["sync"])?;
    say(&format!(
        "   alice: task add migration ({}), task add deploy --depends-on {}",
        &migration[..8],
        &migration[..8]
    ));
    let agents: Vec<&str> = AGENTS.iter().map(|(a, _)| *a).collect();
    for (agent, dir) in agents.iter().zip(clones) {
        demo.crew(dir, agent, &["sync"])?;
    }

    // Every agent claims the migration at once; the claim is a compare-and-swap
    // push, so exactly one wins and the others exit 3 naming the holder.
    let outcomes: Vec<(i32, String, String)> = std::thread::scope(|scope| {
        let runs: Vec<_> = agents
            .iter()
            .zip(clones)
            .map(|(agent, dir)| {
                let m = migration.clone();
                scope.spawn(move || demo.crew_status(dir, agent, &["task", "claim", &m, "--lease", "1h"]))
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().map_err(|_| anyhow::anyhow!("a claim thread panicked"))?)
            .collect::<Result<Vec<_>>>()
    })?;
    let winners: Vec<usize> = outcomes.iter().enumerate().filter(|(_, o)| o.0 == 0).map(|(i, _)| i).collect();
    let [winner] = winners.as_slice() else {
        bail!("expected exactly one claim to win, got {}: {outcomes:?}", winners.len());
    };
    for (i, (code, _, stderr)) in outcomes.iter().enumerate() {
        let what = if *code == 0 { "won".to_owned() } else { format!("exit {code}: {}", stderr.trim()) };
        say(&format!("   {}: task claim {} --lease 1h → {what}", agents[i], &migration[..8]));
    }
    let (holder, dir) = (agents[*winner], &clones[*winner]);
    std::fs::write(dir.join("migration-test.log"), "migrate up: ok\nmigrate down: ok\n")?;
    let receipt = id_of(&demo.crew(
        dir,
        holder,
        &[
            "--json",
            "receipt",
            "add",
            "--task",
            &migration,
            "--kind",
            "test",
            "--artifact",
            "migration-test.log",
            "--summary",
            "migration applies and rolls back",
        ],
    )?)?;
    demo.crew(dir, holder, &["task", "done", &migration, "--receipt", &receipt])?;
    demo.crew(dir, holder, &["sync"])?;
    say(&format!(
        "   {holder}: receipt add --artifact migration-test.log; task done --receipt {}; sync",
        &receipt[..8]
    ));

    // Three agents ask for the best login task at once: three different tasks.
    for (agent, dir) in agents.iter().zip(clones) {
        demo.crew(dir, agent, &["sync"])?;
    }
    let picks: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = agents
            .iter()
            .zip(clones)
            .map(|(agent, dir)| {
                scope.spawn(move || demo.crew(dir, agent, &["--json", "next", "--claim", "--label", "login"]))
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().map_err(|_| anyhow::anyhow!("a next thread panicked"))?)
            .collect::<Result<Vec<_>>>()
    })?;
    let mut claimed = Vec::new();
    for (agent, out) in agents.iter().zip(&picks) {
        let v: serde_json::Value = serde_json::from_str(out)?;
        let title = v["task"]["title"].as_str().unwrap_or("?").to_owned();
        say(&format!("   {agent}: next --claim --label login → {title}"));
        claimed.push(v["task"]["id"].as_str().unwrap_or_default().to_owned());
    }
    claimed.sort();
    claimed.dedup();
    if claimed.len() != agents.len() {
        bail!("next --claim gave two agents the same task: {picks:?}");
    }

    // The builder hands its task to the reviewer, with a note.
    let builder = agents.iter().position(|a| *a == "builder").unwrap_or(1);
    let v: serde_json::Value = serde_json::from_str(&picks[builder])?;
    let task = v["task"]["id"].as_str().unwrap_or_default().to_owned();
    demo.crew(
        &clones[builder],
        "builder",
        &["task", "handoff", &task, "--to", "reviewer", "--note", "fix is in; please review"],
    )?;
    demo.crew(&clones[builder], "builder", &["sync"])?;
    say(&format!("   builder: task handoff {} --to reviewer --note \"fix is in; please review\"", &task[..8]));
    for (agent, dir) in agents.iter().zip(clones) {
        demo.crew(dir, agent, &["sync"])?;
    }
    demo.crew(alice, "alice", &["sync"])?;
    let next = demo.crew(alice, "alice", &["next"])?;
    say(&format!("   alice: next → {} (its dependency {} is done)", next.trim(), &migration[..8]));
    if !next.contains(&deploy[..8]) {
        bail!("the deploy task should be ready once the migration is done, but next says {next:?}");
    }
    Ok(())
}

/// Humans and agents talk as peers: a channel, a mention, a thread reply, a
/// direct message and an ack, each delivered through the remote. Returns
/// alice's inbox as text.
fn conversation(demo: &Demo, alice: &Path, clones: &[PathBuf], say: &dyn Fn(&str)) -> Result<String> {
    say("== Messages: a channel, a mention, a thread reply, a direct message, an ack");
    let agents: Vec<&str> = AGENTS.iter().map(|(a, _)| *a).collect();
    let everyone: Vec<(&str, &Path)> = std::iter::once(("alice", alice))
        .chain(agents.iter().copied().zip(clones.iter().map(PathBuf::as_path)))
        .collect();
    let sync_all = || -> Result<()> {
        for (name, dir) in &everyone {
            demo.crew(dir, name, &["sync"])?;
        }
        Ok(())
    };
    for (name, dir) in &everyone {
        demo.crew(dir, name, &["msg", "join", "#general"])?;
    }
    sync_all()?;
    say("   everyone: msg join '#general'");
    let text = "Morning all. @builder the redirect loop is the top priority today.";
    let standup = id_of(&demo.crew(alice, "alice", &["--json", "msg", "send", "--to", "#general", text])?)?;
    demo.crew(alice, "alice", &["sync"])?;
    say(&format!("   alice: msg send --to '#general' \"{text}\""));
    let builder = agents.iter().position(|a| *a == "builder").unwrap_or(1);
    let reviewer = agents.iter().position(|a| *a == "reviewer").unwrap_or(2);
    demo.crew(&clones[builder], "builder", &["sync"])?;
    let inbox = demo.crew(&clones[builder], "builder", &["inbox"])?;
    say(&format!("   builder: inbox →\n      {}", inbox.trim().replace('\n', "\n      ")));
    let reply = "On it; the fix is with @reviewer for review.";
    demo.crew(&clones[builder], "builder", &["msg", "send", "--reply-to", &standup, reply])?;
    demo.crew(&clones[builder], "builder", &["inbox", "--ack"])?;
    demo.crew(&clones[builder], "builder", &["sync"])?;
    say(&format!("   builder: msg send --reply-to {} \"{reply}\"; inbox --ack", &standup[..8]));
    let dm = "The token-expiry review needs a human decision on the grace period.";
    demo.crew(&clones[reviewer], "reviewer", &["sync"])?;
    demo.crew(&clones[reviewer], "reviewer", &["msg", "send", "--to", "alice", dm])?;
    demo.crew(&clones[reviewer], "reviewer", &["sync"])?;
    say(&format!("   reviewer: msg send --to alice \"{dm}\""));
    sync_all()?;
    let unread = demo.crew(&clones[builder], "builder", &["inbox"])?;
    if !unread.contains("nothing unread") {
        bail!("builder acked everything, but its inbox shows: {unread}");
    }
    demo.crew(alice, "alice", &["inbox"])
}

/// The human stops a misbehaving agent: its loop ends on `alive`, and its task
/// goes to another agent.
fn kill_switch(demo: &Demo, alice: &Path, clones: &[PathBuf], say: &dyn Fn(&str)) -> Result<()> {
    say("== The kill switch: a misbehaving agent is suspended mid-run");
    let agents: Vec<&str> = AGENTS.iter().map(|(a, _)| *a).collect();
    let (planner, reviewer) = (0, agents.iter().position(|a| *a == "reviewer").unwrap_or(2));
    let mine: serde_json::Value =
        serde_json::from_str(&demo.crew(&clones[planner], agents[planner], &["--json", "task", "list", "--mine"])?)?;
    let task = mine[0]["id"].as_str().ok_or_else(|| anyhow::anyhow!("the planner holds no task: {mine}"))?.to_owned();
    // Every agent's loop beats as a listening session; sync carries the beats.
    for (agent, dir) in agents.iter().zip(clones) {
        demo.crew(dir, agent, &["heartbeat", "--listening", "--session", "demo-loop"])?;
    }
    demo.crew(alice, "alice", &["sync"])?;
    let (code, audit, _) = demo.crew_status(alice, "alice", &["status", "--audit"])?;
    if code != 0 {
        bail!("with every agent listening, status --audit should flag nothing, got {code}: {audit}");
    }
    let listening = audit.lines().filter(|l| l.contains(" listening,")).count();
    say(&format!(
        "   every agent: heartbeat --listening → {listening} live listeners; alice: status --audit → nothing flagged"
    ));
    let reason = "rewrote the same file 40 times";
    demo.crew(alice, "alice", &["suspend", agents[planner], "--reason", reason])?;
    demo.crew(alice, "alice", &["sync"])?;
    say(&format!("   alice: suspend {} --reason \"{reason}\"; sync", agents[planner]));
    let (code, audit, _) = demo.crew_status(alice, "alice", &["status", "--audit"])?;
    let flags: Vec<&str> = audit.lines().filter_map(|l| l.strip_prefix("flag: ")).collect();
    if code != 6 || !flags.iter().any(|f| f.starts_with("suspended holder")) {
        bail!("status --audit should flag the suspended holder (exit 6), got {code}: {audit}");
    }
    say(&format!("   alice: status --audit → exit 6: {}", flags.join("; ")));
    demo.crew(&clones[planner], agents[planner], &["sync"])?;
    let (code, out, _) = demo.crew_status(&clones[planner], agents[planner], &["alive"])?;
    if code != 5 {
        bail!("alive should exit 5 for a suspended agent, got {code}: {out}");
    }
    say(&format!("   {}: sync; alive → exit 5 ({}); its loop stops", agents[planner], out.trim()));
    demo.crew(&clones[reviewer], agents[reviewer], &["sync"])?;
    demo.crew(&clones[reviewer], agents[reviewer], &["task", "claim", &task])?;
    demo.crew(&clones[reviewer], agents[reviewer], &["sync"])?;
    say(&format!("   {}: task claim {} → won (a suspended holder holds nothing)", agents[reviewer], &task[..8]));
    demo.crew(alice, "alice", &["sync"])?;
    let (code, audit, _) = demo.crew_status(alice, "alice", &["status", "--audit"])?;
    if code != 0 {
        bail!("status --audit should be clean once the task is claimed again, got {code}: {audit}");
    }
    say("   alice: status --audit → nothing flagged");
    for (agent, dir) in agents.iter().zip(clones) {
        demo.crew(dir, agent, &["sync"])?;
    }
    demo.crew(alice, "alice", &["sync"])?;
    Ok(())
}

/// A long-running git-crew (a loop, a supervisor) whose stdout lines arrive
/// on a channel.
struct Running {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Demo {
    fn spawn(&self, dir: &Path, actor: &str, args: &[&str]) -> Result<Running> {
        let mut child = self
            .command(dir, actor, args)?
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("running git-crew")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Running { child, lines })
    }
}

impl Running {
    /// The first line `want` picks within `within`.
    fn await_line(
        &self,
        within: std::time::Duration,
        want: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<serde_json::Value> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.lines.recv_timeout(left).map_err(|_| anyhow::anyhow!("no such line within {within:?}"))?;
            let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if want(&value) {
                return Ok(value);
            }
        }
    }

    /// SIGTERM, and wait for it to end its session.
    fn stop(mut self) -> Result<()> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        self.child.wait()?;
        Ok(())
    }
}

/// A supervisor with no model in it recovers a killed agent: the builder's
/// loop dies holding a task, the supervisor requeues it, the reviewer
/// finishes it.
fn supervisor(demo: &Demo, alice: &Path, clones: &[PathBuf], say: &dyn Fn(&str)) -> Result<()> {
    say("== The supervisor: a killed agent's task is requeued and finished by another");
    demo.crew(alice, "alice", &["id", "new", "sup", "--role", "agent"])?;
    demo.crew(alice, "alice", &["policy", "set", "--dead-after", "2s", "--grant", "sup=release,suspend"])?;
    say("   alice: id new sup --role agent; policy set --dead-after 2s --grant sup=release,suspend");
    let task =
        id_of(&demo.crew(alice, "alice", &["--json", "task", "add", "Rotate the session keys", "--priority", "0"])?)?;
    let (builder, reviewer) = (&clones[1], &clones[2]);
    demo.crew(builder, "builder", &["heartbeat", "--end", "--session", "demo-loop"])?;
    demo.crew(builder, "builder", &["task", "claim", &task])?;
    let looping = demo.spawn(builder, "builder", &["--json", "inbox", "--follow", "--interval", "1s"])?;
    say(&format!("   builder: task claim {}; its loop runs (inbox --follow, beating every second)", &task[..8]));
    let sup = demo.spawn(alice, "sup", &["--json", "supervise", "--interval", "1s", "--lease", "2m"])?;
    sup.await_line(std::time::Duration::from_secs(30), |l| l["kind"] == "supervise.lead")?;
    say("   sup: git crew supervise → leads (holds the election lease)");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let mut looping = looping;
    looping.child.kill()?;
    looping.child.wait()?;
    let killed = std::time::Instant::now();
    say("   builder's loop: killed with SIGKILL while holding the task");
    let step = sup.await_line(std::time::Duration::from_secs(60), |l| {
        l["kind"] == "supervise.step" && l["step"] == "requeue" && l["actor"] == "builder"
    })?;
    say(&format!(
        "   sup: {} after the kill: requeue builder ({}): {}",
        format_args!("{:.1}s", killed.elapsed().as_secs_f64()),
        step["flag"].as_str().unwrap_or_default(),
        step["why"].as_str().unwrap_or_default()
    ));
    sup.stop()?;
    demo.crew(reviewer, "reviewer", &["sync"])?;
    demo.crew(reviewer, "reviewer", &["task", "claim", &task])?;
    demo.crew(reviewer, "reviewer", &["task", "done", &task, "--summary", "finished after the builder died"])?;
    say(&format!("   reviewer: task claim {0}; task done {0}", &task[..8]));
    for ((agent, _), dir) in AGENTS.iter().zip(clones) {
        demo.crew(dir, agent, &["sync"])?;
    }
    demo.crew(alice, "alice", &["sync"])?;
    Ok(())
}

pub fn run(cx: &Context, args: DemoArgs) -> Result<i32> {
    let (root, _temp) = match &args.keep {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                bail!("{} exists and is not empty; choose a new directory for --keep", dir.display());
            }
            std::fs::create_dir_all(dir)?;
            (dir.canonicalize()?, None)
        }
        None => {
            let t = tempfile::Builder::new().prefix("git-crew-demo-").tempdir()?;
            (t.path().to_owned(), Some(t))
        }
    };
    let demo = Demo { exe: std::env::current_exe()?, home: root.join("crew-home"), root: root.clone() };
    let say = |s: &str| {
        if !cx.json {
            render::lines(s.lines());
        }
    };

    say("== A bare remote guarded by the server hook, and the admin's clone");
    demo.git(&root, &["init", "-q", "--bare", "remote.git"])?;
    demo.crew(&root.join("remote.git"), "alice", &["install", "--server"])?;
    say("   remote.git: git crew install --server");
    let alice = demo.clone("alice")?;
    demo.crew(&alice, "alice", &["init", "--admin", "alice", "--name", "demo"])?;
    say("   alice: git crew init --admin alice");
    for (agent, _) in AGENTS {
        demo.crew(&alice, "alice", &["id", "new", agent, "--role", "agent"])?;
        say(&format!("   alice: git crew id new {agent} --role agent"));
    }
    demo.crew(&alice, "alice", &["task", "add", "Ship the login rework", "--priority", "1", "--label", "epic"])?;
    say("   alice: git crew task add \"Ship the login rework\"");
    demo.crew(&alice, "alice", &["sync"])?;
    say("   alice: git crew sync");

    say("== Three agents, each in its own clone, work and sync at the same time");
    let clones: Vec<PathBuf> = AGENTS.iter().map(|(agent, _)| demo.clone(agent)).collect::<Result<_>>()?;
    std::thread::scope(|scope| -> Result<()> {
        let runs: Vec<_> = AGENTS
            .iter()
            .zip(&clones)
            .enumerate()
            .map(|(i, ((agent, title), dir))| {
                let demo = &demo;
                scope.spawn(move || -> Result<()> {
                    demo.crew(dir, agent, &["sync"])?;
                    let priority = i.to_string();
                    demo.crew(dir, agent, &["task", "add", title, "--priority", &priority, "--label", "login"])?;
                    demo.crew(dir, agent, &["task", "add", &format!("Follow-up from {agent}"), "--priority", "3"])?;
                    demo.crew(dir, agent, &["sync"])?;
                    Ok(())
                })
            })
            .collect();
        for run in runs {
            run.join().map_err(|_| anyhow::anyhow!("an agent thread panicked"))??;
        }
        Ok(())
    })?;
    for (agent, title) in AGENTS {
        say(&format!("   {agent}: git crew sync; task add \"{title}\"; task add …; git crew sync"));
    }
    let everyone = std::iter::once(("alice", &alice)).chain(AGENTS.iter().map(|(a, _)| *a).zip(&clones));
    for (name, dir) in everyone {
        demo.crew(dir, name, &["sync"])?;
    }
    say("   everyone: git crew sync (all clones converge on one tip)");

    demo.converged(&alice, &clones, "after the agents' writes")?;
    board_scenario(&demo, &alice, &clones, &say)?;
    let alice_inbox = conversation(&demo, &alice, &clones, &say)?;
    kill_switch(&demo, &alice, &clones, &say)?;
    supervisor(&demo, &alice, &clones, &say)?;
    let (remote_tip, tips) = demo.converged(&alice, &clones, "after the conversation")?;
    let workspace = Workspace::open(&alice, "crew", KeyStore::at(&demo.home))?;
    let report = git_crew::verify::verify(workspace.store(), false)?;
    if cx.json {
        let board = demo.crew(&alice, "alice", &["--json", "board"])?;
        let log = demo.crew(&alice, "alice", &["--json", "log"])?;
        render::json(&serde_json::json!({
            "root": root.display().to_string(),
            "kept": args.keep.is_some(),
            "board": serde_json::from_str::<serde_json::Value>(&board)?,
            "inbox": serde_json::from_str::<serde_json::Value>(&demo.crew(&alice, "alice", &["--json", "inbox"])?)?,
            "log": serde_json::from_str::<serde_json::Value>(&log)?,
            "verify": report,
            "tip": remote_tip,
            "clones": tips.len(),
        }));
    } else {
        println!("\n== The board (git crew board)");
        render::lines(demo.crew(&alice, "alice", &["board"])?.lines());
        println!("\n== alice's inbox (git crew inbox)");
        render::lines(alice_inbox.lines());
        println!("\n== The log (git crew log)");
        render::lines(demo.crew(&alice, "alice", &["log"])?.lines());
        println!("\n== The branch history (git log crew): one commit per write, merges from sync");
        render::lines(demo.git(&alice, &["log", "--graph", "--format=%h %an: %s", "crew"])?.lines());
        println!("\n== git crew verify");
        println!("OK: {} records in {} commits verified.", report.records, report.commits);
        println!(
            "Tips: remote {} · clones {}",
            &remote_tip[..7],
            tips.iter().map(|t| &t[..7]).collect::<Vec<_>>().join(" ")
        );
        match &args.keep {
            Some(_) => println!("\nKept in {} (keys in {}/crew-home).", root.display(), root.display()),
            None => println!("\n(workspace deleted; run `git crew demo --keep DIR` to explore it)"),
        }
    }
    Ok(0)
}
