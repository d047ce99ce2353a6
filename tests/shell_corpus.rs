//! The shell and package-manager detector, measured on real binaries.
//!
//! 1. Every shell Debian 12 ships, downloaded with `apt-get download` (cached
//!    under /var/tmp, so re-runs are fast) and extracted with `dpkg-deb -x`,
//!    must be detected by content alone: the name plays no part, so each one
//!    is detected under any name (`/app/tool`).
//! 2. No ELF file in /usr/bin, /usr/sbin and /usr/lib of this Debian system
//!    may be flagged, except shells (shell detector) and package managers
//!    and their engines (package-manager detector), judged by the dpkg
//!    package that owns the file.
//!
//! Both print their figures (`CORPUS:` lines) for the closing note.

mod common;
mod shells;

use shells::{SHELLS, shell_packages};

use ironhull::detect::{self, Kind};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Packages whose files are package managers or their engines: the only
/// ones the package-manager detector may flag on this system.
const PM_PACKAGES: &[&str] = &[
    "dpkg",
    "dpkg-dev",
    "apt",
    "apt-utils",
    "libapt-pkg6.0",
    "rpm",
    "rpm2cpio",
    "librpm9",
    "librpmbuild9",
    "librpmsign9",
    "apk-tools",
    "python3-apt",
];

fn is_elf(p: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"\x7fELF"
}

/// Regular files under `dir`, not following symlinks.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&e.path(), out);
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
}

fn detect_file(p: &Path) -> Option<detect::Evidence> {
    let mut f = fs::File::open(p).ok()?;
    detect::detect_reader(&mut f).ok().flatten()
}

#[test]
fn every_debian_shell_is_detected_by_content() {
    let Some(x) = shell_packages() else { return };
    let mut detected = 0;
    let mut helpers = Vec::new();
    for (pkg, shells) in SHELLS {
        let dir = x.join(pkg);
        for rel in *shells {
            let p = dir.join(rel);
            assert!(is_elf(&p), "{pkg}: {rel} is not an ELF file");
            // Under a neutral name: the detector sees only the bytes.
            let bytes = fs::read(&p).unwrap();
            let e = detect::detect_bytes(&bytes)
                .unwrap_or_else(|| panic!("{pkg}: {rel} is not detected as a shell"));
            assert_eq!(e.kind, Kind::Shell, "{pkg}: {rel}: {e}");
            eprintln!("CORPUS: {pkg:16} {rel:40} {}", e);
            detected += 1;
        }
        let mut all = Vec::new();
        walk(&dir, &mut all);
        for f in all.into_iter().filter(|f| is_elf(f)) {
            let rel = f.strip_prefix(&dir).unwrap().to_string_lossy().into_owned();
            if !shells.contains(&rel.as_str()) {
                helpers.push(format!(
                    "{pkg}:{rel}={:?}",
                    detect_file(&f).map(|e| e.profile)
                ));
            }
        }
    }
    eprintln!(
        "CORPUS: {detected} shell binaries from {} Debian packages detected by content; helpers: {helpers:?}",
        SHELLS.len()
    );
    assert_eq!(detected, SHELLS.iter().map(|(_, s)| s.len()).sum::<usize>());
}

#[test]
fn a_one_byte_banner_change_does_not_hide_bash() {
    let Some(x) = shell_packages() else { return };
    let mut bytes = fs::read(x.join("bash/bin/bash")).unwrap();
    let banner = b"GNU bash, version";
    let at = bytes
        .windows(banner.len())
        .position(|w| w == banner)
        .expect("bash carries its banner");
    bytes[at + banner.len() - 1] = b'N';
    assert_eq!(
        detect::detect_bytes(&bytes).map(|e| e.kind),
        Some(Kind::Shell)
    );
}

/// The dpkg package owning `p`, if any (`dpkg-query -S`).
fn owner(p: &Path) -> Option<String> {
    let out = Command::new("dpkg-query").arg("-S").arg(p).output().ok()?;
    if !out.status.success() {
        // usrmerge: dpkg knows /bin/x, not /usr/bin/x.
        let alt = p.to_str()?.strip_prefix("/usr")?;
        return owner(Path::new(alt));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next()?;
    let pkg = first.split(':').next()?.trim();
    Some(pkg.split(',').next()?.trim().to_string())
}

#[test]
fn no_ordinary_elf_file_of_this_system_is_flagged() {
    if common::find_on_path("dpkg-query").is_none() {
        common::skip_or_fail("dpkg-query not installed: this test needs a Debian system");
        return;
    }
    let shell_pkgs: BTreeSet<&str> = SHELLS.iter().map(|(p, _)| *p).collect();
    let mut files = Vec::new();
    for d in ["/usr/bin", "/usr/sbin", "/usr/lib"] {
        walk(Path::new(d), &mut files);
    }
    let mut inodes = BTreeSet::new();
    let (mut scanned, mut bytes) = (0usize, 0u64);
    let mut shells = Vec::new();
    let mut pms = Vec::new();
    let mut false_positives = Vec::new();
    for f in files {
        let Ok(md) = fs::metadata(&f) else { continue };
        if !inodes.insert((md.dev(), md.ino())) || !is_elf(&f) {
            continue;
        }
        scanned += 1;
        bytes += md.len();
        let Some(e) = detect_file(&f) else { continue };
        let pkg = owner(&f).unwrap_or_else(|| "(no package)".into());
        let expected = match e.kind {
            Kind::Shell => shell_pkgs.contains(pkg.as_str()),
            Kind::PackageManager => PM_PACKAGES.contains(&pkg.as_str()),
        };
        let line = format!("{} [{pkg}]: {e}", f.display());
        if !expected {
            false_positives.push(line);
        } else if e.kind == Kind::Shell {
            shells.push(line);
        } else {
            pms.push(line);
        }
    }
    eprintln!(
        "CORPUS: {scanned} ELF files ({} MB) scanned in /usr/bin, /usr/sbin, /usr/lib; \
         flagged: {} shells, {} package managers, {} false positives",
        bytes / 1_000_000,
        shells.len(),
        pms.len(),
        false_positives.len()
    );
    for l in shells.iter().chain(&pms) {
        eprintln!("CORPUS: flagged (expected) {l}");
    }
    assert!(scanned > 100, "only {scanned} ELF files found");
    assert!(
        false_positives.is_empty(),
        "ordinary programs flagged:\n{}",
        false_positives.join("\n")
    );
}
