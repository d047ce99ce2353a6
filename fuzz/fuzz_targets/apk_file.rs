//! An `.apk` from hostile bytes: the target computes the control member's
//! own Q1 (so fuzzing gets past the index checksum and reaches `.PKGINFO`,
//! the datahash and the data tar), then `ApkFile::parse` either refuses the
//! package or yields one whose data the strict reader streams or refuses,
//! never a panic. Every regular file it yields has exactly its declared
//! size and a checksum record (which `read_data` compared with the bytes
//! once they were streamed); no path starts with '.'; scripts are only named.
#![no_main]
use ironhull::fs::{EntryKind, LayerEvent, ReadOptions};
use ironhull::packages::apk::apk_file::{ApkFile, SCRIPT_NAMES, control_checksum};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(q1) = control_checksum(data) else {
        return;
    };
    let Ok(a) = ApkFile::parse(data, &q1) else {
        return;
    };
    assert_eq!(a.q1, q1);
    for s in &a.scripts {
        assert!(SCRIPT_NAMES.contains(&s.as_str()), "{s}");
    }
    let opts = ReadOptions {
        max_layer_bytes: 4 << 20,
        max_entries: 10_000,
        ..ReadOptions::default()
    };
    let _ = a.read_data(&opts, |ev, r| {
        if let LayerEvent::Entry(e) = &ev {
            assert!(!e.path.as_str().starts_with('.'), "{}", e.path);
            let mut body = Vec::new();
            r.read_to_end(&mut body)?;
            if e.kind == EntryKind::File {
                assert_eq!(body.len() as u64, e.size, "{}", e.path);
                assert!(e.apk_sha1.is_some(), "{}", e.path);
            }
        }
        Ok(())
    });
});
