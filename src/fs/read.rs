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

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, Read};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;

use super::entry::{Entry, EntryKind, ImagePath, LayerEvent, PathError};
use super::merge::MergeError;
use crate::digest::{Digest, HashingReader};

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
        "layer is zstd-compressed, which ironhull cannot read yet; \
         use a base image whose layers are gzip-compressed or uncompressed"
    )]
    ZstdUnsupported,
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
    #[error(
        "hard link {path:?} points to itself; rebuild the layer without the self-link"
    )]
    HardlinkToSelf { path: String },
    #[error(
        "hard link {path:?} points to directory {target:?}; hard links to directories \
         are not allowed, rebuild the layer with a symlink instead"
    )]
    HardlinkToDir { path: String, target: String },
    #[error(
        "symlink {path:?} has an unusable target: {why}; rebuild the layer with a \
         non-empty UTF-8 target shorter than 4096 bytes"
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
                    g.decode_error.set(Some(e.kind()));
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
                    g.decode_error.set(Some(e.kind()));
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
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    Dir,
    NonDir,
}

fn lossy(b: &[u8]) -> String {
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

/// Reads one layer blob (gzip, or uncompressed tar; detected by magic bytes)
/// and calls `visit` for every entry, whiteout and opaque marker, in tar order.
///
/// For regular files the visitor gets the content stream and may read any part
/// of it; the rest is drained afterwards. Other kinds get an empty reader.
/// Returns the entry count, the uncompressed length and the diffID, which
/// covers the whole uncompressed stream including trailing zero blocks.
pub fn read_layer<R: Read>(
    blob: R,
    opts: &ReadOptions,
    mut visit: impl FnMut(LayerEvent, &mut dyn Read) -> Result<(), ReadError>,
) -> Result<LayerStats, ReadError> {
    let (magic, n, blob) = sniff(blob).map_err(ReadError::Io)?;
    let head = io::Cursor::new(magic).take(n as u64);
    let stream = head.chain(blob);
    let decompressed: Box<dyn Read + '_> = if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        Box::new(MultiGzDecoder::new(stream))
    } else if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
        return Err(ReadError::ZstdUnsupported);
    } else {
        Box::new(stream)
    };

    let guard = Rc::new(Guard::default());
    guard.layer_limit.set(opts.max_layer_bytes);
    let hashing = HashingReader::new(GuardReader {
        inner: decompressed,
        guard: Rc::clone(&guard),
    });
    let mut archive = tar::Archive::new(hashing);
    archive.set_ignore_zeros(false);

    let serr = |e: io::Error, path: Option<String>| -> ReadError {
        stream_error(&guard, opts, e, path)
    };

    let mut count = 0u64;
    {
        let mut entries = archive.entries().map_err(|e| serr(e, None))?;
        let mut seen: HashMap<ImagePath, Seen> = HashMap::new();
        loop {
            // Everything the tar crate reads while finding the next entry is
            // padding, headers and extension records: cap it.
            guard
                .header_budget
                .set(Some(opts.max_header_bytes.saturating_add(1024)));
            let next = entries.next();
            guard.header_budget.set(None);
            let mut entry = match next {
                None => break,
                Some(Ok(e)) => e,
                Some(Err(e)) => return Err(serr(e, None)),
            };
            count += 1;
            if count > opts.max_entries {
                return Err(ReadError::TooManyEntries {
                    limit: opts.max_entries,
                });
            }
            let raw_path = entry.path_bytes().into_owned();
            let shown = lossy(&raw_path);
            let event = classify(&mut entry, &raw_path, opts, &mut seen)
                .map_err(|e| match e {
                    Classify::Read(r) => r,
                    Classify::Io(io) => serr(io, Some(shown.clone())),
                })?;
            let expected = entry.size();
            let mut content = ContentReader {
                inner: &mut entry,
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
            io::copy(&mut content, &mut io::sink())
                .map_err(|e| serr(e, Some(shown.clone())))?;
            if content.read < expected {
                return Err(ReadError::Truncated {
                    offset: Some(guard.pos.get()),
                    path: Some(shown),
                });
            }
        }
    }
    let mut hashing = archive.into_inner();
    // Trailing zero blocks (and anything after them) are part of the diffID.
    io::copy(&mut hashing, &mut io::sink()).map_err(|e| serr(e, None))?;
    let (diff_id, bytes) = hashing.finish();
    Ok(LayerStats {
        entries: count,
        bytes,
        diff_id,
    })
}

fn stream_error(guard: &Guard, opts: &ReadOptions, e: io::Error, path: Option<String>) -> ReadError {
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
    ReadError::Corrupt {
        offset,
        path,
        detail: e.to_string(),
    }
}

enum Classify {
    Read(ReadError),
    Io(io::Error),
}

impl From<ReadError> for Classify {
    fn from(e: ReadError) -> Self {
        Classify::Read(e)
    }
}

impl From<io::Error> for Classify {
    fn from(e: io::Error) -> Self {
        Classify::Io(e)
    }
}

fn parse_path(raw: &[u8]) -> Result<ImagePath, ReadError> {
    ImagePath::from_bytes(raw).map_err(|source| match source {
        PathError::DotDot(_) => ReadError::PathTraversal { path: lossy(raw) },
        source => ReadError::BadPath {
            path: lossy(raw),
            source,
        },
    })
}

/// Turns one tar entry into an event (or `None` for entries that carry no
/// filesystem change), running the hostile-input checks.
fn classify<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    raw_path: &[u8],
    opts: &ReadOptions,
    seen: &mut HashMap<ImagePath, Seen>,
) -> Result<Option<LayerEvent>, Classify> {
    let shown = lossy(raw_path);
    let ty = entry.header().entry_type();
    // Global PAX headers carry no filesystem object.
    if ty.is_pax_global_extensions() {
        return Ok(None);
    }
    let path = parse_path(raw_path)?;

    // Whiteouts and aufs metadata, judged by name before anything else.
    let name = path.file_name().to_string();
    let comps: Vec<&str> = path.components().collect();
    if comps.iter().any(|c| c.starts_with(AUFS_META_PREFIX)) && name != OPAQUE_MARKER {
        // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs and their contents).
        return Ok(None);
    }
    if comps
        .iter()
        .take(comps.len().saturating_sub(1))
        .any(|c| c.starts_with(WHITEOUT_PREFIX))
    {
        return Err(ReadError::BadWhiteout {
            path: shown,
            why: "a whiteout name is used as a directory",
        }
        .into());
    }
    let parent = path.parent().unwrap_or_default();
    if let Some(stripped) = name.strip_prefix(WHITEOUT_PREFIX) {
        check_parents(&path, &shown, seen)?;
        if name == OPAQUE_MARKER {
            if seen.get(&parent) == Some(&Seen::NonDir) {
                return Err(ReadError::ParentNotDir {
                    path: shown,
                    parent: parent.as_str().to_string(),
                }
                .into());
            }
            return Ok(Some(LayerEvent::Opaque(parent)));
        }
        if stripped.is_empty() || stripped == "." || stripped == ".." {
            return Err(ReadError::BadWhiteout {
                path: shown,
                why: "the whiteout does not name a file",
            }
            .into());
        }
        let target = parent.join(stripped).map_err(|source| ReadError::BadPath {
            path: shown.clone(),
            source,
        })?;
        return Ok(Some(LayerEvent::Whiteout(target)));
    }

    let header = entry.header();
    let kind = match ty {
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
            // Old (v7) archives mark directories with a trailing slash only.
            if ty == tar::EntryType::Regular && raw_path.ends_with(b"/") {
                EntryKind::Dir
            } else {
                EntryKind::File
            }
        }
        tar::EntryType::Directory => EntryKind::Dir,
        tar::EntryType::Symlink => {
            let t = entry.link_name_bytes().unwrap_or_default();
            if t.is_empty() {
                return Err(ReadError::BadSymlink {
                    path: shown,
                    why: "the target is empty",
                }
                .into());
            }
            if t.len() > MAX_PATH_LEN {
                return Err(ReadError::BadSymlink {
                    path: shown,
                    why: "the target is longer than 4096 bytes",
                }
                .into());
            }
            let target = String::from_utf8(t.into_owned()).map_err(|_| ReadError::BadSymlink {
                path: shown.clone(),
                why: "the target is not UTF-8",
            })?;
            EntryKind::Symlink { target }
        }
        tar::EntryType::Link => {
            let t = entry.link_name_bytes().unwrap_or_default().into_owned();
            let target = ImagePath::from_bytes(&t).map_err(|e| match e {
                PathError::DotDot(_) => ReadError::HardlinkTraversal {
                    path: shown.clone(),
                    target: lossy(&t),
                },
                source => ReadError::BadPath {
                    path: lossy(&t),
                    source,
                },
            })?;
            if target == path {
                return Err(ReadError::HardlinkToSelf { path: shown }.into());
            }
            match seen.get(&target) {
                None => {
                    return Err(ReadError::HardlinkMissingTarget {
                        path: shown,
                        target: lossy(&t),
                    }
                    .into());
                }
                Some(Seen::Dir) => {
                    return Err(ReadError::HardlinkToDir {
                        path: shown,
                        target: lossy(&t),
                    }
                    .into());
                }
                Some(Seen::NonDir) => {}
            }
            EntryKind::Hardlink { target }
        }
        tar::EntryType::Char | tar::EntryType::Block => {
            let major = header.device_major()?.unwrap_or(0);
            let minor = header.device_minor()?.unwrap_or(0);
            if ty == tar::EntryType::Char {
                EntryKind::CharDevice { major, minor }
            } else {
                EntryKind::BlockDevice { major, minor }
            }
        }
        tar::EntryType::Fifo => EntryKind::Fifo,
        other => {
            return Err(ReadError::UnsupportedType {
                path: shown,
                type_flag: char::from(other.as_byte()),
            }
            .into());
        }
    };
    if path.is_root() && kind != EntryKind::Dir {
        return Err(ReadError::RootNotDir { path: shown }.into());
    }
    check_parents(&path, &shown, seen)?;

    let mut e = Entry::new(path.clone(), kind, header.mode()? & 0o7777);
    e.uid = header.uid()?;
    e.gid = header.gid()?;
    e.uname = header.username_bytes().map(lossy).unwrap_or_default();
    e.gname = header.groupname_bytes().map(lossy).unwrap_or_default();
    e.mtime = header.mtime()?;
    if e.is_file() {
        e.size = entry.size();
    }
    if let Some(pax) = entry.pax_extensions()? {
        for rec in pax {
            let rec = rec?;
            let Ok(key) = rec.key() else { continue };
            match key {
                "uname" => e.uname = lossy(rec.value_bytes()),
                "gname" => e.gname = lossy(rec.value_bytes()),
                "mtime" => {
                    // Decimal seconds, possibly fractional or negative.
                    let v = rec.value().unwrap_or("");
                    let secs = v.split('.').next().unwrap_or("");
                    e.mtime = secs.parse::<u64>().unwrap_or(0);
                }
                k if opts.keep_xattrs => {
                    if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
                        e.xattrs.insert(name.to_string(), rec.value_bytes().to_vec());
                    }
                }
                _ => {}
            }
        }
    }
    let s = if e.is_dir() { Seen::Dir } else { Seen::NonDir };
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
        if seen.get(&a) == Some(&Seen::NonDir) {
            return Err(ReadError::ParentNotDir {
                path: shown.to_string(),
                parent: a.as_str().to_string(),
            });
        }
    }
    Ok(())
}
