//! apk records as the resolver's neutral universe: an APKINDEX record
//! becomes a [`Candidate`] (`D:` atoms are dependencies, `!` atoms
//! conflicts, `p:` provides with their versions, `so:`/`cmd:`/`pc:`
//! included), the base's `lib/apk/db/installed` the [`Installed`] set (with
//! its provides, so `so:libc.musl-x86_64.so.1` is met by the base's musl).
//!
//! `i:` (install_if) has no place in a plain dependency graph: a package
//! with `i:docs busybox` is installed when both are. [`install_if_round`]
//! finds, for a set of packages present, every candidate name whose
//! install_if atoms all hold; the caller adds those to the request and
//! solves again, to a fixed point (apk does the same inside its solver).

use super::apkindex::{self, ApkIndexError, ApkRecord, Kind};
use super::dependency::ApkDep;
use super::version::ApkVersion;
use crate::packages::solve::{Candidate, Installed};
use std::collections::BTreeSet;

/// One record as a candidate.
pub fn candidate_of_record(r: &ApkRecord) -> Candidate<ApkVersion> {
    let (conflicts, depends): (Vec<&ApkDep>, Vec<&ApkDep>) =
        r.depends.iter().partition(|d| d.conflict);
    Candidate {
        key: r.key(),
        name: r.name.clone(),
        version: r.version.clone(),
        arch: r.arch.clone(),
        depends: depends.into_iter().map(|d| vec![d.req()]).collect(),
        provides: r.provides.clone(),
        conflicts: conflicts.into_iter().map(ApkDep::req).collect(),
        origin: r.repository,
    }
}

/// The base's installed packages, from `lib/apk/db/installed` text.
pub fn installed(text: &str) -> Result<Vec<Installed<ApkVersion>>, ApkIndexError> {
    Ok(apkindex::parse(text, 0, Kind::Installed)?
        .into_iter()
        .map(|r| Installed {
            name: r.name,
            version: r.version,
            provides: r.provides,
        })
        .collect())
}

/// A package present (in the base or the solution): its name, version
/// and provides, for checking install_if atoms.
pub struct Present<'a> {
    pub name: &'a str,
    pub version: &'a ApkVersion,
    pub provides: &'a [(String, Option<ApkVersion>)],
}

fn holds(atom: &ApkDep, present: &[Present<'_>]) -> bool {
    let req = atom.req();
    let found = present.iter().any(|p| {
        (p.name == atom.name && req.accepts(p.version))
            || p.provides
                .iter()
                .any(|(n, v)| *n == atom.name && req.accepts_provided(v.as_ref()))
    });
    found != atom.conflict
}

/// The names of records not yet present whose install_if atoms all hold
/// over `present`, sorted (so the result does not depend on index order),
/// leaving out `exclude`d names.
pub fn install_if_round(
    records: &[ApkRecord],
    present: &[Present<'_>],
    exclude: &[String],
) -> BTreeSet<String> {
    let have: BTreeSet<&str> = present.iter().map(|p| p.name).collect();
    records
        .iter()
        .filter(|r| !r.install_if.is_empty())
        .filter(|r| !have.contains(r.name.as_str()) && !exclude.contains(&r.name))
        .filter(|r| r.install_if.iter().all(|a| holds(a, present)))
        .map(|r| r.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "C:Q1hdeIRlj9pGk0VEO8U3SKwIXo6xI=\nP:app\nV:1.0-r0\nA:x86_64\nS:1\nD:so:libc.musl-x86_64.so.1 !old lib>=2\np:cmd:app=1.0-r0\n\n\
C:Q1hdeIRlj9pGk0VEO8U3SKwIXo6xI=\nP:app-doc\nV:1.0-r0\nA:x86_64\nS:1\ni:docs app=1.0-r0\n\n";

    #[test]
    fn records_become_candidates_and_install_if_holds() {
        let rs = apkindex::parse(INDEX, 1, Kind::Index).unwrap();
        let c = candidate_of_record(&rs[0]);
        assert_eq!(c.key, "app=1.0-r0/x86_64");
        assert_eq!(c.depends.len(), 2);
        assert_eq!(c.depends[1][0].to_string(), "lib (>=2)");
        assert_eq!(c.conflicts[0].to_string(), "old");
        assert_eq!(c.provides[0].0, "cmd:app");
        assert_eq!(c.origin, 1);
        let (v1, v2) = (
            ApkVersion::parse("1.0-r0").unwrap(),
            ApkVersion::parse("1").unwrap(),
        );
        let present = |with_docs: bool, app: &'static ApkVersion| {
            let mut p = vec![Present {
                name: "app",
                version: app,
                provides: &[],
            }];
            if with_docs {
                p.push(Present {
                    name: "docs",
                    version: app,
                    provides: &[],
                });
            }
            p
        };
        let v1: &'static ApkVersion = Box::leak(Box::new(v1));
        let v2: &'static ApkVersion = Box::leak(Box::new(v2));
        assert_eq!(
            install_if_round(&rs, &present(true, v1), &[])
                .into_iter()
                .collect::<Vec<_>>(),
            ["app-doc"]
        );
        assert!(install_if_round(&rs, &present(false, v1), &[]).is_empty());
        assert!(
            install_if_round(&rs, &present(true, v2), &[]).is_empty(),
            "app=1.0-r0 only"
        );
        assert!(install_if_round(&rs, &present(true, v1), &["app-doc".into()]).is_empty());
        let i =
            installed("P:musl\nV:1.2.5-r0\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld\n").unwrap();
        assert_eq!(i[0].provides[0].0, "so:libc.musl-x86_64.so.1");
    }
}
