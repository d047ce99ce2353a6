//! zstd layers (`application/vnd.oci.image.layer.v1.tar+zstd`): a
//! deterministic multithreaded encoder and a memory-bounded decoder.
//!
//! Named `zst` rather than `zstd` so paths to the `zstd` crate stay
//! unambiguous inside `layer`.
//!
//! Determinism. libzstd has two compressors: the single-threaded one
//! (`nbWorkers = 0`) and the multithreaded one (`nbWorkers >= 1`), which cuts
//! the input into jobs whose size and overlap derive from the level, never
//! from the worker count. The two produce different bytes, but the
//! multithreaded one produces the same bytes for every worker count >= 1
//! (checked for 1, 2 and 4 by the tests below). So the encoder always runs in
//! multithreaded mode, with at least one worker, and never issues a zstd-level
//! flush (that would end a block at a point chosen by the caller's flush
//! pattern). The remaining inputs to the output are the level, the checksum
//! flag and the libzstd version, which Cargo.toml pins (`zstd-sys =
//! "=2.1.3+zstd.1.5.7"`, built from its bundled sources; setting
//! `ZSTD_SYS_USE_PKG_CONFIG` would link the system libzstd instead, and
//! [`libzstd_is_pinned`] lets tests notice).
//!
//! Memory when reading hostile layers: a zstd frame declares its window size
//! and the decoder allocates it up front, so a 20-byte frame could ask for
//! 2 GiB (window log 31). The decoder refuses frames whose window exceeds
//! [`WINDOW_LOG_MAX`]; the decompressed size itself is bounded by the layer
//! reader's `max_layer_bytes`, since decoding is streamed.

use std::io::{self, BufReader, Read, Write};

/// Lowest accepted zstd level.
pub const MIN_LEVEL: u32 = 1;
/// Highest accepted zstd level. Levels 20..=22 ("ultra") need up to 4x the
/// compressor memory for a few percent, and would make a build on a small
/// machine slow for little gain; 19 is the highest standard level.
pub const MAX_LEVEL: u32 = 19;
/// zstd's own default level (what `zstd` on the command line uses).
pub const DEFAULT_LEVEL: u32 = 3;

/// Largest window (as a power of two) a layer may need to be decoded: 2^27 =
/// 128 MiB, the limit libzstd itself applies by default and the largest
/// window any standard level (1..=22, `--ultra` included) uses. Only frames
/// made with `--long=28` or more exceed it; accepting those (up to 31, 2 GiB)
/// would let a tiny hostile blob make every reader allocate gigabytes, and
/// several layers may be read at once. Such layers are refused with an error
/// that says how to recompress them.
pub const WINDOW_LOG_MAX: u32 = 27;

/// The first bytes of every zstd frame (RFC 8878).
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The libzstd release layer digests are defined against (1.5.7).
pub const LIBZSTD_VERSION: u32 = 10507;

/// True when the linked libzstd is the pinned release. A different release
/// may compress differently, so a build of ironhull linked against another
/// one (e.g. a system libzstd via `ZSTD_SYS_USE_PKG_CONFIG`) would produce
/// different zstd layer digests.
pub fn libzstd_is_pinned() -> bool {
    zstd::zstd_safe::version_number() == LIBZSTD_VERSION
}

/// A streaming zstd encoder with deterministic output (see the module docs).
/// Writes exactly one frame with a content checksum and no content size.
pub struct ZstdEncoder<W: Write> {
    inner: zstd::stream::write::Encoder<'static, W>,
}

impl<W: Write> ZstdEncoder<W> {
    /// `level` must be in `MIN_LEVEL..=MAX_LEVEL` (checked by the caller;
    /// out-of-range values are an `InvalidInput` error here). `workers` is
    /// clamped to at least 1: 0 would select the single-threaded compressor,
    /// whose output differs.
    pub fn new(out: W, level: u32, workers: usize) -> io::Result<Self> {
        if !(MIN_LEVEL..=MAX_LEVEL).contains(&level) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("zstd level {level} is outside {MIN_LEVEL}..={MAX_LEVEL}"),
            ));
        }
        // In range, so it fits an i32.
        let mut enc = zstd::stream::write::Encoder::new(out, level as i32)?;
        enc.include_checksum(true)?;
        enc.include_contentsize(false)?;
        let workers = u32::try_from(workers.max(1)).unwrap_or(u32::MAX).min(64);
        enc.multithread(workers)?;
        Ok(Self { inner: enc })
    }

    /// Ends the frame and returns the inner writer (flushed).
    pub fn finish(self) -> io::Result<W> {
        let mut w = self.inner.finish()?;
        w.flush()?;
        Ok(w)
    }
}

impl<W: Write> Write for ZstdEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    /// Flushes the inner writer only: a zstd flush would end a block at a
    /// point chosen by the caller, and so change the output.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.get_mut().flush()
    }
}

/// A streaming zstd decoder with a bounded window ([`WINDOW_LOG_MAX`]).
/// Reads concatenated frames (and skips skippable frames) as one stream, like
/// `zstd -d`. Errors from libzstd come back as `InvalidData` with a message
/// that says what is wrong; a stream cut short is `UnexpectedEof`.
pub struct ZstdDecoder<R: Read> {
    inner: zstd::stream::read::Decoder<'static, BufReader<R>>,
}

impl<R: Read> ZstdDecoder<R> {
    pub fn new(r: R) -> io::Result<Self> {
        let mut inner = zstd::stream::read::Decoder::new(r)?;
        inner.window_log_max(WINDOW_LOG_MAX)?;
        Ok(Self { inner })
    }
}

impl<R: Read> Read for ZstdDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(explain)
    }
}

/// Gives libzstd's terse error names a cause and a fix.
fn explain(e: io::Error) -> io::Error {
    use zstd::zstd_safe::zstd_sys::ZSTD_ErrorCode;
    let Some(z) = e.get_ref().and_then(|x| x.downcast_ref::<zstd::Error>()) else {
        return e;
    };
    let msg = if z.is(ZSTD_ErrorCode::ZSTD_error_frameParameter_windowTooLarge) {
        format!(
            "zstd frame needs a window larger than {} MiB (window log above {WINDOW_LOG_MAX}), \
             more than ironhull allows a layer to make it allocate; recompress the layer \
             without `--long` above {WINDOW_LOG_MAX} (any standard level 1..=22 fits)",
            (1u64 << WINDOW_LOG_MAX) >> 20
        )
    } else if z.is(ZSTD_ErrorCode::ZSTD_error_checksum_wrong) {
        "zstd frame checksum mismatch: the decompressed data is not what was compressed".to_string()
    } else {
        format!("invalid zstd data: {z}")
    };
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic, compressible but not trivial data.
    fn data(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let words: [&[u8]; 8] = [
            b"layer ",
            b"zstd ",
            b"ironhull ",
            b"\0\0\0\0",
            b"tar ",
            b"0644 ",
            b"usr/bin/",
            b"\n",
        ];
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(5) {
                out.extend_from_slice(&x.to_le_bytes());
            } else {
                out.extend_from_slice(words[(x % 8) as usize]);
            }
        }
        out.truncate(len);
        out
    }

    fn compress(input: &[u8], level: u32, workers: usize, chunk: usize) -> Vec<u8> {
        let mut enc = ZstdEncoder::new(Vec::new(), level, workers).unwrap();
        for c in input.chunks(chunk.max(1)) {
            enc.write_all(c).unwrap();
            // Caller flushes must not change the output.
            enc.flush().unwrap();
        }
        enc.finish().unwrap()
    }

    fn decompress(z: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        ZstdDecoder::new(z)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn identical_for_1_2_4_workers_any_chunking_and_round_trips() {
        // 24 MiB spans several multithreaded jobs at level 3 (8 MiB each) and
        // many at level 1, so the workers really run in parallel.
        let input = data(24 << 20, 7);
        for level in [1, DEFAULT_LEVEL] {
            let reference = compress(&input, level, 1, 1 << 20);
            for (workers, chunk) in [(2, 1 << 20), (4, 1 << 20), (2, 4096), (1, 10 << 20)] {
                assert!(
                    compress(&input, level, workers, chunk) == reference,
                    "level {level}: {workers} workers, {chunk}-byte writes differ from 1 worker"
                );
            }
            // Same bytes on a second run, and zero workers means one.
            assert!(compress(&input, level, 0, 1 << 20) == reference);
            assert!(reference.len() < input.len() / 2, "barely compressed");
            assert!(decompress(&reference).unwrap() == input);
        }
    }

    #[test]
    fn small_inputs_are_deterministic_and_levels_differ() {
        let input = data(300_000, 3);
        let a = compress(&input, 19, 1, 512);
        assert_eq!(a, compress(&input, 19, 2, 100_000));
        assert_eq!(decompress(&a).unwrap(), input);
        assert_ne!(a, compress(&input, 1, 1, 512));
        // The empty stream is a valid frame.
        let empty = compress(b"", 3, 2, 1);
        assert_eq!(&empty[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
        assert!(decompress(&empty).unwrap().is_empty());
    }

    #[test]
    fn pinned_frame_bytes() {
        // If this fails, the zstd output format moved (libzstd or parameters
        // changed): every zstd layer digest moves. Update deliberately.
        assert!(libzstd_is_pinned(), "{}", zstd::zstd_safe::version_string());
        let z = compress(b"hello hello hello hello\n", DEFAULT_LEVEL, 2, 5);
        let hex: String = z.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, PINNED_HELLO);
    }
    const PINNED_HELLO: &str = "28b52ffd04586d00003868656c6c6f200a0100994b11a87c2ea8";

    #[test]
    fn level_out_of_range_is_refused() {
        for bad in [0, 20, u32::MAX] {
            let e = ZstdEncoder::new(Vec::new(), bad, 1).err().unwrap();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
    }

    /// A frame header declaring window log `log`, no content size, followed
    /// by one raw last block of one byte.
    fn frame_with_window(log: u8) -> Vec<u8> {
        let exponent = log - 10;
        vec![
            0x28,
            0xb5,
            0x2f,
            0xfd,          // magic
            0x00,          // descriptor: no FCS, not single-segment, no checksum
            exponent << 3, // window descriptor, mantissa 0
            0x09,
            0x00,
            0x00, // raw block, last, size 1
            b'x',
        ]
    }

    #[test]
    fn huge_window_is_refused_before_allocating() {
        for log in [28, 31] {
            let e = decompress(&frame_with_window(log)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
            assert!(e.to_string().contains("window larger than 128 MiB"), "{e}");
        }
        // The same frame with a small window decodes.
        assert_eq!(decompress(&frame_with_window(20)).unwrap(), b"x");
    }

    #[test]
    fn truncated_corrupt_and_concatenated_streams() {
        let input = data(200_000, 9);
        let z = compress(&input, 3, 1, 1 << 16);
        let e = decompress(&z[..z.len() / 2]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        // Flip a byte in the checksum trailer.
        let mut bad = z.clone();
        let n = bad.len();
        bad[n - 1] ^= 0xff;
        let e = decompress(&bad).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        assert!(e.to_string().contains("checksum"), "{e}");
        // Garbage after a frame is not silently ignored.
        let mut tail = z.clone();
        tail.extend_from_slice(b"garbage!");
        assert!(decompress(&tail).is_err());
        // Two frames read as one stream, like `zstd -d`.
        let mut two = z.clone();
        two.extend_from_slice(&z);
        let out = decompress(&two).unwrap();
        assert_eq!(out.len(), input.len() * 2);
    }
}
