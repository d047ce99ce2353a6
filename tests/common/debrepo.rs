//! An offline Debian archive for the OS-package tests (issue 15), made
//! from real `.deb` files the way a real archive is made: the debs under
//! `pool/main/`, `Packages{,.gz,.xz}` from `apt-ftparchive packages`,
//! `Release` from `apt-ftparchive release`, signed with a throwaway key in a
//! temporary GNUPGHOME (`gpg --clearsign` → `InRelease`, `gpg -abs` →
//! `Release.gpg`), the public key exported binary and armored.
//!
//! The debs come from `.ci/install-deps.sh` (`apt-get download` of a fixed
//! closure into `$IRONHULL_TEST_DEBS/<arch>/`, default
//! `/var/cache/ironhull-test-debs`); [`test_debs`] skips locally or fails in
//! CI when they are missing.
//!
//! Include with `#[path = "common/debrepo.rs"] mod debrepo;` next to
//! `mod common;` and `#[path = "common/http_files.rs"] mod http_files;`.
//! Tests that tamper with the archive must write new files (or use the
//! server's overrides), never edit a pool file in place.

#![allow(dead_code)]

use crate::common;
use crate::http_files::FileServer;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `.ci/install-deps.sh` puts the test debs.
pub const DEFAULT_TEST_DEBS: &str = "/var/cache/ironhull-test-debs";

/// The directory of downloaded debs for `arch`, or None (after a SKIP line;
/// a panic in CI) when it is missing.
pub fn test_debs(arch: &str) -> Option<PathBuf> {
    let root = std::env::var_os("IRONHULL_TEST_DEBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_TEST_DEBS));
    let dir = root.join(arch);
    if dir.join(".complete").is_file() {
        Some(dir)
    } else {
        common::skip_or_fail(&format!(
            "no test debs in {} (run .ci/install-deps.sh, or set IRONHULL_TEST_DEBS)",
            dir.display()
        ));
        None
    }
}

/// The debs in `dir` whose package name (before the first `_`) is one of
/// `names`, sorted; panics when one is missing (the download step and the
/// test disagree).
pub fn pick(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    all.sort();
    let mut out = Vec::new();
    for n in names {
        let found: Vec<_> = all
            .iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|f| f.to_str())
                    .and_then(|f| f.split('_').next())
                    == Some(n)
            })
            .cloned()
            .collect();
        assert!(!found.is_empty(), "no {n}_*.deb in {}", dir.display());
        out.extend(found);
    }
    out
}

/// Every deb in `dir`, sorted.
pub fn all_debs(dir: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    all.sort();
    all
}

/// How to build the archive.
#[derive(Clone, Debug)]
pub struct DebRepoOptions {
    /// A flat repository (`Packages` and `Release` at the root, suite `./`).
    pub flat: bool,
    /// Suite and codename (ignored when flat).
    pub suite: String,
    /// Architectures with a `binary-<arch>` index (arch `all` debs go into
    /// each). Empty: the architectures of the debs.
    pub archs: Vec<String>,
    /// `Valid-Until` as an RFC 2822 date, if any.
    pub valid_until: Option<String>,
    /// gpg `--digest-algo` for the signatures (default gpg's choice).
    pub digest_algo: Option<String>,
}

impl Default for DebRepoOptions {
    fn default() -> Self {
        Self {
            flat: false,
            suite: "bookworm".to_string(),
            archs: Vec::new(),
            valid_until: None,
            digest_algo: None,
        }
    }
}

/// A built, signed archive in a temp dir.
pub struct DebRepo {
    _tmp: tempfile::TempDir,
    /// The archive root (what `url` serves).
    pub root: PathBuf,
    pub opts: DebRepoOptions,
    /// The suite to put in a spec: `bookworm`, or `./` when flat.
    pub suite: String,
    /// Binary (`gpg --export`) and armored public keys.
    pub keyring: PathBuf,
    pub keyring_armored: PathBuf,
    /// Fingerprint of the signing key (upper-case hex).
    pub fingerprint: String,
    pub gnupghome: PathBuf,
    /// The debs as copied into the pool (archive-relative path, source).
    pub debs: Vec<(String, PathBuf)>,
    pub archs: Vec<String>,
}

/// Checks the tools the archive needs; None after a SKIP (panic in CI).
pub fn require_tools() -> Option<()> {
    common::require_tool("apt-ftparchive")?;
    common::require_tool("gpg")?;
    common::require_tool("dpkg-deb")?;
    common::require_tool("xz")?;
    common::require_tool("gzip")?;
    Some(())
}

fn sh(cmd: Command) -> String {
    let r = common::run(cmd);
    r.assert_success();
    r.stdout
}

/// A fresh signing key in a new GNUPGHOME; returns its fingerprint.
pub fn gen_key(gnupghome: &Path, name: &str) -> String {
    gen_key_opts(gnupghome, name, "sign", "never", None)
}

/// A key with explicit usage (`sign`, `cert`), expiry (`never`, `1y`),
/// optionally made at a faked time (`20200101T000000`); its fingerprint.
pub fn gen_key_opts(
    gnupghome: &Path,
    name: &str,
    usage: &str,
    expire: &str,
    faked_time: Option<&str>,
) -> String {
    std::fs::create_dir_all(gnupghome).expect("mkdir gnupghome");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(gnupghome, std::fs::Permissions::from_mode(0o700))
            .expect("chmod gnupghome");
    }
    let mut c = gpg(gnupghome);
    if let Some(t) = faked_time {
        c.args(["--faked-system-time", t]);
    }
    let uid = format!("{name} <{name}@test.invalid>");
    c.args([
        "--passphrase",
        "",
        "--quick-gen-key",
        &uid,
        "ed25519",
        usage,
        expire,
    ]);
    sh(c);
    fingerprint(gnupghome)
}

/// The first primary key fingerprint in `gnupghome`.
pub fn fingerprint(gnupghome: &Path) -> String {
    let mut c = gpg(gnupghome);
    c.args(["--with-colons", "--list-keys"]);
    let out = sh(c);
    out.lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .expect("gpg printed no fingerprint")
        .to_string()
}

/// Adds an ed25519 signing subkey to `fp` (gpg then signs with it).
pub fn add_signing_subkey(gnupghome: &Path, fp: &str) {
    let mut c = gpg(gnupghome);
    c.args([
        "--passphrase",
        "",
        "--quick-add-key",
        fp,
        "ed25519",
        "sign",
        "never",
    ]);
    sh(c);
}

/// Revokes `fp` with the revocation certificate gpg stored when it made it.
pub fn revoke(gnupghome: &Path, fp: &str) {
    let cert = gnupghome.join("openpgp-revocs.d").join(format!("{fp}.rev"));
    let text = std::fs::read_to_string(&cert).expect("read revocation certificate");
    // gpg stores it with a leading `:` so that it is not imported by accident.
    let armored = text.replace(
        ":-----BEGIN PGP PUBLIC KEY BLOCK-----",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----",
    );
    let imp = gnupghome.join("revoke.asc");
    std::fs::write(&imp, armored).expect("write revocation");
    let mut c = gpg(gnupghome);
    c.arg("--import").arg(&imp);
    sh(c);
}

pub fn gpg(gnupghome: &Path) -> Command {
    let mut c = Command::new("gpg");
    c.env("GNUPGHOME", gnupghome).args([
        "--batch",
        "--yes",
        "--quiet",
        "--pinentry-mode",
        "loopback",
    ]);
    c
}

/// Exports the public key of `gnupghome` to `out` (armored or binary).
pub fn export_key(gnupghome: &Path, out: &Path, armored: bool) {
    let mut c = gpg(gnupghome);
    if armored {
        c.arg("--armor");
    }
    c.arg("--output").arg(out).arg("--export");
    sh(c);
}

impl DebRepo {
    /// Copies `debs` into the pool, indexes and signs them.
    pub fn build(debs: &[PathBuf], opts: DebRepoOptions) -> DebRepo {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("archive");
        let gnupghome = tmp.path().join("gnupg");
        std::fs::create_dir_all(root.join("pool/main")).expect("mkdir pool");
        let fingerprint = gen_key(&gnupghome, "ironhull-test-archive");
        let keyring = tmp.path().join("archive-keyring.gpg");
        let keyring_armored = tmp.path().join("archive-keyring.asc");
        export_key(&gnupghome, &keyring, false);
        export_key(&gnupghome, &keyring_armored, true);
        let mut copied = Vec::new();
        let mut archs = opts.archs.clone();
        for d in debs {
            let name = d
                .file_name()
                .and_then(|f| f.to_str())
                .expect("deb file name");
            let rel = format!("pool/main/{name}");
            std::fs::copy(d, root.join(&rel))
                .unwrap_or_else(|e| panic!("copy {}: {e}", d.display()));
            if opts.archs.is_empty() {
                let mut c = Command::new("dpkg-deb");
                c.arg("-f").arg(d).arg("Architecture");
                let a = sh(c).trim().to_string();
                if a != "all" && !archs.contains(&a) {
                    archs.push(a);
                }
            }
            copied.push((rel, d.clone()));
        }
        if archs.is_empty() {
            archs.push("amd64".to_string());
        }
        archs.sort();
        let suite = if opts.flat {
            "./".to_string()
        } else {
            opts.suite.clone()
        };
        let repo = DebRepo {
            _tmp: tmp,
            root,
            opts,
            suite,
            keyring,
            keyring_armored,
            fingerprint,
            gnupghome,
            debs: copied,
            archs,
        };
        repo.reindex();
        repo
    }

    /// The directory holding Release (`dists/<suite>` or the root).
    pub fn release_dir(&self) -> PathBuf {
        if self.opts.flat {
            self.root.clone()
        } else {
            self.root.join("dists").join(&self.opts.suite)
        }
    }

    /// Archive-relative path of Release's directory, with a trailing `/`
    /// (empty for flat), as URL paths (`/dists/bookworm/InRelease`).
    pub fn url_path(&self, file: &str) -> String {
        if self.opts.flat {
            format!("/{file}")
        } else {
            format!("/dists/{}/{file}", self.opts.suite)
        }
    }

    /// Suite-relative path of the Packages file for `arch` (`main/binary-amd64/Packages`).
    pub fn packages_rel(&self, arch: &str) -> String {
        if self.opts.flat {
            "Packages".to_string()
        } else {
            format!("main/binary-{arch}/Packages")
        }
    }

    /// Regenerates every Packages file from the pool, then Release and
    /// the signatures.
    pub fn reindex(&self) {
        let archs: Vec<String> = if self.opts.flat {
            vec![self.archs.join(" ")]
        } else {
            self.archs.clone()
        };
        for arch in &archs {
            let dir = if self.opts.flat {
                self.root.clone()
            } else {
                self.release_dir().join(format!("main/binary-{arch}"))
            };
            std::fs::create_dir_all(&dir).expect("mkdir binary-arch");
            let mut c = Command::new("apt-ftparchive");
            c.current_dir(&self.root);
            if !self.opts.flat {
                c.args(["--arch", arch]);
            }
            c.args(["packages", "pool/main"]);
            let text = sh(c);
            self.write_packages(&dir, text.as_bytes());
        }
        self.resign();
    }

    /// Writes `Packages`, `Packages.gz` and `Packages.xz` into `dir`.
    pub fn write_packages(&self, dir: &Path, text: &[u8]) {
        let p = dir.join("Packages");
        std::fs::write(&p, text).expect("write Packages");
        for (tool, ext) in [("gzip", "gz"), ("xz", "xz")] {
            let out = dir.join(format!("Packages.{ext}"));
            let _ = std::fs::remove_file(&out);
            let mut c = Command::new(tool);
            c.args(["-9", "-k"]).arg(&p);
            if tool == "gzip" {
                c.arg("-n");
            }
            sh(c);
        }
    }

    /// Writes Release (apt-ftparchive release) and signs it with the
    /// archive key: InRelease and Release.gpg.
    pub fn resign(&self) {
        self.write_release();
        self.sign_with(&self.gnupghome);
    }

    /// Runs `apt-ftparchive release` over the release directory.
    pub fn write_release(&self) {
        let dir = self.release_dir();
        for f in ["Release", "InRelease", "Release.gpg"] {
            let _ = std::fs::remove_file(dir.join(f));
        }
        let mut c = Command::new("apt-ftparchive");
        c.current_dir(&dir);
        let mut o = |k: &str, v: &str| {
            c.arg("-o")
                .arg(format!("APT::FTPArchive::Release::{k}={v}"));
        };
        if !self.opts.flat {
            o("Suite", &self.opts.suite);
            o("Codename", &self.opts.suite);
            o("Components", "main");
        }
        o("Origin", "ironhull-test");
        o("Label", "ironhull-test");
        let mut archs = self.archs.clone();
        archs.push("all".to_string());
        o("Architectures", &archs.join(" "));
        if self.opts.flat {
            // Only the Packages files: the pool (and the debs) sit in the same directory.
            c.args(["-o", "APT::FTPArchive::Release::Patterns::=Packages*"]);
        }
        c.args(["release", "."]);
        let mut text = sh(c);
        // apt-ftparchive only computes Valid-Until from the current time
        // (ValidTime), so a past one is written in after Date, before signing.
        if let Some(v) = &self.opts.valid_until {
            let at = text.find("\nMD5Sum:").expect("Release has an MD5Sum list");
            text.insert_str(at, &format!("\nValid-Until: {v}"));
        }
        std::fs::write(dir.join("Release"), text).expect("write Release");
    }

    /// Signs the current Release with the key in `gnupghome`.
    pub fn sign_with(&self, gnupghome: &Path) {
        self.sign_with_args(gnupghome, &[]);
    }

    /// Signs with extra gpg arguments (`--faked-system-time`, `--local-user`):
    /// `InRelease` (clearsigned) and `Release.gpg` (detached, armored).
    pub fn sign_with_args(&self, gnupghome: &Path, extra: &[&str]) {
        let dir = self.release_dir();
        let rel = dir.join("Release");
        for (mode, out) in [("--clearsign", "InRelease"), ("-abs", "Release.gpg")] {
            let mut c = gpg(gnupghome);
            c.args(extra);
            if let Some(d) = &self.opts.digest_algo {
                c.args(["--digest-algo", d]);
            }
            c.arg(mode).arg("--output").arg(dir.join(out)).arg(&rel);
            sh(c);
        }
    }

    /// Serves the archive on 127.0.0.1.
    pub fn serve(&self) -> FileServer {
        FileServer::start(&self.root)
    }

    /// The control fields of every pooled deb, from `dpkg-deb -f`:
    /// (package, version, architecture, archive path, size, sha256).
    pub fn expected(&self) -> Vec<(String, String, String, String, u64, String)> {
        let mut out = Vec::new();
        for (rel, _) in &self.debs {
            let path = self.root.join(rel);
            let mut c = Command::new("dpkg-deb");
            c.arg("-f")
                .arg(&path)
                .args(["Package", "Version", "Architecture"]);
            let text = sh(c);
            let field = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                    .unwrap_or_else(|| panic!("dpkg-deb -f {}: no {k}", path.display()))
                    .to_string()
            };
            let size = std::fs::metadata(&path).expect("stat deb").len();
            out.push((
                field("Package"),
                field("Version"),
                field("Architecture"),
                rel.clone(),
                size,
                common::digest_file(&path),
            ));
        }
        out.sort();
        out
    }
}
