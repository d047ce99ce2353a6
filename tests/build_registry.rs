//! Issue 3, the build side of the registry: a base pulled from the real
//! Distribution registry (by tag and by digest), `build -o docker://…`
//! checked with skopeo, a repeated push that uploads no blob, and a registry
//! that is down.
//!
//! The Alpine fixture is put into the registry by skopeo (not by ironhull),
//! from an OCI layout of the raw minirootfs that the test writes with
//! ironhull's store functions, so the base ironhull pulls is one a third-party
//! tool pushed.

mod common;
#[path = "common/registry.rs"]
mod reg;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use ironhull::digest::Digest;
use ironhull::image::{Descriptor, Platform, media};

/// The started registry plus scratch space for one test.
struct Env {
    registry: reg::Registry,
    dir: tempfile::TempDir,
}

impl Env {
    fn start() -> Option<Env> {
        require_tool("docker-registry")?;
        require_tool("skopeo")?;
        let registry = reg::Registry::start(reg::Auth::None, None);
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("docker-config")).expect("mkdir");
        Some(Env { registry, dir })
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `ironhull build -f spec --cache-dir … --docker-config … extra`.
    fn build(&self, spec: &Path, extra: &[&str]) -> Run {
        let mut c: Command = ironhull_build(spec, &self.path("cache"), extra);
        c.arg("--docker-config").arg(self.path("docker-config"));
        run(c)
    }

    /// Writes the raw Alpine x86_64 minirootfs as an OCI layout, copies it
    /// into the registry as `alpine:3.20` with skopeo, and returns the
    /// digest the registry serves for that tag.
    fn push_alpine(&self) -> Option<String> {
        let tarball = alpine_rootfs("x86_64")?;
        let work = self.path("alpine-work");
        fs::create_dir_all(&work).expect("mkdir");
        let src = ironhull::store::read_rootfs(&tarball, &Platform::linux("amd64", None), &work)
            .expect("read the Alpine rootfs");
        let img = &src.images.images[0];
        let top = Descriptor::new(
            media::OCI_MANIFEST,
            img.manifest_digest.clone(),
            img.manifest_bytes.len() as u64,
        );
        let mut blobs = vec![img.config_digest.clone()];
        blobs.extend(img.layers.iter().map(|l| l.digest.clone()));
        let layout = self.path("alpine-layout");
        ironhull::store::write_oci_layout(&layout, "3.20", &top, &blobs, &src.blobs)
            .expect("write the Alpine layout");
        skopeo([
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:3.20", layout.display()),
            &format!("docker://{}/alpine:3.20", self.registry.host),
        ])
        .assert_success();
        Some(self.remote_digest("alpine:3.20"))
    }

    /// sha256 of the manifest bytes the registry serves for `repo_tag`.
    fn remote_digest(&self, repo_tag: &str) -> String {
        let r = skopeo([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/{repo_tag}", self.registry.host),
        ]);
        r.assert_success();
        Digest::of(r.stdout.as_bytes()).to_string()
    }
}

/// Writes `builder.toml` for hello on `base` into `dir`.
fn hello_spec(dir: &Path, base: &str) -> Option<PathBuf> {
    build_hello_static(&dir.join("build"))?;
    let spec = dir.join("builder.toml");
    fs::write(
        &spec,
        format!(
            r#"[image]
name = "hello"
tags = ["1"]

[base]
image = "{base}"

[user]
uid = 10001

[[artifacts]]
src = "build/hello"
dest = "/app/hello"
mode = 0o555

[config]
entrypoint = ["/app/hello"]
"#
        ),
    )
    .expect("write builder.toml");
    Some(spec)
}

fn parse_json(r: &Run) -> serde_json::Value {
    serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("--json output is not JSON ({e}):\n{}", r.describe()))
}

/// The single manifest of the image tagged `1` in `layout`.
fn only_manifest(layout: &Path) -> serde_json::Value {
    let top = layout_tag_digest(layout, "1");
    let mut m = layout_manifests(layout, &top);
    assert_eq!(m.len(), 1, "one platform expected");
    m.remove(0)
}

/// Hardening really happened on the pulled base: busybox and apk-tools left
/// the package database and no layer carries the busybox binary.
#[track_caller]
fn assert_hardened(json: &serde_json::Value, layout: &Path) {
    let dropped: Vec<&str> = json["hardening"]["droppedPackages"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert!(
        dropped.contains(&"busybox"),
        "busybox must be dropped: {dropped:?}"
    );
    let m = only_manifest(layout);
    for l in m["layers"].as_array().expect("layers") {
        let bytes = layer_bytes(&layout_blob(layout, l["digest"].as_str().unwrap_or("")));
        assert!(
            !tar_paths(&bytes).iter().any(|p| p == "/bin/busybox"),
            "a layer still holds /bin/busybox"
        );
    }
}

#[test]
fn builds_on_a_registry_base_by_tag_and_by_digest() {
    let Some(env) = Env::start() else { return };
    let Some(pushed) = env.push_alpine() else {
        return;
    };
    let host = env.registry.host.clone();

    for (label, base) in [
        ("tag", format!("{host}/alpine:3.20")),
        ("digest", format!("{host}/alpine@{pushed}")),
    ] {
        let Some(spec) = hello_spec(&env.path(&format!("proj-{label}")), &base) else {
            return;
        };
        let layout = env.path(&format!("out-{label}"));
        let r = env.build(
            &spec,
            &["--json", "-o", &format!("oci:{}:1", layout.display())],
        );
        r.assert_success();
        let json = parse_json(&r);
        assert_hardened(&json, &layout);
        let m = only_manifest(&layout);
        assert_eq!(
            m["annotations"]["org.opencontainers.image.base.digest"].as_str(),
            Some(pushed.as_str()),
            "by {label}: base.digest must be what skopeo pushed: {m:#}"
        );
        assert!(
            m["annotations"]["org.opencontainers.image.base.name"]
                .as_str()
                .is_some_and(|n| n.contains("alpine") && !n.contains("://")),
            "by {label}: base.name must name the base as a plain reference: {m:#}"
        );
        let config = read_json(&layout_blob(
            &layout,
            m["config"]["digest"].as_str().unwrap_or(""),
        ));
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(config["config"]["User"], "10001:10001", "{config:#}");
    }

    // A digest the repository does not hold: a clear error, no output.
    let missing = Digest::of(b"not in the registry").to_string();
    let spec = hello_spec(
        &env.path("proj-missing"),
        &format!("{host}/alpine@{missing}"),
    )
    .expect("spec");
    let layout = env.path("out-missing");
    let r = env.build(&spec, &["-o", &format!("oci:{}:1", layout.display())]);
    assert!(
        matches!(r.code(), Some(2 | 3)),
        "a missing base must be an input (2) or registry (3) error:\n{}",
        r.describe()
    );
    assert!(
        r.stderr.contains(&host) && r.stderr.contains("alpine"),
        "the error must name the registry and repository:\n{}",
        r.describe()
    );
    assert!(
        !layout.exists(),
        "a failed build wrote {}",
        layout.display()
    );
}

#[test]
fn pushed_digest_matches_skopeo_and_second_push_uploads_no_blob() {
    let Some(env) = Env::start() else { return };
    let proxy = reg::Proxy::start(env.registry.port);
    let Some(spec) = hello_spec(&env.path("proj"), "static") else {
        return;
    };
    let dest = format!("docker://{}/hello:1", proxy.host());
    let r = env.build(&spec, &["-o", &dest]);
    r.assert_success();
    let printed = printed_digest(&r);
    assert_eq!(
        env.remote_digest("hello:1"),
        printed,
        "skopeo sees another digest than ironhull printed"
    );
    let first = proxy.take();
    assert!(
        first
            .iter()
            .any(|l| l.starts_with("POST ") && l.contains("/blobs/uploads")),
        "the first push must upload blobs: {first:#?}"
    );

    // The same build again: every blob is already there.
    let r = env.build(&spec, &["-o", &dest]);
    r.assert_success();
    assert_eq!(printed_digest(&r), printed);
    let second = proxy.take();
    let uploads: Vec<&String> = second
        .iter()
        .filter(|l| {
            l.contains("/blobs/uploads") || l.starts_with("PATCH ") || l.starts_with("POST ")
        })
        .collect();
    assert!(
        uploads.is_empty(),
        "the second push uploaded blobs: {uploads:#?}\nall requests: {second:#?}"
    );
    assert!(
        second.iter().any(|l| l.starts_with("HEAD ")),
        "the second push must check the blobs with HEAD: {second:#?}"
    );

    // A byte-for-byte copy back with skopeo.
    let back = env.path("back");
    skopeo([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/hello:1", env.registry.host),
        &format!("oci:{}:1", back.display()),
    ])
    .assert_success();
    let local = env.path("local");
    env.build(&spec, &["-o", &format!("oci:{}:1", local.display())])
        .assert_success();
    for m in layout_manifests(&local, &printed) {
        let mut ds = vec![m["config"]["digest"].as_str().unwrap_or("").to_string()];
        ds.extend(
            m["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| l["digest"].as_str().unwrap_or("").to_string()),
        );
        for d in ds {
            assert_eq!(digest_file(layout_blob(&back, &d)), d);
        }
    }
}

#[test]
fn registry_down_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(spec) = hello_spec(&dir.path().join("proj"), "static") else {
        return;
    };
    // Nothing listens on this port (bound, then released).
    let port = reg::free_port();
    let dest = format!("docker://127.0.0.1:{port}/hello:1");
    let cache = dir.path().join("cache");
    let dcfg = dir.path().join("docker-config");
    fs::create_dir_all(&dcfg).expect("mkdir");
    let archive = dir.path().join("hello.tar");
    let mut c = ironhull_build(
        &spec,
        &cache,
        &[
            "-o",
            &dest,
            "-o",
            &format!("oci-archive:{}", archive.display()),
        ],
    );
    c.arg("--docker-config").arg(&dcfg);
    let r = run(c);
    r.assert_code(3);
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{port}")),
        "the error must name the registry:\n{}",
        r.describe()
    );
    assert!(
        !r.stderr.contains("panicked"),
        "no panic on a down registry:\n{}",
        r.describe()
    );
    // The push came first and failed: nothing after it was written.
    assert!(
        !archive.exists(),
        "an output after the failed push was written"
    );

    // A base on a registry that is down: an error naming it, no output.
    let spec2 = hello_spec(
        &dir.path().join("proj2"),
        &format!("127.0.0.1:{port}/alpine:3.20"),
    )
    .expect("spec");
    let layout = dir.path().join("out");
    let mut c = ironhull_build(
        &spec2,
        &cache,
        &["-o", &format!("oci:{}:1", layout.display())],
    );
    c.arg("--docker-config").arg(&dcfg);
    let r = run(c);
    assert!(
        matches!(r.code(), Some(2 | 3)),
        "unexpected exit for a down base registry:\n{}",
        r.describe()
    );
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{port}")),
        "the error must name the registry:\n{}",
        r.describe()
    );
    assert!(
        !layout.exists(),
        "a failed build wrote {}",
        layout.display()
    );
}

/// Issue 3: a registry that is down leaves "no partial local outputs". The
/// outputs are written in `-o` order, so an `oci:` output BEFORE the failed
/// push is already on disk when the push fails (reported to the lead).
#[test]
fn registry_down_leaves_no_earlier_local_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(spec) = hello_spec(&dir.path().join("proj"), "static") else {
        return;
    };
    let port = reg::free_port();
    let layout = dir.path().join("out");
    let mut c = ironhull_build(
        &spec,
        &dir.path().join("cache"),
        &[
            "-o",
            &format!("oci:{}:1", layout.display()),
            "-o",
            &format!("docker://127.0.0.1:{port}/hello:1"),
        ],
    );
    c.arg("--docker-config")
        .arg(dir.path().join("docker-config"));
    let r = run(c);
    r.assert_code(3);
    assert!(
        !layout.exists(),
        "the oci: output was left behind after the push failed"
    );
}
