//! Why a layer could not be read: one variant per hostile or broken shape,
//! each naming the entry and how to fix the layer.
//!
//! Kept apart from the reader so the error text (which users see and tests
//! pin) is in one place, and so the reader does not depend on the merged
//! view: visitor errors such as [`super::MergeError`] arrive boxed in
//! [`ReadError::Merge`] (see [`super::load`]).

use std::io;

use super::entry::PathError;

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
    /// An error raised by the caller's visitor, shown as is: in practice a
    /// [`super::MergeError`] from the merged view (see [`super::load`]). The
    /// variant keeps the name `Merge` because `--json` error kinds are taken
    /// from the `Debug` form, and the boxed error debugs as the inner one, so
    /// they stay what they were.
    #[error(transparent)]
    Merge(Box<dyn std::error::Error + Send + Sync>),
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
