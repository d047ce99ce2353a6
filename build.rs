//! Embeds the git commit in `ironhull --version`, and a fingerprint of the
//! library's source in `IRONHULL_SOURCE_FINGERPRINT`.
//!
//! The fingerprint keys cached gate verdicts (`build::gate_cache`): a verdict
//! saved by a binary with other checks or detectors must never be reused, and
//! the crate version alone does not change between development builds.
use std::hash::{Hash, Hasher};
use std::path::Path;

fn hash_tree(dir: &Path, h: &mut std::collections::hash_map::DefaultHasher) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            hash_tree(&p, h);
        } else if let Ok(bytes) = std::fs::read(&p) {
            p.to_string_lossy().hash(h);
            bytes.hash(h);
        }
    }
}

fn main() {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    hash_tree(Path::new("src"), &mut h);
    println!(
        "cargo:rustc-env=IRONHULL_SOURCE_FINGERPRINT={:016x}",
        h.finish()
    );
    println!("cargo:rerun-if-changed=src");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown commit".into());
    println!("cargo:rustc-env=IRONHULL_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
