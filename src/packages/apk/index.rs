//! `APKINDEX.tar.gz` verified before it is read: apk v2's signed stream is
//! two gzip members. The first holds a tar segment (no end-of-archive
//! blocks) of `.SIGN.RSA.<keyname>` (PKCS#1 v1.5 over SHA-1) or
//! `.SIGN.RSA256.<keyname>` (SHA-256) entries; each signs the RAW
//! COMPRESSED bytes of the second member, which holds a tar of `APKINDEX`
//! and optionally `DESCRIPTION`.
//!
//! The members are split at their real boundaries (where a deflate stream
//! and its CRC/size trailer end, both checked), never by searching for a
//! gzip magic number, so no byte is both signed and unsigned. Every
//! signature whose key the keyring has must verify, and at least one must
//! (apk checks only the first it has a key for; a second, failing one is
//! refused here, which is stricter). DSA, RSA512 and unknown kinds are
//! skipped as apk 2.14 skips them, but a segment with no signature ironhull
//! can check is an error. Both tars go through ironhull's strict tar
//! reader; decompressed sizes are capped against bombs.

use super::apkindex::{self, ApkIndexError, ApkRecord, Kind};
use super::keys::{ApkKeyring, SigDigest};
use crate::fs::tar_strict::{StrictTar, TarError};
use std::io::Read;

/// Largest decompressed signature segment.
const MAX_SIGNATURE_SEGMENT: u64 = 1024 * 1024;
/// Largest decompressed index tar (Alpine community x86_64 is ~10 MB).
pub const MAX_INDEX_TAR: u64 = 512 * 1024 * 1024;
/// Extension-header budget per tar entry.
const MAX_TAR_EXT: u64 = 64 * 1024;

/// Why an index file is refused.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("gzip member {member} (at byte {offset}): {why}")]
    Gzip {
        member: usize,
        offset: usize,
        why: String,
    },
    #[error("gzip member {member} decompresses to more than {max} bytes")]
    TooLarge { member: usize, max: u64 },
    #[error("it is not signed (no .SIGN.* segment in front of the index)")]
    Unsigned,
    #[error(
        "it has {members} gzip members; a signed APKINDEX.tar.gz has exactly two (the signature, then the index)"
    )]
    Members { members: usize },
    #[error("the signature segment: {why}")]
    SignatureSegment { why: String },
    #[error(
        "no signature by a trusted key: it is signed by {}, the keyring ({source_}) has {}",
        if .named.is_empty() { "no RSA key ironhull can check".to_string() } else { .named.join(", ") },
        .have.join(", ")
    )]
    Untrusted {
        named: Vec<String>,
        have: Vec<String>,
        source_: String,
    },
    #[error("the signature by {key} does not verify: the index was changed after it was signed")]
    BadSignature { key: String },
    #[error("the index tar: {why}")]
    Tar { why: String },
    #[error("APKINDEX {0}")]
    Text(#[from] ApkIndexError),
}

/// One gzip member: its raw bytes' range and its decompressed bytes.
pub struct Member {
    pub raw: std::ops::Range<usize>,
    pub data: Vec<u8>,
}

/// Splits `bytes` into gzip members at their real ends, checking each
/// one's CRC and size; the `n`th member may decompress to `max[n]` bytes
/// (the last limit applies to the rest).
pub fn split_members(bytes: &[u8], max: &[u64]) -> Result<Vec<Member>, IndexError> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let member = out.len();
        let offset = bytes.len() - rest.len();
        let limit = max.get(member).or(max.last()).copied().unwrap_or(0);
        let mut d = flate2::bufread::GzDecoder::new(rest);
        let mut data = Vec::new();
        (&mut d)
            .take(limit.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| IndexError::Gzip {
                member,
                offset,
                why: e.to_string(),
            })?;
        if data.len() as u64 > limit {
            return Err(IndexError::TooLarge { member, max: limit });
        }
        let left = d.into_inner();
        let used = rest.len() - left.len();
        if used == 0 {
            return Err(IndexError::Gzip {
                member,
                offset,
                why: "not a gzip stream".into(),
            });
        }
        out.push(Member {
            raw: offset..offset + used,
            data,
        });
        rest = left;
    }
    if out.is_empty() {
        return Err(IndexError::Gzip {
            member: 0,
            offset: 0,
            why: "the file is empty".into(),
        });
    }
    Ok(out)
}

fn tar_why(e: TarError) -> String {
    match e {
        TarError::Io(e) => e.to_string(),
        TarError::Corrupt { offset, detail, .. } => format!("corrupt header at {offset}: {detail}"),
        TarError::Refused {
            offset, path, why, ..
        } => format!(
            "refused at {offset}{}: {why}",
            path.map(|p| format!(" ({p})")).unwrap_or_default()
        ),
        TarError::Unsupported { path, flag } => {
            format!(
                "{path}: entry type {:?} is not a regular file",
                char::from(flag)
            )
        }
        TarError::HeaderTooLarge { offset } => format!("extension headers too large at {offset}"),
    }
}

/// The regular files of a tar, in order, each at most `max` bytes.
fn tar_files(data: &[u8], max: u64) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut t = StrictTar::new(data, MAX_TAR_EXT);
    let mut out = Vec::new();
    while let Some(e) = t.next().map_err(tar_why)? {
        let name = String::from_utf8(e.name.clone())
            .map_err(|_| "an entry name is not UTF-8".to_string())?;
        if e.typeflag != b'0' {
            return Err(format!("{name:?} is not a regular file"));
        }
        if e.size > max {
            return Err(format!("{name:?} is larger than {max} bytes"));
        }
        let mut body = Vec::new();
        t.content()
            .read_to_end(&mut body)
            .map_err(|e| format!("{name}: {e}"))?;
        out.push((name, body));
    }
    Ok(out)
}

/// A signature entry of the first segment.
pub struct Signature {
    pub key: String,
    /// `None` for kinds ironhull does not check (DSA, RSA512, unknown).
    pub digest: Option<SigDigest>,
    pub bytes: Vec<u8>,
}

/// What an index file holds, before any signature is checked.
pub struct Unverified<'a> {
    pub signatures: Vec<Signature>,
    /// The raw compressed bytes the signatures are over.
    pub signed: &'a [u8],
    pub description: Option<String>,
    pub apkindex: String,
}

/// Splits and reads `bytes` without checking any signature: the shape
/// (two members, a signature segment of `.SIGN.*` entries, an index tar of
/// `APKINDEX` and maybe `DESCRIPTION`) is still enforced. Used by
/// [`verify_and_parse`] and the fuzzer.
pub fn read_unverified(bytes: &[u8]) -> Result<Unverified<'_>, IndexError> {
    let members = split_members(bytes, &[MAX_SIGNATURE_SEGMENT, MAX_INDEX_TAR])?;
    let first = tar_files(&members[0].data, MAX_SIGNATURE_SEGMENT)
        .map_err(|why| IndexError::SignatureSegment { why })?;
    if first.is_empty() || !first.iter().any(|(n, _)| n.starts_with(".SIGN.")) {
        return Err(IndexError::Unsigned);
    }
    if members.len() != 2 {
        return Err(IndexError::Members {
            members: members.len(),
        });
    }
    let mut signatures = Vec::new();
    for (name, body) in first {
        let Some(kind_key) = name.strip_prefix(".SIGN.") else {
            return Err(IndexError::SignatureSegment {
                why: format!("{name:?} is not a .SIGN.* entry"),
            });
        };
        let (kind, key) = kind_key.split_once('.').unwrap_or((kind_key, ""));
        if key.is_empty() || key.contains('/') {
            return Err(IndexError::SignatureSegment {
                why: format!("{name:?} names no key file"),
            });
        }
        let digest = match kind {
            "RSA" => Some(SigDigest::Sha1),
            "RSA256" => Some(SigDigest::Sha256),
            _ => None,
        };
        signatures.push(Signature {
            key: key.to_string(),
            digest,
            bytes: body,
        });
    }
    let files =
        tar_files(&members[1].data, MAX_INDEX_TAR).map_err(|why| IndexError::Tar { why })?;
    let mut apkindex = None;
    let mut description = None;
    for (name, body) in files {
        let slot = match name.as_str() {
            "APKINDEX" => &mut apkindex,
            "DESCRIPTION" => &mut description,
            other => {
                return Err(IndexError::Tar {
                    why: format!("{other:?}: an index holds only APKINDEX and DESCRIPTION"),
                });
            }
        };
        if slot.is_some() {
            return Err(IndexError::Tar {
                why: format!("{name} is there twice"),
            });
        }
        let text = String::from_utf8(body).map_err(|e| IndexError::Tar {
            why: format!(
                "{name} is not UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ),
        })?;
        *slot = Some(text);
    }
    let apkindex = apkindex.ok_or(IndexError::Tar {
        why: "it has no APKINDEX file".into(),
    })?;
    Ok(Unverified {
        signatures,
        signed: &bytes[members[1].raw.clone()],
        description,
        apkindex,
    })
}

/// A verified, parsed index.
pub struct VerifiedIndex {
    /// The key file name whose signature verified.
    pub signer: String,
    pub description: Option<String>,
    pub records: Vec<ApkRecord>,
}

/// Verifies `bytes` against `keyring`, then parses its APKINDEX.
pub fn verify_and_parse(
    bytes: &[u8],
    keyring: &ApkKeyring,
    repository: usize,
) -> Result<VerifiedIndex, IndexError> {
    let u = read_unverified(bytes)?;
    let mut signer = None;
    for s in &u.signatures {
        let Some(digest) = s.digest else { continue };
        match keyring.verify(&s.key, digest, u.signed, &s.bytes) {
            None => {}
            Some(true) => {
                signer.get_or_insert_with(|| s.key.clone());
            }
            Some(false) => {
                return Err(IndexError::BadSignature { key: s.key.clone() });
            }
        }
    }
    let Some(signer) = signer else {
        return Err(IndexError::Untrusted {
            named: u
                .signatures
                .iter()
                .filter(|s| s.digest.is_some())
                .map(|s| s.key.clone())
                .collect(),
            have: keyring.names().iter().map(|s| s.to_string()).collect(),
            source_: keyring.source.clone(),
        });
    };
    let records = apkindex::parse(&u.apkindex, repository, Kind::Index)?;
    Ok(VerifiedIndex {
        signer,
        description: u.description,
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn members_split_at_their_real_ends() {
        let (a, b) = (gz(b"first"), gz(&[7u8; 10000]));
        let mut all = a.clone();
        all.extend(&b);
        let m = split_members(&all, &[100, 20000]).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].raw, 0..a.len());
        assert_eq!(m[0].data, b"first");
        assert_eq!(m[1].data.len(), 10000);
        assert!(matches!(
            split_members(&all, &[100, 9999]),
            Err(IndexError::TooLarge { member: 1, .. })
        ));
        // A flipped CRC byte in the first trailer.
        let mut bad = all.clone();
        bad[a.len() - 6] ^= 1;
        let e = split_members(&bad, &[100, 20000])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("gzip member 0"), "{e}");
        let mut junk = all.clone();
        junk.extend(b"junk");
        assert!(split_members(&junk, &[100, 20000]).is_err());
        assert!(split_members(&all[..all.len() - 3], &[100, 20000]).is_err());
    }
}
