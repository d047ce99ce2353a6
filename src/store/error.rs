//! Errors of the OCI layout / archive readers and writers.
//!
//! Every variant names the file, archive entry or document it is about, so a user
//! who feeds ironhull a broken or hostile image knows which input to look at.

use crate::digest::{Digest, DigestError};
use crate::store::blobs::BlobError;
use std::io;
use std::path::{Path, PathBuf};

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{dir} is not an OCI image layout: {why}; point ironhull at a directory holding `oci-layout` and `index.json` (or, when writing, at a new or empty directory)"
    )]
    NotALayout { dir: PathBuf, why: String },

    #[error("{where_}: tag {tag:?} not found; available tags: {}", list(available))]
    TagNotFound {
        tag: String,
        available: Vec<String>,
        where_: String,
    },

    #[error(
        "{where_} holds {} images, so a tag is required to choose one; available tags: {}",
        available.len(),
        list(available)
    )]
    AmbiguousTag {
        available: Vec<String>,
        where_: String,
    },

    #[error(
        "{where_}: no usable image found (empty, or only attestation manifests); check that the source really holds a container image"
    )]
    NoImage { where_: String },

    #[error(
        "{where_}: unsupported media type {media_type:?}; ironhull reads OCI and Docker schema2 manifests, indexes, configs and tar / tar+gzip / tar+zstd layers"
    )]
    UnsupportedMediaType { media_type: String, where_: String },

    #[error(
        "{where_}: Docker schema1 manifests are deprecated and unsupported; convert the image first (e.g. `skopeo copy --format v2s2 ...`) or use a current tag of it"
    )]
    DockerSchema1 { where_: String },

    #[error(
        "{where_}: content does not match its digest: expected {expected}, got {actual}; the file is corrupt or was tampered with, obtain it again from a trusted source"
    )]
    DigestMismatch {
        where_: String,
        expected: Digest,
        actual: Digest,
    },

    #[error(
        "{where_}: blob {digest} has {actual} bytes but its descriptor says {expected}; the image is corrupt or was tampered with"
    )]
    SizeMismatch {
        where_: String,
        digest: Digest,
        expected: u64,
        actual: u64,
    },

    #[error(
        "{where_}: blob {digest} is referenced but missing; the layout or archive is incomplete, export the image again"
    )]
    MissingBlob { where_: String, digest: Digest },

    #[error("{where_}: {source}")]
    BadDigest {
        where_: String,
        #[source]
        source: DigestError,
    },

    #[error(
        "{where_}: image indexes are nested deeper than {max} levels (or reference too many documents); refusing a possibly hostile image"
    )]
    TooDeep { where_: String, max: usize },

    #[error(
        "{where_}: the manifest lists {layers} layers but the config's rootfs.diff_ids lists {diff_ids}; the image is corrupt"
    )]
    DiffIdCount {
        where_: String,
        layers: usize,
        diff_ids: usize,
    },

    #[error("corrupt {file}: {why}")]
    Corrupt { file: String, why: String },

    #[error(
        "{file}: refusing hostile archive entry {entry:?}: {why}; the archive may try to write outside its directory, re-export it with a trusted tool"
    )]
    HostileArchiveEntry {
        file: PathBuf,
        entry: String,
        why: String,
    },

    #[error("invalid image reference or tag {reference:?}: {why}")]
    InvalidReference { reference: String, why: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl StoreError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(file: impl std::fmt::Display, why: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            file: file.to_string(),
            why: why.into(),
        }
    }

    /// Converts a blob-store error, adding where the blob was referenced from.
    pub(crate) fn from_blob(
        where_: impl std::fmt::Display,
    ) -> impl FnOnce(BlobError) -> StoreError {
        let where_ = where_.to_string();
        move |e| match e {
            BlobError::DigestMismatch { expected, actual } => StoreError::DigestMismatch {
                where_,
                expected,
                actual,
            },
            BlobError::SizeMismatch {
                digest,
                expected,
                actual,
            } => StoreError::SizeMismatch {
                where_,
                digest,
                expected,
                actual,
            },
            BlobError::Missing { digest, .. } => StoreError::MissingBlob { where_, digest },
            BlobError::Io { path, source } => StoreError::Io { path, source },
        }
    }
}
