//! A canonical, line-per-entry listing of what ironhull reads from a layer.
//!
//! The same format is printed by the Go oracle (`tests/oracle/tarlist.go`)
//! from Go's `archive/tar`, the reader container runtimes use. The
//! differential test `tests/tar_oracle.rs` requires the two listings to be
//! identical for every layer ironhull accepts: that is what "one
//! interpretation of every tar stream" means in practice.
//!
//! Format, tab-separated: `path kind mode(octal) uid gid mtime size link
//! [xattr=hex,...] sha256`; whiteouts are `whiteout PATH`, opaque markers
//! `opaque DIR`; the root is `.`.

use std::fmt::Write as _;
use std::io::Read;

use super::entry::{EntryKind, ImagePath, LayerEvent};
use super::read::{ReadError, ReadOptions, read_layer};
use crate::digest::digest_reader;

fn show(p: &ImagePath) -> &str {
    if p.is_root() { "." } else { p.as_str() }
}

/// Reads `blob` (plain, gzip or zstd tar) with ironhull's layer reader,
/// xattrs kept, and returns its canonical listing.
#[doc(hidden)]
pub fn canonical_listing<R: Read + Send>(blob: R) -> Result<String, ReadError> {
    let opts = ReadOptions {
        keep_xattrs: true,
        ..ReadOptions::default()
    };
    let mut out = String::new();
    read_layer(blob, &opts, |ev, r| {
        match ev {
            LayerEvent::Opaque(p) => {
                let _ = writeln!(out, "opaque\t{}", show(&p));
            }
            LayerEvent::Whiteout(p) => {
                let _ = writeln!(out, "whiteout\t{}", show(&p));
            }
            LayerEvent::Entry(e) => {
                let (kind, link) = match &e.kind {
                    EntryKind::File => ("file", String::new()),
                    EntryKind::Dir => ("dir", String::new()),
                    EntryKind::Symlink { target } => ("symlink", target.clone()),
                    EntryKind::Hardlink { target } => ("hardlink", show(target).to_string()),
                    EntryKind::CharDevice { major, minor } => ("char", format!("{major},{minor}")),
                    EntryKind::BlockDevice { major, minor } => {
                        ("block", format!("{major},{minor}"))
                    }
                    EntryKind::Fifo => ("fifo", String::new()),
                };
                let sum = if e.is_file() {
                    let (d, _) = digest_reader(r)?;
                    d.hex().to_string()
                } else {
                    "-".to_string()
                };
                let mut xattrs: Vec<String> = e
                    .xattrs
                    .iter()
                    .map(|(k, v)| format!("{k}={}", hex::encode(v)))
                    .collect();
                xattrs.sort();
                let _ = writeln!(
                    out,
                    "{}\t{kind}\t{:o}\t{}\t{}\t{}\t{}\t{link}\t[{}]\t{sum}",
                    show(&e.path),
                    e.mode,
                    e.uid,
                    e.gid,
                    e.mtime,
                    e.size,
                    xattrs.join(",")
                );
            }
        }
        Ok(())
    })?;
    Ok(out)
}
