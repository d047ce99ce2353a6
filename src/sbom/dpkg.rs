//! Reader for dpkg's status database (`var/lib/dpkg/status`) and for the
//! one-file-per-package `var/lib/dpkg/status.d/<pkg>` directory used by
//! distroless images.
//!
//! Stanzas are RFC 822-style: `Field: value`, continuation lines start with a
//! space or tab, stanzas are separated by blank lines. `Source:` names the
//! source package (what Debian's security tracker and OSV key on), optionally
//! as `name (version)` when the source version differs from the binary one.
//! Stanzas whose `Status:` wants the package removed (`deinstall`, `purge`) or
//! says it is no longer unpacked (`not-installed`, `config-files`) are not
//! installed software and are skipped. `status.d` stanzas have no `Status:`
//! line; they describe installed packages by construction.

use super::{Ecosystem, Package};

/// Why a stanza was not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Not installed according to its `Status:` line (not an error).
    NotInstalled { package: String, status: String },
    /// Malformed: no `Package:` or no `Version:`. Line is 1-based.
    Malformed { line: usize, why: &'static str },
}

/// Parses a status file (or one `status.d` file) into installed packages.
pub fn parse(text: &str) -> (Vec<Package>, Vec<Skip>) {
    let mut pkgs = Vec::new();
    let mut skips = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut start = 1usize;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            finish(&mut fields, start, &mut pkgs, &mut skips);
            start = i + 2;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Continuation of the previous field; only Description uses this
            // and ironhull does not need it, so it is dropped.
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    finish(&mut fields, start, &mut pkgs, &mut skips);
    (pkgs, skips)
}

fn finish(
    fields: &mut Vec<(String, String)>,
    line: usize,
    pkgs: &mut Vec<Package>,
    skips: &mut Vec<Skip>,
) {
    if fields.is_empty() {
        return;
    }
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    let name = get("package").filter(|v| !v.is_empty());
    let version = get("version").filter(|v| !v.is_empty());
    match (name, version) {
        (Some(name), Some(version)) => {
            if let Some(status) = get("status")
                && !is_installed(status)
            {
                skips.push(Skip::NotInstalled {
                    package: name.to_string(),
                    status: status.to_string(),
                });
            } else {
                let (source, source_version) = match get("source").map(parse_source) {
                    Some((s, v)) if !s.is_empty() => (s.to_string(), v.map(String::from)),
                    _ => (name.to_string(), None),
                };
                pkgs.push(Package {
                    name: name.to_string(),
                    version: version.to_string(),
                    arch: get("architecture")
                        .map(String::from)
                        .filter(|a| !a.is_empty()),
                    source,
                    source_version,
                    license: None,
                    ecosystem: Ecosystem::Deb,
                    files: Vec::new(),
                });
            }
        }
        _ => skips.push(Skip::Malformed {
            line,
            why: "the stanza has no Package: or no Version: field",
        }),
    }
    fields.clear();
}

/// `Status: want flag status`. Installed unless the administrator asked for
/// removal or the files are gone.
fn is_installed(status: &str) -> bool {
    let words: Vec<&str> = status.split_whitespace().collect();
    if words.iter().any(|w| matches!(*w, "deinstall" | "purge")) {
        return false;
    }
    !matches!(words.last(), Some(&"not-installed" | &"config-files"))
}

/// `openssl (3.0.11-1~deb12u2)` → (`openssl`, Some(`3.0.11-1~deb12u2`)).
pub fn parse_source(v: &str) -> (&str, Option<&str>) {
    let v = v.trim();
    match v.split_once('(') {
        Some((name, rest)) => {
            let ver = rest.trim_end().trim_end_matches(')').trim();
            (name.trim(), Some(ver).filter(|s| !s.is_empty()))
        }
        None => (v, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: libssl3\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nMulti-Arch: same\nSource: openssl\nVersion: 3.0.11-1~deb12u2\nDescription: Secure Sockets Layer toolkit\n shared libraries\n .\n more: text\n\nPackage: oldpkg\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: purged\nStatus: purge ok not-installed\nVersion: 1.0\n\nPackage: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc (2.36-9+deb12u4)\nVersion: 2.36-9+deb12u4+b1\n\nPackage: half\nStatus: install ok config-files\nVersion: 2\n\nStatus: install ok installed\nVersion: 9\n";

    #[test]
    fn status_file() {
        let (p, s) = parse(STATUS);
        let names: Vec<_> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["libssl3", "libc6"]);
        assert_eq!(p[0].source, "openssl");
        assert_eq!(p[0].source_version, None);
        assert_eq!(p[0].version, "3.0.11-1~deb12u2");
        assert_eq!(p[0].arch.as_deref(), Some("amd64"));
        assert_eq!(p[1].source, "glibc");
        assert_eq!(p[1].source_version.as_deref(), Some("2.36-9+deb12u4"));
        assert_eq!(s.len(), 4);
        assert!(matches!(&s[0], Skip::NotInstalled { package, .. } if package == "oldpkg"));
        assert!(matches!(&s[3], Skip::Malformed { line: 31, .. }));
    }

    #[test]
    fn status_d_file_without_status_is_installed() {
        let (p, s) = parse("Package: base-files\nVersion: 12.4+deb12u7\nArchitecture: amd64\n");
        assert!(s.is_empty());
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].source, "base-files");
    }

    #[test]
    fn source_forms() {
        assert_eq!(parse_source("glibc (2.36-9)"), ("glibc", Some("2.36-9")));
        assert_eq!(parse_source("zlib"), ("zlib", None));
        assert_eq!(parse_source("x ()"), ("x", None));
    }
}
