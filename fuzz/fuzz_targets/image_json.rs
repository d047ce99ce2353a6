//! Manifest, index and config JSON: whatever deserializes survives a
//! canonical-JSON round trip unchanged, and canonical JSON is a fixed point.
#![no_main]
use ironhull::image::{Index, Manifest};
use libfuzzer_sys::fuzz_target;

fn round_trip<T>(data: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    let Ok(v) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let bytes = ironhull::cjson::to_vec(&v).expect("a parsed document serializes");
    let back: T = serde_json::from_slice(&bytes).expect("canonical JSON parses back");
    assert_eq!(back, v);
    assert_eq!(
        ironhull::cjson::to_vec(&back).unwrap(),
        bytes,
        "canonical JSON is stable"
    );
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Manifest>(data);
    round_trip::<Index>(data);
    // Configs are edited as untyped values and written canonically.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(bytes) = ironhull::cjson::to_vec(&v) {
            let back: serde_json::Value =
                serde_json::from_slice(&bytes).expect("canonical JSON parses back");
            assert_eq!(ironhull::cjson::to_vec(&back).unwrap(), bytes);
        }
    }
});
