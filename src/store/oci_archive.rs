//! OCI archives (`oci-archive:`): a tar of an OCI image layout.

use crate::digest::Digest;
use crate::image::{Descriptor, Index, annotation};
use crate::store::archive::{self, Links};
use crate::store::blobs::BlobStore;
use crate::store::error::StoreError;
use crate::store::layout::{self, blob_set, validate_tag};
use crate::store::{MAX_DOC, Source};
use std::path::Path;

/// A temporary directory under `work` for an extracted archive.
pub(crate) fn work_dir(work: &Path, prefix: &str) -> Result<(tempfile::TempDir, BlobStore), StoreError> {
    std::fs::create_dir_all(work).map_err(StoreError::io(work))?;
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(work)
        .map_err(StoreError::io(work))?;
    let blobs = BlobStore::open(tmp.path().join("blobs")).map_err(StoreError::from_blob(work.display()))?;
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

/// Reads an OCI archive: the tar is streamed into a blob store in a temporary
/// directory under `work` (kept alive by the returned [`Source`]); only
/// `index.json`, `oci-layout` and `blobs/sha256/<hex>` are kept, every blob is
/// verified against its name, and links, `..` and absolute paths are refused.
pub fn read_oci_archive(file: &Path, tag: Option<&str>, work: &Path) -> Result<Source, StoreError> {
    let (tmp, blobs) = work_dir(work, "ironhull-oci-archive-")?;
    let keep = |p: &str| p == "index.json" || p == "oci-layout" || p.starts_with("blobs/sha256/");
    let ex = archive::extract(file, &blobs, &keep, Links::Reject)?;
    let not_layout = |why: &str| StoreError::NotALayout {
        dir: file.into(),
        why: why.into(),
    };
    let marker = read_member(&ex, &blobs, file, "oci-layout")?
        .ok_or_else(|| not_layout("the archive has no `oci-layout` file"))?;
    layout::check_oci_layout(&marker, file)?;
    let index = read_member(&ex, &blobs, file, "index.json")?
        .ok_or_else(|| not_layout("the archive has no `index.json`"))?;
    let origin = format!("OCI archive {}", file.display());
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
pub fn write_oci_archive(file: &Path, tag: &str, top: &Descriptor, blobs: &[Digest], src: &BlobStore) -> Result<(), StoreError> {
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
        vec![("index.json", index), ("oci-layout", layout::oci_layout_bytes())],
    )
}
