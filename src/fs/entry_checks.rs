//! The per-entry hostile-input checks of the layer reader: turning one
//! strictly parsed tar entry into a [`LayerEvent`], or refusing it.
//!
//! Everything here judges a single header against what came earlier in the
//! same layer (names, whiteouts, link targets, parents, hard-link metadata),
//! so it is apart from the streaming in [`super::read`], which only feeds
//! entries in and content out.

use std::collections::{BTreeMap, HashMap};

use super::entry::{Entry, EntryKind, ImagePath, LayerEvent};
use super::read_error::ReadError;
use super::tar_strict::{RawEntry, canonical_name, lossy};

/// Longest path or link target accepted, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_LEN: usize = 4096;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
const AUFS_META_PREFIX: &str = ".wh..wh.";

/// link checks.
#[derive(Clone, PartialEq, Eq)]
enum Seen {
    Dir,
    NonDir(InodeMeta),
    /// A non-directory that an earlier hard link of this layer points to:
    /// replacing it later in the layer is refused.
    Linked(InodeMeta),
}

/// The inode metadata a hard link shares with its target. Runtimes disagree
/// on whose header sets it: containerd links and stops (the target's header
/// wins), Docker and podman then chown, chmod and set xattrs from the link's
/// own header on the shared inode (the last header in the layer wins). So a
/// link is accepted only when its header says exactly what its target's does.
#[derive(Clone, PartialEq, Eq)]
struct InodeMeta {
    mode: u32,
    uid: u64,
    gid: u64,
    /// Empty for the common case (an empty map does not allocate).
    xattrs: BTreeMap<String, Vec<u8>>,
}

impl InodeMeta {
    fn of(raw: &RawEntry) -> Self {
        Self {
            mode: u32::try_from(raw.mode & 0o7777).unwrap_or(0),
            uid: raw.uid,
            gid: raw.gid,
            xattrs: raw.xattrs.clone(),
        }
    }

    /// What differs between a link's header (`self`) and its target's, for
    /// the error message.
    fn differs_from(&self, target: &InodeMeta) -> Option<String> {
        if self.mode != target.mode {
            return Some(format!(
                "mode {:04o} where the target has {:04o}",
                self.mode, target.mode
            ));
        }
        if (self.uid, self.gid) != (target.uid, target.gid) {
            return Some(format!(
                "owner {}:{} where the target has {}:{}",
                self.uid, self.gid, target.uid, target.gid
            ));
        }
        if self.xattrs != target.xattrs {
            return Some("extended attributes that differ from the target's".into());
        }
        None
    }
}

/// An entry name in canonical form (see [`canonical_name`]), or the error
/// for it: `..` anywhere is traversal, other non-canonical shapes are
/// ambiguous.
fn entry_path(raw: &[u8], offset: u64, is_dir: bool) -> Result<ImagePath, ReadError> {
    if raw.split(|b| *b == b'/').any(|c| c == b"..") {
        return Err(ReadError::PathTraversal { path: lossy(raw) });
    }
    let canon = canonical_name(raw, false, is_dir).map_err(|why| ReadError::Ambiguous {
        offset,
        path: Some(lossy(raw)),
        why: format!(
            "{why}; only an exact leading './' (and a trailing '/' on a directory) is normalized"
        ),
    })?;
    ImagePath::from_bytes(canon).map_err(|source| ReadError::BadPath {
        path: lossy(raw),
        source,
    })
}

/// A hard link target: canonical like a name, but may start with `/`
/// (runtimes join it below the root either way).
fn link_path(raw: &[u8], path: &str, offset: u64) -> Result<ImagePath, ReadError> {
    if raw.split(|b| *b == b'/').any(|c| c == b"..") {
        return Err(ReadError::HardlinkTraversal {
            path: path.to_string(),
            target: lossy(raw),
        });
    }
    let canon = canonical_name(raw, true, false).map_err(|why| ReadError::Ambiguous {
        offset,
        path: Some(path.to_string()),
        why: format!(
            "the hard link target {:?} is not canonical: {why}",
            lossy(raw)
        ),
    })?;
    ImagePath::from_bytes(canon).map_err(|source| ReadError::BadPath {
        path: lossy(raw),
        source,
    })
}

/// What the checks remember about the layer being read: the kind of every
/// path seen so far, one small record per path.
#[derive(Default)]
pub(super) struct LayerSeen(HashMap<ImagePath, Seen>);

/// Turns one strictly parsed tar entry into an event (or `None` for entries
/// that carry no filesystem change), running the hostile-input checks.
/// `keep_xattrs` is [`super::ReadOptions::keep_xattrs`].
pub(super) fn classify(
    raw: &RawEntry,
    keep_xattrs: bool,
    layer: &mut LayerSeen,
) -> Result<Option<LayerEvent>, ReadError> {
    let seen = &mut layer.0;
    let shown = lossy(&raw.name);
    let path = entry_path(&raw.name, raw.offset, raw.typeflag == b'5')?;

    // Whiteouts and aufs metadata, judged by name before anything else.
    let name = path.file_name().to_string();
    let comps: Vec<&str> = path.components().collect();
    let (last, dirs) = comps
        .split_last()
        .map_or((None, &[][..]), |(l, d)| (Some(*l), d));
    if dirs.iter().any(|c| c.starts_with(AUFS_META_PREFIX)) {
        // containerd extracts what lies below `.wh..wh.plnk/`, Docker skips it:
        // content there would reach the runtime unjudged.
        return Err(ReadError::Ambiguous {
            offset: raw.offset,
            path: Some(shown),
            why: "the entry lies inside an aufs metadata directory ('.wh..wh.*'), which some \
                  runtimes skip and others extract"
                .into(),
        });
    }
    if last.is_some_and(|c| c.starts_with(AUFS_META_PREFIX)) && name != OPAQUE_MARKER {
        // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): no filesystem change.
        return Ok(None);
    }
    if dirs.iter().any(|c| c.starts_with(WHITEOUT_PREFIX)) {
        return Err(ReadError::BadWhiteout {
            path: shown,
            why: "a whiteout name is used as a directory",
        });
    }
    let parent = path.parent().unwrap_or_default();
    if let Some(stripped) = name.strip_prefix(WHITEOUT_PREFIX) {
        check_parents(&path, &shown, seen)?;
        if name == OPAQUE_MARKER {
            if seen.get(&parent).is_some_and(|s| *s != Seen::Dir) {
                return Err(ReadError::ParentNotDir {
                    path: shown,
                    parent: parent.as_str().to_string(),
                });
            }
            return Ok(Some(LayerEvent::Opaque(parent)));
        }
        if stripped.is_empty() || stripped == "." || stripped == ".." {
            return Err(ReadError::BadWhiteout {
                path: shown,
                why: "the whiteout does not name a file",
            });
        }
        let target = parent.join(stripped).map_err(|source| ReadError::BadPath {
            path: shown.clone(),
            source,
        })?;
        return Ok(Some(LayerEvent::Whiteout(target)));
    }

    let kind = match raw.typeflag {
        b'0' => EntryKind::File,
        b'5' => EntryKind::Dir,
        b'2' => {
            let t = &raw.link;
            if t.is_empty() {
                return Err(ReadError::BadSymlink {
                    path: shown,
                    why: "the target is empty",
                });
            }
            if t.len() > MAX_PATH_LEN {
                return Err(ReadError::BadSymlink {
                    path: shown,
                    why: "the target is longer than 4096 bytes",
                });
            }
            if t.contains(&0) {
                return Err(ReadError::BadSymlink {
                    path: shown,
                    why: "the target contains a NUL byte",
                });
            }
            let target = String::from_utf8(t.clone()).map_err(|_| ReadError::BadSymlink {
                path: shown.clone(),
                why: "the target is not UTF-8",
            })?;
            EntryKind::Symlink { target }
        }
        b'1' => {
            let target = link_path(&raw.link, &shown, raw.offset)?;
            if target == path {
                return Err(ReadError::HardlinkToSelf { path: shown });
            }
            match seen.get(&target) {
                None => {
                    return Err(ReadError::HardlinkMissingTarget {
                        path: shown,
                        target: lossy(&raw.link),
                    });
                }
                Some(Seen::Dir) => {
                    return Err(ReadError::HardlinkToDir {
                        path: shown,
                        target: lossy(&raw.link),
                    });
                }
                Some(Seen::NonDir(meta) | Seen::Linked(meta)) => {
                    if let Some(what) = InodeMeta::of(raw).differs_from(meta) {
                        return Err(ReadError::Ambiguous {
                            offset: raw.offset,
                            path: Some(shown),
                            why: format!(
                                "the hard link's header gives {what}; containerd keeps the \
                                 target's metadata, Docker and podman apply the link's to the \
                                 shared file, so runtimes would build different files"
                            ),
                        });
                    }
                }
            }
            EntryKind::Hardlink { target }
        }
        b'3' => EntryKind::CharDevice {
            major: raw.devmajor,
            minor: raw.devminor,
        },
        b'4' => EntryKind::BlockDevice {
            major: raw.devmajor,
            minor: raw.devminor,
        },
        b'6' => EntryKind::Fifo,
        other => {
            return Err(ReadError::UnsupportedType {
                path: shown,
                type_flag: char::from(other),
            });
        }
    };
    if path.is_root() && kind != EntryKind::Dir {
        return Err(ReadError::RootNotDir { path: shown });
    }
    if matches!(seen.get(&path), Some(Seen::Linked(_))) {
        // At unpack time the earlier hard link keeps the old inode (and
        // content), while a merged view that follows the link would see
        // the new entry: two different files under one judgement.
        return Err(ReadError::Ambiguous {
            offset: raw.offset,
            path: Some(shown),
            why: "the entry replaces a file that an earlier hard link in this layer points to, \
                  so the link would keep content the merged view no longer shows"
                .into(),
        });
    }
    // A non-directory over a directory of this layer removes the directory
    // with everything below it (runtimes `RemoveAll`); a linked file in
    // there would live on under its link, unseen by the view.
    if kind != EntryKind::Dir
        && matches!(seen.get(&path), Some(Seen::Dir))
        && seen
            .iter()
            .any(|(p, s)| matches!(s, Seen::Linked(_)) && p != &path && p.starts_with(&path))
    {
        return Err(ReadError::Ambiguous {
            offset: raw.offset,
            path: Some(shown),
            why: "the entry replaces a directory holding a file that an earlier hard link in \
                  this layer points to, so the link would keep content the merged view no \
                  longer shows"
                .into(),
        });
    }
    check_parents(&path, &shown, seen)?;

    // Modes keep the permission, setuid/setgid and sticky bits, which is
    // what Go's `FileInfo().Mode()` (used by every runtime) keeps too.
    let mode = u32::try_from(raw.mode & 0o7777).unwrap_or(0);
    let mut e = Entry::new(path.clone(), kind, mode);
    e.uid = raw.uid;
    e.gid = raw.gid;
    e.uname = lossy(&raw.uname);
    e.gname = lossy(&raw.gname);
    e.mtime = raw.mtime;
    if e.is_file() {
        e.size = raw.size;
    }
    if keep_xattrs {
        e.xattrs
            .extend(raw.xattrs.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    e.apk_sha1 = raw.apk_sha1;
    let meta = InodeMeta::of(raw);
    if let EntryKind::Hardlink { target } = &e.kind {
        seen.insert(target.clone(), Seen::Linked(meta.clone()));
    }
    let s = if e.is_dir() {
        Seen::Dir
    } else {
        Seen::NonDir(meta)
    };
    seen.insert(path, s);
    Ok(Some(LayerEvent::Entry(e)))
}

/// Rejects a path whose ancestor was a non-directory earlier in this layer.
fn check_parents(
    path: &ImagePath,
    shown: &str,
    seen: &HashMap<ImagePath, Seen>,
) -> Result<(), ReadError> {
    for a in path.ancestors() {
        if seen.get(&a).is_some_and(|s| *s != Seen::Dir) {
            return Err(ReadError::ParentNotDir {
                path: shown.to_string(),
                parent: a.as_str().to_string(),
            });
        }
    }
    Ok(())
}
