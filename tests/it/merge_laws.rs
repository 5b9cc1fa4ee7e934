//! The merge laws of DESIGN.md §4, checked as properties over realistic log
//! files, plus edge cases and a replay of the fuzz seed corpus.
//!
//! Records are real signed `task.create` records of one workspace, by a few
//! authors with deterministic keys, stamped from a small range of `at` values so
//! that ties on `at` are common and the order falls to the id. A file is built
//! from a set of records by sorting on (`at`, id) and concatenating.
//!
//! The seed corpus under `tests/fixtures/fuzz/` is written by this module:
//! `CREW_REGEN_FUZZ_CORPUS=1 cargo test --test it merge_laws::write_seed_corpus`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use git_crew::hlc::Hlc;
use git_crew::id::Id;
use git_crew::merge::{self, MergeError, Side};
use git_crew::record::{self, kinds::TaskCreate, Payload, Problem, Record};
use git_crew::sign::Keypair;
use proptest::prelude::*;

/// The code the fuzz targets run (`fuzz/fuzz_targets/*.rs` include the same file).
mod fuzz_shared {
    include!("../../fuzz/shared.rs");
}

use fuzz_shared::{fuzz_merge, fuzz_parse, join_merge_input, split_merge_input, FUZZ_WS as WS};

const AUTHORS: [&str; 3] = ["alice", "bob", "carol-2"];
/// 2027-01-15T08:00:00.000Z.
const BASE_MS: i64 = 1_800_000_000_000;
const TITLES: [&str; 6] =
    ["Fix login", "Say \"hi\"", "é ü — ünïcødé", "back\\slash", "--- not a separator", "sig: ed25519 not a sig"];
const BODIES: [&str; 3] = ["two\nlines", "---\nsig: ed25519 00\n", "tab\there, cr\r, nel\u{85}"];
const LABELS: [&str; 3] = ["bug", "ui", "p0"];
/// Most records in one generated pool.
const POOL: usize = 12;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() }
}

/// The key of author `i`.
fn key(i: usize) -> Keypair {
    Keypair::from_seed([i as u8 + 1; 32])
}

/// A key no author uses, to re-sign a body under the same id.
fn other_key() -> Keypair {
    Keypair::from_seed([0xee; 32])
}

/// One signed record and its stored bytes.
#[derive(Clone, Debug)]
struct Rec {
    record: Record,
    bytes: Vec<u8>,
}

impl Rec {
    fn key(&self) -> (Hlc, Id) {
        self.record.order_key()
    }
}

/// What a generated record says.
#[derive(Clone, Debug)]
struct Spec {
    author: usize,
    ms: i64,
    counter: u32,
    title: usize,
    nonce: u8,
    body: Option<usize>,
    labels: Vec<usize>,
    priority: u8,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..AUTHORS.len(),
        0..3i64,
        prop_oneof![3 => Just(0u32), 1 => 1..3u32],
        0..TITLES.len(),
        0..4u8,
        prop::option::weighted(0.3, 0..BODIES.len()),
        prop::collection::vec(0..LABELS.len(), 0..3),
        0..=4u8,
    )
        .prop_map(|(author, ms, counter, title, nonce, body, mut labels, priority)| {
            labels.sort();
            labels.dedup();
            Spec { author, ms, counter, title, nonce, body, labels, priority }
        })
}

fn encode(s: &Spec) -> Rec {
    let payload = Payload::TaskCreate(TaskCreate {
        title: format!("{} #{}", TITLES[s.title], s.nonce),
        body: s.body.map(|b| BODIES[b].to_owned()),
        labels: s.labels.iter().map(|&l| LABELS[l].to_owned()).collect(),
        priority: s.priority,
        ..Default::default()
    });
    let at = Hlc { ms: BASE_MS + s.ms, counter: s.counter };
    let (record, bytes) = record::encode(&WS, AUTHORS[s.author], at, payload, &key(s.author)).expect("valid record");
    Rec { record, bytes }
}

/// Records from specs, one per id (a repeated spec is the same record).
fn pool(specs: &[Spec]) -> Vec<Rec> {
    let mut seen = BTreeSet::new();
    specs.iter().map(encode).filter(|r| seen.insert(r.record.id)).collect()
}

/// The log file of a set of records: sorted by (`at`, id), concatenated.
fn file<'a>(recs: impl IntoIterator<Item = &'a Rec>) -> Vec<u8> {
    let sorted: BTreeMap<(Hlc, Id), &Rec> = recs.into_iter().map(|r| (r.key(), r)).collect();
    sorted.values().flat_map(|r| r.bytes.iter().copied()).collect()
}

/// The same file built by inserting records one at a time, in the given order.
fn file_by_inserts<'a>(recs: impl IntoIterator<Item = &'a Rec>) -> Vec<u8> {
    recs.into_iter().fold(Vec::new(), |f, r| merge::insert(&f, &r.bytes, &WS).expect("insert"))
}

/// Records selected by a membership bit.
fn subset(recs: &[(Rec, u8)], bit: u8) -> Vec<Rec> {
    recs.iter().filter(|(_, m)| m & bit != 0).map(|(r, _)| r.clone()).collect()
}

/// A pool where every record carries a random membership mask.
fn masked(bits: u8) -> impl Strategy<Value = Vec<(Rec, u8)>> {
    prop::collection::vec((spec(), 0..(1u8 << bits)), 0..=POOL).prop_map(|v| {
        let (specs, masks): (Vec<Spec>, Vec<u8>) = v.into_iter().unzip();
        let mut seen = BTreeSet::new();
        specs.iter().map(encode).zip(masks).filter(|(r, _)| seen.insert(r.record.id)).collect()
    })
}

/// Three versions of a file: base, and two sides that each contain the base.
/// Returned as the record sets (base, ours, theirs).
fn three_way() -> impl Strategy<Value = (Vec<Rec>, Vec<Rec>, Vec<Rec>)> {
    // Each record is in: 0 none, 1 ours, 2 theirs, 3 both sides, 4 base (and so both sides).
    prop::collection::vec((spec(), 0..5u8), 0..=POOL).prop_map(|v| {
        let (specs, class): (Vec<Spec>, Vec<u8>) = v.into_iter().unzip();
        let mut seen = BTreeSet::new();
        let recs: Vec<(Rec, u8)> =
            specs.iter().map(encode).zip(class).filter(|(r, _)| seen.insert(r.record.id)).collect();
        let pick = |f: fn(u8) -> bool| recs.iter().filter(|(_, c)| f(*c)).map(|(r, _)| r.clone()).collect::<Vec<_>>();
        (pick(|c| c == 4), pick(|c| c == 4 || c & 1 != 0), pick(|c| c == 4 || c & 2 != 0))
    })
}

/// Everything a merge result must be for the union of `sides`: the sorted
/// concatenation of the set, each record exactly once, decoding to the set.
fn assert_is_union(out: &[u8], sides: &[&[Rec]]) {
    let mut set: BTreeMap<(Hlc, Id), &Rec> = BTreeMap::new();
    for side in sides {
        for r in *side {
            set.insert(r.key(), r);
        }
    }
    assert_eq!(out, file(set.values().copied()), "the canonical byte string of the union");
    let decoded = record::decode_file(out, &WS).expect("a merge result decodes");
    let want: Vec<&Record> = set.values().map(|r| &r.record).collect();
    assert_eq!(decoded.iter().collect::<Vec<_>>(), want, "decodes to exactly the union, in order");
    assert!(decoded.windows(2).all(|w| w[0].order_key() < w[1].order_key()), "sorted by (at, id), no repeats");
    for r in set.values() {
        let n = out.windows(r.bytes.len()).filter(|w| *w == r.bytes.as_slice()).count();
        assert_eq!(n, 1, "record {:?} appears exactly once", r.record.id);
    }
}

/// Byte range of each record of a file built by [`file`], in file order.
fn spans(f: &[u8]) -> Vec<std::ops::Range<usize>> {
    record::frame::split(f).expect("frames").into_iter().map(|fr| fr.span).collect()
}

/// How a side may break the base.
#[derive(Clone, Debug)]
enum Damage {
    /// Drop base record `n` (mod the base size).
    Drop(usize),
    /// Replace one byte of base record `n` at offset `at` (mod its length) with `xor` applied.
    Edit { n: usize, at: usize, xor: u8 },
    /// Change one hex digit of the signature of base record `n`: same id, other bytes.
    EditSignature { n: usize, at: usize },
    /// Cut the file somewhere before the end of its last base record.
    Truncate(usize),
    /// Swap two base records.
    Reorder(usize, usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<usize>().prop_map(Damage::Drop),
        (any::<usize>(), any::<usize>(), 1..=255u8).prop_map(|(n, at, xor)| Damage::Edit { n, at, xor }),
        (any::<usize>(), 0..128usize).prop_map(|(n, at)| Damage::EditSignature { n, at }),
        any::<usize>().prop_map(Damage::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Damage::Reorder(a, b)),
    ]
}

/// Apply `d` to the file of `side`, which contains every record of `base`.
/// Returns the damaged bytes and the id of the base record that was dropped or
/// edited, when the damage names one.
fn apply(d: &Damage, base: &[Rec], side: &[Rec]) -> (Vec<u8>, Option<Id>) {
    let bytes = file(side);
    let spans = spans(&bytes);
    let base_ids: BTreeSet<Id> = base.iter().map(|r| r.record.id).collect();
    let mut sorted: Vec<&Rec> = side.iter().collect();
    sorted.sort_by_key(|r| r.key());
    // Indexes (in file order) of the base records.
    let at_base: Vec<usize> = (0..sorted.len()).filter(|&i| base_ids.contains(&sorted[i].record.id)).collect();
    let nth = |n: usize| at_base[n % at_base.len()];
    match *d {
        Damage::Drop(n) => {
            let i = nth(n);
            let mut out = bytes[..spans[i].start].to_vec();
            out.extend_from_slice(&bytes[spans[i].end..]);
            (out, Some(sorted[i].record.id))
        }
        Damage::Edit { n, at, xor } => {
            let i = nth(n);
            let mut out = bytes.clone();
            out[spans[i].start + at % spans[i].len()] ^= xor;
            (out, Some(sorted[i].record.id))
        }
        Damage::EditSignature { n, at } => {
            let i = nth(n);
            let mut out = bytes.clone();
            // The last line is `sig: ed25519 <64 hex> <128 hex>\n`.
            let pos = spans[i].end - 1 - 128 + at;
            out[pos] = if out[pos] == b'0' { b'1' } else { b'0' };
            (out, Some(sorted[i].record.id))
        }
        Damage::Truncate(cut) => {
            let end = spans[*at_base.last().expect("base is not empty")].end;
            (bytes[..cut % end].to_vec(), None)
        }
        Damage::Reorder(a, b) => {
            let (a, b) = (nth(a), nth(b));
            let (a, b) = if a == b { (nth(0), *at_base.last().unwrap()) } else { (a.min(b), a.max(b)) };
            assert_ne!(a, b, "reorder needs two base records");
            let mut order: Vec<usize> = (0..sorted.len()).collect();
            order.swap(a, b);
            (order.iter().flat_map(|&i| bytes[spans[i].clone()].iter().copied()).collect(), None)
        }
    }
}

/// The side a merge error blames, if it blames one.
fn blamed(e: &MergeError) -> Option<Side> {
    match e {
        MergeError::Malformed { side, .. } | MergeError::BaseRecordLost { side, .. } => Some(*side),
        _ => None,
    }
}

/// The same body signed by another key: same id, other bytes.
fn resigned(r: &Rec) -> Vec<u8> {
    let body = record::body(&r.record.author, r.record.at, &r.record.payload).expect("body");
    let (bytes, id) = record::seal(&WS, r.record.kind(), &body, &other_key());
    assert_eq!(id, r.record.id, "the id covers the signed message, not the key");
    assert_ne!(bytes, r.bytes);
    bytes
}

proptest! {
    #![proptest_config(config())]

    /// Sorting and concatenating is the same byte string as inserting one record
    /// at a time, in any order, and it decodes back to the set.
    #[test]
    fn a_set_has_one_file(specs in prop::collection::vec(spec(), 0..=POOL), seed in any::<u64>()) {
        let recs = pool(&specs);
        let sorted = file(&recs);
        let mut shuffled = recs.clone();
        // A deterministic shuffle: generation order is random already; rotate too.
        if !shuffled.is_empty() {
            let k = (seed as usize) % shuffled.len();
            shuffled.rotate_left(k);
        }
        prop_assert_eq!(&file_by_inserts(&shuffled), &sorted);
        prop_assert_eq!(&file_by_inserts(shuffled.iter().rev()), &sorted);
        assert_is_union(&sorted, &[&recs]);
    }

    /// merge(b, x, y) == merge(b, y, x), and the result is the union.
    #[test]
    fn merge_is_commutative_and_is_the_union((base, ours, theirs) in three_way()) {
        let (b, o, t) = (file(&base), file(&ours), file(&theirs));
        let xy = merge::merge(&b, &o, &t, &WS).expect("sides that contain the base merge");
        let yx = merge::merge(&b, &t, &o, &WS).expect("sides that contain the base merge");
        prop_assert_eq!(&xy, &yx);
        assert_is_union(&xy, &[&ours, &theirs]);
        prop_assert_eq!(&merge::union(&o, &t, &WS).expect("union"), &xy, "the base adds nothing");
    }

    /// union(union(x, y), z) == union(x, union(y, z)) == the file of x ∪ y ∪ z.
    #[test]
    fn union_is_associative(recs in masked(3)) {
        let (x, y, z) = (file(&subset(&recs, 1)), file(&subset(&recs, 2)), file(&subset(&recs, 4)));
        let left = merge::union(&merge::union(&x, &y, &WS).unwrap(), &z, &WS).unwrap();
        let right = merge::union(&x, &merge::union(&y, &z, &WS).unwrap(), &WS).unwrap();
        prop_assert_eq!(&left, &right);
        assert_is_union(&left, &[&subset(&recs, 1), &subset(&recs, 2), &subset(&recs, 4)]);
    }

    /// union(x, x) == x, merge(b, x, b) == merge(b, b, x) == x, merge(x, x, x) == x.
    #[test]
    fn merge_is_idempotent(recs in masked(2)) {
        // Bit 1: in x. Bit 2: in the base too (the base is a subset of x).
        let x_recs = subset(&recs, 1);
        let b_recs: Vec<Rec> = recs.iter().filter(|(_, m)| *m == 3).map(|(r, _)| r.clone()).collect();
        let (x, b) = (file(&x_recs), file(&b_recs));
        prop_assert_eq!(&merge::union(&x, &x, &WS).unwrap(), &x);
        prop_assert_eq!(&merge::merge(&b, &x, &b, &WS).unwrap(), &x);
        prop_assert_eq!(&merge::merge(&b, &b, &x, &WS).unwrap(), &x);
        prop_assert_eq!(&merge::merge(&x, &x, &x, &WS).unwrap(), &x);
    }

    /// A side that dropped, edited, truncated or reordered base records is
    /// refused, blaming that side; never a wrong Ok.
    #[test]
    fn any_base_edit_is_refused(
        (base, ours, theirs) in three_way(),
        d in damage(),
        spare in spec(),
        damage_theirs in any::<bool>(),
    ) {
        // The base needs a record (two to reorder); add one to everything if it has none.
        let (mut base, mut ours, mut theirs) = (base, ours, theirs);
        let min = if matches!(d, Damage::Reorder(..)) { 2 } else { 1 };
        let mut extra = spare;
        while base.len() < min {
            let r = encode(&extra);
            extra.nonce = extra.nonce.wrapping_add(17);
            if base.iter().chain(&ours).chain(&theirs).any(|b| b.record.id == r.record.id) {
                continue;
            }
            base.push(r.clone());
            ours.push(r.clone());
            theirs.push(r);
        }
        let (side, damaged, intact) =
            if damage_theirs { (Side::Theirs, &theirs, &ours) } else { (Side::Ours, &ours, &theirs) };
        let (bad, lost) = apply(&d, &base, damaged);
        let (b, good) = (file(&base), file(intact));
        let result =
            if damage_theirs { merge::merge(&b, &good, &bad, &WS) } else { merge::merge(&b, &bad, &good, &WS) };
        let err = match result {
            Ok(out) => {
                return Err(TestCaseError::fail(format!(
                    "merge accepted a damaged {side} side ({d:?}):\n{}",
                    String::from_utf8_lossy(&out)
                )))
            }
            Err(e) => e,
        };
        prop_assert_eq!(blamed(&err), Some(side), "{:?} blames the wrong side: {}", d, err);
        match d {
            Damage::Drop(_) | Damage::EditSignature { .. } => {
                let want = lost.unwrap();
                prop_assert!(
                    matches!(err, MergeError::BaseRecordLost { side: s, id } if s == side && id == want),
                    "{:?}: want BaseRecordLost {{ {}, {:?} }}, got {:?}", d, side, want, err
                );
            }
            Damage::Reorder(..) => prop_assert!(
                matches!(err, MergeError::Malformed { side: s, problem: Problem::OutOfOrder, .. } if s == side),
                "{:?}: want Malformed OutOfOrder, got {:?}", d, err
            ),
            // An edit or a cut either breaks the framing or loses the record.
            Damage::Edit { .. } | Damage::Truncate(_) => prop_assert!(
                matches!(err, MergeError::Malformed { .. } | MergeError::BaseRecordLost { .. }),
                "{:?}: got {:?}", d, err
            ),
        }
    }

    /// One record id with two byte strings (the same body signed by two keys)
    /// never merges: Diverged between sides, BaseRecordLost against the base.
    #[test]
    fn one_id_two_byte_strings_diverge(recs in masked(2), pick in any::<usize>(), spare in spec()) {
        let mut x = subset(&recs, 1);
        let y = subset(&recs, 2);
        let victim = if recs.is_empty() { encode(&spare) } else { recs[pick % recs.len()].0.clone() };
        let forged = Rec { record: victim.record.clone(), bytes: resigned(&victim) };
        // Both byte strings are valid records on their own.
        let by_other_key = Record { key: other_key().public(), ..victim.record.clone() };
        prop_assert_eq!(record::decode_file(&forged.bytes, &WS).unwrap(), vec![by_other_key]);
        x.retain(|r| r.record.id != victim.record.id);
        let mut with_victim = x.clone();
        with_victim.push(victim.clone());
        let mut y_forged: Vec<Rec> = y.into_iter().filter(|r| r.record.id != victim.record.id).collect();
        y_forged.push(forged.clone());
        let (a, b) = (file(&with_victim), file(&y_forged));
        for result in [merge::union(&a, &b, &WS), merge::union(&b, &a, &WS)] {
            prop_assert!(
                matches!(result, Err(MergeError::Diverged { id }) if id == victim.record.id),
                "want Diverged {:?}, got {:?}",
                victim.record.id,
                result.map(|v| String::from_utf8_lossy(&v).into_owned())
            );
        }
        // With the original in the base, the forged side lost a base record.
        let base = file([&victim]);
        let result = merge::merge(&base, &a, &b, &WS);
        prop_assert!(
            matches!(result, Err(MergeError::BaseRecordLost { side: Side::Theirs, id }) if id == victim.record.id),
            "got {:?}", result.map(|v| String::from_utf8_lossy(&v).into_owned())
        );
        // insert of the forged record into a file holding the original.
        let inserted = merge::insert(&a, &forged.bytes, &WS);
        prop_assert!(
            matches!(inserted, Err(MergeError::Diverged { .. })),
            "insert of a re-signed record: {:?}", inserted
        );
    }

    /// insert(file, record) == union(file, record), for a log file and any record:
    /// new, already present, re-signed, earlier or later than the last.
    #[test]
    fn insert_is_union(recs in masked(1), pick in any::<usize>(), spare in spec(), forge in any::<bool>()) {
        let f = file(&subset(&recs, 1));
        let r = if recs.is_empty() { encode(&spare) } else { recs[pick % recs.len()].0.clone() };
        let bytes = if forge { resigned(&r) } else { r.bytes.clone() };
        let inserted = merge::insert(&f, &bytes, &WS);
        let unioned = merge::union(&f, &bytes, &WS);
        match (&inserted, &unioned) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => prop_assert_eq!(format!("{a:?}"), format!("{b:?}")),
            _ => prop_assert!(false, "insert {:?} but union {:?}", inserted, unioned),
        }
    }
}

// ---- edge cases ---------------------------------------------------------------

fn at(ms: i64, counter: u32) -> Spec {
    Spec { author: 0, ms, counter, title: 0, nonce: 0, body: None, labels: vec![], priority: 2 }
}

#[test]
fn empty_inputs() {
    let r = encode(&at(0, 0));
    assert_eq!(merge::merge(b"", b"", b"", &WS).unwrap(), b"");
    assert_eq!(merge::union(b"", &r.bytes, &WS).unwrap(), r.bytes);
    assert_eq!(merge::union(&r.bytes, b"", &WS).unwrap(), r.bytes);
    assert_eq!(merge::insert(b"", &r.bytes, &WS).unwrap(), r.bytes);
    assert_eq!(merge::insert(&r.bytes, b"", &WS).unwrap(), r.bytes);
    assert_eq!(merge::insert(b"", b"", &WS).unwrap(), b"");
    // An empty side lost every base record.
    assert!(matches!(
        merge::merge(&r.bytes, b"", &r.bytes, &WS),
        Err(MergeError::BaseRecordLost { side: Side::Ours, id }) if id == r.record.id
    ));
    assert!(matches!(
        merge::merge(&r.bytes, &r.bytes, b"", &WS),
        Err(MergeError::BaseRecordLost { side: Side::Theirs, id }) if id == r.record.id
    ));
}

#[test]
fn base_ours_theirs_all_equal() {
    let recs = pool(&[at(0, 0), at(0, 0), Spec { nonce: 1, ..at(0, 0) }, at(1, 0), at(1, 2)]);
    assert_eq!(recs.len(), 4);
    let f = file(&recs);
    assert_eq!(merge::merge(&f, &f, &f, &WS).unwrap(), f);
}

#[test]
fn conflict_markers_are_malformed_naming_the_side() {
    let (a, b) = (encode(&at(0, 0)), encode(&at(1, 0)));
    let mut conflicted = a.bytes.clone();
    conflicted.extend_from_slice(b"<<<<<<< ours\n");
    conflicted.extend_from_slice(&b.bytes);
    conflicted.extend_from_slice(b"=======\n>>>>>>> theirs\n");
    let marker = |r: Result<Vec<u8>, MergeError>, want: Side| match r {
        Err(MergeError::Malformed { side, problem: Problem::ConflictMarker, offset }) => {
            assert_eq!(side, want);
            assert_eq!(offset, a.bytes.len());
        }
        other => panic!("want a conflict marker in {want}, got {other:?}"),
    };
    marker(merge::merge(&a.bytes, &conflicted, &a.bytes, &WS), Side::Ours);
    marker(merge::merge(&a.bytes, &a.bytes, &conflicted, &WS), Side::Theirs);
    marker(merge::merge(&conflicted, &a.bytes, &a.bytes, &WS), Side::Base);
    marker(merge::insert(&conflicted, &b.bytes, &WS), Side::Ours);
    // A marker inside a record, where a header line should be.
    let mut inside = a.bytes.clone();
    inside.splice(4..4, b"=======\n".iter().copied());
    assert!(matches!(
        merge::union(&inside, b"", &WS),
        Err(MergeError::Malformed { side: Side::Ours, problem: Problem::ConflictMarker, offset: 4 })
    ));
}

#[test]
fn ties_on_at_fall_to_the_id() {
    let recs = pool(&(0..6).map(|n| Spec { nonce: n, ..at(0, 0) }).collect::<Vec<_>>());
    let f = file(&recs);
    let decoded = record::decode_file(&f, &WS).unwrap();
    assert!(decoded.windows(2).all(|w| w[0].at == w[1].at && w[0].id < w[1].id));
    let (odd, even): (Vec<Rec>, Vec<Rec>) = recs.iter().cloned().partition(|r| r.record.id.0[0] % 2 == 1);
    assert_eq!(merge::union(&file(&odd), &file(&even), &WS).unwrap(), f);
}

/// `insert` refuses a malformed file exactly as `union` does: an append is
/// never a way to launder records that are out of order or repeated (found by
/// the merge fuzzer when `insert` had an unchecked fast path).
#[test]
fn insert_refuses_what_union_refuses() {
    let (a, b, c) = (encode(&at(0, 0)), encode(&at(1, 0)), encode(&at(2, 0)));
    let out_of_order = [b.bytes.clone(), a.bytes.clone()].concat();
    let repeated = [a.bytes.clone(), a.bytes.clone()].concat();
    for (name, f) in [("out of order", &out_of_order), ("repeated", &repeated)] {
        assert!(
            matches!(
                merge::union(f, &c.bytes, &WS),
                Err(MergeError::Malformed { side: Side::Ours, problem: Problem::OutOfOrder, .. })
            ),
            "union refuses a file with records {name}"
        );
        let inserted = merge::insert(f, &c.bytes, &WS).map(|v| String::from_utf8_lossy(&v).into_owned());
        assert!(
            matches!(inserted, Err(MergeError::Malformed { side: Side::Ours, problem: Problem::OutOfOrder, .. })),
            "insert must refuse a file with records {name} as union does, got {inserted:?}"
        );
    }
}

// ---- the fuzz seed corpus -----------------------------------------------------

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz").join(target)
}

/// The seed corpus: (target, file name, bytes). Files named `valid-*` must be
/// accepted (decoded, or merged) as well as not panic.
fn seed_corpus() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let r = |ms, counter, nonce| encode(&Spec { nonce, ..at(ms, counter) });
    let (a, b, c, d) = (r(0, 0, 0), r(0, 0, 1), r(1, 0, 0), r(1, 3, 0));
    let rich = encode(&Spec {
        author: 2,
        ms: 2,
        counter: 0,
        title: 2,
        nonce: 3,
        body: Some(1),
        labels: vec![0, 2],
        priority: 0,
    });
    let two = file([&a, &b]);
    let all = file([&a, &b, &c, &d, &rich]);
    let body_of = |r: &Rec| record::body(&r.record.author, r.record.at, &r.record.payload).unwrap().into_bytes();
    let truncated = all[..all.len() - 40].to_vec();
    let conflicted = [&a.bytes[..], b"<<<<<<< HEAD\n", &c.bytes, b"=======\n", &d.bytes, b">>>>>>> theirs\n"].concat();
    let forged = resigned(&b);
    let deep = {
        let mut s = String::from("v: 1\nkind: \"task.create\"\nx:\n");
        for d in 1..40 {
            s.push_str(&format!("{}k{d}:\n", "  ".repeat(d)));
        }
        s.push_str(&format!("{}z: 1\n", "  ".repeat(40)));
        s.into_bytes()
    };
    let flow_deep = format!("a: {}1{}\n", "[".repeat(200), "]".repeat(200)).into_bytes();
    let huge = b"v: 1\nkind: \"task.create\"\npriority: 99999999999999999999999999999999999999999\n\
        n: -9223372036854775809\nf: 1e400\n"
        .to_vec();
    let anchors = b"v: 1\nkind: \"task.create\"\na: &x \"t\"\nb: *x\nc:\t&y [*x, *x]\nd: !!str tagged\n".to_vec();
    // A quoted string broken over lines (valid YAML, never canonical) with a `---` line inside.
    let quoted_separator = [
        b"---\nv: 1\nkind: \"task.create\"\nauthor: \"alice\"\nat: \"2027-01-15T08:00:00.000Z\"\n\
        title: \"a\n---\nsig: x\"\npriority: 2\n" as &[u8],
        &a.bytes[a.bytes.len() - 207..],
    ]
    .concat();
    let frame_with_bad_yaml = {
        let sig = &a.bytes[a.bytes.len() - 207..]; // `sig: ed25519 <64 hex> <128 hex>\n`
        [
            b"---\nv: 1\nkind: \"task.create\"\nauthor: \"alice\"\nat: \"2027-01-15T08:00:00.000Z\"\ntitle: plain\n"
                as &[u8],
            sig,
        ]
        .concat()
    };
    let not_utf8 = [&a.bytes[..20], &[0xff, 0xfe, 0xc3][..], &a.bytes[20..]].concat();
    let out_of_order = [c.bytes.clone(), a.bytes.clone()].concat();
    let j = |base: &[u8], ours: &[u8], theirs: &[u8]| join_merge_input(base, ours, theirs);
    let ac = file([&a, &c]);
    let ab_d = file([&a, &b, &d]);
    vec![
        ("parse", "empty", vec![]),
        ("parse", "valid-one-record", a.bytes.clone()),
        ("parse", "valid-tie-on-at", two.clone()),
        ("parse", "valid-five-records", all.clone()),
        ("parse", "valid-body", body_of(&rich)),
        ("parse", "valid-escaped-separator", rich.bytes.clone()),
        ("parse", "truncated", truncated.clone()),
        ("parse", "conflict-markers", conflicted.clone()),
        ("parse", "anchors-aliases-tags", anchors),
        ("parse", "huge-numbers", huge),
        ("parse", "not-utf8", not_utf8.clone()),
        ("parse", "deep-block-nesting", deep),
        ("parse", "deep-flow-nesting", flow_deep),
        ("parse", "separator-in-quoted-string", quoted_separator),
        ("parse", "frame-with-non-canonical-body", frame_with_bad_yaml),
        ("parse", "resigned-record", forged.clone()),
        ("parse", "out-of-order", out_of_order.clone()),
        ("parse", "no-final-newline", a.bytes[..a.bytes.len() - 1].to_vec()),
        ("merge", "empty", vec![]),
        ("merge", "valid-all-empty", j(b"", b"", b"")),
        ("merge", "valid-same-three", j(&two, &two, &two)),
        ("merge", "valid-disjoint-additions", j(&a.bytes, &ac, &ab_d)),
        ("merge", "valid-no-base", j(b"", &file([&rich, &c]), &two)),
        ("merge", "valid-tie-on-at", j(b"", &a.bytes, &b.bytes)),
        ("merge", "base-record-dropped", j(&two, &a.bytes, &all)),
        ("merge", "diverged-resigned", j(b"", &b.bytes, &forged)),
        ("merge", "truncated-side", j(&a.bytes, &truncated, &all)),
        ("merge", "conflict-markers", j(&a.bytes, &conflicted, &ac)),
        ("merge", "out-of-order-side", j(b"", &out_of_order, &a.bytes)),
        ("merge", "not-utf8-side", j(b"", &not_utf8, &c.bytes)),
        ("merge", "one-part-only", all.clone()),
        ("merge", "two-parts-only", [&two[..], fuzz_shared::MERGE_DELIMITER, &all].concat()),
    ]
}

/// Writes the seed corpus when `CREW_REGEN_FUZZ_CORPUS` is set; otherwise
/// checks that the files on disk are the ones this module would write.
#[test]
fn write_seed_corpus() {
    let regen = std::env::var_os("CREW_REGEN_FUZZ_CORPUS").is_some();
    for (target, name, bytes) in seed_corpus() {
        let path = corpus_dir(target).join(name);
        if regen {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        } else {
            let on_disk = std::fs::read(&path).unwrap_or_default();
            assert!(
                on_disk == bytes,
                "{} is stale: run CREW_REGEN_FUZZ_CORPUS=1 cargo test --test it merge_laws::write_seed_corpus",
                path.display()
            );
        }
    }
}

/// Every file of the seed corpus (and anything the fuzzer added there) runs
/// through exactly the fuzz targets' code without panicking.
#[test]
fn seed_corpus_replays_without_panic() {
    let mut ran = 0;
    for (target, run) in [("parse", fuzz_parse as fn(&[u8])), ("merge", fuzz_merge as fn(&[u8]))] {
        let mut paths: Vec<PathBuf> =
            std::fs::read_dir(corpus_dir(target)).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!("fuzz target {target} panics on {}", path.display());
            }
            let name = path.file_name().unwrap().to_string_lossy();
            if name.starts_with("valid-") {
                match target {
                    "parse" if name == "valid-body" => {
                        record::canonical::parse(&data).unwrap();
                    }
                    "parse" => {
                        record::decode_file(&data, &WS).unwrap();
                    }
                    _ => {
                        let [b, o, t] = split_merge_input(&data);
                        merge::merge(b, o, t, &WS).unwrap();
                    }
                }
            }
            ran += 1;
        }
    }
    assert!(ran >= 24, "the seed corpus has {ran} files");
}
