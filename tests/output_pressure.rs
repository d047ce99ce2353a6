//! Issue 13 §4: outputs under pressure. A planted blob in an existing
//! layout, concurrent builds tagging one layout (2 and 8 real `ironhull
//! build` processes), and a build killed with SIGKILL mid-way.

mod common;

use common::*;
use ironhull::digest::Digest;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn project(dir: &Path, size: usize) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    // Incompressible-ish content, so a big artifact takes a while to write.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    fs::write(dir.join("data.bin"), data).unwrap();
    fs::write(
        dir.join("builder.toml"),
        "[image]\nname = \"pressure\"\ntags = [\"1\"]\n[base]\nimage = \"static\"\n[user]\nuid = 10001\n[[artifacts]]\nsrc = \"data.bin\"\ndest = \"/app/data.bin\"\nmode = 0o444\n",
    )
    .unwrap();
    dir.join("builder.toml")
}

fn assert_layout_blobs_intact(layout: &Path) {
    for e in fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        assert_eq!(
            Digest::of(&fs::read(e.path()).unwrap()).hex(),
            name,
            "corrupt blob {name}"
        );
    }
}

fn tags_of(layout: &Path) -> BTreeSet<String> {
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .map(String::from)
        .collect()
}

fn stages_of(parent: &Path, name: &str) -> Vec<PathBuf> {
    fs::read_dir(parent)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!(".{name}.tmp-"))
        })
        .map(|e| e.path())
        .collect()
}

#[test]
fn planted_blob_in_an_existing_layout_is_replaced() {
    let d = tempfile::tempdir().unwrap();
    let spec = project(&d.path().join("p"), 4096);
    let out = d.path().join("out");
    let cache = d.path().join("cache");
    let r = run(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:a", out.display())],
    ));
    r.assert_success();
    // Every blob of the layout overwritten with bytes of the same size.
    let mut planted = 0;
    for e in fs::read_dir(out.join("blobs/sha256")).unwrap() {
        let p = e.unwrap().path();
        let mut b = fs::read(&p).unwrap();
        for x in b.iter_mut() {
            *x = x.wrapping_add(1);
        }
        fs::write(&p, b).unwrap();
        planted += 1;
    }
    assert!(planted >= 3);
    let r = run(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:b", out.display())],
    ));
    r.assert_success();
    assert_layout_blobs_intact(&out);
    assert_eq!(tags_of(&out), ["a", "b"].map(String::from).into());
    if require_tool("skopeo").is_some() {
        for t in ["a", "b"] {
            let r = run({
                let mut c = std::process::Command::new("skopeo");
                c.args(["inspect", &format!("oci:{}:{t}", out.display())]);
                c
            });
            r.assert_success();
        }
    }
}

fn concurrent_writers(n: usize) {
    let d = tempfile::tempdir().unwrap();
    let spec = project(&d.path().join("p"), 64 * 1024);
    let out = d.path().join("shared");
    let cache = d.path().join("cache");
    // One cold build first, so the racing builds are as fast as a rebuild
    // and really overlap on index.json.
    run(ironhull_build(
        &spec,
        &cache,
        &[
            "-o",
            &format!("oci:{}:warm", d.path().join("warm").display()),
        ],
    ))
    .assert_success();
    for round in 0..2 {
        let layout = out.join(format!("round{round}"));
        let runs: Vec<Run> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..n)
                .map(|i| {
                    let spec = &spec;
                    let cache = &cache;
                    let layout = &layout;
                    s.spawn(move || {
                        run(ironhull_build(
                            spec,
                            cache,
                            &["-o", &format!("oci:{}:t{i}", layout.display())],
                        ))
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in &runs {
            r.assert_success();
        }
        let want: BTreeSet<String> = (0..n).map(|i| format!("t{i}")).collect();
        assert_eq!(tags_of(&layout), want, "round {round}: a tag was lost");
        assert_layout_blobs_intact(&layout);
        assert!(
            stages_of(&out, &format!("round{round}")).is_empty(),
            "no stage left"
        );
        if require_tool("skopeo").is_some() {
            for t in &want {
                let mut c = std::process::Command::new("skopeo");
                c.args(["inspect", &format!("oci:{}:{t}", layout.display())]);
                run(c).assert_success();
            }
        }
        if let Some(umoci) = require_tool("umoci") {
            let mut c = std::process::Command::new(umoci);
            c.args(["stat", "--image", &format!("{}:t0", layout.display())]);
            run(c).assert_success();
        }
    }
}

#[test]
fn two_concurrent_builds_keep_both_tags() {
    concurrent_writers(2);
}

#[test]
fn eight_concurrent_builds_keep_every_tag() {
    concurrent_writers(8);
}

#[test]
fn a_killed_build_leaves_a_stage_the_next_build_removes() {
    let d = tempfile::tempdir().unwrap();
    // Big enough that the build is still compressing when it is killed.
    let spec = project(&d.path().join("p"), 96 << 20);
    let out = d.path().join("out");
    let cache = d.path().join("cache");
    let mut child = ironhull_build(&spec, &cache, &["-o", &format!("oci:{}:1", out.display())])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while stages_of(d.path(), "out").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no stage appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the build ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let stale = stages_of(d.path(), "out");
    assert_eq!(stale.len(), 1, "kill -9 leaves the stage behind");
    assert!(!out.exists(), "and no layout");
    let r = run(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:1", out.display())],
    ));
    r.assert_success();
    assert!(
        stages_of(d.path(), "out").is_empty(),
        "the stale stage was removed"
    );
    assert_layout_blobs_intact(&out);
    assert_eq!(tags_of(&out), ["1".to_string()].into());
}

/// The symlink swap as a race, not a staged step: while real builds run, a
/// thread keeps replacing a directory artifact's file with a symlink to a
/// host file and back. Whatever the timing, a build either refuses (the file
/// changed after the walk) or ships the harmless bytes; the host file never
/// reaches a layer.
#[test]
fn a_file_swapped_for_a_symlink_during_builds_never_ships_the_host_file() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let work = tempfile::tempdir().unwrap();
    let host = work.path().join("host-only");
    // The same size as the real file, so only the open checks stand between
    // it and the layer (a size change is caught later, by the writer).
    fs::write(&host, b"HOSTONLY").unwrap();
    let app = work.path().join("p/app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("conf"), b"harmless").unwrap();
    let spec = work.path().join("p/builder.toml");
    fs::write(
        &spec,
        "[image]\nname = \"swap\"\ntags = [\"1\"]\n[base]\nimage = \"static\"\n[user]\nuid = 10001\n[[artifacts]]\nsrc = \"app\"\ndest = \"/app\"\n",
    )
    .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, conf, host) = (stop.clone(), app.join("conf"), host.clone());
        std::thread::spawn(move || {
            let (tmp_file, tmp_link) = (conf.with_extension("f"), conf.with_extension("l"));
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // rename(2) over the name: the path is always one or the other.
                let _ = fs::remove_file(&tmp_link);
                std::os::unix::fs::symlink(&host, &tmp_link).unwrap();
                fs::rename(&tmp_link, &conf).unwrap();
                std::thread::sleep(Duration::from_micros(300));
                fs::write(&tmp_file, b"harmless").unwrap();
                fs::rename(&tmp_file, &conf).unwrap();
                std::thread::sleep(Duration::from_micros(300));
                swaps += 1;
            }
            swaps
        })
    };
    let (mut built, mut refused) = (0, 0);
    for i in 0..24 {
        let out = work.path().join(format!("out{i}"));
        let cache = work
            .path()
            .join(if i % 2 == 0 { "cache" } else { "cache-b" });
        let r = run(ironhull_build(
            &spec,
            &cache,
            &["-q", "-o", &format!("oci:{}:1", out.display())],
        ));
        if r.success() {
            built += 1;
            for blob in fs::read_dir(out.join("blobs/sha256")).unwrap() {
                let raw = layer_bytes(&blob.unwrap().path());
                assert!(
                    !contains_bytes(&raw, b"HOSTONLY"),
                    "build {i} shipped the host file"
                );
            }
        } else {
            refused += 1;
            assert!(!out.exists(), "a refused build left output");
            // Either the walk saw the symlink (a link to outside the
            // artifact, or its target) or the file changed after the walk.
            assert!(
                !r.stderr.contains("HOSTONLY"),
                "the error leaks the host file:\n{}",
                r.describe()
            );
            assert_eq!(r.code(), Some(2), "{}", r.describe());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    eprintln!("symlink-swap race: {swaps} swaps, {built} builds shipped, {refused} refused");
    assert!(swaps > 24, "the swapper barely ran ({swaps} swaps)");
}
