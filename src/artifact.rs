//! Files a command reads: receipts' artifacts inside the work tree, and the
//! files and standard input that arguments name (`--file`, a request file).
//!
//! Every read is bounded and takes only regular files: a device (`/dev/zero`),
//! a FIFO or a directory is refused before a byte is read, so no argument can
//! make a command hang or eat memory. An artifact is named on the branch by its
//! path relative to the top of the work tree, normalised (`a/b.txt`: no `.`,
//! `..`, empty component, leading or trailing `/`, or backslash), so every
//! clone resolves it to the same file; hashing it (`receipt add`, `verify
//! --artifacts`) reads only a regular file that, with every symbolic link
//! resolved, is still inside the work tree. A receipt therefore cannot point at
//! `/etc/shadow` or at a file outside the repository through a link.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::record::kinds::{check_path, Artifact};

/// How large an artifact may be unless `crew.maxArtifactBytes` says
/// otherwise: 256 MiB.
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 256 * 1024 * 1024;

/// How large a `--file` argument or standard input given as text may be:
/// 1 MiB (a message holds at most 8,000 characters).
pub const MAX_TEXT_BYTES: u64 = 1024 * 1024;

/// Why a file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not a regular file.
    #[error("{path}: not a regular file (a {what}); give a file")]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// Larger than allowed.
    #[error("{path}: larger than {limit} bytes")]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// Outside the work tree (itself, or through a symbolic link).
    #[error("{path}: not inside the work tree {work_tree}: an artifact is a file of this repository")]
    Outside {
        /// The path.
        path: PathBuf,
        /// The work tree.
        work_tree: PathBuf,
    },
    /// Not UTF-8 where text is needed.
    #[error("{path}: not UTF-8 text")]
    NotText {
        /// The path.
        path: PathBuf,
    },
    /// The operating system refused. (The cause is the error's source, which
    /// error chains print after the message.)
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The bytes of a regular file, at most `limit` of them.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read_limited(open_regular(path)?, path, limit)
}

/// The text of a regular file, at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, FileError> {
    String::from_utf8(read_bounded(path, limit)?).map_err(|_| FileError::NotText { path: path.to_owned() })
}

/// Standard input as text, at most `limit` bytes.
pub fn read_stdin_text(limit: u64) -> Result<String, FileError> {
    let path = PathBuf::from("standard input");
    let bytes = read_limited(std::io::stdin().lock(), &path, limit)?;
    String::from_utf8(bytes).map_err(|_| FileError::NotText { path })
}

fn read_limited(source: impl Read, path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::new();
    source
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Io { path: path.to_owned(), source })?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { path: path.to_owned(), limit });
    }
    Ok(bytes)
}

/// Open `path` if it is a regular file: checked before opening (so a FIFO is
/// never opened, which could block) and again on the open file.
fn open_regular(path: &Path) -> Result<File, FileError> {
    let io = |source| FileError::Io { path: path.to_owned(), source };
    let kind = |meta: &std::fs::Metadata| -> Option<&'static str> {
        let t = meta.file_type();
        if t.is_file() {
            return None;
        }
        Some(if t.is_dir() {
            "directory"
        } else if t.is_symlink() {
            "symbolic link"
        } else {
            special_kind(&t)
        })
    };
    let not_regular = |what| FileError::NotRegular { path: path.to_owned(), what };
    if let Some(what) = kind(&std::fs::metadata(path).map_err(io)?) {
        return Err(not_regular(what));
    }
    let file = File::open(path).map_err(io)?;
    match kind(&file.metadata().map_err(io)?) {
        Some(what) => Err(not_regular(what)),
        None => Ok(file),
    }
}

#[cfg(unix)]
fn special_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "special file"
}

/// The path an artifact is recorded under: `file` (relative to the current
/// directory, or absolute) as a normalised path relative to `work_tree`,
/// which it must be inside, symbolic links resolved.
pub fn relative_path(work_tree: &Path, file: &Path) -> Result<String, FileError> {
    let (top, real) = inside(work_tree, file)?;
    let rel =
        real.strip_prefix(&top).map_err(|_| FileError::Outside { path: file.to_owned(), work_tree: top.clone() })?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => Ok(s.to_string_lossy().into_owned()),
            _ => Err(FileError::Outside { path: file.to_owned(), work_tree: top.clone() }),
        })
        .collect::<Result<_, _>>()?;
    let joined = parts.join("/");
    check_path(&joined).map_err(|_| FileError::Outside { path: file.to_owned(), work_tree: top })?;
    Ok(joined)
}

/// `arg` (absolute, or relative to `cwd`) as a path relative to the top of
/// `work_tree`, normalised lexically: it need not exist (a reservation may
/// name a file yet to be made), but it must stay inside the work tree.
pub fn work_tree_path(work_tree: &Path, cwd: &Path, arg: &str) -> Result<String, FileError> {
    let outside = |top: PathBuf| FileError::Outside { path: PathBuf::from(arg), work_tree: top };
    let canon = |p: &Path| p.canonicalize().map_err(|source| FileError::Io { path: p.to_owned(), source });
    let top = canon(work_tree)?;
    let here = canon(cwd)?;
    let joined = here.join(arg);
    let rel = joined.strip_prefix(&top).map_err(|_| outside(top.clone()))?;
    let mut parts: Vec<String> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir if parts.pop().is_some() => {}
            _ => return Err(outside(top)),
        }
    }
    let joined = parts.join("/");
    check_path(&joined).map_err(|_| outside(top))?;
    Ok(joined)
}

/// The canonical work tree and the canonical form of `file`, if that is inside it.
fn inside(work_tree: &Path, file: &Path) -> Result<(PathBuf, PathBuf), FileError> {
    let canon = |p: &Path| p.canonicalize().map_err(|source| FileError::Io { path: p.to_owned(), source });
    let top = canon(work_tree)?;
    let real = canon(file)?;
    if real == top || !real.starts_with(&top) {
        return Err(FileError::Outside { path: file.to_owned(), work_tree: top });
    }
    Ok((top, real))
}

/// Hash the artifact at `rel` (a path as [`check_path`] allows) in `work_tree`:
/// a regular file inside the work tree, at most `limit` bytes.
pub fn hash(work_tree: &Path, rel: &str, limit: u64) -> Result<Artifact, FileError> {
    let given = work_tree.join(rel);
    let (_, real) = inside(work_tree, &given)?;
    let bytes = read_bounded(&real, limit)?;
    Ok(Artifact { path: rel.to_owned(), sha256: crate::id::hex(&Sha256::digest(&bytes)), size: bytes.len() as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths_are_relative_and_normalised() {
        for ok in ["a", "a/b.txt", "...", ".hidden/x", "a..b/c"] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
        for bad in ["", "/etc/shadow", "../x", "a/../b", "a/./b", "./a", "a//b", "a/", "a\\b", "a\nb"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_inside_the_work_tree_are_read_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("repo");
        std::fs::create_dir_all(top.join("sub")).unwrap();
        std::fs::write(top.join("sub/report.txt"), b"ok\n").unwrap();
        std::fs::write(dir.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), top.join("link")).unwrap();
        assert_eq!(relative_path(&top, &top.join("sub/./report.txt")).unwrap(), "sub/report.txt");
        assert!(matches!(relative_path(&top, &top.join("link")), Err(FileError::Outside { .. })));
        assert!(matches!(relative_path(&top, &dir.path().join("secret")), Err(FileError::Outside { .. })));
        assert!(matches!(hash(&top, "link", 10), Err(FileError::Outside { .. })));
        assert_eq!(hash(&top, "sub/report.txt", 10).unwrap().size, 3);
        assert!(matches!(hash(&top, "sub/report.txt", 2), Err(FileError::TooLarge { limit: 2, .. })));
        assert!(matches!(hash(&top, "sub", 10), Err(FileError::NotRegular { what: "directory", .. })));
        assert!(matches!(read_bounded(Path::new("/dev/zero"), 10), Err(FileError::NotRegular { what: "device", .. })));
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(matches!(read_bounded(&fifo, 10), Err(FileError::NotRegular { what: "FIFO", .. })));
    }
}
