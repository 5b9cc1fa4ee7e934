//! Identities across machines, through a hooked remote. An agent makes its key
//! on its own machine (its own CREW_HOME) and hands a request to an admin, who
//! admits it; nobody admits itself, only admins admit, a key belongs to one
//! actor, and an altered request does not verify. A rotation retires a key: a
//! copy of the old key can no longer write, and the server refuses new records
//! signed with it whatever their date. An admin re-keys an actor from its
//! request and the agent's machine takes up the pending key by itself. A
//! revocation stops the actor (exit 5) until an admin's re-key restores it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use git_crew::hlc::Hlc;
use git_crew::id::Id;
use git_crew::layout;
use git_crew::record::kinds::TaskCreate;
use git_crew::record::{self, Payload, Role};
use git_crew::request::Request;
use git_crew::sign::{KeyStore, Keypair};
use serde_json::Value;

use crate::common::{served_bare, stamp, tip, Run, World};

/// Run `git-crew ARGS` in `dir` with CREW_HOME set to `home`, feeding `stdin`.
fn run_with(w: &World, dir: &Path, home: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = w
        .crew_cmd(dir, args)
        .env("CREW_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).unwrap();
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(run: Run, what: &[&str]) -> Run {
    assert_eq!(run.code, 0, "git-crew {what:?} failed: {}", run.stderr);
    run
}

/// Two machines: the admin's clone `a` (alice, with agent bob; the world's
/// CREW_HOME) and the agent's clone `b` with a CREW_HOME of its own, both
/// syncing through a remote with the server hook.
struct Net {
    w: World,
    a: PathBuf,
    b: PathBuf,
    remote: PathBuf,
    ws: Id,
    /// CREW_HOME of b's machine.
    b_home: PathBuf,
}

impl Net {
    fn new() -> Net {
        let w = World::new();
        let remote = served_bare(&w, "remote.git");
        let (a, ws) = w.workspace("a");
        w.agent(&a, "bob");
        w.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
        w.crew_ok(&a, &["sync"]);
        w.git(&w.root, &["clone", "-q", remote.to_str().unwrap(), "b"]);
        let (b, b_home) = (w.path("b"), w.path("b-home"));
        let net = Net { w, a, b, remote, ws, b_home };
        net.b_ok(&["sync"]);
        net
    }

    /// `Net::new`, then bot (owned by alice) requested on b, admitted on a,
    /// and the admission synced to b.
    fn with_bot() -> Net {
        let net = Net::new();
        let (file, _) = net.request("bot", &["--owner", "alice"]);
        net.w.crew_ok(&net.a, &["id", "admit", file.to_str().unwrap()]);
        net.a_to_b();
        net
    }

    /// `git-crew ARGS` in b, on b's machine.
    fn b(&self, args: &[&str]) -> Run {
        run_with(&self.w, &self.b, &self.b_home, args, None)
    }

    fn b_ok(&self, args: &[&str]) -> String {
        ok(self.b(args), args).stdout
    }

    /// `git-crew --json ARGS` in b; must exit 0.
    fn b_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        ok(self.b(&full), &full).json()
    }

    /// `git-crew --json --as bot ARGS` in b.
    fn bot(&self, args: &[&str]) -> Run {
        let mut full = vec!["--json", "--as", "bot"];
        full.extend_from_slice(args);
        self.b(&full)
    }

    /// bot adds a task on b; its id.
    fn bot_writes(&self, title: &str) -> String {
        let run = ok(self.bot(&["task", "add", title]), &["task", "add", title]);
        run.json()["record"]["id"].as_str().unwrap().to_owned()
    }

    /// `id request NAME EXTRA… --out FILE` on b's machine: the file and the
    /// JSON answer.
    fn request(&self, name: &str, extra: &[&str]) -> (PathBuf, Value) {
        let file = self.w.path(&format!("{name}-{}.request", next_number()));
        let mut args = vec!["id", "request", name];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", file.to_str().unwrap()]);
        let out = self.b_json(&args);
        assert!(file.is_file(), "no request at {}: {out}", file.display());
        (file, out)
    }

    /// a syncs, then b: what a wrote reaches b.
    fn a_to_b(&self) {
        self.w.crew_ok(&self.a, &["sync"]);
        self.b_ok(&["sync"]);
    }

    /// b syncs (as bot), then a: what b wrote reaches a.
    fn b_to_a(&self) {
        self.b_ok(&["--as", "bot", "sync"]);
        self.w.crew_ok(&self.a, &["sync"]);
    }

    /// The key store of b's machine.
    fn b_keys(&self) -> KeyStore {
        KeyStore::at(&self.b_home)
    }

    /// `id show NAME --json` in `dir` (`b` on b's machine, else on the admin's).
    fn show(&self, dir: &Path, name: &str) -> Value {
        let home = if dir == self.b { &self.b_home } else { &self.w.home };
        let args = ["--json", "id", "show", name];
        ok(run_with(&self.w, dir, home, &args, None), &args).json()
    }

    /// A third clone `c` of the remote, synced, with the crew branch checked
    /// out in a worktree, for forging records and pushing them with plain git.
    fn forger(&self) -> Forger {
        self.w.git(&self.w.root, &["clone", "-q", self.remote.to_str().unwrap(), "c"]);
        let c = self.w.path("c");
        self.w.crew_ok(&c, &["sync"]);
        let wt = self.w.worktree(&c);
        Forger { c, wt }
    }
}

/// A fresh number, for request file names.
fn next_number() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// A clone whose crew branch is changed with plain git.
struct Forger {
    c: PathBuf,
    wt: PathBuf,
}

impl Forger {
    /// Commit a `task.create` by `author` signed with `key` and dated `at` (in
    /// a file of its own); the record's id.
    fn forge(&self, net: &Net, author: &str, key: &Keypair, at: Hlc, title: &str) -> Id {
        let payload = Payload::TaskCreate(TaskCreate { title: title.into(), priority: 2, ..Default::default() });
        let (r, bytes) = record::encode(&net.ws, author, at, payload, key).unwrap();
        let path = self.wt.join(layout::path_of(&r));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        net.w.commit_all(&self.wt, &format!("{author}: {title}"));
        r.id
    }

    /// Catch up with the remote (sync, then bring the worktree to the new tip).
    fn refresh(&self, net: &Net) {
        net.w.crew_ok(&self.c, &["sync"]);
        net.w.git(&self.wt, &["reset", "-q", "--hard"]);
    }

    /// Drop the last forged commit.
    fn undo(&self, net: &Net) {
        net.w.git(&self.wt, &["reset", "-q", "--hard", "HEAD~1"]);
    }

    /// `git push` of the crew branch straight to the hooked remote, no client hook.
    fn push(&self, net: &Net) -> Output {
        net.w.git_output(&self.c, &["push", "--no-verify", net.remote.to_str().unwrap(), "crew"])
    }

    /// The push is refused by the server for `why`, naming `record`, and the
    /// remote does not move.
    fn push_refused(&self, net: &Net, record: &Id, why: &str) {
        let before = tip(&net.w, &net.remote);
        let push = self.push(net);
        let stderr = String::from_utf8_lossy(&push.stderr);
        assert!(!push.status.success(), "the server accepted record {}: {stderr}", record.short());
        assert!(stderr.contains(why) && stderr.contains(&record.short()), "{stderr}");
        assert_eq!(tip(&net.w, &net.remote), before, "the remote moved");
    }
}

fn hlc(v: &Value) -> Hlc {
    Hlc::parse_loose(v.as_str().unwrap_or_else(|| panic!("not a time: {v}"))).unwrap()
}

#[test]
fn an_agent_requests_on_its_machine_and_an_admin_admits_it_on_another() {
    let net = Net::new();
    let w = &net.w;
    let (file, out) = net.request("bot", &["--owner", "alice"]);
    assert!(out["next"].as_str().unwrap().contains("id admit"), "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# git-crew identity request v1\n"), "{text}");

    // The private key is on b's machine, under its CREW_HOME, and nowhere else.
    let key_path = PathBuf::from(out["key_path"].as_str().unwrap());
    assert!(key_path.starts_with(&net.b_home), "{} is not under b's CREW_HOME", key_path.display());
    for repo in [&net.a, &net.b, &net.remote] {
        assert!(!key_path.starts_with(repo), "the key is inside {}", repo.display());
    }
    assert_eq!(key_path, net.b_keys().path(&net.ws, "bot"));
    let bot_key = net.b_keys().load(&net.ws, "bot").unwrap();
    assert_eq!(out["fingerprint"], bot_key.public().fingerprint().as_str(), "{out}");
    assert!(!w.keys().has(&net.ws, "bot"), "the admin's machine has bot's key");
    let seed = std::fs::read_to_string(&key_path).unwrap();
    let seed = seed.trim().strip_prefix("ed25519-seed ").expect("a key file").to_owned();
    assert!(!text.contains(&seed), "the request carries the private key");
    // Nothing reached the branch.
    assert_eq!(tip(w, &net.b), tip(w, &net.remote));

    let before = tip(w, &net.a);
    let admit = w.crew_json(&net.a, &["id", "admit", file.to_str().unwrap()])["record"].clone();
    assert_eq!(admit["kind"], "actor.admit", "{admit}");
    assert_eq!(admit["author"], "alice", "{admit}");
    assert_eq!(admit["fields"]["name"], "bot", "{admit}");
    assert_eq!(admit["fields"]["owner"], "alice", "{admit}");
    assert_ne!(tip(w, &net.a), before);
    net.a_to_b();

    // bot writes on b, as itself (its only key there) and explicitly.
    assert_eq!(net.b_json(&["alive"])["actor"], "bot");
    let task = net.bot_writes("Written by bot on its own machine");
    net.b_to_a();
    let shown = w.crew_json(&net.a, &["task", "show", &task]);
    assert_eq!(shown["task"]["title"], "Written by bot on its own machine", "{shown}");

    for (dir, local) in [(&net.b, true), (&net.a, false)] {
        let bot = net.show(dir, "bot");
        assert_eq!(bot["role"], "agent", "{bot}");
        assert_eq!(bot["owner"], "alice", "{bot}");
        assert_eq!(bot["admitted_by"], "alice", "{bot}");
        assert_eq!(bot["fingerprint"], bot_key.public().fingerprint().as_str(), "{bot}");
        assert_eq!(bot["local_key"], local, "{bot}");
    }

    // The branch holds public records only: log files of the layout, no key file,
    // and the private key's seed in no blob.
    for repo in [&net.a, &net.remote] {
        let files = w.git(repo, &["ls-tree", "-r", "--name-only", "crew"]);
        let files: Vec<&str> = files.lines().collect();
        assert!(files.contains(&"actors/bot.yaml"), "{files:?}");
        for f in &files {
            assert!(
                (layout::classify(f).is_some() && f.ends_with(".yaml")) || *f == ".gitattributes",
                "{f} on the branch"
            );
            assert!(!f.contains("key"), "{f} on the branch");
        }
        let grep = w.git_output(repo, &["grep", "-q", "-i", &seed, "crew"]);
        assert_eq!(grep.status.code(), Some(1), "the private key is on the branch of {}", repo.display());
    }
    assert_eq!(w.crew_json(&net.a, &["verify"])["ok"], true);
}

#[test]
fn admission_needs_another_admin_a_fresh_key_and_an_intact_request() {
    let net = Net::new();
    let w = &net.w;
    let a_tip = || tip(w, &net.a);
    let (file, _) = net.request("bot", &["--owner", "alice"]);
    let file = file.to_str().unwrap();

    // bot cannot admit itself, on its machine or anywhere.
    let before = tip(w, &net.b);
    let run = net.b(&["--as", "bot", "id", "admit", file]);
    assert_ne!(run.code, 0, "bot admitted itself: {run:?}");
    assert!(run.stderr.contains("cannot admit itself"), "{}", run.stderr);
    assert_eq!(tip(w, &net.b), before, "a self-admission wrote something");
    let before = a_tip();
    let run = w.crew(&net.a, &["--as", "bot", "id", "admit", file]);
    assert_ne!(run.code, 0, "bot admitted itself: {run:?}");
    assert_eq!(a_tip(), before);

    // An admitted agent is not an admin.
    let run = w.crew(&net.a, &["--as", "bob", "id", "admit", file]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("admin only"), "{}", run.stderr);
    assert_eq!(a_tip(), before, "a non-admin's admission wrote something");

    // A request bringing a key some actor has: refused, whoever signs the proof.
    let alice_key = w.key(&net.ws, "alice");
    let stolen = net.w.path("mallory.request");
    std::fs::write(&stolen, Request::new(net.ws, "mallory", Role::Agent, None, &alice_key).to_text()).unwrap();
    let run = w.crew(&net.a, &["id", "admit", stolen.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("already alice's"), "{}", run.stderr);
    assert_eq!(a_tip(), before, "a reused key was admitted");
    let bob_key = w.key(&net.ws, "bob");
    let run = run_with(w, &net.a, &w.home, &["id", "admit", "-"], None);
    assert_eq!(run.code, 1, "an empty request was admitted: {run:?}");
    let twin = Request::new(net.ws, "bob2", Role::Agent, Some("alice"), &bob_key).to_text();
    let run = run_with(w, &net.a, &w.home, &["id", "admit", "-"], Some(twin.as_bytes()));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("already bob's"), "{}", run.stderr);
    assert_eq!(a_tip(), before, "a reused key was admitted");

    // A request altered after it was made does not verify: exit 4.
    let text = std::fs::read_to_string(file).unwrap();
    let tampered = w.path("tampered.request");
    std::fs::write(&tampered, text.replace("name: bot\n", "name: bot2\n")).unwrap();
    let run = w.crew(&net.a, &["id", "admit", tampered.to_str().unwrap()]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("proof"), "{}", run.stderr);
    let run = run_with(
        w,
        &net.a,
        &w.home,
        &["id", "admit", "-"],
        Some(text.replace("name: bot\n", "name: bot2\n").as_bytes()),
    );
    assert_eq!(run.code, 4, "{run:?}");
    assert_eq!(a_tip(), before, "a tampered request was admitted");

    // The intact request, on standard input, by the admin.
    let run = run_with(w, &net.a, &w.home, &["--json", "id", "admit", "-"], Some(text.as_bytes()));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["record"]["fields"]["name"], "bot", "{}", run.stdout);
    assert_ne!(a_tip(), before);
    // Once, not twice.
    let before = a_tip();
    let run = w.crew(&net.a, &["id", "admit", file]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(a_tip(), before);

    net.a_to_b();
    net.bot_writes("admitted from standard input");
    net.b_to_a();
    assert_eq!(w.crew_json(&net.a, &["verify"])["ok"], true);
}

#[test]
fn a_rotated_out_key_writes_nothing_and_the_server_refuses_it_even_backdated() {
    let net = Net::with_bot();
    let w = &net.w;
    net.bot_writes("before the rotation");
    net.b_to_a();
    let admitted = hlc(&net.show(&net.b, "bot")["admitted_at"]);
    let old_key = net.b_keys().load(&net.ws, "bot").unwrap();

    // A copy of b's machine's keys before the rotation, as a leaked backup would be.
    let old_home = w.path("b-home-old");
    let cp = std::process::Command::new("cp").arg("-a").arg(&net.b_home).arg(&old_home).status().unwrap();
    assert!(cp.success());

    let rotation = net.bot(&["id", "rotate"]);
    assert_eq!(rotation.code, 0, "{rotation:?}");
    let rotation = rotation.json()["record"].clone();
    assert_eq!(rotation["kind"], "actor.rotate", "{rotation}");
    assert_eq!(rotation["author"], "bot", "{rotation}");
    let rotated_at = stamp(&rotation);
    let new_key = net.b_keys().load(&net.ws, "bot").unwrap();
    assert_ne!(new_key.public(), old_key.public());
    assert_eq!(net.show(&net.b, "bot")["fingerprint"], new_key.public().fingerprint().as_str());
    assert!(!net.b_keys().pending_path(&net.ws, "bot").exists(), "the new key is still pending");
    let retired = net.b_home.join("keys").join(net.ws.hex()).join("retired");
    assert!(retired.join(format!("bot.{}.key", old_key.public().fingerprint())).is_file(), "old key not kept");

    // The old key, from the copy: exit 1, nothing written.
    let before = tip(w, &net.b);
    let args = ["--as", "bot", "task", "add", "with the old key"];
    let run = run_with(w, &net.b, &old_home, &args, None);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("not its current key"), "{}", run.stderr);
    assert_eq!(tip(w, &net.b), before, "the old key wrote something");

    // The new key writes, and the server takes it.
    net.bot_writes("with the new key");
    net.b_to_a();
    assert_eq!(tip(w, &net.a), tip(w, &net.b));

    // A record signed with the old key, dated after the rotation: it does not
    // count (verify fails locally), and the server refuses it.
    let forger = net.forger();
    let forged = forger.forge(&net, "bot", &old_key, Hlc::now(), "forged after the rotation");
    let run = w.crew(&forger.c, &["verify"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains(&forged.short()) && run.stderr.contains("not bot's current key"), "{}", run.stderr);
    forger.push_refused(&net, &forged, "not bot's current key");
    forger.undo(&net);

    // The same, backdated to before the rotation: the fold would count it (the
    // old key was bot's then), but the server refuses new records by a key it
    // already knows is retired, whatever their date.
    let backdated = Hlc { ms: (admitted.ms + rotated_at.ms) / 2, counter: 0 };
    assert!(admitted < backdated && backdated < rotated_at);
    let forged = forger.forge(&net, "bot", &old_key, backdated, "forged from the past");
    assert_eq!(
        w.crew_json(&forger.c, &["verify"])["ok"],
        true,
        "the fold counts a record dated while the key was current"
    );
    forger.push_refused(&net, &forged, "rotated out");
    forger.undo(&net);

    // The control: the same push signed with the current key is taken.
    let before = tip(w, &net.remote);
    forger.forge(&net, "bot", &new_key, Hlc::now(), "pushed with the current key");
    let push = forger.push(&net);
    assert!(push.status.success(), "{}", String::from_utf8_lossy(&push.stderr));
    assert_ne!(tip(w, &net.remote), before);
    net.a_to_b();
    assert_eq!(net.b_json(&["verify"])["ok"], true);
}

#[test]
fn an_admin_rekeys_from_a_request_and_the_agent_takes_up_its_pending_key() {
    let net = Net::with_bot();
    let w = &net.w;
    let old_key = net.b_keys().load(&net.ws, "bot").unwrap();

    // bot is admitted: a new request makes a pending key and asks for a re-key.
    let (file, out) = net.request("bot", &[]);
    assert!(out["next"].as_str().unwrap().contains("id rotate bot --request"), "{out}");
    let pending = net.b_keys().pending_path(&net.ws, "bot");
    assert_eq!(PathBuf::from(out["key_path"].as_str().unwrap()), pending);
    let new_fp = out["fingerprint"].as_str().unwrap().to_owned();
    assert_ne!(new_fp, old_key.public().fingerprint());
    assert!(!w.keys().has(&net.ws, "bot"));
    // Until the re-key lands, bot goes on with its current key.
    net.bot_writes("still on the old key");
    assert!(pending.is_file());
    net.b_to_a();

    let file = file.to_str().unwrap();
    let before = tip(w, &net.a);
    let run = w.crew(&net.a, &["--as", "bob", "id", "rotate", "bot", "--request", file]);
    assert_eq!(run.code, 1, "a non-admin re-keyed bot: {run:?}");
    assert!(run.stderr.contains("admin"), "{}", run.stderr);
    let run = w.crew(&net.a, &["id", "rotate", "bot"]);
    assert_eq!(run.code, 1, "alice made bot a key: {run:?}");
    let run = w.crew(&net.a, &["id", "rotate", "bob", "--request", file]);
    assert_eq!(run.code, 1, "bot's request re-keyed bob: {run:?}");
    assert_eq!(tip(w, &net.a), before, "a refused re-key wrote something");

    let rekey = w.crew_json(&net.a, &["id", "rotate", "bot", "--request", file])["record"].clone();
    assert_eq!(rekey["kind"], "actor.rotate", "{rekey}");
    assert_eq!(rekey["author"], "alice", "{rekey}");
    assert_eq!(net.show(&net.a, "bot")["fingerprint"], new_fp.as_str());
    net.a_to_b();

    // b's bot writes with the new key without being told: the pending key is promoted.
    let task = net.bot_writes("on the new key");
    assert!(!pending.exists(), "the pending key was not taken up");
    assert_eq!(net.b_keys().load(&net.ws, "bot").unwrap().public().fingerprint(), new_fp);
    assert_eq!(net.show(&net.b, "bot")["fingerprint"], new_fp.as_str());
    assert_eq!(net.show(&net.b, "bot")["local_key"], true);
    net.b_to_a();
    assert_eq!(w.crew_json(&net.a, &["task", "show", &task])["task"]["title"], "on the new key");
    assert_eq!(tip(w, &net.a), tip(w, &net.remote));
    assert_eq!(w.crew_json(&net.a, &["verify"])["ok"], true);
}

#[test]
fn a_revoked_key_stops_the_agent_everywhere_until_an_admin_rekeys_it() {
    let net = Net::with_bot();
    let w = &net.w;
    net.bot_writes("before the revocation");
    net.b_to_a();
    let key = net.b_keys().load(&net.ws, "bot").unwrap();

    let before = tip(w, &net.a);
    let run = w.crew(&net.a, &["--as", "bob", "id", "revoke", "bot"]);
    assert_eq!(run.code, 1, "an agent revoked another: {run:?}");
    assert_eq!(tip(w, &net.a), before);
    let revoke = w.crew_json(&net.a, &["id", "revoke", "bot", "--reason", "leaked"])["record"].clone();
    assert_eq!(revoke["kind"], "actor.revoke", "{revoke}");
    let revoked_at = stamp(&revoke);
    let before = tip(w, &net.a);
    let run = w.crew(&net.a, &["id", "revoke", "bot"]);
    assert_eq!(run.code, 1, "revoked twice: {run:?}");
    assert_eq!(tip(w, &net.a), before);
    net.a_to_b();

    // On b, after one sync: every write exits 5, and so does alive.
    let before = tip(w, &net.b);
    for args in [vec!["task", "add", "after the revocation"], vec!["msg", "send", "--to", "alice", "hello?"]] {
        let run = net.bot(&args);
        assert_eq!(run.code, 5, "{args:?}: {run:?}");
        assert!(run.stderr.contains("revoked") && run.stderr.contains("leaked"), "{}", run.stderr);
        assert_eq!(tip(w, &net.b), before, "{args:?} wrote something");
    }
    let run = net.b(&["--as", "bot", "alive"]);
    assert_eq!(run.code, 5, "{run:?}");
    let run = net.bot(&["alive"]);
    assert_eq!(run.code, 5, "{run:?}");
    let alive: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(alive["alive"], false, "{alive}");
    assert_eq!(alive["revoked"]["by"], "alice", "{alive}");
    assert_eq!(alive["revoked"]["reason"], "leaked", "{alive}");

    // Records signed with the revoked key, pushed straight to the server:
    // refused, dated now or backdated before the revocation.
    let forger = net.forger();
    let forged = forger.forge(&net, "bot", &key, Hlc::now(), "forged after the revocation");
    forger.push_refused(&net, &forged, "revoked");
    forger.undo(&net);
    let backdated = Hlc { ms: revoked_at.ms - 1, counter: 0 };
    let forged = forger.forge(&net, "bot", &key, backdated, "forged just before the revocation");
    forger.push_refused(&net, &forged, "revoked");
    forger.undo(&net);

    // bot asks for a new key; the admin's re-key lifts the revocation.
    let (file, out) = net.request("bot", &[]);
    assert!(out["next"].as_str().unwrap().contains("id rotate bot --request"), "{out}");
    w.crew_ok(&net.a, &["id", "rotate", "bot", "--request", file.to_str().unwrap()]);
    net.a_to_b();
    assert_eq!(net.b(&["--as", "bot", "alive"]).code, 0);
    let task = net.bot_writes("back with a new key");
    assert_eq!(net.b_keys().load(&net.ws, "bot").unwrap().public().fingerprint(), out["fingerprint"].as_str().unwrap());
    net.b_to_a();
    assert_eq!(w.crew_json(&net.a, &["task", "show", &task])["task"]["title"], "back with a new key");
    // The old key stays dead.
    forger.refresh(&net);
    let forged = forger.forge(&net, "bot", &key, Hlc::now(), "the revoked key again");
    forger.push_refused(&net, &forged, "not bot's current key");
    assert_eq!(w.crew_json(&net.a, &["verify"])["ok"], true);
}

/// In a fresh clone of a team's remote, commands say to `sync` (never to
/// `init`), `init` refuses to start a second workspace beside the team's, and
/// `id request` makes the clone act as the requester (`crew.as`).
#[test]
fn a_fresh_clone_is_told_to_sync_and_joins_without_init() {
    let w = World::new();
    let remote = served_bare(&w, "remote.git");
    let (a, _) = w.workspace("a");
    w.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    w.crew_ok(&a, &["sync"]);
    w.git(&w.root, &["clone", "-q", remote.to_str().unwrap(), "fresh"]);
    let fresh = w.path("fresh");
    let home = w.path("fresh-home");
    let run = run_with(&w, &fresh, &home, &["--json", "task", "list"], None);
    assert_eq!(run.code, 1, "{run:?}");
    let err: Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert!(err["error"]["message"].as_str().unwrap().contains("`git crew sync` to fetch it from \"origin\""), "{err}");
    assert_eq!(err["error"]["hint"], "git crew sync", "{err}");
    let run = run_with(&w, &fresh, &home, &["init", "--admin", "mallory"], None);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("already holds a workspace") && run.stderr.contains("git crew sync"), "{}", run.stderr);
    assert_eq!(w.tip(&fresh, "crew"), None, "init wrote a second workspace");
    assert!(
        !home.join("keys").exists()
            || walkdir::WalkDir::new(&home).into_iter().flatten().all(|e| !e.file_type().is_file())
    );
    ok(run_with(&w, &fresh, &home, &["sync"], None), &["sync"]);
    ok(run_with(&w, &fresh, &home, &["id", "request", "carol"], None), &["id", "request"]);
    assert_eq!(w.git(&fresh, &["config", "crew.as"]).trim(), "carol");
    // Without a remote, the same clone-less repository is told to init.
    let lone = w.repo("lone");
    let run = w.crew(&lone, &["task", "list"]);
    assert!(run.stderr.contains("git crew init"), "{}", run.stderr);
}
