//! The [`Backend`] in memory, for tests: objects and references in maps,
//! no process and no file.
//!
//! It keeps git's semantics where the store depends on them, and the
//! conformance suite (`tests.rs`) checks each against the gix backend: an
//! object's id is the SHA-1 git computes (with gix's own hasher, so ids agree
//! with a real repository byte for byte), bytes are stored unparsed (a
//! malformed tree is kept and refused on reading, as in git), reference names
//! follow git's rules, and a compare-and-swap that loses is
//! [`StoreError::Raced`]. It has no reflog, no symbolic references and no
//! packing: nothing the store reads.
//!
//! Clones share one repository, like two processes on one clone, so a test can
//! race two stores.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{check_ref_name, from_kind, to_oid, Backend, ConfigEntry, Expected, Kind, Oid, Result, StoreError};

/// An in-memory repository. Clones share it.
#[derive(Clone, Default)]
pub struct Memory {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    objects: Mutex<HashMap<Oid, (Kind, Vec<u8>)>>,
    refs: Mutex<BTreeMap<String, Oid>>,
    config: Mutex<BTreeMap<String, String>>,
}

/// A lock even if a thread panicked holding it: every update below is one
/// map operation, so the maps are never left half-changed.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Memory {
    /// How many objects it holds.
    pub fn object_count(&self) -> usize {
        lock(&self.inner.objects).len()
    }

    /// Copy in every object of `other` this repository lacks, and no
    /// reference: what a fetch brings, for tests where two memory
    /// repositories stand for two clones.
    pub fn copy_objects_from(&self, other: &Memory) {
        // Copied out first: `other` may be a clone of this very repository.
        let theirs = lock(&other.inner.objects).clone();
        let mut ours = lock(&self.inner.objects);
        for (id, object) in theirs {
            ours.entry(id).or_insert(object);
        }
    }
}

impl Backend for Memory {
    fn read_object(&self, id: Oid) -> Result<Option<(Kind, Vec<u8>)>> {
        Ok(lock(&self.inner.objects).get(&id).cloned())
    }

    fn write_object(&self, kind: Kind, data: &[u8]) -> Result<Oid> {
        let id = gix::objs::compute_hash(gix::hash::Kind::Sha1, from_kind(kind), data)
            .map_err(|e| StoreError::Git { what: format!("hashing a {kind}"), message: e.to_string() })?;
        let id = to_oid(id);
        lock(&self.inner.objects).entry(id).or_insert_with(|| (kind, data.to_vec()));
        Ok(id)
    }

    fn read_ref(&self, name: &str) -> Result<Option<Oid>> {
        check_ref_name(name)?;
        Ok(lock(&self.inner.refs).get(name).copied())
    }

    fn update_ref(&self, name: &str, expected: Expected, new: Oid, _reflog: &str) -> Result<()> {
        check_ref_name(name)?;
        let mut refs = lock(&self.inner.refs);
        let current = refs.get(name).copied();
        let holds = match expected {
            Expected::Any => true,
            // As git's ref transaction has it: a ref that must not exist
            // may already hold the very value being written.
            Expected::Absent => current.is_none() || current == Some(new),
            Expected::At(o) => current == Some(o),
        };
        if !holds {
            return Err(StoreError::Raced(name.to_owned()));
        }
        refs.insert(name.to_owned(), new);
        Ok(())
    }

    fn refs_under(&self, prefix: &str) -> Result<Vec<(String, Oid)>> {
        let refs = lock(&self.inner.refs);
        let under = refs.range(prefix.to_owned()..).take_while(|(name, _)| name.starts_with(prefix));
        Ok(under.map(|(name, id)| (name.clone(), *id)).collect())
    }

    fn delete_ref(&self, name: &str) -> Result<()> {
        check_ref_name(name)?;
        lock(&self.inner.refs).remove(name);
        Ok(())
    }

    fn config_string(&self, key: &str) -> Option<String> {
        let (section, rest) = key.split_once('.')?;
        let (sub, name) = match rest.rsplit_once('.') {
            Some((sub, name)) => (Some(sub), name),
            None => (None, rest),
        };
        lock(&self.inner.config).get(&config_key(section, sub, name)).cloned()
    }

    fn set_config(&self, entries: &[ConfigEntry<'_>]) -> Result<()> {
        let mut config = lock(&self.inner.config);
        for (section, sub, name, value) in entries {
            config.insert(config_key(section, *sub, name), (*value).to_owned());
        }
        Ok(())
    }

    fn name_hint(&self) -> Option<String> {
        None
    }

    fn command_dir(&self) -> Option<&std::path::Path> {
        None
    }
}

/// A configuration key as git compares them: section and name ignore case,
/// the subsection does not.
fn config_key(section: &str, sub: Option<&str>, name: &str) -> String {
    match sub {
        Some(sub) => format!("{}.{sub}.{}", section.to_ascii_lowercase(), name.to_ascii_lowercase()),
        None => format!("{}.{}", section.to_ascii_lowercase(), name.to_ascii_lowercase()),
    }
}
