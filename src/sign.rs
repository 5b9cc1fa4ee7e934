//! Signing, verification and the private keys of local identities.
//!
//! The signed message binds a fixed domain prefix (which carries the format
//! version), the workspace id, the record kind and the body bytes exactly as
//! stored, so a record cannot be replayed into another workspace or read as
//! another kind. A record id is the sha256 of that message.
//!
//! Private keys live under `$CREW_HOME` (default: the user's config dir), one file
//! per workspace and actor, mode 0600. They never enter a repository.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::id::{hex, unhex, Id};

/// Domain separation prefix of every signed message; names the format version.
pub const DOMAIN: &[u8] = b"git-crew record v1\0";

/// An ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", &hex(&self.0)[..16])
    }
}

impl PublicKey {
    /// A short fingerprint for people: the first 16 hex digits of the key's sha256.
    pub fn fingerprint(&self) -> String {
        hex(&Sha256::digest(self.0)[..8])
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl std::str::FromStr for PublicKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = unhex(s).and_then(|b| <[u8; 32]>::try_from(b).ok());
        bytes.map(PublicKey).ok_or_else(|| format!("invalid public key {s:?}: expected 64 lowercase hex digits"))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Signature {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = unhex(s).and_then(|b| <[u8; 64]>::try_from(b).ok());
        bytes.map(Signature).ok_or_else(|| format!("invalid signature {s:?}: expected 128 lowercase hex digits"))
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Domain prefix of a proof of possession: a key's signature saying "I am the
/// key of this name in this workspace". Distinct from [`DOMAIN`], so no record
/// signature is ever a proof and no proof is ever a record.
pub const KEY_DOMAIN: &[u8] = b"git-crew key v1\0";

/// The message a proof of possession signs: [`KEY_DOMAIN`], the workspace id,
/// the actor name, a zero byte and the 32 key bytes.
pub fn key_message(ws: &Id, name: &str, key: &PublicKey) -> Vec<u8> {
    let mut m = Vec::with_capacity(KEY_DOMAIN.len() + 32 + name.len() + 1 + 32);
    m.extend_from_slice(KEY_DOMAIN);
    m.extend_from_slice(&ws.0);
    m.extend_from_slice(name.as_bytes());
    m.push(0);
    m.extend_from_slice(&key.0);
    m
}

/// Whether `proof` shows that whoever made it holds the private half of `key`
/// and meant it for `name` in `ws`.
pub fn verify_proof(ws: &Id, name: &str, key: &PublicKey, proof: &Signature) -> bool {
    verify(key, &key_message(ws, name, key), proof)
}

/// The message a record's signature covers.
pub fn message(ws: &Id, kind: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 32 + kind.len() + 1 + body.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(&ws.0);
    m.extend_from_slice(kind.as_bytes());
    m.push(0);
    m.extend_from_slice(body);
    m
}

/// A record id: the sha256 of its signed message.
pub fn record_id(message: &[u8]) -> Id {
    Id(Sha256::digest(message).into())
}

/// Whether `sig` is a valid signature of `msg` by `key` (strict verification,
/// weak keys refused).
pub fn verify(key: &PublicKey, msg: &[u8], sig: &Signature) -> bool {
    let Some(vk) = verifying_key(key) else { return false };
    vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig.0)).is_ok()
}

/// Whether `key` can sign at all: a curve point that is not of small order
/// (a weak key verifies forged signatures).
pub fn is_valid_key(key: &PublicKey) -> bool {
    verifying_key(key).is_some()
}

/// The decompressed, non-weak key. Decompression costs about a third of a
/// verification and a workspace has few keys, so keys are memoised per thread.
fn verifying_key(key: &PublicKey) -> Option<VerifyingKey> {
    thread_local! {
        static KEYS: std::cell::RefCell<std::collections::HashMap<PublicKey, Option<VerifyingKey>>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if keys.len() > 4096 {
            keys.clear();
        }
        *keys.entry(*key).or_insert_with(|| {
            let vk = VerifyingKey::from_bytes(&key.0).ok().filter(|vk| !vk.is_weak());
            vk.filter(|_| is_canonical(&key.0))
        })
    })
}

/// Whether a point encoding is the one canonical encoding of its point: y
/// (the low 255 bits) below p = 2^255 - 19. Decoding reduces y modulo p, so
/// without this one key would have two spellings, and could be admitted
/// twice under different names.
fn is_canonical(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff);
    !(top && bytes[0] >= 0xed)
}

/// Verify many signatures; on failure, the index of the first bad one.
///
/// Each signature is checked strictly on its own. Batch verification is faster
/// but accepts some signatures strict verification refuses (a small-order or
/// mixed-order R), so a record's verdict would depend on which records happened
/// to be checked with it.
pub fn verify_all(items: &[(&[u8], &Signature, &PublicKey)]) -> Result<(), usize> {
    match items.iter().position(|(m, s, k)| !verify(k, m, s)) {
        Some(i) => Err(i),
        None => Ok(()),
    }
}

/// One verdict per item, as [`verify`] gives it.
pub fn verify_each(items: &[(&[u8], &Signature, &PublicKey)]) -> Vec<bool> {
    items.iter().map(|(m, s, k)| verify(k, m, s)).collect()
}

/// A private signing key.
pub struct Keypair(SigningKey);

impl Keypair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Keypair, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Keypair::from_seed(seed))
    }

    /// The key with this 32-byte seed (deterministic; used by tests and key files).
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        Keypair(SigningKey::from_bytes(&seed))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Sign `msg`.
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.0.sign(msg).to_bytes())
    }

    /// A proof of possession of this key, for `name` in `ws` (see [`key_message`]).
    pub fn prove(&self, ws: &Id, name: &str) -> Signature {
        self.sign(&key_message(ws, name, &self.public()))
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({:?})", self.public())
    }
}

/// Errors reading or writing local keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No private key for this actor in this workspace on this machine.
    #[error("no private key for {name:?} in this workspace at {path}: run the command as an actor whose key is on this machine (--as NAME), or set CREW_HOME to where the keys are")]
    Missing {
        /// The actor.
        name: String,
        /// Where the key was looked for.
        path: PathBuf,
    },
    /// A key file exists but cannot be read as a key.
    #[error("key file {path} is corrupt: expected one line `ed25519-seed <64 hex digits>`")]
    Corrupt {
        /// The file.
        path: PathBuf,
    },
    /// Refusing to overwrite an existing key.
    #[error("a key already exists at {path}; refusing to overwrite it")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Filesystem error.
    #[error("cannot access key file {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// No home directory to default `$CREW_HOME` to.
    #[error("cannot find a place for keys: set CREW_HOME (or HOME)")]
    NoHome,
    /// The key store would be inside a git work tree, where a key could be
    /// committed by accident.
    #[error("the key store {path} is inside the git work tree {work_tree}: a private key there could be committed; set CREW_HOME to a directory outside every repository")]
    InsideWorkTree {
        /// The key store.
        path: PathBuf,
        /// The work tree that holds it.
        work_tree: PathBuf,
    },
    /// A private key file that others may read.
    #[error("the private key {path} is readable by others (mode {mode:o}): run `chmod 600 {path}` (as ssh does, git-crew refuses to use it)")]
    Exposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The random source failed.
    #[error("cannot generate a key: {0}")]
    Random(String),
}

/// Where private keys live: `<root>/keys/<workspace id>/<actor>.key`.
#[derive(Clone, Debug)]
pub struct KeyStore {
    root: PathBuf,
}

impl KeyStore {
    /// A key store rooted at `root`.
    pub fn at(root: impl Into<PathBuf>) -> KeyStore {
        KeyStore { root: root.into() }
    }

    /// The key store named by `$CREW_HOME`, else `$XDG_CONFIG_HOME/git-crew`, else
    /// `$HOME/.config/git-crew`, as an absolute path. Refused inside a git work
    /// tree: a key there is one `git add -A` away from a repository.
    pub fn from_env() -> Result<KeyStore, KeyError> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let root = var("CREW_HOME")
            .or_else(|| var("XDG_CONFIG_HOME").map(|p| p.join("git-crew")))
            .or_else(|| var("HOME").map(|p| p.join(".config").join("git-crew")))
            .ok_or(KeyError::NoHome)?;
        let root = std::path::absolute(&root).map_err(|source| KeyError::Io { path: root.clone(), source })?;
        if let Some(work_tree) = enclosing_work_tree(&root) {
            return Err(KeyError::InsideWorkTree { path: root, work_tree });
        }
        Ok(KeyStore::at(root))
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The key file of `name` in workspace `ws`.
    pub fn path(&self, ws: &Id, name: &str) -> PathBuf {
        self.root.join("keys").join(ws.hex()).join(format!("{name}.key"))
    }

    /// Whether a key for `name` in `ws` is on this machine.
    pub fn has(&self, ws: &Id, name: &str) -> bool {
        self.path(ws, name).is_file()
    }

    /// Load the key of `name` in `ws`.
    pub fn load(&self, ws: &Id, name: &str) -> Result<Keypair, KeyError> {
        let path = self.path(ws, name);
        read_key_file(&path).map_err(|e| match e {
            KeyError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                KeyError::Missing { name: name.to_owned(), path: path.clone() }
            }
            other => other,
        })
    }

    /// Store the key of `name` in `ws`; refuses to overwrite an existing key.
    pub fn save(&self, ws: &Id, name: &str, key: &Keypair) -> Result<PathBuf, KeyError> {
        let path = self.path(ws, name);
        write_key_file(&path, key)?;
        Ok(path)
    }

    /// Where a key waits to become `name`'s key: made by `id rotate` before the
    /// rotation is written, or by `id request` for an actor that has a key here.
    pub fn pending_path(&self, ws: &Id, name: &str) -> PathBuf {
        self.root.join("keys").join(ws.hex()).join(format!("{name}.key.next"))
    }

    /// Store `key` as `name`'s pending key (replacing an older pending one).
    pub fn save_pending(&self, ws: &Id, name: &str, key: &Keypair) -> Result<PathBuf, KeyError> {
        let path = self.pending_path(ws, name);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(KeyError::Io { path, source: e }),
            _ => {}
        }
        write_key_file(&path, key)?;
        Ok(path)
    }

    /// The pending key of `name`, if any.
    pub fn load_pending(&self, ws: &Id, name: &str) -> Option<Keypair> {
        read_key_file(&self.pending_path(ws, name)).ok()
    }

    /// Make the pending key `name`'s key; the old key file moves to
    /// `retired/<name>.<fingerprint>.key` (records it signed stay verifiable by
    /// its public half on the branch; the file is kept, not destroyed, so an
    /// operator decides when to shred it).
    pub fn promote_pending(&self, ws: &Id, name: &str) -> Result<PathBuf, KeyError> {
        let (path, pending) = (self.path(ws, name), self.pending_path(ws, name));
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| KeyError::Io { path, source }
        };
        if let Ok(old) = read_key_file(&path) {
            let dir = self.root.join("keys").join(ws.hex()).join("retired");
            create_private_dir(&dir).map_err(io(&dir))?;
            let retired = dir.join(format!("{name}.{}.key", old.public().fingerprint()));
            fs::rename(&path, &retired).map_err(io(&retired))?;
        }
        fs::rename(&pending, &path).map_err(io(&path))?;
        Ok(path)
    }

    /// Names of the actors whose keys for `ws` are on this machine, sorted.
    pub fn local_actors(&self, ws: &Id) -> Vec<String> {
        let dir = self.root.join("keys").join(ws.hex());
        let mut names: Vec<String> = fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".key").map(str::to_owned))
            .collect();
        names.sort();
        names
    }
}

/// The nearest directory at or above `path` that holds a `.git` (a work tree).
fn enclosing_work_tree(path: &Path) -> Option<PathBuf> {
    path.ancestors().find(|dir| dir.join(".git").exists()).map(Path::to_owned)
}

fn read_key_file(path: &Path) -> Result<Keypair, KeyError> {
    check_private(path)?;
    let text = fs::read_to_string(path).map_err(|source| KeyError::Io { path: path.to_owned(), source })?;
    let seed = text
        .trim_end()
        .strip_prefix("ed25519-seed ")
        .and_then(unhex)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| KeyError::Corrupt { path: path.to_owned() })?;
    Ok(Keypair::from_seed(seed))
}

fn write_key_file(path: &Path, key: &Keypair) -> Result<(), KeyError> {
    let io = |source| KeyError::Io { path: path.to_owned(), source };
    if path.exists() {
        return Err(KeyError::Exists { path: path.to_owned() });
    }
    let dir = path.parent().expect("key paths have a parent");
    create_private_dir(dir).map_err(io)?;
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let mut file = private_file(&tmp).map_err(io)?;
    writeln!(file, "ed25519-seed {}", hex(&key.0.to_bytes())).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

/// Refuse a key file that group or others may read or write.
#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(|source| KeyError::Io { path: path.to_owned(), source })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed { path: path.to_owned(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y + p for a small y is another spelling of the point with that y: never
    /// a usable key, while the canonical spelling of the same point is.
    #[test]
    fn only_the_canonical_encoding_of_a_point_is_a_key() {
        let mut found = 0;
        for y in 0u8..19 {
            let mut canonical = [0u8; 32];
            canonical[0] = y;
            let mut twin = [0xffu8; 32];
            twin[0] = 0xed + y;
            twin[31] = 0x7f;
            let usable = VerifyingKey::from_bytes(&canonical).is_ok_and(|vk| !vk.is_weak());
            assert_eq!(VerifyingKey::from_bytes(&twin).is_ok_and(|vk| !vk.is_weak()), usable, "y = {y}");
            assert_eq!(is_valid_key(&PublicKey(canonical)), usable, "y = {y}");
            assert!(!is_valid_key(&PublicKey(twin)), "y = {y}: y + p is not canonical");
            found += usize::from(usable);
        }
        assert!(found > 0, "some small y is a usable point, so the test tests something");
        assert!(is_valid_key(&Keypair::from_seed([7; 32]).public()));
    }

    #[test]
    fn domain_separation_changes_the_message() {
        let k = Keypair::from_seed([7; 32]);
        let m1 = message(&Id([1; 32]), "task.create", b"body");
        let sig = k.sign(&m1);
        assert!(verify(&k.public(), &m1, &sig));
        assert!(!verify(&k.public(), &message(&Id([2; 32]), "task.create", b"body"), &sig));
        assert!(!verify(&k.public(), &message(&Id([1; 32]), "task.claim", b"body"), &sig));
        let m2 = message(&Id([1; 32]), "task.create", b"other");
        let sig2 = k.sign(&m2);
        assert_eq!(verify_all(&[(&m1, &sig, &k.public()), (&m2, &sig2, &k.public())]), Ok(()));
        assert_eq!(verify_all(&[(&m1, &sig, &k.public()), (&m2, &sig, &k.public())]), Err(1));
    }

    #[test]
    fn key_files_round_trip_and_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::at(dir.path());
        let k = Keypair::from_seed([9; 32]);
        store.save(&Id::ZERO, "alice", &k).unwrap();
        assert_eq!(store.load(&Id::ZERO, "alice").unwrap().public(), k.public());
        assert!(matches!(store.save(&Id::ZERO, "alice", &k), Err(KeyError::Exists { .. })));
        assert!(matches!(store.load(&Id::ZERO, "bob"), Err(KeyError::Missing { .. })));
        assert_eq!(store.local_actors(&Id::ZERO), vec!["alice".to_owned()]);
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_is_refused_with_the_chmod_to_run() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::at(dir.path());
        let path = store.save(&Id::ZERO, "alice", &Keypair::from_seed([9; 32])).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = store.load(&Id::ZERO, "alice").unwrap_err();
        assert!(matches!(err, KeyError::Exposed { mode: 0o640, .. }), "{err}");
        assert!(err.to_string().contains(&format!("chmod 600 {}", path.display())), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(store.load(&Id::ZERO, "alice").is_ok());
    }
}
