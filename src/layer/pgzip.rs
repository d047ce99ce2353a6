//! Deterministic, block-parallel gzip (the pigz scheme, with fixed blocks).
//!
//! Why: compressing is most of the cost of building a layer, and a single
//! deflate stream uses one core. pigz shows how to use all of them without
//! giving up a single, standard gzip member:
//!
//! ```text
//! input ─▶ [block 0][block 1][block 2] …           (BLOCK_SIZE each, last one shorter)
//!            │        │        │
//!            ▼        ▼        ▼                     raw deflate, one per worker;
//!          defl(0)  defl(1)  defl(2)                 block i uses the last 32 KiB of
//!            │        │        │                     block i-1 as preset dictionary,
//!            ▼        ▼        ▼                     ends with a sync flush (non-final)
//! header ─ bytes0 ─ bytes1 ─ bytes2(final) ─ CRC32 ─ ISIZE
//! ```
//!
//! Determinism: the bytes of block `i` are a pure function of
//! (level, block `i`, the 32 KiB before it, whether it is last). The block
//! size is a constant, never derived from the core count, and blocks are
//! written strictly in order, so the output is identical for any thread count
//! and any scheduling. The unit tests check 1, 2, 4 and 8 threads.
//!
//! Memory is bounded: at most `2 × threads` blocks (input plus output
//! buffers, about 2 MiB each) are in flight; the writer blocks on the oldest
//! block when the window is full. Buffers are recycled so a large layer does
//! not allocate (and page-fault) a fresh MiB per block.
//!
//! Small inputs (one block) are compressed on the calling thread, and worker
//! threads are only started once a second block exists, so the many tiny
//! layers of a build cost no thread start-up.

use flate2::{Compress, Crc, FlushCompress, Status};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Uncompressed bytes per block. Fixed: changing it changes every layer
/// digest ironhull produces, so it is part of the output format.
pub const BLOCK_SIZE: usize = 1 << 20;

/// Bytes of history given to each block as its preset dictionary (deflate's
/// whole window, so parallel output compresses as well as a serial stream
/// apart from the block boundaries).
pub const DICT_SIZE: usize = 32 * 1024;

/// The most worker threads ever used; more cores do not help much because
/// hashing and writing stay serial.
pub const MAX_THREADS: usize = 8;

/// The worker count: `IRONHULL_THREADS` when set to a positive number (tests
/// and benchmarks use it; it never changes the output), otherwise the
/// available parallelism, capped at [`MAX_THREADS`].
pub fn default_threads() -> usize {
    let from_env = std::env::var("IRONHULL_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0);
    match from_env {
        Some(n) => n.min(64),
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(MAX_THREADS),
    }
}

/// The gzip header: no name, no comment, mtime 0, OS 255 ("unknown"), and the
/// XFL byte flate2 (and gzip) derive from the level, so output headers match
/// the ones ironhull wrote before compression went parallel.
fn header(level: u32) -> [u8; 10] {
    let xfl = if level >= 9 {
        2
    } else if level <= 1 {
        4
    } else {
        0
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

/// One block to compress. Buffers travel with the job and come back with the
/// result so they can be reused.
struct Job {
    data: Vec<u8>,
    /// The last [`DICT_SIZE`] bytes of the previous block, or empty for block 0.
    dict: Vec<u8>,
    last: bool,
    out: Vec<u8>,
    reply: SyncSender<io::Result<Done>>,
}

struct Done {
    data: Vec<u8>,
    dict: Vec<u8>,
    out: Vec<u8>,
    crc: Crc,
}

/// Compresses one block as raw deflate into `out` (cleared first). Non-final
/// blocks end with a sync flush: the deflate block is closed and an empty
/// stored block byte-aligns the output, with BFINAL unset, so the next
/// block's bytes can simply follow.
fn deflate_block(
    level: u32,
    dict: &[u8],
    data: &[u8],
    last: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    // A fresh stream per block, never `reset()`: measured on 200 MB, a reset
    // zlib-rs stream kept some state from the previous block and produced
    // different bytes depending on which blocks a thread had compressed
    // before. A new stream costs one ~300 KiB allocation per MiB of input.
    let level = if level > 0 && incompressible(data) {
        0
    } else {
        level
    };
    let mut c = Compress::new(flate2::Compression::new(level), false);
    if level > 0 && !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    out.clear();
    // Worst case for deflate is a few bytes per 16 KiB stored block on top of
    // the input; start big enough to need no growth in the common case.
    out.reserve(data.len() + data.len() / 16_000 * 5 + 64);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut consumed = 0usize;
    // Every round either consumes input, produces output or ends; the bound
    // turns an impossible stall into an error instead of a hang.
    for _ in 0..100_000 {
        if out.capacity() - out.len() < 1024 {
            out.reserve(64 * 1024);
        }
        let before_in = c.total_in();
        let status = c
            .compress_vec(&data[consumed..], out, flush)
            .map_err(io::Error::other)?;
        consumed += usize::try_from(c.total_in() - before_in).map_err(io::Error::other)?;
        match status {
            Status::StreamEnd => return Ok(()),
            // A sync flush is complete once all input is in and zlib left
            // room in the output buffer (a full buffer may hide more
            // pending output, so then go round again).
            Status::Ok | Status::BufError => {
                if !last && consumed == data.len() && out.capacity() > out.len() {
                    return Ok(());
                }
            }
        }
    }
    Err(io::Error::other(
        "deflate made no progress on a block; this is a bug in the compressor, please report it",
    ))
}

/// Blocks shorter than this are always compressed: the test below needs a
/// large sample to be meaningful, and small layers are cheap anyway.
const STORE_MIN: usize = 64 * 1024;

/// Whether a block looks like already-compressed or random bytes, so deflate
/// would spend its time searching for matches and then emit stored blocks
/// anyway (zlib picks the smallest of stored, fixed and dynamic blocks).
/// Such blocks are written stored (level 0) at memory speed instead; on
/// random input this is ~100× faster than level 6 and costs < 0.01 % size.
///
/// Two integer tests, both pure functions of the block's bytes, so the
/// decision (and the layer digest) never depends on the machine, the thread
/// count or floating-point rounding:
/// 1. the byte histogram is nearly flat: the collision sum Σcᵢ² is within
///    1/64 of the uniform N²/256 (a Rényi entropy above ~7.98 bits per byte);
///    text, code and executables are far from that;
/// 2. deflate at level 1 gains less than 2 % on four 16 KiB samples spread
///    over the block, so a flat histogram hiding repeated strings (which
///    LZ77 would find) still gets compressed.
fn incompressible(data: &[u8]) -> bool {
    if data.len() < STORE_MIN {
        return false;
    }
    let mut counts = [0u64; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    let n = data.len() as u128;
    let collisions: u128 = counts.iter().map(|&c| u128::from(c) * u128::from(c)).sum();
    // Σc² · 256 ≤ N² · (1 + 1/64)  ⇔  Σc² · 256 · 64 ≤ N² · 65
    if collisions * 256 * 64 > n * n * 65 {
        return false;
    }
    const SAMPLE: usize = 16 * 1024;
    let mut out = Vec::with_capacity(SAMPLE + 1024);
    let (mut taken, mut produced) = (0u64, 0u64);
    for i in 0..4 {
        let start = data.len() / 4 * i;
        let sample = &data[start..(start + SAMPLE).min(data.len())];
        // A fresh stream per sample, for the reason given in deflate_block.
        let mut c = Compress::new(flate2::Compression::new(1), false);
        out.clear();
        if c.compress_vec(sample, &mut out, FlushCompress::Finish)
            .is_err()
        {
            return false;
        }
        taken += sample.len() as u64;
        // A sample whose output did not fit counts as not compressible.
        produced += c.total_out().max(sample.len() as u64);
    }
    produced * 100 >= taken * 98
}

/// A streaming gzip encoder that compresses fixed-size blocks on worker
/// threads and writes one gzip member, byte-identical for any thread count.
pub struct ParGzEncoder<W: Write> {
    inner: Option<W>,
    level: u32,
    threads: usize,
    /// [`BLOCK_SIZE`], except in tests, which use small blocks to stay fast
    /// in debug builds.
    block: usize,
    header_written: bool,
    /// The block being filled.
    cur: Vec<u8>,
    /// The last [`DICT_SIZE`] bytes of the previous block.
    prev_tail: Vec<u8>,
    crc: Crc,
    pending: VecDeque<Receiver<io::Result<Done>>>,
    pool: Option<Pool>,
    /// Recycled buffers.
    free: Vec<Vec<u8>>,
    finished: bool,
}

struct Pool {
    jobs: Option<SyncSender<Job>>,
    handles: Vec<JoinHandle<()>>,
}

impl Pool {
    fn start(level: u32, threads: usize) -> io::Result<Self> {
        let (tx, rx) = sync_channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let h = std::thread::Builder::new()
                .name(format!("ironhull-gzip-{i}"))
                .spawn(move || worker(level, &rx))?;
            handles.push(h);
        }
        Ok(Self {
            jobs: Some(tx),
            handles,
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the queue ends every worker's loop.
        self.jobs.take();
        for h in self.handles.drain(..) {
            // A panicked worker already reported through its dropped reply
            // channel; nothing more to do here.
            let _ = h.join();
        }
    }
}

fn worker(level: u32, rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let Ok(guard) = rx.lock() else { return };
            match guard.recv() {
                Ok(j) => j,
                Err(_) => return,
            }
        };
        let Job {
            data,
            dict,
            last,
            mut out,
            reply,
        } = job;
        let res = deflate_block(level, &dict, &data, last, &mut out).map(|()| {
            let mut crc = Crc::new();
            crc.update(&data);
            Done {
                data,
                dict,
                out,
                crc,
            }
        });
        // The encoder may have been dropped mid-stream; then nobody listens.
        let _ = reply.send(res);
    }
}

impl<W: Write> ParGzEncoder<W> {
    /// An encoder writing to `inner` at `level` (0..=9, checked by the caller;
    /// larger values are clamped by flate2) with `threads` workers (at least 1).
    pub fn new(inner: W, level: u32, threads: usize) -> Self {
        Self::with_block_size(inner, level, threads, BLOCK_SIZE)
    }

    fn with_block_size(inner: W, level: u32, threads: usize, block: usize) -> Self {
        // The dictionary is the previous block's tail, so a block must be at
        // least as long as the dictionary.
        let block = block.max(DICT_SIZE);
        Self {
            inner: Some(inner),
            level,
            threads: threads.max(1),
            block,
            header_written: false,
            cur: Vec::new(),
            prev_tail: Vec::new(),
            crc: Crc::new(),
            pending: VecDeque::new(),
            pool: None,
            free: Vec::new(),
            finished: false,
        }
    }

    fn inner_mut(&mut self) -> io::Result<&mut W> {
        self.inner
            .as_mut()
            .ok_or_else(|| io::Error::other("gzip encoder used after finish"))
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            let h = header(self.level);
            self.inner_mut()?.write_all(&h)?;
            self.header_written = true;
        }
        Ok(())
    }

    fn take_buf(&mut self, cap: usize) -> Vec<u8> {
        let mut b = self.free.pop().unwrap_or_default();
        b.clear();
        b.reserve(cap);
        b
    }

    /// Writes out the oldest in-flight block.
    fn drain_one(&mut self) -> io::Result<()> {
        let Some(rx) = self.pending.pop_front() else {
            return Ok(());
        };
        let done = rx.recv().map_err(|_| {
            io::Error::other("a gzip worker thread stopped unexpectedly; the layer is incomplete")
        })??;
        self.crc.combine(&done.crc);
        self.inner_mut()?.write_all(&done.out)?;
        // Keep a bounded number of spare buffers.
        for b in [done.data, done.dict, done.out] {
            if self.free.len() < 4 * self.threads + 4 {
                self.free.push(b);
            }
        }
        Ok(())
    }

    /// Hands the current block to the pool (or compresses it here when it is
    /// the only block, or when there is one thread).
    fn submit(&mut self, last: bool) -> io::Result<()> {
        self.write_header()?;
        let next = self.take_buf(self.block);
        let data = std::mem::replace(&mut self.cur, next);
        let mut dict = self.take_buf(DICT_SIZE);
        dict.extend_from_slice(&self.prev_tail);
        if !last {
            self.prev_tail.clear();
            self.prev_tail
                .extend_from_slice(&data[data.len().saturating_sub(DICT_SIZE)..]);
        }
        let single =
            self.pool.is_none() && (self.threads == 1 || (last && self.pending.is_empty()));
        if single {
            let mut out = self.free.pop().unwrap_or_default();
            deflate_block(self.level, &dict, &data, last, &mut out)?;
            self.crc.update(&data);
            let inner = self
                .inner
                .as_mut()
                .ok_or_else(|| io::Error::other("gzip encoder used after finish"))?;
            inner.write_all(&out)?;
            self.free.extend([data, dict, out]);
            return Ok(());
        }
        if self.pool.is_none() {
            self.pool = Some(Pool::start(self.level, self.threads)?);
        }
        while self.pending.len() >= 2 * self.threads {
            self.drain_one()?;
        }
        let (reply, rx) = sync_channel(1);
        let out = self.take_buf(0);
        let job = Job {
            data,
            dict,
            last,
            out,
            reply,
        };
        let sent = self
            .pool
            .as_ref()
            .and_then(|p| p.jobs.as_ref())
            .map(|tx| tx.send(job).is_ok())
            .unwrap_or(false);
        if !sent {
            return Err(io::Error::other(
                "the gzip worker threads stopped unexpectedly; the layer is incomplete",
            ));
        }
        self.pending.push_back(rx);
        Ok(())
    }

    /// Compresses what is left, writes the trailer (CRC32 and length of the
    /// whole input, little endian) and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.finish_inner()?;
        self.inner
            .take()
            .ok_or_else(|| io::Error::other("gzip encoder used after finish"))
    }

    fn finish_inner(&mut self) -> io::Result<()> {
        if self.finished {
            return Ok(());
        }
        self.submit(true)?;
        while !self.pending.is_empty() {
            self.drain_one()?;
        }
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        // ISIZE is the input length modulo 2^32 (RFC 1952); Crc::amount
        // tracks exactly that.
        trailer[4..].copy_from_slice(&self.crc.amount().to_le_bytes());
        let inner = self.inner_mut()?;
        inner.write_all(&trailer)?;
        inner.flush()?;
        self.finished = true;
        self.pool.take();
        Ok(())
    }
}

impl<W: Write> Write for ParGzEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.finished {
            return Err(io::Error::other("gzip encoder used after finish"));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        // A full block is only submitted once more input arrives, because
        // only then is it known not to be the last one.
        if self.cur.len() >= self.block {
            self.submit(false)?;
        }
        let n = self.block.saturating_sub(self.cur.len()).min(buf.len());
        self.cur.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// Flushes the inner writer only: a gzip-level flush would add a block
    /// boundary whose position depends on the caller's flush pattern.
    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Deterministic test data: a mix of compressible text-like runs and
    /// xorshift noise, so blocks exercise both matches and stored output.
    fn data(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut v = Vec::with_capacity(len);
        let words: [&[u8]; 4] = [
            b"ELF\x7f section ",
            b"libc.so.6 ",
            b"\0\0\0\0",
            b"main.rs:42 ",
        ];
        while v.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if (x >> 60) < 9 {
                v.extend_from_slice(words[(x & 3) as usize]);
            } else {
                v.extend_from_slice(&x.to_le_bytes());
            }
        }
        v.truncate(len);
        v
    }

    /// Small blocks keep debug-build tests fast; the scheme does not depend
    /// on the size (one test below uses the real [`BLOCK_SIZE`]).
    const TEST_BLOCK: usize = 64 * 1024;

    fn compress(input: &[u8], level: u32, threads: usize, chunk: usize) -> Vec<u8> {
        compress_with(input, level, threads, chunk, TEST_BLOCK)
    }

    fn compress_with(
        input: &[u8],
        level: u32,
        threads: usize,
        chunk: usize,
        block: usize,
    ) -> Vec<u8> {
        let mut e = ParGzEncoder::with_block_size(Vec::new(), level, threads, block);
        for c in input.chunks(chunk.max(1)) {
            e.write_all(c).unwrap();
        }
        e.finish().unwrap()
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // A single member: GzDecoder (not Multi) must read all of it.
        let mut d = flate2::read::GzDecoder::new(gz);
        d.read_to_end(&mut out).unwrap();
        // And nothing may follow the member.
        let mut rest = Vec::new();
        d.into_inner().read_to_end(&mut rest).unwrap();
        assert!(
            rest.is_empty(),
            "{} bytes after the gzip member",
            rest.len()
        );
        out
    }

    #[test]
    fn identical_across_thread_counts_and_runs_and_round_trips() {
        let input = data(11 * TEST_BLOCK + 12_345, 7);
        let reference = compress(&input, 6, 1, 70_001);
        assert_eq!(gunzip(&reference), input);
        assert!(reference.len() < input.len(), "mixed data must compress");
        for threads in [1, 2, 4, 8] {
            for run in 0..2 {
                // Different write chunking too: output must not depend on it.
                let chunk = [1 << 14, 4097][run];
                let got = compress(&input, 6, threads, chunk);
                assert!(
                    got == reference,
                    "threads={threads} run={run}: output differs"
                );
            }
        }
    }

    #[test]
    fn block_boundaries_and_levels_round_trip() {
        for len in [
            0,
            1,
            DICT_SIZE,
            TEST_BLOCK - 1,
            TEST_BLOCK,
            TEST_BLOCK + 1,
            2 * TEST_BLOCK,
            3 * TEST_BLOCK + 5,
        ] {
            let input = data(len, len as u64 + 3);
            for level in [0, 1, 6, 9] {
                let a = compress(&input, level, 1, 1 << 20);
                let b = compress(&input, level, 3, 50_000);
                assert!(a == b, "len={len} level={level}: thread counts differ");
                assert_eq!(gunzip(&a), input, "len={len} level={level}");
                assert_eq!(a[8], header(level)[8]);
            }
        }
    }

    #[test]
    fn dictionary_is_used_across_blocks() {
        // The second block repeats the last 16 KiB of the first (deflate
        // cannot reach the full 32 KiB back): with the previous block's tail
        // as dictionary it compresses to matches; without it, it could not.
        let noise = data(TEST_BLOCK, 99)
            .iter()
            .map(|b| b.wrapping_mul(31).wrapping_add(7))
            .collect::<Vec<u8>>();
        let mut input = noise.clone();
        input.extend_from_slice(&noise[noise.len() - DICT_SIZE / 2..]);
        let gz = compress(&input, 6, 2, 1 << 16);
        let one = compress(&noise, 6, 1, 1 << 16);
        assert!(
            gz.len() < one.len() + 2048,
            "second block did not use the dictionary: {} vs {}",
            gz.len(),
            one.len()
        );
        assert_eq!(gunzip(&gz), input);
    }

    #[test]
    fn single_block_matches_plain_flate2() {
        // One block is plain deflate: identical to flate2's own encoder, so
        // small layers keep the digests they had before parallel gzip.
        let input = data(40_000, 5);
        let mut e = flate2::GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), flate2::Compression::new(6));
        e.write_all(&input).unwrap();
        let plain = e.finish().unwrap();
        assert!(compress(&input, 6, 4, 8192) == plain);
    }

    #[test]
    fn tiny_matches_plain_flate2() {
        let input = data(3000, 5);
        let mut e = flate2::GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), flate2::Compression::new(6));
        e.write_all(&input).unwrap();
        let plain = e.finish().unwrap();
        let ours = compress(&input, 6, 4, 512);
        assert_eq!(ours, plain);
    }

    /// xorshift bytes: a flat histogram and nothing for LZ77 to find.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut v = Vec::with_capacity(len + 8);
        while v.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.truncate(len);
        v
    }

    #[test]
    fn incompressible_blocks_are_detected_by_content_only() {
        let random = noise(BLOCK_SIZE, 5);
        assert!(incompressible(&random));
        // Below the sample size the block is always compressed.
        assert!(!incompressible(&random[..STORE_MIN - 1]));
        // Text-like data is far from a flat histogram.
        assert!(!incompressible(&data(BLOCK_SIZE, 5)));
        // A flat histogram hiding repeats deflate can use (a 4 KiB random
        // run, repeated) must still be compressed.
        let run = noise(4096, 9);
        let repeated: Vec<u8> = run.iter().copied().cycle().take(BLOCK_SIZE).collect();
        assert!(!incompressible(&repeated));
        // Half text, half noise: the histogram is not flat.
        let mut mixed = data(BLOCK_SIZE / 2, 3);
        mixed.extend_from_slice(&noise(BLOCK_SIZE / 2, 4));
        assert!(!incompressible(&mixed));
    }

    #[test]
    fn random_blocks_are_stored_and_stay_deterministic() {
        // Noise, then text, then noise: stored and compressed blocks mix in
        // one member and the dictionary still links compressed blocks.
        let mut input = noise(2 * BLOCK_SIZE + 100, 21);
        input.extend_from_slice(&data(BLOCK_SIZE, 22));
        input.extend_from_slice(&noise(BLOCK_SIZE / 2, 23));
        let a = compress_with(&input, 6, 1, 1 << 16, BLOCK_SIZE);
        let b = compress_with(&input, 6, 2, 1 << 16, BLOCK_SIZE);
        let c = compress_with(&input, 6, 4, 7_777, BLOCK_SIZE);
        assert!(
            a == b && b == c,
            "thread counts or write sizes changed the bytes"
        );
        assert_eq!(gunzip(&a), input);
        // Stored noise costs only block headers (5 bytes per 64 KiB); the
        // text block shrinks, so the whole is smaller than the input.
        assert!(a.len() < input.len(), "{} >= {}", a.len(), input.len());
        let stored = compress_with(&noise(BLOCK_SIZE, 8), 6, 1, 1 << 16, BLOCK_SIZE);
        assert!(stored.len() <= BLOCK_SIZE + BLOCK_SIZE / 65_535 * 5 + 64);
    }

    #[test]
    fn real_block_size_identical_for_one_and_two_threads() {
        let input = data(BLOCK_SIZE + DICT_SIZE + 17, 11);
        let a = compress_with(&input, 1, 1, 1 << 16, BLOCK_SIZE);
        let b = compress_with(&input, 1, 2, 1 << 16, BLOCK_SIZE);
        assert!(a == b);
        assert_eq!(gunzip(&a), input);
    }

    #[test]
    fn write_errors_propagate() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut e = ParGzEncoder::with_block_size(Full, 6, 2, TEST_BLOCK);
        let input = data(3 * TEST_BLOCK, 1);
        let r = e.write_all(&input).and_then(|()| e.finish().map(|_| ()));
        assert!(r.is_err());
    }

    #[test]
    fn thread_count_env_is_positive_and_capped() {
        let n = default_threads();
        assert!((1..=64).contains(&n));
    }
}
