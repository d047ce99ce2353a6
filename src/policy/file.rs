//! The policy file: severity overrides and reasoned allowances.
//!
//! ```toml
//! [severity]
//! "CFG-001" = "low"                       # or { severity = "low", reason = "…" }
//!
//! [[allow]]
//! check = "FS-001"
//! path = "/app/.git"                      # optional; exact path (and below) or a glob
//! reason = "the app reads its own git metadata"   # mandatory
//! ```
//!
//! Parsing is strict: an unknown key, an unknown check ID, a wrong type or an
//! empty reason is an error naming the file and line, because a silently
//! ignored typo in a security policy is a waiver nobody asked for.

use super::catalog::{self, Severity};
use super::report::{Finding, Waived};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A position in a policy file, printed as `file:line:col`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// Everything that can be wrong with a policy file.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {}: {source}; check the path and permissions", file.display())]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{at}: invalid TOML: {message}; fix the syntax at this position")]
    Syntax { at: Location, message: String },
    #[error("{at}: unknown key {key:?} in {section}{hint}")]
    UnknownKey {
        at: Location,
        key: String,
        section: &'static str,
        hint: String,
    },
    #[error("{at}: unknown check ID {id:?}{hint}; see `ironhull checks` for the catalog")]
    UnknownCheck {
        at: Location,
        id: String,
        hint: String,
    },
    #[error("{at}: {key} must be {expected}, found {found}")]
    Type {
        at: Location,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{at}: {what} is missing the required key {key:?}; {how}")]
    Missing {
        at: Location,
        what: &'static str,
        key: &'static str,
        how: &'static str,
    },
    #[error("{at}: {source}")]
    Severity {
        at: Location,
        source: catalog::SeverityError,
    },
    #[error(
        "{at}: the reason is empty; every allowance must say why the risk is accepted (reason = \"…\")"
    )]
    EmptyReason { at: Location },
    #[error(
        "{at}: path {path:?} {why}; write an absolute image path such as \"/app/.git\" or a glob such as \"/app/**/*.map\""
    )]
    BadPath {
        at: Location,
        path: String,
        why: String,
    },
    #[error(
        "{at}: {check} is a core check and can never be {what} for a build: ironhull promises it for every image it builds. Fix the image instead (fix: {fix})"
    )]
    CoreWaiver {
        at: Location,
        check: &'static str,
        what: &'static str,
        fix: &'static str,
    },
}

/// A severity override from `[severity]`.
#[derive(Clone, Debug)]
pub struct Override {
    pub severity: Severity,
    pub reason: Option<String>,
    pub at: Location,
}

/// Which paths an allowance covers.
#[derive(Clone, Debug)]
pub enum PathMatch {
    /// Every finding of the check.
    Any,
    /// This absolute path and everything below it.
    Exact(String),
    /// A glob over absolute paths (`*` does not cross `/`; `**` does).
    Glob {
        pattern: String,
        matcher: globset::GlobMatcher,
    },
}

impl PathMatch {
    fn matches(&self, path: Option<&str>) -> bool {
        match (self, path) {
            (PathMatch::Any, _) => true,
            (_, None) => false,
            (PathMatch::Exact(p), Some(f)) => {
                f == p || (f.starts_with(p.as_str()) && f.as_bytes().get(p.len()) == Some(&b'/'))
            }
            (PathMatch::Glob { matcher, .. }, Some(f)) => matcher.is_match(f),
        }
    }
}

/// One `[[allow]]` entry.
#[derive(Clone, Debug)]
pub struct Allow {
    pub check: &'static str,
    pub path: PathMatch,
    pub reason: String,
    pub at: Location,
}

/// A parsed policy. `Policy::default()` is the empty policy (catalog defaults,
/// nothing waived).
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub overrides: BTreeMap<&'static str, Override>,
    pub allows: Vec<Allow>,
}

/// Byte offset to a 1-based line and column (in characters).
fn locate(file: &Path, text: &str, offset: usize) -> Location {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = before
        .get(line_start..)
        .map(|s| s.chars().count())
        .unwrap_or(0)
        + 1;
    Location {
        file: file.to_path_buf(),
        line,
        col,
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    v.type_str()
}

fn hint_for(wrong: &str, choices: &[&str]) -> String {
    choices
        .iter()
        .map(|c| (strsim::jaro_winkler(wrong, c), *c))
        .filter(|(s, _)| *s > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("; did you mean {c:?}?"))
        .unwrap_or_else(|| format!("; allowed keys: {}", choices.join(", ")))
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn at(&self, offset: usize) -> Location {
        locate(self.file, self.text, offset)
    }

    fn check_id(&self, id: &Spanned<impl AsRef<str>>) -> Result<&'static str, PolicyError> {
        let raw = id.get_ref().as_ref();
        catalog::lookup(raw).map(|c| c.id).ok_or_else(|| {
            let hint = catalog::suggest(raw)
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_default();
            PolicyError::UnknownCheck {
                at: self.at(id.span().start),
                id: raw.chars().take(60).collect(),
                hint,
            }
        })
    }

    fn string<'v>(&self, key: &str, v: &'v Spanned<DeValue<'_>>) -> Result<&'v str, PolicyError> {
        v.get_ref().as_str().ok_or_else(|| PolicyError::Type {
            at: self.at(v.span().start),
            key: key.into(),
            expected: "a string",
            found: type_name(v.get_ref()),
        })
    }

    fn severity(&self, key: &str, v: &Spanned<DeValue<'_>>) -> Result<Severity, PolicyError> {
        self.string(key, v)?
            .parse()
            .map_err(|source| PolicyError::Severity {
                at: self.at(v.span().start),
                source,
            })
    }

    fn reason(&self, v: &Spanned<DeValue<'_>>) -> Result<String, PolicyError> {
        let r = self.string("reason", v)?.trim();
        if r.is_empty() {
            return Err(PolicyError::EmptyReason {
                at: self.at(v.span().start),
            });
        }
        Ok(r.to_string())
    }

    fn path(&self, v: &Spanned<DeValue<'_>>) -> Result<PathMatch, PolicyError> {
        let raw = self.string("path", v)?;
        let bad = |why: &str| PolicyError::BadPath {
            at: self.at(v.span().start),
            path: raw.chars().take(200).collect(),
            why: why.into(),
        };
        if !raw.starts_with('/') {
            return Err(bad("is not absolute"));
        }
        if raw.split('/').any(|c| c == "..") {
            return Err(bad("contains '..'"));
        }
        if raw.contains(['*', '?', '[', '{']) {
            let glob = globset::GlobBuilder::new(raw)
                .literal_separator(true)
                .build()
                .map_err(|e| bad(&format!("is not a valid glob ({})", e.kind())))?;
            return Ok(PathMatch::Glob {
                pattern: raw.to_string(),
                matcher: glob.compile_matcher(),
            });
        }
        let norm = crate::fs::ImagePath::parse(raw).map_err(|e| bad(&e.to_string()))?;
        if norm.is_root() {
            return Err(bad(
                "is the root, which would allow everything; omit path instead",
            ));
        }
        Ok(PathMatch::Exact(norm.to_abs()))
    }
}

impl Policy {
    /// Reads and parses a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses policy text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Policy, PolicyError> {
        let cx = Ctx { file: path, text };
        let doc = DeTable::parse(text).map_err(|e| PolicyError::Syntax {
            at: cx.at(e.span().map(|s| s.start).unwrap_or(0)),
            message: e.message().trim().to_string(),
        })?;
        let mut policy = Policy::default();
        for (key, value) in doc.get_ref().iter() {
            match key.get_ref().as_ref() {
                "severity" => policy.parse_severity(&cx, value)?,
                "allow" => policy.parse_allows(&cx, value)?,
                other => {
                    return Err(PolicyError::UnknownKey {
                        at: cx.at(key.span().start),
                        key: other.chars().take(60).collect(),
                        section: "the top level",
                        hint: hint_for(other, &["severity", "allow"]),
                    });
                }
            }
        }
        policy.allows.sort_by_key(|a| a.at.line);
        Ok(policy)
    }

    fn parse_severity(
        &mut self,
        cx: &Ctx<'_>,
        v: &Spanned<DeValue<'_>>,
    ) -> Result<(), PolicyError> {
        let table = v.get_ref().as_table().ok_or_else(|| PolicyError::Type {
            at: cx.at(v.span().start),
            key: "severity".into(),
            expected: "a table of check ID = severity",
            found: type_name(v.get_ref()),
        })?;
        for (k, val) in table.iter() {
            let id = cx.check_id(k)?;
            let at = cx.at(k.span().start);
            let (severity, reason) = match val.get_ref() {
                DeValue::Table(t) => {
                    let mut sev = None;
                    let mut reason = None;
                    for (ik, iv) in t.iter() {
                        match ik.get_ref().as_ref() {
                            "severity" => sev = Some(cx.severity("severity", iv)?),
                            "reason" => reason = Some(cx.reason(iv)?),
                            other => {
                                return Err(PolicyError::UnknownKey {
                                    at: cx.at(ik.span().start),
                                    key: other.chars().take(60).collect(),
                                    section: "a [severity] entry",
                                    hint: hint_for(other, &["severity", "reason"]),
                                });
                            }
                        }
                    }
                    let sev = sev.ok_or(PolicyError::Missing {
                        at: at.clone(),
                        what: "this [severity] entry",
                        key: "severity",
                        how: "add severity = \"low\" (info, low, medium, high or critical)",
                    })?;
                    (sev, reason)
                }
                _ => (cx.severity(id, val)?, None),
            };
            self.overrides.insert(
                id,
                Override {
                    severity,
                    reason,
                    at,
                },
            );
        }
        Ok(())
    }

    fn parse_allows(&mut self, cx: &Ctx<'_>, v: &Spanned<DeValue<'_>>) -> Result<(), PolicyError> {
        let arr = v.get_ref().as_array().ok_or_else(|| PolicyError::Type {
            at: cx.at(v.span().start),
            key: "allow".into(),
            expected: "an array of tables ([[allow]])",
            found: type_name(v.get_ref()),
        })?;
        for item in arr.iter() {
            let t = item.get_ref().as_table().ok_or_else(|| PolicyError::Type {
                at: cx.at(item.span().start),
                key: "allow entry".into(),
                expected: "a table with check, path and reason",
                found: type_name(item.get_ref()),
            })?;
            let at = cx.at(item.span().start);
            let mut check = None;
            let mut path = PathMatch::Any;
            let mut reason = None;
            for (k, val) in t.iter() {
                match k.get_ref().as_ref() {
                    "check" => {
                        let s = cx.string("check", val)?;
                        check = Some(cx.check_id(&Spanned::new(val.span(), s))?);
                    }
                    "path" => path = cx.path(val)?,
                    "reason" => reason = Some(cx.reason(val)?),
                    other => {
                        return Err(PolicyError::UnknownKey {
                            at: cx.at(k.span().start),
                            key: other.chars().take(60).collect(),
                            section: "[[allow]]",
                            hint: hint_for(other, &["check", "path", "reason"]),
                        });
                    }
                }
            }
            let check = check.ok_or(PolicyError::Missing {
                at: at.clone(),
                what: "this [[allow]] entry",
                key: "check",
                how: "name the check ID it allows, e.g. check = \"FS-001\"",
            })?;
            let reason = reason.ok_or(PolicyError::Missing {
                at: at.clone(),
                what: "this [[allow]] entry",
                key: "reason",
                how: "say why the risk is accepted, e.g. reason = \"…\"",
            })?;
            self.allows.push(Allow {
                check,
                path,
                reason,
                at,
            });
        }
        Ok(())
    }

    /// The policy as the build gate may use it: any allowance or override of
    /// a core check is refused, because those properties are what ironhull
    /// guarantees for every image it builds.
    pub fn for_build(&self) -> Result<Policy, PolicyError> {
        let core = |id: &str| catalog::lookup(id).filter(|c| c.core);
        for (id, o) in &self.overrides {
            if let Some(c) = core(id) {
                return Err(PolicyError::CoreWaiver {
                    at: o.at.clone(),
                    check: c.id,
                    what: "given a different severity",
                    fix: c.fix,
                });
            }
        }
        for a in &self.allows {
            if let Some(c) = core(a.check) {
                return Err(PolicyError::CoreWaiver {
                    at: a.at.clone(),
                    check: c.id,
                    what: "allowed",
                    fix: c.fix,
                });
            }
        }
        Ok(self.clone())
    }

    /// Applies overrides, then allowances. Returns the findings that remain and
    /// those that were waived (with the allowance's reason).
    pub fn apply(&self, findings: Vec<Finding>) -> (Vec<Finding>, Vec<Waived>) {
        let mut kept = Vec::with_capacity(findings.len());
        let mut waived = Vec::new();
        for mut f in findings {
            if let Some(o) = self.overrides.get(f.id) {
                f.severity = o.severity;
            }
            match self
                .allows
                .iter()
                .find(|a| a.check == f.id && a.path.matches(f.path.as_deref()))
            {
                Some(a) => waived.push(Waived {
                    finding: f,
                    reason: a.reason.clone(),
                }),
                None => kept.push(f),
            }
        }
        (kept, waived)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, Path::new("policy.toml"))
    }

    #[test]
    fn parses_overrides_and_allows() {
        let p = parse(
            r#"
[severity]
"CFG-001" = "low"
"USR-005" = { severity = "info", reason = "accounts are unused" }

[[allow]]
check = "FS-001"
path = "/app/.git"
reason = "the app shows its commit"

[[allow]]
check = "CFG-003"
reason = "bastion image"

[[allow]]
check = "FS-001"
path = "/srv/**/*.map"
reason = "source maps are public"
"#,
        )
        .unwrap();
        assert_eq!(p.overrides["CFG-001"].severity, Severity::Low);
        assert_eq!(
            p.overrides["USR-005"].reason.as_deref(),
            Some("accounts are unused")
        );
        assert_eq!(p.allows.len(), 3);
        assert_eq!(p.allows[0].at.line, 6);

        let f = |id, path: Option<&str>| Finding::new(id, path.map(String::from), "m");
        let (kept, waived) = p.apply(vec![
            f("FS-001", Some("/app/.git")),
            f("FS-001", Some("/app/.git/config")),
            f("FS-001", Some("/app/.gitignore")),
            f("FS-001", Some("/srv/a/b/x.js.map")),
            f("FS-001", Some("/srv/x.map/y")),
            f("CFG-003", None),
            f("CFG-001", None),
        ]);
        let kept_paths: Vec<_> = kept.iter().map(|f| (f.id, f.path.clone())).collect();
        assert_eq!(
            kept_paths,
            [
                ("FS-001", Some("/app/.gitignore".to_string())),
                ("FS-001", Some("/srv/x.map/y".to_string())),
                ("CFG-001", None)
            ]
        );
        assert_eq!(kept[2].severity, Severity::Low);
        assert_eq!(waived.len(), 4);
        assert_eq!(waived[0].reason, "the app shows its commit");
    }

    #[test]
    fn strict_errors_name_line_and_suggest() {
        let e = parse("[severity]\n\"SH-01\" = \"low\"\n").unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, PolicyError::UnknownCheck { .. }), "{msg}");
        assert!(msg.starts_with("policy.toml:2:"), "{msg}");
        assert!(msg.contains("\"SH-001\""), "{msg}");

        let e =
            parse("[[allow]]\ncheck = \"FS-001\"\nreason = \"x\"\npaht = \"/a\"\n").unwrap_err();
        assert!(matches!(e, PolicyError::UnknownKey { .. }), "{e}");
        assert!(e.to_string().contains("policy.toml:4:1"), "{e}");
        assert!(e.to_string().contains("\"path\""), "{e}");

        let e = parse("[severities]\n").unwrap_err();
        assert!(e.to_string().contains("did you mean \"severity\""), "{e}");

        let e = parse("[[allow]]\ncheck = \"FS-001\"\n").unwrap_err();
        assert!(
            matches!(e, PolicyError::Missing { key: "reason", .. }),
            "{e}"
        );
        let e = parse("[[allow]]\ncheck = \"FS-001\"\nreason = \"  \"\n").unwrap_err();
        assert!(matches!(e, PolicyError::EmptyReason { .. }), "{e}");
        let e = parse("[[allow]]\nreason = \"x\"\n").unwrap_err();
        assert!(
            matches!(e, PolicyError::Missing { key: "check", .. }),
            "{e}"
        );
        let e = parse("[severity]\n\"CFG-001\" = \"LOW\"\n").unwrap_err();
        assert!(matches!(e, PolicyError::Severity { .. }), "{e}");
        let e = parse("[severity]\n\"CFG-001\" = 3\n").unwrap_err();
        assert!(matches!(e, PolicyError::Type { .. }), "{e}");
        let e = parse("[[allow]]\ncheck = \"FS-001\"\npath = \"app/.git\"\nreason = \"x\"\n")
            .unwrap_err();
        assert!(matches!(e, PolicyError::BadPath { .. }), "{e}");
        let e = parse("[[allow]]\ncheck = \"FS-001\"\npath = \"/a/../b\"\nreason = \"x\"\n")
            .unwrap_err();
        assert!(matches!(e, PolicyError::BadPath { .. }), "{e}");
        let e =
            parse("[[allow]]\ncheck = \"FS-001\"\npath = \"/a/[\"\nreason = \"x\"\n").unwrap_err();
        assert!(matches!(e, PolicyError::BadPath { .. }), "{e}");
        let e = parse("allow = \"x\"\n").unwrap_err();
        assert!(matches!(e, PolicyError::Type { .. }), "{e}");
        let e = parse("[severity\n").unwrap_err();
        assert!(matches!(e, PolicyError::Syntax { .. }), "{e}");
        assert!(e.to_string().starts_with("policy.toml:1:"), "{e}");
    }

    #[test]
    fn build_refuses_core_waivers_but_audit_accepts_them() {
        let allow_core = "[[allow]]\ncheck = \"SH-001\"\npath = \"/bin/sh\"\nreason = \"debug\"\n";
        let p = parse(allow_core).unwrap();
        let e = p.for_build().unwrap_err();
        assert!(
            matches!(
                e,
                PolicyError::CoreWaiver {
                    check: "SH-001",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("policy.toml:1:"), "{e}");
        let (kept, waived) = p.apply(vec![Finding::new("SH-001", Some("/bin/sh".into()), "m")]);
        assert!(kept.is_empty());
        assert_eq!(waived.len(), 1);

        let p = parse("[severity]\n\"SEC-002\" = \"low\"\n").unwrap();
        assert!(matches!(
            p.for_build(),
            Err(PolicyError::CoreWaiver {
                check: "SEC-002",
                ..
            })
        ));

        let ok = parse(
            "[severity]\n\"CFG-001\" = \"low\"\n[[allow]]\ncheck = \"FS-001\"\nreason = \"ok\"\n",
        )
        .unwrap();
        assert!(ok.for_build().is_ok());
    }

    #[test]
    fn load_reports_missing_file() {
        let e = Policy::load(Path::new("/nonexistent/ironhull-policy.toml")).unwrap_err();
        assert!(matches!(e, PolicyError::Io { .. }));
        assert!(e.to_string().contains("/nonexistent/ironhull-policy.toml"));
    }
}
