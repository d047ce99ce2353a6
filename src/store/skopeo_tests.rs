//! Interoperability: skopeo (containers/image) must accept what ironhull writes,
//! and ironhull must read what skopeo writes. Skipped with a message when skopeo
//! is absent, unless `CI=true`.

use crate::image::Platform;
use crate::store::testutil::{index_of, skopeo, tiny_image};
use crate::store::*;
use std::path::Path;
use std::process::Command;

/// Runs skopeo with an accept-anything policy written for the test (there may
/// be no /etc/containers/policy.json) and returns stdout.
fn run(bin: &Path, tmp: &Path, args: &[&str]) -> String {
    let policy = tmp.join("policy.json");
    std::fs::write(
        &policy,
        br#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let out = Command::new(bin)
        .arg("--policy")
        .arg(&policy)
        .args(args)
        .env("TMPDIR", tmp)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn skopeo_accepts_our_outputs_and_we_read_its() {
    let Some(bin) = skopeo() else { return };
    let t = tempfile::tempdir().unwrap();
    let p = |s: &str| t.path().join(s).to_string_lossy().into_owned();
    let src = BlobStore::open(t.path().join("src")).unwrap();
    let host = Platform::host();
    let a = tiny_image(&src, &host, "a");
    let other = if host.architecture == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let b = tiny_image(&src, &Platform::linux(other, None), "b");
    let (top, blobs) = index_of(&src, &[a.clone(), b]);

    write_oci_layout(Path::new(&p("layout")), "v1", &top, &blobs, &src).unwrap();
    let out = run(
        &bin,
        t.path(),
        &["inspect", &format!("oci:{}:v1", p("layout"))],
    );
    assert!(out.contains(&a.layers[0].digest.to_string()), "{out}");

    write_oci_archive(Path::new(&p("oci.tar")), "v1", &top, &blobs, &src).unwrap();
    let out = run(
        &bin,
        t.path(),
        &["inspect", &format!("oci-archive:{}:v1", p("oci.tar"))],
    );
    assert!(out.contains(&a.layers[0].digest.to_string()), "{out}");

    write_docker_archive(Path::new(&p("docker.tar")), "example.com/app:1", &a, &src).unwrap();
    let out = run(
        &bin,
        t.path(),
        &["inspect", &format!("docker-archive:{}", p("docker.tar"))],
    );
    // skopeo reports docker-archive layers by their diffID (it decompresses).
    assert!(out.contains(&a.layers[0].diff_id.to_string()), "{out}");
    run(
        &bin,
        t.path(),
        &[
            "copy",
            &format!("docker-archive:{}", p("docker.tar")),
            &format!("oci:{}:x", p("copied")),
        ],
    );
    let work = t.path().join("work");
    let s = read_oci_layout(Path::new(&p("copied")), Some("x")).unwrap();
    let img = &s.images.images[0];
    // skopeo re-serializes the config when converting to OCI, so compare content.
    assert_eq!(img.config["rootfs"], a.config["rootfs"]);
    assert_eq!(img.platform, a.platform);
    assert_eq!(img.layers[0].diff_id, a.layers[0].diff_id);

    // skopeo's own docker-archive (legacy layout with <hex>.tar layers) and
    // oci-archive outputs read back to the same image.
    run(
        &bin,
        t.path(),
        &[
            "copy",
            &format!("oci:{}:v1", p("layout")),
            &format!("docker-archive:{}:some/app:2", p("sk-docker.tar")),
        ],
    );
    let s = read_docker_archive(Path::new(&p("sk-docker.tar")), Some("some/app:2"), &work).unwrap();
    assert_eq!(s.images.images[0].config_digest, a.config_digest);
    assert_eq!(s.images.images[0].layers[0].diff_id, a.layers[0].diff_id);
    run(
        &bin,
        t.path(),
        &[
            "copy",
            "--all",
            &format!("oci:{}:v1", p("layout")),
            &format!("oci-archive:{}:v2", p("sk-oci.tar")),
        ],
    );
    let s = read_oci_archive(Path::new(&p("sk-oci.tar")), Some("v2"), &work).unwrap();
    assert_eq!(s.images.images.len(), 2);
    assert_eq!(s.images.index_digest, Some(top.digest.clone()));
}
