//! A tiny image maker for audit tests: writes OCI image layouts DIRECTLY from
//! a list of layers (each a list of tar entries) and an image config, without
//! going through `ironhull build`.
//!
//! Why not `ironhull build`: the audit corpus must contain exactly the
//! violations a test plants (setuid files, shells, secrets deleted by a later
//! layer, root users...), which the builder refuses to produce by design. It
//! also keeps the corpus independent of the code under test: a bug shared by
//! the builder and the auditor could otherwise hide itself.
//!
//! Everything here panics on failure: it is test harness code, and a broken
//! harness must fail loudly.

#![allow(dead_code)]

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use ironhull::digest::Digest;
use serde_json::{Value, json};

/// What a tar entry is.
#[derive(Clone, Debug)]
pub enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Hardlink(String),
}

/// One tar entry of a layer. `path` is written as given (without a leading
/// `/`), so whiteouts are ordinary files named `.wh.<name>`.
#[derive(Clone, Debug)]
pub struct TarEntry {
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Extended attributes, written as PAX `SCHILY.xattr.<name>` records
    /// (how Docker and containerd carry file capabilities and ACLs).
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// A regular file owned by root.
pub fn file(path: &str, mode: u32, content: impl AsRef<[u8]>) -> TarEntry {
    TarEntry {
        path: path.trim_start_matches('/').to_string(),
        kind: Kind::File(content.as_ref().to_vec()),
        mode,
        uid: 0,
        gid: 0,
        xattrs: Vec::new(),
    }
}

/// A directory owned by root.
pub fn dir(path: &str, mode: u32) -> TarEntry {
    TarEntry {
        path: path.trim_start_matches('/').to_string(),
        kind: Kind::Dir,
        mode,
        uid: 0,
        gid: 0,
        xattrs: Vec::new(),
    }
}

/// A symlink `path -> target`.
pub fn symlink(path: &str, target: &str) -> TarEntry {
    TarEntry {
        path: path.trim_start_matches('/').to_string(),
        kind: Kind::Symlink(target.to_string()),
        mode: 0o777,
        uid: 0,
        gid: 0,
        xattrs: Vec::new(),
    }
}

/// A hard link `path` to the earlier entry `target`.
pub fn hardlink(path: &str, target: &str) -> TarEntry {
    TarEntry {
        path: path.trim_start_matches('/').to_string(),
        kind: Kind::Hardlink(target.trim_start_matches('/').to_string()),
        mode: 0o755,
        uid: 0,
        gid: 0,
        xattrs: Vec::new(),
    }
}

/// An OCI whiteout that deletes `path` (written as `<dir>/.wh.<name>`).
pub fn whiteout(path: &str) -> TarEntry {
    let p = path.trim_start_matches('/');
    let (parent, name) = match p.rsplit_once('/') {
        Some((d, n)) => (format!("{d}/"), n),
        None => (String::new(), p),
    };
    file(&format!("{parent}.wh.{name}"), 0o644, b"")
}

impl TarEntry {
    /// The same entry owned by `uid:gid`.
    pub fn owned(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    /// The same entry with the extended attribute `name` = `value`.
    pub fn xattr(mut self, name: &str, value: &[u8]) -> Self {
        self.xattrs.push((name.to_string(), value.to_vec()));
        self
    }
}

/// Directories every test image gets, so files have parents.
pub fn skeleton() -> Vec<TarEntry> {
    ["app", "etc", "tmp", "usr", "usr/bin", "var"]
        .iter()
        .map(|d| {
            if *d == "tmp" {
                dir(d, 0o1777)
            } else {
                dir(d, 0o755)
            }
        })
        .collect()
}

/// An uncompressed tar of `entries`, with fixed mtimes so digests are stable.
pub fn layer_tar(entries: &[TarEntry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_mtime(1_700_000_000);
        if !e.xattrs.is_empty() {
            let keys: Vec<String> = e
                .xattrs
                .iter()
                .map(|(k, _)| format!("SCHILY.xattr.{k}"))
                .collect();
            let records = keys
                .iter()
                .zip(&e.xattrs)
                .map(|(k, (_, v))| (k.as_str(), v.as_slice()));
            b.append_pax_extensions(records)
                .unwrap_or_else(|err| panic!("tar pax {}: {err}", e.path));
        }
        match &e.kind {
            Kind::File(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, &e.path, data.as_slice())
                    .unwrap_or_else(|err| panic!("tar {}: {err}", e.path));
            }
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, &e.path, std::io::empty())
                    .unwrap_or_else(|err| panic!("tar {}: {err}", e.path));
            }
            Kind::Symlink(target) | Kind::Hardlink(target) => {
                let ty = if matches!(e.kind, Kind::Symlink(_)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                h.set_entry_type(ty);
                h.set_size(0);
                b.append_link(&mut h, &e.path, target)
                    .unwrap_or_else(|err| panic!("tar {}: {err}", e.path));
            }
        }
    }
    b.into_inner().expect("finish tar")
}

/// Writes `bytes` as a blob of the layout at `dir`; returns its digest.
fn put_blob(dir: &Path, bytes: &[u8]) -> Digest {
    let d = Digest::of(bytes);
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).expect("create blobs dir");
    fs::write(blobs.join(d.hex()), bytes).expect("write blob");
    d
}

/// What [`ImageDef::write_layout`] produced.
#[derive(Clone, Debug)]
pub struct Written {
    pub layout: PathBuf,
    pub tag: String,
    /// Digests of the (gzip-compressed) layer blobs, in order.
    pub layers: Vec<String>,
    pub manifest: String,
    pub config: String,
}

impl Written {
    /// The `oci:DIR:TAG` reference ironhull audits.
    pub fn reference(&self) -> String {
        format!("oci:{}:{}", self.layout.display(), self.tag)
    }
}

/// An image to write: layers, the `config` section of the image config, the
/// history, and manifest annotations.
#[derive(Clone, Debug, Default)]
pub struct ImageDef {
    pub layers: Vec<Vec<TarEntry>>,
    /// The `config` object of the OCI image config (User, Env, Entrypoint...).
    pub config: Value,
    /// `history[]`; when empty, one synthetic entry per layer is written.
    pub history: Vec<Value>,
    /// Manifest annotations (e.g. `org.opencontainers.image.base.name`).
    pub annotations: Vec<(String, String)>,
}

impl ImageDef {
    pub fn new(config: Value) -> Self {
        ImageDef {
            config,
            ..Default::default()
        }
    }

    pub fn layer(mut self, entries: Vec<TarEntry>) -> Self {
        self.layers.push(entries);
        self
    }

    pub fn annotation(mut self, k: &str, v: &str) -> Self {
        self.annotations.push((k.to_string(), v.to_string()));
        self
    }

    /// Writes an OCI image layout at `dir` tagged `tag` (linux/amd64).
    pub fn write_layout(&self, dir: &Path, tag: &str) -> Written {
        fs::create_dir_all(dir).expect("create layout dir");
        fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("write oci-layout");
        let mut layer_descs = Vec::new();
        let mut diff_ids = Vec::new();
        let mut layer_digests = Vec::new();
        for entries in &self.layers {
            let raw = layer_tar(entries);
            diff_ids.push(Digest::of(&raw).to_string());
            let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
            gz.write_all(&raw).expect("gzip");
            let gz = gz.finish().expect("gzip finish");
            let d = put_blob(dir, &gz);
            layer_digests.push(d.to_string());
            layer_descs.push(json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": d.to_string(),
                "size": gz.len(),
            }));
        }
        let history = if self.history.is_empty() {
            (0..self.layers.len())
                .map(|i| json!({"created_by": format!("test layer {i}")}))
                .collect()
        } else {
            self.history.clone()
        };
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "config": self.config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        let config_bytes = serde_json::to_vec(&config).expect("config json");
        let config_digest = put_blob(dir, &config_bytes);
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest.to_string(),
                "size": config_bytes.len(),
            },
            "layers": layer_descs,
        });
        if !self.annotations.is_empty() {
            let ann: serde_json::Map<String, Value> = self
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            manifest["annotations"] = Value::Object(ann);
        }
        let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest json");
        let manifest_digest = put_blob(dir, &manifest_bytes);
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest.to_string(),
                "size": manifest_bytes.len(),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }],
        });
        fs::write(
            dir.join("index.json"),
            serde_json::to_vec(&index).expect("index json"),
        )
        .expect("write index.json");
        Written {
            layout: dir.to_path_buf(),
            tag: tag.to_string(),
            layers: layer_digests,
            manifest: manifest_digest.to_string(),
            config: config_digest.to_string(),
        }
    }
}

/// Packs an OCI layout directory into an `oci-archive` tar at `out` (the
/// layout's files at the tar root, as `skopeo copy oci-archive:` writes it).
pub fn oci_archive(layout: &Path, out: &Path) {
    let f = fs::File::create(out).unwrap_or_else(|e| panic!("create {}: {e}", out.display()));
    let mut b = tar::Builder::new(f);
    b.mode(tar::HeaderMode::Deterministic);
    b.append_dir_all(".", layout)
        .unwrap_or_else(|e| panic!("archive {}: {e}", layout.display()));
    b.into_inner()
        .and_then(|mut f| f.flush())
        .unwrap_or_else(|e| panic!("finish {}: {e}", out.display()));
}

/// A realistic-looking (but fake, never valid) RSA private key PEM. Built
/// at run time so this source file itself does not trip secret scanners.
pub fn fake_rsa_pem() -> String {
    let body: String = (0..20)
        .map(|i| {
            let line: String = (0..64)
                .map(|j| {
                    let alphabet =
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                    char::from(alphabet[(i * 31 + j * 7 + i * j) % 64])
                })
                .collect();
            format!("{line}\n")
        })
        .collect();
    format!(
        "-----BEGIN RSA {kind}-----\nMIIEowIBAAKCAQEA{body}-----END RSA {kind}-----\n",
        kind = "PRIVATE KEY"
    )
}

/// A fake AWS access key pair in the format AWS prints (`AKIA` + 16, and a
/// 40-character secret), assembled at run time for the same reason.
pub fn fake_aws_pair() -> (String, String) {
    let id = format!("{}{}", "AKIA", "Q3EGRTYUIOPLKJHG");
    let secret = format!("{}{}", "wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYzq8T3vKp1Lm2");
    (id, secret)
}
