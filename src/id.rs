//! Record and workspace identifiers.
//!
//! An [`Id`] is the sha256 of a record's signed message. Ids are shown
//! abbreviated ([`Id::short`]) and accepted as unique hex prefixes, like git commit ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Number of hex digits shown for an abbreviated id.
pub const SHORT_LEN: usize = 8;

/// A 32-byte identifier: a record id, a task id or a workspace id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Id(pub [u8; 32]);

/// The workspace id is the id of the workspace's genesis record.
pub type WorkspaceId = Id;

impl Id {
    /// The all-zero id: the workspace id under which the genesis record itself is signed.
    pub const ZERO: Id = Id([0; 32]);

    /// The full lowercase hex form.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }

    /// The abbreviated hex form shown to people.
    pub fn short(&self) -> String {
        hex(&self.0[..SHORT_LEN / 2])
    }

    /// Whether the hex form of this id starts with `prefix` (lowercase hex).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.hex().starts_with(prefix)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

/// A string that is not 64 lowercase hex digits.
#[derive(Debug, thiserror::Error)]
#[error("invalid id {0:?}: expected 64 lowercase hex digits")]
pub struct IdParseError(pub String);

impl FromStr for Id {
    type Err = IdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = unhex(s).filter(|b| b.len() == 32).ok_or_else(|| IdParseError(s.to_owned()))?;
        let mut out = [0u8; 32];
        out.copy_from_slice(&bytes);
        Ok(Id(out))
    }
}

/// Serde for an [`Id`] as its 64-digit hex string (record fields use this; the
/// cache keeps ids as bytes).
pub mod as_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Id;

    /// Serialize as hex.
    pub fn serialize<S: Serializer>(id: &Id, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&id.hex())
    }

    /// Deserialize from hex.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for a list of [`Id`]s as hex strings.
pub mod as_hex_list {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Id;

    /// Serialize as a list of hex strings.
    pub fn serialize<S: Serializer>(ids: &[Id], s: S) -> Result<S::Ok, S::Error> {
        ids.iter().map(Id::hex).collect::<Vec<_>>().serialize(s)
    }

    /// Deserialize from a list of hex strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Id>, D::Error> {
        Vec::<String>::deserialize(d)?.iter().map(|h| h.parse().map_err(serde::de::Error::custom)).collect()
    }
}

/// Serde for an optional [`Id`] as a hex string.
pub mod as_hex_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Id;

    /// Serialize as hex (callers skip `None`).
    pub fn serialize<S: Serializer>(id: &Option<Id>, s: S) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.serialize_str(&id.hex()),
            None => s.serialize_none(),
        }
    }

    /// Deserialize from hex.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Id>, D::Error> {
        let hex = Option::<String>::deserialize(d)?;
        hex.map(|h| h.parse().map_err(serde::de::Error::custom)).transpose()
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 0xf) as usize]);
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Bytes of a lowercase hex string; `None` if it is not exactly that.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2).map(|p| Some(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

/// Why a prefix did not name exactly one id.
#[derive(Debug, thiserror::Error)]
pub enum PrefixError {
    /// The prefix is empty or not lowercase hex.
    #[error("{prefix:?} is not an id or id prefix (expected hex digits)")]
    NotHex {
        /// What kind of thing was looked up.
        what: &'static str,
        /// The prefix as given.
        prefix: String,
    },
    /// No id starts with the prefix.
    #[error("no {what} matches {prefix:?}")]
    NotFound {
        /// What kind of thing was looked up (`task`, `record`).
        what: &'static str,
        /// The prefix as given.
        prefix: String,
    },
    /// More than one id starts with the prefix.
    #[error("{prefix:?} is ambiguous: it matches {} {what}s: {}", candidates.len(), candidates.iter().map(Id::short).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        /// What kind of thing was looked up.
        what: &'static str,
        /// The prefix as given.
        prefix: String,
        /// Every id the prefix matches.
        candidates: Vec<Id>,
    },
}

impl PrefixError {
    /// What kind of thing was looked up (`task`, `receipt`).
    pub fn what(&self) -> &'static str {
        match self {
            PrefixError::NotHex { what, .. }
            | PrefixError::NotFound { what, .. }
            | PrefixError::Ambiguous { what, .. } => what,
        }
    }
}

/// Resolve `prefix` against `ids`: exactly one must match.
pub fn resolve_prefix<I>(prefix: &str, what: &'static str, ids: I) -> Result<Id, PrefixError>
where
    I: IntoIterator<Item = Id>,
{
    let p = prefix.to_ascii_lowercase();
    if p.is_empty() || p.len() > 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PrefixError::NotHex { what, prefix: prefix.to_owned() });
    }
    let candidates: Vec<Id> = ids.into_iter().filter(|id| id.has_prefix(&p)).collect();
    match candidates.len() {
        0 => Err(PrefixError::NotFound { what, prefix: prefix.to_owned() }),
        1 => Ok(candidates[0]),
        _ => Err(PrefixError::Ambiguous { what, prefix: prefix.to_owned(), candidates }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_prefixes() {
        let a = Id([0xab; 32]);
        let mut b = Id([0xab; 32]);
        b.0[31] = 0;
        assert_eq!(a.hex().parse::<Id>().unwrap(), a);
        assert_eq!(resolve_prefix("abab", "task", [a]).unwrap(), a);
        assert!(matches!(resolve_prefix("abab", "task", [a, b]), Err(PrefixError::Ambiguous { .. })));
        assert!(matches!(resolve_prefix("cd", "task", [a]), Err(PrefixError::NotFound { .. })));
        assert!(matches!(resolve_prefix("xy", "task", [a]), Err(PrefixError::NotHex { .. })));
    }
}
