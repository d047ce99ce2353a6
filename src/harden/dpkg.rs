//! The dpkg database: `var/lib/dpkg/status` (Debian, Ubuntu) and distroless's
//! `var/lib/dpkg/status.d/<pkg>` files. Just enough to know which package owns
//! a removed file and to drop its stanza, so the SBOM and scanners stay truthful.
//!
//! Format (deb-control(5)): stanzas separated by blank lines, `Field: value`
//! lines, continuation lines start with a space. Ownership comes from
//! `var/lib/dpkg/info/<pkg>[:<arch>].list` (one absolute path per line) or, for
//! distroless, `status.d/<pkg>.md5sums` (`<md5>  <relative path>`).

use std::collections::{BTreeMap, BTreeSet};

/// One stanza of a status file, kept verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stanza {
    pub package: String,
    pub raw: String,
}

/// Splits a status file into stanzas.
pub fn parse_status(text: &str) -> Vec<Stanza> {
    text.split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let package = s
                .lines()
                .find_map(|l| l.strip_prefix("Package:"))
                .map(|v| v.trim().to_string())
                .unwrap_or_default();
            Stanza {
                package,
                raw: s.trim_matches('\n').to_string(),
            }
        })
        .collect()
}

/// Serializes the kept stanzas.
pub fn render_status(stanzas: &[Stanza]) -> String {
    let mut s = String::new();
    for st in stanzas {
        s.push_str(&st.raw);
        s.push_str("\n\n");
    }
    s
}

/// Files listed in a `.list` file (absolute paths) → image-relative paths.
pub fn parse_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_start_matches('/').trim_end().to_string())
        .filter(|l| !l.is_empty() && l != ".")
        .collect()
}

/// Files listed in an `.md5sums` file (`<md5>  <path>`).
pub fn parse_md5sums(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            l.split_once("  ")
                .map(|(_, p)| p.trim_start_matches('/').trim_end().to_string())
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// The package name from an info or status.d file name:
/// `bash.list`, `libc6:amd64.list`, `bash.md5sums` → (`bash`, `list`).
pub fn split_info_name(file: &str) -> Option<(&str, &str)> {
    let (stem, ext) = file.rsplit_once('.')?;
    let pkg = stem.split_once(':').map(|(p, _)| p).unwrap_or(stem);
    Some((pkg, ext))
}

/// Package → owned files, from `.list` and `.md5sums` contents.
pub fn ownership<'a>(
    files: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, bytes) in files {
        let Some((pkg, ext)) = split_info_name(name) else {
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        let paths = match ext {
            "list" => parse_list(&text),
            "md5sums" => parse_md5sums(&text),
            _ => continue,
        };
        m.entry(pkg.to_string()).or_default().extend(paths);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_roundtrip_and_filter() {
        let s = "Package: bash\nStatus: install ok installed\nDescription: x\n more\n\nPackage: libc6\nStatus: install ok installed\n\n";
        let st = parse_status(s);
        assert_eq!(
            st.iter().map(|x| x.package.as_str()).collect::<Vec<_>>(),
            ["bash", "libc6"]
        );
        assert_eq!(render_status(&st), s);
        assert_eq!(
            render_status(&st[1..]),
            "Package: libc6\nStatus: install ok installed\n\n"
        );
    }

    #[test]
    fn ownership_from_lists_and_md5sums() {
        let files = [
            (
                "bash.list",
                &b"/.\n/bin\n/bin/bash\n/usr/share/doc/bash\n"[..],
            ),
            (
                "libc6:amd64.list",
                &b"/lib/x86_64-linux-gnu/libc.so.6\n"[..],
            ),
            ("busybox.md5sums", &b"0123  bin/busybox\n"[..]),
            ("bash.postinst", &b"#!/bin/sh\n"[..]),
        ];
        let m = ownership(files.into_iter());
        assert!(m["bash"].contains("bin/bash"));
        assert!(m["libc6"].contains("lib/x86_64-linux-gnu/libc.so.6"));
        assert!(m["busybox"].contains("bin/busybox"));
        assert_eq!(m.len(), 3);
    }
}
