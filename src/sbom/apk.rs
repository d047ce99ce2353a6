//! Reader for the apk installed database (`lib/apk/db/installed`).
//!
//! The format: stanzas separated by blank lines, one `X:value` field per line.
//! ironhull uses `P` (name), `V` (version), `A` (architecture), `o` (origin,
//! i.e. the source package that vulnerability databases key on), `L`
//! (license), and `F`/`R` (directory / file in the last directory). Unknown
//! fields and malformed lines are ignored: the database is input, not trusted,
//! and one odd line must not hide every other package.

use super::{Ecosystem, Package};

/// A stanza that could not become a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedStanza {
    /// 1-based line where the stanza starts.
    pub line: usize,
    pub why: &'static str,
}

/// Parses the database text. Returns the packages in database order and the
/// stanzas that were skipped (no `P` or no `V`).
pub fn parse(db: &str) -> (Vec<Package>, Vec<SkippedStanza>) {
    let mut pkgs = Vec::new();
    let mut skipped = Vec::new();
    let mut cur: Option<Stanza> = None;
    for (i, raw) in db.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            if let Some(s) = cur.take() {
                s.finish(&mut pkgs, &mut skipped);
            }
            continue;
        }
        let s = cur.get_or_insert_with(|| Stanza::new(i + 1));
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k {
            "P" => s.name = Some(v.to_string()),
            "V" => s.version = Some(v.to_string()),
            "A" => s.arch = Some(v.to_string()),
            "o" => s.origin = Some(v.to_string()),
            "L" => s.license = Some(v.to_string()).filter(|l| !l.trim().is_empty()),
            "F" => s.dir = v.trim_matches('/').to_string(),
            "R" => s.files.push(if s.dir.is_empty() {
                v.to_string()
            } else {
                format!("{}/{v}", s.dir)
            }),
            _ => {}
        }
    }
    if let Some(s) = cur.take() {
        s.finish(&mut pkgs, &mut skipped);
    }
    (pkgs, skipped)
}

struct Stanza {
    line: usize,
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    origin: Option<String>,
    license: Option<String>,
    dir: String,
    files: Vec<String>,
}

impl Stanza {
    fn new(line: usize) -> Self {
        Self {
            line,
            name: None,
            version: None,
            arch: None,
            origin: None,
            license: None,
            dir: String::new(),
            files: Vec::new(),
        }
    }

    fn finish(self, pkgs: &mut Vec<Package>, skipped: &mut Vec<SkippedStanza>) {
        let (Some(name), Some(version)) = (self.name, self.version) else {
            skipped.push(SkippedStanza {
                line: self.line,
                why: "the stanza has no P: (name) or no V: (version) field",
            });
            return;
        };
        if name.trim().is_empty() || version.trim().is_empty() {
            skipped.push(SkippedStanza {
                line: self.line,
                why: "the P: (name) or V: (version) field is empty",
            });
            return;
        }
        pkgs.push(Package {
            source: self.origin.clone().unwrap_or_else(|| name.clone()),
            source_version: None,
            name,
            version,
            arch: self.arch,
            license: self.license,
            ecosystem: Ecosystem::Apk,
            files: self.files,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_files() {
        let db = "C:Q1abc=\nP:busybox\nV:1.36.1-r29\nA:x86_64\nL:GPL-2.0-only\no:busybox\nF:bin\nR:busybox\nF:etc\nR:securetty\n\nP:libssl3\r\nV:3.3.2-r0\r\nA:x86_64\r\nL:Apache-2.0\r\no:openssl\r\nR:top\r\n\n\n";
        let (p, s) = parse(db);
        assert!(s.is_empty());
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "busybox");
        assert_eq!(p[0].version, "1.36.1-r29");
        assert_eq!(p[0].arch.as_deref(), Some("x86_64"));
        assert_eq!(p[0].license.as_deref(), Some("GPL-2.0-only"));
        assert_eq!(p[0].files, ["bin/busybox", "etc/securetty"]);
        assert_eq!(p[1].source, "openssl");
        assert_eq!(p[1].files, ["top"]);
    }

    #[test]
    fn origin_defaults_to_name_and_bad_stanzas_are_reported() {
        let (p, s) = parse("P:foo\nV:1\n\nV:2\nA:x\n\nP:bar\n\ngarbage line\nP:baz\nV:3");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].source, "foo");
        assert_eq!(p[1].name, "baz");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].line, 4);
        assert_eq!(s[1].line, 7);
    }
}
