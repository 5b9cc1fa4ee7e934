//! Fleet simulator: many agents and a few humans working one workspace at
//! once, through real `git-crew` processes, against a hooked remote served by
//! `git daemon`, with faults on demand. Prints what it measured and checks the
//! guarantees the README makes; exits 1 when a check fails.
//!
//! ```text
//! cargo build --release --locked --bins --examples
//! target/release/examples/fleet [--scale ci|fleet|week] [--agents 8] [--humans 2] [--iterations 5] [--seed S] [--faults|--no-faults] [--json FILE] [--keep DIR]
//! ```
//!
//! `--scale` names a size with faults on: `ci` (4 agents × 3 turns, what CI
//! runs), `fleet` (32 × 5, the README's runs), `week` (32 × 800, over 100,000
//! records: hours; run it outside CI). Flags after it override its parts
//! (`--scale fleet --no-faults`).
//!
//! Setup: a bare remote with `install --server`, served on 127.0.0.1; an admin
//! clone (`init --admin human0`, every other actor admitted with `id new`, all
//! keys in one shared `CREW_HOME`), then one `git clone` per actor, each synced
//! and set to act as its actor (`crew.as`).
//!
//! Workload: each agent is a thread that loops `heartbeat`, `alive` (exit 5:
//! waits until resumed), `inbox --ack`, then works a task it holds (`task list
//! --mine`) or takes one (`next --claim`; exit 3: posts to #general or waits),
//! comments on it, adds a receipt, and mostly closes it (`task done --receipt`),
//! sometimes hands it off or releases it, and sometimes replies to a message of
//! its inbox. One human keeps the board fed in bursts (some tasks depending on
//! earlier ones); another talks in #general and once suspends a random agent
//! and resumes it a few seconds later. With `--faults`, a fault thread SIGKILLs
//! a running agent command now and then (the agent just goes on: that is its
//! restart) and restarts `git daemon` once mid-run; agents reach the daemon
//! through a TCP relay that cuts one connection in twenty mid-stream; and one
//! agent in four runs its clock 1.5 s ahead, one in four 1.5 s behind
//! (`GIT_CREW_CLOCK_SKEW_MS`).
//!
//! Every write (a command whose JSON has `published`) is timed; the records of
//! those that said `published: true` are the acknowledged ones. At the end
//! every clone syncs (twice, so all reach the same tip) and the checks run:
//! (a) no acknowledged record is missing from the remote, (b) no two agents held
//! one task at once by acknowledged claims or handoffs, (c) nothing by the
//! suspended agent landed on the remote between its suspension and its
//! resumption, (d) `verify` passes in every clone and every clone is at the
//! remote's tip, (e) no command ran so long (300 s) that the watchdog killed
//! it. Every command run is also written to `events.jsonl` in the root
//! (kept with `--keep`).

// The report's one `json!` literal nests deeper than the default 128.
#![recursion_limit = "256"]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A command running longer than this is killed and reported as a hang.
const HANG: Duration = Duration::from_secs(300);

/// With `--faults`, the share of agents' connections cut mid-stream.
const CUT_SHARE: f64 = 0.05;

/// With `--faults`, how far the skewed agents' clocks are off the machine's:
/// within the 2 s a server accepts.
const SKEW_MS: i64 = 1_500;

/// The default lease of `task claim` and `next --claim`, in milliseconds.
const DEFAULT_LEASE_MS: i64 = 30 * 60 * 1000;

struct Opts {
    agents: usize,
    humans: usize,
    iterations: usize,
    seed: u64,
    faults: bool,
    json: Option<PathBuf>,
    keep: Option<PathBuf>,
    /// How long the workload may run before the harness stops it.
    limit: Duration,
}

/// `--scale`: a named size (flags after it still override its parts).
fn scale(o: &mut Opts, name: &str) {
    let (agents, iterations, limit_hours) = match name {
        // What CI runs: a few minutes.
        "ci" => (4, 3, 0.5),
        // The measured 32-agent runs in the README: five minutes or so.
        "fleet" => (32, 5, 0.5),
        // A compressed week: about 32 × 800 loop turns of 4–5 records each,
        // over 100,000 records; hours at today's throughput.
        "week" => (32, 800, 48.0),
        other => usage(&format!("unknown --scale {other}: ci, fleet or week")),
    };
    (o.agents, o.iterations, o.faults, o.limit) =
        (agents, iterations, true, Duration::from_secs_f64(limit_hours * 3600.0));
}

fn parse_args() -> Opts {
    let mut o = Opts {
        agents: 8,
        humans: 2,
        iterations: 5,
        seed: 1,
        faults: false,
        json: None,
        keep: None,
        limit: Duration::from_secs(1800),
    };
    let mut args = std::env::args().skip(1);
    let num = |v: Option<String>, what: &str| -> u64 {
        v.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage(&format!("{what} needs a number")))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--agents" => o.agents = num(args.next(), "--agents") as usize,
            "--humans" => o.humans = num(args.next(), "--humans") as usize,
            "--iterations" => o.iterations = num(args.next(), "--iterations") as usize,
            "--seed" => o.seed = num(args.next(), "--seed"),
            "--faults" => o.faults = true,
            "--no-faults" => o.faults = false,
            "--scale" => scale(&mut o, &args.next().unwrap_or_else(|| usage("--scale ci|fleet|week"))),
            "--json" => o.json = Some(args.next().unwrap_or_else(|| usage("--json FILE")).into()),
            "--keep" => o.keep = Some(args.next().unwrap_or_else(|| usage("--keep DIR")).into()),
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if o.agents < 2 || o.agents > 100 || o.humans < 1 || o.iterations < 1 {
        usage("need 2..=100 agents, at least one human and one iteration");
    }
    o
}

fn usage(why: &str) -> ! {
    if !why.is_empty() {
        eprintln!("fleet: {why}");
    }
    eprintln!(
        "usage: fleet [--scale ci|fleet|week] [--agents 8] [--humans 2] [--iterations 5] [--seed S] [--faults|--no-faults] [--json FILE] [--keep DIR]"
    );
    std::process::exit(2)
}

/// xorshift64*: small, seeded, good enough to pick actions.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut x = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
        if x == 0 {
            x = 0x2545_F491_4F6C_DD1D;
        }
        let mut r = Rng(x);
        for _ in 0..4 {
            r.next();
        }
        r
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// A duration between `lo` and `hi` milliseconds.
    fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo + 1))
    }
}

/// A child process an actor is running, for the fault thread and the watchdog.
struct Running {
    pid: u32,
    started: Instant,
    what: String,
}

/// One finished `git-crew` command.
#[derive(Clone)]
struct Event {
    actor: String,
    cmd: String,
    /// Start, seconds since the workload began (negative: setup).
    at: f64,
    ms: f64,
    /// Exit code; -9 when killed by a signal.
    code: i32,
    /// `published`, when the output has it.
    published: Option<bool>,
    /// Ids of the records the write reports (`record.id`, `records[].id`).
    ids: Vec<String>,
    why: Option<String>,
    stderr: String,
    /// Fetch-replay-push attempts, when the output carries a sync.
    rounds: Option<u64>,
    /// What a sync in the output re-made (old, new) and dropped (record, reason).
    remade: Vec<(String, String)>,
    dropped: Vec<(String, String)>,
    /// Whether this run was in the measured workload (not setup or final).
    measured: bool,
    /// 0: setup, 1: workload, 2: the final syncs and checks.
    phase: usize,
}

/// What a command printed, parsed.
struct Outcome {
    code: i32,
    json: Value,
    stderr: String,
}

/// A claim or handoff that was acknowledged: `holder` holds `task` from `record`.
#[derive(Clone)]
struct Holding {
    task: String,
    holder: String,
    record: String,
    how: &'static str,
}

#[derive(Default)]
struct Drill {
    target: Option<String>,
    /// The `actor.suspend` and `actor.resume` records, when acknowledged.
    suspend_record: Option<String>,
    resume_record: Option<String>,
    /// When the suspend command started, and how it ended (exit code, ms).
    suspend_started: Option<Instant>,
    suspend_outcome: Option<(i32, f64)>,
    /// When the suspend command returned (or, kept on its clone, when a
    /// sync published it), and the same for the resume command.
    suspended: Option<Instant>,
    resumed: Option<Instant>,
    /// When the target's first `alive` exited 5, and its first command of any kind.
    alive5: Option<Instant>,
    any5: Option<(Instant, String)>,
    /// When the target's first `alive` exited 0 again after the resume returned.
    back: Option<Instant>,
    done: bool,
}

struct Sim {
    exe: PathBuf,
    root: PathBuf,
    /// The remote over the direct port.
    url: String,
    t0: Mutex<Instant>,
    measuring: AtomicBool,
    phase: AtomicUsize,
    /// One slot per actor (agents first, then humans), plus one for the harness.
    slots: Vec<Mutex<Option<Running>>>,
    events: Mutex<Vec<Event>>,
    holdings: Mutex<Vec<Holding>>,
    stop: AtomicBool,
    progress: AtomicUsize,
    finished: Vec<AtomicBool>,
    drill: Mutex<Drill>,
    kills: Mutex<Vec<String>>,
    hangs: Mutex<Vec<String>>,
    daemon_window: Mutex<Option<(f64, f64)>>,
    tasks_created: AtomicUsize,
    agents: Vec<String>,
    /// Per slot: how far its commands' clocks are skewed (ms).
    skews: Vec<i64>,
    /// The remote's server.
    server: Arc<Server>,
}

/// The remote's server: listeners on 127.0.0.1 that run `git daemon
/// --inetd` for each connection, as inetd or systemd socket activation do.
/// (`git daemon`'s own listener queues only 5 connections; past that the
/// kernel drops new ones and clients wait out SYN retries of 1 s, 3 s…, which
/// measured the daemon's accept queue, not git-crew.) Two ports: `direct`
/// and `flaky`; while `cutting`, the flaky one cuts one connection in twenty
/// after a random number of bytes in one direction, a fetch or a push
/// dropped mid-stream as a flaky network would.
struct Server {
    root: PathBuf,
    daemon: PathBuf,
    ports: [u16; 2],
    accepting: AtomicBool,
    listeners: Mutex<Vec<std::thread::JoinHandle<()>>>,
    cutting: AtomicBool,
    connections: AtomicUsize,
    cuts: AtomicUsize,
    rng: Mutex<Rng>,
}

impl Server {
    fn new(root: &Path, rng: Rng) -> Arc<Server> {
        let exec_path = git(root, &["--exec-path"]);
        Arc::new(Server {
            root: root.to_owned(),
            daemon: Path::new(&exec_path).join("git-daemon"),
            ports: [free_port(), free_port()],
            accepting: AtomicBool::new(false),
            listeners: Mutex::new(Vec::new()),
            cutting: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            cuts: AtomicUsize::new(0),
            rng: Mutex::new(rng),
        })
    }

    fn url(&self, flaky: bool) -> String {
        format!("git://127.0.0.1:{}/remote.git", self.ports[usize::from(flaky)])
    }

    /// Listen on both ports (again, after [`Server::stop`]).
    fn start(self: &Arc<Self>) {
        self.accepting.store(true, Ordering::SeqCst);
        let mut listeners = self.listeners.lock().unwrap();
        for (flaky, port) in [(false, self.ports[0]), (true, self.ports[1])] {
            let deadline = Instant::now() + Duration::from_secs(20);
            let listener = loop {
                match TcpListener::bind(("127.0.0.1", port)) {
                    Ok(l) => break l,
                    Err(e) if Instant::now() > deadline => panic!("cannot listen on {port}: {e}"),
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            };
            let server = Arc::clone(self);
            listeners.push(std::thread::spawn(move || {
                for client in listener.incoming().flatten() {
                    if !server.accepting.load(Ordering::SeqCst) {
                        break;
                    }
                    let server = Arc::clone(&server);
                    std::thread::spawn(move || server.serve(client, flaky));
                }
            }));
        }
    }

    /// Stop listening (connections already being served finish); whether
    /// both ports then refuse connections.
    fn stop(&self) -> bool {
        self.accepting.store(false, Ordering::SeqCst);
        for port in self.ports {
            // Wake the accept loop so it sees the flag and drops its socket.
            let _ = TcpStream::connect(("127.0.0.1", port));
        }
        for l in self.listeners.lock().unwrap().drain(..) {
            let _ = l.join();
        }
        self.ports.iter().all(|p| TcpStream::connect(("127.0.0.1", *p)).is_err())
    }

    /// Serve one connection with `git daemon --inetd`, cutting it if drawn.
    fn serve(&self, client: TcpStream, flaky: bool) {
        // Which way to cut, and after how many bytes.
        let mut cut = None;
        if flaky {
            self.connections.fetch_add(1, Ordering::SeqCst);
            if self.cutting.load(Ordering::SeqCst) {
                let mut rng = self.rng.lock().unwrap();
                cut = rng.chance(CUT_SHARE).then(|| (rng.chance(0.5), rng.below(4096)));
            }
        }
        let (up, down) = match cut {
            Some((true, limit)) => (Some(limit), None),
            Some((false, limit)) => (None, Some(limit)),
            None => (None, None),
        };
        let root = self.root.to_str().unwrap();
        let log = File::options().create(true).append(true).open(self.root.join("daemon.log")).unwrap();
        let child = Command::new(&self.daemon)
            .current_dir(&self.root)
            .args([
                "--inetd",
                "--log-destination=stderr",
                &format!("--base-path={root}"),
                "--export-all",
                "--enable=receive-pack",
                root,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn();
        let Ok(mut child) = child else { return };
        let (Ok(mut from_client), Some(mut stdin), Some(mut stdout)) =
            (client.try_clone(), child.stdin.take(), child.stdout.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return;
        };
        let upstream = std::thread::spawn(move || {
            let was_cut = pump(&mut from_client, &mut stdin, up);
            if was_cut {
                let _ = from_client.shutdown(Shutdown::Both);
            }
            was_cut
        });
        let mut to_client = client;
        let cut_down = pump(&mut stdout, &mut to_client, down);
        let _ = to_client.shutdown(if cut_down { Shutdown::Both } else { Shutdown::Write });
        drop(stdout);
        let cut_up = upstream.join().unwrap_or(false);
        if cut_up || cut_down {
            self.cuts.fetch_add(1, Ordering::SeqCst);
        }
        let _ = child.wait();
    }
}

/// Copy `from` to `to` until EOF or an error; with a `limit`, stop once that
/// many bytes have passed. Whether it stopped at the limit (a cut).
fn pump(from: &mut impl Read, to: &mut impl Write, limit: Option<usize>) -> bool {
    let mut buf = [0u8; 8192];
    let mut moved = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if let Some(limit) = limit.filter(|l| moved + n > *l) {
            let _ = to.write_all(&buf[..limit - moved]);
            return true;
        }
        if to.write_all(&buf[..n]).is_err() || to.flush().is_err() {
            return false;
        }
        moved += n;
    }
}

impl Sim {
    fn elapsed(&self) -> f64 {
        self.t0.lock().unwrap().elapsed().as_secs_f64()
    }

    /// Run `git-crew --json ARGS` in `dir` as actor slot `slot`, timing it and
    /// logging the outcome.
    fn crew(&self, slot: usize, actor: &str, dir: &Path, label: &str, args: &[&str]) -> Outcome {
        let at = self.elapsed();
        let start = Instant::now();
        let mut cmd = Command::new(&self.exe);
        if let Some(skew) = self.skews.get(slot).filter(|s| **s != 0) {
            cmd.env("GIT_CREW_CLOCK_SKEW_MS", skew.to_string());
        }
        let child = cmd
            .arg("--json")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.exe.display()));
        *self.slots[slot].lock().unwrap() =
            Some(Running { pid: child.id(), started: start, what: format!("{actor}: {label}") });
        let out = child.wait_with_output().expect("wait for git-crew");
        *self.slots[slot].lock().unwrap() = None;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let code = match (out.status.code(), out.status.signal()) {
            (Some(c), _) => c,
            (None, Some(s)) => -s,
            _ => -1,
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        let json: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        let published = json.get("published").and_then(Value::as_bool);
        let mut ids = Vec::new();
        if published.is_some() {
            if let Some(id) = json.pointer("/record/id").and_then(Value::as_str) {
                ids.push(id.to_owned());
            }
            for r in json.get("records").and_then(Value::as_array).into_iter().flatten() {
                if let Some(id) = r.get("id").and_then(Value::as_str) {
                    if !ids.iter().any(|i| i == id) {
                        ids.push(id.to_owned());
                    }
                }
            }
        }
        let rounds = json.get("rounds").or_else(|| json.pointer("/synced/rounds")).and_then(Value::as_u64);
        let why = json.get("why").and_then(Value::as_str).map(str::to_owned);
        let sync = if json.get("rounds").is_some() { Some(&json) } else { json.get("synced") };
        let mut remade = Vec::new();
        let mut dropped = Vec::new();
        if let Some(s) = sync {
            for m in s["remade"].as_array().into_iter().flatten() {
                if let (Some(o), Some(n)) = (m["old"].as_str(), m["new"].as_str()) {
                    remade.push((o.to_owned(), n.to_owned()));
                }
            }
            for d in s["dropped"].as_array().into_iter().flatten() {
                if let Some(id) = d["record"].as_str() {
                    dropped.push((id.to_owned(), d["reason"].as_str().unwrap_or_default().to_owned()));
                }
            }
        }
        self.events.lock().unwrap().push(Event {
            actor: actor.to_owned(),
            cmd: label.to_owned(),
            at,
            ms,
            code,
            published,
            ids,
            why,
            stderr: stderr.clone(),
            rounds,
            remade,
            dropped,
            measured: self.measuring.load(Ordering::SeqCst),
            phase: self.phase.load(Ordering::SeqCst),
        });
        Outcome { code, json, stderr }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Note that the drill's target saw exit 5 from `what`.
    fn saw_suspended(&self, me: &str, what: &str) {
        let mut d = self.drill.lock().unwrap();
        if d.target.as_deref() != Some(me) || d.resumed.is_some() {
            return;
        }
        let now = Instant::now();
        if d.any5.is_none() {
            d.any5 = Some((now, what.to_owned()));
        }
        if what == "alive" && d.alive5.is_none() {
            d.alive5 = Some(now);
        }
    }

    fn start_daemon(&self) {
        self.server.start();
    }

    fn stop_daemon(&self) -> bool {
        self.server.stop()
    }

    /// SIGKILL whatever actor `slot` is running; what it was, if anything.
    fn kill_slot(&self, slot: usize) -> Option<String> {
        let guard = self.slots[slot].lock().unwrap();
        let r = guard.as_ref()?;
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet (the
        // slot is cleared, under this lock, only after the wait returns).
        let rc = unsafe { libc::kill(r.pid as libc::pid_t, libc::SIGKILL) };
        (rc == 0).then(|| r.what.clone())
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").current_dir(dir).args(args).output().expect("run git");
    assert!(out.status.success(), "git {args:?} in {} failed: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Setup and final commands must succeed.
fn must(o: Outcome, what: &str) -> Value {
    assert_eq!(o.code, 0, "{what} failed (exit {}): {}", o.code, o.stderr);
    o.json
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn main() {
    let opts = parse_args();
    let exe = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("git-crew");
    assert!(exe.is_file(), "build the binary first: cargo build --release --bins --examples ({})", exe.display());
    let temp = tempfile::Builder::new().prefix("crew-fleet-").tempdir().unwrap();
    let root = match &opts.keep {
        Some(k) => {
            std::fs::create_dir_all(k).unwrap();
            assert!(std::fs::read_dir(k).unwrap().next().is_none(), "--keep {} must be empty", k.display());
            k.canonicalize().unwrap()
        }
        None => temp.path().canonicalize().unwrap(),
    };
    // One environment for every child: hooks and the merge driver find this
    // binary first on PATH; no system or user git configuration; shared keys.
    let path = format!("{}:{}", exe.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    std::fs::create_dir_all(root.join("home/.config")).unwrap();
    std::env::set_var("PATH", path);
    std::env::set_var("HOME", root.join("home"));
    std::env::set_var("XDG_CONFIG_HOME", root.join("home/.config"));
    std::env::set_var("GIT_CONFIG_NOSYSTEM", "1");
    std::env::set_var("GIT_TERMINAL_PROMPT", "0");
    std::env::set_var("CREW_HOME", root.join("crew-home"));
    for v in [
        "CREW_AS",
        "CREW_BRANCH",
        "CREW_SESSION",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_CREW_CLOCK_SKEW_MS",
    ] {
        std::env::remove_var(v);
    }
    let started = Instant::now();
    let server = Server::new(&root, Rng::new(opts.seed, 1005));
    let agents: Vec<String> = (0..opts.agents).map(|i| format!("agent{i:02}")).collect();
    let humans: Vec<String> = (0..opts.humans).map(|i| format!("human{i}")).collect();
    // A slot per actor, one for the harness, one for the feeder's thread.
    let slots = opts.agents + opts.humans + 2;
    let sim = Arc::new(Sim {
        exe,
        root: root.clone(),
        url: server.url(false),
        t0: Mutex::new(Instant::now()),
        measuring: AtomicBool::new(false),
        phase: AtomicUsize::new(0),
        slots: (0..slots).map(|_| Mutex::new(None)).collect(),
        events: Mutex::new(Vec::new()),
        holdings: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
        progress: AtomicUsize::new(0),
        finished: (0..opts.agents).map(|_| AtomicBool::new(false)).collect(),
        drill: Mutex::new(Drill::default()),
        kills: Mutex::new(Vec::new()),
        hangs: Mutex::new(Vec::new()),
        daemon_window: Mutex::new(None),
        tasks_created: AtomicUsize::new(0),
        agents: agents.clone(),
        // With faults, one agent in four runs 1.5 s ahead, one 1.5 s behind.
        skews: (0..slots)
            .map(|i| match (opts.faults, i < opts.agents, i % 4) {
                (true, true, 1) => SKEW_MS,
                (true, true, 3) => -SKEW_MS,
                _ => 0,
            })
            .collect(),
        server,
    });
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&sim, &opts, &agents, &humans, started)));
    sim.stop.store(true, Ordering::SeqCst);
    let _ = sim.stop_daemon();
    let code = match result {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(_) => {
            eprintln!("fleet: the harness failed; the workspace is in {}", root.display());
            std::mem::forget(temp); // keep it to look at
            std::process::exit(3);
        }
    };
    if opts.keep.is_some() {
        println!("kept: {}", root.display());
    }
    drop(temp);
    std::process::exit(code);
}

/// Everything; whether every check passed.
fn run(sim: &Arc<Sim>, opts: &Opts, agents: &[String], humans: &[String], started: Instant) -> bool {
    let root = &sim.root;
    // The harness's own slot.
    let h = opts.agents + opts.humans;
    // The remote.
    git(root, &["init", "-q", "--bare", "-b", "main", "remote.git"]);
    let remote = root.join("remote.git");
    must(sim.crew(h, "setup", &remote, "install --server", &["install", "--server"]), "install --server");
    git(&remote, &["config", "core.logAllRefUpdates", "always"]);
    git(&remote, &["config", "gc.auto", "0"]);
    sim.start_daemon();
    // The admin clone: the workspace and every actor.
    git(root, &["init", "-q", "-b", "main", "admin"]);
    let admin = root.join("admin");
    must(sim.crew(h, "setup", &admin, "init", &["init", "--admin", "human0"]), "init");
    for name in humans.iter().skip(1) {
        must(sim.crew(h, "setup", &admin, "id new", &["id", "new", name, "--role", "human"]), "id new");
    }
    for name in agents {
        must(sim.crew(h, "setup", &admin, "id new", &["id", "new", name, "--role", "agent"]), "id new");
    }
    // A first board, so the agents have work from the start (written before
    // the clone has a remote: local appends, published by the sync below).
    for i in 0..opts.agents {
        let title = format!("seed task {i}");
        must(sim.crew(h, "setup", &admin, "task add", &["task", "add", &title, "--label", "seed"]), "task add");
        sim.tasks_created.fetch_add(1, Ordering::SeqCst);
    }
    git(&admin, &["remote", "add", "origin", &sim.url]);
    must(sim.crew(h, "setup", &admin, "sync", &["sync"]), "admin sync");
    // One clone per actor, four at a time.
    let actors: Vec<String> = agents.iter().chain(humans).cloned().collect();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let sim = Arc::clone(sim);
            let actors = actors.clone();
            let next = Arc::clone(&next);
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(name) = actors.get(i) else { break };
                git(&sim.root, &["clone", "-q", &sim.url, name]);
                let dir = sim.root.join(name);
                must(sim.crew(i, name, &dir, "sync", &["sync"]), "clone sync");
                git(&dir, &["config", "crew.as", name]);
                // Tolerated, and listed with the unexpected exits: a join can
                // exit non-zero although it was published.
                sim.crew(i, name, &dir, "msg join", &["msg", "join", "#general"]);
            })
        })
        .collect();
    for w in workers {
        w.join().expect("setup worker");
    }
    // With faults, agents reach the remote through the flaky port (humans
    // and the harness keep a straight line, so the drill times the work).
    if opts.faults {
        for name in agents {
            git(&root.join(name), &["remote", "set-url", "origin", &sim.server.url(true)]);
        }
        sim.server.cutting.store(true, Ordering::SeqCst);
    }
    let setup_secs = started.elapsed().as_secs_f64();
    println!("setup: {} agents, {} humans, remote {} ({:.1} s)", opts.agents, opts.humans, sim.url, setup_secs);

    // The workload.
    *sim.t0.lock().unwrap() = Instant::now();
    sim.measuring.store(true, Ordering::SeqCst);
    sim.phase.store(1, Ordering::SeqCst);
    let work_start = Instant::now();
    let mut threads = Vec::new();
    for (i, name) in agents.iter().enumerate() {
        let sim = Arc::clone(sim);
        let name = name.clone();
        let (iterations, seed) = (opts.iterations, opts.seed);
        threads.push(std::thread::spawn(move || agent(&sim, i, &name, iterations, Rng::new(seed, i as u64 + 1))));
    }
    let total = opts.agents * opts.iterations;
    let mut helpers = Vec::new();
    {
        let sim = Arc::clone(sim);
        let (slot, name) = (opts.agents + opts.humans + 1, humans[1 % opts.humans].clone());
        let (seed, n_agents, cap) = (opts.seed, opts.agents, total + opts.agents);
        helpers.push(std::thread::spawn(move || feeder(&sim, slot, &name, n_agents, cap, Rng::new(seed, 1001))));
    }
    {
        let sim = Arc::clone(sim);
        let (slot, name) = (opts.agents, humans[0].clone());
        let seed = opts.seed;
        helpers.push(std::thread::spawn(move || chatter(&sim, slot, &name, total, Rng::new(seed, 1002))));
    }
    for (k, name) in humans.iter().enumerate().skip(2) {
        let sim = Arc::clone(sim);
        let name = name.clone();
        let seed = opts.seed;
        let slot = opts.agents + k;
        helpers.push(std::thread::spawn(move || talker(&sim, slot, &name, Rng::new(seed, 1003 + k as u64))));
    }
    {
        let sim = Arc::clone(sim);
        helpers.push(std::thread::spawn(move || watchdog(&sim)));
    }
    if opts.faults {
        let sim = Arc::clone(sim);
        let (seed, n) = (opts.seed, opts.agents);
        helpers.push(std::thread::spawn(move || faults(&sim, n, total, Rng::new(seed, 1004))));
    }
    // Agents finish their iterations, the drill finishes (and its target
    // notices the resumption, for at most 10 s), then everyone stops.
    let deadline = Instant::now() + opts.limit;
    let mut settled: Option<Instant> = None;
    loop {
        let all_done = sim.finished.iter().all(|f| f.load(Ordering::SeqCst));
        let (drill_done, back) = {
            let d = sim.drill.lock().unwrap();
            (d.done, d.back.is_some() || d.alive5.is_none())
        };
        if all_done && drill_done {
            let since = *settled.get_or_insert_with(Instant::now);
            if back || since.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        if Instant::now() > deadline {
            eprintln!(
                "fleet: the workload ran past its limit ({:.1} h); stopping it",
                opts.limit.as_secs_f64() / 3600.0
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    sim.stop.store(true, Ordering::SeqCst);
    for t in threads.into_iter().chain(helpers) {
        t.join().expect("a simulation thread panicked");
    }
    let work_secs = work_start.elapsed().as_secs_f64();
    sim.measuring.store(false, Ordering::SeqCst);
    sim.phase.store(2, Ordering::SeqCst);
    println!("workload: {:.1} s", work_secs);

    // Lock files left in the clones once every process has ended (the
    // publish lock is a flock(2) file that stays by design).
    let mut stale_locks = Vec::new();
    for name in std::iter::once("admin".to_owned()).chain(actors.iter().cloned()) {
        let git_dir = root.join(&name).join(".git");
        for entry in walkdir::WalkDir::new(&git_dir).into_iter().filter_map(Result::ok) {
            let rel = entry.path().strip_prefix(&git_dir).unwrap_or(entry.path());
            if rel.to_string_lossy().ends_with(".lock") && rel != Path::new("crew/publish.lock") {
                stale_locks.push(format!("{name}/.git/{}", rel.display()));
            }
        }
    }
    // Final syncs: every clone publishes what it kept, then takes everything.
    let final_start = Instant::now();
    sim.server.cutting.store(false, Ordering::SeqCst);
    if !sim.server.accepting.load(Ordering::SeqCst) {
        sim.start_daemon();
    }
    let mut clones: Vec<(String, PathBuf)> = vec![("admin".to_owned(), admin.clone())];
    clones.extend(actors.iter().map(|n| (n.clone(), root.join(n))));
    let mut final_syncs = Vec::new();
    for round in 0..2 {
        for (name, dir) in &clones {
            let o = sim.crew(h, name, dir, "final sync", &["sync"]);
            final_syncs.push((round, name.clone(), o.code, o.stderr));
        }
    }
    let remote_tip = git(&remote, &["rev-parse", "refs/heads/crew"]);
    let mut clone_problems = Vec::new();
    for (name, dir) in &clones {
        let v = sim.crew(h, name, dir, "final verify", &["verify"]);
        if v.code != 0 || v.json["ok"] != true {
            clone_problems.push(format!("{name}: verify exit {}: {}", v.code, v.stderr));
        }
        let tip =
            Command::new("git").current_dir(dir).args(["rev-parse", "refs/heads/crew"]).output().expect("run git");
        let tip = String::from_utf8_lossy(&tip.stdout).trim().to_owned();
        if tip != remote_tip {
            let short = |t: &str| t.chars().take(12).collect::<String>();
            clone_problems.push(format!("{name}: tip {:?} but the remote is at {}", short(&tip), short(&remote_tip)));
        }
    }
    for (round, name, code, stderr) in &final_syncs {
        if *code != 0 {
            clone_problems.push(format!("{name}: final sync {round} exit {code}: {stderr}"));
        }
    }
    let remote_verify = sim.crew(h, "remote", &remote, "remote verify", &["verify"]);
    if remote_verify.code != 0 {
        clone_problems.push(format!("remote: verify exit {}: {}", remote_verify.code, remote_verify.stderr));
    }
    let remote_records = remote_verify.json.pointer("/report/records").and_then(Value::as_u64);
    let log = must(sim.crew(h, "remote", &remote, "remote log", &["log"]), "log on the remote");
    let log: Vec<Value> = log.as_array().cloned().unwrap_or_default();
    let commits: u64 = git(&remote, &["rev-list", "--count", "refs/heads/crew"]).parse().unwrap();
    // A fresh clone, synced and verified.
    let fresh_start = Instant::now();
    git(root, &["clone", "-q", &sim.url, "fresh"]);
    let fresh = root.join("fresh");
    let fs = sim.crew(h, "fresh", &fresh, "fresh sync", &["sync"]);
    let fv = sim.crew(h, "fresh", &fresh, "fresh verify", &["verify"]);
    let fresh_secs = fresh_start.elapsed().as_secs_f64();
    if fs.code != 0 || fv.code != 0 || fv.json["ok"] != true {
        clone_problems
            .push(format!("fresh clone: sync exit {}, verify exit {}: {} {}", fs.code, fv.code, fs.stderr, fv.stderr));
    }
    let final_secs = final_start.elapsed().as_secs_f64();

    report(
        sim,
        opts,
        Report {
            setup_secs,
            work_secs,
            final_secs,
            total_secs: started.elapsed().as_secs_f64(),
            fresh_secs,
            log,
            remote_records,
            commits,
            clone_problems,
            stale_locks,
            remote: &remote,
        },
    )
}

/// One agent's life.
fn agent(sim: &Sim, slot: usize, me: &str, iterations: usize, mut rng: Rng) {
    let dir = sim.root.join(me);
    let mut replyable: Vec<String> = Vec::new();
    for it in 0..iterations {
        let crew = |label: &str, args: &[&str]| sim.crew(slot, me, &dir, label, args);
        let hb = crew("heartbeat", &["heartbeat"]);
        if hb.code == 5 {
            sim.saw_suspended(me, "heartbeat");
        }
        let mut alive = crew("alive", &["alive"]);
        if alive.code == 5 {
            sim.saw_suspended(me, "alive");
            // Stopped: check until resumed (or the run ends).
            while alive.code == 5 && !sim.stopping() {
                std::thread::sleep(Duration::from_millis(250));
                alive = crew("alive", &["alive"]);
            }
            note_back(sim, me, alive.code);
        }
        if alive.json["stale"] == true {
            // The remote cannot be asked: a real agent would wait a little.
            std::thread::sleep(rng.ms(500, 1500));
        }
        let inbox = crew("inbox --ack", &["inbox", "--ack"]);
        if inbox.code == 5 {
            sim.saw_suspended(me, "inbox --ack");
        }
        for item in inbox.json.get("items").and_then(Value::as_array).into_iter().flatten() {
            if item["kind"] == "msg.send" && item["author"] != me {
                if let Some(id) = item["id"].as_str() {
                    replyable.push(id.to_owned());
                }
            }
        }
        if replyable.len() > 32 {
            replyable.drain(..replyable.len() - 32);
        }
        // Work I hold first (handed to me, or claimed by a run that was killed).
        let mine = crew("task list --mine", &["task", "list", "--mine"]);
        let held = mine.json.as_array().and_then(|a| a.first()).and_then(|t| t["id"].as_str()).map(str::to_owned);
        let task = match held {
            Some(t) => Some(t),
            None => {
                let n = crew("next --claim", &["next", "--claim"]);
                match n.code {
                    0 => {
                        let task = n
                            .json
                            .pointer("/record/task")
                            .or_else(|| n.json.pointer("/task/id"))
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        let claim = n.json.pointer("/record/id").and_then(Value::as_str).map(str::to_owned);
                        if let (Some(task), Some(record), true) = (&task, claim, n.json["published"] == true) {
                            sim.holdings.lock().unwrap().push(Holding {
                                task: task.clone(),
                                holder: me.to_owned(),
                                record,
                                how: "claim",
                            });
                        }
                        task
                    }
                    3 => {
                        if rng.chance(0.5) {
                            let text = format!("{me}: nothing ready on iteration {it}");
                            crew("msg send", &["msg", "send", "--to", "#general", &text]);
                        } else {
                            std::thread::sleep(rng.ms(500, 1500));
                        }
                        None
                    }
                    5 => {
                        sim.saw_suspended(me, "next --claim");
                        None
                    }
                    _ => {
                        std::thread::sleep(rng.ms(300, 1000));
                        None
                    }
                }
            }
        };
        if let Some(t) = task {
            let c = crew("task comment", &["task", "comment", &t, &format!("{me} working on it (iteration {it})")]);
            if c.code == 5 {
                sim.saw_suspended(me, "task comment");
            }
            let summary = format!("{me}: tests pass (iteration {it})");
            let r = crew("receipt add", &["receipt", "add", "--task", &t, "--kind", "test", "--summary", &summary]);
            let receipt = (r.code == 0).then(|| r.json.pointer("/record/id").and_then(Value::as_str)).flatten();
            let roll = rng.below(100);
            if roll < 70 {
                let mut args = vec!["task", "done", t.as_str()];
                if let Some(rid) = receipt {
                    args.extend(["--receipt", rid]);
                }
                crew("task done", &args);
            } else if roll < 85 {
                let others: Vec<&String> = sim.agents.iter().filter(|a| *a != me).collect();
                let to = others[rng.below(others.len())].clone();
                let h = crew("task handoff", &["task", "handoff", &t, "--to", &to, "--note", "over to you"]);
                if h.code == 0 && h.json["published"] == true {
                    if let Some(record) = h.json.pointer("/record/id").and_then(Value::as_str) {
                        sim.holdings.lock().unwrap().push(Holding {
                            task: t.clone(),
                            holder: to,
                            record: record.to_owned(),
                            how: "handoff",
                        });
                    }
                }
            } else {
                crew("task release", &["task", "release", &t, "--reason", "drill: giving it back"]);
            }
        }
        if !replyable.is_empty() && rng.chance(0.3) {
            let id = replyable.swap_remove(rng.below(replyable.len()));
            crew("msg send --reply-to", &["msg", "send", "--reply-to", &id, &format!("{me}: noted")]);
        }
        sim.progress.fetch_add(1, Ordering::SeqCst);
    }
    sim.finished[slot].store(true, Ordering::SeqCst);
    // Done with the work, still running: keep asking `alive` every few
    // seconds (a late suspension is still noticed) until the run ends.
    while !sim.stopping() {
        let a = sim.crew(slot, me, &dir, "alive", &["alive"]);
        if a.code == 5 {
            sim.saw_suspended(me, "alive");
        } else {
            note_back(sim, me, a.code);
        }
        std::thread::sleep(rng.ms(2000, 4000));
    }
}

/// The drill's target saw `alive` exit `code` after its suspension (the
/// first 0 is when it noticed the resumption, which can come before the
/// resume command returns).
fn note_back(sim: &Sim, me: &str, code: i32) {
    let mut d = sim.drill.lock().unwrap();
    if code == 0 && d.target.as_deref() == Some(me) && d.alive5.is_some() && d.back.is_none() {
        d.back = Some(Instant::now());
    }
}

/// The human who keeps the board fed: bursts of tasks while few are ready.
fn feeder(sim: &Sim, slot: usize, me: &str, agents: usize, cap: usize, mut rng: Rng) {
    let dir = sim.root.join(me);
    let mut created: Vec<String> = Vec::new();
    while !sim.stopping() {
        if created.len() < cap {
            sim.crew(slot, me, &dir, "sync", &["sync"]);
            let board = sim.crew(slot, me, &dir, "board", &["board"]);
            let ready = board["ready"].as_array().map_or(0, Vec::len);
            if ready < agents {
                let burst = (agents / 2 + rng.below(agents / 2 + 1)).min(cap - created.len());
                for _ in 0..burst {
                    let n = created.len();
                    let title = format!("task {n} from {me}");
                    let prio = rng.below(4).to_string();
                    let mut args = vec!["task", "add", title.as_str(), "--priority", prio.as_str(), "--label", "fleet"];
                    let dep = (n > 4 && rng.chance(0.2)).then(|| created[n - 1 - rng.below(4)].clone());
                    if let Some(d) = &dep {
                        args.extend(["--depends-on", d]);
                    }
                    let o = sim.crew(slot, me, &dir, "task add", &args);
                    if let Some(id) = o.json.pointer("/record/id").and_then(Value::as_str) {
                        created.push(id.to_owned());
                        sim.tasks_created.fetch_add(1, Ordering::SeqCst);
                    }
                    if sim.stopping() {
                        break;
                    }
                }
            }
        }
        std::thread::sleep(rng.ms(300, 1000));
    }
}

impl std::ops::Index<&str> for Outcome {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.json[key]
    }
}

/// The human who talks in #general and runs the suspension drill once, after
/// about a third of the agents' iterations.
fn chatter(sim: &Sim, slot: usize, me: &str, total: usize, mut rng: Rng) {
    let dir = sim.root.join(me);
    let mut n = 0;
    while !sim.stopping() {
        let text = if rng.chance(0.3) {
            format!("{me}: @{} how is it going? ({n})", sim.agents[rng.below(sim.agents.len())])
        } else {
            format!("{me}: standup note {n}")
        };
        sim.crew(slot, me, &dir, "msg send", &["msg", "send", "--to", "#general", &text]);
        n += 1;
        let all_done = sim.finished.iter().all(|f| f.load(Ordering::SeqCst));
        let due = sim.progress.load(Ordering::SeqCst) * 3 >= total || all_done;
        if due && !sim.drill.lock().unwrap().done {
            drill(sim, slot, me, &mut rng);
        }
        std::thread::sleep(rng.ms(800, 2500));
    }
}

/// Suspend a random agent still at work, wait, resume it.
fn drill(sim: &Sim, slot: usize, me: &str, rng: &mut Rng) {
    let dir = sim.root.join(me);
    let working: Vec<usize> = (0..sim.agents.len()).filter(|&i| !sim.finished[i].load(Ordering::SeqCst)).collect();
    let pick = if working.is_empty() { rng.below(sim.agents.len()) } else { working[rng.below(working.len())] };
    let target = sim.agents[pick].clone();
    {
        let mut d = sim.drill.lock().unwrap();
        d.target = Some(target.clone());
        d.suspend_started = Some(Instant::now());
    }
    let started = Instant::now();
    let s = sim.crew(slot, me, &dir, "suspend", &["suspend", &target, "--reason", "drill"]);
    sim.drill.lock().unwrap().suspend_outcome = Some((s.code, started.elapsed().as_secs_f64() * 1000.0));
    let mut returned = Instant::now();
    let record = s.json.pointer("/record/id").and_then(Value::as_str).map(str::to_owned);
    if s.code != 0 {
        eprintln!("fleet: suspend {target} exited {}: {}", s.code, s.stderr);
    } else if s["published"] != true {
        // Kept on this clone (the remote is down): the drill starts when a
        // sync has published it.
        let deadline = Instant::now() + Duration::from_secs(60);
        while sim.crew(slot, me, &dir, "sync", &["sync"]).code != 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
        }
        returned = Instant::now();
    }
    {
        let mut d = sim.drill.lock().unwrap();
        d.suspended = Some(returned);
        d.suspend_record = record;
    }
    // Wait for the agent to notice (at most 30 s), then a few seconds more.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.drill.lock().unwrap().alive5.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(rng.ms(2000, 4000));
    let r = sim.crew(slot, me, &dir, "resume", &["resume", &target]);
    sim.drill.lock().unwrap().resumed = Some(Instant::now());
    // Until the remote says the target is no longer suspended: a resume that
    // exits non-zero may still have been published, so ask before retrying.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut published = r.code == 0 && r["published"] == true;
    while !published && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        if sim.crew(slot, me, &dir, "sync", &["sync"]).code != 0 {
            continue;
        }
        let show = sim.crew(slot, me, &dir, "id show", &["id", "show", &target]);
        // `suspended` is null (or false) once resumed.
        published = show.code == 0 && (show["suspended"].is_null() || show["suspended"] == false);
        if !published && show.code == 0 {
            sim.crew(slot, me, &dir, "resume", &["resume", &target]);
        }
    }
    let mut d = sim.drill.lock().unwrap();
    if r.code == 0 && r["published"] != true {
        // Kept on its clone: resumed when the sync above published it.
        d.resumed = Some(Instant::now());
    }
    d.resume_record = r.json.pointer("/record/id").and_then(Value::as_str).map(str::to_owned);
    d.done = true;
}

/// Any further human: talks in #general now and then.
fn talker(sim: &Sim, slot: usize, me: &str, mut rng: Rng) {
    let dir = sim.root.join(me);
    let mut n = 0;
    while !sim.stopping() {
        let text = format!("{me}: remark {n}");
        sim.crew(slot, me, &dir, "msg send", &["msg", "send", "--to", "#general", &text]);
        n += 1;
        std::thread::sleep(rng.ms(1500, 4000));
    }
}

/// Kills any command that runs past [`HANG`], and says so.
fn watchdog(sim: &Sim) {
    while !sim.stopping() {
        for (i, slot) in sim.slots.iter().enumerate() {
            let long = slot.lock().unwrap().as_ref().filter(|r| r.started.elapsed() > HANG).map(|r| r.what.clone());
            if let Some(what) = long {
                if sim.kill_slot(i).is_some() {
                    sim.hangs.lock().unwrap().push(format!("{what} ran over {} s", HANG.as_secs()));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// SIGKILL a running agent command every few seconds; restart the daemon
/// once, about halfway.
fn faults(sim: &Sim, agents: usize, total: usize, mut rng: Rng) {
    let mut restarted = false;
    std::thread::sleep(rng.ms(1000, 2000));
    while !sim.stopping() {
        let slot = rng.below(agents);
        if let Some(what) = sim.kill_slot(slot) {
            let at = sim.elapsed();
            sim.kills.lock().unwrap().push(format!("{at:.1}s {what}"));
        }
        // About halfway, and not while the drill runs (its timing would
        // measure the outage).
        let all_done = sim.finished.iter().all(|f| f.load(Ordering::SeqCst));
        let drill_done = sim.drill.lock().unwrap().done;
        if !restarted && sim.progress.load(Ordering::SeqCst) * 2 >= total && (drill_done || all_done) {
            restarted = true;
            let down = sim.elapsed();
            if !sim.stop_daemon() {
                sim.hangs.lock().unwrap().push("git daemon still accepted connections after it was killed".into());
            }
            std::thread::sleep(rng.ms(4000, 6000));
            sim.start_daemon();
            *sim.daemon_window.lock().unwrap() = Some((down, sim.elapsed()));
        }
        std::thread::sleep(rng.ms(1500, 4000));
    }
}

struct Report<'a> {
    setup_secs: f64,
    work_secs: f64,
    final_secs: f64,
    total_secs: f64,
    fresh_secs: f64,
    log: Vec<Value>,
    remote_records: Option<u64>,
    commits: u64,
    clone_problems: Vec<String>,
    stale_locks: Vec<String>,
    remote: &'a Path,
}

/// A record's place in fold order: (ms, counter, id).
type Key = (i64, u64, String);

fn key(r: &Value) -> Key {
    let at = r["at"].as_str().unwrap_or_default();
    let ms = chrono::DateTime::parse_from_rfc3339(at).map(|t| t.timestamp_millis()).unwrap_or(0);
    (ms, r["counter"].as_u64().unwrap_or(0), r["id"].as_str().unwrap_or_default().to_owned())
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// The held intervals of acknowledged holdings that overlap between agents.
fn double_holds(log: &[Value], holdings: &[Holding]) -> (usize, Vec<String>, usize) {
    let by_id: HashMap<&str, &Value> = log.iter().filter_map(|r| Some((r["id"].as_str()?, r))).collect();
    let mut on_task: HashMap<&str, Vec<&Value>> = HashMap::new();
    for r in log {
        if let Some(t) = r["task"].as_str() {
            on_task.entry(t).or_default().push(r);
        }
    }
    for v in on_task.values_mut() {
        v.sort_by_key(|r| key(r));
    }
    let suspensions: Vec<(&str, Key)> = log
        .iter()
        .filter(|r| r["kind"] == "actor.suspend")
        .filter_map(|r| Some((r.pointer("/fields/name")?.as_str()?, key(r))))
        .collect();
    // Per task: (holder, start, end).
    let mut intervals: BTreeMap<String, Vec<(String, Key, Key, String)>> = BTreeMap::new();
    let mut measured = 0;
    for h in holdings {
        let Some(start_rec) = by_id.get(h.record.as_str()) else { continue };
        let start = key(start_rec);
        let records = on_task.get(h.task.as_str()).map(Vec::as_slice).unwrap_or_default();
        let lease = records
            .iter()
            .filter(|r| r["kind"] == "task.claim" && key(r) <= start)
            .filter_map(|r| r.pointer("/fields/lease").and_then(Value::as_i64))
            .next_back()
            .map_or(DEFAULT_LEASE_MS, |s| s * 1000);
        // Ends at the holder's done, handoff or release; at its suspension; or
        // when its lease runs out (renewed by its records on the task).
        let mut end: Key = (i64::MAX, 0, String::new());
        let mut expires = start.0 + lease;
        for r in records.iter().filter(|r| key(r) > start) {
            let k = key(r);
            if k.0 > expires {
                end = (expires, 0, String::new());
                break;
            }
            if r["author"] == h.holder.as_str() {
                let kind = r["kind"].as_str().unwrap_or_default();
                if matches!(kind, "task.done" | "task.handoff" | "task.release") {
                    end = k;
                    break;
                }
                expires = expires.max(k.0 + lease);
            }
        }
        if end.0 == i64::MAX {
            end = (expires, 0, String::new());
        }
        if let Some((_, s)) =
            suspensions.iter().filter(|(n, s)| *n == h.holder && *s > start).min_by(|a, b| a.1.cmp(&b.1))
        {
            if *s < end {
                end = s.clone();
            }
        }
        measured += 1;
        intervals.entry(h.task.clone()).or_default().push((h.holder.clone(), start, end, h.how.to_owned()));
    }
    let mut overlaps = Vec::new();
    for (task, ivs) in &intervals {
        for (i, a) in ivs.iter().enumerate() {
            for b in &ivs[i + 1..] {
                if a.0 != b.0 && a.1 < b.2 && b.1 < a.2 {
                    overlaps.push(format!(
                        "task {}: {} ({}) from {} and {} ({}) from {}",
                        &task[..8],
                        a.0,
                        a.3,
                        a.1 .0,
                        b.0,
                        b.3,
                        b.1 .0
                    ));
                }
            }
        }
    }
    (overlaps.len(), overlaps, measured)
}

fn report(sim: &Sim, opts: &Opts, r: Report) -> bool {
    let events = sim.events.lock().unwrap().clone();
    let work: Vec<&Event> = events.iter().filter(|e| e.measured).collect();
    let writes: Vec<&Event> = work.iter().copied().filter(|e| e.published.is_some()).collect();
    let acked: Vec<&Event> = writes.iter().copied().filter(|e| e.published == Some(true)).collect();
    let unpublished: Vec<&Event> = writes.iter().copied().filter(|e| e.published == Some(false)).collect();
    let acked_ids: HashSet<&str> = acked.iter().flat_map(|e| e.ids.iter().map(String::as_str)).collect();
    let log_ids: HashSet<&str> = r.log.iter().filter_map(|x| x["id"].as_str()).collect();
    // (a) acknowledged and lost.
    let lost: Vec<&str> = acked_ids.iter().copied().filter(|id| !log_ids.contains(id)).collect();
    // What became of the writes kept on their clone.
    let mut remade: HashMap<&str, &str> = HashMap::new();
    let mut dropped: HashMap<&str, &str> = HashMap::new();
    for e in &events {
        for (o, n) in &e.remade {
            remade.insert(o, n);
        }
        for (id, why) in &e.dropped {
            dropped.insert(id, why);
        }
    }
    let sync_outputs = events.iter().filter(|e| e.measured && e.rounds.is_some()).count();
    let pending_ids: Vec<&str> = unpublished.iter().flat_map(|e| e.ids.iter().map(String::as_str)).collect();
    let by_target: HashSet<&str> = unpublished
        .iter()
        .filter(|e| Some(e.actor.as_str()) == sim.drill.lock().unwrap().target.as_deref())
        .flat_map(|e| e.ids.iter().map(String::as_str))
        .collect();
    let mut untraced_by_target = 0;
    let (mut kept_on_remote, mut kept_remade, mut kept_dropped, mut kept_unknown) = (0, 0, 0, 0);
    for id in &pending_ids {
        if log_ids.contains(id) {
            kept_on_remote += 1;
        } else if chase(&remade, id).is_some_and(|n| log_ids.contains(n)) {
            kept_remade += 1;
        } else if dropped.contains_key(*id) {
            kept_dropped += 1;
        } else {
            kept_unknown += 1;
            untraced_by_target += usize::from(by_target.contains(id));
        }
    }
    // (b) double holds.
    let holdings = sim.holdings.lock().unwrap().clone();
    let (doubles, double_list, intervals) = double_holds(&r.log, &holdings);
    // (c) the suspended agent's records and commits while it was suspended.
    let drill = sim.drill.lock().unwrap();
    let mut suspension_violations = Vec::new();
    // The drill's records as they are on the remote (a write kept on its
    // clone may have been re-made by the sync that published it): the target's
    // latest suspension and the first resumption after it.
    let target = drill.target.as_deref().unwrap_or("-");
    let s_rec =
        r.log.iter().filter(|x| x["kind"] == "actor.suspend" && x["fields"]["name"] == target).max_by_key(|x| key(x));
    let r_rec = s_rec.and_then(|s| {
        r.log
            .iter()
            .filter(|x| x["kind"] == "actor.resume" && x["fields"]["name"] == target && key(x) > key(s))
            .min_by_key(|x| key(x))
    });
    if let (Some(target), Some(s)) = (&drill.target, s_rec) {
        let (s_key, r_key) = (key(s), r_rec.map(key).unwrap_or((i64::MAX, 0, String::new())));
        for x in &r.log {
            let k = key(x);
            if x["author"] == target.as_str() && k > s_key && k < r_key {
                suspension_violations.push(format!("record {} {} at {}", x["kind"], x["id"], x["at"]));
            }
        }
        // And by commit order: nothing authored by the target between the
        // suspension's commit and the resumption's.
        let history = git(r.remote, &["log", "--reverse", "--format=%H %an %s", "refs/heads/crew"]);
        let short = |rec: &Value| rec["id"].as_str().map(|i| i[..8].to_owned()).unwrap_or_default();
        let (s_short, r_short) = (short(s), r_rec.map(short).unwrap_or_else(|| "~".into()));
        let mut inside = false;
        for line in history.lines() {
            let mut parts = line.splitn(3, ' ');
            let (commit, author, subject) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap_or(""));
            if subject.contains(&s_short) && subject.contains("actor.suspend") {
                inside = true;
                continue;
            }
            if subject.contains(&r_short) && subject.contains("actor.resume") {
                inside = false;
            }
            if inside && author == target {
                suspension_violations.push(format!("commit {} by {author}: {subject}", &commit[..12]));
            }
        }
    } else if drill.target.is_some() {
        suspension_violations.push("the suspension is not on the remote".into());
    }
    let reach = match (drill.suspended, drill.alive5) {
        (Some(s), Some(a)) => Some(signed_ms(a, s)),
        _ => None,
    };
    let reach_from_start = match (drill.suspend_started, drill.alive5) {
        (Some(s), Some(a)) => Some(signed_ms(a, s)),
        _ => None,
    };
    let any_reach = match (drill.suspended, &drill.any5) {
        (Some(s), Some((a, what))) => Some((signed_ms(*a, s), what.clone())),
        _ => None,
    };
    let back = match (drill.resumed, drill.back) {
        (Some(s), Some(a)) => Some(signed_ms(a, s)),
        _ => None,
    };
    // Latencies.
    let lat = sorted(writes.iter().map(|e| e.ms).collect());
    let mut per_agent: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for e in &writes {
        if e.actor.starts_with("agent") {
            per_agent.entry(e.actor.as_str()).or_default().push(e.ms);
        }
    }
    let agent_p99: Vec<(&str, f64)> = per_agent.into_iter().map(|(a, v)| (a, percentile(&sorted(v), 0.99))).collect();
    let slowest = agent_p99.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or(("-", 0.0));
    let fastest = agent_p99.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or(("-", 0.0));
    let rounds = sorted(work.iter().filter_map(|e| e.rounds.map(|x| x as f64)).collect());
    let records_published = acked_ids.len();
    let rate = records_published as f64 / r.work_secs.max(0.001);
    // Busiest and quietest 10 s windows of acknowledged records.
    let mut windows: BTreeMap<i64, usize> = BTreeMap::new();
    for e in &acked {
        *windows.entry(((e.at + e.ms / 1000.0) / 10.0) as i64).or_default() += e.ids.len();
    }
    let full_windows: Vec<usize> =
        windows.iter().filter(|(w, _)| ((**w + 1) as f64) * 10.0 <= r.work_secs).map(|(_, n)| *n).collect();
    let min_window = full_windows.iter().min().map(|n| *n as f64 / 10.0);
    let max_window = full_windows.iter().max().map(|n| *n as f64 / 10.0);
    // Exit codes per command.
    let mut by_cmd: BTreeMap<&str, (BTreeMap<i32, usize>, Vec<f64>)> = BTreeMap::new();
    for e in &work {
        let c = by_cmd.entry(e.cmd.as_str()).or_default();
        *c.0.entry(e.code).or_default() += 1;
        c.1.push(e.ms);
    }
    // Unexpected outcomes, a sample of each (command, exit code).
    let mut samples: BTreeMap<(String, i32, String), (usize, String)> = BTreeMap::new();
    for e in &events {
        let surprising = match e.phase {
            1 => e.code != 0 && !expected(&e.cmd, e.code),
            _ => e.code != 0,
        };
        if surprising {
            let phase = ["setup: ", "", "final: "][e.phase];
            let what = (format!("{phase}{}", e.cmd), e.code, shape(&e.stderr));
            let s = samples.entry(what).or_insert((0, e.stderr.clone()));
            s.0 += 1;
        }
    }
    let mut whys: BTreeMap<String, usize> = BTreeMap::new();
    for e in &unpublished {
        *whys.entry(e.why.clone().unwrap_or_default()).or_default() += 1;
    }
    let kills = sim.kills.lock().unwrap().clone();
    let hangs = sim.hangs.lock().unwrap().clone();
    let window = *sim.daemon_window.lock().unwrap();
    let killed_writes = work.iter().filter(|e| e.code == -9).count();

    let checks = [
        ("(a) acknowledged writes lost", lost.len(), lost.iter().take(5).map(|s| s.to_string()).collect::<Vec<_>>()),
        ("(b) double holds", doubles, double_list.iter().take(5).cloned().collect()),
        ("(c) suspended agent's writes on the remote", suspension_violations.len(), suspension_violations.clone()),
        ("(d) clones not verified at the remote's tip", r.clone_problems.len(), r.clone_problems.clone()),
        (
            "(e) commands killed by the watchdog (over 300 s), or a daemon that would not stop",
            hangs.len(),
            hangs.clone(),
        ),
    ];
    let ok = checks.iter().all(|c| c.1 == 0);
    let mut dump = String::new();
    for e in &events {
        let line = json!({
            "phase": e.phase, "actor": e.actor, "cmd": e.cmd, "at": e.at, "ms": e.ms, "code": e.code,
            "published": e.published, "ids": e.ids, "why": e.why, "rounds": e.rounds, "stderr": e.stderr,
        });
        dump.push_str(&line.to_string());
        dump.push('\n');
    }
    std::fs::write(sim.root.join("events.jsonl"), dump).expect("write events.jsonl");
    let mut slow: Vec<&&Event> = writes.iter().collect();
    slow.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    let slowest_writes: Vec<String> = slow
        .iter()
        .take(5)
        .map(|e| format!("{:.0} ms {} {} at {:.1} s (exit {})", e.ms, e.actor, e.cmd, e.at, e.code))
        .collect();
    let f1 = |x: f64| format!("{x:.1}");
    let opt_ms = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{v:.0} ms"));

    println!();
    println!("| metric | value |");
    println!("|---|---:|");
    let rows: Vec<(&str, String)> = vec![
        ("agents", opts.agents.to_string()),
        ("humans", opts.humans.to_string()),
        ("iterations", opts.iterations.to_string()),
        ("seed", opts.seed.to_string()),
        ("faults", opts.faults.to_string()),
        (
            "agents' connections / cut mid-stream",
            format!("{} / {}", sim.server.connections.load(Ordering::SeqCst), sim.server.cuts.load(Ordering::SeqCst)),
        ),
        ("agents with clocks skewed ±1.5 s", sim.skews.iter().filter(|s| **s != 0).count().to_string()),
        (
            "wall: setup / workload / final / total (s)",
            format!("{} / {} / {} / {}", f1(r.setup_secs), f1(r.work_secs), f1(r.final_secs), f1(r.total_secs)),
        ),
        ("tasks created", sim.tasks_created.load(Ordering::SeqCst).to_string()),
        ("writes (commands with `published`)", writes.len().to_string()),
        ("records published (acknowledged)", records_published.to_string()),
        ("published records/s (whole workload)", format!("{rate:.2}")),
        (
            "published records/s, quietest / busiest 10 s",
            format!(
                "{} / {}",
                min_window.map_or("-".into(), |x| format!("{x:.1}")),
                max_window.map_or("-".into(), |x| format!("{x:.1}"))
            ),
        ),
        (
            "write latency p50 / p90 / p99 (ms)",
            format!("{:.0} / {:.0} / {:.0}", percentile(&lat, 0.5), percentile(&lat, 0.9), percentile(&lat, 0.99)),
        ),
        ("write latency max (ms)", format!("{:.0}", lat.last().copied().unwrap_or(0.0))),
        ("slowest agent's p99 (ms)", format!("{:.0} ({})", slowest.1, slowest.0)),
        ("fastest agent's p99 (ms)", format!("{:.0} ({})", fastest.1, fastest.0)),
        (
            "sync rounds p50 / max (heartbeats, syncs)",
            format!(
                "{:.0} / {:.0} over {}",
                percentile(&rounds, 0.5),
                rounds.last().copied().unwrap_or(0.0),
                sync_outputs
            ),
        ),
        ("published: false", unpublished.len().to_string()),
        (
            "  of those: on the remote as is / re-made / dropped / not traced",
            format!("{kept_on_remote} / {kept_remade} / {kept_dropped} / {kept_unknown}"),
        ),
        ("commands SIGKILLed by the fault thread", format!("{} ({} seen as exit -9)", kills.len(), killed_writes)),
        ("daemon down (s into the workload)", window.map_or("-".into(), |(a, b)| format!("{a:.1} → {b:.1}"))),
        ("acknowledged holdings checked (claims + handoffs)", intervals.to_string()),
        ("lost (acknowledged, not on the remote)", lost.len().to_string()),
        ("double holds", doubles.to_string()),
        ("suspended agent", drill.target.clone().unwrap_or_else(|| "-".into())),
        (
            "suspend command: exit code, latency",
            drill.suspend_outcome.map_or("-".into(), |(c, ms)| format!("exit {c}, {ms:.0} ms")),
        ),
        ("suspension reach: suspend returned → first `alive` exit 5", opt_ms(reach)),
        ("suspension reach: suspend started → first `alive` exit 5", opt_ms(reach_from_start)),
        (
            "suspension reach: → first exit 5 of any command",
            any_reach.as_ref().map_or("-".into(), |(ms, w)| format!("{ms:.0} ms ({w})")),
        ),
        ("resume returned → first `alive` exit 0 (negative: before it returned)", opt_ms(back)),
        ("suspended agent's records/commits on the remote while suspended", suspension_violations.len().to_string()),
        (
            "remote records (verify) / log length",
            format!("{} / {}", r.remote_records.map_or("-".into(), |n| n.to_string()), r.log.len()),
        ),
        ("final history commits (rev-list --count crew)", r.commits.to_string()),
        ("fresh clone + sync + verify (s)", format!("{:.2}", r.fresh_secs)),
        ("clones verified at the remote's tip", format!("{} problem(s)", r.clone_problems.len())),
    ];
    for (k, v) in &rows {
        println!("| {k} | {v} |");
    }
    println!();
    println!("| command | runs | p50 ms | p99 ms | exit codes |");
    println!("|---|---:|---:|---:|---|");
    for (cmd, (codes, ms)) in &by_cmd {
        let ms = sorted(ms.clone());
        let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c}:{n}")).collect();
        println!(
            "| {cmd} | {} | {:.0} | {:.0} | {} |",
            ms.len(),
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            codes.join(" ")
        );
    }
    if !whys.is_empty() {
        println!();
        println!("published: false, why:");
        for (w, n) in &whys {
            println!("  {n} × {w}");
        }
    }
    if !samples.is_empty() {
        println!();
        println!("unexpected exits (command, exit code: count, first stderr):");
        for ((cmd, code, _), (n, s)) in &samples {
            println!("  {cmd} exit {code}: {n} × {}", s.lines().next().unwrap_or(""));
        }
    }
    println!();
    println!("slowest writes: {}", slowest_writes.join("; "));
    if !r.stale_locks.is_empty() {
        println!("lock files left in clones after the workload: {}", r.stale_locks.join(", "));
    }
    if !kills.is_empty() {
        println!();
        println!("killed: {}", kills.join("; "));
    }
    println!();
    for (name, n, detail) in &checks {
        println!(
            "check {name}: {} {}",
            if *n == 0 { "ok" } else { "FAILED" },
            if *n == 0 { String::new() } else { format!("({n}) {}", detail.join("; ")) }
        );
    }
    println!("{}", if ok { "all checks passed" } else { "SOME CHECKS FAILED" });

    if let Some(path) = &opts.json {
        let out = json!({
            "agents": opts.agents,
            "humans": opts.humans,
            "iterations": opts.iterations,
            "seed": opts.seed,
            "faults": opts.faults,
            "flaky_port": {"connections": sim.server.connections.load(Ordering::SeqCst), "cuts": sim.server.cuts.load(Ordering::SeqCst)},
            "skewed_agents": sim.skews.iter().filter(|s| **s != 0).count(),
            "wall_secs": {"setup": r.setup_secs, "workload": r.work_secs, "final": r.final_secs, "total": r.total_secs},
            "tasks_created": sim.tasks_created.load(Ordering::SeqCst),
            "writes": writes.len(),
            "records_published": records_published,
            "records_per_sec": rate,
            "records_per_sec_10s_min": min_window,
            "records_per_sec_10s_max": max_window,
            "write_latency_ms": {"p50": percentile(&lat, 0.5), "p90": percentile(&lat, 0.9), "p99": percentile(&lat, 0.99), "max": lat.last()},
            "agent_p99_ms": agent_p99.iter().map(|(a, p)| (a.to_string(), json!(p))).collect::<serde_json::Map<_, _>>(),
            "slowest_agent_p99_ms": slowest.1,
            "sync_rounds": {"p50": percentile(&rounds, 0.5), "max": rounds.last(), "count": rounds.len()},
            "published_false": unpublished.len(),
            "published_false_fate": {"on_remote": kept_on_remote, "remade": kept_remade, "dropped": kept_dropped, "not_traced": kept_unknown, "not_traced_by_suspended_agent": untraced_by_target},
            "published_false_why": whys,
            "killed": kills,
            "daemon_down": window.map(|(a, b)| json!([a, b])),
            "holdings_checked": intervals,
            "lost": lost,
            "double_holds": double_list,
            "suspension": {
                "agent": drill.target,
                "reach_ms": reach,
                "reach_from_start_ms": reach_from_start,
                "suspend_exit": drill.suspend_outcome.map(|x| x.0),
                "suspend_ms": drill.suspend_outcome.map(|x| x.1),
                "first_exit5_any_ms": any_reach.as_ref().map(|x| x.0),
                "first_exit5_by": any_reach.as_ref().map(|x| x.1.clone()),
                "resume_back_ms": back,
                "violations": suspension_violations,
                "suspend_record": drill.suspend_record,
                "resume_record": drill.resume_record,
            },
            "remote_records": r.remote_records,
            "log_length": r.log.len(),
            "history_commits": r.commits,
            "fresh_clone_sync_verify_secs": r.fresh_secs,
            "clone_problems": r.clone_problems,
            "hangs": hangs,
            "stale_locks": r.stale_locks,
            "slowest_writes": slowest_writes,
            "commands": by_cmd.iter().map(|(cmd, (codes, ms))| {
                let ms = sorted(ms.clone());
                (cmd.to_string(), json!({
                    "runs": ms.len(),
                    "p50_ms": percentile(&ms, 0.5),
                    "p99_ms": percentile(&ms, 0.99),
                    "exit_codes": codes.iter().map(|(c, n)| (c.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                }))
            }).collect::<serde_json::Map<_, _>>(),
            "unexpected_exits": samples.iter().map(|((cmd, code, _), (n, s))| json!({"command": cmd, "exit": code, "count": n, "stderr": s})).collect::<Vec<_>>(),
            "ok": ok,
        });
        std::fs::write(path, serde_json::to_string_pretty(&out).unwrap()).expect("write the --json file");
    }
    ok
}

/// An error message with its ids, names and numbers masked, to group alike
/// failures.
fn shape(stderr: &str) -> String {
    let message = serde_json::from_str::<Value>(stderr)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| stderr.lines().next().unwrap_or("").to_owned());
    let mut out = String::new();
    for word in message.split(' ') {
        let masked = if word.chars().any(|c| c.is_ascii_digit()) { "#" } else { word };
        out.push_str(masked);
        out.push(' ');
    }
    out.chars().take(80).collect()
}

/// Where a chain of re-makes (a sync that raced re-makes again) ends.
fn chase<'a>(remade: &HashMap<&'a str, &'a str>, id: &'a str) -> Option<&'a str> {
    let mut at = *remade.get(id)?;
    for _ in 0..64 {
        match remade.get(at) {
            Some(n) => at = n,
            None => break,
        }
    }
    Some(at)
}

fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    if later >= earlier {
        later.duration_since(earlier).as_secs_f64() * 1000.0
    } else {
        -(earlier.duration_since(later).as_secs_f64() * 1000.0)
    }
}

/// Exit codes the workload provokes on purpose: 3 (nothing ready, not the
/// holder), 5 (suspended), -9 (killed by the fault thread).
fn expected(cmd: &str, code: i32) -> bool {
    match code {
        -9 => true,
        5 => true,
        3 => matches!(cmd, "next --claim"),
        _ => false,
    }
}
