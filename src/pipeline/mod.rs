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
pub mod built;
pub mod gate;
pub mod image;
pub mod inputs;
pub mod layers;
pub mod outputs;
pub mod packages;
pub mod reproduce;
pub mod resolve;
pub mod sources;
pub mod vuln_gate;

pub use built::{BuildError, BuildOptions, Built, BuiltImage};
pub use gate::gate_fails;

use crate::build::artifacts::Content;
use crate::build::{BuildRequest, cache, gate_cache};
use crate::digest::Digest;
use crate::error::{ErrorClass, kind_name};
use crate::events::{Event, SharedReporter};
use crate::fs::ImagePath;
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
    Packages,
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
    /// `--sign`: sign the image, its provenance and its SBOMs.
    pub signing: Option<attach::Signing>,
}

impl BuildJob {
    /// A job with the defaults of `ironhull build -f SPEC --cache-dir CACHE`:
    /// the default output, every platform of the spec, `SOURCE_DATE_EPOCH`
    /// unset (time 0), no lock check, no SBOM, no vulnerability gate.
    pub fn new(spec: impl Into<PathBuf>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            spec: spec.into(),
            outputs: Vec::new(),
            platforms: Vec::new(),
            cache_dir: cache_dir.into(),
            source_date_epoch: None,
            locked: false,
            verify_reproducible: false,
            sbom: None,
            vuln: None,
            digest_file: None,
            registry: RegistryOptions::default(),
            signing: None,
        }
    }

    /// Adds a destination (`oci:DIR[:TAG]`, `docker://…`, …).
    pub fn output(mut self, dest: impl Into<String>) -> Self {
        self.outputs.push(dest.into());
        self
    }
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
    let inputs::Prepared {
        req,
        dests,
        sbom,
        mtime,
        staged,
        work,
        spec_digest,
    } = inputs::prepare(job, reporter)?;
    let opts = BuildOptions {
        store: job.cache_dir.join("blobs"),
        work: work.path().to_path_buf(),
        registry: job.registry.clone(),
        mirror: staged.iter().flatten().map(|s| s.store().clone()).collect(),
        reporter: reporter.clone(),
    };
    if job.verify_reproducible {
        let d = reproduce::verify(&req, work.path(), &opts.registry)
            .map_err(|e| PipelineError::from_build(e, &req.name))?;
        reporter.event(&Event::Reproducible { digest: &d });
    }
    let built = build_image(&req, &opts).map_err(|e| PipelineError::from_build(e, &req.name))?;
    built.store.finish_mirror();
    reporter.event(&Event::Built(&built));
    let sources = if job.signing.is_some() || job.locked {
        sources::hashed(&req, &built)?
    } else {
        Vec::new()
    };
    if job.locked {
        sources::hold_to_lock(&job.spec, &sources)?;
    }

    if let Some(v) = &job.vuln {
        stage(Stage::VulnGate);
        vuln_gate::check(v, &req.name, &built)?;
    }
    stage(Stage::Attach);
    let mut attachments = attach::sboms(&built, sbom, mtime, &req.name)?;
    attachments.signed = match &job.signing {
        Some(s) => {
            let ctx = attach::ProvenanceContext {
                spec: &job.spec,
                spec_digest: &spec_digest,
                sources: &sources,
                source_date_epoch: job
                    .source_date_epoch
                    .as_deref()
                    .filter(|v| !v.trim().is_empty())
                    .map(|_| mtime),
                locked: job.locked,
            };
            Some(attach::sign(s, &built, &req, &attachments, &ctx, &dests)?)
        }
        None => None,
    };
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

/// Stages 2 to 6 for every platform: resolve → harden → layers → image →
/// gate. Nothing is written to any output; blobs go to the store (and are
/// mirrored into staged outputs). This is `ironhull build` without the
/// front end's inputs and outputs, for embedding.
pub fn build_image(req: &BuildRequest, opts: &BuildOptions) -> Result<Built, BuildError> {
    let stage = |s| opts.reporter.event(&Event::Stage(s));
    let warn = |msg: &str| opts.reporter.event(&Event::Warning(msg));
    let mut store = crate::store::BlobStore::open_cache(&opts.store)?;
    let cache_root = opts
        .store
        .parent()
        .map(|p| p.join("cache"))
        .unwrap_or_else(|| opts.store.join("cache"));
    let auth = crate::cache_auth::CacheAuth::load();
    if let crate::cache_auth::KeySource::Ephemeral(why) = auth.source() {
        warn(&format!(
            "no cache key ({why}); nothing cached by earlier builds is trusted, everything is verified again"
        ));
    }
    let mut caches = layers::Caches::open(&cache_root, auth.clone(), opts.reporter.clone());
    if let Some(why) = caches.stat().take_rejection() {
        warn(&why);
    }
    // Blobs already in the cache (or in an existing output) are kept only
    // when verified; the stat cache makes that cheap for untouched files.
    store.set_verifier(std::sync::Arc::new(cache::SharedStat(caches.stat.clone())));
    store.mirror_to(opts.mirror.clone())?;
    std::fs::create_dir_all(&opts.work).map_err(|e| crate::store::BlobError::Io {
        path: opts.work.clone(),
        source: e,
    })?;
    let params = &req.layer_params;
    let created = crate::layer::time::rfc3339(params.mtime)?;

    stage(Stage::Resolve);
    let base = crate::base::resolve::resolve(
        &req.base,
        &req.platforms,
        &opts.work,
        &store,
        params,
        &opts.registry,
    )?;
    let policy = gate::gate_policy(req)?;
    let per_platform = resolve::plan_artifacts(req, &base)?;

    let mut images = Vec::new();
    let mut changes = Vec::new();
    let mut dropped = Vec::new();
    let mut installed: Vec<(String, Vec<crate::packages::install::Installed>)> = Vec::new();
    let mut package_pins = Vec::new();
    let policy_key = gate_cache::policy_key(req);
    // Identical artifact groups (same sources, same entries) across platforms
    // give identical layers: write each once.
    let mut written: Vec<layers::WrittenGroup> = Vec::new();
    for (base_img, groups) in base.images.iter().zip(&per_platform) {
        stage(Stage::Harden);
        let hardened = crate::harden::harden(base_img, &base.blobs, &store, params)?;
        changes.extend(hardened.changes.iter().cloned());
        dropped.extend(hardened.dropped_packages.iter().cloned());

        let pkgs = if req.packages.is_empty() {
            None
        } else {
            stage(Stage::Packages);
            let fetch = crate::packages::fetch::HttpFetch::new();
            let pins = packages::pins_for(req, base_img, &hardened.tree, &fetch, &cache_root)?;
            package_pins.push((base_img.platform.to_string(), pins.clone()));
            let mut verify = |p: &std::path::Path, d: &Digest| caches.stat().holds(p, d);
            Some(packages::install_packages(
                &pins,
                &hardened.tree,
                &hardened.layers,
                &store,
                params,
                req.layer_budget,
                req.base == crate::reference::Transport::Static,
                &cache_root,
                caches.layer_cache(),
                &mut verify,
                &fetch,
                &auth,
            )?)
        };

        stage(Stage::Layers);
        let accounts_layer =
            layers::write_accounts_layer(&hardened.tree, &req.user, &store, params)?;
        let mut art = Vec::new();
        // The gate need not read back the artifact layers written in this
        // build: their entries are known, and it keeps the secret verdict
        // the detector gave each file while it was written. A layer taken
        // from the layer cache has no verdict from this build and is read.
        let mut prepared = crate::policy::Prepared::new();
        for g in groups {
            let key: Vec<(ImagePath, Content)> = g
                .iter()
                .map(|p| (p.entry.path.clone(), p.content.clone()))
                .collect();
            let (blob, verdicts) = match written.iter().find(|(k, _, _)| *k == key) {
                Some((_, b, v)) => (b.clone(), v.clone()),
                None => {
                    let (b, v) = caches.artifact_layer(g, &store, params)?;
                    written.push((key, b.clone(), v.clone()));
                    (b, v)
                }
            };
            if let Some(verdicts) = verdicts {
                prepared.insert(
                    blob.digest.clone(),
                    crate::policy::PreparedLayer {
                        entries: g.iter().map(|p| p.entry.clone()).collect(),
                        verdicts,
                    },
                );
            }
            art.push((blob, resolve::describe_group(g)));
        }

        stage(Stage::Image);
        let mut all = hardened.layers.clone();
        let mut described: Vec<String> = Vec::new();
        if let Some(p) = &pkgs {
            all.extend(p.layers.iter().map(|(l, _)| l.clone()));
            described.extend(p.layers.iter().map(|(_, d)| d.clone()));
            installed.push((base_img.platform.to_string(), p.installed.clone()));
        }
        all.push(accounts_layer);
        all.extend(art.iter().map(|(l, _)| l.clone()));
        described.extend(art.iter().map(|(_, d)| d.clone()));
        let image = image::assemble(req, &base, base_img, all, &described, &created, &store)?;

        stage(Stage::Gate);
        let report = gate::gate(
            &image,
            &store,
            &policy,
            &prepared,
            (&cache_root, &policy_key, &auth),
            &warn,
        )?;
        let rewritten = hardened.rewritten.iter().filter(|r| **r).count();
        images.push(BuiltImage {
            base_layers_rewritten: rewritten,
            base_layers_reused: hardened.rewritten.len() - rewritten,
            image,
            report,
        });
    }

    let mut blobs: Vec<Digest> = Vec::new();
    for b in &images {
        blobs.extend(crate::store::image_blobs(&b.image));
    }
    let (top, top_bytes) = image::top(&images, &store, &mut blobs)?;
    if let Ok(s) = caches.stat.lock() {
        let _ = s.save();
    }
    blobs.sort();
    blobs.dedup();
    dropped.sort();
    dropped.dedup();
    Ok(Built {
        top,
        images,
        blobs,
        store,
        changes,
        dropped_packages: dropped,
        installed_packages: installed,
        package_pins,
        base_name: base.name.clone(),
        base_digest: base.digest.clone(),
        base_manifests: base
            .images
            .iter()
            .map(|i| (i.platform.to_string(), i.manifest_digest.clone()))
            .collect(),
        top_bytes,
        base: req.base.clone(),
        stat: caches.stat.clone(),
        artifact_reads: std::mem::take(&mut caches.reads),
    })
}
