//! Loading an image's layers into the merged view: the one place where the
//! layer reader ([`super::read`]) and the merged tree ([`super::merge`]) meet.
//!
//! Keeping this join here makes the dependency one-way: the reader knows
//! nothing of the tree and the tree nothing of the reader. A merge error
//! raised inside the reader's visitor travels as [`ReadError::Merge`], boxed
//! so the reader need not name the type, with the message it always had.

use std::io::Read;

use super::merge::{CaptureSet, MergeError, MergedTree};
use super::read::{LayerStats, ReadError, ReadOptions, read_layer};

/// Lets `tree.apply(..)` be used with `?` inside a `read_layer` visitor.
impl From<MergeError> for ReadError {
    fn from(e: MergeError) -> Self {
        ReadError::Merge(Box::new(e))
    }
}

/// Reads layers bottom-up into a merged tree. Each item is `(layer index,
/// uncompressed-or-compressed layer stream)`; errors name the failing layer.
pub fn load_tree(
    layers: impl IntoIterator<Item = (usize, Box<dyn Read + Send>)>,
    opts: &ReadOptions,
    capture: CaptureSet,
) -> Result<(MergedTree, Vec<LayerStats>), ReadError> {
    let mut tree = MergedTree::with_capture(capture);
    let mut stats = Vec::new();
    for (idx, blob) in layers {
        let st = read_layer(blob, opts, |ev, r| {
            tree.apply(idx, &ev, r).map_err(ReadError::from)
        })
        .map_err(|e| e.in_layer(idx))?;
        stats.push(st);
    }
    Ok((tree, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::entry::ImagePath;
    use crate::fs::read::tests::{T, alpine_fixture, gz};
    use std::io;

    fn p(s: &str) -> ImagePath {
        ImagePath::parse(s).unwrap()
    }

    #[test]
    fn load_tree_applies_layers_in_order() {
        let l0 = T::new()
            .dir("etc/")
            .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
            .file("etc/shadow", b"root:*:1::::::\n")
            .dir("bin/")
            .file("bin/busybox", b"elf")
            .symlink("bin/sh", "busybox")
            .finish();
        let l1 = T::new()
            .file("etc/passwd", b"app:x:1000:1000::/:/sbin/nologin\n")
            .file("bin/.wh.sh", b"")
            .file("etc/.wh.shadow", b"")
            .finish();
        let layers: Vec<(usize, Box<dyn Read + Send>)> = vec![
            (0, Box::new(io::Cursor::new(gz(&l0)))),
            (1, Box::new(io::Cursor::new(l1.clone()))),
        ];
        let (t, stats) =
            load_tree(layers, &ReadOptions::default(), CaptureSet::standard()).unwrap();
        assert_eq!(stats.len(), 2);
        assert_eq!(stats[1].diff_id, crate::digest::Digest::of(&l1));
        assert_eq!(
            t.content(&p("etc/passwd")),
            Some(&b"app:x:1000:1000::/:/sbin/nologin\n"[..])
        );
        assert!(t.get(&p("bin/sh")).is_none());
        assert!(t.get(&p("etc/shadow")).is_none());
        assert!(t.get(&p("bin/busybox")).is_some());

        let bad: Vec<(usize, Box<dyn Read + Send>)> = vec![
            (0, Box::new(io::Cursor::new(l0))),
            (
                1,
                Box::new(io::Cursor::new(T::new().hardlink("x", "nope").finish())),
            ),
        ];
        match load_tree(bad, &ReadOptions::default(), CaptureSet::none()) {
            Err(ReadError::InLayer { layer: 1, source }) => {
                assert!(matches!(*source, ReadError::HardlinkMissingTarget { .. }));
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn alpine_merged_view() {
        let Some(path) = alpine_fixture() else { return };
        let f = std::fs::File::open(&path).unwrap();
        let layers: Vec<(usize, Box<dyn Read + Send>)> = vec![(0, Box::new(io::BufReader::new(f)))];
        let (t, stats) =
            load_tree(layers, &ReadOptions::default(), CaptureSet::standard()).unwrap();
        assert!(stats[0].entries > 50);
        let (target, node) = t.resolve(&p("bin/sh")).unwrap();
        assert_eq!(target.as_str(), "bin/busybox");
        assert!(node.entry.is_file());
        let passwd = std::str::from_utf8(t.content(&p("etc/passwd")).unwrap()).unwrap();
        assert!(passwd.starts_with("root:x:0:0:"), "{passwd}");
        let apk = t.content(&p("lib/apk/db/installed")).unwrap();
        assert!(apk.windows(10).any(|w| w == b"P:busybox\n"));
        assert!(t.content(&p("etc/alpine-release")).is_some());
        assert!(
            t.children(&ImagePath::root())
                .any(|(k, _)| k.as_str() == "etc")
        );
    }

    /// The boxed merge error must read (and, for `--json` error kinds, debug)
    /// exactly as the typed variant it replaced did.
    #[test]
    fn merge_errors_keep_their_message_and_kind() {
        let merge = || MergeError::Capture {
            path: p("etc/passwd"),
            layer: 2,
            source: io::Error::new(io::ErrorKind::UnexpectedEof, "cut"),
        };
        let e = ReadError::from(merge());
        assert_eq!(e.to_string(), merge().to_string());
        assert!(format!("{e:?}").starts_with("Merge(Capture {"), "{e:?}");
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(source.as_deref(), Some("cut"));
    }
}
