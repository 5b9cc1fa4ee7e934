//! Publish contention: N writers, each in its own clone of one hooked bare
//! remote served by `git daemon` on 127.0.0.1, each running `task add` then
//! `sync` in a loop, all at once. Prints one table row per mode: published
//! records per second, write+sync latency percentiles (fleet-wide and the
//! slowest writer's p99), sync rounds, and records lost (must be 0).
//!
//! ```text
//! cargo build --release --locked --bins --examples
//! target/release/examples/writers [--agents 32] [--writes 5] [--modes fold,cas]
//! ```
//!
//! `fold` is the server as `install --server` sets it up: pushes go to
//! `refs/crew/for/crew` and the `proc-receive` hook folds them in turn. `cas`
//! is the same server with the fold turned off, so every publish is a
//! compare-and-swap on the branch (what a remote without hooks gets, and what
//! every remote got before the fold).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let (mut agents, mut writes, mut modes) = (32usize, 5usize, vec!["fold".to_owned(), "cas".to_owned()]);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--agents" => agents = value().parse().expect("--agents N"),
            "--writes" => writes = value().parse().expect("--writes N"),
            "--modes" => modes = value().split(',').map(str::to_owned).collect(),
            other => panic!("unknown argument {other}: --agents N --writes N --modes fold,cas"),
        }
    }
    let exe = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("git-crew");
    assert!(exe.is_file(), "build the binary first: cargo build --release --bins --examples ({})", exe.display());
    // Hooks run `git-crew` from PATH: the one measured.
    let path = format!("{}:{}", exe.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    std::env::set_var("PATH", path);
    println!("| mode | agents × writes | records/s published | write+sync p50 | p90 | p99 | slowest agent p99 | max sync rounds | lost |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for mode in &modes {
        assert!(mode == "fold" || mode == "cas", "unknown mode {mode}: fold or cas");
        run(&exe, mode == "fold", agents, writes);
    }
}

fn run(exe: &Path, fold: bool, agents: usize, writes: usize) {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    let home = root.join("home");
    let crew = |dir: &Path, args: &[&str]| -> String {
        let out = Command::new(exe).current_dir(dir).env("CREW_HOME", &home).args(args).output().unwrap();
        assert!(out.status.success(), "git crew {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(root, &["init", "-q", "--bare", "remote.git"]);
    let remote = root.join("remote.git");
    crew(&remote, &["install", "--server"]);
    if !fold {
        git(&remote, &["config", "--unset", "receive.procReceiveRefs"]);
        git(&remote, &["update-ref", "-d", "refs/crew/fold/v1"]);
    }
    let daemon = Daemon::start(root);
    let url = format!("git://127.0.0.1:{}/remote.git", daemon.port);
    git(root, &["init", "-q", "admin"]);
    let admin = root.join("admin");
    crew(&admin, &["init", "--admin", "admin"]);
    git(&admin, &["remote", "add", "origin", &url]);
    for i in 0..agents {
        crew(&admin, &["--offline", "id", "new", &format!("w{i:02}"), "--role", "agent"]);
    }
    crew(&admin, &["sync"]);
    let dirs: Vec<PathBuf> = (0..agents)
        .map(|i| {
            let name = format!("w{i:02}");
            git(root, &["clone", "-q", &url, &name]);
            let dir = root.join(&name);
            git(&dir, &["config", "crew.as", &name]);
            crew(&dir, &["sync"]);
            dir
        })
        .collect();
    let started = Instant::now();
    let threads: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            let (dir, exe, home) = (dir.clone(), exe.to_owned(), home.clone());
            std::thread::spawn(move || {
                let mut out = Vec::new();
                for n in 0..writes {
                    let t = Instant::now();
                    let title = format!("w{i:02} write {n}");
                    let mut add = Command::new(&exe);
                    let ok = status(add.current_dir(&dir).env("CREW_HOME", &home).args(["task", "add", &title]));
                    let sync =
                        Command::new(&exe).current_dir(&dir).env("CREW_HOME", &home).args(["--json", "sync"]).output();
                    let rounds = sync
                        .ok()
                        .filter(|o| o.status.success())
                        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
                        .and_then(|v| v["rounds"].as_u64());
                    out.push((t.elapsed(), ok && rounds.is_some(), rounds.unwrap_or(0)));
                }
                out
            })
        })
        .collect();
    let per_agent: Vec<Vec<(Duration, bool, u64)>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let elapsed = started.elapsed();
    let board = crew(&remote, &["--json", "task", "list"]);
    let on_remote = (0..agents)
        .flat_map(|i| (0..writes).map(move |n| format!("w{i:02} write {n}")))
        .filter(|t| board.contains(&format!("\"{t}\"")))
        .count();
    let acked: usize = per_agent.iter().flatten().filter(|w| w.1).count();
    let lost = acked.saturating_sub(on_remote);
    let mut all: Vec<Duration> = per_agent.iter().flatten().map(|w| w.0).collect();
    all.sort();
    let slowest = per_agent
        .iter()
        .map(|a| {
            let mut v: Vec<Duration> = a.iter().map(|w| w.0).collect();
            v.sort();
            pct(&v, 99)
        })
        .max()
        .unwrap_or_default();
    let rounds = per_agent.iter().flatten().map(|w| w.2).max().unwrap_or(0);
    println!(
        "| {} | {agents} × {writes} | {:.1} | {} | {} | {} | {} | {rounds} | {lost} |",
        if fold { "fold" } else { "cas" },
        on_remote as f64 / elapsed.as_secs_f64(),
        ms(pct(&all, 50)),
        ms(pct(&all, 90)),
        ms(pct(&all, 99)),
        ms(slowest),
    );
    drop(daemon);
}

fn status(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn pct(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) * p).div_ceil(100)]
}

fn ms(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `git daemon` serving `root` on a free port of 127.0.0.1, killed on drop.
struct Daemon {
    child: Child,
    port: u16,
}

impl Daemon {
    fn start(root: &Path) -> Daemon {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // git-daemon itself, not the `git` wrapper, so killing it stops the
        // listener.
        let exec_path = Command::new("git").arg("--exec-path").output().unwrap().stdout;
        let exec_path = PathBuf::from(String::from_utf8(exec_path).unwrap().trim());
        let child = Command::new(exec_path.join("git-daemon"))
            .args(["--reuseaddr", "--export-all", "--enable=receive-pack", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.display()))
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon never listened on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Daemon { child, port }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
