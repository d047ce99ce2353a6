//! Per-layer checks: SEC-001 (secret file names), SEC-002 (secret content),
//! and SH-001/PKG-001 for files that are shells or package managers by their
//! content (the one detector, [`crate::detect`]), over every layer blob, not
//! only the merged view.
//!
//! A file deleted or overwritten by a later layer is gone from the container's
//! view but still ships in the earlier layer's blob; anyone who pulls the
//! image can extract it. So both checks run on every layer's entries, report
//! the layer digest, and say when a later layer hid the file.

use super::distro_content::{self, DigestSink, FileDigests};
use super::report::Finding;
use crate::digest::Digest;
use crate::fs::{EntryKind, ImagePath, LayerEvent, MergedTree};
use crate::secrets::{self, FileScanner};
use std::io::{self, Read};

/// Bytes read per `read` call while streaming a file through the scanner.
const CHUNK: usize = 64 * 1024;
/// Findings per file and rule are merged; this caps distinct rules per file.
const MAX_RULES_PER_FILE: usize = 16;

/// The start of the note on a finding whose file a later layer hid.
pub const HIDDEN_NOTE: &str = "by the later layer";

/// A finding that a later layer may hide.
struct Tracked {
    path: ImagePath,
    layer_index: usize,
    finding: usize,
}

/// A hard link seen in a layer: another name of a file of that layer, which
/// keeps the file in the container when a later layer replaces or deletes
/// the name the finding was made under.
struct Link {
    layer_index: usize,
    target: ImagePath,
    path: ImagePath,
    alive: bool,
}

/// Streams layer entries past the secret detectors, in bounded memory (one
/// chunk plus the scanner's overlap window, whatever the file size).
pub struct LayerScanner {
    findings: Vec<Finding>,
    tracked: Vec<Tracked>,
    links: Vec<Link>,
    /// Digests of the layers seen so far, in order.
    layers: Vec<Digest>,
    /// What hid each tracked finding: (finding index, note).
    hidden: Vec<Option<String>>,
    /// Findings that may be distro content: (finding index, checksums).
    distro: Vec<(usize, FileDigests)>,
    buf: Vec<u8>,
}

impl Default for LayerScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerScanner {
    pub fn new() -> Self {
        Self {
            findings: Vec::new(),
            tracked: Vec::new(),
            links: Vec::new(),
            layers: Vec::new(),
            hidden: Vec::new(),
            distro: Vec::new(),
            buf: vec![0; CHUNK],
        }
    }

    /// Index of `layer` in the order seen; a new digest starts a new layer.
    fn layer_index(&mut self, layer: &Digest) -> usize {
        if self.layers.last() != Some(layer) {
            self.layers.push(layer.clone());
        }
        self.layers.len() - 1
    }

    /// Observes one event of `layer`. Layers must be fed bottom-up and events in
    /// tar order. For files, `content` is read to its end; the error is the
    /// stream's read error (a corrupt or truncated layer).
    pub fn observe(
        &mut self,
        layer: &Digest,
        ev: &LayerEvent,
        content: &mut dyn Read,
    ) -> io::Result<()> {
        let (found, candidate) = match ev {
            LayerEvent::Entry(e) if matches!(e.kind, EntryKind::File) => {
                scan_content_digested(layer, &e.path, content, &mut self.buf)?
            }
            _ => (Vec::new(), None),
        };
        self.observe_scanned_digested(layer, ev, found, candidate);
        Ok(())
    }

    /// [`Self::observe_scanned`] with the file's [`DistroCandidate`], from
    /// [`scan_content_digested`].
    pub fn observe_scanned_digested(
        &mut self,
        layer: &Digest,
        ev: &LayerEvent,
        found: Vec<Finding>,
        candidate: Option<DistroCandidate>,
    ) {
        let first = self.findings.len();
        let n = found.len();
        self.observe_scanned(layer, ev, found);
        // `observe_scanned` pushes a regular file's findings in order.
        if let (Some(c), LayerEvent::Entry(e)) = (candidate, ev)
            && e.is_file()
            && self.findings.len() == first + n
        {
            for i in c.eligible {
                if i < n {
                    self.distro.push((first + i, c.digests.clone()));
                }
            }
        }
    }

    /// [`Self::observe`] for a file whose content was already scanned by
    /// [`scan_content`] (possibly on another thread, which is how audits
    /// read several layers at once); `found` are its findings, empty for
    /// anything but a regular file.
    pub fn observe_scanned(&mut self, layer: &Digest, ev: &LayerEvent, found: Vec<Finding>) {
        let idx = self.layer_index(layer);
        match ev {
            LayerEvent::Whiteout(p) => {
                self.hide(idx, |t| t.starts_with(p), "deleted");
            }
            LayerEvent::Opaque(d) => {
                self.hide(
                    idx,
                    |t| t != d && t.starts_with(d),
                    "hidden (opaque directory)",
                );
            }
            LayerEvent::Entry(e) => {
                self.hide(idx, |t| t == &e.path, "overwritten");
                match &e.kind {
                    EntryKind::File => {
                        for f in found {
                            self.push(idx, &e.path, f);
                        }
                    }
                    EntryKind::Hardlink { target } => {
                        self.links.push(Link {
                            layer_index: idx,
                            target: target.clone(),
                            path: e.path.clone(),
                            alive: true,
                        });
                        if let Some(why) = secrets::secret_file_name(&e.path) {
                            let f = Finding::new(
                                "SEC-001",
                                Some(e.path.to_abs()),
                                format!("{}: {why}", e.path),
                            )
                            .in_layer(layer);
                            self.push(idx, &e.path, f);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn push(&mut self, idx: usize, path: &ImagePath, f: Finding) {
        self.tracked.push(Tracked {
            path: path.clone(),
            layer_index: idx,
            finding: self.findings.len(),
        });
        self.findings.push(f);
        self.hidden.push(None);
    }

    fn hide(&mut self, idx: usize, covers: impl Fn(&ImagePath) -> bool, how: &str) {
        for l in &mut self.links {
            if l.layer_index < idx && covers(&l.path) {
                l.alive = false;
            }
        }
        let by = self
            .layers
            .get(idx)
            .map(|d| d.to_string())
            .unwrap_or_default();
        for t in &mut self.tracked {
            if !(t.layer_index < idx && covers(&t.path)) {
                continue;
            }
            let Some(slot) = self.hidden.get_mut(t.finding) else {
                continue;
            };
            if slot.is_some() {
                continue;
            }
            if let Some(alias) = surviving_alias(&self.links, t.layer_index, &t.path) {
                // The container still has the file, under the link's name:
                // the finding moves there and stays in force.
                if let Some(f) = self.findings.get_mut(t.finding) {
                    f.message.push_str(&format!(
                        "; {how} by the later layer {by}, but its hard link {} keeps this \
                         file in the container",
                        alias.to_abs()
                    ));
                    f.path = Some(alias.to_abs());
                }
                t.path = alias;
                continue;
            }
            *slot = Some(format!(
                "; {how} {HIDDEN_NOTE} {by}, but still shipped in this layer's blob"
            ));
        }
    }

    /// [`Self::finish`], after judging the key-material findings against the
    /// package databases of the finished merged view: a verified distro file
    /// gets the info-level SEC-004 naming its package instead of SEC-002
    /// (see [`super::distro_content`]). `layers` are the image's layer
    /// digests in order (the tree's layer indices), and `trusted` says which
    /// layers may be exempted or vouch (never those the build wrote).
    pub fn finish_judged(
        mut self,
        tree: &MergedTree,
        layers: &[Digest],
        trusted: &dyn Fn(&Digest) -> bool,
    ) -> Vec<Finding> {
        let by_index = |i: usize| layers.get(i).is_some_and(trusted);
        for (i, digests) in std::mem::take(&mut self.distro) {
            let Some(f) = self.findings.get_mut(i) else {
                continue;
            };
            if f.id != "SEC-002" || !f.layer.as_ref().is_some_and(trusted) {
                continue;
            }
            let Some(path) = f.path.as_deref().and_then(|p| ImagePath::parse(p).ok()) else {
                continue;
            };
            if let Some(owner) = distro_content::verified_owner(tree, &path, &digests, &by_index) {
                *f = Finding::new(
                    "SEC-004",
                    f.path.clone(),
                    format!(
                        "{} (content verified against the {} database: a file of the package {})",
                        f.message, owner.db, owner.package
                    ),
                )
                .in_layer_opt(f.layer.clone());
            }
        }
        self.finish()
    }

    /// The findings, with a note on those a later layer deleted or replaced.
    pub fn finish(self) -> Vec<Finding> {
        self.findings
            .into_iter()
            .zip(self.hidden)
            .map(|(mut f, note)| {
                if let Some(n) = note {
                    f.message.push_str(&n);
                }
                f
            })
            .collect()
    }
}

/// A name under which a file of layer `layer` first seen at `path` still
/// exists: a live hard link to it, or to one of its (dead) links, of the
/// same layer. Links only point at earlier entries, so the walk ends.
fn surviving_alias(links: &[Link], layer: usize, path: &ImagePath) -> Option<ImagePath> {
    let mut names = vec![path.clone()];
    let mut i = 0;
    while let Some(name) = names.get(i).cloned() {
        for l in links
            .iter()
            .filter(|l| l.layer_index == layer && l.target == name)
        {
            if l.alive {
                return Some(l.path.clone());
            }
            if !names.contains(&l.path) {
                names.push(l.path.clone());
            }
        }
        i += 1;
    }
    None
}

/// The SEC-001 (secret file by name, with its content where the name needs
/// it) and SEC-002 (secret content, also inside archives) findings for one
/// regular file of `layer`, reading `content` to its end through `buf` (any
/// size; one chunk is read at a time). The decision is
/// [`secrets::FileScanner`]'s, the same one artifact intake makes.
pub fn scan_content(
    layer: &Digest,
    path: &ImagePath,
    content: &mut dyn Read,
    buf: &mut [u8],
) -> io::Result<Vec<Finding>> {
    scan_content_digested(layer, path, content, buf).map(|(f, _)| f)
}

/// A file whose key-material findings may be distro content
/// ([`super::distro_content`]): its checksums, and which of its findings
/// (indices into the returned findings) the exemption may apply to.
#[derive(Clone, Debug)]
pub struct DistroCandidate {
    pub digests: FileDigests,
    pub eligible: Vec<usize>,
}

/// [`scan_content`], also hashing an in-scope ELF file while it streams, so
/// that its key-material findings can later be checked against the package
/// databases. `None` when no finding is eligible. The shell and package
/// manager verdict ([`crate::detect`]) comes from the same read.
pub fn scan_content_digested(
    layer: &Digest,
    path: &ImagePath,
    content: &mut dyn Read,
    buf: &mut [u8],
) -> io::Result<(Vec<Finding>, Option<DistroCandidate>)> {
    let mut scanner = FileScanner::new(path);
    if buf.is_empty() {
        // Nothing can be read through an empty buffer; judge the name alone.
        return Ok((findings(layer, path, scanner.finish()), None));
    }
    let mut program = crate::detect::ContentDetector::new();
    let mut sink = DigestSink::for_path(path);
    loop {
        let n = match content.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or(&[]);
        scanner.feed(chunk);
        program.feed(chunk);
        sink.feed(chunk);
    }
    let (mut out, eligible) = findings_marked(layer, path, scanner.finish());
    if let Some(e) = program.finish() {
        let id = match e.kind {
            crate::detect::Kind::Shell => "SH-001",
            crate::detect::Kind::PackageManager => "PKG-001",
        };
        out.push(Finding::new(id, Some(path.to_abs()), format!("{path} is {e}")).in_layer(layer));
    }
    let candidate = match sink.finish() {
        Some(digests) if !eligible.is_empty() => Some(DistroCandidate { digests, eligible }),
        _ => None,
    };
    Ok((out, candidate))
}

/// Turns the detector's hits for one file into SEC-001/SEC-002 findings: one
/// per rule and file (and archive member), the first offset plus a count.
pub fn findings(layer: &Digest, path: &ImagePath, hits: Vec<secrets::SecretHit>) -> Vec<Finding> {
    findings_marked(layer, path, hits).0
}

/// [`findings`], with the indices of the findings whose rule the distro
/// content exemption may apply to ([`distro_content::EXEMPTABLE_RULES`]).
fn findings_marked(
    layer: &Digest,
    path: &ImagePath,
    hits: Vec<secrets::SecretHit>,
) -> (Vec<Finding>, Vec<usize>) {
    let mut out = Vec::new();
    let mut eligible = Vec::new();
    let mut per_rule: Vec<(secrets::SecretHit, usize)> = Vec::new();
    for h in hits {
        if let Some((_, n)) = per_rule
            .iter_mut()
            .find(|(r, _)| r.rule == h.rule && r.member == h.member)
        {
            *n += 1;
        } else if per_rule.len() < MAX_RULES_PER_FILE {
            per_rule.push((h, 1));
        }
    }
    for (h, n) in per_rule {
        let inside = h
            .member
            .as_ref()
            .map(|m| format!(" (archive member {m})"))
            .unwrap_or_default();
        if h.is_file_rule() {
            out.push(
                Finding::new(
                    "SEC-001",
                    Some(path.to_abs()),
                    format!("{path}{inside}: {}", h.description),
                )
                .in_layer(layer),
            );
            continue;
        }
        let at = h
            .offset
            .map(|o| format!(" at byte {o}"))
            .unwrap_or_default();
        let more = if n > 1 {
            format!(" ({} more matches)", n - 1)
        } else {
            String::new()
        };
        if distro_content::EXEMPTABLE_RULES.contains(&h.rule) {
            eligible.push(out.len());
        }
        out.push(
            Finding::new(
                "SEC-002",
                Some(path.to_abs()),
                format!(
                    "{path}{inside}: {} [{}]{at}: {}{more}",
                    h.description, h.rule, h.preview
                ),
            )
            .in_layer(layer),
        );
    }
    (out, eligible)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::Entry;

    fn file(path: &str) -> LayerEvent {
        LayerEvent::Entry(Entry::new(
            ImagePath::parse(path).unwrap(),
            EntryKind::File,
            0o644,
        ))
    }

    const TOKEN: &[u8] = b"ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";

    #[test]
    fn finds_secret_straddling_chunks_in_a_large_file() {
        let mut data = vec![b'a'; CHUNK * 3 - 10];
        data.push(b' ');
        data.extend_from_slice(TOKEN);
        data.push(b'\n');
        data.extend(std::iter::repeat_n(b'z', CHUNK));
        let l = Digest::of(b"1");
        let mut s = LayerScanner::new();
        s.observe(&l, &file("big.bin"), &mut &data[..]).unwrap();
        let f = s.finish();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].id, "SEC-002");
        assert!(
            f[0].message.contains(&format!("at byte {}", CHUNK * 3 - 9)),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn opaque_whiteout_and_overwrite_notes() {
        let (l1, l2) = (Digest::of(b"1"), Digest::of(b"2"));
        let mut s = LayerScanner::new();
        s.observe(&l1, &file("a/one.txt"), &mut &TOKEN[..]).unwrap();
        s.observe(&l1, &file("b/two.txt"), &mut &TOKEN[..]).unwrap();
        s.observe(&l1, &file("c/id_ed25519"), &mut &b"x"[..])
            .unwrap();
        s.observe(&l1, &file("d/keep.txt"), &mut &TOKEN[..])
            .unwrap();
        let a = ImagePath::parse("a").unwrap();
        s.observe(&l2, &LayerEvent::Opaque(a), &mut std::io::empty())
            .unwrap();
        s.observe(&l2, &file("b/two.txt"), &mut &b"clean"[..])
            .unwrap();
        let c = ImagePath::parse("c/id_ed25519").unwrap();
        s.observe(&l2, &LayerEvent::Whiteout(c), &mut std::io::empty())
            .unwrap();
        // A same-layer rewrite does not count as hiding.
        s.observe(&l2, &file("e/new.txt"), &mut &TOKEN[..]).unwrap();
        s.observe(&l2, &file("e/new.txt"), &mut &TOKEN[..]).unwrap();
        let f = s.finish();
        let get = |p: &str| f.iter().find(|f| f.path.as_deref() == Some(p)).unwrap();
        assert!(
            get("/a/one.txt")
                .message
                .contains("hidden (opaque directory)")
        );
        assert!(get("/b/two.txt").message.contains("overwritten"));
        let key = get("/c/id_ed25519");
        assert_eq!(key.id, "SEC-001");
        assert!(key.message.contains("deleted"));
        assert!(!get("/d/keep.txt").message.contains("later layer"));
        assert!(
            f.iter()
                .filter(|f| f.path.as_deref() == Some("/e/new.txt"))
                .all(|f| f.layer.as_ref() == Some(&l2) && !f.message.contains("later"))
        );
        assert!(f.iter().all(|f| !f.message.contains("0123456789abcdef")));
    }

    #[test]
    fn read_errors_propagate() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated"))
            }
        }
        let mut s = LayerScanner::new();
        assert!(
            s.observe(&Digest::of(b"1"), &file("x"), &mut Broken)
                .is_err()
        );
    }
}
