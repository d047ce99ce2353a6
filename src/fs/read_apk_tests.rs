//! The strict reader's apk mode (`ReadOptions::apk_checksums`): abuild's
//! per-file checksum record is read only when asked for, and what apk reads
//! differently from Go is refused there.

use super::tests::{T, gz};
use super::*;
use crate::fs::entry::LayerEvent;

const HEX: &[u8] = b"a9993e364706816aba3e25717850c26c9cd0d89d";
const SHA1_ABC: [u8; 20] = [
    0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c,
    0x9c, 0xd0, 0xd8, 0x9d,
];

fn apk() -> ReadOptions {
    ReadOptions {
        apk_checksums: true,
        ..ReadOptions::default()
    }
}

/// (path, checksum) of every entry.
type Sums = Vec<(String, Option<[u8; 20]>)>;

fn checksums(blob: &[u8], opts: &ReadOptions) -> Result<Sums, ReadError> {
    let mut out = Vec::new();
    read_layer(blob, opts, |ev, _| {
        if let LayerEvent::Entry(e) = ev {
            out.push((e.path.as_str().to_string(), e.apk_sha1));
        }
        Ok(())
    })?;
    Ok(out)
}

fn with_checksum(value: &[u8]) -> Vec<u8> {
    T::new()
        .pax(&[("APK-TOOLS.checksum.SHA1", value)])
        .file("a", b"abc")
        .finish()
}

#[test]
fn the_apk_checksum_is_read_only_in_apk_mode() {
    let blob = gz(&with_checksum(HEX));
    let got = checksums(&blob, &apk()).unwrap();
    assert_eq!(got, [("a".to_string(), Some(SHA1_ABC))]);
    let upper = with_checksum(&HEX.to_ascii_uppercase());
    assert_eq!(checksums(&upper, &apk()).unwrap()[0].1, Some(SHA1_ABC));
    // Image layers keep refusing the vendor key.
    let e = checksums(&blob, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("APK-TOOLS.checksum.SHA1"), "{e}");
    // Without the record, apk mode gives no checksum.
    let plain = T::new().file("a", b"abc").finish();
    assert_eq!(checksums(&plain, &apk()).unwrap()[0].1, None);
}

#[test]
fn malformed_checksums_and_keys_apk_reads_differently_are_refused() {
    for bad in [
        &HEX[..39],
        b"zz993e364706816aba3e25717850c26c9cd0d89d",
        b"a9993e364706816aba3e25717850c26c9cd0d89d00",
    ] {
        let e = checksums(&with_checksum(bad), &apk())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not 40 hex digits"), "{e}");
    }
    for key in ["size", "uid", "gid"] {
        let blob = T::new().pax(&[(key, b"3")]).file("a", b"abc").finish();
        let e = checksums(&blob, &apk()).unwrap_err().to_string();
        assert!(e.contains("apk ignores it"), "{key}: {e}");
        // Outside apk mode these are ordinary PAX keys.
        checksums(&blob, &ReadOptions::default()).unwrap();
    }
    let on_dir = T::new()
        .pax(&[("APK-TOOLS.checksum.SHA1", HEX)])
        .dir("d/")
        .finish();
    let e = checksums(&on_dir, &apk()).unwrap_err().to_string();
    assert!(e.contains("neither a regular file nor a symlink"), "{e}");
}

/// A ustar header for a regular file `a` whose linkname field holds `link`.
fn with_linkname(link: &[u8], magic: bool) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_path("a").unwrap();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    if !magic {
        h.as_mut_bytes()[257..265].fill(0);
    }
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(b"abc");
    out.resize(1024, 0);
    out
}

#[test]
fn abuilds_legacy_linkname_checksum_is_accepted_only_in_apk_mode() {
    let mut legacy = b"\0\0\0APK2".to_vec();
    legacy.extend_from_slice(&[64, 0, 20, 0]);
    legacy.extend_from_slice(&SHA1_ABC);
    let blob = with_linkname(&legacy, true);
    assert_eq!(checksums(&blob, &apk()).unwrap()[0].0, "a");
    let e = checksums(&blob, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("linkname field has bytes after its NUL"), "{e}");
    // Any other hidden bytes stay refused in apk mode too.
    let e = checksums(&with_linkname(b"\0\0\0XXXX", true), &apk())
        .unwrap_err()
        .to_string();
    assert!(e.contains("linkname field has bytes after its NUL"), "{e}");
    // apk refuses headers without the ustar magic.
    let e = checksums(&with_linkname(b"", false), &apk())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no ustar magic"), "{e}");
    checksums(&with_linkname(b"", false), &ReadOptions::default()).unwrap();
}

#[test]
fn gnu_long_links_are_refused_in_apk_mode() {
    let long = "t".repeat(150);
    let blob = T::new().file("t", b"x").symlink("l", &long).finish();
    checksums(&blob, &ReadOptions::default()).unwrap();
    let e = checksums(&blob, &apk()).unwrap_err().to_string();
    assert!(e.contains("GNU long link"), "{e}");
}

#[test]
fn names_apk_skips_are_refused_in_apk_mode() {
    for name in ["./a", "/a"] {
        let blob = T::new()
            .raw(tar::EntryType::Regular, name.as_bytes(), b"", b"x")
            .finish();
        let e = checksums(&blob, &apk()).unwrap_err().to_string();
        assert!(e.contains("apk skips such entries"), "{name}: {e}");
    }
    let blob = T::new()
        .raw(tar::EntryType::Regular, b"./a", b"", b"x")
        .finish();
    checksums(&blob, &ReadOptions::default()).unwrap();
}
