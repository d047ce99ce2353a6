//! What a hardened image may not contain, by name and by location.
//!
//! These rules decide what the builder strips from a base. The policy engine
//! judges the finished image with its own checks; keeping the two separate
//! means a gap in one is caught by the other.

use crate::fs::{Entry, EntryKind, ImagePath};

pub use crate::detect::is_package_manager_name;
/// The shell and package manager names: one list each, in [`crate::detect`],
/// which hardening, artifact intake, the gate and `audit` all read.
pub use crate::detect::package_manager::PACKAGE_MANAGERS;
pub use crate::detect::shell::{INTERPRETERS, MULTICALL, is_shell_name};

/// Directories whose contents are package caches, as globs relative to the
/// root (`*` stays within one component). The directory itself is kept (some
/// programs expect it); everything below it goes. The one list: hardening
/// strips below these, the gate and `audit` report them (PKG-002).
pub const CACHE_DIRS: &[&str] = &[
    "var/cache/apk",
    "etc/apk/cache",
    "var/lib/apt/lists",
    "var/cache/apt",
    "var/cache/yum",
    "var/cache/dnf",
    "var/cache/zypp",
    "var/cache/pacman/pkg",
    "{root,home/*}/.cache",
    "{root,home/*}/.npm",
    "{root,home/*}/.yarn/cache",
    "{root,home/*}/.pnpm-store",
    "{root,home/*}/.local/share/pnpm/store",
    "{root,home/*}/.cargo/registry",
    "{root,home/*}/.cargo/git",
    "{root,home/*}/go/pkg/mod",
    "go/pkg/mod",
    "{root,home/*}/.m2/repository",
    "{root,home/*}/.gradle/caches",
    "{root,home/*}/.composer/cache",
    "{root,home/*}/.ivy2/cache",
    "usr/local/share/.cache",
    "tmp/pip-cache",
    // conda / mamba package caches.
    "{opt,usr/local,root,home/*}/{conda,miniconda*,anaconda*,miniforge*,mambaforge*,micromamba}/pkgs",
    "{root,home/*}/.conda/pkgs",
    // Ruby: bundler and rubygems keep every downloaded .gem.
    "usr/local/bundle/cache",
    "{root,home/*}/.bundle/cache",
    "**/vendor/bundle/ruby/*/cache",
    "usr/local/lib/ruby/gems/*/cache",
    "usr/lib/ruby/gems/*/cache",
    "var/lib/gems/*/cache",
    "{root,home/*}/.gem/ruby/*/cache",
    // NuGet: the global packages folder and the HTTP cache.
    "{root,home/*}/.nuget/packages",
    "{root,home/*}/.local/share/NuGet",
];

/// File name endings of package archives (wheels, gems, NuGet, conda, apk,
/// deb, rpm, eggs).
const PACKAGE_ARCHIVES: &[&str] = &[
    ".whl", ".gem", ".nupkg", ".snupkg", ".conda", ".apk", ".deb", ".udeb", ".rpm", ".egg",
];

/// Directory names that mark a place where a tool keeps downloads.
const CACHE_LIKE_DIRS: &[&str] = &[
    "cache", "caches", ".cache", "pkgs", "packages", "archives", "wheels", "http", "http-v2",
];

/// A downloaded package archive: any `.deb` or `.rpm`, and any package
/// archive (or a conda `.tar.bz2`) below a directory whose name marks a
/// cache (`cache`, `pkgs`, `packages` …). The rule needs no list of
/// layouts, so the next tool's cache is caught without a code change; a
/// wheel an application ships in its own `vendor/` or `dist/` is not.
pub fn is_cached_package_archive(path: &ImagePath) -> bool {
    let name = path.file_name().to_ascii_lowercase();
    if name.ends_with(".deb") || name.ends_with(".rpm") {
        return true;
    }
    let archive = PACKAGE_ARCHIVES.iter().any(|x| name.ends_with(x));
    let conda = name.ends_with(".tar.bz2");
    if !archive && !conda {
        return false;
    }
    let mut dirs: Vec<&str> = path.components().collect();
    dirs.pop();
    dirs.iter().any(|d| {
        let d = d.to_ascii_lowercase();
        if conda {
            d == "pkgs"
        } else {
            CACHE_LIKE_DIRS.contains(&d.as_str())
        }
    })
}

fn cache_globs() -> Option<&'static globset::GlobSet> {
    static SET: std::sync::OnceLock<Option<globset::GlobSet>> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let mut b = globset::GlobSetBuilder::new();
        for p in CACHE_DIRS {
            // Constants of this file, each covered by the tests.
            if let Ok(g) = globset::GlobBuilder::new(p).literal_separator(true).build() {
                b.add(g);
            }
        }
        b.build().ok()
    })
    .as_ref()
}

/// True when `dir` is itself one of the [`CACHE_DIRS`].
pub fn is_cache_dir(dir: &ImagePath) -> bool {
    cache_globs().is_some_and(|g| g.is_match(dir.as_str()))
}

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
    if entry.is_file() && is_cached_package_archive(path) {
        return Some(Reason::Cache);
    }
    None
}

/// True when `path` lies strictly below a package-cache directory.
pub fn in_cache_dir(path: &ImagePath) -> bool {
    let Some(g) = cache_globs() else {
        return false;
    };
    let p = path.as_str();
    p.match_indices('/').any(|(i, _)| g.is_match(&p[..i]))
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
        for cached in [
            "opt/conda/pkgs/numpy-1.26.4-py312h/info/index.json",
            "usr/local/bundle/cache/rack-3.0.8.gem",
            "root/.nuget/packages/newtonsoft.json/13.0.3/x.nupkg",
            "home/app/.cache/pip/http/a/b/c/0123",
            "root/.cache/pip/http-v2/1/2",
            // Archives in a cache-like place nobody listed:
            "srv/tool/cache/x-1.0-py3-none-any.whl",
            "opt/new-pm/packages/left-pad-1.3.0.nupkg",
            "data/pkgs/lib-1.0-0.tar.bz2",
            "anywhere/x.deb",
        ] {
            assert_eq!(
                classify(&file(cached, 0o644)),
                Some(Reason::Cache),
                "{cached}"
            );
        }
        for kept in [
            "usr/share/python-wheels/pip-23.0.1-py3-none-any.whl",
            "app/dist/app-1.0-py3-none-any.whl",
            "usr/lib/python3/dist-packages/x.whl",
            "app/data/backup.tar.bz2",
            "app/vendor/cache", // the directory itself
        ] {
            assert_eq!(classify(&file(kept, 0o644)), None, "{kept}");
        }
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
