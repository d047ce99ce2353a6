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
use super::read::{LayerStats, ReadError, ReadOptions, read_layer};

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
            let node = self.get(&here)?;
            match &node.entry.kind {
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
    use crate::fs::read::tests::{T, alpine_fixture, gz};

    fn p(s: &str) -> ImagePath {
        ImagePath::parse(s).unwrap()
    }

    fn ent(path: &str, kind: EntryKind) -> LayerEvent {
        let mode = if kind == EntryKind::Dir { 0o755 } else { 0o644 };
        LayerEvent::Entry(Entry::new(p(path), kind, mode))
    }

    fn file(path: &str) -> LayerEvent {
        ent(path, EntryKind::File)
    }

    fn dir(path: &str) -> LayerEvent {
        ent(path, EntryKind::Dir)
    }

    fn link(path: &str, target: &str) -> LayerEvent {
        ent(
            path,
            EntryKind::Symlink {
                target: target.into(),
            },
        )
    }

    fn apply(t: &mut MergedTree, layer: usize, evs: &[LayerEvent]) {
        for ev in evs {
            t.apply(layer, ev, &mut io::empty()).unwrap();
        }
    }

    fn paths(t: &MergedTree) -> Vec<&str> {
        t.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn whiteout_hides_lower_layers_only() {
        let mut t = MergedTree::new();
        apply(
            &mut t,
            0,
            &[
                dir("etc"),
                file("etc/shadow"),
                dir("etc/ssl"),
                file("etc/ssl/cert"),
            ],
        );
        apply(
            &mut t,
            1,
            &[
                LayerEvent::Whiteout(p("etc/ssl")),
                LayerEvent::Whiteout(p("etc/shadow")),
            ],
        );
        assert_eq!(paths(&t), ["etc"]);
        // A whiteout does not remove an entry of its own layer.
        apply(
            &mut t,
            2,
            &[file("etc/motd"), LayerEvent::Whiteout(p("etc/motd"))],
        );
        assert!(t.get(&p("etc/motd")).is_some());
        // Re-adding in a later layer works.
        apply(&mut t, 3, &[file("etc/shadow")]);
        assert_eq!(t.get(&p("etc/shadow")).map(|n| n.layer), Some(3));
    }

    #[test]
    fn opaque_hides_lower_children_but_keeps_same_layer_entries() {
        let mut t = MergedTree::new();
        apply(
            &mut t,
            0,
            &[
                dir("var"),
                dir("var/cache"),
                file("var/cache/a"),
                dir("var/cache/d"),
                file("var/cache/d/x"),
                file("var/keep"),
            ],
        );
        apply(
            &mut t,
            1,
            &[
                file("var/cache/before"),
                file("var/cache/d/new"),
                LayerEvent::Opaque(p("var/cache")),
                file("var/cache/after"),
            ],
        );
        assert_eq!(
            paths(&t),
            [
                "var",
                "var/cache",
                "var/cache/after",
                "var/cache/before",
                "var/cache/d",
                "var/cache/d/new",
                "var/keep"
            ]
        );
        // The lower `d` was hidden; the new one is implicit, from layer 1.
        let d = t.get(&p("var/cache/d")).unwrap();
        assert!(d.implicit);
        assert_eq!(d.layer, 1);
        // The opaque directory itself stays.
        assert!(t.get(&p("var/cache")).unwrap().entry.is_dir());
    }

    #[test]
    fn opaque_on_a_missing_dir_creates_it() {
        let mut t = MergedTree::new();
        apply(&mut t, 0, &[file("x")]);
        apply(&mut t, 1, &[LayerEvent::Opaque(p("x"))]);
        let n = t.get(&p("x")).unwrap();
        assert!(n.entry.is_dir() && n.implicit);
    }

    #[test]
    fn non_dir_replacing_dir_removes_subtree_and_dir_over_dir_merges() {
        let mut t = MergedTree::new();
        apply(
            &mut t,
            0,
            &[
                dir("a"),
                file("a/b"),
                dir("a/c"),
                file("a/c/d"),
                file("a-b"),
            ],
        );
        apply(&mut t, 1, &[dir("a"), file("a/e")]);
        assert_eq!(paths(&t), ["a", "a-b", "a/b", "a/c", "a/c/d", "a/e"]);
        apply(&mut t, 2, &[link("a", "elsewhere")]);
        assert_eq!(paths(&t), ["a", "a-b"]);
        // A lower file that an upper layer uses as a directory becomes one.
        apply(&mut t, 3, &[file("a/new")]);
        assert!(t.get(&p("a")).unwrap().entry.is_dir());
        assert!(t.get(&p("a")).unwrap().implicit);
    }

    #[test]
    fn implicit_parents_and_children() {
        let mut t = MergedTree::new();
        apply(
            &mut t,
            0,
            &[
                file("usr/lib/libc.so"),
                file("usr/bin/env"),
                file("usr/bin/x/y"),
            ],
        );
        let u = t.get(&p("usr")).unwrap();
        assert!(u.implicit && u.entry.is_dir() && u.entry.mode == 0o755 && u.entry.uid == 0);
        let kids: Vec<_> = t.children(&p("usr")).map(|(k, _)| k.as_str()).collect();
        assert_eq!(kids, ["usr/bin", "usr/lib"]);
        apply(&mut t, 0, &[file("usr-x"), file("usr/bin-y"), file("usr0")]);
        let kids: Vec<_> = t.children(&p("usr")).map(|(k, _)| k.as_str()).collect();
        assert_eq!(kids, ["usr/bin", "usr/bin-y", "usr/lib"]);
        assert_eq!(t.children(&p("usr/bin/env")).count(), 0);
        assert_eq!(t.children(&p("nope")).count(), 0);
        for x in ["usr-x", "usr/bin-y", "usr0"] {
            t.remove(&p(x));
        }
        let top: Vec<_> = t
            .children(&ImagePath::root())
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(top, ["usr"]);
        assert_eq!(t.len(), 7);
        assert!(!t.is_empty());
        // The root exists even when no layer carried it.
        assert!(t.get(&ImagePath::root()).unwrap().entry.is_dir());
        t.remove(&p("usr/bin"));
        assert_eq!(paths(&t), ["usr", "usr/lib", "usr/lib/libc.so"]);
        t.remove(&ImagePath::root());
        assert!(t.is_empty());
    }

    #[test]
    fn resolves_symlinks_like_a_chroot() {
        let mut t = MergedTree::new();
        apply(
            &mut t,
            0,
            &[
                dir("bin"),
                file("bin/busybox"),
                link("bin/sh", "/bin/busybox"),
                link("bin/ash", "busybox"),
                dir("usr"),
                dir("usr/lib"),
                file("usr/lib/libz.so"),
                link("lib", "usr/lib"),
                link("esc", "../../../../usr/lib/libz.so"),
                link("loop1", "loop2"),
                link("loop2", "/loop1"),
                link("self", "self"),
                link("dangling", "nowhere"),
                link("via_file", "bin/busybox/x"),
                link("up", "usr/lib/../../bin/./sh"),
            ],
        );
        let r = |s: &str| t.resolve(&p(s)).map(|(k, _)| k.as_str().to_string());
        assert_eq!(r("bin/sh").as_deref(), Some("bin/busybox"));
        assert_eq!(r("bin/ash").as_deref(), Some("bin/busybox"));
        assert_eq!(r("lib/libz.so").as_deref(), Some("usr/lib/libz.so"));
        assert_eq!(r("esc").as_deref(), Some("usr/lib/libz.so"));
        assert_eq!(r("up").as_deref(), Some("bin/busybox"));
        assert_eq!(r("lib").as_deref(), Some("usr/lib"));
        assert_eq!(r("").as_deref(), Some(""));
        assert_eq!(r("loop1"), None);
        assert_eq!(r("self"), None);
        assert_eq!(r("dangling"), None);
        assert_eq!(r("via_file"), None);
        assert_eq!(r("bin/busybox/x"), None);
        let (_, n) = t.resolve(&p("bin/sh")).unwrap();
        assert!(n.entry.is_file());
    }

    #[test]
    fn resolve_gives_up_after_forty_hops() {
        let mut t = MergedTree::new();
        let mut evs = vec![file("l40")];
        for i in 0..40 {
            evs.push(link(&format!("l{i}"), &format!("l{}", i + 1)));
        }
        apply(&mut t, 0, &evs);
        assert_eq!(t.resolve(&p("l0")).map(|(k, _)| k), Some(p("l40")));
        apply(&mut t, 0, &[link("m", "l0")]);
        assert_eq!(t.resolve(&p("m")), None);
    }

    #[test]
    fn captures_the_topmost_passwd() {
        let mut t = MergedTree::with_capture(CaptureSet::standard());
        let lower = b"root:x:0:0:root:/root:/bin/sh\n".to_vec();
        let upper = b"root:x:0:0:root:/root:/sbin/nologin\n".to_vec();
        let mut e = Entry::new(p("etc/passwd"), EntryKind::File, 0o644);
        e.size = lower.len() as u64;
        t.apply(0, &LayerEvent::Entry(e.clone()), &mut &lower[..])
            .unwrap();
        assert_eq!(t.content(&p("etc/passwd")), Some(&lower[..]));
        e.size = upper.len() as u64;
        t.apply(1, &LayerEvent::Entry(e), &mut &upper[..]).unwrap();
        assert_eq!(t.content(&p("etc/passwd")), Some(&upper[..]));
        // Files outside the set are not captured.
        let mut other = Entry::new(p("etc/motd"), EntryKind::File, 0o644);
        other.size = 2;
        t.apply(1, &LayerEvent::Entry(other), &mut &b"hi"[..])
            .unwrap();
        assert_eq!(t.content(&p("etc/motd")), None);
        // status.d files are captured by directory.
        let mut s = Entry::new(p("var/lib/dpkg/status.d/base"), EntryKind::File, 0o644);
        s.size = 3;
        t.apply(1, &LayerEvent::Entry(s), &mut &b"P:x"[..]).unwrap();
        assert_eq!(
            t.content(&p("var/lib/dpkg/status.d/base")),
            Some(&b"P:x"[..])
        );
        // A hard link shows its target's content.
        t.insert(
            2,
            Entry::new(
                p("etc/passwd-"),
                EntryKind::Hardlink {
                    target: p("etc/passwd"),
                },
                0o644,
            ),
        );
        assert_eq!(t.content(&p("etc/passwd-")), Some(&upper[..]));
        // A whiteout drops the content with the file.
        apply(&mut t, 3, &[LayerEvent::Whiteout(p("etc/passwd"))]);
        assert_eq!(t.content(&p("etc/passwd")), None);
        assert!(t.get(&p("etc/passwd")).is_none());
        // set_content only for paths in the tree.
        t.set_content(&p("etc/passwd"), b"x".to_vec());
        assert_eq!(t.content(&p("etc/passwd")), None);
        t.set_content(&p("etc/motd"), b"x".to_vec());
        assert_eq!(t.content(&p("etc/motd")), Some(&b"x"[..]));
        // Replacing the entry drops stale content.
        apply(&mut t, 4, &[file("etc/motd")]);
        assert_eq!(t.content(&p("etc/motd")), None);
    }

    /// What a runtime keeps when a later layer replaces or deletes a hard
    /// link's target: the link still names the old inode.
    #[test]
    fn later_layers_detach_hard_links_from_their_targets() {
        let base = || {
            T::new()
                .dir("opt/")
                .file_mode("opt/helper", 0o4755, b"old")
                .hardlink_owned("tool", "opt/helper", 0o4755, 0)
                .hardlink_owned("tool2", "tool", 0o4755, 0)
                .finish()
        };
        let cap = CaptureSet::none()
            .with_path("opt/helper")
            .with_path("tool")
            .with_path("tool2");
        let load = |upper: Vec<u8>| {
            let layers: Vec<(usize, Box<dyn Read + Send>)> = vec![
                (0, Box::new(io::Cursor::new(base()))),
                (1, Box::new(io::Cursor::new(upper))),
            ];
            load_tree(layers, &ReadOptions::default(), cap.clone())
                .unwrap()
                .0
        };
        let uppers = [
            (
                "replaced",
                T::new().file_mode("opt/helper", 0o755, b"new").finish(),
            ),
            ("whited out", T::new().file("opt/.wh.helper", b"").finish()),
            (
                "opaque dir",
                T::new().dir("opt/").file("opt/.wh..wh..opq", b"").finish(),
            ),
            ("parent replaced", T::new().file("opt", b"").finish()),
        ];
        for (how, upper) in uppers {
            let t = load(upper);
            let n = t.get(&p("tool")).unwrap();
            assert_eq!(
                n.entry.kind,
                EntryKind::File,
                "{how}: tool must be a file now"
            );
            assert_eq!(n.entry.mode, 0o4755, "{how}: tool keeps the setuid inode");
            assert_eq!(n.layer, 0, "{how}: tool ships in layer 0");
            // `tool2` still names the same inode, now through `tool`.
            for l in ["tool", "tool2"] {
                assert_eq!(t.content(&p(l)), Some(&b"old"[..]), "{how}: {l}");
            }
        }
        // Without a later change the links stay links, sharing the content.
        let layers: Vec<(usize, Box<dyn Read + Send>)> =
            vec![(0, Box::new(io::Cursor::new(base())))];
        let t = load_tree(layers, &ReadOptions::default(), cap.clone())
            .unwrap()
            .0;
        assert!(matches!(
            t.get(&p("tool2")).unwrap().entry.kind,
            EntryKind::Hardlink { .. }
        ));
        assert_eq!(t.content(&p("tool2")), Some(&b"old"[..]));
        // Replacing the middle link detaches the one behind it into a link
        // to the file itself, which in turn detaches when that one goes.
        let layers: Vec<(usize, Box<dyn Read + Send>)> = vec![
            (0, Box::new(io::Cursor::new(base()))),
            (
                1,
                Box::new(io::Cursor::new(T::new().file("tool", b"x").finish())),
            ),
            (
                2,
                Box::new(io::Cursor::new(
                    T::new().file("opt/.wh.helper", b"").finish(),
                )),
            ),
        ];
        let t = load_tree(layers, &ReadOptions::default(), cap).unwrap().0;
        assert_eq!(t.content(&p("tool")), Some(&b"x"[..]));
        assert_eq!(t.get(&p("tool2")).unwrap().entry.kind, EntryKind::File);
        assert_eq!(t.content(&p("tool2")), Some(&b"old"[..]));
    }

    #[test]
    fn oversized_captures_are_recorded_not_kept() {
        let cap = CaptureSet::none().with_path("etc/group").with_limit(4);
        let mut t = MergedTree::with_capture(cap);
        let mut e = Entry::new(p("etc/group"), EntryKind::File, 0o644);
        e.size = 10;
        t.apply(0, &LayerEvent::Entry(e.clone()), &mut &b"0123456789"[..])
            .unwrap();
        assert_eq!(t.content(&p("etc/group")), None);
        assert_eq!(t.capture_too_big(&p("etc/group")), Some(10));
        // A lying size field does not get past the limit either.
        e.size = 2;
        t.apply(1, &LayerEvent::Entry(e), &mut &b"0123456789"[..])
            .unwrap();
        assert_eq!(t.content(&p("etc/group")), None);
        assert_eq!(t.capture_too_big(&p("etc/group")), Some(5));
        assert!(!CaptureSet::none().with_path("../x").matches(&p("x")));
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
}
