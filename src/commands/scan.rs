//! `ironhull scan`: a local image's packages against an offline OSV
//! database, an external scanner run offline, or both, judged by one policy.

use crate::base::named::{open_local, parse_platform, select, work_dir};
use crate::error::{ErrorClass, Failure};
use crate::store;
use crate::vuln::{self, VulnSeverity, ignore, osv, scanner::Scanner};
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct ScanJob {
    pub image: String,
    /// A directory of OSV JSON records or an osv.dev `all.zip`.
    pub db: Option<PathBuf>,
    pub fail_on: Option<VulnSeverity>,
    pub ignore_unfixed: bool,
    /// Accepted risks, each with a reason and an expiry.
    pub ignore: Option<PathBuf>,
    pub platform: Option<String>,
    pub scanner: Option<Scanner>,
    pub cache_dir: PathBuf,
}

/// One platform's verdict, labelled for display.
#[derive(Clone, Debug)]
pub struct Scanned {
    pub label: String,
    pub verdict: vuln::Verdict,
}

/// Everything a scan found.
#[derive(Clone, Debug, Default)]
pub struct ScanOutcome {
    pub platforms: Vec<Scanned>,
    /// Records of the database that could not be used (the first 20).
    pub db_warnings: Vec<String>,
}

impl ScanOutcome {
    /// True when any platform's verdict fails the policy.
    pub fn failed(&self) -> bool {
        self.platforms.iter().any(|s| s.verdict.failed)
    }
}

pub fn scan(job: &ScanJob) -> Result<ScanOutcome, Failure> {
    let platform = parse_platform(job.platform.as_deref())?;
    let ignores = match &job.ignore {
        Some(p) => ignore::load(p).map_err(|e| {
            let class = if matches!(e, ignore::IgnoreError::Io { .. }) {
                ErrorClass::Io
            } else {
                ErrorClass::Input
            };
            Failure::new(class, e)
        })?,
        None => Vec::new(),
    };
    let work = work_dir(&job.cache_dir, "inspect")?;
    let src = open_local(&job.image, platform.as_ref(), work.path())?;
    let imgs = select(&src, platform.as_ref(), &job.image)?;
    let mut invs = Vec::new();
    let mut wanted = BTreeSet::new();
    for img in &imgs {
        let inv = crate::sbom::inventory_image(img, &src.blobs).map_err(Failure::input)?;
        if let Some(os) = &inv.os {
            for p in &inv.packages {
                if let Some(e) = os.osv_ecosystem(p.ecosystem) {
                    wanted.insert(e);
                }
            }
        }
        invs.push(inv);
    }
    let mut out = ScanOutcome::default();
    let db = match &job.db {
        Some(p) => {
            let db = osv::Database::load(p, Some(&wanted)).map_err(|e| {
                let class = if matches!(e, osv::OsvError::Io { .. }) {
                    ErrorClass::Io
                } else {
                    ErrorClass::Input
                };
                Failure::new(class, e)
            })?;
            out.db_warnings = db.warnings.iter().take(20).cloned().collect();
            Some(db)
        }
        None => None,
    };
    let policy = vuln::Policy {
        fail_on: job.fail_on,
        ignore_unfixed: job.ignore_unfixed,
        ignores,
        today: ignore::today_utc(),
    };
    for (img, inv) in imgs.iter().zip(&invs) {
        let mut res = match &db {
            Some(db) => vuln::scan(inv, db),
            None => vuln::ScanResult::default(),
        };
        if let Some(s) = job.scanner {
            let layout = work
                .path()
                .join(format!("scan-{}", img.manifest_digest.hex()));
            let top = img.descriptor();
            store::write_oci_layout(
                &layout,
                "latest",
                &top,
                &store::image_blobs(img),
                &src.blobs,
            )
            .map_err(Failure::io)?;
            let found = vuln::scanner::run(s, &layout).map_err(Failure::io)?;
            res.findings.extend(found);
            vuln::sort_findings(&mut res.findings);
            res.findings.dedup_by(|x, y| {
                x.id == y.id && x.package == y.package && x.installed == y.installed
            });
        }
        let label = if imgs.len() > 1 {
            format!("{} ({})", job.image, img.platform)
        } else {
            job.image.clone()
        };
        out.platforms.push(Scanned {
            label,
            verdict: vuln::judge(&res, &policy),
        });
    }
    Ok(out)
}
