//! Package URLs (purl): `pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=3.20.3`.
//!
//! Scanners and SBOM consumers join on purls, so they must be spelled exactly
//! per the purl specification: components percent-encoded (a Debian epoch's
//! `:` becomes `%3A`, `+` becomes `%2B`), qualifiers sorted by key, empty
//! qualifiers omitted.

use super::{Ecosystem, OsInfo, Package};

/// Percent-encodes everything except the purl "unreserved" characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds a purl from its parts. Qualifiers with empty values are dropped and
/// the rest sorted by key, as the spec requires.
pub fn build(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: Option<&str>,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut s = format!("pkg:{ty}/");
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        s.push_str(&encode(ns));
        s.push('/');
    }
    s.push_str(&encode(name));
    if let Some(v) = version.filter(|v| !v.is_empty()) {
        s.push('@');
        s.push_str(&encode(v));
    }
    let mut q: Vec<(&str, &str)> = qualifiers
        .iter()
        .copied()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    q.sort();
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(&k.to_ascii_lowercase());
        s.push('=');
        s.push_str(&encode(v));
    }
    s
}

/// The purl of an OS package.
pub fn package(p: &Package, os: Option<&OsInfo>) -> String {
    let ns = match os {
        Some(o) => o.purl_namespace(p.ecosystem),
        None => match p.ecosystem {
            Ecosystem::Apk => "alpine".into(),
            Ecosystem::Deb => "debian".into(),
        },
    };
    let distro = os
        .and_then(|o| o.purl_distro(p.ecosystem))
        .unwrap_or_default();
    build(
        p.ecosystem.purl_type(),
        Some(&ns),
        &p.name,
        Some(&p.version),
        &[
            ("arch", p.arch.as_deref().unwrap_or("")),
            ("distro", &distro),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(eco: Ecosystem, name: &str, version: &str, arch: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: Some(arch.into()),
            source: name.into(),
            source_version: None,
            license: None,
            ecosystem: eco,
            files: vec![],
        }
    }

    #[test]
    fn apk_and_deb() {
        let alpine = OsInfo {
            id: "alpine".into(),
            version_id: Some("3.20.3".into()),
            pretty_name: None,
            release: Some("3.20.3".into()),
        };
        assert_eq!(
            package(
                &pkg(Ecosystem::Apk, "busybox", "1.36.1-r29", "x86_64"),
                Some(&alpine)
            ),
            "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=3.20.3"
        );
        let debian = OsInfo {
            id: "debian".into(),
            version_id: Some("12".into()),
            pretty_name: None,
            release: Some("12.7".into()),
        };
        assert_eq!(
            package(
                &pkg(Ecosystem::Deb, "libc6", "1:2.36-9+deb12u4", "amd64"),
                Some(&debian)
            ),
            "pkg:deb/debian/libc6@1%3A2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            package(&pkg(Ecosystem::Deb, "g++", "1~2", ""), None),
            "pkg:deb/debian/g%2B%2B@1~2"
        );
    }

    #[test]
    fn qualifiers_sorted_and_encoded() {
        assert_eq!(
            build(
                "oci",
                None,
                "img",
                Some("sha256:ab"),
                &[("z", "1 2"), ("a", "x/y"), ("e", "")]
            ),
            "pkg:oci/img@sha256%3Aab?a=x%2Fy&z=1%202"
        );
    }
}
