//! Output: JSON for agents, plain text for people. No git, no crypto here.

use serde::Serialize;

/// Print `value` as one line of JSON.
pub fn json<T: Serialize>(value: &T) {
    println!("{}", serde_json::to_string(value).expect("output types serialize"));
}

/// Report an error on stderr: `error: …` for people, `{"error":…,"exit":…}` for agents.
pub fn error(err: &anyhow::Error, code: i32, as_json: bool) {
    let message = format!("{err:#}");
    if as_json {
        eprintln!("{}", serde_json::json!({ "error": message, "exit": code }));
    } else {
        eprintln!("error: {message}");
    }
}

/// Print lines with one write, not one per line (stdout is line-buffered).
pub fn lines<I: IntoIterator<Item = String>>(lines: I) {
    use std::io::Write;
    let mut text = String::new();
    for line in lines {
        text.push_str(&line);
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
