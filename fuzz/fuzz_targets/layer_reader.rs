//! Fuzzes the layer reader (`fs::read_layer`, ironhull's strict tar parser)
//! over arbitrary bytes, as plain tar and gzip of it.
//!
//! Invariants: it never panics; an accepted layer's paths are canonical
//! (re-parsing gives the same path, no empty, `.` or `..` component); every
//! file's content has exactly its declared size; the diffID is the sha256
//! of the plain stream; gzip of the same bytes gives the same events.
#![no_main]

use std::io::Write;

use ironhull::digest::Digest;
use ironhull::fs::{ImagePath, LayerEvent, ReadOptions, read_layer};
use libfuzzer_sys::fuzz_target;

fn check_path(p: &ImagePath) {
    let s = p.as_str();
    assert!(!s.starts_with('/') && !s.ends_with('/'), "{s:?}");
    if !s.is_empty() {
        assert!(
            s.split('/').all(|c| !c.is_empty() && c != "." && c != ".."),
            "{s:?}"
        );
    }
    assert_eq!(ImagePath::parse(s).as_ref(), Ok(p));
}

fn events(blob: &[u8], opts: &ReadOptions) -> Option<(Vec<String>, Digest)> {
    let mut out = Vec::new();
    let stats = read_layer(blob, opts, |ev, r| {
        match &ev {
            LayerEvent::Entry(e) => {
                check_path(&e.path);
                let mut buf = Vec::new();
                r.read_to_end(&mut buf)?;
                if e.is_file() {
                    assert_eq!(buf.len() as u64, e.size, "{:?}", e.path);
                } else {
                    assert!(buf.is_empty());
                }
                assert!(e.mode <= 0o7777);
                assert!(e.uid <= 0xFFFF_FFFE && e.gid <= 0xFFFF_FFFE);
            }
            LayerEvent::Whiteout(p) | LayerEvent::Opaque(p) => check_path(p),
        }
        out.push(format!("{ev:?}"));
        Ok(())
    })
    .ok()?;
    Some((out, stats.diff_id))
}

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions {
        keep_xattrs: true,
        max_header_bytes: 64 * 1024,
        max_layer_bytes: 16 << 20,
        ..ReadOptions::default()
    };
    let plain = events(data, &opts);
    if let Some((_, d)) = &plain {
        // Plain tar (not gzip/zstd magic): the diffID covers the input.
        if !data.starts_with(&[0x1f, 0x8b]) && !data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            assert_eq!(*d, Digest::of(data));
        }
    }
    if data.starts_with(&[0x1f, 0x8b]) || data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return;
    }
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(data).unwrap();
    let gz = z.finish().unwrap();
    let zipped = events(&gz, &opts);
    assert_eq!(
        plain.map(|p| p.0),
        zipped.map(|z| z.0),
        "gzip changes the reading"
    );
});
