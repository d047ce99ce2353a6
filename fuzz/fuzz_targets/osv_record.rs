//! OSV records: any JSON value either parses, is ignored or is refused with a
//! message; never a panic. Version comparisons (dpkg, apk) on the record's
//! strings are total orders: reflexive and antisymmetric.
#![no_main]
use ironhull::vuln::{osv, version};
use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = osv::parse_record(&v, "fuzz.json");
    }
    // Two version strings separated by a NUL.
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((a, b)) = s.split_once('\0') {
        for cmp in [
            version::dpkg_cmp as fn(&str, &str) -> Ordering,
            version::apk_cmp,
        ] {
            assert_eq!(cmp(a, a), Ordering::Equal, "{a:?}");
            assert_eq!(cmp(a, b), cmp(b, a).reverse(), "{a:?} vs {b:?}");
        }
    }
});
