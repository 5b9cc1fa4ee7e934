//! `q(s)`: how commit messages quote a record's text (SIGNING.md 8.4).
//!
//! The quoting is Rust's Debug formatting of a string as of Unicode 17.0.0,
//! with the characters it writes as `\u{…}` taken from a frozen list
//! (`schema/debug-escapes.txt`, the one a verifier in another
//! language reads) rather than from the toolchain's Unicode tables. Commit
//! messages are checked against the records they carry, so this must never
//! change with the compiler that built git-crew.

use std::fmt::Write;
use std::sync::OnceLock;

const LIST: &str = include_str!("../../schema/debug-escapes.txt");

/// The listed ranges of code points, sorted, inclusive.
fn escaped() -> &'static [(u32, u32)] {
    static RANGES: OnceLock<Vec<(u32, u32)>> = OnceLock::new();
    RANGES.get_or_init(|| {
        let hex = |h: &str| u32::from_str_radix(h.trim(), 16).expect("debug-escapes.txt holds hex code points");
        LIST.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_once("..").map_or_else(|| (hex(l), hex(l)), |(a, b)| (hex(a), hex(b))))
            .collect()
    })
}

/// Whether `c` is written as `\u{…}`.
pub fn is_escaped(c: char) -> bool {
    let ranges = escaped();
    let at = ranges.partition_point(|(_, last)| *last < c as u32);
    ranges.get(at).is_some_and(|(first, _)| *first <= c as u32)
}

/// `s` quoted: `"`, each character written as SIGNING.md 8.4 says, `"`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\0' => out.push_str("\\0"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_escaped(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_signing_md_says() {
        let shown = quote("\0\t\n\r\"\\ 'é\u{301}\u{a0}\u{1}\u{7f}\u{200b}\u{2028}\u{feff}\u{e0001}🚀");
        assert_eq!(
            shown,
            "\"\\0\\t\\n\\r\\\"\\\\ 'é\\u{301}\\u{a0}\\u{1}\\u{7f}\\u{200b}\\u{2028}\\u{feff}\\u{e0001}🚀\""
        );
    }

    /// The list was taken from Rust 1.95's tables (Unicode 17.0.0): on such a
    /// toolchain, `quote` is exactly `{:?}` for every character.
    #[test]
    fn on_unicode_17_it_is_rusts_debug_formatting() {
        if char::UNICODE_VERSION != (17, 0, 0) {
            return;
        }
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let s = c.to_string();
            assert_eq!(quote(&s), format!("{s:?}"), "U+{:04X}", c as u32);
        }
    }
}
