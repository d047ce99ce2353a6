//! Decoding one tar header block and one PAX record set exactly as Go's
//! `archive/tar` does (`readHeader`, `parsePAX`), refusing what mainstream
//! readers would read differently. Split from the stream reader in
//! `tar_strict.rs`, which merges these pieces into one entry.

use std::collections::BTreeMap;

use super::tar_error::{TarError, corrupt, lossy, refused};

/// PAX keys that are read and merged, like Go's `mergePAX`.
pub(super) const PAX_PATH: &str = "path";
pub(super) const PAX_LINKPATH: &str = "linkpath";
pub(super) const PAX_SIZE: &str = "size";
pub(super) const PAX_UID: &str = "uid";
pub(super) const PAX_GID: &str = "gid";
pub(super) const PAX_UNAME: &str = "uname";
pub(super) const PAX_GNAME: &str = "gname";
pub(super) const PAX_MTIME: &str = "mtime";
pub(super) const PAX_XATTR: &str = "SCHILY.xattr.";
/// abuild's per-file checksum record (hex SHA-1 of a regular file's content
/// or of a symlink's target), read only from apk data tars.
pub(super) const PAX_APK_SHA1: &str = "APK-TOOLS.checksum.SHA1";
/// PAX records apk ignores (it reads the header field instead) and that
/// change what an entry is (its extent, its owner): refused in apk tars so
/// that ironhull and apk cannot read different entries. (apk also ignores
/// PAX mtime, uname and gname; those decide no content or ownership here.)
const PAX_APK_IGNORES: &[&str] = &[PAX_SIZE, PAX_UID, PAX_GID];

/// PAX keys that no mainstream reader turns into filesystem state: accepted
/// and ignored (Go keeps them in `PAXRecords` only).
pub(super) const PAX_IGNORED: &[&str] = &[
    "atime",
    "ctime",
    "comment",
    "SCHILY.dev",
    "SCHILY.ino",
    "SCHILY.nlink",
    "LIBARCHIVE.creationtime",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    V7,
    Ustar,
    Gnu,
}

/// One header block, decoded exactly as Go's `readHeader` does.
pub(super) struct Header {
    pub(super) offset: u64,
    pub(super) typeflag: u8,
    pub(super) name: Vec<u8>,
    pub(super) link: Vec<u8>,
    pub(super) mode: u64,
    pub(super) uid: u64,
    pub(super) gid: u64,
    pub(super) size: u64,
    pub(super) mtime: u64,
    pub(super) uname: Vec<u8>,
    pub(super) gname: Vec<u8>,
    pub(super) devmajor: u64,
    pub(super) devminor: u64,
}

impl Header {
    pub(super) fn shown(&self) -> Option<String> {
        Some(lossy(&self.name))
    }

    /// `apk` is [`super::read::ReadOptions::apk_checksums`]: the header must
    /// then be ustar or GNU (apk refuses V7), and a regular file's linkname
    /// may hold abuild's legacy checksum (see [`apk_legacy_linkname`]).
    pub(super) fn parse(b: &[u8; 512], offset: u64, apk: bool) -> Result<Header, TarError> {
        let name0 = string_field(&b[0..100], offset, None, "name")?;
        let at = Some(lossy(&name0));
        let stored = octal(&b[148..156]).ok_or_else(|| {
            corrupt(
                offset,
                at.clone(),
                "the header checksum field is not an octal number",
            )
        })?;
        let sum: u64 = b
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(*c)
                }
            })
            .sum();
        if stored != sum {
            return Err(corrupt(
                offset,
                at,
                &format!("header checksum mismatch (stored {stored}, computed {sum})"),
            ));
        }
        let magic = &b[257..263];
        let version = &b[263..265];
        let format = if magic == b"ustar\0" && version == b"00" {
            if &b[508..512] == b"tar\0" {
                return Err(refused(
                    offset,
                    at,
                    "the header is in star format, whose prefix and time fields other readers read as a ustar prefix",
                ));
            }
            Format::Ustar
        } else if magic == b"ustar " && version == b" \0" {
            Format::Gnu
        } else if b[257..265].iter().all(|c| *c == 0) {
            Format::V7
        } else {
            return Err(refused(
                offset,
                at,
                "the header magic is neither ustar, GNU nor V7, so readers disagree on which fields it has",
            ));
        };
        let typeflag = b[156];
        let num = |r: std::ops::Range<usize>, what: &str| -> Result<u64, TarError> {
            numeric(&b[r], offset, &at, what)
        };
        let mut h = Header {
            offset,
            typeflag,
            name: name0.clone(),
            link: if apk && apk_legacy_linkname(typeflag, &b[157..257]) {
                Vec::new()
            } else {
                string_field(&b[157..257], offset, at.clone(), "linkname")?
            },
            mode: num(100..108, "mode")?,
            uid: num(108..116, "uid")?,
            gid: num(116..124, "gid")?,
            size: num(124..136, "size")?,
            mtime: num(136..148, "mtime")?,
            uname: Vec::new(),
            gname: Vec::new(),
            devmajor: 0,
            devminor: 0,
        };
        if apk && format == Format::V7 {
            return Err(refused(
                offset,
                at,
                "the header has no ustar magic: apk refuses such headers in a package",
            ));
        }
        if format != Format::V7 {
            h.uname = string_field(&b[265..297], offset, at.clone(), "uname")?;
            h.gname = string_field(&b[297..329], offset, at.clone(), "gname")?;
            h.devmajor = num(329..337, "devmajor")?;
            h.devminor = num(337..345, "devminor")?;
        }
        match format {
            Format::Ustar => {
                let prefix = string_field(&b[345..500], offset, at.clone(), "prefix")?;
                if !prefix.is_empty() {
                    let mut full = prefix;
                    full.push(b'/');
                    full.extend_from_slice(&h.name);
                    h.name = full;
                }
            }
            Format::Gnu => {
                // Go falls back to reading a ustar prefix from a GNU header
                // whose atime/ctime do not parse (a Go 1.8 writer bug);
                // other readers never do. Refuse the ambiguity.
                for (r, what) in [(345..357, "atime"), (357..369, "ctime")] {
                    if b[r.start] != 0 {
                        num(r, what)?;
                    }
                }
            }
            Format::V7 => {}
        }
        Ok(h)
    }
}

/// Whether a regular file's linkname field is abuild-tar's legacy checksum:
/// three NULs, `APK2`, a digest id and length (two u16) and the digest. Go
/// reads the field as an empty name (it stops at the first NUL) and apk
/// ignores the linkname of a regular file, so no reader makes a link of it.
fn apk_legacy_linkname(typeflag: u8, f: &[u8]) -> bool {
    matches!(typeflag, b'0' | 0) && f.starts_with(b"\0\0\0APK2")
}

/// A NUL-terminated string field; bytes after the first NUL must be NUL
/// (Go stops at the NUL, but a writer that leaves data there is hiding it).
fn string_field(
    f: &[u8],
    offset: u64,
    at: Option<String>,
    what: &str,
) -> Result<Vec<u8>, TarError> {
    let end = f.iter().position(|c| *c == 0).unwrap_or(f.len());
    if f[end..].iter().any(|c| *c != 0) {
        return Err(refused(
            offset,
            at,
            &format!("the {what} field has bytes after its NUL terminator"),
        ));
    }
    Ok(f[..end].to_vec())
}

/// Octal as Go's `parseOctal`, minus its leniency: leading and trailing
/// spaces/NULs are allowed, the rest must be octal digits (Go would stop at
/// an inner NUL). An all-blank field is 0.
fn octal(f: &[u8]) -> Option<u64> {
    let blank = |c: &u8| *c == b' ' || *c == 0;
    let start = f.iter().position(|c| !blank(c)).unwrap_or(f.len());
    let end = f.iter().rposition(|c| !blank(c)).map_or(start, |e| e + 1);
    let digits = &f[start..end];
    if digits.is_empty() {
        return Some(0);
    }
    let mut v: u64 = 0;
    for c in digits {
        if !(b'0'..=b'7').contains(c) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// A numeric field: octal, or GNU base-256 (first bit set). Negative
/// base-256 values are refused: Go returns them as negative ids, sizes and
/// times, which no filesystem has.
fn numeric(f: &[u8], offset: u64, at: &Option<String>, what: &str) -> Result<u64, TarError> {
    if f[0] & 0x80 != 0 {
        if f[0] & 0x40 != 0 {
            return Err(refused(
                offset,
                at.clone(),
                &format!("the {what} field is a negative base-256 number"),
            ));
        }
        let mut v: u64 = 0;
        for (i, c) in f.iter().enumerate() {
            let c = if i == 0 { c & 0x7f } else { *c };
            if v >> 55 != 0 {
                return Err(corrupt(
                    offset,
                    at.clone(),
                    &format!("the {what} field overflows 63 bits"),
                ));
            }
            v = (v << 8) | u64::from(c);
        }
        return Ok(v);
    }
    octal(f).ok_or_else(|| {
        corrupt(
            offset,
            at.clone(),
            &format!("the {what} field is not an octal number"),
        )
    })
}

/// Strict unsigned decimal: digits only, no sign, no leading zeros (but "0").
pub(super) fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || (v.len() > 1 && v[0] == b'0') || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Parses PAX records (`"<len> <key>=<value>\n"`) strictly: canonical
/// lengths, each key once, only known keys. With `apk` (apk data and
/// control tars), [`PAX_APK_SHA1`] is known too and the records apk ignores
/// are refused.
pub(super) fn parse_pax(
    data: &[u8],
    offset: u64,
    apk: bool,
) -> Result<BTreeMap<String, Vec<u8>>, TarError> {
    let bad = |why: String| TarError::Refused {
        offset,
        path: None,
        why,
    };
    let mut out = BTreeMap::new();
    let mut rest = data;
    while !rest.is_empty() {
        let sp = rest
            .iter()
            .position(|c| *c == b' ')
            .ok_or_else(|| bad("a PAX record has no length field".into()))?;
        let len = decimal(&rest[..sp])
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| bad("a PAX record length is not a plain decimal number".into()))?;
        if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad("a PAX record length does not match the record".into()));
        }
        let rec = &rest[sp + 1..len - 1];
        rest = &rest[len..];
        let eq = rec
            .iter()
            .position(|c| *c == b'=')
            .ok_or_else(|| bad("a PAX record has no '='".into()))?;
        let key = std::str::from_utf8(&rec[..eq])
            .ok()
            .filter(|k| !k.is_empty() && !k.contains('\0'))
            .ok_or_else(|| bad("a PAX record key is empty, not UTF-8 or contains NUL".into()))?
            .to_string();
        let value = rec[eq + 1..].to_vec();
        let xattr = key.strip_prefix(PAX_XATTR);
        let known = matches!(
            key.as_str(),
            PAX_PATH
                | PAX_LINKPATH
                | PAX_SIZE
                | PAX_UID
                | PAX_GID
                | PAX_UNAME
                | PAX_GNAME
                | PAX_MTIME
        ) || PAX_IGNORED.contains(&key.as_str())
            || (apk && key == PAX_APK_SHA1);
        if apk && PAX_APK_IGNORES.contains(&key.as_str()) {
            return Err(bad(format!(
                "PAX key {key:?} in an apk package: apk ignores it and reads the header field, \
                 so apk and ironhull would read different entries"
            )));
        }
        match xattr {
            Some("") => {
                return Err(bad(
                    "a PAX SCHILY.xattr record has an empty xattr name".into()
                ));
            }
            Some(_) => {}
            None if !known => {
                return Err(bad(format!(
                    "PAX key {key:?} is not one ironhull reads identically to Go's archive/tar \
                     (sparse files, hdrcharset, ACLs, LIBARCHIVE.xattr and vendor keys are refused)"
                )));
            }
            None => {}
        }
        if value.is_empty() {
            return Err(bad(format!(
                "PAX key {key:?} has an empty value (Go keeps the header field, other readers clear it)"
            )));
        }
        // Path and link values are checked (NUL, UTF-8) with the entry's
        // path rules; xattr values are binary by nature.
        if xattr.is_none()
            && key != PAX_PATH
            && key != PAX_LINKPATH
            && (value.contains(&0) || std::str::from_utf8(&value).is_err())
        {
            return Err(bad(format!(
                "PAX key {key:?} has a value that is not UTF-8 or contains NUL"
            )));
        }
        if out.insert(key.clone(), value).is_some() {
            return Err(bad(format!(
                "PAX key {key:?} appears twice for one entry (Go takes the last, tar-rs the first)"
            )));
        }
    }
    Ok(out)
}
