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
        ("etc/nsswitch.conf", 0o644, 0, Content::File(NSSWITCH.into())),
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
