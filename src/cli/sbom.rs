//! `ironhull sbom` and `ironhull scan`: the inventory of an existing image as
//! an SPDX / CycloneDX document, and the offline vulnerability gate.

use super::common::cache_dir;
use super::exit;
use ironhull::commands::sbom::{Format, SbomJob, sbom};
use ironhull::commands::scan::{ScanJob, scan};
use ironhull::vuln::{self, VulnSeverity, report, scanner::Scanner};
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbomFormat {
    SpdxJson,
    CyclonedxJson,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull sbom oci:out/app:1.0 --format spdx-json -o app.spdx.json\n  SOURCE_DATE_EPOCH=0 ironhull sbom rootfs:alpine-minirootfs.tar.gz --format cyclonedx-json\n\nWith several platforms and -o FILE, one document per platform is written to FILE with the platform inserted before the extension (app.linux-amd64.spdx.json)."
)]
pub struct SbomArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or rootfs:FILE.
    pub image: String,
    /// Document format.
    #[arg(long, value_enum, default_value = "spdx-json")]
    pub format: SbomFormat,
    /// Write the document here instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Only this platform (os/arch[/variant]); for rootfs: the platform to assume (default: this machine's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Image name used in the document (default: image).
    #[arg(long, default_value = "image")]
    pub name: String,
    /// Blob cache directory, used for unpacking archives.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanFormat {
    Text,
    Json,
    Sarif,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull scan oci:out/app:1.0 --db alpine-all.zip --fail-on high\n  ironhull scan oci:out/app --db osv/ --ignore-unfixed --ignore vuln-ignore.toml --format sarif > scan.sarif\n\nExit codes: 0 no finding at or above --fail-on (or no --fail-on), 1 a finding at or above it, 2 bad input, 3 I/O failure.\nUNKNOWN-severity findings only fail --fail-on unknown."
)]
pub struct ScanArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or rootfs:FILE.
    pub image: String,
    /// OSV records: a directory of JSON files, or an all.zip (Alpine:v3.20, Debian:12, ...).
    #[arg(long, required_unless_present = "scanner")]
    pub db: Option<PathBuf>,
    /// Fail (exit 1) when a finding is at least this severe: unknown, low, medium, high, critical.
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<VulnSeverity>,
    /// Do not report or fail on vulnerabilities that have no fixed version yet.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// TOML file of accepted risks: [[ignore]] id = "CVE-…", reason = "…", expires = "YYYY-MM-DD".
    #[arg(long)]
    pub ignore: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ScanFormat,
    /// Only this platform (os/arch[/variant]); for rootfs: the platform to assume.
    #[arg(long)]
    pub platform: Option<String>,
    /// Use an external scanner (run offline) instead of, or besides, --db.
    #[arg(long, value_enum)]
    pub scanner: Option<Scanner>,
    /// Blob cache directory, used for unpacking archives.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

fn parse_severity(s: &str) -> Result<VulnSeverity, String> {
    s.parse::<VulnSeverity>().map_err(|e| e.to_string())
}

use super::common::fail;

pub fn run_sbom(a: SbomArgs) -> i32 {
    let job = SbomJob {
        image: a.image.clone(),
        format: match a.format {
            SbomFormat::SpdxJson => Format::SpdxJson,
            SbomFormat::CyclonedxJson => Format::CyclonedxJson,
        },
        output: a.output.clone(),
        platform: a.platform.clone(),
        name: a.name.clone(),
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok(),
        cache_dir: cache_dir(a.cache_dir.as_deref()),
    };
    let docs = match sbom(&job) {
        Ok(d) => d,
        Err(e) => return fail(super::exit_code(e.class), e),
    };
    for d in docs {
        for w in &d.warnings {
            eprintln!("warning: {}", super::common::sanitize(w));
        }
        if d.path.is_none() {
            use std::io::Write;
            if let Err(e) = std::io::stdout().write_all(&d.bytes) {
                return fail(exit::IO, format!("cannot write to stdout: {e}"));
            }
        }
    }
    exit::OK
}

/// The exit code of a judged scan.
pub fn scan_exit_code(v: &vuln::Verdict) -> i32 {
    if v.failed { exit::POLICY } else { exit::OK }
}

pub fn run_scan(a: ScanArgs) -> i32 {
    let job = ScanJob {
        image: a.image.clone(),
        db: a.db.clone(),
        fail_on: a.fail_on,
        ignore_unfixed: a.ignore_unfixed,
        ignore: a.ignore.clone(),
        platform: a.platform.clone(),
        scanner: a.scanner,
        cache_dir: cache_dir(a.cache_dir.as_deref()),
    };
    let out = match scan(&job) {
        Ok(o) => o,
        Err(e) => return fail(super::exit_code(e.class), e),
    };
    for w in &out.db_warnings {
        eprintln!("warning: {}", super::common::sanitize(w));
    }
    let mut worst = exit::OK;
    let mut json_reports = Vec::new();
    let mut sarif_reports = Vec::new();
    for s in &out.platforms {
        match a.format {
            ScanFormat::Text => print!("{}", report::text(&s.verdict, &s.label, a.fail_on)),
            ScanFormat::Json => json_reports.push(report::json(&s.verdict, &s.label, a.fail_on)),
            ScanFormat::Sarif => sarif_reports.push(report::sarif(&s.verdict, &s.label)),
        }
        worst = worst.max(scan_exit_code(&s.verdict));
    }
    let doc = match a.format {
        ScanFormat::Text => None,
        ScanFormat::Json if json_reports.len() == 1 => json_reports.pop(),
        ScanFormat::Json => Some(serde_json::Value::Array(json_reports)),
        ScanFormat::Sarif => {
            // One SARIF log with one run per platform.
            let mut runs = Vec::new();
            for r in sarif_reports {
                if let Some(rs) = r.get("runs").and_then(|x| x.as_array()) {
                    runs.extend(rs.iter().cloned());
                }
            }
            Some(serde_json::json!({
                "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                "version": "2.1.0",
                "runs": runs,
            }))
        }
    };
    if let Some(d) = doc {
        println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_verdict() {
        let mut v = vuln::Verdict::default();
        assert_eq!(scan_exit_code(&v), exit::OK);
        v.failed = true;
        assert_eq!(scan_exit_code(&v), exit::POLICY);
        assert_eq!(parse_severity("HIGH"), Ok(VulnSeverity::High));
        assert!(parse_severity("urgent").is_err());
    }
}
