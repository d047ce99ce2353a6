//! `WWW-Authenticate`: never panics; `parse` picks one of `parse_all`'s
//! challenges, preferring Bearer.
#![no_main]
use ironhull::registry::challenge::{self, Challenge};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let all = challenge::parse_all(s);
    let one = challenge::parse(s);
    match &one {
        None => assert!(all.is_empty()),
        Some(c) => {
            assert!(all.contains(c));
            if all.iter().any(|c| matches!(c, Challenge::Bearer { .. })) {
                assert!(matches!(c, Challenge::Bearer { .. }));
            }
        }
    }
});
