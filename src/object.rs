//! Git objects as the workspace branch allows them: trees and commits parsed
//! from their raw bytes, strictly.
//!
//! git itself (and gix) read objects leniently: a tree listing one name twice,
//! a zero-padded mode (`040000`) or entries out of order still decode, and a
//! lenient reader silently takes one of the duplicates. A branch holding such
//! an object verifies on one client and breaks another (`fetch.fsckObjects`
//! refuses it, `git fsck` flags it, a server's merge trips over it). So every
//! tree and commit the store reads is parsed here and must be exactly what git
//! writes: canonical modes, sorted, unique, well-formed names; a commit with a
//! `tree`, its `parent`s, an `author` and a `committer` in git's identity form,
//! no other header, and a UTF-8 message. Anything else is [`Malformed`], naming
//! what is wrong. These are the checks of `git fsck` that can apply to the
//! branch (see `schema/SIGNING.md`, section 8). (The store refuses an empty
//! subtree, a directory with no files, which git never writes: see
//! [`crate::store::Store::files`].)
//!
//! This module knows nothing of git repositories (no gix type appears here):
//! it owns the object id type [`Oid`], the object kinds, and the byte forms of
//! trees and commits, so that a store backend that is not git (the in-memory
//! one of [`crate::store`]) shares every rule with the real one.

use std::fmt;

/// A git object id: the SHA-1 of the object's header and bytes.
///
/// The branch lives in SHA-1 repositories only (gix is built with `sha1`
/// alone), so an id is always 20 bytes. Ordered bytewise, as git orders ids.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid([u8; Oid::LEN]);

impl Oid {
    /// Bytes in an id.
    pub const LEN: usize = 20;

    /// The all-zero id, which names no object.
    pub const NULL: Oid = Oid([0; Oid::LEN]);

    /// The id with these bytes.
    pub const fn from_bytes(bytes: [u8; Oid::LEN]) -> Oid {
        Oid(bytes)
    }

    /// The id whose bytes are `bytes`, if they are exactly [`Oid::LEN`] long.
    pub fn from_slice(bytes: &[u8]) -> Option<Oid> {
        bytes.try_into().ok().map(Oid)
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8; Oid::LEN] {
        &self.0
    }

    /// Whether this is the all-zero id.
    pub fn is_null(&self) -> bool {
        self.0 == [0; Oid::LEN]
    }

    /// Parse exactly 40 lowercase hex digits, the only form a commit header
    /// may carry.
    pub fn from_lower_hex(hex: &str) -> Option<Oid> {
        let canonical =
            hex.len() == Oid::LEN * 2 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        canonical.then(|| hex.parse().ok()).flatten()
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// A string that is not 40 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an object id (40 hex digits)")]
pub struct BadOid(pub String);

impl std::str::FromStr for Oid {
    type Err = BadOid;

    /// 40 hex digits, either case.
    fn from_str(s: &str) -> Result<Oid, BadOid> {
        let bad = || BadOid(s.to_owned());
        if s.len() != Oid::LEN * 2 {
            return Err(bad());
        }
        let mut out = [0u8; Oid::LEN];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = s.get(2 * i..2 * i + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        // `from_str_radix` takes a leading `+`; no hex digit is one.
        if s.bytes().any(|b| !b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Oid(out))
    }
}

/// The kind of a git object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// File content.
    Blob,
    /// A directory.
    Tree,
    /// A commit.
    Commit,
    /// An annotated tag.
    Tag,
}

impl Kind {
    /// The kind's name in git's object header.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Blob => "blob",
            Kind::Tree => "tree",
            Kind::Commit => "commit",
            Kind::Tag => "tag",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An object that is not in the one form the branch allows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what} {id}: {why}")]
pub struct Malformed {
    /// `tree` or `commit`.
    pub what: &'static str,
    /// The object.
    pub id: Oid,
    /// What is wrong.
    pub why: String,
}

/// The mode of a tree entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// `100644`: a plain file.
    File,
    /// `100755`: an executable file.
    Executable,
    /// `120000`: a symbolic link.
    Link,
    /// `40000`: a directory.
    Tree,
    /// `160000`: a submodule.
    Submodule,
}

impl Mode {
    /// The mode's only spelling in a tree object.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Mode::File => b"100644",
            Mode::Executable => b"100755",
            Mode::Link => b"120000",
            Mode::Tree => b"40000",
            Mode::Submodule => b"160000",
        }
    }

    fn parse(bytes: &[u8]) -> Option<Mode> {
        [Mode::File, Mode::Executable, Mode::Link, Mode::Tree, Mode::Submodule]
            .into_iter()
            .find(|m| m.as_bytes() == bytes)
    }

    /// The mode as git prints it (`100644`, `040000`).
    pub fn octal(self) -> &'static str {
        match self {
            Mode::File => "100644",
            Mode::Executable => "100755",
            Mode::Link => "120000",
            Mode::Tree => "040000",
            Mode::Submodule => "160000",
        }
    }
}

/// One entry of a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its mode.
    pub mode: Mode,
    /// Its name: one path component, UTF-8.
    pub name: String,
    /// The object it names.
    pub oid: Oid,
}

/// Parse a tree object strictly (see the module docs).
pub fn parse_tree(id: Oid, data: &[u8]) -> Result<Vec<Entry>, Malformed> {
    let bad = |why: String| Malformed { what: "tree", id, why };
    let hash_len = Oid::LEN;
    let mut entries: Vec<Entry> = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ').ok_or_else(|| bad("truncated entry".into()))?;
        let mode_bytes = &rest[..space];
        let mode = Mode::parse(mode_bytes).ok_or_else(|| {
            let shown = String::from_utf8_lossy(mode_bytes);
            if mode_bytes.first() == Some(&b'0') {
                bad(format!("zero-padded mode {shown:?}"))
            } else {
                bad(format!("mode {shown:?} is not one of git's modes"))
            }
        })?;
        rest = &rest[space + 1..];
        let nul = rest.iter().position(|b| *b == 0).ok_or_else(|| bad("truncated entry name".into()))?;
        let name = std::str::from_utf8(&rest[..nul]).map_err(|_| bad("entry name is not UTF-8".into()))?.to_owned();
        rest = &rest[nul + 1..];
        if rest.len() < hash_len {
            return Err(bad(format!("truncated object id of {name:?}")));
        }
        let oid = Oid::from_slice(&rest[..hash_len]).ok_or_else(|| bad(format!("bad object id of {name:?}")))?;
        rest = &rest[hash_len..];
        check_name(&name).map_err(|why| bad(format!("entry {name:?}: {why}")))?;
        if oid.is_null() {
            return Err(bad(format!("entry {name:?} names the null object id")));
        }
        if let Some(last) = entries.last() {
            if last.name == name {
                return Err(bad(format!("duplicate entry {name:?}")));
            }
            if sort_key(last) >= sort_key_of(&name, mode) {
                return Err(bad(format!("entries not sorted: {:?} before {name:?}", last.name)));
            }
        }
        entries.push(Entry { mode, name, oid });
    }
    // A file and a directory of one name sort apart (`a` < `a.b` < `a/`), so
    // adjacent-pair checks cannot see every duplicate name.
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(format!("duplicate entry {:?}", w[0])));
    }
    Ok(entries)
}

fn check_name(name: &str) -> Result<(), &'static str> {
    match name {
        "" => Err("empty name"),
        "." | ".." => Err("`.` and `..` are not names"),
        n if n.contains('/') => Err("a name holds no `/`"),
        n if n.eq_ignore_ascii_case(".git") => Err("`.git` is not allowed"),
        _ => Ok(()),
    }
}

/// git orders tree entries by name, a directory's name read as if it ended in `/`.
fn sort_key_of(name: &str, mode: Mode) -> Vec<u8> {
    let mut key = name.as_bytes().to_vec();
    if mode == Mode::Tree {
        key.push(b'/');
    }
    key
}

fn sort_key(e: &Entry) -> Vec<u8> {
    sort_key_of(&e.name, e.mode)
}

/// Serialise entries the way git does (sorted, canonical modes).
pub fn write_tree(entries: &[Entry]) -> Vec<u8> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by_key(|e| sort_key(e));
    let mut out = Vec::new();
    for e in sorted {
        out.extend_from_slice(e.mode.as_bytes());
        out.push(b' ');
        out.extend_from_slice(e.name.as_bytes());
        out.push(0);
        out.extend_from_slice(e.oid.as_bytes());
    }
    out
}

/// `Name <email> seconds ±hhmm`, git's identity line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// The email.
    pub email: String,
    /// Seconds since the epoch.
    pub seconds: i64,
    /// The time zone as written, `+0000`.
    pub tz: String,
}

/// A commit as the branch allows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Its root tree.
    pub tree: Oid,
    /// Its parents, in order.
    pub parents: Vec<Oid>,
    /// Its author.
    pub author: Ident,
    /// Its committer.
    pub committer: Ident,
    /// Its message.
    pub message: String,
}

/// Parse a commit object strictly (see the module docs).
pub fn parse_commit(id: Oid, data: &[u8]) -> Result<Commit, Malformed> {
    let bad = |why: String| Malformed { what: "commit", id, why };
    let text = std::str::from_utf8(data).map_err(|_| bad("not UTF-8".into()))?;
    let (headers, message) = text.split_once("\n\n").ok_or_else(|| bad("no blank line before the message".into()))?;
    let mut lines = headers.split('\n').peekable();
    let hex = |line: Option<&str>, key: &str| -> Result<Oid, Malformed> {
        let value = line.and_then(|l| l.strip_prefix(key)).and_then(|l| l.strip_prefix(' '));
        let value = value.ok_or_else(|| bad(format!("expected a `{key}` header")))?;
        Oid::from_lower_hex(value).ok_or_else(|| bad(format!("`{key}` is not a lowercase object id: {value:?}")))
    };
    let tree = hex(lines.next(), "tree")?;
    let mut parents = Vec::new();
    while lines.peek().is_some_and(|l| l.starts_with("parent ")) {
        parents.push(hex(lines.next(), "parent")?);
    }
    let mut ident = |key: &str| -> Result<Ident, Malformed> {
        let line = lines.next().and_then(|l| l.strip_prefix(key)).and_then(|l| l.strip_prefix(' '));
        let line = line.ok_or_else(|| bad(format!("expected an `{key}` header")))?;
        parse_ident(line).map_err(|why| bad(format!("{key}: {why}")))
    };
    let author = ident("author")?;
    let committer = ident("committer")?;
    if let Some(extra) = lines.next() {
        let key = extra.split(' ').next().unwrap_or(extra);
        return Err(bad(format!(
            "unexpected header {key:?}: the branch's commits carry only tree, parents, author and committer"
        )));
    }
    Ok(Commit { tree, parents, author, committer, message: message.to_owned() })
}

/// Serialise a commit the way git does. Only what [`parse_commit`] accepts
/// reads back: the store checks that before it writes one (see
/// `Store::write_commit`), as a commit the branch would refuse must not be
/// written in the first place.
pub fn write_commit(c: &Commit) -> Vec<u8> {
    let mut out = format!("tree {}\n", c.tree);
    for p in &c.parents {
        out.push_str(&format!("parent {p}\n"));
    }
    for (key, i) in [("author", &c.author), ("committer", &c.committer)] {
        out.push_str(&format!("{key} {} <{}> {} {}\n", i.name, i.email, i.seconds, i.tz));
    }
    out.push('\n');
    out.push_str(&c.message);
    out.into_bytes()
}

fn parse_ident(line: &str) -> Result<Ident, String> {
    let (name, rest) = line.split_once(" <").ok_or("expected `Name <email> time zone`")?;
    let (email, rest) = rest.split_once("> ").ok_or("expected `<email>` then the time")?;
    let (time, tz) = rest.split_once(' ').ok_or("expected the time and the time zone")?;
    if name.is_empty() || name.contains(['<', '>']) || email.contains(['<', '>']) {
        return Err("malformed name or email".into());
    }
    let digits = !time.is_empty() && time.bytes().all(|b| b.is_ascii_digit());
    if !digits || (time.len() > 1 && time.starts_with('0')) {
        return Err(format!("bad time {time:?}"));
    }
    let tz_ok = tz.len() == 5 && matches!(tz.as_bytes()[0], b'+' | b'-') && tz[1..].bytes().all(|b| b.is_ascii_digit());
    if !tz_ok {
        return Err(format!("bad time zone {tz:?}"));
    }
    let seconds = time.parse().map_err(|_| format!("time {time:?} out of range"))?;
    Ok(Ident { name: name.to_owned(), email: email.to_owned(), seconds, tz: tz.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes([n; 20])
    }

    /// Tree entries as (mode, name, object id byte).
    type Raw<'a> = &'a [(&'a str, &'a str, u8)];

    fn raw(entries: Raw<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        for (mode, name, n) in entries {
            out.extend_from_slice(mode.as_bytes());
            out.push(b' ');
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(oid(*n).as_bytes());
        }
        out
    }

    #[test]
    fn trees_must_be_canonical() {
        let ok = raw(&[("100644", ".gitattributes", 1), ("100644", "CREW.yaml", 2), ("40000", "tasks", 3)]);
        let entries = parse_tree(oid(9), &ok).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(write_tree(&entries), ok);
        let cases: &[(Raw<'_>, &str)] = &[
            (&[("100644", "CREW.yaml", 2), ("100644", "CREW.yaml", 2)], "duplicate"),
            (&[("040000", "tasks", 3)], "zero-padded"),
            (&[("100664", "a", 3)], "not one of"),
            (&[("100644", "b", 1), ("100644", "a", 2)], "not sorted"),
            (&[("100644", "a", 1), ("100644", "a.b", 2), ("40000", "a", 3)], "duplicate"),
            (&[("100644", "..", 1)], "not names"),
            (&[("100644", "", 1)], "empty"),
            (&[("40000", ".GIT", 1)], ".git"),
            (&[("100644", "a", 0)], "null"),
        ];
        for (entries, why) in cases {
            let err = parse_tree(oid(9), &raw(entries)).unwrap_err();
            assert!(err.why.contains(why), "{entries:?}: {err}");
        }
        let mut truncated = ok.clone();
        truncated.pop();
        assert!(parse_tree(oid(9), &truncated).is_err());
    }

    #[test]
    fn commits_must_be_canonical() {
        let t = oid(0xab).to_string();
        let p = oid(2).to_string();
        let good = format!("tree {t}\nparent {p}\nauthor bob <bob@crew> 1700000000 +0000\ncommitter bob <bob@crew> 1700000000 +0000\n\nmsg\n");
        let c = parse_commit(oid(9), good.as_bytes()).unwrap();
        assert_eq!(write_commit(&c), good.as_bytes());
        assert_eq!(c.parents, vec![oid(2)]);
        assert_eq!(c.author.name, "bob");
        assert_eq!(c.message, "msg\n");
        for (bad, why) in [
            (good.replace("1700000000 +0000\ncommitter", "01700000000 +0000\ncommitter"), "bad time"),
            (good.replace("\n\nmsg", "\ngpgsig x\n\nmsg"), "unexpected header"),
            (good.replace("author bob <bob@crew>", "author <bob@crew>"), "author:"),
            (good.replace(&format!("tree {t}"), &format!("tree {}", t.to_uppercase())), "lowercase"),
            (good.replace("+0000\n\n", "+00\n\n"), "time zone"),
        ] {
            let err = parse_commit(oid(9), bad.as_bytes()).unwrap_err();
            assert!(err.why.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn oids_print_and_parse_as_hex() {
        let hex = "0123456789abcdef0123456789abcdef01234567";
        let id: Oid = hex.parse().unwrap();
        assert_eq!(id.to_string(), hex);
        assert_eq!(hex.to_uppercase().parse::<Oid>(), Ok(id));
        assert_eq!(Oid::from_lower_hex(hex), Some(id));
        assert_eq!(Oid::from_lower_hex(&hex.to_uppercase()), None);
        for bad in ["", "0123", &format!("{hex}0"), &format!("+{}", &hex[1..]), &format!("g{}", &hex[1..]), "é"] {
            assert!(bad.parse::<Oid>().is_err(), "{bad:?}");
        }
        assert!(Oid::NULL.is_null() && !id.is_null());
        assert_eq!(Oid::from_slice(id.as_bytes()), Some(id));
        assert_eq!(Oid::from_slice(&[1; 19]), None);
        assert!(oid(1) < oid(2));
    }
}
