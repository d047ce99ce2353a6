//! Reading one layer blob as a stream of `LayerEvent`s, treating it as hostile.
//!
//! Layers come from registries and archives ironhull does not control. The
//! reader therefore checks everything a malicious tar could use against a
//! consumer (path traversal, hard links out of the layer, device-like entry
//! types, files masquerading as parent directories, memory bombs in extension
//! headers) and reports each with its own error, naming the entry and a fix.
//!
//! Memory stays bounded: content is streamed to the visitor and drained, never
//! buffered; per-layer bookkeeping is one small record per path.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::rc::Rc;

use super::ahead::with_read_ahead;
use flate2::read::MultiGzDecoder;

use super::entry::{Entry, EntryKind, ImagePath, LayerEvent, PathError};
use super::merge::MergeError;
use super::tar_strict::{RawEntry, StrictTar, TarError, canonical_name};
use crate::digest::{Digest, HashingReader};
use crate::layer::zst::{ZSTD_MAGIC, ZstdDecoder};

/// Longest path or link target accepted, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_LEN: usize = 4096;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
const AUFS_META_PREFIX: &str = ".wh..wh.";

/// Limits and switches for `read_layer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Most tar entries accepted in one layer (extension headers not counted).
    pub max_entries: u64,
    /// Most bytes of tar headers and extension records (PAX, GNU long names)
    /// read for one entry. The tar crate buffers these in memory, so without a
    /// cap a small gzip bomb could make it allocate gigabytes.
    pub max_header_bytes: u64,
    /// Most uncompressed bytes accepted for the whole layer.
    pub max_layer_bytes: u64,
    /// Keep PAX `SCHILY.xattr.*` records in `Entry::xattrs`.
    pub keep_xattrs: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            max_entries: 1_000_000,
            max_header_bytes: 1024 * 1024,
            max_layer_bytes: 256 * 1024 * 1024 * 1024,
            keep_xattrs: false,
        }
    }
}

/// What reading a layer produced besides the events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerStats {
    /// Tar entries seen (including whiteouts and skipped metadata entries).
    pub entries: u64,
    /// Length of the uncompressed tar stream, trailing blocks included.
    pub bytes: u64,
    /// sha256 of the uncompressed tar stream: the layer's OCI `diff_id`.
    pub diff_id: Digest,
}

/// Why a layer could not be read. Paths are layer-relative entry names.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "layer stream is truncated{}{}: the blob ends before the tar archive does; \
         re-pull the image or re-download the blob",
        at_offset(*offset),
        in_entry(path.as_deref())
    )]
    Truncated {
        offset: Option<u64>,
        path: Option<String>,
    },
    #[error(
        "layer is corrupt{}{}: {detail}; re-pull the image, and if it persists, \
         rebuild the layer with a standard tar tool",
        at_offset(*offset),
        in_entry(path.as_deref())
    )]
    Corrupt {
        offset: Option<u64>,
        path: Option<String>,
        detail: String,
    },
    #[error(
        "tar entry {path:?} contains a '..' component, which could write outside the \
         image root; this layer is malicious or broken, do not use it"
    )]
    PathTraversal { path: String },
    #[error(
        "tar entry {path:?} has an unusable path: {source}; rebuild the layer with \
         UTF-8 paths shorter than 4096 bytes"
    )]
    BadPath {
        path: String,
        #[source]
        source: PathError,
    },
    #[error(
        "hard link {path:?} points to {target:?}, which contains '..' and could reach \
         outside the image root; this layer is malicious or broken, do not use it"
    )]
    HardlinkTraversal { path: String, target: String },
    #[error(
        "hard link {path:?} points to {target:?}, which does not appear earlier in the \
         same layer (the OCI image spec requires it); rebuild the layer so the target \
         file precedes the link"
    )]
    HardlinkMissingTarget { path: String, target: String },
    #[error("hard link {path:?} points to itself; rebuild the layer without the self-link")]
    HardlinkToSelf { path: String },
    #[error(
        "hard link {path:?} points to directory {target:?}; hard links to directories \
         are not allowed, rebuild the layer with a symlink instead"
    )]
    HardlinkToDir { path: String, target: String },
    #[error(
        "symlink {path:?} has an unusable target: {why}; rebuild the layer with a \
         non-empty UTF-8 target without NUL bytes, shorter than 4096 bytes"
    )]
    BadSymlink { path: String, why: &'static str },
    #[error(
        "tar entry {path:?} has type {type_flag:?}, which the OCI image spec does not \
         allow in layers; rebuild the layer with only files, directories, links, \
         devices and FIFOs"
    )]
    UnsupportedType { path: String, type_flag: char },
    #[error(
        "tar entry {path:?} lies below {parent:?}, which is not a directory in the same \
         layer; rebuild the layer so {parent:?} is a directory or drop the entry"
    )]
    ParentNotDir { path: String, parent: String },
    #[error(
        "tar entry {path:?} is the image root but is not a directory; rebuild the \
         layer with './' as a directory"
    )]
    RootNotDir { path: String },
    #[error(
        "tar entry {path:?} is an invalid whiteout: {why}; rebuild the layer with a \
         standard OCI tool"
    )]
    BadWhiteout { path: String, why: &'static str },
    #[error(
        "layer has more than {limit} entries; raise ReadOptions::max_entries if this \
         image is legitimate"
    )]
    TooManyEntries { limit: u64 },
    #[error(
        "tar headers for one entry exceed {limit} bytes (at offset {offset}); \
         such PAX or GNU long-name records are a memory bomb, not a real file"
    )]
    HeaderTooLarge { offset: u64, limit: u64 },
    #[error(
        "layer expands to more than {limit} uncompressed bytes; raise \
         ReadOptions::max_layer_bytes if this image is legitimate"
    )]
    LayerTooLarge { limit: u64 },
    #[error(
        "tar entry {}{} is refused: {why}. Go's archive/tar (Docker, containerd, podman, \
         umoci) and ironhull must build the same tree from a layer, and this header could \
         be read differently, so it is treated as hostile; rebuild the layer with a \
         standard tool (GNU tar --format=posix, Go archive/tar, ironhull) without it \
         (see src/fs/TAR_DECISIONS.md)",
        path.as_deref().map(|p| format!("{p:?}")).unwrap_or_else(|| "header".into()),
        at_offset(Some(*offset))
    )]
    Ambiguous {
        offset: u64,
        path: Option<String>,
        why: String,
    },
    #[error("reading the layer stream failed: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error("layer {layer}: {source}")]
    InLayer {
        layer: usize,
        #[source]
        source: Box<ReadError>,
    },
}

fn at_offset(o: Option<u64>) -> String {
    o.map(|o| format!(" at uncompressed offset {o}"))
        .unwrap_or_default()
}

fn in_entry(p: Option<&str>) -> String {
    p.map(|p| format!(" in entry {p:?}")).unwrap_or_default()
}

impl ReadError {
    /// Tags the error with the index of the layer it came from.
    pub fn in_layer(self, layer: usize) -> Self {
        match self {
            e @ ReadError::InLayer { .. } => e,
            e => ReadError::InLayer {
                layer,
                source: Box::new(e),
            },
        }
    }
}

/// State shared between the reader chain (owned by the tar archive) and
/// `read_layer`, so limits can be enforced inside the tar crate's reads.
#[derive(Default)]
struct Guard {
    /// Uncompressed bytes read so far.
    pos: Cell<u64>,
    /// Remaining header budget while the tar crate parses headers; `None`
    /// while content is being read.
    header_budget: Cell<Option<u64>>,
    header_tripped: Cell<bool>,
    layer_limit: Cell<u64>,
    layer_tripped: Cell<bool>,
    /// The decompressed stream returned EOF.
    eof: Cell<bool>,
    /// The decompressor failed (corrupt or truncated compressed data).
    decode_error: Cell<Option<io::ErrorKind>>,
    /// The decompressor's own message: the tar crate wraps read errors in
    /// its own text, which would hide e.g. "zstd window too large".
    decode_detail: RefCell<Option<String>>,
}

impl Guard {
    fn decode_failed(&self, e: &io::Error) {
        self.decode_error.set(Some(e.kind()));
        self.decode_detail.replace(Some(e.to_string()));
    }
}

struct GuardReader<R> {
    inner: R,
    guard: Rc<Guard>,
}

impl<R: Read> Read for GuardReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let g = &self.guard;
        let mut want = buf.len() as u64;
        if let Some(b) = g.header_budget.get() {
            if b == 0 && want > 0 {
                g.header_tripped.set(true);
                return Err(io::Error::other("tar header budget exhausted"));
            }
            want = want.min(b);
        }
        let left = g.layer_limit.get().saturating_sub(g.pos.get());
        if left == 0 && want > 0 {
            // Probe one byte: exactly at the limit and at EOF is fine.
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one) {
                Ok(0) => {
                    g.eof.set(true);
                    Ok(0)
                }
                Ok(_) => {
                    g.layer_tripped.set(true);
                    Err(io::Error::other("layer size limit exceeded"))
                }
                Err(e) => {
                    g.decode_failed(&e);
                    Err(e)
                }
            };
        }
        want = want.min(left);
        let end = usize::try_from(want).unwrap_or(buf.len()).min(buf.len());
        match self.inner.read(&mut buf[..end]) {
            Ok(n) => {
                if n == 0 && end > 0 {
                    g.eof.set(true);
                }
                g.pos.set(g.pos.get() + n as u64);
                if let Some(b) = g.header_budget.get() {
                    g.header_budget.set(Some(b.saturating_sub(n as u64)));
                }
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    g.decode_failed(&e);
                }
                Err(e)
            }
        }
    }
}

/// Wraps an entry's content for the visitor and remembers how much was read
/// and whether reading failed, so a visitor error caused by a broken stream is
/// reported as `Truncated`/`Corrupt` for that entry.
struct ContentReader<'a, R> {
    inner: &'a mut R,
    read: u64,
    failed: bool,
}

impl<R: Read> Read for ContentReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }
}

/// Kinds of paths seen earlier in the current layer, for the parent and hard
/// link checks.
#[derive(Clone, PartialEq, Eq)]
enum Seen {
    Dir,
    NonDir(InodeMeta),
    /// A non-directory that an earlier hard link of this layer points to:
    /// replacing it later in the layer is refused.
    Linked(InodeMeta),
}

/// The inode metadata a hard link shares with its target. Runtimes disagree
/// on whose header sets it: containerd links and stops (the target's header
/// wins), Docker and podman then chown, chmod and set xattrs from the link's
/// own header on the shared inode (the last header in the layer wins). So a
/// link is accepted only when its header says exactly what its target's does.
#[derive(Clone, PartialEq, Eq)]
struct InodeMeta {
    mode: u32,
    uid: u64,
    gid: u64,
    /// Empty for the common case (an empty map does not allocate).
    xattrs: BTreeMap<String, Vec<u8>>,
}

impl InodeMeta {
    fn of(raw: &RawEntry) -> Self {
        Self {
            mode: u32::try_from(raw.mode & 0o7777).unwrap_or(0),
            uid: raw.uid,
            gid: raw.gid,
            xattrs: raw.xattrs.clone(),
        }
    }

    /// What differs between a link's header (`self`) and its target's, for
    /// the error message.
    fn differs_from(&self, target: &InodeMeta) -> Option<String> {
        if self.mode != target.mode {
            return Some(format!(
                "mode {:04o} where the target has {:04o}",
                self.mode, target.mode
            ));
        }
        if (self.uid, self.gid) != (target.uid, target.gid) {
            return Some(format!(
                "owner {}:{} where the target has {}:{}",
                self.uid, self.gid, target.uid, target.gid
            ));
        }
        if self.xattrs != target.xattrs {
            return Some("extended attributes that differ from the target's".into());
        }
        None
    }
}

pub(crate) fn lossy(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() > 256 {
        let mut end = 256;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.into_owned()
    }
}

/// Reads bytes to detect the compression without consuming them.
fn sniff<R: Read>(mut r: R) -> io::Result<([u8; 4], usize, R)> {
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < magic.len() {
        match r.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((magic, n, r))
}

/// Reads one layer blob (gzip, zstd or uncompressed tar; detected by magic
/// bytes, not trusted from the media type)
/// and calls `visit` for every entry, whiteout and opaque marker, in tar order.
///
/// For regular files the visitor gets the content stream and may read any part
/// of it; the rest is drained afterwards. Other kinds get an empty reader.
/// Returns the entry count, the uncompressed length and the diffID, which
/// covers the whole uncompressed stream including trailing zero blocks.
///
/// The stages run as a pipeline (see [`super::ahead`]): reading `blob`
/// (and whatever hashing the caller's reader does) on one helper thread,
/// decompressing on another, and tar parsing plus `visit` on the caller's
/// thread, which is why `blob` must be `Send`.
pub fn read_layer<R: Read + Send>(
    blob: R,
    opts: &ReadOptions,
    mut visit: impl FnMut(LayerEvent, &mut dyn Read) -> Result<(), ReadError>,
) -> Result<LayerStats, ReadError> {
    with_read_ahead(blob, |raw| {
        let (magic, n, raw) = sniff(raw).map_err(ReadError::Io)?;
        let head = io::Cursor::new(magic).take(n as u64);
        let stream = head.chain(raw);
        if n >= 2 && magic[..2] == [0x1f, 0x8b] {
            with_read_ahead(MultiGzDecoder::new(stream), |plain| {
                read_tar(plain, opts, &mut visit)
            })
        } else if n == 4 && magic == ZSTD_MAGIC {
            // Streaming, with a bounded window: see `layer::zst`. The size of
            // what it expands to is bounded below by `max_layer_bytes`.
            let decoder = ZstdDecoder::new(stream).map_err(ReadError::Io)?;
            with_read_ahead(decoder, |plain| read_tar(plain, opts, &mut visit))
        } else {
            read_tar(stream, opts, &mut visit)
        }
    })
}

/// The tar half of [`read_layer`], over the decompressed stream, read by
/// the strict parser ([`StrictTar`]).
fn read_tar(
    decompressed: impl Read,
    opts: &ReadOptions,
    visit: &mut dyn FnMut(LayerEvent, &mut dyn Read) -> Result<(), ReadError>,
) -> Result<LayerStats, ReadError> {
    let guard = Rc::new(Guard::default());
    guard.layer_limit.set(opts.max_layer_bytes);
    let hashing = HashingReader::new(GuardReader {
        inner: decompressed,
        guard: Rc::clone(&guard),
    });
    let mut tar = StrictTar::new(hashing, opts.max_header_bytes);

    let serr =
        |e: io::Error, path: Option<String>| -> ReadError { stream_error(&guard, opts, e, path) };

    let mut count = 0u64;
    let mut seen: HashMap<ImagePath, Seen> = HashMap::new();
    loop {
        // Everything read while finding the next entry is padding, headers
        // and extension records: cap it.
        guard
            .header_budget
            .set(Some(opts.max_header_bytes.saturating_add(1024)));
        let next = tar.next();
        guard.header_budget.set(None);
        let raw = match next {
            Ok(None) => break,
            Ok(Some(e)) => e,
            Err(e) => return Err(tar_error(&guard, opts, e)),
        };
        count += 1;
        if count > opts.max_entries {
            return Err(ReadError::TooManyEntries {
                limit: opts.max_entries,
            });
        }
        let shown = lossy(&raw.name);
        let event = classify(&raw, opts, &mut seen)?;
        let expected = raw.size;
        let mut body = tar.content();
        let mut content = ContentReader {
            inner: &mut body,
            read: 0,
            failed: false,
        };
        if let Some(ev) = event {
            let is_file = matches!(&ev, LayerEvent::Entry(e) if e.is_file());
            let res = if is_file {
                visit(ev, &mut content)
            } else {
                visit(ev, &mut io::empty())
            };
            if let Err(e) = res {
                if content.failed || guard.decode_error.get().is_some() {
                    let io = io::Error::other(e.to_string());
                    return Err(serr(io, Some(shown)));
                }
                return Err(e);
            }
        }
        io::copy(&mut content, &mut io::sink()).map_err(|e| serr(e, Some(shown.clone())))?;
        if content.read < expected {
            return Err(ReadError::Truncated {
                offset: Some(guard.pos.get()),
                path: Some(shown),
            });
        }
    }
    let mut hashing = tar.into_inner();
    // Trailing zero blocks (and anything after them) are part of the diffID.
    io::copy(&mut hashing, &mut io::sink()).map_err(|e| serr(e, None))?;
    let (diff_id, bytes) = hashing.finish();
    Ok(LayerStats {
        entries: count,
        bytes,
        diff_id,
    })
}

/// Maps a strict-parser failure to the reader's error.
fn tar_error(guard: &Guard, opts: &ReadOptions, e: TarError) -> ReadError {
    match e {
        TarError::Io(io) => stream_error(guard, opts, io, None),
        TarError::Corrupt {
            offset,
            path,
            detail,
        } => ReadError::Corrupt {
            offset: Some(offset),
            path,
            detail,
        },
        TarError::Refused { offset, path, why } => ReadError::Ambiguous { offset, path, why },
        TarError::Unsupported { path, flag } => ReadError::UnsupportedType {
            path,
            type_flag: char::from(flag),
        },
        TarError::HeaderTooLarge { offset } => ReadError::HeaderTooLarge {
            offset,
            limit: opts.max_header_bytes,
        },
    }
}

fn stream_error(
    guard: &Guard,
    opts: &ReadOptions,
    e: io::Error,
    path: Option<String>,
) -> ReadError {
    let offset = Some(guard.pos.get());
    if guard.header_tripped.get() {
        return ReadError::HeaderTooLarge {
            offset: guard.pos.get(),
            limit: opts.max_header_bytes,
        };
    }
    if guard.layer_tripped.get() {
        return ReadError::LayerTooLarge {
            limit: opts.max_layer_bytes,
        };
    }
    if guard.decode_error.get() == Some(io::ErrorKind::UnexpectedEof)
        || e.kind() == io::ErrorKind::UnexpectedEof
        || guard.eof.get()
    {
        return ReadError::Truncated { offset, path };
    }
    let detail = guard
        .decode_detail
        .borrow()
        .clone()
        .unwrap_or_else(|| e.to_string());
    ReadError::Corrupt {
        offset,
        path,
        detail,
    }
}

/// An entry name in canonical form (see [`canonical_name`]), or the error
/// for it: `..` anywhere is traversal, other non-canonical shapes are
/// ambiguous.
fn entry_path(raw: &[u8], offset: u64, is_dir: bool) -> Result<ImagePath, ReadError> {
    if raw.split(|b| *b == b'/').any(|c| c == b"..") {
        return Err(ReadError::PathTraversal { path: lossy(raw) });
    }
    let canon = canonical_name(raw, false, is_dir).map_err(|why| ReadError::Ambiguous {
        offset,
        path: Some(lossy(raw)),
        why: format!(
            "{why}; only an exact leading './' (and a trailing '/' on a directory) is normalized"
        ),
    })?;
    ImagePath::from_bytes(canon).map_err(|source| ReadError::BadPath {
        path: lossy(raw),
        source,
    })
}

/// A hard link target: canonical like a name, but may start with `/`
/// (runtimes join it below the root either way).
fn link_path(raw: &[u8], path: &str, offset: u64) -> Result<ImagePath, ReadError> {
    if raw.split(|b| *b == b'/').any(|c| c == b"..") {
        return Err(ReadError::HardlinkTraversal {
            path: path.to_string(),
            target: lossy(raw),
        });
    }
    let canon = canonical_name(raw, true, false).map_err(|why| ReadError::Ambiguous {
        offset,
        path: Some(path.to_string()),
        why: format!(
            "the hard link target {:?} is not canonical: {why}",
            lossy(raw)
        ),
    })?;
    ImagePath::from_bytes(canon).map_err(|source| ReadError::BadPath {
        path: lossy(raw),
        source,
    })
}

/// Turns one strictly parsed tar entry into an event (or `None` for entries
/// that carry no filesystem change), running the hostile-input checks.
fn classify(
    raw: &RawEntry,
    opts: &ReadOptions,
    seen: &mut HashMap<ImagePath, Seen>,
) -> Result<Option<LayerEvent>, ReadError> {
    let shown = lossy(&raw.name);
    let path = entry_path(&raw.name, raw.offset, raw.typeflag == b'5')?;

    // Whiteouts and aufs metadata, judged by name before anything else.
    let name = path.file_name().to_string();
    let comps: Vec<&str> = path.components().collect();
    let (last, dirs) = comps
        .split_last()
        .map_or((None, &[][..]), |(l, d)| (Some(*l), d));
    if dirs.iter().any(|c| c.starts_with(AUFS_META_PREFIX)) {
        // containerd extracts what lies below `.wh..wh.plnk/`, Docker skips it:
        // content there would reach the runtime unjudged.
        return Err(ReadError::Ambiguous {
            offset: raw.offset,
            path: Some(shown),
            why: "the entry lies inside an aufs metadata directory ('.wh..wh.*'), which some \
                  runtimes skip and others extract"
                .into(),
        });
    }
    if last.is_some_and(|c| c.starts_with(AUFS_META_PREFIX)) && name != OPAQUE_MARKER {
        // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): no filesystem change.
        return Ok(None);
    }
    if dirs.iter().any(|c| c.starts_with(WHITEOUT_PREFIX)) {
        return Err(ReadError::BadWhiteout {
            path: shown,
            why: "a whiteout name is used as a directory",
        });
    }
    let parent = path.parent().unwrap_or_default();
    if let Some(stripped) = name.strip_prefix(WHITEOUT_PREFIX) {
        check_parents(&path, &shown, seen)?;
        if name == OPAQUE_MARKER {
            if seen.get(&parent).is_some_and(|s| *s != Seen::Dir) {
                return Err(ReadError::ParentNotDir {
                    path: shown,
                    parent: parent.as_str().to_string(),
                });
            }
            return Ok(Some(LayerEvent::Opaque(parent)));
        }
        if stripped.is_empty() || stripped == "." || stripped == ".." {
            return Err(ReadError::BadWhiteout {
                path: shown,
                why: "the whiteout does not name a file",
            });
        }
        let target = parent.join(stripped).map_err(|source| ReadError::BadPath {
            path: shown.clone(),
            source,
        })?;
        return Ok(Some(LayerEvent::Whiteout(target)));
    }

    let kind = match raw.typeflag {
        b'0' => EntryKind::File,
        b'5' => EntryKind::Dir,
        b'2' => {
            let t = &raw.link;
            if t.is_empty() {
                return Err(ReadError::BadSymlink {
                    path: shown,
                    why: "the target is empty",
                });
            }
            if t.len() > MAX_PATH_LEN {
                return Err(ReadError::BadSymlink {
                    path: shown,
                    why: "the target is longer than 4096 bytes",
                });
            }
            if t.contains(&0) {
                return Err(ReadError::BadSymlink {
                    path: shown,
                    why: "the target contains a NUL byte",
                });
            }
            let target = String::from_utf8(t.clone()).map_err(|_| ReadError::BadSymlink {
                path: shown.clone(),
                why: "the target is not UTF-8",
            })?;
            EntryKind::Symlink { target }
        }
        b'1' => {
            let target = link_path(&raw.link, &shown, raw.offset)?;
            if target == path {
                return Err(ReadError::HardlinkToSelf { path: shown });
            }
            match seen.get(&target) {
                None => {
                    return Err(ReadError::HardlinkMissingTarget {
                        path: shown,
                        target: lossy(&raw.link),
                    });
                }
                Some(Seen::Dir) => {
                    return Err(ReadError::HardlinkToDir {
                        path: shown,
                        target: lossy(&raw.link),
                    });
                }
                Some(Seen::NonDir(meta) | Seen::Linked(meta)) => {
                    if let Some(what) = InodeMeta::of(raw).differs_from(meta) {
                        return Err(ReadError::Ambiguous {
                            offset: raw.offset,
                            path: Some(shown),
                            why: format!(
                                "the hard link's header gives {what}; containerd keeps the \
                                 target's metadata, Docker and podman apply the link's to the \
                                 shared file, so runtimes would build different files"
                            ),
                        });
                    }
                }
            }
            EntryKind::Hardlink { target }
        }
        b'3' => EntryKind::CharDevice {
            major: raw.devmajor,
            minor: raw.devminor,
        },
        b'4' => EntryKind::BlockDevice {
            major: raw.devmajor,
            minor: raw.devminor,
        },
        b'6' => EntryKind::Fifo,
        other => {
            return Err(ReadError::UnsupportedType {
                path: shown,
                type_flag: char::from(other),
            });
        }
    };
    if path.is_root() && kind != EntryKind::Dir {
        return Err(ReadError::RootNotDir { path: shown });
    }
    if matches!(seen.get(&path), Some(Seen::Linked(_))) {
        // At unpack time the earlier hard link keeps the old inode (and
        // content), while a merged view that follows the link would see
        // the new entry: two different files under one judgement.
        return Err(ReadError::Ambiguous {
            offset: raw.offset,
            path: Some(shown),
            why: "the entry replaces a file that an earlier hard link in this layer points to, \
                  so the link would keep content the merged view no longer shows"
                .into(),
        });
    }
    check_parents(&path, &shown, seen)?;

    // Modes keep the permission, setuid/setgid and sticky bits, which is
    // what Go's `FileInfo().Mode()` (used by every runtime) keeps too.
    let mode = u32::try_from(raw.mode & 0o7777).unwrap_or(0);
    let mut e = Entry::new(path.clone(), kind, mode);
    e.uid = raw.uid;
    e.gid = raw.gid;
    e.uname = lossy(&raw.uname);
    e.gname = lossy(&raw.gname);
    e.mtime = raw.mtime;
    if e.is_file() {
        e.size = raw.size;
    }
    if opts.keep_xattrs {
        e.xattrs
            .extend(raw.xattrs.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let meta = InodeMeta::of(raw);
    if let EntryKind::Hardlink { target } = &e.kind {
        seen.insert(target.clone(), Seen::Linked(meta.clone()));
    }
    let s = if e.is_dir() {
        Seen::Dir
    } else {
        Seen::NonDir(meta)
    };
    seen.insert(path, s);
    Ok(Some(LayerEvent::Entry(e)))
}

/// Rejects a path whose ancestor was a non-directory earlier in this layer.
fn check_parents(
    path: &ImagePath,
    shown: &str,
    seen: &HashMap<ImagePath, Seen>,
) -> Result<(), ReadError> {
    for a in path.ancestors() {
        if seen.get(&a).is_some_and(|s| *s != Seen::Dir) {
            return Err(ReadError::ParentNotDir {
                path: shown.to_string(),
                parent: a.as_str().to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A tar builder over a Vec with helpers for the entries tests need.
    pub(crate) struct T(pub tar::Builder<Vec<u8>>);

    impl T {
        pub fn new() -> Self {
            T(tar::Builder::new(Vec::new()))
        }
        fn header(ty: tar::EntryType, mode: u32, size: u64) -> tar::Header {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(ty);
            h.set_mode(mode);
            h.set_size(size);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(1_700_000_000);
            h
        }
        pub fn file(mut self, path: &str, data: &[u8]) -> Self {
            let mut h = Self::header(tar::EntryType::Regular, 0o644, data.len() as u64);
            self.0.append_data(&mut h, path, data).unwrap();
            self
        }
        pub fn file_mode(mut self, path: &str, mode: u32, data: &[u8]) -> Self {
            let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
            self.0.append_data(&mut h, path, data).unwrap();
            self
        }
        pub fn dir(mut self, path: &str) -> Self {
            let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
            self.0.append_data(&mut h, path, io::empty()).unwrap();
            self
        }
        pub fn symlink(mut self, path: &str, target: &str) -> Self {
            let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
            self.0.append_link(&mut h, path, target).unwrap();
            self
        }
        pub fn hardlink(self, path: &str, target: &str) -> Self {
            self.hardlink_owned(path, target, 0o644, 0)
        }
        pub fn hardlink_owned(mut self, path: &str, target: &str, mode: u32, uid: u64) -> Self {
            let mut h = Self::header(tar::EntryType::Link, mode, 0);
            h.set_uid(uid);
            self.0.append_link(&mut h, path, target).unwrap();
            self
        }
        /// An entry whose name and link name are written as raw bytes, so
        /// they can hold what `set_path` refuses (like `..`).
        pub fn raw(mut self, ty: tar::EntryType, name: &[u8], link: &[u8], data: &[u8]) -> Self {
            let mut h = Self::header(ty, 0o644, data.len() as u64);
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
            h.set_cksum();
            self.0.append(&h, data).unwrap();
            self
        }
        pub fn pax(mut self, recs: &[(&str, &[u8])]) -> Self {
            self.0.append_pax_extensions(recs.iter().copied()).unwrap();
            self
        }
        pub fn finish(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    pub(crate) fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    type Events = Vec<(LayerEvent, Vec<u8>)>;

    fn read_with(blob: &[u8], opts: &ReadOptions) -> Result<(Events, LayerStats), ReadError> {
        let mut out = Vec::new();
        let stats = read_layer(blob, opts, |ev, r| {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf)?;
            out.push((ev, buf));
            Ok(())
        })?;
        Ok((out, stats))
    }

    fn read(blob: &[u8]) -> Result<(Events, LayerStats), ReadError> {
        read_with(blob, &ReadOptions::default())
    }

    fn p(s: &str) -> ImagePath {
        ImagePath::parse(s).unwrap()
    }

    fn entry(ev: &LayerEvent) -> &Entry {
        match ev {
            LayerEvent::Entry(e) => e,
            other => panic!("expected an entry, got {other:?}"),
        }
    }

    #[test]
    fn reads_kinds_metadata_and_content() {
        let mut b = T::new()
            .dir("./")
            .dir("bin/")
            .file_mode("bin/busybox", 0o104755, b"ELF...")
            .symlink("bin/sh", "/bin/busybox")
            .hardlink_owned("bin/ash", "bin/busybox", 0o4755, 0);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Char);
        h.set_mode(0o666);
        h.set_size(0);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        b.0.append_data(&mut h, "dev/null", io::empty()).unwrap();
        let tar = b.finish();
        let (evs, stats) = read(&tar).unwrap();
        assert_eq!(stats.entries, 6);
        assert_eq!(stats.bytes, tar.len() as u64);
        assert_eq!(stats.diff_id, Digest::of(&tar));
        assert_eq!(entry(&evs[0].0).path, ImagePath::root());
        assert!(entry(&evs[0].0).is_dir());
        let bb = entry(&evs[2].0);
        assert_eq!(bb.path.as_str(), "bin/busybox");
        assert_eq!(bb.mode, 0o4755, "mode must be masked to 0o7777");
        assert!(bb.is_setuid_or_setgid());
        assert_eq!(bb.size, 6);
        assert_eq!(bb.mtime, 1_700_000_000);
        assert_eq!(evs[2].1, b"ELF...");
        assert_eq!(
            entry(&evs[3].0).kind,
            EntryKind::Symlink {
                target: "/bin/busybox".into()
            }
        );
        assert_eq!(
            entry(&evs[4].0).kind,
            EntryKind::Hardlink {
                target: p("bin/busybox")
            }
        );
        assert_eq!(
            entry(&evs[5].0).kind,
            EntryKind::CharDevice { major: 1, minor: 3 }
        );
        assert!(evs[5].1.is_empty());
    }

    #[test]
    fn gzip_and_multi_member_gzip_give_the_plain_diff_id() {
        let tar = T::new()
            .file("a", b"hello")
            .file("b", &[7u8; 3000])
            .finish();
        let (_, plain) = read(&tar).unwrap();
        let (evs, single) = read(&gz(&tar)).unwrap();
        assert_eq!(single, plain);
        assert_eq!(evs[1].1, vec![7u8; 3000]);
        let (a, b) = tar.split_at(700);
        let mut multi = gz(a);
        multi.extend(gz(b));
        let (evs, multi) = read(&multi).unwrap();
        assert_eq!(multi, plain);
        assert_eq!(evs.len(), 2);
    }

    #[test]
    fn undrained_content_is_skipped_and_hashed() {
        let tar = T::new()
            .file("big", &[1u8; 100_000])
            .file("small", b"x")
            .finish();
        let mut names = Vec::new();
        let stats = read_layer(&gz(&tar)[..], &ReadOptions::default(), |ev, r| {
            // Read only a little of each file.
            let mut two = [0u8; 2];
            let _ = r.read(&mut two)?;
            names.push(entry(&ev).path.as_str().to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(names, ["big", "small"]);
        assert_eq!(stats.diff_id, Digest::of(&tar));
    }

    #[test]
    fn trailing_garbage_after_end_of_archive_is_hashed() {
        let mut tar = T::new().file("a", b"1").finish();
        tar.extend_from_slice(b"garbage after the end blocks");
        let (evs, stats) = read(&tar).unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(stats.diff_id, Digest::of(&tar));
        assert_eq!(stats.bytes, tar.len() as u64);
    }

    #[test]
    fn whiteouts_opaque_and_aufs_metadata() {
        let tar = T::new()
            .dir("etc/")
            .file("etc/.wh.shadow", b"")
            .file("var/cache/.wh..wh..opq", b"")
            .dir(".wh..wh.plnk/")
            .file(".wh..wh.aufs", b"")
            .file(".wh..wh..opq", b"")
            .finish();
        let (evs, stats) = read(&tar).unwrap();
        let evs: Vec<_> = evs.into_iter().map(|(e, _)| e).collect();
        assert_eq!(stats.entries, 6);
        assert_eq!(evs.len(), 4);
        assert_eq!(evs[1], LayerEvent::Whiteout(p("etc/shadow")));
        assert_eq!(evs[2], LayerEvent::Opaque(p("var/cache")));
        assert_eq!(evs[3], LayerEvent::Opaque(ImagePath::root()));
        // Content below an aufs metadata directory is extracted by
        // containerd and skipped by Docker: refused.
        let tar = T::new().file(".wh..wh.plnk/123.456", b"x").finish();
        assert!(matches!(read(&tar), Err(ReadError::Ambiguous { .. })));
    }

    #[test]
    fn bad_whiteouts_are_rejected() {
        let tar = T::new().file("a/.wh.", b"").finish();
        assert!(matches!(read(&tar), Err(ReadError::BadWhiteout { .. })));
        let tar = T::new().file(".wh.a/b", b"").finish();
        assert!(matches!(read(&tar), Err(ReadError::BadWhiteout { .. })));
    }

    #[test]
    fn long_names_and_long_link_targets() {
        let long = format!("usr/{}/{}", "d".repeat(120), "f".repeat(130));
        let target = format!("/opt/{}", "t".repeat(200));
        let tar = T::new()
            .file(&long, b"data")
            .symlink("link", &target)
            .hardlink("hl", &long)
            .finish();
        let (evs, _) = read(&gz(&tar)).unwrap();
        assert_eq!(entry(&evs[0].0).path.as_str(), long);
        assert_eq!(evs[0].1, b"data");
        assert_eq!(entry(&evs[1].0).kind, EntryKind::Symlink { target });
        assert_eq!(
            entry(&evs[2].0).kind,
            EntryKind::Hardlink { target: p(&long) }
        );
    }

    #[test]
    fn pax_path_owner_names_and_xattrs() {
        let long = format!("opt/{}", "p".repeat(300));
        let tar = T::new()
            .pax(&[
                ("path", long.as_bytes()),
                ("uname", b"builder".as_slice()),
                ("mtime", b"1234.5".as_slice()),
                (
                    "SCHILY.xattr.security.capability",
                    b"\x01\x00\x00\x02".as_slice(),
                ),
            ])
            .file("short", b"z")
            .finish();
        let (evs, _) = read(&tar).unwrap();
        let e = entry(&evs[0].0);
        assert_eq!(e.path.as_str(), long);
        assert_eq!(e.uname, "builder");
        assert_eq!(e.mtime, 1234);
        assert!(e.xattrs.is_empty(), "xattrs are dropped unless asked for");
        let opts = ReadOptions {
            keep_xattrs: true,
            ..ReadOptions::default()
        };
        let (evs, _) = read_with(&tar, &opts).unwrap();
        assert_eq!(
            entry(&evs[0].0)
                .xattrs
                .get("security.capability")
                .map(Vec::as_slice),
            Some(b"\x01\x00\x00\x02".as_slice())
        );
    }

    #[test]
    fn dot_dot_paths_are_rejected() {
        for bad in [&b"../etc/passwd"[..], b"/abs/../../x", b"a/.."] {
            let tar = T::new()
                .raw(tar::EntryType::Regular, bad, b"", b"x")
                .finish();
            match read(&tar) {
                Err(ReadError::PathTraversal { path }) => {
                    assert_eq!(path.as_bytes(), bad);
                }
                other => panic!("{:?}: expected PathTraversal, got {other:?}", lossy(bad)),
            }
        }
    }

    #[test]
    fn hardlink_checks() {
        let tar = T::new()
            .file("etc/passwd", b"root")
            .raw(tar::EntryType::Link, b"x", b"../../etc/shadow", b"")
            .finish();
        assert!(matches!(
            read(&tar),
            Err(ReadError::HardlinkTraversal { ref path, ref target })
                if path == "x" && target == "../../etc/shadow"
        ));
        let tar = T::new().hardlink("a", "missing").finish();
        assert!(matches!(
            read(&tar),
            Err(ReadError::HardlinkMissingTarget { .. })
        ));
        // The target must come first, not later.
        let tar = T::new().hardlink("a", "b").file("b", b"").finish();
        assert!(matches!(
            read(&tar),
            Err(ReadError::HardlinkMissingTarget { .. })
        ));
        // Replacing a hard link's target later in the same layer: the link
        // keeps the old content at unpack time.
        let tar = T::new()
            .file("a", b"sh")
            .hardlink("b", "a")
            .file("a", b"ok")
            .finish();
        assert!(matches!(read(&tar), Err(ReadError::Ambiguous { .. })));
        let tar = T::new().file("a", b"").hardlink("a", "a").finish();
        assert!(matches!(read(&tar), Err(ReadError::HardlinkToSelf { .. })));
        // A link header whose mode, owner or xattrs differ from its target's:
        // podman applies the link's header to the shared inode, containerd
        // does not (a setuid bit only one runtime would set).
        for (mode, uid, what) in [(0o4755, 0, "mode 4755"), (0o644, 7, "owner 7:0")] {
            let tar = T::new()
                .file("a", b"x")
                .hardlink_owned("b", "a", mode, uid)
                .finish();
            match read(&tar) {
                Err(ReadError::Ambiguous { why, .. }) => assert!(why.contains(what), "{why}"),
                other => panic!("expected Ambiguous for {what}, got {other:?}"),
            }
        }
        let tar = T::new()
            .file("a", b"x")
            .pax(&[("SCHILY.xattr.user.k", b"v".as_slice())])
            .hardlink("b", "a")
            .finish();
        assert!(
            matches!(read(&tar), Err(ReadError::Ambiguous { ref why, .. }) if why.contains("extended attributes"))
        );
        // A link to a link is judged against the link (which equals the file).
        let tar = T::new()
            .file("a", b"x")
            .hardlink("b", "a")
            .hardlink("c", "b")
            .finish();
        assert!(read(&tar).is_ok());
        let tar = T::new().dir("d/").hardlink("a", "d").finish();
        assert!(matches!(read(&tar), Err(ReadError::HardlinkToDir { .. })));
        // Absolute hard link targets are normalized from the root.
        let tar = T::new().file("a", b"").hardlink("b", "/a").finish();
        let (evs, _) = read(&tar).unwrap();
        assert_eq!(
            entry(&evs[1].0).kind,
            EntryKind::Hardlink { target: p("a") }
        );
    }

    #[test]
    fn symlinks_may_point_anywhere_but_must_be_sane() {
        let tar = T::new()
            .symlink("a", "../../../../etc/shadow")
            .symlink("b", "/etc/shadow")
            .finish();
        let (evs, _) = read(&tar).unwrap();
        assert_eq!(evs.len(), 2);
        let tar = T::new()
            .raw(tar::EntryType::Symlink, b"empty", b"", b"")
            .finish();
        assert!(matches!(read(&tar), Err(ReadError::BadSymlink { .. })));
        let tar = T::new()
            .pax(&[("linkpath", b"a\0b".as_slice())])
            .symlink("nul", "x")
            .finish();
        assert!(matches!(
            read(&tar),
            Err(ReadError::BadSymlink { why, .. }) if why.contains("NUL")
        ));
    }

    #[test]
    fn parent_must_be_a_directory_in_the_same_layer() {
        let tar = T::new().file("a", b"").file("a/b/c", b"").finish();
        assert!(matches!(
            read(&tar),
            Err(ReadError::ParentNotDir { ref parent, .. }) if parent == "a"
        ));
        let tar = T::new()
            .symlink("lib", "usr/lib")
            .file("lib/x", b"")
            .finish();
        assert!(matches!(read(&tar), Err(ReadError::ParentNotDir { .. })));
        let tar = T::new().file("a", b"").file("a/.wh.b", b"").finish();
        assert!(matches!(read(&tar), Err(ReadError::ParentNotDir { .. })));
        // A file later replaced by a directory in the same layer is fine.
        let tar = T::new().file("a", b"").dir("a/").file("a/b", b"").finish();
        assert!(read(&tar).is_ok());
    }

    #[test]
    fn disallowed_entry_types_are_rejected() {
        for ty in [b'V', b'M', b'N', b'D', b'A', b'I', b'X'] {
            let tar = T::new()
                .raw(tar::EntryType::new(ty), b"thing", b"", b"")
                .finish();
            match read(&tar) {
                Err(ReadError::UnsupportedType { type_flag, .. }) => {
                    assert_eq!(type_flag, char::from(ty));
                }
                other => panic!("type {}: {other:?}", char::from(ty)),
            }
        }
        let tar = T::new()
            .raw(tar::EntryType::Symlink, b".", b"x", b"")
            .finish();
        assert!(matches!(read(&tar), Err(ReadError::RootNotDir { .. })));
        // "./" names a directory by its slash: a symlink there contradicts it.
        let tar = T::new()
            .raw(tar::EntryType::Symlink, b"./", b"x", b"")
            .finish();
        assert!(matches!(read(&tar), Err(ReadError::Ambiguous { .. })));
    }

    #[test]
    fn corrupt_checksum_is_corrupt() {
        let mut tar = T::new().file("a", b"x").file("b", b"y").finish();
        tar[1024 + 100] ^= 0x01; // mode field of the second header
        match read(&tar) {
            Err(ReadError::Corrupt { offset, detail, .. }) => {
                assert!(offset.is_some());
                assert!(detail.contains("checksum"), "{detail}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn truncated_streams_are_truncated() {
        let tar = T::new().file("a", &[5u8; 5000]).file("b", b"y").finish();
        // Plain tar cut inside the content of the first file.
        assert!(matches!(
            read(&tar[..2000]),
            Err(ReadError::Truncated { .. })
        ));
        // Plain tar cut inside a header.
        assert!(matches!(
            read(&tar[..512 * 12 + 100]),
            Err(ReadError::Truncated { .. })
        ));
        // Gzip cut in the middle.
        let z = gz(&tar);
        let cut = &z[..z.len() / 2];
        match read(cut) {
            Err(ReadError::Truncated { .. }) => {}
            other => panic!("expected Truncated, got {other:?}"),
        }
        // Gzip missing only its trailer (CRC + size).
        let cut = &z[..z.len() - 4];
        assert!(
            matches!(read(cut), Err(ReadError::Truncated { .. })),
            "{:?}",
            read(cut)
        );
    }

    #[test]
    fn visitor_errors_from_a_broken_stream_name_the_entry() {
        let tar = T::new().file("a", &[5u8; 50_000]).finish();
        let z = gz(&tar);
        let res = read_layer(&z[..z.len() / 3], &ReadOptions::default(), |_, r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v)?;
            Ok(())
        });
        match res {
            Err(ReadError::Truncated { path, .. }) => assert_eq!(path.as_deref(), Some("a")),
            other => panic!("expected Truncated, got {other:?}"),
        }
    }

    #[test]
    fn limits() {
        let tar = T::new()
            .file("a", b"")
            .file("b", b"")
            .file("c", b"")
            .finish();
        let opts = ReadOptions {
            max_entries: 2,
            ..ReadOptions::default()
        };
        assert!(matches!(
            read_with(&tar, &opts),
            Err(ReadError::TooManyEntries { limit: 2 })
        ));
        let huge = vec![b'a'; 64 * 1024];
        let tar = T::new()
            .pax(&[("comment", huge.as_slice())])
            .file("a", b"")
            .finish();
        let opts = ReadOptions {
            max_header_bytes: 8 * 1024,
            ..ReadOptions::default()
        };
        assert!(matches!(
            read_with(&gz(&tar), &opts),
            Err(ReadError::HeaderTooLarge { .. })
        ));
        assert!(read(&tar).is_ok(), "64 KiB of PAX is fine by default");
        let tar = T::new().file("a", &[0u8; 10_000]).finish();
        let opts = ReadOptions {
            max_layer_bytes: 4096,
            ..ReadOptions::default()
        };
        assert!(matches!(
            read_with(&tar, &opts),
            Err(ReadError::LayerTooLarge { .. })
        ));
        let opts = ReadOptions {
            max_layer_bytes: tar.len() as u64,
            ..ReadOptions::default()
        };
        assert!(
            read_with(&tar, &opts).is_ok(),
            "exactly at the limit is fine"
        );
    }

    fn zst(data: &[u8]) -> Vec<u8> {
        let mut e = crate::layer::zst::ZstdEncoder::new(Vec::new(), 3, 2).unwrap();
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn zstd_layers_read_like_gzip_layers_and_empty_input_is_handled() {
        let tar = T::new()
            .dir("etc")
            .file("etc/passwd", b"root:x:0:0::/root:/sbin/nologin\n")
            .file("etc/.wh.gone", b"")
            .finish();
        let (gz_events, gz_stats) = read(&gz(&tar)).unwrap();
        let (z_events, z_stats) = read(&zst(&tar)).unwrap();
        assert_eq!(z_events, gz_events);
        assert_eq!(z_stats, gz_stats);
        assert_eq!(z_stats.diff_id, Digest::of(&tar));
        // An empty stream is an empty archive (no end blocks).
        let (evs, stats) = read(b"").unwrap();
        assert!(evs.is_empty());
        assert_eq!(stats.diff_id, Digest::of(b""));
    }

    #[test]
    fn hostile_zstd_streams() {
        let tar = T::new().file("a", &[5u8; 50_000]).finish();
        let z = zst(&tar);
        // Cut short: truncated, naming the entry it was in.
        match read(&z[..z.len() / 2]) {
            Err(ReadError::Truncated { .. }) => {}
            other => panic!("expected Truncated, got {other:?}"),
        }
        // A frame that asks for a 2 GiB window is refused up front, with the
        // decoder's explanation rather than the tar crate's wrapper text.
        let mut huge = vec![
            0x28,
            0xb5,
            0x2f,
            0xfd,
            0x00,
            (31 - 10) << 3,
            0x09,
            0,
            0,
            b'x',
        ];
        match read(&huge) {
            Err(e @ ReadError::Corrupt { .. }) => {
                assert!(e.to_string().contains("window larger than 128 MiB"), "{e}")
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        // Garbage in place of the frame body.
        huge.truncate(6);
        huge.extend_from_slice(&[0xff; 64]);
        assert!(matches!(read(&huge), Err(ReadError::Corrupt { .. })));
        // A bomb: 512 MiB of zeros in a few KiB of zstd is cut off at the
        // layer limit while streaming, never inflated into memory.
        let mut enc = crate::layer::zst::ZstdEncoder::new(Vec::new(), 3, 2).unwrap();
        let mut t = tar::Builder::new(&mut enc);
        let mut h = tar::Header::new_ustar();
        h.set_path("bomb").unwrap();
        h.set_size(512 << 20);
        h.set_mode(0o644);
        h.set_cksum();
        t.append(&h, io::repeat(0).take(512 << 20)).unwrap();
        t.finish().unwrap();
        drop(t);
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
        let opts = ReadOptions {
            max_layer_bytes: 64 << 20,
            ..ReadOptions::default()
        };
        assert!(matches!(
            read_with(&bomb, &opts),
            Err(ReadError::LayerTooLarge { limit }) if limit == 64 << 20
        ));
    }

    #[test]
    fn old_style_directory_with_trailing_slash() {
        // The legacy typeflag NUL with a trailing slash is a directory to
        // every reader (Go included).
        let mut tar = T::new()
            .raw(tar::EntryType::Regular, b"olddir/", b"", b"")
            .finish();
        tar[156] = 0;
        let h = tar::Header::from_byte_slice(&tar[..512]).clone();
        let mut h = h;
        h.set_cksum();
        tar[..512].copy_from_slice(h.as_bytes());
        let (evs, _) = read(&tar).unwrap();
        assert!(entry(&evs[0].0).is_dir());
        // Typeflag '0' with a trailing slash: a file to Go, a directory to
        // tar-rs. Refused.
        let tar = T::new()
            .raw(tar::EntryType::Regular, b"olddir/", b"", b"")
            .finish();
        match read(&tar) {
            Err(ReadError::Ambiguous { path, why, .. }) => {
                assert_eq!(path.as_deref(), Some("olddir/"));
                assert!(why.contains("typeflag '0'"), "{why}");
            }
            other => panic!("expected Ambiguous, got {other:?}"),
        }
    }

    /// The path of the Alpine minirootfs fixture, or `None` (with the reason
    /// printed) when absent; absent fixtures fail the test when `CI=true`.
    pub(crate) fn alpine_fixture() -> Option<std::path::PathBuf> {
        let dir = std::env::var("IRONHULL_FIXTURES")
            .unwrap_or_else(|_| format!("{}/../shared/fixtures", env!("CARGO_MANIFEST_DIR")));
        let path = std::path::Path::new(&dir).join("alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz");
        if path.is_file() {
            return Some(path);
        }
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("fixture {} missing and CI=true", path.display());
        }
        eprintln!("skipping: fixture {} not found", path.display());
        None
    }

    /// The real Alpine minirootfs, when the fixtures are present.
    #[test]
    fn alpine_minirootfs() {
        let Some(path) = alpine_fixture() else { return };
        let f = std::fs::File::open(&path).unwrap();
        let mut found = std::collections::BTreeMap::new();
        let mut installed = 0usize;
        let stats = read_layer(io::BufReader::new(f), &ReadOptions::default(), |ev, r| {
            if let LayerEvent::Entry(e) = ev {
                if e.path.as_str() == "lib/apk/db/installed" {
                    let mut s = String::new();
                    r.read_to_string(&mut s)?;
                    installed = s.matches("\nP:").count() + usize::from(s.starts_with("P:"));
                }
                found.insert(e.path.as_str().to_string(), e.kind);
            }
            Ok(())
        })
        .unwrap();
        assert!(stats.entries > 50, "{}", stats.entries);
        assert_eq!(found.get("bin/busybox"), Some(&EntryKind::File));
        assert!(matches!(
            found.get("bin/sh"),
            Some(EntryKind::Symlink { .. })
        ));
        assert_eq!(found.get("etc/passwd"), Some(&EntryKind::File));
        assert!(found.contains_key("lib/apk/db/installed"));
        assert!(installed > 5, "{installed} packages");
        // The diffID must equal the sha256 of the decompressed stream.
        let f = std::fs::File::open(&path).unwrap();
        let (d, n) =
            crate::digest::digest_reader(MultiGzDecoder::new(io::BufReader::new(f))).unwrap();
        assert_eq!(stats.diff_id, d);
        assert_eq!(stats.bytes, n);
    }
}
