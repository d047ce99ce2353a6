//! One secret detector shared by the spec (env, labels, argv), the artifact
//! intake, the build gate and `ironhull audit`, so that "is this a secret?"
//! has exactly one answer everywhere in ironhull.
//!
//! The entry points:
//! - [`FileScanner`] / [`scan_file`]: **the** decision for a file, from its
//!   path and its streamed content, in one pass and bounded memory: name
//!   rules (`id_rsa`, `.env.production` with a credential, `.npmrc` with a
//!   token, `*.pem` holding a key), content rules, and the members of the
//!   archives it is (`.jar`, `.zip`, `.whl`, `.tar.gz`). Intake, the gate and
//!   audit all call it, so a build refuses exactly what an audit flags.
//! - [`scan_content`] / [`ContentScanner`]: content rules alone, for strings
//!   and for fuzzing. Every rule has cheap keywords found by one aho-corasick
//!   automaton; the precise matcher only runs where a keyword occurs.
//! - [`env_var_secret`], [`config_string_secret`], [`argv_secret`]:
//!   name = value pairs and command lines (spec, image config).
//! - [`secret_file_name`]: names that are secrets whatever their content, so
//!   intake can refuse them before reading a byte.
//!
//! Findings never contain the secret: [`SecretHit::preview`] only shows the
//! public, fixed prefix of the format (e.g. `ghp_`) and a length.
//!
//! Files: `env` (name = value), `rules` (token formats), `keys` (private key
//! formats), `normalise` (JSON escapes, base64), `urls` (URL passwords),
//! `scanner` (the streaming automaton), `names` (file names), `archive`
//! (archive members), `config` (config strings and argv).

mod archive;
mod config;
mod env;
mod keys;
mod names;
mod normalise;
mod rules;
mod scanner;
mod urls;

pub use config::{argv_secret, config_string_secret};
pub use env::env_var_secret;
pub use names::secret_file_name;
pub use scanner::{ContentScanner, scan_content};

use crate::fs::ImagePath;
use std::io::{self, Read};

/// One detected secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretHit {
    /// Stable rule id, e.g. `github-token`; `secret-file` for name rules.
    pub rule: &'static str,
    /// What the rule detects, for humans.
    pub description: &'static str,
    /// Byte offset of the match in the scanned content (None for name or
    /// env-key based findings). For an archive member, the offset in the
    /// member.
    pub offset: Option<u64>,
    /// A redacted preview: the format's public prefix and the length; never the
    /// secret itself.
    pub preview: String,
    /// The archive member the secret is in (`WEB-INF/classes/.env`), with
    /// `!/` between nesting levels; None for the file itself.
    pub member: Option<String>,
}

impl SecretHit {
    /// True for a finding from the name rules (SEC-001), false for content
    /// (SEC-002). A caller that knows better (a verified distro-owned file)
    /// may drop or downgrade either kind; the detector has no exemptions.
    pub fn is_file_rule(&self) -> bool {
        self.rule == "secret-file"
    }
}

/// How much of a file's start the name-plus-content rules look at
/// (`.npmrc`, `.pypirc`, `.env.*`, `*.pem`, `config.json`): credential
/// files are small; the content rules still see every byte.
pub const NAME_PREFIX: usize = 64 * 1024;

/// The one decision on whether a file is (or holds) a secret, fed its
/// content in chunks of any size. Memory: the content scanner's window, a
/// [`NAME_PREFIX`] prefix only for names that need it, and a bounded buffer
/// for archives (see `archive`).
pub struct FileScanner {
    path: ImagePath,
    content: ContentScanner,
    prefix: Option<Vec<u8>>,
    archive: Option<archive::ArchiveBuffer>,
}

impl FileScanner {
    /// A scanner for the regular file at `path`.
    pub fn new(path: &ImagePath) -> Self {
        Self::at_depth(path, 0)
    }

    fn at_depth(path: &ImagePath, depth: usize) -> Self {
        Self {
            path: path.clone(),
            content: ContentScanner::new(),
            prefix: names::needs_content(path).then(Vec::new),
            archive: archive::ArchiveBuffer::for_name(path.file_name(), depth),
        }
    }

    /// Feeds the next chunk of the file's content.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.content.feed(chunk);
        if let Some(p) = &mut self.prefix
            && p.len() < NAME_PREFIX
        {
            let take = (NAME_PREFIX - p.len()).min(chunk.len());
            p.extend_from_slice(chunk.get(..take).unwrap_or(&[]));
        }
        if let Some(a) = &mut self.archive {
            a.feed(chunk);
        }
    }

    /// Every finding for the file: the name rule first (if any), then the
    /// content rules in offset order, then the archive members'.
    pub fn finish(self) -> Vec<SecretHit> {
        let mut out = Vec::new();
        let prefix = self.prefix.as_deref().unwrap_or(&[]);
        if let Some(h) = names::secret_file(&self.path, prefix) {
            out.push(h);
        }
        out.extend(self.content.finish());
        if let Some(a) = self.archive {
            out.extend(a.finish());
        }
        out
    }
}

/// [`FileScanner`] over a reader, read to its end in 64 KiB chunks.
pub fn scan_file(path: &ImagePath, content: &mut dyn Read) -> io::Result<Vec<SecretHit>> {
    let mut s = FileScanner::new(path);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match content.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => s.feed(buf.get(..n).unwrap_or(&[])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(s.finish())
}

/// [`scan_file`] over bytes in memory.
pub fn scan_file_bytes(path: &ImagePath, content: &[u8]) -> Vec<SecretHit> {
    let mut s = FileScanner::new(path);
    s.feed(content);
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::rules::{LOOKAHEAD, LOOKBEHIND, MAX_HITS, PIECE};
    use super::*;

    fn secret_file(path: &ImagePath, content: &[u8]) -> Option<SecretHit> {
        scan_file_bytes(path, content)
            .into_iter()
            .find(SecretHit::is_file_rule)
    }

    fn rules(data: &[u8]) -> Vec<&'static str> {
        scan_content(data).into_iter().map(|h| h.rule).collect()
    }

    fn b64(s: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
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
            (format!("values:\n  tls:\n    key: |\n      -----BEGIN RSA PRIVATE KEY-----\n      {PEM_BODY}"), "private-key"),
            (format!("{{\"k\": \"\\u002d\\u002d\\u002d\\u002d\\u002dBEGIN PRIVATE KEY\\u002d\\u002d\\u002d\\u002d\\u002d\\n{}\"}}", PEM_BODY.trim()), "private-key"),
            (format!("{{\"k\": \"-----BEGIN PRIVATE KEY-----\\u000a{}\"}}", PEM_BODY.trim()), "private-key"),
            (format!("client-key-data: {}\n", b64(&format!("-----BEGIN EC PRIVATE KEY-----\n{PEM_BODY}"))), "private-key-base64"),
            ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\n".into(), "putty-private-key"),
            (format!("# created: 2024\nAGE-SECRET-KEY-1{}\n", "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".repeat(2).get(..58).unwrap_or("")), "age-secret-key"),
            ("https://bob:Zx81kq2mv@github.com\n".into(), "url-credentials"),
            ("postgres://app:n0t-a-placeholder@db.internal:5432/app".into(), "url-credentials"),
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
            b"https://user:password@example.com https://user:@host https://u:${PASS}@h http://x:xxxx@h".to_vec(),
            b"git clone https://github.com/x/y.git; see http://[::1]:8080/ and mailto:a@b".to_vec(),
            // Documentation hosts (RFC 2606/6761), as in Node's URL typings.
            b"new URL('https://abc:xyz@example.com'); http://abc:123@sub.example.org/ ftp://u:s3cr3tz@db.test".to_vec(),
            b"PuTTY-User-Key-File-2 is the format name".to_vec(),
            b"AGE-SECRET-KEY-1 is the prefix".to_vec(),
            b"client-key-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUI=".to_vec(),
            // A DER certificate with serial 0: version INTEGER 0 then a signature AlgorithmIdentifier.
            b"\x30\x82\x01\x0a\x02\x01\x00\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00\x30\x10".to_vec(),
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
            // A GPG name with anything but fingerprints is judged by name.
            ("GPG_KEY", "hunter2hunter2"),
            ("GPG_PRIVATE_KEY", "-----BEGIN PGP PRIVATE KEY BLOCK-----"),
            ("GPG_KEY", "A035C8C19219BA821ECEA86B64E628F8D684696D secret"),
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
            // The Docker official images' source-verification fingerprints.
            ("GPG_KEY", "7169605F62C751356D054A26A821E680E5FA6305"),
            (
                "GPG_KEYS",
                "1198C0117593497A5EC5C199286AF1F9897469DC 39B641343D8C104B2B146DC3F9C39DC0B9698544",
            ),
            ("PGP_KEYID", "0x64E628F8D684696D"),
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
                b"{\"type\":\"service_account\",\"private_key\":\"k\"}",
                true,
            ),
            (
                "/app/credentials.json",
                b"{\"type\":\"service_account\",\"private_key\":\"\"}",
                false,
            ),
            (
                "/app/.npmrc",
                b"//r.npmjs.org/:_authToken=${NPM_TOKEN}\n",
                false,
            ),
            ("/app/.npmrc", b"_auth = dXNlcjpwYXNz\n", true),
            (
                "/app/.npmrc",
                b"//r.example.com/:_password=cGFzcw==\n",
                true,
            ),
            (
                "/root/.pypirc",
                b"[pypi]\nusername = bob\npassword = Zx81kq2mv\n",
                true,
            ),
            ("/root/.pypirc", b"[pypi]\nusername = __token__\n", false),
            (
                "/app/.env.production",
                b"# prod\nexport DB_PASSWORD=Zx81kq2mv\n",
                true,
            ),
            ("/app/.env.local", b"STRIPE_SECRET_KEY=\"k-123456\"\n", true),
            (
                "/app/.env.local",
                b"DEBUG=1\nDB_PASSWORD=\nAPI_KEY=${API_KEY}\n",
                false,
            ),
            ("/app/.env.example", b"DB_PASSWORD=Zx81kq2mv\n", false),
            (
                "/root/.docker/config.json",
                b"{\"auths\":{\"r\":{\"identitytoken\":\"eyJx\"}}}",
                true,
            ),
            (
                "/root/.docker/config.json",
                b"{\"auths\":{\"r\":{\"auth\":\"\"}}}",
                false,
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
