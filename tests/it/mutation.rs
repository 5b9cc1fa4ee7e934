//! The mutation harness (issue 11, item 10). A realistic workspace is built
//! through the real CLI behind a bare remote guarded by the server hook; every
//! honest push the remote took (read back from its reflog as `old new`) is then
//! mutated many thousands of times: bytes of records, dates, tree entries,
//! commit headers and parents, the order and place of records, signatures by
//! another admitted actor's key. Each mutated push is written straight into the
//! remote's object store and judged in process by the hook's own entry point,
//! `hook::pre_receive`. No judgement may panic. Every push the hook accepts must
//! pass an oracle that does not use the hook: the real binary's `verify` of the
//! whole history, plus independent checks of the server's promises (fast-forward,
//! one root, canonical trees and commit headers, files that only grow at their
//! end, messages derived from the records, nothing published stops counting,
//! every new record counts, no date beyond the skew, no record by an actor
//! stopped at the old tip or signed with a retired key). A sample goes through a
//! real `git push` and must get the same verdict.
//!
//! `CREW_MUTATIONS` (default 10000) sets how many pushes are judged,
//! `CREW_MUTATION_SEED` the seed (printed), `CREW_MUTATION_THREADS` the judges;
//! `CREW_MUTATION_DEBUG` lists the mutations that found nothing to change.
//! Mutation `i` works on honest push `i % P` with class `(i / P) % C` and its
//! own PRNG stream, so seed and number name one mutation (its description is
//! printed with every failure).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use gix::objs::{Kind, Write as _};
use gix::ObjectId;

use git_crew::hlc::{Hlc, MAX_SKEW_MS};
use git_crew::hook::{pre_receive, RefUpdate};
use git_crew::id::Id;
use git_crew::record::{self, frame, Frame, Payload, Record, MERGE_MESSAGE};
use git_crew::sign::{KeyStore, Keypair};
use git_crew::state::State;
use git_crew::workspace::Workspace;

use crate::common::{env_number, json_as, served_bare, World};

const BRANCH_REF: &str = "refs/heads/crew";

/// Classes that change nothing the server promises (commit dates: they only
/// steer the walk that finds the new commits); the hook should take them.
const BENIGN: &[&str] = &["commit.time"];

/// The identity headers a commit mutation may touch.
const IDENTS: [&[&str]; 3] = [&["author"], &["committer"], &["author", "committer"]];

/// Every mutation class, in the order the summary prints them.
const CLASSES: &[&str] = &[
    "body.flip",
    "body.insert",
    "body.delete",
    "date.back",
    "date.future",
    "date.counter",
    "tree.dup",
    "tree.zeropad",
    "tree.mode",
    "tree.reorder",
    "tree.drop",
    "tree.add",
    "commit.ident",
    "commit.message",
    "commit.header",
    "commit.parents",
    "commit.root",
    "commit.merge",
    "commit.time",
    "file.reorder",
    "file.swap",
    "file.delete",
    "file.dup",
    "sig.other",
    "sig.impersonate",
    "record.replay",
    "stack",
];

// ---------------------------------------------------------------------------
// A tiny deterministic PRNG: xorshift64, seeded through splitmix64.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// The stream of mutation `i` under `seed`: independent of every other one, so
/// a mutation reproduces alone and judges may run in any order.
fn rng_for(seed: u64, i: usize) -> Rng {
    Rng::new(seed ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
}

// ---------------------------------------------------------------------------
// Raw git objects, read and written in process (no validation on write).

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    mode: String,
    name: String,
    oid: ObjectId,
}

/// git's order of tree entries: by name, a directory's read as ending in `/`.
fn git_order(e: &Entry) -> Vec<u8> {
    let mut key = e.name.as_bytes().to_vec();
    if e.mode == "40000" {
        key.push(b'/');
    }
    key
}

fn tree_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(e.mode.as_bytes());
        out.push(b' ');
        out.extend_from_slice(e.name.as_bytes());
        out.push(0);
        out.extend_from_slice(e.oid.as_slice());
    }
    out
}

/// The entries of a raw tree, read leniently; `None` if it is not even that.
fn parse_entries(raw: &[u8]) -> Option<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ')?;
        let nul = rest.iter().position(|b| *b == 0)?;
        if nul < space || rest.len() < nul + 21 {
            return None;
        }
        let mode = String::from_utf8(rest[..space].to_vec()).ok()?;
        let name = String::from_utf8(rest[space + 1..nul].to_vec()).ok()?;
        let oid = ObjectId::try_from(&rest[nul + 1..nul + 21]).ok()?;
        entries.push(Entry { mode, name, oid });
        rest = &rest[nul + 21..];
    }
    Some(entries)
}

/// A commit as headers (continuation lines joined with `\n`) and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RawCommit {
    headers: Vec<(String, String)>,
    message: String,
}

impl RawCommit {
    fn parse(raw: &[u8]) -> Option<RawCommit> {
        let text = std::str::from_utf8(raw).ok()?;
        let (head, message) = text.split_once("\n\n")?;
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split('\n') {
            if let Some(more) = line.strip_prefix(' ') {
                let last = headers.last_mut()?;
                last.1.push('\n');
                last.1.push_str(more);
            } else {
                let (k, v) = line.split_once(' ')?;
                headers.push((k.to_owned(), v.to_owned()));
            }
        }
        Some(RawCommit { headers, message: message.to_owned() })
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        for (k, v) in &self.headers {
            out.push_str(k);
            out.push(' ');
            out.push_str(&v.replace('\n', "\n "));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.message);
        out.into_bytes()
    }

    fn header(&self, key: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn tree(&self) -> ObjectId {
        ObjectId::from_hex(self.header("tree").unwrap_or_default().as_bytes()).expect("a tree header")
    }

    fn set_tree(&mut self, tree: ObjectId) {
        if let Some(h) = self.headers.iter_mut().find(|(k, _)| k == "tree") {
            h.1 = tree.to_string();
        }
    }

    fn parents(&self) -> Vec<ObjectId> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "parent")
            .filter_map(|(_, v)| ObjectId::from_hex(v.as_bytes()).ok())
            .collect()
    }

    fn set_parents(&mut self, parents: &[ObjectId]) {
        let at = self.headers.iter().position(|(k, _)| k == "parent" || k == "author").unwrap_or(1);
        self.headers.retain(|(k, _)| k != "parent");
        for (n, p) in parents.iter().enumerate() {
            self.headers.insert(at + n, ("parent".into(), p.to_string()));
        }
    }

    /// Rewrite the identity header `key` (`author` or `committer`).
    fn edit_ident(&mut self, key: &str, f: impl FnOnce(&mut Ident)) {
        if let Some(h) = self.headers.iter_mut().find(|(k, _)| k == key) {
            if let Some(mut ident) = Ident::parse(&h.1) {
                f(&mut ident);
                h.1 = ident.text();
            }
        }
    }
}

/// `name <email> seconds tz`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ident {
    name: String,
    email: String,
    time: String,
}

impl Ident {
    fn parse(v: &str) -> Option<Ident> {
        let (name, rest) = v.split_once(" <")?;
        let (email, time) = rest.split_once("> ")?;
        Some(Ident { name: name.to_owned(), email: email.to_owned(), time: time.to_owned() })
    }

    fn text(&self) -> String {
        format!("{} <{}> {}", self.name, self.email, self.time)
    }

    fn seconds(&self) -> i64 {
        self.time.split(' ').next().and_then(|s| s.parse().ok()).unwrap_or(0)
    }
}

/// Every blob under a tree: path → (mode, blob).
type Files = BTreeMap<String, (String, ObjectId)>;

/// git-crew's id of an object this test's own gix handle wrote.
fn crew_oid(id: ObjectId) -> git_crew::store::Oid {
    git_crew::store::Oid::from_slice(id.as_slice()).expect("a SHA-1 id")
}

/// One judge's view of the remote's objects: its own gix handle, so objects
/// are written without any check, and caches of honest trees.
struct Odb {
    repo: gix::Repository,
    entries: RefCell<HashMap<ObjectId, Vec<Entry>>>,
    files: RefCell<HashMap<ObjectId, Files>>,
    published: RefCell<HashMap<ObjectId, Vec<(Hlc, Id)>>>,
}

impl Odb {
    fn open(dir: &Path) -> Odb {
        let mut repo = gix::open(dir).expect("open the remote");
        repo.object_cache_size_if_unset(16 * 1024 * 1024);
        Odb { repo, entries: RefCell::default(), files: RefCell::default(), published: RefCell::default() }
    }

    fn read(&self, id: ObjectId) -> Option<Vec<u8>> {
        self.repo.try_find_object(id).ok().flatten().map(|o| o.detach().data)
    }

    fn write(&self, kind: Kind, bytes: &[u8]) -> ObjectId {
        self.repo.objects.write_buf(kind, bytes).expect("writing an object")
    }

    fn write_tree(&self, entries: &[Entry]) -> ObjectId {
        self.write(Kind::Tree, &tree_bytes(entries))
    }

    fn write_commit(&self, c: &RawCommit) -> ObjectId {
        self.write(Kind::Commit, &c.bytes())
    }

    fn commit(&self, id: ObjectId) -> Option<RawCommit> {
        RawCommit::parse(&self.read(id)?)
    }

    fn entries(&self, tree: ObjectId) -> Vec<Entry> {
        if let Some(e) = self.entries.borrow().get(&tree) {
            return e.clone();
        }
        let e = self.read(tree).and_then(|raw| parse_entries(&raw)).unwrap_or_default();
        self.entries.borrow_mut().insert(tree, e.clone());
        e
    }

    /// Every blob under `tree`: path → (mode, blob).
    fn files(&self, tree: ObjectId) -> Files {
        if let Some(f) = self.files.borrow().get(&tree) {
            return f.clone();
        }
        let mut out = BTreeMap::new();
        self.collect(tree, "", &mut out, 0);
        self.files.borrow_mut().insert(tree, out.clone());
        out
    }

    fn collect(&self, tree: ObjectId, prefix: &str, out: &mut Files, depth: usize) {
        for e in self.entries(tree) {
            let path = format!("{prefix}{}", e.name);
            if e.mode == "40000" && depth < 8 {
                self.collect(e.oid, &format!("{path}/"), out, depth + 1);
            } else {
                out.insert(path, (e.mode, e.oid));
            }
        }
    }

    fn file(&self, tree: Option<ObjectId>, path: &str) -> Option<Vec<u8>> {
        let (_, oid) = self.files(tree?).get(path)?.clone();
        self.read(oid)
    }

    /// `tree` with `path` set to `blob` (or removed), written canonically.
    fn with_file(&self, tree: Option<ObjectId>, path: &[&str], blob: Option<ObjectId>) -> Option<ObjectId> {
        let mut entries = tree.map(|t| self.entries(t)).unwrap_or_default();
        let (name, rest) = path.split_first()?;
        let pos = entries.iter().position(|e| e.name == *name);
        let new = if rest.is_empty() {
            blob.map(|oid| Entry { mode: "100644".into(), name: (*name).to_owned(), oid })
        } else {
            let sub = pos.filter(|&p| entries[p].mode == "40000").map(|p| entries[p].oid);
            self.with_file(sub, rest, blob).map(|oid| Entry { mode: "40000".into(), name: (*name).to_owned(), oid })
        };
        if let Some(p) = pos {
            entries.remove(p);
        }
        entries.extend(new);
        if entries.is_empty() {
            return None;
        }
        entries.sort_by_key(git_order);
        Some(self.write_tree(&entries))
    }

    /// `tree` with the entries of directory `dir` edited raw by `f` (no
    /// re-sorting), and every tree above it pointing at the result.
    fn edit_dir(&self, tree: ObjectId, dir: &[&str], f: &mut dyn FnMut(&mut Vec<Entry>)) -> ObjectId {
        let mut entries = self.entries(tree);
        match dir.split_first() {
            Some((first, rest)) => {
                if let Some(e) = entries.iter_mut().find(|e| e.name == *first) {
                    e.oid = self.edit_dir(e.oid, rest, f);
                }
            }
            None => f(&mut entries),
        }
        self.write_tree(&entries)
    }

    /// Every record at `tree` (lexically), sorted: what a push must not go behind.
    fn published(&self, ws: &Id, tree: Option<ObjectId>) -> Vec<(Hlc, Id)> {
        let Some(tree) = tree else { return Vec::new() };
        if let Some(p) = self.published.borrow().get(&tree) {
            return p.clone();
        }
        let mut keys = Vec::new();
        for (path, (_, oid)) in self.files(tree) {
            if !path.ends_with(".yaml") {
                continue;
            }
            let bytes = self.read(oid).unwrap_or_default();
            keys.extend(frames(&bytes).iter().map(|f| (f.at, f.id(&bytes, ws))));
        }
        keys.sort();
        self.published.borrow_mut().insert(tree, keys.clone());
        keys
    }
}

fn frames(bytes: &[u8]) -> Vec<Frame> {
    frame::split(bytes).unwrap_or_default()
}

/// The frames of `new` that `old` does not hold byte for byte.
fn added_frames(old: &[u8], new: &[u8]) -> Vec<Frame> {
    let before: HashSet<&[u8]> = frames(old).iter().map(|f| &old[f.span.clone()]).collect();
    frames(new).into_iter().filter(|f| !before.contains(&new[f.span.clone()])).collect()
}

fn splice(file: &[u8], span: std::ops::Range<usize>, with: &[u8]) -> Vec<u8> {
    [&file[..span.start], with, &file[span.end..]].concat()
}

fn at_text(ms: i64, counter: &str) -> String {
    let base = Hlc { ms, counter: 0 }.to_string();
    if counter.is_empty() {
        base
    } else {
        format!("{base}~{counter}")
    }
}

/// `body` with its top-level `key:` line replaced.
fn with_line(body: &str, key: &str, value: &str) -> String {
    body.lines()
        .map(|l| if l.starts_with(&format!("{key}: ")) { format!("{key}: {value}") } else { l.to_owned() })
        .map(|l| l + "\n")
        .collect()
}

// ---------------------------------------------------------------------------
// The honest history and what every judge shares.

/// One push the remote took: `old` (none for the first), `new`, and the
/// commits it added, parents first.
struct Push {
    old: Option<ObjectId>,
    new: ObjectId,
    commits: Vec<ObjectId>,
}

struct Signer {
    name: String,
    key: Keypair,
    what: &'static str,
}

struct Shared {
    ws: Id,
    remote: PathBuf,
    home: PathBuf,
    pushes: Vec<Push>,
    commits: HashMap<ObjectId, RawCommit>,
    /// Every honest commit, parents first.
    history: Vec<ObjectId>,
    root: ObjectId,
    signers: Vec<Signer>,
}

impl Shared {
    fn signer_of(&self, key: &git_crew::sign::PublicKey) -> Option<&Signer> {
        self.signers.iter().find(|s| s.key.public() == *key)
    }

    /// Honest commits that are ancestors of `old` (the linear honest history
    /// up to it), for parents that exist but do not belong.
    fn ancestors(&self, old: Option<ObjectId>) -> &[ObjectId] {
        match old.and_then(|o| self.history.iter().position(|c| *c == o)) {
            Some(n) => &self.history[..=n],
            None => &[],
        }
    }
}

/// A commit being mutated: its first parent's tree and its raw form.
struct Draft {
    parent_tree: Option<ObjectId>,
    commit: RawCommit,
}

struct Changed {
    path: String,
    old: Vec<u8>,
    new: Vec<u8>,
}

/// One judge: a workspace on the remote (the hook's view) and an object handle.
struct Judge<'s> {
    s: &'s Shared,
    odb: Odb,
    ws: Workspace,
}

impl Judge<'_> {
    fn open(s: &Shared) -> Judge<'_> {
        let ws = Workspace::open(&s.remote, "crew", KeyStore::at(&s.home)).expect("open the remote as a workspace");
        Judge { s, odb: Odb::open(&s.remote), ws }
    }

    /// The log files the draft changes against its first parent.
    fn changed(&self, d: &Draft) -> Vec<Changed> {
        let before = d.parent_tree.map(|t| self.odb.files(t)).unwrap_or_default();
        let after = self.odb.files(d.commit.tree());
        after
            .iter()
            .filter(|(path, (_, oid))| path.ends_with(".yaml") && before.get(*path).map(|b| b.1) != Some(*oid))
            .map(|(path, (_, oid))| Changed {
                path: path.clone(),
                old: self.odb.file(d.parent_tree, path).unwrap_or_default(),
                new: self.odb.read(*oid).unwrap_or_default(),
            })
            .collect()
    }

    fn set_file(&self, d: &mut Draft, path: &str, bytes: Option<&[u8]>) {
        let blob = bytes.map(|b| self.odb.write(Kind::Blob, b));
        let comps: Vec<&str> = path.split('/').collect();
        let tree = self.odb.with_file(Some(d.commit.tree()), &comps, blob).expect("the root keeps files");
        d.commit.set_tree(tree);
    }

    /// A changed file and one record it adds.
    fn pick_added(&self, rng: &mut Rng, d: &Draft) -> Option<(Changed, Frame)> {
        let mut candidates: Vec<(Changed, Vec<Frame>)> = self
            .changed(d)
            .into_iter()
            .map(|c| {
                let added = added_frames(&c.old, &c.new);
                (c, added)
            })
            .filter(|(_, a)| !a.is_empty())
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let (c, added) = candidates.swap_remove(rng.below(candidates.len()));
        let f = rng.pick(&added).clone();
        Some((c, f))
    }

    /// Author, committer and message derived from the records the draft adds,
    /// as git-crew writes them; false (nothing changed) unless they all decode
    /// and share one author.
    fn rederive(&self, d: &mut Draft) -> bool {
        let ws = self.s.ws;
        let mut records: Vec<Record> = Vec::new();
        for c in self.changed(d) {
            let old_ids: HashSet<Id> = frames(&c.old).iter().map(|f| f.id(&c.old, &ws)).collect();
            for f in frames(&c.new) {
                if old_ids.contains(&f.id(&c.new, &ws)) {
                    continue;
                }
                match record::decode_records(&[&c.new[f.span.clone()]], &ws).pop() {
                    Some(Ok(r)) => records.push(r),
                    _ => return false,
                }
            }
        }
        let Some(author) = records.first().map(|r| r.author.clone()) else { return false };
        if records.iter().any(|r| r.author != author) {
            return false;
        }
        for key in ["author", "committer"] {
            d.commit.edit_ident(key, |i| {
                i.name = author.clone();
                i.email = format!("{author}@crew");
            });
        }
        d.commit.message = record::commit_message(&records);
        true
    }

    fn reseal(&self, body: &str, kind: &str, key: &Keypair) -> Vec<u8> {
        record::seal(&self.s.ws, kind, body, key).0
    }

    /// `file` without the record at `f`, with `bytes` placed where the merge
    /// law puts it (sorted) or, failing that, where `f` was.
    fn replace(&self, rng: &mut Rng, file: &[u8], f: &Frame, bytes: &[u8]) -> (Vec<u8>, &'static str) {
        if rng.chance(50) {
            let without = splice(file, f.span.clone(), b"");
            if let Ok(sorted) = git_crew::merge::insert(&without, bytes, &self.s.ws) {
                return (sorted, "placed sorted");
            }
        }
        (splice(file, f.span.clone(), bytes), "in place")
    }

    // -- the mutators: each changes the draft and describes what it did, or
    // returns None where it does not apply.

    fn mutate(&self, class: &str, rng: &mut Rng, d: &mut Draft, push: &Push) -> Option<String> {
        match class {
            "body.flip" | "body.insert" | "body.delete" => self.body(class, rng, d),
            "date.back" => self.date_back(rng, d),
            "date.future" => self.date_future(rng, d),
            "date.counter" => self.date_counter(rng, d),
            "tree.dup" | "tree.zeropad" | "tree.mode" | "tree.reorder" | "tree.drop" | "tree.add" => {
                self.tree(class, rng, d)
            }
            "commit.ident" => self.commit_ident(rng, d),
            "commit.message" => self.commit_message(rng, d),
            "commit.header" => self.commit_header(rng, d),
            "commit.parents" => self.commit_parents(rng, d, push),
            "commit.root" => self.commit_root(rng, d),
            "commit.merge" => self.commit_merge(rng, d, push),
            "commit.time" => self.commit_time(rng, d),
            "file.reorder" => self.file_reorder(rng, d),
            "file.swap" => self.file_swap(rng, d),
            "file.delete" => self.file_delete(rng, d),
            "file.dup" => self.file_dup(rng, d),
            "sig.other" => self.sig_other(rng, d),
            "sig.impersonate" => self.sig_impersonate(rng, d),
            "record.replay" => self.record_replay(rng, d),
            "stack" => {
                let n = 2 + rng.below(2);
                let mut done = Vec::new();
                for _ in 0..n {
                    let class = CLASSES[rng.below(CLASSES.len() - 1)];
                    if let Some(what) = self.mutate(class, rng, d, push) {
                        done.push(format!("[{class}] {what}"));
                    }
                }
                (!done.is_empty()).then(|| done.join(" + "))
            }
            other => panic!("unknown mutation class {other}"),
        }
    }

    fn body(&self, class: &str, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let changed: Vec<Changed> = self.changed(d).into_iter().filter(|c| !c.new.is_empty()).collect();
        if changed.is_empty() {
            return None;
        }
        let c = rng.pick(&changed);
        let added = added_frames(&c.old, &c.new);
        let (lo, hi) = match rng.chance(80) && !added.is_empty() {
            true => {
                let f = rng.pick(&added);
                (f.span.start, f.span.end)
            }
            false => (0, c.new.len()),
        };
        let pos = lo + rng.below(hi - lo);
        let mut bytes = c.new.clone();
        let what = match class {
            "body.flip" => {
                let bit = 1u8 << rng.below(8);
                bytes[pos] ^= bit;
                format!("byte {pos} ^= {bit:#04x}")
            }
            "body.insert" => {
                let b =
                    *rng.pick(&[b'\n', b' ', b'"', b'\\', b':', b'-', 0, 0xc3, 0xff, b'a', b'0', b'~', b'#', b'\t']);
                bytes.insert(pos, b);
                format!("byte {b:#04x} inserted at {pos}")
            }
            _ => {
                let n = 1 + rng.below(8.min(hi - pos));
                bytes.drain(pos..pos + n);
                format!("{n} byte(s) deleted at {pos}")
            }
        };
        self.set_file(d, &c.path, Some(&bytes));
        Some(format!("{}: {what}", c.path))
    }

    fn date_back(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let (c, f) = self.pick_added(rng, d)?;
        let published = self.odb.published(&self.s.ws, d.parent_tree);
        let in_file = frames(&c.old);
        let (target, whose) = match rng.below(3) {
            0 if !in_file.is_empty() => (in_file[in_file.len() - 1].at, "the file's last record"),
            1 if !published.is_empty() => (rng.pick(&published).0, "a published record"),
            _ => (published.last()?.0, "the latest published record"),
        };
        let (ms, counter) = match rng.below(4) {
            0 => (target.ms, if target.counter == 0 { String::new() } else { target.counter.to_string() }),
            1 => (target.ms - 1, String::new()),
            2 => (target.ms - 1_000, String::new()),
            _ => (target.ms - 86_400_000, String::new()),
        };
        let (at, placed, derived) = self.redate(rng, d, &c, &f, ms, &counter)?;
        Some(format!(
            "{}: {} {} re-dated {at} (at or before {whose}, {target}), {placed}, message derived: {derived}",
            c.path, f.kind, f.at
        ))
    }

    /// Re-sign record `f` of changed file `c` dated `ms` (and `counter`) by its
    /// own signer, put it back into the file, and sometimes re-derive the
    /// commit message: the new date, where it went, and whether the message
    /// was derived.
    fn redate(
        &self,
        rng: &mut Rng,
        d: &mut Draft,
        c: &Changed,
        f: &Frame,
        ms: i64,
        counter: &str,
    ) -> Option<(String, &'static str, bool)> {
        let signer = self.s.signer_of(&f.key)?;
        let body = std::str::from_utf8(&c.new[f.body.clone()]).ok()?;
        let at = at_text(ms, counter);
        let bytes = self.reseal(&with_line(body, "at", &format!("\"{at}\"")), &f.kind, &signer.key);
        let (file, placed) = self.replace(rng, &c.new, f, &bytes);
        self.set_file(d, &c.path, Some(&file));
        let derived = rng.chance(70) && self.rederive(d);
        Some((at, placed, derived))
    }

    fn date_future(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let (c, f) = self.pick_added(rng, d)?;
        let ahead = *rng.pick(&[5_000i64, 10_000, 60_000, 600_000, 86_400_000, 31_536_000_000]);
        let ms = Hlc::now().ms + ahead + rng.below(1_000) as i64;
        let counter = if rng.chance(30) { "65535".to_owned() } else { String::new() };
        let (at, placed, derived) = self.redate(rng, d, &c, &f, ms, &counter)?;
        Some(format!("{}: {} re-dated {at} (now + {ahead} ms), {placed}, message derived: {derived}", c.path, f.kind))
    }

    fn date_counter(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let (c, f) = self.pick_added(rng, d)?;
        let counter = *rng.pick(&["65535", "65536", "4294967295", "4294967296", "99999999999", "0", "01", "-1"]);
        let signer = self.s.signer_of(&f.key)?;
        let body = std::str::from_utf8(&c.new[f.body.clone()]).ok()?;
        let at = at_text(f.at.ms, counter);
        let bytes = self.reseal(&with_line(body, "at", &format!("\"{at}\"")), &f.kind, &signer.key);
        let (file, placed) = self.replace(rng, &c.new, &f, &bytes);
        self.set_file(d, &c.path, Some(&file));
        let derived = rng.chance(70) && self.rederive(d);
        Some(format!("{}: {} re-dated {at}, {placed}, message derived: {derived}", c.path, f.kind))
    }

    fn tree(&self, class: &str, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        // A directory on the path of a changed file, or the root.
        let mut dirs: Vec<String> = vec![String::new()];
        for c in self.changed(d) {
            let comps: Vec<&str> = c.path.split('/').collect();
            for n in 1..comps.len() {
                dirs.push(comps[..n].join("/"));
            }
        }
        let mut dir = if rng.chance(40) { String::new() } else { rng.pick(&dirs).clone() };
        let entries_of = |dir: &str| {
            let mut tree = d.commit.tree();
            for comp in dir.split('/').filter(|c| !c.is_empty()) {
                tree = self.odb.entries(tree).into_iter().find(|e| e.name == comp)?.oid;
            }
            Some(self.odb.entries(tree))
        };
        let mut entries = entries_of(&dir)?;
        if class == "tree.zeropad" && !entries.iter().any(|e| e.mode == "40000") {
            dir = String::new();
            entries = entries_of("")?;
        }
        if entries.is_empty() || (class == "tree.reorder" && entries.len() < 2) {
            return None;
        }
        let j = rng.below(entries.len());
        let what = match class {
            "tree.dup" => {
                let mut dup = entries[j].clone();
                let same_kind: Vec<&Entry> =
                    entries.iter().filter(|e| e.mode == dup.mode && e.oid != dup.oid).collect();
                let twin = if rng.chance(30) && !same_kind.is_empty() {
                    dup.oid = rng.pick(&same_kind).oid;
                    "with another object"
                } else {
                    "exactly"
                };
                entries.insert(j + 1, dup);
                format!("entry {:?} listed twice ({twin})", entries[j].name)
            }
            "tree.zeropad" => {
                let dirs: Vec<usize> = (0..entries.len()).filter(|&n| entries[n].mode == "40000").collect();
                let n = if !dirs.is_empty() && rng.chance(80) { *rng.pick(&dirs) } else { j };
                let mode = format!("0{}", entries[n].mode);
                entries[n].mode = mode.clone();
                format!("mode of {:?} written {mode}", entries[n].name)
            }
            "tree.mode" => {
                let modes: Vec<&str> = ["100755", "120000", "160000", "100664", "40000", "100644", "644"]
                    .into_iter()
                    .filter(|m| *m != entries[j].mode)
                    .collect();
                let mode = *rng.pick(&modes);
                let was = std::mem::replace(&mut entries[j].mode, mode.to_owned());
                format!("mode of {:?} {was} -> {mode}", entries[j].name)
            }
            "tree.reorder" => {
                let k = if rng.chance(60) {
                    if j + 1 < entries.len() {
                        j + 1
                    } else {
                        j - 1
                    }
                } else {
                    (j + 1 + rng.below(entries.len() - 1)) % entries.len()
                };
                entries.swap(j, k);
                format!("entries {:?} and {:?} swapped", entries[k].name, entries[j].name)
            }
            "tree.add" => {
                let blob = entries.iter().find(|e| e.mode == "100644").map_or(entries[j].oid, |e| e.oid);
                let (mode, name) = *rng.pick(&[
                    ("100644", "README.md"),
                    ("100644", "CREW.yaml.orig"),
                    ("100644", "notes.yaml"),
                    ("100644", ".git"),
                    ("100644", ".."),
                    ("100644", ""),
                    ("100644", "a/b.yaml"),
                    ("120000", "link.yaml"),
                    ("160000", "module"),
                    ("40000", ".GIT"),
                ]);
                let oid = if mode == "40000" { d.commit.tree() } else { blob };
                let e = Entry { mode: mode.into(), name: name.into(), oid };
                let at = entries.iter().position(|x| git_order(x) > git_order(&e)).unwrap_or(entries.len());
                entries.insert(at, e);
                format!("entry {name:?} ({mode}) added")
            }
            _ => {
                let gone = entries.remove(j);
                format!("entry {:?} dropped", gone.name)
            }
        };
        let comps: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
        let tree = self.odb.edit_dir(d.commit.tree(), &comps, &mut |e| *e = entries.clone());
        d.commit.set_tree(tree);
        Some(format!("tree /{dir}: {what}"))
    }

    fn commit_ident(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let keys = *rng.pick(&IDENTS);
        let others: Vec<&str> = self.s.signers.iter().map(|s| s.name.as_str()).collect();
        let other = *rng.pick(&others);
        let change = rng.below(7);
        let mut what = String::new();
        for key in keys {
            d.commit.edit_ident(key, |i| {
                match change {
                    0 => i.name = other.to_owned(),
                    1 => i.name = i.name.to_uppercase(),
                    2 => i.name = format!("{} ", i.name),
                    3 => i.email = format!("{}@crew.example", i.name),
                    4 => i.email = format!("{other}@crew"),
                    5 => i.email = String::new(),
                    _ => i.email = i.email.to_uppercase(),
                }
                what = format!("{} <{}>", i.name, i.email);
            });
        }
        Some(format!("{} set to {what}", keys.join(" and ")))
    }

    fn commit_message(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let m = d.commit.message.clone();
        let other = self.s.commits.get(rng.pick(&self.s.history)).map(|c| c.message.clone()).unwrap_or_default();
        let (new, what) = match rng.below(8) {
            0 => (String::new(), "emptied"),
            1 => (format!("{m}\n"), "a blank line appended"),
            2 => (m.trim_end().to_owned(), "trailing newline cut"),
            3 => {
                let mut chars: Vec<char> = m.chars().collect();
                let n = rng.below(chars.len().max(1));
                if let Some(c) = chars.get_mut(n) {
                    *c = if *c == 'x' { 'y' } else { 'x' };
                }
                (chars.into_iter().collect(), "one character changed")
            }
            4 => (other, "another commit's message"),
            5 => (MERGE_MESSAGE.to_owned(), "the merge message"),
            6 => ("git-crew: no records\n".to_owned(), "the no-record message"),
            _ => (format!("{m}\nCrew-Task: 00000000\n"), "a trailer appended"),
        };
        d.commit.message = new;
        Some(format!("message {what}"))
    }

    fn commit_header(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let h = &mut d.commit.headers;
        let after_committer = h.iter().position(|(k, _)| k == "committer").map_or(h.len(), |n| n + 1);
        let what = match rng.below(9) {
            0 => {
                let sig = "-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----";
                h.insert(after_committer, ("gpgsig".into(), sig.into()));
                "gpgsig header added"
            }
            1 => {
                h.insert(after_committer, ("encoding".into(), "UTF-8".into()));
                "encoding header added"
            }
            2 => {
                let tag =
                    format!("object {}\ntype commit\ntag v1\ntagger alice <alice@crew> 0 +0000\n\nsigned", self.s.root);
                h.insert(after_committer, ("mergetag".into(), tag));
                "mergetag header added"
            }
            3 => {
                let tree = h[0].clone();
                h.insert(1, tree);
                "tree header twice"
            }
            4 => {
                let a = h.iter().position(|(k, _)| k == "author")?;
                let c = h.iter().position(|(k, _)| k == "committer")?;
                h.swap(a, c);
                "author and committer swapped"
            }
            5 => {
                h.retain(|(k, _)| k != "committer");
                "committer removed"
            }
            6 => {
                h.retain(|(k, _)| k != "author");
                "author removed"
            }
            7 => {
                h.insert(after_committer, ("x-crew".into(), "yes".into()));
                "unknown header added"
            }
            _ => {
                let p = h.iter().position(|(k, _)| k == "parent")?;
                let parent = h.remove(p);
                let a = h.iter().position(|(k, _)| k == "author")?;
                h.insert(a + 1, parent);
                "parent header moved after author"
            }
        };
        Some(what.to_owned())
    }

    fn commit_parents(&self, rng: &mut Rng, d: &mut Draft, push: &Push) -> Option<String> {
        let parents = d.commit.parents();
        let older = self.s.ancestors(push.old);
        let x = if older.is_empty() { self.s.root } else { *rng.pick(older) };
        let (new, what): (Vec<ObjectId>, &str) = match rng.below(6) {
            0 => (Vec::new(), "parents removed (a second root)"),
            1 => ([&parents[..], &[x]].concat(), "an older commit added as last parent"),
            2 => ([&[x], &parents[..]].concat(), "an older commit added as first parent"),
            3 => ([&parents[..], &parents[..]].concat(), "parents listed twice"),
            4 => (vec![x], "parent replaced by an older commit"),
            _ => {
                d.commit.message = MERGE_MESSAGE.to_owned();
                ([&parents[..], &[x]].concat(), "merged with an older commit, merge message")
            }
        };
        if new == parents {
            return None;
        }
        d.commit.set_parents(&new);
        Some(format!("{what} ({x})"))
    }

    fn commit_root(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let mut root = self.s.commits.get(&self.s.root)?.clone();
        let bump = 1 + rng.below(1_000) as i64;
        for key in ["author", "committer"] {
            root.edit_ident(key, |i| {
                let seconds = i.seconds() + bump;
                let tz = i.time.split(' ').nth(1).unwrap_or("+0000").to_owned();
                i.time = format!("{seconds} {tz}");
            });
        }
        let parents = d.commit.parents();
        let what = match rng.below(3) {
            0 => {
                let second = self.odb.write_commit(&root);
                d.commit.set_parents(&[&parents[..], &[second]].concat());
                if rng.chance(50) {
                    d.commit.message = MERGE_MESSAGE.to_owned();
                }
                "a second root (the genesis re-committed) merged in"
            }
            1 => {
                let second = self.odb.write_commit(&root);
                d.commit.set_parents(&[second]);
                "re-parented on a second root"
            }
            _ => {
                root.set_tree(d.commit.tree());
                let second = self.odb.write_commit(&root);
                d.commit.set_parents(&[&parents[..], &[second]].concat());
                d.commit.message = MERGE_MESSAGE.to_owned();
                "a second root holding this commit's tree merged in"
            }
        };
        Some(what.to_owned())
    }

    /// The commit's records re-made on a side branch forked from an older tip
    /// `B`, joined back by a merge commit in its place (parents either way
    /// round), as a clone that merged instead of rebasing would: legitimate
    /// when the two sides grow different files, refused when a side would
    /// insert records behind the other's.
    fn commit_merge(&self, rng: &mut Rng, d: &mut Draft, push: &Push) -> Option<String> {
        let parent = *d.commit.parents().first()?;
        let older = self.s.ancestors(push.old);
        if older.is_empty() {
            return None;
        }
        let fork = *rng.pick(older);
        let fork_tree = self.s.commits.get(&fork)?.tree();
        // Sometimes the side's records are dated as if written at the fork
        // (just after its latest record): legitimate there, behind what was
        // published since.
        let backdate = rng.chance(40).then(|| self.odb.published(&self.s.ws, Some(fork_tree)).last().map(|k| k.0));
        let mut side_tree = fork_tree;
        for c in self.changed(d) {
            let mut file = self.odb.file(Some(fork_tree), &c.path).unwrap_or_default();
            for (n, f) in added_frames(&c.old, &c.new).into_iter().enumerate() {
                let mut bytes = c.new[f.span.clone()].to_vec();
                if let Some(Some(latest)) = backdate {
                    let signer = self.s.signer_of(&f.key)?;
                    let body = std::str::from_utf8(&c.new[f.body.clone()]).ok()?;
                    let at = at_text(latest.ms + 1 + n as i64, "");
                    bytes = self.reseal(&with_line(body, "at", &format!("\"{at}\"")), &f.kind, &signer.key);
                }
                file = git_crew::merge::insert(&file, &bytes, &self.s.ws).ok()?;
            }
            let blob = self.odb.write(Kind::Blob, &file);
            let comps: Vec<&str> = c.path.split('/').collect();
            side_tree = self.odb.with_file(Some(side_tree), &comps, Some(blob))?;
        }
        let mut side = d.commit.clone();
        side.set_tree(side_tree);
        side.set_parents(&[fork]);
        if backdate.is_some() {
            let mut draft = Draft { parent_tree: Some(fork_tree), commit: side };
            self.rederive(&mut draft);
            side = draft.commit;
        }
        let side = self.odb.write_commit(&side);
        let mut tree = d.commit.tree();
        let parent_tree = self.s.commits.get(&parent)?.tree();
        for c in self.changed(d) {
            let ours = self.odb.file(Some(parent_tree), &c.path).unwrap_or_default();
            let theirs = self.odb.file(Some(side_tree), &c.path).unwrap_or_default();
            let union = git_crew::merge::union(&ours, &theirs, &self.s.ws).ok()?;
            let comps: Vec<&str> = c.path.split('/').collect();
            tree = self.odb.with_file(Some(tree), &comps, Some(self.odb.write(Kind::Blob, &union)))?;
        }
        d.commit.set_tree(tree);
        let swapped = rng.chance(50);
        d.commit.set_parents(&if swapped { [side, parent] } else { [parent, side] });
        d.commit.message = MERGE_MESSAGE.to_owned();
        let position = |x: ObjectId| self.s.history.iter().position(|c| *c == x);
        let behind = position(parent)?.saturating_sub(position(fork)?);
        let dated = if backdate.is_some() { "dated at the fork" } else { "dated as they were" };
        Some(format!(
            "records re-made on a side branch from {behind} commit(s) back ({dated}), merged (side first: {swapped})"
        ))
    }

    fn commit_time(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let keys = *rng.pick(&IDENTS);
        let choice = rng.below(6);
        let tz = *rng.pick(&["", "+1400", "-1200"]);
        let mut what = String::new();
        for key in keys {
            d.commit.edit_ident(key, |i| {
                let now = i.seconds();
                let seconds = match choice {
                    0 => 0,
                    1 => 1,
                    2 => now - 31_536_000,
                    3 => now + 31_536_000,
                    4 => 4_102_444_800,
                    _ => now - 1,
                };
                let zone =
                    if tz.is_empty() { i.time.split(' ').nth(1).unwrap_or("+0000").to_owned() } else { tz.into() };
                i.time = format!("{seconds} {zone}");
                what = i.time.clone();
            });
        }
        Some(format!("{} time set to {what}", keys.join(" and ")))
    }

    fn file_reorder(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let changed: Vec<(Changed, Vec<Frame>)> = self
            .changed(d)
            .into_iter()
            .map(|c| {
                let f = frames(&c.new);
                (c, f)
            })
            .filter(|(_, f)| f.len() >= 2)
            .collect();
        let (c, fs) = match changed.is_empty() {
            false => rng.pick(&changed),
            // Nothing this commit touches holds two records: reorder a file
            // it leaves alone (published records).
            true => {
                let tree = d.commit.tree();
                let files = self.odb.files(tree);
                let mut held: Vec<(Changed, Vec<Frame>)> = Vec::new();
                for path in files.keys().filter(|p| p.ends_with(".yaml")) {
                    let bytes = self.odb.file(Some(tree), path).unwrap_or_default();
                    let f = frames(&bytes);
                    if f.len() >= 2 {
                        held.push((Changed { path: path.clone(), old: bytes.clone(), new: bytes }, f));
                    }
                }
                if held.is_empty() {
                    return None;
                }
                let n = rng.below(held.len());
                return self.reorder_in(rng, d, &held[n].0, &held[n].1);
            }
        };
        self.reorder_in(rng, d, c, fs)
    }

    fn reorder_in(&self, rng: &mut Rng, d: &mut Draft, c: &Changed, fs: &[Frame]) -> Option<String> {
        let (i, j) = if rng.chance(70) {
            let i = rng.below(fs.len() - 1);
            (i, i + 1)
        } else {
            let i = rng.below(fs.len());
            let j = (i + 1 + rng.below(fs.len() - 1)) % fs.len();
            (i.min(j), i.max(j))
        };
        let (a, b) = (&fs[i], &fs[j]);
        let bytes = [
            &c.new[..a.span.start],
            &c.new[b.span.clone()],
            &c.new[a.span.end..b.span.start],
            &c.new[a.span.clone()],
            &c.new[b.span.end..],
        ]
        .concat();
        self.set_file(d, &c.path, Some(&bytes));
        Some(format!("{}: records {i} ({}) and {j} ({}) swapped", c.path, a.kind, b.kind))
    }

    fn file_swap(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let (c, f) = self.pick_added(rng, d)?;
        let files = self.odb.files(d.commit.tree());
        let mut others: Vec<String> = files.keys().filter(|p| p.ends_with(".yaml") && **p != c.path).cloned().collect();
        for fresh in [
            "tasks/ff/ff00000000000000000000000000000000000000000000000000000000000000.yaml",
            "channels/general/2020-01-01/bob.yaml",
            "acks/bob/2020-01.yaml",
            "actors/mallory.yaml",
        ] {
            others.push(fresh.to_owned());
        }
        let g_path = rng.pick(&others).clone();
        let g = self.odb.file(Some(d.commit.tree()), &g_path).unwrap_or_default();
        let moved = &c.new[f.span.clone()];
        let g_frames = frames(&g);
        let (f_new, g_new, what) = match rng.below(3) {
            2 if !g_frames.is_empty() => {
                let h = rng.pick(&g_frames).clone();
                let f_new = splice(&c.new, f.span.clone(), &g[h.span.clone()]);
                let g_new = splice(&g, h.span.clone(), moved);
                (f_new, g_new, "exchanged with one of its records")
            }
            1 => {
                let g_new = git_crew::merge::insert(&g, moved, &self.s.ws).unwrap_or_else(|_| [&g[..], moved].concat());
                (splice(&c.new, f.span.clone(), b""), g_new, "moved, placed sorted")
            }
            _ => (splice(&c.new, f.span.clone(), b""), [&g[..], moved].concat(), "moved to its end"),
        };
        self.set_file(d, &c.path, (!f_new.is_empty()).then_some(&f_new[..]));
        self.set_file(d, &g_path, Some(&g_new));
        Some(format!("{} {} from {} to {g_path}: {what}", f.kind, f.at, c.path))
    }

    fn file_delete(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let changed = self.changed(d);
        let candidates: Vec<&Changed> = changed.iter().filter(|c| !frames(&c.new).is_empty()).collect();
        if candidates.is_empty() {
            return None;
        }
        let c = *rng.pick(&candidates);
        let added = added_frames(&c.old, &c.new);
        let (f, whose) = match rng.chance(50) && !added.is_empty() {
            true => (rng.pick(&added).clone(), "added"),
            false => (rng.pick(&frames(&c.new)).clone(), "any"),
        };
        let bytes = splice(&c.new, f.span.clone(), b"");
        let keep_empty = rng.chance(50);
        self.set_file(d, &c.path, (!bytes.is_empty() || keep_empty).then_some(&bytes[..]));
        Some(format!("{}: {whose} record {} {} deleted (empty file kept: {keep_empty})", c.path, f.kind, f.at))
    }

    fn file_dup(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let (c, f) = self.pick_added(rng, d)?;
        let record = c.new[f.span.clone()].to_vec();
        match rng.below(3) {
            0 => {
                let bytes = [&c.new[..f.span.end], &record, &c.new[f.span.end..]].concat();
                self.set_file(d, &c.path, Some(&bytes));
                Some(format!("{}: {} listed twice", c.path, f.kind))
            }
            1 => {
                let files = self.odb.files(d.parent_tree?);
                let paths: Vec<&String> = files.keys().filter(|p| p.ends_with(".yaml") && **p != c.path).collect();
                if paths.is_empty() {
                    return None;
                }
                let from = (*rng.pick(&paths)).clone();
                let other = self.odb.file(d.parent_tree, &from)?;
                let held = frames(&other);
                if held.is_empty() {
                    return None;
                }
                let g = rng.pick(&held).clone();
                let bytes = [&c.new[..], &other[g.span.clone()]].concat();
                self.set_file(d, &c.path, Some(&bytes));
                Some(format!("{}: published {} from {from} copied to its end", c.path, g.kind))
            }
            _ => {
                let files = self.odb.files(d.commit.tree());
                let paths: Vec<&String> = files.keys().filter(|p| p.ends_with(".yaml") && **p != c.path).collect();
                if paths.is_empty() {
                    return None;
                }
                let to = (*rng.pick(&paths)).clone();
                let g = self.odb.file(Some(d.commit.tree()), &to)?;
                self.set_file(d, &to, Some(&[&g[..], &record].concat()));
                Some(format!("{}: {} also appended to {to}", c.path, f.kind))
            }
        }
    }

    fn sig_other(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let (c, f) = self.pick_added(rng, d)?;
        let others: Vec<&Signer> = self.s.signers.iter().filter(|s| s.key.public() != f.key).collect();
        let other = *rng.pick(&others);
        let body = std::str::from_utf8(&c.new[f.body.clone()]).ok()?;
        let bytes = self.reseal(body, &f.kind, &other.key);
        let (file, placed) = self.replace(rng, &c.new, &f, &bytes);
        self.set_file(d, &c.path, Some(&file));
        Some(format!(
            "{}: {} by {} re-signed with {}'s {} key, {placed}",
            c.path, f.kind, f.author, other.name, other.what
        ))
    }

    fn sig_impersonate(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let (c, f) = self.pick_added(rng, d)?;
        let others: Vec<&Signer> = self.s.signers.iter().filter(|s| s.name != f.author).collect();
        let other = *rng.pick(&others);
        let body = std::str::from_utf8(&c.new[f.body.clone()]).ok()?;
        let bytes = self.reseal(&with_line(body, "author", &format!("\"{}\"", other.name)), &f.kind, &other.key);
        let (file, placed) = self.replace(rng, &c.new, &f, &bytes);
        self.set_file(d, &c.path, Some(&file));
        let derived = self.rederive(d);
        Some(format!(
            "{}: {} by {} re-authored as {} and signed with its {} key, {placed}, message derived: {derived}",
            c.path, f.kind, f.author, other.name, other.what
        ))
    }

    /// The commit replaced by one that adds a single new record: the payload
    /// of a published record (any kind) signed again by some admitted actor
    /// (stopped or not, or with a retired key), dated now, right after the
    /// latest published record, or at the original's stamp, in the file the
    /// layout names, committed as git-crew would. What counts is the fold's
    /// call: claims on held tasks, closing others' tasks, suspending without
    /// authority, admitting a name twice...
    fn record_replay(&self, rng: &mut Rng, d: &mut Draft) -> Option<String> {
        let ws = self.s.ws;
        let parent_tree = d.parent_tree?;
        let files = self.odb.files(parent_tree);
        let logs: Vec<&String> = files.keys().filter(|p| p.ends_with(".yaml")).collect();
        let from = (*rng.pick(&logs)).clone();
        let bytes = self.odb.file(Some(parent_tree), &from)?;
        let held = frames(&bytes);
        if held.is_empty() {
            return None;
        }
        let f = rng.pick(&held);
        let original = record::decode_records(&[&bytes[f.span.clone()]], &ws).pop()?.ok()?;
        if original.kind() == record::GENESIS_KIND {
            return None;
        }
        let signer = match rng.chance(30) {
            true => self.s.signer_of(&original.key)?,
            false => rng.pick(&self.s.signers),
        };
        let latest = self.odb.published(&ws, Some(parent_tree)).last()?.0;
        let (at, when) = match rng.below(4) {
            0 | 1 => (Hlc::now(), "now"),
            2 => (Hlc { ms: latest.ms + 1, counter: 0 }, "just after the latest published record"),
            _ => (original.at, "at the original's stamp"),
        };
        let body = record::body(&signer.name, at, &original.payload).ok()?;
        let (sealed, _) = record::seal(&ws, original.kind(), &body, &signer.key);
        let replayed = record::decode_records(&[&sealed], &ws).pop()?.ok()?;
        let path = git_crew::layout::path_of(&replayed);
        d.commit.set_tree(parent_tree);
        let file = self.odb.file(Some(parent_tree), &path).unwrap_or_default();
        let file = git_crew::merge::insert(&file, &sealed, &ws).ok()?;
        self.set_file(d, &path, Some(&file));
        self.rederive(d);
        Some(format!(
            "{} {} by {} replayed by {} ({} key) {when} into {path}",
            original.kind(),
            original.id.short(),
            original.author,
            signer.name,
            signer.what
        ))
    }

    /// Mutation `i`: a push built from an honest one with one commit mutated
    /// (the later ones re-parented on it). `None` if nothing applied.
    fn build(&self, class: &str, rng: &mut Rng, push: &Push) -> Option<(ObjectId, String)> {
        for _ in 0..12 {
            // The last commit mostly (a replay always: it replaces the
            // commit's records, which later commits would still hold).
            let last = class == "record.replay" || rng.chance(60);
            let k = if last { push.commits.len() - 1 } else { rng.below(push.commits.len()) };
            let original = self.s.commits[&push.commits[k]].clone();
            let parent_tree = original.parents().first().map(|p| self.s.commits[p].tree());
            let mut d = Draft { parent_tree, commit: original.clone() };
            let Some(what) = self.mutate(class, rng, &mut d, push) else { continue };
            if d.commit == original {
                continue;
            }
            let mut remap: HashMap<ObjectId, ObjectId> = HashMap::new();
            remap.insert(push.commits[k], self.odb.write_commit(&d.commit));
            for c in &push.commits[k + 1..] {
                let mut raw = self.s.commits[c].clone();
                let parents: Vec<ObjectId> =
                    raw.parents().iter().map(|p| remap.get(p).copied().unwrap_or(*p)).collect();
                raw.set_parents(&parents);
                remap.insert(*c, self.odb.write_commit(&raw));
            }
            let tip = remap[&push.new];
            return Some((tip, format!("commit {}/{} of the push: {what}", k + 1, push.commits.len())));
        }
        None
    }

    /// The hook's verdict on `old → new`, in process.
    fn judge(&self, old: Option<ObjectId>, new: ObjectId) -> Verdict {
        let updates = [RefUpdate { name: BRANCH_REF.into(), old: old.map(crew_oid), new: Some(crew_oid(new)) }];
        match catch_unwind(AssertUnwindSafe(|| pre_receive(&self.ws, &updates))) {
            Ok(Ok(_)) => Verdict::Accepted,
            Ok(Err(e)) => Verdict::Refused(reason_of(&e)),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                Verdict::Panic(msg)
            }
        }
    }

    // -- the oracle, for pushes the hook accepted: it does not use the hook.

    fn oracle(
        &self,
        old: Option<ObjectId>,
        new: ObjectId,
        base: &(State, Vec<Record>),
        judged_ms: i64,
    ) -> Result<(), String> {
        let ws = self.s.ws;
        let odb = &self.odb;
        // The whole history of `new`, parsed by hand.
        let mut all: HashMap<ObjectId, RawCommit> = HashMap::new();
        let mut stack = vec![new];
        while let Some(c) = stack.pop() {
            if all.contains_key(&c) {
                continue;
            }
            let raw = odb.commit(c).ok_or_else(|| format!("commit {c} does not parse"))?;
            stack.extend(raw.parents());
            all.insert(c, raw);
        }
        let roots = all.values().filter(|c| c.parents().is_empty()).count();
        if roots != 1 {
            return Err(format!("{roots} root commits"));
        }
        let mut known: HashSet<ObjectId> = HashSet::new();
        if let Some(old) = old {
            if !all.contains_key(&old) {
                return Err("not a fast-forward: the old tip is not an ancestor".into());
            }
            let mut stack = vec![old];
            while let Some(c) = stack.pop() {
                if known.insert(c) {
                    stack.extend(all[&c].parents());
                }
            }
        }
        let mut checked_trees: HashSet<ObjectId> = HashSet::new();
        for (id, c) in all.iter().filter(|(id, _)| !known.contains(*id)) {
            let at = |why: String| format!("commit {id}: {why}");
            let keys: Vec<&str> = c.headers.iter().map(|(k, _)| k.as_str()).filter(|k| *k != "parent").collect();
            let parents = c.parents();
            let parent_lines = c.headers.iter().filter(|(k, _)| k == "parent").count();
            let order_ok = c.headers.iter().map(|(k, _)| k.as_str()).skip(1).take(parent_lines).all(|k| k == "parent");
            if keys != ["tree", "author", "committer"] || !order_ok || parent_lines != parents.len() {
                return Err(at(format!("headers {:?}", c.headers.iter().map(|(k, _)| k).collect::<Vec<_>>())));
            }
            let author = Ident::parse(c.header("author").unwrap_or_default()).ok_or_else(|| at("author".into()))?;
            let committer =
                Ident::parse(c.header("committer").unwrap_or_default()).ok_or_else(|| at("committer".into()))?;
            if (&author.name, &author.email) != (&committer.name, &committer.email)
                || author.email != format!("{}@crew", author.name)
            {
                return Err(at(format!("identities {} / {}", author.text(), committer.text())));
            }
            self.canonical_tree(c.tree(), &mut checked_trees, 0).map_err(&at)?;
            let files = odb.files(c.tree());
            for (path, (_, oid)) in &files {
                if git_crew::layout::classify(path).is_none() {
                    return Err(at(format!("{path} is outside the layout")));
                }
                if path == git_crew::layout::ATTRIBUTES
                    && odb.read(*oid).as_deref() != Some(git_crew::layout::ATTRIBUTES_CONTENT)
                {
                    return Err(at(".gitattributes changed".into()));
                }
            }
            if parents.is_empty()
                && files.get(git_crew::layout::ATTRIBUTES).and_then(|(_, oid)| odb.read(*oid)).as_deref()
                    != Some(git_crew::layout::ATTRIBUTES_CONTENT)
            {
                return Err(at("the root commit has no `.gitattributes`".into()));
            }
            let mut before: HashSet<Id> = HashSet::new();
            for p in &parents {
                let ptree = all[p].tree();
                let pfiles = odb.files(ptree);
                let latest = odb.published(&ws, Some(ptree)).last().copied();
                for (path, (_, poid)) in &pfiles {
                    let Some((_, oid)) = files.get(path) else { return Err(at(format!("{path} deleted"))) };
                    let old_bytes = odb.read(*poid).unwrap_or_default();
                    before.extend(frames(&old_bytes).iter().map(|f| f.id(&old_bytes, &ws)));
                    if oid == poid {
                        continue;
                    }
                    self.grows_at_end(path, &old_bytes, &odb.read(*oid).unwrap_or_default(), latest).map_err(&at)?;
                }
                for (path, (_, oid)) in files.iter().filter(|(p, _)| !pfiles.contains_key(*p)) {
                    self.grows_at_end(path, b"", &odb.read(*oid).unwrap_or_default(), latest).map_err(&at)?;
                }
            }
            // The records this commit adds: in none of its parents.
            let mut added: Vec<Record> = Vec::new();
            for (path, (_, oid)) in files.iter().filter(|(p, _)| p.ends_with(".yaml")) {
                let bytes = odb.read(*oid).unwrap_or_default();
                for f in frames(&bytes) {
                    if before.contains(&f.id(&bytes, &ws)) {
                        continue;
                    }
                    match record::decode_records(&[&bytes[f.span.clone()]], &ws).pop() {
                        Some(Ok(r)) => added.push(r),
                        other => return Err(at(format!("{path}: a record does not decode: {other:?}"))),
                    }
                }
            }
            if parents.len() > 1 {
                if !added.is_empty() || c.message != MERGE_MESSAGE {
                    return Err(at(format!("a merge adding {} record(s), message {:?}", added.len(), c.message)));
                }
            } else {
                let Some(first) = added.first() else { return Err(at("adds no record".into())) };
                if added.iter().any(|r| r.author != first.author) || author.name != first.author {
                    return Err(at(format!("records by several actors or not by {}", author.name)));
                }
                let derived = record::commit_message(&added);
                if c.message != derived {
                    return Err(at(format!("message {:?}, derived {derived:?}", c.message)));
                }
            }
        }
        // Records: nothing counted stops counting, everything new counts, no
        // date beyond the skew, nothing by a stopped actor or a retired key.
        let (state, records) = git_crew::decode::build_from_tip(self.ws.store(), crew_oid(new))
            .map_err(|e| format!("the new tip does not fold: {e}"))?;
        let ignored: HashSet<Id> = state.ignored.iter().map(|i| i.id).collect();
        let present: HashSet<Id> = records.iter().map(|r| r.id).collect();
        let (old_state, old_records) = base;
        let old_ignored: HashSet<Id> = old_state.ignored.iter().map(|i| i.id).collect();
        for r in old_records.iter().filter(|r| !old_ignored.contains(&r.id)) {
            if !present.contains(&r.id) || ignored.contains(&r.id) {
                return Err(format!("published {} {} by {} stops counting", r.kind(), r.id.short(), r.author));
            }
        }
        let old_ids: HashSet<Id> = old_records.iter().map(|r| r.id).collect();
        for r in records.iter().filter(|r| !old_ids.contains(&r.id)) {
            let what = format!("new {} {} by {} at {}", r.kind(), r.id.short(), r.author, r.at);
            if let Some(i) = state.ignored.iter().find(|i| i.id == r.id) {
                return Err(format!("{what} does not count: {}", i.reason));
            }
            if r.at.ms > judged_ms + MAX_SKEW_MS {
                return Err(format!("{what} is dated beyond the skew (judged at {judged_ms} ms)"));
            }
            if let Some(actor) = old_state.actors.get(&r.author) {
                // Stopped at the old tip: only a resumption (of a suspension)
                // or a rotation (of a revoked key) this push brings, counting
                // and sorting before the record, lets it write again.
                let lifted = |by_rotation: bool| {
                    records.iter().filter(|q| !old_ids.contains(&q.id) && !ignored.contains(&q.id)).any(|q| {
                        let name = match &q.payload {
                            Payload::ActorResume(a) if !by_rotation => &a.name,
                            Payload::ActorRotate(a) if by_rotation => &a.name,
                            _ => return false,
                        };
                        *name == r.author && q.order_key() < r.order_key()
                    })
                };
                if actor.suspended.is_some() && !lifted(false) {
                    return Err(format!("{what}: its author is suspended at the old tip"));
                }
                if actor.revoked.is_some() && !lifted(true) {
                    return Err(format!("{what}: its author's key is revoked at the old tip"));
                }
                if actor.retired.iter().any(|k| k.key == r.key) {
                    return Err(format!("{what}: signed with a retired key"));
                }
            }
        }
        Ok(())
    }

    /// A tree exactly as git writes it, with only plain files and directories.
    fn canonical_tree(&self, tree: ObjectId, seen: &mut HashSet<ObjectId>, depth: usize) -> Result<(), String> {
        if !seen.insert(tree) {
            return Ok(());
        }
        let raw = self.odb.read(tree).ok_or_else(|| format!("tree {tree} missing"))?;
        let entries = parse_entries(&raw).ok_or_else(|| format!("tree {tree} does not parse"))?;
        let mut sorted = entries.clone();
        sorted.sort_by_key(git_order);
        let names: HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        if sorted != entries || names.len() != entries.len() || tree_bytes(&entries) != raw {
            return Err(format!("tree {tree} is not canonical (order, duplicates or bytes)"));
        }
        for e in &entries {
            let bad_name = e.name.is_empty() || e.name == "." || e.name == ".." || e.name.eq_ignore_ascii_case(".git");
            if bad_name || e.name.contains('/') {
                return Err(format!("tree {tree}: entry name {:?}", e.name));
            }
            match e.mode.as_str() {
                "100644" => {}
                "40000" if depth < 8 => self.canonical_tree(e.oid, seen, depth + 1)?,
                mode => return Err(format!("tree {tree}: entry {:?} has mode {mode}", e.name)),
            }
        }
        Ok(())
    }

    /// `new` is `old` plus records that sort after every record `old` holds,
    /// and, for the kinds that must, after `latest` (the parent's latest record).
    fn grows_at_end(&self, path: &str, old: &[u8], new: &[u8], latest: Option<(Hlc, Id)>) -> Result<(), String> {
        if !path.ends_with(".yaml") {
            return Ok(());
        }
        if !new.starts_with(old) {
            return Err(format!("{path} does not only grow at its end"));
        }
        let ws = self.s.ws;
        let last = frames(old).last().map(|f| (f.at, f.id(old, &ws)));
        let tail = &new[old.len()..];
        let added = frame::split(tail).map_err(|e| format!("{path}: added bytes do not frame: {e:?}"))?;
        for f in added {
            let key = (f.at, f.id(tail, &ws));
            if last.is_some_and(|l| l >= key) {
                return Err(format!("{path}: {} at {} sorts before the file's last record", f.kind, f.at));
            }
            if record::kinds::sorts_after_everything(&f.kind) && latest.is_some_and(|l| l >= key) {
                return Err(format!("{path}: {} at {} sorts before the parent's latest record", f.kind, f.at));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Accepted,
    Refused(String),
    Panic(String),
}

/// What a refusal says, with what varies per push (ids, numbers, quoted
/// values) blanked, cut to its first words: the refusal's class.
fn reason_of(e: &git_crew::Error) -> String {
    let text = match e {
        git_crew::Error::Verify(v) => v.failures().first().map(|f| f.reason.clone()).unwrap_or_default(),
        other => other.to_string(),
    };
    let mut words: Vec<&str> = Vec::new();
    for word in text.split_whitespace() {
        let word = if word.contains(['"', '\'', '<', '>', '@']) {
            "…"
        } else if word.chars().any(|c| c.is_ascii_digit()) {
            "#"
        } else {
            word
        };
        if (word == "…" || word == "#") && words.last() == Some(&word) {
            continue;
        }
        words.push(word);
        if words.len() >= 8 {
            break;
        }
    }
    let mut out = words.join(" ");
    if out.len() > 60 {
        let mut cut = 60;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

// ---------------------------------------------------------------------------
// The run.

/// What became of one mutation.
struct Outcome {
    i: usize,
    class: &'static str,
    desc: String,
    tip: Option<ObjectId>,
    verdict: Option<Verdict>,
    /// An accepted push that breaks a promise, per the oracle.
    broken: Option<String>,
    /// For a sampled refused push: whether the oracle saw nothing wrong.
    oracle_silent: Option<bool>,
    /// Time spent building, judging and checking it.
    spent: [std::time::Duration; 3],
}

#[derive(Default)]
struct Tally {
    judged: usize,
    accepted: usize,
    refused: usize,
    panics: usize,
    noop: usize,
    reasons: BTreeMap<String, usize>,
    /// Sampled refusals the oracle also flags, and those it does not.
    oracle_flags: usize,
    oracle_silent: Vec<String>,
}

/// Build the workspace through the real CLI; every step is a real push
/// through the hook. Returns the world's remote and the workspace id.
fn scenario(w: &World) -> (PathBuf, Id, Keypair) {
    let remote = served_bare(w, "remote.git");
    for (k, v) in [("core.logAllRefUpdates", "always"), ("gc.auto", "0"), ("receive.autogc", "false")] {
        w.git(&remote, &["config", k, v]);
    }
    let (a, ws) = w.workspace("a");
    for agent in ["bob", "carol", "dave", "erin"] {
        w.agent(&a, agent);
    }
    w.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    let id = |v: serde_json::Value| v["record"]["id"].as_str().unwrap().to_owned();
    let t1 = id(staged(
        w,
        &a,
        "alice",
        &["task", "add", "Fix the login loop", "--priority", "1", "--label", "auth", "--body", "Redirects twice."],
    ));
    let t2 = id(staged(w, &a, "alice", &["task", "add", "Write the migration", "--depends-on", &t1]));
    let t3 = id(staged(w, &a, "alice", &["task", "add", "Deploy", "--label", "ops"]));
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    let clone = |name: &str, actor: &str| {
        w.git(&w.root, &["clone", "-q", remote.to_str().unwrap(), name]);
        let dir = w.path(name);
        w.crew_ok(&dir, &["--as", actor, "sync"]);
        dir
    };
    let b = clone("b", "bob");
    let c = clone("c", "carol");
    // bob takes the login loop (published by the claim itself), comments, attaches a receipt.
    staged(w, &b, "bob", &["task", "claim", &t1]);
    staged(w, &b, "bob", &["task", "comment", &t1, "Found it: the cookie path."]);
    let receipt =
        id(staged(w, &b, "bob", &["receipt", "add", "--task", &t1, "--kind", "test", "--summary", "login tests pass"]));
    w.crew_ok(&b, &["--as", "bob", "sync"]);
    // carol joins the channel and talks.
    w.crew_ok(&c, &["--as", "carol", "sync"]);
    staged(w, &c, "carol", &["msg", "join", "#general"]);
    let standup =
        id(staged(w, &c, "carol", &["msg", "send", "--to", "#general", "Standup: @bob the login loop first"]));
    w.crew_ok(&c, &["--as", "carol", "sync"]);
    // alice writes to bob, edits and blocks the deploy.
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    staged(w, &a, "alice", &["msg", "send", "--to", "bob", "A direct message"]);
    staged(w, &a, "alice", &["msg", "send", "--reply-to", &standup, "Agreed"]);
    staged(w, &a, "alice", &["task", "edit", &t3, "--priority", "0", "--label", "ops", "--label", "urgent"]);
    staged(w, &a, "alice", &["task", "block", &t3, "--reason", "waiting on infra"]);
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    // bob hands the login loop to carol, who reads her inbox and closes it.
    w.crew_ok(&b, &["--as", "bob", "sync"]);
    staged(w, &b, "bob", &["task", "handoff", &t1, "--to", "carol", "--note", "over to you"]);
    w.crew_ok(&b, &["--as", "bob", "sync"]);
    w.crew_ok(&c, &["--as", "carol", "sync"]);
    staged(w, &c, "carol", &["inbox", "--ack"]);
    staged(w, &c, "carol", &["task", "done", &t1, "--receipt", &receipt]);
    w.crew_ok(&c, &["--as", "carol", "sync"]);
    staged(w, &c, "carol", &["next", "--claim"]);
    // dave says something, then alice suspends him.
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    staged(w, &a, "dave", &["task", "comment", &t3, "I could deploy it now"]);
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    staged(w, &a, "alice", &["suspend", "dave", "--reason", "looping"]);
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    // bob rotates his key (the old one is kept to sign with), then writes with the new one.
    let bob_old = w.key(&ws, "bob");
    w.crew_ok(&b, &["--as", "bob", "sync"]);
    staged(w, &b, "bob", &["id", "rotate"]);
    w.crew_ok(&b, &["--as", "bob", "sync"]);
    staged(w, &b, "bob", &["task", "comment", &t2, "After the rotation"]);
    w.crew_ok(&b, &["--as", "bob", "sync"]);
    // alice unblocks the deploy, adds a child task and talks on a task.
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    staged(w, &a, "alice", &["task", "unblock", &t3]);
    staged(w, &a, "alice", &["task", "add", "Roll back plan", "--parent", &t3]);
    staged(w, &a, "alice", &["msg", "send", "--task", &t2, "ship it"]);
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    // erin's key is revoked, dave is resumed, carol leaves the channel.
    staged(w, &a, "erin", &["task", "comment", &t2, "erin was here"]);
    staged(w, &a, "alice", &["id", "revoke", "erin", "--reason", "key leaked"]);
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    staged(w, &a, "alice", &["resume", "dave"]);
    staged(w, &a, "dave", &["task", "comment", &t3, "back to work"]);
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    // carol leaves the channel and gives back what she took.
    w.crew_ok(&c, &["--as", "carol", "sync"]);
    staged(w, &c, "carol", &["msg", "leave", "#general"]);
    let mine = w.crew_json(&c, &["--as", "carol", "task", "list", "--mine"]);
    if let Some(task) = mine.as_array().and_then(|t| t.first()) {
        staged(w, &c, "carol", &["task", "release", task["id"].as_str().unwrap(), "--reason", "end of day"]);
        w.crew_ok(&c, &["--as", "carol", "sync"]);
    }
    (remote, ws, bob_old)
}

/// `json_as`, but a write other than a claim stays on the clone until the
/// scenario's next explicit sync, so that pushes carry several records (as
/// with `--offline` writers) and files on the remote hold several records early.
fn staged(w: &World, dir: &Path, actor: &str, args: &[&str]) -> serde_json::Value {
    let claims = args.first() == Some(&"next") || args.get(1) == Some(&"claim");
    let mut full = if claims { vec![] } else { vec!["--offline"] };
    full.extend_from_slice(args);
    json_as(w, dir, actor, &full)
}

/// The pushes the remote took, from its reflog.
fn pushes(w: &World, remote: &Path) -> Vec<Push> {
    let log = std::fs::read_to_string(remote.join("logs").join(BRANCH_REF)).expect("the remote's reflog");
    log.lines()
        .map(|line| {
            let mut parts = line.split(' ');
            let old = ObjectId::from_hex(parts.next().unwrap().as_bytes()).unwrap();
            let new = ObjectId::from_hex(parts.next().unwrap().as_bytes()).unwrap();
            let old = (!old.is_null()).then_some(old);
            let range = match old {
                Some(old) => format!("{old}..{new}"),
                None => new.to_string(),
            };
            let commits = w
                .git(remote, &["rev-list", "--reverse", "--topo-order", &range])
                .lines()
                .map(|l| ObjectId::from_hex(l.as_bytes()).unwrap())
                .collect();
            Push { old, new, commits }
        })
        .collect()
}

#[test]
fn mutated_pushes_never_panic_the_hook_and_every_accepted_one_keeps_the_promises() {
    let started = Instant::now();
    let total = env_number("CREW_MUTATIONS", 10_000) as usize;
    let seed = env_number("CREW_MUTATION_SEED", 0x6372_6577_2d6d_7574);
    let threads =
        env_number("CREW_MUTATION_THREADS", std::thread::available_parallelism().map_or(1, |n| n.get()).min(2) as u64)
            .max(1) as usize;
    println!(
        "mutation harness: seed {seed:#x} (CREW_MUTATION_SEED), {total} pushes (CREW_MUTATIONS), {threads} judge(s)"
    );

    let w = World::new();
    let (remote, ws, bob_old) = scenario(&w);
    w.crew_ok(&remote, &["verify"]);
    // The server's cache, at the final tip: the hook then takes every old tip's
    // trusted records from it, as a long-running server does.
    w.crew_ok(&remote, &["--json", "log", "-n", "1"]);
    let final_tip = ObjectId::from_hex(w.tip(&remote, "crew").unwrap().as_bytes()).unwrap();
    let pushes = pushes(&w, &remote);
    assert!(pushes.len() >= 12, "the scenario made {} pushes", pushes.len());
    assert_eq!(pushes.last().map(|p| p.new), Some(final_tip));

    let odb = Odb::open(&remote);
    let history: Vec<ObjectId> = w
        .git(&remote, &["rev-list", "--reverse", "--topo-order", "crew"])
        .lines()
        .map(|l| ObjectId::from_hex(l.as_bytes()).unwrap())
        .collect();
    let commits: HashMap<ObjectId, RawCommit> =
        history.iter().map(|c| (*c, odb.commit(*c).expect("honest commits parse"))).collect();
    for (c, raw) in &commits {
        assert_eq!(raw.bytes(), odb.read(*c).unwrap(), "the commit parser round-trips {c}");
    }
    let mut signers = Vec::new();
    let people =
        [("alice", "admin"), ("bob", "current"), ("carol", "agent"), ("dave", "suspended"), ("erin", "revoked")];
    for (name, what) in people {
        signers.push(Signer { name: name.into(), key: w.key(&ws, name), what });
    }
    signers.push(Signer { name: "bob".into(), key: bob_old, what: "retired" });
    let shared = Shared {
        ws,
        remote: remote.clone(),
        home: w.home.clone(),
        root: history[0],
        history,
        commits,
        pushes,
        signers,
    };
    drop(odb);
    let kinds: HashSet<String> = {
        let j = Judge::open(&shared);
        let cached = j.ws.index().cached().map(|(tip, _, _)| tip);
        // (Informative: with a usable cache the hook takes an old tip's trusted
        // records from it; without, it folds the old tip from scratch.)
        println!("server's index cache usable at the final tip: {}", cached == Some(crew_oid(final_tip)));
        let (_, records) = git_crew::decode::build_from_tip(j.ws.store(), crew_oid(final_tip)).unwrap();
        records.iter().map(|r| r.kind().to_owned()).collect()
    };
    println!(
        "scenario: {} honest pushes, {} commits, record kinds {kinds:?} ({:.1} s)",
        shared.pushes.len(),
        shared.history.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(kinds.len() >= 18, "too little variety: {kinds:?}");

    // The oracle's own repository: the remote's objects, its own refs.
    let oracle_repo = w.bare("oracle.git");
    std::fs::write(oracle_repo.join("objects/info/alternates"), format!("{}\n", remote.join("objects").display()))
        .unwrap();

    // A clone that sees every object the harness writes, for real pushes.
    let pusher = w.path("pusher.git");
    w.git(&w.root, &["clone", "-q", "--bare", "--shared", remote.to_str().unwrap(), pusher.to_str().unwrap()]);
    w.git(&pusher, &["config", "gc.auto", "0"]);

    // Mutation i works on push i % P, class (i / P) % C: every pair is covered.
    let groups = shared.pushes.len();
    let per_group: Vec<Vec<usize>> = (0..groups).map(|g| (g..total).step_by(groups).collect()).collect();
    let samples_wanted = (total / 500).max(20);
    let rooted = shared.pushes.iter().filter(|p| p.old.is_some()).count().max(1);
    let per_group_samples = samples_wanted.div_ceil(rooted);

    let mut tallies: BTreeMap<&'static str, Tally> = CLASSES.iter().map(|c| (*c, Tally::default())).collect();
    let mut reasons: BTreeMap<String, (usize, BTreeMap<&'static str, usize>)> = BTreeMap::new();
    let mut broken: Vec<String> = Vec::new();
    let mut panics: Vec<String> = Vec::new();
    let mut mismatches: Vec<String> = Vec::new();
    let mut accepted_examples: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut real_pushes = 0usize;
    let mut real_taken = 0usize;
    let mut real_secs = 0f64;
    let mut to_verify: BTreeMap<ObjectId, String> = BTreeMap::new();
    let judging = Instant::now();
    let mut judged = 0usize;
    let mut spent = [std::time::Duration::ZERO; 3];
    let mut negative_control: Option<(ObjectId, String)> = None;

    for (g, push) in shared.pushes.iter().enumerate() {
        // The remote at the tip this push was written on.
        match push.old {
            Some(old) => w.git(&remote, &["update-ref", BRANCH_REF, &old.to_string()]),
            None => w.git(&remote, &["update-ref", BRANCH_REF, &final_tip.to_string()]),
        };
        let judge = Judge::open(&shared);
        let base = match push.old {
            Some(old) => git_crew::decode::build_from_tip(judge.ws.store(), crew_oid(old)).expect("honest tips fold"),
            None => (State::default(), Vec::new()),
        };
        // The honest push itself: accepted, and the oracle agrees.
        assert_eq!(judge.judge(push.old, push.new), Verdict::Accepted, "honest push {g} refused");
        if let Err(why) = judge.oracle(push.old, push.new, &base, Hlc::now().ms) {
            panic!("the oracle refuses honest push {g}: {why}");
        }
        drop(judge);
        let indices = &per_group[g];
        let chunks: Vec<&[usize]> = indices.chunks(indices.len().div_ceil(threads).max(1)).collect();
        let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|chunk| {
                    let shared = &shared;
                    let base = &base;
                    scope.spawn(move || {
                        let judge = Judge::open(shared);
                        chunk.iter().map(|&i| run_one(&judge, seed, i, push, base)).collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("a judge thread")).collect()
        });
        // A sample through a real `git push`, one at a time (it moves the ref).
        let mut sampled = 0;
        let stride = (indices.len() / per_group_samples.max(1)).max(1);
        let mut next_sample = 0;
        let mut sampled_taken = false;
        for (position, o) in outcomes.iter().enumerate() {
            judged += usize::from(o.verdict.is_some());
            for (total, spent) in spent.iter_mut().zip(o.spent) {
                *total += spent;
            }
            let t = tallies.get_mut(o.class).unwrap();
            match &o.verdict {
                None => {
                    t.noop += 1;
                    if std::env::var_os("CREW_MUTATION_DEBUG").is_some() {
                        println!("noop: mutation #{} [{}] on push {g} ({} commits)", o.i, o.class, push.commits.len());
                    }
                }
                Some(Verdict::Accepted) => {
                    t.judged += 1;
                    t.accepted += 1;
                    let examples = accepted_examples.entry(o.class).or_default();
                    if examples.len() < 3 {
                        examples.push(o.desc.clone());
                    }
                    if let (Some(tip), None) = (o.tip, &o.broken) {
                        to_verify.entry(tip).or_insert_with(|| format!("mutation #{} [{}] {}", o.i, o.class, o.desc));
                    }
                }
                Some(Verdict::Refused(reason)) => {
                    match o.oracle_silent {
                        Some(true) => t.oracle_silent.push(format!("#{} {} (refused: {reason})", o.i, o.desc)),
                        Some(false) => t.oracle_flags += 1,
                        None => {}
                    }
                    if negative_control.is_none() && o.class == "sig.other" {
                        negative_control = o.tip.map(|tip| (tip, o.desc.clone()));
                    }
                    t.judged += 1;
                    t.refused += 1;
                    *t.reasons.entry(reason.clone()).or_default() += 1;
                    let r = reasons.entry(reason.clone()).or_default();
                    r.0 += 1;
                    *r.1.entry(o.class).or_default() += 1;
                }
                Some(Verdict::Panic(msg)) => {
                    t.judged += 1;
                    t.panics += 1;
                    panics.push(format!("seed {seed:#x} mutation #{} [{}] {}: panicked: {msg}", o.i, o.class, o.desc));
                }
            }
            if let Some(why) = &o.broken {
                broken.push(format!(
                    "seed {seed:#x} mutation #{} [{}] push {g} ({} -> {}): {}\n    broken promise: {why}",
                    o.i,
                    o.class,
                    push.old.map_or("none".into(), |o| o.to_string()),
                    o.tip.map_or("none".into(), |t| t.to_string()),
                    o.desc
                ));
            }
            let (Some(old), Some(tip), Some(verdict)) = (push.old, o.tip, &o.verdict) else { continue };
            // Every stride-th push, and the first one taken (other than a benign one).
            let first_taken = *verdict == Verdict::Accepted && !BENIGN.contains(&o.class) && !sampled_taken;
            let strided = sampled < per_group_samples && position >= next_sample;
            if matches!(verdict, Verdict::Panic(_)) || !(first_taken || strided) {
                continue;
            }
            if first_taken {
                sampled_taken = true;
            } else {
                sampled += 1;
                next_sample = position + stride;
            }
            real_pushes += 1;
            let t = Instant::now();
            let out = w.git_output(
                &pusher,
                &["push", "--no-verify", remote.to_str().unwrap(), &format!("{tip}:{BRANCH_REF}")],
            );
            let took = out.status.success();
            real_taken += usize::from(took);
            let after = w.tip(&remote, "crew").unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let in_process = *verdict == Verdict::Accepted;
            if took != in_process {
                mismatches.push(format!(
                    "seed {seed:#x} mutation #{} [{}] {}: in process {verdict:?}, real push {}: {}",
                    o.i,
                    o.class,
                    o.desc,
                    if took { "accepted" } else { "refused" },
                    stderr.trim()
                ));
            }
            assert!(!stderr.contains("panicked"), "the real hook panicked: {stderr}");
            if took {
                assert_eq!(after, tip.to_string(), "an accepted real push left the remote elsewhere");
                w.git(&remote, &["update-ref", BRANCH_REF, &old.to_string(), &tip.to_string()]);
            } else {
                assert_eq!(after, old.to_string(), "a refused real push moved the remote");
            }
            real_secs += t.elapsed().as_secs_f64();
        }
    }
    let judging_secs = judging.elapsed().as_secs_f64();
    w.git(&remote, &["update-ref", BRANCH_REF, &final_tip.to_string()]);

    // Every distinct accepted tip, verified whole by the real binary (a few at
    // a time, each on its own branch of the oracle repository).
    let verifying = Instant::now();
    let mut verify_failures = Vec::new();
    let queue: Vec<(&ObjectId, &String)> = to_verify.iter().collect();
    for batch in queue.chunks(threads.max(2)) {
        let children: Vec<_> = batch
            .iter()
            .map(|(tip, _)| {
                let branch = format!("m-{tip}");
                w.git(&oracle_repo, &["update-ref", &format!("refs/heads/{branch}"), &tip.to_string()]);
                w.crew_cmd(&oracle_repo, &["--branch", &branch, "--json", "verify"])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for ((tip, desc), child) in batch.iter().zip(children) {
            let out = child.wait_with_output().unwrap();
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                verify_failures.push(format!("{desc}\n    git crew verify of {tip}: {}: {}", out.status, err.trim()));
            }
        }
    }
    let verify_runs = queue.len();
    // The same path on a tip the hook refused (a record re-signed with
    // another actor's key): the real verify must refuse it too.
    let (bad, bad_desc) = negative_control.expect("a refused sig.other mutation");
    w.git(&oracle_repo, &["update-ref", "refs/heads/negative", &bad.to_string()]);
    let run = w.crew(&oracle_repo, &["--branch", "negative", "--json", "verify"]);
    assert_eq!(run.code, 4, "git crew verify accepts a refused push ({bad_desc}): {run:?}");
    let verify_secs = verifying.elapsed().as_secs_f64();

    // The figures.
    println!();
    println!(
        "{:<16} {:>7} {:>9} {:>8} {:>7} {:>5}  top refusal",
        "class", "judged", "accepted", "refused", "panics", "noop"
    );
    let mut sum = Tally::default();
    for (class, t) in &tallies {
        let top = t.reasons.iter().max_by_key(|(_, n)| **n).map(|(r, n)| format!("{r} ({n})")).unwrap_or_default();
        let oracle = format!("{}/{}", t.oracle_flags, t.oracle_flags + t.oracle_silent.len());
        println!(
            "{class:<16} {:>7} {:>9} {:>8} {:>7} {:>5} {oracle:>7}  {top}",
            t.judged, t.accepted, t.refused, t.panics, t.noop
        );
        sum.judged += t.judged;
        sum.accepted += t.accepted;
        sum.refused += t.refused;
        sum.panics += t.panics;
        sum.noop += t.noop;
    }
    println!(
        "{:<16} {:>7} {:>9} {:>8} {:>7} {:>5}",
        "total", sum.judged, sum.accepted, sum.refused, sum.panics, sum.noop
    );
    println!();
    println!("refusals by reason:");
    let mut by_count: Vec<_> = reasons.iter().collect();
    by_count.sort_by_key(|(r, (n, _))| (std::cmp::Reverse(*n), (*r).clone()));
    for (reason, (n, classes)) in by_count {
        let classes: Vec<String> = classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
        println!("  {n:>6}  {reason}  [{}]", classes.join(", "));
    }
    println!("(oracle: of the sampled refusals, how many the oracle flags too)");
    println!();
    println!("refused by the hook, nothing wrong to the oracle (sample):");
    for (class, t) in &tallies {
        for e in t.oracle_silent.iter().take(3) {
            println!("  [{class}] {e}");
        }
    }
    println!();
    println!("accepted, examples per class:");
    for (class, examples) in &accepted_examples {
        for e in examples {
            println!("  [{class}] {e}");
        }
    }
    println!();
    println!(
        "judged {} pushes in process in {judging_secs:.1} s ({:.0} pushes/s), {} accepted ({} distinct tips verified by the real binary in {verify_secs:.1} s), {} refused, {} panics; {real_pushes} real pushes ({real_taken} accepted) in {real_secs:.1} s; whole test {:.1} s",
        sum.judged,
        sum.judged as f64 / judging_secs,
        sum.accepted,
        verify_runs,
        sum.refused,
        sum.panics,
        started.elapsed().as_secs_f64()
    );

    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / judged.max(1) as f64;
    println!(
        "per mutation (summed over judges): build {:.2} ms, judge {:.2} ms, oracle {:.2} ms",
        ms(spent[0]),
        ms(spent[1]),
        ms(spent[2])
    );
    let cleanup = Instant::now();
    drop(w);
    println!("removing the world: {:.1} s", cleanup.elapsed().as_secs_f64());
    for p in &panics {
        println!("PANIC: {p}");
    }
    for b in &broken {
        println!("BROKEN: {b}");
    }
    for m in &mismatches {
        println!("MISMATCH: {m}");
    }
    for f in &verify_failures {
        println!("VERIFY FAILED: {f}");
    }
    assert!(judged >= total.saturating_sub(total / 50), "only {judged} of {total} mutations applied");
    assert!(panics.is_empty(), "{} judgements panicked (seed {seed:#x})", panics.len());
    assert!(broken.is_empty(), "{} accepted pushes break a promise (seed {seed:#x})", broken.len());
    assert!(
        verify_failures.is_empty(),
        "{} accepted tips fail `git crew verify` (seed {seed:#x})",
        verify_failures.len()
    );
    assert!(mismatches.is_empty(), "{} real pushes got another verdict (seed {seed:#x})", mismatches.len());
    assert!(real_pushes >= 20.min(total), "only {real_pushes} real pushes");
    let benign: usize = BENIGN.iter().map(|c| tallies[c].judged).sum();
    assert!(
        sum.refused * 10 >= (sum.judged - benign) * 8,
        "most mutations must be refused: {} of {}",
        sum.refused,
        sum.judged - benign
    );
    for (class, t) in &tallies {
        if BENIGN.contains(class) {
            assert!(t.accepted > 0, "class {class} never accepted: the control is broken");
        } else {
            assert!(t.judged > 0 && t.refused > 0, "class {class} never refused: a mutator that changes nothing?");
        }
        // (Some classes cannot apply to some pushes: no file of the first push
        // holds two records to reorder.)
        assert!(t.noop * 10 <= t.judged + t.noop, "class {class} applied to nothing {} times", t.noop);
    }
}

/// Build, judge and (if accepted) check mutation `i`.
fn run_one(judge: &Judge, seed: u64, i: usize, push: &Push, base: &(State, Vec<Record>)) -> Outcome {
    let groups = judge.s.pushes.len();
    let class = CLASSES[(i / groups) % CLASSES.len()];
    let mut rng = rng_for(seed, i);
    let mut outcome = Outcome {
        i,
        class,
        desc: String::new(),
        tip: None,
        verdict: None,
        broken: None,
        oracle_silent: None,
        spent: Default::default(),
    };
    let t = Instant::now();
    let built = judge.build(class, &mut rng, push);
    outcome.spent[0] = t.elapsed();
    let Some((tip, desc)) = built else { return outcome };
    outcome.tip = Some(tip);
    outcome.desc = desc;
    let t = Instant::now();
    let verdict = judge.judge(push.old, tip);
    outcome.spent[1] = t.elapsed();
    let t = Instant::now();
    if verdict == Verdict::Accepted {
        outcome.broken = judge.oracle(push.old, tip, base, Hlc::now().ms).err();
    } else if i.is_multiple_of(10) {
        // The oracle's own sharpness: on a sample of refused pushes it should
        // find something wrong too.
        outcome.oracle_silent = Some(judge.oracle(push.old, tip, base, Hlc::now().ms).is_ok());
    }
    outcome.spent[2] = t.elapsed();
    outcome.verdict = Some(verdict);
    outcome
}

/// Minimal reproduction of what the harness found (seed 11, `CREW_MUTATIONS=40000`,
/// mutation #15966, class `record.replay`): the server refuses any new record by
/// a suspended actor, whatever its date, unless the push itself carries the
/// actor's resumption; then a record of the actor dated *before* the
/// resumption (even before the suspension, and before the last record the
/// suspension saw, so the fold counts it) is published too. A resumption
/// restores the actor from its point in the fold order on; what the actor
/// claims to have written while stopped, or before, the suspender never saw.
#[test]
fn a_resumption_in_the_same_push_does_not_admit_records_dated_before_it() {
    let w = World::new();
    let remote = served_bare(&w, "remote.git");
    let (a, ws) = w.workspace("a");
    w.agent(&a, "dave");
    w.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    let early = Hlc::now();
    std::thread::sleep(std::time::Duration::from_millis(5));
    json_as(&w, &a, "dave", &["task", "add", "Dave's last seen record"]);
    json_as(&w, &a, "alice", &["suspend", "dave", "--reason", "looping"]);
    w.crew_ok(&a, &["--as", "alice", "sync"]);
    let base = ObjectId::from_hex(w.tip(&remote, "crew").unwrap().as_bytes()).unwrap();
    // alice resumes dave in her clone; not published yet.
    json_as(&w, &a, "alice", &["--offline", "resume", "dave"]);
    let resumed = ObjectId::from_hex(w.tip(&a, "crew").unwrap().as_bytes()).unwrap();

    // dave's record dated before everything the suspension saw, in a new file.
    let odb = Odb::open(&a);
    let payload = Payload::TaskCreate(git_crew::record::kinds::TaskCreate {
        title: "written while nobody looked".into(),
        ..Default::default()
    });
    let (record, bytes) = record::encode(&ws, "dave", early, payload, &w.key(&ws, "dave")).unwrap();
    let forged_on = |parent: ObjectId| {
        let mut c = odb.commit(parent).unwrap();
        let path = git_crew::layout::path_of(&record);
        let comps: Vec<&str> = path.split('/').collect();
        let tree = odb.with_file(Some(c.tree()), &comps, Some(odb.write(Kind::Blob, &bytes))).unwrap();
        c.set_tree(tree);
        c.set_parents(&[parent]);
        for key in ["author", "committer"] {
            c.edit_ident(key, |i| {
                i.name = "dave".into();
                i.email = "dave@crew".into();
            });
        }
        c.message = record::commit_message([&record]);
        odb.write_commit(&c)
    };
    let push =
        |commit: ObjectId| w.git_output(&a, &["push", "--no-verify", "origin", &format!("{commit}:{BRANCH_REF}")]);
    // Control: on the published tip, where dave is suspended, it is refused.
    let out = push(forged_on(base));
    assert!(!out.status.success(), "a suspended actor's record was published");
    assert!(String::from_utf8_lossy(&out.stderr).contains("dave is suspended"));
    // With alice's resumption in the same push, it must be refused as well.
    let out = push(forged_on(resumed));
    let said = String::from_utf8_lossy(&out.stderr);
    let tip = ObjectId::from_hex(w.tip(&remote, "crew").unwrap().as_bytes()).unwrap();
    assert!(
        !out.status.success() && tip == base,
        "the server published {} by dave, dated {early} (before his suspension and before the last record it \
         saw), because the push also carries his resumption: {said}",
        record.id.short()
    );
}
