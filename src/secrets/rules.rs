//! The content rules: provider tokens and key formats, each with cheap
//! keywords (found by one automaton, see `scanner`) and a precise matcher that
//! only runs where a keyword occurs.

use super::keys;
use super::urls;

/// How many bytes after a keyword a matcher may look at. Bounded so that the
/// streaming scanner needs only a fixed overlap between chunks.
pub(super) const LOOKAHEAD: usize = 1024;
/// Bytes before a keyword a matcher may look at (word-boundary checks).
pub(super) const LOOKBEHIND: usize = 1;
/// Hard cap on findings per scan, so hostile content cannot blow up memory.
pub(super) const MAX_HITS: usize = 256;
/// Size of the pieces the scanner copies into its window.
pub(super) const PIECE: usize = 64 * 1024;

/// A matcher gets the window starting at the keyword (at most LOOKAHEAD bytes,
/// fewer at the end of input), the keyword that hit, and the byte before the
/// keyword (if any). It returns the length of the secret-bearing match, which
/// is only used for the preview's length.
pub(super) type Matcher = fn(window: &[u8], keyword: &[u8], before: Option<u8>) -> Option<usize>;

pub(super) struct Rule {
    pub(super) id: &'static str,
    pub(super) description: &'static str,
    pub(super) keywords: &'static [&'static [u8]],
    pub(super) matcher: Matcher,
}

pub(super) const RULES: &[Rule] = &[
    Rule {
        id: "private-key",
        description: "PEM/OpenSSH/PGP private key",
        // Also JSON-escaped: `\u002d` is `-`.
        keywords: &[b"-----BEGIN ", b"\\u002d\\u002d", b"\\u002D\\u002D"],
        matcher: keys::match_private_key,
    },
    Rule {
        id: "private-key-base64",
        description: "base64-wrapped PEM private key (Kubernetes Secret data, kubeconfig client-key-data)",
        // base64("-----BEGIN ") without its last, partial character.
        keywords: &[b"LS0tLS1CRUdJTi"],
        matcher: keys::match_base64_pem,
    },
    Rule {
        id: "putty-private-key",
        description: "PuTTY private key (.ppk)",
        keywords: &[b"PuTTY-User-Key-File-"],
        matcher: keys::match_putty,
    },
    Rule {
        id: "age-secret-key",
        description: "age secret key (identity)",
        keywords: &[b"AGE-SECRET-KEY-1"],
        matcher: keys::match_age,
    },
    Rule {
        id: "der-private-key",
        description: "DER PKCS#8 private key (binary)",
        // version INTEGER 0 or 1, then the AlgorithmIdentifier SEQUENCE.
        keywords: &[b"\x02\x01\x00\x30", b"\x02\x01\x01\x30"],
        matcher: keys::match_der_pkcs8,
    },
    Rule {
        id: "der-rsa-private-key",
        description: "DER PKCS#1 RSA private key (binary)",
        // version INTEGER 0, then the modulus INTEGER (long form length).
        keywords: &[b"\x02\x01\x00\x02\x81", b"\x02\x01\x00\x02\x82"],
        matcher: keys::match_der_rsa,
    },
    Rule {
        id: "der-ec-private-key",
        description: "DER SEC1 EC private key (binary)",
        // version INTEGER 1, then the private key OCTET STRING.
        keywords: &[b"\x02\x01\x01\x04"],
        matcher: keys::match_der_ec,
    },
    Rule {
        id: "url-credentials",
        description: "password in a URL (user:password@host, as in .git-credentials)",
        keywords: &[b"://"],
        matcher: urls::match_url_credentials,
    },
    Rule {
        id: "aws-access-key-id",
        description: "AWS access key id",
        keywords: &[b"AKIA", b"ASIA"],
        matcher: match_aws_key_id,
    },
    Rule {
        id: "aws-secret-access-key",
        description: "AWS secret access key",
        keywords: &[
            b"aws_secret_access_key",
            b"AWS_SECRET_ACCESS_KEY",
            b"SecretAccessKey",
        ],
        matcher: match_aws_secret,
    },
    Rule {
        id: "github-token",
        description: "GitHub token",
        keywords: &[b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_"],
        matcher: match_github,
    },
    Rule {
        id: "gitlab-token",
        description: "GitLab personal access token",
        keywords: &[b"glpat-"],
        matcher: match_gitlab,
    },
    Rule {
        id: "slack-token",
        description: "Slack API token",
        keywords: &[b"xoxb-", b"xoxp-", b"xoxa-", b"xoxr-", b"xoxs-"],
        matcher: match_slack_token,
    },
    Rule {
        id: "slack-webhook",
        description: "Slack incoming webhook URL",
        keywords: &[b"hooks.slack.com/services/"],
        matcher: match_slack_webhook,
    },
    Rule {
        id: "stripe-key",
        description: "Stripe live secret or restricted key",
        keywords: &[b"sk_live_", b"rk_live_"],
        matcher: match_stripe,
    },
    Rule {
        id: "gcp-service-account",
        description: "Google Cloud service-account key (JSON with a private key)",
        keywords: &[b"\"private_key\""],
        matcher: match_gcp_private_key_field,
    },
    Rule {
        id: "npm-token",
        description: "npm access token",
        keywords: &[b"npm_", b"_authToken="],
        matcher: match_npm,
    },
    Rule {
        id: "docker-config-auth",
        description: "Docker registry credentials (config.json \"auth\")",
        keywords: &[b"\"auth\""],
        matcher: match_docker_auth,
    },
    Rule {
        id: "pypi-token",
        description: "PyPI API token",
        keywords: &[b"pypi-AgEI"],
        matcher: match_pypi,
    },
    Rule {
        id: "google-api-key",
        description: "Google API key",
        keywords: &[b"AIza"],
        matcher: match_google_api_key,
    },
    Rule {
        id: "jwt",
        description: "JSON Web Token (signed bearer credential)",
        keywords: &[b"eyJhbGciOi"],
        matcher: match_jwt,
    },
];

/// Index of the GCP rule, whose finding needs a second, file-level condition
/// (`"type": "service_account"`) that is tracked by the scanner.
pub(super) const GCP_RULE: &str = "gcp-service-account";
pub(super) const GCP_TYPE_KEYWORD: &[u8] = b"\"service_account\"";

pub(super) fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

pub(super) fn count_while(s: &[u8], f: impl Fn(u8) -> bool) -> usize {
    s.iter().take_while(|b| f(**b)).count()
}

/// True if `b` (the byte before a keyword) starts a new token: a keyword glued
/// to a preceding alphanumeric is part of some other word.
pub(super) fn boundary_before(b: Option<u8>) -> bool {
    !b.is_some_and(|b| is_alnum(b) || b == b'_')
}

fn token_char(b: u8) -> bool {
    is_alnum(b) || b == b'_' || b == b'-'
}

/// Skips spaces/tabs, an optional closing quote of a key, then `=` or `:`,
/// then spaces and an optional opening quote; returns the index after them.
fn skip_assignment(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    let ws = |b: u8| b == b' ' || b == b'\t';
    if s.first() == Some(&b'"') || s.first() == Some(&b'\'') {
        i += 1;
    }
    i += count_while(&s[i.min(s.len())..], ws);
    match s.get(i) {
        Some(b'=') | Some(b':') => i += 1,
        _ => return None,
    }
    i += count_while(&s[i.min(s.len())..], ws);
    if matches!(s.get(i), Some(b'"') | Some(b'\'')) {
        i += 1;
    }
    Some(i)
}

fn match_aws_key_id(w: &[u8], kw: &[u8], before: Option<u8>) -> Option<usize> {
    if !boundary_before(before) {
        return None;
    }
    let rest = &w[kw.len()..];
    let n = count_while(rest, |b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if n != 16 {
        return None;
    }
    // AWS's documentation example key appears in every SDK; not a credential.
    if rest[..n].ends_with(b"EXAMPLE") {
        return None;
    }
    Some(kw.len() + n)
}

fn match_aws_secret(w: &[u8], kw: &[u8], before: Option<u8>) -> Option<usize> {
    if !boundary_before(before) {
        return None;
    }
    let rest = &w[kw.len()..];
    let i = skip_assignment(rest)?;
    let val = &rest[i..];
    let n = count_while(val, |b| is_alnum(b) || b == b'/' || b == b'+');
    if n != 40 || val[..n].windows(7).any(|x| x == b"EXAMPLE") {
        return None;
    }
    Some(kw.len() + i + n)
}

fn match_github(w: &[u8], kw: &[u8], before: Option<u8>) -> Option<usize> {
    if !boundary_before(before) {
        return None;
    }
    let rest = &w[kw.len()..];
    if kw == b"github_pat_" {
        let n = count_while(rest, |b| is_alnum(b) || b == b'_');
        (n >= 50).then_some(kw.len() + n)
    } else {
        let n = count_while(rest, is_alnum);
        (36..=255).contains(&n).then_some(kw.len() + n)
    }
}

fn match_gitlab(w: &[u8], kw: &[u8], before: Option<u8>) -> Option<usize> {
    if !boundary_before(before) {
        return None;
    }
    let n = count_while(&w[kw.len()..], token_char);
    (n >= 20).then_some(kw.len() + n)
}

fn match_slack_token(w: &[u8], kw: &[u8], before: Option<u8>) -> Option<usize> {
    if !boundary_before(before) {
        return None;
    }
    let rest = &w[kw.len()..];
    // xoxb-<digits>-<digits>-<alnum>; require a leading digit group so that
    // documentation placeholders like "xoxb-your-token" do not match.
    let digits = count_while(rest, |b| b.is_ascii_digit());
    if digits < 6 {
        return None;
    }
    let n = count_while(rest, |b| is_alnum(b) || b == b'-');
    (n >= 20).then_some(kw.len() + n)
}

fn match_slack_webhook(w: &[u8], kw: &[u8], _before: Option<u8>) -> Option<usize> {
    let rest = &w[kw.len()..];
    let parts: Vec<&[u8]> = rest.splitn(4, |b| *b == b'/').take(3).collect();
    if parts.len() != 3 {
        return None;
    }
    let up = |p: &[u8]| {
        p.len() >= 8
            && p.iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    };
    let last = count_while(parts[2], is_alnum);
    if parts[0].first() == Some(&b'T')
        && up(parts[0])
        && parts[1].first() == Some(&b'B')
        && up(parts[1])
        && last >= 20
    {
        Some(kw.len() + parts[0].len() + parts[1].len() + 2 + last)
    } else {
        None
    }
}

fn match_stripe(w: &[u8], kw: &[u8], before: Option<u8>) -> Option<usize> {
    if !boundary_before(before) {
        return None;
    }
    let n = count_while(&w[kw.len()..], is_alnum);
    (n >= 20).then_some(kw.len() + n)
}

fn match_gcp_private_key_field(w: &[u8], kw: &[u8], _before: Option<u8>) -> Option<usize> {
    let rest = &w[kw.len()..];
    let i = skip_assignment(rest)?;
    rest[i..].starts_with(b"-----BEGIN").then_some(kw.len() + i)
}

fn match_npm(w: &[u8], kw: &[u8], before: Option<u8>) -> Option<usize> {
    let rest = &w[kw.len()..];
    if kw == b"npm_" {
        if !boundary_before(before) {
            return None;
        }
        let n = count_while(rest, is_alnum);
        return (n == 36).then_some(kw.len() + n);
    }
    // _authToken=VALUE; a `${NPM_TOKEN}` reference is the safe pattern.
    let quote = matches!(rest.first(), Some(b'"') | Some(b'\''));
    let val = if quote { &rest[1..] } else { rest };
    if val.starts_with(b"${") {
        return None;
    }
    let n = count_while(val, |b| b > b' ' && b != b'"' && b != b'\'' && b < 0x7f);
    (n >= 8).then_some(kw.len() + n)
}

fn match_docker_auth(w: &[u8], kw: &[u8], _before: Option<u8>) -> Option<usize> {
    use base64::Engine as _;
    let rest = &w[kw.len()..];
    let ws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut i = count_while(rest, ws);
    if rest.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    i += count_while(&rest[i..], ws);
    if rest.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    let n = count_while(&rest[i..], |b| {
        is_alnum(b) || b == b'+' || b == b'/' || b == b'='
    });
    if rest.get(i + n) != Some(&b'"') || n < 8 {
        return None;
    }
    // Confirm it decodes to `user:password`; otherwise it is some other "auth".
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&rest[i..i + n])
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    (colon > 0 && colon + 1 < decoded.len()).then_some(kw.len() + i + n)
}

fn match_pypi(w: &[u8], kw: &[u8], before: Option<u8>) -> Option<usize> {
    if !boundary_before(before) {
        return None;
    }
    let n = count_while(&w[kw.len()..], token_char);
    (n >= 50).then_some(kw.len() + n)
}

fn match_google_api_key(w: &[u8], kw: &[u8], before: Option<u8>) -> Option<usize> {
    if !boundary_before(before) {
        return None;
    }
    let n = count_while(&w[kw.len()..], token_char);
    (n == 35).then_some(kw.len() + n)
}

fn match_jwt(w: &[u8], _kw: &[u8], before: Option<u8>) -> Option<usize> {
    if !boundary_before(before) {
        return None;
    }
    let b64u = |b: u8| is_alnum(b) || b == b'-' || b == b'_';
    let h = count_while(w, b64u);
    if w.get(h) != Some(&b'.') {
        return None;
    }
    let p_start = h + 1;
    let p = count_while(&w[p_start..], b64u);
    if p < 10 || !w[p_start..].starts_with(b"eyJ") || w.get(p_start + p) != Some(&b'.') {
        return None;
    }
    let s_start = p_start + p + 1;
    let s = count_while(&w[s_start..], b64u);
    (s >= 16).then_some(s_start + s)
}
