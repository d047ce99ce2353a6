//! Package managers: the names they go by, and what their engines carry.
//!
//! By name: every executable in [`PACKAGE_MANAGERS`], in any versioned or
//! static spelling (`dnf5`, `dnf-3`, `apk.static`, `pip3.11`). By content:
//! the code that installs packages must know where its database and
//! configuration live, so the engine (a static binary such as
//! `apk.static`, or the library a thin front end links: `libapk`,
//! `librpm`, `libapt-pkg`, dpkg's static `libdpkg`) carries those paths
//! and variables as separate strings. A renamed static package manager is
//! caught by them; a renamed dynamic front end is useless without its
//! engine, which is caught. pip and npm are scripts and modules, judged by
//! name and location, not here.

use super::{Evidence, Group, Kind, Profile, normalize_name, tokens::Seen};

/// Package manager executables, by canonical name (see [`normalize_name`]).
/// The one list: hardening strips them, the gate and `audit` report them.
pub const PACKAGE_MANAGERS: &[&str] = &[
    "apk",
    "apt",
    "apt-get",
    "apt-cache",
    "apt-config",
    "apt-mark",
    "apt-key",
    "aptitude",
    "dpkg",
    "dpkg-deb",
    "dpkg-query",
    "dpkg-split",
    "dpkg-divert",
    "dpkg-trigger",
    "dpkg-maintscript-helper",
    "rpm",
    "rpmdb",
    "rpmquery",
    "yum",
    "dnf",
    "microdnf",
    "tdnf",
    "zypper",
    "opkg",
    "pacman",
    "xbps-install",
    "emerge",
    "nix-env",
    "pip",
    "pipx",
    "easy_install",
    "conda",
    "mamba",
    "micromamba",
    "npm",
    "npx",
    "yarn",
    "pnpm",
    "corepack",
    "gem",
    "bundle",
    "bundler",
    "composer",
    // Not `cpan`: Debian ships it in `perl` itself, and stripping it would
    // drop the whole perl package from every Debian base.
    "cpanm",
    "luarocks",
];

/// True for a package manager name in any versioned or static spelling.
pub fn is_package_manager_name(name: &str) -> bool {
    PACKAGE_MANAGERS.contains(&name) || PACKAGE_MANAGERS.contains(&normalize_name(name))
}

const APK: Profile = Profile {
    name: "apk",
    groups: &[Group {
        min: 4,
        strings: &[
            "APKINDEX",
            "APKINDEX.tar.gz",
            "etc/apk/arch",
            "etc/apk/cache",
            "etc/apk/keys",
            "etc/apk/repositories",
            "etc/apk/world",
            "lib/apk/db",
            "lib/apk/db/installed",
            "lib/apk/db/lock",
            "lib/apk/db/scripts.tar",
            "lib/apk/db/triggers",
            "var/cache/apk",
        ],
    }],
};

const DPKG: Profile = Profile {
    name: "dpkg",
    groups: &[Group {
        min: 4,
        strings: &[
            "DPKG_ADMINDIR",
            "DPKG_CONFFILE_NEW",
            "DPKG_CONFFILE_OLD",
            "DPKG_FORCE",
            "DPKG_FRONTEND_LOCKED",
            "DPKG_MAINTSCRIPT_ARCH",
            "DPKG_MAINTSCRIPT_NAME",
            "DPKG_MAINTSCRIPT_PACKAGE",
            "DPKG_ROOT",
            "DPKG_RUNNING_VERSION",
            "DPKG_SHELL_REASON",
        ],
    }],
};

const APT: Profile = Profile {
    name: "apt",
    groups: &[Group {
        min: 4,
        strings: &[
            "Dir::Cache::archives",
            "Dir::Cache::pkgcache",
            "Dir::Cache::srcpkgcache",
            "Dir::Etc::sourcelist",
            "Dir::Etc::sourceparts",
            "Dir::Etc::trusted",
            "Dir::Etc::trustedparts",
            "Dir::State::lists",
            "Dir::State::status",
        ],
    }],
};

const RPM: Profile = Profile {
    name: "rpm",
    groups: &[Group {
        min: 3,
        strings: &[
            "%{_dbpath}",
            "_dbpath",
            "rpmdb",
            "rpmdb.sqlite",
            "Packages.db",
            "%{_rpmconfigdir}",
            "_rpmconfigdir",
        ],
    }],
};

pub(crate) const PROFILES: &[Profile] = &[APK, DPKG, APT, RPM];

/// The package manager verdict for the strings a file carries.
pub(crate) fn judge(seen: &Seen) -> Option<Evidence> {
    PROFILES
        .iter()
        .find_map(|p| p.judge(Kind::PackageManager, seen))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for n in [
            "dnf5",
            "dnf-3",
            "apk.static",
            "pip3.11",
            "pip-3.12",
            "yum",
            "rpm",
            "npm",
        ] {
            assert!(is_package_manager_name(n), "{n}");
        }
        for n in ["pipewire", "rpm2cpio", "apkanalyzer", "gems", "ls"] {
            assert!(!is_package_manager_name(n), "{n}");
        }
    }

    #[test]
    fn apk_engine_by_content() {
        let mut v = b"\x7fELF".to_vec();
        for s in [
            "APKINDEX",
            "lib/apk/db/installed",
            "etc/apk/world",
            "etc/apk/keys",
        ] {
            v.push(0);
            v.extend_from_slice(s.as_bytes());
        }
        let e = super::super::detect_bytes(&v).expect("apk");
        assert_eq!((e.kind, e.profile), (Kind::PackageManager, "apk"));
        v.truncate(v.len() - "etc/apk/keys".len());
        assert_eq!(super::super::detect_bytes(&v), None);
    }
}
