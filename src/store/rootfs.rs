//! A root filesystem tarball (`.tar` / `.tar.gz`, e.g. Alpine's minirootfs) as a
//! single-layer base image.
//!
//! The synthesized config carries no `created` date and no history, so the same
//! tarball always yields the same config, manifest and digests.

use crate::digest::{Digest, HashingReader};
use crate::image::{ImageSet, LayerBlob, Platform};
use crate::store::Source;
use crate::store::archive::Compression;
use crate::store::blobs::BlobStore;
use crate::store::error::StoreError;
use crate::store::oci_archive::work_dir;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Computes a layer's diffID (digest of the uncompressed tar) and checks that
/// it is a readable tar from start to end. `what` names the input for errors.
pub(crate) fn diff_id_of(
    store: &BlobStore,
    d: &Digest,
    what: &str,
    noun: &str,
) -> Result<(Compression, Digest), StoreError> {
    let f = store.open_read(d).map_err(StoreError::from_blob(what))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let comp =
        crate::store::archive::sniff_reader(&mut r).map_err(StoreError::io(&store.path(d)))?;
    let inner: Box<dyn Read> = match comp {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(
            crate::layer::zst::ZstdDecoder::new(r).map_err(StoreError::io(&store.path(d)))?,
        ),
    };
    let corrupt = |e: io::Error| {
        StoreError::corrupt(
            what,
            format!(
                "corrupt {noun}: not a readable {}tar ({e})",
                match comp {
                    Compression::Gzip => "gzip'd ",
                    Compression::Zstd => "zstd'd ",
                    Compression::None => "",
                }
            ),
        )
    };
    let mut ar = tar::Archive::new(HashingReader::new(inner));
    let mut n = 0usize;
    for e in ar.entries().map_err(corrupt)? {
        let mut e = e.map_err(corrupt)?;
        io::copy(&mut e, &mut io::sink()).map_err(corrupt)?;
        n += 1;
    }
    if n == 0 {
        return Err(StoreError::corrupt(
            what,
            format!("corrupt {noun}: it holds no tar entries"),
        ));
    }
    // Hash whatever follows the end-of-archive marker too: the diffID covers the
    // whole uncompressed stream.
    let mut hr = ar.into_inner();
    io::copy(&mut hr, &mut io::sink()).map_err(corrupt)?;
    let (diff_id, _) = hr.finish();
    Ok((comp, diff_id))
}

/// Reads a root filesystem tarball as a single-layer image for `platform`.
pub fn read_rootfs(file: &Path, platform: &Platform, work: &Path) -> Result<Source, StoreError> {
    let (tmp, blobs) = work_dir(work, "ironhull-rootfs-")?;
    let what = file.display().to_string();
    let mut f = File::open(file).map_err(StoreError::io(file))?;
    let (digest, size) = blobs
        .put_reader(&mut f, None)
        .map_err(StoreError::from_blob(&what))?;
    let (comp, diff_id) = diff_id_of(&blobs, &digest, &what, "base tarball")?;
    let media_type = comp.layer_media_type();
    let layer = LayerBlob {
        media_type: media_type.into(),
        digest,
        size,
        diff_id: diff_id.clone(),
    };
    let mut config = serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
    });
    if let (Some(v), Some(obj)) = (&platform.variant, config.as_object_mut()) {
        obj.insert("variant".into(), serde_json::Value::String(v.clone()));
    }
    let image = super::put_image(
        &blobs,
        platform.clone(),
        config,
        vec![layer],
        BTreeMap::new(),
    )
    .map_err(|e| match e {
        super::PutImageError::Blob(b) => StoreError::from_blob(&what)(b),
        super::PutImageError::Json(e) => {
            StoreError::corrupt(&what, format!("cannot serialize: {e}"))
        }
    })?;
    Ok(Source {
        images: ImageSet {
            index_digest: None,
            images: vec![image],
        },
        blobs,
        _tmp: Some(tmp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::media;
    use crate::store::testutil::{fixture, gzip, tar_with};
    use std::fs;

    #[test]
    fn alpine_minirootfs() {
        let Some(f) = fixture("alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz") else {
            return;
        };
        let work = tempfile::tempdir().unwrap();
        let p = Platform::linux("amd64", None);
        let s = read_rootfs(&f, &p, work.path()).unwrap();
        let img = &s.images.images[0];
        assert_eq!(img.layers.len(), 1);
        let l = &img.layers[0];
        assert_eq!(l.media_type, media::OCI_LAYER_GZIP);
        assert_eq!(
            l.digest,
            crate::digest::digest_reader(File::open(&f).unwrap())
                .unwrap()
                .0
        );
        assert_ne!(l.digest, l.diff_id);
        assert_eq!(img.config["rootfs"]["diff_ids"][0], l.diff_id.to_string());
        assert!(img.config.get("created").is_none());
        // Deterministic across reads.
        let again = read_rootfs(&f, &p, work.path()).unwrap();
        assert_eq!(again.images.images[0].manifest_digest, img.manifest_digest);
        assert_eq!(again.images.images[0].config_digest, img.config_digest);
    }

    #[test]
    fn plain_tar_and_variant() {
        let work = tempfile::tempdir().unwrap();
        let f = work.path().join("root.tar");
        let tar = tar_with("etc/os-release", b"ID=test\n");
        fs::write(&f, &tar).unwrap();
        let p = Platform::linux("arm", Some("v7"));
        let s = read_rootfs(&f, &p, work.path()).unwrap();
        let img = &s.images.images[0];
        assert_eq!(img.layers[0].media_type, media::OCI_LAYER_TAR);
        assert_eq!(img.layers[0].digest, Digest::of(&tar));
        assert_eq!(img.layers[0].diff_id, Digest::of(&tar));
        assert_eq!(img.config["variant"], "v7");
        assert_eq!(img.platform, p);
        assert_eq!(img.config_bytes, crate::cjson::to_vec(&img.config).unwrap());
    }

    #[test]
    fn zstd_tarball_is_a_zstd_layer() {
        use std::io::Write;
        let work = tempfile::tempdir().unwrap();
        let f = work.path().join("root.tar.zst");
        let tar = tar_with("etc/os-release", b"ID=test\n");
        let mut enc = crate::layer::zst::ZstdEncoder::new(Vec::new(), 3, 1).unwrap();
        enc.write_all(&tar).unwrap();
        let z = enc.finish().unwrap();
        fs::write(&f, &z).unwrap();
        let s = read_rootfs(&f, &Platform::host(), work.path()).unwrap();
        let l = &s.images.images[0].layers[0];
        assert_eq!(l.media_type, media::OCI_LAYER_ZSTD);
        assert_eq!(
            (l.digest.clone(), l.diff_id.clone()),
            (Digest::of(&z), Digest::of(&tar))
        );
        // Cut short: corrupt, like a truncated gzip.
        fs::write(&f, &z[..z.len() / 2]).unwrap();
        assert!(matches!(
            read_rootfs(&f, &Platform::host(), work.path()),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn corrupt_tarballs_are_refused() {
        let work = tempfile::tempdir().unwrap();
        let f = work.path().join("bad.tar.gz");
        for bad in [
            b"this is not a tarball at all, just some text; ".repeat(40),
            gzip(&b"still not a tar".repeat(100)),
            Vec::new(),
            gzip(&tar_with("a", b"b"))[..30].to_vec(),
        ] {
            fs::write(&f, &bad).unwrap();
            match read_rootfs(&f, &Platform::host(), work.path()) {
                Err(e @ StoreError::Corrupt { .. }) => {
                    assert!(e.to_string().contains("corrupt base tarball"), "{e}")
                }
                other => panic!("expected Corrupt, got {other:?}"),
            }
        }
    }
}
