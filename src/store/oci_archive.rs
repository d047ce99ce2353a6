//! OCI archives (`oci-archive:`): a tar of an OCI image layout.

use crate::digest::Digest;
use crate::image::{Descriptor, Index, annotation};
use crate::store::archive::{self, Catalog, Links};
use crate::store::archive_reach;
use crate::store::blobs::BlobStore;
use crate::store::error::StoreError;
use crate::store::layout::{self, blob_set, validate_tag};
use crate::store::{MAX_DOC, Source};
use std::path::Path;

/// A temporary directory under `work` for an extracted archive.
pub(crate) fn work_dir(
    work: &Path,
    prefix: &str,
) -> Result<(tempfile::TempDir, BlobStore), StoreError> {
    std::fs::create_dir_all(work).map_err(StoreError::io(work))?;
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(work)
        .map_err(StoreError::io(work))?;
    let blobs =
        BlobStore::open(tmp.path().join("blobs")).map_err(StoreError::from_blob(work.display()))?;
    Ok((tmp, blobs))
}

/// Reads a small extracted file (`index.json`, `manifest.json`, ...) by its
/// archive path, verified against the digest recorded while extracting.
pub(crate) fn read_member(
    ex: &archive::Extracted,
    store: &BlobStore,
    file: &Path,
    name: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some((d, size)) = ex.lookup(name) else {
        return Ok(None);
    };
    let where_ = format!("{} entry {name}", file.display());
    if size > MAX_DOC {
        return Err(StoreError::corrupt(
            &where_,
            format!("{size} bytes is over the {MAX_DOC}-byte limit for metadata files"),
        ));
    }
    store
        .read_verified(&d, Some(size), MAX_DOC)
        .map(Some)
        .map_err(StoreError::from_blob(where_))
}

/// Fetches small top-level files (`index.json`, `manifest.json` ...) by
/// name, refusing any over the metadata limit before it is written.
pub(crate) fn fetch_small(
    cat: &mut Catalog,
    store: &BlobStore,
    file: &Path,
    names: &[&str],
) -> Result<(), StoreError> {
    let mut want = std::collections::BTreeSet::new();
    for name in names {
        let Some(path) = cat.resolve(name) else {
            continue;
        };
        let size = cat.size_of(&path).unwrap_or(0);
        if size > MAX_DOC {
            return Err(StoreError::corrupt(
                format!("{} entry {name}", file.display()),
                format!("{size} bytes is over the {MAX_DOC}-byte limit for metadata files"),
            ));
        }
        want.insert(path);
    }
    cat.fetch(store, &want)
}

/// Reads an OCI archive into a blob store in a temporary directory under
/// `work` (kept alive by the returned [`Source`]). The archive's names are
/// read first (links, `..`, absolute paths and special files are refused);
/// then only `index.json`, `oci-layout` and the blobs `index.json` reaches are
/// streamed in, each verified against its name and descriptor size, the total
/// capped (see [`crate::store::max_archive_bytes`]). Unreferenced members are
/// never written.
pub fn read_oci_archive(file: &Path, tag: Option<&str>, work: &Path) -> Result<Source, StoreError> {
    let (tmp, blobs) = work_dir(work, "ironhull-oci-archive-")?;
    let mut cat = Catalog::scan(file, Links::Reject, archive_reach::max_bytes())?;
    fetch_small(&mut cat, &blobs, file, &["index.json", "oci-layout"])?;
    let ex = &cat.ex;
    let not_layout = |why: &str| StoreError::NotALayout {
        dir: file.into(),
        why: why.into(),
    };
    let marker = read_member(ex, &blobs, file, "oci-layout")?
        .ok_or_else(|| not_layout("the archive has no `oci-layout` file"))?;
    layout::check_oci_layout(&marker, file)?;
    let index = read_member(ex, &blobs, file, "index.json")?
        .ok_or_else(|| not_layout("the archive has no `index.json`"))?;
    let origin = format!("OCI archive {}", file.display());
    archive_reach::fetch_reach(&mut cat, &blobs, &index, &origin, true)?;
    let images = layout::images_from_index(&index, &blobs, tag, &origin)?;
    Ok(Source {
        images,
        blobs,
        _tmp: Some(tmp),
    })
}

/// Writes a deterministic tar of an OCI layout holding `top` (tagged `tag`) and
/// the listed blobs: sorted entries, mtime 0, uid/gid 0, modes 0644/0755, no
/// user names; written to a temporary file and renamed to `file`.
pub fn write_oci_archive(
    file: &Path,
    tag: &str,
    top: &Descriptor,
    blobs: &[Digest],
    src: &BlobStore,
) -> Result<(), StoreError> {
    validate_tag(tag)?;
    let all = blob_set(top, blobs, src)?;
    let mut entry = top.clone();
    entry
        .annotations
        .insert(annotation::REF_NAME.into(), tag.into());
    let index = crate::cjson::to_vec(&Index::new(vec![entry]))
        .map_err(|e| StoreError::corrupt("index.json", format!("cannot serialize: {e}")))?;
    archive::write_layout_tar(
        file,
        &all,
        src,
        vec![
            ("index.json", index),
            ("oci-layout", layout::oci_layout_bytes()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Platform;
    use crate::store::image_blobs;
    use crate::store::testutil::{gzip, index_of, manifest_desc, tiny_image};
    use std::fs;

    /// A raw tar entry, bypassing the tar crate's own path checks so that
    /// hostile names can be produced.
    fn raw_entry(
        b: &mut tar::Builder<Vec<u8>>,
        name: &[u8],
        kind: tar::EntryType,
        link: &[u8],
        data: &[u8],
    ) {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    fn read_err(bytes: Vec<u8>) -> StoreError {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.tar");
        fs::write(&f, bytes).unwrap();
        let work = dir.path().join("work");
        let err = read_oci_archive(&f, None, &work).unwrap_err();
        // Nothing escaped, and the work dir was cleaned up.
        assert!(!dir.path().join("evil").exists());
        assert_eq!(fs::read_dir(&work).unwrap().count(), 0);
        err
    }

    #[test]
    fn round_trip_and_determinism() {
        let src_dir = tempfile::tempdir().unwrap();
        let src = BlobStore::open(src_dir.path()).unwrap();
        let a = tiny_image(&src, &Platform::linux("amd64", None), "a");
        let b = tiny_image(&src, &Platform::linux("arm64", Some("v8")), "b");
        let (top, blobs) = index_of(&src, &[a.clone(), b]);
        let out = tempfile::tempdir().unwrap();
        let f1 = out.path().join("one.tar");
        let f2 = out.path().join("sub/two.tar");
        write_oci_archive(&f1, "v1", &top, &blobs, &src).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        write_oci_archive(&f2, "v1", &top, &blobs, &src).unwrap();
        let bytes = fs::read(&f1).unwrap();
        assert_eq!(bytes, fs::read(&f2).unwrap());
        // Headers: mtime 0, root owner, no user names, sorted.
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut names = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.mtime().unwrap(), 0);
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            assert_eq!(h.username().unwrap(), Some(""));
            names.push(e.path().unwrap().to_string_lossy().into_owned());
        }
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(names.last().map(String::as_str), Some("oci-layout"));

        let work = out.path().join("work");
        let s = read_oci_archive(&f1, Some("v1"), &work).unwrap();
        assert_eq!(s.images.index_digest.as_ref(), Some(&top.digest));
        assert_eq!(s.images.images.len(), 2);
        assert_eq!(s.images.images[0].layers, a.layers);
        assert!(s.blobs.contains(&a.layers[0].digest));
        assert_eq!(fs::read_dir(&work).unwrap().count(), 1);
        drop(s);
        assert_eq!(
            fs::read_dir(&work).unwrap().count(),
            0,
            "temp dir is removed with the Source"
        );

        // A gzip'd archive reads too.
        let gz = out.path().join("one.tar.gz");
        fs::write(&gz, gzip(&bytes)).unwrap();
        assert_eq!(
            read_oci_archive(&gz, None, &work)
                .unwrap()
                .images
                .images
                .len(),
            2
        );

        // Single manifest as top.
        let f3 = out.path().join("three.tar");
        write_oci_archive(&f3, "m", &manifest_desc(&a), &image_blobs(&a), &src).unwrap();
        let s = read_oci_archive(&f3, Some("m"), &work).unwrap();
        assert_eq!(s.images.images[0].manifest_digest, a.manifest_digest);
        assert!(matches!(
            read_oci_archive(&f3, Some("nope"), &work),
            Err(StoreError::TagNotFound { .. })
        ));
    }

    #[test]
    fn hostile_entries_are_refused() {
        let layout = layout::oci_layout_bytes();
        for (name, kind, link) in [
            (&b"../evil"[..], tar::EntryType::Regular, &b""[..]),
            (b"blobs/../../evil", tar::EntryType::Regular, b""),
            (b"/evil", tar::EntryType::Regular, b""),
            (b"blobs/sha256/x", tar::EntryType::Symlink, b"/etc/passwd"),
            (b"index.json", tar::EntryType::Link, b"../../etc/passwd"),
            (b"dev", tar::EntryType::Char, b""),
        ] {
            let mut b = tar::Builder::new(Vec::new());
            raw_entry(&mut b, b"oci-layout", tar::EntryType::Regular, b"", &layout);
            raw_entry(&mut b, name, kind, link, b"x");
            let err = read_err(b.into_inner().unwrap());
            assert!(
                matches!(err, StoreError::HostileArchiveEntry { .. }),
                "{}: {err}",
                String::from_utf8_lossy(name)
            );
        }
        // The same path twice is ambiguous.
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(&mut b, b"oci-layout", tar::EntryType::Regular, b"", &layout);
        raw_entry(
            &mut b,
            b"./oci-layout",
            tar::EntryType::Regular,
            b"",
            &layout,
        );
        assert!(matches!(
            read_err(b.into_inner().unwrap()),
            StoreError::HostileArchiveEntry { .. }
        ));
    }

    #[test]
    fn corrupt_archives_are_refused() {
        // A blob the index reaches whose content does not match its name.
        let good = Digest::of(b"good");
        let index = crate::cjson::to_vec(&Index::new(vec![Descriptor::new(
            crate::image::media::OCI_MANIFEST,
            good.clone(),
            4,
        )]))
        .unwrap();
        let layout_bytes = layout::oci_layout_bytes();
        let mut b = tar::Builder::new(Vec::new());
        let name = format!("blobs/sha256/{}", good.hex());
        raw_entry(
            &mut b,
            name.as_bytes(),
            tar::EntryType::Regular,
            b"",
            b"evil",
        );
        raw_entry(&mut b, b"index.json", tar::EntryType::Regular, b"", &index);
        raw_entry(
            &mut b,
            b"oci-layout",
            tar::EntryType::Regular,
            b"",
            &layout_bytes,
        );
        let err = read_err(b.into_inner().unwrap());
        assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
        // The same blob when nothing reaches it is never read: the archive
        // is then simply one without an image.
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(
            &mut b,
            name.as_bytes(),
            tar::EntryType::Regular,
            b"",
            b"evil",
        );
        assert!(matches!(
            read_err(b.into_inner().unwrap()),
            StoreError::NotALayout { .. }
        ));
        // No oci-layout / index.json.
        let mut b = tar::Builder::new(Vec::new());
        raw_entry(&mut b, b"hello", tar::EntryType::Regular, b"", b"x");
        assert!(matches!(
            read_err(b.into_inner().unwrap()),
            StoreError::NotALayout { .. }
        ));
        // Not a tar at all.
        assert!(matches!(
            read_err(vec![7u8; 2048]),
            StoreError::Corrupt { .. }
        ));
    }
}
