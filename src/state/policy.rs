//! The fleet policy in the fold: who may supervise, with which powers, what
//! each agent's budgets are, and what the fold keeps for a supervisor to judge
//! by (usage per task and author, each actor's write rate, the steps taken).
//!
//! Rules:
//!
//! - Only an admin writes a `crew.policy`; every actor it names must exist.
//!   The latest policy that counts replaces the one before it, whole.
//! - A policy's grant is authority like a role: an actor granted `release`
//!   may release a task another actor holds, one granted `suspend` may
//!   suspend an agent (never a human or an admin). The grant is the one in
//!   force where the record sorts.
//! - A `supervise.step` counts only from an admin or an actor the policy
//!   grants a power, and a `requeue` or `suspend` step only from one that has
//!   that power: a step says what its author was allowed to do.
//! - A `task.usage` counts from any admitted actor, about a task that exists;
//!   reports add up per task and author.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::id::Id;
use crate::record::kinds::{parse_cost, CrewPolicy, Power, StepFlag, StepKind, SuperviseStep, TaskUsage};
use crate::record::{Payload, Record};

use super::{Actor, Refusal, State};

/// The policy in force, and the record that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Its rules. Kept as JSON in the index's binary files, which cannot
    /// read back the fields a record leaves out.
    #[serde(with = "as_json")]
    pub rules: CrewPolicy,
    /// The admin who set it.
    pub by: String,
    /// When.
    pub at: Hlc,
    /// The `crew.policy` record.
    pub record: Id,
}

/// A value with omitted fields as a JSON string, for a serializer that
/// cannot skip fields (postcard).
mod as_json {
    use serde::{de::Error as _, ser::Error as _, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        serde_json::to_string(value).map_err(S::Error::custom)?.serialize(s)
    }

    pub fn deserialize<'de, T: serde::de::DeserializeOwned, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        serde_json::from_str(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// The limits one agent works under on each task it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock seconds from its claim.
    pub task_seconds: Option<u64>,
    /// Tokens it reports.
    pub tokens: Option<u64>,
    /// Cost it reports, in millionths.
    pub cost_micros: Option<u64>,
}

impl Policy {
    /// The powers granted to `actor`.
    pub fn powers(&self, actor: &str) -> &[Power] {
        self.rules.grants.iter().find(|g| g.actor == actor).map_or(&[], |g| &g.powers)
    }

    /// The budget of `actor`: its own entry, or the policy's defaults.
    pub fn limits(&self, actor: &str) -> Limits {
        let r = &self.rules;
        match r.budgets.iter().find(|b| b.actor == actor) {
            Some(b) => Limits {
                task_seconds: b.task_seconds,
                tokens: b.tokens,
                cost_micros: b.cost.as_deref().and_then(parse_cost),
            },
            None => Limits {
                task_seconds: r.task_seconds,
                tokens: r.tokens,
                cost_micros: r.cost.as_deref().and_then(parse_cost),
            },
        }
    }

    /// The channel told of requeued tasks.
    pub fn channel(&self) -> &str {
        self.rules.channel.as_deref().unwrap_or("general")
    }
}

/// What an actor reported spending on one task, summed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens.
    pub tokens: u64,
    /// Cost in millionths.
    pub cost_micros: u64,
    /// Seconds.
    pub seconds: u64,
    /// Reports.
    pub reports: u32,
}

impl Usage {
    fn add(&mut self, u: &TaskUsage) {
        self.tokens = self.tokens.saturating_add(u.tokens.unwrap_or(0));
        self.cost_micros = self.cost_micros.saturating_add(u.cost.as_deref().and_then(parse_cost).unwrap_or(0));
        self.seconds = self.seconds.saturating_add(u.seconds.unwrap_or(0));
        self.reports = self.reports.saturating_add(1);
    }
}

/// What the fold keeps about an actor for a supervisor: how fast it writes,
/// and the last notification about it for each flag and task.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// Its counted records per second (by their `at`) over the last minute
    /// of its records, oldest first: at most 60 entries.
    pub recent: Vec<(i64, u32)>,
    /// The last notification about it, by flag and task: what keeps a
    /// supervisor from telling the same thing every round.
    pub notices: Vec<(StepFlag, Option<Id>, Hlc)>,
}

impl Watch {
    fn count(&mut self, at: Hlc) {
        let second = at.ms.div_euclid(1000);
        match self.recent.iter_mut().find(|(s, _)| *s == second) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => {
                self.recent.push((second, 1));
                self.recent.sort_unstable();
            }
        }
        let newest = self.recent.last().map_or(second, |(s, _)| *s);
        self.recent.retain(|(s, _)| *s > newest - 60);
    }

    /// Its records in the 60 seconds up to `now_ms` (to the second).
    pub fn per_minute(&self, now_ms: i64) -> u64 {
        let now = now_ms.div_euclid(1000);
        self.recent.iter().filter(|(s, _)| *s > now - 60 && *s <= now).map(|(_, n)| u64::from(*n)).sum()
    }
}

impl State {
    /// The policy in force after every record folded.
    pub fn policy(&self) -> Option<&Policy> {
        self.policies.last()
    }

    /// The policy in force at the point `key` of the fold order: the last
    /// one that sorts before it.
    pub fn policy_at(&self, key: (Hlc, Id)) -> Option<&Policy> {
        self.policies.iter().rev().find(|p| (p.at, p.record) < key)
    }

    /// Whether the policy in force at `key` grants `actor` `power`.
    pub fn granted_at(&self, actor: &str, power: Power, key: (Hlc, Id)) -> bool {
        self.policy_at(key).is_some_and(|p| p.powers(actor).contains(&power))
    }

    /// Whether `actor` may use `power` on `target` at `key`: the policy in
    /// force grants it, and `target` is an agent there that the policy grants
    /// nothing (a supervisor never acts on humans, admins or supervisors).
    pub fn supervises(&self, actor: &str, target: &str, power: Power, key: (Hlc, Id)) -> bool {
        let agent = self.actors.get(target).is_some_and(|a| a.role_at(key) == crate::record::Role::Agent);
        let supervisor = self.policy_at(key).is_some_and(|p| !p.powers(target).is_empty());
        agent && !supervisor && self.granted_at(actor, power, key)
    }
}

/// `crew.policy`: by an admin, naming only actors that exist.
pub(super) fn check_policy(state: &State, author: &Actor, p: &CrewPolicy, key: (Hlc, Id)) -> Result<(), Refusal> {
    if !author.is_admin_at(key) {
        return Err(Refusal::NotAdmin { author: author.name.clone(), action: "set the fleet policy".into() });
    }
    for name in p.budgets.iter().map(|b| &b.actor).chain(p.grants.iter().map(|g| &g.actor)) {
        state.actor_at(name, key)?;
    }
    Ok(())
}

/// `supervise.step`: by an admin or a granted supervisor, about an actor (and
/// task) that exist, with the power its step needs.
pub(super) fn check_step(state: &State, author: &Actor, s: &SuperviseStep, key: (Hlc, Id)) -> Result<(), Refusal> {
    state.actor_at(&s.actor, key)?;
    if let Some(task) = &s.task {
        state.task_at(task, key)?;
    }
    if author.is_admin_at(key) {
        return Ok(());
    }
    let powers = state.policy_at(key).map_or(&[][..], |p| p.powers(&author.name));
    let needs = match s.step {
        StepKind::Requeue => Some(Power::Release),
        StepKind::Suspend => Some(Power::Suspend),
        StepKind::Notify | StepKind::Nudge => None,
    };
    let allowed = match needs {
        Some(power) => powers.contains(&power),
        None => !powers.is_empty(),
    };
    if allowed {
        Ok(())
    } else {
        let what = needs.map_or("any power".to_owned(), |p| format!("the {} power", p.as_str()));
        Err(Refusal::NotAdmin {
            author: author.name.clone(),
            action: format!(
                "take a supervisor's {} step (the fleet policy grants it {what} only if it says so)",
                s.step.as_str()
            ),
        })
    }
}

/// Apply a counted record's part in supervision: the author's write rate,
/// a new policy, a step.
pub(super) fn apply(state: &mut State, r: &Record) {
    state.watch.entry(r.author.clone()).or_default().count(r.at);
    match &r.payload {
        Payload::CrewPolicy(p) => {
            // Folded in order, so the list stays sorted by where each sorts.
            state.policies.push(Policy { rules: p.clone(), by: r.author.clone(), at: r.at, record: r.id });
        }
        Payload::SuperviseStep(s) if s.step == StepKind::Notify => {
            let notices = &mut state.watch.entry(s.actor.clone()).or_default().notices;
            match notices.iter_mut().find(|(f, t, _)| *f == s.flag && *t == s.task) {
                Some((_, _, at)) => *at = (*at).max(r.at),
                None => notices.push((s.flag, s.task, r.at)),
            }
        }
        _ => {}
    }
}

/// Add a usage report to its task.
pub(super) fn add_usage(usage: &mut BTreeMap<String, Usage>, author: &str, u: &TaskUsage) {
    usage.entry(author.to_owned()).or_default().add(u);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Hlc {
        Hlc { ms, counter: 0 }
    }

    /// The index keeps the state in postcard, which cannot read back a
    /// struct that leaves fields out: a policy must survive it, or every
    /// load would find the cache unreadable and rebuild it.
    #[test]
    fn a_policy_survives_the_index_encoding() {
        let rules = CrewPolicy { dead_after: Some(5), cost: Some("1.5".into()), ..CrewPolicy::default() };
        let policy = Policy { rules, by: "alice".into(), at: at(1), record: Id([1; 32]) };
        let bytes = postcard::to_stdvec(&policy).unwrap();
        assert_eq!(postcard::from_bytes::<Policy>(&bytes).unwrap(), policy);
    }

    #[test]
    fn the_rate_is_the_last_minute_s_records() {
        let mut w = Watch::default();
        // 30 records, one a second, from 600 s; then one at 659.5 s.
        for s in 0..30 {
            w.count(at(600_000 + s * 1000));
        }
        assert_eq!(w.per_minute(630_000), 30);
        // Straddling a minute boundary is no way around it: a window slides.
        assert_eq!(w.per_minute(659_000), 30);
        assert_eq!(w.per_minute(675_000), 14, "those of 616 s to 629 s are still in the last minute");
        w.count(at(659_500));
        assert_eq!(w.per_minute(675_000), 15);
        assert_eq!(w.per_minute(800_000), 0);
        assert!(w.recent.len() <= 60);
    }
}
