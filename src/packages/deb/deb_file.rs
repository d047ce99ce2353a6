//! A `.deb`, read by ironhull and never by dpkg: an `ar` archive of exactly
//! `debian-binary` (format 2.x), `control.tar[.gz|.xz|.zst]` and
//! `data.tar[.gz|.xz|.zst]`, in that order (deb(5)). The package is hostile
//! until proven otherwise: its sha256 was checked against the signed index
//! before this runs, but the archive's builder is still untrusted, so the
//! members are read with the same strict tar reader as image layers
//! ([`crate::fs::read_layer`]), with size limits on every decompression.
//!
//! Maintainer scripts are collected by name only; nothing here or anywhere
//! else in ironhull runs them.

use crate::fs::{EntryKind, LayerEvent, ReadError, ReadOptions, read_layer};
use std::io::{self, Read};

/// Most bytes a control member may expand to: control files, md5sums and
/// scripts of real packages are a few hundred KiB at most.
const MAX_CONTROL_BYTES: u64 = 64 << 20;

/// The scripts dpkg would run, none of which ironhull runs.
pub const SCRIPT_NAMES: [&str; 5] = ["preinst", "postinst", "prerm", "postrm", "config"];

/// How a member is compressed, from its name's suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
}

/// What a `.deb` holds, after its control member was read.
pub struct DebFile {
    /// The `control` file, as text.
    pub control: String,
    /// `md5sums`, when the package has one.
    pub md5sums: Option<String>,
    /// `conffiles`, one path per line.
    pub conffiles: Vec<String>,
    /// The maintainer scripts present (`postinst`, …), sorted; plus
    /// `triggers` when the package declares any.
    pub scripts: Vec<String>,
    data: Vec<u8>,
    data_compression: Compression,
}

/// Why a `.deb` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DebFileError {
    #[error("it is not a Debian package: {0}")]
    Format(String),
    #[error("its {member} member is unreadable: {source}")]
    Member {
        member: String,
        #[source]
        source: ReadError,
    },
    #[error("reading it failed: {0}")]
    Io(#[from] io::Error),
}

fn compression_of(name: &str, stem: &str) -> Option<Compression> {
    match name.strip_prefix(stem)? {
        "" => Some(Compression::None),
        ".gz" => Some(Compression::Gzip),
        ".xz" => Some(Compression::Xz),
        ".zst" => Some(Compression::Zstd),
        _ => None,
    }
}

/// A reader that decompresses `bytes` as `c` says. gzip and zstd are also
/// sniffed by the layer reader; xz is not, so it is unpacked here.
fn decompressed(bytes: &[u8], c: Compression) -> Box<dyn Read + Send + '_> {
    match c {
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(bytes)),
        // The layer reader recognises gzip and zstd by their magic bytes; a
        // member named `.gz` that is not gzip is refused below.
        Compression::None | Compression::Gzip | Compression::Zstd => Box::new(bytes),
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Whether a member's bytes are compressed as its name says. A plain
/// `data.tar` that starts like gzip or zstd is refused too: the layer
/// reader sniffs those, so it would unpack what dpkg reads as a tar.
fn magic_matches(bytes: &[u8], c: Compression) -> bool {
    match c {
        Compression::None => ![GZIP_MAGIC, XZ_MAGIC, ZSTD_MAGIC]
            .iter()
            .any(|m| bytes.starts_with(m)),
        Compression::Gzip => bytes.starts_with(GZIP_MAGIC),
        Compression::Xz => bytes.starts_with(XZ_MAGIC),
        Compression::Zstd => bytes.starts_with(ZSTD_MAGIC),
    }
}

fn read_member(entry: &mut ar::Entry<'_, &[u8]>, limit: u64) -> Result<Vec<u8>, DebFileError> {
    let mut out = Vec::new();
    let n = entry.by_ref().take(limit + 1).read_to_end(&mut out)?;
    if n as u64 > limit {
        return Err(DebFileError::Format(format!(
            "a member is larger than {limit} bytes"
        )));
    }
    Ok(out)
}

impl DebFile {
    /// Reads the archive structure and the control member of `bytes`.
    /// `max_data` bounds the compressed data member.
    pub fn parse(bytes: &[u8], max_data: u64) -> Result<DebFile, DebFileError> {
        let mut ar = ar::Archive::new(bytes);
        let mut names = Vec::new();
        let mut control = None;
        let mut data = None;
        while let Some(entry) = ar.next_entry() {
            let mut entry = entry
                .map_err(|e| DebFileError::Format(format!("the ar archive is corrupt: {e}")))?;
            let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
            // dpkg ignores members starting with `_` after the first two
            // (deb(5)); anything else out of place is refused, so no reader
            // can find a second data member we never looked at.
            match names.len() {
                0 => {
                    if name != "debian-binary" {
                        return Err(DebFileError::Format(format!(
                            "the first member is {name:?}, not debian-binary"
                        )));
                    }
                    let v = read_member(&mut entry, 64)?;
                    if !v.starts_with(b"2.") || v.last() != Some(&b'\n') {
                        return Err(DebFileError::Format(format!(
                            "debian-binary says {:?}; only format 2.x is supported",
                            String::from_utf8_lossy(&v)
                        )));
                    }
                }
                1 => {
                    let c = compression_of(&name, "control.tar").ok_or_else(|| {
                        DebFileError::Format(format!(
                            "the second member is {name:?}, not control.tar[.gz|.xz|.zst]"
                        ))
                    })?;
                    control = Some((read_member(&mut entry, MAX_CONTROL_BYTES)?, c, name.clone()));
                }
                2 => {
                    let c = compression_of(&name, "data.tar").ok_or_else(|| {
                        DebFileError::Format(format!(
                            "the third member is {name:?}, not data.tar[.gz|.xz|.zst]"
                        ))
                    })?;
                    data = Some((read_member(&mut entry, max_data)?, c, name.clone()));
                }
                _ if name.starts_with('_') => {}
                _ => {
                    return Err(DebFileError::Format(format!(
                        "unexpected member {name:?} after data.tar"
                    )));
                }
            }
            names.push(name);
        }
        let (Some((cbytes, cc, cname)), Some((dbytes, dc, dname))) = (control, data) else {
            return Err(DebFileError::Format(format!(
                "it has members {names:?}; a package needs debian-binary, control.tar and data.tar"
            )));
        };
        for (b, c, n) in [(&cbytes, cc, &cname), (&dbytes, dc, &dname)] {
            if !magic_matches(b, c) {
                return Err(DebFileError::Format(format!(
                    "member {n} is not compressed as its name says"
                )));
            }
        }
        let mut out = DebFile {
            control: String::new(),
            md5sums: None,
            conffiles: Vec::new(),
            scripts: Vec::new(),
            data: dbytes,
            data_compression: dc,
        };
        let opts = ReadOptions {
            max_layer_bytes: MAX_CONTROL_BYTES,
            max_entries: 10_000,
            ..ReadOptions::default()
        };
        let mut control_text = None;
        read_layer(decompressed(&cbytes, cc), &opts, |ev, r| {
            let LayerEvent::Entry(e) = ev else {
                return Ok(());
            };
            if e.kind != EntryKind::File {
                return Ok(());
            }
            let name = e.path.as_str().to_string();
            let mut body = Vec::new();
            r.read_to_end(&mut body).map_err(ReadError::Io)?;
            let text = || String::from_utf8_lossy(&body).into_owned();
            match name.as_str() {
                "control" => control_text = Some(text()),
                "md5sums" => out.md5sums = Some(text()),
                "conffiles" => {
                    out.conffiles = text()
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(String::from)
                        .collect()
                }
                n if SCRIPT_NAMES.contains(&n) || n == "triggers" => out.scripts.push(name),
                _ => {}
            }
            Ok(())
        })
        .map_err(|source| DebFileError::Member {
            member: cname.clone(),
            source,
        })?;
        out.control = control_text
            .ok_or_else(|| DebFileError::Format(format!("{cname} has no control file")))?;
        out.scripts.sort();
        Ok(out)
    }

    /// The name of the data member's compression, for messages.
    pub fn data_compression(&self) -> Compression {
        self.data_compression
    }

    /// Streams the data member's entries through the strict layer reader.
    pub fn read_data(
        &self,
        opts: &ReadOptions,
        visit: impl FnMut(LayerEvent, &mut dyn Read) -> Result<(), ReadError>,
    ) -> Result<(), DebFileError> {
        read_layer(decompressed(&self.data, self.data_compression), opts, visit)
            .map(|_| ())
            .map_err(|source| DebFileError::Member {
                member: "data.tar".into(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ar archive of `members` (name, bytes), as `ar rc` writes it.
    fn ar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = ar::Builder::new(Vec::new());
        for (n, d) in members {
            let h = ar::Header::new(n.as_bytes().to_vec(), d.len() as u64);
            b.append(&h, *d).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut t = tar::Builder::new(Vec::new());
        for (n, d) in files {
            let mut h = tar::Header::new_ustar();
            h.set_path(n).unwrap();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            t.append(&h, *d).unwrap();
        }
        t.into_inner().unwrap()
    }

    fn xz(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        liblzma::read::XzEncoder::new(b, 1)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn sample() -> Vec<u8> {
        let control = tar_of(&[
            ("./control", b"Package: hello\nVersion: 1\n"),
            ("./postinst", b"#!/bin/sh\n"),
            (
                "./md5sums",
                b"d41d8cd98f00b204e9800998ecf8427e  usr/bin/hello\n",
            ),
        ]);
        let data = tar_of(&[("./usr/bin/hello", b"hi")]);
        ar_of(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.xz", &xz(&control)),
            ("data.tar.xz", &xz(&data)),
        ])
    }

    #[test]
    fn reads_control_scripts_and_data() {
        let d = DebFile::parse(&sample(), 1 << 20).unwrap();
        assert!(d.control.starts_with("Package: hello"));
        assert_eq!(d.scripts, ["postinst"]);
        assert!(d.md5sums.as_deref().unwrap().contains("usr/bin/hello"));
        let mut seen = Vec::new();
        d.read_data(&ReadOptions::default(), |ev, _| {
            seen.push(format!("{ev:?}"));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].contains("usr/bin/hello") && seen[0].contains("size: 2"));
    }

    #[test]
    fn refuses_misordered_extra_and_mislabelled_members() {
        let data = xz(&tar_of(&[("./a", b"x")]));
        let control = xz(&tar_of(&[("./control", b"Package: a\n")]));
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                ar_of(&[("control.tar.xz", &control), ("debian-binary", b"2.0\n")]),
                "first member",
            ),
            (
                ar_of(&[
                    ("debian-binary", b"3.0\n"),
                    ("control.tar.xz", &control),
                    ("data.tar.xz", &data),
                ]),
                "format 2.x",
            ),
            (
                ar_of(&[
                    ("debian-binary", b"2.0\n"),
                    ("control.tar.xz", &control),
                    ("data.tar.xz", &data),
                    ("data.tar.gz", &data),
                ]),
                "unexpected member",
            ),
            (
                ar_of(&[
                    ("debian-binary", b"2.0\n"),
                    ("control.tar.gz", &control),
                    ("data.tar.xz", &data),
                ]),
                "not compressed as its name says",
            ),
            (
                ar_of(&[("debian-binary", b"2.0\n"), ("control.tar.xz", &control)]),
                "needs debian-binary",
            ),
            (
                ar_of(&[
                    ("debian-binary", b"2.0\n"),
                    ("control.tar.xz", &control),
                    ("data.tar", &[0x28, 0xb5, 0x2f, 0xfd, 0, 0]),
                ]),
                "not compressed as its name says",
            ),
            (b"!<arch>\ngarbage".to_vec(), "corrupt"),
        ];
        for (bytes, want) in cases {
            let e = DebFile::parse(&bytes, 1 << 20)
                .err()
                .expect(want)
                .to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn a_data_member_over_the_limit_is_refused() {
        let e = DebFile::parse(&sample(), 8).err().unwrap().to_string();
        assert!(e.contains("larger than 8 bytes"), "{e}");
    }
}
