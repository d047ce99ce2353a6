//! Filesystem entries as ironhull sees them: a normalized path plus metadata.
//! This is the common currency between the layer reader, the layer writer, the
//! hardening planner and the policy engine.

use std::collections::BTreeMap;
use std::fmt;

/// A normalized path inside an image, stored without the leading slash:
/// `bin/sh`, `etc/ssl/certs`. The empty path is the root directory.
///
/// Construction refuses `..`, so a value of this type can never point outside
/// the image root.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ImagePath(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("path {0:?} contains a '..' component, which could escape the image root")]
    DotDot(String),
    #[error("path {0:?} contains a NUL byte")]
    Nul(String),
    #[error("path {0:?} is not valid UTF-8")]
    NotUtf8(String),
    #[error("path {0:?} is longer than 4096 bytes")]
    TooLong(String),
}

impl ImagePath {
    /// The root directory.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// Normalizes a path from a tar entry or a spec: leading `/` and `./` are
    /// dropped, `.` and empty components removed, and `..` refused.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        if raw.contains('\0') {
            return Err(PathError::Nul(raw.into()));
        }
        if raw.len() > 4096 {
            return Err(PathError::TooLong(raw.chars().take(64).collect()));
        }
        let mut parts = Vec::new();
        for c in raw.split('/') {
            match c {
                "" | "." => {}
                ".." => return Err(PathError::DotDot(raw.into())),
                c => parts.push(c),
            }
        }
        Ok(Self(parts.join("/")))
    }

    /// Parses raw bytes from a tar header.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, PathError> {
        let s = std::str::from_utf8(raw)
            .map_err(|_| PathError::NotUtf8(String::from_utf8_lossy(raw).into()))?;
        Self::parse(s)
    }

    /// Relative form, without a leading slash (`bin/sh`; empty for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Absolute form for messages: `/bin/sh`.
    pub fn to_abs(&self) -> String {
        format!("/{}", self.0)
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The parent directory, or `None` for the root.
    pub fn parent(&self) -> Option<ImagePath> {
        if self.0.is_empty() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => Self(self.0[..i].to_string()),
            None => Self::root(),
        })
    }

    /// The last component (empty for the root).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// Joins a child path (which is normalized too).
    pub fn join(&self, child: &str) -> Result<ImagePath, PathError> {
        if self.0.is_empty() {
            Self::parse(child)
        } else {
            Self::parse(&format!("{}/{}", self.0, child))
        }
    }

    /// All ancestors from the top down, not including `self` or the root:
    /// `a/b/c` gives `a`, `a/b`.
    pub fn ancestors(&self) -> Vec<ImagePath> {
        let mut out = Vec::new();
        let mut acc = String::new();
        let comps: Vec<&str> = self.components().collect();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(c);
            out.push(Self(acc.clone()));
        }
        out
    }

    /// True if `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &ImagePath) -> bool {
        other.0.is_empty()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }

    /// Resolves a symlink target found at `self` to an image path, lexically.
    /// Absolute targets are taken from the image root; relative ones from the
    /// link's directory. `..` above the root is clamped to the root, exactly as
    /// the kernel does inside a chroot, so the result never escapes.
    pub fn resolve_link_target(&self, target: &str) -> ImagePath {
        let mut parts: Vec<String> = if target.starts_with('/') {
            Vec::new()
        } else {
            self.parent()
                .map(|p| p.components().map(String::from).collect())
                .unwrap_or_default()
        };
        for c in target.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c.to_string()),
            }
        }
        Self(parts.join("/"))
    }
}

impl fmt::Display for ImagePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.0)
    }
}

impl fmt::Debug for ImagePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.0)
    }
}

/// What kind of filesystem object an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// The target exactly as stored (may be relative or absolute).
    Symlink {
        target: String,
    },
    /// A hard link to another path in the same image.
    Hardlink {
        target: ImagePath,
    },
    CharDevice {
        major: u32,
        minor: u32,
    },
    BlockDevice {
        major: u32,
        minor: u32,
    },
    Fifo,
}

/// One filesystem entry with its metadata. Content travels separately, as a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: ImagePath,
    pub kind: EntryKind,
    /// Permission bits including setuid (0o4000), setgid (0o2000) and sticky (0o1000).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: String,
    pub gname: String,
    /// Content size for regular files; 0 otherwise.
    pub size: u64,
    pub mtime: u64,
    /// Extended attributes (PAX `SCHILY.xattr.*`), kept only when asked for.
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// abuild's SHA-1 of the content (regular files) or target (symlinks),
    /// from an apk package's data tar; always `None` for image layers. apk
    /// packages carry no other per-file digest, and apk's database records it.
    pub apk_sha1: Option<[u8; 20]>,
}

pub const S_ISUID: u32 = 0o4000;
pub const S_ISGID: u32 = 0o2000;
pub const S_ISVTX: u32 = 0o1000;

impl Entry {
    /// A new entry with root ownership, mtime 0 and no xattrs.
    pub fn new(path: ImagePath, kind: EntryKind, mode: u32) -> Self {
        Self {
            path,
            kind,
            mode,
            uid: 0,
            gid: 0,
            uname: String::new(),
            gname: String::new(),
            size: 0,
            mtime: 0,
            xattrs: BTreeMap::new(),
            apk_sha1: None,
        }
    }

    pub fn is_file(&self) -> bool {
        self.kind == EntryKind::File
    }
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }
    pub fn is_setuid_or_setgid(&self) -> bool {
        self.mode & (S_ISUID | S_ISGID) != 0
            && !self.is_dir()
            && !matches!(self.kind, EntryKind::Symlink { .. })
    }
    /// World-writable and not protected by the sticky bit (symlinks excluded:
    /// their mode bits mean nothing).
    pub fn is_world_writable_unsafe(&self) -> bool {
        if matches!(self.kind, EntryKind::Symlink { .. }) {
            return false;
        }
        self.mode & 0o002 != 0 && !(self.is_dir() && self.mode & S_ISVTX != 0)
    }
}

/// One event from reading a layer tar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerEvent {
    /// An entry; for regular files the content follows as a stream.
    Entry(Entry),
    /// `.wh.<name>`: the path is deleted from lower layers.
    Whiteout(ImagePath),
    /// `.wh..wh..opq` in a directory: everything below it in lower layers is hidden.
    Opaque(ImagePath),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(ImagePath::parse("./bin//sh/").unwrap().as_str(), "bin/sh");
        assert_eq!(ImagePath::parse("/").unwrap(), ImagePath::root());
        assert!(matches!(
            ImagePath::parse("a/../../etc"),
            Err(PathError::DotDot(_))
        ));
        assert!(ImagePath::parse("..").is_err());
    }

    #[test]
    fn resolves_links_without_escaping() {
        let p = ImagePath::parse("bin/sh").unwrap();
        assert_eq!(
            p.resolve_link_target("/bin/busybox").as_str(),
            "bin/busybox"
        );
        assert_eq!(p.resolve_link_target("busybox").as_str(), "bin/busybox");
        assert_eq!(
            p.resolve_link_target("../../../../etc/shadow").as_str(),
            "etc/shadow"
        );
    }

    #[test]
    fn ancestors_and_prefix() {
        let p = ImagePath::parse("a/b/c").unwrap();
        let a: Vec<_> = p
            .ancestors()
            .into_iter()
            .map(|x| x.as_str().to_string())
            .collect();
        assert_eq!(a, ["a", "a/b"]);
        assert!(p.starts_with(&ImagePath::parse("a/b").unwrap()));
        assert!(
            !ImagePath::parse("a/bc")
                .unwrap()
                .starts_with(&ImagePath::parse("a/b").unwrap())
        );
    }
}
