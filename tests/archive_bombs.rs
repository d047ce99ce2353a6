//! Archive bombs (issue 13, part 4): a small `oci-archive:` or
//! `docker-archive:` base whose tar holds gigabytes of members no manifest
//! reaches must not make the build write them to disk; one that reaches more
//! than `IRONHULL_MAX_ARCHIVE_BYTES` is refused, also without writing it.
//!
//! Disk use is measured the direct way: a thread walks the build's cache and
//! temp directories every few milliseconds while the build runs and keeps the
//! peak; before the fix the peak was the bomb's inflated size.

mod common;
#[path = "common/registry.rs"]
mod reg;

use ironhull::digest::Digest;
use ironhull::image::{Descriptor, Platform, media};
use ironhull::store::{BlobStore, image_blobs, write_docker_archive, write_oci_archive};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The size of the unreferenced member: 1 GiB of zeros, ~1 MB once gzip'd.
const BOMB: u64 = 1 << 30;

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            // Allocated blocks, so a sparse file counts for what it holds.
            _ => e
                .metadata()
                .map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)
                .unwrap_or(0),
        })
        .sum()
}

/// Runs `cmd` while sampling the size of `watch`; returns the run and the peak.
fn run_watching(cmd: std::process::Command, watch: &Path) -> (common::Run, u64) {
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, watch) = (peak.clone(), done.clone(), watch.to_path_buf());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max(dir_size(&watch), Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let r = common::run(cmd);
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    (r, peak.load(Ordering::SeqCst))
}

/// Copies every entry of the plain tar `src` into a gzip'd tar `dest`, then
/// appends `extra` members of `size` zero bytes each (streamed, never held).
fn gzip_with_bombs(src: &Path, dest: &Path, extra: &[&str], size: u64) {
    let mut input = tar::Archive::new(std::fs::File::open(src).unwrap());
    let out = std::fs::File::create(dest).unwrap();
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::new(9));
    let mut b = tar::Builder::new(gz);
    for e in input.entries().unwrap() {
        let mut e = e.unwrap();
        let mut h = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
    }
    for name in extra {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, std::io::repeat(0).take(size)).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

fn spec(dir: &Path, base: &str) -> std::path::PathBuf {
    let p = dir.join("builder.toml");
    std::fs::write(
        &p,
        format!(
            "[image]\nname = \"bomb\"\ntags = [\"1\"]\n[base]\nimage = \"{base}\"\n[user]\nuid = 10001\n"
        ),
    )
    .unwrap();
    p
}

/// Builds from `base` with the cache and TMPDIR inside `scratch`; returns the
/// run and the peak bytes on disk under `scratch`.
fn build(dir: &Path, base: &str, max: Option<&str>) -> (common::Run, u64) {
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(scratch.join("tmp")).unwrap();
    let mut cmd = common::ironhull_build(
        &spec(dir, base),
        &scratch.join("cache"),
        &["-o", &format!("oci:{}:1", scratch.join("out").display())],
    );
    cmd.env("TMPDIR", scratch.join("tmp"));
    if let Some(m) = max {
        cmd.env("IRONHULL_MAX_ARCHIVE_BYTES", m);
    }
    run_watching(cmd, &scratch)
}

fn tiny_image(dir: &Path) -> (BlobStore, ironhull::image::PlatformImage) {
    let store = BlobStore::open(dir.join("src-blobs")).unwrap();
    let img = reg::image(&store, &Platform::linux("amd64", None), b"hello");
    (store, img)
}

#[test]
fn oci_archive_with_a_huge_unreferenced_member_writes_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, img) = tiny_image(dir.path());
    let plain = dir.path().join("plain.tar");
    let top = Descriptor::new(
        media::OCI_MANIFEST,
        img.manifest_digest.clone(),
        img.manifest_bytes.len() as u64,
    );
    write_oci_archive(&plain, "1", &top, &image_blobs(&img), &store).unwrap();
    let bomb = dir.path().join("bomb.tar.gz");
    // A name that is a valid digest (of nothing it holds) and one outside blobs/.
    let fake = format!("blobs/sha256/{}", Digest::of(b"not these bytes").hex());
    gzip_with_bombs(&plain, &bomb, &[&fake, "junk/zeros"], BOMB);
    let small = std::fs::metadata(&bomb).unwrap().len();
    assert!(small < 4 << 20, "the bomb is small: {small} bytes");

    let (r, peak) = build(
        dir.path(),
        &format!("oci-archive:{}:1", bomb.display()),
        None,
    );
    assert!(
        r.status.success(),
        "the reachable image is fine: {}",
        r.stderr
    );
    assert!(
        peak < 64 << 20,
        "a {small}-byte archive made the build write {peak} bytes"
    );
}

#[test]
fn oci_archive_reaching_more_than_the_cap_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, img) = tiny_image(dir.path());
    let plain = dir.path().join("plain.tar");
    let top = Descriptor::new(
        media::OCI_MANIFEST,
        img.manifest_digest.clone(),
        img.manifest_bytes.len() as u64,
    );
    write_oci_archive(&plain, "1", &top, &image_blobs(&img), &store).unwrap();
    let base = format!("oci-archive:{}:1", plain.display());
    // The manifest and index fit; config + layer do not.
    let (r, peak) = build(dir.path(), &base, Some("600"));
    assert_eq!(r.status.code(), Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("IRONHULL_MAX_ARCHIVE_BYTES") && r.stderr.contains("plain.tar"),
        "the error names the limit and the file: {}",
        r.stderr
    );
    assert!(peak < 1 << 20, "{peak}");
    // With the default cap the same archive builds.
    let (r, _) = build(dir.path(), &base, None);
    assert!(r.status.success(), "{}", r.stderr);
}

#[test]
fn docker_archive_with_a_huge_unreferenced_member_writes_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, img) = tiny_image(dir.path());
    let plain = dir.path().join("docker.tar");
    write_docker_archive(&plain, "bomb:1", &img, &store).unwrap();
    let bomb = dir.path().join("docker-bomb.tar.gz");
    gzip_with_bombs(&plain, &bomb, &["deadbeef/layer.tar"], BOMB);
    let (r, peak) = build(
        dir.path(),
        &format!("docker-archive:{}:bomb:1", bomb.display()),
        None,
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert!(peak < 64 << 20, "the build wrote {peak} bytes");
}

#[test]
fn legacy_docker_archive_layer_over_the_cap_is_refused() {
    // An old-style `docker save`: manifest.json names a config and a layer
    // file by path; the layer member is the bomb.
    let dir = tempfile::tempdir().unwrap();
    let layer = reg::tar_with("hello.txt", b"hi");
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(&layer).to_string()]},
    });
    let config = serde_json::to_vec(&config).unwrap();
    let cname = format!("{}.json", Digest::of(&config).hex());
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": cname, "RepoTags": ["bomb:1"], "Layers": ["aaa/layer.tar", "zzz/layer.tar"]}
    ]))
    .unwrap();
    let plain = dir.path().join("legacy.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&plain).unwrap());
    for (name, data) in [
        ("manifest.json", &manifest[..]),
        (&cname[..], &config[..]),
        ("aaa/layer.tar", &layer[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap().flush().unwrap();
    let bomb = dir.path().join("legacy-bomb.tar.gz");
    gzip_with_bombs(&plain, &bomb, &["zzz/layer.tar"], BOMB);
    let (r, peak) = build(
        dir.path(),
        &format!("docker-archive:{}", bomb.display()),
        Some(&(256u64 << 20).to_string()),
    );
    assert_eq!(r.status.code(), Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("IRONHULL_MAX_ARCHIVE_BYTES"),
        "{}",
        r.stderr
    );
    assert!(peak < 16 << 20, "the build wrote {peak} bytes");
}
