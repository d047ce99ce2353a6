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
//!   compressor is the exact flate2/zlib-rs version pinned in Cargo.toml;
//! - zstd runs libzstd's multithreaded compressor, whose output does not
//!   depend on the worker count, against the libzstd pinned in Cargo.toml
//!   (see [`zst`]).
//!
//! Files: `writer.rs` (the pipeline), `compress.rs` (the compression stage),
//! [`header`] (tar headers), `error.rs` (what can go wrong); this file holds
//! the parameters and the ordering and normalization rules.

mod compress;
mod error;
pub mod header;
pub mod pgzip;
pub mod time;
mod writer;
pub mod zst;

pub use compress::Compression;
pub use error::LayerError;
pub(crate) use error::kind_name;
pub use header::{EntryHeaders, PaxExtension, header_for};
pub use writer::LayerWriter;

use crate::fs::entry::{Entry, ImagePath};
use std::cmp::Ordering;

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

#[cfg(test)]
mod tests;
