//! Resolving the spec's `base.image` into per-platform images whose blobs can be
//! read. Every source (built-in, layout, archive, rootfs, and later a registry)
//! ends in the same [`ResolvedBase`], so the builder does not care where a base
//! came from.

use super::builtin;
use crate::digest::Digest;
use crate::image::{Platform, PlatformImage};
use crate::layer::LayerParams;
use crate::reference::Transport;
use crate::registry::{Client, RegistryOptions};
use crate::store::{self, BlobStore, Source};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error("base {base}: {source}")]
    Store {
        base: String,
        source: crate::store::StoreError,
    },
    #[error("built-in static base: {0}")]
    Builtin(#[from] crate::layer::LayerError),
    #[error("base {base}: {source}")]
    Blob {
        base: String,
        source: crate::store::BlobError,
    },
    #[error(
        "base {base} has no image for platform {wanted}; it offers: {offered}. Pick one of those in [image] platforms, or use a base built for {wanted}"
    )]
    MissingPlatform {
        base: String,
        wanted: String,
        offered: String,
    },
    #[error("base {base}: {source}")]
    Registry {
        base: String,
        source: Box<crate::registry::RegistryError>,
    },
    #[error("internal error serializing the base manifest: {0}")]
    Json(#[from] serde_json::Error),
}

/// A base image ready to harden: one image per wanted platform, in order.
pub struct ResolvedBase {
    /// The base as the user named it, for messages (and, for a registry base,
    /// the base.name annotation).
    pub name: String,
    /// The digest of the base's top-level document (index or manifest), when it
    /// has one that a registry or layout would know it by.
    pub digest: Option<Digest>,
    pub images: Vec<PlatformImage>,
    pub blobs: BlobStore,
    /// Keeps an extracted archive alive while the base is in use.
    _source: Option<Source>,
}

/// Resolves `base` for `platforms` (empty: the base's own platform, or the
/// host's for sources that have none). `work` holds extracted archives and
/// the built-in base's blobs; `stage` is the build's blob store.
pub fn resolve(
    base: &Transport,
    platforms: &[Platform],
    work: &Path,
    stage: &BlobStore,
    params: &LayerParams,
    registry: &RegistryOptions,
) -> Result<ResolvedBase, BaseError> {
    open(base, platforms, false, work, stage, params, registry)
}

/// Opens any image source. With no platforms asked for, `all_when_unspecified`
/// returns every platform (for `audit`); otherwise a single-platform source
/// decides and a multi-platform one gives the host's platform (for bases).
pub fn open(
    base: &Transport,
    platforms: &[Platform],
    all_when_unspecified: bool,
    work: &Path,
    stage: &BlobStore,
    params: &LayerParams,
    registry: &RegistryOptions,
) -> Result<ResolvedBase, BaseError> {
    let name = base.to_string();
    if has_placeholders(base) {
        return open_per_platform(base, platforms, work, stage, params, registry);
    }
    let serr = |source| BaseError::Store {
        base: name.clone(),
        source,
    };
    let source = match base {
        Transport::Static => return resolve_static(platforms, stage, params),
        Transport::Oci { dir, tag } => store::read_oci_layout(dir, tag.as_deref()).map_err(serr)?,
        Transport::OciArchive { file, tag } => {
            store::read_oci_archive(file, tag.as_deref(), work).map_err(serr)?
        }
        Transport::DockerArchive { file, reference } => {
            store::read_docker_archive(file, reference.as_deref(), work).map_err(serr)?
        }
        Transport::Rootfs { file } => {
            let platform = platforms.first().cloned().unwrap_or_else(Platform::host);
            store::read_rootfs(file, &platform, work).map_err(serr)?
        }
        Transport::Docker(r) => {
            return open_registry(&name, r, platforms, all_when_unspecified, stage, registry);
        }
    };
    let offered: Vec<&PlatformImage> = source.images.images.iter().collect();
    let chosen = if platforms.is_empty() && all_when_unspecified {
        source.images.images.clone()
    } else {
        select(&name, &offered, platforms)?
    };
    let digest = source.images.index_digest.clone().or_else(|| {
        if offered.len() == 1 {
            Some(offered[0].manifest_digest.clone())
        } else {
            None
        }
    });
    Ok(ResolvedBase {
        name,
        digest,
        images: chosen,
        blobs: source.blobs.clone(),
        _source: Some(source),
    })
}

fn local_path(t: &Transport) -> Option<&Path> {
    match t {
        Transport::Oci { dir, .. } => Some(dir),
        Transport::OciArchive { file, .. }
        | Transport::DockerArchive { file, .. }
        | Transport::Rootfs { file } => Some(file),
        _ => None,
    }
}

fn has_placeholders(t: &Transport) -> bool {
    local_path(t).is_some_and(|p| {
        crate::spec::PLACEHOLDERS
            .iter()
            .any(|ph| p.to_string_lossy().contains(ph))
    })
}

/// The transport with `{os}`, `{arch}`, `{variant}`, `{machine}` expanded in its path.
pub fn expand(t: &Transport, p: &Platform) -> Transport {
    let x = |path: &Path| {
        std::path::PathBuf::from(crate::spec::expand_placeholders(&path.to_string_lossy(), p))
    };
    match t {
        Transport::Oci { dir, tag } => Transport::Oci {
            dir: x(dir),
            tag: tag.clone(),
        },
        Transport::OciArchive { file, tag } => Transport::OciArchive {
            file: x(file),
            tag: tag.clone(),
        },
        Transport::DockerArchive { file, reference } => Transport::DockerArchive {
            file: x(file),
            reference: reference.clone(),
        },
        Transport::Rootfs { file } => Transport::Rootfs { file: x(file) },
        other => other.clone(),
    }
}

/// A base whose path names the platform (`rootfs:alpine-{machine}.tar.gz`):
/// each platform is read from its own file, and the blobs are gathered into
/// the build's store.
fn open_per_platform(
    base: &Transport,
    platforms: &[Platform],
    work: &Path,
    stage: &BlobStore,
    params: &LayerParams,
    registry: &RegistryOptions,
) -> Result<ResolvedBase, BaseError> {
    let name = base.to_string();
    let wanted = if platforms.is_empty() {
        vec![Platform::host()]
    } else {
        platforms.to_vec()
    };
    let mut images = Vec::new();
    for p in &wanted {
        let one = open(
            &expand(base, p),
            std::slice::from_ref(p),
            false,
            work,
            stage,
            params,
            registry,
        )?;
        for img in &one.images {
            for d in crate::store::image_blobs(img) {
                stage
                    .import_from(&one.blobs, &d)
                    .map_err(|source| BaseError::Blob {
                        base: name.clone(),
                        source,
                    })?;
            }
        }
        images.extend(one.images);
    }
    Ok(ResolvedBase {
        name,
        digest: None,
        images,
        blobs: stage.clone(),
        _source: None,
    })
}

/// A registry base: pulled into the build's blob store (a cache: blobs already
/// there are not fetched again), every digest verified on the way.
fn open_registry(
    name: &str,
    r: &crate::reference::Reference,
    platforms: &[Platform],
    all_when_unspecified: bool,
    stage: &BlobStore,
    registry: &RegistryOptions,
) -> Result<ResolvedBase, BaseError> {
    let rerr = |source: crate::registry::RegistryError| BaseError::Registry {
        base: name.to_string(),
        source: Box::new(source),
    };
    let client = Client::new(registry.clone()).map_err(rerr)?;
    let wanted: Vec<Platform> = if platforms.is_empty() && !all_when_unspecified {
        // A multi-platform base gives the host's platform; a single manifest decides.
        let (_, mt) = client.resolve(r).map_err(rerr)?;
        if mt == crate::image::media::OCI_INDEX || mt == crate::image::media::DOCKER_LIST {
            vec![Platform::host()]
        } else {
            vec![]
        }
    } else {
        platforms.to_vec()
    };
    let set = client.pull(r, &wanted, stage).map_err(rerr)?;
    let digest = set.index_digest.clone().or_else(|| {
        if set.images.len() == 1 {
            Some(set.images[0].manifest_digest.clone())
        } else {
            None
        }
    });
    Ok(ResolvedBase {
        name: name.to_string(),
        digest,
        images: set.images,
        blobs: stage.clone(),
        _source: None,
    })
}

fn select(
    name: &str,
    offered: &[&PlatformImage],
    wanted: &[Platform],
) -> Result<Vec<PlatformImage>, BaseError> {
    if wanted.is_empty() {
        // No platform asked for: a single-platform base decides; a multi-platform
        // one gives the host's platform.
        if offered.len() == 1 {
            return Ok(vec![offered[0].clone()]);
        }
        return select(name, offered, &[Platform::host()]);
    }
    wanted
        .iter()
        .map(|w| {
            offered
                .iter()
                .find(|o| w.matches(&o.platform))
                .map(|o| (*o).clone())
                .ok_or_else(|| BaseError::MissingPlatform {
                    base: name.to_string(),
                    wanted: w.to_string(),
                    offered: offered
                        .iter()
                        .map(|o| o.platform.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}

/// The built-in base: written straight into the build's blob store.
fn resolve_static(
    platforms: &[Platform],
    stage: &BlobStore,
    params: &LayerParams,
) -> Result<ResolvedBase, BaseError> {
    let wanted = if platforms.is_empty() {
        vec![Platform::linux("amd64", None)]
    } else {
        platforms.to_vec()
    };
    let blob_err = |source| BaseError::Blob {
        base: "static".into(),
        source,
    };
    let mut images = Vec::new();
    for p in &wanted {
        let (layer, config) = builtin::build_static_base(stage, p, params)?;
        let image = store::put_image(stage, p.clone(), config, vec![layer], Default::default())
            .map_err(|e| match e {
                store::PutImageError::Blob(source) => blob_err(source),
                store::PutImageError::Json(e) => BaseError::Json(e),
            })?;
        images.push(image);
    }
    Ok(ResolvedBase {
        name: "static".into(),
        digest: None,
        images,
        blobs: stage.clone(),
        _source: None,
    })
}
