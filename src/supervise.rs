//! The supervisor: the fleet policy acted on, with no model in the loop.
//!
//! [`plan`] is a pure function of the folded state, the sessions and the
//! wall clock: it names what the policy flags (runaway, over budget, dead
//! holder, stalled holder, deaf agent, duplicate listener) and the step the
//! supervisor takes about each. [`Workspace::escalate`] takes one step as one
//! commit: a `supervise.step` naming the flag, the action (a release, a
//! suspension) and the messages that tell the people concerned.
//!
//! Invariants:
//! - Only agents are supervised (humans and admins are not expected to beat or
//!   keep pace), and never an actor the policy grants a power (a supervisor).
//! - A step needing a power the supervisor lacks becomes a notification of the
//!   agent's owner, never an action the fold would refuse.
//! - The escalation memory lives on the branch (a nudge is kept on the claim it
//!   was about, the last step per flag on the actor), so a supervisor that
//!   takes over from another carries on where it stopped, and a notification is
//!   repeated at most once an hour ([`REPEAT_MS`]).
//! - A step is written against the state it is committed on (and, with a
//!   remote, published by the linearizable write-then-push): a task that
//!   changed hands since the plan is not released, an actor already suspended
//!   is not suspended again.
//! - Two supervisors elect one by claiming the election task
//!   ([`ELECTION_LABEL`]) with a lease: only the holder acts.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::hlc::Hlc;
use crate::id::Id;
use crate::index::Need;
use crate::liveness::Liveness;
use crate::record::kinds::{
    Channel, CrewPolicy, MsgSend, Power, StepFlag, StepKind, SuperviseStep, TaskCreate, TaskRelease, TaskUsage,
};
use crate::record::{Payload, Role};
use crate::state::{Claim, State, Task};
use crate::store::Backend;
use crate::workspace::{Workspace, Written};

pub use crate::record::kinds::ELECTION_LABEL;

/// The title of the election task.
pub const ELECTION_TITLE: &str = "Supervisor election: the holder of this task supervises the fleet";

/// A notification about the same flag on the same actor is repeated at most
/// this often (milliseconds).
pub const REPEAT_MS: i64 = 3_600_000;

/// One step the supervisor takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Escalation {
    /// What the policy flags.
    pub flag: StepFlag,
    /// What the supervisor does about it.
    pub step: StepKind,
    /// The actor flagged.
    pub actor: String,
    /// The task, for a flag about a held task.
    #[serde(with = "crate::id::as_hex_opt")]
    pub task: Option<Id>,
    /// The figures behind the flag, for people.
    pub why: String,
    /// Who gets a direct message about it.
    pub tell: Vec<String>,
    /// The channel told about it (a requeue).
    pub channel: Option<String>,
}

impl Escalation {
    /// The text of the messages the step sends.
    pub fn message(&self, title: Option<&str>) -> String {
        let task = match (self.task, title) {
            (Some(t), Some(title)) => format!(" {} \"{title}\"", t.short()),
            (Some(t), None) => format!(" {}", t.short()),
            (None, _) => String::new(),
        };
        let what = match self.step {
            StepKind::Nudge => format!("nudge about{task}: {}. Comment on it or release it", self.why),
            StepKind::Requeue => format!("requeued{task} from {}: {}", self.actor, self.why),
            StepKind::Suspend => {
                format!("suspended {}: {}. `git crew resume {}` lifts it", self.actor, self.why, self.actor)
            }
            StepKind::Notify => format!("{} {}{task}: {}", self.flag.as_str(), self.actor, self.why),
        };
        format!("supervisor: {what}")
    }
}

/// Minutes and seconds, for people.
fn took(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s >= 120 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// What the policy in `state` flags at `now_ms`, and the step supervisor `me`
/// takes about each, at most one per actor and flag: a runaway or an agent
/// over budget is stopped (nothing else about it matters then); a dead
/// holder's task is requeued; a stalled holder is nudged, then its task
/// requeued once it stays stalled as long again; a deaf agent and its owner,
/// and the owner of a duplicate listener, are told.
pub fn plan(state: &State, live: &Liveness, me: &str, now_ms: i64) -> Vec<Escalation> {
    let Some(policy) = state.policy() else { return Vec::new() };
    // A supervisor the policy grants nothing may not write a step at all.
    if policy.powers(me).is_empty() && !state.actors.get(me).is_some_and(|a| a.is_admin()) {
        return Vec::new();
    }
    let may = |p: Power| policy.powers(me).contains(&p);
    let mut out = Vec::new();
    let supervised = state
        .actors
        .values()
        .filter(|a| a.role == Role::Agent && a.may_work() && a.name != me && policy.powers(&a.name).is_empty());
    for agent in supervised {
        let name = agent.name.as_str();
        let owner: Vec<String> = agent.owner.iter().filter(|o| *o != me).cloned().collect();
        let watch = state.watch.get(name);
        let told = |flag: StepFlag, task: Option<Id>| {
            watch.is_some_and(|w| {
                w.notices.iter().any(|(f, t, at)| *f == flag && *t == task && now_ms - at.ms < REPEAT_MS)
            })
        };
        let step = |flag, step, task, why: String, tell: Vec<String>| Escalation {
            flag,
            step,
            actor: name.to_owned(),
            task,
            why,
            tell,
            channel: None,
        };
        // A step needing a power the supervisor lacks tells the owner instead.
        let act = |flag: StepFlag, power: Power, kind: StepKind, task: Option<Id>, why: String| {
            if may(power) {
                Some(step(flag, kind, task, why, owner.clone()))
            } else if !told(flag, task) {
                let why = format!("{why} (this supervisor may not {} it)", power.as_str());
                Some(step(flag, StepKind::Notify, task, why, owner.clone()))
            } else {
                None
            }
        };
        let held: Vec<(&Task, &Claim)> = agent
            .holds
            .iter()
            .filter_map(|id| state.tasks.get(id))
            .filter(|t| !t.is_closed())
            .filter_map(|t| t.holder_at(now_ms).filter(|c| c.actor == name).map(|c| (t, c)))
            .collect();
        if let Some((flag, task, why)) =
            runaway(state, policy, name, now_ms).or_else(|| over_budget(policy, name, &held, now_ms))
        {
            let e = act(flag, Power::Suspend, StepKind::Suspend, task, why);
            let stopped = e.as_ref().is_some_and(|e| e.step == StepKind::Suspend);
            out.extend(e);
            // A suspended agent holds nothing; one only reported on still does.
            if stopped {
                continue;
            }
        }
        let sessions: Vec<_> = live.sessions.iter().filter(|s| s.actor == name).collect();
        let alive = sessions.iter().any(|s| s.live_at(now_ms));
        for (task, claim) in &held {
            let requeue = |flag, why: String| {
                act(flag, Power::Release, StepKind::Requeue, Some(task.id), why).map(|mut e| {
                    if e.step == StepKind::Requeue {
                        e.tell.insert(0, name.to_owned());
                        e.channel = Some(policy.channel().to_owned());
                    }
                    e
                })
            };
            if !alive {
                let Some(after) = policy.rules.dead_after else { continue };
                // Dead since its last session ran out (or, with none, since it
                // took the task).
                let ran_out =
                    sessions.iter().map(|s| if s.ended { s.beat.ms } else { s.beat.ms + s.ttl as i64 * 1000 });
                let since = ran_out.max().unwrap_or(claim.since.ms).max(claim.since.ms);
                let dead = now_ms - since;
                if dead >= secs_ms(after) {
                    let why = format!("no live session for {} (policy: dead after {after}s)", took(dead));
                    out.extend(requeue(StepFlag::DeadHolder, why));
                }
                continue;
            }
            let Some(after) = policy.rules.stalled_after else { continue };
            let idle = now_ms - claim.worked.ms;
            if idle < secs_ms(after) {
                continue;
            }
            match claim.nudged.filter(|n| *n >= claim.worked) {
                None => {
                    let why = format!("no record on it for {} (policy: stalled after {after}s)", took(idle));
                    out.push(step(StepFlag::Stalled, StepKind::Nudge, Some(task.id), why, vec![name.to_owned()]));
                }
                Some(nudged) if now_ms - nudged.ms >= secs_ms(after) => {
                    let why = format!(
                        "no record on it for {} and none since a nudge {} ago",
                        took(idle),
                        took(now_ms - nudged.ms)
                    );
                    out.extend(requeue(StepFlag::Stalled, why));
                }
                Some(_) => {}
            }
        }
        let listening = sessions.iter().filter(|s| s.live_at(now_ms) && s.listening).count();
        if alive && listening == 0 && !held.is_empty() && !told(StepFlag::Deaf, None) {
            let why = format!("holds {} task(s) and no session of it listens for messages", held.len());
            let tell = std::iter::once(name.to_owned()).chain(owner.iter().cloned()).collect();
            out.push(step(StepFlag::Deaf, StepKind::Notify, None, why, tell));
        }
        if listening > 1 && !told(StepFlag::DuplicateListener, None) {
            let why = format!("{listening} sessions listen as {name}: each message is read {listening} times");
            out.push(step(StepFlag::DuplicateListener, StepKind::Notify, None, why, owner.clone()));
        }
    }
    out
}

fn secs_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// A runaway: more records in the last minute than the policy allows.
fn runaway(
    state: &State,
    policy: &crate::state::Policy,
    name: &str,
    now_ms: i64,
) -> Option<(StepFlag, Option<Id>, String)> {
    let limit = policy.rules.runaway_per_minute?;
    let rate = state.watch.get(name).map_or(0, |w| w.per_minute(now_ms));
    (rate > limit).then(|| {
        (StepFlag::Runaway, None, format!("{rate} records in the last minute (policy: at most {limit} a minute)"))
    })
}

/// Over budget on a task it holds: wall-clock from its claim, or the
/// seconds, tokens or cost it reported on it.
fn over_budget(
    policy: &crate::state::Policy,
    name: &str,
    held: &[(&Task, &Claim)],
    now_ms: i64,
) -> Option<(StepFlag, Option<Id>, String)> {
    let limits = policy.limits(name);
    held.iter().find_map(|(task, claim)| {
        let used = task.usage.get(name).cloned().unwrap_or_default();
        let spent_secs = u64::try_from((now_ms - claim.since.ms) / 1000).unwrap_or(0).max(used.seconds);
        let over = [
            limits
                .task_seconds
                .filter(|max| spent_secs > *max)
                .map(|max| format!("{spent_secs}s on it (budget {max}s)")),
            limits.tokens.filter(|max| used.tokens > *max).map(|max| format!("{} tokens (budget {max})", used.tokens)),
            limits
                .cost_micros
                .filter(|max| used.cost_micros > *max)
                .map(|max| format!("cost {} (budget {})", money(used.cost_micros), money(max))),
        ];
        let over: Vec<String> = over.into_iter().flatten().collect();
        (!over.is_empty()).then(|| (StepFlag::OverBudget, Some(task.id), over.join(", ")))
    })
}

/// Millionths as a decimal, without trailing zeros.
pub fn money(micros: u64) -> String {
    let frac = format!("{:06}", micros % 1_000_000);
    let frac = frac.trim_end_matches('0');
    match frac.is_empty() {
        true => format!("{}", micros / 1_000_000),
        false => format!("{}.{frac}", micros / 1_000_000),
    }
}

/// The election task in `state`: the oldest open task with [`ELECTION_LABEL`].
pub fn election_task(state: &State) -> Option<&Task> {
    state
        .tasks
        .values()
        .filter(|t| !t.is_closed() && t.blocked.is_none() && t.labels.iter().any(|l| l == ELECTION_LABEL))
        .min_by_key(|t| (t.created_at, t.id))
}

impl<B: Backend> Workspace<B> {
    /// `policy set`: replace the fleet policy (admins only).
    pub fn set_policy(&self, actor: &str, policy: CrewPolicy) -> Result<Written> {
        let payload = Payload::CrewPolicy(policy);
        self.write(actor, &Need::Core, |_| Ok(vec![payload.clone()]))
    }

    /// `usage`: report what working on a task cost.
    pub fn report_usage(&self, actor: &str, usage: TaskUsage) -> Result<Written> {
        let payload = Payload::TaskUsage(usage.clone());
        self.write(actor, &Need::Tasks(vec![usage.task]), |_| Ok(vec![payload.clone()]))
    }

    /// The records that take step `e` as `me`, checked against `state`: none
    /// when what it is about changed (the task changed hands, the actor is
    /// already stopped).
    pub fn escalation_records(&self, me: &str, state: &State, e: &Escalation) -> Result<Vec<Payload>> {
        let Some(agent) = state.actors.get(&e.actor).filter(|a| a.may_work()) else { return Ok(Vec::new()) };
        let task = e.task.and_then(|t| state.tasks.get(&t));
        let now = Hlc::now().ms;
        if e.task.is_some() && task.and_then(|t| t.holder_at(now)).is_none_or(|c| c.actor != e.actor) {
            return Ok(Vec::new());
        }
        let mut out = vec![Payload::SuperviseStep(SuperviseStep {
            flag: e.flag,
            step: e.step,
            actor: e.actor.clone(),
            task: e.task,
            why: e.why.clone(),
        })];
        match (e.step, e.task) {
            (StepKind::Requeue, Some(task)) => {
                let reason = format!("requeued by the supervisor ({}): {}", e.flag.as_str(), e.why);
                out.push(Payload::TaskRelease(TaskRelease { task, reason: Some(reason) }));
            }
            (StepKind::Suspend, _) => {
                let reason = format!("suspended by the supervisor ({}): {}", e.flag.as_str(), e.why);
                out.push(crate::identities::suspension(agent, Some(reason)));
            }
            _ => {}
        }
        let text = e.message(task.map(|t| t.title.as_str()));
        for to in e.tell.iter().filter(|t| *t != me && state.actors.contains_key(*t)) {
            let channel = Channel::direct(me, to).to_string();
            out.push(Payload::MsgSend(MsgSend {
                channel,
                text: text.clone(),
                thread: None,
                reply_to: None,
                mentions: vec![],
            }));
        }
        if let Some(channel) = &e.channel {
            out.push(Payload::MsgSend(MsgSend {
                channel: channel.clone(),
                text: text.clone(),
                thread: None,
                reply_to: None,
                mentions: vec![],
            }));
        }
        Ok(out)
    }

    /// Take step `e` as `me`: one commit, through `remote` (the linearizable
    /// write-then-push) when given. The plan is made again on the state the
    /// commit is written on (with the sessions `live`, at `now_ms`): `None`
    /// when the step no longer stands there (the holder wrote, or was
    /// stopped, or another supervisor took the step).
    pub fn escalate(
        &self,
        me: &str,
        e: &Escalation,
        live: &Liveness,
        now_ms: i64,
        remote: Option<&str>,
    ) -> Result<Option<Written>> {
        let need = Need::All;
        let build = |state: &State| {
            // The same step about the same thing (its figures may have moved).
            let same = |x: &Escalation| (x.flag, x.step, &x.actor, x.task) == (e.flag, e.step, &e.actor, e.task);
            if !plan(state, live, me, now_ms).iter().any(same) {
                return Ok(Vec::new());
            }
            self.escalation_records(me, state, e)
        };
        let written = match remote {
            Some(remote) => crate::sync::publish(self, remote, me, &need, build),
            None => self.write(me, &need, build),
        };
        match written {
            Ok(w) => Ok(Some(w)),
            Err(Error::NothingToWrite) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The election task, and the record that made it when `me` had to (to
    /// publish).
    pub fn election(&self, me: &str) -> Result<(Id, Option<crate::record::Record>)> {
        let snap = self.snapshot_for(&Need::All)?;
        if let Some(t) = election_task(&snap.state) {
            return Ok((t.id, None));
        }
        let payload = Payload::TaskCreate(TaskCreate {
            title: ELECTION_TITLE.to_owned(),
            labels: vec![ELECTION_LABEL.to_owned()],
            priority: 4,
            ..TaskCreate::default()
        });
        let made = self.write(me, &Need::Core, |_| Ok(vec![payload.clone()]))?.one();
        Ok((made.id, Some(made)))
    }
}
