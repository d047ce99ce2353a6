//! Local stores: the content-addressed blob store, OCI layouts and archives.
//!
//! Every reader here turns an untrusted source (a layout directory, an OCI or
//! `docker save` archive, a root filesystem tarball) into the same [`Source`]: an
//! [`ImageSet`] plus a [`BlobStore`] in which every referenced blob exists.
//! Indexes, manifests and configs are verified against their digests on read;
//! layer blobs are verified when an archive is imported, or while they stream
//! (use [`Source::open_verified`]) when they come from a layout directory.
mod archive;
mod archive_reach;
pub use archive_reach::{DEFAULT_MAX_ARCHIVE_BYTES, max_bytes as max_archive_bytes};
pub mod atomic;
pub mod blobs;
pub mod docker_archive;
mod error;
mod layout;
mod oci_archive;
mod resolve;
mod rootfs;
pub mod staged;

pub use atomic::write_atomic;
pub use blobs::{BlobError, BlobStore};
pub use docker_archive::{read_docker_archive, write_docker_archive};
pub use error::StoreError;
pub use layout::{add_untagged, index_entries, read_oci_layout, write_oci_layout};
pub use oci_archive::{read_oci_archive, write_oci_archive};
pub use rootfs::read_rootfs;
pub use staged::StagedLayout;

use crate::digest::Digest;
use crate::image::{ImageSet, PlatformImage};
use sha2::Digest as _;
use std::io::{self, Read};

/// Size cap for indexes, manifests and configs: real ones are a few KiB, and an
/// unbounded read of a hostile "manifest" would exhaust memory.
pub const MAX_DOC: u64 = 4 * 1024 * 1024;

/// An image read from a local source, with the blobs it references.
#[derive(Debug)]
pub struct Source {
    pub images: ImageSet,
    pub blobs: BlobStore,
    /// Keeps an extracted archive alive as long as the source is used.
    _tmp: Option<tempfile::TempDir>,
}

impl Source {
    /// Opens a blob for streaming; the reader fails (instead of reaching EOF)
    /// if the content does not match `digest` and `size`. Use it for layers,
    /// which are too large to verify up front.
    pub fn open_verified(
        &self,
        digest: &Digest,
        size: u64,
    ) -> Result<VerifyingReader<std::fs::File>, StoreError> {
        let f = self
            .blobs
            .open_read(digest)
            .map_err(StoreError::from_blob(format!(
                "blob store {}",
                self.blobs.root().display()
            )))?;
        Ok(VerifyingReader::new(f, digest.clone(), size))
    }
}

/// Every blob one platform image references: config, manifest and layers. This
/// is the `blobs` list the writers want.
pub fn image_blobs(image: &PlatformImage) -> Vec<Digest> {
    let mut v = vec![image.manifest_digest.clone(), image.config_digest.clone()];
    v.extend(image.layers.iter().map(|l| l.digest.clone()));
    v
}

/// A reader that hashes what passes through and turns a digest or size mismatch
/// into an I/O error, so a consumer can never read a tampered blob to its end.
pub struct VerifyingReader<R> {
    inner: R,
    hasher: sha2::Sha256,
    count: u64,
    expected: Digest,
    size: u64,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R, expected: Digest, size: u64) -> Self {
        Self {
            inner,
            hasher: sha2::Sha256::new(),
            count: 0,
            expected,
            size,
        }
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if self.count > self.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob {} is longer than the {} bytes its descriptor declares; it is corrupt or was tampered with",
                    self.expected, self.size
                ),
            ));
        }
        if n == 0 && !buf.is_empty() {
            if self.count != self.size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "blob {} has {} bytes but its descriptor declares {}; it is truncated",
                        self.expected, self.count, self.size
                    ),
                ));
            }
            let actual = hex::encode(self.hasher.clone().finalize());
            if actual != self.expected.hex() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob content does not match its digest {} (got sha256:{actual}); it is corrupt or was tampered with",
                        self.expected
                    ),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod skopeo_tests;
#[cfg(test)]
pub(crate) mod testutil;

/// Why [`put_image`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PutImageError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("cannot serialize the image document: {0}")]
    Json(#[from] serde_json::Error),
}

/// Stores a config and an OCI manifest over `layers` (canonical JSON), and
/// returns the image. The one place where ironhull assembles a manifest.
pub fn put_image(
    blobs: &BlobStore,
    platform: crate::image::Platform,
    config: serde_json::Value,
    layers: Vec<crate::image::LayerBlob>,
    annotations: std::collections::BTreeMap<String, String>,
) -> Result<PlatformImage, PutImageError> {
    use crate::image::{Descriptor, Manifest, media};
    let config_bytes = crate::cjson::to_vec(&config)?;
    let config_digest = blobs.put(&config_bytes)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(
            media::OCI_CONFIG,
            config_digest.clone(),
            config_bytes.len() as u64,
        ),
        layers: layers
            .iter()
            .map(crate::image::LayerBlob::descriptor)
            .collect(),
        subject: None,
        annotations,
    };
    let manifest_bytes = crate::cjson::to_vec(&manifest)?;
    let manifest_digest = blobs.put(&manifest_bytes)?;
    Ok(PlatformImage {
        platform,
        manifest_digest,
        manifest_bytes,
        manifest_media_type: media::OCI_MANIFEST.into(),
        config_digest,
        config_bytes,
        config,
        layers,
    })
}
