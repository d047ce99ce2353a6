//! File names that are secrets by nature (`id_rsa`, `.aws/credentials`, …),
//! and names that are secrets only with certain content (`.npmrc`, `*.pem`).

use super::SecretHit;
use crate::fs::ImagePath;

/// What, beyond the name, decides whether a file is a secret.
#[derive(Clone, Copy)]
enum NameCheck {
    /// The name alone is evidence.
    Always,
    /// Secret unless the content is clearly a public key (`*.key` is also used
    /// for published signing keys, e.g. apt repository keys).
    UnlessPublic,
    /// Only a secret when the content holds one of these markers.
    Content(&'static [&'static [u8]]),
    /// Only a secret when a `key = value` (or `key: value`, `export
    /// key=value`) line has a key this judge accepts and a real value (not
    /// empty, not a `${VAR}` reference, not a placeholder).
    Assignments(fn(&str, &str) -> bool),
    /// Only a secret when one of these JSON fields has a non-empty value.
    JsonFields(&'static [&'static str]),
}

enum NamePattern {
    /// Exact file name.
    Name(&'static str),
    /// File-name suffix (extension).
    Suffix(&'static str),
    /// Last two components: `dir/name`.
    Tail(&'static str, &'static str),
    /// Any file below a directory with this name.
    Under(&'static str),
    /// `.env.<stage>` (`.env.production`, `.env.local`), except the
    /// templates that are meant to be committed (`.env.example` …).
    DotEnvVariant,
}

struct FileRule {
    pattern: NamePattern,
    why: &'static str,
    check: NameCheck,
}

const FILE_RULES: &[FileRule] = &[
    // SSH private keys (the `.pub` halves have a different name).
    FileRule {
        pattern: NamePattern::Name("id_rsa"),
        why: "SSH private key (id_rsa)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Name("id_dsa"),
        why: "SSH private key (id_dsa)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Name("id_ecdsa"),
        why: "SSH private key (id_ecdsa)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Name("id_ed25519"),
        why: "SSH private key (id_ed25519)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Name("id_ecdsa_sk"),
        why: "SSH security-key handle (id_ecdsa_sk)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Name("id_ed25519_sk"),
        why: "SSH security-key handle (id_ed25519_sk)",
        check: NameCheck::Always,
    },
    // Plain-text credential stores.
    FileRule {
        pattern: NamePattern::Name(".git-credentials"),
        why: "git credential store (plain-text passwords/tokens)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Name(".netrc"),
        why: ".netrc (machine login passwords)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Name("_netrc"),
        why: "_netrc (machine login passwords)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Name(".pgpass"),
        why: "PostgreSQL password file",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Name(".htpasswd"),
        why: "HTTP basic-auth password hashes",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Name(".env"),
        why: ".env file (application secrets by convention)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Name(".vault-token"),
        why: "HashiCorp Vault token",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Tail(".aws", "credentials"),
        why: "AWS credentials file",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Tail(".kube", "config"),
        why: "kubeconfig (cluster credentials)",
        check: NameCheck::Always,
    },
    // GnuPG secret keys.
    FileRule {
        pattern: NamePattern::Name("secring.gpg"),
        why: "GnuPG secret keyring",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Under("private-keys-v1.d"),
        why: "GnuPG private key store",
        check: NameCheck::Always,
    },
    // Key containers: PKCS#12 and Java keystores virtually always hold a private key.
    FileRule {
        pattern: NamePattern::Suffix(".p12"),
        why: "PKCS#12 bundle (private key + certificate)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Suffix(".pfx"),
        why: "PKCS#12 bundle (private key + certificate)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Suffix(".jks"),
        why: "Java keystore (private keys)",
        check: NameCheck::Always,
    },
    FileRule {
        pattern: NamePattern::Suffix(".keystore"),
        why: "Java keystore (private keys)",
        check: NameCheck::Always,
    },
    // `*.key` is the conventional private-key extension, but public signing
    // keys are sometimes published under it too.
    FileRule {
        pattern: NamePattern::Suffix(".key"),
        why: "private key file (*.key)",
        check: NameCheck::UnlessPublic,
    },
    // Content-dependent: these names are often harmless config.
    // `*.pem` is mostly CA bundles and certificates; only a key is secret.
    FileRule {
        pattern: NamePattern::Suffix(".pem"),
        why: "PEM file holding a private key",
        check: NameCheck::Content(&[b"PRIVATE KEY-----"]),
    },
    FileRule {
        pattern: NamePattern::Name(".npmrc"),
        why: ".npmrc holding a registry token or password",
        check: NameCheck::Assignments(npmrc_key),
    },
    FileRule {
        pattern: NamePattern::Name(".pypirc"),
        why: ".pypirc holding a password or token",
        check: NameCheck::Assignments(pypirc_key),
    },
    FileRule {
        pattern: NamePattern::DotEnvVariant,
        why: ".env file (application secrets by convention) with a credential",
        check: NameCheck::Assignments(dotenv_key),
    },
    FileRule {
        pattern: NamePattern::Tail(".docker", "config.json"),
        why: "Docker config.json holding registry credentials",
        check: NameCheck::JsonFields(&["auth", "identitytoken", "registrytoken", "password"]),
    },
    FileRule {
        pattern: NamePattern::Name("credentials.json"),
        why: "credentials.json holding a private key or client secret",
        check: NameCheck::JsonFields(&["private_key", "client_secret", "refresh_token"]),
    },
];

/// `.npmrc`: `_auth`, `_password`, `_authToken`, also scoped
/// (`//registry.example.com/:_authToken`).
fn npmrc_key(key: &str, _value: &str) -> bool {
    let k = key.rsplit(':').next().unwrap_or(key);
    matches!(k, "_auth" | "_password" | "_authToken" | "password")
}

fn pypirc_key(key: &str, _value: &str) -> bool {
    key.eq_ignore_ascii_case("password")
}

/// `DB_PASSWORD_FILE=/run/secrets/db` references a secret, like in Env.
fn dotenv_key(key: &str, value: &str) -> bool {
    super::env::env_name_is_secret(key, value.trim_matches(['"', '\'']))
}

/// Templates meant to be committed next to the real `.env`.
const DOTENV_TEMPLATES: &[&str] = &[
    "example", "sample", "template", "tpl", "dist", "defaults", "default", "schema",
];

fn name_matches(p: &NamePattern, path: &ImagePath) -> bool {
    let name = path.file_name();
    match p {
        NamePattern::Name(n) => name == *n,
        NamePattern::Suffix(s) => name.len() > s.len() && name.ends_with(s),
        NamePattern::Tail(d, n) => {
            name == *n && path.parent().is_some_and(|pp| pp.file_name() == *d)
        }
        NamePattern::Under(d) => path
            .components()
            .take(path.components().count().saturating_sub(1))
            .any(|c| c == *d),
        NamePattern::DotEnvVariant => name
            .strip_prefix(".env.")
            .is_some_and(|stage| !stage.is_empty() && !DOTENV_TEMPLATES.contains(&stage)),
    }
}

/// Returns why a file is a secret judged by its path alone (dockle CIS-DI-0010
/// style), or `None`. Names that are only secret with certain content
/// (`.npmrc`, `*.pem`, `.docker/config.json`, `credentials.json`) return
/// `None` here; use [`secret_file`] with the content for those.
pub fn secret_file_name(path: &ImagePath) -> Option<&'static str> {
    FILE_RULES
        .iter()
        .find(|r| {
            name_matches(&r.pattern, path)
                && matches!(r.check, NameCheck::Always | NameCheck::UnlessPublic)
        })
        .map(|r| r.why)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// True if a rule for this path needs the file's content to decide (so
/// the caller keeps a bounded prefix of it).
pub fn needs_content(path: &ImagePath) -> bool {
    FILE_RULES
        .iter()
        .any(|r| name_matches(&r.pattern, path) && !matches!(r.check, NameCheck::Always))
}

/// A value that only stands for a secret: empty, a reference (`${VAR}`,
/// `$VAR`, `%(var)s`, `{{ var }}`, `<token>`) or a documentation placeholder.
pub(super) fn placeholder_value(v: &str) -> bool {
    let v = v.trim().trim_matches(['"', '\'']);
    let lower = v.to_ascii_lowercase();
    v.is_empty()
        || v.starts_with(['$', '%', '<', '{', '*'])
        || lower.contains("xxx")
        || lower.starts_with("your")
        || lower.starts_with("change")
        || lower.starts_with("replace")
        || matches!(
            lower.as_str(),
            "secret"
                | "password"
                | "passwd"
                | "token"
                | "none"
                | "null"
                | "todo"
                | "example"
                | "redacted"
                | "dummy"
                | "placeholder"
                | "true"
                | "false"
                | "..."
        )
}

/// The `key = value` lines of a credential file whose key `judge` accepts
/// and whose value is real.
fn has_assignment(content: &[u8], judge: fn(&str, &str) -> bool) -> bool {
    content.split(|b| *b == b'\n').any(|line| {
        let Ok(line) = std::str::from_utf8(line) else {
            return false;
        };
        let line = line.trim();
        if line.starts_with(['#', ';', '[']) {
            return false;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some(at) = line.find(['=', ':']) else {
            return false;
        };
        // `//host/:_authToken=…`: the key may contain `:`, the value starts at `=`.
        let at = if line.as_bytes().get(at) == Some(&b':') {
            line.find('=')
                .filter(|_| line.starts_with("//"))
                .unwrap_or(at)
        } else {
            at
        };
        let (key, value) = (line[..at].trim(), line[at + 1..].trim());
        !key.is_empty() && judge(key, value) && !placeholder_value(value)
    })
}

/// A JSON field `"name": "value"` with a non-empty value, anywhere.
fn has_json_field(content: &[u8], names: &[&str]) -> bool {
    names.iter().any(|n| {
        let needle = format!("\"{n}\"");
        let mut from = 0;
        while let Some(i) = content
            .get(from..)
            .and_then(|c| memchr::memmem::find(c, needle.as_bytes()))
        {
            let rest = &content[from + i + needle.len()..];
            let rest = rest.trim_ascii_start();
            if let Some(v) = rest.strip_prefix(b":") {
                let v = v.trim_ascii_start();
                if let Some(v) = v.strip_prefix(b"\"") {
                    let len = v.iter().take_while(|b| **b != b'"').count();
                    if len > 0 && !placeholder_value(&String::from_utf8_lossy(&v[..len])) {
                        return true;
                    }
                }
            }
            from += i + 1;
        }
        false
    })
}

/// Combines the name with the start of the content: `*.key` holding a
/// public key is not a secret; `.npmrc` is one only when it holds a token.
/// Full content scanning is the content scanner's job; this is called by
/// [`super::FileScanner`] with the first [`super::NAME_PREFIX`] bytes.
pub(super) fn secret_file(path: &ImagePath, content_prefix: &[u8]) -> Option<SecretHit> {
    for r in FILE_RULES {
        if !name_matches(&r.pattern, path) {
            continue;
        }
        let secret = match r.check {
            NameCheck::Always => true,
            NameCheck::UnlessPublic => {
                let t = content_prefix.trim_ascii_start();
                let public = t.starts_with(b"-----BEGIN PUBLIC KEY")
                    || t.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK")
                    || t.starts_with(b"-----BEGIN RSA PUBLIC KEY")
                    || t.starts_with(b"-----BEGIN CERTIFICATE")
                    || t.starts_with(b"ssh-")
                    // Binary OpenPGP public key packet (tag 6, old or new format).
                    || matches!(t.first(), Some(0x98 | 0x99 | 0xc6));
                !public
            }
            NameCheck::Content(markers) => markers.iter().any(|m| contains(content_prefix, m)),
            NameCheck::Assignments(judge) => has_assignment(content_prefix, judge),
            NameCheck::JsonFields(names) => has_json_field(content_prefix, names),
        };
        if secret {
            return Some(SecretHit {
                rule: "secret-file",
                description: r.why,
                offset: None,
                preview: format!("{} [REDACTED]", path.to_abs()),
                member: None,
            });
        }
    }
    None
}
