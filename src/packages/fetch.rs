//! HTTP(S) GET for package repository files (indexes, signatures, packages).
//!
//! WHY a separate client from `registry::transport`: repositories are
//! public, verified by signatures and digests, and get no credentials ever,
//! so none of the registry's auth machinery may be reachable from here.
//! Redirects are followed (Debian mirrors redirect to a nearby host), but
//! only to http(s) URLs, and every body is capped by a caller-given size so
//! a hostile mirror cannot fill memory. Callers verify what they get; this
//! file only moves bytes and says exactly what went wrong (URL, status).
//!
//! [`Fetch`] is the one interface the repository reader needs, so the
//! installer can put a content-addressed cache in front of it.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// Redirect hops followed per request.
const MAX_REDIRECTS: usize = 5;

/// What a repository file download needs: GET `url`, at most `max_bytes`.
pub trait Fetch {
    fn get(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>, FetchError>;
}

/// Why a download failed. Each names the URL; none carries credentials
/// (repository URLs with userinfo are refused before any request).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: not found (HTTP 404)")]
    NotFound { url: String },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: larger than the {max} byte limit for this file")]
    TooLarge { url: String, max: u64 },
    #[error(
        "{url}: the server closed the connection early ({got} of {expected} bytes); retry, the mirror may be mid-sync"
    )]
    Truncated {
        url: String,
        got: u64,
        expected: u64,
    },
    #[error("{url}: {why}")]
    BadUrl { url: String, why: String },
    #[error("{url}: {why}")]
    Network { url: String, why: String },
}

impl FetchError {
    /// True for a 404 (a repository may legitimately lack `InRelease`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FetchError::NotFound { .. })
    }
}

/// The real client: ureq 3 on rustls with the webpki roots plus the system
/// bundle, timeouts, and manual redirects (so each hop's scheme is checked).
#[derive(Clone)]
pub struct HttpFetch {
    agent: ureq::Agent,
}

impl HttpFetch {
    pub fn new() -> Self {
        let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        if let Ok(pem) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") {
            for item in ureq::tls::parse_pem(&pem).flatten() {
                if let ureq::tls::PemItem::Certificate(c) = item {
                    roots.push(c.to_owned());
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
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_recv_body(Some(Duration::from_secs(600)))
            .build()
            .into();
        Self { agent }
    }
}

impl Default for HttpFetch {
    fn default() -> Self {
        Self::new()
    }
}

/// Refuses anything but plain `http://` / `https://` URLs without userinfo.
pub fn check_url(url: &str) -> Result<(), FetchError> {
    let bad = |why: &str| FetchError::BadUrl {
        url: url.to_string(),
        why: why.to_string(),
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| bad("only http:// and https:// repository URLs are supported"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err(bad("the URL has no host"));
    }
    if authority.contains('@') {
        return Err(bad(
            "repository URLs may not carry credentials (user@host); repositories are public and verified by signature",
        ));
    }
    if url.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(bad("the URL holds spaces or control characters"));
    }
    Ok(())
}

/// Resolves a `Location` header against the URL that sent it.
fn redirect_target(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    if location.contains("://") {
        // Another scheme: returned as is, and check_url refuses it.
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let host_end = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..host_end];
    if let Some(stripped) = location.strip_prefix("//") {
        return format!("{scheme}://{stripped}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{host}{location}");
    }
    let path = &rest[host_end..];
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    format!("{scheme}://{host}{dir}{location}")
}

impl Fetch for HttpFetch {
    fn get(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>, FetchError> {
        let mut current = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            check_url(&current)?;
            let net = |e: ureq::Error| FetchError::Network {
                url: current.clone(),
                why: e.to_string(),
            };
            let resp = self.agent.get(&current).call().map_err(net)?;
            let status = resp.status().as_u16();
            if (300..400).contains(&status) {
                let Some(loc) = resp.headers().get("location").and_then(|v| v.to_str().ok()) else {
                    return Err(FetchError::Status {
                        url: current,
                        status,
                    });
                };
                current = redirect_target(&current, loc);
                continue;
            }
            if status == 404 || status == 410 {
                return Err(FetchError::NotFound { url: current });
            }
            if status != 200 {
                return Err(FetchError::Status {
                    url: current,
                    status,
                });
            }
            let expected: Option<u64> = resp
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            if expected.is_some_and(|n| n > max_bytes) {
                return Err(FetchError::TooLarge {
                    url: current,
                    max: max_bytes,
                });
            }
            let mut body = Vec::new();
            let mut reader = resp
                .into_body()
                .into_reader()
                .take(max_bytes.saturating_add(1));
            if let Err(e) = reader.read_to_end(&mut body) {
                let got = body.len() as u64;
                return Err(match expected {
                    Some(expected) if got < expected => FetchError::Truncated {
                        url: current,
                        got,
                        expected,
                    },
                    _ => FetchError::Network {
                        url: current,
                        why: e.to_string(),
                    },
                });
            }
            let got = body.len() as u64;
            if got > max_bytes {
                return Err(FetchError::TooLarge {
                    url: current,
                    max: max_bytes,
                });
            }
            if let Some(expected) = expected
                && got != expected
            {
                return Err(FetchError::Truncated {
                    url: current,
                    got,
                    expected,
                });
            }
            return Ok(body);
        }
        Err(FetchError::Network {
            url: url.to_string(),
            why: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls() {
        assert!(check_url("http://deb.debian.org/debian").is_ok());
        assert!(check_url("https://127.0.0.1:8080/x").is_ok());
        for bad in [
            "ftp://x/y",
            "file:///etc/passwd",
            "/srv/repo",
            "http://",
            "https://user:pw@host/x",
            "http://host/a b",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        let e = check_url("https://user:secret@host/x").unwrap_err();
        assert!(e.to_string().contains("credentials"), "{e}");
    }

    #[test]
    fn redirects_resolve_against_the_base() {
        let b = "http://a.example/debian/dists/x/InRelease";
        assert_eq!(redirect_target(b, "https://b/c"), "https://b/c");
        assert_eq!(
            redirect_target(b, "/m/InRelease"),
            "http://a.example/m/InRelease"
        );
        assert_eq!(redirect_target(b, "//c.example/p"), "http://c.example/p");
        assert_eq!(
            redirect_target(b, "Release"),
            "http://a.example/debian/dists/x/Release"
        );
        assert!(check_url(&redirect_target(b, "file:///etc/passwd")).is_err());
    }
}
