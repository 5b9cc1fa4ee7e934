//! Records: typed, signed, append-only entries of the workspace's log files.
//!
//! A stored record is its canonical YAML body ([`canonical`]) framed by a `---`
//! line and a `sig:` line ([`frame`]). Decoding checks, in order: framing and
//! format version (lexical), the signature over the raw body bytes, then the
//! strict YAML parse and the kind's fields. Nothing unsigned is ever parsed.
//! Every failure is a [`Problem`] at a byte offset, never a panic.

pub mod canonical;
pub mod frame;
pub mod kinds;
pub mod quote;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};

use crate::hlc::Hlc;
use crate::id::Id;
use crate::sign::{self, Keypair, PublicKey};

pub use frame::Frame;
pub use kinds::{Payload, Role, KINDS};

/// The record format version this build reads and writes. A record of a
/// higher `v` is refused as [`Problem::NewerFormat`]; a new kind, field or
/// value of an enumerated field needs a new version (`schema/SIGNING.md`,
/// section 17).
pub const FORMAT_VERSION: u32 = 1;
/// The kind of the record that creates a workspace.
pub const GENESIS_KIND: &str = "crew.genesis";

/// Where a record sorts: its `at`, then its id. Files and the fold order
/// records by it.
pub type OrderKey = (Hlc, Id);

/// A verified, decoded record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// sha256 of the signed message.
    pub id: Id,
    /// The actor who signed it.
    pub author: String,
    /// Its hybrid logical clock stamp.
    pub at: Hlc,
    /// The key that signed it (authorization is the fold's job).
    pub key: PublicKey,
    /// Kind and fields.
    pub payload: Payload,
}

impl Record {
    /// The dotted kind name.
    pub fn kind(&self) -> &'static str {
        self.payload.kind()
    }

    /// The fold and file order: by `at`, then by id.
    pub fn order_key(&self) -> OrderKey {
        (self.at, self.id)
    }

    /// The task this record is about, if any.
    pub fn task(&self) -> Option<Id> {
        self.payload.task(&self.id)
    }

    /// A one-line description of what the record says, for logs and commit messages.
    pub fn summary(&self) -> String {
        match &self.payload {
            Payload::Genesis(g) => format!("create workspace {}", quote::quote(&g.workspace)),
            Payload::CrewRepair(c) => with_text(
                format!(
                    "repair the branch: {} replaced, on {}, {} record(s) left out",
                    &c.replaces[..12],
                    &c.base[..12],
                    c.dropped
                ),
                c.reason.as_deref(),
            ),
            Payload::ActorAdmit(a) => match &a.owner {
                Some(o) => format!("admit {} as {} (owner {o})", a.name, a.role.as_str()),
                None => format!("admit {} as {}", a.name, a.role.as_str()),
            },
            Payload::ActorSuspend(a) => with_text(format!("suspend {}", a.name), a.reason.as_deref()),
            Payload::ActorResume(a) => format!("resume {}", a.name),
            Payload::ActorRotate(a) => format!("rotate the key of {} to {}", a.name, a.key.fingerprint()),
            Payload::ActorRevoke(a) => with_text(format!("revoke the key of {}", a.name), a.reason.as_deref()),
            Payload::ActorUpdate(a) => {
                let role = a.role.map(|r| format!("role {}", r.as_str()));
                let owner = a.owner.as_ref().map(|o| format!("owner {o}"));
                format!("update {}: {}", a.name, role.into_iter().chain(owner).collect::<Vec<_>>().join(", "))
            }
            Payload::LiveBeat(b) => {
                let what = if b.ended {
                    "ended"
                } else if b.listening {
                    "listening"
                } else {
                    "alive"
                };
                format!("session {} on {} (pid {}) {what}", b.session, b.host, b.pid)
            }
            Payload::TaskCreate(t) => quote::quote(&t.title),
            Payload::Receipt(r) => {
                let what = match (&r.summary, r.commits.first()) {
                    (Some(s), _) => quote::quote(s),
                    (None, Some(c)) => format!("commit {}", &c[..12.min(c.len())]),
                    (None, None) => format!("{} artifact(s)", r.artifacts.len()),
                };
                format!("{} receipt on {}: {what}", r.class.as_str(), r.task.short())
            }
            Payload::TaskEdit(e) => {
                let mut changed: Vec<&str> = Vec::new();
                let fields = [
                    ("title", e.title.is_some()),
                    ("body", e.body.is_some()),
                    ("labels", !e.labels.is_empty()),
                    ("priority", e.priority.is_some()),
                    ("parent", e.parent.is_some()),
                    ("depends_on", !e.depends_on.is_empty() || !e.drop_depends_on.is_empty()),
                ];
                changed.extend(fields.iter().filter(|(_, set)| *set).map(|(name, _)| *name));
                format!("edit {}: {}", e.task.short(), changed.join(", "))
            }
            Payload::TaskClaim(c) => {
                let offline = if c.offline { ", offline" } else { "" };
                format!("claim {} for {}s{offline}", c.task.short(), c.lease)
            }
            Payload::TaskRelease(r) => with_text(format!("release {}", r.task.short()), r.reason.as_deref()),
            Payload::TaskHandoff(h) => {
                let lease = h.lease.map(|l| format!(" for {l}s")).unwrap_or_default();
                with_text(format!("hand {} to {}{lease}", h.task.short(), h.to), h.note.as_deref())
            }
            Payload::TaskCancel(c) => with_text(format!("cancel {}", c.task.short()), Some(&c.reason)),
            Payload::TaskReopen(r) => with_text(format!("reopen {}", r.task.short()), r.reason.as_deref()),
            Payload::TaskComment(c) => with_text(format!("comment on {}", c.task.short()), Some(&c.text)),
            Payload::TaskBlock(b) => with_text(format!("block {}", b.task.short()), Some(&b.reason)),
            Payload::TaskUnblock(u) => format!("unblock {}", u.task.short()),
            Payload::TaskDone(d) => with_text(format!("done {}", d.task.short()), d.summary.as_deref()),
            Payload::CrewPolicy(p) => {
                let grants: Vec<String> = p
                    .grants
                    .iter()
                    .map(|g| {
                        let powers: Vec<&str> = g.powers.iter().map(|p| p.as_str()).collect();
                        format!("{} may {}", g.actor, powers.join(" and "))
                    })
                    .collect();
                match grants.is_empty() {
                    true => "set the fleet policy".to_owned(),
                    false => format!("set the fleet policy: {}", grants.join("; ")),
                }
            }
            Payload::TaskUsage(u) => {
                let mut used: Vec<String> = Vec::new();
                used.extend(u.tokens.map(|t| format!("{t} tokens")));
                used.extend(u.cost.as_ref().map(|c| format!("cost {c}")));
                used.extend(u.seconds.map(|s| format!("{s}s")));
                format!("usage on {}: {}", u.task.short(), used.join(", "))
            }
            Payload::PathReserve(p) => {
                let paths: Vec<String> = p.paths.iter().map(|path| quote::quote(path)).collect();
                let task = p.task.map(|t| format!(" with {}", t.short())).unwrap_or_default();
                format!("reserve {} for {}s{task}", paths.join(", "), p.lease)
            }
            Payload::PathRelease(p) => format!("release reservation {}", p.reservation.short()),
            Payload::SuperviseStep(s) => {
                let on = s.task.map(|t| format!(" on {}", t.short())).unwrap_or_default();
                with_text(format!("{} {} ({}{on})", s.step.as_str(), s.actor, s.flag.as_str()), Some(&s.why))
            }
            Payload::MsgSend(m) => {
                let place = match kinds::Channel::parse(&m.channel) {
                    Ok(kinds::Channel::Named(n)) => format!("#{n}"),
                    Ok(kinds::Channel::Direct(a, b)) => format!("to {}", if self.author == a { b } else { a }),
                    Ok(kinds::Channel::Task(t)) => format!("on {}", t.short()),
                    Err(_) => m.channel.clone(),
                };
                with_text(place, Some(&m.text))
            }
            Payload::MsgJoin(m) => format!("join #{}", m.channel),
            Payload::MsgLeave(m) => format!("leave #{}", m.channel),
            Payload::MsgAck(a) => match a.items.as_slice() {
                [one] => format!("read {}", one.short()),
                many => format!("read {} items", many.len()),
            },
        }
    }

    /// The line describing this record in a commit message:
    /// `task.create 7f3a2c9d "Fix login"`.
    pub fn commit_line(&self) -> String {
        format!("{} {} {}", self.kind(), self.id.short(), self.summary())
    }
}

/// The message of a commit that adds `records`, derived from them alone so a
/// verifier can check it: the first record's line (in fold order) as the
/// summary; with several records, a count, then every record's line.
pub fn commit_message<'a>(records: impl IntoIterator<Item = &'a Record>) -> String {
    let mut sorted: Vec<&Record> = records.into_iter().collect();
    sorted.sort_by_key(|r| r.order_key());
    let lines: Vec<String> = sorted.iter().map(|r| r.commit_line()).collect();
    match lines.as_slice() {
        [] => String::from("git-crew: no records\n"),
        [one] => format!("{one}\n"),
        [first, ..] => format!("{first} (+{} more)\n\n{}\n", lines.len() - 1, lines.join("\n")),
    }
}

/// The fixed message of a merge commit on the branch.
pub const MERGE_MESSAGE: &str = "Merge crew records\n";

/// `head: "first line of text"`, cut to keep summaries one short line.
fn with_text(head: String, text: Option<&str>) -> String {
    let Some(first) = text.and_then(|t| t.lines().find(|l| !l.trim().is_empty())) else { return head };
    let cut: String = first.trim().chars().take(60).collect();
    let more = if cut.chars().count() < first.trim().chars().count() || text.is_some_and(|t| t.trim().contains('\n')) {
        "…"
    } else {
        ""
    };
    format!("{head}: {}", quote::quote(&format!("{cut}{more}")))
}

/// What is wrong with some bytes claimed to be records.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Not UTF-8.
    #[error("not valid UTF-8")]
    NotUtf8,
    /// The file does not end with a newline.
    #[error("file does not end with a newline (truncated?)")]
    MissingNewline,
    /// Something other than a `---` line where a record must start.
    #[error("expected `---` starting a record")]
    ExpectedSeparator,
    /// A git conflict marker.
    #[error("git conflict marker (merged without the crew merge driver: run `git crew install`)")]
    ConflictMarker,
    /// A header line is missing or malformed.
    #[error("malformed or missing `{0}:` header line")]
    BadHeader(&'static str),
    /// A record of a format version newer than [`FORMAT_VERSION`]: written by
    /// a newer git-crew. Nothing after its `v:` line was read.
    #[error("{}", newer_format(*version, kind.as_deref()))]
    NewerFormat {
        /// The record's `v`.
        version: u32,
        /// Its kind, if the line after `v:` reads as a kind line of this format.
        kind: Option<String>,
    },
    /// The record has no `sig:` line.
    #[error("record has no `sig:` line")]
    MissingSignature,
    /// The `sig:` line is malformed.
    #[error("malformed `sig:` line (expected `sig: ed25519 <64 hex> <128 hex>`)")]
    BadSignatureLine,
    /// The signature does not verify.
    #[error("signature does not verify (record edited, forged, or copied from another workspace)")]
    BadSignature,
    /// A body larger than the limit.
    #[error("record body is {0} bytes, over the limit of {max}", max = canonical::MAX_BODY_BYTES)]
    RecordTooLarge(usize),
    /// A file larger than the limit.
    #[error("file is {0} bytes, over the limit of {max}", max = frame::MAX_FILE_BYTES)]
    FileTooLarge(usize),
    /// Too many records in one file.
    #[error("more than {} records in one file", frame::MAX_RECORDS_PER_FILE)]
    TooManyRecords,
    /// A YAML anchor.
    #[error("YAML anchor (`&`) not allowed")]
    Anchor,
    /// A YAML alias.
    #[error("YAML alias (`*`) not allowed")]
    Alias,
    /// A YAML tag.
    #[error("YAML tag (`!`) not allowed")]
    Tag,
    /// The YAML parser refused it (includes duplicate keys).
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// Nested too deeply.
    #[error("nested deeper than {} levels", canonical::MAX_DEPTH)]
    TooDeep,
    /// Too many nodes.
    #[error("more than {} YAML nodes in one record", canonical::MAX_NODES)]
    TooManyNodes,
    /// The body is not a mapping.
    #[error("record body is not a mapping")]
    NotAMapping,
    /// Valid YAML, but not the canonical encoding.
    #[error("not in canonical encoding (see schema/SIGNING.md)")]
    NonCanonical,
    /// A kind format v1 does not have. A newer git-crew writes a new kind only
    /// with a newer `v` ([`Problem::NewerFormat`]), so no version reads it.
    #[error("unknown record kind {0:?} in format v{FORMAT_VERSION}: {NOT_NEWER}")]
    UnknownKind(String),
    /// A field the record's kind does not have in format v1 (at the top
    /// level, or inside one of its mappings: `artifacts[0].mirror`).
    #[error("unknown field {field:?} in a {kind} record of format v{FORMAT_VERSION}: {NOT_NEWER}")]
    UnknownField {
        /// The record's kind.
        kind: &'static str,
        /// The field, with its place for a field inside a sequence item.
        field: String,
    },
    /// A value an enumerated field does not have in format v1 (a role, a
    /// receipt class).
    #[error("unknown value {value:?} of field {field:?} in a {kind} record of format v{FORMAT_VERSION}: {NOT_NEWER}")]
    UnknownValue {
        /// The record's kind.
        kind: &'static str,
        /// The field.
        field: &'static str,
        /// The value as written.
        value: String,
    },
    /// A field is missing or has a bad value.
    #[error("bad field: {0}")]
    BadField(String),
    /// Records in a file are not sorted by (at, id), or one appears twice.
    #[error("records out of order (a log file is sorted by at, then id)")]
    OutOfOrder,
    /// The record belongs in another file.
    #[error("record belongs in {0}, not here")]
    WrongFile(String),
}

impl Problem {
    /// The format version a newer git-crew wrote this record in, if that is
    /// what is wrong: the record is not malformed, this git-crew is too old.
    pub fn needs_format(&self) -> Option<u32> {
        match self {
            Problem::NewerFormat { version, .. } => Some(*version),
            _ => None,
        }
    }
}

/// Why an unknown kind, field or value at `v: 1` is an error and not a newer
/// format (`schema/SIGNING.md`, section 17).
const NOT_NEWER: &str = "a newer git-crew writes a new kind, field or value only with a newer `v`, \
so this record is invalid in every version, not newer (schema/SIGNING.md, section 17)";

/// The message of [`Problem::NewerFormat`]: what to upgrade, and in which
/// order (the server's hook before any clone writes the new format).
fn newer_format(version: u32, kind: Option<&str>) -> String {
    let what = match kind {
        Some(k) => format!("a {k:?} record"),
        None => "a record".to_owned(),
    };
    format!(
        "{what} of format v{version}, newer than this git-crew {} reads (format v{FORMAT_VERSION}): \
         upgrade git-crew to a version that reads format v{version} (a server's hook first, then every clone; \
         schema/SIGNING.md, section 17)",
        env!("CARGO_PKG_VERSION")
    )
}

/// A [`Problem`] located in a file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: byte {offset}: {problem}")]
pub struct FileError {
    /// Path of the log file on the branch.
    pub path: String,
    /// Byte offset of the problem in the file.
    pub offset: usize,
    /// What is wrong.
    pub problem: Problem,
}

impl FileError {
    /// Locate `problem` at `offset` in `path`.
    pub fn new(path: &str, (offset, problem): (usize, Problem)) -> FileError {
        FileError { path: path.to_owned(), offset, problem }
    }

    /// The format version this git-crew would have to read to read the file,
    /// if a newer format is what is wrong ([`Problem::needs_format`]).
    pub fn needs_format(&self) -> Option<u32> {
        self.problem.needs_format()
    }
}

/// Check an actor name: 1 to 32 of `a-z 0-9 - _`, starting with a letter.
pub fn validate_name(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let ok = matches!(bytes.next(), Some(b'a'..=b'z'))
        && name.len() <= 32
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid actor name {name:?}: use 1 to 32 of a-z, 0-9, - and _, starting with a letter"))
    }
}

/// Whether `kind` is a syntactically valid dotted kind name.
pub fn validate_kind(kind: &str) -> bool {
    !kind.is_empty() && kind.len() <= 40 && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'.')
}

/// The canonical body of a record.
pub fn body(author: &str, at: Hlc, payload: &Payload) -> Result<String, Problem> {
    let mut map = Mapping::new();
    map.insert("v".into(), Value::Number(FORMAT_VERSION.into()));
    map.insert("kind".into(), payload.kind().into());
    map.insert("author".into(), author.into());
    map.insert("at".into(), at.to_string().into());
    for (k, v) in payload.to_fields() {
        map.insert(k, v);
    }
    canonical::emit(&map)
}

/// Sign and frame a body of `kind` for workspace `ws`: the exact bytes appended
/// to a log file, and the record id. Does not check the body; [`encode`] is the
/// checked path. Exposed so tests and other tools can build arbitrary records.
pub fn seal(ws: &Id, kind: &str, body: &str, key: &Keypair) -> (Vec<u8>, Id) {
    let msg = sign::message(&frame::signing_workspace(kind, ws), kind, body.as_bytes());
    let sig = key.sign(&msg);
    let mut bytes = Vec::with_capacity(body.len() + 220);
    bytes.extend_from_slice(b"---\n");
    bytes.extend_from_slice(body.as_bytes());
    bytes.extend_from_slice(frame::sig_line(&key.public(), &sig).as_bytes());
    (bytes, sign::record_id(&msg))
}

/// Build, validate and sign a record: the decoded record and its stored bytes.
pub fn encode(ws: &Id, author: &str, at: Hlc, payload: Payload, key: &Keypair) -> Result<(Record, Vec<u8>), Problem> {
    validate_name(author).map_err(Problem::BadField)?;
    if at.to_string().parse::<Hlc>().ok() != Some(at) {
        return Err(Problem::BadField(format!("at: {at} is not a representable timestamp (is the clock wrong?)")));
    }
    payload.validate()?;
    let body = body(author, at, &payload)?;
    if body.len() > canonical::MAX_BODY_BYTES {
        return Err(Problem::RecordTooLarge(body.len()));
    }
    let (bytes, id) = seal(ws, payload.kind(), &body, key);
    let record = Record { id, author: author.to_owned(), at, key: key.public(), payload };
    Ok((record, bytes))
}

/// Decode every record of a log file, checking signatures, strict encoding,
/// fields and file order. Offsets in errors are file offsets.
pub fn decode_file(file: &[u8], ws: &Id) -> Result<Vec<Record>, (usize, Problem)> {
    decode_file_except(file, ws, &HashSet::new()).map(|(records, _)| records)
}

/// Like [`decode_file`], but records whose id is in `known` are only located
/// and ordered, not verified or decoded again. Returns the other records and how
/// many of `known` were found in the file.
pub fn decode_file_except(file: &[u8], ws: &Id, known: &HashSet<Id>) -> Result<(Vec<Record>, usize), (usize, Problem)> {
    let frames = frame::split(file)?;
    let messages: Vec<Vec<u8>> = frames.iter().map(|f| f.signed_message(file, ws)).collect();
    let ids: Vec<Id> = messages.iter().map(|m| sign::record_id(m)).collect();
    for (i, pair) in frames.windows(2).enumerate() {
        if (pair[0].at, ids[i]) >= (pair[1].at, ids[i + 1]) {
            return Err((pair[1].span.start, Problem::OutOfOrder));
        }
    }
    let fresh: Vec<usize> = (0..frames.len()).filter(|&i| !known.contains(&ids[i])).collect();
    let items: Vec<_> = fresh.iter().map(|&i| (messages[i].as_slice(), &frames[i].sig, &frames[i].key)).collect();
    if let Err(n) = sign::verify_all(&items) {
        return Err((frames[fresh[n]].span.start, Problem::BadSignature));
    }
    let records = fresh.iter().map(|&i| decode_verified(file, &frames[i], ids[i])).collect::<Result<Vec<_>, _>>()?;
    Ok((records, frames.len() - fresh.len()))
}

/// Decode every record of a log file *without* checking signatures, but with
/// every other check. Only for blobs already verified: those at the tip the
/// index has caught up to (`inbox`, `msg list`, `watch` read them).
pub fn decode_file_trusted(file: &[u8], ws: &Id) -> Result<Vec<Record>, (usize, Problem)> {
    decode_file_trusted_after(file, ws, None)
}

/// [`decode_file_trusted`], only the records after `after` in (`at`, id)
/// order: the others are framed (a lexical scan) but not decoded.
pub fn decode_file_trusted_after(
    file: &[u8],
    ws: &Id,
    after: Option<(Hlc, Id)>,
) -> Result<Vec<Record>, (usize, Problem)> {
    let frames = frame::split(file)?;
    let mut out = Vec::new();
    for f in &frames {
        if after.is_some_and(|(at, _)| f.at < at) {
            continue;
        }
        let id = f.id(file, ws);
        if after.is_none_or(|cut| (f.at, id) > cut) {
            out.push(decode_verified(file, f, id)?);
        }
    }
    Ok(out)
}

/// Verify and decode single framed records (each item is exactly one record,
/// `---` through `sig:`).
/// Offsets in errors are relative to each item.
pub fn decode_records(items: &[&[u8]], ws: &Id) -> Vec<Result<Record, (usize, Problem)>> {
    type Framed = Result<(Frame, Vec<u8>), (usize, Problem)>;
    let framed: Vec<Framed> = items
        .iter()
        .map(|bytes| match frame::split(bytes)?.as_slice() {
            [one] => Ok((one.clone(), one.signed_message(bytes, ws))),
            _ => Err((0, Problem::ExpectedSeparator)),
        })
        .collect();
    let checks: Vec<(&[u8], &sign::Signature, &PublicKey)> =
        framed.iter().flatten().map(|(f, m)| (m.as_slice(), &f.sig, &f.key)).collect();
    let mut valid = sign::verify_each(&checks).into_iter();
    items
        .iter()
        .zip(framed)
        .map(|(bytes, framed)| {
            let (frame, msg) = framed?;
            if !valid.next().unwrap_or(false) {
                return Err((0, Problem::BadSignature));
            }
            decode_verified(bytes, &frame, sign::record_id(&msg))
        })
        .collect()
}

/// Decode one frame whose signature has already been verified.
fn decode_verified(file: &[u8], frame: &Frame, id: Id) -> Result<Record, (usize, Problem)> {
    let at_body = |(offset, p): (usize, Problem)| (frame.body.start + offset, p);
    let stored = &file[frame.body.clone()];
    let mut map = canonical::parse_structure(stored).map_err(at_body)?;
    // A value of the wrong type is often a non-canonical spelling (`02`, `yes`):
    // name that, rather than the type, when the body is not canonical YAML at all.
    let refuse = |map: &serde_norway::Mapping, problem: Problem| match canonical::emit(map) {
        Ok(c) if c.as_bytes() == stored => (frame.body.start, problem),
        Ok(c) => (frame.body.start + canonical::first_difference(c.as_bytes(), stored), Problem::NonCanonical),
        Err(_) => (frame.body.start, Problem::NonCanonical),
    };
    let full = map.clone();
    // The lexical header and the parsed body describe the same bytes, but check
    // rather than assume: the header is what the signature was checked against.
    for key in ["v", "kind", "author", "at"] {
        if map.shift_remove(key).is_none() {
            return Err(refuse(&full, Problem::BadHeader(static_key(key))));
        }
    }
    let payload = Payload::from_fields(&frame.kind, map).map_err(|p| refuse(&full, p))?;
    payload.validate().map_err(|p| (frame.body.start, p))?;
    // One record, one byte string: re-encoding the decoded record must give the
    // stored body exactly (canonical scalars, the kind's key order, no empty
    // optional fields). This is the encoding check; `canonical::parse` would
    // only repeat a weaker one.
    let canonical = body(&frame.author, frame.at, &payload).map_err(|p| (frame.body.start, p))?;
    if canonical.as_bytes() != stored {
        let offset = canonical::first_difference(canonical.as_bytes(), stored);
        return Err((frame.body.start + offset, Problem::NonCanonical));
    }
    Ok(Record { id, author: frame.author.clone(), at: frame.at, key: frame.key, payload })
}

fn static_key(key: &str) -> &'static str {
    match key {
        "v" => "v",
        "kind" => "kind",
        "author" => "author",
        _ => "at",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinds::TaskCreate;

    fn task(title: &str) -> Payload {
        Payload::TaskCreate(TaskCreate {
            title: title.into(),
            body: None,
            labels: vec![],
            priority: 2,
            ..Default::default()
        })
    }

    #[test]
    fn the_largest_ack_fits_in_a_body_whatever_the_author_and_stamp() {
        let items = (0..kinds::MAX_ACK_ITEMS as u16)
            .map(|n| {
                let mut id = [0xff; 32];
                id[..2].copy_from_slice(&n.to_be_bytes());
                Id(id)
            })
            .collect();
        let payload = Payload::MsgAck(kinds::MsgAck { items });
        let author = "a".repeat(32);
        let at = Hlc { ms: 253_402_300_799_999, counter: crate::hlc::MAX_COUNTER };
        let body = body(&author, at, &payload).expect("an ack of MAX_ACK_ITEMS items is a valid body");
        assert!(body.len() <= canonical::MAX_BODY_BYTES, "{} bytes", body.len());
    }

    #[test]
    fn encode_then_decode_and_refuse_another_workspace() {
        let key = Keypair::from_seed([1; 32]);
        let ws = Id([5; 32]);
        let at: Hlc = "2026-11-25T10:00:00.000Z".parse().unwrap();
        assert!(matches!(encode(&ws, "alice", at, task("two\nlines"), &key), Err(Problem::BadField(_))));
        let (r1, mut file) = encode(&ws, "alice", at, task("One \"quoted\" é"), &key).unwrap();
        let (r2, b2) = encode(&ws, "alice", Hlc { counter: 1, ..at }, task("Two"), &key).unwrap();
        file.extend_from_slice(&b2);
        assert_eq!(decode_file(&file, &ws).unwrap(), vec![r1, r2]);
        assert!(matches!(decode_file(&file, &Id([6; 32])), Err((0, Problem::BadSignature))));
    }

    /// Signed and canonical YAML, but with a kind, a field or a value format
    /// v1 does not have: each is refused by name, at the record's body, and
    /// the message says it is invalid, not newer. Only a newer `v` asks for an
    /// upgrade, and only that one tells [`FileError::needs_format`].
    #[test]
    fn unknown_kinds_fields_and_values_are_refused_by_name_not_as_newer() {
        let key = Keypair::from_seed([1; 32]);
        let ws = Id([5; 32]);
        let head = |v: u32, kind: &str| {
            format!("v: {v}\nkind: \"{kind}\"\nauthor: \"alice\"\nat: \"2026-01-15T10:00:00.000Z\"\n")
        };
        let task = "b".repeat(64);
        let cases = [
            (1, "policy.set", "rule: \"x\"\n".to_owned(), Problem::UnknownKind("policy.set".into())),
            (
                1,
                "task.claim",
                format!("task: \"{task}\"\nlease: 60\nexclusive: true\n"),
                Problem::UnknownField { kind: "task.claim", field: "exclusive".into() },
            ),
            (
                1,
                "receipt",
                format!("task: \"{task}\"\nclass: \"usage\"\nsummary: \"s\"\n"),
                Problem::UnknownValue { kind: "receipt", field: "class", value: "usage".into() },
            ),
            (
                2,
                "task.claim",
                format!("task: \"{task}\"\nlease: 60\n"),
                Problem::NewerFormat { version: 2, kind: Some("task.claim".into()) },
            ),
        ];
        for (v, kind, fields, want) in cases {
            let (bytes, _) = seal(&ws, kind, &format!("{}{fields}", head(v, kind)), &key);
            let err = decode_file(&bytes, &ws).expect_err(kind);
            assert_eq!(err, (4, want.clone()), "{kind} at v{v}");
            let located = FileError::new("tasks/x.yaml", err);
            let msg = located.to_string();
            if v == 1 {
                assert_eq!(located.needs_format(), None);
                assert!(msg.contains("format v1") && msg.contains("invalid in every version, not newer"), "{msg}");
            } else {
                assert_eq!(located.needs_format(), Some(2));
                assert!(msg.starts_with("tasks/x.yaml: byte 4: ") && msg.contains("upgrade git-crew"), "{msg}");
            }
        }
    }
}
