//! `ironhull push`: a local image (layout or archive) to a registry, by
//! digest and under every requested tag, blobs verified as they are read.

use crate::cjson;
use crate::digest::Digest;
use crate::error::ErrorClass;
use crate::image::{Descriptor, Index, PlatformImage, media};
use crate::reference::{Reference, Transport};
use crate::registry::{Client, RegistryError, RegistryOptions};
use crate::store::{self, Source};

#[derive(Clone, Debug)]
pub struct PushJob {
    /// `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]` or `docker-archive:FILE[:REF]`.
    pub source: String,
    /// `docker://REGISTRY/REPO[:TAG]`.
    pub destination: String,
    /// More tags to push, besides the destination's.
    pub tags: Vec<String>,
    pub registry: RegistryOptions,
}

/// What was pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// The repository, without tag.
    pub reference: String,
    pub digest: Digest,
    pub tags: Vec<String>,
    pub media_type: String,
    /// Referrers and `.sig` images carried over from the layout.
    pub attached: usize,
}

/// A failed push: class, the `--json` error kind (`Source`, `Destination`,
/// `Tag`, `Io`, `Registry`) and the message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PushError {
    pub class: ErrorClass,
    pub kind: &'static str,
    pub message: String,
}

fn err(class: ErrorClass, kind: &'static str, message: impl std::fmt::Display) -> PushError {
    PushError {
        class,
        kind,
        message: message.to_string(),
    }
}

/// The class of a registry failure: a missing platform, a refused push,
/// misuse or bad credentials are the user's to fix; the rest is I/O.
pub fn registry_class(e: &RegistryError) -> ErrorClass {
    match e {
        RegistryError::PlatformNotFound { .. }
        | RegistryError::BadPush { .. }
        | RegistryError::Usage(_)
        | RegistryError::Credentials { .. } => ErrorClass::Input,
        _ => ErrorClass::Io,
    }
}

pub fn push(job: &PushJob) -> Result<Pushed, PushError> {
    use ErrorClass::{Input, Io};
    let src_t = Transport::parse(&job.source).map_err(|e| err(Input, "Source", e))?;
    let target = match Transport::parse(&job.destination) {
        Ok(Transport::Docker(r)) => r,
        Ok(other) => {
            return Err(err(
                Input,
                "Destination",
                format!("push destination must be docker://REGISTRY/REPO[:TAG], not `{other}`"),
            ));
        }
        Err(e) => return Err(err(Input, "Destination", e)),
    };
    let mut tags: Vec<String> = target.tag().map(str::to_string).into_iter().collect();
    for t in &job.tags {
        if Reference::parse(&format!("{}:{t}", target.name())).is_err() || t.contains(['/', '@']) {
            return Err(err(
                Input,
                "Tag",
                format!("invalid tag {t:?}: use 1-128 letters, digits, `_`, `.`, `-`"),
            ));
        }
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let work = tempfile::tempdir().map_err(|e| {
        err(
            Io,
            "Io",
            format!("cannot create a temporary directory: {e}"),
        )
    })?;
    let src = open_source(&src_t, work.path()).map_err(|e| err(Input, "Source", e))?;
    let (top, top_bytes) = top_of(&src).map_err(|e| err(Input, "Source", e))?;
    let client =
        Client::new(job.registry.clone()).map_err(|e| err(registry_class(&e), "Registry", e))?;
    let digest = client
        .push(
            &target,
            &tags,
            &top,
            &top_bytes,
            &src.images.images,
            &src.blobs,
            None,
        )
        .map_err(|e| err(registry_class(&e), "Registry", e))?;
    // A layout's signatures and attestations go with it.
    let mut attached = Vec::new();
    if let Transport::Oci { dir, .. } = &src_t {
        let mut subjects = vec![digest.clone()];
        subjects.extend(src.images.images.iter().map(|i| i.manifest_digest.clone()));
        attached = crate::output::signatures::push_from_layout(&client, &target, dir, &subjects)
            .map_err(|e| err(Io, "Registry", e))?;
    }
    Ok(Pushed {
        attached: attached.len(),
        reference: target.name().to_string(),
        digest,
        tags,
        media_type: top.media_type.clone(),
    })
}

/// Reads a local transport into a [`Source`].
fn open_source(t: &Transport, work: &std::path::Path) -> Result<Source, String> {
    match t {
        Transport::Oci { dir, tag } => {
            store::read_oci_layout(dir, tag.as_deref()).map_err(|e| e.to_string())
        }
        Transport::OciArchive { file, tag } => {
            store::read_oci_archive(file, tag.as_deref(), work).map_err(|e| e.to_string())
        }
        Transport::DockerArchive { file, reference } => {
            store::read_docker_archive(file, reference.as_deref(), work).map_err(|e| e.to_string())
        }
        other => Err(format!(
            "cannot push from `{other}`: the source must be oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]"
        )),
    }
}

/// The top document of a source: its index when it has one, the single
/// manifest otherwise, else a fresh index over all its manifests.
fn top_of(src: &Source) -> Result<(Descriptor, Vec<u8>), String> {
    let images = &src.images.images;
    if let Some(d) = &src.images.index_digest
        && let Ok(bytes) = src.blobs.read_verified(d, None, store::MAX_DOC)
    {
        let mt = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| media::OCI_INDEX.to_string());
        return Ok((Descriptor::new(&mt, d.clone(), bytes.len() as u64), bytes));
    }
    match images.as_slice() {
        [] => Err("the source holds no image".into()),
        [one] => Ok((one.descriptor(), one.manifest_bytes.clone())),
        many => {
            let idx = Index::new(many.iter().map(PlatformImage::descriptor).collect());
            let bytes = cjson::to_vec(&idx).map_err(|e| format!("cannot encode the index: {e}"))?;
            Ok((
                Descriptor::new(media::OCI_INDEX, Digest::of(&bytes), bytes.len() as u64),
                bytes,
            ))
        }
    }
}
