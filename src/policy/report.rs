//! Findings and the report that collects them.

use super::catalog::{Severity, lookup};
use crate::digest::Digest;

/// One problem found in an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The catalog ID (`SH-001`).
    pub id: &'static str,
    /// Effective severity (the catalog default, or a policy override).
    pub severity: Severity,
    /// Absolute image path (`/bin/sh`), when the finding is about a file.
    pub path: Option<String>,
    /// The layer blob the finding comes from, for per-layer checks.
    pub layer: Option<Digest>,
    /// What exactly is wrong, naming the offending value (never a secret).
    pub message: String,
    /// How to fix it (from the catalog).
    pub fix: &'static str,
}

impl Finding {
    /// A finding with the catalog's default severity and fix for `id`.
    /// Unknown IDs get `Severity::High` and an empty fix: a programming error
    /// must not hide a finding, and tests assert that every ID is catalogued.
    pub fn new(id: &'static str, path: Option<String>, message: impl Into<String>) -> Self {
        let (severity, fix) = lookup(id)
            .map(|c| (c.severity, c.fix))
            .unwrap_or((Severity::High, ""));
        Self {
            id,
            severity,
            path,
            layer: None,
            message: message.into(),
            fix,
        }
    }

    /// The same finding, attributed to a layer blob.
    pub fn in_layer(mut self, layer: &Digest) -> Self {
        self.layer = Some(layer.clone());
        self
    }

    /// The same finding, attributed to `layer` when there is one.
    pub fn in_layer_opt(mut self, layer: Option<Digest>) -> Self {
        self.layer = layer;
        self
    }

    /// The deterministic sort key: id, path, layer, then message.
    fn sort_key(&self) -> (&str, Option<&str>, Option<&Digest>, &str) {
        (
            self.id,
            self.path.as_deref(),
            self.layer.as_ref(),
            &self.message,
        )
    }
}

/// A finding that a policy file allowed, kept so that reports can say what
/// was waived and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waived {
    pub finding: Finding,
    pub reason: String,
}

/// Counts per severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

impl Summary {
    /// The count for one severity.
    pub fn count(&self, s: Severity) -> usize {
        match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }
}

/// The result of evaluating an image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Sorted deterministically by id, path, layer (then message).
    pub findings: Vec<Finding>,
    pub summary: Summary,
    /// Findings removed by `[[allow]]` entries of the policy file.
    pub waived: Vec<Waived>,
}

impl Report {
    /// Builds a report: sorts, removes exact duplicates and counts.
    pub fn new(mut findings: Vec<Finding>, mut waived: Vec<Waived>) -> Self {
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        findings.dedup();
        waived.sort_by(|a, b| a.finding.sort_key().cmp(&b.finding.sort_key()));
        waived.dedup();
        let mut summary = Summary {
            total: findings.len(),
            ..Summary::default()
        };
        for f in &findings {
            let slot = match f.severity {
                Severity::Critical => &mut summary.critical,
                Severity::High => &mut summary.high,
                Severity::Medium => &mut summary.medium,
                Severity::Low => &mut summary.low,
                Severity::Info => &mut summary.info,
            };
            *slot += 1;
        }
        Self {
            findings,
            summary,
            waived,
        }
    }

    /// The highest severity among the findings, `None` for a clean report.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// True if any finding is at or above `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.max_severity().is_some_and(|m| m >= threshold)
    }

    /// The distinct check IDs that have findings, sorted.
    pub fn ids(&self) -> std::collections::BTreeSet<&'static str> {
        self.findings.iter().map(|f| f.id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_counts_and_thresholds() {
        let r = Report::new(
            vec![
                Finding::new("SH-001", Some("/bin/sh".into()), "b"),
                Finding::new("CFG-001", None, "a"),
                Finding::new("SH-001", Some("/bin/ash".into()), "a"),
                Finding::new("CFG-001", None, "a"),
            ],
            vec![],
        );
        let order: Vec<_> = r.findings.iter().map(|f| (f.id, f.path.clone())).collect();
        assert_eq!(
            order,
            [
                ("CFG-001", None),
                ("SH-001", Some("/bin/ash".into())),
                ("SH-001", Some("/bin/sh".into()))
            ]
        );
        assert_eq!(r.summary.total, 3);
        assert_eq!(r.summary.high, 2);
        assert_eq!(r.summary.info, 1);
        assert_eq!(r.max_severity(), Some(Severity::High));
        assert!(r.fails(Severity::High));
        assert!(!r.fails(Severity::Critical));
        let empty = Report::new(vec![], vec![]);
        assert_eq!(empty.max_severity(), None);
        assert!(!empty.fails(Severity::Info));
    }
}
