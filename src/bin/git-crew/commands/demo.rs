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
        let path = std::env::join_paths(
            std::iter::once(self.exe.parent().unwrap_or(Path::new(".")).to_owned())
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )?;
        let out = Command::new(&self.exe)
            .arg("-C")
            .arg(dir)
            .args(["--as", actor])
            .args(args)
            .env("CREW_HOME", &self.home)
            .env("PATH", path)
            .env_remove("CREW_BRANCH")
            .output()
            .context("running git-crew")?;
        if !out.status.success() {
            bail!("git crew {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn clone(&self, name: &str) -> Result<PathBuf> {
        let dir = self.root.join(name);
        self.git(&self.root, &["clone", "-q", "remote.git", name])?;
        self.git(&dir, &["config", "user.name", name])?;
        self.git(&dir, &["config", "user.email", &format!("{name}@demo")])?;
        Ok(dir)
    }
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
            println!("{s}");
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

    let tips: Vec<String> = std::iter::once(&alice)
        .chain(&clones)
        .map(|d| demo.git(d, &["rev-parse", "crew"]).map(|t| t.trim().to_owned()))
        .collect::<Result<_>>()?;
    let remote_tip = demo.git(&root.join("remote.git"), &["rev-parse", "crew"])?.trim().to_owned();
    if tips.iter().any(|t| *t != remote_tip) {
        bail!("the clones did not converge: remote {remote_tip}, clones {tips:?}");
    }
    let workspace = Workspace::open(&alice, "crew", KeyStore::at(&demo.home))?;
    let report = git_crew::verify::verify(workspace.store(), false)?;
    if cx.json {
        let board = demo.crew(&alice, "alice", &["--json", "task", "list"])?;
        let log = demo.crew(&alice, "alice", &["--json", "log"])?;
        crate::render::json(&serde_json::json!({
            "root": root.display().to_string(),
            "kept": args.keep.is_some(),
            "board": serde_json::from_str::<serde_json::Value>(&board)?,
            "log": serde_json::from_str::<serde_json::Value>(&log)?,
            "verify": report,
            "tip": remote_tip,
            "clones": tips.len(),
        }));
    } else {
        println!("\n== The board (git crew task list)");
        print!("{}", demo.crew(&alice, "alice", &["task", "list"])?);
        println!("\n== The log (git crew log)");
        print!("{}", demo.crew(&alice, "alice", &["log"])?);
        println!("\n== The branch history (git log crew): one commit per write, merges from sync");
        print!("{}", demo.git(&alice, &["log", "--graph", "--format=%h %an: %s", "crew"])?);
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
