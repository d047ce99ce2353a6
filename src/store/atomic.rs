//! Small files written whole or not at all: a temporary file in the same
//! directory, synced, then renamed over the destination. A crash or a full
//! disk leaves the old file (or none), never half of the new one. Used for
//! the digest file, SBOMs beside outputs and the lock file.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically, creating the parent directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(parent_of(path))?;
    replace(path, bytes)
}

/// Replaces `path` with `bytes` in its existing directory: a `.tmp-*`
/// sibling, written and synced, then renamed over it. (Layouts and caches
/// use this directly; their directory exists and is theirs.)
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(parent_of(path))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_whole_files_and_creates_parents() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/digest");
        super::write_atomic(&p, b"one").unwrap();
        super::write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path().join("a/b")).unwrap().count(), 1);
    }
}
