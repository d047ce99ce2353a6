//! Which package database a base keeps, and whether the spec's
//! repositories fit it. An Alpine base takes apk packages; a Debian,
//! distroless or empty base (ironhull's `static`) takes deb packages. A
//! mix would give an image whose packages link against a C library that
//! is not there, and whose database no scanner reads, so it is refused
//! before anything is fetched.

use crate::fs::{ImagePath, MergedTree};
use crate::spec::packages::RepoKind;

/// apk's installed database: Alpine keeps it in `lib/apk/db`, newer apk
/// (and apko) in `usr/lib/apk/db`, linked from `lib/apk`.
pub const APK_INSTALLED: [&str; 2] = ["lib/apk/db/installed", "usr/lib/apk/db/installed"];

/// The package database a base has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaseDb {
    /// apk's installed database, at this path (symlinks resolved).
    Apk(ImagePath),
    /// dpkg's `var/lib/dpkg/status` or distroless `status.d/`.
    Dpkg,
    /// No package database: a scratch-like or built-in base.
    Empty,
}

/// The database `base` keeps.
pub fn of(base: &MergedTree) -> BaseDb {
    for p in APK_INSTALLED {
        if let Ok(p) = ImagePath::parse(p)
            && let Some((real, n)) = base.resolve(&p)
            && n.entry.is_file()
        {
            return BaseDb::Apk(real);
        }
    }
    let dpkg = ["var/lib/dpkg/status", "var/lib/dpkg/status.d"];
    if dpkg
        .iter()
        .any(|p| ImagePath::parse(p).is_ok_and(|p| base.resolve(&p).is_some()))
    {
        return BaseDb::Dpkg;
    }
    BaseDb::Empty
}

/// The repositories' kind does not fit the base.
#[derive(Debug, thiserror::Error)]
#[error("[[repositories]] are kind = \"{kind}\", but the base {has}: {fix}")]
pub struct KindMismatch {
    pub kind: &'static str,
    pub has: String,
    pub fix: &'static str,
}

/// Checks that repositories of `kind` fit `base`.
pub fn check(kind: RepoKind, base: &MergedTree) -> Result<(), KindMismatch> {
    match (kind, of(base)) {
        (RepoKind::Apk, BaseDb::Apk(_)) | (RepoKind::Deb, BaseDb::Dpkg | BaseDb::Empty) => Ok(()),
        (RepoKind::Deb, BaseDb::Apk(p)) => Err(KindMismatch {
            kind: "deb",
            has: format!("keeps an apk database (/{})", p.as_str()),
            fix: "Debian packages need glibc and a dpkg database; use kind = \"apk\" repositories for an Alpine base, or a Debian, distroless or `static` base",
        }),
        (RepoKind::Apk, db) => Err(KindMismatch {
            kind: "apk",
            has: match db {
                BaseDb::Dpkg => "keeps a dpkg database (/var/lib/dpkg)".into(),
                _ => "has no apk database (/lib/apk/db/installed)".into(),
            },
            fix: "apk packages need musl and an apk database; use an Alpine base (alpine:…, or an Alpine rootfs), or kind = \"deb\" repositories",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{Entry, EntryKind};

    fn tree(files: &[&str]) -> MergedTree {
        let mut t = MergedTree::new();
        for f in files {
            let p = ImagePath::parse(f).unwrap();
            let mut anc = Vec::new();
            let mut q = p.parent();
            while let Some(a) = q {
                if a.is_root() {
                    break;
                }
                q = a.parent();
                anc.push(a);
            }
            for a in anc.into_iter().rev() {
                t.insert(0, Entry::new(a, EntryKind::Dir, 0o755));
            }
            t.insert(0, Entry::new(p, EntryKind::File, 0o644));
        }
        t
    }

    #[test]
    fn kinds_fit_their_bases_only() {
        let alpine = tree(&["lib/apk/db/installed"]);
        let debian = tree(&["var/lib/dpkg/status"]);
        let distroless = tree(&["var/lib/dpkg/status.d/libc6"]);
        let empty = tree(&["etc/passwd"]);
        assert!(matches!(of(&alpine), BaseDb::Apk(_)));
        assert_eq!(of(&distroless), BaseDb::Dpkg);
        assert!(check(RepoKind::Apk, &alpine).is_ok());
        assert!(check(RepoKind::Deb, &debian).is_ok());
        assert!(check(RepoKind::Deb, &distroless).is_ok());
        assert!(check(RepoKind::Deb, &empty).is_ok());
        let e = check(RepoKind::Deb, &alpine).unwrap_err().to_string();
        assert!(e.contains("apk database (/lib/apk/db/installed)"), "{e}");
        let e = check(RepoKind::Apk, &debian).unwrap_err().to_string();
        assert!(e.contains("dpkg database"), "{e}");
        let e = check(RepoKind::Apk, &empty).unwrap_err().to_string();
        assert!(e.contains("no apk database"), "{e}");
    }
}
