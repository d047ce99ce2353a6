//! Package inventory of an image and SBOM documents (SPDX 2.3, CycloneDX 1.6).
//!
//! The inventory is read from the merged filesystem view, i.e. from what a
//! container would actually see: a package database that a later layer
//! deleted or that hardening rewrote lists exactly what remains. Files that
//! ironhull itself added (the `ironhull: add …` layers of the config history)
//! are listed as artifacts with their content digest, so the SBOM also covers
//! the software that no package manager knows about.

pub mod apk;
pub mod cyclonedx;
pub mod dpkg;
pub mod license;
pub mod purl;
pub mod spdx;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufReader, Read};

use sha2::Digest as _;

use crate::digest::Digest;
use crate::fs::entry::{EntryKind, ImagePath, LayerEvent};
use crate::fs::merge::{CaptureSet, MergedTree};
use crate::fs::read::{ReadError, ReadOptions, read_layer};
use crate::image::PlatformImage;
use crate::store::{BlobStore, VerifyingReader};

/// Which package manager a package belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    Apk,
    Deb,
}

impl Ecosystem {
    /// The purl type (`apk`, `deb`).
    pub fn purl_type(self) -> &'static str {
        match self {
            Ecosystem::Apk => "apk",
            Ecosystem::Deb => "deb",
        }
    }
}

/// One installed OS package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
    /// The source package (apk `o:`, dpkg `Source:`); the binary name when the
    /// database names none. Vulnerability databases key on this.
    pub source: String,
    /// The source version when the database gives one that differs from the
    /// binary version (dpkg `Source: name (version)`).
    pub source_version: Option<String>,
    /// The license field as the database gives it (apk `L:`); dpkg has none.
    pub license: Option<String>,
    pub ecosystem: Ecosystem,
    /// Files the database says the package owns (apk only), image-relative.
    pub files: Vec<String>,
}

impl Package {
    /// The version to match vulnerability ranges against: the source version
    /// when known (binNMUs such as `+b1` differ from the source), else the
    /// package version.
    pub fn match_version(&self) -> &str {
        self.source_version.as_deref().unwrap_or(&self.version)
    }
}

/// What `/etc/os-release` and the distribution release files say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OsInfo {
    /// os-release `ID` (`alpine`, `debian`), or derived from a release file.
    pub id: String,
    /// os-release `VERSION_ID` (`3.20.3`, `12`).
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
    /// The full release: `/etc/alpine-release` or `/etc/debian_version`.
    pub release: Option<String>,
}

impl OsInfo {
    /// The most precise version known: the release file, else VERSION_ID.
    pub fn full_version(&self) -> Option<&str> {
        self.release.as_deref().or(self.version_id.as_deref())
    }

    /// The leading numeric components of the version (`3.20.3` → [3, 20]).
    fn numbers(&self, n: usize) -> Option<Vec<String>> {
        for v in [self.release.as_deref(), self.version_id.as_deref()]
            .into_iter()
            .flatten()
        {
            let parts: Vec<String> = v
                .split(['.', '_', '-'])
                .take(n)
                .map(|c| c.trim().to_string())
                .collect();
            if parts.len() == n
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            {
                return Some(parts);
            }
        }
        None
    }

    /// The OSV ecosystem for packages of `eco` on this OS: `Alpine:v3.20`,
    /// `Debian:12`. `None` when the version cannot be determined.
    pub fn osv_ecosystem(&self, eco: Ecosystem) -> Option<String> {
        match eco {
            Ecosystem::Apk => self
                .numbers(2)
                .map(|p| format!("Alpine:v{}.{}", p[0], p[1])),
            Ecosystem::Deb => {
                let prefix = if self.id == "ubuntu" {
                    "Ubuntu"
                } else {
                    "Debian"
                };
                if prefix == "Ubuntu" {
                    return self.version_id.as_ref().map(|v| format!("Ubuntu:{v}"));
                }
                self.numbers(1).map(|p| format!("{prefix}:{}", p[0]))
            }
        }
    }

    /// The purl `distro` qualifier: `3.20.3` for Alpine, `debian-12` for Debian.
    pub fn purl_distro(&self, eco: Ecosystem) -> Option<String> {
        match eco {
            Ecosystem::Apk => self.full_version().map(str::to_string),
            Ecosystem::Deb => {
                let id = if self.id.is_empty() {
                    "debian"
                } else {
                    self.id.as_str()
                };
                if id == "debian" {
                    self.numbers(1).map(|p| format!("debian-{}", p[0]))
                } else {
                    self.version_id.as_ref().map(|v| format!("{id}-{v}"))
                }
            }
        }
    }

    /// The purl namespace: the os-release ID when it is a plain word, else the
    /// ecosystem's home distribution.
    pub fn purl_namespace(&self, eco: Ecosystem) -> String {
        let ok = !self.id.is_empty()
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        match eco {
            Ecosystem::Apk if ok && self.id != "debian" && self.id != "ubuntu" => self.id.clone(),
            Ecosystem::Apk => "alpine".into(),
            Ecosystem::Deb if ok && self.id != "alpine" => self.id.clone(),
            Ecosystem::Deb => "debian".into(),
        }
    }
}

/// A regular file that an ironhull `add` layer put into the image and that is
/// still present in the final filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    pub path: ImagePath,
    /// Content digest; `None` only when the inventory was computed from a tree
    /// without the layer streams (see [`inventory`]).
    pub sha256: Option<Digest>,
    pub size: u64,
    pub mode: u32,
}

/// Everything that ships in one platform image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    pub os: Option<OsInfo>,
    /// Sorted by ecosystem, name, version, arch.
    pub packages: Vec<Package>,
    /// Sorted by path.
    pub artifacts: Vec<ArtifactFile>,
    /// Things that were skipped or could not be read, for the user to see.
    pub warnings: Vec<String>,
}

/// Why an image could not be inventoried.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error(
        "reading layer {index} ({digest}) of image {manifest} failed: {source}; \
         re-pull or re-build the image"
    )]
    Layer {
        index: usize,
        digest: Digest,
        manifest: Digest,
        #[source]
        source: Box<ReadError>,
    },
    #[error(
        "layer {index} ({digest}) of image {manifest} is missing from the blob store {store}: \
         {source}; re-pull the image"
    )]
    MissingBlob {
        index: usize,
        digest: Digest,
        manifest: Digest,
        store: String,
        #[source]
        source: Box<crate::store::BlobError>,
    },
    #[error("cannot serialize the SBOM document: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// Prefix of the config history `created_by` of layers holding user artifacts.
pub const ARTIFACT_HISTORY_PREFIX: &str = "ironhull: add";

/// Indexes (into `image.layers`) of the layers ironhull added for artifacts.
/// History entries with `empty_layer != true` map 1:1, in order, to layers;
/// when the counts disagree the mapping is unknowable and `None` is returned.
pub fn artifact_layers(image: &PlatformImage) -> Option<BTreeSet<usize>> {
    let history = image.config.get("history").and_then(|h| h.as_array());
    let Some(history) = history else {
        return Some(BTreeSet::new());
    };
    let mut out = BTreeSet::new();
    let mut idx = 0usize;
    for h in history {
        let empty = h
            .get("empty_layer")
            .and_then(|e| e.as_bool())
            .unwrap_or(false);
        if empty {
            continue;
        }
        let by = h.get("created_by").and_then(|c| c.as_str()).unwrap_or("");
        if by.starts_with(ARTIFACT_HISTORY_PREFIX) {
            out.insert(idx);
        }
        idx += 1;
    }
    (idx == image.layers.len()).then_some(out)
}

/// Content digests of the files in artifact layers, keyed by (layer, path).
pub type ArtifactHashes = BTreeMap<(usize, ImagePath), Digest>;

/// The inventory of a merged tree, without artifact content digests (the
/// tree keeps no content of artifact files). Prefer [`inventory_image`].
pub fn inventory(tree: &MergedTree, image: &PlatformImage) -> Inventory {
    inventory_with_hashes(tree, image, &ArtifactHashes::new())
}

/// The inventory of a merged tree, with artifact digests collected while the
/// layers were read.
pub fn inventory_with_hashes(
    tree: &MergedTree,
    image: &PlatformImage,
    hashes: &ArtifactHashes,
) -> Inventory {
    let (packages, warnings) = installed_packages(tree);
    let mut inv = Inventory {
        os: read_os(tree),
        packages,
        warnings,
        ..Inventory::default()
    };
    match artifact_layers(image) {
        Some(layers) => {
            for (path, node) in tree.iter() {
                if !layers.contains(&node.layer) || node.entry.kind != EntryKind::File {
                    continue;
                }
                inv.artifacts.push(ArtifactFile {
                    path: path.clone(),
                    sha256: hashes.get(&(node.layer, path.clone())).cloned(),
                    size: node.entry.size,
                    mode: node.entry.mode & 0o7777,
                });
            }
        }
        None => inv.warnings.push(format!(
            "image {}: the config history does not map onto its {} layers, so the files ironhull \
             added cannot be identified; artifacts are not listed",
            image.manifest_digest,
            image.layers.len()
        )),
    }
    inv
}

/// The OS packages installed in a merged tree (apk and dpkg databases, read
/// by [`apk`] and [`dpkg`]), sorted by ecosystem, name, version, arch and
/// deduplicated, with warnings for databases or stanzas that were skipped.
/// The one package reader: the SBOM, `scan` and `inspect` all count these.
pub fn installed_packages(tree: &MergedTree) -> (Vec<Package>, Vec<String>) {
    let mut inv = Inventory::default();
    read_packages(tree, &mut inv);
    inv.packages.sort_by(|a, b| {
        (a.ecosystem, &a.name, &a.version, &a.arch).cmp(&(
            b.ecosystem,
            &b.name,
            &b.version,
            &b.arch,
        ))
    });
    inv.packages.dedup();
    (inv.packages, inv.warnings)
}

/// Reads every layer of `image` once, bottom-up, from `blobs` (verifying each
/// against its digest while it streams), and returns its inventory. Memory is
/// bounded by the entry count plus the captured package databases.
pub fn inventory_image(image: &PlatformImage, blobs: &BlobStore) -> Result<Inventory, SbomError> {
    let art = artifact_layers(image).unwrap_or_default();
    let mut tree = MergedTree::with_capture(CaptureSet::standard());
    let mut hashes = ArtifactHashes::new();
    let opts = ReadOptions::default();
    for (idx, layer) in image.layers.iter().enumerate() {
        let f = blobs
            .open_read(&layer.digest)
            .map_err(|source| SbomError::MissingBlob {
                index: idx,
                digest: layer.digest.clone(),
                manifest: image.manifest_digest.clone(),
                store: blobs.root().display().to_string(),
                source: Box::new(source),
            })?;
        let r = BufReader::with_capacity(
            1 << 20,
            VerifyingReader::new(f, layer.digest.clone(), layer.size),
        );
        let hash_here = art.contains(&idx);
        read_layer(r, &opts, |ev, content| {
            if hash_here
                && let LayerEvent::Entry(e) = &ev
                && e.kind == EntryKind::File
            {
                let mut tee = Tee {
                    inner: content,
                    hasher: sha2::Sha256::new(),
                };
                tree.apply(idx, &ev, &mut tee).map_err(ReadError::from)?;
                io::copy(&mut tee, &mut io::sink()).map_err(ReadError::Io)?;
                let hex = hex::encode(tee.hasher.finalize());
                if let Ok(d) = Digest::from_hex(&hex) {
                    hashes.insert((idx, e.path.clone()), d);
                }
                return Ok(());
            }
            tree.apply(idx, &ev, content).map_err(ReadError::from)
        })
        .map_err(|source| SbomError::Layer {
            index: idx,
            digest: layer.digest.clone(),
            manifest: image.manifest_digest.clone(),
            source: Box::new(source),
        })?;
    }
    Ok(inventory_with_hashes(&tree, image, &hashes))
}

/// Hashes everything read through it.
struct Tee<'a> {
    inner: &'a mut dyn Read,
    hasher: sha2::Sha256,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The captured content of `p`, following symlinks (Debian's
/// `/etc/os-release` is a link to `../usr/lib/os-release`).
fn content_of<'a>(tree: &'a MergedTree, p: &str) -> Option<(ImagePath, &'a [u8])> {
    let path = ImagePath::parse(p).ok()?;
    let (real, _) = tree.resolve(&path)?;
    tree.content(&real).map(|c| (real, c))
}

fn read_os(tree: &MergedTree) -> Option<OsInfo> {
    let mut os = OsInfo::default();
    let mut found = false;
    if let Some((_, c)) =
        content_of(tree, "etc/os-release").or_else(|| content_of(tree, "usr/lib/os-release"))
    {
        found = true;
        let kv = parse_os_release(&String::from_utf8_lossy(c));
        os.id = kv
            .get("ID")
            .cloned()
            .unwrap_or_default()
            .to_ascii_lowercase();
        os.version_id = kv.get("VERSION_ID").cloned().filter(|v| !v.is_empty());
        os.pretty_name = kv.get("PRETTY_NAME").cloned().filter(|v| !v.is_empty());
    }
    let first_line = |c: &[u8]| {
        String::from_utf8_lossy(c)
            .lines()
            .next()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && l.len() <= 64)
    };
    if let Some((_, c)) = content_of(tree, "etc/alpine-release") {
        found = true;
        os.release = first_line(c);
        if os.id.is_empty() {
            os.id = "alpine".into();
        }
    } else if let Some((_, c)) = content_of(tree, "etc/debian_version") {
        found = true;
        if os.id.is_empty() {
            os.id = "debian".into();
        }
        if os.id == "debian" {
            os.release = first_line(c);
        }
    }
    found.then_some(os)
}

/// Parses os-release(5): `KEY=value`, values optionally quoted.
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            v[1..v.len() - 1]
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
        } else {
            v.to_string()
        };
        out.insert(k.trim().to_string(), v);
    }
    out
}

fn read_packages(tree: &MergedTree, inv: &mut Inventory) {
    let mut seen = BTreeSet::new();
    for db in ["lib/apk/db/installed", "usr/lib/apk/db/installed"] {
        let Ok(path) = ImagePath::parse(db) else {
            continue;
        };
        let Some((real, _)) = tree.resolve(&path) else {
            continue;
        };
        if !seen.insert(real.clone()) {
            continue;
        }
        if let Some(n) = tree.capture_too_big(&real) {
            inv.warnings.push(format!(
                "{real} is {n} bytes, larger than the package database limit; its packages are not listed"
            ));
            continue;
        }
        let Some(c) = tree.content(&real) else {
            continue;
        };
        let (pkgs, skipped) = apk::parse(&String::from_utf8_lossy(c));
        inv.packages.extend(pkgs);
        for s in skipped {
            inv.warnings.push(format!(
                "{real}:{}: {}; the stanza was skipped",
                s.line, s.why
            ));
        }
    }
    let mut dpkg_files: Vec<ImagePath> = Vec::new();
    if let Ok(p) = ImagePath::parse("var/lib/dpkg/status")
        && let Some((real, _)) = tree.resolve(&p)
    {
        dpkg_files.push(real);
    }
    if let Ok(dir) = ImagePath::parse("var/lib/dpkg/status.d")
        && let Some((real_dir, node)) = tree.resolve(&dir)
        && node.entry.is_dir()
    {
        for (p, n) in tree.children(&real_dir) {
            let name = p.file_name();
            // Newer distroless images put `<pkg>.md5sums` beside each stanza.
            if n.entry.kind == EntryKind::File
                && !name.ends_with(".md5sums")
                && !name.starts_with('.')
            {
                dpkg_files.push(p.clone());
            }
        }
    }
    for real in dpkg_files {
        if !seen.insert(real.clone()) {
            continue;
        }
        if let Some(n) = tree.capture_too_big(&real) {
            inv.warnings.push(format!(
                "{real} is {n} bytes, larger than the package database limit; its packages are not listed"
            ));
            continue;
        }
        let Some(c) = tree.content(&real) else {
            continue;
        };
        let (pkgs, skips) = dpkg::parse(&String::from_utf8_lossy(c));
        inv.packages.extend(pkgs);
        for s in skips {
            if let dpkg::Skip::Malformed { line, why } = s {
                inv.warnings
                    .push(format!("{real}:{line}: {why}; the stanza was skipped"));
            }
        }
    }
}

#[cfg(test)]
mod tests;
