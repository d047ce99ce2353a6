//! The shell corpus: every shell Debian ships, fetched with `apt-get
//! download` into a cache under /var/tmp (re-runs are fast; .ci/install-deps.sh
//! fills it too) and extracted with `dpkg-deb -x`. With CI set, a failed
//! download is a failure; locally the test is skipped with the reason.

use crate::common;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// (Debian package, files in it that are shells). Every ELF file of these
/// packages not listed is a helper (bash's clear_console, fish_indent …).
pub const SHELLS: &[(&str, &[&str])] = &[
    ("bash", &["bin/bash"]),
    ("bash-static", &["bin/bash-static"]),
    ("dash", &["bin/dash"]),
    (
        "mksh",
        &[
            "bin/mksh",
            "bin/lksh",
            "usr/lib/diet/bin/mksh",
            "usr/lib/klibc/bin/mksh",
            "usr/lib/x86_64-linux-musl/bin/mksh",
        ],
    ),
    ("zsh", &["bin/zsh"]),
    ("zsh-static", &["bin/zsh-static"]),
    ("posh", &["usr/bin/posh"]),
    ("sash", &["bin/sash"]),
    ("yash", &["usr/bin/yash"]),
    ("ksh93u+m", &["bin/ksh93"]),
    ("tcsh", &["bin/tcsh"]),
    ("fish", &["usr/bin/fish"]),
    ("busybox", &["bin/busybox"]),
    ("busybox-static", &["bin/busybox"]),
    ("toybox", &["bin/toybox"]),
];

const CACHE: &str = "/var/tmp/ironhull-shell-corpus";

/// The downloaded and extracted shell packages: `CACHE/x/<package>/`
/// (prepared once per test process: the tests run in parallel).
pub fn shell_packages() -> Option<PathBuf> {
    static ONCE: std::sync::Mutex<Option<Option<PathBuf>>> = std::sync::Mutex::new(None);
    let mut done = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    if done.is_none() {
        *done = Some(prepare_shell_packages());
    }
    done.clone().flatten()
}

fn prepare_shell_packages() -> Option<PathBuf> {
    let root = PathBuf::from(CACHE);
    fs::create_dir_all(&root).ok()?;
    let have = |pkg: &str| {
        fs::read_dir(&root)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb"))
            })
    };
    let missing: Vec<&str> = SHELLS
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !have(p))
        .collect();
    if !missing.is_empty() {
        let Some(apt) = common::find_on_path("apt-get") else {
            common::skip_or_fail("apt-get is not available to download the shell corpus");
            return None;
        };
        let download = || {
            Command::new(&apt)
                .args(["-o", "DPkg::Lock::Timeout=900", "-q", "download"])
                .args(&missing)
                .current_dir(&root)
                .output()
        };
        let mut out = download();
        if !out.as_ref().is_ok_and(|o| o.status.success()) {
            // A fresh machine may have no package lists yet.
            let _ = Command::new(&apt)
                .args(["-o", "DPkg::Lock::Timeout=900", "-q", "update"])
                .output();
            out = download();
        }
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                common::skip_or_fail(&format!(
                    "apt-get download {missing:?} failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                ));
                return None;
            }
            Err(e) => {
                common::skip_or_fail(&format!("apt-get download failed to start: {e}"));
                return None;
            }
        }
    }
    let x = root.join("x");
    for (pkg, _) in SHELLS {
        let dir = x.join(pkg);
        if dir.join(".done").exists() {
            continue;
        }
        let deb = fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb"))
            })
            .unwrap_or_else(|| panic!("{pkg}: no .deb after download"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let st = Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(&dir)
            .status()
            .expect("dpkg-deb");
        assert!(st.success(), "dpkg-deb -x {}", deb.display());
        fs::write(dir.join(".done"), b"").unwrap();
    }
    Some(x)
}
