//! What a build produces ([`Built`]), what it needs ([`BuildOptions`]) and
//! how it fails ([`BuildError`]).

use crate::base::resolve::BaseError;
use crate::build::artifacts::ArtifactError;
use crate::build::cache;
use crate::digest::Digest;
use crate::harden::{Change, HardenError, accounts};
use crate::image::{Descriptor, PlatformImage};
use crate::layer::LayerError;
use crate::policy::{self, Report};
use crate::store::{BlobError, BlobStore};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Base(#[from] BaseError),
    #[error(transparent)]
    Harden(#[from] HardenError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("{0}")]
    Account(#[from] accounts::AccountError),
    #[error("writing a layer: {0}")]
    Layer(#[from] LayerError),
    #[error("blob store: {0}")]
    Blob(#[from] BlobError),
    #[error("internal error serializing JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("writing the image: {0}")]
    PutImage(#[from] crate::store::PutImageError),
    #[error("policy: {0}")]
    Policy(#[from] policy::PolicyError),
    #[error("auditing the built image: {0}")]
    Audit(#[from] policy::AuditError),
    #[error("the built image fails the security gate ({} finding(s)); nothing was written", .0.findings.len())]
    Gate(Box<Report>),
    #[error("the build is not reproducible: {0}")]
    NotReproducible(String),
    #[error(transparent)]
    Packages(#[from] super::packages::PackagesError),
    #[error("invalid SOURCE_DATE_EPOCH: {0}")]
    Time(#[from] crate::layer::time::TimeError),
}

/// Where the build keeps its blobs and scratch files.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The content-addressed store the build writes into (a cache; not an output).
    pub store: PathBuf,
    /// Scratch space for extracted archives; removed afterwards.
    pub work: PathBuf,
    /// How to reach registries (for registry bases).
    pub registry: crate::registry::RegistryOptions,
    /// Staged output stores that receive every blob as soon as it is
    /// written (see [`BlobStore::mirror_to`]); empty for none. The caller
    /// calls `built.store.finish_mirror()` before writing outputs.
    pub mirror: Vec<BlobStore>,
    /// Where warnings go (cache records that were not trusted).
    pub reporter: crate::events::SharedReporter,
}

/// One built platform image.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    pub image: PlatformImage,
    pub report: Report,
    pub base_layers_rewritten: usize,
    pub base_layers_reused: usize,
}

/// The result of a build, ready for the outputs.
#[derive(Debug)]
pub struct Built {
    /// The top-level descriptor: the manifest for one platform, the index for several.
    pub top: Descriptor,
    pub images: Vec<BuiltImage>,
    /// Every blob the outputs must carry.
    pub blobs: Vec<Digest>,
    pub store: BlobStore,
    pub changes: Vec<Change>,
    /// Per platform: the OS packages installed, and what was done to them.
    pub installed_packages: Vec<(String, Vec<crate::packages::install::Installed>)>,
    pub dropped_packages: Vec<String>,
    /// Per platform: the exact package files installed (what provenance
    /// records as resolved dependencies).
    pub package_pins: Vec<(String, Vec<crate::packages::Pinned>)>,
    pub base_name: String,
    /// The base's top-level digest, when it has one, and each platform's
    /// base manifest digest.
    pub base_digest: Option<Digest>,
    pub base_manifests: Vec<(String, Digest)>,
    /// The bytes of the top-level document (what `top` describes).
    pub top_bytes: Vec<u8>,
    /// The base, for cross-repository blob mounts when pushing.
    pub base: crate::reference::Transport,
    /// The stat cache, which also remembers the output blobs verified while
    /// writing outputs: [`Built::save_caches`] after the outputs.
    pub(crate) stat: std::sync::Arc<std::sync::Mutex<cache::StatCache>>,
    /// Every host file whose content is in an artifact layer, with the
    /// digest of that content.
    pub artifact_reads: Vec<(std::path::PathBuf, Digest)>,
}

impl Built {
    /// Saves the stat cache (sealed) with what the outputs verified, so the
    /// next no-op rebuild need not hash those blobs again. Best effort: a
    /// cache that cannot be written only costs time next run.
    pub fn save_caches(&self) {
        if let Ok(s) = self.stat.lock() {
            let _ = s.save();
        }
    }
}
