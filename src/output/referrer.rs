//! OCI 1.1 referrers: an artifact manifest whose `subject` is an image,
//! and the two ways it is found again.
//!
//! - **Registries.** Registries that serve the referrers API index the
//!   artifact by its subject. For those that do not (Distribution 2.8, for
//!   one), the distribution spec's tag schema is the fallback: an image
//!   index tagged `sha256-<subject hex>` lists every artifact. That index
//!   is *merged*, never replaced, so an SBOM, a signature and a provenance
//!   attached in turn all stay listed.
//! - **Layouts.** The artifact manifest is listed in `index.json` without
//!   a tag, with its `artifactType`, beside the image (as oras-style
//!   layout stores keep referrers); readers find it by its `subject`.
//!
//! SBOMs, signature bundles and attestations all go through here.

use crate::cjson;
use crate::digest::Digest;
use crate::image::{Descriptor, Index, LayerBlob, Manifest, PlatformImage, media};
use crate::reference::Reference;
use crate::registry::{Client, RegistryError};
use crate::store::{BlobError, BlobStore};
use std::collections::BTreeMap;

/// The empty config of an artifact manifest (`{}`), per the image spec.
pub const EMPTY_CONFIG: &[u8] = b"{}";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// The subject an artifact refers to.
#[derive(Clone, Debug)]
pub struct Subject {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

impl Subject {
    pub fn of_image(i: &PlatformImage) -> Self {
        Self {
            media_type: i.manifest_media_type.clone(),
            digest: i.manifest_digest.clone(),
            size: i.manifest_bytes.len() as u64,
        }
    }
    pub fn of_descriptor(d: &Descriptor) -> Self {
        Self {
            media_type: d.media_type.clone(),
            digest: d.digest.clone(),
            size: d.size,
        }
    }
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(&self.media_type, self.digest.clone(), self.size)
    }
}

/// What an artifact carries: one document, its types and annotations.
#[derive(Clone, Debug)]
pub struct Document<'a> {
    pub bytes: &'a [u8],
    /// The layer's media type (also the manifest's `artifactType`).
    pub media_type: &'a str,
    /// The layer's `org.opencontainers.image.title`.
    pub title: String,
    /// The manifest's annotations (`org.opencontainers.image.created` and
    /// the kind-specific ones).
    pub annotations: BTreeMap<String, String>,
}

/// Builds the artifact manifest for `doc` with `subject` as its subject,
/// stores its blobs, and returns it as a pushable image plus the
/// descriptor an index lists it by (with `artifactType` and annotations).
pub fn artifact(
    subject: &Subject,
    doc: &Document<'_>,
    platform: &crate::image::Platform,
    store: &BlobStore,
) -> Result<(PlatformImage, Descriptor), BlobError> {
    let config_digest = store.put(EMPTY_CONFIG)?;
    let doc_digest = store.put(doc.bytes)?;
    let mut layer = Descriptor::new(doc.media_type, doc_digest.clone(), doc.bytes.len() as u64);
    layer
        .annotations
        .insert("org.opencontainers.image.title".into(), doc.title.clone());
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: Some(doc.media_type.into()),
        config: Descriptor::new(
            EMPTY_MEDIA_TYPE,
            config_digest.clone(),
            EMPTY_CONFIG.len() as u64,
        ),
        layers: vec![layer],
        subject: Some(subject.descriptor()),
        annotations: doc.annotations.clone(),
    };
    let bytes = cjson::to_vec(&manifest).map_err(|e| BlobError::Io {
        path: store.root().to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    let digest = store.put(&bytes)?;
    let mut desc = Descriptor::new(media::OCI_MANIFEST, digest.clone(), bytes.len() as u64);
    desc.artifact_type = Some(doc.media_type.into());
    desc.annotations = doc.annotations.clone();
    let img = PlatformImage {
        platform: platform.clone(),
        manifest_digest: digest,
        manifest_bytes: bytes,
        manifest_media_type: media::OCI_MANIFEST.into(),
        config_digest,
        config_bytes: EMPTY_CONFIG.to_vec(),
        config: serde_json::json!({}),
        layers: vec![LayerBlob {
            media_type: doc.media_type.into(),
            digest: doc_digest.clone(),
            size: doc.bytes.len() as u64,
            diff_id: doc_digest,
        }],
    };
    Ok((img, desc))
}

/// The fallback tag of a subject: `sha256-<hex>`.
pub fn fallback_tag(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm(), subject.hex())
}

/// Pushes `img` (an artifact built by [`artifact`]) to `target`'s
/// repository, then, unless the registry serves the referrers API, merges
/// its descriptor into the subject's fallback index. Returns the fallback
/// tag written, if any.
pub fn push(
    client: &Client,
    target: &Reference,
    subject: &Digest,
    img: &PlatformImage,
    desc: &Descriptor,
    store: &BlobStore,
) -> Result<Option<String>, RegistryError> {
    client.push(
        target,
        &[],
        desc,
        &img.manifest_bytes,
        std::slice::from_ref(img),
        store,
        None,
    )?;
    let with_subject = target.with_digest(subject.clone());
    if client.supports_referrers(&with_subject)? {
        return Ok(None);
    }
    let tag = fallback_tag(subject);
    let mut list = match client.fetch_optional(target, &tag)? {
        Some(f) => existing_entries(&f.bytes).map_err(|detail| RegistryError::BadDocument {
            registry: target.registry().to_string(),
            repository: target.repository().to_string(),
            what: format!("referrers index {tag}"),
            detail,
        })?,
        None => Vec::new(),
    };
    if list.iter().any(|d| d.digest == desc.digest) {
        return Ok(Some(tag));
    }
    list.push(desc.clone());
    let bytes =
        cjson::to_vec(&Index::new(list)).map_err(|e| RegistryError::Usage(e.to_string()))?;
    client.push_manifest(target, &tag, media::OCI_INDEX, &bytes)?;
    Ok(Some(tag))
}

/// The descriptors of an existing fallback index (hostile: only
/// well-formed descriptors are kept, and the list is capped).
pub fn existing_entries(bytes: &[u8]) -> Result<Vec<Descriptor>, String> {
    let idx: Index =
        serde_json::from_slice(bytes).map_err(|e| format!("not an image index: {e}"))?;
    if idx.manifests.len() > 10_000 {
        return Err(format!("{} entries (more than 10000)", idx.manifests.len()));
    }
    Ok(idx.manifests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_manifest_has_subject_type_and_annotations() {
        let d = tempfile::tempdir().unwrap();
        let store = BlobStore::open(d.path()).unwrap();
        let subject = Subject {
            media_type: media::OCI_INDEX.into(),
            digest: Digest::of(b"m"),
            size: 1,
        };
        let doc = Document {
            bytes: b"{}",
            media_type: "application/x-test",
            title: "t.json".into(),
            annotations: BTreeMap::from([("k".to_string(), "v".to_string())]),
        };
        let plat = crate::image::Platform::linux("amd64", None);
        let (img, desc) = artifact(&subject, &doc, &plat, &store).unwrap();
        let m: serde_json::Value = serde_json::from_slice(&img.manifest_bytes).unwrap();
        assert_eq!(m["artifactType"], "application/x-test");
        assert_eq!(m["subject"]["digest"], Digest::of(b"m").to_string());
        assert_eq!(m["subject"]["mediaType"], media::OCI_INDEX);
        assert_eq!(m["config"]["mediaType"], EMPTY_MEDIA_TYPE);
        assert_eq!(
            m["layers"][0]["annotations"]["org.opencontainers.image.title"],
            "t.json"
        );
        assert_eq!(m["annotations"]["k"], "v");
        assert_eq!(desc.annotations["k"], "v");
        assert_eq!(desc.artifact_type.as_deref(), Some("application/x-test"));
        let (img2, _) = artifact(&subject, &doc, &plat, &store).unwrap();
        assert_eq!(img.manifest_bytes, img2.manifest_bytes, "deterministic");
    }
}
