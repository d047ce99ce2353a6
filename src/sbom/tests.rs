use super::*;
use crate::fs::read::tests::{T, gz};
use crate::image::{LayerBlob, Platform, media};
use serde_json::json;

const APK_DB: &str = "P:busybox\nV:1.36.1-r29\nA:x86_64\nL:GPL-2.0-only\no:busybox\nF:bin\nR:busybox\n\n\
P:libcrypto3\nV:3.3.2-r0\nA:x86_64\nL:Apache-2.0\no:openssl\n\n\
P:ca-certificates-bundle\nV:20240705-r0\nA:x86_64\nL:MPL-2.0 AND MIT\no:ca-certificates\n\n\
P:odd\nV:1.0-r0\nA:x86_64\nL:MIT BSD custom\no:odd\n";

const OS_ALPINE: &str =
    "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n";

fn tree_of(layers: &[Vec<u8>]) -> MergedTree {
    let (t, _) = crate::fs::merge::load_tree(
        layers.iter().enumerate().map(|(i, l)| {
            (
                i,
                Box::new(std::io::Cursor::new(l.clone())) as Box<dyn Read + Send>,
            )
        }),
        &ReadOptions::default(),
        CaptureSet::standard(),
    )
    .unwrap();
    t
}

/// A platform image over `layers` stored in `store`, with `history`.
fn image(store: &BlobStore, layers: &[Vec<u8>], history: serde_json::Value) -> PlatformImage {
    let mut lbs = Vec::new();
    for l in layers {
        let blob = gz(l);
        let d = store.put(&blob).unwrap();
        lbs.push(LayerBlob {
            media_type: media::OCI_LAYER_GZIP.into(),
            digest: d,
            size: blob.len() as u64,
            diff_id: Digest::of(l),
        });
    }
    let config = json!({"architecture": "amd64", "os": "linux", "history": history});
    let config_bytes = crate::cjson::to_vec(&config).unwrap();
    PlatformImage {
        platform: Platform::linux("amd64", None),
        manifest_digest: Digest::of(b"manifest"),
        manifest_bytes: b"manifest".to_vec(),
        manifest_media_type: media::OCI_MANIFEST.into(),
        config_digest: Digest::of(&config_bytes),
        config_bytes,
        config,
        layers: lbs,
    }
}

fn alpine_base() -> Vec<u8> {
    T::new()
        .dir("etc")
        .file("etc/os-release", OS_ALPINE.as_bytes())
        .file("etc/alpine-release", b"3.20.3\n")
        .dir("lib")
        .dir("lib/apk")
        .dir("lib/apk/db")
        .file("lib/apk/db/installed", APK_DB.as_bytes())
        .dir("bin")
        .file_mode("bin/busybox", 0o755, b"\x7fELF")
        .finish()
}

#[test]
fn alpine_packages_os_and_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let app = T::new()
        .dir("app")
        .file_mode("app/server", 0o755, b"binary-content")
        .file("app/config.toml", b"x = 1\n")
        .finish();
    let over = T::new()
        .dir("app")
        .file("app/config.toml", b"overwritten\n")
        .finish();
    let layers = vec![alpine_base(), app, over];
    let img = image(
        &store,
        &layers,
        json!([
            {"created_by": "base"},
            {"created_by": "ironhull: set user", "empty_layer": true},
            {"created_by": "ironhull: add ./server"},
            {"created_by": "someone else"}
        ]),
    );
    let inv = inventory_image(&img, &store).unwrap();
    let os = inv.os.clone().unwrap();
    assert_eq!(os.id, "alpine");
    assert_eq!(os.release.as_deref(), Some("3.20.3"));
    assert_eq!(
        os.osv_ecosystem(Ecosystem::Apk).as_deref(),
        Some("Alpine:v3.20")
    );
    let names: Vec<_> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["busybox", "ca-certificates-bundle", "libcrypto3", "odd"]
    );
    assert_eq!(inv.packages[2].source, "openssl");
    // Only the file that the add layer put there AND that is still from it.
    assert_eq!(inv.artifacts.len(), 1, "{:?}", inv.artifacts);
    let a = &inv.artifacts[0];
    assert_eq!(a.path.as_str(), "app/server");
    assert_eq!(a.sha256, Some(Digest::of(b"binary-content")));
    assert_eq!((a.size, a.mode), (14, 0o755));
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);

    // The tree-only entry point agrees except for the digest.
    let tree = tree_of(&layers);
    let inv2 = inventory(&tree, &img);
    assert_eq!(inv2.packages, inv.packages);
    assert_eq!(inv2.artifacts[0].sha256, None);
}

#[test]
fn history_that_does_not_map_is_a_warning_not_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let img = image(
        &store,
        &[alpine_base()],
        json!([{"created_by": "a"}, {"created_by": "ironhull: add x"}]),
    );
    let inv = inventory_image(&img, &store).unwrap();
    assert!(inv.artifacts.is_empty());
    assert_eq!(inv.warnings.len(), 1);
    assert_eq!(inv.packages.len(), 4);
}

#[test]
fn removed_database_lists_nothing_and_usrmerge_is_read_once() {
    let base = alpine_base();
    let wipe = T::new().file("lib/apk/db/.wh.installed", b"").finish();
    let inv = inventory(&tree_of(&[base, wipe]), &dummy());
    assert!(inv.packages.is_empty());

    let merged = T::new()
        .symlink("lib", "usr/lib")
        .dir("usr")
        .dir("usr/lib")
        .dir("usr/lib/apk")
        .dir("usr/lib/apk/db")
        .file("usr/lib/apk/db/installed", b"P:a\nV:1-r0\n")
        .finish();
    let inv = inventory(&tree_of(&[merged]), &dummy());
    assert_eq!(inv.packages.len(), 1);
    assert!(inv.os.is_none());
}

fn dummy() -> PlatformImage {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    image(&store, &[], json!([]))
}

#[test]
fn distroless_status_d() {
    let layer = T::new()
        .dir("etc")
        .symlink("etc/os-release", "../usr/lib/os-release")
        .dir("usr")
        .dir("usr/lib")
        .file("usr/lib/os-release", b"PRETTY_NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"12\"\n")
        .file("etc/debian_version", b"12.7\n")
        .dir("var")
        .dir("var/lib")
        .dir("var/lib/dpkg")
        .dir("var/lib/dpkg/status.d")
        .file(
            "var/lib/dpkg/status.d/libc6",
            b"Package: libc6\nVersion: 2.36-9+deb12u7+b1\nArchitecture: amd64\nSource: glibc (2.36-9+deb12u7)\n",
        )
        .file("var/lib/dpkg/status.d/libc6.md5sums", b"abc  lib/x\n")
        .file("var/lib/dpkg/status.d/tzdata", b"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n")
        .finish();
    let inv = inventory(&tree_of(&[layer]), &dummy());
    let os = inv.os.clone().unwrap();
    assert_eq!(
        (
            os.id.as_str(),
            os.version_id.as_deref(),
            os.release.as_deref()
        ),
        ("debian", Some("12"), Some("12.7"))
    );
    assert_eq!(
        os.osv_ecosystem(Ecosystem::Deb).as_deref(),
        Some("Debian:12")
    );
    assert_eq!(inv.packages.len(), 2);
    let libc = &inv.packages[0];
    assert_eq!(
        (libc.name.as_str(), libc.source.as_str()),
        ("libc6", "glibc")
    );
    assert_eq!(libc.match_version(), "2.36-9+deb12u7");
    assert_eq!(
        purl::package(libc, inv.os.as_ref()),
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u7%2Bb1?arch=amd64&distro=debian-12"
    );
}

#[test]
fn documents_are_deterministic_and_describe_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let img = image(&store, &[alpine_base()], json!([{"created_by": "base"}]));
    let inv = inventory_image(&img, &store).unwrap();
    let created = "2024-01-01T00:00:00Z";
    let a = crate::cjson::to_vec(&spdx::to_json(&inv, &img, created)).unwrap();
    let b = crate::cjson::to_vec(&spdx::to_json(&inv, &img, created)).unwrap();
    assert_eq!(a, b);
    let doc = spdx::to_json(&inv, &img, created);
    assert_eq!(
        doc["documentNamespace"],
        format!("https://ironhull.dev/spdx/{}", img.manifest_digest.hex())
    );
    assert_eq!(doc["creationInfo"]["created"], created);
    let pkgs = doc["packages"].as_array().unwrap();
    assert_eq!(
        pkgs[0]["checksums"][0]["checksumValue"],
        img.manifest_digest.hex()
    );
    let bundle = pkgs
        .iter()
        .find(|p| p["name"] == "ca-certificates-bundle")
        .unwrap();
    assert_eq!(bundle["licenseDeclared"], "MPL-2.0 AND MIT");
    let odd = pkgs.iter().find(|p| p["name"] == "odd").unwrap();
    assert_eq!(odd["licenseDeclared"], "LicenseRef-MIT-BSD-custom");
    assert_eq!(
        doc["hasExtractedLicensingInfos"][0]["extractedText"],
        "MIT BSD custom"
    );
    let busybox = pkgs.iter().find(|p| p["name"] == "busybox").unwrap();
    assert_eq!(
        busybox["externalRefs"][0]["referenceLocator"],
        "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=3.20.3"
    );

    let cdx = cyclonedx::to_json(&inv, &img, created);
    assert_eq!(cdx, cyclonedx::to_json(&inv, &img, created));
    assert_eq!(
        cdx["metadata"]["component"]["version"],
        img.manifest_digest.to_string()
    );
    let serial = cdx["serialNumber"].as_str().unwrap();
    assert_eq!(serial.len(), "urn:uuid:".len() + 36);
    assert_eq!(&serial[23..24], "5");
    let comps = cdx["components"].as_array().unwrap();
    assert_eq!(comps[0]["type"], "operating-system");
    assert_eq!(comps.len(), 5);
    let odd = comps.iter().find(|c| c["name"] == "odd").unwrap();
    assert_eq!(odd["licenses"][0]["license"]["name"], "MIT BSD custom");
}

#[test]
fn installed_packages_reads_every_database_once() {
    let layer = T::new()
        .dir("lib")
        .dir("lib/apk")
        .dir("lib/apk/db")
        .file("lib/apk/db/installed", APK_DB.as_bytes())
        .dir("usr")
        .dir("usr/lib")
        .symlink("usr/lib/apk", "../../lib/apk")
        .dir("var")
        .dir("var/lib")
        .dir("var/lib/dpkg")
        .file(
            "var/lib/dpkg/status",
            b"Package: base-files\nStatus: install ok installed\nVersion: 12.4\n\n\
              Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
              Package: base-files\nStatus: install ok installed\nVersion: 12.4\n\n\
              Package: noversion\nStatus: install ok installed\n",
        )
        .dir("var/lib/dpkg/status.d")
        .file(
            "var/lib/dpkg/status.d/tzdata",
            b"Package: tzdata\nVersion: 2024a\n",
        )
        .file(
            "var/lib/dpkg/status.d/tzdata.md5sums",
            b"abc  usr/share/x\n",
        )
        .finish();
    let (pkgs, warnings) = installed_packages(&tree_of(&[layer]));
    let names: Vec<(Ecosystem, &str)> = pkgs
        .iter()
        .map(|p| (p.ecosystem, p.name.as_str()))
        .collect();
    // The apk database behind the usr-merge link is read once; the removed,
    // duplicated and version-less dpkg stanzas are not packages.
    assert_eq!(
        names,
        [
            (Ecosystem::Apk, "busybox"),
            (Ecosystem::Apk, "ca-certificates-bundle"),
            (Ecosystem::Apk, "libcrypto3"),
            (Ecosystem::Apk, "odd"),
            (Ecosystem::Deb, "base-files"),
            (Ecosystem::Deb, "tzdata"),
        ]
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("var/lib/dpkg/status:13"),
        "{warnings:?}"
    );
}
