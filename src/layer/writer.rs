//! The streaming layer writer: entries in, one stored blob out, with the
//! diffID and the blob digest computed in the same pass (see the
//! [module docs](super)).

use super::compress::Compressor;
use super::header::{EntryHeaders, header_for};
use super::{LayerError, LayerParams, kind_name, path_order};
use crate::digest::HashingWriter;
use crate::fs::entry::{Entry, EntryKind, ImagePath};
use crate::image::LayerBlob;
use crate::store::blobs::BlobStore;
use std::cmp::Ordering;
use std::io::{self, Read};

/// Passes through at most `remaining` bytes and remembers whether the source
/// (rather than the destination) failed, so errors can say which side broke.
struct Exact<'a> {
    inner: &'a mut dyn Read,
    remaining: u64,
    copied: u64,
    read_error: Option<io::Error>,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let max = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = loop {
            match self.inner.read(&mut buf[..max]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let kind = e.kind();
                    let msg = e.to_string();
                    self.read_error = Some(e);
                    return Err(io::Error::new(kind, msg));
                }
            }
        };
        self.remaining -= n as u64;
        self.copied += n as u64;
        Ok(n)
    }
}

/// Writes one layer into a blob store. See the module docs.
pub struct LayerWriter {
    tar: tar::Builder<HashingWriter<Compressor>>,
    media_type: &'static str,
    mtime: u64,
    last: Option<ImagePath>,
    /// The emitted entries that are ancestors of (or equal to) the last entry,
    /// top down, with whether each is a directory. Because entries arrive in
    /// [`path_order`], an emitted ancestor of a new entry is always on this
    /// stack, so no set of all paths is needed.
    open: Vec<(ImagePath, &'static str)>,
    /// False for [`LayerWriter::new_unordered`]: no order guard, no parents.
    ordered: bool,
    poisoned: bool,
}

impl LayerWriter {
    /// A writer for layers ironhull composes itself: entries must come in
    /// [`path_order`] and missing parents are added.
    pub fn new(store: &BlobStore, params: &LayerParams) -> Result<Self, LayerError> {
        Self::with_order(store, params, true)
    }

    /// A writer that re-serializes an existing layer's entries in the order
    /// given (for rewriting a base layer during hardening): no order guard and
    /// no automatic parent directories, because a foreign layer may list a
    /// directory after its contents, and adding one would create a duplicate.
    /// The output is still deterministic: it depends only on the entries and
    /// their order, which come from a digest-verified input layer.
    pub fn new_unordered(store: &BlobStore, params: &LayerParams) -> Result<Self, LayerError> {
        Self::with_order(store, params, false)
    }

    fn with_order(
        store: &BlobStore,
        params: &LayerParams,
        ordered: bool,
    ) -> Result<Self, LayerError> {
        let blob = store.writer()?;
        let comp = Compressor::new(params.compression, blob)?;
        let mut tar = tar::Builder::new(HashingWriter::new(comp));
        // Only used by append_path/append_dir_all, which this module never
        // calls; set anyway so a future slip cannot pull in host metadata.
        tar.mode(tar::HeaderMode::Deterministic);
        tar.follow_symlinks(false);
        Ok(Self {
            tar,
            media_type: params.compression.media_type(),
            mtime: params.mtime,
            last: None,
            open: Vec::new(),
            ordered,
            poisoned: false,
        })
    }

    /// Appends one entry. For regular files `content` must yield exactly
    /// `entry.size` bytes (anything else means the source changed while being
    /// read, and is an error); for other kinds it must be `None` or empty.
    ///
    /// Entries must come in strictly increasing [`path_order`]; the writer
    /// refuses anything else rather than sorting. Parent directories not yet
    /// written in this layer are written first (0755, root, `params.mtime`).
    ///
    /// After an error the layer is incomplete and every later call fails with
    /// [`LayerError::Poisoned`]; dropping the writer removes the partial blob.
    pub fn append(
        &mut self,
        entry: &Entry,
        content: Option<&mut dyn Read>,
    ) -> Result<(), LayerError> {
        if self.poisoned {
            return Err(LayerError::Poisoned);
        }
        // Checks that write nothing: a failure here leaves the layer usable.
        if self.ordered
            && let Some(last) = &self.last
            && path_order(&entry.path, last) != Ordering::Greater
        {
            return Err(LayerError::OutOfOrder {
                path: entry.path.to_abs(),
                previous: last.to_abs(),
            });
        }
        if entry.is_file() && entry.size > 0 && content.is_none() {
            return Err(LayerError::MissingContent {
                path: entry.path.to_abs(),
                size: entry.size,
            });
        }
        let headers = header_for(entry)?;
        let kind = kind_name(&entry.kind);
        let (keep, missing) = if self.ordered {
            self.missing_parents(entry)?
        } else {
            (0, Vec::new())
        };
        let mut content = content;
        if !entry.is_file()
            && let Some(src) = content.take()
        {
            let mut probe = [0u8; 1];
            let n = read_retrying(src, &mut probe).map_err(|source| LayerError::ReadContent {
                path: entry.path.to_abs(),
                source,
            })?;
            if n > 0 {
                return Err(LayerError::UnexpectedContent {
                    path: entry.path.to_abs(),
                    kind,
                });
            }
        }

        // From here on bytes are written; an error leaves a broken layer.
        self.poisoned = true;
        self.open.truncate(keep);
        for dir in missing {
            let mut d = Entry::new(dir.clone(), EntryKind::Dir, 0o755);
            d.mtime = self.mtime;
            let h = header_for(&d)?;
            self.write_headers(&h, &mut io::empty(), &d)?;
            self.open.push((dir, kind_name(&EntryKind::Dir)));
        }
        match content {
            Some(src) => self.write_headers(&headers, src, entry)?,
            None => self.write_headers(&headers, &mut io::empty(), entry)?,
        }
        if self.ordered {
            self.open.push((entry.path.clone(), kind));
        }
        self.last = Some(entry.path.clone());
        self.poisoned = false;
        Ok(())
    }

    /// Works out, without changing anything, how many entries of the
    /// open-ancestor stack are ancestors of `entry` (they form a prefix, since
    /// the stack is a chain) and which ancestors still have to be written.
    fn missing_parents(&self, entry: &Entry) -> Result<(usize, Vec<ImagePath>), LayerError> {
        let keep = self
            .open
            .iter()
            .take_while(|(p, _)| entry.path.starts_with(p))
            .count();
        if let Some((parent, kind)) = self.open[..keep].last()
            && *kind != kind_name(&EntryKind::Dir)
        {
            return Err(LayerError::ParentNotDir {
                path: entry.path.to_abs(),
                parent: parent.to_abs(),
                kind,
            });
        }
        let have = self.open[..keep]
            .iter()
            .filter(|(p, _)| !p.is_root())
            .count();
        Ok((
            keep,
            entry.path.ancestors().into_iter().skip(have).collect(),
        ))
    }

    fn write_headers(
        &mut self,
        h: &EntryHeaders,
        src: &mut dyn Read,
        entry: &Entry,
    ) -> Result<(), LayerError> {
        let werr = |source| LayerError::Write {
            what: "tar header",
            source,
        };
        if let Some(pax) = &h.pax {
            self.tar
                .append(&pax.header, &pax.records[..])
                .map_err(werr)?;
        }
        let expected = if entry.is_file() { entry.size } else { 0 };
        let mut exact = Exact {
            inner: src,
            remaining: expected,
            copied: 0,
            read_error: None,
        };
        let res = self.tar.append(&h.header, &mut exact);
        let path = || entry.path.to_abs();
        if let Some(source) = exact.read_error.take() {
            return Err(LayerError::ReadContent {
                path: path(),
                source,
            });
        }
        res.map_err(|source| LayerError::Write {
            what: "file content",
            source,
        })?;
        if exact.copied < expected {
            return Err(LayerError::ContentTooShort {
                path: path(),
                expected,
                actual: exact.copied,
            });
        }
        if entry.is_file() {
            let mut probe = [0u8; 1];
            let n = read_retrying(exact.inner, &mut probe).map_err(|source| {
                LayerError::ReadContent {
                    path: path(),
                    source,
                }
            })?;
            if n > 0 {
                return Err(LayerError::ContentTooLong {
                    path: path(),
                    expected,
                });
            }
        }
        Ok(())
    }

    /// Ends the archive (two zero blocks, part of both digests), flushes the
    /// compressor and commits the blob.
    pub fn finish(mut self) -> Result<LayerBlob, LayerError> {
        if self.poisoned {
            return Err(LayerError::Poisoned);
        }
        self.tar.finish().map_err(|source| LayerError::Write {
            what: "end of archive",
            source,
        })?;
        let hashing = self.tar.into_inner().map_err(|source| LayerError::Write {
            what: "end of archive",
            source,
        })?;
        let (comp, diff_id, _tar_size) = hashing.finish();
        let blob = comp.finish().map_err(|source| LayerError::Write {
            what: "compressor trailer",
            source,
        })?;
        let (digest, size) = blob.commit(None)?;
        Ok(LayerBlob {
            media_type: self.media_type.to_string(),
            digest,
            size,
            diff_id,
        })
    }
}

fn read_retrying(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
