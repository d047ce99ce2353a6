//! The image a `sign` or `verify` is about: a registry image (by tag or
//! digest) or an `oci:` layout, resolved to the digest a signature must
//! name, plus its platform manifests when it is an index (signed too, so
//! a runtime that pulls one platform by digest finds a signature for it).

use crate::image::{Index, media};
use crate::output::referrer::Subject;
use crate::reference::{Reference, Transport};
use crate::registry::Client;
use crate::store::{self, MAX_DOC};
use std::path::PathBuf;

/// Where the image and its signatures live.
#[derive(Debug)]
pub enum Place {
    Registry {
        client: Box<Client>,
        reference: Reference,
    },
    Layout {
        dir: PathBuf,
    },
}

#[derive(Debug)]
pub struct Target {
    pub place: Place,
    /// The top-level document: what `verify` checks and `sign` signs.
    pub top: Subject,
    /// The platform manifests of an index (empty for a single manifest).
    pub children: Vec<Subject>,
    /// The repository name (`registry/repo`) or the layout's path, for the
    /// legacy payload's `docker-reference` and for messages.
    pub name: String,
}

impl Target {
    /// The top and every platform manifest.
    pub fn subjects(&self) -> Vec<Subject> {
        let mut v = vec![self.top.clone()];
        v.extend(self.children.iter().cloned());
        v
    }
}

fn children_of(bytes: &[u8], media_type: &str) -> Result<Vec<Subject>, String> {
    if media_type != media::OCI_INDEX && media_type != media::DOCKER_LIST {
        return Ok(Vec::new());
    }
    let idx: Index =
        serde_json::from_slice(bytes).map_err(|e| format!("the image index is malformed: {e}"))?;
    Ok(idx
        .manifests
        .iter()
        .filter(|d| d.media_type == media::OCI_MANIFEST || d.media_type == media::DOCKER_MANIFEST)
        .take(1000)
        .map(Subject::of_descriptor)
        .collect())
}

/// Resolves `image` (`docker://…` or `oci:DIR[:TAG]`).
pub fn resolve(image: &str, registry: &crate::registry::RegistryOptions) -> Result<Target, String> {
    let t = Transport::parse(image).map_err(|e| format!("{image:?}: {e}"))?;
    match t {
        Transport::Docker(reference) => {
            let client = Client::new(registry.clone()).map_err(|e| e.to_string())?;
            let (digest, _) = client.resolve(&reference).map_err(|e| e.to_string())?;
            let f = client
                .fetch_optional(&reference, &digest.to_string())
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!("{image}: the registry lists {digest} but does not serve it")
                })?;
            let children = children_of(&f.bytes, &f.media_type)?;
            let top = Subject {
                media_type: f.media_type,
                digest,
                size: f.bytes.len() as u64,
            };
            let name = reference.name().to_string();
            Ok(Target {
                place: Place::Registry {
                    client: Box::new(client),
                    reference,
                },
                top,
                children,
                name,
            })
        }
        Transport::Oci { dir, tag } => {
            let src = store::read_oci_layout(&dir, tag.as_deref()).map_err(|e| e.to_string())?;
            let (top, children) = match &src.images.index_digest {
                Some(d) => {
                    let bytes = src
                        .blobs
                        .read_verified(d, None, MAX_DOC)
                        .map_err(|e| e.to_string())?;
                    let mt = serde_json::from_slice::<serde_json::Value>(&bytes)
                        .ok()
                        .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
                        .unwrap_or_else(|| media::OCI_INDEX.to_string());
                    let children = children_of(&bytes, &mt)?;
                    (
                        Subject {
                            media_type: mt,
                            digest: d.clone(),
                            size: bytes.len() as u64,
                        },
                        children,
                    )
                }
                None => match src.images.images.as_slice() {
                    [one] => (Subject::of_image(one), Vec::new()),
                    _ => return Err(format!("{image}: the layout entry is not one image")),
                },
            };
            Ok(Target {
                name: dir.display().to_string(),
                place: Place::Layout { dir },
                top,
                children,
            })
        }
        other => Err(format!(
            "cannot sign or verify `{other}`: use docker://REGISTRY/REPO[:TAG|@DIGEST] or oci:DIR[:TAG]"
        )),
    }
}
