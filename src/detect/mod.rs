//! The one detector for "this file is a shell" and "this file is a package
//! manager", by name and by content. Hardening, artifact intake, the build
//! gate and `ironhull audit` all ask it, so what one strips the others find.
//!
//! Names alone are not enough (`busybox.static`, `dash` copied to
//! `/app/tool`), and a single marker string is not either (a one-byte change
//! to a version banner defeats it). The content rule reads what a program
//! *is*: an interpreter carries the names of its own variables, keywords and
//! builtins as separate strings, because it must recognise them at run time.
//! A file is judged a shell only when several independent groups of such
//! strings are all present (see [`shell`]); ordinary programs quote a few of
//! them at most, and the corpus test (`tests/shell_corpus.rs`) measures that
//! on every ELF file of a Debian system.
//!
//! Content is streamed: [`ContentDetector::feed`] takes chunks of any size,
//! keeps at most one token's worth of bytes, and reads each byte once. Only
//! ELF files are examined (a script that mentions `PS1` is not a shell), so
//! other files cost four bytes.

pub mod package_manager;
pub mod shell;
mod tokens;
pub mod xattrs;

pub use package_manager::is_package_manager_name;
pub use shell::is_shell_name;

/// What a file was found to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Shell,
    PackageManager,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Shell => "a shell",
            Kind::PackageManager => "a package manager",
        })
    }
}

/// Content evidence: which program profile matched, and a few of the
/// strings that matched it (for the error message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub kind: Kind,
    /// The profile: `POSIX shell`, `csh`, `apk` …
    pub profile: &'static str,
    /// Up to eight of the strings found, in table order.
    pub strings: Vec<&'static str>,
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} evidence in its content: {})",
            self.kind,
            self.profile,
            self.strings.join(", ")
        )
    }
}

/// Strips the suffixes that name the same program in another build or
/// version: `bash-static` → `bash`, `busybox.static` → `busybox`,
/// `zsh-5.9` → `zsh`, `dnf5`/`dnf-3` → `dnf`, `pip3.11` → `pip`,
/// `apk.static` → `apk`, `ksh93` → `ksh`. Returns the name unchanged when
/// nothing applies, and never strips a name down to nothing.
pub fn normalize_name(name: &str) -> &str {
    let mut n = name;
    loop {
        let before = n;
        for suffix in [".static", "-static", "_static", ".stat", ".exe"] {
            if let Some(s) = n.strip_suffix(suffix)
                && !s.is_empty()
            {
                n = s;
            }
        }
        // A trailing version: digits and dots, optionally after `-`, `_` or `.`.
        let trimmed = n.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        if trimmed.len() < n.len() && n[trimmed.len()..].bytes().any(|b| b.is_ascii_digit()) {
            let t = trimmed.trim_end_matches(['-', '_']);
            if !t.is_empty() {
                n = t;
            }
        }
        if n == before {
            return n;
        }
    }
}

/// The name and content verdict for one file, streamed.
pub struct ContentDetector {
    tokens: tokens::Tokenizer,
    /// The first bytes, until we know whether the file is ELF.
    head: [u8; 4],
    head_len: usize,
    /// `Some(false)` once the file is known not to be ELF: nothing more is read.
    elf: Option<bool>,
}

impl Default for ContentDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl ContentDetector {
    pub fn new() -> Self {
        Self {
            tokens: tokens::Tokenizer::new(),
            head: [0; 4],
            head_len: 0,
            elf: None,
        }
    }

    /// True once the detector needs no more bytes (the file is not ELF).
    pub fn done(&self) -> bool {
        self.elf == Some(false)
    }

    /// Feeds the next chunk of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut chunk = chunk;
        if self.elf.is_none() {
            let take = (4 - self.head_len).min(chunk.len());
            if let (Some(dst), Some(src)) = (
                self.head.get_mut(self.head_len..self.head_len + take),
                chunk.get(..take),
            ) {
                dst.copy_from_slice(src);
            }
            self.head_len += take;
            if self.head_len < 4 {
                // Not enough yet; the bytes seen are replayed below once known.
                return;
            }
            let is_elf = &self.head == b"\x7fELF";
            self.elf = Some(is_elf);
            if !is_elf {
                return;
            }
            let head = self.head;
            self.tokens.feed(&head);
            chunk = chunk.get(take..).unwrap_or(&[]);
        }
        if self.elf == Some(true) {
            self.tokens.feed(chunk);
        }
    }

    /// The verdict: `Some` when the content is a shell or a package manager.
    /// A shell wins when both match (busybox carries both).
    pub fn finish(mut self) -> Option<Evidence> {
        if self.elf != Some(true) {
            return None;
        }
        self.tokens.end();
        let seen = self.tokens.seen();
        shell::judge(seen).or_else(|| package_manager::judge(seen))
    }
}

/// Runs the content detector over a whole byte slice (tests, small files).
pub fn detect_bytes(bytes: &[u8]) -> Option<Evidence> {
    let mut d = ContentDetector::new();
    d.feed(bytes);
    d.finish()
}

/// Reads `r` to its end through the detector.
pub fn detect_reader(r: &mut dyn std::io::Read) -> std::io::Result<Option<Evidence>> {
    let mut d = ContentDetector::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        d.feed(buf.get(..n).unwrap_or(&[]));
        if d.done() {
            break;
        }
    }
    Ok(d.finish())
}

/// The name verdict for an executable (or a link) called `name`.
pub fn classify_name(name: &str) -> Option<Kind> {
    if is_shell_name(name) {
        Some(Kind::Shell)
    } else if is_package_manager_name(name) {
        Some(Kind::PackageManager)
    } else {
        None
    }
}

/// A profile: groups of strings, each needing `min` of its strings present;
/// the profile matches when every group does.
pub(crate) struct Profile {
    pub name: &'static str,
    pub groups: &'static [Group],
}

pub(crate) struct Group {
    pub min: usize,
    pub strings: &'static [&'static str],
}

impl Profile {
    /// Evidence when every group reaches its threshold.
    pub(crate) fn judge(&self, kind: Kind, seen: &tokens::Seen) -> Option<Evidence> {
        let mut strings = Vec::new();
        for g in self.groups {
            let found: Vec<&'static str> =
                g.strings.iter().copied().filter(|s| seen.has(s)).collect();
            if found.len() < g.min {
                return None;
            }
            strings.extend(found.into_iter().take(3));
        }
        strings.truncate(8);
        Some(Evidence {
            kind,
            profile: self.name,
            strings,
        })
    }

    pub(crate) fn all_strings(&self) -> impl Iterator<Item = &'static str> {
        self.groups.iter().flat_map(|g| g.strings.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_variants() {
        for (raw, want) in [
            ("bash-static", "bash"),
            ("busybox.static", "busybox"),
            ("zsh-5.9", "zsh"),
            ("zsh-static", "zsh"),
            ("dnf5", "dnf"),
            ("dnf-3", "dnf"),
            ("apk.static", "apk"),
            ("pip3.11", "pip"),
            ("pip-3.12", "pip"),
            ("ksh93", "ksh"),
            ("mksh-static", "mksh"),
            ("ls", "ls"),
            ("7z", "7z"),
            ("123", "123"),
            ("rpm2cpio", "rpm2cpio"),
        ] {
            assert_eq!(normalize_name(raw), want, "{raw}");
        }
    }

    #[test]
    fn non_elf_is_never_judged_and_stops_early() {
        let script = b"#!/bin/sh\nPS1= PS2= PS4= IFS= OPTIND= PPID= elif esac then done until while case getopts readonly unset export\n";
        let mut d = ContentDetector::new();
        d.feed(&script[..2]);
        assert!(!d.done());
        d.feed(&script[2..]);
        assert!(d.done());
        assert_eq!(d.finish(), None);
    }
}
