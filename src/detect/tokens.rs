//! Splitting a binary into the whole strings it carries, in one pass.
//!
//! A token is a maximal run of printable ASCII bytes, as C string literals
//! and string tables store them, so `PS1` matches the string `"PS1"` (or the
//! initialiser `"PS1=$ "`: the part before `=` counts too) but not a word
//! inside a help text. Runs of UTF-32LE characters aligned on four bytes
//! (`wchar_t` literals, as fish stores its strings) are read the same way.
//! Only the strings of the detector's profiles are remembered, as bits.

use std::sync::OnceLock;

/// Every string any profile looks for, sorted, deduplicated.
fn table() -> &'static [&'static str] {
    static TABLE: OnceLock<Vec<&'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut v: Vec<&'static str> = super::shell::PROFILES
            .iter()
            .chain(super::package_manager::PROFILES)
            .flat_map(|p| p.all_strings())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    })
}

fn max_len() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| table().iter().map(|s| s.len()).max().unwrap_or(0))
}

/// The strings found so far.
#[derive(Default)]
pub struct Seen {
    bits: Vec<bool>,
}

impl Seen {
    fn mark(&mut self, token: &[u8]) {
        if let Ok(i) = table().binary_search_by(|s| s.as_bytes().cmp(token))
            && let Some(b) = self.bits.get_mut(i)
        {
            *b = true;
        }
    }

    /// True when `s` (a string of some profile) was found.
    pub fn has(&self, s: &str) -> bool {
        table()
            .binary_search(&s)
            .ok()
            .and_then(|i| self.bits.get(i))
            .copied()
            .unwrap_or(false)
    }
}

/// One run being collected: at most `max_len()` bytes are kept.
#[derive(Default)]
struct Run {
    buf: Vec<u8>,
    /// Longer than any table string (only an `=` prefix may still count).
    long: bool,
    /// Length of the part before the first `=`, when one was seen in time.
    eq: Option<usize>,
}

impl Run {
    fn push(&mut self, b: u8) {
        if b == b'=' && self.eq.is_none() && !self.long {
            self.eq = Some(self.buf.len());
        }
        if self.buf.len() < max_len() {
            self.buf.push(b);
        } else {
            self.long = true;
        }
    }

    fn end(&mut self, seen: &mut Seen) {
        if !self.long && self.buf.len() >= 2 {
            seen.mark(&self.buf);
        }
        if let Some(n) = self.eq
            && n >= 2
            && let Some(p) = self.buf.get(..n)
        {
            seen.mark(p);
        }
        self.buf.clear();
        self.long = false;
        self.eq = None;
    }
}

pub struct Tokenizer {
    seen: Seen,
    ascii: Run,
    wide: Run,
    /// Bytes of the current 4-byte unit (for the UTF-32LE reader).
    unit: [u8; 4],
    unit_len: usize,
}

fn printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

impl Tokenizer {
    pub fn new() -> Self {
        Self {
            seen: Seen {
                bits: vec![false; table().len()],
            },
            ascii: Run::default(),
            wide: Run::default(),
            unit: [0; 4],
            unit_len: 0,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        for &b in chunk {
            if printable(b) {
                self.ascii.push(b);
            } else {
                self.ascii.end(&mut self.seen);
            }
            if let Some(slot) = self.unit.get_mut(self.unit_len) {
                *slot = b;
            }
            self.unit_len += 1;
            if self.unit_len == 4 {
                self.unit_len = 0;
                let [c, z1, z2, z3] = self.unit;
                if printable(c) && z1 == 0 && z2 == 0 && z3 == 0 {
                    self.wide.push(c);
                } else if !self.wide.buf.is_empty() || self.wide.long {
                    self.wide.end(&mut self.seen);
                }
            }
        }
    }

    /// Ends the last runs (end of file is a terminator).
    pub fn end(&mut self) {
        self.ascii.end(&mut self.seen);
        self.wide.end(&mut self.seen);
    }

    pub fn seen(&self) -> &Seen {
        &self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(bytes: &[u8]) -> Seen {
        let mut t = Tokenizer::new();
        // Byte by byte: runs that straddle chunks are still whole.
        for b in bytes {
            t.feed(std::slice::from_ref(b));
        }
        t.end();
        t.seen
    }

    #[test]
    fn whole_strings_and_assignments() {
        let s = seen(b"\0PS1=$ \0IFS\0xPS2\0PS4 is set\0OPTIND");
        assert!(s.has("PS1"));
        assert!(s.has("IFS"));
        assert!(s.has("OPTIND"), "end of file ends a run");
        assert!(!s.has("PS2"), "a tail of a longer string is not the string");
        assert!(!s.has("PS4"), "a word in a sentence is not the string");
    }

    #[test]
    fn wide_strings() {
        let mut b = vec![0u8; 4];
        for c in "fish_prompt".bytes() {
            b.extend_from_slice(&[c, 0, 0, 0]);
        }
        b.extend_from_slice(&[0, 0, 0, 0]);
        assert!(seen(&b).has("fish_prompt"));
    }
}
