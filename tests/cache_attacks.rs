//! Issue 13 §3: a cache can save time, never change an image.
//!
//! CI saves and restores the cache directory, so whoever can write it can
//! plant records and blobs. Each test plays that attacker against real
//! `ironhull build` runs: a planted gate verdict, a planted layer record, a
//! planted stat record, a truncated blob and a swapped blob of the same
//! size. The build must notice each one, say so in a warning, and produce
//! the digest a clean cache gives.

mod common;
#[path = "common/images.rs"]
mod images;

use common::*;
use ironhull::digest::Digest;
use std::fs;
use std::path::{Path, PathBuf};

/// A project with one small artifact on the built-in static base. The
/// artifact is aged past the stat cache's racy window (2 s) so the first
/// build records it, as in real use.
fn project(dir: &Path, entrypoint: Option<&str>) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("data.txt"), b"hello from the artifact\n").unwrap();
    let mut spec = String::from(
        "[image]\nname = \"cache-attack\"\ntags = [\"1\"]\n[base]\nimage = \"static\"\n[user]\nuid = 10001\n[[artifacts]]\nsrc = \"data.txt\"\ndest = \"/app/data.txt\"\nmode = 0o444\n",
    );
    if let Some(e) = entrypoint {
        spec.push_str(&format!("[config]\nentrypoint = [\"{e}\"]\n"));
    }
    fs::write(dir.join("builder.toml"), spec).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    dir.join("builder.toml")
}

fn build(spec: &Path, cache: &Path, out: &Path) -> Run {
    run(ironhull_build(
        spec,
        cache,
        &["-o", &format!("oci:{}:1", out.display())],
    ))
}

/// Every blob of a layout hashes to its name.
fn assert_layout_blobs_intact(layout: &Path) {
    let dir = layout.join("blobs/sha256");
    let mut n = 0;
    for e in fs::read_dir(&dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        let bytes = fs::read(e.path()).unwrap();
        assert_eq!(
            Digest::of(&bytes).hex(),
            name,
            "corrupt blob in {}",
            dir.display()
        );
        n += 1;
    }
    assert!(
        n >= 3,
        "a layout has at least a manifest, a config and a layer"
    );
}

/// Files under `dir` (recursively) ending in `.json`.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(json_files(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out
}

/// The body of a sealed cache record (MAC line, then the body).
fn body_of(sealed: &[u8]) -> &[u8] {
    let i = sealed
        .iter()
        .position(|b| *b == b'\n')
        .expect("sealed record");
    &sealed[i + 1..]
}

/// The layer records of a cache and the blob digest each names.
fn layer_records(cache: &Path) -> Vec<(PathBuf, String)> {
    json_files(&cache.join("cache/layers"))
        .into_iter()
        .map(|p| {
            let v: serde_json::Value =
                serde_json::from_slice(body_of(&fs::read(&p).unwrap())).unwrap();
            let d = v["digest"].as_str().unwrap().to_string();
            (p, d)
        })
        .collect()
}

fn blob_path(cache: &Path, digest: &str) -> PathBuf {
    cache
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn clean_digest(dir: &Path, spec: &Path) -> String {
    let r = build(spec, &dir.join("clean-cache"), &dir.join("clean-out"));
    r.assert_success();
    printed_digest(&r)
}

#[test]
fn planted_gate_verdict_cannot_pass_a_failing_gate() {
    let d = tempfile::tempdir().unwrap();
    let spec = project(&d.path().join("p"), Some("/app/nope"));
    let cache = d.path().join("cache");
    let r = build(&spec, &cache, &d.path().join("out"));
    r.assert_code(1);
    assert!(
        r.stderr.contains("fails the security gate"),
        "{}",
        r.describe()
    );
    // The attacker finds the image's manifest in the cache's blob store and
    // plants a passing verdict for it, once unsealed and once sealed with
    // their own key.
    let policy = ironhull::build::gate_cache::policy_key_without_waivers();
    let mut manifests = Vec::new();
    for e in fs::read_dir(cache.join("blobs/sha256")).unwrap() {
        let p = e.unwrap().path();
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&fs::read(&p).unwrap()) else {
            continue;
        };
        if v.get("config").is_some() && v.get("layers").is_some() {
            manifests.push(
                Digest::parse(&format!(
                    "sha256:{}",
                    p.file_name().unwrap().to_str().unwrap()
                ))
                .unwrap(),
            );
        }
    }
    assert!(
        !manifests.is_empty(),
        "the failing image's manifest is in the cache"
    );
    let gate = cache.join("cache/gate");
    fs::create_dir_all(&gate).unwrap();
    let foreign = ironhull::cache_auth::CacheAuth::from_key(&[0x66; 32]);
    for (round, seal) in [false, true].into_iter().enumerate() {
        for m in &manifests {
            let body = br#"{"findings":[]}"#;
            let bytes = if seal {
                foreign.seal("gate-verdict", &format!("{m} {policy}"), body)
            } else {
                body.to_vec()
            };
            fs::write(
                gate.join(format!("{}-{}.json", m.hex(), &policy.hex()[..16])),
                bytes,
            )
            .unwrap();
        }
        let r = build(&spec, &cache, &d.path().join("out"));
        r.assert_code(1);
        assert!(
            r.stderr.contains("fails the security gate"),
            "round {round}: {}",
            r.describe()
        );
        assert!(
            r.stderr.contains("gate verdict") && r.stderr.contains("not authenticated"),
            "round {round}: the planted verdict is reported: {}",
            r.describe()
        );
        assert!(!d.path().join("out").exists(), "nothing written");
    }
}

#[test]
fn planted_layer_record_cannot_swap_in_a_layer() {
    let d = tempfile::tempdir().unwrap();
    let spec = project(&d.path().join("p"), None);
    let cache = d.path().join("cache");
    let r = build(&spec, &cache, &d.path().join("out1"));
    r.assert_success();
    let good = printed_digest(&r);

    // The attacker's layer: a shell and a token, gzipped, put in the store.
    let tar = images::layer_tar(&[
        images::file("bin/sh", 0o755, b"\x7fELF not really a shell"),
        images::file("app/data.txt", 0o444, b"AKIAIOSFODNN7EXAMPLE\n"),
    ]);
    let diff_id = Digest::of(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let evil = gz.finish().unwrap();
    let evil_d = Digest::of(&evil);
    fs::write(blob_path(&cache, &evil_d.to_string()), &evil).unwrap();
    let records = layer_records(&cache);
    assert!(!records.is_empty(), "the first build recorded its layer");
    let body = serde_json::json!({
        "media_type": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": evil_d.to_string(),
        "size": evil.len(),
        "diff_id": diff_id.to_string(),
    })
    .to_string();
    let foreign = ironhull::cache_auth::CacheAuth::from_key(&[0x66; 32]);
    for (round, seal) in [false, true].into_iter().enumerate() {
        for (p, _) in &records {
            let name = p.file_stem().unwrap().to_str().unwrap();
            let bytes = if seal {
                foreign.seal("layer", name, body.as_bytes())
            } else {
                body.clone().into_bytes()
            };
            fs::write(p, bytes).unwrap();
        }
        let out = d.path().join(format!("out-{round}"));
        let r = build(&spec, &cache, &out);
        r.assert_success();
        assert_eq!(
            printed_digest(&r),
            good,
            "round {round}: the planted layer was used"
        );
        assert!(
            r.stderr.contains("layer cache record") && r.stderr.contains("not authenticated"),
            "round {round}: {}",
            r.describe()
        );
        assert_layout_blobs_intact(&out);
    }
    // Re-sealed by the rebuild: the next build hits without a warning.
    let r = build(&spec, &cache, &d.path().join("out-again"));
    r.assert_success();
    assert_eq!(printed_digest(&r), good);
    assert!(!r.stderr.contains("warning:"), "{}", r.describe());
    assert_eq!(good, clean_digest(d.path(), &spec));
}

#[test]
fn planted_stat_record_cannot_hide_a_change() {
    let d = tempfile::tempdir().unwrap();
    let spec = project(&d.path().join("p"), None);
    let cache = d.path().join("cache");
    let r = build(&spec, &cache, &d.path().join("out1"));
    r.assert_success();
    let old = printed_digest(&r);
    // The artifact changes (same size); the attacker rewrites the stat
    // record to the new stat with the old digest, so the build would take
    // the old layer from the cache.
    let data = d.path().join("p/data.txt");
    fs::write(&data, b"HELLO FROM THE ARTIFACT\n").unwrap();
    let stat_file = cache.join("cache/stat/stat-cache.json");
    let sealed = fs::read(&stat_file).expect("the first build saved its stat cache");
    let mut map: serde_json::Value = serde_json::from_slice(body_of(&sealed)).unwrap();
    let now = ironhull::store::blobs::StatKey::of(&fs::metadata(&data).unwrap());
    let mut planted = 0;
    for (path, rec) in map.as_object_mut().unwrap() {
        if path.ends_with("data.txt") {
            rec["stat"] = serde_json::to_value(now).unwrap();
            planted += 1;
        }
    }
    assert_eq!(planted, 1, "the first build recorded the artifact: {map}");
    fs::write(&stat_file, map.to_string()).unwrap();
    let r = build(&spec, &cache, &d.path().join("out2"));
    r.assert_success();
    let new = printed_digest(&r);
    assert_ne!(new, old, "the planted stat record hid the change");
    assert!(
        r.stderr.contains("stat cache") && r.stderr.contains("not authenticated"),
        "{}",
        r.describe()
    );
    assert_eq!(new, clean_digest(d.path(), &spec));
}

#[test]
fn truncated_and_swapped_blobs_are_rebuilt() {
    let d = tempfile::tempdir().unwrap();
    let spec = project(&d.path().join("p"), None);
    let cache = d.path().join("cache");
    let r = build(&spec, &cache, &d.path().join("out1"));
    r.assert_success();
    let good = printed_digest(&r);
    let (_, layer) = layer_records(&cache).pop().expect("a layer record");
    let blob = blob_path(&cache, &layer);
    let bytes = fs::read(&blob).unwrap();
    let truncated = bytes[..bytes.len() / 2].to_vec();
    let mut swapped = bytes.clone();
    for b in swapped.iter_mut().skip(10) {
        *b = !*b;
    }
    assert_eq!(swapped.len(), bytes.len());
    for (what, planted) in [("truncated", truncated), ("swapped", swapped)] {
        fs::write(&blob, &planted).unwrap();
        let out = d.path().join(format!("out-{what}"));
        let r = build(&spec, &cache, &out);
        r.assert_success();
        assert_eq!(printed_digest(&r), good, "{what} blob");
        assert!(
            r.stderr.contains("cached layer blob") && r.stderr.contains("rebuilding"),
            "{what}: {}",
            r.describe()
        );
        assert_layout_blobs_intact(&out);
        assert_eq!(
            fs::read(&blob).unwrap(),
            bytes,
            "{what}: the cache holds the real blob again"
        );
    }
    assert_eq!(good, clean_digest(d.path(), &spec));
}

#[test]
fn a_changed_key_costs_time_not_correctness() {
    // A cache restored on a machine with another key (or a rotated
    // IRONHULL_CACHE_KEY): nothing verifies, everything is redone, the
    // digest is the same and the records are sealed again.
    let d = tempfile::tempdir().unwrap();
    let spec = project(&d.path().join("p"), None);
    let cache = d.path().join("cache");
    let key_a = "11".repeat(32);
    let key_b = "22".repeat(32);
    let with_key = |key: &str, out: &str| {
        let mut c = ironhull_build(
            &spec,
            &cache,
            &["-o", &format!("oci:{}:1", d.path().join(out).display())],
        );
        c.env("IRONHULL_CACHE_KEY", key);
        let r = run(c);
        r.assert_success();
        r
    };
    let r1 = with_key(&key_a, "o1");
    let r2 = with_key(&key_b, "o2");
    assert_eq!(printed_digest(&r1), printed_digest(&r2));
    assert!(r2.stderr.contains("not authenticated"), "{}", r2.describe());
    assert!(
        !r2.stderr.contains(&key_b) && !r2.stderr.contains(&key_a),
        "the key is never printed"
    );
    let r3 = with_key(&key_b, "o3");
    assert!(
        !r3.stderr.contains("warning:"),
        "re-sealed: {}",
        r3.describe()
    );
    let bad = {
        let mut c = ironhull_build(
            &spec,
            &cache,
            &["-o", &format!("oci:{}:1", d.path().join("o4").display())],
        );
        c.env("IRONHULL_CACHE_KEY", "not-a-key");
        run(c)
    };
    bad.assert_success();
    assert!(
        bad.stderr.contains("IRONHULL_CACHE_KEY"),
        "{}",
        bad.describe()
    );
    assert_eq!(printed_digest(&bad), printed_digest(&r1));
}
