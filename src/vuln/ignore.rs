//! The vulnerability ignore file: accepted risks, each with a reason and an
//! optional expiry date, so an exception is a reviewed decision that comes
//! back for review instead of a permanent blind spot.
//!
//! ```toml
//! [[ignore]]
//! id = "CVE-2024-1234"           # or any alias of the record
//! reason = "the vulnerable code path is not reachable: no TLS server"
//! expires = "2025-06-30"         # optional, YYYY-MM-DD (UTC); after it the rule stops applying
//! package = "busybox"            # optional: only for this binary package
//! ```

use std::path::{Path, PathBuf};

use super::Finding;

/// One accepted risk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    pub id: String,
    pub reason: String,
    pub expires: Option<String>,
    pub package: Option<String>,
    /// 1-based line of the `[[ignore]]` entry, for messages.
    pub line: usize,
}

impl IgnoreRule {
    /// True if the rule names the finding's id or one of its aliases (and its
    /// package, when the rule has one).
    pub fn matches(&self, f: &Finding) -> bool {
        let id_ok = f.id.eq_ignore_ascii_case(&self.id)
            || f.aliases.iter().any(|a| a.eq_ignore_ascii_case(&self.id));
        id_ok && self.package.as_ref().is_none_or(|p| *p == f.package)
    }

    /// True when `today` (`YYYY-MM-DD`) is after the expiry date. ISO dates
    /// order correctly as strings.
    pub fn is_expired(&self, today: &str) -> bool {
        self.expires.as_deref().is_some_and(|e| today > e)
    }
}

/// Why an ignore file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    #[error("cannot read the ignore file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}:{line}: {what}")]
    Invalid {
        path: PathBuf,
        line: usize,
        what: String,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    ignore: Vec<toml::Spanned<Raw>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: String,
    reason: String,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    package: Option<String>,
}

/// True for a real calendar date written `YYYY-MM-DD`.
pub fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|x| x.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|x| x.parse::<u32>().ok())
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Parses ignore-file text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Vec<IgnoreRule>, IgnoreError> {
    let f: File = toml::from_str(text).map_err(|e| IgnoreError::Syntax {
        path: path.into(),
        message: format!(
            "{}; expected entries like [[ignore]] id = \"CVE-…\", reason = \"…\", expires = \"YYYY-MM-DD\"",
            e.to_string().trim_end()
        ),
    })?;
    let line_of = |off: usize| text.get(..off).map_or(1, |s| s.matches('\n').count() + 1);
    let mut out = Vec::new();
    for sp in f.ignore {
        let line = line_of(sp.span().start);
        let r = sp.into_inner();
        let bad = |what: String| IgnoreError::Invalid {
            path: path.into(),
            line,
            what,
        };
        if r.id.trim().is_empty() {
            return Err(bad(
                "`id` is empty; name the vulnerability (e.g. \"CVE-2024-1234\")".into(),
            ));
        }
        if r.reason.trim().is_empty() {
            return Err(bad(format!(
                "the rule for {} has an empty `reason`; write down why the risk is accepted",
                r.id
            )));
        }
        if let Some(e) = &r.expires
            && !valid_date(e)
        {
            return Err(bad(format!(
                "`expires = {e:?}` for {} is not a date; write it as YYYY-MM-DD",
                r.id
            )));
        }
        out.push(IgnoreRule {
            id: r.id.trim().to_string(),
            reason: r.reason,
            expires: r.expires,
            package: r.package,
            line,
        });
    }
    Ok(out)
}

/// Reads and parses an ignore file.
pub fn load(path: &Path) -> Result<Vec<IgnoreRule>, IgnoreError> {
    let text = std::fs::read_to_string(path).map_err(|source| IgnoreError::Io {
        path: path.into(),
        source,
    })?;
    parse(&text, path)
}

/// Today's UTC date as `YYYY-MM-DD` (from the system clock; ignore-rule
/// expiry is about real time, not `SOURCE_DATE_EPOCH`).
pub fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    date_of(secs)
}

/// The UTC calendar date of a Unix time (days-to-civil algorithm).
pub fn date_of(secs: u64) -> String {
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_with_lines() {
        let t = "# accepted risks\n[[ignore]]\nid = \"CVE-1\"\nreason = \"not reachable\"\n\n[[ignore]]\nid = \"CVE-2\"\nreason = \"r\"\nexpires = \"2024-02-29\"\npackage = \"busybox\"\n";
        let r = parse(t, Path::new("ig.toml")).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].line, 2);
        assert_eq!(r[1].line, 6);
        assert_eq!(r[1].expires.as_deref(), Some("2024-02-29"));
        assert!(r[1].is_expired("2024-03-01"));
        assert!(!r[1].is_expired("2024-02-29"));
        assert!(!r[0].is_expired("2999-01-01"));
    }

    #[test]
    fn rejects_bad_rules_with_location() {
        let e = parse(
            "[[ignore]]\nid = \"CVE-1\"\nreason = \"\"\n",
            Path::new("ig.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("ig.toml:1: "), "{e}");
        let e = parse(
            "\n[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\nexpires = \"2023-02-29\"\n",
            Path::new("ig.toml"),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("ig.toml:2:") && e.to_string().contains("YYYY-MM-DD"),
            "{e}"
        );
        let e = parse(
            "[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\nexpire = \"2023-01-01\"\n",
            Path::new("ig.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("expire"), "{e}");
        assert!(parse("[[ignore]]\nreason = \"x\"\n", Path::new("i")).is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(951_782_400), "2000-02-29");
        assert_eq!(date_of(1_735_689_599), "2024-12-31");
        assert!(valid_date("2000-02-29"));
        assert!(!valid_date("1900-02-29"));
        assert!(!valid_date("2024-13-01"));
        assert!(!valid_date("2024-1-01"));
        assert_eq!(today_utc().len(), 10);
    }
}
