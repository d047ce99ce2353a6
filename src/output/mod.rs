//! Writing a built image to its destinations: `oci:`, `oci-archive:` and
//! `docker-archive:` (and, with the registry client, `docker://`).
//!
//! Every writer is atomic (temp then rename), so a failed or interrupted build
//! never leaves a half-written output where the user expects a good one.

pub mod referrer;
pub mod sbom;
pub mod signatures;

use crate::build::Built;
use crate::digest::Digest;
use crate::reference::{ReferenceError, Transport};
use crate::registry::{Client, RegistryError, RegistryOptions};
use crate::store::{self, StoreError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("output {dest:?}: {source}")]
    Parse {
        dest: String,
        source: ReferenceError,
    },
    #[error("output {dest}: {why}")]
    Unsupported { dest: String, why: String },
    #[error("output {dest}: {source}")]
    Store { dest: String, source: StoreError },
    #[error("output {dest}: {source}")]
    Registry {
        dest: String,
        source: Box<RegistryError>,
    },
    #[error("output {dest}: {why}; nothing was written to any output")]
    Preflight { dest: String, why: String },
}

/// A parsed `-o` destination.
#[derive(Clone, Debug)]
pub struct Destination {
    pub transport: Transport,
}

impl Destination {
    /// Parses a destination and checks that ironhull can write it.
    pub fn parse(s: &str) -> Result<Self, OutputError> {
        let transport = Transport::parse(s).map_err(|source| OutputError::Parse {
            dest: s.into(),
            source,
        })?;
        match &transport {
            Transport::Oci { .. } | Transport::OciArchive { .. } | Transport::DockerArchive { .. } => Ok(Self { transport }),
            Transport::Docker(_) => Ok(Self { transport }),
            _ => Err(OutputError::Unsupported {
                dest: s.into(),
                why: "not a writable destination; use oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]".into(),
            }),
        }
    }

    /// Makes relative paths relative to `cwd` (they already are, for the CLI),
    /// and reports the path the output will occupy.
    pub fn path(&self) -> Option<&Path> {
        match &self.transport {
            Transport::Oci { dir, .. } => Some(dir),
            Transport::OciArchive { file, .. } | Transport::DockerArchive { file, .. } => {
                Some(file)
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.transport)
    }
}

/// `docker://host/repo` gets `:latest` from the reference parser; only a tag
/// the user wrote counts as choosing one.
fn target_tag_is_default(dest: &str) -> bool {
    let after_slash = dest.rsplit('/').next().unwrap_or(dest);
    !after_slash.contains(':') && !dest.contains('@')
}

/// Checks every destination before anything is written, so one unusable
/// destination does not leave the others half done: a path that exists but
/// cannot be replaced, an `oci:` directory that is not a layout, or a
/// docker-archive for a multi-platform image.
pub fn preflight(dests: &[Destination], platforms: usize) -> Result<(), OutputError> {
    for d in dests {
        let fail = |why: String| {
            Err(OutputError::Preflight {
                dest: d.to_string(),
                why,
            })
        };
        match &d.transport {
            Transport::Oci { dir, .. } => {
                if dir.is_file() {
                    return fail(format!("{} is a file, not a directory", dir.display()));
                }
                if dir.is_dir() && !dir.join("oci-layout").is_file() {
                    let empty = std::fs::read_dir(dir)
                        .map(|mut r| r.next().is_none())
                        .unwrap_or(false);
                    if !empty {
                        return fail(format!(
                            "{} exists and is not an OCI layout; choose another directory or remove it",
                            dir.display()
                        ));
                    }
                }
            }
            Transport::OciArchive { file, .. } | Transport::DockerArchive { file, .. } => {
                if file.is_dir() {
                    return fail(format!("{} is a directory; name a file", file.display()));
                }
                if matches!(d.transport, Transport::DockerArchive { .. }) && platforms != 1 {
                    return fail(format!(
                        "a docker-archive holds one platform, and this build has {platforms}; pass --platform to pick one"
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The default destination: `oci:./ironhull-out/<name>:<first tag>`.
pub fn default_destination(name: &str, tag: &str) -> Destination {
    let last = name.rsplit('/').next().unwrap_or(name);
    Destination {
        transport: Transport::Oci {
            dir: PathBuf::from("ironhull-out").join(last),
            tag: Some(tag.to_string()),
        },
    }
}

/// Writes the built image to one destination. `tags` are the spec's tags; the
/// first one is used where a destination names none.
pub fn write(
    built: &Built,
    dest: &Destination,
    name: &str,
    tags: &[String],
    registry: &RegistryOptions,
) -> Result<Option<Digest>, OutputError> {
    write_staged(built, dest, name, tags, registry, None)
}

/// Stages a fresh `oci:` destination before the build, so the build can
/// mirror blobs into it while it runs (see [`store::StagedLayout`]); `None`
/// for every other destination, or when the directory exists already.
pub fn stage(dest: &Destination) -> Result<Option<store::StagedLayout>, OutputError> {
    match &dest.transport {
        Transport::Oci { dir, .. } => {
            store::StagedLayout::new(dir).map_err(|source| OutputError::Store {
                dest: dest.to_string(),
                source,
            })
        }
        _ => Ok(None),
    }
}

/// [`write`], finishing the layout `staged` for this destination (from
/// [`stage`]) when there is one.
pub fn write_staged(
    built: &Built,
    dest: &Destination,
    name: &str,
    tags: &[String],
    registry: &RegistryOptions,
    staged: Option<store::StagedLayout>,
) -> Result<Option<Digest>, OutputError> {
    write_inner(built, dest, name, tags, registry, staged, true)
}

/// Pushes the image to a `docker://` destination by digest only: no tag
/// moves yet. A signed build attaches its signatures first and then calls
/// [`tag_pushed`], so a tag never points at an image whose signing failed.
pub fn push_untagged(
    built: &Built,
    dest: &Destination,
    name: &str,
    registry: &RegistryOptions,
) -> Result<Option<Digest>, OutputError> {
    write_inner(built, dest, name, &[], registry, None, false)
}

/// The tags a push to `target` writes: the reference's tag if it names
/// one, else every spec tag.
fn registry_tags(
    dest: &Destination,
    target: &crate::reference::Reference,
    tags: &[String],
) -> Vec<String> {
    let first_tag = tags.first().map(String::as_str).unwrap_or("latest");
    match target.tag() {
        Some(t) if !target_tag_is_default(&dest.to_string()) => vec![t.to_string()],
        _ if !tags.is_empty() => tags.to_vec(),
        _ => vec![first_tag.to_string()],
    }
}

/// Points the destination's tags at an image [`push_untagged`] pushed.
pub fn tag_pushed(
    built: &Built,
    dest: &Destination,
    tags: &[String],
    registry: &RegistryOptions,
) -> Result<(), OutputError> {
    let Transport::Docker(target) = &dest.transport else {
        return Ok(());
    };
    let rerr = |source: RegistryError| OutputError::Registry {
        dest: dest.to_string(),
        source: Box::new(source),
    };
    let client = Client::new(registry.clone()).map_err(rerr)?;
    for t in registry_tags(dest, target, tags) {
        client
            .push_manifest(target, &t, &built.top.media_type, &built.top_bytes)
            .map_err(rerr)?;
    }
    Ok(())
}

fn write_inner(
    built: &Built,
    dest: &Destination,
    name: &str,
    tags: &[String],
    registry: &RegistryOptions,
    mut staged: Option<store::StagedLayout>,
    tag_now: bool,
) -> Result<Option<Digest>, OutputError> {
    let first_tag = tags.first().map(String::as_str).unwrap_or("latest");
    let serr = |source| OutputError::Store {
        dest: dest.to_string(),
        source,
    };
    match &dest.transport {
        Transport::Oci { dir, tag } => {
            // A layout can hold several tags: write every spec tag unless the
            // destination names one.
            let want: Vec<&str> = match tag {
                Some(t) => vec![t.as_str()],
                None => tags.iter().map(String::as_str).collect(),
            };
            let want = if want.is_empty() {
                vec![first_tag]
            } else {
                want
            };
            for t in want {
                match staged.take() {
                    Some(st) => st.commit(t, &built.top, &built.blobs, &built.store),
                    None => store::write_oci_layout(dir, t, &built.top, &built.blobs, &built.store),
                }
                .map_err(serr)?;
            }
            Ok(None)
        }
        Transport::OciArchive { file, tag } => store::write_oci_archive(
            file,
            tag.as_deref().unwrap_or(first_tag),
            &built.top,
            &built.blobs,
            &built.store,
        )
        .map(|_| None)
        .map_err(serr),
        Transport::DockerArchive { file, reference } => {
            if built.images.len() != 1 {
                return Err(OutputError::Unsupported {
                    dest: dest.to_string(),
                    why: format!(
                        "a docker-archive holds one platform, and this build has {}; pass --platform to pick one",
                        built.images.len()
                    ),
                });
            }
            let r = reference
                .clone()
                .unwrap_or_else(|| format!("{name}:{first_tag}"));
            store::write_docker_archive(file, &r, &built.images[0].image, &built.store)
                .map(|_| None)
                .map_err(serr)
        }
        Transport::Docker(target) => {
            let push_tags = if tag_now {
                registry_tags(dest, target, tags)
            } else {
                Vec::new()
            };
            let mount_from = match &built.base {
                Transport::Docker(b) if b.registry() == target.registry() => Some(b),
                _ => None,
            };
            let rerr = |source: RegistryError| OutputError::Registry {
                dest: dest.to_string(),
                source: Box::new(source),
            };
            let client = Client::new(registry.clone()).map_err(rerr)?;
            let images: Vec<_> = built.images.iter().map(|b| b.image.clone()).collect();
            client
                .push(
                    target,
                    &push_tags,
                    &built.top,
                    &built.top_bytes,
                    &images,
                    &built.store,
                    mount_from,
                )
                .map(Some)
                .map_err(rerr)
        }
        _ => Err(OutputError::Unsupported {
            dest: dest.to_string(),
            why: "not writable".into(),
        }),
    }
}
