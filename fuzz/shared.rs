// The code the fuzz targets run, shared word for word with the corpus replay
// test. `fuzz/fuzz_targets/*.rs` and `tests/it/merge_laws.rs` both `include!`
// this file, so what the fuzzer checks and what `cargo test` replays cannot
// drift apart. Plain `//` comments only: an included file cannot carry inner
// attributes or `//!` docs. Every path is fully qualified so the file can be
// included anywhere.

/// The workspace id every fuzz input is read under.
pub const FUZZ_WS: git_crew::id::Id = git_crew::id::Id([0x5a; 32]);

/// Separates the three inputs of a merge fuzz case: `base`, `ours`, `theirs`.
/// A log file never holds it (a quoted `~~~~` is followed by `"`, not a newline).
pub const MERGE_DELIMITER: &[u8] = b"~~~~\n";

/// Split a merge fuzz input into (base, ours, theirs) at the first two
/// delimiters; missing parts are empty.
pub fn split_merge_input(data: &[u8]) -> [&[u8]; 3] {
    let mut parts: [&[u8]; 3] = [b"", b"", b""];
    let mut rest = data;
    for (i, part) in parts.iter_mut().enumerate() {
        let cut = if i < 2 { rest.windows(MERGE_DELIMITER.len()).position(|w| w == MERGE_DELIMITER) } else { None };
        match cut {
            Some(n) => {
                *part = &rest[..n];
                rest = &rest[n + MERGE_DELIMITER.len()..];
            }
            None => {
                *part = rest;
                rest = b"";
            }
        }
    }
    parts
}

/// Join three inputs into one merge fuzz input (the inverse of [`split_merge_input`]).
pub fn join_merge_input(base: &[u8], ours: &[u8], theirs: &[u8]) -> Vec<u8> {
    [base, MERGE_DELIMITER, ours, MERGE_DELIMITER, theirs].concat()
}

/// Fuzz target `parse`: framing, whole-file decoding and the canonical YAML
/// parser must never panic, and whatever they accept must hold together.
pub fn fuzz_parse(data: &[u8]) {
    use git_crew::record::{self, canonical, frame};
    if let Ok(frames) = frame::split(data) {
        let mut end = 0;
        for f in &frames {
            assert_eq!(f.span.start, end, "frames tile the file");
            assert!(f.span.start < f.body.start && f.body.start <= f.body.end && f.body.end < f.span.end);
            assert!(f.span.end <= data.len());
            end = f.span.end;
            let _ = f.id(data, &FUZZ_WS);
        }
        assert_eq!(end, data.len(), "frames cover the whole file");
    }
    if let Ok(records) = record::decode_file(data, &FUZZ_WS) {
        let frames = frame::split(data).expect("a decoded file frames");
        assert_eq!(frames.len(), records.len());
        for (f, r) in frames.iter().zip(&records) {
            // One record, one byte string: the decoded record re-encodes to the stored body.
            let body = record::body(&r.author, r.at, &r.payload).expect("a decoded record re-encodes");
            assert_eq!(body.as_bytes(), &data[f.body.clone()]);
            assert_eq!(f.id(data, &FUZZ_WS), r.id);
        }
        assert!(records.windows(2).all(|w| w[0].order_key() < w[1].order_key()), "decoded records are sorted");
    }
    if let Ok(map) = canonical::parse(data) {
        let emitted = canonical::emit(&map).expect("a parsed body emits");
        assert_eq!(emitted.as_bytes(), data, "parse accepts only what emit gives back");
    }
}

/// Fuzz target `merge`: split the input into base, ours and theirs and merge
/// them. Nothing may panic; a successful merge must be a fixed point of union
/// with itself and with every input, and must not depend on the order of sides.
pub fn fuzz_merge(data: &[u8]) {
    use git_crew::merge;
    let [base, ours, theirs] = split_merge_input(data);
    let ws = &FUZZ_WS;
    if let Ok(out) = merge::merge(base, ours, theirs, ws) {
        assert_eq!(merge::union(&out, &out, ws).expect("union(out, out)"), out, "idempotent");
        for side in [base, ours, theirs] {
            assert_eq!(merge::union(&out, side, ws).expect("union(out, side)"), out, "out absorbs every input");
            assert_eq!(merge::union(side, &out, ws).expect("union(side, out)"), out, "out absorbs every input");
        }
        assert_eq!(merge::merge(base, theirs, ours, ws).expect("merge with sides swapped"), out, "commutative");
    }
    // Appending one record is a union: same verdict, same bytes.
    let text = |r: Result<Vec<u8>, merge::MergeError>| r.map(|v| String::from_utf8_lossy(&v).into_owned());
    match (merge::insert(ours, theirs, ws), merge::union(ours, theirs, ws)) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "insert(ours, theirs) == union(ours, theirs)"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("insert and union disagree: insert {:?}, union {:?}", text(a), text(b)),
    }
}
