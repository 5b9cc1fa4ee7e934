//! Framing: splitting a log file into records without parsing YAML.
//!
//! A log file is a sequence of records, each exactly
//!
//! ```text
//! ---\n
//! v: 1\n
//! kind: "<kind>"\n
//! author: "<name>"\n
//! at: "<hlc>"\n
//! <more body lines>
//! sig: ed25519 <64 hex public key> <128 hex signature>\n
//! ```
//!
//! The body is everything from `v:` up to the `sig:` line. The header lines are
//! read lexically so the signature can be checked and the file ordered (by `at`,
//! then id) before any YAML is parsed. Canonical bodies only ever start a line
//! in column 0 with a top-level key, so `---` and `sig:` are unambiguous.

use std::ops::Range;

use crate::hlc::Hlc;
use crate::id::{unhex, Id};
use crate::sign::{self, PublicKey, Signature};

use super::{canonical::MAX_BODY_BYTES, validate_kind, validate_name, Problem, FORMAT_VERSION};

/// Most records one log file may hold.
pub const MAX_RECORDS_PER_FILE: usize = 1_000_000;
/// Largest log file, in bytes.
pub const MAX_FILE_BYTES: usize = 256 * 1024 * 1024;

/// One record located in a file: its byte ranges and lexical header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The whole record, `---` line through `sig:` line, within the file.
    pub span: Range<usize>,
    /// The signed body within the file.
    pub body: Range<usize>,
    /// Format version from the `v:` line.
    pub version: u32,
    /// Record kind from the `kind:` line.
    pub kind: String,
    /// Author from the `author:` line.
    pub author: String,
    /// Timestamp from the `at:` line.
    pub at: Hlc,
    /// The public key named on the `sig:` line.
    pub key: PublicKey,
    /// The signature on the `sig:` line.
    pub sig: Signature,
}

impl Frame {
    /// The record id: sha256 of the signed message under workspace `ws`.
    pub fn id(&self, file: &[u8], ws: &Id) -> Id {
        sign::record_id(&self.signed_message(file, ws))
    }

    /// The exact message the signature covers.
    pub fn signed_message(&self, file: &[u8], ws: &Id) -> Vec<u8> {
        sign::message(&signing_workspace(&self.kind, ws), &self.kind, &file[self.body.clone()])
    }
}

/// The genesis record is signed before its workspace id exists (the id is its own
/// hash), so it alone is signed under the zero workspace id.
pub fn signing_workspace(kind: &str, ws: &Id) -> Id {
    if kind == super::GENESIS_KIND {
        Id::ZERO
    } else {
        *ws
    }
}

/// Split `file` into frames. Offsets in errors are file byte offsets.
pub fn split(file: &[u8]) -> Result<Vec<Frame>, (usize, Problem)> {
    if file.len() > MAX_FILE_BYTES {
        return Err((0, Problem::FileTooLarge(file.len())));
    }
    if let Err(e) = std::str::from_utf8(file) {
        return Err((e.valid_up_to(), Problem::NotUtf8));
    }
    if !file.is_empty() && !file.ends_with(b"\n") {
        return Err((file.len(), Problem::MissingNewline));
    }
    let mut frames = Vec::new();
    let mut lines = Lines { file, pos: 0 };
    while let Some((start, line)) = lines.next_line() {
        check_conflict_marker(start, line)?;
        if line != b"---" {
            return Err((start, Problem::ExpectedSeparator));
        }
        if frames.len() == MAX_RECORDS_PER_FILE {
            return Err((start, Problem::TooManyRecords));
        }
        frames.push(read_record(&mut lines, start)?);
    }
    Ok(frames)
}

fn read_record(lines: &mut Lines<'_>, start: usize) -> Result<Frame, (usize, Problem)> {
    let body_start = lines.pos;
    let mut header = |name: &'static str| -> Result<&str, (usize, Problem)> {
        let (at, line) = lines.next_line().ok_or((body_start, Problem::BadHeader(name)))?;
        check_conflict_marker(at, line)?;
        let rest = line
            .strip_prefix(name.as_bytes())
            .and_then(|r| r.strip_prefix(b": "))
            .ok_or((at, Problem::BadHeader(name)))?;
        Ok(std::str::from_utf8(rest).expect("file was checked to be UTF-8"))
    };
    let version = parse_version(header("v")?).ok_or((body_start, Problem::BadHeader("v")))?;
    if version > FORMAT_VERSION {
        // Nothing after the `v:` line is read as this format: a newer one may
        // spell the rest of its record differently. The kind is named only if
        // the next line happens to read as a kind line, for the message.
        let kind = lines
            .next_line()
            .and_then(|(_, line)| std::str::from_utf8(line.strip_prefix(b"kind: ")?).ok())
            .and_then(unquote)
            .filter(|k| validate_kind(k))
            .map(str::to_owned);
        return Err((body_start, Problem::NewerFormat { version, kind }));
    }
    let kind = unquote(header("kind")?).filter(|k| validate_kind(k)).ok_or((body_start, Problem::BadHeader("kind")))?;
    let author = unquote(header("author")?)
        .filter(|a| validate_name(a).is_ok())
        .ok_or((body_start, Problem::BadHeader("author")))?;
    let at = unquote(header("at")?).and_then(|a| a.parse().ok()).ok_or((body_start, Problem::BadHeader("at")))?;
    loop {
        let Some((at_line, line)) = lines.next_line() else {
            return Err((lines.pos, Problem::MissingSignature));
        };
        check_conflict_marker(at_line, line)?;
        if line == b"---" {
            return Err((at_line, Problem::MissingSignature));
        }
        if let Some(sig) = line.strip_prefix(b"sig: ") {
            if at_line - body_start > MAX_BODY_BYTES {
                return Err((body_start, Problem::RecordTooLarge(at_line - body_start)));
            }
            let (key, sig) = parse_sig_line(sig).ok_or((at_line, Problem::BadSignatureLine))?;
            return Ok(Frame {
                span: start..lines.pos,
                body: body_start..at_line,
                version,
                kind: kind.to_owned(),
                author: author.to_owned(),
                at,
                key,
                sig,
            });
        }
        if line.is_empty() || line.starts_with(b"#") {
            return Err((at_line, Problem::NonCanonical));
        }
    }
}

/// The `v:` value: a decimal integer without a leading zero that fits 32 bits
/// (a longer number is a malformed line, not a newer format).
fn parse_version(s: &str) -> Option<u32> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A header string value: double-quoted, with no escapes (header values never need them).
fn unquote(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains(['"', '\\'])).then_some(inner)
}

fn parse_sig_line(rest: &[u8]) -> Option<(PublicKey, Signature)> {
    let rest = std::str::from_utf8(rest).ok()?.strip_prefix("ed25519 ")?;
    let (key, sig) = rest.split_once(' ')?;
    let key: [u8; 32] = unhex(key)?.try_into().ok()?;
    let sig: [u8; 64] = unhex(sig)?.try_into().ok()?;
    Some((PublicKey(key), Signature(sig)))
}

fn check_conflict_marker(at: usize, line: &[u8]) -> Result<(), (usize, Problem)> {
    let marker = line.starts_with(b"<<<<<<<")
        || line.starts_with(b">>>>>>>")
        || line.starts_with(b"|||||||")
        || line == b"=======";
    if marker {
        Err((at, Problem::ConflictMarker))
    } else {
        Ok(())
    }
}

/// The `sig:` line for a key and signature.
pub fn sig_line(key: &PublicKey, sig: &Signature) -> String {
    format!("sig: ed25519 {} {}\n", crate::id::hex(&key.0), crate::id::hex(&sig.0))
}

struct Lines<'a> {
    file: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    /// The next line without its newline, and its start offset.
    fn next_line(&mut self) -> Option<(usize, &'a [u8])> {
        if self.pos >= self.file.len() {
            return None;
        }
        let start = self.pos;
        let len = self.file[start..].iter().position(|&b| b == b'\n').unwrap_or(self.file.len() - start);
        self.pos = start + len + 1;
        Some((start, &self.file[start..start + len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "sig: ed25519 0000000000000000000000000000000000000000000000000000000000000000 00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\n";

    fn v1_record() -> String {
        format!("---\nv: 1\nkind: \"task.create\"\nauthor: \"bob\"\nat: \"2026-01-15T09:00:00.000Z\"\ntitle: \"t\"\npriority: 2\n{SIG}")
    }

    /// A newer record is refused at its `v:` line, whatever follows it: a
    /// newer format may change everything after that line.
    #[test]
    fn a_newer_version_is_refused_before_anything_else_is_read() {
        let one = v1_record();
        let newer = format!("{one}---\nv: 2\nkind: \"task.claim\"\nwhatever a newer format writes\n");
        let err = split(newer.as_bytes()).unwrap_err();
        assert_eq!(err, (one.len() + 4, Problem::NewerFormat { version: 2, kind: Some("task.claim".into()) }));
        let msg = err.1.to_string();
        for part in
            ["\"task.claim\" record of format v2", "reads (format v1)", "upgrade git-crew", "a server's hook first"]
        {
            assert!(msg.contains(part), "{msg:?} lacks {part:?}");
        }
        // No kind line at all, no `sig:` line: still a newer format, unnamed.
        let bare = "---\nv: 17\nsomething: else\n";
        assert_eq!(split(bare.as_bytes()), Err((4, Problem::NewerFormat { version: 17, kind: None })));
        assert!(Problem::NewerFormat { version: 17, kind: None }.to_string().starts_with("a record of format v17,"));
        // The largest version that fits 32 bits is newer; one beyond it, and
        // any other spelling, is a malformed line.
        let max = format!("---\nv: {}\n", u32::MAX);
        assert!(matches!(split(max.as_bytes()), Err((4, Problem::NewerFormat { version: u32::MAX, .. }))));
        for v in ["4294967296", "02", "2 ", "+2", "0"] {
            let bad = format!("---\nv: {v}\nkind: \"task.claim\"\n");
            assert_eq!(split(bad.as_bytes()), Err((4, Problem::BadHeader("v"))), "v: {v:?}");
        }
        assert_eq!(split(one.as_bytes()).map(|f| f.len()), Ok(1));
    }
}
