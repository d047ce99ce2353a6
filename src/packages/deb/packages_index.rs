//! Stanzas of a `Packages` index, as typed records. Every field a later
//! stage relies on is checked here, once: names, versions, relations, the
//! pool path (never `..`, absolute or another scheme, since it becomes part
//! of a download URL and a cache path), the size and the SHA256.

use super::control;
use super::relation::{self, Relations};
use super::version::DebVersion;

/// One binary package as a repository's `Packages` index describes it.
#[derive(Clone, Debug)]
pub struct DebRecord {
    pub package: String,
    pub version: DebVersion,
    pub architecture: String,
    /// `same`, `foreign`, `allowed`, or None.
    pub multi_arch: Option<String>,
    pub essential: bool,
    pub priority: Option<String>,
    pub depends: Relations,
    pub pre_depends: Relations,
    pub provides: Relations,
    pub conflicts: Relations,
    pub breaks: Relations,
    pub replaces: Relations,
    /// Archive-relative path (`pool/main/b/bash/bash_5.2.15-2+b7_amd64.deb`).
    pub filename: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Position of the repository in the spec's list.
    pub repository: usize,
}

/// What is wrong with one stanza: line, field, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StanzaError {
    pub line: usize,
    pub field: String,
    pub why: String,
}

/// Parses a whole `Packages` text.
pub fn parse(text: &str, repository: usize) -> Result<Vec<DebRecord>, StanzaError> {
    let stanzas = control::parse(text).map_err(|e| StanzaError {
        line: e.line,
        field: "-".to_string(),
        why: e.why,
    })?;
    let mut out = Vec::with_capacity(stanzas.len());
    for st in &stanzas {
        let bad = |field: &str, why: String| StanzaError {
            line: control::field_line(text, st, field),
            field: field.to_string(),
            why,
        };
        let need = |field: &str| {
            st.get(field).ok_or_else(|| {
                bad(
                    field,
                    "missing (every Packages stanza needs it)".to_string(),
                )
            })
        };
        let package = need("Package")?;
        if !relation::valid_name(package) {
            return Err(bad("Package", format!("{package:?} is not a package name")));
        }
        let version =
            DebVersion::parse(need("Version")?).map_err(|e| bad("Version", e.to_string()))?;
        let architecture = need("Architecture")?;
        if architecture.is_empty()
            || !architecture
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad(
                "Architecture",
                format!("{architecture:?} is not an architecture name"),
            ));
        }
        let multi_arch = match st.get("Multi-Arch") {
            None => None,
            Some(v @ ("same" | "foreign" | "allowed" | "no")) => Some(v.to_string()),
            Some(v) => {
                return Err(bad(
                    "Multi-Arch",
                    format!("{v:?} is not same, foreign, allowed or no"),
                ));
            }
        };
        let essential = match st.get("Essential") {
            None | Some("no") => false,
            Some("yes") => true,
            Some(v) => return Err(bad("Essential", format!("{v:?} is neither yes nor no"))),
        };
        let rel = |field: &str| -> Result<Relations, StanzaError> {
            match st.get(field) {
                None => Ok(Vec::new()),
                Some(v) => relation::parse(v).map_err(|e| bad(field, e.to_string())),
            }
        };
        let filename = need("Filename")?;
        check_filename(filename).map_err(|why| bad("Filename", why))?;
        let size_text = need("Size")?;
        let size: u64 = size_text
            .parse()
            .map_err(|_| bad("Size", format!("{size_text:?} is not a number")))?;
        let sha256 = need("SHA256")?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("SHA256", format!("{sha256:?} is not a SHA-256 in hex")));
        }
        out.push(DebRecord {
            package: package.to_string(),
            version,
            architecture: architecture.to_string(),
            multi_arch,
            essential,
            priority: st.get("Priority").map(str::to_string),
            depends: rel("Depends")?,
            pre_depends: rel("Pre-Depends")?,
            provides: rel("Provides")?,
            conflicts: rel("Conflicts")?,
            breaks: rel("Breaks")?,
            replaces: rel("Replaces")?,
            filename: filename.to_string(),
            size,
            sha256: sha256.to_ascii_lowercase(),
            repository,
        });
    }
    Ok(out)
}

/// A pool path must stay inside the archive: relative, no `..` or empty
/// component, no scheme, no backslash, query or control character.
pub fn check_filename(f: &str) -> Result<(), String> {
    let refuse = |why: &str| {
        Err(format!(
            "{f:?} {why}; a mirror must not point outside the archive"
        ))
    };
    if f.is_empty() {
        return refuse("is empty");
    }
    if f.starts_with('/') {
        return refuse("is an absolute path");
    }
    if f.contains("://") || f.split('/').next().is_some_and(|c| c.contains(':')) {
        return refuse("carries a URL scheme");
    }
    if f.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return refuse("has an empty, `.` or `..` path component");
    }
    if f.bytes()
        .any(|b| b.is_ascii_control() || matches!(b, b'\\' | b'?' | b'#' | b' '))
    {
        return refuse("holds a space, backslash, `?`, `#` or control character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn stanza(extra: &str) -> String {
        format!(
            "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\nMulti-Arch: foreign\nPriority: required\nDepends: debconf (>= 0.5) | debconf-2.0\nProvides: tzdata-bookworm\nFilename: pool/main/t/tzdata/tzdata_2024a-0+deb12u1_all.deb\nSize: 255000\nSHA256: {H}\n{extra}"
        )
    }

    #[test]
    fn reads_records() {
        let text = format!(
            "{}\nPackage: libc6\nVersion: 2.36-9\nArchitecture: amd64\nEssential: yes\nPre-Depends: libgcc-s1\nBreaks: hurd (<< 1:0.9)\nFilename: pool/main/g/glibc/libc6_2.36-9_amd64.deb\nSize: 1\nSHA256: {}\n",
            stanza(""),
            H.to_uppercase()
        );
        let r = parse(&text, 3).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].package, "tzdata");
        assert_eq!(r[0].version.as_str(), "2024a-0+deb12u1");
        assert_eq!(r[0].multi_arch.as_deref(), Some("foreign"));
        assert_eq!(r[0].depends.len(), 1);
        assert_eq!(r[0].depends[0].len(), 2);
        assert_eq!(r[0].provides[0][0].name, "tzdata-bookworm");
        assert_eq!(r[0].size, 255000);
        assert_eq!(r[0].repository, 3);
        assert!(r[1].essential);
        assert_eq!(r[1].sha256, H);
        assert_eq!(r[1].pre_depends[0][0].name, "libgcc-s1");
        assert_eq!(r[1].breaks[0][0].name, "hurd");
    }

    #[test]
    fn hostile_filenames_are_refused() {
        for f in [
            "../../etc/passwd",
            "/etc/passwd",
            "pool/../../x.deb",
            "http://evil/x.deb",
            "file:/etc/passwd",
            "pool//x.deb",
            "pool/./x.deb",
            "pool/x.deb?y",
            "pool\\x.deb",
            "",
        ] {
            assert!(check_filename(f).is_err(), "{f}");
        }
        assert!(check_filename("pool/main/libs/libstdc++6_12.2.0-14_amd64.deb").is_ok());
        assert!(check_filename("pool/main/g/gawk/gawk_1%3a5.2.1-2_amd64.deb").is_ok());
    }

    #[test]
    fn bad_stanzas_name_line_and_field() {
        let swap = |from: &str, to: &str| stanza("").replace(from, to);
        // The stanza under test starts on line 8; each error names the
        // line of its field (a missing field: the stanza's line).
        for (text, field, line) in [
            (swap("Package: tzdata", "Package: T"), "Package", 8),
            (
                swap("Version: 2024a-0+deb12u1", "Version: a:b"),
                "Version",
                9,
            ),
            (
                swap("Architecture: all", "Architecture: A/B"),
                "Architecture",
                10,
            ),
            (
                swap("Multi-Arch: foreign", "Multi-Arch: some"),
                "Multi-Arch",
                11,
            ),
            (
                swap(
                    "Depends: debconf (>= 0.5) | debconf-2.0",
                    "Depends: debconf (>> )",
                ),
                "Depends",
                13,
            ),
            (
                swap(
                    "Filename: pool/main/t/tzdata/tzdata_2024a-0+deb12u1_all.deb",
                    "Filename: ../../etc/passwd",
                ),
                "Filename",
                15,
            ),
            (swap("Size: 255000", "Size: big"), "Size", 16),
            (swap(&format!("SHA256: {H}"), "SHA256: 00"), "SHA256", 17),
            (swap(&format!("SHA256: {H}\n"), ""), "SHA256", 8),
            (stanza("Essential: maybe\n"), "Essential", 18),
        ] {
            let text = format!(
                "Package: aa\nVersion: 1\nArchitecture: all\nFilename: p/a.deb\nSize: 1\nSHA256: {H}\n\n{text}"
            );
            let e = parse(&text, 0).unwrap_err();
            assert_eq!(e.field, field, "{text}: {e:?}");
            assert_eq!(e.line, line, "{text}: {e:?}");
        }
    }
}
