//! The differential witness for ironhull's `.apk` reader and apk database
//! writer: the real `apk` (2.14, from the Alpine minirootfs fixture, run
//! under chroot) verifies and installs packages made by `common/apkgen.rs`,
//! and what it wrote is compared with what ironhull reads from the same
//! bytes: (a) `apk verify` accepts them (format and signature); (b) the
//! tree apk installed equals `ApkFile::read_data`'s entries (path, kind,
//! mode, owner, content, link target, hard-link identity) and the stanza
//! apk wrote in `lib/apk/db/installed` equals `database::stanza` byte for
//! byte; (c) `apk info` on a root holding ironhull's database lists exactly
//! its packages; (d) damaged packages are refused by ironhull with a clear
//! error, and the test records which of them apk refuses too.

#[path = "common/apk.rs"]
mod apk;
#[path = "common/apkgen.rs"]
mod apkgen;
mod common;

use apk::{AlpineChroot, ApkTestKey};
use apkgen::{GenEntry, GenPkg, make_apk, make_parts};
use ironhull::fs::{EntryKind, LayerEvent, ReadOptions};
use ironhull::packages::apk::apk_file::ApkFile;
use ironhull::packages::apk::database::{self, DbPackage, InstalledPath};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The packages of the witness: nested directories, a 0755 binary, a 4755
/// file, a symlink, a hard link, a non-root owner, scripts, relations.
fn packages() -> Vec<GenPkg> {
    let mut a = GenPkg::new("ih-alpha", "1.2.3-r4");
    a.files = vec![
        GenEntry::dir("usr"),
        GenEntry::dir("usr/bin"),
        GenEntry::file("usr/bin/alpha", 0o755, b"#!/bin/true\nalpha\n"),
        GenEntry::file("usr/bin/alpha-suid", 0o4755, b"setuid payload\n"),
        GenEntry::symlink("usr/bin/al", "alpha"),
        GenEntry::hardlink("usr/bin/alpha2", "usr/bin/alpha", 0o755),
        GenEntry::dir("usr/share"),
        GenEntry::dir("usr/share/alpha"),
        GenEntry::dir("usr/share/alpha/deep"),
        GenEntry::file("usr/share/alpha/deep/data.txt", 0o644, &vec![b'x'; 70_000]),
        GenEntry::file("usr/share/alpha/empty", 0o600, b""),
        GenEntry::dir("var"),
        GenEntry::dir("var/lib").owned(0, 0),
        GenEntry::dir("var/lib/alpha").owned(1234, 2345),
        GenEntry::file("var/lib/alpha/state", 0o640, b"state\n").owned(1234, 2345),
    ];
    a.depends = vec!["so:libbeta.so.1".into(), "ih-beta>=1.0".into()];
    a.provides = vec!["cmd:alpha=1.2.3-r4".into()];
    a.replaces = vec!["ih-old".into()];
    a.scripts = vec![
        (".post-install".into(), b"#!/bin/sh\nexit 0\n".to_vec()),
        (".pre-deinstall".into(), b"#!/bin/sh\nexit 0\n".to_vec()),
    ];
    let mut b = GenPkg::new("ih-beta", "1.0-r0");
    b.arch = "noarch".into();
    b.files = vec![
        GenEntry::dir("etc"),
        GenEntry::file("etc/beta.conf", 0o644, b"key = value\n"),
        GenEntry::dir("usr"),
        GenEntry::dir("usr/lib"),
        GenEntry::file("usr/lib/libbeta.so.1", 0o755, b"\x7fELF not really\n"),
        GenEntry::symlink("usr/lib/libbeta.so", "/usr/lib/libbeta.so.1"),
    ];
    b.origin = Some("ih-beta-src".into());
    b.provides = vec!["so:libbeta.so.1=1".into()];
    b.install_if = vec!["ih-alpha".into()];
    b.triggers = vec!["/usr/lib/*".into()];
    b.scripts = vec![(".trigger".into(), b"#!/bin/sh\n".to_vec())];
    vec![a, b]
}

/// What ironhull reads from a package, keyed by path: (kind, mode, uid,
/// gid, content), kind being `dir`, `file`, `symlink -> t`, `link -> t`.
type Tree = BTreeMap<String, (String, u32, u64, u64, Vec<u8>)>;

fn read_ironhull(a: &ApkFile) -> (Tree, Vec<InstalledPath>) {
    let mut tree = Tree::new();
    let mut paths = Vec::new();
    a.read_data(&ReadOptions::default(), |ev, r| {
        let LayerEvent::Entry(e) = ev else {
            panic!("unexpected event {ev:?}")
        };
        let mut body = Vec::new();
        r.read_to_end(&mut body)?;
        let kind = match &e.kind {
            EntryKind::Dir => "dir".to_string(),
            EntryKind::File => "file".to_string(),
            EntryKind::Symlink { target } => format!("symlink -> {target}"),
            EntryKind::Hardlink { target } => format!("link -> {}", target.as_str()),
            k => panic!("unexpected kind {k:?}"),
        };
        paths.push(InstalledPath::from_entry(&e, e.mode));
        tree.insert(
            e.path.as_str().to_string(),
            (kind, e.mode, e.uid, e.gid, body),
        );
        Ok(())
    })
    .unwrap();
    (tree, paths)
}

/// The same view of what apk installed under `root`, for `paths`. Hard
/// links are recognised by inode: `link -> <first name of the inode>`.
fn read_installed(root: &Path, paths: &[String]) -> Tree {
    let mut tree = Tree::new();
    let mut inodes: BTreeMap<u64, String> = BTreeMap::new();
    for p in paths {
        let full = root.join(p);
        let m = std::fs::symlink_metadata(&full).unwrap_or_else(|e| panic!("{p}: {e}"));
        let ft = m.file_type();
        let (kind, body) = if ft.is_dir() {
            ("dir".to_string(), Vec::new())
        } else if ft.is_symlink() {
            let t = std::fs::read_link(&full).unwrap();
            (format!("symlink -> {}", t.display()), Vec::new())
        } else if let Some(first) = inodes.get(&m.ino()) {
            (format!("link -> {first}"), Vec::new())
        } else {
            inodes.insert(m.ino(), p.clone());
            ("file".to_string(), std::fs::read(&full).unwrap())
        };
        // Symlink modes are not kept by Linux (always 0777), as in the tar.
        tree.insert(
            p.clone(),
            (
                kind,
                m.mode() & 0o7777,
                u64::from(m.uid()),
                u64::from(m.gid()),
                body,
            ),
        );
    }
    tree
}

/// The stanza for package `name` in an `installed` file.
fn stanza_of<'a>(db: &'a str, name: &str) -> &'a str {
    db.split_inclusive("\n\n")
        .find(|s| s.lines().any(|l| l == format!("P:{name}")))
        .unwrap_or_else(|| panic!("no stanza for {name} in:\n{db}"))
}

struct Setup {
    chroot: AlpineChroot,
    key: ApkTestKey,
    /// Inside-chroot path of the directory the .apk files are in.
    pkgs_inside: String,
    pkgs_host: std::path::PathBuf,
}

fn setup() -> Option<Setup> {
    let chroot = AlpineChroot::new()?;
    let key = ApkTestKey::generate("ih-witness")?;
    // apk verify and apk add look in the chroot's own keys directory.
    let keys = chroot.root().join("etc/apk/keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(&key.public, keys.join(&key.name)).unwrap();
    let (pkgs_host, pkgs_inside) = chroot.scratch("pkgs");
    Some(Setup {
        chroot,
        key,
        pkgs_inside,
        pkgs_host,
    })
}

impl Setup {
    /// Writes `bytes` as `<name>.apk`; returns its path inside the chroot.
    fn put(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.pkgs_host.join(format!("{name}.apk")), bytes).unwrap();
        format!("{}/{name}.apk", self.pkgs_inside)
    }

    /// A fresh root with the signing key, for `apk add --root`.
    fn root(&self, name: &str) -> (std::path::PathBuf, String) {
        let (host, inside) = self.chroot.scratch(name);
        let keys = host.join("etc/apk/keys");
        std::fs::create_dir_all(&keys).unwrap();
        std::fs::copy(&self.key.public, keys.join(&self.key.name)).unwrap();
        (host, inside)
    }

    fn add(&self, root: &str, files: &[String]) -> common::Run {
        let mut args = vec![
            "add",
            "--root",
            root,
            "--initdb",
            "--no-network",
            "--no-cache",
            "--no-scripts",
            "--quiet",
        ];
        args.extend(files.iter().map(String::as_str));
        self.chroot.apk(&args)
    }
}

#[test]
fn apk_verifies_installs_and_records_what_ironhull_reads() {
    let Some(s) = setup() else { return };
    let pkgs = packages();
    let mut files = Vec::new();
    let mut read = Vec::new();
    for p in &pkgs {
        let (bytes, q1) = make_apk(p, Some(&s.key));
        let path = s.put(&p.name, &bytes);
        // (a) format and signature, by apk itself.
        let v = s.chroot.apk(&["verify", &path]);
        assert!(v.success(), "apk verify {}: {}", p.name, v.describe());
        let a = ApkFile::parse(&bytes, &q1).unwrap();
        assert_eq!(a.signatures, [format!(".SIGN.RSA.{}", s.key.name)]);
        files.push(path);
        read.push(a);
    }
    // (b) install all of them with apk.
    let (root, root_inside) = s.root("root");
    let r = s.add(&root_inside, &files);
    assert!(r.success(), "apk add: {}", r.describe());
    let db = std::fs::read_to_string(root.join("lib/apk/db/installed")).unwrap();
    let mut ours = Vec::new();
    for (p, a) in pkgs.iter().zip(&read) {
        let (tree, paths) = read_ironhull(a);
        let names: Vec<String> = p.files.iter().map(|e| e.path.clone()).collect();
        assert_eq!(
            tree.keys().collect::<Vec<_>>().len(),
            names.len(),
            "{}",
            p.name
        );
        let installed = read_installed(&root, &names);
        for (path, want) in &tree {
            let got = &installed[path];
            // A symlink's mode is 0777 on Linux whatever the tar says.
            assert_eq!(
                got, want,
                "{}: {path} differs between apk's tree and ironhull's read",
                p.name
            );
        }
        let stanza = database::stanza(&DbPackage::of(a), &paths).unwrap();
        assert_eq!(
            stanza_of(&db, &p.name),
            stanza,
            "{}: the installed stanza apk wrote differs from ironhull's",
            p.name
        );
        ours.push(stanza);
    }

    // (c) apk reads ironhull's database.
    let (mine, mine_inside) = s.root("ours");
    std::fs::create_dir_all(mine.join("lib/apk/db")).unwrap();
    std::fs::write(
        mine.join("lib/apk/db/installed"),
        database::append("", &ours).unwrap(),
    )
    .unwrap();
    std::fs::create_dir_all(mine.join("etc/apk")).unwrap();
    std::fs::write(mine.join("etc/apk/world"), "ih-alpha\nih-beta\n").unwrap();
    let info = s.chroot.apk(&["info", "--root", &mine_inside]);
    assert!(info.success(), "apk info: {}", info.describe());
    let mut listed: Vec<&str> = info.stdout.lines().filter(|l| !l.is_empty()).collect();
    listed.sort();
    assert_eq!(listed, ["ih-alpha", "ih-beta"], "{}", info.describe());
    let info = s
        .chroot
        .apk(&["info", "--root", &mine_inside, "-L", "ih-alpha"]);
    assert!(
        info.success() && info.stdout.contains("usr/bin/alpha-suid"),
        "{}",
        info.describe()
    );
}

/// (d) Damaged packages: each is refused by ironhull with an error that
/// says what is wrong; `apk verify` is asked too and its verdict checked
/// against what apk-tools 2.14 is known to do.
#[test]
fn damaged_packages_are_refused() {
    let Some(s) = setup() else { return };
    let p = packages().remove(1);
    let (good, q1) = make_apk(&p, Some(&s.key));
    ApkFile::parse(&good, &q1).unwrap();
    let (sig, control, data) = make_parts(&p, Some(&s.key));
    let at = sig.len() + control.len();

    let mut cases: Vec<(&str, Vec<u8>, &str, bool)> = Vec::new();
    // A flipped byte inside the data member's deflate stream.
    let mut b = good.clone();
    b[at + data.len() / 2] ^= 0x01;
    cases.push(("flipped data byte", b, "datahash", false));
    // A flipped byte in the control member: gzip or Q1 catches it.
    let mut b = good.clone();
    b[sig.len() + control.len() / 2] ^= 0x01;
    cases.push(("flipped control byte", b, "control segment", false));
    // Truncated inside the data.
    let b = good[..good.len() - 40].to_vec();
    cases.push(("truncated", b, "datahash", false));
    // Trailing garbage after the data member.
    let mut b = good.clone();
    b.extend_from_slice(b"trailing garbage");
    cases.push(("trailing garbage", b, "datahash", false));
    for (what, bytes, want, apk_accepts) in cases {
        let e = ApkFile::parse(&bytes, &q1)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"))
            .to_string();
        assert!(e.contains(want), "{what}: {e}");
        let path = s.put(&format!("bad-{}", what.replace(' ', "-")), &bytes);
        let v = s.chroot.apk(&["verify", &path]);
        assert_eq!(
            v.success(),
            apk_accepts,
            "{what}: apk verify {}",
            v.describe()
        );
    }

    // A control segment that is valid but not the one the index signed.
    let mut other = p.clone();
    other.description = "a different description".into();
    let (bytes, _) = make_apk(&other, Some(&s.key));
    let e = ApkFile::parse(&bytes, &q1).unwrap_err().to_string();
    assert!(e.contains("not the package the index signed"), "{e}");

    // A wrong per-file checksum: the chain up to the data holds, the file
    // itself does not.
    let mut wrong = p.clone();
    wrong.wrong_checksum = Some("usr/lib/libbeta.so.1".into());
    let (bytes, q1w) = make_apk(&wrong, Some(&s.key));
    let a = ApkFile::parse(&bytes, &q1w).unwrap();
    let e = a
        .read_data(&ReadOptions::default(), |_, _| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/usr/lib/libbeta.so.1") && e.contains("altered"),
        "{e}"
    );
    let path = s.put("bad-checksum", &bytes);
    let v = s.chroot.apk(&["verify", &path]);
    assert!(
        v.success(),
        "apk verify does not check per-file checksums: {}",
        v.describe()
    );
}

/// Writes the witness packages (signed and unsigned) into
/// `$APK_FUZZ_SEEDS`: how `fuzz/corpus/apk_file` was seeded.
#[test]
#[ignore = "writes fuzz seeds; run with APK_FUZZ_SEEDS=<dir> -- --ignored"]
fn write_fuzz_seeds() {
    let Some(dir) = std::env::var_os("APK_FUZZ_SEEDS").map(std::path::PathBuf::from) else {
        eprintln!("SKIP: write_fuzz_seeds: APK_FUZZ_SEEDS is not set");
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    let key = ApkTestKey::generate("ih-seed");
    for (i, p) in packages().iter().enumerate() {
        let (bytes, _) = make_apk(p, key.as_ref());
        std::fs::write(dir.join(format!("signed-{i}")), bytes).unwrap();
        let (bytes, _) = make_apk(p, None);
        std::fs::write(dir.join(format!("unsigned-{i}")), bytes).unwrap();
    }
}
