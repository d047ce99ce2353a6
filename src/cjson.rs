//! The one canonical JSON writer. Everything that reaches a digest (configs,
//! manifests, indexes) is serialized here, so key order and spacing never vary.

use serde::Serialize;

/// Serializes `value` as canonical JSON (sorted keys, no insignificant whitespace).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    // Round-trip through Value so that struct field order does not matter either.
    let v = serde_json::to_value(value)?;
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, olpc_cjson::CanonicalFormatter::new());
    v.serialize(&mut ser)?;
    Ok(escape_controls(out))
}

/// OLPC canonical JSON writes control characters inside strings raw, which
/// is not JSON: serde_json, Go's encoding/json (containerd, docker) and
/// every RFC 8259 parser refuse it, so a base config with a newline in a
/// label became an image no runtime could read (found by fuzzing). The
/// canonical output has no whitespace outside strings, and in UTF-8 a byte
/// below 0x20 is always that character, so every such byte is written as
/// `\u00XX`. Documents without control characters are unchanged.
fn escape_controls(out: Vec<u8>) -> Vec<u8> {
    if !out.iter().any(|&b| b < 0x20) {
        return out;
    }
    let mut fixed = Vec::with_capacity(out.len() + 16);
    for b in out {
        if b < 0x20 {
            fixed.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            fixed.push(b);
        }
    }
    fixed
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
}
