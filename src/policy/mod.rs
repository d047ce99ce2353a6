//! The policy engine: checks with stable IDs, severities and fixes, evaluated
//! over an image config plus its filesystem (the merged view and every layer).
//! Shared by the build gate and `ironhull audit`, so a built image and a pulled
//! one are judged by exactly the same code.
//!
//! - [`catalog`]: the checks (IDs are a public contract).
//! - [`file`]: the policy file (severity overrides, reasoned allowances).
//! - [`evaluate`]: config + merged tree + per-layer findings → [`Report`].
//! - [`LayerScanner`]: the per-layer secret checks, fed while layers stream.
//! - [`audit_image`]: the driver that reads every layer blob once (`audit.rs`).
//! - [`render`]: JSON, SARIF and text output.

mod audit;
pub mod catalog;
mod checks;
pub mod distro_content;
pub mod file;
mod layer_scan;
mod privilege;
pub mod render;
pub mod report;
mod secret_checks;

pub use audit::{
    AuditError, LAYER_WORKERS, Prepared, PreparedLayer, Verdicts, audit_image, audit_image_with,
    scan_layers, scan_layers_with,
};
pub use catalog::{Check, Severity, SeverityError, catalog};
pub use file::{Policy, PolicyError};
pub use layer_scan::{DistroCandidate, LayerScanner, scan_content, scan_content_digested};
pub use report::{Finding, Report, Summary, Waived};

use crate::fs::MergedTree;
use std::collections::{BTreeMap, BTreeSet};

/// What the engine evaluates. It does not know whether the image was just
/// built or pulled from somewhere.
pub struct AuditInput<'a> {
    /// The image config blob, parsed.
    pub config: &'a serde_json::Value,
    /// The merged filesystem (built with `CaptureSet::standard()` or a superset,
    /// so that /etc/passwd, /etc/shadow and /etc/group contents are available).
    pub tree: &'a MergedTree,
    /// Findings from [`LayerScanner`] (SEC-001/SEC-002 over every layer).
    pub layer_findings: Vec<Finding>,
    /// Manifest annotations, for provenance (SRC-001).
    pub annotations: &'a BTreeMap<String, String>,
}

/// Runs every check and applies the policy.
pub fn evaluate(input: &AuditInput<'_>, policy: &Policy) -> Report {
    let cfg = checks::Config::new(input.config);
    let tree = input.tree;
    let mut out = Vec::new();
    checks::check_user(&cfg, tree, &mut out);
    checks::check_shadow(tree, &mut out);
    checks::check_accounts(tree, &mut out);
    // Files the layer scan found to be shells or package managers by their
    // content and that are still what the merged view shows (not replaced
    // or deleted by a later layer): links to them are reported too.
    let by_content: BTreeMap<String, crate::detect::Kind> = input
        .layer_findings
        .iter()
        .filter(|f| !f.message.contains(layer_scan::HIDDEN_NOTE))
        .filter_map(|f| {
            let kind = match f.id {
                "SH-001" => crate::detect::Kind::Shell,
                "PKG-001" => crate::detect::Kind::PackageManager,
                _ => return None,
            };
            Some((f.path.clone()?, kind))
        })
        .collect();
    checks::check_programs(tree, &by_content, &mut out);
    checks::check_entrypoint(&cfg, tree, &mut out);
    checks::check_package_modules(tree, &mut out);
    checks::check_caches(tree, &mut out);
    checks::check_junk(tree, &mut out);
    checks::check_modes(tree, &mut out);
    privilege::check_xattrs(tree, &mut out);
    privilege::check_groups(&cfg, tree, &mut out);
    let from_layers: BTreeSet<String> = input
        .layer_findings
        .iter()
        .filter(|f| f.id == "SEC-001")
        .filter_map(|f| f.path.clone())
        .collect();
    secret_checks::check_secret_files(tree, &from_layers, &mut out);
    secret_checks::check_config_secrets(input.config, &mut out);
    checks::check_config(&cfg, &mut out);
    checks::check_base(input.annotations, &mut out);
    // A file found by name and by content is reported once (by name).
    let by_name: BTreeSet<(&'static str, String)> = out
        .iter()
        .filter(|f| matches!(f.id, "SH-001" | "PKG-001"))
        .filter_map(|f| Some((f.id, f.path.clone()?)))
        .collect();
    out.extend(
        input
            .layer_findings
            .iter()
            .filter(|f| {
                !f.path
                    .as_ref()
                    .is_some_and(|p| by_name.contains(&(f.id, p.clone())))
            })
            .cloned(),
    );
    let (kept, waived) = policy.apply(out);
    Report::new(kept, waived)
}

#[cfg(test)]
pub(crate) mod tests;
