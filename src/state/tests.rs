use super::*;
use crate::record::encode;
use crate::record::kinds::{ActorAdmit, Genesis, TaskCreate};
use crate::sign::Keypair;

fn at(n: i64) -> Hlc {
    Hlc { ms: 1_800_000_000_000 + n, counter: 0 }
}

fn task(title: &str) -> Payload {
    Payload::TaskCreate(TaskCreate { title: title.into(), body: None, labels: vec![], priority: 1 })
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
        Payload::ActorAdmit(ActorAdmit { name: name.into(), role, key: key.public(), owner: Some("root".into()) })
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
