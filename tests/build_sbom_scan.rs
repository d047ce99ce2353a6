//! `build --sbom` and `build --scan-db` on the real Alpine minirootfs: the SBOM
//! lists exactly the packages left after hardening and validates with
//! pyspdxtools; the vulnerability gate refuses an image and writes nothing.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// A project directory: the hello binary and a spec on the Alpine rootfs.
fn project(dir: &Path) -> Option<PathBuf> {
    let rootfs = alpine_rootfs("x86_64")?;
    fs::create_dir_all(dir).expect("mkdir");
    let hello = build_hello_static(dir)?;
    let spec = dir.join("builder.toml");
    fs::write(
        &spec,
        format!(
            "[image]\nname = \"sbom-test\"\ntags = [\"1\"]\n[base]\nimage = \"rootfs:{}\"\n[user]\nuid = 10001\n[[artifacts]]\nsrc = \"{}\"\ndest = \"/app/hello\"\n[config]\nentrypoint = [\"/app/hello\"]\n",
            rootfs.display(),
            hello.display()
        ),
    )
    .expect("write spec");
    Some(spec)
}

fn osv_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/osv/alpine")
}

#[test]
fn sbom_lists_exactly_what_remains_after_hardening() {
    let d = tempfile::tempdir().expect("tempdir");
    let Some(spec) = project(&d.path().join("p")) else {
        return;
    };
    let out = d.path().join("out");
    let r = run(ironhull_build(
        &spec,
        &d.path().join("cache"),
        &["-o", &format!("oci:{}:1", out.display()), "--sbom"],
    ));
    r.assert_success();
    let doc = read_json(&PathBuf::from(format!("{}.spdx.json", out.display())));
    let mut names: Vec<String> = doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| {
            p["externalRefs"].as_array().is_some_and(|r| {
                r.iter().any(|x| {
                    x["referenceLocator"]
                        .as_str()
                        .is_some_and(|l| l.starts_with("pkg:apk/"))
                })
            })
        })
        .map(|p| p["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    // The 14 packages of the minirootfs, less the four hardening removes.
    let expected = [
        "alpine-baselayout",
        "alpine-baselayout-data",
        "alpine-keys",
        "ca-certificates-bundle",
        "libcrypto3",
        "libssl3",
        "musl",
        "musl-utils",
        "scanelf",
        "zlib",
    ];
    assert_eq!(names, expected, "SBOM packages after hardening");
    // The SBOM's subject is the image that was written.
    let printed = printed_digest(&r);
    assert!(
        doc.to_string()
            .contains(printed.trim_start_matches("sha256:")),
        "SBOM names the image digest"
    );
    // Deterministic: a second build gives the same bytes.
    let out2 = d.path().join("out2");
    run(ironhull_build(
        &spec,
        &d.path().join("cache2"),
        &["-o", &format!("oci:{}:1", out2.display()), "--sbom"],
    ))
    .assert_success();
    assert_eq!(
        fs::read(format!("{}.spdx.json", out.display())).expect("read"),
        fs::read(format!("{}.spdx.json", out2.display())).expect("read")
    );
    if let Some(tool) = require_tool("pyspdxtools") {
        let mut c = std::process::Command::new(tool);
        c.arg("-i").arg(format!("{}.spdx.json", out.display()));
        run(c).assert_success();
    }
}

#[test]
fn cyclonedx_sbom_beside_an_archive() {
    let d = tempfile::tempdir().expect("tempdir");
    let Some(spec) = project(&d.path().join("p")) else {
        return;
    };
    let out = d.path().join("img.tar");
    run(ironhull_build(
        &spec,
        &d.path().join("cache"),
        &[
            "-o",
            &format!("oci-archive:{}", out.display()),
            "--sbom",
            "cyclonedx-json",
        ],
    ))
    .assert_success();
    let doc = read_json(&d.path().join("img.tar.cdx.json"));
    assert_eq!(doc["specVersion"], "1.6");
    let comps = doc["components"].as_array().expect("components");
    assert!(comps.iter().any(|c| c["name"] == "musl"));
    assert!(
        !comps.iter().any(|c| c["name"] == "busybox"),
        "busybox was removed by hardening"
    );
}

#[test]
fn vulnerability_gate_refuses_and_writes_nothing() {
    let d = tempfile::tempdir().expect("tempdir");
    let Some(spec) = project(&d.path().join("p")) else {
        return;
    };
    let out = d.path().join("out");
    let db = osv_dir();
    // The test records include a critical, unfixed musl vulnerability.
    let r = run(ironhull_build(
        &spec,
        &d.path().join("cache"),
        &[
            "-o",
            &format!("oci:{}:1", out.display()),
            "--scan-db",
            db.to_str().expect("utf8"),
            "--fail-on",
            "low",
            "--sbom",
        ],
    ));
    r.assert_code(1);
    assert!(
        r.stderr.contains("TEST-ALPINE-0008"),
        "the failing record is named: {}",
        r.stderr
    );
    assert!(r.stderr.contains("TEST-ALPINE-0001"), "{}", r.stderr);
    // busybox's records (0002, 0003) match the raw fixture but not the
    // hardened image: busybox is gone, and the SBOM and scan say so.
    assert!(
        !r.stderr.contains("TEST-ALPINE-0002") && !r.stderr.contains("TEST-ALPINE-0003"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "nothing is written when the scan gate fails");
    assert!(!PathBuf::from(format!("{}.spdx.json", out.display())).exists());
    // The same image passes when unfixed vulnerabilities are ignored and the
    // threshold is above the fixed (medium) ones.
    let r = run(ironhull_build(
        &spec,
        &d.path().join("cache"),
        &[
            "-o",
            &format!("oci:{}:1", out.display()),
            "--scan-db",
            db.to_str().expect("utf8"),
            "--fail-on",
            "high",
            "--ignore-unfixed",
        ],
    ));
    r.assert_success();
    assert!(out.join("index.json").is_file());
}
