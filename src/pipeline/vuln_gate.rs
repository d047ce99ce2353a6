//! Stage 3 of the build: the vulnerability gate. Every platform's package
//! inventory (the SBOM's readers) against an offline OSV database; a failing
//! verdict stops the build before any output is written.

use super::PipelineError;
use crate::build::Built;
use crate::error::ErrorClass;
use crate::vuln;
use std::path::PathBuf;

/// `--scan-db` and its options.
#[derive(Clone, Debug)]
pub struct VulnGate {
    /// A directory of OSV JSON records or an osv.dev `all.zip`.
    pub db: PathBuf,
    /// The threshold as written (`unknown`, `low`, `medium`, `high`,
    /// `critical`); parsed here so that the error names the flag.
    pub fail_on: String,
    /// Ignore vulnerabilities that have no fixed version yet.
    pub ignore_unfixed: bool,
    /// A TOML file of vulnerabilities to ignore, each with a reason.
    pub ignore: Option<PathBuf>,
}

pub fn check(gate: &VulnGate, name: &str, built: &Built) -> Result<(), PipelineError> {
    use ErrorClass::{Input, Io};
    let fail_on: vuln::VulnSeverity = gate
        .fail_on
        .parse()
        .map_err(|e| PipelineError::plain(Input, format!("--fail-on: {e}")))?;
    let ignores = match &gate.ignore {
        Some(p) => vuln::ignore::load(p).map_err(|e| PipelineError::plain(Input, e))?,
        None => Vec::new(),
    };
    let database =
        vuln::osv::Database::load(&gate.db, None).map_err(|e| PipelineError::plain(Input, e))?;
    let policy = vuln::Policy {
        fail_on: Some(fail_on),
        ignore_unfixed: gate.ignore_unfixed,
        ignores,
        today: vuln::ignore::today_utc(),
    };
    let mut reports = Vec::new();
    for i in &built.images {
        let inv = crate::sbom::inventory_image(&i.image, &built.store)
            .map_err(|e| PipelineError::plain(Io, e))?;
        let verdict = vuln::judge(&vuln::scan(&inv, &database), &policy);
        if verdict.failed {
            reports.push(vuln::report::text(
                &verdict,
                &format!("{name} ({})", i.image.platform),
                Some(fail_on),
            ));
        }
    }
    if reports.is_empty() {
        return Ok(());
    }
    Err(PipelineError::Vulnerable {
        reports,
        message: format!(
            "known vulnerabilities at or above {} (--scan-db); nothing was written",
            gate.fail_on
        ),
    })
}
