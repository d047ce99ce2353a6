//! Installing real Debian packages without dpkg (issue 15): ironhull's
//! reading of every downloaded `.deb` must equal dpkg's own (`dpkg-deb -x`
//! as root is the oracle: every path, kind, mode, symlink target and file
//! sha256), and the install plan must respect a merged-`/usr` base and
//! refuse shells, directly asked for or pulled in.
//!
//! The packages come from `.ci/install-deps.sh` (`apt-get download`), in
//! `IRONHULL_TEST_DEBS` (default `/var/cache/ironhull-test-debs`).

mod common;
#[path = "common/debrepo.rs"]
mod debrepo;
#[path = "common/http_files.rs"]
mod http_files;

use ironhull::fs::{Entry, EntryKind, ImagePath, LayerEvent, MergedTree, ReadOptions};
use ironhull::packages::deb::deb_file::DebFile;
use ironhull::packages::install::{InstallError, ToInstall, plan};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn debs_dir() -> Option<PathBuf> {
    debrepo::test_debs("amd64")
}

fn deb(dir: &Path, name: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{name}_")) && n.ends_with(".deb"))
        })
        .unwrap_or_else(|| panic!("{name}_*.deb not in {}", dir.display()))
}

/// path → (kind, mode, symlink target or file sha256), as a listing.
type Listing = BTreeMap<String, (String, u32, String)>;

fn ours(d: &DebFile) -> Listing {
    let mut out = Listing::new();
    d.read_data(&ReadOptions::default(), |ev, r| {
        let LayerEvent::Entry(e) = ev else {
            panic!("a whiteout in a real package: {ev:?}");
        };
        if e.path.is_root() {
            return Ok(());
        }
        let (kind, what) = match &e.kind {
            EntryKind::File => {
                let mut b = Vec::new();
                r.read_to_end(&mut b).unwrap();
                ("file", hex::encode(Sha256::digest(&b)))
            }
            EntryKind::Dir => ("dir", String::new()),
            EntryKind::Symlink { target } => ("symlink", target.clone()),
            // dpkg-deb -x makes a hard link into a second copy of the same
            // inode; compare it as the file it is.
            EntryKind::Hardlink { target } => ("file", format!("link:{}", target.as_str())),
            other => panic!("{other:?} in a real package"),
        };
        out.insert(e.path.as_str().to_string(), (kind.into(), e.mode, what));
        Ok(())
    })
    .unwrap();
    // Resolve hard links to their target's hash.
    let snapshot = out.clone();
    for v in out.values_mut() {
        if let Some(t) = v.2.strip_prefix("link:") {
            v.2 = snapshot.get(t).map(|x| x.2.clone()).unwrap_or_default();
        }
    }
    out
}

fn dpkgs(deb: &Path, dir: &Path) -> Listing {
    let st = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success(), "dpkg-deb -x {}", deb.display());
    let mut out = Listing::new();
    fn walk(root: &Path, p: &Path, out: &mut Listing) {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            let m = std::fs::symlink_metadata(&path).unwrap();
            let mode = m.permissions().mode() & 0o7777;
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&path).unwrap();
                out.insert(rel, ("symlink".into(), 0o777, t.to_str().unwrap().into()));
            } else if m.is_dir() {
                out.insert(rel, ("dir".into(), mode, String::new()));
                walk(root, &path, out);
            } else {
                let b = std::fs::read(&path).unwrap();
                let _ = m.nlink();
                out.insert(rel, ("file".into(), mode, hex::encode(Sha256::digest(&b))));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Every downloaded package reads exactly as dpkg unpacks it.
#[test]
fn every_real_package_reads_as_dpkg_unpacks_it() {
    let Some(dir) = debs_dir() else { return };
    if common::require_tool("dpkg-deb").is_none() {
        return;
    }
    let root = common::current_uid() == Some(0);
    let mut checked = 0;
    let mut files = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("deb") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let d =
            DebFile::parse(&bytes, 1 << 30).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // The control file, byte for byte.
        let ctrl = Command::new("sh")
            .arg("-c")
            .arg("dpkg-deb --ctrl-tarfile \"$0\" | tar -xO ./control")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(d.control.as_bytes(), &ctrl.stdout[..], "{}", path.display());
        let t = tempfile::tempdir().unwrap();
        let mut theirs = dpkgs(&path, t.path());
        let mut mine = ours(&d);
        if !root {
            // Without root, dpkg-deb cannot set setuid bits or owners:
            // compare kinds and contents only.
            for v in theirs.values_mut().chain(mine.values_mut()) {
                v.1 = 0;
            }
        }
        // Symlink modes mean nothing (tar stores 0777, the kernel too).
        for v in mine.values_mut() {
            if v.0 == "symlink" {
                v.1 = 0o777;
            }
        }
        assert_eq!(mine, theirs, "{}", path.display());
        checked += 1;
        files += mine.len();
    }
    eprintln!("{checked} packages, {files} entries: identical to dpkg-deb -x");
    assert!(
        checked >= 10,
        "only {checked} packages in {}",
        dir.display()
    );
}

/// The test's packages live for the whole test process (leaked), so the
/// plans can borrow them freely.
fn to_install(dir: &Path, name: &str, chain: &[&str]) -> ToInstall<'static> {
    let bytes = std::fs::read(deb(dir, name)).unwrap();
    let d: &'static DebFile = Box::leak(Box::new(DebFile::parse(&bytes, 1 << 30).unwrap()));
    let field = |f: &str| {
        d.control
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{f}: ")))
            .unwrap_or("")
            .to_string()
    };
    ToInstall {
        name: name.into(),
        version: field("Version"),
        arch: field("Architecture"),
        chain: chain.iter().map(|s| s.to_string()).collect(),
        replaces: BTreeSet::new(),
        data: d,
    }
}

fn merged_usr_base() -> MergedTree {
    let mut t = MergedTree::new();
    let p = |s: &str| ImagePath::parse(s).unwrap();
    for d in ["usr", "usr/bin", "usr/lib", "usr/lib64", "usr/sbin", "etc"] {
        t.insert(0, Entry::new(p(d), EntryKind::Dir, 0o755));
    }
    for (l, target) in [
        ("bin", "usr/bin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
        ("sbin", "usr/sbin"),
    ] {
        t.insert(
            0,
            Entry::new(
                p(l),
                EntryKind::Symlink {
                    target: target.into(),
                },
                0o777,
            ),
        );
    }
    t
}

#[test]
fn libc_on_a_merged_usr_base_keeps_the_base_layout() {
    let Some(dir) = debs_dir() else { return };
    let base = merged_usr_base();
    let pkgs = vec![
        to_install(&dir, "gcc-12-base", &["libc6", "libgcc-s1", "gcc-12-base"]),
        to_install(&dir, "libgcc-s1", &["libc6", "libgcc-s1"]),
        to_install(&dir, "libc6", &["libc6"]),
    ];
    let plan = plan(&base, &pkgs, 0).unwrap();
    let paths: BTreeSet<&str> = plan.staged.keys().map(|p| p.as_str()).collect();
    // libc6 ships ./lib/x86_64-linux-gnu/libc.so.6 and ./lib64/ld-linux…;
    // on this base they live under usr/, and the links stay links.
    assert!(
        paths.contains("usr/lib/x86_64-linux-gnu/libc.so.6"),
        "{paths:?}"
    );
    assert!(
        paths.contains("usr/lib64/ld-linux-x86-64.so.2"),
        "{paths:?}"
    );
    for top in ["bin", "lib", "lib64", "sbin"] {
        assert!(
            !paths.contains(top),
            "the base's /{top} link would be replaced"
        );
        assert!(
            !paths.iter().any(|p| p.starts_with(&format!("{top}/"))),
            "a path under the /{top} link was written: {paths:?}"
        );
    }
    // Nothing setuid, nothing world-writable; scripts listed, none run.
    for (p, s) in &plan.staged {
        assert_eq!(s.entry.mode & 0o6000, 0, "{p}");
        if !s.entry.is_dir() && !matches!(s.entry.kind, EntryKind::Symlink { .. }) {
            assert_eq!(s.entry.mode & 0o002, 0, "{p}");
        }
    }
    let libc = plan.packages.iter().find(|p| p.name == "libc6").unwrap();
    assert!(
        libc.scripts_not_run.iter().any(|s| s == "postinst"),
        "{libc:?}"
    );
    assert!(
        libc.md5sums
            .contains("  usr/lib/x86_64-linux-gnu/libc.so.6\n")
    );
}

#[test]
fn a_shell_is_refused_asked_for_or_pulled_in() {
    let Some(dir) = debs_dir() else { return };
    let base = merged_usr_base();
    let e = plan(&base, &[to_install(&dir, "bash", &["bash"])], 0)
        .err()
        .expect("bash must be refused");
    let msg = e.to_string();
    assert!(matches!(e, InstallError::Refused { .. }), "{msg}");
    assert!(msg.contains("bash") && msg.contains("shell"), "{msg}");
    assert!(
        msg.contains("remove \"bash\" from [packages] install"),
        "{msg}"
    );

    let e = plan(
        &base,
        &[to_install(&dir, "dash", &["python3.11-minimal", "dash"])],
        0,
    )
    .err()
    .expect("dash must be refused");
    let msg = e.to_string();
    assert!(
        msg.contains("pulled in by python3.11-minimal -> dash"),
        "{msg}"
    );
    assert!(msg.contains("[packages] exclude"), "{msg}");
}

#[test]
fn python_minimal_installs_with_no_shell() {
    let Some(dir) = debs_dir() else { return };
    let base = merged_usr_base();
    let names = [
        "libc6",
        "zlib1g",
        "libexpat1",
        "libssl3",
        "libpython3.11-minimal",
        "python3.11-minimal",
    ];
    let pkgs: Vec<ToInstall> = names.iter().map(|n| to_install(&dir, n, &[n])).collect();
    let plan = plan(&base, &pkgs, 0).unwrap();
    assert!(
        plan.staged
            .contains_key(&ImagePath::parse("usr/bin/python3.11").unwrap())
    );
    assert!(plan.packages.iter().all(|p| !p.md5sums.is_empty()));
}

/// ca-certificates' postinst is not run; its effect, the bundle, is made
/// from the package's own certificates, and every one of them is in it.
#[test]
fn ca_certificates_gets_its_bundle_without_its_script() {
    let Some(dir) = debs_dir() else { return };
    let base = merged_usr_base();
    let pkgs = vec![to_install(&dir, "ca-certificates", &["ca-certificates"])];
    let mut plan = plan(&base, &pkgs, 0).unwrap();
    ironhull::packages::effects::apply(&mut plan, &base, 0);
    let bundle = plan
        .staged
        .get(&ImagePath::parse("etc/ssl/certs/ca-certificates.crt").unwrap())
        .and_then(|s| s.content.clone())
        .expect("no CA bundle");
    let text = String::from_utf8(bundle.to_vec()).unwrap();
    let n = text.matches("-----BEGIN CERTIFICATE-----").count();
    let crts = plan
        .staged
        .keys()
        .filter(|p| {
            p.as_str().starts_with("usr/share/ca-certificates/") && p.as_str().ends_with(".crt")
        })
        .count();
    assert!(
        n > 100 && n == crts,
        "{n} certificates in the bundle, {crts} files"
    );
    let p = &plan.packages[0];
    assert!(p.scripts_not_run.iter().any(|s| s == "postinst"), "{p:?}");
    assert!(
        p.instead
            .iter()
            .any(|i| i.contains("update-ca-certificates")),
        "{p:?}"
    );
    // openssl agrees it is a valid bundle (every certificate parses).
    if common::require_tool("openssl").is_some() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("b.crt");
        std::fs::write(&f, &text).unwrap();
        let out = Command::new("openssl")
            .args(["storeutl", "-noout", "-certs"])
            .arg(&f)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(said.contains(&format!("Total found: {n}")), "{said}");
    }
}
