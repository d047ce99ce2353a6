//! Undoing the encodings that hide a PEM key from a literal match: JSON
//! string escapes (`\n`, `\u002d`, `\/`) and base64 wrapping (Kubernetes
//! Secret `data:`, kubeconfig `client-key-data`). Both work on one bounded
//! window, so the scanner stays a single pass with a fixed overlap.

use base64::Engine as _;

/// Decodes JSON string escapes in `w` until the first unescaped `"` (the end
/// of the string) or the end of the window. Unknown or truncated escapes are
/// kept as they are: this only needs to expose a key, not to validate JSON.
pub fn json_unescape(w: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(w.len());
    let mut i = 0;
    while let Some(&b) = w.get(i) {
        if b == b'"' {
            break;
        }
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        match w.get(i + 1) {
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(c @ (b'/' | b'\\' | b'"')) => out.push(*c),
            Some(b'u') => {
                let code = w
                    .get(i + 2..i + 6)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h.strip_prefix("00")?, 16).ok());
                match code {
                    Some(c) if c.is_ascii() => {
                        out.push(c);
                        i += 6;
                        continue;
                    }
                    _ => out.push(b'\\'),
                }
                i += 1;
                continue;
            }
            _ => {
                out.push(b'\\');
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    out
}

/// The base64 characters a wrapped value is made of (standard alphabet, no
/// line breaks: Kubernetes and kubeconfig write one line).
fn b64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Decodes the run of base64 at the start of `w` (as much as is in the
/// window, rounded down to whole 4-character groups).
pub fn base64_prefix(w: &[u8]) -> Option<Vec<u8>> {
    let n = w.iter().take_while(|b| b64_char(**b)).count();
    let n = n - n % 4;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(w.get(..n)?)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_json() {
        assert_eq!(
            json_unescape(br#"\u002d\u002D-a\nb\/c\\d\"e" tail"#),
            b"---a\nb/c\\d\"e".to_vec()
        );
        // Non-ASCII and truncated escapes stay as written.
        assert_eq!(json_unescape(br"\u00e9\u00"), br"\u00e9\u00".to_vec());
    }

    #[test]
    fn decodes_base64_prefix() {
        let enc = base64::engine::general_purpose::STANDARD.encode(b"-----BEGIN x");
        let mut w = enc.into_bytes();
        w.extend_from_slice(b"\" # end");
        let got = base64_prefix(&w).unwrap();
        assert!(got.starts_with(b"-----BEGIN"), "{got:?}");
        assert_eq!(base64_prefix(b"!!"), Some(Vec::new()));
    }
}
