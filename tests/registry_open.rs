//! Registry client against the real Distribution registry over plain HTTP
//! (loopback, no auth): round trips with skopeo, platform selection,
//! repeated pushes, chunked uploads, tampering and a registry that is down.

mod common;
#[path = "common/registry.rs"]
mod reg;

use ironhull::digest::Digest;
use ironhull::image::{Platform, media};
use ironhull::reference::Reference;
use ironhull::registry::{Client, Progress, RegistryError, RegistryOptions};
use ironhull::store::BlobStore;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

fn opts() -> RegistryOptions {
    RegistryOptions {
        progress: Progress::Quiet,
        max_concurrency: 3,
        docker_config_dir: Some(std::env::temp_dir().join("ironhull-no-docker-config")),
        ..Default::default()
    }
}

/// One registry (and one proxy in front of it) for the whole file.
struct Env {
    registry: reg::Registry,
    proxy: reg::Proxy,
}

fn env() -> Option<&'static Env> {
    static ENV: OnceLock<Option<Env>> = OnceLock::new();
    // Check tools in the calling test so the SKIP line names it.
    common::require_tool("docker-registry")?;
    ENV.get_or_init(|| {
        let registry = reg::Registry::start(reg::Auth::None, None);
        let proxy = reg::Proxy::start(registry.port);
        Some(Env { registry, proxy })
    })
    .as_ref()
}

fn reference(host: &str, repo_tag: &str) -> Reference {
    Reference::parse(&format!("{host}/{repo_tag}")).unwrap()
}

/// Pushes a two-platform index to `host/repo:tag`; returns its top digest,
/// the source store and the images.
fn push_two_platforms(
    client: &Client,
    host: &str,
    repo: &str,
    tag: &str,
    marker: &str,
) -> (
    Digest,
    tempfile::TempDir,
    Vec<ironhull::image::PlatformImage>,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let imgs = vec![
        reg::image(
            &store,
            &Platform::linux("amd64", None),
            format!("{marker} amd64").as_bytes(),
        ),
        reg::image(
            &store,
            &Platform::linux("arm64", Some("v8")),
            format!("{marker} arm64").as_bytes(),
        ),
    ];
    let (top, bytes) = reg::index(&store, &imgs);
    let r = reference(host, &format!("{repo}:{tag}"));
    let d = client
        .push(
            &r,
            &[tag.to_string(), "extra".to_string()],
            &top,
            &bytes,
            &imgs,
            &store,
            None,
        )
        .unwrap();
    assert_eq!(d, top.digest);
    (d, dir, imgs)
}

#[test]
fn round_trip_with_skopeo_and_pull_back() {
    let Some(env) = env() else { return };
    let Some(_) = common::require_tool("skopeo") else {
        return;
    };
    let host = &env.registry.host;
    let client = Client::new(opts()).unwrap();
    let (top, _src, imgs) = push_two_platforms(&client, host, "rt/app", "v1", "round trip");

    // skopeo sees the same index under both tags.
    for tag in ["v1", "extra"] {
        let r = common::skopeo([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{host}/rt/app:{tag}"),
        ]);
        r.assert_success();
        assert_eq!(
            Digest::of(r.stdout.as_bytes()),
            top,
            "skopeo --raw bytes differ for tag {tag}"
        );
    }
    let r = common::skopeo([
        "inspect",
        "--tls-verify=false",
        "--override-arch",
        "arm64",
        "--override-variant",
        "v8",
        &format!("docker://{host}/rt/app:v1"),
    ]);
    r.assert_success();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    // skopeo resolved the index to our arm64 entry and read its config.
    assert_eq!(v["Architecture"], "arm64", "{v}");
    assert_eq!(v["Layers"][0], imgs[1].layers[0].digest.to_string(), "{v}");

    // skopeo copies it back byte for byte.
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    common::skopeo([
        "copy",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{host}/rt/app:v1"),
        &format!("oci:{}:v1", layout.display()),
    ])
    .assert_success();
    for img in &imgs {
        for d in [
            &img.manifest_digest,
            &img.config_digest,
            &img.layers[0].digest,
        ] {
            let p = layout.join("blobs/sha256").join(d.hex());
            assert_eq!(common::digest_file(&p), d.to_string());
        }
    }
    assert_eq!(
        common::digest_file(layout.join("blobs/sha256").join(top.hex())),
        top.to_string()
    );

    // ironhull pulls it back: all runnable platforms, verified into the cache.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let set = client
        .pull(&reference(host, "rt/app:v1"), &[], &cache)
        .unwrap();
    assert_eq!(set.index_digest.as_ref(), Some(&top));
    assert_eq!(set.images.len(), 2);
    for (got, want) in set.images.iter().zip(&imgs) {
        assert_eq!(got.manifest_digest, want.manifest_digest);
        assert_eq!(got.config_bytes, want.config_bytes);
        assert_eq!(got.layers, want.layers, "diff_ids come from the config");
        assert!(cache.contains(&got.layers[0].digest));
    }
    // resolve() agrees and names the media type.
    let (d, mt) = client.resolve(&reference(host, "rt/app:v1")).unwrap();
    assert_eq!((d, mt.as_str()), (top.clone(), media::OCI_INDEX));
    // By digest works too, and a wrong pinned digest is refused.
    let pinned = reference(host, &format!("rt/app@{top}"));
    assert_eq!(client.pull(&pinned, &[], &cache).unwrap().images.len(), 2);
}

#[test]
fn platform_selection_and_missing_platform() {
    let Some(env) = env() else { return };
    let host = &env.registry.host;
    let client = Client::new(opts()).unwrap();
    let (_top, _src, imgs) = push_two_platforms(&client, host, "plat/app", "v1", "platforms");

    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let set = client
        .pull(
            &reference(host, "plat/app:v1"),
            &[Platform::linux("arm64", None)],
            &cache,
        )
        .unwrap();
    assert_eq!(set.images.len(), 1);
    assert_eq!(set.images[0].manifest_digest, imgs[1].manifest_digest);
    assert_eq!(set.images[0].platform.to_string(), "linux/arm64/v8");
    assert!(
        !cache.contains(&imgs[0].layers[0].digest),
        "amd64 layer must not be fetched"
    );

    let empty_dir = tempfile::tempdir().unwrap();
    let empty = BlobStore::open(empty_dir.path()).unwrap();
    let e = client
        .pull(
            &reference(host, "plat/app:v1"),
            &[Platform::linux("s390x", None)],
            &empty,
        )
        .unwrap_err();
    assert!(matches!(e, RegistryError::PlatformNotFound { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("linux/s390x")
            && msg.contains("linux/amd64")
            && msg.contains("linux/arm64/v8"),
        "{msg}"
    );
    assert_eq!(
        reg::blob_count(empty_dir.path()),
        0,
        "no partial output on error"
    );

    // A missing tag names the registry and repository.
    let e = client
        .pull(&reference(host, "plat/app:nope"), &[], &empty)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not found") && e.contains("plat/app") && e.contains(host.as_str()),
        "{e}"
    );
}

#[test]
fn second_push_uploads_nothing_and_chunked_upload_works() {
    let Some(env) = env() else { return };
    // An own proxy: the shared one also logs the requests of tests running
    // in parallel, and this test counts requests exactly.
    let proxy = reg::Proxy::start(env.registry.port);
    let host = proxy.host();
    // Tiny chunk limits so a small layer takes the PATCH path.
    let client = Client::new(opts()).unwrap().with_upload_chunking(200, 150);
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    // Incompressible-ish content so the gzip layer exceeds 200 bytes.
    let content: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let img = reg::image(&store, &Platform::linux("amd64", None), &content);
    assert!(
        img.layers[0].size > 300,
        "layer too small for the chunk test"
    );
    let top = ironhull::image::Descriptor::new(
        media::OCI_MANIFEST,
        img.manifest_digest.clone(),
        img.manifest_bytes.len() as u64,
    );
    let r = reference(&host, "again/app:1");
    proxy.take();
    client
        .push(
            &r,
            &["1".into()],
            &top,
            &img.manifest_bytes,
            std::slice::from_ref(&img),
            &store,
            None,
        )
        .unwrap();
    let first = proxy.take();
    let patches = first.iter().filter(|l| l.starts_with("PATCH ")).count();
    assert!(patches >= 2, "expected a chunked upload, got {first:#?}");
    assert!(
        first
            .iter()
            .any(|l| l.starts_with("PUT ") && l.contains("/manifests/1")),
        "{first:#?}"
    );

    // Second push: HEAD requests only (two blobs, the tag), nothing written.
    let client2 = Client::new(opts()).unwrap();
    client2
        .push(
            &r,
            &["1".into()],
            &top,
            &img.manifest_bytes,
            std::slice::from_ref(&img),
            &store,
            None,
        )
        .unwrap();
    let second = proxy.take();
    let uploads: Vec<_> = second
        .iter()
        .filter(|l| l.contains("/blobs/") && !l.starts_with("HEAD "))
        .collect();
    assert!(
        uploads.is_empty(),
        "second push uploaded blobs: {uploads:#?}"
    );
    let not_head: Vec<_> = second
        .iter()
        .filter(|l| !l.starts_with("HEAD ") && !l.ends_with("/v2/"))
        .collect();
    assert!(
        not_head.is_empty(),
        "second push must only send HEADs: {second:#?}"
    );
    assert_eq!(
        second.iter().filter(|l| l.starts_with("HEAD ")).count(),
        3,
        "{second:#?}"
    );

    // The chunked blob arrived intact: pull it back and compare.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let set = client2
        .pull(&reference(&env.registry.host, "again/app:1"), &[], &cache)
        .unwrap();
    assert_eq!(set.images[0].layers, img.layers);
    assert_eq!(
        std::fs::read(cache.path(&img.layers[0].digest)).unwrap(),
        std::fs::read(store.path(&img.layers[0].digest)).unwrap()
    );
}

#[test]
fn cross_repo_mount_and_push_manifest() {
    let Some(env) = env() else { return };
    let client = Client::new(opts()).unwrap();
    let host = env.proxy.host();
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let img = reg::image(&store, &Platform::linux("amd64", None), b"mount me");
    let top = ironhull::image::Descriptor::new(
        media::OCI_MANIFEST,
        img.manifest_digest.clone(),
        img.manifest_bytes.len() as u64,
    );
    let base = reference(&host, "mount/base:1");
    client
        .push(
            &base,
            &["1".into()],
            &top,
            &img.manifest_bytes,
            std::slice::from_ref(&img),
            &store,
            None,
        )
        .unwrap();
    env.proxy.take();
    let app = reference(&host, "mount/app:1");
    client
        .push(
            &app,
            &["1".into()],
            &top,
            &img.manifest_bytes,
            std::slice::from_ref(&img),
            &store,
            Some(&base),
        )
        .unwrap();
    let reqs = env.proxy.take();
    assert_eq!(
        reqs.iter()
            .filter(|l| l.starts_with("POST ")
                && l.contains("mount=")
                && l.contains("from=mount%2Fbase"))
            .count(),
        2,
        "{reqs:#?}"
    );
    assert!(
        !reqs
            .iter()
            .any(|l| l.starts_with("PUT ") && l.contains("/blobs/")),
        "mounted blobs must not be uploaded: {reqs:#?}"
    );

    // push_manifest by tag and by digest; a wrong digest is refused locally.
    let d = client
        .push_manifest(&app, "copy", media::OCI_MANIFEST, &img.manifest_bytes)
        .unwrap();
    assert_eq!(d, img.manifest_digest);
    client
        .push_manifest(
            &app,
            &d.to_string(),
            media::OCI_MANIFEST,
            &img.manifest_bytes,
        )
        .unwrap();
    let e = client.push_manifest(
        &app,
        &Digest::of(b"x").to_string(),
        media::OCI_MANIFEST,
        &img.manifest_bytes,
    );
    assert!(e.is_err());
    // Distribution 2.8 predates the referrers API.
    assert!(!client.supports_referrers(&app).unwrap());
}

#[test]
fn skopeo_pushed_docker_schema2_is_pulled_by_tag_and_digest() {
    let Some(env) = env() else { return };
    let Some(_) = common::require_tool("skopeo") else {
        return;
    };
    let host = &env.registry.host;
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path().join("blobs")).unwrap();
    let img = reg::image(&store, &Platform::linux("amd64", None), b"fixture base");
    let top = ironhull::image::Descriptor::new(
        media::OCI_MANIFEST,
        img.manifest_digest.clone(),
        img.manifest_bytes.len() as u64,
    );
    let layout = dir.path().join("layout");
    ironhull::store::write_oci_layout(
        &layout,
        "base",
        &top,
        &ironhull::store::image_blobs(&img),
        &store,
    )
    .unwrap();
    common::skopeo([
        "copy",
        "--format",
        "v2s2",
        "--dest-tls-verify=false",
        &format!("oci:{}:base", layout.display()),
        &format!("docker://{host}/fixture/base:1"),
    ])
    .assert_success();

    let client = Client::new(opts()).unwrap();
    let (digest, mt) = client.resolve(&reference(host, "fixture/base:1")).unwrap();
    assert_eq!(mt, media::DOCKER_MANIFEST);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    for r in [
        reference(host, "fixture/base:1"),
        reference(host, &format!("fixture/base@{digest}")),
    ] {
        let set = client
            .pull(&r, &[Platform::linux("amd64", None)], &cache)
            .unwrap();
        assert_eq!(set.images.len(), 1);
        assert_eq!(set.images[0].manifest_digest, digest);
        assert_eq!(set.images[0].manifest_media_type, media::DOCKER_MANIFEST);
        assert_eq!(set.images[0].layers[0].diff_id, img.layers[0].diff_id);
        assert_eq!(set.images[0].platform, Platform::linux("amd64", None));
    }
    // A single-platform image that is not the wanted platform: clear error.
    let e = client
        .pull(
            &reference(host, "fixture/base:1"),
            &[Platform::linux("arm64", None)],
            &cache,
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("linux/arm64") && e.contains("linux/amd64"),
        "{e}"
    );
}

#[test]
fn tampered_blob_is_rejected_and_nothing_is_kept() {
    let Some(env) = env() else { return };
    let client = Client::new(opts()).unwrap();
    let (_top, _src, imgs) =
        push_two_platforms(&client, &env.registry.host, "tamper/app", "v1", "tamper");
    // A separate proxy so the tamper switch does not affect other tests.
    let evil = reg::Proxy::start(env.registry.port);
    evil.tamper.store(true, Ordering::SeqCst);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let e = client
        .pull(&reference(&evil.host(), "tamper/app:v1"), &[], &cache)
        .unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("does not match its digest") && msg.contains("tamper/app"),
        "{msg}"
    );
    assert_eq!(
        reg::blob_count(cache_dir.path()),
        0,
        "tampered data must not reach the cache"
    );
    assert!(!cache.contains(&imgs[0].config_digest));
    // Blobs are fetched again next time (nothing half-written is trusted),
    // and the honest path works.
    evil.tamper.store(false, Ordering::SeqCst);
    assert_eq!(
        client
            .pull(&reference(&evil.host(), "tamper/app:v1"), &[], &cache)
            .unwrap()
            .images
            .len(),
        2
    );
}

/// Overwrites the last byte of `path` (same length, different content).
fn flip_last_byte(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(path, bytes).unwrap();
}

/// True when the registry (not the proxy) has blob `d` in repository `repo`.
fn registry_has_blob(env: &Env, repo: &str, d: &Digest) -> bool {
    let url = format!("http://{}/v2/{repo}/blobs/{d}", env.registry.host);
    match ureq::head(&url).call() {
        Ok(r) => r.status().as_u16() == 200,
        Err(ureq::Error::StatusCode(404)) => false,
        Err(e) => panic!("HEAD {url}: {e}"),
    }
}

#[test]
fn damaged_local_blob_is_never_uploaded() {
    let Some(env) = env() else { return };
    let proxy = reg::Proxy::start(env.registry.port);
    let content: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    // (name, monolithic limit, chunk size, damage): one PUT, PATCH chunks,
    // and a file cut short.
    let cases: [(&str, u64, u64, bool); 3] = [
        ("damaged/mono", 1 << 30, 1 << 20, false),
        ("damaged/chunked", 200, 150, false),
        ("damaged/short", 1 << 30, 1 << 20, true),
    ];
    for (repo, mono, chunk, truncate) in cases {
        let client = Client::new(opts())
            .unwrap()
            .with_upload_chunking(mono, chunk);
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let img = reg::image(&store, &Platform::linux("amd64", None), &content);
        let layer = &img.layers[0];
        assert!(layer.size > 300, "layer too small for the chunk case");
        let path = store.path(&layer.digest);
        if truncate {
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        } else {
            flip_last_byte(&path);
        }
        let top = ironhull::image::Descriptor::new(
            media::OCI_MANIFEST,
            img.manifest_digest.clone(),
            img.manifest_bytes.len() as u64,
        );
        proxy.take();
        let e = client
            .push(
                &reference(&proxy.host(), &format!("{repo}:1")),
                &["1".into()],
                &top,
                &img.manifest_bytes,
                std::slice::from_ref(&img),
                &store,
                None,
            )
            .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, RegistryError::BadPush { .. }), "{repo}: {e:?}");
        let why = if truncate {
            "ended 10 bytes early"
        } else {
            "hashes to"
        };
        assert!(
            msg.contains(why) && msg.contains(&path.display().to_string()),
            "{repo}: {msg}"
        );
        let requests = proxy.take();
        // Not retried: one upload attempt for the damaged layer.
        let final_puts = requests
            .iter()
            .filter(|l| l.starts_with("PUT ") && l.contains("/blobs/uploads/"))
            .count();
        assert!(
            !requests
                .iter()
                .any(|l| l.contains("/manifests/1") && l.starts_with("PUT ")),
            "{repo}: no manifest may follow a failed blob: {requests:#?}"
        );
        assert!(
            !registry_has_blob(env, repo, &layer.digest),
            "{repo}: the damaged layer reached the registry"
        );
        if mono > layer.size {
            // Config PUT + one aborted layer PUT at most.
            assert!(final_puts <= 2, "{repo}: retried: {requests:#?}");
        }
    }
}

#[test]
fn transient_errors_are_retried_and_client_errors_are_not() {
    let Some(env) = env() else { return };
    let client = Client::new(opts()).unwrap();
    push_two_platforms(&client, &env.registry.host, "flaky/app", "v1", "flaky");
    let proxy = reg::Proxy::start(env.registry.port);
    let blob_gets = |reqs: &[String]| {
        reqs.iter()
            .filter(|r| r.starts_with("GET ") && r.contains("/blobs/sha256:"))
            .count()
    };

    // 503 and 429 (with Retry-After) are transient: the pull succeeds.
    proxy.faults.lock().unwrap().extend([503, 429]);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let set = client
        .pull(&reference(&proxy.host(), "flaky/app:v1"), &[], &cache)
        .unwrap();
    assert_eq!(set.images.len(), 2);
    assert!(
        proxy.faults.lock().unwrap().is_empty(),
        "both injected faults were hit"
    );
    let first = proxy.take();
    let unique: std::collections::BTreeSet<&String> = first
        .iter()
        .filter(|r| r.contains("/blobs/sha256:"))
        .collect();
    assert_eq!(
        blob_gets(&first),
        unique.len() + 2,
        "exactly the two failed GETs were retried: {first:?}"
    );

    // 400 is the client's fault: no retry, a clear error, nothing cached.
    proxy.faults.lock().unwrap().push(400);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let e = client
        .pull(&reference(&proxy.host(), "flaky/app:v1"), &[], &cache)
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("400") && msg.contains("flaky/app"), "{msg}");
    let second = proxy.take();
    let gets: Vec<&String> = second
        .iter()
        .filter(|r| r.starts_with("GET ") && r.contains("/blobs/sha256:"))
        .collect();
    let distinct: std::collections::BTreeSet<&&String> = gets.iter().collect();
    assert_eq!(
        gets.len(),
        distinct.len(),
        "a 400 must not be retried: {second:?}"
    );
}

#[test]
fn pinned_digest_mismatch_and_registry_down() {
    let Some(env) = env() else { return };
    let client = Client::new(opts()).unwrap();
    let host = &env.registry.host;
    push_two_platforms(&client, host, "pin/app", "v1", "pin");
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let wrong = Digest::of(b"not the index");
    let e = client
        .pull(
            &reference(host, &format!("pin/app:v1@{wrong}")),
            &[],
            &cache,
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::DigestMismatch { .. } | RegistryError::NotFound { .. }
        ),
        "{e}"
    );

    let port = reg::free_port();
    let e = client
        .pull(
            &reference(&format!("127.0.0.1:{port}"), "down/app:1"),
            &[],
            &cache,
        )
        .unwrap_err();
    assert!(matches!(e, RegistryError::Connect { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("cannot reach registry 127.0.0.1:{port}")),
        "{e}"
    );
    assert_eq!(reg::blob_count(cache_dir.path()), 0);
}
