//! The supervisor's plan, in memory: what each flag of the policy leads to,
//! with and without the powers the policy grants, and what the steps already
//! taken (on the branch) change. The same plan drives `git crew supervise`,
//! whose real-process tests are in `supervise.rs`.

use git_crew::hlc::Hlc;
use git_crew::index::Need;
use git_crew::liveness::{Liveness, Session};
use git_crew::record::kinds::{CrewPolicy, Grant, Power, Role, StepFlag, StepKind, TaskUsage};
use git_crew::state::State;
use git_crew::supervise::{plan, Escalation};
use git_crew::tasks::{ClaimMode, ClaimTarget};

use crate::common::memory::Team;

/// The team with `sup`, an agent owned by alice, and the policy `policy`.
fn team(policy: CrewPolicy) -> Team {
    let t = Team::new();
    t.ws.admit_new("alice", "sup", Role::Agent, Some("alice")).unwrap();
    t.ws.set_policy("alice", policy).unwrap();
    t
}

fn grant(powers: &[Power]) -> Vec<Grant> {
    vec![Grant { actor: "sup".into(), powers: powers.to_vec() }]
}

fn state(t: &Team) -> State {
    t.ws.snapshot_for(&Need::All).unwrap().state
}

/// A session of `actor` that beat at `beat_ms`, alive for `ttl` seconds.
fn session(actor: &str, name: &str, beat_ms: i64, ttl: u64, listening: bool) -> Session {
    Session {
        actor: actor.into(),
        session: name.into(),
        host: "h".into(),
        pid: 1,
        started: Hlc { ms: beat_ms, counter: 0 },
        beat: Hlc { ms: beat_ms, counter: 0 },
        ttl,
        listening,
        ended: false,
    }
}

fn live(sessions: Vec<Session>) -> Liveness {
    Liveness { sessions, invalid: Vec::new() }
}

/// The steps for bob, as (flag, step).
fn bobs(steps: &[Escalation]) -> Vec<(StepFlag, StepKind)> {
    steps.iter().filter(|e| e.actor == "bob").map(|e| (e.flag, e.step)).collect()
}

/// Take `steps`, planned with `live` at `now`: each is planned again on the
/// state it is written on.
fn take(t: &Team, steps: &[Escalation], live: &Liveness, now: i64) {
    for e in steps {
        t.ws.escalate("sup", e, live, now, None).unwrap().expect("the step still stands");
    }
}

#[test]
fn a_stalled_holder_is_nudged_once_then_its_task_is_requeued() {
    // Real time, a second apart: the nudge is dated when it is written.
    let t = team(CrewPolicy { stalled_after: Some(1), grants: grant(&[Power::Release]), ..CrewPolicy::default() });
    let task = t.add("alice", "Stalls", |_| {});
    t.claim("bob", task).unwrap();
    let alive = || {
        let now = Hlc::now().ms;
        (live(vec![session("bob", "loop", now, 90, true)]), now)
    };
    let (sessions, now) = alive();
    assert_eq!(bobs(&plan(&state(&t), &sessions, "sup", now)), [], "not yet stalled");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (sessions, now) = alive();
    let nudge = plan(&state(&t), &sessions, "sup", now);
    assert_eq!(bobs(&nudge), [(StepFlag::Stalled, StepKind::Nudge)]);
    assert_eq!(nudge[0].tell, ["bob"]);
    take(&t, &nudge, &sessions, now);
    // Nudged: neither a second nudge nor a requeue until as long again.
    let (sessions, now) = alive();
    assert_eq!(bobs(&plan(&state(&t), &sessions, "sup", now)), []);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (sessions, later) = alive();
    let requeue = plan(&state(&t), &sessions, "sup", later);
    assert_eq!(bobs(&requeue), [(StepFlag::Stalled, StepKind::Requeue)]);
    assert_eq!(requeue[0].channel.as_deref(), Some("general"));
    take(&t, &requeue, &sessions, later);
    assert_eq!(t.holder(task), None, "the task is back in the ready queue");
    t.verified();
}

#[test]
fn a_record_on_the_task_is_work_and_resets_the_stall() {
    let t = team(CrewPolicy { stalled_after: Some(60), grants: grant(&[Power::Release]), ..CrewPolicy::default() });
    let task = t.add("alice", "Works", |_| {});
    t.claim("bob", task).unwrap();
    let at = Hlc::now().ms + 61_000;
    let sessions = live(vec![session("bob", "loop", at, 90, true)]);
    take(&t, &plan(&state(&t), &sessions, "sup", at), &sessions, at);
    t.ws.comment("bob", task, "still on it".into()).unwrap();
    // Renewing the claim is not work; the comment is.
    t.claim("bob", task).unwrap();
    let at = Hlc::now().ms + 30_000;
    assert_eq!(bobs(&plan(&state(&t), &live(vec![session("bob", "loop", at, 90, true)]), "sup", at)), []);
}

#[test]
fn a_dead_holder_is_requeued_and_without_the_power_its_owner_is_told_once() {
    // Granted suspend but not release: a dead holder is the owner's to hear of.
    let t = team(CrewPolicy { dead_after: Some(30), grants: grant(&[Power::Suspend]), ..CrewPolicy::default() });
    let task = t.add("alice", "Orphan", |_| {});
    t.claim("bob", task).unwrap();
    let at = Hlc::now().ms + 40_000;
    // bob's last session ran out 35 s before `at`.
    let gone = live(vec![session("bob", "loop", at - 65_000, 30, true)]);
    let steps = plan(&state(&t), &gone, "sup", at);
    assert_eq!(bobs(&steps), [(StepFlag::DeadHolder, StepKind::Notify)], "no release power: tell the owner");
    assert_eq!(steps[0].tell, ["alice"]);
    assert!(steps[0].why.contains("may not release"), "{}", steps[0].why);
    take(&t, &steps, &gone, at);
    assert_eq!(bobs(&plan(&state(&t), &gone, "sup", at)), [], "told once an hour, not every round");
    assert_eq!(t.holder(task).as_deref(), Some("bob"));
    // Granted release, the same flag requeues at once.
    t.ws.set_policy(
        "alice",
        CrewPolicy { dead_after: Some(30), grants: grant(&[Power::Release]), ..Default::default() },
    )
    .unwrap();
    let steps = plan(&state(&t), &gone, "sup", at);
    assert_eq!(bobs(&steps), [(StepFlag::DeadHolder, StepKind::Requeue)]);
    take(&t, &steps, &gone, at);
    assert_eq!(t.holder(task), None);
    t.verified();
}

#[test]
fn over_budget_and_runaway_agents_are_suspended_humans_and_supervisors_never() {
    let policy = CrewPolicy {
        tokens: Some(1000),
        runaway_per_minute: Some(5),
        grants: grant(&[Power::Release, Power::Suspend]),
        ..CrewPolicy::default()
    };
    let t = team(policy);
    let task = t.add("alice", "Costly", |_| {});
    t.claim("bob", task).unwrap();
    t.ws.report_usage("bob", TaskUsage { task, tokens: Some(1500), cost: None, seconds: None }).unwrap();
    let now = Hlc::now().ms;
    let steps = plan(&state(&t), &live(vec![session("bob", "loop", now, 90, true)]), "sup", now);
    assert_eq!(bobs(&steps), [(StepFlag::OverBudget, StepKind::Suspend)]);
    assert!(steps[0].why.contains("1500 tokens (budget 1000)"), "{}", steps[0].why);
    // carol writes fast: a runaway. alice (an admin) and sup write as fast:
    // neither is supervised.
    let other = t.add("alice", "Chatty", |_| {});
    for n in 0..8 {
        t.ws.comment("carol", other, format!("{n}")).unwrap();
        t.ws.comment("alice", other, format!("{n}")).unwrap();
        t.ws.comment("sup", other, format!("{n}")).unwrap();
    }
    let now = Hlc::now().ms;
    let steps = plan(&state(&t), &live(Vec::new()), "sup", now);
    let flagged: Vec<(&str, StepFlag, StepKind)> = steps.iter().map(|e| (e.actor.as_str(), e.flag, e.step)).collect();
    assert!(flagged.contains(&("carol", StepFlag::Runaway, StepKind::Suspend)), "{flagged:?}");
    assert!(flagged.iter().all(|(a, ..)| *a != "alice" && *a != "sup"), "{flagged:?}");
    take(&t, &steps, &live(Vec::new()), now);
    let s = state(&t);
    assert!(s.is_stopped("bob") && s.is_stopped("carol"), "both suspended by sup");
    assert_eq!(s.actors["bob"].suspended.as_ref().map(|x| x.by.as_str()), Some("sup"));
    t.verified();
}

#[test]
fn a_supervisor_the_policy_grants_nothing_takes_no_step() {
    let t = team(CrewPolicy { dead_after: Some(1), ..CrewPolicy::default() });
    let task = t.add("alice", "Orphan", |_| {});
    t.claim("bob", task).unwrap();
    let at = Hlc::now().ms + 60_000;
    assert_eq!(plan(&state(&t), &live(Vec::new()), "sup", at), []);
    // An admin supervises without a grant, telling owners.
    let steps = plan(&state(&t), &live(Vec::new()), "alice", at);
    assert_eq!(bobs(&steps), [(StepFlag::DeadHolder, StepKind::Notify)]);
}

#[test]
fn deaf_agents_and_duplicate_listeners_are_told_about_once() {
    let t = team(CrewPolicy { grants: grant(&[Power::Release]), ..CrewPolicy::default() });
    let task = t.add("alice", "Quiet", |_| {});
    t.claim("bob", task).unwrap();
    let now = Hlc::now().ms;
    let sessions = live(vec![
        session("bob", "no-ears", now, 90, false),
        session("carol", "one", now, 90, true),
        session("carol", "two", now, 90, true),
    ]);
    let steps = plan(&state(&t), &sessions, "sup", now);
    let seen: Vec<(&str, StepFlag, &[String])> =
        steps.iter().map(|e| (e.actor.as_str(), e.flag, &e.tell[..])).collect();
    let bob_and_owner = ["bob".to_owned(), "alice".to_owned()];
    let owner = ["alice".to_owned()];
    assert!(seen.contains(&("bob", StepFlag::Deaf, &bob_and_owner[..])), "{seen:?}");
    assert!(seen.contains(&("carol", StepFlag::DuplicateListener, &owner[..])), "{seen:?}");
    assert!(steps.iter().all(|e| e.step == StepKind::Notify));
    take(&t, &steps, &sessions, now);
    assert_eq!(plan(&state(&t), &sessions, "sup", now), [], "each told once an hour");
    // The messages reached bob's inbox.
    let (_, items) = t.ws.inbox("bob").unwrap();
    assert!(!items.is_empty(), "bob was told");
}

/// The election task decides who supervises: an agent the policy grants
/// nothing can neither make one, nor claim, block or cancel it, nor hide a
/// task of its own by giving it the label; an admin can.
#[test]
fn no_agent_holds_the_election_or_hides_a_task_with_its_label() {
    use git_crew::record::kinds::{TaskEdit, ELECTION_LABEL};
    use git_crew::tasks::NewTask;
    let t = team(CrewPolicy { grants: grant(&[Power::Release]), ..CrewPolicy::default() });
    let labelled = || NewTask { title: "mine".into(), labels: vec![ELECTION_LABEL.into()], ..NewTask::default() };
    let guarded = "may not write about the supervisors' election task";
    t.refused(|ws| ws.add_task("bob", labelled()), guarded);
    let (election, _) = t.ws.election("sup").unwrap();
    t.refused(|ws| ws.claim("bob", &ClaimTarget::Task(election), 3600, &ClaimMode::Local), guarded);
    t.refused(|ws| ws.block("bob", election, "mine now".into()), guarded);
    let own = t.add("bob", "Quietly mine", |_| {});
    let hide = TaskEdit { task: own, labels: vec![ELECTION_LABEL.into()], ..TaskEdit::default() };
    t.refused(|ws| ws.edit_task("bob", hide.clone()), "may not give or take the label");
    assert!(t.summaries().iter().any(|s| s.id == own && s.is_ready(|_| true, Hlc::now().ms)), "still on the board");
    // The supervisor holds it; an admin may take the label off it.
    t.ws.claim("sup", &ClaimTarget::Task(election), 3600, &ClaimMode::Local).unwrap();
    let unlabel = TaskEdit { task: election, labels: vec!["ops".into()], ..TaskEdit::default() };
    t.refused(|ws| ws.edit_task("sup", unlabel.clone()), "may not give or take the label");
    t.ws.edit_task("alice", unlabel).unwrap();
    t.verified();
}
