//! Reading an apk repository: `<url>/<arch>/APKINDEX.tar.gz`, fetched with
//! no credentials ([`crate::packages::fetch`]), its signature checked
//! against the keyring before anything inside is parsed ([`super::index`]).
//! Nothing unsigned reaches an [`ApkRecord`].
//!
//! There is no freshness check: apk's index carries no `Valid-Until` (or
//! any date) to check, so a mirror can replay an old, validly signed index
//! and neither apk nor ironhull can tell. The lock pins the index's sha256,
//! so a locked build at least sees the same index every time.

use super::apkindex::ApkRecord;
use super::index;
use super::keys::ApkKeyring;
use super::repo_error::ApkRepoError;
use crate::image::Platform;
use crate::packages::fetch::Fetch;
use sha2::{Digest as _, Sha256};

/// Largest `APKINDEX.tar.gz` downloaded.
const MAX_INDEX_FILE: u64 = 128 * 1024 * 1024;

/// One `[[repositories]]` entry of kind `apk`, as the reader needs it.
#[derive(Clone, Debug)]
pub struct ApkRepoSpec {
    /// The directory holding `<arch>/APKINDEX.tar.gz`.
    pub url: String,
    /// apk's architecture name ([`apk_arch`]).
    pub arch: String,
    pub keyring: ApkKeyring,
    /// Position in the spec's list, copied into every record.
    pub position: usize,
}

/// A verified repository's packages for one architecture.
#[derive(Clone, Debug)]
pub struct ApkIndex {
    pub url: String,
    /// `<arch>/APKINDEX.tar.gz`, below the URL.
    pub file: String,
    /// sha256 of the index file's bytes, for the lock.
    pub sha256: String,
    /// The key file whose signature verified.
    pub signer: String,
    pub description: Option<String>,
    pub records: Vec<ApkRecord>,
}

/// apk's name for a platform's architecture.
pub fn apk_arch(p: &Platform) -> Option<&'static str> {
    Some(match (p.architecture.as_str(), p.variant.as_deref()) {
        ("amd64", _) => "x86_64",
        ("arm64", _) => "aarch64",
        ("arm", Some("v7")) => "armv7",
        ("arm", Some("v6")) => "armhf",
        ("386", _) => "x86",
        ("ppc64le", _) => "ppc64le",
        ("s390x", _) => "s390x",
        ("riscv64", _) => "riscv64",
        _ => return None,
    })
}

/// Fetches and verifies the repository's index for `spec.arch`.
pub fn open_repository(spec: &ApkRepoSpec, fetch: &dyn Fetch) -> Result<ApkIndex, ApkRepoError> {
    let url = spec.url.trim_end_matches('/').to_string();
    let file = format!("{}/APKINDEX.tar.gz", spec.arch);
    let bytes = fetch
        .get(&format!("{url}/{file}"), MAX_INDEX_FILE)
        .map_err(|source| ApkRepoError::Fetch {
            url: url.clone(),
            file: file.clone(),
            source,
        })?;
    let v = index::verify_and_parse(&bytes, &spec.keyring, spec.position).map_err(|source| {
        ApkRepoError::Index {
            url: url.clone(),
            file: file.clone(),
            source,
        }
    })?;
    // apk keeps packages of other architectures out of a repository's
    // index for that architecture, except `noarch`; anything else means
    // the mirror mixed indexes up.
    if let Some(r) = v
        .records
        .iter()
        .find(|r| r.arch != spec.arch && r.arch != "noarch")
    {
        return Err(ApkRepoError::Arch {
            url,
            file,
            package: r.key(),
            got: r.arch.clone(),
            arch: spec.arch.clone(),
        });
    }
    Ok(ApkIndex {
        url,
        file,
        sha256: hex(&Sha256::digest(&bytes)),
        signer: v.signer,
        description: v.description,
        records: v.records,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
