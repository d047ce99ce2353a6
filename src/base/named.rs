//! Opening an image the user names on a command line, for the read-only
//! commands: `audit` and `inspect` (any transport, registries included) and
//! `sbom` and `scan` (local images only: they never touch the network).
//!
//! Every opened image is verified as it is read ([`crate::store`]); archives
//! are extracted into a scratch directory in the cache, which the caller
//! keeps alive for as long as it uses the image.

use crate::error::{ErrorClass, Failure};
use crate::image::{Platform, PlatformImage};
use crate::layer::LayerParams;
use crate::reference::Transport;
use crate::registry::RegistryOptions;
use crate::store::{self, BlobStore, Source};
use std::path::Path;

/// `--platform` as given: `None` when absent, an input error when malformed.
pub fn parse_platform(p: Option<&str>) -> Result<Option<Platform>, Failure> {
    match p {
        None => Ok(None),
        Some(s) => Platform::parse(s).map(Some).ok_or_else(|| {
            Failure::input(format!(
                "--platform {s:?} is not os/arch[/variant], e.g. linux/amd64 or linux/arm/v7"
            ))
        }),
    }
}

/// A scratch directory in the cache, named for the command (`audit-…`).
pub fn work_dir(cache: &Path, what: &str) -> Result<tempfile::TempDir, Failure> {
    std::fs::create_dir_all(cache)
        .map_err(|e| {
            Failure::io(format!(
                "cannot create the cache directory {}: {e}",
                cache.display()
            ))
        })
        .and_then(|_| {
            tempfile::Builder::new()
                .prefix(&format!("{what}-"))
                .tempdir_in(cache)
                .map_err(|e| {
                    Failure::io(format!(
                        "cannot create a work directory in {}: {e}",
                        cache.display()
                    ))
                })
        })
}

/// Opens any image (every transport; all platforms unless `platform` picks
/// one). `what` names the command in messages and in the work directory.
pub fn open_named(
    image: &str,
    platform: Option<&str>,
    cache: &Path,
    registry: &RegistryOptions,
    what: &str,
) -> Result<(super::resolve::ResolvedBase, tempfile::TempDir), Failure> {
    let transport = Transport::parse_base(image)
        .map_err(|e| Failure::input(format!("image {image:?}: {e}")))?;
    if matches!(transport, Transport::Static) {
        return Err(Failure::input(format!(
            "`static` is the built-in base, not an image; {what} a built image such as oci:DIR:TAG"
        )));
    }
    let platforms: Vec<Platform> = parse_platform(platform)?.into_iter().collect();
    let work = work_dir(cache, what)?;
    let stage = BlobStore::open(work.path().join("blobs")).map_err(Failure::io)?;
    let opened = super::resolve::open(
        &transport,
        &platforms,
        true,
        work.path(),
        &stage,
        &LayerParams::default(),
        registry,
    )
    .map_err(Failure::input)?;
    Ok((opened, work))
}

/// Opens a local image (`oci:`, `oci-archive:`, `docker-archive:`,
/// `rootfs:`) without the network. A rootfs is given `platform`, or the
/// host's.
pub fn open_local(
    image: &str,
    platform: Option<&Platform>,
    work: &Path,
) -> Result<Source, Failure> {
    let t = Transport::parse(image).map_err(Failure::input)?;
    let res = match &t {
        Transport::Oci { dir, tag } => store::read_oci_layout(dir, tag.as_deref()),
        Transport::OciArchive { file, tag } => store::read_oci_archive(file, tag.as_deref(), work),
        Transport::DockerArchive { file, reference } => {
            store::read_docker_archive(file, reference.as_deref(), work)
        }
        Transport::Rootfs { file } => {
            let p = platform.cloned().unwrap_or_else(Platform::host);
            store::read_rootfs(file, &p, work)
        }
        Transport::Docker(_) | Transport::Static => {
            return Err(Failure::input(format!(
                "{image}: only local images can be inventoried (oci:, oci-archive:, docker-archive:, rootfs:); \
                 copy a registry image first, e.g. `skopeo copy docker://REF oci:DIR:TAG`"
            )));
        }
    };
    res.map_err(|e| {
        let class = match &e {
            store::StoreError::Io { .. } => ErrorClass::Io,
            _ => ErrorClass::Input,
        };
        Failure::new(class, e)
    })
}

/// The platform images `platform` selects (all when absent); an input error
/// listing what the image has when none matches.
pub fn select<'a>(
    src: &'a Source,
    platform: Option<&Platform>,
    image: &str,
) -> Result<Vec<&'a PlatformImage>, Failure> {
    let all = &src.images.images;
    let chosen: Vec<&PlatformImage> = match platform {
        Some(p) => all.iter().filter(|i| p.matches(&i.platform)).collect(),
        None => all.iter().collect(),
    };
    if chosen.is_empty() {
        let have: Vec<String> = all.iter().map(|i| i.platform.to_string()).collect();
        return Err(Failure::input(format!(
            "{image} has no image for the requested platform; available: {}",
            have.join(", ")
        )));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_images_are_refused_offline() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_local("docker://alpine:3.20", None, dir.path()).unwrap_err();
        assert_eq!(e.class, ErrorClass::Input);
        assert!(e.message.contains("skopeo copy"), "{e}");
        assert_eq!(
            open_local("nonsense", None, dir.path()).unwrap_err().class,
            ErrorClass::Input
        );
        assert!(parse_platform(Some("linux")).is_err());
        assert_eq!(parse_platform(None), Ok(None));
    }

    #[test]
    fn the_built_in_base_is_not_an_image() {
        let dir = tempfile::tempdir().unwrap();
        match open_named("static", None, dir.path(), &Default::default(), "audit") {
            Err(e) => assert!(e.message.contains("built-in base"), "{e}"),
            Ok(_) => panic!("static opened as an image"),
        }
    }
}
