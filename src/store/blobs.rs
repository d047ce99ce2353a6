//! A content-addressed blob store: `<root>/sha256/<hex>`.
//!
//! Blobs are written to a temporary file in the store, hashed while they stream,
//! and renamed into place only once the digest is known (and, when one was
//! expected, verified). A reader never sees a partial blob.
//!
//! Two kinds of store:
//! - **durable** ([`BlobStore::open`]): every blob is fsynced before its
//!   rename, so after a crash a name always holds its full content. Outputs
//!   (OCI layouts) are durable.
//! - **cache** ([`BlobStore::open_cache`]): no fsync, because a cache is
//!   rebuildable and verified on use. After a crash a blob may be short; the
//!   size checks below replace it. A cache store also remembers which blobs
//!   this process wrote, with their [`StatKey`], so copying them to an output
//!   needs no second hashing pass while the file is provably untouched.

use crate::digest::{Digest, HashingWriter};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

/// The stat fields that identify one version of a file: any write or
/// metadata change moves the ctime, which users cannot set, so an equal
/// `StatKey` means the bytes seen earlier are still there (git's index and
/// the layer cache's stat fast path rely on the same property).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatKey {
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub ino: u64,
    pub dev: u64,
}

impl StatKey {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }
}

/// Blobs this process wrote into a cache store: digest → the stat of the
/// file right after its rename.
type Written = Arc<Mutex<HashMap<Digest, StatKey>>>;

/// Decides whether a file already on disk holds exactly blob `d`, e.g. by
/// hashing it, or by an authenticated record that a file with the same
/// [`StatKey`] was hashed before (the build's stat cache). Content
/// addressing alone proves nothing about a file someone else could write:
/// a planted blob of the right size must never be kept unverified.
pub trait BlobVerifier: Send + Sync + std::fmt::Debug {
    fn holds(&self, path: &Path, d: &Digest) -> bool;
}

/// Opens `path` for reading without following a final symlink: the cache and
/// the key live in directories an attacker may be able to write, and a link
/// planted there must not make ironhull read (or trust) another file.
pub fn open_nofollow(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Hashes the file at `path` (not following a symlink) and compares.
pub fn file_holds(path: &Path, d: &Digest) -> bool {
    let Ok(f) = open_nofollow(path) else {
        return false;
    };
    let mut r = io::BufReader::with_capacity(1 << 20, f);
    crate::digest::digest_reader(&mut r).is_ok_and(|(got, _)| &got == d)
}

/// A content-addressed directory of blobs.
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
    durable: bool,
    written: Option<Written>,
    mirror: Option<Arc<Mirror>>,
    verifier: Option<Arc<dyn BlobVerifier>>,
}

/// Copies every blob a cache store writes into other stores on a
/// background thread, while the build goes on: see [`BlobStore::mirror_to`].
#[derive(Debug)]
struct Mirror {
    tx: Mutex<Option<std::sync::mpsc::Sender<Digest>>>,
    handle: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Mirror {
    fn finish(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let handle = self.handle.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            // A panicked copier only means blobs the output step copies itself.
            let _ = h.join();
        }
    }
}

impl Drop for Mirror {
    /// Joined, never detached: a failed build drops its store and then its
    /// staged outputs, which must not be written to while they are removed.
    fn drop(&mut self) {
        self.finish();
    }
}

impl BlobStore {
    /// Opens (creating if needed) a store rooted at `root`. The OCI layout's
    /// `blobs/` directory is such a store.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        let dir = root.join("sha256");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(Self {
            root,
            durable: true,
            written: None,
            mirror: None,
            verifier: None,
        })
    }

    /// Opens (creating if needed) a cache store: not fsynced, and tracking
    /// the blobs this process writes (see the module docs).
    pub fn open_cache(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let mut s = Self::open(root)?;
        s.durable = false;
        s.written = Some(Arc::default());
        Ok(s)
    }

    /// Opens an existing store without creating anything (for read-only sources).
    pub fn existing(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            durable: true,
            written: None,
            mirror: None,
            verifier: None,
        }
    }

    /// Uses `v` to decide whether blobs already present (in this store, and
    /// in the stores it copies into) can be kept without hashing them.
    pub fn set_verifier(&mut self, v: Arc<dyn BlobVerifier>) {
        self.verifier = Some(v);
    }

    /// Whether the file for `d` in this store holds exactly `d`: through the
    /// verifier when set, else by hashing it.
    pub fn verify_present(&self, d: &Digest) -> bool {
        self.holds_with(self.verifier.as_deref(), d)
    }

    fn holds_with(&self, v: Option<&dyn BlobVerifier>, d: &Digest) -> bool {
        let p = self.path(d);
        match v {
            Some(v) => v.holds(&p, d),
            None => file_holds(&p, d),
        }
    }

    /// The size of the blob file, when it exists.
    fn size_of(&self, d: &Digest) -> Option<u64> {
        fs::metadata(self.path(d))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Whether this process wrote blob `d` into this store and the file is
    /// still exactly as it was written (same [`StatKey`]). Returns its size.
    fn written_intact(&self, d: &Digest) -> Option<u64> {
        let map = self.written.as_ref()?.lock().ok()?;
        let rec = *map.get(d)?;
        drop(map);
        let now = StatKey::of(&fs::metadata(self.path(d)).ok()?);
        (now == rec).then_some(rec.size)
    }

    /// From now on, copies every blob this cache store writes into each of
    /// `targets` as soon as it is written, on one background thread.
    ///
    /// Why: writing an output layout means copying and fsyncing every blob,
    /// which on its own is I/O the CPU waits for at the end of a build.
    /// Mirrored into a staged output while later layers are still being
    /// compressed, that wait overlaps the CPU work; at output time the blobs
    /// are already there (see `store::StagedLayout`). Copy errors are
    /// ignored here: the output step copies whatever is missing and reports
    /// its own errors. Call [`Self::finish_mirror`] before the outputs.
    pub fn mirror_to(&mut self, targets: Vec<BlobStore>) -> Result<(), BlobError> {
        if targets.is_empty() || self.written.is_none() {
            return Ok(());
        }
        let (tx, rx) = std::sync::mpsc::channel::<Digest>();
        let mut src = self.clone();
        src.mirror = None;
        let handle = std::thread::Builder::new()
            .name("ironhull-mirror".into())
            .spawn(move || {
                for d in rx {
                    for t in &targets {
                        let _ = t.copy_from(&src, &d);
                    }
                }
            })
            .map_err(io_err(&self.root))?;
        self.mirror = Some(Arc::new(Mirror {
            tx: Mutex::new(Some(tx)),
            handle: Mutex::new(Some(handle)),
        }));
        Ok(())
    }

    /// Waits until every blob written so far is mirrored, and stops mirroring.
    pub fn finish_mirror(&self) {
        if let Some(m) = &self.mirror {
            m.finish();
        }
    }

    fn note_written(&self, d: &Digest) {
        if let Some(w) = &self.written
            && let Ok(meta) = fs::metadata(self.path(d))
            && let Ok(mut map) = w.lock()
        {
            map.insert(d.clone(), StatKey::of(&meta));
        }
        // After the record, so the copier takes the untouched-blob fast path.
        if let Some(m) = &self.mirror
            && let Ok(tx) = m.tx.lock()
            && let Some(tx) = tx.as_ref()
        {
            // The copier may have been stopped; then the output step copies.
            let _ = tx.send(d.clone());
        }
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
        // Kept only when the bytes are really there (a planted file of the
        // same size is replaced).
        if self.size_of(&d) == Some(bytes.len() as u64)
            && fs::read(self.path(&d)).is_ok_and(|b| b == bytes)
        {
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
    ///
    /// A blob already present is kept only when it is verified (see
    /// [`BlobVerifier`]; the source's verifier is used, else this store's,
    /// else it is hashed); otherwise it is replaced. A blob this
    /// process wrote into `other` and that is provably untouched since (see
    /// [`Self::open_cache`]) is copied by the kernel (`copy_file_range`)
    /// without hashing it again; anything else is hashed as it is copied.
    pub fn copy_from(&self, other: &BlobStore, d: &Digest) -> Result<(), BlobError> {
        let src_size = other.size_of(d);
        if src_size.is_some()
            && self.size_of(d) == src_size
            && self.holds_with(other.verifier.as_deref().or(self.verifier.as_deref()), d)
        {
            return Ok(());
        }
        if let Some(size) = other.written_intact(d) {
            return self.copy_trusted(other, d, size);
        }
        let mut f = io::BufReader::with_capacity(1 << 20, other.open_read(d)?);
        self.put_reader(&mut f, Some(d)).map(|_| ())
    }

    /// [`Self::copy_from`] for many blobs, on a few threads: each copy ends
    /// in an fsync, and overlapping them keeps the disk busy instead of
    /// waiting for one flush at a time. Returns the first error.
    pub fn copy_many<'a>(
        &self,
        other: &BlobStore,
        digests: impl IntoIterator<Item = &'a Digest>,
    ) -> Result<(), BlobError> {
        const THREADS: usize = 4;
        let all: Vec<&Digest> = digests.into_iter().collect();
        if all.len() <= 1 {
            return all.into_iter().try_for_each(|d| self.copy_from(other, d));
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<Result<(), BlobError>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..THREADS.min(all.len()))
                .map(|_| {
                    s.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(d) = all.get(i) else { return Ok(()) };
                            if let Err(e) = self.copy_from(other, d) {
                                // Stop the other workers early too.
                                next.store(all.len(), std::sync::atomic::Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(BlobError::Io {
                            path: self.root.clone(),
                            source: io::Error::other("a blob copy thread panicked"),
                        })
                    })
                })
                .collect()
        });
        results.into_iter().collect()
    }

    /// The kernel-side copy behind [`Self::copy_from`]'s fast path. The
    /// source is re-checked after the copy: a file that changed meanwhile is
    /// copied again, hashed.
    fn copy_trusted(&self, other: &BlobStore, d: &Digest, size: u64) -> Result<(), BlobError> {
        let src_path = other.path(d);
        let mut src = other.open_read(d)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.root)
            .map_err(io_err(&self.root))?;
        // std's File→File io::copy uses copy_file_range on Linux.
        // A full disk is the destination's problem; other errors name the source.
        let n = io::copy(&mut src, tmp.as_file_mut()).map_err(|e| {
            let full = matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT));
            let path = if full {
                tmp.path().to_path_buf()
            } else {
                src_path.clone()
            };
            BlobError::Io { path, source: e }
        })?;
        if n != size || other.written_intact(d) != Some(size) {
            drop(tmp);
            let mut f = io::BufReader::with_capacity(1 << 20, other.open_read(d)?);
            return self.put_reader(&mut f, Some(d)).map(|_| ());
        }
        self.finish_tmp(tmp, d)
    }

    /// fsync (when durable), make world-readable and rename into place.
    fn finish_tmp(&self, tmp: tempfile::NamedTempFile, d: &Digest) -> Result<(), BlobError> {
        if self.durable {
            tmp.as_file().sync_data().map_err(io_err(&self.root))?;
        }
        // Temp files are created 0600; a blob is content-addressed public data
        // (the directory's own permissions decide who may list it), and tools
        // running as another user must be able to read an output layout.
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(fs::Permissions::from_mode(0o644))
                .map_err(io_err(&self.root))?;
        }
        let dst = self.path(d);
        tmp.persist(&dst).map_err(|e| BlobError::Io {
            path: dst.clone(),
            source: e.error,
        })?;
        self.note_written(d);
        Ok(())
    }

    /// Links (or copies, across filesystems) a blob from another store into this
    /// one. Only between ironhull's own stores (cache and build stage).
    ///
    /// A blob already here is kept only when verified (a cache directory
    /// restored by CI may hold a planted one); otherwise it is replaced.
    pub fn import_from(&self, other: &BlobStore, d: &Digest) -> Result<(), BlobError> {
        if self.contains(d) && self.verify_present(d) {
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
        // Always renamed over whatever is there: the new file is known to
        // hold `digest`, an existing one (maybe planted, maybe short after
        // a crash) is not.
        self.store.finish_tmp(tmp, &digest)?;
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
    fn cache_copies_are_fast_only_while_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobStore::open_cache(dir.path().join("cache")).unwrap();
        let out = BlobStore::open(dir.path().join("out")).unwrap();
        let d = cache.put(b"layer bytes").unwrap();
        assert_eq!(cache.written_intact(&d), Some(11));
        out.copy_from(&cache, &d).unwrap();
        assert_eq!(std::fs::read(out.path(&d)).unwrap(), b"layer bytes");
        // An output store never trusts by stat.
        assert_eq!(out.written_intact(&d), None);

        // Same size, other bytes: the stat record no longer matches, so the
        // copy is hashed and refused.
        let d2 = cache.put(b"second blob").unwrap();
        std::fs::write(cache.path(&d2), b"SECOND BLOB").unwrap();
        assert_eq!(cache.written_intact(&d2), None);
        let out2 = BlobStore::open(dir.path().join("out2")).unwrap();
        assert!(matches!(
            out2.copy_from(&cache, &d2),
            Err(BlobError::DigestMismatch { .. })
        ));
        assert!(!out2.contains(&d2));
    }

    #[test]
    fn short_blobs_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobStore::open_cache(dir.path().join("cache")).unwrap();
        let d = Digest::of(b"full content");
        // What a crash can leave in a store that does not fsync.
        std::fs::write(cache.path(&d), b"").unwrap();
        assert_eq!(cache.put(b"full content").unwrap(), d);
        assert_eq!(std::fs::read(cache.path(&d)).unwrap(), b"full content");
        // An output holding a short copy gets the full one.
        let out = BlobStore::open(dir.path().join("out")).unwrap();
        std::fs::write(out.path(&d), b"full").unwrap();
        out.copy_many(&cache, [&d]).unwrap();
        assert_eq!(std::fs::read(out.path(&d)).unwrap(), b"full content");
    }

    #[test]
    fn copy_many_copies_all_and_reports_errors() {
        let dir = tempfile::tempdir().unwrap();
        let src = BlobStore::open(dir.path().join("src")).unwrap();
        let ds: Vec<Digest> = (0..9)
            .map(|i| src.put(format!("blob {i}").as_bytes()).unwrap())
            .collect();
        let out = BlobStore::open(dir.path().join("out")).unwrap();
        out.copy_many(&src, &ds).unwrap();
        assert!(ds.iter().all(|d| out.contains(d)));
        let missing = Digest::of(b"not there");
        let out2 = BlobStore::open(dir.path().join("out2")).unwrap();
        let all: Vec<&Digest> = ds.iter().chain([&missing]).collect();
        assert!(matches!(
            out2.copy_many(&src, all),
            Err(BlobError::Missing { .. })
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
