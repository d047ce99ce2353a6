//! `.PKGINFO`, the metadata file in an apk package's control segment, as
//! abuild writes it: `key = value` lines, `#` comments. apk reads it
//! leniently (a line without ` = ` is skipped, a repeated key overwrites);
//! ironhull reads it strictly, because what it says becomes the installed
//! database and the datahash that binds the package's data to its signed
//! index entry: every key apk gives meaning to is parsed and checked,
//! single-valued keys may appear once, and every error names its line.
//! Unknown keys are kept, in order, so nothing the package says is lost.

use std::fmt;

/// Most bytes a `.PKGINFO` may have (real ones are a few KiB).
pub const MAX_PKGINFO_BYTES: usize = 1 << 20;

/// The parsed `.PKGINFO`. Field names follow the file's keys; the letters
/// in brackets are the installed-database fields they become.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PkgInfo {
    /// `pkgname` (P), required.
    pub pkgname: String,
    /// `pkgver` (V), required.
    pub pkgver: String,
    /// `arch` (A), required.
    pub arch: String,
    /// `size` (I): the installed size in bytes, required.
    pub size: u64,
    /// `pkgdesc` (T).
    pub pkgdesc: String,
    /// `url` (U).
    pub url: String,
    /// `license` (L).
    pub license: String,
    /// `origin` (o): the source package.
    pub origin: Option<String>,
    /// `maintainer` (m).
    pub maintainer: Option<String>,
    /// `packager`: who built it; apk does not record it.
    pub packager: Option<String>,
    /// `builddate` (t), seconds since the epoch.
    pub builddate: Option<u64>,
    /// `commit` (c): the aports commit it was built from.
    pub commit: Option<String>,
    /// `depend` lines (D), one dependency per whitespace-separated token.
    pub depends: Vec<String>,
    /// `provides` lines (p).
    pub provides: Vec<String>,
    /// `install_if` lines (i).
    pub install_if: Vec<String>,
    /// `replaces` lines (r).
    pub replaces: Vec<String>,
    /// `provider_priority` (k).
    pub provider_priority: Option<u64>,
    /// `replaces_priority` (q).
    pub replaces_priority: Option<u64>,
    /// `triggers`: the directories whose changes run the `.trigger` script.
    pub triggers: Vec<String>,
    /// `datahash`: SHA-256 of the data segment's raw (compressed) bytes.
    pub datahash: Option<[u8; 32]>,
    /// Every other `key = value`, in file order.
    pub extra: Vec<(String, String)>,
}

/// Why a `.PKGINFO` is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PkgInfoError {
    #[error(".PKGINFO line {line}: {why}")]
    Line { line: usize, why: String },
    #[error(".PKGINFO has no {0:?} line; abuild always writes it")]
    Missing(&'static str),
    #[error(".PKGINFO is larger than {MAX_PKGINFO_BYTES} bytes")]
    TooLarge,
    #[error(".PKGINFO is not UTF-8 (line {0})")]
    NotUtf8(usize),
}

/// The keys that may appear once.
const SINGLE: &[&str] = &[
    "pkgname",
    "pkgver",
    "arch",
    "size",
    "pkgdesc",
    "url",
    "license",
    "origin",
    "maintainer",
    "packager",
    "builddate",
    "commit",
    "provider_priority",
    "replaces_priority",
    "datahash",
];

impl PkgInfo {
    /// Parses `.PKGINFO` bytes.
    pub fn parse(bytes: &[u8]) -> Result<PkgInfo, PkgInfoError> {
        if bytes.len() > MAX_PKGINFO_BYTES {
            return Err(PkgInfoError::TooLarge);
        }
        let mut out = PkgInfo::default();
        let mut seen: Vec<&'static str> = Vec::new();
        for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = i + 1;
            let text = std::str::from_utf8(raw).map_err(|_| PkgInfoError::NotUtf8(line))?;
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let bad = |why: String| PkgInfoError::Line { line, why };
            if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\t') {
                return Err(bad(format!(
                    "it contains the control character {c:?}; apk's database is line-based"
                )));
            }
            let (key, value) = text.split_once(" = ").ok_or_else(|| {
                bad(format!(
                    "{text:?} is not `key = value` (abuild writes exactly one space each side of '=')"
                ))
            })?;
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(bad(format!("the key {key:?} is empty or has spaces")));
            }
            if let Some(k) = SINGLE.iter().find(|k| **k == key) {
                if seen.contains(k) {
                    return Err(bad(format!(
                        "{key:?} appears a second time; it may appear once (apk would keep the last)"
                    )));
                }
                seen.push(k);
            }
            let number = |v: &str| -> Result<u64, PkgInfoError> {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad(format!("{key} {v:?} is not a decimal number")));
                }
                v.parse()
                    .map_err(|_| bad(format!("{key} {v:?} does not fit 64 bits")))
            };
            let tokens = || value.split_whitespace().map(String::from);
            let text = || value.to_string();
            match key {
                "pkgname" => out.pkgname = nonempty(key, value, line)?,
                "pkgver" => out.pkgver = nonempty(key, value, line)?,
                "arch" => out.arch = nonempty(key, value, line)?,
                "size" => out.size = number(value)?,
                "pkgdesc" => out.pkgdesc = text(),
                "url" => out.url = text(),
                "license" => out.license = text(),
                "origin" => out.origin = Some(text()),
                "maintainer" => out.maintainer = Some(text()),
                "packager" => out.packager = Some(text()),
                "builddate" => out.builddate = Some(number(value)?),
                "commit" => out.commit = Some(text()),
                "provider_priority" => out.provider_priority = Some(number(value)?),
                "replaces_priority" => out.replaces_priority = Some(number(value)?),
                "depend" => out.depends.extend(tokens()),
                "provides" => out.provides.extend(tokens()),
                "install_if" => out.install_if.extend(tokens()),
                "replaces" => out.replaces.extend(tokens()),
                "triggers" => out.triggers.extend(tokens()),
                "datahash" => {
                    out.datahash = Some(hex32(value).ok_or_else(|| {
                        bad(format!(
                            "datahash {value:?} is not 64 hex digits (a SHA-256)"
                        ))
                    })?)
                }
                _ => out.extra.push((key.to_string(), value.to_string())),
            }
        }
        for k in ["pkgname", "pkgver", "arch", "size"] {
            if !seen.contains(&k) {
                return Err(PkgInfoError::Missing(k));
            }
        }
        Ok(out)
    }

    /// `name-version`, for messages.
    pub fn shown(&self) -> String {
        format!("{}-{}", self.pkgname, self.pkgver)
    }
}

impl fmt::Display for PkgInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

fn nonempty(key: &str, value: &str, line: usize) -> Result<String, PkgInfoError> {
    if value.is_empty() || value.contains(char::is_whitespace) {
        return Err(PkgInfoError::Line {
            line,
            why: format!("{key} {value:?} is empty or has spaces"),
        });
    }
    Ok(value.to_string())
}

/// 64 lowercase or uppercase hex digits.
fn hex32(v: &str) -> Option<[u8; 32]> {
    if v.len() != 64 || !v.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&v[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# Generated by abuild 3.13.0\n\
        # using fakeroot version 1.32\n\
        # Tue Dec  1 12:00:00 UTC 2026\n\
        pkgname = hello\n\
        pkgver = 1.0-r0\n\
        pkgdesc = Says hello = greets\n\
        url = https://example.org/\n\
        builddate = 1700000000\n\
        packager = Builder <b@example.org>\n\
        size = 4096\n\
        arch = x86_64\n\
        origin = hello-src\n\
        commit = 0123abcd\n\
        maintainer = M <m@example.org>\n\
        license = MIT\n\
        replaces = hello-old\n\
        provider_priority = 10\n\
        replaces_priority = 5\n\
        triggers = /usr/share/hello/* /etc/hello\n\
        # automatically detected:\n\
        provides = cmd:hello=1.0-r0\n\
        depend = so:libc.musl-x86_64.so.1\n\
        depend = busybox>=1.36 !conflicting\n\
        install_if = hello-base\n\
        custom = kept\n\
        datahash = 00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";

    #[test]
    fn reads_every_key_abuild_writes() {
        let p = PkgInfo::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(p.shown(), "hello-1.0-r0");
        assert_eq!(p.arch, "x86_64");
        assert_eq!(p.size, 4096);
        assert_eq!(p.pkgdesc, "Says hello = greets");
        assert_eq!(p.builddate, Some(1_700_000_000));
        assert_eq!(p.origin.as_deref(), Some("hello-src"));
        assert_eq!(p.maintainer.as_deref(), Some("M <m@example.org>"));
        assert_eq!(p.packager.as_deref(), Some("Builder <b@example.org>"));
        assert_eq!(p.commit.as_deref(), Some("0123abcd"));
        assert_eq!(p.license, "MIT");
        assert_eq!(p.url, "https://example.org/");
        assert_eq!(
            p.depends,
            ["so:libc.musl-x86_64.so.1", "busybox>=1.36", "!conflicting"]
        );
        assert_eq!(p.provides, ["cmd:hello=1.0-r0"]);
        assert_eq!(p.install_if, ["hello-base"]);
        assert_eq!(p.replaces, ["hello-old"]);
        assert_eq!(p.provider_priority, Some(10));
        assert_eq!(p.replaces_priority, Some(5));
        assert_eq!(p.triggers, ["/usr/share/hello/*", "/etc/hello"]);
        assert_eq!(p.extra, [("custom".to_string(), "kept".to_string())]);
        let d = p.datahash.unwrap();
        assert_eq!((d[0], d[15], d[31]), (0x00, 0xff, 0xff));
    }

    #[test]
    fn strict_errors_name_the_line() {
        let base = "pkgname = a\npkgver = 1\narch = noarch\nsize = 1\n";
        let cases = [
            ("pkgname = b\n", "line 5: \"pkgname\" appears a second time"),
            ("size2\n", "line 5: \"size2\" is not `key = value`"),
            (
                "builddate = 12x\n",
                "line 5: builddate \"12x\" is not a decimal number",
            ),
            (
                "builddate = 99999999999999999999999\n",
                "does not fit 64 bits",
            ),
            (
                "datahash = abc\n",
                "line 5: datahash \"abc\" is not 64 hex digits",
            ),
            (
                "pkgdesc = a\u{1b}b\n",
                "line 5: it contains the control character",
            ),
            ("key with space = 1\n", "line 5: the key"),
        ];
        for (extra, want) in cases {
            let text = format!("{base}{extra}");
            let e = PkgInfo::parse(text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{extra:?}: {e}");
        }
        for (drop, key) in [
            ("pkgname = a\n", "pkgname"),
            ("pkgver = 1\n", "pkgver"),
            ("arch = noarch\n", "arch"),
            ("size = 1\n", "size"),
        ] {
            let e = PkgInfo::parse(base.replace(drop, "").as_bytes()).unwrap_err();
            assert_eq!(e, PkgInfoError::Missing(key));
        }
        let e = PkgInfo::parse(b"pkgname = a\xff\n").unwrap_err();
        assert_eq!(e, PkgInfoError::NotUtf8(1));
        let e = PkgInfo::parse(b"pkgname = \n").unwrap_err().to_string();
        assert!(e.contains("line 1: pkgname \"\" is empty"), "{e}");
        let big = vec![b'#'; MAX_PKGINFO_BYTES + 1];
        assert_eq!(PkgInfo::parse(&big).unwrap_err(), PkgInfoError::TooLarge);
        // Multi-valued and unknown keys may repeat.
        let rep = format!("{base}depend = x\ndepend = y\ncustom = 1\ncustom = 2\n");
        let p = PkgInfo::parse(rep.as_bytes()).unwrap();
        assert_eq!(p.depends, ["x", "y"]);
        assert_eq!(p.extra.len(), 2);
    }
}
