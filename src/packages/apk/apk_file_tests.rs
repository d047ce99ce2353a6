//! Unit tests of `apk_file`, over packages built here in the v2 layout
//! (the witness against the real apk is `tests/apk_install_witness.rs`).

use super::*;
use std::io::Write;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One tar entry: a PAX header with `pax` records (if any), then the entry.
fn entry(
    out: &mut Vec<u8>,
    ty: tar::EntryType,
    name: &str,
    link: &str,
    data: &[u8],
    pax: &[(&str, String)],
) {
    if !pax.is_empty() {
        let mut recs = Vec::new();
        for (k, v) in pax {
            let body = format!(" {k}={v}\n");
            let mut len = body.len() + 1;
            while format!("{len}{body}").len() != len {
                len += 1;
            }
            recs.extend_from_slice(format!("{len}{body}").as_bytes());
        }
        let mut h = tar::Header::new_ustar();
        h.set_path("PaxHeader").unwrap();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(recs.len() as u64);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&recs);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    if !link.is_empty() {
        h.set_link_name(link).unwrap();
    }
    h.set_entry_type(ty);
    h.set_mode(if ty == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_size(data.len() as u64);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn sha1_hex(b: &[u8]) -> String {
    hex::encode(Sha1::digest(b))
}

/// A data tar (with end-of-archive blocks) of `usr/`, `usr/hello` and a
/// symlink, each file with its checksum record.
fn data_tar(content: &[u8], checksum: Option<String>) -> Vec<u8> {
    let mut t = Vec::new();
    entry(&mut t, tar::EntryType::Directory, "usr/", "", b"", &[]);
    let pax: Vec<(&str, String)> = checksum
        .map(|c| vec![("APK-TOOLS.checksum.SHA1", c)])
        .unwrap_or_default();
    entry(
        &mut t,
        tar::EntryType::Regular,
        "usr/hello",
        "",
        content,
        &pax,
    );
    entry(
        &mut t,
        tar::EntryType::Symlink,
        "usr/hi",
        "hello",
        b"",
        &[("APK-TOOLS.checksum.SHA1", sha1_hex(b"hello"))],
    );
    entry(
        &mut t,
        tar::EntryType::Regular,
        "usr/.keep_usr",
        "",
        b"",
        &[("APK-TOOLS.checksum.SHA1", sha1_hex(b""))],
    );
    t.extend_from_slice(&[0u8; 1024]);
    t
}

struct Built {
    bytes: Vec<u8>,
    q1: [u8; 20],
}

/// signature? + control + data, the control's .PKGINFO with `datahash`
/// of `data` plus `extra` lines.
fn build(sig: bool, data: &[u8], extra: &str, control_files: &[(&str, &[u8])]) -> Built {
    let data_gz = gz(data);
    let info = format!(
        "pkgname = hello\npkgver = 1.0-r0\narch = x86_64\nsize = 6\npkgdesc = hi\n{extra}datahash = {}\n",
        hex::encode(Sha256::digest(&data_gz))
    );
    let mut c = Vec::new();
    entry(
        &mut c,
        tar::EntryType::Regular,
        ".PKGINFO",
        "",
        info.as_bytes(),
        &[],
    );
    for (n, b) in control_files {
        entry(&mut c, tar::EntryType::Regular, n, "", b, &[]);
    }
    let control = gz(&c);
    let q1: [u8; 20] = Sha1::digest(&control).into();
    let mut bytes = Vec::new();
    if sig {
        let mut s = Vec::new();
        entry(
            &mut s,
            tar::EntryType::Regular,
            ".SIGN.RSA.test.rsa.pub",
            "",
            b"not checked",
            &[],
        );
        bytes.extend(gz(&s));
    }
    bytes.extend(&control);
    bytes.extend(&data_gz);
    Built { bytes, q1 }
}

fn good() -> Built {
    build(
        true,
        &data_tar(b"hello\n", Some(sha1_hex(b"hello\n"))),
        "",
        &[(".post-install", b"#!/bin/sh\n")],
    )
}

type Seen = Vec<(String, Option<[u8; 20]>, Vec<u8>)>;

fn read_all(a: &ApkFile) -> Result<Seen, ApkFileError> {
    let mut out = Vec::new();
    a.read_data(&ReadOptions::default(), |ev, r| {
        if let LayerEvent::Entry(e) = ev {
            let mut b = Vec::new();
            r.read_to_end(&mut b).map_err(ReadError::Io)?;
            out.push((e.path.as_str().to_string(), e.apk_sha1, b));
        }
        Ok(())
    })?;
    Ok(out)
}

#[test]
fn reads_a_signed_and_an_unsigned_package() {
    for sig in [true, false] {
        let b = build(
            sig,
            &data_tar(b"hello\n", Some(sha1_hex(b"hello\n"))),
            "",
            &[(".trigger", b"x"), (".pre-install", b"y")],
        );
        let a = ApkFile::parse(&b.bytes, &b.q1).unwrap();
        assert_eq!(a.pkginfo.shown(), "hello-1.0-r0");
        assert_eq!(a.scripts, [".pre-install", ".trigger"]);
        assert_eq!(a.signatures.len(), usize::from(sig));
        assert_eq!(a.q1, b.q1);
        assert_eq!(a.size, b.bytes.len() as u64);
        let seen = read_all(&a).unwrap();
        let names: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
        // `.keep_*` files are skipped, as apk skips them.
        assert_eq!(names, ["usr", "usr/hello", "usr/hi"]);
        assert_eq!(seen[1].2, b"hello\n");
        let want: [u8; 20] = Sha1::digest(b"hello\n").into();
        assert_eq!(seen[1].1, Some(want));
    }
    assert_eq!(q1_string(&[0u8; 20]), "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
}

#[test]
fn the_trust_chain_is_checked_q1_then_datahash_then_each_file() {
    let b = good();
    let mut wrong = b.q1;
    wrong[0] ^= 1;
    let e = ApkFile::parse(&b.bytes, &wrong).unwrap_err().to_string();
    assert!(
        e.contains("control segment has checksum Q1") && e.contains("index lists"),
        "{e}"
    );

    // A flipped byte in the (last) data member.
    let mut flipped = b.bytes.clone();
    let at = flipped.len() - 20;
    flipped[at] ^= 0x40;
    let e = ApkFile::parse(&flipped, &b.q1).unwrap_err().to_string();
    assert!(e.contains("datahash"), "{e}");

    // A file whose content does not match its checksum record.
    let bad = build(
        false,
        &data_tar(b"hello\n", Some(sha1_hex(b"other"))),
        "",
        &[],
    );
    let a = ApkFile::parse(&bad.bytes, &bad.q1).unwrap();
    let e = read_all(&a).unwrap_err().to_string();
    assert!(
        e.contains("/usr/hello") && e.contains("the file was altered"),
        "{e}"
    );
    // ... or has none.
    let none = build(false, &data_tar(b"hello\n", None), "", &[]);
    let a = ApkFile::parse(&none.bytes, &none.q1).unwrap();
    let e = read_all(&a).unwrap_err().to_string();
    assert!(
        e.contains("/usr/hello") && e.contains("no APK-TOOLS.checksum.SHA1"),
        "{e}"
    );
}

#[test]
fn layout_errors_name_the_part() {
    let b = good();
    let data_tar_ok = data_tar(b"hello\n", Some(sha1_hex(b"hello\n")));
    let mut trailing = b.bytes.clone();
    trailing.extend_from_slice(b"garbage");
    // datahash covers everything after the control member.
    let e = ApkFile::parse(&trailing, &b.q1).unwrap_err().to_string();
    assert!(e.contains("datahash"), "{e}");

    // Two data members, both covered by datahash: still refused.
    let mut two = gz(&data_tar_ok);
    two.extend(gz(b"more"));
    let data2 = two.clone();
    let info = format!(
        "pkgname = a\npkgver = 1\narch = x86_64\nsize = 1\ndatahash = {}\n",
        hex::encode(Sha256::digest(&data2))
    );
    let mut c = Vec::new();
    entry(
        &mut c,
        tar::EntryType::Regular,
        ".PKGINFO",
        "",
        info.as_bytes(),
        &[],
    );
    let control = gz(&c);
    let q1: [u8; 20] = Sha1::digest(&control).into();
    let mut bytes = control.clone();
    bytes.extend(&data2);
    let e = ApkFile::parse(&bytes, &q1).unwrap_err().to_string();
    assert!(e.contains("follow the data segment"), "{e}");

    // Truncated data (datahash still matches what is there).
    let full = gz(&data_tar_ok);
    let cut = &full[..full.len() - 10];
    let info = format!(
        "pkgname = a\npkgver = 1\narch = x86_64\nsize = 1\ndatahash = {}\n",
        hex::encode(Sha256::digest(cut))
    );
    let mut c = Vec::new();
    entry(
        &mut c,
        tar::EntryType::Regular,
        ".PKGINFO",
        "",
        info.as_bytes(),
        &[],
    );
    let control = gz(&c);
    let q1: [u8; 20] = Sha1::digest(&control).into();
    let mut bytes = control.clone();
    bytes.extend_from_slice(cut);
    let e = ApkFile::parse(&bytes, &q1).unwrap_err().to_string();
    assert!(
        e.contains("data segment is not a valid gzip stream") && e.contains("truncated"),
        "{e}"
    );

    // No data at all.
    let e = ApkFile::parse(&control, &q1).unwrap_err().to_string();
    assert!(e.contains("datahash") || e.contains("missing"), "{e}");

    // Unknown control entries, missing .PKGINFO and missing datahash.
    let odd = build(false, &data_tar_ok, "", &[(".evil", b"x")]);
    let e = ApkFile::parse(&odd.bytes, &odd.q1).unwrap_err().to_string();
    assert!(
        e.contains("\".evil\"") && e.contains("only .PKGINFO"),
        "{e}"
    );
    let mut c = Vec::new();
    entry(
        &mut c,
        tar::EntryType::Regular,
        ".post-install",
        "",
        b"x",
        &[],
    );
    let control = gz(&c);
    let q1: [u8; 20] = Sha1::digest(&control).into();
    let e = ApkFile::parse(&control, &q1).unwrap_err().to_string();
    assert!(e.contains("no .PKGINFO"), "{e}");
    let mut c = Vec::new();
    entry(
        &mut c,
        tar::EntryType::Regular,
        ".PKGINFO",
        "",
        b"pkgname = a\npkgver = 1\narch = x\nsize = 1\n",
        &[],
    );
    let control = gz(&c);
    let q1: [u8; 20] = Sha1::digest(&control).into();
    let e = ApkFile::parse(&control, &q1).unwrap_err().to_string();
    assert!(e.contains("no datahash"), "{e}");
    let mut c = Vec::new();
    entry(&mut c, tar::EntryType::Directory, "dir/", "", b"", &[]);
    let control = gz(&c);
    let q1: [u8; 20] = Sha1::digest(&control).into();
    let e = ApkFile::parse(&control, &q1).unwrap_err().to_string();
    assert!(
        e.contains("control segment holds /dir is not a regular file"),
        "{e}"
    );
    // A .PKGINFO error keeps its line.
    let bad = build(false, &data_tar_ok, "size = 2\n", &[]);
    let e = ApkFile::parse(&bad.bytes, &bad.q1).unwrap_err().to_string();
    assert!(
        e.contains("control segment is invalid: .PKGINFO line 6"),
        "{e}"
    );
    // Not gzip at all.
    let e = ApkFile::parse(b"PK\x03\x04", &q1).unwrap_err().to_string();
    assert!(e.contains("gzip magic"), "{e}");
    // A corrupt CRC in the control member.
    let mut crc = good().bytes;
    let sig_len = member(&crc, Part::Control, 1 << 20, io::sink()).unwrap();
    let ctl_len = member(&crc[sig_len..], Part::Control, 1 << 20, io::sink()).unwrap();
    crc[sig_len + ctl_len - 8] ^= 1;
    let e = ApkFile::parse(&crc, &good().q1).unwrap_err().to_string();
    assert!(
        e.contains("control segment is not a valid gzip stream"),
        "{e}"
    );
}

#[test]
fn members_are_cut_at_their_real_boundaries() {
    let a = gz(b"first");
    let b = gz(b"second");
    let mut both = a.clone();
    both.extend(&b);
    let mut out = Vec::new();
    assert_eq!(member(&both, Part::Data, 100, &mut out).unwrap(), a.len());
    assert_eq!(out, b"first");
    let e = member(&b, Part::Data, 3, io::sink())
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than 3 bytes"), "{e}");
}

#[test]
fn data_entries_apk_would_not_install_are_refused() {
    let mut t = Vec::new();
    entry(
        &mut t,
        tar::EntryType::Regular,
        ".hidden",
        "",
        b"x",
        &[("APK-TOOLS.checksum.SHA1", sha1_hex(b"x"))],
    );
    t.extend_from_slice(&[0u8; 1024]);
    let b = build(false, &t, "", &[]);
    let a = ApkFile::parse(&b.bytes, &b.q1).unwrap();
    let e = read_all(&a).unwrap_err().to_string();
    assert!(
        e.contains("/.hidden") && e.contains("never installs"),
        "{e}"
    );
    let mut t = Vec::new();
    entry(&mut t, tar::EntryType::Regular, "a/.wh.b", "", b"", &[]);
    t.extend_from_slice(&[0u8; 1024]);
    let b = build(false, &t, "", &[]);
    let a = ApkFile::parse(&b.bytes, &b.q1).unwrap();
    let e = read_all(&a).unwrap_err().to_string();
    assert!(e.contains("whiteout"), "{e}");
    // A symlink whose checksum record does not match its target.
    let mut t = Vec::new();
    entry(
        &mut t,
        tar::EntryType::Symlink,
        "l",
        "x",
        b"",
        &[("APK-TOOLS.checksum.SHA1", sha1_hex(b"y"))],
    );
    t.extend_from_slice(&[0u8; 1024]);
    let b = build(false, &t, "", &[]);
    let a = ApkFile::parse(&b.bytes, &b.q1).unwrap();
    let e = read_all(&a).unwrap_err().to_string();
    assert!(e.contains("/l") && e.contains("symlink's target"), "{e}");
}
