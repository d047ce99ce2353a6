//! OS packages (issue 15): `[packages] install` from signed `[[repositories]]`,
//! with no package manager in the image and no maintainer script run.
//!
//! The flow, one way: repositories are opened and their signed indexes
//! verified (`deb::index`), the request is resolved against them and the
//! base's own database (`solve`), giving one [`Pinned`] list per platform,
//! which is what `ironhull.lock` records. A build from the lock reads no
//! index: it fetches each pinned file by its sha256 ([`cache`]), reads it
//! strictly ([`deb::deb_file`]), plans where every file goes on the
//! hardened base ([`install`]) and writes package layers plus the package
//! database ([`deb::database`]). The same gate as for everything else then
//! judges the image.

pub mod cache;
pub mod deb;
pub mod effects;
pub mod install;

use serde::{Deserialize, Serialize};

/// One package chosen for one platform: everything needed to fetch and
/// verify it without reading any index again. The lock stores these.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pinned {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The repository's URL, as the spec gives it.
    pub repository: String,
    /// The file's path below the repository URL (`pool/main/…/x.deb`).
    pub path: String,
    pub size: u64,
    /// Hex sha256 of the file, from the signed index.
    pub sha256: String,
    /// How the request reached it (`python3.11-minimal -> libssl3`): the
    /// first element is what the spec asked for.
    #[serde(default)]
    pub via: Vec<String>,
}

impl Pinned {
    /// `name=version/arch`, for messages.
    pub fn key(&self) -> String {
        format!("{}={}/{}", self.name, self.version, self.architecture)
    }
    /// The URL to download it from.
    pub fn url(&self) -> String {
        format!("{}/{}", self.repository.trim_end_matches('/'), self.path)
    }
}
