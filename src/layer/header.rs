//! The single deterministic tar header constructor.
//!
//! Every byte of every header ironhull writes is set here, explicitly, from an
//! [`Entry`]: nothing comes from the host (no `stat`, no clock, no user
//! database), so the same entry always yields the same 512 bytes.
//!
//! Format: POSIX ustar headers, with a POSIX.1-2001 PAX extended header (`x`)
//! in front of an entry only when a value does not fit ustar (names and link
//! targets over 100 bytes or not ASCII, user/group names over 32 bytes, ids,
//! sizes or mtimes too large for the octal fields, and xattrs).
//!
//! Why PAX rather than GNU `././@LongLink`: PAX is the POSIX standard, it is
//! what Go's `archive/tar` writes for long names (and Go's reader is what
//! umoci, skopeo/containers-storage, containerd and Docker use to unpack
//! layers; runc only sees the unpacked tree), it carries xattrs and large ids in
//! the same mechanism, and its records are plain `len key=value\n` lines that we
//! can emit in a fixed (sorted) order. The ustar `prefix` field is not used, so
//! there is one rule for long paths instead of two.

use super::{LayerError, kind_name};
use crate::fs::entry::{Entry, EntryKind};
use std::collections::BTreeMap;

/// Size of a tar block.
pub const BLOCK_SIZE: usize = 512;

/// The name written in the ustar header of every PAX extended header. Readers
/// ignore it; a fixed value keeps output deterministic (GNU tar puts a process
/// id there). Python's `tarfile` uses the same name.
pub const PAX_HEADER_NAME: &str = "././@PaxHeader";

/// The headers for one entry: an optional PAX extended header (with its record
/// data, which is written as that header's content) and the ustar header.
#[derive(Clone, Debug)]
pub struct EntryHeaders {
    pub pax: Option<PaxExtension>,
    pub header: tar::Header,
}

/// A PAX extended header block and its records.
#[derive(Clone, Debug)]
pub struct PaxExtension {
    pub header: tar::Header,
    /// `"<len> <key>=<value>\n"` records, sorted by key.
    pub records: Vec<u8>,
}

// Byte ranges of the ustar header fields (POSIX.1-1988 / 2001).
const NAME: (usize, usize) = (0, 100);
const MODE: (usize, usize) = (100, 108);
const UID: (usize, usize) = (108, 116);
const GID: (usize, usize) = (116, 124);
const SIZE: (usize, usize) = (124, 136);
const MTIME: (usize, usize) = (136, 148);
const CHKSUM: (usize, usize) = (148, 156);
const TYPEFLAG: usize = 156;
const LINKNAME: (usize, usize) = (157, 257);
const MAGIC: (usize, usize) = (257, 263);
const VERSION: (usize, usize) = (263, 265);
const UNAME: (usize, usize) = (265, 297);
const GNAME: (usize, usize) = (297, 329);
const DEVMAJOR: (usize, usize) = (329, 337);
const DEVMINOR: (usize, usize) = (337, 345);

/// The name an entry gets inside the tar: relative, no leading `/` or `./`
/// (as Docker and BuildKit write layers), directories with a trailing `/`, and
/// the root directory as `./`.
pub fn tar_name(entry: &Entry) -> String {
    if entry.path.is_root() {
        "./".to_string()
    } else if entry.is_dir() {
        format!("{}/", entry.path.as_str())
    } else {
        entry.path.as_str().to_string()
    }
}

/// Builds the headers for `entry`. All metadata (mode, uid, gid, uname, gname,
/// mtime, size) is taken from the entry as is: the caller decides normalization
/// (see [`super::normalize`]). Only the permission bits `mode & 0o7777` are
/// written; the file type is the typeflag. There is no atime or ctime.
pub fn header_for(entry: &Entry) -> Result<EntryHeaders, LayerError> {
    let path = entry.path.to_abs();
    let mut b = [0u8; BLOCK_SIZE];
    let mut pax: BTreeMap<String, Vec<u8>> = BTreeMap::new();

    if entry.path.is_root() && !entry.is_dir() {
        return Err(LayerError::RootNotDir {
            kind: kind_name(&entry.kind),
        });
    }

    put_str(&mut b, NAME, "path", &tar_name(entry), &mut pax);
    put_octal(&mut b, MODE, u64::from(entry.mode & 0o7777));
    put_num(&mut b, UID, "uid", entry.uid, &mut pax);
    put_num(&mut b, GID, "gid", entry.gid, &mut pax);
    let size = if entry.is_file() { entry.size } else { 0 };
    put_num(&mut b, SIZE, "size", size, &mut pax);
    put_num(&mut b, MTIME, "mtime", entry.mtime, &mut pax);

    let (flag, link): (u8, Option<&str>) = match &entry.kind {
        EntryKind::File => (b'0', None),
        EntryKind::Hardlink { target } => {
            if target.is_root() {
                return Err(LayerError::BadLinkTarget {
                    path,
                    why: "a hard link cannot point at the root directory",
                });
            }
            (b'1', Some(target.as_str()))
        }
        EntryKind::Symlink { target } => {
            if target.is_empty() {
                return Err(LayerError::BadLinkTarget {
                    path,
                    why: "the symlink target is empty",
                });
            }
            if target.contains('\0') {
                return Err(LayerError::BadLinkTarget {
                    path,
                    why: "the symlink target contains a NUL byte",
                });
            }
            (b'2', Some(target.as_str()))
        }
        EntryKind::CharDevice { .. } => (b'3', None),
        EntryKind::BlockDevice { .. } => (b'4', None),
        EntryKind::Dir => (b'5', None),
        EntryKind::Fifo => (b'6', None),
    };
    b[TYPEFLAG] = flag;
    if let Some(link) = link {
        put_str(&mut b, LINKNAME, "linkpath", link, &mut pax);
    }
    b[MAGIC.0..MAGIC.1].copy_from_slice(b"ustar\0");
    b[VERSION.0..VERSION.1].copy_from_slice(b"00");
    put_str(&mut b, UNAME, "uname", &entry.uname, &mut pax);
    put_str(&mut b, GNAME, "gname", &entry.gname, &mut pax);

    let (major, minor) = match entry.kind {
        EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
            (major, minor)
        }
        _ => (0, 0),
    };
    for (field, name, value) in [(DEVMAJOR, "major", major), (DEVMINOR, "minor", minor)] {
        if !fits_octal(field, u64::from(value)) {
            return Err(LayerError::DeviceNumberTooLarge {
                path: path.clone(),
                field: name,
                value,
            });
        }
        put_octal(&mut b, field, u64::from(value));
    }

    for (name, value) in &entry.xattrs {
        if let Some(why) = bad_xattr_name(name) {
            return Err(LayerError::BadXattr {
                path,
                name: name.chars().take(100).collect(),
                why,
            });
        }
        pax.insert(format!("SCHILY.xattr.{name}"), value.clone());
    }

    set_checksum(&mut b);
    let header = tar::Header::from_byte_slice(&b).clone();
    let pax = if pax.is_empty() {
        None
    } else {
        let records = pax_records(&pax);
        Some(PaxExtension {
            header: pax_header(records.len() as u64),
            records,
        })
    };
    Ok(EntryHeaders { pax, header })
}

/// Why an xattr name cannot be stored as a PAX `SCHILY.xattr.<name>` key, if so.
/// A PAX key ends at the first `=`, so a name containing one would be split
/// differently by every reader.
///
/// A privilege-conferring attribute (a file capability, a POSIX ACL) is
/// refused too, whatever `keep_xattrs` says: ironhull never ships one (see
/// [`crate::detect::xattrs`]), and refusing here means no path can slip one in.
fn bad_xattr_name(name: &str) -> Option<&'static str> {
    if crate::detect::xattrs::is_privileged(name) {
        Some("grants privilege (a file capability or POSIX ACL), which ironhull never writes")
    } else if name.is_empty() {
        Some("is empty")
    } else if name.contains('=') {
        Some("contains '=', which cannot appear in a PAX record key")
    } else if name.contains('\0') || name.contains('\n') {
        Some("contains a NUL byte or a newline")
    } else {
        None
    }
}

/// The header of a PAX extended header entry. Fixed metadata so that only the
/// record length varies.
fn pax_header(size: u64) -> tar::Header {
    let mut b = [0u8; BLOCK_SIZE];
    let mut unused = BTreeMap::new();
    put_str(&mut b, NAME, "path", PAX_HEADER_NAME, &mut unused);
    put_octal(&mut b, MODE, 0o644);
    put_octal(&mut b, UID, 0);
    put_octal(&mut b, GID, 0);
    // A record set larger than 8 GiB cannot be built in memory anyway.
    put_octal(&mut b, SIZE, size.min(max_octal(SIZE)));
    put_octal(&mut b, MTIME, 0);
    b[TYPEFLAG] = b'x';
    b[MAGIC.0..MAGIC.1].copy_from_slice(b"ustar\0");
    b[VERSION.0..VERSION.1].copy_from_slice(b"00");
    put_octal(&mut b, DEVMAJOR, 0);
    put_octal(&mut b, DEVMINOR, 0);
    set_checksum(&mut b);
    tar::Header::from_byte_slice(&b).clone()
}

/// Serializes PAX records, in key order (the map is sorted).
fn pax_records(records: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        // "<len> <key>=<value>\n" where <len> counts the whole record, itself included.
        let rest = 1 + key.len() + 1 + value.len() + 1;
        let mut len = rest + 1;
        loop {
            let total = rest + decimal_digits(len);
            if total == len {
                break;
            }
            len = total;
        }
        out.extend_from_slice(len.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

fn decimal_digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// The largest value a NUL-terminated octal field of this width holds.
fn max_octal(field: (usize, usize)) -> u64 {
    let digits = (field.1 - field.0 - 1) as u32;
    (1u64 << (3 * digits)) - 1
}

fn fits_octal(field: (usize, usize), value: u64) -> bool {
    value <= max_octal(field)
}

/// Writes `value` as zero-padded octal filling the field, NUL-terminated
/// (`0000644\0`). Callers check [`fits_octal`] first; a value that does not
/// fit is written as 0 rather than silently truncated.
fn put_octal(b: &mut [u8; BLOCK_SIZE], field: (usize, usize), value: u64) {
    let width = field.1 - field.0 - 1;
    let value = if fits_octal(field, value) { value } else { 0 };
    let s = format!("{value:0width$o}");
    b[field.0..field.0 + width].copy_from_slice(s.as_bytes());
    b[field.1 - 1] = 0;
}

/// A numeric field: octal when it fits, otherwise 0 in the header and the
/// decimal value in a PAX record.
fn put_num(
    b: &mut [u8; BLOCK_SIZE],
    field: (usize, usize),
    key: &str,
    value: u64,
    pax: &mut BTreeMap<String, Vec<u8>>,
) {
    if !fits_octal(field, value) {
        pax.insert(key.to_string(), value.to_string().into_bytes());
    }
    put_octal(b, field, value);
}

/// A string field: copied when it fits and is ASCII, otherwise recorded in
/// PAX (whose values are UTF-8 by definition), with the longest prefix that
/// fits written to the header for readers that do not know PAX.
fn put_str(
    b: &mut [u8; BLOCK_SIZE],
    field: (usize, usize),
    key: &str,
    value: &str,
    pax: &mut BTreeMap<String, Vec<u8>>,
) {
    let width = field.1 - field.0;
    let fits = value.len() <= width && value.is_ascii();
    let shown = if fits {
        value
    } else {
        pax.insert(key.to_string(), value.as_bytes().to_vec());
        let mut end = width.min(value.len());
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        &value[..end]
    };
    b[field.0..field.0 + shown.len()].copy_from_slice(shown.as_bytes());
}

/// The ustar checksum: the byte sum of the header with the checksum field read
/// as spaces, written as six octal digits, NUL, space (what GNU tar and Go write).
fn set_checksum(b: &mut [u8; BLOCK_SIZE]) {
    b[CHKSUM.0..CHKSUM.1].fill(b' ');
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    let s = format!("{sum:06o}");
    b[CHKSUM.0..CHKSUM.0 + 6].copy_from_slice(s.as_bytes());
    b[CHKSUM.0 + 6] = 0;
    b[CHKSUM.0 + 7] = b' ';
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::entry::ImagePath;

    fn entry(path: &str, kind: EntryKind, mode: u32) -> Entry {
        Entry::new(ImagePath::parse(path).unwrap(), kind, mode)
    }

    #[test]
    fn short_file_header_is_plain_ustar() {
        let mut e = entry("etc/passwd", EntryKind::File, 0o100644);
        e.size = 5;
        e.mtime = 1_700_000_000;
        e.uid = 65532;
        e.gid = 65532;
        let h = header_for(&e).unwrap();
        assert!(h.pax.is_none());
        let raw = h.header.as_bytes();
        assert_eq!(&raw[0..11], b"etc/passwd\0");
        assert_eq!(&raw[100..108], b"0000644\0", "type bits are masked off");
        assert_eq!(&raw[108..116], b"0177774\0");
        assert_eq!(&raw[124..136], b"00000000005\0");
        assert_eq!(raw[156], b'0');
        assert_eq!(&raw[257..265], b"ustar\x0000");
        assert_eq!(&raw[329..345], b"0000000\x000000000\x00");
        let mut blank = *raw;
        blank[148..156].fill(b' ');
        let sum: u32 = blank.iter().map(|&x| u32::from(x)).sum();
        assert_eq!(&raw[148..156], format!("{sum:06o}\0 ").as_bytes());
        assert_eq!(h.header.cksum().unwrap(), sum);
        assert_eq!(h.header.mode().unwrap(), 0o644);
        assert_eq!(h.header.mtime().unwrap(), 1_700_000_000);
    }

    #[test]
    fn dirs_and_root_names() {
        let h = header_for(&entry("usr/bin", EntryKind::Dir, 0o755)).unwrap();
        assert_eq!(h.header.path_bytes().as_ref(), b"usr/bin/");
        assert_eq!(h.header.entry_type(), tar::EntryType::Directory);
        let h = header_for(&entry("/", EntryKind::Dir, 0o755)).unwrap();
        assert_eq!(h.header.path_bytes().as_ref(), b"./");
        assert!(matches!(
            header_for(&entry("/", EntryKind::File, 0o644)),
            Err(LayerError::RootNotDir { .. })
        ));
    }

    #[test]
    fn long_values_go_to_sorted_pax_records() {
        let long = format!("{}/file", "d".repeat(150));
        let mut e = entry(
            &long,
            EntryKind::Symlink {
                target: "t".repeat(120),
            },
            0o777,
        );
        e.uid = 1 << 40;
        e.uname = "u".repeat(40);
        e.xattrs.insert("user.b".into(), b"2".to_vec());
        e.xattrs.insert("security.a".into(), vec![0, 1, b'\n']);
        let h = header_for(&e).unwrap();
        let pax = h.pax.unwrap();
        let text = String::from_utf8_lossy(&pax.records).into_owned();
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once(' ').and_then(|(_, kv)| kv.split_once('=')))
            .map(|(k, _)| k)
            .collect();
        // The xattr value contains a newline, so `lines()` sees an extra fragment
        // without a key; the real keys are in sorted order.
        assert_eq!(
            keys,
            [
                "SCHILY.xattr.security.a",
                "SCHILY.xattr.user.b",
                "linkpath",
                "path",
                "uid",
                "uname"
            ]
        );
        // Each record's length prefix is exact.
        let mut rest = &pax.records[..];
        while !rest.is_empty() {
            let sp = rest.iter().position(|&c| c == b' ').unwrap();
            let n: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
            assert_eq!(rest[n - 1], b'\n');
            rest = &rest[n..];
        }
        assert_eq!(pax.header.entry_type(), tar::EntryType::XHeader);
        assert_eq!(pax.header.size().unwrap(), pax.records.len() as u64);
        assert_eq!(&h.header.as_bytes()[108..116], b"0000000\0");
    }

    #[test]
    fn pax_record_length_crosses_digit_boundary() {
        // rest = 1 + 4 + 1 + 92 + 1 = 99: with a 2-digit length the record
        // would be 101 bytes, so the length needs 3 digits: 102.
        let mut m = BTreeMap::new();
        m.insert("path".to_string(), vec![b'a'; 92]);
        let r = pax_records(&m);
        assert_eq!(r.len(), 102);
        assert!(r.starts_with(b"102 path="));
    }

    #[test]
    fn refuses_what_tar_cannot_hold() {
        let dev = entry(
            "dev/x",
            EntryKind::CharDevice {
                major: 1 << 22,
                minor: 0,
            },
            0o600,
        );
        assert!(matches!(
            header_for(&dev),
            Err(LayerError::DeviceNumberTooLarge { .. })
        ));
        let mut x = entry("f", EntryKind::File, 0o644);
        x.xattrs.insert("user.a=b".into(), vec![]);
        assert!(matches!(header_for(&x), Err(LayerError::BadXattr { .. })));
        for privileged in [
            "security.capability",
            "system.posix_acl_access",
            "system.posix_acl_default",
        ] {
            let mut x = entry("f", EntryKind::File, 0o644);
            x.xattrs.insert(privileged.into(), vec![1, 0, 0, 2]);
            assert!(
                matches!(header_for(&x), Err(LayerError::BadXattr { .. })),
                "{privileged} must never be written"
            );
        }
        let s = entry(
            "l",
            EntryKind::Symlink {
                target: String::new(),
            },
            0o777,
        );
        assert!(matches!(
            header_for(&s),
            Err(LayerError::BadLinkTarget { .. })
        ));
    }

    #[test]
    fn devices_carry_numbers() {
        let h = header_for(&entry(
            "dev/null",
            EntryKind::CharDevice { major: 1, minor: 3 },
            0o666,
        ))
        .unwrap();
        assert_eq!(h.header.device_major().unwrap(), Some(1));
        assert_eq!(h.header.device_minor().unwrap(), Some(3));
        assert_eq!(h.header.entry_type(), tar::EntryType::Char);
    }
}
