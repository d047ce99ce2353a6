//! A generator of real apk v2 packages, written the way abuild writes
//! them, for the apk tests: a data tar whose every regular file and symlink
//! carries the PAX record `APK-TOOLS.checksum.SHA1` (and every regular file
//! abuild-tar's legacy checksum in its linkname field), ending with
//! end-of-archive blocks; a control tar (`.PKGINFO` with `datahash`, the
//! install scripts) with no end-of-archive blocks; and, when a key is
//! given, a signature segment over the control member, signed by openssl.
//! Each part is its own gzip stream, concatenated in that order.
//!
//! Include it with `#[path = "common/apkgen.rs"] mod apkgen;` next to
//! `mod common;` and `#[path = "common/apk.rs"] mod apk;`.

#![allow(dead_code)]

use super::apk::{ApkTestKey, SigKind, gzip, tar_segment};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

/// What one data entry is.
#[derive(Clone, Debug)]
pub enum GenKind {
    Dir,
    File(Vec<u8>),
    Symlink(String),
    /// A hard link to an earlier path of the package (no leading slash).
    Hardlink(String),
}

/// One data entry (path without a leading slash).
#[derive(Clone, Debug)]
pub struct GenEntry {
    pub path: String,
    pub kind: GenKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

impl GenEntry {
    pub fn dir(path: &str) -> Self {
        Self::with(path, GenKind::Dir, 0o755)
    }
    pub fn file(path: &str, mode: u32, content: &[u8]) -> Self {
        Self::with(path, GenKind::File(content.to_vec()), mode)
    }
    pub fn symlink(path: &str, target: &str) -> Self {
        Self::with(path, GenKind::Symlink(target.into()), 0o777)
    }
    /// A hard link; give it the target's mode and owner (real tars do).
    pub fn hardlink(path: &str, target: &str, mode: u32) -> Self {
        Self::with(path, GenKind::Hardlink(target.into()), mode)
    }
    pub fn owned(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }
    fn with(path: &str, kind: GenKind, mode: u32) -> Self {
        Self {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
        }
    }
}

/// A package to generate.
#[derive(Clone, Debug)]
pub struct GenPkg {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub description: String,
    pub url: String,
    pub license: String,
    pub origin: Option<String>,
    pub maintainer: Option<String>,
    pub commit: Option<String>,
    pub builddate: u64,
    pub files: Vec<GenEntry>,
    pub depends: Vec<String>,
    pub provides: Vec<String>,
    pub install_if: Vec<String>,
    pub replaces: Vec<String>,
    pub triggers: Vec<String>,
    /// (name, content): `.post-install`, `.trigger`, …
    pub scripts: Vec<(String, Vec<u8>)>,
    /// Write this wrong SHA-1 record for the file at this path (a negative).
    pub wrong_checksum: Option<String>,
}

impl GenPkg {
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            arch: "x86_64".into(),
            description: format!("{name}, generated for ironhull's tests"),
            url: "https://example.org/ironhull".into(),
            license: "MIT".into(),
            origin: Some(name.into()),
            maintainer: Some("Ironhull Tests <tests@example.org>".into()),
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            builddate: 1_700_000_000,
            files: Vec::new(),
            depends: Vec::new(),
            provides: Vec::new(),
            install_if: Vec::new(),
            replaces: Vec::new(),
            triggers: Vec::new(),
            scripts: Vec::new(),
            wrong_checksum: None,
        }
    }
}

/// One ustar header block for `name` (dirs get a trailing `/`).
fn header(e: &GenEntry, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = tar::Header::new_ustar();
    let name = if matches!(e.kind, GenKind::Dir) {
        format!("{}/", e.path)
    } else {
        e.path.clone()
    };
    h.set_path(&name).unwrap();
    h.set_mode(e.mode);
    h.set_uid(e.uid);
    h.set_gid(e.gid);
    h.set_mtime(1_700_000_000);
    h.set_size(size);
    h.set_entry_type(match e.kind {
        GenKind::Dir => tar::EntryType::Directory,
        GenKind::File(_) => tar::EntryType::Regular,
        GenKind::Symlink(_) => tar::EntryType::Symlink,
        GenKind::Hardlink(_) => tar::EntryType::Link,
    });
    if e.uid == 0 {
        h.set_username("root").unwrap();
    }
    if e.gid == 0 {
        h.set_groupname("root").unwrap();
    }
    assert!(link.len() <= 100, "link too long for the generator");
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_cksum();
    let mut out = [0u8; 512];
    out.copy_from_slice(h.as_bytes());
    out
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// A PAX header holding one `APK-TOOLS.checksum.SHA1` record, as
/// abuild-tar writes it.
fn pax_checksum(out: &mut Vec<u8>, sha1: &[u8]) {
    let rec = {
        let body = format!(" APK-TOOLS.checksum.SHA1={}\n", hex::encode(sha1));
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        format!("{len}{body}")
    };
    let mut h = tar::Header::new_ustar();
    h.set_path("PaxHeader").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(rec.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(rec.as_bytes());
    pad(out);
}

/// abuild-tar's legacy checksum in a regular file's linkname field.
fn legacy_linkname(sha1: &[u8]) -> Vec<u8> {
    let mut l = b"\0\0\0APK2".to_vec();
    l.extend_from_slice(&64u16.to_le_bytes()); // NID_sha1
    l.extend_from_slice(&20u16.to_le_bytes());
    l.extend_from_slice(sha1);
    l
}

/// The data tar, with end-of-archive blocks.
pub fn data_tar(p: &GenPkg) -> Vec<u8> {
    let mut out = Vec::new();
    for e in &p.files {
        match &e.kind {
            GenKind::Dir => out.extend_from_slice(&header(e, 0, b"")),
            GenKind::File(content) => {
                let mut sum = Sha1::digest(content).to_vec();
                if p.wrong_checksum.as_deref() == Some(e.path.as_str()) {
                    sum[0] ^= 0xff;
                }
                pax_checksum(&mut out, &sum);
                out.extend_from_slice(&header(e, content.len() as u64, &legacy_linkname(&sum)));
                out.extend_from_slice(content);
                pad(&mut out);
            }
            GenKind::Symlink(target) => {
                pax_checksum(&mut out, &Sha1::digest(target.as_bytes()));
                out.extend_from_slice(&header(e, 0, target.as_bytes()));
            }
            GenKind::Hardlink(target) => {
                out.extend_from_slice(&header(e, 0, target.as_bytes()));
            }
        }
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// The installed size abuild writes (`size = `): the sum of file sizes.
fn installed_size(p: &GenPkg) -> u64 {
    p.files
        .iter()
        .map(|e| match &e.kind {
            GenKind::File(c) => c.len() as u64,
            _ => 0,
        })
        .sum()
}

/// `.PKGINFO` for `p` with `datahash` over `data_gz`.
pub fn pkginfo(p: &GenPkg, data_gz: &[u8]) -> String {
    let mut s = String::from("# Generated by ironhull's apk test generator\n");
    let mut kv = |k: &str, v: &str| {
        s.push_str(&format!("{k} = {v}\n"));
    };
    kv("pkgname", &p.name);
    kv("pkgver", &p.version);
    kv("pkgdesc", &p.description);
    kv("url", &p.url);
    kv("builddate", &p.builddate.to_string());
    kv("packager", "Ironhull Tests <tests@example.org>");
    kv("size", &installed_size(p).to_string());
    kv("arch", &p.arch);
    if let Some(o) = &p.origin {
        kv("origin", o);
    }
    if let Some(c) = &p.commit {
        kv("commit", c);
    }
    if let Some(m) = &p.maintainer {
        kv("maintainer", m);
    }
    kv("license", &p.license);
    for r in &p.replaces {
        kv("replaces", r);
    }
    if !p.triggers.is_empty() {
        kv("triggers", &p.triggers.join(" "));
    }
    for d in &p.provides {
        kv("provides", d);
    }
    for d in &p.depends {
        kv("depend", d);
    }
    if !p.install_if.is_empty() {
        kv("install_if", &p.install_if.join(" "));
    }
    kv("datahash", &hex::encode(Sha256::digest(data_gz)));
    s
}

/// The three parts of a package, raw: (signature segment or empty,
/// control member, data member).
pub fn make_parts(p: &GenPkg, key: Option<&ApkTestKey>) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let data_gz = gzip(&data_tar(p));
    let info = pkginfo(p, &data_gz);
    let mut control: Vec<(&str, u32, &[u8])> = vec![(".PKGINFO", 0o644, info.as_bytes())];
    for (n, c) in &p.scripts {
        control.push((n.as_str(), 0o755, c.as_slice()));
    }
    let control_gz = gzip(&tar_segment(&control));
    let sig = key
        .map(|k| k.signature_segment(&control_gz, SigKind::Rsa))
        .unwrap_or_default();
    (sig, control_gz, data_gz)
}

/// The package's bytes and its Q1 (SHA-1 of the control member), which
/// an APKINDEX would list as `C:Q1<base64>`.
pub fn make_apk(p: &GenPkg, key: Option<&ApkTestKey>) -> (Vec<u8>, [u8; 20]) {
    let (sig, control, data) = make_parts(p, key);
    let q1: [u8; 20] = Sha1::digest(&control).into();
    let mut out = sig;
    out.extend_from_slice(&control);
    out.extend_from_slice(&data);
    (out, q1)
}
