//! `WWW-Authenticate` challenge parsing (RFC 7235 as registries use it).
//!
//! Registries answer `401` with either `Basic realm="…"` or
//! `Bearer realm="…",service="…",scope="…"[,error="insufficient_scope"]`.
//! The parser is strict about quoting but tolerant about spacing, and never
//! panics on hostile input.

use std::collections::BTreeMap;

/// One parsed challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic {
        realm: Option<String>,
    },
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
        error: Option<String>,
    },
}

/// Parses a header value holding one or more challenges; returns the first
/// Bearer challenge if any (it is the stronger scheme), else the first Basic.
pub fn parse(header: &str) -> Option<Challenge> {
    let all = parse_all(header);
    all.iter()
        .find(|c| matches!(c, Challenge::Bearer { .. }))
        .or_else(|| all.first())
        .cloned()
}

/// Parses every challenge in a header value. Unknown schemes are skipped.
pub fn parse_all(header: &str) -> Vec<Challenge> {
    let mut out = Vec::new();
    let mut rest = header.trim_start_matches(is_separator);
    while !rest.is_empty() {
        let scheme_end = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        let scheme = rest[..scheme_end].to_ascii_lowercase();
        // The same separator test as `scheme_end`: trimming fewer characters
        // (only space and tab) than `find` stops at looped forever on a
        // vertical tab (found by fuzzing).
        rest = rest[scheme_end..].trim_start_matches(is_separator);
        let (params, after) = parse_params(rest);
        rest = after;
        match scheme.as_str() {
            "basic" => out.push(Challenge::Basic {
                realm: params.get("realm").cloned(),
            }),
            "bearer" => {
                if let Some(realm) = params.get("realm") {
                    out.push(Challenge::Bearer {
                        realm: realm.clone(),
                        service: params.get("service").cloned(),
                        scope: params.get("scope").cloned(),
                        error: params.get("error").cloned(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// Whitespace (any Unicode whitespace, as `find` sees it) or a comma.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == ','
}

/// Parses `k=v, k="v"` pairs until a token that is not followed by `=`
/// (the next scheme) or the end. Returns the params and the unparsed rest.
fn parse_params(mut s: &str) -> (BTreeMap<String, String>, &str) {
    let mut params = BTreeMap::new();
    loop {
        s = s.trim_start_matches(is_separator);
        let Some(eq) = s.find('=') else {
            return (params, s);
        };
        let key = &s[..eq];
        if key.is_empty() || key.contains(|c: char| c.is_whitespace() || c == ',') {
            // `key` is actually the next scheme name.
            return (params, s);
        }
        let after = &s[eq + 1..];
        let (value, rest) = if let Some(q) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            match end {
                Some(e) => (value, &q[e..]),
                // Unterminated quote: take what we have and stop.
                None => (value, ""),
            }
        } else {
            let end = after
                .find(|c: char| c == ',' || c.is_whitespace())
                .unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        params.insert(key.to_ascii_lowercase(), value);
        s = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (fuzz target `challenge`): a vertical tab after a param
    /// value made the parser loop forever.
    #[test]
    fn vertical_tab_and_other_whitespace_terminate() {
        let h =
            "Bearer rel=amth\"tps:/\0\0\x0b/x/t\",error=\"insufficient_scope\", Basic realm=\"y\"";
        let all = parse_all(h);
        assert_eq!(
            all,
            vec![Challenge::Basic {
                realm: Some("y".into())
            }]
        );
        for h in [
            "\x0b",
            "Basic\x0b\x0c\u{2003}realm=\"r\"",
            ",\x0b,Bearer realm=x\x0b",
        ] {
            let _ = parse_all(h);
        }
        assert_eq!(
            parse("Bearer\x0brealm=\"https://a/t\"\x0b"),
            Some(Challenge::Bearer {
                realm: "https://a/t".into(),
                service: None,
                scope: None,
                error: None,
            })
        );
    }

    #[test]
    fn bearer_with_all_params() {
        let c = parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull".into()),
                error: None,
            })
        );
    }

    #[test]
    fn scope_with_comma_and_error() {
        let c = parse(
            r#"Bearer realm="http://127.0.0.1:1/t", service="s", scope="repository:a/b:pull,push", error="insufficient_scope""#,
        );
        match c {
            Some(Challenge::Bearer { scope, error, .. }) => {
                assert_eq!(scope.as_deref(), Some("repository:a/b:pull,push"));
                assert_eq!(error.as_deref(), Some("insufficient_scope"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn basic_and_multiple() {
        assert_eq!(
            parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic {
                realm: Some("Registry Realm".into())
            })
        );
        let all = parse_all(r#"Basic realm="x", Bearer realm="https://a/t",service=b"#);
        assert_eq!(all.len(), 2);
        assert!(matches!(
            parse(r#"Basic realm="x", Bearer realm="https://a/t""#),
            Some(Challenge::Bearer { .. })
        ));
    }

    #[test]
    fn hostile_input_never_panics() {
        for s in [
            "",
            "Bearer",
            "Bearer realm",
            "Bearer realm=\"unterminated",
            "Bearer realm=\"a\\",
            "=,=,=",
            "Bearer ,,,,realm=x",
            "Négociate ü=ö",
            "Bearer service=\"x\"",
        ] {
            let _ = parse_all(s);
        }
        assert_eq!(
            parse("Bearer service=\"x\""),
            None,
            "Bearer without realm is unusable"
        );
        assert_eq!(parse("Negotiate abc"), None);
    }
}
