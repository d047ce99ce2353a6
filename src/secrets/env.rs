//! Environment variables (and other name = value pairs: labels, config
//! fields, `--flag=value` arguments): is this pair a credential?

use super::SecretHit;
use super::scanner::scan_content;

/// Decides whether an environment variable carries a credential.
///
/// A variable is a secret when its *value* matches a known token format (see
/// [`scan_content`]), whatever the name, or when its *name* says so. Names are
/// split into `_`-separated words, and judged by their LAST word, because
/// that is the noun: `DB_PASSWORD`, `GITHUB_TOKEN`, `CLIENT_SECRET`,
/// `GOOGLE_CREDENTIALS`, `STRIPE_APIKEY`, `DBPASSWORD`, `AUTHTOKEN` and any
/// `*_KEY` are secrets, while `PASSWORD_MIN_LENGTH`, `TOKEN_ENDPOINT` and
/// `TOKENIZERS_PARALLELISM` are settings *about* a secret and are fine. The
/// compounds API_KEY, PRIVATE_KEY, ACCESS_KEY, SECRET_KEY count anywhere in
/// the name (`AWS_ACCESS_KEY_ID`, `SECRET_KEY_BASE`).
///
/// Deliberate exceptions, because they hold no secret:
/// - an empty value (a placeholder that the runtime fills in);
/// - a name ending in `_FILE`, `_PATH` or `_DIR` whose value is an absolute
///   path, e.g. `PASSWORD_FILE=/run/secrets/db`: that is the recommended way to
///   *reference* a secret mounted at runtime. With any other value the suffix
///   is ignored and the rest of the name is judged (`PASSWORD_FILE=hunter2`
///   is a secret);
/// - names containing `PUBLIC` (`JWT_PUBLIC_KEY`): public keys are not secret;
/// - a bare `KEY` (too generic to mean anything);
/// - an OpenPGP key named by fingerprint: a `GPG` or `PGP` name whose value
///   is only 40-hex fingerprints (or 16-hex key ids), space or comma
///   separated. The Docker official images set `GPG_KEY` (python) and
///   `GPG_KEYS` (php, httpd) that way, to verify their source tarballs; a
///   fingerprint identifies a public key and unlocks nothing.
///
/// The value's token-format check still runs for the exceptions above, so
/// `DB_PATH=ghp_…` is caught.
pub fn env_var_secret(key: &str, value: &str) -> Option<SecretHit> {
    if value.is_empty() {
        return None;
    }
    if let Some(hit) = scan_content(value.as_bytes()).into_iter().next() {
        return Some(SecretHit {
            offset: None,
            ..hit
        });
    }
    if env_name_is_secret(key, value) {
        return Some(SecretHit {
            rule: "env-secret-name",
            description: "environment variable whose name marks it as a credential",
            offset: None,
            preview: format!("{key}=[REDACTED, {} bytes]", value.len()),
            member: None,
        });
    }
    None
}

pub(super) fn env_name_is_secret(key: &str, value: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    if upper.contains("PUBLIC") {
        return false;
    }
    if (upper.contains("GPG") || upper.contains("PGP")) && is_fingerprint_list(value) {
        return false;
    }
    let mut words: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(last) = words.last()
        && matches!(*last, "FILE" | "PATH" | "DIR")
    {
        if value.starts_with('/') {
            return false;
        }
        words.pop();
    }
    let compound = ["API_KEY", "PRIVATE_KEY", "ACCESS_KEY", "SECRET_KEY"]
        .iter()
        .any(|c| upper.contains(c));
    let Some(last) = words.last() else {
        return compound;
    };
    let noun = [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "APIKEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|n| last.ends_with(n) || last.strip_suffix('S').is_some_and(|l| l.ends_with(n)));
    let key_suffix = matches!(*last, "KEY" | "KEYS") && words.len() > 1;
    compound || noun || key_suffix
}

/// True for `"A035C8C19219BA821ECEA86B64E628F8D684696D 7169605F62C751356D054A26A821E680E5FA6305"`:
/// OpenPGP fingerprints (40 hex digits, v4) or long key ids (16), and
/// nothing else.
fn is_fingerprint_list(value: &str) -> bool {
    let mut any = false;
    for w in value.split([' ', ',', '\t']) {
        if w.is_empty() {
            continue;
        }
        let w = w.strip_prefix("0x").unwrap_or(w);
        if !matches!(w.len(), 16 | 40) || !w.bytes().all(|b| b.is_ascii_hexdigit()) {
            return false;
        }
        any = true;
    }
    any
}
