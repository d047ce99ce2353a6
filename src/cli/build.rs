//! `ironhull build`.

use super::common::{cache_dir, source_date_epoch, write_atomic};
use super::exit;
use ironhull::build::{self, BuildError, BuildOptions, Built};
use ironhull::output::sbom::{self as sbom_out, SbomFormat};
use ironhull::output::{self, Destination};
use ironhull::reference::Transport;
use ironhull::spec;
use ironhull::store::StagedLayout;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull build\n  ironhull build -f examples/hello-static/builder.toml -o oci:out/hello:1.0.0\n  ironhull build -o oci-archive:hello.tar -o docker-archive:hello-docker.tar --digest-file hello.digest\n  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) ironhull build --verify-reproducible"
)]
pub struct BuildArgs {
    /// The spec file.
    #[arg(short = 'f', long = "file", default_value = "builder.toml")]
    pub file: PathBuf,
    /// Destination(s): oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF]. Repeatable. Default: oci:./ironhull-out/<name>.
    #[arg(short = 'o', long = "output")]
    pub outputs: Vec<String>,
    /// Write the image digest to this file.
    #[arg(long)]
    pub digest_file: Option<PathBuf>,
    /// Print a machine-readable JSON result on stdout.
    #[arg(long)]
    pub json: bool,
    /// Build twice in isolated directories and fail if the digests differ.
    #[arg(long)]
    pub verify_reproducible: bool,
    /// Blob cache directory (default: $IRONHULL_CACHE_DIR, $XDG_CACHE_HOME/ironhull or ~/.cache/ironhull).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Build only these platforms (os/arch[/variant]) of the spec's; repeatable.
    /// Needed for docker-archive outputs of a multi-platform spec.
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// Write an SBOM beside each output (and attach it to pushed images as an
    /// OCI 1.1 referrer): spdx-json (default) or cyclonedx-json.
    #[arg(long, num_args = 0..=1, default_missing_value = "spdx-json", value_name = "FORMAT")]
    pub sbom: Option<String>,
    /// Gate the build on known vulnerabilities from an offline OSV database
    /// (a directory of OSV JSON records or an osv.dev all.zip).
    #[arg(long, value_name = "PATH")]
    pub scan_db: Option<PathBuf>,
    /// With --scan-db: fail when a vulnerability is at least this severe
    /// (unknown, low, medium, high, critical).
    #[arg(long, default_value = "high", value_name = "SEVERITY")]
    pub fail_on: String,
    /// With --scan-db: ignore vulnerabilities that have no fixed version yet.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// With --scan-db: a TOML file of vulnerabilities to ignore, each with a reason.
    #[arg(long, value_name = "FILE")]
    pub ignore: Option<PathBuf>,
    /// Fail if the base or any artifact resolves differently than ironhull.lock says.
    #[arg(long)]
    pub locked: bool,
    #[command(flatten)]
    pub registry: super::registry::RegistryFlags,
    /// Only print errors.
    #[arg(short, long)]
    pub quiet: bool,
}

use super::common::fail;

/// Reports an error: always on stderr; with `--json` also as
/// `{"error": {"kind": "...", "message": "...", "exitCode": N}}` on stdout, where
/// `kind` names the error class (e.g. `Spec::RootUser`), stable for scripts.
fn fail_with<E: std::fmt::Display + std::fmt::Debug>(
    json: bool,
    code: i32,
    prefix: &str,
    e: &E,
) -> i32 {
    if json {
        let kind = super::common::error_kind(prefix, &format!("{e:?}"));
        println!(
            "{}",
            json!({"error": {"kind": kind, "message": super::common::sanitize(&e.to_string()), "exitCode": code}})
        );
    }
    fail(code, e)
}

pub fn run(a: BuildArgs) -> i32 {
    let spec = match spec::load(&a.file) {
        Ok(s) => s,
        Err(e) => return fail_with(a.json, exit::INPUT, "Spec", &e),
    };
    if a.locked
        && let Err((code, msg)) = super::lock::check_locked(
            &spec,
            &a.file,
            a.cache_dir.as_deref(),
            &a.registry.options(true, false),
        )
    {
        if a.json {
            println!(
                "{}",
                json!({"error": {"kind": "Lock::Mismatch", "message": msg, "exitCode": code}})
            );
        }
        return fail(code, msg);
    }
    let mtime = match source_date_epoch() {
        Ok(m) => m,
        Err(e) => return fail(exit::INPUT, e),
    };
    let mut req = match build::from_spec::request(&spec, mtime) {
        Ok(r) => r,
        Err(e) => return fail_with(a.json, exit::INPUT, "Request", &e),
    };
    // Without --locked, a registry base is still pulled by the digest the lock
    // recorded (when the lock names the same base), so rebuilds are
    // reproducible; `ironhull lock --update` moves it.
    if let Transport::Docker(r) = &req.base
        && r.digest().is_none()
        && let Ok(Some(l)) = ironhull::lock::Lock::read(&ironhull::lock::Lock::path_for(&a.file))
        && l.base.reference == spec.base().to_string()
    {
        let pinned = l
            .base
            .index
            .clone()
            .or_else(|| match l.base.platforms.as_slice() {
                [one] => Some(one.manifest.clone()),
                _ => None,
            });
        if let Some(d) = pinned {
            if !a.quiet && !a.json {
                eprintln!("base {r} pinned to {d} by {}", ironhull::lock::LOCK_FILE);
            }
            req.base = Transport::Docker(r.with_digest(d));
        }
    }
    if !a.platforms.is_empty() {
        let mut chosen = Vec::new();
        for p in &a.platforms {
            let Some(p) = ironhull::image::Platform::parse(p) else {
                return fail(
                    exit::INPUT,
                    format!(
                        "--platform {p:?} is not os/arch[/variant], e.g. linux/amd64 or linux/arm/v7"
                    ),
                );
            };
            if !req.platforms.is_empty()
                && !req.platforms.iter().any(|s| s.matches(&p) || p.matches(s))
            {
                let listed: Vec<String> = req.platforms.iter().map(|p| p.to_string()).collect();
                return fail(
                    exit::INPUT,
                    format!(
                        "--platform {p} is not in [image] platforms of {} ({})",
                        a.file.display(),
                        listed.join(", ")
                    ),
                );
            }
            chosen.push(p);
        }
        req.platforms = chosen;
    }
    let mut dests = Vec::new();
    for o in &a.outputs {
        match Destination::parse(o) {
            Ok(d) => dests.push(d),
            Err(e) => return fail_with(a.json, exit::INPUT, "Output", &e),
        }
    }
    if dests.is_empty() {
        dests.push(output::default_destination(
            &req.name,
            req.tags.first().map(String::as_str).unwrap_or("latest"),
        ));
    }
    let sbom_format = match a.sbom.as_deref().map(|f| (f, SbomFormat::parse(f))) {
        None => None,
        Some((_, Some(f))) => Some(f),
        Some((f, None)) => {
            return fail(
                exit::INPUT,
                format!("--sbom {f:?}: use spdx-json or cyclonedx-json"),
            );
        }
    };
    if !req.platforms.is_empty()
        && let Err(e) = output::preflight(&dests, req.platforms.len())
    {
        return fail_with(a.json, exit::INPUT, "Output", &e);
    }
    let cache = cache_dir(a.cache_dir.as_deref());
    if let Err(e) = std::fs::create_dir_all(&cache) {
        return fail(
            exit::IO,
            format!("cannot create the cache directory {}: {e}", cache.display()),
        );
    }
    let work = match tempfile::Builder::new().prefix("build-").tempdir_in(&cache) {
        Ok(w) => w,
        Err(e) => {
            return fail(
                exit::IO,
                format!("cannot create a work directory in {}: {e}", cache.display()),
            );
        }
    };
    // Fresh oci: outputs are staged now, so the build copies blobs into them
    // while it runs; a failed build drops (removes) them.
    let mut staged = Vec::with_capacity(dests.len());
    for d in &dests {
        match output::stage(d) {
            Ok(s) => staged.push(s),
            Err(e) => return fail_with(a.json, exit::IO, "Output", &e),
        }
    }
    let opts = BuildOptions {
        store: cache.join("blobs"),
        work: work.path().to_path_buf(),
        registry: a.registry.options(a.quiet, a.json),
        mirror: staged.iter().flatten().map(|s| s.store().clone()).collect(),
    };

    if a.verify_reproducible {
        match build::reproduce::verify(&req, work.path(), &opts.registry) {
            Ok(d) => {
                if !a.quiet {
                    eprintln!("reproducible: two isolated builds gave {d}");
                }
            }
            Err(e) => return fail_with(a.json, build_exit(&e), "Build", &e),
        }
    }

    let built = match build::build(&req, &opts) {
        Ok(b) => b,
        Err(BuildError::Gate(report)) => {
            if a.json {
                println!(
                    "{}",
                    json!({"error": {"kind": "Build::Gate", "message": "the image fails the security gate; nothing was written", "exitCode": exit::POLICY, "audit": ironhull::policy::render::to_json(&req.name, &report)}})
                );
            }
            eprint!(
                "{}",
                ironhull::policy::render::to_text(&req.name, &report, super::common::use_color())
            );
            return fail(
                exit::POLICY,
                "the image fails the security gate; nothing was written",
            );
        }
        Err(e) => return fail_with(a.json, build_exit(&e), "Build", &e),
    };
    built.store.finish_mirror();
    if !a.quiet && !a.json {
        print_report(&built);
    }
    if let Some(db) = &a.scan_db
        && let Err(code) = vuln_gate(&a, db, &req.name, &built)
    {
        return code;
    }
    if let Err(e) = output::preflight(&dests, built.images.len()) {
        return fail_with(a.json, exit::IO, "Output", &e);
    }
    // Pushes first: a registry that is down then fails the build before any
    // local output exists, instead of leaving some outputs written.
    let mut ordered: Vec<(&Destination, Option<StagedLayout>)> = Vec::new();
    let mut local = Vec::new();
    for (d, st) in dests.iter().zip(staged) {
        if matches!(d.transport, Transport::Docker(_)) {
            ordered.push((d, st));
        } else {
            local.push((d, st));
        }
    }
    ordered.extend(local);
    for (d, st) in ordered {
        match output::write_staged(&built, d, &req.name, &req.tags, &opts.registry, st) {
            Err(e) => {
                return fail_with(a.json, exit::IO, "Output", &e);
            }
            Ok(pushed) => {
                if !a.quiet && !a.json {
                    match &pushed {
                        Some(d2) => eprintln!("pushed {d} ({d2})"),
                        None => eprintln!("wrote {d}"),
                    }
                }
                if let Some(format) = sbom_format
                    && let Err(e) = write_sboms(
                        &built,
                        d,
                        format,
                        mtime,
                        &req.name,
                        &opts.registry,
                        a.quiet || a.json,
                    )
                {
                    return fail_with(a.json, exit::IO, "Output", &e);
                }
            }
        }
    }
    built.save_caches();
    let digest = built.top.digest.to_string();
    if let Some(f) = &a.digest_file
        && let Err(e) = write_atomic(f, format!("{digest}\n").as_bytes())
    {
        return fail(
            exit::IO,
            format!("cannot write the digest file {}: {e}", f.display()),
        );
    }
    if a.json {
        println!("{}", result_json(&built, &dests));
    } else {
        println!("{digest}");
    }
    exit::OK
}

fn build_exit(e: &BuildError) -> i32 {
    match e {
        BuildError::Gate(_) => exit::POLICY,
        BuildError::Blob(_) => exit::IO,
        BuildError::Layer(_) => exit::IO,
        _ => exit::INPUT,
    }
}

fn print_report(b: &Built) {
    let removed = b.changes.iter().filter(|c| c.what == "removed").count();
    if b.changes.is_empty() {
        eprintln!(
            "hardening: base {} needed no changes (layers reused byte for byte)",
            b.base_name
        );
    } else {
        eprintln!(
            "hardening: base {}: {} path(s) removed, {} changed",
            b.base_name,
            removed,
            b.changes.len() - removed
        );
        for (why, (n, first)) in ironhull::harden::summarize(&b.changes) {
            let more = if n > first.len() {
                format!(", … (+{})", n - first.len())
            } else {
                String::new()
            };
            eprintln!("  {why}: {n}: {}{more}", first.join(", "));
        }
        if !b.dropped_packages.is_empty() {
            eprintln!(
                "  packages dropped from the package database: {}",
                b.dropped_packages.join(", ")
            );
        }
    }
    for i in &b.images {
        eprintln!(
            "{}: manifest {} ({} layers: {} base reused, {} base rewritten)",
            i.image.platform,
            i.image.manifest_digest,
            i.image.layers.len(),
            i.base_layers_reused,
            i.base_layers_rewritten
        );
        for f in &i.report.findings {
            eprintln!("  note: {} {} {}", f.id, f.severity, f.message);
        }
    }
}

/// The `--json` result. Its shape is documented in the README and kept stable.
pub fn result_json(b: &Built, dests: &[Destination]) -> serde_json::Value {
    json!({
        "digest": b.top.digest.to_string(),
        "mediaType": b.top.media_type,
        "platforms": b.images.iter().map(|i| json!({
            "platform": i.image.platform.to_string(),
            "manifest": i.image.manifest_digest.to_string(),
            "config": i.image.config_digest.to_string(),
            "layers": i.image.layers.len(),
            "baseLayersReused": i.base_layers_reused,
            "baseLayersRewritten": i.base_layers_rewritten,
            "findings": i.report.findings.iter().map(|f| json!({"id": f.id, "severity": f.severity.as_str(), "path": f.path, "message": f.message})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "outputs": dests.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "hardening": {
            "changes": b.changes,
            "droppedPackages": b.dropped_packages,
        },
    })
}

/// The `--scan-db` gate: every platform's packages against the OSV database.
/// A failure prints the findings and stops the build before any output.
fn vuln_gate(a: &BuildArgs, db: &std::path::Path, name: &str, built: &Built) -> Result<(), i32> {
    use ironhull::vuln;
    let fail_on: vuln::VulnSeverity = a
        .fail_on
        .parse()
        .map_err(|e| fail(exit::INPUT, format!("--fail-on: {e}")))?;
    let ignores = match &a.ignore {
        Some(p) => vuln::ignore::load(p).map_err(|e| fail(exit::INPUT, e))?,
        None => Vec::new(),
    };
    let database = vuln::osv::Database::load(db, None).map_err(|e| fail(exit::INPUT, e))?;
    let policy = vuln::Policy {
        fail_on: Some(fail_on),
        ignore_unfixed: a.ignore_unfixed,
        ignores,
        today: vuln::ignore::today_utc(),
    };
    let mut failed = false;
    for i in &built.images {
        let inv = ironhull::sbom::inventory_image(&i.image, &built.store)
            .map_err(|e| fail(exit::IO, e))?;
        let verdict = vuln::judge(&vuln::scan(&inv, &database), &policy);
        if verdict.failed {
            failed = true;
            eprint!(
                "{}",
                vuln::report::text(
                    &verdict,
                    &format!("{name} ({})", i.image.platform),
                    Some(fail_on)
                )
            );
        }
    }
    if failed {
        return Err(fail(
            exit::POLICY,
            format!(
                "known vulnerabilities at or above {} (--scan-db); nothing was written",
                a.fail_on
            ),
        ));
    }
    Ok(())
}

/// Writes each platform's SBOM beside a file output (`OUTPUT.spdx.json`, or
/// `OUTPUT.<os>-<arch>.spdx.json` with several platforms), or attaches it to
/// the pushed image.
fn write_sboms(
    built: &Built,
    dest: &Destination,
    format: SbomFormat,
    mtime: u64,
    name: &str,
    registry: &ironhull::registry::RegistryOptions,
    quiet: bool,
) -> Result<(), String> {
    let created = ironhull::layer::time::rfc3339(mtime).map_err(|e| e.to_string())?;
    let multi = built.images.len() > 1;
    for i in &built.images {
        let doc = sbom_out::document(&i.image, &built.store, format, &created, name)
            .map_err(|e| e.to_string())?;
        match (&dest.transport, dest.path()) {
            (Transport::Docker(target), _) => {
                let client =
                    ironhull::registry::Client::new(registry.clone()).map_err(|e| e.to_string())?;
                let at = sbom_out::attach(
                    &client,
                    target,
                    &i.image,
                    &doc,
                    format,
                    &created,
                    &built.store,
                )
                .map_err(|e| e.to_string())?;
                if !quiet {
                    let how = at
                        .fallback_tag
                        .map(|t| format!("referrers tag {t}"))
                        .unwrap_or_else(|| "referrers API".into());
                    eprintln!("attached SBOM {} to {} ({how})", at.artifact, at.subject);
                }
            }
            (_, Some(path)) => {
                let plat = if multi {
                    format!(".{}", i.image.platform.to_string().replace('/', "-"))
                } else {
                    String::new()
                };
                let file = std::path::PathBuf::from(format!(
                    "{}{plat}.{}",
                    path.display(),
                    format.suffix()
                ));
                write_atomic(&file, &doc)
                    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                if !quiet {
                    eprintln!("wrote SBOM {}", file.display());
                }
            }
            _ => {}
        }
    }
    Ok(())
}
