//! A `.deb` from hostile bytes: `DebFile::parse` either refuses it with an
//! error or yields a control file and a data member that the strict layer
//! reader either reads or refuses, never a panic. Every entry it accepts has
//! a canonical path and exactly its declared size; scripts are only named.
#![no_main]
use ironhull::fs::{LayerEvent, ReadOptions};
use ironhull::packages::deb::deb_file::{DebFile, SCRIPT_NAMES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(d) = DebFile::parse(data, 1 << 20) else {
        return;
    };
    for s in &d.scripts {
        assert!(SCRIPT_NAMES.contains(&s.as_str()) || s == "triggers", "{s}");
    }
    let opts = ReadOptions {
        max_layer_bytes: 4 << 20,
        max_entries: 10_000,
        ..ReadOptions::default()
    };
    let _ = d.read_data(&opts, |ev, r| {
        if let LayerEvent::Entry(e) = &ev {
            let s = e.path.as_str();
            assert!(
                !s.starts_with('/') && !s.split('/').any(|c| c == ".."),
                "{s}"
            );
            let mut buf = Vec::new();
            std::io::Read::read_to_end(r, &mut buf)?;
            if e.is_file() {
                assert_eq!(buf.len() as u64, e.size);
            }
        }
        Ok(())
    });
});
