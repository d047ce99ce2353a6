//! SBOM and scan on the real Alpine 3.20.3 minirootfs: the inventory matches
//! the `installed` database exactly, the documents validate with the official
//! SPDX and CycloneDX tools, Syft sees the same OS packages, and the OSV test
//! records give exactly the expected findings.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use ironhull::image::{Descriptor, Platform};
use ironhull::sbom::{self, Inventory};
use ironhull::store::{self, Source};
use ironhull::vuln::{self, VulnSeverity, osv};

const CREATED: &str = "2024-09-06T00:00:00Z";

/// The 14 packages of the fixture's lib/apk/db/installed: (name, version, origin).
const EXPECTED: [(&str, &str, &str); 14] = [
    ("alpine-baselayout", "3.6.5-r0", "alpine-baselayout"),
    ("alpine-baselayout-data", "3.6.5-r0", "alpine-baselayout"),
    ("alpine-keys", "2.4-r1", "alpine-keys"),
    ("apk-tools", "2.14.4-r0", "apk-tools"),
    ("busybox", "1.36.1-r29", "busybox"),
    ("busybox-binsh", "1.36.1-r29", "busybox"),
    ("ca-certificates-bundle", "20240705-r0", "ca-certificates"),
    ("libcrypto3", "3.3.2-r0", "openssl"),
    ("libssl3", "3.3.2-r0", "openssl"),
    ("musl", "1.2.5-r0", "musl"),
    ("musl-utils", "1.2.5-r0", "musl"),
    ("scanelf", "1.3.7-r2", "pax-utils"),
    ("ssl_client", "1.36.1-r29", "busybox"),
    ("zlib", "1.3.1-r1", "zlib"),
];

fn alpine(work: &Path) -> Option<Source> {
    let file = common::alpine_rootfs("x86_64")?;
    if !file.to_string_lossy().contains("3.20.3") {
        common::skip_or_fail(&format!(
            "{} is not the 3.20.3 minirootfs this test pins",
            file.display()
        ));
        return None;
    }
    Some(
        store::read_rootfs(&file, &Platform::linux("amd64", None), work)
            .expect("read the minirootfs"),
    )
}

fn inventory(src: &Source) -> Inventory {
    sbom::inventory_image(&src.images.images[0], &src.blobs).expect("inventory")
}

#[test]
fn inventory_equals_the_installed_database() {
    let work = tempfile::tempdir().unwrap();
    let Some(src) = alpine(work.path()) else {
        return;
    };
    let inv = inventory(&src);
    let got: Vec<(&str, &str, &str)> = inv
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.source.as_str()))
        .collect();
    assert_eq!(got, EXPECTED);
    assert!(
        inv.packages
            .iter()
            .all(|p| p.arch.as_deref() == Some("x86_64"))
    );
    let os = inv.os.as_ref().expect("os detected");
    assert_eq!(
        (os.id.as_str(), os.full_version()),
        ("alpine", Some("3.20.3"))
    );
    assert!(
        inv.artifacts.is_empty(),
        "a plain rootfs has no ironhull artifacts"
    );
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
}

fn write_json(dir: &Path, name: &str, v: &serde_json::Value) -> PathBuf {
    let p = dir.join(name);
    let mut bytes = serde_json::to_vec_pretty(v).unwrap();
    bytes.push(b'\n');
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn spdx_validates_with_pyspdxtools() {
    let work = tempfile::tempdir().unwrap();
    let Some(src) = alpine(work.path()) else {
        return;
    };
    let Some(tool) = common::require_tool("pyspdxtools") else {
        return;
    };
    let img = &src.images.images[0];
    let mut inv = inventory(&src);
    // Cover the non-SPDX license path (LicenseRef + extracted text) and an
    // artifact file, which the plain minirootfs does not have.
    inv.packages[0].license = Some("MIT BSD custom".into());
    inv.artifacts.push(sbom::ArtifactFile {
        path: ironhull::fs::entry::ImagePath::parse("app/server").unwrap(),
        sha256: Some(ironhull::digest::Digest::of(b"server")),
        size: 6,
        mode: 0o755,
    });
    let doc = sbom::spdx::to_json(&inv, img, CREATED);
    assert_eq!(
        doc["hasExtractedLicensingInfos"][0]["licenseId"],
        "LicenseRef-MIT-BSD-custom"
    );
    // Same image, same bytes.
    assert_eq!(
        ironhull::cjson::to_vec(&sbom::spdx::to_json(&inventory(&src), img, CREATED)).unwrap(),
        ironhull::cjson::to_vec(&sbom::spdx::to_json(&inventory(&src), img, CREATED)).unwrap()
    );
    let f = write_json(work.path(), "sbom.spdx.json", &doc);
    let mut cmd = Command::new(tool);
    cmd.arg("-i").arg(&f);
    let r = common::run(cmd);
    r.assert_success();
    let text = format!("{}{}", r.stdout, r.stderr);
    assert!(!text.to_lowercase().contains("validation error"), "{text}");
    assert!(!text.contains("SPDXParsingError"), "{text}");

    // A broken document must fail the same check, or the check proves nothing.
    let mut bad = doc.clone();
    bad["packages"][2]["licenseDeclared"] = serde_json::json!("Made-Up-License-1.0");
    let f = write_json(work.path(), "bad.spdx.json", &bad);
    let mut cmd = Command::new(common::find_on_path("pyspdxtools").unwrap());
    cmd.arg("-i").arg(&f);
    let r = common::run(cmd);
    let text = format!("{}{}", r.stdout, r.stderr);
    assert!(
        !r.success() || text.to_lowercase().contains("error"),
        "invalid SPDX was accepted: {text}"
    );
}

const CDX_VALIDATE: &str = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if errors:
    print("INVALID:", errors)
    sys.exit(1)
print("VALID")
"#;

fn cyclonedx_lib_present() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import cyclonedx.validation.json, jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        common::skip_or_fail(
            "python3 module cyclonedx (PyPI cyclonedx-python-lib[json-validation]) not installed (install with .ci/install-deps.sh)",
        );
    }
    ok
}

#[test]
fn cyclonedx_validates_against_the_1_6_schema() {
    let work = tempfile::tempdir().unwrap();
    let Some(src) = alpine(work.path()) else {
        return;
    };
    if common::require_tool("python3").is_none() || !cyclonedx_lib_present() {
        return;
    }
    let img = &src.images.images[0];
    let doc = sbom::cyclonedx::to_json(&inventory(&src), img, CREATED);
    let script = work.path().join("validate.py");
    std::fs::write(&script, CDX_VALIDATE).unwrap();
    let f = write_json(work.path(), "sbom.cdx.json", &doc);
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(&f);
    let r = common::run(cmd);
    r.assert_success();
    assert!(r.stdout.contains("VALID"), "{}", r.describe());

    let mut bad = doc.clone();
    bad["components"][1]["type"] = serde_json::json!("not-a-type");
    let f = write_json(work.path(), "bad.cdx.json", &bad);
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(&f);
    assert!(
        !common::run(cmd).success(),
        "an invalid CycloneDX document was accepted"
    );
}

#[test]
fn syft_lists_the_same_os_packages() {
    let work = tempfile::tempdir().unwrap();
    let Some(src) = alpine(work.path()) else {
        return;
    };
    let Some(syft) = common::require_tool("syft") else {
        return;
    };
    let img = &src.images.images[0];
    let layout = work.path().join("layout");
    let top = Descriptor::new(
        &img.manifest_media_type,
        img.manifest_digest.clone(),
        img.manifest_bytes.len() as u64,
    );
    store::write_oci_layout(
        &layout,
        "latest",
        &top,
        &store::image_blobs(img),
        &src.blobs,
    )
    .expect("write layout");

    let theirs = common::syft_packages(&syft, &layout, "apk");
    let ours: BTreeSet<(String, String)> = inventory(&src)
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    let only_ours: Vec<_> = ours.difference(&theirs).collect();
    let only_theirs: Vec<_> = theirs.difference(&ours).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "package lists differ\n only ironhull: {only_ours:?}\n only syft: {only_theirs:?}"
    );
    assert_eq!(ours.len(), 14);
}

#[test]
fn osv_records_give_exactly_the_expected_findings() {
    let work = tempfile::tempdir().unwrap();
    let Some(src) = alpine(work.path()) else {
        return;
    };
    let inv = inventory(&src);
    let db =
        osv::Database::load(&common::repo_root().join("tests/data/osv"), None).expect("load OSV");
    let res = vuln::scan(&inv, &db);
    let got: Vec<(&str, &str, VulnSeverity, Option<&str>)> = res
        .findings
        .iter()
        .map(|f| {
            (
                f.id.as_str(),
                f.package.as_str(),
                f.severity,
                f.fixed.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("TEST-ALPINE-0008", "musl", VulnSeverity::Critical, None),
            (
                "TEST-ALPINE-0008",
                "musl-utils",
                VulnSeverity::Critical,
                None
            ),
            ("TEST-ALPINE-0003", "busybox", VulnSeverity::High, None),
            (
                "TEST-ALPINE-0003",
                "busybox-binsh",
                VulnSeverity::High,
                None
            ),
            ("TEST-ALPINE-0003", "ssl_client", VulnSeverity::High, None),
            (
                "TEST-ALPINE-0001",
                "libcrypto3",
                VulnSeverity::Medium,
                Some("3.3.2-r1")
            ),
            (
                "TEST-ALPINE-0001",
                "libssl3",
                VulnSeverity::Medium,
                Some("3.3.2-r1")
            ),
        ]
    );
    assert_eq!(res.packages_scanned, 14);
}
