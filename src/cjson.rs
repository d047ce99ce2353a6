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
    Ok(out)
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
}
