//! Debian control data: any text either parses into stanzas or fails with a
//! line number; every Version and relation field in them either parses or
//! fails with a message. Parsed versions are totally ordered (reflexive,
//! antisymmetric, and consistent with their relation constraints).
#![no_main]
use ironhull::packages::deb::{DebVersion, control, relation};
use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let stanzas = match control::parse(text) {
        Ok(s) => s,
        Err(e) => {
            assert!(e.line >= 1);
            let _ = e.to_string();
            return;
        }
    };
    let mut versions = Vec::new();
    for s in &stanzas {
        for (name, value) in s.fields() {
            if name.eq_ignore_ascii_case("Version") {
                if let Ok(v) = DebVersion::parse(value) {
                    assert_eq!(v.cmp(&v), Ordering::Equal);
                    versions.push(v);
                }
            } else if let Ok(rel) = relation::parse(value) {
                for alt in rel.iter().flatten() {
                    assert!(relation::valid_name(&alt.name));
                    if let Some(c) = &alt.constraint {
                        // The constraint's own version satisfies exactly
                        // the operators that include equality.
                        let eq =
                            matches!(c.op, relation::Op::Le | relation::Op::Eq | relation::Op::Ge);
                        assert_eq!(c.accepts(&c.version), eq);
                    }
                }
            }
        }
    }
    for a in &versions {
        for b in &versions {
            assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{a} vs {b}");
        }
    }
});
