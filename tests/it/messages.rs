//! Messages through the real binary: direct messages, channels, threads and
//! mentions routed to exactly the right inboxes across clones of one hooked
//! bare remote; acks that travel with sync; concurrent senders that every clone
//! orders alike; `inbox --follow` and `watch` as long-running children stopped
//! by SIGTERM; every record kind in the watch stream; and the refusals, which
//! must leave the crew branch where it was.

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use git_crew::hlc::Hlc;
use git_crew::id::Id;
use git_crew::messages::{NewMessage, Reason, Target};
use git_crew::record::kinds::Channel;
use git_crew::record::Payload;
use serde_json::Value;

use crate::common::memory::Team;
use crate::common::{all_at_once, json_as, refused, served_bare, stamp, strings, tip, Daemon, Follower, Run, World};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `sync` as `actor` in `dir`.
fn sync(w: &World, dir: &Path, actor: &str) -> Value {
    json_as(w, dir, actor, &["sync"])
}

/// `msg send ARGS…` as `actor`: the record, which must be a `msg.send` by `actor`.
fn send(w: &World, dir: &Path, actor: &str, args: &[&str]) -> Value {
    let mut full = vec!["msg", "send"];
    full.extend_from_slice(args);
    let rec = json_as(w, dir, actor, &full)["record"].clone();
    assert_eq!(rec["kind"], "msg.send", "{rec}");
    assert_eq!(rec["author"], actor, "{rec}");
    assert!(rec["id"].as_str().is_some_and(|id| id.len() == 64), "{rec}");
    rec
}

/// The id of a record view, or of the record a write's envelope holds.
fn id(rec: &Value) -> String {
    rec.get("record").unwrap_or(rec)["id"].as_str().unwrap_or_else(|| panic!("no id in {rec}")).to_owned()
}

/// `actor`'s inbox in `dir` as (id, reason) pairs, oldest first. Every item is
/// a record view plus a reason, never authored by `actor`.
fn inbox(w: &World, dir: &Path, actor: &str) -> Vec<(String, String)> {
    let v = json_as(w, dir, actor, &["inbox"]);
    let items = v.as_array().unwrap_or_else(|| panic!("inbox is not an array: {v}"));
    let mut keys: Vec<(Hlc, String)> = Vec::new();
    let out = items
        .iter()
        .map(|item| {
            for k in ["id", "kind", "author", "at", "summary", "fields", "reason"] {
                assert!(item.get(k).is_some(), "inbox item of {actor} lacks {k}: {item}");
            }
            assert_ne!(item["author"], actor, "{actor}'s own record is in its inbox: {item}");
            keys.push((at(item), id(item)));
            (id(item), item["reason"].as_str().unwrap().to_owned())
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "{actor}'s inbox is not oldest first: {v}");
    out
}

/// (id, reason) pairs, for comparing inboxes.
fn items(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(i, r)| ((*i).to_owned(), (*r).to_owned())).collect()
}

/// The stamp of a record view.
fn at(rec: &Value) -> Hlc {
    stamp(rec)
}

/// Ids of a JSON array of record views, in order.
fn ids(v: &Value) -> Vec<String> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(id).collect()
}

/// A hooked bare remote, alice's clone `a` (admin, who admits bob, carol and
/// dave and publishes the workspace), and one clone per agent: `b` (bob), `c`
/// (carol), `d` (dave), each with the remote as origin and synced.
struct Four {
    remote: PathBuf,
    a: PathBuf,
    b: PathBuf,
    c: PathBuf,
    d: PathBuf,
}

impl Four {
    fn new(w: &World, url: Option<&str>) -> Four {
        let remote = served_bare(w, "remote.git");
        let url = url.map(str::to_owned).unwrap_or_else(|| remote.to_str().unwrap().to_owned());
        let (a, _) = w.workspace("a");
        for name in ["bob", "carol", "dave"] {
            w.agent(&a, name);
        }
        w.git(&a, &["remote", "add", "origin", &url]);
        assert_eq!(sync(w, &a, "alice")["pushed"], true);
        let mut clones = Vec::new();
        for (dir, actor) in [("b", "bob"), ("c", "carol"), ("d", "dave")] {
            w.git(&w.root, &["clone", "-q", &url, dir]);
            let path = w.path(dir);
            sync(w, &path, actor);
            assert_eq!(tip(w, &path), tip(w, &a));
            clones.push(path);
        }
        let [b, c, d]: [PathBuf; 3] = clones.try_into().unwrap();
        Four { remote, a, b, c, d }
    }

    /// Each clone with the actor who works there.
    fn clones(&self) -> [(&Path, &'static str); 4] {
        [(&self.a, "alice"), (&self.b, "bob"), (&self.c, "carol"), (&self.d, "dave")]
    }

    /// Sync every clone in turn, twice over, so that all end at one tip, which
    /// the remote holds too.
    fn converge(&self, w: &World) -> String {
        for _ in 0..2 {
            for (dir, actor) in self.clones() {
                sync(w, dir, actor);
            }
        }
        let t = tip(w, &self.a);
        for (dir, _) in self.clones() {
            assert_eq!(tip(w, dir), t, "{} did not converge", dir.display());
        }
        assert_eq!(w.tip(&self.remote, "crew"), Some(t.clone()));
        t
    }
}

// ---------------------------------------------------------------------------
// Routing across clones
// ---------------------------------------------------------------------------

/// A DM, a channel post with a mention, thread replies and a reply in a DM,
/// written in four clones: after sync each lands in exactly the right inboxes
/// (with the right reason), in every clone, and nowhere else.
#[test]
fn messages_reach_exactly_the_right_inboxes_across_clones() {
    let w = World::new();
    let f = Four::new(&w, None);

    // Before anyone joins: a post nobody follows yet.
    let m0 = id(&send(&w, &f.a, "alice", &["--to", "#general", "before anyone joined"]));
    sync(&w, &f.a, "alice");

    // bob and carol join #general; dave joins and leaves again.
    for (dir, actor) in [(&f.b, "bob"), (&f.c, "carol")] {
        sync(&w, dir, actor);
        let joined = json_as(&w, dir, actor, &["msg", "join", "#general"]);
        let rec = &joined["record"];
        assert_eq!(rec["kind"], "msg.join", "{rec}");
        assert_eq!(rec["fields"]["channel"], "general", "{rec}");
        sync(&w, dir, actor);
    }
    sync(&w, &f.d, "dave");
    json_as(&w, &f.d, "dave", &["msg", "join", "general"]);
    let rec = json_as(&w, &f.d, "dave", &["msg", "leave", "general"])["record"].clone();
    assert_eq!(rec["kind"], "msg.leave", "{rec}");
    sync(&w, &f.d, "dave");
    sync(&w, &f.a, "alice");

    // alice: a DM to bob, and a post in #general that mentions dave.
    let dm = send(&w, &f.a, "alice", &["--to", "bob", "hi bob"]);
    assert_eq!(dm["fields"]["channel"], "dm/alice+bob", "{dm}");
    assert!(dm["fields"].get("mentions").is_none() && dm["fields"].get("thread").is_none(), "{dm}");
    let m1 = id(&dm);
    let post = send(&w, &f.a, "alice", &["--to", "#general", "hello all, @dave please look"]);
    assert_eq!(post["fields"]["channel"], "general", "{post}");
    assert_eq!(post["fields"]["mentions"], serde_json::json!(["dave"]), "{post}");
    let m2 = id(&post);
    sync(&w, &f.a, "alice");

    // carol answers the post: same channel, thread = the post.
    sync(&w, &f.c, "carol");
    let reply = send(&w, &f.c, "carol", &["--reply-to", &m2[..10], "on it"]);
    assert_eq!(reply["fields"]["channel"], "general", "{reply}");
    assert_eq!(reply["fields"]["thread"], m2.as_str(), "{reply}");
    assert_eq!(reply["fields"]["reply_to"], m2.as_str(), "{reply}");
    let m3 = id(&reply);
    sync(&w, &f.c, "carol");

    // bob answers carol's reply (the thread is still the post) and alice's DM.
    sync(&w, &f.b, "bob");
    let reply2 = send(&w, &f.b, "bob", &["--reply-to", &m3, "me too"]);
    assert_eq!(reply2["fields"]["channel"], "general", "{reply2}");
    assert_eq!(reply2["fields"]["thread"], m2.as_str(), "{reply2}");
    assert_eq!(reply2["fields"]["reply_to"], m3.as_str(), "{reply2}");
    let m4 = id(&reply2);
    let dm_back = send(&w, &f.b, "bob", &["--reply-to", &m1, "hi alice"]);
    assert_eq!(dm_back["fields"]["channel"], "dm/alice+bob", "{dm_back}");
    assert_eq!(dm_back["fields"]["thread"], m1.as_str(), "{dm_back}");
    let m5 = id(&dm_back);
    // --thread without --reply-to: in the thread, answering nobody in particular.
    let in_thread = send(&w, &f.b, "bob", &["--thread", &m2, "thread note"]);
    assert_eq!(in_thread["fields"]["thread"], m2.as_str(), "{in_thread}");
    assert_eq!(in_thread["fields"]["channel"], "general", "{in_thread}");
    assert!(in_thread["fields"].get("reply_to").is_none(), "{in_thread}");
    let m6 = id(&in_thread);
    f.converge(&w);

    // A reply reaches the author of the message it answers (alice, who does
    // not follow #general; carol, as a mention).
    let want: [(&str, Vec<(String, String)>); 4] = [
        ("alice", items(&[(&m3, "mention"), (&m5, "direct")])),
        ("bob", items(&[(&m1, "direct"), (&m2, "channel"), (&m3, "channel")])),
        ("carol", items(&[(&m2, "channel"), (&m4, "mention"), (&m6, "channel")])),
        ("dave", items(&[(&m2, "mention")])),
    ];
    for (dir, _) in f.clones() {
        for (actor, items) in &want {
            assert_eq!(&inbox(&w, dir, actor), items, "inbox of {actor} in {}", dir.display());
        }
    }
    assert!(!inbox(&w, &f.b, "bob").iter().any(|(i, _)| *i == m0), "a post from before joining reached bob");

    // The channel, one thread of it, and the DM read the same in every clone.
    for (dir, _) in f.clones() {
        let all = json_as(&w, dir, "dave", &["msg", "list", "#general"]);
        assert_eq!(ids(&all), [&m0, &m2, &m3, &m4, &m6].map(String::clone), "#general in {}", dir.display());
        let thread = json_as(&w, dir, "dave", &["msg", "list", "#general", "--thread", &m2[..12]]);
        assert_eq!(ids(&thread), [&m2, &m3, &m4, &m6].map(String::clone), "thread in {}", dir.display());
        let dm = json_as(&w, dir, "bob", &["msg", "list", "alice"]);
        assert_eq!(ids(&dm), [&m1, &m5].map(String::clone), "bob's DM with alice in {}", dir.display());
        assert_eq!(json_as(&w, dir, "alice", &["msg", "list", "bob"]), dm);
    }
    // --since: a time at or after which only the later posts remain.
    let since = reply["at"].as_str().unwrap();
    let later = json_as(&w, &f.a, "alice", &["msg", "list", "#general", "--since", since]);
    assert_eq!(ids(&later), [&m3, &m4, &m6].map(String::clone));
    assert_eq!(w.crew_json(&f.a, &["verify"])["ok"], true);
}

/// An ack marks read exactly the items its invocation showed (all of them, or
/// those up to an id) and travels with sync: every clone reads bob's inbox
/// the same way. A message written before an ack but published after it is
/// still unread: it was never shown. Acking nothing writes nothing, and
/// concurrent acks from two clones both count.
#[test]
fn acks_mark_exactly_what_was_shown_across_clones() {
    let w = World::new();
    let f = Four::new(&w, None);
    let m1 = id(&send(&w, &f.a, "alice", &["--to", "bob", "one"]));
    let m2 = id(&send(&w, &f.a, "alice", &["--to", "bob", "two"]));
    let m3 = id(&send(&w, &f.a, "alice", &["--to", "bob", "three @bob"]));
    sync(&w, &f.a, "alice");
    sync(&w, &f.b, "bob");
    assert_eq!(inbox(&w, &f.b, "bob"), items(&[(&m1, "direct"), (&m2, "direct"), (&m3, "mention")]));

    // Ack up to the second item, by prefix: exactly those two, listed.
    let out = json_as(&w, &f.b, "bob", &["inbox", "--ack", &m2[..8]]);
    let ack = &out["record"];
    assert_eq!(ack["kind"], "msg.ack", "{out}");
    assert_eq!(ack["author"], "bob", "{out}");
    let mut want = vec![m1.clone(), m2.clone()];
    want.sort();
    assert_eq!(ack["fields"]["items"], serde_json::json!(want), "{out}");
    assert_eq!(out["items"].as_array().unwrap().len(), 3, "the invocation shows all it knows: {out}");
    assert_eq!(inbox(&w, &f.b, "bob"), items(&[(&m3, "mention")]));
    sync(&w, &f.b, "bob");
    sync(&w, &f.a, "alice");
    assert_eq!(inbox(&w, &f.a, "bob"), items(&[(&m3, "mention")]), "the partial ack did not travel");

    // An id that is not an unread item is refused.
    refused(&w, &f.b, "bob", &["inbox", "--ack", &m1], 1, "");

    // dave writes to bob on his own clone, offline; bob acks all he is shown
    // meanwhile; dave's message, dated before the ack, arrives after it and
    // is unread: nobody showed it to bob.
    let late = id(&send(&w, &f.d, "dave", &["--offline", "--to", "bob", "written before the ack"]));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = json_as(&w, &f.b, "bob", &["inbox", "--ack"]);
    assert_eq!(out["record"]["fields"]["items"], serde_json::json!([m3]), "{out}");
    assert_eq!(inbox(&w, &f.b, "bob"), items(&[]));
    let before = tip(&w, &f.b);
    assert_eq!(json_as(&w, &f.b, "bob", &["inbox", "--ack"])["record"], serde_json::Value::Null);
    assert_eq!(json_as(&w, &f.b, "bob", &["inbox", "--all"])["record"], serde_json::Value::Null);
    assert_eq!(tip(&w, &f.b), before, "acking nothing wrote a record");
    f.converge(&w);
    for (dir, _) in f.clones() {
        assert_eq!(inbox(&w, dir, "bob"), items(&[(&late, "direct")]), "in {}", dir.display());
    }

    // bob acks it in two clones at once (two different ack records): both count.
    let a1 = json_as(&w, &f.a, "bob", &["inbox", "--all"]);
    let a2 = json_as(&w, &f.b, "bob", &["inbox", "--all"]);
    assert_ne!(a1["record"]["id"], a2["record"]["id"]);
    f.converge(&w);
    for (dir, _) in f.clones() {
        assert_eq!(inbox(&w, dir, "bob"), items(&[]), "in {}", dir.display());
    }
    assert_eq!(w.crew_json(&f.a, &["verify"])["ok"], true);
}

/// Messages sent at the same moment from three clones, twice over, all
/// arrive through `git daemon`, and every clone lists #general in one order:
/// oldest first by (stamp, id).
#[test]
fn concurrent_messages_from_different_clones_all_arrive_in_one_order() {
    let w = World::new();
    let daemon = Daemon::start(&w);
    let f = Four::new(&w, Some(&daemon.url("remote.git")));
    let senders = [(&f.b, "bob"), (&f.c, "carol"), (&f.d, "dave")];
    let mut sent = HashSet::new();
    for round in 0..2 {
        let jobs: Vec<(PathBuf, Vec<String>)> = senders
            .iter()
            .map(|(dir, actor)| {
                let text = format!("round {round} from {actor}");
                (dir.to_path_buf(), strings(&["--json", "--as", actor, "msg", "send", "--to", "#general", &text]))
            })
            .collect();
        for (run, (_, actor)) in all_at_once(&w, &jobs).iter().zip(&senders) {
            assert_eq!(run.code, 0, "{actor}: send failed: {run:?}");
            assert!(sent.insert(id(&run.json())));
        }
        let jobs: Vec<(PathBuf, Vec<String>)> = senders
            .iter()
            .map(|(dir, actor)| (dir.to_path_buf(), strings(&["--json", "--as", actor, "sync"])))
            .collect();
        for (run, (_, actor)) in all_at_once(&w, &jobs).iter().zip(&senders) {
            assert_eq!(run.code, 0, "{actor}: sync failed: {run:?}\ndaemon log:\n{}", daemon.log_text());
        }
        f.converge(&w);
    }
    let lists: Vec<Value> =
        f.clones().iter().map(|(dir, actor)| json_as(&w, dir, actor, &["msg", "list", "#general"])).collect();
    let first = &lists[0];
    assert_eq!(first.as_array().unwrap().len(), 6, "{first}");
    assert_eq!(ids(first).into_iter().collect::<HashSet<_>>(), sent);
    let keys: Vec<(Hlc, String)> = first.as_array().unwrap().iter().map(|r| (at(r), id(r))).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "#general is not oldest first: {first}");
    for (list, (dir, _)) in lists.iter().zip(f.clones()) {
        assert_eq!(list, first, "{} lists #general differently", dir.display());
    }
    assert_eq!(w.crew_json(&f.remote, &["verify"])["ok"], true);
}

// ---------------------------------------------------------------------------
// Following
// ---------------------------------------------------------------------------

/// `inbox --follow --json` prints each new item once, as one JSON line: one
/// written in its own clone at once, one from another clone within 2 s of
/// that clone's sync (it syncs every second); it publishes what it holds, and
/// exits 0 on SIGTERM.
#[test]
fn inbox_follow_prints_new_items_and_stops_on_sigterm() {
    let w = World::new();
    let f = Four::new(&w, None);
    let mut follow = Follower::spawn(&w, &f.b, &["--json", "--as", "bob", "inbox", "--follow", "--interval", "1s"]);
    std::thread::sleep(Duration::from_millis(300));

    // Local: carol writes a DM to bob in bob's own clone.
    let local = id(&send(&w, &f.b, "carol", &["--to", "bob", "local hello"]));
    let written = Instant::now();
    let line = follow.next(Duration::from_secs(2));
    assert!(written.elapsed() < Duration::from_secs(2));
    assert_eq!(line["id"], local.as_str(), "{line}");
    assert_eq!(line["reason"], "direct", "{line}");
    assert_eq!(line["kind"], "msg.send", "{line}");
    assert_eq!(line["fields"]["text"], "local hello", "{line}");

    // Remote: alice posts where bob is not, and DMs bob; only the DM shows.
    send(&w, &f.a, "alice", &["--to", "#random", "not for bob"]);
    let remote = id(&send(&w, &f.a, "alice", &["--to", "bob", "from afar"]));
    sync(&w, &f.a, "alice");
    let synced = Instant::now();
    let line = follow.next(Duration::from_secs(2));
    assert!(synced.elapsed() <= Duration::from_secs(2), "took {:?}", synced.elapsed());
    assert_eq!(line["id"], remote.as_str(), "{line}");
    assert_eq!(line["reason"], "direct", "{line}");
    assert_eq!(line["author"], "alice", "{line}");
    follow.quiet(Duration::from_millis(400));

    let (code, stderr) = follow.terminate();
    assert_eq!(code, 0, "inbox --follow on SIGTERM: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Its syncs also published carol's DM written in bob's clone.
    sync(&w, &f.a, "alice");
    let dm = json_as(&w, &f.a, "carol", &["msg", "list", "bob"]);
    assert_eq!(ids(&dm), [local], "{dm}");
}

/// A watcher's next record line, skipping its `audit.*` lines (unfiltered
/// watchers also print audit flags: here, the deaf agents).
fn next_record(f: &mut Follower, within: Duration) -> Value {
    loop {
        let line = f.next(within);
        if !line["kind"].as_str().is_some_and(|k| k.starts_with("audit.")) {
            return line;
        }
    }
}

/// Every kind the CLI writes, in one workspace: `watch --since <root commit>
/// --no-follow` prints one parseable line per record after the root commit
/// (everything but the genesis), `watch --since <time>` from the genesis's
/// stamp prints all of them, and together they cover `record::KINDS`. A
/// following `watch` prints records written after it started (filtered by
/// kind and author when asked) and exits 0 on SIGTERM.
#[test]
fn watch_covers_every_kind_and_follows_new_records() {
    let w = World::new();
    let (dir, _) = w.workspace("k");
    w.agent(&dir, "bob");
    w.agent(&dir, "carol");
    let t1 = id(&json_as(&w, &dir, "alice", &["task", "add", "first"]));
    json_as(&w, &dir, "alice", &["task", "edit", &t1, "--priority", "1"]);
    json_as(&w, &dir, "bob", &["task", "claim", &t1]);
    json_as(&w, &dir, "bob", &["task", "comment", &t1, "looking"]);
    json_as(&w, &dir, "bob", &["task", "block", &t1, "--reason", "waiting"]);
    json_as(&w, &dir, "bob", &["task", "unblock", &t1]);
    json_as(&w, &dir, "bob", &["task", "handoff", &t1, "--to", "carol", "--note", "yours"]);
    let receipt =
        id(&json_as(&w, &dir, "carol", &["receipt", "add", "--task", &t1, "--kind", "test", "--summary", "ok"]));
    json_as(&w, &dir, "carol", &["task", "done", &t1, "--receipt", &receipt, "--summary", "fixed"]);
    let t2 = id(&json_as(&w, &dir, "alice", &["task", "add", "second"]));
    json_as(&w, &dir, "bob", &["task", "claim", &t2]);
    json_as(&w, &dir, "bob", &["task", "release", &t2, "--reason", "later"]);
    json_as(&w, &dir, "alice", &["task", "cancel", &t2, "--reason", "not now"]);
    json_as(&w, &dir, "alice", &["task", "reopen", &t2]);
    json_as(&w, &dir, "alice", &["id", "update", "carol", "--role", "agent", "--owner", "alice"]);
    // Fleet control: a policy, a usage report, and a supervisor's step (bob
    // holds t2 with no live session past the policy's dead_after).
    json_as(&w, &dir, "alice", &["policy", "set", "--dead-after", "1s", "--grant", "alice=release"]);
    json_as(&w, &dir, "bob", &["usage", "--task", &t2, "--tokens", "5"]);
    json_as(&w, &dir, "bob", &["task", "claim", &t2]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    w.crew_ok(&dir, &["--as", "alice", "supervise", "--once"]);
    let reserved = id(&json_as(&w, &dir, "carol", &["reserve", "src", "--lease", "1h"]));
    json_as(&w, &dir, "carol", &["unreserve", &reserved]);
    json_as(&w, &dir, "bob", &["msg", "join", "#general"]);
    send(&w, &dir, "alice", &["--to", "#general", "hi @carol"]);
    json_as(&w, &dir, "bob", &["msg", "leave", "#general"]);
    let ack = json_as(&w, &dir, "carol", &["inbox", "--ack"]);
    assert_eq!(ack["record"]["kind"], "msg.ack", "{ack}");
    json_as(&w, &dir, "alice", &["suspend", "bob", "--reason", "kill switch drill"]);
    json_as(&w, &dir, "alice", &["resume", "bob"]);
    w.agent(&dir, "dave");
    json_as(&w, &dir, "dave", &["id", "rotate"]);
    json_as(&w, &dir, "alice", &["id", "revoke", "dave", "--reason", "leaked"]);

    let log = w.crew_json(&dir, &["log"]);
    let log_ids: HashSet<String> = ids(&log).into_iter().collect();
    let genesis = log.as_array().unwrap().iter().find(|r| r["kind"] == "crew.genesis").unwrap().clone();
    // Heartbeats live on refs, never on the branch; a repair record needs a
    // rewritten remote (see `hostile`), so this workspace writes every other kind.
    let all_kinds: BTreeSet<String> = git_crew::record::KINDS
        .iter()
        .filter(|k| !matches!(**k, "live.beat" | "crew.repair"))
        .map(|k| (*k).to_owned())
        .collect();

    let parse = |run: &Run| -> Vec<Value> {
        run.stdout
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("watch line is not JSON ({e}): {l}"));
                let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
                assert_eq!(
                    keys,
                    BTreeSet::from(["id", "kind", "author", "at", "counter", "subject", "summary"]),
                    "{v}"
                );
                v
            })
            .collect()
    };
    let check_order = |lines: &[Value]| {
        let keys: Vec<(Hlc, String)> = lines.iter().map(|r| (at(r), id(r))).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "watch is not in fold order");
    };

    let root = w.git(&dir, &["rev-list", "--max-parents=0", "crew"]).trim().to_owned();
    let run = w.crew(&dir, &["--json", "watch", "--since", &root, "--no-follow"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines = parse(&run);
    check_order(&lines);
    let seen: HashSet<String> = lines.iter().map(id).collect();
    assert_eq!(seen.len(), lines.len(), "a record printed twice");
    let mut want = log_ids.clone();
    want.remove(&id(&genesis));
    assert_eq!(seen, want, "watch --since <root> is not every record after the root commit");
    let kinds: BTreeSet<String> = lines.iter().map(|l| l["kind"].as_str().unwrap().to_owned()).collect();
    let mut want_kinds = all_kinds.clone();
    want_kinds.remove("crew.genesis");
    assert_eq!(kinds, want_kinds);

    // From the genesis's own stamp ("at or after"): every record, every kind.
    let run = w.crew(&dir, &["--json", "watch", "--since", genesis["at"].as_str().unwrap(), "--no-follow"]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines = parse(&run);
    check_order(&lines);
    assert_eq!(lines.iter().map(id).collect::<HashSet<_>>(), log_ids);
    let kinds: BTreeSet<String> = lines.iter().map(|l| l["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, all_kinds, "the workspace does not exercise every kind");
    // Filters apply to the backlog too.
    let run = w.crew(&dir, &["--json", "watch", "--since", &root, "--no-follow", "--kind", "msg.", "--author", "bob"]);
    let kinds: Vec<String> = parse(&run).iter().map(|l| l["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["msg.join", "msg.leave"]);

    // Following: one unfiltered watcher and one that keeps only bob's
    // messages, both from the current tip.
    let now = tip(&w, &dir);
    let mut all = Follower::spawn(&w, &dir, &["--json", "watch", "--since", &now]);
    let mut msgs =
        Follower::spawn(&w, &dir, &["--json", "watch", "--since", &now, "--kind", "msg.", "--author", "bob"]);
    std::thread::sleep(Duration::from_millis(200));
    let t3 = id(&json_as(&w, &dir, "bob", &["task", "add", "third"]));
    let m = id(&send(&w, &dir, "bob", &["--to", "carol", "watch this"]));
    let line = next_record(&mut all, Duration::from_secs(3));
    assert_eq!((line["id"].as_str(), line["kind"].as_str()), (Some(t3.as_str()), Some("task.create")), "{line}");
    assert_eq!(line["subject"], t3.as_str(), "{line}");
    let line = next_record(&mut all, Duration::from_secs(3));
    assert_eq!(line["id"], m.as_str(), "{line}");
    assert_eq!(line["subject"], "dm/bob+carol", "{line}");
    let line = msgs.next(Duration::from_secs(3));
    assert_eq!(line["id"], m.as_str(), "{line}");

    // Without --since it starts at the tip it first sees: nothing from before
    // it started, then each record as it comes. (When it is ready is not
    // observable, so write until the first line shows.)
    let mut fresh = Follower::spawn(&w, &dir, &["--json", "watch"]);
    let before: HashSet<String> = ids(&w.crew_json(&dir, &["log"])).into_iter().collect();
    let mut written = Vec::new();
    let first = loop {
        written.push(id(&json_as(&w, &dir, "carol", &["msg", "send", "--to", "#ops", "tick"])));
        let line = fresh.try_next(Duration::from_millis(700));
        if let Some(line) = line.filter(|l| !l["kind"].as_str().is_some_and(|k| k.starts_with("audit."))) {
            break line;
        }
        assert!(written.len() < 8, "watch printed none of {written:?}");
    };
    assert!(!before.contains(&id(&first)), "watch without --since printed an old record: {first}");
    assert!(written.contains(&id(&first)), "{first}");
    let mut rest: Vec<String> = written.iter().skip_while(|i| **i != id(&first)).skip(1).cloned().collect();
    rest.push(id(&json_as(&w, &dir, "bob", &["task", "add", "fourth"])));
    for want in &rest {
        assert_eq!(next_record(&mut fresh, Duration::from_secs(3))["id"], want.as_str());
    }

    // The first watcher printed all of those too, in order.
    let fourth = rest.last().unwrap();
    for want in written.iter().chain([fourth]) {
        assert_eq!(next_record(&mut all, Duration::from_secs(3))["id"], want.as_str());
    }
    all.quiet(Duration::from_millis(10));
    msgs.quiet(Duration::from_millis(10));
    fresh.quiet(Duration::from_millis(300));
    for f in [all, msgs, fresh] {
        let (code, stderr) = f.terminate();
        assert_eq!(code, 0, "watch on SIGTERM: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

// ---------------------------------------------------------------------------
// Refusals, tasks and handoffs
// ---------------------------------------------------------------------------

/// Unknown recipients and mentions, oversized text, answers to unknown
/// messages, bad channels: exit 1, nothing written. Text comes from the
/// argument, --file or stdin, up to 8000 characters.
#[test]
fn bad_messages_are_refused_and_write_nothing() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    w.agent(&dir, "bob");
    let first = id(&send(&w, &dir, "alice", &["--to", "#general", "first"]));

    refused(&w, &dir, "alice", &["msg", "send", "--to", "nobody", "hi"], 1, "nobody");
    refused(&w, &dir, "alice", &["msg", "send", "--to", "bob", "hi @nobody"], 1, "@nobody");
    refused(&w, &dir, "alice", &["msg", "send", "--to", "#general", "cc @bob and @ghost"], 1, "@ghost");
    refused(&w, &dir, "alice", &["msg", "send", "--to", "alice", "me, myself"], 1, "");
    refused(&w, &dir, "alice", &["msg", "send", "no target"], 1, "");
    refused(&w, &dir, "alice", &["msg", "send", "--to", "#Bad Name", "hi"], 1, "");
    refused(&w, &dir, "alice", &["msg", "send", "--to", "#general", "   "], 1, "");
    let long = "x".repeat(8001);
    refused(&w, &dir, "alice", &["msg", "send", "--to", "bob", &long], 1, "8000");
    refused(&w, &dir, "alice", &["msg", "send", "--reply-to", "deadbeef", "hi"], 1, "deadbeef");
    refused(&w, &dir, "alice", &["msg", "send", "--thread", "deadbeef", "--to", "#general", "hi"], 1, "deadbeef");
    // An answer goes where the message answered is, not elsewhere.
    refused(&w, &dir, "alice", &["msg", "send", "--reply-to", &first, "--to", "bob", "hi"], 1, "");
    refused(&w, &dir, "alice", &["msg", "send", "--task", "deadbeef", "hi"], 1, "");
    for bad in ["dm/x", "dm/alice+bob", "task/deadbeef", "#Not OK", ""] {
        refused(&w, &dir, "bob", &["msg", "join", bad], 1, "");
    }
    refused(&w, &dir, "bob", &["msg", "leave", "dm/alice+bob"], 1, "");
    refused(&w, &dir, "bob", &["msg", "list", "#Bad Name"], 1, "");
    refused(&w, &dir, "nobody", &["inbox"], 1, "");

    // The longest text, from --file; and from stdin.
    let max = "y".repeat(8000);
    std::fs::write(w.path("long.txt"), &max).unwrap();
    let rec = send(&w, &dir, "alice", &["--to", "bob", "--file", w.path("long.txt").to_str().unwrap()]);
    assert_eq!(rec["fields"]["text"].as_str().map(str::len), Some(8000));
    let mut child = w
        .crew_cmd(&dir, &["--json", "--as", "bob", "msg", "send", "--to", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"from stdin").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rec = &out["record"];
    assert_eq!(rec["fields"]["channel"], "dm/alice+bob", "{rec}");
    assert!(rec["fields"]["text"].as_str().is_some_and(|t| t.starts_with("from stdin")), "{rec}");
    assert_eq!(w.crew_json(&dir, &["verify"])["ok"], true);
}

/// Finding one's way: `msg channels` lists named channels and my direct
/// conversations; `msg join` shows the channel's recent backlog; `msg list
/// --thread ID` needs no channel; a reply reaches the author of the message
/// it answers, even one who does not follow the channel.
#[test]
fn channels_backlog_threads_and_replies_reach_their_author() {
    let w = World::new();
    let (dir, _) = w.workspace("t");
    w.agent(&dir, "bob");
    let mut posted = Vec::new();
    for n in 0..12 {
        posted.push(id(&send(&w, &dir, "alice", &["--to", "#general", &format!("news {n}")])));
    }
    send(&w, &dir, "alice", &["--to", "bob", "a direct word"]);
    let joined = json_as(&w, &dir, "bob", &["msg", "join", "#general"]);
    assert_eq!(joined["record"]["kind"], "msg.join", "{joined}");
    assert_eq!(ids(&joined["backlog"]), posted[2..].to_vec(), "the last ten, oldest first");

    let channels = json_as(&w, &dir, "bob", &["msg", "channels"]);
    let listed: Vec<(String, bool, bool)> = channels
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["direct"] == true, c["joined"] == true))
        .collect();
    assert_eq!(listed, [("dm/alice+bob".into(), true, true), ("general".into(), false, true)], "{channels}");
    assert_eq!(channels[1]["messages"], 12, "{channels}");
    assert_eq!(channels[1]["members"], serde_json::json!(["bob"]), "{channels}");

    // alice does not follow #general: bob's reply reaches her anyway.
    let first = &posted[0];
    let reply = id(&send(&w, &dir, "bob", &["--reply-to", &first[..8], "about that"]));
    assert_eq!(inbox(&w, &dir, "alice"), items(&[(&reply, "mention")]));
    let thread = json_as(&w, &dir, "bob", &["msg", "list", "--thread", &first[..8]]);
    assert_eq!(ids(&thread), vec![first.clone(), reply]);
}

// ---------------------------------------------------------------------------
// The inbox's rules, in memory (no git, no process)
// ---------------------------------------------------------------------------

/// `actor`'s inbox as (id, reason) pairs, oldest first.
fn inbox_of(t: &Team, actor: &str) -> Vec<(Id, Reason)> {
    t.ws.inbox(actor).unwrap().1.into_iter().map(|i| (i.record.id, i.reason)).collect()
}

/// A message on task `task` by `actor`: its id.
fn on_task(t: &Team, actor: &str, task: Id, text: &str) -> Id {
    let msg = NewMessage { to: Some(Target::Task(task)), text: text.into(), reply_to: None, thread: None };
    t.ws.send(actor, msg).unwrap().id
}

/// A message on a task reaches its holder (reason "task"), not others; a
/// handoff reaches the receiver (reason "handoff"), who then also gets the
/// task's messages while the old holder stops getting them.
#[test]
fn task_messages_reach_the_holder_and_handoffs_the_receiver() {
    let t = Team::new();
    let task = t.add("alice", "the task", |_| {});
    t.claim("bob", task).unwrap();

    let m1 = on_task(&t, "alice", task, "how is it going?");
    let rec = t.ws.find_message(&m1.hex()).unwrap();
    let Payload::MsgSend(sent) = &rec.payload else { panic!("not a message: {rec:?}") };
    assert_eq!(sent.channel, format!("task/{}", task.hex()));
    assert_eq!(inbox_of(&t, "bob"), [(m1, Reason::Task)]);
    assert_eq!(inbox_of(&t, "carol"), []);
    let listed = t.ws.messages(&Channel::Task(task), None, None).unwrap();
    assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), [m1]);

    let h = t.ws.handoff("bob", task, "carol", Some("over to you".into())).unwrap().id;
    assert_eq!(inbox_of(&t, "carol"), [(m1, Reason::Task), (h, Reason::Handoff)]);

    let m2 = on_task(&t, "alice", task, "thanks both");
    assert_eq!(inbox_of(&t, "carol"), [(m1, Reason::Task), (h, Reason::Handoff), (m2, Reason::Task)]);
    assert_eq!(inbox_of(&t, "bob"), [], "bob no longer holds the task");
    assert_eq!(inbox_of(&t, "alice"), []);
    // Acking exactly what was shown up to the handoff leaves what came after.
    t.ws.ack("carol", &[m1, h]).unwrap();
    assert_eq!(inbox_of(&t, "carol"), [(m2, Reason::Task)]);
    t.ws.ack("carol", &[m2]).unwrap();
    assert_eq!(inbox_of(&t, "carol"), []);
    assert!(t.ws.ack("carol", &[]).unwrap().is_none(), "an empty ack writes nothing");
}

/// A message on a task that also mentions its holder reaches the holder once
/// (as a mention), and once acked it stays read: the discussion pass does not
/// bring it back as a "task" item.
#[test]
fn an_acked_mention_in_a_held_tasks_discussion_stays_read() {
    let t = Team::new();
    let task = t.add("alice", "the task", |_| {});
    t.claim("bob", task).unwrap();
    let m = on_task(&t, "alice", task, "@bob how is it going?");
    assert_eq!(inbox_of(&t, "bob"), [(m, Reason::Mention)]);
    t.ws.ack("bob", &[m]).unwrap();
    assert_eq!(inbox_of(&t, "bob"), []);
    let later = on_task(&t, "alice", task, "and now?");
    assert_eq!(inbox_of(&t, "bob"), [(later, Reason::Task)]);
}

/// Leaving a channel one is not in is refused and writes nothing; joining
/// and leaving then count once each.
#[test]
fn leaving_a_channel_one_is_not_in_writes_nothing() {
    let t = Team::new();
    t.refused(|ws| ws.membership("bob", "general", false), "bob is not a member of #general");
    t.ws.membership("bob", "general", true).unwrap();
    t.ws.membership("bob", "general", false).unwrap();
    t.refused(|ws| ws.membership("bob", "#general", false), "not a member");
    let state = t.ws.snapshot().unwrap().state;
    assert_eq!(state.channels["general"].members().count(), 0);
}
