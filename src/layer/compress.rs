//! The compression stage of the layer pipeline: which compressions a layer
//! may use and the encoder each one runs, pinned for determinism (gzip
//! header fields, zstd through [`super::zst`]).

use super::{LayerError, pgzip, zst};
use crate::image::media;
use crate::store::blobs::BlobWriter;
use std::io::{self, Write};

/// How a layer's tar stream is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip at `level` 0..=9 (6 is gzip's and ironhull's default).
    Gzip { level: u32 },
    /// zstd at `level` 1..=19 (3 is zstd's and ironhull's default), as
    /// `application/vnd.oci.image.layer.v1.tar+zstd`.
    Zstd { level: u32 },
    /// An uncompressed tar.
    None,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Gzip { level: 6 }
    }
}

impl Compression {
    /// The OCI media type of a layer compressed this way.
    pub fn media_type(&self) -> &'static str {
        match self {
            Compression::Gzip { .. } => media::OCI_LAYER_GZIP,
            Compression::Zstd { .. } => media::OCI_LAYER_ZSTD,
            Compression::None => media::OCI_LAYER_TAR,
        }
    }
}

/// The compression stage of the pipeline. An enum rather than a trait object
/// so each stage keeps its own by-value `finish`.
pub(super) enum Compressor {
    // Boxed: the encoder's state is large and the enum is moved around.
    // Block-parallel and deterministic: see [`pgzip`].
    Gzip(Box<pgzip::ParGzEncoder<BlobWriter>>),
    // Multithreaded and deterministic: see [`zst`].
    Zstd(Box<zst::ZstdEncoder<BlobWriter>>),
    Plain(Box<BlobWriter>),
}

impl Compressor {
    pub(super) fn new(c: Compression, out: BlobWriter) -> Result<Self, LayerError> {
        Ok(match c {
            Compression::Gzip { level } => {
                if level > 9 {
                    return Err(LayerError::BadCompressionLevel { level });
                }
                // Pinned header (no name, mtime 0, OS 255, XFL from the
                // level); output is independent of the thread count.
                let enc = pgzip::ParGzEncoder::new(out, level, pgzip::default_threads());
                Compressor::Gzip(Box::new(enc))
            }
            Compression::Zstd { level } => {
                if !(zst::MIN_LEVEL..=zst::MAX_LEVEL).contains(&level) {
                    return Err(LayerError::BadZstdLevel { level });
                }
                // The same worker count as gzip (IRONHULL_THREADS or the
                // cores, capped); output is independent of it.
                let enc = zst::ZstdEncoder::new(out, level, pgzip::default_threads()).map_err(
                    |source| LayerError::Write {
                        what: "zstd compressor setup",
                        source,
                    },
                )?;
                Compressor::Zstd(Box::new(enc))
            }
            Compression::None => Compressor::Plain(Box::new(out)),
        })
    }

    pub(super) fn finish(self) -> io::Result<BlobWriter> {
        match self {
            Compressor::Gzip(enc) => enc.finish(),
            Compressor::Zstd(enc) => enc.finish(),
            Compressor::Plain(w) => Ok(*w),
        }
    }
}

impl Write for Compressor {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Gzip(w) => w.write(buf),
            Compressor::Zstd(w) => w.write(buf),
            Compressor::Plain(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Gzip(w) => w.flush(),
            Compressor::Zstd(w) => w.flush(),
            Compressor::Plain(w) => w.flush(),
        }
    }
}
