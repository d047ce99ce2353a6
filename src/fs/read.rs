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
//!
//! This file holds the stream half (decompression, limits, hashing, the
//! visitor loop); the per-entry checks are in `entry_checks.rs` and the
//! error type in `read_error.rs`.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};
use std::rc::Rc;

use super::ahead::with_read_ahead;
use flate2::read::MultiGzDecoder;

use super::entry::LayerEvent;
use super::entry_checks::{LayerSeen, classify};
use super::tar_strict::{StrictTar, TarError, lossy};
use crate::digest::{Digest, HashingReader};
use crate::layer::zst::{ZSTD_MAGIC, ZstdDecoder};

pub use super::entry_checks::MAX_PATH_LEN;
pub use super::read_error::ReadError;

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
    /// Read an apk package's tar (only `packages::apk` sets this): accept
    /// abuild's `APK-TOOLS.checksum.SHA1` PAX record into
    /// `Entry::apk_sha1`, and refuse what apk reads differently from Go.
    /// Image layers never set it, so a layer carrying that key is refused.
    pub apk_checksums: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            max_entries: 1_000_000,
            max_header_bytes: 1024 * 1024,
            max_layer_bytes: 256 * 1024 * 1024 * 1024,
            keep_xattrs: false,
            apk_checksums: false,
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
    let mut tar = StrictTar::new(hashing, opts.max_header_bytes).apk(opts.apk_checksums);

    let serr =
        |e: io::Error, path: Option<String>| -> ReadError { stream_error(&guard, opts, e, path) };

    let mut count = 0u64;
    let mut seen = LayerSeen::default();
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
        let event = classify(&raw, opts.keep_xattrs, &mut seen)?;
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

#[cfg(test)]
#[path = "read_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "read_apk_tests.rs"]
mod apk_tests;
