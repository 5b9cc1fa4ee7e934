//! Fuzz what the server hook reads before it verifies anything: `pre-receive`
//! input (`hook::parse_pre_receive`, and `hook::parse_pre_push` on the same
//! bytes) and raw tree and commit objects (`object::parse_tree`,
//! `object::parse_commit`, under a fixed object id). None may panic, and what
//! they accept holds together: hook lines round-trip, and an accepted tree or
//! commit is exactly the one byte string git writes for what was parsed (the
//! branch allows one form of each object only).

#![no_main]

use std::collections::HashSet;
use std::sync::OnceLock;

use git_crew::hook::{self, RefUpdate};
use git_crew::object;
use libfuzzer_sys::fuzz_target;

/// The object id every tree and commit input is parsed as. It is taken
/// through the hook's own parser, so this crate needs no gix of its own.
fn fixed() -> &'static RefUpdate {
    static FIXED: OnceLock<RefUpdate> = OnceLock::new();
    FIXED.get_or_init(|| {
        let line = format!("{0} {0} refs/heads/crew\n", "5a".repeat(20));
        hook::parse_pre_receive(&line).expect("a valid pre-receive line").remove(0)
    })
}

fn fuzz_hook_input(text: &str) {
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    if let Ok(updates) = hook::parse_pre_receive(text) {
        assert_eq!(updates.len(), lines, "one update per non-blank line");
        let zero = "0".repeat(40);
        let shown = |oid: Option<String>| oid.unwrap_or_else(|| zero.clone());
        let mut again = String::new();
        for u in &updates {
            assert!(!u.name.is_empty() && !u.name.contains(char::is_whitespace), "{:?}", u.name);
            let old = shown(u.old.map(|o| o.to_string()));
            let new = shown(u.new.map(|o| o.to_string()));
            again.push_str(&format!("{old} {new} {}\n", u.name));
        }
        let reparsed = hook::parse_pre_receive(&again).expect("what was parsed, written again, parses");
        assert_eq!(reparsed, updates, "pre-receive lines round-trip");
    }
    if let Ok(updates) = hook::parse_pre_push(text) {
        assert_eq!(updates.len(), lines, "one update per non-blank line");
    }
}

fn fuzz_tree(data: &[u8]) {
    let id = fixed().old.expect("the fixed id");
    if let Ok(entries) = object::parse_tree(id, data) {
        assert_eq!(object::write_tree(&entries), data, "an accepted tree is git's one form of its entries");
        let names: HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names.len(), entries.len(), "names are unique");
        for e in &entries {
            assert!(!e.oid.is_null(), "no entry names the null id");
            assert!(!e.name.is_empty() && !e.name.contains('/') && e.name != "." && e.name != "..");
            assert!(!e.name.eq_ignore_ascii_case(".git"));
        }
    }
}

fn fuzz_commit(data: &[u8]) {
    let id = fixed().old.expect("the fixed id");
    if let Ok(c) = object::parse_commit(id, data) {
        let ident = |i: &object::Ident| format!("{} <{}> {} {}", i.name, i.email, i.seconds, i.tz);
        let mut again = format!("tree {}\n", c.tree);
        for p in &c.parents {
            again.push_str(&format!("parent {p}\n"));
        }
        again.push_str(&format!("author {}\ncommitter {}\n\n{}", ident(&c.author), ident(&c.committer), c.message));
        assert_eq!(again.as_bytes(), data, "an accepted commit is git's one form of its fields");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        fuzz_hook_input(text);
    }
    fuzz_hook_input(&String::from_utf8_lossy(data));
    fuzz_tree(data);
    fuzz_commit(data);
});
