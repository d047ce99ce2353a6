//! The text inside an APKINDEX (and apk's installed database, which has
//! the same stanza format): `K:value` lines, one package per blank-line
//! separated stanza, read into [`ApkRecord`]s with every field checked
//! and every error located by line.
//!
//! Single-letter keys are apk's (`apk_pkg_add_info`): P name, V version,
//! A arch, S size, I installed size, C `Q1`+base64 SHA-1 of the control
//! segment, D depends, p provides, i install_if, k provider_priority,
//! o origin, T description, U url, L license, m maintainer, t build time,
//! c commit, r replaces. Other keys (the installed database's F/R/a/M/Z
//! file lines, newer tools' additions) are skipped, as apk skips keys it
//! does not know; a known key given twice in one stanza is refused.

use super::dependency::{self, ApkDep};
use super::version::ApkVersion;
use base64::Engine as _;

/// One package of a verified index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApkRecord {
    pub name: String,
    pub version: ApkVersion,
    pub arch: String,
    pub size: u64,
    pub installed_size: u64,
    /// SHA-1 of the package's control segment (`C:Q1…`): what apk checks a
    /// downloaded `.apk` against, the index having no file digest.
    pub checksum: [u8; 20],
    pub depends: Vec<ApkDep>,
    pub provides: Vec<(String, Option<ApkVersion>)>,
    pub install_if: Vec<ApkDep>,
    pub provider_priority: Option<u64>,
    pub origin: String,
    pub description: String,
    pub url: String,
    pub license: String,
    pub maintainer: String,
    pub build_time: Option<u64>,
    pub commit: String,
    pub replaces: Vec<String>,
    /// The repository's position in the spec.
    pub repository: usize,
    /// The stanza's first line in the APKINDEX.
    pub line: usize,
}

impl ApkRecord {
    /// The checksum as apk writes it: `Q1` + base64.
    pub fn checksum_text(&self) -> String {
        format!(
            "Q1{}",
            base64::engine::general_purpose::STANDARD.encode(self.checksum)
        )
    }

    /// The file's path below the repository URL.
    pub fn path(&self, arch: &str) -> String {
        format!("{arch}/{}-{}.apk", self.name, self.version)
    }

    /// `name=version/arch`.
    pub fn key(&self) -> String {
        format!("{}={}/{}", self.name, self.version, self.arch)
    }
}

/// Why the text does not parse: the line, the package when known, the
/// field, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}{}: {why}",
    package.as_ref().map(|p| format!(" (package {p})")).unwrap_or_default(),
    field.map(|f| format!(", field {f}")).unwrap_or_default())]
pub struct ApkIndexError {
    pub line: usize,
    pub package: Option<String>,
    pub field: Option<char>,
    pub why: String,
}

/// Whether the text is an APKINDEX (every package complete) or an
/// installed database (name and version suffice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Index,
    Installed,
}

const KNOWN: &[u8] = b"PVASICDpikoTULmtcr";

/// One stanza: its first line and its known fields (key, line, value).
struct Stanza<'a> {
    line: usize,
    fields: Vec<(u8, usize, &'a str)>,
}

fn stanzas(text: &str) -> Result<Vec<Stanza<'_>>, ApkIndexError> {
    let mut out = Vec::new();
    let mut cur: Option<Stanza<'_>> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        if raw.is_empty() {
            if let Some(s) = cur.take() {
                out.push(s);
            }
            continue;
        }
        let b = raw.as_bytes();
        if b.len() < 2 || b[1] != b':' {
            return Err(ApkIndexError {
                line,
                package: None,
                field: None,
                why: "a line is `K:value` (one letter, a colon, the value)".into(),
            });
        }
        let key = b[0];
        let value = &raw[2..];
        let s = cur.get_or_insert_with(|| Stanza {
            line,
            fields: Vec::new(),
        });
        if KNOWN.contains(&key) {
            if s.fields.iter().any(|(k, _, _)| *k == key) {
                return Err(ApkIndexError {
                    line,
                    package: None,
                    field: Some(char::from(key)),
                    why: "given twice in one package".into(),
                });
            }
            s.fields.push((key, line, value));
        }
    }
    if let Some(s) = cur.take() {
        out.push(s);
    }
    Ok(out)
}

/// Decodes `Q1<base64 of 20 bytes>`.
pub fn parse_checksum(s: &str) -> Result<[u8; 20], String> {
    let b64 = s
        .strip_prefix("Q1")
        .ok_or("a checksum is Q1 followed by base64 (SHA-1)")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("not base64: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| "a Q1 checksum is 20 bytes (SHA-1)".to_string())
}

/// Parses an APKINDEX (or installed database) text. `repository` is the
/// spec position copied into every record.
pub fn parse(text: &str, repository: usize, kind: Kind) -> Result<Vec<ApkRecord>, ApkIndexError> {
    let mut out = Vec::new();
    for st in stanzas(text)? {
        let mut package = None;
        let get = |k: u8| st.fields.iter().find(|(key, _, _)| *key == k);
        let err = |package: &Option<String>, k: u8, line: usize, why: String| ApkIndexError {
            line,
            package: package.clone(),
            field: Some(char::from(k)),
            why,
        };
        let required = |package: &Option<String>, k: u8| {
            get(k)
                .map(|(_, l, v)| (*l, *v))
                .ok_or_else(|| ApkIndexError {
                    line: st.line,
                    package: package.clone(),
                    field: None,
                    why: format!("the package has no {}: field", char::from(k)),
                })
        };
        let (l, name) = required(&package, b'P')?;
        if !dependency::valid_package_name(name) {
            return Err(err(
                &package,
                b'P',
                l,
                format!("{name:?} is not a package name (letters, digits, + - . _)"),
            ));
        }
        package = Some(name.to_string());
        let (l, v) = required(&package, b'V')?;
        let version = ApkVersion::parse(v).map_err(|e| err(&package, b'V', l, e.to_string()))?;
        let number = |k: u8| -> Result<Option<u64>, ApkIndexError> {
            match get(k) {
                None => Ok(None),
                Some((_, l, v)) => v
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| err(&package, k, *l, format!("{v:?} is not a number"))),
            }
        };
        let text = |k: u8| get(k).map(|(_, _, v)| v.to_string()).unwrap_or_default();
        let (arch, size, checksum) = if kind == Kind::Index {
            let (l, a) = required(&package, b'A')?;
            if a.is_empty() || !a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
                return Err(err(
                    &package,
                    b'A',
                    l,
                    format!("{a:?} is not an architecture"),
                ));
            }
            required(&package, b'S')?;
            let (l, c) = required(&package, b'C')?;
            let checksum = parse_checksum(c).map_err(|why| err(&package, b'C', l, why))?;
            (a.to_string(), number(b'S')?.unwrap_or(0), checksum)
        } else {
            let checksum = match get(b'C') {
                Some((_, l, c)) => parse_checksum(c).map_err(|why| err(&package, b'C', *l, why))?,
                None => [0; 20],
            };
            (text(b'A'), number(b'S')?.unwrap_or(0), checksum)
        };
        let deps = |k: u8| -> Result<Vec<ApkDep>, ApkIndexError> {
            match get(k) {
                None => Ok(Vec::new()),
                Some((_, l, v)) => {
                    dependency::parse_list(v).map_err(|e| err(&package, k, *l, e.to_string()))
                }
            }
        };
        let depends = deps(b'D')?;
        let install_if = deps(b'i')?;
        let mut provides = Vec::new();
        if let Some((_, l, v)) = get(b'p') {
            for atom in v.split_ascii_whitespace() {
                provides.push(
                    dependency::parse_provide(atom)
                        .map_err(|e| err(&package, b'p', *l, e.to_string()))?,
                );
            }
        }
        let replaces = text(b'r')
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect();
        out.push(ApkRecord {
            name: name.to_string(),
            version,
            arch,
            size,
            installed_size: number(b'I')?.unwrap_or(0),
            checksum,
            depends,
            provides,
            install_if,
            provider_priority: number(b'k')?,
            origin: text(b'o'),
            description: text(b'T'),
            url: text(b'U'),
            license: text(b'L'),
            maintainer: text(b'm'),
            build_time: number(b't')?,
            commit: text(b'c'),
            replaces,
            repository,
            line: st.line,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "C:Q1hdeIRlj9pGk0VEO8U3SKwIXo6xI=\nP:musl\nV:1.2.5-r0\nA:x86_64\nS:411323\nI:641536\nT:the musl c library\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Someone <a@b>\nt:1715609412\nc:aa\nk:100\np:so:libc.musl-x86_64.so.1=1\nD:!uclibc-utils\ni:busybox docs\nF:etc\n\n";

    #[test]
    fn reads_every_field() {
        let r = parse(ONE, 2, Kind::Index).unwrap();
        assert_eq!(r.len(), 1);
        let m = &r[0];
        assert_eq!(
            (m.name.as_str(), m.version.as_str(), m.arch.as_str()),
            ("musl", "1.2.5-r0", "x86_64")
        );
        assert_eq!(
            (m.size, m.installed_size, m.repository, m.line),
            (411323, 641536, 2, 1)
        );
        assert_eq!(m.checksum_text(), "Q1hdeIRlj9pGk0VEO8U3SKwIXo6xI=");
        assert_eq!(m.provides[0].0, "so:libc.musl-x86_64.so.1");
        assert!(m.depends[0].conflict);
        assert_eq!(m.install_if.len(), 2);
        assert_eq!(
            (m.provider_priority, m.build_time),
            (Some(100), Some(1715609412))
        );
        assert_eq!(m.path("x86_64"), "x86_64/musl-1.2.5-r0.apk");
    }

    #[test]
    fn errors_name_line_package_and_field() {
        for (text, want) in [
            (
                "P:a\nV:1\n",
                "line 1 (package a): the package has no A: field",
            ),
            (
                "C:Q1hdeIRlj9pGk0VEO8U3SKwIXo6xI=\nP:a/b\n",
                "line 2, field P:",
            ),
            ("\n\nP:a\nV:1.X\n", "line 4 (package a), field V:"),
            (
                "P:a\nV:1\nA:x86_64\nS:1\nC:Q2abc\n",
                "line 5 (package a), field C: a checksum is Q1",
            ),
            (
                "P:a\nV:1\nA:x86_64\nS:x\nC:Q1hdeIRlj9pGk0VEO8U3SKwIXo6xI=\n",
                "field S: \"x\" is not a number",
            ),
            ("P:a\nP:b\n", "line 2, field P: given twice"),
            (
                "P:a\nV:1\nA:x86_64\nS:1\nC:Q1hdeIRlj9pGk0VEO8U3SKwIXo6xI=\nD:b><Q1x\n",
                "field D: \"b><Q1x\": a checksum",
            ),
            ("hello\n", "line 1: a line is `K:value`"),
        ] {
            let e = parse(text, 0, Kind::Index).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let i = parse("P:a\nV:1\nF:x\nR:y\nR:z\n", 0, Kind::Installed).unwrap();
        assert_eq!(i[0].name, "a");
    }
}
