//! Pushing: blobs (HEAD-skip, cross-repo mount, monolithic or chunked
//! upload), then manifests, then the top document under every tag.
//!
//! Order matters: a registry rejects a manifest whose blobs are missing, and
//! the tag must only move once everything it points at is in place.

use super::RegistryError;
use super::pull::parallel;
use super::transport::{Body, Ctx, Transport, UploadCheck, add_query, header, resolve_location};
use crate::digest::Digest;
use crate::image::{Descriptor, PlatformImage};
use crate::reference::Reference;
use crate::store::BlobStore;
use sha2::{Digest as _, Sha256};
use std::time::Instant;

fn bad_push(target: &Reference, detail: String) -> RegistryError {
    RegistryError::BadPush {
        target: target.name(),
        detail,
    }
}

fn bad_push_ctx(ctx: &Ctx, detail: String) -> RegistryError {
    RegistryError::BadPush {
        target: format!("{}/{}", ctx.registry, ctx.repository),
        detail,
    }
}

/// Checks that the registry computed the same digest we sent.
fn check_echo(
    ctx: &Ctx,
    resp: &ureq::http::Response<ureq::Body>,
    expected: &Digest,
    what: &str,
) -> Result<(), RegistryError> {
    if let Some(d) = header(resp, "docker-content-digest").and_then(|d| Digest::parse(d).ok())
        && &d != expected
    {
        return Err(RegistryError::DigestMismatch {
            registry: ctx.registry.clone(),
            repository: ctx.repository.clone(),
            what: format!("{what} (as stored by the registry)"),
            expected: expected.to_string(),
            actual: d.to_string(),
        });
    }
    Ok(())
}

fn location(
    t: &Transport,
    ctx: &Ctx,
    resp: &ureq::http::Response<ureq::Body>,
    base: &str,
) -> Result<String, RegistryError> {
    let _ = t;
    header(resp, "location")
        .map(|l| resolve_location(base, l))
        .ok_or_else(|| RegistryError::Status {
            registry: ctx.registry.clone(),
            repository: ctx.repository.clone(),
            operation: "start a blob upload".into(),
            status: resp.status().as_u16(),
            detail: ": the response has no Location header".into(),
        })
}

/// Uploads one blob unless the registry already has it.
fn push_blob(
    t: &Transport,
    ctx: &Ctx,
    digest: &Digest,
    size: u64,
    src: &BlobStore,
    mount_from: Option<&str>,
) -> Result<(), RegistryError> {
    let started = Instant::now();
    let v2 = t.v2(ctx)?;
    let what = format!("blob {digest}");
    let head = t.send(
        ctx,
        "HEAD",
        &format!("{v2}/blobs/{digest}"),
        &[],
        &Body::Empty,
    )?;
    match head.status().as_u16() {
        200 => {
            t.progress
                .blob("exists", &digest.to_string(), size, started);
            return Ok(());
        }
        404 => {}
        _ => return Err(t.status_error(ctx, head, &format!("HEAD {what}"))),
    }
    drop(head);
    let uploads = format!("{v2}/blobs/uploads/");
    let start_url = match mount_from {
        Some(from) => add_query(
            &add_query(&uploads, "mount", &digest.to_string()),
            "from",
            from,
        ),
        None => uploads.clone(),
    };
    let resp = t.send(ctx, "POST", &start_url, &[], &Body::Empty)?;
    match resp.status().as_u16() {
        201 if mount_from.is_some() => {
            check_echo(ctx, &resp, digest, &what)?;
            t.progress
                .blob("mounted", &digest.to_string(), size, started);
            return Ok(());
        }
        202 => {}
        _ => return Err(t.status_error(ctx, resp, &format!("start the upload of {what}"))),
    }
    let mut loc = location(t, ctx, &resp, &start_url)?;
    drop(resp);
    let path = src.path(digest);
    if !path.is_file() {
        return Err(bad_push_ctx(
            ctx,
            format!(
                "{what} is not in the source blob store {}",
                src.root().display()
            ),
        ));
    }
    let octet = ("content-type", "application/octet-stream");
    // Every byte is hashed as it is sent (see `UploadCheck`): a monolithic
    // upload is one range that ends the blob; chunks chain their hashes and
    // only the last one knows the digest to compare with.
    let done = if size <= t.monolithic_limit {
        let url = add_query(&loc, "digest", &digest.to_string());
        let check = UploadCheck::new(Sha256::new(), Some(digest.clone()));
        t.send(
            ctx,
            "PUT",
            &url,
            &[octet],
            &Body::File {
                path,
                offset: 0,
                len: size,
                check: &check,
            },
        )?
    } else {
        let mut offset = 0u64;
        let mut hashed = Sha256::new();
        while offset < size {
            let len = t.chunk_size.max(1).min(size - offset);
            let range = format!("{offset}-{}", offset + len - 1);
            let last = offset + len == size;
            let check = UploadCheck::new(hashed, last.then(|| digest.clone()));
            let resp = t.send(
                ctx,
                "PATCH",
                &loc,
                &[octet, ("content-range", &range)],
                &Body::File {
                    path: path.clone(),
                    offset,
                    len,
                    check: &check,
                },
            )?;
            if resp.status().as_u16() != 202 {
                return Err(t.status_error(ctx, resp, &format!("upload a chunk of {what}")));
            }
            hashed = check.take_end().ok_or_else(|| {
                bad_push_ctx(
                    ctx,
                    format!(
                        "the registry accepted bytes {range} of {what} before receiving all of them; push again, and report the registry's behaviour if it persists"
                    ),
                )
            })?;
            loc = location(t, ctx, &resp, &loc)?;
            offset += len;
        }
        let url = add_query(&loc, "digest", &digest.to_string());
        t.send(ctx, "PUT", &url, &[], &Body::Empty)?
    };
    if done.status().as_u16() != 201 {
        return Err(t.status_error(ctx, done, &format!("finish the upload of {what}")));
    }
    check_echo(ctx, &done, digest, &what)?;
    t.progress.blob("push", &digest.to_string(), size, started);
    Ok(())
}

/// True when `reference` (a tag or digest) already resolves to `digest` in
/// the registry. WHY: pushing an image again must cost only HEAD requests;
/// re-PUTting an unchanged manifest is a write (and, on some registries, an
/// audit event and a webhook) for nothing. A registry that does not answer
/// with a digest gets the PUT.
fn manifest_present(
    t: &Transport,
    ctx: &Ctx,
    reference: &str,
    media_type: &str,
    digest: &Digest,
) -> Result<bool, RegistryError> {
    let url = format!("{}/manifests/{reference}", t.v2(ctx)?);
    let resp = t.send(ctx, "HEAD", &url, &[("accept", media_type)], &Body::Empty)?;
    Ok(resp.status().as_u16() == 200
        && header(&resp, "docker-content-digest")
            .and_then(|d| Digest::parse(d).ok())
            .is_some_and(|d| &d == digest))
}

/// PUTs a manifest unless the registry already has it under `reference`;
/// returns its digest and whether it was sent.
fn ensure_manifest(
    t: &Transport,
    ctx: &Ctx,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> Result<(Digest, bool), RegistryError> {
    let digest = Digest::of(bytes);
    if manifest_present(t, ctx, reference, media_type, &digest)? {
        return Ok((digest, false));
    }
    put_manifest(t, ctx, reference, media_type, bytes).map(|d| (d, true))
}

fn put_manifest(
    t: &Transport,
    ctx: &Ctx,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> Result<Digest, RegistryError> {
    let digest = Digest::of(bytes);
    let url = format!("{}/manifests/{reference}", t.v2(ctx)?);
    let resp = t.send(
        ctx,
        "PUT",
        &url,
        &[("content-type", media_type)],
        &Body::Bytes(bytes),
    )?;
    if resp.status().as_u16() != 201 {
        return Err(t.status_error(ctx, resp, &format!("PUT manifest {reference}")));
    }
    check_echo(ctx, &resp, &digest, &format!("manifest {reference}"))?;
    Ok(digest)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn push(
    t: &Transport,
    target: &Reference,
    tags: &[String],
    top: &Descriptor,
    top_bytes: &[u8],
    images: &[PlatformImage],
    src: &BlobStore,
    mount_from: Option<&Reference>,
) -> Result<Digest, RegistryError> {
    let actual = Digest::of(top_bytes);
    if actual != top.digest || top.size != top_bytes.len() as u64 {
        return Err(bad_push(
            target,
            format!(
                "the top document is {} ({} bytes) but its descriptor says {} ({} bytes)",
                actual,
                top_bytes.len(),
                top.digest,
                top.size
            ),
        ));
    }
    for tag in tags {
        if Reference::parse(&format!("{}:{tag}", target.name())).is_err()
            || tag.contains(['/', '@'])
        {
            return Err(bad_push(
                target,
                format!(
                    "invalid tag {tag:?}: 1-128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
                ),
            ));
        }
    }
    let mut ctx = Ctx::new(target, "push");
    // A mount is only possible within one registry, and pointless in one repo.
    let from = mount_from
        .filter(|m| m.api_host() == target.api_host() && m.repository() != target.repository())
        .map(|m| m.repository().to_string());
    if let Some(f) = &from {
        ctx.scope.push_str(&format!(" repository:{f}:pull"));
    }
    let mut blobs: Vec<(Digest, u64)> = Vec::new();
    for img in images {
        if Digest::of(&img.manifest_bytes) != img.manifest_digest {
            return Err(bad_push(
                target,
                format!("manifest bytes of {} do not match its digest", img.platform),
            ));
        }
        let mut push_one = |d: &Digest, size: u64| {
            if !blobs.iter().any(|(x, _)| x == d) {
                blobs.push((d.clone(), size));
            }
        };
        push_one(&img.config_digest, img.config_bytes.len() as u64);
        for l in &img.layers {
            push_one(&l.digest, l.size);
        }
    }
    for (d, _) in &blobs {
        if !src.contains(d) {
            return Err(bad_push(
                target,
                format!(
                    "blob {d} is not in the source store {}",
                    src.root().display()
                ),
            ));
        }
    }
    parallel(t.concurrency(), &blobs, |(d, size)| {
        push_blob(t, &ctx, d, *size, src, from.as_deref())
    })?;
    for img in images {
        if img.manifest_digest == top.digest {
            continue;
        }
        let (_, sent) = ensure_manifest(
            t,
            &ctx,
            &img.manifest_digest.to_string(),
            &img.manifest_media_type,
            &img.manifest_bytes,
        )?;
        let verb = if sent { "pushed" } else { "already present:" };
        t.progress.note(
            "manifest",
            &format!("{verb} manifest {} ({})", img.manifest_digest, img.platform),
        );
    }
    if tags.is_empty() {
        ensure_manifest(t, &ctx, &top.digest.to_string(), &top.media_type, top_bytes)?;
    }
    for tag in tags {
        let (_, sent) = ensure_manifest(t, &ctx, tag, &top.media_type, top_bytes)?;
        let verb = if sent { "pushed" } else { "unchanged" };
        t.progress
            .note("tag", &format!("{verb} {}:{tag}", target.name()));
    }
    t.progress
        .note("done", &format!("{}@{}", target.name(), top.digest));
    Ok(top.digest.clone())
}

pub(crate) fn push_manifest(
    t: &Transport,
    target: &Reference,
    tag_or_digest: &str,
    media_type: &str,
    bytes: &[u8],
) -> Result<Digest, RegistryError> {
    if bytes.len() as u64 > super::MAX_DOC {
        return Err(bad_push(target, "the manifest is larger than 4 MiB".into()));
    }
    let digest = Digest::of(bytes);
    let is_digest = tag_or_digest.starts_with("sha256:");
    if is_digest {
        let d = Digest::parse(tag_or_digest).map_err(|e| bad_push(target, e.to_string()))?;
        if d != digest {
            return Err(bad_push(
                target,
                format!("the bytes hash to {digest}, not {d}"),
            ));
        }
    } else if Reference::parse(&format!("{}:{tag_or_digest}", target.name())).is_err()
        || tag_or_digest.contains(['/', '@'])
    {
        return Err(bad_push(target, format!("invalid tag {tag_or_digest:?}")));
    }
    let ctx = Ctx::new(target, "push");
    put_manifest(t, &ctx, tag_or_digest, media_type, bytes)
}

pub(crate) fn supports_referrers(t: &Transport, target: &Reference) -> Result<bool, RegistryError> {
    let ctx = Ctx::new(target, "pull");
    let probe = Digest::of(b"");
    let url = format!("{}/referrers/{probe}", t.v2(&ctx)?);
    let resp = t.send(
        &ctx,
        "GET",
        &url,
        &[("accept", crate::image::media::OCI_INDEX)],
        &Body::Empty,
    )?;
    Ok(resp.status().as_u16() == 200)
}
