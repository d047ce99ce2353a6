//! What an image archive's index reaches, fetched level by level.
//!
//! An archive is hostile: a 37 KB gzip'd tar can hold gigabytes of members
//! that no manifest mentions. So nothing is extracted by listing: starting
//! from `index.json`, each pass over the archive fetches the manifests and
//! indexes the previous level named (each at most [`MAX_DOC`] bytes), and the
//! last pass fetches the configs and layers they reference. Every blob is
//! checked against its descriptor's size before it is fetched, and the total
//! is capped by [`max_bytes`] before anything is written.

use crate::digest::Digest;
use crate::image::media;
use crate::store::MAX_DOC;
use crate::store::archive::Catalog;
use crate::store::blobs::BlobStore;
use crate::store::error::StoreError;
use std::collections::BTreeSet;

/// The default cap on what one archive may write to disk: 64 GiB.
pub const DEFAULT_MAX_ARCHIVE_BYTES: u64 = 64 << 30;

/// The cap on the bytes one archive read may write: `IRONHULL_MAX_ARCHIVE_BYTES`
/// (a byte count) or [`DEFAULT_MAX_ARCHIVE_BYTES`].
pub fn max_bytes() -> u64 {
    std::env::var("IRONHULL_MAX_ARCHIVE_BYTES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_ARCHIVE_BYTES)
}

/// Nesting deeper than this is not an image (an index of indexes of
/// manifests is two levels).
const MAX_DEPTH: usize = 8;

/// One reference found in a document.
struct Reach {
    digest: Digest,
    size: u64,
    doc: bool,
}

fn is_doc(media_type: &str) -> bool {
    matches!(
        media_type,
        media::OCI_INDEX | media::OCI_MANIFEST | media::DOCKER_MANIFEST | media::DOCKER_LIST
    )
}

/// The descriptors a manifest or index names (`manifests[]`, `config`,
/// `layers[]`). Descriptors that do not parse are left for the resolver,
/// which reports them with their location.
fn children(doc: &serde_json::Value) -> Vec<Reach> {
    let mut out = Vec::new();
    let mut add = |d: &serde_json::Value| {
        let (Some(digest), Some(size)) = (
            d.get("digest")
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse::<Digest>().ok()),
            d.get("size").and_then(|v| v.as_u64()),
        ) else {
            return;
        };
        let media_type = d.get("mediaType").and_then(|v| v.as_str()).unwrap_or("");
        out.push(Reach {
            digest,
            size,
            doc: is_doc(media_type),
        });
    };
    for key in ["manifests", "layers"] {
        for d in doc
            .get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            add(d);
        }
    }
    if let Some(c) = doc.get("config") {
        add(c);
    }
    out
}

/// Fetches everything `index_json` reaches in the archive into `store`.
/// `strict`: a descriptor whose size disagrees with the archive, or a
/// document over the size limit, is an error (OCI archives); otherwise it is
/// skipped and left for the resolver to judge (the OCI half of a docker 25+
/// save, which falls back to `manifest.json`).
pub(crate) fn fetch_reach(
    cat: &mut Catalog,
    store: &BlobStore,
    index_json: &[u8],
    origin: &str,
    strict: bool,
) -> Result<(), StoreError> {
    let index: serde_json::Value = match serde_json::from_slice(index_json) {
        Ok(v) => v,
        // The resolver reports the JSON error with its location.
        Err(_) => return Ok(()),
    };
    let mut level = children(&index);
    let mut seen: BTreeSet<Digest> = BTreeSet::new();
    let mut leaves: BTreeSet<String> = BTreeSet::new();
    for _ in 0..MAX_DEPTH {
        let mut docs: BTreeSet<String> = BTreeSet::new();
        let mut doc_digests = Vec::new();
        for r in level.drain(..) {
            if !seen.insert(r.digest.clone()) {
                continue;
            }
            let path = format!("blobs/sha256/{}", r.digest.hex());
            let Some(actual) = cat.size_of(&path) else {
                continue; // missing: the resolver says which and where
            };
            let bad = if actual != r.size {
                Some(format!(
                    "the archive holds {actual} bytes for {}, but a descriptor declares {}",
                    r.digest, r.size
                ))
            } else if r.doc && r.size > MAX_DOC {
                Some(format!(
                    "manifest {} is {} bytes, over the {MAX_DOC}-byte limit for metadata",
                    r.digest, r.size
                ))
            } else {
                None
            };
            if let Some(why) = bad {
                if strict {
                    return Err(StoreError::corrupt(format!("{origin} entry {path}"), why));
                }
                continue;
            }
            if r.doc {
                docs.insert(path);
                doc_digests.push(r.digest);
            } else {
                leaves.insert(path);
            }
        }
        if docs.is_empty() {
            break;
        }
        cat.fetch(store, &docs)?;
        for d in doc_digests {
            let Ok(bytes) = store.read_verified(&d, None, MAX_DOC) else {
                continue;
            };
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                level.extend(children(&v));
            }
        }
    }
    cat.fetch(store, &leaves)
}
