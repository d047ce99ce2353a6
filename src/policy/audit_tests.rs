//! Unit tests of the audit driver over real layer blobs: secrets across
//! layers, digest/size/diffID/rootfs verification, parallel reads, and the
//! Alpine minirootfs.

use super::*;
use crate::fs::read::tests::{T, gz};
use crate::image::{Platform, media};
use crate::policy::tests::set;
use crate::policy::{Severity, render};
use serde_json::{Value, json};

pub(crate) fn store_layer(store: &BlobStore, tar: &[u8]) -> LayerBlob {
    let blob = gz(tar);
    let digest = store.put(&blob).unwrap();
    LayerBlob {
        media_type: media::OCI_LAYER_GZIP.into(),
        digest,
        size: blob.len() as u64,
        diff_id: Digest::of(tar),
    }
}

pub(crate) fn platform_image(layers: Vec<LayerBlob>, config: Value) -> PlatformImage {
    let manifest = json!({"schemaVersion": 2, "annotations": {
        "org.opencontainers.image.base.name": "docker.io/library/debian:12"}});
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let config_bytes = serde_json::to_vec(&config).unwrap();
    PlatformImage {
        platform: Platform::linux("amd64", None),
        manifest_digest: Digest::of(&manifest_bytes),
        manifest_bytes,
        manifest_media_type: media::OCI_MANIFEST.into(),
        config_digest: Digest::of(&config_bytes),
        config_bytes,
        config,
        layers,
    }
}

const KEY: &[u8] = b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----\n";

#[test]
fn secret_deleted_in_a_later_layer_is_reported_with_its_layer() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let l1 = store_layer(
        &store,
        &T::new()
            .dir("app")
            .file_mode("app/server", 0o755, b"\x7fELF")
            .file("app/deploy.key", KEY)
            .file(
                "app/config.txt",
                b"token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n",
            )
            .finish(),
    );
    let l2 = store_layer(
        &store,
        &T::new()
            .file("app/.wh.deploy.key", b"")
            .file("app/config.txt", b"clean\n")
            .finish(),
    );
    let config = json!({"config": {"User": "10001", "Entrypoint": ["/app/server"],
        "Healthcheck": {"Test": ["CMD", "/app/server"]}},
        "rootfs": {"type": "layers", "diff_ids": [l1.diff_id.to_string(), l2.diff_id.to_string()]}});
    let img = platform_image(vec![l1.clone(), l2.clone()], config);
    let r = audit_image(&img, &store, &Policy::default()).unwrap();
    assert_eq!(
        r.ids(),
        set(&["SEC-001", "SEC-002", "SRC-001"]),
        "{:#?}",
        r.findings
    );
    let key_findings: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.path.as_deref() == Some("/app/deploy.key"))
        .collect();
    assert!(key_findings.iter().any(|f| f.id == "SEC-001"));
    assert!(key_findings.iter().any(|f| f.id == "SEC-002"));
    for f in &key_findings {
        assert_eq!(f.layer.as_ref(), Some(&l1.digest), "{f:?}");
        assert!(
            f.message.contains("deleted by the later layer"),
            "{}",
            f.message
        );
        assert!(f.message.contains(&l2.digest.to_string()), "{}", f.message);
        assert!(
            !f.message.contains("MIIEow"),
            "secret leaked: {}",
            f.message
        );
    }
    let tok = r
        .findings
        .iter()
        .find(|f| f.path.as_deref() == Some("/app/config.txt"))
        .unwrap();
    assert_eq!(tok.id, "SEC-002");
    assert_eq!(tok.layer.as_ref(), Some(&l1.digest));
    assert!(tok.message.contains("overwritten"), "{}", tok.message);
    assert!(!tok.message.contains("0123456789abcdef"), "{}", tok.message);
}

#[test]
fn verifies_digest_size_diff_id_and_rootfs() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let tar = T::new().file("a", b"x").finish();
    let good = store_layer(&store, &tar);
    let cfg = |ids: Vec<String>| json!({"rootfs": {"diff_ids": ids}});

    let mut bad = good.clone();
    bad.diff_id = Digest::of(b"other");
    let e = scan_layers(&[bad], &store).unwrap_err();
    assert!(matches!(e, AuditError::DiffIdMismatch { .. }), "{e}");

    let mut bad = good.clone();
    bad.size += 1;
    let e = scan_layers(&[bad], &store).unwrap_err();
    assert!(matches!(e, AuditError::SizeMismatch { .. }), "{e}");

    // A blob whose bytes were swapped under its name.
    let other = gz(&T::new().file("b", b"y").finish());
    std::fs::write(store.path(&good.digest), &other).unwrap();
    let e = scan_layers(std::slice::from_ref(&good), &store).unwrap_err();
    assert!(matches!(e, AuditError::DigestMismatch { .. }), "{e}");

    let e = scan_layers(
        &[store_layer(&store, &tar)],
        &BlobStore::existing(dir.path().join("nope")),
    )
    .unwrap_err();
    assert!(matches!(e, AuditError::Blob { .. }), "{e}");

    let img = platform_image(
        vec![store_layer(&store, &tar)],
        cfg(vec![Digest::of(b"z").to_string()]),
    );
    let e = audit_image(&img, &store, &Policy::default()).unwrap_err();
    assert!(matches!(e, AuditError::RootfsMismatch { .. }), "{e}");

    let mut weird = store_layer(&store, &tar);
    weird.media_type = "application/json".into();
    assert!(matches!(
        scan_layers(&[weird], &store),
        Err(AuditError::NotALayer { .. })
    ));
}

#[test]
fn layers_read_in_parallel_report_like_a_serial_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    // Many layers, so several worker threads race: the first bad layer
    // bottom-up is reported, whichever thread finishes first.
    let mut layers: Vec<LayerBlob> = (0..12)
        .map(|i| {
            let body = format!("AKIAIOSFODNN7EXAMPL{i:X} layer {i}");
            store_layer(&store, &T::new().file("creds", body.as_bytes()).finish())
        })
        .collect();
    let (_, found) = scan_layers(&layers, &store).unwrap();
    // Every layer's copy of /creds is reported, in layer order, and all
    // but the top one are marked as overwritten later.
    let sec: Vec<&Finding> = found.iter().filter(|f| f.id == "SEC-002").collect();
    assert_eq!(sec.len(), 12);
    for (f, l) in sec.iter().zip(&layers) {
        assert!(f.message.contains("AKIA"), "{}", f.message);
        assert_eq!(f.layer.as_ref(), Some(&l.digest));
    }
    assert_eq!(
        sec.iter()
            .filter(|f| f.message.contains("overwritten"))
            .count(),
        11
    );
    for bad in [7, 3] {
        layers[bad].diff_id = Digest::of(b"other");
    }
    for _ in 0..5 {
        match scan_layers(&layers, &store) {
            Err(AuditError::DiffIdMismatch { index, .. }) => assert_eq!(index, 3),
            other => panic!("{:?}", other.err().map(|e| e.to_string())),
        }
    }
}

fn fixture(name: &str) -> Option<std::path::PathBuf> {
    let base = std::env::var_os("IRONHULL_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
        });
    let p = base.join(name);
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("fixture {} missing and CI=true", p.display());
    }
    eprintln!(
        "skipping: fixture {} not found (set IRONHULL_FIXTURES)",
        p.display()
    );
    None
}

/// The real Alpine minirootfs as one layer, with a config without User.
/// Expected: SH-001 (busybox and its applet links), PKG-001 (/sbin/apk,
/// and /lib/libapk.so by content),
/// USR-001 (no User), USR-005 (root's login shell is /bin/sh: genuinely in
/// /etc/passwd), CFG-001 (no HEALTHCHECK: info). Nothing else: no setuid
/// files, /tmp and /var/tmp are sticky, shadow is locked, the apk cache is
/// empty, and /etc/ssl/cert.pem is a CA bundle, not a key.
#[test]
fn alpine_minirootfs() {
    let Some(path) = fixture("alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz") else {
        return;
    };
    let blob = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let digest = store.put(&blob).unwrap();
    let mut dec = flate2::read::MultiGzDecoder::new(&blob[..]);
    let (diff_id, _) = crate::digest::digest_reader(&mut dec).unwrap();
    let layer = LayerBlob {
        media_type: media::OCI_LAYER_GZIP.into(),
        digest,
        size: blob.len() as u64,
        diff_id,
    };
    let config = json!({"architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}});
    let mut img = platform_image(vec![layer], config);
    img.manifest_bytes = b"{}".to_vec();
    let r = audit_image(&img, &store, &Policy::default()).unwrap();
    assert_eq!(
        r.ids(),
        set(&["CFG-001", "PKG-001", "SH-001", "USR-001", "USR-005"]),
        "{}",
        render::to_text("alpine", &r, false)
    );
    let sh: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.id == "SH-001")
        .filter_map(|f| f.path.as_deref())
        .collect();
    for want in ["/bin/busybox", "/bin/sh", "/bin/ash", "/bin/ls"] {
        assert!(sh.contains(&want), "{want} missing from SH-001");
    }
    let pkg: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.id == "PKG-001")
        .filter_map(|f| f.path.as_deref())
        .collect();
    // apk's front end by name, its engine library by content (the
    // strings of the apk database and configuration paths).
    assert_eq!(pkg, ["/lib/libapk.so.2.14.0", "/sbin/apk"]);
    assert_eq!(r.max_severity(), Some(Severity::Critical));
    eprintln!("{}", render::to_text("alpine", &r, false));

    // The same image with the real alpine config's Cmd adds SH-002.
    let mut with_cmd = img.clone();
    with_cmd.config["config"]["Cmd"] = json!(["/bin/sh"]);
    let r = audit_image(&with_cmd, &store, &Policy::default()).unwrap();
    assert!(r.ids().contains("SH-002"));
}
