//! OCI image layouts: reading a layout directory and writing layouts
//! atomically.
//!
//! The layout's `index.json` is resolved by [`super::resolve`], which treats
//! every document as hostile; this file holds what is specific to the
//! directory format (the `oci-layout` marker, tags, atomic writes).

use crate::cjson;
use crate::digest::Digest;
use crate::image::{Descriptor, annotation, media};
use crate::store::blobs::BlobStore;
use crate::store::error::StoreError;
use crate::store::{MAX_DOC, Source};
use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// The resolver's items under their old paths, so the archive readers
/// need no edit.
pub(crate) use super::resolve::{
    CONTAINERD_NAME, Resolver, check_blob_file, config_diff_ids, config_platform,
    images_from_index, parse_index_json,
};

/// The `oci-layout` file content ironhull writes.
pub(crate) fn oci_layout_bytes() -> Vec<u8> {
    br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()
}

/// Reads a small file with a size cap.
pub(crate) fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, StoreError> {
    let f = fs::File::open(path).map_err(StoreError::io(path))?;
    let mut buf = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(StoreError::io(path))?;
    if buf.len() as u64 > limit {
        return Err(StoreError::corrupt(
            path.display(),
            format!("file is larger than the {limit}-byte limit"),
        ));
    }
    Ok(buf)
}

/// Checks that `dir` is an OCI layout: its `oci-layout` marker exists and
/// names a 1.x version.
fn require_layout(dir: &Path) -> Result<(), StoreError> {
    let marker = dir.join("oci-layout");
    if !marker.is_file() {
        return Err(StoreError::NotALayout {
            dir: dir.into(),
            why: "it has no `oci-layout` file".into(),
        });
    }
    check_oci_layout(&read_capped(&marker, 64 * 1024)?, dir)
}

/// Checks the `oci-layout` marker file content.
pub(crate) fn check_oci_layout(bytes: &[u8], dir: &Path) -> Result<(), StoreError> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| StoreError::NotALayout {
            dir: dir.into(),
            why: format!("`oci-layout` is not valid JSON ({e})"),
        })?;
    match v.get("imageLayoutVersion").and_then(|v| v.as_str()) {
        Some(ver) if ver.starts_with("1.") => Ok(()),
        other => Err(StoreError::NotALayout {
            dir: dir.into(),
            why: format!("unsupported imageLayoutVersion {other:?} in `oci-layout` (expected 1.x)"),
        }),
    }
}

/// Reads an OCI image layout directory. `tag` selects the `index.json` entry by
/// `org.opencontainers.image.ref.name` (or `io.containerd.image.name`); without a
/// tag the layout must hold exactly one entry.
pub fn read_oci_layout(dir: &Path, tag: Option<&str>) -> Result<Source, StoreError> {
    require_layout(dir)?;
    let index_path = dir.join("index.json");
    if !index_path.is_file() {
        return Err(StoreError::NotALayout {
            dir: dir.into(),
            why: "it has no `index.json`".into(),
        });
    }
    let index = read_capped(&index_path, MAX_DOC)?;
    let blobs = BlobStore::existing(dir.join("blobs"));
    let origin = format!("OCI layout {}", dir.display());
    let images = images_from_index(&index, &blobs, tag, &origin)?;
    Ok(Source {
        images,
        blobs,
        _tmp: None,
    })
}

/// Checks a tag (ref.name) before it goes into `index.json`.
pub(crate) fn validate_tag(tag: &str) -> Result<(), StoreError> {
    let bad = |why: &str| StoreError::InvalidReference {
        reference: tag.chars().take(200).collect(),
        why: why.into(),
    };
    if tag.is_empty() {
        return Err(bad("the tag is empty"));
    }
    if tag.len() > 512 {
        return Err(bad("the tag is longer than 512 bytes"));
    }
    if tag.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("the tag contains whitespace or control characters"));
    }
    Ok(())
}

/// The `index.json` entry for `top`, annotated with the tag.
fn tagged(top: &Descriptor, tag: &str) -> Descriptor {
    let mut d = top.clone();
    d.annotations
        .insert(annotation::REF_NAME.into(), tag.into());
    d
}

/// The blobs to copy: the requested ones plus the top document, all present.
pub(crate) fn blob_set(
    top: &Descriptor,
    blobs: &[Digest],
    src: &BlobStore,
) -> Result<BTreeSet<Digest>, StoreError> {
    let mut all: BTreeSet<Digest> = blobs.iter().cloned().collect();
    all.insert(top.digest.clone());
    let where_ = format!("source blob store {}", src.root().display());
    for d in &all {
        if !src.contains(d) {
            return Err(StoreError::MissingBlob {
                where_: where_.clone(),
                digest: d.clone(),
            });
        }
    }
    check_blob_file(
        src,
        &top.digest,
        top.size,
        &format!("{where_} (top-level descriptor)"),
    )?;
    Ok(all)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and
/// a rename, so readers see the old or the new content, never a mix.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    super::atomic::replace(path, bytes).map_err(StoreError::io(path))
}

pub(crate) use super::atomic::parent_of;

fn json_bytes<T: serde::Serialize>(v: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    cjson::to_vec(v).map_err(|e| StoreError::corrupt(what, format!("cannot serialize: {e}")))
}

/// Copies `all` from `src` into the layout's `blobs/` (never sharing an
/// inode with the cache; see [`BlobStore::copy_from`] for what is verified).
fn copy_blobs(dir: &Path, all: &BTreeSet<Digest>, src: &BlobStore) -> Result<(), StoreError> {
    let store = BlobStore::open(dir.join("blobs")).map_err(StoreError::from_blob(dir.display()))?;
    store
        .copy_many(src, all)
        .map_err(StoreError::from_blob(format!(
            "copying into {}",
            dir.display()
        )))
}

/// Fills an empty directory with a layout holding one tagged entry.
pub(crate) fn populate(
    dir: &Path,
    tag: &str,
    top: &Descriptor,
    all: &BTreeSet<Digest>,
    src: &BlobStore,
) -> Result<(), StoreError> {
    copy_blobs(dir, all, src)?;
    write_atomic(&dir.join("oci-layout"), &oci_layout_bytes())?;
    let index = crate::image::Index::new(vec![tagged(top, tag)]);
    write_atomic(&dir.join("index.json"), &json_bytes(&index, "index.json")?)
}

/// Writes (or adds to) an OCI layout at `dir`: copies or hardlinks the listed
/// `blobs` (and `top`) from `src`, writes `oci-layout` and `index.json` with `top`
/// annotated `org.opencontainers.image.ref.name = tag`.
///
/// A new layout is built in a sibling temporary directory and renamed into
/// place, so a crash never leaves a half-written layout. An existing layout keeps
/// its other tags; an existing entry with the same tag is replaced. A directory
/// that exists, is not empty and is not a layout is never touched.
pub fn write_oci_layout(
    dir: &Path,
    tag: &str,
    top: &Descriptor,
    blobs: &[Digest],
    src: &BlobStore,
) -> Result<(), StoreError> {
    validate_tag(tag)?;
    let all = blob_set(top, blobs, src)?;
    match fs::metadata(dir) {
        // A new layout is staged beside `dir` and renamed into place.
        Err(e) if e.kind() == io::ErrorKind::NotFound => match super::StagedLayout::new(dir)? {
            Some(staged) => staged.commit(tag, top, blobs, src),
            // It appeared meanwhile: update it in place.
            None => write_oci_layout(dir, tag, top, blobs, src),
        },
        Err(e) => Err(StoreError::Io {
            path: dir.into(),
            source: e,
        }),
        Ok(m) if !m.is_dir() => Err(StoreError::NotALayout {
            dir: dir.into(),
            why: "it exists and is not a directory; refusing to overwrite it".into(),
        }),
        Ok(_) => {
            let marker = dir.join("oci-layout");
            if marker.is_file() {
                check_oci_layout(&read_capped(&marker, 64 * 1024)?, dir)?;
                add_to_layout(dir, Some(tag), top, &all, src)
            } else {
                let empty = fs::read_dir(dir)
                    .map_err(StoreError::io(dir))?
                    .next()
                    .is_none();
                if !empty {
                    return Err(StoreError::NotALayout {
                        dir: dir.into(),
                        why: "it is not empty and has no `oci-layout` file; refusing to write into it".into(),
                    });
                }
                // Another build may fill the same empty directory at once:
                // the locked index update keeps both tags.
                add_to_layout(dir, Some(tag), top, &all, src)
            }
        }
    }
}

/// Adds `top` to an existing layout's `index.json` without a tag (how a
/// referrer, an artifact whose `subject` is an image of the layout, is
/// listed), after copying `blobs`. Listing the same digest again is a no-op.
pub fn add_untagged(
    dir: &Path,
    top: &Descriptor,
    blobs: &[Digest],
    src: &BlobStore,
) -> Result<(), StoreError> {
    require_layout(dir)?;
    let all = blob_set(top, blobs, src)?;
    add_to_layout(dir, None, top, &all, src)
}

/// The descriptors `index.json` lists, as written (tags in annotations),
/// and the layout's blob store: what signature discovery reads.
pub fn index_entries(dir: &Path) -> Result<(Vec<Descriptor>, BlobStore), StoreError> {
    require_layout(dir)?;
    let path = dir.join("index.json");
    let bytes = read_capped(&path, MAX_DOC)?;
    let idx: crate::image::Index = serde_json::from_slice(&bytes)
        .map_err(|e| StoreError::corrupt(path.display(), format!("not an image index: {e}")))?;
    Ok((idx.manifests, BlobStore::existing(dir.join("blobs"))))
}

fn add_to_layout(
    dir: &Path,
    tag: Option<&str>,
    top: &Descriptor,
    all: &BTreeSet<Digest>,
    src: &BlobStore,
) -> Result<(), StoreError> {
    // Blobs first, index last: a reader never sees an entry without its
    // blobs. Copies need no lock (content-addressed, renamed into place).
    copy_blobs(dir, all, src)?;
    // The read-modify-write of index.json, under the layout's lock (see
    // `store::staged`), so concurrent builds never lose a tag.
    let _lock = super::staged::DirLock::exclusive(dir)?;
    let marker = dir.join("oci-layout");
    if !marker.is_file() {
        write_atomic(&marker, &oci_layout_bytes())?;
    }
    let index_path = dir.join("index.json");
    let where_ = index_path.display().to_string();
    let mut index: serde_json::Value = if index_path.is_file() {
        serde_json::from_slice(&read_capped(&index_path, MAX_DOC)?)
            .map_err(|e| StoreError::corrupt(&where_, format!("not valid JSON: {e}")))?
    } else {
        serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": []})
    };
    let Some(obj) = index.as_object_mut() else {
        return Err(StoreError::corrupt(
            &where_,
            "index.json is not a JSON object",
        ));
    };
    let entry = match tag {
        Some(t) => tagged(top, t),
        None => top.clone(),
    };
    let entry = serde_json::to_value(entry)
        .map_err(|e| StoreError::corrupt(&where_, format!("cannot serialize descriptor: {e}")))?;
    let manifests = obj
        .entry("manifests")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    let Some(list) = manifests.as_array_mut() else {
        return Err(StoreError::corrupt(&where_, "`manifests` is not an array"));
    };
    let top_digest = top.digest.to_string();
    list.retain(|m| {
        let name = m
            .get("annotations")
            .and_then(|a| a.get(annotation::REF_NAME))
            .and_then(|v| v.as_str());
        match tag {
            Some(t) => name != Some(t),
            // An untagged entry (a referrer) is listed once.
            None => name.is_some() || m.get("digest").and_then(|d| d.as_str()) != Some(&top_digest),
        }
    });
    list.push(entry);
    let bytes = json_bytes(&index, &where_)?;
    write_atomic(&index_path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Platform;
    use crate::store::StagedLayout;
    use crate::store::image_blobs;
    use crate::store::resolve::{MAX_DEPTH, SCHEMA1_SIGNED};
    use crate::store::testutil::{index_of, manifest_desc, tiny_image};
    use serde_json::json;

    fn amd64() -> Platform {
        Platform::linux("amd64", None)
    }

    /// A layout at `dir` whose blobs are filled by the caller and whose
    /// index.json is exactly `index`.
    fn raw_layout(dir: &Path, index: serde_json::Value) -> BlobStore {
        let store = BlobStore::open(dir.join("blobs")).unwrap();
        fs::write(dir.join("oci-layout"), oci_layout_bytes()).unwrap();
        fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        store
    }

    fn put_json(store: &BlobStore, v: &serde_json::Value) -> (Digest, u64) {
        let b = serde_json::to_vec(v).unwrap();
        (store.put(&b).unwrap(), b.len() as u64)
    }

    fn desc_json(mt: &str, d: &Digest, size: u64) -> serde_json::Value {
        json!({"mediaType": mt, "digest": d.to_string(), "size": size})
    }

    #[test]
    fn staged_layout_gets_mirrored_blobs_and_only_keeps_referenced_ones() {
        let cache_dir = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("app");
        let staged = StagedLayout::new(&dir).unwrap().unwrap();
        let mut cache = BlobStore::open_cache(cache_dir.path()).unwrap();
        cache.mirror_to(vec![staged.store().clone()]).unwrap();
        let a = tiny_image(&cache, &amd64(), "a");
        // Written by the build, never referenced by the image.
        let stray = cache.put(b"a base layer hardening replaced").unwrap();
        cache.finish_mirror();
        assert!(staged.store().contains(&a.layers[0].digest));
        assert!(staged.store().contains(&stray));
        assert!(!dir.exists(), "nothing is visible before the commit");
        staged
            .commit("v1", &manifest_desc(&a), &image_blobs(&a), &cache)
            .unwrap();
        let s = read_oci_layout(&dir, Some("v1")).unwrap();
        assert_eq!(s.images.images[0].manifest_digest, a.manifest_digest);
        let out_store = BlobStore::existing(dir.join("blobs"));
        assert!(!out_store.contains(&stray));
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);

        // Dropped without a commit (a failed build): nothing is left.
        let other = out.path().join("other");
        let staged = StagedLayout::new(&other).unwrap().unwrap();
        let mut cache = BlobStore::open_cache(cache_dir.path().join("2")).unwrap();
        cache.mirror_to(vec![staged.store().clone()]).unwrap();
        tiny_image(&cache, &amd64(), "b");
        drop(cache);
        drop(staged);
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 1);
        // An existing directory is not staged.
        assert!(StagedLayout::new(&dir).unwrap().is_none());
    }

    #[test]
    fn multi_platform_round_trip() {
        let src_dir = tempfile::tempdir().unwrap();
        let src = BlobStore::open(src_dir.path()).unwrap();
        let a = tiny_image(&src, &amd64(), "a");
        let b = tiny_image(&src, &Platform::linux("arm", Some("v7")), "b");
        let (top, blobs) = index_of(&src, &[a.clone(), b.clone()]);
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("nested/layout");
        write_oci_layout(&dir, "v1", &top, &blobs, &src).unwrap();
        let s = read_oci_layout(&dir, Some("v1")).unwrap();
        assert_eq!(s.images.index_digest.as_ref(), Some(&top.digest));
        assert_eq!(s.images.images.len(), 2);
        let got_b = &s.images.images[1];
        assert_eq!(got_b.platform.to_string(), "linux/arm/v7");
        assert_eq!(got_b.manifest_digest, b.manifest_digest);
        assert_eq!(got_b.config_bytes, b.config_bytes);
        assert_eq!(got_b.layers, b.layers);
        // No tag: the only entry.
        assert_eq!(read_oci_layout(&dir, None).unwrap().images.images.len(), 2);
        // No leftovers next to the layout.
        assert_eq!(fs::read_dir(out.path().join("nested")).unwrap().count(), 1);
        // Layers stream verified.
        let l = &s.images.images[0].layers[0];
        let mut r = s.open_verified(&l.digest, l.size).unwrap();
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
    }

    #[test]
    fn second_tag_keeps_first_and_same_tag_replaces() {
        let src_dir = tempfile::tempdir().unwrap();
        let src = BlobStore::open(src_dir.path()).unwrap();
        let a = tiny_image(&src, &amd64(), "a");
        let b = tiny_image(&src, &amd64(), "b");
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("l");
        write_oci_layout(&dir, "one", &manifest_desc(&a), &image_blobs(&a), &src).unwrap();
        write_oci_layout(&dir, "two", &manifest_desc(&b), &image_blobs(&b), &src).unwrap();
        let one = read_oci_layout(&dir, Some("one")).unwrap();
        assert_eq!(one.images.images[0].manifest_digest, a.manifest_digest);
        assert_eq!(one.images.index_digest, None);
        let two = read_oci_layout(&dir, Some("two")).unwrap();
        assert_eq!(two.images.images[0].manifest_digest, b.manifest_digest);
        match read_oci_layout(&dir, None) {
            Err(StoreError::AmbiguousTag { available, .. }) => {
                assert_eq!(available, ["one", "two"])
            }
            other => panic!("expected AmbiguousTag, got {other:?}"),
        }
        match read_oci_layout(&dir, Some("three")) {
            Err(e @ StoreError::TagNotFound { .. }) => assert!(e.to_string().contains("one, two")),
            other => panic!("expected TagNotFound, got {other:?}"),
        }
        // Re-tag "one" to b: replaced, not duplicated.
        write_oci_layout(&dir, "one", &manifest_desc(&b), &image_blobs(&b), &src).unwrap();
        let idx: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
        assert_eq!(idx["manifests"].as_array().unwrap().len(), 2);
        let one = read_oci_layout(&dir, Some("one")).unwrap();
        assert_eq!(one.images.images[0].manifest_digest, b.manifest_digest);
    }

    #[test]
    fn refuses_non_layout_directory_and_changes_nothing() {
        let src_dir = tempfile::tempdir().unwrap();
        let src = BlobStore::open(src_dir.path()).unwrap();
        let a = tiny_image(&src, &amd64(), "a");
        let out = tempfile::tempdir().unwrap();
        fs::write(out.path().join("precious.txt"), b"keep me").unwrap();
        let err = write_oci_layout(out.path(), "x", &manifest_desc(&a), &image_blobs(&a), &src)
            .unwrap_err();
        assert!(matches!(err, StoreError::NotALayout { .. }), "{err}");
        let names: Vec<_> = fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["precious.txt"]);
        assert_eq!(
            fs::read(out.path().join("precious.txt")).unwrap(),
            b"keep me"
        );
        // A file in the way is refused too.
        let f = out.path().join("precious.txt");
        assert!(matches!(
            write_oci_layout(&f, "x", &manifest_desc(&a), &image_blobs(&a), &src),
            Err(StoreError::NotALayout { .. })
        ));
        // An empty directory is fine.
        let empty = out.path().join("empty");
        fs::create_dir(&empty).unwrap();
        write_oci_layout(&empty, "x", &manifest_desc(&a), &image_blobs(&a), &src).unwrap();
        assert!(read_oci_layout(&empty, Some("x")).is_ok());
        // Reading a non-layout is a clear error.
        assert!(matches!(
            read_oci_layout(out.path(), None),
            Err(StoreError::NotALayout { .. })
        ));
    }

    #[test]
    fn missing_source_blob_creates_nothing() {
        let src_dir = tempfile::tempdir().unwrap();
        let src = BlobStore::open(src_dir.path()).unwrap();
        let a = tiny_image(&src, &amd64(), "a");
        let mut blobs = image_blobs(&a);
        blobs.push(Digest::of(b"not stored"));
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("l");
        let err = write_oci_layout(&dir, "x", &manifest_desc(&a), &blobs, &src).unwrap_err();
        assert!(matches!(err, StoreError::MissingBlob { .. }), "{err}");
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
        assert!(matches!(
            write_oci_layout(&dir, "bad tag", &manifest_desc(&a), &image_blobs(&a), &src),
            Err(StoreError::InvalidReference { .. })
        ));
    }

    #[test]
    fn tampered_blobs_are_detected() {
        let src_dir = tempfile::tempdir().unwrap();
        let src = BlobStore::open(src_dir.path()).unwrap();
        let a = tiny_image(&src, &amd64(), "a");
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("l");
        write_oci_layout(&dir, "x", &manifest_desc(&a), &image_blobs(&a), &src).unwrap();
        let store = BlobStore::existing(dir.join("blobs"));
        // Tamper the config (same length): DigestMismatch at read.
        let p = store.path(&a.config_digest);
        let mut bytes = fs::read(&p).unwrap();
        fs::remove_file(&p).unwrap(); // break the hard link to the source store
        let i = bytes.iter().position(|&b| b == b'6').unwrap();
        bytes[i] = b'7';
        fs::write(&p, &bytes).unwrap();
        match read_oci_layout(&dir, Some("x")) {
            Err(StoreError::DigestMismatch { expected, .. }) => {
                assert_eq!(expected, a.config_digest)
            }
            other => panic!("expected DigestMismatch, got {other:?}"),
        }
        fs::remove_file(&p).unwrap();
        fs::write(&p, &a.config_bytes).unwrap();
        // Tamper a layer (same length): the layout reads, streaming fails.
        let l = &a.layers[0];
        let lp = store.path(&l.digest);
        let mut lb = fs::read(&lp).unwrap();
        fs::remove_file(&lp).unwrap();
        let last = lb.len() - 1;
        lb[last] ^= 0xff;
        fs::write(&lp, &lb).unwrap();
        let s = read_oci_layout(&dir, Some("x")).unwrap();
        let mut r = s.open_verified(&l.digest, l.size).unwrap();
        let err = std::io::copy(&mut r, &mut std::io::sink()).unwrap_err();
        assert!(
            err.to_string().contains("does not match its digest"),
            "{err}"
        );
        // Truncated layer: size mismatch at read.
        fs::write(&lp, &lb[..10]).unwrap();
        assert!(matches!(
            read_oci_layout(&dir, Some("x")),
            Err(StoreError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn hostile_documents_give_clear_errors() {
        let src_dir = tempfile::tempdir().unwrap();
        let src = BlobStore::open(src_dir.path()).unwrap();
        let a = tiny_image(&src, &amd64(), "a");
        let case = |index: serde_json::Value, extra: &dyn Fn(&BlobStore)| {
            let dir = tempfile::tempdir().unwrap();
            let store = raw_layout(dir.path(), index);
            for d in image_blobs(&a) {
                store.import_from(&src, &d).unwrap();
            }
            extra(&store);
            read_oci_layout(dir.path(), None).map(|s| s.images)
        };
        let none = |_: &BlobStore| {};
        let m = |d: &Digest, s: u64| desc_json(media::OCI_MANIFEST, d, s);
        let msize = a.manifest_bytes.len() as u64;

        // Non-sha256 digest.
        let r = case(
            json!({"schemaVersion": 2, "manifests": [{"mediaType": media::OCI_MANIFEST, "digest": "sha512:abcd", "size": 3}]}),
            &none,
        );
        assert!(matches!(r, Err(StoreError::BadDigest { .. })), "{r:?}");

        // Unknown media type.
        let r = case(
            json!({"schemaVersion": 2, "manifests": [desc_json("application/x-evil", &a.manifest_digest, msize)]}),
            &none,
        );
        assert!(
            matches!(r, Err(StoreError::UnsupportedMediaType { .. })),
            "{r:?}"
        );

        // Docker schema1, by descriptor media type and by content.
        let r = case(
            json!({"schemaVersion": 2, "manifests": [desc_json(SCHEMA1_SIGNED, &a.manifest_digest, msize)]}),
            &none,
        );
        assert!(matches!(r, Err(StoreError::DockerSchema1 { .. })), "{r:?}");
        let s1 = json!({"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []});
        let s1b = serde_json::to_vec(&s1).unwrap();
        let s1d = Digest::of(&s1b);
        let r = case(
            json!({"schemaVersion": 2, "manifests": [m(&s1d, s1b.len() as u64)]}),
            &|s: &BlobStore| {
                s.put(&s1b).unwrap();
            },
        );
        assert!(matches!(r, Err(StoreError::DockerSchema1 { .. })), "{r:?}");

        // Missing platform in the index: taken from the config; attestation skipped.
        let att = json!({"mediaType": media::OCI_MANIFEST, "digest": a.manifest_digest.to_string(), "size": msize,
            "platform": {"os": "unknown", "architecture": "unknown"}});
        let nested = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [m(&a.manifest_digest, msize), att]});
        let nb = serde_json::to_vec(&nested).unwrap();
        let nd = Digest::of(&nb);
        let r = case(
            json!({"schemaVersion": 2, "manifests": [desc_json(media::OCI_INDEX, &nd, nb.len() as u64)]}),
            &|s: &BlobStore| {
                s.put(&nb).unwrap();
            },
        )
        .unwrap();
        assert_eq!(r.images.len(), 1);
        assert_eq!(r.images[0].platform, amd64());
        assert_eq!(r.index_digest, Some(nd.clone()));

        // Nesting: index → index → ... deeper than MAX_DEPTH.
        let mut docs = Vec::new();
        let mut cur = (nd.clone(), nb.len() as u64);
        for _ in 0..MAX_DEPTH + 1 {
            let v = json!({"schemaVersion": 2, "manifests": [desc_json(media::OCI_INDEX, &cur.0, cur.1)]});
            let b = serde_json::to_vec(&v).unwrap();
            cur = (Digest::of(&b), b.len() as u64);
            docs.push(b);
        }
        let r = case(
            json!({"schemaVersion": 2, "manifests": [desc_json(media::OCI_INDEX, &cur.0, cur.1)]}),
            &|s: &BlobStore| {
                s.put(&nb).unwrap();
                for d in &docs {
                    s.put(d).unwrap();
                }
            },
        );
        assert!(matches!(r, Err(StoreError::TooDeep { .. })), "{r:?}");

        // diff_ids count does not match the layers.
        let cfg = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}});
        let cb = serde_json::to_vec(&cfg).unwrap();
        let man = json!({"schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
            "config": desc_json(media::OCI_CONFIG, &Digest::of(&cb), cb.len() as u64),
            "layers": [desc_json(&a.layers[0].media_type, &a.layers[0].digest, a.layers[0].size)]});
        let mb = serde_json::to_vec(&man).unwrap();
        let r = case(
            json!({"schemaVersion": 2, "manifests": [m(&Digest::of(&mb), mb.len() as u64)]}),
            &|s: &BlobStore| {
                s.put(&cb).unwrap();
                s.put(&mb).unwrap();
            },
        );
        assert!(
            matches!(
                r,
                Err(StoreError::DiffIdCount {
                    layers: 1,
                    diff_ids: 0,
                    ..
                })
            ),
            "{r:?}"
        );

        // Descriptor says manifest, document says index.
        let (xd, xs) = put_json(
            &src,
            &json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": []}),
        );
        let r = case(
            json!({"schemaVersion": 2, "manifests": [m(&xd, xs)]}),
            &|s: &BlobStore| {
                s.import_from(&src, &xd).unwrap();
            },
        );
        assert!(matches!(r, Err(StoreError::Corrupt { .. })), "{r:?}");

        // Missing blob.
        let r = case(
            json!({"schemaVersion": 2, "manifests": [m(&Digest::of(b"nope"), 4)]}),
            &none,
        );
        assert!(matches!(r, Err(StoreError::MissingBlob { .. })), "{r:?}");
    }
}
