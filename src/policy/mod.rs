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
pub mod distro_content;
pub mod file;
mod layer_scan;
mod privilege;
pub mod render;
pub mod report;
mod secret_checks;

pub use catalog::{Check, Severity, SeverityError, catalog};
pub use file::{Policy, PolicyError};
pub use layer_scan::{DistroCandidate, LayerScanner, scan_content, scan_content_digested};
pub use report::{Finding, Report, Summary, Waived};

use crate::digest::{Digest, HashingReader};
use crate::fs::{CaptureSet, LayerEvent, MergedTree, ReadError, ReadOptions, read_layer};
use crate::image::{LayerBlob, PlatformImage};
use crate::store::blobs::{BlobError, BlobStore};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;

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
pub(crate) mod tests {
    use super::*;
    use crate::fs::{Entry, EntryKind, ImagePath};
    use serde_json::{Value, json};

    fn p(s: &str) -> ImagePath {
        ImagePath::parse(s).unwrap()
    }

    /// A tiny image: config + tree + annotations, clean by default.
    struct Img {
        config: Value,
        tree: MergedTree,
        annotations: BTreeMap<String, String>,
        layer_findings: Vec<Finding>,
    }

    impl Img {
        fn clean() -> Self {
            let mut tree = MergedTree::with_capture(CaptureSet::standard());
            for d in ["app", "etc", "tmp", "usr", "usr/bin"] {
                tree.insert(0, Entry::new(p(d), EntryKind::Dir, 0o755));
            }
            tree.insert(0, Entry::new(p("tmp"), EntryKind::Dir, 0o1777));
            tree.insert(0, Entry::new(p("app/server"), EntryKind::File, 0o755));
            let mut img = Self {
                config: json!({
                    "architecture": "amd64",
                    "os": "linux",
                    "config": {
                        "User": "10001:10001",
                        "Env": ["PATH=/usr/bin", "LANG=C.UTF-8"],
                        "Entrypoint": ["/app/server"],
                        "Cmd": ["--port", "8080"],
                        "ExposedPorts": {"8080/tcp": {}},
                        "Healthcheck": {"Test": ["CMD", "/app/server", "--health"]},
                        "Labels": {"org.opencontainers.image.source": "https://example.com/app"},
                    },
                    "history": [{"created_by": "ironhull: artifacts"}],
                }),
                tree,
                annotations: BTreeMap::new(),
                layer_findings: Vec::new(),
            };
            img.file(
                "etc/passwd",
                0o644,
                b"app:x:10001:10001::/home/app:/sbin/nologin\n",
            );
            img.file("etc/group", 0o644, b"app:x:10001:\n");
            img.file("etc/shadow", 0o640, b"app:!::0:::::\n");
            img
        }

        fn file(&mut self, path: &str, mode: u32, content: &[u8]) -> &mut Self {
            let mut e = Entry::new(p(path), EntryKind::File, mode);
            e.size = content.len() as u64;
            self.tree
                .apply(0, &LayerEvent::Entry(e), &mut &content[..])
                .unwrap();
            self
        }

        fn link(&mut self, path: &str, target: &str) -> &mut Self {
            self.tree.insert(
                0,
                Entry::new(
                    p(path),
                    EntryKind::Symlink {
                        target: target.into(),
                    },
                    0o777,
                ),
            );
            self
        }

        fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
            self.tree
                .insert(0, Entry::new(p(path), EntryKind::Dir, mode));
            self
        }

        fn cfg(&mut self, key: &str, v: Value) -> &mut Self {
            self.config["config"][key] = v;
            self
        }

        fn report(&self) -> Report {
            self.report_with(&Policy::default())
        }

        fn report_with(&self, policy: &Policy) -> Report {
            evaluate(
                &AuditInput {
                    config: &self.config,
                    tree: &self.tree,
                    layer_findings: self.layer_findings.clone(),
                    annotations: &self.annotations,
                },
                policy,
            )
        }

        fn ids(&self) -> BTreeSet<&'static str> {
            self.report().ids()
        }
    }

    fn set(ids: &[&'static str]) -> BTreeSet<&'static str> {
        ids.iter().copied().collect()
    }

    #[test]
    fn clean_image_has_no_findings() {
        let r = Img::clean().report();
        assert!(r.findings.is_empty(), "{:#?}", r.findings);
        assert_eq!(r.max_severity(), None);
    }

    #[test]
    fn each_check_triggers_alone() {
        type Mutate = fn(&mut Img);
        let cases: &[(&str, Mutate, &[&str])] = &[
            (
                "no user",
                |i| {
                    i.cfg("User", json!(""));
                },
                &["USR-001"],
            ),
            (
                "uid 0 with group",
                |i| {
                    i.cfg("User", json!("0:1000"));
                },
                &["USR-001"],
            ),
            (
                "name mapping to uid 0",
                |i| {
                    i.file(
                        "etc/passwd",
                        0o644,
                        b"app:x:10001:10001::/:/sbin/nologin\ntoor:x:0:0::/:/sbin/nologin\n",
                    );
                    i.cfg("User", json!("toor"));
                },
                &["USR-001"],
            ),
            (
                "unknown user name",
                |i| {
                    i.cfg("User", json!("ghost"));
                },
                &["USR-002"],
            ),
            (
                "empty password",
                |i| {
                    i.file("etc/shadow", 0o640, b"app:::0:::::\n");
                },
                &["USR-003"],
            ),
            (
                "duplicate uid",
                |i| {
                    i.file("etc/passwd", 0o644, b"app:x:10001:10001::/:/sbin/nologin\ntwin:x:10001:10002::/:/sbin/nologin\n");
                },
                &["USR-004"],
            ),
            (
                "duplicate gid",
                |i| {
                    i.file("etc/group", 0o644, b"app:x:10001:\nother:x:10001:\n");
                },
                &["USR-004"],
            ),
            (
                "login shell",
                |i| {
                    i.file(
                        "etc/passwd",
                        0o644,
                        b"app:x:10001:10001::/home/app:/bin/bash\n",
                    );
                },
                &["USR-005"],
            ),
            (
                "empty shell field",
                |i| {
                    i.file("etc/passwd", 0o644, b"app:x:10001:10001::/home/app:\n");
                },
                &["USR-005"],
            ),
            (
                "shell binary",
                |i| {
                    i.file("usr/bin/bash", 0o755, b"\x7fELF");
                },
                &["SH-001"],
            ),
            (
                "busybox anywhere",
                |i| {
                    i.dir("opt", 0o755).file("opt/busybox", 0o755, b"\x7fELF");
                },
                &["SH-001"],
            ),
            (
                "symlink to busybox applet",
                |i| {
                    i.dir("opt", 0o755)
                        .file("opt/busybox", 0o755, b"\x7fELF")
                        .link("usr/bin/ls", "../../opt/busybox");
                },
                &["SH-001"],
            ),
            (
                "shell form entrypoint",
                |i| {
                    i.file("usr/bin/sh", 0o755, b"\x7fELF");
                    i.cfg("Entrypoint", json!(["/bin/sh", "-c", "/app/server"]));
                },
                &["SH-001", "SH-002"],
            ),
            (
                "string entrypoint",
                |i| {
                    i.cfg("Entrypoint", json!("/app/server --port 1"));
                },
                &["SH-002"],
            ),
            (
                "missing argv0",
                |i| {
                    i.cfg("Entrypoint", json!(["/app/missing"]));
                },
                &["SH-002"],
            ),
            (
                "argv0 not executable",
                |i| {
                    i.file("app/server", 0o644, b"x");
                },
                &["SH-002"],
            ),
            (
                "bare argv0 not on PATH",
                |i| {
                    i.cfg("Entrypoint", json!(["server"]));
                },
                &["SH-002"],
            ),
            (
                "package manager",
                |i| {
                    i.file("usr/bin/pip3", 0o755, b"#!python");
                },
                &["PKG-001"],
            ),
            (
                "pip module",
                |i| {
                    i.dir("usr/lib", 0o755)
                        .dir("usr/lib/python3.12", 0o755)
                        .dir("usr/lib/python3.12/site-packages", 0o755)
                        .dir("usr/lib/python3.12/site-packages/pip", 0o755);
                },
                &["PKG-001"],
            ),
            (
                "apt lists",
                |i| {
                    i.dir("var", 0o755)
                        .dir("var/lib", 0o755)
                        .dir("var/lib/apt", 0o755)
                        .dir("var/lib/apt/lists", 0o755)
                        .file("var/lib/apt/lists/lock", 0o640, b"")
                        .file(
                            "var/lib/apt/lists/deb.debian.org_dists_Release",
                            0o644,
                            b"x",
                        );
                },
                &["PKG-002"],
            ),
            (
                "deb file",
                |i| {
                    i.file("tmp/x.deb", 0o644, b"!<arch>");
                },
                &["PKG-002"],
            ),
            (
                "git dir",
                |i| {
                    i.dir("app/.git", 0o755)
                        .file("app/.git/config", 0o644, b"[core]");
                },
                &["FS-001"],
            ),
            (
                "Dockerfile",
                |i| {
                    i.file("app/Dockerfile", 0o644, b"FROM x");
                },
                &["FS-001"],
            ),
            (
                "setuid",
                |i| {
                    i.file("usr/bin/su-exec", 0o4755, b"\x7fELF");
                },
                &["FS-002"],
            ),
            (
                "file capability",
                |i| {
                    let mut e = Entry::new(p("app/ping"), EntryKind::File, 0o755);
                    e.xattrs
                        .insert("security.capability".into(), vec![1, 0, 0, 2, 0x80]);
                    i.tree.insert(0, e);
                },
                &["FS-004"],
            ),
            (
                "posix acl",
                |i| {
                    let mut e = Entry::new(p("app/shared"), EntryKind::Dir, 0o755);
                    e.xattrs
                        .insert("system.posix_acl_default".into(), vec![2, 0, 0, 0]);
                    e.xattrs.insert("user.ok".into(), vec![1]);
                    i.tree.insert(0, e);
                },
                &["FS-005"],
            ),
            (
                "user in a privileged group",
                |i| {
                    i.file("etc/group", 0o644, b"app:x:10001:\nsudo:x:27:app\n");
                },
                &["USR-006"],
            ),
            (
                "primary group is shadow",
                |i| {
                    i.cfg("User", json!("10001:42"));
                    i.file("etc/group", 0o644, b"app:x:10001:\nshadow:x:42:\n");
                },
                &["USR-006"],
            ),
            (
                "world-writable file",
                |i| {
                    i.file("app/data", 0o666, b"");
                },
                &["FS-003"],
            ),
            (
                "world-writable dir without sticky",
                |i| {
                    i.dir("app/cache", 0o777);
                },
                &["FS-003"],
            ),
            (
                "secret file name",
                |i| {
                    i.file("app/id_rsa", 0o600, b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n");
                },
                &["SEC-001"],
            ),
            (
                "secret env",
                |i| {
                    i.cfg(
                        "Env",
                        json!(["PATH=/usr/bin", "DB_PASSWORD=hunter2hunter2"]),
                    );
                },
                &["SEC-003"],
            ),
            (
                "secret in history",
                |i| {
                    i.config["history"] =
                        json!([{"created_by": "/bin/sh -c #(nop) ENV API_TOKEN=abcdef123456"}]);
                },
                &["SEC-003"],
            ),
            (
                "token in label",
                |i| {
                    i.cfg(
                        "Labels",
                        json!({"ci.note": "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"}),
                    );
                },
                &["SEC-003"],
            ),
            (
                "no healthcheck",
                |i| {
                    i.cfg("Healthcheck", json!({"Test": ["NONE"]}));
                },
                &["CFG-001"],
            ),
            (
                "proc volume",
                |i| {
                    i.cfg("Volumes", json!({"/proc/sys": {}, "/data": {}}));
                },
                &["CFG-002"],
            ),
            (
                "ssh port",
                |i| {
                    i.cfg("ExposedPorts", json!({"22/tcp": {}, "8080/tcp": {}}));
                },
                &["CFG-003"],
            ),
            (
                "base by tag",
                |i| {
                    i.annotations.insert(
                        crate::image::annotation::BASE_NAME.into(),
                        "docker.io/library/alpine:3.20".into(),
                    );
                },
                &["SRC-001"],
            ),
        ];
        let mut covered = BTreeSet::new();
        for (name, mutate, want) in cases {
            let mut img = Img::clean();
            mutate(&mut img);
            assert_eq!(
                img.ids(),
                set(want),
                "case {name:?}: {:#?}",
                img.report().findings
            );
            covered.extend(want.iter().copied());
        }
        // Every catalog check except the per-layer SEC-002/SEC-004 is exercised here.
        let all: BTreeSet<_> = catalog()
            .iter()
            .map(|c| c.id)
            .filter(|id| !matches!(*id, "SEC-002" | "SEC-004"))
            .collect();
        assert_eq!(covered, all);
    }

    #[test]
    fn clean_variants_do_not_trigger() {
        let mut img = Img::clean();
        // Locked root with nologin, pinned base, sticky tmp, dangling sh link,
        // sh outside PATH, CA bundle, public key.
        img.file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/sbin/nologin\nsync:x:5:0:sync:/sbin:/bin/sync\napp:x:10001:10001::/home/app:/sbin/nologin\n",
        )
        .file("etc/shadow", 0o640, b"root:*::0:::::\napp:!::0:::::\n")
        .dir("usr/share", 0o755)
        .file("usr/share/sh", 0o644, b"docs")
        .link("usr/bin/sh", "/usr/bin/busybox")
        .dir("etc/ssl", 0o755)
        .file("etc/ssl/cert.pem", 0o644, b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        .dir("var", 0o755)
        .dir("var/cache", 0o755)
        .dir("var/cache/apk", 0o755)
        .file("app/.gitignore", 0o644, b"target\n")
        .cfg("User", json!("app"))
        .cfg("Env", json!(["PATH=/usr/bin", "PASSWORD_FILE=/run/secrets/db"]))
        .cfg("Volumes", json!({"/data": {}}));
        img.annotations.insert(
            crate::image::annotation::BASE_NAME.into(),
            "docker.io/library/alpine@sha256:beefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeef".into(),
        );
        let r = img.report();
        assert!(r.findings.is_empty(), "{:#?}", r.findings);
    }

    #[test]
    fn hostile_config_does_not_panic() {
        for cfg in [
            json!(null),
            json!([]),
            json!({"config": 3}),
            json!({"config": {"User": 0, "Env": [1, "=", "NOEQ"], "Entrypoint": [null], "Cmd": {}, "Volumes": [], "ExposedPorts": "22", "Labels": [1], "Healthcheck": "x"}, "history": [{"created_by": 7}, "x"]}),
        ] {
            let mut img = Img::clean();
            img.config = cfg;
            let r = img.report();
            assert!(r.ids().contains("USR-001"), "{:?}", r.ids());
        }
    }

    #[test]
    fn policy_overrides_and_waivers_apply() {
        let mut img = Img::clean();
        img.cfg("Healthcheck", Value::Null);
        img.dir("app/.git", 0o755);
        let policy = Policy::parse(
            "[severity]\n\"CFG-001\" = \"medium\"\n[[allow]]\ncheck = \"FS-001\"\npath = \"/app/.git\"\nreason = \"needed\"\n",
            std::path::Path::new("p.toml"),
        )
        .unwrap();
        let r = img.report_with(&policy);
        assert_eq!(r.ids(), set(&["CFG-001"]));
        assert_eq!(r.findings[0].severity, Severity::Medium);
        assert_eq!(r.waived.len(), 1);
        assert!(r.fails(Severity::Medium));
    }

    #[test]
    fn layer_secret_files_are_not_double_counted() {
        let mut img = Img::clean();
        img.file("app/.netrc", 0o600, b"machine x login y password z\n");
        let d = Digest::of(b"layer");
        img.layer_findings = vec![
            Finding::new("SEC-001", Some("/app/.netrc".into()), "from the layer").in_layer(&d),
        ];
        let r = img.report();
        assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
        assert_eq!(r.findings[0].layer.as_ref(), Some(&d));
    }
    // ---- the driver over real layer blobs --------------------------------

    use crate::fs::read::tests::{T, gz};
    use crate::image::{Platform, media};

    pub(crate) fn store_layer(store: &BlobStore, tar: &[u8]) -> LayerBlob {
        let blob = gz(tar);
        let digest = store.put(&blob).unwrap();
        LayerBlob {
            media_type: media::OCI_LAYER_GZIP.into(),
            digest,
            size: blob.len() as u64,
            diff_id: Digest::of(tar),
        }
    }

    pub(crate) fn platform_image(layers: Vec<LayerBlob>, config: Value) -> PlatformImage {
        let manifest = json!({"schemaVersion": 2, "annotations": {
            "org.opencontainers.image.base.name": "docker.io/library/debian:12"}});
        let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
        let config_bytes = serde_json::to_vec(&config).unwrap();
        PlatformImage {
            platform: Platform::linux("amd64", None),
            manifest_digest: Digest::of(&manifest_bytes),
            manifest_bytes,
            manifest_media_type: media::OCI_MANIFEST.into(),
            config_digest: Digest::of(&config_bytes),
            config_bytes,
            config,
            layers,
        }
    }

    const KEY: &[u8] = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----\n";

    #[test]
    fn secret_deleted_in_a_later_layer_is_reported_with_its_layer() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let l1 = store_layer(
            &store,
            &T::new()
                .dir("app")
                .file_mode("app/server", 0o755, b"\x7fELF")
                .file("app/deploy.key", KEY)
                .file(
                    "app/config.txt",
                    b"token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n",
                )
                .finish(),
        );
        let l2 = store_layer(
            &store,
            &T::new()
                .file("app/.wh.deploy.key", b"")
                .file("app/config.txt", b"clean\n")
                .finish(),
        );
        let config = json!({"config": {"User": "10001", "Entrypoint": ["/app/server"],
            "Healthcheck": {"Test": ["CMD", "/app/server"]}},
            "rootfs": {"type": "layers", "diff_ids": [l1.diff_id.to_string(), l2.diff_id.to_string()]}});
        let img = platform_image(vec![l1.clone(), l2.clone()], config);
        let r = audit_image(&img, &store, &Policy::default()).unwrap();
        assert_eq!(
            r.ids(),
            set(&["SEC-001", "SEC-002", "SRC-001"]),
            "{:#?}",
            r.findings
        );
        let key_findings: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.path.as_deref() == Some("/app/deploy.key"))
            .collect();
        assert!(key_findings.iter().any(|f| f.id == "SEC-001"));
        assert!(key_findings.iter().any(|f| f.id == "SEC-002"));
        for f in &key_findings {
            assert_eq!(f.layer.as_ref(), Some(&l1.digest), "{f:?}");
            assert!(
                f.message.contains("deleted by the later layer"),
                "{}",
                f.message
            );
            assert!(f.message.contains(&l2.digest.to_string()), "{}", f.message);
            assert!(
                !f.message.contains("MIIEow"),
                "secret leaked: {}",
                f.message
            );
        }
        let tok = r
            .findings
            .iter()
            .find(|f| f.path.as_deref() == Some("/app/config.txt"))
            .unwrap();
        assert_eq!(tok.id, "SEC-002");
        assert_eq!(tok.layer.as_ref(), Some(&l1.digest));
        assert!(tok.message.contains("overwritten"), "{}", tok.message);
        assert!(!tok.message.contains("0123456789abcdef"), "{}", tok.message);
    }

    #[test]
    fn verifies_digest_size_diff_id_and_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let tar = T::new().file("a", b"x").finish();
        let good = store_layer(&store, &tar);
        let cfg = |ids: Vec<String>| json!({"rootfs": {"diff_ids": ids}});

        let mut bad = good.clone();
        bad.diff_id = Digest::of(b"other");
        let e = scan_layers(&[bad], &store).unwrap_err();
        assert!(matches!(e, AuditError::DiffIdMismatch { .. }), "{e}");

        let mut bad = good.clone();
        bad.size += 1;
        let e = scan_layers(&[bad], &store).unwrap_err();
        assert!(matches!(e, AuditError::SizeMismatch { .. }), "{e}");

        // A blob whose bytes were swapped under its name.
        let other = gz(&T::new().file("b", b"y").finish());
        std::fs::write(store.path(&good.digest), &other).unwrap();
        let e = scan_layers(std::slice::from_ref(&good), &store).unwrap_err();
        assert!(matches!(e, AuditError::DigestMismatch { .. }), "{e}");

        let e = scan_layers(
            &[store_layer(&store, &tar)],
            &BlobStore::existing(dir.path().join("nope")),
        )
        .unwrap_err();
        assert!(matches!(e, AuditError::Blob { .. }), "{e}");

        let img = platform_image(
            vec![store_layer(&store, &tar)],
            cfg(vec![Digest::of(b"z").to_string()]),
        );
        let e = audit_image(&img, &store, &Policy::default()).unwrap_err();
        assert!(matches!(e, AuditError::RootfsMismatch { .. }), "{e}");

        let mut weird = store_layer(&store, &tar);
        weird.media_type = "application/json".into();
        assert!(matches!(
            scan_layers(&[weird], &store),
            Err(AuditError::NotALayer { .. })
        ));
    }

    #[test]
    fn layers_read_in_parallel_report_like_a_serial_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        // Many layers, so several worker threads race: the first bad layer
        // bottom-up is reported, whichever thread finishes first.
        let mut layers: Vec<LayerBlob> = (0..12)
            .map(|i| {
                let body = format!("AKIAIOSFODNN7EXAMPL{i:X} layer {i}");
                store_layer(&store, &T::new().file("creds", body.as_bytes()).finish())
            })
            .collect();
        let (_, found) = scan_layers(&layers, &store).unwrap();
        // Every layer's copy of /creds is reported, in layer order, and all
        // but the top one are marked as overwritten later.
        let sec: Vec<&Finding> = found.iter().filter(|f| f.id == "SEC-002").collect();
        assert_eq!(sec.len(), 12);
        for (f, l) in sec.iter().zip(&layers) {
            assert!(f.message.contains("AKIA"), "{}", f.message);
            assert_eq!(f.layer.as_ref(), Some(&l.digest));
        }
        assert_eq!(
            sec.iter()
                .filter(|f| f.message.contains("overwritten"))
                .count(),
            11
        );
        for bad in [7, 3] {
            layers[bad].diff_id = Digest::of(b"other");
        }
        for _ in 0..5 {
            match scan_layers(&layers, &store) {
                Err(AuditError::DiffIdMismatch { index, .. }) => assert_eq!(index, 3),
                other => panic!("{:?}", other.err().map(|e| e.to_string())),
            }
        }
    }

    fn fixture(name: &str) -> Option<std::path::PathBuf> {
        let base = std::env::var_os("IRONHULL_FIXTURES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
            });
        let p = base.join(name);
        if p.is_file() {
            return Some(p);
        }
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("fixture {} missing and CI=true", p.display());
        }
        eprintln!(
            "skipping: fixture {} not found (set IRONHULL_FIXTURES)",
            p.display()
        );
        None
    }

    /// The real Alpine minirootfs as one layer, with a config without User.
    /// Expected: SH-001 (busybox and its applet links), PKG-001 (/sbin/apk,
    /// and /lib/libapk.so by content),
    /// USR-001 (no User), USR-005 (root's login shell is /bin/sh: genuinely in
    /// /etc/passwd), CFG-001 (no HEALTHCHECK: info). Nothing else: no setuid
    /// files, /tmp and /var/tmp are sticky, shadow is locked, the apk cache is
    /// empty, and /etc/ssl/cert.pem is a CA bundle, not a key.
    #[test]
    fn alpine_minirootfs() {
        let Some(path) = fixture("alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz") else {
            return;
        };
        let blob = std::fs::read(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let digest = store.put(&blob).unwrap();
        let mut dec = flate2::read::MultiGzDecoder::new(&blob[..]);
        let (diff_id, _) = crate::digest::digest_reader(&mut dec).unwrap();
        let layer = LayerBlob {
            media_type: media::OCI_LAYER_GZIP.into(),
            digest,
            size: blob.len() as u64,
            diff_id,
        };
        let config = json!({"architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}});
        let mut img = platform_image(vec![layer], config);
        img.manifest_bytes = b"{}".to_vec();
        let r = audit_image(&img, &store, &Policy::default()).unwrap();
        assert_eq!(
            r.ids(),
            set(&["CFG-001", "PKG-001", "SH-001", "USR-001", "USR-005"]),
            "{}",
            render::to_text("alpine", &r, false)
        );
        let sh: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.id == "SH-001")
            .filter_map(|f| f.path.as_deref())
            .collect();
        for want in ["/bin/busybox", "/bin/sh", "/bin/ash", "/bin/ls"] {
            assert!(sh.contains(&want), "{want} missing from SH-001");
        }
        let pkg: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.id == "PKG-001")
            .filter_map(|f| f.path.as_deref())
            .collect();
        // apk's front end by name, its engine library by content (the
        // strings of the apk database and configuration paths).
        assert_eq!(pkg, ["/lib/libapk.so.2.14.0", "/sbin/apk"]);
        assert_eq!(r.max_severity(), Some(Severity::Critical));
        eprintln!("{}", render::to_text("alpine", &r, false));

        // The same image with the real alpine config's Cmd adds SH-002.
        let mut with_cmd = img.clone();
        with_cmd.config["config"]["Cmd"] = json!(["/bin/sh"]);
        let r = audit_image(&with_cmd, &store, &Policy::default()).unwrap();
        assert!(r.ids().contains("SH-002"));
    }
}
