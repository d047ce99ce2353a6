//! A reader that inspects artifact bytes on their way into a layer: it hashes
//! them (for `sha256` pins), scans them for secrets, and asks the one shell
//! and package manager detector ([`crate::detect`]) what they are. One
//! pass, bounded memory.

use crate::detect::{ContentDetector, Evidence};
use crate::digest::{Digest, HashingReader};
use crate::fs::ImagePath;
use crate::secrets::{FileScanner, SecretHit};
use std::io::{self, Read};

pub struct Inspector<R> {
    inner: HashingReader<R>,
    secrets: FileScanner,
    program: ContentDetector,
}

/// What was found in one file.
pub struct Findings {
    pub digest: Digest,
    /// The one secret decision ([`FileScanner`]) for the file, name and content.
    pub secrets: Vec<SecretHit>,
    /// The file is a shell or a package manager by its content.
    pub forbidden: Option<Evidence>,
}

impl<R: Read> Inspector<R> {
    /// An inspector for the file that will be at `dest` in the image: the
    /// secret decision depends on the name too (`.npmrc`, `*.pem`, …).
    pub fn new(inner: R, dest: &ImagePath) -> Self {
        Self {
            inner: HashingReader::new(inner),
            secrets: FileScanner::new(dest),
            program: ContentDetector::new(),
        }
    }

    fn look(&mut self, chunk: &[u8]) {
        self.secrets.feed(chunk);
        self.program.feed(chunk);
    }

    pub fn finish(self) -> Findings {
        let (digest, _) = self.inner.finish();
        Findings {
            digest,
            secrets: self.secrets.finish(),
            forbidden: self.program.finish(),
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
    fn finds_a_shell_across_reads() {
        let mut data = b"\x7fELF".to_vec();
        data.extend(vec![0u8; 10_000]);
        for s in [
            "PS1", "PS2", "PS4", "IFS", "OPTIND", "OPTARG", "PPID", "elif", "esac", "then",
            "until", "getopts", "readonly", "unset",
        ] {
            data.extend_from_slice(s.as_bytes());
            data.push(0);
        }
        data.extend(vec![1u8; 100]);
        // Read in small chunks so the strings straddle read boundaries.
        let mut r = Inspector::new(&data[..], &ImagePath::parse("app/x").unwrap());
        let mut buf = [0u8; 7];
        while r.read(&mut buf).unwrap() > 0 {}
        let f = r.finish();
        assert_eq!(
            f.forbidden.map(|e| e.kind),
            Some(crate::detect::Kind::Shell)
        );
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
