//! The layer cache: skip rewriting (and recompressing) a layer whose inputs
//! did not change, and skip re-reading files whose content is known.
//!
//! Two maps, both plain files under the cache directory:
//!
//! - [`LayerCache`]: `CacheKey → LayerBlob`. The key is a sha256 over
//!   everything that determines a layer's bytes: the layer parameters, the
//!   layer format version and, for each entry in order, its full metadata and
//!   the sha256 of its content. It is never keyed by mtimes or paths on the
//!   host: two builds with the same key produce the same blob, so a hit is
//!   exactly as good as a rebuild. A hit is only returned when the blob is
//!   still in the blob store with the recorded size.
//! - [`StatCache`]: `host path → (size, mtime, ctime, inode, device) → sha256`.
//!   It lets a rebuild compute layer keys without reading unchanged files.
//!   The fast path compares all five stat fields, not the mtime alone: `touch
//!   -d` or an archive extraction can restore an mtime, but the ctime changes
//!   on every write or metadata change and cannot be set by users. Whenever
//!   any field differs the content is hashed again. Files modified within the
//!   last [`RACY_WINDOW_NS`] are never recorded, because a second write in
//!   the same timestamp tick would be invisible (git's "racy clean" problem).
//!
//! Both are untrusted input on load: CI restores the cache directory, so
//! anyone who can write it can plant records. Every record is sealed with an
//! HMAC under a key kept outside the cache ([`crate::cache_auth`]) and bound
//! to its name (a layer record to its [`CacheKey`], the stat cache to its
//! file). A record that does not open is ignored with a warning and the work
//! is redone the slow way (the layer rebuilt from the artifacts, the file
//! hashed), then sealed again. A layer hit also needs its blob to hash to the
//! recorded digest: verified through the stat cache (a blob file whose stat
//! matches an authenticated record of an earlier hash) or by hashing it; a
//! truncated or swapped blob is removed and the layer rebuilt.
//! A corrupt record is a miss too: never a panic, never a wrong blob.

use crate::cache_auth::CacheAuth;
use crate::digest::Digest;
use crate::fs::entry::{Entry, EntryKind};
use crate::image::LayerBlob;
use crate::layer::{Compression, LayerParams};
use crate::store::blobs::BlobStore;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Record kinds, part of what each MAC covers.
const KIND_LAYER: &str = "layer";
const KIND_STAT: &str = "stat-cache";

/// Bumped whenever the bytes a [`crate::layer::LayerWriter`] produces for the
/// same inputs change (tar headers, gzip block size, …), so old cache entries
/// stop matching instead of returning blobs in an old format.
pub const LAYER_FORMAT: &str =
    "ironhull-layer-v3;pgzip-block=1048576;dict=32768;stored-when=flat-histogram+level1-sample";

/// Files whose mtime or ctime is this close to "now" are not put in the
/// stat cache: a later write within the same filesystem timestamp tick would
/// leave every stat field unchanged. 2 s covers coarse-grained filesystems.
pub const RACY_WINDOW_NS: i128 = 2_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "cannot use the layer cache directory {path}: {source}; check its permissions or pass another --cache-dir"
    )]
    Dir { path: PathBuf, source: io::Error },
    #[error(
        "cannot write the cache file {path}: {source}; check free space and permissions of the cache directory"
    )]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read {path} to hash it for the layer cache: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot encode a cache record for {path}: {source}")]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The content-addressed identity of a layer's inputs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey(Digest);

impl CacheKey {
    pub fn digest(&self) -> &Digest {
        &self.0
    }
}

impl std::fmt::Display for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "layer-cache:{}", self.0.hex())
    }
}

/// Feeds length-prefixed fields into a hasher, so no two different inputs
/// can produce the same byte sequence (no separator ambiguity).
struct KeyHasher(Sha256);

impl KeyHasher {
    fn bytes(&mut self, tag: &str, b: &[u8]) {
        self.0.update((tag.len() as u64).to_le_bytes());
        self.0.update(tag.as_bytes());
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
    }
    fn num(&mut self, tag: &str, n: u64) {
        self.bytes(tag, &n.to_le_bytes());
    }
}

/// What a regular file's content must hash to for a layer key. Non-files
/// pass `None`.
pub type ContentDigest = Option<Digest>;

/// The cache key of a layer written with `params` from `entries` in this
/// order (order matters: it is part of the tar). `ordered` is whether the
/// layer is written by [`crate::layer::LayerWriter::new`] (true: parents are
/// added) or `new_unordered` (false).
pub fn key(params: &LayerParams, ordered: bool, entries: &[(Entry, ContentDigest)]) -> CacheKey {
    let mut h = KeyHasher(Sha256::new());
    hash_params(&mut h, params, None);
    h.num("ordered", u64::from(ordered));
    h.num("entries", entries.len() as u64);
    for (e, content) in entries {
        h.bytes("path", e.path.as_str().as_bytes());
        match &e.kind {
            EntryKind::File => h.bytes("file", b""),
            EntryKind::Dir => h.bytes("dir", b""),
            EntryKind::Symlink { target } => h.bytes("symlink", target.as_bytes()),
            EntryKind::Hardlink { target } => h.bytes("hardlink", target.as_str().as_bytes()),
            EntryKind::CharDevice { major, minor } => {
                h.num("chr", (u64::from(*major) << 32) | u64::from(*minor))
            }
            EntryKind::BlockDevice { major, minor } => {
                h.num("blk", (u64::from(*major) << 32) | u64::from(*minor))
            }
            EntryKind::Fifo => h.bytes("fifo", b""),
        }
        h.num("mode", u64::from(e.mode));
        h.num("uid", e.uid);
        h.num("gid", e.gid);
        h.bytes("uname", e.uname.as_bytes());
        h.bytes("gname", e.gname.as_bytes());
        h.num("size", e.size);
        h.num("entry_mtime", e.mtime);
        h.num("xattrs", e.xattrs.len() as u64);
        for (k, v) in &e.xattrs {
            h.bytes("xk", k.as_bytes());
            h.bytes("xv", v);
        }
        match content {
            Some(d) => h.bytes("content", d.hex().as_bytes()),
            None => h.bytes("no-content", b""),
        }
    }
    CacheKey(Digest::from_sha256(h.0))
}

/// What every layer key starts with: the format, the ironhull version, the
/// kind of layer (entry-list keys have none, which keeps their old values)
/// and the layer parameters.
fn hash_params(h: &mut KeyHasher, params: &LayerParams, kind: Option<&str>) {
    h.bytes("format", LAYER_FORMAT.as_bytes());
    h.bytes("version", env!("CARGO_PKG_VERSION").as_bytes());
    if let Some(k) = kind {
        h.bytes("kind", k.as_bytes());
    }
    match params.compression {
        Compression::Gzip { level } => h.num("gzip", u64::from(level)),
        Compression::Zstd { level } => {
            h.num("zstd", u64::from(level));
            // The blob bytes depend on the libzstd release, not only on the
            // crate version keyed above.
            h.num("libzstd", u64::from(::zstd::zstd_safe::version_number()));
        }
        Compression::None => h.bytes("none", b""),
    }
    h.num("mtime", params.mtime);
    h.num("keep_xattrs", u64::from(params.keep_xattrs));
}

/// The cache key of a layer made from something other than a list of
/// entries (the package layers: their input is the packages' sha256s and
/// the base), tagged with `kind` so it can never equal an entry-list key.
pub fn key_of_parts(params: &LayerParams, kind: &str, parts: &[(&str, Vec<u8>)]) -> CacheKey {
    let mut h = KeyHasher(Sha256::new());
    hash_params(&mut h, params, Some(kind));
    h.num("parts", parts.len() as u64);
    for (tag, b) in parts {
        h.bytes(tag, b);
    }
    CacheKey(Digest::from_sha256(h.0))
}

/// A stored layer record (the JSON file body).
#[derive(serde::Serialize, serde::Deserialize)]
struct LayerRecord {
    media_type: String,
    digest: Digest,
    size: u64,
    diff_id: Digest,
}

/// `CacheKey → LayerBlob`, one small sealed JSON file per key under `<dir>/layers/`.
pub struct LayerCache {
    dir: PathBuf,
    auth: CacheAuth,
}

/// What [`LayerCache::get`] found.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    /// An authenticated record whose blob holds the recorded digest.
    Hit(LayerBlob),
    /// No record (or an unreadable one): build the layer.
    Miss,
    /// A record or blob that must not be trusted (why): build the layer,
    /// which replaces both.
    Rejected(String),
}

impl LayerCache {
    /// Opens (creating if needed) the layer cache in `dir` (usually the build
    /// cache directory, next to the blob store); records are sealed with `auth`.
    pub fn open(dir: impl Into<PathBuf>, auth: CacheAuth) -> Result<Self, CacheError> {
        let dir = dir.into().join("layers");
        std::fs::create_dir_all(&dir).map_err(|source| CacheError::Dir {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir, auth })
    }

    fn record_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.0.hex()))
    }

    /// The cached layer for `key`: a hit only when the record is
    /// authenticated and its blob in `store` holds the recorded digest
    /// (checked by `verify`, see [`StatCache::holds`]). A blob that fails
    /// is removed from the store so the rebuild writes it afresh.
    pub fn get(
        &self,
        key: &CacheKey,
        store: &BlobStore,
        verify: &mut dyn FnMut(&Path, &Digest) -> bool,
    ) -> Lookup {
        let path = self.record_path(key);
        let Ok(f) = std::fs::File::open(&path) else {
            return Lookup::Miss;
        };
        let mut buf = Vec::new();
        // Records are ~400 bytes; refuse to slurp a huge planted file.
        if f.take(64 * 1024).read_to_end(&mut buf).is_err() {
            return Lookup::Miss;
        }
        let Some(body) = self.auth.open(KIND_LAYER, key.0.hex(), &buf) else {
            return Lookup::Rejected(format!(
                "layer cache record {} is not authenticated by this machine's cache key (planted, or sealed with another key); rebuilding the layer",
                path.display()
            ));
        };
        let Ok(rec) = serde_json::from_slice::<LayerRecord>(body) else {
            return Lookup::Rejected(format!(
                "layer cache record {} does not parse; rebuilding the layer",
                path.display()
            ));
        };
        let blob = store.path(&rec.digest);
        let size_ok =
            std::fs::symlink_metadata(&blob).is_ok_and(|m| m.is_file() && m.len() == rec.size);
        if !size_ok || !verify(&blob, &rec.digest) {
            let _ = std::fs::remove_file(&blob);
            return Lookup::Rejected(format!(
                "cached layer blob {} does not hold {} (truncated, swapped or missing); rebuilding the layer",
                blob.display(),
                rec.digest
            ));
        }
        Lookup::Hit(LayerBlob {
            media_type: rec.media_type,
            digest: rec.digest,
            size: rec.size,
            diff_id: rec.diff_id,
        })
    }

    /// Records `blob` as the layer for `key`, sealed (atomically: readers see
    /// the old record, none, or the new one, never half a file).
    pub fn put(&self, key: &CacheKey, blob: &LayerBlob) -> Result<(), CacheError> {
        let rec = LayerRecord {
            media_type: blob.media_type.clone(),
            digest: blob.digest.clone(),
            size: blob.size,
            diff_id: blob.diff_id.clone(),
        };
        let path = self.record_path(key);
        let bytes = serde_json::to_vec(&rec).map_err(|source| CacheError::Encode {
            path: path.clone(),
            source,
        })?;
        let sealed = self.auth.seal(KIND_LAYER, key.0.hex(), &bytes);
        write_atomic(&path, &sealed)
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    crate::store::atomic::replace(path, bytes).map_err(|source| CacheError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The stat fields the fast path compares (shared with the blob store).
pub use crate::store::blobs::StatKey;

/// The name the stat cache's MAC is bound to.
const STAT_NAME: &str = "stat-cache.json";

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct StatRecord {
    stat: StatKey,
    digest: Digest,
}

/// Host path → content sha256, trusted only while every stat field matches.
pub struct StatCache {
    file: PathBuf,
    auth: CacheAuth,
    known: BTreeMap<String, StatRecord>,
    /// Records looked up or added in this run. These are saved, plus the
    /// other known records whose file is still there unchanged (a blob of an
    /// output this run did not write to, say), so the file does not grow with
    /// every path ever built, and alternating builds do not evict each other.
    used: BTreeMap<String, StatRecord>,
    hits: u64,
    misses: u64,
    /// Why a stat cache on disk was not trusted, for the caller to warn.
    rejected: Option<String>,
}

impl StatCache {
    /// Loads the stat cache from `<dir>/stat-cache.json`. A missing or
    /// corrupt file gives an empty cache (everything is hashed once); so
    /// does one that is not authenticated by `auth`, with a warning.
    pub fn load(dir: &Path, auth: CacheAuth) -> Self {
        let file = dir.join("stat-cache.json");
        let mut rejected = None;
        let mut buf = Vec::new();
        let read = std::fs::File::open(&file)
            .and_then(|f| f.take(256 << 20).read_to_end(&mut buf))
            .is_ok();
        let known = if !read {
            BTreeMap::new()
        } else {
            match auth.open(KIND_STAT, STAT_NAME, &buf) {
                Some(body) => serde_json::from_slice(body).unwrap_or_default(),
                None => {
                    rejected = Some(format!(
                        "stat cache {} is not authenticated by this machine's cache key (planted, or sealed with another key); ignoring it, every file is hashed again",
                        file.display()
                    ));
                    BTreeMap::new()
                }
            }
        };
        Self {
            file,
            auth,
            known,
            used: BTreeMap::new(),
            hits: 0,
            misses: 0,
            rejected,
        }
    }

    /// Why the file on disk was ignored, when it was (a warning, once).
    pub fn take_rejection(&mut self) -> Option<String> {
        self.rejected.take()
    }

    /// (fast-path hits, files hashed) so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// The recorded digest for `path` when all of `stat` matches the record.
    pub fn lookup(&mut self, path: &Path, stat: &StatKey) -> Option<Digest> {
        let k = path.to_str()?;
        let rec = self.known.get(k).filter(|r| r.stat == *stat)?.clone();
        let d = rec.digest.clone();
        self.used.insert(k.to_string(), rec);
        Some(d)
    }

    /// Records `digest` as the content of `path` with `stat`, unless the
    /// file changed too recently to be trusted (see [`RACY_WINDOW_NS`]).
    /// Non-UTF-8 paths are not recorded (they are simply hashed every time).
    pub fn record(&mut self, path: &Path, stat: &StatKey, digest: &Digest) {
        let Some(k) = path.to_str() else { return };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        if now - stat.mtime_ns.max(stat.ctime_ns) < RACY_WINDOW_NS {
            self.known.remove(k);
            return;
        }
        let rec = StatRecord {
            stat: *stat,
            digest: digest.clone(),
        };
        self.known.insert(k.to_string(), rec.clone());
        self.used.insert(k.to_string(), rec);
    }

    /// The sha256 of the regular file at `path`: from the cache when every
    /// stat field matches, otherwise by reading it. A file that changes while
    /// it is hashed (stat before ≠ stat after) is not recorded.
    pub fn digest_file(&mut self, path: &Path) -> Result<Digest, CacheError> {
        let rerr = |source| CacheError::Read {
            path: path.to_path_buf(),
            source,
        };
        let f = crate::store::blobs::open_nofollow(path).map_err(rerr)?;
        let before = StatKey::of(&f.metadata().map_err(rerr)?);
        if let Some(d) = self.lookup(path, &before) {
            self.hits += 1;
            return Ok(d);
        }
        self.misses += 1;
        let mut r = io::BufReader::with_capacity(1 << 20, f);
        let (d, _) = crate::digest::digest_reader(&mut r).map_err(rerr)?;
        let after = StatKey::of(&r.get_ref().metadata().map_err(rerr)?);
        if before == after {
            self.record(path, &after, &d);
        }
        Ok(d)
    }

    /// Writes the records used in this run back to disk, atomically.
    pub fn save(&self) -> Result<(), CacheError> {
        let dir = self.file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| CacheError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut keep = self.used.clone();
        for (k, rec) in &self.known {
            if !keep.contains_key(k)
                && std::fs::symlink_metadata(k).is_ok_and(|m| StatKey::of(&m) == rec.stat)
            {
                keep.insert(k.clone(), rec.clone());
            }
        }
        let bytes = serde_json::to_vec(&keep).map_err(|source| CacheError::Encode {
            path: self.file.clone(),
            source,
        })?;
        write_atomic(&self.file, &self.auth.seal(KIND_STAT, STAT_NAME, &bytes))
    }

    /// Whether the file at `path` (a blob, not followed if a symlink) holds
    /// exactly `d`: from an authenticated record when every stat field
    /// matches, else by hashing it (and recording the result).
    pub fn holds(&mut self, path: &Path, d: &Digest) -> bool {
        self.digest_file(path).is_ok_and(|got| &got == d)
    }
}

/// A [`StatCache`] shared with the blob stores, so copying into outputs
/// verifies existing blobs through the same records.
#[derive(Debug)]
pub struct SharedStat(pub Arc<Mutex<StatCache>>);

impl std::fmt::Debug for StatCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatCache")
            .field("file", &self.file)
            .field("known", &self.known.len())
            .finish_non_exhaustive()
    }
}

impl crate::store::blobs::BlobVerifier for SharedStat {
    fn holds(&self, path: &Path, d: &Digest) -> bool {
        match self.0.lock() {
            Ok(mut s) => s.holds(path, d),
            Err(_) => crate::store::blobs::file_holds(path, d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::entry::ImagePath;

    fn auth() -> CacheAuth {
        CacheAuth::from_key(&[42; 32])
    }

    fn hashing(p: &Path, d: &Digest) -> bool {
        crate::store::blobs::file_holds(p, d)
    }

    fn file(path: &str, size: u64) -> Entry {
        let mut e = Entry::new(ImagePath::parse(path).unwrap(), EntryKind::File, 0o644);
        e.size = size;
        e
    }

    #[test]
    fn key_depends_on_every_input() {
        let p = LayerParams::default();
        let d1 = Digest::of(b"one");
        let d2 = Digest::of(b"two");
        let base = vec![(file("a", 3), Some(d1.clone()))];
        let k = key(&p, true, &base);
        assert_eq!(k, key(&p, true, &base.clone()), "deterministic");
        let mut variants = Vec::new();
        variants.push(key(&p, false, &base));
        variants.push(key(&p, true, &[(file("a", 3), Some(d2.clone()))]));
        variants.push(key(&p, true, &[(file("b", 3), Some(d1.clone()))]));
        let mut e = file("a", 3);
        e.mode = 0o755;
        variants.push(key(&p, true, &[(e, Some(d1.clone()))]));
        let mut e = file("a", 3);
        e.uid = 1;
        variants.push(key(&p, true, &[(e, Some(d1.clone()))]));
        let mut e = file("a", 3);
        e.mtime = 1;
        variants.push(key(&p, true, &[(e, Some(d1.clone()))]));
        let mut e = file("a", 3);
        e.xattrs.insert("user.x".into(), vec![1]);
        variants.push(key(&p, true, &[(e, Some(d1.clone()))]));
        let gz9 = LayerParams {
            compression: Compression::Gzip { level: 9 },
            ..p.clone()
        };
        variants.push(key(&gz9, true, &base));
        let plain = LayerParams {
            compression: Compression::None,
            ..p.clone()
        };
        variants.push(key(&plain, true, &base));
        // zstd never hits a gzip entry, and its level counts too.
        for level in [6, 9] {
            let z = LayerParams {
                compression: Compression::Zstd { level },
                ..p.clone()
            };
            variants.push(key(&z, true, &base));
        }
        let m = LayerParams {
            mtime: 5,
            ..p.clone()
        };
        variants.push(key(&m, true, &base));
        // Order is part of the layer.
        let two = vec![
            (file("a", 3), Some(d1.clone())),
            (file("b", 3), Some(d2.clone())),
        ];
        let rev = vec![two[1].clone(), two[0].clone()];
        variants.push(key(&p, true, &two));
        variants.push(key(&p, true, &rev));
        // Field boundaries are unambiguous: symlink "ab" vs path shift.
        let s1 = Entry::new(
            ImagePath::parse("x").unwrap(),
            EntryKind::Symlink {
                target: "ab".into(),
            },
            0o777,
        );
        let s2 = Entry::new(
            ImagePath::parse("x").unwrap(),
            EntryKind::Symlink { target: "a".into() },
            0o777,
        );
        variants.push(key(&p, true, &[(s1, None)]));
        variants.push(key(&p, true, &[(s2, None)]));
        variants.push(key(&p, true, &[]));
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(*v, k, "variant {i} collides with the base key");
            for (j, w) in variants.iter().enumerate().skip(i + 1) {
                assert_ne!(v, w, "variants {i} and {j} collide");
            }
        }
    }

    fn blob_in(store: &BlobStore, bytes: &[u8]) -> LayerBlob {
        let digest = store.put(bytes).unwrap();
        LayerBlob {
            media_type: crate::image::media::OCI_LAYER_GZIP.into(),
            digest,
            size: bytes.len() as u64,
            diff_id: Digest::of(b"tar"),
        }
    }

    #[test]
    fn layer_cache_round_trip_and_verifies_blob() {
        let d = tempfile::tempdir().unwrap();
        let store = BlobStore::open(d.path().join("blobs")).unwrap();
        let cache = LayerCache::open(d.path(), auth()).unwrap();
        let k = key(&LayerParams::default(), true, &[(file("a", 1), None)]);
        assert_eq!(cache.get(&k, &store, &mut hashing), Lookup::Miss);
        let blob = blob_in(&store, b"layer bytes");
        cache.put(&k, &blob).unwrap();
        assert_eq!(
            cache.get(&k, &store, &mut hashing),
            Lookup::Hit(blob.clone())
        );
        // Reopening sees the record.
        let again = LayerCache::open(d.path(), auth()).unwrap();
        assert_eq!(
            again.get(&k, &store, &mut hashing),
            Lookup::Hit(blob.clone())
        );
        // A blob swapped for other bytes of the same size is rejected and removed.
        std::fs::write(store.path(&blob.digest), b"LAYER BYTES").unwrap();
        assert!(matches!(
            cache.get(&k, &store, &mut hashing),
            Lookup::Rejected(_)
        ));
        assert!(!store.path(&blob.digest).exists());
        // Truncated or vanished blobs are rejected too.
        let blob = blob_in(&store, b"layer bytes");
        std::fs::write(store.path(&blob.digest), b"short").unwrap();
        assert!(matches!(
            cache.get(&k, &store, &mut hashing),
            Lookup::Rejected(_)
        ));
        let _ = std::fs::remove_file(store.path(&blob.digest));
        assert!(matches!(
            cache.get(&k, &store, &mut hashing),
            Lookup::Rejected(_)
        ));
    }

    #[test]
    fn unauthenticated_layer_records_are_rejected() {
        let d = tempfile::tempdir().unwrap();
        let store = BlobStore::open(d.path().join("blobs")).unwrap();
        let cache = LayerCache::open(d.path(), auth()).unwrap();
        let k = key(&LayerParams::default(), true, &[]);
        let k2 = key(&LayerParams::default(), false, &[]);
        let blob = blob_in(&store, b"x");
        // Sealed with another key (a restored cache, or an attacker's).
        let foreign = LayerCache::open(d.path(), CacheAuth::from_key(&[1; 32])).unwrap();
        foreign.put(&k, &blob).unwrap();
        assert!(matches!(
            cache.get(&k, &store, &mut hashing),
            Lookup::Rejected(_)
        ));
        // A valid record copied to another key's name.
        cache.put(&k2, &blob).unwrap();
        std::fs::copy(cache.record_path(&k2), cache.record_path(&k)).unwrap();
        assert!(matches!(
            cache.get(&k, &store, &mut hashing),
            Lookup::Rejected(_)
        ));
        // The plain JSON of the old format.
        let plain = serde_json::to_vec(&LayerRecord {
            media_type: blob.media_type.clone(),
            digest: blob.digest.clone(),
            size: blob.size,
            diff_id: blob.diff_id.clone(),
        })
        .unwrap();
        std::fs::write(cache.record_path(&k), plain).unwrap();
        assert!(matches!(
            cache.get(&k, &store, &mut hashing),
            Lookup::Rejected(_)
        ));
        cache.put(&k, &blob).unwrap();
        assert_eq!(cache.get(&k, &store, &mut hashing), Lookup::Hit(blob));
    }

    #[test]
    fn corrupt_records_are_not_hits() {
        let d = tempfile::tempdir().unwrap();
        let store = BlobStore::open(d.path().join("blobs")).unwrap();
        let cache = LayerCache::open(d.path(), auth()).unwrap();
        let k = key(&LayerParams::default(), true, &[]);
        let blob = blob_in(&store, b"x");
        cache.put(&k, &blob).unwrap();
        let rec = cache.record_path(&k);
        for junk in [
            &b""[..],
            b"{",
            b"null",
            b"{\"media_type\":\"x\",\"digest\":\"sha256:../../etc\",\"size\":1,\"diff_id\":\"sha256:00\"}",
        ] {
            std::fs::write(&rec, junk).unwrap();
            assert!(!matches!(cache.get(&k, &store, &mut hashing), Lookup::Hit(_)));
            let sealed = auth().seal(KIND_LAYER, k.0.hex(), junk);
            std::fs::write(&rec, sealed).unwrap();
            assert!(!matches!(cache.get(&k, &store, &mut hashing), Lookup::Hit(_)));
        }
        std::fs::write(&rec, vec![b' '; 1 << 20]).unwrap();
        assert!(!matches!(
            cache.get(&k, &store, &mut hashing),
            Lookup::Hit(_)
        ));
    }

    fn set_old_mtime(path: &Path) {
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }

    #[test]
    fn stat_cache_hits_only_when_every_field_matches() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("art.bin");
        std::fs::write(&f, b"version one").unwrap();
        let mut sc = StatCache::load(d.path(), auth());
        let d1 = sc.digest_file(&f).unwrap();
        assert_eq!(d1, Digest::of(b"version one"));
        // Just written: racy, so not recorded; hashed again.
        sc.digest_file(&f).unwrap();
        assert_eq!(sc.stats(), (0, 2));

        // A record for a stable stat is used without reading.
        let stat = StatKey::of(&std::fs::metadata(&f).unwrap());
        let mut aged = stat;
        aged.ctime_ns -= 10 * RACY_WINDOW_NS;
        aged.mtime_ns -= 10 * RACY_WINDOW_NS;
        sc.record(&f, &aged, &d1);
        assert_eq!(sc.lookup(&f, &aged), Some(d1.clone()));
        // Every differing field forces a re-hash.
        for change in 0..5 {
            let mut s = aged;
            match change {
                0 => s.size += 1,
                1 => s.mtime_ns += 1,
                2 => s.ctime_ns += 1,
                3 => s.ino += 1,
                _ => s.dev += 1,
            }
            assert_eq!(sc.lookup(&f, &s), None, "field {change}");
        }
    }

    #[test]
    fn stat_cache_never_trusts_a_restored_mtime() {
        // Same size, mtime set back to the recorded value: the ctime moved,
        // so the content is hashed again and the new digest returned.
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        std::fs::write(&f, b"AAAA").unwrap();
        set_old_mtime(&f);
        let mut sc = StatCache::load(d.path(), auth());
        // ctime is "now", so force a trusted record the way an old build would have.
        let mut stat = StatKey::of(&std::fs::metadata(&f).unwrap());
        stat.ctime_ns -= 10 * RACY_WINDOW_NS;
        sc.record(&f, &stat, &Digest::of(b"AAAA"));
        std::fs::write(&f, b"BBBB").unwrap();
        set_old_mtime(&f);
        let now = StatKey::of(&std::fs::metadata(&f).unwrap());
        assert_eq!((now.size, now.mtime_ns), (stat.size, stat.mtime_ns));
        assert_eq!(sc.digest_file(&f).unwrap(), Digest::of(b"BBBB"));
    }

    #[test]
    fn stat_cache_persists_used_records_and_survives_corruption() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        let g = d.path().join("b");
        std::fs::write(&f, b"x").unwrap();
        std::fs::write(&g, b"y").unwrap();
        let stat = |p: &Path| {
            let mut s = StatKey::of(&std::fs::metadata(p).unwrap());
            s.ctime_ns -= 10 * RACY_WINDOW_NS;
            s.mtime_ns -= 10 * RACY_WINDOW_NS;
            s
        };
        let (sf, sg) = (stat(&f), stat(&g));
        let mut sc = StatCache::load(d.path(), auth());
        sc.record(&f, &sf, &Digest::of(b"x"));
        sc.record(&g, &sg, &Digest::of(b"y"));
        sc.save().unwrap();
        let mut sc2 = StatCache::load(d.path(), auth());
        assert_eq!(sc2.lookup(&f, &sf), Some(Digest::of(b"x")));
        sc2.save().unwrap();
        // Only `f` was used in the second run.
        let mut sc3 = StatCache::load(d.path(), auth());
        assert_eq!(sc3.lookup(&f, &sf), Some(Digest::of(b"x")));
        assert_eq!(sc3.lookup(&g, &sg), None);
        std::fs::write(d.path().join("stat-cache.json"), b"{not json").unwrap();
        let mut sc4 = StatCache::load(d.path(), auth());
        assert_eq!(sc4.lookup(&f, &sf), None);
        assert_eq!(sc4.digest_file(&f).unwrap(), Digest::of(b"x"));
    }

    #[test]
    fn planted_stat_records_are_ignored() {
        // A record claiming `f` holds other content, sealed with another key
        // or not at all, is never used.
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        std::fs::write(&f, b"real").unwrap();
        // The live stat, as an attacker would copy it.
        let st = StatKey::of(&std::fs::metadata(&f).unwrap());
        let lie: BTreeMap<String, StatRecord> = [(
            f.to_str().unwrap().to_string(),
            StatRecord {
                stat: st,
                digest: Digest::of(b"planted"),
            },
        )]
        .into();
        let body = serde_json::to_vec(&lie).unwrap();
        let file = d.path().join("stat-cache.json");
        for planted in [
            body.clone(),
            CacheAuth::from_key(&[1; 32]).seal(KIND_STAT, STAT_NAME, &body),
        ] {
            std::fs::write(&file, planted).unwrap();
            let mut sc = StatCache::load(d.path(), auth());
            assert_eq!(sc.digest_file(&f).unwrap(), Digest::of(b"real"));
        }
        // The same record sealed with our key is used (the MAC is what decides).
        std::fs::write(&file, auth().seal(KIND_STAT, STAT_NAME, &body)).unwrap();
        let mut sc = StatCache::load(d.path(), auth());
        assert_eq!(sc.lookup(&f, &st), Some(Digest::of(b"planted")));
    }
}
