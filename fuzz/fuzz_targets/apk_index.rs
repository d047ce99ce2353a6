//! apk indexes: any bytes either split into checked gzip members, a
//! `.SIGN.*` segment and an `APKINDEX` tar (signatures are not checked
//! here), or fail with a message; the APKINDEX text, and the raw input as
//! text, either parse into records whose names, versions and checksums
//! round-trip, or fail with a line number. Never a panic, never unbounded.
#![no_main]
use ironhull::packages::apk::apkindex::{self, Kind};
use ironhull::packages::apk::{ApkVersion, index};
use libfuzzer_sys::fuzz_target;

fn check_text(text: &str) {
    for kind in [Kind::Index, Kind::Installed] {
        match apkindex::parse(text, 0, kind) {
            Ok(records) => {
                for r in records {
                    assert!(r.line >= 1);
                    assert_eq!(ApkVersion::parse(r.version.as_str()).ok(), Some(r.version.clone()));
                    if kind == Kind::Index {
                        assert_eq!(apkindex::parse_checksum(&r.checksum_text()), Ok(r.checksum));
                        // The path below the repository URL: exactly
                        // `<arch>/<file>`, no component empty, `.` or `..`
                        // (a `1..2` inside a version is only a name).
                        let path = r.path(&r.arch);
                        let parts: Vec<&str> = path.split('/').collect();
                        assert_eq!(parts.len(), 2, "{path}");
                        assert!(parts.iter().all(|c| !c.is_empty() && *c != "." && *c != ".."), "{path}");
                    }
                }
            }
            Err(e) => {
                assert!(e.line >= 1);
                let _ = e.to_string();
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match index::read_unverified(data) {
        Ok(u) => {
            assert!(!u.signatures.is_empty());
            assert!(u.signed.len() <= data.len());
            check_text(&u.apkindex);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check_text(text);
    }
});
