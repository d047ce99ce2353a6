//! Tar plumbing shared by the OCI- and Docker-archive readers and writers.
//!
//! Reading: archives are hostile. Nothing is ever extracted by its own path:
//! every regular file is streamed into a content-addressed [`BlobStore`] and only
//! a map from (validated) archive path to digest is kept, so `..`, absolute
//! paths and links can never make us write outside the work directory.
//!
//! Writing: one header constructor (mtime 0, uid/gid 0, fixed modes, no user
//! names) and sorted entries make the archives bit-for-bit reproducible.

use crate::digest::Digest;
use crate::store::VerifyingReader;
use crate::store::blobs::BlobStore;
use crate::store::error::StoreError;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

/// What a compressed stream starts with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The OCI layer media type of a tar stream compressed this way.
    pub(crate) fn layer_media_type(self) -> &'static str {
        match self {
            Compression::None => crate::image::media::OCI_LAYER_TAR,
            Compression::Gzip => crate::image::media::OCI_LAYER_GZIP,
            Compression::Zstd => crate::image::media::OCI_LAYER_ZSTD,
        }
    }
}

/// Sniffs the compression from the first bytes.
pub(crate) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&crate::layer::zst::ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Sniffs the compression of a buffered stream without consuming it.
pub(crate) fn sniff_reader<R: BufRead>(r: &mut R) -> io::Result<Compression> {
    Ok(sniff(r.fill_buf()?))
}

/// How links in an archive are treated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// Any link is a hostile entry (OCI archives never need them).
    Reject,
    /// Links are recorded as aliases inside the archive's own namespace (old
    /// `docker save` links duplicate `layer.tar` files); never materialized.
    Alias,
}

/// An archive read into a blob store: archive path → blob.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    pub files: BTreeMap<String, (Digest, u64)>,
    pub links: BTreeMap<String, String>,
}

impl Extracted {
    /// Looks a path up, following link aliases (bounded, so loops end).
    pub(crate) fn lookup(&self, path: &str) -> Option<(Digest, u64)> {
        let mut p = normalize(path).ok()?;
        for _ in 0..16 {
            if let Some(f) = self.files.get(&p) {
                return Some(f.clone());
            }
            p = self.links.get(&p)?.clone();
        }
        None
    }
}

/// Normalizes an archive path: drops `./`, empty and `.` components; refuses
/// absolute paths, `..` and non-UTF-8 names.
pub(crate) fn normalize(raw: &str) -> Result<String, &'static str> {
    if raw.starts_with('/') {
        return Err("absolute path");
    }
    if raw.contains('\0') {
        return Err("NUL byte in path");
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("path contains `..`"),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Resolves a symlink target lexically against the link's directory; refuses
/// targets that leave the archive root.
fn resolve_symlink(link: &str, target: &str) -> Result<String, &'static str> {
    if target.starts_with('/') {
        return Err("symlink with an absolute target");
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("symlink target escapes the archive");
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Opens a possibly gzip- or zstd-compressed tar file for reading.
pub(crate) fn open_tar(file: &Path) -> Result<Box<dyn Read>, StoreError> {
    let f = File::open(file).map_err(StoreError::io(file))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    match sniff_reader(&mut r).map_err(StoreError::io(file))? {
        Compression::None => Ok(Box::new(r)),
        Compression::Gzip => Ok(Box::new(flate2::read::MultiGzDecoder::new(r))),
        Compression::Zstd => Ok(Box::new(
            crate::layer::zst::ZstdDecoder::new(r).map_err(StoreError::io(file))?,
        )),
    }
}

/// Streams every regular file whose path `keep` accepts into `store`.
/// `blobs/sha256/<hex>` files are verified against their names on the way.
pub(crate) fn extract(
    file: &Path,
    store: &BlobStore,
    keep: &dyn Fn(&str) -> bool,
    links: Links,
) -> Result<Extracted, StoreError> {
    let mut out = Extracted::default();
    let mut ar = tar::Archive::new(open_tar(file)?);
    let bad_tar = |e: io::Error| {
        StoreError::corrupt(
            file.display(),
            format!(
                "not a readable tar archive ({e}); check that the file is complete and really an image archive"
            ),
        )
    };
    let hostile = |entry: &str, why: &str| StoreError::HostileArchiveEntry {
        file: file.into(),
        entry: entry.chars().take(300).collect(),
        why: why.into(),
    };
    for entry in ar.entries().map_err(bad_tar)? {
        let mut entry = entry.map_err(bad_tar)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = normalize(&raw).map_err(|why| hostile(&raw, why))?;
        let kind = entry.header().entry_type();
        if out.files.contains_key(&path) || out.links.contains_key(&path) {
            return Err(hostile(
                &raw,
                "the path appears more than once, so its content is ambiguous",
            ));
        }
        match kind {
            tar::EntryType::Directory | tar::EntryType::XGlobalHeader => continue,
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Symlink | tar::EntryType::Link => {
                if links == Links::Reject {
                    return Err(hostile(&raw, "links are not allowed in this archive"));
                }
                let target_raw = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let target = if kind == tar::EntryType::Symlink {
                    resolve_symlink(&path, &target_raw)
                } else {
                    normalize(&target_raw)
                }
                .map_err(|why| hostile(&raw, why))?;
                out.links.insert(path, target);
                continue;
            }
            _ => return Err(hostile(&raw, "device, fifo or other special file")),
        }
        if path.is_empty() || !keep(&path) {
            continue;
        }
        let declared = entry.size();
        let where_ = format!("{} entry {path}", file.display());
        let expected = match path.strip_prefix("blobs/sha256/") {
            Some(hex) => Some(Digest::from_hex(hex).map_err(|_| {
                hostile(
                    &raw,
                    "a file under blobs/sha256/ whose name is not a sha256 hex digest",
                )
            })?),
            None => None,
        };
        let (digest, size) = store
            .put_reader(&mut entry, expected.as_ref())
            .map_err(StoreError::from_blob(&where_))?;
        if size != declared {
            return Err(StoreError::corrupt(
                &where_,
                format!(
                    "truncated: the tar header declares {declared} bytes but only {size} could be read"
                ),
            ));
        }
        out.files.insert(path, (digest, size));
    }
    Ok(out)
}

/// Entry modes in written archives.
const FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o755;

/// A tar written with deterministic headers to a temporary file next to its
/// destination, renamed into place on [`DetTar::commit`].
pub(crate) struct DetTar {
    builder: tar::Builder<BufWriter<tempfile::NamedTempFile>>,
    dest: PathBuf,
}

impl DetTar {
    pub(crate) fn create(dest: &Path) -> Result<Self, StoreError> {
        let dir = crate::store::layout::parent_of(dest);
        std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(StoreError::io(dir))?;
        Ok(Self {
            builder: tar::Builder::new(BufWriter::with_capacity(1 << 20, tmp)),
            dest: dest.into(),
        })
    }

    fn header(
        &self,
        path: &str,
        kind: tar::EntryType,
        size: u64,
        mode: u32,
    ) -> Result<tar::Header, StoreError> {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).map_err(StoreError::io(&self.dest))?;
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        Ok(h)
    }

    pub(crate) fn dir(&mut self, path: &str) -> Result<(), StoreError> {
        let h = self.header(path, tar::EntryType::Directory, 0, DIR_MODE)?;
        self.builder
            .append(&h, io::empty())
            .map_err(StoreError::io(&self.dest))
    }

    pub(crate) fn bytes(&mut self, path: &str, data: &[u8]) -> Result<(), StoreError> {
        let h = self.header(path, tar::EntryType::Regular, data.len() as u64, FILE_MODE)?;
        self.builder
            .append(&h, data)
            .map_err(StoreError::io(&self.dest))
    }

    /// Appends a blob, verifying its digest and size while it is copied, so a
    /// corrupted store can never leak into a written archive.
    pub(crate) fn blob(
        &mut self,
        path: &str,
        store: &BlobStore,
        d: &Digest,
    ) -> Result<(), StoreError> {
        let where_ = format!("blob store {}", store.root().display());
        let f = store.open_read(d).map_err(StoreError::from_blob(&where_))?;
        let size = f.metadata().map_err(StoreError::io(&store.path(d)))?.len();
        let h = self.header(path, tar::EntryType::Regular, size, FILE_MODE)?;
        let r = VerifyingReader::new(f, d.clone(), size);
        self.builder.append(&h, r).map_err(|e| StoreError::Io {
            path: store.path(d),
            source: e,
        })
    }

    /// Finishes the tar and atomically renames it to its destination.
    pub(crate) fn commit(self) -> Result<(), StoreError> {
        let dest = self.dest;
        let buf = self.builder.into_inner().map_err(StoreError::io(&dest))?;
        let tmp = buf.into_inner().map_err(|e| StoreError::Io {
            path: dest.clone(),
            source: e.into_error(),
        })?;
        tmp.as_file().sync_all().map_err(StoreError::io(&dest))?;
        tmp.persist(&dest).map_err(|e| StoreError::Io {
            path: dest.clone(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// Writes the layout part of an archive (`blobs/…`, `index.json`, `oci-layout`
/// and any `extra` top-level files) in sorted order.
pub(crate) fn write_layout_tar(
    dest: &Path,
    blobs: &std::collections::BTreeSet<Digest>,
    src: &BlobStore,
    mut top_files: Vec<(&str, Vec<u8>)>,
) -> Result<(), StoreError> {
    let mut t = DetTar::create(dest)?;
    t.dir("blobs/")?;
    t.dir("blobs/sha256/")?;
    for d in blobs {
        t.blob(&format!("blobs/sha256/{}", d.hex()), src, d)?;
    }
    top_files.sort_by(|a, b| a.0.cmp(b.0));
    for (name, bytes) in &top_files {
        t.bytes(name, bytes)?;
    }
    t.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_refuses_escapes() {
        assert_eq!(normalize("./blobs//sha256/./x").unwrap(), "blobs/sha256/x");
        assert!(normalize("../x").is_err());
        assert!(normalize("a/../../x").is_err());
        assert!(normalize("/etc/passwd").is_err());
    }

    #[test]
    fn symlinks_resolve_inside_only() {
        assert_eq!(
            resolve_symlink("b/layer.tar", "../a/layer.tar").unwrap(),
            "a/layer.tar"
        );
        assert!(resolve_symlink("b/layer.tar", "../../etc/passwd").is_err());
        assert!(resolve_symlink("layer.tar", "/etc/passwd").is_err());
    }
}
