//! The task board through the real binary: claims racing across clones (through
//! `git daemon` with the server hook) and within one clone, `next --claim`,
//! leases, handoffs, dependencies and cycles, blocking, permissions, receipts
//! and `verify --artifacts`, and offline claims settled by the fold on sync.
//!
//! Every refusal is checked twice: by its exit code, and by the crew branch
//! tip, which a refusal must leave where it was.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sha2::{Digest, Sha256};

use git_crew::id::Id;
use git_crew::index::Need;
use git_crew::record::kinds::TaskEdit;
use git_crew::record::Payload;
use git_crew::state::tasks::Status;
use git_crew::tasks::{self, ClaimMode, ClaimTarget};

use crate::common::memory::Team;
use crate::common::{all_at_once, json_as, refused, served_bare, strings, tip, Daemon, Run, World};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `task add TITLE EXTRA…` as `actor`: the new task's id.
fn add(w: &World, dir: &Path, actor: &str, title: &str, extra: &[&str]) -> String {
    let mut args = vec!["task", "add", title];
    args.extend_from_slice(extra);
    let rec = json_as(w, dir, actor, &args)["record"].clone();
    assert_eq!(rec["kind"], "task.create", "{rec}");
    rec["id"].as_str().unwrap().to_owned()
}

/// The board of `dir`.
fn board(w: &World, dir: &Path) -> Value {
    w.crew_json(dir, &["board"])
}

/// The column of the board holding task `id`, and the task's view there.
fn column_of(board: &Value, id: &str) -> (String, Value) {
    for col in ["ready", "in_progress", "blocked", "done"] {
        if let Some(t) = board[col].as_array().unwrap().iter().find(|t| t["id"] == id) {
            return (col.to_owned(), t.clone());
        }
    }
    panic!("task {id} is on no column of the board: {board}")
}

/// The task view of `id` in `task list`.
fn task(w: &World, dir: &Path, id: &str) -> Value {
    let list = w.crew_json(dir, &["task", "list"]);
    list.as_array().unwrap().iter().find(|t| t["id"] == id).cloned().unwrap_or_else(|| panic!("no task {id}: {list}"))
}

/// Ids of the tasks in `task list --mine` as `actor`.
fn mine(w: &World, dir: &Path, actor: &str) -> Vec<String> {
    let v = json_as(w, dir, actor, &["task", "list", "--mine"]);
    v.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
}

/// `verify` passes in `dir`.
fn verified(w: &World, dir: &Path) -> Value {
    let v = w.crew_json(dir, &["verify"]);
    assert_eq!(v["ok"], true, "verify in {}: {v}", dir.display());
    v
}

fn short(id: &str) -> &str {
    &id[..8]
}

/// Of racing claims, the one that won (exactly one exit 0) and its author;
/// every other exits 3 naming the winner as the holder.
fn one_winner(runs: &[Run], names: &[String], what: &str) -> usize {
    let winners: Vec<usize> = (0..runs.len()).filter(|&i| runs[i].code == 0).collect();
    assert_eq!(
        winners.len(),
        1,
        "{what}: want exactly one winner, got {}:\n{}",
        winners.len(),
        runs.iter()
            .zip(names)
            .map(|(r, n)| format!("{n}: exit {} {}", r.code, r.stderr.trim()))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let win = winners[0];
    let rec = runs[win].json()["record"].clone();
    assert_eq!(rec["kind"], "task.claim", "{what}: {rec}");
    assert_eq!(rec["author"].as_str(), Some(names[win].as_str()), "{what}: {rec}");
    for (i, run) in runs.iter().enumerate().filter(|(i, _)| *i != win) {
        assert_eq!(run.code, 3, "{what}: {} lost but did not exit 3: {run:?}", names[i]);
        assert!(
            run.stderr.contains(&format!("held by {}", names[win])),
            "{what}: {} does not name the winner {}: {}",
            names[i],
            names[win],
            run.stderr
        );
    }
    win
}

/// A JSON value that refuses objects with a key twice (serde_json's `Value`
/// silently keeps the last one).
struct NoDuplicateKeys;

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NoDuplicateKeys;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
                Ok(NoDuplicateKeys)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut seen = HashSet::new();
                while let Some(k) = map.next_key::<String>()? {
                    if !seen.insert(k.clone()) {
                        return Err(serde::de::Error::custom(format!("key {k:?} appears twice in one object")));
                    }
                    map.next_value::<NoDuplicateKeys>()?;
                }
                Ok(NoDuplicateKeys)
            }
        }
        d.deserialize_any(V)
    }
}

fn assert_unique_keys(what: &str, raw: &str) {
    if let Err(e) = serde_json::from_str::<NoDuplicateKeys>(raw) {
        panic!("{what}: {e}: {raw}");
    }
}

/// A bare remote with the server hook behind `git daemon`, an admin clone and
/// one clone per agent (admitted by alice, all synced).
struct Fleet {
    remote: PathBuf,
    daemon: Daemon,
    admin: PathBuf,
    agents: Vec<String>,
    clones: Vec<PathBuf>,
}

fn fleet(w: &World, n: usize) -> Fleet {
    let remote = served_bare(w, "remote.git");
    let daemon = Daemon::start(w);
    let url = daemon.url("remote.git");
    let (admin, _) = w.workspace("admin");
    let agents: Vec<String> = (0..n).map(|i| format!("agent{i}")).collect();
    for name in &agents {
        w.agent(&admin, name);
    }
    w.git(&admin, &["remote", "add", "origin", &url]);
    let out = json_as(w, &admin, "alice", &["sync"]);
    assert_eq!(out["pushed"], true, "{out}");
    let clones: Vec<PathBuf> = agents
        .iter()
        .map(|name| {
            w.git(&w.root, &["clone", "-q", &url, name]);
            let dir = w.path(name);
            json_as(w, &dir, name, &["sync"]);
            assert_eq!(tip(w, &dir), tip(w, &admin));
            dir
        })
        .collect();
    Fleet { remote, daemon, admin, agents, clones }
}

impl Fleet {
    /// Every agent clone syncs, all at once.
    fn sync_agents(&self, w: &World) {
        let jobs: Vec<(PathBuf, Vec<String>)> = self
            .agents
            .iter()
            .zip(&self.clones)
            .map(|(name, dir)| (dir.clone(), strings(&["--json", "--as", name, "sync"])))
            .collect();
        for (run, name) in all_at_once(w, &jobs).iter().zip(&self.agents) {
            assert_eq!(run.code, 0, "{name}: sync failed: {run:?}\ndaemon log:\n{}", self.daemon.log_text());
        }
    }
}

// ---------------------------------------------------------------------------
// Races across clones, through git daemon
// ---------------------------------------------------------------------------

const AGENTS: usize = 8;
const ROUNDS: usize = 20;

/// 8 clones race to claim one task, 20 rounds over: each round exactly one
/// claim lands on the remote, the seven losers exit 3 naming the winner and
/// publish nothing, and at the end every clone agrees on every holder.
#[test]
fn eight_clones_race_for_one_task_in_twenty_rounds() {
    let started = Instant::now();
    let w = World::new();
    let f = fleet(&w, AGENTS);
    let setup = started.elapsed();

    let mut winners: Vec<(String, String)> = Vec::new(); // (task id, winner)
    let mut tally: HashMap<String, usize> = HashMap::new();
    for round in 0..ROUNDS {
        let id = add(&w, &f.admin, "alice", &format!("round {round}"), &["--label", "race"]);
        json_as(&w, &f.admin, "alice", &["sync"]);
        f.sync_agents(&w);
        let before = w.tip(&f.remote, "crew").unwrap();
        for dir in &f.clones {
            assert_eq!(tip(&w, dir), before, "round {round}: {} not synced", dir.display());
        }

        let jobs: Vec<(PathBuf, Vec<String>)> = f
            .agents
            .iter()
            .zip(&f.clones)
            .map(|(name, dir)| (dir.clone(), strings(&["--json", "--as", name, "task", "claim", &id])))
            .collect();
        let runs = all_at_once(&w, &jobs);
        let win = one_winner(&runs, &f.agents, &format!("round {round}"));
        let winner = f.agents[win].clone();

        // Only the winner's claim reached the remote, as one commit on top of
        // what everyone had; the losers wrote nothing (at most they
        // fast-forwarded to the winner's commit while finding out).
        let after = w.tip(&f.remote, "crew").unwrap();
        assert_eq!(tip(&w, &f.clones[win]), after, "round {round}: the winner's clone is not at the remote tip");
        let parent = w.git(&f.remote, &["rev-parse", &format!("{after}^")]);
        assert_eq!(parent.trim(), before, "round {round}: the remote moved by more than the winner's claim");
        for (i, dir) in f.clones.iter().enumerate().filter(|(i, _)| *i != win) {
            let t = tip(&w, dir);
            assert!(t == before || t == after, "round {round}: loser {} moved its branch to {t}", f.agents[i]);
        }
        *tally.entry(winner.clone()).or_default() += 1;
        winners.push((id, winner));
    }
    let race = started.elapsed() - setup;

    // Converge and check.
    json_as(&w, &f.admin, "alice", &["sync"]);
    f.sync_agents(&w);
    let remote_tip = w.tip(&f.remote, "crew").unwrap();
    assert_eq!(tip(&w, &f.admin), remote_tip);
    for (name, dir) in f.agents.iter().zip(&f.clones) {
        assert_eq!(tip(&w, dir), remote_tip, "{name} diverged");
    }
    let claims = w.crew_json(&f.remote, &["log", "--kind", "task.claim"]);
    let claims = claims.as_array().unwrap();
    assert_eq!(claims.len(), ROUNDS, "one claim record per round on the remote: {claims:?}");
    let b = board(&w, &f.admin);
    for (round, (id, winner)) in winners.iter().enumerate() {
        let (col, t) = column_of(&b, id);
        assert_eq!(col, "in_progress", "round {round}: {t}");
        assert_eq!(t["holder"].as_str(), Some(winner.as_str()), "round {round}: {t}");
        assert!(claims.iter().any(|c| c["task"] == id.as_str() && c["author"] == winner.as_str()), "round {round}");
    }
    let last = f.clones.last().unwrap();
    for (id, winner) in &winners {
        assert_eq!(task(&w, last, id)["holder"].as_str(), Some(winner.as_str()), "a clone disagrees on {id}");
    }
    verified(&w, &f.admin);
    for dir in &f.clones {
        verified(&w, dir);
    }
    verified(&w, &f.remote);
    eprintln!(
        "eight_clones_race_for_one_task_in_twenty_rounds: setup {setup:.1?}, race {race:.1?}, total {:.1?}; wins {tally:?}",
        started.elapsed()
    );
}

/// 8 clones run `next --claim` at once over 10 ready tasks: 8 distinct tasks,
/// all exit 0, the two left over still ready.
#[test]
fn next_claim_gives_eight_agents_eight_distinct_tasks() {
    let w = World::new();
    let f = fleet(&w, AGENTS);
    let ids: Vec<String> = (0..AGENTS + 2).map(|i| add(&w, &f.admin, "alice", &format!("job {i}"), &[])).collect();
    json_as(&w, &f.admin, "alice", &["sync"]);
    f.sync_agents(&w);

    let jobs: Vec<(PathBuf, Vec<String>)> = f
        .agents
        .iter()
        .zip(&f.clones)
        .map(|(name, dir)| (dir.clone(), strings(&["--json", "--as", name, "next", "--claim"])))
        .collect();
    let runs = all_at_once(&w, &jobs);
    let mut got = HashMap::new();
    for (run, name) in runs.iter().zip(&f.agents) {
        assert_eq!(run.code, 0, "{name}: next --claim failed: {run:?}");
        let out = run.json();
        let id = out["task"]["id"].as_str().unwrap().to_owned();
        assert_eq!(out["record"]["kind"], "task.claim", "{out}");
        assert_eq!(out["record"]["author"].as_str(), Some(name.as_str()), "{out}");
        assert_eq!(out["record"]["task"].as_str(), Some(id.as_str()), "{out}");
        assert_eq!(out["task"]["holder"].as_str(), Some(name.as_str()), "{out}");
        if let Some(other) = got.insert(id.clone(), name.clone()) {
            panic!("{name} and {other} were both given task {id}");
        }
    }
    assert_eq!(got.len(), AGENTS);

    json_as(&w, &f.admin, "alice", &["sync"]);
    let b = board(&w, &f.admin);
    for id in &ids {
        let (col, t) = column_of(&b, id);
        match got.get(id) {
            Some(holder) => {
                assert_eq!(col, "in_progress", "{t}");
                assert_eq!(t["holder"].as_str(), Some(holder.as_str()), "{t}");
            }
            None => assert_eq!(col, "ready", "{t}"),
        }
    }
    assert_eq!(w.crew_json(&f.remote, &["log", "--kind", "task.claim"]).as_array().unwrap().len(), AGENTS);
    verified(&w, &f.remote);
}

/// The same without a remote: 8 processes in one repository, `next --claim`
/// at once, get 8 distinct tasks; once nothing is ready `next --claim` exits 3.
#[test]
fn next_claim_in_one_clone_gives_eight_processes_eight_distinct_tasks() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    let agents: Vec<String> = (0..AGENTS).map(|i| format!("agent{i}")).collect();
    for name in &agents {
        w.agent(&dir, name);
    }
    let ids: Vec<String> = (0..AGENTS + 2).map(|i| add(&w, &dir, "alice", &format!("job {i}"), &[])).collect();
    let jobs: Vec<(PathBuf, Vec<String>)> =
        agents.iter().map(|name| (dir.clone(), strings(&["--json", "--as", name, "next", "--claim"]))).collect();
    let runs = all_at_once(&w, &jobs);
    let mut got = HashSet::new();
    for (run, name) in runs.iter().zip(&agents) {
        assert_eq!(run.code, 0, "{name}: next --claim failed: {run:?}");
        let id = run.json()["task"]["id"].as_str().unwrap().to_owned();
        assert!(got.insert(id.clone()), "task {id} given twice");
    }
    assert_eq!(got.len(), AGENTS);
    let claims = w.crew_json(&dir, &["log", "--kind", "task.claim"]);
    assert_eq!(claims.as_array().unwrap().len(), AGENTS, "{claims}");

    // Two left: two more claims, then nothing ready.
    let left: HashSet<String> = ids.iter().filter(|i| !got.contains(*i)).cloned().collect();
    let mut taken = HashSet::new();
    for _ in 0..2 {
        let out = json_as(&w, &dir, "alice", &["next", "--claim"]);
        taken.insert(out["task"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(taken, left);
    // `next` and `next --claim` agree: nothing ready exits 3, naming why.
    refused(&w, &dir, "alice", &["next"], 3, "no ready task");
    refused(&w, &dir, "alice", &["next", "--claim"], 3, "no ready task");
    verified(&w, &dir);
}

/// 8 processes claim one task in one clone without a remote: exactly one wins,
/// the others exit 3 naming it, and one claim record exists.
#[test]
fn eight_processes_claim_one_task_in_one_clone() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    let agents: Vec<String> = (0..AGENTS).map(|i| format!("agent{i}")).collect();
    for name in &agents {
        w.agent(&dir, name);
    }
    for round in 0..3 {
        let id = add(&w, &dir, "alice", &format!("contested {round}"), &[]);
        let before = tip(&w, &dir);
        let jobs: Vec<(PathBuf, Vec<String>)> =
            agents.iter().map(|name| (dir.clone(), strings(&["--json", "--as", name, "task", "claim", &id]))).collect();
        let runs = all_at_once(&w, &jobs);
        let win = one_winner(&runs, &agents, &format!("round {round}"));
        let parent = w.git(&dir, &["rev-parse", "crew^"]);
        assert_eq!(parent.trim(), before, "round {round}: more than one commit was written");
        assert_eq!(task(&w, &dir, &id)["holder"].as_str(), Some(agents[win].as_str()));
    }
    let claims = w.crew_json(&dir, &["log", "--kind", "task.claim"]);
    assert_eq!(claims.as_array().unwrap().len(), 3, "{claims}");
    verified(&w, &dir);
}

// ---------------------------------------------------------------------------
// The rules, one repository
// ---------------------------------------------------------------------------

/// A workspace with agents bob and carol (and admin alice).
fn team(w: &World) -> PathBuf {
    let (dir, _) = w.workspace("r");
    w.agent(&dir, "bob");
    w.agent(&dir, "carol");
    dir
}

/// A claim with a short lease blocks others until it runs out; then another
/// actor's claim counts. `next` skips the held task meanwhile.
#[test]
fn an_expired_lease_frees_the_task() {
    let w = World::new();
    let dir = team(&w);
    let urgent = add(&w, &dir, "alice", "urgent", &["--priority", "0"]);
    let later = add(&w, &dir, "alice", "later", &["--priority", "3"]);
    assert_eq!(w.crew_json(&dir, &["next"])["task"]["id"].as_str(), Some(urgent.as_str()));

    let claimed = Instant::now();
    let rec = json_as(&w, &dir, "bob", &["task", "claim", &urgent, "--lease", "10s"])["record"].clone();
    assert_eq!(rec["fields"]["lease"], 10, "{rec}");
    let t = task(&w, &dir, &urgent);
    assert_eq!(t["status"], "in_progress", "{t}");
    assert_eq!(t["holder"], "bob", "{t}");
    let left = t["lease_left_secs"].as_i64().unwrap();
    assert!((0..=10).contains(&left), "{t}");

    refused(&w, &dir, "carol", &["task", "claim", &urgent], 3, "held by bob");
    let next = w.crew_json(&dir, &["next"]);
    assert_eq!(next["task"]["id"].as_str(), Some(later.as_str()), "next must skip the held task: {next}");

    assert!(
        claimed.elapsed() < Duration::from_millis(9800),
        "too slow to check within the lease: {:?}",
        claimed.elapsed()
    );
    std::thread::sleep(Duration::from_millis(10_300).saturating_sub(claimed.elapsed()));
    let t = task(&w, &dir, &urgent);
    assert_eq!(t["status"], "ready", "the lease ran out: {t}");
    assert!(t.get("holder").is_none(), "{t}");
    assert_eq!(w.crew_json(&dir, &["next"])["task"]["id"].as_str(), Some(urgent.as_str()));
    assert!(mine(&w, &dir, "bob").is_empty());

    let rec = json_as(&w, &dir, "carol", &["task", "claim", &urgent])["record"].clone();
    assert_eq!(rec["author"], "carol", "{rec}");
    let (col, t) = column_of(&board(&w, &dir), &urgent);
    assert_eq!(col, "in_progress", "{t}");
    assert_eq!(t["holder"], "carol", "{t}");
    assert_eq!(mine(&w, &dir, "carol"), vec![urgent.clone()]);
    // bob's lease ran out: he no longer holds it.
    refused(&w, &dir, "bob", &["task", "done", &urgent], 3, "does not hold");
    refused(&w, &dir, "bob", &["task", "claim", &urgent], 3, "held by carol");
    verified(&w, &dir);
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Receipts vouch for artifacts by sha256 and for code by full commit id;
/// `verify --artifacts` notices a changed file.
#[test]
fn receipts_pin_artifacts_and_commits() {
    let w = World::new();
    let dir = team(&w);
    std::fs::write(dir.join("lib.rs"), "pub fn answer() -> u32 { 42 }\n").unwrap();
    w.git(&dir, &["add", "lib.rs"]);
    w.git(&dir, &["commit", "-q", "--no-verify", "-m", "the code"]);
    let head = w.git(&dir, &["rev-parse", "HEAD"]).trim().to_owned();
    assert_eq!(w.git(&dir, &["symbolic-ref", "--short", "HEAD"]).trim(), "main");

    let id = add(&w, &dir, "alice", "write the answer", &[]);
    json_as(&w, &dir, "bob", &["task", "claim", &id]);
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let content = b"test result: ok. 12 passed; 0 failed\n";
    std::fs::write(dir.join("out/test.log"), content).unwrap();

    refused(&w, &dir, "bob", &["receipt", "add", "--task", &id, "--commit", "no-such-rev"], 1, "no-such-rev");
    refused(&w, &dir, "bob", &["receipt", "add", "--task", &id, "--artifact", "out/missing.log"], 1, "missing.log");

    let rec = json_as(
        &w,
        &dir,
        "bob",
        &[
            "receipt",
            "add",
            "--task",
            &id,
            "--artifact",
            "out/test.log",
            "--commit",
            "HEAD",
            "--kind",
            "test",
            "--summary",
            "all green",
        ],
    )["record"]
        .clone();
    assert_eq!(rec["kind"], "receipt", "{rec}");
    assert_eq!(rec["task"].as_str(), Some(id.as_str()), "{rec}");
    let f = &rec["fields"];
    assert_eq!(f["artifacts"].as_array().unwrap().len(), 1, "{rec}");
    assert_eq!(f["artifacts"][0]["path"], "out/test.log", "{rec}");
    assert_eq!(f["artifacts"][0]["sha256"].as_str(), Some(sha256_hex(content).as_str()), "{rec}");
    assert_eq!(f["artifacts"][0]["size"], content.len() as u64, "{rec}");
    assert_eq!(f["commits"], serde_json::json!([head]), "{rec}");
    let rid = rec["id"].as_str().unwrap().to_owned();
    assert_eq!(w.crew_json(&dir, &["receipt", "show", &rid]), rec);
    assert_eq!(w.crew_json(&dir, &["receipt", "show", short(&rid)]), rec);
    // A commit given by abbreviated id resolves to the full id too.
    let rec2 = json_as(&w, &dir, "bob", &["receipt", "add", "--task", &id, "--commit", &head[..10]])["record"].clone();
    assert_eq!(rec2["fields"]["commits"], serde_json::json!([head]), "{rec2}");

    json_as(&w, &dir, "bob", &["task", "done", &id, "--receipt", short(&rid), "--summary", "done"]);
    let t = task(&w, &dir, &id);
    assert_eq!(t["status"], "done", "{t}");
    assert_eq!(t["receipts"], 2, "{t}");
    let done = w.crew_json(&dir, &["log", "--kind", "task.done"]);
    assert_eq!(done[0]["fields"]["receipt"].as_str(), Some(rid.as_str()), "{done}");

    let v = w.crew_json(&dir, &["verify", "--artifacts"]);
    assert_eq!(v["ok"], true, "{v}");
    let arts = v["artifacts"].as_array().unwrap();
    assert_eq!(arts.len(), 1, "{v}");
    assert_eq!(arts[0]["status"], "ok", "{v}");
    assert_eq!(arts[0]["receipt"].as_str(), Some(rid.as_str()), "{v}");
    assert_eq!(arts[0]["task"].as_str(), Some(id.as_str()), "{v}");
    assert_eq!(arts[0]["path"], "out/test.log", "{v}");

    // The file changes on disk: exit 4, a mismatch with what was found.
    let changed = b"test result: FAILED. 11 passed; 1 failed\n";
    std::fs::write(dir.join("out/test.log"), changed).unwrap();
    let before = tip(&w, &dir);
    // A failure like any other: one error object on stderr, with every check.
    let run = w.crew(&dir, &["--json", "verify", "--artifacts"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stderr).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    assert_eq!(v["error"]["code"], "verify", "{v}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("out/test.log")), "{v}");
    let v = &v["error"];
    assert_eq!(v["artifacts"][0]["status"], "mismatch", "{v}");
    assert_eq!(v["artifacts"][0]["found"].as_str(), Some(sha256_hex(changed).as_str()), "{v}");
    assert_eq!(tip(&w, &dir), before);
    // The history itself still verifies; a missing file is reported, not failed.
    verified(&w, &dir);
    std::fs::remove_file(dir.join("out/test.log")).unwrap();
    let v = w.crew_json(&dir, &["verify", "--artifacts"]);
    assert_eq!(v["artifacts"][0]["status"], "missing", "{v}");
}

/// Two clones claim one task `--offline` at different moments. Whichever is
/// published first holds the task, whatever the stamps say: a published claim
/// is final. The other clone's sync drops its claim and reports it as lost,
/// keeps everything else it wrote (re-made on top where it sorted before what
/// was published), and every clone ends at one tip that `verify` accepts.
#[test]
fn offline_claims_are_settled_by_publication_and_the_loser_keeps_its_other_work() {
    let w = World::new();
    let remote = served_bare(&w, "remote.git");
    let (a, _) = w.workspace("a");
    w.agent(&a, "bob");
    w.agent(&a, "carol");
    w.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    let id = add(&w, &a, "alice", "contested offline", &[]);
    json_as(&w, &a, "alice", &["sync"]);
    let clone = |name: &str| {
        w.git(&w.root, &["clone", "-q", remote.to_str().unwrap(), name]);
        let dir = w.path(name);
        json_as(&w, &dir, name, &["sync"]);
        dir
    };
    let (b, c) = (clone("bob"), clone("carol"));
    let published = w.tip(&remote, "crew").unwrap();

    // bob claims first, offline, and keeps working on the task.
    let first = json_as(&w, &b, "bob", &["task", "claim", &id, "--offline"])["record"].clone();
    let comment = json_as(&w, &b, "bob", &["--offline", "task", "comment", &id, "started on it"])["record"].clone();
    std::thread::sleep(Duration::from_millis(30));
    let second = json_as(&w, &c, "carol", &["task", "claim", &id, "--offline"])["record"].clone();
    assert_eq!(first["fields"]["offline"], true, "{first}");
    assert_eq!(w.tip(&remote, "crew").unwrap(), published, "an offline claim was pushed");
    assert_eq!(task(&w, &b, &id)["holder"], "bob");
    assert_eq!(task(&w, &c, &id)["holder"], "carol");

    // carol publishes first: her claim holds from now on, on every clone.
    let out = json_as(&w, &c, "carol", &["sync"]);
    assert_eq!(out["pushed"], true, "{out}");
    assert_eq!(out["lost_claims"], serde_json::json!([]), "{out}");
    // bob's sync replays his work on top: the claim, dated before carol's,
    // would overturn it, so it is dropped and reported; his comment is kept
    // (re-made on top, as it sorted before what carol published).
    let out = json_as(&w, &b, "bob", &["sync"]);
    assert_eq!(out["pushed"], true, "{out}");
    let lost = out["lost_claims"].as_array().unwrap();
    assert_eq!(lost.len(), 1, "{out}");
    assert_eq!(lost[0]["claim"].as_str(), first["id"].as_str(), "{out}");
    assert_eq!(lost[0]["actor"], "bob", "{out}");
    assert!(lost[0]["reason"].as_str().unwrap().contains("held by carol"), "{out}");
    let remade = out["remade"].as_array().unwrap();
    assert_eq!(remade.len(), 1, "{out}");
    assert_eq!(remade[0]["old"].as_str(), comment["id"].as_str(), "{out}");
    // Once reported, not again; nothing is retried.
    let out = json_as(&w, &b, "bob", &["sync"]);
    assert_eq!(out["lost_claims"], serde_json::json!([]), "{out}");
    assert_eq!(out["dropped"], serde_json::json!([]), "{out}");

    json_as(&w, &a, "alice", &["sync"]);
    json_as(&w, &c, "carol", &["sync"]);
    assert_eq!(tip(&w, &b), tip(&w, &c));
    assert_eq!(tip(&w, &a), tip(&w, &c));
    for dir in [&a, &b, &c] {
        let t = task(&w, dir, &id);
        assert_eq!(t["holder"], "carol", "{}: {t}", dir.display());
        assert_eq!(t["comments"], 1, "bob's comment survived: {t}");
        verified(&w, dir);
    }
    assert_eq!(second["author"], "carol");
    assert_eq!(mine(&w, &b, "bob"), Vec::<String>::new());
    refused(&w, &b, "bob", &["task", "done", &id], 3, "does not hold");
    json_as(&w, &c, "carol", &["task", "done", &id]);
    verified(&w, &remote);
}

/// Every task view (list, show, board, next) is a JSON object with each key
/// once, whatever the task's status.
#[test]
fn task_json_has_each_key_once() {
    let w = World::new();
    let dir = team(&w);
    let held = add(&w, &dir, "alice", "held", &["--priority", "1"]);
    let blocked = add(&w, &dir, "alice", "blocked", &[]);
    add(&w, &dir, "alice", "ready", &["--depends-on", &held]);
    json_as(&w, &dir, "bob", &["task", "claim", &held]);
    json_as(&w, &dir, "bob", &["task", "block", &blocked, "--reason", "why not"]);
    let claimed = w.crew(&dir, &["--json", "--as", "carol", "next", "--claim"]);
    for (what, args) in [
        ("task list", vec!["--json", "task", "list"]),
        ("task show", vec!["--json", "task", "show", &held]),
        ("board", vec!["--json", "board"]),
    ] {
        let run = w.crew(&dir, &args);
        assert_eq!(run.code, 0, "{what}: {run:?}");
        assert_unique_keys(what, &run.stdout);
    }
    assert_eq!(claimed.code, 3, "nothing is ready: {claimed:?}");
    let id = add(&w, &dir, "alice", "one more", &[]);
    let next = w.crew(&dir, &["--json", "next"]);
    assert_eq!(next.code, 0, "{next:?}");
    assert_unique_keys("next", &next.stdout);
    let claimed = w.crew(&dir, &["--json", "--as", "carol", "next", "--claim"]);
    assert_eq!(claimed.code, 0, "{claimed:?}");
    assert_eq!(claimed.json()["task"]["id"].as_str(), Some(id.as_str()));
    assert_unique_keys("next --claim", &claimed.stdout);
}

// ---------------------------------------------------------------------------
// The board's rules, in memory (no git, no process)
// ---------------------------------------------------------------------------

/// The holder hands a task to carol with a note; only the holder may, and only
/// to an admitted actor.
#[test]
fn handoff_moves_the_task_to_the_receiver() {
    let t = Team::new();
    let id = t.add("alice", "pass it on", |_| {});
    // Neither ever held it, nor may assign it (an admin or the receiver's
    // owner): not a lost race but no authority (a failure, exit 1).
    t.refused(|ws| ws.handoff("bob", id, "carol", None), "bob may not assign task");
    t.claim("bob", id).unwrap();
    assert_eq!(t.mine("bob"), vec![id]);

    t.refused(|ws| ws.handoff("carol", id, "alice", None), "carol may not assign task");
    t.refused(|ws| ws.handoff("bob", id, "zed", None), "zed");

    let rec = t.ws.handoff("bob", id, "carol", Some("tests are in t/".into())).unwrap();
    let Payload::TaskHandoff(h) = &rec.payload else { panic!("not a handoff: {rec:?}") };
    assert_eq!((h.to.as_str(), h.note.as_deref()), ("carol", Some("tests are in t/")));
    assert_eq!(t.mine("carol"), vec![id]);
    assert!(t.mine("bob").is_empty());
    assert_eq!(t.holder(id).as_deref(), Some("carol"));

    // bob gave it away: he can no longer hand it off, release or close it.
    t.refused(|ws| ws.handoff("bob", id, "alice", None), "does not hold");
    t.refused(|ws| ws.release("bob", id, None), "does not hold");
    t.refused(|ws| ws.done("bob", id, None, None), "does not hold");
    let snap = t.ws.snapshot().unwrap();
    let history = t.ws.task_records(&snap, &id).unwrap();
    assert!(history.iter().any(|r| r.kind() == "task.handoff"), "{history:?}");
    t.ws.done("carol", id, None, Some("finished".into())).unwrap();
    let snap = t.ws.snapshot().unwrap();
    assert_eq!(snap.state.tasks[&id].done.as_ref().map(|d| d.by.as_str()), Some("carol"));
    t.verified();
}

/// Dependencies gate readiness and claims; an edit closing a cycle is refused
/// with the cycle named; children show on their parent.
#[test]
fn dependencies_order_the_work_and_cycles_are_refused() {
    let t = Team::new();
    let a = t.add("alice", "A: foundations", |n| n.priority = Some(3));
    // B is more urgent but waits on A.
    let b = t.add("alice", "B: walls", |n| {
        n.priority = Some(0);
        n.depends_on = vec![a];
    });
    let snap = t.ws.snapshot().unwrap();
    assert_eq!(snap.state.tasks[&b].depends_on, vec![a]);
    let Status::Blocked { why } = t.status(b) else { panic!("B is not blocked: {:?}", t.status(b)) };
    assert!(why.contains(&a.short()), "{why}");
    let now = tasks::now_ms();
    assert_eq!(tasks::next(&t.summaries(), None, now).map(|s| s.id), Some(a));
    t.refused(|ws| t.claim("bob", b).map(|_| ws.store().branch().to_owned()), "waiting on");

    // A cycle: A -> B -> A.
    let err = t.refused(
        |ws| ws.edit_task("alice", TaskEdit { task: a, depends_on: vec![b], ..Default::default() }),
        "dependency cycle",
    );
    let want = format!("{} -> {} -> {}", a.short(), b.short(), a.short());
    assert!(err.contains(&want), "the cycle is not named as {want:?}: {err}");
    assert!(t.ws.snapshot().unwrap().state.tasks[&a].depends_on.is_empty());

    t.claim("bob", a).unwrap();
    t.ws.done("bob", a, None, None).unwrap();
    assert_eq!(t.status(b), Status::Ready);
    // A query for B alone loads what B depends on (A sits in another shard
    // but for one chance in 256): B's status counts A as done.
    let snap = t.ws.snapshot_for(&Need::Tasks(vec![b])).unwrap();
    assert_eq!(snap.state.tasks[&b].status(&snap.state, now), Status::Ready);
    assert_eq!(tasks::next(&t.summaries(), None, tasks::now_ms()).map(|s| s.id), Some(b));
    t.claim("carol", b).unwrap();

    // Parents: children show on the epic; a parent cycle is refused too.
    let epic = t.add("alice", "epic", |_| {});
    let c1 = t.add("alice", "child one", |n| n.parent = Some(epic));
    let c2 = t.add("alice", "child two", |n| n.parent = Some(epic));
    let state = t.ws.snapshot().unwrap().state;
    let children: HashSet<Id> = state.tasks.values().filter(|t| t.parent == Some(epic)).map(|t| t.id).collect();
    assert_eq!(children, HashSet::from([c1, c2]));
    t.refused(|ws| ws.edit_task("alice", TaskEdit { task: epic, parent: Some(c1), ..Default::default() }), "cycle");
    assert_eq!(t.ws.snapshot().unwrap().state.tasks[&epic].parent, None);
    t.verified();
}

/// A blocked task shows why, cannot be claimed, and is ready again once
/// unblocked; unblocking twice is refused.
#[test]
fn blocked_tasks_show_why_and_cannot_be_claimed() {
    let t = Team::new();
    let id = t.add("alice", "deploy", |_| {});
    t.ws.block("bob", id, "no staging credentials".into()).unwrap();
    let Status::Blocked { why } = t.status(id) else { panic!("not blocked: {:?}", t.status(id)) };
    assert!(why.contains("no staging credentials") && why.contains("bob"), "{why}");
    t.refused(|_| t.claim("carol", id), "no staging credentials");
    let next = ClaimTarget::Next(None);
    t.refused(|ws| ws.claim("carol", &next, 600, &ClaimMode::Local), "no ready task");
    assert!(tasks::next(&t.summaries(), None, tasks::now_ms()).is_none());

    t.ws.unblock("carol", id).unwrap();
    assert_eq!(t.status(id), Status::Ready);
    t.refused(|ws| ws.unblock("carol", id), "not blocked");
    t.claim("carol", id).unwrap();
    t.verified();
}

/// Only the holder releases or closes; an admin may force either; anyone
/// comments.
#[test]
fn only_the_holder_or_an_admin_releases_and_closes() {
    let t = Team::new();
    let id = t.add("alice", "guarded", |_| {});
    t.refused(|ws| ws.release("bob", id, None), "does not hold");
    t.claim("bob", id).unwrap();
    t.refused(|ws| ws.release("carol", id, None), "does not hold");
    t.refused(|ws| ws.done("carol", id, None, None), "does not hold");
    t.refused(|_| t.claim("carol", id), "held by bob");

    t.ws.comment("carol", id, "how is it going?".into()).unwrap();
    t.ws.comment("bob", id, "fine".into()).unwrap();
    let state = t.ws.snapshot().unwrap().state;
    assert_eq!(state.tasks[&id].comments, 2);
    assert_eq!(t.holder(id).as_deref(), Some("bob"), "a comment by someone else does not move the claim");

    // The admin forces it free.
    let rec = t.ws.release("alice", id, Some("bob is stuck".into())).unwrap();
    assert_eq!(rec.kind(), "task.release");
    assert_eq!(t.status(id), Status::Ready);
    t.refused(|ws| ws.release("bob", id, None), "does not hold");
    t.refused(|ws| ws.done("bob", id, None, None), "does not hold");

    // The holder releases; then carol claims and the admin closes it for her.
    t.claim("carol", id).unwrap();
    t.ws.release("carol", id, None).unwrap();
    t.claim("carol", id).unwrap();
    t.ws.done("alice", id, None, Some("closed by the admin".into())).unwrap();
    assert_eq!(t.status(id), Status::Done);
    let state = t.ws.snapshot().unwrap().state;
    assert_eq!(state.tasks[&id].done.as_ref().map(|d| d.by.as_str()), Some("alice"));
    t.refused(|_| t.claim("carol", id), "done");
    t.refused(|ws| ws.done("alice", id, None, None), "done");
    t.ws.comment("bob", id, "thanks".into()).unwrap();
    t.verified();
}

/// A shard file the cache failed to rewrite (left at an older generation,
/// holding as many tasks) is stale, not trusted: the board shows the claim
/// that landed since, and so do `next`'s summaries.
#[test]
fn a_stale_shard_of_the_cache_is_not_trusted() {
    let t = Team::new();
    let id = t.add("alice", "watched", |_| {});
    assert_eq!(t.summaries().len(), 1);
    let tasks = t.ws.index().dir().join("tasks");
    let stem = &id.hex()[..2];
    let saved: Vec<(PathBuf, Vec<u8>)> = ["bin", "sum"]
        .iter()
        .map(|ext| {
            let path = tasks.join(format!("{stem}.{ext}"));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, bytes)
        })
        .collect();
    t.claim("bob", id).unwrap();
    let restore = || {
        for (path, bytes) in &saved {
            std::fs::write(path, bytes).unwrap();
        }
    };
    restore();
    let summary = t.summaries().into_iter().find(|s| s.id == id).unwrap();
    assert_eq!(summary.holder.map(|(h, _)| h).as_deref(), Some("bob"), "a stale summary was read");
    restore();
    assert_eq!(t.holder(id).as_deref(), Some("bob"), "a stale shard was read");
}
