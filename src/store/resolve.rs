//! Resolving `index.json` into an [`ImageSet`]: the walk from an index
//! through nested indexes and manifests to configs and layers.
//!
//! Every document on the way is treated as hostile: it is read with a size
//! cap, verified against the digest that referenced it, and its media type
//! must be one ironhull understands. It is its own file because the layout,
//! OCI-archive and Docker-archive readers all share it.

use crate::digest::Digest;
use crate::image::{ImageSet, LayerBlob, Platform, PlatformImage, annotation, media};
use crate::store::MAX_DOC;
use crate::store::blobs::BlobStore;
use crate::store::error::StoreError;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;

/// Maximum nesting of indexes (index → index → ... → manifest).
pub(crate) const MAX_DEPTH: usize = 4;
/// Maximum number of documents one resolution may read; stops fan-out bombs.
const MAX_DOCS: usize = 4096;
/// The annotation containerd and docker 25+ use for the full image name.
pub(crate) const CONTAINERD_NAME: &str = "io.containerd.image.name";
const DOCKER_REF_TYPE: &str = "vnd.docker.reference.type";
const SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub(super) const SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// A descriptor as found in a hostile document: the digest is still a string so
/// that a bad one produces an error naming its location, not a serde message.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawDescriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, rename = "artifactType")]
    pub artifact_type: Option<String>,
}

impl RawDescriptor {
    pub(crate) fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }

    fn digest(&self, where_: &str) -> Result<Digest, StoreError> {
        Digest::parse(&self.digest).map_err(|source| StoreError::BadDigest {
            where_: where_.to_string(),
            source,
        })
    }

    /// Attestation manifests (buildkit provenance / SBOM) are not images.
    fn is_attestation(&self) -> bool {
        self.annotation(DOCKER_REF_TYPE).is_some()
            || self
                .platform
                .as_ref()
                .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
    }

    /// Signatures, attestations and other referrers kept beside an image
    /// in a layout (an `artifactType`, or cosign's `sha256-<hex>.sig`,
    /// `.att`, `.sbom` tags): not what a layout without a tag means.
    pub(crate) fn is_attachment(&self) -> bool {
        if self.artifact_type.is_some() {
            return true;
        }
        let Some(name) = self.annotation(annotation::REF_NAME) else {
            return false;
        };
        let Some(rest) = name.strip_prefix("sha256-") else {
            return false;
        };
        let hex = rest
            .strip_suffix(".sig")
            .or_else(|| rest.strip_suffix(".att"))
            .or_else(|| rest.strip_suffix(".sbom"))
            .unwrap_or(rest);
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// The names this entry answers to when selecting by tag.
    pub(crate) fn names(&self) -> Vec<String> {
        [annotation::REF_NAME, CONTAINERD_NAME]
            .iter()
            .filter_map(|k| self.annotation(k).map(str::to_string))
            .collect()
    }

    /// The label shown in error messages listing what is available.
    pub(crate) fn label(&self) -> String {
        self.annotation(annotation::REF_NAME)
            .or_else(|| self.annotation(CONTAINERD_NAME))
            .map(str::to_string)
            .unwrap_or_else(|| format!("<untagged {}>", self.digest))
    }
}

#[derive(Deserialize)]
struct RawIndex {
    #[serde(default)]
    manifests: Vec<RawDescriptor>,
}

#[derive(Deserialize)]
struct RawManifest {
    config: RawDescriptor,
    #[serde(default)]
    layers: Vec<RawDescriptor>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Index,
    Manifest,
    Schema1,
    Unknown,
}

fn kind_of(mt: &str) -> Kind {
    match mt {
        media::OCI_INDEX | media::DOCKER_LIST => Kind::Index,
        media::OCI_MANIFEST | media::DOCKER_MANIFEST => Kind::Manifest,
        SCHEMA1 | SCHEMA1_SIGNED => Kind::Schema1,
        _ => Kind::Unknown,
    }
}

/// Parses the top-level `index.json` of a layout into its entries.
pub(crate) fn parse_index_json(
    bytes: &[u8],
    where_: &str,
) -> Result<Vec<RawDescriptor>, StoreError> {
    let idx: RawIndex = serde_json::from_slice(bytes).map_err(|e| {
        StoreError::corrupt(where_, format!("index.json is not a valid OCI index: {e}"))
    })?;
    Ok(idx.manifests)
}

/// Picks the `index.json` entries that a tag selects. `None` selects the only
/// entry; several entries with the same tag are all returned (one per platform).
pub(crate) fn select<'a>(
    entries: &'a [RawDescriptor],
    tag: Option<&str>,
    where_: &str,
) -> Result<Vec<&'a RawDescriptor>, StoreError> {
    let available: Vec<String> = {
        let set: BTreeSet<String> = entries.iter().map(RawDescriptor::label).collect();
        set.into_iter().collect()
    };
    match tag {
        None => match entries
            .iter()
            .filter(|e| !e.is_attachment())
            .collect::<Vec<_>>()
            .as_slice()
        {
            [] => Err(StoreError::NoImage {
                where_: where_.into(),
            }),
            [one] => Ok(vec![*one]),
            _ => Err(StoreError::AmbiguousTag {
                available,
                where_: where_.into(),
            }),
        },
        Some(t) => {
            let found: Vec<&RawDescriptor> = entries
                .iter()
                .filter(|e| e.names().iter().any(|n| n == t))
                .collect();
            if found.is_empty() {
                Err(StoreError::TagNotFound {
                    tag: t.into(),
                    available,
                    where_: where_.into(),
                })
            } else {
                Ok(found)
            }
        }
    }
}

/// Walks descriptors down to platform images, verifying every document.
pub(crate) struct Resolver<'a> {
    pub store: &'a BlobStore,
    pub origin: String,
    /// Skip index children whose document is absent (docker 25+ saves of one
    /// platform keep the full index but only that platform's blobs).
    pub skip_missing: bool,
    docs_read: usize,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(store: &'a BlobStore, origin: impl Into<String>) -> Self {
        Self {
            store,
            origin: origin.into(),
            skip_missing: false,
            docs_read: 0,
        }
    }

    /// Resolves the selected top-level entries into an image set.
    pub(crate) fn resolve_entries(
        &mut self,
        entries: &[&RawDescriptor],
    ) -> Result<ImageSet, StoreError> {
        let mut images = Vec::new();
        let mut index_digest = None;
        for e in entries {
            let where_ = format!("{}: index.json entry {}", self.origin, e.label());
            if e.is_attestation() {
                continue;
            }
            let top = self.resolve(e, 0, &where_, &mut images)?;
            if entries.len() == 1
                && let Some(Kind::Index) = top
            {
                index_digest = Some(e.digest(&where_)?);
            }
        }
        if images.is_empty() {
            return Err(StoreError::NoImage {
                where_: self.origin.clone(),
            });
        }
        Ok(ImageSet {
            index_digest,
            images,
        })
    }

    /// Reads and verifies a document; `Ok(None)` when it is missing and
    /// `skip_missing` is set.
    fn read_doc(
        &mut self,
        desc: &RawDescriptor,
        where_: &str,
    ) -> Result<Option<(Digest, Vec<u8>)>, StoreError> {
        self.docs_read += 1;
        if self.docs_read > MAX_DOCS {
            return Err(StoreError::TooDeep {
                where_: where_.into(),
                max: MAX_DEPTH,
            });
        }
        let d = desc.digest(where_)?;
        if self.skip_missing && !self.store.contains(&d) {
            return Ok(None);
        }
        if desc.size > MAX_DOC {
            return Err(StoreError::corrupt(
                where_,
                format!(
                    "descriptor size {} exceeds the {MAX_DOC}-byte limit for manifests, indexes and configs",
                    desc.size
                ),
            ));
        }
        let bytes = self
            .store
            .read_verified(&d, Some(desc.size), MAX_DOC)
            .map_err(StoreError::from_blob(where_))?;
        Ok(Some((d, bytes)))
    }

    /// Resolves one descriptor (index or manifest), appending platform images.
    /// Returns the kind of the document, or `None` if it was skipped as missing.
    fn resolve(
        &mut self,
        desc: &RawDescriptor,
        depth: usize,
        where_: &str,
        out: &mut Vec<PlatformImage>,
    ) -> Result<Option<Kind>, StoreError> {
        if depth > MAX_DEPTH {
            return Err(StoreError::TooDeep {
                where_: where_.into(),
                max: MAX_DEPTH,
            });
        }
        let desc_kind = kind_of(&desc.media_type);
        if desc_kind == Kind::Schema1 {
            return Err(StoreError::DockerSchema1 {
                where_: where_.into(),
            });
        }
        if desc_kind == Kind::Unknown && !desc.media_type.is_empty() {
            return Err(StoreError::UnsupportedMediaType {
                media_type: desc.media_type.clone(),
                where_: where_.into(),
            });
        }
        let Some((digest, bytes)) = self.read_doc(desc, where_)? else {
            return Ok(None);
        };
        let doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::corrupt(where_, format!("not valid JSON: {e}")))?;
        if doc.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1) {
            return Err(StoreError::DockerSchema1 {
                where_: where_.into(),
            });
        }
        let doc_mt = doc.get("mediaType").and_then(|v| v.as_str());
        let doc_kind = match doc_mt {
            Some(mt) => kind_of(mt),
            None if doc.get("manifests").is_some() => Kind::Index,
            None if doc.get("config").is_some() => Kind::Manifest,
            None => Kind::Unknown,
        };
        let kind = match (desc_kind, doc_kind) {
            (_, Kind::Schema1) => {
                return Err(StoreError::DockerSchema1 {
                    where_: where_.into(),
                });
            }
            (Kind::Unknown, Kind::Unknown) => {
                return Err(StoreError::UnsupportedMediaType {
                    media_type: doc_mt.unwrap_or("(none)").into(),
                    where_: where_.into(),
                });
            }
            (Kind::Unknown, k) => k,
            (k, Kind::Unknown) if doc_mt.is_none() => k,
            (_, Kind::Unknown) => {
                return Err(StoreError::UnsupportedMediaType {
                    media_type: doc_mt.unwrap_or_default().into(),
                    where_: where_.into(),
                });
            }
            (a, b) if a != b => {
                return Err(StoreError::corrupt(
                    where_,
                    format!(
                        "descriptor says media type {:?} but the document says {:?}",
                        desc.media_type,
                        doc_mt.unwrap_or_default()
                    ),
                ));
            }
            (a, _) => a,
        };
        let media_type = doc_mt
            .map(str::to_string)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| desc.media_type.clone());
        match kind {
            Kind::Index => {
                let idx: RawIndex = serde_json::from_value(doc).map_err(|e| {
                    StoreError::corrupt(where_, format!("not a valid image index: {e}"))
                })?;
                for (i, child) in idx.manifests.iter().enumerate() {
                    if child.is_attestation() {
                        continue;
                    }
                    let w = format!("{where_} → manifests[{i}] {}", child.digest);
                    self.resolve(child, depth + 1, &w, out)?;
                }
            }
            Kind::Manifest => {
                let m: RawManifest = serde_json::from_value(doc).map_err(|e| {
                    StoreError::corrupt(where_, format!("not a valid image manifest: {e}"))
                })?;
                let img = self.manifest_image(desc, digest, bytes, media_type, m, where_)?;
                out.push(img);
            }
            Kind::Schema1 | Kind::Unknown => {
                return Err(StoreError::UnsupportedMediaType {
                    media_type,
                    where_: where_.into(),
                });
            }
        }
        Ok(Some(kind))
    }

    fn manifest_image(
        &mut self,
        desc: &RawDescriptor,
        manifest_digest: Digest,
        manifest_bytes: Vec<u8>,
        manifest_media_type: String,
        m: RawManifest,
        where_: &str,
    ) -> Result<PlatformImage, StoreError> {
        let cw = format!("{where_} → config {}", m.config.digest);
        if !matches!(
            m.config.media_type.as_str(),
            media::OCI_CONFIG | media::DOCKER_CONFIG
        ) {
            return Err(StoreError::UnsupportedMediaType {
                media_type: m.config.media_type.clone(),
                where_: cw,
            });
        }
        let Some((config_digest, config_bytes)) = self.read_doc_strict(&m.config, &cw)? else {
            return Err(StoreError::MissingBlob {
                where_: cw,
                digest: m.config.digest(where_)?,
            });
        };
        let config: serde_json::Value = serde_json::from_slice(&config_bytes)
            .map_err(|e| StoreError::corrupt(&cw, format!("config is not valid JSON: {e}")))?;
        let from_config = config_platform(&config, &cw)?;
        let platform = match &desc.platform {
            Some(p) => {
                if p.os != from_config.os || p.architecture != from_config.architecture {
                    return Err(StoreError::corrupt(
                        &cw,
                        format!(
                            "the index says platform {p} but the config says {from_config}; the image is inconsistent"
                        ),
                    ));
                }
                p.clone()
            }
            None => from_config,
        };
        let diff_ids = config_diff_ids(&config, &cw)?;
        if diff_ids.len() != m.layers.len() {
            return Err(StoreError::DiffIdCount {
                where_: where_.into(),
                layers: m.layers.len(),
                diff_ids: diff_ids.len(),
            });
        }
        let mut layers = Vec::with_capacity(m.layers.len());
        for (i, (l, diff_id)) in m.layers.iter().zip(diff_ids).enumerate() {
            let lw = format!("{where_} → layers[{i}] {}", l.digest);
            if !media::is_layer(&l.media_type) {
                return Err(StoreError::UnsupportedMediaType {
                    media_type: l.media_type.clone(),
                    where_: lw,
                });
            }
            let digest = l.digest(&lw)?;
            check_blob_file(self.store, &digest, l.size, &lw)?;
            layers.push(LayerBlob {
                media_type: l.media_type.clone(),
                digest,
                size: l.size,
                diff_id,
            });
        }
        Ok(PlatformImage {
            platform,
            manifest_digest,
            manifest_bytes,
            manifest_media_type,
            config_digest,
            config_bytes,
            config,
            layers,
        })
    }

    fn read_doc_strict(
        &mut self,
        desc: &RawDescriptor,
        where_: &str,
    ) -> Result<Option<(Digest, Vec<u8>)>, StoreError> {
        let skip = std::mem::replace(&mut self.skip_missing, false);
        let r = self.read_doc(desc, where_);
        self.skip_missing = skip;
        r
    }
}

/// Checks that a (large) blob exists with the right size, without hashing it:
/// layers are verified while they are streamed (see
/// [`crate::store::Source::open_verified`]).
pub(crate) fn check_blob_file(
    store: &BlobStore,
    d: &Digest,
    size: u64,
    where_: &str,
) -> Result<(), StoreError> {
    match fs::metadata(store.path(d)) {
        Ok(m) if m.is_file() => {
            if m.len() != size {
                return Err(StoreError::SizeMismatch {
                    where_: where_.into(),
                    digest: d.clone(),
                    expected: size,
                    actual: m.len(),
                });
            }
            Ok(())
        }
        Ok(_) => Err(StoreError::MissingBlob {
            where_: where_.into(),
            digest: d.clone(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::MissingBlob {
            where_: where_.into(),
            digest: d.clone(),
        }),
        Err(e) => Err(StoreError::Io {
            path: store.path(d),
            source: e,
        }),
    }
}

/// The platform an image config declares (`os`, `architecture`, `variant`).
pub(crate) fn config_platform(
    config: &serde_json::Value,
    where_: &str,
) -> Result<Platform, StoreError> {
    let field = |k: &str| {
        config
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let (Some(os), Some(arch)) = (field("os"), field("architecture")) else {
        return Err(StoreError::corrupt(
            where_,
            "the image config has no `os`/`architecture`, and no platform was given for it",
        ));
    };
    Ok(Platform {
        os: os.into(),
        architecture: arch.into(),
        variant: field("variant").map(Into::into),
    })
}

/// The config's `rootfs.diff_ids`, validated.
pub(crate) fn config_diff_ids(
    config: &serde_json::Value,
    where_: &str,
) -> Result<Vec<Digest>, StoreError> {
    let Some(ids) = config
        .get("rootfs")
        .and_then(|r| r.get("diff_ids"))
        .and_then(|d| d.as_array())
    else {
        return Err(StoreError::corrupt(
            where_,
            "the image config has no `rootfs.diff_ids` array",
        ));
    };
    ids.iter()
        .enumerate()
        .map(|(i, v)| {
            let w = format!("{where_} rootfs.diff_ids[{i}]");
            let s = v
                .as_str()
                .ok_or_else(|| StoreError::corrupt(&w, "diff_id is not a string"))?;
            Digest::parse(s).map_err(|source| StoreError::BadDigest { where_: w, source })
        })
        .collect()
}

/// Resolves a layout's `index.json` bytes against its blob store.
pub(crate) fn images_from_index(
    index: &[u8],
    blobs: &BlobStore,
    tag: Option<&str>,
    origin: &str,
) -> Result<ImageSet, StoreError> {
    let entries = parse_index_json(index, &format!("{origin}: index.json"))?;
    let chosen = select(&entries, tag, origin)?;
    Resolver::new(blobs, origin).resolve_entries(&chosen)
}
