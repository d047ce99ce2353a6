//! Deterministic layer writing: one tar header constructor ([`header_for`]) and
//! one streaming pipeline that turns entries into a stored layer blob.
//!
//! ```text
//! entries ─▶ tar::Builder ─▶ HashingWriter (diffID) ─▶ Compressor ─▶ BlobWriter (digest)
//! ```
//!
//! The layer is never held in memory: both digests are computed in the same
//! pass as the bytes stream to a temporary file in the blob store, which is
//! renamed into place on [`LayerWriter::finish`].
//!
//! Determinism rules, enforced here rather than hoped for:
//! - headers come only from [`Entry`] values (never from the host filesystem);
//! - entries must arrive in strictly increasing path order (see [`path_order`]);
//!   the writer refuses anything else instead of sorting, so a caller bug shows
//!   up as an error, not as a digest that changes between machines;
//! - missing parent directories are emitted with fixed metadata;
//! - the gzip header is pinned (no file name, mtime 0, OS byte 255) and the
//!   compressor is the exact flate2/zlib-rs version pinned in Cargo.toml.

pub mod header;
pub mod time;

pub use header::{EntryHeaders, PaxExtension, header_for};

use crate::digest::HashingWriter;
use crate::fs::entry::{Entry, EntryKind, ImagePath};
use crate::image::{LayerBlob, media};
use crate::store::blobs::{BlobError, BlobStore, BlobWriter};
use std::cmp::Ordering;
use std::io::{self, Read, Write};

/// How a layer's tar stream is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip at `level` 0..=9 (6 is gzip's and ironhull's default).
    Gzip { level: u32 },
    /// An uncompressed tar.
    None,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Gzip { level: 6 }
    }
}

impl Compression {
    /// The OCI media type of a layer compressed this way.
    pub fn media_type(&self) -> &'static str {
        match self {
            Compression::Gzip { .. } => media::OCI_LAYER_GZIP,
            Compression::None => media::OCI_LAYER_TAR,
        }
    }
}

/// Parameters for one layer.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LayerParams {
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH`, or 0. Used for auto-created parent directories and
    /// by [`normalize`].
    pub mtime: u64,
    /// Keep extended attributes when normalizing (off by default: xattrs such
    /// as `security.capability` grant privileges and are rarely wanted).
    pub keep_xattrs: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error(
        "gzip compression level {level} is out of range; use a level from 0 (store) to 9 (best), 6 is the default"
    )]
    BadCompressionLevel { level: u32 },
    #[error(
        "layer entry {path} comes after {previous}, but entries must be appended in strictly increasing path order (component by component, byte order, each path once); sort the entries and remove duplicates before writing"
    )]
    OutOfOrder { path: String, previous: String },
    #[error(
        "layer entry {path} lies below {parent}, which was written as {kind}, not a directory; remove one of the two entries"
    )]
    ParentNotDir {
        path: String,
        parent: String,
        kind: &'static str,
    },
    #[error(
        "layer entry for the root directory must be a directory, not {kind}; drop the entry or make it a directory"
    )]
    RootNotDir { kind: &'static str },
    #[error("layer entry {path}: bad link target: {why}")]
    BadLinkTarget { path: String, why: &'static str },
    #[error(
        "layer entry {path}: device {field} number {value} does not fit a tar header (max 2097151); such a device node cannot be stored in a layer"
    )]
    DeviceNumberTooLarge {
        path: String,
        field: &'static str,
        value: u32,
    },
    #[error(
        "layer entry {path}: extended attribute name {name:?} {why}; drop the attribute (keep_xattrs = false) or rename it"
    )]
    BadXattr {
        path: String,
        name: String,
        why: &'static str,
    },
    #[error(
        "layer entry {path} is a regular file of {size} bytes but no content stream was given; pass the file content"
    )]
    MissingContent { path: String, size: u64 },
    #[error(
        "layer entry {path}: content was given for {kind}, which has no content; pass no content for non-files"
    )]
    UnexpectedContent { path: String, kind: &'static str },
    #[error(
        "layer entry {path}: the content stream ended after {actual} of the {expected} bytes the entry declares; the source file probably changed while it was read, rebuild from a stable source"
    )]
    ContentTooShort {
        path: String,
        expected: u64,
        actual: u64,
    },
    #[error(
        "layer entry {path}: the content stream has more than the {expected} bytes the entry declares; the source file probably changed while it was read, rebuild from a stable source"
    )]
    ContentTooLong { path: String, expected: u64 },
    #[error("layer entry {path}: reading its content failed: {source}")]
    ReadContent { path: String, source: io::Error },
    #[error("writing the layer stream ({what}) failed: {source}")]
    Write {
        what: &'static str,
        source: io::Error,
    },
    #[error(
        "an earlier append to this layer failed and left it incomplete; discard this layer writer and start a new layer"
    )]
    Poisoned,
    #[error("storing the layer blob failed: {0}")]
    Blob(#[from] BlobError),
    #[error("{0}")]
    Time(#[from] time::TimeError),
    #[error("{what}: platform {platform} is not supported; {fix}")]
    UnsupportedPlatform {
        what: &'static str,
        platform: String,
        fix: &'static str,
    },
}

/// The order entries must be appended in: paths compared component by
/// component, each component by bytes. This is a depth-first walk with sorted
/// children, so a directory always comes directly before its contents
/// (`a`, `a/b`, `a-c`), which plain byte order of the joined string does not
/// give (`a-c` < `a/b` because `-` < `/`).
pub fn path_order(a: &ImagePath, b: &ImagePath) -> Ordering {
    a.components().cmp(b.components())
}

/// Normalizes an entry for layers ironhull writes itself: mtime := `params.mtime`,
/// uname and gname cleared, permission bits only, xattrs dropped unless
/// `params.keep_xattrs`.
///
/// uname/gname are cleared rather than set to "root": runtimes chown by the
/// numeric ids, a name could contradict the image's own /etc/passwd, and an
/// empty field cannot leak the build host's user names.
pub fn normalize(entry: &Entry, params: &LayerParams) -> Entry {
    let mut e = entry.clone();
    e.mtime = params.mtime;
    e.uname.clear();
    e.gname.clear();
    e.mode &= 0o7777;
    if !params.keep_xattrs {
        e.xattrs.clear();
    }
    e
}

/// The compression stage of the pipeline. An enum rather than a trait object
/// so a future (deterministic, block-parallel) gzip or zstd stage is one more
/// variant with its own `finish`.
enum Compressor {
    Gzip(flate2::write::GzEncoder<BlobWriter>),
    Plain(BlobWriter),
}

impl Compressor {
    fn new(c: Compression, out: BlobWriter) -> Result<Self, LayerError> {
        Ok(match c {
            Compression::Gzip { level } => {
                if level > 9 {
                    return Err(LayerError::BadCompressionLevel { level });
                }
                // Pinned header: no name, no comment, mtime 0, OS 255
                // ("unknown", also Go's default). XFL follows the level.
                let enc = flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(out, flate2::Compression::new(level));
                Compressor::Gzip(enc)
            }
            Compression::None => Compressor::Plain(out),
        })
    }

    fn finish(self) -> io::Result<BlobWriter> {
        match self {
            Compressor::Gzip(enc) => enc.finish(),
            Compressor::Plain(w) => Ok(w),
        }
    }
}

impl Write for Compressor {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Gzip(w) => w.write(buf),
            Compressor::Plain(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Gzip(w) => w.flush(),
            Compressor::Plain(w) => w.flush(),
        }
    }
}

/// Passes through at most `remaining` bytes and remembers whether the source
/// (rather than the destination) failed, so errors can say which side broke.
struct Exact<'a> {
    inner: &'a mut dyn Read,
    remaining: u64,
    copied: u64,
    read_error: Option<io::Error>,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let max = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = loop {
            match self.inner.read(&mut buf[..max]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let kind = e.kind();
                    let msg = e.to_string();
                    self.read_error = Some(e);
                    return Err(io::Error::new(kind, msg));
                }
            }
        };
        self.remaining -= n as u64;
        self.copied += n as u64;
        Ok(n)
    }
}

/// Writes one layer into a blob store. See the module docs.
pub struct LayerWriter {
    tar: tar::Builder<HashingWriter<Compressor>>,
    media_type: &'static str,
    mtime: u64,
    last: Option<ImagePath>,
    /// The emitted entries that are ancestors of (or equal to) the last entry,
    /// top down, with whether each is a directory. Because entries arrive in
    /// [`path_order`], an emitted ancestor of a new entry is always on this
    /// stack, so no set of all paths is needed.
    open: Vec<(ImagePath, &'static str)>,
    /// False for [`LayerWriter::new_unordered`]: no order guard, no parents.
    ordered: bool,
    poisoned: bool,
}

impl LayerWriter {
    /// A writer for layers ironhull composes itself: entries must come in
    /// [`path_order`] and missing parents are added.
    pub fn new(store: &BlobStore, params: &LayerParams) -> Result<Self, LayerError> {
        Self::with_order(store, params, true)
    }

    /// A writer that re-serializes an existing layer's entries in the order
    /// given (for rewriting a base layer during hardening): no order guard and
    /// no automatic parent directories, because a foreign layer may list a
    /// directory after its contents, and adding one would create a duplicate.
    /// The output is still deterministic: it depends only on the entries and
    /// their order, which come from a digest-verified input layer.
    pub fn new_unordered(store: &BlobStore, params: &LayerParams) -> Result<Self, LayerError> {
        Self::with_order(store, params, false)
    }

    fn with_order(
        store: &BlobStore,
        params: &LayerParams,
        ordered: bool,
    ) -> Result<Self, LayerError> {
        let blob = store.writer()?;
        let comp = Compressor::new(params.compression, blob)?;
        let mut tar = tar::Builder::new(HashingWriter::new(comp));
        // Only used by append_path/append_dir_all, which this module never
        // calls; set anyway so a future slip cannot pull in host metadata.
        tar.mode(tar::HeaderMode::Deterministic);
        tar.follow_symlinks(false);
        Ok(Self {
            tar,
            media_type: params.compression.media_type(),
            mtime: params.mtime,
            last: None,
            open: Vec::new(),
            ordered,
            poisoned: false,
        })
    }

    /// Appends one entry. For regular files `content` must yield exactly
    /// `entry.size` bytes (anything else means the source changed while being
    /// read, and is an error); for other kinds it must be `None` or empty.
    ///
    /// Entries must come in strictly increasing [`path_order`]; the writer
    /// refuses anything else rather than sorting. Parent directories not yet
    /// written in this layer are written first (0755, root, `params.mtime`).
    ///
    /// After an error the layer is incomplete and every later call fails with
    /// [`LayerError::Poisoned`]; dropping the writer removes the partial blob.
    pub fn append(
        &mut self,
        entry: &Entry,
        content: Option<&mut dyn Read>,
    ) -> Result<(), LayerError> {
        if self.poisoned {
            return Err(LayerError::Poisoned);
        }
        // Checks that write nothing: a failure here leaves the layer usable.
        if self.ordered
            && let Some(last) = &self.last
            && path_order(&entry.path, last) != Ordering::Greater
        {
            return Err(LayerError::OutOfOrder {
                path: entry.path.to_abs(),
                previous: last.to_abs(),
            });
        }
        if entry.is_file() && entry.size > 0 && content.is_none() {
            return Err(LayerError::MissingContent {
                path: entry.path.to_abs(),
                size: entry.size,
            });
        }
        let headers = header_for(entry)?;
        let missing = if self.ordered {
            self.missing_parents(entry)?
        } else {
            Vec::new()
        };

        self.poisoned = true;
        for dir in missing {
            let mut d = Entry::new(dir.clone(), EntryKind::Dir, 0o755);
            d.mtime = self.mtime;
            let h = header_for(&d)?;
            self.write_headers(&h, &mut io::empty(), &d)?;
            self.open.push((dir, "a directory"));
        }
        let kind = kind_name(&entry.kind);
        match content {
            Some(src) if entry.is_file() => self.write_headers(&headers, src, entry)?,
            Some(src) => {
                let mut probe = [0u8; 1];
                let n = read_retrying(src, &mut probe).map_err(|source| {
                    LayerError::ReadContent {
                        path: entry.path.to_abs(),
                        source,
                    }
                })?;
                if n > 0 {
                    return Err(LayerError::UnexpectedContent {
                        path: entry.path.to_abs(),
                        kind,
                    });
                }
                self.write_headers(&headers, &mut io::empty(), entry)?;
            }
            None => self.write_headers(&headers, &mut io::empty(), entry)?,
        }
        if self.ordered {
            self.open.push((entry.path.clone(), kind));
        }
        self.last = Some(entry.path.clone());
        self.poisoned = false;
        Ok(())
    }

    /// Pops the open-ancestor stack down to `entry`'s emitted ancestors and
    /// returns the ancestors that still have to be written.
    fn missing_parents(&mut self, entry: &Entry) -> Result<Vec<ImagePath>, LayerError> {
        while let Some((top, _)) = self.open.last() {
            if entry.path.starts_with(top) {
                break;
            }
            self.open.pop();
        }
        if let Some((parent, kind)) = self.open.last()
            && *kind != "a directory"
        {
            return Err(LayerError::ParentNotDir {
                path: entry.path.to_abs(),
                parent: parent.to_abs(),
                kind,
            });
        }
        let have = self.open.iter().filter(|(p, _)| !p.is_root()).count();
        Ok(entry.path.ancestors().into_iter().skip(have).collect())
    }

    fn write_headers(
        &mut self,
        h: &EntryHeaders,
        src: &mut dyn Read,
        entry: &Entry,
    ) -> Result<(), LayerError> {
        let werr = |source| LayerError::Write {
            what: "tar header",
            source,
        };
        if let Some(pax) = &h.pax {
            self.tar
                .append(&pax.header, &pax.records[..])
                .map_err(werr)?;
        }
        let expected = if entry.is_file() { entry.size } else { 0 };
        let mut exact = Exact {
            inner: src,
            remaining: expected,
            copied: 0,
            read_error: None,
        };
        let res = self.tar.append(&h.header, &mut exact);
        let path = || entry.path.to_abs();
        if let Some(source) = exact.read_error.take() {
            return Err(LayerError::ReadContent {
                path: path(),
                source,
            });
        }
        res.map_err(|source| LayerError::Write {
            what: "file content",
            source,
        })?;
        if exact.copied < expected {
            return Err(LayerError::ContentTooShort {
                path: path(),
                expected,
                actual: exact.copied,
            });
        }
        if entry.is_file() {
            let mut probe = [0u8; 1];
            let n = read_retrying(exact.inner, &mut probe)
                .map_err(|source| LayerError::ReadContent {
                    path: path(),
                    source,
                })?;
            if n > 0 {
                return Err(LayerError::ContentTooLong {
                    path: path(),
                    expected,
                });
            }
        }
        Ok(())
    }

    /// Ends the archive (two zero blocks, part of both digests), flushes the
    /// compressor and commits the blob.
    pub fn finish(mut self) -> Result<LayerBlob, LayerError> {
        if self.poisoned {
            return Err(LayerError::Poisoned);
        }
        self.tar.finish().map_err(|source| LayerError::Write {
            what: "end of archive",
            source,
        })?;
        let hashing = self.tar.into_inner().map_err(|source| LayerError::Write {
            what: "end of archive",
            source,
        })?;
        let (comp, diff_id, _tar_size) = hashing.finish();
        let blob = comp.finish().map_err(|source| LayerError::Write {
            what: "compressor trailer",
            source,
        })?;
        let (digest, size) = blob.commit(None)?;
        Ok(LayerBlob {
            media_type: self.media_type.to_string(),
            digest,
            size,
            diff_id,
        })
    }
}

fn read_retrying(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

pub(crate) fn kind_name(kind: &EntryKind) -> &'static str {
    match kind {
        EntryKind::File => "a regular file",
        EntryKind::Dir => "a directory",
        EntryKind::Symlink { .. } => "a symlink",
        EntryKind::Hardlink { .. } => "a hard link",
        EntryKind::CharDevice { .. } => "a character device",
        EntryKind::BlockDevice { .. } => "a block device",
        EntryKind::Fifo => "a FIFO",
    }
}
