//! Hardening a base image: strip shells, package managers, caches, setuid bits
//! and world-writable modes, and keep the package database truthful.
//!
//! Two passes over the base layers: the first builds the merged view and the
//! [`Plan`]; the second rewrites, entry by entry, only the layers the plan
//! touches. Untouched layers are reused byte for byte, so registries can
//! deduplicate them (distroless and the built-in base pass through unchanged).

pub mod accounts;
pub mod apk;
pub mod dpkg;
pub mod language_pms;
pub mod plan;
pub mod rules;
/// The xattr detector lives with the other detectors ([`crate::detect::xattrs`]).
pub use crate::detect::xattrs;

pub use plan::{Action, Plan};
pub use rules::Reason;

use crate::digest::{Digest, HashingReader};
use crate::fs::merge::{CaptureSet, MergedTree};
use crate::fs::read::{ReadOptions, read_layer};
use crate::fs::{Entry, EntryKind, ImagePath, LayerEvent};
use crate::image::{LayerBlob, PlatformImage};
use crate::layer::{LayerParams, LayerWriter};
use crate::store::BlobStore;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};

#[derive(Debug, thiserror::Error)]
pub enum HardenError {
    #[error("base layer {layer}: {source}")]
    Read {
        layer: Digest,
        source: crate::fs::read::ReadError,
    },
    #[error("base layer {layer}: {source}")]
    Blob {
        layer: Digest,
        source: crate::store::BlobError,
    },
    #[error(
        "base layer {layer}: the blob's digest is {actual}; the base is corrupt or was tampered with"
    )]
    DigestMismatch { layer: Digest, actual: Digest },
    #[error(
        "base layer {layer}: its uncompressed content hashes to {actual}, but the config's rootfs.diff_ids says {expected}; the base is corrupt"
    )]
    DiffIdMismatch {
        layer: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error("rewriting base layer {layer}: {source}")]
    Write {
        layer: Digest,
        source: crate::layer::LayerError,
    },
    #[error("base layer {layer}: {source}")]
    Merge {
        layer: Digest,
        source: crate::fs::merge::MergeError,
    },
}

/// One removal or change, for the build report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub path: String,
    pub what: String,
    pub why: String,
    pub layer: usize,
}

/// The hardened base: its layers (reused or rewritten), the merged view after
/// hardening (with captured account and package files), and what changed.
pub struct Hardened {
    pub layers: Vec<LayerBlob>,
    pub tree: MergedTree,
    pub changes: Vec<Change>,
    pub dropped_packages: Vec<String>,
    /// Per base layer: true when it was rewritten.
    pub rewritten: Vec<bool>,
}

/// Reads one layer blob, verifying its digest and diffID as it streams.
fn read_verified(
    blobs: &BlobStore,
    layer: &LayerBlob,
    opts: &ReadOptions,
    mut visit: impl FnMut(LayerEvent, &mut dyn Read) -> Result<(), crate::fs::read::ReadError>,
) -> Result<(), HardenError> {
    let f = blobs
        .open_read(&layer.digest)
        .map_err(|source| HardenError::Blob {
            layer: layer.digest.clone(),
            source,
        })?;
    let mut hr = HashingReader::new(io::BufReader::with_capacity(1 << 20, f));
    let stats = read_layer(&mut hr, opts, &mut visit).map_err(|source| HardenError::Read {
        layer: layer.digest.clone(),
        source,
    })?;
    io::copy(&mut hr, &mut io::sink()).map_err(|e| HardenError::Read {
        layer: layer.digest.clone(),
        source: crate::fs::read::ReadError::Io(e),
    })?;
    let (actual, _) = hr.finish();
    if actual != layer.digest {
        return Err(HardenError::DigestMismatch {
            layer: layer.digest.clone(),
            actual,
        });
    }
    if stats.diff_id != layer.diff_id {
        return Err(HardenError::DiffIdMismatch {
            layer: layer.digest.clone(),
            expected: layer.diff_id.clone(),
            actual: stats.diff_id,
        });
    }
    Ok(())
}

/// Passes a file's bytes through to the merged view while the detector
/// sees them, so the content is read once.
struct DetectingReader<'a> {
    inner: &'a mut dyn Read,
    detector: crate::detect::ContentDetector,
}

impl Read for DetectingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.detector.feed(buf.get(..n).unwrap_or(&[]));
        Ok(n)
    }
}

/// Hardens one platform's base. Reused layers are imported from `src` into
/// `dst`; rewritten ones are written to `dst`.
pub fn harden(
    base: &PlatformImage,
    src: &BlobStore,
    dst: &BlobStore,
    params: &LayerParams,
) -> Result<Hardened, HardenError> {
    let opts = read_options();
    // Pass 1: merged view, and every entry of every layer (metadata only).
    let mut tree = MergedTree::with_capture(CaptureSet::standard().with_dir(plan::DPKG_INFO));
    let mut per_layer: Vec<Vec<Entry>> = Vec::new();
    // Files that are shells or package managers by content, per layer: the
    // one detector, reading each file's bytes as they stream past (only ELF
    // files are read beyond their first four bytes).
    let mut by_content: plan::ContentHits = BTreeMap::new();
    for (i, layer) in base.layers.iter().enumerate() {
        let mut entries = Vec::new();
        let mut merge_err = None;
        read_verified(src, layer, &opts, |ev, content| {
            let mut tee = DetectingReader {
                inner: content,
                detector: crate::detect::ContentDetector::new(),
            };
            if let LayerEvent::Entry(e) = &ev {
                entries.push(e.clone());
            }
            if let Err(e) = tree.apply(i, &ev, &mut tee) {
                merge_err.get_or_insert(e);
            }
            if let LayerEvent::Entry(e) = &ev
                && e.is_file()
            {
                let mut buf = [0u8; 16 * 1024];
                while !tee.detector.done() {
                    match tee.read(&mut buf)? {
                        0 => break,
                        _ => continue,
                    }
                }
                if let Some(found) = tee.detector.finish() {
                    by_content.insert((i, e.path.clone()), found);
                }
            }
            Ok(())
        })?;
        if let Some(source) = merge_err {
            return Err(HardenError::Merge {
                layer: layer.digest.clone(),
                source,
            });
        }
        per_layer.push(entries);
    }

    // A hard link is the same file: its names carry the content verdict too.
    // Within a layer a link follows its target, so one pass covers chains.
    // This is what removes the file when a later layer replaced the name it
    // was found under and the link now holds it alone (see
    // `MergedTree::detach_links`).
    for (i, entries) in per_layer.iter().enumerate() {
        for e in entries {
            if let EntryKind::Hardlink { target } = &e.kind
                && let Some(found) = by_content.get(&(i, target.clone())).cloned()
            {
                by_content.insert((i, e.path.clone()), found);
            }
        }
    }
    let plan = Plan::compute_with(&tree, by_content);

    // Pass 2: rewrite only the layers the plan touches.
    let mut out = Vec::new();
    let mut changes = Vec::new();
    let mut rewritten = Vec::new();
    for (i, layer) in base.layers.iter().enumerate() {
        let mut dropped = BTreeSet::new();
        let touched = per_layer[i].iter().any(|e| {
            let a = plan.action(i, e, &dropped);
            if let Action::Drop(_) = a {
                dropped.insert(e.path.clone());
            }
            // An entry with any xattr (a file capability, an ACL, ...) makes
            // the layer unusable as is: see [`xattrs`].
            a != Action::Keep || !e.xattrs.is_empty()
        });
        if !touched {
            dst.import_from(src, &layer.digest)
                .map_err(|source| HardenError::Blob {
                    layer: layer.digest.clone(),
                    source,
                })?;
            out.push(layer.clone());
            rewritten.push(false);
            continue;
        }
        let blob = rewrite_layer(i, layer, src, dst, &plan, params, &mut changes)?;
        out.push(blob);
        rewritten.push(true);
    }

    // Bring the merged view in line with what now ships.
    let mut gone: Vec<ImagePath> = plan.removed.keys().cloned().collect();
    gone.extend(plan.removed_trees.keys().cloned());
    gone.extend(
        tree.iter()
            .filter(|(p, _)| rules::in_cache_dir(p))
            .map(|(p, _)| p.clone())
            .collect::<Vec<_>>(),
    );
    for p in gone {
        tree.remove(&p);
    }
    let remode: Vec<(usize, Entry)> = tree
        .iter()
        .filter(|(_, n)| rules::hardened_mode(&n.entry) != n.entry.mode)
        .map(|(_, n)| {
            let mut e = n.entry.clone();
            e.mode = rules::hardened_mode(&n.entry);
            (n.layer, e)
        })
        .collect();
    for (layer, e) in remode {
        tree.insert(layer, e);
    }
    // The rewritten layers carry no xattrs; neither does the view of them.
    let with_xattrs: Vec<(usize, Entry)> = tree
        .iter()
        .filter(|(_, n)| !n.entry.xattrs.is_empty())
        .map(|(_, n)| {
            let mut e = n.entry.clone();
            e.xattrs.clear();
            (n.layer, e)
        })
        .collect();
    for (layer, e) in with_xattrs {
        tree.insert(layer, e);
    }
    for (p, (_, bytes)) in &plan.replacements {
        tree.set_content(p, bytes.clone());
    }
    Ok(Hardened {
        layers: out,
        tree,
        changes,
        dropped_packages: plan.dropped_packages.into_iter().collect(),
        rewritten,
    })
}

/// How hardening reads base layers: with xattrs, so that a layer carrying
/// any is rewritten without them instead of being reused byte for byte.
fn read_options() -> ReadOptions {
    ReadOptions {
        keep_xattrs: true,
        ..ReadOptions::default()
    }
}

/// Drops every xattr of a kept entry, recording each privilege-conferring
/// one (file capabilities, ACLs) as a change; see [`xattrs`].
fn strip_xattrs(index: usize, e: &mut Entry, changes: &mut Vec<Change>) {
    if e.xattrs.is_empty() {
        return;
    }
    let names = xattrs::strip(e);
    let privileged: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| xattrs::is_privileged(n))
        .collect();
    changes.push(Change {
        path: e.path.to_abs(),
        what: format!("xattrs {} removed", names.join(",")),
        why: if privileged.contains(&xattrs::CAPABILITY) {
            "file capability".into()
        } else if !privileged.is_empty() {
            "POSIX ACL".into()
        } else {
            "extended attributes are never shipped".into()
        },
        layer: index,
    });
}

fn whiteout_entry(dir: Option<ImagePath>, name: &str, mtime: u64) -> Option<Entry> {
    let parent = dir.unwrap_or_default();
    let p = parent.join(name).ok()?;
    let mut e = Entry::new(p, EntryKind::File, 0o644);
    e.mtime = mtime;
    Some(e)
}

fn rewrite_layer(
    index: usize,
    layer: &LayerBlob,
    src: &BlobStore,
    dst: &BlobStore,
    plan: &Plan,
    params: &LayerParams,
    changes: &mut Vec<Change>,
) -> Result<LayerBlob, HardenError> {
    let werr = |source| HardenError::Write {
        layer: layer.digest.clone(),
        source,
    };
    let mut writer = LayerWriter::new_unordered(dst, params).map_err(werr)?;
    let mut dropped = BTreeSet::new();
    let mut write_err = None;
    read_verified(src, layer, &read_options(), |ev, content| {
        if write_err.is_some() {
            return Ok(());
        }
        let res = match ev {
            LayerEvent::Entry(mut e) => match plan.action(index, &e, &dropped) {
                Action::Keep => {
                    strip_xattrs(index, &mut e, changes);
                    writer.append(&e, Some(content))
                }
                Action::Drop(why) => {
                    changes.push(Change {
                        path: e.path.to_abs(),
                        what: "removed".into(),
                        why: why.to_string(),
                        layer: index,
                    });
                    dropped.insert(e.path.clone());
                    Ok(())
                }
                Action::Rewrite { mode, content: new } => {
                    strip_xattrs(index, &mut e, changes);
                    let mut e2 = e.clone();
                    if mode != e.mode {
                        changes.push(Change {
                            path: e.path.to_abs(),
                            what: format!("mode {:04o} -> {:04o}", e.mode, mode),
                            why: if e.mode & 0o6000 != 0 {
                                "setuid/setgid bit".into()
                            } else {
                                "world-writable".into()
                            },
                            layer: index,
                        });
                    }
                    e2.mode = mode;
                    match new {
                        Some(bytes) => {
                            changes.push(Change {
                                path: e.path.to_abs(),
                                what: "rewritten".into(),
                                why: "entries of removed packages dropped".into(),
                                layer: index,
                            });
                            e2.size = bytes.len() as u64;
                            writer.append(&e2, Some(&mut &bytes[..]))
                        }
                        None => writer.append(&e2, Some(content)),
                    }
                }
            },
            LayerEvent::Whiteout(p) => {
                match whiteout_entry(p.parent(), &format!(".wh.{}", p.file_name()), 0) {
                    Some(e) => writer.append(&e, None),
                    None => Ok(()),
                }
            }
            LayerEvent::Opaque(dir) => match whiteout_entry(Some(dir), ".wh..wh..opq", 0) {
                Some(e) => writer.append(&e, None),
                None => Ok(()),
            },
        };
        if let Err(e) = res {
            write_err = Some(e);
        }
        Ok(())
    })?;
    if let Some(e) = write_err {
        return Err(werr(e));
    }
    writer.finish().map_err(werr)
}

/// Groups changes for a short human report: reason → (count, first paths).
pub fn summarize(changes: &[Change]) -> BTreeMap<String, (usize, Vec<String>)> {
    let mut m: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
    for c in changes {
        let key = format!("{} ({})", c.what.split(' ').next().unwrap_or(""), c.why);
        let slot = m.entry(key).or_default();
        slot.0 += 1;
        if slot.1.len() < 4 {
            slot.1.push(c.path.clone());
        }
    }
    m
}
