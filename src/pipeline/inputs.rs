//! Stage 1 of the build: everything decided before the base is touched.
//! The spec is loaded, held to the lock, turned into a build request for the
//! chosen platforms; the destinations are parsed and checked against each
//! other; the cache and work directories exist; fresh `oci:` outputs are
//! staged so the build can copy blobs into them as it goes.
//!
//! Errors come in the order a user fixes them: the spec, the lock, the
//! time stamp, the request, the platforms, the destinations, the disk.

use super::{BuildJob, PipelineError};
use crate::build::{BuildRequest, from_spec};
use crate::error::ErrorClass;
use crate::events::{Event, SharedReporter};
use crate::image::Platform;
use crate::output::sbom::SbomFormat;
use crate::output::{self, Destination};
use crate::reference::Transport;
use crate::spec;
use crate::store::StagedLayout;

/// What the later stages start from.
pub struct Prepared {
    pub req: BuildRequest,
    pub dests: Vec<Destination>,
    pub sbom: Option<SbomFormat>,
    /// `SOURCE_DATE_EPOCH`, the time every layer and document is stamped with.
    pub mtime: u64,
    /// One entry per destination: the staged layout of a fresh `oci:` one.
    pub staged: Vec<Option<StagedLayout>>,
    /// Scratch space in the cache directory, removed when dropped.
    pub work: tempfile::TempDir,
    /// sha256 of the spec text the request was made from.
    pub spec_digest: crate::digest::Digest,
}

pub fn prepare(job: &BuildJob, reporter: &SharedReporter) -> Result<Prepared, PipelineError> {
    use ErrorClass::{Input, Io};
    let spec = spec::load(&job.spec).map_err(|e| PipelineError::kinded(Input, "Spec", &e))?;
    if job.locked {
        crate::lock::check_locked(&spec, &job.spec, &job.cache_dir, &job.registry).map_err(
            |e| PipelineError::Failed {
                class: e.class,
                kind: Some("Lock::Mismatch".into()),
                message: e.message,
            },
        )?;
    }
    let mtime = crate::env::parse_source_date_epoch(job.source_date_epoch.as_deref())
        .map_err(|e| PipelineError::plain(Input, e))?;
    let mut req = from_spec::request(&spec, mtime)
        .map_err(|e| PipelineError::kinded(Input, "Request", &e))?;
    pin_to_lock(&mut req, &spec, job, reporter);
    select_platforms(&mut req, job)?;

    let mut dests = Vec::new();
    for o in &job.outputs {
        dests.push(Destination::parse(o).map_err(|e| PipelineError::kinded(Input, "Output", &e))?);
    }
    if dests.is_empty() {
        dests.push(output::default_destination(
            &req.name,
            req.tags.first().map(String::as_str).unwrap_or("latest"),
        ));
    }
    let sbom = match job.sbom.as_deref() {
        None => None,
        Some(f) => Some(SbomFormat::parse(f).ok_or_else(|| {
            PipelineError::plain(
                Input,
                format!("--sbom {f:?}: use spdx-json or cyclonedx-json"),
            )
        })?),
    };
    if !req.platforms.is_empty() {
        output::preflight(&dests, req.platforms.len())
            .map_err(|e| PipelineError::kinded(Input, "Output", &e))?;
    }
    let cache = &job.cache_dir;
    let work = crate::base::named::work_dir(cache, "build")
        .map_err(|e| PipelineError::plain(e.class, e))?;
    // A failed build drops (removes) these stages.
    let mut staged = Vec::with_capacity(dests.len());
    for d in &dests {
        staged.push(output::stage(d).map_err(|e| PipelineError::kinded(Io, "Output", &e))?);
    }
    Ok(Prepared {
        req,
        dests,
        sbom,
        mtime,
        staged,
        work,
        spec_digest: spec.text_digest().clone(),
    })
}

/// Without `--locked`, a registry base is still pulled by the digest the lock
/// recorded (when the lock names the same base), so rebuilds are
/// reproducible; `ironhull lock --update` moves it.
fn pin_to_lock(
    req: &mut BuildRequest,
    spec: &spec::Spec,
    job: &BuildJob,
    reporter: &SharedReporter,
) {
    pin_packages(req, job, reporter);
    let Transport::Docker(r) = &req.base else {
        return;
    };
    if let Some(d) = crate::lock::pinned_base(&job.spec, &spec.base().to_string(), r) {
        let base = r.to_string();
        reporter.event(&Event::BasePinned {
            base: &base,
            digest: &d,
            lock_file: crate::lock::LOCK_FILE,
        });
        req.base = Transport::Docker(r.with_digest(d));
    }
}

/// OS packages come from the lock whenever it answers this exact request
/// (same repositories, keys, install and exclude): then no index is read
/// and exactly the locked files are installed. Otherwise they are resolved
/// afresh (and `--locked` has already failed).
fn pin_packages(req: &mut BuildRequest, job: &BuildJob, reporter: &SharedReporter) {
    if req.packages.is_empty() {
        return;
    }
    let Ok(Some(lock)) = crate::lock::Lock::read(&crate::lock::Lock::path_for(&job.spec)) else {
        return;
    };
    let p = &req.packages;
    let want = crate::packages::request_digest(&p.repositories, &p.install, &p.exclude);
    if lock.package_request.as_ref() != Some(&want) {
        reporter.event(&Event::Warning(&format!(
            "{} pins packages for another [packages]/[[repositories]]; resolving afresh (run `ironhull lock --update` to pin this request)",
            crate::lock::LOCK_FILE
        )));
        return;
    }
    req.packages.locked = Some(
        lock.packages
            .into_iter()
            .map(|l| (l.platform, l.pinned))
            .collect(),
    );
}

/// `--platform`: only these of the spec's platforms.
fn select_platforms(req: &mut BuildRequest, job: &BuildJob) -> Result<(), PipelineError> {
    if job.platforms.is_empty() {
        return Ok(());
    }
    let mut chosen = Vec::new();
    for p in &job.platforms {
        let Some(p) = Platform::parse(p) else {
            return Err(PipelineError::plain(
                ErrorClass::Input,
                format!(
                    "--platform {p:?} is not os/arch[/variant], e.g. linux/amd64 or linux/arm/v7"
                ),
            ));
        };
        if !req.platforms.is_empty() && !req.platforms.iter().any(|s| s.matches(&p) || p.matches(s))
        {
            let listed: Vec<String> = req.platforms.iter().map(|p| p.to_string()).collect();
            return Err(PipelineError::plain(
                ErrorClass::Input,
                format!(
                    "--platform {p} is not in [image] platforms of {} ({})",
                    job.spec.display(),
                    listed.join(", ")
                ),
            ));
        }
        chosen.push(p);
    }
    req.platforms = chosen;
    Ok(())
}
