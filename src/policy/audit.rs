//! The audit driver: reads every layer blob of an image once (in parallel,
//! verifying digest, size and diffID), feeds the merged view and the
//! per-layer secret scanner, then hands both to [`super::evaluate`].
//!
//! Apart from the engine in `mod.rs` because it is about reading blobs
//! (hostile, possibly large) rather than judging what they contain.

use super::layer_scan::{self, DistroCandidate, scan_content, scan_content_digested};
use super::{AuditInput, Finding, LayerScanner, Policy, Report, evaluate};
use crate::digest::{Digest, HashingReader};
use crate::fs::{CaptureSet, LayerEvent, MergedTree, ReadError, ReadOptions, read_layer};
use crate::image::{LayerBlob, PlatformImage};
use crate::store::blobs::{BlobError, BlobStore};
use std::collections::BTreeMap;
use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;

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
    scan_layers_with(layers, blobs, &BTreeMap::new())
}

/// Layers the caller wrote itself in this process, keyed by layer digest,
/// with their content already judged by the secret detector (the build does
/// that while writing). Such a layer is not read back: its entries feed the
/// merged view, and each file's findings are exactly the verdict the
/// detector gave during the write (a file without a recorded verdict is
/// judged by its name alone). A layer whose entries include a file the tree
/// captures (account or package files) is still read, since the checks need
/// those bytes.
pub type Prepared = BTreeMap<Digest, PreparedLayer>;

/// The secret detector's hits per file, recorded while a layer was written.
pub type Verdicts = BTreeMap<crate::fs::ImagePath, Vec<crate::secrets::SecretHit>>;

/// One layer of [`Prepared`].
#[derive(Clone, Debug, Default)]
pub struct PreparedLayer {
    pub entries: Vec<crate::fs::Entry>,
    pub verdicts: Verdicts,
}

/// [`scan_layers`] with some layers taken from `prepared` instead of their blobs.
///
/// Layers are read and scanned on up to [`LAYER_WORKERS`] threads at once
/// (inflating and hashing is most of an audit, one core per layer), while
/// this thread applies their results strictly bottom-up: the merged view,
/// the hiding notes and the first error reported are exactly those of a
/// serial read.
pub fn scan_layers_with(
    layers: &[LayerBlob],
    blobs: &BlobStore,
    prepared: &Prepared,
) -> Result<(MergedTree, Vec<Finding>), AuditError> {
    let capture = CaptureSet::standard();
    let mut tree = MergedTree::with_capture(capture.clone());
    let mut scanner = LayerScanner::new();
    // With xattrs: file capabilities and ACLs are findings (FS-004, FS-005).
    let opts = ReadOptions {
        keep_xattrs: true,
        ..ReadOptions::default()
    };
    let from_prepared = |layer: &LayerBlob| {
        prepared
            .get(&layer.digest)
            .filter(|p| !p.entries.iter().any(|e| capture.matches(&e.path)))
    };
    let todo: Vec<usize> = (0..layers.len())
        .filter(|&i| layers.get(i).is_some_and(|l| from_prepared(l).is_none()))
        .collect();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, LAYER_WORKERS)
        .min(todo.len().max(1));
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..layers.len())
        .map(|_| sync_channel::<Result<Vec<Scanned>, AuditError>>(1))
        .unzip();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = todo.get(k) else { return };
                    let (Some(layer), Some(tx)) = (layers.get(i), txs.get(i)) else {
                        return;
                    };
                    // Each channel gets exactly one message and has room
                    // for it, so this never blocks.
                    let _ = tx.send(read_and_scan(i, layer, blobs, &capture, &opts));
                }
            });
        }
        let applied = (|| {
            for (index, layer) in layers.iter().enumerate() {
                let digest = &layer.digest;
                let read_err = |source: ReadError| AuditError::Read {
                    index,
                    digest: digest.clone(),
                    source,
                };
                let records = match from_prepared(layer) {
                    // Content was judged while the layer was written: keep
                    // that verdict (the name alone for a file without one).
                    Some(p) => p
                        .entries
                        .iter()
                        .map(|e| {
                            let ev = LayerEvent::Entry(e.clone());
                            let found = match &ev {
                                LayerEvent::Entry(e) if e.is_file() => {
                                    match p.verdicts.get(&e.path) {
                                        Some(hits) => {
                                            layer_scan::findings(digest, &e.path, hits.clone())
                                        }
                                        None => {
                                            scan_content(digest, &e.path, &mut io::empty(), &mut [])
                                                .map_err(|e| read_err(ReadError::Io(e)))?
                                        }
                                    }
                                }
                                _ => Vec::new(),
                            };
                            Ok(Scanned {
                                ev,
                                captured: Vec::new(),
                                found,
                                distro: None,
                            })
                        })
                        .collect::<Result<Vec<_>, AuditError>>()?,
                    None => rxs
                        .get(index)
                        .and_then(|rx| rx.recv().ok())
                        .unwrap_or_else(|| {
                            Err(read_err(ReadError::Io(io::Error::other(
                                "the layer reader thread stopped unexpectedly",
                            ))))
                        })?,
                };
                for r in records {
                    tree.apply(index, &r.ev, &mut r.captured.as_slice())
                        .map_err(|e| read_err(e.into()))?;
                    scanner.observe_scanned_digested(digest, &r.ev, r.found, r.distro);
                }
            }
            Ok(())
        })();
        // On an error, start no further layers (those running finish).
        next.store(todo.len(), Ordering::Relaxed);
        applied
    })?;
    // Layers the build wrote itself are never distro content, nor may their
    // files vouch for a base file (`distro_content`, rule 4).
    let digests: Vec<Digest> = layers.iter().map(|l| l.digest.clone()).collect();
    let trusted = |d: &Digest| !prepared.contains_key(d);
    let findings = scanner.finish_judged(&tree, &digests, &trusted);
    Ok((tree, findings))
}

/// Layers read at once by an audit: enough for the cores of a CI runner,
/// few enough that their buffers stay small.
pub const LAYER_WORKERS: usize = 4;

/// One event of a layer, with the small file the merged view captures (if
/// any) and the secret findings of its content.
struct Scanned {
    ev: LayerEvent,
    captured: Vec<u8>,
    found: Vec<Finding>,
    /// Checksums of a file whose key-material findings may be distro content.
    distro: Option<DistroCandidate>,
}

/// Reads one layer blob, verifying its digest, size and diffID, and scans
/// every file's content; the results are applied in order by the caller.
fn read_and_scan(
    index: usize,
    layer: &LayerBlob,
    blobs: &BlobStore,
    capture: &CaptureSet,
    opts: &ReadOptions,
) -> Result<Vec<Scanned>, AuditError> {
    let digest = &layer.digest;
    if !crate::image::media::is_layer(&layer.media_type) {
        return Err(AuditError::NotALayer {
            index,
            digest: digest.clone(),
            media_type: layer.media_type.chars().take(200).collect(),
        });
    }
    let limit = capture.limit();
    let file = blobs.open_read(digest).map_err(|source| AuditError::Blob {
        index,
        digest: digest.clone(),
        source,
    })?;
    let mut hr = HashingReader::new(BufReader::with_capacity(1 << 16, file));
    let mut records = Vec::new();
    let mut buf = vec![0u8; SCAN_CHUNK];
    let result = read_layer(&mut hr, opts, |ev, content| {
        let (captured, found, distro) = match &ev {
            LayerEvent::Entry(e) if e.is_file() => {
                let mut captured = Vec::new();
                if capture.matches(&e.path) && e.size <= limit {
                    // The tree keeps this small file; the scanner sees the
                    // same bytes followed by whatever was not captured.
                    content
                        .take(limit.saturating_add(1))
                        .read_to_end(&mut captured)?;
                }
                let (found, distro) = scan_content_digested(
                    digest,
                    &e.path,
                    &mut captured.as_slice().chain(content),
                    &mut buf,
                )?;
                (captured, found, distro)
            }
            _ => (Vec::new(), Vec::new(), None),
        };
        records.push(Scanned {
            ev,
            captured,
            found,
            distro,
        });
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
    Ok(records)
}

/// Bytes read per `read` call while a file streams through the scanner.
const SCAN_CHUNK: usize = 64 * 1024;

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
    audit_image_with(image, blobs, policy, &BTreeMap::new())
}

/// [`audit_image`] for an image the caller just built: layers in `prepared`
/// are not read back (see [`Prepared`]).
pub fn audit_image_with(
    image: &PlatformImage,
    blobs: &BlobStore,
    policy: &Policy,
    prepared: &Prepared,
) -> Result<Report, AuditError> {
    check_rootfs(image)?;
    let (tree, layer_findings) = scan_layers_with(&image.layers, blobs, prepared)?;
    let annotations = manifest_annotations(&image.manifest_bytes);
    let input = AuditInput {
        config: &image.config,
        tree: &tree,
        layer_findings,
        annotations: &annotations,
    };
    Ok(evaluate(&input, policy))
}

#[cfg(test)]
#[path = "audit_tests.rs"]
pub(crate) mod tests;
