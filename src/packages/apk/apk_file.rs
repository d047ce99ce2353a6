//! An `.apk` (apk v2 format), read by ironhull and never by apk. The file
//! is a concatenation of gzip streams that together form one tar:
//!
//! 1. an optional **signature segment** (`.SIGN.RSA*.<key>` entries),
//! 2. the **control segment** (`.PKGINFO` and install scripts),
//! 3. the **data segment** (the files, each with abuild's
//!    `APK-TOOLS.checksum.SHA1` PAX record, then end-of-archive blocks).
//!
//! Each segment is cut at its real gzip member boundary (flate2 checks each
//! member's CRC-32 and length). The trust chain is the signed APKINDEX: its
//! `C:Q1…` is the SHA-1 of the control member's raw compressed bytes, the
//! control's `.PKGINFO` carries `datahash`, the SHA-256 of the data member's
//! raw bytes, and every file in the data tar carries the SHA-1 of its
//! content. So once `Q1` matches, every byte ironhull installs is pinned by
//! the index signature. The package's own signature segment signs the same
//! control member and so adds nothing (and may be made by a key the index
//! signer never vouched for): it is located and skipped, not verified.
//!
//! Maintainer scripts are collected by name only; nothing in ironhull runs
//! them.

use super::pkginfo::{PkgInfo, PkgInfoError};
use crate::fs::{EntryKind, LayerEvent, ReadError, ReadOptions, read_layer};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read};

/// The install scripts apk knows (any other control entry is refused).
pub const SCRIPT_NAMES: [&str; 7] = [
    ".pre-install",
    ".post-install",
    ".pre-upgrade",
    ".post-upgrade",
    ".pre-deinstall",
    ".post-deinstall",
    ".trigger",
];

/// Most bytes the signature segment may expand to (a few signatures).
const MAX_SIGNATURE_BYTES: u64 = 1 << 20;
/// Most bytes the control segment may expand to: `.PKGINFO` and scripts of
/// real packages are a few KiB.
const MAX_CONTROL_BYTES: u64 = 16 << 20;
/// Most bytes the data segment may expand to while its boundary is checked;
/// [`ApkFile::read_data`] applies the caller's own limit on top.
const MAX_DATA_BYTES: u64 = 16 << 30;

/// Which part of a package an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Signature,
    Control,
    Data,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Signature => "signature segment",
            Part::Control => "control segment",
            Part::Data => "data segment",
        })
    }
}

/// Why an `.apk` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ApkFileError {
    #[error("its {part} is not a valid gzip stream: {why}")]
    Gzip { part: Part, why: String },
    #[error("its {part} expands to more than {limit} bytes")]
    TooLarge { part: Part, limit: u64 },
    #[error("it is not an apk v2 package: {0}")]
    Layout(String),
    #[error(
        "its control segment has checksum Q1{got}, but the signed index lists Q1{want}: \
         the file is not the package the index signed (re-fetch it, or check the mirror)"
    )]
    Q1Mismatch { want: String, got: String },
    #[error(
        "its data segment has SHA-256 {got}, but .PKGINFO's datahash is {want}: \
         the data was altered after the package was built"
    )]
    DataHash { want: String, got: String },
    #[error("its control segment is invalid: {0}")]
    PkgInfo(#[from] PkgInfoError),
    #[error("its {part} tar is unreadable: {source}")]
    Tar {
        part: Part,
        #[source]
        source: ReadError,
    },
    #[error("its data segment's {path}: {why}")]
    File { path: String, why: String },
}

/// A package whose layout, control segment and checksums were checked.
#[derive(Debug)]
pub struct ApkFile {
    pub pkginfo: PkgInfo,
    /// The install scripts present (`.post-install`, …), sorted.
    pub scripts: Vec<String>,
    /// Names of the signature entries (`.SIGN.RSA.<key>`), not verified.
    pub signatures: Vec<String>,
    /// SHA-1 of the control member (the index's `C:Q1…`, apk's `C:`).
    pub q1: [u8; 20],
    /// Size of the whole file in bytes (apk's `S:`).
    pub size: u64,
    /// The data member's raw bytes: exactly one gzip stream.
    data: Vec<u8>,
}

/// `Q1` + base64 of a SHA-1, as APKINDEX and apk's database write it.
pub fn q1_string(sha1: &[u8; 20]) -> String {
    use base64::Engine as _;
    format!(
        "Q1{}",
        base64::engine::general_purpose::STANDARD.encode(sha1)
    )
}

/// Decodes one gzip member at the start of `bytes`, feeding its output to
/// `sink` (at most `limit` bytes), and returns how many raw bytes it took.
fn member(
    bytes: &[u8],
    part: Part,
    limit: u64,
    mut sink: impl io::Write,
) -> Result<usize, ApkFileError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(ApkFileError::Gzip {
            part,
            why: if bytes.is_empty() {
                "it is missing (the file ends before it)".into()
            } else {
                "it does not start with the gzip magic bytes".into()
            },
        });
    }
    let mut rest: &[u8] = bytes;
    let mut d = flate2::bufread::GzDecoder::new(&mut rest);
    let n = io::copy(&mut (&mut d).take(limit + 1), &mut sink).map_err(|e| ApkFileError::Gzip {
        part,
        why: if e.kind() == io::ErrorKind::UnexpectedEof {
            "it is truncated".into()
        } else {
            e.to_string()
        },
    })?;
    if n > limit {
        return Err(ApkFileError::TooLarge { part, limit });
    }
    drop(d);
    Ok(bytes.len() - rest.len())
}

/// Counts bytes, so a data member can be walked without keeping it.
struct Count(u64);

impl io::Write for Count {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn opts(limit: u64, entries: u64) -> ReadOptions {
    ReadOptions {
        max_layer_bytes: limit,
        max_entries: entries,
        apk_checksums: true,
        ..ReadOptions::default()
    }
}

/// The regular files of a small segment tar (signature or control), in
/// order, with their content. Anything else is refused.
fn small_tar(raw: &[u8], part: Part, limit: u64) -> Result<Vec<(String, Vec<u8>)>, ApkFileError> {
    let mut files = Vec::new();
    let mut bad: Option<String> = None;
    read_layer(raw, &opts(limit, 64), |ev, r| {
        let what = match ev {
            LayerEvent::Entry(e) if e.kind == EntryKind::File => {
                let mut body = Vec::new();
                r.read_to_end(&mut body).map_err(ReadError::Io)?;
                files.push((e.path.as_str().to_string(), body));
                return Ok(());
            }
            LayerEvent::Entry(e) => format!("{} is not a regular file", e.path),
            LayerEvent::Whiteout(p) => format!("{p} is a whiteout name"),
            LayerEvent::Opaque(p) => format!("{p} has an opaque marker"),
        };
        bad = Some(what);
        Err(ReadError::Io(io::Error::other("refused entry")))
    })
    .map_err(|source| match bad.take() {
        Some(why) => ApkFileError::Layout(format!("its {part} holds {why}")),
        None => ApkFileError::Tar { part, source },
    })?;
    Ok(files)
}

/// Finds the control member: returns the signature entry names, where the
/// control member starts and its raw length.
fn locate_control(bytes: &[u8]) -> Result<(Vec<String>, usize, usize), ApkFileError> {
    let mut first = Vec::new();
    let n0 = member(bytes, Part::Control, MAX_CONTROL_BYTES, &mut first)?;
    let signed = small_tar(&bytes[..n0], Part::Control, MAX_CONTROL_BYTES)?;
    let is_sig = signed.first().is_some_and(|(n, _)| n.starts_with(".SIGN."));
    if !is_sig {
        return Ok((Vec::new(), 0, n0));
    }
    let mut names = Vec::new();
    for (n, _) in signed {
        if !n.starts_with(".SIGN.") || n.len() > 255 {
            return Err(ApkFileError::Layout(format!(
                "its signature segment holds {n:?}, which is not a .SIGN.* entry"
            )));
        }
        names.push(n);
    }
    if first.len() as u64 > MAX_SIGNATURE_BYTES {
        return Err(ApkFileError::TooLarge {
            part: Part::Signature,
            limit: MAX_SIGNATURE_BYTES,
        });
    }
    let cn = member(&bytes[n0..], Part::Control, MAX_CONTROL_BYTES, io::sink())?;
    Ok((names, n0, cn))
}

/// The SHA-1 of a package's control member (what an APKINDEX lists as
/// `C:Q1…`), after checking the layout up to it; nothing is trusted yet.
pub fn control_checksum(bytes: &[u8]) -> Result<[u8; 20], ApkFileError> {
    let (_, at, n) = locate_control(bytes)?;
    Ok(Sha1::digest(&bytes[at..at + n]).into())
}

impl ApkFile {
    /// Checks the layout, the control segment against `expected_q1` (the
    /// signed index's `C:Q1…`, decoded), `.PKGINFO`, and the data segment
    /// against its `datahash`. The data's files are checked by
    /// [`ApkFile::read_data`], as they are streamed.
    pub fn parse(bytes: &[u8], expected_q1: &[u8; 20]) -> Result<ApkFile, ApkFileError> {
        let (signatures, control_at, cn) = locate_control(bytes)?;
        let rest = &bytes[control_at..];
        let control = &rest[..cn];
        let q1: [u8; 20] = Sha1::digest(control).into();
        if &q1 != expected_q1 {
            return Err(ApkFileError::Q1Mismatch {
                want: q1_string(expected_q1),
                got: q1_string(&q1),
            });
        }
        let mut pkginfo = None;
        let mut scripts = Vec::new();
        for (name, body) in small_tar(control, Part::Control, MAX_CONTROL_BYTES)? {
            if name == ".PKGINFO" {
                if pkginfo.is_some() {
                    return Err(ApkFileError::Layout(
                        "its control segment holds .PKGINFO twice".into(),
                    ));
                }
                pkginfo = Some(PkgInfo::parse(&body)?);
            } else if SCRIPT_NAMES.contains(&name.as_str()) {
                if scripts.contains(&name) {
                    return Err(ApkFileError::Layout(format!(
                        "its control segment holds {name} twice"
                    )));
                }
                scripts.push(name);
            } else {
                return Err(ApkFileError::Layout(format!(
                    "its control segment holds {name:?}; only .PKGINFO and the install \
                     scripts ({}) belong there",
                    SCRIPT_NAMES.join(" ")
                )));
            }
        }
        let pkginfo = pkginfo
            .ok_or_else(|| ApkFileError::Layout("its control segment has no .PKGINFO".into()))?;
        scripts.sort();
        let data = &rest[cn..];
        let want = pkginfo.datahash.ok_or_else(|| {
            ApkFileError::Layout(
                ".PKGINFO has no datahash, so nothing binds the data segment to the signed \
                 index; rebuild the package with abuild 3 or later"
                    .into(),
            )
        })?;
        let got: [u8; 32] = Sha256::digest(data).into();
        if got != want {
            return Err(ApkFileError::DataHash {
                want: hex::encode(want),
                got: hex::encode(got),
            });
        }
        let dn = member(data, Part::Data, MAX_DATA_BYTES, Count(0))?;
        if dn != data.len() {
            return Err(ApkFileError::Layout(format!(
                "{} bytes follow the data segment; nothing may follow it",
                data.len() - dn
            )));
        }
        Ok(ApkFile {
            pkginfo,
            scripts,
            signatures,
            q1,
            size: bytes.len() as u64,
            data: data.to_vec(),
        })
    }

    /// The data member's raw bytes (what `datahash` covers).
    pub fn data_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Streams the data segment's entries through the strict reader in apk
    /// mode (`opts.apk_checksums` is forced on), as `DebFile::read_data`
    /// does. Every regular file's content must match its
    /// `APK-TOOLS.checksum.SHA1` (missing or different is an error naming
    /// the path), as must a symlink's target when it has one; afterwards
    /// `Entry::apk_sha1` is the verified value, which apk's database
    /// records. Entries apk would not install are handled as apk does:
    /// `.keep_*` files are skipped; whiteouts, top-level dot names and
    /// names with control characters are refused.
    pub fn read_data(
        &self,
        opts: &ReadOptions,
        mut visit: impl FnMut(LayerEvent, &mut dyn Read) -> Result<(), ReadError>,
    ) -> Result<(), ApkFileError> {
        let opts = ReadOptions {
            apk_checksums: true,
            ..opts.clone()
        };
        let failure: RefCell<Option<ApkFileError>> = RefCell::new(None);
        let fail = |path: &str, why: String| {
            *failure.borrow_mut() = Some(ApkFileError::File {
                path: format!("/{path}"),
                why,
            });
            ReadError::Io(io::Error::other("refused data entry"))
        };
        let res = read_layer(self.data.as_slice(), &opts, |ev, r| {
            let e = match ev {
                LayerEvent::Entry(e) => e,
                LayerEvent::Whiteout(p) | LayerEvent::Opaque(p) => {
                    return Err(fail(
                        p.as_str(),
                        "a whiteout name: apk would install a file by that name, an image \
                         layer would delete one"
                            .into(),
                    ));
                }
            };
            let path = e.path.as_str().to_string();
            if path.starts_with('.') {
                return Err(fail(
                    &path,
                    "a top-level name starting with '.': apk never installs it".into(),
                ));
            }
            if path.chars().any(char::is_control) {
                return Err(fail(
                    &path,
                    "the name has a control character: apk refuses it as malicious".into(),
                ));
            }
            if !e.is_dir() && e.path.file_name().starts_with(".keep_") {
                // apk skips these placeholder files without installing them.
                return Ok(());
            }
            match &e.kind {
                EntryKind::File => {
                    let Some(want) = e.apk_sha1 else {
                        return Err(fail(
                            &path,
                            "it has no APK-TOOLS.checksum.SHA1, so its content is not bound \
                             to the package"
                                .into(),
                        ));
                    };
                    let mut h = HashRead {
                        inner: r,
                        h: Sha1::new(),
                    };
                    visit(LayerEvent::Entry(e), &mut h)?;
                    io::copy(&mut h, &mut io::sink()).map_err(ReadError::Io)?;
                    let got: [u8; 20] = h.h.finalize().into();
                    if got != want {
                        return Err(fail(
                            &path,
                            format!(
                                "its content has SHA-1 {}, but its checksum record says {}: \
                                 the file was altered",
                                hex::encode(got),
                                hex::encode(want)
                            ),
                        ));
                    }
                    Ok(())
                }
                EntryKind::Symlink { target } => {
                    if let Some(want) = e.apk_sha1 {
                        let got: [u8; 20] = Sha1::digest(target.as_bytes()).into();
                        if got != want {
                            return Err(fail(
                                &path,
                                format!(
                                    "the symlink's target has SHA-1 {}, but its checksum \
                                     record says {}",
                                    hex::encode(got),
                                    hex::encode(want)
                                ),
                            ));
                        }
                    }
                    visit(LayerEvent::Entry(e), r)
                }
                _ => visit(LayerEvent::Entry(e), r),
            }
        });
        if let Some(e) = failure.into_inner() {
            return Err(e);
        }
        res.map(|_| ()).map_err(|source| ApkFileError::Tar {
            part: Part::Data,
            source,
        })
    }
}

/// Hashes what the visitor reads (and what is drained after it).
struct HashRead<'a> {
    inner: &'a mut dyn Read,
    h: Sha1,
}

impl Read for HashRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
#[path = "apk_file_tests.rs"]
mod tests;
