//! A reader that inspects artifact bytes on their way into a layer: it hashes
//! them (for `sha256` pins), scans them for secrets, and looks for the markers
//! of shells and package managers. One pass, bounded memory.

use super::artifacts::FORBIDDEN_MARKERS;
use crate::digest::{Digest, HashingReader};
use crate::fs::ImagePath;
use crate::secrets::{FileScanner, SecretHit};
use memchr::memmem::Finder;
use std::io::{self, Read};

const OVERLAP: usize = 64;

pub struct Inspector<R> {
    inner: HashingReader<R>,
    secrets: FileScanner,
    finders: Vec<(Finder<'static>, &'static str)>,
    tail: Vec<u8>,
    marker: Option<(&'static str, String)>,
}

/// What was found in one file.
pub struct Findings {
    pub digest: Digest,
    /// The one secret decision ([`FileScanner`]) for the file, name and content.
    pub secrets: Vec<SecretHit>,
    /// (what it is, the marker text)
    pub forbidden: Option<(&'static str, String)>,
}

impl<R: Read> Inspector<R> {
    /// An inspector for the file that will be at `dest` in the image: the
    /// secret decision depends on the name too (`.npmrc`, `*.pem`, …).
    pub fn new(inner: R, dest: &ImagePath) -> Self {
        Self {
            inner: HashingReader::new(inner),
            secrets: FileScanner::new(dest),
            finders: FORBIDDEN_MARKERS
                .iter()
                .map(|(m, what)| (Finder::new(*m), *what))
                .collect(),
            tail: Vec::with_capacity(OVERLAP * 2),
            marker: None,
        }
    }

    fn look(&mut self, chunk: &[u8]) {
        self.secrets.feed(chunk);
        if self.marker.is_some() {
            return;
        }
        // The window is the stream's last OVERLAP bytes plus the new chunk's
        // head, so a marker split across reads of any size is still seen.
        let mut window = std::mem::take(&mut self.tail);
        let small = chunk.len() <= OVERLAP;
        window.extend_from_slice(if small { chunk } else { &chunk[..OVERLAP] });
        for (f, what) in &self.finders {
            if f.find(&window).is_some() || (!small && f.find(chunk).is_some()) {
                self.marker = Some((what, String::from_utf8_lossy(f.needle()).into_owned()));
                break;
            }
        }
        let src: &[u8] = if small { &window } else { chunk };
        let keep = src.len().min(OVERLAP);
        self.tail = src[src.len() - keep..].to_vec();
    }

    pub fn finish(self) -> Findings {
        let (digest, _) = self.inner.finish();
        Findings {
            digest,
            secrets: self.secrets.finish(),
            forbidden: self.marker,
        }
    }
}

impl<R: Read> Read for Inspector<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.look(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_markers_across_reads() {
        let mut data = vec![0u8; 10_000];
        data.extend_from_slice(b"BusyBox is a multi-call binary");
        data.extend(vec![1u8; 100]);
        // Read in small chunks so the marker straddles a boundary.
        let mut r = Inspector::new(&data[..], &ImagePath::parse("app/x").unwrap());
        let mut buf = [0u8; 7];
        while r.read(&mut buf).unwrap() > 0 {}
        let f = r.finish();
        assert_eq!(f.forbidden.map(|x| x.0), Some("busybox (a shell)"));
        assert_eq!(f.digest, Digest::of(&data));
    }

    #[test]
    fn finds_private_keys() {
        let data = b"xx\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n-----END RSA PRIVATE KEY-----\n";
        let mut r = Inspector::new(&data[..], &ImagePath::parse("app/x").unwrap());
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        assert!(!r.finish().secrets.is_empty());
    }
}
