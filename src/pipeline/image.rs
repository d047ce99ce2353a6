//! The image stage: the config (the base's, with the spec's runtime settings
//! and one history entry per added layer), the manifest with ironhull's
//! annotations, and, for several platforms, the index over them.

use super::built::{BuildError, BuiltImage};
use crate::build::BuildRequest;
use crate::build::config::{self, AddedLayer};
use crate::cjson;
use crate::digest::Digest;
use crate::image::{Descriptor, Index, LayerBlob, PlatformImage, annotation, media};
use crate::store::BlobStore;
use std::collections::BTreeMap;

/// Writes one platform's config and manifest over `layers` (hardened base,
/// accounts, artifacts; `artifact_descriptions` names each artifact layer).
pub(crate) fn assemble(
    req: &BuildRequest,
    base: &crate::base::resolve::ResolvedBase,
    base_img: &PlatformImage,
    layers: Vec<LayerBlob>,
    artifact_descriptions: &[String],
    created: &str,
    store: &BlobStore,
) -> Result<PlatformImage, BuildError> {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    let mut added = vec![AddedLayer {
        created_by: format!(
            "ironhull: user {}:{} ({}), /etc/passwd, /etc/group",
            req.user.uid, req.user.gid, req.user.name
        ),
        comment: Some("ironhull".into()),
    }];
    added.extend(artifact_descriptions.iter().map(|d| AddedLayer {
        created_by: format!("ironhull: add {d}"),
        comment: Some("ironhull".into()),
    }));
    let cfg = config::image_config(
        &base_img.config,
        &base_img.platform,
        &req.runtime,
        &diff_ids,
        &added,
        created,
    );
    let mut ann: BTreeMap<String, String> = req.annotations.clone();
    // base.name is an image reference (OCI annotations spec), so only a
    // registry base has one. A local base's name is a path on the build
    // machine: recording it would leak that path into the image and give
    // the same inputs a different digest in another checkout. The built-in
    // base has no external provenance either; for both, base.digest says it.
    if let Some(name) = registry_name(&base.name) {
        ann.insert(annotation::BASE_NAME.into(), name);
    }
    if let Some(d) = &base.digest {
        ann.insert(annotation::BASE_DIGEST.into(), d.to_string());
    }
    ann.insert(annotation::CREATED.into(), created.to_string());
    Ok(crate::store::put_image(
        store,
        base_img.platform.clone(),
        cfg,
        layers,
        ann,
    )?)
}

/// The `base.name` annotation for a base named `name`: the reference in
/// distribution's format (no `docker://`), for a registry base only, which is
/// the only kind of base that annotation can name.
fn registry_name(name: &str) -> Option<String> {
    match crate::reference::Transport::parse_base(name) {
        Ok(crate::reference::Transport::Docker(r)) => Some(r.to_string()),
        _ => None,
    }
}

/// The top-level document: the manifest for one platform, an index (stored,
/// and added to `blobs`) for several.
pub(crate) fn top(
    images: &[BuiltImage],
    store: &BlobStore,
    blobs: &mut Vec<Digest>,
) -> Result<(Descriptor, Vec<u8>), BuildError> {
    // Built manifests are OCI manifests (`store::put_image`).
    if let [one] = images {
        return Ok((one.image.descriptor(), one.image.manifest_bytes.clone()));
    }
    let idx = Index::new(images.iter().map(|b| b.image.descriptor()).collect());
    let bytes = cjson::to_vec(&idx)?;
    let d = store.put(&bytes)?;
    blobs.push(d.clone());
    Ok((
        Descriptor::new(media::OCI_INDEX, d, bytes.len() as u64),
        bytes,
    ))
}
