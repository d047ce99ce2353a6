//! One apk dependency atom, as apk-tools 2.14 reads it (`apk_blob_pull_dep`):
//! the `D:` (depends), `p:` (provides) and `i:` (install_if) fields of an
//! APKINDEX, the installed database, and a `[packages] install` entry.
//!
//! `[!]name[op version]`, where `op` is any run of `< > = ~` (apk builds a
//! mask from the characters: `<=`, `>=`, `=`, `<`, `>`, `~` fuzzy prefix
//! match, `>~`, `<~`), and `name` may be a virtual such as
//! `so:libc.musl-x86_64.so.1`, `cmd:sh` or `pc:zlib`. `!` makes it a
//! conflict. Two forms are refused with a message rather than half
//! supported: checksum pins (`name><Q1…`, which name one exact build and
//! only appear in apk's world file) and repository tags (`name@edge`,
//! which select a repository ironhull's spec already selects by URL).

use super::version::{ApkVersion, ApkVersionError};
use crate::packages::solve::{Relation, Req};
use std::cmp::Ordering;

const EQUAL: u8 = 1;
const LESS: u8 = 2;
const GREATER: u8 = 4;

/// A version constraint: which comparison results of `candidate` against
/// `version` are accepted, and whether the comparison is apk's fuzzy one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApkConstraint {
    mask: u8,
    fuzzy: bool,
    pub version: ApkVersion,
}

impl ApkConstraint {
    /// Whether version `v` satisfies the constraint (`apk_dep_is_provided`).
    pub fn accepts(&self, v: &ApkVersion) -> bool {
        let o = if self.fuzzy {
            v.cmp_fuzzy(&self.version)
        } else {
            v.cmp(&self.version)
        };
        let bit = match o {
            Ordering::Less => LESS,
            Ordering::Equal => EQUAL,
            Ordering::Greater => GREATER,
        };
        self.mask & bit != 0
    }

    /// The operator as apk prints it (`apk_version_op_string`).
    pub fn op(&self) -> &'static str {
        match (self.mask, self.fuzzy) {
            (_, true) if self.mask == EQUAL => "~",
            (m, true) if m == GREATER | EQUAL => ">~",
            (m, true) if m == LESS | EQUAL => "<~",
            (LESS, _) => "<",
            (m, _) if m == LESS | EQUAL => "<=",
            (EQUAL, _) => "=",
            (m, _) if m == GREATER | EQUAL => ">=",
            (GREATER, _) => ">",
            _ => "?",
        }
    }
}

impl Relation<ApkVersion> for ApkConstraint {
    fn accepts(&self, v: &ApkVersion) -> bool {
        ApkConstraint::accepts(self, v)
    }
    fn describe(&self) -> String {
        format!("{}{}", self.op(), self.version)
    }
}

/// One parsed atom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApkDep {
    pub name: String,
    pub constraint: Option<ApkConstraint>,
    /// `!name`: must not be installed (with the constraint, only the
    /// matching versions).
    pub conflict: bool,
}

impl ApkDep {
    /// The resolver's requirement for this atom (its `conflict` flag is
    /// the caller's to route).
    pub fn req(&self) -> Req<ApkVersion> {
        match &self.constraint {
            None => Req::any(self.name.clone()),
            Some(c) => Req::with(self.name.clone(), c.clone()),
        }
    }
}

impl std::fmt::Display for ApkDep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.conflict {
            f.write_str("!")?;
        }
        f.write_str(&self.name)?;
        if let Some(c) = &self.constraint {
            write!(f, "{}{}", c.op(), c.version)?;
        }
        Ok(())
    }
}

/// Why an atom does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DepError {
    #[error("{atom:?}: the name is empty")]
    NoName { atom: String },
    #[error(
        "{atom:?}: the name holds {what}; an apk name is printable ASCII without spaces or < > = ~ ! @"
    )]
    BadName { atom: String, what: String },
    #[error(
        "{atom:?}: a checksum dependency (name><Q1…) pins one exact build; ironhull does not resolve those: use a version (name=1.2-r0)"
    )]
    Checksum { atom: String },
    #[error(
        "{atom:?}: repository tags (name@tag) are not supported; list that repository in [[repositories]] instead"
    )]
    Tag { atom: String },
    #[error("{atom:?}: {op:?} is not a version operator; use one of < <= = >= > ~")]
    BadOp { atom: String, op: String },
    #[error("{atom:?}: {source}")]
    Version {
        atom: String,
        #[source]
        source: ApkVersionError,
    },
    #[error("{atom:?}: a provide is `name` or `name=version`")]
    BadProvide { atom: String },
}

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '~')
}

/// Checks a dependency or provided name: printable ASCII, none of the
/// characters apk reads as operators, tags or conflicts.
pub fn check_name(atom: &str, name: &str) -> Result<(), DepError> {
    if name.is_empty() {
        return Err(DepError::NoName { atom: atom.into() });
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii_graphic() || is_op_char(*c) || *c == '!')
    {
        return Err(DepError::BadName {
            atom: atom.into(),
            what: format!("{c:?}"),
        });
    }
    if name.contains('@') {
        return Err(DepError::Tag { atom: atom.into() });
    }
    Ok(())
}

/// Whether `s` is a real package name (`P:`): letters, digits and
/// `+ - . _`, starting with a letter or digit. Stricter than a dependency
/// name, because it becomes a file name (`<name>-<version>.apk`).
pub fn valid_package_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || b"+-._".contains(&c))
}

fn constraint(atom: &str, op: &str, version: &str) -> Result<ApkConstraint, DepError> {
    let mut mask = 0u8;
    let mut fuzzy = false;
    for c in op.chars() {
        match c {
            '<' => mask |= LESS,
            '>' => mask |= GREATER,
            '=' => mask |= EQUAL,
            '~' => {
                mask |= EQUAL;
                fuzzy = true;
            }
            _ => {}
        }
    }
    if mask & (LESS | GREATER) == LESS | GREATER {
        if mask == LESS | GREATER {
            return Err(DepError::Checksum { atom: atom.into() });
        }
        return Err(DepError::BadOp {
            atom: atom.into(),
            op: op.into(),
        });
    }
    let version = ApkVersion::parse(version).map_err(|source| DepError::Version {
        atom: atom.into(),
        source,
    })?;
    Ok(ApkConstraint {
        mask,
        fuzzy,
        version,
    })
}

/// Parses one atom, `[!]name[op version]`.
pub fn parse(atom: &str) -> Result<ApkDep, DepError> {
    let (conflict, rest) = match atom.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, atom),
    };
    let (name, constraint) = match rest.find(is_op_char) {
        None => (rest, None),
        Some(i) => {
            let (name, tail) = rest.split_at(i);
            let end = tail.find(|c| !is_op_char(c)).unwrap_or(tail.len());
            let (op, version) = tail.split_at(end);
            (name, Some(constraint(atom, op, version)?))
        }
    };
    check_name(atom, name)?;
    Ok(ApkDep {
        name: name.to_string(),
        constraint,
        conflict,
    })
}

/// Parses a whitespace-separated field (`D:`, `i:`).
pub fn parse_list(field: &str) -> Result<Vec<ApkDep>, DepError> {
    field.split_ascii_whitespace().map(parse).collect()
}

/// Parses one `p:` entry: `name` or `name=version` (apk ignores other
/// operators there; ironhull refuses them, as they mean nothing).
pub fn parse_provide(atom: &str) -> Result<(String, Option<ApkVersion>), DepError> {
    let d = parse(atom)?;
    match (d.conflict, d.constraint) {
        (false, None) => Ok((d.name, None)),
        (false, Some(c)) if c.op() == "=" => Ok((d.name, Some(c.version))),
        _ => Err(DepError::BadProvide { atom: atom.into() }),
    }
}

/// Parses a `[packages] install` entry for apk: apk's own form
/// (`python3>=3.11`, `so:libssl.so.3`) or the Debian-like one the spec
/// also allows (`python3 (>= 3.11)`, where `<<`/`>>` mean `<`/`>`).
pub fn parse_request(text: &str) -> Result<ApkDep, DepError> {
    let t = text.trim();
    if let Some(i) = t.find('(') {
        let name = t[..i].trim();
        let inner = t[i..]
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .map(str::trim)
            .unwrap_or("");
        let end = inner.find(|c| !is_op_char(c)).unwrap_or(inner.len());
        let (op, version) = inner.split_at(end);
        let version = version.trim();
        if op.is_empty() || version.is_empty() {
            return Err(DepError::BadOp {
                atom: text.into(),
                op: inner.into(),
            });
        }
        check_name(text, name)?;
        return Ok(ApkDep {
            name: name.to_string(),
            constraint: Some(constraint(text, op, version)?),
            conflict: false,
        });
    }
    let d = parse(t)?;
    if d.conflict {
        return Err(DepError::BadName {
            atom: text.into(),
            what: "a leading '!' (a conflict, not something to install; use [packages] exclude)"
                .into(),
        });
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ApkVersion {
        ApkVersion::parse(s).unwrap()
    }

    #[test]
    fn atoms_parse_as_apk_reads_them() {
        let d = parse("so:libc.musl-x86_64.so.1").unwrap();
        assert_eq!(
            (d.name.as_str(), d.constraint, d.conflict),
            ("so:libc.musl-x86_64.so.1", None, false)
        );
        let d = parse("!busybox<1.36").unwrap();
        assert!(d.conflict);
        assert_eq!(d.to_string(), "!busybox<1.36");
        for (atom, yes, no) in [
            ("a>=1.2", "1.2", "1.1.9"),
            ("a<=1.2", "1.2", "1.2.1"),
            ("a>1.2", "1.2.1", "1.2"),
            ("a<1.2", "1.1", "1.2"),
            ("a=1.2-r0", "1.2-r0", "1.2-r1"),
            ("a~1.2", "1.2.9-r3", "1.3"),
            ("a>~1.2", "1.3", "1.1"),
            ("a=>1.2", "1.3", "1.1"),
        ] {
            let c = parse(atom).unwrap().constraint.unwrap();
            assert!(c.accepts(&v(yes)), "{atom} accepts {yes}");
            assert!(!c.accepts(&v(no)), "{atom} refuses {no}");
        }
        assert_eq!(parse("cmd:[").unwrap().name, "cmd:[");
        assert_eq!(parse("a~1.2").unwrap().constraint.unwrap().op(), "~");
    }

    #[test]
    fn bad_atoms_say_what_is_wrong() {
        for (atom, want) in [
            ("a><Q1abc=", "checksum dependency"),
            ("a@edge", "repository tags"),
            ("a>=1.2~x", "not an apk version"),
            ("", "the name is empty"),
            (">=1", "the name is empty"),
            ("a<>=1", "not a version operator"),
            ("a\u{e9}", "printable ASCII"),
        ] {
            let e = parse(atom).unwrap_err().to_string();
            assert!(e.contains(want), "{atom:?}: {e}");
        }
        assert!(parse_provide("so:x=1").unwrap().1.is_some());
        assert!(parse_provide("so:x>1").is_err());
        assert!(parse_provide("!so:x").is_err());
    }

    #[test]
    fn requests_take_both_forms() {
        let a = parse_request("python3>=3.11").unwrap();
        let b = parse_request("python3 (>= 3.11)").unwrap();
        assert_eq!(a, b);
        let c = parse_request("busybox (<< 2)").unwrap().constraint.unwrap();
        assert!(c.accepts(&v("1.9")) && !c.accepts(&v("2")));
        assert!(parse_request("!busybox").is_err());
        assert!(parse_request("python3 ()").is_err());
        assert_eq!(parse_request(" tzdata ").unwrap().name, "tzdata");
    }
}
