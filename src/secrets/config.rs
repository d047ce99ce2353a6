//! Secrets in strings that are not files: image-config values (`Cmd`,
//! `Entrypoint`, `Healthcheck`, labels, history, fields passed through from a
//! base config) and spec argv. One rule set for the spec check and SEC-003.

use super::SecretHit;
use super::env::{env_name_is_secret, env_var_secret};
use super::scanner::scan_content;

/// A `NAME=value`, `--name=value` or `-name=value` word, split, with the
/// name as an environment-variable-style key (`--db-password` → `DB_PASSWORD`).
fn assignment(word: &str) -> Option<(String, &str)> {
    let (k, v) = word.split_once('=')?;
    let k = k.trim_start_matches('-');
    let b = k.as_bytes();
    let ok = !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-');
    ok.then(|| (k.replace('-', "_"), v.trim_matches(['"', '\''])))
}

/// A flag that takes a secret as its next argument: `--password`, `-token`,
/// `--client-secret` (not `--password-file`, `--token-endpoint`).
fn secret_flag(word: &str, value: &str) -> bool {
    let Some(name) = word.strip_prefix('-') else {
        return false;
    };
    let name = name.trim_start_matches('-');
    !name.is_empty()
        && !name.contains('=')
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        && !value.starts_with('-')
        && !value.is_empty()
        && !super::names::placeholder_value(value)
        && env_name_is_secret(&name.replace('-', "_"), value)
}

/// The first argument of `argv` that carries a secret: a token format
/// anywhere in an argument, a `NAME=value` or `--name=value` whose name marks
/// a credential, or `--password VALUE`. Returns its index.
pub fn argv_secret<S: AsRef<str>>(argv: &[S]) -> Option<(usize, SecretHit)> {
    for (i, arg) in argv.iter().enumerate() {
        let arg = arg.as_ref();
        if let Some(h) = scan_content(arg.as_bytes()).into_iter().next() {
            return Some((i, SecretHit { offset: None, ..h }));
        }
        if let Some((k, v)) = assignment(arg)
            && !super::names::placeholder_value(v)
            && let Some(h) = env_var_secret(&k, v)
        {
            return Some((i, h));
        }
        if let Some(next) = argv.get(i + 1)
            && secret_flag(arg, next.as_ref())
        {
            return Some((
                i + 1,
                SecretHit {
                    rule: "argv-secret-flag",
                    description: "command-line flag whose name marks its value as a credential",
                    offset: None,
                    preview: format!("{arg} [REDACTED, {} bytes]", next.as_ref().len()),
                    member: None,
                },
            ));
        }
    }
    None
}

/// A string from an image config: `key` is the object member it is the
/// value of (a label name, `created_by`, an unknown field), if any. Judged
/// as a `key = value` pair and as a command line (its whitespace-separated
/// words), so `history[].created_by` = `ENV DB_PASSWORD=x` and a
/// `CMD-SHELL` health check with `--password x` are both caught.
pub fn config_string_secret(key: Option<&str>, value: &str) -> Option<SecretHit> {
    if let Some(k) = key
        && !super::names::placeholder_value(value)
        && let Some(h) = env_var_secret(k, value)
    {
        return Some(h);
    }
    let words: Vec<&str> = value.split_whitespace().collect();
    argv_secret(&words).map(|(_, h)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_rules() {
        let tok = format!("ghp_{}", "a".repeat(36));
        let secret: &[&[&str]] = &[
            &["/app", "--password", "hunter3x"],
            &["/app", "--db-password=s3cr3t-value"],
            &["/app", "-token", "abcdef123"],
            &["/app", "API_KEY=abc123456"],
            &["/app", &tok],
            &["/app", "https://bob:Zq9vLr27@git.corp.internal/repo.git"],
        ];
        for a in secret {
            assert!(argv_secret(a).is_some(), "{a:?}");
        }
        let fine: &[&[&str]] = &[
            &["/app", "--password-file", "/run/secrets/pw"],
            &["/app", "--token-endpoint", "https://auth.example.com"],
            &["/app", "--password", "${DB_PASSWORD}"],
            &["/app", "--password-stdin"],
            &["/app", "--listen=:8080", "--log-level=info"],
            &["/app", "--secret", "--verbose"],
            &["/app", "PASSWORD_MIN_LENGTH=12"],
        ];
        for a in fine {
            assert!(argv_secret(a).is_none(), "{a:?}: {:?}", argv_secret(a));
        }
    }

    #[test]
    fn config_strings() {
        assert!(config_string_secret(Some("created_by"), "ENV DB_PASSWORD=hunter3x").is_some());
        assert!(config_string_secret(Some("Password"), "s3cr3tvalue").is_some());
        assert!(config_string_secret(Some("created_by"), "RUN make install").is_none());
        assert!(config_string_secret(None, "/app --port 8080").is_none());
    }
}
