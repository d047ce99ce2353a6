//! The OCI image model: descriptors, manifests, indexes and platforms.
//!
//! These are small serde types of our own rather than oci-spec's, because oci-spec
//! drops unknown fields and serializes maps in random order; both would change
//! digests. Pulled manifests and configs are kept as raw bytes elsewhere; these
//! types describe what ironhull writes, always through [`crate::cjson`].

use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Media types ironhull reads or writes.
pub mod media {
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
    /// Not in Docker's schema2 spec, but defined by containerd and written by
    /// some tools for zstd layers in Docker-typed manifests.
    pub const DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";

    /// True for any layer media type ironhull can read.
    pub fn is_layer(mt: &str) -> bool {
        matches!(
            mt,
            OCI_LAYER_TAR
                | OCI_LAYER_GZIP
                | OCI_LAYER_ZSTD
                | DOCKER_LAYER_GZIP
                | DOCKER_LAYER_TAR
                | DOCKER_LAYER_ZSTD
        )
    }
}

/// Annotation keys ironhull sets.
pub mod annotation {
    pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
    pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
    pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
    pub const CREATED: &str = "org.opencontainers.image.created";
}

/// An OCI platform (`linux/amd64`, `linux/arm/v7`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    pub fn linux(arch: &str, variant: Option<&str>) -> Self {
        Self {
            architecture: arch.into(),
            os: "linux".into(),
            variant: variant.map(Into::into),
        }
    }

    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Some(Self {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: None,
            }),
            [os, arch, v] if ok(os) && ok(arch) && ok(v) => Some(Self {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: Some((*v).into()),
            }),
            _ => None,
        }
    }

    /// Architectures an OCI image can declare (Go's GOARCH names, which the
    /// image spec adopts).
    pub const KNOWN_ARCHITECTURES: &'static [&'static str] = &[
        "386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "ppc64",
        "ppc64le", "riscv64", "s390x",
    ];

    /// True for a Linux platform with a known architecture: the only kind
    /// ironhull builds (a typo such as `linux/amd46` would otherwise produce a
    /// valid-looking image no runtime can use).
    pub fn is_buildable(&self) -> bool {
        self.os == "linux" && Self::KNOWN_ARCHITECTURES.contains(&self.architecture.as_str())
    }

    /// The platform of the machine ironhull runs on.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "arm" => "arm",
            "riscv64" => "riscv64",
            "s390x" => "s390x",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Self::linux(arch, None)
    }

    /// The uname(1) machine name (`x86_64`, `aarch64`, `armv7`).
    pub fn machine(&self) -> String {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("amd64", _) => "x86_64".into(),
            ("arm64", _) => "aarch64".into(),
            ("386", _) => "x86".into(),
            ("arm", Some(v)) => format!("arm{v}"),
            ("arm", None) => "armhf".into(),
            ("ppc64le", _) => "ppc64le".into(),
            (a, _) => a.into(),
        }
    }

    /// True when `self` (a wanted platform) accepts `other` (an offered one).
    /// A wanted platform without a variant accepts any variant.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.variant {
            Some(v) => write!(f, "{}/{}/{}", self.os, self.architecture, v),
            None => write!(f, "{}/{}", self.os, self.architecture),
        }
    }
}

/// An OCI content descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Self {
            media_type: media_type.into(),
            digest,
            size,
            platform: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// An OCI image manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An OCI image index (or Docker manifest list, which has the same shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Index {
    pub fn new(manifests: Vec<Descriptor>) -> Self {
        Self {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.into()),
            manifests,
            annotations: BTreeMap::new(),
        }
    }
}

/// A layer as it sits in a blob store: its blob descriptor plus the digest of the
/// uncompressed tar (the diffID that goes into the config's rootfs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerBlob {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
}

impl LayerBlob {
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(&self.media_type, self.digest.clone(), self.size)
    }
}

/// One platform's image, fully resolved: manifest and config bytes as stored
/// (their digests are the digests of exactly these bytes) and the parsed layers.
#[derive(Clone, Debug)]
pub struct PlatformImage {
    pub platform: Platform,
    pub manifest_digest: Digest,
    pub manifest_bytes: Vec<u8>,
    pub manifest_media_type: String,
    pub config_digest: Digest,
    pub config_bytes: Vec<u8>,
    /// The config as JSON, for reading and editing; write it back through cjson.
    pub config: serde_json::Value,
    pub layers: Vec<LayerBlob>,
}

impl PlatformImage {
    /// The descriptor of this image's manifest, with its platform: what an
    /// index lists, and what a push or a layout's `index.json` names.
    pub fn descriptor(&self) -> Descriptor {
        let mut d = Descriptor::new(
            &self.manifest_media_type,
            self.manifest_digest.clone(),
            self.manifest_bytes.len() as u64,
        );
        d.platform = Some(self.platform.clone());
        d
    }
}

/// A resolved image: one or more platforms. A single-platform image is an index
/// of one, so every code path is multi-platform from the start.
#[derive(Clone, Debug)]
pub struct ImageSet {
    /// The digest of the index document, when the image came from one.
    pub index_digest: Option<Digest>,
    pub images: Vec<PlatformImage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_parse_and_display() {
        let p = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(p.variant.as_deref(), Some("v7"));
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert_eq!(p.machine(), "armv7");
        assert!(Platform::parse("linux").is_none());
        assert!(Platform::parse("linux/../x").is_none());
        assert!(
            Platform::parse("linux/amd64")
                .unwrap()
                .matches(&Platform::linux("amd64", Some("v2")))
        );
    }
}
