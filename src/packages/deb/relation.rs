//! Debian package relations (`Depends`, `Pre-Depends`, `Provides`,
//! `Conflicts`, `Breaks`, `Replaces`): `,` is AND, `|` is OR, each atom a
//! name with an optional `:arch` qualifier, `(op version)` and `[arch …]`
//! restriction (deb-control(5)).

use super::version::{DebVersion, VersionError};

/// A version relation operator. dpkg still reads the obsolete `<` and `>`
/// as `<=` and `>=`; so does this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "<<" => Op::Lt,
            "<=" | "<" => Op::Le,
            "=" => Op::Eq,
            ">=" | ">" => Op::Ge,
            ">>" => Op::Gt,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        }
    }
}

/// `(op version)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    pub op: Op,
    pub version: DebVersion,
}

impl Constraint {
    /// Whether `v` satisfies the constraint, in dpkg's order.
    pub fn accepts(&self, v: &DebVersion) -> bool {
        use std::cmp::Ordering::*;
        let o = v.cmp(&self.version);
        match self.op {
            Op::Lt => o == Less,
            Op::Le => o != Greater,
            Op::Eq => o == Equal,
            Op::Ge => o != Less,
            Op::Gt => o == Greater,
        }
    }
}

/// One alternative: `name[:qualifier] [(op version)] [[arch …]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Atom {
    pub name: String,
    /// `any` or `native` (Multi-Arch), or an architecture.
    pub qualifier: Option<String>,
    pub constraint: Option<Constraint>,
    /// The architecture restriction, as written (`amd64`, `!i386`).
    pub arches: Vec<String>,
}

/// A relation field: a list (AND) of alternatives (OR).
pub type Relations = Vec<Vec<Atom>>;

/// Why a relation field does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelationError {
    #[error("relation {atom:?}: {why}")]
    Syntax { atom: String, why: String },
    #[error("relation {atom:?}: {source}")]
    Version {
        atom: String,
        #[source]
        source: VersionError,
    },
}

/// Whether `s` is a valid package name: lower-case letters, digits and
/// `+ - .`, starting with a letter or digit, at least two characters.
pub fn valid_name(s: &str) -> bool {
    s.len() >= 2
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
        })
}

/// Parses a relation field. An empty field is an empty list.
pub fn parse(field: &str) -> Result<Relations, RelationError> {
    let mut out = Vec::new();
    for group in field.split(',') {
        let group = group.trim();
        if group.is_empty() {
            if field.trim().is_empty() {
                continue;
            }
            return Err(RelationError::Syntax {
                atom: field.trim().to_string(),
                why: "an empty entry between commas".into(),
            });
        }
        let mut alts = Vec::new();
        for atom in group.split('|') {
            alts.push(parse_atom(atom.trim())?);
        }
        out.push(alts);
    }
    Ok(out)
}

fn parse_atom(s: &str) -> Result<Atom, RelationError> {
    let syntax = |why: &str| RelationError::Syntax {
        atom: s.to_string(),
        why: why.to_string(),
    };
    // Build profiles (`<!nocheck>`) only matter to source packages: cut at
    // the first `<` outside the parentheses (where `<<` and `<=` live).
    let mut depth = 0usize;
    let cut = s
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
            c == '<' && depth == 0
        })
        .map_or(s.len(), |(i, _)| i);
    let s_no_profiles = &s[..cut];
    let mut rest = s_no_profiles.trim();
    let name_end = rest
        .find(|c: char| c.is_whitespace() || c == '(' || c == '[' || c == ':')
        .unwrap_or(rest.len());
    let name = &rest[..name_end];
    if !valid_name(name) {
        return Err(syntax(
            "the package name must be two or more lower-case letters, digits, '+', '-' or '.'",
        ));
    }
    rest = &rest[name_end..];
    let mut qualifier = None;
    if let Some(q) = rest.strip_prefix(':') {
        let end = q
            .find(|c: char| c.is_whitespace() || c == '(' || c == '[')
            .unwrap_or(q.len());
        if end == 0 {
            return Err(syntax("':' is not followed by an architecture qualifier"));
        }
        qualifier = Some(q[..end].to_string());
        rest = &q[end..];
    }
    rest = rest.trim_start();
    let mut constraint = None;
    if let Some(inner) = rest.strip_prefix('(') {
        let Some(close) = inner.find(')') else {
            return Err(syntax("'(' without ')'"));
        };
        let body = inner[..close].trim();
        let op_end = body
            .find(|c: char| !matches!(c, '<' | '>' | '='))
            .unwrap_or(body.len());
        let op = Op::parse(&body[..op_end])
            .ok_or_else(|| syntax("the operator must be one of << <= = >= >>"))?;
        let version = body[op_end..].trim();
        let version = DebVersion::parse(version).map_err(|source| RelationError::Version {
            atom: s.to_string(),
            source,
        })?;
        constraint = Some(Constraint { op, version });
        rest = inner[close + 1..].trim_start();
    }
    let mut arches = Vec::new();
    if let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err(syntax("'[' without ']'"));
        };
        arches = inner[..close]
            .split_whitespace()
            .map(String::from)
            .collect();
        if arches.is_empty() {
            return Err(syntax("an empty architecture list"));
        }
        rest = inner[close + 1..].trim_start();
    }
    if !rest.is_empty() {
        return Err(syntax("unexpected text after the relation"));
    }
    Ok(Atom {
        name: name.to_string(),
        qualifier,
        constraint,
        arches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_fields_parse() {
        let r = parse("libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, python3:any (>= 3.11~)")
            .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].len(), 2);
        assert_eq!(r[1][1].name, "debconf-2.0");
        assert_eq!(r[2][0].qualifier.as_deref(), Some("any"));
        let c = r[0][0].constraint.as_ref().unwrap();
        assert_eq!(c.op, Op::Ge);
        assert!(c.accepts(&DebVersion::parse("2.36-9+deb12u4").unwrap()));
        assert!(!c.accepts(&DebVersion::parse("2.31-13").unwrap()));
        let r = parse("foo [amd64 !i386], bar (<< 2) <!nocheck>").unwrap();
        assert_eq!(r[0][0].arches, ["amd64", "!i386"]);
        assert_eq!(r[1][0].constraint.as_ref().unwrap().op, Op::Lt);
        assert!(parse("").unwrap().is_empty());
        assert!(parse("  ").unwrap().is_empty());
    }

    #[test]
    fn operators_follow_dpkg() {
        let v = |s| DebVersion::parse(s).unwrap();
        let c = |op, s| Constraint { op, version: v(s) };
        assert!(c(Op::Le, "1.0").accepts(&v("1.0")) && c(Op::Le, "1.0").accepts(&v("1.0~")));
        assert!(!c(Op::Lt, "1.0").accepts(&v("1.0")));
        assert!(c(Op::Eq, "1.0").accepts(&v("1.00")));
        assert!(c(Op::Gt, "1.0").accepts(&v("1.0+b1")));
        // The obsolete forms read as dpkg reads them.
        assert_eq!(
            parse("a1 (< 1)").unwrap()[0][0]
                .constraint
                .as_ref()
                .unwrap()
                .op,
            Op::Le
        );
        assert_eq!(
            parse("a1 (> 1)").unwrap()[0][0]
                .constraint
                .as_ref()
                .unwrap()
                .op,
            Op::Ge
        );
    }

    #[test]
    fn bad_relations_say_why() {
        for (s, why) in [
            ("Libc6", "package name"),
            ("a", "package name"),
            ("libc6 (>= 2.34", "without ')'"),
            ("libc6 (=> 2)", "operator"),
            ("libc6 (>= x)", "not a Debian version"),
            ("libc6, , foo", "empty entry"),
            ("libc6 [amd64", "without ']'"),
            ("libc6 []", "empty architecture"),
            ("libc6 trailing", "unexpected text"),
            ("libc6:", "qualifier"),
        ] {
            let e = parse(s).unwrap_err();
            assert!(e.to_string().contains(why), "{s:?}: {e}");
        }
    }
}
