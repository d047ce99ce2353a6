//! A distribution-spec client: pull bases from, and push images to, any OCI
//! registry.
//!
//! Why our own client: ironhull must verify every byte it receives against a
//! digest before it reaches the build, never leak credentials (not to logs,
//! not to redirect targets such as S3/CDN hosts), and keep dependencies small.
//! The pieces:
//! - [`challenge`]: `WWW-Authenticate` parsing (Bearer and Basic);
//! - [`credentials`]: docker `config.json` (auths, credsStore, credHelpers)
//!   and podman `auth.json`, plus `login`/`logout` persistence;
//! - `transport`: TLS setup, scheme choice, retries and the token dance;
//! - `pull` / `push`: the distribution API flows;
//! - [`progress`]: human and machine-readable progress output.

pub mod challenge;
pub mod credentials;
pub mod progress;
mod pull;
mod push;
pub mod referrers;
mod transport;

pub use progress::Progress;

use crate::digest::Digest;
use crate::image::{Descriptor, ImageSet, Platform, PlatformImage};
use crate::reference::Reference;
use crate::store::{BlobError, BlobStore};
use std::ffi::OsString;
use std::path::PathBuf;

/// Size cap for manifests, indexes and configs fetched from a registry: real
/// ones are a few KiB; an unbounded read of a hostile one would exhaust memory.
pub const MAX_DOC: u64 = crate::store::MAX_DOC;

/// Options shared by every registry operation.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Hosts (`host[:port]`) that may be reached over plain HTTP, like
    /// docker's `--insecure-registry`. Loopback hosts are always allowed.
    pub insecure_registries: Vec<String>,
    /// An extra PEM CA bundle trusted for every registry (`--ca-file`).
    pub ca_file: Option<PathBuf>,
    /// Directory holding docker's `config.json`; `None` means
    /// `$DOCKER_CONFIG`, else `~/.docker`.
    pub docker_config_dir: Option<PathBuf>,
    /// Which progress events are worth sending (none when Quiet; in-flight
    /// ones only for Bar).
    pub progress: Progress,
    /// Where progress events go (the front end draws them).
    pub reporter: crate::events::SharedReporter,
    /// Parallel blob transfers; 0 is treated as 1.
    pub max_concurrency: usize,
}

/// Everything that can go wrong talking to a registry. Messages name the
/// registry, the repository and the HTTP status, and say how to fix it.
/// No variant ever holds a credential or token.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "cannot reach registry {registry}: {detail}; check the host name and port, that the registry is running, and any proxy settings"
    )]
    Connect { registry: String, detail: String },
    #[error(
        "unauthorized: registry {registry} refused access to repository {repository} (HTTP {status}){detail}; run `ironhull login {registry}` with an account that may access it"
    )]
    Unauthorized {
        registry: String,
        repository: String,
        status: u16,
        detail: String,
    },
    #[error(
        "denied: your account may not {action} repository {repository} on registry {registry} (HTTP {status}){detail}; ask the registry's admin for {action} access, or run `ironhull login {registry}` as another user"
    )]
    Denied {
        registry: String,
        repository: String,
        action: String,
        status: u16,
        detail: String,
    },
    #[error(
        "{what} not found in repository {repository} on registry {registry} (HTTP 404); check the repository name, tag or digest"
    )]
    NotFound {
        registry: String,
        repository: String,
        what: String,
    },
    #[error(
        "registry {registry} answered HTTP {status} to {operation} in repository {repository}{detail}"
    )]
    Status {
        registry: String,
        repository: String,
        operation: String,
        status: u16,
        detail: String,
    },
    #[error(
        "token server {realm} for registry {registry} failed: {detail}; check that the registry's auth service is up, and your credentials (`ironhull login {registry}`)"
    )]
    TokenServer {
        registry: String,
        realm: String,
        detail: String,
    },
    #[error(
        "{what} from {registry}/{repository} does not match its digest: expected {expected}, got {actual}; the registry or something between us served corrupt or tampered data, nothing was kept"
    )]
    DigestMismatch {
        registry: String,
        repository: String,
        what: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{what} from {registry}/{repository} is larger than {limit} bytes; refusing to read it (real manifests and configs are a few KiB)"
    )]
    TooLarge {
        registry: String,
        repository: String,
        what: String,
        limit: u64,
    },
    #[error("{registry}/{repository}: invalid {what}: {detail}")]
    BadDocument {
        registry: String,
        repository: String,
        what: String,
        detail: String,
    },
    #[error(
        "platform {wanted} not found in {reference}; it offers: {available}; pick one of those platforms"
    )]
    PlatformNotFound {
        reference: String,
        wanted: String,
        available: String,
    },
    #[error("TLS setup for registry {registry}: {path}: {detail}")]
    Tls {
        registry: String,
        path: String,
        detail: String,
    },
    #[error("credentials file {path}: {detail}")]
    Credentials { path: String, detail: String },
    #[error(
        "credential helper docker-credential-{helper} failed to {action} credentials for {server}: {detail}"
    )]
    Helper {
        helper: String,
        action: String,
        server: String,
        detail: String,
    },
    #[error("blob cache: {0}")]
    Store(#[from] BlobError),
    #[error("push of {target}: {detail}")]
    BadPush { target: String, detail: String },
    #[error("{0}")]
    Usage(String),
}

/// A registry client. Cheap to share between threads (`&Client`): token and
/// connection caches are internally synchronized.
pub struct Client {
    inner: transport::Transport,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client: loads the trusted roots (system, webpki, `--ca-file`)
    /// up front so a bad CA file is reported before any transfer starts.
    pub fn new(opts: RegistryOptions) -> Result<Self, RegistryError> {
        Ok(Self {
            inner: transport::Transport::new(opts, None)?,
        })
    }

    /// Uses `path` (a `PATH`-style list) instead of `$PATH` to find
    /// `docker-credential-*` helpers. For tests and sandboxed callers.
    pub fn with_credential_helper_path(mut self, path: impl Into<OsString>) -> Self {
        self.inner.set_helper_path(path.into());
        self
    }

    /// Sets the upload strategy: blobs up to `monolithic_limit` bytes go in
    /// one PUT, larger ones in PATCH chunks of `chunk` bytes (defaults: 32 MiB
    /// and 16 MiB). Exposed so tests can exercise chunked uploads cheaply.
    pub fn with_upload_chunking(mut self, monolithic_limit: u64, chunk: u64) -> Self {
        self.inner.monolithic_limit = monolithic_limit;
        self.inner.chunk_size = chunk.max(1);
        self
    }

    /// Pulls `reference`, selects `platforms` (empty = all non-attestation
    /// platforms of an index, or the single manifest), streams blobs into
    /// `cache` verifying every digest (manifests/configs capped at 4 MiB).
    pub fn pull(
        &self,
        reference: &Reference,
        platforms: &[Platform],
        cache: &BlobStore,
    ) -> Result<ImageSet, RegistryError> {
        pull::pull(&self.inner, reference, platforms, cache)
    }

    /// Resolves a tag to the top-level digest (HEAD, falling back to GET)
    /// without pulling blobs; also returns the media type.
    pub fn resolve(&self, reference: &Reference) -> Result<(Digest, String), RegistryError> {
        pull::resolve(&self.inner, reference)
    }

    /// Pushes an image whose blobs are in `src`, then its manifests, then the
    /// top document under every tag. Returns the top digest.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &self,
        target: &Reference,
        tags: &[String],
        top: &Descriptor,
        top_bytes: &[u8],
        images: &[PlatformImage],
        src: &BlobStore,
        mount_from: Option<&Reference>,
    ) -> Result<Digest, RegistryError> {
        push::push(
            &self.inner,
            target,
            tags,
            top,
            top_bytes,
            images,
            src,
            mount_from,
        )
    }

    /// Pushes an arbitrary manifest under a tag or its digest.
    pub fn push_manifest(
        &self,
        target: &Reference,
        tag_or_digest: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        push::push_manifest(&self.inner, target, tag_or_digest, media_type, bytes)
    }

    /// Whether the registry serves the OCI referrers API for `target`'s
    /// repository (`GET /v2/<name>/referrers/<digest>` answers 200).
    pub fn supports_referrers(&self, target: &Reference) -> Result<bool, RegistryError> {
        push::supports_referrers(&self.inner, target)
    }

    /// Fetches a manifest by tag or digest (verified against a digest
    /// reference); `None` when it does not exist.
    pub fn fetch_optional(
        &self,
        target: &Reference,
        tag_or_digest: &str,
    ) -> Result<Option<referrers::Fetched>, RegistryError> {
        referrers::fetch_optional(&self.inner, target, tag_or_digest)
    }

    /// The referrers API's index for `subject`, or `None` when the registry
    /// does not serve the API.
    pub fn referrers(
        &self,
        target: &Reference,
        subject: &Digest,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        referrers::referrers(&self.inner, target, subject)
    }

    /// A small blob (at most 4 MiB), verified, through `store`.
    pub fn small_blob(
        &self,
        target: &Reference,
        digest: &Digest,
        size: u64,
        store: &BlobStore,
    ) -> Result<Vec<u8>, RegistryError> {
        referrers::small_blob(&self.inner, target, digest, size, store)
    }
}

/// Verifies `username`/`password` against `registry` (by requesting pull
/// access to the registry root, as `docker login` does), then stores them in
/// the docker config (or its `credsStore` / `credHelpers` helper).
pub fn login(
    registry: &str,
    username: &str,
    password: &str,
    opts: &RegistryOptions,
) -> Result<(), RegistryError> {
    let t = transport::Transport::new(opts.clone(), None)?;
    let cred = credentials::Credential::Basic {
        username: username.to_string(),
        password: password.to_string(),
    };
    let host = api_host_of(registry);
    t.check_login(&host, registry, &cred)?;
    credentials::store(registry, &cred, opts, None)
}

/// Removes stored credentials for `registry`.
pub fn logout(registry: &str, opts: &RegistryOptions) -> Result<(), RegistryError> {
    credentials::erase(registry, opts, None)
}

/// The API host for a registry name as users type it (`docker.io` talks to
/// `registry-1.docker.io`).
pub(crate) fn api_host_of(registry: &str) -> String {
    let r = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let r = r.split('/').next().unwrap_or(r);
    match r {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            crate::reference::DOCKER_HUB_API.to_string()
        }
        other => other.to_string(),
    }
}
