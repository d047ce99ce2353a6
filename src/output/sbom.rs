//! SBOMs as outputs: written beside file outputs, and attached to pushed images
//! as OCI 1.1 artifacts whose `subject` is the image manifest.
//!
//! Registries that serve the referrers API index the artifact by its subject
//! automatically. For those that do not (Distribution 2.8, for one), the
//! distribution spec's fallback is used: an image index tagged
//! `sha256-<subject hex>` that lists the artifact.

use super::referrer;
use crate::digest::Digest;
use crate::image::{Descriptor, PlatformImage};
use crate::reference::Reference;
use crate::registry::{Client, RegistryError};
use crate::sbom::{self, SbomError};
use crate::store::{BlobError, BlobStore};
use std::collections::BTreeMap;

/// An SBOM document format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbomFormat {
    Spdx,
    CycloneDx,
}

impl SbomFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "spdx-json" | "spdx" => Some(Self::Spdx),
            "cyclonedx-json" | "cyclonedx" => Some(Self::CycloneDx),
            _ => None,
        }
    }
    /// The OCI artifactType (and layer media type) of the document.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Spdx => "application/spdx+json",
            Self::CycloneDx => "application/vnd.cyclonedx+json",
        }
    }
    /// File suffix for documents written beside outputs.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Spdx => "spdx.json",
            Self::CycloneDx => "cdx.json",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SbomOutputError {
    #[error("SBOM for {platform}: {source}")]
    Inventory { platform: String, source: SbomError },
    #[error("SBOM: {0}")]
    Blob(#[from] BlobError),
    #[error("SBOM: {0}")]
    Json(#[from] serde_json::Error),
    #[error("attaching the SBOM to {target}: {source}")]
    Registry {
        target: String,
        source: Box<RegistryError>,
    },
}

/// The SBOM document of one built image, as canonical bytes (deterministic:
/// the same image gives the same document).
pub fn document(
    image: &PlatformImage,
    store: &BlobStore,
    format: SbomFormat,
    created: &str,
    name: &str,
) -> Result<Vec<u8>, SbomOutputError> {
    let inv = sbom::inventory_image(image, store).map_err(|source| SbomOutputError::Inventory {
        platform: image.platform.to_string(),
        source,
    })?;
    let v = match format {
        SbomFormat::Spdx => sbom::spdx::to_json_named(&inv, image, created, name),
        SbomFormat::CycloneDx => sbom::cyclonedx::to_json_named(&inv, image, created, name),
    };
    let mut bytes = serde_json::to_vec_pretty(&v)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Builds the SBOM artifact manifest for `doc` with `subject` as its
/// subject, stores its blobs, and returns it as a pushable image plus its
/// descriptor.
pub fn artifact(
    subject: &PlatformImage,
    doc: &[u8],
    format: SbomFormat,
    created: &str,
    store: &BlobStore,
) -> Result<(PlatformImage, Descriptor), SbomOutputError> {
    let d = referrer::Document {
        bytes: doc,
        media_type: format.media_type(),
        title: format!("sbom.{}", format.suffix()),
        annotations: BTreeMap::from([(
            crate::image::annotation::CREATED.to_string(),
            created.to_string(),
        )]),
    };
    Ok(referrer::artifact(
        &referrer::Subject::of_image(subject),
        &d,
        &subject.platform,
        store,
    )?)
}

/// How an SBOM was attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attached {
    pub artifact: Digest,
    pub subject: Digest,
    /// `None` when the registry's referrers API indexes it; otherwise the
    /// fallback tag that was written.
    pub fallback_tag: Option<String>,
}

/// Pushes the SBOM artifact for `subject` to `target`'s repository.
pub fn attach(
    client: &Client,
    target: &Reference,
    subject: &PlatformImage,
    doc: &[u8],
    format: SbomFormat,
    created: &str,
    store: &BlobStore,
) -> Result<Attached, SbomOutputError> {
    let (img, desc) = artifact(subject, doc, format, created, store)?;
    let fallback_tag = referrer::push(client, target, &subject.manifest_digest, &img, &desc, store)
        .map_err(|source| SbomOutputError::Registry {
            target: target.to_string(),
            source: Box::new(source),
        })?;
    Ok(Attached {
        artifact: desc.digest,
        subject: subject.manifest_digest.clone(),
        fallback_tag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_manifest_has_subject_and_type() {
        let d = tempfile::tempdir().unwrap();
        let store = BlobStore::open(d.path()).unwrap();
        use crate::image::media;
        let subject = PlatformImage {
            platform: crate::image::Platform::linux("amd64", None),
            manifest_digest: Digest::of(b"m"),
            manifest_bytes: b"m".to_vec(),
            manifest_media_type: media::OCI_MANIFEST.into(),
            config_digest: Digest::of(b"c"),
            config_bytes: b"c".to_vec(),
            config: serde_json::json!({}),
            layers: vec![],
        };
        let (img, desc) = artifact(
            &subject,
            b"{\"spdxVersion\":\"SPDX-2.3\"}",
            SbomFormat::Spdx,
            "1970-01-01T00:00:00Z",
            &store,
        )
        .unwrap();
        let m: serde_json::Value = serde_json::from_slice(&img.manifest_bytes).unwrap();
        assert_eq!(m["artifactType"], "application/spdx+json");
        assert_eq!(m["subject"]["digest"], Digest::of(b"m").to_string());
        assert_eq!(m["config"]["mediaType"], referrer::EMPTY_MEDIA_TYPE);
        assert_eq!(desc.artifact_type.as_deref(), Some("application/spdx+json"));
        assert!(store.contains(&desc.digest));
        // Deterministic.
        let (img2, _) = artifact(
            &subject,
            b"{\"spdxVersion\":\"SPDX-2.3\"}",
            SbomFormat::Spdx,
            "1970-01-01T00:00:00Z",
            &store,
        )
        .unwrap();
        assert_eq!(img.manifest_bytes, img2.manifest_bytes);
    }
}
