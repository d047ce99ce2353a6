//! Test helpers: tiny hand-built images and fixture lookup.

use crate::cjson;
use crate::digest::Digest;
use crate::image::{Descriptor, Index, LayerBlob, Manifest, Platform, PlatformImage, media};
use crate::store::blobs::BlobStore;
use crate::store::image_blobs;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// An uncompressed tar holding one file.
pub(crate) fn tar_with(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append(&h, content).unwrap();
    b.into_inner().unwrap()
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A one-layer image (gzip'd layer) for `platform`, stored in `store`.
pub(crate) fn tiny_image(store: &BlobStore, platform: &Platform, marker: &str) -> PlatformImage {
    let tar = tar_with("hello.txt", marker.as_bytes());
    let diff_id = Digest::of(&tar);
    let gz = gzip(&tar);
    let layer_digest = store.put(&gz).unwrap();
    let layer = LayerBlob {
        media_type: media::OCI_LAYER_GZIP.into(),
        digest: layer_digest,
        size: gz.len() as u64,
        diff_id: diff_id.clone(),
    };
    let mut config = serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {"User": "65532"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
    });
    if let Some(v) = &platform.variant {
        config["variant"] = v.clone().into();
    }
    let config_bytes = cjson::to_vec(&config).unwrap();
    let config_digest = store.put(&config_bytes).unwrap();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(
            media::OCI_CONFIG,
            config_digest.clone(),
            config_bytes.len() as u64,
        ),
        layers: vec![layer.descriptor()],
        subject: None,
        annotations: BTreeMap::new(),
    };
    let manifest_bytes = cjson::to_vec(&manifest).unwrap();
    let manifest_digest = store.put(&manifest_bytes).unwrap();
    PlatformImage {
        platform: platform.clone(),
        manifest_digest,
        manifest_bytes,
        manifest_media_type: media::OCI_MANIFEST.into(),
        config_digest,
        config_bytes,
        config,
        layers: vec![layer],
    }
}

/// The manifest descriptor of an image (with its platform).
pub(crate) fn manifest_desc(img: &PlatformImage) -> Descriptor {
    let mut d = Descriptor::new(
        media::OCI_MANIFEST,
        img.manifest_digest.clone(),
        img.manifest_bytes.len() as u64,
    );
    d.platform = Some(img.platform.clone());
    d
}

/// An index over `images`, stored; returns its descriptor and all blobs.
pub(crate) fn index_of(store: &BlobStore, images: &[PlatformImage]) -> (Descriptor, Vec<Digest>) {
    let idx = Index::new(images.iter().map(manifest_desc).collect());
    let bytes = cjson::to_vec(&idx).unwrap();
    let d = store.put(&bytes).unwrap();
    let mut blobs = vec![d.clone()];
    for i in images {
        blobs.extend(image_blobs(i));
    }
    (
        Descriptor::new(media::OCI_INDEX, d, bytes.len() as u64),
        blobs,
    )
}

/// A fixture file, or `None` (with a printed reason) when fixtures are absent
/// outside CI. Under `CI=true` a missing fixture fails the test.
pub(crate) fn fixture(rel: &str) -> Option<PathBuf> {
    let root = std::env::var_os("IRONHULL_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    let p = root.join(rel);
    if p.is_file() {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "fixture {} missing under CI=true",
        p.display()
    );
    eprintln!(
        "skipping: fixture {} not found (set IRONHULL_FIXTURES)",
        p.display()
    );
    None
}

/// The skopeo binary, or `None` (with a printed reason) outside CI.
pub(crate) fn skopeo() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("skopeo"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "skopeo is required under CI=true"
        );
        eprintln!("skipping: skopeo not installed");
    }
    found
}
