//! Transfer faults between ironhull and the real Distribution registry,
//! injected by the loopback proxy (tests/common/registry.rs): a connection
//! reset in the middle of a blob, a body cut short without an error, a
//! Content-Length that lies, a wrong `Docker-Content-Digest`, bytes that do
//! not match their digest, and a 500 on the manifest PUT after every blob was
//! uploaded. Each is retried or reported, nothing unverified reaches the
//! cache, and no tag ever points at a partial image (checked on the registry
//! itself, behind the proxy).

mod common;
#[path = "common/registry.rs"]
mod reg;

use ironhull::digest::Digest;
use ironhull::image::{Platform, PlatformImage};
use ironhull::reference::Reference;
use ironhull::registry::{Client, Progress, RegistryOptions};
use ironhull::store::BlobStore;
use reg::Fault;
use std::sync::OnceLock;

fn opts() -> RegistryOptions {
    RegistryOptions {
        progress: Progress::Quiet,
        max_concurrency: 1,
        docker_config_dir: Some(std::env::temp_dir().join("ironhull-no-docker-config")),
        ..Default::default()
    }
}

fn registry() -> Option<&'static reg::Registry> {
    static REG: OnceLock<reg::Registry> = OnceLock::new();
    common::require_tool("docker-registry")?;
    Some(REG.get_or_init(|| reg::Registry::start(reg::Auth::None, None)))
}

fn reference(host: &str, repo_tag: &str) -> Reference {
    Reference::parse(&format!("{host}/{repo_tag}")).unwrap()
}

/// A one-platform image with a layer big enough that "half the body" is a
/// real cut (incompressible bytes).
fn image(marker: &str) -> (tempfile::TempDir, BlobStore, PlatformImage) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let content: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .chain(marker.bytes())
        .collect();
    let img = reg::image(&store, &Platform::linux("amd64", None), &content);
    (dir, store, img)
}

fn push(
    client: &Client,
    host: &str,
    repo_tag: &str,
    img: &PlatformImage,
    store: &BlobStore,
) -> Result<Digest, String> {
    let (_, tag) = repo_tag.split_once(':').unwrap();
    let top = ironhull::image::Descriptor::new(
        &img.manifest_media_type,
        img.manifest_digest.clone(),
        img.manifest_bytes.len() as u64,
    );
    client
        .push(
            &reference(host, repo_tag),
            &[tag.to_string()],
            &top,
            &img.manifest_bytes,
            std::slice::from_ref(img),
            store,
            None,
        )
        .map_err(|e| e.to_string())
}

/// What the registry itself (not the proxy) answers for a manifest: the
/// status and, on 200, the digest of the bytes.
fn registry_manifest(r: &reg::Registry, repo: &str, reference: &str) -> (u16, Option<Digest>) {
    let url = format!("http://{}/v2/{repo}/manifests/{reference}", r.host);
    let accept =
        "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
    match ureq::get(&url).header("accept", accept).call() {
        Ok(mut resp) => {
            let body = resp.body_mut().read_to_vec().unwrap();
            (200, Some(Digest::of(&body)))
        }
        Err(ureq::Error::StatusCode(s)) => (s, None),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

fn blob_path(img: &PlatformImage) -> String {
    format!("/blobs/{}", img.layers[0].digest)
}

#[test]
fn pull_retries_a_blob_cut_short_and_keeps_only_verified_bytes() {
    let Some(r) = registry() else { return };
    let client = Client::new(opts()).unwrap();
    let (_d, store, img) = image("pull-cut");
    push(&client, &r.host, "faults/pull:1", &img, &store).unwrap();
    for fault in [Fault::ResetMidBody, Fault::CloseEarly, Fault::ShortLength] {
        let proxy = reg::Proxy::start(r.port);
        // Twice in a row: the third attempt gets the whole blob.
        proxy.inject("GET", &blob_path(&img), fault.clone());
        proxy.inject("GET", &blob_path(&img), fault.clone());
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = BlobStore::open(cache_dir.path()).unwrap();
        let set = client
            .pull(&reference(&proxy.host(), "faults/pull:1"), &[], &cache)
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert!(
            proxy.pending().is_empty(),
            "{fault:?}: both faults were hit"
        );
        assert_eq!(set.images[0].layers[0].digest, img.layers[0].digest);
        let gets = proxy
            .take()
            .iter()
            .filter(|l| l.starts_with("GET ") && l.contains(&blob_path(&img)))
            .count();
        assert_eq!(gets, 3, "{fault:?}: two cut transfers, then one whole");
        let bytes = std::fs::read(cache.path(&img.layers[0].digest)).unwrap();
        assert_eq!(Digest::of(&bytes), img.layers[0].digest, "{fault:?}");
    }
}

#[test]
fn pull_reports_a_blob_cut_short_every_time_and_caches_nothing() {
    let Some(r) = registry() else { return };
    let client = Client::new(opts()).unwrap();
    let (_d, store, img) = image("pull-cut-always");
    push(&client, &r.host, "faults/always:1", &img, &store).unwrap();
    let proxy = reg::Proxy::start(r.port);
    for _ in 0..8 {
        proxy.inject("GET", &blob_path(&img), Fault::CloseEarly);
    }
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let e = client
        .pull(&reference(&proxy.host(), "faults/always:1"), &[], &cache)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&img.layers[0].digest.to_string()) && e.contains("faults/always"),
        "names the blob and the repository: {e}"
    );
    assert!(
        !cache.contains(&img.layers[0].digest),
        "nothing partial is cached"
    );
    let gets = proxy
        .take()
        .iter()
        .filter(|l| l.contains(&blob_path(&img)))
        .count();
    assert_eq!(gets, 4, "bounded retries");
}

#[test]
fn pull_reports_corrupt_bytes_and_a_wrong_digest_header() {
    let Some(r) = registry() else { return };
    let client = Client::new(opts()).unwrap();
    let (_d, store, img) = image("pull-corrupt");
    push(&client, &r.host, "faults/corrupt:1", &img, &store).unwrap();

    // Bytes that do not match the digest: reported, not cached.
    let proxy = reg::Proxy::start(r.port);
    proxy.inject("GET", &blob_path(&img), Fault::Corrupt);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobStore::open(cache_dir.path()).unwrap();
    let e = client
        .pull(&reference(&proxy.host(), "faults/corrupt:1"), &[], &cache)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not match its digest"), "{e}");
    assert!(!cache.contains(&img.layers[0].digest));

    // A manifest fetched by tag whose Docker-Content-Digest is wrong: the
    // claim and the bytes disagree, so neither is trusted.
    let proxy = reg::Proxy::start(r.port);
    proxy.inject("GET", "/manifests/1", Fault::WrongDigestHeader);
    let e = client
        .pull(&reference(&proxy.host(), "faults/corrupt:1"), &[], &cache)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("does not match its digest") && e.contains("manifest"),
        "{e}"
    );
    assert!(!cache.contains(&img.layers[0].digest));
    // A wrong header on a blob is irrelevant: blobs are verified by content.
    let proxy = reg::Proxy::start(r.port);
    proxy.inject("GET", &blob_path(&img), Fault::WrongDigestHeader);
    client
        .pull(&reference(&proxy.host(), "faults/corrupt:1"), &[], &cache)
        .unwrap();
    assert!(cache.contains(&img.layers[0].digest));
}

#[test]
fn push_survives_a_reset_upload_and_a_transient_manifest_500() {
    let Some(r) = registry() else { return };
    let client = Client::new(opts()).unwrap();
    let (_d, store, img) = image("push-retry");
    let proxy = reg::Proxy::start(r.port);
    proxy.inject("PUT", "/blobs/uploads/", Fault::ResetMidBody);
    proxy.inject("PUT", "/manifests/1", Fault::Status(500));
    let d = push(&client, &proxy.host(), "faults/push:1", &img, &store).unwrap();
    assert!(
        proxy.pending().is_empty(),
        "both faults were hit: {:?}",
        proxy.pending()
    );
    assert_eq!(d, img.manifest_digest);
    assert_eq!(registry_manifest(r, "faults/push", "1"), (200, Some(d)));
}

#[test]
fn push_whose_manifest_put_keeps_failing_leaves_no_tag() {
    let Some(r) = registry() else { return };
    let client = Client::new(opts()).unwrap();
    let (_d, store, img) = image("push-500");
    let proxy = reg::Proxy::start(r.port);
    for _ in 0..8 {
        proxy.inject("PUT", "/manifests/", Fault::Status(500));
    }
    let e = push(&client, &proxy.host(), "faults/push500:1", &img, &store).unwrap_err();
    assert!(e.contains("500") && e.contains("faults/push500"), "{e}");
    let reqs = proxy.take();
    assert!(
        reqs.iter()
            .filter(|l| l.starts_with("PUT ") && l.contains("/blobs/uploads/"))
            .count()
            >= 2,
        "every blob was uploaded before the manifest: {reqs:#?}"
    );
    assert_eq!(registry_manifest(r, "faults/push500", "1").0, 404, "no tag");
}

#[test]
fn push_refuses_a_registry_that_stores_a_different_digest() {
    let Some(r) = registry() else { return };
    let client = Client::new(opts()).unwrap();
    let (_d, store, img) = image("push-echo");
    let proxy = reg::Proxy::start(r.port);
    proxy.inject("PUT", "/blobs/uploads/", Fault::WrongDigestHeader);
    let e = push(&client, &proxy.host(), "faults/echo:1", &img, &store).unwrap_err();
    assert!(e.contains("as stored by the registry"), "{e}");
    let reqs = proxy.take();
    assert!(
        !reqs
            .iter()
            .any(|l| l.starts_with("PUT ") && l.contains("/manifests/")),
        "no manifest follows a blob the registry got wrong: {reqs:#?}"
    );
    assert_eq!(registry_manifest(r, "faults/echo", "1").0, 404, "no tag");
}
