//! apk's installed database (`lib/apk/db/installed`): one stanza per
//! installed package, byte for byte what apk-tools 2.14 writes
//! (`apk_db_write_fdb` and `apk_pkg_write_index_header`), so that `apk`
//! tools, scanners (trivy, syft) and ironhull's own audit read an image
//! whose packages ironhull installed exactly as if apk had.
//!
//! A stanza is the package's index header (`C: P: V: A: S: I: T: U: L:`,
//! then `o: m: t: c: k:` when set, `D: p: i:` when non-empty), `r:`/`q:`
//! for replaces, then for each directory the package owns, in the order its
//! data tar first names it, `F:<dir>` (plus `M:uid:gid:mode` unless it is
//! root's 0755) and for each file in it `R:<name>` (plus `a:uid:gid:mode`
//! unless root's 0644) and `Z:Q1<base64 sha1>`; a blank line ends it.
//!
//! The modes are the ones actually installed: ironhull's installer may
//! drop setuid bits apk would have kept, and the database must show the
//! file as it is, so the caller passes final modes, not the tar's.

use super::apk_file::{ApkFile, q1_string};
use super::pkginfo::PkgInfo;
use crate::fs::{Entry, EntryKind, ImagePath};
use std::fmt::Write as _;

/// What the header of a stanza is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbPackage {
    /// The control segment's SHA-1 (`C:`).
    pub q1: [u8; 20],
    /// Size of the `.apk` file (`S:`).
    pub file_size: u64,
    pub info: PkgInfo,
}

impl DbPackage {
    pub fn of(apk: &ApkFile) -> DbPackage {
        DbPackage {
            q1: apk.q1,
            file_size: apk.size,
            info: apk.pkginfo.clone(),
        }
    }
}

/// Owner and permission bits of an installed path (apk's `acl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acl {
    pub uid: u64,
    pub gid: u64,
    /// Permission bits, setuid/setgid/sticky included (`& 0o7777`).
    pub mode: u32,
}

const DEFAULT_DIR: Acl = Acl {
    uid: 0,
    gid: 0,
    mode: 0o755,
};
const DEFAULT_FILE: Acl = Acl {
    uid: 0,
    gid: 0,
    mode: 0o644,
};

/// One path the installer wrote for the package, in data-tar order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledPath {
    pub path: ImagePath,
    pub kind: InstalledKind,
    /// As installed (after any hardening of the mode).
    pub acl: Acl,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstalledKind {
    Dir,
    /// A regular file or symlink, with its verified `Entry::apk_sha1`.
    File {
        sha1: Option<[u8; 20]>,
    },
    /// A hard link: apk records the SHA-1 of its target, which must be an
    /// earlier path of the same package.
    Hardlink {
        target: ImagePath,
    },
    /// A device or fifo: apk records no checksum for it.
    Special,
}

impl InstalledPath {
    /// The path as the data tar gave it (`Entry` from
    /// [`ApkFile::read_data`]), with `mode` as installed.
    pub fn from_entry(e: &Entry, mode: u32) -> InstalledPath {
        let kind = match &e.kind {
            EntryKind::Dir => InstalledKind::Dir,
            EntryKind::File | EntryKind::Symlink { .. } => InstalledKind::File { sha1: e.apk_sha1 },
            EntryKind::Hardlink { target } => InstalledKind::Hardlink {
                target: target.clone(),
            },
            EntryKind::CharDevice { .. } | EntryKind::BlockDevice { .. } | EntryKind::Fifo => {
                InstalledKind::Special
            }
        };
        InstalledPath {
            path: e.path.clone(),
            kind,
            acl: Acl {
                uid: e.uid,
                gid: e.gid,
                mode: mode & 0o7777,
            },
        }
    }
}

/// Why a stanza cannot be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    #[error(
        "{package}: {path} lies in {dir}, which the package's data lists no directory entry for (apk refuses such a file: \"no dirent in archive\")"
    )]
    NoDirEntry {
        package: String,
        path: String,
        dir: String,
    },
    #[error(
        "{package}: hard link {path} points to {target}, which the package did not install before it"
    )]
    LinkTarget {
        package: String,
        path: String,
        target: String,
    },
    #[error(
        "{package}: {what} {value:?} contains a newline, which would break apk's line-based database"
    )]
    Newline {
        package: String,
        what: &'static str,
        value: String,
    },
    #[error("the base image's apk database already lists {0}; a package is installed once")]
    AlreadyInstalled(String),
}

struct Dir {
    name: String,
    acl: Acl,
    files: Vec<(String, Acl, Option<[u8; 20]>)>,
}

/// The stanza apk 2.14 would write for `pkg` after installing `paths`.
pub fn stanza(pkg: &DbPackage, paths: &[InstalledPath]) -> Result<String, DbError> {
    let info = &pkg.info;
    let package = info.shown();
    let mut dirs: Vec<Dir> = Vec::new();
    for p in paths {
        let full = p.path.as_str();
        if p.kind == InstalledKind::Dir {
            match dirs.iter_mut().find(|d| d.name == full) {
                Some(d) => d.acl = p.acl,
                None => dirs.push(Dir {
                    name: full.to_string(),
                    acl: p.acl,
                    files: Vec::new(),
                }),
            }
            continue;
        }
        let dir = p.path.parent().unwrap_or_default();
        let name = p.path.file_name().to_string();
        let sha1 = match &p.kind {
            InstalledKind::File { sha1 } => *sha1,
            InstalledKind::Special => None,
            InstalledKind::Hardlink { target } => {
                let tdir = target.parent().unwrap_or_default();
                dirs.iter()
                    .find(|d| d.name == tdir.as_str())
                    .and_then(|d| d.files.iter().find(|f| f.0 == target.file_name()))
                    .map(|f| f.2)
                    .ok_or_else(|| DbError::LinkTarget {
                        package: package.clone(),
                        path: p.path.to_abs(),
                        target: target.to_abs(),
                    })?
            }
            InstalledKind::Dir => None,
        };
        let idx = match dirs.iter().position(|d| d.name == dir.as_str()) {
            Some(i) => i,
            // A file at the top creates the root directory's instance.
            None if dir.is_root() => {
                dirs.push(Dir {
                    name: String::new(),
                    acl: DEFAULT_DIR,
                    files: Vec::new(),
                });
                dirs.len() - 1
            }
            None => {
                return Err(DbError::NoDirEntry {
                    package,
                    path: p.path.to_abs(),
                    dir: dir.to_abs(),
                });
            }
        };
        let files = &mut dirs[idx].files;
        match files.iter_mut().find(|f| f.0 == name) {
            Some(f) => *f = (name, p.acl, sha1),
            None => files.push((name, p.acl, sha1)),
        }
    }

    for (what, value) in [
        ("pkgdesc", &info.pkgdesc),
        ("url", &info.url),
        ("license", &info.license),
    ] {
        if value.contains('\n') {
            return Err(DbError::Newline {
                package,
                what,
                value: value.clone(),
            });
        }
    }
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "C:{}\nP:{}\nV:{}\nA:{}\nS:{}\nI:{}\nT:{}\nU:{}\nL:{}\n",
        q1_string(&pkg.q1),
        info.pkgname,
        info.pkgver,
        info.arch,
        pkg.file_size,
        info.size,
        info.pkgdesc,
        info.url,
        info.license
    );
    if let Some(v) = &info.origin {
        let _ = writeln!(s, "o:{v}");
    }
    if let Some(v) = &info.maintainer {
        let _ = writeln!(s, "m:{v}");
    }
    if let Some(v) = info.builddate.filter(|v| *v != 0) {
        let _ = writeln!(s, "t:{v}");
    }
    if let Some(v) = &info.commit {
        let _ = writeln!(s, "c:{v}");
    }
    if let Some(v) = info.provider_priority.filter(|v| *v != 0) {
        let _ = writeln!(s, "k:{v}");
    }
    for (field, deps) in [
        ("D", &info.depends),
        ("p", &info.provides),
        ("i", &info.install_if),
        ("r", &info.replaces),
    ] {
        if !deps.is_empty() {
            let _ = writeln!(s, "{field}:{}", deps.join(" "));
        }
    }
    if let Some(v) = info.replaces_priority.filter(|v| *v != 0) {
        let _ = writeln!(s, "q:{v}");
    }
    for d in &dirs {
        let _ = writeln!(s, "F:{}", d.name);
        if d.acl != DEFAULT_DIR {
            push_acl(&mut s, 'M', d.acl);
        }
        for (name, acl, sha1) in &d.files {
            let _ = writeln!(s, "R:{name}");
            if *acl != DEFAULT_FILE {
                push_acl(&mut s, 'a', *acl);
            }
            if let Some(h) = sha1 {
                let _ = writeln!(s, "Z:{}", q1_string(h));
            }
        }
    }
    s.push('\n');
    Ok(s)
}

fn push_acl(s: &mut String, field: char, acl: Acl) {
    let _ = writeln!(s, "{field}:{}:{}:{:o}", acl.uid, acl.gid, acl.mode);
}

/// The `P:` names a database lists.
pub fn package_names(db: &str) -> Vec<&str> {
    db.lines().filter_map(|l| l.strip_prefix("P:")).collect()
}

/// `base` (the base image's `installed`, possibly empty) with `stanzas`
/// added after it. A package the base already lists is refused: apk keeps
/// one record per name, and two would leave the second unreadable.
pub fn append(base: &str, stanzas: &[String]) -> Result<String, DbError> {
    let have = package_names(base);
    let mut out = base.to_string();
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
    }
    let mut added: Vec<&str> = Vec::new();
    for st in stanzas {
        for name in package_names(st) {
            if have.contains(&name) || added.contains(&name) {
                return Err(DbError::AlreadyInstalled(name.to_string()));
            }
            added.push(name);
        }
        out.push_str(st);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImagePath {
        ImagePath::parse(s).unwrap()
    }

    fn acl(uid: u64, gid: u64, mode: u32) -> Acl {
        Acl { uid, gid, mode }
    }

    fn pkg() -> DbPackage {
        DbPackage {
            q1: [0u8; 20],
            file_size: 1234,
            info: PkgInfo {
                pkgname: "hello".into(),
                pkgver: "1.0-r0".into(),
                arch: "x86_64".into(),
                size: 8192,
                pkgdesc: "Says hello".into(),
                url: "https://example.org/".into(),
                license: "MIT".into(),
                origin: Some("hello".into()),
                maintainer: Some("M <m@example.org>".into()),
                builddate: Some(1_700_000_000),
                commit: Some("abc".into()),
                depends: vec!["so:libc.musl-x86_64.so.1".into(), "busybox".into()],
                provides: vec!["cmd:hello=1.0-r0".into()],
                replaces: vec!["old".into()],
                replaces_priority: Some(3),
                provider_priority: Some(0),
                ..PkgInfo::default()
            },
        }
    }

    #[test]
    fn writes_apks_field_order_and_acl_rules() {
        let h1 = [1u8; 20];
        let paths = vec![
            InstalledPath {
                path: p("usr"),
                kind: InstalledKind::Dir,
                acl: acl(0, 0, 0o755),
            },
            InstalledPath {
                path: p("usr/bin"),
                kind: InstalledKind::Dir,
                acl: acl(0, 0, 0o755),
            },
            InstalledPath {
                path: p("usr/bin/hello"),
                kind: InstalledKind::File { sha1: Some(h1) },
                acl: acl(0, 0, 0o755),
            },
            InstalledPath {
                path: p("usr/bin/su"),
                kind: InstalledKind::File { sha1: Some(h1) },
                acl: acl(0, 0, 0o4755),
            },
            InstalledPath {
                path: p("var"),
                kind: InstalledKind::Dir,
                acl: acl(100, 101, 0o750),
            },
            InstalledPath {
                path: p("var/data"),
                kind: InstalledKind::File { sha1: Some(h1) },
                acl: acl(100, 101, 0o644),
            },
            InstalledPath {
                path: p("usr/bin/hi"),
                kind: InstalledKind::Hardlink {
                    target: p("usr/bin/hello"),
                },
                acl: acl(0, 0, 0o755),
            },
            InstalledPath {
                path: p("usr/plain"),
                kind: InstalledKind::File { sha1: None },
                acl: acl(0, 0, 0o644),
            },
            InstalledPath {
                path: p("top"),
                kind: InstalledKind::Special,
                acl: acl(0, 0, 0o644),
            },
        ];
        let got = stanza(&pkg(), &paths).unwrap();
        let z = q1_string(&h1);
        let want = format!(
            "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:hello\nV:1.0-r0\nA:x86_64\nS:1234\nI:8192\n\
             T:Says hello\nU:https://example.org/\nL:MIT\no:hello\nm:M <m@example.org>\n\
             t:1700000000\nc:abc\nD:so:libc.musl-x86_64.so.1 busybox\np:cmd:hello=1.0-r0\n\
             r:old\nq:3\n\
             F:usr\nR:plain\n\
             F:usr/bin\nR:hello\na:0:0:755\nZ:{z}\nR:su\na:0:0:4755\nZ:{z}\nR:hi\na:0:0:755\nZ:{z}\n\
             F:var\nM:100:101:750\nR:data\na:100:101:644\nZ:{z}\n\
             F:\nR:top\n\n"
        );
        assert_eq!(got, want);
    }

    #[test]
    fn files_without_a_listed_directory_and_dangling_links_are_refused() {
        let f = InstalledPath {
            path: p("a/b"),
            kind: InstalledKind::File { sha1: None },
            acl: DEFAULT_FILE,
        };
        let e = stanza(&pkg(), &[f]).unwrap_err().to_string();
        assert!(
            e.contains("/a/b lies in /a") && e.contains("no dirent"),
            "{e}"
        );
        let l = InstalledPath {
            path: p("l"),
            kind: InstalledKind::Hardlink { target: p("x") },
            acl: DEFAULT_FILE,
        };
        let e = stanza(&pkg(), &[l]).unwrap_err().to_string();
        assert!(e.contains("hard link /l points to /x"), "{e}");
        let mut bad = pkg();
        bad.info.pkgdesc = "a\nP:evil".into();
        let e = stanza(&bad, &[]).unwrap_err().to_string();
        assert!(e.contains("newline"), "{e}");
    }

    #[test]
    fn append_keeps_the_base_and_refuses_a_second_record() {
        let one = stanza(&pkg(), &[]).unwrap();
        let base = "C:Q1x\nP:musl\nV:1\n\n";
        let db = append(base, std::slice::from_ref(&one)).unwrap();
        assert_eq!(db, format!("{base}{one}"));
        assert_eq!(package_names(&db), ["musl", "hello"]);
        assert_eq!(append("P:musl\nV:1\n", &[]).unwrap(), "P:musl\nV:1\n\n");
        assert_eq!(append("", std::slice::from_ref(&one)).unwrap(), one);
        let e = append(&db, std::slice::from_ref(&one)).unwrap_err();
        assert_eq!(e, DbError::AlreadyInstalled("hello".into()));
        let e = append("", &[one.clone(), one]).unwrap_err();
        assert_eq!(e, DbError::AlreadyInstalled("hello".into()));
    }
}
