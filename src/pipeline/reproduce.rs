//! `--verify-reproducible`: build twice in isolated directories and, when the
//! digests differ, say exactly where (which layer, which entry, which field).

use super::{BuildError, BuildOptions, BuildRequest, Built};
use crate::digest::{Digest, HashingReader};
use crate::fs::LayerEvent;
use crate::fs::read::{ReadOptions, read_layer};
use crate::store::BlobStore;
use std::io::Read;
use std::path::Path;

/// Builds `req` twice under `work` and returns the common digest.
pub fn verify(
    req: &BuildRequest,
    work: &Path,
    registry: &crate::registry::RegistryOptions,
) -> Result<Digest, BuildError> {
    let mut results = Vec::new();
    for i in 0..2 {
        let dir = work.join(format!("reproduce-{i}"));
        let opts = BuildOptions {
            store: dir.join("blobs"),
            work: dir.join("work"),
            registry: registry.clone(),
            mirror: Vec::new(),
            reporter: registry.reporter.clone(),
        };
        results.push(super::build_image(req, &opts)?);
    }
    let (a, b) = (&results[0], &results[1]);
    if a.top.digest == b.top.digest {
        return Ok(a.top.digest.clone());
    }
    Err(BuildError::NotReproducible(first_difference(a, b)))
}

/// Describes the first difference between two builds.
pub fn first_difference(a: &Built, b: &Built) -> String {
    for (ia, ib) in a.images.iter().zip(&b.images) {
        let (ia, ib) = (&ia.image, &ib.image);
        for (n, (la, lb)) in ia.layers.iter().zip(&ib.layers).enumerate() {
            if la.digest != lb.digest {
                let entry = first_entry_difference(&a.store, &la.digest, &b.store, &lb.digest)
                    .unwrap_or_else(|| {
                        "the tar streams are identical; the compressed bytes differ".into()
                    });
                return format!(
                    "{}: layer {n} differs ({} vs {}): {entry}",
                    ia.platform, la.digest, lb.digest
                );
            }
        }
        if ia.config_bytes != ib.config_bytes {
            return format!(
                "{}: the image config differs:\n  first:  {}\n  second: {}",
                ia.platform,
                String::from_utf8_lossy(&ia.config_bytes),
                String::from_utf8_lossy(&ib.config_bytes)
            );
        }
        if ia.manifest_bytes != ib.manifest_bytes {
            return format!("{}: the manifest differs", ia.platform);
        }
    }
    "the index differs".into()
}

type Listing = Vec<(String, String)>;

fn listing(store: &BlobStore, d: &Digest) -> Option<Listing> {
    let f = store.open_read(d).ok()?;
    let mut out = Vec::new();
    read_layer(f, &ReadOptions::default(), |ev, content: &mut dyn Read| {
        let mut hr = HashingReader::new(content);
        std::io::copy(&mut hr, &mut std::io::sink()).map_err(crate::fs::read::ReadError::Io)?;
        let (h, _) = hr.finish();
        let (path, meta) = match ev {
            LayerEvent::Entry(e) => (
                e.path.to_abs(),
                format!(
                    "{:?} mode={:04o} uid={} gid={} mtime={} size={} content={h}",
                    e.kind, e.mode, e.uid, e.gid, e.mtime, e.size
                ),
            ),
            LayerEvent::Whiteout(p) => (p.to_abs(), "whiteout".into()),
            LayerEvent::Opaque(p) => (p.to_abs(), "opaque".into()),
        };
        out.push((path, meta));
        Ok(())
    })
    .ok()?;
    Some(out)
}

fn first_entry_difference(
    sa: &BlobStore,
    a: &Digest,
    sb: &BlobStore,
    b: &Digest,
) -> Option<String> {
    let (la, lb) = (listing(sa, a)?, listing(sb, b)?);
    for (i, (x, y)) in la.iter().zip(&lb).enumerate() {
        if x != y {
            return Some(format!(
                "entry {i}: first build has {} [{}], second has {} [{}]",
                x.0, x.1, y.0, y.1
            ));
        }
    }
    if la.len() != lb.len() {
        return Some(format!(
            "the first build's layer has {} entries, the second's {}",
            la.len(),
            lb.len()
        ));
    }
    None
}
