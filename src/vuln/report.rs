//! Rendering a scan verdict as text, JSON or SARIF 2.1.0. Output is sorted
//! and carries no timestamps, so the same scan renders the same bytes.

use serde_json::{Value, json};

use super::{Finding, Verdict, VulnSeverity};

/// A human-readable table plus a one-line summary.
pub fn text(v: &Verdict, image: &str, fail_on: Option<VulnSeverity>) -> String {
    let mut s = String::new();
    for w in &v.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    if v.findings.is_empty() {
        s.push_str(&format!("{image}: no known vulnerabilities"));
    } else {
        s.push_str(&format!("{image}: {} vulnerabilities\n", v.findings.len()));
        for f in &v.findings {
            s.push_str(&format!(
                "  {:<8} {:<20} {} {} (source {}){}\n",
                f.severity.as_str(),
                f.id,
                f.package,
                f.installed,
                f.source,
                match &f.fixed {
                    Some(x) => format!(", fixed in {x}"),
                    None => ", no fix yet".into(),
                }
            ));
        }
        s.push_str("summary:");
        for sev in VulnSeverity::ALL.iter().rev() {
            let n = v.findings.iter().filter(|f| f.severity == *sev).count();
            s.push_str(&format!(" {} {}", n, sev.as_str().to_ascii_lowercase()));
        }
    }
    if !v.suppressed.is_empty() {
        s.push_str(&format!(", {} suppressed", v.suppressed.len()));
    }
    s.push('\n');
    match fail_on {
        Some(t) if v.failed => s.push_str(&format!(
            "FAIL: {} finding(s) at or above {}; upgrade the packages to the fixed versions, \
             or record an accepted risk in an ignore file (--ignore)\n",
            v.failing,
            t.as_str().to_ascii_lowercase()
        )),
        Some(t) => s.push_str(&format!(
            "PASS: nothing at or above {}\n",
            t.as_str().to_ascii_lowercase()
        )),
        None => {}
    }
    s
}

/// The JSON report: findings, suppressed findings, warnings and the verdict.
pub fn json(v: &Verdict, image: &str, fail_on: Option<VulnSeverity>) -> Value {
    json!({
        "image": image,
        "failOn": fail_on.map(VulnSeverity::as_str),
        "failed": v.failed,
        "findings": v.findings,
        "suppressed": v.suppressed,
        "warnings": v.warnings,
    })
}

fn sarif_level(s: VulnSeverity) -> &'static str {
    match s {
        VulnSeverity::Critical | VulnSeverity::High => "error",
        VulnSeverity::Medium => "warning",
        VulnSeverity::Low | VulnSeverity::Unknown => "note",
    }
}

/// SARIF 2.1.0: one rule per vulnerability id, one result per finding.
pub fn sarif(v: &Verdict, image: &str) -> Value {
    let mut ids: Vec<&Finding> = Vec::new();
    for f in &v.findings {
        if !ids.iter().any(|g| g.id == f.id) {
            ids.push(f);
        }
    }
    ids.sort_by(|a, b| a.id.cmp(&b.id));
    let rules: Vec<Value> = ids
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "shortDescription": {"text": f.summary.clone().unwrap_or_else(|| f.id.clone())},
                "properties": {"security-severity": severity_score(f.severity), "tags": ["security", "vulnerability"]},
            })
        })
        .collect();
    let results: Vec<Value> = v
        .findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.id,
                "level": sarif_level(f.severity),
                "message": {"text": format!(
                    "{} {} (source {}) is affected by {} [{}]{}",
                    f.package, f.installed, f.source, f.id, f.severity,
                    match &f.fixed { Some(x) => format!("; fixed in {x}"), None => "; no fix yet".into() }
                )},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": image}}}],
                "properties": {"package": f.package, "installedVersion": f.installed, "fixedVersion": f.fixed},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "ironhull",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://ironhull.dev",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// GitHub's `security-severity` convention: a representative CVSS score.
fn severity_score(s: VulnSeverity) -> &'static str {
    match s {
        VulnSeverity::Critical => "9.5",
        VulnSeverity::High => "8.0",
        VulnSeverity::Medium => "5.5",
        VulnSeverity::Low => "2.0",
        VulnSeverity::Unknown => "0.0",
    }
}
