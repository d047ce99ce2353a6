//! The streaming content scanner: one aho-corasick automaton over every rule
//! keyword, a bounded window, and the matchers of `rules` where a keyword hits.

use super::SecretHit;
use super::rules::{GCP_RULE, GCP_TYPE_KEYWORD, LOOKAHEAD, LOOKBEHIND, MAX_HITS, PIECE, RULES};

fn preview(kw: &[u8], len: usize) -> String {
    // Keywords are fixed, public format markers; the bytes after them are not
    // shown. For context keywords (`aws_secret_access_key`) this shows the key
    // name, which is not secret either.
    // Binary keywords (DER) are shown escaped.
    let kw = kw.escape_ascii();
    format!("{kw}… [REDACTED, {len} bytes]")
}

/// Scans a whole buffer for secrets. Equivalent to feeding it to a
/// [`ContentScanner`] in one go.
pub fn scan_content(bytes: &[u8]) -> Vec<SecretHit> {
    let mut s = ContentScanner::new();
    s.feed(bytes);
    s.finish()
}

/// Every rule keyword in one automaton, so the scanner finds candidates at
/// memory speed (aho-corasick's SIMD prefilter) instead of testing each byte;
/// `by_first_byte[b]` lists the (rule index, keyword) pairs whose keyword
/// starts with `b`, with `usize::MAX` for the GCP `"service_account"` marker.
struct Keywords {
    automaton: aho_corasick::AhoCorasick,
    by_first_byte: Vec<Vec<(usize, &'static [u8])>>,
    longest: usize,
}

fn keywords() -> &'static Keywords {
    static KEYWORDS: std::sync::OnceLock<Keywords> = std::sync::OnceLock::new();
    KEYWORDS.get_or_init(|| {
        let mut patterns: Vec<(usize, &'static [u8])> = Vec::new();
        for (i, r) in RULES.iter().enumerate() {
            for kw in r.keywords {
                patterns.push((i, *kw));
            }
        }
        patterns.push((usize::MAX, GCP_TYPE_KEYWORD));
        let longest = patterns.iter().map(|(_, k)| k.len()).max().unwrap_or(0);
        // The keyword set is a constant of this file, so building can only
        // fail if a keyword is made invalid by an edit; the unit tests build
        // it on every run. Falling back to an empty automaton would silently
        // disable the scan, so this is the one place that panics on a bug.
        let automaton = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(patterns.iter().map(|(_, k)| *k))
            .expect("secret keywords form a valid automaton");
        let mut by_first_byte: Vec<Vec<(usize, &'static [u8])>> = vec![Vec::new(); 256];
        for &(ri, kw) in &patterns {
            if let Some(&b) = kw.first() {
                by_first_byte[usize::from(b)].push((ri, kw));
            }
        }
        Keywords {
            automaton,
            by_first_byte,
            longest,
        }
    })
}

/// Streaming secret scanner with bounded memory: it keeps a window of at most
/// one piece (64 KiB) plus a `LOOKAHEAD` overlap, so matches that straddle
/// chunk borders are found and no chunk size makes it buffer a whole file.
pub struct ContentScanner {
    /// Bytes not yet fully scanned, plus `LOOKBEHIND` bytes of context.
    pub(super) buf: Vec<u8>,
    /// Absolute offset of `buf[0]`.
    base: u64,
    /// Index in `buf` of the next position to scan.
    pos: usize,
    hits: Vec<SecretHit>,
    /// Offset of a `"private_key": "-----BEGIN` field, held until we know
    /// whether this is a GCP service-account file.
    gcp_key_at: Option<(u64, usize)>,
    gcp_type_seen: bool,
}

impl Default for ContentScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl ContentScanner {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(PIECE + LOOKAHEAD + LOOKBEHIND),
            base: 0,
            pos: 0,
            hits: Vec::new(),
            gcp_key_at: None,
            gcp_type_seen: false,
        }
    }

    /// Feeds the next chunk of content.
    pub fn feed(&mut self, chunk: &[u8]) {
        for piece in chunk.chunks(PIECE) {
            self.buf.extend_from_slice(piece);
            let limit = self.buf.len().saturating_sub(LOOKAHEAD);
            self.scan_until(limit);
            self.compact();
        }
    }

    /// Scans the remaining bytes and returns all findings.
    pub fn finish(mut self) -> Vec<SecretHit> {
        let end = self.buf.len();
        self.scan_until(end);
        if let (Some((off, len)), true) = (self.gcp_key_at, self.gcp_type_seen)
            && let Some(rule) = RULES.iter().find(|r| r.id == GCP_RULE)
        {
            self.push(SecretHit {
                rule: rule.id,
                description: rule.description,
                offset: Some(off),
                preview: preview(b"\"private_key\"", len),
                member: None,
            });
        }
        self.hits
    }

    fn push(&mut self, hit: SecretHit) {
        if self.hits.len() < MAX_HITS {
            self.hits.push(hit);
        }
    }

    fn scan_until(&mut self, limit: usize) {
        let keywords = keywords();
        // Candidates must start before `limit`; their keyword may end up to
        // the longest keyword past it.
        let hay_end = (limit + keywords.longest).min(self.buf.len());
        while self.pos < limit {
            // The automaton only says where the next keyword starts
            // (leftmost-first, so no earlier start is skipped); every
            // keyword at that position is then checked, as before.
            let input = aho_corasick::Input::new(&self.buf[..hay_end]).span(self.pos..hay_end);
            let Some(m) = keywords.automaton.find(input) else {
                self.pos = limit;
                break;
            };
            let p = m.start();
            if p >= limit {
                self.pos = limit;
                break;
            }
            self.pos = p + 1;
            self.scan_at(p, keywords);
        }
    }

    /// Runs every rule whose keyword starts at `p`.
    fn scan_at(&mut self, p: usize, keywords: &Keywords) {
        let Some(first) = self.buf.get(p) else { return };
        let before = p.checked_sub(1).map(|i| self.buf[i]);
        let end = (p + LOOKAHEAD).min(self.buf.len());
        let mut found: Vec<SecretHit> = Vec::new();
        for &(ri, kw) in &keywords.by_first_byte[usize::from(*first)] {
            let window = &self.buf[p..end];
            if !window.starts_with(kw) {
                continue;
            }
            if ri == usize::MAX {
                self.gcp_type_seen = true;
                continue;
            }
            let Some(rule) = RULES.get(ri) else { continue };
            let Some(len) = (rule.matcher)(window, kw, before) else {
                continue;
            };
            if rule.id == GCP_RULE {
                if self.gcp_key_at.is_none() {
                    self.gcp_key_at = Some((self.base + p as u64, len));
                }
            } else {
                found.push(SecretHit {
                    rule: rule.id,
                    description: rule.description,
                    offset: Some(self.base + p as u64),
                    preview: preview(kw, len),
                    member: None,
                });
            }
        }
        for h in found {
            self.push(h);
        }
    }

    /// Drops scanned bytes, keeping `LOOKBEHIND` bytes of context.
    fn compact(&mut self) {
        let drop = self.pos.saturating_sub(LOOKBEHIND);
        if drop > 0 {
            self.buf.drain(..drop);
            self.base += drop as u64;
            self.pos -= drop;
        }
    }
}
