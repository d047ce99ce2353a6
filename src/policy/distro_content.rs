//! Distro content: key material that a distribution package ships on purpose.
//!
//! Every Debian image carries `libgnutls30`, whose `libgnutls.so.30` embeds the
//! private keys of its FIPS self-tests; OpenSSL, NSS and others do the same.
//! Those are test vectors, not the user's leaked credentials, and refusing
//! them (SEC-002) would make every Debian base unusable. So a SEC-002 finding
//! becomes the info-level SEC-004, naming the package, when ALL of these hold:
//!
//! 1. the rule is `private-key` (embedded key material). Tokens (AWS, GitHub,
//!    Slack …) are never test vectors of a distro library: they stay SEC-002;
//! 2. the file is an ELF object (`\x7fELF`) under a system code directory
//!    ([`in_scope`]: `/usr/lib*`, `/lib*`, `/usr/bin`, `/usr/sbin`, `/bin`,
//!    `/sbin`, `/usr/libexec`; never `/usr/local`, `/opt`, `/app`, `/etc`,
//!    `/home`, `/root`, `/tmp`, `/var`). A PEM file, a script or a config is
//!    where a real secret sits, whatever a database claims;
//! 3. a package database in the image lists that exact path (directly or
//!    through the usr-merge links `/lib -> usr/lib`, `/bin -> usr/bin` …) with
//!    a checksum that equals the file's bytes, computed while the file
//!    streamed through the scanner: dpkg's `var/lib/dpkg/info/<pkg>.md5sums`
//!    or distroless `var/lib/dpkg/status.d/<pkg>.md5sums` (MD5), or apk's
//!    `lib/apk/db/installed` `Z:Q1…` (SHA-1);
//! 4. both the file and the database come from layers the build did not write
//!    (never an artifact layer, so an artifact can neither be exempted nor
//!    vouch for a base file).
//!
//! Only the secret rules are affected: shells, package managers, caches,
//! setuid bits and capabilities are judged the same whoever owns the file,
//! and SEC-001 (secret file names such as `id_rsa`, `.env`) is never touched.
//!
//! Why this is safe against a crafted base, whose author controls the database
//! too: the secret checks protect the *builder* from shipping their own
//! credentials, which arrive through artifacts, config or files in user
//! places, none of which can be exempted. A base author who wants to ship a
//! key can always hide it (compress or encode it) from any scanner; what the
//! exemption grants them is only to ship it *visibly*, as an info finding
//! naming the file and the package. A wrong checksum, a file outside the
//! scope, or a non-ELF file keeps the critical SEC-002.
//!
//! MD5 and SHA-1 are what the databases record. They are not collision
//! resistant, but a collision needs the attacker to control both contents,
//! and the attacker who could craft one controls the whole base anyway; the
//! check proves the file is the one the database describes, nothing more.

use crate::fs::{ImagePath, MergedTree};
use base64::Engine as _;
use md5::Digest as _;

/// The secret rules that can be distro content (see the module doc, rule 1).
pub const EXEMPTABLE_RULES: &[&str] = &[
    "private-key",
    // Binary (DER) keys: OpenSSL's `/usr/bin/openssl` carries its speed-test
    // keys this way, like libgnutls carries PEM ones.
    "der-private-key",
    "der-rsa-private-key",
    "der-ec-private-key",
];

/// Directories that hold a distribution's compiled code (module doc, rule 2).
const CODE_DIRS: &[&str] = &[
    "usr/lib",
    "usr/lib32",
    "usr/lib64",
    "usr/libx32",
    "usr/libexec",
    "usr/bin",
    "usr/sbin",
    "lib",
    "lib32",
    "lib64",
    "libx32",
    "bin",
    "sbin",
];

/// True when `path` lies below a system code directory.
pub fn in_scope(path: &ImagePath) -> bool {
    let p = path.as_str();
    CODE_DIRS
        .iter()
        .any(|d| p.len() > d.len() && p.starts_with(d) && p.as_bytes().get(d.len()) == Some(&b'/'))
}

/// The checksums package databases record, of one file's whole content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigests {
    pub md5: [u8; 16],
    pub sha1: [u8; 20],
}

/// Hashes a file while it streams, only when it is an in-scope ELF object
/// (decided from the path and the first four bytes), so other files cost
/// nothing.
pub struct DigestSink {
    state: State,
}

enum State {
    Off,
    /// In scope; the first bytes seen, until there are four.
    Undecided(Vec<u8>),
    Hashing(Box<(md5::Md5, sha1::Sha1)>),
}

const ELF_MAGIC: &[u8] = b"\x7fELF";

impl DigestSink {
    pub fn for_path(path: &ImagePath) -> Self {
        Self {
            state: if in_scope(path) {
                State::Undecided(Vec::new())
            } else {
                State::Off
            },
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        match &mut self.state {
            State::Off => {}
            State::Hashing(h) => {
                h.0.update(chunk);
                h.1.update(chunk);
            }
            State::Undecided(head) => {
                let start = |bytes: &[u8]| {
                    if bytes.starts_with(ELF_MAGIC) {
                        let mut h = Box::new((md5::Md5::new(), sha1::Sha1::new()));
                        h.0.update(bytes);
                        h.1.update(bytes);
                        State::Hashing(h)
                    } else {
                        State::Off
                    }
                };
                if head.is_empty() && chunk.len() >= ELF_MAGIC.len() {
                    self.state = start(chunk);
                } else {
                    head.extend_from_slice(chunk);
                    if head.len() >= ELF_MAGIC.len() {
                        let bytes = std::mem::take(head);
                        self.state = start(&bytes);
                    }
                }
            }
        }
    }

    /// The digests of an in-scope ELF file; `None` for anything else.
    pub fn finish(self) -> Option<FileDigests> {
        match self.state {
            State::Hashing(h) => {
                let (m, s) = *h;
                Some(FileDigests {
                    md5: m.finalize().into(),
                    sha1: s.finalize().into(),
                })
            }
            _ => None,
        }
    }
}

/// The package a verified database says owns a file, and which database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub package: String,
    /// `dpkg` or `apk`.
    pub db: &'static str,
}

/// The dpkg checksum files of the merged view: `info/*.md5sums` and
/// distroless `status.d/*.md5sums`, with the layer each came from.
fn dpkg_md5sums(tree: &MergedTree) -> Vec<(String, &[u8], usize)> {
    let mut out = Vec::new();
    for dir in ["var/lib/dpkg/info", "var/lib/dpkg/status.d"] {
        let Ok(d) = ImagePath::parse(dir) else {
            continue;
        };
        for (p, node) in tree.children(&d) {
            let name = p.file_name();
            let Some(stem) = name.strip_suffix(".md5sums") else {
                continue;
            };
            if p.parent().as_ref() != Some(&d) || !node.entry.is_file() {
                continue;
            }
            if let Some(bytes) = tree.content(p) {
                let pkg = stem.split_once(':').map(|(p, _)| p).unwrap_or(stem);
                out.push((pkg.to_string(), bytes, node.layer));
            }
        }
    }
    out
}

/// The paths a database entry may name for the file at `path`: the path
/// itself and, for usr-merged systems, the pre-merge alias (`lib/x` for
/// `usr/lib/x`), which counts only if it really resolves to `path`.
fn aliases(tree: &MergedTree, path: &ImagePath) -> Vec<String> {
    let mut out = vec![path.as_str().to_string()];
    if let Some(rest) = path.as_str().strip_prefix("usr/")
        && let Ok(alias) = ImagePath::parse(rest)
        && tree.resolve(&alias).is_some_and(|(p, _)| &p == path)
    {
        out.push(rest.to_string());
    }
    out
}

/// The owner of the file at `path` whose content has `digests`, according to
/// a package database in `tree` that comes from a layer `trusted` accepts;
/// `None` when no database lists the path with exactly these bytes.
pub fn verified_owner(
    tree: &MergedTree,
    path: &ImagePath,
    digests: &FileDigests,
    trusted: &dyn Fn(usize) -> bool,
) -> Option<Owner> {
    if !in_scope(path) {
        return None;
    }
    let names = aliases(tree, path);
    let md5_hex = hex::encode(digests.md5);
    for (pkg, bytes, layer) in dpkg_md5sums(tree) {
        if !trusted(layer) {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        for line in text.lines() {
            let Some((sum, p)) = line.split_once("  ") else {
                continue;
            };
            let p = p.trim_start_matches('/').trim_end();
            if names.iter().any(|n| n == p) && sum.trim().eq_ignore_ascii_case(&md5_hex) {
                return Some(Owner {
                    package: pkg,
                    db: "dpkg",
                });
            }
        }
    }
    apk_owner(tree, &names, &digests.sha1, trusted)
}

/// apk: `P:` package, `F:` directory, `R:` file, `Z:` `Q1` + base64(SHA-1)
/// of the file named by the preceding `R:`.
fn apk_owner(
    tree: &MergedTree,
    names: &[String],
    sha1: &[u8; 20],
    trusted: &dyn Fn(usize) -> bool,
) -> Option<Owner> {
    let want = format!(
        "Q1{}",
        base64::engine::general_purpose::STANDARD.encode(sha1)
    );
    for db in crate::harden::plan::APK_DBS {
        let Ok(p) = ImagePath::parse(db) else {
            continue;
        };
        let (Some(node), Some(bytes)) = (tree.get(&p), tree.content(&p)) else {
            continue;
        };
        if !trusted(node.layer) {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        let (mut pkg, mut dir, mut file) = (String::new(), String::new(), None::<String>);
        for line in text.lines() {
            if line.is_empty() {
                (pkg, dir, file) = (String::new(), String::new(), None);
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k {
                "P" => pkg = v.to_string(),
                "F" => {
                    dir = v.trim_matches('/').to_string();
                    file = None;
                }
                "R" => {
                    file = Some(if dir.is_empty() {
                        v.to_string()
                    } else {
                        format!("{dir}/{v}")
                    })
                }
                "Z" => {
                    if let Some(f) = file.take()
                        && v == want
                        && names.contains(&f)
                    {
                        return Some(Owner {
                            package: pkg,
                            db: "apk",
                        });
                    }
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::merge::CaptureSet;
    use crate::fs::{Entry, EntryKind};

    fn p(s: &str) -> ImagePath {
        ImagePath::parse(s).unwrap()
    }

    fn digests(bytes: &[u8], path: &str) -> Option<FileDigests> {
        let mut s = DigestSink::for_path(&p(path));
        // Fed in awkward pieces: one byte, then the rest.
        s.feed(&bytes[..1.min(bytes.len())]);
        s.feed(&bytes[1.min(bytes.len())..]);
        s.finish()
    }

    fn tree(files: &[(&str, &[u8], usize)]) -> MergedTree {
        let mut t = MergedTree::with_capture(CaptureSet::standard());
        for (path, content, layer) in files {
            let mut parts = Vec::new();
            for c in p(path).components().collect::<Vec<_>>() {
                parts.push(c.to_string());
                let d = parts.join("/");
                if d.as_str() != *path && t.get(&p(&d)).is_none() {
                    t.insert(*layer, Entry::new(p(&d), EntryKind::Dir, 0o755));
                }
            }
            let mut e = Entry::new(p(path), EntryKind::File, 0o644);
            e.size = content.len() as u64;
            t.insert(*layer, e);
            t.set_content(&p(path), content.to_vec());
        }
        t
    }

    const SO: &[u8] = b"\x7fELF\x02\x01\x01 -----BEGIN RSA PRIVATE KEY----- test vector";
    const LIB: &str = "usr/lib/x86_64-linux-gnu/libgnutls.so.30";

    fn md5sums_line(bytes: &[u8], path: &str) -> Vec<u8> {
        format!("{}  {path}\n", hex::encode(md5::Md5::digest(bytes))).into_bytes()
    }

    #[test]
    fn only_in_scope_elf_files_are_hashed() {
        assert!(digests(SO, LIB).is_some());
        assert!(digests(b"-----BEGIN RSA PRIVATE KEY-----", LIB).is_none());
        assert!(digests(SO, "app/lib.so").is_none());
        assert!(digests(SO, "usr/local/lib/x.so").is_none());
        assert!(digests(SO, "usr/libfoo/x.so").is_none());
        assert!(digests(b"\x7fEL", LIB).is_none(), "too short to be ELF");
        let d = digests(SO, LIB).unwrap();
        assert_eq!(d.md5.to_vec(), md5::Md5::digest(SO).to_vec());
        assert_eq!(d.sha1.to_vec(), sha1::Sha1::digest(SO).to_vec());
    }

    #[test]
    fn dpkg_md5sums_match_and_mismatch() {
        let sums = md5sums_line(SO, LIB);
        let t = tree(&[
            (LIB, SO, 0),
            ("var/lib/dpkg/info/libgnutls30:amd64.md5sums", &sums, 0),
        ]);
        let d = digests(SO, LIB).unwrap();
        let all = |_: usize| true;
        assert_eq!(
            verified_owner(&t, &p(LIB), &d, &all),
            Some(Owner {
                package: "libgnutls30".into(),
                db: "dpkg"
            })
        );
        // Other bytes at the same path: not the package's file.
        let other = digests(b"\x7fELF other bytes", LIB).unwrap();
        assert_eq!(verified_owner(&t, &p(LIB), &other, &all), None);
        // A database from an untrusted (artifact) layer vouches for nothing.
        assert_eq!(verified_owner(&t, &p(LIB), &d, &|l| l != 0), None);
    }

    #[test]
    fn usr_merge_alias_must_really_resolve() {
        let path = "usr/lib/x86_64-linux-gnu/libc.so.6";
        let sums = md5sums_line(SO, "lib/x86_64-linux-gnu/libc.so.6");
        let mut t = tree(&[
            (path, SO, 0),
            ("var/lib/dpkg/info/libc6:amd64.md5sums", &sums, 0),
        ]);
        let d = digests(SO, path).unwrap();
        let all = |_: usize| true;
        // No /lib symlink: the alias does not name this file.
        assert_eq!(verified_owner(&t, &p(path), &d, &all), None);
        t.insert(
            0,
            Entry::new(
                p("lib"),
                EntryKind::Symlink {
                    target: "usr/lib".into(),
                },
                0o777,
            ),
        );
        assert_eq!(
            verified_owner(&t, &p(path), &d, &all).map(|o| o.package),
            Some("libc6".into())
        );
    }

    #[test]
    fn apk_q1_sha1() {
        let z = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(SO));
        let db = format!(
            "P:libcrypto3\nV:3.3.2-r0\nF:usr/lib\nR:libcrypto.so.3\na:0:0:755\nZ:Q1{z}\n\nP:other\nF:usr/lib\nR:x.so\nZ:Q1AAAA\n\n"
        );
        let t = tree(&[
            ("usr/lib/libcrypto.so.3", SO, 0),
            ("lib/apk/db/installed", db.as_bytes(), 0),
        ]);
        let d = digests(SO, "usr/lib/libcrypto.so.3").unwrap();
        assert_eq!(
            verified_owner(&t, &p("usr/lib/libcrypto.so.3"), &d, &|_| true),
            Some(Owner {
                package: "libcrypto3".into(),
                db: "apk"
            })
        );
        // The same checksum claimed for another file name does not count.
        let d2 = digests(SO, "usr/lib/x.so").unwrap();
        assert_eq!(verified_owner(&t, &p("usr/lib/x.so"), &d2, &|_| true), None);
    }

    #[test]
    fn out_of_scope_is_never_owned() {
        let sums = md5sums_line(SO, "app/key.so");
        let t = tree(&[
            ("app/key.so", SO, 0),
            ("var/lib/dpkg/info/evil.md5sums", &sums, 0),
        ]);
        let d = FileDigests {
            md5: md5::Md5::digest(SO).into(),
            sha1: sha1::Sha1::digest(SO).into(),
        };
        assert_eq!(verified_owner(&t, &p("app/key.so"), &d, &|_| true), None);
    }

    // ---- through the audit driver, over real layer blobs ------------------

    use crate::fs::read::tests::T;
    use crate::image::LayerBlob;
    use crate::policy::{Policy, Prepared, audit_image_with};
    use crate::store::blobs::BlobStore;
    use serde_json::json;

    const KEY: &[u8] = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----\n";

    fn elf_with(payload: &[u8]) -> Vec<u8> {
        let mut v = b"\x7fELF\x02\x01\x01\0".to_vec();
        v.extend(std::iter::repeat_n(0u8, 100));
        v.extend_from_slice(payload);
        v.extend(std::iter::repeat_n(0u8, 100));
        v
    }

    use crate::policy::tests::store_layer;

    /// The SEC ids reported for `path` by an audit of `layers`, with the
    /// layers in `prepared` treated as written by the build.
    fn sec_ids(
        store: &BlobStore,
        layers: Vec<LayerBlob>,
        prepared: &Prepared,
        path: &str,
    ) -> Vec<String> {
        let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.to_string()).collect();
        let config = json!({"config": {"User": "10001"}, "rootfs": {"type": "layers", "diff_ids": diff_ids}});
        let img = crate::policy::tests::platform_image(layers, config);
        let r = audit_image_with(&img, store, &Policy::default(), prepared).unwrap();
        let mut ids: Vec<String> = r
            .findings
            .iter()
            .filter(|f| f.path.as_deref() == Some(path) && f.id.starts_with("SEC"))
            .map(|f| {
                assert!(
                    !f.message.contains("MIIEow"),
                    "secret leaked: {}",
                    f.message
                );
                f.id.to_string()
            })
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn audit_exempts_only_verified_in_scope_key_material() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let so = elf_with(KEY);
        let token = elf_with(b" ghp_0123456789abcdefghijklmnopqrstuvwxyzAB ");
        let good = md5sums_line(&so, LIB);
        let mut sums = good.clone();
        sums.extend(md5sums_line(&so, "usr/local/lib/x.so"));
        sums.extend(md5sums_line(&so, "app/key.pem"));
        sums.extend(md5sums_line(KEY, "usr/lib/key.pem"));
        sums.extend(md5sums_line(&token, "usr/lib/tok.so"));
        // A wrong checksum for a planted library.
        sums.extend(b"0123456789abcdef0123456789abcdef  usr/lib/x.so\n");
        let base = store_layer(
            &store,
            &T::new()
                .file_mode(LIB, 0o644, &so)
                .file_mode("usr/lib/x.so", 0o644, &so)
                .file_mode("usr/local/lib/x.so", 0o644, &so)
                .file_mode("usr/lib/key.pem", 0o644, KEY)
                .file_mode("usr/lib/tok.so", 0o644, &token)
                .file_mode("app/key.pem", 0o644, &so)
                .file("var/lib/dpkg/info/libgnutls30:amd64.md5sums", &sums)
                .finish(),
        );
        let none = Prepared::new();
        let ids = |p: &str| sec_ids(&store, vec![base.clone()], &none, p);
        assert_eq!(ids(&format!("/{LIB}")), ["SEC-004"]);
        assert_eq!(ids("/usr/lib/x.so"), ["SEC-002"], "wrong checksum");
        assert_eq!(ids("/usr/local/lib/x.so"), ["SEC-002"], "not distro code");
        assert_eq!(ids("/app/key.pem"), ["SEC-001", "SEC-002"], "user place");
        assert!(
            ids("/usr/lib/key.pem").contains(&"SEC-002".to_string()),
            "not ELF"
        );
        assert_eq!(
            ids("/usr/lib/tok.so"),
            ["SEC-002"],
            "tokens are never test vectors"
        );

        // The exemption can be broken: without the database, SEC-002.
        let bare = store_layer(&store, &T::new().file_mode(LIB, 0o644, &so).finish());
        assert_eq!(
            sec_ids(&store, vec![bare.clone()], &none, &format!("/{LIB}")),
            ["SEC-002"]
        );

        // A layer the build wrote (an artifact) cannot vouch for a base file.
        let artifact = store_layer(
            &store,
            &T::new()
                .file("var/lib/dpkg/info/libgnutls30:amd64.md5sums", &good)
                .finish(),
        );
        let mut prepared = Prepared::new();
        // Its entries include a captured file, so the audit reads it back.
        let mut e = Entry::new(
            p("var/lib/dpkg/info/libgnutls30:amd64.md5sums"),
            EntryKind::File,
            0o644,
        );
        e.size = good.len() as u64;
        prepared.insert(
            artifact.digest.clone(),
            crate::policy::PreparedLayer {
                entries: vec![e],
                verdicts: Default::default(),
            },
        );
        assert_eq!(
            sec_ids(
                &store,
                vec![bare.clone(), artifact.clone()],
                &prepared,
                &format!("/{LIB}")
            ),
            ["SEC-002"]
        );
        // The same layer as part of the base does vouch.
        assert_eq!(
            sec_ids(&store, vec![bare, artifact], &none, &format!("/{LIB}")),
            ["SEC-004"]
        );
    }
}
