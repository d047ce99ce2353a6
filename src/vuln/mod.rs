//! Offline vulnerability matching: OSV records against an image inventory,
//! with native version ordering, an ignore file, and a pass/fail verdict.
//!
//! Matching is by SOURCE package (apk `o:`, dpkg `Source:`), because that is
//! what distribution security trackers and OSV key on: a fix to `openssl`
//! fixes `libssl3` and `libcrypto3`. Each affected binary package is reported
//! as its own finding, so the user sees what to upgrade.

pub mod cvss;
pub mod ignore;
pub mod osv;
pub mod report;
pub mod scanner;
pub mod version;

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use crate::sbom::{Ecosystem, Inventory, Package};
use osv::{Database, Event};

/// Severity of a vulnerability. `Unknown` (no rating in the record) is the
/// lowest, so `--fail-on low` does not fail on unrated findings, but
/// `--fail-on unknown` fails on any finding at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VulnSeverity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

/// A `--fail-on` value that is not a severity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?}; use one of unknown, low, medium, high, critical")]
pub struct SeverityParseError(pub String);

impl VulnSeverity {
    pub const ALL: [VulnSeverity; 5] = [
        Self::Unknown,
        Self::Low,
        Self::Medium,
        Self::High,
        Self::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
            Self::Critical => "CRITICAL",
        }
    }

    /// Parses the labels used by OSV databases and scanners (GitHub's
    /// `MODERATE`, Red Hat's `Important`, Debian's `unimportant`, …).
    pub fn from_label(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "unknown" | "unassigned" | "not yet assigned" => Self::Unknown,
            "negligible" | "unimportant" | "low" | "minor" | "none" | "info" | "informational" => {
                Self::Low
            }
            "medium" | "moderate" => Self::Medium,
            "high" | "important" => Self::High,
            "critical" => Self::Critical,
            _ => return None,
        })
    }

    /// The CVSS qualitative rating of a base score.
    pub fn from_score(score: f64) -> Self {
        if score >= 9.0 {
            Self::Critical
        } else if score >= 7.0 {
            Self::High
        } else if score >= 4.0 {
            Self::Medium
        } else if score >= 0.0 {
            Self::Low
        } else {
            Self::Unknown
        }
    }
}

impl std::str::FromStr for VulnSeverity {
    type Err = SeverityParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "unknown" => Ok(Self::Unknown),
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            _ => Err(SeverityParseError(s.into())),
        }
    }
}

impl fmt::Display for VulnSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One vulnerable package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub id: String,
    pub aliases: Vec<String>,
    pub severity: VulnSeverity,
    /// Binary package name.
    pub package: String,
    /// Source package the record was matched on.
    pub source: String,
    pub installed: String,
    /// The first fixed version above the installed one, when there is one.
    pub fixed: Option<String>,
    pub ecosystem: String,
    pub summary: Option<String>,
    /// Where the record came from (file, zip entry, or scanner name).
    pub origin: String,
}

/// Orders versions of `eco`.
pub fn compare(eco: Ecosystem, a: &str, b: &str) -> Ordering {
    match eco {
        Ecosystem::Apk => version::apk_cmp(a, b),
        Ecosystem::Deb => version::dpkg_cmp(a, b),
    }
}

/// Whether `v` lies in the range given by `events`, and if so the fixed
/// version that ends the affected interval (if any). Follows the OSV
/// evaluation: events sorted by version (`introduced: "0"` first), then
/// walked; `introduced <= v` turns affected on, `fixed <= v` and
/// `last_affected < v` turn it off.
pub fn in_range(eco: Ecosystem, v: &str, events: &[Event]) -> (bool, Option<String>) {
    let key = |e: &Event| match e {
        Event::Introduced(_) => 0u8,
        Event::LastAffected(_) => 1,
        Event::Fixed(_) | Event::Limit(_) => 2,
    };
    let mut evs: Vec<&Event> = events
        .iter()
        .filter(|e| !matches!(e, Event::Limit(_)))
        .collect();
    evs.sort_by(|a, b| {
        let (va, vb) = (a.version(), b.version());
        let ord = match (
            va == "0" && matches!(a, Event::Introduced(_)),
            vb == "0" && matches!(b, Event::Introduced(_)),
        ) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => compare(eco, va, vb),
        };
        ord.then_with(|| key(a).cmp(&key(b)))
    });
    let mut affected = false;
    let mut fixed = None;
    for e in evs {
        match e {
            Event::Introduced(x) => {
                if x == "0" || compare(eco, v, x) != Ordering::Less {
                    affected = true;
                    fixed = None;
                }
            }
            Event::Fixed(x) => {
                if compare(eco, v, x) != Ordering::Less {
                    affected = false;
                } else if affected && fixed.is_none() {
                    fixed = Some(x.clone());
                }
            }
            Event::LastAffected(x) => {
                if compare(eco, v, x) == Ordering::Greater {
                    affected = false;
                }
            }
            Event::Limit(_) => {}
        }
    }
    (affected, if affected { fixed } else { None })
}

/// What a scan produced before any policy was applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanResult {
    /// Sorted by severity (highest first), id, package.
    pub findings: Vec<Finding>,
    /// Packages that could not be matched (unknown OS version), as messages.
    pub warnings: Vec<String>,
    pub packages_scanned: usize,
}

/// Matches every package of `inv` against `db`.
pub fn scan(inv: &Inventory, db: &Database) -> ScanResult {
    let mut res = ScanResult::default();
    let mut unmatched: BTreeSet<Ecosystem> = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for pkg in &inv.packages {
        let Some(eco_name) = inv.os.as_ref().and_then(|o| o.osv_ecosystem(pkg.ecosystem)) else {
            unmatched.insert(pkg.ecosystem);
            continue;
        };
        res.packages_scanned += 1;
        for f in match_package(pkg, &eco_name, db) {
            if seen.insert((f.id.clone(), f.package.clone(), f.installed.clone())) {
                res.findings.push(f);
            }
        }
    }
    for e in unmatched {
        res.warnings.push(format!(
            "{} packages were not checked: the OS release could not be determined from \
             /etc/os-release, /etc/alpine-release or /etc/debian_version",
            e.purl_type()
        ));
    }
    sort_findings(&mut res.findings);
    res
}

/// Sorts findings: highest severity first, then id, then package.
pub fn sort_findings(f: &mut [Finding]) {
    f.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.installed.cmp(&b.installed))
    });
}

/// The findings for one package in OSV ecosystem `eco_name`.
pub fn match_package(pkg: &Package, eco_name: &str, db: &Database) -> Vec<Finding> {
    let v = pkg.match_version();
    let mut out = Vec::new();
    for (rec, aff) in db.lookup(eco_name, &pkg.source) {
        let mut hit = aff.versions.iter().any(|x| x == v);
        let mut fixed: Option<String> = None;
        for r in &aff.ranges {
            let (a, f) = in_range(pkg.ecosystem, v, r);
            if a {
                hit = true;
                // Several ranges may match; report the lowest fix.
                fixed = match (fixed, f) {
                    (Some(x), Some(y)) => {
                        Some(if compare(pkg.ecosystem, &x, &y) == Ordering::Greater {
                            y
                        } else {
                            x
                        })
                    }
                    (x, y) => x.or(y),
                };
            }
        }
        if hit {
            out.push(Finding {
                id: rec.id.clone(),
                aliases: rec.aliases.clone(),
                severity: aff.severity.unwrap_or(rec.severity),
                package: pkg.name.clone(),
                source: pkg.source.clone(),
                installed: pkg.version.clone(),
                fixed,
                ecosystem: eco_name.to_string(),
                summary: rec.summary.clone(),
                origin: rec.origin.clone(),
            });
        }
    }
    out
}

/// A finding that policy removed, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suppressed {
    pub finding: Finding,
    pub reason: String,
}

/// How findings are filtered and judged.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Fail when a remaining finding is at least this severe; `None` never fails.
    pub fail_on: Option<VulnSeverity>,
    /// Drop findings that have no fixed version yet.
    pub ignore_unfixed: bool,
    pub ignores: Vec<ignore::IgnoreRule>,
    /// Today's date (`YYYY-MM-DD`, UTC) for ignore-rule expiry.
    pub today: String,
}

/// The judged result of a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub findings: Vec<Finding>,
    pub suppressed: Vec<Suppressed>,
    pub warnings: Vec<String>,
    /// Findings at or above `fail_on`.
    pub failing: usize,
    pub failed: bool,
}

/// Applies ignores and `ignore_unfixed`, then judges against `fail_on`.
pub fn judge(res: &ScanResult, policy: &Policy) -> Verdict {
    let mut v = Verdict {
        warnings: res.warnings.clone(),
        ..Verdict::default()
    };
    for r in &policy.ignores {
        if r.is_expired(&policy.today) {
            v.warnings.push(format!(
                "ignore rule for {} (line {}) expired on {}; it no longer applies. Fix the \
                 vulnerability, or renew the rule with a new reason",
                r.id,
                r.line,
                r.expires.as_deref().unwrap_or("?")
            ));
        }
    }
    for f in &res.findings {
        if let Some(r) = policy
            .ignores
            .iter()
            .find(|r| !r.is_expired(&policy.today) && r.matches(f))
        {
            v.suppressed.push(Suppressed {
                finding: f.clone(),
                reason: format!("ignored: {}", r.reason),
            });
        } else if policy.ignore_unfixed && f.fixed.is_none() {
            v.suppressed.push(Suppressed {
                finding: f.clone(),
                reason: "no fixed version yet (--ignore-unfixed)".into(),
            });
        } else {
            v.findings.push(f.clone());
        }
    }
    if let Some(t) = policy.fail_on {
        v.failing = v.findings.iter().filter(|f| f.severity >= t).count();
        v.failed = v.failing > 0;
    }
    v
}

#[cfg(test)]
mod tests;
