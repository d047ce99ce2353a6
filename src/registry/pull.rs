//! Pulling: manifest resolution, platform selection, verified blob download.
//!
//! Every byte is checked: manifests against the reference's digest (or the
//! index entry's), configs and layers against their descriptors while they
//! stream into the cache. A failed check leaves nothing in the cache, because
//! [`BlobStore`] writes to a temp file and only renames after verifying.

use super::transport::{Body, Ctx, MAX_ATTEMPTS, Transport, backoff, header, read_limited};
use super::{MAX_DOC, RegistryError};
use crate::digest::Digest;
use crate::image::{
    Descriptor, ImageSet, Index, LayerBlob, Manifest, Platform, PlatformImage, media,
};
use crate::reference::Reference;
use crate::store::{BlobError, BlobStore};
use std::io::Read;
use std::time::Instant;

/// Accept header offering every manifest type ironhull understands.
pub(crate) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// What a fetched manifest document is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Index,
    Manifest,
}

fn kind_of(mt: &str) -> Option<Kind> {
    match mt {
        media::OCI_INDEX | media::DOCKER_LIST => Some(Kind::Index),
        media::OCI_MANIFEST | media::DOCKER_MANIFEST => Some(Kind::Manifest),
        _ => None,
    }
}

/// Decides the media type from the document (its `mediaType`, else its
/// shape) and the Content-Type header, rejecting anything else.
pub(crate) fn classify(
    ctx: &Ctx,
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<(Kind, String), RegistryError> {
    let bad = |detail: String| RegistryError::BadDocument {
        registry: ctx.registry.clone(),
        repository: ctx.repository.clone(),
        what: "manifest".into(),
        detail,
    };
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    if v.get("schemaVersion").and_then(|s| s.as_u64()) == Some(1) {
        return Err(bad("Docker schema 1 manifests are not supported; push the image again with a current client".into()));
    }
    let declared = v
        .get("mediaType")
        .and_then(|m| m.as_str())
        .map(str::to_string);
    let header_mt = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .filter(|c| kind_of(c).is_some());
    let mt = match (declared, header_mt) {
        (Some(d), _) => d,
        (None, Some(h)) => h,
        (None, None) if v.get("manifests").is_some() => media::OCI_INDEX.to_string(),
        (None, None) if v.get("config").is_some() => media::OCI_MANIFEST.to_string(),
        (None, None) => {
            return Err(bad(
                "no mediaType and neither `manifests` nor `config`".into()
            ));
        }
    };
    match kind_of(&mt) {
        Some(k) => Ok((k, mt)),
        None => Err(bad(format!(
            "unsupported media type {mt:?}; ironhull reads OCI manifests/indexes and Docker schema 2 manifests/lists"
        ))),
    }
}

fn mismatch(ctx: &Ctx, what: &str, expected: &Digest, actual: &Digest) -> RegistryError {
    RegistryError::DigestMismatch {
        registry: ctx.registry.clone(),
        repository: ctx.repository.clone(),
        what: what.into(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    }
}

fn io_error(ctx: &Ctx, what: &str, e: std::io::Error) -> RegistryError {
    RegistryError::Connect {
        registry: ctx.registry.clone(),
        detail: format!("reading {what} of repository {}: {e}", ctx.repository),
    }
}

/// Fetches a manifest or index by tag or digest and verifies it.
pub(crate) fn fetch_manifest(
    t: &Transport,
    ctx: &Ctx,
    reference: &str,
    expected: Option<&Digest>,
    expected_size: Option<u64>,
) -> Result<(Vec<u8>, Kind, String, Digest), RegistryError> {
    let url = format!("{}/manifests/{reference}", t.v2(ctx)?);
    let resp = t.get_following(ctx, &url, &[("accept", ACCEPT)])?;
    if resp.status().as_u16() != 200 {
        return Err(t.status_error(ctx, resp, &format!("manifest {reference}")));
    }
    let what = format!("manifest {reference}");
    let content_type = header(&resp, "content-type").map(str::to_string);
    let claimed = header(&resp, "docker-content-digest").and_then(|d| Digest::parse(d).ok());
    if let Some(len) = header(&resp, "content-length").and_then(|l| l.parse::<u64>().ok())
        && len > MAX_DOC
    {
        return Err(too_large(ctx, &what));
    }
    let bytes = read_limited(resp, MAX_DOC)
        .map_err(|e| io_error(ctx, &what, e))?
        .ok_or_else(|| too_large(ctx, &what))?;
    let actual = Digest::of(&bytes);
    if let Some(e) = expected.or(claimed.as_ref())
        && e != &actual
    {
        return Err(mismatch(ctx, &what, e, &actual));
    }
    if let Some(size) = expected_size
        && size != bytes.len() as u64
    {
        return Err(RegistryError::BadDocument {
            registry: ctx.registry.clone(),
            repository: ctx.repository.clone(),
            what,
            detail: format!("{} bytes, but the index says {size}", bytes.len()),
        });
    }
    let (kind, mt) = classify(ctx, &bytes, content_type.as_deref())?;
    Ok((bytes, kind, mt, actual))
}

fn too_large(ctx: &Ctx, what: &str) -> RegistryError {
    RegistryError::TooLarge {
        registry: ctx.registry.clone(),
        repository: ctx.repository.clone(),
        what: what.into(),
        limit: MAX_DOC,
    }
}

/// Downloads a blob into `cache` unless it is already there, verifying size
/// and digest while streaming.
pub(crate) fn fetch_blob(
    t: &Transport,
    ctx: &Ctx,
    digest: &Digest,
    size: u64,
    cache: &BlobStore,
) -> Result<(), RegistryError> {
    if cache.contains(digest) {
        return Ok(());
    }
    let started = Instant::now();
    let url = format!("{}/blobs/{digest}", t.v2(ctx)?);
    let what = format!("blob {digest}");
    // A body cut short (a reset connection, a close before Content-Length,
    // a Content-Length that lies) is a transfer fault: the GET is repeated
    // from the start into a fresh writer. Bytes that arrive in full but hash
    // wrong are not retried: that is corruption or tampering, reported.
    let mut attempt = 1;
    let w = loop {
        let resp = t.get_following(ctx, &url, &[])?;
        if resp.status().as_u16() != 200 {
            return Err(t.status_error(ctx, resp, &format!("blob {digest}")));
        }
        let mut w = cache.writer()?;
        let body = resp.into_body().into_reader().take(size + 1);
        let mut tracked = t.progress.track("pull", digest.hex(), size, body);
        let fault = match std::io::copy(&mut tracked, &mut w) {
            Err(e) => Some(io_error(ctx, &what, e)),
            Ok(_) if w.count() < size => Some(RegistryError::BadDocument {
                registry: ctx.registry.clone(),
                repository: ctx.repository.clone(),
                what: what.clone(),
                detail: format!(
                    "the registry sent {} bytes but the manifest declares {size}; the transfer was cut short {attempt} times, nothing was kept",
                    w.count()
                ),
            }),
            Ok(_) => None,
        };
        match fault {
            None => break w,
            Some(e) if attempt >= MAX_ATTEMPTS => return Err(e),
            Some(_) => {
                drop(w);
                std::thread::sleep(backoff(attempt));
                attempt += 1;
            }
        }
    };
    if w.count() != size {
        return Err(RegistryError::BadDocument {
            registry: ctx.registry.clone(),
            repository: ctx.repository.clone(),
            what,
            detail: format!(
                "the registry sent more than the {size} bytes the manifest declares; the data is corrupt or was tampered with, nothing was kept"
            ),
        });
    }
    match w.commit(Some(digest)) {
        Ok(_) => {}
        Err(BlobError::DigestMismatch { expected, actual }) => {
            return Err(mismatch(ctx, &what, &expected, &actual));
        }
        Err(e) => return Err(e.into()),
    }
    t.progress.blob("pull", &digest.to_string(), size, started);
    Ok(())
}

/// Runs `f` over `items` on up to `n` threads; returns the first error.
pub(crate) fn parallel<T: Sync>(
    n: usize,
    items: &[T],
    f: impl Fn(&T) -> Result<(), RegistryError> + Sync,
) -> Result<(), RegistryError> {
    if n <= 1 || items.len() <= 1 {
        return items.iter().try_for_each(f);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let first_err = std::sync::Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..n.min(items.len()) {
            s.spawn(|| {
                loop {
                    if failed.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    if let Err(e) = f(item) {
                        failed.store(true, std::sync::atomic::Ordering::Relaxed);
                        let mut g = first_err.lock().unwrap_or_else(|p| p.into_inner());
                        if g.is_none() {
                            *g = Some(e);
                        }
                        return;
                    }
                }
            });
        }
    });
    match first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn bad(ctx: &Ctx, what: &str, detail: String) -> RegistryError {
    RegistryError::BadDocument {
        registry: ctx.registry.clone(),
        repository: ctx.repository.clone(),
        what: what.into(),
        detail,
    }
}

/// True for index entries that are not runnable images (buildkit
/// attestations are `unknown/unknown` or carry a reference-type annotation).
fn is_attestation(d: &Descriptor) -> bool {
    d.annotations
        .get("vnd.docker.reference.type")
        .is_some_and(|t| t == "attestation-manifest")
        || d.platform
            .as_ref()
            .is_some_and(|p| p.os == "unknown" || p.architecture == "unknown")
}

/// Fetches one platform image (manifest already fetched and verified).
fn fetch_image(
    t: &Transport,
    ctx: &Ctx,
    platform_hint: Option<&Platform>,
    manifest_bytes: Vec<u8>,
    manifest_media_type: String,
    manifest_digest: Digest,
    cache: &BlobStore,
) -> Result<PlatformImage, RegistryError> {
    let what = format!("manifest {manifest_digest}");
    let m: Manifest =
        serde_json::from_slice(&manifest_bytes).map_err(|e| bad(ctx, &what, e.to_string()))?;
    if m.config.size > MAX_DOC {
        return Err(too_large(ctx, &format!("config {}", m.config.digest)));
    }
    fetch_blob(t, ctx, &m.config.digest, m.config.size, cache)?;
    let config_bytes = cache
        .read_verified(&m.config.digest, Some(m.config.size), MAX_DOC)
        .map_err(RegistryError::from)?;
    let cwhat = format!("config {}", m.config.digest);
    let config: serde_json::Value =
        serde_json::from_slice(&config_bytes).map_err(|e| bad(ctx, &cwhat, e.to_string()))?;
    let diff_ids: Vec<Digest> = config
        .pointer("/rootfs/diff_ids")
        .and_then(|d| d.as_array())
        .ok_or_else(|| bad(ctx, &cwhat, "no rootfs.diff_ids array".into()))?
        .iter()
        .map(|d| {
            d.as_str()
                .ok_or_else(|| bad(ctx, &cwhat, "a diff_id is not a string".into()))
                .and_then(|s| Digest::parse(s).map_err(|e| bad(ctx, &cwhat, e.to_string())))
        })
        .collect::<Result<_, _>>()?;
    if diff_ids.len() != m.layers.len() {
        return Err(bad(
            ctx,
            &what,
            format!(
                "{} layers but the config lists {} diff_ids",
                m.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::with_capacity(m.layers.len());
    for (l, diff_id) in m.layers.iter().zip(diff_ids) {
        if !media::is_layer(&l.media_type) {
            return Err(bad(
                ctx,
                &what,
                format!(
                    "layer {} has unsupported media type {:?}",
                    l.digest, l.media_type
                ),
            ));
        }
        layers.push(LayerBlob {
            media_type: l.media_type.clone(),
            digest: l.digest.clone(),
            size: l.size,
            diff_id,
        });
    }
    parallel(t.concurrency(), &layers, |l| {
        fetch_blob(t, ctx, &l.digest, l.size, cache)
    })?;
    cache.put(&manifest_bytes)?;
    let str_of = |k: &str| config.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let platform = match platform_hint {
        Some(p) => p.clone(),
        None => Platform {
            architecture: str_of("architecture").unwrap_or_default(),
            os: str_of("os").unwrap_or_default(),
            variant: str_of("variant"),
        },
    };
    Ok(PlatformImage {
        platform,
        manifest_digest,
        manifest_bytes,
        manifest_media_type,
        config_digest: m.config.digest.clone(),
        config_bytes,
        config,
        layers,
    })
}

fn list(ps: &[Platform]) -> String {
    if ps.is_empty() {
        return "(no platforms)".into();
    }
    ps.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Picks the index entries for `wanted` (all runnable entries when empty).
pub(crate) fn select(
    reference: &Reference,
    index: &Index,
    wanted: &[Platform],
) -> Result<Vec<Descriptor>, RegistryError> {
    let runnable: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| !is_attestation(d) && kind_of(&d.media_type) == Some(Kind::Manifest))
        .collect();
    if wanted.is_empty() {
        return Ok(runnable.into_iter().cloned().collect());
    }
    let offered: Vec<Platform> = runnable.iter().filter_map(|d| d.platform.clone()).collect();
    let mut out = Vec::new();
    for w in wanted {
        // Prefer an exact variant match, then any entry the wanted platform accepts.
        let hit = runnable
            .iter()
            .find(|d| d.platform.as_ref() == Some(w))
            .or_else(|| {
                runnable
                    .iter()
                    .find(|d| d.platform.as_ref().is_some_and(|p| w.matches(p)))
            });
        match hit {
            Some(d) => out.push((*d).clone()),
            None => {
                return Err(RegistryError::PlatformNotFound {
                    reference: reference.to_string(),
                    wanted: w.to_string(),
                    available: list(&offered),
                });
            }
        }
    }
    Ok(out)
}

pub(crate) fn pull(
    t: &Transport,
    reference: &Reference,
    platforms: &[Platform],
    cache: &BlobStore,
) -> Result<ImageSet, RegistryError> {
    let ctx = Ctx::new(reference, "pull");
    let r = match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(tag)) => tag.to_string(),
        (None, None) => crate::reference::DEFAULT_TAG.to_string(),
    };
    let (bytes, kind, mt, digest) = fetch_manifest(t, &ctx, &r, reference.digest(), None)?;
    match kind {
        Kind::Index => {
            let idx: Index = serde_json::from_slice(&bytes)
                .map_err(|e| bad(&ctx, &format!("index {digest}"), e.to_string()))?;
            let chosen = select(reference, &idx, platforms)?;
            if chosen.is_empty() {
                return Err(bad(
                    &ctx,
                    &format!("index {digest}"),
                    "it lists no runnable image manifests".into(),
                ));
            }
            let mut images = Vec::with_capacity(chosen.len());
            for d in &chosen {
                let (mb, mk, mmt, md) = fetch_manifest(
                    t,
                    &ctx,
                    &d.digest.to_string(),
                    Some(&d.digest),
                    Some(d.size),
                )?;
                if mk != Kind::Manifest {
                    return Err(bad(
                        &ctx,
                        &format!("index {digest}"),
                        format!("entry {} is not an image manifest", d.digest),
                    ));
                }
                images.push(fetch_image(
                    t,
                    &ctx,
                    d.platform.as_ref(),
                    mb,
                    mmt,
                    md,
                    cache,
                )?);
            }
            cache.put(&bytes)?;
            Ok(ImageSet {
                index_digest: Some(digest),
                images,
            })
        }
        Kind::Manifest => {
            let img = fetch_image(t, &ctx, None, bytes, mt, digest, cache)?;
            if !platforms.is_empty() && !platforms.iter().any(|w| w.matches(&img.platform)) {
                return Err(RegistryError::PlatformNotFound {
                    reference: reference.to_string(),
                    wanted: list(platforms),
                    available: img.platform.to_string(),
                });
            }
            Ok(ImageSet {
                index_digest: None,
                images: vec![img],
            })
        }
    }
}

pub(crate) fn resolve(
    t: &Transport,
    reference: &Reference,
) -> Result<(Digest, String), RegistryError> {
    let ctx = Ctx::new(reference, "pull");
    if reference.digest().is_none()
        && let Some(tag) = reference.tag()
    {
        let url = format!("{}/manifests/{tag}", t.v2(&ctx)?);
        let resp = t.send(&ctx, "HEAD", &url, &[("accept", ACCEPT)], &Body::Empty)?;
        if resp.status().as_u16() == 200 {
            let d = header(&resp, "docker-content-digest").and_then(|d| Digest::parse(d).ok());
            let ct = header(&resp, "content-type")
                .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
                .filter(|c| kind_of(c).is_some());
            if let (Some(d), Some(ct)) = (d, ct) {
                return Ok((d, ct));
            }
        } else if resp.status().as_u16() != 405 {
            return Err(t.status_error(&ctx, resp, &format!("manifest {tag}")));
        }
    }
    let r = match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(tag)) => tag.to_string(),
        (None, None) => crate::reference::DEFAULT_TAG.to_string(),
    };
    let (_, _, mt, digest) = fetch_manifest(t, &ctx, &r, reference.digest(), None)?;
    Ok((digest, mt))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx::new(&Reference::parse("localhost:5000/a/b:1").unwrap(), "pull")
    }

    #[test]
    fn classify_documents() {
        let c = ctx();
        assert_eq!(
            classify(&c, br#"{"schemaVersion":2,"manifests":[]}"#, None)
                .unwrap()
                .0,
            Kind::Index
        );
        assert_eq!(
            classify(
                &c,
                br#"{"schemaVersion":2,"config":{}}"#,
                Some("application/vnd.docker.distribution.manifest.v2+json")
            )
            .unwrap()
            .1,
            media::DOCKER_MANIFEST
        );
        assert_eq!(
            classify(&c, br#"{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#, None).unwrap().0,
            Kind::Index
        );
        let e = classify(
            &c,
            br#"{"schemaVersion":1,"fsLayers":[]}"#,
            Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("schema 1"), "{e}");
        assert!(classify(&c, b"not json", None).is_err());
        assert!(classify(&c, br#"{"mediaType":"text/plain"}"#, None).is_err());
    }

    fn desc(p: &str, n: u8) -> Descriptor {
        let mut d = Descriptor::new(media::OCI_MANIFEST, Digest::of(&[n]), 1);
        d.platform = Platform::parse(p);
        d
    }

    #[test]
    fn platform_selection_skips_attestations() {
        let r = Reference::parse("localhost:5000/a:1").unwrap();
        let mut att = desc("unknown/unknown", 9);
        att.annotations.insert(
            "vnd.docker.reference.type".into(),
            "attestation-manifest".into(),
        );
        let idx = Index::new(vec![
            desc("linux/amd64", 1),
            desc("linux/arm/v7", 2),
            desc("linux/arm64/v8", 3),
            att,
        ]);
        assert_eq!(select(&r, &idx, &[]).unwrap().len(), 3);
        let got = select(&r, &idx, &[Platform::linux("arm64", None)]).unwrap();
        assert_eq!(got[0].digest, Digest::of(&[3]));
        let got = select(&r, &idx, &[Platform::linux("arm", Some("v7"))]).unwrap();
        assert_eq!(got[0].digest, Digest::of(&[2]));
        let e = select(&r, &idx, &[Platform::linux("s390x", None)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux/s390x") && e.contains("linux/amd64") && !e.contains("unknown"),
            "{e}"
        );
    }

    #[test]
    fn parallel_reports_first_error_and_runs_all_on_success() {
        let items: Vec<u32> = (0..20).collect();
        let sum = std::sync::atomic::AtomicU32::new(0);
        parallel(4, &items, |i| {
            sum.fetch_add(*i, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
        assert_eq!(sum.into_inner(), 190);
        let e = parallel(3, &items, |i| {
            if *i == 7 {
                Err(RegistryError::Usage("seven".into()))
            } else {
                Ok(())
            }
        });
        assert!(e.unwrap_err().to_string().contains("seven"));
    }
}
