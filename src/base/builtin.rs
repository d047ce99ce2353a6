//! The built-in `static` base: a distroless/static-like root filesystem that
//! ironhull writes itself, so a statically linked artifact needs no base image
//! from a registry at all.
//!
//! It holds account files for root, nobody and nonroot, name-service and
//! os-release files, a CA bundle, and the directories a non-root process
//! expects (`/tmp`, `/home/nonroot`). No shell, no libc, no package manager.
//!
//! Everything is embedded and written through [`LayerWriter`], so the layer
//! digest depends only on `params` and on the Mozilla root set of the
//! `webpki-root-certs` version in Cargo.lock (updating that crate changes the
//! base digest, by design: it is a content change).

use crate::fs::entry::{Entry, EntryKind, ImagePath};
use crate::image::{LayerBlob, Platform};
use crate::layer::{LayerError, LayerParams, LayerWriter, time};
use crate::store::blobs::BlobStore;
use base64::Engine as _;

/// The uid and gid of the `nonroot` account, as in distroless.
pub const NONROOT_ID: u64 = 65532;

/// Where the CA bundle is written; `SSL_CERT_FILE` points here.
pub const CA_BUNDLE_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";

const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\n\
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n\
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";

/// `tty` is kept (as in distroless) because runtimes mount /dev/pts with gid 5.
const GROUP: &str = "root:x:0:\ntty:x:5:\nnobody:x:65534:\nnonroot:x:65532:\n";

const NSSWITCH: &str = "passwd:         files\n\
group:          files\n\
shadow:         files\n\
hosts:          files dns\n\
networks:       files\n\
protocols:      files\n\
services:       files\n\
ethers:         files\n\
rpc:            files\n";

/// VERSION_ID is a version of this file's contents, not of ironhull: tying it
/// to the crate version would move the base digest (and every image built on
/// it) on each release even when nothing in the base changed. Bump it by hand
/// when the base's contents change meaningfully.
const OS_RELEASE: &str = "PRETTY_NAME=\"ironhull static\"\n\
NAME=\"ironhull static\"\n\
ID=ironhull-static\n\
VERSION_ID=\"1\"\n\
HOME_URL=\"https://github.com/ironhull/ironhull\"\n";

/// The PATH of the base config (the distroless default).
const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Builds the PEM CA bundle from the Mozilla roots in `webpki-root-certs`, in
/// the crate's order, base64 wrapped at 64 columns.
pub fn ca_bundle() -> Vec<u8> {
    let mut out = String::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        // base64 output is ASCII, so byte chunks are valid UTF-8.
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out.into_bytes()
}

enum Content {
    Dir,
    File(Vec<u8>),
}

/// The base's entries, in the layer writer's path order. Parents of files
/// (`/etc`, `/etc/ssl`, `/etc/ssl/certs`) are created by the writer (0755 root).
fn contents() -> Vec<(&'static str, u32, u64, Content)> {
    vec![
        ("etc/group", 0o644, 0, Content::File(GROUP.into())),
        (
            "etc/nsswitch.conf",
            0o644,
            0,
            Content::File(NSSWITCH.into()),
        ),
        ("etc/os-release", 0o644, 0, Content::File(OS_RELEASE.into())),
        ("etc/passwd", 0o644, 0, Content::File(PASSWD.into())),
        (
            "etc/ssl/certs/ca-certificates.crt",
            0o644,
            0,
            Content::File(ca_bundle()),
        ),
        ("home", 0o755, 0, Content::Dir),
        ("home/nonroot", 0o700, NONROOT_ID, Content::Dir),
        ("root", 0o700, 0, Content::Dir),
        ("tmp", 0o1777, 0, Content::Dir),
    ]
}

/// Writes the built-in `static` base layer into `store` and returns it with
/// the base image config (a JSON value, not yet canonicalized: the caller
/// edits it and writes it through `cjson`).
pub fn build_static_base(
    store: &BlobStore,
    platform: &Platform,
    params: &LayerParams,
) -> Result<(LayerBlob, serde_json::Value), LayerError> {
    if platform.os != "linux" {
        return Err(LayerError::UnsupportedPlatform {
            what: "the built-in static base",
            platform: platform.to_string(),
            fix: "it only exists for linux; choose a linux platform or another base",
        });
    }
    // Fail before writing anything if the timestamp cannot be expressed.
    let created = time::rfc3339(params.mtime)?;

    let mut w = LayerWriter::new(store, params)?;
    for (path, mode, owner, content) in contents() {
        // The paths above are constants; a parse failure would be a bug in
        // this file, reported as an error rather than a panic all the same.
        let path = ImagePath::parse(path).map_err(|_| LayerError::BadLinkTarget {
            path: path.to_string(),
            why: "internal error: invalid built-in path",
        })?;
        let kind = match content {
            Content::Dir => EntryKind::Dir,
            Content::File(_) => EntryKind::File,
        };
        let mut e = Entry::new(path, kind, mode);
        e.uid = owner;
        e.gid = owner;
        e.mtime = params.mtime;
        match content {
            Content::Dir => w.append(&e, None)?,
            Content::File(bytes) => {
                e.size = bytes.len() as u64;
                w.append(&e, Some(&mut &bytes[..]))?;
            }
        }
    }
    let layer = w.finish()?;

    let mut config = serde_json::json!({
        "architecture": platform.architecture,
        "os": "linux",
        "created": created,
        "config": {
            "Env": [PATH_ENV, format!("SSL_CERT_FILE={CA_BUNDLE_PATH}")],
            "User": format!("{NONROOT_ID}:{NONROOT_ID}"),
            "WorkingDir": "/",
        },
        "rootfs": {
            "type": "layers",
            "diff_ids": [layer.diff_id.to_string()],
        },
        "history": [{
            "created": created,
            "created_by": "ironhull: built-in static base",
        }],
    });
    if let (Some(v), Some(obj)) = (&platform.variant, config.as_object_mut()) {
        obj.insert("variant".into(), serde_json::Value::String(v.clone()));
    }
    Ok((layer, config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::media;
    use std::io::Read as _;
    use std::process::Command;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let d = tempfile::tempdir().unwrap();
        let s = BlobStore::open(d.path().join("blobs")).unwrap();
        (d, s)
    }

    fn tar_of(s: &BlobStore, l: &LayerBlob) -> Vec<u8> {
        let raw = std::fs::read(s.path(&l.digest)).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn deterministic_across_calls() {
        let (_a, s1) = store();
        let (_b, s2) = store();
        let params = LayerParams::default();
        let amd = Platform::linux("amd64", None);
        let (l1, c1) = build_static_base(&s1, &amd, &params).unwrap();
        let (l2, c2) = build_static_base(&s2, &amd, &params).unwrap();
        assert_eq!(l1, l2);
        assert_eq!(c1, c2);
        assert_eq!(l1.media_type, media::OCI_LAYER_GZIP);
        // The layer does not depend on the platform: one blob for all arches.
        let (l3, c3) = build_static_base(&s1, &Platform::linux("arm64", None), &params).unwrap();
        assert_eq!(l1, l3);
        assert_ne!(c1, c3);
    }

    #[test]
    fn contains_exactly_the_listed_paths() {
        let (_d, s) = store();
        let params = LayerParams {
            mtime: 1_700_000_000,
            ..LayerParams::default()
        };
        let (layer, _) = build_static_base(&s, &Platform::linux("amd64", None), &params).unwrap();
        let bytes = tar_of(&s, &layer);
        let mut a = tar::Archive::new(&bytes[..]);
        let mut got = Vec::new();
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            got.push((
                String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                h.entry_type(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
            ));
            assert_eq!(h.mtime().unwrap(), 1_700_000_000);
            assert_eq!(h.username_bytes(), Some(&b""[..]));
        }
        use tar::EntryType::{Directory as D, Regular as F};
        let want: Vec<(String, tar::EntryType, u32, u64, u64)> = [
            ("etc/", D, 0o755, 0),
            ("etc/group", F, 0o644, 0),
            ("etc/nsswitch.conf", F, 0o644, 0),
            ("etc/os-release", F, 0o644, 0),
            ("etc/passwd", F, 0o644, 0),
            ("etc/ssl/", D, 0o755, 0),
            ("etc/ssl/certs/", D, 0o755, 0),
            ("etc/ssl/certs/ca-certificates.crt", F, 0o644, 0),
            ("home/", D, 0o755, 0),
            ("home/nonroot/", D, 0o700, 65532),
            ("root/", D, 0o700, 0),
            ("tmp/", D, 0o1777, 0),
        ]
        .into_iter()
        .map(|(p, t, m, o)| (p.to_string(), t, m, o, o))
        .collect();
        assert_eq!(got, want);
        for (p, ..) in &got {
            let name = p.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            assert!(
                !["sh", "bash", "ash", "busybox", "apk", "apt", "dpkg"].contains(&name),
                "{p}"
            );
        }
    }

    #[test]
    fn account_files_match_distroless() {
        assert!(
            PASSWD
                .lines()
                .any(|l| l == "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin")
        );
        assert!(PASSWD.lines().all(|l| l.ends_with(":/sbin/nologin")));
        assert_eq!(PASSWD.lines().count(), 3);
        assert!(GROUP.lines().any(|l| l == "nonroot:x:65532:"));
        assert!(NSSWITCH.contains("hosts:          files dns\n"));
        assert!(OS_RELEASE.contains("\nID=ironhull-static\n"));
    }

    #[test]
    fn config_shape() {
        let (_d, s) = store();
        let params = LayerParams {
            mtime: 1_700_000_000,
            ..LayerParams::default()
        };
        let (layer, c) =
            build_static_base(&s, &Platform::linux("arm", Some("v7")), &params).unwrap();
        assert_eq!(c["architecture"], "arm");
        assert_eq!(c["variant"], "v7");
        assert_eq!(c["os"], "linux");
        assert_eq!(c["created"], "2023-11-14T22:13:20Z");
        assert_eq!(c["config"]["User"], "65532:65532");
        assert_eq!(c["config"]["WorkingDir"], "/");
        assert_eq!(
            c["config"]["Env"][1],
            "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
        );
        assert_eq!(c["rootfs"]["diff_ids"][0], layer.diff_id.to_string());
        assert_eq!(c["history"][0]["created"], "2023-11-14T22:13:20Z");
        assert!(c.get("variant").is_some());
        let (_, c) = build_static_base(&s, &Platform::linux("amd64", None), &params).unwrap();
        assert!(c.get("variant").is_none());
        // Canonical JSON round trip works (the caller's next step).
        assert!(crate::cjson::to_vec(&c).is_ok());
    }

    #[test]
    fn refuses_bad_platform_and_time() {
        let (_d, s) = store();
        let win = Platform {
            architecture: "amd64".into(),
            os: "windows".into(),
            variant: None,
        };
        let err = build_static_base(&s, &win, &LayerParams::default()).unwrap_err();
        assert!(
            matches!(err, LayerError::UnsupportedPlatform { .. }),
            "{err}"
        );
        let far = LayerParams {
            mtime: u64::MAX,
            ..LayerParams::default()
        };
        let err = build_static_base(&s, &Platform::linux("amd64", None), &far).unwrap_err();
        assert!(matches!(err, LayerError::Time(_)), "{err}");
        assert!(err.to_string().contains("SOURCE_DATE_EPOCH"));
    }

    #[test]
    fn ca_bundle_is_valid_pem() {
        let pem = String::from_utf8(ca_bundle()).unwrap();
        let mut certs = Vec::new();
        let mut cur: Option<String> = None;
        for line in pem.lines() {
            match (line, cur.as_mut()) {
                ("-----BEGIN CERTIFICATE-----", None) => cur = Some(String::new()),
                ("-----END CERTIFICATE-----", Some(_)) => certs.extend(cur.take()),
                (l, Some(b)) => {
                    assert!(l.len() <= 64, "line longer than 64 columns");
                    b.push_str(l);
                }
                (l, None) => panic!("text outside a PEM block: {l:?}"),
            }
        }
        assert!(cur.is_none(), "unterminated PEM block");
        assert!(certs.len() > 100, "only {} certificates", certs.len());
        assert_eq!(certs.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        for (b64, der) in certs.iter().zip(webpki_root_certs::TLS_SERVER_ROOT_CERTS) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            assert_eq!(decoded, der.as_ref());
            assert_eq!(decoded[0], 0x30, "DER SEQUENCE");
        }
    }

    /// Optional: openssl parses every certificate in the bundle.
    #[test]
    fn ca_bundle_parses_with_openssl_if_present() {
        if Command::new("openssl").arg("version").output().is_err() {
            eprintln!("openssl not found; skipping");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle.pem");
        std::fs::write(&bundle, ca_bundle()).unwrap();
        let p7 = Command::new("openssl")
            .args(["crl2pkcs7", "-nocrl", "-certfile"])
            .arg(&bundle)
            .output()
            .unwrap();
        assert!(
            p7.status.success(),
            "{}",
            String::from_utf8_lossy(&p7.stderr)
        );
        let p7_path = dir.path().join("b.p7");
        std::fs::write(&p7_path, &p7.stdout).unwrap();
        let out = Command::new("openssl")
            .args(["pkcs7", "-print_certs", "-noout", "-in"])
            .arg(&p7_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let subjects = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("subject="))
            .count();
        assert_eq!(subjects, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
    }

    /// Optional: umoci (Go archive/tar underneath, as in skopeo and
    /// containerd) unpacks an image made of the static base plus a layer with
    /// PAX long names, and sees exactly what was written.
    #[test]
    fn umoci_unpacks_base_and_long_names_if_present() {
        use crate::fs::entry::{Entry, EntryKind, ImagePath};
        use crate::image::{Descriptor, Index, Manifest, annotation};
        use std::os::unix::fs::PermissionsExt;
        if Command::new("umoci").arg("--version").output().is_err() {
            eprintln!("umoci not found; skipping");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("layout");
        let s = BlobStore::open(layout.join("blobs")).unwrap();
        let params = LayerParams::default();
        let (base, mut config) =
            build_static_base(&s, &Platform::linux("amd64", None), &params).unwrap();

        let long_dir = format!("opt/{}", "d".repeat(150));
        let long_file = format!("{long_dir}/{}", "f".repeat(90));
        let target = format!("/{long_file}");
        let mut w = LayerWriter::new(&s, &params).unwrap();
        let mut f = Entry::new(
            ImagePath::parse(&long_file).unwrap(),
            EntryKind::File,
            0o640,
        );
        f.size = 4;
        f.uid = 65532;
        w.append(&f, Some(&mut &b"deep"[..])).unwrap();
        let l = Entry::new(
            ImagePath::parse("opt/z-link").unwrap(),
            EntryKind::Symlink {
                target: target.clone(),
            },
            0o777,
        );
        w.append(&l, None).unwrap();
        let app = w.finish().unwrap();

        config["rootfs"]["diff_ids"] =
            serde_json::json!([base.diff_id.to_string(), app.diff_id.to_string()]);
        config["history"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"created": "1970-01-01T00:00:00Z", "created_by": "test"}));
        let cbytes = crate::cjson::to_vec(&config).unwrap();
        let cdig = s.put(&cbytes).unwrap();
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            artifact_type: None,
            config: Descriptor::new(media::OCI_CONFIG, cdig, cbytes.len() as u64),
            layers: vec![base.descriptor(), app.descriptor()],
            subject: None,
            annotations: Default::default(),
        };
        let mbytes = crate::cjson::to_vec(&manifest).unwrap();
        let mdig = s.put(&mbytes).unwrap();
        let mut md = Descriptor::new(media::OCI_MANIFEST, mdig, mbytes.len() as u64);
        md.annotations
            .insert(annotation::REF_NAME.into(), "t".into());
        std::fs::write(
            layout.join("index.json"),
            crate::cjson::to_vec(&Index::new(vec![md])).unwrap(),
        )
        .unwrap();
        std::fs::write(
            layout.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();

        let bundle = dir.path().join("bundle");
        let out = Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:t", layout.display()))
            .arg(&bundle)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "umoci unpack failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let root = bundle.join("rootfs");
        assert_eq!(
            std::fs::read_to_string(root.join("etc/passwd")).unwrap(),
            PASSWD
        );
        assert_eq!(std::fs::read(root.join(&long_file)).unwrap(), b"deep");
        assert_eq!(
            std::fs::read_link(root.join("opt/z-link")).unwrap(),
            std::path::PathBuf::from(&target)
        );
        let mode = |p: &str| {
            std::fs::symlink_metadata(root.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("tmp"), 0o1777);
        assert_eq!(mode(&long_file), 0o640);
        assert_eq!(mode("etc/ssl/certs/ca-certificates.crt"), 0o644);
        assert!(root.join("home/nonroot").is_dir());
        assert!(!root.join("bin/sh").exists());

        // skopeo (containers/image) reads and re-verifies every blob.
        if Command::new("skopeo").arg("--version").output().is_ok() {
            let out = Command::new("skopeo")
                .args(["--insecure-policy", "copy", "--quiet"])
                .arg(format!("oci:{}:t", layout.display()))
                .arg(format!("oci:{}:t", dir.path().join("copy").display()))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "skopeo copy failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                dir.path()
                    .join("copy/blobs/sha256")
                    .join(app.digest.hex())
                    .is_file()
            );
        }
    }
}
