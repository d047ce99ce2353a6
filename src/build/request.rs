//! What the builder is asked to build: the validated spec, flattened into the
//! few values the build steps need. Keeping this separate from the spec's own
//! types lets the spec grow keys without touching the pipeline.

use super::artifacts::ArtifactInput;
use super::config::Runtime;
use crate::fs::ImagePath;
use crate::image::Platform;
use crate::layer::LayerParams;
use crate::reference::Transport;
use std::collections::BTreeMap;

/// The image's own non-root user.
#[derive(Clone, Debug)]
pub struct UserReq {
    pub uid: u32,
    pub gid: u32,
    pub name: String,
    pub home: ImagePath,
}

/// A waiver of a non-core check, from the spec's `[[policy.allow]]`.
#[derive(Clone, Debug)]
pub struct Allowance {
    pub check: String,
    pub path: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct BuildRequest {
    pub name: String,
    pub tags: Vec<String>,
    pub base: Transport,
    pub platforms: Vec<Platform>,
    pub user: UserReq,
    pub artifacts: Vec<ArtifactInput>,
    pub runtime: Runtime,
    pub annotations: BTreeMap<String, String>,
    pub layer_params: LayerParams,
    /// Maximum number of artifact layers; artifacts beyond it share the last.
    pub layer_budget: usize,
    pub allow: Vec<Allowance>,
    /// OS packages to install (none when `install` is empty).
    pub packages: PackagesReq,
}

/// `[[repositories]]` and `[packages]`, with the lock's pins when there are
/// any.
#[derive(Clone, Debug, Default)]
pub struct PackagesReq {
    pub repositories: Vec<crate::spec::packages::Repository>,
    pub install: Vec<crate::spec::packages::Requested>,
    pub exclude: Vec<String>,
    /// The lock's packages per platform (`linux/amd64` → install order).
    /// When set, the build reads no repository index: it installs exactly
    /// these.
    pub locked: Option<BTreeMap<String, Vec<crate::packages::Pinned>>>,
}

impl PackagesReq {
    pub fn is_empty(&self) -> bool {
        self.install.is_empty()
    }
}
