//! Read-ahead on a helper thread, for pipelines of streaming stages.
//!
//! Why: reading a layer is three serial costs — hashing the compressed blob,
//! inflating it, then hashing and parsing the tar stream — and each runs at
//! a few hundred MB/s on one core. Putting a stage behind [`with_read_ahead`]
//! runs it on its own thread, so on two cores the wall time is that of the
//! slowest stage instead of the sum. Bytes, their order and error values are
//! unchanged: the consumer sees exactly what a direct `read` would give.
//!
//! Memory is bounded: at most [`DEPTH`] buffers of [`BUF`] bytes are in
//! flight. Threads are scoped, so a stage may borrow from the caller.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

/// Bytes per buffer handed between threads.
pub const BUF: usize = 256 * 1024;
/// Buffers in flight per stage (the producer blocks when they are all full).
pub const DEPTH: usize = 4;

/// Runs `consume` with a reader that yields the bytes of `inner`, which is
/// read on a scoped helper thread. When `consume` returns (early or not), the
/// helper stops at its next buffer; a read error of `inner` is returned by
/// the consumer's `read` at the position it happened.
pub fn with_read_ahead<R, T>(inner: R, consume: impl FnOnce(&mut AheadReader) -> T) -> T
where
    R: Read + Send,
{
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
        let (back_tx, back_rx) = channel::<Vec<u8>>();
        let producer = s.spawn(move || produce(inner, &tx, &back_rx));
        let mut reader = AheadReader {
            rx,
            back: back_tx,
            cur: Vec::new(),
            pos: 0,
            done: false,
        };
        let out = consume(&mut reader);
        // Dropping the receiver makes the producer's next send fail, which
        // ends it even when `consume` stopped before the end of the stream.
        drop(reader);
        // A panic in `inner.read` would be a bug in a decoder; the consumer
        // already saw the stream end early (as an error), so nothing is lost
        // by ignoring it here.
        let _ = producer.join();
        out
    })
}

fn produce<R: Read>(mut inner: R, tx: &SyncSender<io::Result<Vec<u8>>>, back: &Receiver<Vec<u8>>) {
    loop {
        let mut buf = back.try_recv().unwrap_or_default();
        buf.resize(BUF, 0);
        let mut n = 0;
        // Fill the buffer (fewer, larger hand-overs), but hand over what
        // there is as soon as the stream ends or fails.
        let err = loop {
            match inner.read(&mut buf[n..]) {
                Ok(0) => break None,
                Ok(k) => {
                    n += k;
                    if n == buf.len() {
                        break None;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        let end = n < buf.len();
        buf.truncate(n);
        if n > 0 && tx.send(Ok(buf)).is_err() {
            return;
        }
        if let Some(e) = err {
            let _ = tx.send(Err(e));
            return;
        }
        if end {
            return;
        }
    }
}

/// The consumer's side of [`with_read_ahead`].
pub struct AheadReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    back: Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for AheadReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.pos == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(next)) => {
                    let old = std::mem::replace(&mut self.cur, next);
                    // The producer may have ended; then the buffer is simply dropped.
                    let _ = self.back.send(old);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // The producer finished: end of stream.
                Err(_) => self.done = true,
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn yields_the_same_bytes_for_any_size() {
        for len in [0, 1, BUF - 1, BUF, BUF + 1, 3 * BUF + 17, 20 * BUF] {
            let src = bytes(len);
            let got = with_read_ahead(&src[..], |r| {
                let mut v = Vec::new();
                r.read_to_end(&mut v).map(|_| v)
            })
            .unwrap();
            assert!(got == src, "len {len}");
        }
    }

    /// Fails after `ok` bytes.
    struct Failing {
        left: usize,
    }
    impl Read for Failing {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "corrupt deflate",
                ));
            }
            let n = b.len().min(self.left).min(1000);
            b[..n].fill(1);
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn errors_arrive_after_the_bytes_before_them() {
        let (n, err) = with_read_ahead(Failing { left: BUF + 5 }, |r| {
            let mut v = Vec::new();
            let e = r.read_to_end(&mut v).unwrap_err();
            (v.len(), e)
        });
        assert_eq!(n, BUF + 5);
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(err.to_string(), "corrupt deflate");
    }

    #[test]
    fn an_early_stop_ends_the_producer() {
        // An endless source: returning early must not hang.
        let endless = io::repeat(3);
        let first = with_read_ahead(endless, |r| {
            let mut b = [0u8; 10];
            r.read_exact(&mut b).map(|()| b)
        })
        .unwrap();
        assert_eq!(first, [3; 10]);
    }
}
