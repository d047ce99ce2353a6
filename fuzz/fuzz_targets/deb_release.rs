//! Debian `Release` files (the signed text of `InRelease`): any text either
//! parses or fails with a line number inside the text, never a panic. A
//! parsed Release only lists SHA-256 digests (64 lower-case hex digits) for
//! paths that stay inside the suite directory, and its dates survive the
//! `Valid-Until` check for any `now`. The same text read as a `Packages`
//! index never yields a pool path that leaves the archive.
#![no_main]
use ironhull::packages::deb::{packages_index, release};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.split('\n').count();
    match release::parse(text) {
        Err(e) => {
            assert!(
                e.line >= 1 && e.line <= lines.max(1),
                "line {} of {lines}",
                e.line
            );
            let _ = e.to_string();
        }
        Ok(r) => {
            for (path, f) in &r.sha256 {
                assert_eq!(f.sha256.len(), 64);
                assert!(
                    f.sha256
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                );
                assert!(!path.starts_with('/'));
                assert!(path.split('/').all(|c| !c.is_empty() && c != ".."));
            }
            for now in [0, 1_700_000_000, u64::MAX] {
                let _ = release::check_valid_until(&r, now);
            }
            if let Some(d) = r.date {
                let _ = release::format_date(d);
            }
        }
    }
    if let Ok(records) = packages_index::parse(text, 0) {
        for r in &records {
            assert!(packages_index::check_filename(&r.filename).is_ok());
            assert!(!r.filename.starts_with('/'));
            assert!(r.filename.split('/').all(|c| c != ".." && c != "."));
            assert_eq!(r.sha256.len(), 64);
        }
    }
});
