//! Image references (`docker.io/library/alpine:3.19@sha256:…`) and transports
//! (`oci:DIR[:TAG]`, `docker://REF`, …) in skopeo's syntax.
//!
//! Parsing is pure string work: nothing here touches the network or the disk.
//! A [`Reference`] is normalized exactly like docker does it, so `alpine`,
//! `docker.io/alpine` and `index.docker.io/library/alpine:latest` are the same
//! value, and caches keyed by the reference never hold duplicates.

use crate::digest::{Digest, DigestError};
use std::fmt;
use std::path::{Path, PathBuf};

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Tag applied when a reference names neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";
/// Docker's limit on the length of `registry/repository`.
const MAX_NAME_LEN: usize = 255;

/// Transports of skopeo that ironhull deliberately does not support, named so
/// the error can say "unsupported" instead of "invalid reference".
const OTHER_TRANSPORTS: &[&str] = &[
    "containers-storage",
    "dir",
    "docker-daemon",
    "ostree",
    "sif",
    "tarball",
];

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("empty image reference; write e.g. `alpine:3.19` or `oci:./layout:tag`")]
    Empty,
    #[error(
        "image reference {input:?} has no transport; write `docker://{input}` for a registry image, `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]`, `rootfs:FILE` or `static`"
    )]
    MissingTransport { input: String },
    #[error(
        "transport `{name}:` is not supported by ironhull; use one of oci:, oci-archive:, docker-archive:, rootfs:, docker:// or `static`"
    )]
    UnsupportedTransport { name: String },
    #[error("`{transport}:` needs a path after the colon, e.g. `{transport}:./image`")]
    EmptyPath { transport: &'static str },
    #[error(
        "invalid tag {tag:?}: a tag is 1-128 characters of letters, digits, `_`, `.` and `-`, and must not start with `.` or `-`"
    )]
    BadTag { tag: String },
    #[error(
        "invalid registry host {domain:?} in {input:?}: expected a host name or [IPv6] address with an optional :port, e.g. `ghcr.io` or `localhost:5000`"
    )]
    BadDomain { domain: String, input: String },
    #[error(
        "invalid repository path component {component:?} in {input:?}: components are lowercase letters and digits, separated by `.`, `_`, `__` or dashes, e.g. `my-org/my_app`"
    )]
    BadComponent { component: String, input: String },
    #[error(
        "image name in {input:?} is {len} characters long; docker limits `registry/repository` to 255"
    )]
    TooLong { input: String, len: usize },
    #[error(
        "{input:?} looks like an image id (64 hex digits), not a reference; write `name@sha256:{input}`"
    )]
    HexOnly { input: String },
    #[error("invalid digest in image reference: {0}")]
    BadDigest(#[from] DigestError),
    #[error(
        "invalid docker-archive reference {value:?}: expected `NAME[:TAG]` or `@INDEX` (a number)"
    )]
    BadArchiveRef { value: String },
}

/// A normalized registry image reference.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// Checks one repository path component against docker's grammar:
/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`.
pub fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !b.last().is_some_and(|&c| alnum(c)) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_domain(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        // [IPv6]:port
        let Some(end) = rest.find(']') else {
            return false;
        };
        let v6 = &rest[..end];
        if v6.is_empty() || !v6.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') {
            return false;
        }
        let after = &rest[end + 1..];
        match after.strip_prefix(':') {
            Some(p) => (None, Some(p)),
            None if after.is_empty() => (None, None),
            None => return false,
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(s), None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    match host {
        None => true,
        Some(h) => {
            !h.is_empty()
                && h.split('.').all(|label| {
                    let b = label.as_bytes();
                    !b.is_empty()
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
                })
        }
    }
}

impl Reference {
    /// Parses and normalizes a reference like docker's `ParseNormalizedNamed`
    /// plus the default `latest` tag when neither tag nor digest is given.
    ///
    /// The first `/`-separated component is a registry only if it contains `.`
    /// or `:`, is `localhost`, or has uppercase letters (which a repository
    /// cannot); otherwise the registry is `docker.io`, and single-component
    /// Hub names get the `library/` prefix.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if input.len() == 64 && input.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(ReferenceError::HexOnly {
                input: input.into(),
            });
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => (r, Some(Digest::parse(d)?)),
            None => (input, None),
        };
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(c) if last_slash.is_none_or(|s| c > s) => (&rest[..c], Some(&rest[c + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag
            && !is_tag(t)
        {
            return Err(ReferenceError::BadTag { tag: t.into() });
        }
        let (mut registry, mut repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        if registry == "index.docker.io" {
            registry = DOCKER_HUB.to_string();
        }
        if !is_domain(&registry) {
            return Err(ReferenceError::BadDomain {
                domain: registry,
                input: input.into(),
            });
        }
        if registry == DOCKER_HUB && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        if let Some(bad) = repository.split('/').find(|c| !is_path_component(c)) {
            return Err(ReferenceError::BadComponent {
                component: bad.into(),
                input: input.into(),
            });
        }
        let len = registry.len() + 1 + repository.len();
        if len > MAX_NAME_LEN {
            return Err(ReferenceError::TooLong {
                input: input.chars().take(80).collect(),
                len,
            });
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// Registry host as written in references (`docker.io`, `ghcr.io`,
    /// `localhost:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Repository path (`library/alpine`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The host to talk to for the registry API: Docker Hub's API does not live
    /// at `docker.io`.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The short form people type: `alpine:3.19`, `user/app:latest`,
    /// `ghcr.io/o/app@sha256:…`.
    /// A Docker Hub repository whose first component reads as a host
    /// (`docker.io/a.b/c`) keeps its `docker.io/` prefix: without it the
    /// short form would name another registry (found by fuzzing).
    pub fn familiar(&self) -> String {
        let first = self.repository.split('/').next().unwrap_or_default();
        let host_like =
            self.repository.contains('/') && (first.contains(['.', ':']) || first == "localhost");
        let mut s = if self.registry == DOCKER_HUB && !host_like {
            self.repository
                .strip_prefix("library/")
                .filter(|r| !r.contains('/'))
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            self.name()
        };
        self.push_suffix(&mut s);
        s
    }

    /// Returns the same reference pinned to `digest` (the tag is kept for
    /// readability; the digest is what gets pulled).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self {
            digest: Some(digest),
            ..self.clone()
        }
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
    }
}

impl fmt::Display for Reference {
    /// The full, normalized form: `docker.io/library/alpine:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Where an image comes from or goes to, in skopeo's transport syntax.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Transport {
    /// `oci:DIR[:TAG]`: an OCI image layout directory.
    Oci { dir: PathBuf, tag: Option<String> },
    /// `oci-archive:FILE[:TAG]`: a tar of an OCI image layout.
    OciArchive { file: PathBuf, tag: Option<String> },
    /// `docker-archive:FILE[:REF]`: a `docker save` tarball.
    DockerArchive {
        file: PathBuf,
        reference: Option<String>,
    },
    /// `rootfs:FILE`: a plain root filesystem tarball (optionally gzipped).
    Rootfs { file: PathBuf },
    /// `docker://REF`: a registry image.
    Docker(Reference),
    /// The built-in empty base (`static`): no OS at all.
    Static,
}

/// Splits `PATH[:TAG]` for `oci:` and `oci-archive:`. The split is at the LAST
/// colon, and only when what follows is a valid tag; otherwise the whole
/// string is the path. So `oci:/mnt/c:/x` is the directory `/mnt/c:/x`, and a
/// path whose last `:`-suffix looks like a tag cannot be written without a
/// tag (`oci:/a:b` is directory `/a` with tag `b`; use `oci:/a:b:latest`).
/// Note that skopeo itself splits at the FIRST colon; the two agree whenever
/// the path has no colon, which is the only unambiguous case anyway. Values
/// produced by [`Transport::parse`] always display back to themselves.
fn split_path_tag(rest: &str) -> (&str, Option<&str>) {
    match rest.rfind(':') {
        Some(c) if is_tag(&rest[c + 1..]) => (&rest[..c], Some(&rest[c + 1..])),
        _ => (rest, None),
    }
}

impl Transport {
    /// Parses a transport-qualified image name. A bare reference without a
    /// transport is an error here; see [`Transport::parse_base`].
    pub fn parse(s: &str) -> Result<Transport, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if s == "static" {
            return Ok(Transport::Static);
        }
        if let Some(r) = s.strip_prefix("docker://") {
            return Ok(Transport::Docker(Reference::parse(r)?));
        }
        if let Some(rest) = s.strip_prefix("oci:") {
            let (dir, tag) = split_path_tag(rest);
            if dir.is_empty() {
                return Err(ReferenceError::EmptyPath { transport: "oci" });
            }
            return Ok(Transport::Oci {
                dir: dir.into(),
                tag: tag.map(Into::into),
            });
        }
        if let Some(rest) = s.strip_prefix("oci-archive:") {
            let (file, tag) = split_path_tag(rest);
            if file.is_empty() {
                return Err(ReferenceError::EmptyPath {
                    transport: "oci-archive",
                });
            }
            return Ok(Transport::OciArchive {
                file: file.into(),
                tag: tag.map(Into::into),
            });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            // Like skopeo: the FIRST colon separates the file from the
            // reference, because the reference itself may contain a colon.
            let (file, reference) = match rest.split_once(':') {
                Some((f, r)) => (f, Some(r)),
                None => (rest, None),
            };
            if file.is_empty() {
                return Err(ReferenceError::EmptyPath {
                    transport: "docker-archive",
                });
            }
            if let Some(r) = reference {
                let ok = match r.strip_prefix('@') {
                    Some(n) => !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()),
                    None => Reference::parse(r).is_ok() && !r.contains('@'),
                };
                if !ok {
                    return Err(ReferenceError::BadArchiveRef { value: r.into() });
                }
            }
            return Ok(Transport::DockerArchive {
                file: file.into(),
                reference: reference.map(Into::into),
            });
        }
        if let Some(rest) = s.strip_prefix("rootfs:") {
            if rest.is_empty() {
                return Err(ReferenceError::EmptyPath {
                    transport: "rootfs",
                });
            }
            return Ok(Transport::Rootfs { file: rest.into() });
        }
        if let Some(name) = other_transport(s) {
            return Err(ReferenceError::UnsupportedTransport { name: name.into() });
        }
        Err(ReferenceError::MissingTransport { input: s.into() })
    }

    /// Like [`Transport::parse`], but a string without a known transport prefix
    /// is a registry reference (`alpine:3.19` means `docker://alpine:3.19`).
    /// This is what `base.image` in a spec accepts.
    pub fn parse_base(s: &str) -> Result<Transport, ReferenceError> {
        match Self::parse(s) {
            Err(ReferenceError::MissingTransport { .. }) => {
                Ok(Transport::Docker(Reference::parse(s)?))
            }
            other => other,
        }
    }

    /// Makes relative paths relative to `base_dir` (the spec file's
    /// directory), so a spec means the same thing from any working directory.
    pub fn resolve_relative(&self, base_dir: &Path) -> Transport {
        let fix = |p: &PathBuf| {
            if p.is_absolute() {
                p.clone()
            } else {
                base_dir.join(p)
            }
        };
        match self {
            Transport::Oci { dir, tag } => Transport::Oci {
                dir: fix(dir),
                tag: tag.clone(),
            },
            Transport::OciArchive { file, tag } => Transport::OciArchive {
                file: fix(file),
                tag: tag.clone(),
            },
            Transport::DockerArchive { file, reference } => Transport::DockerArchive {
                file: fix(file),
                reference: reference.clone(),
            },
            Transport::Rootfs { file } => Transport::Rootfs { file: fix(file) },
            Transport::Docker(r) => Transport::Docker(r.clone()),
            Transport::Static => Transport::Static,
        }
    }

    /// The transport's name as in skopeo (`oci`, `docker`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Oci { .. } => "oci",
            Transport::OciArchive { .. } => "oci-archive",
            Transport::DockerArchive { .. } => "docker-archive",
            Transport::Rootfs { .. } => "rootfs",
            Transport::Docker(_) => "docker",
            Transport::Static => "static",
        }
    }
}

/// Returns the transport name if `s` starts with a skopeo transport that
/// ironhull does not support.
fn other_transport(s: &str) -> Option<&'static str> {
    let (name, _) = s.split_once(':')?;
    OTHER_TRANSPORTS.iter().copied().find(|t| *t == name)
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Oci { dir, tag } => {
                write!(f, "oci:{}", dir.display())?;
                if let Some(t) = tag {
                    write!(f, ":{t}")?;
                }
                Ok(())
            }
            Transport::OciArchive { file, tag } => {
                write!(f, "oci-archive:{}", file.display())?;
                if let Some(t) = tag {
                    write!(f, ":{t}")?;
                }
                Ok(())
            }
            Transport::DockerArchive { file, reference } => {
                write!(f, "docker-archive:{}", file.display())?;
                if let Some(r) = reference {
                    write!(f, ":{r}")?;
                }
                Ok(())
            }
            Transport::Rootfs { file } => write!(f, "rootfs:{}", file.display()),
            Transport::Docker(r) => write!(f, "docker://{r}"),
            Transport::Static => f.write_str("static"),
        }
    }
}

impl std::str::FromStr for Transport {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type ErrCheck = fn(&ReferenceError) -> bool;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// Regression (fuzz target `reference`): the familiar form of a Docker
    /// Hub repository whose first component looks like a host must keep
    /// `docker.io/`, or it parses back as another registry.
    #[test]
    fn familiar_form_parses_back_to_the_same_reference() {
        for input in [
            "docker.io/lbir.rya/lpine:latest",
            "docker.io/localhost/app:1",
            "alpine",
            "user/app:1",
            "ghcr.io/o/app:2",
        ] {
            let r = Reference::parse(input).unwrap();
            let fam = r.familiar();
            assert_eq!(Reference::parse(&fam).unwrap(), r, "{input} -> {fam}");
        }
        let r = Reference::parse("docker.io/lbir.rya/lpine:latest").unwrap();
        assert_eq!(r.familiar(), "docker.io/lbir.rya/lpine:latest");
    }

    #[test]
    fn references_normalize_like_docker() {
        let d = D;
        let cases: Vec<(String, String, &str)> = vec![
            (
                "alpine".into(),
                "docker.io/library/alpine:latest".into(),
                "alpine:latest",
            ),
            (
                "alpine:3.19".into(),
                "docker.io/library/alpine:3.19".into(),
                "alpine:3.19",
            ),
            (
                "user/app".into(),
                "docker.io/user/app:latest".into(),
                "user/app:latest",
            ),
            (
                "docker.io/alpine".into(),
                "docker.io/library/alpine:latest".into(),
                "alpine:latest",
            ),
            (
                "index.docker.io/library/alpine".into(),
                "docker.io/library/alpine:latest".into(),
                "alpine:latest",
            ),
            (
                "index.docker.io/user/app:v1".into(),
                "docker.io/user/app:v1".into(),
                "user/app:v1",
            ),
            (
                "docker.io/library/a/b".into(),
                "docker.io/library/a/b:latest".into(),
                "library/a/b:latest",
            ),
            (
                "localhost/x".into(),
                "localhost/x:latest".into(),
                "localhost/x:latest",
            ),
            (
                "localhost:5000/x/y:t".into(),
                "localhost:5000/x/y:t".into(),
                "localhost:5000/x/y:t",
            ),
            (
                "ghcr.io/org/app:1.0.0".into(),
                "ghcr.io/org/app:1.0.0".into(),
                "ghcr.io/org/app:1.0.0",
            ),
            (
                format!("host:5000/path:tag@{d}"),
                format!("host:5000/path:tag@{d}"),
                "",
            ),
            (
                format!("alpine@{d}"),
                format!("docker.io/library/alpine@{d}"),
                "",
            ),
            ("[::1]:5000/app".into(), "[::1]:5000/app:latest".into(), ""),
            (
                "Example.COM/app".into(),
                "Example.COM/app:latest".into(),
                "",
            ),
            (
                "a/b-c/d__e/f.g/h---i:T_1.x-y".into(),
                "docker.io/a/b-c/d__e/f.g/h---i:T_1.x-y".into(),
                "",
            ),
            (
                "registry.example.com:443/a".into(),
                "registry.example.com:443/a:latest".into(),
                "",
            ),
            (
                "localhost:5000".into(),
                "docker.io/library/localhost:5000".into(),
                "localhost:5000",
            ),
        ];
        for (input, full, familiar) in cases {
            let r = Reference::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), full, "{input}");
            if !familiar.is_empty() {
                assert_eq!(r.familiar(), familiar, "{input}");
            }
            // Round trip: the full form parses to the same value.
            assert_eq!(Reference::parse(&full).ok(), Some(r.clone()), "{input}");
            assert_eq!(Reference::parse(&r.familiar()).ok(), Some(r), "{input}");
        }
    }

    #[test]
    fn invalid_references() {
        let long = format!("a/{}", "b".repeat(260));
        let cases: Vec<(&str, ErrCheck)> = vec![
            ("", |e| matches!(e, ReferenceError::Empty)),
            ("Alpine", |e| {
                matches!(e, ReferenceError::BadComponent { .. })
            }),
            ("user/App", |e| {
                matches!(e, ReferenceError::BadComponent { .. })
            }),
            ("alpine:", |e| matches!(e, ReferenceError::BadTag { .. })),
            ("alpine:.x", |e| matches!(e, ReferenceError::BadTag { .. })),
            ("alpine:a/b", |e| {
                matches!(e, ReferenceError::BadDomain { .. })
            }),
            ("alpine@sha256:abc", |e| {
                matches!(e, ReferenceError::BadDigest(_))
            }),
            ("alpine@md5:abc", |e| {
                matches!(e, ReferenceError::BadDigest(_))
            }),
            ("a//b", |e| matches!(e, ReferenceError::BadComponent { .. })),
            ("a/-b", |e| matches!(e, ReferenceError::BadComponent { .. })),
            ("a/b.", |e| matches!(e, ReferenceError::BadComponent { .. })),
            ("a/b..c", |e| {
                matches!(e, ReferenceError::BadComponent { .. })
            }),
            ("a/b___c", |e| {
                matches!(e, ReferenceError::BadComponent { .. })
            }),
            ("host:port/x", |e| {
                matches!(e, ReferenceError::BadDomain { .. })
            }),
            ("-host.com/x", |e| {
                matches!(e, ReferenceError::BadDomain { .. })
            }),
            ("[zz]:5000/x", |e| {
                matches!(e, ReferenceError::BadDomain { .. })
            }),
            ("ghcr.io/", |e| {
                matches!(e, ReferenceError::BadComponent { .. })
            }),
            ("a b", |e| matches!(e, ReferenceError::BadComponent { .. })),
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                |e| matches!(e, ReferenceError::HexOnly { .. }),
            ),
        ];
        for (input, check) in cases {
            match Reference::parse(input) {
                Ok(r) => panic!("{input:?} should fail, got {r}"),
                Err(e) => assert!(check(&e), "{input:?}: unexpected error {e:?}"),
            }
        }
        assert!(matches!(
            Reference::parse(&long),
            Err(ReferenceError::TooLong { .. })
        ));
        let tag129 = format!("a:{}", "t".repeat(129));
        assert!(matches!(
            Reference::parse(&tag129),
            Err(ReferenceError::BadTag { .. })
        ));
    }

    #[test]
    fn api_host() {
        let hub = Reference::parse("alpine").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hub.api_host(), "registry-1.docker.io");
        let gh = Reference::parse("ghcr.io/a/b").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(gh.api_host(), "ghcr.io");
    }

    #[test]
    fn transports_parse_and_round_trip() {
        let cases: Vec<(&str, Transport)> = vec![
            ("static", Transport::Static),
            (
                "oci:./layout",
                Transport::Oci {
                    dir: "./layout".into(),
                    tag: None,
                },
            ),
            (
                "oci:layout:v1",
                Transport::Oci {
                    dir: "layout".into(),
                    tag: Some("v1".into()),
                },
            ),
            (
                "oci:/mnt/c:/x",
                Transport::Oci {
                    dir: "/mnt/c:/x".into(),
                    tag: None,
                },
            ),
            (
                "oci:/mnt/c:/x:v1",
                Transport::Oci {
                    dir: "/mnt/c:/x".into(),
                    tag: Some("v1".into()),
                },
            ),
            (
                "oci-archive:img.tar",
                Transport::OciArchive {
                    file: "img.tar".into(),
                    tag: None,
                },
            ),
            (
                "oci-archive:/tmp/img.tar:1.0",
                Transport::OciArchive {
                    file: "/tmp/img.tar".into(),
                    tag: Some("1.0".into()),
                },
            ),
            (
                "docker-archive:a.tar",
                Transport::DockerArchive {
                    file: "a.tar".into(),
                    reference: None,
                },
            ),
            (
                "docker-archive:a.tar:alpine:3.19",
                Transport::DockerArchive {
                    file: "a.tar".into(),
                    reference: Some("alpine:3.19".into()),
                },
            ),
            (
                "docker-archive:a.tar:@1",
                Transport::DockerArchive {
                    file: "a.tar".into(),
                    reference: Some("@1".into()),
                },
            ),
            (
                "rootfs:root.tar.gz",
                Transport::Rootfs {
                    file: "root.tar.gz".into(),
                },
            ),
            (
                "rootfs:/x:y.tar",
                Transport::Rootfs {
                    file: "/x:y.tar".into(),
                },
            ),
        ];
        for (input, want) in cases {
            let got = Transport::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, want, "{input}");
            assert_eq!(got.to_string(), input, "display round trip");
            assert_eq!(Transport::parse(&got.to_string()).ok(), Some(got));
        }
        let d = Transport::parse("docker://alpine").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.to_string(), "docker://docker.io/library/alpine:latest");
        assert_eq!(Transport::parse(&d.to_string()).ok(), Some(d));
    }

    #[test]
    fn transport_errors() {
        let cases: Vec<(&str, ErrCheck)> = vec![
            ("", |e| matches!(e, ReferenceError::Empty)),
            ("alpine", |e| {
                matches!(e, ReferenceError::MissingTransport { .. })
            }),
            ("oci:", |e| {
                matches!(e, ReferenceError::EmptyPath { transport: "oci" })
            }),
            ("oci::v1", |e| matches!(e, ReferenceError::EmptyPath { .. })),
            ("oci-archive:", |e| {
                matches!(e, ReferenceError::EmptyPath { .. })
            }),
            ("rootfs:", |e| matches!(e, ReferenceError::EmptyPath { .. })),
            ("docker-archive::x", |e| {
                matches!(e, ReferenceError::EmptyPath { .. })
            }),
            ("docker-archive:a.tar:Bad Ref", |e| {
                matches!(e, ReferenceError::BadArchiveRef { .. })
            }),
            ("docker-archive:a.tar:@x", |e| {
                matches!(e, ReferenceError::BadArchiveRef { .. })
            }),
            ("docker://", |e| matches!(e, ReferenceError::Empty)),
            ("docker://UPPER", |e| {
                matches!(e, ReferenceError::BadComponent { .. })
            }),
            ("containers-storage:alpine", |e| {
                matches!(e, ReferenceError::UnsupportedTransport { .. })
            }),
            ("docker-daemon:alpine:latest", |e| {
                matches!(e, ReferenceError::UnsupportedTransport { .. })
            }),
        ];
        for (input, check) in cases {
            match Transport::parse(input) {
                Ok(t) => panic!("{input:?} should fail, got {t}"),
                Err(e) => assert!(check(&e), "{input:?}: unexpected {e:?}"),
            }
        }
        assert!(matches!(
            Transport::parse_base("dir:/x"),
            Err(ReferenceError::UnsupportedTransport { .. })
        ));
    }

    #[test]
    fn parse_base_defaults_to_registry() {
        let t = Transport::parse_base("alpine:3.19").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.to_string(), "docker://docker.io/library/alpine:3.19");
        let t = Transport::parse_base("localhost:5000/app").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.kind(), "docker");
        assert_eq!(
            Transport::parse_base("static").ok(),
            Some(Transport::Static)
        );
        assert!(matches!(
            Transport::parse_base("oci:x"),
            Ok(Transport::Oci { .. })
        ));
        assert!(Transport::parse_base("Not A Ref").is_err());
    }

    #[test]
    fn resolve_relative_paths() {
        let base = Path::new("/specs/app");
        let t = Transport::parse("oci:layout:v1")
            .unwrap_or_else(|e| panic!("{e}"))
            .resolve_relative(base);
        assert_eq!(
            t,
            Transport::Oci {
                dir: "/specs/app/layout".into(),
                tag: Some("v1".into())
            }
        );
        let t = Transport::parse("rootfs:/abs.tar")
            .unwrap_or_else(|e| panic!("{e}"))
            .resolve_relative(base);
        assert_eq!(
            t,
            Transport::Rootfs {
                file: "/abs.tar".into()
            }
        );
        assert_eq!(Transport::Static.resolve_relative(base), Transport::Static);
    }

    #[test]
    fn with_digest_pins() {
        let d = Digest::parse(D).unwrap_or_else(|e| panic!("{e}"));
        let r = Reference::parse("alpine:3").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.with_digest(d).to_string(),
            format!("docker.io/library/alpine:3@{D}")
        );
    }
}
