//! The library's layers point one way: a test over the `crate::` paths of
//! `src/` (the binary under `src/bin/` is the top layer and is left out).
//!
//! Every top-level module of the library belongs to one layer of [`LAYERS`];
//! code may name a module of its own layer or of a layer below, never one
//! above, and the modules' graph has no circle. Comments are not read, so a
//! doc link may point anywhere. ARCHITECTURE.md's layer table is this list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, from the bottom up, and the top-level modules each holds.
const LAYERS: &[(&str, &[&str])] = &[
    ("base", &["id", "hlc", "sign", "object", "store"]),
    ("records", &["record", "layout", "merge", "request", "artifact"]),
    ("fold", &["state"]),
    ("reading", &["decode", "index"]),
    ("verification", &["verify"]),
    ("transaction", &["error", "workspace"]),
    ("publishing", &["liveness", "rebase", "fold", "sync", "publish", "repair", "hook"]),
    ("operations", &["tasks", "receipts", "messages", "identities", "supervise", "reservations", "seal"]),
];

/// The layer a top-level module belongs to.
fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, modules)| modules.contains(&module))
}

/// The top-level module a source file belongs to (`src/state/tasks.rs` is
/// in `state`), or `None` for the crate root.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    match first.strip_suffix(".rs") {
        Some("lib") => None,
        Some(stem) => Some(stem.to_owned()),
        None => Some(first),
    }
}

/// The source text without comments (a line's text from `//` on).
fn code_of(text: &str) -> String {
    text.lines().map(|l| l.find("//").map_or(l, |at| &l[..at])).collect::<Vec<_>>().join("\n")
}

/// The top-level modules that `code` names through `crate::`, including
/// those inside a `use crate::{a::…, b}` group.
fn named_modules(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = code[at + "crate::".len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start => {
                        found.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    // The crate root re-exports the operations' error: naming it is naming
    // the `error` module.
    found.into_iter().map(|m| if m == "Error" || m == "Result" { "error".to_owned() } else { m }).collect()
}

fn library_sources(src: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(src)
        .into_iter()
        .map(|e| e.expect("readable src/"))
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .filter(|e| !e.path().starts_with(src.join("bin")))
        .map(|e| e.into_path())
        .collect()
}

/// Every arrow between two top-level modules of the library.
fn arrows() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in library_sources(&src) {
        let Some(module) = module_of(&src, &file) else { continue };
        let text = std::fs::read_to_string(&file).expect("readable source");
        let named = named_modules(&code_of(&text));
        graph.entry(module.clone()).or_default().extend(named.into_iter().filter(|m| *m != module));
    }
    graph
}

#[test]
fn every_library_module_has_a_layer() {
    let unplaced: Vec<_> = arrows().into_keys().filter(|m| layer_of(m).is_none()).collect();
    assert!(unplaced.is_empty(), "modules in no layer of tests/it/layers.rs: {unplaced:?}");
}

#[test]
fn no_arrow_points_up_a_layer() {
    let mut upward = Vec::new();
    for (from, tos) in arrows() {
        for to in tos {
            if let (Some(a), Some(b)) = (layer_of(&from), layer_of(&to)) {
                if b > a {
                    upward.push(format!("{from} ({}) -> {to} ({})", LAYERS[a].0, LAYERS[b].0));
                }
            }
        }
    }
    assert!(upward.is_empty(), "arrows that point up a layer:\n{}", upward.join("\n"));
}

#[test]
fn the_module_graph_has_no_circle() {
    let graph = arrows();
    // Kahn's algorithm: whatever cannot be peeled off sits on a circle.
    let mut left = graph.clone();
    loop {
        let leaves: Vec<String> =
            left.iter().filter(|(_, tos)| tos.iter().all(|t| !left.contains_key(t))).map(|(m, _)| m.clone()).collect();
        if leaves.is_empty() {
            break;
        }
        for leaf in leaves {
            left.remove(&leaf);
        }
    }
    let circle: Vec<String> = left
        .iter()
        .map(|(m, tos)| format!("{m} -> {:?}", tos.iter().filter(|t| left.contains_key(*t)).collect::<Vec<_>>()))
        .collect();
    assert!(circle.is_empty(), "modules on a circle:\n{}", circle.join("\n"));
}

#[test]
fn the_reader_sees_grouped_imports_and_skips_comments() {
    let code = code_of("use crate::{a::B, b, c::{d, e}};\n// crate::zz\nlet x = crate::f::g(); /// crate::yy");
    let names: Vec<_> = named_modules(&code).into_iter().collect();
    assert_eq!(names, ["a", "b", "c", "f"]);
    let root: Vec<_> =
        named_modules("fn f() -> crate::Result<()> { Err(crate::Error::NothingToWrite) }").into_iter().collect();
    assert_eq!(root, ["error"]);
}
