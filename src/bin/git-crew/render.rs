//! Output: JSON for agents, plain text for people. No git, no crypto here.
//!
//! Anyone with a key can put any text in a record, so every piece of human
//! output that can carry text from a record or the branch goes through
//! [`escape`] (or [`block`]) before it reaches a terminal. JSON output is left
//! exactly as serde_json writes it.

use std::fmt::Write as _;

use serde::Serialize;

/// Print `value` as one line of JSON.
pub fn json<T: Serialize>(value: &T) {
    println!("{}", serde_json::to_string(value).expect("output types serialize"));
}

/// Report a failure on stderr: `error: …` (and `hint: …`) for people; for
/// agents exactly one JSON object, `{"error": {"code", "exit", "message",
/// "hint"}}`, where `code` names the exit code and `hint` is the next command
/// to try (or null). Errors can quote records (a block reason, a suspension's
/// reason) and git's output, so the human form is a [`block`].
pub fn error(message: &str, code: i32, hint: Option<&str>, as_json: bool) {
    if as_json {
        json_error(message, code, hint, serde_json::Map::new());
    } else {
        eprintln!("error: {}", block(message, "  "));
        if let Some(hint) = hint {
            eprintln!("hint: try `{hint}`");
        }
    }
}

/// [`error`] for agents, with what the command adds to the error object
/// (`verify` adds the failures it found).
pub fn json_error(message: &str, code: i32, hint: Option<&str>, extra: serde_json::Map<String, serde_json::Value>) {
    let name = crate::exit::info(code).name;
    let mut error = serde_json::json!({ "code": name, "exit": code, "message": message, "hint": hint });
    if let Some(e) = error.as_object_mut() {
        e.extend(extra);
    }
    eprintln!("{}", serde_json::json!({ "error": error }));
}

/// A warning on stderr, for people and agents alike (`warning: …`): for what
/// succeeded but not all the way, like a write the remote did not get.
pub fn warn(message: &str) {
    eprintln!("warning: {}", block(message, "  "));
}

/// `text` made safe to print on a terminal, on one line. Every C0 control
/// (U+0000–U+001F), DEL, every C1 control (U+0080–U+009F) and the bidi
/// controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and the
/// line and paragraph separators (U+2028, U+2029), which
/// could move the cursor, retitle the window or reorder what a reader sees,
/// become visible escapes: `\n`, `\r` and `\t`, and `\u{1b}` (hex) for the
/// rest. A backslash stays as it is, so the result is for reading, not for
/// parsing: `--json` gives the exact text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// [`escape`] for text meant to be read over several lines (a task's body, an
/// error quoting git): its line breaks stay, and every line after the first
/// starts with `indent`, so no line of it can pass for a line of our own output.
pub fn block(text: &str, indent: &str) -> String {
    text.lines().map(escape).collect::<Vec<_>>().join(&format!("\n{indent}"))
}

/// Print lines with one write, not one per line (stdout is line-buffered).
/// Each line is [`escape`]d: a line break inside one is shown, not made.
pub fn lines<I>(lines: I)
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    use std::io::Write;
    let mut text = String::new();
    for line in lines {
        text.push_str(&escape(line.as_ref()));
        text.push('\n');
    }
    // A closed pipe (`git crew log | head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Pad or cut `s` to `width` characters.
pub fn fit(s: &str, width: usize) -> String {
    let count = s.chars().count();
    if count <= width {
        format!("{s}{}", " ".repeat(width - count))
    } else {
        let mut cut: String = s.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}
