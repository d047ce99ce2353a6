//! The apk installed database (`lib/apk/db/installed`): just enough of it to
//! know which package owns which file, and to drop the stanzas of packages that
//! hardening removed, so the SBOM and scanners stay truthful.
//!
//! The format is documented by Alpine as "apk spec": stanzas separated by blank
//! lines, one `X:value` field per line. `P` is the name, `F` a directory, `R` a
//! file in the last `F`, `i` the install_if condition.

use std::collections::BTreeSet;

/// One package stanza, kept verbatim so that unchanged stanzas are rewritten
/// byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApkPackage {
    pub name: String,
    pub raw: String,
    /// Files owned, as image-relative paths (`bin/busybox`).
    pub files: Vec<String>,
    /// Package names named by the `i:` (install_if) field.
    pub install_if: Vec<String>,
}

/// Parses the database. Unknown fields are kept verbatim; malformed lines are
/// kept too (we only ever remove whole stanzas).
pub fn parse(db: &str) -> Vec<ApkPackage> {
    let mut out = Vec::new();
    for stanza in db.split("\n\n") {
        if stanza.trim().is_empty() {
            continue;
        }
        let mut name = String::new();
        let mut files = Vec::new();
        let mut install_if = Vec::new();
        let mut dir = String::new();
        for line in stanza.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k {
                "P" => name = v.to_string(),
                "F" => dir = v.trim_matches('/').to_string(),
                "R" => files.push(if dir.is_empty() {
                    v.to_string()
                } else {
                    format!("{dir}/{v}")
                }),
                "i" => install_if.extend(v.split_whitespace().map(|c| dep_name(c).to_string())),
                _ => {}
            }
        }
        out.push(ApkPackage {
            name,
            raw: stanza.trim_matches('\n').to_string(),
            files,
            install_if,
        });
    }
    out
}

/// `busybox=1.36.1-r29` → `busybox`; also strips `<`, `>`, `~` constraints and `!`.
fn dep_name(c: &str) -> &str {
    let c = c.trim_start_matches('!');
    let end = c.find(['=', '<', '>', '~']).unwrap_or(c.len());
    &c[..end]
}

/// Serializes the kept packages in their original order.
pub fn render(pkgs: &[ApkPackage]) -> String {
    let mut s = String::new();
    for p in pkgs {
        s.push_str(&p.raw);
        s.push_str("\n\n");
    }
    s
}

/// Expands a set of dropped packages with every package whose install_if
/// condition names a dropped one (e.g. `ssl_client` exists only for busybox's
/// wget), to a fixed point.
pub fn close_over_install_if(pkgs: &[ApkPackage], dropped: &mut BTreeSet<String>) {
    loop {
        let before = dropped.len();
        for p in pkgs {
            if !dropped.contains(&p.name) && p.install_if.iter().any(|d| dropped.contains(d)) {
                dropped.insert(p.name.clone());
            }
        }
        if dropped.len() == before {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "C:Q1abc=\nP:busybox\nV:1.36.1-r29\nF:bin\nR:busybox\nF:etc\nR:securetty\n\nP:ssl_client\nV:1.36.1-r29\ni:busybox=1.36.1-r29 libssl3\nF:usr/bin\nR:ssl_client\n\nP:musl\nV:1.2.5-r0\nF:lib\nR:ld-musl-x86_64.so.1\n\n";

    #[test]
    fn parses_files_and_install_if() {
        let p = parse(DB);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].files, ["bin/busybox", "etc/securetty"]);
        assert_eq!(p[1].install_if, ["busybox", "libssl3"]);
    }

    #[test]
    fn install_if_closure_and_roundtrip() {
        let p = parse(DB);
        let mut dropped = BTreeSet::from(["busybox".to_string()]);
        close_over_install_if(&p, &mut dropped);
        assert_eq!(
            dropped,
            BTreeSet::from(["busybox".to_string(), "ssl_client".to_string()])
        );
        let kept: Vec<_> = p
            .into_iter()
            .filter(|x| !dropped.contains(&x.name))
            .collect();
        assert_eq!(
            render(&kept),
            "P:musl\nV:1.2.5-r0\nF:lib\nR:ld-musl-x86_64.so.1\n\n"
        );
        assert_eq!(render(&parse(DB)), DB);
    }
}
