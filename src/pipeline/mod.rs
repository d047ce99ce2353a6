//! `ironhull build`, end to end, as one pipeline of stages.
//!
//! A front end fills a [`BuildJob`] (what the command line says), calls
//! [`build`], and renders the [`BuildOutcome`] or the [`PipelineError`].
//! Every decision lives here or below; the CLI only parses and prints.
//!
//! The stages, in order (each is announced as [`Event::Stage`]):
//!
//! 1. [`Stage::Inputs`] ([`inputs`]): load the spec, check it against the
//!    lock (`--locked`) or pin a registry base to the digest the lock
//!    recorded, choose platforms, parse and preflight the destinations,
//!    and stage fresh `oci:` outputs.
//! 2. [`Stage::Resolve`], [`Stage::Harden`], [`Stage::Layers`],
//!    [`Stage::Image`], [`Stage::Gate`]: [`crate::build::build`] resolves the
//!    base, hardens it ([`crate::harden`]), writes the accounts and artifact
//!    layers ([`crate::layer`]), assembles config and manifest
//!    ([`crate::image`]), and runs the security gate ([`crate::policy`], the
//!    same engine as `ironhull audit`). `--verify-reproducible` runs these
//!    twice in isolation first ([`crate::build::reproduce`]).
//! 3. [`Stage::VulnGate`] ([`vuln_gate`]): with an OSV database, every
//!    platform's packages against it.
//! 4. [`Stage::Attach`] ([`attach`]): the SBOM documents (and, later,
//!    signatures), made before any output exists, so a failure here writes
//!    nothing.
//! 5. [`Stage::Outputs`] ([`outputs`]): pushes first (a registry that is
//!    down fails the build before any local output exists), then layouts and
//!    archives, each atomically, then the attachments beside or onto each,
//!    then the digest file.
//!
//! A new step (OS packages, signing, a remote cache) is a new stage here,
//! not code in a front end.

pub mod attach;
pub mod inputs;
pub mod outputs;
pub mod vuln_gate;

use crate::build::{self, BuildError, BuildOptions, Built};
use crate::error::{ErrorClass, kind_name};
use crate::events::{Event, Reporter, SharedReporter};
use crate::output::Destination;
use crate::policy::Report;
use crate::registry::RegistryOptions;
use std::path::PathBuf;

/// The stages of a build, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Inputs,
    Resolve,
    Harden,
    Layers,
    Image,
    Gate,
    VulnGate,
    Attach,
    Outputs,
}

/// What to build and where to put it: the command line, typed.
#[derive(Clone, Debug)]
pub struct BuildJob {
    /// The spec file (`builder.toml`).
    pub spec: PathBuf,
    /// Destinations as written (`oci:DIR[:TAG]`, `docker://…`); empty for the
    /// default `oci:./ironhull-out/<name>`.
    pub outputs: Vec<String>,
    /// Only these platforms of the spec's (`os/arch[/variant]`).
    pub platforms: Vec<String>,
    /// The cache directory (see [`crate::env::cache_dir`]).
    pub cache_dir: PathBuf,
    /// The raw `SOURCE_DATE_EPOCH` value, if set (see
    /// [`crate::env::parse_source_date_epoch`]).
    pub source_date_epoch: Option<String>,
    /// Fail unless the inputs resolve exactly as `ironhull.lock` says.
    pub locked: bool,
    /// Build twice in isolation first and fail if the digests differ.
    pub verify_reproducible: bool,
    /// Write an SBOM beside each output, or attach it to pushed images:
    /// `spdx-json` or `cyclonedx-json`.
    pub sbom: Option<String>,
    /// Gate on known vulnerabilities.
    pub vuln: Option<vuln_gate::VulnGate>,
    /// Write the image digest to this file.
    pub digest_file: Option<PathBuf>,
    /// How to reach registries (bases and `docker://` outputs).
    pub registry: RegistryOptions,
}

/// A finished build: the image, and where it went.
#[derive(Debug)]
pub struct BuildOutcome {
    pub built: Built,
    pub destinations: Vec<Destination>,
    /// The spec's image name.
    pub name: String,
}

/// Why a build stopped. Nothing was written to any output.
#[derive(Debug)]
pub enum PipelineError {
    /// The security gate refused the image; the report says why.
    Gate { name: String, report: Box<Report> },
    /// Known vulnerabilities at or above the threshold: one text report per
    /// failing platform, then the summary `message`.
    Vulnerable {
        reports: Vec<String>,
        message: String,
    },
    /// Any other failure. `kind` is the stable `--json` error kind for
    /// failures that have one (`Spec::RootUser`, `Lock::Mismatch`, …).
    Failed {
        class: ErrorClass,
        kind: Option<String>,
        message: String,
    },
}

impl PipelineError {
    pub fn class(&self) -> ErrorClass {
        match self {
            PipelineError::Gate { .. } | PipelineError::Vulnerable { .. } => ErrorClass::Policy,
            PipelineError::Failed { class, .. } => *class,
        }
    }

    /// A failure with a `--json` kind derived from the error's type.
    pub(crate) fn kinded<E: std::fmt::Display + std::fmt::Debug>(
        class: ErrorClass,
        prefix: &str,
        e: &E,
    ) -> Self {
        PipelineError::Failed {
            class,
            kind: Some(kind_name(prefix, &format!("{e:?}"))),
            message: e.to_string(),
        }
    }

    /// A failure without a `--json` kind.
    pub(crate) fn plain(class: ErrorClass, message: impl std::fmt::Display) -> Self {
        PipelineError::Failed {
            class,
            kind: None,
            message: message.to_string(),
        }
    }

    fn from_build(e: BuildError, name: &str) -> Self {
        match e {
            BuildError::Gate(report) => PipelineError::Gate {
                name: name.to_string(),
                report,
            },
            e => {
                let class = match &e {
                    BuildError::Blob(_) | BuildError::Layer(_) => ErrorClass::Io,
                    _ => ErrorClass::Input,
                };
                PipelineError::kinded(class, "Build", &e)
            }
        }
    }
}

impl std::fmt::Display for PipelineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PipelineError::Gate { .. } => {
                f.write_str("the image fails the security gate; nothing was written")
            }
            PipelineError::Vulnerable { message, .. } => f.write_str(message),
            PipelineError::Failed { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for PipelineError {}

/// Runs every stage of `ironhull build`. Progress, notices and warnings go
/// to `reporter`; the result or the error comes back.
pub fn build(job: &BuildJob, reporter: &SharedReporter) -> Result<BuildOutcome, PipelineError> {
    let stage = |s| reporter.event(&Event::Stage(s));
    stage(Stage::Inputs);
    let prepared = inputs::prepare(job, reporter)?;
    let inputs::Prepared {
        req,
        dests,
        sbom,
        mtime,
        staged,
        work,
    } = prepared;
    let opts = BuildOptions {
        store: job.cache_dir.join("blobs"),
        work: work.path().to_path_buf(),
        registry: job.registry.clone(),
        mirror: staged.iter().flatten().map(|s| s.store().clone()).collect(),
        reporter: reporter.clone(),
    };
    if job.verify_reproducible {
        let d = build::reproduce::verify(&req, work.path(), &opts.registry)
            .map_err(|e| PipelineError::from_build(e, &req.name))?;
        reporter.event(&Event::Reproducible { digest: &d });
    }
    let built = build::build(&req, &opts).map_err(|e| PipelineError::from_build(e, &req.name))?;
    built.store.finish_mirror();
    reporter.event(&Event::Built(&built));

    if let Some(v) = &job.vuln {
        stage(Stage::VulnGate);
        vuln_gate::check(v, &req.name, &built)?;
    }
    stage(Stage::Attach);
    let attachments = attach::sboms(&built, sbom, mtime, &req.name)?;
    stage(Stage::Outputs);
    outputs::write(
        &built,
        &req,
        &dests,
        staged,
        &attachments,
        &job.registry,
        reporter,
    )?;
    built.save_caches();
    if let Some(f) = &job.digest_file {
        let digest = built.top.digest.to_string();
        crate::store::write_atomic(f, format!("{digest}\n").as_bytes()).map_err(|e| {
            PipelineError::plain(
                ErrorClass::Io,
                format!("cannot write the digest file {}: {e}", f.display()),
            )
        })?;
    }
    Ok(BuildOutcome {
        built,
        destinations: dests,
        name: req.name.clone(),
    })
}

/// `build` for callers that hold a plain [`Reporter`].
pub fn build_with(
    job: &BuildJob,
    reporter: impl Reporter + 'static,
) -> Result<BuildOutcome, PipelineError> {
    build(job, &SharedReporter::new(reporter))
}
