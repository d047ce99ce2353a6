//! Report renderers: a stable JSON shape, SARIF 2.1.0 for code-scanning
//! dashboards, and grouped human-readable text.
//!
//! The JSON shape is a documented contract that scripts parse:
//!
//! ```json
//! {"image": "…",
//!  "findings": [{"id": "SH-001", "severity": "high", "title": "…",
//!                "path": "/bin/sh" | null, "layer": "sha256:…" | null,
//!                "message": "…", "fix": "…"}],
//!  "summary": {"total": 0, "critical": 0, "high": 0, "medium": 0, "low": 0,
//!              "info": 0, "max_severity": "high" | null}}
//! ```

use super::catalog::{Severity, catalog, lookup};
use super::report::{Finding, Report};
use serde_json::{Value, json};
use std::fmt::Write as _;

fn title(id: &str) -> &'static str {
    lookup(id).map(|c| c.title).unwrap_or("")
}

/// The stable JSON form of a report (see the module docs for the shape).
pub fn to_json(image_name: &str, report: &Report) -> Value {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "severity": f.severity.as_str(),
                "title": title(f.id),
                "path": f.path,
                "layer": f.layer.as_ref().map(|d| d.to_string()),
                "message": f.message,
                "fix": f.fix,
            })
        })
        .collect();
    let s = &report.summary;
    json!({
        "image": image_name,
        "findings": findings,
        "summary": {
            "total": s.total,
            "critical": s.critical,
            "high": s.high,
            "medium": s.medium,
            "low": s.low,
            "info": s.info,
            "max_severity": report.max_severity().map(Severity::as_str),
        },
    })
}

/// PascalCase rule name from a title: "Shell present" → "ShellPresent".
fn rule_name(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`, so
/// a path or an image name (`alpine:3.20` would read as a URI scheme) is a
/// valid relative URI reference.
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A fingerprint that stays the same for the same finding across runs, so
/// code-scanning dashboards deduplicate instead of reopening alerts.
fn fingerprint(image_name: &str, f: &Finding) -> String {
    let layer = f.layer.as_ref().map(|d| d.to_string()).unwrap_or_default();
    let path = f.path.as_deref().unwrap_or(image_name);
    let key = format!("{}\0{}\0{}\0{}", f.id, path, layer, f.message);
    let d = crate::digest::Digest::of(key.as_bytes());
    d.hex().get(..32).unwrap_or(d.hex()).to_string()
}

/// SARIF 2.1.0 that GitHub code scanning accepts: one run, the whole catalog as
/// rules, one result per finding located at the image path (or at the image
/// name for findings about the config). `automationDetails.id` ends in `/` so
/// that GitHub uses `ironhull/<image>` as the category: uploads for different
/// images then never close each other's alerts.
pub fn to_sarif(image_name: &str, report: &Report) -> Value {
    let rules: Vec<Value> = catalog()
        .iter()
        .map(|c| {
            let mut tags = vec!["security".to_string(), "container".to_string()];
            tags.extend(c.anchors.iter().map(|a| a.to_string()));
            if c.core {
                tags.push("ironhull-core".into());
            }
            json!({
                "id": c.id,
                "name": rule_name(c.title),
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": c.description},
                "help": {
                    "text": format!("{}\n\nFix: {}", c.description, c.fix),
                    "markdown": format!("{}\n\n**Fix:** {}\n\nReferences: {}", c.description, c.fix, c.anchors.join(", ")),
                },
                "defaultConfiguration": {"level": c.severity.sarif_level()},
                "properties": {
                    "security-severity": c.severity.security_severity(),
                    "precision": "high",
                    "tags": tags,
                },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let uri = match &f.path {
                Some(p) => uri_encode(p.trim_start_matches('/')),
                None => uri_encode(image_name),
            };
            let uri = if uri.is_empty() {
                "image".to_string()
            } else {
                uri
            };
            let rule_index = catalog().iter().position(|c| c.id == f.id);
            let mut props = json!({"severity": f.severity.as_str()});
            if let Some(l) = &f.layer {
                props["layer"] = json!(l.to_string());
            }
            let mut r = json!({
                "ruleId": f.id,
                "level": f.severity.sarif_level(),
                "message": {"text": format!("{} Fix: {}", f.message, f.fix)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": 1},
                    },
                }],
                "partialFingerprints": {"ironhullFinding/v1": fingerprint(image_name, f)},
                "properties": props,
            });
            if let Some(i) = rule_index {
                r["ruleIndex"] = json!(i);
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "ironhull",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/ironhull/ironhull",
                "rules": rules,
            }},
            "automationDetails": {"id": format!("ironhull/{image_name}/")},
            "results": results,
        }],
    })
}

/// How many paths the text output lists per check before summarizing.
const TEXT_PATHS_PER_CHECK: usize = 10;

fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    }
}

/// Human-readable text: findings grouped by check (most severe first), each
/// group with its title, the affected paths or messages, and one fix line.
pub fn to_text(image_name: &str, report: &Report, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}",
        paint(color, "1", "ironhull audit:"),
        image_name
    );
    let mut groups: Vec<(&'static str, Severity, Vec<&Finding>)> = Vec::new();
    for f in &report.findings {
        match groups.iter_mut().find(|g| g.0 == f.id) {
            Some(g) => {
                g.1 = g.1.max(f.severity);
                g.2.push(f);
            }
            None => groups.push((f.id, f.severity, vec![f])),
        }
    }
    groups.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (id, sev, fs) in &groups {
        let tag = format!("[{}]", sev.as_str().to_uppercase());
        let _ = writeln!(
            out,
            "\n{} {} {} ({})",
            paint(color, severity_color(*sev), &tag),
            paint(color, "1", id),
            title(id),
            fs.len()
        );
        for f in fs.iter().take(TEXT_PATHS_PER_CHECK) {
            let layer = f
                .layer
                .as_ref()
                .map(|l| format!(" [layer {}…]", l.hex().get(..12).unwrap_or("")))
                .unwrap_or_default();
            let _ = writeln!(out, "  - {}{layer}", f.message);
        }
        if fs.len() > TEXT_PATHS_PER_CHECK {
            let _ = writeln!(out, "  … and {} more", fs.len() - TEXT_PATHS_PER_CHECK);
        }
        if let Some(f) = fs.first() {
            let _ = writeln!(out, "  {} {}", paint(color, "32", "fix:"), f.fix);
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "\n{} findings: {} critical, {} high, {} medium, {} low, {} info",
        s.total, s.critical, s.high, s.medium, s.low, s.info
    );
    if !report.waived.is_empty() {
        let _ = writeln!(
            out,
            "{} finding(s) waived by the policy file:",
            report.waived.len()
        );
        for w in report.waived.iter().take(TEXT_PATHS_PER_CHECK) {
            let _ = writeln!(
                out,
                "  - {} {}: {}",
                w.finding.id,
                w.finding.path.as_deref().unwrap_or("(config)"),
                w.reason
            );
        }
        if report.waived.len() > TEXT_PATHS_PER_CHECK {
            let _ = writeln!(
                out,
                "  … and {} more",
                report.waived.len() - TEXT_PATHS_PER_CHECK
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn sample() -> Report {
        let layer = Digest::of(b"l");
        Report::new(
            vec![
                Finding::new("SH-001", Some("/bin/sh".into()), "/bin/sh is a shell"),
                Finding::new("SEC-002", Some("/app/a b.key".into()), "key").in_layer(&layer),
                Finding::new("CFG-001", None, "no healthcheck"),
            ],
            vec![],
        )
    }

    #[test]
    fn json_shape_is_exact() {
        let v = to_json("alpine:3.20", &sample());
        let top: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(top, ["findings", "image", "summary"]);
        assert_eq!(v["image"], "alpine:3.20");
        let f0 = &v["findings"][0];
        let keys: Vec<_> = f0.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["fix", "id", "layer", "message", "path", "severity", "title"]
        );
        assert_eq!(f0["id"], "CFG-001");
        assert_eq!(f0["severity"], "info");
        assert_eq!(f0["title"], "No HEALTHCHECK");
        assert!(f0["path"].is_null() && f0["layer"].is_null());
        assert_eq!(v["findings"][1]["layer"], Digest::of(b"l").to_string());
        assert_eq!(v["findings"][2]["path"], "/bin/sh");
        assert_eq!(
            v["summary"],
            json!({"total": 3, "critical": 1, "high": 1, "medium": 0, "low": 0,
                   "info": 1, "max_severity": "critical"})
        );
        let empty = to_json("x", &Report::new(vec![], vec![]));
        assert!(empty["summary"]["max_severity"].is_null());
        assert_eq!(empty["findings"], json!([]));
    }

    #[test]
    fn sarif_has_what_github_needs() {
        let v = to_sarif("alpine:3.20", &sample());
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "ironhull");
        let rules = driver["rules"].as_array().unwrap();
        assert_eq!(rules.len(), catalog().len());
        for r in rules {
            for k in ["id", "name", "shortDescription", "fullDescription", "help"] {
                assert!(!r[k].is_null(), "rule lacks {k}: {r}");
            }
            let s: f64 = r["properties"]["security-severity"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((0.0..=10.0).contains(&s));
            assert!(r["properties"]["tags"].as_array().unwrap().len() >= 2);
            let name = r["name"].as_str().unwrap();
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "{name}");
        }
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        let by_rule = |id: &str| results.iter().find(|r| r["ruleId"] == id).unwrap();
        assert_eq!(by_rule("SH-001")["level"], "error");
        assert_eq!(by_rule("CFG-001")["level"], "note");
        let uri = |id: &str| {
            by_rule(id)["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(uri("SH-001"), "bin/sh");
        assert_eq!(uri("SEC-002"), "app/a%20b.key");
        assert_eq!(uri("CFG-001"), "alpine%3A3.20");
        let idx = by_rule("SH-001")["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], "SH-001");
        // Fingerprints are stable across runs and distinct across findings.
        let again = to_sarif("alpine:3.20", &sample());
        let fps = |v: &Value| -> Vec<String> {
            v["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r["partialFingerprints"]["ironhullFinding/v1"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect()
        };
        assert_eq!(fps(&v), fps(&again));
        let mut uniq = fps(&v);
        uniq.dedup();
        assert_eq!(uniq.len(), 3);
    }

    #[test]
    fn text_groups_and_colors() {
        let mut fs: Vec<Finding> = (0..15)
            .map(|i| Finding::new("SH-001", Some(format!("/bin/x{i:02}")), format!("x{i:02}")))
            .collect();
        fs.push(Finding::new("CFG-001", None, "no healthcheck"));
        let r = Report::new(fs, vec![]);
        let plain = to_text("img", &r, false);
        assert!(!plain.contains('\x1b'));
        assert_eq!(plain.matches("fix:").count(), 2);
        assert!(
            plain.contains("[HIGH] SH-001 Shell present (15)"),
            "{plain}"
        );
        assert!(plain.contains("… and 5 more"), "{plain}");
        assert!(plain.find("SH-001").unwrap() < plain.find("CFG-001").unwrap());
        assert!(
            plain.contains("16 findings: 0 critical, 15 high"),
            "{plain}"
        );
        let colored = to_text("img", &r, true);
        assert!(colored.contains("\x1b[31m[HIGH]\x1b[0m"), "{colored}");
    }
}
