//! HTTP plumbing shared by pull and push: TLS roots, scheme choice, retries,
//! the token dance and error mapping.
//!
//! Security rules enforced here, in one place:
//! - plain HTTP only for loopback hosts and `--insecure-registry` hosts;
//! - the `Authorization` header is only ever sent to the registry's own
//!   host (redirects to S3/CDN hosts are followed manually, without it);
//! - credentials and tokens never reach an error message or a log line.

use super::challenge::{self, Challenge};
use super::credentials::{self, Credential};
use super::progress::Reporter;
use super::{RegistryError, RegistryOptions};
use crate::digest::Digest;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use ureq::http::{self, Response};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Attempts per request (the first try plus retries).
pub(crate) const MAX_ATTEMPTS: u32 = 4;
/// Longest wait honoured from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Redirect hops followed for blob downloads.
const MAX_REDIRECTS: usize = 5;
/// Cap for error bodies and token responses.
const MAX_SMALL_BODY: u64 = 1024 * 1024;

/// What a request is about, for auth scopes and error messages.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    /// Registry as the user wrote it (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// Host serving the API (`registry-1.docker.io`).
    pub host: String,
    pub repository: String,
    /// Space-separated token scopes, e.g. `repository:a/b:pull,push`.
    pub scope: String,
    /// `pull` or `push`, for "denied" messages.
    pub action: String,
}

impl Ctx {
    pub(crate) fn new(reference: &crate::reference::Reference, action: &str) -> Self {
        let actions = if action == "push" {
            "pull,push"
        } else {
            "pull"
        };
        Self {
            registry: reference.registry().to_string(),
            host: reference.api_host().to_string(),
            repository: reference.repository().to_string(),
            scope: format!("repository:{}:{actions}", reference.repository()),
            action: action.to_string(),
        }
    }
}

/// A request body that can be produced again for a retry.
pub(crate) enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// `len` bytes of a blob file from `offset`, hashed as they are sent.
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
        check: &'a UploadCheck,
    },
}

/// The running SHA-256 of a blob being uploaded, checked as its bytes go out.
///
/// WHY: a blob file that was changed or damaged on disk after it was written
/// must never reach the registry under the digest the manifest promises.
/// Hashing while sending catches that without a second read pass over the
/// file, and failing the read (instead of checking afterwards) aborts the
/// request before its last bytes are sent, so the registry never completes
/// the upload. One check covers one request's byte range; chunked uploads
/// chain them through [`UploadCheck::take_end`].
pub(crate) struct UploadCheck {
    /// Hash of the blob's bytes before this request's range. Every attempt
    /// (retry, re-auth) starts again from here.
    start: Sha256,
    /// The whole blob's digest, when this range ends the blob.
    expect: Option<Digest>,
    /// Hash state after the last attempt that read the whole range.
    end: Mutex<Option<Sha256>>,
    /// Why the last attempt was aborted (bytes differ, file too short).
    failure: Mutex<Option<String>>,
}

impl UploadCheck {
    /// `start`: hash of the bytes before this range; `expect`: the blob's
    /// digest when this range is its last.
    pub(crate) fn new(start: Sha256, expect: Option<Digest>) -> Self {
        Self {
            start,
            expect,
            end: Mutex::new(None),
            failure: Mutex::new(None),
        }
    }

    /// The hash after this range, once an attempt sent all of it (the
    /// `start` of the next chunk).
    pub(crate) fn take_end(&self) -> Option<Sha256> {
        lock(&self.end).take()
    }

    /// Records the hash after the whole range; Err when the range ends the
    /// blob and the bytes do not hash to its digest.
    fn finish(&self, hasher: &Sha256, path: &Path) -> Result<(), ()> {
        if let Some(expect) = &self.expect {
            let actual = Digest::from_sha256(hasher.clone());
            if &actual != expect {
                *lock(&self.failure) = Some(format!(
                    "blob file {} hashes to {actual}, not {expect}: it was changed or damaged after it was written; rebuild or re-pull the image",
                    path.display()
                ));
                return Err(());
            }
        }
        *lock(&self.end) = Some(hasher.clone());
        Ok(())
    }
}

/// Reads exactly `remaining` bytes of a blob file, hashing them, and fails
/// the read that would deliver the last bytes if they do not match.
struct Verifying<'a, R> {
    inner: R,
    hasher: Sha256,
    remaining: u64,
    check: &'a UploadCheck,
    path: &'a Path,
}

impl<R: Read> Read for Verifying<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            *lock(&self.check.failure) = Some(format!(
                "blob file {} ended {} bytes early: it was truncated after it was written; rebuild or re-pull the image",
                self.path.display(),
                self.remaining
            ));
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.hasher.update(&buf[..n]);
        self.remaining -= n as u64;
        if self.remaining == 0 && self.check.finish(&self.hasher, self.path).is_err() {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        Ok(n)
    }
}

struct CachedAuth {
    header: String,
    expires: Option<Instant>,
}

pub(crate) struct Transport {
    opts: RegistryOptions,
    roots: Vec<Certificate<'static>>,
    agents: Mutex<HashMap<String, ureq::Agent>>,
    schemes: Mutex<HashMap<String, &'static str>>,
    auth: Mutex<HashMap<(String, String), Arc<CachedAuth>>>,
    creds: Mutex<HashMap<String, Option<Credential>>>,
    creds_lookup: Mutex<()>,
    helper_path: Option<OsString>,
    pub(crate) progress: Reporter,
    /// Blobs up to this size are uploaded with one PUT; larger ones in
    /// PATCH chunks of `chunk_size`.
    pub(crate) monolithic_limit: u64,
    pub(crate) chunk_size: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic in another thread while holding a cache lock leaves a cache
    // that is still valid data; keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// True for hosts that may use plain HTTP without being listed insecure.
pub(crate) fn is_loopback(host: &str) -> bool {
    let h = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
    };
    if host
        .parse::<std::net::Ipv6Addr>()
        .is_ok_and(|ip| ip.is_loopback())
    {
        return true;
    }
    h.eq_ignore_ascii_case("localhost")
        || h == "::1"
        || h.parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `host[:port]` of an absolute URL.
pub(crate) fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// Resolves a `Location` header against the URL it came from.
pub(crate) fn resolve_location(base: &str, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return loc.to_string();
    }
    let scheme = base.split_once("://").map_or("https", |(s, _)| s);
    if let Some(rest) = loc.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    let origin = format!("{scheme}://{}", url_host(base));
    if loc.starts_with('/') {
        return format!("{origin}{loc}");
    }
    let path_end = base.find('?').unwrap_or(base.len());
    let dir = base[..path_end].rsplit_once('/').map_or(base, |(d, _)| d);
    format!("{dir}/{loc}")
}

/// Appends a query parameter to a URL that may already have a query.
pub(crate) fn add_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={}", percent_encode(value))
}

pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn load_pem_certs(
    path: &std::path::Path,
    registry: &str,
) -> Result<Vec<Certificate<'static>>, RegistryError> {
    let bytes = std::fs::read(path).map_err(|e| RegistryError::Tls {
        registry: registry.into(),
        path: path.display().to_string(),
        detail: format!("cannot read the CA file: {e}"),
    })?;
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(PemItem::Certificate(c)) => out.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(RegistryError::Tls {
                    registry: registry.into(),
                    path: path.display().to_string(),
                    detail: format!("not a valid PEM certificate bundle: {e}"),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(RegistryError::Tls {
            registry: registry.into(),
            path: path.display().to_string(),
            detail: "holds no `-----BEGIN CERTIFICATE-----` block; give a PEM CA certificate"
                .into(),
        });
    }
    Ok(out)
}

fn is_transient(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::TimedOut
                | std::io::ErrorKind::Interrupted
        ),
        ureq::Error::Timeout(_) => true,
        _ => false,
    }
}

fn retry_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(6)))
}

fn retry_after(resp: &Response<ureq::Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    let secs: u64 = v.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

pub(crate) fn header<'r>(resp: &'r Response<ureq::Body>, name: &str) -> Option<&'r str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Reads at most `limit` bytes; `None` when the body is longer.
pub(crate) fn read_limited(
    resp: Response<ureq::Body>,
    limit: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    resp.into_body()
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= limit).then_some(buf))
}

/// The `errors[].code: message` of a distribution error body, shortened and
/// stripped of control characters (the body is untrusted).
fn error_detail(resp: Response<ureq::Body>) -> String {
    let Ok(Some(body)) = read_limited(resp, 64 * 1024) else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(errs) = v.get("errors").and_then(|e| e.as_array())
    {
        for e in errs.iter().take(3) {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
            let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
            parts.push(format!("{code}: {msg}"));
        }
    }
    let s = parts.join("; ");
    let s: String = s.chars().filter(|c| !c.is_control()).take(300).collect();
    if s.is_empty() { s } else { format!(": {s}") }
}

impl Transport {
    pub(crate) fn new(
        opts: RegistryOptions,
        helper_path: Option<OsString>,
    ) -> Result<Self, RegistryError> {
        let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        // The system bundle adds roots a company installed locally.
        let system = std::env::var_os("SSL_CERT_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
        if system.is_file()
            && let Ok(mut certs) = load_pem_certs(&system, "(all)")
        {
            roots.append(&mut certs);
        }
        if let Some(ca) = &opts.ca_file {
            roots.extend(load_pem_certs(ca, "(all)")?);
        }
        let progress = Reporter::new(opts.progress, opts.reporter.clone());
        Ok(Self {
            opts,
            roots,
            agents: Mutex::new(HashMap::new()),
            schemes: Mutex::new(HashMap::new()),
            auth: Mutex::new(HashMap::new()),
            creds: Mutex::new(HashMap::new()),
            creds_lookup: Mutex::new(()),
            helper_path,
            progress,
            monolithic_limit: 32 * 1024 * 1024,
            chunk_size: 16 * 1024 * 1024,
        })
    }

    pub(crate) fn set_helper_path(&mut self, p: OsString) {
        self.helper_path = Some(p);
    }

    pub(crate) fn concurrency(&self) -> usize {
        self.opts.max_concurrency.clamp(1, 16)
    }

    /// The agent for `host`: system roots + `--ca-file` +
    /// `/etc/docker/certs.d/<host>/*.crt`.
    fn agent(&self, host: &str) -> Result<ureq::Agent, RegistryError> {
        if let Some(a) = lock(&self.agents).get(host) {
            return Ok(a.clone());
        }
        let mut roots = self.roots.clone();
        // `host` may not hold `/` or `..` (it came from a parsed reference or
        // a URL authority), but check anyway before using it in a path.
        if !host.contains('/') && !host.contains("..") {
            let dir = PathBuf::from("/etc/docker/certs.d").join(host);
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "crt") {
                        roots.extend(load_pem_certs(&p, host)?);
                    }
                }
            }
        }
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls)
            .user_agent(concat!("ironhull/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .build()
            .into();
        lock(&self.agents).insert(host.to_string(), agent.clone());
        Ok(agent)
    }

    fn plain_http_allowed(&self, host: &str) -> bool {
        is_loopback(host)
            || self
                .opts
                .insecure_registries
                .iter()
                .any(|h| h.trim_end_matches('/').eq_ignore_ascii_case(host))
    }

    /// `https://host` or, for loopback/insecure hosts whose HTTPS endpoint
    /// does not answer, `http://host`.
    pub(crate) fn base(&self, host: &str) -> Result<String, RegistryError> {
        if let Some(s) = lock(&self.schemes).get(host) {
            return Ok(format!("{s}://{host}"));
        }
        let scheme = if !self.plain_http_allowed(host) {
            "https"
        } else {
            let agent = self.agent(host)?;
            match agent.get(format!("https://{host}/v2/")).call() {
                Ok(_) => "https",
                // The server speaks TLS but we do not trust it: stay on
                // HTTPS so the user sees the certificate error instead of a
                // silent downgrade.
                Err(e)
                    if format!("{e:?}")
                        .to_ascii_lowercase()
                        .contains("certificate") =>
                {
                    "https"
                }
                Err(_) => "http",
            }
        };
        lock(&self.schemes).insert(host.to_string(), scheme);
        Ok(format!("{scheme}://{host}"))
    }

    pub(crate) fn v2(&self, ctx: &Ctx) -> Result<String, RegistryError> {
        Ok(format!("{}/v2/{}", self.base(&ctx.host)?, ctx.repository))
    }

    fn credential(&self, registry: &str) -> Result<Option<Credential>, RegistryError> {
        // Serialize lookups so parallel transfers run a helper only once.
        let _one_at_a_time = lock(&self.creds_lookup);
        if let Some(c) = lock(&self.creds).get(registry) {
            return Ok(c.clone());
        }
        let c = credentials::lookup(registry, &self.opts, self.helper_path.as_deref())?;
        lock(&self.creds).insert(registry.to_string(), c.clone());
        Ok(c)
    }

    fn connect_error(&self, ctx: &Ctx, url: &str, e: &ureq::Error) -> RegistryError {
        let host = url_host(url);
        let mut detail = format!("{e}");
        if host != ctx.host {
            detail = format!("{host} (redirect target): {detail}");
        }
        RegistryError::Connect {
            registry: ctx.registry.clone(),
            detail,
        }
    }

    fn upload_check_error(&self, ctx: &Ctx, check: &UploadCheck) -> RegistryError {
        RegistryError::BadPush {
            target: format!("{}/{}", ctx.registry, ctx.repository),
            detail: lock(&check.failure)
                .take()
                .unwrap_or_else(|| "the blob file does not match its digest".into()),
        }
    }

    /// One request with retries on connection resets, 5xx, 408 and 429.
    fn raw(
        &self,
        ctx: &Ctx,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        auth: Option<&str>,
        body: &Body<'_>,
    ) -> Result<Response<ureq::Body>, RegistryError> {
        let host = url_host(url);
        if url.starts_with("http://") && !self.plain_http_allowed(host) {
            return Err(RegistryError::Connect {
                registry: ctx.registry.clone(),
                detail: format!(
                    "refusing plain HTTP to {host}; only loopback hosts and hosts given with --insecure-registry may use it"
                ),
            });
        }
        let agent = self.agent(host)?;
        let mut attempt = 0;
        loop {
            let mut b = http::Request::builder().method(method).uri(url);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            // Only the registry's own host ever sees credentials.
            if let Some(a) = auth
                && host.eq_ignore_ascii_case(&ctx.host)
            {
                b = b.header("authorization", a);
            }
            let bad_req = |e: http::Error| {
                RegistryError::Usage(format!(
                    "cannot build the {method} request for registry {}: {e}",
                    ctx.registry
                ))
            };
            let result = match body {
                Body::Empty if matches!(method, "GET" | "HEAD" | "DELETE") => {
                    agent.run(b.body(()).map_err(bad_req)?)
                }
                Body::Empty => agent.run(b.body(&[][..]).map_err(bad_req)?),
                Body::Bytes(bytes) => agent.run(b.body(*bytes).map_err(bad_req)?),
                Body::File {
                    path,
                    offset,
                    len,
                    check,
                } => {
                    let bad_file = |what: &str, e: std::io::Error| RegistryError::BadPush {
                        target: format!("{}/{}", ctx.registry, ctx.repository),
                        detail: format!("cannot {what} blob file {}: {e}", path.display()),
                    };
                    let mut f = std::fs::File::open(path).map_err(|e| bad_file("open", e))?;
                    f.seek(SeekFrom::Start(*offset))
                        .map_err(|e| bad_file("seek in", e))?;
                    if *len == 0 && check.finish(&check.start, path).is_err() {
                        return Err(self.upload_check_error(ctx, check));
                    }
                    let verifying = Verifying {
                        inner: f,
                        hasher: check.start.clone(),
                        remaining: *len,
                        check,
                        path,
                    };
                    let mut reader = self.progress.track(
                        "push",
                        path.file_name().and_then(|n| n.to_str()).unwrap_or(""),
                        *len,
                        verifying,
                    );
                    let sb = ureq::SendBody::from_reader(&mut reader);
                    let len_s = len.to_string();
                    let result = agent.run(
                        b.header("content-length", len_s)
                            .body(sb)
                            .map_err(bad_req)?,
                    );
                    // Local bytes that do not match are not a network fault:
                    // never retry, say what is wrong with the file.
                    if lock(&check.failure).is_some() {
                        return Err(self.upload_check_error(ctx, check));
                    }
                    result
                }
            };
            attempt += 1;
            match result {
                Ok(resp) if retry_status(resp.status().as_u16()) && attempt < MAX_ATTEMPTS => {
                    let wait = retry_after(&resp).unwrap_or_else(|| backoff(attempt));
                    drop(resp);
                    std::thread::sleep(wait);
                }
                Ok(resp) => return Ok(resp),
                Err(e) if is_transient(&e) && attempt < MAX_ATTEMPTS => {
                    std::thread::sleep(backoff(attempt));
                }
                Err(e) => return Err(self.connect_error(ctx, url, &e)),
            }
        }
    }

    /// Sends a request to the registry with cached auth; on 401 it
    /// authenticates once (per the challenge) and retries.
    pub(crate) fn send(
        &self,
        ctx: &Ctx,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
    ) -> Result<Response<ureq::Body>, RegistryError> {
        if !url_host(url).eq_ignore_ascii_case(&ctx.host) {
            return self.raw(ctx, method, url, headers, None, body);
        }
        let key = (ctx.host.clone(), ctx.scope.clone());
        let cached = lock(&self.auth)
            .get(&key)
            .cloned()
            .filter(|c| c.expires.is_none_or(|t| t > Instant::now()));
        let resp = self.raw(
            ctx,
            method,
            url,
            headers,
            cached.as_ref().map(|c| c.header.as_str()),
            body,
        )?;
        if resp.status().as_u16() != 401 {
            return Ok(resp);
        }
        let www = header(&resp, "www-authenticate").map(str::to_string);
        let Some(fresh) = self.authenticate(ctx, www.as_deref())? else {
            return Ok(resp);
        };
        drop(resp);
        let header_value = fresh.header.clone();
        lock(&self.auth).insert(key, fresh);
        self.raw(ctx, method, url, headers, Some(&header_value), body)
    }

    /// Follows redirects by hand for GETs: a redirect to another host is
    /// requested without credentials.
    pub(crate) fn get_following(
        &self,
        ctx: &Ctx,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response<ureq::Body>, RegistryError> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.send(ctx, "GET", &url, headers, &Body::Empty)?;
            let s = resp.status().as_u16();
            if !matches!(s, 301 | 302 | 303 | 307 | 308) {
                return Ok(resp);
            }
            let Some(loc) = header(&resp, "location") else {
                return Ok(resp);
            };
            let next = resolve_location(&url, loc);
            if url.starts_with("https://")
                && next.starts_with("http://")
                && !self.plain_http_allowed(url_host(&next))
            {
                return Err(RegistryError::Connect {
                    registry: ctx.registry.clone(),
                    detail: format!(
                        "refusing a redirect from HTTPS to plain HTTP ({})",
                        url_host(&next)
                    ),
                });
            }
            url = next;
        }
        Err(RegistryError::Connect {
            registry: ctx.registry.clone(),
            detail: format!(
                "more than {MAX_REDIRECTS} redirects for repository {}",
                ctx.repository
            ),
        })
    }

    /// Answers a challenge: a Basic header from stored credentials, or a
    /// Bearer token from the realm. `None` when there is nothing to try.
    fn authenticate(
        &self,
        ctx: &Ctx,
        www: Option<&str>,
    ) -> Result<Option<Arc<CachedAuth>>, RegistryError> {
        let Some(ch) = www.and_then(challenge::parse) else {
            return Ok(None);
        };
        let cred = self.credential(&ctx.registry)?;
        self.answer(ctx, &ch, cred.as_ref())
    }

    fn answer(
        &self,
        ctx: &Ctx,
        ch: &Challenge,
        cred: Option<&Credential>,
    ) -> Result<Option<Arc<CachedAuth>>, RegistryError> {
        match ch {
            Challenge::Basic { .. } => Ok(cred.and_then(|c| c.basic_header()).map(|h| {
                Arc::new(CachedAuth {
                    header: h,
                    expires: None,
                })
            })),
            Challenge::Bearer {
                realm,
                service,
                scope,
                ..
            } => {
                let mut scopes: Vec<&str> = ctx.scope.split_whitespace().collect();
                if let Some(s) = scope {
                    for one in s.split_whitespace() {
                        if !scopes.contains(&one) {
                            scopes.push(one);
                        }
                    }
                }
                let (token, ttl) =
                    self.fetch_token(ctx, realm, service.as_deref(), &scopes, cred)?;
                Ok(Some(Arc::new(CachedAuth {
                    header: format!("Bearer {token}"),
                    expires: Some(Instant::now() + ttl.saturating_sub(Duration::from_secs(10))),
                })))
            }
        }
    }

    /// Gets a token from the realm (GET with Basic auth, or the OAuth2
    /// refresh-token POST for identity tokens).
    fn fetch_token(
        &self,
        ctx: &Ctx,
        realm: &str,
        service: Option<&str>,
        scopes: &[&str],
        cred: Option<&Credential>,
    ) -> Result<(String, Duration), RegistryError> {
        let err = |detail: String| RegistryError::TokenServer {
            registry: ctx.registry.clone(),
            realm: realm.to_string(),
            detail,
        };
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            return Err(err(
                "the realm in the registry's challenge is not an http(s) URL".into(),
            ));
        }
        let realm_host = url_host(realm).to_string();
        if realm.starts_with("http://") && !self.plain_http_allowed(&realm_host) {
            return Err(err(format!(
                "refusing to fetch a token over plain HTTP from {realm_host}; list it with --insecure-registry if you trust the network"
            )));
        }
        let agent = self.agent(&realm_host)?;
        let result = match cred {
            Some(Credential::IdentityToken { token, .. }) => {
                let mut form = format!(
                    "grant_type=refresh_token&client_id=ironhull&access_type=offline&refresh_token={}",
                    percent_encode(token)
                );
                if let Some(s) = service {
                    form.push_str(&format!("&service={}", percent_encode(s)));
                }
                form.push_str(&format!("&scope={}", percent_encode(&scopes.join(" "))));
                agent
                    .post(realm)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .send(form.as_bytes())
            }
            _ => {
                let mut url = realm.to_string();
                if let Some(s) = service {
                    url = add_query(&url, "service", s);
                }
                for s in scopes {
                    url = add_query(&url, "scope", s);
                }
                if let Some(Credential::Basic { username, .. }) = cred {
                    url = add_query(&url, "account", username);
                }
                let mut req = agent.get(&url);
                if let Some(h) = cred.and_then(|c| c.basic_header()) {
                    req = req.header("authorization", h);
                }
                req.call()
            }
        };
        let resp = result.map_err(|e| err(format!("cannot connect: {e}")))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(RegistryError::Unauthorized {
                registry: ctx.registry.clone(),
                repository: ctx.repository.clone(),
                status,
                detail: if cred.is_some() {
                    " because the token server rejected the stored credentials".into()
                } else {
                    " because the token server wants credentials and none are stored".into()
                },
            });
        }
        if status != 200 {
            return Err(err(format!("HTTP {status}{}", error_detail(resp))));
        }
        let body = read_limited(resp, MAX_SMALL_BODY)
            .map_err(|e| err(format!("reading the token response: {e}")))?
            .ok_or_else(|| err("the token response is larger than 1 MiB".into()))?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| err("the token response is not JSON".into()))?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| err("the token response has no `token` or `access_token`".into()))?;
        if token.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(err(
                "the token holds characters not allowed in an HTTP header".into(),
            ));
        }
        let ttl = v
            .get("expires_in")
            .and_then(|e| e.as_u64())
            .filter(|&e| e > 0)
            .unwrap_or(60)
            .min(24 * 3600);
        Ok((token.to_string(), Duration::from_secs(ttl)))
    }

    /// `docker login`'s check: `GET /v2/` with the given credential.
    pub(crate) fn check_login(
        &self,
        host: &str,
        registry: &str,
        cred: &Credential,
    ) -> Result<(), RegistryError> {
        let ctx = Ctx {
            registry: registry.to_string(),
            host: host.to_string(),
            repository: String::new(),
            scope: String::new(),
            action: "log in to".into(),
        };
        let url = format!("{}/v2/", self.base(host)?);
        let resp = self.raw(&ctx, "GET", &url, &[], None, &Body::Empty)?;
        let status = resp.status().as_u16();
        if status == 200 {
            return Ok(());
        }
        if status != 401 {
            return Err(self.status_error(&ctx, resp, "GET /v2/"));
        }
        let Some(ch) = header(&resp, "www-authenticate").and_then(challenge::parse) else {
            return Err(RegistryError::Unauthorized {
                registry: registry.into(),
                repository: "(none)".into(),
                status,
                detail: " without a usable WWW-Authenticate challenge".into(),
            });
        };
        drop(resp);
        let Some(auth) = self.answer(&ctx, &ch, Some(cred))? else {
            return Err(RegistryError::Usage(format!(
                "registry {registry} offers no login method ironhull supports"
            )));
        };
        let resp = self.raw(&ctx, "GET", &url, &[], Some(&auth.header), &Body::Empty)?;
        match resp.status().as_u16() {
            200 => Ok(()),
            401 | 403 => Err(RegistryError::Unauthorized {
                registry: registry.into(),
                repository: "(login)".into(),
                status: resp.status().as_u16(),
                detail: ": wrong username or password".into(),
            }),
            _ => Err(self.status_error(&ctx, resp, "GET /v2/")),
        }
    }

    /// Maps an unexpected response to an error naming registry, repository,
    /// status and what to do.
    pub(crate) fn status_error(
        &self,
        ctx: &Ctx,
        resp: Response<ureq::Body>,
        operation: &str,
    ) -> RegistryError {
        let status = resp.status().as_u16();
        let www = header(&resp, "www-authenticate").map(str::to_string);
        let detail = error_detail(resp);
        match status {
            401 => {
                let insufficient = www
                    .as_deref()
                    .and_then(challenge::parse)
                    .is_some_and(|c| matches!(c, Challenge::Bearer { error: Some(ref e), .. } if e == "insufficient_scope"));
                let has_cred = matches!(lock(&self.creds).get(&ctx.registry), Some(Some(_)));
                if insufficient && has_cred {
                    RegistryError::Denied {
                        registry: ctx.registry.clone(),
                        repository: ctx.repository.clone(),
                        action: ctx.action.clone(),
                        status,
                        detail,
                    }
                } else {
                    RegistryError::Unauthorized {
                        registry: ctx.registry.clone(),
                        repository: ctx.repository.clone(),
                        status,
                        detail,
                    }
                }
            }
            403 => RegistryError::Denied {
                registry: ctx.registry.clone(),
                repository: ctx.repository.clone(),
                action: ctx.action.clone(),
                status,
                detail,
            },
            404 => RegistryError::NotFound {
                registry: ctx.registry.clone(),
                repository: ctx.repository.clone(),
                what: operation.to_string(),
            },
            _ => RegistryError::Status {
                registry: ctx.registry.clone(),
                repository: ctx.repository.clone(),
                operation: operation.to_string(),
                status,
                detail,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:8080",
            "127.3.4.5",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1:5000",
            "localhost.evil.com",
            "[2001:db8::1]:5000",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn locations_and_queries() {
        assert_eq!(url_host("https://r.example:5000/v2/x?y"), "r.example:5000");
        assert_eq!(
            resolve_location(
                "http://127.0.0.1:1/v2/a/blobs/uploads/",
                "/v2/a/blobs/uploads/u?_state=s"
            ),
            "http://127.0.0.1:1/v2/a/blobs/uploads/u?_state=s"
        );
        assert_eq!(
            resolve_location("https://a/v2/x", "https://cdn.example/b"),
            "https://cdn.example/b"
        );
        assert_eq!(
            resolve_location("https://a/v2/x", "//cdn.example/b"),
            "https://cdn.example/b"
        );
        assert_eq!(
            resolve_location("https://a/v2/x/y?q", "z"),
            "https://a/v2/x/z"
        );
        assert_eq!(
            add_query("http://a/u?_state=1", "digest", "sha256:ab"),
            "http://a/u?_state=1&digest=sha256%3Aab"
        );
        assert_eq!(
            add_query("http://a/u", "scope", "repository:a/b:pull,push"),
            "http://a/u?scope=repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }

    #[test]
    fn retry_policy() {
        for s in [500, 502, 503, 408, 429] {
            assert!(retry_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 405, 409, 200, 201] {
            assert!(!retry_status(s), "{s}");
        }
        assert!(backoff(1) < backoff(2));
        assert!(backoff(60) <= Duration::from_secs(20));
    }

    #[test]
    fn plain_http_refused_for_remote_hosts() {
        let t = Transport::new(RegistryOptions::default(), None).unwrap();
        let ctx = Ctx {
            registry: "r.example".into(),
            host: "r.example".into(),
            repository: "a".into(),
            scope: String::new(),
            action: "pull".into(),
        };
        let e = t
            .raw(&ctx, "GET", "http://r.example/v2/", &[], None, &Body::Empty)
            .unwrap_err();
        assert!(e.to_string().contains("refusing plain HTTP"), "{e}");
        let e = t
            .fetch_token(&ctx, "http://auth.example/token", None, &[], None)
            .unwrap_err();
        assert!(e.to_string().contains("plain HTTP"), "{e}");
    }
}
