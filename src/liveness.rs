//! Liveness: heartbeats, sessions, the status of actors and the listener audit.
//!
//! A session's heartbeat is one signed `live.beat` record, the whole content of
//! the blob `refs/crew/live/<actor>/<session>` points to. Each beat overwrites
//! the last, so beats never enter the branch history and cost nothing to keep.
//! A session is live while its last beat is younger than the beat's `ttl` and
//! it has not ended. Beats are read only after their signature verifies, and
//! count only when the ref names their author and session and the author's
//! current key signed them: a beat cannot speak for another actor.
//!
//! Liveness is not part of the fold (it depends on the clock of the reader), so
//! leases are renewed by records, not by beats: whoever beats for an actor also
//! renews that actor's claims before half their lease has run ([`Workspace::renew_leases`]
//! on the [`Workspace`]). When the beating stops, so do the renewals, and the
//! lease runs out on every clone alike.

use std::collections::{BTreeMap, HashSet};

use crate::store::Backend;
use crate::store::Oid;
use serde::Serialize;

use crate::error::{ArgumentError, BeatError, ConflictError, Error, Result};
use crate::hlc::{Hlc, MAX_SKEW_MS};
use crate::id::Id;
use crate::index::Need;
use crate::layout::{live_ref, LIVE_REFS};
use crate::record::kinds::{validate_session, LiveBeat, PathReserve, TaskClaim, MAX_TTL_SECS};
use crate::record::{self, Payload, Record, Role};
use crate::state::{Revocation, State, Summary, Suspension};
use crate::store::Store;
use crate::workspace::Workspace;

/// What a beating process says about itself.
#[derive(Clone, Debug)]
pub struct Beating {
    /// The actor it beats for.
    pub actor: String,
    /// Its session name.
    pub session: String,
    /// Its host.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it started.
    pub started: Hlc,
    /// Seconds a beat keeps the session alive.
    pub ttl: u64,
    /// Whether it listens for the actor's messages.
    pub listening: bool,
}

impl Beating {
    /// A session of `actor` for this process: a fresh random session name unless
    /// `session` is given, this machine's host name, and `ttl` seconds.
    pub fn new(actor: &str, session: Option<String>, pid: u32, ttl: u64, listening: bool) -> Result<Beating> {
        let session = match session {
            Some(s) => s,
            None => {
                let mut bytes = [0u8; 6];
                getrandom::getrandom(&mut bytes).map_err(Error::NoRandomSource)?;
                crate::id::hex(&bytes)
            }
        };
        validate_session(&session).map_err(ArgumentError::Session)?;
        if ttl == 0 || ttl > MAX_TTL_SECS {
            return Err(ArgumentError::Ttl { ttl, max: MAX_TTL_SECS }.into());
        }
        Ok(Beating { actor: actor.to_owned(), session, host: host_name(), pid, started: Hlc::now(), ttl, listening })
    }

    /// How often to beat so that one lost beat does not end the session.
    pub fn interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.ttl * 1000 / 3)
    }
}

/// This machine's name, as far as it can be found without a system call.
/// The session one-shot beats of `actor` share in the clone at `git_dir` on
/// this host: the same for every shell an agent's harness starts, so beats
/// from separate tool calls are one session (and `heartbeat --end` ends it),
/// while each long-running process beats a session of its own
/// ([`Beating::new`] without a name).
pub fn one_shot_session(git_dir: &std::path::Path, actor: &str) -> String {
    use sha2::Digest;
    let dir = git_dir.canonicalize().unwrap_or_else(|_| git_dir.to_owned());
    let seed = format!("{}\0{}\0{actor}", host_name(), dir.display());
    crate::id::hex(&sha2::Sha256::digest(seed.as_bytes())[..6])
}

fn host_name() -> String {
    let from_file = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    let name = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| from_file("/proc/sys/kernel/hostname"))
        .or_else(|| from_file("/etc/hostname"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    name.chars().filter(|c| !c.is_control()).take(255).collect()
}

/// A session as its last beat describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Session {
    /// The actor.
    pub actor: String,
    /// The session name.
    pub session: String,
    /// Its host.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it started.
    #[serde(with = "crate::hlc::as_text")]
    pub started: Hlc,
    /// Its last beat.
    #[serde(with = "crate::hlc::as_text")]
    pub beat: Hlc,
    /// Seconds each beat keeps it alive.
    pub ttl: u64,
    /// Whether it listens for messages.
    pub listening: bool,
    /// Whether it ended cleanly.
    pub ended: bool,
}

impl Session {
    fn from_beat(r: &Record, b: &LiveBeat) -> Session {
        Session {
            actor: r.author.clone(),
            session: b.session.clone(),
            host: b.host.clone(),
            pid: b.pid,
            started: b.started,
            beat: r.at,
            ttl: b.ttl,
            listening: b.listening,
            ended: b.ended,
        }
    }

    /// Milliseconds the session stays alive after `now_ms` without another
    /// beat (zero or less: dead).
    pub fn left_ms(&self, now_ms: i64) -> i64 {
        if self.ended {
            return 0;
        }
        self.beat.ms + self.ttl as i64 * 1000 - now_ms
    }

    /// Whether it is alive at `now_ms`.
    pub fn live_at(&self, now_ms: i64) -> bool {
        self.left_ms(now_ms) > 0
    }
}

/// Why a beat does not count.
fn beat_problem(state: &State, refname: &str, r: &Record) -> Option<BeatError> {
    let (refname, author) = (refname.to_owned(), r.author.clone());
    let Payload::LiveBeat(b) = &r.payload else {
        return Some(BeatError::NotABeat { refname, kind: r.kind().to_string() });
    };
    if refname != live_ref(&r.author, &b.session) {
        return Some(BeatError::WrongRef { refname, author, session: b.session.clone() });
    }
    let Some(actor) = state.actors.get(&r.author) else {
        return Some(BeatError::UnknownAuthor { refname, author });
    };
    if actor.key != r.key {
        return Some(BeatError::NotCurrentKey { refname, author });
    }
    if actor.revoked.is_some() {
        return Some(BeatError::Revoked { refname, author });
    }
    None
}

/// Read and check the beat in blob `oid` on `refname`.
pub fn read_beat<B: Backend>(store: &Store<B>, state: &State, refname: &str, oid: Oid) -> Result<Record> {
    let bytes = store.blob(oid)?;
    let decoded = record::decode_records(&[&bytes], &state.workspace).pop();
    let r = match decoded {
        Some(Ok(r)) => r,
        Some(Err((offset, problem))) => {
            return Err(BeatError::Undecodable { refname: refname.to_owned(), problem, offset }.into())
        }
        None => return Err(BeatError::Empty(refname.to_owned()).into()),
    };
    match beat_problem(state, refname, &r) {
        Some(p) => Err(p.into()),
        None => Ok(r),
    }
}

/// The server's check of an update of a live ref: a new value that is a valid
/// beat of the actor and session the ref names, signed with that actor's
/// current key, not dated in the future, and later than the beat it replaces
/// (a live ref only moves forward in time, so an old beat cannot be replayed
/// over a newer one). Deleting is refused: a session ends with a signed beat
/// that says so.
pub fn check_update<B: Backend>(
    store: &Store<B>,
    state: &State,
    refname: &str,
    old: Option<Oid>,
    new: Option<Oid>,
) -> Result<()> {
    let Some(new) = new else {
        return Err(ConflictError::SessionDeleted { refname: refname.to_owned() }.into());
    };
    let r = read_beat(store, state, refname, new)?;
    if r.at.too_far_ahead_of(Hlc::now()) {
        return Err(BeatError::FromTheFuture { refname: refname.to_owned(), at: r.at, max_skew_ms: MAX_SKEW_MS }.into());
    }
    if let Some(previous) = old.and_then(|old| read_beat(store, state, refname, old).ok()) {
        if r.at <= previous.at {
            return Err(
                ConflictError::StaleBeat { refname: refname.to_owned(), at: r.at, previous: previous.at }.into()
            );
        }
    }
    Ok(())
}

/// Whether `name` is a live ref, `refs/crew/live/<actor>/<session>`.
pub fn is_live_ref(name: &str) -> bool {
    name.strip_prefix(LIVE_REFS).is_some_and(|rest| rest.split('/').count() == 2)
}

/// The sessions on this clone, and the refs whose beat does not count (with why).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Liveness {
    /// Every session with a counted beat, by actor then session.
    pub sessions: Vec<Session>,
    /// Live refs that do not hold a counted beat.
    pub invalid: Vec<(String, String)>,
}

impl Liveness {
    /// The sessions of `actor` alive at `now_ms`.
    pub fn live<'a>(&'a self, actor: &'a str, now_ms: i64) -> impl Iterator<Item = &'a Session> + 'a {
        self.sessions.iter().filter(move |s| s.actor == actor && s.live_at(now_ms))
    }
}

impl<B: Backend> Workspace<B> {
    /// Write a beat of `b` (the last one, with `ended`) on its live ref. A
    /// stopped actor does not beat (its writes exit 5).
    pub fn beat(&self, b: &Beating, ended: bool) -> Result<Record> {
        let state = self.snapshot_for(&Need::Core)?.state;
        let key = self.signer(&b.actor, &state)?;
        let payload = Payload::LiveBeat(LiveBeat {
            session: b.session.clone(),
            host: b.host.clone(),
            pid: b.pid,
            started: b.started,
            ttl: b.ttl,
            listening: b.listening,
            ended,
        });
        let (r, bytes) =
            record::encode(&state.workspace, &b.actor, Hlc::now(), payload, &key).map_err(BeatError::Unwritable)?;
        let oid = self.store().write_blob(&bytes)?;
        self.store().force_ref(&live_ref(&b.actor, &b.session), oid, "git-crew: heartbeat")?;
        Ok(r)
    }

    /// Every session with a beat on this clone.
    pub fn liveness(&self, state: &State) -> Result<Liveness> {
        let mut out = Liveness::default();
        for (name, oid) in self.store().refs_under(LIVE_REFS)? {
            match read_beat(self.store(), state, &name, oid) {
                Ok(r) => {
                    if let Payload::LiveBeat(b) = &r.payload {
                        out.sessions.push(Session::from_beat(&r, b));
                    }
                }
                Err(e) => out.invalid.push((name, e.to_string())),
            }
        }
        Ok(out)
    }

    /// Renew `actor`'s claims whose lease is more than half gone (and not yet
    /// out): one `task.claim` per task, for the same lease. What a beating
    /// session does so that a live holder keeps its tasks.
    pub fn renew_leases(&self, actor: &str) -> Result<Vec<Record>> {
        // The core knows which tasks the actor holds and its reservations;
        // only those tasks are loaded.
        let core = self.snapshot_for(&Need::Core)?.state;
        let reserves = core.reservations.values().any(|r| r.actor == actor && r.task.is_none() && r.released.is_none());
        let Some(me) = core.actors.get(actor).filter(|a| a.may_work() && (!a.holds.is_empty() || reserves)) else {
            return Ok(Vec::new());
        };
        let held: Vec<Id> = me.holds.iter().copied().collect();
        let due = |claim_ms: i64, expires_ms: i64, now: i64| 2 * (expires_ms - now) < claim_ms;
        let written = self.write(actor, &Need::Tasks(held.clone()), |state| {
            let now = Hlc::now().ms;
            let claims = held.iter().filter_map(|id| {
                let task = state.tasks.get(id).filter(|t| t.done.is_none())?;
                let claim = task.holder_at(now).filter(|c| c.actor == actor)?;
                due(claim.lease_ms, claim.expires_ms, now).then(|| {
                    let lease = (claim.lease_ms / 1000).max(1) as u64;
                    Payload::TaskClaim(TaskClaim { task: *id, lease, offline: false })
                })
            });
            // Reservations of their own (not following a task) renew alike.
            let reservations = state
                .live_reservations(now)
                .filter(|(r, holder, _)| *holder == actor && r.task.is_none() && due(r.lease_ms, r.expires_ms, now))
                .map(|(r, _, _)| {
                    let lease = (r.lease_ms / 1000).max(1) as u64;
                    Payload::PathReserve(PathReserve { paths: r.paths.clone(), lease, task: None })
                });
            Ok(claims.chain(reservations).collect())
        });
        match written {
            Ok(w) => Ok(w.records),
            Err(Error::NothingToWrite) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Every actor's status at `now_ms`, the audit's flags, and the live refs
    /// whose beat does not count.
    pub fn status(&self, now_ms: i64) -> Result<Status> {
        let (snap, summaries) = self.index().summaries(self.store())?;
        let live = self.liveness(&snap.state)?;
        Ok(Status {
            actors: status(&snap.state, &live, &summaries, now_ms),
            flags: audit(&snap.state, &live, &summaries, now_ms),
            invalid: live.invalid.into_iter().map(|(r, reason)| InvalidBeat { name: r, reason }).collect(),
        })
    }
}

/// What `status` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// Every actor.
    pub actors: Vec<ActorStatus>,
    /// The audit's flags.
    pub flags: Vec<Flag>,
    /// Live refs whose beat does not count (forged, stale key, misplaced).
    pub invalid: Vec<InvalidBeat>,
}

/// A live ref whose beat does not count, and why.
#[derive(Clone, Debug, Serialize)]
pub struct InvalidBeat {
    /// The ref.
    #[serde(rename = "ref")]
    pub name: String,
    /// Why.
    pub reason: String,
}

/// One actor, as `status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ActorStatus {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Suspended: by whom, when, why.
    pub suspended: Option<Suspension>,
    /// Key revoked: by whom, when, why.
    pub revoked: Option<Revocation>,
    /// Its live sessions.
    pub sessions: Vec<Session>,
    /// Its last counted record.
    #[serde(with = "crate::hlc::as_text_opt")]
    pub last_record: Option<Hlc>,
    /// Records of it that counted.
    pub records: u64,
    /// Tasks it holds, with the lease left (negative: ran out).
    pub claims: Vec<Held>,
}

/// A claim, as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Held {
    /// The task.
    #[serde(with = "crate::id::as_hex")]
    pub task: Id,
    /// Its title.
    pub title: String,
    /// Milliseconds of lease left at the time of the status (negative: ran out).
    pub lease_left_ms: i64,
}

/// The open tasks each actor holds (lease running or not).
fn holdings(summaries: &[Summary], now_ms: i64) -> BTreeMap<&str, Vec<Held>> {
    let mut out: BTreeMap<&str, Vec<Held>> = BTreeMap::new();
    for s in summaries.iter().filter(|s| s.done_by.is_none()) {
        if let Some((actor, until)) = &s.holder {
            let held = Held { task: s.id, title: s.title.clone(), lease_left_ms: until - now_ms };
            out.entry(actor.as_str()).or_default().push(held);
        }
    }
    out
}

/// Every actor's status at `now_ms`.
pub fn status(state: &State, live: &Liveness, summaries: &[Summary], now_ms: i64) -> Vec<ActorStatus> {
    let mut held = holdings(summaries, now_ms);
    state
        .actors
        .values()
        .map(|a| ActorStatus {
            name: a.name.clone(),
            role: a.role,
            suspended: a.suspended.clone(),
            revoked: a.revoked.clone(),
            sessions: live.live(&a.name, now_ms).cloned().collect(),
            last_record: a.last_at,
            records: a.records,
            claims: held.remove(a.name.as_str()).unwrap_or_default(),
        })
        .collect()
}

/// Something the audit flags.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "flag", rename_all = "kebab-case")]
pub enum Flag {
    /// An agent that may work has no live session listening for its messages.
    Deaf {
        /// The agent.
        actor: String,
    },
    /// More than one live session listens as one actor: messages are read twice.
    DuplicateListener {
        /// The actor.
        actor: String,
        /// The listening sessions.
        sessions: Vec<String>,
    },
    /// A claim whose lease ran out while its holder has no live session.
    DeadHolder {
        /// The holder.
        actor: String,
        /// The task.
        #[serde(with = "crate::id::as_hex")]
        task: Id,
    },
    /// A suspended (or revoked) actor still holds a claim.
    SuspendedHolder {
        /// The actor.
        actor: String,
        /// The task.
        #[serde(with = "crate::id::as_hex")]
        task: Id,
    },
}

impl Flag {
    /// The actor flagged.
    pub fn actor(&self) -> &str {
        match self {
            Flag::Deaf { actor }
            | Flag::DuplicateListener { actor, .. }
            | Flag::DeadHolder { actor, .. }
            | Flag::SuspendedHolder { actor, .. } => actor,
        }
    }
}

impl std::fmt::Display for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flag::Deaf { actor } => write!(f, "deaf: agent {actor} has no live session listening for messages"),
            Flag::DuplicateListener { actor, sessions } => {
                write!(
                    f,
                    "duplicate listener: {actor} listens in {} sessions ({})",
                    sessions.len(),
                    sessions.join(", ")
                )
            }
            Flag::DeadHolder { actor, task } => {
                write!(f, "dead holder: {actor} has no live session and its lease on {} ran out", task.short())
            }
            Flag::SuspendedHolder { actor, task } => {
                write!(f, "suspended holder: {actor} is stopped but still holds {}", task.short())
            }
        }
    }
}

/// The audit at `now_ms`, sorted. Humans are not expected to listen all the
/// time, so only agents can be deaf.
pub fn audit(state: &State, live: &Liveness, summaries: &[Summary], now_ms: i64) -> Vec<Flag> {
    let mut flags = Vec::new();
    for a in state.actors.values() {
        let listening: Vec<String> =
            live.live(&a.name, now_ms).filter(|s| s.listening).map(|s| s.session.clone()).collect();
        if listening.is_empty() && a.role == Role::Agent && a.may_work() {
            flags.push(Flag::Deaf { actor: a.name.clone() });
        }
        if listening.len() > 1 {
            flags.push(Flag::DuplicateListener { actor: a.name.clone(), sessions: listening });
        }
    }
    let alive: HashSet<&str> = live.sessions.iter().filter(|s| s.live_at(now_ms)).map(|s| s.actor.as_str()).collect();
    for (actor, held) in holdings(summaries, now_ms) {
        for h in held {
            if state.is_stopped(actor) {
                flags.push(Flag::SuspendedHolder { actor: actor.to_owned(), task: h.task });
            } else if h.lease_left_ms <= 0 && !alive.contains(actor) {
                flags.push(Flag::DeadHolder { actor: actor.to_owned(), task: h.task });
            }
        }
    }
    flags.sort();
    flags
}
