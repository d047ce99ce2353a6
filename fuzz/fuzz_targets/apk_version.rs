//! apk versions: parsing never panics, and the order is total over what
//! parses: reflexive, antisymmetric, transitive on every triple, and the
//! fuzzy (`~`) comparison agrees wherever the exact one says equal.
#![no_main]
use ironhull::packages::apk::ApkVersion;
use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let vs: Vec<ApkVersion> = s
        .split('\n')
        .take(8)
        .filter_map(|x| ApkVersion::parse(x).ok())
        .collect();
    for a in &vs {
        assert_eq!(a.cmp(a), Ordering::Equal, "{a}");
        for b in &vs {
            assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{a} vs {b}");
            if a.cmp(b) == Ordering::Equal {
                assert_eq!(a.cmp_fuzzy(b), Ordering::Equal, "{a} ~ {b}");
            }
            for c in &vs {
                if a <= b && b <= c {
                    assert!(a <= c, "{a} <= {b} <= {c} but not {a} <= {c}");
                }
            }
        }
    }
});
