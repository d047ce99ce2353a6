//! `[[repositories]]` and `[packages]`: which OS packages to install, from
//! where, trusted by which keys. The types validate themselves here, so the
//! rest of ironhull never sees a repository without a keyring (deb) or a
//! URL with credentials in it.

use super::error::SpecError;
use super::raw::Table;
use std::path::{Path, PathBuf};

pub(super) const REPOSITORY_KEYS: &[&str] = &["kind", "url", "suite", "components", "keyring"];
pub(super) const PACKAGES_KEYS: &[&str] = &["install", "exclude"];

/// The package format of a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RepoKind {
    Deb,
    Apk,
}

impl RepoKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RepoKind::Deb => "deb",
            RepoKind::Apk => "apk",
        }
    }
}

/// One `[[repositories]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    pub(super) kind: RepoKind,
    pub(super) url: String,
    pub(super) suite: Option<String>,
    pub(super) components: Vec<String>,
    pub(super) keyring: Option<PathBuf>,
    pub(super) line: usize,
}

impl Repository {
    pub fn kind(&self) -> RepoKind {
        self.kind
    }
    /// The archive root (deb) or the directory holding `<arch>/APKINDEX.tar.gz`
    /// (apk), without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }
    /// deb: `bookworm`, or `./` style for a flat repository.
    pub fn suite(&self) -> Option<&str> {
        self.suite.as_deref()
    }
    /// True for a flat deb repository (`suite = "./"`, no components).
    pub fn is_flat(&self) -> bool {
        self.suite.as_deref().is_some_and(|s| s.ends_with('/'))
    }
    pub fn components(&self) -> &[String] {
        &self.components
    }
    /// The keyring, resolved against the spec's directory. Always set for
    /// deb; for apk `None` means the base's `/etc/apk/keys`.
    pub fn keyring(&self) -> Option<&Path> {
        self.keyring.as_deref()
    }
    /// The spec line of the `[[repositories]]` header, for messages.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// A relation operator of a request (`python3 (>= 3.11)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested {
    pub name: String,
    /// `(op, version)` as written; its meaning is the repository kind's.
    pub constraint: Option<(String, String)>,
    /// The request as written, for messages and the lock.
    pub text: String,
}

/// `[packages]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packages {
    pub(super) install: Vec<Requested>,
    pub(super) exclude: Vec<String>,
}

impl Packages {
    pub fn install(&self) -> &[Requested] {
        &self.install
    }
    pub fn exclude(&self) -> &[String] {
        &self.exclude
    }
    pub fn is_empty(&self) -> bool {
        self.install.is_empty()
    }
}

fn valid_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || b"+-._".contains(&c))
}

const OPS: &[&str] = &["<<", "<=", ">=", ">>", "=", "<", ">", "~"];

/// `name`, `name (op version)`, or apk's own `name>=version` (what the
/// operator means is the repository kind's).
fn parse_request(s: &str) -> Result<Requested, &'static str> {
    let s = s.trim();
    if !s.contains('(')
        && let Some(i) = s.find(['<', '>', '=', '~'])
    {
        let end = s[i..]
            .find(|c| !matches!(c, '<' | '>' | '=' | '~'))
            .map_or(s.len(), |e| i + e);
        let (name, op, version) = (&s[..i], &s[i..end], &s[end..]);
        if !valid_name(name) {
            return Err(
                "a package name is letters, digits and + - . _, starting with a letter or digit",
            );
        }
        if version.is_empty() || version.contains(char::is_whitespace) {
            return Err("give one version after the operator, e.g. python3>=3.11");
        }
        return Ok(Requested {
            name: name.to_string(),
            constraint: Some((op.to_string(), version.to_string())),
            text: s.to_string(),
        });
    }
    let (name, rest) = match s.find('(') {
        Some(i) => (s[..i].trim(), Some(&s[i..])),
        None => (s, None),
    };
    if !valid_name(name) {
        return Err(
            "a package name is letters, digits and + - . _, starting with a letter or digit",
        );
    }
    let constraint = match rest {
        None => None,
        Some(r) => {
            let inner = r
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or("write a version relation as name (>= 1.2)")?
                .trim();
            let op = OPS
                .iter()
                .find(|op| inner.starts_with(**op))
                .ok_or("the relation must start with one of << <= = >= >> < > ~")?;
            let version = inner[op.len()..].trim();
            if version.is_empty() || version.contains(char::is_whitespace) {
                return Err("give one version after the operator, e.g. (>= 3.11)");
            }
            Some(((*op).to_string(), version.to_string()))
        }
    };
    Ok(Requested {
        name: name.to_string(),
        constraint,
        text: s.to_string(),
    })
}

fn bad(
    t: &Table<'_, '_>,
    span: &std::ops::Range<usize>,
    key: &str,
    value: &str,
    why: String,
) -> SpecError {
    SpecError::BadPackages {
        at: t.ctx.at(span),
        key: t.key_path(key),
        value: value.to_string(),
        why,
    }
}

pub(super) fn repository(t: &Table<'_, '_>, dir: &Path) -> Result<Repository, SpecError> {
    t.check_keys(REPOSITORY_KEYS)?;
    let (k, kspan) = t.req_str("kind", "kind = \"deb\"")?;
    let kind = match k {
        "deb" => RepoKind::Deb,
        "apk" => RepoKind::Apk,
        _ => {
            return Err(bad(t, &kspan, "kind", k, "use \"deb\" or \"apk\"".into()));
        }
    };
    let (u, uspan) = t.req_str("url", "url = \"https://deb.debian.org/debian\"")?;
    let Some(rest) = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"))
    else {
        return Err(bad(
            t,
            &uspan,
            "url",
            u,
            "a repository URL starts with http:// or https://".into(),
        ));
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.contains('@') {
        return Err(bad(
            t,
            &uspan,
            "url",
            "(not shown: it holds credentials)",
            "the URL carries credentials, which would end up in the lock and the build log; ironhull sends none to repositories".into(),
        ));
    }
    if host.is_empty() || u.contains(['?', '#']) || u.contains(char::is_whitespace) {
        return Err(bad(
            t,
            &uspan,
            "url",
            u,
            "give the repository root as a plain URL, with a host and no query".into(),
        ));
    }
    let url = u.trim_end_matches('/').to_string();
    let suite = t.str("suite")?;
    let components = t.str_array("components", "Write components = [\"main\"]")?;
    let keyring = t.str("keyring")?;
    match kind {
        RepoKind::Deb => {
            let (s, sspan) = suite.ok_or_else(|| t.missing("suite", "suite = \"bookworm\""))?;
            let flat = s.ends_with('/');
            if s.is_empty() || s.starts_with('/') || s.split('/').any(|c| c == "..") {
                return Err(bad(
                    t,
                    &sspan,
                    "suite",
                    s,
                    "a suite is a name such as bookworm, or ./ for a flat repository".into(),
                ));
            }
            let comps: Vec<String> = match &components {
                Some((list, _)) => list.iter().map(|(c, _)| c.to_string()).collect(),
                None => Vec::new(),
            };
            if flat && !comps.is_empty() {
                return Err(bad(
                    t,
                    &components.map(|c| c.1).unwrap_or(sspan),
                    "components",
                    &comps.join(","),
                    "a flat repository (suite ending in /) has no components; remove the key"
                        .into(),
                ));
            }
            if !flat && comps.is_empty() {
                return Err(t.missing("components", "components = [\"main\"]"));
            }
            if let Some((list, _)) = &components {
                for (c, span) in list {
                    let ok = c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                        && c.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b))
                        && !c.split('/').any(|p| p.is_empty() || p == "..");
                    if !ok {
                        return Err(bad(
                            t,
                            span,
                            "components",
                            c,
                            "a component is a name such as main".into(),
                        ));
                    }
                }
            }
            let (kr, _) = keyring.ok_or_else(|| {
                t.missing("keyring", "keyring = \"keys/debian-archive.gpg\" (signature checking cannot be turned off)")
            })?;
            Ok(Repository {
                kind,
                url,
                suite: Some(s.to_string()),
                components: comps,
                keyring: Some(dir.join(kr)),
                line: t.here().line,
            })
        }
        RepoKind::Apk => {
            if let Some((s, span)) = suite {
                return Err(bad(t, &span, "suite", s, "apk repositories have no suite: the url names the branch and repository (…/v3.20/main)".into()));
            }
            if let Some((_, span)) = components {
                return Err(bad(
                    t,
                    &span,
                    "components",
                    "[…]",
                    "apk repositories have no components; give one [[repositories]] per url".into(),
                ));
            }
            Ok(Repository {
                kind,
                url,
                suite: None,
                components: Vec::new(),
                keyring: keyring.map(|(k, _)| dir.join(k)),
                line: t.here().line,
            })
        }
    }
}

pub(super) fn packages(t: &Table<'_, '_>) -> Result<Packages, SpecError> {
    t.check_keys(PACKAGES_KEYS)?;
    let mut out = Packages::default();
    let hint = "Write install = [\"libstdc++\", \"python3 (>= 3.11)\"]";
    let Some((list, span)) = t.str_array("install", hint)? else {
        return Err(t.missing("install", "install = [\"tzdata\"]"));
    };
    if list.is_empty() {
        return Err(bad(
            t,
            &span,
            "install",
            "[]",
            "name at least one package, or remove [packages]".into(),
        ));
    }
    for (s, span) in list {
        let r = parse_request(s).map_err(|why| bad(t, &span, "install", s, why.into()))?;
        if out.install.iter().any(|o| o.name == r.name) {
            return Err(bad(
                t,
                &span,
                "install",
                s,
                format!("{} is already requested; keep one entry", r.name),
            ));
        }
        out.install.push(r);
    }
    if let Some((list, _)) = t.str_array("exclude", "Write exclude = [\"debconf\"]")? {
        for (s, span) in list {
            if !valid_name(s) {
                return Err(bad(
                    t,
                    &span,
                    "exclude",
                    s,
                    "give a package name (no version)".into(),
                ));
            }
            if out.install.iter().any(|r| r.name == s) {
                return Err(bad(
                    t,
                    &span,
                    "exclude",
                    s,
                    "it is also in install; remove it from one of them".into(),
                ));
            }
            out.exclude.push(s.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let r = parse_request("python3 (>= 3.11)").unwrap();
        assert_eq!(r.name, "python3");
        assert_eq!(r.constraint, Some((">=".into(), "3.11".into())));
        assert_eq!(parse_request("libstdc++").unwrap().constraint, None);
        let r = parse_request("python3>=3.11").unwrap();
        assert_eq!(r.name, "python3");
        assert_eq!(r.constraint, Some((">=".into(), "3.11".into())));
        assert!(parse_request("python3>=").is_err());
        assert!(parse_request(">=1").is_err());
        for bad in ["", "(>= 1)", "a (>= )", "a (1.0)", "a (>= 1", "-x", "a b"] {
            assert!(parse_request(bad).is_err(), "{bad:?}");
        }
    }
}
