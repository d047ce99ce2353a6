//! The security gate stage: the same policy engine as `ironhull audit`,
//! over the blobs as built, with the spec's waivers. A manifest digest names
//! its config and every layer, so an image gated before under the same
//! policy and ironhull version is not read again (the verdict is an
//! authenticated cache record, [`crate::build::gate_cache`]).

use super::built::BuildError;
use crate::build::{BuildRequest, gate_cache};
use crate::cache_auth::CacheAuth;
use crate::image::PlatformImage;
use crate::policy::{self, Policy, Report};
use crate::store::BlobStore;
use std::path::Path;

/// Gates one built platform image; `prepared` holds the verdicts of the
/// layers written in this build (they are not read back).
pub(crate) fn gate(
    image: &PlatformImage,
    store: &BlobStore,
    policy: &Policy,
    prepared: &policy::Prepared,
    cache: (&Path, &crate::digest::Digest, &CacheAuth),
    warn: &dyn Fn(&str),
) -> Result<Report, BuildError> {
    let (root, policy_key, auth) = cache;
    let report = match gate_cache::load(root, &image.manifest_digest, policy_key, auth, warn) {
        Some(r) => r,
        None => {
            let r = policy::audit_image_with(image, store, policy, prepared)?;
            if !gate_fails(&r) {
                gate_cache::store(root, &image.manifest_digest, policy_key, &r, auth);
            }
            r
        }
    };
    if gate_fails(&report) {
        return Err(BuildError::Gate(Box::new(report)));
    }
    Ok(report)
}

/// The build gate fails on any finding of a core check, and on any other
/// finding of high or critical severity that the spec did not waive.
pub fn gate_fails(report: &Report) -> bool {
    report.findings.iter().any(|f| {
        policy::catalog::lookup(f.id).is_some_and(|c| c.core)
            || f.severity >= policy::Severity::High
    })
}

pub(crate) fn gate_policy(req: &BuildRequest) -> Result<Policy, BuildError> {
    let mut text = String::new();
    for a in &req.allow {
        text.push_str("[[allow]]\n");
        text.push_str(&format!("check = {}\n", toml_str(&a.check)));
        if let Some(p) = &a.path {
            text.push_str(&format!("path = {}\n", toml_str(p)));
        }
        text.push_str(&format!("reason = {}\n", toml_str(&a.reason)));
    }
    let p = Policy::parse(&text, std::path::Path::new("builder.toml [policy]"))?;
    Ok(p.for_build()?)
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
