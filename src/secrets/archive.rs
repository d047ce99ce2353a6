//! Secrets inside the archives an image carries: `.jar`, `.war`, `.ear`,
//! `.zip`, wheels, `.tar.gz`/`.tgz`/`.tar`. Each member goes through the same
//! [`FileScanner`](super::FileScanner) as a layer file (names, content,
//! nested archives one level down).
//!
//! Bounds, so a hostile archive costs little: an archive is buffered only up
//! to [`MAX_ARCHIVE`] bytes (a larger one is still content-scanned as bytes,
//! its members are not inflated); at most [`MAX_MEMBERS`] members and
//! [`MAX_INFLATED`] inflated bytes per archive, nesting depth [`MAX_DEPTH`];
//! members stream through the scanner in chunks, never buffered whole
//! (except a nested archive, within its own, smaller cap).

use super::{FileScanner, SecretHit};
use crate::fs::ImagePath;
use std::io::{Cursor, Read};

/// Largest archive whose members are scanned (outermost level).
pub const MAX_ARCHIVE: usize = 64 << 20;
/// Largest nested archive whose members are scanned.
pub const MAX_NESTED_ARCHIVE: usize = 16 << 20;
/// Members looked at per archive.
pub const MAX_MEMBERS: usize = 20_000;
/// Inflated bytes scanned per archive (all members together).
pub const MAX_INFLATED: u64 = 512 << 20;
/// Archives inside archives: a `.war` holding `.jar`s is depth 1.
pub const MAX_DEPTH: usize = 1;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Zip,
    TarGz,
    Tar,
}

fn kind_of(name: &str) -> Option<Kind> {
    let lower = name.to_ascii_lowercase();
    let ends = |s: &[&str]| {
        s.iter()
            .any(|x| lower.len() > x.len() && lower.ends_with(x))
    };
    if ends(&[".jar", ".war", ".ear", ".zip", ".whl", ".aar", ".nupkg"]) {
        Some(Kind::Zip)
    } else if ends(&[".tar.gz", ".tgz"]) {
        Some(Kind::TarGz)
    } else if ends(&[".tar"]) {
        Some(Kind::Tar)
    } else {
        None
    }
}

/// The bytes of an archive, kept while they stream past (up to the cap).
pub struct ArchiveBuffer {
    kind: Kind,
    depth: usize,
    cap: usize,
    bytes: Vec<u8>,
    too_big: bool,
}

impl ArchiveBuffer {
    pub fn for_name(name: &str, depth: usize) -> Option<Self> {
        if depth > MAX_DEPTH {
            return None;
        }
        Some(Self {
            kind: kind_of(name)?,
            depth,
            cap: if depth == 0 {
                MAX_ARCHIVE
            } else {
                MAX_NESTED_ARCHIVE
            },
            bytes: Vec::new(),
            too_big: false,
        })
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if self.too_big {
            return;
        }
        if self.bytes.len() + chunk.len() > self.cap {
            self.too_big = true;
            self.bytes = Vec::new();
            return;
        }
        self.bytes.extend_from_slice(chunk);
    }

    /// The members' findings. An archive that is not one (a `.zip` that is
    /// not a zip) or is corrupt yields what was read before the damage: the
    /// detector judges bytes; it is not an archive validator.
    pub fn finish(self) -> Vec<SecretHit> {
        if self.too_big || self.bytes.is_empty() {
            return Vec::new();
        }
        let mut budget = Budget {
            members: MAX_MEMBERS,
            inflated: MAX_INFLATED,
        };
        match self.kind {
            Kind::Zip => scan_zip(&self.bytes, self.depth, &mut budget),
            Kind::TarGz => scan_tar(
                flate2::read::GzDecoder::new(Cursor::new(&self.bytes)),
                self.depth,
                &mut budget,
            ),
            Kind::Tar => scan_tar(Cursor::new(&self.bytes), self.depth, &mut budget),
        }
    }
}

struct Budget {
    members: usize,
    inflated: u64,
}

/// Streams one member through a nested scanner, within the budget.
fn scan_member(name: &str, r: &mut dyn Read, depth: usize, budget: &mut Budget) -> Vec<SecretHit> {
    let Ok(path) = ImagePath::parse(name.trim_start_matches('/')) else {
        return Vec::new();
    };
    let mut s = FileScanner::at_depth(&path, depth + 1);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if budget.inflated == 0 {
            break;
        }
        let want = buf
            .len()
            .min(usize::try_from(budget.inflated).unwrap_or(usize::MAX));
        let Some(slot) = buf.get_mut(..want) else {
            break;
        };
        match r.read(slot) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                budget.inflated = budget.inflated.saturating_sub(n as u64);
                s.feed(slot.get(..n).unwrap_or(&[]));
            }
        }
    }
    s.finish()
        .into_iter()
        .map(|mut h| {
            h.member = Some(match h.member.take() {
                Some(inner) => format!("{name}!/{inner}"),
                None => name.to_string(),
            });
            h
        })
        .collect()
}

fn scan_zip(bytes: &[u8], depth: usize, budget: &mut Budget) -> Vec<SecretHit> {
    let mut out = Vec::new();
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return out;
    };
    for i in 0..zip.len().min(MAX_MEMBERS) {
        if budget.members == 0 || budget.inflated == 0 {
            break;
        }
        budget.members -= 1;
        let Ok(mut f) = zip.by_index(i) else { continue };
        if !f.is_file() {
            continue;
        }
        let Ok(name) = f.name().map(|n| n.into_owned()) else {
            continue;
        };
        out.extend(scan_member(&name, &mut f, depth, budget));
    }
    out
}

fn scan_tar(r: impl Read, depth: usize, budget: &mut Budget) -> Vec<SecretHit> {
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(r);
    let Ok(entries) = ar.entries() else {
        return out;
    };
    for e in entries {
        if budget.members == 0 || budget.inflated == 0 {
            break;
        }
        budget.members -= 1;
        let Ok(mut e) = e else { break };
        if !e.header().entry_type().is_file() {
            continue;
        }
        let name = match e.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(_) => continue,
        };
        out.extend(scan_member(&name, &mut e, depth, budget));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n";

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (n, d) in files {
            w.start_file(*n, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(d).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn scan(name: &str, bytes: &[u8]) -> Vec<SecretHit> {
        super::super::scan_file_bytes(&ImagePath::parse(name).unwrap(), bytes)
    }

    #[test]
    fn finds_members_in_zip_and_nested_jar() {
        let inner = zip_of(&[("config/application.properties", KEY.as_bytes())]);
        let war = zip_of(&[
            ("WEB-INF/lib/inner.jar", &inner),
            ("index.html", b"<p>hi</p>"),
        ]);
        let hits = scan("app/site.war", &war);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].rule, "private-key");
        assert_eq!(
            hits[0].member.as_deref(),
            Some("WEB-INF/lib/inner.jar!/config/application.properties")
        );
        // Depth 2 is not opened.
        let outer = zip_of(&[("a.war", &war)]);
        assert!(scan("x.zip", &outer).is_empty());
        // Names count inside archives too.
        let hits = scan("w.whl", &zip_of(&[("pkg/.env", b"X=1")]));
        assert!(hits.iter().any(|h| h.is_file_rule()), "{hits:?}");
    }

    #[test]
    fn finds_members_in_tar_gz() {
        let mut tb = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(KEY.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tb.append_data(&mut h, "etc/key.txt", KEY.as_bytes())
            .unwrap();
        let tarball = tb.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tarball).unwrap();
        let hits = scan("bundle.tgz", &gz.finish().unwrap());
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].member.as_deref(), Some("etc/key.txt"));
    }

    #[test]
    fn bounds_hold() {
        // A bomb-ish member: highly compressible zeros far beyond the budget
        // are read at most up to MAX_INFLATED (here: just finishes quickly).
        let zeros = vec![0u8; 4 << 20];
        let z = zip_of(&[("a.bin", &zeros), ("b.pem", KEY.as_bytes())]);
        let hits = scan("x.jar", &z);
        assert_eq!(hits.len(), 2, "{hits:?}"); // b.pem: name rule + content rule
        // Not a zip at all: no findings, no panic.
        assert!(scan("x.jar", b"PK\x03\x04garbage").is_empty());
        // Over the cap: members are not inflated.
        let mut a = ArchiveBuffer::for_name("x.zip", 0).unwrap();
        a.feed(&vec![0u8; MAX_ARCHIVE]);
        a.feed(b"x");
        assert!(a.too_big && a.bytes.is_empty());
    }
}
