//! `ironhull audit`: the build gate's policy engine over any image.

use crate::error::Failure;
use crate::policy::{self, Policy, Report};
use crate::registry::RegistryOptions;
use std::path::PathBuf;

/// What to audit, and against which policy.
#[derive(Clone, Debug)]
pub struct AuditJob {
    /// Any image reference ironhull reads (`oci:`, `docker://`, `rootfs:` …).
    pub image: String,
    /// Only this platform (`os/arch[/variant]`); default: every platform.
    pub platform: Option<String>,
    /// A policy file (TOML) that overrides severities or allow-lists paths.
    pub policy: Option<PathBuf>,
    /// The cache directory (scratch space for archives goes there).
    pub cache_dir: PathBuf,
    pub registry: RegistryOptions,
}

/// One platform's report, named for display (`IMAGE (os/arch)` when the
/// image has several).
#[derive(Clone, Debug)]
pub struct Audited {
    pub name: String,
    pub report: Report,
}

/// Audits every selected platform of the image.
pub fn audit(job: &AuditJob) -> Result<Vec<Audited>, Failure> {
    let policy = match &job.policy {
        Some(p) => Policy::load(p).map_err(Failure::input)?,
        None => Policy::default(),
    };
    let (image, _work) = crate::base::named::open_named(
        &job.image,
        job.platform.as_deref(),
        &job.cache_dir,
        &job.registry,
        "audit",
    )?;
    let mut out = Vec::new();
    for img in &image.images {
        let report = policy::audit_image(img, &image.blobs, &policy)
            .map_err(|e| Failure::input(format!("{}: {e}", img.platform)))?;
        let name = if image.images.len() > 1 {
            format!("{} ({})", job.image, img.platform)
        } else {
            job.image.clone()
        };
        out.push(Audited { name, report });
    }
    Ok(out)
}
