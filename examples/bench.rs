//! Benchmark harness: prints a table of the figures the issues set targets for.
//!
//! ```text
//! cargo build --release --bins --examples && target/release/examples/bench [--sizes 0,10000,100000] [--messages N] [--runs 21] [--keep DIR]
//! ```
//!
//! For each size it seeds a workspace with that many `task.create` records (one
//! file each, signed, in one commit, through the library), then times whole
//! processes of the release binary: `task add` (an append: open, read the index,
//! sign, write objects, move the ref, update the index) and warm `task list`.
//! It also times the same append done by a loop of git plumbing commands, and
//! `verify` over the whole history in records per second. A second table times
//! the server hook on a push of 1,000 records (push with the hook minus push
//! without it) and a sync round-trip between two clones through a local remote.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use git_crew::hlc::Hlc;
use git_crew::layout;
use git_crew::record::kinds::TaskCreate;
use git_crew::record::{self, Payload};
use git_crew::sign::KeyStore;
use git_crew::workspace::Workspace;

fn main() {
    let mut sizes = vec![0usize, 10_000, 100_000];
    let mut runs = 21usize;
    let mut keep: Option<std::path::PathBuf> = None;
    let mut messages: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sizes" => {
                sizes = args.next().expect("--sizes N,N").split(',').map(|s| s.parse().expect("a number")).collect()
            }
            "--runs" => runs = args.next().expect("--runs N").parse().expect("a number"),
            "--keep" => keep = Some(args.next().expect("--keep DIR").into()),
            "--messages" => messages = Some(args.next().expect("--messages N").parse().expect("a number")),
            other => panic!("unknown argument {other}"),
        }
    }
    let exe = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("git-crew");
    assert!(exe.is_file(), "build the binary first: cargo build --release --bins --examples ({})", exe.display());
    // Hooks and merge drivers run `git-crew` from PATH: use the one measured.
    let path = format!("{}:{}", exe.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    std::env::set_var("PATH", path);

    println!("| records on branch | task add median | task add p90 | git plumbing append median | task list warm median | next warm median | board warm median | verify records/s |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &sizes {
        let temp = tempfile::tempdir().unwrap();
        let base = match &keep {
            Some(k) => k.join(n.to_string()),
            None => temp.path().to_owned(),
        };
        std::fs::create_dir_all(&base).unwrap();
        let dir = base.join("repo");
        let home = base.join("home");
        git(&base, &["init", "-q", "repo"]);
        let ws = Workspace::open(&dir, "crew", KeyStore::at(&home)).unwrap();
        ws.init("admin", Some("bench")).unwrap();
        seed(&ws, n);
        let crew = |args: &[&str]| {
            let out = Command::new(&exe).current_dir(&dir).env("CREW_HOME", &home).args(args).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        };
        crew(&["task", "list"]); // build the index once (cold)
        let add = time(runs, |i| crew(&["task", "add", &format!("bench task {i}")]));
        let list = time(runs, |_| crew(&["task", "list"]));
        let next = time(runs, |_| crew(&["next"]));
        let board = time(runs, |_| crew(&["board"]));
        let plumbing = time(runs.min(11), |i| plumbing_append(&dir, i));
        let records = 1 + n + runs; // genesis, seeded tasks, tasks added by the timed appends
        let start = Instant::now();
        let report = git_crew::verify::verify(ws.store(), false);
        let verify_secs = start.elapsed().as_secs_f64();
        let verified = match report {
            Ok(r) => r.records,
            Err(e) => panic!("verify failed on the bench workspace: {e}"),
        };
        assert_eq!(verified, records, "verify must see every record");
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} | {:.0} |",
            ms(median(&add)),
            ms(p90(&add)),
            ms(median(&plumbing)),
            ms(median(&list)),
            ms(median(&next)),
            ms(median(&board)),
            verified as f64 / verify_secs
        );
    }
    let messages = messages.unwrap_or_else(|| sizes.iter().copied().max().unwrap_or(0));
    message_figures(&exe, runs, messages, keep.as_deref());
    remote_figures(&exe, runs);
}

/// `msg send` and a warm `inbox` with `n` messages on the branch: a team of 50
/// agents and a human reader over the last 100 days, the messages spread evenly
/// over time and five channels. The reader follows one channel and has read
/// everything older than a day, so a fifth of a day's messages are unread.
fn message_figures(exe: &Path, runs: usize, n: usize, keep: Option<&Path>) {
    let temp = tempfile::tempdir().unwrap();
    let base = keep.map(|k| k.join("messages")).unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&base).unwrap();
    let dir = base.join("repo");
    let home = base.join("home");
    git(&base, &["init", "-q", "repo"]);
    let store = git_crew::store::Store::open(&dir, "crew").unwrap();
    let keys = KeyStore::at(&home);
    seed_history(&store, &keys, n);
    let crew = |args: &[&str]| {
        let out = Command::new(exe).current_dir(&dir).env("CREW_HOME", &home).args(args).output().unwrap();
        assert!(out.status.success(), "git crew {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let unread: serde_json::Value = serde_json::from_slice(&crew(&["--as", "reader", "--json", "inbox"])).unwrap();
    let inbox = time(runs, |_| {
        crew(&["--as", "reader", "inbox"]);
    });
    let send = time(runs, |i| {
        crew(&["--as", "agent00", "msg", "send", "--to", "#general", &format!("bench message {i}")]);
    });
    println!();
    println!("| messages on branch | msg send median | inbox warm median | unread items |");
    println!("|---:|---:|---:|---:|");
    println!("| {n} | {} | {} | {} |", ms(median(&send)), ms(median(&inbox)), unread.as_array().map_or(0, Vec::len));
}

/// A workspace begun 100 days ago, in one commit: the genesis (admin), a human
/// `reader` and 50 agents, the reader's join of #general, `n` messages spread
/// over the 100 days, and the reader's ack of everything before today.
fn seed_history(store: &git_crew::store::Store, keys: &KeyStore, n: usize) {
    use git_crew::record::kinds::{ActorAdmit, Genesis, MsgAck, MsgMembership, MsgSend};
    use git_crew::record::Role;
    use git_crew::sign::Keypair;
    let day_ms = 86_400_000i64;
    let now = Hlc::now().ms;
    let start = now - 100 * day_ms;
    let mut at = Hlc { ms: start, counter: 0 };
    let mut tick = |ms: i64| {
        at = Hlc::next(Hlc { ms, counter: 0 }, at);
        at
    };
    let admin = Keypair::generate().unwrap();
    let genesis = Payload::Genesis(Genesis { workspace: "bench".into(), nonce: "0".repeat(32), key: admin.public() });
    let (g, g_bytes) = record::encode(&git_crew::id::Id::ZERO, "admin", tick(start), genesis, &admin).unwrap();
    let ws = g.id;
    keys.save(&ws, "admin", &admin).unwrap();
    let mut files: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    files.insert(layout::MANIFEST.to_owned(), g_bytes);
    files.insert(layout::ATTRIBUTES.to_owned(), layout::ATTRIBUTES_CONTENT.to_vec());
    let add =
        |files: &mut std::collections::BTreeMap<String, Vec<u8>>, who: &str, key: &Keypair, at: Hlc, p: Payload| {
            let (r, bytes) = record::encode(&ws, who, at, p, key).unwrap();
            files.entry(layout::path_of(&r)).or_default().extend_from_slice(&bytes);
            r
        };
    let mut people = vec![("reader".to_owned(), Role::Human, Keypair::generate().unwrap())];
    people.extend((0..50).map(|i| (format!("agent{i:02}"), Role::Agent, Keypair::generate().unwrap())));
    for (name, role, key) in &people {
        keys.save(&ws, name, key).unwrap();
        let owner = (*role == Role::Agent).then(|| "admin".to_owned());
        let admit = ActorAdmit { name: name.clone(), role: *role, key: key.public(), owner, proof: None };
        add(&mut files, "admin", &admin, tick(start), Payload::ActorAdmit(admit));
    }
    let reader = &people[0].2;
    let join = Payload::MsgJoin(MsgMembership { channel: "general".into() });
    add(&mut files, "reader", reader, tick(start), join);
    let step = 100 * day_ms / n.max(1) as i64;
    let mut read = Vec::new();
    for i in 0..n {
        let ms = start + 1 + i as i64 * step;
        let (name, _, key) = &people[1 + i % 50];
        let channel = ["general", "builds", "reviews", "random", "ops"][i % 5].to_owned();
        let text = format!("seeded message {i}: the build on main is green again");
        let msg = MsgSend { channel, text, thread: None, reply_to: None, mentions: vec![] };
        let r = add(&mut files, name, key, tick(ms), Payload::MsgSend(msg));
        if ms < now - day_ms {
            read.push(r.id);
        }
    }
    // The reader has read everything older than a day (its inbox holds the
    // last day's messages): acks of exactly those items.
    read.sort();
    for (n, chunk) in read.chunks(git_crew::record::kinds::MAX_ACK_ITEMS).enumerate() {
        let ack = Payload::MsgAck(MsgAck { items: chunk.to_vec() });
        add(&mut files, "reader", reader, tick(now - day_ms + n as i64), ack);
    }
    let edits: Vec<(String, Vec<u8>)> = files.into_iter().collect();
    let commit =
        store.write_commit(&[], None, &edits, "admin", &format!("seed a workspace with {n} messages\n")).unwrap();
    store.set_tip(None, commit, "bench: seed").unwrap();
}

/// The server hook on a push of 1,000 records, and a sync round-trip.
fn remote_figures(exe: &Path, runs: usize) {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path();
    let home = root.join("home");
    let crew = |dir: &Path, args: &[&str]| {
        let out = Command::new(exe).current_dir(dir).env("CREW_HOME", &home).args(args).output().unwrap();
        assert!(out.status.success(), "git crew {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    for bare in ["hooked.git", "plain.git"] {
        git(root, &["init", "-q", "--bare", bare]);
    }
    crew(&root.join("hooked.git"), &["install", "--server"]);
    git(root, &["init", "-q", "a"]);
    let a = root.join("a");
    crew(&a, &["init", "--admin", "admin"]);
    for bare in ["hooked.git", "plain.git"] {
        git(&a, &["push", "-q", &format!("../{bare}"), "crew"]);
    }
    let ws = Workspace::open(&a, "crew", KeyStore::at(&home)).unwrap();
    for i in 0..1000 {
        ws.add_task("admin", git_crew::tasks::NewTask { title: format!("pushed task {i}"), ..Default::default() })
            .unwrap();
    }
    let push = |bare: &str| {
        let start = Instant::now();
        git(&a, &["push", "-q", &format!("../{bare}"), "crew"]);
        start.elapsed()
    };
    let (hooked, plain) = (push("hooked.git"), push("plain.git"));
    println!();
    println!("| remote operation | time |");
    println!("|---|---:|");
    println!("| push of 1,000 records (1,000 commits), server hook on | {} |", ms(hooked));
    println!("| same push, no hook | {} |", ms(plain));
    println!("| server hook's share | {} |", ms(hooked.saturating_sub(plain)));

    git(root, &["clone", "-q", "hooked.git", "b"]);
    let b = root.join("b");
    git(&a, &["remote", "add", "origin", "../hooked.git"]);
    crew(&b, &["sync"]);
    let timed = |args: &[&str]| {
        let mut times: Vec<Duration> = (0..runs.min(11))
            .map(|i| {
                let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                if args.contains(&"add".to_owned()) {
                    args.push(format!("timed write {i}"));
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let start = Instant::now();
                crew(&a, &args);
                start.elapsed()
            })
            .collect();
        times.sort();
        median(&times)
    };
    println!(
        "| write with publish (`task add`: commit, fetch, verify, push through the hooked remote) | {} |",
        ms(timed(&["task", "add"]))
    );
    println!("| the same write kept local (`--offline task add`) | {} |", ms(timed(&["--offline", "task", "add"])));
    crew(&a, &["sync"]);
    println!("| `alive` asking the remote (bounded fetch, verify, nothing pushed) | {} |", ms(timed(&["alive"])));
    println!("| `alive --offline` (this clone's copy) | {} |", ms(timed(&["--offline", "alive"])));
    let mut round_trips = Vec::new();
    for i in 0..runs.min(11) {
        crew(&a, &["--offline", "task", "add", &format!("round trip {i}")]);
        let start = Instant::now();
        crew(&a, &["sync"]);
        crew(&b, &["sync"]);
        round_trips.push(start.elapsed());
    }
    round_trips.sort();
    println!(
        "| sync round-trip (A: write then sync pushes; B: sync fetches, verifies, fast-forwards) | {} |",
        ms(median(&round_trips))
    );
    let mut claims = Vec::new();
    for i in 0..runs.min(11) {
        let added = Command::new(exe)
            .current_dir(&a)
            .env("CREW_HOME", &home)
            .args(["--json", "--offline", "task", "add", &format!("claim me {i}")])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
        let id = v["record"]["id"].as_str().unwrap().to_owned();
        let start = Instant::now();
        crew(&a, &["task", "claim", &id]);
        claims.push(start.elapsed());
    }
    claims.sort();
    println!(
        "| claim round-trip (fetch, merge, stage, compare-and-swap push through the hooked remote) | {} |",
        ms(median(&claims))
    );
}

/// Add `n` tasks by the admin in one commit, straight through the library.
fn seed(ws: &Workspace, n: usize) {
    if n == 0 {
        return;
    }
    let snap = ws.snapshot().unwrap();
    let key = ws.keys().load(&snap.state.workspace, "admin").unwrap();
    let mut at = snap.state.max_at().unwrap();
    let mut edits = Vec::with_capacity(n);
    for i in 0..n {
        at = Hlc::next(at, at);
        let payload = Payload::TaskCreate(TaskCreate {
            title: format!("seeded task {i}"),
            body: (i % 3 == 0).then(|| "Some longer description of the work.".to_owned()),
            labels: if i % 2 == 0 { vec!["seed".into()] } else { vec![] },
            priority: (i % 5) as u8,
            ..Default::default()
        });
        let (r, bytes) = record::encode(&snap.state.workspace, "admin", at, payload, &key).unwrap();
        edits.push((layout::path_of(&r), bytes));
    }
    let store = ws.store();
    let tree = store.commit(snap.tip).unwrap().tree;
    let commit = store.write_commit(&[snap.tip], Some(tree), &edits, "admin", &format!("seed {n} tasks\n")).unwrap();
    store.set_tip(Some(snap.tip), commit, "bench: seed").unwrap();
}

/// The same append done the way a shell script would: git plumbing processes.
fn plumbing_append(dir: &Path, i: usize) {
    let body = format!("---\nv: 1\nkind: \"note\"\nplumbing: {i}\n");
    let tip = git(dir, &["rev-parse", "refs/heads/crew"]);
    let blob = git_stdin(dir, &["hash-object", "-w", "--stdin"], &body);
    let shard = format!("{:02x}", i % 256);
    let name = format!("p{i:06}.yaml");
    let old_shard = git_ok(dir, &["ls-tree", &format!("{tip}:tasks/{shard}")]).unwrap_or_default();
    let shard_tree = git_stdin(dir, &["mktree"], &format!("{old_shard}100644 blob {blob}\t{name}\n"));
    let tasks = git(dir, &["ls-tree", &format!("{tip}:tasks")]);
    let tasks: String =
        tasks.lines().filter(|l| !l.ends_with(&format!("\t{shard}"))).map(|l| format!("{l}\n")).collect();
    let tasks_tree = git_stdin(dir, &["mktree"], &format!("{tasks}040000 tree {shard_tree}\t{shard}\n"));
    let root = git(dir, &["ls-tree", &tip]);
    let root: String = root.lines().filter(|l| !l.ends_with("\ttasks")).map(|l| format!("{l}\n")).collect();
    let root_tree = git_stdin(dir, &["mktree"], &format!("{root}040000 tree {tasks_tree}\ttasks\n"));
    let commit = git(dir, &["commit-tree", &root_tree, "-p", &tip, "-m", "plumbing append"]);
    git(dir, &["update-ref", "refs/heads/crew", &commit, &tip]);
    // Put the branch back so the workspace stays valid for `verify`.
    git(dir, &["update-ref", "refs/heads/crew", &tip, &commit]);
}

fn git(dir: &Path, args: &[&str]) -> String {
    git_ok(dir, args).unwrap_or_else(|| panic!("git {args:?} failed"))
}

fn git_ok(dir: &Path, args: &[&str]) -> Option<String> {
    let out = git_cmd(dir).args(args).output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn git_stdin(dir: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = git_cmd(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "git {args:?} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_AUTHOR_NAME", "b")
        .env("GIT_AUTHOR_EMAIL", "b@b")
        .env("GIT_COMMITTER_NAME", "b")
        .env("GIT_COMMITTER_EMAIL", "b@b");
    cmd
}

fn time(runs: usize, mut f: impl FnMut(usize)) -> Vec<Duration> {
    let mut out: Vec<Duration> = (0..runs)
        .map(|i| {
            let start = Instant::now();
            f(i);
            start.elapsed()
        })
        .collect();
    out.sort();
    out
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

fn p90(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() * 9 / 10).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
