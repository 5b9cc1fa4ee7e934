//! Hybrid logical clock timestamps (`at` on every record).
//!
//! An [`Hlc`] is wall-clock milliseconds plus a counter. A writer's next stamp is
//! never behind any stamp it has seen, so a local append sorts after everything it
//! read; ordering never depends on clocks being right, only on stamps being fixed.
//! The text form is canonical: one timestamp has exactly one spelling.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// How far ahead of a judge's clock (the server hook's, a syncing client's) a
/// record may be dated: two seconds. A record from further ahead is refused, so
/// no writer's clock is dragged far forward by someone else's, and a claim
/// cannot be dated past a running lease by more than this (the shortest lease,
/// [`crate::record::kinds::MIN_LEASE_SECS`], is five times longer).
pub const MAX_SKEW_MS: i64 = 2_000;

/// How far ahead of a clone's clock a record it fetches may be dated: one
/// minute. `sync` refuses a remote's commit holding a record dated further
/// ahead (the server hook, at [`MAX_SKEW_MS`], keeps such records off a
/// guarded remote; this bound guards remotes that run no hooks). A writer
/// follows the stamps it has seen up to the same bound, so a clone whose clock
/// is behind the server's by less than a minute still writes records that
/// sort after everything it read, and a record dated ahead can delay no
/// append by more than a minute.
pub const MAX_PEER_SKEW_MS: i64 = 60_000;

/// The largest counter a stamp may carry. A writer that would pass it moves to
/// the next millisecond instead, so no counter saturates or wraps, and a
/// record at the largest counter stalls nobody.
pub const MAX_COUNTER: u32 = 65_535;

/// A hybrid logical clock stamp: milliseconds since the Unix epoch, then a counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hlc {
    /// Wall-clock milliseconds since the Unix epoch (UTC).
    pub ms: i64,
    /// Logical counter that orders stamps sharing one millisecond.
    pub counter: u32,
}

/// A string that is not a canonical HLC stamp.
#[derive(Debug, thiserror::Error)]
#[error("invalid timestamp {0:?}: expected the form 2026-01-31T12:00:00.000Z or 2026-01-31T12:00:00.000Z~3 (a counter of 1 to 65535)")]
pub struct HlcParseError(pub String);

/// Milliseconds added to this process's wall clock (see [`skew_clock`]).
static SKEW_MS: AtomicI64 = AtomicI64::new(0);

/// Make this process's clock read `ms` milliseconds off the system's (ahead
/// when positive), for every stamp and lease it judges from now on. Fault
/// drills use it to run clients whose clocks disagree, within
/// [`MAX_SKEW_MS`] or beyond it, without changing the machine's clock.
pub fn skew_clock(ms: i64) {
    SKEW_MS.store(ms, Ordering::Relaxed);
}

impl Hlc {
    /// The current wall-clock time (skewed by [`skew_clock`]) with counter zero.
    pub fn now() -> Hlc {
        Hlc { ms: Utc::now().timestamp_millis().saturating_add(SKEW_MS.load(Ordering::Relaxed)), counter: 0 }
    }

    /// The next stamp for a writer whose clock reads `now` and who has seen `seen`:
    /// strictly greater than `seen`, and equal to `now` when the wall clock is ahead.
    pub fn next(now: Hlc, seen: Hlc) -> Hlc {
        if now.ms > seen.ms {
            Hlc { ms: now.ms, counter: 0 }
        } else if seen.counter >= MAX_COUNTER {
            Hlc { ms: seen.ms.saturating_add(1), counter: 0 }
        } else {
            Hlc { ms: seen.ms, counter: seen.counter + 1 }
        }
    }

    /// Whether this stamp lies further in the future than the allowed skew from `now`.
    pub fn too_far_ahead_of(&self, now: Hlc) -> bool {
        self.ms > now.ms.saturating_add(MAX_SKEW_MS)
    }

    /// The wall-clock part as a UTC date-time, if representable.
    pub fn datetime(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.ms)
    }

    /// The wall-clock part in RFC 3339 with milliseconds, in UTC
    /// (`2026-12-01T10:00:00.000Z`), without the counter: what every JSON
    /// output shows beside the counter in a field of its own. A stamp outside
    /// the calendar chrono knows (no verified record has one) shows as `@ms`.
    pub fn rfc3339(&self) -> String {
        match self.datetime() {
            Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => format!("@{}", self.ms),
        }
    }

    /// A time as people and agents write it: a stamp in its canonical form
    /// (with `~counter`), any RFC 3339 time (with or without fractions, any
    /// offset), or a day `2026-12-01` (its midnight UTC).
    pub fn parse_loose(s: &str) -> Result<Hlc, HlcParseError> {
        if let Ok(at) = s.parse::<Hlc>() {
            return Ok(at);
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
            return Ok(Hlc { ms: t.timestamp_millis(), counter: 0 });
        }
        chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|t| Hlc { ms: t.and_utc().timestamp_millis(), counter: 0 })
            .ok_or_else(|| HlcParseError(s.to_owned()))
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())?;
        if self.counter > 0 {
            write!(f, "~{}", self.counter)?;
        }
        Ok(())
    }
}

impl FromStr for Hlc {
    type Err = HlcParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || HlcParseError(s.to_owned());
        let (time, counter) = match s.split_once('~') {
            Some((t, c)) => {
                let counter: u32 = c.parse().map_err(|_| err())?;
                if counter == 0 || counter > MAX_COUNTER {
                    return Err(err());
                }
                (t, counter)
            }
            None => (s, 0),
        };
        let parsed = DateTime::parse_from_rfc3339(time).map_err(|_| err())?;
        let hlc = Hlc { ms: parsed.timestamp_millis(), counter };
        // Only the canonical spelling is accepted, so one stamp has one byte form.
        if hlc.to_string() != s {
            return Err(err());
        }
        Ok(hlc)
    }
}

/// Serde for an [`Hlc`] as its canonical text (record fields use this; the
/// cache keeps stamps as numbers).
pub mod as_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Hlc;

    /// Serialize as canonical text.
    pub fn serialize<S: Serializer>(at: &Hlc, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_string())
    }

    /// Deserialize from canonical text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hlc, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde for an optional [`Hlc`] as its canonical text, or null.
pub mod as_text_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Hlc;

    /// Deserialize from canonical text, or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Hlc>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }

    /// Serialize as canonical text, or null.
    pub fn serialize<S: Serializer>(at: &Option<Hlc>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&at.to_string()),
            None => s.serialize_none(),
        }
    }
}

impl Hlc {
    /// The UTC date of the wall-clock part, `yyyy-mm-dd` (log files of messages
    /// are split by day).
    pub fn day(&self) -> String {
        self.datetime().map_or_else(|| "0000-00-00".to_owned(), |t| t.format("%Y-%m-%d").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_times_accept_rfc3339_with_or_without_fractions_and_days() {
        let ms = |s: &str| Hlc::parse_loose(s).unwrap();
        let at = Hlc { ms: 1_796_112_000_000, counter: 0 };
        assert_eq!(at.rfc3339(), "2026-12-01T08:00:00.000Z");
        for s in
            ["2026-12-01T08:00:00Z", "2026-12-01T08:00:00.000Z", "2026-12-01T09:00:00+01:00", "2026-12-01T08:00:00.0Z"]
        {
            assert_eq!(ms(s), at, "{s}");
        }
        assert_eq!(ms("2026-12-01T08:00:00.000Z~7"), Hlc { counter: 7, ..at });
        assert_eq!(ms("2026-12-01"), Hlc { ms: at.ms - 8 * 3_600_000, counter: 0 });
        for bad in ["", "yesterday", "2026-13-01", "1796112000000", "2026-12-01T08:00:00.000Z~0"] {
            assert!(Hlc::parse_loose(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips_and_rejects_non_canonical() {
        let h: Hlc = "2026-11-25T10:33:25.123Z~3".parse().unwrap();
        assert_eq!(h.counter, 3);
        assert_eq!(h.to_string(), "2026-11-25T10:33:25.123Z~3");
        assert!("2026-11-25T10:33:25.123Z~0".parse::<Hlc>().is_err());
        assert!("2026-11-25T10:33:25.123+00:00".parse::<Hlc>().is_err());
        assert!("2026-11-25T10:33:25Z".parse::<Hlc>().is_err());
    }

    #[test]
    fn next_is_monotonic() {
        let seen = Hlc { ms: 100, counter: 4 };
        assert_eq!(Hlc::next(Hlc { ms: 50, counter: 0 }, seen), Hlc { ms: 100, counter: 5 });
        assert_eq!(Hlc::next(Hlc { ms: 200, counter: 0 }, seen), Hlc { ms: 200, counter: 0 });
        // The largest counter moves the writer to the next millisecond: no
        // stamp repeats, however far ahead the stamp seen is.
        let top = Hlc { ms: 100, counter: MAX_COUNTER };
        assert_eq!(Hlc::next(Hlc { ms: 50, counter: 0 }, top), Hlc { ms: 101, counter: 0 });
        assert!("2026-11-25T10:33:25.123Z~65535".parse::<Hlc>().is_ok());
        assert!("2026-11-25T10:33:25.123Z~65536".parse::<Hlc>().is_err());
        assert!("2026-11-25T10:33:25.123Z~4294967295".parse::<Hlc>().is_err());
    }
}
