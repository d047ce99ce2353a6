//! apk test parts shared by the apk tests: a throwaway RSA key made and
//! used by `openssl` (an implementation independent of the `rsa` crate
//! ironhull verifies with), apk v2 signature segments, and the real
//! `apk` from the Alpine minirootfs fixture, run with `chroot`, as the
//! witness for everything ironhull reads and writes.
//!
//! Include it with `#[path = "common/apk.rs"] mod apk;` next to `mod common;`.

#![allow(dead_code)]

use super::common;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which digest a signature is over: Alpine's indexes use `.SIGN.RSA.`
/// (SHA-1), newer tools `.SIGN.RSA256.` (SHA-256).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigKind {
    Rsa,
    Rsa256,
}

impl SigKind {
    pub fn prefix(self) -> &'static str {
        match self {
            SigKind::Rsa => ".SIGN.RSA.",
            SigKind::Rsa256 => ".SIGN.RSA256.",
        }
    }
    fn openssl_digest(self) -> &'static str {
        match self {
            SigKind::Rsa => "-sha1",
            SigKind::Rsa256 => "-sha256",
        }
    }
}

/// An RSA key pair in a temporary directory: `<dir>/<name>` is the PKIX
/// PEM public key (apk's keys directory layout), `<dir>/private.pem` the
/// private key. `name` ends in `.rsa.pub`, as apk requires.
pub struct ApkTestKey {
    _dir: tempfile::TempDir,
    pub name: String,
    pub private: PathBuf,
    pub public: PathBuf,
}

impl ApkTestKey {
    /// A fresh 2048-bit key named `<stem>-<random>.rsa.pub`. Needs openssl
    /// (skips, or fails in CI, without it).
    pub fn generate(stem: &str) -> Option<Self> {
        common::require_tool("openssl")?;
        let dir = tempfile::tempdir().unwrap();
        let name = format!("{}.rsa.pub", common::unique_name(stem));
        let private = dir.path().join("private.pem");
        let public = dir.path().join(&name);
        let ok = Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(&private)
            .arg("2048")
            .output()
            .unwrap();
        assert!(ok.status.success(), "openssl genrsa: {ok:?}");
        let ok = Command::new("openssl")
            .args(["rsa", "-pubout", "-in"])
            .arg(&private)
            .arg("-out")
            .arg(&public)
            .output()
            .unwrap();
        assert!(ok.status.success(), "openssl rsa -pubout: {ok:?}");
        Some(Self {
            _dir: dir,
            name,
            private,
            public,
        })
    }

    /// A directory holding only this key's public half (a `keyring = "dir/"`).
    pub fn keys_dir(&self, parent: &Path) -> PathBuf {
        let d = parent.join("keys");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(&self.public, d.join(&self.name)).unwrap();
        d
    }

    /// PKCS#1 v1.5 signature of `data` (openssl dgst -sign).
    pub fn sign(&self, data: &[u8], kind: SigKind) -> Vec<u8> {
        let mut child = Command::new("openssl")
            .args(["dgst", kind.openssl_digest(), "-sign"])
            .arg(&self.private)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(data).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "openssl dgst -sign failed");
        out.stdout
    }

    /// The signature segment apk expects in front of a signed stream: one
    /// gzip stream holding a tar entry `.SIGN.<kind>.<keyname>` whose
    /// content is the signature of `signed` (the raw bytes of the gzip
    /// stream(s) that follow), with no end-of-archive blocks (abuild-sign
    /// cuts them, so that the segments concatenate into one tar).
    pub fn signature_segment(&self, signed: &[u8], kind: SigKind) -> Vec<u8> {
        let sig = self.sign(signed, kind);
        let name = format!("{}{}", kind.prefix(), self.name);
        gzip(&tar_segment(&[(name.as_str(), 0o644, sig.as_slice())]))
    }
}

/// A tar of regular files (name, mode, content) with no end-of-archive
/// blocks: one segment of an apk v2 tar stream.
pub fn tar_segment(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, mode, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out
}

/// One gzip stream of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The Alpine minirootfs fixture (x86_64) unpacked into a temporary
/// directory, with its real `apk` run through `chroot`. Needs root (for
/// chroot); skips, or fails in CI, without the fixture or root.
pub struct AlpineChroot {
    dir: tempfile::TempDir,
}

impl AlpineChroot {
    pub fn new() -> Option<Self> {
        let tarball = common::alpine_rootfs("x86_64")?;
        if common::current_uid() != Some(0) {
            common::skip_or_fail(
                "the apk witness runs the fixture's apk with chroot, which needs root",
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "unpacking {}: {ok:?}",
            tarball.display()
        );
        Some(Self { dir })
    }

    /// The root of the unpacked fixture on the host.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A fresh empty directory inside the chroot; returns (host path,
    /// path as seen inside the chroot).
    pub fn scratch(&self, name: &str) -> (PathBuf, String) {
        let inside = format!("/tmp/{}", common::unique_name(name));
        let host = self.dir.path().join(inside.trim_start_matches('/'));
        std::fs::create_dir_all(&host).unwrap();
        (host, inside)
    }

    /// Runs the fixture's `/sbin/apk` with `args` inside the chroot.
    pub fn apk(&self, args: &[&str]) -> common::Run {
        let mut c = Command::new("chroot");
        c.arg(self.dir.path()).arg("/sbin/apk").args(args);
        common::run(c)
    }
}

/// A signed apk repository directory for the tests: `<dir>/<arch>/APKINDEX.tar.gz`
/// made of `index_text` (an APKINDEX), tarred, gzipped and signed with
/// `key` in `kind`. Returns the index file's bytes.
pub fn write_signed_index(
    dir: &Path,
    arch: &str,
    index_text: &str,
    key: &ApkTestKey,
    kind: SigKind,
) -> Vec<u8> {
    let body = signed_part(index_text);
    let mut bytes = key.signature_segment(&body, kind);
    bytes.extend(&body);
    write_index_file(dir, arch, &bytes);
    bytes
}

/// The signed part of an index: one gzip member holding a tar of
/// `DESCRIPTION` and `APKINDEX`, with end-of-archive blocks.
pub fn signed_part(index_text: &str) -> Vec<u8> {
    let mut tar = tar_segment(&[
        ("DESCRIPTION", 0o644, b"ironhull test repository".as_slice()),
        ("APKINDEX", 0o644, index_text.as_bytes()),
    ]);
    tar.extend(std::iter::repeat_n(0u8, 1024));
    gzip(&tar)
}

/// Writes `<dir>/<arch>/APKINDEX.tar.gz`.
pub fn write_index_file(dir: &Path, arch: &str, bytes: &[u8]) {
    let d = dir.join(arch);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("APKINDEX.tar.gz"), bytes).unwrap();
}

/// One APKINDEX stanza. `C:` is made up but distinct per package (the
/// SHA-1 of `name-version`): apk keys packages by it.
pub fn stanza(name: &str, version: &str, extra: &str) -> String {
    use base64::Engine as _;
    use sha1::Digest as _;
    let c = base64::engine::general_purpose::STANDARD
        .encode(sha1::Sha1::digest(format!("{name}-{version}").as_bytes()));
    format!("C:Q1{c}\nP:{name}\nV:{version}\nA:x86_64\nS:1000\nI:2000\nT:{name}\n{extra}\n")
}

impl AlpineChroot {
    /// Copies the repository `repo` (holding `x86_64/APKINDEX.tar.gz`) and
    /// the keys directory `keys` into the chroot, makes an empty apk root
    /// whose installed database is `installed` and world `world`, and runs
    /// `apk add --simulate <args>` against that one repository, offline.
    pub fn simulate_add(
        &self,
        repo: &Path,
        keys: &Path,
        installed: &str,
        world: &str,
        args: &[&str],
    ) -> common::Run {
        let (host, inside) = self.scratch("apkrepo");
        copy_dir(repo, &host.join("repo"));
        copy_dir(keys, &host.join("keys"));
        let root = host.join("root");
        std::fs::create_dir_all(root.join("etc/apk")).unwrap();
        std::fs::create_dir_all(root.join("lib/apk/db")).unwrap();
        std::fs::write(root.join("lib/apk/db/installed"), installed).unwrap();
        std::fs::write(root.join("etc/apk/world"), world).unwrap();
        let (r, k, p) = (
            format!("{inside}/root"),
            format!("{inside}/keys"),
            format!("{inside}/repo"),
        );
        let mut all = vec![
            "--root",
            r.as_str(),
            "--keys-dir",
            k.as_str(),
            "--repository",
            p.as_str(),
            "--no-network",
            "--no-cache",
            "add",
            "--simulate",
        ];
        all.extend(args);
        self.apk(&all)
    }
}

/// `cp -r` of a flat or nested directory.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// The `(name, version)` pairs `apk add --simulate` says it installs.
pub fn simulated_installs(stdout: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.split_once("Installing ").map(|(_, r)| r) else {
            continue;
        };
        if let Some((name, v)) = rest.split_once(" (") {
            out.push((name.to_string(), v.trim_end_matches(')').to_string()));
        }
    }
    out.sort();
    out
}
