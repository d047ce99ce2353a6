//! Placing signatures and attestations: as referrers and `.sig` tags in a
//! registry, or the same inside an `oci:` layout, so they travel with it
//! and `ironhull push` carries them on. Documents are signed before any
//! output is written ([`crate::sign::documents`]); this file only stores
//! them.

use super::referrer::{self, Document, Subject};
use crate::cjson;
use crate::digest::Digest;
use crate::image::{Descriptor, LayerBlob, Manifest, Platform, PlatformImage, media};
use crate::reference::Reference;
use crate::registry::{Client, RegistryError};
use crate::sign::bundle::BUNDLE_V03;
use crate::sign::documents::{LegacySignature, SignedBundle};
use crate::sign::simple_signing::{self, PAYLOAD_MEDIA_TYPE, SIGNATURE_ANNOTATION};
use crate::store::{self, BlobError, BlobStore, StoreError};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("storing a signature: {0}")]
    Blob(#[from] BlobError),
    #[error("attaching signatures to {target}: {source}")]
    Registry {
        target: String,
        source: Box<RegistryError>,
    },
    #[error("writing signatures into {dir}: {source}")]
    Layout { dir: String, source: StoreError },
    #[error("the existing signature image {tag} is malformed: {why}")]
    Existing { tag: String, why: String },
}

/// Where one placed document went, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub what: String,
    pub subject: Digest,
    /// The referrer manifest's digest, or the `.sig` image's.
    pub manifest: Digest,
    /// The tag written (fallback index or `.sig`), if any.
    pub tag: Option<String>,
}

/// The referrer artifact of a bundle for one subject.
fn bundle_artifact(
    b: &SignedBundle,
    subject: &Subject,
    created: &str,
    store: &BlobStore,
) -> Result<(PlatformImage, Descriptor), BlobError> {
    let bundle_digest = Digest::of(&b.bytes);
    let doc = Document {
        bytes: &b.bytes,
        media_type: BUNDLE_V03,
        title: format!("sha256-{}.sigstore.json", bundle_digest.hex()),
        annotations: BTreeMap::from([
            (
                "dev.sigstore.bundle.content".to_string(),
                "dsse-envelope".to_string(),
            ),
            (
                "dev.sigstore.bundle.predicateType".to_string(),
                b.kind.uri().to_string(),
            ),
            (
                crate::image::annotation::CREATED.to_string(),
                created.to_string(),
            ),
        ]),
    };
    referrer::artifact(subject, &doc, &Platform::linux("unknown", None), store)
}

/// The `.sig` image holding `sigs` (after any layers already there).
fn sig_image(
    existing: Vec<(Descriptor, Vec<u8>)>,
    sigs: &[&LegacySignature],
    store: &BlobStore,
) -> Result<PlatformImage, BlobError> {
    let mut layers: Vec<Descriptor> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (d, _) in &existing {
        if seen.insert((
            d.digest.clone(),
            d.annotations.get(SIGNATURE_ANNOTATION).cloned(),
        )) {
            layers.push(d.clone());
        }
    }
    for s in sigs {
        let digest = store.put(&s.payload)?;
        let mut d = Descriptor::new(PAYLOAD_MEDIA_TYPE, digest.clone(), s.payload.len() as u64);
        d.annotations
            .insert(SIGNATURE_ANNOTATION.into(), s.signature.clone());
        if seen.insert((digest, Some(s.signature.clone()))) {
            layers.push(d);
        }
    }
    // cosign's config: an image config whose diff_ids are the payloads.
    let config = serde_json::json!({
        "architecture": "",
        "config": {},
        "os": "",
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.digest.to_string()).collect::<Vec<_>>(),
        },
    });
    let config_bytes = cjson::to_vec(&config).map_err(|e| BlobError::Io {
        path: store.root().to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    let config_digest = store.put(&config_bytes)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(
            media::OCI_CONFIG,
            config_digest.clone(),
            config_bytes.len() as u64,
        ),
        layers: layers.clone(),
        subject: None,
        annotations: BTreeMap::new(),
    };
    let bytes = cjson::to_vec(&manifest).map_err(|e| BlobError::Io {
        path: store.root().to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    let digest = store.put(&bytes)?;
    Ok(PlatformImage {
        platform: Platform::linux("unknown", None),
        manifest_digest: digest,
        manifest_bytes: bytes,
        manifest_media_type: media::OCI_MANIFEST.into(),
        config_digest,
        config_bytes,
        config,
        layers: as_blobs(&layers),
    })
}

/// Descriptors as the layer list of a pushable image (these documents are
/// not compressed: a layer's diff ID is its digest).
fn as_blobs(layers: &[Descriptor]) -> Vec<LayerBlob> {
    layers
        .iter()
        .map(|l| LayerBlob {
            media_type: l.media_type.clone(),
            digest: l.digest.clone(),
            size: l.size,
            diff_id: l.digest.clone(),
        })
        .collect()
}

/// The layers of an existing `.sig` manifest (hostile: only simple-signing
/// layers of a sane size are kept; their payloads are fetched by `load`,
/// verified by digest, so a merged image never points at a missing blob).
fn existing_sig_layers(
    bytes: &[u8],
    tag: &str,
    mut load: impl FnMut(&Descriptor) -> Result<Vec<u8>, String>,
) -> Result<Vec<(Descriptor, Vec<u8>)>, PlaceError> {
    let m: Manifest = serde_json::from_slice(bytes).map_err(|e| PlaceError::Existing {
        tag: tag.into(),
        why: e.to_string(),
    })?;
    if m.layers.len() > 1000 {
        return Err(PlaceError::Existing {
            tag: tag.into(),
            why: format!("{} layers (more than 1000)", m.layers.len()),
        });
    }
    let mut out = Vec::new();
    for l in m.layers {
        if l.media_type != PAYLOAD_MEDIA_TYPE || l.size > crate::store::MAX_DOC {
            continue;
        }
        let payload = load(&l).map_err(|why| PlaceError::Existing {
            tag: tag.into(),
            why,
        })?;
        out.push((l, payload));
    }
    Ok(out)
}

/// Where signatures are stored: a registry repository or an `oci:` layout.
/// What to place for which subject, and how `.sig` images merge, is
/// decided once in [`place`]; a sink only knows how to store.
trait Sink {
    /// Stores a referrer artifact of `subject`; the fallback tag it moved,
    /// if any.
    fn referrer(
        &self,
        subject: &Digest,
        img: &PlatformImage,
        desc: &Descriptor,
        store: &BlobStore,
    ) -> Result<Option<String>, PlaceError>;
    /// The layers (and payloads, copied into `store`) of the `.sig` image
    /// already at `tag`; empty if there is none.
    fn existing_sig(
        &self,
        tag: &str,
        store: &BlobStore,
    ) -> Result<Vec<(Descriptor, Vec<u8>)>, PlaceError>;
    /// Stores the `.sig` image `img` under `tag`.
    fn sig(
        &self,
        tag: &str,
        img: &PlatformImage,
        desc: &Descriptor,
        store: &BlobStore,
    ) -> Result<(), PlaceError>;
}

struct RegistrySink<'a> {
    client: &'a Client,
    target: &'a Reference,
}

impl RegistrySink<'_> {
    fn err(&self, source: RegistryError) -> PlaceError {
        PlaceError::Registry {
            target: self.target.to_string(),
            source: Box::new(source),
        }
    }
}

impl Sink for RegistrySink<'_> {
    fn referrer(
        &self,
        subject: &Digest,
        img: &PlatformImage,
        desc: &Descriptor,
        store: &BlobStore,
    ) -> Result<Option<String>, PlaceError> {
        referrer::push(self.client, self.target, subject, img, desc, store).map_err(|e| self.err(e))
    }

    fn existing_sig(
        &self,
        tag: &str,
        store: &BlobStore,
    ) -> Result<Vec<(Descriptor, Vec<u8>)>, PlaceError> {
        match self
            .client
            .fetch_optional(self.target, tag)
            .map_err(|e| self.err(e))?
        {
            Some(f) => existing_sig_layers(&f.bytes, tag, |l| {
                self.client
                    .small_blob(self.target, &l.digest, l.size, store)
                    .map_err(|e| e.to_string())
            }),
            None => Ok(Vec::new()),
        }
    }

    fn sig(
        &self,
        tag: &str,
        img: &PlatformImage,
        desc: &Descriptor,
        store: &BlobStore,
    ) -> Result<(), PlaceError> {
        self.client
            .push(
                self.target,
                &[tag.to_string()],
                desc,
                &img.manifest_bytes,
                std::slice::from_ref(img),
                store,
                None,
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }
}

struct LayoutSink<'a> {
    dir: &'a Path,
}

impl LayoutSink<'_> {
    fn err(&self, source: StoreError) -> PlaceError {
        PlaceError::Layout {
            dir: self.dir.display().to_string(),
            source,
        }
    }
}

impl Sink for LayoutSink<'_> {
    /// Layouts have no referrers API and need no fallback tag: the entry is
    /// listed untagged, with its `artifactType`.
    fn referrer(
        &self,
        _subject: &Digest,
        img: &PlatformImage,
        desc: &Descriptor,
        store: &BlobStore,
    ) -> Result<Option<String>, PlaceError> {
        store::add_untagged(self.dir, desc, &store::image_blobs(img), store)
            .map_err(|e| self.err(e))?;
        Ok(None)
    }

    fn existing_sig(
        &self,
        tag: &str,
        store: &BlobStore,
    ) -> Result<Vec<(Descriptor, Vec<u8>)>, PlaceError> {
        let (entries, there) = store::index_entries(self.dir).map_err(|e| self.err(e))?;
        let Some(e) = entries.iter().find(|e| {
            e.annotations
                .get(crate::image::annotation::REF_NAME)
                .map(String::as_str)
                == Some(tag)
        }) else {
            return Ok(Vec::new());
        };
        let bytes = there.read_verified(&e.digest, Some(e.size), crate::store::MAX_DOC)?;
        existing_sig_layers(&bytes, tag, |l| {
            let b = there
                .read_verified(&l.digest, Some(l.size), crate::store::MAX_DOC)
                .map_err(|e| e.to_string())?;
            store.put(&b).map_err(|e| e.to_string())?;
            Ok(b)
        })
    }

    fn sig(
        &self,
        tag: &str,
        img: &PlatformImage,
        desc: &Descriptor,
        store: &BlobStore,
    ) -> Result<(), PlaceError> {
        store::write_oci_layout(self.dir, tag, desc, &store::image_blobs(img), store)
            .map_err(|e| self.err(e))
    }
}

/// Places every bundle as a referrer of every subject, and each subject's
/// legacy signatures in its `.sig` image (merged with what is there).
fn place(
    sink: &dyn Sink,
    subjects: &[Subject],
    bundles: &[SignedBundle],
    legacy: &[LegacySignature],
    created: &str,
    store: &BlobStore,
) -> Result<Vec<Placed>, PlaceError> {
    let mut placed = Vec::new();
    for subject in subjects {
        for b in bundles {
            let (img, desc) = bundle_artifact(b, subject, created, store)?;
            let tag = sink.referrer(&subject.digest, &img, &desc, store)?;
            placed.push(Placed {
                what: b.kind.name().into(),
                subject: subject.digest.clone(),
                manifest: desc.digest,
                tag,
            });
        }
        let sigs: Vec<&LegacySignature> = legacy
            .iter()
            .filter(|l| l.subject == subject.digest)
            .collect();
        if sigs.is_empty() {
            continue;
        }
        let tag = simple_signing::sig_tag(&subject.digest);
        let existing = sink.existing_sig(&tag, store)?;
        let img = sig_image(existing, &sigs, store)?;
        let desc = Descriptor::new(
            media::OCI_MANIFEST,
            img.manifest_digest.clone(),
            img.manifest_bytes.len() as u64,
        );
        sink.sig(&tag, &img, &desc, store)?;
        placed.push(Placed {
            what: "legacy signature".into(),
            subject: subject.digest.clone(),
            manifest: desc.digest,
            tag: Some(tag),
        });
    }
    Ok(placed)
}

/// Pushes every bundle as a referrer of every subject, and the legacy
/// signatures to each subject's `.sig` tag, in `target`'s repository.
pub fn push(
    client: &Client,
    target: &Reference,
    subjects: &[Subject],
    bundles: &[SignedBundle],
    legacy: &[LegacySignature],
    created: &str,
    store: &BlobStore,
) -> Result<Vec<Placed>, PlaceError> {
    let sink = RegistrySink { client, target };
    place(&sink, subjects, bundles, legacy, created, store)
}

/// The same, into the `oci:` layout at `dir` (which holds the image).
pub fn write_layout(
    dir: &Path,
    subjects: &[Subject],
    bundles: &[SignedBundle],
    legacy: &[LegacySignature],
    created: &str,
    store: &BlobStore,
) -> Result<Vec<Placed>, PlaceError> {
    place(
        &LayoutSink { dir },
        subjects,
        bundles,
        legacy,
        created,
        store,
    )
}

/// An image-shaped view of a manifest stored in a layout, for pushing it
/// as it is (every blob read from the layout, verified).
fn stored_image(
    blobs: &BlobStore,
    desc: &Descriptor,
) -> Result<(PlatformImage, Manifest), PlaceError> {
    let bytes = blobs.read_verified(&desc.digest, Some(desc.size), crate::store::MAX_DOC)?;
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| PlaceError::Existing {
        tag: desc.digest.to_string(),
        why: e.to_string(),
    })?;
    let config_bytes =
        blobs.read_verified(&m.config.digest, Some(m.config.size), crate::store::MAX_DOC)?;
    let img = PlatformImage {
        platform: Platform::linux("unknown", None),
        manifest_digest: desc.digest.clone(),
        manifest_bytes: bytes,
        manifest_media_type: media::OCI_MANIFEST.into(),
        config_digest: m.config.digest.clone(),
        config: serde_json::from_slice(&config_bytes).unwrap_or(serde_json::Value::Null),
        config_bytes,
        layers: as_blobs(&m.layers),
    };
    Ok((img, m))
}

/// `ironhull push` of a layout: the referrers (signatures, attestations,
/// SBOMs) and `.sig` images the layout holds for `subjects` go with the
/// image, so a signed layout stays signed in the registry.
pub fn push_from_layout(
    client: &Client,
    target: &Reference,
    dir: &Path,
    subjects: &[Digest],
) -> Result<Vec<Placed>, PlaceError> {
    let sink = RegistrySink { client, target };
    let (entries, blobs) = store::index_entries(dir).map_err(|source| PlaceError::Layout {
        dir: dir.display().to_string(),
        source,
    })?;
    let mut placed = Vec::new();
    for e in entries.iter().take(10_000) {
        let tag = e.annotations.get(crate::image::annotation::REF_NAME);
        let sig_of = subjects
            .iter()
            .find(|s| tag == Some(&simple_signing::sig_tag(s)));
        if e.artifact_type.is_none() && sig_of.is_none() {
            continue;
        }
        let (img, m) = stored_image(&blobs, e)?;
        if let Some(subject) = sig_of {
            let tag = simple_signing::sig_tag(subject);
            sink.sig(&tag, &img, e, &blobs)?;
            placed.push(Placed {
                what: "legacy signature".into(),
                subject: subject.clone(),
                manifest: e.digest.clone(),
                tag: Some(tag),
            });
            continue;
        }
        let Some(subject) = m
            .subject
            .as_ref()
            .map(|s| &s.digest)
            .filter(|s| subjects.contains(s))
        else {
            continue;
        };
        let tag = sink.referrer(subject, &img, e, &blobs)?;
        placed.push(Placed {
            what: e
                .annotations
                .get("dev.sigstore.bundle.predicateType")
                .cloned()
                .or_else(|| e.artifact_type.clone())
                .unwrap_or_default(),
            subject: subject.clone(),
            manifest: e.digest.clone(),
            tag,
        });
    }
    Ok(placed)
}
