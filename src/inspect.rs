//! `ironhull inspect` as a library entry point: a typed summary of an image,
//! per platform: config fields, layers with their sizes, how many OS packages
//! it carries by database, and whether it passes `ironhull audit` with the
//! default policy at `--fail-on high`. The CLI renders it as text or JSON.
//!
//! Package counts come from the SBOM's readers ([`crate::sbom::apk`],
//! [`crate::sbom::dpkg`] via [`crate::sbom::installed_packages`]), so
//! `inspect` counts exactly the packages `ironhull sbom` lists.

use crate::base::resolve::ResolvedBase;
use crate::digest::Digest;
use crate::image::{LayerBlob, Platform, PlatformImage};
use crate::policy::{self, AuditError, Policy, Severity, Summary};
use crate::sbom::{self, Ecosystem};
use crate::store::BlobStore;
use serde_json::Value;

/// The severity at which the verdict fails, as `ironhull audit` defaults.
pub const FAIL_ON: Severity = Severity::High;

/// What to inspect: any image reference ironhull reads, one platform or
/// all, with the cache directory for scratch space.
#[derive(Clone, Debug)]
pub struct InspectJob {
    pub image: String,
    pub platform: Option<String>,
    pub cache_dir: std::path::PathBuf,
    pub registry: crate::registry::RegistryOptions,
}

/// `ironhull inspect`: opens the named image ([`crate::base::named`]) and
/// inspects it.
pub fn run(job: &InspectJob) -> Result<Inspection, crate::error::Failure> {
    let (image, _work) = crate::base::named::open_named(
        &job.image,
        job.platform.as_deref(),
        &job.cache_dir,
        &job.registry,
        "inspect",
    )?;
    inspect(&image).map_err(crate::error::Failure::input)
}

/// What `inspect` found in an image.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// The digest of the image's top-level document, when it has one.
    pub digest: Option<Digest>,
    pub platforms: Vec<PlatformInspection>,
}

/// One platform image.
#[derive(Clone, Debug)]
pub struct PlatformInspection {
    pub platform: Platform,
    pub manifest: Digest,
    pub config: Digest,
    /// `config.User`, `config.Entrypoint`, `config.Cmd` as the config holds
    /// them (`None` when absent or null). Kept as JSON values, not parsed:
    /// `inspect` reports what a hostile config says, even when it is not the
    /// type the spec wants.
    pub user: Option<Value>,
    pub entrypoint: Option<Value>,
    pub cmd: Option<Value>,
    /// The layer blobs, bottom first (their `size` is the compressed size).
    pub layers: Vec<LayerBlob>,
    pub packages: PackageCounts,
    pub audit: AuditVerdict,
}

impl PlatformInspection {
    /// The image's compressed size: the sum of its layer blobs.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

/// Installed OS packages by database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PackageCounts {
    pub apk: usize,
    pub dpkg: usize,
}

impl PackageCounts {
    pub fn total(&self) -> usize {
        self.apk + self.dpkg
    }

    /// Counts packages by the database they come from.
    pub fn of(packages: &[sbom::Package]) -> Self {
        let mut c = PackageCounts::default();
        for p in packages {
            match p.ecosystem {
                Ecosystem::Apk => c.apk += 1,
                Ecosystem::Deb => c.dpkg += 1,
            }
        }
        c
    }
}

/// The default-policy audit of one platform image.
#[derive(Clone, Debug)]
pub struct AuditVerdict {
    /// No finding at or above [`FAIL_ON`].
    pub passes: bool,
    pub fail_on: Severity,
    pub summary: Summary,
    /// The check IDs found, sorted.
    pub ids: Vec<&'static str>,
}

/// Why an image could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{platform}: {source}")]
    Audit {
        platform: Platform,
        #[source]
        source: Box<AuditError>,
    },
}

/// Inspects every platform of a resolved image.
pub fn inspect(image: &ResolvedBase) -> Result<Inspection, InspectError> {
    let platforms = image
        .images
        .iter()
        .map(|img| inspect_platform(img, &image.blobs))
        .collect::<Result<_, _>>()?;
    Ok(Inspection {
        digest: image.digest.clone(),
        platforms,
    })
}

/// Inspects one platform image whose blobs are in `blobs`.
pub fn inspect_platform(
    img: &PlatformImage,
    blobs: &BlobStore,
) -> Result<PlatformInspection, InspectError> {
    let err = |source| InspectError::Audit {
        platform: img.platform.clone(),
        source: Box::new(source),
    };
    let report = policy::audit_image(img, blobs, &Policy::default()).map_err(err)?;
    let (tree, _) = policy::scan_layers(&img.layers, blobs).map_err(err)?;
    let (packages, _warnings) = sbom::installed_packages(&tree);
    Ok(PlatformInspection {
        platform: img.platform.clone(),
        manifest: img.manifest_digest.clone(),
        config: img.config_digest.clone(),
        user: config_field(img, "User"),
        entrypoint: config_field(img, "Entrypoint"),
        cmd: config_field(img, "Cmd"),
        layers: img.layers.clone(),
        packages: PackageCounts::of(&packages),
        audit: AuditVerdict {
            passes: !report.fails(FAIL_ON),
            fail_on: FAIL_ON,
            summary: report.summary,
            ids: report.ids().into_iter().collect(),
        },
    })
}

/// `config.<key>` of the image config, unless absent or null.
fn config_field(img: &PlatformImage, key: &str) -> Option<Value> {
    img.config
        .get("config")
        .and_then(|c| c.get(key))
        .filter(|v| !v.is_null())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, ecosystem: Ecosystem) -> sbom::Package {
        sbom::Package {
            name: name.into(),
            version: "1".into(),
            arch: None,
            source: name.into(),
            source_version: None,
            license: None,
            ecosystem,
            files: Vec::new(),
        }
    }

    #[test]
    fn counts_by_database() {
        let c = PackageCounts::of(&[
            pkg("musl", Ecosystem::Apk),
            pkg("libc6", Ecosystem::Deb),
            pkg("tzdata", Ecosystem::Deb),
        ]);
        assert_eq!(c, PackageCounts { apk: 1, dpkg: 2 });
        assert_eq!(c.total(), 3);
        assert_eq!(PackageCounts::of(&[]).total(), 0);
    }
}
