use super::*;
use crate::record::encode;
use crate::record::kinds::{ActorAdmit, Genesis, TaskCreate};
use crate::sign::Keypair;
use crate::state::Status;

fn at(n: i64) -> Hlc {
    Hlc { ms: 1_800_000_000_000 + n, counter: 0 }
}

fn task(title: &str) -> Payload {
    Payload::TaskCreate(TaskCreate {
        title: title.into(),
        body: None,
        labels: vec![],
        priority: 1,
        ..Default::default()
    })
}

#[test]
fn authorization_is_checked_in_the_fold() {
    let admin = Keypair::from_seed([1; 32]);
    let bob = Keypair::from_seed([2; 32]);
    let mallory = Keypair::from_seed([3; 32]);
    let genesis = Payload::Genesis(Genesis { workspace: "w".into(), nonce: "00".repeat(16), key: admin.public() });
    let (g, _) = encode(&Id::ZERO, "root", at(0), genesis, &admin).unwrap();
    let ws = g.id;
    let admit = |name: &str, key: &Keypair, role| {
        Payload::ActorAdmit(ActorAdmit {
            name: name.into(),
            role,
            key: key.public(),
            owner: Some("root".into()),
            proof: None,
        })
    };
    let (a1, _) = encode(&ws, "root", at(1), admit("bob", &bob, Role::Agent), &admin).unwrap();
    let (t1, _) = encode(&ws, "bob", at(2), task("ok"), &bob).unwrap();
    let (t2, _) = encode(&ws, "bob", at(3), task("wrong key"), &mallory).unwrap();
    let (t3, _) = encode(&ws, "mallory", at(4), task("stranger"), &mallory).unwrap();
    let (a2, _) = encode(&ws, "bob", at(5), admit("eve", &mallory, Role::Agent), &bob).unwrap();
    let state = State::fold(ws, [&a2, &t3, &t2, &t1, &a1, &g]);
    assert_eq!(state.tasks.len(), 1);
    assert_eq!(state.actors.len(), 2);
    let reasons: Vec<&Refusal> = state.ignored.iter().map(|i| &i.reason).collect();
    assert!(matches!(reasons[0], Refusal::WrongKey { .. }));
    assert!(matches!(reasons[1], Refusal::UnknownAuthor(n) if n == "mallory"));
    assert!(matches!(reasons[2], Refusal::NotAdmin { .. }));
    // Another workspace's genesis is refused.
    let mut other = State::new(Id([9; 32]));
    assert_eq!(other.apply(&g), Err(Refusal::Genesis));
}

/// A tiny world for board rules: a workspace with admin `root` and agents
/// `bob` and `carol`, records stamped at chosen milliseconds.
struct Board {
    ws: Id,
    keys: Vec<(&'static str, Keypair)>,
    records: Vec<Record>,
}

impl Board {
    fn new() -> Board {
        let keys = vec![
            ("root", Keypair::from_seed([1; 32])),
            ("bob", Keypair::from_seed([2; 32])),
            ("carol", Keypair::from_seed([3; 32])),
        ];
        let genesis =
            Payload::Genesis(Genesis { workspace: "w".into(), nonce: "00".repeat(16), key: keys[0].1.public() });
        let (g, _) = encode(&Id::ZERO, "root", at(0), genesis, &keys[0].1).unwrap();
        let mut b = Board { ws: g.id, keys, records: vec![g] };
        for (n, name) in ["bob", "carol"].iter().enumerate() {
            let key = b.keys[n + 1].1.public();
            let admit =
                ActorAdmit { name: (*name).into(), role: Role::Agent, key, owner: Some("root".into()), proof: None };
            b.add("root", 1 + n as i64, Payload::ActorAdmit(admit));
        }
        b
    }

    fn add(&mut self, who: &str, ms: i64, payload: Payload) -> Id {
        let key = &self.keys.iter().find(|(n, _)| *n == who).unwrap().1;
        let (r, _) = encode(&self.ws, who, at(ms), payload, key).unwrap();
        let id = r.id;
        self.records.push(r);
        id
    }

    fn state(&self) -> State {
        State::fold(self.ws, &self.records)
    }
}

fn claim(task: Id, lease: u64, offline: bool) -> Payload {
    Payload::TaskClaim(crate::record::kinds::TaskClaim { task, lease, offline })
}

#[test]
fn first_claim_wins_and_a_lease_runs_out() {
    let mut b = Board::new();
    let t = b.add("root", 10, task("t"));
    b.add("carol", 21, claim(t, 10, false));
    b.add("bob", 20, claim(t, 10, false));
    let s = b.state();
    let holder = s.tasks[&t].holder.as_ref().unwrap();
    assert_eq!(holder.actor, "bob", "the earlier claim wins, whatever the arrival order");
    assert!(matches!(&s.ignored[0].reason, Refusal::TaskHeld { holder, .. } if holder == "bob"));
    assert!(s.ignored[0].reason.is_conflict(), "a lost claim is void, not a failure");
    // Bob's lease (10 s from ms 20) is over at ms 10_021: carol's claim then counts.
    b.add("carol", 10_021, claim(t, 10, false));
    assert_eq!(b.state().tasks[&t].holder.as_ref().unwrap().actor, "carol");
}

#[test]
fn the_holders_records_renew_the_lease() {
    let mut b = Board::new();
    let t = b.add("root", 10, task("t"));
    b.add("bob", 20, claim(t, 10, false));
    let comment = Payload::TaskComment(crate::record::kinds::TaskComment { task: t, text: "on it".into() });
    b.add("bob", 8_000, comment);
    b.add("carol", 12_000, claim(t, 10, false));
    let s = b.state();
    let holder = s.tasks[&t].holder.as_ref().unwrap();
    assert_eq!((holder.actor.as_str(), holder.expires_ms), ("bob", at(8_000).ms + 10_000));
    assert_eq!(s.ignored.len(), 1, "carol's claim fell inside the renewed lease");
}

#[test]
fn an_offline_claim_is_an_ordinary_claim_in_the_fold() {
    // Whether a claim was published first is for the server and `sync` to
    // settle (a claim that would overturn a published one is re-made); the fold
    // orders claims by (at, id) alone.
    let mut b = Board::new();
    let t = b.add("root", 10, task("t"));
    b.add("carol", 20, claim(t, 600, true));
    let online = b.add("bob", 30, claim(t, 600, false));
    let s = b.state();
    assert_eq!(s.tasks[&t].holder.as_ref().unwrap().actor, "carol");
    assert!(s.ignored.iter().any(|i| i.id == online && matches!(i.reason, Refusal::TaskHeld { .. })));
}

#[test]
fn a_claim_displaces_a_holder_stopped_where_it_sorts_not_one_stopped_later() {
    let mut b = Board::new();
    let t = b.add("root", 10, task("t"));
    let held = b.add("bob", 20, claim(t, 600, false));
    b.add("root", 40, suspend("bob", Some((at(20), held))));
    // carol's claim at 30 sorts before the suspension: bob still held the task.
    let early = b.add("carol", 30, claim(t, 600, false));
    let late = b.add("carol", 50, claim(t, 600, false));
    let s = b.state();
    assert!(s.ignored.iter().any(|i| i.id == early), "bob was not stopped yet at 30");
    assert!(!s.ignored.iter().any(|i| i.id == late));
    assert_eq!(s.tasks[&t].holder.as_ref().unwrap().actor, "carol");
}

/// A record applied after records that sort later, in other files, gets the
/// verdict the whole fold gives it: the server and the cache apply a push's
/// records at the end of the state they have. The generator publishes records
/// as the branch allows (each file only grows at its end; identity and link
/// records sort after everything), with stamps that interleave across files;
/// folding everything at once and applying one record after another must agree.
mod at_the_end {
    use super::*;
    use crate::record::kinds::{
        ActorResume, ActorRevoke, ActorRotate, ActorUpdate, MsgMembership, MsgSend, TaskBlock, TaskCancel, TaskComment,
        TaskDone, TaskEdit, TaskHandoff, TaskRelease, TaskReopen, TaskUnblock,
    };
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const ACTORS: [&str; 4] = ["root", "bob", "carol", "dave"];

    struct Gen {
        rng: u64,
        ws: Id,
        clock: i64,
        /// Current key of each actor (rotations change it).
        keys: BTreeMap<&'static str, Keypair>,
        /// Largest order key of each file, and of everything.
        files: BTreeMap<String, (Hlc, Id)>,
        global: (Hlc, Id),
        /// Largest order key of each actor's records.
        last_of: BTreeMap<String, (Hlc, Id)>,
        tasks: Vec<Id>,
        receipts: Vec<Id>,
        messages: Vec<Id>,
        published: Vec<Record>,
        next_key: u8,
    }

    impl Gen {
        fn roll(&mut self, n: u64) -> u64 {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            self.rng % n.max(1)
        }

        fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
            xs[self.roll(xs.len() as u64) as usize]
        }

        /// Publish `payload` by `who`, stamped after its file's end (and after
        /// everything when `global`), otherwise up to 60 ms behind the clock.
        fn publish(&mut self, who: &'static str, payload: Payload, global: bool) -> Option<Record> {
            self.clock += self.roll(20) as i64;
            let mut at = Hlc { ms: self.clock - self.roll(60) as i64, counter: 0 };
            let key = &self.keys[who];
            // The file is known only once the record is, so place it first.
            let probe = encode(&self.ws, who, at, payload.clone(), key).ok()?;
            let path = crate::layout::path_of(&probe.0);
            let floor = if global { Some(self.global) } else { self.files.get(&path).copied() };
            if let Some((f, _)) = floor {
                if at <= f {
                    at = Hlc::next(at, f);
                }
            }
            let (r, _) = encode(&self.ws, who, at, payload, key).ok()?;
            let path = crate::layout::path_of(&r);
            let k = r.order_key();
            // A day boundary or equal stamps can still put it behind: skip it.
            if self.files.get(&path).is_some_and(|f| *f >= k) || (global && self.global >= k) {
                return None;
            }
            self.files.insert(path, k);
            self.global = self.global.max(k);
            let last = self.last_of.entry(who.to_owned()).or_insert(k);
            *last = (*last).max(k);
            self.published.push(r.clone());
            Some(r)
        }

        fn step(&mut self) {
            let who = self.pick(&ACTORS);
            let other = self.pick(&ACTORS);
            let t = if self.tasks.is_empty() { None } else { Some(self.pick(&self.tasks.clone())) };
            match (self.roll(24), t) {
                (0..=3, _) | (_, None) => {
                    let depends_on = match t {
                        Some(t) if self.roll(2) == 0 => vec![t],
                        _ => vec![],
                    };
                    let create = TaskCreate { title: "t".into(), priority: 1, depends_on, ..Default::default() };
                    if let Some(r) = self.publish(who, Payload::TaskCreate(create), false) {
                        self.tasks.push(r.id);
                    }
                }
                (4..=6, Some(t)) => {
                    let lease = [10, 20, 600][self.roll(3) as usize];
                    let offline = self.roll(2) == 0;
                    self.publish(who, claim(t, lease, offline), false);
                }
                (7, Some(t)) => {
                    self.publish(who, Payload::TaskRelease(TaskRelease { task: t, reason: None }), false);
                }
                (8, Some(t)) => {
                    let to = other.to_owned();
                    self.publish(
                        who,
                        Payload::TaskHandoff(TaskHandoff { task: t, to, note: None, lease: None }),
                        false,
                    );
                }
                (9, Some(t)) => {
                    let receipt = if self.receipts.is_empty() { None } else { Some(self.pick(&self.receipts.clone())) };
                    self.publish(who, Payload::TaskDone(TaskDone { task: t, receipt, summary: None }), false);
                }
                (10, Some(t)) => {
                    self.publish(who, Payload::TaskBlock(TaskBlock { task: t, reason: "r".into() }), false);
                }
                (11, Some(t)) => {
                    self.publish(who, Payload::TaskUnblock(TaskUnblock { task: t }), false);
                }
                (12, Some(t)) if self.roll(2) == 0 => {
                    self.publish(who, Payload::TaskComment(TaskComment { task: t, text: "c".into() }), false);
                }
                (12, Some(t)) => {
                    let receipt = crate::record::kinds::Receipt {
                        task: t,
                        class: crate::record::kinds::ReceiptClass::Note,
                        summary: Some("r".into()),
                        commits: vec![],
                        artifacts: vec![],
                    };
                    if let Some(r) = self.publish(who, Payload::Receipt(receipt), false) {
                        self.receipts.push(r.id);
                    }
                }
                (13, Some(t)) => {
                    let other_task = self.pick(&self.tasks.clone());
                    let edit = TaskEdit { task: t, depends_on: vec![other_task], ..Default::default() };
                    if other_task != t {
                        self.publish(who, Payload::TaskEdit(edit), true);
                    }
                }
                (14, _) => {
                    let channel = if self.roll(2) == 0 {
                        "general".to_owned()
                    } else {
                        let mut pair = [who, other];
                        pair.sort();
                        if pair[0] == pair[1] {
                            return;
                        }
                        format!("dm/{}+{}", pair[0], pair[1])
                    };
                    let mentions = if self.roll(2) == 0 { vec![other.to_owned()] } else { vec![] };
                    let m = MsgSend { channel, text: "hi".into(), thread: None, reply_to: None, mentions };
                    if let Some(r) = self.publish(who, Payload::MsgSend(m), false) {
                        self.messages.push(r.id);
                    }
                }
                (15, _) if self.roll(3) == 0 && !self.messages.is_empty() => {
                    // An ack of some messages (published or not: any ids).
                    let mut items: Vec<Id> = (0..1 + self.roll(3)).map(|_| self.pick(&self.messages.clone())).collect();
                    items.sort();
                    items.dedup();
                    self.publish(who, Payload::MsgAck(crate::record::kinds::MsgAck { items }), false);
                }
                (15, _) => {
                    let m = MsgMembership { channel: "general".into() };
                    let p = if self.roll(2) == 0 { Payload::MsgJoin(m) } else { Payload::MsgLeave(m) };
                    self.publish(who, p, true);
                }
                (16, _) => {
                    // The suspender has seen everything published (as the server requires).
                    let seen = self.last_of.get(other).copied();
                    self.publish("root", suspend(other, seen), true);
                }
                (17, _) => {
                    self.publish("root", Payload::ActorResume(ActorResume { name: other.into() }), true);
                }
                (18, _) => {
                    self.publish(who, Payload::ActorRevoke(ActorRevoke { name: who.into(), reason: None }), true);
                }
                (19, Some(t)) => {
                    self.publish(who, Payload::TaskCancel(TaskCancel { task: t, reason: "r".into() }), false);
                }
                (20, Some(t)) => {
                    self.publish(who, Payload::TaskReopen(TaskReopen { task: t, reason: None }), false);
                }
                (21, _) => {
                    // Roles and owners change; admins step down and come back.
                    let role = [None, Some(Role::Admin), Some(Role::Human), Some(Role::Agent)][self.roll(4) as usize];
                    let owner = if self.roll(2) == 0 { Some(self.pick(&ACTORS).to_owned()) } else { None };
                    let by = if self.roll(2) == 0 { "root" } else { who };
                    let update = ActorUpdate { name: other.into(), role, owner };
                    self.publish(by, Payload::ActorUpdate(update), true);
                }
                (22, Some(t)) => {
                    // An assignment (or a holder's handoff), with a lease.
                    let by = if self.roll(2) == 0 { "root" } else { who };
                    let handoff = TaskHandoff { task: t, to: other.to_owned(), note: None, lease: Some(60) };
                    self.publish(by, Payload::TaskHandoff(handoff), false);
                }
                _ => {
                    self.next_key += 1;
                    let fresh = Keypair::from_seed([100 + self.next_key; 32]);
                    let proof = fresh.prove(&self.ws, other);
                    let rotate = ActorRotate { name: other.into(), key: fresh.public(), proof };
                    if self.publish("root", Payload::ActorRotate(rotate), true).is_some() {
                        self.keys.insert(other, fresh);
                    }
                }
            }
        }
    }

    /// What must agree: everything but the order of lists built as records
    /// arrive, and the suspensions' windows (empty here: each saw everything).
    fn normal(mut s: State) -> State {
        s.ignored.sort_by_key(|i| i.id);
        s.unseen.clear();
        s.touched.clear();
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn applying_records_as_published_agrees_with_the_whole_fold(seed in 1u64.., steps in 20usize..160) {
            let b = Board::new();
            let mut keys = BTreeMap::new();
            for (n, name) in ["root", "bob", "carol"].into_iter().enumerate() {
                keys.insert(name, Keypair::from_seed([n as u8 + 1; 32]));
            }
            let dave = Keypair::from_seed([4; 32]);
            let admit = crate::record::kinds::ActorAdmit {
                name: "dave".into(), role: Role::Human, key: dave.public(), owner: None, proof: None,
            };
            let (d, _) = encode(&b.ws, "root", at(3), Payload::ActorAdmit(admit), &keys["root"]).unwrap();
            keys.insert("dave", dave);
            let mut prefix = b.records.clone();
            prefix.push(d);
            let mut g = Gen {
                rng: seed, ws: b.ws, clock: at(100).ms, keys, files: BTreeMap::new(), global: (at(3), Id([0xff; 32])),
                last_of: BTreeMap::new(), tasks: Vec::new(), receipts: Vec::new(), messages: Vec::new(), published: Vec::new(), next_key: 0,
            };
            for _ in 0..steps {
                g.step();
            }
            let whole = State::fold(b.ws, prefix.iter().chain(&g.published));
            let mut one_by_one = State::fold(b.ws, &prefix);
            for r in &g.published {
                let _ = one_by_one.apply(r);
            }
            prop_assert_eq!(normal(one_by_one), normal(whole));
        }
    }
}

#[test]
fn only_the_holder_hands_off_releases_and_closes() {
    use crate::record::kinds::{TaskDone, TaskHandoff, TaskRelease};
    let mut b = Board::new();
    let t = b.add("root", 10, task("t"));
    b.add("bob", 20, claim(t, 600, false));
    let handoff = |to: &str| Payload::TaskHandoff(TaskHandoff { task: t, to: to.into(), note: None, lease: None });
    b.add("carol", 30, handoff("carol"));
    b.add("carol", 31, Payload::TaskRelease(TaskRelease { task: t, reason: None }));
    b.add("bob", 40, handoff("carol"));
    let s = b.state();
    assert_eq!(s.ignored.len(), 2);
    assert!(matches!(s.ignored[0].reason, Refusal::NotPermitted(_)), "handing a task to oneself is refused first");
    assert!(matches!(s.ignored[1].reason, Refusal::NotHolder { .. }));
    let holder = s.tasks[&t].holder.as_ref().unwrap();
    assert_eq!((holder.actor.as_str(), holder.from.as_deref()), ("carol", Some("bob")));
    b.add("bob", 50, Payload::TaskDone(TaskDone { task: t, receipt: None, summary: None }));
    b.add("root", 60, Payload::TaskRelease(TaskRelease { task: t, reason: Some("reassign".into()) }));
    let s = b.state();
    assert!(s.tasks[&t].done.is_none(), "bob no longer holds it");
    assert!(s.tasks[&t].holder.is_none(), "an admin may force a release");
}

#[test]
fn an_edit_closing_a_dependency_cycle_is_void() {
    use crate::record::kinds::TaskEdit;
    let mut b = Board::new();
    let a = b.add("root", 10, task("a"));
    let dep = TaskCreate { title: "b".into(), priority: 1, depends_on: vec![a], ..Default::default() };
    let t = b.add("root", 11, Payload::TaskCreate(dep));
    b.add("bob", 12, Payload::TaskEdit(TaskEdit { task: a, depends_on: vec![t], ..Default::default() }));
    let s = b.state();
    assert!(s.tasks[&a].depends_on.is_empty());
    assert!(matches!(&s.ignored[0].reason, Refusal::DependencyCycle(c) if c.len() == 3));
    assert_eq!(s.tasks[&t].status(&s, at(13).ms), Status::Blocked { why: format!("waiting on {}", a.short()) });
}

fn suspend(name: &str, seen: Option<(Hlc, Id)>) -> Payload {
    Payload::ActorSuspend(crate::record::kinds::ActorSuspend {
        name: name.into(),
        reason: None,
        seen: seen.map(|(_, id)| id),
        seen_at: seen.map(|(at, _)| at),
    })
}

#[test]
fn a_suspension_voids_the_records_it_did_not_see_whatever_their_date() {
    let mut b = Board::new();
    let seen = b.add("bob", 10, task("seen by root"));
    let seen_at = at(10);
    // Written before the suspension's date, but root had not seen it.
    let unseen = b.add("bob", 15, task("offline, dated before"));
    b.add("root", 20, suspend("bob", Some((seen_at, seen))));
    let state = b.state();
    assert!(state.tasks.contains_key(&seen));
    assert!(!state.tasks.contains_key(&unseen), "the suspension did not include it");
    let why = state.ignored.iter().find(|i| i.id == unseen).map(|i| &i.reason);
    assert!(matches!(why, Some(Refusal::Unseen { .. })), "{why:?}");
    assert!(why.unwrap().is_conflict(), "void, not forged");
    // The same records folded in any order give the same state.
    let mut reversed = b.records.clone();
    reversed.reverse();
    assert_eq!(State::fold(b.ws, &reversed), state);
    // A suspension that names nothing seen included none of the actor's records.
    let mut none = Board::new();
    let early = none.add("bob", 10, task("never seen by root"));
    none.add("root", 20, suspend("bob", None));
    assert!(!none.state().tasks.contains_key(&early));
}

#[test]
fn an_unauthorized_suspension_voids_nothing() {
    let mut b = Board::new();
    let t = b.add("bob", 10, task("bob's"));
    b.add("carol", 20, suspend("bob", None));
    let state = b.state();
    assert!(state.tasks.contains_key(&t), "carol may not suspend bob, so her window does not count");
}

#[test]
fn a_rotation_retires_the_old_key_and_keys_are_never_shared() {
    let mut b = Board::new();
    let new = Keypair::from_seed([7; 32]);
    let proof = new.prove(&b.ws, "bob");
    let rotate = |key: &Keypair, proof| {
        Payload::ActorRotate(crate::record::kinds::ActorRotate { name: "bob".into(), key: key.public(), proof })
    };
    b.add("bob", 10, rotate(&new, proof));
    b.add("bob", 20, task("signed with the old key after the rotation"));
    b.keys.push(("bob-new", Keypair::from_seed([7; 32])));
    let (late, _) = encode(&b.ws, "bob", at(30), task("new key"), &new).unwrap();
    b.records.push(late.clone());
    let state = b.state();
    let bob = &state.actors["bob"];
    assert_eq!(bob.key, new.public());
    assert_eq!(bob.retired.len(), 1);
    assert!(state.tasks.contains_key(&late.id));
    assert!(state.ignored.iter().any(|i| matches!(i.reason, Refusal::WrongKey { .. })));
    // Carol cannot take bob's old key, and a proof for another name does not verify.
    let old_bob = Keypair::from_seed([2; 32]);
    let reuse = Payload::ActorRotate(crate::record::kinds::ActorRotate {
        name: "carol".into(),
        key: old_bob.public(),
        proof: old_bob.prove(&b.ws, "carol"),
    });
    b.add("carol", 40, reuse);
    let other = Keypair::from_seed([8; 32]);
    let wrong_name = Payload::ActorRotate(crate::record::kinds::ActorRotate {
        name: "carol".into(),
        key: other.public(),
        proof: other.prove(&b.ws, "dave"),
    });
    b.add("carol", 50, wrong_name);
    let reasons: Vec<Refusal> = b.state().ignored.iter().map(|i| i.reason.clone()).collect();
    assert!(reasons.iter().any(|r| matches!(r, Refusal::KeyInUse { actor, .. } if actor == "bob")), "{reasons:?}");
    assert!(reasons.iter().any(|r| matches!(r, Refusal::BadProof(n) if n == "carol")), "{reasons:?}");
}

#[test]
fn a_revoked_key_signs_nothing_until_an_admin_rotates_in_a_new_one() {
    let mut b = Board::new();
    b.add("root", 10, Payload::ActorRevoke(crate::record::kinds::ActorRevoke { name: "bob".into(), reason: None }));
    let void = b.add("bob", 20, task("after revocation"));
    let fresh = Keypair::from_seed([9; 32]);
    let rekey = Payload::ActorRotate(crate::record::kinds::ActorRotate {
        name: "bob".into(),
        key: fresh.public(),
        proof: fresh.prove(&b.ws, "bob"),
    });
    b.add("root", 30, rekey);
    let (back, _) = encode(&b.ws, "bob", at(40), task("with the new key"), &fresh).unwrap();
    b.records.push(back.clone());
    let state = b.state();
    assert!(!state.tasks.contains_key(&void));
    assert!(state.tasks.contains_key(&back.id));
    assert!(state.actors["bob"].revoked.is_none());
}

/// Of several void admissions of one name, the earliest decides from where a
/// reference to that name is void, whatever order they were applied in (the
/// server and the cache apply a push's records after later-sorting ones).
#[test]
fn the_earliest_void_admission_of_a_name_decides() {
    let mut b = Board::new();
    b.add("root", 5, suspend("bob", None));
    let dave = Keypair::from_seed([4; 32]).public();
    let admit = || {
        Payload::ActorAdmit(ActorAdmit {
            name: "dave".into(),
            role: Role::Agent,
            key: dave,
            owner: Some("root".into()),
            proof: None,
        })
    };
    b.add("bob", 10, admit());
    b.add("bob", 30, admit());
    let state = b.state();
    let (between, _) = encode(&b.ws, "root", at(20), suspend("dave", None), &b.keys[0].1).unwrap();
    assert_eq!(state.check(&between), Err(Refusal::VoidSubject("dave".into())));
    // Applied in reverse order, the same.
    let mut reversed = State::new(b.ws);
    let mut records = b.records.clone();
    records.sort_by_key(|r| r.order_key());
    let (head, tail) = records.split_at(records.len() - 2);
    for r in head.iter().chain(tail.iter().rev()) {
        let _ = reversed.apply(r);
    }
    assert_eq!(reversed.check(&between), Err(Refusal::VoidSubject("dave".into())));
}

/// A rotation that is void (the actor was suspended, or a suspension did not
/// see it) makes the records signed with its key void too, not forged: an
/// honest history stays verifiable, and the refusal is a conflict.
#[test]
fn records_signed_with_the_key_of_a_void_rotation_are_void() {
    let new = Keypair::from_seed([7; 32]);
    let rotate = |b: &Board| {
        let proof = new.prove(&b.ws, "bob");
        Payload::ActorRotate(crate::record::kinds::ActorRotate { name: "bob".into(), key: new.public(), proof })
    };
    // A suspension that saw nothing voids the rotation and what followed it.
    let mut b = Board::new();
    b.add("bob", 10, rotate(&b));
    let (late, _) = encode(&b.ws, "bob", at(12), task("new key"), &new).unwrap();
    b.records.push(late.clone());
    b.add("root", 20, suspend("bob", None));
    // A rotation by a suspended actor, and a record with its key.
    b.add("root", 30, suspend("carol", None));
    let carols = Keypair::from_seed([8; 32]);
    let proof = carols.prove(&b.ws, "carol");
    b.add(
        "carol",
        40,
        Payload::ActorRotate(crate::record::kinds::ActorRotate { name: "carol".into(), key: carols.public(), proof }),
    );
    let (carol_late, _) = encode(&b.ws, "carol", at(50), task("carol's new key"), &carols).unwrap();
    b.records.push(carol_late.clone());
    let state = b.state();
    for id in [late.id, carol_late.id] {
        let why = state.ignored.iter().find(|i| i.id == id).map(|i| &i.reason);
        assert!(why.is_some_and(Refusal::is_conflict), "void, not forged: {why:?}");
    }
    // A stranger's key is still a wrong key.
    let (forged, _) = encode(&b.ws, "bob", at(60), task("forged"), &Keypair::from_seed([9; 32])).unwrap();
    assert!(matches!(state.check(&forged), Err(Refusal::WrongKey { .. })), "{:?}", state.check(&forged));
}
