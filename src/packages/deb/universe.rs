//! Debian indexes as the resolver's neutral universe: a `Packages` file
//! becomes [`Candidate`]s for one architecture (its own and `all`), a
//! `dpkg/status` file the base's [`Installed`] packages.
//!
//! `Pre-Depends` and `Depends` are both dependencies (nothing runs, so the
//! difference, "unpacked and configured first", does not matter here);
//! `Conflicts` and `Breaks` are both conflicts (Breaks only allows the two
//! to be unpacked together, which ironhull never does half-way);
//! `Recommends` and `Suggests` are not followed, as with
//! `--no-install-recommends`.

use super::DebVersion;
use super::control::{self, Stanza};
use super::relation::{self, Atom, Constraint, Op};
use crate::packages::solve::{Candidate, Installed, Relation, Req};

impl Relation<DebVersion> for Constraint {
    fn accepts(&self, v: &DebVersion) -> bool {
        Constraint::accepts(self, v)
    }

    fn describe(&self) -> String {
        format!("{} {}", self.op.as_str(), self.version)
    }
}

/// Why an index does not convert: the stanza's line, the package when
/// known, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {why}", package.as_ref().map(|p| format!(" (package {p})")).unwrap_or_default())]
pub struct UniverseError {
    pub line: usize,
    pub package: Option<String>,
    pub why: String,
}

/// Whether an atom's `[arch …]` restriction admits `arch` (dpkg: a list
/// of plain names admits those; a list of `!name`s admits all others).
fn arch_admits(atom: &Atom, arch: &str) -> bool {
    if atom.arches.is_empty() {
        return true;
    }
    let negated = atom.arches.iter().all(|a| a.starts_with('!'));
    if negated {
        !atom
            .arches
            .iter()
            .any(|a| a.strip_prefix('!') == Some(arch))
    } else {
        atom.arches.iter().any(|a| a == arch)
    }
}

/// Dependency groups (AND of ORs) as requirements for `arch`: alternatives
/// restricted to other architectures drop out, and so does a group left
/// empty.
fn depends_for<'a>(
    groups: impl Iterator<Item = &'a Vec<Atom>>,
    arch: &str,
) -> Vec<Vec<Req<DebVersion>>> {
    groups
        .map(|g| {
            g.iter()
                .filter(|a| arch_admits(a, arch))
                .map(req)
                .collect::<Vec<_>>()
        })
        .filter(|alts| !alts.is_empty())
        .collect()
}

/// Conflicts and Breaks as one list of requirements for `arch`.
fn conflicts_for<'a>(
    groups: impl Iterator<Item = &'a Vec<Atom>>,
    arch: &str,
) -> Vec<Req<DebVersion>> {
    groups
        .flat_map(|g| g.iter().filter(|a| arch_admits(a, arch)).map(req))
        .collect()
}

/// A request or dependency atom as the resolver's requirement.
pub fn req_of(atom: &Atom) -> Req<DebVersion> {
    req(atom)
}

/// One verified index record as a candidate for `arch` (its own or `all`),
/// or `None` for another architecture. The repository reader has already
/// checked every field, so nothing here can fail.
pub fn candidate_of_record(
    r: &crate::packages::deb::packages_index::DebRecord,
    arch: &str,
) -> Option<Candidate<DebVersion>> {
    if r.architecture != arch && r.architecture != "all" {
        return None;
    }
    let depends = depends_for(r.pre_depends.iter().chain(&r.depends), arch);
    let conflicts = conflicts_for(r.conflicts.iter().chain(&r.breaks), arch);
    let provides = r
        .provides
        .iter()
        .flatten()
        .map(|a| match &a.constraint {
            Some(Constraint {
                op: Op::Eq,
                version,
            }) => (a.name.clone(), Some(version.clone())),
            // No version, or not `=` (dpkg ignores such a Provides version).
            _ => (a.name.clone(), None),
        })
        .collect();
    Some(Candidate {
        key: format!("{}={}/{}", r.package, r.version, r.architecture),
        name: r.package.clone(),
        version: r.version.clone(),
        arch: r.architecture.clone(),
        depends,
        provides,
        conflicts,
        origin: r.repository,
    })
}

fn req(atom: &Atom) -> Req<DebVersion> {
    match &atom.constraint {
        None => Req::any(atom.name.clone()),
        Some(c) => Req::with(atom.name.clone(), c.clone()),
    }
}

struct Fields<'a> {
    stanza: &'a Stanza,
    package: Option<String>,
}

impl Fields<'_> {
    fn err(&self, why: String) -> UniverseError {
        UniverseError {
            line: self.stanza.line,
            package: self.package.clone(),
            why,
        }
    }

    fn required(&self, name: &str) -> Result<&str, UniverseError> {
        self.stanza
            .get(name)
            .ok_or_else(|| self.err(format!("the stanza has no {name} field")))
    }

    fn relations(&self, name: &str) -> Result<relation::Relations, UniverseError> {
        relation::parse(self.stanza.get(name).unwrap_or(""))
            .map_err(|e| self.err(format!("field {name}: {e}")))
    }

    fn provides(&self) -> Result<Vec<(String, Option<DebVersion>)>, UniverseError> {
        let mut out = Vec::new();
        for group in self.relations("Provides")? {
            for atom in group {
                let version = match atom.constraint {
                    None => None,
                    Some(Constraint {
                        op: Op::Eq,
                        version,
                    }) => Some(version),
                    Some(c) => {
                        return Err(self.err(format!(
                            "field Provides: {} ({} {}): a provided version must be `= version`",
                            atom.name,
                            c.op.as_str(),
                            c.version
                        )));
                    }
                };
                out.push((atom.name, version));
            }
        }
        Ok(out)
    }
}

/// The candidates of a `Packages` index for `arch` (and `all`), from the
/// repository with index `origin`.
pub fn candidates(
    text: &str,
    origin: usize,
    arch: &str,
) -> Result<Vec<Candidate<DebVersion>>, UniverseError> {
    let stanzas = control::parse(text).map_err(|e| UniverseError {
        line: e.line,
        package: None,
        why: e.why,
    })?;
    let mut out = Vec::new();
    for stanza in &stanzas {
        let mut f = Fields {
            stanza,
            package: None,
        };
        let name = f.required("Package")?.to_string();
        if !relation::valid_name(&name) {
            return Err(f.err(format!("{name:?} is not a valid package name")));
        }
        f.package = Some(name.clone());
        let version = DebVersion::parse(f.required("Version")?)
            .map_err(|e| f.err(format!("field Version: {e}")))?;
        let pkg_arch = f.required("Architecture")?.to_string();
        if pkg_arch != arch && pkg_arch != "all" {
            continue;
        }
        let (pre, dep) = (f.relations("Pre-Depends")?, f.relations("Depends")?);
        let depends = depends_for(pre.iter().chain(&dep), arch);
        let (con, brk) = (f.relations("Conflicts")?, f.relations("Breaks")?);
        let conflicts = conflicts_for(con.iter().chain(&brk), arch);
        let provides = f.provides()?;
        out.push(Candidate {
            key: format!("{name}={version}/{pkg_arch}"),
            name,
            version,
            arch: pkg_arch,
            depends,
            provides,
            conflicts,
            origin,
        });
    }
    Ok(out)
}

/// The installed packages of a `dpkg/status` file (or a `status.d/`
/// stanza): those whose `Status` ends in `installed`, or that have no
/// `Status` field at all (distroless's `status.d` files leave it out).
pub fn installed(text: &str) -> Result<Vec<Installed<DebVersion>>, UniverseError> {
    let stanzas = control::parse(text).map_err(|e| UniverseError {
        line: e.line,
        package: None,
        why: e.why,
    })?;
    let mut out = Vec::new();
    for stanza in &stanzas {
        let mut f = Fields {
            stanza,
            package: None,
        };
        let name = f.required("Package")?.to_string();
        f.package = Some(name.clone());
        if stanza
            .get("Status")
            .is_some_and(|s| s.split_whitespace().last() != Some("installed"))
        {
            continue;
        }
        let version = DebVersion::parse(f.required("Version")?)
            .map_err(|e| f.err(format!("field Version: {e}")))?;
        out.push(Installed {
            name,
            version,
            provides: f.provides()?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKAGES: &str = "\
Package: tzdata
Version: 2024a-0+deb12u1
Architecture: all
Pre-Depends: libc6 (>= 2.36)
Depends: debconf (>= 0.5) | debconf-2.0, foo [i386]
Breaks: old-tz (<< 2)
Conflicts: bad

Package: cdebconf
Version: 0.270
Architecture: amd64
Provides: debconf-2.0, debconf-x (= 1.0)

Package: armonly
Version: 1
Architecture: arm64
";

    #[test]
    fn packages_become_candidates() {
        let c = candidates(PACKAGES, 3, "amd64").unwrap();
        assert_eq!(c.len(), 2);
        let tz = &c[0];
        assert_eq!(tz.key, "tzdata=2024a-0+deb12u1/all");
        assert_eq!(tz.origin, 3);
        assert_eq!(tz.depends.len(), 2, "the [i386]-only group is dropped");
        assert_eq!(tz.depends[0][0].to_string(), "libc6 (>= 2.36)");
        assert_eq!(tz.depends[1][1].to_string(), "debconf-2.0");
        let conflicts: Vec<String> = tz.conflicts.iter().map(|r| r.to_string()).collect();
        assert_eq!(conflicts, ["bad", "old-tz (<< 2)"]);
        assert_eq!(
            c[1].provides
                .iter()
                .map(|(n, v)| format!(
                    "{n}{}",
                    v.as_ref().map(|v| format!("={v}")).unwrap_or_default()
                ))
                .collect::<Vec<_>>(),
            ["debconf-2.0", "debconf-x=1.0"]
        );
        assert_eq!(candidates(PACKAGES, 0, "arm64").unwrap().len(), 2);
    }

    #[test]
    fn bad_stanzas_name_the_line_and_package() {
        for (text, want) in [
            (
                "Package: a1\nArchitecture: all\n",
                "line 1 (package a1): the stanza has no Version",
            ),
            ("Version: 1\n", "line 1: the stanza has no Package"),
            (
                "Package: a1\nVersion: 1\nArchitecture: all\nDepends: b1 (=> 2)\n",
                "line 1 (package a1): field Depends",
            ),
            (
                "\nPackage: a1\nVersion: 1\nArchitecture: all\nProvides: v1 (>= 2)\n",
                "line 2 (package a1): field Provides: v1 (>= 2)",
            ),
            (
                "Package: a1\nVersion: x\nArchitecture: all\n",
                "field Version",
            ),
        ] {
            let e = candidates(text, 0, "amd64").unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn status_gives_installed_packages() {
        let s = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nProvides: libc-x\n\n\
                 Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                 Package: base-files\nVersion: 12.4\n";
        let i = installed(s).unwrap();
        let names: Vec<&str> = i.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["libc6", "base-files"]);
        assert_eq!(i[0].provides[0].0, "libc-x");
    }
}
