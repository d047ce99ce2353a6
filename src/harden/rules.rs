//! What a hardened image may not contain, by name and by location.
//!
//! These rules decide what the builder strips from a base. The policy engine
//! judges the finished image with its own checks; keeping the two separate
//! means a gap in one is caught by the other.

use crate::fs::{Entry, EntryKind, ImagePath};

/// The shell and package manager names: one list each, in [`crate::detect`],
/// which hardening, artifact intake, the gate and `audit` all read.
pub use crate::detect::package_manager::PACKAGE_MANAGERS;
pub use crate::detect::shell::{INTERPRETERS, MULTICALL, is_shell_name};
pub use crate::detect::is_package_manager_name;

/// Directories whose contents are package caches. The directory itself is kept
/// (some programs expect it); everything below it goes.
pub const CACHE_DIRS: &[&str] = &[
    "var/cache/apk",
    "etc/apk/cache",
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/cache/yum",
    "var/cache/dnf",
    "var/cache/zypp",
    "root/.cache",
    "root/.npm",
    "root/.cargo/registry",
    "root/.cargo/git",
    "root/go/pkg/mod",
    "root/.m2/repository",
    "root/.gradle/caches",
    "usr/local/share/.cache",
    "tmp/pip-cache",
];

/// Home-relative cache directories, applied to every `home/<user>/`.
pub const HOME_CACHE_DIRS: &[&str] = &[
    ".cache",
    ".npm",
    ".cargo/registry",
    ".cargo/git",
    "go/pkg/mod",
    ".m2/repository",
    ".gradle/caches",
];

/// Why something was removed or changed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    Shell,
    PackageManager,
    /// A symlink or hardlink whose target is removed.
    LinkToRemoved(String),
    /// A file owned by a package that hardening dropped.
    PackageRemoved(String),
    Cache,
    /// Everything under `/busybox/` (distroless `:debug` images).
    BusyboxDir,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Shell => write!(f, "shell"),
            Reason::PackageManager => write!(f, "package manager"),
            Reason::LinkToRemoved(t) => write!(f, "link to removed {t}"),
            Reason::PackageRemoved(p) => write!(f, "file of removed package {p}"),
            Reason::Cache => write!(f, "package cache"),
            Reason::BusyboxDir => write!(f, "busybox toolbox directory"),
        }
    }
}

/// Classifies one entry by its own name and location (links are handled by the
/// planner, which can see their targets).
pub fn classify(entry: &Entry) -> Option<Reason> {
    let path = &entry.path;
    if path.components().next() == Some("busybox") {
        return Some(Reason::BusyboxDir);
    }
    let executable_like = match &entry.kind {
        EntryKind::File => entry.mode & 0o111 != 0,
        EntryKind::Symlink { .. } | EntryKind::Hardlink { .. } => true,
        _ => false,
    };
    let name = path.file_name();
    if executable_like {
        if is_shell_name(name) {
            return Some(Reason::Shell);
        }
        if is_package_manager_name(name) {
            return Some(Reason::PackageManager);
        }
    }
    if in_cache_dir(path) {
        return Some(Reason::Cache);
    }
    if entry.is_file() && name.ends_with(".deb") {
        return Some(Reason::Cache);
    }
    None
}

/// True when `path` lies strictly below a package-cache directory.
pub fn in_cache_dir(path: &ImagePath) -> bool {
    let p = path.as_str();
    let below =
        |dir: &str| p.len() > dir.len() && p.starts_with(dir) && p.as_bytes()[dir.len()] == b'/';
    if CACHE_DIRS.iter().any(|d| below(d)) {
        return true;
    }
    if let Some(rest) = p.strip_prefix("home/")
        && let Some((_, in_home)) = rest.split_once('/')
    {
        let below_home = |dir: &str| {
            in_home.len() > dir.len()
                && in_home.starts_with(dir)
                && in_home.as_bytes()[dir.len()] == b'/'
        };
        return HOME_CACHE_DIRS.iter().any(|d| below_home(d));
    }
    false
}

/// The mode an entry must have in a hardened image: no setuid/setgid bits, and
/// no world-writable bit unless it is a sticky directory (like /tmp).
pub fn hardened_mode(entry: &Entry) -> u32 {
    let mut mode = entry.mode;
    if matches!(entry.kind, EntryKind::Symlink { .. }) {
        return mode;
    }
    if !entry.is_dir() {
        mode &= !(crate::fs::entry::S_ISUID | crate::fs::entry::S_ISGID);
    } else {
        // setgid on directories only controls group inheritance: harmless, but
        // setuid on a directory means nothing and is stripped.
        mode &= !crate::fs::entry::S_ISUID;
    }
    if mode & 0o002 != 0 && !(entry.is_dir() && mode & crate::fs::entry::S_ISVTX != 0) {
        mode &= !0o002;
    }
    mode
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &str, mode: u32) -> Entry {
        Entry::new(ImagePath::parse(p).unwrap(), EntryKind::File, mode)
    }

    #[test]
    fn shells_and_package_managers() {
        assert_eq!(classify(&file("bin/busybox", 0o755)), Some(Reason::Shell));
        assert_eq!(
            classify(&file("usr/bin/pip3.11", 0o755)),
            Some(Reason::PackageManager)
        );
        assert_eq!(
            classify(&file("sbin/apk", 0o755)),
            Some(Reason::PackageManager)
        );
        assert_eq!(
            classify(&file("usr/share/doc/sh", 0o644)),
            None,
            "non-executable data named sh is not a shell"
        );
        assert_eq!(
            classify(&file("busybox/ls", 0o755)),
            Some(Reason::BusyboxDir)
        );
        assert_eq!(classify(&file("usr/bin/pipewire", 0o755)), None);
    }

    #[test]
    fn caches() {
        assert_eq!(
            classify(&file("var/cache/apk/APKINDEX.tar.gz", 0o644)),
            Some(Reason::Cache)
        );
        assert_eq!(
            classify(&file("home/app/.cache/pip/x", 0o644)),
            Some(Reason::Cache)
        );
        assert_eq!(classify(&file("var/cache/apkx", 0o644)), None);
        assert!(
            !in_cache_dir(&ImagePath::parse("var/cache/apk").unwrap()),
            "the directory itself stays"
        );
    }

    #[test]
    fn modes() {
        assert_eq!(hardened_mode(&file("usr/bin/passwd", 0o4755)), 0o755);
        assert_eq!(hardened_mode(&file("data", 0o666)), 0o664);
        let tmp = Entry::new(ImagePath::parse("tmp").unwrap(), EntryKind::Dir, 0o1777);
        assert_eq!(hardened_mode(&tmp), 0o1777);
        let open = Entry::new(ImagePath::parse("srv").unwrap(), EntryKind::Dir, 0o777);
        assert_eq!(hardened_mode(&open), 0o775);
    }
}
