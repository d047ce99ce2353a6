//! Issue 13 §4: a full disk. Builds run against a 4 MiB tmpfs mounted by the
//! test (as root; skipped with a reason locally otherwise, a failure in CI).
//! Every output format and the cache must fail with a clear message (the
//! path, ENOSPC, what to do), leave no partial output, and leave a cache the
//! next build (with space) uses to produce the correct digest.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for one test, unmounted when dropped (even on panic).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        if current_uid() != Some(0) {
            skip_or_fail("needs root to mount a small tmpfs (run the tests as root)");
            return None;
        }
        fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skip_or_fail("cannot mount a tmpfs here (no CAP_SYS_ADMIN?)");
            return None;
        }
        Some(Self(dir.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {} size={size}", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// 6 MB that does not compress: the layer alone is bigger than the disk.
fn project(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let data: Vec<u8> = (0..6_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    fs::write(dir.join("data.bin"), data).unwrap();
    fs::write(
        dir.join("builder.toml"),
        "[image]\nname = \"disk-full\"\ntags = [\"1\"]\n[base]\nimage = \"static\"\n[user]\nuid = 10001\n[[artifacts]]\nsrc = \"data.bin\"\ndest = \"/app/data.bin\"\nmode = 0o444\n",
    )
    .unwrap();
    dir.join("builder.toml")
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn assert_clear_enospc(r: &Run, place: &Path) {
    assert!(!r.success(), "the build must fail on a full disk");
    assert!(
        r.stderr.contains("No space left on device"),
        "{}",
        r.describe()
    );
    assert!(
        r.stderr.contains(&place.display().to_string()),
        "the message names the full filesystem's path: {}",
        r.describe()
    );
    assert!(
        r.stderr.contains("hint:") && r.stderr.contains("free space"),
        "{}",
        r.describe()
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.describe());
}

#[test]
fn every_output_format_fails_cleanly_on_a_full_disk() {
    let d = tempfile::tempdir().unwrap();
    let Some(small) = Tmpfs::mount(&d.path().join("small"), "4m") else {
        return;
    };
    let spec = project(&d.path().join("p"));
    let cache = d.path().join("cache");
    let clean = run(ironhull_build(
        &spec,
        &d.path().join("clean-cache"),
        &["-o", &format!("oci:{}:1", d.path().join("clean").display())],
    ));
    clean.assert_success();
    let want = printed_digest(&clean);
    let outs = [
        format!("oci:{}:1", small.0.join("layout").display()),
        format!("oci-archive:{}", small.0.join("image.oci.tar").display()),
        format!(
            "docker-archive:{}",
            small.0.join("image.docker.tar").display()
        ),
    ];
    for o in &outs {
        let r = run(ironhull_build(&spec, &cache, &["-o", o]));
        assert_clear_enospc(&r, &small.0);
        assert_eq!(
            entries(&small.0),
            Vec::<String>::new(),
            "{o}: nothing partial is left"
        );
    }
    // With space, the same cache gives the same image in every format.
    small.resize("64m");
    for o in &outs {
        let r = run(ironhull_build(&spec, &cache, &["-o", o]));
        r.assert_success();
        assert_eq!(printed_digest(&r), want, "{o}");
    }
    if require_tool("skopeo").is_some() {
        for o in &outs {
            let mut c = Command::new("skopeo");
            c.args(["inspect", o]);
            run(c).assert_success();
        }
    }
}

#[test]
fn a_full_cache_disk_fails_cleanly_and_the_cache_stays_usable() {
    let d = tempfile::tempdir().unwrap();
    let Some(small) = Tmpfs::mount(&d.path().join("small"), "4m") else {
        return;
    };
    let spec = project(&d.path().join("p"));
    let clean = run(ironhull_build(
        &spec,
        &d.path().join("clean-cache"),
        &["-o", &format!("oci:{}:1", d.path().join("clean").display())],
    ));
    clean.assert_success();
    let want = printed_digest(&clean);
    let cache = small.0.join("cache");
    let out = d.path().join("out");
    let r = run(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:1", out.display())],
    ));
    assert_clear_enospc(&r, &small.0);
    assert!(!out.exists(), "no output");
    assert_eq!(
        entries(d.path())
            .iter()
            .filter(|n| n.starts_with(".out"))
            .count(),
        0,
        "no stage left"
    );
    small.resize("64m");
    let r = run(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:1", out.display())],
    ));
    r.assert_success();
    assert_eq!(printed_digest(&r), want);
    // A no-op rebuild from that cache agrees too.
    let r = run(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:1", out.display())],
    ));
    r.assert_success();
    assert_eq!(printed_digest(&r), want);
}
