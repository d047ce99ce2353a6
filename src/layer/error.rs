//! Why a layer could not be written: each error names the entry (or the
//! stage) and what the caller should change.

use super::{time, zst};
use crate::fs::entry::EntryKind;
use crate::store::blobs::BlobError;
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error(
        "gzip compression level {level} is out of range; use a level from 0 (store) to 9 (best), 6 is the default"
    )]
    BadCompressionLevel { level: u32 },
    #[error(
        "zstd compression level {level} is out of range; use a level from {} (fastest) to {} (smallest), {} is the default",
        zst::MIN_LEVEL,
        zst::MAX_LEVEL,
        zst::DEFAULT_LEVEL
    )]
    BadZstdLevel { level: u32 },
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

/// How an entry kind is named in error messages.
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
