//! One secret detector shared by the spec (env, labels), the artifact intake
//! and the policy engine, so that "is this a secret?" has exactly one answer
//! everywhere in ironhull.
//!
//! Three entry points:
//! - [`env_var_secret`]: an environment variable (name + value) from a spec or
//!   an image config.
//! - [`scan_content`] / [`ContentScanner`]: file contents, including binaries
//!   of hundreds of megabytes. Every rule has cheap keywords; the precise
//!   matcher only runs where a keyword occurs, so a scan is one pass over the
//!   bytes with a first-byte lookup table. Works on arbitrary (non-UTF-8) data.
//! - [`secret_file_name`] / [`secret_file`]: file names that are secrets by
//!   nature (`id_rsa`, `.aws/credentials`, …), refined by content where the
//!   name alone is not evidence (`.npmrc`, `*.pem`, …).
//!
//! Findings never contain the secret: [`SecretHit::preview`] only shows the
//! public, fixed prefix of the format (e.g. `ghp_`) and a length.

use crate::fs::ImagePath;

/// One detected secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretHit {
    /// Stable rule id, e.g. `github-token`.
    pub rule: &'static str,
    /// What the rule detects, for humans.
    pub description: &'static str,
    /// Byte offset of the match in the scanned content (None for name or
    /// env-key based findings).
    pub offset: Option<u64>,
    /// A redacted preview: the format's public prefix and the length; never the
    /// secret itself.
    pub preview: String,
}

// ---------------------------------------------------------------------------
// Environment variables
// ---------------------------------------------------------------------------

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
/// - a bare `KEY` (too generic to mean anything).
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
        });
    }
    None
}

fn env_name_is_secret(key: &str, value: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    if upper.contains("PUBLIC") {
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

// ---------------------------------------------------------------------------
// Content rules
// ---------------------------------------------------------------------------

/// How many bytes after a keyword a matcher may look at. Bounded so that the
/// streaming scanner needs only a fixed overlap between chunks.
const LOOKAHEAD: usize = 1024;
/// Bytes before a keyword a matcher may look at (word-boundary checks).
const LOOKBEHIND: usize = 1;
/// Hard cap on findings per scan, so hostile content cannot blow up memory.
const MAX_HITS: usize = 256;
/// Size of the pieces the scanner copies into its window.
const PIECE: usize = 64 * 1024;

/// A matcher gets the window starting at the keyword (at most LOOKAHEAD bytes,
/// fewer at the end of input), the keyword that hit, and the byte before the
/// keyword (if any). It returns the length of the secret-bearing match, which
/// is only used for the preview's length.
type Matcher = fn(window: &[u8], keyword: &[u8], before: Option<u8>) -> Option<usize>;

struct Rule {
    id: &'static str,
    description: &'static str,
    keywords: &'static [&'static [u8]],
    matcher: Matcher,
}

const RULES: &[Rule] = &[
    Rule {
        id: "private-key",
        description: "PEM/OpenSSH/PGP private key",
        keywords: &[b"-----BEGIN "],
        matcher: match_private_key,
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
const GCP_RULE: &str = "gcp-service-account";
const GCP_TYPE_KEYWORD: &[u8] = b"\"service_account\"";

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn count_while(s: &[u8], f: impl Fn(u8) -> bool) -> usize {
    s.iter().take_while(|b| f(**b)).count()
}

/// True if `b` (the byte before a keyword) starts a new token: a keyword glued
/// to a preceding alphanumeric is part of some other word.
fn boundary_before(b: Option<u8>) -> bool {
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

fn match_private_key(w: &[u8], kw: &[u8], _before: Option<u8>) -> Option<usize> {
    let rest = &w[kw.len()..];
    // Label: uppercase words, e.g. "RSA PRIVATE KEY", "PRIVATE KEY",
    // "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK".
    let label_len = count_while(rest, |b| {
        b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit()
    });
    let label = &rest[..label_len];
    if !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK")) {
        return None;
    }
    let after = &rest[label_len..];
    let after = after.strip_prefix(b"-----")?;
    // Require a body: a newline (real or JSON-escaped) followed by base64 or
    // PEM headers. A bare header string is just a parser constant in some
    // binary (OpenSSL, Go's crypto), not a key.
    let body = after
        .strip_prefix(b"\r\n")
        .or_else(|| after.strip_prefix(b"\n"))
        .or_else(|| after.strip_prefix(b"\\n"))?;
    // Armored PGP blocks may have a blank line before the body.
    let body = &body[count_while(body, |b| b == b'\r' || b == b'\n')..];
    let is_headers = body.starts_with(b"Proc-Type:")
        || body.starts_with(b"Version:")
        || body.starts_with(b"Comment:");
    let b64 = count_while(body, |b| is_alnum(b) || b == b'+' || b == b'/' || b == b'=');
    if is_headers || b64 >= 32 {
        Some(kw.len() + label_len + 5)
    } else {
        None
    }
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

fn preview(kw: &[u8], len: usize) -> String {
    // Keywords are fixed, public format markers; the bytes after them are not
    // shown. For context keywords (`aws_secret_access_key`) this shows the key
    // name, which is not secret either.
    let kw = String::from_utf8_lossy(kw);
    format!("{kw}… [REDACTED, {len} bytes]")
}

/// Scans a whole buffer for secrets. Equivalent to feeding it to a
/// [`ContentScanner`] in one go.
pub fn scan_content(bytes: &[u8]) -> Vec<SecretHit> {
    let mut s = ContentScanner::new();
    s.feed(bytes);
    s.finish()
}

/// Every rule keyword in one automaton, so the scanner finds candidates at
/// memory speed (aho-corasick's SIMD prefilter) instead of testing each byte;
/// `by_first_byte[b]` lists the (rule index, keyword) pairs whose keyword
/// starts with `b`, with `usize::MAX` for the GCP `"service_account"` marker.
struct Keywords {
    automaton: aho_corasick::AhoCorasick,
    by_first_byte: Vec<Vec<(usize, &'static [u8])>>,
    longest: usize,
}

fn keywords() -> &'static Keywords {
    static KEYWORDS: std::sync::OnceLock<Keywords> = std::sync::OnceLock::new();
    KEYWORDS.get_or_init(|| {
        let mut patterns: Vec<(usize, &'static [u8])> = Vec::new();
        for (i, r) in RULES.iter().enumerate() {
            for kw in r.keywords {
                patterns.push((i, *kw));
            }
        }
        patterns.push((usize::MAX, GCP_TYPE_KEYWORD));
        let longest = patterns.iter().map(|(_, k)| k.len()).max().unwrap_or(0);
        // The keyword set is a constant of this file, so building can only
        // fail if a keyword is made invalid by an edit; the unit tests build
        // it on every run. Falling back to an empty automaton would silently
        // disable the scan, so this is the one place that panics on a bug.
        let automaton = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(patterns.iter().map(|(_, k)| *k))
            .expect("secret keywords form a valid automaton");
        let mut by_first_byte: Vec<Vec<(usize, &'static [u8])>> = vec![Vec::new(); 256];
        for &(ri, kw) in &patterns {
            if let Some(&b) = kw.first() {
                by_first_byte[usize::from(b)].push((ri, kw));
            }
        }
        Keywords {
            automaton,
            by_first_byte,
            longest,
        }
    })
}

/// Streaming secret scanner with bounded memory: it keeps a window of at most
/// one piece (64 KiB) plus a `LOOKAHEAD` overlap, so matches that straddle
/// chunk borders are found and no chunk size makes it buffer a whole file.
pub struct ContentScanner {
    /// Bytes not yet fully scanned, plus `LOOKBEHIND` bytes of context.
    buf: Vec<u8>,
    /// Absolute offset of `buf[0]`.
    base: u64,
    /// Index in `buf` of the next position to scan.
    pos: usize,
    hits: Vec<SecretHit>,
    /// Offset of a `"private_key": "-----BEGIN` field, held until we know
    /// whether this is a GCP service-account file.
    gcp_key_at: Option<(u64, usize)>,
    gcp_type_seen: bool,
}

impl Default for ContentScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl ContentScanner {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(PIECE + LOOKAHEAD + LOOKBEHIND),
            base: 0,
            pos: 0,
            hits: Vec::new(),
            gcp_key_at: None,
            gcp_type_seen: false,
        }
    }

    /// Feeds the next chunk of content.
    pub fn feed(&mut self, chunk: &[u8]) {
        for piece in chunk.chunks(PIECE) {
            self.buf.extend_from_slice(piece);
            let limit = self.buf.len().saturating_sub(LOOKAHEAD);
            self.scan_until(limit);
            self.compact();
        }
    }

    /// Scans the remaining bytes and returns all findings.
    pub fn finish(mut self) -> Vec<SecretHit> {
        let end = self.buf.len();
        self.scan_until(end);
        if let (Some((off, len)), true) = (self.gcp_key_at, self.gcp_type_seen)
            && let Some(rule) = RULES.iter().find(|r| r.id == GCP_RULE)
        {
            self.push(SecretHit {
                rule: rule.id,
                description: rule.description,
                offset: Some(off),
                preview: preview(b"\"private_key\"", len),
            });
        }
        self.hits
    }

    fn push(&mut self, hit: SecretHit) {
        if self.hits.len() < MAX_HITS {
            self.hits.push(hit);
        }
    }

    fn scan_until(&mut self, limit: usize) {
        let keywords = keywords();
        // Candidates must start before `limit`; their keyword may end up to
        // the longest keyword past it.
        let hay_end = (limit + keywords.longest).min(self.buf.len());
        while self.pos < limit {
            // The automaton only says where the next keyword starts
            // (leftmost-first, so no earlier start is skipped); every
            // keyword at that position is then checked, as before.
            let input = aho_corasick::Input::new(&self.buf[..hay_end]).span(self.pos..hay_end);
            let Some(m) = keywords.automaton.find(input) else {
                self.pos = limit;
                break;
            };
            let p = m.start();
            if p >= limit {
                self.pos = limit;
                break;
            }
            self.pos = p + 1;
            self.scan_at(p, keywords);
        }
    }

    /// Runs every rule whose keyword starts at `p`.
    fn scan_at(&mut self, p: usize, keywords: &Keywords) {
        let Some(first) = self.buf.get(p) else { return };
        let before = p.checked_sub(1).map(|i| self.buf[i]);
        let end = (p + LOOKAHEAD).min(self.buf.len());
        let mut found: Vec<SecretHit> = Vec::new();
        for &(ri, kw) in &keywords.by_first_byte[usize::from(*first)] {
            let window = &self.buf[p..end];
            if !window.starts_with(kw) {
                continue;
            }
            if ri == usize::MAX {
                self.gcp_type_seen = true;
                continue;
            }
            let Some(rule) = RULES.get(ri) else { continue };
            let Some(len) = (rule.matcher)(window, kw, before) else {
                continue;
            };
            if rule.id == GCP_RULE {
                if self.gcp_key_at.is_none() {
                    self.gcp_key_at = Some((self.base + p as u64, len));
                }
            } else {
                found.push(SecretHit {
                    rule: rule.id,
                    description: rule.description,
                    offset: Some(self.base + p as u64),
                    preview: preview(kw, len),
                });
            }
        }
        for h in found {
            self.push(h);
        }
    }

    /// Drops scanned bytes, keeping `LOOKBEHIND` bytes of context.
    fn compact(&mut self) {
        let drop = self.pos.saturating_sub(LOOKBEHIND);
        if drop > 0 {
            self.buf.drain(..drop);
            self.base += drop as u64;
            self.pos -= drop;
        }
    }
}

// ---------------------------------------------------------------------------
// File names
// ---------------------------------------------------------------------------

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
        check: NameCheck::Content(&[b"_authToken", b"_auth", b"_password"]),
    },
    FileRule {
        pattern: NamePattern::Name(".pypirc"),
        why: ".pypirc holding a password or token",
        check: NameCheck::Content(&[b"password", b"pypi-AgEI"]),
    },
    FileRule {
        pattern: NamePattern::Tail(".docker", "config.json"),
        why: "Docker config.json holding registry credentials",
        check: NameCheck::Content(&[b"\"auth\"", b"identitytoken"]),
    },
    FileRule {
        pattern: NamePattern::Name("credentials.json"),
        why: "credentials.json holding a private key or client secret",
        check: NameCheck::Content(&[
            b"\"private_key\"",
            b"\"client_secret\"",
            b"\"refresh_token\"",
        ]),
    },
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
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Combines the name with the start of the content (a few KiB is enough):
/// `*.key` holding a public key is not a secret; `.npmrc` is one only when it
/// holds a token. Full content scanning is [`scan_content`]'s job.
pub fn secret_file(path: &ImagePath, content_prefix: &[u8]) -> Option<SecretHit> {
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
        };
        if secret {
            return Some(SecretHit {
                rule: "secret-file",
                description: r.why,
                offset: None,
                preview: format!("{} [REDACTED]", path.to_abs()),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(data: &[u8]) -> Vec<&'static str> {
        scan_content(data).into_iter().map(|h| h.rule).collect()
    }

    const PEM_BODY: &str = "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n";

    #[test]
    fn content_true_positives() {
        let cases: Vec<(String, &str)> = vec![
            (format!("-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}"), "private-key"),
            (format!("-----BEGIN PRIVATE KEY-----\r\n{PEM_BODY}"), "private-key"),
            (format!("-----BEGIN EC PRIVATE KEY-----\n{PEM_BODY}"), "private-key"),
            (format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}"), "private-key"),
            ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n".into(), "private-key"),
            (format!("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{PEM_BODY}"), "private-key"),
            ("key=AKIAABCDEFGHIJKLMNOP\n".into(), "aws-access-key-id"),
            ("ASIAZZZZZZZZZZZZZZZZ".into(), "aws-access-key-id"),
            ("aws_secret_access_key = abcdABCD0123456789abcdABCD0123456789/+xy\n".into(), "aws-secret-access-key"),
            ("\"SecretAccessKey\": \"abcdABCD0123456789abcdABCD0123456789/+xy\"".into(), "aws-secret-access-key"),
            (format!("token ghp_{}", "a1B2".repeat(9)), "github-token"),
            (format!("ghs_{}", "Z".repeat(36)), "github-token"),
            (format!("github_pat_{}", "A1_b".repeat(20)), "github-token"),
            ("glpat-abcdefghij0123456789".into(), "gitlab-token"),
            ("xoxb-123456789012-1234567890123-abcdefABCDEF".into(), "slack-token"),
            ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX".into(), "slack-webhook"),
            ("sk_live_abcdefghij0123456789ABCD".into(), "stripe-key"),
            (format!("//registry.npmjs.org/:_authToken=npm_{}", "x".repeat(36)), "npm-token"),
            ("//registry.example.com/:_authToken=abcdef0123456789".into(), "npm-token"),
            ("{\"auths\":{\"r.io\":{\"auth\": \"dXNlcjpwYXNzd29yZA==\"}}}".into(), "docker-config-auth"),
            (format!("pypi-AgEIcHlwaS5vcmc{}", "A".repeat(60)), "pypi-token"),
            (format!("key: AIza{}", "B".repeat(35)), "google-api-key"),
            ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U".into(), "jwt"),
        ];
        for (data, rule) in cases {
            let got = rules(data.as_bytes());
            assert!(got.contains(&rule), "{rule} not found in {data:?}: {got:?}");
        }
    }

    #[test]
    fn content_true_negatives() {
        let ca_bundle = "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----\n";
        let cases: Vec<Vec<u8>> = vec![
            ca_bundle.into(),
            b"Usage: app --password <PASSWORD>  read the password from stdin\0\x7fELF".to_vec(),
            // A header constant inside a binary, without a key body.
            b"\0-----BEGIN RSA PRIVATE KEY-----\0-----END RSA PRIVATE KEY-----\0".to_vec(),
            b"-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n".to_vec(),
            b"AKIAIOSFODNN7EXAMPLE".to_vec(),
            b"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_vec(),
            b"XAKIAABCDEFGHIJKLMNOP".to_vec(),
            b"ghp_short".to_vec(),
            b"xoxb-your-token-here-please-replace".to_vec(),
            b"//registry.npmjs.org/:_authToken=${NPM_TOKEN}".to_vec(),
            b"\"auth\": \"bearer\"".to_vec(),
            b"\"auth\": \"bm9jb2xvbmhlcmU=\"".to_vec(), // "nocolonhere"
            b"sk_test_abcdefghij0123456789ABCD".to_vec(),
            b"{\"private_key_id\": \"x\"}".to_vec(),
            vec![0xff, 0xfe, 0x00, 0x80, b'A', b'K', b'I', b'A'],
            Vec::new(),
        ];
        for data in cases {
            let got = rules(&data);
            assert!(
                got.is_empty(),
                "false positive in {:?}: {got:?}",
                String::from_utf8_lossy(&data)
            );
        }
    }

    #[test]
    fn gcp_service_account_needs_both_fields() {
        let sa = format!(
            "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"p\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n\"\n}}",
            PEM_BODY.trim()
        );
        let got = rules(sa.as_bytes());
        assert!(got.contains(&"gcp-service-account"), "{got:?}");
        assert!(got.contains(&"private-key"), "{got:?}");
        let not_sa = sa.replace("service_account", "authorized_user");
        assert!(!rules(not_sa.as_bytes()).contains(&"gcp-service-account"));
    }

    #[test]
    fn preview_never_contains_secret_and_offset_is_right() {
        let tok = format!("ghp_{}", "Q9".repeat(18));
        let data = format!("012345678 {tok}");
        let hits = scan_content(data.as_bytes());
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].offset, Some(10));
        assert!(!hits[0].preview.contains("Q9Q9"), "{}", hits[0].preview);
        assert!(hits[0].preview.starts_with("ghp_"));
    }

    #[test]
    fn streaming_finds_matches_across_every_split() {
        let tok = format!("ghp_{}", "k".repeat(36));
        let pem = format!("-----BEGIN EC PRIVATE KEY-----\n{PEM_BODY}");
        let data = format!("{}={tok}\n{}{pem}", "x".repeat(100), "\0".repeat(50));
        let whole = scan_content(data.as_bytes());
        assert_eq!(whole.len(), 2);
        for split in 0..data.len() {
            let mut s = ContentScanner::new();
            s.feed(&data.as_bytes()[..split]);
            s.feed(&data.as_bytes()[split..]);
            assert_eq!(s.finish(), whole, "split at {split}");
        }
        // Byte-by-byte feeding too.
        let mut s = ContentScanner::new();
        for b in data.as_bytes() {
            s.feed(std::slice::from_ref(b));
        }
        assert_eq!(s.finish(), whole);
    }

    #[test]
    fn streaming_large_input_bounded_buffer_and_offsets() {
        let mut s = ContentScanner::new();
        let junk = vec![b'a'; 1 << 20];
        for _ in 0..8 {
            s.feed(&junk);
            assert!(s.buf.len() <= PIECE + LOOKAHEAD + LOOKBEHIND);
        }
        s.feed(b" AKIAABCDEFGHIJKLMNOP ");
        let hits = s.finish();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].offset, Some((8u64 << 20) + 1));
    }

    #[test]
    fn hits_are_capped() {
        let data = "AKIAABCDEFGHIJKLMNOP ".repeat(MAX_HITS * 2);
        assert_eq!(scan_content(data.as_bytes()).len(), MAX_HITS);
    }

    #[test]
    fn env_vars() {
        let secret = [
            ("DB_PASSWORD", "hunter2"),
            ("MYSQL_ROOT_PASSWD", "x"),
            ("CLIENT_SECRET", "x"),
            ("GITHUB_TOKEN", "x"),
            ("AUTHTOKEN", "x"),
            ("api_key", "x"),
            ("STRIPE_APIKEY", "x"),
            ("SSH_PRIVATE_KEY", "x"),
            ("AWS_ACCESS_KEY_ID", "AKIAABCDEFGHIJKLMNOP"),
            ("GOOGLE_CREDENTIALS", "x"),
            ("SIGNING_KEY", "x"),
            ("SECRET_KEY_BASE", "x"),
            ("DBPASSWORD", "x"),
            ("OAUTH_CLIENT_SECRETS", "x"),
            // Name harmless, value a token.
            ("GREETING", "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ("DB_PATH", "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            // A relative "file" is not a reference to a mounted secret.
            ("PASSWORD_FILE", "hunter2"),
        ];
        for (k, v) in secret {
            let hit = env_var_secret(k, v);
            assert!(hit.is_some(), "{k}={v} should be a secret");
            assert!(!hit.is_some_and(|h| h.preview.contains(v) && v.len() > 1));
        }
        let fine = [
            ("LOG", "info"),
            ("PATH", "/usr/bin:/bin"),
            ("PWD", "/app"),
            ("DB_PASSWORD", ""),
            ("PASSWORD_FILE", "/run/secrets/db"),
            ("TLS_KEY_PATH", "/etc/tls/key.pem"),
            ("SECRETS_DIR", "/run/secrets"),
            ("TOKENIZERS_PARALLELISM", "false"),
            ("JWT_PUBLIC_KEY", "abc"),
            ("KEY", "value"),
            ("KEYBOARD_LAYOUT", "us"),
            ("PASSWORD_MIN_LENGTH", "12"),
            ("TOKEN_ENDPOINT", "https://auth.example.com/token"),
        ];
        for (k, v) in fine {
            assert_eq!(env_var_secret(k, v), None, "{k}={v} should be allowed");
        }
    }

    fn p(s: &str) -> ImagePath {
        ImagePath::parse(s).unwrap_or_default()
    }

    #[test]
    fn file_names() {
        for s in [
            "/root/.ssh/id_rsa",
            "/home/app/.ssh/id_ed25519",
            "/app/.env",
            "/root/.git-credentials",
            "/root/.netrc",
            "/root/.aws/credentials",
            "/root/.kube/config",
            "/etc/tls/server.key",
            "/app/cert.p12",
            "/root/.gnupg/private-keys-v1.d/ABC.key",
            "/root/.gnupg/secring.gpg",
            "/etc/nginx/.htpasswd",
        ] {
            assert!(secret_file_name(&p(s)).is_some(), "{s}");
        }
        for s in [
            "/root/.ssh/id_rsa.pub",
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/ssl/cert.pem",
            "/app/.npmrc",
            "/app/config.json",
            "/app/.envrc",
            "/app/env",
            "/usr/lib/x/credentials",
            "/app/.key",
            "/etc/kube/config",
        ] {
            assert_eq!(secret_file_name(&p(s)), None, "{s}");
        }
    }

    #[test]
    fn file_name_plus_content() {
        let cases: &[(&str, &[u8], bool)] = &[
            ("/app/.npmrc", b"//r.npmjs.org/:_authToken=abc", true),
            ("/app/.npmrc", b"registry=https://r.example.com/\n", false),
            (
                "/etc/ssl/cert.pem",
                b"-----BEGIN CERTIFICATE-----\nMII",
                false,
            ),
            (
                "/etc/ssl/key.pem",
                b"-----BEGIN EC PRIVATE KEY-----\nMII",
                true,
            ),
            (
                "/usr/share/keyrings/repo.key",
                b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
                false,
            ),
            ("/usr/share/keyrings/repo.key", &[0x99, 0x01, 0x0d], false),
            (
                "/etc/tls/server.key",
                b"-----BEGIN PRIVATE KEY-----\n",
                true,
            ),
            (
                "/root/.docker/config.json",
                b"{\"credsStore\":\"desktop\"}",
                false,
            ),
            (
                "/root/.docker/config.json",
                b"{\"auths\":{\"x\":{\"auth\":\"dTpw\"}}}",
                true,
            ),
            (
                "/app/credentials.json",
                b"{\"type\":\"service_account\",\"private_key\":\"\"}",
                true,
            ),
            ("/app/credentials.json", b"{\"endpoint\":\"x\"}", false),
            ("/root/.ssh/id_rsa", b"", true),
            ("/app/main.js", b"password", false),
        ];
        for (path, content, want) in cases {
            assert_eq!(secret_file(&p(path), content).is_some(), *want, "{path}");
        }
    }
}
