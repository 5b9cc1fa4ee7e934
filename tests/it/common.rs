//! Shared test harness: hermetic temporary git repositories and a runner for the
//! real `git-crew` binary. Every test builds its own world under one temp dir.

#![allow(dead_code)]

pub mod memory;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use git_crew::hlc::Hlc;
use git_crew::id::Id;
use git_crew::sign::{KeyStore, Keypair};
use serde_json::Value;

/// Path of the binary under test.
pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-crew"))
}

/// A hermetic world: its own HOME, CREW_HOME and git configuration.
pub struct World {
    pub temp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
}

/// The outcome of one `git-crew` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

impl World {
    pub fn new() -> World {
        let temp = tempfile::Builder::new().prefix("crew-test-").tempdir().unwrap();
        let root = temp.path().canonicalize().unwrap();
        let home = root.join("crew-home");
        std::fs::create_dir_all(root.join("home")).unwrap();
        World { temp, root, home }
    }

    /// Environment shared by git and git-crew children.
    pub fn env(&self, cmd: &mut Command) {
        let path = std::env::join_paths(
            std::iter::once(exe().parent().unwrap().to_owned())
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .unwrap();
        // No git identity anywhere: git-crew must not need one (tests that
        // commit with plain git give theirs, see `git`).
        cmd.env("HOME", self.root.join("home"))
            .env("XDG_CONFIG_HOME", self.root.join("home/.config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("GIT_AUTHOR_NAME")
            .env_remove("GIT_AUTHOR_EMAIL")
            .env_remove("GIT_COMMITTER_NAME")
            .env_remove("GIT_COMMITTER_EMAIL")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("CREW_HOME", &self.home)
            .env("PATH", path)
            .env_remove("CREW_AS")
            .env_remove("CREW_BRANCH")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE");
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// `git init` a non-bare repository named `name`.
    pub fn repo(&self, name: &str) -> PathBuf {
        self.git(&self.root, &["init", "-q", "-b", "main", name]);
        self.path(name)
    }

    /// `git init --bare` a repository named `name`.
    pub fn bare(&self, name: &str) -> PathBuf {
        self.git(&self.root, &["init", "-q", "--bare", "-b", "main", name]);
        self.path(name)
    }

    /// Run git in `dir`; panics unless it succeeds. Returns stdout.
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_output(dir, args);
        assert!(
            out.status.success(),
            "git {args:?} in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run git in `dir` and return whatever happened. Plain git in tests
    /// commits as "Test" (git-crew itself runs with no identity at all).
    pub fn git_output(&self, dir: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        cmd.env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com");
        cmd.current_dir(dir).args(args).output().unwrap()
    }

    /// Run git in `dir` with `input` on its standard input (and no identity
    /// but git-crew's environment); panics unless it succeeds. Returns stdout,
    /// trimmed.
    pub fn git_stdin(&self, dir: &Path, args: &[&str], input: &[u8]) -> String {
        use std::io::Write;
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        let mut child = cmd
            .current_dir(dir)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A `git-crew` command in `dir`, ready to run or spawn.
    pub fn crew_cmd(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(exe());
        self.env(&mut cmd);
        cmd.current_dir(dir).args(args);
        cmd
    }

    /// Run `git-crew` in `dir`.
    pub fn crew(&self, dir: &Path, args: &[&str]) -> Run {
        let out = self.crew_cmd(dir, args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run `git-crew` in `dir`; panics unless it exits 0. Returns stdout.
    pub fn crew_ok(&self, dir: &Path, args: &[&str]) -> String {
        let run = self.crew(dir, args);
        assert_eq!(run.code, 0, "git-crew {args:?} failed: {}", run.stderr);
        run.stdout
    }

    /// Run `git-crew --json …` in `dir`; panics unless it exits 0.
    pub fn crew_json(&self, dir: &Path, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let run = self.crew(dir, &full);
        assert_eq!(run.code, 0, "git-crew {full:?} failed: {}", run.stderr);
        run.json()
    }

    /// A fresh repository with a workspace whose admin is `alice`. Returns the
    /// repository path and the workspace id.
    pub fn workspace(&self, name: &str) -> (PathBuf, Id) {
        let dir = self.repo(name);
        let out = self.crew_json(&dir, &["init", "--admin", "alice"]);
        let ws: Id = out["workspace"].as_str().unwrap().parse().unwrap();
        (dir, ws)
    }

    /// Admit `name` as an agent (as alice).
    pub fn agent(&self, dir: &Path, name: &str) {
        self.crew_ok(dir, &["--as", "alice", "id", "new", name, "--role", "agent"]);
    }

    /// The key store of this world.
    pub fn keys(&self) -> KeyStore {
        KeyStore::at(&self.home)
    }

    /// The private key of `name` in workspace `ws`.
    pub fn key(&self, ws: &Id, name: &str) -> Keypair {
        self.keys().load(ws, name).unwrap()
    }

    /// The tip of `branch` in `dir`, or `None`.
    pub fn tip(&self, dir: &Path, branch: &str) -> Option<String> {
        let out = self.git_output(dir, &["rev-parse", "--verify", "-q", &format!("refs/heads/{branch}")]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Check out the crew branch in a separate worktree at `<dir>-wt` for
    /// tampering with plain git; returns its path.
    pub fn worktree(&self, dir: &Path) -> PathBuf {
        let wt = PathBuf::from(format!("{}-wt", dir.display()));
        self.git(dir, &["worktree", "add", "-q", wt.to_str().unwrap(), "crew"]);
        wt
    }

    /// Commit everything in worktree `wt` with plain git, as git-crew would
    /// when the records it adds are valid: authored by their author with the
    /// message derived from them (so a test trips only the check it means
    /// to). Otherwise as "Test" with `message`.
    pub fn commit_all(&self, wt: &Path, message: &str) {
        self.git(wt, &["add", "-A"]);
        let (name, email, message) = match self.derived_commit(wt) {
            Some((author, derived)) => (author.clone(), format!("{author}@crew"), derived),
            None => ("Test".to_owned(), "test@example.com".to_owned(), message.to_owned()),
        };
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        cmd.current_dir(wt)
            .env("GIT_AUTHOR_NAME", &name)
            .env("GIT_AUTHOR_EMAIL", &email)
            .env("GIT_COMMITTER_NAME", &name)
            .env("GIT_COMMITTER_EMAIL", &email)
            .args(["commit", "-q", "--no-verify", "--cleanup=verbatim", "-m", &message]);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "git commit failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The author and message git-crew derives for the records staged in
    /// `wt` (relative to HEAD), if they all decode and share one author.
    fn derived_commit(&self, wt: &Path) -> Option<(String, String)> {
        let manifest = self.git_output(wt, &["show", ":CREW.yaml"]).stdout;
        let ws = git_crew::decode::genesis_id(&manifest).ok()?;
        // HEAD, or git's empty tree before the first commit.
        let has_head = self.git_output(wt, &["rev-parse", "-q", "--verify", "HEAD"]).status.success();
        let base = if has_head { "HEAD" } else { "4b825dc642cb6eb9a060e54bf8d69288fbee4904" };
        let names = self.git(wt, &["diff", "--cached", "--name-only", "-z", base]);
        let mut records = Vec::new();
        for path in names.split('\0').filter(|p| p.ends_with(".yaml")) {
            let old = self.git_output(wt, &["show", &format!("{base}:{path}")]).stdout;
            let new = self.git_output(wt, &["show", &format!(":{path}")]).stdout;
            let old_ids: std::collections::HashSet<Id> =
                git_crew::record::frame::split(&old).ok()?.iter().map(|f| f.id(&old, &ws)).collect();
            for f in git_crew::record::frame::split(&new).ok()? {
                if !old_ids.contains(&f.id(&new, &ws)) {
                    let bytes = &new[f.span.clone()];
                    records.push(git_crew::record::decode_records(&[bytes], &ws).pop()?.ok()?);
                }
            }
        }
        let author = records.first()?.author.clone();
        records.iter().all(|r| r.author == author).then(|| (author, git_crew::record::commit_message(&records)))
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, read, released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A bare remote with the server hook installed.
pub fn served_bare(w: &World, name: &str) -> PathBuf {
    let bare = w.bare(name);
    w.crew_ok(&bare, &["install", "--server"]);
    assert!(bare.join("hooks/pre-receive").exists());
    bare
}

/// A `git daemon` serving `root` on 127.0.0.1, killed when dropped.
pub struct Daemon {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Daemon {
    pub fn start(w: &World) -> Daemon {
        let port = free_port();
        let log = w.path("daemon.log");
        let root = w.root.to_str().unwrap();
        let mut cmd = Command::new("git");
        w.env(&mut cmd);
        cmd.current_dir(&w.root)
            .args([
                "daemon",
                "--reuseaddr",
                &format!("--base-path={root}"),
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                root,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        let mut daemon = Daemon { child: cmd.spawn().unwrap(), port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = daemon.child.try_wait().unwrap() {
                panic!("git daemon exited ({status}): {}", daemon.log_text());
            }
            assert!(Instant::now() < deadline, "git daemon never listened on {port}: {}", daemon.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawn every job at once (each a directory and `git-crew` arguments), then
/// wait for all: their outcomes, in order.
pub fn all_at_once(w: &World, jobs: &[(PathBuf, Vec<String>)]) -> Vec<Run> {
    let children: Vec<Child> = jobs
        .iter()
        .map(|(dir, args)| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            w.crew_cmd(dir, &args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .collect()
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// The crew tip of `dir`, which must exist.
pub fn tip(w: &World, dir: &Path) -> String {
    w.tip(dir, "crew").unwrap_or_else(|| panic!("no crew branch in {}", dir.display()))
}

/// `git-crew --json --as ACTOR ARGS…` in `dir`; panics unless it exits 0.
pub fn json_as(w: &World, dir: &Path, actor: &str, args: &[&str]) -> Value {
    let mut full = vec!["--as", actor];
    full.extend_from_slice(args);
    w.crew_json(dir, &full)
}

/// Run `git-crew --json --as ACTOR ARGS…` and expect exit `code`, nothing on
/// stdout, a JSON error on stderr with that exit and a message containing
/// `needle`, no panic, and the crew tip unchanged.
pub fn refused(w: &World, dir: &Path, actor: &str, args: &[&str], code: i32, needle: &str) -> Run {
    let before = tip(w, dir);
    let mut full = vec!["--json", "--as", actor];
    full.extend_from_slice(args);
    let run = w.crew(dir, &full);
    assert_eq!(run.code, code, "git-crew {full:?}: want exit {code}, got {run:?}");
    assert!(run.stdout.trim().is_empty(), "git-crew {full:?} was refused but printed {}", run.stdout);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let err: Value = serde_json::from_str(&run.stderr).unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    assert_eq!(err["error"]["exit"], code, "{err}");
    assert!(
        err["error"]["message"].as_str().is_some_and(|e| e.contains(needle)),
        "git-crew {full:?}: error is not about {needle:?}: {err}"
    );
    assert_eq!(tip(w, dir), before, "git-crew {full:?} was refused but moved the crew branch");
    run
}

/// An admin clone `a` (alice, with agents bob and carol) and a clone `b`, both
/// synced through a hooked bare remote, and a task titled `title`. Returns (a,
/// b, remote, task id).
pub fn team(w: &World, title: &str) -> (PathBuf, PathBuf, PathBuf, String) {
    let remote = served_bare(w, "remote.git");
    let (a, _) = w.workspace("a");
    w.agent(&a, "bob");
    w.agent(&a, "carol");
    w.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    let task = w.crew_json(&a, &["task", "add", title])["record"]["id"].as_str().unwrap().to_owned();
    w.crew_ok(&a, &["sync"]);
    w.git(&w.root, &["clone", "-q", remote.to_str().unwrap(), "b"]);
    let b = w.path("b");
    w.crew_ok(&b, &["--as", "carol", "sync"]);
    (a, b, remote, task)
}

/// A long-running `git-crew` child whose stdout lines arrive on a channel.
pub struct Follower {
    child: Child,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
    what: String,
}

impl Follower {
    pub fn spawn(w: &World, dir: &Path, args: &[&str]) -> Follower {
        let mut child =
            w.crew_cmd(dir, args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Follower { child, lines, stderr: Some(stderr), what: format!("git-crew {args:?}") }
    }

    /// The next line, parsed as JSON, within `within`; panics otherwise.
    pub fn next(&mut self, within: Duration) -> Value {
        self.try_next(within).unwrap_or_else(|| panic!("{}: no line within {within:?}", self.what))
    }

    /// The next line, parsed as JSON, if one comes within `within`; panics if
    /// the child closed its stdout.
    pub fn try_next(&mut self, within: Duration) -> Option<Value> {
        match self.lines.recv_timeout(within) {
            Ok(line) => Some(
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {line}", self.what)),
            ),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().unwrap();
                let err = self.stderr.take().map(|h| h.join().unwrap()).unwrap_or_default();
                panic!("{}: stdout closed ({status}): {err}", self.what)
            }
        }
    }

    /// Nothing more is printed for `period`.
    pub fn quiet(&self, period: Duration) {
        match self.lines.recv_timeout(period) {
            Ok(line) => panic!("{}: unexpected line {line}", self.what),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => panic!("{}: exited while it should follow", self.what),
        }
    }

    /// Send SIGTERM and wait (at most 10 s): the exit code and stderr.
    pub fn terminate(mut self) -> (i32, String) {
        assert!(self.child.try_wait().unwrap().is_none(), "{}: exited before SIGTERM", self.what);
        let pid = self.child.id().to_string();
        let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{}: still running 10 s after SIGTERM", self.what);
            std::thread::sleep(Duration::from_millis(20));
        };
        let err = self.stderr.take().map(|h| h.join().unwrap()).unwrap_or_default();
        (status.code().unwrap_or(-1), err)
    }
}

impl Follower {
    /// Kill it with SIGKILL, as a crash would: no clean-up runs.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The clock stamp of a record as `--json` shows it: `at` (RFC 3339) and
/// `counter`.
pub fn stamp(view: &Value) -> Hlc {
    let at = view["at"].as_str().unwrap_or_else(|| panic!("no at in {view}"));
    let ms = Hlc::parse_loose(at).unwrap_or_else(|e| panic!("{e}: {view}")).ms;
    let counter = view["counter"].as_u64().unwrap_or_else(|| panic!("no counter in {view}"));
    Hlc { ms, counter: u32::try_from(counter).unwrap() }
}

/// Hand-made records for attack tests: stamps after everything the CLI wrote
/// (`ahead_ms` later than now, one millisecond apart), and `task.create`
/// records canonical or hand-written, sealed with any key. The fixtures that
/// tamper with a branch (`hooks::Net`, `tamper::Bench`) deref to one.
pub struct Craft {
    pub ws: Id,
    base_ms: i64,
    tick: std::cell::Cell<i64>,
}

impl Craft {
    pub fn new(ws: Id, ahead_ms: i64) -> Craft {
        Craft { ws, base_ms: Hlc::now().ms + ahead_ms, tick: std::cell::Cell::new(0) }
    }

    /// A fresh stamp, later than every one handed out before.
    pub fn at(&self) -> Hlc {
        let n = self.tick.get();
        self.tick.set(n + 1);
        Hlc { ms: self.base_ms + n, counter: 0 }
    }

    /// A canonical `task.create` signed with `key` (valid or not for
    /// `author`): its bytes and id.
    pub fn task_record(&self, author: &str, key: &Keypair, title: &str) -> (Vec<u8>, Id) {
        let payload = git_crew::record::Payload::TaskCreate(git_crew::record::kinds::TaskCreate {
            title: title.into(),
            body: None,
            labels: vec![],
            priority: 2,
            ..Default::default()
        });
        let body = git_crew::record::body(author, self.at(), &payload).unwrap();
        git_crew::record::seal(&self.ws, "task.create", &body, key)
    }

    /// A hand-written `task.create` body (canonical header lines, then
    /// `fields`), validly signed with `key`.
    pub fn raw_task(&self, author: &str, key: &Keypair, fields: &str) -> (Vec<u8>, Id) {
        let body = format!("v: 1\nkind: \"task.create\"\nauthor: \"{author}\"\nat: \"{}\"\n{fields}", self.at());
        git_crew::record::seal(&self.ws, "task.create", &body, key)
    }
}

/// The bytes of `rel` under `dir`.
pub fn read_at(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// Write `bytes` to `rel` under `dir`, making its folders.
pub fn write_at(dir: &Path, rel: &str, bytes: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Append `bytes` to `rel` under `dir`.
pub fn append_at(dir: &Path, rel: &str, bytes: &[u8]) {
    let mut all = read_at(dir, rel);
    all.extend_from_slice(bytes);
    write_at(dir, rel, &all);
}

/// Write a sealed `task.create` into `wt` where the layout puts it; the path.
pub fn place_at(wt: &Path, (bytes, id): (Vec<u8>, Id)) -> String {
    let path = git_crew::layout::task_path(&id);
    write_at(wt, &path, &bytes);
    path
}

/// Every file under `dir`, as slash-separated paths relative to it, sorted.
pub fn files_under(dir: &Path) -> std::collections::BTreeSet<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_str().unwrap());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.insert(name);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(dir, "", &mut out);
    out
}

/// A test's size from the environment: `name` if set (a number), else
/// `default`, the CI size. Heavy tests run larger by hand this way.
pub fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}
