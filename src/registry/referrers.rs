//! What signing and verifying need beyond pull and push: reading a
//! document that may not exist (a fallback tag, a `.sig` tag), the
//! referrers API, and small blobs (bundles, payloads). Every document is
//! capped at [`MAX_DOC`] and checked against the digest it is fetched by.

use super::pull::{ACCEPT, fetch_blob, fetch_manifest};
use super::transport::{Body, Ctx, Transport, read_limited};
use super::{MAX_DOC, RegistryError};
use crate::digest::Digest;
use crate::image::media;
use crate::reference::Reference;
use crate::store::BlobStore;

/// A manifest or index as fetched: its bytes, media type and digest.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

/// Fetches a manifest by tag or digest; `None` when the registry says it
/// does not exist (404), which for a fallback or `.sig` tag means "no
/// signatures yet", not a failure.
pub(crate) fn fetch_optional(
    t: &Transport,
    target: &Reference,
    tag_or_digest: &str,
) -> Result<Option<Fetched>, RegistryError> {
    let ctx = Ctx::new(target, "pull");
    let url = format!("{}/manifests/{tag_or_digest}", t.v2(&ctx)?);
    let resp = t.send(&ctx, "HEAD", &url, &[("accept", ACCEPT)], &Body::Empty)?;
    if resp.status().as_u16() == 404 {
        return Ok(None);
    }
    let expected = Digest::parse(tag_or_digest).ok();
    let (bytes, _, media_type, digest) =
        fetch_manifest(t, &ctx, tag_or_digest, expected.as_ref(), None)?;
    Ok(Some(Fetched {
        bytes,
        media_type,
        digest,
    }))
}

/// The referrers index of `subject` from the referrers API; `None` when the
/// registry does not serve the API (then the tag schema is the fallback).
pub(crate) fn referrers(
    t: &Transport,
    target: &Reference,
    subject: &Digest,
) -> Result<Option<Vec<u8>>, RegistryError> {
    let ctx = Ctx::new(target, "pull");
    let url = format!("{}/referrers/{subject}", t.v2(&ctx)?);
    let resp = t.send(
        &ctx,
        "GET",
        &url,
        &[("accept", media::OCI_INDEX)],
        &Body::Empty,
    )?;
    if resp.status().as_u16() != 200 {
        return Ok(None);
    }
    let bytes = read_limited(resp, MAX_DOC)
        .map_err(|e| RegistryError::Connect {
            registry: ctx.registry.clone(),
            detail: format!("reading the referrers of {subject}: {e}"),
        })?
        .ok_or_else(|| RegistryError::TooLarge {
            registry: ctx.registry.clone(),
            repository: ctx.repository.clone(),
            what: format!("referrers of {subject}"),
            limit: MAX_DOC,
        })?;
    Ok(Some(bytes))
}

/// Downloads a blob into `store` (verified while streaming) and returns its
/// bytes; `size` must be at most [`MAX_DOC`], since callers parse it.
pub(crate) fn small_blob(
    t: &Transport,
    target: &Reference,
    digest: &Digest,
    size: u64,
    store: &BlobStore,
) -> Result<Vec<u8>, RegistryError> {
    let ctx = Ctx::new(target, "pull");
    if size > MAX_DOC {
        return Err(RegistryError::TooLarge {
            registry: ctx.registry.clone(),
            repository: ctx.repository.clone(),
            what: format!("blob {digest}"),
            limit: MAX_DOC,
        });
    }
    fetch_blob(t, &ctx, digest, size, store)?;
    store
        .read_verified(digest, Some(size), MAX_DOC)
        .map_err(RegistryError::from)
}
