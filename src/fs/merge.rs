//! The merged filesystem view: what a container would see after all layers are
//! applied in order, following the OCI image-spec changeset rules.
//!
//! The tree holds metadata only, plus the full content of a few small files that
//! the policy engine, the SBOM readers and the hardening planner need to read
//! (account databases, package databases, os-release). Everything else is
//! streamed past and never kept, so a multi-gigabyte image costs only its entry
//! count in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::ops::Bound;

use super::entry::{Entry, EntryKind, ImagePath, LayerEvent};

/// The old path of [`super::load::load_tree`], kept so callers need no edit.
/// Only a re-export: nothing in this file uses the layer reader.
pub use super::load::load_tree;

/// Symlink hops allowed while resolving one path; the same limit Linux uses
/// (`MAXSYMLINKS`), so a path that resolves here resolves in a container too.
pub const MAX_SYMLINK_HOPS: usize = 40;

/// Default size limit for captured file contents. Package databases of large
/// distributions reach a few MiB; anything bigger is not a real database.
pub const DEFAULT_CAPTURE_LIMIT: u64 = 32 * 1024 * 1024;

/// One path in the merged view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub entry: Entry,
    /// Index of the layer that last wrote this path (as passed to `apply`).
    pub layer: usize,
    /// True for directories that no layer listed but that must exist because a
    /// path below them does (many real images omit parent directory entries).
    /// Their metadata (0755, root-owned) is what container runtimes create.
    pub implicit: bool,
}

/// Error while applying an event to the tree.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(
        "reading the content of {path} (layer {layer}) to capture it failed: {source}; \
         the layer stream is probably truncated or corrupt, re-pull the image"
    )]
    Capture {
        path: ImagePath,
        layer: usize,
        #[source]
        source: io::Error,
    },
}

/// What happened to a file that matched the capture set.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Captured {
    Bytes(Vec<u8>),
    /// Larger than the limit; holds the size seen.
    TooBig(u64),
}

/// Which files have their content kept in memory while layers are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureSet {
    paths: BTreeSet<ImagePath>,
    dirs: Vec<ImagePath>,
    /// Files directly in a directory whose name ends with a suffix.
    suffixed: Vec<(ImagePath, String)>,
    limit: u64,
}

impl CaptureSet {
    /// The files ironhull's own readers need: account databases, package
    /// databases and release files.
    pub fn standard() -> Self {
        let mut s = Self::none();
        for p in [
            "etc/passwd",
            "etc/group",
            "etc/shadow",
            "etc/gshadow",
            "etc/os-release",
            "usr/lib/os-release",
            "etc/alpine-release",
            "etc/debian_version",
            "lib/apk/db/installed",
            "usr/lib/apk/db/installed",
            "var/lib/dpkg/status",
        ] {
            s = s.with_path(p);
        }
        // dpkg's checksums: which package a file belongs to, and whether its
        // bytes are the package's (`policy::distro_content`).
        s.with_dir("var/lib/dpkg/status.d")
            .with_suffix_in("var/lib/dpkg/info", ".md5sums")
    }

    /// Captures nothing.
    pub fn none() -> Self {
        Self {
            paths: BTreeSet::new(),
            dirs: Vec::new(),
            suffixed: Vec::new(),
            limit: DEFAULT_CAPTURE_LIMIT,
        }
    }

    /// Adds one exact path. A path that cannot be an image path (contains `..`
    /// or NUL) can never match an entry, so it is ignored rather than stored.
    pub fn with_path(mut self, p: &str) -> Self {
        if let Ok(p) = ImagePath::parse(p) {
            self.paths.insert(p);
        }
        self
    }

    /// Adds every file below a directory (at any depth). Invalid paths are
    /// ignored, as in `with_path`.
    pub fn with_dir(mut self, p: &str) -> Self {
        if let Ok(p) = ImagePath::parse(p) {
            self.dirs.push(p);
        }
        self
    }

    /// Adds every file directly in `dir` whose name ends with `suffix`.
    /// Invalid paths are ignored, as in `with_path`.
    pub fn with_suffix_in(mut self, dir: &str, suffix: &str) -> Self {
        if let Ok(p) = ImagePath::parse(dir) {
            self.suffixed.push((p, suffix.to_string()));
        }
        self
    }

    /// Sets the per-file size limit; larger files are recorded as too big.
    pub fn with_limit(mut self, bytes: u64) -> Self {
        self.limit = bytes;
        self
    }

    /// The per-file size limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// True if a regular file at `p` should have its content captured.
    pub fn matches(&self, p: &ImagePath) -> bool {
        self.paths.contains(p)
            || self.dirs.iter().any(|d| p != d && p.starts_with(d))
            || self.suffixed.iter().any(|(d, suffix)| {
                p.file_name().ends_with(suffix.as_str()) && p.parent().as_ref() == Some(d)
            })
    }
}

impl Default for CaptureSet {
    fn default() -> Self {
        Self::standard()
    }
}

/// The merged view of an image's layers.
#[derive(Clone, Debug)]
pub struct MergedTree {
    nodes: BTreeMap<ImagePath, Node>,
    contents: BTreeMap<ImagePath, Captured>,
    capture: CaptureSet,
    /// Returned for the root when no layer carried a `./` entry.
    implicit_root: Node,
    /// Hard links by target path, as applied (checked lazily: an entry whose
    /// link was since replaced is skipped). See [`MergedTree::detach_links`].
    links: BTreeMap<ImagePath, Vec<ImagePath>>,
}

impl Default for MergedTree {
    fn default() -> Self {
        Self::new()
    }
}

fn implicit_dir(path: ImagePath, layer: usize) -> Node {
    Node {
        entry: Entry::new(path, EntryKind::Dir, 0o755),
        layer,
        implicit: true,
    }
}

/// Every key of `map` that is `p` or lies below it. Keys sharing the string
/// prefix of `p` are contiguous in the map's order, so this scans only them.
fn subtree_keys<V>(map: &BTreeMap<ImagePath, V>, p: &ImagePath) -> Vec<ImagePath> {
    map.range(p.clone()..)
        .take_while(|(k, _)| k.as_str().starts_with(p.as_str()))
        .filter(|(k, _)| k.starts_with(p))
        .map(|(k, _)| k.clone())
        .collect()
}

impl MergedTree {
    /// An empty tree that captures no file contents.
    pub fn new() -> Self {
        Self::with_capture(CaptureSet::none())
    }

    /// An empty tree that keeps the content of files matching `capture`.
    pub fn with_capture(capture: CaptureSet) -> Self {
        Self {
            nodes: BTreeMap::new(),
            contents: BTreeMap::new(),
            capture,
            implicit_root: implicit_dir(ImagePath::root(), 0),
            links: BTreeMap::new(),
        }
    }

    /// Applies one event of layer `layer`. Layers must be applied bottom-up;
    /// events of one layer in tar order. For regular files that match the
    /// capture set, `content` is read (up to the limit); otherwise it is not
    /// touched and the caller drains it.
    pub fn apply(
        &mut self,
        layer: usize,
        ev: &LayerEvent,
        content: &mut dyn Read,
    ) -> Result<(), MergeError> {
        match ev {
            LayerEvent::Entry(e) => {
                let captured = if e.is_file() && self.capture.matches(&e.path) {
                    Some(self.read_capture(layer, e, content)?)
                } else {
                    None
                };
                self.insert(layer, e.clone());
                if let Some(c) = captured {
                    self.contents.insert(e.path.clone(), c);
                }
            }
            LayerEvent::Whiteout(p) => {
                // Only lower layers are hidden; entries of this same layer stay.
                self.remove_where(p, true, layer);
                self.repair_parents(p, layer);
            }
            LayerEvent::Opaque(dir) => {
                match self.nodes.get(dir) {
                    Some(n) if n.entry.is_dir() => {}
                    _ if dir.is_root() => {}
                    _ => self.insert_node(dir.clone(), implicit_dir(dir.clone(), layer)),
                }
                self.remove_where(dir, false, layer);
                self.repair_parents(dir, layer);
            }
        }
        Ok(())
    }

    fn read_capture(
        &self,
        layer: usize,
        e: &Entry,
        content: &mut dyn Read,
    ) -> Result<Captured, MergeError> {
        let limit = self.capture.limit;
        if e.size > limit {
            return Ok(Captured::TooBig(e.size));
        }
        let mut buf = Vec::new();
        content
            .take(limit.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|source| MergeError::Capture {
                path: e.path.clone(),
                layer,
                source,
            })?;
        if buf.len() as u64 > limit {
            return Ok(Captured::TooBig(buf.len() as u64));
        }
        Ok(Captured::Bytes(buf))
    }

    /// Inserts an entry, replacing whatever was at its path. A non-directory
    /// replacing a directory removes the whole subtree (as overlayfs does);
    /// a directory over a directory keeps the children. Missing parents, or
    /// parents that are not directories, become implicit directories.
    /// A non-directory entry for the root is ignored: the root is always a
    /// directory (the layer reader rejects such entries).
    ///
    /// Hard links of lower layers to a path this replaces are detached first
    /// ([`Self::detach_links`]); inserting at a node's own layer (how the
    /// hardening planner edits the view) detaches nothing.
    pub fn insert(&mut self, layer: usize, entry: Entry) {
        if entry.path.is_root() && !entry.is_dir() {
            return;
        }
        let path = entry.path.clone();
        self.ensure_parents(&path, layer);
        if let EntryKind::Hardlink { target } = &entry.kind {
            self.links
                .entry(target.clone())
                .or_default()
                .push(path.clone());
        }
        let node = Node {
            entry,
            layer,
            implicit: false,
        };
        self.insert_node(path, node);
    }

    fn insert_node(&mut self, path: ImagePath, node: Node) {
        let layer = node.layer;
        let replaces_dir_with_non_dir = !node.entry.is_dir()
            && (self.nodes.get(&path).is_some_and(|old| old.entry.is_dir()) || path.is_root());
        if replaces_dir_with_non_dir {
            self.remove_at(&path, layer);
        }
        self.detach_links(&path, layer);
        self.contents.remove(&path);
        self.nodes.insert(path, node);
    }

    fn ensure_parents(&mut self, path: &ImagePath, layer: usize) {
        for a in path.ancestors() {
            match self.nodes.get(&a) {
                Some(n) if n.entry.is_dir() => {}
                _ => {
                    // Missing, or a non-directory from a lower layer that this
                    // layer's content implicitly replaces with a directory.
                    self.detach_links(&a, layer);
                    self.contents.remove(&a);
                    self.nodes.insert(a.clone(), implicit_dir(a, layer));
                }
            }
        }
    }

    /// Before layer `layer` replaces or removes `target`, turns every hard
    /// link of a lower layer to it into a copy of the file as it is now.
    ///
    /// Why: a runtime unpacks a hard link as a second name of the target's
    /// inode. When a later layer replaces or deletes the target, the link
    /// keeps the old inode, its content, mode and owner. A view that kept
    /// following the link to the new file would judge a harmless file while
    /// the container runs the old one (a setuid helper or an account file
    /// behind an innocent name). The copy keeps the link's own layer, since
    /// that layer's blob is where the bytes ship.
    fn detach_links(&mut self, target: &ImagePath, layer: usize) {
        let Some(links) = self.links.remove(target) else {
            return;
        };
        let Some(old) = self.nodes.get(target).cloned() else {
            return;
        };
        let old_content = self.contents.get(target).cloned();
        let mut still = Vec::new();
        for l in links {
            let Some(n) = self.nodes.get(&l) else {
                continue;
            };
            if !matches!(&n.entry.kind, EntryKind::Hardlink { target: t } if t == target) {
                continue; // replaced since it was linked
            }
            if n.layer >= layer {
                still.push(l);
                continue;
            }
            let mut entry = old.entry.clone();
            entry.path = l.clone();
            if let EntryKind::Hardlink { target: deeper } = &entry.kind {
                // The target was itself a link: the copy is another name of
                // the same file, and must be detached when that one goes.
                self.links
                    .entry(deeper.clone())
                    .or_default()
                    .push(l.clone());
            }
            let copy = Node {
                entry,
                layer: n.layer,
                implicit: false,
            };
            self.nodes.insert(l.clone(), copy);
            match &old_content {
                Some(c) => self.contents.insert(l, c.clone()),
                None => self.contents.remove(&l),
            };
        }
        if !still.is_empty() {
            self.links.insert(target.clone(), still);
        }
    }

    /// After removing lower-layer entries below `p`, entries of the current
    /// layer may be left without their (lower-layer) parents; recreate them.
    fn repair_parents(&mut self, p: &ImagePath, layer: usize) {
        for k in subtree_keys(&self.nodes, p) {
            self.ensure_parents(&k, layer);
        }
    }

    /// Removes the entries of layers below `layer` at or below `p` (a
    /// whiteout or, without `p` itself, an opaque directory).
    fn remove_where(&mut self, p: &ImagePath, include_self: bool, layer: usize) {
        for k in subtree_keys(&self.nodes, p) {
            if !include_self && &k == p {
                continue;
            }
            if self.nodes.get(&k).is_some_and(|n| n.layer < layer) {
                self.detach_links(&k, layer);
                self.nodes.remove(&k);
                self.contents.remove(&k);
            }
        }
    }

    /// Removes `p` and everything below it. Removing the root empties the tree.
    /// This edits the view (the hardening planner dropping what it removed);
    /// it detaches no hard links, since the links go too.
    pub fn remove(&mut self, p: &ImagePath) {
        self.remove_at(p, 0);
    }

    /// [`Self::remove`] on behalf of layer `layer`: lower-layer hard links to
    /// removed files are detached first.
    fn remove_at(&mut self, p: &ImagePath, layer: usize) {
        for k in subtree_keys(&self.nodes, p) {
            self.detach_links(&k, layer);
            self.nodes.remove(&k);
        }
        for k in subtree_keys(&self.contents, p) {
            self.contents.remove(&k);
        }
    }

    /// The node at exactly `p` (symlinks not followed). The root always exists.
    pub fn get(&self, p: &ImagePath) -> Option<&Node> {
        match self.nodes.get(p) {
            Some(n) => Some(n),
            None if p.is_root() => Some(&self.implicit_root),
            None => None,
        }
    }

    /// The captured content of the file at `p`. A hard link yields the content
    /// of its target (through chains of links) when that was captured.
    pub fn content(&self, p: &ImagePath) -> Option<&[u8]> {
        let mut key = p;
        // Each link's target precedes it in its layer, so chains end; the
        // bound only guards against a tree edited into a cycle.
        for _ in 0..=MAX_SYMLINK_HOPS {
            match self.nodes.get(key).map(|n| &n.entry.kind) {
                Some(EntryKind::Hardlink { target }) => key = target,
                Some(_) => break,
                None => return None,
            }
        }
        match self.contents.get(key) {
            Some(Captured::Bytes(b)) => Some(b),
            _ => None,
        }
    }

    /// If the file at `p` matched the capture set but was larger than the
    /// limit, its size; lets callers report "not checked: too big" truthfully
    /// instead of "missing".
    pub fn capture_too_big(&self, p: &ImagePath) -> Option<u64> {
        match self.contents.get(p) {
            Some(Captured::TooBig(n)) => Some(*n),
            _ => None,
        }
    }

    /// Replaces the captured content of `p` (e.g. after the hardening planner
    /// rewrote a package database). Does nothing if `p` is not in the tree.
    pub fn set_content(&mut self, p: &ImagePath, bytes: Vec<u8>) {
        if self.nodes.contains_key(p) {
            self.contents.insert(p.clone(), Captured::Bytes(bytes));
        }
    }

    /// Resolves `p` following symlinks in every component, including the last,
    /// like the kernel inside a chroot: `..` stops at the root, absolute targets
    /// restart at the image root. Returns the final path and its node, or
    /// `None` if a component is missing, a non-final component is not a
    /// directory, or more than `MAX_SYMLINK_HOPS` links were followed (a loop).
    pub fn resolve(&self, p: &ImagePath) -> Option<(ImagePath, &Node)> {
        let path = resolve_with(&|q| self.get(q).map(|n| n.entry.kind.clone()), p)?;
        let node = self.get(&path)?;
        Some((path, node))
    }

    /// All nodes sorted by path (the root only if a layer carried it).
    pub fn iter(&self) -> impl Iterator<Item = (&ImagePath, &Node)> {
        self.nodes.iter()
    }

    /// Direct children of `dir`, sorted by path. Deeper subtrees are skipped
    /// with a range seek, so walking a whole tree with this is not quadratic.
    pub fn children<'a>(
        &'a self,
        dir: &ImagePath,
    ) -> impl Iterator<Item = (&'a ImagePath, &'a Node)> + 'a {
        let dir = dir.clone();
        let mut from: Bound<ImagePath> = Bound::Excluded(dir.clone());
        let mut done = false;
        std::iter::from_fn(move || {
            while !done {
                let Some((k, n)) = self.nodes.range((from.clone(), Bound::Unbounded)).next() else {
                    done = true;
                    break;
                };
                if !k.as_str().starts_with(dir.as_str()) {
                    done = true;
                    break;
                }
                from = Bound::Excluded(k.clone());
                let rel = if dir.is_root() {
                    k.as_str()
                } else if k.starts_with(&dir) && k != &dir {
                    k.as_str().get(dir.as_str().len() + 1..).unwrap_or("")
                } else {
                    // A sibling sharing the name prefix (`a-b` for `a`).
                    continue;
                };
                match rel.split_once('/') {
                    None => return Some((k, n)),
                    Some((child, _)) => {
                        // Everything below `child` sorts in [`child/`, `child0`).
                        let skip_to = if dir.is_root() {
                            format!("{child}0")
                        } else {
                            format!("{}/{child}0", dir.as_str())
                        };
                        if let Ok(p) = ImagePath::parse(&skip_to) {
                            from = Bound::Included(p);
                        }
                    }
                }
            }
            None
        })
    }

    /// Number of nodes (the root counts only if a layer carried it).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// [`MergedTree::resolve`] over any view of a tree: `kind_of` says what is at
/// a path (`None`: nothing). The package installer resolves through the base
/// plus the packages installed so far with it, so both follow one set of
/// rules. Returns the final path, which exists.
pub fn resolve_with(
    kind_of: &dyn Fn(&ImagePath) -> Option<EntryKind>,
    p: &ImagePath,
) -> Option<ImagePath> {
    let mut resolved: Vec<String> = Vec::new();
    // Components still to walk, in reverse order so `pop` gives the next.
    let mut pending: Vec<String> = p.components().map(String::from).collect();
    pending.reverse();
    let mut hops = 0usize;
    while let Some(c) = pending.pop() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        resolved.push(c);
        let here = ImagePath::parse(&resolved.join("/")).ok()?;
        match kind_of(&here)? {
            EntryKind::Symlink { target } => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return None;
                }
                resolved.pop();
                if target.starts_with('/') {
                    resolved.clear();
                }
                pending.extend(target.split('/').rev().map(String::from));
            }
            EntryKind::Dir => {}
            _ if pending.iter().all(|c| c.is_empty() || c == ".") => {}
            // A file in the middle of a path: ENOTDIR.
            _ => return None,
        }
    }
    let path = ImagePath::parse(&resolved.join("/")).ok()?;
    kind_of(&path)?;
    Some(path)
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
