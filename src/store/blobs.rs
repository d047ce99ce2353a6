//! A content-addressed blob store: `<root>/sha256/<hex>`.
//!
//! Blobs are written to a temporary file in the store, hashed while they stream,
//! and renamed into place only once the digest is known (and, when one was
//! expected, verified). A reader never sees a partial blob.

use crate::digest::{Digest, HashingWriter};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "blob content does not match its digest: expected {expected}, got {actual}; the source is corrupt or was tampered with"
    )]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("blob {digest} has {actual} bytes but its descriptor says {expected}")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("blob {digest} not found in {root}")]
    Missing { digest: Digest, root: PathBuf },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |source| BlobError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A content-addressed directory of blobs.
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Opens (creating if needed) a store rooted at `root`. The OCI layout's
    /// `blobs/` directory is such a store.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        let dir = root.join("sha256");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(Self { root })
    }

    /// Opens an existing store without creating anything (for read-only sources).
    pub fn existing(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, d: &Digest) -> PathBuf {
        self.root.join("sha256").join(d.hex())
    }

    pub fn contains(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    /// Opens a blob for reading. The caller verifies the digest while reading
    /// (see [`Self::read_verified`]) when the store is not trusted.
    pub fn open_read(&self, d: &Digest) -> Result<File, BlobError> {
        let p = self.path(d);
        File::open(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                BlobError::Missing {
                    digest: d.clone(),
                    root: self.root.clone(),
                }
            } else {
                BlobError::Io {
                    path: p.clone(),
                    source: e,
                }
            }
        })
    }

    /// Reads a small blob whole and verifies its digest (and size, when given).
    pub fn read_verified(
        &self,
        d: &Digest,
        size: Option<u64>,
        limit: u64,
    ) -> Result<Vec<u8>, BlobError> {
        let p = self.path(d);
        let f = self.open_read(d)?;
        let mut buf = Vec::new();
        f.take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(io_err(&p))?;
        if buf.len() as u64 > limit {
            return Err(BlobError::Io {
                path: p,
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("blob larger than the {limit}-byte limit"),
                ),
            });
        }
        let actual = Digest::of(&buf);
        if &actual != d {
            return Err(BlobError::DigestMismatch {
                expected: d.clone(),
                actual,
            });
        }
        if let Some(expected) = size
            && expected != buf.len() as u64
        {
            return Err(BlobError::SizeMismatch {
                digest: d.clone(),
                expected,
                actual: buf.len() as u64,
            });
        }
        Ok(buf)
    }

    /// Starts writing a new blob.
    pub fn writer(&self) -> Result<BlobWriter, BlobError> {
        let dir = self.root.join("sha256");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.root)
            .map_err(io_err(&self.root))?;
        Ok(BlobWriter {
            store: self.clone(),
            inner: HashingWriter::new(BufWriter::with_capacity(1 << 20, tmp)),
        })
    }

    /// Stores bytes and returns their digest.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest, BlobError> {
        let d = Digest::of(bytes);
        if self.contains(&d) {
            return Ok(d);
        }
        let mut w = self.writer()?;
        w.write_all(bytes).map_err(io_err(&self.root))?;
        w.commit(Some(&d)).map(|(d, _)| d)
    }

    /// Copies a stream into the store, verifying it against `expected` when given.
    pub fn put_reader(
        &self,
        r: &mut dyn Read,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64), BlobError> {
        let mut w = self.writer()?;
        io::copy(r, &mut w).map_err(io_err(&self.root))?;
        w.commit(expected)
    }

    /// Copies a blob from another store, verifying its digest on the way. Used
    /// for outputs: an output never shares an inode with the cache, so editing
    /// an output cannot corrupt the cache (or the other way round).
    pub fn copy_from(&self, other: &BlobStore, d: &Digest) -> Result<(), BlobError> {
        if self.contains(d) {
            return Ok(());
        }
        let mut f = io::BufReader::with_capacity(1 << 20, other.open_read(d)?);
        self.put_reader(&mut f, Some(d)).map(|_| ())
    }

    /// Links (or copies, across filesystems) a blob from another store into this
    /// one. Only between ironhull's own stores (cache and build stage).
    pub fn import_from(&self, other: &BlobStore, d: &Digest) -> Result<(), BlobError> {
        if self.contains(d) {
            return Ok(());
        }
        let src = other.path(d);
        let dst = self.path(d);
        if fs::hard_link(&src, &dst).is_ok() {
            return Ok(());
        }
        let mut f = other.open_read(d)?;
        self.put_reader(&mut f, Some(d)).map(|_| ())
    }
}

/// A blob being written. Dropping it without [`BlobWriter::commit`] removes the
/// temporary file.
pub struct BlobWriter {
    store: BlobStore,
    inner: HashingWriter<BufWriter<tempfile::NamedTempFile>>,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.inner.count()
    }

    /// Finishes the blob: flushes, verifies against `expected` if given, and
    /// renames it into place. Returns the digest and size.
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64), BlobError> {
        let root = self.store.root.clone();
        let (buf, digest, size) = self.inner.finish();
        let tmp = buf.into_inner().map_err(|e| BlobError::Io {
            path: root.clone(),
            source: e.into_error(),
        })?;
        if let Some(exp) = expected
            && exp != &digest
        {
            return Err(BlobError::DigestMismatch {
                expected: exp.clone(),
                actual: digest,
            });
        }
        let dst = self.store.path(&digest);
        if dst.is_file() {
            return Ok((digest, size));
        }
        tmp.as_file().sync_data().map_err(io_err(&root))?;
        // Temp files are created 0600; a blob is content-addressed public data
        // (the directory's own permissions decide who may list it), and tools
        // running as another user must be able to read an output layout.
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(fs::Permissions::from_mode(0o644))
                .map_err(io_err(&root))?;
        }
        tmp.persist(&dst).map_err(|e| BlobError::Io {
            path: dst.clone(),
            source: e.error,
        })?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::open(dir.path()).unwrap();
        let d = s.put(b"abc").unwrap();
        assert_eq!(s.read_verified(&d, Some(3), 10).unwrap(), b"abc");
        std::fs::write(s.path(&d), b"abd").unwrap();
        assert!(matches!(
            s.read_verified(&d, None, 10),
            Err(BlobError::DigestMismatch { .. })
        ));
    }

    #[test]
    fn mismatch_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::open(dir.path()).unwrap();
        let wrong = Digest::of(b"other");
        assert!(s.put_reader(&mut &b"abc"[..], Some(&wrong)).is_err());
        assert_eq!(
            std::fs::read_dir(dir.path().join("sha256"))
                .unwrap()
                .count(),
            0
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
