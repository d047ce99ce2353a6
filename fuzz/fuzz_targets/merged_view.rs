//! The merged view over several hostile layers. The input is split into up
//! to four layers at each `\n--layer--\n`; every accepted layer is applied in
//! order to one `MergedTree`, as `load_tree` does.
//!
//! Invariants: nothing panics; every hard link left in the view points at a
//! non-directory of its own layer (a link whose target a later layer
//! replaced or deleted has been detached into a copy, as runtimes keep the
//! old inode); `resolve` and `content` terminate on every path.
#![no_main]

use ironhull::fs::{CaptureSet, EntryKind, MergedTree, ReadOptions, read_layer};
use libfuzzer_sys::fuzz_target;

const SEP: &[u8] = b"\n--layer--\n";

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() < 3 {
        match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + SEP.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions {
        keep_xattrs: true,
        max_header_bytes: 64 * 1024,
        max_layer_bytes: 4 << 20,
        ..ReadOptions::default()
    };
    let capture = CaptureSet::standard().with_limit(1 << 16);
    let mut tree = MergedTree::with_capture(capture);
    for (i, layer) in split(data).into_iter().enumerate() {
        // A refused layer is skipped here (the real loaders stop); the
        // next layers still exercise the view on top of what was applied.
        let mut staged = MergedTree::new();
        let ok = read_layer(layer, &opts, |ev, r| {
            staged.apply(i, &ev, r).map_err(Into::into)
        })
        .is_ok();
        if ok {
            let _ = read_layer(layer, &opts, |ev, r| {
                tree.apply(i, &ev, r).map_err(Into::into)
            });
        }
    }
    for (path, node) in tree.iter() {
        if let EntryKind::Hardlink { target } = &node.entry.kind {
            let t = tree
                .get(target)
                .unwrap_or_else(|| panic!("{path} -> missing {target}"));
            assert!(!t.entry.is_dir(), "{path} -> directory {target}");
            assert_eq!(
                t.layer, node.layer,
                "{path} (layer {}) -> {target} (layer {})",
                node.layer, t.layer
            );
        }
        let _ = tree.resolve(path);
        let _ = tree.content(path);
    }
});
