//! The one canonical JSON writer. Everything that reaches a digest (configs,
//! manifests, indexes) is serialized here, so key order and spacing never vary.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};
use std::io::{self, Write};

/// Serializes `value` as canonical JSON (sorted keys, no insignificant
/// whitespace, no floats, strings kept exactly as they are).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    // Round-trip through Value so that struct field order does not matter
    // either: its map is a BTreeMap, so keys come out in byte order.
    let v = serde_json::to_value(value)?;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Canonical);
    v.serialize(&mut ser)?;
    Ok(out)
}

/// OLPC canonical JSON (what `olpc-cjson` writes, and what ironhull wrote
/// before), with two differences, both found by fuzzing:
///
/// - **Strings are not Unicode-normalized.** `olpc-cjson` rewrites every
///   string to NFC, so a base's label or a media type holding U+0344 came
///   back as U+0308 U+0301: ironhull would silently change what an image
///   says. Strings are written byte for byte.
/// - **Control characters are escaped** (`\u00XX`). OLPC writes them raw,
///   which is not JSON: serde_json, Go's `encoding/json` (containerd,
///   docker) and every RFC 8259 parser refuse it.
///
/// Otherwise the bytes are the same as before (`tests` compares them over
/// the fuzz corpus): only `"` and `\` are escaped, floats are refused, and
/// there is no whitespace. Keys are in byte order of the key itself; OLPC
/// ordered them by their escaped form, which differs only for keys holding
/// `"`, `\` or control characters.
struct Canonical;

impl Formatter for Canonical {
    fn write_f32<W: ?Sized + Write>(&mut self, _: &mut W, _: f32) -> io::Result<()> {
        Err(float_err())
    }

    fn write_f64<W: ?Sized + Write>(&mut self, _: &mut W, _: f64) -> io::Result<()> {
        Err(float_err())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let control = |b: u8| format!("\\u{b:04x}");
        let s = match escape {
            CharEscape::Quote => "\\\"".to_string(),
            CharEscape::ReverseSolidus => "\\\\".to_string(),
            CharEscape::Solidus => "/".to_string(),
            CharEscape::Backspace => control(0x08),
            CharEscape::FormFeed => control(0x0c),
            CharEscape::LineFeed => control(0x0a),
            CharEscape::CarriageReturn => control(0x0d),
            CharEscape::Tab => control(0x09),
            CharEscape::AsciiControl(b) => control(b),
        };
        writer.write_all(s.as_bytes())
    }
}

fn float_err() -> io::Error {
    io::Error::other("floating point numbers are not allowed in canonical JSON")
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorted_and_compact() {
        let v = serde_json::json!({"b": 1, "a": {"d": [1, 2], "c": "x"}});
        assert_eq!(
            super::to_vec(&v).unwrap(),
            br#"{"a":{"c":"x","d":[1,2]},"b":1}"#
        );
    }

    /// Regression (fuzz target `image_json`): control characters are
    /// escaped, so the output is JSON that parses back to the same value.
    #[test]
    fn control_characters_are_escaped() {
        let v = serde_json::json!({"Labels": {"a": "line\nbreak\ttab\u{1}\u{1f}é\"\\"}});
        let out = super::to_vec(&v).unwrap();
        assert!(!out.iter().any(|&b| b < 0x20));
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.contains(r#"line\u000abreak\u0009tab\u0001\u001fé\"\\"#),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, v);
        // Without control characters nothing changes.
        assert_eq!(
            super::to_vec(&serde_json::json!({"a": "é\"x"})).unwrap(),
            "{\"a\":\"é\\\"x\"}".as_bytes()
        );
    }

    /// Regression (fuzz target `image_json`, campaign of 2026-12-01): a
    /// string is written exactly as it is, never Unicode-normalized.
    #[test]
    fn strings_are_not_normalized() {
        for s in ["\u{344}", "A\u{30a}", "\u{212b}", "e\u{301}", "\u{fb01}"] {
            let v = serde_json::json!({"mediaType": s, s: [s]});
            let out = super::to_vec(&v).unwrap();
            let back: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, v, "{s:?}");
        }
        assert!(super::to_vec(&serde_json::json!({"x": 1.5})).is_err());
    }

    /// The same bytes as the OLPC writer ironhull used before (plus the
    /// control-character escapes), for every JSON document in the fuzz
    /// corpora whose strings NFC leaves alone.
    #[test]
    fn same_bytes_as_olpc_where_olpc_was_right() {
        fn olpc(v: &serde_json::Value) -> Option<Vec<u8>> {
            use serde::Serialize;
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(
                &mut out,
                olpc_cjson::CanonicalFormatter::new(),
            );
            v.serialize(&mut ser).ok()?;
            let mut fixed = Vec::new();
            for b in out {
                if b < 0x20 {
                    fixed.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                } else {
                    fixed.push(b);
                }
            }
            Some(fixed)
        }
        fn nfc_stable(v: &serde_json::Value) -> bool {
            use unicode_normalization::UnicodeNormalization;
            let same = |s: &str| s.nfc().collect::<String>() == s;
            match v {
                serde_json::Value::String(s) => same(s),
                serde_json::Value::Array(a) => a.iter().all(nfc_stable),
                serde_json::Value::Object(o) => o
                    .iter()
                    // OLPC sorted keys by their escaped bytes, ironhull by the
                    // key itself: only keys that need escaping may differ.
                    .all(|(k, v)| {
                        same(k)
                            && !k.contains(['"', '\\'])
                            && !k.chars().any(char::is_control)
                            && nfc_stable(v)
                    }),
                _ => true,
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let mut compared = 0;
        for dir in ["image_json", "docker_manifest", "credentials", "osv_record"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for e in entries.flatten() {
                let Ok(bytes) = std::fs::read(e.path()) else {
                    continue;
                };
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                    continue;
                };
                if !nfc_stable(&v) {
                    continue;
                }
                let Some(old) = olpc(&v) else {
                    assert!(super::to_vec(&v).is_err(), "{}", e.path().display());
                    continue;
                };
                assert_eq!(super::to_vec(&v).unwrap(), old, "{}", e.path().display());
                compared += 1;
            }
        }
        assert!(compared > 200, "only {compared} documents compared");
    }
}
