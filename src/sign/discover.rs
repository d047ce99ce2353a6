//! Finding the signatures of an image, as cosign does: referrer bundles
//! first (the referrers API, else the `sha256-<hex>` fallback index), then
//! the legacy `sha256-<hex>.sig` tag. In a layout, referrers are the
//! `index.json` entries whose manifest's `subject` is the image.
//!
//! Everything found here is hostile: documents are fetched by digest and
//! verified, sizes are capped, and the number of candidates is bounded, so
//! a registry cannot make a verifier read without end.

use super::bundle::BUNDLE_V03;
use super::simple_signing::{self, PAYLOAD_MEDIA_TYPE, SIGNATURE_ANNOTATION};
use super::verify::Candidate;
use crate::digest::Digest;
use crate::image::{Descriptor, Manifest, annotation};
use crate::output::referrer;
use crate::reference::Reference;
use crate::registry::{Client, RegistryError};
use crate::store::{self, BlobStore, MAX_DOC, StoreError};
use std::path::Path;

/// At most this many referrers and `.sig` layers are read.
pub const MAX_CANDIDATES: usize = 64;

/// The bundle in a referrer manifest whose subject is `subject`.
fn bundle_layer(manifest: &[u8], subject: &Digest) -> Option<Descriptor> {
    let m: Manifest = serde_json::from_slice(manifest).ok()?;
    if m.subject.as_ref().map(|s| &s.digest) != Some(subject) {
        return None;
    }
    m.layers
        .into_iter()
        .find(|l| l.media_type == BUNDLE_V03 && l.size <= MAX_DOC)
}

/// The simple-signing layers of a `.sig` manifest.
fn sig_layers(manifest: &[u8]) -> Vec<(Descriptor, String)> {
    let Ok(m) = serde_json::from_slice::<Manifest>(manifest) else {
        return Vec::new();
    };
    m.layers
        .into_iter()
        .filter(|l| l.media_type == PAYLOAD_MEDIA_TYPE && l.size <= MAX_DOC)
        .filter_map(|l| {
            let s = l.annotations.get(SIGNATURE_ANNOTATION)?.clone();
            Some((l, s))
        })
        .take(MAX_CANDIDATES)
        .collect()
}

fn is_bundle_entry(d: &Descriptor) -> bool {
    // Entries without an artifactType may still be bundles (some
    // registries drop it from the referrers list): their manifest says.
    d.artifact_type.as_deref().is_none_or(|t| t == BUNDLE_V03)
}

/// The candidates in `target`'s repository for `subject`.
pub fn registry(
    client: &Client,
    target: &Reference,
    subject: &Digest,
    store: &BlobStore,
) -> Result<Vec<Candidate>, RegistryError> {
    let mut out = Vec::new();
    let index = match client.referrers(target, subject)? {
        Some(b) => Some(b),
        None => client
            .fetch_optional(target, &referrer::fallback_tag(subject))?
            .map(|f| f.bytes),
    };
    if let Some(index) = index {
        let entries = referrer::existing_entries(&index).unwrap_or_default();
        for e in entries
            .iter()
            .filter(|e| is_bundle_entry(e))
            .take(MAX_CANDIDATES)
        {
            let Some(m) = client.fetch_optional(target, &e.digest.to_string())? else {
                continue;
            };
            let Some(layer) = bundle_layer(&m.bytes, subject) else {
                continue;
            };
            let bytes = client.small_blob(target, &layer.digest, layer.size, store)?;
            out.push(Candidate::Bundle {
                origin: format!("referrer {}", e.digest),
                bytes,
            });
        }
    }
    let tag = simple_signing::sig_tag(subject);
    if let Some(m) = client.fetch_optional(target, &tag)? {
        for (l, signature) in sig_layers(&m.bytes) {
            let payload = client.small_blob(target, &l.digest, l.size, store)?;
            out.push(Candidate::Legacy {
                origin: format!("tag {tag}"),
                payload,
                signature,
            });
        }
    }
    Ok(out)
}

/// The candidates in the layout at `dir` for `subject`.
pub fn layout(dir: &Path, subject: &Digest) -> Result<Vec<Candidate>, StoreError> {
    let (entries, blobs) = store::index_entries(dir)?;
    let mut out = Vec::new();
    let tag = simple_signing::sig_tag(subject);
    for e in entries.iter().take(10_000) {
        let is_sig = e.annotations.get(annotation::REF_NAME) == Some(&tag);
        if !is_sig && e.artifact_type.as_deref() != Some(BUNDLE_V03) {
            continue;
        }
        if out.len() >= MAX_CANDIDATES || e.size > MAX_DOC {
            continue;
        }
        let Ok(m) = blobs.read_verified(&e.digest, Some(e.size), MAX_DOC) else {
            continue;
        };
        if is_sig {
            for (l, signature) in sig_layers(&m) {
                if let Ok(payload) = blobs.read_verified(&l.digest, Some(l.size), MAX_DOC) {
                    out.push(Candidate::Legacy {
                        origin: format!("tag {tag}"),
                        payload,
                        signature,
                    });
                }
            }
        } else if let Some(layer) = bundle_layer(&m, subject)
            && let Ok(bytes) = blobs.read_verified(&layer.digest, Some(layer.size), MAX_DOC)
        {
            out.push(Candidate::Bundle {
                origin: format!("referrer {}", e.digest),
                bytes,
            });
        }
    }
    Ok(out)
}
