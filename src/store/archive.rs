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

/// At most this many entries in an archive: an OCI layout or a `docker save`
/// holds a few per layer, so more is a bomb made of empty members (each costs
/// memory in the catalog even though nothing is written for it).
pub(crate) const MAX_ENTRIES: usize = 100_000;

/// A tar stream that can skip forward: a plain tar file seeks for real (so
/// skipping a 1 GiB member costs nothing); a compressed stream reads and
/// discards (decompressing costs CPU, never disk).
enum TarStream {
    Plain(BufReader<File>),
    Compressed { inner: Box<dyn Read>, pos: u64 },
}

impl Read for TarStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            TarStream::Plain(r) => r.read(buf),
            TarStream::Compressed { inner, pos } => {
                let n = inner.read(buf)?;
                *pos += n as u64;
                Ok(n)
            }
        }
    }
}

impl io::Seek for TarStream {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        match self {
            TarStream::Plain(r) => r.seek(to),
            TarStream::Compressed { inner, pos } => match to {
                io::SeekFrom::Current(n) if n >= 0 => {
                    let want = n.unsigned_abs();
                    let got = io::copy(&mut inner.take(want), &mut io::sink())?;
                    *pos += got;
                    if got < want {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the compressed archive ends inside a member",
                        ));
                    }
                    Ok(*pos)
                }
                _ => Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "a compressed archive can only be read forward",
                )),
            },
        }
    }
}

fn open_stream(file: &Path) -> Result<TarStream, StoreError> {
    let f = File::open(file).map_err(StoreError::io(file))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let inner: Box<dyn Read> = match sniff_reader(&mut r).map_err(StoreError::io(file))? {
        Compression::None => return Ok(TarStream::Plain(r)),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Zstd => {
            Box::new(crate::layer::zst::ZstdDecoder::new(r).map_err(StoreError::io(file))?)
        }
    };
    Ok(TarStream::Compressed { inner, pos: 0 })
}

/// The table of contents of a hostile archive, read without writing anything:
/// every name is validated (no `..`, absolute paths, special files or
/// duplicates) and every regular file's size is known, but no content is
/// stored until [`Catalog::fetch`] asks for it. Callers fetch only what the
/// image's index or `manifest.json` reaches, so a small archive full of huge
/// unreferenced (or highly compressible) members writes nothing to disk.
#[derive(Debug)]
pub(crate) struct Catalog {
    file: PathBuf,
    /// Regular files: normalized path → size from the tar header.
    sizes: BTreeMap<String, u64>,
    /// What has been fetched so far (and every link).
    pub ex: Extracted,
    /// Bytes that fetching may still write (see `archive_reach::max_bytes`).
    budget: u64,
}

impl Catalog {
    /// Pass one: reads every header (and skips every member's data).
    pub(crate) fn scan(file: &Path, links: Links, budget: u64) -> Result<Self, StoreError> {
        let mut cat = Catalog {
            file: file.into(),
            sizes: BTreeMap::new(),
            ex: Extracted::default(),
            budget,
        };
        let mut ar = tar::Archive::new(open_stream(file)?);
        let bad_tar = |e: io::Error| bad_tar(file, e);
        let hostile = |entry: &str, why: &str| hostile(file, entry, why);
        for (n, entry) in ar.entries_with_seek().map_err(bad_tar)?.enumerate() {
            let entry = entry.map_err(bad_tar)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if n >= MAX_ENTRIES {
                return Err(hostile(
                    &raw,
                    &format!(
                        "the archive has more than {MAX_ENTRIES} entries; an image archive holds a few per layer"
                    ),
                ));
            }
            let path = normalize(&raw).map_err(|why| hostile(&raw, why))?;
            let kind = entry.header().entry_type();
            if cat.sizes.contains_key(&path) || cat.ex.links.contains_key(&path) {
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
                    cat.ex.links.insert(path, target);
                    continue;
                }
                _ => return Err(hostile(&raw, "device, fifo or other special file")),
            }
            if path.is_empty() {
                continue;
            }
            if let Some(hex) = path.strip_prefix("blobs/sha256/") {
                Digest::from_hex(hex).map_err(|_| {
                    hostile(
                        &raw,
                        "a file under blobs/sha256/ whose name is not a sha256 hex digest",
                    )
                })?;
            }
            cat.sizes.insert(path, entry.size());
        }
        Ok(cat)
    }

    /// The regular file a path names, following link aliases (bounded).
    pub(crate) fn resolve(&self, path: &str) -> Option<String> {
        let mut p = normalize(path).ok()?;
        for _ in 0..16 {
            if self.sizes.contains_key(&p) {
                return Some(p);
            }
            p = self.ex.links.get(&p)?.clone();
        }
        None
    }

    /// The size the tar header declares for a (resolved) regular file.
    pub(crate) fn size_of(&self, path: &str) -> Option<u64> {
        self.sizes.get(path).copied()
    }

    /// Pass two (and later): streams exactly the named regular files into
    /// `store`, in one pass over the archive. The budget is charged with their
    /// declared sizes before anything is written, so an archive that reaches
    /// more than the limit is refused with nothing on disk; each member is
    /// hashed as it is copied, stops at its declared size and, under
    /// `blobs/sha256/`, must match its name.
    pub(crate) fn fetch(
        &mut self,
        store: &BlobStore,
        paths: &std::collections::BTreeSet<String>,
    ) -> Result<(), StoreError> {
        let todo: Vec<&String> = paths
            .iter()
            .filter(|p| self.sizes.contains_key(*p) && !self.ex.files.contains_key(*p))
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        let total: u64 = todo
            .iter()
            .map(|p| self.sizes.get(*p).copied().unwrap_or(0))
            .fold(0u64, u64::saturating_add);
        if total > self.budget {
            return Err(StoreError::corrupt(
                self.file.display(),
                format!(
                    "the image in this archive needs {total} more bytes, over the remaining {} of the {} limit; if the image really is that large, raise IRONHULL_MAX_ARCHIVE_BYTES",
                    self.budget,
                    crate::store::archive_reach::max_bytes()
                ),
            ));
        }
        self.budget -= total;
        let file = self.file.clone();
        let mut ar = tar::Archive::new(open_stream(&file)?);
        let mut left = todo.len();
        for entry in ar.entries_with_seek().map_err(|e| bad_tar(&file, e))? {
            let mut entry = entry.map_err(|e| bad_tar(&file, e))?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Ok(path) = normalize(&raw) else { continue };
            if !paths.contains(&path) || self.ex.files.contains_key(&path) {
                continue;
            }
            let Some(&declared) = self.sizes.get(&path) else {
                continue;
            };
            let where_ = format!("{} entry {path}", file.display());
            let expected = match path.strip_prefix("blobs/sha256/") {
                Some(hex) => Some(Digest::from_hex(hex).map_err(|_| {
                    hostile(&file, &raw, "a blob whose name is not a sha256 hex digest")
                })?),
                None => None,
            };
            let (digest, size) = store
                .put_reader(&mut (&mut entry).take(declared), expected.as_ref())
                .map_err(StoreError::from_blob(&where_))?;
            if size != declared {
                return Err(StoreError::corrupt(
                    &where_,
                    format!(
                        "truncated: the tar header declares {declared} bytes but only {size} could be read"
                    ),
                ));
            }
            self.ex.files.insert(path, (digest, size));
            left -= 1;
            if left == 0 {
                break;
            }
        }
        if left > 0 {
            return Err(StoreError::corrupt(
                file.display(),
                "the archive changed while it was being read (a member seen in the first pass is gone)",
            ));
        }
        Ok(())
    }
}

fn bad_tar(file: &Path, e: io::Error) -> StoreError {
    StoreError::corrupt(
        file.display(),
        format!(
            "not a readable tar archive ({e}); check that the file is complete and really an image archive"
        ),
    )
}

fn hostile(file: &Path, entry: &str, why: &str) -> StoreError {
    StoreError::HostileArchiveEntry {
        file: file.into(),
        entry: entry.chars().take(300).collect(),
        why: why.into(),
    }
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
