//! Credentials in URLs (`https://user:password@host`, the format of
//! `.git-credentials`, and of database and broker connection strings).
//!
//! Only a real-looking password counts: an empty one (`user:@`), a template
//! (`${PASS}`, `%s`, `<password>`, `{{ .pw }}`) or a documentation
//! placeholder (`password`, `xxx`, `changeme`, …) is not a secret.

use super::rules::count_while;

/// Placeholders documentation uses for a password (compared lowercased).
const PLACEHOLDERS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "pw",
    "secret",
    "token",
    "changeme",
    "change_me",
    "change-me",
    "example",
    "user",
    "username",
    "foo",
    "bar",
    "baz",
    "guest",
    "anonymous",
    "mypassword",
    "my_password",
    "my-password",
    "yourpassword",
    "your_password",
    "your-password",
    "yourtoken",
    "your_token",
    "secretpassword",
    "hunter2",
    "test",
    "none",
    "null",
    "redacted",
    "mask",
    "masked",
    "hidden",
    "pass123",
    "password123",
    "admin",
    "root",
    "dummy",
    "fake",
    "placeholder",
    "apikey",
    "api_key",
    "key",
];

fn user_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'%' | b'+' | b'-')
}

fn pass_char(b: u8) -> bool {
    b.is_ascii_graphic()
        && !matches!(
            b,
            b'@' | b'/'
                | b':'
                | b'"'
                | b'\''
                | b'<'
                | b'>'
                | b'`'
                | b'\\'
                | b'{'
                | b'}'
                | b'['
                | b']'
                | b'('
                | b')'
                | b','
                | b';'
                | b'?'
                | b'#'
                | b'|'
                | b'^'
        )
}

fn placeholder(pass: &[u8]) -> bool {
    let lower = pass.to_ascii_lowercase();
    let first = pass.first().copied().unwrap_or(b'$');
    matches!(first, b'$' | b'%' | b'*' | b'=' | b'&' | b'.')
        || pass.iter().all(|b| *b == first)
        || lower.windows(3).any(|w| w == b"xxx")
        || std::str::from_utf8(&lower).is_ok_and(|s| PLACEHOLDERS.contains(&s))
}

/// Hosts reserved for documentation (RFC 2606, RFC 6761): no credential for
/// them can work, and API docs use them for their URL examples (Node's own
/// typings carry `https://abc:xyz@example.com`).
fn documentation_host(host: &[u8]) -> bool {
    let h = host.to_ascii_lowercase();
    let h = h.strip_suffix(b".").unwrap_or(&h);
    ["example.com", "example.net", "example.org"]
        .iter()
        .any(|d| h == d.as_bytes() || h.ends_with(format!(".{d}").as_bytes()))
        || [".example", ".test", ".invalid"]
            .iter()
            .any(|t| h.ends_with(t.as_bytes()))
        || h == b"example"
}

/// `://user:pass@host`; the keyword is `://`, preceded by the scheme.
pub fn match_url_credentials(w: &[u8], kw: &[u8], before: Option<u8>) -> Option<usize> {
    if !before.is_some_and(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let rest = &w[kw.len()..];
    let user = count_while(rest, user_char);
    if !(1..=128).contains(&user) || rest.get(user) != Some(&b':') {
        return None;
    }
    let p0 = user + 1;
    let pass = count_while(&rest[p0..], pass_char);
    if !(3..=256).contains(&pass) || rest.get(p0 + pass) != Some(&b'@') {
        return None;
    }
    let h0 = p0 + pass + 1;
    let host = count_while(&rest[h0..], |b| {
        b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
    });
    if host == 0 || !rest[h0..h0 + host].iter().any(u8::is_ascii_alphabetic) {
        return None;
    }
    if placeholder(&rest[p0..p0 + pass]) || documentation_host(&rest[h0..h0 + host]) {
        return None;
    }
    Some(kw.len() + h0 + host)
}
