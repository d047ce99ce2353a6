//! `docker save` archives (`docker-archive:`), old and new.
//!
//! Old saves: `manifest.json` = `[{Config, RepoTags, Layers}]` with
//! `<id>/layer.tar` files (plain, or gzip'd by some tools, and sometimes
//! symlinked to each other). Docker 25+ saves are an OCI layout plus the same
//! `manifest.json`. ironhull writes the 25+ shape, so both old and new loaders
//! (and skopeo) accept its output.

use crate::cjson;
use crate::digest::Digest;
use crate::image::{
    Descriptor, ImageSet, Index, LayerBlob, Manifest, PlatformImage, annotation, media,
};
use crate::store::archive::{self, Catalog, Links};
use crate::store::archive_reach;
use crate::store::blobs::BlobStore;
use crate::store::error::StoreError;
use crate::store::layout::{
    self, CONTAINERD_NAME, Resolver, check_blob_file, config_diff_ids, config_platform,
};
use crate::store::oci_archive::{fetch_small, read_member, work_dir};
use crate::store::rootfs::diff_id_of;
use crate::store::{MAX_DOC, Source, image_blobs};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One `manifest.json` entry.
#[derive(Deserialize, Serialize, Debug, PartialEq, Eq)]
pub struct DockerEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    pub layers: Vec<String>,
}

/// Splits `name[:tag]` (a `:` before the last `/` is a registry port).
fn split_tag(r: &str) -> (&str, Option<&str>) {
    let last_slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[last_slash..].rfind(':') {
        Some(i) => (&r[..last_slash + i], Some(&r[last_slash + i + 1..])),
        None => (r, None),
    }
}

fn is_host(c: &str) -> bool {
    c.contains('.') || c.contains(':') || c == "localhost"
}

/// A comparison key for references: `alpine` and
/// `docker.io/library/alpine:latest` name the same image.
pub fn ref_key(r: &str) -> String {
    if r.contains('@') {
        return r.to_string();
    }
    let (name, tag) = split_tag(r);
    let tag = tag.unwrap_or("latest");
    let name = match name.split_once('/') {
        None => format!("docker.io/library/{name}"),
        Some(("index.docker.io", rest)) => format!("docker.io/{rest}"),
        Some((first, _)) if is_host(first) => name.to_string(),
        Some(_) => format!("docker.io/{name}"),
    };
    format!("{name}:{tag}")
}

/// Validates a reference for `RepoTags` (docker load needs `name:tag`) and adds
/// `:latest` when no tag is given.
pub fn repo_tag(reference: &str) -> Result<String, StoreError> {
    let bad = |why: &str| StoreError::InvalidReference {
        reference: reference.chars().take(200).collect(),
        why: why.into(),
    };
    if reference.contains('@') {
        return Err(bad(
            "docker archives need a name:tag reference, not a digest; e.g. `myapp:1.0`",
        ));
    }
    let (name, tag) = split_tag(reference);
    let tag = tag.unwrap_or("latest");
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && (b == b'.' || b == b'-'))
        });
    if !tag_ok {
        return Err(bad(
            "the tag must be 1-128 characters of [A-Za-z0-9_.-], not starting with `.` or `-`",
        ));
    }
    let comps: Vec<&str> = name.split('/').collect();
    for (i, c) in comps.iter().enumerate() {
        let ok = if i == 0 && comps.len() > 1 && is_host(c) {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))
        } else {
            c.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        if !ok {
            return Err(bad(
                "repository names are lowercase letters, digits and `._-`, separated by `/` (e.g. `registry.example:5000/team/app:1.0`)",
            ));
        }
    }
    Ok(format!("{name}:{tag}"))
}

fn entry_label(i: usize, e: &DockerEntry) -> Vec<String> {
    match &e.repo_tags {
        Some(t) if !t.is_empty() => t.clone(),
        _ => vec![format!("@{i}")],
    }
}

/// Chooses the `manifest.json` entry: by reference (`name:tag`, or `@N` for the
/// N-th entry), or the only one.
fn select<'a>(
    entries: &'a [DockerEntry],
    reference: Option<&str>,
    origin: &str,
) -> Result<&'a DockerEntry, StoreError> {
    let available: Vec<String> = entries
        .iter()
        .enumerate()
        .flat_map(|(i, e)| entry_label(i, e))
        .collect();
    match reference {
        None => match entries {
            [] => Err(StoreError::NoImage {
                where_: origin.into(),
            }),
            [one] => Ok(one),
            _ => Err(StoreError::AmbiguousTag {
                available,
                where_: origin.into(),
            }),
        },
        Some(r) => {
            if let Some(n) = r.strip_prefix('@').and_then(|n| n.parse::<usize>().ok()) {
                return entries.get(n).ok_or_else(|| StoreError::TagNotFound {
                    tag: r.into(),
                    available,
                    where_: origin.into(),
                });
            }
            let key = ref_key(r);
            entries
                .iter()
                .find(|e| {
                    e.repo_tags
                        .iter()
                        .flatten()
                        .any(|t| t == r || ref_key(t) == key)
                })
                .ok_or_else(|| StoreError::TagNotFound {
                    tag: r.into(),
                    available,
                    where_: origin.into(),
                })
        }
    }
}

/// Parses a `docker save` `manifest.json` (`[{Config, RepoTags, Layers}]`).
pub fn parse_manifest_json(bytes: &[u8], origin: &str) -> Result<Vec<DockerEntry>, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| {
        StoreError::corrupt(
            format!("{origin} entry manifest.json"),
            format!("expected [{{\"Config\", \"RepoTags\", \"Layers\"}}]: {e}"),
        )
    })
}

/// Picks the `manifest.json` entry a reference names (`name:tag`, normalized,
/// or `@N`), or the only one: the choice [`read_docker_archive`] makes.
pub fn select_entry<'a>(
    entries: &'a [DockerEntry],
    reference: Option<&str>,
    origin: &str,
) -> Result<&'a DockerEntry, StoreError> {
    select(entries, reference, origin)
}

/// Reads a `docker save` archive (old format, or docker 25+ OCI-layout-based).
/// `reference` picks an image by its RepoTags (`alpine:3.20`, normalized, so
/// `docker.io/library/alpine:3.20` matches too) or by position (`@0`).
pub fn read_docker_archive(
    file: &Path,
    reference: Option<&str>,
    work: &Path,
) -> Result<Source, StoreError> {
    let (tmp, blobs) = work_dir(work, "ironhull-docker-archive-")?;
    // Names first; then only what manifest.json (or index.json) reaches.
    let mut cat = Catalog::scan(file, Links::Alias, archive_reach::max_bytes())?;
    fetch_small(
        &mut cat,
        &blobs,
        file,
        &["index.json", "manifest.json", "oci-layout"],
    )?;
    let origin = format!("docker archive {}", file.display());
    let index = read_member(&cat.ex, &blobs, file, "index.json")?;
    let Some(mbytes) = read_member(&cat.ex, &blobs, file, "manifest.json")? else {
        // No manifest.json: accept a plain OCI layout archive too.
        let (Some(index), Some(_)) = (index, cat.resolve("oci-layout")) else {
            return Err(StoreError::corrupt(
                &origin,
                "neither `manifest.json` nor an OCI `index.json` found; is this a `docker save` archive?",
            ));
        };
        archive_reach::fetch_reach(&mut cat, &blobs, &index, &origin, true)?;
        let images = layout::images_from_index(&index, &blobs, reference, &origin)?;
        return Ok(Source {
            images,
            blobs,
            _tmp: Some(tmp),
        });
    };
    let entries = parse_manifest_json(&mbytes, &origin)?;
    let chosen = select(&entries, reference, &origin)?;
    fetch_entry(&mut cat, &blobs, chosen, &origin)?;
    if let Some(index) = &index {
        archive_reach::fetch_reach(&mut cat, &blobs, index, &origin, false)?;
    }
    let ex = &cat.ex;
    let cwhere = format!("{origin} entry {}", chosen.config);
    let (config_digest, config_size) = ex.lookup(&chosen.config).ok_or_else(|| {
        StoreError::corrupt(
            &cwhere,
            "the config file listed in manifest.json is not in the archive",
        )
    })?;
    // Legacy saves name the config `<hex>.json`: it must match its content.
    if let Some(hex) = chosen.config.strip_suffix(".json")
        && let Ok(named) = Digest::from_hex(hex.rsplit('/').next().unwrap_or(hex))
        && named != config_digest
    {
        return Err(StoreError::DigestMismatch {
            where_: cwhere,
            expected: named,
            actual: config_digest,
        });
    }
    // Docker 25+: use the real manifest from the OCI layout when it is there,
    // so the manifest digest stays the one the image was published with.
    if let Some(index) = &index
        && let Some(img) = oci_image_for_config(index, &blobs, &config_digest, &origin)
    {
        return Ok(Source {
            images: ImageSet {
                index_digest: None,
                images: vec![img],
            },
            blobs,
            _tmp: Some(tmp),
        });
    }
    let img = synthesize(chosen, ex, &blobs, config_digest, config_size, &origin)?;
    Ok(Source {
        images: ImageSet {
            index_digest: None,
            images: vec![img],
        },
        blobs,
        _tmp: Some(tmp),
    })
}

/// Fetches the config and layers one `manifest.json` entry names (through
/// link aliases); a config over the metadata limit is refused unwritten.
fn fetch_entry(
    cat: &mut Catalog,
    blobs: &BlobStore,
    e: &DockerEntry,
    origin: &str,
) -> Result<(), StoreError> {
    let mut want = BTreeSet::new();
    if let Some(config) = cat.resolve(&e.config) {
        let size = cat.size_of(&config).unwrap_or(0);
        if size > MAX_DOC {
            return Err(StoreError::corrupt(
                format!("{origin} entry {}", e.config),
                format!("the config is {size} bytes, over the {MAX_DOC}-byte limit for metadata"),
            ));
        }
        want.insert(config);
    }
    want.extend(e.layers.iter().filter_map(|l| cat.resolve(l)));
    cat.fetch(blobs, &want)
}

/// Finds, in a docker 25+ archive's `index.json`, the image with this config.
/// Any problem means "not usable": the caller then synthesizes a manifest from
/// `manifest.json`, which verifies every layer against the config itself.
fn oci_image_for_config(
    index: &[u8],
    blobs: &BlobStore,
    config: &Digest,
    origin: &str,
) -> Option<PlatformImage> {
    let entries = layout::parse_index_json(index, origin).ok()?;
    let refs: Vec<_> = entries.iter().collect();
    let mut r = Resolver::new(blobs, origin);
    r.skip_missing = true;
    let set = r.resolve_entries(&refs).ok()?;
    set.images.into_iter().find(|i| &i.config_digest == config)
}

/// Builds an OCI manifest for an old-style `manifest.json` entry.
fn synthesize(
    e: &DockerEntry,
    ex: &archive::Extracted,
    blobs: &BlobStore,
    config_digest: Digest,
    config_size: u64,
    origin: &str,
) -> Result<PlatformImage, StoreError> {
    let cwhere = format!("{origin} entry {}", e.config);
    let config_bytes = blobs
        .read_verified(&config_digest, Some(config_size), MAX_DOC)
        .map_err(StoreError::from_blob(&cwhere))?;
    let config: serde_json::Value = serde_json::from_slice(&config_bytes)
        .map_err(|err| StoreError::corrupt(&cwhere, format!("config is not valid JSON: {err}")))?;
    let platform = config_platform(&config, &cwhere)?;
    let diff_ids = config_diff_ids(&config, &cwhere)?;
    if diff_ids.len() != e.layers.len() {
        return Err(StoreError::DiffIdCount {
            where_: format!("{origin} manifest.json"),
            layers: e.layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    let mut layers = Vec::with_capacity(e.layers.len());
    for (i, (path, want)) in e.layers.iter().zip(diff_ids).enumerate() {
        let lwhere = format!("{origin} layer {i} ({path})");
        let (digest, size) = ex.lookup(path).ok_or_else(|| {
            StoreError::corrupt(
                &lwhere,
                "the layer file listed in manifest.json is not in the archive",
            )
        })?;
        let (comp, diff_id) = diff_id_of(blobs, &digest, &lwhere, "layer")?;
        if diff_id != want {
            return Err(StoreError::DigestMismatch {
                where_: format!(
                    "{lwhere}: uncompressed content vs the config's rootfs.diff_ids[{i}]"
                ),
                expected: want,
                actual: diff_id,
            });
        }
        let media_type = comp.layer_media_type();
        layers.push(LayerBlob {
            media_type: media_type.into(),
            digest,
            size,
            diff_id,
        });
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(media::OCI_CONFIG, config_digest.clone(), config_size),
        layers: layers.iter().map(LayerBlob::descriptor).collect(),
        subject: None,
        annotations: BTreeMap::new(),
    };
    let manifest_bytes = cjson::to_vec(&manifest)
        .map_err(|err| StoreError::corrupt(origin, format!("cannot serialize manifest: {err}")))?;
    let manifest_digest = blobs
        .put(&manifest_bytes)
        .map_err(StoreError::from_blob(origin))?;
    Ok(PlatformImage {
        platform,
        manifest_digest,
        manifest_bytes,
        manifest_media_type: media::OCI_MANIFEST.into(),
        config_digest,
        config_bytes,
        config,
        layers,
    })
}

/// Writes one platform image in `docker save` format: `manifest.json` plus an
/// OCI layout (`index.json`, `oci-layout`, `blobs/sha256/…`) in the same tar, as
/// docker 25+ does. Layers are stored as they are (gzip'd blobs are accepted by
/// docker and skopeo). Deterministic and written atomically.
pub fn write_docker_archive(
    file: &Path,
    reference: &str,
    image: &PlatformImage,
    src: &BlobStore,
) -> Result<(), StoreError> {
    let repo_tag = repo_tag(reference)?;
    let where_ = format!("source blob store {}", src.root().display());
    check_blob_file(
        src,
        &image.manifest_digest,
        image.manifest_bytes.len() as u64,
        &where_,
    )?;
    check_blob_file(
        src,
        &image.config_digest,
        image.config_bytes.len() as u64,
        &where_,
    )?;
    for l in &image.layers {
        check_blob_file(src, &l.digest, l.size, &where_)?;
    }
    let path = |d: &Digest| format!("blobs/sha256/{}", d.hex());
    let entry = DockerEntry {
        config: path(&image.config_digest),
        repo_tags: Some(vec![repo_tag.clone()]),
        layers: image.layers.iter().map(|l| path(&l.digest)).collect(),
    };
    let ser = |err: serde_json::Error| {
        StoreError::corrupt(file.display(), format!("cannot serialize: {err}"))
    };
    let manifest_json = cjson::to_vec(&[entry]).map_err(ser)?;
    let mut top = Descriptor::new(
        &image.manifest_media_type,
        image.manifest_digest.clone(),
        image.manifest_bytes.len() as u64,
    );
    let (_, tag) = split_tag(&repo_tag);
    top.annotations
        .insert(CONTAINERD_NAME.into(), ref_key(&repo_tag));
    top.annotations
        .insert(annotation::REF_NAME.into(), tag.unwrap_or("latest").into());
    let index = cjson::to_vec(&Index::new(vec![top])).map_err(ser)?;
    let all: BTreeSet<Digest> = image_blobs(image).into_iter().collect();
    archive::write_layout_tar(
        file,
        &all,
        src,
        vec![
            ("index.json", index),
            ("manifest.json", manifest_json),
            ("oci-layout", layout::oci_layout_bytes()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Platform;
    use crate::store::testutil::{gzip, tar_with, tiny_image};
    use std::fs;

    fn file_entry(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    fn symlink_entry(b: &mut tar::Builder<Vec<u8>>, name: &str, target: &str) {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_link_name(target).unwrap();
        h.set_size(0);
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
    }

    #[test]
    fn reference_keys_normalize() {
        assert_eq!(ref_key("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(
            ref_key("docker.io/library/alpine:3.20"),
            ref_key("alpine:3.20")
        );
        assert_eq!(ref_key("localhost:5000/a/b"), "localhost:5000/a/b:latest");
        assert_eq!(repo_tag("app").unwrap(), "app:latest");
        assert_eq!(
            repo_tag("reg.example:5000/team/app:1.0").unwrap(),
            "reg.example:5000/team/app:1.0"
        );
        assert!(repo_tag("App:1").is_err());
        assert!(repo_tag("app@sha256:00").is_err());
        assert!(repo_tag("app:-x").is_err());
        assert!(repo_tag("a b:1").is_err());
    }

    #[test]
    fn round_trip_and_determinism() {
        let src_dir = tempfile::tempdir().unwrap();
        let src = BlobStore::open(src_dir.path()).unwrap();
        let a = tiny_image(&src, &Platform::linux("arm", Some("v7")), "a");
        let out = tempfile::tempdir().unwrap();
        let f1 = out.path().join("a.tar");
        let f2 = out.path().join("b.tar");
        write_docker_archive(&f1, "example.com/team/app:1.0", &a, &src).unwrap();
        write_docker_archive(&f2, "example.com/team/app:1.0", &a, &src).unwrap();
        assert_eq!(fs::read(&f1).unwrap(), fs::read(&f2).unwrap());
        let work = out.path().join("work");
        for r in [None, Some("example.com/team/app:1.0"), Some("@0")] {
            let s = read_docker_archive(&f1, r, &work).unwrap();
            let img = &s.images.images[0];
            // The real manifest is used, not a synthesized one.
            assert_eq!(img.manifest_digest, a.manifest_digest);
            assert_eq!(img.platform.to_string(), "linux/arm/v7");
            assert_eq!(img.layers, a.layers);
        }
        match read_docker_archive(&f1, Some("other:1"), &work) {
            Err(e @ StoreError::TagNotFound { .. }) => {
                assert!(e.to_string().contains("example.com/team/app:1.0"))
            }
            other => panic!("expected TagNotFound, got {other:?}"),
        }
        // The manifest.json the old loaders read.
        let mut ar = tar::Archive::new(fs::File::open(&f1).unwrap());
        let mut found = false;
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().to_str() == Some("manifest.json") {
                let v: serde_json::Value = serde_json::from_reader(&mut e).unwrap();
                assert_eq!(v[0]["RepoTags"][0], "example.com/team/app:1.0");
                assert_eq!(
                    v[0]["Layers"][0],
                    format!("blobs/sha256/{}", a.layers[0].digest.hex())
                );
                found = true;
            }
        }
        assert!(found);
    }

    /// A pre-25 `docker save`: `<hex>.json` config, `<id>/layer.tar` files, one
    /// gzip'd, one a symlink to another.
    fn legacy_archive(corrupt_diff: bool) -> Vec<u8> {
        let l1 = tar_with("a.txt", b"one");
        let l2 = tar_with("b.txt", b"two");
        let l2gz = gzip(&l2);
        let mut d1 = Digest::of(&l1).to_string();
        if corrupt_diff {
            d1 = Digest::of(b"wrong").to_string();
        }
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [d1, Digest::of(&l2).to_string(), Digest::of(&l1).to_string()]},
        });
        let cb = serde_json::to_vec(&config).unwrap();
        let manifest = serde_json::json!([{
            "Config": format!("{}.json", Digest::of(&cb).hex()),
            "RepoTags": ["foo:1", "foo:latest"],
            "Layers": ["aaa/layer.tar", "ccc/layer.tar", "bbb/layer.tar"],
        }]);
        let mut b = tar::Builder::new(Vec::new());
        file_entry(&mut b, &format!("{}.json", Digest::of(&cb).hex()), &cb);
        file_entry(&mut b, "aaa/layer.tar", &l1);
        symlink_entry(&mut b, "bbb/layer.tar", "../aaa/layer.tar");
        file_entry(&mut b, "ccc/layer.tar", &l2gz);
        file_entry(
            &mut b,
            "manifest.json",
            &serde_json::to_vec(&manifest).unwrap(),
        );
        b.into_inner().unwrap()
    }

    #[test]
    fn reads_legacy_docker_save() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("legacy.tar");
        fs::write(&f, legacy_archive(false)).unwrap();
        let work = dir.path().join("work");
        let s = read_docker_archive(&f, Some("docker.io/library/foo:1"), &work).unwrap();
        let img = &s.images.images[0];
        let kinds: Vec<&str> = img.layers.iter().map(|l| l.media_type.as_str()).collect();
        assert_eq!(
            kinds,
            [
                media::OCI_LAYER_TAR,
                media::OCI_LAYER_GZIP,
                media::OCI_LAYER_TAR
            ]
        );
        assert_eq!(img.layers[0].digest, img.layers[2].digest);
        assert_eq!(img.platform, Platform::linux("amd64", None));
        // The synthesized manifest is canonical and stored.
        let m: Manifest = serde_json::from_slice(&img.manifest_bytes).unwrap();
        assert_eq!(cjson::to_vec(&m).unwrap(), img.manifest_bytes);
        assert!(s.blobs.contains(&img.manifest_digest));
        for l in &img.layers {
            let mut r = s.open_verified(&l.digest, l.size).unwrap();
            std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        }
        // Deterministic: same archive, same manifest digest.
        let again = read_docker_archive(&f, None, &work).unwrap();
        assert_eq!(again.images.images[0].manifest_digest, img.manifest_digest);
        // A layer that does not match its diffID is refused.
        fs::write(&f, legacy_archive(true)).unwrap();
        assert!(matches!(
            read_docker_archive(&f, None, &work),
            Err(StoreError::DigestMismatch { .. })
        ));
    }
}
