//! The policy engine: checks with stable IDs, severities and fixes, evaluated
//! over an image config plus its filesystem (the merged view and every layer).
//! Shared by the build gate and `ironhull audit`, so a built image and a pulled
//! one are judged by exactly the same code.
//!
//! - [`catalog`]: the checks (IDs are a public contract).
//! - [`file`]: the policy file (severity overrides, reasoned allowances).
//! - [`evaluate`]: config + merged tree + per-layer findings → [`Report`].
//! - [`LayerScanner`]: the per-layer secret checks, fed while layers stream.
//! - [`audit_image`]: the driver that reads every layer blob once.
//! - [`render`]: JSON, SARIF and text output.

pub mod catalog;
mod checks;
pub mod file;
mod layer_scan;
pub mod render;
pub mod report;

pub use catalog::{Check, Severity, SeverityError, catalog};
pub use file::{Policy, PolicyError};
pub use layer_scan::LayerScanner;
pub use report::{Finding, Report, Summary, Waived};

use crate::digest::{Digest, HashingReader};
use crate::fs::{CaptureSet, LayerEvent, MergedTree, ReadError, ReadOptions, read_layer};
use crate::image::{LayerBlob, PlatformImage};
use crate::store::blobs::{BlobError, BlobStore};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufReader, Read};

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
    checks::check_shells(&cfg, tree, &mut out);
    checks::check_entrypoint(&cfg, tree, &mut out);
    checks::check_package_managers(&cfg, tree, &mut out);
    checks::check_caches(tree, &mut out);
    checks::check_junk(tree, &mut out);
    checks::check_modes(tree, &mut out);
    let from_layers: BTreeSet<String> = input
        .layer_findings
        .iter()
        .filter(|f| f.id == "SEC-001")
        .filter_map(|f| f.path.clone())
        .collect();
    checks::check_secret_files(tree, &from_layers, &mut out);
    checks::check_config_secrets(&cfg, &mut out);
    checks::check_config(&cfg, &mut out);
    checks::check_base(input.annotations, &mut out);
    out.extend(input.layer_findings.iter().cloned());
    let (kept, waived) = policy.apply(out);
    Report::new(kept, waived)
}

/// Why an image could not be audited (as opposed to what is wrong with it).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("layer {index} ({digest}): {source}")]
    Blob {
        index: usize,
        digest: Digest,
        source: BlobError,
    },
    #[error("layer {index} ({digest}) cannot be read: {source}")]
    Read {
        index: usize,
        digest: Digest,
        source: ReadError,
    },
    #[error(
        "layer {index}: the blob hashes to {actual}, but the manifest says {expected}; the blob is corrupt or was tampered with, re-pull the image"
    )]
    DigestMismatch {
        index: usize,
        expected: Digest,
        actual: Digest,
    },
    #[error(
        "layer {index} ({digest}) is {actual} bytes, but the manifest says {expected}; re-pull the image"
    )]
    SizeMismatch {
        index: usize,
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error(
        "layer {index} ({digest}): the uncompressed tar hashes to {actual}, but the diffID is {expected}; the image config does not describe this layer, re-pull or rebuild the image"
    )]
    DiffIdMismatch {
        index: usize,
        digest: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error(
        "the image config's rootfs.diff_ids ({config}) does not match the layers' diffIDs ({layers}); the config and manifest disagree, re-pull or rebuild the image"
    )]
    RootfsMismatch { config: String, layers: String },
    #[error(
        "layer {index} ({digest}) has media type {media_type:?}, which is not a layer type ironhull can read"
    )]
    NotALayer {
        index: usize,
        digest: Digest,
        media_type: String,
    },
}

/// Reads every layer blob once, bottom-up, feeding both the merged tree and
/// the [`LayerScanner`], and verifies each blob's digest, size and diffID on
/// the way. Memory is bounded by the tree's metadata plus the small captured
/// files, whatever the image size.
pub fn scan_layers(
    layers: &[LayerBlob],
    blobs: &BlobStore,
) -> Result<(MergedTree, Vec<Finding>), AuditError> {
    let capture = CaptureSet::standard();
    let limit = capture.limit();
    let mut tree = MergedTree::with_capture(capture.clone());
    let mut scanner = LayerScanner::new();
    let opts = ReadOptions::default();
    for (index, layer) in layers.iter().enumerate() {
        let digest = &layer.digest;
        if !crate::image::media::is_layer(&layer.media_type) {
            return Err(AuditError::NotALayer {
                index,
                digest: digest.clone(),
                media_type: layer.media_type.chars().take(200).collect(),
            });
        }
        let file = blobs
            .open_read(digest)
            .map_err(|source| AuditError::Blob {
                index,
                digest: digest.clone(),
                source,
            })?;
        let mut hr = HashingReader::new(BufReader::with_capacity(1 << 16, file));
        let result = read_layer(&mut hr, &opts, |ev, content| {
            let capture_this = matches!(&ev, LayerEvent::Entry(e)
                if e.is_file() && capture.matches(&e.path) && e.size <= limit);
            if capture_this {
                // The tree keeps this small file; the scanner sees the same
                // bytes followed by whatever the tree did not read.
                let mut buf = Vec::new();
                content.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
                tree.apply(index, &ev, &mut buf.as_slice())?;
                scanner.observe(digest, &ev, &mut buf.as_slice().chain(content))?;
            } else {
                tree.apply(index, &ev, &mut io::empty())?;
                scanner.observe(digest, &ev, content)?;
            }
            Ok(())
        });
        // Hash whatever follows the tar stream too, so the digest covers the
        // whole blob; a drain error only matters if the digest then matches.
        let drained = io::copy(&mut hr, &mut io::sink());
        let (actual, size) = hr.finish();
        if &actual != digest && drained.is_ok() {
            return Err(AuditError::DigestMismatch {
                index,
                expected: digest.clone(),
                actual,
            });
        }
        let stats = result.map_err(|source| AuditError::Read {
            index,
            digest: digest.clone(),
            source,
        })?;
        if let Err(e) = drained {
            return Err(AuditError::Read {
                index,
                digest: digest.clone(),
                source: ReadError::Io(e),
            });
        }
        if size != layer.size {
            return Err(AuditError::SizeMismatch {
                index,
                digest: digest.clone(),
                expected: layer.size,
                actual: size,
            });
        }
        if stats.diff_id != layer.diff_id {
            return Err(AuditError::DiffIdMismatch {
                index,
                digest: digest.clone(),
                expected: layer.diff_id.clone(),
                actual: stats.diff_id,
            });
        }
    }
    Ok((tree, scanner.finish()))
}

/// The manifest's annotations; a manifest that is not a JSON object with
/// string annotations simply has none.
fn manifest_annotations(bytes: &[u8]) -> BTreeMap<String, String> {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("annotations").and_then(|a| a.as_object()).cloned())
        .map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks that the config's `rootfs.diff_ids` (when present) lists exactly the
/// layers' diffIDs, so the filesystem we audit is the one the config describes.
fn check_rootfs(image: &PlatformImage) -> Result<(), AuditError> {
    let Some(ids) = image
        .config
        .get("rootfs")
        .and_then(|r| r.get("diff_ids"))
        .and_then(|d| d.as_array())
    else {
        return Ok(());
    };
    let config: Vec<String> = ids
        .iter()
        .map(|v| v.as_str().unwrap_or("<not a string>").to_string())
        .collect();
    let layers: Vec<String> = image.layers.iter().map(|l| l.diff_id.to_string()).collect();
    if config != layers {
        let show = |v: &[String]| {
            let mut s = v.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
            if v.len() > 8 {
                s.push_str(&format!(", … {} in all", v.len()));
            }
            s
        };
        return Err(AuditError::RootfsMismatch {
            config: show(&config),
            layers: show(&layers),
        });
    }
    Ok(())
}

/// Audits one platform image: reads each layer blob once (verifying digest,
/// size and diffID), builds the merged view, runs every check and applies the
/// policy.
pub fn audit_image(
    image: &PlatformImage,
    blobs: &BlobStore,
    policy: &Policy,
) -> Result<Report, AuditError> {
    check_rootfs(image)?;
    let (tree, layer_findings) = scan_layers(&image.layers, blobs)?;
    let annotations = manifest_annotations(&image.manifest_bytes);
    let input = AuditInput {
        config: &image.config,
        tree: &tree,
        layer_findings,
        annotations: &annotations,
    };
    Ok(evaluate(&input, policy))
}
