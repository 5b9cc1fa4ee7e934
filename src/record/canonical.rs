//! The canonical YAML encoding of a record body, and its strict parser.
//!
//! A body is a block mapping whose first keys are `v`, `kind`, `author`, `at`.
//! Keys are bare identifiers, strings are always double-quoted with a fixed escape
//! set, integers are plain decimal, booleans are `true`/`false`, sequences and
//! nested mappings are block style indented by two spaces, and absent values are
//! omitted rather than written as null. `schema/SIGNING.md` states the rules.
//!
//! Invariant: [`parse`] accepts a body only if [`emit`] of what it parsed gives
//! back exactly the same bytes, so one record has exactly one byte string, and
//! anchors, aliases, tags, comments, flow style and duplicate keys never verify.

use serde_norway::{Mapping, Value};

use super::Problem;

/// Largest record body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Deepest nesting of collections (the top-level mapping is depth 1).
pub const MAX_DEPTH: usize = 8;
/// Most YAML nodes (scalars and collections) in one body.
pub const MAX_NODES: usize = 4096;

/// Serialize a mapping in canonical form.
pub fn emit(map: &Mapping) -> Result<String, Problem> {
    let mut out = String::with_capacity(256);
    emit_mapping(&mut out, map, 0, false)?;
    Ok(out)
}

fn emit_mapping(out: &mut String, map: &Mapping, indent: usize, continues_line: bool) -> Result<(), Problem> {
    for (n, (k, v)) in map.iter().enumerate() {
        let key = k.as_str().filter(|k| is_key(k)).ok_or(Problem::NonCanonical)?;
        if !(n == 0 && continues_line) {
            push_indent(out, indent);
        }
        out.push_str(key);
        out.push(':');
        emit_nested(out, v, indent)?;
    }
    Ok(())
}

/// Emit a value that follows `key:` or `-`, at the given indentation of that key.
fn emit_nested(out: &mut String, v: &Value, indent: usize) -> Result<(), Problem> {
    match v {
        Value::Sequence(s) if s.is_empty() => out.push_str(" []\n"),
        Value::Mapping(m) if m.is_empty() => out.push_str(" {}\n"),
        Value::Sequence(s) => {
            out.push('\n');
            emit_sequence(out, s, indent + 2)?;
        }
        Value::Mapping(m) => {
            out.push('\n');
            emit_mapping(out, m, indent + 2, false)?;
        }
        scalar => {
            out.push(' ');
            emit_scalar(out, scalar)?;
            out.push('\n');
        }
    }
    Ok(())
}

fn emit_sequence(out: &mut String, seq: &[Value], indent: usize) -> Result<(), Problem> {
    for item in seq {
        push_indent(out, indent);
        out.push('-');
        match item {
            Value::Mapping(m) if !m.is_empty() => {
                out.push(' ');
                emit_mapping(out, m, indent + 2, true)?;
            }
            other => emit_nested(out, other, indent)?,
        }
    }
    Ok(())
}

fn emit_scalar(out: &mut String, v: &Value) -> Result<(), Problem> {
    match v {
        Value::String(s) => quote_into(out, s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => out.push_str(&i.to_string()),
            (None, Some(u)) => out.push_str(&u.to_string()),
            _ => return Err(Problem::NonCanonical),
        },
        _ => return Err(Problem::NonCanonical),
    }
    Ok(())
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn is_key(k: &str) -> bool {
    let mut bytes = k.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z')) && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// Append `s` as a canonical double-quoted YAML scalar.
///
/// `"` and `\` are backslash-escaped; tab, line feed and carriage return use `\t`,
/// `\n`, `\r`; every other character outside YAML's printable set, and the
/// characters YAML treats as line breaks or a byte-order mark (U+0085, U+2028,
/// U+2029, U+FEFF), become `\uXXXX` with lowercase hex. Everything else is literal UTF-8.
pub fn quote_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn needs_escape(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || (0x7f..=0x9f).contains(&u)
        || matches!(u, 0x2028 | 0x2029 | 0xfeff | 0xfffe | 0xffff)
        || (0xd800..=0xdfff).contains(&u)
}

/// Parse a body strictly. Offsets in errors are relative to the body's first byte.
pub fn parse(body: &[u8]) -> Result<Mapping, (usize, Problem)> {
    let map = parse_structure(body)?;
    let canonical = emit(&map).map_err(|p| (0, p))?;
    if canonical.as_bytes() != body {
        return Err((first_difference(canonical.as_bytes(), body), Problem::NonCanonical));
    }
    Ok(map)
}

/// The offset of the first byte where `a` and `b` differ.
pub fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Everything [`parse`] checks except the final canonical comparison: size,
/// anchors, aliases and tags, YAML syntax and duplicate keys, depth and node
/// limits, a top-level mapping. For callers that compare against a stricter
/// re-encoding of their own (the record decoder re-encodes the typed record).
pub fn parse_structure(body: &[u8]) -> Result<Mapping, (usize, Problem)> {
    if body.len() > MAX_BODY_BYTES {
        return Err((0, Problem::RecordTooLarge(body.len())));
    }
    scan_for_references(body)?;
    let value: Value = serde_norway::from_slice(body).map_err(|e| {
        let offset = e.location().map(|l| l.index()).unwrap_or(0);
        (offset, Problem::Yaml(e.to_string()))
    })?;
    let mut nodes = 0;
    check_limits(&value, 1, &mut nodes).map_err(|p| (0, p))?;
    match value {
        Value::Mapping(map) => Ok(map),
        _ => Err((0, Problem::NotAMapping)),
    }
}

/// Find anchors (`&`), aliases (`*`) and tags (`!`) outside double-quoted strings,
/// so they are named as such rather than reported as a generic encoding error.
fn scan_for_references(body: &[u8]) -> Result<(), (usize, Problem)> {
    let mut in_quotes = false;
    let mut escaped = false;
    let mut prev = b'\n';
    for (i, &b) in body.iter().enumerate() {
        if in_quotes {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_quotes = false,
                _ => {}
            }
        } else {
            let at_token_start = matches!(prev, b' ' | b'\n' | b'[' | b'{' | b',');
            match b {
                b'"' => in_quotes = true,
                b'&' if at_token_start => return Err((i, Problem::Anchor)),
                b'*' if at_token_start => return Err((i, Problem::Alias)),
                b'!' if at_token_start => return Err((i, Problem::Tag)),
                _ => {}
            }
        }
        prev = b;
    }
    Ok(())
}

fn check_limits(v: &Value, depth: usize, nodes: &mut usize) -> Result<(), Problem> {
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(Problem::TooManyNodes);
    }
    let children: Box<dyn Iterator<Item = &Value>> = match v {
        Value::Sequence(s) => Box::new(s.iter()),
        Value::Mapping(m) => Box::new(m.values()),
        Value::Tagged(_) => return Err(Problem::Tag),
        _ => return Ok(()),
    };
    if depth > MAX_DEPTH {
        return Err(Problem::TooDeep);
    }
    for child in children {
        check_limits(child, depth + 1, nodes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(body: &str) -> Result<Mapping, (usize, Problem)> {
        parse(body.as_bytes())
    }

    #[test]
    fn canonical_bodies_round_trip() {
        let body = "v: 1\nkind: \"x.y\"\nlist:\n  - \"a\"\n  - \"b\\n\\u0085é\"\nitems:\n  - name: \"n\"\n    size: 3\n  - name: \"m\"\n    size: 4\nflag: true\nempty: []\n";
        let map = round_trip(body).unwrap();
        assert_eq!(emit(&map).unwrap(), body);
    }

    #[test]
    fn strictness() {
        assert!(matches!(round_trip("a: &x 1\nb: *x\n"), Err((3, Problem::Anchor))));
        assert!(matches!(round_trip("a: \"&x\"\nb: *x\n"), Err((11, Problem::Alias))));
        assert!(matches!(round_trip("a: !!str x\n"), Err((_, Problem::Tag))));
        assert!(matches!(round_trip("a: 1\na: 2\n"), Err((_, Problem::Yaml(m))) if m.contains("duplicate")));
        assert!(matches!(round_trip("a: plain\n"), Err((3, Problem::NonCanonical))));
        assert!(matches!(round_trip("a: 1 # c\n"), Err((_, Problem::NonCanonical))));
        assert!(matches!(round_trip("a: ~\n"), Err((_, Problem::NonCanonical))));
        assert!(matches!(round_trip("a: 1.5\n"), Err((_, Problem::NonCanonical))));
        let deep = "a:\n".to_owned()
            + &(1..12).map(|d| format!("{}b{d}:\n", "  ".repeat(d))).collect::<String>()
            + &"  ".repeat(12)
            + "c: 1\n";
        assert!(matches!(round_trip(&deep), Err((_, Problem::TooDeep))));
    }
}
