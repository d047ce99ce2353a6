//! End to end: `ironhull build` on the hello-static example, then the image is
//! unpacked by umoci and run by runc, i.e. by real tools that know nothing
//! about ironhull. The example's `builder.toml` is used as shipped, copied next
//! to a freshly compiled `build/hello` in a temp dir so the source tree is
//! never written to.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

const TAG: &str = "1.0.0";

/// A temp project: the example's builder.toml plus `build/hello`, or `None`
/// when no C compiler is available (skip).
fn hello_project(dir: &Path) -> Option<PathBuf> {
    build_hello_static(&dir.join("build"))?;
    let spec = dir.join("builder.toml");
    fs::copy(
        repo_root().join("examples/hello-static/builder.toml"),
        &spec,
    )
    .expect("copy builder.toml");
    Some(spec)
}

/// `ironhull build -f SPEC -o oci:LAYOUT:TAG`; returns the printed digest.
fn build_to_layout(spec: &Path, layout: &Path) -> String {
    let mut cmd = ironhull();
    cmd.arg("build")
        .arg("-f")
        .arg(spec)
        .arg("-o")
        .arg(format!("oci:{}:{TAG}", layout.display()));
    let r = run(cmd);
    r.assert_success();
    let digest = r.stdout.trim().lines().last().unwrap_or_default().trim();
    let hex = digest.strip_prefix("sha256:").unwrap_or_else(|| {
        panic!(
            "ironhull build must print the manifest digest, got:\n{}",
            r.describe()
        )
    });
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "not a sha256 digest: {digest:?}"
    );
    digest.to_string()
}

/// The manifest digest that `index.json` of an OCI layout gives for `tag`
/// (directly, or through a nested index for multi-platform images).
fn layout_digest_for_tag(layout: &Path, tag: &str) -> String {
    let text = fs::read_to_string(layout.join("index.json")).expect("index.json");
    let index: serde_json::Value = serde_json::from_str(&text).expect("index.json is JSON");
    let manifests = index["manifests"].as_array().expect("manifests array");
    let entry = manifests
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no manifest tagged {tag} in {text}"));
    entry["digest"].as_str().expect("digest string").to_string()
}

#[test]
fn hello_static_builds_unpacks_and_runs_as_non_root() {
    let Some(_) = require_tool("umoci") else {
        return;
    };
    if require_runc().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(spec) = hello_project(&dir.path().join("project")) else {
        return;
    };
    let layout = dir.path().join("layout");

    let digest = build_to_layout(&spec, &layout);

    // What was printed is what the layout holds, and the blob is intact.
    assert_eq!(layout_digest_for_tag(&layout, TAG), digest);
    let hex = digest.trim_start_matches("sha256:");
    assert_eq!(digest_file(layout.join("blobs/sha256").join(hex)), digest);

    let bundle = dir.path().join("bundle");
    umoci_unpack(&layout, TAG, &bundle);

    let r = runc_run(&bundle, None);
    r.assert_success();
    assert_eq!(r.stdout, "hello from ironhull: uid=10001 gid=10001\n");

    // No shell in the image: starting /bin/sh must fail.
    let r = runc_run(&bundle, Some(&["/bin/sh"]));
    assert!(
        !r.success(),
        "/bin/sh started inside the image, but it must not exist:\n{}",
        r.describe()
    );
    assert!(r.stderr.contains("/bin/sh"), "{}", r.describe());
    assert!(
        !r.stdout.contains("hello from ironhull"),
        "{}",
        r.describe()
    );
}

#[test]
fn hello_static_build_is_reproducible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(spec) = hello_project(&dir.path().join("project")) else {
        return;
    };
    let first = build_to_layout(&spec, &dir.path().join("one"));
    let second = build_to_layout(&spec, &dir.path().join("two"));
    assert_eq!(first, second, "two builds of the same inputs differ");
}

#[test]
fn missing_artifact_is_an_input_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("builder.toml");
    fs::copy(
        repo_root().join("examples/hello-static/builder.toml"),
        &spec,
    )
    .expect("copy builder.toml");
    let mut cmd = ironhull();
    cmd.arg("build")
        .arg("-f")
        .arg(&spec)
        .arg("-o")
        .arg(format!("oci:{}:{TAG}", dir.path().join("layout").display()));
    let r = run(cmd);
    // Contract: exit 2 = usage/input error, and the message names the file.
    r.assert_code(2);
    assert!(r.stderr.contains("build/hello"), "{}", r.describe());
    assert!(!dir.path().join("layout/index.json").exists());
}
