//! Adapters for external scanners (Trivy, Grype), run strictly offline
//! against an OCI layout directory, with their JSON normalised into
//! ironhull's [`Finding`] model. Best effort: these tools' output formats are
//! theirs, so unknown fields are ignored and missing ones become empty.
//! The verdict never depends on a network: both are run with their database
//! update and version checks disabled, and fail if their local DB is missing.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{Finding, VulnSeverity};

/// A supported external scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scanner {
    Trivy,
    Grype,
}

impl Scanner {
    pub fn binary(self) -> &'static str {
        match self {
            Scanner::Trivy => "trivy",
            Scanner::Grype => "grype",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScannerError {
    #[error(
        "{tool} could not be started: {source}; install it and make sure it is on PATH, or drop --scanner"
    )]
    Spawn {
        tool: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{tool} failed (exit {code:?}): {stderr}; it runs offline, so its vulnerability database \
         must already be present locally (e.g. `trivy image --download-db-only` / `grype db update` \
         on a connected machine)"
    )]
    Failed {
        tool: &'static str,
        code: Option<i32>,
        stderr: String,
    },
    #[error("{tool} printed output that is not JSON: {source}")]
    Output {
        tool: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// Runs `scanner` offline on the OCI layout at `oci_dir` and normalises its
/// findings (sorted like ironhull's own).
pub fn run(scanner: Scanner, oci_dir: &Path) -> Result<Vec<Finding>, ScannerError> {
    let tool = scanner.binary();
    let mut cmd = Command::new(tool);
    match scanner {
        Scanner::Trivy => {
            cmd.args([
                "image",
                "--offline-scan",
                "--skip-db-update",
                "--skip-java-db-update",
                "--quiet",
                "--format",
                "json",
                "--input",
            ])
            .arg(oci_dir);
        }
        Scanner::Grype => {
            let mut src = std::ffi::OsString::from("oci-dir:");
            src.push(oci_dir);
            cmd.arg(src)
                .args(["-o", "json", "-q"])
                .env("GRYPE_DB_AUTO_UPDATE", "false")
                .env("GRYPE_CHECK_FOR_APP_UPDATE", "false")
                .env("GRYPE_DB_VALIDATE_AGE", "false");
        }
    }
    let out = cmd
        .output()
        .map_err(|source| ScannerError::Spawn { tool, source })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = stderr
            .chars()
            .rev()
            .take(2000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(ScannerError::Failed {
            tool,
            code: out.status.code(),
            stderr: tail.trim().to_string(),
        });
    }
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|source| ScannerError::Output { tool, source })?;
    let mut f = match scanner {
        Scanner::Trivy => parse_trivy(&v),
        Scanner::Grype => parse_grype(&v),
    };
    super::sort_findings(&mut f);
    Ok(f)
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

fn opt(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|x| !x.is_empty())
        .map(String::from)
}

/// Normalises `trivy image --format json` output.
pub fn parse_trivy(v: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in v
        .get("Results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let eco = s(r, "Type");
        for x in r
            .get("Vulnerabilities")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(Finding {
                id: s(x, "VulnerabilityID"),
                aliases: Vec::new(),
                severity: VulnSeverity::from_label(&s(x, "Severity"))
                    .unwrap_or(VulnSeverity::Unknown),
                package: s(x, "PkgName"),
                source: opt(x, "SrcName").unwrap_or_else(|| s(x, "PkgName")),
                installed: s(x, "InstalledVersion"),
                fixed: opt(x, "FixedVersion"),
                ecosystem: eco.clone(),
                summary: opt(x, "Title"),
                origin: "trivy".into(),
            });
        }
    }
    out
}

/// Normalises `grype -o json` output.
pub fn parse_grype(v: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in v
        .get("matches")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(vuln), Some(art)) = (m.get("vulnerability"), m.get("artifact")) else {
            continue;
        };
        let fixed = vuln
            .get("fix")
            .and_then(|f| f.get("versions"))
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .map(String::from);
        let aliases = m
            .get("relatedVulnerabilities")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|r| s(r, "id"))
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let source = art
            .get("upstreams")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .map(|u| s(u, "name"))
            .filter(|x| !x.is_empty())
            .unwrap_or_else(|| s(art, "name"));
        out.push(Finding {
            id: s(vuln, "id"),
            aliases,
            severity: VulnSeverity::from_label(&s(vuln, "severity"))
                .unwrap_or(VulnSeverity::Unknown),
            package: s(art, "name"),
            source,
            installed: s(art, "version"),
            fixed,
            ecosystem: s(vuln, "namespace"),
            summary: opt(vuln, "description"),
            origin: "grype".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalises_trivy() {
        let v = json!({"Results": [{"Target": "x", "Type": "alpine", "Vulnerabilities": [
            {"VulnerabilityID": "CVE-2024-5535", "PkgName": "libssl3", "SrcName": "openssl",
             "InstalledVersion": "3.3.2-r0", "FixedVersion": "3.3.2-r1", "Severity": "MEDIUM", "Title": "t"},
            {"VulnerabilityID": "CVE-2", "PkgName": "busybox", "InstalledVersion": "1", "FixedVersion": "", "Severity": "weird"}
        ]}]});
        let f = parse_trivy(&v);
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].source.as_str(), f[0].fixed.as_deref(), f[0].severity),
            ("openssl", Some("3.3.2-r1"), VulnSeverity::Medium)
        );
        assert_eq!(
            (f[1].source.as_str(), f[1].fixed.as_deref(), f[1].severity),
            ("busybox", None, VulnSeverity::Unknown)
        );
        assert!(parse_trivy(&json!({"Results": "nope"})).is_empty());
    }

    #[test]
    fn normalises_grype() {
        let v = json!({"matches": [{
            "vulnerability": {"id": "CVE-1", "severity": "High", "namespace": "alpine:distro:alpine:3.20",
                              "fix": {"versions": ["1.36.1-r30"], "state": "fixed"}},
            "relatedVulnerabilities": [{"id": "GHSA-x"}],
            "artifact": {"name": "ssl_client", "version": "1.36.1-r29", "upstreams": [{"name": "busybox"}]}
        }, {"vulnerability": {}}]});
        let f = parse_grype(&v);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].source, "busybox");
        assert_eq!(f[0].severity, VulnSeverity::High);
        assert_eq!(f[0].fixed.as_deref(), Some("1.36.1-r30"));
        assert_eq!(f[0].aliases, ["GHSA-x"]);
    }
}
